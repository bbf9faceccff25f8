"""Issue #16: the Dask DataFrame/Series/Index methods added in the ``methods_*``
modules, each against pandas on random frames with several partitions, empty
partitions and missing values, and against Dask where Dask defines the behaviour."""

from __future__ import annotations

import inspect

import dask.dataframe as dask_dd
import numpy as np
import pandas as pd
import pandas.testing as tm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom.dataframe as dd

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def frames(draw, min_rows=0):
    n = draw(st.integers(min_rows, 30))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n).round(2)
    x[rng.random(n) < 0.2] = np.nan
    pdf = pd.DataFrame(
        {"i": rng.integers(0, 5, n), "x": x, "y": rng.integers(-3, 3, n) * 1.5},
        index=pd.Index(np.arange(n) * 2, name="k"),
    )
    nparts = draw(st.integers(1, 5))
    ddf = dd.from_pandas(pdf, npartitions=nparts)
    if draw(st.booleans()) and n:
        # Empty partitions in the middle: a filter that removes a block of rows.
        lo, hi = sorted(rng.integers(0, 2 * n, 2))
        pdf = pdf[(pdf.index < lo) | (pdf.index >= hi)]
        ddf = ddf.map_partitions(lambda p: p[(p.index < lo) | (p.index >= hi)])
    return pdf, ddf


def _check_meta(lazy, computed):
    meta = lazy._meta
    assert type(computed) is type(meta)
    if isinstance(meta, pd.DataFrame):
        assert list(computed.columns) == list(meta.columns)
        assert (computed.dtypes == meta.dtypes).all(), (computed.dtypes, meta.dtypes)
    elif isinstance(meta, pd.Series):
        assert computed.name == meta.name and computed.dtype == meta.dtype


# --- overlap ----------------------------------------------------------------------


@SETTINGS
@given(frames(), st.integers(-4, 4))
def test_shift_diff_pct_change_cross_partitions(data, periods):
    pdf, ddf = data
    for method in ("shift", "diff", "pct_change"):
        lazy = getattr(ddf, method)(periods)
        got = lazy.compute()
        _check_meta(lazy, got)
        # pandas keeps an int dtype when there is no row to shift in a missing value;
        # the metadata (as Dask's) says float.
        exact = len(pdf) > 0
        tm.assert_frame_equal(got, getattr(pdf, method)(periods), check_dtype=exact)
        tm.assert_series_equal(
            getattr(ddf.x, method)(periods).compute(), getattr(pdf.x, method)(periods)
        )


@SETTINGS
@given(frames(), st.integers(0, 3), st.integers(0, 3))
def test_map_overlap_rows(data, before, after):
    pdf, ddf = data

    def centred(p):
        return p.rolling(before + after + 1, min_periods=1).sum().shift(-after)

    got = ddf.map_overlap(centred, before, after).compute()
    expected = centred(pdf)
    # Only rows whose window lies inside the data agree (the edges see fewer rows).
    tm.assert_frame_equal(got, expected)


@SETTINGS
@given(st.integers(1, 40), st.integers(1, 5), st.integers(1, 5))
def test_map_overlap_time_delta_matches_pandas_rolling(n, nparts, hours):
    idx = pd.date_range("2020-01-01", periods=n, freq="37min")
    pdf = pd.DataFrame({"v": np.arange(n, dtype="f8")}, index=idx)
    ddf = dd.from_pandas(pdf, npartitions=nparts)
    window = pd.Timedelta(hours=hours)
    got = ddf.map_overlap(lambda p: p.rolling(window).sum(), window, 0).compute()
    tm.assert_frame_equal(got, pdf.rolling(window).sum())


def test_overlap_errors_name_the_argument():
    ddf = dd.from_pandas(pd.DataFrame({"a": [1, 2]}), npartitions=1)
    with pytest.raises(ValueError, match="before"):
        ddf.map_overlap(lambda p: p, -1, 0)
    with pytest.raises(TypeError, match="periods"):
        ddf.shift(1.5)
    with pytest.raises(ValueError, match="axis"):
        ddf.diff(axis=1)


