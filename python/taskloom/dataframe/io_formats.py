"""JSON, ORC and HDF5 readers and writers of ``taskloom.dataframe``, as Dask's.

Policy: every reader is lazy, built on :func:`~taskloom.dataframe.io.from_map` with one
partition per file, per block of lines (line-delimited JSON with ``blocksize``), per
group of ORC stripes or per ``chunksize`` rows of an HDF5 table; pandas (or pyarrow)
does the parsing. Every partition is cast to the metadata's dtypes, so partitions agree
with each other and with ``df.dtypes``. ORC and HDF5 read only the columns asked for
(``columns=``, or later column selection). Writers write one file (or HDF5 key) per
partition through pandas; JSON and ORC files are written whole or not at all
(:mod:`taskloom._files`); HDF5 stores are written in place (they are appended to).
PyTables is the optional extra ``taskloom[hdf]``.
"""

from __future__ import annotations

import builtins
import fnmatch
import functools
import io
import itertools
import os
import threading
from collections.abc import Callable
from typing import Any

import pandas as pd

from taskloom import _files
from taskloom.dataframe._meta import meta_from_user
from taskloom.dataframe.core import DataFrame, _Frame
from taskloom.dataframe.io import (
    _COMPRESSED,
    _block_bytes,
    _file_mtime,
    _file_size,
    _fsspec_fs,
    _local_kwargs,
    _output_paths,
    _parse_size,
    _read_url,
    _source,
    expand_paths,
    from_map,
)
from taskloom.delayed import Delayed
from taskloom.tokenize import tokenize

__all__ = ["read_hdf", "read_json", "read_orc", "to_hdf", "to_json", "to_orc"]


def _cast(df: pd.DataFrame, meta: Any, where: str) -> pd.DataFrame:
    """``df`` with ``meta``'s dtypes (partitions of one collection must agree)."""
    if meta is None:
        return df
    wrong = {c: d for c, d in meta.dtypes.items() if c in df.columns and df[c].dtype != d}
    if not wrong:
        return df
    try:
        out = df.astype(wrong)
        # numpy truncates 1.5 to 1 silently: a lossy cast is an error, not data
        for c in wrong:
            if df[c].dtype.kind == "f" and out[c].dtype.kind in "iub":
                if not (out[c].astype("float64") == df[c]).all():
                    raise ValueError(f"column {c!r} holds values that are not {out[c].dtype}")
        return out
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"{where}: columns {sorted(map(str, wrong))} do not have the dtypes of the "
            f"metadata ({e}); pass meta= with dtypes that fit every partition"
        ) from e


def _compute_or_delayed(layer: dict, df: Any, compute: bool, compute_kwargs: Any) -> Any:
    from taskloom.base import compute as compute_all

    dsk = {**df.__dask_graph__(), **layer}
    values = [Delayed(k, dsk) for k in layer]
    if not compute:
        return values
    return list(compute_all(*values, **(compute_kwargs or {})))


# --- JSON -----------------------------------------------------------------------------


