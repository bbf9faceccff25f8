"""Time series against pandas (and Dask where it defines the behaviour) for datetimes
of every unit, with and without a time zone: resample (several rules, closed/label),
rolling by a time window, and set_index on a datetime column followed by either
(#13.2); the result index's freq (#13.6b); metadata computed from a few rows whatever
the data's span and the rule (#13.15)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as tm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom.dataframe as dd
import taskloom.datasets
from taskloom.dataframe import timeseries

UNITS = ["s", "ms", "us", "ns"]
ZONES = [None, "UTC", "US/Eastern"]
RULES = ["90min", "5h", "1D", "2D", "W", "ME"]


def series_frame(
    n: int = 300, seed: int = 0, unit: str = "us", tz: str | None = None, start: str = "2000-01-01"
) -> pd.DataFrame:
    """Rows at random times over about two months, a day without rows, a float and an
    int column."""
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.integers(0, 60 * 86400 * 1000, n))
    index = (pd.Timestamp(start) + pd.to_timedelta(offsets, unit="ms")).as_unit(unit)
    index = pd.DatetimeIndex(index, name="when")
    if tz:
        index = index.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.integers(0, 9, n)}, index=index)
    frame = frame[frame.index.notna()]
    return frame[frame.index.day != 9]


def assert_time_result(ours, expected) -> None:
    """Equal to pandas, freq included, and the metadata agrees with both."""
    got = ours.compute()
    if isinstance(expected, pd.DataFrame):
        tm.assert_frame_equal(got, expected, check_freq=True)
        tm.assert_series_equal(ours._meta.dtypes, expected.dtypes)
    else:
        tm.assert_series_equal(got, expected, check_freq=True)
        assert ours._meta.dtype == expected.dtype and ours._meta.name == expected.name
    assert ours._meta.index.dtype == expected.index.dtype
    assert ours._meta.index.name == expected.index.name
    assert len(ours._meta) == 0


# --- resample -------------------------------------------------------------------------


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("rule", RULES)
def test_resample_every_unit_zone_and_rule(unit, tz, rule):
    pdf = series_frame(unit=unit, tz=tz)
    ddf = dd.from_pandas(pdf, npartitions=5)
    assert_time_result(ddf.resample(rule).mean(), pdf.resample(rule).mean())
    assert_time_result(ddf.resample(rule).sum(), pdf.resample(rule).sum())
    assert_time_result(ddf.a.resample(rule).max(), pdf.a.resample(rule).max())
    assert ddf.resample(rule).count()._meta.index.freq == pdf.resample(rule).count().index.freq


@pytest.mark.parametrize("closed", ["left", "right"])
@pytest.mark.parametrize("label", ["left", "right"])
@pytest.mark.parametrize("rule", ["3h", "1D", "W"])
@pytest.mark.parametrize("unit", ["s", "ns"])
def test_resample_closed_and_label(closed, label, rule, unit):
    pdf = series_frame(unit=unit, seed=2)
    ddf = dd.from_pandas(pdf, npartitions=6)
    kw = {"closed": closed, "label": label}
    assert_time_result(ddf.resample(rule, **kw).mean(), pdf.resample(rule, **kw).mean())
    assert_time_result(ddf.a.resample(rule, **kw).count(), pdf.a.resample(rule, **kw).count())


def test_resample_across_daylight_saving_changes():
    pdf = series_frame(unit="s", tz="Europe/Berlin", start="2021-03-01", n=400)
    ddf = dd.from_pandas(pdf, npartitions=7)
    for rule in ["1D", "5h", "W"]:
        assert_time_result(ddf.resample(rule).sum(), pdf.resample(rule).sum())


def test_resample_day_has_day_freq_as_dask():
    dask_dd = pytest.importorskip("dask.dataframe")
    pdf = pd.DataFrame(
        {"ts": pd.date_range("2000-01-01", periods=72, freq="h"), "x": np.arange(72.0)}
    )
    ours = dd.from_pandas(pdf, npartitions=3).set_index("ts").resample("1D").mean()
    theirs = dask_dd.from_pandas(pdf, npartitions=3).set_index("ts").resample("1D").mean()
    expected = pdf.set_index("ts").resample("1D").mean()
    assert_time_result(ours, expected)
    tm.assert_frame_equal(theirs.compute(), expected, check_freq=True)
    assert ours._meta.index.freq == theirs._meta.index.freq == pd.offsets.Day()
    assert ours.compute().x.tolist() == [11.5, 35.5, 59.5]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    unit=st.sampled_from(UNITS),
    tz=st.sampled_from(ZONES),
    rule=st.sampled_from([*RULES, "17min", "3D"]),
    closed=st.sampled_from([None, "left", "right"]),
    label=st.sampled_from([None, "left", "right"]),
    nparts=st.integers(1, 8),
    n=st.integers(1, 200),
    seed=st.integers(0, 2**16),
)
def test_resample_after_set_index_random(unit, tz, rule, closed, label, nparts, n, seed):
    pdf = series_frame(n=n, seed=seed, unit=unit, tz=tz).reset_index()
    if pdf.empty:  # no divisions to resample by, in Dask as here
        return
    ddf = dd.from_pandas(pdf, npartitions=nparts).set_index("when")
    expected_frame = pdf.set_index("when")
    kw = {"closed": closed, "label": label}
    assert_time_result(
        ddf.a.resample(rule, **kw).mean(), expected_frame.a.resample(rule, **kw).mean()
    )


# --- rolling --------------------------------------------------------------------------


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("window", ["3h", "1D", "36h"])
def test_rolling_time_window_every_unit_and_zone(unit, tz, window):
    pdf = series_frame(unit=unit, tz=tz, seed=3)
    ddf = dd.from_pandas(pdf, npartitions=6)
    assert_time_result(ddf.rolling(window).sum(), pdf.rolling(window).sum())
    assert_time_result(ddf.a.rolling(window).mean(), pdf.a.rolling(window).mean())
    kw = {"closed": "both", "min_periods": 2}
    assert_time_result(ddf.a.rolling(window, **kw).max(), pdf.a.rolling(window, **kw).max())


@pytest.mark.parametrize("unit", ["s", "ns"])
def test_rolling_after_set_index_and_repartition(unit):
    pdf = series_frame(unit=unit, seed=4).reset_index()
    ddf = dd.from_pandas(pdf, npartitions=3).set_index("when").repartition(npartitions=9)
    expected = pdf.set_index("when")
    assert_time_result(ddf.rolling("6h").sum(), expected.rolling("6h").sum())
    assert_time_result(ddf.a.cumsum(), expected.a.cumsum())


# --- metadata from a few rows (#13.15) -------------------------------------------------


@pytest.fixture
def aggregated_rows(monkeypatch):
    """The length of every resample result computed while a graph is built."""
    lengths: list[int] = []
    aggregate = timeseries._aggregate

    def counting(r, how, kwargs):
        out = aggregate(r, how, kwargs)
        lengths.append(len(out))
        return out

    monkeypatch.setattr(timeseries, "_aggregate", counting)
    return lengths


@pytest.mark.parametrize("rule", ["2s", "1s", "1D", "ME"])
def test_resample_meta_is_independent_of_span_and_rule(aggregated_rows, rule):
    # Thirty years in three partitions, and the expression.
    df = taskloom.datasets.timeseries(
        start="2000-01-01", end="2030-01-01", freq="1h", partition_freq="3650D", seed=1
    )
    result = df[(df.x > 0) | (df.y < 0)].x.resample(rule).mean()
    assert len(result._meta) == 0
    assert result._meta.index.freq == pd.tseries.frequencies.to_offset(rule)
    assert aggregated_rows and max(aggregated_rows) <= 5
    # Two rows three centuries apart, in seconds: the same few rows.
    wide = pd.DataFrame(
        {"v": [1.0, 2.0]},
        index=pd.DatetimeIndex(["1700-01-01", "2200-01-01"]).as_unit("s"),
    )
    aggregated_rows.clear()
    built = dd.from_pandas(wide, npartitions=2).resample(rule).sum()
    assert len(built._meta) == 0 and built._meta.index.unit == "s"
    assert max(aggregated_rows) <= 5


def test_resample_and_rolling_far_from_1970():
    # Microsecond data beyond what nanoseconds can hold (years 2300-2301).
    index = pd.date_range("2300-01-01", periods=500, freq="97min", unit="us", name="t")
    pdf = pd.DataFrame({"a": np.arange(500.0)}, index=index)
    ddf = dd.from_pandas(pdf, npartitions=4)
    kw = {"closed": "right", "label": "right"}
    assert_time_result(ddf.resample("5h", **kw).sum(), pdf.resample("5h", **kw).sum())
    assert_time_result(ddf.rolling("1D").mean(), pdf.rolling("1D").mean())


def test_loc_date_string_on_parquet_with_time_zone(tmp_path):
    # read_parquet's divisions of a tz-aware index are in its time zone, not UTC.
    index = pd.date_range("2000", periods=96, freq="h", tz="US/Eastern", name="t")
    pdf = pd.DataFrame({"x": range(96)}, index=index)
    dd.from_pandas(pdf, npartitions=48).to_parquet(tmp_path)
    back = dd.read_parquet(tmp_path)
    # Parquet keeps no index freq (pandas' own read_parquet gives None too).
    expected = pdf.loc["2000-01-02"]
    expected.index.freq = None
    tm.assert_frame_equal(back.loc["2000-01-02"].compute(), expected)
    assert str(back.divisions[0].tz) == "US/Eastern"
