"""Unknown (NaN) block sizes, as Dask's: boolean masks, the nonzero family,
``compute_chunk_sizes``, what still works and what raises, checked against numpy on
random shapes and chunkings and against ``dask.array`` where numpy has no say."""

from __future__ import annotations

import itertools
import math
import warnings

import dask.array as dda
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom.array as da
from taskloom.threaded import get

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def partitions(draw, n):
    """Block sizes adding up to ``n``: uneven, single elements, or one block."""
    if n == 0:
        return (0,)
    cuts = draw(st.sets(st.integers(1, n - 1), max_size=n - 1)) if n > 1 else set()
    edges = [0, *sorted(cuts), n]
    return tuple(b - a for a, b in itertools.pairwise(edges))


@st.composite
def arrays(draw, min_dims=1, max_dims=3, min_side=0, max_side=6):
    shape = tuple(
        draw(st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims))
    )
    seed = draw(st.integers(0, 2**16))
    a = np.random.default_rng(seed).integers(-3, 4, size=shape).astype("f8")
    chunks = tuple(draw(partitions(n)) for n in shape)
    return a, chunks


def blocks(x):
    """Every block of ``x``, computed, by block index."""
    keys = [(x.name, *idx) for idx in np.ndindex(*x.numblocks)]
    return dict(zip(np.ndindex(*x.numblocks), get(x.__dask_graph__(), keys), strict=True))


def check_unknown(x, expected):
    """``x`` has NaN sizes where expected, computes to ``expected``, and
    ``compute_chunk_sizes`` finds the computed blocks' shapes (in place)."""
    assert any(math.isnan(c) for cs in x.chunks for c in cs) or x.npartitions == 0
    assert x.dtype == expected.dtype and x.ndim == expected.ndim
    np.testing.assert_array_equal(x.compute(), expected)
    found = blocks(x)
    assert x.compute_chunk_sizes() is x
    assert x.shape == expected.shape
    for idx, b in found.items():
        assert b.shape == tuple(x.chunks[a][i] for a, i in enumerate(idx))
        assert b.dtype == x.dtype


class Counting:
    """A numpy-like source counting reads: lazy functions never read when built."""

    def __init__(self, a):
        self.a, self.shape, self.dtype, self.ndim, self.reads = a, a.shape, a.dtype, a.ndim, 0

    def __getitem__(self, index):
        self.reads += 1
        return self.a[index]


@SETTINGS
@given(arrays(min_dims=1, max_dims=3), st.floats(-3, 3))
def test_full_mask_matches_numpy(data, t):
    a, chunks = data
    x = da.from_array(a, chunks=chunks)
    y = x[x > t]
    assert y.ndim == 1 and math.isnan(y.shape[0])
    if a.size:  # (Dask's ravel fails on empty arrays)
        dx = dda.from_array(a, chunks=chunks)
        assert len(y.chunks[0]) == len(dx[dx > t].chunks[0])  # Dask's blocks, all unknown
    check_unknown(y, a[a > t])


@SETTINGS
@given(arrays(min_dims=1, max_dims=3, min_side=1), st.data())
def test_lazy_1d_mask_along_an_axis(data, draw):
    a, chunks = data
    axis = draw.draw(st.integers(0, a.ndim - 1))
    keep = np.asarray(draw.draw(st.lists(st.booleans(), min_size=a.shape[axis],
                                         max_size=a.shape[axis])))  # fmt: skip
    mask_chunks = draw.draw(partitions(a.shape[axis]))
    x = da.from_array(a, chunks=chunks)
    index = (slice(None),) * axis + (da.from_array(keep, chunks=mask_chunks),)
    y = x[index]
    assert all(math.isnan(c) for c in y.chunks[axis])
    assert y.chunks[:axis] == x.chunks[:axis] and y.chunks[axis + 1 :] == x.chunks[axis + 1 :]
    check_unknown(y, a[(slice(None),) * axis + (keep,)])


@SETTINGS
@given(arrays(min_dims=1, max_dims=3))
def test_nonzero_family(data):
    a, chunks = data
    x = da.from_array(a, chunks=chunks)
    for ours, theirs in zip(da.nonzero(x), np.nonzero(a), strict=True):
        check_unknown(ours, theirs)
    for ours, theirs in zip(x.nonzero(), np.nonzero(a), strict=True):
        np.testing.assert_array_equal(ours.compute(), theirs)
    check_unknown(da.argwhere(x), np.argwhere(a))
    check_unknown(da.flatnonzero(x), np.flatnonzero(a))
    check_unknown(da.extract(x > 0, x), np.extract(a > 0, a))


@SETTINGS
@given(arrays(min_dims=1, max_dims=2, min_side=1), st.data())
def test_compress(data, draw):
    a, chunks = data
    axis = draw.draw(st.sampled_from([None, *range(a.ndim)]))
    n = a.size if axis is None else a.shape[axis]
    cond = draw.draw(st.lists(st.booleans(), min_size=0, max_size=n))
    x = da.from_array(a, chunks=chunks)
    expected = np.compress(cond, a, axis=axis)
    np.testing.assert_array_equal(da.compress(cond, x, axis=axis).compute(), expected)
    lazy = da.from_array(np.asarray(cond, dtype=bool), chunks=2) if cond else None
    if lazy is not None and len(cond) == n:
        check_unknown(da.compress(lazy, x, axis=axis), expected)


