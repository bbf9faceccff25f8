"""Which of taskloom's schedulers runs Dask's own collections through taskloom.compute
and taskloom.persist, and what comes back, against Dask's own compute/persist."""

from __future__ import annotations

import io
import os
import threading

import numpy as np
import pytest

import taskloom
from taskloom import local, multiprocessing, threaded

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
db = pytest.importorskip("dask.bag")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")
spec = pytest.importorskip("dask._task_spec")
dask_local = pytest.importorskip("dask.local")
dask_threaded = pytest.importorskip("dask.threaded")
dask_processes = pytest.importorskip("dask.multiprocessing")


def _where(_=None):
    """Where a task ran: process id, thread name, whether on the main thread."""
    thread = threading.current_thread()
    return (os.getpid(), thread.name, thread is threading.main_thread())


def _where_block(block):
    out = np.empty(1, dtype=object)
    out[0] = _where()
    return out


def _array_recording():
    """A Dask array of 4 blocks, each recording where it ran."""
    return da.ones(4, chunks=1).map_blocks(_where_block, dtype=object)


def _bag_recording():
    return db.from_sequence(range(4), npartitions=4).map(_where)


@pytest.fixture
def spy(monkeypatch):
    """The ``scheduler=`` that taskloom passes to Dask's compute and persist."""
    seen = []
    compute, persist = dask.compute, dask.persist

    def spy_compute(*args, **kwargs):
        seen.append(kwargs.get("scheduler"))
        return compute(*args, **kwargs)

    def spy_persist(*args, **kwargs):
        seen.append(kwargs.get("scheduler"))
        return persist(*args, **kwargs)

    monkeypatch.setattr(dask, "compute", spy_compute)
    monkeypatch.setattr(dask, "persist", spy_persist)
    return seen


def _ran_in_this_process(records):
    return {pid for pid, _, _ in records} == {os.getpid()}


def _never_on_dasks_pool(records):
    return not any(name.startswith("ThreadPoolExecutor") for _, name, _ in records)


def test_dask_array_defaults_to_taskloom_threads(spy):
    (records,) = taskloom.compute(_array_recording())
    assert spy == [threaded.get]
    assert _ran_in_this_process(records) and _never_on_dasks_pool(records)
    # Dask's own choice for the same array is its threaded scheduler.
    assert dask.base.get_scheduler(collections=[_array_recording()]) is dask_threaded.get


def test_dask_delayed_defaults_to_taskloom_threads(spy):
    records = taskloom.compute([dask.delayed(_where)(i) for i in range(4)])[0]
    assert spy == [threaded.get]
    assert _ran_in_this_process(records) and _never_on_dasks_pool(records)


def test_dask_bag_defaults_to_taskloom_processes(spy):
    (records,) = taskloom.compute(_bag_recording())
    assert spy == [multiprocessing.get]
    assert os.getpid() not in {pid for pid, _, _ in records}


def test_dask_config_scheduler_is_honoured(spy):
    with dask.config.set(scheduler="sync"):
        (bag_records,) = taskloom.compute(_bag_recording())
        (array_records,) = taskloom.compute(_array_recording())
    assert spy == [local.get_sync, local.get_sync]
    for records in (bag_records, list(array_records)):
        assert all(on_main for _, _, on_main in records)
        assert _ran_in_this_process(records)


def test_dask_config_threads_for_a_bag(spy):
    with dask.config.set(scheduler="threads"):
        (records,) = taskloom.compute(_bag_recording())
    assert spy == [threaded.get]
    assert _ran_in_this_process(records) and _never_on_dasks_pool(records)


def test_taskloom_config_wins_over_dasks(spy):
    with dask.config.set(scheduler="processes"), taskloom.config.set(scheduler="sync"):
        (records,) = taskloom.compute(_bag_recording())
    assert spy == [local.get_sync]
    assert all(on_main for _, _, on_main in records) and _ran_in_this_process(records)
    with dask.config.set(scheduler="sync"), taskloom.config.set(scheduler="threads"):
        taskloom.compute(_bag_recording())
    assert spy[-1] is threaded.get