class _JSONPiece:
    """Reads one JSON file, or the lines starting in one byte range of one."""

    def __init__(
        self,
        engine: Callable,
        kwargs: dict,
        meta: Any,
        path_column: str | None,
        converter: Any,
        columns: list | None = None,
        storage_options: dict | None = None,
        versions: tuple = (),
    ) -> None:
        self.engine, self.kwargs, self.meta = engine, kwargs, meta
        self.path_column, self.converter = path_column, converter
        self.columns, self.storage_options = columns, storage_options
        # The files' modification times: a rewritten file gives other task names, so
        # a persisted read of the old contents is never taken for a new read.
        self.versions = versions

    def project_columns(self, columns: list) -> _JSONPiece:
        """The same reader keeping only ``columns`` (Dask's column-projection protocol)."""
        meta = None if self.meta is None else self.meta[list(columns)]
        return _JSONPiece(
            self.engine,
            self.kwargs,
            meta,
            self.path_column,
            self.converter,
            list(columns),
            self.storage_options,
            self.versions,
        )

    def __call__(self, path: str, start: int | None, end: int | None) -> pd.DataFrame:
        try:
            if start is None:
                with _source(path, self.storage_options, self.kwargs) as (src, kw):
                    df = self.engine(src, **kw)
            else:
                data = _block_bytes(path, start, end, b"", self.storage_options)
                kw = {k: v for k, v in self.kwargs.items() if k != "compression"}
                df = self.engine(io.BytesIO(data), **kw) if data.strip() else pd.DataFrame()
        except Exception as e:
            raise type(e)(f"error reading {path}: {e}") from e
        if self.columns is not None:
            # pandas' JSON parsers read every field; what was not asked for is dropped
            # here, before the cast. A field no record of this piece has is all null,
            # as it is in the rows of a piece that has it elsewhere.
            df = df.reindex(columns=[c for c in self.columns if c != self.path_column])
        if self.path_column and (self.columns is None or self.path_column in self.columns):
            df[self.path_column] = self.converter(path) if self.converter else path
            if self.meta is not None:
                df[self.path_column] = df[self.path_column].astype(
                    self.meta[self.path_column].dtype
                )
        if self.meta is not None and not len(df):
            return self.meta.copy()
        if self.columns is not None:
            df = df[self.columns]
        return _cast(df, self.meta, path)

    def __dask_tokenize__(self) -> Any:
        return (
            "json",
            tokenize(self.engine),
            sorted(self.kwargs.items(), key=str),
            None if self.meta is None else str(self.meta.dtypes),
            self.path_column,
            self.columns,
            sorted((self.storage_options or {}).items(), key=str),
            self.versions,
        )


def read_json(
    url_path: Any,
    orient: str = "records",
    lines: bool | None = None,
    storage_options: Any = None,
    blocksize: Any = None,
    sample: int = 2**20,
    encoding: str = "utf-8",
    errors: str = "strict",
    compression: Any = "infer",
    meta: Any = None,
    engine: Callable = pd.read_json,
    include_path_column: bool | str = False,
    path_converter: Callable | None = None,
    **kwargs: Any,
) -> DataFrame:
    """Read JSON files into one frame, as :func:`pandas.read_json`: one partition per
    file, or per ``blocksize`` bytes of line-delimited JSON (``orient="records"``,
    ``lines=True``; each block holds the lines that start in it).

    ``lines`` defaults to ``orient == "records"`` (Dask's rule). Without ``meta`` the
    first partition is read to learn the columns and dtypes; every partition is cast
    to them. ``include_path_column`` adds a categorical column of the file each row
    came from (``path_converter`` maps the path first). ``engine`` is a callable or the
    name of a :func:`pandas.read_json` engine (``"ujson"``, ``"pyarrow"``), as in Dask.

    ``columns=`` (a keyword taskloom takes out of ``kwargs``; Dask hands it to pandas,
    which refuses it) keeps only those columns, in that order; selecting columns of the
    result later does the same. The JSON text is parsed whole (a parser reads every
    field to find the next record), so this saves the memory and the casts of the other
    columns, not the parse.
    ``storage_options`` open ``scheme://`` paths through fsspec, as in Dask.

    Examples
    --------
    >>> import os, tempfile, taskloom.dataframe as dd
    >>> path = os.path.join(tempfile.mkdtemp(), "a.json")
    >>> _ = open(path, "w").write('{"x": 1}\\n{"x": 2}\\n{"x": 3}\\n')
    >>> df = dd.read_json(path, blocksize=10)
    >>> df.npartitions, df.x.sum().compute()
    (3, np.int64(6))
    """
    if lines is None:
        lines = orient == "records"
    if orient != "records" and lines:
        raise ValueError("read_json: lines=True needs orient='records' (line-delimited JSON)")
    if isinstance(engine, str):
        engine = functools.partial(pd.read_json, engine=engine)
    elif not callable(engine):
        raise TypeError(f"read_json: engine must be a callable or a string, not {engine!r}")
    columns = kwargs.pop("columns", None)
    if columns is not None:
        columns = [columns] if isinstance(columns, str) else list(columns)
        if len(set(columns)) != len(columns):
            raise ValueError(f"read_json: columns={columns!r} names a column twice")
    size = _parse_size(blocksize)
    if size is not None and (orient != "records" or not lines):
        raise ValueError(
            "read_json: blocksize= needs line-delimited JSON (orient='records', lines=True)"
        )
    paths = expand_paths(url_path, "JSON files", storage_options)
    if size is not None and (
        compression not in ("infer", None) or any(p.endswith(_COMPRESSED) for p in paths)
    ):
        raise ValueError("read_json: blocksize= cannot split compressed files; pass blocksize=None")
    kw = dict(
        orient=orient,
        lines=lines,
        encoding=encoding,
        encoding_errors=errors,
        compression=compression,
        **kwargs,
    )
    path_column = None
    if include_path_column:
        path_column = include_path_column if isinstance(include_path_column, str) else "path"
    pieces: list = []
    so = storage_options or None
    for p in paths:
        total = _file_size(p, so) if size is not None else 0
        if size is None or total <= size:
            pieces.append((p, None, None))
        else:
            for start in builtins.range(0, total, size):
                pieces.append((p, start, start + size if start + size < total else None))
    if meta is None:
        first = _JSONPiece(engine, kw, None, path_column, path_converter, None, so)(*pieces[0])
        meta = first.iloc[:0]
    else:
        meta = meta_from_user(meta)
    if path_column:
        names = [path_converter(p) if path_converter else p for p in paths]
        meta = meta.assign(**{path_column: pd.Categorical([], categories=sorted(set(names)))})
    if columns is not None:
        missing = [c for c in columns if c not in meta.columns]
        if missing:
            raise ValueError(
                f"read_json: columns {missing} are not in the data ({list(meta.columns)})"
            )
        meta = meta[columns]
    versions = tuple(_file_mtime(p, so) for p in paths)
    reader = _JSONPiece(engine, kw, meta, path_column, path_converter, columns, so, versions)
    return from_map(reader, *zip(*pieces, strict=True), meta=meta, label="read-json")


