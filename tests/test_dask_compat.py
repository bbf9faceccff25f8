"""Dask's own collections on taskloom's schedulers, against Dask's threaded scheduler."""

from __future__ import annotations

import operator
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize("get", GETS, ids=["threaded", "sync"])
@pytest.mark.parametrize("with_callback", [False, True])
def test_a_node_found_late_in_a_dict_of_tuples_is_lowered_before_any_task_runs(get, with_callback):
    # Without callbacks the native converter finds Dask's nodes as it reads the values
    # (no pass over them first): here only the last of 2,000 values is one.
    calls = []
    lock = threading.Lock()

    def count(x):
        with lock:
            calls.append(x)
        return x + 1

    dsk = {("t", i): (count, ("t", i - 1) if i else 0) for i in range(2000)}
    dsk["end"] = spec.Task("end", operator.neg, spec.TaskRef(("t", 1999)))
    dsk["alias"] = spec.Alias("alias", "end")
    expected = dask_local.get_sync(dict(dsk), ["alias", ("t", 5)])
    calls.clear()
    callbacks = [taskloom.callbacks.Callback(pretask=lambda *a: None)] if with_callback else None
    assert get(dsk, ["alias", ("t", 5)], callbacks=callbacks) == expected
    assert sorted(calls) == list(range(2000))  # each task ran once: none before the stop
    assert isinstance(dsk["end"], spec.Task)  # the user's graph is not changed


@pytest.mark.parametrize("get", GETS, ids=["threaded", "sync"])
def test_an_error_lowering_a_graph_is_not_chained_to_the_native_signal(get):
    with pytest.raises(ValueError, match="depends on key 'nowhere'") as info:
        get({"x": 1, "a": spec.Alias("a", "nowhere")}, "a")
    assert info.value.__context__ is None and info.value.__cause__ is None


@pytest.mark.parametrize("get", GETS, ids=["threaded", "sync"])
def test_a_cached_result_is_a_result_even_when_it_is_a_dask_node(get):
    ref = spec.TaskRef("elsewhere")
    dsk = {"a": (_pair, "b"), "b": (operator.neg, 1)}
    # (Dask's own get_sync raises KeyError on a cache here: its result is the reference.)
    assert get(dsk, "a", cache={"b": ref}) == _pair(ref)


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


# --- adversarial task-spec graphs, against dask.local.get_sync ------------------------
#
# Each graph below is built to trip one rule of the conversion in taskloom._dask_compat:
# literals that look like keys or tasks, references hidden in containers and keyword
# arguments, Task subclasses, and fused ``_execute_subgraph`` tasks in every shape
# Dask's fusion (or a hand-built graph) makes. Dask's own sync scheduler is the oracle.

_T, _R, _A, _D = spec.Task, spec.TaskRef, spec.Alias, spec.DataNode
_ES = spec._execute_subgraph
HANG_SECONDS = 120


def _ident(x):
    return x


def _pair_kw(*args, **kwargs):
    return (args, kwargs) if kwargs else args


class _Doubler(spec.Task):
    """A Task subclass with its own __call__: Dask calls the node itself."""

    def __call__(self, values=()):
        return 2 * super().__call__(values)


class _OwnNode(spec.GraphNode):
    """A GraphNode that is no Task at all, with one dependency."""

    __slots__ = ("dep",)

    def __init__(self, key, dep):
        self.key = key
        self.dep = dep
        self._dependencies = frozenset([dep])

    def __call__(self, values=()):
        return ("own", values[self.dep])


def _shared_inner():
    """One inner graph, as blockwise fusion shares it between the blocks' fused tasks."""
    return {
        "i1": _T("i1", operator.add, _R("in"), 1),
        "out": _T("out", operator.mul, _R("i1"), 3),
    }


