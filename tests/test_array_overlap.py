"""taskloom.array.overlap: map_overlap against a NumPy stencil on the whole (padded)
array, overlap/sliding_window_view/push against NumPy and dask.array (chunks,
values, errors), on random shapes, chunkings and depths (#15)."""

from __future__ import annotations

import dask.array as dd
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom.array as da
from taskloom.array import overlap as ov

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = ["reflect", "periodic", "nearest", "none", 7]
NP_MODE = {"reflect": "symmetric", "periodic": "wrap", "nearest": "edge"}


@st.composite
def chunking(draw, n: int) -> tuple[int, ...]:
    """Uneven blocks of an axis of length ``n`` (single-element blocks included)."""
    if n <= 1:
        return (n,)
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=n - 1)))
    return tuple(b - a for a, b in zip([0, *cuts], [*cuts, n], strict=True))


@st.composite
def blocked(draw, min_size: int = 1, max_ndim: int = 3) -> tuple[np.ndarray, tuple]:
    shape = tuple(draw(st.lists(st.integers(min_size, 7), min_size=1, max_size=max_ndim)))
    seed = draw(st.integers(0, 2**16))
    a = np.random.default_rng(seed).integers(-50, 50, size=shape)
    return a, tuple(draw(chunking(n)) for n in shape)


def pad(a: np.ndarray, depth: dict, boundary: dict) -> np.ndarray:
    """The whole array padded axis by axis, as the boundary kinds mean; then the
    'none' axes with zeros, as the stencil below pads the blocks it is given."""
    order = sorted(depth, key=lambda ax: boundary[ax] == "none")
    for ax in order:
        d = depth[ax]
        widths = [(0, 0)] * a.ndim
        widths[ax] = (d, d)
        kind = boundary[ax]
        if kind in NP_MODE:
            a = np.pad(a, widths, mode=NP_MODE[kind])
        else:
            a = np.pad(a, widths, constant_values=0 if kind == "none" else kind)
    return a


def box(p: np.ndarray, depth: dict) -> np.ndarray:
    """The sum over the box of half-widths ``depth`` around each element of the
    interior of ``p`` (the elements ``depth`` away from its edges)."""
    for ax, d in depth.items():
        n = p.shape[ax] - 2 * d
        p = sum(np.take(p, range(k, k + n), axis=ax) for k in range(2 * d + 1))
    return p


def stencil(depth: dict):
    def func(block: np.ndarray) -> np.ndarray:
        # Missing neighbours are zeros: an edge block under 'none' then matches the
        # whole-array reference; elsewhere those border values are trimmed away.
        return box(pad(block, depth, dict.fromkeys(depth, "none")), depth)

    return func


@SETTINGS
@given(data=st.data())
def test_map_overlap_stencil_equals_the_stencil_on_the_whole_array(data):
    a, chunks = data.draw(blocked())
    depth = {ax: data.draw(st.integers(0, n)) for ax, n in enumerate(a.shape)}
    boundary = {ax: data.draw(st.sampled_from(KINDS)) for ax in range(a.ndim)}
    form = data.draw(st.sampled_from(["dict", "tuple"]))
    arg_depth = depth if form == "dict" else tuple(depth[ax] for ax in range(a.ndim))
    x = da.from_array(a, chunks=chunks)
    y = da.map_overlap(stencil(depth), x, depth=arg_depth, boundary=boundary, dtype=a.dtype)
    got = y.compute()
    np.testing.assert_array_equal(got, box(pad(a, depth, boundary), depth))
    assert got.shape == y.shape and got.dtype == y.dtype
    theirs = dd.map_overlap(
        stencil(depth), dd.from_array(a, chunks=chunks), depth=depth, boundary=boundary,
        dtype=a.dtype,
    )  # fmt: skip
    assert y.chunks == theirs.chunks


