"""Data and metadata agree (#13.4): for every public method of DataFrame, Series, Index
and the groupby objects, the computed result has the columns, dtypes, Series name and
index type/name/dtype that the collection's ``_meta`` announced before computing; and,
where pandas has the same method, the names and dtypes pandas gives.

The methods are enumerated from the classes: each is either called here (``CALLS``) or
listed in ``NOT_CALLED`` with the reason, so a new method cannot go unchecked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as tm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom.dataframe as dd
from taskloom.dataframe.core import Scalar
from taskloom.dataframe.groupby import DataFrameGroupBy, SeriesGroupBy


def _frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    x[rng.random(n) < 0.2] = np.nan
    return pd.DataFrame(
        {
            "i": rng.integers(1, 6, n),
            "x": x,
            "s": pd.array(rng.choice(["ab", "cd", "ef"], n), dtype="str"),
            "b": rng.random(n) < 0.5,
            "t": pd.date_range("2001-01-01", periods=n, freq="5h"),
            "c": pd.Categorical(rng.choice(["u", "v"], n)),
        },
        index=pd.Index(np.arange(n) * 3, name="idx"),
    )


PDF = _frame()
NUM = PDF[["i", "x"]]
PLAIN = PDF[["i", "x", "b", "s"]]  # no datetimes: pandas refuses any/all on them


def _same_dtype(got, announced) -> bool:
    """Equal dtypes; a categorical's categories are data-dependent when the meta was
    inferred from made-up values (Dask marks them unknown), so only its kind counts."""
    if isinstance(announced, pd.CategoricalDtype) and isinstance(got, pd.CategoricalDtype):
        return got.ordered == announced.ordered
    return got == announced


def _same_index_type(got: pd.Index, announced: pd.Index) -> bool:
    """Equal index types; a RangeIndex is an int64 index that concatenating partitions
    (or pandas on an empty frame) turns into a plain one."""
    if isinstance(announced, pd.RangeIndex):
        return got.dtype == np.int64 and not isinstance(got, pd.MultiIndex)
    return type(got) is type(announced)


def assert_meta_matches(lazy, computed) -> None:
    """``computed`` has the structure ``lazy._meta`` announced."""
    meta = lazy._meta
    if isinstance(lazy, Scalar):
        if isinstance(meta, np.generic):
            assert np.asarray(computed).dtype == meta.dtype, (computed, meta)
        return
    assert type(computed) is type(meta), (type(computed), type(meta))
    if isinstance(meta, pd.DataFrame):
        assert list(computed.columns) == list(meta.columns)
        bad = {
            c: (computed.dtypes[c], meta.dtypes[c])
            for c in meta.columns
            if not _same_dtype(computed.dtypes[c], meta.dtypes[c])
        }
        assert not bad, bad
    elif isinstance(meta, pd.Series):
        assert computed.name == meta.name, (computed.name, meta.name)
        assert _same_dtype(computed.dtype, meta.dtype), (computed.dtype, meta.dtype)
    if isinstance(meta, pd.Index):
        index, meta_index = computed, meta
    else:
        index, meta_index = computed.index, meta.index
    assert _same_index_type(index, meta_index), (type(index), type(meta_index))
    assert index.names == meta_index.names, (index.names, meta_index.names)
    if len(index) and not isinstance(meta_index, pd.MultiIndex):
        assert _same_dtype(index.dtype, meta_index.dtype), (index.dtype, meta_index.dtype)


def assert_like_pandas(computed, expected) -> None:
    """Names and dtypes as pandas gives them (values are tested elsewhere)."""
    if np.ndim(expected) == 0:
        assert np.asarray(computed).dtype == np.asarray(expected).dtype
        return
    assert type(computed) is type(expected)
    if isinstance(expected, pd.DataFrame):
        assert list(computed.columns) == list(expected.columns)
        tm.assert_series_equal(computed.dtypes, expected.dtypes, obj="dtypes")
    elif isinstance(expected, pd.Series | pd.Index):
        assert computed.name == expected.name
        assert computed.dtype == expected.dtype, (computed.dtype, expected.dtype)


def _self(x):
    # Stands for the collection itself as an argument (``x.corr(x)``).
    return x


def _cond(x):
    # Masks some values of every partition: the dtype of where/mask depends on whether
    # anything is masked (an int column becomes float), in pandas too.
    return x > 2


# method -> calls: (args, kwargs, whether pandas gives the same structure).
# "num" calls run on the numeric columns only (pandas refuses strings there).
FRAME_CALLS: dict[str, list] = {
    "abs": [("num", (), {})],
    "add": [("num", (1,), {})],
    "all": [("plain", (), {})],
    "any": [("plain", (), {})],
    "apply": [("full", (lambda r: r.i * 2,), {"axis": 1})],
    "assign": [("full", (), {"z": 1.5}), ("full", (), {"i": "word"})],
    "astype": [("full", ({"i": "float32"},), {}), ("num", ("float64",), {})],
    "bfill": [("full", (), {})],
    "clear_divisions": [("full", (), {})],
    "clip": [("num", (-1, 1), {})],
    "copy": [("full", (), {})],
    "count": [("full", (), {})],
    "cummax": [("num", (), {})],
    "cummin": [("num", (), {})],
    "cumprod": [("num", (), {})],
    "cumsum": [("num", (), {})],
    "describe": [("full", (), {})],
    "div": [("num", (2,), {})],
    "drop": [("full", (), {"columns": ["x"]})],
    "drop_duplicates": [("full", (), {"subset": ["s"]})],
    "dropna": [("full", (), {})],
    "eq": [("num", (1,), {})],
    "eval": [("num", ("i + x",), {})],
    "ffill": [("full", (), {})],
    "fillna": [("num", (0,), {})],
    "floordiv": [("num", (2,), {})],
    "ge": [("num", (0,), {})],
    "get_partition": [("full", (0,), {})],
    "gt": [("num", (0,), {})],
    "head": [("full", (), {"compute": False})],
    "isin": [("full", ([1, "ab"],), {})],
    "isna": [("full", (), {})],
    "isnull": [("full", (), {})],
    "le": [("num", (0,), {})],
    "lt": [("num", (0,), {})],
    "map_partitions": [("full", (lambda p: p.assign(z=p.i + 1),), {})],
    "mask": [("num", (_cond,), {})],
    "max": [("num", (), {}), ("full", (), {"numeric_only": True})],
    "mean": [("num", (), {}), ("full", (), {"numeric_only": True})],
    "min": [("num", (), {}), ("full", (), {"numeric_only": True})],
    "mod": [("num", (2,), {})],
    "mul": [("num", (2,), {})],
    "ne": [("num", (1,), {})],
    "notna": [("full", (), {})],
    "notnull": [("full", (), {})],
    "nunique": [("full", (), {})],
    "pow": [("num", (2,), {})],
    "prod": [("num", (), {})],
    "product": [("num", (), {})],
    "quantile": [("num", (0.5,), {}), ("num", ([0.1, 0.9],), {})],
    "query": [("full", ("i > 0",), {})],
    "radd": [("num", (1,), {})],
    "rdiv": [("num", (1,), {})],
    "rename": [("full", (), {"columns": {"i": "j"}})],
    "repartition": [("full", (), {"npartitions": 2})],
    "replace": [("num", (1, 2), {})],
    "reset_index": [("full", (), {})],
    "rfloordiv": [("num", (1,), {})],
    "rmod": [("num", (3,), {})],
    "rmul": [("num", (2,), {})],
    "round": [("num", (1,), {})],
    "rpow": [("num", (2,), {})],
    "rsub": [("num", (1,), {})],
    "rtruediv": [("num", (1,), {})],
    "sample": [("full", (), {"frac": 0.5, "random_state": 1})],
    "select_dtypes": [("full", ("number",), {})],
    "set_index": [("full", ("i",), {})],
    "sort_values": [("full", ("x",), {})],
    "std": [("num", (), {})],
    "sub": [("num", (1,), {})],
    "sum": [("num", (), {}), ("full", (), {"numeric_only": True})],
    "tail": [("full", (), {"compute": False})],
    "truediv": [("num", (2,), {})],
    "var": [("num", (), {})],
    "where": [("num", (_cond,), {})],
    # Issue #16 (values checked in test_dataframe_methods_api):
    "corr": [("num", (), {})],
    "cov": [("num", (), {})],
    "diff": [("num", (), {}), ("num", (-2,), {})],
    "idxmax": [("num", (), {})],
    "idxmin": [("num", (), {})],
    "map_overlap": [("num", (lambda p: p.cumsum(), 1, 1), {})],
    "median_approximate": [("num", (), {})],
    "memory_usage": [("full", (), {})],
    "memory_usage_per_partition": [("full", (), {})],
    "nlargest": [("num", (3,), {"columns": "x"})],
    "nsmallest": [("num", (3,), {"columns": ["i", "x"]})],
    "pct_change": [("num", (), {})],
    "pipe": [("full", (lambda d: d.assign(z=1),), {})],
    "sem": [("num", (), {})],
    "shift": [("full", (), {}), ("full", (-3,), {})],
    "categorize": [("full", (), {}), ("full", (["s"],), {})],
    "explode": [("full", ("s",), {})],
    "melt": [("num", (), {"id_vars": "i"}), ("full", (), {"value_vars": ["x", "i"]})],
    "rename_axis": [("full", ("k",), {})],
    "squeeze": [("num", (), {}), ("num", (), {"axis": 1})],
    "divide": [("num", (2,), {})],
    "pivot_table": [
        ("full", (), {"index": "i", "columns": "c", "values": "x"}),
        ("full", (), {"index": "i", "columns": "c", "values": "x", "aggfunc": "count"}),
    ],
    "shuffle": [("full", ("i",), {}), ("full", (), {"on_index": True, "npartitions": 3})],
}
# Calls whose result depends on the partitioning, or that pandas spells differently.
NOT_LIKE_PANDAS = {
    "head",
    "tail",
    "get_partition",
    "sample",
    "reset_index",
    "repartition",
    "clear_divisions",
    "map_partitions",
    "describe",
    "set_index",
    "sort_values",
    "shuffle",
    "pivot_table",  # Dask's keeps every category (observed=False)
    "unique",  # pandas gives an array, Dask and taskloom a Series
}
FRAME_NOT_CALLED = {
    "compute": "returns pandas",
    "persist": "same collection",
    "visualize": "draws the graph",
    "to_csv": "writes files (tests in test_dataframe)",
    "to_parquet": "writes files (tests in test_dataframe)",
    "to_delayed": "Delayed objects",
    "items": "yields the Series checked under Series",
    "groupby": "checked in test_groupby_meta",
    "rolling": "checked in test_window_meta",
    "resample": "checked in test_window_meta",
    "join": "checked in test_multi_meta",
    "merge": "checked in test_multi_meta",
    "columns": "attribute",
    "dtypes": "attribute",
    "divisions": "attribute",
    "known_divisions": "attribute",
    "npartitions": "attribute",
    "ndim": "attribute",
    "shape": "attribute",
    "size": "attribute",
    "empty": "attribute",
    "dask": "attribute",
    "index": "attribute",
    "loc": "indexer, checked in test_indexing_meta",
    "partitions": "indexer, checked in test_indexing_meta",
    "median": "one partition only, as Dask; checked in test_dataframe_methods_api",
    "pop": "removes the column in place; checked in test_dataframe_methods_api",
    "iloc": "indexer; checked in test_dataframe_methods_api",
    "to_timestamp": "needs a PeriodIndex; checked in test_dataframe_methods_api",
    "random_split": "a list of collections; checked in test_dataframe_methods_api",
    "to_bag": "a Bag; checked in test_dataframe_methods_api",
    "to_dask_array": "an Array; checked in test_dataframe_methods_api",
    "to_records": "an Array; checked in test_dataframe_methods_api",
    "values": "an Array; checked in test_dataframe_methods_api",
    "to_html": "a string; checked in test_dataframe_methods_api",
    "to_string": "a string; checked in test_dataframe_methods_api",
    "iterrows": "an iterator of pandas rows",
    "itertuples": "an iterator of tuples",
    "info": "writes text; checked in test_dataframe_methods_api",
    "to_backend": "the collection itself (pandas is the only backend)",
    "from_dict": "a constructor; checked in test_dataframe_methods_api",
    "align": "a tuple of collections; checked in test_dataframe_methods_api",
    "mode": "padding the columns' modes makes dtypes data-dependent, as in pandas; "
    "checked in test_dataframe_methods_api",
}


def _public(cls) -> set[str]:
    return {m for m in dir(cls) if not m.startswith("_")}


def test_every_frame_method_is_checked():
    missing = _public(dd.DataFrame) - set(FRAME_CALLS) - set(FRAME_NOT_CALLED)
    assert not missing, f"DataFrame methods without a metadata check: {sorted(missing)}"


@pytest.fixture(params=[1, 4], ids=["1part", "4parts"], scope="module")
def frames(request):
    return {
        "full": (dd.from_pandas(PDF, npartitions=request.param), PDF),
        "num": (dd.from_pandas(NUM, npartitions=request.param), NUM),
        "plain": (dd.from_pandas(PLAIN, npartitions=request.param), PLAIN),
    }


def _lazy_args(args, lazy):
    return tuple(a(lazy) if a in (_cond, _self) else a for a in args)


def _check_call(frames, method, which, args, kwargs):
    lazy, pdf = frames[which]
    result = getattr(lazy, method)(*_lazy_args(args, lazy), **kwargs)
    computed = result.compute()
    assert_meta_matches(result, computed)
    if method not in NOT_LIKE_PANDAS and hasattr(pdf, method):
        pargs = tuple(a(pdf) if a in (_cond, _self) else a for a in args)
        pkwargs = {k: v for k, v in kwargs.items() if k != "meta"}
        assert_like_pandas(computed, getattr(pdf, method)(*pargs, **pkwargs))


@pytest.mark.parametrize(
    ("method", "which", "args", "kwargs"),
    [(m, *call) for m, calls in FRAME_CALLS.items() for call in calls],
    ids=[f"{m}-{k}" for m, calls in FRAME_CALLS.items() for k in range(len(calls))],
)
def test_frame_method_meta(frames, method, which, args, kwargs):
    _check_call(frames, method, which, args, kwargs)


# --- Series and Index -----------------------------------------------------------------

SERIES_CALLS: dict[str, list] = {
    **{
        m: [("x", *call[1:])]
        for m, calls in FRAME_CALLS.items()
        for call in calls[:1]
        if call[0] == "num"
        and m
        not in {"eval", "select_dtypes", "replace", "quantile", "drop", "mask", "where"}
        | {"corr", "cov", "nlargest", "nsmallest", "melt", "squeeze", "shuffle", "pivot_table"}
    },
    "all": [("b", (), {})],
    "any": [("b", (), {})],
    "apply": [("x", (abs,), {"meta": ("x", "f8")})],
    "astype": [("i", ("float32",), {}), ("s", ("category",), {})],
    "between": [("x", (-1, 1), {})],
    "bfill": [("x", (), {})],
    "clear_divisions": [("x", (), {})],
    "copy": [("s", (), {})],
    "count": [("s", (), {}), ("x", (), {})],
    "describe": [("x", (), {})],
    "drop_duplicates": [("s", (), {})],
    "dropna": [("x", (), {})],
    "ffill": [("x", (), {})],
    "get_partition": [("s", (0,), {})],
    "head": [("s", (), {"compute": False})],
    "isin": [("s", (["ab"],), {})],
    "isna": [("x", (), {})],
    "isnull": [("x", (), {})],
    "map": [("s", ({"ab": 1, "cd": 2},), {}), ("i", (lambda v: v * 2,), {})],
    "map_partitions": [("x", (lambda p: p + 1,), {}), ("i", (lambda p: p,), {"meta": ("s", "i8")})],
    "mask": [("x", (_cond,), {})],
    "max": [("x", (), {}), ("t", (), {}), ("s", (), {})],
    "min": [("x", (), {}), ("t", (), {}), ("s", (), {})],
    "notna": [("x", (), {})],
    "notnull": [("x", (), {})],
    "nunique": [("s", (), {})],
    "quantile": [("x", (0.5,), {}), ("x", ([0.25, 0.75],), {})],
    "rename": [("x", ("z",), {})],
    "repartition": [("x", (), {"npartitions": 2})],
    "replace": [("i", (1, 2), {})],
    "reset_index": [("x", (), {})],
    "sample": [("x", (), {"frac": 0.5, "random_state": 1})],
    "sort_values": [("x", (), {})],
    "sum": [("x", (), {}), ("i", (), {}), ("b", (), {})],
    "tail": [("x", (), {"compute": False})],
    "to_frame": [("x", (), {}), ("x", (), {"name": "w"})],
    "unique": [("s", (), {})],
    "value_counts": [("s", (), {}), ("c", (), {}), ("i", (), {"normalize": True})],
    "where": [("x", (_cond,), {})],
    "corr": [("x", (_self,), {})],
    "cov": [("x", (_self,), {})],
    "autocorr": [("x", (), {})],
    "mode": [("i", (), {}), ("s", (), {})],
    "nlargest": [("x", (3,), {})],
    "nsmallest": [("i", (3,), {})],
    "nunique_approx": [("s", (), {})],
    "memory_usage": [("s", (), {}), ("x", (), {"index": False})],
    "memory_usage_per_partition": [("x", (), {})],
    "pipe": [("x", (lambda v: v + 1,), {})],
    "shift": [("s", (), {}), ("t", (2,), {})],
    "explode": [("s", (), {})],
}
SERIES_NOT_CALLED = {
    **{k: v for k, v in FRAME_NOT_CALLED.items() if k not in {"columns", "dtypes", "size"}},
    "name": "attribute",
    "dtype": "attribute",
    "str": "accessor, checked in test_accessor_meta",
    "dt": "accessor, checked in test_accessor_meta",
    "cat": "accessor, checked in test_accessor_meta",
    "size": "attribute, checked in test_dataframe_methods_api",
    "nbytes": "attribute, checked in test_dataframe_methods_api",
    "is_monotonic_increasing": "attribute, checked in test_dataframe_methods_api",
    "is_monotonic_decreasing": "attribute, checked in test_dataframe_methods_api",
}


def test_every_series_method_is_checked():
    missing = _public(dd.Series) - set(SERIES_CALLS) - set(SERIES_NOT_CALLED)
    assert not missing, f"Series methods without a metadata check: {sorted(missing)}"


@pytest.fixture(scope="module")
def series(frames):
    lazy, pdf = frames["full"]
    return {c: (lazy[c], pdf[c]) for c in pdf.columns}


@pytest.mark.parametrize(
    ("method", "column", "args", "kwargs"),
    [(m, *call) for m, calls in SERIES_CALLS.items() for call in calls],
    ids=[f"{m}-{k}" for m, calls in SERIES_CALLS.items() for k in range(len(calls))],
)
def test_series_method_meta(series, method, column, args, kwargs):
    _check_call(series, method, column, args, kwargs)


def test_map_partitions_meta_renames_like_dask():
    """``meta=('s', 'i8')`` names the result ``s`` although the function returns ``a``
    (Dask renames the computed partitions to match the metadata)."""
    s = dd.from_pandas(pd.Series([1, 2, 3], name="a"), npartitions=2)
    result = s.map_partitions(lambda p: p, meta=("s", "i8"))
    assert result.name == "s" and result.compute().name == "s"
    frame = dd.from_pandas(pd.DataFrame({"a": [1, 2, 3]}), npartitions=2)
    renamed = frame.map_partitions(lambda p: p.rename(columns={"a": "b"}), meta={"b": "i8"})
    assert list(renamed.compute().columns) == ["b"]
    wrong = frame.map_partitions(lambda p: p.assign(z=1), meta={"a": "i8"})
    with pytest.raises(ValueError, match="columns in the computed data do not match"):
        wrong.compute()


def test_map_partitions_empty_partitions_take_the_meta_dtypes():
    frame = dd.from_pandas(PDF, npartitions=4)
    empty = frame[frame.i > 100].map_partitions(lambda p: p[["s"]], meta={"s": "str"})
    assert_meta_matches(empty, empty.compute())


INDEX_CALLS: dict[str, list] = {
    "min": [((), {})],
    "max": [((), {})],
    "any": [((), {})],
    "all": [((), {})],
    "count": [((), {})],
    "nunique": [((), {})],
    "unique": [((), {})],
    "value_counts": [((), {})],
    "drop_duplicates": [((), {})],
    "to_series": [((), {})],
    "to_frame": [((), {})],
    "isna": [((), {})],
    "notna": [((), {})],
    "isin": [(([3, 6],), {})],
    "round": [((), {})],
    "astype": [(("float64",), {})],
    "map": [((lambda v: v * 2,), {})],
    "head": [((), {"compute": False})],
    "max-of-datetime": [((), {})],
    "min-of-string": [((), {})],
    "quantile": [((0.5,), {})],
}


@pytest.mark.parametrize(("method", "args", "kwargs"), [(m, *c[0]) for m, c in INDEX_CALLS.items()])
@pytest.mark.parametrize("nparts", [1, 4])
def test_index_method_meta(method, args, kwargs, nparts):
    """Index reductions take pandas' Index arguments (no ``numeric_only``)."""
    pdf = PDF
    if method.endswith("datetime"):
        pdf = PDF.set_index("t")
    elif method.endswith("string"):
        pdf = PDF.set_index("s").sort_index()
    method = method.split("-")[0]
    lazy_index = dd.from_pandas(pdf, npartitions=nparts).index
    result = getattr(lazy_index, method)(*args, **kwargs)
    computed = result.compute()
    assert_meta_matches(result, computed)
    if method in {"min", "max", "any", "all", "nunique"}:
        assert computed == getattr(pdf.index, method)(*args, **kwargs)
    elif hasattr(pdf.index, method) and method not in {"head"}:
        expected = getattr(pdf.index, method)(*args, **kwargs)
        if isinstance(expected, pd.Index | pd.Series):
            assert_like_pandas(computed, expected)


