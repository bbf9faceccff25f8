"""Reductions and scans of blocked arrays: tree reductions with a bounded fan-in.

Each block is reduced on its own with ``keepdims=True`` (so partial results keep their
position), then at most ``split_every`` partials along each reduced axis are
concatenated and reduced again, level by level, until one block per output position is
left. Means carry (count, sum) partials; variances and higher moments carry (count, sum,
central moments) combined with the pairwise formulas of Chan et al.; arg-reductions carry
(value, global index) partials; ``topk`` keeps the ``k`` best of every partial. Blocks
empty along a reduced axis are dropped first (they have nothing to contribute, and
``min`` of nothing has no value). Everything here builds on :func:`_tree`, including
the public :func:`reduction`, which is Dask's generic interface to it.

Scans (``cumsum``...) take each block's own cumulative result and carry the running
total from block to block along the axis: linear work in the number of blocks, with a
sequential chain of carries or (``method="blelloch"``) a tree of block totals.
Functions of the whole axis (``median``, ``quantile``) first rechunk the reduced axes
into one block, as Dask; ``percentile`` of a 1-d array is Dask's approximation (merged
per-block percentiles).
"""

from __future__ import annotations

import builtins
import inspect
import itertools
import math
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from taskloom.array.chunks import UNKNOWN_CHUNK_MESSAGE, has_unknown
from taskloom.array.core import (
    Array,
    _check_axis,
    _derive,
    _offsets,
    asarray,
    block_keys,
    concatenate_blocks,
    elemwise,
    unify_chunks,
)
from taskloom.array.protocols import handle_out
from taskloom.tokenize import tokenize

__all__ = [
    "all", "any", "argmax", "argmin", "argtopk", "average", "corrcoef", "count_nonzero",
    "cov", "cumprod", "cumreduction", "cumsum", "max", "mean", "median", "min", "moment",
    "nanargmax", "nanargmin", "nancumprod", "nancumsum", "nanmax", "nanmean", "nanmedian",
    "nanmin", "nanpercentile", "nanprod", "nanquantile", "nanstd", "nansum", "nanvar",
    "percentile", "prod", "ptp", "quantile", "reduction", "std", "sum", "topk", "trace",
    "var",
]  # fmt: skip

SPLIT_EVERY = 8


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(builtins.range(ndim))
    if isinstance(axis, int | np.integer):
        axis = (axis,)
    axes = tuple(_check_axis(a, ndim) for a in axis)
    if len(set(axes)) != len(axes):
        raise ValueError(f"repeated axis in {axis}")
    return axes


def _split_of(split_every: Any, axis: int) -> int:
    # A dict gives one number per axis; an axis left out merges pairs, as Dask's.
    split = split_every.get(axis, 2) if isinstance(split_every, dict) else split_every
    split = split or SPLIT_EVERY
    if split < 2:
        raise ValueError(f"split_every must be at least 2, got {split}")
    return int(split)


def _without_empty_blocks(x: Array, axes: tuple) -> Array:
    """``x`` without its blocks of length 0 (an empty axis keeps one) when a reduced axis
    has some: a partial of nothing would be a wrong value (``min``) or an error. The
    other axes lose theirs too: rechunking to a target with an empty block after the
    first fails (a bug of ``core.rechunk``)."""
    if has_unknown(x.chunks) or not builtins.any(
        0 in x.chunks[a] and len(x.chunks[a]) > 1 for a in axes
    ):
        return x
    return x.rechunk(tuple(tuple(s for s in c if s) or (0,) for c in x.chunks))


