"""Basic indexing of blocked arrays: integers, slices (any step), ``...`` and ``None``.

Each output block is one piece of one input block, so a slice computes only the blocks
it touches: ``x[:2000, :2000]`` of a 100000 x 100000 array reads 4 of 10^4 blocks.
Out-of-range integers raise ``IndexError`` when the expression is built.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from taskloom.array.core import Array, _derive, _offsets, _slice_block
from taskloom.tokenize import tokenize


def _split_fancy(x: Array, index: Any) -> tuple | None:
    """For an index with one integer/boolean array: (the rest as a basic index or None,
    the array's axis, integer positions). None when there is no such array."""
    items = index if isinstance(index, tuple) else (index,)
    where = [k for k, i in enumerate(items) if isinstance(i, list | np.ndarray | Array)]
    if not where:
        return None
    if len(where) > 1 or any(i is Ellipsis or i is None for i in items):
        raise NotImplementedError("only one array index, with slices and no '...' or None")
    k = where[0]
    arr = items[k]
    if isinstance(arr, Array):
        raise NotImplementedError("indexing with a lazy array: compute the index first")
    arr = np.asarray(arr)
    if arr.ndim != 1:
        raise IndexError(f"only 1-d index arrays are supported, got {arr.ndim}-d")
    if any(isinstance(i, int | np.integer) for i in items):
        raise NotImplementedError("an array index mixed with integer indices")
    dim = x.shape[k]
    if arr.dtype == bool:
        if arr.shape[0] != dim:
            raise IndexError(
                f"boolean index of length {arr.shape[0]} does not match axis {k} of length {dim}"
            )
        positions = np.flatnonzero(arr)
    elif np.issubdtype(arr.dtype, np.integer) or arr.size == 0:
        positions = arr.astype("i8")
        bad = (positions < -dim) | (positions >= dim)
        if bad.any():
            raise IndexError(
                f"index {positions[bad][0]} is out of bounds for axis {k} with size {dim}"
            )
        positions = positions % dim if dim else positions
    else:
        raise IndexError(f"arrays used as indices must be integers or booleans, not {arr.dtype}")
    rest = tuple(slice(None) if j == k else i for j, i in enumerate(items))
    return (rest if any(i != slice(None) for i in rest) else None), k, positions


def take(x: Array, positions: np.ndarray, axis: int) -> Array:
    """The elements at integer ``positions`` along ``axis``, in that order: each run of
    positions within one input block becomes one output block."""
    offsets = _offsets(x.chunks[axis])
    blocks = np.searchsorted(offsets, positions, side="right") - 1
    runs: list[tuple[int, np.ndarray]] = []
    for b, p in zip(blocks, positions, strict=True):
        if runs and runs[-1][0] == b:
            runs[-1][1].append(p - offsets[b])
        else:
            runs.append((int(b), [int(p - offsets[b])]))
    name = f"take-{tokenize(x.name, positions, axis)}"
    layer: dict = {}
    other = [range(n) if a != axis else [0] for a, n in enumerate(x.numblocks)]
    if not runs:
        runs = [(0, [])]
    for r, (b, local) in enumerate(runs):
        for idx in np.ndindex(*[len(o) for o in other]):
            src = list(idx)
            src[axis] = b
            out = list(idx)
            out[axis] = r
            layer[(name, *out)] = (_take_block, (x.name, *src), np.asarray(local, dtype="i8"), axis)
    chunks = list(x.chunks)
    chunks[axis] = tuple(len(local) for _, local in runs)
    return _derive(x, name, layer, tuple(chunks), x.dtype)


def _take_block(block: np.ndarray, local: np.ndarray, axis: int) -> np.ndarray:
    return np.take(block, local, axis=axis)


def _normalize_index(index: Any, shape: tuple) -> list:
    if not isinstance(index, tuple):
        index = (index,)
    if builtins.any(isinstance(i, list | np.ndarray | Array) for i in index):
        raise NotImplementedError(
            "indexing with arrays or lists is not supported yet; use slices and integers"
        )
    n_ellipsis = builtins.sum(1 for i in index if i is Ellipsis)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = builtins.sum(1 for i in index if i is not None and i is not Ellipsis)
    if consumed > len(shape):
        raise IndexError(
            f"too many indices for array: array is {len(shape)}-dimensional, "
            f"but {consumed} were indexed"
        )
    out: list = []
    for i in index:
        if i is Ellipsis:
            out.extend([slice(None)] * (len(shape) - consumed))
        else:
            out.append(i)
    if n_ellipsis == 0:
        out.extend([slice(None)] * (len(shape) - consumed))
    return out


def getitem(x: Array, index: Any) -> Array:
    """``x[index]`` for integers, slices, ``...``, ``None``, and one integer or boolean
    numpy array (or list) along one axis."""
    fancy = _split_fancy(x, index)
    if fancy is not None:
        basic, axis, positions = fancy
        return take(getitem(x, basic) if basic is not None else x, positions, axis)
    items = _normalize_index(index, x.shape)
    name = f"getitem-{tokenize(x.name, repr(items))}"
    axis = 0
    per_axis: list[list[tuple[int, Any]]] = []  # per input axis: (block, local index)
    out_chunks: list[tuple[int, ...]] = []
    keep_axis: list[bool] = []
    for item in items:
        if item is None:
            continue
        dim, chunks = x.shape[axis], x.chunks[axis]
        offsets = _offsets(chunks)
        if isinstance(item, int | np.integer):
            i = int(item)
            if not -dim <= i < dim:
                raise IndexError(f"index {item} is out of bounds for axis {axis} with size {dim}")
            i %= dim
            b = next(j for j in builtins.range(len(chunks)) if offsets[j] <= i < offsets[j + 1])
            per_axis.append([(b, i - offsets[b])])
            keep_axis.append(False)
        elif isinstance(item, slice):
            start, stop, step = item.indices(dim)
            picked = []
            sizes = []
            order = (
                builtins.range(len(chunks)) if step > 0 else reversed(builtins.range(len(chunks)))
            )
            for b in order:
                lo, hi = offsets[b], offsets[b + 1]
                local = _local_slice(start, stop, step, lo, hi)
                if local is None:
                    continue
                n = len(builtins.range(*local.indices(hi - lo)))
                picked.append((b, local))
                sizes.append(n)
            if not picked:
                picked, sizes = [(0, slice(0, 0))], [0]
            per_axis.append(picked)
            out_chunks.append(tuple(sizes))
            keep_axis.append(True)
        else:
            raise IndexError(f"invalid index {item!r} for axis {axis}")
        axis += 1
    layer: dict = {}
    for out_idx in np.ndindex(*[len(p) for p in per_axis]):
        blocks = tuple(per_axis[a][k][0] for a, k in enumerate(out_idx))
        local = tuple(per_axis[a][k][1] for a, k in enumerate(out_idx))
        key_idx = [k for a, k in enumerate(out_idx) if keep_axis[a]]
        # Re-insert new axes (None) at their places.
        full_idx, new_axes, j = [], [], 0
        for item in items:
            if item is None:
                full_idx.append(0)
                new_axes.append(len(full_idx) - 1)
            elif isinstance(item, slice):
                full_idx.append(key_idx[j])
                j += 1
        layer[(name, *full_idx)] = (_slice_block, (x.name, *blocks), _with_newaxes(local, items))
    chunks = []
    j = 0
    for item in items:
        if item is None:
            chunks.append((1,))
        elif isinstance(item, slice):
            chunks.append(out_chunks[j])
            j += 1
    if not chunks:
        layer = {(name,): next(iter(layer.values()))}
    return _derive(x, name, layer, tuple(chunks), x.dtype)


def _with_newaxes(local: tuple, items: list) -> tuple:
    out, k = [], 0
    for item in items:
        if item is None:
            out.append(None)
        else:
            out.append(local[k])
            k += 1
    return tuple(out)


def _local_slice(start: int, stop: int, step: int, lo: int, hi: int) -> slice | None:
    """The part of ``range(start, stop, step)`` inside ``[lo, hi)``, as a slice of the block."""
    r = builtins.range(start, stop, step)
    if step > 0:
        first = builtins.max(start, lo)
        first = start + math.ceil((first - start) / step) * step
        if first >= builtins.min(stop, hi):
            return None
        last = builtins.min(stop, hi)
        return slice(first - lo, last - lo, step)
    # negative step: elements from high to low
    first = builtins.min(start, hi - 1)
    first = start - math.ceil((start - first) / -step) * -step
    if first < builtins.max(stop + 1, lo) or first not in r:
        return None
    end = builtins.max(stop, lo - 1) - lo
    return slice(first - lo, end if end >= 0 else None, step)
