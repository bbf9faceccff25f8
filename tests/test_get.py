"""The task-graph spec on every get function: values, arguments, keys, culling, release."""

from __future__ import annotations

import gc
import itertools
import operator
import threading
import time
import weakref
from operator import add, mul

import pytest

import taskloom
from taskloom import local
from taskloom._graph import num_workers as resolve_num_workers

from reference import reference_get, seed_pipeline


def inc(x):
    return x + 1


def identity(*args):
    return args


def check(get, dsk, keys):
    """Run ``keys`` through ``get`` and compare with the reference evaluator."""
    expected = reference_get(dsk, keys)
    assert get(dsk, keys) == expected
    return expected


def test_literals_tasks_and_aliases(get):
    dsk = {"x": 1, "y": (inc, "x"), "z": (add, "x", "y"), "alias": "z", "data": [1, 2]}
    assert check(get, dsk, "z") == 3
    assert get(dsk, "alias") == 3
    assert get(dsk, "data") is dsk["data"], "a literal value is returned as the same object"


def test_arguments_keys_nested_tasks_and_lists(get):
    dsk = {
        "a": 1,
        "b": 2,
        "sum": (sum, ["a", "b", 10]),
        "nested": (add, (mul, "a", 10), (inc, "b")),
        "listvalue": ["a", (inc, "b"), "not-a-key"],
        "deep": (sum, [[("a")], ["b"]][0] + [(inc, "b")]),
    }
    assert check(get, dsk, "sum") == 13
    assert check(get, dsk, "nested") == 13
    assert check(get, dsk, "listvalue") == [1, 3, "not-a-key"]
    assert check(get, dsk, "deep") == 4


def test_strings_that_name_no_key_are_literals(get):
    dsk = {"x": "hello", "y": (operator.concat, "x", " world"), "z": (len, "y")}
    assert check(get, dsk, ["y", "z"]) == ("hello world", 11)


def test_tuple_keys_and_tuple_arguments(get):
    dsk = {
        ("x", 0, 1): 5,
        ("x", 1, 1): (inc, ("x", 0, 1)),
        "pair": (identity, ("x", 0, 1), ("not", "a key")),
        "tup": ("a", ("x", 1, 1)),  # not a task: the reference inside is walked
    }
    assert check(get, dsk, ("x", 1, 1)) == 6
    assert check(get, dsk, "pair") == (5, ("not", "a key"))
    assert check(get, dsk, "tup") == ("a", 6)


def test_sets_and_frozensets_are_walked_dicts_are_not(get):
    arg = {"first": "a", "second": [(inc, "b")]}
    dsk = {
        "a": 1,
        "b": 2,
        "s": (sorted, {"a", "b", 7}),
        "fs": (identity, frozenset(["a", "b"])),
        "d": (identity, arg),
        "dv": {"first": "a"},
    }
    assert check(get, dsk, "s") == [1, 2, 7]
    assert check(get, dsk, "fs") == (frozenset([1, 2]),)
    # Like Dask, dicts are passed as given: no references resolved inside.
    assert check(get, dsk, "d")[0] is arg
    assert check(get, dsk, "dv") == {"first": "a"}


def test_containers_without_references_are_passed_as_given(get):
    payload = [1, [2, 3], ("x", "y")]
    dsk = {"x": 0, "r": (identity, payload)}
    (out,) = get(dsk, "r")
    assert out[1] is payload[1]  # the nested list had no references
    assert out == [1, [2, 3], (0, "y")]


def test_int_and_float_keys_are_references_like_dask(get):
    dsk = {0: 10, 1.5: (inc, 0), "s": (add, 0, 1.5)}
    assert check(get, dsk, ["s", 1.5]) == (21, 11)


def test_requested_keys_keep_their_nesting(get):
    dsk = {"a": 1, "b": (inc, "a"), ("c", 0): (inc, "b")}
    keys = [["a", ["b"]], [], ("c", 0), "a"]
    # Dask returns tuples for lists of keys.
    assert check(get, dsk, keys) == ((1, (2,)), (), 3, 1)


