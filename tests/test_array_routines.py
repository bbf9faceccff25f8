"""Dask's shape, construction and selection routines against numpy, on random shapes
and chunkings (uneven, single-element, empty), with the chunks metadata checked
against the computed blocks, and the Array methods whose targets live here."""

from __future__ import annotations

import inspect
import itertools

import dask.array as dda
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom.array as da
from taskloom.threaded import get

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def partitions(draw, n):
    if n == 0:
        return (0,)
    cuts = draw(st.sets(st.integers(1, n - 1), max_size=n - 1)) if n > 1 else set()
    edges = [0, *sorted(cuts), n]
    return tuple(b - a for a, b in itertools.pairwise(edges))


@st.composite
def arrays(draw, min_dims=1, max_dims=3, min_side=0, max_side=6, dtype="f8"):
    shape = tuple(
        draw(st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims))
    )
    seed = draw(st.integers(0, 2**16))
    a = np.random.default_rng(seed).integers(-4, 5, size=shape).astype(dtype)
    chunks = tuple(draw(partitions(n)) for n in shape)
    return a, da.from_array(a, chunks=chunks)


def check(ours, expected, exact=True):
    """Same shape, dtype and values as numpy, and blocks of the advertised sizes."""
    expected = np.asarray(expected)
    assert isinstance(ours, da.Array)
    assert ours.shape == expected.shape, (ours.shape, expected.shape)
    assert ours.dtype == expected.dtype, (ours.dtype, expected.dtype)
    keys = [(ours.name, *idx) for idx in np.ndindex(*ours.numblocks)]
    for idx, b in zip(np.ndindex(*ours.numblocks), get(ours.__dask_graph__(), keys), strict=True):
        assert np.shape(b) == tuple(ours.chunks[a][i] for a, i in enumerate(idx)), idx
    got = ours.compute()
    if exact:
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


class Counting:
    """A numpy-like source counting reads: nothing is read until compute()."""

    def __init__(self, a):
        self.a, self.shape, self.dtype, self.ndim, self.reads = a, a.shape, a.dtype, a.ndim, 0

    def __getitem__(self, index):
        self.reads += 1
        return self.a[index]


# -- shapes and axes -----------------------------------------------------------------


@SETTINGS
@given(arrays(min_dims=0, max_dims=4))
def test_ravel_reshape_and_atleast(data):
    a, x = data
    check(da.ravel(x), np.ravel(a))
    check(x.ravel(), a.ravel())
    check(x.flatten(), a.flatten())
    for f in ("atleast_1d", "atleast_2d", "atleast_3d"):
        check(getattr(da, f)(x), getattr(np, f)(a))
    if a.ndim >= 2 and a.size:
        check(x.reshape(a.shape[0], -1), a.reshape(a.shape[0], -1))
        check(x.reshape(-1, a.shape[-1]), a.reshape(-1, a.shape[-1]))
    back = da.ravel(x).reshape(a.shape) if a.ndim else da.ravel(x).reshape(())
    check(back, a)