def test_pipe():
    ddf = dd.from_pandas(pd.DataFrame({"a": [1, 2]}), npartitions=1)
    assert ddf.pipe(lambda d, k: d.a * k, 2).compute().tolist() == [2, 4]
    assert ddf.pipe((lambda k, d: d.a + k, "d"), 1).compute().tolist() == [2, 3]


# --- statistics -------------------------------------------------------------------


@SETTINGS
@given(frames())
def test_corr_cov_match_pandas(data):
    pdf, ddf = data
    for method in ("corr", "cov"):
        lazy = getattr(ddf, method)()
        got = lazy.compute()
        _check_meta(lazy, got)
        tm.assert_frame_equal(got, getattr(pdf, method)(), atol=1e-8, check_index_type=False)
        tm.assert_frame_equal(
            getattr(ddf, method)(min_periods=5).compute(),
            getattr(pdf, method)(min_periods=5),
            atol=1e-8,
        )
    expected = pdf.x.corr(pdf.y)
    got = ddf.x.corr(ddf.y).compute()
    assert (np.isnan(got) and np.isnan(expected)) or np.isclose(got, expected)
    assert np.isclose(ddf.x.cov(ddf.y).compute(), pdf.x.cov(pdf.y), equal_nan=True)
    assert np.isclose(ddf.x.autocorr(2).compute(), pdf.x.autocorr(2), equal_nan=True)


@SETTINGS
@given(frames(min_rows=1))
def test_mode_nlargest_idx_match_pandas(data):
    pdf, ddf = data
    tm.assert_series_equal(ddf.i.mode().compute(), pdf.i.mode())
    tm.assert_frame_equal(ddf.mode().compute(), pdf.mode())
    for how in ("nlargest", "nsmallest"):
        tm.assert_series_equal(getattr(ddf.x, how)(3).compute(), getattr(pdf.x, how)(3))
        tm.assert_frame_equal(
            getattr(ddf, how)(4, columns=["i", "y"]).compute(), getattr(pdf, how)(4, ["i", "y"])
        )
    if pdf.x.notna().any():
        for how in ("idxmax", "idxmin"):
            assert getattr(ddf.x, how)().compute() == getattr(pdf.x, how)()
            tm.assert_series_equal(getattr(ddf, how)().compute(), getattr(pdf, how)())


@SETTINGS
@given(frames())
def test_sizes_and_sem(data):
    pdf, ddf = data
    assert ddf.x.size.compute() == pdf.x.size
    assert ddf.x.nbytes.compute() == pdf.x.nbytes
    tm.assert_series_equal(ddf.memory_usage(index=False).compute(), pdf.memory_usage(index=False))
    assert ddf.x.memory_usage(index=False).compute() == pdf.x.memory_usage(index=False)
    per = ddf.memory_usage_per_partition(index=False).compute()
    assert len(per) == ddf.npartitions and per.sum() == pdf.memory_usage(index=False).sum()
    tm.assert_series_equal(ddf.sem().compute(), pdf.sem())
    assert np.isclose(ddf.x.sem().compute(), pdf.x.sem(), equal_nan=True)


def test_median_as_dask():
    pdf = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10) % 3})
    ddf, dask_df = dd.from_pandas(pdf, npartitions=3), dask_dd.from_pandas(pdf, npartitions=3)
    with pytest.raises(NotImplementedError, match="median_approximate"):
        ddf.median()
    with pytest.raises(NotImplementedError):
        dask_df.median()
    one = dd.from_pandas(pdf, npartitions=1)
    tm.assert_series_equal(one.median().compute(), pdf.median())
    assert one.a.median().compute() == pdf.a.median()
    # taskloom's quantile sketch is exact below EXACT_LIMIT values; Dask's picks a
    # neighbouring order statistic, so the two agree within one step of the data.
    ours, theirs = ddf.a.median_approximate().compute(), dask_df.a.median_approximate().compute()
    assert ours == pdf.a.median() and abs(ours - theirs) <= 1
    frame = ddf.median_approximate().compute()
    tm.assert_series_equal(frame, pdf.median(), check_names=False)
    tm.assert_index_equal(frame.index, dask_df.median_approximate().compute().index)


