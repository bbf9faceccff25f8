"""Basic indexing of blocked arrays: integers, slices (any step), ``...`` and ``None``.

Each output block is one piece of one input block, so a slice computes only the blocks
it touches: ``x[:2000, :2000]`` of a 100000 x 100000 array reads 4 of 10^4 blocks.
Out-of-range integers raise ``IndexError`` when the expression is built.

Lazy boolean masks (taskloom arrays) select without computing anything, so the result's
block sizes along the masked axis are unknown (NaN), as Dask's: a mask of the array's
own shape gives a 1-d result (numpy's order: both are flattened first), a 1-d mask
selects along its axis; a lazy 1-d integer array takes positions along its axis (with
the index's blocks). Along an axis of unknown sizes only ``:`` is allowed.
``vindex`` is point-wise indexing, as Dask's: the broadcast index arrays' axes come
first, then the axes indexed by slices.
"""

from __future__ import annotations

import builtins
import math
import warnings
from typing import Any

import numpy as np

from taskloom.array.chunks import has_unknown, require_known
from taskloom.array.core import (
    Array,
    _derive,
    _merge,
    _offsets,
    _slice_block,
    asarray,
    unify_chunks,
)
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
    require_known(x.chunks[k : k + 1], f"indexing axis {k} with an array")
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
    """``x[index]`` for integers, slices, ``...``, ``None``, one integer or boolean
    numpy array (or list) along one axis, and lazy boolean masks (see the module)."""
    items = index if isinstance(index, tuple) else (index,)
    if builtins.any(_is_mask(i) for i in items):
        return _getitem_masks(x, items)
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
        if has_unknown(chunks):
            if item != slice(None):
                require_known(x.chunks, f"indexing axis {axis} with {item!r}")
            per_axis.append([(b, slice(None)) for b in builtins.range(len(chunks))])
            out_chunks.append(chunks)
            keep_axis.append(True)
            axis += 1
            continue
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


# -- lazy boolean masks -----------------------------------------------------------------


def _is_mask(i: Any) -> bool:
    # Lazy arrays, and numpy boolean masks of several dimensions (numpy's order of a
    # flattened selection needs the flattening that the lazy path does).
    return isinstance(i, Array) or (isinstance(i, np.ndarray) and i.dtype == bool and i.ndim > 1)


