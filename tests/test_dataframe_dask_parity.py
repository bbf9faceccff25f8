"""taskloom.dataframe against Dask where Dask defines the behaviour (#13): how
``from_pandas`` splits rows into partitions (so partition-dependent code such as
``map_partitions`` sees the same partitions), and what ``datasets.timeseries`` makes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom.dataframe as dd

ddd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")


def _lengths(frame) -> list[int]:
    """Rows in each partition (of a taskloom or a Dask collection)."""
    return [int(n) for n in frame.map_partitions(len).compute()]


def _assert_same_partitions(data: pd.DataFrame, **kwargs) -> None:
    ours = dd.from_pandas(data, **kwargs)
    theirs = ddd.from_pandas(data, **kwargs)
    assert ours.divisions == theirs.divisions, kwargs
    assert ours.npartitions == theirs.npartitions
    assert _lengths(ours) == _lengths(theirs)


@pytest.mark.parametrize(
    ("n", "kwargs", "divisions"),
    [
        (100, {"chunksize": 30}, (0, 30, 60, 90, 99)),
        (10, {"npartitions": 3}, (0, 4, 7, 9)),
        (5, {"npartitions": 10}, (0, 1, 2, 3, 4, 4)),
        (10, {}, (0, 9)),
        (0, {"npartitions": 3}, (None,) * 4),
    ],
)
def test_from_pandas_divisions_as_dask(n, kwargs, divisions):
    data = pd.DataFrame({"x": np.arange(n)})
    assert dd.from_pandas(data, **kwargs).divisions == divisions
    _assert_same_partitions(data, **kwargs)


index_values = st.lists(st.integers(-20, 20), min_size=1, max_size=120)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=index_values,
    split=st.one_of(
        st.builds(lambda n: {"npartitions": n}, st.integers(1, 15)),
        st.builds(lambda n: {"chunksize": n}, st.integers(1, 40)),
    ),
    sort=st.booleans(),
    unique=st.booleans(),
)
def test_from_pandas_partitions_match_dask(values, split, sort, unique):
    """Any length, duplicate or unique, sorted or not: the same divisions and partition
    lengths as Dask."""
    if unique:
        values = list(dict.fromkeys(values))
    data = pd.DataFrame({"v": np.arange(len(values))}, index=values)
    ours = dd.from_pandas(data, sort=sort, **split)
    theirs = ddd.from_pandas(data, sort=sort, **split)
    assert ours.divisions == theirs.divisions
    # The same rows in the same order in every partition, repeated index values too.
    ours_parts = [p.compute() for p in ours.to_delayed()]
    theirs_parts = dask.compute(*theirs.to_delayed(), scheduler="sync")
    for mine, dasks in zip(ours_parts, theirs_parts, strict=True):
        pd.testing.assert_frame_equal(mine, dasks)
    got = ours.compute()
    expected = data.sort_index() if sort else data
    assert got.index.tolist() == expected.index.tolist()
    if unique or not sort:
        pd.testing.assert_frame_equal(got, expected)


def test_from_pandas_datetime_and_string_index_as_dask():
    times = pd.DataFrame({"v": range(50)}, index=pd.date_range("2000", periods=50, freq="h"))
    for kwargs in ({"npartitions": 4}, {"chunksize": 7}):
        _assert_same_partitions(times, **kwargs)
    words = pd.DataFrame({"v": range(26)}, index=list("zyxwvutsrqponmlkjihgfedcba"))
    assert dd.from_pandas(words, npartitions=4).divisions == ("a", "h", "o", "u", "z")
    _assert_same_partitions(words, npartitions=4)


def test_from_pandas_errors_name_the_argument():
    data = pd.DataFrame({"x": range(3)})
    with pytest.raises(ValueError, match="only one of npartitions= or chunksize="):
        dd.from_pandas(data, npartitions=2, chunksize=2)
    with pytest.raises(TypeError, match=r"npartitions must be an integer, got 2\.5"):
        dd.from_pandas(data, npartitions=2.5)
    with pytest.raises(TypeError, match="chunksize must be an integer"):
        dd.from_pandas(data, chunksize="2")
    with pytest.raises(ValueError, match="chunksize must be a positive integer, got 0"):
        dd.from_pandas(data, chunksize=0)


def test_from_pandas_missing_index_values_give_unknown_divisions():
    data = pd.DataFrame({"x": range(4)}, index=[1.0, np.nan, 2.0, 3.0])
    ours = dd.from_pandas(data, npartitions=2)
    assert not ours.known_divisions
    pd.testing.assert_frame_equal(ours.compute(), data.sort_index())


# --- datasets.timeseries ------------------------------------------------------------

TIMESERIES_ARGS = [
    {"end": "2000-01-03 12:00", "freq": "1h", "seed": 1},
    {"start": "2000-01-01", "end": "2000-03-01", "freq": "6h", "partition_freq": "7D"},
    {
        "end": "2000-01-04",
        "freq": "30min",
        "seed": 3,
        "dtypes": {"a": "category", "b": object, "c": "string", "i": int, "f": float, "s": str},
        "i_lam": 3,
    },
    {"end": "2000-01-03", "freq": "1h", "seed": 4, "id_lam": 20},
    {"start": "2000-01-01", "end": "2000-01-02", "freq": "7min", "partition_freq": "5h"},
    {
        "end": "2000-01-05",
        "freq": "1h",
        "seed": 6,
        "dtypes": {"with_underscore": int},
        "with_underscore_lam": 7,
    },
]


@pytest.mark.parametrize("kwargs", TIMESERIES_ARGS)
def test_timeseries_as_dask(kwargs):
    """Same columns, dtypes, divisions and, with a seed, the same values as Dask."""
    import taskloom

    ours = taskloom.datasets.timeseries(**kwargs)
    theirs = dask.datasets.timeseries(**kwargs)
    # Dask turns string columns into string[pyarrow]; taskloom keeps pandas' "str".
    strings = {c: "str" for c, d in theirs.dtypes.items() if isinstance(d, pd.StringDtype)}
    theirs = theirs.astype(strings)
    assert ours.divisions == theirs.divisions
    assert list(ours.columns) == list(theirs.columns)
    pd.testing.assert_series_equal(ours.dtypes, theirs.dtypes)
    assert ours._meta.index.dtype == theirs._meta.index.dtype
    got = ours.compute()
    pd.testing.assert_series_equal(got.dtypes, ours.dtypes)
    assert _lengths(ours) == _lengths(theirs)
    if "seed" in kwargs:
        pd.testing.assert_frame_equal(got, theirs.compute())
        column = list(ours.columns)[-1]
        pd.testing.assert_series_equal(ours[column].compute(), got[column])


def test_timeseries_lam_sets_the_mean():
    import taskloom

    df = taskloom.datasets.timeseries(end="2000-01-08", freq="1min", id_lam=5, seed=0)
    assert 4.9 < df.id.mean().compute() < 5.1


def test_timeseries_errors_name_the_argument():
    import taskloom

    ts = taskloom.datasets.timeseries
    with pytest.raises(TypeError, match=r"dtypes\['v'\] is 'complex'"):
        ts(dtypes={"v": "complex"})
    with pytest.raises(TypeError, match="unexpected keyword 'z_lam'"):
        ts(z_lam=3)
    with pytest.raises(TypeError, match=r"column 'x' of type .* takes no parameter 'lam'"):
        ts(x_lam=3)
    with pytest.raises(ValueError, match="spans less than one partition_freq='1D'"):
        ts(start="2000-01-01", end="2000-01-01 12:00")
    with pytest.raises(ValueError, match="freq"):
        ts(freq="every second")
