"""taskloom.array.fft against numpy.fft (values) and dask.array.fft (chunks, dtype,
errors), on random shapes and chunkings (#15)."""

from __future__ import annotations

import warnings

import dask.array as dd
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom.array as da

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ONE_AXIS = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
MANY_AXES = ["fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn", "rfftn", "irfftn"]


@st.composite
def chunking(draw, n: int) -> tuple[int, ...]:
    """Uneven blocks of an axis of length ``n`` (single-element blocks included)."""
    if n <= 1:
        return (n,)
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=n - 1)))
    return tuple(b - a for a, b in zip([0, *cuts], [*cuts, n], strict=True))


@st.composite
def arrays(draw, min_ndim: int = 1, min_size: int = 0) -> np.ndarray:
    shape = draw(st.lists(st.integers(min_size, 6), min_size=min_ndim, max_size=3))
    dtype = draw(st.sampled_from(["f8", "f4", "c16", "i4"]))
    seed = draw(st.integers(0, 2**16))
    a = np.random.default_rng(seed).standard_normal(shape) * 10
    if np.dtype(dtype).kind == "c":
        a = a + 1j * np.random.default_rng(seed + 1).standard_normal(shape)
    return a.astype(dtype)


def both(a: np.ndarray, chunks: tuple) -> tuple[da.Array, dd.Array]:
    return da.from_array(a, chunks=chunks), dd.from_array(a, chunks=chunks)


def check(ours: da.Array, theirs: dd.Array, expected: np.ndarray) -> None:
    assert ours.chunks == theirs.chunks
    assert ours.dtype == theirs.dtype
    got = ours.compute()
    assert got.shape == ours.shape == expected.shape
    assert got.dtype == ours.dtype
    tol = 1e-4 if ours.dtype in (np.complex64, np.float32) else 1e-9
    np.testing.assert_allclose(
        got, expected, rtol=tol, atol=tol * max(1, np.abs(expected).max(initial=0))
    )


@SETTINGS
@given(data=st.data())
def test_one_axis_transforms_match_numpy_and_dask(data):
    kind = data.draw(st.sampled_from(ONE_AXIS))
    a = data.draw(arrays())
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    if kind in ("rfft", "ihfft") and a.dtype.kind == "c":
        a = a.real.copy()
    chunks = tuple(
        (n,) if k == axis % a.ndim else data.draw(chunking(n)) for k, n in enumerate(a.shape)
    )
    n = data.draw(st.one_of(st.none(), st.integers(1, 9)))
    norm = data.draw(st.sampled_from([None, "ortho", "forward", "backward"]))
    m = a.shape[axis]
    points = n if n is not None else (2 * (m - 1) if kind in ("irfft", "hfft") else m)
    x, X = both(a, chunks)
    if points < 1:
        with pytest.raises(ValueError, match="data points"):
            getattr(da.fft, kind)(x, n=n, axis=axis, norm=norm)
        return
    expected = getattr(np.fft, kind)(a, n=n, axis=axis, norm=norm)
    ours = getattr(da.fft, kind)(x, n=n, axis=axis, norm=norm)
    check(ours, getattr(dd.fft, kind)(X, n=n, axis=axis, norm=norm), expected)


@SETTINGS
@given(data=st.data())
def test_many_axes_transforms_match_numpy_and_dask(data):
    kind = data.draw(st.sampled_from(MANY_AXES))
    a = data.draw(arrays(min_ndim=2, min_size=1))
    if kind.startswith("rfft") and a.dtype.kind == "c":
        a = a.real.copy()
    if kind.endswith("2"):
        axes = data.draw(st.sampled_from([None, (0, 1), (1, 0), (-1, 0)]))
        picked = (-2, -1) if axes is None else axes
    else:
        axes = data.draw(st.one_of(st.none(), st.permutations(range(a.ndim)).map(tuple)))
        picked = tuple(range(a.ndim)) if axes is None else axes
    if axes is not None and data.draw(st.booleans()):
        axes = axes[: data.draw(st.integers(1, len(axes)))]
        picked = axes
    s = data.draw(st.one_of(st.none(), st.lists(st.integers(2, 7), min_size=len(picked),
                                                max_size=len(picked)).map(tuple)))  # fmt: skip
    if s is not None and axes is None:
        axes = picked
    transformed = {p % a.ndim for p in picked}
    chunks = tuple(
        (n,) if k in transformed else data.draw(chunking(n)) for k, n in enumerate(a.shape)
    )
    if kind.startswith("irfft") and s is None and a.shape[picked[-1]] == 1:
        with pytest.raises(ValueError, match="data points"):
            getattr(da.fft, kind)(da.from_array(a, chunks=chunks), s=s, axes=axes)
        return
    x, X = both(a, chunks)
    # numpy reads an explicit axes=None of fft2 as every axis; Dask (and we) as the default
    expected = getattr(np.fft, kind)(a, s=s, axes=picked if axes is None else axes)
    ours = getattr(da.fft, kind)(x, s=s, axes=axes)
    check(ours, getattr(dd.fft, kind)(X, s=s, axes=axes), expected)


