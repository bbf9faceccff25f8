"""The blocked array: metadata, graph construction, and the operations on blocks.

An :class:`Array` is a task graph whose keys ``(name, i, j, ...)`` each compute one
numpy block, plus what is known without computing: ``chunks`` (the block sizes along
each axis), hence ``shape``, and ``dtype``. Every operation adds one layer (a dict of
tasks) and never touches blocks it does not need: slicing and reductions of a huge array
compute only the blocks they read. Graphs are merged once, at compute time.

Policies: element-wise operations line up blocks (arrays with different chunks are
first rechunked to the common refinement of their block boundaries); reductions are
tree reductions combining at most ``split_every`` partial results per task along each
reduced axis; rechunking and slicing assemble each output block from the pieces of the
input blocks it overlaps, so no task reads a block it does not need.

Unknown block sizes (NaN, as Dask's, after boolean-mask indexing) are allowed wherever
Dask allows them: element-wise operations and reductions run, and ``shape`` shows NaN;
anything that needs the sizes raises ``ValueError`` pointing to
:meth:`Array.compute_chunk_sizes`, which finds them (in place, as Dask's).
"""

from __future__ import annotations

import builtins
import itertools
import math
import operator
from collections.abc import Callable, Iterable, Sequence
from functools import reduce
from operator import mul
from typing import Any

import numpy as np

from taskloom.annotations import record as record_annotations
from taskloom.array.chunks import (
    AUTO_BYTES,
    UNKNOWN_CHUNK_MESSAGE,
    all_ints,
    balance_chunks,
    has_unknown,
    normalize_chunks,
    rechunk_chunks,
    require_known,
)
from taskloom.base import DaskMethodsMixin
from taskloom.core import data_task
from taskloom.threaded import get as threaded_get
from taskloom.tokenize import tokenize

__all__ = ["AUTO_BYTES", "Array", "from_array", "normalize_chunks"]


# -- chunks (the rules are in chunks.py) --------------------------------------------


def _offsets(sizes: Sequence[int]) -> list[int]:
    return [0, *itertools.accumulate(sizes)]


def _clean_chunks(chunks: Any) -> tuple:
    # Every unknown size is the one math.nan object: tuples compare by identity first,
    # so equal unknown chunks compare equal (NaN != NaN otherwise).
    return tuple(_clean_axis(c) for c in chunks)


def _clean_axis(sizes: Any) -> tuple:
    sizes = tuple(sizes)  # the same tuple if it is one; read twice below
    if all_ints(sizes):  # the common case
        return sizes
    return tuple(math.nan if s != s else int(s) for s in sizes)


# -- the collection -----------------------------------------------------------------


