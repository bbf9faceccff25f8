"""SQL through SQLAlchemy, as Dask's ``read_sql_table``/``read_sql_query``/
``read_sql``/``to_sql``.

Policy (Dask's): a query is split into partitions by ranges of one indexed column
(``index_col``): ``divisions`` given, or ``npartitions`` even ranges between the
column's minimum and maximum (``limits`` or a ``min``/``max`` query), or as many as
``bytes_per_chunk`` calls for, estimated from the first ``head_rows`` rows and a row
count. Each partition runs its own ``WHERE lo <= col < hi`` query when computed and is
cast to the metadata's dtypes. Connections are URIs (strings), so tasks can make their
own engines. SQLAlchemy is the optional extra ``taskloom[sql]``.

Dtypes: the metadata comes from the first ``head_rows`` rows, corrected where those rows
cannot tell: a column that is NULL there takes the dtype pandas gives its SQL type, and
an int or bool column that may be NULL has its NULLs counted (in the same query as the
index's bounds) so that it becomes float64/object as in pandas instead of failing, or
turning NULL into False, in a later partition; pass ``meta=`` to skip that. NULL or NaN
index values belong to no range, so they are an error unless ``divisions`` are given
(then only rows inside them are read, as in Dask). ``to_sql`` chooses an object
column's SQL type from the values of every partition, as pandas does for the frame.
"""

from __future__ import annotations

import builtins
import datetime
import itertools
from typing import Any

import numpy as np
import pandas as pd

from taskloom.dataframe._meta import meta_from_user
from taskloom.dataframe.core import DataFrame
from taskloom.dataframe.io import _parse_size, from_map
from taskloom.delayed import Delayed
from taskloom.tokenize import tokenize

__all__ = ["read_sql", "read_sql_query", "read_sql_table", "to_sql"]


def _sqlalchemy() -> Any:
    try:
        import sqlalchemy
    except ImportError as e:
        raise ImportError(
            "SQL reading and writing needs SQLAlchemy: pip install 'taskloom[sql]' (or sqlalchemy)"
        ) from e
    return sqlalchemy


class _SQLPiece:
    """Runs one range query of a partitioned read."""

    def __init__(
        self, con: str, index_col: str, meta: pd.DataFrame, engine_kwargs: dict, kwargs: dict
    ) -> None:
        self.con, self.index_col, self.meta = con, index_col, meta
        self.engine_kwargs, self.kwargs = engine_kwargs, kwargs

    def __call__(self, query: Any) -> pd.DataFrame:
        sa = _sqlalchemy()
        engine = sa.create_engine(self.con, **self.engine_kwargs)
        try:
            df = pd.read_sql(query, engine, index_col=self.index_col, **self.kwargs)
        finally:
            engine.dispose()
        if not len(df):
            return self.meta.copy()
        for c, d in self.meta.dtypes.items():
            if df[c].dtype != d:
                try:
                    df[c] = df[c].astype(d)
                except (TypeError, ValueError) as e:
                    raise ValueError(
                        f"read_sql: column {c!r} of a partition cannot be cast to the "
                        f"metadata's dtype {d} ({e}); pass meta= with a dtype that fits"
                    ) from e
        return df

    def __dask_tokenize__(self) -> Any:
        return (
            "sql",
            self.con,
            self.index_col,
            str(self.meta.dtypes),
            sorted(self.kwargs.items(), key=str),
        )


def _backend(kwargs: dict) -> str:
    return kwargs.get("dtype_backend") or "numpy"


def _sql_dtype(sql_type: Any, backend: str) -> Any:
    """The dtype pandas gives a whole column of this SQL type that holds NULLs, or None
    when the type says nothing useful (the head's dtype is kept)."""
    try:
        py = sql_type.python_type
    except (NotImplementedError, AttributeError):
        return None
    if py is datetime.datetime:
        # pandas returns timezone-aware timestamps in UTC, naive ones as they are
        return "datetime64[us, UTC]" if getattr(sql_type, "timezone", False) else "datetime64[us]"
    table = {
        "numpy": {int: "float64", float: "float64", str: "str", bool: object},
        "numpy_nullable": {int: "Int64", float: "Float64", str: "string", bool: "boolean"},
        "pyarrow": {
            int: "int64[pyarrow]",
            float: "double[pyarrow]",
            str: "string[pyarrow]",
            bool: "bool[pyarrow]",
        },
    }.get(backend, {})
    return table.get(py)


