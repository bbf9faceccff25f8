"""``dask.dataframe.tseries.resample``: the resampler of ``DataFrame.resample`` (see
:mod:`taskloom.dataframe.timeseries`, which owns it)."""

from taskloom.dataframe.timeseries import Resampler

__all__ = ["Resampler"]
