"""``compute``, ``persist``, ``visualize`` and the collection protocol they rely on.

A collection is any object with Dask's collection methods, so taskloom's ``delayed``,
bags, arrays and dataframes (and Dask's own collections) all go through the same code:

- ``__dask_graph__()``: a mapping from keys to tasks;
- ``__dask_keys__()``: the (nested list of) keys holding the collection's parts;
- ``__dask_postcompute__()``: ``(finalize, extra_args)``; the computed value is
  ``finalize(results, *extra_args)`` where ``results`` has the shape of the keys;
- ``__dask_postpersist__()``: ``(rebuild, extra_args)``; the persisted collection is
  ``rebuild(dsk, *extra_args)`` where ``dsk`` maps each key to its computed value;
- ``__dask_scheduler__``: the default ``get`` function (a staticmethod);
- optionally ``__dask_layers__``/``__dask_tokenize__``, used by Dask but not needed here.

Scheduler choice, most specific first: ``scheduler=`` (a name, a ``get`` function, or
a cluster client), the ``scheduler`` setting of :mod:`taskloom.config`, the
collections' own ``__dask_scheduler__``. Graphs of all arguments are merged and run in
one ``get`` call, so sub-graphs they share are computed once.

Dask's own collections (when every collection found is one that is not taskloom's) go
through Dask's ``compute``/``persist`` with a taskloom scheduler, so they get what Dask
gives them: its expression optimizer (column projection, predicate pushdown), its
finalizing and its rebuilding of persisted collections. With no scheduler named and
none in :mod:`taskloom.config`, Dask's own choice (its ``scheduler`` setting, a default
``distributed`` client, the collection's default) is taken, with Dask's local
schedulers replaced by taskloom's counterparts: a Dask array runs on taskloom's
threads, a Dask bag on taskloom's processes.

Arguments are searched for collections where Dask's ``compute`` searches: lists,
tuples, sets (and frozensets), dicts (keys and values), named tuples and dataclasses,
which are rebuilt around the computed values; an iterator is read into a list.
"""

from __future__ import annotations

import dataclasses
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from taskloom import _core, config, local, multiprocessing, threaded
from taskloom.annotations import collect as collect_annotations

__all__ = [
    "DaskMethodsMixin",
    "compute",
    "get_scheduler",
    "is_dask_collection",
    "persist",
    "visualize",
]

SCHEDULER_NAMES: dict[str, Callable] = {
    "sync": local.get_sync,
    "synchronous": local.get_sync,
    "single-threaded": local.get_sync,
    "threads": threaded.get,
    "threading": threaded.get,
    "processes": multiprocessing.get,
    "multiprocessing": multiprocessing.get,
}


def is_dask_collection(x: Any) -> bool:
    """Whether ``x`` is a collection (has a graph to compute), not a plain value.

    Examples
    --------
    >>> import taskloom
    >>> is_dask_collection(taskloom.delayed(1)), is_dask_collection(1)
    (True, False)
    """
    if isinstance(x, _core.DelayedBase):
        return True  # without assembling its graph, which __dask_graph__() would do
    method = getattr(x, "__dask_graph__", None)
    if method is None or isinstance(x, type):
        return False
    try:
        return method() is not None
    except TypeError:
        return False


def get_scheduler(scheduler: Any = None, collections: list | None = None) -> Callable:
    """The ``get`` function to run with.

    Parameters
    ----------
    scheduler : str or callable, optional
        ``"sync"``/``"synchronous"``/``"single-threaded"``, ``"threads"``/``"threading"``,
        ``"processes"``/``"multiprocessing"``, a function with ``get``'s signature, or an
        object with a ``get`` method (a ``distributed.Client``).
    collections : list, optional
        Collections whose ``__dask_scheduler__`` is the fallback.

    Raises
    ------
    ValueError
        For an unknown scheduler name; the message lists the valid ones.

    Examples
    --------
    >>> get_scheduler("sync").__name__
    'get_sync'
    """
    if scheduler is None:
        scheduler = config.get("scheduler", None)
    if scheduler is None:
        for c in collections or ():
            default = getattr(c, "__dask_scheduler__", None)
            if default is not None:
                return taskloom_equivalent(default)
        return threaded.get
    if isinstance(scheduler, str):
        name = scheduler.lower()
        if name in SCHEDULER_NAMES:
            return SCHEDULER_NAMES[name]
        raise ValueError(
            f"unknown scheduler {scheduler!r}; expected one of {sorted(SCHEDULER_NAMES)} "
            "or a get function"
        )
    if is_cluster_client(scheduler):
        return ClusterGet(scheduler)
    get = getattr(scheduler, "get", None)  # an object with a get method
    if callable(scheduler) and not callable(get):
        return scheduler
    if callable(get):
        return get
    raise ValueError(f"scheduler must be a name or a get function, got {scheduler!r}")


