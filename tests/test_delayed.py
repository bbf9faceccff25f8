"""delayed: building calls, operators, keys, compute/persist, errors, Dask parity."""

from __future__ import annotations

import operator
import sys
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom
from taskloom import Delayed, _core, delayed


def inc(x):
    return x + 1


def add(x, y):
    return x + y


class Counter:
    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def __call__(self, x):
        with self.lock:
            self.n += 1
        return x


def test_call_and_decorator():
    lazy_inc = delayed(inc)
    x = lazy_inc(1)
    assert isinstance(x, Delayed)
    assert x.compute() == 2

    @delayed
    def lazy_exponent(x, y):
        """Define a lazily evaluating function"""
        return x**y

    assert lazy_exponent.__name__ == "lazy_exponent"
    assert lazy_exponent.__doc__ == "Define a lazily evaluating function"
    x = lazy_exponent(4, 5)
    y = lazy_exponent(x, 2)
    z = x * y
    assert z.compute() == (4**5) * (4**5) ** 2
    assert z.key.startswith("mul-")
    assert repr(x) == f"Delayed({x.key!r})" and x.key.startswith("lazy_exponent-")


def test_decorator_with_options():
    @delayed(pure=True)
    def f(x):
        return x * 2

    assert f(3).key == f(3).key
    assert f(3).compute() == 6


def test_keyword_arguments_and_key_name():
    def f(a, b=0, *, c=1):
        return (a, b, c)

    x = delayed(f)(1, b=delayed(inc)(1), c=[delayed(inc)(2)], dask_key_name="mine")
    assert x.key == "mine"
    assert x.compute() == (1, 2, [3])


def test_delayed_values_inside_containers_become_dependencies():
    a, b = delayed(inc)(1), delayed(inc)(2)
    out = delayed(lambda *xs: xs)(
        [a, 1], (b, "s"), {"k": a, "n": [b]}, {a, 10}, frozenset([b])
    ).compute()
    assert out == ([2, 1], (3, "s"), {"k": 2, "n": [3]}, {2, 10}, frozenset([3]))


def test_containers_without_delayed_are_passed_untouched():
    tricky = (inc, 1)  # looks like a task to a scheduler
    nested = [tricky, "some-key-looking-string", {"a": (add, 1, 2)}]
    out = delayed(lambda *xs: xs)(tricky, nested).compute()
    assert out[0] is tricky and out[1] is nested


def test_wrapping_values():
    assert delayed(5).compute() == 5
    assert delayed("hello").upper().compute() == "HELLO"
    assert delayed((inc, 1)).compute() == (inc, 1)
    arr = np.arange(5)
    assert delayed(arr).compute() is arr
    d = delayed([delayed(inc)(1), 5, {"x": delayed(inc)(2)}])
    assert d.compute() == [2, 5, {"x": 3}]
    assert delayed([delayed(inc)(1)], traverse=False).compute()[0].__class__ is Delayed
    assert delayed(7, name="seven").key == "seven"


def test_delayed_of_delayed_is_itself():
    x = delayed(inc)(1)
    assert delayed(x) is x


@pytest.mark.parametrize(
    "op",
    [
        operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
        operator.mod, operator.pow, operator.and_, operator.or_, operator.xor,
        operator.lshift, operator.rshift, operator.lt, operator.le, operator.gt,
        operator.ge, operator.eq, operator.ne,
    ],
)  # fmt: skip
def test_binary_operators_both_ways(op):
    a, b = 7, 3
    assert op(delayed(a), b).compute() == op(a, b)
    assert op(a, delayed(b)).compute() == op(a, b)
    assert op(delayed(a), delayed(b)).compute() == op(a, b)


def test_matmul_and_unary_operators():
    m = np.arange(4).reshape(2, 2)
    np.testing.assert_array_equal((delayed(m) @ m).compute(), m @ m)
    np.testing.assert_array_equal((m @ delayed(m)).compute(), m @ m)
    x = delayed(-5)
    assert (-x).compute() == 5
    assert (+x).compute() == -5
    assert (~x).compute() == 4
    assert abs(x).compute() == 5


