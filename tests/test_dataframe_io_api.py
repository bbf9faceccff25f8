"""Readers and writers of taskloom.dataframe beyond CSV/Parquet (from_map, arrays,
records, read_table/read_fwf, JSON, ORC, SQL, HDF5): what they read back equals what
pandas wrote and what pandas' own reader gives on the same file; metadata agrees with
the computed data; signatures are Dask's."""

from __future__ import annotations

import inspect
import os
import tempfile
from pathlib import Path
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
    "from_pandas",
    "from_array",
    "from_delayed",
    "from_dict",
    "read_csv",
    "to_csv",
    "read_parquet",
    "to_parquet",
    "from_map",
    "from_dask_array",
    "to_records",
    "read_table",
    "read_fwf",
    "read_json",
    "to_json",
    "read_orc",
    "to_orc",
    "read_hdf",
    "to_hdf",
    "read_sql_table",
    "read_sql_query",
    "read_sql",
    "to_sql",
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


def test_from_delayed_prefix_and_from_dict_constructor():
    from taskloom.delayed import delayed

    parts = [delayed(pd.DataFrame)({"x": [i]}) for i in range(2)]
    df = dd.from_delayed(parts, prefix="mine")
    assert df._name.startswith("mine-") and df.compute().x.tolist() == [0, 1]

    class Frame(pd.DataFrame):
        @classmethod
        def from_dict(cls, data, **kwargs):
            return pd.DataFrame.from_dict({k: [v * 2 for v in vs] for k, vs in data.items()})

    got = dd.from_dict({"x": [1, 2]}, npartitions=1, constructor=Frame).compute()
    assert got.x.tolist() == [2, 4]


def test_read_csv_dask_arguments(tmp_path):
    pdf = pd.DataFrame({"a": range(300), "b": np.arange(300) * 0.5})
    pdf.to_csv(tmp_path / "a.csv.gz", index=False)
    df = dd.read_csv(tmp_path / "a.csv.gz", blocksize=100, assume_missing=True)
    assert df.npartitions == 1 and df.a.dtype == np.float64
    pd.testing.assert_frame_equal(df.compute(), pdf.astype({"a": "f8"}))
    (tmp_path / "b.csv").write_bytes(b"a;b\r1;2\r3;4\r")
    got = dd.read_csv(tmp_path / "b.csv", sep=";", lineterminator="\r", blocksize=None)
    pd.testing.assert_frame_equal(
        got.compute(), pd.read_csv(tmp_path / "b.csv", sep=";", lineterminator="\r")
    )


def test_to_csv_dask_arguments(tmp_path):
    pdf = pd.DataFrame({"a": range(6), "b": list("xyzxyz")})
    df = dd.from_pandas(pdf, npartitions=3)
    paths = dd.to_csv(df, tmp_path / "p-*.csv", header_first_partition_only=True, index=False)
    texts = [open(p).read() for p in paths]
    assert texts[0].startswith("a,b\n") and not texts[1].startswith("a,b")
    paths = dd.to_csv(df, tmp_path / "c-*.csv.gz", compression="gzip", index=False)
    back = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    pd.testing.assert_frame_equal(back, pdf)
    path = dd.to_csv(df, tmp_path / "one.csv", single_file=True, encoding="utf-16", index=False)[0]
    pd.testing.assert_frame_equal(pd.read_csv(path, encoding="utf-16"), pdf)
    # storage_options are for URLs (tests/test_dataframe_io_storage.py); a local path
    # is written as without them, as Dask's local filesystem does
    paths = dd.to_csv(df, tmp_path / "x-*.csv", index=False, storage_options={"anon": True})
    back = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    pd.testing.assert_frame_equal(back, pdf)


def test_read_parquet_dask_arguments(tmp_path):
    pdf = pd.DataFrame({"x": range(6), "y": np.arange(6.0)})
    dd.from_pandas(pdf, npartitions=2).to_parquet(tmp_path / "p")
    df = dd.read_parquet(tmp_path / "p", calculate_divisions=True, split_row_groups="infer")
    pd.testing.assert_frame_equal(df.compute(), pd.read_parquet(tmp_path / "p"))
    assert dd.read_parquet(tmp_path / "p", split_row_groups=1).npartitions == 2
    with pytest.raises(ValueError, match="dtype_backend"):
        dd.read_parquet(tmp_path / "p", dtype_backend="pyarrow")
    with pytest.raises(ValueError, match="split_row_groups"):
        dd.read_parquet(tmp_path / "p", split_row_groups=3)


