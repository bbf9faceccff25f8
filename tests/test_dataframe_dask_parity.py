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
    assert _lengths(ours) == _lengths(theirs)
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
