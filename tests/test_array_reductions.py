"""taskloom.array's reductions and scans (issue #15) against numpy on random shapes and
chunkings (uneven, single-element and empty blocks, NaNs for the nan-functions), and
against dask.array where Dask defines what numpy does not (percentile's approximation).
Each check also compares the lazy metadata (shape, dtype) with the computed result."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import taskloom
import taskloom.array as da

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def chunked(draw, min_dims=1, max_dims=3, min_side=0, nans=False, empty_blocks=True):
    """(numpy array, chunks): sides up to 6, blocks of random sizes (zero-length
    blocks inserted when ``empty_blocks``), values with ties and optionally NaNs."""
    shape = tuple(draw(st.lists(st.integers(min_side, 6), min_size=min_dims, max_size=max_dims)))
    chunks = []
    for n in shape:
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
        sizes = [b - a for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
        if not empty_blocks or n == 0:
            sizes = [s for s in sizes if s] or [n]
        chunks.append(tuple(sizes))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.integers(-4, 5, size=shape).astype("f8")
    if nans:
        x[rng.random(shape) < draw(st.sampled_from([0.0, 0.3, 0.9]))] = np.nan
    return x, tuple(chunks)


def axes_for(draw, ndim, single=False):
    if single:
        return draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1))) if ndim else None
    subsets = st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).map(tuple)
    return draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1), subsets)) if ndim else None


def numpy_result(func, *args, **kwargs):
    """numpy's result, or the exception type it raised."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return func(*args, **kwargs), None
        except (ValueError, TypeError, IndexError) as e:
            return None, type(e)


