"""Graphs on a Dask cluster, cut into pieces that taskloom runs on the workers.

Dask's distributed scheduler spends about a millisecond on every task it places, so a
graph of 10^5 small tasks costs minutes there. Here taskloom's core cuts the graph into
pieces (``taskloom_core::partition``: in-trees cut into subtrees of about ``target``
tasks, then packed in a topological order) and each piece goes to the cluster as one
Dask task that runs its sub-graph with taskloom's single-threaded executor on a worker.
A piece takes as arguments the results of the earlier pieces it reads (Dask moves
them between workers) and returns a dict of the results that later pieces or the
caller read. Dask keeps the work alive: a piece lost with its worker is recomputed
like any Dask task, and an error arrives as Dask delivers it, with its type,
traceback and taskloom's note naming the key that raised.

Policy (measured on ``LocalCluster(n_workers=2, threads_per_worker=1)``, see the
README's table): ``pieces=True`` (the ``distributed.pieces`` setting's default) cuts a
graph into about :data:`PIECES_PER_THREAD` pieces per worker thread, each of at most
:data:`MAX_TARGET` tasks, so a million-task graph makes a few hundred pieces of a few
milliseconds of work each against Dask's millisecond per task, and a graph of a few
hundred pandas blocks makes pieces of a dozen blocks, which run about twice as fast as
Dask's task-by-task placement (the ``timeseries()`` groupby of the seeds). A graph of
fewer tasks than that makes pieces of one task each, as Dask would. ``pieces=False``
always goes task by task (Dask's own ``client.get``); ``pieces=N`` asks for pieces of
about N tasks.

What stays with Dask: values in the graph that are ``distributed`` futures (persisted
results) are passed to the pieces that read them, and ``sync=False`` (what
``persist`` asks for) returns futures, one per requested key, each a small task that
picks the key's value out of its piece's result. Tasks annotated when they were built
(``annotations=``, see :mod:`taskloom.annotations`) go task by task, each with its own
annotations, since Dask's scheduler places, retries and orders tasks one by one.
"""

from __future__ import annotations

import copyreg
import io
import pickle
import threading
import uuid
from collections import ChainMap
from collections.abc import Hashable, Mapping
from typing import Any, ClassVar

import cloudpickle
import dask
import dask.utils
import distributed
from distributed.protocol import pickle as dpickle

from taskloom import _core, config
from taskloom._gc import gc_paused
from taskloom._graph import prepare
from taskloom.core import flatten_keys, quote

__all__ = ["get"]

#: Pieces per worker thread that ``pieces=True`` aims at, for balance between workers.
PIECES_PER_THREAD = 8
#: The most tasks ``pieces=True`` puts in one piece.
MAX_TARGET = 20_000
#: Bytes per task of a pickled graph of small tasks, more or less (see ``get``).
_TASK_BYTES = 64
_LARGE_GRAPH = "distributed.admin.large-graph-warning-threshold"


class _Piece:
    """What one piece runs: its tasks (pickled, see :func:`_pickle_tasks`), the keys it
    returns, and where each input comes from. Pickled again as a whole (the tasks'
    bytes as a copy) into the :class:`_Packed` its Dask task carries."""

    __slots__ = ("exports", "layout", "tasks")

    def __init__(self, tasks: bytes, exports: list, layout: list) -> None:
        self.tasks = tasks
        self.exports = exports
        # Per argument after the piece: a list of keys to take from an earlier
        # piece's dict of results, or a single key (in a 1-tuple) whose value is
        # the argument itself (a future's result).
        self.layout = layout

    def __reduce__(self) -> Any:
        return (_Piece, (self.tasks, self.exports, self.layout))


