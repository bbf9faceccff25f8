"""``storage_options`` and ``scheme://`` paths in taskloom.dataframe's file readers and
writers (through fsspec, as in Dask), and ``read_json``'s column projection.

The URLs are fsspec's in-memory store (``memory://``), ``file://`` and a test protocol
whose filesystem needs an option, so that ``storage_options`` are seen to arrive. Every
result is compared with pandas reading the same bytes (and once with Dask).
"""

from __future__ import annotations

import gzip
import sys
import uuid
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom.dataframe as dd

fsspec = pytest.importorskip("fsspec")
from fsspec.implementations.memory import MemoryFileSystem  # noqa: E402

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def mem():
    """A fresh directory of fsspec's memory store: (filesystem, its memory:// URL)."""
    fs = fsspec.filesystem("memory")
    root = f"/tl-{uuid.uuid4().hex[:10]}"
    fs.mkdir(root)
    yield fs, f"memory://{root}"
    fs.rm(root, recursive=True)


def _put(fs, url: str, data: bytes) -> None:
    with fs.open(url.removeprefix("memory://"), "wb") as f:
        f.write(data)


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": np.arange(n),
            "b": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "c": pd.array([f"s{k % 7}" for k in range(n)], dtype="str"),
        }
    )


# --- CSV ------------------------------------------------------------------------------


@SETTINGS
@given(n=st.integers(1, 300), files=st.integers(1, 3), blocksize=st.sampled_from([None, 97, 512]))
def test_read_csv_memory_urls_match_pandas(mem, n, files, blocksize):
    fs, url = mem
    pdf = _frame(n, n)
    d = f"{url}/{uuid.uuid4().hex[:8]}"  # examples share the fixture's directory
    chunks = np.array_split(np.arange(n), files)
    for i, rows in enumerate(chunks):
        _put(fs, f"{d}/part{i}.csv", pdf.iloc[rows].to_csv(index=False).encode())
    pattern = f"{d}/part*.csv"
    df = dd.read_csv(pattern, blocksize=blocksize, storage_options={})
    got = df.compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(got, pdf)
    assert dict(df.dtypes) == dict(got.dtypes)
    pd.testing.assert_frame_equal(df[["b"]].compute().reset_index(drop=True), pdf[["b"]])


def test_each_reader_of_a_memory_url_has_its_own_position(mem):
    # fsspec's memory filesystem hands every reader the same file object: a second
    # open moved the first reader's position (threads reading blocks got wrong bytes).
    from taskloom.dataframe.io import _read_url

    fs, url = mem
    data = bytes(range(256)) * 4
    _put(fs, f"{url}/raw.bin", data)
    first = _read_url(f"{url}/raw.bin", {})
    assert first.read(10) == data[:10]
    second = _read_url(f"{url}/raw.bin", {})
    assert first.read(10) == data[10:20]
    assert second.read(10) == data[:10]


def test_read_csv_of_a_memory_url_on_threads_reads_every_block_right(mem):
    fs, url = mem
    pdf = _frame(3000, 7)
    _put(fs, f"{url}/t.csv", pdf.to_csv(index=False).encode())
    df = dd.read_csv(f"{url}/t.csv", blocksize=2000)
    assert df.npartitions > 20
    for _ in range(5):
        got = df.compute(scheduler="threads", num_workers=4).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, pdf)