def check(lazy, expected, exact=False):
    """``lazy`` computes to ``expected``, and its shape/dtype are the computed ones."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = lazy.compute()
    assert len(lazy.shape) == np.ndim(got)
    # A NaN length is unknown until computed (arrays of unknown chunk sizes).
    assert all(s != s or s == n for s, n in zip(lazy.shape, np.shape(got), strict=True))
    assert lazy.dtype == np.asarray(got).dtype
    assert np.shape(got) == np.shape(expected)
    if exact:
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9, equal_nan=True)
    return got


def raises_lazily_or_now(error, build):
    """Dask raises some errors (all-NaN slices) only when computing: either is fine."""
    with pytest.raises(error), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        build().compute()


# -- nan-reductions and the plain ones on empty blocks --------------------------------

NAN_REDUCTIONS = ["nansum", "nanprod", "nanmean", "nanmin", "nanmax", "nanstd", "nanvar"]


@SETTINGS
@given(data=st.data(), name=st.sampled_from([*NAN_REDUCTIONS, "sum", "min", "max", "var"]))
def test_nan_reductions_match_numpy(data, name):
    x, chunks = data.draw(chunked(min_dims=0, nans=name.startswith("nan")))
    axis = axes_for(data.draw, x.ndim)
    keepdims = data.draw(st.booleans())
    split_every = data.draw(st.sampled_from([None, 2, 3, {0: 3}]))  # a dict: per axis
    kwargs = {"ddof": data.draw(st.integers(0, 2))} if name in ("nanstd", "nanvar", "var") else {}
    expected, error = numpy_result(getattr(np, name), x, axis=axis, keepdims=keepdims, **kwargs)
    a = da.from_array(x, chunks=chunks)
    build = lambda: getattr(da, name)(a, axis=axis, keepdims=keepdims,  # noqa: E731
                                      split_every=split_every, **kwargs)  # fmt: skip
    if error:
        raises_lazily_or_now(error, build)
    else:
        check(build(), expected)


@SETTINGS
@given(data=st.data(), name=st.sampled_from(["nanargmin", "nanargmax", "argmin", "argmax"]))
def test_arg_reductions_match_numpy(data, name):
    x, chunks = data.draw(chunked(nans=name.startswith("nan")))
    axis = axes_for(data.draw, x.ndim, single=True)
    keepdims = data.draw(st.booleans())
    expected, error = numpy_result(getattr(np, name), x, axis=axis, keepdims=keepdims)
    a = da.from_array(x, chunks=chunks)
    split_every = data.draw(st.sampled_from([None, 2]))
    build = lambda: getattr(da, name)(a, axis=axis, keepdims=keepdims,  # noqa: E731
                                      split_every=split_every)  # fmt: skip
    if error:
        raises_lazily_or_now(error, build)
    else:
        check(build(), expected, exact=True)


def test_all_nan_slices():
    x = np.array([[np.nan, np.nan], [1.0, np.nan]])
    a = da.from_array(x, chunks=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_array_equal(da.nanmin(a, axis=1).compute(), [np.nan, 1.0])
        np.testing.assert_array_equal(da.nanmax(a, axis=1).compute(), [np.nan, 1.0])
        np.testing.assert_array_equal(da.nanmean(a, axis=1).compute(), [np.nan, 1.0])
        np.testing.assert_array_equal(da.nanvar(a, axis=1, ddof=1).compute(), [np.nan, np.nan])
    b = da.from_array(np.array([[np.nan, 2.0], [1.0, np.nan]]), chunks=1)
    np.testing.assert_array_equal(da.nanargmin(b, axis=0).compute(), [1, 0])
    with pytest.raises(ValueError, match="All-NaN slice"):
        da.nanargmax(a, axis=1).compute()
    with pytest.raises(ValueError, match="zero-size"):
        da.nanmin(da.from_array(np.ones((0, 3))), axis=0)


def test_float32_moments_are_their_declared_dtype():
    a = da.from_array(np.arange(6, dtype="f4"), chunks=4)
    for f in (da.mean, da.var, da.std, da.nanmean, da.nanvar, da.nanstd):
        result = f(a)
        assert result.dtype == np.float32 == result.compute().dtype


# -- moment ---------------------------------------------------------------------------


@SETTINGS
@given(data=st.data(), order=st.integers(0, 5), ddof=st.integers(0, 2))
def test_moment_matches_its_definition(data, order, ddof):
    x, chunks = data.draw(chunked(min_side=1))
    axis = axes_for(data.draw, x.ndim)
    mean = x.mean(axis=axis, keepdims=True)
    n = x.size // mean.size
    with np.errstate(all="ignore"):
        expected = np.sum((x - mean) ** order, axis=axis) / (n - ddof)
    if order == 0:
        expected = np.ones_like(expected)
    elif order == 1:
        expected = np.zeros_like(expected)
    elif n - ddof < 0:
        expected = np.full_like(expected, np.nan)
    got = da.moment(da.from_array(x, chunks=chunks), order, axis=axis, ddof=ddof, split_every=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_allclose(got.compute(), expected, rtol=1e-7, atol=1e-7)
    assert got.shape == np.shape(expected)


def test_moment_order_must_be_non_negative_int():
    for order in (-1, 1.5):
        with pytest.raises(ValueError, match="Order"):
            da.moment(da.ones(3, chunks=2), order)


# -- scans ----------------------------------------------------------------------------


@SETTINGS
@given(
    data=st.data(),
    name=st.sampled_from(["cumsum", "cumprod", "nancumsum", "nancumprod"]),
    method=st.sampled_from(["sequential", "blelloch"]),
)
def test_scans_match_numpy(data, name, method):
    x, chunks = data.draw(chunked(nans=True))
    x = np.where(np.abs(x) > 2, np.sign(x), x)  # products stay small
    nan = name.startswith("nan")
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1) if nan else st.one_of(
        st.none(), st.integers(-x.ndim, x.ndim - 1)))  # fmt: skip
    dtype = data.draw(st.sampled_from([None, "f4", "f8"]))
    expected = getattr(np, name)(x, axis=axis, dtype=dtype)
    got = getattr(da, name)(da.from_array(x, chunks=chunks), axis=axis, dtype=dtype, method=method)
    check(got, expected)


def test_scan_of_integers_widens_as_numpy():
    x = np.arange(10, dtype="i2").reshape(2, 5)
    got = check(da.cumsum(da.from_array(x, chunks=(1, 2)), axis=1), np.cumsum(x, axis=1), True)
    assert got.dtype == np.cumsum(x).dtype


def test_cumreduction_is_dasks_general_form():
    x = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    a = da.from_array(x, chunks=3)
    check(da.cumreduction(np.maximum.accumulate, np.maximum, -np.inf, a, axis=0, dtype=x.dtype,
                          method="sequential"), np.maximum.accumulate(x), exact=True)  # fmt: skip
    with pytest.raises(ValueError, match="method"):
        da.cumsum(a, method="parallel")
    with pytest.raises(TypeError, match="preop"):
        da.cumreduction(np.cumsum, np.add, 0, a, axis=0, method="blelloch")


def test_blelloch_many_blocks():
    x = np.arange(37.0)
    check(da.cumsum(da.from_array(x, chunks=1), method="blelloch"), np.cumsum(x))


# -- topk / argtopk -------------------------------------------------------------------


@SETTINGS
@given(data=st.data(), split_every=st.sampled_from([None, 2, 3]))
def test_topk_and_argtopk(data, split_every):
    x, chunks = data.draw(chunked(min_side=1))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    n = x.shape[axis]
    k = data.draw(st.integers(1, n)) * data.draw(st.sampled_from([1, -1]))
    ordered = np.sort(x, axis=axis)
    expected = np.flip(ordered, axis=axis) if k > 0 else ordered
    expected = np.take(expected, np.arange(abs(k)), axis=axis)
    a = da.from_array(x, chunks=chunks)
    got = check(da.topk(a, k, axis=axis, split_every=split_every), expected, exact=True)
    assert da.topk(a, k, axis=axis).chunks[axis % x.ndim] == (abs(k),)
    indices = da.argtopk(a, k, axis=axis, split_every=split_every)
    computed = indices.compute()
    assert indices.shape == computed.shape and indices.dtype == computed.dtype
    np.testing.assert_array_equal(np.take_along_axis(x, computed, axis=axis), got)
    # Distinct positions: each element chosen once.
    assert (np.diff(np.sort(computed, axis=axis), axis=axis) > 0).all()


def test_topk_rejects_k_it_cannot_honour():
    a = da.from_array(np.arange(4), chunks=2)
    for k in (0, 5, -5):
        with pytest.raises(ValueError, match="k must be"):
            da.topk(a, k)


# -- functions of whole axes ----------------------------------------------------------


@SETTINGS
@given(data=st.data(), name=st.sampled_from(["median", "nanmedian"]))
def test_median_matches_numpy(data, name):
    x, chunks = data.draw(chunked(min_side=1, nans=name == "nanmedian"))
    axis = data.draw(st.one_of(st.integers(-x.ndim, x.ndim - 1),
                               st.lists(st.integers(0, x.ndim - 1), unique=True,
                                        min_size=1).map(tuple)))  # fmt: skip
    keepdims = data.draw(st.booleans())
    expected, _ = numpy_result(getattr(np, name), x, axis=axis, keepdims=keepdims)
    check(getattr(da, name)(da.from_array(x, chunks=chunks), axis=axis, keepdims=keepdims),
          expected)  # fmt: skip


def test_median_needs_an_axis():
    with pytest.raises(NotImplementedError, match="axis"):
        da.median(da.ones(4, chunks=2))


@SETTINGS
@given(
    data=st.data(),
    name=st.sampled_from(["quantile", "nanquantile"]),
    method=st.sampled_from(["linear", "lower", "nearest", "midpoint", "inverted_cdf"]),
)
def test_quantile_matches_numpy(data, name, method):
    x, chunks = data.draw(chunked(min_side=1, nans=name == "nanquantile"))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    q = data.draw(st.one_of(st.floats(0, 1), st.lists(st.floats(0, 1), min_size=1, max_size=3)))
    keepdims = data.draw(st.booleans())
    expected, _ = numpy_result(getattr(np, name), x, q, axis=axis, method=method,
                               keepdims=keepdims)  # fmt: skip
    a = da.from_array(x, chunks=chunks)
    check(getattr(da, name)(a, q, axis=axis, method=method, keepdims=keepdims), expected)


def test_quantile_errors_and_single_block_axis_none():
    x = np.arange(12.0).reshape(3, 4)
    check(da.quantile(da.from_array(x, chunks=-1), 0.3), np.quantile(x, 0.3))
    with pytest.raises(NotImplementedError, match="only works along an axis"):
        da.quantile(da.from_array(x, chunks=2), 0.3)
    with pytest.raises(ValueError):
        da.quantile(da.from_array(x, chunks=2), 1.5, axis=0)
    with pytest.raises(NotImplementedError, match="overwrite_input"):
        da.quantile(da.from_array(x, chunks=2), 0.5, axis=0, overwrite_input=True)
    with pytest.warns(FutureWarning, match="renamed"):
        got = da.quantile(da.from_array(x, chunks=2), 0.5, axis=0, interpolation="lower")
    check(got, np.quantile(x, 0.5, axis=0, method="lower"))


@SETTINGS
@given(
    values=st.lists(st.integers(-1000, 1000), min_size=1, max_size=40, unique=True),
    data=st.data(),
    method=st.sampled_from(["linear", "lower", "higher", "midpoint", "nearest"]),
)
def test_percentile_is_dasks_approximation(values, data, method):
    import dask.array as dask_array

    x = np.array(values, dtype="f8")
    chunks = data.draw(st.integers(1, len(values)))
    q = data.draw(st.lists(st.floats(0, 100), min_size=1, max_size=4))
    a = da.from_array(x, chunks=chunks)
    ours = da.percentile(a, sorted(q), method=method)
    # Dask's needs sorted q; taskloom's sorts them for the blocks' percentiles.
    unsorted = da.percentile(a, q, method=method).compute()
    np.testing.assert_array_equal(unsorted, ours.compute()[np.argsort(np.argsort(q))])
    if method == "linear":
        theirs = dask_array.percentile(dask_array.from_array(x, chunks=chunks), sorted(q))
        check(ours, theirs.compute())
    else:
        # Dask's merge reads index -1 (the maximum) for percentiles within the first
        # sorted value's weight; taskloom reads index 0. Elsewhere the two agree, and
        # the answers are elements of x, in order.
        got = check(ours, np.sort(ours.compute()))
        if method != "midpoint":
            assert np.isin(got, x).all()
    if chunks >= len(values):  # one block: exact
        check(da.percentile(da.from_array(x, chunks=chunks), q, method=method),
              np.percentile(x, q, method=method))  # fmt: skip


def test_percentile_reads_the_first_value_where_dask_reads_the_last():
    import dask.array as dask_array

    x = np.array([0.0, -1.0])
    q = [0.0, 1.0]
    theirs = dask_array.percentile(dask_array.from_array(x, chunks=1), q, method="lower")
    np.testing.assert_array_equal(theirs.compute(), [0.0, 0.0])  # Dask's index -1
    got = da.percentile(da.from_array(x, chunks=1), q, method="lower").compute()
    np.testing.assert_array_equal(got, np.percentile(x, q, method="lower"))


def test_percentile_forms_and_errors():
    x = np.arange(20)
    a = da.from_array(x, chunks=7)
    scalar = da.percentile(a, 50)
    assert scalar.shape == () and scalar.dtype == np.float64
    import dask.array as dask_array

    expected = dask_array.percentile(dask_array.from_array(x, chunks=7), 50).compute()
    assert scalar.compute() == expected  # approximate (9.57...), as Dask's
    with pytest.raises(NotImplementedError, match="tdigest"):
        da.percentile(a, 50, internal_method="tdigest")
    with pytest.raises(ValueError, match="internal_method"):
        da.percentile(a, 50, internal_method="exact")
    with pytest.warns(FutureWarning, match="internal_method"):
        da.percentile(a, 50, method="dask")
    with pytest.raises(TypeError, match="unexpected"):
        da.percentile(a, 50, axis=0)
    with pytest.raises(ValueError):
        da.percentile(a, 150)
    m = np.arange(12.0).reshape(3, 4)
    check(da.percentile(da.from_array(m, chunks=2), [10, 90], axis=1),
          np.percentile(m, [10, 90], axis=1))  # fmt: skip
    y = np.array([[1.0, np.nan, 3.0], [2.0, 5.0, np.nan]])
    check(da.nanpercentile(da.from_array(y, chunks=1), [25, 50], axis=1),
          np.nanpercentile(y, [25, 50], axis=1))  # fmt: skip


# -- built on the reductions ----------------------------------------------------------


@SETTINGS
@given(data=st.data())
def test_ptp_count_nonzero_average(data):
    x, chunks = data.draw(chunked(min_side=1))
    axis = axes_for(data.draw, x.ndim, single=True)
    a = da.from_array(x, chunks=chunks)
    check(da.ptp(a, axis=axis), np.ptp(x, axis=axis), exact=True)
    counted = da.count_nonzero(a, axis=axis)
    check(counted, np.asarray(np.count_nonzero(x, axis=axis), dtype=np.intp), exact=True)
    keepdims = data.draw(st.booleans())
    check(da.average(a, axis=axis, keepdims=keepdims), np.average(x, axis=axis, keepdims=keepdims))
    w = np.random.default_rng(0).random(x.shape) + 0.5
    avg, scale = da.average(a, axis=axis, weights=w, returned=True, keepdims=keepdims)
    expected_avg, expected_scale = np.average(x, axis=axis, weights=w, returned=True,
                                              keepdims=keepdims)  # fmt: skip
    check(avg, expected_avg)
    check(scale, expected_scale)
    if axis is not None:
        w1 = np.arange(1, x.shape[axis] + 1.0)
        got = da.average(a, axis=axis, weights=da.from_array(w1, chunks=2), returned=True)
        expected = np.average(x, axis=axis, weights=w1, returned=True)
        check(got[0], expected[0])
        check(got[1], expected[1])


def test_average_weighs_small_integers_in_floats():
    x, w = np.array([100, 100], dtype="i1"), np.array([3, 1], dtype="i1")
    check(da.average(da.from_array(x, chunks=1), weights=w), np.average(x, weights=w))


def test_average_weight_errors():
    a = da.ones((2, 3), chunks=1)
    with pytest.raises(TypeError, match="Axis must be specified"):
        da.average(a, weights=np.ones(3))
    with pytest.raises(ValueError, match="Length of weights"):
        da.average(a, axis=0, weights=np.ones(3))
    with pytest.raises(TypeError):
        da.ptp(da.ones(3, chunks=2).astype(bool))


@SETTINGS
@given(data=st.data())
def test_trace(data):
    x, chunks = data.draw(chunked(min_dims=2, min_side=0))
    offset = data.draw(st.integers(-7, 7))
    axis1, axis2 = data.draw(st.permutations(range(x.ndim)))[:2]
    dtype = data.draw(st.sampled_from([None, "f4", "i8"]))
    expected = np.trace(x, offset, axis1, axis2, dtype=dtype)
    check(da.trace(da.from_array(x, chunks=chunks), offset, axis1, axis2, dtype), expected)


def _diagonal_blocks_only(block, block_id=None):
    if block_id[0] != block_id[1]:
        raise RuntimeError(f"read block {block_id} off the diagonal")
    return block


def test_trace_reads_only_the_blocks_the_diagonal_crosses():
    x = da.from_array(np.arange(36.0).reshape(6, 6), chunks=2)
    guarded = x.map_blocks(_diagonal_blocks_only, dtype=x.dtype)
    check(da.trace(guarded), np.trace(np.arange(36.0).reshape(6, 6)))
    with pytest.raises(RuntimeError, match="off the diagonal"):
        da.trace(guarded, offset=1).compute()


def test_trace_errors():
    with pytest.raises(ValueError, match="two dimensions"):
        da.trace(da.ones(3, chunks=2))
    with pytest.raises(ValueError, match="cannot be the same"):
        da.trace(da.ones((3, 3), chunks=2), axis1=1, axis2=1)


@SETTINGS
@given(
    data=st.data(),
    rowvar=st.booleans(),
    bias=st.booleans(),
    ddof=st.sampled_from([None, 0, 2]),
    weighted=st.sampled_from([None, "f", "a", "fa"]),
)
def test_cov_and_corrcoef(data, rowvar, bias, ddof, weighted):
    x, chunks = data.draw(chunked(min_dims=2, max_dims=2, min_side=2, empty_blocks=False))
    x = x + np.random.default_rng(1).random(x.shape)  # no constant variables
    y = x[::-1] * 2 + 1
    n = x.shape[1] if rowvar else x.shape[0]
    rng = np.random.default_rng(2)
    kw = {}
    if weighted and "f" in weighted:
        kw["fweights"] = rng.integers(1, 4, n)
    if weighted and "a" in weighted:
        kw["aweights"] = rng.random(n) + 0.5
    a = da.from_array(x, chunks=chunks)
    b = da.from_array(y, chunks=chunks)
    expected, _ = numpy_result(np.cov, x, y, rowvar=rowvar, bias=bias, ddof=ddof, **kw)
    with warnings.catch_warnings():  # numpy's warning for N - ddof <= 0, as numpy
        warnings.simplefilter("ignore", RuntimeWarning)
        got = da.cov(a, b, rowvar=rowvar, bias=bias, ddof=ddof, **kw)
    if np.isfinite(expected).all():
        check(got, expected)
    else:  # a divisor of 0 in numpy is one of rounding size here (summed in other order)
        assert got.shape == expected.shape
    check(da.corrcoef(a, rowvar=rowvar), np.corrcoef(x, rowvar=rowvar))
    check(da.cov(a[0]), np.cov(x[0]))
    check(da.corrcoef(a[0], b[0]), np.corrcoef(x[0], y[0]))


def test_cov_errors():
    with pytest.raises(ValueError, match="more than 2"):
        da.cov(da.ones((2, 2, 2), chunks=1))
    with pytest.raises(TypeError, match="fweights must be integer"):
        da.cov(da.ones((2, 3), chunks=1), fweights=np.ones(3))
    with pytest.raises(ValueError, match="ddof must be integer"):
        da.cov(da.ones((2, 3), chunks=1), ddof=1.5)


# -- Dask's generic reduction ---------------------------------------------------------


def _sum_of_list(parts, axis, keepdims):
    # With concatenate=False: nested lists, one level per reduced axis.
    def flat(p):
        return [q for r in p for q in flat(r)] if isinstance(p, list) else [p]

    total = sum(flat(parts))
    return total if keepdims else np.squeeze(total, axis=axis)


@SETTINGS
@given(data=st.data(), concatenate=st.booleans(), split_every=st.sampled_from([None, 2]))
def test_generic_reduction(data, concatenate, split_every):
    x, chunks = data.draw(chunked(min_dims=1))
    axis = axes_for(data.draw, x.ndim)
    keepdims = data.draw(st.booleans())
    a = da.from_array(x, chunks=chunks)
    aggregate = np.sum if concatenate else _sum_of_list
    combine = None if concatenate else (lambda p, axis, keepdims: _sum_of_list(p, axis, True))
    got = da.reduction(a, np.sum, aggregate, axis=axis, keepdims=keepdims, combine=combine,
                       split_every=split_every, concatenate=concatenate)  # fmt: skip
    check(got, np.sum(x, axis=axis, keepdims=keepdims))


def test_generic_reduction_output_size_and_errors():
    x = np.arange(12.0).reshape(3, 4)
    a = da.from_array(x, chunks=2)

    def two_largest(b, axis, keepdims):
        return np.sort(b, axis=axis[0])[-2:] if b.shape[axis[0]] > 2 else b

    got = da.reduction(a, two_largest, two_largest, axis=0, keepdims=True, dtype=a.dtype,
                       output_size=2, split_every=2)  # fmt: skip
    assert got.chunks[0] == (2,)
    check(got, np.sort(x, axis=0)[-2:])


def _weighted_sum(block, weights, axis, keepdims):
    return np.sum(block * weights, axis=axis, keepdims=keepdims)


@SETTINGS
@given(data=st.data())
def test_generic_reduction_with_weights(data):
    x, chunks = data.draw(chunked(min_dims=1))
    axis = axes_for(data.draw, x.ndim)
    # Weights along the last axis only: broadcast to x's shape, in x's blocks.
    w = np.arange(1.0, x.shape[-1] + 1)
    a = da.from_array(x, chunks=chunks)
    got = da.reduction(a, _weighted_sum, np.sum, axis=axis, weights=da.from_array(w, chunks=2))
    check(got, np.sum(x * w, axis=axis))


def test_reductions_of_unknown_chunk_sizes():
    x = np.array([3.0, np.nan, 1.0, 5.0, 2.0, 0.0])
    a = da.from_array(x, chunks=2)
    masked = a[a != 1.0]  # NaN block sizes
    kept = x[x != 1.0]
    check(da.nansum(masked), np.nansum(kept))
    check(da.nanvar(masked), np.nanvar(kept))
    check(da.cumsum(masked), np.cumsum(kept))
    check(da.topk(masked, 2), np.sort(kept)[::-1][:2])
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        da.nanargmax(masked)
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        da.argtopk(masked, 2)


# -- laziness -------------------------------------------------------------------------


def _boom(block):
    raise RuntimeError("computed")


@pytest.mark.parametrize(
    "build",
    [
        lambda p: da.nansum(p), lambda p: da.nanargmax(p, axis=0), lambda p: da.nanvar(p),
        lambda p: da.moment(p, 3), lambda p: da.cumsum(p, axis=None),
        lambda p: da.nancumprod(p, axis=1, method="blelloch"), lambda p: da.topk(p, 2),
        lambda p: da.argtopk(p, -2, axis=0), lambda p: da.median(p, axis=0),
        lambda p: da.nanquantile(p, [0.5], axis=1), lambda p: da.percentile(p[0], 30),
        lambda p: da.ptp(p), lambda p: da.average(p, axis=0, weights=np.ones(4)),
        lambda p: da.count_nonzero(p), lambda p: da.trace(p), lambda p: da.cov(p),
        lambda p: da.corrcoef(p), lambda p: da.reduction(p, np.sum, np.sum, dtype=p.dtype),
    ],
)  # fmt: skip
def test_functions_are_lazy(build):
    poisoned = da.from_array(np.ones((4, 4)), chunks=2).map_blocks(_boom, dtype="f8")
    result = build(poisoned)
    parts = result if isinstance(result, tuple) else (result,)
    with pytest.raises(RuntimeError, match="computed"):
        parts[0].compute()


@SETTINGS
@given(
    values=st.lists(st.integers(-5, 5), min_size=1, max_size=25),
    chunk=st.integers(1, 6),
    threshold=st.integers(-6, 6),
)
@example(values=[0] * 8 + [1], chunk=1, threshold=0)  # a whole combine group empty
def test_min_max_after_a_mask_skip_blocks_found_empty(values, chunk, threshold):
    """Blocks of unknown size that turn out empty give no partial (as Dask's
    chunk_max); with nothing left at all, numpy's zero-size error."""
    x = np.array(values, dtype="f8")
    a = da.from_array(x, chunks=chunk)
    kept = x[x > threshold]
    for name in ("min", "max", "nanmin", "nanmax"):
        lazy = getattr(da, name)(a[a > threshold])
        if kept.size:
            assert lazy.compute() == getattr(np, name)(kept)
        else:
            with pytest.raises(ValueError, match="zero-size array"):
                lazy.compute()


