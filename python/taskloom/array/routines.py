"""Joining, reshaping, linear algebra and the remaining creation routines.

Policies: ``concatenate``/``stack``/``block`` only re-key existing blocks (no data is
touched until computed); ``reshape`` keeps blocks where the reshaped axes' chunks allow
and otherwise first merges the affected axes into single blocks; ``tensordot`` multiplies
matching blocks and sums the products over the contracted block index with the same
bounded-fan-in tree as the reductions. ``to_npy_stack`` is all or nothing: its files are
staged beside the stack and moved into place only when every block is saved
(:mod:`taskloom._files`); ``store`` writes into the caller's targets in place, as Dask's.

The rest of Dask's routines are built on those primitives (slicing, ``take``,
``concatenate``, ``map_blocks``/``blockwise``, element-wise operations), so each keeps
their laziness and block structure: ``pad``'s index modes and ``insert``/``delete`` are
``take`` of positions computed by numpy itself on ``arange`` (numpy's own rules for
every edge case); ``gradient`` calls ``numpy.gradient`` on each block widened by two
elements from its neighbours. ``nonzero``, ``argwhere``, ``compress`` and kin give
unknown block sizes, as Dask's. Arguments, defaults and errors follow Dask's.
"""

from __future__ import annotations

import builtins
import itertools
import math
import numbers
import os
from collections.abc import Callable, Iterable, Sequence
from functools import reduce
from itertools import pairwise
from operator import mul
from typing import Any

import numpy as np

from taskloom.array.chunks import UNKNOWN_CHUNK_MESSAGE, has_unknown, require_known
from taskloom.array.core import (
    Array,
    _block_slices,
    _check_axis,
    _common_chunks,
    _derive,
    _merge,
    _offsets,
    asarray,
    broadcast_shapes,
    elemwise,
    normalize_chunks,
)
from taskloom.array.reductions import _diagonal_axes
from taskloom.tokenize import tokenize

__all__ = [
    "append",
    "argwhere",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "block",
    "broadcast_arrays",
    "broadcast_to",
    "choose",
    "coarsen",
    "compress",
    "concatenate",
    "delete",
    "diag",
    "diagonal",
    "diff",
    "dot",
    "dstack",
    "ediff1d",
    "einsum",
    "expand_dims",
    "extract",
    "eye",
    "flatnonzero",
    "flatten",
    "flip",
    "fliplr",
    "flipud",
    "from_delayed",
    "from_npy_stack",
    "gradient",
    "hstack",
    "insert",
    "matmul",
    "moveaxis",
    "nonzero",
    "outer",
    "pad",
    "ravel",
    "ravel_multi_index",
    "repeat",
    "reshape",
    "reshape_blockwise",
    "roll",
    "rollaxis",
    "rot90",
    "select",
    "shape",
    "shuffle",
    "squeeze",
    "stack",
    "store",
    "swapaxes",
    "take",
    "tensordot",
    "tile",
    "to_npy_stack",
    "transpose",
    "tril",
    "tril_indices",
    "tril_indices_from",
    "triu",
    "triu_indices",
    "triu_indices_from",
    "unravel_index",
    "vdot",
    "vstack",
]  # fmt: skip

SPLIT_EVERY = 8


def concatenate(
    seq: Sequence[Any], axis: int | None = 0, allow_unknown_chunksizes: bool = False
) -> Array:
    """Join arrays along an existing axis (their blocks are reused as they are).

    Along ``axis`` block sizes may be unknown; along the other axes unknown sizes
    cannot be checked, so (as Dask) they need ``allow_unknown_chunksizes=True``.

    Raises
    ------
    ValueError
        If the arrays' other dimensions differ, or are unknown without
        ``allow_unknown_chunksizes``.

    Examples
    --------
    >>> import taskloom.array as da
    >>> concatenate([da.ones((2, 3), chunks=2), da.zeros((1, 3), chunks=2)]).chunks
    ((2, 1), (2, 1))
    """
    arrays = [asarray(a) for a in seq]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    if axis is None:  # numpy's: the arrays flattened, then joined
        arrays, axis = [reshape(a, (-1,)) for a in arrays], 0
    ndim = arrays[0].ndim
    axis = _check_axis(axis, ndim)
    for a in arrays:
        if a.ndim != ndim:
            raise ValueError(
                f"all the input arrays must have the same number of dimensions: "
                f"{' and '.join(str(b.shape) for b in arrays)}"
            )
    mismatch = any(
        a.shape[i] != arrays[0].shape[i] for a in arrays for i in range(ndim) if i != axis
    )
    if mismatch and not allow_unknown_chunksizes:
        if any(has_unknown(a.chunks[i]) for a in arrays for i in range(ndim) if i != axis):
            raise ValueError(
                f"Tried to concatenate arrays with unknown shape {arrays[0].shape}.\n\n"
                "Two solutions:\n  1. Force concatenation pass allow_unknown_chunksizes=True.\n"
                "  2. Compute shapes with [x.compute_chunk_sizes() for x in seq]"
            )
    known_mismatch = any(
        a.shape[i] != arrays[0].shape[i]
        for a in arrays
        for i in range(ndim)
        if i != axis and not has_unknown(a.chunks[i]) and not has_unknown(arrays[0].chunks[i])
    )
    if known_mismatch or (mismatch and not allow_unknown_chunksizes):
        raise ValueError(
            f"all dimensions but axis {axis} must match: "
            f"{' and '.join(str(b.shape) for b in arrays)}"
        )
    # Other axes must share block boundaries.
    lined = unify_other_axes(arrays, axis)
    dtype = np.result_type(*[a.dtype for a in lined])
    name = f"concatenate-{tokenize([a.name for a in lined], axis)}"
    layer: dict = {}
    offset = 0
    for a in lined:
        for idx in np.ndindex(*a.numblocks):
            out = list(idx)
            out[axis] += offset
            layer[(name, *out)] = (np.asanyarray, (a.name, *idx), dtype)
        offset += a.numblocks[axis]
    chunks = list(lined[0].chunks)
    chunks[axis] = tuple(c for a in lined for c in a.chunks[axis])
    return _merge(lined, name, layer, tuple(chunks), dtype)


def unify_other_axes(arrays: list[Array], axis: int) -> list[Array]:
    """Rechunk so all arrays share block boundaries on every axis but ``axis``."""
    from taskloom.array.core import _common_chunks

    # Along `axis` itself (length 1 in this shape) no array counts: only the others line up.
    common = _common_chunks(arrays, (*arrays[0].shape[:axis], 1, *arrays[0].shape[axis + 1 :]))
    out = []
    for a in arrays:
        target = list(common)
        target[axis] = a.chunks[axis]
        out.append(a.rechunk(tuple(target)))
    return out


def stack(seq: Sequence[Any], axis: int = 0) -> Array:
    """Join arrays of the same shape along a new axis."""
    arrays = [asarray(a) for a in seq]
    if not arrays:
        raise ValueError("need at least one array to stack")
    if len({a.shape for a in arrays}) != 1:
        raise ValueError(
            f"arrays to stack must have the same shape: {sorted({a.shape for a in arrays})}"
        )
    axis = _check_axis(axis, arrays[0].ndim + 1)
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis)


def block(arrays: Any) -> Array:
    """Assemble an array from nested lists of blocks, as ``numpy.block``."""

    def depth(x: Any) -> int:
        return 1 + depth(x[0]) if isinstance(x, list) else 0

    def build(x: Any, level: int, total: int) -> Array:
        if not isinstance(x, list):
            return asarray(x)
        parts = [build(y, level + 1, total) for y in x]
        return concatenate(parts, axis=level - total)

    d = depth(arrays)
    return build(arrays, 0, d)


def transpose(a: Any, axes: Sequence[int] | None = None) -> Array:
    """``numpy.transpose``: the axes permuted (reversed by default).

    Examples
    --------
    >>> import taskloom.array as da
    >>> transpose(da.ones((2, 3, 4), chunks=2), (1, 0, 2)).shape
    (3, 2, 4)
    """
    x = asarray(a)
    return x.transpose() if axes is None else x.transpose(tuple(axes))


def expand_dims(a: Any, axis: int | Sequence[int]) -> Array:
    """``numpy.expand_dims``: new axes of length 1 at the positions ``axis`` (an int or
    a tuple) of the result.

    Examples
    --------
    >>> import taskloom.array as da
    >>> expand_dims(da.ones((2, 3), chunks=2), (0, 3)).shape
    (1, 2, 3, 1)
    """
    x = asarray(a)
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    ndim = x.ndim + len(axes)
    positions = sorted(_check_axis(ax, ndim) for ax in axes)
    if len(set(positions)) != len(positions):
        raise ValueError(f"repeated axis in expand_dims axis={axis!r}")
    index: list = [slice(None)] * x.ndim
    for p in positions:
        index.insert(p, None)
    return x[tuple(index)]


def squeeze(x: Array, axis: Any = None) -> Array:
    """Remove axes of length 1 (all of them, or those in ``axis``)."""
    x = asarray(x)
    if axis is None:
        axes = [i for i, s in enumerate(x.shape) if s == 1]
    else:
        axes = [_check_axis(a, x.ndim) for a in (axis if isinstance(axis, tuple) else (axis,))]
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(f"cannot squeeze axis {a} of length {x.shape[a]}")
    return x[tuple(0 if i in axes else slice(None) for i in range(x.ndim))]


