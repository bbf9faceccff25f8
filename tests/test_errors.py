"""Bad input and failing tasks: clear errors, raised promptly, nothing left running."""

from __future__ import annotations

import functools
import random
import sys
import threading
import time
import traceback
from operator import add

import pytest

import taskloom
from taskloom import CycleError


def inc(x):
    return x + 1


class Boom(Exception):
    pass


def explode(x):
    raise Boom(f"bad input {x}")


def test_task_error_keeps_type_traceback_and_names_the_key(get):
    dsk = {"a": 1, ("b", 0): (explode, "a"), "c": (inc, ("b", 0))}
    with pytest.raises(Boom, match="bad input 1") as info:
        get(dsk, "c")
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "explode" in frames
    assert any("('b', 0)" in note for note in info.value.__notes__)


def test_error_in_nested_task_names_the_outer_key(get):
    dsk = {"a": 1, "b": (add, (explode, "a"), 1)}
    with pytest.raises(Boom) as info:
        get(dsk, "b")
    assert any("'b'" in note for note in info.value.__notes__)


def test_no_task_starts_after_a_failure_on_one_thread():
    ran = []

    def work(i):
        ran.append(i)
        if i == 10:
            raise Boom(i)
        return i

    dsk = {("w", i): (work, i) for i in range(50)}
    dsk["all"] = (sum, [("w", i) for i in range(50)])
    with pytest.raises(Boom):
        taskloom.get_sync(dsk, "all")
    assert ran[-1] == 10, "tasks ran after the failing one"


def test_threaded_failure_stops_dispatch_and_waits_for_running_tasks():
    finished = threading.Event()
    started = []

    def slow(i):
        started.append(i)
        time.sleep(0.3)
        finished.set()
        return i

    def fail_soon():
        time.sleep(0.05)
        raise Boom("soon")

    dsk = {("slow", i): (slow, i) for i in range(20)}
    dsk["fail"] = (fail_soon,)
    dsk["all"] = (lambda *a: a, "fail", *[("slow", i) for i in range(20)])
    with pytest.raises(Boom):
        taskloom.get(dsk, "all", num_workers=2)
    # The slow task already running when the failure came back was waited for...
    assert finished.is_set()
    # ...and no further slow tasks were started afterwards.
    count = len(started)
    time.sleep(0.4)
    assert len(started) == count < 20


def test_cycle_is_reported_with_its_keys_before_anything_runs(get):
    ran = []
    dsk = {
        "side": (ran.append, 1),
        "a": (add, "b", "side"),
        "b": (inc, "c"),
        "c": (inc, "a"),
    }
    with pytest.raises(CycleError) as info:
        get(dsk, "a")
    message = str(info.value)
    assert all(repr(k) in message for k in ["a", "b", "c"])
    assert ran == []
    assert isinstance(info.value, RuntimeError), "Dask raises RuntimeError for cycles"


def test_self_reference_is_a_cycle(get):
    with pytest.raises(CycleError, match="'x'"):
        get({"x": (inc, "x")}, "x")


def test_missing_key_is_a_key_error_naming_it(get):
    with pytest.raises(KeyError, match="nope"):
        get({"a": 1}, ["a", ["nope"]])


def test_unhashable_requested_key_is_a_type_error(get):
    with pytest.raises(TypeError, match=r"\{'a'\}.*not hashable"):
        get({"a": 1}, [{"a"}])


class Meddler:
    """A key part whose ``==`` changes the graph being read: ``change(dsk)``."""

    def __init__(self, dsk, change=lambda dsk: dsk.pop("victim", None)):
        self.dsk, self.change = dsk, change

    def __hash__(self):
        return 1

    def __eq__(self, other):
        self.change(self.dsk)
        return self is other


def test_graph_changed_while_read_is_an_error(get):
    dsk: dict = {}
    dsk[("m", Meddler(dsk))] = 1
    # Hashes like the key above, so reading it compares the two Meddlers.
    dsk["a"] = (add, 1, ("m", Meddler(dsk)))
    dsk["victim"] = 2
    dsk["b"] = (inc, "victim")
    with pytest.raises(RuntimeError, match="changed while taskloom was reading it"):
        get(dsk, "b")


