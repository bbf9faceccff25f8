"""Reshaping at module level, as ``dask.dataframe``: ``melt``, ``get_dummies`` and
``pivot_table``.

Policy (Dask's): ``melt`` and ``get_dummies`` run per partition; the columns they make
must be known without computing, so ``get_dummies`` needs categorical columns with
known categories (``categorize`` first). ``pivot_table`` pivots on a categorical
``columns`` with known categories: per-partition partials (sums and counts, or
first/last values) are reduced in a tree into one partition.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pandas as pd

from taskloom.dataframe._primitives import FrameBase, map_partitions, tree_reduction

__all__ = ["get_dummies", "melt", "pivot_table"]


def melt(
    frame: Any,
    id_vars: Any = None,
    value_vars: Any = None,
    var_name: Any = None,
    value_name: str = "value",
    col_level: Any = None,
) -> Any:
    """Unpivot ``frame`` from wide to long, as :func:`pandas.melt`, per partition (the
    index is not kept, so divisions become unknown).

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> df = dd.from_pandas(pd.DataFrame({"k": [1, 2], "a": [3, 4]}), npartitions=2)
    >>> dd.melt(df, id_vars="k").compute().values.tolist()
    [[1, 'a', 3], [2, 'a', 4]]
    """
    if not isinstance(frame, FrameBase) or frame.ndim != 2:
        raise TypeError("melt needs a taskloom DataFrame as frame")
    return map_partitions(
        pd.melt,
        frame,
        id_vars=id_vars,
        value_vars=value_vars,
        var_name=var_name,
        value_name=value_name,
        col_level=col_level,
        token="melt",
        clear_divisions=True,
    )


def get_dummies(
    data: Any,
    prefix: Any = None,
    prefix_sep: str = "_",
    dummy_na: bool = False,
    columns: Any = None,
    sparse: bool = False,
    drop_first: bool = False,
    dtype: Any = bool,
    **kwargs: Any,
) -> Any:
    """Indicator columns, as :func:`pandas.get_dummies`, per partition.

    The columns to encode must be categorical with known categories so that every
    partition makes the same columns (Dask's rule); non-taskloom ``data`` goes to pandas.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = pd.Series(list("abca"), dtype="category")
    >>> dd.get_dummies(dd.from_pandas(s, npartitions=2)).compute().columns.tolist()
    ['a', 'b', 'c']
    """
    kw = dict(
        prefix=prefix,
        prefix_sep=prefix_sep,
        dummy_na=dummy_na,
        columns=columns,
        sparse=sparse,
        drop_first=drop_first,
        dtype=dtype,
        **kwargs,
    )
    if not isinstance(data, FrameBase):
        return pd.get_dummies(data, **kw)
    meta = data._meta
    if isinstance(meta, pd.Series):
        encoded = [meta]
    elif columns is None:
        encoded = [meta[c] for c in meta.columns if meta[c].dtype in (object, "category")]
        encoded += [meta[c] for c in meta.select_dtypes(include=["string"]).columns]
    else:
        encoded = [meta[c] for c in columns]
    for s in encoded:
        if not isinstance(s.dtype, pd.CategoricalDtype):
            raise NotImplementedError(
                f"get_dummies needs categorical columns (column {s.name!r} is {s.dtype}); "
                "use .categorize() or .astype('category') with known categories first"
            )
    return map_partitions(pd.get_dummies, data, token="get-dummies", **kw)


_PIVOT_AGGS = ("mean", "sum", "count", "first", "last")


def _pivot_chunk(part: pd.DataFrame, index: Any, columns: Any, values: list, how: str) -> Any:
    g = part.groupby([index, columns], observed=True, sort=False)[values]
    if how in ("first", "last"):
        return getattr(g, how)()
    return pd.concat({"sum": g.sum(), "count": g.count()}, axis=1)


def _pivot_combine(partials: list, how: str) -> Any:
    both = pd.concat(partials)
    g = both.groupby(level=[0, 1], sort=False)
    return getattr(g, how)() if how in ("first", "last") else g.sum()


class _PivotAggregate:
    __slots__ = ("how", "meta")

    def __init__(self, how: str, meta: pd.DataFrame) -> None:
        self.how, self.meta = how, meta

    def __call__(self, partials: list) -> pd.DataFrame:
        long = _pivot_combine(partials, self.how)
        if self.how == "mean":
            long = long["sum"] / long["count"]
        elif self.how in ("sum", "count"):
            long = long[self.how]
        wide = long.unstack(level=1)
        meta = self.meta
        if isinstance(meta.columns, pd.MultiIndex):
            wide = wide.reindex(columns=meta.columns)
        else:
            wide = wide[wide.columns[0][0]] if isinstance(wide.columns, pd.MultiIndex) else wide
            wide = wide.reindex(columns=meta.columns)
        wide.index.name, wide.columns.names = meta.index.name, meta.columns.names
        if self.how in ("sum", "count"):
            wide = wide.fillna(0)
        return wide.sort_index().astype(meta.dtypes.to_dict())

    def __dask_tokenize__(self) -> Any:
        return ("pivot-aggregate", self.how, str(self.meta.dtypes))


def pivot_table(df: Any, index: Any, columns: Any, values: Any, aggfunc: str = "mean") -> Any:
    """Spreadsheet-style pivot table, as :func:`pandas.pivot_table` with Dask's limits:
    ``index`` and ``columns`` are column names, ``columns`` categorical with known
    categories, ``aggfunc`` one of ``'mean'``, ``'sum'``, ``'count'``, ``'first'``,
    ``'last'``. The result is one partition; combinations with no rows are NaN
    (``sum``/``count``: 0, as Dask).

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> pdf = pd.DataFrame({"i": [0, 0, 1], "c": pd.Categorical(list("aba")), "v": [1.0, 2, 3]})
    >>> dd.pivot_table(dd.from_pandas(pdf, 2), "i", "c", "v", "sum").compute().values.tolist()
    [[1.0, 2.0], [3.0, 0.0]]
    """
    if not isinstance(df, FrameBase) or df.ndim != 2:
        raise TypeError("pivot_table needs a taskloom DataFrame as df")
    meta = df._meta
    for arg, col in (("index", index), ("columns", columns)):
        if not isinstance(col, str | int) or col not in meta.columns:
            raise ValueError(f"{arg} must be the name of one column of df, got {col!r}")
    if not isinstance(meta[columns].dtype, pd.CategoricalDtype):
        raise ValueError(
            f"columns={columns!r} must be categorical with known categories; "
            "use .categorize() or .astype('category') first"
        )
    value_list = list(values) if isinstance(values, list | tuple) else [values]
    for v in value_list:
        if v not in meta.columns:
            raise ValueError(f"values: {v!r} is not a column of df")
    if aggfunc not in _PIVOT_AGGS:
        raise ValueError(f"aggfunc must be one of {_PIVOT_AGGS}, got {aggfunc!r}")
    cats = meta[columns].cat.categories
    new_index = pd.Index([], dtype=meta[index].dtype, name=index)
    if isinstance(values, list | tuple):
        col_index: Any = pd.MultiIndex.from_product(
            [value_list, pd.CategoricalIndex(cats)], names=[None, columns]
        )
    else:
        col_index = pd.CategoricalIndex(cats, ordered=meta[columns].cat.ordered, name=columns)
    if aggfunc == "count":
        dtypes = ["int64"] * len(col_index)
    elif aggfunc == "mean":
        dtypes = ["float64"] * len(col_index)
    else:
        per = {v: meta[v].dtype for v in value_list}
        dtypes = [per[c[0]] if isinstance(c, tuple) else per[values] for c in col_index]
    out_meta = pd.DataFrame(
        {i: pd.Series([], dtype=d) for i, d in enumerate(dtypes)}, index=new_index
    )
    out_meta.columns = col_index
    return tree_reduction(
        df,
        _pivot_chunk,
        partial(_pivot_combine, how=aggfunc),
        _PivotAggregate(aggfunc, out_meta),
        out_meta,
        token="pivot-table",
        chunk_kwargs=dict(index=index, columns=columns, values=value_list, how=aggfunc),
    )