def test_getitem_getattr_and_method_calls():
    d = delayed({"a": [1, 2, 3]})
    assert d["a"][1].compute() == 2
    s = delayed("a,b")
    assert s.split(",").compute() == ["a", "b"]
    assert s.split(sep=",", maxsplit=0).compute() == ["a,b"]
    z = delayed(complex(1, 2))
    assert z.real.compute() == 1.0
    with pytest.raises(AttributeError):
        _ = z._private


def test_nout_gives_len_and_iteration():
    q, r = delayed(divmod, nout=2)(17, 5)
    assert (q.compute(), r.compute()) == (3, 2)
    t = delayed(lambda: (1, 2, 3), nout=3)()
    assert len(t) == 3
    assert [v.compute() for v in t] == [1, 2, 3]
    with pytest.raises(ValueError, match="nout"):
        delayed(divmod, nout=-1)


def test_misuse_explains_what_to_do():
    x = delayed(inc)(1)
    with pytest.raises(TypeError, match="compute"):
        bool(x)
    with pytest.raises(TypeError, match="nout"):
        len(x)
    with pytest.raises(TypeError, match="nout"):
        iter(x)
    with pytest.raises(TypeError, match="immutable"):
        x.attr = 1
    with pytest.raises(TypeError, match="immutable"):
        x[0] = 1


def test_pure_calls_share_one_task():
    counter = Counter()
    a = delayed(counter, pure=True)(1)
    b = delayed(counter, pure=True)(1)
    c = delayed(counter, pure=True)(2)
    assert a.key == b.key != c.key
    total = delayed(sum)([a, b, c])
    assert total.compute() == 4
    assert counter.n == 2


def test_impure_calls_are_distinct_unless_configured():
    assert delayed(inc)(1).key != delayed(inc)(1).key
    with taskloom.config.set(delayed_pure=True):
        assert delayed(inc)(1).key == delayed(inc)(1).key


def test_loop_with_a_shared_pure_call_runs_it_once():
    """Seed 002: a repeated inc(1) in a loop is computed once."""
    counter = Counter()
    results = []
    for x in range(5):
        a = delayed(counter, pure=True)(1)
        b = delayed(add, pure=True)(a, x)
        results.append(b)
    total = delayed(sum)(results)
    assert total.compute() == sum(1 + x for x in range(5))
    assert counter.n == 1
    assert sum(1 for k in total.dask if str(k).startswith("Counter")) == 1


def test_compute_shares_work_between_arguments():
    counter = Counter()
    base = delayed(counter)(10)
    x, y = base + 1, base * 2
    assert taskloom.compute(x, y) == (11, 20)
    assert counter.n == 1


def test_compute_walks_nested_arguments():
    a = delayed(inc)(1)
    out = taskloom.compute({"a": a, "list": [a, (a, 5)]}, 3, "s")
    assert out == ({"a": 2, "list": [2, (2, 5)]}, 3, "s")
    (raw,) = taskloom.compute([a], traverse=False)
    assert raw == [a]


@pytest.mark.parametrize(
    "scheduler", ["sync", "synchronous", "single-threaded", "threads", "threading"]
)
def test_scheduler_names(scheduler):
    x = delayed(sum)([delayed(inc)(i) for i in range(10)])
    assert x.compute(scheduler=scheduler) == 55
    assert taskloom.compute(x, scheduler=scheduler, num_workers=2) == (55,)


def test_scheduler_can_be_a_get_function():
    calls = []

    def my_get(dsk, keys, **kwargs):
        calls.append(kwargs)
        # Any get function sees an ordinary mapping of keys to tasks.
        plain = dict(dsk)
        assert set(plain) == {x.key, y.key} and plain[x.key] == (inc, 1)
        return taskloom.get_sync(plain, keys)

    x = delayed(inc)(1)
    y = x + 1
    assert y.compute(scheduler=my_get, num_workers=3) == 3
    assert calls == [{"num_workers": 3}]