def test_reading_happens_only_at_compute():
    source = Counting(np.arange(24.0).reshape(4, 6))
    x = da.from_array(source, chunks=(3, 2))
    built = [x[x > 5], da.nonzero(x), da.argwhere(x), da.flatnonzero(x), da.extract(x > 1, x),
             x[da.from_array(np.array([1, 0, 1, 1], bool), chunks=3)]]  # fmt: skip
    built[0].sum()
    assert source.reads == 0
    assert len(built) == 6


@SETTINGS
@given(arrays(min_dims=1, max_dims=2, min_side=1), st.floats(-3, 3))
def test_elementwise_and_reductions_still_work(data, t):
    a, chunks = data
    x = da.from_array(a, chunks=chunks)
    y = x[x > t]
    e = a[a > t]
    np.testing.assert_array_equal((y * 2 + y - 1).compute(), e * 2 + e - 1)
    np.testing.assert_array_equal((y + 1.5).compute(), e + 1.5)
    np.testing.assert_array_equal(y.sum().compute(), e.sum())
    if e.size:  # (max over empty blocks is reductions.py's, see the issue report)
        np.testing.assert_allclose(y.mean().compute(), e.mean())
    assert all(math.isnan(c) for c in (y + y).chunks[0])


def test_2d_unknown_axis_elementwise_reduction_and_known_axis_rechunk():
    a = np.arange(30.0).reshape(6, 5)
    x = da.from_array(a, chunks=(2, 2))
    keep = a[:, 0] % 4 == 0
    y = x[da.from_array(keep, chunks=2)]
    e = a[keep]
    np.testing.assert_array_equal(y.sum(axis=0).compute(), e.sum(axis=0))
    np.testing.assert_array_equal(y.sum(axis=1).compute(), e.sum(axis=1))
    np.testing.assert_array_equal((y - np.arange(5.0)).compute(), e - np.arange(5.0))
    r = y.rechunk({1: 5})
    assert r.chunks[1] == (5,) and all(math.isnan(c) for c in r.chunks[0])
    np.testing.assert_array_equal(r.compute(), e)
    np.testing.assert_array_equal(y[:, 1:3].compute(), e[:, 1:3])
    np.testing.assert_array_equal(y[:, 2].compute(), e[:, 2])
    np.testing.assert_array_equal(y.T.compute(), e.T)


def _dask_pair():
    a = np.arange(12.0)
    return da.from_array(a, chunks=5), dda.from_array(a, chunks=5)


@pytest.mark.parametrize(
    "op",
    [
        lambda y: len(y),
        lambda y: y[:3],
        lambda y: y[1],
        lambda y: y[np.array([0, 1])],
        lambda y: y.rechunk(2),
        lambda y: y.rechunk("auto"),
        lambda y: y.reshape((2, -1)),
        lambda y: y.shuffle([[0], [1]], axis=0),
    ],
    ids=["len", "slice", "int", "fancy", "rechunk", "rechunk-auto", "reshape", "shuffle"],
)
def test_what_needs_sizes_raises_as_dask(op):
    x, dx = _dask_pair()
    with pytest.raises(ValueError) as dask_error:
        op(dx[dx > 3])
    with pytest.raises(ValueError, match=r"compute_chunk_sizes\(\)") as ours:
        op(x[x > 3])
    assert type(ours.value) is type(dask_error.value) or isinstance(ours.value, ValueError)


def test_metadata_and_repr_show_nan_as_dask():
    x, dx = _dask_pair()
    y, dy = x[x > 3], dx[dx > 3]
    assert len(y.chunks[0]) == len(dy.chunks[0]) and all(math.isnan(c) for c in y.chunks[0])
    assert math.isnan(y.shape[0]) and math.isnan(dy.shape[0])
    assert math.isnan(y.size) and math.isnan(y.chunksize[0])
    assert "nan" in repr(y) and "nan" in y._repr_html_()
    assert y.chunks == x[x > 3].chunks  # equal unknown chunks compare equal
    assert y.ravel() is y and y.reshape(-1) is y


def test_concatenate_with_unknown_sizes_as_dask():
    a = np.arange(20.0).reshape(4, 5)
    x = da.from_array(a, chunks=2)
    rows = x[da.from_array(a[:, 0] > 4, chunks=2)]
    both = da.concatenate([rows, x], axis=0)
    assert all(math.isnan(c) for c in both.chunks[0][:2]) and both.chunks[0][2:] == (2, 2)
    np.testing.assert_array_equal(both.compute(), np.concatenate([a[a[:, 0] > 4], a]))
    dx = dda.from_array(a, chunks=2)
    drows = dx[dda.from_array(a[:, 0] > 4, chunks=2)]
    with pytest.raises(ValueError):
        dda.concatenate([drows, dx], axis=1)
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        da.concatenate([rows, x], axis=1)
    same = da.concatenate([rows, rows], axis=1, allow_unknown_chunksizes=True)
    np.testing.assert_array_equal(same.compute(), np.hstack([a[a[:, 0] > 4]] * 2))