class _Packed:
    """A pickled piece. Bytes pass through Dask's client, scheduler and worker as
    copies (as an object, a piece would be pickled by the client, unpickled and
    pickled again by Dask's scheduler, unpickled by the worker, and tokenized by
    pickling once more: seconds for 10^5 tasks; and Dask's graph parser would read its
    tasks as its own). The wrapper spares Dask hashing the bytes to tokenize the graph
    (a ``bytes`` subclass is read as bytes); the pieces' keys make the token unique."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __reduce__(self) -> Any:
        return (_Packed, (self.data,))

    def __dask_tokenize__(self) -> int:
        return len(self.data)


# Futures inside tasks' arguments (``delayed(f)(future)``) are the cluster's to
# resolve: pickling notes each one and leaves a placeholder that the worker fills with
# the future's result, which Dask hands the piece as an argument.
_pickling = threading.local()


def _note_future(future: distributed.Future) -> tuple:
    _pickling.futures[future.key] = future
    return (_input_value, (future.key,))


def _input_value(key: Hashable) -> Any:
    return _pickling.values[key]


_NOTE_FUTURES = {distributed.Future: _note_future}


class _TaskPickler(pickle.Pickler):
    # A class attribute: the C pickler reads its dispatch table when it is made.
    dispatch_table: ClassVar[Mapping] = ChainMap(_NOTE_FUTURES, copyreg.dispatch_table)


class _TaskCloudPickler(cloudpickle.Pickler):
    dispatch_table: ClassVar[Mapping] = ChainMap(_NOTE_FUTURES, cloudpickle.Pickler.dispatch_table)


def _pickle_tasks(tasks: dict) -> tuple[bytes, dict]:
    """``tasks`` pickled, and the futures found in them by key. As distributed does:
    pickle, and cloudpickle for what pickle cannot take or what refers to
    ``__main__`` (a script's functions, which a worker's ``__main__`` lacks)."""
    _pickling.futures = found = {}
    try:
        try:
            buf = io.BytesIO()
            _TaskPickler(buf, protocol=5).dump(tasks)
            by_value = b"__main__" in buf.getvalue()
        except Exception:
            by_value = True
        if by_value:
            found.clear()
            buf = io.BytesIO()
            _TaskCloudPickler(buf, protocol=5).dump(tasks)
    finally:
        del _pickling.futures
    return buf.getvalue(), found


def _pack(piece: _Piece) -> _Packed:
    """A piece as its Dask task carries it (keys may be a script's objects: pickled
    as distributed pickles them)."""
    return _Packed(dpickle.dumps(piece, protocol=5))


class _Results(dict):
    """A piece's results by key. A dict subclass, so that Dask sends it as one pickle
    (a plain dict would be serialized item by item: seconds for 10^4 items)."""

    __slots__ = ()

    def __reduce__(self) -> Any:
        return (_Results, (dict(self),))


def _run_piece(packed: _Packed, *inputs: Any) -> _Results:
    """On a worker: run a piece's tasks with taskloom's executor; its exports by key."""
    from taskloom.local import get_sync

    piece = dpickle.loads(packed.data)
    direct = {
        where[0]: value
        for where, value in zip(piece.layout, inputs, strict=True)
        if isinstance(where, tuple)
    }
    _pickling.values = direct
    try:
        with gc_paused():
            dsk = pickle.loads(piece.tasks)
    finally:
        del _pickling.values
    given: list = []
    for where, value in zip(piece.layout, inputs, strict=True):
        if isinstance(where, tuple):
            dsk[where[0]] = value
            given.append(where[0])
        else:
            for k in where:
                dsk[k] = value[k]
            given += where
    # Inputs are results, not tasks: quote those the scheduler could misread (a tuple,
    # a container, a value equal to a key). Checked after all are in, and only where
    # needed: quoting every one of 10^5 inputs costs more than the piece's tasks.
    for k in given:
        if _misread(dsk[k], dsk):
            dsk[k] = quote(dsk[k])
    return _Results(zip(piece.exports, get_sync(dsk, piece.exports), strict=True))


_CONTAINERS = (tuple, list, dict, set, frozenset)


def _misread(value: Any, dsk: dict) -> bool:
    """Whether the scheduler would read ``value``, given as a result, as something else."""
    if isinstance(value, _CONTAINERS):
        return True
    try:
        return value in dsk
    except TypeError:  # unhashable: an array or a frame, read as data
        return False


class _Pick:
    """A Dask task's function: one key's value out of a piece's dict of results."""

    __slots__ = ("key",)

    def __init__(self, key: Hashable) -> None:
        self.key = key

    def __call__(self, results: dict) -> Any:
        return results[self.key]

    def __reduce__(self) -> Any:
        return (_Pick, (self.key,))

    def __repr__(self) -> str:
        return f"pick({self.key!r})"


