"""Diagnostics for local computations: a progress bar, profilers of tasks, resources
and cached results (drawn with :func:`visualize`), and the :class:`Callback` base class
to write your own (see :mod:`taskloom.callbacks`)."""

from taskloom.callbacks import Callback
from taskloom.diagnostics.profile import (
    CacheData,
    CacheProfiler,
    Profiler,
    ResourceData,
    ResourceProfiler,
    TaskData,
)
from taskloom.diagnostics.profile_visualize import visualize
from taskloom.diagnostics.progress import ProgressBar

__all__ = [
    "CacheData",
    "CacheProfiler",
    "Callback",
    "Profiler",
    "ProgressBar",
    "ResourceData",
    "ResourceProfiler",
    "TaskData",
    "visualize",
]
