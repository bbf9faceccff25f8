"""Block-by-block application of a function: ``blockwise`` and ``map_blocks``.

This module owns the one graph builder for "call ``func`` on matching blocks":
:func:`blockwise` (Einstein-like index notation, as Dask's) and :func:`map_blocks`
(Dask's ``map_blocks`` semantics, built on it: ``chunks=``, ``drop_axis=``,
``new_axis=``, ``dtype=``/``meta=``, ``name=``/``token=``, ``enforce_ndim=``, and the
``block_id``/``block_info`` keywords for functions that take them).

Policies: blocks are matched by block position with numpy's trailing-axis alignment,
and an array with one block along an axis is passed whole to every block there
(broadcasting). ``blockwise`` first rechunks its inputs to common block boundaries
(``align_arrays=True``, as Dask; unknown block sizes line up only with the same
unknown blocks); ``map_blocks`` does not (as Dask: arrays of
different shapes are paired block by block), except that arrays of one same shape are
rechunked to common boundaries, so their blocks always line up. An index that appears
in inputs only is contracted: ``func`` gets all its blocks, joined into one array when
``concatenate=True`` (as ``map_blocks`` always does for ``drop_axis``).
"""

from __future__ import annotations

import builtins
import inspect
import numbers
from collections.abc import Callable, Hashable, Sequence
from functools import partial
from itertools import pairwise
from typing import Any

import numpy as np

from taskloom.array.chunks import UNKNOWN_CHUNK_MESSAGE, has_unknown
from taskloom.array.core import (
    Array,
    _assemble,
    _merge,
    _offsets,
    _probe_dtype,
    asarray,
    concatenate_blocks,
    unify_chunks,
)
from taskloom.core import bind_kwargs, data_task
from taskloom.delayed import funcname
from taskloom.tokenize import tokenize

__all__ = ["blockwise", "map_blocks"]


def _concat_axes(blocks: Any, axes: list[int]) -> np.ndarray:
    """Nested lists of blocks (one level per contracted axis) joined along ``axes``."""
    if not isinstance(blocks, list):
        return blocks
    parts = [_concat_axes(b, axes[1:]) for b in blocks]
    return concatenate_blocks(parts, axes[0])


def _nested_keys(name: str, ind: tuple, numblocks: tuple, inner: list, where: dict) -> Any:
    """The block key of one input (index ``ind``, ``numblocks`` blocks per axis), or
    nested lists of keys over its contracted indices ``inner``. Axes of one block are
    broadcast: block 0 serves every output block."""
    if not inner:
        return (
            name,
            *[0 if n == 1 else where[c] for c, n in zip(ind, numblocks, strict=True)],
        )
    axis = ind.index(inner[0])
    return [
        _nested_keys(name, ind, numblocks, inner[1:], {**where, inner[0]: k})
        for k in builtins.range(numblocks[axis])
    ]


def _inputs(pairs: list) -> list:
    """The ``(array, index)`` pairs, without the plain values."""
    return [(a, ind) for a, ind in pairs if ind is not None]


def _adjusted(i: int, chunks: tuple, adjust: Any) -> tuple:
    """Dask's ``adjust_chunks`` for output axis ``i``: a function of each block size,
    one size for every block, or the sizes themselves."""
    if callable(adjust):
        return tuple(builtins.map(adjust, chunks))
    if isinstance(adjust, numbers.Integral):
        return (int(adjust),) * len(chunks)
    if isinstance(adjust, tuple | list):
        if len(adjust) != len(chunks):
            raise ValueError(
                f"chunks along output axis {i}: {len(adjust)} block sizes "
                f"{tuple(adjust)} for the {len(chunks)} blocks there"
            )
        return tuple(int(c) for c in adjust)
    raise TypeError(
        f"chunks along output axis {i} must be an int, a tuple of block sizes or a "
        f"function of the block size, not {adjust!r}"
    )