def _write_json(part: pd.DataFrame, path: str, kwargs: dict) -> str:
    kwargs = _local_kwargs(path, kwargs)
    with _files.atomic_write(path) as temp:
        part.to_json(temp, **kwargs)
    return path


def to_json(
    df: Any,
    url_path: Any,
    orient: str = "records",
    lines: bool | None = None,
    storage_options: Any = None,
    compute: bool = True,
    encoding: str = "utf-8",
    errors: str = "strict",
    compression: Any = None,
    compute_kwargs: dict | None = None,
    name_function: Callable[[int], str] | None = None,
    **kwargs: Any,
) -> Any:
    """Write one JSON file per partition (``'*'`` in ``url_path`` replaced by
    ``name_function(i)``; a directory gets ``0.part``, ``1.part``...), through
    :meth:`pandas.DataFrame.to_json`. ``lines`` defaults to ``orient == "records"``.
    Returns the paths written (``compute=False``: Delayed values writing them).
    ``scheme://`` paths are written through fsspec with ``storage_options``.

    Examples
    --------
    >>> import os, tempfile, pandas as pd, taskloom.dataframe as dd
    >>> d = tempfile.mkdtemp()
    >>> df = dd.from_pandas(pd.DataFrame({"x": range(4)}), npartitions=2)
    >>> paths = dd.to_json(df, os.path.join(d, "*.json"))
    >>> open(paths[1]).read()
    '{"x":2}\\n{"x":3}\\n'
    """
    if encoding.lower().replace("-", "") != "utf8" or errors != "strict":
        raise ValueError(
            "to_json writes UTF-8 (pandas' encoding); encoding/errors cannot change it"
        )
    if lines is None:
        lines = orient == "records"
    if isinstance(df, _Frame) and not isinstance(df, DataFrame) and df.ndim != 1:
        raise TypeError("to_json needs a taskloom DataFrame or Series")
    kw = dict(orient=orient, lines=lines, compression=compression, **kwargs)
    paths = _output_paths(url_path, df.npartitions, name_function, "part")
    remote = [p for p in paths if not _files.is_local(p)]
    for p in remote[:1]:
        _fsspec_fs(p, storage_options)  # fsspec is there, the URL valid
    if storage_options and remote:
        kw["storage_options"] = storage_options  # pandas writes URLs through fsspec
    name = f"to-json-{tokenize(df._name, paths, kw)}"
    layer = {(name, i): (_write_json, (df._name, i), p, kw) for i, p in enumerate(paths)}
    return _compute_or_delayed(layer, df, compute, compute_kwargs)


