"""Helpers at Dask's ``dask.array.utils`` path: the empty "meta" array that stands for a
block's type, dtype and number of dimensions without any data."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["meta_from_array"]


def meta_from_array(x: Any, ndim: int | None = None, dtype: Any = None) -> Any:
    """An empty array of ``x``'s array type, with ``ndim`` dimensions and ``dtype``.

    ``x`` may be an array (numpy, a numpy subclass such as a masked array, a taskloom
    array, whose blocks are numpy arrays), an array type, a scalar or None (numpy); by
    default ``ndim`` and ``dtype`` are ``x``'s.

    Examples
    --------
    >>> m = meta_from_array(np.ma.masked_array([1.0, 2.0]), ndim=2)
    >>> type(m).__name__, m.shape, m.dtype
    ('MaskedArray', (0, 0), dtype('float64'))
    """
    from taskloom.array.core import Array

    if x is None:
        x = np.ndarray
    if isinstance(x, type):
        x = x(shape=(0,) * (ndim or 0), dtype=dtype) if issubclass(x, np.ndarray) else np.empty(0)
    if isinstance(x, Array):
        x = np.empty((0,) * x.ndim, dtype=x.dtype)
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        x = np.asarray(x)
    if ndim is None:
        ndim = x.ndim
    meta = x[tuple(slice(0, 0) for _ in range(min(x.ndim, ndim)))]
    if meta.ndim < ndim:
        meta = meta.reshape(meta.shape + (0,) * (ndim - meta.ndim))
    elif meta.ndim > ndim:
        meta = meta.reshape(meta.shape[:ndim]) if ndim else meta.sum()
    if isinstance(meta, np.generic):  # indexing a 0-d array gives a scalar
        meta = np.asarray(meta)
    if dtype is not None and meta.dtype != np.dtype(dtype):
        meta = meta.astype(dtype)
    return meta
