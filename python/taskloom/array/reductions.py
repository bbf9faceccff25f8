"""Reductions of blocked arrays: tree reductions with a bounded fan-in.

Each block is reduced on its own with ``keepdims=True`` (so partial results keep their
position), then at most ``split_every`` partials along each reduced axis are
concatenated and reduced again, level by level, until one block per output position is
left. Means carry (count, sum) partials, variances (count, sum, sum of squared
deviations) combined with Chan et al.'s formula; argmin/argmax carry (value, global
index) partials.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from taskloom.array.core import Array, _check_axis, _derive, _offsets, asarray
from taskloom.array.protocols import handle_out
from taskloom.tokenize import tokenize

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


def _tree(
    x: Array,
    chunk: Callable,
    combine: Callable,
    finish: Callable,
    axis: Any,
    keepdims: bool,
    dtype: Any,
    name: str,
    split_every: int | None = None,
    index_aware: bool = False,
) -> Array:
    axes = _axes(axis, x.ndim)
    split = split_every or SPLIT_EVERY
    if split < 2:
        raise ValueError(f"split_every must be at least 2, got {split}")
    # Every part of the computation is in the key: var(ddof=0) and var(ddof=1) differ.
    token = tokenize(x.name, name, axes, keepdims, split, np.dtype(dtype), chunk, combine, finish)
    level_name = f"{name}-chunk-{token}"
    layer: dict = {}
    offsets = [_offsets(c) for c in x.chunks]
    for idx in np.ndindex(*x.numblocks):
        if index_aware:
            start = tuple(offsets[a][i] for a, i in enumerate(idx))
            layer[(level_name, *idx)] = (chunk, (x.name, *idx), axes, start, x.shape)
        else:
            layer[(level_name, *idx)] = (chunk, (x.name, *idx), axes)
    numblocks = list(x.numblocks)
    depth = 0
    while builtins.any(numblocks[a] > 1 for a in axes):
        depth += 1
        nxt_name = f"{name}-combine{depth}-{token}"
        new_numblocks = [-(-n // split) if a in axes else n for a, n in enumerate(numblocks)]
        for idx in np.ndindex(*new_numblocks):
            ranges = [
                builtins.range(i * split, builtins.min((i + 1) * split, numblocks[a]))
                if a in axes
                else [i]
                for a, i in enumerate(idx)
            ]
            parts = _nested(level_name, ranges)
            layer[(nxt_name, *idx)] = (combine, parts, axes)
        level_name, numblocks = nxt_name, new_numblocks
    out_name = f"{name}-{token}"
    out_chunks = []
    for a, c in enumerate(x.chunks):
        if a in axes:
            if keepdims:
                out_chunks.append((1,))
        else:
            out_chunks.append(c)
    for idx in np.ndindex(*numblocks):
        out_idx = tuple(i for a, i in enumerate(idx) if a not in axes or keepdims)
        layer[(out_name, *out_idx)] = (finish, (level_name, *idx), axes, keepdims)
    return _derive(x, out_name, layer, tuple(out_chunks), dtype)


def _nested(name: str, ranges: list) -> Any:
    def build(axis: int, prefix: tuple) -> Any:
        if axis == len(ranges):
            return (name, *prefix)
        return [build(axis + 1, (*prefix, i)) for i in ranges[axis]]

    return build(0, ())


def _concat_nested(parts: Any, depth: int = 0) -> Any:
    """Concatenate nested lists of partials (arrays, or tuples of arrays) along each axis."""
    if not isinstance(parts, list):
        return parts
    items = [_concat_nested(p, depth + 1) for p in parts]
    if isinstance(items[0], tuple):
        return tuple(
            np.concatenate([it[k] for it in items], axis=depth)
            for k in builtins.range(len(items[0]))
        )
    return np.concatenate(items, axis=depth)


# -- simple reductions: chunk and combine are the same numpy function ------------------


def _simple_chunk(func: Callable, block: np.ndarray, axes: tuple) -> np.ndarray:
    return func(block, axis=axes, keepdims=True)


def _simple_combine(func: Callable, parts: Any, axes: tuple) -> np.ndarray:
    return func(_concat_nested(parts), axis=axes, keepdims=True)


def _simple_finish(block: np.ndarray, axes: tuple, keepdims: bool) -> Any:
    return block if keepdims else np.squeeze(block, axis=axes)


def _simple(
    func: Callable, x: Array, axis: Any, keepdims: bool, dtype: Any, split_every: Any
) -> Array:
    if x.size == 0 and func in (np.min, np.max):
        raise ValueError(
            f"zero-size array to reduction operation {func.__name__} which has no identity"
        )
    return _tree(
        x,
        partial(_simple_chunk, func),
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
    dtype = np.dtype(dtype) if dtype is not None else func(np.ones(1, dtype=x.dtype)).dtype
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
    >>> x = da.from_array(np.arange(6).reshape(2, 3) % 4, chunks=1)
    >>> da.{name}(x, axis=1).compute(){example}
    """
