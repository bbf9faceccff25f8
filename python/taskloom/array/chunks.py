"""Chunk normalization: every form of ``chunks=`` Dask accepts, turned into block sizes.

This module owns the rules, and nothing else in :mod:`taskloom.array` re-implements
them: :func:`normalize_chunks` (creation functions, ``from_array``, ``map_blocks``),
:func:`auto_chunks` (``"auto"`` and byte-size entries, Dask's algorithm, including its
use of the previous chunks when rechunking) and :func:`rechunk_chunks` (``rechunk``'s
own reading of a dict or tuple, where a left-out axis or ``None`` keeps the axis's
current blocks). Errors name the axis at fault.

Unknown block sizes (NaN, after boolean-mask indexing and its kin) are Dask's: they are
carried as :data:`math.nan` (one object, so equal chunk tuples compare equal), and
whatever needs a size raises ``ValueError`` with :data:`UNKNOWN_CHUNK_MESSAGE`.
"""

from __future__ import annotations

import math
import numbers
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "AUTO_BYTES", "UNKNOWN_CHUNK_MESSAGE", "auto_chunks", "balance_chunks", "has_unknown",
    "normalize_chunks", "rechunk_chunks", "require_known",
]  # fmt: skip

# Dask's own wording, so that users find the same advice.
UNKNOWN_CHUNK_MESSAGE = (
    "\n\n"
    "A possible solution: "
    "https://docs.dask.org/en/latest/array-chunks.html#unknown-chunks\n"
    "Summary: to compute chunks sizes, use\n\n"
    "   x.compute_chunk_sizes()  # for Dask Array `x`\n"
    "   ddf.to_dask_array(lengths=True)  # for Dask DataFrame `ddf`"
)


def all_ints(sizes: Sequence[Any]) -> bool:
    """Whether every item is an exact ``int``, read at C speed (one type check per
    distinct type, not a Python step per block).

    Examples
    --------
    >>> all_ints((2, 2, 1)), all_ints((2, math.nan)), all_ints((True,))
    (True, False, False)
    """
    return set(map(type, sizes)) <= {int}


def has_unknown(chunks: Sequence[Any]) -> bool:
    """Whether block sizes (one axis's, or a tuple of axes') hold an unknown (NaN) size.

    Examples
    --------
    >>> has_unknown(((2, 2), (math.nan,))), has_unknown((3, 1))
    (True, False)
    """
    if all_ints(chunks):  # block sizes all known
        return False
    return any(has_unknown(c) if isinstance(c, tuple) else c != c for c in chunks)


def require_known(chunks: tuple, what: str) -> None:
    """Raise Dask's ``ValueError`` if any block size is unknown: ``what`` needs them."""
    if has_unknown(chunks):
        raise ValueError(
            f"{what} needs known chunk sizes, but they are unknown: {chunks}{UNKNOWN_CHUNK_MESSAGE}"
        )


AUTO_BYTES = 128 * 2**20  # Dask's default array.chunk-size
CHUNKSIZE_TOLERANCE = 1.25  # Dask's default array.chunk-size-tolerance

_UNITS = {
    "": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
    "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
    "tib": 2**40, "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40,
}  # fmt: skip


