"""Reshaping at module level, as ``dask.dataframe``: ``melt``, ``get_dummies`` and
``pivot_table``.

Policy (Dask's): ``melt`` and ``get_dummies`` run per partition; the columns they make
must be known without computing, so ``get_dummies`` needs categorical columns with
known categories (``categorize`` first). ``pivot_table`` pivots on a categorical
``columns`` with known categories. ``melt`` and ``pivot_table`` are the collection
methods under Dask's module-level names.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from taskloom.dataframe._primitives import FrameBase, map_partitions

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
    return frame.melt(
        id_vars=id_vars,
        value_vars=value_vars,
        var_name=var_name,
        value_name=value_name,
        col_level=col_level,
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
    return df.pivot_table(index=index, columns=columns, values=values, aggfunc=aggfunc)