_DTYPE = """
    dtype
        The type of the result (and of the accumulation, as numpy)."""
_DDOF = """
    ddof
        Delta degrees of freedom: the divisor is ``N - ddof``."""


def _documented(extra: str, example: str) -> Callable:
    def wrap(func: Callable) -> Callable:
        func.__doc__ = _DOC.format(name=func.__name__, extra=extra, example=example)
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


def _plain(func: Callable, dtype: Any, example: str) -> Callable:
    """min, max, any, all: the reduction of ``func`` with the result type ``dtype``."""

    def reduction(
        a: Any,
        axis: Any = None,
        keepdims: bool = False,
        split_every: int | None = None,
        out: Any = None,
    ) -> Array:
        x = asarray(a)
        result_dtype = x.dtype if dtype is None else dtype
        return handle_out(out, _simple(func, x, axis, keepdims, result_dtype, split_every))

    reduction.__name__ = reduction.__qualname__ = func.__name__
    reduction.__module__ = __name__
    return _documented("", example)(reduction)


min = _plain(np.min, None, "\n    array([0, 0])")
max = _plain(np.max, None, "\n    array([2, 3])")
any = _plain(np.any, np.dtype(bool), "\n    array([ True,  True])")
all = _plain(np.all, np.dtype(bool), "\n    array([False, False])")


# -- moments: (count, sum, sum of squares of deviations) partials -----------------------


def _count(block: np.ndarray, axes: tuple) -> np.ndarray:
    """Elements per reduced position, from the shape alone (no pass over the data)."""
    shape = tuple(1 if a in axes else s for a, s in enumerate(block.shape))
    n = 1
    for a in axes:
        n *= block.shape[a]
    return np.full(shape, n, dtype="i8")


def _sum_chunk(block: np.ndarray, axes: tuple) -> tuple:
    return _count(block, axes), np.sum(block, axis=axes, keepdims=True, dtype="f8")


def _sum_combine(parts: Any, axes: tuple) -> tuple:
    n, total = _concat_nested(parts)
    return np.sum(n, axis=axes, keepdims=True), np.sum(total, axis=axes, keepdims=True)


def _moment_chunk(block: np.ndarray, axes: tuple) -> tuple:
    n, total = _sum_chunk(block, axes)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
    m2 = np.sum((block - mean) ** 2, axis=axes, keepdims=True, dtype="f8")
    return n, total, m2


def _moment_combine(parts: Any, axes: tuple) -> tuple:
    n, total, m2 = _concat_nested(parts)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = total / n
        n_all = np.sum(n, axis=axes, keepdims=True)
        total_all = np.sum(total, axis=axes, keepdims=True)
        mean_all = total_all / n_all
        # Chan et al.: within-part deviations plus between-part deviations.
        m2_all = np.sum(
            np.where(n > 0, m2 + n * (means - mean_all) ** 2, 0), axis=axes, keepdims=True
        )
    return n_all, total_all, m2_all


def _mean_finish(parts: tuple, axes: tuple, keepdims: bool) -> np.ndarray:
    n, total = parts
    with np.errstate(invalid="ignore", divide="ignore"):
        out = total / n
    return out if keepdims else np.squeeze(out, axis=axes)


def _var_finish(ddof: int, parts: tuple, axes: tuple, keepdims: bool) -> np.ndarray:
    n, _, m2 = parts
    with np.errstate(invalid="ignore", divide="ignore"):
        out = m2 / np.maximum(n - ddof, 0)
    return out if keepdims else np.squeeze(out, axis=axes)


