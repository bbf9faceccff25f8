"""Rolling (``dask.dataframe.api.Rolling``) and Resampler methods, each a real method
of its class, checked against pandas on random time-indexed frames of several
partitions (some empty, with NaN), and each result's metadata against its data."""

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
from taskloom.dataframe.timeseries import Resampler

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROLLING = ["count", "kurt", "max", "mean", "median", "min", "skew", "std", "sum", "var"]
RESAMPLE = [
    "count", "first", "last", "max", "mean", "median", "min", "nunique", "ohlc", "prod",
    "quantile", "sem", "size", "std", "sum", "var",
]  # fmt: skip


@st.composite
def frames(draw, drop_rows: bool = True):
    """``(pandas frame, taskloom frame)`` on an hourly-ish datetime index; rows whose
    ``keep`` is False are dropped after partitioning (``drop_rows``), so partitions
    may be empty."""
    n = draw(st.integers(1, 40))
    steps = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    index = pd.DatetimeIndex(
        pd.Timestamp("2000-01-01") + pd.to_timedelta(np.cumsum(steps), unit="h"), name="t"
    )
    x = draw(st.lists(st.one_of(st.floats(-10, 10), st.just(float("nan"))), min_size=n, max_size=n))
    y = draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n))
    keep = draw(st.lists(st.booleans(), min_size=n, max_size=n)) if drop_rows else [True] * n
    pdf = pd.DataFrame(
        {
            "x": np.array(x, dtype="float64"),
            "y": np.array(y, dtype="int64"),
            "keep": np.array(keep, dtype=bool),
        },
        index=index,
    )
    ddf = dd.from_pandas(pdf, npartitions=draw(st.integers(1, 4)))
    return pdf[pdf.keep].drop(columns="keep"), ddf[ddf.keep].drop(columns="keep")


def check(lazy, expected, **kwargs):
    got = lazy.compute()
    assert_meta_matches(lazy, got)
    if isinstance(expected, pd.DataFrame):
        tm.assert_frame_equal(got, expected, check_freq=False, **kwargs)
    else:
        tm.assert_series_equal(got, expected, check_freq=False, **kwargs)


@pytest.mark.parametrize("name", [*ROLLING, "quantile", "apply", "agg"])
def test_rolling_methods_are_class_attributes_with_dasks_signature(name):
    from dask.dataframe.api import Rolling as DaskRolling

    ours = inspect.signature(getattr(api.Rolling, name))
    theirs = inspect.signature(getattr(DaskRolling, name))
    assert [(p.name, p.kind) for p in ours.parameters.values()] == [
        (p.name, p.kind) for p in theirs.parameters.values()
    ]


@pytest.mark.parametrize("name", [*RESAMPLE, "agg"])
def test_resampler_methods_are_class_attributes_with_dasks_signature(name):
    from dask.dataframe.tseries.resample import Resampler as DaskResampler

    ours = inspect.signature(getattr(Resampler, name))
    theirs = inspect.signature(getattr(DaskResampler, name))
    assert [(p.name, p.kind) for p in ours.parameters.values()] == [
        (p.name, p.kind) for p in theirs.parameters.values()
    ]


@SETTINGS
@given(frames(), st.integers(1, 5), st.sampled_from(ROLLING))
def test_rolling_rows_match_pandas(data, window, how):
    pdf, ddf = data
    check(getattr(ddf.rolling(window), how)(), getattr(pdf.rolling(window), how)(), rtol=1e-6)
    check(
        getattr(ddf.x.rolling(window, min_periods=1), how)(),
        getattr(pdf.x.rolling(window, min_periods=1), how)(),
        rtol=1e-6,
    )


@SETTINGS
@given(frames(), st.sampled_from(["2h", "5h"]), st.floats(0, 1))
def test_rolling_time_window_quantile_apply_agg(data, window, q):
    pdf, ddf = data
    check(ddf.rolling(window).quantile(q), pdf.rolling(window).quantile(q))
    check(
        ddf.x.rolling(window).apply(np.nanmax, raw=True),
        pdf.x.rolling(window).apply(np.nanmax, raw=True),
    )
    check(ddf.x.rolling(3).agg(["sum", "max"]), pdf.x.rolling(3).agg(["sum", "max"]))


@SETTINGS
# Bins span the divisions, as in Dask: dropping rows after partitioning would leave
# divisions beyond the data, and bins pandas does not make.
@given(frames(drop_rows=False), st.sampled_from(["3h", "1D", "90min"]), st.sampled_from(RESAMPLE))
def test_resampler_methods_match_pandas(data, rule, how):
    pdf, ddf = data
    r = ddf.resample(rule)
    check(getattr(r, how)(), getattr(pdf.resample(rule), how)(), check_dtype=False, rtol=1e-6)
    check(
        getattr(ddf.x.resample(rule), how)(),
        getattr(pdf.x.resample(rule), how)(),
        check_dtype=False,
        rtol=1e-6,
    )


def test_resampler_agg_takes_keywords_only_and_rolling_rejects_bad_windows():
    pdf = pd.DataFrame({"x": np.arange(6.0)}, index=pd.date_range("2000", periods=6, freq="h"))
    ddf = dd.from_pandas(pdf, npartitions=2)
    with pytest.raises(TypeError, match="keyword arguments only"):
        ddf.resample("2h").agg("sum", 1)
    check(ddf.resample("2h").agg("std", ddof=0), pdf.resample("2h").agg("std", ddof=0))
    with pytest.raises(ValueError, match="window"):
        ddf.rolling(0)
