"""Groupby methods under Dask's ``dask.dataframe.api`` names, checked against pandas on
random frames: several partitions, empty ones, NaN values and keys, groups spanning
partitions; and each result's metadata against its computed data."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pandas.testing as tm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_dataframe_meta import assert_meta_matches

import taskloom.dataframe as dd
from taskloom.dataframe import api
from taskloom.dataframe.groupby import DataFrameGroupBy

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def frames(draw, nan_keys: bool = False):
    """``(pandas frame, taskloom frame)``; the taskloom one drops the rows whose
    ``keep`` is False after partitioning, so some partitions may be empty."""
    n = draw(st.integers(0, 30))
    keys = draw(
        st.lists(
            st.one_of(st.integers(0, 3), st.just(None)) if nan_keys else st.integers(0, 3),
            min_size=n,
            max_size=n,
        )
    )
    x = draw(st.lists(st.one_of(st.floats(-10, 10), st.just(float("nan"))), min_size=n, max_size=n))
    y = draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n))
    keep = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    pdf = pd.DataFrame(
        {
            "k": pd.array(keys, dtype="float64"),
            "x": np.array(x, dtype="float64"),
            "y": np.array(y, dtype="int64"),
            "keep": np.array(keep, dtype=bool),
        },
        index=pd.Index(np.arange(n) * 3, name="i"),
    )
    nparts = draw(st.integers(1, 4))
    ddf = dd.from_pandas(pdf, npartitions=nparts)
    ddf = ddf[ddf.keep].drop(columns="keep")
    return pdf[pdf.keep].drop(columns="keep"), ddf


def check(lazy, expected, sort_rows: bool = True, meta: bool = True, **kwargs):
    got = lazy.compute()
    if meta:
        assert_meta_matches(lazy, got)
    if not len(expected):
        # pandas shapes some results of no rows differently (cov: no column level).
        assert not len(got)
        return
    if sort_rows:
        got, expected = got.sort_index(), expected.sort_index()
    if isinstance(expected, pd.DataFrame):
        tm.assert_frame_equal(got, expected, check_index_type=False, **kwargs)
    else:
        tm.assert_series_equal(got, expected, check_index_type=False, **kwargs)


def test_api_names_are_the_groupby_and_rolling_classes():
    df = dd.from_pandas(pd.DataFrame({"k": [1, 2], "x": [1.0, 2.0]}), npartitions=1)
    assert isinstance(df.groupby("k"), api.GroupBy)
    assert isinstance(df.groupby("k").x, api.GroupBy)
    assert isinstance(df.groupby("k").x, api.SeriesGroupBy)
    assert not isinstance(df.groupby("k"), api.SeriesGroupBy)
    assert isinstance(df.rolling(2), api.Rolling)


@pytest.mark.parametrize(
    "name",
    [
        "apply", "bfill", "ffill", "cumcount", "cumprod", "cumsum", "get_group", "cov",
        "corr", "idxmin", "idxmax", "rolling", "transform", "head", "tail", "median", "shift",
        "sum", "prod", "mean", "var", "std", "min", "max", "count", "first", "last", "size",
        "aggregate",
    ],
)  # fmt: skip
def test_signatures_match_dask(name):
    """Same parameters, kinds and defaults as Dask's GroupBy."""
    from dask.dataframe.api import GroupBy as DaskGroupBy

    ours = inspect.signature(getattr(api.GroupBy, name))
    theirs = inspect.signature(getattr(DaskGroupBy, name))
    assert [(p.name, p.kind, repr(p.default)) for p in ours.parameters.values()] == [
        (p.name, p.kind, repr(p.default)) for p in theirs.parameters.values()
    ]


@SETTINGS
@given(frames(nan_keys=True), st.sampled_from(["cumsum", "cumprod", "cumcount"]))
def test_cumulative_keep_partitions_and_match_pandas(data, how):
    pdf, ddf = data
    for lazy, expected in (
        (getattr(ddf.groupby("k"), how)(), getattr(pdf.groupby("k"), how)()),
        (getattr(ddf.groupby("k").x, how)(), getattr(pdf.groupby("k").x, how)()),
        (getattr(ddf.groupby(ddf.y).x, how)(), getattr(pdf.groupby(pdf.y).x, how)()),
    ):
        assert lazy.npartitions == ddf.npartitions
        # pandas gives rows of missing keys NaN, making integer results float: a dtype
        # no metadata can foresee (Dask's neither), so only the values are compared.
        nan_keys = bool(pdf.k.isna().any())
        # Row order kept: no sorting before comparing.
        check(lazy, expected, sort_rows=False, meta=not nan_keys, check_dtype=not nan_keys)


