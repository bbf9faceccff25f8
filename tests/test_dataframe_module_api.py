"""Module-level functions of taskloom.dataframe (conversions, reshaping, merge_asof,
map_overlap), checked against pandas on random inputs and against Dask's signatures."""

from __future__ import annotations

import inspect

import dask.dataframe as ddask
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taskloom.dataframe as dd

SETTINGS = settings(max_examples=20, deadline=None)


@pytest.mark.parametrize(
    "name",
    [
        "to_datetime",
        "to_numeric",
        "to_timedelta",
        "melt",
        "get_dummies",
        "pivot_table",
        "merge_asof",
        "map_overlap",
    ],
)
def test_signature_matches_dask(name):
    ours = inspect.signature(getattr(dd, name)).parameters
    theirs = inspect.signature(getattr(ddask, name)).parameters
    assert list(ours) == list(theirs)
    for p in theirs:
        if p in ("exact",):  # pandas' own no_default sentinel
            continue
        assert repr(ours[p].default) == repr(theirs[p].default) or (
            ours[p].default is inspect.Parameter.empty
        ) == (theirs[p].default is inspect.Parameter.empty), p


def _check_meta(result, computed):
    if isinstance(computed, pd.DataFrame):
        assert list(result._meta.columns) == list(computed.columns)
        assert result._meta.dtypes.tolist() == computed.dtypes.tolist()
    else:
        assert result._meta.dtype == computed.dtype


@SETTINGS
@given(
    st.lists(st.integers(0, 2 * 10**6), min_size=1, max_size=30),
    st.integers(1, 4),
    st.sampled_from(["s", "ms", "D"]),
)
def test_to_datetime_numbers_and_strings(values, nparts, unit):
    s = pd.Series(values)
    got = dd.to_datetime(dd.from_pandas(s, npartitions=nparts), unit=unit)
    want = pd.to_datetime(s, unit=unit)
    out = got.compute()
    pd.testing.assert_series_equal(out, want, check_dtype=False)
    _check_meta(got, out)
    strings = want.dt.strftime("%Y-%m-%d %H:%M:%S")
    got = dd.to_datetime(dd.from_pandas(strings, npartitions=nparts), format="%Y-%m-%d %H:%M:%S")
    out = got.compute()
    pd.testing.assert_series_equal(
        out, pd.to_datetime(strings, format="%Y-%m-%d %H:%M:%S"), check_dtype=False
    )
    _check_meta(got, out)


def test_to_datetime_lazy_and_scalar_passthrough():
    s = dd.from_pandas(pd.Series(["2000-01-01", "not a date"]), npartitions=2)
    lazy = dd.to_datetime(s)  # nothing parsed yet
    with pytest.raises(ValueError):
        lazy.compute()
    coerced = dd.to_datetime(s, errors="coerce", utc=True).compute()
    assert coerced.isna().tolist() == [False, True]
    assert str(coerced.dtype) == "datetime64[us, UTC]"
    assert dd.to_datetime("2000-01-02") == pd.Timestamp("2000-01-02")
    frame = pd.DataFrame({"year": [2000, 2001], "month": [1, 2], "day": [3, 4]})
    got = dd.to_datetime(dd.from_pandas(frame, npartitions=2)).compute()
    pd.testing.assert_series_equal(got, pd.to_datetime(frame), check_dtype=False)


@SETTINGS
@given(
    st.lists(
        st.one_of(st.integers(-1000, 1000).map(str), st.floats(-1e3, 1e3).map(repr), st.just("x")),
        min_size=1,
        max_size=30,
    ),
    st.integers(1, 4),
)
def test_to_numeric_coerce(values, nparts):
    s = pd.Series(values, dtype=object)
    got = dd.to_numeric(dd.from_pandas(s, npartitions=nparts), errors="coerce")
    out = got.compute()
    pd.testing.assert_series_equal(out, pd.to_numeric(s, errors="coerce").astype("float64"))
    _check_meta(got, out)


def test_to_numeric_errors():
    s = dd.from_pandas(pd.Series(["1", "y"]), npartitions=2)
    with pytest.raises(ValueError):
        dd.to_numeric(s).compute()
    with pytest.raises(ValueError, match="errors"):
        dd.to_numeric(s, errors="ignore")
    assert dd.to_numeric("3") == 3
    got = dd.to_numeric(dd.from_pandas(pd.Series(["1", "2"]), 1), downcast="integer", meta="i1")
    assert got.dtype == np.int8 and got.compute().tolist() == [1, 2]