def _head_meta(head: pd.DataFrame, sub: Any, backend: str) -> pd.DataFrame:
    """The metadata from the first rows; a column that is all NULL there takes its
    dtype from the column's SQL type (pandas would make it object or string)."""
    meta = head.iloc[:0]
    fixes = {}
    for c in head.columns:
        if c in sub.c and head[c].isna().all():
            d = _sql_dtype(sub.c[c].type, backend)
            if d is not None:
                fixes[c] = d
    return meta.astype(fixes) if fixes else meta


def _nullable_checks(meta: pd.DataFrame, sub: Any, index_col: str, backend: str) -> list:
    """Columns whose head-inferred numpy dtype cannot hold a NULL (int, bool) although
    the database column may have one: a later NULL would fail the cast (int) or turn
    into False (bool), so the reader counts their NULLs before settling the dtypes."""
    if backend != "numpy":
        return []
    out = []
    for c, d in meta.dtypes.items():
        if (
            d.kind in "iub"
            and c != index_col
            and c in sub.c
            and getattr(sub.c[c], "nullable", True)
        ):
            out.append(c)
    return out


def _timestamp(value: Any, dtype: Any) -> pd.Timestamp:
    """A bound as a Timestamp in the index's time zone (drivers return the session's)."""
    ts = pd.Timestamp(value)
    tz = getattr(dtype, "tz", None)
    if tz is None:
        return ts.tz_convert(None) if ts.tzinfo is not None else ts
    return ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)


def _divisions(lo: Any, hi: Any, n: int, dtype: Any) -> list:
    """``n`` even ranges from ``lo`` to ``hi`` (Dask's rule per index type)."""
    if dtype.kind == "M":
        return list(pd.date_range(lo, hi, periods=n + 1))
    if dtype.kind in "iu":
        divs = np.unique(np.linspace(lo, hi, n + 1).round().astype("int64")).tolist()
        return divs if len(divs) > 1 else [lo, hi]
    if dtype.kind == "f":
        return np.linspace(lo, hi, n + 1).tolist()
    raise TypeError(
        f"index_col of dtype {dtype} cannot be split into ranges; pass divisions= explicitly"
    )


