"""Profilers, as ``dask.diagnostics``: per-task timing (:class:`Profiler`, plus a
Chrome trace export), the process's CPU and memory over time (:class:`ResourceProfiler`)
and the size of each result while the scheduler holds it (:class:`CacheProfiler`).

The scheduler core records each task's start and end time and worker in Rust (no Python
call per task) and hands the records over when the computation ends. Open the file
written by :meth:`Profiler.write_chrome_trace` in ``chrome://tracing`` or
https://ui.perfetto.dev to see which worker ran what, when. Each profiler's
``visualize()`` draws its results with Bokeh (:func:`taskloom.diagnostics.visualize`).
Results are Dask's namedtuples field for field, so Dask's plotting code reads them too.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Hashable
from timeit import default_timer
from typing import Any, NamedTuple

from taskloom.callbacks import Callback
from taskloom.core import istask

__all__ = ["CacheData", "CacheProfiler", "Profiler", "ResourceData", "ResourceProfiler", "TaskData"]


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

    def _plot(self, **kwargs: Any) -> Any:
        from taskloom.diagnostics.profile_visualize import plot_tasks

        return plot_tasks(self.results, self._dsk, **kwargs)

    def visualize(self, **kwargs: Any) -> Any:
        """Draw the results with Bokeh (see :func:`taskloom.diagnostics.visualize`)."""
        from taskloom.diagnostics.profile_visualize import visualize

        return visualize(self, **kwargs)


def _function_name(task: Any) -> str:
    if type(task) is tuple and task and callable(task[0]):
        from taskloom.delayed import funcname

        return funcname(task[0])
    return "data"


class ResourceData(NamedTuple):
    """One sample: ``time`` (``timeit.default_timer()`` seconds), ``mem`` (resident
    memory in MB, 10**6 bytes) and ``cpu`` (percent of one CPU; above 100 when several
    are busy), of this process and its child processes."""

    time: float
    mem: float
    cpu: float


class _Sampler(threading.Thread):
    """Samples the process's memory and CPU every ``dt`` seconds until stopped.

    A thread, not Dask's separate process: sampling is a few system calls, which
    release the GIL, so it runs alongside tasks; a task holding the GIL delays a
    sample by at most Python's switch interval."""

    def __init__(self, dt: float) -> None:
        super().__init__(daemon=True, name="taskloom-resource-profiler")
        import psutil  # checked by ResourceProfiler before starting

        self.dt = dt
        self.psutil = psutil
        self.parent = psutil.Process(os.getpid())
        self.stop = threading.Event()
        self.data: list[ResourceData] = []

    def run(self) -> None:
        # Children (the processes scheduler's workers) are looked for at every sample,
        # so a pool started after profiling began counts too (Dask looks once per
        # computation). Process objects are kept by pid: cpu_percent measures since the
        # previous call on the same object, and reads 0 on its first.
        procs = {self.parent.pid: self.parent}
        while True:
            tic = default_timer()
            try:
                children = self.parent.children()
            except self.psutil.Error:
                children = []
            alive = {self.parent.pid, *(c.pid for c in children)}
            for c in children:
                procs.setdefault(c.pid, c)
            mem = cpu = 0.0
            for pid in list(procs):
                if pid not in alive:
                    del procs[pid]
                    continue
                try:
                    mem2, cpu2 = procs[pid].memory_info().rss, procs[pid].cpu_percent()
                except self.psutil.Error:
                    continue  # a child that exited meanwhile
                mem += mem2
                cpu += cpu2
            self.data.append(ResourceData(tic, mem / 1e6, cpu))
            if self.stop.wait(self.dt):
                return


class ResourceProfiler(Callback):
    """Record the memory and CPU use of this process (and its children) over time.

    Samples every ``dt`` seconds from a background thread: throughout a ``with``
    block, or while computations run when registered. ``results`` is a list of
    :class:`ResourceData`. Needs ``psutil`` (``pip install 'taskloom[diagnostics]'``).

    Parameters
    ----------
    dt : float
        Seconds between samples.

    Examples
    --------
    >>> import taskloom
    >>> from taskloom.diagnostics import ResourceProfiler
    >>> with ResourceProfiler(dt=0.01) as prof:
    ...     taskloom.get({"a": 1, "b": (abs, "a")}, "b")
    1
    >>> prof.results[0].mem > 0
    True
    """

    def __init__(self, dt: float = 1) -> None:
        super().__init__()
        if not isinstance(dt, (int, float)) or isinstance(dt, bool) or not dt > 0:
            raise ValueError(f"dt must be a positive number of seconds, got {dt!r}")
        self._dt = dt
        self._entered = False
        self._tracker: _Sampler | None = None
        self._lock = threading.Lock()
        self.results: list[ResourceData] = []
        self.start_time: float | None = None
        self.end_time: float | None = None

    def _start_collect(self) -> None:
        try:
            import psutil  # noqa: F401
        except ImportError as e:
            raise ImportError(
                "ResourceProfiler needs the 'psutil' package; install it with "
                "pip install 'taskloom[diagnostics]'"
            ) from e
        with self._lock:
            if self._tracker is None:
                self._tracker = _Sampler(self._dt)
                self._tracker.start()

    def _stop_collect(self) -> None:
        with self._lock:
            tracker, self._tracker = self._tracker, None
        if tracker is not None:
            tracker.stop.set()
            tracker.join()
            self.results.extend(tracker.data)

    def __enter__(self) -> ResourceProfiler:
        self._entered = True
        self.clear()
        self.start_time = default_timer()
        self._start_collect()
        super().__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._entered = False
        self._stop_collect()
        self.end_time = default_timer()
        super().__exit__(*exc)

    def _start(self, dsk: dict) -> None:
        self._start_collect()

    def _finish(self, dsk: dict, state: Any, failed: bool) -> None:
        if not self._entered:
            self._stop_collect()

    def close(self) -> None:
        """Stop sampling (kept results stay)."""
        self._stop_collect()

    def clear(self) -> None:
        """Forget recorded samples."""
        self.results = []
        self.start_time = None
        self.end_time = None

    def _plot(self, **kwargs: Any) -> Any:
        from taskloom.diagnostics.profile_visualize import plot_resources

        return plot_resources(self.results, self.start_time, self.end_time, **kwargs)

    def visualize(self, **kwargs: Any) -> Any:
        """Draw the results with Bokeh (see :func:`taskloom.diagnostics.visualize`)."""
        from taskloom.diagnostics.profile_visualize import visualize

        return visualize(self, **kwargs)