@SETTINGS
@given(st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=30), st.integers(1, 4))
def test_to_timedelta(values, nparts):
    s = pd.Series(values)
    got = dd.to_timedelta(dd.from_pandas(s, npartitions=nparts), unit="s")
    out = got.compute()
    pd.testing.assert_series_equal(out, pd.to_timedelta(s, unit="s"), check_dtype=False)
    _check_meta(got, out)
    strs = dd.to_timedelta(dd.from_pandas(s.astype(str) + "ms", npartitions=nparts))
    out = strs.compute()
    pd.testing.assert_series_equal(out, pd.to_timedelta(s.astype(str) + "ms"), check_dtype=False)
    _check_meta(strs, out)


frames = st.integers(1, 40).flatmap(
    lambda n: st.fixed_dictionaries(
        {
            "k": st.lists(st.integers(0, 3), min_size=n, max_size=n),
            "c": st.lists(st.sampled_from("abc"), min_size=n, max_size=n),
            "v": st.lists(st.integers(-50, 50), min_size=n, max_size=n),
            "w": st.lists(st.floats(-5, 5), min_size=n, max_size=n),
        }
    )
)


@SETTINGS
@given(frames, st.integers(1, 4))
def test_melt(data, nparts):
    pdf = pd.DataFrame(data)
    got = dd.melt(dd.from_pandas(pdf, npartitions=nparts), id_vars="k", value_vars=["v", "w"])
    out = got.compute()
    want = pd.melt(pdf, id_vars="k", value_vars=["v", "w"])
    # rows come partition by partition (as Dask), pandas goes variable by variable
    order = ["variable", "k", "value"]
    pd.testing.assert_frame_equal(
        out.sort_values(order).reset_index(drop=True),
        want.sort_values(order).reset_index(drop=True),
    )
    _check_meta(got, out)
    assert not got.known_divisions


@SETTINGS
@given(frames, st.integers(1, 4), st.booleans())
def test_get_dummies(data, nparts, drop_first):
    pdf = pd.DataFrame(data).astype({"c": pd.CategoricalDtype(list("abc"))})
    got = dd.get_dummies(dd.from_pandas(pdf, npartitions=nparts), drop_first=drop_first)
    out = got.compute()
    pd.testing.assert_frame_equal(out, pd.get_dummies(pdf, drop_first=drop_first))
    _check_meta(got, out)


def test_get_dummies_needs_categories():
    df = dd.from_pandas(pd.DataFrame({"c": ["a", "b"]}), npartitions=1)
    with pytest.raises(NotImplementedError, match="categorical"):
        dd.get_dummies(df)


@SETTINGS
@given(frames, st.integers(1, 4), st.sampled_from(["mean", "sum", "count", "first", "last"]))
def test_pivot_table(data, nparts, how):
    pdf = pd.DataFrame(data).astype({"c": pd.CategoricalDtype(list("abcd"))})
    got = dd.pivot_table(dd.from_pandas(pdf, npartitions=nparts), "k", "c", "w", how)
    out = got.compute()
    want = pdf.pivot_table(index="k", columns="c", values="w", aggfunc=how, observed=False)
    want = want.reindex(columns=pd.CategoricalIndex(list("abcd"), name="c"))
    if how in ("sum", "count"):
        want = want.fillna(0)
    pd.testing.assert_frame_equal(out, want, check_dtype=False, check_column_type=False)
    _check_meta(got, out)


def test_pivot_table_argument_errors():
    pdf = pd.DataFrame({"k": [1], "c": ["a"], "v": [1.0]})
    df = dd.from_pandas(pdf, npartitions=1)
    with pytest.raises(ValueError, match="categorical"):
        dd.pivot_table(df, "k", "c", "v")
    df = dd.from_pandas(pdf.astype({"c": "category"}), npartitions=1)
    with pytest.raises(ValueError, match="aggfunc"):
        dd.pivot_table(df, "k", "c", "v", "median")
    with pytest.raises(KeyError, match="nope"):
        dd.pivot_table(df, "k", "c", "nope")
    with pytest.raises(TypeError, match="DataFrame"):
        dd.pivot_table(pdf, "k", "c", "v")


@SETTINGS
@given(
    st.lists(st.integers(0, 100), min_size=1, max_size=30),
    st.lists(st.integers(0, 100), min_size=1, max_size=30, unique=True),
    st.integers(1, 4),
    st.integers(1, 4),
    st.sampled_from(["backward", "forward", "nearest"]),
)
def test_merge_asof(lt, rt, nl, nr, direction):
    left = pd.DataFrame({"t": sorted(lt), "a": range(len(lt))})
    right = pd.DataFrame({"t": sorted(rt), "b": np.arange(len(rt)) * 1.5})
    got = dd.merge_asof(
        dd.from_pandas(left, npartitions=nl),
        dd.from_pandas(right, npartitions=nr),
        on="t",
        direction=direction,
    )
    out = got.compute()
    want = pd.merge_asof(left, right, on="t", direction=direction)
    pd.testing.assert_frame_equal(out.reset_index(drop=True), want)
    _check_meta(got, out)