@pytest.mark.parametrize(
    ("scheduler", "ours"),
    [
        ("sync", local.get_sync),
        ("synchronous", local.get_sync),
        ("single-threaded", local.get_sync),
        ("threads", threaded.get),
        ("Threading", threaded.get),
        (dask_local.get_sync, local.get_sync),
        (dask_threaded.get, threaded.get),
        (dask_processes.get, multiprocessing.get),
        (taskloom.get_sync, local.get_sync),
    ],
    ids=lambda v: v if isinstance(v, str) else f"{v.__module__}.{v.__name__}",
)
def test_explicit_scheduler_maps_to_taskloom(spy, scheduler, ours):
    x = da.arange(10, chunks=3)
    (value,) = taskloom.compute(x.sum(), scheduler=scheduler)
    assert spy == [ours]
    assert value == x.sum().compute(scheduler="sync")


def test_explicit_processes_runs_in_taskloom_workers(spy):
    (records,) = taskloom.compute(_array_recording(), scheduler="processes")
    assert spy == [multiprocessing.get]
    assert os.getpid() not in {pid for pid, _, _ in records}


def test_a_get_function_of_ones_own_is_passed_through(spy):
    calls = []

    def my_get(dsk, keys, **kwargs):
        calls.append(keys)
        return dask_local.get_sync(dsk, keys, **kwargs)

    x = da.arange(10, chunks=3)
    (value,) = taskloom.compute(x.sum(), scheduler=my_get)
    assert spy == [my_get] and calls
    assert value == x.sum().compute(scheduler="sync")


def test_differing_default_schedulers_fail_as_in_dask():
    colls = (da.arange(4, chunks=2), db.from_sequence([1, 2]))
    with pytest.raises(ValueError, match="differing default schedulers") as theirs:
        dask.compute(*colls)
    with pytest.raises(type(theirs.value), match="differing default schedulers"):
        taskloom.compute(*colls)
    with pytest.raises(type(theirs.value), match="differing default schedulers"):
        taskloom.persist(*colls)
    # Named, they run together, and equal Dask's.
    ours = taskloom.compute(*colls, scheduler="sync")
    np.testing.assert_array_equal(ours[0], dask.compute(*colls, scheduler="sync")[0])
    assert ours[1] == dask.compute(*colls, scheduler="sync")[1]


def test_iterators_are_read_once_and_results_have_dasks_shapes():
    x = da.arange(10, chunks=3)
    y = x[::2] * 2
    reads = []

    def collections():
        for c in (x, y, 5):
            reads.append(c)
            yield c

    ours = taskloom.compute(collections(), (y,), {"k": x.sum()}, [y.sum(), "s"], scheduler="sync")
    assert len(reads) == 3
    theirs = dask.compute([x, y, 5], (y,), {"k": x.sum()}, [y.sum(), "s"], scheduler="sync")
    _same_exactly(ours, theirs)
    # traverse=False: containers are not searched, as in Dask.
    ours = taskloom.compute(x, [y], traverse=False, scheduler="sync")
    theirs = dask.compute(x, [y], traverse=False, scheduler="sync")
    assert type(ours) is type(theirs) and len(ours) == len(theirs)
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[1][0] is y and theirs[1][0] is y