_INDEX_TRIED = sorted(_public(dd.Index) - set(INDEX_CALLS) - set(SERIES_NOT_CALLED))


@pytest.mark.parametrize(
    "method",
    [
        pytest.param(
            m,
            marks=pytest.mark.xfail(
                reason="shuffle.sort_values of an Index computes a Series", strict=True
            ),
        )
        if m == "sort_values"
        else m
        for m in _INDEX_TRIED
    ],
)
def test_every_index_method_fails_early_or_agrees_with_its_meta(method):
    """Each Series method an Index has either raises when called, as pandas' Index
    method would (most arithmetic methods and reductions do not exist there), or
    computes what its metadata says."""
    lazy = dd.from_pandas(PDF, npartitions=3).index
    _, args, kwargs = SERIES_CALLS.get(method, [("x", (), {})])[0]
    args = tuple(a(lazy) if a in (_cond, _self) else a for a in args)
    try:
        result = getattr(lazy, method)(*args, **kwargs)
    except (AttributeError, TypeError, NotImplementedError):
        return
    assert_meta_matches(result, result.compute())


@pytest.mark.parametrize("method", ["sum", "prod", "mean", "std", "var", "sample"])
def test_index_has_no_series_only_reductions(method):
    """As in pandas and Dask, an Index has no sum/prod/mean/std/var."""
    index = dd.from_pandas(PDF, npartitions=2).index
    assert not hasattr(index, method)
    with pytest.raises(AttributeError, match=method):
        getattr(index, method)