def _adversarial_graphs():
    a = _T("a", operator.add, _R("x"), 1)
    b = _T("b", operator.mul, _R("a"), 2)
    c = _T("c", operator.neg, _R("b"))
    chain = _T.fuse(a, b, c)
    tree = _T.fuse(
        _T("a2", operator.add, _R("x"), 1),
        _T("b2", operator.add, _R("y"), 10),
        _T("c2", _pair_kw, _R("a2"), _R("b2")),
    )
    nested = _T.fuse(_T.fuse(a, b), c)
    shared = _shared_inner()
    dsk_x = {"x": 1}
    return {
        # literals equal to keys of the graph stay literals
        "str-literal-is-key": ({**dsk_x, "y": _T("y", _ident, "x")}, "y"),
        "int-literal-is-key": ({3: 1, "y": _T("y", _ident, 3)}, "y"),
        "float-literal-is-key": ({1.5: 10, "y": _T("y", _ident, 1.5)}, "y"),
        "bool-literal-equal-to-int-key": ({1: 5, "y": _T("y", _ident, True)}, "y"),
        "numpy-int-literal-equal-to-key": ({3: 1, "y": _T("y", _ident, np.int64(3))}, "y"),
        "bytes-literal-is-key": ({b"x": 1, "y": _T("y", _ident, b"x")}, "y"),
        "tuple-literal-is-key": ({("x", 0): 1, "y": _T("y", _ident, ("x", 0))}, "y"),
        "nested-tuple-literal-is-key": (
            {("a", (1, 2)): 5, "y": _T("y", _ident, ("a", (1, 2)))},
            "y",
        ),
        "empty-tuple-literal-is-key": ({(): 1, "y": _T("y", _ident, ())}, "y"),
        "literal-tuple-starting-with-callable": (
            {**dsk_x, "y": _T("y", _ident, (operator.add, "x", 2))},
            "y",
        ),
        "literal-list-of-keys-and-tasks": (
            {**dsk_x, "y": _T("y", _ident, ["x", ("x",), [operator.neg, "x"]])},
            "y",
        ),
        "literal-set-and-frozenset-of-keys": (
            {**dsk_x, "y": _T("y", _pair_kw, {"x"}, frozenset(["x"]))},
            "y",
        ),
        "literal-dict-with-key-values": ({**dsk_x, "y": _T("y", _ident, {"x": "x"})}, "y"),
        "literal-dict-holding-a-raw-taskref": (
            {**dsk_x, "y": _T("y", _ident, {"k": _R("x")})},
            "y",
        ),
        "literal-numpy-array-of-key-names": (
            {**dsk_x, "y": _T("y", list, np.array(["x", "y"]))},
            "y",
        ),
        "literal-none-slice-range": (
            {"y": _T("y", _pair_kw, None, slice(1, "x"), range(3))},
            "y",
        ),
        # nested nodes in arguments
        "nested-task-arguments": (
            {**dsk_x, "y": _T("y", _pair_kw, _T(None, operator.neg, _T(None, abs, _R("x"))))},
            "y",
        ),
        "alias-nested-in-argument": ({**dsk_x, "y": _T("y", _pair_kw, _A("x"), "x")}, "y"),
        "datanode-nested-holding-a-task-tuple": (
            {**dsk_x, "y": _T("y", _ident, _D(None, (operator.add, "x", 1)))},
            "y",
        ),
        "datanode-nested-holding-a-list-of-keys": (
            {**dsk_x, "y": _T("y", _ident, _D(None, ["x", ("x", 0)]))},
            "y",
        ),
        "datanode-top-holding-a-key-name": ({**dsk_x, "y": _D("y", "x")}, "y"),
        "datanode-top-holding-a-task-tuple": (
            {**dsk_x, "y": _D("y", (operator.neg, "x"))},
            "y",
        ),
        "alias-chain": ({**dsk_x, "a": _A("a", "x"), "y": _A("y", "a")}, "y"),
        "taskref-chain-at-top": ({**dsk_x, "y": _R("x"), "z": _R("y")}, "z"),
        # keyword arguments
        "kwargs-literal-key-and-task-tuple": (
            {**dsk_x, "y": _T("y", _pair_kw, 1, k="x", t=(operator.neg, "x"))},
            "y",
        ),
        "kwargs-taskref-and-literal": (
            {**dsk_x, "y": _T("y", _pair_kw, _R("x"), k=_R("x"), j="x")},
            "y",
        ),
        "kwargs-nested-task": (
            {**dsk_x, "y": _T("y", _pair_kw, k=_T(None, operator.neg, _R("x")))},
            "y",
        ),
        "kwargs-named-like-the-wrappers": (
            {**dsk_x, "y": _T("y", _pair_kw, func=_R("x"), names="x", values=(1,))},
            "y",
        ),
        "kwargs-containers-of-refs": (
            {
                **dsk_x,
                "y": _T("y", _pair_kw, d=spec.Dict({"x": _R("x")}), s=spec.List(_R("x"), "x")),
            },
            "y",
        ),
        # containers holding references
        "list-tuple-set-containers": (
            {
                **dsk_x,
                "y": _T(
                    "y",
                    _pair_kw,
                    spec.List(spec.List(_R("x"), "x"), spec.Tuple()),
                    spec.Tuple(_R("x"), ("x", 1), spec.Set(_R("x"), "x", 2)),
                ),
            },
            "y",
        ),
        "dict-with-string-keys-equal-to-graph-keys": (
            {**dsk_x, "y": spec.Dict({"x": _R("x"), "y": "x", ("x",): spec.List(_R("x"))})},
            "y",
        ),
        "dict-with-tuple-keys": (
            {("a", 1): 1, "y": _T("y", _ident, spec.Dict({("a", 1): _R(("a", 1))}))},
            "y",
        ),
        "set-at-top": ({**dsk_x, "y": spec.Set(_R("x"), "x", 2)}, "y"),
        # Task subclasses that run themselves
        "task-subclass-call": ({"x": 2, "y": _Doubler("y", operator.add, _R("x"), 1)}, "y"),
        "task-subclass-call-nested": (
            {"x": 2, "y": _T("y", _ident, _Doubler(None, operator.add, _R("x"), 1))},
            "y",
        ),
        "graphnode-subclass": ({"x": 2, "y": _OwnNode("y", "x")}, "y"),
        "graphnode-subclass-nested": ({"x": 2, "y": _T("y", _pair_kw, _OwnNode(None, "x"))}, "y"),
        # fused tasks
        "fuse-chain": ({**dsk_x, "c": chain}, "c"),
        "fuse-chain-renamed": ({**dsk_x, "zzz": _T.fuse(a, b, c, key="zzz")}, "zzz"),
        "fuse-tree": ({"x": 1, "y": 2, "c2": tree}, "c2"),
        "fuse-nested": ({**dsk_x, "c": nested}, "c"),
        "fused-as-an-argument": ({**dsk_x, "y": _T("y", _pair_kw, chain)}, "y"),
        "fused-shared-inner-dict": (
            {
                "p": 1,
                "q": 5,
                "o1": _T("o1", _ES, shared, "out", ("in",), _R("p")),
                "o2": _T("o2", _ES, shared, "out", ("in",), _R("q")),
                "s": _T("s", _pair_kw, _R("o1"), _R("o2")),
            },
            "s",
        ),
        "fused-nested-sharing-inner-dicts": (
            {
                "p": 1,
                "q": 2,
                **{
                    o: _T(
                        o,
                        _ES,
                        {
                            "m": _T("m", _ES, shared, "out", ("in",), _R("i")),
                            "r": _T("r", _pair_kw, _R("m")),
                        },
                        "r",
                        ("i",),
                        _R(dep),
                    )
                    for o, dep in [("o1", "p"), ("o2", "q")]
                },
                "s": _T("s", _pair_kw, _R("o1"), _R("o2")),
            },
            "s",
        ),
        "fused-nested-same-inner-names": (
            {
                "p": 1,
                "o": _T(
                    "o",
                    _ES,
                    {
                        "out": _T(
                            "out",
                            _ES,
                            {"out": _T("out", operator.neg, _R("in"))},
                            "out",
                            ("in",),
                            _R("in"),
                        )
                    },
                    "out",
                    ("in",),
                    _R("p"),
                ),
            },
            "o",
        ),
        "fused-input-int-literal": ({"o": _T("o", _ES, shared, "out", ("in",), 7)}, "o"),
        "fused-input-str-literal-is-key": (
            {
                **dsk_x,
                "o": _T("o", _ES, {"out": _T("out", _pair_kw, _R("in"))}, "out", ("in",), "x"),
            },
            "o",
        ),
        "fused-input-task-tuple-literal": (
            {
                **dsk_x,
                "o": _T(
                    "o",
                    _ES,
                    {"out": _T("out", _pair_kw, _R("in"))},
                    "out",
                    ("in",),
                    (operator.neg, "x"),
                ),
            },
            "o",
        ),
        "fused-input-datanode": ({"o": _T("o", _ES, shared, "out", ("in",), _D(None, 4))}, "o"),
        "fused-input-task": (
            {"x": 3, "o": _T("o", _ES, shared, "out", ("in",), _T(None, operator.neg, _R("x")))},
            "o",
        ),
        "fused-input-alias": ({"x": 3, "o": _T("o", _ES, shared, "out", ("in",), _A("x"))}, "o"),
        "fused-inkeys-list": ({"x": 3, "o": _T("o", _ES, shared, "out", ["in"], _R("x"))}, "o"),
        "fused-two-inputs-same-dep": (
            {
                "x": 3,
                "o": _T(
                    "o",
                    _ES,
                    {"out": _T("out", _pair_kw, _R("i"), _R("j"))},
                    "out",
                    ("i", "j"),
                    _R("x"),
                    _R("x"),
                ),
            },
            "o",
        ),
        "fused-outkey-is-input": (
            {"x": 3, "o": _T("o", _ES, shared, "in", ("in",), _R("x"))},
            "o",
        ),
        "fused-outkey-is-input-shadowing-inner-task": (
            {
                "x": 3,
                "o": _T("o", _ES, {"in": _T("in", operator.neg, 100)}, "in", ("in",), _R("x")),
            },
            "o",
        ),
        "fused-inner-names-collide-with-outer-keys": (
            {
                "i1": 1000,
                "out": 2000,
                "p": 1,
                "o": _T("o", _ES, shared, "out", ("in",), _R("p")),
                "s": _T("s", _pair_kw, _R("o"), _R("i1"), _R("out")),
            },
            "s",
        ),
        "fused-chain-names-collide-with-outer-keys": (
            {
                **dsk_x,
                "a": 500,
                "b": 600,
                "c": chain,
                "s": _T("s", _pair_kw, _R("a"), _R("b"), _R("c")),
            },
            "s",
        ),
        "fused-input-name-is-outer-key": (
            {
                "x": 3,
                "in": 99,
                "o": _T("o", _ES, shared, "out", ("in",), _R("x")),
                "s": _T("s", _pair_kw, _R("o"), _R("in")),
            },
            "s",
        ),
        "fused-int-keys": (
            {0: 1, 5: _T(5, _ES, {7: _T(7, operator.neg, _R(0))}, 7, (0,), _R(0))},
            5,
        ),
        "fused-tuple-keys": (
            {
                ("x", 0): 1,
                ("y", 0): _T(
                    ("y", 0),
                    _ES,
                    {
                        ("y", 0): _T(("y", 0), operator.neg, _R(("t", 0))),
                        ("t", 0): _T(("t", 0), operator.add, _R(("x", 0)), 1),
                    },
                    ("y", 0),
                    (("x", 0),),
                    _R(("x", 0)),
                ),
            },
            ("y", 0),
        ),
        "fused-inner-alias-datanode-literals": (
            {
                **dsk_x,
                "o": _T(
                    "o",
                    _ES,
                    {
                        "d": _D("d", "in"),
                        "al": _A("al", "in"),
                        "out": _T("out", _pair_kw, _R("d"), _R("al"), "in", "x"),
                    },
                    "out",
                    ("in",),
                    _R("x"),
                ),
            },
            "o",
        ),
        "fused-inner-subclasses": (
            {
                **dsk_x,
                "o": _T(
                    "o",
                    _ES,
                    {
                        "g": _OwnNode("g", "in"),
                        "out": _Doubler("out", _pair_kw, _R("g")),
                    },
                    "out",
                    ("in",),
                    _R("x"),
                ),
            },
            "o",
        ),
        "fused-inner-kwargs-ref": (
            {
                **dsk_x,
                "o": _T("o", _ES, {"out": _T("out", dict, a=_R("in"))}, "out", ("in",), _R("x")),
            },
            "o",
        ),
        "fused-with-extra-dependency-not-opened": (
            {
                **dsk_x,
                "o": _T(
                    "o",
                    _ES,
                    {"out": _T("out", _pair_kw, _R("in"))},
                    "out",
                    ("in",),
                    _R("x"),
                    _R("x"),
                ),
            },
            "o",
        ),
        # keys of every type
        "int-float-keys": (
            {1: 10, 2: _T(2, operator.add, _R(1), 1), 2.5: _T(2.5, _ident, 1)},
            [2, 2.5],
        ),
        "nested-tuple-keys": (
            {("a", (1, 2)): 5, ("b", (0,)): _T(("b", (0,)), _ident, _R(("a", (1, 2))))},
            [("b", (0,)), ("a", (1, 2))],
        ),
        # legacy tasks mixed with nodes
        "legacy-tuple-literal-naming-a-node": ({"a": _D("a", 1), "b": (1, "a")}, "b"),
        "legacy-list-naming-a-node": ({"a": _D("a", 1), "b": [1, "a"]}, "b"),
        "legacy-dict-arg-naming-a-node": ({"a": _D("a", 1), "b": (_ident, {"k": "a"})}, "b"),
        "legacy-alias-to-a-node": ({"a": _D("a", 1), "b": "a"}, "b"),
    }


