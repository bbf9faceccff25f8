"""No writer destroys existing data when it fails (issue #12, item 15).

For each writer (``to_csv`` per partition and ``single_file``, ``to_parquet`` plain and
hive-partitioned, ``Bag.to_textfiles``, ``array.to_npy_stack``) a target already holds
data and a write fails on that target: a partition whose computation raises, or a value
that cannot be written, raising midway through the write. The old bytes must be intact,
nothing staged left behind, the exception the one raised. Each failing-value case also
checks that the library alone (pandas, pyarrow, numpy, ``open``) would have destroyed
the file, so the test could fail. A successful overwrite must give exactly what pandas,
pyarrow, numpy or plain Python write for the same data.
"""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
import stat

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import taskloom
import taskloom.array as da
import taskloom.bag as db
import taskloom.dataframe as dd
from taskloom import _files


class WriteError(Exception):
    """The failure the tests provoke (a class no library raises by itself)."""


class Unwritable:
    """A value whose text form raises: pandas' CSV writer and ``str`` fail on it."""

    def __str__(self) -> str:
        raise WriteError("this value cannot be written as text")

    def __repr__(self) -> str:
        return "Unwritable()"


class Unpicklable:
    """A value ``np.save`` cannot pickle: it fails after the file is opened."""

    def __reduce__(self):
        raise WriteError("this value cannot be pickled")


