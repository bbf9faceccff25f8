"""Getting data in and out: pandas and numpy objects, taskloom arrays, Delayed values,
``from_map``, CSV and other delimited or fixed-width text, Parquet (JSON, ORC and HDF5
are in :mod:`~taskloom.dataframe.io_formats`, SQL in :mod:`~taskloom.dataframe.io_sql`,
both built on ``from_map``).

- ``from_map`` makes one partition per element, calling the function when computed;
  a function following Dask's ``project_columns`` protocol reads only the columns
  later selected. ``from_array``/``from_dask_array`` keep an array's row blocks (blocks
  of unknown length number their rows from 0, divisions unknown).
- ``from_pandas`` splits a frame into partitions of about equal length, moving each
  boundary past repeated index values so that divisions stay exact.
- ``read_csv`` (and ``read_table``, ``read_fwf``, which share its reader) makes one
  partition per block of ``blocksize`` bytes of each file (compressed files: one per
  file); a block holds the lines that start inside it, and blocks after the first get the
  file's header line, so splitting needs no scan of the file (a quoted field holding a
  newline cannot be split this way; pass ``blocksize=None`` for such files). Column
  types come from a sample of the first file and every block is cast to them, so all
  partitions agree; a block that cannot be cast is an error naming the file.
- ``read_parquet`` goes through pyarrow: one partition per file (or per row group),
  only the requested columns and the ``filters`` are read (row groups and hive
  partition directories that cannot match are skipped), and the index is restored
  from the pandas metadata pyarrow writes, with divisions from the row-group statistics
  when they are sorted.
- Writers (``to_csv``, ``to_parquet``) run one task per partition (``single_file=True``
  chains them, each appending to the file) and return the paths written. No write
  destroys what was there when it fails: every file is written under a hidden staging
  name beside its target and moved into place only once complete
  (:mod:`taskloom._files`), so each target holds either its old bytes or the whole new
  content. A failed ``to_csv``/``to_parquet`` can still have replaced the files of the
  partitions that did succeed, as in Dask.
- Paths: local paths go through the os module and need nothing else. A ``scheme://``
  URL (``s3://``, ``gs://``, ``memory://``, ``file://``...) is listed, opened and
  written through fsspec with the reader's or writer's ``storage_options`` (Dask's
  library and argument), in every file reader and writer here and in ``io_formats``
  but HDF5 (PyTables opens local files only);
  without fsspec such a path is an ImportError naming the ``fsspec`` extra. URLs are
  written directly, not staged: object stores replace an object whole.
"""

from __future__ import annotations

import bisect
import builtins
import glob as globmod
import io
import itertools
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from taskloom import _files
from taskloom._errors import add_note
from taskloom.core import data_task
from taskloom.dataframe._meta import EnforceMeta, make_meta, meta_from_user
from taskloom.dataframe._primitives import funcname, map_partitions, new_collection, no_default
from taskloom.dataframe.core import DataFrame, _Frame, _select_columns
from taskloom.delayed import Delayed
from taskloom.tokenize import tokenize

__all__ = [
    "from_array",
    "from_dask_array",
    "from_delayed",
    "from_dict",
    "from_map",
    "from_pandas",
    "read_csv",
    "read_fwf",
    "read_parquet",
    "read_table",
    "to_csv",
    "to_parquet",
    "to_records",
]


# --- in-memory sources ----------------------------------------------------------------


def sorted_division_locations(
    index: Sequence, npartitions: int | None = None, chunksize: int | None = None
) -> tuple[list, list[int]]:
    """Divisions and the row positions where partitions start, for a sorted ``index``,
    by Dask's rule (``dask.dataframe.io.io.sorted_division_locations``), so that
    partition-dependent code sees the same partitions as in Dask.

    Steps of ``chunksize`` rows (or ``len // npartitions`` rows, the first
    ``len % npartitions`` one longer, correcting the drift left by earlier steps); a
    repeated index value is never split between two partitions, so there may be fewer
    partitions than asked for. The last division is the last index value.

    Parameters
    ----------
    index : sequence
        Sorted index values.
    npartitions, chunksize : int, optional
        Exactly one of them: partitions to aim for, or rows per partition.

    Returns
    -------
    divisions : list
        ``len(locations)`` index values: each partition's first, then the last value.
    locations : list of int
        Row positions where partitions start, then ``len(index)``.

    Examples
    --------
    >>> sorted_division_locations(list("ABCDEF"), chunksize=2)
    (['A', 'C', 'E', 'F'], [0, 2, 4, 6])
    >>> sorted_division_locations(list("AAAABBBC"), chunksize=3)
    (['A', 'B', 'C', 'C'], [0, 4, 7, 8])
    >>> sorted_division_locations(list(range(10)), npartitions=3)
    ([0, 4, 7, 9], [0, 4, 7, 10])
    """
    if (npartitions is None) == (chunksize is None):
        raise ValueError("exactly one of npartitions= or chunksize= must be given")
    seq = index.tolist() if hasattr(index, "tolist") else list(index)
    uniques = sorted(set(seq))
    duplicates = len(uniques) < len(seq)
    offsets = [bisect.bisect_left(seq, x) for x in uniques] if duplicates else []
    exact = bool(npartitions) and duplicates and len(offsets) >= npartitions
    residual = 0
    if npartitions:
        chunksize, residual = divmod(len(seq), npartitions)
    assert chunksize is not None

    def size(k: int) -> int:
        return chunksize + int(k < residual)

    divisions, locations = [seq[0]], [0]
    i, ind, drift = size(0), None, 0
    remain = (npartitions or 0) - 1
    while i < len(seq):
        div = seq[i]
        if duplicates:
            if ind is None:
                ind = bisect.bisect_left(uniques, div)
            if exact and remain > len(offsets) - ind:
                # Do not step over so many values that too few partitions are left.
                ind -= remain - (len(offsets) - ind)
                i = offsets[ind]
                div = seq[i]
            pos = offsets[ind]
        else:
            pos = i
        if div <= divisions[-1]:
            if duplicates:
                ind += 1
                i = offsets[ind] if ind < len(offsets) else len(seq)
            else:
                i += 1
            continue
        if npartitions:
            drift += (pos - locations[-1]) - size(len(divisions) - 1)
        if exact:
            remain -= 1
        i = pos + builtins.max(1, size(len(divisions)) - drift)
        divisions.append(div)
        locations.append(pos)
        ind = None
    divisions.append(seq[-1])
    locations.append(len(seq))
    return divisions, locations