def reshape(x: Array, shape: Any) -> Array:
    """The same values in a new shape (C order).

    Blocks as Dask's ``reshape_rechunk``: axes that merge into one are rechunked so
    each block is a contiguous run of the merged axis (the trailing ones whole, or the
    leading ones in single elements), split so blocks stay near their former size; an
    axis that splits into several is rechunked to match. Each block is then reshaped
    on its own.

    Raises
    ------
    ValueError
        If the sizes differ, more than one ``-1`` is given, or block sizes are unknown.

    Examples
    --------
    >>> import taskloom.array as da
    >>> reshape(da.ones((4, 6), chunks=2), (24,)).chunks  # blocks of 4 elements before
    ((3, 3, 3, 3, 3, 3, 3, 3),)
    >>> reshape(da.ones(24, chunks=12), (4, 6)).chunks
    ((2, 2), (6,))
    """
    x = asarray(x)
    shape = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    if shape.count(-1) > 1:
        raise ValueError("can only specify one unknown dimension (-1)")
    if len(shape) == 1 and shape[0] == -1 and x.ndim == 1:
        return x  # as Dask: the one reshape allowed with unknown sizes
    if has_unknown(x.chunks):
        raise ValueError(
            f"Array chunk size or shape is unknown. shape: {x.shape}{UNKNOWN_CHUNK_MESSAGE}"
        )
    if -1 in shape:
        known = reduce(mul, (s for s in shape if s != -1), 1)
        if known == 0 or x.size % known:
            raise ValueError(f"cannot reshape array of size {x.size} into shape {shape}")
        shape = tuple(x.size // known if s == -1 else s for s in shape)
    shape = tuple(int(s) for s in shape)
    if reduce(mul, shape, 1) != x.size:
        raise ValueError(f"cannot reshape array of size {x.size} into shape {shape}")
    if shape == x.shape:
        return x
    plan = _reshape_plan(x.shape, shape, x.chunks) if x.size else None
    if plan is None:  # empty arrays and the few cases without a plan: one block
        y = x.rechunk(tuple((s,) for s in x.shape))
        name = f"reshape-{tokenize(x.name, shape)}"
        layer = {(name, *([0] * len(shape))): (np.reshape, (y.name, *([0] * y.ndim)), shape)}
        return _derive(y, name, layer, tuple((s,) for s in shape), x.dtype)
    in_chunks, out_chunks, groups = plan
    y = x.rechunk(in_chunks)
    name = f"reshape-{tokenize(x.name, shape)}"
    layer = {}
    for idx in np.ndindex(*y.numblocks):
        out = [0] * len(shape)
        for ins, outs in groups:  # the k-th block of a group (C order) is the k-th there
            k = np.ravel_multi_index([idx[a] for a in ins], [y.numblocks[a] for a in ins])
            where = np.unravel_index(k, [len(out_chunks[o]) for o in outs])
            for o, i in zip(outs, where, strict=True):
                out[o] = int(i)
        block_shape = tuple(c[i] for c, i in zip(out_chunks, out, strict=True))
        layer[(name, *out)] = (np.reshape, (y.name, *idx), block_shape)
    return _derive(y, name, layer, out_chunks, x.dtype)


def _contract(chunks: tuple, factor: int) -> tuple:
    """Block sizes made multiples of ``factor`` by moving boundaries down (Dask's
    ``contract_tuple``)."""
    out, residual = [], 0
    for c in chunks:
        c += residual
        residual = c % factor
        if c - residual:
            out.append(c - residual)
    return tuple(out)


def _expand(chunks: tuple, factor: int) -> tuple:
    """Each block split into about ``factor`` parts (Dask's ``expand_tuple``)."""
    if factor == 1:
        return chunks
    out = []
    for c in chunks:
        part = builtins.max(c / factor, 1)
        while c >= 2 * part:
            out.append(int(part))
            c -= int(part)
        if c:
            out.append(c)
    return tuple(out)


def _products(chunks: list, start: int, stop: int) -> tuple:
    """Block sizes of axes ``start..stop`` merged into one, in C order."""
    return tuple(math.prod(combo) for combo in itertools.product(*chunks[start : stop + 1]))


def _largest(chunks: Sequence, start: int, stop: int) -> int:
    return math.prod(builtins.max(chunks[a]) for a in range(start, stop + 1))


def _split_even(size: int, parts: int) -> list:
    ceil = math.ceil(size / parts)
    out = [ceil] * parts
    for i in range(ceil * parts - size):
        out[i] -= 1
    return out


def _smooth(left: int, right: int, limit: int, chunks: list) -> list:
    """Dask's ``_smooth_chunks``: split the first axis of ``left..right`` that is not
    all single elements so that merged blocks stay near ``limit`` elements (axes before
    it keep single-element blocks, so each block stays contiguous in C order)."""
    first = left
    largest = _largest(chunks, left, right)
    if largest == limit:
        return chunks
    while all(c == 1 for c in chunks[first]):
        first += 1
    if first > right:
        return chunks
    factor = math.ceil(largest / limit)
    current = chunks[first]
    if len(current) == 1:
        chunks[first] = tuple(_split_even(current[0], builtins.min(factor, current[0])))
        if all(c == 1 for c in chunks[first]) and first < right:
            return _smooth(left, right, limit, chunks)
        return chunks
    others = largest // builtins.max(current)
    out: list = []
    for c in current:
        if c * others <= limit:
            out.append(c)
        else:
            out += _split_even(c, math.ceil(c * others / limit))
    chunks[first] = tuple(out)
    return chunks


def _reshape_plan(inshape: tuple, outshape: tuple, inchunks: tuple) -> tuple | None:
    """Dask's ``reshape_rechunk``: (input blocks to rechunk to, output blocks, groups
    of (input axes, output axes) whose blocks correspond in C order), or None."""
    ii, oi = len(inshape) - 1, len(outshape) - 1
    in_c: list = [None] * len(inshape)
    out_c: list = [None] * len(outshape)
    groups: list = []
    while ii >= 0 or oi >= 0:
        din = inshape[ii] if ii >= 0 else None
        dout = outshape[oi] if oi >= 0 else None
        if din is not None and din == dout:
            in_c[ii], out_c[oi] = inchunks[ii], inchunks[ii]
            groups.append(([ii], [oi]))
            ii, oi = ii - 1, oi - 1
        elif din == 1:
            in_c[ii] = (1,)
            ii -= 1
        elif dout == 1:
            out_c[oi] = (1,)
            oi -= 1
        elif din is None or dout is None:
            return None
        elif din < dout:  # input axes ileft..ii merge into output axis oi
            ileft = ii - 1
            while ileft >= 0 and reduce(mul, inshape[ileft : ii + 1]) < dout:
                ileft -= 1
            if ileft < 0 or reduce(mul, inshape[ileft : ii + 1]) != dout:
                return None
            if all(len(inchunks[i]) == inshape[i] for i in range(ii)):
                # single-element blocks before: the blocks only move
                for i in range(ileft, ii + 1):
                    in_c[i] = inchunks[i]
                out_c[oi] = inchunks[ii] * math.prod(map(len, inchunks[ileft:ii]))
            else:
                for i in range(ileft + 1, ii + 1):
                    in_c[i] = (inshape[i],)
                in_c[ileft] = _expand(
                    inchunks[ileft], math.prod(map(len, inchunks[ileft + 1 : ii + 1]))
                )
                in_c = _smooth(ileft, ii, _largest(inchunks, ileft, ii), in_c)
                out_c[oi] = _products(in_c, ileft, ii)
            groups.append((list(range(ileft, ii + 1)), [oi]))
            oi, ii = oi - 1, ileft - 1
        else:  # input axis ii splits into output axes oleft..oi
            oleft = oi - 1
            while oleft >= 0 and reduce(mul, outshape[oleft : oi + 1]) < din:
                oleft -= 1
            if oleft < 0 or reduce(mul, outshape[oleft : oi + 1]) != din:
                return None
            inner = reduce(mul, outshape[oleft + 1 : oi + 1], 1)
            contracted = _contract(inchunks[ii], inner)
            for i in range(oleft + 1, oi + 1):
                out_c[i] = (outshape[i],)
            out_c[oleft] = tuple(c // inner for c in contracted)
            out_c = _smooth(oleft, oi, _largest(inchunks, ii, ii), out_c)
            in_c[ii] = _products(out_c, oleft, oi)
            groups.append(([ii], list(range(oleft, oi + 1))))
            oi, ii = oleft - 1, ii - 1
    if any(c is None for c in in_c) or any(c is None for c in out_c):
        return None
    return tuple(in_c), tuple(out_c), groups


Array.reshape = lambda self, *shape: reshape(  # type: ignore[attr-defined]
    self, shape[0] if len(shape) == 1 else shape
)
Array.squeeze = lambda self, axis=None: squeeze(self, axis)  # type: ignore[attr-defined]


# -- linear algebra -------------------------------------------------------------------


def _block_dot(pairs: list, axes: tuple) -> np.ndarray:
    total = None
    for a, b in pairs:
        part = np.tensordot(a, b, axes=axes)
        total = part if total is None else total + part
    return total


def _sum_blocks(blocks: list) -> np.ndarray:
    return reduce(np.add, blocks)


def tensordot(a: Any, b: Any, axes: Any = 2) -> Array:
    """``numpy.tensordot`` of two blocked arrays.

    Raises
    ------
    ValueError
        If the contracted axes differ in length (when the expression is built).
    """
    a, b = asarray(a), asarray(b)
    if isinstance(axes, int):
        axes = (list(range(a.ndim - axes, a.ndim)), list(range(axes)))
    ax_a = [_check_axis(i, a.ndim) for i in np.atleast_1d(axes[0])]
    ax_b = [_check_axis(i, b.ndim) for i in np.atleast_1d(axes[1])]
    if len(ax_a) != len(ax_b):
        raise ValueError("tensordot needs the same number of axes on both sides")
    for i, j in zip(ax_a, ax_b, strict=True):
        if a.shape[i] != b.shape[j]:
            raise ValueError(
                f"shape mismatch for sum: axis {i} of {a.shape} and axis {j} of {b.shape}"
            )
    # Line up the contracted axes' blocks.
    chunks_a, chunks_b = list(a.chunks), list(b.chunks)
    for i, j in zip(ax_a, ax_b, strict=True):
        bounds = sorted(set(_offsets(a.chunks[i])) | set(_offsets(b.chunks[j])))
        common = tuple(hi - lo for lo, hi in pairwise(bounds)) or (0,)
        chunks_a[i], chunks_b[j] = common, common
    a, b = a.rechunk(tuple(chunks_a)), b.rechunk(tuple(chunks_b))
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [j for j in range(b.ndim) if j not in ax_b]
    dtype = np.result_type(a.dtype, b.dtype)
    name = f"tensordot-{tokenize(a.name, b.name, ax_a, ax_b)}"
    layer: dict = {}
    contracted = [a.numblocks[i] for i in ax_a]
    for out_a in np.ndindex(*[a.numblocks[i] for i in free_a]):
        for out_b in np.ndindex(*[b.numblocks[j] for j in free_b]):
            pairs = []
            for c in np.ndindex(*contracted):
                ia = [0] * a.ndim
                for k, i in enumerate(free_a):
                    ia[i] = out_a[k]
                for k, i in enumerate(ax_a):
                    ia[i] = c[k]
                ib = [0] * b.ndim
                for k, j in enumerate(free_b):
                    ib[j] = out_b[k]
                for k, j in enumerate(ax_b):
                    ib[j] = c[k]
                pairs.append([(a.name, *ia), (b.name, *ib)])
            # Products summed in groups of SPLIT_EVERY, then the groups' sums.
            groups = [pairs[k : k + SPLIT_EVERY] for k in range(0, len(pairs), SPLIT_EVERY)]
            out_key = (name, *out_a, *out_b)
            if len(groups) == 1:
                layer[out_key] = (_block_dot, groups[0], (ax_a, ax_b))
            else:
                partial_keys = []
                for g, group in enumerate(groups):
                    pk = (f"{name}-partial", *out_a, *out_b, g)
                    layer[pk] = (_block_dot, group, (ax_a, ax_b))
                    partial_keys.append(pk)
                layer[out_key] = (_sum_blocks, partial_keys)
    chunks = tuple(a.chunks[i] for i in free_a) + tuple(b.chunks[j] for j in free_b)
    return _merge([a, b], name, layer, chunks, dtype)


def dot(a: Any, b: Any) -> Array:
    """``numpy.dot`` for 1-d and 2-d arrays."""
    a, b = asarray(a), asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, axes=((a.ndim - 1,), (builtins.max(b.ndim - 2, 0),)))


def matmul(a: Any, b: Any) -> Array:
    """``a @ b`` for 1-d and 2-d arrays."""
    a, b = asarray(a), asarray(b)
    if a.ndim > 2 or b.ndim > 2:
        raise NotImplementedError("matmul of arrays with more than 2 dimensions")
    return dot(a, b)


Array.__matmul__ = lambda self, other: matmul(self, other)  # type: ignore[attr-defined]
Array.__rmatmul__ = lambda self, other: matmul(other, self)  # type: ignore[attr-defined]
Array.dot = lambda self, other: dot(self, other)  # type: ignore[attr-defined]


# -- more creation ---------------------------------------------------------------------


def _eye_block(shape: tuple, k: int, dtype: Any) -> np.ndarray:
    return np.eye(shape[0], shape[1], k=k, dtype=dtype)


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = "f8", chunks: Any = "auto") -> Array:
    """The identity-like matrix with ones on diagonal ``k``."""
    from taskloom.array.creation import _diagonal_blocks

    return _diagonal_blocks("eye", _eye_block, N, M, k, dtype, chunks)


def from_delayed(value: Any, shape: Sequence[int], dtype: Any) -> Array:
    """A one-block array computed by a :class:`~taskloom.Delayed` value."""
    from taskloom.delayed import Delayed

    if not isinstance(value, Delayed):
        raise TypeError(f"from_delayed needs a Delayed value, got {type(value).__name__}")
    shape = tuple(shape)
    name = f"from-value-{tokenize(value.key, shape)}"
    layer = {(name, *([0] * len(shape))): (np.asanyarray, value.key, np.dtype(dtype))}
    layers = {("delayed", value.key): value.__dask_graph__(), name: layer}
    return Array(layers, name, tuple((s,) for s in shape), dtype)


def _store_block(block: np.ndarray, target: Any, index: tuple) -> None:
    target[index] = block