@SETTINGS
@given(data=st.data())
def test_overlap_equals_dasks_blocks(data):
    a, chunks = data.draw(blocked())
    depth = {}
    for ax, n in enumerate(a.shape):
        if data.draw(st.booleans()):
            depth[ax] = data.draw(st.integers(0, n))
    boundary = data.draw(st.one_of(st.sampled_from(KINDS), st.just(None)))
    x = da.from_array(a, chunks=chunks)
    ours = ov.overlap(x, depth, boundary)
    theirs = dd.overlap.overlap(dd.from_array(a, chunks=chunks), depth, boundary)
    assert ours.chunks == theirs.chunks
    got = ours.compute()
    np.testing.assert_array_equal(got, theirs.compute())
    assert got.dtype == ours.dtype
    np.testing.assert_array_equal(
        ov.trim_internal(ours, ov.coerce_depth(a.ndim, depth), boundary).compute(), a
    )
    np.testing.assert_array_equal(ov.trim_overlap(ours, depth, boundary).compute(), a)


@SETTINGS
@given(data=st.data())
def test_asymmetric_depth_with_boundary_none(data):
    a, chunks = data.draw(blocked())
    depth = {
        ax: (data.draw(st.integers(0, n)), data.draw(st.integers(0, n)))
        for ax, n in enumerate(a.shape)
    }
    x, X = da.from_array(a, chunks=chunks), dd.from_array(a, chunks=chunks)
    ours = ov.overlap(x, depth, "none")
    theirs = dd.overlap.overlap(X, depth, "none")
    assert ours.chunks == theirs.chunks
    np.testing.assert_array_equal(ours.compute(), theirs.compute())
    y = da.map_overlap(lambda b: b * 2, x, depth=depth, boundary="none")
    np.testing.assert_array_equal(y.compute(), a * 2)
    assert y.chunks == dd.map_overlap(lambda b: b * 2, X, depth=depth, boundary="none").chunks


def test_asymmetric_depth_needs_boundary_none():
    x = da.ones((6, 6), chunks=3)
    with pytest.raises(NotImplementedError, match="boundary='none'"):
        da.map_overlap(lambda b: b, x, depth={0: (1, 2)}, boundary="reflect")
    with pytest.raises(NotImplementedError, match="boundary='none'"):
        ov.overlap(x, {0: (1, 2)}, "periodic")


def test_small_blocks_are_merged_or_an_error_without_allow_rechunk():
    a = np.arange(10)
    x, X = da.from_array(a, chunks=(1, 1, 3, 5)), dd.from_array(a, chunks=(1, 1, 3, 5))
    y = ov.overlap(x, 3, "reflect")
    assert y.chunks == dd.overlap.overlap(X, 3, "reflect").chunks
    with pytest.raises(ValueError):  # as Dask
        dd.overlap.overlap(X, 3, "reflect", allow_rechunk=False)
    with pytest.raises(ValueError, match="allow_rechunk=True"):
        ov.overlap(x, 3, "reflect", allow_rechunk=False)
    with pytest.raises(ValueError, match="allow_rechunk=True"):
        da.map_overlap(lambda b: b, x, depth=3, boundary="none", allow_rechunk=False)
    with pytest.raises(ValueError, match="larger than your array"):
        ov.overlap(x, 11, "none")
    z = da.map_overlap(lambda b: b + 1, x, depth=4, boundary="periodic")
    np.testing.assert_array_equal(z.compute(), a + 1)


def test_bad_arguments_name_themselves():
    x = da.ones((4, 4), chunks=2)
    with pytest.raises(ValueError, match="boundary along axis 0"):
        ov.overlap(x, 1, "mirror")
    with pytest.raises(ValueError, match="depth along axis 1"):
        ov.overlap(x, {1: -1}, "none")
    with pytest.raises(TypeError, match="depth: axes must be integers"):
        ov.overlap(x, {"x": 1}, "none")
    with pytest.raises(TypeError, match="callable"):
        da.map_overlap(x, depth=1)
    with pytest.raises(TypeError, match="must be arrays"):
        da.map_overlap(lambda b: b, np.ones(4), depth=1)