def test_merge_asof_on_index_keeps_divisions():
    left = pd.DataFrame({"a": range(10)}, index=range(0, 20, 2))
    right = pd.DataFrame({"b": range(7)}, index=range(0, 21, 3))
    ldd = dd.from_pandas(left, npartitions=3)
    got = dd.merge_asof(ldd, dd.from_pandas(right, 2), left_index=True, right_index=True)
    assert got.divisions == ldd.divisions
    pd.testing.assert_frame_equal(
        got.compute(), pd.merge_asof(left, right, left_index=True, right_index=True)
    )
    with pytest.raises(ValueError, match="direction"):
        dd.merge_asof(ldd, ldd, on="a", direction="sideways")


@SETTINGS
@given(
    st.lists(st.floats(-100, 100), min_size=6, max_size=40),
    st.integers(1, 3),
    st.integers(0, 2),
    st.integers(0, 2),
)
def test_map_overlap_rows(values, nparts, before, after):
    pdf = pd.DataFrame({"x": values})
    df = dd.from_pandas(pdf, npartitions=nparts)
    window = before + after + 1

    def f(p):
        return p.rolling(window, center=False).sum().shift(-after)

    got = dd.map_overlap(f, df, before, after)  # partitions hold >= 2 rows
    out = got.compute()
    want = f(pdf)
    # rows at the ends of the whole frame see the same partial windows as pandas
    pd.testing.assert_frame_equal(out, want)
    assert got.divisions == df.divisions


def test_map_overlap_timedelta_and_errors():
    idx = pd.date_range("2000", periods=20, freq="1s")
    pdf = pd.DataFrame({"x": np.arange(20.0)}, index=idx)
    df = dd.from_pandas(pdf, npartitions=4)
    got = dd.map_overlap(lambda p: p.rolling("3s").sum(), df, "3s", 0).compute()
    pd.testing.assert_frame_equal(got, pdf.rolling("3s").sum())
    # windows longer than a partition reach past it (Dask raises; the rows are right)
    small = dd.from_pandas(pd.DataFrame({"x": range(4)}), npartitions=4)
    got = dd.map_overlap(lambda p: p.rolling(3).sum(), small, 2, 0).compute()
    pd.testing.assert_frame_equal(got, pd.DataFrame({"x": range(4)}).rolling(3).sum())
    with pytest.raises(ValueError, match="before"):
        dd.map_overlap(lambda p: p, small, -1, 0)


@pytest.mark.parametrize("name", ["isna", "repartition", "to_bag", "concat"])
def test_more_signatures_match_dask(name):
    ours = inspect.signature(getattr(dd, name)).parameters
    theirs = inspect.signature(getattr(ddask, name)).parameters
    assert list(ours) == list(theirs)
    assert [repr(p.default) for p in ours.values()] == [repr(p.default) for p in theirs.values()]


@SETTINGS
@given(frames, st.integers(1, 4), st.booleans(), st.sampled_from(["tuple", "dict"]))
def test_to_bag_against_dask(data, nparts, index, fmt):
    pdf = pd.DataFrame(data)
    got = dd.to_bag(dd.from_pandas(pdf, npartitions=nparts), index=index, format=fmt)
    want = ddask.to_bag(ddask.from_pandas(pdf, npartitions=nparts), index=index, format=fmt)
    assert got.npartitions == dd.from_pandas(pdf, npartitions=nparts).npartitions
    assert got.compute() == want.compute(scheduler="sync")
    s = dd.from_pandas(pdf.v, npartitions=nparts)
    assert dd.to_bag(s, index=index).compute() == (list(pdf.v.items()) if index else pdf.v.tolist())


@SETTINGS
@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=True)), min_size=1, max_size=30))
def test_isna(values):
    s = pd.Series(values, dtype="float64")
    got = dd.isna(dd.from_pandas(s, npartitions=3))
    pd.testing.assert_series_equal(got.compute(), pd.isna(s))
    assert dd.isna(None) and not dd.isna(1.0)