# --- groupby, windows, joins, indexers, accessors ------------------------------------

GROUPBY_CALLS = {
    "agg": [(({"x": "sum", "i": ["min", "max"]},), {})],
    "aggregate": [(("mean",), {})],
    "apply": [((lambda g: g.x.sum(),), {})],
    "count": [((), {})],
    "first": [((), {})],
    "last": [((), {})],
    "max": [((), {})],
    "mean": [((), {})],
    "min": [((), {})],
    "nunique": [((), {})],
    "prod": [((), {})],
    "size": [((), {})],
    "std": [((), {})],
    "sum": [((), {})],
    "transform": [(("sum",), {})],
    "var": [((), {})],
    "bfill": [((), {})],
    "ffill": [((), {})],
    "cumcount": [((), {})],
    "cumprod": [((), {})],
    "cumsum": [((), {})],
    "median": [((), {})],
    "idxmax": [((), {})],
    "idxmin": [((), {})],
    "head": [((2,), {})],
    "tail": [((2,), {})],
    "shift": [((1,), {})],
    "get_group": [(("cd",), {})],
    "corr": [((), {})],
    "cov": [((), {})],
    "rolling": [((2,), {})],  # then .sum(): a window object is not a result
    "value_counts": [((), {})],  # SeriesGroupBy only
    "unique": [((), {})],  # SeriesGroupBy only
}