def _outcome(func, *args, **kwargs):
    """("ok", value) or ("raises", exception type), with a hang reported as a failure."""
    box = []

    def target():
        try:
            box.append(("ok", func(*args, **kwargs)))
        except BaseException as exc:
            box.append(("raises", type(exc)))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_SECONDS)
    assert not thread.is_alive(), f"{func!r} hung for {HANG_SECONDS} s"
    return box[0]


def _assert_same_outcome(ours, theirs):
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == "raises":
        # a subclass of Dask's exception (taskloom.CycleError is a RuntimeError)
        assert issubclass(ours[1], theirs[1]), (ours, theirs)
    else:
        _same_exactly(ours[1], theirs[1])


def _same_exactly(a, b):
    """Equal values of the same types, all the way down (numpy arrays by content)."""
    assert type(a) is type(b), (a, b)
    if isinstance(b, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(b, pd.DataFrame | pd.Series | pd.Index):
        assert a.equals(b)
    elif isinstance(b, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same_exactly(x, y)
    elif isinstance(b, dict):
        assert list(a) == list(b)
        for k in b:
            _same_exactly(a[k], b[k])
    else:
        assert a == b or (a != a and b != b)


@pytest.mark.parametrize("name", list(_adversarial_graphs()))
@pytest.mark.parametrize("get", GETS, ids=["get", "get_sync"])
def test_adversarial_task_spec_graphs(name, get):
    dsk, keys = _adversarial_graphs()[name]
    theirs = _outcome(dask_local.get_sync, dsk, keys)
    assert theirs[0] == "ok", "the case should be a graph Dask runs"
    _assert_same_outcome(_outcome(get, dsk, keys), theirs)


@pytest.mark.parametrize(
    "name",
    [
        "fuse-chain",
        "fused-shared-inner-dict",
        "fused-inner-names-collide-with-outer-keys",
        "kwargs-taskref-and-literal",
        "literal-tuple-starting-with-callable",
        "task-subclass-call",
    ],
)
def test_adversarial_task_spec_graphs_on_processes(name):
    dsk, keys = _adversarial_graphs()[name]
    _assert_same_outcome(
        _outcome(taskloom.multiprocessing.get, dsk, keys), _outcome(dask_local.get_sync, dsk, keys)
    )


def _missing_dependency_graphs():
    inner = _shared_inner()
    return {
        "kwarg": ({"a": _T("a", _pair_kw, k=_R("nowhere"))}, "a", "nowhere"),
        "list-node": ({"a": spec.List(_R("nowhere"))}, "a", "nowhere"),
        "dict-node": ({"a": _T("a", _pair_kw, spec.Dict({"k": _R("nowhere")}))}, "a", "nowhere"),
        "nested-task": (
            {"a": _T("a", _pair_kw, _T(None, operator.neg, _R("nowhere")))},
            "a",
            "nowhere",
        ),
        "alias-in-argument": ({"a": _T("a", _pair_kw, _A("nowhere"))}, "a", "nowhere"),
        "fused-input": ({"a": _T("a", _ES, inner, "out", ("in",), _R("nowhere"))}, "a", "nowhere"),
        "legacy-holding-node": (
            {"x": _D("x", 1), "a": (operator.neg, _R("nowhere"))},
            "a",
            "nowhere",
        ),
        "int-keys": ({0: _T(0, operator.neg, _R(1))}, 0, 1),
        "tuple-keys": ({("a", 0): _T(("a", 0), operator.neg, _R(("b", 1)))}, ("a", 0), ("b", 1)),
    }


@pytest.mark.parametrize("name", list(_missing_dependency_graphs()))
@pytest.mark.parametrize("get", GETS, ids=["get", "get_sync"])
def test_missing_dependency_is_a_value_error_naming_both_keys(name, get):
    dsk, key, dep = _missing_dependency_graphs()[name]
    with pytest.raises(ValueError, match="Missing dependency"):
        dask_local.get_sync(dsk, key)
    with pytest.raises(ValueError) as info:
        _outcome_raising(get, dsk, key)
    assert repr(key) in str(info.value) and repr(dep) in str(info.value)


def _outcome_raising(func, *args, **kwargs):
    """``func(*args)`` in a thread with a join timeout, re-raising its exception."""
    box = []

    def target():
        try:
            box.append((True, func(*args, **kwargs)))
        except BaseException as exc:
            box.append((False, exc))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_SECONDS)
    assert not thread.is_alive(), f"{func!r} hung for {HANG_SECONDS} s"
    ok, value = box[0]
    if not ok:
        raise value
    return value


@pytest.mark.parametrize("get", GETS, ids=["get", "get_sync"])
@pytest.mark.parametrize(
    "case",
    ["plain", "fused-input", "kwarg", "alias", "tuple-key", "inner-name-in-cache"],
)
def test_cache_provides_a_dependency(get, case):
    inner = _shared_inner()
    dsk, cache, key = {
        "plain": ({"a": _T("a", operator.neg, _R("b"))}, {"b": 3}, "a"),
        "fused-input": ({"a": _T("a", _ES, inner, "out", ("in",), _R("b"))}, {"b": 3}, "a"),
        "kwarg": ({"a": _T("a", _pair_kw, k=_R("b"))}, {"b": 3}, "a"),
        "alias": ({"a": _A("a", "b")}, {"b": 3}, "a"),
        "tuple-key": ({"a": _T("a", operator.neg, _R(("b", 0)))}, {("b", 0): 3}, "a"),
        # the cache holds a key named like an inner task of the fused task
        "inner-name-in-cache": (
            {"a": _T("a", _ES, inner, "out", ("in",), _R("b"))},
            {"b": 3, "i1": 1000},
            "a",
        ),
    }[case]
    theirs = _outcome(dask_local.get_sync, dsk, key, cache=dict(cache))
    assert theirs[0] == "ok"
    _assert_same_outcome(_outcome(get, dsk, key, cache=dict(cache)), theirs)


@pytest.mark.parametrize("get", GETS, ids=["get", "get_sync"])
def test_fused_inner_task_may_not_reach_outer_keys(get):
    """Inside ``_execute_subgraph`` only the subgraph's tasks and inputs resolve."""
    dsk = {
        "x": 1,
        "z": 100,
        "o": _T(
            "o", _ES, {"out": _T("out", operator.add, _R("in"), _R("z"))}, "out", ("in",), _R("x")
        ),
    }
    theirs = _outcome(dask_local.get_sync, dsk, "o")
    assert theirs == ("raises", RuntimeError)
    _assert_same_outcome(_outcome(get, dsk, "o"), theirs)
    with pytest.raises(RuntimeError, match=r"'o'.*'z'"):
        _outcome_raising(get, dsk, "o")


@pytest.mark.parametrize("get", GETS, ids=["get", "get_sync"])
def test_fused_inner_missing_dependency_exception_type(get):
    dsk = {
        "x": 1,
        "o": _T("o", _ES, {"out": _T("out", operator.neg, _R("ghost"))}, "out", ("in",), _R("x")),
    }
    theirs = _outcome(dask_local.get_sync, dsk, "o")
    assert theirs == ("raises", RuntimeError)
    _assert_same_outcome(_outcome(get, dsk, "o"), theirs)
    with pytest.raises(RuntimeError, match=r"'o'.*'ghost'"):
        _outcome_raising(get, dsk, "o")


def test_fuse_linear_task_spec_graph_runs_as_in_dask():
    """Dask's own linear fusion of a task-spec graph (fused key renamed, an Alias left
    under the old key), then every get."""
    dsk = {
        "x": _D("x", 2),
        "a": _T("a", operator.add, _R("x"), 1),
        "b": _T("b", _pair_kw, _R("a"), "a", k=_R("x")),
        "c": _T("c", _pair_kw, spec.List(_R("b"), "a", "x")),
        "d": _T("d", _pair_kw, _R("c"), "c", ("c",)),
        "e": _T("e", _pair_kw, _R("d"), k="e"),
    }
    fused = spec.fuse_linear_task_spec(dict(dsk), ["e"])
    assert any(getattr(v, "func", None) is _ES for v in fused.values())
    assert isinstance(fused["e"], spec.Alias)
    expected = dask_local.get_sync(fused, "e")
    assert expected == dask_local.get_sync(dsk, "e")
    for get in ALL_GETS:
        assert _outcome(get, fused, "e") == ("ok", expected)
        assert _outcome(get, fused, ["e", "a"]) == ("ok", dask_local.get_sync(fused, ["e", "a"]))


# --- Dask collections, against dask.compute(..., scheduler="sync") --------------------


def _kw_block(block, k=1, s="x"):
    return block * k if s == "x" else None


def _three(a, b, c):
    return a + b * c[:, None]


def _inc(v):
    return v + 1


def _collection_cases():
    rng = np.random.default_rng(3)
    xn = rng.random((23, 17))
    x = da.from_array(xn, chunks=(5, 4))
    nums = db.from_sequence(range(60), npartitions=7)
    mixed = db.from_sequence([*range(30), "a", "b", "a", (1, 2), (1, 2)], npartitions=4)
    frame = pd.DataFrame(
        {
            "g": np.arange(100) % 6,
            "v": rng.random(100),
            "w": np.arange(100),
            "s": [str(i % 3) for i in range(100)],
        }
    )
    df = dd.from_pandas(frame, npartitions=5)
    delayed = dask.delayed
    return {
        "array-slice-of-slice": x[5:][2:6],
        "array-slices-fused-deeply": x[::2][1:, ::3][2:, 1:],
        "array-int-and-fancy-index": x[[1, 5, 3]][:, [0, 2]] + x[3][:2],
        "array-rechunk": x.rechunk((7, 3)),
        "array-rechunk-dict": x.rechunk({0: -1, 1: 5}).T,
        "array-sum-split-every": x.sum(axis=0, split_every=2),
        "array-mean-split-every-dict": x.mean(split_every={0: 2, 1: 3}),
        "array-argmax-split-every": x.argmax(axis=1, split_every=2),
        "array-std-cumsum": x.std(axis=1) + x.cumsum(axis=0)[-1, :1],
        "array-map_blocks-kwargs": x.map_blocks(_kw_block, k=3, s="x", dtype=float),
        "array-map_blocks-two-arrays": x.map_blocks(operator.add, x.T.T, dtype=float),
        "array-blockwise-three-inputs": da.blockwise(
            _three,
            "ij",
            x,
            "ij",
            x + 1,
            "ij",
            x[:, :2].rechunk((5, 2)).sum(axis=1),
            "i",
            dtype=float,
        ),
        "array-tensordot": da.tensordot(x, x, axes=(0, 0)),
        "array-nanmean-where": da.nanmean(da.where(x > 0.5, x, np.nan), axis=0),
        "array-concatenate-stack": da.stack([da.concatenate([x, x[:, :3]], axis=1)] * 2),
        "array-topk-unique": da.concatenate(
            [da.topk(x.ravel(), 5), da.unique((x * 5).astype(int))]
        ),
        "array-from-delayed": da.from_delayed(delayed(np.ones)(3), shape=(3,), dtype=float)
        + x[0, :3],
        "array-persisted-then-sliced": x.persist(scheduler="sync")[1:4].sum(),
        "bag-foldby-combine": nums.foldby(lambda v: v % 5, operator.add, 0, operator.add, 0),
        "bag-foldby-no-initial": nums.foldby(lambda v: v % 5, max),
        "bag-frequencies": mixed.frequencies(sort=True),
        "bag-distinct": mixed.distinct(),
        "bag-map_partitions-kwargs": nums.map_partitions(lambda p, k=0: [sum(p) + k], k=7),
        "bag-map_partitions-collection-kwarg": nums.map_partitions(
            lambda p, other=None: [len(p), other], other=nums.sum()
        ),
        "bag-map-collection-kwarg": nums.map(lambda v, k: v * k, k=nums.count()),
        "bag-pluck-flatten": db.from_sequence(
            [{"a": i, "b": [i, "a"]} for i in range(10)], npartitions=3
        )
        .pluck("b")
        .flatten(),
        "bag-reduction-split-every": nums.reduction(sum, max, split_every=2),
        "bag-topk-key": nums.topk(4, key=lambda v: -v),
        "bag-product": db.from_sequence([1, 2], npartitions=2).product(
            db.from_sequence("ab", npartitions=1)
        ),
        "bag-join": nums.join([0, 1, 5], on_self=lambda v: v % 7, on_other=lambda v: v),
        "bag-accumulate": nums.accumulate(operator.add),
        "bag-repartition": nums.repartition(3).map_partitions(lambda p: [len(list(p))]),
        "bag-to-dataframe": nums.map(lambda v: {"v": v})
        .to_dataframe(meta=pd.DataFrame({"v": pd.Series(dtype="int64")}))
        .v.sum(),
        "dataframe-groupby-agg": df.groupby("g").agg({"v": ["sum", "max"], "w": "mean"}),
        "dataframe-groupby-apply": df.groupby("g").w.apply(
            lambda s: s.max() - s.min(), meta=("w", "int64")
        ),
        "dataframe-column-projection": df[["v", "g"]].v.sum(),
        "dataframe-filter-projection": df[df.g > 2][["w"]],
        "dataframe-value-counts-nunique": df.s.value_counts(),
        "dataframe-rolling": df.v.rolling(3).mean(),
        "dataframe-sort-values": df.sort_values("v"),
        "dataframe-describe": df[["v", "w"]].describe(),
        "dataframe-persisted-groupby": df.persist(scheduler="sync").groupby("s").v.sum(),
        "dataframe-known-categories": df.assign(s=df.s.astype("category"))
        .s.cat.as_known()
        .cat.categories,
        "to_delayed-array": delayed(sum)([delayed(np.sum)(b) for b in x.to_delayed().ravel()]),
        "to_delayed-bag": [delayed(len)(p) for p in nums.to_delayed()],
        "to_delayed-dataframe": delayed(lambda *ps: sum(len(p) for p in ps))(*df.v.to_delayed()),
        "delayed-nested-collections": delayed(lambda d: (d["a"].shape, d["b"][0], len(d["b"][1])))(
            {"a": x, "b": (nums.sum(), [x.sum(), x[0]])}
        ),
        "delayed-collection-kwarg": delayed(lambda a, *, b: a.sum() + b)(x, b=nums.sum()),
        "delayed-set-of-collections": delayed(sorted)({nums.sum(), nums.count()}),
        "delayed-literal-equal-to-a-key-name": delayed(_pair_kw)(x.name, (x.name, 0), [x.name]),
        "delayed-pure-shared": delayed(operator.add, pure=True)(
            delayed(abs, pure=True)(-3), delayed(abs, pure=True)(-3)
        ),
    }


# A hash shuffle on disk (partd) concatenates the pieces of a partition in the order the
# tasks ran, so row and group order follow the scheduler's order: compared unordered.
def _shuffle_cases():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"g": np.arange(100) % 6, "v": rng.random(100), "w": np.arange(100)})
    df = dd.from_pandas(frame, npartitions=5)
    right = dd.from_pandas(pd.DataFrame({"g": range(6), "name": list("abcdef")}), npartitions=2)
    nums = db.from_sequence(range(60), npartitions=7)
    return {
        "dataframe-merge": df.merge(right, on="g"),
        "dataframe-join-on-index": df.set_index("w").join(right.set_index("g"), on="g"),
        "dataframe-shuffle": df.shuffle("g"),
        "dataframe-drop-duplicates": df[["g"]].drop_duplicates(),
        "bag-groupby": nums.groupby(lambda v: v % 4).map(lambda kv: (kv[0], sorted(kv[1]))),
    }


