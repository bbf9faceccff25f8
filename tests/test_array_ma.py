"""taskloom.array.ma against numpy.ma (random shapes, chunkings and masks) and
dask.array.ma (metadata, errors).

Results are read block by block (``masked``): ``Array.compute`` joins blocks with
``numpy.block``, which drops masks (see ``test_compute_keeps_masks``), so checking
through it would test that join, not these functions.
"""

from __future__ import annotations

import dask.array as dda
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taskloom
import taskloom.array as da
from taskloom.array import ma


def _join(blocks, axis=0):
    if isinstance(blocks, list):
        return np.ma.concatenate([_join(b, axis + 1) for b in blocks], axis=axis)
    return np.ma.asanyarray(blocks)


def masked(x):
    """The computed value of ``x`` with its blocks' masks (joined with numpy.ma)."""
    delayed = x.to_delayed()
    values = taskloom.compute(*delayed.reshape(-1).tolist())
    grid = np.empty(delayed.shape, dtype=object)
    for i, idx in enumerate(np.ndindex(*delayed.shape)):
        grid[idx] = values[i]
    return _join(grid.tolist()) if x.ndim else values[0]


def assert_masked_equal(got, expected):
    got, expected = np.ma.asanyarray(got), np.ma.asanyarray(expected)
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    np.testing.assert_array_equal(np.ma.getmaskarray(got), np.ma.getmaskarray(expected))
    keep = ~np.ma.getmaskarray(expected)
    np.testing.assert_allclose(
        np.ma.getdata(got)[keep], np.ma.getdata(expected)[keep], rtol=1e-6, equal_nan=True
    )


@st.composite
def arrays(draw, max_dims=3, dtype=float):
    shape = tuple(draw(st.lists(st.integers(1, 7), min_size=1, max_size=max_dims)))
    chunks = tuple(draw(st.integers(1, s)) for s in shape)
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    data = rng.integers(-4, 5, size=shape).astype(dtype)
    mask = rng.random(shape) < draw(st.sampled_from([0.0, 0.3, 0.9, 1.0]))
    return np.ma.masked_array(data, mask=mask), chunks


def lazy(m, chunks):
    return ma.masked_array(
        da.from_array(m.data, chunks=chunks), mask=da.from_array(m.mask, chunks=chunks)
    )


COMPARISONS = ["masked_greater", "masked_greater_equal", "masked_less", "masked_less_equal",
               "masked_not_equal", "masked_equal"]  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(arrays(), st.sampled_from(COMPARISONS), st.integers(-3, 3))
def test_comparisons_match_numpy_ma(mc, func, value):
    m, chunks = mc
    x = lazy(m, chunks)
    got = getattr(ma, func)(x, value)
    assert got.dtype == m.dtype and got.chunks == x.chunks
    assert_masked_equal(masked(got), getattr(np.ma, func)(m, value))


@settings(max_examples=20, deadline=None)
@given(arrays(max_dims=2))
def test_array_values_broadcast_as_numpy(mc):
    m, chunks = mc
    value = np.arange(m.shape[-1]) - 1.0
    got = ma.masked_greater(lazy(m, chunks), da.from_array(value, chunks=2))
    assert_masked_equal(masked(got), np.ma.masked_greater(m, value))


@settings(max_examples=25, deadline=None)
@given(arrays(), st.integers(-3, 3), st.integers(-3, 3))
def test_ranges_values_where_match_numpy_ma(mc, v1, v2):
    m, chunks = mc
    x = lazy(m, chunks)
    assert_masked_equal(masked(ma.masked_inside(x, v1, v2)), np.ma.masked_inside(m, v1, v2))
    assert_masked_equal(masked(ma.masked_outside(x, v1, v2)), np.ma.masked_outside(m, v1, v2))
    assert_masked_equal(masked(ma.masked_values(x, v1)), np.ma.masked_values(m, v1))
    cond = np.ma.getdata(m) > v2
    assert_masked_equal(
        masked(ma.masked_where(da.from_array(cond, chunks=chunks), x)),
        np.ma.masked_where(cond, m),
    )
    assert_masked_equal(masked(ma.masked_where(cond, x)), np.ma.masked_where(cond, m))


@settings(max_examples=25, deadline=None)
@given(arrays(), st.integers(-9, 9))
def test_data_mask_filled_match_numpy_ma(mc, fill):
    m, chunks = mc
    x = lazy(m, chunks)
    np.testing.assert_array_equal(ma.getdata(x).compute(), np.ma.getdata(m))
    np.testing.assert_array_equal(ma.getmaskarray(x).compute(), np.ma.getmaskarray(m))
    filled = ma.filled(x, fill)
    assert type(filled.compute()) is np.ndarray
    np.testing.assert_array_equal(filled.compute(), np.ma.filled(m, fill))
    # A numpy.ma input keeps its mask (from_array alone would drop it).
    np.testing.assert_array_equal(ma.filled(m, fill).compute(), np.ma.filled(m, fill))
    ma.set_fill_value(x, fill)
    np.testing.assert_array_equal(ma.filled(x).compute(), np.ma.filled(m, fill))


