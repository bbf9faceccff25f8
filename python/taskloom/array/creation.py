"""Arrays made block by block, without a source array: each block is created by its own
task, so ``ones((10**5, 10**5), chunks=1000)[:10, :10]`` touches one block. Constant
blocks are read-only broadcast views (as in Dask); ``compute()`` returns a real array."""

from __future__ import annotations

from typing import Any

import numpy as np

from taskloom.array.core import Array, _block_slices, _offsets, normalize_chunks
from taskloom.tokenize import tokenize


def _shape_of(shape: Any) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    if any(not isinstance(s, int | np.integer) or s < 0 for s in shape):
        raise ValueError(f"shape must be non-negative integers, got {shape}")
    return tuple(int(s) for s in shape)


def _filled(fill: Any, dtype: Any, block_shape: tuple) -> np.ndarray:
    # One element broadcast to the block's shape, as Dask does: no memory is filled
    # until an operation makes a real array out of it (blocks are read-only views).
    return np.broadcast_to(np.full((), fill, dtype=dtype), block_shape)


def full(shape: Any, fill_value: Any, dtype: Any = None, chunks: Any = "auto") -> Array:
    """An array of ``fill_value``.

    Examples
    --------
    >>> full((3,), 7, chunks=2).compute()
    array([7, 7, 7])
    """
    shape = _shape_of(shape)
    dtype = np.dtype(dtype) if dtype is not None else np.asarray(fill_value).dtype
    chunks = normalize_chunks(chunks, shape, dtype)
    name = f"full-{tokenize(shape, fill_value, dtype, chunks)}"
    layer = {
        (name, *idx): (_filled, fill_value, dtype, tuple(s.stop - s.start for s in slc))
        for idx, slc in _block_slices(chunks)
    }
    return Array({name: layer}, name, chunks, dtype)


def ones(shape: Any, dtype: Any = "f8", chunks: Any = "auto") -> Array:
    """An array of ones."""
    return full(shape, 1, dtype=dtype, chunks=chunks)


def zeros(shape: Any, dtype: Any = "f8", chunks: Any = "auto") -> Array:
    """An array of zeros."""
    return full(shape, 0, dtype=dtype, chunks=chunks)


def empty(shape: Any, dtype: Any = "f8", chunks: Any = "auto") -> Array:
    """An array whose values are not defined (zeros here)."""
    return full(shape, 0, dtype=dtype, chunks=chunks)


def _arange_block(start: Any, step: Any, first: int, n: int, dtype: Any) -> np.ndarray:
    return (start + step * np.arange(first, first + n)).astype(dtype)


def arange(*args: Any, chunks: Any = "auto", dtype: Any = None) -> Array:
    """``numpy.arange`` in blocks.

    Examples
    --------
    >>> arange(2, 11, 3, chunks=2).compute()
    array([2, 5, 8])
    """
    ref = np.arange(*args[:3]) if len(args) <= 3 else None
    if ref is None:
        raise TypeError("arange takes at most 3 positional arguments")
    start = args[0] if len(args) > 1 else 0
    step = args[2] if len(args) > 2 else 1
    dtype = np.dtype(dtype) if dtype is not None else ref.dtype
    return _ramp("arange", args, start, step, len(ref), chunks, dtype)


def linspace(
    start: float,
    stop: float,
    num: int = 50,
    endpoint: bool = True,
    chunks: Any = "auto",
    dtype: Any = None,
) -> Array:
    """``num`` evenly spaced values, as ``numpy.linspace``.

    Examples
    --------
    >>> linspace(0, 1, 5, chunks=2).compute()
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    if num < 0:
        raise ValueError(f"num must be non-negative, got {num}")
    div = (num - 1) if endpoint else num
    step = (stop - start) / div if div > 0 else 0.0
    dtype = np.dtype(dtype) if dtype is not None else np.result_type(start, stop, float)
    return _ramp("linspace", (start, stop, num, endpoint), start, step, num, chunks, dtype)


def _ramp(
    prefix: str, what: tuple, start: Any, step: Any, n: int, chunks: Any, dtype: np.dtype
) -> Array:
    """``start + step * i`` for ``i`` in ``range(n)``, each block made by its own task."""
    chunks = normalize_chunks(chunks, (n,), dtype)
    name = f"{prefix}-{tokenize(what, dtype, chunks)}"
    offsets = _offsets(chunks[0])
    layer = {
        (name, i): (_arange_block, start, step, offsets[i], chunks[0][i], dtype)
        for i in range(len(chunks[0]))
    }
    return Array({name: layer}, name, chunks, dtype)
