"""A live text progress bar, as ``dask.diagnostics.ProgressBar``.

A background thread reads the computation's counters (``state.finished`` and
``state.total``, kept by the scheduler core without calling into Python per task) every
``dt`` seconds and redraws one line. Nothing is drawn for computations shorter than
``minimum`` seconds, so quick computes stay quiet.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any

from taskloom.callbacks import Callback

__all__ = ["ProgressBar"]


class ProgressBar(Callback):
    """Show a progress bar while computing.

    Parameters
    ----------
    minimum : float
        Draw nothing for computations shorter than this many seconds (default 0.1).
    width : int
        Width of the bar in characters.
    dt : float
        Seconds between redraws.
    out : file, optional
        Where to write (default ``sys.stdout``).

    Examples
    --------
    >>> import taskloom, io
    >>> from taskloom.diagnostics import ProgressBar
    >>> out = io.StringIO()
    >>> with ProgressBar(minimum=0, out=out):
    ...     taskloom.get_sync({"a": 1, "b": (abs, "a")}, "b")
    1
    >>> "100% Completed | 2/2 tasks" in out.getvalue()
    True
    """

    def __init__(
        self, minimum: float = 0.1, width: int = 40, dt: float = 0.1, out: IO[str] | None = None
    ) -> None:
        super().__init__()
        if width < 1 or dt <= 0 or minimum < 0:
            raise ValueError("ProgressBar needs width >= 1, dt > 0 and minimum >= 0")
        self._minimum = minimum
        self._width = width
        self._dt = dt
        self._file = out
        self.last_duration = 0.0
        self._thread: threading.Thread | None = None

    def _start(self, dsk: dict) -> None:
        self._thread = None

    @property
    def _out(self) -> IO[str]:
        return self._file if self._file is not None else sys.stdout

    def _start_state(self, dsk: dict, state: Any) -> None:
        self._state = state
        self._start_time = time.perf_counter()
        self._shown = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._timer, name="taskloom-progress", daemon=True)
        self._thread.start()

    def _timer(self) -> None:
        while not self._stop.wait(self._dt):
            elapsed = time.perf_counter() - self._start_time
            if elapsed >= self._minimum:
                self._draw(elapsed)

    def _finish(self, dsk: dict, state: Any, errored: bool) -> None:
        if self._thread is None:  # failed before the first task
            return
        self._stop.set()
        self._thread.join()
        elapsed = time.perf_counter() - self._start_time
        self.last_duration = elapsed
        if elapsed < self._minimum and not self._shown:
            return
        self._draw(elapsed)
        self._out.write("\n")
        self._out.flush()

    def _draw(self, elapsed: float) -> None:
        done, total = self._state.finished, self._state.total
        fraction = done / total if total else 1.0
        bar = "#" * int(self._width * fraction)
        line = (
            f"\r[{bar:<{self._width}}] | {fraction:4.0%} Completed | {done}/{total} tasks"
            f" | {_format_time(elapsed)}"
        )
        self._out.write(line)
        self._out.flush()
        self._shown = True


def _format_time(t: float) -> str:
    """Elapsed time in fixed-width fields, so the bar does not jitter.

    Examples
    --------
    >>> _format_time(3.21), _format_time(125.0)
    (' 3.2s', ' 2min  5.0s')
    """
    m, s = divmod(t, 60)
    h, m = divmod(m, 60)
    if h:
        return f"{h:2.0f}hr {m:2.0f}min {s:4.1f}s"
    if m:
        return f"{m:2.0f}min {s:4.1f}s"
    return f"{s:4.1f}s"
