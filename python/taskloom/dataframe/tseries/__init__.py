"""Time-series operations at Dask's ``dask.dataframe.tseries`` paths (the code lives in
:mod:`taskloom.dataframe.timeseries`)."""

from taskloom.dataframe.tseries import resample

__all__ = ["resample"]
