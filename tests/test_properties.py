"""Random DAGs through every get function, compared with the plain-Python reference
(and with Dask's own schedulers where Dask is installed)."""

from __future__ import annotations

import collections
import operator
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import GETS
from reference import reference_get


def inc(x):
    return x + 1


def first(t):
    return t[0]


def dict_size(d):
    return len(d)


def total(*args):
    """A sum of its arguments weighted by position, of a list's items twice, of a
    tuple's three times: an argument out of place or rebuilt as another container
    changes it."""

    def weigh(a):
        if isinstance(a, list):
            return 2 * total(*a)
        return 3 * total(*a) if isinstance(a, tuple) else a

    return sum((i + 1) * weigh(a) for i, a in enumerate(args))


def seven():
    return 7


class Planted(Exception):
    pass


def fail(*args):
    raise Planted(args)


@st.composite
def graphs(draw, allow_failure=True):
    """A random DAG whose every result is an int, with str and tuple keys,
    inserted in random order, plus the keys to request (possibly nested)."""
    n = draw(st.integers(1, 30))
    keys = [f"k{i}" if draw(st.booleans()) else ("k", i) for i in range(n)]
    failing = draw(st.integers(0, n - 1)) if allow_failure and draw(st.booleans()) else None
    values = []
    for i in range(n):
        earlier = keys[:i]
        dep = st.sampled_from(earlier) if earlier else None
        kind = draw(st.integers(0, 13)) if earlier else draw(st.sampled_from([0, 12]))
        small = draw(st.integers(-5, 5))
        if kind == 0:
            value = small
        elif kind == 1:
            value = (inc, draw(dep))
        elif kind == 2:
            value = (operator.add, draw(dep), draw(st.one_of(dep, st.integers(-5, 5))))
        elif kind == 3:
            value = (sum, [*draw(st.lists(dep, min_size=1, max_size=6)), small])
        elif kind == 4:
            value = draw(dep)  # alias
        elif kind == 5:
            value = (operator.add, (inc, draw(dep)), small)
        elif kind == 6:
            value = (first, (draw(dep), "literal"))
        elif kind == 7:
            value = (dict_size, {"a": draw(dep), "b": small})  # a literal dict
        elif kind == 8:
            value = (sum, frozenset(draw(st.lists(dep, min_size=1, max_size=4))))
        elif kind == 9:
            value = (max, draw(dep), (operator.mul, draw(dep), small), small)
        elif kind == 10:  # results, constants, a list and a tuple of them: one call
            value = (total, draw(dep), [draw(dep), small], (small, draw(dep)), small)
        elif kind == 11:  # more arguments than the executor's flat calls take
            value = (total, *draw(st.lists(st.one_of(dep, st.integers(-5, 5)), min_size=5)))
        elif kind == 12:  # no arguments
            value = (seven,)
        else:  # a list inside a list, a task inside a tuple
            value = (total, [draw(dep), [draw(dep), small]], (small, (inc, draw(dep))))
        if i == failing:
            value = (fail, value)
        values.append(value)
    order = list(range(n))
    random.Random(draw(st.integers(0, 2**16))).shuffle(order)
    dsk = {keys[i]: values[i] for i in order}
    requested = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=5))
    if draw(st.booleans()):
        requested = [requested[:1], requested[1:]]
    elif len(requested) == 1 and draw(st.booleans()):
        requested = requested[0]
    return dsk, requested


def outcome(fn, dsk, keys):
    try:
        return ("ok", fn(dsk, keys))
    except Planted:
        return ("raised", Planted)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_random_graphs_match_the_reference(case):
    dsk, keys = case
    expected = outcome(reference_get, dsk, keys)
    for name, get in GETS.items():
        assert outcome(get, dsk, keys) == expected, name


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(allow_failure=False))
def test_random_graphs_match_dask(case):
    dask_local = pytest.importorskip("dask.local")
    dask_threaded = pytest.importorskip("dask.threaded")
    dsk, keys = case
    expected = dask_local.get_sync(dsk, keys)
    assert dask_threaded.get(dsk, keys) == expected
    for name, get in GETS.items():
        assert get(dsk, keys) == expected, name


def _sum_mod(values):
    return sum(values) % 1_000_003