def test_unknown_scheduler_lists_valid_names():
    with pytest.raises(ValueError, match="'threads'"):
        delayed(inc)(1).compute(scheduler="warp-drive")
    with pytest.raises(ValueError, match="sync"):
        taskloom.config.set(scheduler="warp-drive")


def test_config_set_globally_and_as_context():
    seen = []

    def spy(dsk, keys, **kwargs):
        seen.append("spy")
        return taskloom.get_sync(dsk, keys)

    with taskloom.config.set(scheduler=spy):
        assert delayed(inc)(1).compute() == 2
    assert seen == ["spy"]
    assert taskloom.config.get("scheduler", None) is None
    taskloom.config.set(scheduler=spy)
    try:
        delayed(inc)(1).compute()
        assert seen == ["spy", "spy"]
    finally:
        taskloom.config.set(scheduler=None)
    with taskloom.config.set({"num-workers": 3}):
        assert taskloom.config.get("num_workers") == 3
    with pytest.raises(ValueError, match="num_workers"):
        taskloom.config.set(num_workers=0)


def test_persist_runs_once_and_keeps_the_value():
    counter = Counter()
    x = delayed(counter)(41) + 1
    p = x.persist()
    assert counter.n == 1
    assert isinstance(p, Delayed) and p.key == x.key
    assert len(p.dask) == 1
    assert p.compute() == 42 and (p + 1).compute() == 43
    assert counter.n == 1
    (q, plain) = taskloom.persist(delayed(counter)("text"), 5)
    assert q.compute() == "text" and plain == 5


def test_errors_in_delayed_functions_reach_the_caller_as_themselves():
    def fail(x):
        raise KeyError(f"missing {x}")

    bad = delayed(fail)(1)
    with pytest.raises(KeyError, match="missing 1") as info:
        (bad + 1).compute()
    assert any(bad.key in note for note in info.value.__notes__)


def test_explicit_graph_constructor():
    d = Delayed("total", {"a": 1, "total": (add, "a", 10)})
    assert d.compute() == 11
    assert (d + 1).compute() == 12
    with pytest.raises(ValueError, match="does not contain"):
        Delayed("nope", {"a": 1})


def test_graph_with_explicit_parts_and_pure_duplicates():
    counter = Counter()
    explicit = Delayed("e", {"e": (add, 1, 2)})
    a = delayed(counter, pure=True)(explicit)
    b = delayed(counter, pure=True)(explicit)
    assert (a + b).compute() == 6
    assert counter.n == 1


def test_dask_attribute_is_the_graph():
    x = delayed(inc)(1)
    y = delayed(add)(x, x)
    assert set(y.dask) == {x.key, y.key}
    assert y.__dask_keys__() == [y.key]
    assert taskloom.is_dask_collection(y) and not taskloom.is_dask_collection(1)


def test_large_fan_in_builds_and_computes():
    n = 100_000
    xs = [delayed(inc)(i) for i in range(n)]
    assert delayed(sum)(xs).compute() == sum(range(1, n + 1))


def test_seed_001_examples():
    import time

    def slow_inc(x):
        time.sleep(0.01)
        return x + 1

    x = delayed(slow_inc)(1)
    y = delayed(slow_inc)(2)
    z = delayed(add)(x, y)
    assert z.compute() == 5
    x2, y2 = delayed(slow_inc)(1), delayed(slow_inc)(2)
    total = delayed(add)(z, delayed(add)(x2, y2))
    assert total.compute() == 10
    total_plus = total + 10
    assert total_plus.compute() == 20
    data = [1, 2, 3, 4]
    newdata = [delayed(slow_inc)(x) for x in data]
    total_sum = delayed(sum)(newdata)
    assert total_sum.compute() == 14
    prod = delayed(np.prod)(newdata)
    assert prod.compute() == 120