def _blockwise(
    func: Callable,
    out_ind: tuple,
    pairs: list[tuple[Any, tuple | None]],
    *,
    dtype: Any,
    name: str | None = None,
    token: str | None = None,
    adjust_chunks: dict | None = None,
    new_axes: dict | None = None,
    align_arrays: bool = True,
    concatenate: bool = False,
    kwargs: dict | None = None,
    block_kwargs: Callable[[tuple, tuple], dict] | None = None,
) -> Array:
    """The graph builder behind :func:`blockwise` and :func:`map_blocks`.

    ``pairs`` are ``(array, index tuple)`` or ``(value, None)``; ``block_kwargs(out_idx,
    out_chunks)`` gives keywords for the call of one output block.
    """
    # Keyword arguments that are taskloom arrays reach every call whole, as Dask's
    # (computed once, as a dependency, never inside a task).
    whole = {k: v for k, v in (kwargs or {}).items() if isinstance(v, Array)}
    kwargs = {k: v for k, v in (kwargs or {}).items() if k not in whole}
    arrays: list[tuple[Any, tuple | None]] = []
    for a, ind in pairs:
        if ind is None:
            arrays.append((a, None))
            continue
        a = asarray(a)
        if len(ind) != a.ndim:
            raise ValueError(f"index {ind!r} has {len(ind)} entries for a {a.ndim}-d array")
        arrays.append((a, tuple(ind)))
    chunkss: dict[Hashable, tuple] = {}
    if align_arrays:  # common block boundaries per index; length 1 broadcasts
        lengths: dict[Hashable, int] = {}
        unknown: dict[Hashable, set] = {}  # unknown sizes line up only with the same blocks
        for a, ind in _inputs(arrays):
            for i, c, n in zip(ind, a.chunks, a.shape, strict=True):
                if has_unknown(c):
                    unknown.setdefault(i, set()).add(c)
                elif n != 1 and lengths.setdefault(i, n) != n:
                    raise ValueError(f"index {i!r} has lengths {lengths[i]} and {n}")
        for i, cs in unknown.items():
            if len(cs) > 1 or i in lengths:
                raise ValueError(
                    f"index {i!r}: arrays' chunk sizes {sorted(cs, key=str)} are unknown and "
                    f"cannot be lined up with other blocks.{UNKNOWN_CHUNK_MESSAGE}"
                )
            chunkss[i] = next(iter(cs))
        for a, ind in _inputs(arrays):
            for i, c, n in zip(ind, a.chunks, a.shape, strict=True):
                if i not in unknown and n == lengths.get(i, 1):
                    prev = chunkss.get(i, c)
                    bounds = sorted(set(_offsets(prev)) | set(_offsets(c)))
                    chunkss[i] = tuple(hi - lo for lo, hi in pairwise(bounds)) or (0,)
        aligned = []
        for a, ind in arrays:
            if ind is not None:  # broadcast axes (length 1 where others are longer) stay
                target = tuple(
                    chunkss[i] if n == lengths.get(i, 1) else c
                    for i, c, n in zip(ind, a.chunks, a.shape, strict=True)
                )
                a = a.rechunk(target)
            aligned.append((a, ind))
        arrays = aligned
    else:  # per index, the chunks of the input with the most blocks there (as Dask)
        for a, ind in _inputs(arrays):
            for c, i in zip(a.chunks, ind, strict=True):
                if i not in chunkss or len(c) > len(chunkss[i]):
                    chunkss[i] = c
    for i, c in (new_axes or {}).items():
        chunkss[i] = c if isinstance(c, tuple) else (int(c),)
    for a, ind in _inputs(arrays):  # block counts must match, or be 1 (broadcast)
        for k, i in enumerate(ind):
            if a.numblocks[k] not in (1, len(chunkss[i])):
                raise ValueError(
                    f"an array has {a.numblocks[k]} blocks along its axis {k} (index "
                    f"{i!r}), another {len(chunkss[i])}: block counts must match or be 1"
                )
    missing = [i for i in out_ind if i not in chunkss]
    if missing:
        raise ValueError(f"output indices {missing} appear in no input")
    out_chunks = tuple(chunkss[i] for i in out_ind)
    if adjust_chunks:
        out_chunks = tuple(
            _adjusted(k, c, adjust_chunks[i]) if i in adjust_chunks else c
            for k, (c, i) in enumerate(zip(out_chunks, out_ind, strict=True))
        )
    if dtype is None:
        raise ValueError("blockwise needs dtype= (the result's dtype)")
    values = [(a.name, ind) if ind is not None else (a, None) for a, ind in arrays]
    values.append({k: v.name for k, v in whole.items()})
    token_ = tokenize(func, out_ind, values, np.dtype(dtype), kwargs, adjust_chunks, new_axes,
                      concatenate, align_arrays)  # fmt: skip
    name = name or f"{token or funcname(func).strip('_')}-{token_}"
    layer: dict = {}
    fn = bind_kwargs(func, kwargs)
    whole_keys = {k: (f"whole-{v.name}",) for k, v in whole.items()}
    for k, v in whole.items():
        layer[whole_keys[k]] = (_assemble, v.__dask_keys__(), v.ndim)
    if whole:
        fn = partial(_with_keywords, fn, tuple(whole))
    for out_idx in np.ndindex(*[len(c) for c in out_chunks]):
        where = dict(zip(out_ind, out_idx, strict=True))
        call: list = [bind_kwargs(fn, block_kwargs(out_idx, out_chunks)) if block_kwargs else fn]
        for a, ind in arrays:
            if ind is None:
                call.append(data_task(a))
                continue
            inner = [i for i in ind if i not in where]
            arg = _nested_keys(a.name, ind, a.numblocks, inner, where)
            if inner and concatenate:
                arg = (_concat_axes, arg, [ind.index(i) for i in inner])
            call.append(arg)
        if whole:
            call[1:1] = whole_keys.values()
        layer[(name, *out_idx)] = tuple(call)
    parents = [a for a, ind in arrays if ind is not None] + list(whole.values())
    return _merge(parents, name, layer, out_chunks, dtype)


