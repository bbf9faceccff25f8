"""Blocks that share borders with their neighbours, as ``dask.array.overlap``.

This module owns ``overlap`` (each block extended by ``depth`` elements of its
neighbours, or of a boundary condition at the array's edges), ``map_overlap`` (a
function mapped over such blocks, the borders trimmed off again), ``trim_internal`` /
``trim_overlap``, ``ensure_minimum_chunksize``, ``sliding_window_view`` (Dask's
``dask.array.lib.stride_tricks.sliding_window_view``) and ``push`` (forward fill).

Policies, as Dask's: boundaries are ``'reflect'`` (numpy's ``pad`` mode
``'symmetric'``), ``'periodic'`` (``'wrap'``), ``'nearest'`` (``'edge'``), ``'none'``
(edge blocks are not extended) or a constant, per axis; the boundary slabs are slices
of the array joined to it (``concatenate``). An axis with blocks smaller than its depth
is first rechunked to blocks of at least ``depth`` (or, with ``allow_rechunk=False``,
it is a ``ValueError``). Each extended block is then one task reading the pieces of the
(padded) blocks its window covers. Asymmetric depths ``(left, right)`` need
``boundary='none'``.
"""

from __future__ import annotations

import builtins
import numbers
import warnings
from bisect import bisect_right
from collections.abc import Callable, Sequence
from functools import partial, reduce
from itertools import pairwise
from operator import mul
from typing import Any

import numpy as np

from taskloom.array.blockwise import map_blocks
from taskloom.array.core import (
    Array,
    _check_axis,
    _common_chunks,
    _derive,
    _join_pieces,
    _nest_pieces,
    _offsets,
    asarray,
    elemwise,
)
from taskloom.array.creation import full
from taskloom.array.gufunc import _split_chunks
from taskloom.array.routines import _rechunked_to_common, concatenate
from taskloom.tokenize import tokenize

# Dask's top-level names from this family; ``overlap`` stays the module's own name,
# so ``taskloom.array.overlap`` remains this module (as ``dask.array.overlap``).
__all__ = ["map_overlap", "push"]

_KINDS = ("none", "reflect", "periodic", "nearest")


# -- arguments ----------------------------------------------------------------------


def coerce_depth(ndim: int, depth: Any) -> dict[int, int | tuple[int, int]]:
    """``depth`` (an int, a tuple per axis or a dict ``{axis: depth}``; a depth is an
    int or a ``(left, right)`` pair) as a dict over every axis, as Dask's.

    Examples
    --------
    >>> coerce_depth(3, {0: 2, -1: (1, 0)})
    {0: 2, 1: 0, 2: (1, 0)}
    """
    if depth is None:
        depth = 0
    if isinstance(depth, numbers.Integral):
        depth = (depth,) * ndim
    if isinstance(depth, tuple | list):  # as Dask, one entry per leading axis
        depth = dict(enumerate(depth))
    if not isinstance(depth, dict):
        raise TypeError(f"depth must be an int, a tuple or a dict, not {depth!r}")
    depth = _axes(depth, ndim, "depth")
    out: dict = {}
    for ax in builtins.range(ndim):
        d = depth.get(ax, 0)
        d = tuple(int(v) for v in d) if isinstance(d, tuple | list) else int(d)
        if (isinstance(d, tuple) and (len(d) != 2 or builtins.min(d) < 0)) or (
            isinstance(d, int) and d < 0
        ):
            raise ValueError(
                f"depth along axis {ax} must be a non-negative int or a (left, right) pair, "
                f"not {depth.get(ax)!r}"
            )
        out[ax] = d
    return out


def coerce_boundary(ndim: int, boundary: Any) -> dict[int, Any]:
    """``boundary`` (one kind, a tuple per axis or a dict ``{axis: kind}``) as a dict
    over every axis, as Dask's; a kind is ``'reflect'``, ``'periodic'``,
    ``'nearest'``, ``'none'`` (also ``None``) or a constant.

    Examples
    --------
    >>> coerce_boundary(2, {1: 0})
    {0: 'none', 1: 0}
    """
    if boundary is None:
        boundary = "none"
    if not isinstance(boundary, tuple | dict):
        boundary = (boundary,) * ndim
    if isinstance(boundary, tuple):
        boundary = dict(enumerate(boundary))
    boundary = _axes(boundary, ndim, "boundary")
    out = {}
    for ax in builtins.range(ndim):
        b = boundary.get(ax, "none")
        b = "none" if b is None else b
        if isinstance(b, str) and b not in _KINDS:
            raise ValueError(
                f"boundary along axis {ax} must be one of {_KINDS} or a constant, not {b!r}"
            )
        out[ax] = b
    return out