def test_every_groupby_method_is_checked():
    for cls in (DataFrameGroupBy, SeriesGroupBy):
        missing = _public(cls) - set(GROUPBY_CALLS)
        assert not missing, f"{cls.__name__} methods without a metadata check: {missing}"


@pytest.mark.parametrize(
    ("method", "args", "kwargs"), [(m, *c[0]) for m, c in GROUPBY_CALLS.items()]
)
@pytest.mark.parametrize("selection", ["frame", "series"])
def test_groupby_meta(method, args, kwargs, selection):
    lazy = dd.from_pandas(PDF[["i", "x", "s"]], npartitions=4)
    pdf = PDF[["i", "x", "s"]]
    if selection == "series":
        if method in {"agg"}:
            args = (["sum", "max"],)
        if method == "apply":
            args = (lambda g: g.sum(),)
        lazy_gb, pdf_gb = lazy.groupby("s").x, pdf.groupby("s").x
    else:
        lazy_gb, pdf_gb = lazy.groupby("s"), pdf.groupby("s")
    if selection == "frame" and method in {"value_counts", "unique"}:
        lazy_gb, pdf_gb = lazy_gb.x, pdf_gb.x  # only SeriesGroupBy has them
    if selection == "series" and method in {"corr", "cov"}:
        # pandas' SeriesGroupBy.corr/cov need another series; taskloom refuses them.
        with pytest.raises(NotImplementedError):
            getattr(lazy_gb, method)(*args, **kwargs)
        return
    result = getattr(lazy_gb, method)(*args, **kwargs)
    expected = getattr(pdf_gb, method)(*args, **kwargs)
    if method == "rolling":
        result, expected = result.sum(), expected.sum()
    computed = result.compute()
    assert_meta_matches(result, computed)
    if method not in {"apply", "transform"}:
        assert_like_pandas(computed, expected)