def _with_keywords(func: Callable, names: tuple, *values: Any, **kwargs: Any) -> Any:
    """``func(*rest, name=value...)``: the first ``len(names)`` values are keywords."""
    given = dict(zip(names, values[: len(names)], strict=True))
    return func(*values[len(names) :], **given, **kwargs)


def blockwise(
    func: Callable,
    out_ind: Sequence[Hashable] | str,
    *args: Any,
    name: str | None = None,
    token: str | None = None,
    dtype: Any = None,
    adjust_chunks: dict | None = None,
    new_axes: dict | None = None,
    align_arrays: bool = True,
    concatenate: bool | None = None,
    meta: Any = None,
    **kwargs: Any,
) -> Array:
    """Apply ``func`` block by block, in Einstein-like index notation, as Dask's.

    Parameters
    ----------
    func
        Called once per output block with one block (or nested lists of blocks, or
        joined blocks) per array argument, the other arguments as given, and ``kwargs``.
    out_ind
        The output's index, e.g. ``"ij"`` or ``(0, 1)``.
    *args
        Alternating arrays (or plain values) and their indices (``None`` for values).
    name, token
        The output's full key name, or the prefix of a generated one.
    dtype, meta
        The result's dtype (or an empty array of it); required.
    adjust_chunks
        ``{index: int | tuple | function}``: new block sizes along output indices.
    new_axes
        ``{index: chunks}`` for output indices that no input has.
    align_arrays
        Rechunk inputs to common block boundaries first (else pair blocks by position).
    concatenate
        Join the blocks of contracted indices into one array.

    Returns
    -------
    Array

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(6).reshape(2, 3), chunks=1)
    >>> blockwise(np.add, "ij", x, "ij", 10, None, dtype=x.dtype).compute()
    array([[10, 11, 12],
           [13, 14, 15]])
    >>> blockwise(lambda b: b.sum(axis=1), "i", x, "ij", concatenate=True, dtype=int).compute()
    array([ 3, 12])
    """
    if len(args) % 2:
        raise ValueError("blockwise arguments come in pairs: array (or value), index")
    if dtype is None and meta is not None:
        dtype = meta.dtype
    pairs = [
        (args[i], tuple(args[i + 1]) if args[i + 1] is not None else None)
        for i in builtins.range(0, len(args), 2)
    ]
    return _blockwise(
        func,
        tuple(out_ind),
        pairs,
        dtype=dtype,
        name=name,
        token=token,
        adjust_chunks=adjust_chunks,
        new_axes=new_axes,
        align_arrays=align_arrays,
        concatenate=bool(concatenate),
        kwargs=kwargs,
    )


# -- map_blocks ---------------------------------------------------------------------


def _takes_keyword(func: Callable, name: str) -> bool:
    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def _apply_and_enforce(func: Callable, expected_ndim: int, *args: Any, **kwargs: Any) -> Any:
    out = func(*args, **kwargs)
    if getattr(out, "ndim", 0) != expected_ndim:
        raise ValueError(
            f"Dimension mismatch: expected output of {funcname(func)} to have dims = "
            f"{expected_ndim}. Got {getattr(out, 'ndim', 0)} instead."
        )
    return out


