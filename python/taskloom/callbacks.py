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
enclosing ``with`` blocks, and those passed to ``get(..., callbacks=)``. With none active,
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

from collections.abc import Callable, Hashable, Iterable
from typing import Any, ClassVar

from taskloom import _core

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
) -> Any:
    """Run ``_core.get`` with the active callbacks wired in (the ``get`` functions' core)."""
    active = list(Callback.active)
    if callbacks:
        active += [c for c in callbacks if c not in Callback.active]
    if not active:
        return _core.get(dsk, keys, num_workers, None, optimize_graph)
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
        result = _core.get(dsk, keys, num_workers, hooks, optimize_graph)
        errored = False
        return result
    finally:
        for cb in profilers:
            cb._profile_records(hooks.records)
        for cb in active:
            if getattr(cb, "_finish", None):
                cb._finish(dsk, state, errored)