def from_pandas(
    data: pd.DataFrame | pd.Series,
    npartitions: int | None = None,
    sort: bool = True,
    chunksize: int | None = None,
) -> Any:
    """A collection of ``data`` split into ``npartitions`` (or ``chunksize``-row) parts,
    by Dask's rules.

    With ``sort=True`` (the default) the rows are sorted by the index first and the
    divisions are known: partitions start where
    :func:`sorted_division_locations` says, never splitting a repeated index value
    (so there may be fewer partitions than asked for). With ``sort=False`` an index
    that is already increasing is split the same way; any other keeps its row order
    in ``ceil(len / npartitions)``-row partitions with unknown divisions. Without
    ``npartitions`` or ``chunksize`` there is one partition. An index holding missing
    values gives unknown divisions (Dask refuses non-numeric ones and gives NaN
    divisions for numeric ones).

    Parameters
    ----------
    data : pandas.DataFrame or pandas.Series
        The data to split.
    npartitions : int, optional
        How many partitions to aim for (fewer when repeated index values or a short
        frame do not allow that many).
    chunksize : int, optional
        Rows per partition instead of ``npartitions``.
    sort : bool
        Sort by the index first (divisions known).

    Raises
    ------
    TypeError
        ``data`` is not a pandas object, or ``npartitions``/``chunksize`` not an int.
    ValueError
        Both ``npartitions`` and ``chunksize`` given, or one of them below 1.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> df = dd.from_pandas(pd.DataFrame({"x": range(10)}), npartitions=3)
    >>> df.npartitions, df.divisions
    (3, (0, 4, 7, 9))
    >>> dd.from_pandas(pd.DataFrame({"x": range(100)}), chunksize=30).divisions
    (0, 30, 60, 90, 99)
    """
    if not isinstance(data, pd.DataFrame | pd.Series):
        raise TypeError(
            f"from_pandas needs a pandas DataFrame or Series, not {type(data).__name__}"
        )
    if npartitions is not None and chunksize is not None:
        raise ValueError("from_pandas takes only one of npartitions= or chunksize=")
    if npartitions is None and chunksize is None:
        npartitions = 1
    for arg, value in (("npartitions", npartitions), ("chunksize", chunksize)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{arg} must be an integer, got {value!r}")
        if value < 1:
            raise ValueError(f"{arg} must be a positive integer, got {value!r}")
    npartitions = None if npartitions is None else int(npartitions)
    chunksize = None if chunksize is None else int(chunksize)
    name = f"from-pandas-{tokenize(data, npartitions, chunksize, sort)}"
    if sort and not data.index.is_monotonic_increasing:
        data = data.sort_index()
    meta = make_meta(data)
    nrows = len(data)
    if nrows == 0:
        bounds = [0] * ((npartitions or 1) + 1)
        divisions: list = [None] * len(bounds)
    elif not data.index.hasnans and (sort or data.index.is_monotonic_increasing):
        divisions, bounds = sorted_division_locations(data.index, npartitions, chunksize)
    else:
        step = chunksize if npartitions is None else -(-nrows // npartitions)
        bounds = [*builtins.range(0, nrows, step), nrows]
        divisions = [None] * len(bounds)
    layer = {
        (name, i): data_task(data.iloc[a:b]) for i, (a, b) in enumerate(itertools.pairwise(bounds))
    }
    return new_collection({name: layer}, name, meta, divisions)


def from_dict(
    data: dict,
    npartitions: int,
    orient: str = "columns",
    dtype: Any = None,
    columns: Any = None,
    constructor: Callable = pd.DataFrame,
) -> DataFrame:
    """A collection from a dict, as ``constructor.from_dict`` (pandas'
    :meth:`~pandas.DataFrame.from_dict` by default), in ``npartitions`` partitions.

    Examples
    --------
    >>> import taskloom.dataframe as dd
    >>> dd.from_dict({"x": [1, 2, 3]}, npartitions=2).x.sum().compute()
    np.int64(6)
    """
    frame = constructor.from_dict(data, orient=orient, dtype=dtype, columns=columns)
    return from_pandas(frame, npartitions=npartitions)


def from_array(arr: Any, chunksize: int = 50_000, columns: Any = None, meta: Any = None) -> Any:
    """A collection from a 1-d or 2-d numpy or ``taskloom.array`` array (rows split
    into partitions; a taskloom array keeps its row blocks)."""
    from taskloom.array import Array

    if isinstance(arr, Array):
        return _from_taskloom_array(arr, columns)
    arr = np.asarray(arr)
    if arr.ndim == 1:
        data: Any = pd.Series(arr, name=columns)
    elif arr.ndim == 2:
        data = pd.DataFrame(arr, columns=columns)
    else:
        raise ValueError(f"from_array needs a 1-d or 2-d array, got {arr.ndim} dimensions")
    return from_pandas(data, chunksize=builtins.max(1, chunksize))


def _from_taskloom_array(x: Any, columns: Any) -> Any:
    if x.ndim not in (1, 2):
        raise ValueError(f"from_array needs a 1-d or 2-d array, got {x.ndim} dimensions")
    if x.ndim == 2 and len(x.chunks[1]) != 1:
        x = x.rechunk({1: x.shape[1]})
    unknown = any(np.isnan(c) for c in x.chunks[0])
    # Blocks of unknown length each number their rows from 0 (as Dask).
    starts = np.concatenate([[0], np.cumsum(x.chunks[0])]) if not unknown else None
    sample = np.empty((0, *x.shape[1:]), dtype=x.dtype)
    meta = pd.Series(sample, name=columns) if x.ndim == 1 else pd.DataFrame(sample, columns=columns)
    name = f"from-array-{tokenize(x.name, columns)}"
    keys = x.__dask_keys__()
    layer = {}
    for i in builtins.range(len(x.chunks[0])):
        key = keys[i] if x.ndim == 1 else keys[i][0]
        start = 0 if starts is None else int(starts[i])
        layer[(name, i)] = (_block_to_pandas, key, start, columns)
    if starts is None:
        divisions: list = [None] * (len(x.chunks[0]) + 1)
    else:
        divisions = [int(s) for s in starts[:-1]] + [int(starts[-1]) - 1]
    if len(divisions) > 1 and divisions[-1] is not None and divisions[-1] < divisions[-2]:
        divisions = [None] * len(divisions)
    graph = x.__dask_graph__()
    return new_collection({("array", x.name): dict(graph), name: layer}, name, meta, divisions)


def _block_to_pandas(block: np.ndarray, start: int, columns: Any) -> Any:
    index = pd.RangeIndex(start, start + len(block))
    if block.ndim == 1:
        return pd.Series(block, index=index, name=columns)
    return pd.DataFrame(block, index=index, columns=columns)


def from_delayed(
    dfs: Delayed | Sequence[Delayed],
    meta: Any = None,
    divisions: Sequence | None = None,
    prefix: str | None = None,
    verify_meta: bool = True,
) -> Any:
    """A collection with one partition per Delayed value (each computing a pandas
    object). Without ``meta`` the first value is computed to learn the columns;
    ``prefix`` starts the graph's key names (``"from-delayed"`` by default)."""
    if isinstance(dfs, Delayed):
        dfs = [dfs]
    dfs = list(dfs)
    if not dfs or not all(isinstance(d, Delayed) for d in dfs):
        raise TypeError("from_delayed needs a non-empty list of Delayed values")
    meta = make_meta(dfs[0].compute()) if meta is None else meta_from_user(meta)
    if divisions is None:
        divisions = [None] * (len(dfs) + 1)
    elif len(divisions) != len(dfs) + 1:
        raise ValueError(
            f"divisions must have {len(dfs) + 1} values for {len(dfs)} "
            f"partitions, got {len(divisions)}"
        )
    name = f"{prefix or 'from-delayed'}-{tokenize(*(d.key for d in dfs))}"
    layers: dict = {("delayed", d.key): d.__dask_graph__() for d in dfs}
    check = _CheckMeta(meta) if verify_meta else None
    layers[name] = {(name, i): (check, d.key) if check else d.key for i, d in enumerate(dfs)}
    return new_collection(layers, name, meta, divisions)


class _CheckMeta:
    __slots__ = ("meta",)

    def __init__(self, meta: Any) -> None:
        self.meta = meta

    def __call__(self, part: Any) -> Any:
        if type(part) is not type(self.meta):
            raise TypeError(
                f"from_delayed: a partition is a {type(part).__name__}, "
                f"expected {type(self.meta).__name__}"
            )
        if isinstance(part, pd.DataFrame) and list(part.columns) != list(self.meta.columns):
            raise ValueError(
                f"from_delayed: a partition has columns {list(part.columns)}, "
                f"expected {list(self.meta.columns)}"
            )
        return part

    def __dask_tokenize__(self) -> Any:
        return ("check-meta", str(getattr(self.meta, "dtypes", type(self.meta))))


def from_map(
    func: Callable,
    *iterables: Any,
    args: Sequence | None = None,
    meta: Any = no_default,
    divisions: Sequence | None = None,
    label: str | None = None,
    enforce_metadata: bool = False,
    **kwargs: Any,
) -> Any:
    """A collection with one partition per element: ``func(*elements, *args, **kwargs)``
    for the elements of ``iterables`` taken in step, as Dask's ``from_map``.

    Without ``meta`` the first partition is computed to learn the columns (as Dask). A
    ``func`` with a ``columns`` attribute and a ``project_columns(columns)`` method
    (Dask's ``DataFrameIOFunction`` protocol) is asked for only the selected columns
    when the result is indexed by column.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> df = dd.from_map(lambda i: pd.DataFrame({"x": [i, i]}), range(3))
    >>> df.npartitions, df.x.sum().compute()
    (3, np.int64(6))
    """
    if not callable(func):
        raise TypeError(f"from_map needs a callable func, not {type(func).__name__}")
    if not iterables:
        raise ValueError("from_map needs at least one iterable")
    columns_of: list = []
    for it in iterables:
        if isinstance(it, str | bytes) or not hasattr(it, "__iter__"):
            raise TypeError(f"from_map: iterables must be iterable, not {type(it).__name__}")
        columns_of.append(list(it))
    n = len(columns_of[0])
    if n == 0 or any(len(c) != n for c in columns_of):
        raise ValueError("from_map: the iterables must be non-empty and of one length")
    extra = tuple(args or ())
    call = partial(func, **kwargs) if kwargs else func
    elements = list(zip(*columns_of, strict=True))
    if meta is no_default:
        meta = make_meta(call(*elements[0], *extra))
    else:
        meta = meta_from_user(meta)
    if divisions is None:
        divisions = [None] * (n + 1)
    elif len(divisions) != n + 1:
        raise ValueError(f"divisions must have {n + 1} values for {n} partitions")
    task_func: Any = EnforceMeta(call, meta) if enforce_metadata else call
    name = f"{label or funcname(func)}-{tokenize(func, elements, extra, kwargs, meta)}"
    layer = {(name, i): (task_func, *e, *extra) for i, e in enumerate(elements)}
    df = new_collection({name: layer}, name, meta, divisions)
    if isinstance(df, DataFrame) and hasattr(func, "project_columns"):

        def project(columns: list) -> Any:
            return from_map(
                func.project_columns(columns),
                *columns_of,
                args=args,
                meta=meta[columns],
                divisions=divisions,
                label=label,
                enforce_metadata=enforce_metadata,
                **kwargs,
            )

        df._source = project
    return df


def from_dask_array(x: Any, columns: Any = None, index: Any = None, meta: Any = None) -> Any:
    """A collection from a ``taskloom.array`` (or Dask) array, one partition per block
    of rows, as Dask's ``from_dask_array``; ``index`` (a taskloom Index with the same
    partitioning) replaces the default positional index.

    Examples
    --------
    >>> import taskloom.array as da, taskloom.dataframe as dd
    >>> df = dd.from_dask_array(da.ones((4, 2), chunks=2), columns=["a", "b"])
    >>> df.npartitions, df.divisions
    (2, (0, 2, 3))
    """
    from taskloom.array import Array

    if not isinstance(x, Array):
        raise TypeError(f"from_dask_array needs a taskloom array, not {type(x).__name__}")
    df = from_array(x, columns=columns, meta=meta)
    if index is None:
        return df
    if not isinstance(index, _Frame) or index.npartitions != df.npartitions:
        raise ValueError("index must be a taskloom Index with as many partitions as x")
    meta = df._meta.set_axis(index._meta[:0])
    out = map_partitions(
        _with_index, df, index, meta=meta, align_dataframes=False, token="set-index"
    )
    return new_collection(out._layers, out._name, out._meta, index.divisions)


def _with_index(part: Any, index: Any) -> Any:
    if len(part) != len(index):
        raise ValueError(f"a block has {len(part)} rows but its index has {len(index)}")
    part = part.copy()
    part.index = pd.Index(index)
    return part


def to_records(df: Any) -> Any:
    """The rows of ``df`` as a ``taskloom.array`` of numpy records (one block per
    partition, of unknown length), as Dask's ``to_records``.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> df = dd.from_pandas(pd.DataFrame({"x": [1, 2]}), npartitions=2)
    >>> dd.to_records(df).compute().tolist()
    [(0, 1), (1, 2)]
    """
    if not isinstance(df, DataFrame):
        raise TypeError(f"to_records needs a taskloom DataFrame, not {type(df).__name__}")
    # Dask's module function is pandas' to_records per partition: the index included
    return df.to_records(index=True)


# --- CSV ------------------------------------------------------------------------------

_DEFAULT_BLOCKSIZE = 64 * 2**20
_COMPRESSED = (".gz", ".bz2", ".xz", ".zip", ".zst", ".tar")
_SAMPLE_ROWS = 1000


def _fsspec_fs(path: str, storage_options: dict | None) -> Any:
    """The fsspec filesystem of the URL ``path`` (its protocol's), with
    ``storage_options``; a clear ImportError when fsspec is not installed."""
    try:
        import fsspec
    except ImportError as e:
        raise ImportError(
            f"{path!r} is not a local path: reading and writing URLs needs fsspec "
            "(pip install 'taskloom[fsspec]', or fsspec) and the package of its protocol "
            "(s3fs, gcsfs, ...)"
        ) from e
    fs, _ = fsspec.core.url_to_fs(path, **(storage_options or {}))
    return fs


def _read_url(path: str, storage_options: dict | None) -> Any:
    """The URL ``path`` opened for reading through fsspec, as a file object of this
    call's own. fsspec's memory filesystem hands every reader of a file the same object,
    whose one position tasks reading blocks of the file on several threads at once moved
    under each other: wrong bytes, read as wrong values. Such a file is copied."""
    from fsspec.implementations.memory import MemoryFileSystem

    fs = _fsspec_fs(path, storage_options)
    if isinstance(fs, MemoryFileSystem):
        return io.BytesIO(fs.cat_file(path))
    return fs.open(path, "rb")


@contextmanager
def _source(path: str, storage_options: dict | None, kwargs: dict) -> Iterator[tuple]:
    """What a pandas reader reads for ``path``, and its keyword arguments: the path
    and ``kwargs`` for a local file; for a URL a binary file opened through fsspec,
    decompressed as ``kwargs["compression"]`` (or the name) says, and ``kwargs`` with
    ``compression=None`` (pandas would open ``file://`` with urllib, not fsspec)."""
    if _files.is_local(path):
        yield path, kwargs
        return
    from fsspec.compression import compr
    from fsspec.core import get_compression

    compression = kwargs.get("compression", "infer")
    if isinstance(compression, dict):
        compression = compression.get("method", "infer")
    compression = get_compression(path, compression)
    with _read_url(path, storage_options) as raw:
        f = compr[compression](raw, mode="rb") if compression else raw
        with f:
            yield f, {**kwargs, "compression": None}


def _open_file(path: str, mode: str = "rb", storage_options: dict | None = None) -> Any:
    """``open(path, mode)``, through fsspec for a URL."""
    if _files.is_local(path):
        return open(path, mode)
    if mode == "rb":
        return _read_url(path, storage_options)
    return _fsspec_fs(path, storage_options).open(path, mode)


def _file_size(path: str, storage_options: dict | None = None) -> int:
    if _files.is_local(path):
        return os.path.getsize(path)
    return int(_fsspec_fs(path, storage_options).size(path))


def _file_mtime(path: str, storage_options: dict | None = None) -> Any:
    """What identifies this version of the file in a task name: its modification
    time, or for a URL whatever its store reports (falling back to the size)."""
    if _files.is_local(path):
        return os.path.getmtime(path)
    info = _fsspec_fs(path, storage_options).info(path)
    for key in ("mtime", "LastModified", "last_modified", "updated", "created", "ETag"):
        if info.get(key) is not None:
            return str(info[key])
    return info.get("size")


def expand_paths(
    urlpath: Any, what: str = "files", storage_options: dict | None = None
) -> list[str]:
    """Paths from a path, a glob pattern or a list of them; a pattern that matches
    nothing is a FileNotFoundError naming it. ``scheme://`` URLs are listed through
    fsspec with ``storage_options`` (and come back as URLs)."""
    patterns = [urlpath] if isinstance(urlpath, str | os.PathLike) else list(urlpath)
    paths: list[str] = []
    for p in patterns:
        p = os.fspath(p)
        if not _files.is_local(p):
            fs = _fsspec_fs(p, storage_options)
            if globmod.has_magic(p):
                matched = sorted(
                    (fs.unstrip_protocol(m) for m in fs.glob(p) if fs.isfile(m)),
                    key=_natural_key,
                )
                if not matched:
                    raise FileNotFoundError(f"no {what} match the pattern {p!r}")
                paths.extend(matched)
            elif not fs.exists(p):
                raise FileNotFoundError(f"no such file: {p!r}")
            else:
                paths.append(p)
            continue
        if globmod.has_magic(p):
            matched = sorted(globmod.glob(p), key=_natural_key)
            if not matched:
                raise FileNotFoundError(f"no {what} match the pattern {p!r}")
            paths.extend(matched)
        elif not os.path.exists(p):
            raise FileNotFoundError(f"no such file: {p!r}")
        else:
            paths.append(p)
    if not paths:
        raise FileNotFoundError(f"no {what} given")
    return paths


def _natural_key(path: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path)]


def _parse_size(size: Any) -> int | None:
    if size is None:
        return None
    if isinstance(size, int | float):
        return int(size)
    m = re.fullmatch(r"\s*([\d.]+)\s*([kKmMgGtT]i?)?[bB]?\s*", str(size))
    if not m:
        raise ValueError(f"blocksize must be a number of bytes or like '64MB', got {size!r}")
    scale = {
        "k": 10**3,
        "m": 10**6,
        "g": 10**9,
        "t": 10**12,
        "ki": 2**10,
        "mi": 2**20,
        "gi": 2**30,
        "ti": 2**40,
    }.get((m.group(2) or "").lower(), 1)
    return int(float(m.group(1)) * scale)


def _block_bytes(
    path: str, start: int, end: int | None, header: bytes, storage_options: dict | None = None
) -> bytes:
    """The lines starting in ``[start, end)``, after the ``header`` line."""
    with _open_file(path, "rb", storage_options) as f:
        if start > 0:
            f.seek(start - 1)
            if f.read(1) != b"\n":
                f.readline()  # the rest of a line that started in the block before
        begin = f.tell()
        if end is None:
            data = f.read()
        else:
            data = f.read(builtins.max(0, end - begin))
            if data and not data.endswith(b"\n"):
                data += f.readline()
    return header + data


class _CSVBlock:
    """Reads one block of a CSV file into pandas and casts it to the sampled dtypes."""

    __slots__ = ("dtypes", "kwargs", "path_column", "read", "storage_options")

    def __init__(
        self,
        kwargs: dict,
        dtypes: dict,
        path_column: str | None,
        read: Callable = pd.read_csv,
        storage_options: dict | None = None,
    ) -> None:
        self.kwargs, self.dtypes, self.path_column = kwargs, dtypes, path_column
        self.read, self.storage_options = read, storage_options

    def __call__(self, path: str, start: int, end: int | None, header: bytes) -> pd.DataFrame:
        import io

        so = self.storage_options
        try:
            if start == 0 and end is None and not header:
                with _source(path, so, self.kwargs) as (src, kw):
                    df = self.read(src, **kw)
            else:
                data = _block_bytes(path, start, end, header, so)
                df = self.read(io.BytesIO(data), **self.kwargs)
        except Exception as e:
            where = f"{path}" if end is None and start == 0 else f"{path} (bytes {start}-{end})"
            try:
                err = type(e)(f"error reading {where}: {e}")
            except Exception:
                add_note(e, f"taskloom: while reading {where}")
                raise
            raise err from e
        if self.path_column:
            df[self.path_column] = path
        wrong = {c: d for c, d in self.dtypes.items() if c in df.columns and df[c].dtype != d}
        if wrong:
            try:
                df = df.astype(wrong)
            except (ValueError, TypeError) as e:
                raise ValueError(
                    f"{path}: columns {sorted(map(str, wrong))} do not have the dtypes "
                    f"sampled from the start of the data ({e}); pass dtype= for them to "
                    f"{self.read.__name__}"
                ) from e
        return df

    def __dask_tokenize__(self) -> Any:
        return (
            "csv-block",
            self.read.__name__,
            sorted(self.kwargs.items(), key=str),
            sorted(self.dtypes.items(), key=str),
            self.path_column,
            sorted((self.storage_options or {}).items(), key=str),
        )


def read_csv(
    urlpath: Any,
    blocksize: Any = "default",
    lineterminator: str | None = None,
    compression: Any = "infer",
    sample: int = 256_000,
    sample_rows: int = 10,
    enforce: bool = False,
    assume_missing: bool = False,
    storage_options: Any = None,
    include_path_column: bool | str = False,
    **kwargs: Any,
) -> DataFrame:
    """Read CSV files (a path, glob pattern or list) into one frame, as pandas' ``read_csv``.

    Each file is split into blocks of ``blocksize`` bytes (64 MiB by default; ``None``
    for one partition per file; compressed files are read whole); keyword arguments
    go to :func:`pandas.read_csv`. ``assume_missing=True`` reads integer columns as
    float64 (Dask's); ``sample_rows`` and ``enforce`` are accepted for Dask's
    signature (every block is cast to the sampled dtypes anyway). ``scheme://`` paths
    and patterns (``s3://``, ``memory://``, ``file://``...) are read through fsspec
    with ``storage_options``, as in Dask; local paths need no fsspec.

    Examples
    --------
    >>> import os, tempfile, taskloom.dataframe as dd
    >>> d = tempfile.mkdtemp()
    >>> for i in range(2):
    ...     with open(os.path.join(d, f"{i}.csv"), "w") as f:
    ...         _ = f.write("a,b\\n1,2\\n3,4\\n")
    >>> df = dd.read_csv(os.path.join(d, "*.csv"))
    >>> df.npartitions, int(df.a.sum().compute())
    (2, 8)
    """
    kw = _text_kwargs("read_csv", lineterminator, compression, storage_options, kwargs)
    df = _read_text(pd.read_csv, urlpath, blocksize, sample, include_path_column, kw)
    return _assume_missing(df, assume_missing)


_STORAGE = "__taskloom_storage_options__"


def _text_kwargs(
    what: str,
    lineterminator: str | None,
    compression: Any,
    storage_options: Any,
    kwargs: dict,
) -> dict:
    if storage_options is not None and not isinstance(storage_options, dict):
        raise TypeError(f"{what}: storage_options must be a dict, not {storage_options!r}")
    kwargs = dict(kwargs)
    if storage_options:
        kwargs[_STORAGE] = storage_options  # taken out again by _read_text
    if lineterminator is not None:
        kwargs["lineterminator"] = lineterminator
    if compression != "infer":
        kwargs["compression"] = compression
    return kwargs


def _assume_missing(df: DataFrame, assume_missing: bool) -> DataFrame:
    # Dask's assume_missing: integer columns may hold missing values further on
    ints = [c for c, d in df.dtypes.items() if d.kind in "iu"] if assume_missing else []
    return df.astype({c: "float64" for c in ints}) if ints else df


def read_table(
    urlpath: Any,
    blocksize: Any = "default",
    lineterminator: str | None = None,
    compression: Any = "infer",
    sample: int = 256_000,
    sample_rows: int = 10,
    enforce: bool = False,
    assume_missing: bool = False,
    storage_options: Any = None,
    include_path_column: bool | str = False,
    **kwargs: Any,
) -> DataFrame:
    """Read delimited text files (tab-separated by default), as :func:`pandas.read_table`,
    split into blocks of lines as :func:`read_csv`. Compressed files are read whole, one
    partition each. ``sample_rows`` and ``enforce`` are accepted for Dask's signature
    (every block is cast to the sampled dtypes anyway).

    Examples
    --------
    >>> import os, tempfile, taskloom.dataframe as dd
    >>> path = os.path.join(tempfile.mkdtemp(), "t.tsv")
    >>> _ = open(path, "w").write("a\\tb\\n1\\t2\\n3\\t4\\n")
    >>> dd.read_table(path).b.sum().compute()
    np.int64(6)
    """
    kw = _text_kwargs("read_table", lineterminator, compression, storage_options, kwargs)
    df = _read_text(pd.read_table, urlpath, blocksize, sample, include_path_column, kw)
    return _assume_missing(df, assume_missing)


def read_fwf(
    urlpath: Any,
    blocksize: Any = "default",
    lineterminator: str | None = None,
    compression: Any = "infer",
    sample: int = 256_000,
    sample_rows: int = 10,
    enforce: bool = False,
    assume_missing: bool = False,
    storage_options: Any = None,
    include_path_column: bool | str = False,
    **kwargs: Any,
) -> DataFrame:
    """Read fixed-width text files, as :func:`pandas.read_fwf`, split into blocks of
    lines as :func:`read_csv`. Column boundaries that pandas would infer
    (``colspecs="infer"``) are inferred once, from the sample, so that every block is
    cut at the same places.

    Examples
    --------
    >>> import os, tempfile, taskloom.dataframe as dd
    >>> path = os.path.join(tempfile.mkdtemp(), "t.txt")
    >>> _ = open(path, "w").write("a   bb\\n1   22\\n3   44\\n")
    >>> dd.read_fwf(path).bb.sum().compute()
    np.int64(66)
    """
    kw = _text_kwargs("read_fwf", lineterminator, compression, storage_options, kwargs)
    if kw.get("colspecs", "infer") == "infer" and kw.get("widths") is None:
        kw["colspecs"] = _infer_colspecs(urlpath, sample, kw)
    df = _read_text(pd.read_fwf, urlpath, blocksize, sample, include_path_column, kw)
    return _assume_missing(df, assume_missing)


def _infer_colspecs(urlpath: Any, sample: int, kwargs: dict) -> list:
    import io

    from pandas.io.parsers.python_parser import FixedWidthReader

    so = kwargs.get(_STORAGE)
    path = expand_paths(urlpath, "files", so)[0]
    compression = kwargs.get("compression", "infer")
    if compression not in (None, "infer") or path.endswith(_COMPRESSED):
        return "infer"  # read whole by pandas, which infers on its own
    with _open_file(path, "rb", so) as f:
        head = f.read(sample).decode(kwargs.get("encoding") or "utf-8", errors="replace")
    reader = FixedWidthReader(
        io.StringIO(head),
        "infer",
        kwargs.get("delimiter"),
        kwargs.get("comment"),
        None,
        kwargs.get("infer_nrows", 100),
    )
    return [(int(a), int(b)) for a, b in reader.colspecs]


def _read_text(
    read: Callable,
    urlpath: Any,
    blocksize: Any,
    sample: int,
    include_path_column: bool | str,
    kwargs: dict,
) -> DataFrame:
    """``read_csv``, ``read_table`` and ``read_fwf``: blocks of lines read by ``read``."""
    what = read.__name__
    kwargs = dict(kwargs)
    so = kwargs.pop(_STORAGE, None)
    for bad in ("chunksize", "iterator", "nrows", "index_col"):
        if kwargs.get(bad) is not None and kwargs[bad] is not False:
            raise ValueError(
                f"{what} does not support {bad}= (each block is read on its own); "
                + ("use set_index afterwards" if bad == "index_col" else "read then slice")
            )
    paths = expand_paths(urlpath, "files", so)
    size = _DEFAULT_BLOCKSIZE if blocksize == "default" else _parse_size(blocksize)
    compression = kwargs.get("compression", "infer")
    compressed = compression not in (None, "infer") or (
        compression == "infer" and paths[0].endswith(_COMPRESSED)
    )
    if compressed:  # a compressed stream cannot be cut at byte offsets: whole files
        size = None
    import io

    try:
        if compressed:
            with _source(paths[0], so, kwargs) as (src, kw):
                meta = read(src, nrows=_SAMPLE_ROWS, **kw).iloc[:0]
        else:
            with _open_file(paths[0], "rb", so) as f:
                head = f.read(sample)
            if len(head) == sample:
                head = head[: head.rfind(b"\n") + 1] or head
            meta = read(io.BytesIO(head), **kwargs).iloc[:0]
    except Exception as e:
        add_note(e, f"taskloom: while reading a sample of {paths[0]}")
        raise
    path_column = None
    if include_path_column:
        path_column = include_path_column if isinstance(include_path_column, str) else "path"
        meta[path_column] = pd.Series([], dtype="str")
    header_arg = kwargs.get("header", "infer")
    has_header = header_arg == 0 or (header_arg == "infer" and "names" not in kwargs)
    reader = _CSVBlock(kwargs, dict(meta.dtypes), path_column, read, so)
    mtimes = [_file_mtime(p, so) for p in paths]
    name = f"{what.replace('_', '-')}-{tokenize(paths, mtimes, size, kwargs, so)}"
    layer: dict = {}
    i = 0
    for path in paths:
        total = _file_size(path, so) if size is not None else 0
        if size is None or total <= size:
            layer[(name, i)] = (reader, path, 0, None, b"")
            i += 1
            continue
        header = b""
        if has_header:
            with _open_file(path, "rb", so) as f:
                header = f.readline()
        for start in builtins.range(0, total, size):
            end = start + size if start + size < total else None
            layer[(name, i)] = (reader, path, start, end, b"" if start == 0 else header)
            i += 1
    df = new_collection({name: layer}, name, meta, [None] * (i + 1))
    if "usecols" not in kwargs:

        def project(columns: list) -> DataFrame:
            file_columns = [c for c in columns if c != path_column]
            if not file_columns:  # pandas reads no rows without a column
                return map_partitions(_select_columns, df, columns, token="getitem")
            narrow = _read_text(
                read,
                urlpath,
                blocksize,
                sample,
                include_path_column,
                {**kwargs, "usecols": file_columns, **({_STORAGE: so} if so else {})},
            )
            return map_partitions(_select_columns, narrow, columns, token="getitem")

        df._source = project
    return df


def _output_paths(
    path: Any, n: int, name_function: Callable[[int], str] | None, ext: str
) -> list[str]:
    if not isinstance(path, str | os.PathLike):
        paths = [os.fspath(p) for p in path]
        if len(paths) != n:
            raise ValueError(f"{len(paths)} paths given for {n} partitions")
        return paths
    path = os.fspath(path)
    fn = name_function or str
    local = _files.is_local(path)  # a URL's "directories" are the store's business
    if "*" not in path:
        if local:
            os.makedirs(path, exist_ok=True)
        path = os.path.join(path, f"*.{ext}")
    elif local:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return [path.replace("*", fn(i)) for i in builtins.range(n)]


def _write_csv(part: pd.DataFrame, path: str, kwargs: dict) -> str:
    """Write one partition to its own file, whole or not at all (``mode="a"`` appends
    to a copy of the existing file, which then replaces it)."""
    mode = kwargs.get("mode", "w")
    kwargs = _local_kwargs(path, kwargs)
    with _files.atomic_write(path, mode) as temp:
        part.to_csv(temp, **{**kwargs, "mode": _files.writing_mode(mode)})
    return path


def _local_kwargs(path: str, kwargs: dict) -> dict:
    """A writer's keyword arguments for ``path``: a local file takes no
    ``storage_options`` (pandas refuses them there)."""
    if "storage_options" in kwargs and _files.is_local(path):
        return {k: v for k, v in kwargs.items() if k != "storage_options"}
    return kwargs


def _write_csv_piece(
    part: pd.DataFrame,
    path: str,
    stage_dir: str | None,
    kwargs: dict,
    first: bool,
    last: bool,
    after: Any = None,
) -> str:
    """One link of a ``single_file`` write: partitions append in order to one staged
    file, which the last link moves into place. A link that fails removes the staged
    file, so the target keeps its old content (``after`` only orders the links)."""
    mode = kwargs.get("mode", "w")
    kwargs = _local_kwargs(path, kwargs)
    if stage_dir is None:  # a URL: written directly
        part.to_csv(path, **{**kwargs, "mode": mode if first else "a"})
        return path
    try:
        if first:
            temp = _files.stage(path, stage_dir, mode)
            part.to_csv(temp, **{**kwargs, "mode": _files.writing_mode(mode)})
        else:
            temp = _files.staged_path(path, stage_dir)
            part.to_csv(temp, **{**kwargs, "mode": "a"})
        if last:
            _files.commit(temp, path, mode)
    except BaseException:
        _files.discard(stage_dir)
        raise
    if last:
        _files.discard(stage_dir)
    return path


def to_csv(
    df: Any,
    filename: Any,
    single_file: bool = False,
    encoding: str = "utf-8",
    mode: str = "wt",
    name_function: Callable[[int], str] | None = None,
    compression: Any = None,
    compute: bool = True,
    scheduler: Any = None,
    storage_options: Any = None,
    header_first_partition_only: bool | None = None,
    compute_kwargs: dict | None = None,
    **kwargs: Any,
) -> Any:
    """Write one CSV file per partition (``'*'`` in ``filename`` replaced by
    ``name_function(i)``), or all partitions to one file (``single_file=True``).

    Keyword arguments go to :meth:`pandas.DataFrame.to_csv` (compression follows the
    file name's extension, as there, unless ``compression=`` says). Each file is
    written whole or not at all: a
    failure leaves an existing file at that path byte for byte as it was, and removes
    what it staged. ``mode="a"`` appends to a copy of the existing file that replaces
    it once the write succeeds; ``single_file=True`` replaces the file only after the
    last partition is written. With ``compute=False`` a partition that fails before
    its write starts can leave a hidden ``.<name>.<random>.tmp`` staging directory
    beside a single file (the target itself is intact). A ``scheme://`` path is
    written directly through fsspec with ``storage_options`` (a store replaces an
    object whole; there is no staging there).

    Returns the paths written (``compute=False``: a list of Delayed writing them).

    Examples
    --------
    >>> import os, tempfile, pandas as pd, taskloom.dataframe as dd
    >>> d = tempfile.mkdtemp()
    >>> df = dd.from_pandas(pd.DataFrame({"x": range(4)}), npartitions=2)
    >>> [os.path.basename(p) for p in df.to_csv(os.path.join(d, "part-*.csv"))]
    ['part-0.csv', 'part-1.csv']
    >>> path = df.to_csv(os.path.join(d, "all.csv"), single_file=True, index=False)[0]
    >>> open(path).read()
    'x\\n0\\n1\\n2\\n3\\n'
    """
    from taskloom.base import compute as compute_all

    targets = [filename] if isinstance(filename, str | os.PathLike) else list(filename)
    for target in targets:
        if not _files.is_local(os.fspath(target)):
            _fsspec_fs(os.fspath(target), storage_options)  # fsspec is there, the URL valid
    kwargs = {**kwargs, "encoding": encoding, "mode": mode.replace("t", "")}
    if storage_options and not all(_files.is_local(os.fspath(t)) for t in targets):
        kwargs["storage_options"] = storage_options  # pandas writes URLs through fsspec
    if compression is not None:
        kwargs["compression"] = compression
    if header_first_partition_only is None:
        header_first_partition_only = single_file
    if isinstance(df, _Frame) and not isinstance(df, DataFrame):
        df = df.to_frame()
    n = df.npartitions
    token = tokenize(df._name, filename, single_file, kwargs, header_first_partition_only)
    name = f"to-csv-{token}"
    stage_dir = None
    if single_file:
        path = os.fspath(filename)
        if _files.is_local(path):
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            stage_dir = _files.staging_dir(path)
        layer = {}
        prev = None
        for i in builtins.range(n):
            kw = dict(kwargs) if i == 0 else {**kwargs, "header": False}
            layer[(name, i)] = (
                _write_csv_piece,
                (df._name, i),
                path,
                stage_dir,
                kw,
                i == 0,
                i == n - 1,
                prev,
            )
            prev = (name, i)
        keys = [(name, n - 1)]
    else:
        paths = _output_paths(filename, n, name_function, "part")
        later = {**kwargs, "header": False} if header_first_partition_only else kwargs
        layer = {
            (name, i): (_write_csv, (df._name, i), paths[i], kwargs if i == 0 else later)
            for i in builtins.range(n)
        }
        keys = list(layer)
    dsk = {**df.__dask_graph__(), **layer}
    values = [Delayed(k, dsk) for k in keys]
    if not compute:
        return values
    try:
        return list(compute_all(*values, scheduler=scheduler, **(compute_kwargs or {})))
    except BaseException:
        if stage_dir is not None:  # a partition failed before its link could clean up
            _files.discard(stage_dir)
        raise


# --- Parquet --------------------------------------------------------------------------


def _parquet_file(path: str, storage_options: dict | None = None) -> Any:
    """``pyarrow.parquet.ParquetFile`` of a local path, or of a URL opened through
    fsspec."""
    import pyarrow.parquet as pq

    if _files.is_local(path):
        return pq.ParquetFile(path)
    return pq.ParquetFile(_read_url(path, storage_options))


def _strip(path: str, storage_options: dict | None) -> str:
    """A URL's path inside its store (what fsspec's methods return)."""
    return _fsspec_fs(path, storage_options)._strip_protocol(path)


def _parquet_files(path: Any, storage_options: dict | None = None) -> list[str]:
    paths = []
    for p in expand_paths(path, "parquet files", storage_options):
        if not _files.is_local(p):
            fs = _fsspec_fs(p, storage_options)
            if not fs.isdir(p):
                paths.append(p)
                continue
            base = _strip(p, storage_options).rstrip("/")
            found = [
                fs.unstrip_protocol(f)
                for f in fs.find(p)
                if not any(
                    part.startswith(("_", ".")) for part in f[len(base) :].strip("/").split("/")
                )
                and not f.endswith(".crc")
            ]
            if not found:
                raise FileNotFoundError(f"no parquet files in the directory {p!r}")
            paths.extend(sorted(found, key=_natural_key))
            continue
        if os.path.isdir(p):
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = [d for d in dirs if not d.startswith(".")]  # e.g. a writer's staging
                found.extend(
                    os.path.join(root, f)
                    for f in files
                    if not f.startswith(("_", ".")) and not f.endswith(".crc")
                )
            if not found:
                raise FileNotFoundError(f"no parquet files in the directory {p!r}")
            paths.extend(sorted(found, key=_natural_key))
        else:
            paths.append(p)
    return paths


def _partition_values(path: str, root: Any, storage_options: dict | None = None) -> dict:
    """Hive partition values from ``key=value`` directories between root and file."""
    if not isinstance(root, str):
        return {}
    if not _files.is_local(root):
        if not _fsspec_fs(root, storage_options).isdir(root):
            return {}
        base = _strip(root, storage_options).rstrip("/")
        rel = _strip(path, storage_options)[len(base) :].strip("/").split("/")[:-1]
    elif not os.path.isdir(root):
        return {}
    else:
        rel = os.path.relpath(os.path.dirname(path), root).split(os.sep)
    values = {}
    for piece in rel:
        if "=" in piece:
            k, v = piece.split("=", 1)
            values[k] = v
    return values


class _ParquetPiece:
    """Reads one file (or some row groups of it): only ``columns``, rows matching
    ``filters``, plus hive partition columns from the directory names."""

    __slots__ = ("columns", "filters", "index", "partition_dtypes", "storage_options")

    def __init__(
        self,
        columns: Any,
        filters: Any,
        index: Any,
        partition_dtypes: dict,
        storage_options: dict | None = None,
    ) -> None:
        self.columns, self.filters, self.index = columns, filters, index
        self.partition_dtypes, self.storage_options = partition_dtypes, storage_options

    def __call__(self, path: str, row_groups: Any, partition_values: dict) -> pd.DataFrame:
        import pyarrow as pa
        import pyarrow.parquet as pq

        f = _parquet_file(path, self.storage_options)
        file_columns = set(f.schema_arrow.names)
        wanted = None
        if self.columns is not None:
            need = list(self.columns) + [
                c for c in _filter_columns(self.filters) if c not in self.columns
            ]
            wanted = [c for c in need if c in file_columns]
        if row_groups is None:
            table = f.read(columns=wanted, use_pandas_metadata=True)
        else:
            table = f.read_row_groups(row_groups, columns=wanted, use_pandas_metadata=True)
        for k, v in partition_values.items():
            if self.columns is None or k in self.columns or k in _filter_columns(self.filters):
                table = table.append_column(k, pa.array([v] * table.num_rows, pa.string()))
        if self.filters:
            table = table.filter(pq.filters_to_expression(_typed_filters(self.filters, table)))
        df = table.to_pandas()
        for k, dtype in self.partition_dtypes.items():
            if k in df.columns:
                df[k] = df[k].astype(dtype)
        if self.columns is not None:
            df = df[list(self.columns)]
        if self.index is not None and self.index in df.columns:
            df = df.set_index(self.index)
        return df

    def __dask_tokenize__(self) -> Any:
        return (
            "parquet-piece",
            self.columns,
            repr(self.filters),
            self.index,
            sorted(self.partition_dtypes.items(), key=str),
            sorted((self.storage_options or {}).items(), key=str),
        )


def _filter_columns(filters: Any) -> list:
    if not filters:
        return []
    groups = filters if isinstance(filters[0], list) else [filters]
    return list(dict.fromkeys(c for g in groups for c, _, _ in g))


def _typed_filters(filters: Any, table: Any) -> Any:
    """Filters whose values on string partition columns are strings, as read."""
    import pyarrow as pa

    def fix(term: tuple) -> tuple:
        col, op, val = term
        if col in table.column_names and pa.types.is_string(table.schema.field(col).type):
            val = [str(v) for v in val] if isinstance(val, list | tuple | set) else str(val)
        return (col, op, val)

    if isinstance(filters[0], list):
        return [[fix(t) for t in g] for g in filters]
    return [fix(t) for t in filters]


def _may_match(stats: dict, filters: Any) -> bool:
    """Whether a row group with per-column ``(min, max)`` ``stats`` can hold a match."""
    groups = filters if isinstance(filters[0], list) else [filters]

    def term_ok(col: str, op: str, val: Any) -> bool:
        if col not in stats:
            return True
        lo, hi = stats[col]
        try:
            return {
                "==": lambda: lo <= val <= hi,
                "=": lambda: lo <= val <= hi,
                ">": lambda: hi > val,
                ">=": lambda: hi >= val,
                "<": lambda: lo < val,
                "<=": lambda: lo <= val,
                "in": lambda: builtins.any(lo <= v <= hi for v in val),
            }.get(op, lambda: True)()
        except TypeError:
            return True

    return builtins.any(builtins.all(term_ok(*t) for t in g) for g in groups)


def _row_group_stats(md: Any, k: int) -> dict:
    rg = md.row_group(k)
    out = {}
    for j in builtins.range(rg.num_columns):
        col = rg.column(j)
        s = col.statistics
        if s is not None and s.has_min_max:
            out[col.path_in_schema] = (s.min, s.max)
    return out


def read_parquet(
    path: Any = None,
    columns: Any = None,
    filters: Any = None,
    categories: Any = None,
    index: Any = None,
    storage_options: Any = None,
    dtype_backend: Any = None,
    calculate_divisions: bool = False,
    ignore_metadata_file: bool = False,
    metadata_task_size: Any = None,
    split_row_groups: Any = "infer",
    blocksize: Any = "default",
    aggregate_files: Any = None,
    parquet_file_extension: Any = (".parq", ".parquet", ".pq"),
    filesystem: Any = "fsspec",
    engine: Any = None,
    arrow_to_pandas: Any = None,
    **kwargs: Any,
) -> Any:
    """Read a Parquet file, directory (hive partitions included) or glob through pyarrow.

    ``columns`` and ``filters`` (pyarrow's list-of-tuples form) are pushed to the reader;
    one partition per file, or per row group with ``split_row_groups=True``
    (``"infer"``, Dask's default, reads per file). Divisions come from the row-group
    statistics whenever they are sorted (``calculate_divisions`` is accepted for
    Dask's signature); ``ignore_metadata_file``, ``metadata_task_size``, ``blocksize``
    and ``parquet_file_extension`` are accepted and have no effect here (no
    ``_metadata`` file is read; partitions follow files or row groups). The Dask
    arguments taskloom does not implement (``categories``, ``dtype_backend``,
    ``aggregate_files``, a non-default ``filesystem``, ``arrow_to_pandas``) are a
    ValueError naming them when given. ``scheme://`` paths are read through fsspec with
    ``storage_options``, as in Dask.

    Examples
    --------
    >>> import tempfile, pandas as pd, taskloom.dataframe as dd
    >>> d = tempfile.mkdtemp()
    >>> pdf = pd.DataFrame({"x": range(6), "y": list("abcabc")})
    >>> dd.from_pandas(pdf, npartitions=2).to_parquet(d)
    >>> dd.read_parquet(d, columns=["x"]).x.sum().compute()
    np.int64(15)
    """

    unsupported = {
        "categories": categories,
        "dtype_backend": dtype_backend,
        "aggregate_files": aggregate_files,
        "arrow_to_pandas": arrow_to_pandas,
    }
    given = [k for k, v in unsupported.items() if v is not None]
    if filesystem not in ("fsspec", "arrow", None):
        given.append("filesystem")
    if given:
        raise ValueError(f"read_parquet: {', '.join(given)} not supported by taskloom")
    if path is None:
        raise TypeError("read_parquet needs a path")
    if split_row_groups in ("infer", "adaptive", False, None, 0):
        split_row_groups = False
    elif split_row_groups is True or split_row_groups == 1:
        split_row_groups = True
    else:
        raise ValueError(
            "read_parquet: split_row_groups must be 'infer', False or True (one partition "
            f"per row group); grouping {split_row_groups!r} row groups is not supported"
        )
    engine = "pyarrow" if engine is None else engine
    if engine not in ("pyarrow", "auto"):
        raise ValueError(
            f"engine must be 'pyarrow' (taskloom reads Parquet through pyarrow), got {engine!r}"
        )
    if kwargs:
        raise TypeError(f"read_parquet got unsupported arguments: {', '.join(sorted(kwargs))}")
    if isinstance(columns, str):
        columns = [columns]
    if storage_options is not None and not isinstance(storage_options, dict):
        raise TypeError(f"read_parquet: storage_options must be a dict, not {storage_options!r}")
    so = storage_options or None
    files = _parquet_files(path, so)
    root = os.fspath(path) if isinstance(path, str | os.PathLike) else None
    first = _parquet_file(files[0], so)
    meta = first.schema_arrow.empty_table().to_pandas()
    part_values = [_partition_values(f, root, so) for f in files]
    partition_dtypes = {}
    for k in dict.fromkeys(k for pv in part_values for k in pv):
        values = [pv.get(k) for pv in part_values]
        numeric = pd.to_numeric(pd.Series(values), errors="coerce")
        dtype = "int64" if numeric.notna().all() and (numeric % 1 == 0).all() else "str"
        partition_dtypes[k] = dtype
        meta[k] = pd.Series([], dtype=dtype)
    if columns is not None:
        missing = [c for c in columns if c not in meta.columns]
        if missing:
            raise KeyError(
                f"columns {missing} are not in the Parquet data; its columns are "
                f"{list(meta.columns)}"
            )
        meta = meta[list(columns)]
    if index is not None and index is not False:
        if index not in meta.columns:
            raise KeyError(f"index column {index!r} is not among the columns read")
        meta = meta.set_index(index)
    reader = _ParquetPiece(columns, filters, index or None, partition_dtypes, so)
    index_name = meta.index.name
    pieces, bounds = [], []
    for f, pv in zip(files, part_values, strict=False):
        if filters and not _partition_may_match(pv, partition_dtypes, filters):
            continue
        md = _parquet_file(f, so).metadata
        groups = builtins.range(md.num_row_groups)
        stats = [_row_group_stats(md, k) for k in groups]
        keep = [k for k in groups if not filters or _may_match(stats[k], filters)]
        if not keep:
            continue
        if split_row_groups:
            for k in keep:
                pieces.append((f, [k], pv))
                bounds.append(stats[k].get(index_name))
        else:
            pieces.append((f, None if len(keep) == md.num_row_groups else keep, pv))
            spans = [stats[k].get(index_name) for k in keep]
            bounds.append(None if None in spans else (spans[0][0], spans[-1][1]))
    if not pieces:
        pieces = [(files[0], [], part_values[0])]
        bounds = [None]
    mtimes = [_file_mtime(f, so) for f in files]
    token = tokenize(files, mtimes, columns, repr(filters), index, split_row_groups, so)
    name = f"read-parquet-{token}"
    layer = {(name, i): (reader, f, rg, pv) for i, (f, rg, pv) in enumerate(pieces)}
    df = new_collection({name: layer}, name, meta, _divisions_from_bounds(bounds, meta))

    def project(selected: list) -> DataFrame:
        return read_parquet(
            path,
            columns=selected,
            filters=filters,
            index=index,
            split_row_groups=split_row_groups,
            storage_options=storage_options,
        )

    df._source = project
    return df


def _partition_may_match(values: dict, dtypes: dict, filters: Any) -> bool:
    typed = {k: (int(v) if dtypes.get(k) == "int64" else v) for k, v in values.items()}
    return _may_match({k: (v, v) for k, v in typed.items()}, filters)


def _index_label(value: Any, index: pd.DatetimeIndex) -> pd.Timestamp:
    """A parquet statistic as a label of ``index``: its unit, and its time zone (the
    statistics of a tz-aware column are UTC), so ``loc`` by local dates picks the
    right partitions."""
    ts = pd.Timestamp(value)
    if index.tz is not None:
        ts = (ts.tz_localize("UTC") if ts.tz is None else ts).tz_convert(index.tz)
    return ts.as_unit(index.unit)


def _divisions_from_bounds(bounds: list, meta: Any) -> list:
    unknown = [None] * (len(bounds) + 1)
    if meta.index.name is None or any(b is None for b in bounds):
        return unknown
    try:
        label = _index_label if isinstance(meta.index, pd.DatetimeIndex) else lambda v, _: v
        lows = [label(lo, meta.index) for lo, _ in bounds]
        highs = [label(hi, meta.index) for _, hi in bounds]
        if any(h > lo for h, lo in zip(highs[:-1], lows[1:], strict=False)) or any(
            h == lo for h, lo in zip(highs[:-1], lows[1:], strict=False)
        ):
            return unknown
        return [*lows, highs[-1]]
    except TypeError:
        return unknown


def _write_parquet(
    part: pd.DataFrame,
    path: str,
    partition_on: Any,
    write_index: bool,
    kwargs: dict,
    i: int,
    storage_options: dict | None = None,
) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(part, preserve_index=write_index)
    if not _files.is_local(path):  # a store's own rules: objects are written whole
        fs = _fsspec_fs(path, storage_options)
        if not partition_on:
            with fs.open(path, "wb") as f:
                pq.write_table(table, f, **kwargs)
            return path
        import pyarrow.fs as pafs

        pq.write_to_dataset(
            table,
            _strip(path, storage_options),
            partition_cols=list(partition_on),
            basename_template=f"part.{i}.{{i}}.parquet",
            filesystem=pafs.PyFileSystem(pafs.FSSpecHandler(fs)),
            **kwargs,
        )
        return path
    if not partition_on:
        # pyarrow removes the path it was writing when it fails: give it a staged one.
        with _files.atomic_write(path) as temp:
            pq.write_table(table, temp, **kwargs)
        return path
    # The hive directories are written whole into staging, then each file moves into
    # its place under the root.
    stage_dir = _files.staging_dir(os.path.join(path, f"part.{i}"))
    try:
        pq.write_to_dataset(
            table,
            stage_dir,
            partition_cols=list(partition_on),
            basename_template=f"part.{i}.{{i}}.parquet",
            **kwargs,
        )
        for root, _, files in os.walk(stage_dir):
            for f in sorted(files):
                final = os.path.join(path, os.path.relpath(os.path.join(root, f), stage_dir))
                os.makedirs(os.path.dirname(final), exist_ok=True)
                _files.commit(os.path.join(root, f), final)
    finally:
        _files.discard(stage_dir)
    return path


def to_parquet(
    df: Any,
    path: Any,
    compression: Any = "snappy",
    write_index: bool = True,
    append: bool = False,
    overwrite: bool = False,
    ignore_divisions: bool = False,
    partition_on: Any = None,
    storage_options: Any = None,
    custom_metadata: Any = None,
    write_metadata_file: Any = None,
    compute: bool = True,
    compute_kwargs: dict | None = None,
    schema: Any = "infer",
    name_function: Callable[[int], str] | None = None,
    filesystem: Any = None,
    engine: Any = None,
    **kwargs: Any,
) -> Any:
    """Write a directory of Parquet files, one per partition (``part.<i>.parquet``), or
    hive-partitioned by the ``partition_on`` columns.

    Each file is written whole or not at all: a partition whose write fails leaves an
    existing file at its path byte for byte as it was (pyarrow alone deletes it) and
    no staging files behind. Files of partitions that succeeded are replaced, as in
    Dask.

    ``overwrite=True`` first removes the Parquet files already in ``path``;
    ``append=True`` numbers the new files after the existing ``part.<i>.parquet`` ones
    and needs the same columns (``ignore_divisions`` is accepted: divisions are read
    back from statistics). ``scheme://`` paths are written through fsspec with
    ``storage_options`` (each file directly: a store writes an object whole). Dask's
    ``custom_metadata``, ``write_metadata_file=True``, a ``schema`` other than
    ``"infer"`` and ``filesystem`` are not implemented: a ValueError names them. ``scheduler=`` may
    still be passed (it goes to compute, as ``compute_kwargs``).

    Returns None (``compute=False``: a list of Delayed that write).

    Examples
    --------
    >>> import os, tempfile, pandas as pd, taskloom.dataframe as dd
    >>> d = tempfile.mkdtemp()
    >>> dd.from_pandas(pd.DataFrame({"x": range(4)}), npartitions=2).to_parquet(d)
    >>> sorted(os.listdir(d))
    ['part.0.parquet', 'part.1.parquet']
    """
    from taskloom.base import compute as compute_all

    engine = "pyarrow" if engine is None else engine
    if engine not in ("pyarrow", "auto"):
        raise ValueError(f"engine must be 'pyarrow', got {engine!r}")
    refused = [
        name
        for name, value, default in (
            ("custom_metadata", custom_metadata, None),
            ("filesystem", filesystem, None),
            ("schema", schema, "infer"),
        )
        if value is not default and value != default
    ]
    if write_metadata_file:
        refused.append("write_metadata_file")
    if refused:
        raise ValueError(f"to_parquet: {', '.join(refused)} not supported by taskloom")
    if append and overwrite:
        raise ValueError("to_parquet: append=True and overwrite=True cannot go together")
    scheduler = kwargs.pop("scheduler", None)
    compute_kwargs = dict(compute_kwargs or {})
    if scheduler is not None:
        compute_kwargs["scheduler"] = scheduler
    if isinstance(df, _Frame) and not isinstance(df, DataFrame):
        df = df.to_frame()
    if isinstance(partition_on, str):
        partition_on = [partition_on]
    if partition_on:
        df._check_columns(partition_on)
    root = os.fspath(path)
    so = storage_options or None
    if not _files.is_local(root):
        fs = _fsspec_fs(root, so)
        if overwrite and fs.isdir(root):
            for f in _parquet_files_or_none(root, so):
                fs.rm(f)
        fs.makedirs(root, exist_ok=True)
    else:
        if overwrite and os.path.isdir(root):
            for f in _parquet_files_or_none(root):
                os.remove(f)
        os.makedirs(root, exist_ok=True)
    offset = _append_offset(root, df, write_index, so) if append else 0
    fn = name_function or (lambda i: f"part.{i + offset}.parquet")
    token = tokenize(df._name, root, compression, write_index, partition_on, kwargs, so)
    name = f"to-parquet-{token}"
    kw = {**kwargs, "compression": compression}
    layer = {
        (name, i): (
            _write_parquet,
            (df._name, i),
            root if partition_on else _join(root, fn(i)),
            partition_on,
            write_index,
            kw,
            i,
            so,
        )
        for i in builtins.range(df.npartitions)
    }
    dsk = {**df.__dask_graph__(), **layer}
    values = [Delayed(k, dsk) for k in layer]
    if not compute:
        return values
    compute_all(*values, **compute_kwargs)
    return None


def _join(root: str, name: str) -> str:
    return os.path.join(root, name) if _files.is_local(root) else f"{root.rstrip('/')}/{name}"


def _parquet_files_or_none(root: str, storage_options: dict | None = None) -> list[str]:
    try:
        return _parquet_files(root, storage_options)
    except FileNotFoundError:
        return []


def _append_offset(
    root: str, df: Any, write_index: bool, storage_options: dict | None = None
) -> int:
    """The number after the last ``part.<i>.parquet`` in ``root``, once the existing
    files are known to hold the same columns as ``df``."""

    existing = _parquet_files_or_none(root, storage_options)
    if not existing:
        return 0
    names = [
        n
        for n in _parquet_file(existing[0], storage_options).schema_arrow.names
        if n != "__index_level_0__"
    ]
    ours = list(map(str, df.columns))
    if write_index and df._meta.index.name is not None:
        ours.append(str(df._meta.index.name))
    if sorted(names) != sorted(ours):
        raise ValueError(
            f"to_parquet(append=True): the existing files hold columns {sorted(names)}, "
            f"the frame has {sorted(ours)}"
        )
    numbers = [
        int(m.group(1))
        for f in existing
        if (m := re.fullmatch(r"part\.(\d+)\.parquet", os.path.basename(f)))
    ]
    return max(numbers) + 1 if numbers else len(existing)