def test_the_old_signature_warns_and_works():
    x = da.from_array(np.arange(6), chunks=3)
    with pytest.warns(FutureWarning, match="deprecated"):
        y = da.map_overlap(x, lambda b: b + 1, 1, "reflect")
    np.testing.assert_array_equal(y.compute(), np.arange(6) + 1)


def test_depth_zero_is_map_blocks():
    x = da.from_array(np.arange(10), chunks=3)
    y = da.map_overlap(lambda b: b * b.size, x)
    np.testing.assert_array_equal(
        y.compute(), np.arange(10) * np.repeat([3, 3, 3, 1], [3, 3, 3, 1])
    )
    assert y.chunks == x.chunks


def test_trim_false_and_explicit_chunks_as_dask():
    a = np.arange(16).reshape(4, 4)
    x, X = da.from_array(a, chunks=2), dd.from_array(a, chunks=2)
    ours = da.map_overlap(lambda b: b[1:-1, 1:-1], x, depth=1, boundary="reflect", trim=False)
    theirs = dd.map_overlap(lambda b: b[1:-1, 1:-1], X, depth=1, boundary="reflect", trim=False)
    assert ours.chunks == theirs.chunks == ((2, 2), (2, 2))
    np.testing.assert_array_equal(ours.compute(), a)
    ours = da.map_overlap(lambda b: b, x, depth=1, boundary="none", trim=False, chunks=(3, 3))
    assert ours.chunks == ((3, 3), (3, 3))
    np.testing.assert_array_equal(ours.compute(), ov.overlap(x, 1, "none").compute())


def test_several_arrays_broadcast_and_align():
    func = lambda a, b: a + b  # noqa: E731
    x = da.arange(8).reshape(2, 4).rechunk((1, 2))
    y = da.arange(4, chunks=2)
    got = da.map_overlap(func, x, y, depth=1, boundary="reflect")
    np.testing.assert_array_equal(got.compute(), [[0, 2, 4, 6], [4, 6, 8, 10]])
    u, v = da.arange(8, chunks=4), da.arange(8, chunks=2)
    r = da.map_overlap(func, u, v, depth=1, boundary="reflect")
    assert r.numblocks == (4,)
    np.testing.assert_array_equal(r.compute(), 2 * np.arange(8))
    with pytest.raises(ValueError, match="align_arrays=True"):
        da.map_overlap(func, u, v, depth=1, boundary="reflect", align_arrays=False)
    # one boundary per array: u's left neighbour wraps round, v's right one is 0 at the end
    shifted = lambda a, b: np.roll(a, 1) + np.roll(b, -1)  # noqa: E731
    w = da.map_overlap(shifted, u, v, depth=[1, 1], boundary=["periodic", 0])
    np.testing.assert_array_equal(
        w.compute(), np.roll(np.arange(8), 1) + np.array([*range(1, 8), 0])
    )
    # one dict for arrays of two ranks: axes beyond an array's rank are left out (as Dask)
    kw = dict(depth={0: 1, 1: 1}, boundary={0: "reflect", 1: "reflect"})
    got = da.map_overlap(func, x, y, **kw)
    X, Y = dd.arange(8).reshape(2, 4).rechunk((1, 2)), dd.arange(4, chunks=2)
    np.testing.assert_array_equal(got.compute(), dd.map_overlap(func, X, Y, **kw).compute())