def tree(root) -> dict[str, bytes]:
    """Every file under ``root``, hidden ones included: relative path -> bytes."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def open_mode(directory) -> int:
    """The permission bits ``open()`` gives a new file here (0o666 less the umask)."""
    probe = os.path.join(directory, "probe-open-mode")
    with open(probe, "w"):
        pass
    try:
        return mode_of(probe)
    finally:
        os.unlink(probe)


@pytest.fixture(params=["sync", "threads"])
def scheduler(request):
    return request.param


def raise_write_error():
    raise WriteError("the partition cannot be computed")


GOOD = pd.DataFrame({"a": range(20), "b": [f"v{i}" for i in range(20)]})
# Many rows before the bad one: the writer has opened the file and written some of
# it when the bad value raises.
BAD_TEXT = pd.DataFrame({"a": range(300), "b": [f"w{i}" for i in range(299)] + [Unwritable()]})


def frame_failing(how: str):
    """A two-partition frame whose partition 1 fails: while computing, or in the write."""
    second = (
        taskloom.delayed(raise_write_error)()
        if how == "compute"
        else taskloom.delayed(BAD_TEXT.copy)()
    )
    return dd.from_delayed([taskloom.delayed(GOOD.copy)(), second], meta=GOOD.iloc[:0])


# --- to_csv ----------------------------------------------------------------------------


def test_pandas_alone_destroys_a_csv_it_fails_to_write(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"old data\n")
    with pytest.raises(WriteError):
        BAD_TEXT.to_csv(path, chunksize=10)
    assert path.read_bytes() != b"old data\n"  # what the writers below must not do


@pytest.mark.parametrize("how", ["compute", "write"])
def test_to_csv_failure_keeps_existing_files(tmp_path, scheduler, how):
    for i in range(2):
        (tmp_path / f"part-{i}.csv").write_bytes(f"old,{i}\n".encode())
    before = tree(tmp_path)
    with pytest.raises(WriteError, match="cannot be"):
        frame_failing(how).to_csv(str(tmp_path / "part-*.csv"), scheduler=scheduler, chunksize=10)
    after = tree(tmp_path)
    assert sorted(after) == sorted(before)  # nothing staged is left behind
    assert after["part-1.csv"] == before["part-1.csv"]
    # Partition 0 succeeded: its file is the old one or the whole new one, as in Dask
    # (each partition is its own task there too).
    GOOD.to_csv(tmp_path / "ref.csv", chunksize=10)
    assert after["part-0.csv"] in (before["part-0.csv"], (tmp_path / "ref.csv").read_bytes())


def test_to_csv_overwrite_matches_pandas_and_keeps_modes(tmp_path, scheduler):
    ddf = dd.from_pandas(GOOD, npartitions=3)
    existing = tmp_path / "out-000.csv"
    existing.write_bytes(b"old\n")
    os.chmod(existing, 0o600)
    paths = ddf.to_csv(
        str(tmp_path / "out-*.csv"), name_function=lambda i: f"{i:03d}", scheduler=scheduler
    )
    assert [os.path.basename(p) for p in paths] == ["out-000.csv", "out-001.csv", "out-002.csv"]
    for i, p in enumerate(paths):
        ref = tmp_path / f"ref-{i}.csv"
        ddf.get_partition(i).compute().to_csv(ref)
        assert open(p, "rb").read() == ref.read_bytes()
    assert mode_of(existing) == 0o600  # a replaced file keeps its mode
    assert mode_of(paths[1]) == open_mode(tmp_path)  # a new one gets open()'s
    assert sorted(os.listdir(tmp_path)) == sorted(
        [os.path.basename(p) for p in paths] + [f"ref-{i}.csv" for i in range(3)]
    )


def test_to_csv_gzip_by_extension(tmp_path):
    target = tmp_path / "data-0.csv.gz"
    target.write_bytes(gzip.compress(b"old\n"))
    before = target.read_bytes()
    bad = dd.from_delayed([taskloom.delayed(BAD_TEXT.copy)()], meta=GOOD.iloc[:0])
    with pytest.raises(WriteError):
        bad.to_csv(str(tmp_path / "data-*.csv.gz"), chunksize=10)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["data-0.csv.gz"]

    dd.from_pandas(GOOD, npartitions=1).to_csv(str(tmp_path / "data-*.csv.gz"), index=False)
    os.mkdir(tmp_path / "ref")
    ref = tmp_path / "ref" / "data-0.csv.gz"  # same file name: gzip stores it
    GOOD.to_csv(ref, index=False)
    ours, theirs = target.read_bytes(), ref.read_bytes()
    # Equal but for the gzip header's modification time (bytes 4-7).
    assert ours[:4] + ours[8:] == theirs[:4] + theirs[8:]
    pd.testing.assert_frame_equal(pd.read_csv(target), GOOD)


def test_to_csv_append_copies_then_replaces(tmp_path):
    old = b"a,b\n-1,old\n"
    for i in range(2):
        (tmp_path / f"{i}.csv").write_bytes(old)
    with pytest.raises(WriteError):
        frame_failing("write").to_csv(
            str(tmp_path / "*.csv"), mode="a", header=False, index=False, chunksize=10
        )
    assert (tmp_path / "1.csv").read_bytes() == old
    assert sorted(os.listdir(tmp_path)) == ["0.csv", "1.csv"]

    (tmp_path / "0.csv").write_bytes(old)  # partition 0 may have appended above
    ddf = dd.from_pandas(GOOD, npartitions=2)
    paths = ddf.to_csv(str(tmp_path / "*.csv"), mode="a", header=False, index=False)
    for i, p in enumerate(paths):
        ref = tmp_path / f"ref{i}"
        ref.write_bytes(old)
        ddf.get_partition(i).compute().to_csv(ref, mode="a", header=False, index=False)
        assert open(p, "rb").read() == ref.read_bytes()


@pytest.mark.parametrize("how", ["compute", "write"])
def test_to_csv_single_file_failure_keeps_the_file(tmp_path, scheduler, how):
    target = tmp_path / "all.csv"
    target.write_bytes(b"old single file\n")
    third = taskloom.delayed(GOOD.copy)()
    parts = [*frame_failing(how).to_delayed(), third]
    ddf = dd.from_delayed(parts, meta=GOOD.iloc[:0])
    with pytest.raises(WriteError):
        ddf.to_csv(str(target), single_file=True, scheduler=scheduler, chunksize=10)
    assert target.read_bytes() == b"old single file\n"
    assert os.listdir(tmp_path) == ["all.csv"]


def test_to_csv_single_file_matches_pandas(tmp_path, scheduler):
    target = tmp_path / "all.csv"
    target.write_bytes(b"old single file\n")
    os.chmod(target, 0o640)
    dd.from_pandas(GOOD, npartitions=4).to_csv(
        str(target), single_file=True, index=False, scheduler=scheduler
    )
    GOOD.to_csv(tmp_path / "ref.csv", index=False)
    assert target.read_bytes() == (tmp_path / "ref.csv").read_bytes()
    assert mode_of(target) == 0o640
    # Appending: the old bytes, then the frame, as pandas appends it.
    shutil.copyfile(target, tmp_path / "ref.csv")
    dd.from_pandas(GOOD, npartitions=3).to_csv(
        str(target), single_file=True, mode="a", header=False, index=False
    )
    GOOD.to_csv(tmp_path / "ref.csv", mode="a", header=False, index=False)
    assert target.read_bytes() == (tmp_path / "ref.csv").read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["all.csv", "ref.csv"]


def test_to_csv_single_file_append_failure_keeps_the_file(tmp_path):
    target = tmp_path / "log.csv"
    target.write_bytes(b"a,b\n-1,old\n")
    with pytest.raises(WriteError):
        frame_failing("write").to_csv(
            str(target), single_file=True, mode="a", header=False, chunksize=10
        )
    assert target.read_bytes() == b"a,b\n-1,old\n"
    assert os.listdir(tmp_path) == ["log.csv"]


def test_to_csv_single_file_compute_false(tmp_path):
    target = tmp_path / "all.csv"
    target.write_bytes(b"old\n")
    (value,) = frame_failing("write").to_csv(
        str(target), single_file=True, compute=False, chunksize=10
    )
    with pytest.raises(WriteError):
        value.compute()
    # The failing write removes what it staged itself.
    assert target.read_bytes() == b"old\n" and os.listdir(tmp_path) == ["all.csv"]
    (value,) = frame_failing("compute").to_csv(str(target), single_file=True, compute=False)
    with pytest.raises(WriteError):
        value.compute()
    # A partition failing before its write leaves the target intact; what it can leave
    # is a hidden staging directory (documented in to_csv), which readers skip.
    assert target.read_bytes() == b"old\n"
    assert all(n.startswith(".") for n in os.listdir(tmp_path) if n != "all.csv")
    assert dd.read_csv(str(tmp_path / "*.csv"), header=None).compute()[0].tolist() == ["old"]


def test_to_csv_refuses_like_pandas(tmp_path):
    """A directory in the way and an exclusive mode fail as pandas fails, before writing."""
    (tmp_path / "part-1.csv").mkdir()
    ddf = dd.from_pandas(GOOD, npartitions=2)
    with pytest.raises(IsADirectoryError):
        GOOD.to_csv(tmp_path / "part-1.csv")
    with pytest.raises(IsADirectoryError):
        ddf.to_csv(str(tmp_path / "part-*.csv"), scheduler="sync")
    assert os.listdir(tmp_path / "part-1.csv") == []
    assert {n for n in os.listdir(tmp_path) if n.startswith(".")} == set()

    exclusive = tmp_path / "x"
    exclusive.mkdir()
    (exclusive / "0.csv").write_bytes(b"keep\n")
    with pytest.raises(FileExistsError):
        GOOD.to_csv(exclusive / "0.csv", mode="x")
    with pytest.raises(FileExistsError):
        ddf.to_csv(str(exclusive / "*.csv"), mode="x", scheduler="sync")
    assert (exclusive / "0.csv").read_bytes() == b"keep\n"
    assert sorted(os.listdir(exclusive)) in (["0.csv"], ["0.csv", "1.csv"])
    ddf.to_csv(str(tmp_path / "new-*.csv"), mode="x")
    ddf.get_partition(0).compute().to_csv(tmp_path / "ref.csv")
    assert (tmp_path / "new-0.csv").read_bytes() == (tmp_path / "ref.csv").read_bytes()


def test_to_csv_writes_through_a_symlink(tmp_path):
    real = tmp_path / "real.csv"
    real.write_bytes(b"old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    dd.from_pandas(GOOD, npartitions=2).to_csv(str(link), single_file=True)
    GOOD.to_csv(tmp_path / "ref.csv")
    assert link.is_symlink() and real.read_bytes() == (tmp_path / "ref.csv").read_bytes()


def test_to_csv_url_is_written_directly(tmp_path, monkeypatch):
    """A fsspec URL is not a local path: no staging, the store writes it (as before)."""
    import fsspec

    monkeypatch.chdir(tmp_path)  # where a local directory named "memory:" would appear
    dd.from_pandas(GOOD, npartitions=2).to_csv("memory://taskloom-writers/part-*.csv")
    dd.from_pandas(GOOD, npartitions=2).to_csv(
        "memory://taskloom-writers/all.csv", single_file=True, index=False
    )
    fs = fsspec.filesystem("memory")
    try:
        back = pd.concat(
            [pd.read_csv(f"memory://taskloom-writers/part-{i}.csv", index_col=0) for i in (0, 1)]
        )
        pd.testing.assert_frame_equal(back, GOOD)
        with fs.open("taskloom-writers/all.csv", "rb") as f:
            assert f.read() == GOOD.to_csv(index=False).encode()
        assert os.listdir(tmp_path) == []  # no local directory named after the URL
    finally:
        fs.rm("taskloom-writers", recursive=True)


# --- to_parquet ------------------------------------------------------------------------

# pandas' DateOffset becomes Arrow's month_day_nano_interval, which Parquet cannot hold:
# pyarrow raises inside write_table, after it opened the file.
UNSTORABLE = pd.DataFrame({"a": range(4), "b": [pd.DateOffset(months=1)] * 4}, dtype=object)


def test_pyarrow_alone_deletes_a_file_it_fails_to_write(tmp_path):
    path = tmp_path / "p.parquet"
    GOOD.to_parquet(path)
    with pytest.raises(pa.ArrowNotImplementedError):
        pq.write_table(pa.Table.from_pandas(UNSTORABLE), path)
    assert not path.exists()  # what to_parquet below must not do


@pytest.mark.parametrize("how", ["compute", "write"])
def test_to_parquet_failure_keeps_existing_files(tmp_path, scheduler, how):
    # Dask (2026.8.0) on the same cases: a partition that raises while computing never
    # reaches its write, so the old file stays; a partition pyarrow fails to write
    # ("write", given the same schema so Dask gets that far) is truncated to 0 bytes,
    # because Dask opens the target with fsspec mode "wb" before pyarrow writes: the
    # name survives, the data does not. taskloom keeps the bytes in both cases.
    for i in range(2):
        GOOD.iloc[i:].to_parquet(tmp_path / f"part.{i}.parquet")
    before = tree(tmp_path)
    second = (
        taskloom.delayed(raise_write_error)()
        if how == "compute"
        else taskloom.delayed(UNSTORABLE.copy)()
    )
    ddf = dd.from_delayed(
        [taskloom.delayed(UNSTORABLE.iloc[:0].copy)(), second], meta=UNSTORABLE.iloc[:0]
    )
    expected = WriteError if how == "compute" else pa.ArrowNotImplementedError
    with pytest.raises(expected):
        ddf.to_parquet(str(tmp_path), scheduler=scheduler)
    after = tree(tmp_path)
    assert sorted(after) == sorted(before)
    assert after["part.1.parquet"] == before["part.1.parquet"]


def test_to_parquet_overwrite_matches_pyarrow(tmp_path, scheduler):
    ddf = dd.from_pandas(GOOD, npartitions=2)
    os.mkdir(tmp_path / "out")
    existing = tmp_path / "out" / "part.0.parquet"
    existing.write_bytes(b"not parquet")
    os.chmod(existing, 0o600)
    ddf.to_parquet(str(tmp_path / "out"), scheduler=scheduler)
    for i in range(2):
        ref = tmp_path / f"ref{i}.parquet"
        table = pa.Table.from_pandas(ddf.get_partition(i).compute(), preserve_index=True)
        pq.write_table(table, ref, compression="snappy")
        assert (tmp_path / "out" / f"part.{i}.parquet").read_bytes() == ref.read_bytes()
    assert mode_of(existing) == 0o600
    assert mode_of(tmp_path / "out" / "part.1.parquet") == mode_of(tmp_path / "ref1.parquet")
    assert sorted(os.listdir(tmp_path / "out")) == ["part.0.parquet", "part.1.parquet"]


def test_to_parquet_partition_on(tmp_path):
    frame = pd.DataFrame({"s": list("xyxy"), "v": [1.0, 2.0, 3.0, 4.0]})
    hive = tmp_path / "hive"
    os.makedirs(hive / "s=x")
    old = hive / "s=x" / "part.0.0.parquet"
    frame.iloc[:1].to_parquet(old)
    before = tree(hive)
    bad = UNSTORABLE.assign(s=list("xyxy")).drop(columns="a")
    with pytest.raises(pa.ArrowNotImplementedError):
        dd.from_pandas(bad, npartitions=1).to_parquet(str(hive), partition_on="s")
    assert tree(hive) == before

    dd.from_pandas(frame, npartitions=1).to_parquet(str(hive), partition_on="s", write_index=False)
    assert sorted(tree(hive)) == ["s=x/part.0.0.parquet", "s=y/part.0.0.parquet"]
    frame.to_parquet(tmp_path / "ref", partition_cols=["s"], index=False)
    got = dd.read_parquet(str(hive)).compute()
    ref = pd.read_parquet(tmp_path / "ref")
    pd.testing.assert_frame_equal(
        got.sort_values("v").reset_index(drop=True),
        ref.assign(s=ref.s.astype(str)).sort_values("v").reset_index(drop=True)[["v", "s"]],
    )


def test_read_parquet_skips_a_staging_directory(tmp_path):
    dd.from_pandas(GOOD, npartitions=2).to_parquet(str(tmp_path))
    stray = tmp_path / ".part.2.parquet.0123456789abcdef.tmp"
    stray.mkdir()  # as a killed writer leaves it
    GOOD.to_parquet(stray / "part.2.parquet")
    back = dd.read_parquet(str(tmp_path))
    assert back.npartitions == 2
    pd.testing.assert_frame_equal(back.compute(), GOOD)


# --- Bag.to_textfiles ------------------------------------------------------------------


def fail_on_seven(x):
    if x == 7:
        raise WriteError("element 7 cannot be computed")
    return x


@pytest.mark.parametrize("how", ["compute", "str", "encoding"])
def test_to_textfiles_failure_keeps_existing_files(tmp_path, scheduler, how):
    for i in range(2):
        (tmp_path / f"{i}.txt").write_bytes(f"old {i}\n".encode())
    before = tree(tmp_path)
    items = {
        "compute": db.from_sequence(range(10), npartitions=2).map(fail_on_seven),
        "str": db.from_sequence([*range(9), Unwritable()], npartitions=2),
        "encoding": db.from_sequence([*map(str, range(9)), "caf\u00e9"], npartitions=2),
    }[how]
    expected = UnicodeEncodeError if how == "encoding" else WriteError
    with pytest.raises(expected):
        with taskloom.config.set(scheduler=scheduler):
            items.to_textfiles(str(tmp_path / "*.txt"), encoding="ascii")
    after = tree(tmp_path)
    assert sorted(after) == sorted(before)
    assert after["1.txt"] == before["1.txt"]


def test_open_alone_destroys_a_text_file_it_fails_to_write(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"old\n")
    with pytest.raises(UnicodeEncodeError), open(path, "w", encoding="ascii") as f:
        f.write("caf\u00e9")
    assert path.read_bytes() != b"old\n"


def test_to_textfiles_overwrite_matches_python(tmp_path, scheduler):
    items = ["a", "b\n", 3, "d", 5.5]
    b = db.from_sequence(items, npartitions=2)
    existing = tmp_path / "0.txt"
    existing.write_bytes(b"old\n")
    os.chmod(existing, 0o600)
    with taskloom.config.set(scheduler=scheduler):
        paths = b.to_textfiles(str(tmp_path / "*.txt"), last_endline=True)
    for i, p in enumerate(paths):
        part = b.to_delayed()[i].compute()
        with open(tmp_path / "ref", "w", encoding="utf-8") as f:
            f.write("".join(str(x).rstrip("\n") + "\n" for x in part))
        assert open(p, "rb").read() == (tmp_path / "ref").read_bytes()
    assert mode_of(existing) == 0o600
    assert mode_of(paths[1]) == open_mode(tmp_path)


# --- array.to_npy_stack ----------------------------------------------------------------


def fail_on_block_with(block, value):
    if value in block:
        raise WriteError(f"the block holding {value} cannot be computed")
    return block


def unpicklable_block(block):
    out = block.astype(object)
    out[0] = Unpicklable()
    return out


def test_numpy_alone_destroys_a_file_it_fails_to_save(tmp_path):
    path = tmp_path / "0.npy"
    np.save(path, np.arange(3))
    before = path.read_bytes()
    with pytest.raises(WriteError):
        np.save(path, np.array([Unpicklable()], dtype=object))
    assert path.read_bytes() != before


@pytest.mark.parametrize("how", ["compute", "write"])
def test_to_npy_stack_failure_keeps_the_stack(tmp_path, scheduler, how):
    da.to_npy_stack(tmp_path, da.from_array(np.arange(10) * 10, chunks=3))
    before = tree(tmp_path)
    x = da.from_array(np.arange(12), chunks=4)  # other chunks than the old stack
    if how == "compute":
        x = x.map_blocks(fail_on_block_with, 9, dtype=x.dtype)
    else:
        x = x.map_blocks(unpicklable_block, dtype=object)
    with taskloom.config.set(scheduler=scheduler), pytest.raises(WriteError):
        da.to_npy_stack(tmp_path, x)
    assert tree(tmp_path) == before  # all of it: the info file and every block
    np.testing.assert_array_equal(da.from_npy_stack(tmp_path).compute(), np.arange(10) * 10)


def test_to_npy_stack_overwrite_matches_numpy(tmp_path, scheduler):
    da.to_npy_stack(tmp_path, da.from_array(np.arange(10) * 10, chunks=3))
    data = np.arange(24.0).reshape(6, 4)
    with taskloom.config.set(scheduler=scheduler):
        da.to_npy_stack(tmp_path, da.from_array(data, chunks=(4, 2)))
    for i, rows in enumerate([slice(0, 4), slice(4, 6)]):
        np.save(tmp_path / "ref.npy", data[rows])
        assert (tmp_path / f"{i}.npy").read_bytes() == (tmp_path / "ref.npy").read_bytes()
    with open(tmp_path / "info", "rb") as f:
        info = pickle.load(f)
    assert info == {"chunks": ((4, 2), (4,)), "dtype": data.dtype, "axis": 0}
    np.testing.assert_array_equal(da.from_npy_stack(tmp_path).compute(), data)
    # Blocks of the old, longer stack stay on disk (as in Dask); info names the new ones.
    assert sorted(os.listdir(tmp_path)) == ["0.npy", "1.npy", "2.npy", "3.npy", "info", "ref.npy"]


# --- the primitive ---------------------------------------------------------------------


def test_atomic_write_raises_the_same_exception_and_stages_beside(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    error = WriteError("raised inside")
    with pytest.raises(WriteError) as caught, _files.atomic_write(target) as temp:
        assert os.path.dirname(os.path.dirname(temp)) == str(tmp_path)
        assert os.path.basename(temp) == "f.bin"  # the real name: writers look at it
        assert os.path.basename(os.path.dirname(temp)).startswith(".f.bin.")
        with open(temp, "wb") as f:
            f.write(b"partial")
        raise error
    assert caught.value is error
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.bin"]


def test_atomic_write_modes_and_refusals(tmp_path):
    with pytest.raises(FileNotFoundError):  # as open() in a missing directory
        with _files.atomic_write(tmp_path / "missing" / "f"):
            pass
    with pytest.raises(IsADirectoryError), _files.atomic_write(tmp_path):
        pass
    new = tmp_path / "new"
    with _files.atomic_write(new, "x") as temp, open(temp, _files.writing_mode("x")) as f:
        f.write("one")
    assert new.read_text() == "one" and mode_of(new) == open_mode(tmp_path)
    with pytest.raises(FileExistsError), _files.atomic_write(new, "x"):
        pass
    with _files.atomic_write(new, "a") as temp, open(temp, "a") as f:
        f.write(" two")
    assert new.read_text() == "one two"
    long_name = tmp_path / ("n" * 255)  # the longest name a filesystem allows
    with _files.atomic_write(long_name) as temp, open(temp, "w") as f:
        f.write("long")
    assert long_name.read_text() == "long"
    assert sorted(os.listdir(tmp_path)) == sorted(["new", "n" * 255])
