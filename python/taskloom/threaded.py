"""The default scheduler: the calling thread plus a native pool of worker threads.

Small tasks that hold the GIL run on the calling thread, inline, with no thread
handoff; tasks whose callable has been seen to take long (numpy, pandas, I/O,
``time.sleep``: work that usually releases the GIL) run on up to ``num_workers``
worker threads at once. See ``rust/taskloom-py/src/exec.rs`` for the policy.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from taskloom._graph import num_workers as resolve_num_workers
from taskloom._graph import prepare
from taskloom.annotations import priorities
from taskloom.callbacks import Callback, run


def get(
    dsk: Mapping,
    keys: Hashable | list,
    cache: Mapping | None = None,
    num_workers: int | None = None,
    pool: Any = None,
    callbacks: list[Callback] | None = None,
    optimize_graph: bool = True,
    annotations: Mapping | None = None,
    **kwargs: Any,
) -> Any:
    """Compute ``keys`` from the task graph ``dsk`` with threads.

    Parameters
    ----------
    dsk : dict
        A Dask task graph: keys (``str`` or tuples such as ``("x", 0, 1)``) mapped to
        literals, tasks ``(callable, *args)``, or other keys (aliases). Arguments may be
        keys, nested tasks, lists, tuples, sets and dicts of those, or literals.
    keys : key or (nested) list of keys
        What to compute; the result has the same nesting, with tuples for lists (as
        in Dask).
    cache : dict, optional
        Results known in advance, by key; they replace the tasks of those keys.
    num_workers : int, optional
        Most tasks to run on worker threads at once; defaults to the ``num_workers``
        setting (:mod:`taskloom.config`), else the number of CPUs. ``1`` runs everything
        on the calling thread.
    pool : None
        Accepted for compatibility with ``dask.threaded.get``; taskloom runs tasks on its
        own native pool, so only ``None`` is allowed.
    callbacks : list of taskloom.callbacks.Callback, optional
        Callbacks for this computation, in addition to the active ones.
    optimize_graph : bool
        Run linear chains of tasks as units (default): a chain of GIL-releasing
        tasks goes to one worker as one job. ``False`` schedules every task on its
        own. Culling, running only what ``keys`` need, always happens.
    annotations : mapping, optional
        Annotations by key, as ``compute`` collects them from the collections (see
        :mod:`taskloom.annotations`); of these, ``priority`` is honoured: of the
        tasks ready to run, the one of highest priority goes first.

    Returns
    -------
    The result of each requested key, in the shape of ``keys``.

    Raises
    ------
    KeyError
        A requested key is not in the graph.
    taskloom.CycleError
        The needed part of the graph has a cycle (raised before anything runs).
    Exception
        Whatever a task raised, with a note naming its key.

    Examples
    --------
    >>> from operator import add
    >>> from taskloom.threaded import get
    >>> dsk = {"a": 1, "b": (add, "a", 1), "c": (add, "b", ("a"))}
    >>> get(dsk, ["c", ["a", "b"]])
    (3, (1, 2))
    """
    if pool is not None:
        raise ValueError(
            "taskloom runs tasks on its own native thread pool; pass num_workers= instead of pool="
        )
    num_workers = resolve_num_workers(num_workers)
    dsk = prepare(dsk, cache, kwargs, "get", scan=False)  # run() lowers Dask's nodes
    lowered = bool(cache)  # prepare lowers a graph with a cache itself
    return run(dsk, keys, num_workers, callbacks, optimize_graph, priorities(annotations), lowered)