def _std_finish(ddof: int, parts: tuple, axes: tuple, keepdims: bool) -> np.ndarray:
    return np.sqrt(_var_finish(ddof, parts, axes, keepdims))


def _moments(
    a: Any,
    chunk: Callable,
    combine: Callable,
    finish: Callable,
    axis: Any,
    dtype: Any,
    keepdims: bool,
    name: str,
    split_every: Any,
    out: Any,
) -> Array:
    """mean, var, std: float partials; the result cast to ``dtype`` (numpy's float type
    of the input's by default) at the end."""
    x = asarray(a)
    default = np.mean(np.ones(1, dtype=x.dtype)).dtype
    dtype = np.dtype(dtype) if dtype is not None else default
    if dtype != default:
        finish = partial(_cast_finish, finish, dtype)
    result = _tree(x, chunk, combine, finish, axis, keepdims, dtype, name, split_every)
    return handle_out(out, result)


def _cast_finish(finish: Callable, dtype: np.dtype, *args: Any) -> np.ndarray:
    return np.asarray(finish(*args)).astype(dtype)


@_documented(_DTYPE, "\n    array([1.        , 1.33333333])")
def mean(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    keepdims: bool = False,
    split_every: int | None = None,
    out: Any = None,
) -> Array:
    return _moments(a, _sum_chunk, _sum_combine, _mean_finish, axis, dtype, keepdims, "mean",
                    split_every, out)  # fmt: skip


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
    return _moments(a, _moment_chunk, _moment_combine, partial(_var_finish, ddof), axis, dtype,
                    keepdims, "var", split_every, out)  # fmt: skip


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
    return _moments(a, _moment_chunk, _moment_combine, partial(_std_finish, ddof), axis, dtype,
                    keepdims, "std", split_every, out)  # fmt: skip


# -- argmin / argmax: (value, flat index along the axis) partials ------------------------


def _arg_chunk(func: Callable, block: np.ndarray, axes: tuple, start: tuple, shape: tuple) -> tuple:
    (axis,) = axes
    local = func(block, axis=axis, keepdims=True)
    values = np.take_along_axis(block, local, axis=axis)
    return values, local + start[axis]


def _arg_combine(func: Callable, parts: Any, axes: tuple) -> tuple:
    values, indices = _concat_nested(parts)
    (axis,) = axes
    pick = func(values, axis=axis, keepdims=True)
    return np.take_along_axis(values, pick, axis=axis), np.take_along_axis(indices, pick, axis=axis)


def _arg_finish(parts: tuple, axes: tuple, keepdims: bool) -> np.ndarray:
    out = parts[1]
    return out if keepdims else np.squeeze(out, axis=axes)


def _arg(func: Callable, x: Array, axis: Any, keepdims: bool, split_every: Any) -> Array:
    if x.size == 0:
        raise ValueError(f"attempt to get {func.__name__} of an empty sequence")
    if axis is None:
        from taskloom.array.core import rechunk

        flat = x.reshape(-1) if hasattr(x, "reshape") and x.ndim != 1 else x
        if flat.ndim != 1:
            raise NotImplementedError("argmin/argmax without axis need a 1-d array here")
        x, axis = rechunk(flat, flat.chunks), 0
    axes = _axes(axis, x.ndim)
    if len(axes) != 1:
        raise ValueError(f"{func.__name__} takes one axis, got {axis}")
    return _tree(
        x,
        partial(_arg_chunk, func),
        partial(_arg_combine, func),
        _arg_finish,
        axes,
        keepdims,
        np.dtype("i8"),
        func.__name__,
        split_every,
        index_aware=True,
    )


@_documented("", "\n    array([0, 1])")
def argmin(
    a: Any,
    axis: Any = None,
    keepdims: bool = False,
    split_every: int | None = None,
    out: Any = None,
) -> Array:
    return handle_out(out, _arg(np.argmin, asarray(a), axis, keepdims, split_every))


@_documented("", "\n    array([2, 0])")
def argmax(
    a: Any,
    axis: Any = None,
    keepdims: bool = False,
    split_every: int | None = None,
    out: Any = None,
) -> Array:
    return handle_out(out, _arg(np.argmax, asarray(a), axis, keepdims, split_every))