def test_invalid_values():
    d = np.array([1.0, np.nan, np.inf, -np.inf, 5.0, np.nan])
    x = da.from_array(d, chunks=4)
    assert_masked_equal(masked(ma.masked_invalid(x)), np.ma.masked_invalid(d))
    got = masked(ma.fix_invalid(x, fill_value=-7.0))
    expected = np.ma.fix_invalid(d, fill_value=-7.0)
    assert_masked_equal(got, expected)
    np.testing.assert_array_equal(got.data, expected.data)


@settings(max_examples=25, deadline=None)
@given(arrays(), st.sampled_from([None, 0, -1, (0, -1)]), st.booleans())
def test_count_matches_numpy_ma(mc, axis, keepdims):
    m, chunks = mc
    if isinstance(axis, tuple) and m.ndim < 2:
        axis = 0
    got = ma.count(lazy(m, chunks), axis=axis, keepdims=keepdims, split_every=2)
    expected = np.ma.count(m, axis=axis, keepdims=keepdims)
    assert got.shape == np.shape(expected) and got.dtype == np.intp
    np.testing.assert_array_equal(got.compute(), expected)


@settings(max_examples=25, deadline=None)
@given(arrays(dtype=np.int32), st.sampled_from([None, 0, -1]), st.booleans(), st.booleans())
def test_average_matches_numpy_ma(mc, axis, weighted, keepdims):
    m, chunks = mc
    x = lazy(m, chunks)
    weights = None
    if weighted:
        weights = np.random.default_rng(0).random(m.shape if axis is None else m.shape[axis])
    avg, scl = ma.average(x, axis=axis, weights=weights, returned=True, keepdims=keepdims)
    e_avg = np.ma.average(m, axis=axis, weights=weights, keepdims=keepdims)
    # numpy's own returned=True fails with keepdims=True: the weights' sum without it.
    _, e_scl = np.ma.average(m, axis=axis, weights=weights, returned=True)
    assert avg.dtype == np.asarray(e_avg).dtype and avg.shape == np.shape(e_avg)
    assert scl.shape == avg.shape
    got = masked(avg)
    if np.ndim(e_avg) == 0:
        assert (got is np.ma.masked) == (e_avg is np.ma.masked)
        if e_avg is not np.ma.masked:
            np.testing.assert_allclose(got, e_avg)
    else:
        assert_masked_equal(got, e_avg)
    np.testing.assert_allclose(
        np.reshape(scl.compute(), np.shape(e_scl)), np.ma.getdata(e_scl), rtol=1e-6
    )


def test_average_weight_errors_as_dask():
    x = da.ones((3, 4), chunks=2)
    w = np.ones(4)
    for args in [dict(weights=w), dict(weights=np.ones((2, 2)), axis=1),
                 dict(weights=np.ones(3), axis=1)]:  # fmt: skip
        with pytest.raises((TypeError, ValueError)) as ours:
            ma.average(x, **args)
        with pytest.raises(type(ours.value)):
            dda.ma.average(dda.ones((3, 4), chunks=2), **args)


@settings(max_examples=20, deadline=None)
@given(arrays())
def test_nonzero_and_where_match_numpy_ma(mc):
    m, chunks = mc
    x = lazy(m, chunks)
    got = ma.nonzero(x)
    expected = np.ma.nonzero(m)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape
        np.testing.assert_array_equal(g.compute(), e)
    for g, e in zip(ma.where(x), expected, strict=True):
        np.testing.assert_array_equal(g.compute(), e)
    assert_masked_equal(masked(ma.where(x > 0, x, -x)), np.ma.where(m > 0, m, -m))


def test_nonzero_is_lazy_in_the_indices():
    calls = []

    def spy(b):
        calls.append(1)
        return b

    x = ma.masked_array(da.arange(10, chunks=3).map_blocks(spy, dtype=int), mask=False)
    (idx,) = ma.nonzero(x)
    before = len(calls)
    assert before == 4  # one pass over the blocks, for the sizes only
    np.testing.assert_array_equal(idx.compute(), np.arange(1, 10))


@settings(max_examples=20, deadline=None)
@given(arrays(), st.sampled_from([None, "i4", "f4"]))
def test_like_functions_keep_masks_and_dtype(mc, dtype):
    m, chunks = mc
    x = lazy(m, chunks)
    for ours, theirs in [(ma.ones_like, np.ma.ones_like), (ma.zeros_like, np.ma.zeros_like)]:
        got = ours(x, dtype=dtype)
        expected = theirs(m, dtype=dtype)
        assert got.dtype == expected.dtype
        assert_masked_equal(masked(got), expected)
    empty = ma.empty_like(x, dtype=dtype)
    assert empty.dtype == np.ma.empty_like(m, dtype=dtype).dtype
    np.testing.assert_array_equal(np.ma.getmaskarray(masked(empty)), np.ma.getmaskarray(m))


