"""Arrays made block by block, without a source array: each block is created by its own
task, so ``ones((10**5, 10**5), chunks=1000)[:10, :10]`` touches one block. Constant
blocks are read-only broadcast views (as in Dask); ``compute()`` returns a real array.
Functions of another array (``*_like``, ``meshgrid``, ``indices``) take its blocks.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from taskloom.array.chunks import require_known
from taskloom.array.core import (
    Array,
    _block_slices,
    _offsets,
    asarray,
    block_keys,
    normalize_chunks,
)
from taskloom.tokenize import tokenize

__all__ = [
    "arange", "array", "asanyarray", "empty", "empty_like", "fromfunction", "full",
    "full_like", "indices", "linspace", "meshgrid", "ones", "ones_like", "tri", "zeros",
    "zeros_like",
]  # fmt: skip


def _shape_of(shape: Any) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    if any(not isinstance(s, int | np.integer) or s < 0 for s in shape):
        raise ValueError(f"shape must be non-negative integers, got {shape}")
    return tuple(int(s) for s in shape)


def _broadcast(one: np.ndarray, block_shape: tuple) -> np.ndarray:
    # One element broadcast to the block's shape, as Dask does: no memory is filled
    # until an operation makes a real array out of it (blocks are read-only views).
    if one.dtype.kind not in "biufc":  # no plain buffer (objects, datetimes, records)
        return np.broadcast_to(one, block_shape)
    # broadcast_to's view made directly: its Python layers cost as much as the rest.
    block = np.ndarray(block_shape, one.dtype, one, strides=(0,) * len(block_shape))
    block.flags.writeable = False
    return block


class _Filled:
    """The blocks of one :func:`full` array: one read-only broadcast view per block
    shape, made at its first block and then handed to every block of that shape (a
    view costs a microsecond to make, as much as a task). Pickled, it is the element
    alone: a view pickles as a copy of the whole block."""

    __slots__ = ("one", "views")

    def __init__(self, one: np.ndarray) -> None:
        # Read-only also once unpickled (in a worker process, where the views are
        # shared by every task): no block can be made writeable through its base.
        one.flags.writeable = False
        self.one = one
        self.views: dict[tuple, np.ndarray] = {}

    def __call__(self, block_shape: tuple) -> np.ndarray:
        view = self.views.get(block_shape)
        if view is None:
            view = self.views.setdefault(block_shape, _broadcast(self.one, block_shape))
        return view

    def __reduce__(self) -> tuple:
        return (_Filled, (self.one,))

    def __repr__(self) -> str:
        return f"_Filled({self.one!r})"


def full(
    shape: Any, fill_value: Any, dtype: Any = None, chunks: Any = "auto", name: str | None = None
) -> Array:
    """An array of ``fill_value``.

    Examples
    --------
    >>> full((3,), 7, chunks=2).compute()
    array([7, 7, 7])
    """
    shape = _shape_of(shape)
    dtype = np.dtype(dtype) if dtype is not None else np.asarray(fill_value).dtype
    chunks = normalize_chunks(chunks, shape, dtype)
    name = name or f"full-{tokenize(shape, fill_value, dtype, chunks)}"
    # The element every block shows, made once (read-only: blocks share it).
    filled = _Filled(np.full((), fill_value, dtype=dtype))
    # Blocks of one shape share one task (10^6 blocks: a few tuples, not one each for
    # the cyclic GC to walk while the graph is built). A task, not the view itself
    # quoted as data: pickled for processes or a cluster, a broadcast view is a copy
    # of the whole block, where the task is a hundred bytes.
    tasks = {block: (filled, block) for block in itertools.product(*map(set, chunks))}
    if len(chunks) == 1:  # by block size: no shape tuple made per block
        of_size = {size: tasks[(size,)] for size in set(chunks[0])}
        per_block = map(of_size.__getitem__, chunks[0])
    else:  # block shapes are the product of the chunk sizes, in C order as the keys
        per_block = map(tasks.__getitem__, itertools.product(*chunks))
    layer = dict(zip(block_keys(name, [len(c) for c in chunks]), per_block, strict=True))
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
    if not 1 <= len(args) <= 3:
        raise TypeError(f"arange takes 1 to 3 positional arguments, got {len(args)}")
    start, stop, step = (0, args[0], 1) if len(args) == 1 else (*args, 1)[:3]
    # numpy's checks and result type, from an empty range (numpy's whole arange would
    # hold every value in memory when the graph is built).
    probe = np.arange(start, stop - (stop - start), step)  # stop's type, start's value
    if all(isinstance(v, numbers.Integral) for v in (start, stop, step)):
        length = len(range(int(start), int(stop), int(step)))
    else:
        length = max(math.ceil((stop - start) / step), 0)
    dtype = np.dtype(dtype) if dtype is not None else probe.dtype
    # numpy's values are start + i * delta, delta being (start + step) - start as
    # computed (not step itself: they differ in the last bits for floats).
    delta = (start + step) - start
    return _ramp("arange", args, start, delta, length, chunks, dtype)


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


# -- like other arrays ---------------------------------------------------------------


def _like(a: Any, chunks: Any, shape: Any) -> tuple:
    """Dask's rule: ``a``'s shape and blocks, unless a new ``shape`` is given (then
    ``chunks`` or "auto")."""
    x = asarray(a)
    if shape is None:
        require_known(x.chunks, "an array like one of unknown chunk sizes")
        return x, x.shape, x.chunks if chunks is None else chunks
    return x, shape, "auto" if chunks is None else chunks


def full_like(
    a: Any,
    fill_value: Any,
    order: str = "C",
    dtype: Any = None,
    chunks: Any = None,
    name: str | None = None,
    shape: Any = None,
) -> Array:
    """An array of ``fill_value`` with ``a``'s shape, blocks and dtype (unless given).

    Examples
    --------
    >>> full_like(arange(3, chunks=2), 7).compute()
    array([7, 7, 7])
    """
    x, shape, chunks = _like(a, chunks, shape)
    return full(
        shape, fill_value, dtype=x.dtype if dtype is None else dtype, chunks=chunks, name=name
    )


def ones_like(
    a: Any,
    dtype: Any = None,
    order: str = "C",
    chunks: Any = None,
    name: str | None = None,
    shape: Any = None,
) -> Array:
    """Ones with ``a``'s shape, blocks and dtype (unless given).

    Examples
    --------
    >>> ones_like(arange(3, chunks=2)).compute()
    array([1, 1, 1])
    """
    return full_like(a, 1, order, dtype, chunks, name, shape)


def zeros_like(
    a: Any,
    dtype: Any = None,
    order: str = "C",
    chunks: Any = None,
    name: str | None = None,
    shape: Any = None,
) -> Array:
    """Zeros with ``a``'s shape, blocks and dtype (unless given).

    Examples
    --------
    >>> zeros_like(arange(3, chunks=2)).compute()
    array([0, 0, 0])
    """
    return full_like(a, 0, order, dtype, chunks, name, shape)


def empty_like(
    a: Any,
    dtype: Any = None,
    order: str = "C",
    chunks: Any = None,
    name: str | None = None,
    shape: Any = None,
) -> Array:
    """An array with ``a``'s shape, blocks and dtype (unless given), values undefined
    (zeros here).

    Examples
    --------
    >>> empty_like(arange(3, chunks=2)).chunks
    ((2, 1),)
    """
    return full_like(a, 0, order, dtype, chunks, name, shape)


# -- grids ---------------------------------------------------------------------------


def _diagonal_blocks(
    prefix: str, block: Callable, N: int, M: int | None, k: int, dtype: Any, chunks: Any
) -> Array:
    """An ``(N, M)`` array (``M`` defaults to ``N``) made of a pattern along diagonal
    ``k`` (``tri``, ``eye``): each block is ``block(shape, k_local, dtype)``, one task, with
    ``k_local`` diagonal ``k`` seen from the block's first element."""
    M = N if M is None else M
    chunks = normalize_chunks(chunks, (N, M), dtype)
    name = f"{prefix}-{tokenize(N, M, k, dtype, chunks)}"
    layer = {
        (name, *idx): (
            block,
            tuple(s.stop - s.start for s in slc),
            k + slc[0].start - slc[1].start,
            np.dtype(dtype),
        )
        for idx, slc in _block_slices(chunks)
    }
    return Array({name: layer}, name, chunks, dtype)