def read_sql_query(
    sql: Any,
    con: str,
    index_col: str,
    divisions: Any = None,
    npartitions: int | None = None,
    limits: Any = None,
    bytes_per_chunk: Any = "256 MiB",
    head_rows: int = 5,
    meta: Any = None,
    engine_kwargs: dict | None = None,
    **kwargs: Any,
) -> DataFrame:
    """Read a SQLAlchemy ``Select`` into partitions by ranges of ``index_col`` (a
    column of the query, which becomes the index).

    See the module notes for how the ranges are chosen. Keyword arguments go to
    :func:`pandas.read_sql`.

    Examples
    --------
    >>> import os, tempfile, sqlalchemy as sa, pandas as pd, taskloom.dataframe as dd
    >>> uri = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "a.db")
    >>> pd.DataFrame({"id": range(10), "x": range(10)}).to_sql("t", uri, index=False)
    10
    >>> t = sa.table("t", sa.column("id"), sa.column("x"))
    >>> df = dd.read_sql_query(sa.select(t.c.id, t.c.x), uri, "id", npartitions=3)
    >>> df.npartitions, int(df.x.sum().compute())
    (3, 45)
    """
    sa = _sqlalchemy()
    if not isinstance(con, str):
        raise TypeError(f"con must be a database URI string, not {type(con).__name__}")
    if isinstance(sql, str):
        raise TypeError(
            "read_sql_query needs a SQLAlchemy Select, not a string; use sa.text/select"
        )
    if divisions is not None and npartitions is not None:
        raise TypeError("read_sql_query takes divisions= or npartitions=, not both")
    engine_kwargs = dict(engine_kwargs or {})
    sub = sql.subquery()
    if index_col not in sub.c:
        raise ValueError(f"index_col={index_col!r} is not a column of the query")
    index = sub.c[index_col]
    backend = _backend(kwargs)
    engine = sa.create_engine(con, **engine_kwargs)
    try:
        with engine.connect() as conn:
            head = pd.read_sql(sql.limit(head_rows), conn, index_col=index_col, **kwargs)
            if meta is None:
                if not len(head):
                    raise ValueError(
                        "read_sql_query: the query returned no rows, so the columns' dtypes "
                        "are unknown; pass meta="
                    )
                meta = _head_meta(head, sub, backend)
                checks = _nullable_checks(meta, sub, index_col, backend)
            else:
                meta = meta_from_user(meta)
                checks = []
            kind = meta.index.dtype.kind
            if divisions is None and kind not in "iufM":
                raise TypeError(
                    f"index_col={index_col!r} has dtype {meta.index.dtype}: without "
                    "divisions= it must be numeric or datetime to be split into ranges; "
                    "pass divisions= explicitly"
                )
            if divisions is None or checks:
                stats = [
                    sa.func.min(index),
                    sa.func.max(index),
                    sa.func.count(),
                    sa.func.count(index),
                ]
                stats += [sa.func.count(sub.c[c]) for c in checks]
                row = conn.execute(sa.select(*stats).select_from(sub)).one()
                lo, hi, count, nonnull = row[:4]
                holes = [c for c, n in zip(checks, row[4:], strict=True) if n < count]
                # what pandas gives a column with NULLs: ints as float64, bools as object
                meta = meta.astype(
                    {c: "float64" if meta[c].dtype.kind in "iu" else object for c in holes}
                )
            if divisions is None:
                if nonnull < count:
                    raise ValueError(
                        f"index_col={index_col!r} is NULL in {count - nonnull} rows, which "
                        "belong to no range of the index; filter them out in the query (or "
                        "pass divisions=, which reads only the rows inside them)"
                    )
                if limits is not None:
                    lo, hi = limits
                if lo is None:  # no rows at all
                    lo = hi = 0
                if kind == "M":
                    lo, hi = _timestamp(lo, meta.index.dtype), _timestamp(hi, meta.index.dtype)
                elif kind == "f":
                    lo, hi = float(lo), float(hi)
                    if np.isnan(lo) or np.isnan(hi):
                        raise ValueError(
                            f"index_col={index_col!r} holds NaN values, which belong to no "
                            "range of the index; filter them out in the query or pass "
                            "divisions="
                        )
                if npartitions is None:
                    per_row = head.memory_usage(deep=True, index=True).sum() / builtins.max(
                        len(head), 1
                    )
                    chunk = _parse_size(bytes_per_chunk)
                    npartitions = builtins.max(1, int(np.ceil(count * per_row / chunk)))
                divisions = _divisions(lo, hi, npartitions, meta.index.dtype)
    finally:
        engine.dispose()
    divisions = list(divisions)
    if len(divisions) < 2:
        raise ValueError("divisions must have at least two values")
    queries = []
    for i, (lo, hi) in enumerate(itertools.pairwise(divisions)):
        last = i == len(divisions) - 2
        cond = sa.and_(index >= lo, index <= hi) if last else sa.and_(index >= lo, index < hi)
        # ordered: a partition with known divisions must be sorted by its index
        queries.append(sa.select(*sub.c).where(cond).order_by(index))
    reader = _SQLPiece(con, index_col, meta, engine_kwargs, kwargs)
    # stable task arguments naming each range (the query objects do not tokenize)
    keys = [f"{sql}|{i}|{lo!r}|{hi!r}" for i, (lo, hi) in enumerate(itertools.pairwise(divisions))]
    return from_map(
        _Keyed(reader, dict(zip(keys, queries, strict=True))),
        keys,
        meta=meta,
        divisions=divisions,
        label="read-sql",
    )


class _Keyed:
    """Maps a query's SQL text (a stable task argument) to the query to run."""

    def __init__(self, reader: _SQLPiece, queries: dict) -> None:
        self.reader, self.queries = reader, queries

    def __call__(self, key: str) -> pd.DataFrame:
        return self.reader(self.queries[key])

    def __dask_tokenize__(self) -> Any:
        return ("sql-keyed", tokenize(self.reader), sorted(self.queries))