def store(sources: Any, targets: Any, compute: bool = True) -> Any:
    """Write arrays into array-like targets (anything supporting ``target[slices] = x``),
    block by block.

    The targets are the caller's objects, written in place as each block is ready:
    taskloom opens no file here, so it cannot stage and rename one. If a source block
    fails, blocks already stored stay stored, as with ``dask.array.store``. To replace
    a file (a ``numpy.memmap``, say) only when every block succeeded, store into a
    fresh file and :func:`os.replace` it over the old one, or use :func:`to_npy_stack`.

    Examples
    --------
    >>> import numpy as np, taskloom.array as da
    >>> target = np.zeros(4)
    >>> da.store(da.arange(4, chunks=2), target)
    >>> target
    array([0., 1., 2., 3.])
    """
    from taskloom.delayed import Delayed

    if isinstance(sources, Array):
        sources, targets = [sources], [targets]
    if len(sources) != len(targets):
        raise ValueError(f"{len(sources)} sources for {len(targets)} targets")
    layers: dict = {}
    keys = []
    for s, t in zip(sources, targets, strict=True):
        require_known(s.chunks, "store")
        if tuple(getattr(t, "shape", s.shape)) != s.shape:
            raise ValueError(f"target shape {t.shape} differs from source shape {s.shape}")
        name = f"store-{tokenize(s.name, id(t))}"
        layer = {}
        for idx, slc in _block_slices(s.chunks):
            layer[(name, *idx)] = (_store_block, (s.name, *idx), t, slc)
            keys.append((name, *idx))
        layers.update(s._layers)
        layers[name] = layer
    dsk: dict = {}
    for layer in layers.values():
        dsk.update(layer)
    done = f"store-done-{tokenize(keys)}"
    dsk[done] = (len, keys)
    result = Delayed(done, dsk)
    if compute:
        result.compute()
        return None
    return result


def _save_npy(path: str, block: np.ndarray) -> None:
    np.save(path, block)


def to_npy_stack(dirname: str | os.PathLike, x: Array, axis: int = 0) -> None:
    """Write ``x`` as one ``.npy`` file per block along ``axis`` plus an ``info`` file,
    as ``dask.array.to_npy_stack``.

    All or nothing: every block is saved into a hidden staging directory inside
    ``dirname`` first, and only when all succeeded do the files move into place (the
    ``info`` file last). A failing block leaves an existing stack in ``dirname`` byte
    for byte as it was, and the staging directory is removed. (Dask writes ``info``
    first and each block in place, so a failure there leaves a mixed stack.)

    Examples
    --------
    >>> import tempfile, numpy as np, taskloom.array as da
    >>> d = tempfile.mkdtemp()
    >>> da.to_npy_stack(d, da.arange(6, chunks=4))
    >>> da.from_npy_stack(d).compute()
    array([0, 1, 2, 3, 4, 5])
    """
    import pickle

    from taskloom import _files
    from taskloom.delayed import delayed

    # One block across every other axis; the blocks along ``axis`` stay. (Spelled in
    # full: a dict naming only the other axes would merge ``axis`` into one block too.)
    whole = tuple(
        c if i == axis else (n,) for i, (c, n) in enumerate(zip(x.chunks, x.shape, strict=True))
    )
    if whole != x.chunks:
        x = x.rechunk(whole)
    dirname = os.fspath(dirname)
    os.makedirs(dirname, exist_ok=True)
    info = os.path.join(dirname, "info")
    stage_dir = _files.staging_dir(info)
    try:
        blocks = x.to_delayed().reshape(-1)
        finals = [os.path.join(dirname, f"{i}.npy") for i in range(len(blocks))]
        temps = [_files.stage(f, stage_dir) for f in finals]
        writes = [delayed(_save_npy, pure=True)(t, b) for t, b in zip(temps, blocks, strict=True)]
        delayed(list)(writes).compute()
        info_temp = _files.stage(info, stage_dir)
        with open(info_temp, "wb") as f:
            pickle.dump({"chunks": x.chunks, "dtype": x.dtype, "axis": axis}, f)
        for temp, final in zip(temps, finals, strict=True):
            _files.commit(temp, final)
        _files.commit(info_temp, info)
    finally:
        _files.discard(stage_dir)


def from_npy_stack(dirname: str | os.PathLike) -> Array:
    """Read what :func:`to_npy_stack` wrote (memory-mapped blocks)."""
    import pickle

    with open(os.path.join(dirname, "info"), "rb") as f:
        info = pickle.load(f)
    chunks, axis = info["chunks"], info["axis"]
    name = f"from-npy-stack-{tokenize(os.fspath(dirname), chunks)}"
    layer = {}
    for i in range(len(chunks[axis])):
        idx = [0] * len(chunks)
        idx[axis] = i
        layer[(name, *idx)] = (np.load, os.path.join(os.fspath(dirname), f"{i}.npy"))
    return Array({name: layer}, name, chunks, info["dtype"])


# -- the blocks accessor ---------------------------------------------------------------


class _Blocks:
    """``x.blocks[i, j]``: the array made of the selected blocks (as Dask's)."""

    def __init__(self, x: Array) -> None:
        self.x = x

    def __getitem__(self, index: Any) -> Array:
        x = self.x
        index = index if isinstance(index, tuple) else (index,)
        if len(index) > x.ndim:
            raise IndexError(f"too many block indices for {x.ndim} dimensions")
        index = index + (slice(None),) * (x.ndim - len(index))
        picks = []
        for axis, i in enumerate(index):
            n = x.numblocks[axis]
            if isinstance(i, int | np.integer):
                if not -n <= i < n:
                    raise IndexError(
                        f"block index {i} is out of range for axis {axis} with {n} blocks"
                    )
                picks.append([int(i) % n])
            elif isinstance(i, slice):
                picks.append(list(range(n))[i])
            else:
                picks.append([int(k) % n for k in np.atleast_1d(i)])
        name = f"blocks-{tokenize(x.name, repr(index))}"
        layer = {
            (name, *out): (np.asanyarray, (x.name, *[picks[a][k] for a, k in enumerate(out)]))
            for out in np.ndindex(*[len(p) for p in picks])
        }
        chunks = tuple(tuple(x.chunks[a][k] for k in p) for a, p in enumerate(picks))
        return _derive(x, name, layer, chunks, x.dtype)


Array.blocks = property(lambda self: _Blocks(self))  # type: ignore[attr-defined]


# -- shapes and axes ---------------------------------------------------------------------


def ravel(array_like: Any) -> Array:
    """``numpy.ravel``: the array flattened to 1-d, in C order.

    Examples
    --------
    >>> import taskloom.array as da
    >>> ravel(da.ones((4, 3), chunks=2)).chunks
    ((3, 3, 3, 3),)
    """
    return reshape(asarray(array_like), (-1,))


flatten = ravel


def shape(array: Any) -> tuple:
    """``numpy.shape``: the array's shape (NaN where block sizes are unknown).

    Examples
    --------
    >>> import taskloom.array as da
    >>> shape(da.ones((2, 3), chunks=2))
    (2, 3)
    """
    return array.shape if isinstance(array, Array) else np.shape(array)


def _atleast(arys: tuple, ndim: int) -> Any:
    out = []
    for x in arys:
        x = asarray(x)
        if x.ndim < ndim:
            # numpy's placement: 1-d becomes a row (2-d) or the middle axis (3-d)
            index = {
                (0, 1): (None,), (0, 2): (None, None), (1, 2): (None, slice(None)),
                (0, 3): (None, None, None), (1, 3): (None, slice(None), None),
                (2, 3): (slice(None), slice(None), None),
            }[(x.ndim, ndim)]  # fmt: skip
            x = x[index]
        out.append(x)
    return out[0] if len(out) == 1 else out


def atleast_1d(*arys: Any) -> Any:
    """``numpy.atleast_1d``: each array with at least one axis (a list for several).

    Examples
    --------
    >>> atleast_1d(5).shape
    (1,)
    """
    return _atleast(arys, 1)


def atleast_2d(*arys: Any) -> Any:
    """``numpy.atleast_2d``: each array with at least two axes (a 1-d array as a row).

    Examples
    --------
    >>> atleast_2d(np.arange(3)).shape
    (1, 3)
    """
    return _atleast(arys, 2)


def atleast_3d(*arys: Any) -> Any:
    """``numpy.atleast_3d``: each array with at least three axes, as numpy places them.

    Examples
    --------
    >>> atleast_3d(np.ones((2, 3))).shape
    (2, 3, 1)
    """
    return _atleast(arys, 3)


def hstack(tup: Sequence[Any], allow_unknown_chunksizes: bool = False) -> Array:
    """``numpy.hstack``: join along the second axis (the first for 1-d arrays).

    Examples
    --------
    >>> hstack([np.ones(2), np.zeros(1)]).compute()
    array([1., 1., 0.])
    """
    tup = [atleast_1d(x) for x in tup]  # numpy's: scalars join as 1-d arrays
    axis = 0 if all(x.ndim == 1 for x in tup) else 1
    return concatenate(tup, axis=axis, allow_unknown_chunksizes=allow_unknown_chunksizes)


def vstack(tup: Sequence[Any], allow_unknown_chunksizes: bool = False) -> Array:
    """``numpy.vstack``: join along the first axis, 1-d arrays as rows.

    Examples
    --------
    >>> vstack([np.ones(2), np.zeros(2)]).shape
    (2, 2)
    """
    tup = [atleast_2d(x) for x in tup]
    return concatenate(tup, axis=0, allow_unknown_chunksizes=allow_unknown_chunksizes)


def dstack(tup: Sequence[Any], allow_unknown_chunksizes: bool = False) -> Array:
    """``numpy.dstack``: join along the third axis (after :func:`atleast_3d`).

    Examples
    --------
    >>> dstack([np.ones(2), np.zeros(2)]).shape
    (1, 2, 2)
    """
    tup = [atleast_3d(x) for x in tup]
    return concatenate(tup, axis=2, allow_unknown_chunksizes=allow_unknown_chunksizes)


def _axis_tuple(axis: Any, ndim: int, argname: str) -> tuple:
    from numpy.lib.array_utils import normalize_axis_tuple

    return normalize_axis_tuple(axis, ndim, argname)


def moveaxis(a: Any, source: Any, destination: Any) -> Array:
    """``numpy.moveaxis``: axes moved to new positions, the others kept in order.

    Examples
    --------
    >>> import taskloom.array as da
    >>> moveaxis(da.ones((2, 3, 4), chunks=2), 0, -1).shape
    (3, 4, 2)
    """
    x = asarray(a)
    source = _axis_tuple(source, x.ndim, "source")
    destination = _axis_tuple(destination, x.ndim, "destination")
    if len(source) != len(destination):
        raise ValueError(
            "`source` and `destination` arguments must have the same number of elements"
        )
    order = [n for n in range(x.ndim) if n not in source]
    for dest, src in sorted(zip(destination, source, strict=True)):
        order.insert(dest, src)
    return x.transpose(order)


def swapaxes(a: Any, axis1: int, axis2: int) -> Array:
    """``numpy.swapaxes``: two axes exchanged.

    Examples
    --------
    >>> import taskloom.array as da
    >>> swapaxes(da.ones((2, 3, 4), chunks=2), 0, 2).shape
    (4, 3, 2)
    """
    x = asarray(a)
    axis1, axis2 = _check_axis(axis1, x.ndim), _check_axis(axis2, x.ndim)
    order = list(range(x.ndim))
    order[axis1], order[axis2] = axis2, axis1
    return x.transpose(order)


def rollaxis(a: Any, axis: int, start: int = 0) -> Array:
    """``numpy.rollaxis``: ``axis`` moved to just before position ``start``.

    Examples
    --------
    >>> import taskloom.array as da
    >>> rollaxis(da.ones((2, 3, 4), chunks=2), 2).shape
    (4, 2, 3)
    """
    x = asarray(a)
    n = x.ndim
    axis = _check_axis(axis, n)
    if start < 0:
        start += n
    if not 0 <= start < n + 1:
        raise np.exceptions.AxisError(
            f"'start' arg requires {-n} <= start < {n + 1}, but {start - n if start < 0 else start}"
            " was passed in"
        )
    if axis < start:
        start -= 1
    if axis == start:
        return x
    axes = list(range(n))
    axes.remove(axis)
    axes.insert(start, axis)
    return x.transpose(axes)