@pytest.mark.parametrize(
    ("cls", "dask_cls", "names"),
    [
        (
            dd.DataFrame,
            dask_dd.DataFrame,
            [
                "map_overlap",
                "shift",
                "diff",
                "corr",
                "cov",
                "median",
                "median_approximate",
                "mode",
                "nlargest",
                "nsmallest",
                "idxmax",
                "idxmin",
                "sem",
                "memory_usage",
                "memory_usage_per_partition",
                "pipe",
            ],
        ),
        (
            dd.Series,
            dask_dd.Series,
            [
                "corr",
                "cov",
                "autocorr",
                "mode",
                "nlargest",
                "nsmallest",
                "memory_usage",
                "nunique_approx",
                "median",
                "median_approximate",
                "shift",
                "diff",
            ],
        ),
    ],
)
def test_signatures_match_dask(cls, dask_cls, names):
    for name in names:
        ours = list(inspect.signature(getattr(cls, name)).parameters)
        theirs = list(inspect.signature(getattr(dask_cls, name)).parameters)
        assert ours == theirs, name


# --- conversions ------------------------------------------------------------------


@SETTINGS
@given(frames())
def test_arrays_records_bags_match_pandas(data):
    pdf, ddf = data
    arr = ddf.to_dask_array(lengths=True)
    lengths = tuple(int(v) for v in ddf.map_partitions(len).compute())
    assert arr.chunks == (lengths, (3,))
    np.testing.assert_array_equal(arr.compute(), pdf.to_numpy())
    values = ddf.values
    assert all(np.isnan(c) for c in values.chunks[0]) and values.dtype == pdf.to_numpy().dtype
    np.testing.assert_array_equal(ddf.x.values.compute(), pdf.x.to_numpy())
    np.testing.assert_array_equal(ddf.index.to_dask_array().compute(), pdf.index.to_numpy())
    records = ddf.to_records(index=True)
    tm.assert_frame_equal(
        pd.DataFrame.from_records(records.compute()),
        pd.DataFrame.from_records(pdf.to_records(index=True)),
    )
    assert records.dtype == pdf.to_records(index=True).dtype
    # Tuples compare missing values as unequal (nan != nan): the rest without them.
    pdf, ddf = pdf.fillna(-1.0), ddf.fillna(-1.0)
    bag = ddf.to_bag()
    assert bag.npartitions == ddf.npartitions
    assert bag.compute() == list(pdf.itertuples(index=False, name=None))
    assert ddf.to_bag(index=True, format="dict").compute() == pdf.reset_index().to_dict("records")
    assert ddf.x.to_bag(index=True).compute() == list(pdf.x.items())
    assert [tuple(t) for t in ddf.itertuples()] == [tuple(t) for t in pdf.itertuples()]
    assert [i for i, _ in ddf.iterrows()] == list(pdf.index)


def test_to_dask_array_errors():
    ddf = dd.from_pandas(pd.DataFrame({"a": [1, 2, 3]}), npartitions=2)
    with pytest.raises(ValueError, match="lengths"):
        ddf.to_dask_array(lengths=[3])
    with pytest.raises(ValueError, match="format"):
        ddf.to_bag(format="list")