def _block_info(
    args: tuple,
    ind_of: dict[int, tuple],
    out_ind: tuple,
    dropped: bool,
    dtype: Any,
) -> Callable[[tuple, tuple], dict]:
    """``block_info`` for each output block, exactly as Dask builds it."""
    starts: dict[int, list] = {}
    num_chunks: dict[int, tuple] = {}
    for i, ind in ind_of.items():
        a = args[i]
        if dropped:  # dropped axes are joined: one block there
            starts[i] = [
                _offsets(a.chunks[j]) if label in out_ind else [0, a.shape[j]]
                for j, label in enumerate(ind)
            ]
            num_chunks[i] = tuple(len(s) - 1 for s in starts[i])
        else:
            starts[i] = [_offsets(c) for c in a.chunks]
            num_chunks[i] = a.numblocks

    out_starts: dict = {}

    def info(block_id: tuple, out_chunks: tuple) -> dict:
        location = dict(zip(out_ind, block_id, strict=True))
        out: dict = {}
        for i, ind in ind_of.items():
            arr_k = tuple(
                location.get(label, 0) if num_chunks[i][j] > 1 else 0 for j, label in enumerate(ind)
            )
            out[i] = {
                "shape": args[i].shape,
                "num-chunks": num_chunks[i],
                "array-location": [(starts[i][a][k], starts[i][a][k + 1])
                                   for a, k in enumerate(arr_k)],
                "chunk-location": arr_k,
            }  # fmt: skip
        if out_chunks not in out_starts:  # the same for every block: computed once
            out_starts[out_chunks] = [_offsets(c) for c in out_chunks]
        starts_out = out_starts[out_chunks]
        out[None] = {
            "shape": tuple(sum(c) for c in out_chunks),
            "num-chunks": tuple(len(c) for c in out_chunks),
            "array-location": [(starts_out[a][k], starts_out[a][k + 1])
                               for a, k in enumerate(block_id)],
            "chunk-location": block_id,
            "chunk-shape": tuple(out_chunks[a][k] for a, k in enumerate(block_id)),
            "dtype": dtype,
        }  # fmt: skip
        return out

    return info