def flip(m: Any, axis: Any = None) -> Array:
    """``numpy.flip``: the order of elements reversed along ``axis`` (all by default).

    Raises
    ------
    ValueError
        If an axis is out of range.

    Examples
    --------
    >>> flip(np.arange(4)).compute()
    array([3, 2, 1, 0])
    """
    x = asarray(m)
    axes = range(x.ndim) if axis is None else axis if isinstance(axis, Iterable) else (axis,)
    index = [slice(None)] * x.ndim
    for ax in axes:
        if not isinstance(ax, int | np.integer) or not -x.ndim <= ax < x.ndim:
            raise ValueError(f"`axis` of {axis} invalid for {x.ndim}-D array")
        index[ax] = slice(None, None, -1)
    return x[tuple(index)]


def fliplr(m: Any) -> Array:
    """``numpy.fliplr``: columns (axis 1) reversed.

    Examples
    --------
    >>> fliplr(np.eye(2)).compute()
    array([[0., 1.],
           [1., 0.]])
    """
    x = asarray(m)
    if x.ndim < 2:
        raise ValueError("Input must be >= 2-d.")
    return flip(x, 1)


def flipud(m: Any) -> Array:
    """``numpy.flipud``: rows (axis 0) reversed.

    Examples
    --------
    >>> flipud(np.arange(3)).compute()
    array([2, 1, 0])
    """
    x = asarray(m)
    if x.ndim < 1:
        raise ValueError("Input must be >= 1-d.")
    return flip(x, 0)


def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Array:
    """``numpy.rot90``: rotated by 90 degrees ``k`` times in the plane of ``axes``.

    Examples
    --------
    >>> rot90(np.arange(4).reshape(2, 2)).compute()
    array([[1, 3],
           [0, 2]])
    """
    axes = tuple(axes)
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    x = asarray(m)
    if axes[0] == axes[1] or abs(axes[0] - axes[1]) == x.ndim:
        raise ValueError("Axes must be different.")
    if not all(-x.ndim <= a < x.ndim for a in axes):
        raise ValueError(f"Axes={axes} out of range for array of ndim={x.ndim}.")
    k %= 4
    if k == 0:
        return x
    if k == 2:
        return flip(flip(x, axes[0]), axes[1])
    order = list(range(x.ndim))
    order[axes[0]], order[axes[1]] = order[axes[1]], order[axes[0]]
    if k == 1:
        return flip(x, axes[1]).transpose(order)
    return flip(x.transpose(order), axes[1])


def roll(array: Any, shift: Any, axis: Any = None) -> Array:
    """``numpy.roll``: elements shifted along ``axis`` (the flattened array if None),
    those leaving one end coming back at the other.

    Raises
    ------
    TypeError
        If ``axis`` is None and ``shift`` is not an integer.
    ValueError
        If ``shift`` and ``axis`` have different lengths.

    Examples
    --------
    >>> roll(np.arange(5), 2).compute()
    array([3, 4, 0, 1, 2])
    """
    x = asarray(array)
    result = x
    if axis is None:
        result = ravel(x)
        if not isinstance(shift, numbers.Integral):
            raise TypeError("Expect `shift` to be an instance of Integral when `axis` is None.")
        shifts, axes = (shift,), (0,)
    else:
        shifts = tuple(shift) if isinstance(shift, Iterable) else (shift,)
        axes = tuple(axis) if isinstance(axis, Iterable) else (axis,)
    if len(shifts) != len(axes):
        raise ValueError("Must have the same number of shifts as axes.")
    for ax, sh in zip(axes, shifts, strict=True):
        ax = _check_axis(ax, result.ndim)
        n = result.shape[ax]
        require_known(result.chunks[ax : ax + 1], "roll")
        s = 0 if n == 0 else -int(sh) % n
        head = [slice(None)] * result.ndim
        tail = [slice(None)] * result.ndim
        head[ax], tail[ax] = slice(s, None), slice(None, s)
        result = concatenate([result[tuple(head)], result[tuple(tail)]], axis=ax)
    return reshape(result, x.shape) if axis is None else result


def _repeat_block(block: np.ndarray, repeats: int, axis: int) -> np.ndarray:
    return np.repeat(block, repeats, axis=axis)


def repeat(a: Any, repeats: int, axis: int | None = None) -> Array:
    """``numpy.repeat`` with an integer ``repeats``: each element repeated along ``axis``.

    Raises
    ------
    NotImplementedError
        If ``axis`` is None for an array of several dimensions, or ``repeats`` is not
        an integer (as Dask).
    ValueError
        If ``axis`` is out of range.

    Examples
    --------
    >>> repeat(np.arange(3), 2).compute()
    array([0, 0, 1, 1, 2, 2])
    """
    x = asarray(a)
    if axis is None:
        if x.ndim != 1:
            raise NotImplementedError("Must supply an integer axis value")
        axis = 0
    if not isinstance(repeats, numbers.Integral):
        raise NotImplementedError("Only integer valued repeats supported")
    if repeats < 0:
        raise ValueError(f"repeats may not contain negative values, got {repeats}")
    axis = _check_axis(axis, x.ndim)
    if repeats == 1:
        return x
    chunks = list(x.chunks)
    chunks[axis] = tuple(c * repeats for c in chunks[axis])
    from taskloom.array.blockwise import map_blocks

    return map_blocks(
        _repeat_block, x, repeats, axis, dtype=x.dtype, chunks=tuple(chunks), token="repeat"
    )


def tile(A: Any, reps: Any) -> Array:
    """``numpy.tile``: the array repeated ``reps`` times along each axis.

    Raises
    ------
    ValueError
        For negative ``reps``.

    Examples
    --------
    >>> tile(np.arange(2), 3).compute()
    array([0, 1, 0, 1, 0, 1])
    """
    tup = tuple(reps) if isinstance(reps, Iterable) else (reps,)
    if any(not isinstance(r, numbers.Integral) for r in tup):
        raise TypeError(f"reps must be integers, got {reps!r}")
    if any(r < 0 for r in tup):
        raise ValueError("Negative `reps` are not allowed.")
    x = asarray(A)
    if len(tup) < x.ndim:
        tup = (1,) * (x.ndim - len(tup)) + tup
    if x.ndim < len(tup):
        x = x[(None,) * (len(tup) - x.ndim)]
    for i, n in enumerate(tup):
        if n == 0:
            x = x[(slice(None),) * i + (slice(0, 0),)]
        elif n > 1:
            x = concatenate([x] * n, axis=i)
    return x


# -- broadcasting ----------------------------------------------------------------------


def _broadcast_block(block: np.ndarray, shape: tuple) -> np.ndarray:
    return np.broadcast_to(block, shape)


def broadcast_to(x: Any, shape: Any, chunks: Any = None, meta: Any = None) -> Array:
    """``numpy.broadcast_to``: ``x`` repeated along new leading axes and axes of
    length 1, as views of its blocks.

    New axes and broadcast axes are one block each unless ``chunks`` says otherwise
    (which, as Dask, may only change those axes).

    Raises
    ------
    ValueError
        If ``x`` cannot be broadcast to ``shape``, or ``chunks`` changes an axis that
        is not broadcast.

    Examples
    --------
    >>> import taskloom.array as da
    >>> broadcast_to(da.arange(3, chunks=2), (2, 3)).chunks
    ((2,), (2, 1))
    """
    x = asarray(x)
    shape = (shape,) if isinstance(shape, int | np.integer) else tuple(int(s) for s in shape)
    if x.shape == shape and (chunks is None or chunks == x.chunks):
        return x
    new = len(shape) - x.ndim
    if new < 0 or any(n != o for n, o in zip(shape[new:], x.shape, strict=True) if o != 1):
        raise ValueError(f"cannot broadcast shape {x.shape} to shape {shape}")
    if chunks is None:
        chunks = tuple((s,) for s in shape[:new]) + tuple(
            c if o != 1 else (n,) for c, o, n in zip(x.chunks, x.shape, shape[new:], strict=True)
        )
    else:
        chunks = normalize_chunks(chunks, shape, x.dtype, previous_chunks=None)
        for o, c in zip(x.chunks, chunks[new:], strict=True):
            if o != c and o != (1,):
                raise ValueError(
                    f"cannot broadcast chunks {x.chunks} to chunks {chunks}: new chunks "
                    "must either be along a new dimension or a dimension of size 1"
                )
    name = f"broadcast_to-{tokenize(x.name, shape, chunks)}"
    layer = {}
    for idx in np.ndindex(*[len(c) for c in chunks]):
        src = tuple(0 if x.shape[i] == 1 else idx[new + i] for i in range(x.ndim))
        block_shape = tuple(c[i] for c, i in zip(chunks, idx, strict=True))
        layer[(name, *idx)] = (_broadcast_block, (x.name, *src), block_shape)
    if not shape:
        layer = {(name,): (_broadcast_block, (x.name,), ())}
    return _derive(x, name, layer, chunks, x.dtype)


def _rechunked_to_common(arrays: list[Array], shape: tuple, common: tuple) -> list[Array]:
    """The arrays rechunked to the blocks ``common`` of the broadcast ``shape`` on their
    trailing axes; an axis of length 1 that is broadcast keeps its one block."""
    out = []
    for a in arrays:
        lead = len(shape) - a.ndim
        target = tuple(
            c if a.shape[i] == 1 and shape[lead + i] != 1 else common[lead + i]
            for i, c in enumerate(a.chunks)
        )
        out.append(a.rechunk(target))
    return out


def broadcast_arrays(*args: Any, subok: bool = False) -> list[Array]:
    """``numpy.broadcast_arrays``: the arrays broadcast to their common shape, with
    common blocks (a list, as Dask's).

    Examples
    --------
    >>> a, b = broadcast_arrays(np.arange(3), np.ones((2, 1)))
    >>> a.shape, b.shape
    ((2, 3), (2, 3))
    """
    arrays = [asarray(a) for a in args]
    out_shape = broadcast_shapes(*[a.shape for a in arrays])
    common = _common_chunks(arrays, out_shape)
    return [
        broadcast_to(a, out_shape, chunks=common)
        for a in _rechunked_to_common(arrays, out_shape, common)
    ]


# -- padding ---------------------------------------------------------------------------

_PAD_KWARGS = {
    "constant": {"constant_values"}, "empty": set(), "edge": set(), "wrap": set(),
    "linear_ramp": {"end_values"}, "maximum": {"stat_length"}, "mean": {"stat_length"},
    "median": {"stat_length"}, "minimum": {"stat_length"}, "reflect": {"reflect_type"},
    "symmetric": {"reflect_type"},
}  # fmt: skip


def _pairs(value: Any, ndim: int, as_index: bool, argname: str) -> np.ndarray:
    """numpy's ``_as_pairs``: one (before, after) pair per axis."""
    arr = np.asarray(value)
    if as_index:
        arr = np.round(arr).astype(np.intp) if arr.dtype.kind == "f" else arr
        if arr.dtype.kind not in "iu":
            raise TypeError(f"`{argname}` must be of integral type.")
        if (arr < 0).any():
            raise ValueError("index can't contain negative values")
    try:
        return np.broadcast_to(arr, (ndim, 2))
    except ValueError as e:
        raise ValueError(
            f"`{argname}` of shape {arr.shape} cannot be broadcast to ({ndim}, 2)"
        ) from e


def _slab(x: Array, axis: int, width: int, fill: Any, blocked: bool) -> Array:
    from taskloom.array.creation import full

    shape_ = list(x.shape)
    shape_[axis] = width
    chunks = list(x.chunks)
    # Dask's: constant pads in blocks of the axis's largest block, "empty" in one
    chunks[axis] = normalize_chunks(
        builtins.max(1, *x.chunks[axis]) if blocked and width else -1, (width,)
    )[0]
    return full(
        tuple(shape_), np.asarray(fill).astype(x.dtype)[()], dtype=x.dtype, chunks=tuple(chunks)
    )


def _ramp_block(edge: np.ndarray, end: Any, width: int, axis: int, after: bool) -> np.ndarray:
    ramp = np.linspace(
        end, edge.squeeze(axis), num=width, endpoint=False, dtype=edge.dtype, axis=axis
    )
    return np.flip(ramp, axis) if after else ramp