# Dask's local get functions, by module and name, and taskloom's counterparts.
_DASK_GETS = (
    ("dask.local", "get_sync", local.get_sync),
    ("dask.threaded", "get", threaded.get),
    ("dask.multiprocessing", "get", multiprocessing.get),
)


def taskloom_equivalent(get: Any) -> Any:
    """taskloom's counterpart of one of Dask's local ``get`` functions, else ``get``.

    Examples
    --------
    >>> import dask.threaded, taskloom
    >>> taskloom_equivalent(dask.threaded.get) is taskloom.threaded.get
    True
    """
    for module, name, ours in _DASK_GETS:
        found = sys.modules.get(module)
        if found is not None and getattr(found, name, None) is get:
            return ours
    return get


def _is_foreign(c: Any) -> bool:
    """Whether collection ``c`` is not one of taskloom's (Dask's own, or a subclass)."""
    return type(c).__module__.partition(".")[0] != "taskloom"


def _scheduler_for_dask(scheduler: Any, collections: list, persist: bool = False) -> Any:
    """What to pass as ``scheduler=`` to Dask's ``compute``/``persist`` for Dask's
    collections: taskloom's ``get`` where Dask would take one of its local schedulers,
    for ``compute`` on a cluster client a :class:`ClusterGet` (the graph runs in
    pieces; ``persist`` leaves the client to Dask, whose futures stay on the workers),
    anything else (an executor) as Dask would take it."""
    if scheduler is None:
        scheduler = config.get("scheduler", None)
    if is_cluster_client(scheduler) and not persist:
        return ClusterGet(scheduler)
    if scheduler is None:
        import dask.base

        return taskloom_equivalent(dask.base.get_scheduler(collections=collections))
    if isinstance(scheduler, str):
        # taskloom's names; any other ("distributed") is for Dask to read.
        return SCHEDULER_NAMES.get(scheduler.lower(), scheduler)
    return taskloom_equivalent(scheduler)


def _through_dask(
    post: Callable, args: tuple, traverse: bool, scheduler: Any, optimize_graph: bool, kwargs: dict
) -> tuple:
    """``dask.compute`` (``post`` is ``_finalized``) or ``dask.persist`` of ``args``, on
    taskloom's schedulers."""
    import dask

    found: list = []
    for a in args:
        _find(a, found, traverse)
    chosen = _scheduler_for_dask(scheduler, found, post is not _finalized)
    settings: dict = {}
    if isinstance(chosen, ClusterGet):
        # With a client, Dask would shuffle and rechunk peer to peer, through its
        # scheduler's extension, which tasks run in taskloom's pieces cannot reach; so
        # by tasks, unless the user asked for p2p, whom Dask's own client then serves.
        asked = [dask.config.get(k, None) for k in _P2P_SETTINGS]
        if "p2p" in asked:
            chosen = chosen.client
        else:
            settings = {k: "tasks" for k, v in zip(_P2P_SETTINGS, asked, strict=True) if not v}
    with dask.config.set(settings):
        return (dask.compute if post is _finalized else dask.persist)(
            *args, traverse=traverse, optimize_graph=optimize_graph, scheduler=chosen, **kwargs
        )


_P2P_SETTINGS = ("dataframe.shuffle.method", "array.rechunk.method")


# --- gathering collections from arguments -----------------------------------------------


def _find(obj: Any, found: list, traverse: bool) -> Any:
    """Replace each collection in ``obj`` by a placeholder; record it in ``found``.

    Traversed as by Dask's ``compute``: lists, tuples, sets (and frozensets), dicts
    (keys and values), named tuples and dataclasses; an iterator is read into a list.
    """
    if is_dask_collection(obj):
        found.append(obj)
        return _Slot(len(found) - 1)
    if not traverse:
        return obj
    if isinstance(obj, Iterator):
        obj = list(obj)  # as Dask: the result is a list, whatever it holds
    t = type(obj)
    if t in (list, tuple, set, frozenset):
        items = [_find(x, found, traverse) for x in obj]
        return _Rebuild(t, items) if any(map(_changed, items)) else obj
    if t is dict or t is OrderedDict:
        pairs = [(_find(k, found, traverse), _find(v, found, traverse)) for k, v in obj.items()]
        return _Rebuild(t, pairs) if any(_changed(k) or _changed(v) for k, v in pairs) else obj
    if isinstance(obj, tuple) and hasattr(t, "_fields"):  # a named tuple
        items = [_find(x, found, traverse) for x in obj]
        return _Rebuild(t, items, spread=True) if any(map(_changed, items)) else obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        # Rebuilt from its fields, passed by position (as Dask does).
        items = [_find(getattr(obj, f.name), found, traverse) for f in dataclasses.fields(obj)]
        return _Rebuild(t, items, spread=True) if any(map(_changed, items)) else obj
    return obj