def parse_bytes(text: str) -> int:
    """A byte size such as ``"100 MiB"`` or ``"1kB"`` as an int (Dask's units).

    Examples
    --------
    >>> parse_bytes("1kiB"), parse_bytes("2 MB"), parse_bytes("512")
    (1024, 2000000, 512)
    """
    m = re.fullmatch(r"\s*([0-9.]*(?:e[+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    unit = m.group(2).lower() if m else None
    if m is None or unit not in _UNITS:
        raise ValueError(f"{text!r} is neither 'auto' nor a byte size such as '100 MiB'")
    return int(float(m.group(1) or 1) * _UNITS[unit])


def _is_int(c: Any) -> bool:
    return isinstance(c, numbers.Integral) and not isinstance(c, bool)


def _blocks_of(size: int, dim: int) -> tuple[int, ...]:
    if dim == 0:
        return (0,)
    full, rest = divmod(dim, size)
    return (size,) * full + ((rest,) if rest else ())


def _round_to(c: float, s: int) -> int:
    """A block size near ``c`` aligned with ``s``: ``c`` itself (at least 1) when
    smaller, else the largest multiple of ``s`` below it (Dask's ``round_to``)."""
    return max(1, int(c)) if c <= s else int(c // s * s)


def auto_chunks(
    chunks: Sequence[Any],
    shape: Sequence[int],
    limit: int | str | None,
    dtype: Any,
    previous_chunks: Sequence[Sequence[int]] | None = None,
) -> tuple[Any, ...]:
    """Replace the ``"auto"`` entries of ``chunks`` by block sizes giving blocks of about
    ``limit`` bytes, as Dask does.

    Without ``previous_chunks`` the auto axes share the budget evenly (an axis shorter
    than its share is taken whole); with them (rechunking), the new blocks are unions
    of the old ones, growing each auto axis by the same factor.

    Examples
    --------
    >>> auto_chunks(("auto", 10), (1000, 10), 800, "f8")
    (10, 10)
    >>> auto_chunks(("auto",), (100,), 400, "f8", previous_chunks=((10,) * 10,))
    ((50, 50),)
    """
    dtype = np.dtype(dtype) if dtype is not None else np.dtype("f8")
    chunks = list(chunks)
    autos = {i for i, c in enumerate(chunks) if c == "auto"}
    if not autos:
        return tuple(chunks)
    limit = AUTO_BYTES if limit is None else limit
    limit = parse_bytes(limit) if isinstance(limit, str) else int(limit)
    limit = max(1, limit)
    if dtype.hasobject:
        raise NotImplementedError(
            "'auto' chunks cannot be used with object dtype: the size of its items is unknown"
        )
    if dtype.itemsize == 0:
        raise ValueError(f"'auto' chunks cannot be used with dtype {dtype} of size 0")
    largest_block = math.prod(c if _is_int(c) else max(c) for c in chunks if c != "auto")
    if previous_chunks:
        previous = [  # a source's own block shape (h5py, zarr) is one int per axis
            tuple(c) if isinstance(c, tuple | list) else _blocks_of(int(c), s)
            for c, s in zip(previous_chunks, shape, strict=True)
        ]
        return _auto_from_previous(chunks, autos, shape, limit, dtype, largest_block, previous)
    size = (limit / dtype.itemsize / largest_block) ** (1 / len(autos))
    small = [i for i in autos if shape[i] < size]
    if small:
        for i in small:
            chunks[i] = (shape[i],)
        return auto_chunks(chunks, shape, limit, dtype)
    for i in autos:
        chunks[i] = _round_to(size, shape[i])
    return tuple(chunks)


def _multiplier(limit: int, dtype: np.dtype, largest_block: int, result: dict) -> float:
    sizes = [max(r) if isinstance(r, tuple) else r for r in result.values() if r]
    return limit / dtype.itemsize / largest_block / math.prod(sizes)


def _auto_from_previous(
    chunks: list,
    autos: set,
    shape: Sequence[int],
    limit: int,
    dtype: np.dtype,
    largest_block: int,
    previous: list,
) -> tuple:
    """Dask's ``auto_chunks`` with ``previous_chunks``: the same steps, same results."""
    median = {a: float(np.median(previous[a])) for a in autos}
    result: dict = {}
    multiplier = _multiplier(limit, dtype, largest_block, median)
    if multiplier < 1:
        result = dict(median)
    ideal = []
    for i, s in enumerate(shape):
        mode, count = Counter(previous[i]).most_common(1)[0] if previous[i] else (0, 0)
        ideal.append(mode if mode > 1 and count >= len(previous[i]) / 2 else s)
    remaining = True
    reduce_case = multiplier < 1
    while remaining:
        last_autos = set(autos)
        remaining = False
        for a in sorted(autos):
            proposed = median[a] * multiplier ** (1 / len(last_autos))
            max_chunk = proposed * CHUNKSIZE_TOLERANCE ** (1 / len(last_autos))
            if proposed > shape[a]:  # the whole axis fits
                chunks[a] = shape[a]
                autos.remove(a)
                del median[a]
                remaining = True
                largest_block *= shape[a]
                result[a] = (shape[a],)
                continue
            if reduce_case or max(previous[a]) > max_chunk:
                result[a] = _round_to(proposed, ideal[a])
                if proposed < 1:
                    remaining = True
                    autos.discard(a)
                continue
            merged, current = [], 0
            for c in previous[a]:  # unions of consecutive old blocks up to `proposed`
                if c + current <= proposed:
                    current += c
                else:
                    if current > 0:
                        merged.append(current)
                    current = c
            if current > 0:
                merged.append(current)
            result[a] = tuple(merged)
        if remaining or reduce_case:
            last = multiplier
            multiplier = _multiplier(limit, dtype, largest_block, median)
            if multiplier != last:
                remaining = True
    for k, v in result.items():
        chunks[k] = v or 0
    return tuple(chunks)


def normalize_chunks(
    chunks: Any,
    shape: Sequence[int],
    dtype: Any = None,
    limit: int | str | None = None,
    previous_chunks: Sequence[Sequence[int]] | None = None,
) -> tuple[tuple[int, ...], ...]:
    """Block sizes along each axis, from any of the forms Dask accepts.

    Parameters
    ----------
    chunks
        An int (the block size on every axis), ``-1`` (whole axes), ``"auto"`` (blocks
        of about ``limit`` bytes) or a byte size such as ``"10 MiB"``; a tuple with one
        entry per axis (each an int, ``-1`` or ``None`` for the whole axis, ``"auto"``,
        or the explicit block sizes); a dict ``{axis: entry}`` (left-out axes whole);
        for a 1-d shape, a flat tuple of block sizes.
    shape
        The array's shape.
    dtype
        The item type, for ``"auto"`` (float64 if not given).
    limit
        Bytes per block for ``"auto"``: 128 MiB by default, as Dask.
    previous_chunks
        The current blocks, when rechunking: ``"auto"`` then merges them.

    Returns
    -------
    tuple of tuple of int

    Raises
    ------
    ValueError
        If the chunks do not fit the shape, naming the axis.

    Examples
    --------
    >>> normalize_chunks(4, (10, 3))
    ((4, 4, 2), (3,))
    >>> normalize_chunks(((5, 5), -1), (10, 3))
    ((5, 5), (3,))
    >>> normalize_chunks({1: 2}, (2, 3))
    ((2,), (2, 1))
    >>> normalize_chunks((2, 3), (5,))
    ((2, 3),)
    """
    shape = tuple(int(s) for s in shape)
    ndim = len(shape)
    if chunks is None:
        raise ValueError(
            "chunks=None is not a chunking: give an int, -1, 'auto', a tuple or a dict"
        )
    if isinstance(chunks, np.ndarray):
        chunks = chunks.tolist()
    if isinstance(chunks, list):
        chunks = tuple(chunks)
    if isinstance(chunks, numbers.Number | str):
        chunks = (chunks,) * ndim
    if isinstance(chunks, dict):
        for k in chunks:
            _axis_of(k, ndim)
        chunks = tuple(chunks.get(i, chunks.get(i - ndim)) for i in range(ndim))
    if not isinstance(chunks, tuple):
        raise TypeError(f"chunks must be an int, str, tuple or dict, not {type(chunks).__name__}")
    if not chunks and all(s == 0 for s in shape):
        chunks = ((0,),) * ndim
    if ndim == 1 and len(chunks) > 1 and all(_is_int(c) or isinstance(c, str) for c in chunks):
        chunks = (chunks,)
    if len(chunks) != ndim:
        raise ValueError(
            f"chunks {chunks!r} have {len(chunks)} entries for the {ndim} axes of shape {shape}"
        )
    entries = []
    for i, (c, dim) in enumerate(zip(chunks, shape, strict=True)):
        if c is None or (_is_int(c) and c == -1):
            c = dim
        elif isinstance(c, str) and c != "auto":
            parsed = parse_bytes(c)
            if limit is not None and parsed != (
                parse_bytes(limit) if isinstance(limit, str) else limit
            ):
                raise ValueError(f"axis {i}: chunk bytes {c!r} disagree with limit {limit}")
            limit, c = parsed, "auto"
        elif isinstance(c, float) and c.is_integer():
            c = int(c)
        entries.append(c)
    if "auto" in entries:
        entries = list(auto_chunks(entries, shape, limit, dtype, previous_chunks))
    out = []
    for i, (c, dim) in enumerate(zip(entries, shape, strict=True)):
        if _is_int(c):
            if c <= 0 and dim > 0:
                raise ValueError(f"chunk size along axis {i} must be positive, got {c}")
            out.append(_blocks_of(int(c), dim))
        elif isinstance(c, tuple | list | np.ndarray):
            if len(c) == 0:
                raise ValueError(
                    f"chunks along axis {i} are empty: a zero-length axis is chunks (0,)"
                )
            if not all(_is_int(s) for s in c):
                raise ValueError(f"chunks {tuple(c)} along axis {i} must be integers")
            sizes = tuple(int(s) for s in c)
            if sum(sizes) != dim or any(s < 0 for s in sizes):
                raise ValueError(f"chunks {sizes} along axis {i} do not add up to its length {dim}")
            out.append(sizes)
        else:
            raise ValueError(f"invalid chunks {c!r} for axis {i}")
    return tuple(out)


def _axis_of(axis: Any, ndim: int) -> int:
    if not _is_int(axis):
        raise TypeError(f"chunks dict keys must be integer axes, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(
            f"axis {axis} of the chunks is out of range for {ndim} dimensions"
        )
    return int(axis) % ndim


def rechunk_chunks(
    chunks: Any,
    old: tuple[tuple[int, ...], ...],
    dtype: Any,
    limit: int | str | None = None,
) -> tuple[tuple[int, ...], ...]:
    """The target blocks of ``rechunk(x, chunks)`` for an array with blocks ``old``.

    As Dask's ``rechunk``: in a dict, left-out axes and ``None`` values keep their
    current blocks; in a tuple, ``None`` entries do; ``"auto"`` merges current blocks;
    ``-1`` takes the whole axis; and ``chunks=None`` is an error.

    Examples
    --------
    >>> rechunk_chunks({0: 3}, ((2, 2, 2), (1, 1)), "f8")
    ((3, 3), (1, 1))
    >>> rechunk_chunks((None, -1), ((2, 2, 2), (1, 1)), "f8")
    ((2, 2, 2), (2,))
    """
    ndim = len(old)
    shape = tuple(sum(c) for c in old)
    if isinstance(chunks, dict):
        given = {_axis_of(k, ndim): v for k, v in chunks.items()}
        chunks = tuple(old[i] if given.get(i) is None else given[i] for i in range(ndim))
    elif isinstance(chunks, tuple | list) and len(chunks) == ndim:
        chunks = tuple(o if c is None else c for c, o in zip(chunks, old, strict=True))
    return normalize_chunks(chunks, shape, dtype, limit=limit, previous_chunks=old)


def balance_chunks(chunks: tuple[int, ...]) -> tuple[int, ...]:
    """Block sizes along one axis made as even as possible (``rechunk(balance=True)``,
    Dask's algorithm): a last block under half the largest is merged away.

    Examples
    --------
    >>> balance_chunks((400, 400, 200))
    (500, 500)
    >>> balance_chunks((5, 5, 1))
    (6, 5)
    """
    median = int(np.median(chunks))
    n = len(chunks) - (1 if min(chunks) <= 0.5 * max(chunks) else 0)
    total = sum(chunks)
    candidates = [
        _blocks_of(size, total)
        for size in range(median - median // 2, median + median // 2 + 1)
        if size > 0
    ]
    fitting = [c for c in candidates if len(c) == n]
    if not fitting:
        warnings.warn(
            "chunk size balancing not possible with given chunks. Try increasing the chunk size.",
            stacklevel=3,
        )
        return tuple(chunks)
    return min(fitting, key=lambda c: max(c) - min(c))