def test_to_parquet_append_and_overwrite(tmp_path):
    a = pd.DataFrame({"x": range(4), "y": np.arange(4.0)})
    b = pd.DataFrame({"x": range(4, 7), "y": np.arange(4.0, 7.0)}, index=range(4, 7))
    out = tmp_path / "p"
    dd.to_parquet(dd.from_pandas(a, npartitions=2), out)
    dd.to_parquet(dd.from_pandas(b, npartitions=2), out, append=True)
    assert sorted(os.listdir(out)) == [f"part.{i}.parquet" for i in range(4)]
    back = dd.read_parquet(out).compute()
    pd.testing.assert_frame_equal(back, pd.concat([a, b]))
    pd.testing.assert_frame_equal(back, pd.read_parquet(out))
    dd.to_parquet(dd.from_pandas(b, npartitions=1), out, overwrite=True)
    assert os.listdir(out) == ["part.0.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(out), b)
    with pytest.raises(ValueError, match="columns"):
        dd.to_parquet(dd.from_pandas(b[["x"]], npartitions=1), out, append=True)
    with pytest.raises(ValueError, match="custom_metadata"):
        dd.to_parquet(dd.from_pandas(b, npartitions=1), out, custom_metadata={"a": "b"})
    with pytest.raises(ValueError, match="together"):
        dd.to_parquet(dd.from_pandas(b, npartitions=1), out, append=True, overwrite=True)


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
    with_options = dd.read_table(path, assume_missing=True, storage_options={"anon": True})
    pd.testing.assert_frame_equal(with_options.compute(), out)


@SETTINGS
@given(frames, st.sampled_from([None, 300]))
def test_read_fwf_roundtrip(tmp_path, pdf, blocksize):
    path = tmp_path / "t.txt"
    path.write_text(pdf.to_string(index=False) + "\n")
    df = dd.read_fwf(path, blocksize=blocksize)
    out = df.compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(out, pd.read_fwf(path))
    _meta_agrees(df, out)


# --- JSON -----------------------------------------------------------------------------


@SETTINGS
@given(frames, st.integers(1, 4), st.sampled_from([None, 300]))
def test_json_lines_roundtrip(tmp_path, pdf, nparts, blocksize):
    out_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    ddf = dd.from_pandas(pdf, npartitions=nparts)
    paths = dd.to_json(ddf, out_dir)
    assert len(paths) == ddf.npartitions
    # JSON writes 0.0 as 0, so a file may read back as int: the dtypes come from meta
    df = dd.read_json(sorted(paths), blocksize=blocksize, meta=pdf.iloc[:0])
    out = df.compute().reset_index(drop=True)
    want = pd.concat([pd.read_json(p, orient="records", lines=True) for p in sorted(paths)])
    pd.testing.assert_frame_equal(out, want.reset_index(drop=True), check_dtype=False)
    pd.testing.assert_frame_equal(out, pdf, check_exact=False, rtol=1e-9)
    _meta_agrees(df, out)


def test_json_records_array_compression_and_path_column(tmp_path):
    pdf = pd.DataFrame({"a": range(6), "b": list("xyzxyz")})
    ddf = dd.from_pandas(pdf, npartitions=2)
    paths = dd.to_json(ddf, tmp_path / "*.json.gz", lines=False, compression="gzip")
    assert [p.rsplit("/", 1)[1] for p in paths] == ["0.json.gz", "1.json.gz"]
    df = dd.read_json(tmp_path / "*.json.gz", lines=False, include_path_column=True)
    out = df.compute()
    pd.testing.assert_frame_equal(out[["a", "b"]].reset_index(drop=True), pdf)
    assert out.path.astype(str).tolist() == [paths[0]] * 3 + [paths[1]] * 3
    assert isinstance(out.path.dtype, pd.CategoricalDtype) and df.path.dtype == out.path.dtype
    with pytest.raises(ValueError, match="compressed"):
        dd.read_json(tmp_path / "*.json.gz", blocksize=10)
    with pytest.raises(ValueError, match="line-delimited"):
        dd.read_json(tmp_path / "*.json.gz", lines=False, blocksize=10)


def test_read_json_is_lazy_and_casts_to_meta(tmp_path):
    (tmp_path / "a.json").write_text('{"x": 1}\n{"x": 2}\n')
    (tmp_path / "b.json").write_text('{"x": 1.5}\n')
    df = dd.read_json(tmp_path / "*.json", meta={"x": "f8"})
    (tmp_path / "a.json").write_text('{"x": 7}\n')  # read when computed, not before
    out = df.compute()
    assert out.x.tolist() == [7.0, 1.5] and out.x.dtype == np.float64
    with pytest.raises(ValueError, match="not int64"):  # b.json's 1.5 is no int
        dd.read_json(tmp_path / "*.json").compute()


# --- ORC ------------------------------------------------------------------------------


@SETTINGS
@given(frames, st.integers(1, 4))
def test_orc_roundtrip_and_columns(tmp_path, pdf, nparts):
    out_dir = Path(tempfile.mkdtemp(dir=tmp_path))  # tmp_path is shared by the examples
    dd.to_orc(dd.from_pandas(pdf, npartitions=nparts), out_dir)
    df = dd.read_orc(out_dir, index="index")
    out = df.compute()
    pd.testing.assert_frame_equal(out, pdf.rename_axis("index"))
    _meta_agrees(df, out)
    files = sorted(out_dir.iterdir(), key=lambda p: int(p.name.split(".")[1]))
    import pyarrow.orc as orc

    want = pd.concat([orc.read_table(f).to_pandas() for f in files]).set_index("index")
    pd.testing.assert_frame_equal(out, want)
    only = dd.read_orc(out_dir, columns=["f"])
    assert list(only.columns) == ["f"]
    pd.testing.assert_series_equal(only.compute().f.reset_index(drop=True), pdf.f)
    pd.testing.assert_frame_equal(df[["s"]].compute(), out[["s"]])


def test_orc_stripes_and_errors(tmp_path):
    import pyarrow as pa
    import pyarrow.orc as orc

    table = pa.table({"x": np.arange(20_000), "y": np.arange(20_000) * 0.5})
    orc.write_table(table, tmp_path / "a.orc", stripe_size=4096)
    nstripes = orc.ORCFile(tmp_path / "a.orc").nstripes
    assert nstripes > 2
    df = dd.read_orc(tmp_path / "a.orc", split_stripes=2)
    assert df.npartitions == -(-nstripes // 2)
    pd.testing.assert_frame_equal(df.compute().reset_index(drop=True), table.to_pandas())
    with pytest.raises(ValueError, match="columns"):
        dd.read_orc(tmp_path / "a.orc", columns=["nope"])
    with pytest.raises(ValueError, match="split_stripes"):
        dd.read_orc(tmp_path / "a.orc", split_stripes=0)


# --- HDF5 -----------------------------------------------------------------------------


@SETTINGS
@given(frames, st.integers(1, 4), st.integers(1, 25))
def test_hdf_roundtrip(tmp_path, pdf, nparts, chunksize):
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "h.h5"
    ddf = dd.from_pandas(pdf, npartitions=nparts)
    # as in pandas/Dask, string widths are fixed by the first partition unless given
    dd.to_hdf(ddf, path, "/data", min_itemsize={"s": 8})
    want = pd.read_hdf(path, "/data")
    pd.testing.assert_frame_equal(want, pdf)
    df = dd.read_hdf(path, "/data", chunksize=chunksize, sorted_index=True)
    assert df.npartitions == -(-len(pdf) // chunksize)
    out = df.compute()
    pd.testing.assert_frame_equal(out, want)
    _meta_agrees(df, out)
    assert df.divisions[0] == 0 and df.divisions[-1] == len(pdf) - 1
    part = dd.read_hdf(path, "/data", start=1, stop=5, columns=["i"], chunksize=chunksize)
    pd.testing.assert_frame_equal(
        part.compute(), pd.read_hdf(path, "/data", start=1, stop=5, columns=["i"])
    )


def test_hdf_wildcards(tmp_path):
    pdf = pd.DataFrame({"x": range(9), "y": np.arange(9.0)})
    ddf = dd.from_pandas(pdf, npartitions=3)
    files = dd.to_hdf(ddf, tmp_path / "f*.h5", "/t")
    assert len(files) == 3
    pd.testing.assert_frame_equal(dd.read_hdf(tmp_path / "f*.h5", "/t").compute(), pdf)
    dd.to_hdf(ddf, tmp_path / "k.h5", "/part*")
    with pd.HDFStore(tmp_path / "k.h5") as store:
        assert sorted(store.keys()) == ["/part0", "/part1", "/part2"]
    df = dd.read_hdf(tmp_path / "k.h5", "/part*")
    pd.testing.assert_frame_equal(df.compute(), pdf)
    assert list(df[["y"]].compute().columns) == ["y"]
    pdf.to_hdf(tmp_path / "fixed.h5", key="t")  # pandas' default 'fixed' format
    with pytest.raises(ValueError, match="table"):
        dd.read_hdf(tmp_path / "fixed.h5", "t")
    with pytest.raises(KeyError, match="nope"):
        dd.read_hdf(tmp_path / "k.h5", "/nope")


# --- SQL ------------------------------------------------------------------------------

sql_frames = (
    st.integers(1, 60)
    .flatmap(
        lambda n: st.fixed_dictionaries(
            {
                "id": st.lists(st.integers(-1000, 1000), min_size=n, max_size=n, unique=True),
                "f": st.lists(st.floats(-1e6, 1e6), min_size=n, max_size=n),
                "s": st.lists(st.sampled_from(["ab", "c", "xyz"]), min_size=n, max_size=n),
            }
        )
    )
    .map(pd.DataFrame)
)


@SETTINGS
@given(sql_frames, st.integers(1, 5))
def test_read_sql_table_against_pandas(tmp_path, pdf, nparts):
    uri = f"sqlite:///{tempfile.mkdtemp(dir=tmp_path)}/db.sqlite"
    pdf.to_sql("t", uri, index=False, if_exists="replace")
    df = dd.read_sql_table("t", uri, "id", npartitions=nparts)
    want = pd.read_sql_table("t", uri, index_col="id").sort_index()
    out = df.compute()
    pd.testing.assert_frame_equal(out, want)
    assert out.index.is_monotonic_increasing
    assert df.divisions[0] == want.index.min() and df.divisions[-1] == want.index.max()
    _meta_agrees(df, out)
    cols = dd.read_sql_table("t", uri, "id", npartitions=nparts, columns=["s"])
    assert list(cols.columns) == ["s"]
    pd.testing.assert_frame_equal(cols.compute(), want[["s"]])


def test_read_sql_divisions_bytes_query_and_errors(tmp_path):
    import sqlalchemy as sa

    uri = f"sqlite:///{tmp_path}/a.sqlite"
    pdf = pd.DataFrame(
        {
            "id": range(1000),
            "x": np.arange(1000.0),
            "t": pd.date_range("2000", periods=1000, freq="h"),
        }
    )
    pdf.to_sql("t", uri, index=False)
    df = dd.read_sql_table("t", uri, "id", divisions=[0, 10, 500, 999])
    assert df.divisions == (0, 10, 500, 999)
    assert df.map_partitions(len).compute().tolist() == [10, 490, 500]
    small = dd.read_sql_table("t", uri, "id", bytes_per_chunk=4000)
    assert small.npartitions > 3
    pd.testing.assert_frame_equal(small.compute(), pdf.set_index("id"))
    by_time = dd.read_sql_table("t", uri, "t", npartitions=4)
    want = pd.read_sql_table("t", uri, index_col="t")
    pd.testing.assert_frame_equal(by_time.compute(), want, check_index_type=False)
    t = sa.table("t", sa.column("id"), sa.column("x"))
    q = sa.select(t.c.id, t.c.x).where(t.c.x > 499.5)
    got = dd.read_sql_query(q, uri, "id", npartitions=3, limits=(500, 999)).compute()
    pd.testing.assert_frame_equal(got, pdf.set_index("id")[["x"]].iloc[500:])
    assert dd.read_sql("t", uri, "id").npartitions >= 1
    with pytest.raises(ValueError, match="index_col"):
        dd.read_sql_table("t", uri, "nope")
    with pytest.raises(TypeError, match="URI"):
        dd.read_sql_table("t", sa.create_engine(uri), "id")
    with pytest.raises(TypeError, match="Select"):
        dd.read_sql_query("SELECT * FROM t", uri, "id")


@SETTINGS
@given(sql_frames, st.integers(1, 4), st.booleans())
def test_to_sql_roundtrip(tmp_path, pdf, nparts, parallel):
    uri = f"sqlite:///{tempfile.mkdtemp(dir=tmp_path)}/db.sqlite"
    ddf = dd.from_pandas(pdf.set_index("id"), npartitions=nparts)
    assert dd.to_sql(ddf, "t", uri, if_exists="replace", parallel=parallel) is None
    back = pd.read_sql_table("t", uri, index_col="id").sort_index()
    pd.testing.assert_frame_equal(back, pdf.set_index("id").sort_index())
    with pytest.raises(ValueError, match="already exists"):
        dd.to_sql(ddf, "t", uri)
    lazy = dd.to_sql(ddf, "t", uri, if_exists="append", compute=False)
    assert len(pd.read_sql_table("t", uri)) == len(pdf)
    lazy.compute()
    assert len(pd.read_sql_table("t", uri)) == 2 * len(pdf)