def map_blocks(
    func: Callable,
    *args: Any,
    name: str | None = None,
    token: str | None = None,
    dtype: Any = None,
    chunks: Any = None,
    drop_axis: int | Sequence[int] | None = None,
    new_axis: int | Sequence[int] | None = None,
    enforce_ndim: bool = False,
    meta: Any = None,
    **kwargs: Any,
) -> Array:
    """Apply ``func`` to each block of the array arguments, as Dask's ``map_blocks``.

    Parameters
    ----------
    func
        Called once per output block with the matching block of each array argument
        (arrays line up on their trailing axes; an axis of one block is passed whole
        to every call), the other arguments as given, and ``kwargs``. If it takes a
        ``block_id`` keyword, it gets the output block's index; if it takes
        ``block_info``, Dask's dict: for each array argument's position ``i``,
        ``block_info[i]`` has ``'shape'``, ``'num-chunks'``, ``'chunk-location'`` and
        ``'array-location'`` of the input block, and ``block_info[None]`` those of
        the output block plus ``'chunk-shape'`` and ``'dtype'``.
    *args
        Arrays and other values.
    name
        The output's key name (default: ``token`` or the function's name, and a
        token of the inputs).
    token
        The prefix of the generated name.
    dtype
        The result's dtype; found by calling ``func`` on one-element blocks if not
        given (a ``ValueError`` asks for it if that call fails).
    chunks
        The output's block sizes, one entry per output axis: an int (every block
        that size), a tuple (the size of each block) or, when the blocks keep their
        number, the input's. Extra leading entries are new axes.
    drop_axis
        Axes of the inputs that ``func``'s result does not have; blocks along them are
        joined, so ``func`` sees the whole axis.
    new_axis
        Positions of axes that ``func``'s result adds (one block each, of ``chunks``'
        size there, or 1).
    enforce_ndim
        Check that each result has the expected number of dimensions.
    meta
        An empty array of the result's type (its dtype is used).
    **kwargs
        Passed to every call of ``func``.

    Returns
    -------
    Array

    Raises
    ------
    ValueError
        For ``drop_axis``/``new_axis``/``chunks`` that do not fit the output, naming the
        argument, or when the dtype cannot be found.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(12).reshape(3, 4), chunks=2)
    >>> x.map_blocks(lambda b: b * 3).compute()[0]
    array([0, 3, 6, 9])
    >>> x.map_blocks(np.sum, axis=1, drop_axis=1).compute()
    array([ 6, 22, 38])
    >>> x.map_blocks(lambda b: b[None], new_axis=0).shape
    (1, 3, 4)
    >>> def corner(b, block_id=None):
    ...     return np.full((1, 1), sum(block_id))
    >>> x.map_blocks(corner, chunks=(1, 1), dtype=int).compute()
    array([[0, 1],
           [1, 2]])
    """
    if not callable(func):
        raise TypeError(
            f"map_blocks: the first argument must be a function, not {type(func).__name__}"
        )
    positions = [i for i, a in enumerate(args) if isinstance(a, Array)]
    if not positions:
        raise ValueError("map_blocks needs at least one taskloom array argument")
    arrays = [args[i] for i in positions]
    if len({a.shape for a in arrays}) == 1:  # same shape: line up the blocks
        arrays = unify_chunks(*arrays)
    args = list(args)
    for i, a in zip(positions, arrays, strict=True):
        args[i] = a
    args = tuple(args)
    ndim_out = builtins.max(a.ndim for a in arrays)
    ind_of = {i: tuple(builtins.range(args[i].ndim))[::-1] for i in positions}
    out_ind: tuple = tuple(builtins.range(ndim_out))[::-1]

    if dtype is None and meta is None:
        probe_kwargs = {  # arrays as one-element stand-ins: the probe computes nothing
            k: np.ones((1,) * v.ndim, dtype=v.dtype) if isinstance(v, Array) else v
            for k, v in kwargs.items()
        }
        dtype = _probe_dtype(func, args, probe_kwargs, strict=True)
    info_dtype = np.dtype(dtype) if dtype is not None else None  # Dask's, for block_info
    if dtype is None:
        dtype = getattr(meta, "dtype", None)
        if dtype is None:
            raise ValueError(f"map_blocks: meta={meta!r} has no dtype; give dtype=")
    dtype = np.dtype(dtype)

    drop = [drop_axis] if isinstance(drop_axis, numbers.Integral) else list(drop_axis or [])
    if builtins.any(not -ndim_out <= d < ndim_out for d in drop):
        raise ValueError(
            f"drop_axis out of range (drop_axis={drop_axis!r}, but output is {ndim_out}d)."
        )
    drop = [d % ndim_out for d in drop] if ndim_out else []
    out_ind = tuple(label for k, label in enumerate(out_ind) if k not in drop)

    new = [new_axis] if isinstance(new_axis, numbers.Integral) else new_axis
    if chunks is not None and not isinstance(chunks, tuple | list):
        raise TypeError(f"chunks= must be a tuple with one entry per output axis, not {chunks!r}")
    if new is None and chunks is not None and len(out_ind) < len(chunks):
        new = builtins.range(len(chunks) - len(out_ind))
    new_axes: dict = {}
    if new:
        new = sorted(int(a) for a in new)
        out_list = list(out_ind)
        for ax in new:
            if not 0 <= ax <= len(out_list):
                raise ValueError(
                    f"new_axis={new_axis!r}: position {ax} does not fit an output of "
                    f"{len(out_list) + 1} dimensions"
                )
            label = len(out_list) + len(drop)
            out_list.insert(ax, label)
            new_axes[label] = chunks[ax] if chunks is not None else 1
        out_ind = tuple(out_list)
    adjust = None
    if chunks is not None:
        if len(chunks) != len(out_ind):
            raise ValueError(
                f"chunks= has {len(chunks)} entries, the output has {len(out_ind)} axes"
            )
        adjust = dict(zip(out_ind, chunks, strict=True))

    call = partial(_apply_and_enforce, func, len(out_ind)) if enforce_ndim else func
    extras: list = []
    if _takes_keyword(func, "block_id"):
        extras.append(lambda block_id, out_chunks: {"block_id": block_id})
    if _takes_keyword(func, "block_info"):
        info = _block_info(args, ind_of, out_ind, bool(drop), info_dtype)
        extras.append(lambda block_id, out_chunks: {"block_info": info(block_id, out_chunks)})

    def block_kwargs(block_id: tuple, out_chunks: tuple) -> dict:
        return {k: v for e in extras for k, v in e(block_id, out_chunks).items()}

    pairs = [(a, ind_of.get(i)) for i, a in enumerate(args)]
    return _blockwise(
        call,
        out_ind,
        pairs,
        dtype=dtype,
        name=name,
        token=token or funcname(func).strip("_"),
        adjust_chunks=adjust,
        new_axes=new_axes,
        align_arrays=False,
        concatenate=True,
        kwargs=kwargs,
        block_kwargs=block_kwargs if extras else None,
    )