def _axes(given: dict, ndim: int, what: str) -> dict:
    """``given`` with negative axes counted from the end. Axes beyond ``ndim`` are left
    out, as Dask does: ``map_overlap`` gives one dict to arrays of several ranks."""
    for ax in given:
        if not isinstance(ax, numbers.Integral):
            raise TypeError(f"{what}: axes must be integers, not {ax!r}")
    return {int(ax) % ndim: v for ax, v in given.items() if -ndim <= ax < ndim}


def _sides(d: int | tuple[int, int]) -> tuple[int, int]:
    return d if isinstance(d, tuple) else (d, d)


# -- chunk sizes --------------------------------------------------------------------


def ensure_minimum_chunksize(size: int, chunks: tuple[int, ...]) -> tuple[int, ...]:
    """Chunks along one axis, merged so that every block has at least ``size``
    elements, as Dask's.

    Raises
    ------
    ValueError
        If the whole axis is shorter than ``size``.

    Examples
    --------
    >>> ensure_minimum_chunksize(10, (20, 20, 1))
    (20, 11, 10)
    >>> ensure_minimum_chunksize(3, (1, 1, 3))
    (5,)
    """
    if size <= builtins.min(chunks):
        return tuple(chunks)
    # Too small blocks join the blocks before them, taking from them what they need.
    output: list[int] = []
    new = 0
    for c in chunks:
        if c < size:
            if new > size + (size - c):
                output.append(new - (size - c))
                new = size
            else:
                new += c
        if new >= size:
            output.append(new)
            new = 0
        if c >= size:
            new += c
    if new >= size:
        output.append(new)
    elif output:
        output[-1] += new
    else:
        raise ValueError(f"The overlapping depth {size} is larger than your array {sum(chunks)}.")
    return tuple(output)


def _rechunked(x: Array, depth: dict) -> tuple:
    return tuple(
        ensure_minimum_chunksize(builtins.max(_sides(depth[ax])), c) if depth[ax] else c
        for ax, c in enumerate(x.chunks)
    )


# -- overlap ------------------------------------------------------------------------


def _along(axis: int, ndim: int, item: Any) -> tuple:
    return (slice(None),) * axis + (item,) + (slice(None),) * (ndim - axis - 1)


def _pad(x: Array, axis: int, d: int, kind: Any) -> Array:
    """``x`` with a boundary slab of width ``d`` joined on each side of ``axis``."""
    n = x.shape[axis]
    if kind == "periodic":
        left, right = x[_along(axis, x.ndim, slice(n - d, n))], x[_along(axis, x.ndim, slice(0, d))]
    elif kind == "reflect":
        left = x[_along(axis, x.ndim, slice(d - 1, None, -1) if d < n else slice(None, None, -1))]
        right = x[_along(axis, x.ndim, slice(n - 1, n - d - 1 if d < n else None, -1))]
    elif kind == "nearest":
        left = x[_along(axis, x.ndim, np.zeros(d, dtype=int))]
        right = x[_along(axis, x.ndim, np.full(d, n - 1))]
    else:  # a constant
        chunks = list(x.chunks)
        chunks[axis] = (d,)
        shape = tuple(builtins.sum(c) for c in chunks)
        left = right = full(shape, kind, dtype=x.dtype, chunks=tuple(chunks))
    # One slab block per side: the windows below then read it as one piece.
    left, right = (s.rechunk({axis: (d,)}) for s in (left, right))
    return concatenate([left, x, right], axis=axis)


def _window_pieces(bounds: list[int], lo: int, hi: int) -> list[tuple[int, slice]]:
    """The (block, local slice) pieces of the blocks with offsets ``bounds`` that
    make up ``[lo, hi)``."""
    # Found by bisection: a scan per window would be quadratic in the number of blocks.
    j = builtins.max(0, builtins.min(bisect_right(bounds, lo) - 1, len(bounds) - 2))
    if lo == hi:  # an empty window still has a shape along the other axes
        return [(j, slice(lo - bounds[j], lo - bounds[j]))]
    pieces = []
    while j < len(bounds) - 1 and bounds[j] < hi:
        s, e = bounds[j], bounds[j + 1]
        if e > lo:
            pieces.append((j, slice(builtins.max(lo, s) - s, builtins.min(hi, e) - s)))
        j += 1
    return pieces