class _Slot:
    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class _Rebuild:
    """A container to rebuild around computed values: ``typ(items)``, a dict or
    ordered dict from ``(key, value)`` pairs, or ``typ(*items)`` when ``spread``."""

    __slots__ = ("items", "spread", "typ")

    def __init__(self, typ: type, items: list, spread: bool = False) -> None:
        self.typ, self.items, self.spread = typ, items, spread


def _changed(template: Any) -> bool:
    return isinstance(template, _Slot | _Rebuild)


def _fill(template: Any, values: list) -> Any:
    if isinstance(template, _Slot):
        return values[template.index]
    if isinstance(template, _Rebuild):
        typ = template.typ
        if typ is dict or typ is OrderedDict:
            return typ((_fill(k, values), _fill(v, values)) for k, v in template.items)
        filled = [_fill(x, values) for x in template.items]
        return typ(*filled) if template.spread else typ(filled)
    return template


def collections_to_dsk(collections: list) -> Mapping:
    """One graph holding every collection's tasks (shared keys appear once).

    For Delayed values alone this is a lazy :class:`~taskloom._graph.DelayedGraph`.
    """
    from taskloom._graph import DelayedGraph
    from taskloom.delayed import Delayed, graph_of

    delayed = [c for c in collections if isinstance(c, Delayed)]
    if len(delayed) == len(collections):
        return DelayedGraph(delayed)
    dsk = graph_of(delayed) if delayed else {}
    for c in collections:
        if not isinstance(c, Delayed):
            dsk.update(c.__dask_graph__())
    return dsk


def _run(collections: list, scheduler: Any, optimize_graph: bool, kwargs: dict) -> list:
    get = get_scheduler(scheduler, collections)
    dsk = collections_to_dsk(collections)
    keys = [c.__dask_keys__() for c in collections]
    if get in _OWN_GETS or isinstance(get, ClusterGet):
        # The annotations recorded when the collections were built (see
        # taskloom.annotations); other schedulers' get functions have no use for them.
        annotations = collect_annotations(collections)
        if annotations:
            kwargs = {**kwargs, "annotations": annotations}
    if get in _OWN_GETS:
        kwargs = {**kwargs, "optimize_graph": optimize_graph}
    elif not isinstance(dsk, dict):
        dsk = dict(dsk)  # other schedulers (a distributed Client) want a plain dict
    return list(get(dsk, keys, **kwargs))


_OWN_GETS = (local.get_sync, threaded.get, multiprocessing.get)


def compute(
    *args: Any, traverse: bool = True, scheduler: Any = None, optimize_graph: bool = True, **kwargs
) -> tuple[Any, ...]:
    """Compute several collections at once, sharing their common work.

    Parameters
    ----------
    *args : collections or any objects
        Collections are computed; lists, tuples, sets and dicts containing collections
        are rebuilt with computed values (unless ``traverse=False``); anything else is
        returned as is.
    scheduler : str or callable, optional
        See :func:`get_scheduler`.
    optimize_graph : bool
        Let taskloom's schedulers run linear chains of tasks as units (default
        True); culling always happens.
    **kwargs
        Passed to the scheduler's ``get`` (``num_workers=``, ``callbacks=``); ``get=``
        is taken as ``scheduler=``, its name in early Dask.

    Returns
    -------
    tuple
        One result per argument.

    Examples
    --------
    >>> import taskloom
    >>> a = taskloom.delayed(1) + 1
    >>> taskloom.compute(a, [a, 10], scheduler="sync")
    (2, [2, 10])
    """
    scheduler, kwargs = _legacy_get(scheduler, kwargs)
    return _run_and_fill(args, traverse, scheduler, optimize_graph, kwargs, _finalized)


def _legacy_get(scheduler: Any, kwargs: dict) -> tuple[Any, dict]:
    """``get=``, old Dask's name for ``scheduler=`` (early Dask code passes it)."""
    if "get" not in kwargs:
        return scheduler, kwargs
    kwargs = dict(kwargs)
    get = kwargs.pop("get")
    if scheduler is not None and get is not None:
        raise TypeError("pass either scheduler= or get= (its old name), not both")
    return get if get is not None else scheduler, kwargs


def persist(
    *args: Any, traverse: bool = True, scheduler: Any = None, optimize_graph: bool = True, **kwargs
) -> tuple[Any, ...]:
    """Compute collections now and return equivalent collections holding the results.

    The returned collections' graphs contain the computed parts as data, so computing
    them again runs no task; on a Dask cluster (``scheduler=client``) they hold futures
    instead, and the data stays on the workers.

    Examples
    --------
    >>> import taskloom
    >>> (p,) = taskloom.persist(taskloom.delayed(sum)([1, 2]), scheduler="sync")
    >>> len(p.dask), p.compute()
    (1, 3)
    """
    scheduler, kwargs = _legacy_get(scheduler, kwargs)
    return _run_and_fill(args, traverse, scheduler, optimize_graph, kwargs, _persisted)


