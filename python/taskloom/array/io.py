"""Reading and writing arrays in storage formats: zarr, HDF5 (h5py), TileDB, as
``dask.array``'s ``from_zarr``/``to_zarr``/``to_hdf5``/``from_tiledb``/``to_tiledb``,
and :func:`store`, which they all write through.

Policies: reading is :func:`~taskloom.array.from_array` over the opened array, so each
task reads only its block. Writing is :func:`store`: one task per source block writes
that block into its place in the target (``target[region][block slices] = block``),
so no task ever holds more than one block and the whole array is never assembled.
Writes share one lock unless told otherwise (``lock=True``, as Dask); formats whose
blocks are written whole (zarr and TileDB, with the source's blocks lined up with the
stored chunks) write without it. zarr, h5py and tiledb are imported by the functions
that need them; when one is missing the ``ImportError`` names the extra to install.
"""

from __future__ import annotations

import importlib
import itertools
import os
import threading
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from taskloom.array.core import Array, _block_slices, block_keys, from_array, normalize_chunks
from taskloom.core import data_task
from taskloom.tokenize import tokenize

__all__ = ["from_tiledb", "from_zarr", "store", "to_hdf5", "to_tiledb", "to_zarr"]


def _require(module: str, extra: str, caller: str) -> Any:
    # Importing tiledb switches numpy's printing to its 1.21 legacy mode for the whole
    # process; the caller's print options are put back.
    options = np.get_printoptions()
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{caller} needs {module}: pip install 'taskloom[{extra}]'") from e
    finally:
        np.set_printoptions(**options)


# -- store ------------------------------------------------------------------------------


def _region_index(region: tuple | None, index: tuple, shape: tuple) -> tuple:
    """``index`` (a block's slices in the source) as an index of the whole target:
    the block's place inside ``target[region]``."""
    if region is None:
        return index
    blocks = iter(index)
    out: list = []
    for n, r in zip(shape, (*region, *[slice(None)] * (len(shape) - len(region))), strict=True):
        if isinstance(r, int | np.integer):  # an axis the source does not have
            out.append(int(r))
            continue
        positions = range(*r.indices(n))[next(blocks)]
        stop = positions.stop if positions.stop >= 0 else None
        out.append(slice(positions.start, stop, positions.step))
    return tuple(out)


def _region_shape(region: tuple, shape: tuple) -> tuple:
    if any(not isinstance(r, slice | int | np.integer) for r in region):
        raise TypeError(f"a region is a tuple of slices (and integers), not {region!r}")
    if len(region) > len(shape):
        raise IndexError(f"region {region!r} has more entries than the target's {len(shape)} axes")
    full = (*region, *[slice(None)] * (len(shape) - len(region)))
    return tuple(
        len(range(*r.indices(n))) for r, n in zip(full, shape, strict=True) if isinstance(r, slice)
    )


def _load_store_chunk(
    block: Any,
    out: Any,
    index: tuple,
    region: tuple | None,
    lock: Any,
    return_stored: bool,
    load_stored: bool,
) -> Any:
    index = _region_index(region, index, out.shape) if region is not None else index
    if lock:
        lock.acquire()
    try:
        if block is not None and np.size(block) != 0:
            out[index] = block
        if return_stored and load_stored:
            return np.asanyarray(out[index])
        return out if return_stored else None
    finally:
        if lock:
            lock.release()


def _load_chunk(out: Any, index: tuple, region: tuple | None, lock: Any) -> Any:
    return _load_store_chunk(None, out, index, region, lock, True, True)


def _done(*_: Any) -> None:
    return None


def _scheduler_lock(scheduler: Any) -> Any:
    # Tasks run in other processes cannot share a thread lock: a manager's lock then.
    if scheduler in ("processes", "multiprocessing"):
        import multiprocessing

        return multiprocessing.Manager().Lock()
    return threading.Lock()