PLAIN = ["sum", "prod", "min", "max", "any", "all"]
DTYPES = ["i1", "u1", "i8", "?", "f4", "c16", "O"]


@SETTINGS
@given(data=st.data(), name=st.sampled_from(PLAIN), dtype=st.sampled_from(DTYPES))
def test_plain_reductions_keep_numpys_dtypes(data, name, dtype):
    # Exact ndarray blocks are reduced by the ufunc directly (numpy's wrapper skipped):
    # small ints still widen in sum/prod, any/all still give bools, objects stay objects.
    x, chunks = data.draw(chunked(min_side=1, empty_blocks=False))
    x = x.astype(dtype)
    axis = axes_for(data.draw, x.ndim)
    expected, error = numpy_result(getattr(np, name), x, axis=axis)
    lazy = getattr(da, name)(da.from_array(x, chunks=chunks), axis=axis)
    if error is not None:
        raises_lazily_or_now(error, lambda: lazy)
        return
    if dtype == "O":  # numpy gives a Python scalar for a whole sum, min... of objects
        got = lazy.compute()
        numpy_typed = isinstance(expected, np.ndarray | np.generic)
        assert lazy.dtype == (expected.dtype if numpy_typed else object)
        assert type(got) is type(expected)
        np.testing.assert_array_equal(got, expected)
        return
    got = check(lazy, expected, exact=True)
    assert np.asarray(got).dtype == np.asarray(expected).dtype