# --- ORC ------------------------------------------------------------------------------


class _ORCPiece:
    """Reads a run of stripes of one ORC file (only ``columns``), optionally indexed."""

    def __init__(
        self,
        columns: list | None,
        index: Any,
        meta: pd.DataFrame,
        storage_options: dict | None = None,
        versions: tuple = (),
    ) -> None:
        self.columns, self.index, self.meta = columns, index, meta
        self.storage_options = storage_options
        self.versions = versions  # as _JSONPiece's

    @property
    def read_columns(self) -> list | None:
        if self.columns is None or self.index is None or self.index in self.columns:
            return self.columns
        return [*self.columns, self.index]

    def project_columns(self, columns: list) -> _ORCPiece:
        return _ORCPiece(
            list(columns),
            self.index,
            self.meta[list(columns)],
            self.storage_options,
            self.versions,
        )

    def __call__(self, path: str, first: int, stop: int) -> pd.DataFrame:
        import pyarrow as pa

        f = _orc_file(path, self.storage_options)
        cols = self.read_columns
        batches = [f.read_stripe(i, columns=cols) for i in builtins.range(first, stop)]
        empty = f.schema.empty_table()
        table = pa.Table.from_batches(batches) if batches else empty
        if cols is not None:  # stripes come in the file's column order
            table = table.select(cols)
        df = table.to_pandas()
        if self.index is not None:
            df = df.set_index(self.index)
        if self.columns is not None:
            df = df[self.columns]
        return _cast(df, self.meta, path)

    def __dask_tokenize__(self) -> Any:
        return (
            "orc",
            self.columns,
            self.index,
            str(self.meta.dtypes),
            sorted((self.storage_options or {}).items(), key=str),
            self.versions,
        )


def _orc_file(path: str, storage_options: dict | None = None) -> Any:
    """``pyarrow.orc.ORCFile`` of a local path, or of a URL opened through fsspec."""
    import pyarrow.orc as orc

    if _files.is_local(path):
        return orc.ORCFile(path)
    return orc.ORCFile(_read_url(path, storage_options))