def test_read_csv_compressed_path_column_and_dask(mem, tmp_path):
    import dask.dataframe as ddask

    fs, url = mem
    pdf = _frame(200, 1)
    _put(fs, f"{url}/z.csv.gz", gzip.compress(pdf.to_csv(index=False).encode()))
    _put(fs, f"{url}/y.csv", pdf.to_csv(index=False).encode())
    pd.testing.assert_frame_equal(dd.read_csv(f"{url}/z.csv.gz").compute(), pdf)
    df = dd.read_csv(f"{url}/y.csv", blocksize=1000, include_path_column=True)
    assert df.npartitions > 1
    got = df.compute()
    assert set(got["path"]) == {f"{url}/y.csv"}
    want = ddask.read_csv(f"{url}/y.csv", blocksize=1000).compute(scheduler="sync")
    want = want.astype({"c": got["c"].dtype})  # Dask's strings are pyarrow-backed
    pd.testing.assert_frame_equal(
        got.drop(columns="path").reset_index(drop=True), want.reset_index(drop=True)
    )
    # file:// is the local file, read through fsspec
    local = tmp_path / "f.csv"
    pdf.to_csv(local, index=False)
    pd.testing.assert_frame_equal(
        dd.read_csv(f"file://{local}", blocksize=700).compute().reset_index(drop=True), pdf
    )
    with pytest.raises(FileNotFoundError, match=r"missing\.csv"):
        dd.read_csv(f"{url}/missing.csv")
    with pytest.raises(FileNotFoundError, match="nothing"):
        dd.read_csv(f"{url}/nothing*.csv")


def test_to_csv_and_to_json_memory_roundtrip(mem):
    _, url = mem
    pdf = _frame(50, 2)
    ddf = dd.from_pandas(pdf, npartitions=3)
    paths = ddf.to_csv(f"{url}/out/*.csv", index=False, storage_options={})
    assert paths == [f"{url}/out/{i}.csv" for i in range(3)]
    back = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    pd.testing.assert_frame_equal(back, pdf)
    one = ddf.to_csv(f"{url}/one.csv", single_file=True, index=False)[0]
    pd.testing.assert_frame_equal(pd.read_csv(one), pdf)
    paths = dd.to_json(ddf, f"{url}/js")
    assert paths == [f"{url}/js/{i}.part" for i in range(3)]
    back = dd.read_json(f"{url}/js/*.part").compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(back, pdf)


# --- options reach the filesystem ------------------------------------------------------


class _NeedsToken(MemoryFileSystem):
    """A memory store that refuses to open without ``token="secret"``."""

    protocol = "tltoken"
    store: ClassVar[dict] = {}
    pseudo_dirs: ClassVar[list] = [""]

    @classmethod
    def _strip_protocol(cls, path):
        return MemoryFileSystem._strip_protocol(str(path).removeprefix("tltoken://"))

    def __init__(self, token: str | None = None, **kwargs):
        if token != "secret":
            raise PermissionError(f"tltoken:// needs token='secret', got {token!r}")
        super().__init__(**kwargs)


@pytest.fixture
def token_fs():
    fsspec.register_implementation("tltoken", _NeedsToken, clobber=True)
    fs = _NeedsToken(token="secret")
    root = f"/tok-{uuid.uuid4().hex[:8]}"
    fs.mkdir(root)
    yield fs, f"tltoken://{root}"
    fs.rm(root, recursive=True)


def test_storage_options_reach_every_reader_and_writer(token_fs):
    fs, url = token_fs
    so = {"token": "secret"}
    pdf = _frame(40, 3)
    with fs.open(f"{url}/a.csv".removeprefix("tltoken://"), "wb") as f:
        f.write(pdf.to_csv(index=False).encode())
    with pytest.raises(PermissionError, match="token"):
        dd.read_csv(f"{url}/a.csv")
    got = dd.read_csv(f"{url}/*.csv", storage_options=so, blocksize=300)
    assert got.npartitions > 1
    pd.testing.assert_frame_equal(got.compute().reset_index(drop=True), pdf)
    ddf = dd.from_pandas(pdf, npartitions=2)
    ddf.to_parquet(f"{url}/pq", storage_options=so)
    pd.testing.assert_frame_equal(dd.read_parquet(f"{url}/pq", storage_options=so).compute(), pdf)
    dd.to_json(ddf, f"{url}/js", storage_options=so)
    back = dd.read_json(f"{url}/js/*.part", storage_options=so, blocksize=200)
    pd.testing.assert_frame_equal(back.compute().reset_index(drop=True), pdf)
    ddf.to_csv(f"{url}/csv/*.csv", index=False, storage_options=so)
    back = dd.read_csv(f"{url}/csv/*.csv", storage_options=so)
    pd.testing.assert_frame_equal(back.compute().reset_index(drop=True), pdf)
    with pytest.raises(PermissionError, match="token"):
        dd.read_parquet(f"{url}/pq")