def test_drop_axis_new_axis_dtype_and_meta_reach_map_blocks():
    a = np.arange(24.0).reshape(4, 6)
    x, X = da.from_array(a, chunks=(2, 3)), dd.from_array(a, chunks=(2, 3))
    kw = dict(depth={0: 1, 1: 1}, boundary="reflect")
    ours = da.map_overlap(lambda b: b.sum(axis=0), x, drop_axis=0, **kw)
    theirs = dd.map_overlap(lambda b: b.sum(axis=0), X, drop_axis=0, **kw)
    assert ours.chunks == theirs.chunks
    np.testing.assert_array_equal(ours.compute(), theirs.compute())
    ours = da.map_overlap(lambda b: b[None], x, new_axis=0, **kw)
    theirs = dd.map_overlap(lambda b: b[None], X, new_axis=0, **kw)
    assert ours.chunks == theirs.chunks
    np.testing.assert_array_equal(ours.compute(), a[None])
    total = da.map_overlap(lambda b: b.sum(), da.ones(10, dtype=int, chunks=10), chunks=(),
                           drop_axis=0, depth=1, boundary="reflect")  # fmt: skip
    assert total.compute() == 12  # Dask's example: a border element on each side
    typed = da.map_overlap(lambda b: b.astype("f4"), x, dtype="f4", **kw)
    assert typed.dtype == typed.compute().dtype == np.float32
    meta = da.map_overlap(lambda b: b + b[2], x, meta=np.array((), dtype="i8"), **kw)
    assert meta.dtype == np.int64


def test_map_overlap_is_lazy():
    calls = []

    def record(b):
        calls.append(b.shape)
        return b

    x = da.from_array(np.arange(12).reshape(3, 4), chunks=2)
    y = da.map_overlap(record, x, depth=1, boundary="periodic", dtype=x.dtype)
    assert calls == []
    y.compute()
    assert sorted(calls) == [(3, 4), (3, 4), (4, 4), (4, 4)]  # blocks (2, 1) x (2, 2) plus 1 a side


def test_ensure_minimum_chunksize():
    assert ov.ensure_minimum_chunksize(10, (20, 20, 1)) == (20, 11, 10)
    assert ov.ensure_minimum_chunksize(3, (1, 1, 3)) == (5,)
    assert ov.ensure_minimum_chunksize(2, (2, 3)) == (2, 3)
    with pytest.raises(ValueError, match="larger than your array"):
        ov.ensure_minimum_chunksize(5, (1, 2))


@SETTINGS
@given(data=st.data(), automatic=st.booleans())
def test_sliding_window_view_matches_numpy_and_dask(data, automatic):
    a, chunks = data.draw(blocked())
    axis = data.draw(
        st.one_of(
            st.none(),
            st.integers(-a.ndim, a.ndim - 1),
            st.lists(st.integers(0, a.ndim - 1), min_size=1, max_size=3).map(tuple),
        )
    )
    axes = range(a.ndim) if axis is None else ([axis] if isinstance(axis, int) else axis)
    window = [data.draw(st.integers(1, a.shape[ax])) for ax in axes]
    total = {}
    for ax, w in zip(axes, window, strict=True):
        total[ax % a.ndim] = total.get(ax % a.ndim, 0) + w - 1
    x = da.from_array(a, chunks=chunks)
    if any(d >= a.shape[ax] for ax, d in total.items()):  # repeated axes: too long
        with pytest.raises(ValueError, match="window_shape"):
            ov.sliding_window_view(x, window, axis)
        return
    ours = ov.sliding_window_view(x, window, axis, automatic_rechunk=automatic)
    got = ours.compute()
    np.testing.assert_array_equal(got, np.lib.stride_tricks.sliding_window_view(a, window, axis))
    assert got.shape == ours.shape and got.dtype == ours.dtype
    theirs = dd.lib.stride_tricks.sliding_window_view(
        dd.from_array(a, chunks=chunks), window, axis, automatic_rechunk=automatic
    )
    assert ours.chunks == theirs.chunks


def test_sliding_window_view_errors():
    x = da.ones((4, 5), chunks=2)
    with pytest.raises(ValueError, match="> 0"):
        ov.sliding_window_view(x, (0, 1))
    with pytest.raises(ValueError, match="all dimensions"):
        ov.sliding_window_view(x, 2)
    with pytest.raises(ValueError, match="matching length"):
        ov.sliding_window_view(x, (2, 2), axis=0)
    with pytest.raises(ValueError, match="cannot be larger"):
        ov.sliding_window_view(x, 6, axis=1)