@SETTINGS
@given(frames(), st.integers(0, 2**16))
def test_random_split_partitions_like_dask(data, seed):
    pdf, ddf = data
    parts = ddf.random_split([0.5, 0.3, 0.2], random_state=seed)
    computed = [p.compute() for p in parts]
    # As Dask: every part keeps the partitioning; each row lands in exactly one part.
    assert all(p.npartitions == ddf.npartitions and p.divisions == ddf.divisions for p in parts)
    tm.assert_frame_equal(pd.concat(computed).sort_index(), pdf.sort_index(), check_dtype=False)
    again = [p.compute() for p in ddf.random_split([0.5, 0.3, 0.2], random_state=seed)]
    for a, b in zip(computed, again, strict=True):
        tm.assert_frame_equal(a, b)
    dask_parts = dask_dd.from_pandas(pdf, npartitions=ddf.npartitions).random_split([0.5, 0.5])
    assert len(dask_parts) == 2


def test_random_split_fractions_and_errors():
    pdf = pd.DataFrame({"a": np.arange(4000)})
    a, b = dd.from_pandas(pdf, npartitions=4).random_split([0.8, 0.2], random_state=0)
    assert 0.75 < len(a) / 4000 < 0.85 and len(a) + len(b) == 4000
    with pytest.raises(ValueError, match="frac"):
        dd.from_pandas(pdf, npartitions=2).random_split([0.5, 0.6])


# --- reshaping --------------------------------------------------------------------


@SETTINGS
@given(frames())
def test_explode_melt_iloc_match_pandas(data):
    pdf, ddf = data
    lists = [[v, v + 1] if v % 2 else [] for v in pdf.i]
    pdf = pdf.assign(lists=pd.Series(lists, index=pdf.index, dtype=object))
    ddf = ddf.assign(lists=ddf.i.map(lambda v: [v, v + 1] if v % 2 else [], meta=("lists", object)))
    # Exploded lists are object columns; pandas infers a dtype for an empty one.
    exact = len(pdf) > 0
    tm.assert_frame_equal(ddf.explode("lists").compute(), pdf.explode("lists"), check_dtype=exact)
    tm.assert_series_equal(ddf.lists.explode().compute(), pdf.lists.explode(), check_dtype=exact)
    melted = ddf.melt(id_vars="i", value_vars=["x", "y"]).compute()
    expected = pdf.melt(id_vars="i", value_vars=["x", "y"])
    key = ["variable", "i", "value"]
    tm.assert_frame_equal(
        melted.sort_values(key, ignore_index=True),
        expected.sort_values(key, ignore_index=True),
        check_dtype=len(pdf) > 0,
    )
    tm.assert_frame_equal(ddf.iloc[:, [0, 2]].compute(), pdf.iloc[:, [0, 2]])
    tm.assert_series_equal(ddf.iloc[:, 1].compute(), pdf.iloc[:, 1])
    with pytest.raises(NotImplementedError, match="iloc"):
        ddf.iloc[0]


def test_categorize_and_known_categories():
    pdf = pd.DataFrame(
        {"s": list("cabca"), "n": range(5), "o": pd.array(list("xyxyz"), dtype=object)},
        index=pd.Index(list("vwxyz"), name="k"),
    )
    ddf = dd.from_pandas(pdf, npartitions=3)
    unknown = ddf.s.astype("category")
    assert not unknown.cat.known
    dask_unknown = dask_dd.from_pandas(pdf, npartitions=3).s.astype("category")
    assert unknown.cat.known == dask_unknown.cat.known
    # A column that is categorical already keeps its (known) categories.
    assert ddf.astype({"s": "category"}).astype("category").s.cat.known is False
    assert dd.from_pandas(pdf.astype({"s": "category"}), 2).astype("category").s.cat.known
    known = unknown.cat.as_known()
    assert known.cat.known
    assert known.compute().cat.categories.tolist() == ["a", "b", "c"]
    # As Dask: known categories come from the metadata, unknown ones cannot be listed.
    assert known.cat.categories.tolist() == ["a", "b", "c"] and not known.cat.ordered
    with pytest.raises(NotImplementedError, match="as_known"):
        _ = unknown.cat.categories
    assert not known.cat.as_unknown().cat.known
    tm.assert_series_equal(known.cat.as_unknown().compute(), known.compute())
    cat = ddf.categorize()
    assert cat.s.cat.known and cat.o.cat.known
    result = cat.compute()
    assert result.s.cat.categories.tolist() == ["a", "b", "c"]
    assert result.o.cat.categories.tolist() == ["x", "y", "z"]
    assert cat.dtypes["s"] == result.dtypes["s"]
    with_index = ddf.categorize(columns=["s"], index=True)
    assert with_index.compute().index.categories.tolist() == list("vwxyz")
    assert isinstance(with_index._meta.index, pd.CategoricalIndex)
    with pytest.raises(KeyError, match="nope"):
        ddf.categorize(columns=["nope"])
    with pytest.raises(AttributeError, match="category"):
        _ = ddf.n.cat.known