def read_sql_table(
    table_name: str,
    con: str,
    index_col: str,
    divisions: Any = None,
    npartitions: int | None = None,
    limits: Any = None,
    columns: Any = None,
    bytes_per_chunk: Any = "256 MiB",
    head_rows: int = 5,
    schema: str | None = None,
    meta: Any = None,
    engine_kwargs: dict | None = None,
    **kwargs: Any,
) -> DataFrame:
    """Read a database table into partitions by ranges of ``index_col``, reading only
    ``columns`` (names; the index column is always read), as Dask.

    Examples
    --------
    >>> import os, tempfile, pandas as pd, taskloom.dataframe as dd
    >>> uri = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "a.db")
    >>> pd.DataFrame({"id": range(10), "x": range(10)}).to_sql("t", uri, index=False)
    10
    >>> df = dd.read_sql_table("t", uri, "id", npartitions=2)
    >>> df.divisions, int(df.x.sum().compute())
    ((0, 4, 9), 45)
    """
    sa = _sqlalchemy()
    if not isinstance(table_name, str):
        raise TypeError(f"table_name must be a string, not {type(table_name).__name__}")
    if not isinstance(con, str):
        raise TypeError(f"con must be a database URI string, not {type(con).__name__}")
    engine = sa.create_engine(con, **(engine_kwargs or {}))
    try:
        table = sa.Table(table_name, sa.MetaData(schema=schema), autoload_with=engine)
    except sa.exc.NoSuchTableError as e:
        where = f"schema {schema!r}" if schema is not None else "the default schema"
        url = engine.url.render_as_string(hide_password=True)
        raise sa.exc.NoSuchTableError(
            f"read_sql_table: no table {table_name!r} in {where} of {url}"
        ) from e
    finally:
        engine.dispose()
    names = [c.name for c in table.columns]
    if index_col not in names:
        raise ValueError(f"index_col={index_col!r} is not a column of {table_name} ({names})")
    wanted = names if columns is None else [c if isinstance(c, str) else c.name for c in columns]
    missing = [c for c in wanted if c not in names]
    if missing:
        raise ValueError(f"columns {missing} are not in the table {table_name} ({names})")
    selected = [table.c[c] for c in wanted if c != index_col] + [table.c[index_col]]
    df = read_sql_query(
        sa.select(*selected),
        con,
        index_col,
        divisions=divisions,
        npartitions=npartitions,
        limits=limits,
        bytes_per_chunk=bytes_per_chunk,
        head_rows=head_rows,
        meta=meta,
        engine_kwargs=engine_kwargs,
        **kwargs,
    )
    return df


def read_sql(sql: Any, con: str, index_col: str, **kwargs: Any) -> DataFrame:
    """:func:`read_sql_table` for a table name, :func:`read_sql_query` for a
    SQLAlchemy query, as Dask's ``read_sql``.

    Examples
    --------
    >>> import os, tempfile, pandas as pd, taskloom.dataframe as dd
    >>> uri = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "a.db")
    >>> pd.DataFrame({"id": [1, 2]}).to_sql("t", uri)
    2
    >>> dd.read_sql("t", uri, "id").index.compute().tolist()
    [1, 2]
    """
    if isinstance(sql, str):
        return read_sql_table(sql, con, index_col, **kwargs)
    return read_sql_query(sql, con, index_col, **kwargs)


def _write_sql(
    part: pd.DataFrame,
    name: str,
    uri: str,
    kwargs: dict,
    engine_kwargs: dict,
    after: Any = None,
    types: dict | None = None,
) -> int | None:
    sa = _sqlalchemy()
    if types:
        kwargs = {**kwargs, "dtype": {**types, **(kwargs.get("dtype") or {})}}
    engine = sa.create_engine(uri, **engine_kwargs)
    try:
        return part.to_sql(name, engine, **kwargs)
    finally:
        engine.dispose()


def _value_types(part: pd.DataFrame, columns: list) -> dict:
    """One non-null value of each Python type in each object column: all pandas looks
    at to choose the column's SQL type."""
    out = {}
    for c in columns:
        values = part[c].dropna()
        first = ~values.map(type).duplicated()
        out[c] = values[first.to_numpy()].tolist()
    return out