def _stat_block(block: np.ndarray, func: Callable, axis: int) -> np.ndarray:
    stat = func(block, axis=axis, keepdims=True)
    if np.issubdtype(block.dtype, np.integer):  # numpy rounds before casting back
        stat = np.round(stat)
    return stat.astype(block.dtype)


def _pad_axis(x: Array, axis: int, before: int, after: int, mode: str, kw: dict) -> Array:
    from taskloom.array.blockwise import map_blocks
    from taskloom.array.slicing import take as take_positions

    n = x.shape[axis]
    if mode in ("constant", "empty"):
        values = _pairs(kw.get("constant_values", 0), x.ndim, False, "constant_values")[axis]
        blocked = mode == "constant"
        parts = [
            _slab(x, axis, before, values[0], blocked),
            x,
            _slab(x, axis, after, values[1], blocked),
        ]
        return concatenate([p for p in parts if p.shape[axis] or p is x], axis=axis)
    if n == 0:
        raise ValueError(
            f"can't extend empty axis {axis} using modes other than 'constant' or 'empty'"
        )
    if mode in ("edge", "wrap", "reflect", "symmetric"):
        extra = {"reflect_type": kw["reflect_type"]} if "reflect_type" in kw else {}
        positions = np.pad(np.arange(n), (before, after), mode=mode, **extra)
        # The pads are blocks of their own; x's blocks are kept as they are.
        pads = [positions[:before], positions[before + n :]]
        parts = [take_positions(x, pads[0], axis), x, take_positions(x, pads[1], axis)]
        return concatenate([p for p in parts if p is x or p.shape[axis]], axis=axis)
    parts = []
    for width, side in ((before, 0), (after, 1)):
        if width == 0:
            parts.append(None)
            continue
        edge_at = [slice(None)] * x.ndim
        if mode == "linear_ramp":
            end = _pairs(kw.get("end_values", 0), x.ndim, False, "end_values")[axis][side]
            edge_at[axis] = slice(n - 1, n) if side else slice(0, 1)
            chunks = list(x.chunks)
            chunks[axis] = (width,)
            edge = x[tuple(edge_at)]
            parts.append(
                map_blocks(
                    _ramp_block,
                    edge,
                    end,
                    width,
                    axis,
                    bool(side),
                    dtype=x.dtype,
                    chunks=tuple(chunks),
                )
            )
            continue
        length = (
            _pairs(kw.get("stat_length"), x.ndim, True, "stat_length")[axis][side]
            if kw.get("stat_length") is not None
            else n
        )
        length = builtins.min(int(length), n)
        if length == 0:
            raise ValueError("stat_length of 0 yields no value for padding")
        edge_at[axis] = slice(n - length, n) if side else slice(0, length)
        region = x[tuple(edge_at)].rechunk({axis: -1})
        func = {"maximum": np.max, "minimum": np.min, "mean": np.mean, "median": np.median}
        chunks = list(region.chunks)
        chunks[axis] = (1,)
        stat = map_blocks(
            _stat_block, region, func[mode], axis, dtype=x.dtype, chunks=tuple(chunks)
        )
        parts.append(take_positions(stat, np.zeros(width, dtype=int), axis))
    return concatenate([p for p in (parts[0], x, parts[1]) if p is not None], axis=axis)


def _udf_block(block: np.ndarray, func: Callable, width: tuple, axis: int, kwargs: dict) -> Any:
    out = np.array(block)
    view = np.moveaxis(out, axis, -1)
    for idx in np.ndindex(view.shape[:-1]):
        func(view[idx], width, axis, kwargs)
    return out


def pad(array: Any, pad_width: Any, mode: Any = "constant", **kwargs: Any) -> Array:
    """``numpy.pad`` with every mode numpy has (and a function), lazily.

    Each axis is padded in turn, as numpy does, so corners follow numpy's rules.
    ``constant``/``empty`` join blocks of the fill value; ``edge``, ``reflect``,
    ``symmetric`` and ``wrap`` gather elements at positions numpy computes on
    ``arange`` (any width, even wider than the axis); ``linear_ramp`` and the
    statistics modes compute their pads from the edge elements only.

    Raises
    ------
    ValueError
        For an unknown mode, keywords the mode does not take, negative widths, or a
        mode other than ``constant``/``empty`` extending an empty axis.
    NotImplementedError
        For ``reflect_type="odd"`` (as Dask).

    Examples
    --------
    >>> pad(np.arange(3), 2, mode="reflect").compute()
    array([2, 1, 0, 1, 2, 1, 0])
    >>> pad(np.arange(3), (1, 0), constant_values=9).compute()
    array([9, 0, 1, 2])
    """
    x = asarray(array)
    widths = _pairs(pad_width, x.ndim, True, "pad_width")
    require_known(x.chunks, "pad")
    if callable(mode):
        out = pad(x, widths, "constant", constant_values=0)
        for axis in range(out.ndim):
            whole = out.rechunk({axis: -1})
            out = whole.map_blocks(
                _udf_block, mode, tuple(int(w) for w in widths[axis]), axis, kwargs, dtype=x.dtype
            ).rechunk(out.chunks)
        return out
    if mode not in _PAD_KWARGS:
        raise ValueError(f"mode '{mode}' is not supported")
    unsupported = set(kwargs) - _PAD_KWARGS[mode]
    if unsupported:
        raise ValueError(f"unsupported keyword arguments for mode '{mode}': {unsupported}")
    if kwargs.get("reflect_type", "even") == "odd":
        raise NotImplementedError("`pad` does not support `reflect_type` of `odd`.")
    if kwargs.get("reflect_type", "even") != "even":
        raise ValueError("unsupported value for reflect_type, must be one of (`even`, `odd`)")
    for axis, (before, after) in enumerate(widths):
        if before or after:
            x = _pad_axis(x, axis, int(before), int(after), mode, kwargs)
    return x


# -- differences -----------------------------------------------------------------------


def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Array:
    """``numpy.diff``: the ``n``-th discrete difference along ``axis`` (``!=`` for
    booleans, as numpy).

    Raises
    ------
    ValueError
        For a negative ``n``.

    Examples
    --------
    >>> diff(np.array([1, 4, 9, 16]), prepend=0).compute()
    array([1, 3, 5, 7])
    """
    x = asarray(a)
    n = int(n)
    if n == 0:
        return x
    if n < 0:
        raise ValueError(f"order must be non-negative but got {n}")
    axis = _check_axis(axis, x.ndim)

    def edge(extra: Any) -> Array:
        e = asarray(extra)
        if e.ndim == 0:  # a scalar: one slice along the axis
            shape_ = list(x.shape)
            shape_[axis] = 1
            e = broadcast_to(e, tuple(shape_))
        return e

    parts = [edge(prepend)] if prepend is not None else []
    parts.append(x)
    if append is not None:
        parts.append(edge(append))
    if len(parts) > 1:
        x = concatenate(parts, axis=axis)
    op = np.not_equal if x.dtype == bool else np.subtract
    hi = tuple(slice(1, None) if i == axis else slice(None) for i in range(x.ndim))
    lo = tuple(slice(None, -1) if i == axis else slice(None) for i in range(x.ndim))
    for _ in range(n):
        x = elemwise(op, x[hi], x[lo])
    return x


def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Array:
    """``numpy.ediff1d``: differences of the flattened array, with values before and
    after.

    Examples
    --------
    >>> ediff1d(np.array([1, 2, 4]), to_begin=-1).compute()
    array([-1,  1,  2])
    """
    flat = ravel(asarray(ary))
    parts = [flat[1:] - flat[:-1]]
    if to_begin is not None:
        parts.insert(0, ravel(asarray(to_begin)).astype(flat.dtype))
    if to_end is not None:
        parts.append(ravel(asarray(to_end)).astype(flat.dtype))
    return concatenate(parts) if len(parts) > 1 else parts[0]


def _gradient_block(
    block: np.ndarray, spacing: Any, axis: int, trim: tuple, edge_order: int
) -> np.ndarray:
    g = np.gradient(
        block, *([] if spacing is None else [spacing]), axis=axis, edge_order=edge_order
    )
    index = [slice(None)] * block.ndim
    index[axis] = slice(trim[0], block.shape[axis] - trim[1])
    return g[tuple(index)]


def gradient(f: Any, *varargs: Any, axis: Any = None, **kwargs: Any) -> Any:
    """``numpy.gradient``: central differences inside, one-sided at the ends.

    Each block is computed by ``numpy.gradient`` itself on the block widened by up to
    two elements of its neighbours, so every chunking gives numpy's values. Spacings
    are scalars or 1-d coordinate arrays, one for all axes or one per axis.

    Raises
    ------
    ValueError
        If an axis is shorter than ``edge_order + 1`` or ``edge_order`` exceeds 2.
    TypeError
        For a number of spacings that is neither 0, 1 nor the number of axes.

    Examples
    --------
    >>> gradient(np.array([1.0, 2.0, 4.0, 7.0])).compute()
    array([1. , 1.5, 2.5, 3. ])
    """
    from taskloom.array.blockwise import map_blocks

    x = asarray(f)
    edge_order = kwargs.pop("edge_order", 1)
    if kwargs:
        raise TypeError(f"gradient got unexpected keyword arguments {sorted(kwargs)}")
    if edge_order > 2:
        raise ValueError("'edge_order' greater than 2 not supported")
    axes = _axis_tuple(range(x.ndim) if axis is None else axis, x.ndim, "axis")
    if len(varargs) == 0:
        spacings: list = [None] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacings = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacings = list(varargs)
    else:
        raise TypeError("invalid number of arguments")
    require_known(x.chunks, "gradient")
    dtype = x.dtype if np.issubdtype(x.dtype, np.inexact) else np.dtype("f8")
    results = []
    for ax, h in zip(axes, spacings, strict=True):
        n = x.shape[ax]
        if n < edge_order + 1:
            raise ValueError(
                "Shape of array too small to calculate a numerical gradient, "
                "at least (edge_order + 1) elements are required."
            )
        if h is not None and np.ndim(h) == 1:
            h = np.asarray(h)
            if len(h) != n:
                raise ValueError(
                    "when 1d, distances must match the length of the corresponding dimension"
                )
        elif h is not None and np.ndim(h) != 0:
            raise ValueError("distances must be either scalars or 1d")
        pieces = []
        offsets = _offsets(x.chunks[ax])
        for lo, hi in pairwise(offsets):
            wlo, whi = builtins.max(0, lo - 2), builtins.min(n, hi + 2)
            index = tuple(slice(wlo, whi) if i == ax else slice(None) for i in range(x.ndim))
            spacing = h[wlo:whi] if h is not None and np.ndim(h) == 1 else h
            chunks = list(x.chunks)
            chunks[ax] = (hi - lo,)
            pieces.append(
                map_blocks(
                    _gradient_block,
                    x[index].rechunk({ax: -1}),
                    spacing,
                    ax,
                    (lo - wlo, whi - hi),
                    edge_order,
                    dtype=dtype,
                    chunks=tuple(chunks),
                    token="gradient",
                )
            )
        results.append(concatenate(pieces, axis=ax))
    return results[0] if len(results) == 1 else results


# -- triangles and diagonals -------------------------------------------------------------


def _tri_op(func: Callable, m: Any, k: int) -> Array:
    x = asarray(m)
    if x.ndim < 2:
        raise ValueError("input must be at least 2-d")
    require_known(x.chunks[-2:], func.__name__)
    name = f"{func.__name__}-{tokenize(x.name, k)}"
    rows, cols = _offsets(x.chunks[-2]), _offsets(x.chunks[-1])
    layer = {
        (name, *idx): (func, (x.name, *idx), k + rows[idx[-2]] - cols[idx[-1]])
        for idx in np.ndindex(*x.numblocks)
    }
    return _derive(x, name, layer, x.chunks, x.dtype)


def tril(m: Any, k: int = 0) -> Array:
    """``numpy.tril``: elements above diagonal ``k`` of the last two axes zeroed.

    Examples
    --------
    >>> tril(np.ones((2, 2))).compute()
    array([[1., 0.],
           [1., 1.]])
    """
    return _tri_op(np.tril, m, k)