def store(
    sources: Array | Sequence[Array],
    targets: Any,
    lock: bool | Any = True,
    regions: tuple | Sequence[tuple] | None = None,
    compute: bool = True,
    return_stored: bool = False,
    load_stored: bool | None = None,
    **kwargs: Any,
) -> Any:
    """Write arrays into array-like targets (anything with ``target[slices] = x``:
    numpy arrays, memory maps, h5py datasets, zarr and TileDB arrays), block by block,
    as ``dask.array.store``.

    Parameters
    ----------
    sources
        An array, or a sequence of arrays.
    targets
        A target, or a sequence of as many targets as sources; a
        :class:`~taskloom.delayed.Delayed` target is computed first.
    lock
        ``True``: one new ``threading.Lock`` held by every write of this call (a
        manager's lock for ``scheduler="processes"``); ``False``: none; or the lock
        object (anything with ``acquire``/``release``) to hold.
    regions
        Where each source goes in its target: a tuple of slices (for every target), or
        one per source; ``target[region].shape`` must be the source's shape.
    compute
        Write now; else return what writes when computed.
    return_stored
        Return arrays of what was stored (read back from the targets).
    load_stored
        With ``return_stored``: the blocks read back (default when ``compute=False``),
        or else the targets themselves (Dask's advanced option).
    **kwargs
        Passed to ``compute`` (``scheduler=``...).

    Returns
    -------
    None, Delayed, Array or tuple of Arrays
        ``None`` once written (``compute=True``); a ``Delayed`` whose computation
        writes (``compute=False``; Dask's documented result); with
        ``return_stored``, an array per source (one array alone) reading the stored
        data: after the writes (``compute=True``), or doing each block's write before
        reading it (``compute=False``).

    Raises
    ------
    ValueError
        If a source is not an array, the numbers of sources, targets and regions
        differ, or a target (region) has another shape than its source.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> target = np.zeros((2, 4))
    >>> da.store(da.arange(4, chunks=2), target, regions=(1, slice(None)))
    >>> target
    array([[0., 0., 0., 0.],
           [0., 1., 2., 3.]])
    """
    from taskloom.delayed import Delayed

    if isinstance(sources, Array):
        sources, targets = [sources], [targets]
    sources, targets = list(sources), list(targets)
    if any(not isinstance(s, Array) for s in sources):
        raise ValueError("All sources must be taskloom array objects")
    if len(sources) != len(targets):
        raise ValueError(
            f"Different number of sources [{len(sources)}] and targets [{len(targets)}]"
        )
    if isinstance(regions, tuple) or regions is None:
        regions_list = [regions] * len(sources)
    else:
        regions_list = list(regions)
        if len(sources) != len(regions_list):
            raise ValueError(
                f"Different number of sources [{len(sources)}] and "
                f"targets [{len(targets)}] than regions [{len(regions_list)}]"
            )
    if load_stored is None:
        load_stored = return_stored and not compute
    if lock is True:
        lock = _scheduler_lock(kwargs.get("scheduler"))
    lock_key = f"store-lock-{id(lock)}"
    writes: list[Array] = []
    target_keys: list = []
    for s, t, r in zip(sources, targets, regions_list, strict=True):
        name = f"store-map-{tokenize(s.name, id(t), r, id(lock), return_stored, load_stored)}"
        layers = dict(s._layers)
        layer: dict = {lock_key: data_task(lock)}
        if isinstance(t, Delayed):
            target_key = t.key
            layers[("delayed", t.key)] = t.__dask_graph__()
            dtype = s.dtype
        else:
            shape = tuple(getattr(t, "shape", s.shape))
            expected = shape if r is None else _region_shape(r, shape)
            if expected != s.shape:
                where = "target" if r is None else f"target region {r!r}"
                raise ValueError(f"{where} shape {expected} differs from source shape {s.shape}")
            target_key = f"{name}-target"
            layer[target_key] = data_task(t)
            dtype = getattr(t, "dtype", s.dtype)
        target_keys.append(target_key)
        for idx, slc in _block_slices(s.chunks):
            layer[(name, *idx)] = (_load_store_chunk, (s.name, *idx), target_key, slc, r,
                                   lock_key, return_stored, load_stored)  # fmt: skip
        layers[name] = layer
        writes.append(Array(layers, name, s.chunks, dtype))

    if not compute and return_stored:
        return writes[0] if len(writes) == 1 else tuple(writes)
    dsk: dict = {}
    for w in writes:
        dsk.update(w.__dask_graph__())
    keys = [k for w in writes for k in block_keys(w.name, w.numblocks)]
    done = f"store-done-{tokenize(keys)}"
    dsk[done] = (_done, *keys)
    written = Delayed(done, dsk)
    if not compute:
        return written
    written.compute(**kwargs)
    if not return_stored:
        return None
    loaded = []
    for w, t, tkey, r in zip(writes, targets, target_keys, regions_list, strict=True):
        name = f"load-stored-{tokenize(w.name)}"
        layer = {tkey: data_task(t), lock_key: data_task(lock)}
        for idx, slc in _block_slices(w.chunks):
            layer[(name, *idx)] = (_load_chunk, tkey, slc, r, lock_key)
        loaded.append(Array({name: layer}, name, w.chunks, w.dtype))
    return loaded[0] if len(loaded) == 1 else tuple(loaded)