def _object_sql_types(samples: list) -> dict:
    """The SQL type pandas' ``to_sql`` gives each object column of the whole frame
    (``SQLTable._sqlalchemy_type``), from the values' types in every partition."""
    sa = _sqlalchemy()
    types = {}
    for c in samples[0] if samples else []:
        values = [v for sample in samples for v in sample[c]]
        kind = pd.api.types.infer_dtype(pd.Series(values, dtype=object), skipna=True)
        types[c] = {
            "datetime64": sa.DateTime,
            "datetime": sa.DateTime,
            "timedelta64": sa.BigInteger,
            "floating": sa.Float(precision=53),
            "integer": sa.BigInteger,
            "boolean": sa.Boolean,
            "date": sa.Date,
            "time": sa.Time,
        }.get(kind, sa.Text)
    return types


def to_sql(
    df: Any,
    name: str,
    uri: str,
    schema: str | None = None,
    if_exists: str = "fail",
    index: bool = True,
    index_label: Any = None,
    chunksize: int | None = None,
    dtype: Any = None,
    method: Any = None,
    compute: bool = True,
    parallel: bool = False,
    engine_kwargs: dict | None = None,
) -> Any:
    """Write the partitions into the table ``name`` through
    :meth:`pandas.DataFrame.to_sql`: the first with ``if_exists``, the others appended
    after it, one after another (``parallel=True``: all at once once the first is in).
    Returns None (``compute=False``: a Delayed doing the writes).

    Examples
    --------
    >>> import os, tempfile, pandas as pd, taskloom.dataframe as dd
    >>> uri = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "a.db")
    >>> dd.to_sql(dd.from_pandas(pd.DataFrame({"x": range(4)}), npartitions=2), "t", uri)
    >>> pd.read_sql("SELECT x FROM t", uri).x.tolist()
    [0, 1, 2, 3]
    """
    from taskloom.base import compute as compute_all

    _sqlalchemy()
    if not isinstance(uri, str):
        raise TypeError(f"uri must be a database URI string, not {type(uri).__name__}")
    if if_exists not in ("fail", "replace", "append"):
        raise ValueError(f"if_exists must be 'fail', 'replace' or 'append', got {if_exists!r}")
    kw = dict(
        schema=schema,
        index=index,
        index_label=index_label,
        chunksize=chunksize,
        dtype=dtype,
        method=method,
    )
    ekw = dict(engine_kwargs or {})
    token = tokenize(df._name, name, uri, if_exists, kw)
    layer_name = f"to-sql-{token}"
    layer: dict = {}
    # pandas picks an object column's SQL type from its values, a partition's alone
    # here: one whose values are all None would make the table TEXT where the frame
    # holds booleans, and a later partition's insert fail. So the types come from all
    # partitions' values (a small pass), as pandas would choose them for the frame.
    given = dtype if isinstance(dtype, dict) else ({} if dtype is None else None)
    objects = (
        []
        if given is None
        else [
            c
            for c, d in getattr(df._meta, "dtypes", pd.Series()).items()
            if isinstance(df._meta, pd.DataFrame) and isinstance(d, np.dtype) and d.kind == "O"
        ]
    )
    objects = [c for c in objects if c not in given]
    types_key = None
    if objects:
        types_key = f"to-sql-types-{token}"
        samples = [(f"to-sql-values-{token}", i) for i in builtins.range(df.npartitions)]
        for i, key in enumerate(samples):
            layer[key] = (_value_types, (df._name, i), objects)
        layer[types_key] = (_object_sql_types, samples)
    first = (layer_name, 0)
    layer[first] = (
        _write_sql,
        (df._name, 0),
        name,
        uri,
        {**kw, "if_exists": if_exists},
        ekw,
        None,
        types_key,
    )
    prev = first
    for i in builtins.range(1, df.npartitions):
        after = first if parallel else prev
        layer[(layer_name, i)] = (
            _write_sql,
            (df._name, i),
            name,
            uri,
            {**kw, "if_exists": "append"},
            ekw,
            after,
            types_key,
        )
        prev = (layer_name, i)
    final = f"to-sql-done-{token}"
    layer[final] = (_none, [k for k in layer if isinstance(k, tuple) and k[0] == layer_name])
    value = Delayed(final, {**df.__dask_graph__(), **layer})
    if not compute:
        return value
    compute_all(value)
    return None


def _none(_: Any) -> None:
    return None
