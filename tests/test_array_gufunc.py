"""taskloom.array's generalized ufuncs (apply_gufunc, gufunc, as_gufunc) and
apply_along_axis/apply_over_axes against numpy (np.vectorize with the signature) on
random shapes and chunkings, and against dask.array for output dtypes and chunks."""

from __future__ import annotations

import dask.array as dda
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom.array as da

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def splits(draw, n):
    if n == 0:
        return (0,)
    sizes, left = [], n
    while left:
        s = draw(st.integers(1, left))
        sizes.append(s)
        left -= s
    return tuple(sizes)


@st.composite
def arrays(draw, loop_dims=(0, 2), core=(), core_whole=True, low=0):
    """A random float array: loop axes of random blocks, then ``core`` axes (one block
    each when ``core_whole``)."""
    nloop = draw(st.integers(*loop_dims))
    loop = tuple(draw(st.integers(low, 4)) for _ in range(nloop))
    shape = loop + tuple(core)
    data = np.random.default_rng(draw(st.integers(0, 2**16))).normal(size=shape).round(2)
    chunks = tuple(draw(splits(n)) for n in loop) + tuple(
        (n,) if core_whole or n == 0 else draw(splits(n)) for n in core
    )
    return data, da.from_array(data, chunks=chunks)


def check(ours, expected, chunks=None):
    assert isinstance(ours, da.Array)
    got = ours.compute()
    expected = np.asarray(expected)
    assert ours.dtype == expected.dtype == got.dtype
    assert ours.shape == expected.shape == got.shape
    if chunks is not None:
        assert ours.chunks == chunks
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(st.integers(1, 4).flatmap(lambda n: arrays(core=(n,))))
def test_reduction_over_the_core_dimension(data):
    a, x = data
    # axis= is apply_gufunc's (where the core dimension is), not np.mean's
    ours = da.apply_gufunc(lambda v: np.mean(v, axis=-1), "(i)->()", x, axis=-1)
    with np.errstate(all="ignore"):
        check(ours, np.mean(a, axis=-1), chunks=x.chunks[:-1])
    both = da.apply_gufunc(lambda v: (v.min(-1), v.max(-1)), "(i)->(),()", x)
    assert isinstance(both, tuple) and len(both) == 2
    check(both[0], a.min(-1), chunks=x.chunks[:-1])
    check(both[1], a.max(-1), chunks=x.chunks[:-1])


@SETTINGS
@given(st.integers(1, 3), st.integers(0, 3), st.data())
def test_vectorize_matches_numpys_vectorize_with_broadcasting(n, m, draw):
    a, x = draw.draw(arrays(core=(n, m)))
    # the second argument's loop axes broadcast against the first's (length 1 or fewer)
    b_loop = tuple(1 if draw.draw(st.booleans()) else k for k in a.shape[:-2])
    b_loop = b_loop[draw.draw(st.integers(0, len(b_loop))) :]
    b = np.arange(float(np.prod((*b_loop, m)))).reshape((*b_loop, m))
    x_loop_chunks = x.chunks[a.ndim - 2 - len(b_loop) : -2]
    y_chunks = [(k,) if k == 1 else c for k, c in zip(b_loop, x_loop_chunks, strict=True)]
    y = da.from_array(b, chunks=(*y_chunks, (m,)))
    expected = np.vectorize(np.dot, signature="(n,m),(m)->(n)", otypes=[float])(a, b)
    ours = da.apply_gufunc(np.dot, "(n,m),(m)->(n)", x, y, vectorize=True,
                           output_dtypes=float)  # fmt: skip
    check(ours, expected)
    assert ours.chunks[-1] == (n,)


@SETTINGS
@given(arrays(core=(3,)), st.integers(1, 3))
def test_new_output_dimensions_take_output_sizes(data, k):
    a, x = data

    def tile(v):
        return np.repeat(v.sum(-1, keepdims=True), k, axis=-1)

    ours = da.apply_gufunc(tile, "(i)->(k)", x, output_sizes={"k": k})
    check(ours, tile(a), chunks=(*x.chunks[:-1], (k,)))
    with pytest.raises(ValueError, match="output_sizes"):
        da.apply_gufunc(tile, "(i)->(k)", x, output_dtypes=float)


@SETTINGS
@given(arrays(loop_dims=(1, 2), core=(3,)), st.booleans())
def test_axes_axis_and_keepdims(data, keep):
    a, x = data
    xt = x.T  # the core dimension first
    at = a.T
    ours = da.apply_gufunc(lambda v: v.sum(-1), "(i)->()", xt, axis=0, keepdims=keep)
    check(ours, np.sum(at, axis=0, keepdims=keep))
    ours = da.apply_gufunc(lambda v: np.cumsum(v, axis=-1), "(i)->(i)", xt, axes=[(0,), (0,)])
    check(ours, np.cumsum(at, axis=0))


def row_sum(v):
    return v.sum(-1)


