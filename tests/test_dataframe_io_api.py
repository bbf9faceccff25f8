"""Readers and writers of taskloom.dataframe beyond CSV/Parquet (from_map, arrays,
records, read_table/read_fwf, JSON, ORC, SQL, HDF5): what they read back equals what
pandas wrote and what pandas' own reader gives on the same file; metadata agrees with
the computed data; signatures are Dask's."""

from __future__ import annotations

import inspect
from typing import ClassVar

import dask.dataframe as ddask
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom.array as da
import taskloom.dataframe as dd

SETTINGS = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

NAMES = [
    "from_map",
    "from_dask_array",
    "to_records",
    "read_table",
    "read_fwf",
]


def _signature_check(name):
    ours = inspect.signature(getattr(dd, name)).parameters
    theirs = inspect.signature(getattr(ddask, name)).parameters
    assert list(ours) == list(theirs), name
    for p, param in theirs.items():
        if p == "engine" and callable(param.default):
            continue
        assert repr(ours[p].default) == repr(param.default), (name, p)


@pytest.mark.parametrize("name", NAMES)
def test_signature_matches_dask(name):
    _signature_check(name)


def _meta_agrees(df, computed):
    assert list(df._meta.columns) == list(computed.columns)
    assert df._meta.dtypes.tolist() == computed.dtypes.tolist()


frames = (
    st.integers(1, 60)
    .flatmap(
        lambda n: st.fixed_dictionaries(
            {
                "i": st.lists(st.integers(-(10**6), 10**6), min_size=n, max_size=n),
                "f": st.lists(
                    st.floats(-1e6, 1e6).map(lambda x: round(x, 3)), min_size=n, max_size=n
                ),
                "s": st.lists(st.sampled_from(["ab", "c", "xyz"]), min_size=n, max_size=n),
            }
        )
    )
    .map(pd.DataFrame)
)


# --- in-memory sources ----------------------------------------------------------------


class _Reader:
    """A from_map function following Dask's column-projection protocol."""

    calls: ClassVar[list] = []

    def __init__(self, columns=None):
        self.columns = columns

    def project_columns(self, columns):
        return _Reader(columns)

    def __call__(self, i):
        _Reader.calls.append(self.columns)
        df = pd.DataFrame({"a": [i, i + 1], "b": [0.5, 1.5]})
        return df if self.columns is None else df[self.columns]


def test_from_map_partitions_meta_and_projection():
    df = dd.from_map(_Reader(), [0, 10, 20], divisions=None)
    assert df.npartitions == 3
    pd.testing.assert_frame_equal(df.compute(), pd.concat([_Reader()(i) for i in (0, 10, 20)]))
    _Reader.calls.clear()
    assert df["b"].sum().compute() == 6.0
    assert _Reader.calls and all(c == ["b"] for c in _Reader.calls)


def test_from_map_args_kwargs_and_errors():
    def f(a, b, c, scale=1):
        return pd.DataFrame({"x": [(a + b + c) * scale]})

    df = dd.from_map(f, [1, 2], [10, 20], args=[100], scale=2, meta={"x": "i8"})
    assert df.compute().x.tolist() == [222, 244]
    with pytest.raises(ValueError, match="one length"):
        dd.from_map(f, [1, 2], [1])
    with pytest.raises(ValueError, match="divisions"):
        dd.from_map(f, [1, 2], [1, 2], args=[0], divisions=[0, 1])
    bad = dd.from_map(
        lambda i: pd.DataFrame({"y": [i]}), [1], meta={"x": "i8"}, enforce_metadata=True
    )
    with pytest.raises(ValueError, match="columns"):
        bad.compute()


@SETTINGS
@given(st.integers(1, 30), st.integers(1, 4), st.integers(1, 3))
def test_from_dask_array_known_chunks(rows, rows_per_block, cols):
    x = np.arange(rows * cols, dtype="f8").reshape(rows, cols)
    arr = da.from_array(x, chunks=(rows_per_block, cols))
    df = dd.from_dask_array(arr, columns=[f"c{j}" for j in range(cols)])
    out = df.compute()
    pd.testing.assert_frame_equal(out, pd.DataFrame(x, columns=[f"c{j}" for j in range(cols)]))
    assert df.known_divisions and df.divisions[0] == 0 and df.divisions[-1] == rows - 1
    _meta_agrees(df, out)


def test_from_dask_array_unknown_chunks_and_index():
    x = da.from_array(np.arange(10.0), chunks=3)
    y = x[x > 3.5]
    assert np.isnan(y.chunks[0][0])
    s = dd.from_dask_array(y, columns="v")
    assert not s.known_divisions
    assert s.compute().tolist() == list(np.arange(4.0, 10.0))
    arr = da.from_array(np.arange(6.0).reshape(3, 2), chunks=(2, 2))
    index = dd.from_pandas(pd.Series(0, index=[10, 20, 30]), npartitions=2).index
    got = dd.from_dask_array(arr, columns=["a", "b"], index=index)
    assert got.divisions == index.divisions
    assert got.compute().index.tolist() == [10, 20, 30]
    with pytest.raises(TypeError, match="taskloom array"):
        dd.from_dask_array(np.ones(3))


@SETTINGS
@given(frames, st.integers(1, 4))
def test_to_records_against_pandas(pdf, nparts):
    pdf = pdf[["i", "f"]]
    rec = dd.to_records(dd.from_pandas(pdf, npartitions=nparts))
    out = rec.compute()
    want = pdf.to_records()
    assert out.dtype == want.dtype == rec.dtype
    assert out.tolist() == want.tolist()


# --- text -----------------------------------------------------------------------------


@SETTINGS
@given(frames, st.sampled_from([None, 200, 1000]))
def test_read_table_roundtrip(tmp_path, pdf, blocksize):
    path = tmp_path / "t.tsv"
    pdf.to_csv(path, sep="\t", index=False)
    df = dd.read_table(path, blocksize=blocksize)
    out = df.compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(out, pd.read_table(path))
    pd.testing.assert_frame_equal(out, pdf, check_dtype=False)
    _meta_agrees(df, out)
    got = dd.read_table(path, blocksize=blocksize)[["f"]].compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(got, pd.read_table(path, usecols=["f"]))


def test_read_table_compressed_and_assume_missing(tmp_path):
    pdf = pd.DataFrame({"a": range(500), "b": np.linspace(0, 1, 500)})
    path = tmp_path / "t.tsv.gz"
    pdf.to_csv(path, sep="\t", index=False)
    df = dd.read_table(path, blocksize=100, assume_missing=True)
    assert df.npartitions == 1  # a gzip stream cannot be split
    out = df.compute()
    assert out.a.dtype == np.float64 == df.a.dtype
    pd.testing.assert_frame_equal(out, pd.read_table(path).astype({"a": "f8"}))
    with pytest.raises(ValueError, match="storage_options"):
        dd.read_table(path, storage_options={"anon": True})


@SETTINGS
@given(frames, st.sampled_from([None, 300]))
def test_read_fwf_roundtrip(tmp_path, pdf, blocksize):
    path = tmp_path / "t.txt"
    path.write_text(pdf.to_string(index=False) + "\n")
    df = dd.read_fwf(path, blocksize=blocksize)
    out = df.compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(out, pd.read_fwf(path))
    _meta_agrees(df, out)