def _unordered(value):
    if isinstance(value, pd.DataFrame):
        # A merge's unnamed index counts rows within a partition: it follows the order.
        value = value.reset_index(drop=value.index.name is None)
        return value.sort_values(list(value.columns)).sort_index(axis=1)
    return sorted(value)


@pytest.mark.parametrize("name", list(_collection_cases()))
@pytest.mark.parametrize("path", ["dask.compute-get", "dask.compute-get_sync", "taskloom.compute"])
def test_dask_collections_match_dask_sync(name, path):
    coll = _collection_cases()[name]
    (theirs,) = dask.compute(coll, scheduler="sync")
    run = {
        "dask.compute-get": lambda: dask.compute(coll, scheduler=taskloom.get)[0],
        "dask.compute-get_sync": lambda: dask.compute(coll, scheduler=taskloom.get_sync)[0],
        "taskloom.compute": lambda: taskloom.compute(coll, scheduler="threads")[0],
    }[path]
    _same_exactly(_outcome_raising(run), theirs)


@pytest.mark.parametrize("name", list(_shuffle_cases()))
@pytest.mark.parametrize("get", GETS, ids=["get", "get_sync"])
def test_dask_shuffles_match_dask_sync_up_to_order(name, get):
    coll = _shuffle_cases()[name]
    (theirs,) = dask.compute(coll, scheduler="sync")
    ours = _outcome_raising(lambda: dask.compute(coll, scheduler=get)[0])
    theirs, ours = _unordered(theirs), _unordered(ours)
    if isinstance(theirs, pd.DataFrame):
        pd.testing.assert_frame_equal(ours.reset_index(drop=True), theirs.reset_index(drop=True))
    else:
        assert ours == theirs