class Fickle:
    """A key part hashable when put in the graph; from its second hash on it calls
    ``then()`` first (which may raise or change the graph). Its ``==`` raises ``exc``."""

    def __init__(self, then, exc=ValueError):
        self.then, self.exc, self.calls = then, exc, 0

    def __hash__(self):
        self.calls += 1
        if self.calls > 1:
            self.then()
        return 7

    def __eq__(self, other):
        raise self.exc("no comparing either")


# Up to Python 3.12 the converter reads the hash the dict stored with each key, and runs
# no key's `__hash__`; from 3.13 (whose C API no longer gives it) it hashes them again.
STORED_HASHES = sys.version_info < (3, 13)


def test_graph_changed_by_a_keys_hash_is_an_error(get):
    dsk: dict = {}
    fickle = Fickle(lambda: dsk.pop("victim", None))
    dsk[fickle] = 1
    dsk["victim"] = 2
    dsk["b"] = (inc, "victim")
    if STORED_HASHES:
        assert get(dsk, "b") == 3
        assert fickle.calls == 1 and dsk["victim"] == 2
        return
    with pytest.raises(RuntimeError, match="changed while taskloom was reading it"):
        get(dsk, "b")


@pytest.mark.parametrize("exc", [TypeError, ValueError])
def test_a_graph_key_whose_hash_then_fails_is_an_error_naming_it(get, exc):
    def refuse():
        raise exc("not today")

    fickle = Fickle(refuse, exc)
    dsk = {fickle: 1, "b": (inc, 1)}
    if STORED_HASHES:
        assert get(dsk, "b") == 2
        assert fickle.calls == 1
        return
    with pytest.raises(exc, match="Fickle" if exc is TypeError else "not today"):
        get(dsk, "b")


def test_an_error_comparing_keys_propagates_from_every_kind_of_lookup(get):
    # Tuple references out of order miss the guesses: the first few are found by a
    # scan of the hashes, later ones through the table; a key's `==` raising reaches
    # the caller from both, as from Python's dict.
    class Raising:
        def __hash__(self):
            return 5

        def __eq__(self, other):
            raise ValueError("cannot compare")

    for misses in (1, 20):
        dsk: dict = {("bad", Raising()): 0}  # far from the references to it
        dsk.update({("k", i): i for i in range(30)})
        refs = [("k", j) for j in random.Random(misses).sample(range(30), misses)]
        dsk["total"] = (len, [*refs, ("bad", Raising())])
        with pytest.raises(ValueError, match="cannot compare"):
            get(dsk, "total")


def _swap_victim(dsk: dict) -> None:
    dsk["victim"] = "swapped"  # a value replaced, the keys unchanged


def test_values_are_read_as_the_graph_was_when_called(get):
    # A key's `==` runs while the graph is parsed; what is computed is the graph as
    # it was when the get began (read in one walk), not a mix of before and after.
    dsk: dict = {}
    dsk[("m", Meddler(dsk, _swap_victim))] = 1
    # Compared with the key above (equal hashes), found unequal: a literal tuple.
    dsk["a"] = (len, ("m", Meddler(dsk, _swap_victim)))
    dsk["victim"] = 2
    dsk["b"] = (inc, "victim")
    assert get(dsk, ["a", "b"]) == (2, 3)
    assert dsk["victim"] == "swapped"


def test_graph_must_be_a_mapping(get):
    with pytest.raises(TypeError, match="list"):
        get([("a", 1)], "a")


def test_unknown_keyword_arguments_are_ignored_as_in_dask(get):
    # Dask's get functions take **kwargs and ignore what they do not know (#13.12).
    assert get({"a": 1}, "a", bogus=True) == 1


@pytest.mark.parametrize("bad", [0, -1, 2.5, "4", True])
def test_num_workers_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="num_workers"):
        taskloom.get({"a": 1}, "a", num_workers=bad)


def test_pool_argument_is_refused_with_advice():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool, pytest.raises(ValueError, match="num_workers"):
        taskloom.get({"a": 1}, "a", pool=pool)


def test_overly_nested_value_is_a_recursion_error_naming_the_key(get):
    value = 1
    for _ in range(2000):
        value = (inc, value)
    with pytest.raises(RecursionError, match="'deep'"):
        get({"deep": value}, "deep")


