"""Scheduler callbacks: the hook points diagnostics are built on, as in ``dask.callbacks``.

A :class:`Callback` has up to five hooks, called on the thread that called ``get``:

- ``start(dsk)``: before the graph is converted;
- ``start_state(dsk, state)``: once the graph is ordered, before the first task
  (``finish`` is called even if this never is, e.g. on a cycle); ``state`` is a live
  ``taskloom._core.Progress`` (``state.total``, ``state.finished``), readable from other
  threads (Dask passes its scheduler's dict of sets here; taskloom has no such dict);
- ``pretask(key, dsk, state)``: before a task starts;
- ``posttask(key, result, dsk, state, worker_id)``: after it finished (worker 0 is the
  calling thread, workers 1, 2, ... the pool);
- ``finish(dsk, state, errored)``: after the last task, or after a failure.

Active callbacks are those registered globally (:meth:`Callback.register`), those of
enclosing ``with`` blocks, and those passed to ``get(..., callbacks=)``; Dask's own
(``dask.callbacks.Callback`` and the diagnostics built on it, ``ProgressBar``,
``Profiler``...) count too, active or passed, once Dask is imported, so a Dask
``ProgressBar`` around ``dask.compute(x, scheduler=taskloom.get)`` draws. Dask's hooks
get a read-only stand-in for Dask's state dict: ``len(state["finished"])`` and the
other sets' sizes are right; the sets themselves are empty (taskloom keeps counts, not
sets of keys). With none active,
``get`` calls the core directly and pays nothing per task; ``pretask``/``posttask`` cost
a Python call per task only when some active callback defines them.

Examples
--------
>>> from taskloom.callbacks import Callback
>>> import taskloom
>>> seen = []
>>> with Callback(posttask=lambda key, result, dsk, state, worker: seen.append(key)):
...     taskloom.get_sync({"a": 1, "b": (abs, "a")}, "b")
1
>>> sorted(seen)
['a', 'b']
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from typing import Any, ClassVar

from taskloom import _core
from taskloom._dask_compat import as_graph, node_types

__all__ = ["Callback", "run"]


class Callback:
    """Base class for scheduler callbacks; pass hooks as arguments or override them.

    Parameters
    ----------
    start, start_state, pretask, posttask, finish : callable, optional
        The hooks described in the module documentation.
    """

    active: ClassVar[set[Callback]] = set()
    # Subclasses that need per-task timings (the Profiler) set this; the core then
    # records them in Rust and passes them to `_profile_records`.
    _wants_profile: ClassVar[bool] = False

    def __init__(
        self,
        start: Callable | None = None,
        start_state: Callable | None = None,
        pretask: Callable | None = None,
        posttask: Callable | None = None,
        finish: Callable | None = None,
    ) -> None:
        if start:
            self._start = start
        if start_state:
            self._start_state = start_state
        if pretask:
            self._pretask = pretask
        if posttask:
            self._posttask = posttask
        if finish:
            self._finish = finish

    @property
    def _callback(self) -> tuple:
        fields = ["_start", "_start_state", "_pretask", "_posttask", "_finish"]
        return tuple(getattr(self, f, None) for f in fields)

    def __enter__(self) -> Callback:
        self._cm = _Active(self)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._cm.__exit__(*exc)

    def register(self) -> None:
        """Make this callback active for every computation until :meth:`unregister`."""
        Callback.active.add(self)

    def unregister(self) -> None:
        """Undo :meth:`register`."""
        Callback.active.discard(self)

    def _profile_records(self, records: list[tuple[Hashable, float, float, int]]) -> None:
        """Receive ``(key, start, end, worker_id)`` per task when ``_wants_profile``."""


class _Active:
    def __init__(self, callback: Callback) -> None:
        self.callback = callback
        self.added = False

    def __enter__(self) -> None:
        if self.callback not in Callback.active:
            Callback.active.add(self.callback)
            self.added = True

    def __exit__(self, *exc: object) -> None:
        if self.added:
            Callback.active.discard(self.callback)


class _Size:
    """An empty set that reports a size: what Dask's hooks read of its state's sets."""

    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator:
        return iter(())

    def __contains__(self, x: object) -> bool:
        return False

    def __and__(self, other: Any) -> set:
        return set()

    __rand__ = __and__


class _DaskState(Mapping):
    """Dask's scheduler state dict as its hooks read it, from taskloom's counters."""

    __slots__ = ("progress",)

    def __init__(self, progress: Any) -> None:
        self.progress = progress

    def __getitem__(self, name: str) -> Any:
        p = self.progress
        if name == "finished":
            return _Size(p.finished)
        if name == "waiting":
            return _Size(max(p.total - p.finished, 0))
        if name in _DASK_STATE_KEYS:
            return _Size(0)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(_DASK_STATE_KEYS)

    def __len__(self) -> int:
        return len(_DASK_STATE_KEYS)


_DASK_STATE_KEYS = (
    "cache", "dependencies", "dependents", "waiting", "waiting_data", "ready", "running",
    "finished", "released",
)  # fmt: skip


class _DaskCallback:
    """A Dask callback's hooks, given a :class:`_DaskState` where taskloom's pass its
    ``Progress``."""

    _wants_profile = False

    def __init__(self, hooks: tuple) -> None:
        start, start_state, pretask, posttask, finish = hooks
        self._start = start
        self._start_state = start_state and (lambda dsk, s: start_state(dsk, _DaskState(s)))
        self._pretask = pretask and (lambda key, dsk, s: pretask(key, dsk, _DaskState(s)))
        self._posttask = posttask and (
            lambda key, result, dsk, s, worker: posttask(key, result, dsk, _DaskState(s), worker)
        )
        self._finish = finish and (lambda dsk, s, errored: finish(dsk, _DaskState(s), errored))


def _is_dask_callback(cb: Any) -> bool:
    return type(cb).__module__.partition(".")[0] == "dask"


def _dask_active() -> list:
    """Dask's active callbacks (``dask.callbacks.Callback.active`` holds hook tuples)."""
    module = sys.modules.get("dask.callbacks")
    return [_DaskCallback(h) for h in module.Callback.active] if module is not None else []