@SETTINGS
@given(frames(nan_keys=True), st.sampled_from(["ffill", "bfill"]), st.sampled_from([None, 1]))
def test_fills_match_pandas(data, how, limit):
    pdf, ddf = data
    exact = not pdf.k.isna().any()  # see test_cumulative_keep_partitions_and_match_pandas
    check(
        getattr(ddf.groupby("k"), how)(limit=limit),
        getattr(pdf.groupby("k"), how)(limit=limit),
        meta=exact,
        check_dtype=exact,
    )
    check(
        getattr(ddf.groupby("k").x, how)(limit=limit),
        getattr(pdf.groupby("k").x, how)(limit=limit),
    )


@SETTINGS
@given(frames(nan_keys=True), st.integers(-2, 2))
def test_shift_matches_pandas(data, periods):
    pdf, ddf = data
    check(ddf.groupby("k").shift(periods), pdf.groupby("k").shift(periods))
    check(ddf.groupby("k").x.shift(periods=periods), pdf.groupby("k").x.shift(periods=periods))


@SETTINGS
@given(frames(), st.sampled_from(["head", "tail"]), st.integers(1, 3))
def test_head_tail_keep_row_order(data, how, n):
    pdf, ddf = data
    check(getattr(ddf.groupby("k"), how)(n), getattr(pdf.groupby("k"), how)(n), sort_rows=False)
    check(
        getattr(ddf.groupby("k").x, how)(n=n),
        getattr(pdf.groupby("k").x, how)(n=n),
        sort_rows=False,
    )


@SETTINGS
@given(frames(nan_keys=True))
def test_per_group_reductions_match_pandas(data):
    pdf, ddf = data
    check(ddf.groupby("k").median(), pdf.groupby("k").median())
    check(ddf.groupby("k").x.median(split_out=1), pdf.groupby("k").x.median())
    check(ddf.groupby("k").y.idxmin(), pdf.groupby("k").y.idxmin(), sort_rows=False)
    check(ddf.groupby("k").y.idxmax(), pdf.groupby("k").y.idxmax(), sort_rows=False)
    check(ddf.groupby("k").cov(), pdf.groupby("k").cov(), sort_rows=False)
    check(ddf.groupby("k").corr(), pdf.groupby("k").corr(), sort_rows=False)
    check(ddf.groupby("k").cov(ddof=0), pdf.groupby("k").cov(ddof=0), sort_rows=False)
    check(ddf.groupby("k").x.value_counts(), pdf.groupby("k").x.value_counts())


@SETTINGS
@given(frames())
def test_unique_matches_pandas(data):
    pdf, ddf = data
    got = ddf.groupby("k").y.unique().compute()
    expected = pdf.groupby("k").y.unique()
    assert list(got.index) == list(expected.index)
    for a, b in zip(got, expected, strict=True):
        assert sorted(a) == sorted(b)


@SETTINGS
@given(frames(), st.integers(0, 4))
def test_get_group_matches_pandas(data, key):
    pdf, ddf = data
    if key not in set(pdf.k):
        # Dask raises only when computing too; the empty result is what pandas raises on.
        assert len(ddf.groupby("k").get_group(float(key)).compute()) == 0
        return
    check(ddf.groupby("k").get_group(float(key)), pdf.groupby("k").get_group(float(key)))
    check(ddf.groupby("k").x.get_group(float(key)), pdf.groupby("k").x.get_group(float(key)))


@SETTINGS
@given(frames(), st.integers(1, 3), st.sampled_from(["sum", "mean", "count", "max", "std"]))
def test_grouped_rolling_matches_pandas(data, window, how):
    pdf, ddf = data
    check(
        getattr(ddf.groupby("k").x.rolling(window), how)(),
        getattr(pdf.groupby("k").x.rolling(window), how)(),
    )
    check(
        getattr(ddf.groupby("k").rolling(window, min_periods=1), how)(),
        getattr(pdf.groupby("k").rolling(window, min_periods=1), how)(),
    )


@SETTINGS
@given(frames())
def test_transform_and_apply_with_series_keys(data):
    pdf, ddf = data
    check(ddf.groupby(ddf.y).x.transform("sum"), pdf.groupby(pdf.y).x.transform("sum"))
    check(
        ddf.groupby("k").x.apply(lambda s: s.max() - s.min()),
        pdf.groupby("k").x.apply(lambda s: s.max() - s.min()),
    )


@SETTINGS
@given(frames(nan_keys=True), st.sampled_from(["sum", "mean", "min", "max", "count", "first",
                                                "last", "std", "var", "size"]))  # fmt: skip
def test_reductions_through_the_api_class_match_pandas(data, how):
    pdf, ddf = data
    gb = ddf.groupby("k")
    assert isinstance(gb, DataFrameGroupBy) and isinstance(gb, api.GroupBy)
    check(getattr(api.GroupBy, how)(gb), getattr(pdf.groupby("k"), how)(), check_dtype=False)
    check(getattr(gb.x, how)(split_out=2), getattr(pdf.groupby("k").x, how)(), check_dtype=False)