def _same_exactly(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(b, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(b, list | tuple):
        assert len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            _same_exactly(u, v)
    elif isinstance(b, dict):
        assert list(a) == list(b)
        for k in b:
            _same_exactly(a[k], b[k])
    else:
        assert a == b


def _no_tasks_left(coll):
    """Whether every graph value is data or an alias to data: nothing to run."""
    graph = dict(coll.__dask_graph__())
    for value in graph.values():
        if isinstance(value, spec.Alias):
            assert value.target in graph
        elif isinstance(value, spec.DataNode):
            continue
        else:
            assert not isinstance(value, spec.GraphNode | spec.TaskRef), value
            assert not (isinstance(value, tuple) and value and callable(value[0])), value
    return True


def test_persist_of_a_dask_array_leaves_no_tasks(spy):
    x = da.from_array(np.arange(60.0).reshape(6, 10), chunks=(4, 3)) * 2 + 1
    (persisted,) = taskloom.persist(x)
    assert spy == [threaded.get]
    assert type(persisted) is type(x)
    assert persisted.chunks == x.chunks and persisted.dtype == x.dtype
    assert _no_tasks_left(persisted)
    (dasks,) = dask.persist(x, scheduler="sync")
    assert set(dict(persisted.__dask_graph__())) == set(dict(dasks.__dask_graph__()))
    np.testing.assert_array_equal(persisted.compute(scheduler="sync"), x.compute(scheduler="sync"))
    np.testing.assert_array_equal(
        taskloom.compute(persisted[1:, ::2].sum(axis=0))[0],
        x[1:, ::2].sum(axis=0).compute(scheduler="sync"),
    )


@pytest.mark.filterwarnings("ignore:Computing mixed collections")
def test_persist_of_bag_dataframe_and_nested_arguments():
    bag = db.from_sequence(range(10), npartitions=3).map(lambda v: v * 2)
    frame = dd.from_pandas(pd.DataFrame({"a": range(10), "b": 1.0}), npartitions=3)
    x = da.arange(12, chunks=5)
    ours = taskloom.persist({"x": x, "rest": [bag, frame.a * 2]}, 3, scheduler="sync")
    theirs = dask.persist({"x": x, "rest": [bag, frame.a * 2]}, 3, scheduler="sync")
    assert type(ours) is type(theirs) and len(ours) == 2 and ours[1] == theirs[1] == 3
    for a, b in zip(
        [ours[0]["x"], *ours[0]["rest"]], [theirs[0]["x"], *theirs[0]["rest"]], strict=True
    ):
        assert type(a) is type(b)
        assert _no_tasks_left(a)
        (va,) = dask.compute(a, scheduler="sync")
        (vb,) = dask.compute(b, scheduler="sync")
        if isinstance(vb, pd.Series):
            pd.testing.assert_series_equal(va, vb)
        elif isinstance(vb, np.ndarray):
            np.testing.assert_array_equal(va, vb)
        else:
            assert va == vb


def _inc(v):
    return v + 1


def _sum_twice(p):
    return [sum(p), sum(p)]


def test_dask_dataframe_defaults_to_taskloom_threads(spy):
    frame = dd.from_pandas(pd.DataFrame({"a": range(10), "g": [0, 1] * 5}), npartitions=3)
    coll = frame.groupby("g").a.sum()
    (ours,) = taskloom.compute(coll)
    assert spy == [threaded.get]
    pd.testing.assert_series_equal(ours, coll.compute(scheduler="sync"))


def test_taskloom_and_dask_collections_together():
    x = da.arange(10, chunks=3)
    d = taskloom.delayed(sum)([1, 2, 3])
    for scheduler in (None, "sync", "threads"):
        ours = taskloom.compute(x.sum(), d, {"k": x[::3]}, scheduler=scheduler)
        assert ours[0] == x.sum().compute(scheduler="sync") and ours[1] == 6
        np.testing.assert_array_equal(ours[2]["k"], x[::3].compute(scheduler="sync"))


@pytest.mark.parametrize("path", ["dask.compute", "taskloom.compute"])
def test_bag_without_graph_optimization_matches_dask(path):
    bag = db.from_sequence(range(10), npartitions=2).map(_inc).map_partitions(_sum_twice)
    (theirs,) = dask.compute(bag, optimize_graph=False, scheduler="sync")
    if path == "dask.compute":
        (ours,) = dask.compute(bag, optimize_graph=False, scheduler=taskloom.get)
    else:
        (ours,) = taskloom.compute(bag, optimize_graph=False, scheduler="sync")
    assert ours == theirs


def test_bag_optimized_by_dask_beforehand_matches_dask():
    bag = db.from_sequence(range(10), npartitions=2).map(_inc).map_partitions(_sum_twice)
    (optimized,) = dask.optimize(bag)
    assert taskloom.compute(optimized, scheduler="sync") == dask.compute(
        optimized, scheduler="sync"
    )
    assert dask.compute(optimized, scheduler=taskloom.get) == dask.compute(
        optimized, scheduler="sync"
    )


def test_a_configured_bag_optimizer_still_runs():
    import dask.bag.core as bag_core

    calls = []

    def optimizer(dsk, keys, **kwargs):
        calls.append(keys)
        return bag_core.optimize(dsk, keys, **kwargs)

    bag = db.from_sequence(range(10), npartitions=2).map(_inc).map_partitions(_sum_twice)
    with dask.config.set(bag_optimize=optimizer):
        theirs = dask.compute(bag, scheduler="sync")
        n = len(calls)
        assert dask.compute(bag, scheduler=taskloom.get) == theirs
        assert len(calls) > n
        assert taskloom.compute(bag, scheduler="threads") == theirs


def _processes_cases():
    x = da.from_array(np.arange(40.0).reshape(5, 8), chunks=(2, 3))
    nums = db.from_sequence(range(30), npartitions=4)
    return {
        "array-map_blocks-kwargs": x.map_blocks(np.multiply, 3.0, dtype=float)[1:, ::2].sum(axis=0),
        "bag-foldby": nums.foldby(lambda v: v % 3, max),
        "bag-map-collection-kwarg": nums.map(lambda v, k: v * k, k=nums.count()),
        "delayed-collection-kwarg": dask.delayed(lambda a, *, b: float(a.sum()) + b)(
            x, b=nums.sum()
        ),
    }


@pytest.mark.parametrize("name", list(_processes_cases()))
def test_dask_collections_on_taskloom_processes(name):
    coll = _processes_cases()[name]
    (theirs,) = dask.compute(coll, scheduler="sync")
    (ours,) = dask.compute(coll, scheduler=multiprocessing.get)
    _same_exactly(ours, theirs)
    (ours,) = taskloom.compute(coll, scheduler="processes")
    _same_exactly(ours, theirs)


def test_taskloom_callbacks_see_dask_collections_tasks():
    from taskloom.callbacks import Callback

    seen = []
    x = da.arange(100, chunks=10).sum()
    with Callback(pretask=lambda key, dsk, state: seen.append(key)):
        taskloom.compute(x)
    assert seen


@pytest.mark.parametrize("path", ["taskloom.compute", "taskloom.persist", "dask.compute-get"])
def test_dask_callbacks_see_taskloom_compute_of_dask_collections(path):
    """Dask's own callbacks are active on taskloom's get. taskloom opens Dask's fused
    tasks, so it runs (and reports) at least as many tasks as Dask's scheduler."""
    from dask.callbacks import Callback as DaskCallback

    x = da.arange(100, chunks=10).sum()
    theirs, ours = [], []
    with DaskCallback(pretask=lambda key, dsk, state: theirs.append(key)):
        dask.compute(x)
    with DaskCallback(
        pretask=lambda key, dsk, state: ours.append(key),
        posttask=lambda key, result, dsk, state, worker: ours.remove(key),
    ):
        if path == "dask.compute-get":
            dask.compute(x, scheduler=taskloom.get)
        else:
            (taskloom.compute if path == "taskloom.compute" else taskloom.persist)(x)
        assert ours == []  # every task reported before was reported finished
    seen = []
    with DaskCallback(pretask=lambda key, dsk, state: seen.append(key)):
        (taskloom.compute if path != "taskloom.persist" else taskloom.persist)(x)
    assert len(seen) >= len(theirs) > 0


def test_dask_progress_bar_draws_on_taskloom():
    from dask.diagnostics import ProgressBar

    x = da.arange(1000, chunks=10).sum()
    out = io.StringIO()
    with ProgressBar(out=out, minimum=0, dt=0.001):
        (value,) = dask.compute(x, scheduler=taskloom.get)
    assert value == np.arange(1000).sum()
    assert "100% Completed" in out.getvalue()


class _TaskFailed(Exception):
    pass


def _fail_on_three(v):
    if v == 3:
        raise KeyError("boom")
    return v


def _fail_block(block):
    raise _TaskFailed("block")


@pytest.mark.parametrize("kind", ["bag", "array"])
@pytest.mark.parametrize("path", ["dask.compute-get", "taskloom.compute", "taskloom.persist"])
def test_a_failing_task_raises_dasks_exception_type(kind, path):
    if kind == "bag":
        coll = db.from_sequence(range(6), npartitions=2).map(_fail_on_three)
    else:
        coll = da.arange(6, chunks=2).map_blocks(_fail_block, dtype=float)
    with pytest.raises(Exception) as theirs:
        dask.compute(coll, scheduler="sync")
    run = {
        "dask.compute-get": lambda: dask.compute(coll, scheduler=taskloom.get),
        "taskloom.compute": lambda: taskloom.compute(coll, scheduler="threads"),
        "taskloom.persist": lambda: taskloom.persist(coll, scheduler="sync"),
    }[path]
    with pytest.raises(type(theirs.value)):
        run()