def test_filled_blocks_are_read_only_broadcasts_of_any_dtype():
    for fill, dtype in [(7, "i2"), (1.5, "f4"), (True, "?"), (1 + 2j, "c8"), ("ab", "U2"),
                        (np.datetime64("2020-01-01"), "M8[D]"), (None, "O")]:  # fmt: skip
        x = da.full((5, 4), fill, dtype=dtype, chunks=(2, 3))
        expected = np.full((5, 4), fill, dtype=dtype)
        blocks = [b.compute() for b in x.to_delayed().ravel()]  # as the tasks made them
        assert all(b.dtype == expected.dtype and not b.flags.writeable for b in blocks)
        assert all(b.strides == (0, 0) for b in blocks)  # one element, broadcast
        assert [b.shape for b in blocks] == [(2, 3), (2, 1), (2, 3), (2, 1), (1, 3), (1, 1)]
        np.testing.assert_array_equal(x.compute(), expected)


def test_filled_blocks_of_one_shape_share_a_view_never_a_result():
    # The view is made once per block shape (a view costs as much as a task), which is
    # safe only because it is read-only and every result is the user's own copy.
    x = da.full((5,), 2.0, chunks=2)
    graph = dict(x.__dask_graph__())
    first, second, last = taskloom.get(graph, sorted(graph))
    assert first is second and last.shape == (1,)
    with pytest.raises(ValueError, match="read-only"):
        first[0] = 0.0
    out = x.compute()
    out[:] = 0.0
    np.testing.assert_array_equal(x.compute(), np.full(5, 2.0))
    np.testing.assert_array_equal(x.compute(scheduler="processes"), np.full(5, 2.0))
    # Unpickled in a worker process, the element is read-only again: no task there can
    # make the view it shares with every block of its shape writeable.
    filled, shape = graph[(x.name, 0)]
    view = pickle.loads(pickle.dumps(filled))(shape)
    with pytest.raises(ValueError):
        view.flags.writeable = True


def test_a_filled_blocks_task_pickles_small():
    # Sent to worker processes or a cluster one piece at a time, a block's task must
    # not carry the block: a broadcast view pickles as a copy of all of its elements.
    x = da.ones((2000, 2000), chunks=(1000, 1000))
    graph = dict(x.__dask_graph__())
    block_bytes = 1000 * 1000 * 8
    assert all(len(pickle.dumps(task)) < block_bytes / 1000 for task in graph.values())
    np.testing.assert_array_equal(x.compute(scheduler="processes"), np.ones((2000, 2000)))
