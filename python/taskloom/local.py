"""The single-threaded scheduler: every task runs on the calling thread, in order.

Use it for debugging (``pdb`` and profilers see ordinary calls) and for graphs of
tiny tasks, where it is as fast as the threaded scheduler.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from taskloom import _core
from taskloom._graph import prepare


def get_sync(
    dsk: Mapping, keys: Hashable | list, cache: Mapping | None = None, **kwargs: Any
) -> Any:
    """Compute ``keys`` from the task graph ``dsk`` on the calling thread.

    Same graph format, arguments and errors as :func:`taskloom.threaded.get`.

    Examples
    --------
    >>> from operator import mul
    >>> from taskloom.local import get_sync
    >>> get_sync({"x": 3, "y": (mul, "x", "x")}, "y")
    9
    """
    dsk = prepare(dsk, cache, kwargs, "get_sync")
    return _core.get(dsk, keys, 0)


get = get_sync
