"""Fast Fourier transforms of blocked arrays, as ``dask.array.fft``.

This module owns the wrapping of numpy-like FFT functions (:func:`fft_wrap`), the
transforms built with it (``fft`` ... ``ihfft``), the lazy frequency ramps
(``fftfreq``, ``rfftfreq``) and the shifts (``fftshift``, ``ifftshift``).

Policies, as Dask's: a transform runs block by block (one ``map_blocks`` call), so every
transformed axis must be a single block; otherwise a ``ValueError`` says which
``rechunk`` call makes it one. Output chunks and dtype are Dask's (the transformed axes
get one block of the output length; the dtype is the function's on a small sample).
``fftshift``/``ifftshift`` never merge blocks: they join two slices of the array.
"""

from __future__ import annotations

import builtins
import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from taskloom.array.core import Array, _check_axis, asarray
from taskloom.array.creation import arange
from taskloom.array.routines import concatenate

__all__ = [
    "fft", "fft2", "fft_wrap", "fftfreq", "fftn", "fftshift", "hfft", "ifft", "ifft2",
    "ifftn", "ifftshift", "ihfft", "irfft", "irfft2", "irfftn", "rfft", "rfft2",
    "rfftfreq", "rfftn",
]  # fmt: skip


def _out_length(kind: str, m: int, n: int | None, last: bool) -> tuple[int, int]:
    """(data points of the transform, output length) along one axis of input length
    ``m``, for ``n`` (an entry of ``s``) or None; ``last``: the last transformed axis,
    the one a real transform halves or doubles."""
    if kind in ("irfft", "hfft") and last:
        points = n if n is not None else 2 * (m - 1)
        return points, points
    points = n if n is not None else m
    if kind in ("rfft", "ihfft") and last:
        return points, points // 2 + 1
    return points, points


def _chunk_error(a: Array, axes: tuple) -> ValueError:
    split = [ax for ax in axes if len(a.chunks[ax]) != 1]
    hint = ", ".join(f"{ax}: -1" for ax in split)
    where = "; ".join(f"axis {ax} has chunks {a.chunks[ax]}" for ax in split)
    return ValueError(
        "taskloom.array only supports taking an FFT along axes that have a single "
        f"chunk each, but {where}. To make them one chunk use x.rechunk({{{hint}}})."
    )


def _docstring(name: str, kind: str, func_fullname: str) -> str:
    if kind.endswith("fft"):
        signature, chunks = "n=None, axis=None, norm=None", "(2, 6)"
        what = "``n`` points along ``axis`` (default: the last axis), which must be one block"
    else:
        signature, chunks = "s=None, axes=None, norm=None", "-1"
        what = "the points ``s`` along ``axes``, each of which must be one block"
    return f"""``{func_fullname}`` of a blocked array, lazily, as ``dask.array.fft.{kind}``.

    ``{name}(a, {signature})`` transforms {what}; the other axes keep their blocks.
    The arguments are numpy's.

    Returns
    -------
    Array
        The transformed axes are one block of the output length; the dtype is the one
        the function returns.

    Raises
    ------
    ValueError
        If a transformed axis has several blocks (the message gives the ``rechunk``
        call that fixes it), for duplicate axes, or for fewer than one data point.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> a = np.arange(24.0).reshape(4, 6)
    >>> x = da.from_array(a, chunks={chunks})
    >>> np.allclose(da.fft.{name}(x).compute(), np.fft.{name}(a))
    True
    """


