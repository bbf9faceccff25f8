"""``taskloom.dataframe``: pandas DataFrames made of partitions along the index, as
``dask.dataframe``.

Modules: :mod:`~taskloom.dataframe.core` (the collections, row-wise operations,
reductions), :mod:`~taskloom.dataframe.groupby`, :mod:`~taskloom.dataframe.shuffle`
(repartition, set_index, sort_values, hash shuffles), :mod:`~taskloom.dataframe.multi`
(merge, join, concat, merge_asof), :mod:`~taskloom.dataframe.timeseries` (resample,
rolling, cumulative operations), :mod:`~taskloom.dataframe.io` (pandas, numpy, arrays,
``from_map``, CSV and other delimited text, Parquet),
:mod:`~taskloom.dataframe.io_formats` (JSON, ORC, HDF5), :mod:`~taskloom.dataframe.io_sql`
(SQL through SQLAlchemy), :mod:`~taskloom.dataframe.reshape` (melt, get_dummies,
pivot_table), :mod:`~taskloom.dataframe.tools` (to_datetime, to_numeric, to_timedelta,
map_overlap); each states its policy.

Examples
--------
>>> import pandas as pd
>>> import taskloom.dataframe as dd
>>> pdf = pd.DataFrame({"name": list("abcabc"), "x": [1.0, 2, 3, 4, 5, 6]})
>>> df = dd.from_pandas(pdf, npartitions=2)
>>> df[df.x > 1].groupby("name").x.mean().compute()
name
a    4.0
b    3.5
c    4.5
Name: x, dtype: float64
"""

from __future__ import annotations

from taskloom.base import compute, persist
from taskloom.dataframe.core import DataFrame, Index, Scalar, Series, map_partitions
from taskloom.dataframe.groupby import Aggregation
from taskloom.dataframe.io import (
    from_array,
    from_dask_array,
    from_delayed,
    from_dict,
    from_map,
    from_pandas,
    read_csv,
    read_fwf,
    read_parquet,
    read_table,
    to_csv,
    to_parquet,
    to_records,
)
from taskloom.dataframe.io_formats import read_hdf, read_json, read_orc, to_hdf, to_json, to_orc
from taskloom.dataframe.io_sql import read_sql, read_sql_query, read_sql_table, to_sql
from taskloom.dataframe.multi import concat, merge, merge_asof
from taskloom.dataframe.reshape import get_dummies, melt, pivot_table
from taskloom.dataframe.tools import (
    isna,
    map_overlap,
    repartition,
    to_bag,
    to_datetime,
    to_numeric,
    to_timedelta,
)
from taskloom.dataframe.utils import assert_eq, get_collection_type

__all__ = [
    "Aggregation",
    "DataFrame",
    "Index",
    "Scalar",
    "Series",
    "assert_eq",
    "compute",
    "concat",
    "from_array",
    "from_dask_array",
    "from_delayed",
    "from_dict",
    "from_map",
    "from_pandas",
    "get_collection_type",
    "get_dummies",
    "isna",
    "map_overlap",
    "map_partitions",
    "melt",
    "merge",
    "merge_asof",
    "persist",
    "pivot_table",
    "read_csv",
    "read_fwf",
    "read_hdf",
    "read_json",
    "read_orc",
    "read_parquet",
    "read_sql",
    "read_sql_query",
    "read_sql_table",
    "read_table",
    "repartition",
    "to_bag",
    "to_csv",
    "to_datetime",
    "to_hdf",
    "to_json",
    "to_numeric",
    "to_orc",
    "to_parquet",
    "to_records",
    "to_sql",
    "to_timedelta",
]