class Array(DaskMethodsMixin):
    """A lazy n-dimensional numpy array made of blocks.

    Build one with :func:`from_array`, the creation functions (``ones``, ``arange``,
    ``random.random``...) or operations on other arrays; ``compute()`` returns a
    ``numpy.ndarray``.
    """

    __slots__ = ("_expr", "_layers", "chunks", "dtype", "name")
    __array_priority__ = 20

    def __init__(
        self, layers: dict, name: str, chunks: tuple, dtype: Any, expr: Any = None
    ) -> None:
        self._layers = record_annotations(layers, name)
        self.name = name
        self.chunks = _clean_chunks(chunks)
        self.dtype = np.dtype(dtype)
        # For element-wise results: (expression tree, leaf arrays), see elemwise().
        self._expr = expr

    # -- collection protocol --
    def __dask_graph__(self) -> dict:
        dsk: dict = {}
        for layer in self._layers.values():
            dsk.update(layer)
        return dsk

    def __dask_keys__(self) -> list:
        if self.ndim == 0:
            return [(self.name,)]
        return _block_keys(self.name, self.numblocks, ())

    def __dask_postcompute__(self) -> tuple:
        return _assemble, (self.ndim,)

    def __dask_postpersist__(self) -> tuple:
        return _from_data, (self.name, self.chunks, self.dtype)

    def __dask_tokenize__(self) -> Any:
        return self.name

    __dask_scheduler__ = staticmethod(threaded_get)

    # -- metadata --
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(builtins.sum(c) for c in self.chunks)

    @property
    def ndim(self) -> int:
        return len(self.chunks)

    @property
    def size(self) -> int:
        return reduce(mul, self.shape, 1)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def numblocks(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.chunks)

    @property
    def npartitions(self) -> int:
        return reduce(mul, self.numblocks, 1)

    @property
    def chunksize(self) -> tuple[int, ...]:
        return tuple(math.nan if has_unknown(c) else builtins.max(c) for c in self.chunks)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def dask(self) -> dict:
        return self.__dask_graph__()

    def __len__(self) -> int:
        if not self.chunks:
            raise TypeError("len() of a 0-d array")
        if has_unknown(self.chunks[0]):
            raise ValueError(
                f"Cannot call len() on object with unknown chunk size.{UNKNOWN_CHUNK_MESSAGE}"
            )
        return self.shape[0]

    def __repr__(self) -> str:
        return (
            f"taskloom.array<{self.name.rsplit('-', 1)[0]}, shape={self.shape}, "
            f"dtype={self.dtype}, chunksize={self.chunksize}, chunktype=numpy.ndarray>"
        )

    def _repr_html_(self) -> str:
        if has_unknown(self.chunks):  # no byte counts to show
            return f"<pre>{self!r}</pre>"
        tasks = builtins.sum(len(layer) for layer in self._layers.values())
        rows = [
            (
                "Bytes",
                _bytes(self.nbytes),
                _bytes(reduce(mul, self.chunksize, 1) * self.dtype.itemsize),
            ),
            ("Shape", self.shape, self.chunksize),
            ("Dask graph", f"{self.npartitions} chunks in {len(self._layers)} graph layers", ""),
            ("Data type", f"{self.dtype} numpy.ndarray", ""),
            ("Tasks", tasks, ""),
        ]
        body = "".join(f"<tr><th>{a}</th><td>{b}</td><td>{c}</td></tr>" for a, b, c in rows)
        return (
            "<table><thead><tr><td></td><th>Array</th><th>Chunk</th></tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )

    # -- numpy interop (the policies are in protocols.py) --
    def __bool__(self) -> bool:
        from taskloom.array.protocols import to_bool

        return to_bool(self)

    def __float__(self) -> float:
        from taskloom.array.protocols import to_scalar

        return to_scalar(self, float)

    def __int__(self) -> int:
        from taskloom.array.protocols import to_scalar

        return to_scalar(self, int)

    def __complex__(self) -> complex:
        from taskloom.array.protocols import to_scalar

        return to_scalar(self, complex)

    def __index__(self) -> int:
        from taskloom.array.protocols import to_scalar

        return to_scalar(self, operator.index)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        from taskloom.array.protocols import to_numpy

        return to_numpy(self, dtype, copy)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        from taskloom.array.protocols import array_ufunc

        return array_ufunc(self, ufunc, method, *inputs, **kwargs)

    def __array_function__(self, func: Callable, types: tuple, args: tuple, kwargs: dict) -> Any:
        from taskloom.array.protocols import array_function

        return array_function(self, func, types, args, kwargs)

    def astype(self, dtype: Any, casting: str = "unsafe", copy: bool = True) -> Array:
        """The array cast to ``dtype``, as ``numpy.ndarray.astype``.

        Raises
        ------
        TypeError
            If ``casting`` (``"no"``, ``"equiv"``, ``"safe"``, ``"same_kind"`` or
            ``"unsafe"``) does not allow the cast, as numpy.

        Examples
        --------
        >>> import taskloom.array as da
        >>> da.ones(3, chunks=2).astype("i4").compute()
        array([1, 1, 1], dtype=int32)
        """
        dtype = np.dtype(dtype)
        if not np.can_cast(self.dtype, dtype, casting=casting):
            raise TypeError(
                f"Cannot cast array data from {self.dtype!r} to {dtype!r} according to "
                f"the rule {casting!r}"
            )
        if dtype == self.dtype:  # blocks are never shared in place: no copy is needed
            return self
        from taskloom.array.blockwise import map_blocks

        return map_blocks(_astype, self, dtype, dtype=dtype)

    # -- shape --
    @property
    def T(self) -> Array:
        return self.transpose()

    def transpose(self, *axes: int) -> Array:
        """Permute the axes (reversed by default)."""
        if len(axes) == 1 and isinstance(axes[0], Sequence):
            axes = tuple(axes[0])
        axes = axes or tuple(reversed(builtins.range(self.ndim)))
        axes = tuple(_check_axis(a, self.ndim) for a in axes)
        if sorted(axes) != list(builtins.range(self.ndim)):
            raise ValueError(f"axes {axes} are not a permutation of the {self.ndim} axes")
        name = f"transpose-{tokenize(self.name, axes)}"
        layer = {
            (name, *[idx[a] for a in axes]): (np.transpose, (self.name, *idx), axes)
            for idx in np.ndindex(*self.numblocks)
        }
        chunks = tuple(self.chunks[a] for a in axes)
        return _derive(self, name, layer, chunks, self.dtype)

    def rechunk(
        self,
        chunks: Any = "auto",
        threshold: int | None = None,
        block_size_limit: int | None = None,
        balance: bool = False,
        method: str | None = None,
    ) -> Array:
        """See :func:`taskloom.array.rechunk`."""
        return rechunk(self, chunks, threshold, block_size_limit, balance, method)

    def __getitem__(self, index: Any) -> Array:
        from taskloom.array.slicing import getitem

        return getitem(self, index)

    def map_blocks(self, func: Callable, *args: Any, **kwargs: Any) -> Array:
        """See :func:`taskloom.array.map_blocks`."""
        from taskloom.array.blockwise import map_blocks

        return map_blocks(func, self, *args, **kwargs)

    def to_delayed(self) -> np.ndarray:
        """A numpy object array of Delayed values, one per block."""
        from taskloom.delayed import Delayed

        dsk = self.__dask_graph__()
        out = np.empty(self.numblocks, dtype=object)
        for idx in np.ndindex(*self.numblocks):
            out[idx] = Delayed((self.name, *idx), dsk)
        return out

    # -- methods of the operation families: thin delegations, imported when called so
    # this module depends on no family --
    def _family(module: str, name: str, doc: str | None = None) -> Callable:
        def method(self: Array, *args: Any, **kwargs: Any) -> Any:
            import importlib

            family = importlib.import_module(f"taskloom.array.{module}")
            return getattr(family, name)(self, *args, **kwargs)

        method.__name__ = name
        method.__doc__ = (
            doc or f"See :func:`taskloom.array.{name}` (the same arguments after ``a``)."
        )
        return method

    sum = _family("reductions", "sum")
    prod = _family("reductions", "prod")
    mean = _family("reductions", "mean")
    min = _family("reductions", "min")
    max = _family("reductions", "max")
    any = _family("reductions", "any")
    all = _family("reductions", "all")
    std = _family("reductions", "std")
    var = _family("reductions", "var")
    argmin = _family("reductions", "argmin")
    argmax = _family("reductions", "argmax")
    argtopk = _family("reductions", "argtopk")
    topk = _family("reductions", "topk")
    cumsum = _family("reductions", "cumsum")
    cumprod = _family("reductions", "cumprod")
    moment = _family("reductions", "moment")
    trace = _family("reductions", "trace")
    round = _family("ufuncs", "round")
    clip = _family("ufuncs", "clip")
    conj = _family("ufuncs", "conj")
    choose = _family("routines", "choose")
    flatten = _family("routines", "ravel", "The array flattened (C order): see :func:`ravel`.")
    ravel = _family("routines", "ravel")
    repeat = _family("routines", "repeat")
    swapaxes = _family("routines", "swapaxes")
    nonzero = _family("routines", "nonzero")
    shuffle = _family("routines", "shuffle")
    store = _family("io", "store")
    to_zarr = _family("io", "to_zarr")
    to_tiledb = _family("io", "to_tiledb")
    del _family

    def to_hdf5(self, filename: Any, datapath: str, **kwargs: Any) -> None:
        """See :func:`taskloom.array.to_hdf5` (this array stored at ``datapath``)."""
        from taskloom.array.io import to_hdf5

        return to_hdf5(filename, datapath, self, **kwargs)

    def to_backend(self, backend: str | None = None, **kwargs: Any) -> Array:
        """The array with blocks of another array library, as Dask's ``to_backend``:
        the blocks here are numpy arrays, the one backend taskloom has.

        Raises
        ------
        ValueError
            For a ``backend`` other than ``"numpy"`` (or None).

        Examples
        --------
        >>> import taskloom.array as da
        >>> x = da.ones(3, chunks=2)
        >>> x.to_backend("numpy") is x
        True
        """
        if backend not in (None, "numpy"):
            raise ValueError(
                f"backend={backend!r} is not available: taskloom.array's blocks are numpy "
                "arrays (backend='numpy')"
            )
        return self

    @property
    def A(self) -> Array:
        """The array itself, as Dask's ``A`` (numpy matrices' ``.A``)."""
        return self

    @property
    def real(self) -> Array:
        """The real part: see :func:`taskloom.array.real`."""
        from taskloom.array import ufuncs

        return ufuncs.real(self)

    @property
    def imag(self) -> Array:
        """The imaginary part: see :func:`taskloom.array.imag`."""
        from taskloom.array import ufuncs

        return ufuncs.imag(self)

    def map_overlap(
        self, func: Callable, depth: Any, boundary: Any = None, trim: bool = True, **kwargs: Any
    ) -> Array:
        """See :func:`taskloom.array.overlap.map_overlap` (``func`` first there)."""
        from taskloom.array.overlap import map_overlap

        return map_overlap(func, self, depth=depth, boundary=boundary, trim=trim, **kwargs)

    @property
    def partitions(self) -> Any:
        """The blocks accessor (an alias of ``blocks``, as Dask's)."""
        return self.blocks

    @property
    def vindex(self) -> Any:
        """Point-wise (vectorized) fancy indexing: see :func:`taskloom.array.slicing.vindex`.

        Examples
        --------
        >>> import numpy as np, taskloom.array as da
        >>> x = da.from_array(np.arange(12).reshape(3, 4), chunks=2)
        >>> x.vindex[[0, 2], [1, 3]].compute()
        array([ 1, 11])
        """
        from taskloom.array.slicing import VIndex

        return VIndex(self)

    def copy(self) -> Array:
        """A copy: a new array object over the same graph (blocks are never changed in
        place, so no data is copied), as Dask's ``copy``."""
        return Array(self._layers, self.name, self.chunks, self.dtype, self._expr)

    def view(self, dtype: Any = None, order: str = "C") -> Array:
        """The same bytes seen as ``dtype``, as ``numpy.ndarray.view`` on each block.

        Raises
        ------
        ValueError
            If ``order`` is not ``"C"`` or ``"F"``, or a block's bytes do not divide into
            items of ``dtype`` along the last (``"C"``) or first (``"F"``) axis.

        Examples
        --------
        >>> import taskloom.array as da
        >>> da.zeros(4, dtype="i8", chunks=2).view("i4").chunks
        ((4, 4),)
        """
        dtype = self.dtype if dtype is None else np.dtype(dtype)
        if order not in ("C", "F"):
            raise ValueError(f"Order must be one of 'C' or 'F', got order={order!r}")
        axis = -1 if order == "C" else 0
        scaled = []
        for c in self.chunks[axis]:
            n = c * self.dtype.itemsize / dtype.itemsize
            if n != int(n):
                raise ValueError(f"Could not coerce {n:f} to integer (dtype={dtype})")
            scaled.append(int(n))
        chunks = list(self.chunks)
        chunks[axis] = tuple(scaled)
        from taskloom.array.blockwise import map_blocks

        return map_blocks(_view, self, dtype, order, dtype=dtype, chunks=tuple(chunks))

    def compute_chunk_sizes(self) -> Array:
        """Find unknown block sizes by computing the blocks' shapes; the array itself
        gets the sizes (in place, as Dask's) and is returned.

        Examples
        --------
        >>> import numpy as np, taskloom.array as da
        >>> x = da.from_array(np.arange(6), chunks=3)
        >>> y = x[x % 2 == 0]
        >>> y.chunks
        ((nan, nan),)
        >>> y.compute_chunk_sizes().chunks
        ((2, 1),)
        """
        if not has_unknown(self.chunks):
            return self
        from taskloom.delayed import Delayed

        name = f"chunk-shapes-{tokenize(self.name)}"
        dsk = self.__dask_graph__()
        keys = []
        for idx in np.ndindex(*self.numblocks):
            dsk[(name, *idx)] = (np.shape, (self.name, *idx))
            keys.append((name, *idx))
        dsk[name] = (list, keys)
        shapes = dict(zip(np.ndindex(*self.numblocks), Delayed(name, dsk).compute(), strict=True))
        self.chunks = tuple(
            tuple(
                shapes[tuple(i if b == a else 0 for b in builtins.range(self.ndim))][a]
                for i in builtins.range(n)
            )
            for a, n in enumerate(self.numblocks)
        )
        return self

    def to_svg(self, size: int = 500) -> str:
        """An SVG picture of the chunk grid, as Dask's ``to_svg``.

        Examples
        --------
        >>> import taskloom.array as da
        >>> da.ones((4, 6), chunks=2).to_svg().startswith("<svg")
        True
        """
        from taskloom.array.routines import _svg

        return _svg(self.chunks, size)

    def to_dask_dataframe(self, columns: Any = None, index: Any = None, meta: Any = None) -> Any:
        """A ``taskloom.dataframe`` with one partition per block of rows (1-d or 2-d
        arrays), as Dask's ``to_dask_dataframe``."""
        from taskloom.array.routines import _to_dataframe

        return _to_dataframe(self, columns, index, meta)


class PerformanceWarning(Warning):
    """An operation will run, but much slower or bigger than it could (Dask's class,
    at its path: filters written for Dask's warnings apply)."""


def blockwise(*args: Any, **kwargs: Any) -> Array:
    """:func:`taskloom.array.blockwise.blockwise`, at Dask's ``dask.array.core`` path
    (imported when called: the blockwise family builds on this module)."""
    from taskloom.array.blockwise import blockwise as blockwise_

    return blockwise_(*args, **kwargs)


def _block_keys(name: str, numblocks: tuple, prefix: tuple) -> list:
    """Nested lists of block keys, one level per axis (a module-level function: a
    recursive closure would be a reference cycle holding the array)."""
    axis = len(prefix)
    if axis == len(numblocks) - 1:
        return [(name, *prefix, i) for i in builtins.range(numblocks[axis])]
    return [_block_keys(name, numblocks, (*prefix, i)) for i in builtins.range(numblocks[axis])]


def block_keys(name: str, numblocks: Sequence[int]) -> list[tuple]:
    """The keys ``(name, i, j, ...)`` of every block, flat, in C order: what a layer's
    dict comprehension zips its tasks with (a 1-d array's without a tuple per block
    unpacked: half the time of a layer of 10^4 blocks).

    Examples
    --------
    >>> block_keys("x", (2, 2))
    [('x', 0, 0), ('x', 0, 1), ('x', 1, 0), ('x', 1, 1)]
    """
    if len(numblocks) == 1:
        return [(name, i) for i in builtins.range(numblocks[0])]
    return [(name, *idx) for idx in itertools.product(*map(builtins.range, numblocks))]


def _bytes(n: int) -> str:
    for unit in ["B", "kiB", "MiB", "GiB", "TiB"]:
        if n < 1024 or unit == "TiB":
            return f"{n:.2f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return str(n)


def _astype(block: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return block.astype(dtype)


def _view(block: np.ndarray, dtype: np.dtype, order: str) -> np.ndarray:
    if order == "C":
        return np.ascontiguousarray(block).view(dtype)
    return np.asfortranarray(block).T.view(dtype).T


def _check_axis(axis: int, ndim: int) -> int:
    if not isinstance(axis, int | np.integer) or not -ndim <= axis < builtins.max(ndim, 1):
        raise ValueError(f"axis {axis} is out of range for an array of {ndim} dimensions")
    return int(axis) % builtins.max(ndim, 1)


def _derive(
    parent: Any, name: str, layer: dict, chunks: tuple, dtype: Any, *others: Any, expr: Any = None
) -> Array:
    layers = dict(parent._layers)
    for o in others:
        layers.update(o._layers)
    layers[name] = layer
    return Array(layers, name, chunks, dtype, expr)


def _merge(arrays: Sequence[Array], name: str, layer: dict, chunks: tuple, dtype: Any) -> Array:
    """A new array: the layer ``name`` over the layers of ``arrays`` (possibly none)."""
    layers: dict = {}
    for a in arrays:
        layers.update(a._layers)
    layers[name] = layer
    return Array(layers, name, chunks, dtype)


def _assemble(results: Any, ndim: int) -> np.ndarray:
    """The blocks, as nested results, joined into one array."""
    if ndim == 0:  # a numpy scalar, as numpy's own full reductions return
        r = results[0]
        return r[()] if isinstance(r, np.ndarray) and r.ndim == 0 else r

    def lists(x: Any, depth: int) -> Any:
        return [lists(y, depth + 1) for y in x] if depth < ndim else x

    return join_blocks(lists(results, 0))


def _leaves(nested: Any) -> Any:
    if isinstance(nested, list):
        for x in nested:
            yield from _leaves(x)
    else:
        yield nested


def _any_masked(blocks: Iterable[Any]) -> bool:
    # A check per distinct type, not per block: a reduction's combine joins thousands.
    return any(issubclass(t, np.ma.MaskedArray) for t in set(map(type, blocks)))


def concatenate_blocks(blocks: Sequence[Any], axis: int) -> np.ndarray:
    """``np.concatenate`` of blocks, keeping the masks of ``numpy.ma`` blocks (which
    ``np.concatenate`` and ``np.block`` drop)."""
    if _any_masked(blocks):
        return np.ma.concatenate(blocks, axis=axis)
    return np.concatenate(blocks, axis=axis)


def join_blocks(nested: Any) -> np.ndarray:
    """``np.block`` of nested lists of blocks (one list level per axis), keeping masks."""
    if not isinstance(nested, list):
        return nested
    if not _any_masked(_leaves(nested)):
        return np.block(nested)

    def join(x: Any, depth: int) -> Any:
        if not isinstance(x, list):
            return x
        return np.ma.concatenate([join(y, depth + 1) for y in x], axis=depth)

    return join(nested, 0)


def _from_data(dsk: dict, name: str, chunks: tuple, dtype: Any) -> Array:
    return Array({name: {k: data_task(v) for k, v in dsk.items()}}, name, chunks, dtype)


# -- creation -----------------------------------------------------------------------


def _block_slices(chunks: tuple) -> Any:
    """``(block index, tuple of slices)`` of every block, in C order."""
    # Products of per-axis lists: the loop runs in C (a block of 10^6 cost 4 us
    # through np.ndindex and a generator of slices).
    slices = []
    for c in chunks:
        o = _offsets(c)
        slices.append([slice(o[i], o[i + 1]) for i in range(len(c))])
    return zip(
        itertools.product(*[range(len(c)) for c in chunks]), itertools.product(*slices), strict=True
    )


def from_array(x: Any, chunks: Any = "auto", name: str | None = None) -> Array:
    """A blocked array over an existing array (anything numpy can index).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> a = da.from_array(np.arange(10), chunks=4)
    >>> a.chunks, a.sum().compute()
    (((4, 4, 2),), np.int64(45))
    """
    if isinstance(x, Array):
        return x.rechunk(chunks)
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        x = np.asarray(x)
    # "auto" follows the source's own blocks (h5py, zarr), as Dask's from_array.
    previous = getattr(x, "chunks", None)
    previous = previous if isinstance(previous, tuple) and len(previous) == x.ndim else None
    chunks = normalize_chunks(chunks, x.shape, x.dtype, previous_chunks=previous)
    name = name or f"array-{tokenize(x, chunks)}"
    source = f"{name}-source"
    layer: dict = {source: data_task(x)}
    for idx, slc in _block_slices(chunks):
        layer[(name, *idx)] = (_getitem_block, source, slc)
    if x.ndim == 0:
        layer = {source: data_task(x), (name,): (np.asanyarray, source)}
    return Array({name: layer}, name, chunks, x.dtype)


def _getitem_block(x: Any, index: tuple) -> np.ndarray:
    # asanyarray: a numpy.ma source keeps its mask in the blocks, as in Dask.
    return np.asanyarray(x[index])


def asarray(
    a: Any,
    allow_unknown_chunksizes: bool = False,
    dtype: Any = None,
    order: str | None = None,
    *,
    like: Any = None,
    **kwargs: Any,
) -> Array:
    """``a`` as a blocked array: itself if it is one, a stack of a list of them, else
    :func:`from_array` (``kwargs`` such as ``chunks=`` go there), cast to ``dtype``.

    Examples
    --------
    >>> asarray([1, 2], dtype="f4").compute()
    array([1., 2.], dtype=float32)
    """
    if isinstance(a, list | tuple) and builtins.any(isinstance(i, Array) for i in a):
        from taskloom.array.routines import stack

        out = stack(a)
    elif isinstance(a, Array):
        out = a
    else:
        out = from_array(a, chunks=kwargs.pop("chunks", "auto"), **kwargs)
    return out if dtype is None else out.astype(dtype)


def _probe_dtype(func: Callable, args: Sequence, kwargs: dict, strict: bool = False) -> np.dtype:
    """The dtype ``func`` returns, found by calling it on one-element blocks. If that
    call fails: numpy's promotion of the inputs' dtypes, or with ``strict`` (as Dask's
    ``map_blocks``) a ``ValueError`` asking for ``dtype=``."""
    probe = [np.ones((1,) * a.ndim, dtype=a.dtype) if isinstance(a, Array) else a for a in args]
    try:
        with np.errstate(all="ignore"):
            return np.asarray(func(*probe, **kwargs)).dtype
    except Exception as e:  # the call may need real data
        if strict:
            raise ValueError(
                f"dtype inference failed in map_blocks: calling {func!r} on one-element "
                f"blocks raised {e!r}. Please specify the dtype explicitly using the "
                "`dtype` kwarg."
            ) from e
        return np.result_type(*[a.dtype if isinstance(a, Array) else a for a in args])


def _broadcast_index(idx: tuple, a: Array) -> tuple:
    offset = len(idx) - a.ndim
    return tuple(0 if a.numblocks[i] == 1 else idx[offset + i] for i in builtins.range(a.ndim))


# -- element-wise -------------------------------------------------------------------


def elemwise(op: Callable, *args: Any) -> Array:
    """``op`` applied element by element, with numpy's broadcasting.

    Raises
    ------
    ValueError
        If the shapes cannot be broadcast together (when the expression is built).
    """
    shapes = [a.shape if isinstance(a, Array) else np.shape(a) for a in args]
    shape = broadcast_shapes(*shapes)
    ndim = len(shape)
    # Array-like arguments become one-block arrays; scalars are passed to every block.
    aligned = [
        a if isinstance(a, Array) or np.ndim(a) == 0 else from_array(np.asarray(a), chunks=-1)
        for a in args
    ]
    out_chunks = _common_chunks([a for a in aligned if isinstance(a, Array)], shape)
    rechunked = []
    for a in aligned:
        if isinstance(a, Array):
            # Along broadcast axes (length 1 here, longer in the output) one block stays.
            target = tuple(
                (1,) if a.shape[i] == 1 and shape[ndim - a.ndim + i] != 1
                else out_chunks[ndim - a.ndim + i]
                for i in builtins.range(a.ndim)
            )  # fmt: skip
            a = a.rechunk(target)
        rechunked.append(a)
    dtype = _probe_dtype(op, rechunked, {})
    token = tokenize(op, *[a.name if isinstance(a, Array) else a for a in rechunked])
    name = f"{getattr(op, '__name__', 'elemwise')}-{token}"
    parts = [a for a in rechunked if isinstance(a, Array)]
    if ndim == 0:
        layer = {(name,): (op, *[(a.name,) if isinstance(a, Array) else a for a in rechunked])}
        return _derive(parts[0], name, layer, out_chunks, dtype, *parts[1:])
    tree, leaves = _fuse(op, rechunked, shape, out_chunks)
    layer = {
        (name, *idx): (_run_expr, tree, *[(a.name, *_broadcast_index(idx, a)) for a in leaves])
        for idx in np.ndindex(*[len(c) for c in out_chunks])
    }
    return _derive(leaves[0], name, layer, out_chunks, dtype, *leaves[1:], expr=(tree, leaves))


def broadcast_shapes(*shapes: tuple) -> tuple:
    """numpy's broadcast shape, where an unknown length (NaN) broadcasts as Dask's: it
    stays unknown, and lines up with 1 or with another unknown length.

    Raises
    ------
    ValueError
        If the shapes cannot be broadcast together.

    Examples
    --------
    >>> broadcast_shapes((3, 1), (4,))
    (3, 4)
    >>> broadcast_shapes((math.nan,), (1,))
    (nan,)
    """
    out = []
    for sizes in itertools.zip_longest(*[reversed(s) for s in shapes], fillvalue=1):
        unknown = [s for s in sizes if s != s]
        known = {int(s) for s in sizes if s == s and s != 1}
        if len(known) > 1 or (unknown and known):
            raise ValueError(f"shapes {' and '.join(map(str, shapes))} cannot be broadcast")
        out.append(math.nan if unknown else known.pop() if known else 1)
    return tuple(reversed(out))


# An expression node: ("leaf", i) | ("const", value) | ("op", func, children, depth).
MAX_FUSED_DEPTH = 32


def _fuse(op: Callable, args: list, shape: tuple, chunks: tuple) -> tuple[tuple, list]:
    """The expression ``op(*args)`` over leaf arrays, inlining arguments that are
    themselves element-wise results of the same shape and blocks.

    This is Dask's blockwise fusion: one task per block evaluates the whole chain of
    element-wise operations, each shared sub-expression once, instead of one task (and
    one stored intermediate block) per operation.
    """
    leaves: list[Array] = []
    index: dict[str, int] = {}

    def leaf(a: Array) -> tuple:
        if a.name not in index:
            index[a.name] = len(leaves)
            leaves.append(a)
        return ("leaf", index[a.name])

    remapped: dict[int, tuple] = {}

    def inline(node: tuple, sub_leaves: list) -> tuple:
        # Rebuild a sub-expression over our leaf numbering, keeping shared nodes shared.
        if id(node) in remapped:
            return remapped[id(node)]
        if node[0] == "leaf":
            out = leaf(sub_leaves[node[1]])
        elif node[0] == "const":
            out = node
        else:
            out = ("op", node[1], tuple(inline(c, sub_leaves) for c in node[2]), node[3])
        remapped[id(node)] = out
        return out

    children = []
    for a in args:
        if not isinstance(a, Array):
            children.append(("const", a))
        elif a._expr is not None and a.shape == shape and a.chunks == chunks:
            tree, sub_leaves = a._expr
            children.append(inline(tree, sub_leaves) if tree[3] < MAX_FUSED_DEPTH else leaf(a))
        else:
            children.append(leaf(a))
    depth = 1 + max((c[3] for c in children if c[0] == "op"), default=0)
    return ("op", op, tuple(children), depth), leaves


def _run_expr(tree: tuple, *blocks: np.ndarray) -> Any:
    """Evaluate an expression tree on one block of each leaf, dropping each intermediate
    block as soon as its last use in the tree has run (as Dask's fused tasks do)."""
    uses: dict[int, int] = {}
    _count_uses(tree, uses)
    return _evaluate(tree, blocks, {}, uses)


def _count_uses(node: tuple, uses: dict) -> None:
    seen = id(node) in uses
    uses[id(node)] = uses.get(id(node), 0) + 1
    if not seen and node[0] == "op":
        for c in node[2]:
            _count_uses(c, uses)


def _evaluate(node: tuple, blocks: tuple, memo: dict, uses: dict) -> Any:
    # A module-level function, not a closure: a recursive closure is a reference cycle,
    # which would keep `memo` (whole intermediate blocks) alive until the cyclic GC runs.
    kind = node[0]
    if kind == "leaf":
        return blocks[node[1]]
    if kind == "const":
        return node[1]
    key = id(node)
    if key in memo:
        value = memo[key]
    else:
        value = node[1](*[_evaluate(c, blocks, memo, uses) for c in node[2]])
    uses[key] -= 1
    if uses[key] > 0:
        memo[key] = value
    else:
        memo.pop(key, None)
    return value


def _common_chunks(arrays: list[Array], shape: tuple) -> tuple:
    """Per output axis, the common refinement of the block boundaries of the arrays
    that span it (arrays of length 1 there broadcast and do not count)."""
    ndim = len(shape)
    out = []
    for axis in builtins.range(ndim):
        if shape[axis] != shape[axis]:  # unknown: only identical blocks line up (Dask's)
            spans = {
                a.chunks[i]
                for a in arrays
                if (i := axis - (ndim - a.ndim)) >= 0 and a.shape[i] != 1
            }
            if len(spans) > 1:
                raise ValueError(
                    f"Arrays' chunk sizes ({sorted(spans, key=str)}) are unknown and "
                    f"differ along axis {axis}.{UNKNOWN_CHUNK_MESSAGE}"
                )
            out.append(spans.pop())
            continue
        bounds: set[int] = {0, shape[axis]}
        for a in arrays:
            i = axis - (ndim - a.ndim)
            if i >= 0 and a.shape[i] == shape[axis]:
                bounds.update(_offsets(a.chunks[i]))
        edges = sorted(bounds)
        sizes = tuple(b - a for a, b in itertools.pairwise(edges)) or (0,)
        out.append(sizes if shape[axis] else (0,))
    return tuple(out)


def unify_chunks(*arrays: Array) -> list[Array]:
    """The arrays rechunked to common block boundaries (same shapes required; unknown
    sizes line up only with the same unknown blocks)."""
    if len({a.chunks for a in arrays}) == 1:
        return list(arrays)
    shapes = {tuple(None if s != s else s for s in a.shape) for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"arrays of different shapes {sorted(shapes, key=str)} cannot be lined up")
    chunks = _common_chunks(list(arrays), arrays[0].shape)
    return [a.rechunk(chunks) for a in arrays]


# -- rechunk ------------------------------------------------------------------------


def rechunk(
    x: Array,
    chunks: Any = "auto",
    threshold: int | None = None,
    block_size_limit: int | None = None,
    balance: bool = False,
    method: str | None = None,
) -> Array:
    """``x`` in new blocks; each output block is assembled from the input pieces it
    overlaps (no task reads more than it needs).

    ``chunks`` is read as Dask's ``rechunk`` reads it (see
    :func:`taskloom.array.chunks.rechunk_chunks`): axes left out of a dict, and ``None``
    entries, keep their blocks; ``-1`` is the whole axis; ``"auto"`` merges blocks up to
    ``block_size_limit`` bytes (128 MiB).

    Examples
    --------
    >>> import taskloom.array as da
    >>> x = da.ones((6, 4), chunks=2)
    >>> x.rechunk({0: 3}).chunks
    ((3, 3), (2, 2))
    >>> x.rechunk((None, -1)).chunks
    ((2, 2, 2), (4,))
    """
    if x.ndim > 0 and all(s == 0 for s in x.shape):
        return x
    if method not in (None, "tasks"):
        raise NotImplementedError(f"rechunk method={method!r}: only 'tasks' is available")
    if isinstance(chunks, tuple) and _clean_chunks_or_none(chunks) == x.chunks:
        return x
    if has_unknown(x.chunks):
        chunks = _rechunk_known_axes(x, chunks, block_size_limit)
    else:
        chunks = rechunk_chunks(chunks, x.chunks, x.dtype, limit=block_size_limit)
    if balance:
        chunks = tuple(balance_chunks(c) for c in chunks)
    if chunks == x.chunks:
        return x
    name = f"rechunk-{tokenize(x.name, chunks)}"
    layer: dict = {}
    in_off = [_offsets(c) for c in x.chunks]
    out_off = [_offsets(c) for c in chunks]
    for idx in np.ndindex(*[len(c) for c in chunks]):
        per_axis = []
        for a, i in enumerate(idx):
            if has_unknown(x.chunks[a]):  # kept as they are (see _rechunk_known_axes)
                per_axis.append([(i, slice(None))])
                continue
            lo, hi = out_off[a][i], out_off[a][i + 1]
            pieces = []
            for j in builtins.range(len(x.chunks[a])):
                s, e = in_off[a][j], in_off[a][j + 1]
                if (e > lo and s < hi) or (lo == hi and s <= lo <= e and not pieces):
                    # (An empty output block is an empty slice of the first input
                    # block at its position, wherever that is.)
                    pieces.append((j, slice(builtins.max(lo, s) - s, builtins.min(hi, e) - s)))
            per_axis.append(pieces)
        layer[(name, *idx)] = (_join_pieces, _nest_pieces(x.name, per_axis))
    return _derive(x, name, layer, chunks, x.dtype)


def _clean_chunks_or_none(chunks: tuple) -> tuple | None:
    """``chunks`` as block sizes if they are explicit sizes per axis, else None."""
    if not all(isinstance(c, tuple) for c in chunks):
        return None
    try:
        return _clean_chunks(chunks)
    except (TypeError, ValueError):
        return None


def _rechunk_known_axes(x: Array, chunks: Any, limit: Any) -> tuple:
    """Target blocks for an array with unknown sizes: as Dask, the unknown axes must
    keep their blocks (left out, ``None`` or the same sizes); the others are read as
    usual."""
    ndim = x.ndim
    if isinstance(chunks, dict):
        entries = [chunks.get(i, chunks.get(i - ndim)) for i in builtins.range(ndim)]
    elif isinstance(chunks, tuple | list) and len(chunks) == ndim:
        entries = list(chunks)
    else:
        entries = [chunks] * ndim
    known = [a for a in builtins.range(ndim) if not has_unknown(x.chunks[a])]
    for a in builtins.range(ndim):
        e = entries[a]
        if (
            a not in known
            and e is not None
            and not (isinstance(e, tuple | list) and _clean_chunks([e])[0] == x.chunks[a])
        ):
            require_known(x.chunks, f"rechunking axis {a} to {e!r}")
    new = list(x.chunks)
    if known:
        sub = rechunk_chunks(
            tuple(entries[a] for a in known), tuple(x.chunks[a] for a in known), x.dtype, limit
        )
        for a, c in zip(known, sub, strict=True):
            new[a] = c
    return tuple(new)


def _nest_pieces(name: str, per_axis: list) -> Any:
    """Nested lists of ``(getitem, key, slices)`` tasks, one level per axis."""

    def build(axis: int, prefix: tuple, slices: tuple) -> Any:
        if axis == len(per_axis):
            return (_slice_block, (name, *prefix), slices)
        return [build(axis + 1, (*prefix, j), (*slices, s)) for j, s in per_axis[axis]]

    return build(0, (), ())


def _slice_block(block: np.ndarray, index: tuple) -> np.ndarray:
    return block[index]


def _join_pieces(pieces: Any) -> np.ndarray:
    return join_blocks(pieces)
