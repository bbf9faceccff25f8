"""Dask's own collections on taskloom's schedulers, against Dask's threaded scheduler."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import taskloom

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
db = pytest.importorskip("dask.bag")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")

GETS = [taskloom.get, taskloom.get_sync]


def _collections():
    rng = da.random.default_rng(42)
    x = rng.random((60, 40), chunks=(7, 9))
    frame = pd.DataFrame({"g": np.arange(200) % 7, "v": np.arange(200.0), "w": 1.0})
    df = dd.from_pandas(frame, npartitions=5)
    bag = db.from_sequence(range(50), npartitions=6)
    return {
        "array-reduction": (x + x.T[:40, :60].T).mean(axis=0),
        "array-slice": x[3:50:2, ::3].sum(),
        "array-matmul": x.T @ x,
        "delayed": dask.delayed(sum)([dask.delayed(abs)(-i) for i in range(20)]),
        "bag": bag.map(lambda v: v * 3).filter(lambda v: v % 2).frequencies(),
        "bag-fold": bag.foldby(lambda v: v % 4, lambda a, b: a + b, 0),
        "dataframe-groupby": df.groupby("g").v.std(),
        "dataframe-filter": df[df.v > 50].w.sum(),
        "dataframe-assign": df.assign(z=df.v * 2).z.max(),
    }


def _same(a, b):
    if isinstance(a, pd.DataFrame | pd.Series):
        if isinstance(a, pd.Series):
            pd.testing.assert_series_equal(a.sort_index(), b.sort_index())
        else:
            pd.testing.assert_frame_equal(a.sort_index(), b.sort_index())
    elif isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b)
    elif isinstance(a, list):
        assert sorted(a) == sorted(b)
    else:
        assert a == pytest.approx(b)


@pytest.mark.parametrize("name", list(_collections()))
@pytest.mark.parametrize("get", GETS, ids=["threaded", "sync"])
def test_dask_compute_with_taskloom_scheduler(name, get):
    coll = _collections()[name]
    expected = coll.compute(scheduler="threads")
    _same(dask.compute(coll, scheduler=get)[0], expected)
    _same(coll.compute(scheduler=get), expected)


@pytest.mark.parametrize("name", list(_collections()))
def test_taskloom_compute_accepts_dask_collections(name):
    coll = _collections()[name]
    expected = coll.compute(scheduler="threads")
    (ours,) = taskloom.compute(coll)
    _same(ours, expected)


@pytest.mark.filterwarnings("ignore:Computing mixed collections")
def test_several_dask_collections_at_once():
    colls = _collections()
    names = ["array-slice", "delayed", "dataframe-filter"]
    ours = taskloom.compute(*[colls[n] for n in names], scheduler="sync")
    theirs = dask.compute(*[colls[n] for n in names], scheduler="threads")
    for a, b in zip(ours, theirs, strict=True):
        _same(a, b)


# --- every node type of dask._task_spec, against Dask's own sync scheduler (#13.3) ---

spec = pytest.importorskip("dask._task_spec")
dask_local = pytest.importorskip("dask.local")
ALL_GETS = [*GETS, taskloom.multiprocessing.get]


def _pair(*args):
    return args


def _node_graphs():
    """Small graphs, each using one kind of node the way Dask emits it."""
    T, R = spec.Task, spec.TaskRef
    inner = T("f1", operator.add, R("x"), 1)
    outer = T("f2", operator.mul, R("f1"), 10)
    return {
        "taskref-value": ({"x": spec.DataNode("x", 5), "y": R("x")}, "y"),
        "alias": ({"x": spec.DataNode("x", 5), "y": spec.Alias("y", "x")}, "y"),
        "ref-alias": ({"x": T("x", operator.neg, 3), "y": T("x", abs, -1).ref()}, ["y", "x"]),
        "datanode-tuple-task": ({"x": spec.DataNode("x", (operator.add, 1, 2))}, "x"),
        "datanode-key-string": ({"x": spec.DataNode("x", "y"), "y": 1}, "x"),
        "task-kwargs": ({"x": 2, "y": T("y", pow, R("x"), exp=R("x"))}, "y"),
        "nested-containers": (
            {
                "x": spec.DataNode("x", 2),
                "y": T(
                    "y",
                    _pair,
                    spec.List(R("x"), 1),
                    spec.Tuple(R("x"), spec.Set(R("x"), 7)),
                    spec.Dict({"k": R("x"), "v": spec.List(R("x"))}),
                    spec.DataNode(None, [1, 2]),
                    ("x", "literal tuple"),
                ),
            },
            "y",
        ),
        "container-value": ({"x": 1, "y": spec.List(R("x"), spec.Tuple(R("x")))}, "y"),
        "fused": ({"x": 4, "f2": spec.GraphNode.fuse(inner, outer)}, "f2"),
        "legacy-holding-nodes": (
            {
                "x": spec.DataNode("x", 3),
                "y": (operator.add, R("x"), 1),
                "z": [R("y"), "x", (inc, "y")],
            },
            ["z", "y"],
        ),
        "legacy-dict-arg": ({"c": R("d"), "d": 2, "a": (_pair, {"x": R("c")}, "c")}, "a"),
    }


def inc(x):
    return x + 1


@pytest.mark.parametrize("name", list(_node_graphs()))
@pytest.mark.parametrize("get", ALL_GETS, ids=["threaded", "sync", "processes"])
def test_task_spec_nodes_mean_what_they_mean_in_dask(name, get):
    dsk, keys = _node_graphs()[name]
    expected = dask_local.get_sync(dsk, keys)
    assert get(dsk, keys) == expected


@pytest.mark.parametrize("get", ALL_GETS, ids=["threaded", "sync", "processes"])
def test_missing_dependency_of_a_node_is_an_error_naming_it(get):
    for dsk in [
        {"a": spec.Task("a", operator.neg, spec.TaskRef("nowhere"))},
        {"a": spec.Alias("a", "nowhere")},
        {"a": spec.TaskRef("nowhere")},
    ]:
        with pytest.raises(ValueError, match="Missing dependency"):
            dask_local.get_sync(dsk, "a")
        with pytest.raises(ValueError, match="'a' depends on key 'nowhere'"):
            get(dsk, "a")
    # A known result stands in for the missing task.
    dsk = {"a": spec.Task("a", operator.neg, spec.TaskRef("b"))}
    assert get(dsk, "a", cache={"b": 3}) == -3


def _dask_computations():
    """Dask collections whose results Dask computes through graph nodes of every kind."""
    rng = np.random.default_rng(7)
    arr = da.from_array(rng.random((30, 20)), chunks=(7, 6))
    frame = pd.DataFrame({"g": np.arange(90) % 4, "v": rng.random(90)})
    df = dd.from_pandas(frame, npartitions=4)
    bag = db.from_sequence(range(40), npartitions=5)
    delayed = dask.delayed
    return {
        "delayed-array": delayed(arr),
        "delayed-array-call": delayed(np.sum)(arr),
        "delayed-dataframe": delayed(len)(df),
        "delayed-series-sum": delayed(lambda s: s * 2)(df.v.sum()),
        "delayed-bag": delayed(sorted)(bag.map(lambda v: v % 7)),
        "delayed-nested": delayed(_pair)([arr.sum(), {"n": bag.max()}], (bag.count(),)),
        "delayed-kwargs": delayed(lambda a=None, b=None: a + b)(a=arr.sum(), b=bag.sum()),
        "delayed-of-delayed": delayed(inc)(delayed(inc)(1)),
        "array-persisted": arr.persist(scheduler="sync").T.sum(axis=0),
        "dataframe-persisted": df.persist(scheduler="sync").groupby("g").v.mean(),
        "bag-persisted": bag.persist(scheduler="sync").fold(operator.add),
        "array-optimized": dask.optimize(arr[::2] * 2)[0].sum(axis=1),
        "dataframe-optimized": dask.optimize(df[df.v > 0.5])[0].g.value_counts(),
        "bag-to-delayed": delayed(sum)([delayed(sum)(p) for p in bag.to_delayed()]),
        "array-to-delayed": delayed(np.concatenate)(
            [b for row in arr.to_delayed() for b in row], axis=None
        ),
        "dataframe-to-delayed": delayed(pd.concat)(df.to_delayed()),
        "array-persisted-by-taskloom": arr.persist(scheduler=taskloom.get).T.sum(axis=0),
        "dataframe-persisted-by-taskloom": taskloom.persist(df)[0].groupby("g").v.sum(),
        "bag-persisted-by-taskloom": bag.persist(scheduler=taskloom.get_sync).count(),
        "delayed-persisted-by-taskloom": delayed(inc)(
            dask.persist(delayed(arr.sum()), scheduler=taskloom.get)[0]
        ),
    }


@pytest.mark.parametrize("name", list(_dask_computations()))
@pytest.mark.parametrize("get", GETS, ids=["threaded", "sync"])
def test_dask_computations_match_dasks_sync_scheduler(name, get):
    coll = _dask_computations()[name]
    expected = coll.compute(scheduler="sync")
    _same_nested(dask.compute(coll, scheduler=get)[0], expected)
    _same_nested(coll.compute(scheduler=get), expected)


def _same_nested(a, b):
    if isinstance(b, list | tuple) and not isinstance(b, str):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same_nested(x, y)
    elif isinstance(b, dict):
        assert a.keys() == b.keys()
        for k in b:
            _same_nested(a[k], b[k])
    else:
        _same(a, b)


def test_taskloom_delayed_built_from_a_dask_graph():
    from taskloom.delayed import Delayed

    d = dask.delayed(inc)(dask.delayed(abs)(-4))
    graph = dict(d.__dask_graph__())
    assert any(isinstance(v, spec.GraphNode) for v in graph.values())
    ours = Delayed(d.key, graph)
    assert ours.compute() == (ours + 1).compute() - 1 == d.compute(scheduler="sync") == 5