def test_masked_array_arguments_as_dask():
    d = np.arange(6.0).reshape(2, 3)
    x = da.from_array(d, chunks=2)
    got = ma.masked_array(x, mask=True, fill_value=-1, dtype="f4")
    expected = np.ma.masked_array(d, mask=True, fill_value=-1, dtype="f4")
    ref = dda.ma.masked_array(dda.from_array(d, chunks=2), mask=True, fill_value=-1, dtype="f4")
    assert got.dtype == ref.dtype == expected.dtype and got.chunks == ref.chunks
    assert_masked_equal(masked(got), expected)
    np.testing.assert_array_equal(ma.filled(got).compute(), np.ma.filled(expected))
    with pytest.raises(np.ma.MaskError, match="not compatible"):
        ma.masked_array(x, mask=np.ones(4, bool))
    with pytest.raises(ValueError, match="non-scalar fill_value"):
        ma.masked_array(x, fill_value=np.ones(2))
    with pytest.raises(ValueError, match="array `value`s"):
        ma.masked_equal(x, np.ones(3))
    with pytest.raises(ValueError, match="array `value`s"):
        ma.masked_values(x, np.ones(3))
    with pytest.raises(ValueError, match="array `value`s"):
        ma.set_fill_value(x, np.ones(3))
    with pytest.raises(IndexError, match="Inconsistent shape"):
        ma.masked_where(np.ones(3, bool), x)
    with pytest.raises(ValueError, match="both or neither"):
        ma.where(x > 1, x)


def test_functions_are_lazy():
    def boom(b):
        raise AssertionError("computed")

    x = da.ones((4, 4), chunks=2).map_blocks(boom, dtype="f8")
    for f in [ma.masked_invalid, ma.getdata, ma.getmaskarray, ma.ones_like, ma.filled,
              lambda a: ma.masked_greater(a, 1), lambda a: ma.average(a, axis=0),
              lambda a: ma.count(a), lambda a: ma.masked_array(a, mask=False),
              lambda a: ma.where(a > 0, a, 0)]:  # fmt: skip
        f(x)


def test_names_are_dask_array_ma_names():
    import dask.array.ma as dma

    documented = {"average", "empty_like", "filled", "fix_invalid", "getdata",
                  "getmaskarray", "masked_array", "masked_equal", "masked_greater",
                  "masked_greater_equal", "masked_inside", "masked_invalid", "masked_less",
                  "masked_less_equal", "masked_not_equal", "masked_outside", "masked_values",
                  "masked_where", "nonzero", "ones_like", "set_fill_value", "where",
                  "zeros_like"}  # fmt: skip
    assert documented <= set(ma.__all__)
    import inspect

    for name in ma.__all__:
        ours = inspect.signature(getattr(ma, name)).parameters
        theirs = inspect.signature(getattr(dma, name), follow_wrapped=False).parameters
        assert [(p.name, p.default) for p in ours.values()] == [
            (p.name, p.default) for p in theirs.values()
        ], name


def test_masks_survive_compute_rechunk_concatenate_and_from_array():
    m = np.ma.masked_greater(np.arange(6), 3)
    x = ma.masked_greater(da.arange(6, chunks=2), 3)
    for lazy, expected in [
        (x, m),
        (x.rechunk(3), m),
        (da.concatenate([x, x.astype("f8")]), np.ma.concatenate([m, m.astype("f8")])),
        (da.from_array(m, chunks=4), m),
        (x[1:5], m[1:5]),
    ]:
        got = lazy.compute()
        assert isinstance(got, np.ma.MaskedArray)
        np.testing.assert_array_equal(np.ma.getmaskarray(got), np.ma.getmaskarray(expected))
        np.testing.assert_array_equal(got.compressed(), expected.compressed())


@given(
    data=st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=30),
    seed=st.integers(0, 2**16),
    chunk=st.integers(1, 7),
    nan=st.booleans(),
)
@settings(max_examples=30, deadline=None)
def test_reductions_of_masked_blocks_match_numpy_ma(data, seed, chunk, nan):
    """Masked elements count for nothing, whole blocks masked included."""
    rng = np.random.default_rng(seed)
    values = np.array(data)
    if nan:
        values[rng.random(len(values)) < 0.2] = np.nan
    mask = rng.random(len(values)) < 0.5
    mask[: min(chunk, len(mask))] = True  # a block entirely masked
    m = np.ma.masked_array(values, mask)
    x = ma.masked_array(da.from_array(values, chunks=chunk), mask)
    names = ["sum", "mean", "min", "max"]
    if not np.isnan(m.compressed()).any():
        # (numpy.ma masks a variance that comes out NaN, but not such a mean.)
        names += ["var", "std"]
    for name in names:
        theirs = getattr(m, name)()
        ours = getattr(x, name)().compute()
        if theirs is np.ma.masked:
            assert ours is np.ma.masked or np.ma.getmaskarray(ours).all(), name
        else:
            np.testing.assert_allclose(
                float(ours), float(theirs), rtol=1e-9, atol=1e-9, err_msg=name
            )