def test_window_meta():
    lazy = dd.from_pandas(PDF[["i", "x", "t"]].set_index("t"), npartitions=4)
    for result in (
        lazy.rolling(3).sum(),
        lazy.rolling("10h").mean(),
        lazy.x.rolling(2).max(),
        lazy.rolling(3).apply(np.sum, raw=True),
        lazy.resample("1D").sum(),
        lazy.x.resample("1D").mean(),
    ):
        assert_meta_matches(result, result.compute())


def test_multi_meta():
    left = dd.from_pandas(PDF[["i", "x"]], npartitions=3)
    right = dd.from_pandas(PDF[["s"]].rename(columns={"s": "r"}), npartitions=2)
    keyed = dd.from_pandas(pd.DataFrame({"i": [0, 1, 2], "w": ["p", "q", "r"]}), npartitions=2)
    for result in (
        left.join(right),
        left.merge(keyed, on="i"),
        left.merge(keyed, on="i", how="left"),
        dd.concat([left, left]),
        dd.concat([left, right], axis=1) if hasattr(dd, "concat") else left,
    ):
        assert_meta_matches(result, result.compute())


def test_indexing_meta():
    lazy = dd.from_pandas(PDF, npartitions=4)
    for result in (
        lazy.loc[3:30],
        lazy.loc[lazy.i > 0],
        lazy.loc[:, ["x", "s"]],
        lazy.loc[6],
        lazy.partitions[1:3],
        lazy[["x", "t"]],
        lazy.x.loc[9:],
        lazy.index,
        lazy[lazy.x > 0].index,
    ):
        assert_meta_matches(result, result.compute())