def test_same_results_as_dask_delayed():
    dask = pytest.importorskip("dask")

    def build(lib):
        x = lib.delayed(inc)(1)
        y = lib.delayed(add)(x, 10)
        z = (x * y - 3) // 2
        parts = lib.delayed(divmod, nout=2)(z, 4)
        return [z, parts[0], parts[1], lib.delayed(sorted)([y, x, z]), x == 2, -z]

    ours = taskloom.compute(*build(taskloom))
    theirs = dask.compute(*build(dask))
    assert ours == theirs


def test_delayed_values_pickle_with_their_graph():
    import pickle

    x = delayed(inc)(1)
    y = delayed(add)(x, delayed(inc, pure=True)(5))
    z = pickle.loads(pickle.dumps(y))
    assert z.key == y.key and z.compute() == y.compute() == 8
    attr = pickle.loads(pickle.dumps(delayed("a b").split()))
    assert attr.compute() == ["a", "b"]
    leaf = pickle.loads(pickle.dumps(delayed(inc)))
    assert leaf.compute() is inc and leaf(2).compute() == 3


# --- collections given to delayed stand for their computed values (#13.1) ---


def _taskloom_collections(data, npartitions):
    """Taskloom's bag, array, dataframe and scalar over ``data``, with their plain values."""
    import pandas as pd

    import taskloom.array as tla
    import taskloom.bag as tlb
    import taskloom.dataframe as tldf

    frame = pd.DataFrame({"a": data, "b": [x * 2 for x in data]})
    arr = np.array(data, dtype=float)
    chunk = max(1, -(-len(data) // npartitions))
    df = tldf.from_pandas(frame, npartitions=npartitions)
    return [
        (tlb.from_sequence(data, npartitions=npartitions), list(data)),
        (tla.from_array(arr, chunks=chunk), arr),
        (df, frame),
        (df.a, frame.a),
        (df.a.sum(), frame.a.sum()),
        (tlb.from_sequence(data, npartitions=npartitions).count(), len(data)),
    ]


def _same_value(got, expected):
    import pandas as pd

    assert type(got) is type(expected)
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected)
    elif isinstance(expected, pd.Series):
        pd.testing.assert_series_equal(got, expected)
    elif isinstance(expected, np.ndarray):
        np.testing.assert_array_equal(got, expected)
    else:
        assert got == expected


def _describe(v):
    return (type(v).__name__, len(v)) if hasattr(v, "__len__") else (type(v).__name__, v)


@pytest.mark.parametrize("npartitions", [1, 3])
def test_collections_as_arguments_are_their_computed_values(npartitions):
    data = [5, 3, 8, 1, 9, 2, 7]
    for coll, expected in _taskloom_collections(data, npartitions):
        ident = delayed(lambda v: v)
        _same_value(ident(coll).compute(), expected)
        _same_value(delayed(coll).compute(), expected)
        _same_value(ident([coll])[0].compute(), expected)
        _same_value(ident((1, coll)).compute()[1], expected)
        _same_value(ident({"k": coll})["k"].compute(), expected)
        _same_value(delayed(lambda v=None: v)(v=coll).compute(), expected)
        _same_value(ident(coll).compute(scheduler="processes"), expected)
        assert delayed(_describe)(coll).compute(scheduler="sync") == _describe(expected)
    bag = _taskloom_collections(data, npartitions)[0][0]
    assert delayed(sorted)(bag).compute() == sorted(data)
    assert delayed(len)(bag).compute() == len(data)
    assert delayed(lambda s: s)({bag.count(), 99}).compute() == {len(data), 99}


def _pack(*args):
    return args


_ATOMS = st.one_of(
    st.integers(),
    st.text(max_size=5),
    st.floats(allow_nan=False),
    st.none(),
    st.binary(max_size=5),
    st.booleans(),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(_ATOMS, min_size=1, max_size=4), min_size=1, max_size=8))