def test_core_dimensions_in_several_blocks_need_allow_rechunk():
    a = np.arange(24.0).reshape(4, 6)
    x = da.from_array(a, chunks=(2, 4))
    with pytest.raises(ValueError, match="Core dimension `'i'` consists of multiple chunks"):
        da.apply_gufunc(row_sum, "(i)->()", x, axis=-1, output_dtypes=float)
    # the loop axis is split as Dask splits it, so that joined blocks stay small
    theirs = dda.apply_gufunc(row_sum, "(i)->()", dda.from_array(a, chunks=(2, 4)), axis=-1,
                              allow_rechunk=True)  # fmt: skip
    check(da.apply_gufunc(row_sum, "(i)->()", x, axis=-1, allow_rechunk=True), a.sum(-1),
          chunks=theirs.chunks)  # fmt: skip
    y = da.from_array(a, chunks=(3, 6))
    with pytest.raises(ValueError, match="different chunksize"):
        da.apply_gufunc(np.add, "(),()->()", x.rechunk((2, 6)), y)
    check(da.apply_gufunc(np.add, "(),()->()", x, y, allow_rechunk=True), a + a)
    # a core dimension in several blocks, kept as an output core dimension: one block
    r = da.apply_gufunc(lambda v: v.cumsum(-1), "(i)->(i)", x, axis=-1, allow_rechunk=True)
    check(r, np.cumsum(a, axis=-1))
    assert r.chunks[1] == (6,)


@SETTINGS
@given(arrays(core=(2,), core_whole=False))
def test_allow_rechunk_on_random_chunks(data):
    a, x = data
    check(da.apply_gufunc(np.linalg.norm, "(i)->()", x, vectorize=True, allow_rechunk=True),
          np.linalg.norm(a, axis=-1))  # fmt: skip


def test_argument_errors_are_dasks():
    x = da.ones((2, 3), chunks=(1, 3))
    with pytest.raises(TypeError, match="signature"):
        da.apply_gufunc(np.sum, 3, x)
    with pytest.raises(ValueError, match="Not a valid gufunc signature"):
        da.apply_gufunc(np.sum, "(i->()", x)
    with pytest.raises(ValueError, match="requires 2 arguments, but 1 given"):
        da.apply_gufunc(np.add, "(),()->()", x)
    with pytest.raises(ValueError, match="Only one of `meta` and `output_dtypes`"):
        da.apply_gufunc(np.sum, "(i)->()", x, meta=np.empty(0), output_dtypes=float)
    with pytest.raises(ValueError, match="one output, must give a single item"):
        da.apply_gufunc(np.sum, "(i)->()", x, output_dtypes=(float, int))
    with pytest.raises(ValueError, match="2 outputs, must give a tuple"):
        da.apply_gufunc(np.sum, "(i)->(),()", x, output_dtypes=float)
    with pytest.raises(ValueError, match="Only one of `axis` or `axes`"):
        da.apply_gufunc(np.sum, "(i)->()", x, axis=0, axes=[(0,)])
    with pytest.raises(ValueError, match="`keepdims` can only be used for scalar outputs"):
        da.apply_gufunc(np.cumsum, "(i)->(i)", x, keepdims=True, output_dtypes=float)
    with pytest.raises(ValueError, match="different lengths"):
        da.apply_gufunc(np.add, "(i),(i)->(i)", x, da.ones(4, chunks=4), output_dtypes=float)
    with pytest.raises(ValueError, match="output_dtypes"):  # the probe call fails
        da.apply_gufunc(lambda v: v.reshape(3), "(i)->(i)", x)