def test_accessor_meta():
    lazy = dd.from_pandas(PDF, npartitions=4)
    for result in (
        lazy.s.str.upper(),
        lazy.s.str.len(),
        lazy.s.str.contains("a"),
        lazy.t.dt.year,
        lazy.t.dt.floor("1D"),
        lazy.c.cat.codes,
    ):
        assert_meta_matches(result, result.compute())


# --- sources, and columns of every dtype ---------------------------------------------


def test_sources_meta(tmp_path):
    from taskloom import delayed

    pdf = PDF.drop(columns=["c"])
    ddf = dd.from_pandas(pdf, npartitions=3)
    ddf.to_csv(str(tmp_path / "csv-*.csv"))
    ddf.to_parquet(str(tmp_path / "pq"))
    parts = [delayed(lambda i: pdf.iloc[i * 10 : (i + 1) * 10])(i) for i in range(4)]
    for result in (
        dd.read_csv(str(tmp_path / "csv-*.csv")),
        dd.read_parquet(str(tmp_path / "pq")),
        dd.read_parquet(str(tmp_path / "pq"), columns=["x", "s"]),
        dd.from_array(np.arange(12.0).reshape(6, 2), chunksize=4, columns=["a", "b"]),
        dd.from_array(np.arange(5), chunksize=2),
        dd.from_delayed(parts, meta=pdf.iloc[:0]),
        dd.from_dict({"a": range(7), "b": list("abcdefg")}, npartitions=3),
        dd.from_pandas(pdf.x, chunksize=7),
    ):
        assert_meta_matches(result, result.compute())


