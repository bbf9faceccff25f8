"""taskloom.array.io: store (against numpy and Dask's semantics), zarr, HDF5 and TileDB
round trips on real files in tmp_path, block-by-block reading and writing."""

from __future__ import annotations

import importlib.util
import inspect
import subprocess
import sys
import threading
import time
import tracemalloc

import dask.array as dda
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom.array as da
from taskloom.array import io
from taskloom.delayed import Delayed, delayed

zarr = pytest.importorskip("zarr")
h5py = pytest.importorskip("h5py")


@st.composite
def arrays(draw, max_dims=3):
    shape = tuple(draw(st.lists(st.integers(1, 9), min_size=0, max_size=max_dims)))
    chunks = tuple(draw(st.integers(1, s)) for s in shape)
    x = np.random.default_rng(draw(st.integers(0, 999))).standard_normal(shape)
    return x, chunks


# -- store ------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(arrays(), st.integers(0, 3), st.integers(0, 3))
def test_store_into_numpy_targets_and_regions(xc, before, after):
    x, chunks = xc
    source = da.from_array(x, chunks=chunks)
    target = np.full(x.shape, np.nan)
    assert io.store(source, target) is None
    np.testing.assert_array_equal(target, x)
    if x.ndim:  # the source inside a larger target, at an offset along axis 0
        big = np.zeros((before + x.shape[0] + after, *x.shape[1:]))
        region = (slice(before, before + x.shape[0]),)
        io.store(source, big, regions=region)
        expected = np.zeros_like(big)
        expected[region] = x
        np.testing.assert_array_equal(big, expected)


def test_store_regions_with_steps_and_integers():
    x = np.arange(12.0).reshape(3, 4)
    target = np.zeros((2, 6, 8))
    region = (1, slice(None, None, 2), slice(7, None, -2))
    io.store(da.from_array(x, chunks=2), target, regions=region)
    expected = np.zeros_like(target)
    expected[region] = x
    np.testing.assert_array_equal(target, expected)


def test_store_several_sources_with_one_region_each():
    a, b = np.arange(6.0), np.arange(4.0) * 10
    ta, tb = np.zeros(8), np.zeros(8)
    io.store([da.from_array(a, chunks=4), da.from_array(b, chunks=3)], [ta, tb],
             regions=[(slice(2, 8),), (slice(0, 4),)])  # fmt: skip
    np.testing.assert_array_equal(ta, [0, 0, *a])
    np.testing.assert_array_equal(tb, [*b, 0, 0, 0, 0])


def test_compute_false_returns_a_delayed_that_writes():
    target = np.zeros(6)
    out = io.store(da.arange(6, chunks=2), target, compute=False)
    assert isinstance(out, Delayed)
    assert not target.any()  # nothing written yet
    assert out.compute() is None
    np.testing.assert_array_equal(target, np.arange(6))


@pytest.mark.parametrize("compute", [True, False])
def test_return_stored(compute):
    x = np.arange(10.0)
    target = np.zeros(10, dtype="f4")
    stored = io.store(da.from_array(x, chunks=3), target, compute=compute, return_stored=True)
    assert isinstance(stored, da.Array)
    assert stored.chunks == ((3, 3, 3, 1),) and stored.dtype == np.float32
    assert target.any() == compute  # written now, or when the stored array is computed
    np.testing.assert_array_equal(stored.compute(), x.astype("f4"))
    np.testing.assert_array_equal(target, x)
    # Two sources: a tuple, as Dask.
    pair = io.store([da.ones(2, chunks=1), da.zeros(3, chunks=2)], [np.zeros(2), np.ones(3)],
                    return_stored=True, compute=compute)  # fmt: skip
    assert isinstance(pair, tuple) and len(pair) == 2
    np.testing.assert_array_equal(pair[1].compute(), np.zeros(3))


def test_load_stored_false_returns_the_targets():
    target = np.zeros(4)
    out = io.store(da.arange(4, chunks=2), target, compute=False, return_stored=True,
                   load_stored=False)  # fmt: skip
    blocks = [b.compute() for b in out.to_delayed()]
    assert all(b is target for b in blocks)


class Overlaps:
    """A target that records whether two writes ever ran at the same time."""

    def __init__(self, shape):
        self.shape, self.dtype = shape, np.dtype("f8")
        self.active, self.most, self.mutex = 0, 0, threading.Lock()

    def __setitem__(self, index, value):
        with self.mutex:
            self.active += 1
            self.most = max(self.most, self.active)
        time.sleep(0.02)
        with self.mutex:
            self.active -= 1