def _share(padded: Array, chunks: tuple, depth: dict, pad: dict) -> Array:
    """Each block of ``chunks`` (the unpadded blocks) widened by ``depth`` on both
    sides, read from ``padded`` (``pad[axis]`` slab elements before the data)."""
    name = f"overlap-{tokenize(padded.name, chunks, depth, pad)}"
    pieces, out_chunks = [], []
    for ax, c in enumerate(chunks):
        left, right = _sides(depth[ax])
        bounds = _offsets(padded.chunks[ax])
        windows = [
            (builtins.max(0, s + pad[ax] - left), builtins.min(bounds[-1], e + pad[ax] + right))
            for s, e in pairwise(_offsets(c))
        ]
        pieces.append([_window_pieces(bounds, lo, hi) for lo, hi in windows])
        out_chunks.append(tuple(hi - lo for lo, hi in windows))
    layer = {
        (name, *idx): (
            _join_pieces,
            _nest_pieces(padded.name, [pieces[a][k] for a, k in enumerate(idx)]),
        )
        for idx in np.ndindex(*[len(c) for c in chunks])
    }
    return _derive(padded, name, layer, tuple(out_chunks), padded.dtype)


def overlap(x: Any, depth: Any, boundary: Any, *, allow_rechunk: bool = True) -> Array:
    """Share borders between neighbouring blocks, as ``dask.array.overlap.overlap``.

    Parameters
    ----------
    x
        The array.
    depth
        How many elements each block takes from each neighbour: an int for every
        axis, a tuple per axis, or a dict ``{axis: depth}`` (left-out axes: 0); a
        depth is an int or, with ``boundary='none'``, a ``(left, right)`` pair.
    boundary
        What the edge blocks get beyond the array: ``'reflect'``, ``'periodic'``,
        ``'nearest'``, ``'none'`` (nothing) or a constant; one for every axis, a tuple
        or a dict.
    allow_rechunk
        Merge blocks smaller than the depth first (else that is a ``ValueError``).

    Returns
    -------
    Array
        Each block widened by its depths; ``'none'`` edges are not widened.

    Raises
    ------
    ValueError
        For a depth larger than a block when ``allow_rechunk=False``, larger than the
        array, negative, or an unknown boundary name.
    NotImplementedError
        For an asymmetric depth with a boundary other than ``'none'``, as Dask.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(8), chunks=4)
    >>> y = overlap(x, depth=1, boundary="periodic")
    >>> y.chunks
    ((6, 6),)
    >>> y.compute()
    array([7, 0, 1, 2, 3, 4, 3, 4, 5, 6, 7, 0])
    """
    x = asarray(x)
    depth2 = coerce_depth(x.ndim, depth)
    boundary2 = coerce_boundary(x.ndim, boundary)
    for ax in builtins.range(x.ndim):
        if isinstance(depth2[ax], tuple) and boundary2[ax] != "none":
            raise NotImplementedError(
                "Asymmetric overlap is currently only implemented for boundary='none', "
                f"however boundary for dimension {ax} is {boundary2[ax]!r}"
            )
    if allow_rechunk:
        x = x.rechunk(_rechunked(x, depth2))
    else:
        depths = [builtins.max(_sides(depth2[ax])) for ax in builtins.range(x.ndim)]
        if builtins.any(builtins.min(c) < d for d, c in zip(depths, x.chunks, strict=True)):
            raise ValueError(
                "Overlap depth is larger than smallest chunksize.\n"
                "Please set allow_rechunk=True to rechunk automatically.\n"
                f"Overlap depths required: {depths}\n"
                f"Input chunks: {x.chunks}\n"
            )
    if not builtins.any(depth2.values()):
        return x
    padded, pad = x, {}
    for ax in builtins.range(x.ndim):
        d = depth2[ax]
        if d and boundary2[ax] != "none":
            padded = _pad(padded, ax, d, boundary2[ax])
        pad[ax] = d if boundary2[ax] != "none" else 0
    return _share(padded, x.chunks, depth2, pad)


# -- trimming -----------------------------------------------------------------------