def test_without_fsspec_urls_are_a_clear_import_error(monkeypatch, tmp_path):
    pdf = _frame(20, 4)
    ddf = dd.from_pandas(pdf, npartitions=2)
    monkeypatch.setitem(sys.modules, "fsspec", None)  # import fsspec now fails
    for call in (
        lambda: dd.read_csv("s3://bucket/a.csv"),
        lambda: dd.read_json("s3://bucket/a.json"),
        lambda: dd.read_parquet("gs://bucket/data"),
        lambda: ddf.to_csv("s3://bucket/out/*.csv"),
        lambda: dd.to_json(ddf, "s3://bucket/js"),
        lambda: ddf.to_parquet("s3://bucket/pq"),
        lambda: dd.read_orc("s3://bucket/orc"),
        lambda: dd.to_orc(ddf, "s3://bucket/orc"),
    ):
        with pytest.raises(ImportError, match=r"needs fsspec .*taskloom\[fsspec\]"):
            call()
    # local paths need no fsspec, with or without storage_options
    ddf.to_csv(tmp_path / "c-*.csv", index=False)
    got = dd.read_csv(tmp_path / "c-*.csv", storage_options={"anon": True}).compute()
    pd.testing.assert_frame_equal(got.reset_index(drop=True), pdf)
    ddf.to_parquet(tmp_path / "pq")
    pd.testing.assert_frame_equal(dd.read_parquet(tmp_path / "pq").compute(), pdf)
    dd.to_json(ddf, tmp_path / "js")
    got = dd.read_json(str(tmp_path / "js" / "*.part"), blocksize=100).compute()
    pd.testing.assert_frame_equal(got.reset_index(drop=True), pdf)


# --- Parquet ---------------------------------------------------------------------------


def test_parquet_memory_urls_hive_append_overwrite(mem, tmp_path):
    fs, url = mem
    pdf = _frame(60, 5).assign(k=lambda d: d.a % 3)
    ddf = dd.from_pandas(pdf, npartitions=3)
    ddf.to_parquet(f"{url}/pq")
    assert sorted(fs.ls(f"{url}/pq".removeprefix("memory://"), detail=False))[0].endswith(
        "part.0.parquet"
    )
    pd.testing.assert_frame_equal(dd.read_parquet(f"{url}/pq").compute(), pdf)
    got = dd.read_parquet(f"{url}/pq", columns=["c"], filters=[("a", ">", 30)]).compute()
    local = tmp_path / "pq"
    ddf.to_parquet(local)
    want = dd.read_parquet(local, columns=["c"], filters=[("a", ">", 30)]).compute()
    pd.testing.assert_frame_equal(got, want)
    ddf.to_parquet(f"{url}/pq", append=True)
    assert len(dd.read_parquet(f"{url}/pq").compute()) == 120
    ddf.to_parquet(f"{url}/pq", overwrite=True)
    assert len(dd.read_parquet(f"{url}/pq").compute()) == 60
    # hive partitions under a URL read as they do locally
    ddf.to_parquet(f"{url}/hive", partition_on=["k"])
    ddf.to_parquet(tmp_path / "hive", partition_on=["k"])
    ours = dd.read_parquet(f"{url}/hive").compute().sort_values("a", ignore_index=True)
    local = dd.read_parquet(tmp_path / "hive").compute().sort_values("a", ignore_index=True)
    pd.testing.assert_frame_equal(ours, local)
    assert sorted(ours["k"].unique().tolist()) == [0, 1, 2]


# --- read_json columns -------------------------------------------------------------------