def _tri_block(shape: tuple, k: int, dtype: Any) -> np.ndarray:
    return np.tri(shape[0], shape[1], k, dtype=dtype)


def tri(
    N: int,
    M: int | None = None,
    k: int = 0,
    dtype: Any = float,
    chunks: Any = "auto",
    *,
    like: Any = None,
) -> Array:
    """``numpy.tri``: ones at and below diagonal ``k``, each block made by its own task.

    Examples
    --------
    >>> tri(3, k=-1, dtype=int, chunks=2).compute()
    array([[0, 0, 0],
           [1, 0, 0],
           [1, 1, 0]])
    """
    return _diagonal_blocks("tri", _tri_block, N, M, k, np.dtype(dtype), chunks)


def meshgrid(*xi: Any, sparse: bool = False, indexing: str = "xy", **kwargs: Any) -> list:
    """``numpy.meshgrid``: coordinate arrays (a list, as Dask's), each built from the
    blocks of its 1-d input.

    Raises
    ------
    ValueError
        If ``indexing`` is neither ``"xy"`` nor ``"ij"``.

    Examples
    --------
    >>> [g.shape for g in meshgrid(np.arange(2), np.arange(3))]
    [(3, 2), (3, 2)]
    """
    from taskloom.array.routines import broadcast_arrays, ravel

    if indexing not in ("ij", "xy"):
        raise ValueError("`indexing` must be `'ij'` or `'xy'`")
    if kwargs:
        raise TypeError(f"meshgrid got unexpected keyword arguments {sorted(kwargs)}")
    arrays = [ravel(asarray(e)) for e in xi]
    if indexing == "xy" and len(arrays) > 1:
        arrays[0], arrays[1] = arrays[1], arrays[0]
    grid = []
    for i, a in enumerate(arrays):
        index: list = [None] * len(arrays)
        index[i] = slice(None)
        grid.append(a[tuple(index)])
    if not sparse:
        grid = broadcast_arrays(*grid)
    if indexing == "xy" and len(arrays) > 1:
        grid[0], grid[1] = grid[1], grid[0]
    return grid