def _trim(
    block: np.ndarray, axes: dict, boundary: dict, block_info: dict | None = None
) -> np.ndarray:
    """One block without the borders ``overlap`` gave it (edge blocks under
    ``'none'`` got none on the outer side)."""
    where = block_info[None]
    index = []
    for ax in builtins.range(block.ndim):
        left, right = _sides(axes.get(ax, 0))
        outer = boundary.get(ax, "none") == "none"
        if outer and where["chunk-location"][ax] == 0:
            left = 0
        if outer and where["chunk-location"][ax] == where["num-chunks"][ax] - 1:
            right = 0
        index.append(slice(left, block.shape[ax] - right))
    return block[tuple(index)]


def trim_internal(x: Array, axes: dict, boundary: Any = None) -> Array:
    """Trim the borders that ``overlap`` added to each block, as Dask's.

    Parameters
    ----------
    x
        An array of overlapped blocks.
    axes
        ``{axis: depth}`` (a depth is an int or a ``(left, right)`` pair).
    boundary
        The boundary ``overlap`` used: under ``'none'`` (the default) the outer sides
        of the edge blocks have no border to trim.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(8), chunks=4)
    >>> trim_internal(overlap(x, 1, "reflect"), {0: 1}, "reflect").compute()
    array([0, 1, 2, 3, 4, 5, 6, 7])
    """
    boundary = coerce_boundary(x.ndim, boundary)
    chunks = []
    for ax, c in enumerate(x.chunks):
        left, right = _sides(axes.get(ax, 0))
        if boundary[ax] != "none":
            chunks.append(tuple(d - left - right for d in c))
        else:
            chunks.append(
                tuple(
                    d - (left if j else 0) - (right if j != len(c) - 1 else 0)
                    for j, d in enumerate(c)
                )
            )
    return map_blocks(
        partial(_trim, axes=axes, boundary=boundary),
        x,
        chunks=tuple(chunks),
        dtype=x.dtype,
        token="trim",
    )


def trim_overlap(x: Array, depth: Any, boundary: Any = None) -> Array:
    """:func:`trim_internal` with ``depth`` in any form :func:`overlap` takes.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(6), chunks=3)
    >>> trim_overlap(overlap(x, 1, "none"), 1).compute()
    array([0, 1, 2, 3, 4, 5])
    """
    return trim_internal(x, coerce_depth(x.ndim, depth), boundary=boundary)


# -- map_overlap --------------------------------------------------------------------


def _aligned(arrays: list[Array]) -> list[Array]:
    """The arrays rechunked to common block boundaries on their trailing axes (axes of
    length 1 broadcast), as Dask's ``unify_chunks`` for ``map_overlap``."""
    shapes = [a.shape for a in arrays]
    try:
        shape = np.broadcast_shapes(*shapes)
    except ValueError as e:
        raise ValueError(f"map_overlap: arrays of shapes {shapes} do not broadcast") from e
    return _rechunked_to_common(arrays, shape, _common_chunks(arrays, shape))


def _check_aligned(arrays: list[Array]) -> None:
    ndim = builtins.max(a.ndim for a in arrays)
    for k in builtins.range(1, ndim + 1):
        seen = {a.chunks[-k] for a in arrays if a.ndim >= k and a.shape[-k] != 1}
        if len(seen) > 1:
            raise ValueError(
                f"Shapes do not align: chunks {sorted(seen)} along axis -{k}; "
                "use align_arrays=True to rechunk them to common blocks"
            )


