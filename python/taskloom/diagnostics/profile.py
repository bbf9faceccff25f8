"""Per-task timing, as ``dask.diagnostics.Profiler``, plus a Chrome trace export.

The scheduler core records each task's start and end time and worker in Rust (no Python
call per task) and hands the records over when the computation ends. Open the file
written by :meth:`Profiler.write_chrome_trace` in ``chrome://tracing`` or
https://ui.perfetto.dev to see which worker ran what, when.
"""

from __future__ import annotations

import json
import os
from collections.abc import Hashable
from typing import Any, NamedTuple

from taskloom.callbacks import Callback

__all__ = ["Profiler", "TaskData"]


class TaskData(NamedTuple):
    """One task's run: its key and task, start and end (``time.perf_counter()``
    seconds), and worker (0 is the calling thread, 1, 2... the pool's threads)."""

    key: Hashable
    task: Any
    start_time: float
    end_time: float
    worker_id: int


class Profiler(Callback):
    """Record when and where every task ran.

    ``results`` accumulates :class:`TaskData` over all computations made inside the
    ``with`` block (or while registered); :meth:`clear` empties it.

    Examples
    --------
    >>> import taskloom
    >>> from taskloom.diagnostics import Profiler
    >>> with Profiler() as prof:
    ...     taskloom.get({"a": 1, "b": (abs, "a")}, "b")
    1
    >>> sorted(r.key for r in prof.results)
    ['a', 'b']
    """

    _wants_profile = True

    def __init__(self) -> None:
        super().__init__()
        self.results: list[TaskData] = []
        self._dsk: dict = {}

    def __enter__(self) -> Profiler:
        self.clear()
        super().__enter__()
        return self

    def _start(self, dsk: dict) -> None:
        self._dsk = dsk

    def _profile_records(self, records: list[tuple[Hashable, float, float, int]]) -> None:
        dsk = self._dsk
        self.results.extend(
            TaskData(key, dsk.get(key), start, end, worker)
            for key, start, end, worker in sorted(records, key=lambda r: r[1])
        )

    def clear(self) -> None:
        """Forget recorded tasks."""
        self.results = []
        self._dsk = {}

    def chrome_trace(self) -> dict:
        """The records as a Chrome trace-event document (``{"traceEvents": [...]}``)."""
        if not self.results:
            return {"traceEvents": []}
        origin = min(r.start_time for r in self.results)
        pid = os.getpid()
        events: list[dict[str, Any]] = [
            {
                "name": "thread_name",
                "ph": "M",
                "pid": pid,
                "tid": worker,
                "args": {"name": "caller" if worker == 0 else f"worker {worker}"},
            }
            for worker in sorted({r.worker_id for r in self.results})
        ]
        for r in self.results:
            events.append(
                {
                    "name": str(r.key),
                    "cat": _function_name(r.task),
                    "ph": "X",
                    "ts": (r.start_time - origin) * 1e6,
                    "dur": max((r.end_time - r.start_time) * 1e6, 0.001),
                    "pid": pid,
                    "tid": r.worker_id,
                    "args": {"key": str(r.key), "function": _function_name(r.task)},
                }
            )
        return {"traceEvents": events, "displayTimeUnit": "ms"}

    def write_chrome_trace(self, path: str | os.PathLike) -> None:
        """Write :meth:`chrome_trace` as JSON to ``path``."""
        with open(path, "w") as f:
            json.dump(self.chrome_trace(), f)


def _function_name(task: Any) -> str:
    if type(task) is tuple and task and callable(task[0]):
        from taskloom.delayed import funcname

        return funcname(task[0])
    return "data"