def test_elementwise_with_other_unknown_chunks_raises():
    x = da.from_array(np.arange(10.0), chunks=5)
    y, z = x[x > 2], x[x > 2].rechunk(((math.nan,) * 2,))
    assert (y + z).shape[0] != 0  # the same unknown blocks line up
    other = da.from_array(np.arange(10.0), chunks=3)
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        y + other[other > 2]
    with pytest.raises(ValueError, match="broadcast"):
        y + np.ones(3)


def test_compute_chunk_sizes_in_place_then_everything_works():
    a = np.arange(17.0)
    x = da.from_array(a, chunks=4)
    y = x[x % 3 == 0]
    assert y.compute_chunk_sizes() is y
    e = a[a % 3 == 0]
    assert y.chunks == ((2, 1, 1, 2, 0),) and y.shape == e.shape and len(y) == len(e)
    np.testing.assert_array_equal(y[1:4].compute(), e[1:4])
    np.testing.assert_array_equal(y.rechunk(3).compute(), e)
    known = da.ones(5, chunks=2)
    assert known.compute_chunk_sizes() is known


def test_nd_numpy_mask_and_warning_for_unknown_nd():
    a = np.arange(12.0).reshape(3, 4)
    x = da.from_array(a, chunks=2)
    np.testing.assert_array_equal(x[a > 4].compute(), a[a > 4])
    y = x[da.from_array(a[:, 0] > 0, chunks=2)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        z = y[y > 5]
    assert caught and "ordering" in str(caught[0].message)
    np.testing.assert_array_equal(np.sort(z.compute()), np.sort(a[1:][a[1:] > 5]))


def test_mask_errors():
    x = da.from_array(np.arange(12.0).reshape(3, 4), chunks=2)
    with pytest.raises(IndexError):
        x[da.from_array(np.ones(4, bool), chunks=2)]
    with pytest.raises(NotImplementedError):
        x[da.from_array(np.arange(2), chunks=2), [0, 1]]
    with pytest.raises(NotImplementedError):
        x[da.from_array(np.zeros((2, 2), int), chunks=2)]
    with pytest.raises(NotImplementedError):
        x[None, da.from_array(np.ones(3, bool), chunks=2)]


@SETTINGS
@given(arrays(min_dims=1, max_dims=3, min_side=1), st.data())
def test_lazy_integer_index_along_an_axis(data, draw):
    a, chunks = data
    axis = draw.draw(st.integers(0, a.ndim - 1))
    n = a.shape[axis]
    positions = np.asarray(draw.draw(st.lists(st.integers(-n, n - 1), max_size=7)), dtype=int)
    index = da.from_array(positions, chunks=draw.draw(partitions(len(positions))))
    x = da.from_array(a, chunks=chunks)
    y = x[(slice(None),) * axis + (index,)]
    assert y.chunks[axis] == index.chunks[0]
    expected = np.take(a, positions, axis=axis)
    np.testing.assert_array_equal(y.compute(), expected)
    for idx, b in blocks(y).items():
        assert b.shape == tuple(y.chunks[k][i] for k, i in enumerate(idx))


def test_lazy_integer_index_of_unknown_length_and_bounds():
    a = np.arange(20.0).reshape(4, 5)
    x = da.from_array(a, chunks=(3, 2))
    rows = da.nonzero(x[:, 0] > 4)[0]
    check_unknown(x[rows], a[np.nonzero(a[:, 0] > 4)[0]])
    with pytest.raises(IndexError, match="out of bounds"):
        x[da.from_array(np.array([9]), chunks=1)].compute()
    dx = dda.from_array(a, chunks=(3, 2))
    assert (
        x[:, da.from_array(np.array([4, 0]), chunks=1)].chunks
        == dx[:, dda.from_array(np.array([4, 0]), chunks=1)].chunks
    )


def test_blockwise_products_with_unknown_sizes():
    a = np.arange(10.0)
    x = da.from_array(a, chunks=3)
    y, e = x[x > 3], a[a > 3]
    np.testing.assert_array_equal(da.blockwise(np.add, "i", y, "i", y, "i", dtype="f8").compute(),
                                  e + e)  # fmt: skip
    np.testing.assert_array_equal(da.outer(y, y).compute(), np.outer(e, e))
    np.testing.assert_allclose(da.einsum("i,i->", y, y).compute(), e @ e)
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        da.blockwise(np.add, "i", y, "i", x, "i", dtype="f8")


@pytest.mark.parametrize("value", [0.0, 2.5])
def test_argwhere_of_a_scalar_and_nonzero_of_0d(value):
    x = da.from_array(np.array(value), chunks=())
    check_unknown(da.argwhere(x), np.argwhere(np.array(value)))
    with pytest.raises(ValueError, match="0d"):
        da.nonzero(x)