def test_calls_of_plain_arguments_compute_as_python(rows):
    # A call whose arguments are all plain values keeps the tuple it was called
    # with. Through starmap over zip, that tuple is one zip fills again in
    # place when nothing else holds it: every call must keep its own values.
    import itertools

    lazy = delayed(_pack)
    width = min(map(len, rows))
    columns = [[row[j] for row in rows] for j in range(width)]
    zipped = list(itertools.starmap(lazy, zip(*columns, strict=True)))
    spread = [lazy(*tuple(row)) for row in rows]
    expected_zipped = [tuple(col[i] for col in columns) for i in range(len(rows))]
    computed = taskloom.compute(zipped, spread, scheduler="sync")
    assert computed == (expected_zipped, [tuple(row) for row in rows])
    # Calls that keep the caller's tuple let it go with them.
    shared = tuple(rows[0])
    held = sys.getrefcount(shared)
    calls = [lazy(*shared) for _ in range(3)]
    assert taskloom.compute(calls, scheduler="sync")[0] == [shared] * 3
    del calls
    assert sys.getrefcount(shared) == held
    # Mixed with a Delayed value, a call gets a tuple of its own, with the
    # value's key in its place.
    mixed = lazy(lazy(1), *rows[0])
    assert mixed.compute(scheduler="sync") == ((1,), *rows[0])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(-100, 100), min_size=1, max_size=30), st.integers(1, 6))
def test_random_collections_in_delayed_calls_match_python(data, npartitions):
    for coll, expected in _taskloom_collections(data, npartitions):
        got = delayed(lambda v, k: [v, k])([coll], k={"c": coll}).compute(scheduler="sync")
        _same_value(got[0][0], expected)
        _same_value(got[1]["c"], expected)


def test_issue_examples_match_dask():
    import pandas as pd

    import taskloom.dataframe as tldf

    pdf = pd.DataFrame({"a": range(10), "b": range(10)})
    df = tldf.from_pandas(pdf, npartitions=1)
    assert delayed(lambda s: s * 2)(df.a.sum()).compute() == 90
    assert delayed(len)(df).compute() == 10
    assert delayed(len)(tldf.from_pandas(pdf, npartitions=4)).compute() == 10
    assert delayed(list)(taskloom.bag.from_sequence(range(4), npartitions=2)).compute() == [
        0, 1, 2, 3,
    ]  # fmt: skip


def test_delayed_of_a_collection_takes_name_and_nout():
    bag = taskloom.bag.from_sequence([1, 2], npartitions=2)
    d = delayed(bag, name="the-bag", nout=2)
    assert d.key == "the-bag" and len(d) == 2
    assert [x.compute() for x in d] == [1, 2]
    assert delayed(bag, traverse=False).compute() == [1, 2]  # as in Dask: still computed


def test_collection_arguments_share_work_and_keep_their_graph():
    calls = Counter()
    bag = taskloom.bag.from_sequence(range(6), npartitions=3).map(calls)
    total = delayed(sum)(bag)
    both = delayed(lambda a, b: (a, b))(total, delayed(len)(bag))
    assert both.compute() == (15, 6)
    assert calls.n == 6, "the bag's tasks ran once for both uses"
    assert set(bag.__dask_graph__()) <= set(both.dask)


def test_pure_calls_on_collections_share_a_key():
    bag = taskloom.bag.from_sequence(range(6), npartitions=3)
    assert delayed(sum, pure=True)(bag).key == delayed(sum, pure=True)(bag).key
    other = taskloom.bag.from_sequence(range(7), npartitions=3)
    assert delayed(sum, pure=True)(bag).key != delayed(sum, pure=True)(other).key


