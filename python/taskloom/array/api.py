"""Chunk normalization at Dask's ``dask.array.api`` path, with a cached form for callers
that normalize the same chunks many times (see :mod:`taskloom.array.chunks`)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from taskloom.array.chunks import normalize_chunks

__all__ = ["normalize_chunks", "normalize_chunks_cached"]


@lru_cache(maxsize=1024)
def _cached(chunks: Any, shape: Any, limit: Any, dtype: Any, previous_chunks: Any) -> tuple:
    return normalize_chunks(
        chunks, shape, dtype=dtype, limit=limit, previous_chunks=previous_chunks
    )


def normalize_chunks_cached(
    chunks: Any,
    shape: Any = None,
    limit: Any = None,
    dtype: Any = None,
    previous_chunks: Any = None,
) -> tuple[tuple[int, ...], ...]:
    """:func:`normalize_chunks` with its answers cached, for hashable arguments (as
    Dask's): the same chunks normalized again cost a dictionary lookup.

    Examples
    --------
    >>> normalize_chunks_cached((2, 2), (4, 3))
    ((2, 2), (2, 1))
    """
    return _cached(chunks, shape, limit, dtype, previous_chunks)