def read_orc(
    path: Any,
    engine: str = "pyarrow",
    columns: list | None = None,
    index: Any = None,
    split_stripes: int = 1,
    aggregate_files: Any = None,
    storage_options: Any = None,
) -> DataFrame:
    """Read ORC files (a path, glob, list or directory) through pyarrow: one partition
    per ``split_stripes`` stripes of each file, reading only ``columns``; ``index``
    names a column to use as the index (divisions unknown). ``scheme://`` paths are
    read through fsspec with ``storage_options``.

    Examples
    --------
    >>> import os, tempfile, pandas as pd, taskloom.dataframe as dd
    >>> d = tempfile.mkdtemp()
    >>> _ = dd.to_orc(dd.from_pandas(pd.DataFrame({"x": range(4)}), npartitions=2), d)
    >>> dd.read_orc(d).x.sum().compute()
    np.int64(6)
    """
    import pyarrow.orc  # noqa: F401  (fail now, not in a task)

    if engine != "pyarrow":
        raise ValueError(f"read_orc: engine must be 'pyarrow', got {engine!r}")
    if aggregate_files:
        raise NotImplementedError("read_orc: aggregate_files= is not supported")
    if isinstance(split_stripes, bool) or not isinstance(split_stripes, int) or split_stripes < 1:
        raise ValueError(f"split_stripes must be a positive integer, got {split_stripes!r}")
    so = storage_options or None
    files: list[str] = []
    for p in expand_paths(path, "ORC files", so):
        if not _files.is_local(p):
            fs = _fsspec_fs(p, so)
            if not fs.isdir(p):
                files.append(p)
                continue
            found = sorted(
                fs.unstrip_protocol(i["name"])
                for i in fs.ls(p, detail=True)
                if i["type"] == "file"
                and not i["name"].rstrip("/").split("/")[-1].startswith((".", "_"))
            )
            if not found:
                raise FileNotFoundError(f"no ORC files in the directory {p!r}")
            files.extend(found)
        elif os.path.isdir(p):
            found = sorted(
                os.path.join(p, f) for f in os.listdir(p) if not f.startswith((".", "_"))
            )
            if not found:
                raise FileNotFoundError(f"no ORC files in the directory {p!r}")
            files.extend(found)
        else:
            files.append(p)
    first = _orc_file(files[0], so)
    names = first.schema.names
    if columns is not None:
        columns = [columns] if isinstance(columns, str) else list(columns)
        missing = [c for c in columns if c not in names]
        if missing:
            raise ValueError(f"read_orc: columns {missing} are not in {files[0]} ({names})")
    if index is not None and index not in names:
        raise ValueError(f"read_orc: index={index!r} is not a column of {files[0]}")
    meta = first.schema.empty_table().to_pandas()
    if index is not None:
        meta = meta.set_index(index)
    if columns is not None:
        meta = meta[[c for c in columns if c != index]]
    pieces = []
    for f in files:
        n = _orc_file(f, so).nstripes
        for s in builtins.range(0, builtins.max(n, 1), split_stripes):
            pieces.append((f, s, builtins.min(s + split_stripes, n)))
    cols = None if columns is None else list(meta.columns)
    reader = _ORCPiece(cols, index, meta, so, tuple(_file_mtime(f, so) for f in files))
    return from_map(reader, *zip(*pieces, strict=True), meta=meta, label="read-orc")


def _write_orc(
    part: pd.DataFrame, path: str, write_index: bool, storage_options: dict | None = None
) -> str:
    import pyarrow as pa
    import pyarrow.orc as orc

    table = pa.Table.from_pandas(part.reset_index() if write_index else part, preserve_index=False)
    if not _files.is_local(path):  # a store writes an object whole
        with _fsspec_fs(path, storage_options).open(path, "wb") as f:
            orc.write_table(table, f)
        return path
    with _files.atomic_write(path) as temp:
        orc.write_table(table, temp)
    return path


def to_orc(
    df: Any,
    path: Any,
    engine: str = "pyarrow",
    write_index: bool = True,
    storage_options: Any = None,
    compute: bool = True,
    compute_kwargs: dict | None = None,
) -> Any:
    """Write one ORC file per partition, ``part.<i>.orc`` in the directory ``path``,
    through pyarrow (the index becomes a column unless ``write_index=False``). Returns
    the paths written (``compute=False``: Delayed values writing them). ``scheme://``
    paths are written through fsspec with ``storage_options``.

    Examples
    --------
    >>> import os, tempfile, pandas as pd, taskloom.dataframe as dd
    >>> d = tempfile.mkdtemp()
    >>> df = dd.from_pandas(pd.DataFrame({"x": range(4)}), npartitions=2)
    >>> [os.path.basename(p) for p in dd.to_orc(df, d)]
    ['part.0.orc', 'part.1.orc']
    """
    if engine != "pyarrow":
        raise ValueError(f"to_orc: engine must be 'pyarrow', got {engine!r}")
    import pyarrow.orc  # noqa: F401  (fail now, not in a task)

    path = os.fspath(path)
    so = storage_options or None
    if _files.is_local(path):
        os.makedirs(path, exist_ok=True)
        paths = [os.path.join(path, f"part.{i}.orc") for i in builtins.range(df.npartitions)]
    else:
        _fsspec_fs(path, so).makedirs(path, exist_ok=True)
        root = path.rstrip("/")
        paths = [f"{root}/part.{i}.orc" for i in builtins.range(df.npartitions)]
    name = f"to-orc-{tokenize(df._name, paths, write_index, so)}"
    layer = {
        (name, i): (_write_orc, (df._name, i), p, write_index, so) for i, p in enumerate(paths)
    }
    return _compute_or_delayed(layer, df, compute, compute_kwargs)