def test_errors_name_the_argument():
    df = dd.from_pandas(pd.DataFrame({"k": [1, 2], "x": [1.0, 2.0]}), npartitions=1)
    with pytest.raises(NotImplementedError, match="cov of a SeriesGroupBy"):
        df.groupby("k").x.cov()
    with pytest.raises(ValueError, match="axis"):
        df.groupby("k").rolling(2, axis=1)
    with pytest.raises(ValueError, match="window"):
        df.groupby("k").rolling(-1)


@SETTINGS
@given(frames(nan_keys=True), st.integers(0, 3), st.sampled_from(["sum", "prod"]))
def test_min_count_matches_pandas(data, min_count, how):
    pdf, ddf = data
    check(
        getattr(ddf.groupby("k"), how)(min_count=min_count),
        getattr(pdf.groupby("k"), how)(min_count=min_count),
        meta=False,  # pandas makes ints float only where a group falls short
        check_dtype=False,
    )
    check(
        getattr(ddf.groupby("k").x, how)(min_count=min_count, split_out=2),
        getattr(pdf.groupby("k").x, how)(min_count=min_count),
    )


@SETTINGS
@given(frames(), st.sampled_from(["sum", "mean", "min", "max", "first", "last", "std", "var"]))
def test_numeric_only_drops_other_columns_as_pandas(data, how):
    pdf, ddf = data
    pdf = pdf.assign(s=pdf.y.astype(str))
    ddf = ddf.assign(s=ddf.y.astype(str))
    check(
        getattr(ddf.groupby("k"), how)(numeric_only=True),
        getattr(pdf.groupby("k"), how)(numeric_only=True),
    )


def test_split_out_true_and_errors():
    pdf = pd.DataFrame({"k": np.arange(100) % 7, "x": np.arange(100.0)})
    ddf = dd.from_pandas(pdf, npartitions=31)
    # Dask's choice for one key: one output partition per 15 input ones, rounded up.
    assert ddf.groupby("k").x.sum(split_out=True).npartitions == 3
    check(ddf.groupby("k").x.mean(split_out=True), pdf.groupby("k").x.mean())
    check(ddf.groupby("k").first(sort=False), pdf.groupby("k", sort=False).first())
    with pytest.raises(ValueError, match="split_out"):
        ddf.groupby("k").x.sum(split_out=0)


@pytest.mark.parametrize("name", ["nunique", "value_counts", "unique", "idxmin", "cumsum"])
def test_series_groupby_signatures_match_dask(name):
    from dask.dataframe.api import SeriesGroupBy as DaskSeriesGroupBy

    ours = inspect.signature(getattr(api.SeriesGroupBy, name))
    theirs = inspect.signature(getattr(DaskSeriesGroupBy, name))
    assert [p.name for p in ours.parameters.values()][:4] == [
        p.name for p in theirs.parameters.values()
    ][:4]


@SETTINGS
@given(frames())
def test_matches_dask_where_dask_defines_order(data):
    """Dask's cumcount keeps row order and partitions; head and nunique agree too."""
    import dask.dataframe as dask_dd

    pdf, ddf = data
    theirs = dask_dd.from_pandas(pdf, npartitions=ddf.npartitions)
    tm.assert_series_equal(
        ddf.groupby("k").cumcount().compute(),
        theirs.groupby("k").cumcount().compute(),
        check_index_type=False,
    )
    # Same rows as Dask's head; Dask lists them group by group, pandas and taskloom
    # in row order.
    tm.assert_series_equal(
        ddf.groupby("k").x.head(2).compute().sort_index(),
        theirs.groupby("k").x.head(2).compute().sort_index(),
        check_index_type=False,
    )
    tm.assert_series_equal(
        ddf.groupby("k").y.nunique().compute(),
        theirs.groupby("k").y.nunique().compute().sort_index(),
        check_index_type=False,
    )


@pytest.mark.parametrize("how", ["head", "tail"])
def test_head_tail_negative_n_refused(how):
    """pandas' head(-1) drops each group's last row; a per-partition head cannot know
    which that is, and gave a different answer without an error: now refused."""
    pdf = pd.DataFrame({"k": [1, 1, 2, 1, 2, 1], "x": range(6)})
    gb = dd.from_pandas(pdf, npartitions=2).groupby("k")
    with pytest.raises(NotImplementedError, match="n < 0"):
        getattr(gb, how)(-1)
    with pytest.raises(NotImplementedError, match="n < 0"):
        getattr(gb.x, how)(-1)
    tm.assert_frame_equal(getattr(gb, how)(0).compute(), getattr(pdf.groupby("k"), how)(0))