def test_dask_collections_as_arguments_match_dask():
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    dbag = pytest.importorskip("dask.bag")
    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd

    arr = np.arange(24.0).reshape(4, 6)
    frame = pd.DataFrame({"a": range(10), "b": range(10)})
    colls = [
        (da.from_array(arr, chunks=(3, 4)), arr),
        (dd.from_pandas(frame, npartitions=3), frame),
        (dd.from_pandas(frame, npartitions=3).a.sum(), frame.a.sum()),
        (dbag.from_sequence(range(9), npartitions=4), list(range(9))),
        (dask.delayed(abs)(-4), 4),
    ]
    for coll, expected in colls:
        _same_value(delayed(lambda v: v)(coll).compute(), expected)
        _same_value(delayed(coll).compute(scheduler="sync"), expected)
        dask_value = dask.delayed(_describe)(coll).compute(scheduler="sync")
        assert delayed(_describe)(coll).compute() == dask_value == _describe(expected)
        _same_value(delayed(lambda v: v)([coll]).compute(scheduler="processes")[0], expected)


# --- the same traversal as Dask: dict keys, slices, named tuples, dataclasses (#13.1) ---


def _odd_containers(lib, value):
    """Delayed values (and a collection) hidden where Dask's delayed and compute look."""
    import collections
    import dataclasses

    pair = collections.namedtuple("pair", "a b")

    @dataclasses.dataclass
    class Box:
        a: object
        b: int = 0

    return [
        {value: 1, ("x", 1): value},
        collections.OrderedDict(x=value),
        pair(value, 2),
        Box(value),
        slice(value, None),
        iter([value, 1]),
        pair(1, 2),
        Box(1),
        [1, (value,)],
    ]


def _plain(x):
    """Containers made comparable across two libraries' local classes."""
    import dataclasses

    if dataclasses.is_dataclass(x):
        return ("dataclass", dataclasses.astuple(x))
    if isinstance(x, tuple) and hasattr(type(x), "_fields"):
        return ("namedtuple", tuple(x))
    return x


def test_delayed_arguments_are_traversed_like_dask():
    dask = pytest.importorskip("dask")
    ident = lambda *a: a  # noqa: E731
    ours = delayed(ident)(*_odd_containers(taskloom, delayed(abs)(-3))).compute()
    theirs = dask.delayed(ident)(*_odd_containers(dask, dask.delayed(abs)(-3))).compute(
        scheduler="sync"
    )
    # Dask's delayed does not look into an OrderedDict (only exact dicts); neither do we.
    assert isinstance(ours[1]["x"], Delayed) and type(theirs[1]["x"]).__name__ == "Delayed"
    assert [_plain(x) for x in ours[:1] + ours[2:]] == [_plain(x) for x in theirs[:1] + theirs[2:]]
    assert ours[0] == {3: 1, ("x", 1): 3} and ours[4] == slice(3, None)
    bag = taskloom.bag.from_sequence([1, 2], npartitions=2)
    assert delayed(ident)({"k": (bag,)}, slice(None, bag.count())).compute() == (
        {"k": ([1, 2],)},
        slice(None, 2),
    )


def test_compute_traverses_like_dask():
    dask = pytest.importorskip("dask")
    ours = taskloom.compute(*_odd_containers(taskloom, delayed(abs)(-3)), scheduler="sync")
    theirs = dask.compute(*_odd_containers(dask, dask.delayed(abs)(-3)), scheduler="sync")
    assert [_plain(x) for x in ours[:4] + ours[5:]] == [_plain(x) for x in theirs[:4] + theirs[5:]]
    assert taskloom.compute(iter([1, 2]))[0] == [1, 2]  # iterators become lists, as in Dask


def test_iterators_are_read_into_containers_like_dask():
    dask = pytest.importorskip("dask")
    assert delayed(iter([1, 2])).compute() == dask.delayed(iter([1, 2])).compute() == [1, 2]
    ident = lambda x: x  # noqa: E731
    assert delayed(ident)(iter((1, 2))).compute() == dask.delayed(ident)(iter((1, 2))).compute()
    from taskloom.delayed import unpack

    task, deps = unpack(iter([1]))
    assert deps == [] and task[0]() == [1]
    task, deps = unpack("a key?")
    assert deps == [] and task[0]() == "a key?", "strings are quoted: they could name keys"