@SETTINGS
@given(
    n=st.integers(1, 80),
    columns=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True),
    blocksize=st.sampled_from([None, 64, 300]),
)
def test_read_json_columns_match_pandas(tmp_path, n, columns, blocksize):
    pdf = _frame(n, n)
    path = tmp_path / f"{uuid.uuid4().hex[:8]}.json"
    pdf.to_json(path, orient="records", lines=True)
    want = pd.read_json(path, lines=True)[columns]
    df = dd.read_json(str(path), blocksize=blocksize, columns=columns)
    assert list(df.columns) == columns
    got = df.compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)
    # selecting later narrows the reader the same way
    full = dd.read_json(str(path), blocksize=blocksize)
    pd.testing.assert_frame_equal(full[columns].compute().reset_index(drop=True), want)


def test_read_json_columns_edges(tmp_path):
    path = tmp_path / "a.json"
    # "z" appears only in the first lines: later blocks lack the key altogether
    lines = [f'{{"x": {i}, "z": {i * 10}}}' for i in range(5)] + [
        f'{{"x": {i}}}' for i in range(5, 40)
    ]
    path.write_text("\n".join(lines) + "\n")
    want = pd.read_json(path, lines=True)
    df = dd.read_json(str(path), blocksize=60, columns=["z"])
    assert df.npartitions > 2 and df.dtypes["z"] == np.int64  # from the first block
    # a later block's missing key is a null, which int64 cannot hold: a clear error
    with pytest.raises(ValueError, match=r"columns \['z'\] do not have the dtypes"):
        df.compute()
    df = dd.read_json(str(path), blocksize=60, columns=["z"], meta=want.iloc[:0])
    pd.testing.assert_frame_equal(df.compute().reset_index(drop=True), want[["z"]])
    df = dd.read_json(str(path), columns="x", include_path_column=True)
    assert list(df.columns) == ["x"]
    df = dd.read_json(str(path), columns=["path", "x"], include_path_column=True)
    got = df.compute()
    assert list(got.columns) == ["path", "x"] and set(got["path"]) == {str(path)}
    with pytest.raises(ValueError, match=r"columns \['nope'\] are not in the data"):
        dd.read_json(str(path), columns=["x", "nope"])
    with pytest.raises(ValueError, match="twice"):
        dd.read_json(str(path), columns=["x", "x"])
    # engine as a string, as Dask: pandas' pyarrow engine
    pytest.importorskip("pyarrow.json")
    got = dd.read_json(str(path), engine="pyarrow", columns=["x"]).compute()
    pd.testing.assert_frame_equal(got, pd.read_json(path, lines=True, engine="pyarrow")[["x"]])


def test_read_json_memory_urls(mem):
    fs, url = mem
    pdf = _frame(100, 6)
    _put(fs, f"{url}/a.json", pdf.to_json(orient="records", lines=True).encode())
    _put(fs, f"{url}/b.json.gz", gzip.compress(pdf.to_json(orient="records", lines=True).encode()))
    df = dd.read_json(f"{url}/a.json", blocksize=500, columns=["c", "a"])
    assert df.npartitions > 1
    pd.testing.assert_frame_equal(df.compute().reset_index(drop=True), pdf[["c", "a"]])
    pd.testing.assert_frame_equal(dd.read_json(f"{url}/b.json.gz").compute(), pdf)


def test_orc_memory_urls(mem, tmp_path):
    _, url = mem
    pdf = _frame(30, 7)
    ddf = dd.from_pandas(pdf, npartitions=3)
    paths = dd.to_orc(ddf, f"{url}/orc", write_index=False, storage_options={})
    assert paths == [f"{url}/orc/part.{i}.orc" for i in range(3)]
    dd.to_orc(ddf, tmp_path / "orc", write_index=False)
    got = dd.read_orc(f"{url}/orc", storage_options={})
    want = dd.read_orc(tmp_path / "orc").compute()
    pd.testing.assert_frame_equal(got.compute(), want)
    pd.testing.assert_frame_equal(got[["c"]].compute(), want[["c"]])
    one = dd.read_orc(f"{url}/orc/part.1.orc", columns=["a"]).compute()
    assert one["a"].tolist() == pdf["a"].iloc[10:20].tolist()