def triu(m: Any, k: int = 0) -> Array:
    """``numpy.triu``: elements below diagonal ``k`` of the last two axes zeroed.

    Examples
    --------
    >>> triu(np.ones((2, 2))).compute()
    array([[1., 1.],
           [0., 1.]])
    """
    return _tri_op(np.triu, m, k)


def _zeros_block(shape_: tuple, dtype: Any) -> np.ndarray:
    return np.zeros(shape_, dtype=dtype)


def diag(v: Any, k: int = 0) -> Array:
    """``numpy.diag``: a 2-d array with ``v`` on diagonal ``k``, or the diagonal of a
    2-d ``v``.

    Raises
    ------
    ValueError
        If ``v`` is neither 1-d nor 2-d.

    Examples
    --------
    >>> diag(np.array([1, 2]), 1).compute()
    array([[0, 1, 0],
           [0, 0, 2],
           [0, 0, 0]])
    """
    x = asarray(v)
    if x.ndim == 2:
        return diagonal(x, k)
    if x.ndim != 1:
        raise ValueError("Array must be 1d or 2d only")
    require_known(x.chunks, "diag")
    if k:
        w = abs(int(k))
        return pad(diag(x), [[0, w], [w, 0]] if k > 0 else [[w, 0], [0, w]])
    name = f"diag-{tokenize(x.name)}"
    c = x.chunks[0]
    layer = {
        (name, i, j): (np.diag, (x.name, i)) if i == j else (_zeros_block, (c[i], c[j]), x.dtype)
        for i in range(len(c))
        for j in range(len(c))
    }
    return _derive(x, name, layer, (c, c), x.dtype)


def _diagonal_piece(block: np.ndarray, r: int, c: int, n: int) -> np.ndarray:
    return np.diagonal(block[..., r : r + n, c : c + n], axis1=-2, axis2=-1)


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Array:
    """``numpy.diagonal``: the diagonal ``offset`` of the plane (``axis1``, ``axis2``),
    as the last axis after the others.

    Each piece of the diagonal inside one block is taken from that block only.

    Raises
    ------
    ValueError
        For arrays of fewer than 2 dimensions or equal axes.

    Examples
    --------
    >>> diagonal(np.arange(9).reshape(3, 3), 1).compute()
    array([1, 5])
    """
    x = asarray(a)
    axis1, axis2 = _diagonal_axes(x, axis1, axis2)
    others = [i for i in range(x.ndim) if i not in (axis1, axis2)]
    y = x.transpose([*others, axis1, axis2])
    require_known(y.chunks[-2:], "diagonal")
    n1, n2 = y.shape[-2:]
    r0, c0 = builtins.max(0, -offset), builtins.max(0, offset)
    length = builtins.max(0, builtins.min(n1 - r0, n2 - c0))
    roff, coff = _offsets(y.chunks[-2]), _offsets(y.chunks[-1])
    t = np.arange(length)
    rb = np.searchsorted(roff, r0 + t, side="right") - 1
    cb = np.searchsorted(coff, c0 + t, side="right") - 1
    starts = [0] + [i for i in range(1, length) if rb[i] != rb[i - 1] or cb[i] != cb[i - 1]]
    segments = []
    for s, e in zip(starts, [*starts[1:], length], strict=True):
        if length:
            b1, b2 = int(rb[s]), int(cb[s])
            segments.append((b1, b2, r0 + s - roff[b1], c0 + s - coff[b2], e - s))
    if not segments:
        segments = [(0, 0, 0, 0, 0)]
    name = f"diagonal-{tokenize(x.name, offset, axis1, axis2)}"
    layer = {}
    for k, (b1, b2, r, c, n) in enumerate(segments):
        for o in np.ndindex(*y.numblocks[:-2]):
            layer[(name, *o, k)] = (_diagonal_piece, (y.name, *o, b1, b2), r, c, n)
    chunks = (*y.chunks[:-2], tuple(seg[-1] for seg in segments))
    return _derive(y, name, layer, chunks, x.dtype)


def tril_indices(n: int, k: int = 0, m: int | None = None, chunks: Any = "auto") -> tuple:
    """``numpy.tril_indices``: row and column indices of the lower triangle (block
    sizes unknown, as Dask's: they come from :func:`nonzero`).

    Examples
    --------
    >>> [i.compute() for i in tril_indices(2)]
    [array([0, 1, 1]), array([0, 0, 1])]
    """
    from taskloom.array.creation import tri

    return nonzero(tri(n, m, k=k, dtype=bool, chunks=chunks))


def triu_indices(n: int, k: int = 0, m: int | None = None, chunks: Any = "auto") -> tuple:
    """``numpy.triu_indices``: row and column indices of the upper triangle.

    Examples
    --------
    >>> [i.compute() for i in triu_indices(2)]
    [array([0, 0, 1]), array([0, 1, 1])]
    """
    from taskloom.array.creation import tri

    return nonzero(~tri(n, m, k=k - 1, dtype=bool, chunks=chunks))


def tril_indices_from(arr: Any, k: int = 0) -> tuple:
    """``numpy.tril_indices_from``: :func:`tril_indices` for the shape of ``arr``.

    Examples
    --------
    >>> [i.compute() for i in tril_indices_from(np.ones((2, 2)))]
    [array([0, 1, 1]), array([0, 0, 1])]
    """
    x = asarray(arr)
    if x.ndim != 2:
        raise ValueError("input array must be 2-d")
    return tril_indices(x.shape[-2], k=k, m=x.shape[-1], chunks=x.chunks)


def triu_indices_from(arr: Any, k: int = 0) -> tuple:
    """``numpy.triu_indices_from``: :func:`triu_indices` for the shape of ``arr``.

    Examples
    --------
    >>> [i.compute() for i in triu_indices_from(np.ones((2, 2)))]
    [array([0, 0, 1]), array([0, 1, 1])]
    """
    x = asarray(arr)
    if x.ndim != 2:
        raise ValueError("input array must be 2-d")
    return triu_indices(x.shape[-2], k=k, m=x.shape[-1], chunks=x.chunks)


# -- products ----------------------------------------------------------------------------


def _chunk_einsum(
    *operands: np.ndarray,
    subscripts: str,
    kernel_dtype: Any,
    ncontract_inds: int,
    optimize: Any,
    **kwargs: Any,
) -> np.ndarray:
    chunk = np.einsum(subscripts, *operands, dtype=kernel_dtype, optimize=optimize, **kwargs)
    return chunk.reshape(chunk.shape + (1,) * ncontract_inds)


def einsum(
    *operands: Any, dtype: Any = None, optimize: Any = False, split_every: Any = None, **kwargs: Any
) -> Array:
    """``numpy.einsum`` on blocks, as Dask's: each block product keeps the contracted
    indices as axes of length 1, summed afterwards as a tree reduction.

    ``optimize`` is passed to ``numpy.einsum`` for each block; other keywords
    (``casting``, ``order``) too.

    Examples
    --------
    >>> import taskloom.array as da
    >>> a = da.from_array(np.arange(6).reshape(2, 3), chunks=1)
    >>> einsum("ij,ij->i", a, a).compute()
    array([ 5, 50])
    """
    from numpy._core.einsumfunc import _parse_einsum_input

    if not operands:
        raise ValueError("No input operands")
    # numpy's parser reads only shapes: stand-ins of zero bytes, nothing is computed.
    stand_in = [
        np.broadcast_to(np.empty((), o.dtype), tuple(1 if n != n else n for n in o.shape))
        if isinstance(o, Array)
        else o
        for o in operands
    ]
    inputs, outputs, ops = _parse_einsum_input(stand_in)
    given = operands[1:] if isinstance(operands[0], str) else operands[0::2]
    arrays = [asarray(o) for o in given[: len(ops)]]
    subscripts = f"{inputs}->{outputs}"
    result_dtype = np.result_type(*[a.dtype for a in arrays]) if dtype is None else np.dtype(dtype)
    ins = [tuple(i) for i in inputs.split(",")]
    contract = sorted({c for i in ins for c in i} - set(outputs))
    pairs = [v for a, i in zip(arrays, ins, strict=True) for v in (a, i)]
    from taskloom.array.blockwise import blockwise

    result = blockwise(
        _chunk_einsum,
        tuple(outputs) + tuple(contract),
        *pairs,
        adjust_chunks=dict.fromkeys(contract, 1),
        dtype=result_dtype,
        token="einsum",
        subscripts=subscripts,
        kernel_dtype=dtype,
        ncontract_inds=len(contract),
        optimize=optimize,
        **kwargs,
    )
    if contract:
        size = len(outputs)
        return result.sum(
            axis=tuple(range(size, size + len(contract))),
            dtype=result_dtype,
            split_every=split_every,
        )
    return result


def outer(a: Any, b: Any) -> Array:
    """``numpy.outer``: the products of every element of ``a`` with every one of ``b``
    (both flattened).

    Examples
    --------
    >>> outer(np.arange(2), np.arange(3)).compute()
    array([[0, 0, 0],
           [0, 1, 2]])
    """
    from taskloom.array.blockwise import blockwise

    a, b = ravel(asarray(a)), ravel(asarray(b))
    dtype = np.outer(np.ones(1, a.dtype), np.ones(1, b.dtype)).dtype
    return blockwise(np.outer, "ij", a, "i", b, "j", dtype=dtype)


def vdot(a: Any, b: Any) -> Array:
    """``numpy.vdot``: the dot product of the flattened arrays, ``a`` conjugated.

    Examples
    --------
    >>> vdot(np.array([1j, 2]), np.array([1j, 1])).compute()
    np.complex128(3+0j)
    """
    return dot(ravel(elemwise(np.conj, asarray(a))), ravel(asarray(b)))


# -- selection ---------------------------------------------------------------------------


def take(a: Any, indices: Any, axis: int = 0) -> Array:
    """``numpy.take``: the elements at ``indices`` along ``axis``.

    Examples
    --------
    >>> take(np.arange(10, 15), [4, 0, 4]).compute()
    array([14, 10, 14])
    """
    x = asarray(a)
    axis = _check_axis(axis, x.ndim)
    return x[(slice(None),) * axis + (indices,)]


def _choose(a: np.ndarray, *choices: np.ndarray) -> np.ndarray:
    return np.choose(a, choices)


def choose(a: Any, choices: Sequence[Any]) -> Array:
    """``numpy.choose``: element by element, the value of the choice ``a`` names.

    Examples
    --------
    >>> choose(np.array([0, 1, 0]), [np.zeros(3), np.ones(3)]).compute()
    array([0., 1., 0.])
    """
    from taskloom.array.blockwise import map_blocks

    arrays = broadcast_arrays(a, *choices)
    dtype = np.result_type(*[c.dtype for c in arrays[1:]])
    return map_blocks(_choose, *arrays, dtype=dtype, token="choose")


def _select(n: int, default: Any, *arrays: np.ndarray) -> np.ndarray:
    return np.select(list(arrays[:n]), list(arrays[n:]), default)


def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0) -> Array:
    """``numpy.select``: element by element, the choice of the first true condition.

    Raises
    ------
    ValueError
        If the lists differ in length or are empty.
    TypeError
        If a condition is not boolean.

    Examples
    --------
    >>> x = np.arange(4)
    >>> select([x < 1, x > 2], [x, -x], default=9).compute()
    array([ 0,  9,  9, -3])
    """
    from taskloom.array.blockwise import map_blocks

    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if len(condlist) == 0:
        raise ValueError("select with an empty condition list is not possible")
    conds = [asarray(c) for c in condlist]
    for i, c in enumerate(conds):
        if c.dtype != bool:
            raise TypeError(f"invalid entry {i} in condlist: should be boolean ndarray")
    choices = [asarray(c) for c in choicelist]
    dtype = np.result_type(*[c.dtype for c in choices], np.asarray(default))
    arrays = broadcast_arrays(*conds, *choices)
    return map_blocks(_select, len(conds), default, *arrays, dtype=dtype, token="select")