class _Hooks:
    """What the core reads: see rust/taskloom-py/src/hooks.rs."""

    __slots__ = ("posttask", "pretask", "profile", "progress", "records", "start_state")

    def __init__(self) -> None:
        self.start_state = self.pretask = self.posttask = None
        self.progress = _core.Progress()
        self.profile = False
        self.records: list = []


def run(
    dsk: dict,
    keys: Any,
    num_workers: int,
    callbacks: Iterable[Callback] | None,
    optimize_graph: bool = True,
    priorities: dict | None = None,
    lowered: bool = False,
) -> Any:
    """Run ``_core.get`` with the active callbacks wired in (the ``get`` functions' core);
    ``priorities`` (key -> number) decide among ready tasks, highest first. Unless
    ``lowered`` (``prepare`` did it: see its ``scan``), Dask's graph nodes among
    ``dsk``'s values are lowered here: found by the native converter, which stops before
    any task runs, or first when callbacks are to see the graph."""
    active: list = [*Callback.active, *_dask_active()]
    if callbacks:
        active += [
            _DaskCallback(c._callback) if _is_dask_callback(c) else c
            for c in callbacks
            if c not in Callback.active
        ]
    # A dict from ``prepare(..., scan=False)``; a Delayed graph holds no Dask nodes.
    nodes = None if lowered or not isinstance(dsk, dict) else node_types()
    if not active:
        try:
            return _core.get(dsk, keys, num_workers, None, optimize_graph, priorities, nodes)
        except _core.ForeignGraph:
            pass  # lowered outside the handler: its errors are not chained to the signal
        dsk = as_graph(dsk)
        return _core.get(dsk, keys, num_workers, None, optimize_graph, priorities)
    if nodes is not None:
        dsk = as_graph(dsk)
    hooks = _Hooks()
    state = hooks.progress
    for cb in active:
        if getattr(cb, "_start", None):
            cb._start(dsk)
    starts = [cb._start_state for cb in active if getattr(cb, "_start_state", None)]
    if starts:

        def start_state() -> None:
            for f in starts:
                f(dsk, state)

        hooks.start_state = start_state
    pre = [cb._pretask for cb in active if getattr(cb, "_pretask", None)]
    post = [cb._posttask for cb in active if getattr(cb, "_posttask", None)]
    if pre:

        def pretask(key: Hashable) -> None:
            for f in pre:
                f(key, dsk, state)

        hooks.pretask = pretask
    if post:

        def posttask(key: Hashable, result: Any, worker_id: int) -> None:
            for f in post:
                f(key, result, dsk, state, worker_id)

        hooks.posttask = posttask
    profilers = [cb for cb in active if cb._wants_profile]
    hooks.profile = bool(profilers)
    errored = True
    try:
        result = _core.get(dsk, keys, num_workers, hooks, optimize_graph, priorities)
        errored = False
        return result
    finally:
        for cb in profilers:
            cb._profile_records(hooks.records)
        for cb in active:
            if getattr(cb, "_finish", None):
                cb._finish(dsk, state, errored)