def is_cluster_client(obj: Any) -> bool:
    """Whether ``obj`` is a ``distributed.Client`` (without importing distributed)."""
    return any(
        t.__module__.split(".")[0] == "distributed" and t.__name__ == "Client"
        for t in type(obj).__mro__
    )


class ClusterGet:
    """The ``get`` of a Dask cluster client: :func:`taskloom.distributed.get` bound to
    it, which runs large graphs in pieces (``pieces=`` and ``sync=`` pass through)."""

    __slots__ = ("client",)

    def __init__(self, client: Any) -> None:
        self.client = client

    def __call__(self, dsk: Mapping, keys: Any, **kwargs: Any) -> Any:
        from taskloom._cluster import get

        return get(dsk, keys, self.client, **kwargs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClusterGet) and other.client is self.client

    def __hash__(self) -> int:
        return hash((ClusterGet, id(self.client)))

    def __repr__(self) -> str:
        return f"ClusterGet({self.client!r})"


def _run_and_fill(
    args: tuple,
    traverse: bool,
    scheduler: Any,
    optimize_graph: bool,
    kwargs: dict,
    post: Callable[[Any, Any], Any],
) -> tuple:
    """Run the collections found in ``args`` together; put ``post(collection,
    results)`` in each one's place."""
    found: list = []
    templates = [_find(a, found, traverse) for a in args]
    if not found:
        return tuple(templates)  # the arguments, iterators read into lists
    if "dask" in sys.modules and all(map(_is_foreign, found)):
        # Dask's collections go through Dask's own compute/persist, with the arguments
        # rebuilt so that iterators read above are passed as the lists they became.
        args = tuple(_fill(t, found) for t in templates)
        return _through_dask(post, args, traverse, scheduler, optimize_graph, kwargs)
    if post is _persisted and isinstance(get_scheduler(scheduler), ClusterGet):
        # On a Dask cluster the results stay on the workers: the graphs get futures.
        kwargs = {**kwargs, "sync": False}
    results = _run(found, scheduler, optimize_graph, kwargs)
    values = [post(c, r) for c, r in zip(found, results, strict=True)]
    return tuple(_fill(t, values) for t in templates)


def _finalized(c: Any, results: Any) -> Any:
    finalize, extra = c.__dask_postcompute__()
    return finalize(results, *extra)


def _persisted(c: Any, results: Any) -> Any:
    rebuild, extra = c.__dask_postpersist__()
    data: dict = {}
    _by_key(c.__dask_keys__(), results, data)
    return rebuild(data, *extra)


def _by_key(keys: Any, results: Any, out: dict) -> None:
    """Pair each key with its result; ``results`` nests like ``keys`` (lists as tuples)."""
    if isinstance(keys, list):
        for k, r in zip(keys, results, strict=True):
            _by_key(k, r, out)
    else:
        out[keys] = results


def visualize(
    *args: Any,
    filename: str | None = "mydask",
    traverse: bool = True,
    optimize_graph: bool = False,
    **kwargs: Any,
):
    """Draw the task graph of the collections with Graphviz.

    With ``optimize_graph=True`` the graph drawn is the one :func:`taskloom.optimize`
    makes (culled, linear chains fused), as Dask's. See :func:`taskloom.dot.dot_graph`
    for the other options (``format``, ``rankdir``...).

    Examples
    --------
    >>> import taskloom
    >>> taskloom.visualize(taskloom.delayed(1) + 1, filename=None)  # doctest: +SKIP
    """
    from taskloom.dot import dot_graph

    found: list = []
    for a in args:
        _find(a, found, traverse)
    if optimize_graph and found:
        from taskloom.optimize_graphs import optimize

        found = list(optimize(*found, traverse=False))
    return dot_graph(collections_to_dsk(found), filename=filename, **kwargs)


class DaskMethodsMixin:
    """``compute``, ``persist`` and ``visualize`` methods for collections."""

    __slots__ = ()

    def compute(self, **kwargs: Any) -> Any:
        """Compute this collection; see :func:`taskloom.compute`."""
        (result,) = compute(self, traverse=False, **kwargs)
        return result

    def persist(self, **kwargs: Any) -> Any:
        """Compute now and keep the result; see :func:`taskloom.persist`."""
        (result,) = persist(self, traverse=False, **kwargs)
        return result

    def visualize(self, filename: str | None = "mydask", format: str | None = None, **kwargs):
        """Draw this collection's task graph; see :func:`taskloom.visualize`."""
        return visualize(self, filename=filename, format=format, **kwargs)
