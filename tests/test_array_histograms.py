"""taskloom.array's histograms, bincount, digitize, searchsorted (histograms.py) and
isin (setops.py) against numpy on random shapes and chunkings, with Dask's errors
where it refuses what numpy accepts. Each check also compares the lazy metadata
(shape, dtype) with the computed result."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom.array as da
from taskloom.array.histograms import (
    bincount,
    digitize,
    histogram,
    histogram2d,
    histogramdd,
    searchsorted,
)
from taskloom.array.setops import isin, union1d, unique

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def blocks(draw, n):
    """Block sizes adding up to ``n``: uneven, single elements, empty blocks."""
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    sizes = tuple(b - a for a, b in zip([0, *cuts], [*cuts, n], strict=True))
    return sizes if n else (0,)


@st.composite
def chunked(draw, min_dims=1, max_dims=3, min_side=0, low=-5, high=5):
    shape = tuple(draw(st.lists(st.integers(min_side, 6), min_size=min_dims, max_size=max_dims)))
    chunks = tuple(draw(blocks(n)) for n in shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return rng.integers(low, high + 1, size=shape), chunks


def check(lazy, expected):
    got = lazy.compute()
    assert lazy.shape == np.shape(got) == np.shape(expected)
    assert lazy.dtype == np.asarray(got).dtype == np.asarray(expected).dtype
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)
    return got


# -- histogram ------------------------------------------------------------------------


@SETTINGS
@given(
    data=st.data(),
    nbins=st.integers(1, 6),
    density=st.booleans(),
    weighted=st.booleans(),
    edges_given=st.booleans(),
)
def test_histogram_matches_numpy(data, nbins, density, weighted, edges_given):
    x, chunks = data.draw(chunked())
    x = x + 0.5 * (x % 2)  # values on and between edges
    a = da.from_array(x, chunks=chunks)
    w = np.random.default_rng(0).random(x.shape) if weighted else None
    if edges_given:
        bins = np.unique(data.draw(st.lists(st.floats(-6, 6), min_size=2, max_size=5)))
        if len(bins) < 2:
            bins = np.array([-1.0, 1.0])
        kwargs = {"bins": bins}
        lazy_edges = data.draw(st.booleans())
    else:
        lazy_edges = False
        kwargs = {"bins": nbins, "range": (-4, 3.5)}
    if density and x.size == 0:
        return  # numpy divides 0 by 0 with a warning
    with np.errstate(all="ignore"):  # density of no elements in the range: 0 / 0
        expected, expected_edges = np.histogram(x, weights=w, density=density, **kwargs)
    weights = (
        None if w is None else da.from_array(w, chunks=data.draw(st.sampled_from([chunks, 2])))
    )
    if lazy_edges:  # the edges may be a taskloom array, returned as given
        kwargs["bins"] = da.from_array(kwargs["bins"], chunks=2)
    elif not edges_given and data.draw(st.booleans()):  # a lazy range: lazy edges
        kwargs["range"] = (da.from_array(np.array(-4.0)), 3.5)
        lazy_edges = True
    hist, edges = histogram(a, weights=weights, density=density, **kwargs)
    with np.errstate(all="ignore"):
        check(hist, expected)
    if lazy_edges:
        assert isinstance(edges, da.Array)
        edges = edges.compute()
    np.testing.assert_array_equal(edges, expected_edges)
    assert edges.dtype == expected_edges.dtype


def test_histogram_needs_edges_or_a_range():
    a = da.from_array(np.arange(5.0), chunks=2)
    with pytest.raises(ValueError, match="requires either specifying bins as an iterable"):
        histogram(a, bins=3)
    with pytest.raises(ValueError, match="requires"):
        histogram(a)
    with pytest.raises(ValueError, match="normed"):
        histogram(a, bins=3, range=(0, 5), normed=True)
    with pytest.raises(ValueError, match="monotonically"):
        histogram(a, bins=[0, 3, 1])
    with pytest.raises(ValueError, match="same shape"):
        histogram(a, bins=[0, 1], weights=np.ones(3))


@SETTINGS
@given(data=st.data(), density=st.booleans(), weighted=st.booleans(), as_array=st.booleans())
def test_histogramdd_matches_numpy(data, density, weighted, as_array):
    n = data.draw(st.integers(1, 12))
    d = data.draw(st.integers(1, 3))
    rng = np.random.default_rng(data.draw(st.integers(0, 100)))
    sample = rng.integers(0, 5, size=(n, d)) + rng.random((n, d)).round(1)
    rows = data.draw(blocks(n))
    bins = data.draw(st.one_of(
        st.integers(1, 4), st.lists(st.integers(1, 4), min_size=d, max_size=d),
        st.just([np.array([0.0, 1.5, 2.0, 5.5])] * d),
    ))  # fmt: skip
    ranges = [(0, 6)] * d
    w = rng.random(n) if weighted else None
    expected, expected_edges = np.histogramdd(sample, bins=bins, range=ranges, weights=w,
                                              density=density)  # fmt: skip
    weights = None if w is None else da.from_array(w, chunks=data.draw(st.sampled_from([rows, 3])))
    if as_array:
        s = da.from_array(sample, chunks=(rows, d))
    else:
        s = [da.from_array(sample[:, i], chunks=rows if i else 2) for i in range(d)]
    hist, edges = histogramdd(s, bins=bins, range=ranges, weights=weights, density=density)
    check(hist, expected)
    for got, want in zip(edges, expected_edges, strict=True):
        np.testing.assert_array_equal(got, want)


@SETTINGS
@given(data=st.data(), bins=st.sampled_from([3, [2, 4], [0.0, 1.0, 2.5, 4.0]]))
def test_histogram2d_matches_numpy(data, bins):
    n = data.draw(st.integers(1, 12))
    rng = np.random.default_rng(data.draw(st.integers(0, 100)))
    x, y = rng.random(n) * 4, rng.random(n) * 4
    expected, ex, ey = np.histogram2d(x, y, bins=bins, range=[(0, 4), (0, 4)])
    lazy_x = da.from_array(x, chunks=data.draw(blocks(n)))
    hist, gx, gy = histogram2d(lazy_x, da.from_array(y, chunks=3), bins=bins,
                               range=[(0, 4), (0, 4)])  # fmt: skip
    check(hist, expected)
    np.testing.assert_array_equal(gx, ex)
    np.testing.assert_array_equal(gy, ey)


def test_histogramdd_errors():
    s = da.from_array(np.ones((4, 2)), chunks=(2, 1))
    with pytest.raises(ValueError, match="only be chunked along the 0th axis"):
        histogramdd(s, bins=2, range=[(0, 1), (0, 1)])
    with pytest.raises(ValueError, match="requires range"):
        histogramdd(s.rechunk((2, 2)), bins=2)


# -- bincount -------------------------------------------------------------------------


@SETTINGS
@given(data=st.data(), weighted=st.booleans(), split_every=st.sampled_from([None, 2]))
def test_bincount_matches_numpy(data, weighted, split_every):
    x, chunks = data.draw(chunked(min_dims=1, max_dims=1, low=0, high=7))
    minlength = data.draw(st.integers(8, 10))
    w = np.random.default_rng(1).random(x.shape) if weighted else None
    weights = None if w is None else da.from_array(w, chunks=chunks)
    got = bincount(da.from_array(x, chunks=chunks), weights, minlength, split_every)
    expected = np.bincount(x, weights=w, minlength=minlength)
    if weighted:  # numpy gives integer zeros for an empty x; Dask's dtype is the weights'
        expected = expected.astype(float)
    check(got, expected)


def test_bincount_errors():
    x = da.from_array(np.array([0, 3, 9]), chunks=2)
    with pytest.raises(NotImplementedError, match="minlength"):
        bincount(x)
    with pytest.raises(ValueError, match="one dimensional"):
        bincount(da.ones((2, 2), chunks=1, dtype=int), minlength=3)
    with pytest.raises(ValueError, match="Chunks of input array x and weights must match"):
        bincount(x, weights=da.ones(3, chunks=3), minlength=10)
    with pytest.raises(ValueError, match="beyond minlength"):
        bincount(x, minlength=5).compute()


# -- digitize / searchsorted ----------------------------------------------------------


@SETTINGS
@given(data=st.data(), right=st.booleans(), decreasing=st.booleans(), lazy_bins=st.booleans())
def test_digitize_matches_numpy(data, right, decreasing, lazy_bins):
    x, chunks = data.draw(chunked(min_dims=0))
    bins = np.unique(data.draw(st.lists(st.integers(-5, 5), min_size=1, max_size=5)))
    bins = bins[::-1] if decreasing else bins
    given_bins = da.from_array(bins, chunks=2) if lazy_bins else bins
    check(digitize(da.from_array(x, chunks=chunks), given_bins, right=right),
          np.digitize(x, bins, right=right))  # fmt: skip


def test_digitize_checks_bins():
    with pytest.raises(ValueError, match="monotonic"):
        digitize(da.ones(3, chunks=2), np.array([1, 0, 2]))


@SETTINGS
@given(data=st.data(), side=st.sampled_from(["left", "right"]))
def test_searchsorted_matches_numpy(data, side):
    sorted_values = np.sort(data.draw(st.lists(st.integers(-5, 5), max_size=10)))
    a_chunks = data.draw(blocks(len(sorted_values)))
    v, v_chunks = data.draw(chunked(min_dims=0, low=-6, high=6))
    a = da.from_array(sorted_values, chunks=a_chunks)
    check(searchsorted(a, da.from_array(v, chunks=v_chunks), side=side),
          np.searchsorted(sorted_values, v, side=side))  # fmt: skip


def test_searchsorted_errors():
    with pytest.raises(NotImplementedError, match="sorter"):
        searchsorted(da.ones(3, chunks=2), 1, sorter=np.arange(3))
    with pytest.raises(ValueError, match="one dimensional"):
        searchsorted(da.ones((2, 2), chunks=1), 1)
    with pytest.raises(ValueError):
        searchsorted(da.ones(3, chunks=2), 1, side="middle")


# -- isin -----------------------------------------------------------------------------


@SETTINGS
@given(data=st.data(), invert=st.booleans(), kind=st.sampled_from([None, "sort", "table"]))
def test_isin_matches_numpy(data, invert, kind):
    x, chunks = data.draw(chunked(min_dims=0))
    t, t_chunks = data.draw(chunked(min_dims=0, max_dims=2))
    got = isin(da.from_array(x, chunks=chunks), da.from_array(t, chunks=t_chunks),
               invert=invert, kind=kind)  # fmt: skip
    check(got, np.isin(x, t, invert=invert, kind=kind))
    values = np.unique(x)
    tests = np.unique(t)
    got = isin(da.from_array(values, chunks=2), tests, assume_unique=True, invert=invert)
    check(got, np.isin(values, tests, assume_unique=True, invert=invert))


@SETTINGS
@given(
    data=st.data(),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    nans=st.booleans(),
    split_every=st.sampled_from([None, 2]),
)
def test_unique_matches_numpy(data, flags, nans, split_every):
    x, chunks = data.draw(chunked(min_dims=0))
    x = x.astype(float)
    if nans:
        x[x > 2] = np.nan
    expected = np.unique(x, *flags)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = unique(da.from_array(x, chunks=chunks), *flags)
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(expected)
    for lazy, want in zip(got, expected, strict=True):
        result = lazy.compute()
        assert lazy.dtype == result.dtype == want.dtype
        unknown = lazy.ndim == 1 and lazy.shape[0] != lazy.shape[0]  # NaN: not yet known
        assert unknown or lazy.shape == result.shape
        np.testing.assert_array_equal(result, want)


def test_unique_of_unknown_chunk_sizes():
    x = np.array([3, 1, 3, 5, 1, 0])
    a = da.from_array(x, chunks=2)
    masked = a[a > 0]
    values, inverse, counts = unique(masked, return_inverse=True, return_counts=True)
    expected = np.unique(x[x > 0], return_inverse=True, return_counts=True)
    for got, want in zip((values, inverse, counts), expected, strict=True):
        np.testing.assert_array_equal(got.compute(), want)
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        unique(masked, return_index=True)


def test_union1d_matches_numpy():
    x = np.array([[5, 1], [1, 7]])
    y = np.array([7, 0, 0, 2])
    got = union1d(da.from_array(x, chunks=1), da.from_array(y, chunks=3))
    assert got.chunks == ((np.nan,),) or np.isnan(got.chunks[0][0])
    np.testing.assert_array_equal(got.compute(), np.union1d(x, y))


# -- laziness -------------------------------------------------------------------------


def _boom(block):
    raise RuntimeError("computed")


@pytest.mark.parametrize(
    "build",
    [
        lambda p: histogram(p, bins=3, range=(0, 1))[0],
        lambda p: histogram(p, bins=[0, 1, 2], weights=p, density=True)[0],
        lambda p: histogram(p, bins=p, density=True)[0],
        lambda p: histogram(p, bins=2, range=(p.min(), p.max()), density=True)[0],
        lambda p: histogramdd([p, p], bins=2, range=[(0, 1), (0, 1)])[0],
        lambda p: histogram2d(p, p, bins=[0, 1, 2])[0],
        lambda p: bincount(p.astype(int), minlength=3),
        lambda p: digitize(p, [0, 1]),
        lambda p: searchsorted(p, p),
        lambda p: isin(p, p),
        lambda p: unique(p, True, True, True)[0],
        lambda p: unique(p, return_inverse=True)[1],
        lambda p: union1d(p, p),
    ],
)
def test_functions_are_lazy(build):
    poisoned = da.from_array(np.ones(6), chunks=2).map_blocks(_boom, dtype="f8")
    with pytest.raises(RuntimeError, match="computed"):
        build(poisoned).compute()