def test_unhashable_arguments_are_literals(get):
    dsk = {"a": 1, "b": (lambda t: t, ("a", [1]))}
    assert get(dsk, "b") == (1, [1])


def spin(seconds: float) -> int:
    """Pure-Python busy work: holds the GIL, checks for signals between bytecodes."""
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
    return n


def _interrupt_main_after(seconds: float) -> threading.Timer:
    import signal

    main = threading.main_thread().ident
    timer = threading.Timer(seconds, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    return timer


@pytest.mark.parametrize(
    "task",
    [
        pytest.param((time.sleep, 3), id="sleep"),
        pytest.param((spin, 3), id="python-loop"),
    ],
)
def test_ctrl_c_stops_a_long_get_and_the_next_get_works(get, task):
    if threading.current_thread() is not threading.main_thread():
        pytest.fail("signals can only be tested on the main thread")
    dsk = {"long": task, "after": (inc, "long")}
    timer = _interrupt_main_after(0.2)
    start = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            get(dsk, "after")
    finally:
        timer.cancel()
    # Behaviour, not speed: it returned long before the task would have finished.
    assert time.perf_counter() - start < 2.0
    assert get({"a": 1, "b": (inc, "a")}, "b") == 2


def test_ctrl_c_during_a_python_functions_c_call_stops_the_next_task(get):
    # Each task is a Python function spending its time in one C call, which checks
    # for no signal: the chain must stop at the next task (the scheduler checks after
    # each task, and the function's bytecode on entry), not run to its end.
    if threading.current_thread() is not threading.main_thread():
        pytest.fail("signals can only be tested on the main thread")
    calls = []

    def work(x):
        calls.append(x)
        sum(range(3_000_000))  # tens of milliseconds in C
        return x + 1

    n = 60
    dsk = {("c", 0): 0, **{("c", i): (work, ("c", i - 1)) for i in range(1, n)}}
    timer = _interrupt_main_after(0.2)
    try:
        with pytest.raises(KeyboardInterrupt):
            get(dsk, ("c", n - 1))
    finally:
        timer.cancel()
    assert 0 < len(calls) < n - 1
    assert get({"a": 1, "b": (work, "a")}, "b") == 2


@pytest.mark.parametrize("optimize_graph", [True, False])
@pytest.mark.parametrize("after", ["c-callable", "python-function"])
def test_a_signal_left_pending_by_a_task_stops_the_next_one_before_it_runs(after, optimize_graph):
    # libc's kill, called through ctypes, trips the signal without Python checking
    # it: the sync loop's check after that task stops the run before the next task
    # does anything, a C callable or a Python function. (Threads differ: a worker
    # never handles a signal, and runs a fused chain whole.)
    import ctypes
    import os
    import signal

    if threading.current_thread() is not threading.main_thread():
        pytest.fail("signals can only be tested on the main thread")
    kill = ctypes.CDLL(None).kill
    calls: list = []

    def record(x):
        calls.append(x)
        return x

    dsk = {
        "kill": (kill, os.getpid(), int(signal.SIGINT)),
        "after": (calls.append if after == "c-callable" else record, "kill"),
    }
    get = functools.partial(taskloom.get_sync, optimize_graph=optimize_graph)
    with pytest.raises(KeyboardInterrupt):
        get(dsk, "after")
    assert calls == []
    assert get({"a": 1, "b": (record, "a")}, "b") == 1


def test_ctrl_c_while_jobs_wait_for_workers_starts_none_of_them():
    started = []

    def nap(i):
        started.append(i)
        time.sleep(0.3)
        return i

    # Learn that `nap` is slow, so the next run queues jobs behind busy workers.
    taskloom.get({"warm": (nap, -1)}, "warm", num_workers=2)
    dsk = {("nap", i): (nap, i) for i in range(20)}
    dsk["all"] = (list, [("nap", i) for i in range(20)])
    started.clear()
    timer = _interrupt_main_after(0.45)
    try:
        with pytest.raises(KeyboardInterrupt):
            taskloom.get(dsk, "all", num_workers=2)
    finally:
        timer.cancel()
    count = len(started)
    time.sleep(0.8)  # long enough for the running naps to end and any queued to start
    assert len(started) == count < 20
    assert taskloom.get({"a": 1, "b": (inc, "a")}, "b", num_workers=2) == 2