def test_each_task_runs_once(get):
    calls = []

    def record(x):
        calls.append(x)
        return x

    dsk = {"a": (record, 1), "b": (add, "a", "a"), "c": (add, "a", "b"), "d": (identity, "a")}
    assert get(dsk, ["c", "d", "b"]) == (3, (1,), 2)
    assert calls == [1]


def test_culling_runs_only_what_the_keys_need(get):
    def fail():
        raise AssertionError("an unneeded task ran")

    dsk = {"a": 1, "b": (inc, "a"), "unneeded": (fail,), "also": (inc, "unneeded")}
    assert get(dsk, "b") == 2


def test_cycle_in_unneeded_part_is_ignored(get):
    dsk = {"a": 1, "x": (inc, "y"), "y": (inc, "x")}
    assert get(dsk, "a") == 1


def test_user_graph_is_not_modified(get):
    dsk = {"a": 1, "b": (inc, "a"), "c": (sum, ["a", "b"])}
    snapshot = dict(dsk)
    get(dsk, "c", cache={"a": 10})
    assert dsk == snapshot


def test_cache_supplies_known_results(get):
    dsk = {"a": (AssertionError,), "b": (inc, "a")}
    assert get(dsk, "b", cache={"a": 41}) == 42


def test_mapping_that_is_not_a_dict(get):
    from types import MappingProxyType

    dsk = MappingProxyType({"a": 1, "b": (inc, "a")})
    assert get(dsk, "b") == 2


class Tracked:
    """Counts live instances, to see when the scheduler drops results. The counts
    are taken under a lock: worker threads create and drop results while the
    calling thread does, and ``+=`` on an attribute is not atomic."""

    alive = 0
    peak = 0
    lock = threading.RLock()  # re-entrant: a collection inside the lock runs __del__

    def __init__(self, value):
        self.value = value
        with Tracked.lock:
            Tracked.alive += 1

    def __del__(self):
        with Tracked.lock:
            Tracked.alive -= 1

    @staticmethod
    def note_peak():
        with Tracked.lock:
            Tracked.peak = max(Tracked.peak, Tracked.alive)


def tracked_step(prev=None):
    Tracked.note_peak()
    return Tracked(0 if prev is None else prev.value + 1)


def test_results_are_released_after_their_last_consumer(get):
    gc.collect()
    Tracked.alive = Tracked.peak = 0
    n = 500
    dsk = {("step", 0): (tracked_step,)}
    for i in range(1, n):
        dsk[("step", i)] = (tracked_step, ("step", i - 1))
    out = get(dsk, ("step", n - 1))
    assert out.value == n - 1
    # While a step runs, only its input is alive (plus, briefly, nothing else).
    assert Tracked.peak <= 2
    del out
    assert Tracked.alive == 0


def pair(a, b):
    Tracked.note_peak()
    return Tracked(a.value + b.value)


def slow_pair(a, b):
    """A combine slow enough (0.5 ms, releasing the GIL) to go to a worker thread."""
    Tracked.note_peak()
    time.sleep(0.0005)
    return Tracked(a.value + b.value)


def reduction_tree(depth, combine):
    dsk = {("leaf", i): (tracked_step,) for i in range(1 << depth)}
    level = [("leaf", i) for i in range(1 << depth)]
    counter = itertools.count()
    while len(level) > 1:
        nxt = []
        for a, b in zip(level[::2], level[1::2], strict=True):
            k = ("node", next(counter))
            dsk[k] = (combine, a, b)
            nxt.append(k)
        level = nxt
    return dsk, level[0]


def places_at_once(get):
    """Where one run can be at once: the calling thread, and each job a worker
    thread holds (one running, one queued behind it). A stalled job holds back
    one result per tree level while the others go on."""
    base = getattr(get, "func", get)
    if base is local.get_sync:
        return 1
    workers = getattr(get, "keywords", {}).get("num_workers")
    return 1 + 2 * resolve_num_workers(workers)


