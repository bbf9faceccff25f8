"""The processes scheduler: results against the plain-Python reference, errors that
name the task, dead workers, unpicklable values, and the collections on processes;
also what a key means in an argument, fork, nested gets, and a pool that stays
healthy after a task's SystemExit or a worker that died between computations."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter, namedtuple
from operator import add

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from test_properties import graphs as random_graphs
from test_properties import outcome

import taskloom
import taskloom.array as da
import taskloom.bag as db
import taskloom.dataframe as dd
import taskloom.multiprocessing as mp
from taskloom import _errors, _graph, local, threaded
from taskloom._worker import execute
from taskloom.multiprocessing import RemoteError, WorkerDied, get

from reference import reference_get, seed_pipeline

pytestmark = pytest.mark.skipif(os.name != "posix", reason="processes need POSIX pipes")


def inc(x):
    return x + 1


def graphs():
    yield {"a": 1, "b": (inc, "a"), "c": (add, "a", "b")}, "c"
    yield {"x": 1, "y": "x", "z": (sum, ["x", "y", (inc, "y")])}, ["z", "y"]  # alias
    chain = {("c", 0): 0, **{("c", i): (inc, ("c", i - 1)) for i in range(1, 50)}}
    yield chain, ("c", 49)
    tree = {("t", 0, i): i for i in range(16)}
    for level in range(1, 5):
        for i in range(16 >> level):
            tree[("t", level, i)] = (add, ("t", level - 1, 2 * i), ("t", level - 1, 2 * i + 1))
    yield tree, [("t", 4, 0), ("t", 2, 1)]
    yield {"s": (set, [(inc, 1), 2]), "d": (dict, [["k", "s"]])}, ["s", "d"]
    yield {"lit": "not a key", "t": (str.upper, "lit")}, "t"


@pytest.mark.parametrize("case", list(graphs()), ids=lambda c: str(c[1]))
@pytest.mark.parametrize("fuse", [True, False])
def test_results_match_reference(case, fuse):
    dsk, keys = case
    assert get(dsk, keys, num_workers=2, optimize_graph=fuse) == reference_get(dsk, keys)


def test_lambdas_closures_and_cache():
    offset = 100
    dsk = {"a": (lambda: 5,), "b": (lambda x: x + offset, "a")}
    assert get(dsk, "b") == 105
    assert get(dsk, "b", cache={"a": 1}) == 101


def test_pool_is_reused_and_num_workers_honoured():
    dsk = {("p", i): (_slow_pid, i) for i in range(6)}
    first = set(get(dsk, list(dsk), num_workers=2))
    assert len(first) == 2  # both workers took tasks, and no more than two exist
    again = set(get(dsk, list(dsk), num_workers=2))
    assert again == first  # the same processes
    one = set(get(dsk, list(dsk), num_workers=1))
    assert len(one) == 1 and one <= first


def _slow_pid(i):
    time.sleep(0.05)
    return os.getpid()


def test_results_stay_in_the_worker_that_made_them():
    # A lock cannot be pickled: the consumer must run where the lock was made.
    dsk = {"lock": (threading.Lock,), "free": (lambda lock: lock.locked(), "lock")}
    assert get(dsk, "free", optimize_graph=False, num_workers=2) is False


def test_task_errors_keep_type_message_and_remote_traceback():
    def fails(x):
        raise KeyError(f"missing {x}")

    with pytest.raises(KeyError, match="missing 3") as info:
        get({"a": 3, "b": (fails, "a"), "c": (inc, "b")}, "c")
    notes = "\n".join(info.value.__notes__)
    assert "'b'" in notes and "worker process" in notes
    assert "in fails" in notes  # the worker's traceback text
    assert get({"a": 1, "b": (inc, "a")}, "b") == 2  # the pool still works


def test_unpicklable_argument_and_result_name_the_task():
    lock = threading.Lock()
    with pytest.raises(TypeError, match=r"task 'bad' cannot be sent.*lock"):
        get({"bad": (id, lock)}, "bad")
    with pytest.raises(TypeError, match=r"result of task 'out'.*lock.*cannot be pickled"):
        get({"out": (threading.Lock,)}, "out")
    assert get({"a": 1, "b": (inc, "a")}, "b") == 2


@pytest.mark.parametrize(
    "die",
    [lambda: os._exit(3), lambda: os.kill(os.getpid(), signal.SIGKILL)],
    ids=["exit", "sigkill"],
)
def test_dead_worker_is_an_error_naming_the_task_then_replaced(die):
    with pytest.raises(WorkerDied, match="while computing key 'boom'"):
        get({"boom": (die,)}, "boom", num_workers=2)
    with pytest.raises(WorkerDied, match="while computing keys 'x', 'boom'"):
        get({"x": (int, 1), "boom": (lambda x: die(), "x")}, "boom", num_workers=2)
    dsk = {("p", i): (_slow_pid, i) for i in range(6)}
    assert len(set(get(dsk, list(dsk), num_workers=2))) == 2


def test_interrupt_stops_and_next_compute_works():
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        get({("s", i): (time.sleep, 5) for i in range(2)}, [("s", 0), ("s", 1)], num_workers=2)
    assert time.perf_counter() - start < 4
    assert get({"a": 1, "b": (inc, "a")}, "b") == 2


def test_callbacks_see_every_task():
    seen = []
    cb = taskloom.callbacks.Callback(posttask=lambda key, result, dsk, state, w: seen.append(key))
    dsk = {"a": 1, "b": (inc, "a"), "c": (inc, "b"), "d": (add, "b", "c")}
    assert get(dsk, "d", callbacks=[cb]) == 5
    assert sorted(seen) == ["a", "b", "c", "d"]


def test_collections_on_processes():
    total = taskloom.delayed(sum)([taskloom.delayed(lambda i: i * i)(i) for i in range(20)])
    assert total.compute(scheduler="processes") == sum(i * i for i in range(20))
    b = db.from_sequence(range(100), npartitions=5)
    freq = b.map(lambda x: x % 7).frequencies().compute(scheduler="processes")
    assert dict(freq) == dict(Counter(x % 7 for x in range(100)))
    x = np.arange(400.0).reshape(20, 20)
    a = da.from_array(x, chunks=5)
    np.testing.assert_allclose(
        (a @ a.T).sum(axis=0).compute(scheduler="processes"), (x @ x.T).sum(axis=0)
    )
    pdf = pd.DataFrame({"k": list("abcd") * 25, "v": np.arange(100.0)})
    df = dd.from_pandas(pdf, npartitions=4)
    pd.testing.assert_series_equal(
        df.groupby("k").v.mean().compute(scheduler="processes"), pdf.groupby("k").v.mean()
    )
    with taskloom.config.set(scheduler="processes"):
        assert taskloom.compute(taskloom.delayed(inc)(1))[0] == 2


def test_script_without_main_guard(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent("""
        import taskloom
        square = lambda x: x * x
        parts = [taskloom.delayed(square)(i) for i in range(10)]
        print(taskloom.delayed(sum)(parts).compute(scheduler="processes"))
    """)
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(sum(i * i for i in range(10)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="pool="):
        get({"a": 1}, "a", pool=object())
    with pytest.raises(ValueError, match="num_workers"):
        get({"a": 1}, "a", num_workers=0)
    assert get({"a": 1}, "a", bogus=1) == 1  # ignored, as by Dask's get (#13.12)
    with pytest.raises(taskloom.CycleError):
        get({"a": (inc, "b"), "b": (inc, "a")}, "a")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs())
def test_random_graphs_match_the_reference(case):
    dsk, keys = case
    expected = outcome(reference_get, dsk, keys)
    assert outcome(lambda d, k: get(d, k, num_workers=2), dsk, keys) == expected
    assert outcome(lambda d, k: get(d, k, num_workers=2, optimize_graph=False), dsk, keys) == (
        expected
    )


def load(filename):
    return f"data of {filename}"


def clean(data):
    return data.upper()


def analyze(sequence_of_data):
    return " | ".join(sequence_of_data)


def store(result):
    return len(result)


def test_seed_article_004_custom_workflows():
    """Article 004's code with ``dask`` replaced by ``taskloom``: a dict graph on the
    processes scheduler, then the same with ``do`` and ``compute(get=get)``."""
    dsk = seed_pipeline(load, clean, analyze, store)
    from taskloom.multiprocessing import get

    expected = store(analyze([clean(load(f"myfile.{c}.data")) for c in "abc"]))
    assert get(dsk, "store") == expected

    from taskloom import do

    loads = [do(load)("myfile.a.data"), do(load)("myfile.b.data"), do(load)("myfile.c.data")]
    cleaned = [do(clean)(x) for x in loads]
    analysis = do(analyze)(cleaned)
    result = do(store)(analysis)
    assert result.compute(get=get) == expected
    with pytest.raises(TypeError, match="not both"):
        result.compute(get=get, scheduler="sync")


# -- issue #12: what a key means in an argument ---------------------------------------


class Name(str):
    """A str subclass: equal to a plain str key, so a reference to it (as in Dask)."""


Pair = namedtuple("Pair", "name i")
NAN = float("nan")  # a NaN key matches only this very object


def identity(x):
    return x


KEY_CASES = {
    "True-is-key-1": ({1: (identity, "one"), "r": (identity, True)}, "r"),
    "5.0-is-key-5": ({5: (identity, "five"), "r": (identity, 5.0)}, "r"),
    "1.0-is-key-1-in-a-list": ({1: (identity, "one"), "r": (identity, [1.0, 2])}, "r"),
    "str-subclass": ({"k": (identity, "kay"), "r": (identity, Name("k"))}, "r"),
    "namedtuple": ({("p", 1): (identity, "pair"), "r": (identity, Pair("p", 1))}, "r"),
    "nan-same-object": ({NAN: (identity, "nan"), "r": (identity, NAN)}, "r"),
    "nan-other-object": ({NAN: (identity, "nan"), "r": (identity, float("nan"))}, "r"),
    "tuple-holding-the-nan": ({("n", NAN): (identity, "tn"), "r": (identity, ("n", NAN))}, "r"),
    "in-the-parent": ({1: "one", "r": [True, 1.0, {True: 1}]}, "r"),  # no call: not sent
    "container-root": ({1: "one", "r": [True, (identity, 1.0), {True: 1}]}, "r"),
    # numpy.float64 is a float subclass, so a key type; numpy.int64 is no int, so a
    # literal even next to a reference to the key it equals.
    "numpy-scalars": ({5: (identity, "five"), "r": (list, [5, np.int64(5), np.float64(5)])}, "r"),
    "bytes-is-a-literal": ({b"k": (identity, "bk"), "r": (identity, b"k")}, "r"),
}


@pytest.mark.parametrize("case", list(KEY_CASES.values()), ids=list(KEY_CASES))
@pytest.mark.parametrize("fuse", [True, False])
def test_an_argument_is_a_reference_when_of_a_key_type_and_in_dsk(case, fuse):
    dsk, keys = case
    # repr: a NaN result equals nothing, yet the two must agree on it
    assert repr(get(dsk, keys, num_workers=2, optimize_graph=fuse)) == repr(
        reference_get(dsk, keys)
    )


def test_execute_reads_arguments_of_key_types_found_in_deps():
    deps = {1: "one", 5: "five", "k": "kay", ("p", 1): "pair"}
    args = [True, 5.0, Name("k"), Pair("p", 1), "other", (1, [2]), {"k": 1}, np.int64(5)]
    expected = ["one", "five", "kay", "pair", "other", ("one", [2]), {"k": 1}, np.int64(5)]
    assert execute((list, args), deps) == expected
    assert type(execute((list, args), deps)[-1]) is np.int64
    assert execute((identity, True), {}) is True  # not a dependency: a literal

    class BadHash(str):
        def __hash__(self):
            raise ValueError("no hash here")

    with pytest.raises(ValueError, match="no hash here"):  # only TypeError means literal
        execute((identity, BadHash("k")), deps)


@pytest.mark.parametrize("fuse", [True, False])
def test_user_functions_inside_containers_run_in_a_worker(fuse):
    # Only tasks without any call are evaluated in the parent.
    dsk = {"x": 1, "pids": [(os.getpid,), "x", {(os.getpid,)}], "alone": [(os.getpid,)]}
    pids, alone = get(dsk, ["pids", "alone"], num_workers=2, optimize_graph=fuse)
    assert pids[1] == 1 and os.getpid() not in (pids[0], *pids[2], *alone)


# -- issue #12: num_workers ------------------------------------------------------------


def test_absurd_num_workers_is_refused_before_anything_starts(monkeypatch):
    def no_workers(*args, **kwargs):
        raise AssertionError("a worker process was started")

    monkeypatch.setattr(mp, "_Proc", no_workers)  # a regression fails, not a fork bomb
    for scheduler_get in (get, threaded.get, taskloom.get):
        with pytest.raises(ValueError, match=r"num_workers must be at most 65536 \(2\*\*16\)"):
            scheduler_get({"a": 1}, "a", num_workers=2**63)
    with taskloom.config.set(num_workers=2**63):
        with pytest.raises(ValueError, match="the num_workers setting must be at most 65536"):
            get({"a": 1}, "a")
    # get_sync takes num_workers only for compute(..., num_workers=) and ignores it, as
    # Dask's does: it runs everything on the calling thread, so there is nothing to size.
    assert local.get_sync({"a": 1, "b": (inc, "a")}, "b", num_workers=2**63) == 2
    assert _graph.num_workers(2**16) == 2**16
    with pytest.raises(ValueError, match="at most"):
        _graph.num_workers(2**16 + 1)


# -- issue #12: fork and nested gets ---------------------------------------------------


def _run_script(code: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_get_in_a_child_forked_while_a_thread_runs_a_get():
    out = _run_script("""
        import os, sys, threading, time
        from taskloom.multiprocessing import _POOL, get

        def slow(i):
            time.sleep(2)
            return i

        def inc(x):
            return x + 1

        result = {}
        outer = threading.Thread(target=lambda: result.update(
            outer=get({("s", i): (slow, i) for i in range(2)}, [("s", 0), ("s", 1)],
                      num_workers=2)))
        outer.start()
        while not _POOL.lock.locked():
            time.sleep(0.01)
        time.sleep(0.5)  # the tasks are running in the parent's workers
        pid = os.fork()
        if pid == 0:
            print("child", get({"a": 1, "b": (inc, "a")}, "b", num_workers=1), flush=True)
            sys.exit(0)  # a normal exit: the child's atexit must not touch the parent's pool
        deadline = time.monotonic() + 60
        while (status := os.waitpid(pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                print("child hung")
                sys.exit(3)
            time.sleep(0.05)
        print("child exit", os.waitstatus_to_exitcode(status[1]))
        outer.join(60)
        print("outer", result.get("outer"))
        print("again", get({"a": 1, "b": (inc, "a")}, "b", num_workers=2))
    """)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.split("\n") == ["child 2", "child exit 0", "outer (0, 1)", "again 2", ""]


def test_nested_get_from_callbacks_runs_on_a_temporary_pool():
    out = _run_script("""
        import os
        from taskloom.callbacks import Callback
        from taskloom.multiprocessing import _POOL, get

        def inc(x):
            return x + 1

        seen, nested_pids = [], []

        def nested(where, key):
            b, pid = get({"a": 1, "b": (inc, "a"), "pid": (os.getpid,)}, ["b", "pid"],
                         num_workers=1)
            seen.append((where, key, b))
            nested_pids.append(pid)

        cb = Callback(pretask=lambda key, dsk, state: nested("pre", key),
                      posttask=lambda key, result, dsk, state, worker: nested("post", key))
        dsk = {"p": 1, "q": (inc, "p"), "w": (os.getpid,)}
        print(get(dsk, ["q", "w"], num_workers=2, callbacks=[cb])[0])
        print(sorted(seen))
        outer = {p.popen.pid for p in _POOL.procs}
        print(len(outer), outer.isdisjoint(nested_pids))
        gone = []
        for pid in nested_pids:  # every temporary pool was stopped (and reaped)
            try:
                os.kill(pid, 0)
                gone.append(False)
            except ProcessLookupError:
                gone.append(True)
        print(gone)
    """)
    assert out.returncode == 0, out.stdout + out.stderr
    calls = [(w, k, 2) for w in ("post", "pre") for k in ("p", "q", "w")]
    assert out.stdout.split("\n") == ["2", str(calls), "2 True", str([True] * 6), ""]


# -- issue #12: exceptions and a healthy pool ------------------------------------------


def _pool_pids():
    dsk = {("p", i): (_slow_pid, i) for i in range(6)}
    return set(get(dsk, list(dsk), num_workers=2))


def test_system_exit_in_a_task_is_its_error_and_the_pool_stays_healthy():
    before = _pool_pids()
    with pytest.raises(SystemExit) as info:
        get({"a": 1, "bye": (sys.exit, 3), "c": (add, "a", "bye")}, "c", num_workers=2)
    assert info.value.code == 3
    assert any("'bye'" in note for note in info.value.__notes__)
    # The same workers, and nothing blamed on the next computation.
    assert get({"a": 1, "b": (inc, "a")}, "b", num_workers=2) == 2
    assert _pool_pids() == before


def _raise_keyboard_interrupt():
    raise KeyboardInterrupt("raised by the task")


def test_keyboard_interrupt_raised_by_a_task_is_its_error():
    before = _pool_pids()
    with pytest.raises(KeyboardInterrupt, match="raised by the task"):
        get({"k": (_raise_keyboard_interrupt,)}, "k", num_workers=2)
    assert _pool_pids() == before  # not taken for Ctrl-C: the pool was not killed


def _sigint_self():
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.2)  # the signal is handled by now
    return os.getpid()


def test_sigint_to_a_worker_is_left_to_the_parent():
    # Ctrl-C in a terminal reaches the workers too; only the parent acts on it.
    assert get({"s": (_sigint_self,)}, "s", num_workers=2) in _pool_pids()


class _ExitOnClear(dict):
    """A worker store that makes its worker exit at the end of the computation."""

    def clear(self):
        time.sleep(0.5)  # the parent's next computation has sent this worker a job
        os._exit(0)


def _exit_when_cleared():
    import gc

    from taskloom._worker import Worker

    worker = next(o for o in gc.get_objects() if isinstance(o, Worker))
    worker.store = _ExitOnClear(worker.store)
    return os.getpid()


def test_worker_dying_between_computations_is_replaced_not_blamed():
    # The worker is still alive when the next computation starts and gives it a job,
    # then exits before it began it: that job runs on a new worker, no WorkerDied.
    before = _pool_pids()
    doomed = get({"d": (_exit_when_cleared,)}, "d", num_workers=2)
    after = _pool_pids()
    assert len(after) == 2 and before - after == {doomed}  # only the dead one replaced
    assert _pool_pids() == after


def test_worker_found_dead_when_sending_is_replaced_not_blamed(monkeypatch):
    before = _pool_pids()
    victim = mp._POOL.procs[0]
    victim.popen.kill()
    victim.popen.wait()
    # Make the start-of-computation checks miss it, so that the first message fails.
    monkeypatch.setattr(mp._Proc, "alive", lambda self: True)
    monkeypatch.setattr(mp._Proc, "collect", lambda self: True)
    dsk = {("p", i): (_slow_pid, i) for i in range(6)}
    after = set(get(dsk, list(dsk), num_workers=2))
    assert len(after) == 2 and victim.popen.pid not in after and after & before


class TwoArgs(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a}-{b}")
        self.a = a


def _raise_two_args():
    raise TwoArgs("x", "y")


def _raise_unpicklable():
    class Locked(Exception):
        lock = threading.Lock()  # the class cannot be pickled, so nor can its errors

    raise Locked("held")


def test_exception_whose_constructor_needs_arguments_keeps_its_type():
    with pytest.raises(TwoArgs) as info:
        get({"e": (_raise_two_args,)}, "e", num_workers=2)
    assert str(info.value) == "x-y" and info.value.args == ("x-y",) and info.value.a == "x"
    assert "in _raise_two_args" in info.value.__notes__[-1]


def test_exception_that_cannot_travel_arrives_as_remote_error_naming_it():
    with pytest.raises(RemoteError) as info:
        get({"e": (_raise_unpicklable,)}, "e", num_workers=2)
    name = "test_processes._raise_unpicklable.<locals>.Locked"
    assert str(info.value) == f"{name}: held" and info.value.type_name == name
    assert "in _raise_unpicklable" in info.value.remote_traceback
    assert "'e'" in info.value.__notes__[0]


def test_add_note_without_the_method_as_on_python_3_10():
    e = ValueError("bad")
    _errors._add_note_without_method(e, "first")
    _errors._add_note_without_method(e, "second")
    assert e.__notes__ == ["first", "second"]
    with pytest.raises(TypeError):
        _errors._add_note_without_method(e, 3)
    e.__notes__ = ("not", "a list")
    with pytest.raises(TypeError):
        _errors._add_note_without_method(e, "third")
    f = KeyError("k")
    _errors.add_note(f, "note")
    assert f.__notes__ == ["note"]


def read_setting(name: str) -> object:
    import taskloom

    return taskloom.config.get(name, "unset")


def read_dask_setting(name: str) -> object:
    import dask

    return dask.config.get(name, "unset")


def test_tasks_in_workers_see_the_callers_settings():
    # As a thread of the caller would (the processes neighbour of #12.9): taskloom's
    # settings, and Dask's for Dask's own graphs (e.g. its temporary_directory).
    dsk = {"ours": (read_setting, "probe"), "dask": (read_dask_setting, "taskloom-probe")}
    import dask

    with taskloom.config.set(probe=7), dask.config.set({"taskloom-probe": "x"}):
        assert get(dsk, ["ours", "dask"], num_workers=2) == (7, "x")
    # Settings the workers cannot receive (a pool object) are left out, not an error.
    with dask.config.set(pool=threading.Lock(), **{"taskloom-probe": "y"}):
        assert get(dsk, "dask", num_workers=2) == "y"
    assert get(dsk, ["ours", "dask"], num_workers=2) == ("unset", "unset")


def locked_add(lock, x: int) -> int:
    with lock:
        return x + 1


def test_tasks_can_use_the_callers_multiprocessing_manager():
    # Manager proxies authenticate with the parent's authkey (Dask's own
    # test_store_multiprocessing_lock passes one to its tasks).
    import multiprocessing

    with multiprocessing.Manager() as manager:
        lock = manager.Lock()
        assert get({"a": 1, "b": (locked_add, lock, "a")}, "b", num_workers=2) == 2


def raise_os_error() -> None:
    raise FileNotFoundError(2, "No such file", "/nowhere")


def test_builtin_exception_fields_survive_dask_s_exception_pickling():
    # Dask installs tblib's reducer for every exception class (workers import it to
    # take Dask's settings); it rebuilds exceptions without __init__, losing
    # SystemExit.code and OSError.errno unless they are restored.
    import dask.multiprocessing  # noqa: F401  (installs the reducer here too)

    with pytest.raises(SystemExit) as info:
        get({"a": (sys.exit, 3)}, "a", num_workers=1)
    assert info.value.code == 3
    with pytest.raises(FileNotFoundError) as info:
        get({"a": (raise_os_error,)}, "a", num_workers=1)
    assert (info.value.errno, info.value.strerror, info.value.filename) == (
        2,
        "No such file",
        "/nowhere",
    )