ODD_OPERATIONS = {
    "identity": lambda d: d,
    "head": lambda d: d.head(2, compute=False),
    "isna": lambda d: d.isna(),
    "filter": lambda d: d[d.x > 2],
    "empty-filter": lambda d: d[d.x > 100],
    "index": lambda d: d.index,
    "column": lambda d: d.odd,
    "column-isna": lambda d: d.odd.isna(),
    "count": lambda d: d.count(),
    "assign": lambda d: d.assign(z=d.x * 2),
    "repartition": lambda d: d.repartition(npartitions=1),
    "map_partitions": lambda d: d.map_partitions(lambda p: p.iloc[::-1]),
    "drop": lambda d: d.drop(columns=["odd"]),
    "concat": lambda d: dd.concat([d, d]),
}


@pytest.mark.parametrize("operation", list(ODD_OPERATIONS))
def test_columns_of_every_dtype_meta(operation):
    """The meta of operations on frames holding any kind of column (the kinds of
    test_dataframe_dtypes) is what the partitions hold."""
    from test_dataframe_dtypes import COLUMNS

    failures = {}
    for name, values in COLUMNS.items():
        pdf = pd.DataFrame({"odd": values, "x": [1.0, 2.0, 3.0, 4.0]})
        lazy = ODD_OPERATIONS[operation](dd.from_pandas(pdf, npartitions=2))
        try:
            assert_meta_matches(lazy, lazy.compute())
        except AssertionError as e:
            failures[name] = str(e)[:200]
    assert not failures, failures


# --- random frames --------------------------------------------------------------------

_POOL = {
    "int": lambda rng, n: rng.integers(-5, 5, n),
    "float": lambda rng, n: np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
    "str": lambda rng, n: pd.array(
        np.where(rng.random(n) < 0.2, None, rng.choice(["a", "b", "c"], n)), dtype="str"
    ),
    "bool": lambda rng, n: rng.random(n) < 0.5,
    "time": lambda rng, n: pd.Timestamp("2000") + pd.to_timedelta(rng.integers(0, 99, n), "h"),
    "category": lambda rng, n: pd.Categorical(rng.choice(["u", "v", "w"], n)),
    "Int64": lambda rng, n: pd.array(
        np.where(rng.random(n) < 0.2, None, rng.integers(0, 9, n)), dtype="Int64"
    ),
}