def test_lock_true_serializes_writes_and_false_does_not():
    locked = Overlaps((8,))
    io.store(da.ones(8, chunks=1), locked, lock=True, num_workers=4)
    assert locked.most == 1
    free = Overlaps((8,))
    io.store(da.ones(8, chunks=1), free, lock=False, num_workers=4)
    assert free.most > 1


def test_a_given_lock_is_the_one_held():
    class Counting:
        def __init__(self):
            self.inner, self.held = threading.Lock(), 0

        def acquire(self, *args):
            self.held += 1
            return self.inner.acquire(*args)

        def release(self):
            self.inner.release()

    lock = Counting()
    io.store(da.ones((4, 4), chunks=2), np.zeros((4, 4)), lock=lock)
    assert lock.held == 4


def test_delayed_target():
    made = []

    def make():
        made.append(np.zeros(5))
        return made[-1]

    io.store(da.arange(5, chunks=2), delayed(make)())
    np.testing.assert_array_equal(made[0], np.arange(5))


def test_store_errors_as_dask():
    x = da.ones(4, chunks=2)
    with pytest.raises(ValueError, match="Different number of sources"):
        io.store([x, x], [np.zeros(4)])
    with pytest.raises(ValueError, match="than regions"):
        io.store([x], [np.zeros(4)], regions=[(slice(0, 4),), (slice(0, 4),)])
    with pytest.raises(ValueError, match="must be taskloom array"):
        io.store([np.ones(4)], [np.zeros(4)])
    with pytest.raises(ValueError, match="shape"):
        io.store(x, np.zeros(5))
    with pytest.raises(ValueError, match="shape"):
        io.store(x, np.zeros(9), regions=(slice(0, 3),))


def test_store_is_lazy_until_computed():
    def boom(b):
        raise AssertionError("computed")

    x = da.ones(4, chunks=2).map_blocks(boom, dtype="f8")
    io.store(x, np.zeros(4), compute=False)
    io.store(x, np.zeros(4), compute=False, return_stored=True)


def test_store_into_an_hdf5_dataset(tmp_path):
    x = np.random.default_rng(0).random((10, 6))
    with h5py.File(tmp_path / "t.h5", "w") as f:
        dset = f.create_dataset("x", shape=(12, 6), dtype="f8", chunks=(4, 3))
        io.store(da.from_array(x, chunks=(3, 4)), dset, regions=(slice(2, 12),))
        stored = io.store(da.from_array(x, chunks=5), f.create_dataset("y", (10, 6), "f8"),
                          return_stored=True)  # fmt: skip
        np.testing.assert_array_equal(stored.compute(), x)
    with h5py.File(tmp_path / "t.h5", "r") as f:
        np.testing.assert_array_equal(f["x"][2:], x)
        np.testing.assert_array_equal(f["x"][:2], 0)


# -- HDF5 ------------------------------------------------------------------------------


def test_to_hdf5_forms_and_chunks(tmp_path):
    path = tmp_path / "x.h5"
    x = da.from_array(np.arange(20.0).reshape(4, 5), chunks=(2, 3))
    y = da.arange(7, chunks=4)
    io.to_hdf5(path, "/a/x", x)
    io.to_hdf5(path, {"/y": y, "/z": x + 1}, chunks=None, compression="gzip")
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["/a/x"][:], x.compute())
        assert f["/a/x"].chunks == (2, 3)
        np.testing.assert_array_equal(f["/y"][:], np.arange(7))
        assert f["/z"].compression == "gzip"
    with pytest.raises(ValueError, match="dictionary"):
        io.to_hdf5(path, x)
    # The same file read by Dask.
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(dda.from_array(f["/a/x"]).compute(), x.compute())


def test_from_array_of_an_hdf5_dataset_reads_only_its_blocks(tmp_path):
    n = 10**7
    with h5py.File(tmp_path / "big.h5", "w") as f:
        dset = f.create_dataset("x", shape=(n,), dtype="f8", chunks=(10**5,))
        for i in range(0, n, 10**6):
            dset[i : i + 10**6] = np.arange(i, i + 10**6)
    with h5py.File(tmp_path / "big.h5", "r") as f:
        tracemalloc.start()
        try:
            x = da.from_array(f["x"], chunks=10**5)
            assert tracemalloc.get_traced_memory()[1] < 2**20  # nothing read
            part = x[250_000:250_010].compute()
            assert tracemalloc.get_traced_memory()[1] < 8 * 10**5 * 3  # about a block
        finally:
            tracemalloc.stop()
        np.testing.assert_array_equal(part, np.arange(250_000, 250_010))
        assert float(x.sum().compute()) == n * (n - 1) / 2


