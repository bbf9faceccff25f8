"""Reshaping and categorical bookkeeping: ``explode``, ``melt``, ``iloc[:, cols]``,
``squeeze``, ``to_timestamp``, ``categorize`` and ``Series.cat.known`` /
``as_known`` / ``as_unknown``.

This module owns Dask's notion of *unknown categories*: a categorical column whose
metadata has the single category :data:`UNKNOWN_CATEGORIES` (Dask's sentinel), because
its categories are only known once the data is read. Policy: ``categorize`` and
``as_known`` compute the categories (one tree reduction of unique values for all
columns at once) and cast every partition to them; everything else here is
row-wise, one task per partition, through
:func:`~taskloom.dataframe._primitives.map_partitions`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pandas as pd

from taskloom.dataframe._primitives import map_partitions, new_collection, tree_reduction

__all__ = [
    "UNKNOWN_CATEGORIES",
    "ILocIndexer",
    "align",
    "as_known",
    "as_unknown",
    "categories_attribute",
    "categorize",
    "explode",
    "has_known_categories",
    "iloc",
    "melt",
    "pivot_table",
    "repr_string",
    "shuffle",
    "squeeze",
    "to_timestamp",
    "week",
]

UNKNOWN_CATEGORIES = "__UNKNOWN_CATEGORIES__"


def has_known_categories(x: Any) -> bool:
    """Whether the categorical ``x`` (a Series, Index or dtype) has known categories."""
    dtype = getattr(x, "dtype", x)
    if not isinstance(dtype, pd.CategoricalDtype):
        raise AttributeError("only categorical data has known or unknown categories")
    return UNKNOWN_CATEGORIES not in dtype.categories


def _unknown_dtype(dtype: pd.CategoricalDtype) -> pd.CategoricalDtype:
    return pd.CategoricalDtype([UNKNOWN_CATEGORIES], ordered=dtype.ordered)


def _with_meta(frame: Any, meta: Any) -> Any:
    return new_collection(frame._layers, frame._name, meta, frame.divisions)


def as_unknown(series: Any) -> Any:
    """The same Series with its categories marked unknown (nothing is computed).

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series(list("ab"), dtype="category"), npartitions=1)
    >>> s.cat.known, s.cat.as_unknown().cat.known
    (True, False)
    """
    meta = series._meta.astype(_unknown_dtype(series._meta.dtype))
    return _with_meta(series, meta)


def as_known(series: Any, **kwargs: Any) -> Any:
    """The Series cast to its computed categories (sorted, as Dask)."""
    if has_known_categories(series._meta):
        return series
    name = series._meta.name if not isinstance(series._meta, pd.Index) else None
    frame = series.to_frame(name="__value__") if name is None else series.to_frame()
    column = "__value__" if name is None else name
    return categorize(frame, columns=[column], **kwargs)[column].rename(series._meta.name)


def _unique_chunk(part: pd.DataFrame, columns: list, index: bool) -> dict:
    out = {c: pd.unique(part[c].dropna()) for c in columns}
    if index:
        out[None] = pd.unique(part.index.dropna())
    return out


def _unique_combine(partials: list) -> dict:
    keys = partials[0].keys()
    return {k: pd.unique(pd.concat([pd.Series(p[k]) for p in partials]).to_numpy()) for k in keys}


def _categorize_part(part: pd.DataFrame, dtypes: dict, index_dtype: Any) -> pd.DataFrame:
    part = part.astype(dtypes) if dtypes else part
    if index_dtype is not None:
        part = part.set_axis(part.index.astype(index_dtype), axis=0)
    return part


def _categories(values: Any, existing: Any) -> pd.CategoricalDtype:
    ordered = bool(getattr(existing, "ordered", False))
    values = pd.Series(values)
    if isinstance(existing, pd.CategoricalDtype) and UNKNOWN_CATEGORIES not in existing.categories:
        return existing
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(values.dtype.categories.dtype)
    return pd.CategoricalDtype(pd.Index(values).sort_values(), ordered=ordered)


def categorize(
    frame: Any, columns: Any = None, index: Any = None, split_every: Any = None, **kwargs: Any
) -> Any:
    """Columns cast to categoricals with known categories, computed now (as Dask):
    by default every string/object column and every categorical column whose
    categories are unknown; ``index=True`` does the index too.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> df = dd.from_pandas(pd.DataFrame({"a": list("bab"), "n": [1, 2, 3]}), npartitions=2)
    >>> cat = df.categorize()
    >>> cat.a.cat.known, cat.a.cat.categories.tolist()
    (True, ['a', 'b'])
    """
    if not isinstance(frame._meta, pd.DataFrame):
        raise TypeError("categorize needs a DataFrame")
    meta = frame._meta

    def wanted(dtype: Any) -> bool:
        if isinstance(dtype, pd.CategoricalDtype):
            return not has_known_categories(dtype)
        return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)

    if columns is None:
        columns = [c for c, dt in meta.dtypes.items() if wanted(dt)]
    elif not isinstance(columns, list):
        columns = [columns]
    missing = [c for c in columns if c not in meta.columns]
    if missing:
        raise KeyError(f"columns not found: {missing}")
    if index is None:
        index = wanted(meta.index.dtype) and not isinstance(meta.index, pd.RangeIndex)
    if not columns and not index:
        return frame
    uniques = tree_reduction(
        frame,
        _unique_chunk,
        _unique_combine,
        _unique_combine,
        None,
        split_every,
        token="categorize",
        chunk_kwargs={"columns": columns, "index": bool(index)},
    ).compute()
    dtypes = {c: _categories(uniques[c], meta.dtypes[c]) for c in columns}
    index_dtype = _categories(uniques[None], meta.index.dtype) if index else None
    new_meta = _categorize_part(meta, dtypes, index_dtype)
    return map_partitions(
        _categorize_part, frame, dtypes, index_dtype, meta=new_meta, token="categorize"
    )


def _explode(part: Any, column: Any) -> Any:
    return part.explode() if column is None else part.explode(column)


def explode(frame: Any, column: Any = None) -> Any:
    """Each list-like element on a row of its own, index repeated (as pandas).

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series([[1, 2], [3]]), npartitions=2)
    >>> s.explode().compute().tolist()
    [1, 2, 3]
    """
    if isinstance(frame._meta, pd.DataFrame) and column is None:
        raise TypeError("DataFrame.explode needs column=")
    return map_partitions(_explode, frame, column, token="explode")


def _melt(part: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
    return pd.melt(part, **kwargs)


def melt(
    frame: Any,
    id_vars: Any = None,
    value_vars: Any = None,
    var_name: Any = None,
    value_name: str = "value",
    col_level: Any = None,
) -> Any:
    """Columns unpivoted into ``variable``/``value`` rows, partition by partition (row
    order and the index as Dask: per partition, divisions unknown).

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> df = dd.from_pandas(pd.DataFrame({"k": [1, 2], "a": [3, 4]}), npartitions=1)
    >>> df.melt(id_vars="k").compute().value.tolist()
    [3, 4]
    """
    kwargs = {
        "id_vars": id_vars,
        "value_vars": value_vars,
        "var_name": var_name,
        "value_name": value_name,
        "col_level": col_level,
    }
    return map_partitions(_melt, frame, token="melt", clear_divisions=True, **kwargs)


def _iloc_columns(part: pd.DataFrame, cols: Any) -> pd.DataFrame:
    return part.iloc[:, cols]


class ILocIndexer:
    """``df.iloc[:, cols]``: columns by position (Dask supports no row positions)."""

    __slots__ = ("_frame",)

    def __init__(self, frame: Any) -> None:
        self._frame = frame

    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, tuple) or len(key) != 2 or key[0] != slice(None):
            raise NotImplementedError(
                "'DataFrame.iloc' only supports selecting columns: iloc[:, cols]"
            )
        cols = key[1]
        if isinstance(cols, int) and not isinstance(cols, bool):
            return self._frame[self._frame.columns[cols]]
        return map_partitions(_iloc_columns, self._frame, cols, token="iloc")


def iloc(frame: Any) -> ILocIndexer:
    """The ``iloc`` indexer of ``frame``.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> df = dd.from_pandas(pd.DataFrame({"a": [1], "b": [2], "c": [3]}), npartitions=1)
    >>> list(df.iloc[:, [0, 2]].columns), df.iloc[:, 1].name
    (['a', 'c'], 'b')
    """
    return ILocIndexer(frame)


def squeeze(frame: Any, axis: Any = None) -> Any:
    """A one-column frame as a Series (as Dask; ``axis=0`` is not supported)."""
    if axis in (0, "index"):
        raise NotImplementedError(f"squeeze(axis={axis!r}) is not supported")
    if axis not in (None, 1, "columns"):
        raise ValueError(f"axis must be None, 1 or 'columns', got {axis!r}")
    if len(frame.columns) == 1:
        return frame[frame.columns[0]]
    return frame


def _to_timestamp(part: Any, freq: Any, how: str) -> Any:
    return part.to_timestamp(freq=freq, how=how)


def to_timestamp(frame: Any, freq: Any = None, how: str = "start") -> Any:
    """A PeriodIndex turned into timestamps, divisions too."""
    result = map_partitions(_to_timestamp, frame, freq, how, token="to_timestamp")
    if frame.known_divisions:
        divisions = pd.PeriodIndex(frame.divisions).to_timestamp(freq=freq, how=how)
        return new_collection(result._layers, result._name, result._meta, tuple(divisions))
    return result


def repr_string(frame: Any, max_rows: int = 5) -> str:
    """The collection's structure (dtypes and divisions), as a string (Dask's
    ``to_string``)."""
    if isinstance(frame._meta, pd.DataFrame):
        return frame._repr_frame().to_string(max_rows=max_rows)
    values = [str(frame.dtype)] + ["..."] * frame.npartitions
    return pd.Series(values, index=frame._repr_divisions()).to_string(max_rows=max_rows)


def _is_bare_category(dtype: Any) -> bool:
    if isinstance(dtype, str):
        return dtype == "category"
    return isinstance(dtype, pd.CategoricalDtype) and dtype.categories is None


def mark_unknown_categories(source: Any, result: Any, dtype: Any) -> Any:
    """``result`` of ``source.astype(dtype)``, its metadata marking categories unknown
    where ``dtype`` named none (they come from the data: the stand-in's are made up)."""
    if isinstance(dtype, dict):
        bare = [c for c, d in dtype.items() if _is_bare_category(d)]
    else:
        bare = None if _is_bare_category(dtype) else []
    if bare == []:
        return result
    meta, before = result._meta, source._meta
    if isinstance(meta, pd.DataFrame):
        names = list(meta.columns) if bare is None else bare
        # A column that was categorical already keeps its categories (as pandas).
        names = [
            c
            for c in names
            if isinstance(meta.dtypes[c], pd.CategoricalDtype)
            and not isinstance(before.dtypes[c], pd.CategoricalDtype)
        ]
        meta = meta.astype({c: _unknown_dtype(meta.dtypes[c]) for c in names})
    elif isinstance(meta.dtype, pd.CategoricalDtype) and not isinstance(
        before.dtype, pd.CategoricalDtype
    ):
        meta = meta.astype(_unknown_dtype(meta.dtype))
    return _with_meta(result, meta)


def categories_attribute(series: Any, name: str) -> Any:
    """``series.cat.categories`` / ``.ordered`` from the metadata, as Dask: known
    categories are part of it; unknown ones raise.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series(list("ba"), dtype="category"), npartitions=1)
    >>> s.cat.categories.tolist()
    ['a', 'b']
    """
    dtype = series._meta.dtype
    if name == "categories" and not has_known_categories(dtype):
        raise NotImplementedError(
            "cat.categories of unknown categories is not supported; use "
            "cat.as_known() or DataFrame.categorize() first"
        )
    return getattr(dtype, name)


def _align_side(part: Any, other: Any, side: int, **kwargs: Any) -> Any:
    return part.align(other, **kwargs)[side]


def align(
    frame: Any, other: Any, join: str = "outer", axis: Any = None, fill_value: Any = None
) -> tuple:
    """Both collections over the union (``join``) of their labels, partition by
    partition after aligning their partitions, as Dask.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> a = dd.from_pandas(pd.DataFrame({"x": [1, 2]}), npartitions=1)
    >>> b = dd.from_pandas(pd.DataFrame({"y": [3, 4]}), npartitions=1)
    >>> [list(f.columns) for f in align(a, b)]
    [['x', 'y'], ['x', 'y']]
    """
    from taskloom.dataframe._primitives import FrameBase, align_partitions

    if not isinstance(other, FrameBase):
        raise TypeError(f"other must be a taskloom collection, got {type(other).__name__}")
    if join not in ("outer", "inner", "left", "right"):
        raise ValueError(f"join must be 'outer', 'inner', 'left' or 'right', got {join!r}")
    left, right = align_partitions([frame, other])
    kwargs = {"join": join, "axis": axis, "fill_value": fill_value}
    return tuple(
        map_partitions(_align_side, left, right, side, token="align", **kwargs) for side in (0, 1)
    )


def shuffle(
    frame: Any,
    on: Any = None,
    ignore_index: bool = False,
    npartitions: int | None = None,
    on_index: bool = False,
) -> Any:
    """Rows rearranged so that equal ``on`` values (or index values with ``on_index``)
    share a partition (a hash shuffle; divisions become unknown).

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> df = dd.from_pandas(pd.DataFrame({"k": [1, 2, 1, 2]}), npartitions=2)
    >>> parts = [p.compute() for p in shuffle(df, "k").to_delayed()]
    >>> sum(1 in set(p.k) for p in parts), sum(len(p) for p in parts)
    (1, 4)
    """
    from taskloom.dataframe.shuffle import hash_shuffle

    if on_index:
        name = "__index__"
        keyed = frame.map_partitions(_with_index_column, name, token="shuffle-index")
        result = hash_shuffle(keyed, [name], npartitions)
        result = result.map_partitions(_drop_column, name, meta=frame._meta, token="shuffle")
    elif on is None:
        raise TypeError("shuffle needs on= (columns) or on_index=True")
    else:
        result = hash_shuffle(frame, on if isinstance(on, list) else [on], npartitions)
    if ignore_index:
        result = result.map_partitions(_reset, token="shuffle-reset")
    return result


def _with_index_column(part: pd.DataFrame, name: str) -> pd.DataFrame:
    return part.assign(**{name: part.index})


def _drop_column(part: pd.DataFrame, name: str) -> pd.DataFrame:
    return part.drop(columns=[name])


def _reset(part: Any) -> Any:
    return part.reset_index(drop=True)


def _iso_week(part: pd.Series) -> pd.Series:
    return part.dt.isocalendar().week


def week(series: Any) -> Any:
    """ISO week of each timestamp (Dask's ``dt.week``/``dt.weekofyear``, which pandas
    dropped for ``dt.isocalendar().week``)."""
    return map_partitions(_iso_week, series, token="dt-week")


_PIVOT_AGGS = ("mean", "sum", "count", "first", "last")


def _pivot_chunk(part: pd.DataFrame, index: Any, columns: Any, values: Any, how: str) -> Any:
    hows = ("sum", "count") if how == "mean" else (how,)
    return {
        h: part.pivot_table(
            index=index, columns=columns, values=values, aggfunc=h, observed=False, dropna=False
        )
        for h in hows
    }


def _pivot_combine(partials: list) -> dict:
    out = {}
    for h in partials[0]:
        tables = [p[h] for p in partials if len(p[h])] or [partials[0][h]]
        grouped = pd.concat(tables).groupby(level=0, sort=True)
        out[h] = grouped.sum() if h in ("sum", "count") else getattr(grouped, h)()
    return out


def _pivot_aggregate(partials: list, how: str, meta: pd.DataFrame) -> pd.DataFrame:
    tables = _pivot_combine(partials)
    if how == "mean":
        result = tables["sum"] / tables["count"]
    else:
        result = tables[how]
    return result.reindex(columns=meta.columns).astype(meta.dtypes.to_dict())


def pivot_table(
    frame: Any, index: Any = None, columns: Any = None, values: Any = None, aggfunc: str = "mean"
) -> Any:
    """A spreadsheet-style pivot table, as Dask: ``columns`` must be a categorical
    column with known categories (they become the result's columns), ``index`` and
    ``values`` column names; ``aggfunc`` one of mean, sum, count, first, last.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> pdf = pd.DataFrame({"i": [1, 1, 2], "c": list("aba"), "v": [1.0, 2.0, 3.0]})
    >>> df = dd.from_pandas(pdf, npartitions=2).categorize(columns=["c"])
    >>> table = df.pivot_table(index="i", columns="c", values="v", aggfunc="sum")
    >>> table.compute().to_dict()
    {'a': {1: 1.0, 2: 3.0}, 'b': {1: 2.0, 2: 0.0}}
    """
    meta = frame._meta
    for name, arg in (("index", index), ("columns", columns), ("values", values)):
        if arg is None or isinstance(arg, list):
            raise ValueError(f"{name} must be a single column name, got {arg!r}")
        if arg not in meta.columns:
            raise KeyError(f"{name}={arg!r} is not a column")
    if not isinstance(meta.dtypes[columns], pd.CategoricalDtype) or not has_known_categories(
        meta.dtypes[columns]
    ):
        raise ValueError("columns must be a categorical column with known categories")
    if aggfunc not in _PIVOT_AGGS:
        raise ValueError(f"aggfunc must be one of {_PIVOT_AGGS}, got {aggfunc!r}")
    sample = frame._meta_nonempty.pivot_table(
        index=index, columns=columns, values=values, aggfunc=aggfunc, observed=False, dropna=False
    )
    out_meta = sample.iloc[:0]
    if aggfunc == "mean":
        out_meta = out_meta.astype("f8")
    return tree_reduction(
        frame,
        _pivot_chunk,
        _pivot_combine,
        partial(_pivot_aggregate, how=aggfunc, meta=out_meta),
        out_meta,
        token="pivot_table",
        chunk_kwargs={"index": index, "columns": columns, "values": values, "how": aggfunc},
    )