def indices(dimensions: Sequence[int], dtype: Any = int, chunks: Any = "auto") -> Array:
    """``numpy.indices``: the index grid, one layer per axis, in the given blocks.

    Examples
    --------
    >>> indices((2, 2), chunks=1).compute()[1]
    array([[0, 1],
           [0, 1]])
    """
    from taskloom.array.routines import stack

    dimensions = tuple(dimensions)
    dtype = np.dtype(dtype)
    chunks = normalize_chunks(chunks, dimensions, dtype)
    if len(dimensions) != len(chunks):
        raise ValueError("Need same number of chunks as dimensions.")
    if not dimensions:
        return empty((0,), dtype=dtype, chunks=1)
    xi = [arange(n, dtype=dtype, chunks=(c,)) for n, c in zip(dimensions, chunks, strict=True)]
    return stack(meshgrid(*xi, indexing="ij"))


def _fromfunction_block(
    func: Callable, starts: tuple, shape: tuple, dtype: Any, kwargs: dict
) -> Any:
    grid = np.indices(shape, dtype=dtype)
    return func(*[g + s for g, s in zip(grid, starts, strict=True)], **kwargs)


def fromfunction(
    func: Callable, chunks: Any = "auto", shape: Any = None, dtype: Any = None, **kwargs: Any
) -> Array:
    """``numpy.fromfunction``: ``func`` called on the index grid of each block (as
    arrays of ``dtype``, float by default), with ``kwargs``.

    Examples
    --------
    >>> fromfunction(lambda i, j: i + j, chunks=1, shape=(2, 2), dtype=int).compute()
    array([[0, 1],
           [1, 2]])
    """
    if shape is None:
        raise TypeError("fromfunction needs shape=")
    shape = _shape_of(shape)
    dtype = np.dtype(float if dtype is None else dtype)
    chunks = normalize_chunks(chunks, shape, dtype)
    probe = func(*np.zeros((len(shape),) + (1,) * len(shape), dtype=dtype), **kwargs)
    out_dtype = np.asarray(probe).dtype
    name = f"fromfunction-{tokenize(func, shape, dtype, chunks, kwargs)}"
    layer = {
        (name, *idx): (
            _fromfunction_block,
            func,
            tuple(s.start for s in slc),
            tuple(s.stop - s.start for s in slc),
            dtype,
            kwargs,
        )
        for idx, slc in _block_slices(chunks)
    }
    return Array({name: layer}, name, chunks, out_dtype)


# -- conversions ---------------------------------------------------------------------


def array(x: Any, dtype: Any = None, ndmin: int | None = None, *, like: Any = None) -> Array:
    """``x`` as a blocked array (``numpy.array``'s ``dtype`` and ``ndmin``).

    Examples
    --------
    >>> array([1, 2], dtype="f4", ndmin=2).compute()
    array([[1., 2.]], dtype=float32)
    """
    out = asarray(x)
    while ndmin is not None and out.ndim < ndmin:
        out = out[None]
    return out if dtype is None else out.astype(dtype)


def asanyarray(
    a: Any,
    dtype: Any = None,
    order: str | None = None,
    *,
    like: Any = None,
    inline_array: bool = False,
) -> Array:
    """``a`` as a blocked array (itself if it is one, cast to ``dtype`` if given).

    Examples
    --------
    >>> asanyarray([1, 2], dtype="f8").dtype
    dtype('float64')
    """
    out = asarray(a)
    return out if dtype is None else out.astype(dtype)