def delete(arr: Any, obj: Any, axis: int) -> Array:
    """``numpy.delete`` along ``axis`` (``obj`` an index, slice or indices): the blocks
    keep their places, shrunk by the deleted elements.

    Examples
    --------
    >>> delete(np.arange(5), [0, 3], axis=0).compute()
    array([1, 2, 4])
    """
    from taskloom.array.slicing import take as take_positions

    x = asarray(arr)
    axis = _check_axis(axis, x.ndim)
    require_known(x.chunks[axis : axis + 1], "delete")
    return take_positions(x, np.delete(np.arange(x.shape[axis]), obj), axis)


def insert(arr: Any, obj: Any, values: Any, axis: int) -> Array:
    """``numpy.insert`` along ``axis``: ``values`` (cast to the array's dtype and
    broadcast as numpy does) placed before the indices ``obj``.

    Examples
    --------
    >>> insert(np.arange(4), [1, 3], [-1, -3], axis=0).compute()
    array([ 0, -1,  1,  2, -3,  3])
    """
    from taskloom.array.slicing import take as take_positions

    x = asarray(arr)
    axis = _check_axis(axis, x.ndim)
    require_known(x.chunks[axis : axis + 1], "insert")
    n = x.shape[axis]
    indices = np.arange(*obj.indices(n)) if isinstance(obj, slice) else np.asarray(obj)
    if indices.ndim > 1:
        raise ValueError("index array argument obj to insert must be one dimensional or scalar")
    v = asarray(values).astype(x.dtype)
    if v.ndim < x.ndim:
        v = v[(None,) * (x.ndim - v.ndim)]
    if indices.size == 1:
        if indices.ndim == 0:
            v = moveaxis(v, 0, axis)
        numnew = v.shape[axis]
    else:
        numnew = len(indices)
    target = list(x.shape)
    target[axis] = numnew
    v = broadcast_to(v, tuple(target))
    positions = np.insert(np.arange(n), obj, np.arange(n, n + numnew))
    joined = concatenate(
        [x, v.rechunk({i: x.chunks[i] for i in range(x.ndim) if i != axis})], axis=axis
    )
    return take_positions(joined, positions, axis)


def append(arr: Any, values: Any, axis: int | None = None) -> Array:
    """``numpy.append``: ``values`` joined at the end (both flattened if ``axis`` is
    None).

    Examples
    --------
    >>> append(np.arange(2), [[5, 6]]).compute()
    array([0, 1, 5, 6])
    """
    x = asarray(arr)
    if axis is None:
        x = ravel(x) if x.ndim != 1 else x
        return concatenate([x, ravel(asarray(values))], axis=0)
    return concatenate([x, asarray(values)], axis=axis)


def _ravel_multi_index_block(block: np.ndarray, dims: tuple, mode: Any, order: str) -> Any:
    return np.ravel_multi_index(tuple(block), dims, mode=mode, order=order)


def ravel_multi_index(multi_index: Any, dims: Any, mode: Any = "raise", order: str = "C") -> Array:
    """``numpy.ravel_multi_index``: flat indices of index tuples, block by block.

    Raises
    ------
    NotImplementedError
        If ``dims`` is lazy.
    ValueError
        If ``multi_index`` does not have one entry per dimension.
    TypeError
        For indices that are not signed integers.

    Examples
    --------
    >>> ravel_multi_index((np.array([0, 1]), np.array([2, 0])), (2, 3)).compute()
    array([2, 3])
    """
    from taskloom.array.blockwise import map_blocks

    dims = (dims,) if np.isscalar(dims) else tuple(dims)
    if any(isinstance(d, Array) for d in dims):
        raise NotImplementedError(f"lazy arrays are not supported in the `dims` argument: {dims!r}")
    if isinstance(multi_index, Array | np.ndarray):
        stacked = asarray(multi_index)
    else:
        stacked = stack(broadcast_arrays(*multi_index))
    if not has_unknown(stacked.chunks[:1]) and len(stacked) != len(dims):
        raise ValueError(f"parameter multi_index must be a sequence of length {len(dims)}")
    if not np.issubdtype(stacked.dtype, np.signedinteger):
        raise TypeError("only int indices permitted")
    stacked = stacked.rechunk({0: -1})
    return map_blocks(
        _ravel_multi_index_block,
        stacked,
        dims,
        mode,
        order,
        dtype=np.intp,
        drop_axis=0,
        token="ravel_multi_index",
    )


def _unravel_block(block: np.ndarray, shape_: tuple, order: str) -> np.ndarray:
    return np.stack(np.unravel_index(block, shape_, order=order))


def unravel_index(indices: Any, shape: Any, order: str = "C") -> tuple:
    """``numpy.unravel_index``: index tuples of flat indices (a tuple of arrays).

    Examples
    --------
    >>> [i.compute() for i in unravel_index(np.array([2, 3]), (2, 3))]
    [array([0, 1]), array([2, 0])]
    """
    from taskloom.array.blockwise import map_blocks
    from taskloom.array.creation import empty

    x = asarray(indices)
    shape_ = (shape,) if np.isscalar(shape) else tuple(shape)
    if shape_ and x.size:
        stacked = map_blocks(
            _unravel_block,
            x,
            shape_,
            order,
            dtype=np.intp,
            new_axis=0,
            chunks=((len(shape_),), *x.chunks),
        )
        return tuple(stacked[i] for i in range(len(shape_)))
    # numpy's: one (empty) array per dimension (Dask's tuple here has none)
    return tuple(empty(x.shape, chunks=x.chunks, dtype=np.intp) for _ in shape_)


# -- unknown sizes: nonzero and kin --------------------------------------------------------


def argwhere(a: Any) -> Array:
    """``numpy.argwhere``: the indices of the non-zero elements, one row each (block
    sizes along the rows unknown, as Dask's).

    Examples
    --------
    >>> argwhere(np.array([[0, 1], [2, 0]])).compute()
    array([[0, 1],
           [1, 0]])
    """
    from taskloom.array.creation import indices

    x = asarray(a)
    if x.ndim == 0:  # numpy's: one row (or none) of no coordinates
        return argwhere(x[None])[:, :0]
    nz = ravel(x.astype(bool))
    ind = indices(x.shape, dtype=np.intp, chunks=x.chunks)
    return stack([ravel(ind[i]) for i in range(x.ndim)], axis=1)[nz]


def nonzero(a: Any) -> tuple:
    """``numpy.nonzero``: a tuple with the indices of the non-zero elements along each
    axis (block sizes unknown).

    Examples
    --------
    >>> nonzero(np.array([0, 3, 0, 4]))[0].compute()
    array([1, 3])
    """
    x = asarray(a)
    if x.ndim == 0:
        raise ValueError("Calling nonzero on 0d arrays is not allowed. Use np.atleast_1d first")
    ind = argwhere(x)
    return tuple(ind[:, i] for i in range(ind.shape[1]))


def flatnonzero(a: Any) -> Array:
    """``numpy.flatnonzero``: the indices of the non-zero elements of the flattened
    array (block sizes unknown).

    Examples
    --------
    >>> flatnonzero(np.array([[0, 1], [2, 0]])).compute()
    array([1, 2])
    """
    return argwhere(ravel(asarray(a)))[:, 0]


def compress(condition: Any, a: Any, axis: int | None = None) -> Array:
    """``numpy.compress``: the slices along ``axis`` (of the flattened array if None)
    where ``condition`` is true; a short condition counts as false beyond its end.

    A lazy ``condition`` gives unknown block sizes along ``axis``.

    Examples
    --------
    >>> compress([False, True], np.arange(4).reshape(2, 2), axis=0).compute()
    array([[2, 3]])
    """
    cond = condition if isinstance(condition, Array) else np.asarray(condition)
    cond = cond.astype(bool)
    if cond.ndim != 1:
        raise ValueError("Condition must be one dimensional")
    x = asarray(a)
    if axis is None:
        x, axis = ravel(x), 0
    axis = _check_axis(axis, x.ndim)
    if not has_unknown(cond.chunks if isinstance(cond, Array) else ()) and not has_unknown(
        x.chunks[axis : axis + 1]
    ):
        if len(cond) > x.shape[axis]:
            raise IndexError(
                f"index {len(cond) - 1} is out of bounds for axis {axis} with size {x.shape[axis]}"
            )
        x = x[(slice(None),) * axis + (slice(None, len(cond)),)]
    return x[(slice(None),) * axis + (cond,)]


def extract(condition: Any, arr: Any) -> Array:
    """``numpy.extract``: the elements of the flattened ``arr`` where the flattened
    ``condition`` is true.

    Examples
    --------
    >>> x = np.arange(6)
    >>> extract(x % 2 == 0, x).compute()
    array([0, 2, 4])
    """
    cond = ravel(asarray(condition))
    return compress(cond, ravel(asarray(arr)))


# -- reorganizing blocks -------------------------------------------------------------------


def _shuffle_groups(chunks: tuple, indexer: list, axis: int) -> list | None:
    """Dask's grouping of ``indexer`` into output blocks (None: nothing to do)."""
    sizes = chunks[axis]
    if len(indexer) == len(sizes):
        start = 0
        for group, c in zip(indexer, sizes, strict=True):
            if group != list(range(start, start + c)):
                break
            start += c
        else:
            return None
    tolerance = _TOLERANCE
    limit = int(builtins.sum(sizes) / len(sizes) * tolerance)
    current: list = []
    out = []
    for group in indexer:
        if len(current) + len(group) > limit and current:
            out.append(current)
            current = list(group)
        else:
            current.extend(group)
            if len(current) > limit / tolerance:
                out.append(current)
                current = []
    if current:
        out.append(current)
    return out


_TOLERANCE = 1.25  # Dask's array.chunk-size-tolerance


def _split_other_axes(chunks: tuple, longest: int, axis: int) -> tuple:
    """Dask's ``_rechunk_other_dimensions``: when a group makes blocks grow along
    ``axis``, the other axes' blocks are split (never merged) to keep the block size."""
    new = list(chunks)
    new[axis] = (longest,)
    largest = builtins.max(math.prod(builtins.max(c) for c in chunks), 1)
    changeable = set(range(len(chunks))) - {axis}
    while changeable:
        factor = math.prod(builtins.max(c) for c in new) / largest
        if factor <= 1:
            break
        for i in sorted(changeable):
            limit = builtins.max(new[i]) / factor ** (1 / len(changeable))
            sizes = []
            for c in chunks[i]:
                if c > _TOLERANCE * limit:
                    parts = builtins.min(math.ceil(c / limit), c)
                    q, r = divmod(c, parts)
                    sizes += [q + 1] * r + [q] * (parts - r)
                else:
                    sizes.append(c)
            if tuple(sizes) == new[i] or builtins.max(sizes) == 1:
                changeable.discard(i)
            new[i] = tuple(sizes)
    new[axis] = chunks[axis]
    return tuple(new)


def shuffle(x: Array, indexer: list[list[int]], axis: int, chunks: str = "auto") -> Array:
    """Reorder ``axis`` by groups of positions, as Dask's ``shuffle``: each group ends
    up in one block, and small groups share blocks (up to 1.25 times the mean block).

    Raises
    ------
    ValueError
        For unknown block sizes or an indexer that is not a list of lists.
    IndexError
        For an out-of-range position.

    Examples
    --------
    >>> import taskloom.array as da
    >>> y = shuffle(da.arange(10, chunks=3), [[0, 5], [1, 2, 3], [9, 8]], 0)
    >>> y.chunks, y.compute()
    (((2, 3, 2),), array([0, 5, 1, 2, 3, 9, 8]))
    """
    from taskloom.array.slicing import take as take_positions

    x = asarray(x)
    if has_unknown(x.chunks):
        raise ValueError(f"Shuffling only allowed with known chunk sizes. {UNKNOWN_CHUNK_MESSAGE}")
    if chunks != "auto":
        raise ValueError(f"chunks={chunks!r}: only 'auto' is supported, as Dask")
    if not isinstance(axis, int | np.integer):
        raise TypeError(f"axis must be an integer, got {axis!r}")
    if not isinstance(indexer, list) or not all(isinstance(i, list) for i in indexer):
        raise ValueError("indexer must be a list of lists of positional indices")
    axis = _check_axis(axis, x.ndim)
    flat = [p for group in indexer for p in group]
    if flat and (builtins.max(flat) >= x.shape[axis] or builtins.min(flat) < 0):
        raise IndexError(
            f"Indexer contains out of bounds index. Dimension only has {x.shape[axis]} elements."
        )
    groups = _shuffle_groups(x.chunks, indexer, axis)
    if groups is None:
        return x
    longest = builtins.max(map(len, indexer))
    if longest > builtins.max(x.chunks[axis]) * _TOLERANCE:  # Dask's: split other axes
        x = x.rechunk(_split_other_axes(x.chunks, longest, axis))
    y = take_positions(x, np.asarray(flat, dtype=int), axis)
    return y.rechunk({axis: tuple(len(g) for g in groups) or (0,)})