def test_large_graph_with_colliding_hashes_matches_the_reference():
    """Past 2^14 keys the converter caches recently parsed keys by hash: int keys
    2^14 apart share a slot, and -1 and -2 share a hash; every reference must still
    find its own key."""
    rng = random.Random(7)
    n = 40_000
    keys = [i - 2 if i < 2 else (i if i % 3 else ("k", i)) for i in range(n)]
    dsk = {keys[0]: (int, "1"), keys[1]: (int, "2")}  # the keys -2 and -1 (2 is a key)
    value = {keys[0]: 1, keys[1]: 2}  # the plain evaluation, in insertion order
    for i in range(2, n):
        picks = [keys[rng.randrange(max(0, i - 3000), i)] for _ in range(rng.randint(1, 3))]
        if i % 1000 == 0:
            picks.append(keys[i - (1 << 14)] if i >= 1 << 14 else -1)
        value[keys[i]] = sum(value[p] for p in picks) % 1_000_003
        dsk[keys[i]] = (_sum_mod, picks)
    wanted = [keys[-1], keys[n // 2], -1, -2]
    expected = tuple(value[k] for k in wanted)
    for name, get in GETS.items():
        assert get(dsk, wanted) == expected, name


# -- #12.11: one meaning of a key, whatever its spelling -----------------------------------


class Name(str):
    """A str subclass: equal to (and hashing like) the str it spells."""


Slot = collections.namedtuple("Slot", "name index")


def _key_and_spellings(kind: str, i: int, taken: set) -> tuple:
    """A key of the given kind (distinct from every other key: each uses its index ``i``)
    and the objects equal to it by dict rules, any of which refers to it."""
    if kind == "one" and "one" not in taken:
        taken.add("one")
        return 1, [1, 1.0, True]
    if kind == "zero" and "zero" not in taken:
        taken.add("zero")
        return 0.0, [0, 0.0, False]
    n = 100 + i  # numbers from 100 up: never equal to a literal of the graph
    if kind in ("int", "one", "zero"):
        return n, [n, float(n)]
    if kind == "float":
        return n + 0.5, [n + 0.5]
    if kind == "integral-float":
        return float(n), [float(n), n]
    if kind == "str":
        return f"k{i}", [f"k{i}", Name(f"k{i}")]
    if kind == "str-subclass":
        return Name(f"k{i}"), [f"k{i}", Name(f"k{i}")]
    if kind == "wide-str":  # 1-, 2- and 4-byte characters; each spelling another object
        key = f"k{i}" + "\u00e9\u4e2d\U0001f600"[i % 3]
        return key, [key[:-1] + key[-1], Name(key)]
    if kind == "tuple":
        return ("k", n), [("k", n), Slot("k", n), ("k", float(n))]
    return Slot("k", n), [Slot("k", n), ("k", n)]  # namedtuple


KEY_KINDS = [
    "int",
    "float",
    "integral-float",
    "one",
    "zero",
    "str",
    "str-subclass",
    "wide-str",
    "tuple",
    "namedtuple",
]


# Literal arguments: equal to no key (0 and 1 may be keys, spelled False and True).
LITERALS = [-5, -4, -3, -2, -1, 2, 3, 4, 5]


@st.composite
def mixed_key_graphs(draw, allow_failure=True):
    """A random DAG like ``graphs()``, with keys of every type Dask reads as a key (int,
    float, bool-equal numbers, str, str subclasses, tuples, namedtuples), each reference
    spelled as any object equal to its key (``True`` for ``1``, ``5.0`` for ``5``, a
    namedtuple for a tuple...)."""
    n = draw(st.integers(1, 25))
    taken: set = set()
    # A few kinds per graph: a spelling of another type than any key (5.0 among int keys)
    # is the case a type-based shortcut gets wrong.
    kinds = draw(st.lists(st.sampled_from(KEY_KINDS), min_size=1, max_size=3, unique=True))
    made = [_key_and_spellings(draw(st.sampled_from(kinds)), i, taken) for i in range(n)]
    keys = [k for k, _ in made]
    failing = draw(st.integers(0, n - 1)) if allow_failure and draw(st.booleans()) else None

    def ref(i):  # a reference to key i, in one of its spellings
        return draw(st.sampled_from(made[i][1]))

    values = []
    for i in range(n):
        pick = st.integers(0, i - 1) if i else None
        kind = draw(st.integers(0, 8)) if i else 0
        small = draw(st.sampled_from(LITERALS))
        if kind == 0:
            value = small
        elif kind == 1:
            value = (inc, ref(draw(pick)))
        elif kind == 2:
            value = (operator.add, ref(draw(pick)), ref(draw(pick)))
        elif kind == 3:
            value = (sum, [*[ref(draw(pick)) for _ in range(draw(st.integers(1, 5)))], small])
        elif kind == 4:
            value = ref(draw(pick))  # alias
        elif kind == 5:
            value = (operator.add, (inc, ref(draw(pick))), small)
        elif kind == 6:
            value = (first, (ref(draw(pick)), "literal"))
        elif kind == 7:
            value = (sum, [ref(draw(pick)), (operator.mul, ref(draw(pick)), small)])
        else:
            value = (max, ref(draw(pick)), small)
        if i == failing:
            value = (fail, value)
        values.append(value)
    order = list(range(n))
    random.Random(draw(st.integers(0, 2**16))).shuffle(order)
    dsk = {keys[i]: values[i] for i in order}
    wanted = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4))
    requested = [ref(i) if draw(st.booleans()) else keys[i] for i in wanted]
    if len(requested) == 1 and draw(st.booleans()):
        requested = requested[0]
    return dsk, requested