# --- HDF5 -----------------------------------------------------------------------------

# PyTables is not thread-safe: reads and writes of HDF5 files take this lock.
_HDF_LOCK = threading.RLock()


def _tables() -> Any:
    try:
        import tables
    except ImportError as e:
        raise ImportError(
            "read_hdf/to_hdf need PyTables: pip install 'taskloom[hdf]' (or tables)"
        ) from e
    return tables


class _HDFPiece:
    def __init__(
        self, columns: list | None, meta: Any, mode: str, lock: bool, versions: tuple = ()
    ) -> None:
        self.columns, self.meta, self.mode, self.lock = columns, meta, mode, lock
        self.versions = versions  # as _JSONPiece's

    def project_columns(self, columns: list) -> _HDFPiece:
        return _HDFPiece(
            list(columns), self.meta[list(columns)], self.mode, self.lock, self.versions
        )

    def __call__(self, path: str, key: str, start: int, stop: int) -> Any:
        if self.lock:
            with _HDF_LOCK:
                df = pd.read_hdf(
                    path, key, start=start, stop=stop, columns=self.columns, mode=self.mode
                )
        else:
            df = pd.read_hdf(
                path, key, start=start, stop=stop, columns=self.columns, mode=self.mode
            )
        if isinstance(df, pd.DataFrame):
            return _cast(df, self.meta, f"{path}:{key}")
        return df.astype(self.meta.dtype) if df.dtype != self.meta.dtype else df

    def __dask_tokenize__(self) -> Any:
        dtypes = self.meta.dtypes if isinstance(self.meta, pd.DataFrame) else self.meta.dtype
        return ("hdf", self.columns, str(dtypes), self.mode, self.versions)


def read_hdf(
    pattern: Any,
    key: str,
    start: int = 0,
    stop: int | None = None,
    columns: list | None = None,
    chunksize: int = 1_000_000,
    sorted_index: bool = False,
    lock: bool = True,
    mode: str = "r",
) -> Any:
    """Read tables of HDF5 files (a path, glob or list; ``key`` may hold ``*``
    wildcards) written by pandas with ``format="table"``: one partition per
    ``chunksize`` rows of rows ``start:stop`` of each table, reading only ``columns``.
    With ``sorted_index=True`` divisions come from the index values at the chunk
    boundaries (the index must be sorted across all tables).

    Needs PyTables (extra ``taskloom[hdf]``).

    Examples
    --------
    >>> import os, tempfile, pandas as pd, taskloom.dataframe as dd
    >>> path = os.path.join(tempfile.mkdtemp(), "a.h5")
    >>> pd.DataFrame({"x": range(5)}).to_hdf(path, key="t", format="table")
    >>> dd.read_hdf(path, "t", chunksize=2).npartitions
    3
    """
    _tables()
    if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
        raise ValueError(f"chunksize must be a positive integer, got {chunksize!r}")
    if start < 0 or (stop is not None and stop < start):
        raise ValueError(f"read_hdf: need 0 <= start <= stop, got start={start}, stop={stop}")
    if columns is not None and isinstance(columns, str):
        columns = [columns]
    pieces: list = []
    bounds: list = []
    meta: Any = None
    for path in expand_paths(pattern, "HDF5 files"):
        with _HDF_LOCK, pd.HDFStore(path, mode=mode) as store:
            keys = [k for k in store.keys() if fnmatch.fnmatch(k, "/" + key.lstrip("/"))]
            if not keys:
                raise KeyError(f"read_hdf: no key matching {key!r} in {path}")
            for k in keys:
                storer = store.get_storer(k)
                if not storer.is_table:
                    raise ValueError(
                        f"read_hdf: {path}:{k} is in 'fixed' format; partitions need "
                        "format='table' (write it with to_hdf(..., format='table'))"
                    )
                if meta is None:
                    # a row, not none: pandas infers str columns only from values
                    meta = store.select(k, start=0, stop=1, columns=columns).iloc[:0]
                n = storer.nrows
                end = n if stop is None else builtins.min(stop, n)
                for s in builtins.range(start, builtins.max(end, start + 1), chunksize):
                    e = builtins.min(s + chunksize, end)
                    pieces.append((path, k, s, e))
                    if sorted_index:
                        idx = store.select_column(k, "index", start=s, stop=e)
                        bounds.append((idx.iloc[0], idx.iloc[-1]) if len(idx) else None)
    divisions = None
    if sorted_index and bounds and all(b is not None for b in bounds):
        divisions = [b[0] for b in bounds] + [bounds[-1][1]]
        if any(a > b for a, b in itertools.pairwise(divisions)):
            raise ValueError("read_hdf(sorted_index=True): the index is not sorted across chunks")
    versions = tuple(_file_mtime(p) for p in dict.fromkeys(piece[0] for piece in pieces))
    reader = _HDFPiece(columns, meta, mode, lock, versions)
    return from_map(
        reader, *zip(*pieces, strict=True), meta=meta, divisions=divisions, label="read-hdf"
    )