def _mask_block(block: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return block[mask]


def _mask_axis_block(block: np.ndarray, mask: np.ndarray, axis: int) -> np.ndarray:
    return np.compress(mask, block, axis=axis)


def _getitem_masks(x: Array, items: tuple) -> Array:
    for i in items:
        if isinstance(i, Array) and i.dtype != bool and not np.issubdtype(i.dtype, np.integer):
            raise IndexError(f"arrays used as indices must be integers or booleans, not {i.dtype}")
    arrays = [i for i in items if isinstance(i, list | np.ndarray | Array) and not _is_bool(i)]
    if len(arrays) > 1 and builtins.any(isinstance(i, Array) for i in arrays):
        raise NotImplementedError("several integer index arrays, one of them lazy")
    masks = [i for i in items if _is_mask(i) and _is_bool(i)]
    if not masks:
        masks = [i for i in items if isinstance(i, Array)]
    if len(items) == 1 and _is_bool(masks[0]) and masks[0].ndim == x.ndim and x.ndim > 1:
        return _full_mask(x, masks[0])
    if builtins.any(m.ndim != 1 for m in masks):
        raise NotImplementedError(
            "Slicing with a lazy array is only permitted when the indexer has one "
            "dimension (or, for bools, the dimensions of the sliced array)"
        )
    if builtins.any(i is None for i in items):
        raise NotImplementedError("a lazy boolean mask together with None (new axes)")
    n_ellipsis = builtins.sum(1 for i in items if i is Ellipsis)
    if n_ellipsis:
        at = next(k for k, i in enumerate(items) if i is Ellipsis)
        fill = (slice(None),) * (x.ndim - len(items) + 1)
        items = items[:at] + fill + items[at + 1 :]
    if len(items) > x.ndim:
        raise IndexError(f"too many indices for a {x.ndim}-dimensional array")
    for axis, i in enumerate(items):
        if isinstance(i, Array):
            x = _mask_axis(x, i, axis) if i.dtype == bool else _take_lazy(x, i, axis)
    rest = tuple(slice(None) if isinstance(i, Array) else i for i in items)
    whole = builtins.all(isinstance(i, slice) and i == slice(None) for i in rest)
    return x if whole else getitem(x, rest)


def _is_bool(i: Any) -> bool:
    return (i.dtype if isinstance(i, Array | np.ndarray) else np.asarray(i).dtype).kind == "b"


def _take_lazy(x: Array, index: Array, axis: int) -> Array:
    """``x`` at the positions ``index`` (lazy, 1-d integers) along ``axis``: the result's
    blocks there are the index's blocks (unknown if its are). Each output block reads
    the input blocks along ``axis`` and takes from each the positions falling in it."""
    require_known(x.chunks[axis : axis + 1], f"indexing axis {axis} with a lazy integer array")
    if index.ndim != 1:
        raise NotImplementedError("lazy integer index arrays of more than one dimension")
    offsets = _offsets(x.chunks[axis])
    name = f"getitem-take-{_token(x, index, axis)}"
    others = [builtins.range(n) if a != axis else [0] for a, n in enumerate(x.numblocks)]
    layer = {}
    for j in builtins.range(index.numblocks[0]):
        for idx in np.ndindex(*[len(o) for o in others]):
            keys = [
                (x.name, *idx[:axis], b, *idx[axis + 1 :])
                for b in builtins.range(x.numblocks[axis])
            ]
            out = list(idx)
            out[axis] = j
            layer[(name, *out)] = (_gather_positions, (index.name, j), keys, offsets, axis)
    chunks = list(x.chunks)
    chunks[axis] = index.chunks[0]
    return _merge([x, index], name, layer, tuple(chunks), x.dtype)


def _gather_positions(positions: Any, blocks: list, offsets: list, axis: int) -> np.ndarray:
    n = offsets[-1]
    positions = np.asarray(positions, dtype="i8")
    bad = (positions < -n) | (positions >= n)
    if bad.any():  # only known now: the index was lazy
        raise IndexError(
            f"index {positions[bad][0]} is out of bounds for axis {axis} with size {n}"
        )
    positions = positions % n if n else positions
    shape = list(blocks[0].shape)
    shape[axis] = len(positions)
    out = np.empty(shape, dtype=blocks[0].dtype)
    which = np.searchsorted(offsets, positions, side="right") - 1
    for b in np.unique(which):
        sel = which == b
        local = np.take(blocks[b], positions[sel] - offsets[b], axis=axis)
        out[(slice(None),) * axis + (sel,)] = local
    return out


def _mask_axis(x: Array, mask: Array, axis: int) -> Array:
    """``x`` where ``mask`` (lazy, 1-d) is True along ``axis``: block sizes unknown there."""
    if not has_unknown(x.chunks[axis]) and not has_unknown(mask.chunks):
        if mask.shape[0] != x.shape[axis]:
            raise IndexError(
                f"boolean index did not match indexed array along axis {axis}; size of "
                f"axis is {x.shape[axis]} but size of boolean index is {mask.shape[0]}"
            )
        mask = mask.rechunk((x.chunks[axis],))
    elif mask.numblocks[0] != x.numblocks[axis]:
        require_known(
            (x.chunks[axis], mask.chunks[0]), f"a boolean mask of other blocks on axis {axis}"
        )
    name = f"getitem-mask-{_token(x, mask, axis)}"
    layer = {
        (name, *idx): (_mask_axis_block, (x.name, *idx), (mask.name, idx[axis]), axis)
        for idx in np.ndindex(*x.numblocks)
    }
    chunks = list(x.chunks)
    chunks[axis] = (math.nan,) * x.numblocks[axis]
    return _merge([x, mask], name, layer, tuple(chunks), x.dtype)


def _full_mask(x: Array, mask: Any) -> Array:
    """``x[mask]`` for a mask of ``x``'s shape: a 1-d array, one block per block of x."""
    from taskloom.array.routines import ravel

    if isinstance(mask, np.ndarray):
        require_known(x.chunks, "indexing with a numpy boolean mask")
        mask = asarray(mask, chunks=x.chunks)
    known = not has_unknown(x.chunks) and not has_unknown(mask.chunks)
    if known and mask.shape != x.shape:
        raise IndexError(
            f"boolean index of shape {mask.shape} does not match the indexed array's {x.shape}"
        )
    if known:
        x, mask = ravel(x), ravel(mask)
    else:
        warnings.warn(
            "When slicing an array of unknown chunks with a boolean mask array, the "
            "output array may have a different ordering compared to the equivalent "
            "NumPy operation (as Dask's).",
            stacklevel=4,
        )
    x, mask = unify_chunks(x, mask)
    name = f"getitem-mask-{_token(x, mask)}"
    layer = {
        (name, k): (_mask_block, (x.name, *idx), (mask.name, *idx))
        for k, idx in enumerate(np.ndindex(*x.numblocks))
    }
    return _merge([x, mask], name, layer, ((math.nan,) * x.npartitions,), x.dtype)


def _token(*args: Any) -> str:
    return tokenize(*[a.name if isinstance(a, Array) else a for a in args])


# -- vindex -----------------------------------------------------------------------------


class VIndex:
    """``x.vindex[...]``: see :func:`vindex`."""

    def __init__(self, x: Array) -> None:
        self.x = x

    def __getitem__(self, index: Any) -> Array:
        return vindex(self.x, index)


def vindex(x: Array, index: Any) -> Array:
    """Point-wise indexing, as Dask's ``x.vindex[index]``: the integer arrays (and
    integers) of ``index`` are broadcast together and pick one element each; their
    axes come first in the result, then the axes indexed by slices.

    Raises
    ------
    IndexError
        For ``None`` in ``index``, an index without arrays, or out-of-range integers.

    Examples
    --------
    >>> import numpy as np, taskloom.array as da
    >>> x = da.from_array(np.arange(24).reshape(2, 3, 4), chunks=2)
    >>> vindex(x, (slice(None), [0, 2], [1, 3])).compute()
    array([[ 1, 13],
           [11, 23]])
    """
    items = index if isinstance(index, tuple) else (index,)
    if builtins.any(i is None for i in items):
        raise IndexError(f"vindex does not support indexing with None (np.newaxis), got {index}")
    if builtins.any(isinstance(i, Array) for i in items):
        raise NotImplementedError("vindex with a lazy array: compute the index first")
    if builtins.any(i is Ellipsis for i in items):
        at = next(k for k, i in enumerate(items) if i is Ellipsis)
        items = items[:at] + (slice(None),) * (x.ndim - len(items) + 1) + items[at + 1 :]
    if len(items) > x.ndim:
        raise IndexError(f"too many indices for a {x.ndim}-dimensional array")
    items = items + (slice(None),) * (x.ndim - len(items))
    axes = [a for a, i in enumerate(items) if not isinstance(i, slice)]
    if not axes:
        raise IndexError(
            "vindex requires at least one non-slice to vectorize over; use normal "
            f"slicing when only using slices. Got: {index}"
        )
    y = getitem(x, tuple(i if isinstance(i, slice) else slice(None) for i in items))
    require_known(tuple(y.chunks[a] for a in axes), "vindex")
    arrays = [np.asarray(items[a]) for a in axes]
    for arr in arrays:
        if not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
            raise IndexError(f"vindex arrays must be integers, not {arr.dtype}")
    try:
        arrays = np.broadcast_arrays(*arrays)
    except ValueError as e:
        raise IndexError(f"shape mismatch: indexing arrays could not be broadcast: {e}") from e
    shape = arrays[0].shape
    coords = []
    for a, arr in zip(axes, arrays, strict=True):
        flat = arr.reshape(-1).astype("i8")
        dim = y.shape[a]
        bad = (flat < -dim) | (flat >= dim)
        if bad.any():
            raise IndexError(f"index {flat[bad][0]} is out of bounds for axis {a} with size {dim}")
        coords.append(flat % builtins.max(dim, 1))
    others = [a for a in builtins.range(y.ndim) if a not in axes]
    y = y.transpose(axes + others)
    k = len(axes)
    npoints = coords[0].size
    # Dask's: output blocks of as many points as the largest input block holds
    step = builtins.max(1, math.prod(builtins.max(c) for c in y.chunks[:k]))
    starts = list(builtins.range(0, npoints, step)) or [0]
    offsets = [np.asarray(_offsets(c)) for c in y.chunks[:k]]
    block_of = [
        np.searchsorted(o, c, side="right") - 1 for o, c in zip(offsets, coords, strict=True)
    ]
    name = f"vindex-{tokenize(y.name, [c.tolist() for c in coords])}"
    layer: dict = {}
    for p, s in enumerate(starts):
        e = builtins.min(s + step, npoints)
        blocks = np.stack([b[s:e] for b in block_of], axis=1) if e > s else np.zeros((0, k), int)
        groups = {}
        for j, b in enumerate(map(tuple, blocks)):
            groups.setdefault(b, []).append(j)
        for o in np.ndindex(*y.numblocks[k:]):
            keys, locals_, where = [], [], []
            for b, js in groups.items():
                js = np.asarray(js)
                keys.append((y.name, *b, *o))
                locals_.append(
                    tuple(coords[a][s + js] - offsets[a][b[a]] for a in builtins.range(k))
                )
                where.append(js)
            rest = tuple(y.chunks[k + a][i] for a, i in enumerate(o))
            layer[(name, p, *o)] = (_vindex_gather, keys, locals_, where, (e - s, *rest), y.dtype)
    chunks = (tuple(builtins.min(s + step, npoints) - s for s in starts), *y.chunks[k:])
    out = _derive(y, name, layer, chunks, y.dtype)
    if len(shape) == 1:
        return out
    from taskloom.array.routines import reshape

    return reshape(out, shape + out.shape[1:])


def _vindex_gather(
    blocks: list, locals_: list, where: list, shape: tuple, dtype: Any
) -> np.ndarray:
    out = np.empty(shape, dtype=dtype)
    for block, local, w in zip(blocks, locals_, where, strict=True):
        out[w] = block[local]
    return out