@pytest.mark.parametrize("get", GETS, ids=["get", "get_sync"])
def test_da_store_to_numpy_target(get):
    x = da.from_array(np.arange(60.0).reshape(6, 10), chunks=(4, 3)) * 2 + 1
    theirs = np.zeros((6, 10))
    da.store(x, theirs, scheduler="sync")
    ours = np.zeros((6, 10))
    da.store(x, ours, scheduler=get)
    np.testing.assert_array_equal(ours, theirs)
    lazy = np.zeros((6, 10))
    taskloom.compute(da.store(x, lazy, compute=False), scheduler="threads")
    np.testing.assert_array_equal(lazy, theirs)
    returned = np.zeros((6, 10))
    stored = da.store(x, returned, return_stored=True, compute=False, lock=False)
    (value,) = taskloom.compute(stored, scheduler="sync")
    np.testing.assert_array_equal(value, theirs)
    np.testing.assert_array_equal(returned, theirs)


# Dask's bag optimizer, which taskloom does its own way, fuses map chains and removes
# their ``reify`` calls: a partition reaches ``map_partitions`` as a one-shot iterator
# (reading it twice gives nothing the second time), and elements stream through the
# chain one at a time. taskloom must give the same answers.
@pytest.mark.parametrize("path", ["dask.compute-get", "taskloom.compute", "processes"])
def test_bag_partition_after_map_streams_as_in_dask(path):
    bag = db.from_sequence(list(range(10)), npartitions=2).map(_inc)
    coll = bag.map_partitions(lambda p: [sum(p), sum(p)])
    (theirs,) = dask.compute(coll, scheduler="sync")
    if path == "dask.compute-get":
        (ours,) = dask.compute(coll, scheduler=taskloom.get)
    elif path == "processes":
        (ours,) = dask.compute(coll, scheduler=taskloom.multiprocessing.get)
    else:
        (ours,) = taskloom.compute(coll, scheduler="sync")
    assert ours == theirs