def reshape_blockwise(x: Array, shape: Any, chunks: tuple | None = None) -> Array:
    """Reshape every block on its own, as Dask's ``reshape_blockwise``: no rechunking,
    but the elements are not in numpy's order unless the blocks allow it.

    Reducing the number of axes merges trailing axes (``(1, 2, 3, 4) -> (1, 6, 4)``);
    adding axes needs ``chunks``, whose blocks must each hold as many elements as the
    matching input block.

    Raises
    ------
    ValueError
        For unknown sizes, a different total size, ``chunks`` when axes are merged, or
        blocks of other sizes than the input's.
    TypeError
        When axes are added without ``chunks``.

    Examples
    --------
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(27).reshape(3, 3, 3), chunks=(3, 2, (2, 1)))
    >>> reshape_blockwise(x, (3, 9)).chunks
    ((3,), (4, 2, 2, 1))
    """
    x = asarray(x)
    if shape in (-1, (-1,)):
        shape = (math.prod(x.shape),)
    shape = tuple(shape) if isinstance(shape, tuple | list) else (shape,)
    if has_unknown(x.chunks):
        raise ValueError(
            f"Array chunk size or shape is unknown. shape: {x.shape}\n\n"
            "Possible solution with x.compute_chunk_sizes()"
        )
    if reduce(mul, shape, 1) != x.size:
        raise ValueError("total size of new array must be unchanged")
    if len(shape) == x.ndim and shape == x.shape:
        return x
    name = f"reshape-blockwise-{tokenize(x.name, shape, chunks)}"
    in_idx = list(np.ndindex(*x.numblocks))
    in_shapes = list(itertools.product(*x.chunks))
    if len(shape) > x.ndim:
        if chunks is None:
            raise TypeError("Need to specify chunks if expanding dimensions.")
        chunks = tuple(tuple(int(c) for c in cs) for cs in chunks)
        out_shapes = list(itertools.product(*chunks))
        bad = [
            i
            for i, (a, b) in enumerate(zip(in_shapes, out_shapes, strict=False))
            if math.prod(a) != math.prod(b)
        ]
        if bad or len(in_shapes) != len(out_shapes):
            raise ValueError(f"Chunk sizes do not match for the following chunks: {bad[:5]}.")
        layer = {
            (name, *o): (np.reshape, (x.name, *i), s)
            for i, o, s in zip(
                in_idx, np.ndindex(*[len(c) for c in chunks]), out_shapes, strict=True
            )
        }
        return _derive(x, name, layer, chunks, x.dtype)
    if chunks is not None:
        raise ValueError("Setting chunks is not allowed when reducing the number of dimensions.")
    groups = _merge_groups(x.shape, shape)
    out_chunks = []
    for g in groups:
        sizes = [reduce(mul, combo, 1) for combo in itertools.product(*[x.chunks[a] for a in g])]
        out_chunks.append(tuple(sizes) if g else (1,))
    layer = {}
    for i, s in zip(in_idx, in_shapes, strict=True):
        out = []
        block = []
        for g in groups:
            out.append(
                int(np.ravel_multi_index([i[a] for a in g], [x.numblocks[a] for a in g]))
                if g
                else 0
            )
            block.append(reduce(mul, [s[a] for a in g], 1))
        layer[(name, *out)] = (np.reshape, (x.name, *i), tuple(block))
    return _derive(x, name, layer, tuple(out_chunks), x.dtype)


def _merge_groups(inshape: tuple, outshape: tuple) -> list[list[int]]:
    """For each output axis, the input axes merged into it (axes of length 1 in the
    input that vanish belong to none)."""
    groups: list[list[int]] = [[] for _ in outshape]
    ii, oi = len(inshape) - 1, len(outshape) - 1
    while ii >= 0 or oi >= 0:
        din = inshape[ii] if ii >= 0 else None
        dout = outshape[oi] if oi >= 0 else None
        if din is not None and din == dout:
            groups[oi].append(ii)
            ii, oi = ii - 1, oi - 1
        elif din == 1:
            ii -= 1
        elif dout == 1:
            oi -= 1
        elif din is not None and dout is not None and din < dout:
            ileft = ii
            while ileft > 0 and reduce(mul, inshape[ileft : ii + 1]) < dout:
                ileft -= 1
            if reduce(mul, inshape[ileft : ii + 1]) != dout:
                raise ValueError(f"reshape_blockwise cannot reshape {inshape} to {outshape}")
            groups[oi] = list(range(ileft, ii + 1))
            ii, oi = ileft - 1, oi - 1
        else:
            raise ValueError(
                f"reshape_blockwise only merges axes: {inshape} to {outshape} splits one"
            )
    return groups


def coarsen(
    reduction: Callable, x: Any, axes: dict, trim_excess: bool = False, **kwargs: Any
) -> Array:
    """Reduce each group of ``axes[i]`` neighbouring elements along every axis ``i``
    to one, block by block, as Dask's ``coarsen`` (blocks are first aligned to the
    factors).

    Raises
    ------
    ValueError
        If a factor does not divide its axis and ``trim_excess`` is False.

    Examples
    --------
    >>> coarsen(np.sum, np.arange(6), {0: 2}).compute()
    array([1, 5, 9])
    """
    from taskloom.array.blockwise import map_blocks

    x = asarray(x)
    require_known(x.chunks, "coarsen")
    axes = {_check_axis(a, x.ndim): int(f) for a, f in axes.items()}
    if not trim_excess and not all(x.shape[i] % f == 0 for i, f in axes.items()):
        raise ValueError(f"Coarsening factors {axes} do not align with array shape {x.shape}.")
    if getattr(reduction, "__module__", "") and reduction.__module__.startswith("taskloom."):
        reduction = getattr(np, reduction.__name__)  # the blocks are numpy arrays
    if trim_excess:
        x = x[
            tuple(
                slice(0, x.shape[i] - x.shape[i] % axes[i]) if i in axes else slice(None)
                for i in range(x.ndim)
            )
        ]
    target = {}
    for i, f in axes.items():
        bounds = sorted({o - o % f for o in _offsets(x.chunks[i])})
        target[i] = tuple(b - a for a, b in pairwise(bounds)) or (0,)
    x = x.rechunk(target)
    probe = np.ones(tuple(axes.get(i, 1) for i in range(x.ndim)), dtype=x.dtype)
    dtype = np.asarray(_coarsen_block(probe, reduction, axes, kwargs)).dtype
    chunks = tuple(tuple(c // axes.get(i, 1) for c in cs) for i, cs in enumerate(x.chunks))
    return map_blocks(
        _coarsen_block, x, reduction, axes, kwargs, dtype=dtype, chunks=chunks, token="coarsen"
    )


def _coarsen_block(block: np.ndarray, reduction: Callable, axes: dict, kwargs: dict) -> Any:
    shape_: list = []
    reduced = []
    for i, n in enumerate(block.shape):
        if i in axes:
            shape_ += [n // axes[i], axes[i]]
            reduced.append(len(shape_) - 1)
        else:
            shape_.append(n)
    return reduction(block.reshape(shape_), axis=tuple(reduced), **kwargs)


# -- pictures and conversions (the Array methods to_svg, to_dask_dataframe) ----------------


def _draw_sizes(shape_: tuple, size: int) -> tuple:
    """Dask's drawing sizes: the longest side ``size``, very thin sides widened on a
    log scale so they stay visible."""
    longest = builtins.max(shape_)
    ratios = []
    for d in shape_:
        r = longest / builtins.max(0.1, d)
        ratios.append(r if r < 20 else 20 + 10 * math.log(r / 20))
    return tuple(size / r for r in ratios)


def _grid(chunks: tuple, length: float) -> list[float]:
    total = builtins.sum(chunks)
    return [length * o / total for o in _offsets(chunks)]


def _svg(chunks: tuple, size: int = 500) -> str:
    """The chunk grid as SVG text: a rectangle for 1-d and 2-d arrays, a box (the
    last three axes) for more."""
    if has_unknown(chunks):
        raise NotImplementedError("Can't generate SVG with unknown chunk sizes")
    shape_ = tuple(builtins.sum(c) for c in chunks)
    if not shape_ or not all(shape_):
        raise NotImplementedError("Can't generate SVG with 0-length dimensions")
    if len(chunks) == 1:
        chunks = ((1,), chunks[0])
        shape_ = (1, *shape_)
    lines = []
    if len(chunks) == 2:
        h, w = _draw_sizes(shape_, size)
        for y in _grid(chunks[0], h):
            lines.append((0, y, w, y))
        for x in _grid(chunks[1], w):
            lines.append((x, 0, x, h))
        faces = [[(0, 0), (w, 0), (w, h), (0, h)]]
        width, height = w, h
    else:
        c0, c1, c2 = chunks[-3:]
        d, h, w = _draw_sizes(tuple(builtins.sum(c) for c in (c0, c1, c2)), size * 0.6)
        dx, dy = d * 0.5, d * 0.5  # the depth axis drawn as a 45 degree skew

        def at(z: float, y: float, x: float) -> tuple:
            return (x + dx * z / d, y + dy * z / d) if d else (x, y)

        for z in _grid(c0, d):  # front-to-back lines on the top and right faces
            lines += [(*at(z, 0, 0), *at(z, 0, w)), (*at(z, 0, w), *at(z, h, w))]
        for y in _grid(c1, h):
            lines += [(*at(0, y, w), *at(d, y, w)), (*at(d, y, 0), *at(d, y, w))]
        for x in _grid(c2, w):
            lines += [(*at(0, 0, x), *at(d, 0, x)), (*at(d, 0, x), *at(d, h, x))]
        for z in _grid(c0, d)[:1]:
            lines += [(*at(z, 0, 0), *at(d, 0, 0)), (*at(d, 0, 0), *at(d, h, 0))]
        faces = [
            [at(0, 0, 0), at(0, 0, w), at(d, 0, w), at(d, 0, 0)],
            [at(0, 0, w), at(0, h, w), at(d, h, w), at(d, 0, w)],
            [at(d, 0, 0), at(d, 0, w), at(d, h, w), at(d, h, 0)],
        ]
        width, height = w + dx, h + dy
    pad_ = 10
    body = [
        '  <polygon points="'
        + " ".join(f"{x + pad_:.6g},{y + pad_:.6g}" for x, y in f)
        + '" style="fill:#ECB172A0;stroke-width:0"/>'
        for f in faces
    ]
    body += [
        f'  <line x1="{a + pad_:.6g}" y1="{b + pad_:.6g}" x2="{c + pad_:.6g}" y2="{e + pad_:.6g}"/>'
        for a, b, c, e in lines
    ]
    caption = " x ".join(str(s) for s in shape_[-3:] if len(chunks) > 2 or s != 1)
    body.append(
        f'  <text x="{width / 2 + pad_:.6g}" y="{height + 2 * pad_ + 10:.6g}" '
        f'font-size="1.0rem" text-anchor="middle">{caption}</text>'
    )
    return (
        f'<svg width="{width + 2 * pad_:.6g}" height="{height + 3 * pad_ + 10:.6g}" '
        'style="stroke:rgb(0,0,0);stroke-width:1">\n' + "\n".join(body) + "\n</svg>"
    )


def _to_dataframe(x: Array, columns: Any, index: Any, meta: Any) -> Any:
    from taskloom import dataframe

    if index is not None:
        raise NotImplementedError(
            "to_dask_dataframe(index=...): the row index comes from the blocks"
        )
    require_known(x.chunks[:1], "to_dask_dataframe")
    return dataframe.from_array(x, columns=columns, meta=meta)