def map_overlap(
    func: Callable,
    *args: Any,
    depth: Any = None,
    boundary: Any = None,
    trim: bool = True,
    align_arrays: bool = True,
    allow_rechunk: bool = True,
    **kwargs: Any,
) -> Array:
    """Map ``func`` over blocks that overlap their neighbours, as Dask's.

    Each array's blocks are extended with :func:`overlap` (``depth``, ``boundary``
    and ``allow_rechunk`` as there; a list gives one per array), ``func`` is mapped
    with :func:`taskloom.array.map_blocks`, and with ``trim=True`` the borders are cut
    off the results again (:func:`trim_internal`), so ``func`` must keep the shape of
    its blocks then. Zero depth everywhere is plain ``map_blocks``.

    Parameters
    ----------
    func
        Called with one overlapped block of each array.
    *args
        The arrays (they broadcast together, aligned on their trailing axes).
    depth, boundary
        As :func:`overlap`'s, or lists of them, one per array.
    trim
        Cut the borders off each result block (with the depth and boundary of the
        array of highest rank); without it the output chunks are the inputs' unless
        ``chunks=`` says otherwise (as Dask).
    align_arrays
        Rechunk the arrays to common blocks first; otherwise differing blocks are a
        ``ValueError``.
    allow_rechunk
        As :func:`overlap`'s.
    **kwargs
        ``map_blocks``' keywords (``dtype``, ``meta``, ``chunks``, ``drop_axis``,
        ``new_axis``, ``name``, ``token``...), the others passed to ``func``.

    Returns
    -------
    Array

    Raises
    ------
    TypeError
        If ``func`` is not callable or an argument is not an array.
    ValueError
        As :func:`overlap`, and for arrays that do not align.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([1, 1, 2, 3, 3, 3, 2, 1, 1]), chunks=5)
    >>> def derivative(b):
    ...     return b - np.roll(b, 1)
    >>> map_overlap(derivative, x, depth=1, boundary=0).compute()
    array([ 1,  0,  1,  1,  0,  0, -1, -1,  0])
    """
    if isinstance(func, Array) and args and callable(args[0]):
        warnings.warn(
            "The use of map_overlap(array, func, **kwargs) is deprecated since dask 2.17.0 "
            "and will be an error in a future release. To silence this warning, use the "
            "syntax map_overlap(func, array0,[ array1, ...,] **kwargs) instead.",
            FutureWarning,
            stacklevel=2,
        )
        rest = args[1:]
        depth = rest[0] if len(rest) > 0 else depth
        boundary = rest[1] if len(rest) > 1 else boundary
        trim = rest[2] if len(rest) > 2 else trim
        func, args = args[0], (func,)
    if not callable(func):
        raise TypeError(
            f"First argument must be callable function, not {type(func).__name__}\n"
            "Usage:   da.map_overlap(function, x)\n"
            "   or:   da.map_overlap(function, x, y, z)"
        )
    if not args or not builtins.all(isinstance(a, Array) for a in args):
        raise TypeError(
            "All variadic arguments must be arrays, not "
            f"{[type(a).__name__ for a in args]}\n"
            "Usage:   da.map_overlap(function, x)\n"
            "   or:   da.map_overlap(function, x, y, z)"
        )
    arrays = list(args)

    def per_array(arg: Any, coerce: Callable, what: str) -> list:
        if not isinstance(arg, list):
            return [coerce(a.ndim, arg) for a in arrays]
        if len(arg) != len(arrays):
            raise ValueError(f"{what}: a list of {len(arg)} for {len(arrays)} arrays")
        return [coerce(a.ndim, v) for a, v in zip(arrays, arg, strict=True)]

    depths = per_array(depth, coerce_depth, "depth")
    boundaries = per_array(boundary, coerce_boundary, "boundary")
    if align_arrays:
        arrays = _aligned(arrays)
    else:
        _check_aligned(arrays)
    if not builtins.any(builtins.any(d.values()) for d in depths):
        return map_blocks(func, *arrays, **kwargs)
    for i, (d, b) in enumerate(zip(depths, boundaries, strict=True)):
        for ax in builtins.range(arrays[i].ndim):
            if isinstance(d[ax], tuple) and b[ax] != "none":
                raise NotImplementedError(
                    "Asymmetric overlap is currently only implemented for boundary='none', "
                    f"however boundary for dimension {ax} in array argument {i} is {b[ax]!r}"
                )
    if not trim and "chunks" not in kwargs:
        kwargs["chunks"] = _rechunked(arrays[0], depths[0]) if allow_rechunk else arrays[0].chunks
    overlapped = [
        overlap(a, depth=d, boundary=b, allow_rechunk=allow_rechunk)
        for a, d, b in zip(arrays, depths, boundaries, strict=True)
    ]
    out = map_blocks(func, *overlapped, **kwargs)
    if not trim:
        return out
    # The depths and boundary of the array of highest rank (the first on ties).
    i = builtins.max(builtins.range(len(arrays)), key=lambda k: (arrays[k].ndim, -k))
    depth_i, boundary_i = dict(depths[i]), dict(boundaries[i])
    ndim_in = arrays[i].ndim
    drop = kwargs.get("drop_axis")
    if drop is not None:
        drop = [drop] if isinstance(drop, numbers.Integral) else list(drop)
        drop = {d % ndim_in for d in drop}
        kept = [ax for ax in builtins.range(ndim_in) if ax not in drop]
        depth_i = {n: depth_i[ax] for n, ax in enumerate(kept)}
        boundary_i = {n: boundary_i[ax] for n, ax in enumerate(kept)}
    new = kwargs.get("new_axis")
    if new is not None:
        new = [new] if isinstance(new, numbers.Integral) else list(new)
        for ax in sorted(d % out.ndim for d in new):
            # later axes move one place to make room for the new one
            depth_i = {(k + 1 if k >= ax else k): v for k, v in depth_i.items()}
            boundary_i = {(k + 1 if k >= ax else k): v for k, v in boundary_i.items()}
            depth_i[ax], boundary_i[ax] = 0, "none"
    return trim_internal(out, depth_i, boundary_i)