@SETTINGS
@given(arrays(min_dims=1, max_dims=3, min_side=1), st.data())
def test_split_reshapes(data, draw):
    a, x = data
    n = a.shape[-1]
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    d = draw.draw(st.sampled_from(divisors))
    shape = (*a.shape[:-1], n // d, d)
    check(x.reshape(shape), a.reshape(shape))


@SETTINGS
@given(arrays(min_dims=1, max_dims=4, min_side=1), st.data())
def test_reshape_blocks_as_dask(data, draw):
    a, x = data
    cut = draw.draw(st.integers(0, a.ndim))
    merged = (*a.shape[:cut], int(np.prod(a.shape[cut:])))
    for shape in (merged, (int(a.size),), (*a.shape, 1), (1, *a.shape)):
        ours = x.reshape(shape)
        theirs = dda.from_array(a, chunks=x.chunks).reshape(shape)
        assert ours.chunks == theirs.chunks, (shape, ours.chunks, theirs.chunks)
        check(ours, a.reshape(shape))
        split = da.from_array(a.reshape(shape), chunks=ours.chunks).reshape(a.shape)
        assert split.chunks == theirs.reshape(a.shape).chunks
        check(split, a)


@SETTINGS
@given(arrays(min_dims=1, max_dims=3), arrays(min_dims=1, max_dims=3))
def test_stacks(d1, d2):
    (a, x), (b, _) = d1, d2
    b = np.resize(b, a.shape) if a.size else np.zeros_like(a)
    y = da.from_array(b, chunks=2)
    check(da.hstack([x, y]), np.hstack([a, b]))
    check(da.vstack([x, y]), np.vstack([a, b]))
    check(da.dstack([x, y]), np.dstack([a, b]))
    check(da.hstack([np.float64(1.5), da.ones(2, chunks=1)]), np.hstack([1.5, np.ones(2)]))


@SETTINGS
@given(arrays(min_dims=1, max_dims=4), st.data())
def test_axis_moves(data, draw):
    a, x = data
    n = a.ndim
    src = draw.draw(st.integers(-n, n - 1))
    dst = draw.draw(st.integers(-n, n - 1))
    check(da.moveaxis(x, src, dst), np.moveaxis(a, src, dst))
    check(da.swapaxes(x, src, dst), np.swapaxes(a, src, dst))
    check(x.swapaxes(src, dst), a.swapaxes(src, dst))
    start = draw.draw(st.integers(-n, n))
    check(da.rollaxis(x, src, start), np.rollaxis(a, src, start))


@SETTINGS
@given(arrays(min_dims=1, max_dims=3), st.data())
def test_flips_rolls_rotations(data, draw):
    a, x = data
    n = a.ndim
    axis = draw.draw(st.one_of(st.none(), st.integers(-n, n - 1)))
    check(da.flip(x, axis), np.flip(a, axis))
    check(da.flipud(x), np.flipud(a))
    if n >= 2:
        check(da.fliplr(x), np.fliplr(a))
        k = draw.draw(st.integers(-5, 5))
        axes = tuple(draw.draw(st.permutations(range(n)))[:2])
        check(da.rot90(x, k, axes), np.rot90(a, k, axes))
    shift = draw.draw(st.integers(-8, 8))
    check(da.roll(x, shift), np.roll(a, shift))
    ax = draw.draw(st.integers(0, n - 1))
    check(da.roll(x, shift, axis=ax), np.roll(a, shift, axis=ax))
    check(da.roll(x, (shift, 1), axis=(ax, 0)), np.roll(a, (shift, 1), axis=(ax, 0)))


@SETTINGS
@given(arrays(min_dims=1, max_dims=3), st.integers(0, 3), st.data())
def test_repeat_and_tile(data, repeats, draw):
    a, x = data
    axis = draw.draw(st.integers(0, a.ndim - 1))
    check(da.repeat(x, repeats, axis=axis), np.repeat(a, repeats, axis=axis))
    check(x.repeat(repeats, axis=axis), a.repeat(repeats, axis=axis))
    reps = tuple(draw.draw(st.lists(st.integers(0, 3), min_size=1, max_size=4)))
    check(da.tile(x, reps), np.tile(a, reps))
    with pytest.raises(NotImplementedError):
        da.repeat(x, [1] * a.shape[axis], axis=axis)


# -- padding -------------------------------------------------------------------------

MODES = ["constant", "edge", "linear_ramp", "maximum", "mean", "median", "minimum",
         "reflect", "symmetric", "wrap", "empty"]  # fmt: skip


@SETTINGS
@given(arrays(min_dims=1, max_dims=3, min_side=1, dtype="i8"), st.sampled_from(MODES), st.data())
def test_pad_every_mode(data, mode, draw):
    a, x = data
    widths = [tuple(draw.draw(st.lists(st.integers(0, 7), min_size=2, max_size=2)))
              for _ in range(a.ndim)]  # fmt: skip
    kwargs = {}
    if mode == "constant":
        kwargs["constant_values"] = draw.draw(st.integers(-9, 9))
    if mode == "linear_ramp":
        kwargs["end_values"] = draw.draw(st.integers(-20, 20))
    if mode in ("maximum", "mean", "median", "minimum"):
        kwargs["stat_length"] = draw.draw(st.one_of(st.none(), st.integers(1, 4)))
    if mode in ("reflect", "symmetric"):
        kwargs["reflect_type"] = "even"
    expected = np.pad(a, widths, mode=mode, **kwargs)
    ours = da.pad(x, widths, mode=mode, **kwargs)
    fits = all(max(w) < n for w, n in zip(widths, a.shape, strict=True))
    if mode != "median" and fits:  # Dask's pad reuses at most the axis (and no median)
        given = {k: v for k, v in kwargs.items() if v is not None}  # Dask's reject None
        theirs = dda.pad(dda.from_array(a, chunks=x.chunks), widths, mode=mode, **given)
        assert ours.chunks == theirs.chunks
    if mode == "empty":
        assert ours.shape == expected.shape and ours.dtype == expected.dtype
        assert ours.compute().shape == expected.shape
    else:
        check(ours, expected)


def test_pad_errors_and_callable():
    x = da.arange(5, chunks=2)
    with pytest.raises(ValueError, match="mode"):
        da.pad(x, 1, mode="nope")
    with pytest.raises(ValueError, match="unsupported keyword"):
        da.pad(x, 1, mode="edge", constant_values=1)
    with pytest.raises(ValueError, match="negative"):
        da.pad(x, -1)
    with pytest.raises(NotImplementedError):
        da.pad(x, 1, mode="reflect", reflect_type="odd")
    with pytest.raises(ValueError, match="empty axis"):
        da.pad(da.ones((0,), chunks=1), 1, mode="edge")

    def tens(vector, width, iaxis, kwargs):
        vector[: width[0]] = 10
        vector[len(vector) - width[1] :] = 10

    a = np.arange(12).reshape(3, 4)
    check(da.pad(da.from_array(a, chunks=2), 2, mode=tens), np.pad(a, 2, mode=tens))


# -- differences ---------------------------------------------------------------------


@SETTINGS
@given(arrays(min_dims=1, max_dims=3), st.integers(0, 3), st.data())
def test_diff_and_ediff1d(data, n, draw):
    a, x = data
    axis = draw.draw(st.integers(-a.ndim, a.ndim - 1))
    prepend = draw.draw(st.sampled_from([None, 2.0]))
    if a.shape[axis] + 2 * (prepend is not None) >= n:
        extra = {} if prepend is None else {"prepend": prepend, "append": -prepend}
        check(da.diff(x, n, axis=axis, **extra), np.diff(a, n, axis=axis, **extra))
    check(da.diff(x > 0, 1, axis=axis), np.diff(a > 0, 1, axis=axis))
    check(da.ediff1d(x, to_begin=[7, 8], to_end=9.0), np.ediff1d(a, to_begin=[7, 8], to_end=9.0))


@SETTINGS
@given(arrays(min_dims=1, max_dims=3, min_side=3), st.integers(1, 2), st.data())
def test_gradient(data, edge_order, draw):
    a, x = data
    check(
        da.gradient(x, edge_order=edge_order)
        if a.ndim == 1
        else da.stack(da.gradient(x, edge_order=edge_order)),
        np.gradient(a, edge_order=edge_order)
        if a.ndim == 1
        else np.stack(np.gradient(a, edge_order=edge_order)),
        exact=False,
    )
    axis = draw.draw(st.integers(0, a.ndim - 1))
    coords = np.cumsum(np.random.default_rng(1).random(a.shape[axis]) + 0.5)
    check(da.gradient(x, coords, axis=axis, edge_order=edge_order),
          np.gradient(a, coords, axis=axis, edge_order=edge_order), exact=False)  # fmt: skip
    check(da.gradient(x, 0.5, axis=axis), np.gradient(a, 0.5, axis=axis), exact=False)
    ints = da.from_array(a.astype(int), chunks=x.chunks)
    check(da.gradient(ints, axis=axis), np.gradient(a.astype(int), axis=axis), exact=False)


def test_gradient_errors():
    with pytest.raises(ValueError, match="too small"):
        da.gradient(da.ones(2, chunks=1), edge_order=2)
    with pytest.raises(TypeError):
        da.gradient(da.ones((3, 3), chunks=1), 1.0, 2.0, 3.0)


# -- triangles and diagonals ----------------------------------------------------------


@SETTINGS
@given(arrays(min_dims=2, max_dims=3), st.integers(-6, 6), st.data())
def test_triangles_and_diagonals(data, k, draw):
    a, x = data
    check(da.tril(x, k), np.tril(a, k))
    check(da.triu(x, k), np.triu(a, k))
    axis1, axis2 = draw.draw(st.permutations(range(a.ndim)))[:2]
    check(da.diagonal(x, k, axis1, axis2), np.diagonal(a, k, axis1, axis2))
    if a.ndim == 2:
        check(da.diag(x, k), np.diag(a, k))
    n, m = a.shape[:2]
    check(da.tri(n, m, k, dtype=int, chunks=x.chunks[:2]), np.tri(n, m, k, dtype=int))


@SETTINGS
@given(arrays(min_dims=1, max_dims=1), st.integers(-4, 4))
def test_diag_of_vector(data, k):
    a, x = data
    check(da.diag(x, k), np.diag(a, k))


@pytest.mark.parametrize("k", [-2, 0, 1])
def test_triangle_indices(k):
    ours = da.tril_indices(4, k, 5, chunks=2)
    for o, e in zip(ours, np.tril_indices(4, k, 5), strict=True):
        np.testing.assert_array_equal(o.compute(), e)
    for o, e in zip(da.triu_indices(4, k, 3, chunks=3), np.triu_indices(4, k, 3), strict=True):
        np.testing.assert_array_equal(o.compute(), e)
    a = np.ones((3, 5))
    for f in ("tril_indices_from", "triu_indices_from"):
        for o, e in zip(getattr(da, f)(da.from_array(a, chunks=2), k), getattr(np, f)(a, k),
                        strict=True):  # fmt: skip
            np.testing.assert_array_equal(o.compute(), e)


# -- products -----------------------------------------------------------------------


@SETTINGS
@given(st.data())
def test_einsum_outer_vdot(draw):
    i, j, k = (draw.draw(st.integers(1, 5)) for _ in range(3))
    rng = np.random.default_rng(draw.draw(st.integers(0, 99)))
    a, b, c = rng.random((i, j)), rng.random((j, k)), rng.random((i, i))
    x = da.from_array(a, chunks=(draw.draw(partitions(i)), draw.draw(partitions(j))))
    y = da.from_array(b, chunks=(draw.draw(partitions(j)), draw.draw(partitions(k))))
    z = da.from_array(c, chunks=(draw.draw(partitions(i)), draw.draw(partitions(i))))
    for spec, ops, nps in [
        ("ij,jk->ik", (x, y), (a, b)),
        ("ij,jk", (x, y), (a, b)),
        ("ij->", (x,), (a,)),
        ("ii->i", (z,), (c,)),
        ("ij,ij->j", (x, x), (a, a)),
        ("...j,jk->...k", (x, y), (a, b)),
    ]:
        check(da.einsum(spec, *ops, optimize=True), np.einsum(spec, *nps), exact=False)
    check(da.einsum(x, [0, 1], y, [1, 2], [0, 2]), np.einsum(a, [0, 1], b, [1, 2], [0, 2]),
          exact=False)  # fmt: skip
    check(da.outer(x, y), np.outer(a, b), exact=False)
    check(da.vdot(x, x), np.vdot(a, a), exact=False)
    small = np.arange(6, dtype="i1").reshape(2, 3)
    ints = da.from_array(small, chunks=1)
    check(da.einsum("ij,ij->i", ints, ints), np.einsum("ij,ij->i", small, small))


# -- creation like other arrays, grids -------------------------------------------------


@SETTINGS
@given(arrays(min_dims=0, max_dims=3))
def test_like_functions(data):
    a, x = data
    for name in ("empty_like", "ones_like", "zeros_like"):
        ours = getattr(da, name)(x, dtype="i4")
        assert ours.chunks == x.chunks and ours.dtype == np.dtype("i4")
        if name != "empty_like":
            check(ours, getattr(np, name)(a, dtype="i4"))
    check(da.full_like(x, 3.5), np.full_like(a, 3.5))
    check(da.full_like(x, 3, shape=(2, 3), chunks=1), np.full_like(a, 3, shape=(2, 3)))
    check(da.zeros_like(a), np.zeros_like(a))


@SETTINGS
@given(st.lists(st.integers(0, 5), min_size=1, max_size=3), st.data())
def test_meshgrid_indices_fromfunction(shape, draw):
    shape = tuple(shape)
    chunks = tuple(draw.draw(partitions(n)) for n in shape)
    check(da.indices(shape, chunks=chunks), np.indices(shape))
    xs = [np.arange(n) * 1.5 for n in shape]
    lazy = [da.from_array(v, chunks=c) for v, c in zip(xs, chunks, strict=True)]
    for indexing in ("xy", "ij"):
        for sparse in (False, True):
            ours = da.meshgrid(*lazy, indexing=indexing, sparse=sparse)
            theirs = np.meshgrid(*xs, indexing=indexing, sparse=sparse)
            for o, e in zip(ours, theirs, strict=True):
                check(o, e)

    def f(*idx):
        return sum(i * 10**k for k, i in enumerate(idx))

    check(da.fromfunction(f, chunks=chunks, shape=shape, dtype=int),
          np.fromfunction(f, shape, dtype=int))  # fmt: skip
    check(da.fromfunction(f, chunks=chunks, shape=shape), np.fromfunction(f, shape))
    with pytest.raises(ValueError, match="indexing"):
        da.meshgrid(*lazy, indexing="nope")


def test_array_and_asanyarray():
    check(da.array([1, 2], dtype="f4", ndmin=3), np.array([1, 2], dtype="f4", ndmin=3))
    check(da.asanyarray([[1, 2]], dtype="i2"), np.asanyarray([[1, 2]], dtype="i2"))
    x = da.ones(3, chunks=2)
    assert da.asanyarray(x) is x
    assert da.shape(x) == (3,) and da.shape(np.ones((2, 1))) == (2, 1)


# -- coarsen, broadcasting -------------------------------------------------------------


@SETTINGS
@given(arrays(min_dims=1, max_dims=3, min_side=1), st.data())
def test_coarsen(data, draw):
    a, x = data
    factors = {i: draw.draw(st.integers(1, 3)) for i in range(a.ndim) if draw.draw(st.booleans())}
    trim = tuple(slice(0, n - n % factors.get(i, 1)) for i, n in enumerate(a.shape))
    t = a[trim]
    expected_shape, axes = [], []
    for i, n in enumerate(t.shape):
        expected_shape += [n // factors[i], factors[i]] if i in factors else [n]
        if i in factors:
            axes.append(len(expected_shape) - 1)
    expected = t.reshape(expected_shape).sum(axis=tuple(axes))
    check(da.coarsen(np.sum, x, factors, trim_excess=True), expected)
    check(da.coarsen(da.mean, x, factors, trim_excess=True),
          t.reshape(expected_shape).mean(axis=tuple(axes)), exact=False)  # fmt: skip
    if any(a.shape[i] % f for i, f in factors.items()):
        with pytest.raises(ValueError, match="Coarsening factors"):
            da.coarsen(np.sum, x, factors)


@SETTINGS
@given(arrays(min_dims=1, max_dims=3), st.data())
def test_broadcast_to_and_arrays(data, draw):
    a, x = data
    lead = tuple(draw.draw(st.lists(st.integers(0, 3), max_size=2)))
    target = lead + tuple(draw.draw(st.integers(0, 3)) if n == 1 else n for n in a.shape)
    check(da.broadcast_to(x, target), np.broadcast_to(a, target))
    b = np.arange(a.shape[-1], dtype="i4")
    ours = da.broadcast_arrays(x, da.from_array(b, chunks=2), 1.0)
    for o, e in zip(ours, np.broadcast_arrays(a, b, 1.0), strict=True):
        check(o, e)
    assert len({o.chunks for o in ours}) == 1
    with pytest.raises(ValueError, match="broadcast"):
        da.broadcast_to(x, a.shape[1:])  # fewer axes never broadcast


# -- selection ----------------------------------------------------------------------


@SETTINGS
@given(arrays(min_dims=1, max_dims=3, min_side=1), st.data())
def test_take_choose_select(data, draw):
    a, x = data
    axis = draw.draw(st.integers(-a.ndim, a.ndim - 1))
    n = a.shape[axis]
    idx = draw.draw(st.lists(st.integers(-n, n - 1), max_size=8))
    check(da.take(x, np.asarray(idx, dtype=int), axis), np.take(a, np.asarray(idx, int), axis))
    check(da.take(x, idx[0] if idx else 0, axis), np.take(a, idx[0] if idx else 0, axis))
    which = (a > 0).astype(int) + (a > 2)
    check(da.choose(da.from_array(which, chunks=x.chunks), [a, -a, 10 * x]),
          np.choose(which, [a, -a, 10 * a]))  # fmt: skip
    check(da.choose(x > 0, [a, -a]), np.choose(a > 0, [a, -a]))
    check(da.select([x > 1, x < -1], [x, 2 * x], default=-7),
          np.select([a > 1, a < -1], [a, 2 * a], default=-7))  # fmt: skip


def test_select_errors():
    x = da.ones(3, chunks=2)
    with pytest.raises(ValueError):
        da.select([x > 0], [x, x])
    with pytest.raises(ValueError):
        da.select([], [])
    with pytest.raises(TypeError, match="condlist"):
        da.select([x], [x])


@SETTINGS
@given(arrays(min_dims=1, max_dims=3, min_side=1), st.data())
def test_delete_insert_append(data, draw):
    a, x = data
    axis = draw.draw(st.integers(-a.ndim, a.ndim - 1))
    n = a.shape[axis]
    obj = draw.draw(st.one_of(
        st.integers(-n, n - 1),
        st.lists(st.integers(-n, n - 1), max_size=4),
        st.builds(slice, st.integers(0, n), st.integers(0, n), st.integers(1, 2)),
    ))  # fmt: skip
    check(da.delete(x, obj, axis), np.delete(a, obj, axis))
    where = draw.draw(st.one_of(st.integers(-n, n), st.lists(st.integers(-n, n), max_size=4)))
    check(da.insert(x, where, 9, axis), np.insert(a, where, 9, axis))
    check(da.insert(x, where, -1.5, axis), np.insert(a, where, -1.5, axis))
    if isinstance(where, int):
        vals = np.arange(2.0)
        try:
            expected = np.insert(a, where, vals, axis)
        except ValueError:  # values that do not fit: the same error
            with pytest.raises(ValueError):
                da.insert(x, where, vals, axis)
        else:
            check(da.insert(x, where, vals, axis), expected)
    check(da.append(x, x, axis=axis), np.append(a, a, axis=axis))
    check(da.append(x, [1, 2]), np.append(a, [1, 2]))


@SETTINGS
@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.data())
def test_ravel_multi_and_unravel_index(dims, draw):
    dims = tuple(dims)
    size = int(np.prod(dims))
    flat = np.asarray(draw.draw(st.lists(st.integers(0, size - 1), max_size=9)), dtype=np.intp)
    lazy = da.from_array(flat, chunks=draw.draw(partitions(len(flat))))
    for order in ("C", "F"):
        ours = da.unravel_index(lazy, dims, order=order)
        theirs = np.unravel_index(flat, dims, order=order)
        for o, e in zip(ours, theirs, strict=True):
            check(o, e)
        multi = tuple(da.from_array(e, chunks=lazy.chunks) for e in theirs)
        check(da.ravel_multi_index(multi, dims, order=order),
              np.ravel_multi_index(theirs, dims, order=order))  # fmt: skip
        check(da.ravel_multi_index(da.stack(multi), dims, order=order),
              np.ravel_multi_index(theirs, dims, order=order))  # fmt: skip
    with pytest.raises(TypeError, match="int"):
        da.ravel_multi_index((da.ones(2, chunks=1), da.ones(2, chunks=1)), (2, 2))


@SETTINGS
@given(arrays(min_dims=1, max_dims=3, min_side=1), st.data())
def test_vindex(data, draw):
    a, x = data
    k = draw.draw(st.integers(1, a.ndim))
    axes = sorted(draw.draw(st.permutations(range(a.ndim)))[:k])
    npts = draw.draw(st.integers(0, 6))
    index = []
    points = []
    for i in range(a.ndim):
        if i in axes:
            bounds = st.integers(-a.shape[i], a.shape[i] - 1)
            p = np.asarray(draw.draw(st.lists(bounds, min_size=npts, max_size=npts)), dtype=int)
            index.append(p)
            points.append(p)
        else:
            index.append(slice(None))
    got = x.vindex[tuple(index)]
    # Dask's layout: the points first, then the sliced axes in order.
    others = [i for i in range(a.ndim) if i not in axes]
    expected = np.moveaxis(a, axes, list(range(k)))[tuple(points)]
    assert expected.shape == (npts, *[a.shape[i] for i in others])
    check(got, expected)
    dx = dda.from_array(a, chunks=x.chunks)
    assert dx.vindex[tuple(index)].chunks == got.chunks
    if npts and axes == list(range(k)):  # 2-d index arrays: their shape comes first
        grid = tuple(np.resize(p, (2, npts)) for p in points)
        check(x.vindex[grid], a[grid])
        assert x.vindex[grid].chunks == dx.vindex[grid].chunks


def test_vindex_errors():
    x = da.ones((3, 4), chunks=2)
    with pytest.raises(IndexError, match="None"):
        x.vindex[None, [0]]
    with pytest.raises(IndexError, match="non-slice"):
        x.vindex[:, :]
    with pytest.raises(IndexError, match="out of bounds"):
        x.vindex[[3], [0]]


@SETTINGS
@given(arrays(min_dims=1, max_dims=2, min_side=1), st.data())
def test_shuffle_as_dask(data, draw):
    a, x = data
    axis = draw.draw(st.integers(0, a.ndim - 1))
    order = draw.draw(st.permutations(range(a.shape[axis])))
    cuts = sorted(draw.draw(st.sets(st.integers(1, max(1, len(order) - 1)), max_size=3)))
    groups = [list(order[i:j]) for i, j in zip([0, *cuts], [*cuts, len(order)], strict=True)]
    groups = [g for g in groups if g]
    ours = da.shuffle(x, groups, axis)
    theirs = dda.shuffle(dda.from_array(a, chunks=x.chunks), groups, axis)
    assert ours.chunks == theirs.chunks
    check(ours, theirs.compute())
    check(x.shuffle(groups, axis), theirs.compute())


def test_shuffle_errors():
    x = da.arange(6, chunks=2)
    with pytest.raises(ValueError, match="list of lists"):
        da.shuffle(x, [0, 1], 0)
    with pytest.raises(IndexError):
        da.shuffle(x, [[0, 6]], 0)


@SETTINGS
@given(arrays(min_dims=2, max_dims=4, min_side=1))
def test_reshape_blockwise_as_dask(data):
    a, x = data
    shape = (a.shape[0], int(np.prod(a.shape[1:])))
    dx = dda.from_array(a, chunks=x.chunks)
    ours, theirs = da.reshape_blockwise(x, shape), dda.reshape_blockwise(dx, shape)
    if theirs.ndim == len(shape):  # Dask's chunks have too many axes for (1, 1, 1) -> (1, 1)
        assert ours.chunks == theirs.chunks
    check(ours, theirs.compute().reshape(shape))
    back = da.reshape_blockwise(ours, a.shape, chunks=x.chunks)
    check(back, a)
    if a.ndim > 2:
        with pytest.raises(TypeError, match="chunks"):
            da.reshape_blockwise(ours, a.shape)


# -- methods delegating here, laziness, signatures --------------------------------------


@SETTINGS
@given(arrays(min_dims=1, max_dims=3))
def test_methods(data):
    a, x = data
    c = x.copy()
    assert c is not x and c.name == x.name and c.chunks == x.chunks
    check(x.view("i4"), a.view("i4"))
    check(x.view("i8"), a.view("i8"))
    assert x.itemsize == a.itemsize
    assert x.partitions[0].chunks == x.blocks[0].chunks
    assert x.A is x and x.to_backend() is x and x.to_backend("numpy") is x
    with pytest.raises(ValueError, match="backend"):
        x.to_backend("cupy")
    assert x.vindex is not None
    check((x > 0).choose([a, -a]), np.choose(a > 0, [a, -a]))
    theirs = dda.from_array(a, chunks=x.chunks).view("f4", order="F")
    ours = x.view("f4", order="F")
    assert ours.chunks == theirs.chunks
    check(ours, theirs.compute())
    with pytest.raises(ValueError, match="Order"):
        x.view("f4", order="K")


def test_to_svg_draws_the_chunk_grid():
    svg = da.ones((4, 6), chunks=(2, 3)).to_svg(size=100)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<line") == 3 + 3  # 3 row boundaries, 3 column boundaries
    assert da.ones(10, chunks=3).to_svg().count("<line") == 2 + 5
    cube = da.ones((2, 3, 4), chunks=1).to_svg()
    assert cube.startswith("<svg") and cube.count("<polygon") == 3
    assert da.ones((2, 2, 3, 4), chunks=2).to_svg().startswith("<svg")
    with pytest.raises(NotImplementedError, match="unknown"):
        x = da.arange(4, chunks=2)
        x[x > 1].to_svg()


def test_to_dask_dataframe():
    a = np.arange(12.0).reshape(6, 2)
    df = da.from_array(a, chunks=(4, 2)).to_dask_dataframe(columns=["p", "q"])
    assert list(df.columns) == ["p", "q"] and df.npartitions == 2
    np.testing.assert_array_equal(df.compute().to_numpy(), a)


def test_everything_is_lazy():
    a = np.arange(24.0).reshape(4, 6) - 10
    source = Counting(a)
    x = da.from_array(source, chunks=(3, 4))
    built = [
        da.ravel(x), da.hstack([x, x]), da.vstack([x, x]), da.dstack([x]), da.moveaxis(x, 0, 1),
        da.roll(x, 3), da.flip(x), da.rot90(x), da.repeat(x, 2, axis=1), da.tile(x, 2),
        da.pad(x, 2, mode="reflect"), da.pad(x, 1, mode="median"), da.pad(x, 1, "linear_ramp"),
        da.diff(x), da.ediff1d(x), da.gradient(x), da.tril(x), da.diagonal(x), da.diag(x[0]),
        da.einsum("ij,ij->j", x, x), da.outer(x, x), da.vdot(x, x), da.coarsen(np.sum, x, {0: 2}),
        da.broadcast_to(x, (2, 4, 6)), da.take(x, [0, 3], 1), da.choose(x > 0, [x, -x]),
        da.select([x > 0], [x]), da.delete(x, 1, 0), da.insert(x, 1, 0.0, 1), da.append(x, x),
        x.vindex[[0, 1], [2, 3]], da.shuffle(x, [[1, 0], [3, 2]], 0), da.ones_like(x),
        da.reshape_blockwise(x, (24,)), x.view("i8"), da.meshgrid(x[0], x[:, 0]),
    ]  # fmt: skip
    assert len(built) == 36 and source.reads == 0


@pytest.mark.parametrize(
    "name",
    ["ravel", "hstack", "vstack", "dstack", "moveaxis", "swapaxes", "rollaxis", "roll", "flip",
     "fliplr", "flipud", "rot90", "repeat", "tile", "pad", "diff", "ediff1d", "gradient", "tril",
     "triu", "tri", "diag", "diagonal", "tril_indices", "tril_indices_from", "triu_indices",
     "triu_indices_from", "einsum", "outer", "vdot", "empty_like", "ones_like", "zeros_like",
     "full_like", "meshgrid", "indices", "fromfunction", "coarsen", "atleast_1d", "atleast_2d",
     "atleast_3d", "broadcast_to", "broadcast_arrays", "take", "choose", "select", "delete",
     "insert", "append", "ravel_multi_index", "unravel_index", "shape", "array", "asanyarray",
     "shuffle", "reshape_blockwise", "compress", "extract", "nonzero", "argwhere",
     "flatnonzero", "concatenate"],
)  # fmt: skip
def test_same_arguments_as_dask(name):
    def params(f):
        return [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values()
                if p.name not in ("like", "meta")]  # fmt: skip

    assert params(getattr(da, name)) == params(getattr(dda, name))


@pytest.mark.parametrize(
    "method", ["compute_chunk_sizes", "copy", "flatten", "ravel", "repeat", "swapaxes",
               "nonzero", "shuffle", "view", "to_svg", "choose", "store", "to_zarr", "to_hdf5",
               "to_tiledb", "to_backend", "to_dask_dataframe", "map_overlap"],
)  # fmt: skip
def test_methods_exist_as_dask(method):
    assert callable(getattr(da.Array, method)) and callable(getattr(dda.Array, method))


@settings(max_examples=30, deadline=None)
@given(
    start=st.one_of(st.integers(-50, 50), st.floats(-50, 50, allow_nan=False)),
    span=st.one_of(st.integers(-60, 60), st.floats(-60, 60, allow_nan=False)),
    step=st.one_of(
        st.integers(-7, 7).filter(bool),
        st.floats(0.05, 7) | st.floats(-7, -0.05),
    ),
    chunk=st.integers(1, 9),
)
def test_arange_is_numpys_to_the_last_bit(start, span, step, chunk):
    stop = start + span
    x = da.arange(start, stop, step, chunks=chunk)
    expected = np.arange(start, stop, step)
    assert (x.shape, x.dtype) == (expected.shape, expected.dtype)
    np.testing.assert_array_equal(x.compute(), expected)


def test_arange_builds_without_materializing_the_range():
    import tracemalloc

    tracemalloc.start()
    try:
        x = da.arange(10**9, chunks=10**7)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert x.shape == (10**9,)
    assert peak < 2**20  # numpy's arange would hold 8 GB