def test_bag_chain_does_not_hold_elements_between_steps():
    """Each element of a fused map chain is released before the next is made (Dask's
    test_map_releases_element_references_as_soon_as_possible, on every taskloom get)."""
    import gc
    import weakref

    class Box:
        pass

    alive = weakref.WeakSet()

    def make(i):
        assert not alive, "an element of the previous step is still referenced"
        box = Box()
        alive.add(box)
        return box

    def drop(box):
        return 1

    bag = db.from_sequence(range(3), npartitions=1).map(make).map(drop).map(make).map(drop)
    for get in ("sync", taskloom.get, taskloom.get_sync):  # Dask's own first
        gc.disable()
        try:
            assert dask.compute(bag.sum(), scheduler=get) == (3,)
        finally:
            gc.enable()


_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def _arrays(draw):
    shape = tuple(draw(st.lists(st.integers(1, 12), min_size=1, max_size=3)))
    chunks = tuple(draw(st.integers(1, n)) for n in shape)
    return da.from_array(np.arange(np.prod(shape), dtype=float).reshape(shape), chunks=chunks)


@st.composite
def _slices(draw, n):
    start = draw(st.integers(-n, n))
    stop = draw(st.integers(-n, n) | st.none())
    step = draw(st.sampled_from([None, 1, 2, 3, -1, -2]))
    return slice(start, stop, step)