def test_small_frame_methods():
    pdf = pd.DataFrame({"a": [1, 2, 3], "b": [4.0, 5.0, 6.0]}, index=pd.Index([0, 1, 2]))
    ddf = dd.from_pandas(pdf, npartitions=2)
    assert ddf.pop("a").compute().tolist() == [1, 2, 3]
    assert list(ddf.columns) == ["b"] and list(ddf.compute().columns) == ["b"]
    tm.assert_series_equal(ddf.squeeze().compute(), pdf.b)
    with pytest.raises(NotImplementedError):
        ddf.squeeze(axis=0)
    assert ddf.rename_axis("r").compute().index.name == "r"
    assert "npartitions=2" in ddf.to_string() and "<table" in ddf.to_html()
    periods = pd.DataFrame({"v": [1, 2, 3]}, index=pd.period_range("2020-01", periods=3, freq="M"))
    ts = dd.from_pandas(periods, npartitions=2).to_timestamp()
    tm.assert_frame_equal(ts.compute(), periods.to_timestamp(), check_freq=False)
    assert ts.divisions[0] == pd.Timestamp("2020-01-01")


@SETTINGS
@given(frames(), st.sampled_from(["outer", "inner", "left", "right"]))
def test_align_shuffle_monotonic_match_pandas(data, join):
    pdf, ddf = data
    other_pdf = pdf[["x"]].iloc[::2] * 2
    other = dd.from_pandas(other_pdf, npartitions=2) if len(other_pdf) else None
    if other is not None and ddf.known_divisions:
        left, right = ddf.align(other, join=join)
        expected_left, expected_right = pdf.align(other_pdf, join=join)
        tm.assert_frame_equal(left.compute().sort_index(), expected_left.sort_index())
        tm.assert_frame_equal(right.compute().sort_index(), expected_right.sort_index())
    shuffled = ddf.shuffle("i", npartitions=3)
    parts = [p.compute() for p in shuffled.to_delayed()]
    owners = [{v for v in p.i} for p in parts]
    assert all(not (a & b) for k, a in enumerate(owners) for b in owners[k + 1 :])
    tm.assert_frame_equal(shuffled.compute().sort_index(), pdf.sort_index())
    for column in ("i", "x", "y"):
        got = ddf[column].cumsum().is_monotonic_increasing.compute()
        assert got == pdf[column].cumsum().is_monotonic_increasing
        assert ddf[column].is_monotonic_decreasing.compute() == pdf[column].is_monotonic_decreasing
    assert ddf.index.is_monotonic_increasing.compute() == pdf.index.is_monotonic_increasing
    tm.assert_frame_equal(ddf.divide(2).compute(), pdf.divide(2))