def fft_wrap(
    fft_func: Callable, kind: str | None = None, dtype: Any = None, allow_fftpack: bool = False
) -> Callable:
    """A blocked-array version of a numpy-like FFT function, as Dask's ``fft_wrap``.

    Parameters
    ----------
    fft_func
        A function with the signature of its ``numpy.fft`` namesake.
    kind
        Which ``numpy.fft`` function ``fft_func`` behaves like (``"fft"``, ``"fft2"``,
        ``"fftn"``, ``"ifft"``... ``"hfft"``, ``"ihfft"``); default its name.
    dtype
        The result's dtype; default: ``fft_func``'s on a small sample.
    allow_fftpack
        Accept ``scipy.fftpack`` functions without a ``FutureWarning`` (they get no
        ``norm``).

    Returns
    -------
    callable
        ``f(a, n=None, axis=None, norm=None)`` for one-axis kinds,
        ``f(a, s=None, axes=None, norm=None)`` for the others.

    Raises
    ------
    ValueError
        For an unknown ``kind``.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> parallel_fft = fft_wrap(np.fft.fft)
    >>> x = da.from_array(np.ones((4, 3)), chunks=(2, 3))
    >>> parallel_fft(x).compute()[0]
    array([3.+0.j, 0.+0.j, 0.+0.j])
    """
    module = getattr(fft_func, "__module__", None) or ""
    fftpack = module.startswith("scipy.fftpack")
    if fftpack and not allow_fftpack:
        warnings.warn(
            f"Function {fft_func.__name__} from `scipy.fftpack` does not match NumPy's API "
            "and is considered legacy. Please use `scipy.fft` instead. To suppress this "
            "warning and allow usage, set `allow_fftpack=True`.",
            FutureWarning,
            stacklevel=2,
        )
    kind = kind if kind is not None else fft_func.__name__
    base = kind.rstrip("2n")
    if base not in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft"):
        raise ValueError(f"Given unknown `kind` {kind}.")
    one_axis = kind.endswith("fft")

    def transform(a: Any, s: Any = None, axes: Any = None, norm: str | None = None) -> Array:
        a = asarray(a)
        if axes is None:
            if kind.endswith("2"):
                axes = (-2, -1)
            elif kind.endswith("n"):
                if s is None:
                    axes = tuple(builtins.range(a.ndim))
                else:  # numpy 2's reading (the last len(s) axes) and its warning
                    warnings.warn(
                        "`axes` should not be `None` if `s` is not `None` "
                        "(Deprecated in NumPy 2.0)",
                        DeprecationWarning,
                        stacklevel=3,
                    )
                    axes = tuple(builtins.range(-len(s), 0))
            else:
                axes = (-1,)
        axes = tuple(_check_axis(ax, a.ndim) for ax in axes)
        if len(set(axes)) < len(axes):
            raise ValueError(f"Duplicate axes not allowed: axes={axes}.")
        if s is not None and len(s) != len(axes):
            raise ValueError(f"s={tuple(s)} and axes={axes} must have the same length, when given")
        if any(len(a.chunks[ax]) != 1 for ax in axes):
            raise _chunk_error(a, axes)
        chunks = list(a.chunks)
        for i, ax in enumerate(axes):
            n = None if s is None else int(s[i])
            points, length = _out_length(base, a.shape[ax], n, i == len(axes) - 1)
            if points < 1:
                raise ValueError(
                    f"Invalid number of FFT data points ({points}) specified along axis "
                    f"{ax}: give {'n' if one_axis else 's'}= of at least 1"
                )
            chunks[ax] = (length,)
        out_dtype = dtype
        if out_dtype is None:
            sample = np.ones(a.ndim * (8,), dtype=a.dtype)
            try:
                out_dtype = fft_func(sample, axes=axes, norm=norm).dtype
            except TypeError:  # one-axis functions take no axes=
                out_dtype = fft_func(sample).dtype
        if one_axis:
            args: tuple = (None if s is None else s[0], axes[0])
        else:
            args = (None if s is None else tuple(s), axes)
        if not fftpack:
            args = (*args, norm)
        return a.map_blocks(fft_func, *args, dtype=out_dtype, chunks=tuple(chunks))

    func: Callable
    if one_axis:

        def func(a: Any, n: int | None = None, axis: int | None = None, norm: str | None = None):
            return transform(
                a,
                None if n is None else (n,),
                None if axis is None else (axis,),
                norm,
            )

    else:
        func = transform
    name = fft_func.__name__
    func_module = inspect.getmodule(fft_func)
    prefix = func_module.__name__ if func_module is not None else module
    func.__name__ = func.__qualname__ = name
    func.__doc__ = _docstring(name, kind, f"{prefix}.{name}")
    return func