@_SETTINGS
@given(data=st.data())
def test_hypothesis_array_slicing_rechunk_reduction(data):
    x = data.draw(_arrays())
    y = x
    for _ in range(data.draw(st.integers(1, 3))):
        y = y[tuple(data.draw(_slices(n)) for n in y.shape)]
    if 0 not in y.shape:
        y = y.rechunk(tuple(data.draw(st.integers(1, n)) for n in y.shape))
    axis = data.draw(st.sampled_from([None, *range(y.ndim)]))
    split_every = data.draw(st.sampled_from([None, 2, 3]))
    z = (y * 2 + 1).sum(axis=axis, split_every=split_every)
    for coll in (y, z):
        (theirs,) = dask.compute(coll, scheduler="sync")
        (ours,) = dask.compute(coll, scheduler=taskloom.get)
        _same_exactly(ours, theirs)
        _same_exactly(taskloom.compute(coll, scheduler="sync")[0], theirs)


@_SETTINGS
@given(
    values=st.lists(st.integers(-5, 5) | st.text("ab", max_size=2), max_size=40),
    npartitions=st.integers(1, 6),
)
def test_hypothesis_bag_frequencies_distinct_foldby(values, npartitions):
    bag = db.from_sequence(values, npartitions=npartitions)
    colls = (
        bag.frequencies(sort=True),
        bag.distinct(),
        bag.foldby(lambda v: type(v).__name__, lambda acc, v: acc + 1, 0, operator.add, 0),
        bag.map_partitions(lambda p, k=0: [len(p) + k], k=1),
    )
    theirs = dask.compute(*colls, scheduler="sync")
    ours = dask.compute(*colls, scheduler=taskloom.get)
    for a, b in zip(ours, theirs, strict=True):
        assert sorted(map(repr, a)) == sorted(map(repr, b))


# --- random task-spec graphs ------------------------------------------------------------

_KEY_POOL = ["x", "y", 0, 1, 2.5, ("x", 0), ("x", 1), ("t", (0, 1)), "in", "out"]


@st.composite
def _literals(draw, keys):
    """A literal argument, often one that could be misread as a key or a task."""
    key_like = st.sampled_from([*keys, *_KEY_POOL])
    return draw(
        st.one_of(
            key_like,
            st.integers(-3, 3),
            st.text("xy", max_size=2),
            st.tuples(st.just(operator.add), st.integers(0, 2), st.integers(0, 2)),
            st.lists(key_like, max_size=3),
            st.tuples(key_like, key_like),
            st.lists(st.tuples(st.just(_ident), key_like), max_size=2),
        )
    )


