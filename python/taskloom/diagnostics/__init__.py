"""Diagnostics for local computations: a progress bar, a task profiler, and the
:class:`Callback` base class to write your own (see :mod:`taskloom.callbacks`)."""

from taskloom.callbacks import Callback
from taskloom.diagnostics.profile import Profiler, TaskData
from taskloom.diagnostics.progress import ProgressBar

__all__ = ["Callback", "Profiler", "ProgressBar", "TaskData"]