# -- sliding windows ----------------------------------------------------------------


def sliding_window_view(
    x: Any,
    window_shape: int | Sequence[int],
    axis: int | Sequence[int] | None = None,
    automatic_rechunk: bool = True,
) -> Array:
    """``numpy.lib.stride_tricks.sliding_window_view``, lazily, as Dask's
    ``dask.array.lib.stride_tricks.sliding_window_view``.

    Parameters
    ----------
    x
        The array.
    window_shape
        The window's size along each of ``axis``.
    axis
        The axes the windows slide along (default: all, then ``window_shape`` has one
        entry per axis); an axis may repeat, as numpy's.
    automatic_rechunk
        Split blocks of the other axes so blocks stay about as large as the input's
        (as Dask); otherwise only merge blocks smaller than a window.

    Returns
    -------
    Array
        Shape: ``x.shape`` shortened by ``window - 1`` along the window axes, then the
        window axes (one block each).

    Raises
    ------
    ValueError
        For windows that are not positive, longer than the axis, or do not match
        ``axis``.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(6), chunks=2)
    >>> sliding_window_view(x, 3).compute()
    array([[0, 1, 2],
           [1, 2, 3],
           [2, 3, 4],
           [3, 4, 5]])
    """
    x = asarray(x)
    window_shape = tuple(window_shape) if np.iterable(window_shape) else (window_shape,)
    window_shape = tuple(int(w) for w in window_shape)
    if builtins.any(w <= 0 for w in window_shape):
        raise ValueError("`window_shape` must contain values > 0")
    if axis is None:
        axis = tuple(builtins.range(x.ndim))
        if len(window_shape) != len(axis):
            raise ValueError(
                f"Since axis is `None`, must provide window_shape for all dimensions of "
                f"`x`; got {len(window_shape)} window_shape elements and `x.ndim` is "
                f"{x.ndim}."
            )
    else:
        axis = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
        axis = tuple(_check_axis(a, x.ndim) for a in axis)
        if len(window_shape) != len(axis):
            raise ValueError(
                f"Must provide matching length window_shape and axis; got "
                f"{len(window_shape)} window_shape elements and {len(axis)} axes elements."
            )
    depths = [0] * x.ndim
    for ax, window in zip(axis, window_shape, strict=True):
        depths[ax] += window - 1
    for ax, d in enumerate(depths):
        if d >= x.shape[ax] + (d == 0):
            raise ValueError(
                f"window_shape along axis {ax} (total {d + 1}) cannot be larger than the "
                f"axis ({x.shape[ax]})"
            )
    # Every block must keep at least one element after its window (the last above all).
    safe = [
        ensure_minimum_chunksize(d + 1, c) if d else c
        for d, c in zip(depths, x.chunks, strict=True)
    ]
    if automatic_rechunk:
        safe.extend((w,) for w in window_shape)
        max_chunk = reduce(mul, map(builtins.max, x.chunks), 1)
        unwindowed = {i for i, d in enumerate(depths) if d == 0}
        x = x.rechunk(tuple(_split_chunks(x.chunks, safe, unwindowed, max_chunk)[: x.ndim]))
    else:
        x = x.rechunk(tuple(safe))
    kept = tuple((*c[:-1], c[-1] - d) for d, c in zip(depths, x.chunks, strict=True))
    chunks = kept + tuple((w,) for w in window_shape)
    return map_overlap(
        np.lib.stride_tricks.sliding_window_view,
        x,
        depth=tuple((0, d) for d in depths),  # windows look forward only
        boundary="none",
        dtype=x.dtype,
        new_axis=tuple(builtins.range(x.ndim, x.ndim + len(axis))),
        chunks=chunks,
        trim=False,
        align_arrays=False,
        window_shape=window_shape,
        axis=axis,
    )