def _tree(
    x: Array,
    chunk: Callable,
    combine: Callable,
    finish: Callable,
    axis: Any,
    keepdims: bool,
    dtype: Any,
    name: str,
    split_every: Any = None,
    index_aware: bool = False,
    output_size: float = 1,
    finish_nested: bool = False,
    others: tuple = (),
) -> Array:
    """The tree reduction of ``x`` over ``axis``.

    ``chunk(block, axes)`` (or ``chunk(block, axes, start, shape)`` with
    ``index_aware``: the block's offset in the array) makes a partial, ``combine(nested
    partials, axes)`` merges up to ``split_every`` of them along each reduced axis, and
    ``finish(partial, axes, keepdims)`` makes the output block (with ``finish_nested``,
    as Dask's ``aggregate``: the last group of partials, unmerged). With ``keepdims``
    the reduced axes have length ``output_size`` in the output. The blocks of
    ``others`` (arrays in ``x``'s blocks) follow the block in ``chunk``'s arguments.
    """
    axes = _axes(axis, x.ndim)
    splits = {a: _split_of(split_every, a) for a in axes}
    if index_aware and builtins.any(has_unknown(x.chunks[a]) for a in axes):
        raise ValueError(
            f"{name} needs the positions of the elements along the reduced axes, and "
            f"this array's chunk sizes are unknown there.{UNKNOWN_CHUNK_MESSAGE}"
        )
    x, *others = (_without_empty_blocks(a, axes) for a in (x, *others))
    # Every part of the computation is in the key: var(ddof=0) and var(ddof=1) differ.
    token = tokenize(x.name, name, axes, keepdims, splits, np.dtype(dtype), chunk, combine,
                     finish, output_size, finish_nested, [o.name for o in others])  # fmt: skip
    level_name = f"{name}-chunk-{token}"
    layer: dict = {}
    keys = block_keys(level_name, x.numblocks)
    blocks = itertools.product(*map(builtins.range, x.numblocks))  # C order, as block_keys
    if index_aware:
        offsets = [_offsets(c) for c in x.chunks]
        for key, idx in zip(keys, blocks, strict=True):
            start = tuple(offsets[a][i] for a, i in enumerate(idx))
            layer[key] = (chunk, (x.name, *idx), axes, start, x.shape)
    elif others:
        for key, idx in zip(keys, blocks, strict=True):
            extra = [(o.name, *idx) for o in others]
            layer[key] = (chunk, (x.name, *idx), *extra, axes)
    else:  # the common case, as one comprehension: 10^6 blocks take a second less
        refs = block_keys(x.name, x.numblocks)
        layer = {k: (chunk, ref, axes) for k, ref in zip(keys, refs, strict=True)}
    numblocks = list(x.numblocks)
    depth = 0
    # With finish_nested the last group (at most split_every) goes to finish unmerged.
    while builtins.any(numblocks[a] > (splits[a] if finish_nested else 1) for a in axes):
        depth += 1
        nxt_name = f"{name}-combine{depth}-{token}"
        new_numblocks = [-(-n // splits[a]) if a in axes else n for a, n in enumerate(numblocks)]
        strides = _strides(numblocks)
        nxt_keys = block_keys(nxt_name, new_numblocks)
        for key, idx in zip(nxt_keys, np.ndindex(*new_numblocks), strict=True):
            ranges = [
                builtins.range(i * splits[a], builtins.min((i + 1) * splits[a], numblocks[a]))
                if a in axes
                else builtins.range(i, i + 1)
                for a, i in enumerate(idx)
            ]
            layer[key] = (combine, _grouped(keys, strides, ranges), axes)
        level_name, numblocks, keys = nxt_name, new_numblocks, nxt_keys
    out_name = f"{name}-{token}"
    out_chunks = []
    for a, c in enumerate(x.chunks):
        if a in axes:
            if keepdims:
                out_chunks.append((output_size,))
        else:
            out_chunks.append(c)
    final = [1 if a in axes else n for a, n in enumerate(numblocks)]
    for idx in np.ndindex(*final):
        out_idx = tuple(i for a, i in enumerate(idx) if a not in axes or keepdims)
        if finish_nested:
            ranges = [
                builtins.range(numblocks[a]) if a in axes else builtins.range(i, i + 1)
                for a, i in enumerate(idx)
            ]
            arg: Any = _grouped(keys, _strides(numblocks), ranges)
        else:
            arg = (level_name, *idx)
        layer[(out_name, *out_idx)] = (finish, arg, axes, keepdims)
    return _derive(x, out_name, layer, tuple(out_chunks), dtype, *others)


def _strides(numblocks: list) -> list[int]:
    """How far apart, in a level's flat C-order keys, neighbours along each axis are."""
    return [math.prod(numblocks[a + 1 :]) for a in builtins.range(len(numblocks))]


def _grouped(keys: list, strides: list, ranges: list, axis: int = 0, offset: int = 0) -> Any:
    """The level's keys (flat, C order, from ``block_keys``) at ``ranges[0]`` x
    ``ranges[1]`` x ... (step-1 ranges), as nested lists, one level per range: the very
    key objects the level's layer holds, which the converter finds by identity. A 0-d
    level's one key itself. (Module-level, not a closure: a recursive closure would be a
    reference cycle holding the keys.)"""
    if not ranges:
        return keys[0]
    r = ranges[axis]
    if axis == len(ranges) - 1:  # the innermost keys: one slice, not a key each
        return keys[offset + r.start : offset + r.stop]
    return [_grouped(keys, strides, ranges, axis + 1, offset + i * strides[axis]) for i in r]


def _concat_nested(parts: Any, depth: int = 0) -> Any:
    """Concatenate nested lists of partials (arrays, or tuples of arrays) along each axis."""
    if not isinstance(parts, list):
        return parts
    # Recursing only into lists: a combine joins thousands of leaves in a reduction.
    items = [_concat_nested(p, depth + 1) if isinstance(p, list) else p for p in parts]
    if isinstance(items[0], tuple):
        return tuple(
            concatenate_blocks([it[k] for it in items], depth)
            for k in builtins.range(len(items[0]))
        )
    return concatenate_blocks(items, depth)


# -- Dask's generic reduction ----------------------------------------------------------


def _reduced_nesting(parts: Any, axes: tuple, depth: int = 0) -> Any:
    """Nested partials as Dask gives them with ``concatenate=False``: one list level per
    reduced axis (the other axes have one partial each here, and no level)."""
    if not isinstance(parts, list):
        return parts
    if depth in axes:
        return [_reduced_nesting(p, axes, depth + 1) for p in parts]
    return _reduced_nesting(parts[0], axes, depth + 1)


def _user_chunk(func: Callable, block: np.ndarray, *rest: Any) -> Any:
    *weights, axes = rest  # the weights' block, when there are weights
    given = {"weights": weights[0]} if weights else {}
    return func(block, axis=axes, keepdims=True, **given)


def _user_combine(
    func: Callable, concatenate: bool, parts: Any, axes: tuple, keepdims: bool = True
) -> Any:
    data = _concat_nested(parts) if concatenate else _reduced_nesting(parts, axes)
    return func(data, axis=axes, keepdims=keepdims)


def reduction(
    x: Any,
    chunk: Callable,
    aggregate: Callable,
    axis: Any = None,
    keepdims: bool = False,
    dtype: Any = None,
    split_every: int | dict | None = None,
    combine: Callable | None = None,
    name: str | None = None,
    out: Any = None,
    concatenate: bool = True,
    output_size: int = 1,
    meta: Any = None,
    weights: Any = None,
) -> Array:
    """A tree reduction of ``x`` with user functions, as Dask's ``reduction``.

    Parameters
    ----------
    x
        The array.
    chunk
        ``chunk(block, axis=axes, keepdims=True)``: the partial result of one block.
    aggregate
        ``aggregate(partials, axis=axes, keepdims=keepdims)``: the output block from
        the last group of partials.
    axis, keepdims
        The reduced axes (all by default), and whether they stay with length
        ``output_size``.
    dtype
        The result's dtype (taken from ``meta``, or found by running ``chunk`` and
        ``aggregate`` on a one-element block, when not given).
    split_every
        At most this many partials (per reduced axis; a dict gives one number per axis)
        are merged by one task (8).
    combine
        ``combine(partials, axis=axes, keepdims=True)`` for the intermediate levels
        (``aggregate`` if not given).
    name
        The prefix of the output's keys.
    out
        As numpy's ``out=`` (see :func:`taskloom.array.protocols.handle_out`).
    concatenate
        Give ``combine``/``aggregate`` the partials concatenated along the reduced axes
        (True) or as nested lists, one level per reduced axis (False).
    output_size
        The length of each reduced axis in the output when ``keepdims``.
    meta
        An array whose dtype is the result's.
    weights
        An array broadcast to ``x``'s shape, whose blocks ``chunk`` receives as
        ``weights=``.

    Raises
    ------
    ValueError
        If ``dtype`` is not given and cannot be found by running the functions.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(10), chunks=3)
    >>> da.reduction(x, np.sum, np.sum, dtype=x.dtype).compute()
    np.int64(45)
    """
    x = asarray(x)
    others: tuple = ()
    if weights is not None:
        w = asarray(weights)
        if w.shape != x.shape:
            w = elemwise(_broadcast_like, w, x)
        x, w = unify_chunks(x, w)
        others = (w,)
    axes = _axes(axis, x.ndim)
    combine = combine or aggregate
    finish = partial(_user_combine, aggregate, concatenate)
    if dtype is None and meta is not None:
        dtype = meta.dtype
    if dtype is None:
        probe = np.ones((1,) * x.ndim, dtype=x.dtype)
        try:
            with np.errstate(all="ignore"):
                given = {} if not others else {"weights": np.ones_like(probe, others[0].dtype)}
                nested = chunk(probe, axis=axes, keepdims=True, **given)
                for _ in builtins.range(x.ndim):
                    nested = [nested]
                dtype = np.asarray(finish(nested, axes, keepdims)).dtype
        except Exception as e:
            raise ValueError(
                f"reduction: give dtype=, running chunk/aggregate failed: {e!r}"
            ) from e
    result = _tree(
        x,
        partial(_user_chunk, chunk),
        partial(_user_combine, combine, concatenate),
        finish,
        axes,
        keepdims,
        dtype,
        name or getattr(aggregate, "__name__", "reduction"),
        split_every,
        output_size=output_size,
        finish_nested=True,
        others=others,
    )
    return handle_out(out, result)


# -- simple reductions: chunk and combine are the same numpy function ------------------


#: numpy 2's np.any/np.all reduce in bool; numpy 1's in the input's type.
_ANY_ALL_DTYPE = bool if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else None

#: What these numpy reductions do to an exact ``ndarray``: ``ufunc.reduce`` with this
#: dtype (numpy's ``_wrapreduction``), called here without the wrapper's Python layers
#: (4x the reduce's own time on a block of 1,000). Other block types (masked, sparse)
#: keep their own methods, through ``func``.
_UFUNC_REDUCE: dict[Callable, tuple[np.ufunc, Any]] = {
    np.sum: (np.add, None),
    np.prod: (np.multiply, None),
    np.min: (np.minimum, None),
    np.max: (np.maximum, None),
    np.any: (np.logical_or, _ANY_ALL_DTYPE),
    np.all: (np.logical_and, _ANY_ALL_DTYPE),
}

#: Reductions that warn on an all-NaN slice: a partial of NaNs is not an answer.
_ALL_NAN_WARNS = (np.nanmin, np.nanmax)


def _reduce(func: Callable, block: np.ndarray, axes: tuple) -> np.ndarray:
    """``func(block, axis=axes, keepdims=True)``, as numpy computes it."""
    if type(block) is np.ndarray and func in _UFUNC_REDUCE:
        ufunc, dtype = _UFUNC_REDUCE[func]
        return ufunc.reduce(block, axes, dtype, None, keepdims=True)
    if func not in _ALL_NAN_WARNS:
        return func(block, axis=axes, keepdims=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN", RuntimeWarning)
        return func(block, axis=axes, keepdims=True)


_NO_IDENTITY = (np.min, np.max, np.nanmin, np.nanmax)


def _simple_chunk(func: Callable, block: np.ndarray, axes: tuple) -> np.ndarray:
    if func in _NO_IDENTITY and builtins.any(block.shape[a] == 0 for a in axes):
        # A block found empty when run (its size unknown before: after a mask): no
        # partial, as Dask's chunk_max; the combine concatenates past it.
        empty = tuple(slice(0, 0) if a in axes else slice(None) for a in builtins.range(block.ndim))
        return block[empty]
    return _reduce(func, block, axes)


def _simple_combine(func: Callable, parts: Any, axes: tuple) -> np.ndarray:
    joined = _concat_nested(parts)
    if func in _NO_IDENTITY and builtins.any(joined.shape[a] == 0 for a in axes):
        return joined  # every block of this group was found empty: still no partial
    return _reduce(func, joined, axes)


def _simple_finish(block: np.ndarray, axes: tuple, keepdims: bool) -> Any:
    if builtins.any(block.shape[a] == 0 for a in axes):  # every block was empty
        raise ValueError("zero-size array to reduction operation which has no identity")
    return block if keepdims else np.squeeze(block, axis=axes)


def _simple(
    func: Callable, x: Array, axis: Any, keepdims: bool, dtype: Any, split_every: Any
) -> Array:
    if func in _NO_IDENTITY:
        if builtins.any(x.shape[a] == 0 for a in _axes(axis, x.ndim)):
            raise ValueError(
                f"zero-size array to reduction operation {func.__name__} which has no identity"
            )
    # Only a reduction with no identity has to look at a block's size first.
    chunk = _simple_chunk if func in _NO_IDENTITY else _reduce
    return _tree(
        x,
        partial(chunk, func),
        partial(_simple_combine, func),
        _simple_finish,
        axis,
        keepdims,
        dtype,
        func.__name__,
        split_every,
    )


def _accumulating(
    func: Callable, x: Array, axis: Any, keepdims: bool, dtype: Any, split_every: Any
) -> Array:
    """Sum or product: accumulate in ``dtype`` (numpy's default: ints widen to int64)."""
    if dtype is None:  # keepdims: an array, also where the sum of objects is a scalar
        dtype = func(np.ones(1, dtype=x.dtype), keepdims=True).dtype
    dtype = np.dtype(dtype)
    return _simple(func, x.astype(dtype), axis, keepdims, dtype, split_every)


_DOC = """``numpy.{name}`` of ``a`` over ``axis`` (all axes by default), as a tree reduction.

    Parameters
    ----------
    a
        The array (anything :func:`taskloom.array.asarray` takes).
    axis
        An axis, a tuple of axes, or ``None`` for all.{extra}
    keepdims
        Keep the reduced axes, with length 1.
    split_every
        At most this many partial results are combined by one task (8).
    out
        A taskloom array to hold the result, as numpy's ``out=`` (see
        :func:`taskloom.array.protocols.handle_out`).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array({data}, chunks=1)
    >>> da.{name}(x, axis=1).compute(){example}
    """
_DTYPE = """
    dtype
        The type of the result (and of the accumulation, as numpy)."""
_DDOF = """
    ddof
        Delta degrees of freedom: the divisor is ``N - ddof``."""


_INTS = "np.arange(6).reshape(2, 3) % 4"
_NANS = "np.array([[0.0, np.nan, 2.0], [3.0, 0.0, 1.0]])"


def _documented(extra: str, example: str, data: str = _INTS) -> Callable:
    def wrap(func: Callable) -> Callable:
        func.__doc__ = _DOC.format(name=func.__name__, extra=extra, example=example, data=data)
        return func

    return wrap


@_documented(_DTYPE, "\n    array([3, 4])")
def sum(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    keepdims: bool = False,
    split_every: int | None = None,
    out: Any = None,
) -> Array:
    return handle_out(out, _accumulating(np.sum, asarray(a), axis, keepdims, dtype, split_every))


@_documented(_DTYPE, "\n    array([0, 0])")
def prod(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    keepdims: bool = False,
    split_every: int | None = None,
    out: Any = None,
) -> Array:
    return handle_out(out, _accumulating(np.prod, asarray(a), axis, keepdims, dtype, split_every))


def _plain(func: Callable, dtype: Any, example: str, data: str = _INTS) -> Callable:
    """min, max, any, all, nanmin, nanmax: the reduction of ``func`` with the result
    type ``dtype``."""

    def reduce_(
        a: Any,
        axis: Any = None,
        keepdims: bool = False,
        split_every: int | None = None,
        out: Any = None,
    ) -> Array:
        x = asarray(a)
        result_dtype = x.dtype if dtype is None else dtype
        return handle_out(out, _simple(func, x, axis, keepdims, result_dtype, split_every))

    reduce_.__name__ = reduce_.__qualname__ = func.__name__
    reduce_.__module__ = __name__
    return _documented("", example, data)(reduce_)


min = _plain(np.min, None, "\n    array([0, 0])")
max = _plain(np.max, None, "\n    array([2, 3])")
any = _plain(np.any, np.dtype(bool), "\n    array([ True,  True])")
all = _plain(np.all, np.dtype(bool), "\n    array([False, False])")


nanmin = _plain(np.nanmin, None, "\n    array([0., 0.])", _NANS)
nanmax = _plain(np.nanmax, None, "\n    array([2., 3.])", _NANS)


@_documented(_DTYPE, "\n    array([2., 4.])", _NANS)
def nansum(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    keepdims: bool = False,
    split_every: int | None = None,
    out: Any = None,
) -> Array:
    return handle_out(out, _accumulating(np.nansum, asarray(a), axis, keepdims, dtype, split_every))


@_documented(_DTYPE, "\n    array([0., 0.])", _NANS)
def nanprod(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    keepdims: bool = False,
    split_every: int | None = None,
    out: Any = None,
) -> Array:
    x = asarray(a)
    return handle_out(out, _accumulating(np.nanprod, x, axis, keepdims, dtype, split_every))


# -- moments: (count, sum, central moment sums of orders 2..p) partials ------------------


def _count(block: np.ndarray, axes: tuple, nan: bool) -> np.ndarray:
    """Elements per reduced position: from the shape alone (no pass over the data),
    or the non-NaN ones."""
    if nan:
        return np.sum(~np.isnan(block), axis=axes, keepdims=True, dtype="i8")
    shape = tuple(1 if a in axes else s for a, s in enumerate(block.shape))
    return np.full(shape, math.prod(block.shape[a] for a in axes), dtype="i8")


def _masked_moment_chunk(order: int, nan: bool, block: np.ma.MaskedArray, axes: tuple) -> tuple:
    """The partials of a masked block: masked elements count for nothing (as in
    ``numpy.ma``). The count is a masked array (with no element masked), so that it
    stays one through the combine and a position with no element left gives a masked
    result, as ``numpy.ma`` does, where plain arrays give NaN."""
    valid = ~np.ma.getmaskarray(block)
    data = block.filled(0)
    if nan:
        valid &= ~np.isnan(data)
        data = np.where(valid, data, 0)
    n = np.ma.masked_array(np.sum(valid, axis=axes, keepdims=True, dtype="i8"))
    total = np.sum(data, axis=axes, keepdims=True, dtype="f8")
    with np.errstate(invalid="ignore", divide="ignore"):
        dev = np.where(valid, data - total / n, 0)
    sums = [np.sum(dev**k, axis=axes, keepdims=True) for k in builtins.range(2, order + 1)]
    return n, total, *sums


def _moment_chunk(order: int, nan: bool, block: np.ndarray, axes: tuple) -> tuple:
    if isinstance(block, np.ma.MaskedArray):
        return _masked_moment_chunk(order, nan, block, axes)
    total_of = np.nansum if nan else np.sum
    n = _count(block, axes, nan)
    total = total_of(block, axis=axes, keepdims=True, dtype="f8")
    with np.errstate(invalid="ignore", divide="ignore"):
        dev = block - total / n
    sums = [
        total_of(dev**k, axis=axes, keepdims=True, dtype="f8") for k in builtins.range(2, order + 1)
    ]
    return n, total, *sums


def _moment_combine(order: int, parts: Any, axes: tuple) -> tuple:
    n, total, *sums = _concat_nested(parts)
    n_all = np.sum(n, axis=axes, keepdims=True)
    total_all = np.sum(total, axis=axes, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = total / n - total_all / n_all
        # Chan et al.: sum((x - m)^p) over a part about the overall mean m is
        # sum_k C(p, k) delta^k M_{p-k}, with M_0 = n and M_1 = 0 about the part's mean.
        moments = [n, np.zeros_like(total), *sums]
        merged = []
        for p in builtins.range(2, order + 1):
            term = builtins.sum(
                math.comb(p, k) * moments[p - k] * delta**k
                for k in builtins.range(p + 1)
                if p - k != 1
            )
            merged.append(np.sum(np.where(n > 0, term, 0), axis=axes, keepdims=True))
    return n_all, total_all, *merged


def _squeezed(out: np.ndarray, axes: tuple, keepdims: bool) -> np.ndarray:
    return out if keepdims else np.squeeze(out, axis=axes)


def _mean_finish(parts: tuple, axes: tuple, keepdims: bool) -> np.ndarray:
    n, total = parts[:2]
    with np.errstate(invalid="ignore", divide="ignore"):
        return _squeezed(total / n, axes, keepdims)


def _var_finish(ddof: int, nan: bool, parts: tuple, axes: tuple, keepdims: bool) -> np.ndarray:
    n, m2 = parts[0], parts[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        if nan:  # numpy's nanvar: NaN where the degrees of freedom are not positive
            out = np.where(n - ddof > 0, m2 / np.maximum(n - ddof, 1), np.nan)
        else:
            out = m2 / np.maximum(n - ddof, 0)
    return _squeezed(out, axes, keepdims)


def _std_finish(ddof: int, nan: bool, parts: tuple, axes: tuple, keepdims: bool) -> np.ndarray:
    return np.sqrt(_var_finish(ddof, nan, parts, axes, keepdims))


def _moment_finish(order: int, ddof: int, parts: tuple, axes: tuple, keepdims: bool) -> np.ndarray:
    n = parts[0]
    if order < 2:  # by definition: 1 for order 0, 0 for order 1 (about the mean)
        return _squeezed(np.full(n.shape, float(order == 0)), axes, keepdims)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(n - ddof < 0, np.nan, parts[-1] / (n - ddof))  # Dask's negative-dof NaN
    return _squeezed(out, axes, keepdims)


def _moments(
    a: Any,
    order: int,
    nan: bool,
    finish: Callable,
    axis: Any,
    dtype: Any,
    keepdims: bool,
    name: str,
    split_every: Any,
    out: Any,
) -> Array:
    """mean, var, std, moment and their nan forms: float64 partials; the result cast
    to ``dtype`` (numpy's float type of the input's by default) at the end."""
    x = asarray(a)
    default = np.mean(np.ones(1, dtype=x.dtype)).dtype
    dtype = np.dtype(dtype) if dtype is not None else default
    result = _tree(
        x,
        partial(_moment_chunk, order, nan),
        partial(_moment_combine, order),
        partial(_cast_finish, finish, dtype),
        axis,
        keepdims,
        dtype,
        name,
        split_every,
    )
    return handle_out(out, result)


def _cast_finish(finish: Callable, dtype: np.dtype, *args: Any) -> np.ndarray:
    # asanyarray: a masked result (numpy.ma's answer where no element is left) stays one.
    return np.asanyarray(finish(*args)).astype(dtype, copy=False)


@_documented(_DTYPE, "\n    array([1.        , 1.33333333])")
def mean(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    keepdims: bool = False,
    split_every: int | None = None,
    out: Any = None,
) -> Array:
    return _moments(a, 1, False, _mean_finish, axis, dtype, keepdims, "mean", split_every, out)


@_documented(_DTYPE, "\n    array([1.        , 1.33333333])", _NANS)
def nanmean(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    keepdims: bool = False,
    split_every: int | None = None,
    out: Any = None,
) -> Array:
    return _moments(a, 1, True, _mean_finish, axis, dtype, keepdims, "nanmean", split_every, out)


@_documented(_DTYPE + _DDOF, "\n    array([0.66666667, 1.55555556])")
def var(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    keepdims: bool = False,
    ddof: int = 0,
    split_every: int | None = None,
    out: Any = None,
) -> Array:
    return _moments(a, 2, False, partial(_var_finish, ddof, False), axis, dtype, keepdims, "var",
                    split_every, out)  # fmt: skip


@_documented(_DTYPE + _DDOF, "\n    array([1.        , 1.55555556])", _NANS)
def nanvar(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    keepdims: bool = False,
    ddof: int = 0,
    split_every: int | None = None,
    out: Any = None,
) -> Array:
    return _moments(a, 2, True, partial(_var_finish, ddof, True), axis, dtype, keepdims, "nanvar",
                    split_every, out)  # fmt: skip


@_documented(_DTYPE + _DDOF, ".round(3)\n    array([0.816, 1.247])")
def std(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    keepdims: bool = False,
    ddof: int = 0,
    split_every: int | None = None,
    out: Any = None,
) -> Array:
    return _moments(a, 2, False, partial(_std_finish, ddof, False), axis, dtype, keepdims, "std",
                    split_every, out)  # fmt: skip


@_documented(_DTYPE + _DDOF, ".round(3)\n    array([1.   , 1.247])", _NANS)
def nanstd(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    keepdims: bool = False,
    ddof: int = 0,
    split_every: int | None = None,
    out: Any = None,
) -> Array:
    return _moments(a, 2, True, partial(_std_finish, ddof, True), axis, dtype, keepdims, "nanstd",
                    split_every, out)  # fmt: skip


def moment(
    a: Any,
    order: int,
    axis: Any = None,
    dtype: Any = None,
    keepdims: bool = False,
    ddof: int = 0,
    split_every: int | None = None,
    out: Any = None,
) -> Array:
    """The central moment of order ``order``: ``sum((a - mean) ** order) / (N - ddof)``
    over ``axis``, as Dask's ``moment`` (a tree reduction of per-block moments).

    Parameters
    ----------
    a
        The array.
    order
        A non-negative integer (0 gives ones, 1 zeros, 2 the variance).
    axis, dtype, keepdims, ddof, split_every, out
        As :func:`var`.

    Raises
    ------
    ValueError
        If ``order`` is not an integer >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> da.moment(da.from_array(np.array([1.0, 2.0, 6.0]), chunks=2), 3).compute()
    np.float64(6.0)
    """
    if not isinstance(order, int | np.integer) or isinstance(order, bool) or order < 0:
        raise ValueError("Order must be an integer >= 0")
    finish = partial(_moment_finish, int(order), ddof)
    return _moments(a, int(order), False, finish, axis, dtype, keepdims, "moment", split_every,
                    out)  # fmt: skip


# -- arg-reductions: (value, index in the reduced axes) partials -------------------------


def _to_last(block: np.ndarray, axes: tuple) -> np.ndarray:
    """The reduced axes moved to the end and merged into one."""
    moved = np.moveaxis(block, axes, builtins.range(-len(axes), 0))
    kept = moved.shape[: moved.ndim - len(axes)]
    return moved.reshape((*kept, math.prod(moved.shape[len(kept) :])))  # -1 fails on size 0


def _nan_safe(func: Callable, values: np.ndarray, axis: int) -> np.ndarray:
    """``nanargmin``/``nanargmax`` that answer 0 for all-NaN slices (they raise): the
    value picked there is NaN, which :func:`_nanarg_finish` reports."""
    if values.dtype.kind in "fc":
        all_nan = np.isnan(values).all(axis=axis, keepdims=True)
        values = np.where(all_nan, 0, values)
    return func(values, axis=axis)


def _arg_pick(argfunc: Callable, values: np.ndarray, indices: np.ndarray, axes: tuple) -> tuple:
    keep = tuple(1 if a in axes else s for a, s in enumerate(values.shape))
    flat_values = _to_last(values, axes)
    pick = argfunc(flat_values, axis=-1)[..., None]
    picked = np.take_along_axis(flat_values, pick, axis=-1).reshape(keep)
    return picked, np.take_along_axis(_to_last(indices, axes), pick, axis=-1).reshape(keep)


def _arg_chunk(
    argfunc: Callable, block: np.ndarray, axes: tuple, start: tuple, shape: tuple
) -> tuple:
    # Each element's index in the reduced axes of the whole array (numpy's flat index
    # for axis=None): its block coordinates shifted by the block's offset.
    coords = np.indices(tuple(block.shape[a] for a in axes), sparse=True)
    global_index = np.ravel_multi_index(
        tuple(c + start[a] for c, a in zip(coords, axes, strict=True)),
        tuple(shape[a] for a in axes),
    )
    index_shape = tuple(block.shape[a] if a in axes else 1 for a in builtins.range(block.ndim))
    order = np.argsort(axes)  # np.indices follows `axes`; the block's axes are sorted
    global_index = np.transpose(global_index, order).reshape(index_shape)
    indices = np.broadcast_to(global_index, block.shape)
    return _arg_pick(argfunc, block, indices, axes)


def _arg_combine(argfunc: Callable, parts: Any, axes: tuple) -> tuple:
    values, indices = _concat_nested(parts)
    best, _ = _arg_pick(argfunc, values, indices, axes)
    # Of equal values numpy answers the first; over several axes the partials are not in
    # index order, so the smallest index among the best values is taken.
    if values.dtype.kind in "fc":
        ties = (values == best) | (np.isnan(values) & np.isnan(best))
    else:
        ties = values == best
    candidates = np.where(ties, indices, np.iinfo(indices.dtype).max)
    return best, _arg_pick(np.argmin, candidates, indices, axes)[1]


def _arg_finish(parts: tuple, axes: tuple, keepdims: bool) -> np.ndarray:
    return _squeezed(parts[1], axes, keepdims)


def _nanarg_finish(parts: tuple, axes: tuple, keepdims: bool) -> np.ndarray:
    if parts[0].dtype.kind in "fc" and np.isnan(parts[0]).any():
        raise ValueError("All-NaN slice encountered")
    return _arg_finish(parts, axes, keepdims)


def _arg(
    name: str,
    argfunc: Callable,
    finish: Callable,
    x: Array,
    axis: Any,
    keepdims: bool,
    split_every: Any,
) -> Array:
    if axis is not None and not isinstance(axis, int | np.integer):
        raise TypeError(f"axis must be either `None` or int, got '{axis}'")
    if builtins.any(x.shape[a] == 0 for a in _axes(axis, x.ndim)):
        raise ValueError(f"attempt to get {name} of an empty sequence")
    return _tree(
        x,
        partial(_arg_chunk, argfunc),
        partial(_arg_combine, argfunc),
        finish,
        axis,
        keepdims,
        np.dtype(np.intp),
        name,
        split_every,
        index_aware=True,
    )


def _arg_reduction(name: str, argfunc: Callable, finish: Callable, example: str, data: str):
    def arg_reduction(
        a: Any,
        axis: Any = None,
        keepdims: bool = False,
        split_every: int | None = None,
        out: Any = None,
    ) -> Array:
        return handle_out(out, _arg(name, argfunc, finish, asarray(a), axis, keepdims, split_every))

    arg_reduction.__name__ = arg_reduction.__qualname__ = name
    arg_reduction.__module__ = __name__
    return _documented("", example, data)(arg_reduction)


argmin = _arg_reduction("argmin", np.argmin, _arg_finish, "\n    array([0, 1])", _INTS)
argmax = _arg_reduction("argmax", np.argmax, _arg_finish, "\n    array([2, 0])", _INTS)
nanargmin = _arg_reduction(
    "nanargmin", partial(_nan_safe, np.nanargmin), _nanarg_finish, "\n    array([0, 1])", _NANS
)
nanargmax = _arg_reduction(
    "nanargmax", partial(_nan_safe, np.nanargmax), _nanarg_finish, "\n    array([2, 0])", _NANS
)


# -- scans: each block's own scan, then the running total carried along the axis --------


def _takes_dtype(func: Callable) -> bool:
    try:
        return "dtype" in inspect.signature(func).parameters
    except (TypeError, ValueError):  # ufunc methods have no signature but take dtype
        return isinstance(getattr(func, "__self__", None), np.ufunc)


def _scan_block(func: Callable, with_dtype: bool, dtype: np.dtype, block: np.ndarray, axis: int):
    out = func(block, axis=axis, dtype=dtype) if with_dtype else func(block, axis=axis)
    return np.asanyarray(out).astype(dtype, copy=False)  # a masked block's scan stays masked


def _identity_block(ident: Any, dtype: np.dtype, block: np.ndarray, axis: int) -> np.ndarray:
    shape = tuple(1 if a == axis else s for a, s in enumerate(block.shape))
    return np.full(shape, ident, dtype=dtype)


def _carry(binop: Callable, carry: np.ndarray, scanned: np.ndarray, axis: int) -> np.ndarray:
    """The running total after a block: the carry into it combined with its own total
    (the last element of its scan; an empty block adds nothing)."""
    if scanned.shape[axis] == 0:
        return carry
    return binop(carry, np.take(scanned, [-1], axis=axis))


def _preop_block(preop: Callable, dtype: np.dtype, block: np.ndarray, axis: int) -> np.ndarray:
    out = preop(block, axis=axis, keepdims=True, dtype=dtype)
    return np.asanyarray(out).astype(dtype, copy=False)


def _exclusive_scan(binop: Callable, totals: list, layer: dict, name: str) -> list:
    """Keys of the totals before each position (None: nothing before), by Blelloch's
    tree: pairs are merged upwards, then prefixes are handed down (about 2n tasks of
    block-total size, depth 2 log n)."""
    if len(totals) == 1:
        return [None]
    pairs = []
    for j in builtins.range(len(totals) // 2):
        key = (name, "up", len(totals), j)
        layer[key] = (binop, totals[2 * j], totals[2 * j + 1])
        pairs.append(key)
    if len(totals) % 2:
        pairs.append(totals[-1])
    above = _exclusive_scan(binop, pairs, layer, name)
    out = []
    for i in builtins.range(len(totals)):
        before = above[i // 2]
        if i % 2 == 0:
            out.append(before)
        elif before is None:
            out.append(totals[i - 1])
        else:
            key = (name, "down", len(totals), i)
            layer[key] = (binop, before, totals[i - 1])
            out.append(key)
    return out


def cumreduction(
    func: Callable,
    binop: Callable,
    ident: Any,
    x: Any,
    axis: int | None = None,
    dtype: Any = None,
    out: Any = None,
    method: str = "sequential",
    preop: Callable | None = None,
) -> Array:
    """A cumulative reduction (scan) along ``axis``, as Dask's ``cumreduction``.

    Each block is scanned by ``func``; the running total before a block (starting at
    ``ident``) is then combined into it with ``binop``.

    Parameters
    ----------
    func
        The scan of one block, ``func(block, axis=axis[, dtype=dtype])`` (``np.cumsum``).
    binop
        Combines a running total with a block, broadcasting (``np.add``).
    ident
        The identity of ``binop`` (``0``).
    x
        The array.
    axis
        The axis; ``None`` scans the flattened array, as numpy.
    dtype
        The result's dtype (``func``'s on ``x``'s dtype by default).
    out
        As numpy's ``out=`` (see :func:`taskloom.array.protocols.handle_out`).
    method
        ``"sequential"``: the running total goes from block to block after each is
        scanned. ``"blelloch"``: block totals by ``preop`` are scanned with a tree, so
        every block is scanned in parallel. Both are linear in the number of blocks.
    preop
        The total of one block, ``preop(block, axis=axis, keepdims=True, dtype=dtype)``
        (``np.sum``), needed by ``"blelloch"``.

    Raises
    ------
    ValueError
        If ``method`` is neither of the two.
    TypeError
        If ``method="blelloch"`` without ``preop``.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(1, 6), chunks=2)
    >>> da.cumreduction(np.cumprod, np.multiply, 1, x, axis=0).compute()
    array([  1,   2,   6,  24, 120])
    """
    if method not in ("sequential", "blelloch"):
        raise ValueError(
            'Invalid method for cumreduction.  Expected "sequential" or "blelloch".  '
            f"Got: {method!r}"
        )
    if method == "blelloch" and preop is None:
        raise TypeError('cumreduction with "blelloch" method required `preop=` argument')
    x = asarray(x)
    if axis is None:
        if x.ndim != 1:
            from taskloom.array.routines import ravel

            # Without empty blocks: reshaping them runs into core.rechunk's bug.
            x = ravel(_without_empty_blocks(x, tuple(builtins.range(x.ndim))))
        axis = 0
    axis = _check_axis(axis, x.ndim)
    if dtype is None:
        dtype = np.asarray(func(np.ones((0,), dtype=x.dtype), axis=0)).dtype
    dtype = np.dtype(dtype)
    token = tokenize(x.name, func, binop, ident, axis, dtype, method, preop)
    base = getattr(func, "__name__", "cumreduction")
    scanned, name = f"{base}-block-{token}", f"{base}-{token}"
    with_dtype = _takes_dtype(func)
    layer: dict = {}
    for idx in np.ndindex(*x.numblocks):
        layer[(scanned, *idx)] = (_scan_block, func, with_dtype, dtype, (x.name, *idx), axis)
    lines = [1 if a == axis else n for a, n in enumerate(x.numblocks)]
    for line in np.ndindex(*lines):
        keys = [(*line[:axis], i, *line[axis + 1 :]) for i in builtins.range(x.numblocks[axis])]
        first = (f"{name}-ident", *keys[0])
        layer[first] = (_identity_block, ident, dtype, (x.name, *keys[0]), axis)
        if method == "sequential":
            carries = [first]
            for prev in keys[:-1]:
                key = (f"{name}-carry", *prev)
                layer[key] = (_carry, binop, carries[-1], (scanned, *prev), axis)
                carries.append(key)
        else:
            totals = []
            for k in keys:
                totals.append((f"{name}-total", *k))
                layer[totals[-1]] = (_preop_block, preop, dtype, (x.name, *k), axis)
            before = _exclusive_scan(
                binop, totals, layer, f"{name}-scan-{'-'.join(map(str, line))}"
            )
            carries = [first if b is None else b for b in before]
        for k, carry in zip(keys, carries, strict=True):
            layer[(name, *k)] = (binop, carry, (scanned, *k))
    return handle_out(out, _derive(x, name, layer, x.chunks, dtype))


def _scan_doc(func: Callable, numpy_name: str, example: str) -> Callable:
    func.__doc__ = f"""``numpy.{numpy_name}`` along ``axis`` (the flattened array for ``None``),
    as Dask's: see :func:`cumreduction`.

    Parameters
    ----------
    x
        The array.
    axis
        The axis.
    dtype
        The result's dtype (numpy's by default: integers widen to int64).
    out
        As numpy's ``out=`` (see :func:`taskloom.array.protocols.handle_out`).
    method
        ``"sequential"`` or ``"blelloch"`` (see :func:`cumreduction`).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([1.0, np.nan, 2.0, 3.0]), chunks=2)
    >>> da.{func.__name__}(x, axis=0).compute()
    {example}
    """
    return func


def cumsum(
    x: Any, axis: int | None = None, dtype: Any = None, out: Any = None, method: str = "sequential"
) -> Array:
    return cumreduction(np.cumsum, np.add, 0, x, axis, dtype, out, method, np.sum)


def cumprod(
    x: Any, axis: int | None = None, dtype: Any = None, out: Any = None, method: str = "sequential"
) -> Array:
    return cumreduction(np.cumprod, np.multiply, 1, x, axis, dtype, out, method, np.prod)


def nancumsum(
    x: Any, axis: int | None, dtype: Any = None, out: Any = None, *, method: str = "sequential"
) -> Array:
    return cumreduction(np.nancumsum, np.add, 0, x, axis, dtype, out, method, np.nansum)


def nancumprod(
    x: Any, axis: int | None, dtype: Any = None, out: Any = None, *, method: str = "sequential"
) -> Array:
    return cumreduction(np.nancumprod, np.multiply, 1, x, axis, dtype, out, method, np.nanprod)


_scan_doc(cumsum, "cumsum", "array([ 1., nan, nan, nan])")
_scan_doc(cumprod, "cumprod", "array([ 1., nan, nan, nan])")
_scan_doc(nancumsum, "nancumsum", "array([1., 1., 3., 6.])")
_scan_doc(nancumprod, "nancumprod", "array([1., 1., 2., 6.])")


# -- topk / argtopk: the k best of each partial ----------------------------------------


def _best(k: int, values: np.ndarray, axis: int) -> np.ndarray:
    """Positions (along ``axis``) of the ``k`` largest values (the ``-k`` smallest for
    negative ``k``), unsorted; all of them when there are no more than ``|k|``."""
    n = values.shape[axis]
    if abs(k) >= n:
        shape = [1] * values.ndim
        shape[axis] = n
        return np.broadcast_to(np.arange(n).reshape(shape), values.shape)
    if k > 0:
        return np.take(np.argpartition(values, n - k, axis=axis), np.arange(n - k, n), axis=axis)
    return np.take(np.argpartition(values, -k - 1, axis=axis), np.arange(-k), axis=axis)


def _topk_chunk(k: int, block: np.ndarray, axes: tuple) -> np.ndarray:
    (axis,) = axes
    return np.take_along_axis(block, _best(k, block, axis), axis=axis)


def _topk_combine(k: int, parts: Any, axes: tuple) -> np.ndarray:
    return _topk_chunk(k, _concat_nested(parts), axes)


def _sorted_positions(k: int, values: np.ndarray, axis: int) -> np.ndarray:
    order = np.argsort(values, axis=axis, kind="stable")
    return np.flip(order, axis=axis) if k > 0 else order


def _topk_finish(k: int, block: np.ndarray, axes: tuple, keepdims: bool) -> np.ndarray:
    (axis,) = axes
    return np.take_along_axis(block, _sorted_positions(k, block, axis), axis=axis)


def _argtopk_chunk(k: int, block: np.ndarray, axes: tuple, start: tuple, shape: tuple) -> tuple:
    (axis,) = axes
    index_shape = [1] * block.ndim
    index_shape[axis] = block.shape[axis]
    indices = np.arange(start[axis], start[axis] + block.shape[axis]).reshape(index_shape)
    return _argtopk_pick(k, block, np.broadcast_to(indices, block.shape), axis)


def _argtopk_pick(k: int, values: np.ndarray, indices: np.ndarray, axis: int) -> tuple:
    best = _best(k, values, axis)
    return np.take_along_axis(values, best, axis), np.take_along_axis(indices, best, axis)


def _argtopk_combine(k: int, parts: Any, axes: tuple) -> tuple:
    values, indices = _concat_nested(parts)
    return _argtopk_pick(k, values, indices, axes[0])


def _argtopk_finish(k: int, parts: tuple, axes: tuple, keepdims: bool) -> np.ndarray:
    values, indices = parts
    return np.take_along_axis(indices, _sorted_positions(k, values, axes[0]), axis=axes[0])


def _topk_tree(
    a: Any,
    k: int,
    axis: int,
    split_every: int | None,
    name: str,
    dtype: Any,
    parts: tuple[Callable, Callable, Callable],
    index_aware: bool = False,
) -> Array:
    """:func:`topk` and :func:`argtopk`: ``k`` checked against the axis, then the tree of
    the ``(chunk, combine, finish)`` functions ``parts``, each given ``k`` first;
    ``dtype`` ``None`` is the array's."""
    x = asarray(a)
    axis = _check_axis(axis, x.ndim)
    if not isinstance(k, int | np.integer) or k == 0 or abs(k) > x.shape[axis]:
        # Dask would give an output of |k| elements along the axis with fewer inside.
        raise ValueError(
            f"k must be a non-zero integer with |k| <= {x.shape[axis]} (the axis' length), "
            f"got {k!r}"
        )
    k = int(k)
    dtype = x.dtype if dtype is None else dtype
    return _tree(x, *(partial(f, k) for f in parts), axis, True, dtype, name, split_every,
                 index_aware=index_aware, output_size=abs(k))  # fmt: skip


def topk(a: Any, k: int, axis: int = -1, split_every: int | None = None) -> Array:
    """The ``k`` largest elements along ``axis``, largest first (for negative ``k``, the
    ``-k`` smallest, smallest first), as Dask's ``topk``: each block keeps its best
    ``|k|``, then groups of ``split_every`` partials keep theirs. The result is one block
    along ``axis``.

    Parameters
    ----------
    a
        The array.
    k
        How many, and which end: positive for the largest, negative for the smallest.
    axis
        The axis.
    split_every
        At most this many partials are merged by one task (8); keeps memory bounded
        when ``|k|`` is near the block size.

    Raises
    ------
    ValueError
        If ``k`` is 0 or longer than the axis.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([5, 1, 3, 6]), chunks=2)
    >>> da.topk(x, 2).compute(), da.topk(x, -2).compute()
    (array([6, 5]), array([1, 3]))
    """
    parts = (_topk_chunk, _topk_combine, _topk_finish)
    return _topk_tree(a, k, axis, split_every, "topk", None, parts)


def argtopk(a: Any, k: int, axis: int = -1, split_every: int | None = None) -> Array:
    """The indices along ``axis`` of :func:`topk`'s elements, in the same order, as
    Dask's ``argtopk`` (which of equal elements is chosen is unspecified).

    Parameters
    ----------
    a, k, axis, split_every
        As :func:`topk`.

    Raises
    ------
    ValueError
        If ``k`` is 0 or longer than the axis.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([5, 1, 3, 6]), chunks=2)
    >>> da.argtopk(x, 2).compute(), da.argtopk(x, -2).compute()
    (array([3, 0]), array([1, 2]))
    """
    parts = (_argtopk_chunk, _argtopk_combine, _argtopk_finish)
    return _topk_tree(a, k, axis, split_every, "argtopk", np.dtype(np.intp), parts, True)


# -- functions of whole axes: the reduced axes rechunked into one block, as Dask -------


def _whole_axes(
    x: Array,
    func: Callable,
    axis: Any,
    keepdims: bool,
    dtype: Any,
    name: str,
    lead: tuple = (),
    weights: Array | None = None,
) -> Array:
    """``func(block[, weights block])`` on blocks holding the whole of the reduced axes;
    the output has new leading axes of lengths ``lead`` (one block) and the other axes'
    blocks."""
    axes = _axes(axis, x.ndim)
    if builtins.any(x.numblocks[a] > 1 for a in axes):
        x = x.rechunk({a: -1 if a in axes else "auto" for a in builtins.range(x.ndim)})
    if weights is not None:
        weights = asarray(weights)
        if weights.shape != x.shape:
            raise NotImplementedError("weights= must have the shape of the array here")
        weights = weights.rechunk(x.chunks)
    token = tokenize(x.name, func, axes, keepdims, np.dtype(dtype), lead,
                     None if weights is None else weights.name)  # fmt: skip
    out_name = f"{name}-{token}"
    layer: dict = {}
    for idx in np.ndindex(*x.numblocks):
        out_idx = (0,) * len(lead) + tuple(
            i for a, i in enumerate(idx) if a not in axes or keepdims
        )
        task: tuple = (func, (x.name, *idx))
        if weights is not None:
            task = (*task, (weights.name, *idx))
        layer[(out_name, *out_idx)] = task
    chunks = tuple((n,) for n in lead) + tuple(
        (1,) if a in axes else c for a, c in enumerate(x.chunks) if a not in axes or keepdims
    )
    others = () if weights is None else (weights,)
    return _derive(x, out_name, layer, chunks, dtype, *others)


def _median_block(func: Callable, axes: tuple, keepdims: bool, block: np.ndarray) -> np.ndarray:
    return np.asarray(func(block, axis=axes, keepdims=keepdims))


def _median(func: Callable, a: Any, axis: Any, keepdims: bool, out: Any) -> Array:
    if axis is None:
        raise NotImplementedError(
            f"The da.{func.__name__} function only works along an axis.  "
            "The full algorithm is difficult to do in parallel"
        )
    x = asarray(a)
    axes = _axes(axis, x.ndim)
    probe = np.ones((1,) * x.ndim, dtype=x.dtype)
    dtype = np.asarray(func(probe, axis=axes)).dtype
    fn = partial(_median_block, func, axes, keepdims)
    return handle_out(out, _whole_axes(x, fn, axes, keepdims, dtype, func.__name__))


def median(a: Any, axis: Any = None, keepdims: bool = False, out: Any = None) -> Array:
    """``numpy.median`` along ``axis`` (required, as Dask: an axis or a tuple of axes),
    after rechunking those axes into one block.

    Raises
    ------
    NotImplementedError
        Without ``axis``, as Dask.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([[1.0, 5.0, 2.0], [4.0, 3.0, 9.0]]), chunks=1)
    >>> da.median(x, axis=1).compute()
    array([2., 4.])
    """
    return _median(np.median, a, axis, keepdims, out)


def nanmedian(a: Any, axis: Any = None, keepdims: bool = False, out: Any = None) -> Array:
    """``numpy.nanmedian`` along ``axis`` (required, as Dask), after rechunking those
    axes into one block.

    Raises
    ------
    NotImplementedError
        Without ``axis``, as Dask.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([[1.0, np.nan, 2.0], [4.0, 3.0, 9.0]]), chunks=1)
    >>> da.nanmedian(x, axis=1).compute()
    array([1.5, 4. ])
    """
    return _median(np.nanmedian, a, axis, keepdims, out)


def _quantile_block(
    func: Callable, q: np.ndarray, axes: tuple, method: str, keepdims: bool, *blocks: np.ndarray
) -> np.ndarray:
    weights = {"weights": blocks[1]} if len(blocks) > 1 else {}
    block = blocks[0]
    out = np.asarray(func(block, q, axis=axes, method=method, keepdims=keepdims, **weights))
    kept = tuple(
        1 if a in axes else n for a, n in enumerate(block.shape) if a not in axes or keepdims
    )
    if out.shape != q.shape + kept:  # numpy's nanquantile of an empty block drops q's axes
        out = np.full(q.shape + kept, np.nan, dtype=out.dtype)
    return out


def _quantile(
    func: Callable,
    a: Any,
    q: Any,
    axis: Any,
    out: Any,
    overwrite_input: bool,
    method: str,
    keepdims: bool,
    weights: Any,
    interpolation: Any,
) -> Array:
    if interpolation is not None:
        warnings.warn(
            "The `interpolation` argument to quantile was renamed to `method`.",
            FutureWarning,
            stacklevel=3,
        )
        if method != "linear":
            raise TypeError("Cannot pass interpolation and method keywords!")
        method = interpolation
    if overwrite_input:
        raise NotImplementedError(f"da.{func.__name__} does not support overwrite_input=True")
    x = asarray(a)
    if axis is None:
        if builtins.any(n > 1 for n in x.numblocks):
            raise NotImplementedError(
                f"The da.{func.__name__} function only works along an axis.  "
                "The full algorithm is difficult to do in parallel"
            )
        axis = tuple(builtins.range(x.ndim))
    axes = _axes(axis, x.ndim)
    q = np.asarray(q)
    # numpy's own checks of q and method, and the result's dtype, without the data.
    probe = np.ones((1,) * x.ndim, dtype=x.dtype)
    extra = (
        {} if weights is None else {"weights": np.ones_like(probe, dtype=asarray(weights).dtype)}
    )
    dtype = np.asarray(func(probe, q, axis=axes, method=method, **extra)).dtype
    fn = partial(_quantile_block, func, q, axes, method, keepdims)
    result = _whole_axes(x, fn, axes, keepdims, dtype, func.__name__, q.shape, weights)
    return handle_out(out, result)


_QUANTILE_DOC = """``numpy.{name}`` along ``axis``, after rechunking those axes into one block
    (as Dask's ``{name}``; ``axis=None`` needs an array of one block).

    Parameters
    ----------
    a
        The array.
    q
        The quantile(s), in [0, 1]: their axes come first in the result.
    axis
        An axis or a tuple of axes.
    out
        As numpy's ``out=`` (see :func:`taskloom.array.protocols.handle_out`).
    overwrite_input
        Not supported (``True`` raises ``NotImplementedError``), as Dask.
    method
        numpy's method (``"linear"``...).
    keepdims
        Keep the reduced axes, with length 1.
    weights
        numpy's ``weights=`` (``method="inverted_cdf"``), of the array's shape.
    interpolation
        The old name of ``method`` (a ``FutureWarning``).

    Raises
    ------
    NotImplementedError
        With ``axis=None`` on an array of several blocks, or ``overwrite_input=True``.
    ValueError
        If ``q`` or ``method`` is invalid (numpy's errors, when the graph is built).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([[1.0, {nan}, 2.0, 4.0], [4.0, 3.0, 9.0, 0.0]]), chunks=1)
    >>> da.{name}(x, [0.5, 1.0], axis=1).compute()
    {example}
    """


def quantile(
    a: Any,
    q: Any,
    axis: Any = None,
    out: Any = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: Any = None,
    interpolation: Any = None,
) -> Array:
    return _quantile(np.quantile, a, q, axis, out, overwrite_input, method, keepdims, weights,
                     interpolation)  # fmt: skip


def nanquantile(
    a: Any,
    q: Any,
    axis: Any = None,
    out: Any = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: Any = None,
    interpolation: Any = None,
) -> Array:
    return _quantile(np.nanquantile, a, q, axis, out, overwrite_input, method, keepdims, weights,
                     interpolation)  # fmt: skip


quantile.__doc__ = _QUANTILE_DOC.format(
    name="quantile", nan="3.0", example="array([[2.5, 3.5],\n           [4. , 9. ]])"
)
nanquantile.__doc__ = _QUANTILE_DOC.format(
    name="nanquantile", nan="np.nan", example="array([[2. , 3.5],\n           [4. , 9. ]])"
)

_MERGE_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _percentile_chunk(block: np.ndarray, q: np.ndarray, method: str) -> tuple:
    if not len(block):
        return None, 0
    return np.percentile(block, q, method=method), len(block)


def _exact_percentile(block: np.ndarray, q: np.ndarray, method: str, dtype: np.dtype):
    if not len(block):
        raise ValueError("No non-trivial arrays found")  # Dask's message for no data
    return np.percentile(block, q, method=method).astype(dtype)


def _merge_percentiles(
    final_q: np.ndarray, q: np.ndarray, parts: list, method: str, dtype: np.dtype
) -> np.ndarray:
    """Dask's ``merge_percentiles``: each block's percentiles ``q`` stand for ``N *
    diff(q)`` of its elements; sorted together they are an approximate distribution,
    read at ``final_q``."""
    parts = [(v, n) for v, n in parts if n]
    if not parts:
        raise ValueError("No non-trivial arrays found")
    counts = np.concatenate([np.diff(q, prepend=0) * n for _, n in parts])
    values = np.concatenate([v for v, _ in parts])
    order = np.argsort(values)  # numpy's default sort, as Dask: the same order of ties
    values, cumulative = values[order], np.cumsum(counts[order])
    desired = final_q * builtins.sum(n for _, n in parts)
    if method == "linear":
        out = np.interp(desired, cumulative, values)
    else:
        left = np.minimum(np.searchsorted(cumulative, desired, side="left"), len(values) - 1)
        # Clipped at 0: Dask's -1 (a first value of non-zero weight) reads the largest.
        right = np.maximum(np.searchsorted(cumulative, desired, side="right") - 1, 0)
        lower, upper = np.minimum(left, right), np.maximum(left, right)
        if method == "lower":
            out = values[lower]
        elif method == "higher":
            out = values[upper]
        elif method == "midpoint":
            out = 0.5 * (values[lower] + values[upper])
        else:  # nearest
            closer = np.abs(cumulative[lower] - desired) > np.abs(cumulative[upper] - desired)
            out = values[np.where(closer, upper, lower)]
    return np.asarray(out).astype(dtype)


def percentile(a: Any, q: Any, method: str = "linear", internal_method: str = "default",
               **kwargs: Any) -> Array:  # fmt: skip
    """Percentiles of a 1-d array, approximated as Dask's ``percentile``: each block's
    percentiles (with 0 and 100) are merged, weighted by the block sizes (exact for one
    block). Arrays of more dimensions go to :func:`quantile` (``q / 100``).

    Parameters
    ----------
    a
        The array.
    q
        A percentile or a sequence of them, in [0, 100] (a 0-d result for one number).
    method
        ``"linear"``, ``"lower"``, ``"higher"``, ``"midpoint"`` or ``"nearest"``
        (``"default"``/``"dask"``/``"tdigest"`` here mean ``internal_method``, with a
        ``FutureWarning``, as Dask).
    internal_method
        ``"default"`` or ``"dask"``: the merge above. ``"tdigest"`` is not supported.
    **kwargs
        ``interpolation=`` (the old name of ``method``, a ``FutureWarning``); for
        n-d arrays, :func:`quantile`'s keywords.

    Raises
    ------
    NotImplementedError
        For ``internal_method="tdigest"``, or a 0-d array.
    ValueError
        For another ``internal_method`` or ``method``, or ``q`` outside [0, 100].
    TypeError
        For other keywords (1-d arrays).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(101.0), chunks=101)
    >>> da.percentile(x, [10, 50]).compute()
    array([10., 50.])
    """
    x = asarray(a)
    if x.ndim > 1:
        q = np.true_divide(q, x.dtype.type(100) if x.dtype.kind == "f" else 100)
        return quantile(x, q, method=method, **kwargs)
    if x.ndim == 0:
        raise NotImplementedError("support for arrays of ndim 0 is not implemented.")
    allowed = ("default", "dask", "tdigest")
    if method in allowed:
        warnings.warn(
            "The `method=` argument was renamed to `internal_method=`", FutureWarning, stacklevel=2
        )
        internal_method, method = method, "linear"
    if "interpolation" in kwargs:
        warnings.warn(
            "The `interpolation=` argument to percentile was renamed to `method= ` ",
            FutureWarning,
            stacklevel=2,
        )
        method = kwargs.pop("interpolation")
    if kwargs:
        raise TypeError(f"percentile() got an unexpected keyword argument {kwargs.keys()}")
    if internal_method not in allowed:
        raise ValueError(f"`internal_method=` must be one of {set(allowed)}")
    if internal_method == "tdigest":
        raise NotImplementedError(
            "internal_method='tdigest' (Dask's use of crick's t-digest) is not supported: "
            "use 'default' or 'dask'"
        )
    if method not in _MERGE_METHODS:
        raise ValueError(f"method must be one of {_MERGE_METHODS}, got {method!r}")
    scalar = np.ndim(q) == 0
    q = np.atleast_1d(np.asarray(q))
    np.percentile(np.zeros(1), q)  # numpy's check of q's range, when the graph is built
    dtype = x.dtype if x.dtype.kind not in "biu" else np.dtype("f8")
    # Sorted: each block's percentiles stand for the elements between them (Dask uses
    # q as given, and unsorted q give negative weights there).
    calc_q = np.concatenate(([0], np.sort(q), [100]))
    token = tokenize(x.name, q, method)
    chunk_name, name = f"percentile_chunk-{token}", f"percentile-{token}"
    layer: dict = {
        (chunk_name, i): (_percentile_chunk, (x.name, i), calc_q, method)
        for i in builtins.range(x.numblocks[0])
    }
    parts = [(chunk_name, i) for i in builtins.range(x.numblocks[0])]
    merged = (_merge_percentiles, q, calc_q, parts, method, dtype)
    if x.numblocks[0] == 1:  # one block: numpy's exact answer, as Dask gives
        layer = {}
        merged = (_exact_percentile, (x.name, 0), q, method, dtype)
    if scalar:
        layer[(name,)] = (np.squeeze, merged)
        return _derive(x, name, layer, (), dtype)
    layer[(name, 0)] = merged
    return _derive(x, name, layer, ((len(q),),), dtype)


def nanpercentile(a: Any, q: Any, **kwargs: Any) -> Array:
    """``numpy.nanpercentile``: :func:`nanquantile` of ``q / 100``, as Dask.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([1.0, np.nan, 3.0]), chunks=3)
    >>> da.nanpercentile(x, 50).compute()
    np.float64(2.0)
    """
    x = asarray(a)
    q = np.true_divide(q, x.dtype.type(100) if x.dtype.kind == "f" else 100)
    return nanquantile(x, q, **kwargs)


# -- built from the reductions above ----------------------------------------------------


def ptp(a: Any, axis: Any = None) -> Array:
    """Peak to peak: ``max - min`` over ``axis``, as Dask's ``ptp``.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> da.ptp(da.from_array(np.array([[4, 9, 2], [1, 1, 3]]), chunks=2), axis=1).compute()
    array([7, 2])
    """
    x = asarray(a)
    np.ptp(np.ones((1,) * x.ndim, dtype=x.dtype))  # numpy's TypeError for booleans
    return elemwise(np.subtract, max(x, axis=axis), min(x, axis=axis))


def _broadcast_like(value: np.ndarray, like: np.ndarray) -> np.ndarray:
    return np.broadcast_to(value, np.shape(like)).copy()


def average(
    a: Any,
    axis: Any = None,
    weights: Any = None,
    returned: bool = False,
    keepdims: bool = False,
) -> Array | tuple[Array, Any]:
    """``numpy.average``: the (weighted) mean over ``axis``, and with ``returned`` the
    sum of the weights (numpy's scalar count without weights).

    Parameters
    ----------
    a
        The array.
    axis
        An axis, a tuple of axes, or ``None`` for all.
    weights
        Of ``a``'s shape, or 1-d along ``axis``.
    returned
        Also return the sum of the weights, broadcast to the result's shape.
    keepdims
        Keep the reduced axes, with length 1.

    Raises
    ------
    TypeError
        If the weights' shape differs from ``a``'s and ``axis`` is missing or they
        are not 1-d.
    ValueError
        If 1-d weights do not have the axis' length.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([[1.0, 2.0], [3.0, 4.0]]), chunks=1)
    >>> da.average(x, axis=1, weights=[3, 1]).compute()
    array([1.25, 3.25])
    """
    x = asarray(a)
    if weights is None:
        avg = mean(x, axis=axis, keepdims=keepdims)
        scale = avg.dtype.type(x.size / builtins.max(avg.size, 1))
        return (avg, scale) if returned else avg
    w = asarray(weights)
    if x.dtype.kind in "biu":
        result_dtype = np.result_type(x.dtype, w.dtype, "f8")
    else:
        result_dtype = np.result_type(x.dtype, w.dtype)
    if x.shape != w.shape:
        if axis is None:
            raise TypeError("Axis must be specified when shapes of a and weights differ.")
        if w.ndim != 1:
            raise TypeError("1D weights expected when shapes of a and weights differ.")
        ax = _check_axis(axis, x.ndim)
        if w.shape[0] != x.shape[ax]:
            raise ValueError("Length of weights not compatible with specified axis.")
        w = w[tuple(slice(None) if i == ax else None for i in builtins.range(x.ndim))]
    scale = sum(w, axis=axis, dtype=result_dtype, keepdims=keepdims)
    # In the result's type, as numpy: small integers would overflow before a cast.
    weighted = elemwise(np.multiply, x.astype(result_dtype), w.astype(result_dtype))
    avg = elemwise(np.true_divide, sum(weighted, axis=axis, keepdims=keepdims), scale)
    if not returned:
        return avg
    if scale.shape != avg.shape:
        scale = elemwise(_broadcast_like, scale, avg)
    return avg, scale


def count_nonzero(a: Any, axis: Any = None) -> Array:
    """The number of non-zero elements over ``axis``, as Dask's ``count_nonzero``.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([[0, 1, 7], [0, 0, 3]]), chunks=2)
    >>> da.count_nonzero(x, axis=1).compute()
    array([2, 1])
    """
    return sum(elemwise(np.not_equal, asarray(a), 0), axis=axis, dtype=np.intp)


def _diagonal_axes(x: Array, axis1: int, axis2: int) -> tuple[int, int]:
    """The two axes of the plane of a diagonal (:func:`trace`, ``diagonal``), normalized;
    numpy's errors for fewer than 2 dimensions or the same axis twice."""
    if x.ndim < 2:
        raise ValueError("diag requires an array of at least two dimensions")
    axis1, axis2 = _check_axis(axis1, x.ndim), _check_axis(axis2, x.ndim)
    if axis1 == axis2:
        raise ValueError("axis1 and axis2 cannot be the same")
    return axis1, axis2


def _trace_block(
    offset: int, axis1: int, axis2: int, dtype: np.dtype, block: np.ndarray
) -> np.ndarray:
    return np.trace(block, offset=offset, axis1=axis1, axis2=axis2, dtype=dtype)[None]


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None) -> Array:
    """``numpy.trace``: the sums along the diagonal ``offset`` of the planes of
    ``axis1`` and ``axis2``. Only the blocks the diagonal crosses are read; their
    partial traces are summed by the tree of :func:`sum`.

    Raises
    ------
    ValueError
        For an array of fewer than 2 dimensions, the same axis twice, or unknown chunk
        sizes along the two axes.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(9).reshape(3, 3), chunks=2)
    >>> da.trace(x).compute(), da.trace(x, offset=1).compute()
    (np.int64(12), np.int64(6))
    """
    x = asarray(a)
    a1, a2 = _diagonal_axes(x, axis1, axis2)
    if has_unknown(x.chunks[a1]) or has_unknown(x.chunks[a2]):
        raise ValueError(f"trace needs the diagonal's position.{UNKNOWN_CHUNK_MESSAGE}")
    dtype = np.dtype(dtype) if dtype is not None else np.trace(np.ones((1, 1), x.dtype)).dtype
    offset = int(offset)
    rows, cols = _offsets(x.chunks[a1]), _offsets(x.chunks[a2])
    # Blocks holding an element with column - row == offset.
    crossed = [
        (i, j)
        for i in builtins.range(x.numblocks[a1])
        for j in builtins.range(x.numblocks[a2])
        if rows[i] < rows[i + 1] and cols[j] < cols[j + 1]
        and cols[j] - rows[i + 1] + 1 <= offset <= cols[j + 1] - 1 - rows[i]
    ]  # fmt: skip
    rest = [ax for ax in builtins.range(x.ndim) if ax not in (a1, a2)]
    rest_chunks = tuple(x.chunks[ax] for ax in rest)
    if not crossed:
        from taskloom.array.creation import zeros

        return zeros(tuple(x.shape[ax] for ax in rest), dtype=dtype, chunks=rest_chunks)
    name = f"trace-parts-{tokenize(x.name, offset, a1, a2, dtype)}"
    layer: dict = {}
    for p, (i, j) in enumerate(crossed):
        local = offset - cols[j] + rows[i]
        for rest_idx in np.ndindex(*[len(c) for c in rest_chunks]):
            idx = [0] * x.ndim
            idx[a1], idx[a2] = i, j
            for ax, k in zip(rest, rest_idx, strict=True):
                idx[ax] = k
            layer[(name, p, *rest_idx)] = (_trace_block, local, a1, a2, dtype, (x.name, *idx))
    parts = _derive(x, name, layer, ((1,) * len(crossed), *rest_chunks), dtype)
    return sum(parts, axis=0, dtype=dtype)


def _as_rows(m: Array, rowvar: bool) -> Array:
    rows = m[None, :] if m.ndim == 1 else m
    return rows.T if not rowvar and rows.shape[0] != 1 else rows


def cov(
    m: Any,
    y: Any = None,
    rowvar: bool = True,
    bias: bool = False,
    ddof: int | None = None,
    fweights: Any = None,
    aweights: Any = None,
    *,
    dtype: Any = None,
) -> Array:
    """``numpy.cov``: the covariance matrix of the variables (rows, or columns when not
    ``rowvar``) of ``m`` and ``y``, as ``X @ X.T / (N - ddof)`` of the centred data.

    Parameters
    ----------
    m, y
        1-d or 2-d arrays of observations.
    rowvar
        Variables are rows (True) or columns.
    bias, ddof
        The divisor is ``N - ddof``; ``ddof`` is 1, or 0 with ``bias``, by default.
    fweights, aweights
        Frequency and observation weights (1-d, one per observation); their values
        are not checked, as that would compute them.
    dtype
        The result's dtype (at least float64).

    Raises
    ------
    ValueError
        For arrays of more than 2 dimensions, non-integer ``ddof`` or weights of the
        wrong shape.
    TypeError
        For non-integer ``fweights``.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]), chunks=1)
    >>> da.cov(x).compute()
    array([[ 1., -1.],
           [-1.,  1.]])
    """
    from taskloom.array.routines import concatenate, dot, squeeze

    if ddof is not None and ddof != int(ddof):
        raise ValueError("ddof must be integer")
    m = asarray(m)
    if m.ndim > 2:
        raise ValueError("m has more than 2 dimensions")
    arrays = [m] if y is None else [m, asarray(y)]
    if y is not None and arrays[1].ndim > 2:
        raise ValueError("y has more than 2 dimensions")
    if dtype is None:
        dtype = np.result_type(*[a.dtype for a in arrays], np.float64)
    rows = [_as_rows(a, rowvar) for a in arrays]
    X = (concatenate(rows, axis=0) if len(rows) > 1 else rows[0]).astype(dtype)
    if ddof is None:
        ddof = 0 if bias else 1
    n = X.shape[1]
    w = None
    for weights, label in ((fweights, "fweights"), (aweights, "aweights")):
        if weights is None:
            continue
        weights = asarray(weights).astype(
            np.float64 if label == "aweights" else asarray(weights).dtype
        )
        if label == "fweights" and weights.dtype.kind not in "iu":
            raise TypeError("fweights must be integer")
        if weights.ndim > 1:
            raise RuntimeError(f"cannot handle multidimensional {label}")
        if weights.shape[0] != n:
            raise RuntimeError(f"incompatible numbers of samples and {label}")
        w = weights if w is None else elemwise(np.multiply, w, weights)
    avg, w_sum = average(X, axis=1, weights=w, returned=True)
    if w is None:
        fact: Any = n - ddof
        if fact <= 0:
            warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=2)
            fact = 0.0
    else:
        w_sum = w_sum[0]
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = w_sum - ddof
        else:
            aw = asarray(aweights).astype(np.float64)
            fact = w_sum - ddof * sum(elemwise(np.multiply, w, aw)) / w_sum
    X = elemwise(np.subtract, X, avg[:, None])
    X_T = (X if w is None else elemwise(np.multiply, X, w)).T
    c = elemwise(np.true_divide, dot(X, elemwise(np.conj, X_T)), fact)
    return squeeze(c)


def _corrcoef_block(c: np.ndarray) -> np.ndarray:
    # numpy's own normalisation (with its clipping to [-1, 1]) of the whole matrix.
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.diag(c)
        stddev = np.sqrt(d.real)
        c = c / stddev[:, None] / stddev[None, :]
    np.clip(c.real, -1, 1, out=c.real)
    if np.iscomplexobj(c):
        np.clip(c.imag, -1, 1, out=c.imag)
    return c


def corrcoef(x: Any, y: Any = None, rowvar: bool = True) -> Array:
    """``numpy.corrcoef``: :func:`cov` normalised by the standard deviations (in one
    task on the variables-by-variables matrix).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([[0.0, 1.0, 2.0], [4.0, 2.0, 0.0]]), chunks=1)
    >>> da.corrcoef(x).compute()
    array([[ 1., -1.],
           [-1.,  1.]])
    """
    c = cov(x, y, rowvar)
    if c.ndim == 0:
        return elemwise(np.true_divide, c, c)
    whole = c.rechunk(-1)
    name = f"corrcoef-{tokenize(whole.name)}"
    layer = {(name, 0, 0): (_corrcoef_block, (whole.name, 0, 0))}
    return _derive(whole, name, layer, whole.chunks, c.dtype)