def test_dataclass_with_init_false_fields_is_refused_by_name():
    import dataclasses

    @dataclasses.dataclass
    class Partly:
        a: object
        b: int = dataclasses.field(default=0, init=False)

    with pytest.raises(ValueError, match=r"Partly.*init=False"):
        delayed(lambda x: x)(Partly(delayed(abs)(-1)))
    assert delayed(lambda x: x)(Partly(1)).compute() == Partly(1)


def test_cycles_through_a_call_are_collected():
    import gc
    import weakref

    class Box:
        pass

    def f(*args):
        return args

    # Through an argument: the box holds the call that holds the box.
    box = Box()
    box.call = taskloom.delayed(f)(1, box)
    ref = weakref.ref(box)
    del box
    gc.collect()
    assert ref() is None

    def closure_holding(wrap):
        """A closure whose cell holds ``wrap(closure)``; a weak reference to it."""
        cell: list = []

        def g(x):
            return cell

        cell.append(wrap(g))
        return weakref.ref(g)

    # Through the function (a call holds it), and through a leaf (delayed(itself)).
    for wrap in (lambda g: taskloom.delayed(g)(1), taskloom.delayed):
        ref = closure_holding(wrap)
        gc.collect()
        assert ref() is None, wrap


def test_every_full_collection_frees_cycles_through_calls_made_since_the_last():
    # Calls are kept out of young collections and shown to each full one (gcpark.rs):
    # after a full collection they must be shown to the next one again.
    import gc
    import weakref

    class Box:
        pass

    def f(*args):
        return args

    kept = taskloom.delayed(f)(1, 2)
    for _ in range(3):
        box = Box()
        box.call = taskloom.delayed(f)(box)
        ref = weakref.ref(box)
        del box
        for generation in (0, 1):  # young collections may keep it, never break it
            gc.collect(generation)
            assert ref() is None or ref().call.compute()[0] is ref()
        gc.collect()
        assert ref() is None
    assert kept.compute() == (1, 2)


def _parks() -> bool:
    """Whether this Python keeps calls out of young collections (gcpark.rs)."""
    import sys
    import sysconfig

    return sys.version_info < (3, 14) and not sysconfig.get_config_var("Py_GIL_DISABLED")


def test_calls_are_out_of_young_collections_between_full_ones():
    import gc

    call = taskloom.delayed(abs)(-1)
    assert gc.is_tracked(call) is not _parks()
    gc.collect()
    assert gc.is_tracked(call) is not _parks()
    assert call.compute() == 1


@pytest.mark.parametrize("how", ["removed", "shadowed"])
def test_the_gc_callback_comes_back_at_the_next_call(how):
    # Removed: at the next call it is back. Shadowed: a callback claiming to equal
    # everything must not pass for ours (the check is by identity).
    import gc
    import weakref

    class Box:
        pass

    class Anything:
        def __call__(self, phase, info):
            pass

        def __eq__(self, other):
            return True

        __hash__ = None

    taskloom.delayed(abs)(1)
    saved = list(gc.callbacks)
    (ours,) = [c for c in saved if getattr(c, "__name__", "") == "_gc_callback"]
    gc.callbacks.remove(ours)
    if how == "shadowed":
        gc.callbacks.append(Anything())
    try:
        box = Box()
        box.call = taskloom.delayed(abs)(box)
        ref = weakref.ref(box)
        del box
        assert any(c is ours for c in gc.callbacks) is _parks()
        gc.collect()
        assert ref() is None
    finally:
        gc.callbacks[:] = saved