# -- push ---------------------------------------------------------------------------


def _null(dtype: np.dtype) -> Any:
    return dtype.type("NaT") if dtype.kind in "mM" else np.nan


def _ramp_shape(ndim: int, axis: int) -> list[int]:
    return [-1 if a == axis else 1 for a in builtins.range(ndim)]


def _ffill(block: np.ndarray, axis: int) -> np.ndarray:
    """Each null (NaN, NaT) replaced by the last non-null before it along ``axis``."""
    if block.shape[axis] == 0:
        return block
    ramp = np.arange(block.shape[axis]).reshape(_ramp_shape(block.ndim, axis))
    last = np.where(block == block, ramp, 0)  # NaN and NaT are the values unequal to themselves
    np.maximum.accumulate(last, axis=axis, out=last)
    return np.take_along_axis(block, last, axis=axis)


def _last(block: np.ndarray, axis: int) -> np.ndarray:
    if block.shape[axis] == 0:
        shape = tuple(1 if a == axis else n for a, n in enumerate(block.shape))
        return np.full(shape, _null(block.dtype), dtype=block.dtype)
    return block[_along(axis, block.ndim, slice(-1, None))]


def _carried(lasts: np.ndarray, axis: int) -> np.ndarray:
    """What block ``k`` inherits: the last non-null of the blocks before it."""
    out = np.empty_like(lasts)
    out[_along(axis, lasts.ndim, slice(0, 1))] = _null(lasts.dtype)
    out[_along(axis, lasts.ndim, slice(1, None))] = _ffill(lasts, axis)[
        _along(axis, lasts.ndim, slice(None, -1))
    ]
    return out


def _fill_from(block: np.ndarray, carry: np.ndarray, axis: int) -> np.ndarray:
    joined = np.concatenate([carry, block], axis=axis)
    return _ffill(joined, axis)[_along(axis, block.ndim, slice(1, None))]


def _ffill_all(x: Array, axis: int) -> Array:
    filled = x.map_blocks(_ffill, axis=axis, dtype=x.dtype)
    if x.numblocks[axis] == 1:
        return filled
    one = tuple(1 if a == axis else c for a, c in enumerate(x.chunks))
    lasts = filled.map_blocks(_last, axis=axis, chunks=one, dtype=x.dtype)
    # The lasts are one element per block along the axis: one block of them is small.
    carry = lasts.rechunk({axis: -1}).map_blocks(_carried, axis=axis, dtype=x.dtype)
    return map_blocks(_fill_from, filled, carry.rechunk({axis: 1}), axis=axis, dtype=x.dtype)


def _positions(block: np.ndarray, axis: int, block_info: dict | None = None) -> np.ndarray:
    start = block_info[None]["array-location"][axis][0]
    ramp = np.arange(start, start + block.shape[axis], dtype=float)
    return np.broadcast_to(ramp.reshape(_ramp_shape(block.ndim, axis)), block.shape)


def _valid_positions(block: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return np.where(block == block, positions, np.nan)


def _within(filled: np.ndarray, positions: np.ndarray, source: np.ndarray, n: int) -> np.ndarray:
    return np.where(positions - source <= n, filled, _null(filled.dtype))


def push(array: Any, n: int | None, axis: int) -> Array:
    """Forward fill: each NaN (NaT) replaced by the last non-null value before it
    along ``axis``, at most ``n`` places on (``None``: any), across blocks, as
    ``dask.array.push`` (bottleneck's ``push``; not needed here).

    Raises
    ------
    ValueError
        For an ``axis`` out of range.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([1.0, np.nan, np.nan, 4.0, np.nan]), chunks=2)
    >>> push(x, None, 0).compute()
    array([1., 1., 1., 4., 4.])
    >>> push(x, 1, 0).compute()
    array([ 1.,  1., nan,  4.,  4.])
    """
    array = asarray(array)
    axis = _check_axis(axis, array.ndim)
    if array.dtype.kind not in "fcmM":  # no nulls to fill
        return array
    if n is not None and 0 < n < array.shape[axis] - 1:
        positions = array.map_blocks(_positions, axis=axis, dtype=float)
        source = _ffill_all(elemwise(_valid_positions, array, positions), axis)
        return elemwise(partial(_within, n=n), _ffill_all(array, axis), positions, source)
    return _ffill_all(array, axis)