def _nest(keys: Any, values: dict) -> Any:
    if isinstance(keys, list):
        return [_nest(k, values) for k in keys]
    return values[keys]


def _target(pieces: Any, ntasks: int, client: Any) -> int | None:
    """Tasks per piece, or None to go task by task."""
    if pieces is None:
        pieces = config.get("distributed.pieces", True)
    if pieces is False:
        return None
    if pieces is True:
        threads = sum(client.nthreads().values()) or 1
        return max(1, min(MAX_TARGET, ntasks // (PIECES_PER_THREAD * threads)))
    if isinstance(pieces, int) and pieces >= 1:
        return pieces
    raise ValueError(f"pieces must be True, False or a number of tasks per piece, got {pieces!r}")


def _take_futures(
    tasks: list, groups: list, exports: list, futures: dict, layout: list, args: list
) -> tuple[list, list, list]:
    """A piece's tasks, input groups and exports without the keys whose values are
    futures; those it reads go to ``args`` by key (Dask reads a key whose entry is a
    future as that future's result; a future given as an argument would arrive as
    its key), with their place in ``layout``."""
    direct = [k for k in tasks if k in futures]  # placed here, read by its tasks
    kept = []
    for p, ks in groups:
        direct += [k for k in ks if k in futures]
        ks = [k for k in ks if k not in futures]
        if ks:
            kept.append((p, ks))
    for k in direct:
        layout.append((k,))
        args.append(k)
    return (
        [k for k in tasks if k not in futures],
        kept,
        [k for k in exports if k not in futures],
    )


def get(
    dsk: Mapping,
    keys: Any,
    client: Any = None,
    *,
    pieces: Any = None,
    sync: bool = True,
    annotations: Mapping | None = None,
    **kwargs: Any,
) -> Any:
    """Compute ``keys`` of the graph ``dsk`` on a Dask cluster, in pieces.

    Parameters
    ----------
    dsk : Mapping
        A task graph (taskloom's or Dask's format).
    keys : key or (nested) list of keys
        What to compute; the result nests the same way.
    client : distributed.Client, optional
        The cluster; by default the current default client.
    pieces : bool or int, optional
        How to cut the graph: see the module's policy. Default: the
        ``distributed.pieces`` setting, itself True by default.
    sync : bool
        False returns futures (one per key) instead of results, as
        ``client.get(..., sync=False)`` does.
    annotations : mapping, optional
        Dask annotations by key (``priority``, ``retries``, ``resources``,
        ``workers``, ...), as ``compute`` collects them: the graph then goes task by
        task, each task with its own.
    **kwargs
        Passed to ``client.get`` (``resources=``, ``retries=``, ``priority=``, ...).

    Examples
    --------
    >>> from operator import add
    >>> from taskloom.distributed import Client, get
    >>> dsk = {("x", i): (add, i, 1) for i in range(3000)}
    >>> dsk["total"] = (sum, list(dsk))
    >>> with Client(n_workers=1, processes=False, dashboard_address=":0") as client:
    ...     get(dsk, "total", client)
    4501500
    """
    if client is None:
        client = distributed.default_client()
    if annotations:
        pieces = False
    with gc_paused():
        graph, owner, futures, ntasks = _build(dsk, keys, client, pieces)
    if graph is None:
        whole = {**owner, **futures}
        if annotations:
            whole = _annotated(whole, annotations)
        return client.get(whole, keys, sync=sync, **kwargs)
    flat = flatten_keys(keys)
    # Dask warns of graphs over 10 MB, meaning data embedded in them; a piece's bytes
    # are its tasks, so warn only past what tasks take (data in the graph beyond that
    # still warns).
    default = dask.utils.parse_bytes(dask.config.get(_LARGE_GRAPH))
    size = max(default, _TASK_BYTES * ntasks)
    with dask.config.set({_LARGE_GRAPH: size}):
        return _submit(client, graph, keys, flat, futures, owner, sync, kwargs)


def _annotated(dsk: dict, annotations: Mapping) -> Any:
    """``dsk`` as a Dask high-level graph with a layer per distinct annotations,
    which is how Dask's scheduler learns them."""
    from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

    groups: dict[int, tuple[Any, dict]] = {}
    plain: dict = {}
    for key, task in dsk.items():
        a = annotations.get(key)
        if a:
            groups.setdefault(id(a), (a, {}))[1][key] = task
        else:
            plain[key] = task
    layers = {"taskloom-plain": MaterializedLayer(plain)}
    for i, (a, layer) in enumerate(groups.values()):
        layers[f"taskloom-annotated-{i}"] = MaterializedLayer(layer, annotations=dict(a))
    return HighLevelGraph(layers, {name: set() for name in layers})


def _build(dsk: Any, keys: Any, client: Any, pieces: Any) -> tuple[Any, dict, dict, int]:
    """The pieces' Dask graph, the Dask key of each requested key's piece, the futures
    in ``dsk`` and its number of needed tasks; or None and the graph as a dict instead
    of the first two, to go task by task."""
    # Futures (persisted results) are the cluster's to resolve: found before Dask's
    # graphs are lowered (which reads a future as a reference to its own key), and
    # data to taskloom's core.
    futures = (
        {k: v for k, v in dsk.items() if isinstance(v, distributed.Future)}
        if isinstance(dsk, Mapping)
        else {}
    )
    dsk = prepare(dsk, None, {}, "get")
    compiled = _core.Compiled({**dsk, **dict.fromkeys(futures)} if futures else dsk, keys)
    ntasks = len(compiled)
    target = _target(pieces, ntasks, client)
    if target is None:
        return None, dsk, futures, ntasks

    rows, outputs = compiled.pieces(target)
    del compiled
    name = f"taskloom-piece-{uuid.uuid4().hex}"
    graph: dict = {}
    for i, (tasks, groups, exports) in enumerate(rows):
        layout: list = []
        args: list = []
        if futures:
            tasks, groups, exports = _take_futures(tasks, groups, exports, futures, layout, args)
        for p, ks in groups:
            layout.append(ks)
            args.append((name, p))
        data, inner = _pickle_tasks({k: dsk[k] for k in tasks})
        for k, future in inner.items():
            if k not in futures:
                futures[k] = future
            layout.append((k,))
            args.append(k)
        for k in args:
            if k in futures:
                # By key, with the future as the key's graph entry: Dask reads a key
                # whose entry is a future as that future's result (given as an
                # argument, the future itself would arrive as its key).
                graph[k] = futures[k]
        graph[(name, i)] = (_run_piece, _pack(_Piece(data, exports, layout)), *args)
    owner = {k: (name, p) for k, p in outputs if k not in futures}
    return graph, owner, futures, ntasks


def _submit(
    client: Any,
    graph: dict,
    keys: Any,
    flat: list,
    futures: dict,
    owner: dict,
    sync: bool,
    kwargs: dict,
) -> Any:
    """Send the pieces' graph; the requested keys' values (or futures, with ``sync=False``)."""
    if not sync:
        # One future per key: a small task picks each value out of its piece's dict.
        for k in flat:
            graph[k] = futures[k] if k in futures else (_Pick(k), owner[k])
        return client.get(graph, keys, sync=False, **kwargs)
    wanted = list(dict.fromkeys(owner[k] for k in flat if k not in futures))
    for k in flat:
        if k in futures:
            graph[k] = futures[k]
            wanted.append(k)
    got = dict(zip(wanted, client.get(graph, wanted, **kwargs), strict=True))
    values = {k: got[k] if k in futures else got[owner[k]][k] for k in flat}
    return _nest(keys, values)