@pytest.mark.parametrize("combine", [pair, slow_pair], ids=["inline", "offloaded"])
def test_reduction_tree_holds_few_intermediates(get, combine):
    # Depth-first, a run holds about one result per level for each place it is at.
    # Breadth-first would hold half the leaves; running the cheap leaves ahead of
    # combines waiting for a worker held them all (1,026 of 1,024 here, before).
    depth = 12 if combine is pair else 10
    gc.collect()
    Tracked.alive = Tracked.peak = 0
    dsk, root = reduction_tree(depth, combine)
    out = get(dsk, root)
    assert out.value == 0
    bound = (places_at_once(get) + 1) * depth + 4
    assert Tracked.peak <= bound, f"{Tracked.peak} results alive at once"


def test_outputs_are_kept_even_when_consumed(get):
    dsk = {"a": (Tracked, 1), "b": (operator.attrgetter("value"), "a")}
    a, b = get(dsk, ["a", "b"])
    assert isinstance(a, Tracked) and b == 1


def test_results_are_not_kept_after_get_returns(get):
    class Box:
        pass

    made = []

    def make():
        b = Box()
        made.append(weakref.ref(b))
        return b

    dsk = {"a": (make,), "b": (make,), "c": (lambda x, y: 1, "a", "b")}
    assert get(dsk, "c") == 1
    gc.collect()
    assert all(r() is None for r in made)


def test_lambdas_and_closures(get):
    k = 7
    dsk = {"a": 1, "b": (lambda x: x * k, "a"), "c": ((lambda: lambda x: x + 1)(), "b")}
    assert check(get, dsk, "c") == 8


def test_million_task_chain_does_not_recurse():
    n = 1_000_000
    dsk = {"c-0": 0}
    for i in range(1, n):
        dsk[f"c-{i}"] = (inc, f"c-{i - 1}")
    assert taskloom.get_sync(dsk, f"c-{n - 1}") == n - 1
    assert taskloom.get(dsk, f"c-{n - 1}") == n - 1


def test_seed_article_pipeline():
    """The raw-graph pipeline of seed 004, with functions filled in."""
    loaded = []

    def load(filename):
        loaded.append(filename)
        return filename.split(".")[1]

    def clean(data):
        return data.upper()

    def analyze(sequence_of_data):
        return "".join(sequence_of_data)

    def store(result):
        return f"stored {result}"

    dsk = seed_pipeline(load, clean, analyze, store)
    assert taskloom.get(dsk, "store") == "stored ABC"
    assert sorted(loaded) == ["myfile.a.data", "myfile.b.data", "myfile.c.data"]
    assert taskloom.get(dsk, "store") == reference_get(dsk, "store")


def test_unknown_keyword_arguments_are_ignored_like_dask(get):
    # Dask's get functions accept and ignore keywords they do not know (#13.12).
    dsk = {"x": 1, "y": (inc, "x")}
    assert get(dsk, "y", foo=1, rerun_exceptions_locally=True) == 2


def test_unknown_keywords_through_compute_and_processes():
    from taskloom import multiprocessing

    b = taskloom.bag.from_sequence(range(5), npartitions=2).map(inc)
    for get in [taskloom.get, taskloom.get_sync, multiprocessing.get]:
        assert b.compute(scheduler=get, extra=1) == [1, 2, 3, 4, 5]
        assert get({"x": 1}, "x", bogus_keyword=10) == 1
    assert taskloom.delayed(inc)(1).compute(scheduler="sync", bogus_keyword=10) == 2


def test_unknown_keywords_match_dask():
    local = pytest.importorskip("dask.local")
    dsk = {"x": 1, "y": (inc, "x")}
    assert local.get_sync(dsk, "y", foo=1) == taskloom.get_sync(dsk, "y", foo=1) == 2