def test_repartition_module_level():
    pdf = pd.DataFrame({"x": range(10)})
    df = dd.repartition(dd.from_pandas(pdf, npartitions=2), [0, 3, 6, 9])
    assert df.divisions == (0, 3, 6, 9)
    pd.testing.assert_frame_equal(df.compute(), pdf)
    with pytest.raises(TypeError, match="taskloom collection"):
        dd.repartition(pdf, [0, 9])
    with pytest.raises(ValueError, match="format"):
        dd.to_bag(dd.from_pandas(pdf, 1), format="list")


def test_concat_keywords():
    a = dd.from_pandas(pd.DataFrame({"x": [1, 2]}), npartitions=1)
    b = dd.from_pandas(pd.DataFrame({"x": [3]}), npartitions=1)
    got = dd.concat([a, b], ignore_order=True, ignore_index=True).compute()
    # each partition numbers its rows from 0, as reset_index does in Dask
    assert got.index.tolist() == [0, 1, 0] and got.x.tolist() == [1, 2, 3]
    with pytest.raises(TypeError, match="keys"):
        dd.concat([a, b], keys=["a", "b"])


def test_get_collection_type():
    assert dd.get_collection_type(pd.DataFrame()) is dd.DataFrame
    assert dd.get_collection_type(pd.Series([], dtype="f8")) is dd.Series
    assert dd.get_collection_type(pd.Index([])) is dd.Index
    assert dd.get_collection_type(1.5) is dd.Scalar


@SETTINGS
@given(frames, st.integers(1, 4))
def test_assert_eq_passes_and_fails(data, nparts):
    pdf = pd.DataFrame(data)
    df = dd.from_pandas(pdf, npartitions=nparts)
    assert dd.assert_eq(df, pdf)
    assert dd.assert_eq(df.v, pdf.v)
    assert dd.assert_eq(df.v.sum(), pdf.v.sum())
    with pytest.raises(AssertionError):
        dd.assert_eq(df.v + 1, pdf.v)
    # metadata that disagrees with the data is caught
    lying = df.map_partitions(lambda p: p.astype({"v": "f8"}), meta=pdf.iloc[:0])
    with pytest.raises(AssertionError, match="dtypes"):
        dd.assert_eq(lying, pdf.astype({"v": "f8"}))


@pytest.mark.parametrize("dtype", ["int64", "float64", "int32"])
@pytest.mark.parametrize("unit", [None, "ns"])
def test_to_datetime_numbers_in_nanoseconds_keep_their_precision(dtype, unit):
    """pandas gives empty numbers a seconds unit but values nanoseconds: the metadata
    came from the empty one and every partition was cast to seconds (1ns became 0)."""
    s = pd.Series([1, 2, 3, 1_600_000_000], dtype=dtype)
    got = dd.to_datetime(dd.from_pandas(s, npartitions=2), unit=unit)
    out = got.compute()
    pd.testing.assert_series_equal(out, pd.to_datetime(s, unit=unit))
    _check_meta(got, out)


def test_concat_interleaved_partitions_are_sorted_by_the_index():
    """Interleaved partitions hold rows of several frames: they are sorted by the index
    as their known divisions promise (``loc`` slices raised KeyError on them)."""
    a = pd.DataFrame({"x": range(10)}, index=range(0, 20, 2))
    b = pd.DataFrame({"x": range(10, 18)}, index=range(3, 19, 2))
    got = dd.concat(
        [dd.from_pandas(a, npartitions=3), dd.from_pandas(b, npartitions=2)],
        interleave_partitions=True,
    )
    want = pd.concat([a, b]).sort_index(kind="stable")
    pd.testing.assert_frame_equal(got.compute(), want)
    for i in range(got.npartitions):
        assert got.get_partition(i).compute().index.is_monotonic_increasing
    pd.testing.assert_frame_equal(got.loc[3:9].compute(), want.loc[3:9])


def test_parsed_nanoseconds_are_not_truncated_to_the_metadata_unit():
    """Parsed strings get microseconds in the metadata; a partition pandas parses to
    nanoseconds was cast down silently (1ns became 0): now an error, and values that fit
    are still cast."""
    ns = pd.Series(["2020-01-01 00:00:00.000000001", "2020-01-02 00:00:00.000000000"])
    with pytest.raises(ValueError, match="lose precision"):
        dd.to_datetime(dd.from_pandas(ns, npartitions=2)).compute()
    with pytest.raises(ValueError, match="lose precision"):
        dd.to_timedelta(dd.from_pandas(pd.Series(["1s", "3ns"]), npartitions=2)).compute()
    fine = pd.Series(["1s", None, "3ms"])
    got = dd.to_timedelta(dd.from_pandas(fine, npartitions=2)).compute()
    pd.testing.assert_series_equal(got, pd.to_timedelta(fine), check_dtype=False)
