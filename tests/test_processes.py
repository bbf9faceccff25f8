"""The processes scheduler: results against the plain-Python reference, errors that
name the task, dead workers, unpicklable values, and the collections on processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
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
from taskloom.multiprocessing import WorkerDied, get

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
    with pytest.raises(TypeError, match="unexpected keyword"):
        get({"a": 1}, "a", bogus=1)
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
