"""The single-threaded scheduler: every task runs on the calling thread, in order.

Use it for debugging (``pdb`` and profilers see ordinary calls) and for graphs of
tiny tasks, where it is as fast as the threaded scheduler.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from taskloom._graph import prepare
from taskloom.annotations import priorities
from taskloom.callbacks import Callback, run


def get_sync(
    dsk: Mapping,
    keys: Hashable | list,
    cache: Mapping | None = None,
    num_workers: int | None = None,
    callbacks: list[Callback] | None = None,
    optimize_graph: bool = True,
    annotations: Mapping | None = None,
    **kwargs: Any,
) -> Any:
    """Compute ``keys`` from the task graph ``dsk`` on the calling thread.

    Same graph format, arguments and errors as :func:`taskloom.threaded.get`;
    ``num_workers`` is accepted (so ``compute(..., num_workers=)`` works with any
    scheduler) and ignored. ``annotations``: their ``priority`` orders the tasks
    that are ready, highest first.

    Examples
    --------
    >>> from operator import mul
    >>> from taskloom.local import get_sync
    >>> get_sync({"x": 3, "y": (mul, "x", "x")}, "y")
    9
    """
    dsk = prepare(dsk, cache, kwargs, "get_sync", scan=False)  # run() lowers Dask's nodes
    lowered = bool(cache)  # prepare lowers a graph with a cache itself
    return run(dsk, keys, 0, callbacks, optimize_graph, priorities(annotations), lowered)


get = get_sync