def ffill(a: np.ndarray, n: int | None, axis: int) -> np.ndarray:
    """The forward fill, element by element."""
    out = np.moveaxis(a, axis, -1).copy()  # C order: the rows below are views of it
    for row in out.reshape(-1, out.shape[-1]) if out.size else []:
        last, since = np.nan, 0
        for i, v in enumerate(row.copy()):
            if v == v:
                last, since = v, 0
            else:
                since += 1
                row[i] = last if n is None or since <= n else np.nan
    return np.moveaxis(out, -1, axis)


@SETTINGS
@given(data=st.data())
def test_push_fills_forward_across_blocks(data):
    a, chunks = data.draw(blocked(min_size=0))
    a = a.astype(float)
    a[np.random.default_rng(int(a.size)).random(a.shape) < 0.5] = np.nan
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    n = data.draw(st.one_of(st.none(), st.integers(1, 8)))
    x = da.from_array(a, chunks=chunks)
    y = da.push(x, n, axis)
    got = y.compute()
    # Dask fills without limit unless 0 < n < length - 1 (a longer limit cannot bind).
    np.testing.assert_array_equal(got, ffill(a, n, axis % a.ndim))
    assert got.dtype == y.dtype and y.chunks == x.chunks


def test_push_as_dask_for_n_zero_and_other_dtypes():
    pytest.importorskip("bottleneck")
    a = np.array([[1.0, np.nan, np.nan, np.nan, 5.0, np.nan]] * 2)
    for n in [None, 0, 1, 2]:
        ours = da.push(da.from_array(a, chunks=2), n, 1).compute()
        np.testing.assert_array_equal(ours, dd.push(dd.from_array(a, chunks=2), n, 1).compute())
    ints = da.from_array(np.arange(6), chunks=4)
    np.testing.assert_array_equal(da.push(ints, None, 0).compute(), np.arange(6))
    t = np.array(["2000-01-01", "NaT", "NaT", "2000-01-04"], dtype="M8[D]")
    filled = da.push(da.from_array(t, chunks=1), None, 0).compute()
    np.testing.assert_array_equal(filled, t[[0, 0, 0, 3]])
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        da.push(da.from_array(a, chunks=2), None, 2)


@pytest.mark.parametrize("boundary", KINDS)
def test_empty_arrays_as_dask(boundary):
    a = np.zeros((0, 5))
    x, X = da.from_array(a, chunks=(1, 2)), dd.from_array(a, chunks=(1, 2))
    ours, theirs = ov.overlap(x, {1: 1}, boundary), dd.overlap.overlap(X, {1: 1}, boundary)
    assert ours.chunks == theirs.chunks
    assert ours.compute().shape == ours.shape == theirs.compute().shape
    y = da.map_overlap(lambda b: b + 1, x, depth={1: 1}, boundary=boundary)
    assert y.chunks == x.chunks and y.compute().shape == (0, 5)


class Source:
    """An array-like that counts the reads of its elements."""

    def __init__(self, a: np.ndarray) -> None:
        self.a, self.shape, self.dtype, self.ndim, self.reads = a, a.shape, a.dtype, a.ndim, 0

    def __getitem__(self, index):
        self.reads += 1
        return self.a[index]


def test_every_function_builds_a_graph_and_reads_nothing():
    a = np.arange(30.0).reshape(5, 6)
    a[1, 2] = np.nan
    src = Source(a)
    x = da.from_array(src, chunks=(2, 3))
    built = [
        ov.overlap(x, 1, "reflect"),
        da.map_overlap(lambda b: b * 2, x, depth=2, boundary="periodic", dtype=x.dtype),
        ov.trim_overlap(ov.overlap(x, 1, "none"), 1),
        ov.sliding_window_view(x, (2, 2)),
        da.push(x, None, 1),
        da.push(x, 1, 0),
    ]
    assert src.reads == 0
    np.testing.assert_array_equal(built[1].compute(), a * 2)
    assert src.reads > 0