@pytest.mark.parametrize("kind", ONE_AXIS + MANY_AXES)
def test_several_blocks_on_a_transformed_axis_is_an_error_with_the_rechunk_call(kind):
    a = np.ones((4, 6))
    x, X = both(a, (2, 3))
    with pytest.raises(ValueError):  # as Dask
        getattr(dd.fft, kind)(X)
    hint = r"\{1: -1\}" if kind in ONE_AXIS else r"\{0: -1, 1: -1\}"
    with pytest.raises(ValueError, match=r"x\.rechunk\(" + hint + r"\)"):
        getattr(da.fft, kind)(x)
    y = da.from_array(a, chunks=(2, 6))
    if kind in ONE_AXIS:  # the last axis is one block: fine
        getattr(da.fft, kind)(y)
        with pytest.raises(ValueError, match=r"x\.rechunk\(\{0: -1\}\)"):
            getattr(da.fft, kind)(y, axis=0)
    else:
        with pytest.raises(ValueError, match=r"x\.rechunk\(\{0: -1\}\)"):
            getattr(da.fft, kind)(y)


def test_bad_axes_are_errors():
    x = da.from_array(np.ones((4, 6)), chunks=-1)
    with pytest.raises(ValueError, match="Duplicate axes"):
        da.fft.fftn(x, axes=(0, -2))
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        da.fft.fft(x, axis=2)
    with pytest.raises(ValueError, match="same length"):
        da.fft.fftn(x, s=(3,), axes=(0, 1))
    with pytest.raises(ValueError, match="unknown `kind` foo"):
        da.fft.fft_wrap(np.fft.fft, kind="foo")


def test_s_without_axes_takes_the_last_axes_with_numpys_warning():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = da.from_array(a, chunks=(1, -1, -1))
    with pytest.warns(DeprecationWarning):
        y = da.fft.fftn(x, s=(2, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = np.fft.fftn(a, s=(2, 5))
    assert y.chunks == ((1, 1), (2,), (5,))
    np.testing.assert_allclose(y.compute(), expected)


def test_transforms_are_lazy_and_fft_wrap_takes_dtype():
    calls = []

    def counting_fft(a, n=None, axis=-1, norm=None):
        calls.append(a.shape)
        return np.fft.fft(a, n, axis, norm)

    wrapped = da.fft.fft_wrap(counting_fft, kind="fft", dtype="c8")
    x = da.from_array(np.arange(12.0).reshape(3, 4), chunks=(1, 4))
    y = wrapped(x, n=6)
    assert calls == [] and y.dtype == np.complex64 and y.chunks == ((1, 1, 1), (6,))
    y.compute()
    assert sorted(calls) == [(1, 4)] * 3
    assert wrapped.__name__ == "counting_fft" and "Examples" in wrapped.__doc__


@SETTINGS
@given(n=st.integers(1, 40), d=st.floats(0.01, 10), chunk=st.integers(1, 9))
def test_frequencies_equal_numpys(n, d, chunk):
    for name in ["fftfreq", "rfftfreq"]:
        ours = getattr(da.fft, name)(n, d, chunks=chunk)
        theirs = getattr(dd.fft, name)(n, d, chunks=chunk)
        got = ours.compute()
        np.testing.assert_array_equal(got, getattr(np.fft, name)(n, d))
        assert ours.chunks == theirs.chunks and ours.dtype == got.dtype == theirs.dtype


@SETTINGS
@given(data=st.data())
def test_shifts_match_numpy_and_dasks_chunks(data):
    a = data.draw(arrays())
    chunks = tuple(data.draw(chunking(n)) for n in a.shape)
    axes = data.draw(
        st.one_of(
            st.none(),
            st.integers(-a.ndim, a.ndim - 1),
            st.lists(st.integers(0, a.ndim - 1), max_size=a.ndim, unique=True).map(tuple),
        )
    )
    x, X = both(a, chunks)
    for name in ["fftshift", "ifftshift"]:
        ours = getattr(da.fft, name)(x, axes=axes)
        got = ours.compute()
        np.testing.assert_array_equal(got, getattr(np.fft, name)(a, axes=axes))
        assert got.shape == ours.shape and got.dtype == ours.dtype
        if 0 not in a.shape:
            assert ours.chunks == getattr(dd.fft, name)(X, axes=axes).chunks


def test_shift_keeps_blocks_small():
    x = da.from_array(np.arange(100), chunks=10)
    y = da.fft.fftshift(x)
    assert max(y.chunks[0]) == 10
    np.testing.assert_array_equal(da.fft.ifftshift(y).compute(), np.arange(100))


class Source:
    """An array-like that counts the reads of its elements."""

    def __init__(self, a: np.ndarray) -> None:
        self.a, self.shape, self.dtype, self.ndim, self.reads = a, a.shape, a.dtype, a.ndim, 0

    def __getitem__(self, index):
        self.reads += 1
        return self.a[index]


def test_every_function_builds_a_graph_and_reads_nothing():
    a = np.arange(24.0).reshape(4, 6)
    src = Source(a)
    x = da.from_array(src, chunks=(2, 6))
    built = [da.fft.rfft(x), da.fft.fftshift(x), da.fft.ifftshift(x, axes=0)]
    built.append(da.fft.fft2(x.rechunk(-1), s=(3, 3)))
    assert src.reads == 0
    np.testing.assert_array_equal(built[1].compute(), np.fft.fftshift(a))
    assert src.reads > 0