def test_dtype_inference_and_meta():
    x = da.from_array(np.arange(6).reshape(2, 3), chunks=(1, 3))
    assert da.apply_gufunc(np.mean, "(i)->()", x, axis=-1).dtype == np.float64
    r = da.apply_gufunc(lambda v: v.sum(-1), "(i)->()", x, meta=np.empty(0, dtype="i4"))
    assert r.dtype == np.int32 == r.compute().dtype
    q, m = da.apply_gufunc(lambda v: np.divmod(v, 2), "()->(),()", x)
    assert (q.dtype, m.dtype) == (np.int64, np.int64)
    np.testing.assert_array_equal(q.compute(), np.arange(6).reshape(2, 3) // 2)


def test_gufunc_and_as_gufunc():
    a = np.arange(12.0).reshape(4, 3)
    x = da.from_array(a, chunks=(3, 3))
    g = da.gufunc(np.linalg.norm, signature="(i)->()", vectorize=True, output_dtypes=float)
    assert g.signature == "(i)->()" and g.vectorize
    check(g(x), np.linalg.norm(a, axis=-1), chunks=((3, 1),))

    @da.as_gufunc("(i)->(),()", output_dtypes=(float, float))
    def extent(v):
        return v.min(-1), v.max(-1)

    lo, hi = extent(x)
    check(lo, a.min(-1))
    check(hi, a.max(-1))
    # allow_rechunk at the call, as Dask's gufunc.__call__
    y = x.rechunk((4, 2))
    with pytest.raises(ValueError, match="multiple chunks"):
        g(y)
    check(g(y, allow_rechunk=True), np.linalg.norm(a, axis=-1))
    with pytest.raises(TypeError, match="Unsupported keyword"):
        da.as_gufunc("(i)->()", output_dtype=float)
    with pytest.raises(ValueError, match="Not a valid gufunc signature"):
        da.gufunc(np.sum, signature="i->")


def test_nothing_is_computed_until_compute():
    calls = []

    def f(v):
        calls.append(v.shape)
        return v.sum(-1)

    x = da.ones((4, 3), chunks=(1, 3))
    r = da.apply_gufunc(f, "(i)->()", x, output_dtypes=float)
    s = da.apply_along_axis(f, 1, x, dtype=float, shape=())
    assert calls == []
    np.testing.assert_array_equal(r.compute(), np.full(4, 3.0))
    np.testing.assert_array_equal(s.compute(), np.full(4, 3.0))
    assert len(calls) == 4 + 4  # one call per block, one per row


@pytest.mark.parametrize(
    "signature, shapes, chunks, kwargs",
    [
        ("(i)->()", [(5, 4)], [(2, 4)], {}),
        ("(i),(i)->()", [(3, 5, 4), (5, 4)], [(1, 2, 4), (2, 4)], {}),
        ("(i)->(),()", [(6, 3)], [(4, 3)], {}),
        ("(i)->(i)", [(3, 6)], [(3, 2)], {"allow_rechunk": True}),
        ("(i)->()", [(3, 6)], [(3, 2)], {"axis": 0, "keepdims": True}),
        ("()->(k)", [(4,)], [(3,)], {"output_sizes": {"k": 2}}),
    ],
)
def test_dtypes_and_chunks_are_dasks(signature, shapes, chunks, kwargs):
    def func(*vs):
        outs = signature.split("->")[1].split(",")
        v = sum(vs)
        if signature.startswith("()"):
            return np.stack([v, v], axis=-1).astype("f4")
        return tuple(v.sum(-1) for _ in outs) if len(outs) > 1 else (
            v.cumsum(-1) if "(i)" in signature.split("->")[1] else v.sum(-1))  # fmt: skip

    datas = [np.arange(np.prod(s), dtype="i4").reshape(s) for s in shapes]
    ours = da.apply_gufunc(func, signature, *[da.from_array(d, chunks=c)
                                              for d, c in zip(datas, chunks, strict=True)],
                           **kwargs)  # fmt: skip
    theirs = dda.apply_gufunc(func, signature, *[dda.from_array(d, chunks=c)
                                                 for d, c in zip(datas, chunks, strict=True)],
                              **kwargs)  # fmt: skip
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    for o, t in zip(ours, theirs, strict=True):
        assert (o.dtype, o.chunks, o.shape) == (t.dtype, t.chunks, t.shape)
        np.testing.assert_array_equal(o.compute(), t.compute())


ROW_FUNCS = {
    "reverse": (lambda r: r[::-1], None),
    "sum": (np.sum, None),
    "outer": (lambda r: np.outer(r, r[:2] if r.size >= 2 else np.ones(2)), None),
    "halves": (lambda r, k=1: (r * k).astype("f4"), {"k": 3}),
}


@SETTINGS
@given(arrays(loop_dims=(1, 3), low=1), st.sampled_from(sorted(ROW_FUNCS)), st.data())
def test_apply_along_axis_matches_numpy(data, name, draw):
    a, x = data
    axis = draw.draw(st.integers(-a.ndim, a.ndim - 1))
    func, kw = ROW_FUNCS[name]
    kw = kw or {}
    ours = da.apply_along_axis(func, axis, x, **kw)
    check(ours, np.apply_along_axis(func, axis, a, **kw))
    ax = axis % a.ndim
    assert ours.chunks[:ax] == x.chunks[:ax]  # the other axes keep their blocks


def test_apply_along_axis_details():
    a = np.arange(12.0).reshape(3, 4)
    x = da.from_array(a, chunks=(1, 2))
    check(da.apply_along_axis(np.diff, 1, x, 2), np.apply_along_axis(np.diff, 1, a, 2))
    # Dask's dtype=/shape= override the probe (here a probe would see the wrong shape)
    r = da.apply_along_axis(lambda v: v[:2], 0, x, shape=(2,), dtype="f8")
    check(r, a[:2])
    check(np.apply_along_axis(np.sum, 0, x), a.sum(0))  # numpy's function dispatches
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        da.apply_along_axis(np.sum, 2, x)
    e = da.from_array(np.ones((0, 3)), chunks=(1, 3))  # no rows: an empty result
    check(da.apply_along_axis(np.sum, 1, e, dtype=float, shape=()), np.ones((0, 3)).sum(1))


@SETTINGS
@given(arrays(loop_dims=(2, 3), low=1), st.data())
def test_apply_over_axes_matches_numpy(data, draw):
    a, x = data
    axes = draw.draw(st.lists(st.integers(-a.ndim, a.ndim - 1), min_size=1, max_size=2))
    check(da.apply_over_axes(np.sum, x, axes), np.apply_over_axes(np.sum, a, axes))
    check(np.apply_over_axes(np.max, x, axes[0]), np.apply_over_axes(np.max, a, axes[0]))
    with pytest.raises(ValueError, match="dimensionality"):
        da.apply_over_axes(lambda v, ax: np.outer(v, v), x, 0)
