"""``dask.array.lib.stride_tricks``: windows over blocked arrays (see
:mod:`taskloom.array.overlap`, which owns the implementation)."""

from taskloom.array.overlap import sliding_window_view

__all__ = ["sliding_window_view"]
