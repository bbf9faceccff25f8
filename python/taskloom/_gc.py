"""The cyclic garbage collector paused while graphs are built, lowered or unpacked.

Lowering Dask's graphs, converting a dict graph, building a cluster's pieces and
unpickling one on a worker make objects by the hundred thousand and free none, so every
collection those allocations trigger finds nothing, and each full one walks the whole
heap: measured, with the collector on, Dask's optimizer and the conversion took 1.3-2x
as long at 10^4-10^5 tasks, and unpickling a piece of 20,000 tasks 10-40x as long as
running it. Pauses nest across threads: the collector is enabled again (if it was) when
the last one ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]

_lock = threading.Lock()
_pauses = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector off for the ``with`` block (see the module)."""
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()