RANDOM_OPERATIONS = {
    "filter": lambda d: d[d.key > 0],
    "isna": lambda d: d.isna(),
    "notna-column": lambda d: d.c0.notna(),
    "dropna": lambda d: d.dropna(),
    "count": lambda d: d.count(),
    "nunique": lambda d: d.nunique(),
    "head": lambda d: d.head(3, compute=False) if isinstance(d, dd.DataFrame) else d.head(3),
    "value_counts": lambda d: d.c0.value_counts(),
    "max-numeric": lambda d: d.max(numeric_only=True),
    "sum-numeric": lambda d: d.sum(numeric_only=True),
    "mean-numeric": lambda d: d.mean(numeric_only=True),
    "drop_duplicates": lambda d: d.drop_duplicates(),
    "assign": lambda d: d.assign(k2=d.key * 2),
    "getitem": lambda d: d[["key", "c0"]],
}
PARTITION_DEPENDENT = {"head"}
# pandas' reductions of no rows give NaN, so their dtype depends on emptiness
# (max of an Int64 column: Int64, or Float64 with no rows).
REDUCTIONS = {"max-numeric", "sum-numeric", "mean-numeric"}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(st.sampled_from(sorted(_POOL)), min_size=1, max_size=4),
    n=st.integers(0, 30),
    nparts=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_random_frames_meta_and_values(kinds, n, nparts, seed):
    """Random columns of random kinds: each operation's computed result matches its
    meta and pandas' result (names, dtypes and values)."""
    rng = np.random.default_rng(seed)
    data = {"key": rng.integers(-3, 3, n)}
    data.update({f"c{i}": _POOL[k](rng, n) for i, k in enumerate(kinds)})
    pdf = pd.DataFrame(data, index=pd.Index(np.arange(n) * 2, name="idx"))
    lazy = dd.from_pandas(pdf, npartitions=nparts)
    for name, operation in RANDOM_OPERATIONS.items():
        try:
            expected = operation(pdf)
        except (TypeError, ValueError):
            with pytest.raises((TypeError, ValueError)):
                operation(lazy).compute()
            continue
        result = operation(lazy)
        computed = result.compute()
        if n or name not in REDUCTIONS:
            assert_meta_matches(result, computed)
        if name in PARTITION_DEPENDENT:
            continue
        if name == "drop_duplicates":
            expected = expected.sort_index()
            computed = computed.sort_index()
        if name in {"value_counts"}:
            expected = expected.sort_index()
            computed = computed.sort_index()
        if not n and name in REDUCTIONS:
            # No rows: pandas changes the dtype (see REDUCTIONS); the same labels and
            # missing values all the same (NaN or NA by dtype).
            assert computed.index.tolist() == expected.index.tolist()
            assert computed.isna().tolist() == expected.isna().tolist()
        elif isinstance(expected, pd.DataFrame):
            tm.assert_frame_equal(computed, expected, check_index_type=False)
        else:
            tm.assert_series_equal(computed, expected, check_index_type=False, rtol=1e-9)


@pytest.mark.parametrize("how", ["sum", "prod", "min", "max"])
@pytest.mark.parametrize("nparts", [1, 2, 4])
def test_reductions_with_skipna_false_keep_missing_values(how, nparts):
    """A partition's missing partial is not skipped when the whole reduction does not
    skip (it was: max(skipna=False) gave 4.0 where pandas gives NaN)."""
    pdf = pd.DataFrame(
        {
            "a": [1.0, np.nan, 3.0, 4.0, 5.0, 6.0],
            "n": pd.array([1, 2, None, 4, 5, 6], dtype="Int64"),
            "t": pd.to_datetime(["2000", None, "2001", "2002", "2003", "2004"]),
        }
    )
    columns = ["a", "n"] if how in ("sum", "prod") else ["a", "n", "t"]
    lazy = dd.from_pandas(pdf[columns], npartitions=nparts)
    for skipna in (True, False):
        result = getattr(lazy, how)(skipna=skipna)
        computed = result.compute()
        assert_meta_matches(result, computed)
        tm.assert_series_equal(computed, getattr(pdf[columns], how)(skipna=skipna))
        series = getattr(lazy.a, how)(skipna=skipna).compute()
        expected = getattr(pdf.a, how)(skipna=skipna)
        assert (np.isnan(series) and np.isnan(expected)) or series == expected