class CacheData(NamedTuple):
    """One result held by the scheduler: its key and task, its size by the profiler's
    metric, and when it was stored and freed (``timeit.default_timer()`` seconds)."""

    key: Hashable
    task: Any
    metric: Any
    cache_time: float
    free_time: float


class CacheProfiler(Callback):
    """Record each task result's size and how long the scheduler held it.

    A result counts as freed once every task reading it has finished (results nothing
    reads, the outputs, at the end of the computation), which is when taskloom's
    scheduler lets it go.

    Parameters
    ----------
    metric : callable, optional
        ``metric(result)`` gives a result's size; default: 1 for every result (a
        count). ``sys.getsizeof`` or ``lambda x: x.nbytes`` measure bytes.
    metric_name : str, optional
        The metric's name in plots (default: the function's name, or ``"count"``).

    Examples
    --------
    >>> import taskloom
    >>> from operator import add, mul
    >>> from taskloom.diagnostics import CacheProfiler
    >>> dsk = {"x": 1, "y": (add, "x", 10), "z": (mul, "y", 2)}
    >>> with CacheProfiler(metric=lambda v: v) as prof:
    ...     taskloom.get(dsk, "z")
    22
    >>> sorted((r.key, r.metric) for r in prof.results)
    [('y', 11), ('z', 22)]
    """

    def __init__(
        self, metric: Callable[[Any], Any] | None = None, metric_name: str | None = None
    ) -> None:
        super().__init__()
        if metric is not None and not callable(metric):
            raise TypeError(f"metric must be callable, got {metric!r}")
        self.clear()
        self._metric = metric or (lambda value: 1)
        if metric_name:
            self._metric_name = metric_name
        elif metric:
            self._metric_name = getattr(metric, "__name__", type(metric).__name__)
        else:
            self._metric_name = "count"

    def __enter__(self) -> CacheProfiler:
        self.clear()
        self.start_time = default_timer()
        super().__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.end_time = default_timer()
        super().__exit__(*exc)

    def _start(self, dsk: dict) -> None:
        from taskloom.dot import dependencies

        self._dsk.update(dsk)
        # How many tasks still have to read each key: at 0 the scheduler frees it.
        deps = {k: dependencies(v, dsk) for k, v in dsk.items()}
        readers: dict[Hashable, int] = dict.fromkeys(dsk, 0)
        for ds in deps.values():
            for d in ds:
                readers[d] += 1
        self._deps, self._readers = deps, readers

    def _posttask(self, key: Hashable, value: Any, dsk: dict, state: Any, worker: int) -> None:
        t = default_timer()
        if istask(self._dsk.get(key)):  # data is not a result (Dask skips it too)
            self._cache[key] = (self._metric(value), t)
        for d in self._deps.get(key, ()):
            self._readers[d] -= 1
            if self._readers[d] == 0 and d in self._cache:
                metric, start = self._cache.pop(d)
                self.results.append(CacheData(d, self._dsk.get(d), metric, start, t))

    def _finish(self, dsk: dict, state: Any, failed: bool) -> None:
        t = default_timer()
        for k, (metric, start) in self._cache.items():
            self.results.append(CacheData(k, self._dsk.get(k), metric, start, t))
        self._cache.clear()

    def clear(self) -> None:
        """Forget recorded results."""
        self.results: list[CacheData] = []
        self._cache: dict[Hashable, tuple[Any, float]] = {}
        self._dsk: dict = {}
        self._deps: dict = {}
        self._readers: dict = {}
        self.start_time: float | None = None
        self.end_time: float | None = None

    def _plot(self, **kwargs: Any) -> Any:
        from taskloom.diagnostics.profile_visualize import plot_cache

        return plot_cache(
            self.results, self._dsk, self.start_time, self.end_time, self._metric_name, **kwargs
        )

    def visualize(self, **kwargs: Any) -> Any:
        """Draw the results with Bokeh (see :func:`taskloom.diagnostics.visualize`)."""
        from taskloom.diagnostics.profile_visualize import visualize

        return visualize(self, **kwargs)
