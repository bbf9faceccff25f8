"""Graphs whose dict order is not their execution order compute what the same graph in
order computes: results, errors naming their key, callbacks' keys, priorities. A dict
whose keys lie in memory in the order they were made is read in that order (the
converter sorts its entries by address); one whose keys were made in another order than
they run is renumbered into execution order (``taskloom_core::renumber``)."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from operator import add

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taskloom
from taskloom import _core
from taskloom.callbacks import Callback

from reference import reference_get


def _fresh(key):
    """An equal key, made now: another object, at another place in memory."""
    if isinstance(key, tuple):
        return tuple(list(key))
    if isinstance(key, str):
        return key[:1] + key[1:]
    return (key + 1) - 1  # an int too large to be cached


def _anew(key):
    """An equal key whose ints are made anew too (compared by value, not identity)."""
    if isinstance(key, tuple):
        return tuple(_fresh(k) if type(k) is int else k for k in key)
    return _fresh(key)


def _shuffled(dsk: dict, seed: int) -> dict:
    """``dsk`` with its keys made again in a random order, and listed in another: neither
    the dict's order nor the keys' memory order is the execution order."""
    rng = random.Random(seed)
    items = list(dsk.items())
    rng.shuffle(items)
    items = [(_fresh(k), v) for k, v in items]
    rng.shuffle(items)
    return dict(items)


def _random_graph(n: int, seed: int) -> dict:
    """Each task reads the one before it and up to two more of the few before that
    (so that, once shuffled, the graph is renumbered), now and then one far back."""
    rng = random.Random(seed)
    dsk: dict = {("x", 0): 1}
    for i in range(1, n):
        deps = [("x", i - 1)] + [
            ("x", rng.randrange(i) if rng.random() < 0.05 else rng.randrange(max(0, i - 4), i))
            for _ in range(rng.randint(0, 2))
        ]
        rng.shuffle(deps)
        dsk[("x", i)] = (sum, deps) if rng.random() < 0.5 else (add, ("x", i - 1), i)
    return dsk


def _reference(dsk: dict, n: int) -> list:
    """The values of ``("x", 0) .. ("x", n - 1)``, each computed after the ones it reads."""
    values: list = []
    for i in range(n):
        task = dsk[("x", i)]
        if isinstance(task, tuple):
            f, *args = task
            args = [[values[k[1]] for k in a] if isinstance(a, list) else a for a in args]
            args = [values[a[1]] if isinstance(a, tuple) else a for a in args]
            values.append(f(*args))
        else:
            values.append(task)
    return values


@settings(max_examples=10, deadline=None)
@given(st.integers(20_000, 30_000), st.integers(0, 2**32), st.integers(0, 2**32))
def test_shuffled_graphs_compute_the_same(n, seed, shuffle_seed):
    # Renumbering starts at 2**14 tasks (taskloom_core::order::MIN_TASKS).
    dsk = _random_graph(n, seed)
    wanted = [("x", n - 1), [("x", n // 2), ("x", 0)], ("x", n - 1)]
    shuffled = _shuffled(dsk, shuffle_seed)
    values = _reference(dsk, n)
    expected = (values[n - 1], (values[n // 2], values[0]), values[n - 1])
    for get in (taskloom.get_sync, taskloom.get):
        assert get(shuffled, wanted) == expected
    compiled = _core.Compiled(shuffled, wanted)
    assert compiled.renumbered and not _core.Compiled(dsk, wanted).renumbered
    keys = compiled.keys()
    position = {k: i for i, k in enumerate(keys)}
    deps = compiled.dependencies()
    assert all(position[d] < position[k] for k, ds in deps.items() for d in ds)
    assert compiled.run(0) == expected


def _in_a_fresh_interpreter(code: str) -> None:
    """Run ``code`` in a new interpreter: where objects are placed in memory (what the
    converter's reading order follows) depends on what the process freed before."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr


def test_a_dict_listed_out_of_order_is_read_in_the_order_its_keys_were_made():
    # The same chain listed at random: its keys and values, made in execution order,
    # are read in that order (sorted by address), so nothing needs renumbering.
    _in_a_fresh_interpreter(
        """
        import random
        from operator import add
        import taskloom
        from taskloom import _core

        n = 40_000
        dsk = {("c", 0): 0, **{("c", i): (add, ("c", i - 1), 1) for i in range(1, n)}}
        items = list(dsk.items())
        random.Random(1).shuffle(items)
        listed = dict(items)
        compiled = _core.Compiled(listed, ("c", n - 1))
        assert not compiled.renumbered
        assert compiled.run(0) == n - 1
        assert taskloom.get_sync(listed, [("c", n - 1), ("c", 7)]) == (n - 1, 7)
        """
    )


def test_values_made_in_dict_order_keep_the_dict_order():
    # Keys made long before, listed at random, each value made as it is inserted and
    # reading the key listed before it: the values lie in the dict's order, so that
    # order is kept (sorted by the keys' addresses, the chain would be read at random
    # and renumbered).
    _in_a_fresh_interpreter(
        """
        import random
        from operator import add
        from taskloom import _core

        n = 30_000
        keys = [("x", i) for i in range(n)]
        order = random.Random(2).sample(range(n), n)
        dsk = {keys[order[0]]: 1}
        for i in range(1, n):
            dsk[keys[order[i]]] = (add, ("x", order[i - 1]), 1)
        compiled = _core.Compiled(dsk, keys[order[-1]])
        assert not compiled.renumbered
        assert compiled.run(0) == n
        """
    )


def _nested(depth):
    x = 1
    for _ in range(depth):
        x = [x]
    return x


class _Unhashable(tuple):
    def __hash__(self):
        raise RuntimeError(f"no hash for {self[0]}")


@pytest.mark.parametrize("bad", ["hash", "nesting", "priority"])
def test_of_two_bad_values_the_first_in_the_dict_is_named(bad):
    # A large shuffled dict is read in its keys' memory order, which changes from run to
    # run; an error must not: of two bad entries, the one the dict lists first is named
    # even when the other's key lies lower in memory.
    n = 30_000
    chain = [(("c", 0), 0)] + [(("c", i), (add, ("c", i - 1), 1)) for i in range(1, n)]
    random.Random(4).shuffle(chain)
    for _ in range(100):  # make B's key at a lower address than A's
        second = "".join(["bad-", "B"])
        first = "".join(["bad-", "A"])
        if id(second) < id(first):
            break
    assert id(second) < id(first)
    dsk = dict(chain)
    annotations = None
    for key, name in ((first, "A"), (second, "B")):
        if bad == "hash":
            dsk[key] = (add, _Unhashable((name,)), 1)
        elif bad == "nesting":
            dsk[key] = (len, _nested(600))
        else:
            dsk[key] = 1
    if bad == "priority":
        annotations = {first: {"priority": "high"}, second: {"priority": "low"}}
    expected = {"hash": "no hash for A", "nesting": "bad-A", "priority": "bad-A"}[bad]
    for _ in range(3):
        with pytest.raises(Exception, match=expected):
            taskloom.get_sync(dsk, ("c", n - 1), annotations=annotations)


def _key(kind: str, i: int):
    # Kinds of dict: of ASCII str keys, of keys of every str width (both stored with
    # key and value per entry), of tuple keys (hash, key and value per entry), of int
    # keys differing only above bit 40 (hashes equal in their low bits).
    if kind == "str":
        return f"s{i}"
    if kind == "wide-str":
        return f"{'éa漢'[i % 3]}{i}"
    if kind == "int":
        return (i + 1) << 40
    return ("s", i)


def _chain_of(kind: str, n: int) -> dict:
    dsk: dict = {_key(kind, 0): 0}
    for i in range(1, n):
        dsk[_key(kind, i)] = (add, _key(kind, i - 1), i)
    return dsk


@settings(max_examples=5, deadline=None)
@given(st.integers(20_000, 30_000), st.integers(0, 2**32), st.sampled_from(["str", "int"]))
def test_shuffled_chains_find_every_key(n, shuffle_seed, kind):
    # Keys and the references to them are distinct objects (made apart), so every
    # lookup compares; int keys differing only above bit 40 have hashes equal in
    # their low bits, which the converter's key table must still spread out.
    shuffled = _shuffled(_chain_of(kind, n), shuffle_seed)
    assert _core.Compiled(shuffled, _key(kind, n - 1)).renumbered
    assert taskloom.get_sync(shuffled, [_key(kind, n - 1), _key(kind, n // 2)]) == (
        sum(range(n)),
        sum(range(n // 2 + 1)),
    )


class Colliding:
    """A key whose hash it shares with every other (equal by value): found only by `==`."""

    def __init__(self, i):
        self.i = i

    def __hash__(self):
        return 7

    def __eq__(self, other):
        return isinstance(other, Colliding) and other.i == self.i

    def __repr__(self):
        return f"Colliding({self.i})"


@pytest.mark.parametrize("n", [5, 40])
def test_references_far_from_their_keys_are_found_by_equality(n):
    # References in an order unrelated to the keys' miss the converter's guesses: the
    # first few are found by a scan of the hashes, the rest through its table; among
    # equal hashes, only `==` decides. References are equal objects, not the keys
    # (tuples, so that they are read as references).
    def key(i):
        return ("c", Colliding(i))

    order = random.Random(n).sample(range(n), n)
    dsk: dict = {key(i): i * 10 for i in range(n)}
    dsk["total"] = (sum, [key(i) for i in order])
    dsk["pairs"] = (list, [(add, key(i), key(order[i])) for i in range(n)])
    assert taskloom.get_sync(dsk, ["total", "pairs"]) == (
        sum(i * 10 for i in range(n)),
        [i * 10 + order[i] * 10 for i in range(n)],
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_references_a_few_keys_away_are_found_among_equal_hashes(seed):
    # Each task reads a key up to 60 places on in the dict, where the guesses seldom
    # look; every key's hash is also a neighbour's (an int and that int plus the hash
    # modulus), so only `==` tells them apart. References are equal ints made anew,
    # never the keys themselves.
    rng = random.Random(seed)
    m = sys.hash_info.modulus
    n = 4000
    keys = [j // 2 + (m if j % 2 else 0) for j in range(n)]
    assert hash(keys[0]) == hash(keys[1])
    reads = [j + rng.randint(1, 60) for j in range(n)]
    # Leaves and added constants are floats no key equals.
    dsk = {
        keys[j]: (add, int(str(keys[r])), 0.5) if r < n else j + 0.25 for j, r in enumerate(reads)
    }
    values = [0.0] * n
    for j in reversed(range(n)):
        values[j] = values[reads[j]] + 0.5 if reads[j] < n else j + 0.25
    assert list(taskloom.get_sync(dsk, keys)) == values


_INDEXED_KEYS = {
    # Keys of a layer made in a loop over their last index, as Dask names blocks:
    # a reference n indices on from the last key found is guessed n keys on.
    "tuple": lambda j, rng: ("r", j),
    # Two layers interleaved: the guess lands on the other layer's key.
    "two-names": lambda j, rng: ("ab"[j % 2], j // 2),
    # The index runs against the dict's order, or jumps: the guess misses.
    "backwards": lambda j, rng: ("r", -j),
    "jumps": lambda j, rng: ("r", j // 7 * 1000 + rng.randrange(7 * 1000)),
    # Indices past a machine word, and a bool or float last.
    "huge": lambda j, rng: ("r", 2**70 + j) if j % 3 else ("r", j),
    "bool-float": lambda j, rng: ("r", [True, False, 2.0, 3.5][j % 4], j // 4),
    # Other shapes: bare ints, two indices, a length that changes.
    "int": lambda j, rng: 2**40 + j,
    "grid": lambda j, rng: ("r", j // 10, j % 10),
    "lengths": lambda j, rng: ("r",) + (j,) * (1 + j % 3),
}


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(sorted(_INDEXED_KEYS)),
    st.integers(50, 3000),
    st.integers(1, 200),
    st.integers(0, 2**32),
)
def test_references_by_index_compute_as_plain_python(kind, n, window, seed):
    # Each task sums one to three keys among the `window` made before it, at random,
    # as equal objects made anew, down to their ints; the guess from the keys' last
    # index may land on the key, on another key, or off the graph, and only `==`
    # decides.
    rng = random.Random(seed)
    keys = list(dict.fromkeys(_INDEXED_KEYS[kind](j, rng) for j in range(n)))
    dsk: dict = {}
    for j, key in enumerate(keys):
        if j < 3:
            dsk[key] = j + 0.25
            continue
        near = range(max(0, j - window), j)
        reads = [_anew(keys[rng.choice(near)]) for _ in range(rng.randint(1, 3))]
        dsk[key] = (sum, reads) if rng.random() < 0.5 else (add, reads[0], 0.5)
    assert taskloom.get_sync(dsk, keys) == reference_get(dsk, keys)


def _put_off_graph(n: int, seed: int, key, plus_length, kinds) -> tuple[dict, list, set]:
    """A chain whose every task also reads something the converter's guesses miss:
    a key far back (an equal object, or a float equal to an int key), a string that
    is no key, the far key twice, or a tuple that is no key. Each such lookup follows
    one the guesses found, so it is put off to the end of the conversion (past about
    64 of them, the table answers the rest); the second of a twice-read key is not (it
    follows a miss), nor is a tuple holding what may be a key. Returns the graph, its
    keys and the ids of the strings that are no key."""
    rng = random.Random(seed)
    dsk: dict = {key(0): 1}
    literals = []
    for i in range(1, n):
        prev, j = key(i - 1), rng.randrange(i)
        kind = rng.choice(kinds)
        if kind == "far":
            dsk[key(i)] = (add, prev, _fresh(key(j)))
        elif kind == "equal":
            far = key(j)
            dsk[key(i)] = (add, prev, float(far) if isinstance(far, int) else _fresh(far))
        elif kind == "literal":
            literals.append(f"no key {i}")
            dsk[key(i)] = (plus_length, prev, literals[-1])
        elif kind == "twice":
            dsk[key(i)] = (_sum3, prev, _fresh(key(j)), _fresh(key(j)))
        else:
            dsk[key(i)] = (plus_length, prev, ("no key", i))
    return dsk, [key(n - 1), key(n // 2)], {id(x) for x in literals}


def _in_dict_order(dsk: dict) -> dict:
    """Every key's value, computed in the dict's order (each task after what it reads;
    reference_get would recurse too deep), reading arguments as Dask does."""
    values: dict = {}

    def value(a):
        if a in dsk:
            return values[a]
        return tuple(map(value, a)) if type(a) is tuple else a

    for k, v in dsk.items():
        values[k] = v[0](*map(value, v[1:])) if isinstance(v, tuple) else v
    return values


def _reads(dsk: dict, a) -> set:
    """The keys argument ``a`` reads."""
    if a in dsk:
        return {a}
    return set().union(*(_reads(dsk, x) for x in a)) if type(a) is tuple else set()


def _plus_length(x, s):
    return x + len(s)


def _sum3(a, b, c):
    return a + b + c


@pytest.mark.parametrize("n", [40, 3000, 20_000])
@pytest.mark.parametrize(
    "key", [lambda i: ("x", i), lambda i: f"x-{i}", lambda i: i + 1000], ids=["tuple", "str", "int"]
)
@pytest.mark.parametrize(
    "kinds", [["far", "equal", "literal"], ["far", "equal", "literal", "twice", "tuple"]]
)
def test_references_put_off_compute_as_plain_python(n, key, kinds):
    # The first kinds, 40 tasks: every lookup put off, then looked for in one scan of the
    # keys' hashes. Otherwise the table is built (past the few lookups put off, or for
    # those that cannot be), and the ones put off are looked for in it; at 20,000 keys
    # with the recent-keys cache in front of it.
    seen = []

    def plus_length(x, s):
        seen.append(id(s))
        return x + len(s)

    for seed in range(3):
        dsk, wanted, literal_ids = _put_off_graph(n, seed, key, plus_length, kinds)
        values = _in_dict_order(dsk)
        expected = tuple(values[k] for k in wanted)
        seen.clear()
        assert taskloom.get_sync(dsk, wanted) == expected
        # A string that is no key reaches its task as the very object in the graph.
        assert literal_ids <= set(seen)
        compiled = _core.Compiled(dsk, wanted)
        assert compiled.run(0) == expected
        deps = compiled.dependencies()
        for k, ds in deps.items():
            task = dsk[k] if isinstance(dsk[k], tuple) else ()
            assert set(ds) == set().union(*(_reads(dsk, a) for a in task[1:])), k
            assert len(ds) == len(set(ds)), k


class _RaisingKey:
    """A key hashed like ``target``, whose ``==`` with anything else raises ``error``."""

    def __init__(self, name, target, error=ValueError):
        self.name, self.target, self.error = name, target, error

    def __hash__(self):
        return hash(self.target)

    def __eq__(self, other):
        if other is self:
            return True
        raise self.error(f"eq of {self.name}")


@pytest.mark.parametrize("error", [TypeError, ValueError])
def test_a_reference_put_off_compares_as_the_dict_does(error):
    # A string argument is looked for at the end; a key of equal hash compares it with
    # its own `==`: a TypeError means "not a key" (Dask's `try: arg in dsk`), anything
    # else propagates.
    n = 30
    dsk: dict = {("x", 0): 1, **{("x", i): (add, ("x", i - 1), 1) for i in range(1, n)}}
    dsk[("x", 20)] = (_plus_length, ("x", 19), "abc")
    dsk[_RaisingKey("K", "abc", error)] = 5
    dsk["abc!"] = 3
    if error is TypeError:
        expected = reference_get(dsk, ("x", n - 1))
        assert taskloom.get_sync(dsk, ("x", n - 1)) == expected
    else:
        with pytest.raises(error, match="eq of K"):
            reference_get(dsk, ("x", n - 1))
        with pytest.raises(error, match="eq of K"):
            taskloom.get_sync(dsk, ("x", n - 1))


@pytest.mark.parametrize("error", [None, TypeError, ValueError])
def test_a_shuffled_graph_puts_lookups_off_while_its_table_is_built(error):
    # A large dict sorted by address has its key table built on another thread from
    # the start; lookups the guesses miss are put off meanwhile and looked for at the
    # end, and a key's `==` raising there is handled as the dict would.
    n = 20_000
    dsk, wanted, _ = _put_off_graph(
        n, 7, lambda i: ("x", i), _plus_length, ["far", "equal", "literal", "twice", "tuple"]
    )
    dsk[("x", n // 3)] = (_plus_length, ("x", n // 3 - 1), "abc")
    shuffled = _shuffled(dsk, 11)
    if error is not None:
        shuffled[_RaisingKey("K", "abc", error)] = 5
    if error is ValueError:
        with pytest.raises(error, match="eq of K"):
            taskloom.get_sync(shuffled, wanted)
        return
    values = _in_dict_order(dsk)
    assert taskloom.get_sync(shuffled, wanted) == tuple(values[k] for k in wanted)


def test_a_reference_put_off_to_its_own_key_is_a_cycle():
    # "k11" follows a reference the guesses found ("k2"), far from it: put off, then
    # found to be the task's own key.
    dsk: dict = {f"k{i}": {"v": i} for i in range(10)}
    dsk["k10"] = (_sum3, "k1", 0, 0)
    dsk["k11"] = (_sum3, "k2", "k11", 0)
    with pytest.raises(taskloom.CycleError, match=r"'k11' -> 'k11'"):
        taskloom.get_sync(dsk, "k11")


def test_a_reference_put_off_reports_the_dicts_first_error():
    # "a" is put off (after "b", found); the key hashed like it raises when compared,
    # as does the one hashed like "z", which a later task reads at once. The error
    # reported is the first in the dict's order, as the dict's own lookups would raise.
    dsk = {
        _RaisingKey("K1", "a"): "va",
        "b": "vb",
        "c": (_tuple, "b", "a"),
        "d": (_tuple, ["z"]),
        _RaisingKey("K2", "z"): "vz",
    }
    with pytest.raises(ValueError, match="eq of K1"):
        reference_get(dsk, ["c", "d"])
    for get in (taskloom.get_sync, taskloom.get, _core.get):
        with pytest.raises(ValueError, match="eq of K1"):
            get(dsk, ["c", "d"])


def _tuple(*args):
    return args


class Liar:
    """Equal to anything, hashed by identity: no dict finds it by an equal object."""

    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


def test_a_key_equal_to_a_reference_only_by_its_own_eq_is_not_found():
    # A reference of builtin types is checked with `==` alone, without its hash,
    # against the key the guess that hit last points at: sound only when that key is
    # of builtin types too. Here the guess points at a key whose `==` lies.
    liar = ("k", Liar())
    dsk = {
        ("a", 0): 1,
        ("a", 1): (add, ("a", 0), 1),  # found as the key after the last one found
        liar: (add, ("a", 1), 7),  # so is this one: the next guess is the liar
        "x": (list, [("k", 5)]),
    }
    expected = reference_get(dsk, ["x", liar])
    assert expected == ([("k", 5)], 9)
    assert taskloom.get_sync(dsk, ["x", liar]) == expected
    assert tuple(_core.get(dsk, ["x", liar])) == expected


def test_errors_and_callbacks_name_the_right_keys_after_renumbering():
    n = 20_000
    dsk = {("c", 0): 0, **{("c", i): (add, ("c", i - 1), 1) for i in range(1, n)}}

    def boom(x):
        raise ValueError(f"bad {x}")

    dsk[("c", 1234)] = (boom, ("c", 1233))
    shuffled = _shuffled(dsk, 7)
    assert _core.Compiled(shuffled, ("c", n - 1)).renumbered
    with pytest.raises(ValueError, match="bad 1233") as info:
        taskloom.get_sync(shuffled, ("c", n - 1))
    assert "('c', 1234)" in "".join(getattr(info.value, "__notes__", []))

    del shuffled[("c", 1234)]
    shuffled[("c", 1234)] = (add, ("c", 1233), 1)
    seen: list = []
    with Callback(posttask=lambda key, result, dsk, state, worker: seen.append((key, result))):
        assert taskloom.get_sync(shuffled, ("c", n - 1)) == n - 1
    assert seen == [(("c", i), i) for i in range(n)]


def test_priorities_follow_renumbered_tasks():
    n = 20_000
    ran: list = []

    def log(i):
        ran.append(i)
        return i

    dsk = {**{("a", i): i for i in range(n)}, **{("t", i): (log, ("a", i)) for i in range(n)}}
    shuffled = _shuffled(dsk, 3)
    wanted = [("t", i) for i in range(n)]
    assert _core.Compiled(shuffled, wanted).renumbered
    # ascending i first: ("a", 0), then ("t", 0), which outranks ("a", 1)
    annotations = {k: {"priority": -k[1]} for k in dsk}
    taskloom.get_sync(shuffled, wanted, annotations=annotations)
    assert ran == list(range(n))


def test_processes_run_renumbered_graphs():
    from taskloom import multiprocessing

    n = 20_000
    dsk = _random_graph(n, 11)
    shuffled = _shuffled(dsk, 12)
    assert _core.Compiled(shuffled, ("x", n - 1)).renumbered
    assert multiprocessing.get(shuffled, ("x", n - 1), num_workers=2) == _reference(dsk, n)[-1]


def test_a_bad_priority_raises_whatever_the_dict_order():
    # Priorities are checked before culling and renumbering: also an unneeded key's.
    n = 20_000
    dsk = {("c", 0): 0, **{("c", i): (add, ("c", i - 1), 1) for i in range(1, n)}, "spare": 1}
    for graph in (dsk, _shuffled(dsk, 5)):
        with pytest.raises(TypeError, match="spare"):
            _core.get(graph, ("c", n - 1), priorities={"spare": "high"})


class _Bag:
    """An object whose instance dict, with many attributes, is a split-table dict."""


def _with_holes(kind: str, n: int) -> dict:
    # Every third entry deleted, and then as many added: the entries the dict walks
    # include holes, and more of them than it has keys.
    dsk = _chain_of(kind, n)
    for i in range(2, n, 3):
        dsk[("gone", i)] = i
    for i in range(2, n, 3):
        del dsk[("gone", i)]
    return dsk


def _with_holes_first(kind: str, n: int) -> dict:
    # Deleted entries before the first key: where the walk starts, and where it checks
    # the entry table it reads against the C API's walk.
    dsk: dict = {f"gone-{i}": i for i in range(20)}
    dsk.update(_chain_of(kind, n))
    for i in range(20):
        del dsk[f"gone-{i}"]
    return dsk


def _cleared_and_refilled(kind: str, n: int) -> dict:
    dsk = _chain_of(kind, 3 * n)
    dsk.clear()
    dsk.update(_chain_of(kind, n))
    return dsk


def _split_table(kind: str, n: int) -> dict:
    if kind == "tuple":
        return _chain_of(kind, n)  # attribute names are str
    bag = _Bag()
    for k, v in _chain_of(kind, n).items():
        setattr(bag, k, v)
    return vars(bag)


class _DictSub(dict):
    pass


@pytest.mark.parametrize(
    "make",
    [
        _chain_of,
        _with_holes,
        _with_holes_first,
        _cleared_and_refilled,
        _split_table,
        lambda kind, n: _DictSub(_chain_of(kind, n)),
        lambda kind, n: _shuffled(_chain_of(kind, n), 3),
    ],
    ids=["plain", "holes", "holes-first", "cleared", "split-table", "subclass", "shuffled"],
)
@pytest.mark.parametrize("kind", ["str", "wide-str", "tuple"])
@pytest.mark.parametrize("n", [1, 5, 33, 20_000])
def test_dicts_of_every_layout_compute_as_plain_python(make, kind, n):
    # On CPython 3.11 and 3.12 the converter reads a dict's entry table directly, past
    # the C API, and fetches keys and values ahead of its walk: every layout a dict
    # can have is read here, at sizes below and above that look-ahead and the size
    # from which a dict may be sorted, and checked against the chain's values (task i
    # holds 0 + 1 + ... + i).
    dsk = make(kind, n)
    assert len(dsk) == n
    keys = [_key(kind, n - 1), _key(kind, n // 2)]
    expected = (sum(range(n)), sum(range(n // 2 + 1)))
    assert taskloom.get_sync(dsk, keys) == expected
    assert taskloom.get(dsk, keys, num_workers=2) == expected


def _listed_by_chunks(kind: str, chunks: list[bool], seed: int) -> dict:
    """A chain whose dict lists its entries by their keys' addresses, 4,096 to a chunk
    (the converter's unit for judging the memory order), except in the chunks marked
    True, listed at random: there both keys and values lie scattered."""
    rng = random.Random(seed)
    n = 4096 * len(chunks)
    keys = [_fresh(_key(kind, i)) for i in range(n)]
    values = [0] + [(add, _fresh(_key(kind, i - 1)), i) for i in range(1, n)]
    listed = sorted(range(n), key=lambda i: id(keys[i]))
    for c, scattered in enumerate(chunks):
        if scattered:
            part = listed[c * 4096 : (c + 1) * 4096]
            rng.shuffle(part)
            listed[c * 4096 : (c + 1) * 4096] = part
    return {keys[i]: values[i] for i in listed}


@pytest.mark.parametrize("kind", ["str", "tuple"])
@pytest.mark.parametrize(
    "chunks",
    [
        [False] * 6,
        [False, True, True, False, False, False, False, False],
        [False, True, True, False, True, True],
        [True] * 6,
    ],
    # Read in the dict's order, all owned as read; read so, the third chunk owned
    # after the walk; sorted, with the third and sixth chunks owned after the sort
    # (each listed scattered after a chunk listed so), the others before it; sorted,
    # with all but the first owned after it.
    ids=["in-order", "owned-at-end", "owned-before-sort", "owned-after-sort"],
)
def test_chunks_owned_in_any_order_compute_as_plain_python(kind, chunks):
    # The converter owns a chunk of entries as it reads them while the chunk before
    # listed its objects in memory order, else after the walk (in the sorted order if
    # the dict is sorted): every mix gives the chain's values, and holds on to no
    # key or value once done.
    dsk = _listed_by_chunks(kind, chunks, seed=len(chunks) + sum(chunks))
    n = len(dsk)
    sample = [(k, dsk[k]) for k in list(dsk)[:: n // 50]]
    counts = [(sys.getrefcount(k), sys.getrefcount(v)) for k, v in sample]
    keys = [_key(kind, n - 1), _key(kind, 5000)]
    assert taskloom.get_sync(dsk, keys) == (sum(range(n)), sum(range(5001)))
    assert [(sys.getrefcount(k), sys.getrefcount(v)) for k, v in sample] == counts
