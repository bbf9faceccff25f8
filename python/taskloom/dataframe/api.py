"""``taskloom.dataframe.api``: the helper classes of dataframe methods under the names
Dask documents them by (``dask.dataframe.api``).

It owns no behaviour: ``GroupBy`` (the base of frame and series groupbys, as Dask's),
``SeriesGroupBy`` and ``Rolling`` are the classes of :mod:`taskloom.dataframe.groupby`
and :mod:`taskloom.dataframe.timeseries`, so ``isinstance`` checks written against
Dask's names hold.

Examples
--------
>>> import pandas as pd, taskloom.dataframe as dd
>>> from taskloom.dataframe.api import GroupBy, SeriesGroupBy
>>> df = dd.from_pandas(pd.DataFrame({"k": [1, 1], "x": [1, 2]}), npartitions=1)
>>> isinstance(df.groupby("k"), GroupBy), isinstance(df.groupby("k").x, SeriesGroupBy)
(True, True)
"""

from __future__ import annotations

from taskloom.dataframe.groupby import GroupBy, SeriesGroupBy
from taskloom.dataframe.timeseries import Rolling

__all__ = ["GroupBy", "Rolling", "SeriesGroupBy"]