# -- zarr ------------------------------------------------------------------------------


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(arrays())
def test_zarr_round_trip(tmp_path, xc):
    x, chunks = xc
    path = tmp_path / f"r{np.random.default_rng().integers(1 << 40)}.zarr"
    source = da.from_array(x, chunks=chunks)
    assert io.to_zarr(source, path) is None
    z = zarr.open_array(path, mode="r")
    assert z.chunks == tuple(max(c[0], 1) for c in source.chunks)
    back = io.from_zarr(path)
    assert back.chunks == normalize(z.chunks, x.shape) and back.dtype == x.dtype
    np.testing.assert_array_equal(back.compute(), x)
    np.testing.assert_array_equal(io.from_zarr(str(path), chunks=2).compute(), x)


def normalize(chunks, shape):
    return tuple(
        tuple([c] * (n // c) + ([n % c] if n % c else [])) or (0,)
        for c, n in zip(chunks, shape, strict=True)
    )


def test_to_zarr_modes_components_and_interop_with_dask(tmp_path):
    path = str(tmp_path / "g.zarr")
    x = da.from_array(np.arange(12.0).reshape(3, 4), chunks=2)
    io.to_zarr(x, path, component="a/x")
    np.testing.assert_array_equal(io.from_zarr(path, component="a/x").compute(), x.compute())
    with pytest.raises(Exception, match=r"exists|Contains"):
        io.to_zarr(x, path, component="a/x")
    io.to_zarr(x * 2, path, component="a/x", mode="w")
    np.testing.assert_array_equal(io.from_zarr(path, "a/x").compute(), x.compute() * 2)
    io.to_zarr(x + 1, path, component="a/x", overwrite=True)
    np.testing.assert_array_equal(io.from_zarr(path, "a/x").compute(), x.compute() + 1)
    # What Dask writes, taskloom reads, and the other way round.
    dda.to_zarr(dda.arange(10, chunks=3), path, component="dask")
    np.testing.assert_array_equal(io.from_zarr(path, "dask").compute(), np.arange(10))
    io.to_zarr(da.arange(10, chunks=4), path, component="ours")
    np.testing.assert_array_equal(dda.from_zarr(path, "ours").compute(), np.arange(10))
    with pytest.raises(ValueError, match="region"):
        io.to_zarr(x, tmp_path / "r.zarr", region=(slice(0, 3),))
    with pytest.raises(ValueError, match="read-only"):
        io.to_zarr(x, tmp_path / "r.zarr", mode="r")
    with pytest.raises(ValueError, match="component"):
        io.to_zarr(x, tmp_path / "r.zarr", component="a", name="b")


def test_to_zarr_irregular_blocks_warn_and_are_made_regular(tmp_path):
    x = da.from_array(np.arange(10), chunks=((3, 5, 2),))
    with pytest.warns(UserWarning, match="irregular chunk sizes"):
        io.to_zarr(x, tmp_path / "i.zarr")
    z = zarr.open_array(tmp_path / "i.zarr", mode="r")
    assert z.chunks == (5,)
    np.testing.assert_array_equal(z[:], np.arange(10))


def test_to_zarr_into_an_existing_array_and_region(tmp_path):
    z = zarr.create_array(tmp_path / "e.zarr", shape=(20, 6), chunks=(4, 3), dtype="f8",
                          fill_value=0.0)  # fmt: skip
    x = np.random.default_rng(2).random((11, 6))
    out = io.to_zarr(da.from_array(x, chunks=(5, 5)), z, region=(slice(3, 14),), compute=False)
    assert isinstance(out, Delayed) and not z[:].any()
    out.compute()
    expected = np.zeros((20, 6))
    expected[3:14] = x
    np.testing.assert_array_equal(z[:], expected)
    stored = io.to_zarr(da.from_array(x[:4], chunks=1), z, region=(slice(16, 20),),
                        return_stored=True)  # fmt: skip
    np.testing.assert_array_equal(stored.compute(), x[:4])


def test_write_blocks_line_up_with_stored_chunks(tmp_path):
    z = zarr.create_array(tmp_path / "c.zarr", shape=(100,), chunks=(7,), dtype="i8")
    chunks = io._zarr_write_chunks(z, (slice(5, 90),), np.dtype("i8"))
    edges = np.cumsum((5, *chunks[0]))
    assert edges[-1] == 90 and all(e % 7 == 0 for e in edges[:-1][1:])


ROUND_TRIP = """
import gc, resource, sys, tracemalloc
import numpy as np
import taskloom.array as da
from taskloom.array import io

n, block, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def ramp(b, block_id=None):
    # Distinct values per block, made in the block (da.arange builds all of them once).
    return (np.arange(b.size, dtype="f8") + block_id[0] * block).astype("f4") * 0.5


x = da.ones(n, chunks=block, dtype="f4").map_blocks(ramp, dtype="f4")
peaks = []
for phase in ["write", "read"]:
    gc.collect()
    tracemalloc.start()
    if phase == "write":
        io.to_zarr(x, path)
    else:
        y = io.from_zarr(path)
        assert y.shape == (n,) and y.dtype == np.float32
        assert bool((y == x).all().compute())
    peaks.append(tracemalloc.get_traced_memory()[1])
    tracemalloc.stop()
print(max(peaks), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def round_trip(tmp_path, n, block):
    """Write ``n`` float32 values to zarr and compare them read back, in a fresh
    process; returns the peak of memory allocated (traced) while doing either, and the
    process's peak resident size, in bytes."""
    out = subprocess.run(
        [sys.executable, "-c", ROUND_TRIP, str(n), str(block), str(tmp_path / "big.zarr")],
        capture_output=True, text=True, check=True, timeout=900,
    )  # fmt: skip
    traced, rss = map(int, out.stdout.split())
    return traced, rss


def test_zarr_round_trip_of_1e7_float32_in_blocks(tmp_path):
    traced, _ = round_trip(tmp_path, 10**7, 100_000)
    # The blocks in flight (about ten), each with zarr's encoding buffers: far less
    # than the 40 MB array.
    assert traced < 40 * 10**6 // 2, traced


@pytest.mark.slow
def test_zarr_round_trip_of_1e8_float32_in_blocks(tmp_path):
    traced, rss = round_trip(tmp_path, 10**8, 10**6)
    assert traced < 400 * 10**6 // 4, traced  # about ten 4 MB blocks in flight
    assert rss < 400 * 10**6, rss  # the process never held the 400 MB array


# -- TileDB ----------------------------------------------------------------------------


def test_tiledb_round_trip(tmp_path):
    if importlib.util.find_spec("tiledb") is None:
        pytest.skip("tiledb is not installed")
    tiledb = io._require("tiledb", "tiledb", "this test")  # imported as io imports it
    x = np.random.default_rng(3).random((6, 8))
    uri = str(tmp_path / "t")
    io.to_tiledb(da.from_array(x, chunks=(3, 4)), uri)
    back = io.from_tiledb(uri)
    assert back.chunks == ((3, 3), (4, 4))
    np.testing.assert_array_equal(back.compute(), x)
    np.testing.assert_array_equal(io.from_tiledb(uri, chunks=2).compute(), x)
    with tiledb.open(uri, "w") as t:
        io.to_tiledb(da.from_array(x * 2, chunks=(3, 4)), t)
    np.testing.assert_array_equal(io.from_tiledb(uri).compute(), x * 2)
    with pytest.raises(ValueError, match="irregular"):
        io.to_tiledb(da.from_array(x, chunks=((2, 4), (8,))), str(tmp_path / "u"))
    with pytest.raises(ValueError, match="must be string"):
        io.to_tiledb(da.from_array(x), 3)
    assert np.get_printoptions()["legacy"] is False  # tiledb's import leaves it alone


# -- the API ------------------------------------------------------------------------------


def test_signatures_are_dasks():
    from dask.array import core, tiledb_io

    theirs = {"store": core.store, "from_zarr": core.from_zarr, "to_zarr": core.to_zarr,
              "to_hdf5": core.to_hdf5, "from_tiledb": tiledb_io.from_tiledb,
              "to_tiledb": tiledb_io.to_tiledb}  # fmt: skip
    for name, func in theirs.items():
        ours = inspect.signature(getattr(io, name)).parameters
        assert [(p.name, p.default, p.kind) for p in ours.values()] == [
            (p.name, p.default, p.kind) for p in inspect.signature(func).parameters.values()
        ], name
        assert getattr(da, name) is getattr(io, name)


@pytest.mark.parametrize(
    ("call", "extra"),
    [
        (lambda p: io.from_zarr(p), "zarr"),
        (lambda p: io.to_zarr(da.ones(2, chunks=1), p), "zarr"),
        (lambda p: io.to_hdf5(p, "/x", da.ones(2, chunks=1)), "h5py"),
        (lambda p: io.from_tiledb(p), "tiledb"),
    ],
)
def test_missing_libraries_name_their_extra(monkeypatch, tmp_path, call, extra):
    real = io.importlib.import_module

    def missing(name, *args):
        if name == extra:
            raise ImportError(f"No module named {name!r}")
        return real(name, *args)

    monkeypatch.setattr(io.importlib, "import_module", missing)
    with pytest.raises(ImportError, match=rf"pip install 'taskloom\[{extra}\]'"):
        call(str(tmp_path / "x"))