@st.composite
def _arguments(draw, keys, depth=0):
    """An argument of a task: a reference, a literal, or a node holding more of them."""
    choices = ["literal"]
    if keys:
        choices += ["ref", "ref", "alias"]
    if depth < 2:
        choices += ["task", "list", "tuple", "dict", "datanode"]
    kind = draw(st.sampled_from(choices))
    if kind == "literal":
        return draw(_literals(keys))
    if kind == "ref":
        return _R(draw(st.sampled_from(keys)))
    if kind == "alias":
        return _A(draw(st.sampled_from(keys)))
    if kind == "datanode":
        return _D(None, draw(_literals(keys)))
    inner = draw(st.lists(_arguments(keys, depth + 1), max_size=3))
    if kind == "task":
        return _T(None, _pair_kw, *inner)
    if kind == "list":
        return spec.List(*inner)
    if kind == "tuple":
        return spec.Tuple(*inner)
    names = draw(st.lists(st.sampled_from([*keys, *_KEY_POOL]), max_size=len(inner), unique=True))
    return spec.Dict(dict(zip(names, inner, strict=False)))


@st.composite
def _random_graphs(draw):
    keys = draw(
        st.lists(
            st.sampled_from([*_KEY_POOL, "a", "b", ("a", 0), ("a", 1), 7, 8]),
            min_size=1,
            max_size=7,
            unique=True,
        )
    )
    dsk: dict = {}
    for i, key in enumerate(keys):
        earlier = keys[:i]
        kind = draw(st.sampled_from(["task", "task", "kwargs", "alias", "data", "fused"]))
        if kind == "alias" and earlier:
            dsk[key] = _A(key, draw(st.sampled_from(earlier)))
        elif kind == "data":
            dsk[key] = _D(key, draw(_literals(earlier)))
        elif kind == "kwargs":
            args = draw(st.lists(_arguments(earlier), max_size=2))
            kwargs = draw(
                st.dictionaries(
                    st.sampled_from(["k", "func", "values"]), _arguments(earlier), max_size=2
                )
            )
            dsk[key] = _T(key, _pair_kw, *args, **kwargs)
        elif kind == "fused" and earlier:
            # a chain of 1-3 inner tasks whose names may collide with outer keys
            names = draw(
                st.lists(
                    st.sampled_from([*_KEY_POOL, "m1", "m2"]), min_size=1, max_size=3, unique=True
                )
            )
            dep = draw(st.sampled_from(earlier))
            inkey = draw(st.sampled_from(["in", "x", "m3", *earlier]))
            if inkey in names:
                names.remove(inkey)
            if not names:
                names = ["m9"]
            inner, prev = {}, inkey
            for name in names:
                # literals, and now and then a reference to an outer key, which only
                # the fused task's inputs may provide (Dask raises RuntimeError)
                pool = earlier if draw(st.integers(0, 4)) == 0 else []
                extra = draw(st.lists(_arguments(pool, depth=1), max_size=1))
                inner[name] = _T(name, _pair_kw, _R(prev), *extra)
                prev = name
            dsk[key] = _T(key, _ES, inner, prev, (inkey,), _R(dep))
        else:
            dsk[key] = _T(key, _pair_kw, *draw(st.lists(_arguments(earlier), max_size=3)))
    return dsk, keys


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(graph=_random_graphs())
def test_hypothesis_random_task_spec_graphs(graph):
    dsk, keys = graph
    theirs = _outcome(dask_local.get_sync, dsk, keys)
    for get in GETS:
        _assert_same_outcome(_outcome(get, dsk, keys), theirs)


def _datanode_number_cases():
    return {
        "int-equal-to-another-key": ({0: _T(0, tuple), 1: _D(1, 0)}, 1),
        "float-equal-to-its-own-key": ({2.5: _D(2.5, 2.5)}, 2.5),
        "bool-equal-to-an-int-key": ({1: _T(1, tuple), "b": _D("b", True)}, "b"),
        "int-equal-to-a-key-holding-a-string": ({"a": _D("a", 3), 3: _D(3, "z")}, "a"),
        "int-equal-to-an-inner-name-of-a-fused-task": (
            {
                "x": 5,
                "y": _T(
                    "y",
                    _ES,
                    {1: _T(1, _pair_kw, _R("in")), "out": _T("out", _pair_kw, _R(1))},
                    "out",
                    ("in",),
                    _R("x"),
                ),
                "d": _D("d", 1),
            },
            ["d", "y"],
        ),
        "int-inside-a-fused-subgraph": (
            {
                0: 5,
                "o": _T(
                    "o",
                    _ES,
                    {"d": _D("d", 0), "out": _T("out", operator.neg, _R("d"))},
                    "out",
                    ("in",),
                    _R(0),
                ),
            },
            "o",
        ),
    }


@pytest.mark.parametrize("case", list(_datanode_number_cases()))
@pytest.mark.parametrize("get", GETS, ids=["get", "get_sync"])
def test_datanode_holding_a_number_equal_to_a_key(case, get):
    dsk, keys = _datanode_number_cases()[case]
    theirs = _outcome(dask_local.get_sync, dsk, keys)
    assert theirs[0] == "ok"
    _assert_same_outcome(_outcome(get, dsk, keys), theirs)


@pytest.mark.parametrize("get", GETS, ids=["get", "get_sync"])
@pytest.mark.parametrize("case", ["task-spec-cycle", "cycle-inside-a-fused-task"])
def test_cycles_raise_a_runtime_error_as_in_dask(get, case):
    dsk = {
        "task-spec-cycle": {"a": _T("a", _pair_kw, _R("b")), "b": _T("b", _pair_kw, _R("a"))},
        # the inner task names itself: a cycle of the subgraph, not a reference outside
        "cycle-inside-a-fused-task": {
            "y": 1,
            "o": _T("o", _ES, {"x": _T("x", _pair_kw, _R("in"), _R("x"))}, "x", ("in",), _R("y")),
        },
    }[case]
    key = next(iter(k for k in dsk if k != "y"))
    theirs = _outcome(dask_local.get_sync, dsk, key)
    assert theirs == ("raises", RuntimeError)
    _assert_same_outcome(_outcome(get, dsk, key), theirs)
