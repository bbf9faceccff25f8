"""Joining, reshaping, linear algebra and the remaining creation routines.

Policies: ``concatenate``/``stack``/``block`` only re-key existing blocks (no data is
touched until computed); ``reshape`` keeps blocks where the reshaped axes' chunks allow
and otherwise first merges the affected axes into single blocks; ``tensordot`` multiplies
matching blocks and sums the products over the contracted block index with the same
bounded-fan-in tree as the reductions. ``to_npy_stack`` is all or nothing: its files are
staged beside the stack and moved into place only when every block is saved
(:mod:`taskloom._files`); ``store`` writes into the caller's targets in place, as Dask's.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Sequence
from functools import reduce
from itertools import pairwise
from operator import mul
from typing import Any

import numpy as np

from taskloom.array.core import (
    Array,
    _block_slices,
    _check_axis,
    _derive,
    _merge,
    _offsets,
    asarray,
    normalize_chunks,
)
from taskloom.tokenize import tokenize

SPLIT_EVERY = 8


def concatenate(seq: Sequence[Any], axis: int | None = 0) -> Array:
    """Join arrays along an existing axis (their blocks are reused as they are).

    Raises
    ------
    ValueError
        If the arrays' other dimensions differ.
    """
    arrays = [asarray(a) for a in seq]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    if axis is None:  # numpy's: the arrays flattened, then joined
        arrays, axis = [reshape(a, (-1,)) for a in arrays], 0
    ndim = arrays[0].ndim
    axis = _check_axis(axis, ndim)
    for a in arrays:
        if a.ndim != ndim or any(
            a.shape[i] != arrays[0].shape[i] for i in range(ndim) if i != axis
        ):
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
            layer[(name, *out)] = (np.asarray, (a.name, *idx), dtype)
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

    Axes that are merged or split must each be a single block (or the merge must keep
    whole rows); otherwise those axes are first rechunked into one block.
    """
    x = asarray(x)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if shape.count(-1) > 1:
        raise ValueError("can only specify one unknown dimension (-1)")
    if -1 in shape:
        known = reduce(mul, (s for s in shape if s != -1), 1)
        if known == 0 or x.size % known:
            raise ValueError(f"cannot reshape array of size {x.size} into shape {shape}")
        shape = tuple(x.size // known if s == -1 else s for s in shape)
    if reduce(mul, shape, 1) != x.size:
        raise ValueError(f"cannot reshape array of size {x.size} into shape {shape}")
    if shape == x.shape:
        return x
    # Keep the leading axes that are unchanged; everything after must be one block.
    lead = 0
    while lead < min(len(shape), x.ndim) and shape[lead] == x.shape[lead]:
        lead += 1
    y = x.rechunk(tuple(x.chunks[:lead]) + tuple((s,) for s in x.shape[lead:]))
    name = f"reshape-{tokenize(x.name, shape)}"
    layer = {}
    for idx in np.ndindex(*y.numblocks[:lead]):
        block_shape = tuple(y.chunks[a][i] for a, i in enumerate(idx)) + shape[lead:]
        layer[(name, *idx, *([0] * (len(shape) - lead)))] = (
            np.reshape,
            (y.name, *idx, *([0] * (y.ndim - lead))),
            block_shape,
        )
    chunks = tuple(y.chunks[:lead]) + tuple((s,) for s in shape[lead:])
    if not shape:
        layer = {(name,): (np.reshape, (y.name, *([0] * y.ndim)), ())}
    return _derive(y, name, layer, chunks, x.dtype)


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


def _eye_block(shape: tuple, row0: int, col0: int, k: int, dtype: Any) -> np.ndarray:
    return np.eye(shape[0], shape[1], k=k + row0 - col0, dtype=dtype)


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = "f8", chunks: Any = "auto") -> Array:
    """The identity-like matrix with ones on diagonal ``k``."""
    M = N if M is None else M
    chunks = normalize_chunks(chunks, (N, M), dtype)
    name = f"eye-{tokenize(N, M, k, dtype, chunks)}"
    layer = {
        (name, *idx): (
            _eye_block,
            tuple(s.stop - s.start for s in slc),
            slc[0].start,
            slc[1].start,
            k,
            np.dtype(dtype),
        )
        for idx, slc in _block_slices(chunks)
    }
    return Array({name: layer}, name, chunks, dtype)


def from_delayed(value: Any, shape: Sequence[int], dtype: Any) -> Array:
    """A one-block array computed by a :class:`~taskloom.Delayed` value."""
    from taskloom.delayed import Delayed

    if not isinstance(value, Delayed):
        raise TypeError(f"from_delayed needs a Delayed value, got {type(value).__name__}")
    shape = tuple(shape)
    name = f"from-value-{tokenize(value.key, shape)}"
    layer = {(name, *([0] * len(shape))): (np.asarray, value.key, np.dtype(dtype))}
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
            (name, *out): (np.asarray, (x.name, *[picks[a][k] for a, k in enumerate(out)]))
            for out in np.ndindex(*[len(p) for p in picks])
        }
        chunks = tuple(tuple(x.chunks[a][k] for k in p) for a, p in enumerate(picks))
        return _derive(x, name, layer, chunks, x.dtype)


Array.blocks = property(lambda self: _Blocks(self))  # type: ignore[attr-defined]
