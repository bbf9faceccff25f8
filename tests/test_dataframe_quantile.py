"""Quantiles against pandas (#13.6a): exact, with pandas' linear interpolation, on
random data in any partitioning, for scalar and list ``q``; approximate (within the
sketch's rank error) past :data:`~taskloom.dataframe._quantile.EXACT_LIMIT`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as tm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom.dataframe as dd
from taskloom.dataframe import _quantile

QS = [0.0, 0.01, 0.25, 0.5, 0.7, 0.99, 1.0]


def test_issue_example_is_exact():
    pdf = pd.DataFrame({"w": np.arange(100)})
    df = dd.from_pandas(pdf, npartitions=4)
    assert df.w.quantile(0.5).compute() == pdf.w.quantile(0.5) == 49.5


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(
        st.one_of(st.floats(-1e6, 1e6), st.just(float("nan"))), min_size=0, max_size=80
    ),
    nparts=st.integers(1, 9),
    q=st.one_of(st.sampled_from(QS), st.floats(0, 1), st.lists(st.floats(0, 1), max_size=4)),
    split_every=st.sampled_from([None, 2, 3]),
)
def test_series_quantile_equals_pandas(values, nparts, q, split_every):
    s = pd.Series(values, name="v", dtype="float64")
    got = dd.from_pandas(s, npartitions=nparts).quantile(q, split_every=split_every).compute()
    expected = s.quantile(q)
    if isinstance(expected, pd.Series):
        tm.assert_series_equal(got, expected)
    elif np.isnan(expected):
        assert np.isnan(got)
    else:
        assert got == expected


@pytest.mark.parametrize("dtype", ["int64", "float32", "Int64", "Float64", "uint8"])
@pytest.mark.parametrize("nparts", [1, 3, 10])
def test_quantile_dtypes(dtype, nparts):
    rng = np.random.default_rng(1)
    s = pd.Series(rng.integers(0, 200, 101), name="v").astype(dtype)
    ds = dd.from_pandas(s, npartitions=nparts)
    for q in (0.5, 0.33, [0.1, 0.5, 0.9]):
        got, expected = ds.quantile(q).compute(), s.quantile(q)
        if isinstance(expected, pd.Series):
            tm.assert_series_equal(got, expected, check_dtype=False)
            assert got.index.tolist() == expected.index.tolist()
        else:
            assert got == expected


@pytest.mark.parametrize("nparts", [1, 4])
def test_frame_quantile_equals_pandas(nparts):
    rng = np.random.default_rng(2)
    pdf = pd.DataFrame(
        {
            "a": rng.normal(size=57),
            "b": rng.integers(-9, 9, 57),
            "s": pd.array(rng.choice(["x", "y"], 57), dtype="str"),
        }
    )
    df = dd.from_pandas(pdf, npartitions=nparts)
    tm.assert_series_equal(df.quantile(0.3).compute(), pdf.quantile(0.3, numeric_only=True))
    tm.assert_frame_equal(
        df.quantile([0.1, 0.9]).compute(), pdf.quantile([0.1, 0.9], numeric_only=True)
    )
    described = df.describe().compute()
    expected = pdf.describe()
    tm.assert_frame_equal(described.loc[["25%", "50%", "75%"]], expected.loc[["25%", "50%", "75%"]])


def test_index_quantile():
    pdf = pd.DataFrame({"x": range(9)}, index=[5, 1, 9, 3, 7, 2, 8, 4, 6])
    got = dd.from_pandas(pdf, npartitions=3).index.quantile(0.5).compute()
    assert got == pd.Series(pdf.index).quantile(0.5)


def test_large_data_is_approximate_within_the_sketch_rank_error(monkeypatch):
    monkeypatch.setattr(_quantile, "EXACT_LIMIT", 200)
    rng = np.random.default_rng(3)
    s = pd.Series(rng.normal(size=5_000))
    got = dd.from_pandas(s, npartitions=7).quantile(QS).compute()
    ranks = np.searchsorted(np.sort(s.to_numpy()), got.to_numpy()) / len(s)
    assert np.all(np.abs(ranks - np.array(QS)) <= 2 / 200)
    assert got.iloc[0] == s.min() and got.iloc[-1] == s.max()


def test_quantile_errors_name_the_argument():
    ds = dd.from_pandas(pd.DataFrame({"x": [1.0, 2.0], "s": ["a", "b"]}), npartitions=1)
    with pytest.raises(ValueError, match="q must be between 0 and 1"):
        ds.x.quantile(1.5)
    with pytest.raises(TypeError, match="q must be a number"):
        ds.x.quantile("half")
    with pytest.raises(TypeError, match=r"quantile needs numeric, .* got dtype str"):
        ds.s.quantile(0.5)
    with pytest.raises(ValueError, match="method must be"):
        ds.x.quantile(0.5, method="exact")


@pytest.mark.parametrize("unit", ["s", "ns"])
@pytest.mark.parametrize("nparts", [1, 3])
def test_datetime_and_timedelta_quantiles_equal_pandas(unit, nparts):
    rng = np.random.default_rng(4)
    times = pd.Series(
        pd.Timestamp("2000") + pd.to_timedelta(rng.integers(0, 10**6, 37), "s"), name="t"
    ).astype(f"M8[{unit}]")
    times[3] = pd.NaT
    spans = (times - pd.Timestamp("2000")).rename("d")
    for s in (times, spans):
        ds = dd.from_pandas(s, npartitions=nparts)
        for q in (0.5, 0.37, [0.1, 0.5, 0.9]):
            got, expected = ds.quantile(q).compute(), s.quantile(q)
            if isinstance(expected, pd.Series):
                tm.assert_series_equal(got, expected)
            else:
                assert got == expected and type(got) is type(expected)
    empty = dd.from_pandas(times.iloc[:0], npartitions=1)
    assert empty.quantile(0.5).compute() is pd.NaT
