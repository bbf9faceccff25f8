"""NumPy's ``lib`` functions for blocked arrays, at Dask's paths (``dask.array.lib``)."""

from taskloom.array.lib import stride_tricks

__all__ = ["stride_tricks"]
