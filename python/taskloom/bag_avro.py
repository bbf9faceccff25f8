"""Avro files as bags: ``read_avro`` and ``Bag.to_avro``, as Dask's.

This module owns the Avro format (through fastavro, the ``taskloom[avro]`` extra,
imported only when a file is read or written).

Policy: ``read_avro`` makes one partition per file, or with ``blocksize`` one per
``blocksize`` bytes of each file, a partition holding the Avro blocks that start in
its byte range (so the number of partitions is Dask's, and every record is read once).
Headers are read when the bag is made, to fail early on a file that is not Avro;
records are read when computed. ``to_avro`` writes each file whole or not at all
(see :mod:`taskloom._files`).
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Sequence
from typing import Any

from taskloom import _files
from taskloom.bag import Bag, _compression, _expand_paths, _open_bytes, _output_paths
from taskloom.delayed import Delayed, delayed
from taskloom.tokenize import tokenize

__all__ = ["read_avro", "to_avro"]


def _fastavro() -> Any:
    try:
        import fastavro
    except ImportError as e:
        raise ImportError(
            "Avro files need fastavro: pip install 'taskloom[avro]' (or fastavro)"
        ) from e
    return fastavro


def read_avro(
    urlpath: str | os.PathLike | Sequence[str | os.PathLike],
    blocksize: int | None = 100000000,
    storage_options: dict | None = None,
    compression: str | None = None,
) -> Bag:
    """A bag of the records (dicts) of Avro files.

    Parameters
    ----------
    urlpath : str or list
        A path, a glob pattern, or a list of them (local files).
    blocksize : int or None
        Bytes per partition (each file cut in ``ceil(size / blocksize)`` partitions);
        ``None``: one partition per file.
    storage_options : dict, optional
        Accepted for Dask's signature; only ``None`` or ``{}`` (local files).
    compression : {None, "gzip", "bz2", "xz"}
        Whole-file compression (only with ``blocksize=None``: a compressed file
        cannot be cut by byte offsets).

    Examples
    --------
    >>> import os, tempfile, taskloom.bag as db
    >>> schema = {"type": "record", "name": "r", "fields": [{"name": "a", "type": "int"}]}
    >>> d = tempfile.mkdtemp()
    >>> _ = db.from_sequence([{"a": 1}, {"a": 2}], npartitions=2).to_avro(
    ...     os.path.join(d, "*.avro"), schema)
    >>> db.read_avro(os.path.join(d, "*.avro")).compute()
    [{'a': 1}, {'a': 2}]
    """
    fastavro = _fastavro()
    if storage_options:
        raise ValueError(f"storage_options: only local files are read, got {storage_options!r}")
    if compression == "infer":  # Dask's read_avro does not infer: a name or None
        raise ValueError("compression must be None or a codec name, got 'infer'")
    _compression("", compression)  # a bad name fails here, naming the argument
    if blocksize is not None:
        if isinstance(blocksize, bool) or not isinstance(blocksize, int) or blocksize < 1:
            raise ValueError(f"blocksize must be a positive number of bytes, got {blocksize!r}")
        if compression is not None:
            raise ValueError("compression needs blocksize=None: compressed files are read whole")
    paths = _expand_paths(urlpath)
    tasks = []
    for p in paths:
        with _open_bytes(p, compression) as f:
            fastavro.reader(f)  # the header: fails here for a file that is not Avro
        size = os.path.getsize(p)
        if blocksize is None:
            tasks.append((_read_file, p, compression))
        else:
            for start in builtins.range(0, builtins.max(size, 1), blocksize):
                tasks.append((_read_blocks, p, start, start + blocksize))
    mtimes = [os.path.getmtime(p) for p in paths]
    name = f"read-avro-{tokenize(paths, mtimes, blocksize, compression)}"
    return Bag({name: {(name, i): t for i, t in enumerate(tasks)}}, name, len(tasks))


def _read_file(path: str, compression: str | None) -> list:
    with _open_bytes(path, compression) as f:
        return list(_fastavro().reader(f))


def _read_blocks(path: str, start: int, stop: int) -> list:
    """The records of the blocks that start in ``[start, stop)``."""
    out: list = []
    with open(path, "rb") as f:
        for block in _fastavro().block_reader(f):
            if block.offset >= stop:
                break
            if block.offset >= start:
                out.extend(block)
    return out


def to_avro(
    b: Bag,
    filename: str | Sequence[str],
    schema: dict,
    name_function: Callable[[int], str] | None = None,
    storage_options: dict | None = None,
    codec: str = "null",
    sync_interval: int = 16000,
    metadata: dict | None = None,
    compute: bool = True,
    **kwargs: Any,
) -> Any:
    """Write one Avro file per partition of ``b`` (elements are records: dicts).

    ``filename`` is a pattern with one ``*`` (replaced by ``name_function(i)``,
    default ``str(i)``), a directory, or a list of paths. ``codec``,
    ``sync_interval``, ``metadata`` and other keyword arguments go to
    ``fastavro.writer``. Returns the paths (with ``compute=False``, a Delayed of them).

    Examples
    --------
    >>> import os, tempfile, taskloom.bag as db
    >>> schema = {"type": "record", "name": "r", "fields": [{"name": "a", "type": "int"}]}
    >>> pattern = os.path.join(tempfile.mkdtemp(), "*.avro")
    >>> paths = db.from_sequence([{"a": 1}]).to_avro(pattern, schema)
    >>> os.path.basename(paths[0])
    '0.avro'
    """
    fastavro = _fastavro()
    if storage_options:
        raise ValueError(f"storage_options: only local files are written, got {storage_options!r}")
    if not isinstance(schema, dict):
        raise TypeError(f"schema must be an Avro schema dict, got {type(schema).__name__}")
    parsed = fastavro.parse_schema(schema)  # a bad schema fails now, not per partition
    paths = _output_paths(filename, b.npartitions, name_function, "avro")
    dsk = b.__dask_graph__()
    options = {"codec": codec, "sync_interval": sync_interval, "metadata": metadata, **kwargs}
    writes = [
        delayed(_write_avro, pure=True)(Delayed(k, dsk), p, parsed, options)
        for k, p in builtins.zip(b.__dask_keys__(), paths, strict=True)
    ]
    out = delayed(list)(writes)
    return out.compute() if compute else out


def _write_avro(part: list, path: str, schema: dict, options: dict) -> str:
    directory = os.path.dirname(path)
    if directory and _files.is_local(path):
        os.makedirs(directory, exist_ok=True)
    with _files.atomic_write(path) as temp, open(temp, "wb") as f:
        _fastavro().writer(f, schema, part, **options)
    return path