def test_info_and_dt_week():
    import io

    pdf = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, None, 2.0]}, index=[3, 5, 9])
    ddf = dd.from_pandas(pdf, npartitions=2)
    buf = io.StringIO()
    ddf.info(buf=buf)
    assert "Columns: 2 entries, a to b" in buf.getvalue()
    assert "dtypes: float64(1), int64(1)" in buf.getvalue()
    buf = io.StringIO()
    ddf.info(buf=buf, verbose=True, memory_usage=True)
    text = buf.getvalue()
    assert "3 entries, 3 to 9" in text and "2 non-null" in text and "memory usage" in text
    stamps = pd.Series(pd.date_range("2020-12-20", periods=6, freq="4D"), name="t")
    series = dd.from_pandas(stamps, npartitions=3)
    tm.assert_series_equal(series.dt.week.compute(), stamps.dt.isocalendar().week)
    # pandas 2 gave dt.week/weekofyear as the ISO week (Dask's forwards to pandas and
    # fails on pandas 3, which has only isocalendar()).
    tm.assert_series_equal(series.dt.weekofyear.compute(), stamps.dt.isocalendar().week)


@SETTINGS
@given(frames(min_rows=1), st.sampled_from(["mean", "sum", "count", "first", "last"]))
def test_pivot_table_matches_pandas_and_dask(data, aggfunc):
    pdf, ddf = data
    pdf = pdf.assign(c=pd.Categorical(pdf.i % 3, categories=[0, 1, 2]))
    ddf = ddf.assign(c=ddf.i % 3).astype({"c": pdf.c.dtype})
    lazy = ddf.pivot_table(index="i", columns="c", values="x", aggfunc=aggfunc)
    got = lazy.compute()
    _check_meta(lazy, got)
    expected = pdf.pivot_table(
        index="i", columns="c", values="x", aggfunc=aggfunc, observed=False, dropna=False
    )
    if aggfunc in ("sum", "count"):
        # Dask (and taskloom) give 0 for an index value without rows in a category.
        expected = expected.fillna(0).astype(got.dtypes.iloc[0])
    tm.assert_frame_equal(got, expected.astype(got.dtypes.to_dict()), check_dtype=False)


def test_pivot_table_errors_name_the_argument():
    ddf = dd.from_pandas(pd.DataFrame({"i": [1], "c": ["a"], "v": [1.0]}), npartitions=1)
    with pytest.raises(ValueError, match="known categories"):
        ddf.pivot_table(index="i", columns="c", values="v")
    with pytest.raises(ValueError, match="aggfunc"):
        ddf.categorize().pivot_table(index="i", columns="c", values="v", aggfunc="max")
    with pytest.raises(KeyError, match="values"):
        ddf.categorize().pivot_table(index="i", columns="c", values="w")


def test_to_backend_and_from_dict():
    ddf = dd.from_pandas(pd.DataFrame({"a": [1, 2]}), npartitions=1)
    assert ddf.to_backend() is ddf and ddf.a.to_backend("pandas") is not None
    with pytest.raises(ValueError, match="backend"):
        ddf.to_backend("cudf")
    data = {"a": [1, 2, 3], "b": [4.0, 5.0, 6.0]}
    made = dd.DataFrame.from_dict(data, npartitions=2)
    assert made.npartitions == 2
    tm.assert_frame_equal(made.compute(), pd.DataFrame.from_dict(data))
    rows = dd.DataFrame.from_dict({"x": [1, 2], "y": [3, 4]}, orient="index", npartitions=1)
    tm.assert_frame_equal(
        rows.compute(), pd.DataFrame.from_dict({"x": [1, 2], "y": [3, 4]}, orient="index")
    )


@SETTINGS
@given(st.integers(1, 30), st.integers(1, 4), st.integers(-3, 3))
def test_shift_with_freq_moves_index_and_divisions(n, nparts, periods):
    pdf = pd.DataFrame(
        {"v": np.arange(n, dtype="f8")}, index=pd.date_range("2021-01-01", periods=n, freq="h")
    )
    ddf = dd.from_pandas(pdf, npartitions=nparts)
    shifted = ddf.shift(periods, freq="h")
    tm.assert_frame_equal(shifted.compute(), pdf.shift(periods, freq="h"), check_freq=False)
    expected = tuple(pd.Index(ddf.divisions) + periods * pd.Timedelta("1h"))
    assert shifted.divisions == expected
    assert (
        shifted.loc[pdf.index[-1] :]
        .compute()
        .equals(pdf.shift(periods, freq="h").loc[pdf.index[-1] :])
    )