@pytest.mark.parametrize("listed", ["shuffled", "reversed", "made"])
@pytest.mark.parametrize("kinds", [["str"], ["tuple"], KEY_KINDS], ids=["str", "tuple", "mixed"])
def test_large_graphs_in_any_dict_order_match_the_reference(kinds, listed):
    """Past 2^14 keys a dict that lists its keys far from the order they were made in
    is read in the keys' memory order instead: the same graph listed shuffled,
    reversed or as made, with references in every spelling, near (found by the
    locality guesses) and far (by the table), gives the reference's results."""
    rng = random.Random(len(kinds) * 3 + len(listed))
    n = 30_000
    taken: set = set()
    made = [_key_and_spellings(rng.choice(kinds), i, taken) for i in range(n)]
    keys = [k for k, _ in made]

    def ref(i):
        return rng.choice(made[i][1])

    # The plain evaluation, in making order (the recursive reference would nest 10^4 deep).
    values, result = [rng.choice(LITERALS)], [None] * n
    result[0] = values[0]
    for i in range(1, n):
        picks = [i - 1 - rng.randrange(min(i, 3)) for _ in range(rng.randint(1, 2))]
        if rng.random() < 0.2:
            picks.append(rng.randrange(i))
        if rng.random() < 0.8:
            values.append((_sum_mod, [ref(p) for p in picks]))
            result[i] = _sum_mod([result[p] for p in picks])
        else:
            values.append(ref(picks[0]))  # an alias
            result[i] = result[picks[0]]
    order = list(range(n))
    if listed == "shuffled":
        rng.shuffle(order)
    elif listed == "reversed":
        order.reverse()
    dsk = {keys[i]: values[i] for i in order}
    wanted = [n - 1, n // 2, rng.randrange(n)]
    expected = tuple(result[i] for i in wanted)
    for name, get in GETS.items():
        assert get(dsk, [keys[wanted[0]], ref(wanted[1]), keys[wanted[2]]]) == expected, name


def _check_reference_against_dask(dsk, keys):
    dask_local = pytest.importorskip("dask.local")
    expected = outcome(reference_get, dsk, keys)
    assert outcome(dask_local.get_sync, dsk, keys) == expected, "the reference disagrees with Dask"
    return expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_key_graphs())
def test_mixed_key_types_mean_the_same_on_every_get(case):
    # #12.11: a key-typed argument is a reference iff `arg in dsk`, on every in-process get.
    dsk, keys = case
    expected = _check_reference_against_dask(dsk, keys)
    for name, get in GETS.items():
        assert outcome(get, dsk, keys) == expected, name


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_key_graphs())
def test_mixed_key_types_mean_the_same_on_processes(case):
    # #12.11: the same rule on the processes scheduler (few examples: each costs round trips).
    from taskloom.multiprocessing import get

    dsk, keys = case
    expected = _check_reference_against_dask(dsk, keys)
    assert outcome(lambda d, k: get(d, k, num_workers=2), dsk, keys) == expected