# -- zarr -------------------------------------------------------------------------------


def _zarr_store(url: Any, storage_options: dict | None, read_only: bool) -> Any:
    """The store for ``url``: the path itself for a local path, an fsspec store when
    ``storage_options`` are given (as Dask)."""
    if isinstance(url, os.PathLike):
        url = os.fspath(url)
    if storage_options is None or not isinstance(url, str):
        return url
    from zarr.storage import FsspecStore

    return FsspecStore.from_url(url, read_only=read_only, storage_options=storage_options)


def from_zarr(
    url: Any,
    component: str | None = None,
    storage_options: dict | None = None,
    chunks: Any = None,
    name: str | None = None,
    inline_array: bool = False,
    **kwargs: Any,
) -> Array:
    """An array reading a zarr array lazily, block by block, as
    ``dask.array.from_zarr``.

    Parameters
    ----------
    url
        A ``zarr.Array``, a path or URL of a zarr store, or a zarr store.
    component
        The array's path inside the store (a group's member).
    storage_options
        Options of the fsspec file system for a URL (``s3://``...).
    chunks
        The blocks (the stored chunks by default).
    name
        The graph name (by default a token of the array and the arguments).
    inline_array
        Accepted for Dask's signature; taskloom keeps the opened array as one graph
        value that every block's task reads, either way.
    **kwargs
        Passed to ``zarr.open_array`` (``mode="r"`` by default).

    Examples
    --------
    >>> import tempfile, numpy as np, taskloom.array as da
    >>> path = tempfile.mkdtemp() + "/x.zarr"
    >>> da.to_zarr(da.arange(6, chunks=4), path)
    >>> da.from_zarr(path).compute()
    array([0, 1, 2, 3, 4, 5])
    """
    zarr = _require("zarr", "zarr", "from_zarr")
    if isinstance(url, zarr.Array):
        z = url
    else:
        kwargs.setdefault("mode", "r")
        store_ = _zarr_store(url, storage_options, read_only=kwargs["mode"] == "r")
        z = zarr.open_array(store=store_, path=component, **kwargs)
    chunks = chunks if chunks is not None else z.chunks
    if name is None:
        name = "from-zarr-" + tokenize(z, component, storage_options, chunks, kwargs)
    return from_array(z, chunks, name=name)


def _regular(chunks: tuple) -> bool:
    """All blocks along each axis the same size but the last, which is no larger."""
    return all(len(c) == 1 or (len(set(c[:-1])) == 1 and c[-1] <= c[0]) for c in chunks)