@pytest.mark.parametrize("nparts", [1, 2, 3])
def test_loc_from_the_last_division(nparts):
    """``loc[last:]`` selects the last row (the last partition is closed on the right);
    it used to pick a partition past the end."""
    pdf = pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=[5, 6, 7])
    ddf = dd.from_pandas(pdf, npartitions=nparts)
    tm.assert_frame_equal(ddf.loc[7:].compute(), pdf.loc[7:])
    tm.assert_frame_equal(ddf.loc[8:].compute(), pdf.loc[8:])


@pytest.mark.parametrize("freq", ["ME", "MS", "W", "B"])
@pytest.mark.parametrize("periods", [-1, 1, 2])
def test_shift_with_anchored_freq_forgets_divisions(freq, periods):
    """An anchored offset moves index values by different amounts and can send two
    partitions' rows to one value: the divisions become unknown (they used to be shifted,
    and loc then missed the rows of every partition but one)."""
    pdf = pd.DataFrame(
        {"v": np.arange(40.0)}, index=pd.date_range("2020-01-01", periods=40, freq="D")
    )
    ddf = dd.from_pandas(pdf, npartitions=4)
    shifted = ddf.shift(periods, freq=freq)
    expected = pdf.shift(periods, freq=freq)
    tm.assert_frame_equal(shifted.compute(), expected, check_freq=False)
    assert not shifted.known_divisions
    for key in expected.index.unique():
        tm.assert_frame_equal(shifted.loc[key].compute(), expected.loc[[key]], check_freq=False)
    days = ddf.shift(periods, freq="D")
    assert days.divisions == tuple(pd.Index(ddf.divisions) + periods * pd.Timedelta("1D"))


@pytest.mark.parametrize("nparts", [2, 3, 4])
def test_loc_slice_ending_at_a_division_keeps_its_rows(nparts):
    """``loc[:d]`` with ``d`` a division: the rows equal to ``d`` open the partition that
    starts at ``d``, which used to be left out (rows silently lost)."""
    index = [0, 0, 1, 2, 3, 3, 3, 4, 5, 5, 6, 7, 8, 8, 9, 9]
    pdf = pd.DataFrame({"v": np.arange(16.0)}, index=index)
    ddf = dd.from_pandas(pdf, npartitions=nparts)
    for d in ddf.divisions:
        tm.assert_frame_equal(ddf.loc[:d].compute(), pdf.loc[:d])
        tm.assert_frame_equal(ddf.loc[d:].compute(), pdf.loc[d:])
        tm.assert_frame_equal(ddf.loc[1:d].compute(), pdf.loc[1:d])
        tm.assert_series_equal(ddf.v.loc[:d].compute(), pdf.v.loc[:d])


@pytest.mark.parametrize("nparts", [1, 3, 5])
@pytest.mark.parametrize(("periods", "freq"), [(1, "D"), (2, "2D"), (-1, "D"), (3, "12h")])
def test_pct_change_with_freq_borrows_a_time_span(nparts, periods, freq):
    """With ``freq`` the value compared with is ``periods * freq`` earlier: the overlap
    is that time span, not ``periods`` rows (the first rows of each partition were
    NaN where pandas has a value)."""
    index = pd.date_range("2020-01-01", periods=40, freq="12h").delete([3, 4, 9, 20, 21])
    pdf = pd.DataFrame({"v": np.arange(1.0, len(index) + 1)}, index=index)
    ddf = dd.from_pandas(pdf, npartitions=nparts)
    expected = pdf.pct_change(periods=periods, freq=freq)
    tm.assert_frame_equal(ddf.pct_change(periods=periods, freq=freq).compute(), expected)
    tm.assert_series_equal(ddf.v.pct_change(periods=periods, freq=freq).compute(), expected.v)
    with pytest.raises(NotImplementedError, match="anchored"):
        ddf.pct_change(freq="ME")