def _write_hdf(part: Any, path: str, key: str, kwargs: dict, lock: bool, after: Any = None) -> str:
    if lock:
        with _HDF_LOCK:
            part.to_hdf(path, key=key, **kwargs)
    else:
        part.to_hdf(path, key=key, **kwargs)
    return path


def to_hdf(
    df: Any,
    path: Any,
    key: str,
    mode: str = "a",
    append: bool = False,
    scheduler: Any = None,
    name_function: Callable[[int], str] | None = None,
    compute: bool = True,
    lock: Any = None,
    dask_kwargs: dict | None = None,
    **kwargs: Any,
) -> Any:
    """Write to HDF5 through :meth:`pandas.DataFrame.to_hdf` in ``format="table"``, as
    Dask: ``'*'`` in ``path`` gives one file per partition, ``'*'`` in ``key`` one key
    per partition, else all partitions go to one table in order (later ones appended).
    ``'*'`` is replaced by ``name_function(i)`` (default ``str``). Keyword arguments go
    to pandas: string columns appended to one table take their width from the first
    partition, so pass ``min_itemsize={column: width}`` for longer ones later on (as in
    pandas and Dask). Returns the paths written (``compute=False``: Delayed values writing them).

    Needs PyTables (extra ``taskloom[hdf]``).

    Examples
    --------
    >>> import os, tempfile, pandas as pd, taskloom.dataframe as dd
    >>> path = os.path.join(tempfile.mkdtemp(), "a.h5")
    >>> df = dd.from_pandas(pd.DataFrame({"x": range(4)}), npartitions=2)
    >>> _ = dd.to_hdf(df, path, "/t")
    >>> pd.read_hdf(path, "/t").x.tolist()
    [0, 1, 2, 3]
    """
    _tables()
    if "*" in os.fspath(path) and "*" in key:
        raise ValueError("to_hdf: put '*' in path or in key, not in both")
    fmt = kwargs.pop("format", "table")
    if fmt not in ("table", "t"):
        raise ValueError("to_hdf writes format='table' (partitions are appended)")
    fn = name_function or str
    n = df.npartitions
    path = os.fspath(path)
    use_lock = lock is not False
    name = f"to-hdf-{tokenize(df._name, path, key, mode, append, kwargs)}"
    layer: dict = {}
    if "*" in path:
        for i in builtins.range(n):
            kw = dict(kwargs, mode=mode, append=append, format="table")
            layer[(name, i)] = (
                _write_hdf,
                (df._name, i),
                path.replace("*", fn(i)),
                key,
                kw,
                use_lock,
            )
    else:
        prev = None
        for i in builtins.range(n):
            k = key.replace("*", fn(i))
            first = i == 0
            kw = dict(
                kwargs,
                mode=mode if first else "a",
                format="table",
                append=append if first or "*" in key else True,
            )
            layer[(name, i)] = (_write_hdf, (df._name, i), path, k, kw, use_lock, prev)
            prev = (name, i)
    out = _compute_or_delayed(
        layer,
        df,
        compute,
        {"scheduler": scheduler, **(dask_kwargs or {})}
        if scheduler is not None or dask_kwargs
        else None,
    )
    return sorted(set(out), key=out.index) if compute else out