def test_a_collection_run_while_a_call_is_freed_leaves_it_alone():
    # A weak reference's callback runs while the object is being deallocated; a
    # full collection started there must not track (and so free again) the dying
    # call. Only a subclass with weak reference support can show it.
    import gc
    import weakref

    from taskloom.delayed import Delayed

    class Weak(Delayed):
        __slots__ = ("__weakref__",)

    collected = []
    for i in range(20):
        call = _core.delayed_call(Weak, abs, "abs", (-i,), None, lambda a, deps: a)
        ref = weakref.ref(call, lambda r: collected.append(gc.collect()))
        del call
        assert ref() is None
    assert len(collected) == 20


@pytest.mark.parametrize("collect", ["in __del__", "from another thread", "by allocating"])
def test_a_call_with_a_finalizer_survives_collections_while_it_is_freed(collect, tmp_path):
    # CPython tracks an object again while its __del__ runs from deallocation,
    # then untracks it unchecked: a collection ending meanwhile must not have
    # untracked it (a crash). Run apart: a failure here kills the process.
    import subprocess
    import sys

    script = tmp_path / "fin.py"
    script.write_text(
        f"""
import gc, threading, time
from taskloom import _core
from taskloom.delayed import Delayed

how = {collect!r}
stop = threading.Event()
if how == "from another thread":
    def collector():
        while not stop.is_set():
            gc.collect()
    threading.Thread(target=collector, daemon=True).start()

class Fin(Delayed):
    __slots__ = ()
    def __del__(self):
        if how == "in __del__":
            gc.collect()
        elif how == "from another thread":
            time.sleep(0.001)
        else:
            gc.set_threshold(1, 1, 1)
            junk = [[] for _ in range(100)]
            gc.set_threshold(700, 10, 10)

for i in range(200):
    call = _core.delayed_call(Fin, abs, "abs", (-i,), None, lambda a, deps: a)
    del call
stop.set()
print("done")
"""
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert (out.returncode, out.stdout.strip()) == (0, "done"), out.stderr


def test_cycles_through_calls_are_freed_at_exit(tmp_path):
    # Shutdown's collections run no gc.callbacks: the exit handler tracks every
    # call again first, so a cycle through one is freed (its finalizer runs).
    import subprocess
    import sys

    script = tmp_path / "exit.py"
    script.write_text(
        """
import gc, sys, taskloom

class Box:
    def __del__(self):
        print("freed")

def make():
    box = Box()
    box.call = taskloom.delayed(abs)(box)

make()
gc.disable()
"""
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert (out.returncode, out.stdout.strip()) == (0, "freed"), out.stderr


def test_delayed_keeps_no_user_data_alive_after_its_calls_are_gone():
    import functools
    import gc
    import weakref

    class Model:
        def predict(self, x):
            return x

    def closure_over(data):
        return lambda x: (data, x)

    makers = [
        lambda m: m.predict,  # a bound method
        closure_over,
        lambda m: functools.partial(print, m),
    ]
    for make in makers:
        model = Model()
        ref = weakref.ref(model)
        call = taskloom.delayed(make(model))(1)
        del model, call
        gc.collect()
        assert ref() is None, make


@pytest.mark.parametrize("name", ["inc", "\u00e9t\u00e9", "f" * 300])
def test_impure_call_keys_are_the_function_name_and_a_fresh_token(name):
    # The keys are written straight into a str (ASCII names) or through a Rust string
    # (others): both give "{name}-{process prefix}{counter in hex}".
    def f(x):
        return x

    f.__name__ = name
    lazy = taskloom.delayed(f)
    keys = [lazy(i)._key for i in range(3)]
    reference = _core.unique_key(name)
    assert len(set(keys)) == 3
    for key in keys:
        head, _, token = key.rpartition("-")
        assert head == name
        assert all(c in "0123456789abcdef" for c in token)
        assert token[:-8] == reference.rpartition("-")[2][:-8]  # the process prefix
    counters = [int(k.rpartition("-")[2][-8:], 16) for k in [*keys, reference]]
    assert counters == list(range(counters[0], counters[0] + 4))  # one count a key