def _zarr_write_chunks(z: Any, region: tuple | None, dtype: np.dtype) -> tuple:
    """Blocks that cover ``z[region]`` and begin and end on the stored chunks' (or
    shards') boundaries, so no two writes touch one stored chunk (and no lock is
    needed): multiples of the stored chunk, of about the automatic block size."""
    stored = getattr(z, "shards", None) or z.chunks
    step = tuple(c[0] for c in normalize_chunks("auto", z.shape, dtype, previous_chunks=stored))
    full = region or ()
    full = (*full, *[slice(None)] * (len(z.shape) - len(full)))
    out = []
    for n, r, s, c in zip(z.shape, full, step, stored, strict=True):
        start, stop, stride = r.indices(n)
        if stride != 1:
            raise ValueError(f"a zarr region needs slices of step 1, got {r!r}")
        s = max(c, s - s % c)
        edges = [start, *range((start // s + 1) * s, stop, s), stop] if stop > start else [0, 0]
        out.append(tuple(b - a for a, b in itertools.pairwise(edges)) or (0,))
    return tuple(out)


def to_zarr(
    arr: Array,
    url: Any,
    component: str | None = None,
    storage_options: dict | None = None,
    region: tuple | None = None,
    compute: bool = True,
    return_stored: bool = False,
    mode: str = "a",
    **zarr_array_kwargs: Any,
) -> Any:
    """Write ``arr`` into a zarr array, block by block, as ``dask.array.to_zarr``
    (Dask 2026's arguments: ``mode`` for the store, ``overwrite=``... among the keywords).

    Parameters
    ----------
    arr
        The array; irregular blocks are first made regular (with a warning, as Dask).
    url
        A path or URL (a new array is created there, with ``arr``'s blocks as its
        chunks), or an existing ``zarr.Array`` to write into (``arr`` is rechunked so
        its blocks line up with the stored chunks).
    component
        The new array's path in the store.
    storage_options
        Options of the fsspec file system for a URL.
    region
        Where to write in an existing ``zarr.Array`` (slices of step 1).
    compute, return_stored
        As :func:`store`.
    mode
        ``"a"`` (create, failing if the array exists), ``"w"`` (replace it), ``"w-"``.
    **zarr_array_kwargs
        Passed to ``zarr.create_array`` (``chunks``, ``compressors``, ``overwrite``...).

    Returns
    -------
    None, Delayed or Array
        As :func:`store`.

    Raises
    ------
    ValueError
        For ``region`` with a path, ``mode="r"``, or both ``component`` and ``name``.

    Examples
    --------
    >>> import tempfile, numpy as np, taskloom.array as da
    >>> path = tempfile.mkdtemp() + "/x.zarr"
    >>> da.to_zarr(da.ones((4, 4), chunks=2), path, component="ones")
    >>> import zarr; zarr.open_array(path, path="ones", mode="r").chunks
    (2, 2)
    """
    zarr = _require("zarr", "zarr", "to_zarr")
    if component is not None and "name" in zarr_array_kwargs:
        raise ValueError(
            "Cannot specify both 'component' and 'name' in zarr_array_kwargs. Please use "
            "'name' in zarr_array_kwargs"
        )
    if isinstance(url, zarr.Array):
        z = url
        arr = arr.rechunk(_zarr_write_chunks(z, region, arr.dtype))
        regions = [region] if region is not None else None
        return store(arr, z, lock=False, regions=regions, compute=compute,
                     return_stored=return_stored)  # fmt: skip
    if not _regular(arr.chunks):
        warnings.warn(
            "The array uses irregular chunk sizes. Rechunking to regular (uniform) chunks "
            "to ensure the data can be written safely.",
            UserWarning,
            stacklevel=2,
        )
        arr = arr.rechunk(tuple(map(max, arr.chunks)))
    if region is not None:
        raise ValueError("Cannot use `region` keyword when url is not a `zarr.Array`.")
    if mode == "r":
        raise ValueError("Cannot use mode `r` (read-only) when writing to zarr.")
    kwargs = dict(zarr_array_kwargs)
    kwargs.setdefault("shape", arr.shape)
    # Zarr does not take chunks of size 0 (an empty array's).
    kwargs.setdefault("chunks", tuple(max(c[0], 1) for c in arr.chunks))
    kwargs.setdefault("dtype", arr.dtype)
    if mode == "w":
        kwargs["overwrite"] = True
    name = component or kwargs.pop("name", None)
    z = zarr.create_array(store=_zarr_store(url, storage_options, read_only=False), name=name,
                          **kwargs)  # fmt: skip
    # The blocks are the stored chunks: each write fills whole chunks of its own.
    return store(arr, z, lock=False, compute=compute, return_stored=return_stored)


# -- HDF5 ------------------------------------------------------------------------------


def to_hdf5(filename: str | os.PathLike, *args: Any, chunks: Any = True, **kwargs: Any) -> None:
    """Write arrays into datasets of an HDF5 file (created or appended to), block by
    block, as ``dask.array.to_hdf5``.

    Call as ``to_hdf5(filename, "/path", x)`` or ``to_hdf5(filename, {"/path": x,
    "/other": y})``. The datasets are created if missing (``require_dataset``), with
    the arrays' first blocks as their HDF5 chunks (``chunks=True``), or ``chunks`` as
    given; other keywords go to ``require_dataset`` (``compression=``...). The writes
    hold one lock: HDF5 files take one writer at a time.

    Raises
    ------
    ValueError
        If the arguments are neither a path and an array nor a dict.

    Examples
    --------
    >>> import tempfile, h5py, taskloom.array as da
    >>> path = tempfile.mkdtemp() + "/x.h5"
    >>> da.to_hdf5(path, "/data", da.arange(5, chunks=2))
    >>> h5py.File(path, "r")["/data"][:]
    array([0, 1, 2, 3, 4])
    """
    if len(args) == 1 and isinstance(args[0], dict):
        data = args[0]
    elif len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], Array):
        data = {args[0]: args[1]}
    else:
        raise ValueError("Please provide {'/data/path': array} dictionary")
    h5py = _require("h5py", "h5py", "to_hdf5")
    with h5py.File(filename, mode="a") as f:
        dsets = [
            f.require_dataset(
                path,
                shape=x.shape,
                dtype=x.dtype,
                chunks=tuple(c[0] for c in x.chunks) if chunks is True else chunks,
                **kwargs,
            )
            for path, x in data.items()
        ]
        store(list(data.values()), dsets)


# -- TileDB ----------------------------------------------------------------------------


def from_tiledb(
    uri: Any,
    attribute: str | None = None,
    chunks: Any = None,
    storage_options: dict | None = None,
    **kwargs: Any,
) -> Array:
    """An array reading a dense TileDB array lazily, block by block, as
    ``dask.array.from_tiledb``.

    Parameters
    ----------
    uri
        The array's URI, or an open ``tiledb.Array`` (open for reading).
    attribute
        The attribute to read (needed when the array has several).
    chunks
        The blocks (the array's tiles by default).
    storage_options
        TileDB configuration; its ``"key"`` is the encryption key.

    Raises
    ------
    ValueError
        For a sparse array, or one not open for reading.
    TypeError
        Without ``attribute`` for an array of several attributes.

    Examples
    --------
    >>> import tempfile, numpy as np, taskloom.array as da
    >>> uri = tempfile.mkdtemp() + "/t"
    >>> da.to_tiledb(da.arange(6.0, chunks=3), uri)
    >>> da.from_tiledb(uri).chunks
    ((3, 3),)
    """
    tiledb = _require("tiledb", "tiledb", "from_tiledb")
    config = dict(storage_options or {})
    key = config.pop("key", None)
    if isinstance(uri, tiledb.Array):
        tdb = uri
    else:
        tdb = tiledb.open(uri, attr=attribute, config=config, key=key)
    if tdb.schema.sparse:
        raise ValueError("Sparse TileDB arrays are not supported")
    if not attribute:
        if tdb.schema.nattr > 1:
            raise TypeError(
                "keyword 'attribute' must be provided when loading a multi-attribute TileDB array"
            )
        attribute = tdb.schema.attr(0).name
    if tdb.iswritable:
        raise ValueError("TileDB array must be open for reading")
    if chunks is None:
        domain = tdb.schema.domain
        chunks = tuple(int(domain.dim(i).tile) for i in range(tdb.schema.ndim))
    return from_array(tdb, chunks, name=f"tiledb-{tokenize(uri, attribute, chunks)}")


def to_tiledb(
    darray: Array,
    uri: Any,
    compute: bool = True,
    return_stored: bool = False,
    storage_options: dict | None = None,
    key: str | None = None,
    **kwargs: Any,
) -> Any:
    """Write ``darray`` into a dense TileDB array, block by block, as
    ``dask.array.to_tiledb``: a new array at ``uri`` whose tiles are the blocks, or an
    open writable ``tiledb.Array`` of the same dtype and dimensions.

    Raises
    ------
    ValueError
        For irregular blocks (rechunk first), or an incompatible or unwritable target.

    Examples
    --------
    >>> import tempfile, numpy as np, taskloom.array as da
    >>> uri = tempfile.mkdtemp() + "/t"
    >>> da.to_tiledb(da.ones((2, 4), chunks=2), uri)
    >>> da.from_tiledb(uri).sum().compute()
    np.float64(8.0)
    """
    tiledb = _require("tiledb", "tiledb", "to_tiledb")
    config = dict(storage_options or {})
    key = key or config.pop("key", None)
    if not _regular(darray.chunks):
        raise ValueError(
            "Attempt to save array to TileDB with irregular chunking, please call "
            "`arr.rechunk(...)` first."
        )
    if isinstance(uri, str | os.PathLike):
        tiles = [c[0] for c in darray.chunks]
        tdb = tiledb.empty_like(os.fspath(uri), darray, tile=tiles, config=config, key=key,
                                **kwargs)  # fmt: skip
    elif isinstance(uri, tiledb.Array):
        tdb = uri
        if not (darray.dtype == tdb.dtype and darray.ndim == tdb.ndim):
            raise ValueError("Target TileDB array layout is not compatible with source array")
    else:
        raise ValueError(
            "'uri' must be string pointing to supported TileDB store location "
            "or an open, writable TileDB array."
        )
    if not (tdb.isopen and tdb.iswritable):
        raise ValueError("Target TileDB array is not open and writable.")
    return store(darray, tdb, lock=False, compute=compute, return_stored=return_stored)