fft = fft_wrap(np.fft.fft)
fft2 = fft_wrap(np.fft.fft2)
fftn = fft_wrap(np.fft.fftn)
ifft = fft_wrap(np.fft.ifft)
ifft2 = fft_wrap(np.fft.ifft2)
ifftn = fft_wrap(np.fft.ifftn)
rfft = fft_wrap(np.fft.rfft)
rfft2 = fft_wrap(np.fft.rfft2)
rfftn = fft_wrap(np.fft.rfftn)
irfft = fft_wrap(np.fft.irfft)
irfft2 = fft_wrap(np.fft.irfft2)
irfftn = fft_wrap(np.fft.irfftn)
hfft = fft_wrap(np.fft.hfft)
ihfft = fft_wrap(np.fft.ihfft)


def _fftfreq_block(i: np.ndarray, n: int, val: float) -> np.ndarray:
    # numpy's own arithmetic (integer ramp times 1/(n*d)), so the values are identical
    return np.where(i < (n + 1) // 2, i, i - n) * val


def fftfreq(n: int, d: float = 1.0, chunks: Any = "auto") -> Array:
    """``numpy.fft.fftfreq`` in blocks: the sample frequencies of an ``n``-point FFT
    with sample spacing ``d``.

    Examples
    --------
    >>> fftfreq(5, d=0.5, chunks=2).compute()
    array([ 0. ,  0.4,  0.8, -0.8, -0.4])
    """
    n, d = int(n), float(d)
    val = 1.0 / (n * d)
    ramp = arange(n, chunks=chunks, dtype=int)
    return ramp.map_blocks(_fftfreq_block, n=n, val=val, dtype=float)


def rfftfreq(n: int, d: float = 1.0, chunks: Any = "auto") -> Array:
    """``numpy.fft.rfftfreq`` in blocks: the ``n // 2 + 1`` non-negative sample
    frequencies of an ``n``-point real FFT with sample spacing ``d``.

    Examples
    --------
    >>> rfftfreq(5, d=0.5, chunks=2).compute()
    array([0. , 0.4, 0.8])
    """
    n, d = int(n), float(d)
    val = 1.0 / (n * d)
    return arange(n // 2 + 1, chunks=chunks, dtype=int) * val


def _shift(x: Any, axes: Any, inverse: bool) -> Array:
    x = asarray(x)
    if axes is None:
        axes = tuple(builtins.range(x.ndim))
    elif not isinstance(axes, Sequence):
        axes = (axes,)
    y = x
    for axis in (_check_axis(a, x.ndim) for a in axes):
        n = y.shape[axis]
        if n == 0:  # nothing to move; joining two empty slices would add a block
            continue
        half = (n + (not inverse)) // 2
        head = tuple(slice(None, half) if k == axis else slice(None) for k in range(y.ndim))
        tail = tuple(slice(half, None) if k == axis else slice(None) for k in range(y.ndim))
        y = concatenate([y[tail], y[head]], axis=axis)
        if len(x.chunks[axis]) == 1:  # as Dask: one block stays one block
            y = y.rechunk({axis: x.chunks[axis]})
    return y


def fftshift(x: Any, axes: int | Sequence[int] | None = None) -> Array:
    """``numpy.fft.fftshift``: the zero-frequency term moved to the centre of ``axes``
    (default all), by joining two slices (blocks are never merged).

    Examples
    --------
    >>> import taskloom.array as da
    >>> fftshift(da.arange(5, chunks=2)).compute()
    array([3, 4, 0, 1, 2])
    """
    return _shift(x, axes, inverse=False)


def ifftshift(x: Any, axes: int | Sequence[int] | None = None) -> Array:
    """``numpy.fft.ifftshift``, the inverse of :func:`fftshift`.

    Examples
    --------
    >>> import taskloom.array as da
    >>> ifftshift(da.arange(5, chunks=2)).compute()
    array([2, 3, 4, 0, 1])
    """
    return _shift(x, axes, inverse=True)
