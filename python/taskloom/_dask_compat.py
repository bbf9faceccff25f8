"""Running graphs that Dask itself builds, so ``dask.compute(x, scheduler=taskloom.get)``
and ``taskloom.compute(x)`` run Dask's own collections natively.

Owns: turning the ``dask._task_spec`` objects found in a graph into taskloom's tuple
tasks, with the meaning Dask gives them (``dask.local.get_sync`` is the reference), and
lowering the expressions Dask's ``compute`` hands to a ``get`` function.

Conversion, node by node:

- ``Task`` (and every subclass that keeps ``Task.__call__``: ``List``, ``Tuple``,
  ``Set``, ``Dict``): the tuple task ``(func, *args)``, arguments converted alike:
  ``TaskRef``/``Alias`` become the key they name, ``DataNode`` its value, nested tasks
  nested tuples, and a literal that the tuple format could misread (a string, number
  or tuple that may be a key, a container that may hold one, a tuple that looks like a
  task) is quoted with :func:`taskloom.core.quote`, which the native converter reads as
  a constant (no call at run time). Keyword arguments are bound with
  ``functools.partial`` (or passed by :class:`_CallKw` when they hold references).
  The scheduler then sees each call, so it times, orders and offloads it as its own.
- A fused ``Task`` (Dask's ``_execute_subgraph``: linear fusion, blockwise fusion) is
  opened up: its inner tasks become tasks of the graph, under their own names when
  those are free, else under fresh keys (blockwise fusion reuses one inner graph for
  every block). Running them through ``execute_graph`` would call ``dask.order`` and
  walk the subgraph in Python for every fused task (1-2 ms each); taskloom chains
  linear work natively anyway.
- ``Alias`` and a bare ``TaskRef`` (or any Dask future, ``__dask_future__``): the value
  of the key they name. ``DataNode``: its value.
- Any other ``GraphNode`` (a subclass with its own ``__call__``) is called as Dask
  calls it: ``(_RunNode(node, deps), *deps)``, the node evaluating itself.
- A legacy tuple task, list or dict holding any of the above anywhere: converted with
  Dask's own ``convert_legacy_task``, as Dask's schedulers do.

Lowering (:func:`lower`): an expression from ``dask.compute`` becomes a graph with
``__dask_graph__()``, Dask's low-level optimizer included, except where taskloom does
that optimizer's work natively. Dask's bag optimizer (``dask.bag.core.optimize``:
convert to task spec, cull, fuse linear chains, then drop the ``reify``/``list`` that
materialize each step inside a fused chain, so a chain of maps streams one element at
a time) is replaced by its outcome computed taskloom's way: the graph is converted
here, taskloom's own linear chains (the ones it runs as units, by the same rule as
Dask's fusion) are found natively, and Dask's ``lazify_task`` is applied as Dask
applies it (inside a chain, every task but the last loses its outer ``reify``).
Dask's version walks every element of ``from_sequence``'s partitions to build task
objects: a third of Dask's whole run.

Policy: a graph with none of these objects at its top level is a legacy graph, returned
untouched after one C-speed scan (Dask's own graphs hold nodes at the top level;
searching every task of a legacy graph would slow taskloom's own path), so legacy
tasks are searched for nested nodes only in graphs that have some. A dependency of a
node that is not in the graph (nor in the ``get``'s cache) is an error naming both
keys, as in Dask; it would otherwise be read as a literal. Nothing here imports Dask:
``dask._task_spec`` is used only when Dask loaded it already (which it did, if the
graph holds its objects).
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Hashable, Mapping
from functools import partial
from typing import Any

from taskloom._gc import gc_paused
from taskloom.core import data_task, literal

# Literals the tuple format could read as something else: a key (str, numbers,
# tuples), a task (a tuple), or a container of those. Anything else passes as is.
_AMBIGUOUS = (str, int, float, complex, tuple, list, set, frozenset)

# The prefix of fresh keys given to inner tasks of fused Dask tasks whose own names
# are taken; a key ``(_INNER, n)`` of the user's graph is checked against and skipped.
_INNER = "taskloom-inner"


class _RunNode:
    """Call a Dask graph node with its dependencies' values, by key."""

    __slots__ = ("deps", "node")

    def __init__(self, node: Any, deps: list[Hashable]) -> None:
        self.node = node
        self.deps = deps

    def __call__(self, *values: Any) -> Any:
        return self.node(dict(zip(self.deps, values, strict=True)))

    def __repr__(self) -> str:
        return f"_RunNode({self.node!r})"

    def __reduce__(self) -> tuple:
        return (_RunNode, (self.node, self.deps))

    @property
    def __name__(self) -> str:  # names the function in pictures and profiles
        func = getattr(self.node, "func", None)
        return getattr(func, "__name__", type(self.node).__name__)


class _CallKw:
    """``func(*args, **kwargs)`` for a task whose keyword arguments hold references:
    called with the positional values, then the keyword values in ``names``' order."""

    __slots__ = ("func", "names")

    def __init__(self, func: Any, names: tuple[str, ...]) -> None:
        self.func = func
        self.names = names

    def __call__(self, *values: Any) -> Any:
        n = len(values) - len(self.names)
        return self.func(*values[:n], **dict(zip(self.names, values[n:], strict=True)))

    def __reduce__(self) -> tuple:
        return (_CallKw, (self.func, self.names))

    @property
    def __name__(self) -> str:
        return getattr(self.func, "__name__", type(self.func).__name__)


def _task_spec() -> Any:
    return sys.modules.get("dask._task_spec")


def _is_future(x: Any, ref_type: type) -> bool:
    """Whether ``x`` stands for another key's value (``dask._task_spec._is_dask_future``)."""
    return isinstance(x, ref_type) or getattr(x, "__dask_future__", False) is True


_CONTAINERS = (tuple, list, set, frozenset, dict)


def _holds_node(x: Any, kinds: tuple[type, ...], ref_type: type) -> bool:
    """Whether a legacy graph value has a Dask graph node or reference anywhere inside.

    Long containers are read by the types of their items first (one C-speed pass): a
    partition of a million numbers costs a ``set(map(type, ...))``, not a call each.
    """
    t = type(x)
    if t is dict:
        items: Any = x.values()
    elif t is tuple or t is list or t is set or t is frozenset:
        items = x
    else:
        return isinstance(x, kinds) or _is_future(x, ref_type)
    if len(items) > 16 and not any(_may_hold(ty, kinds) for ty in set(map(type, items))):
        return False
    return any(_holds_node(v, kinds, ref_type) for v in items if _may_hold(type(v), kinds))


# Per type: whether a value of it may be or hold a node (a container, a node, a future).
_MAY_HOLD: dict[type, bool] = {}


def _may_hold(t: type, kinds: tuple[type, ...]) -> bool:
    found = _MAY_HOLD.get(t)
    if found is None:
        found = _MAY_HOLD[t] = (
            issubclass(t, _CONTAINERS) or issubclass(t, kinds) or hasattr(t, "__dask_future__")
        )
    return found


def _missing(key: Hashable, dep: Hashable) -> ValueError:
    return ValueError(
        f"task {key!r} depends on key {dep!r}, which is not in the graph "
        "(Dask: 'Missing dependency')"
    )


def _quote(x: Any) -> Any:
    """``x`` as a task argument that the tuple format reads as exactly ``x``."""
    return (literal(x),) if isinstance(x, _AMBIGUOUS) else x


class _Converter:
    """One graph's conversion: the output dict, the keys taken, fresh-key numbering."""

    def __init__(self, spec: Any, dsk: Mapping, known: Collection) -> None:
        self.spec = spec
        self.node_type, self.ref_type = spec.GraphNode, spec.TaskRef
        self.kinds = (self.node_type, self.ref_type)
        self.alias, self.data, self.task_type = spec.Alias, spec.DataNode, spec.Task
        self.list_type, self.tuple_type = spec.List, spec.Tuple
        self.subgraph = getattr(spec, "_execute_subgraph", None)
        self.dsk = dsk
        self.taken = set(dsk).union(known)  # every key of the output, and the cache's
        self.out: dict = {}
        self.fresh = 0
        # Per node type: whether it runs as Task.__call__ does (so func/args/kwargs
        # say everything about it).
        self.plain: dict[type, bool] = {}

    # --- names ----------------------------------------------------------------------

    def new_key(self, name: Hashable) -> Hashable:
        """An output key for an inner task called ``name``: the name if free."""
        try:
            if name not in self.taken:
                self.taken.add(name)
                return name
        except TypeError:  # an unhashable inner name; Dask's would fail later
            pass
        while True:
            self.fresh += 1
            key = (_INNER, self.fresh)
            if key not in self.taken:
                self.taken.add(key)
                return key

    def ref(self, owner: Hashable, name: Hashable, names: dict | None) -> Hashable:
        """The output key holding the value that ``name`` means to task ``owner``;
        ``names`` maps the names visible inside a fused task (None outside)."""
        if names is None:
            if name not in self.taken:
                raise _missing(owner, name)
            return name
        key = names.get(name, _NOT_RENAMED)
        if key is _NOT_RENAMED:
            # Inside a fused task only its own tasks and inputs exist, as in
            # ``_execute_subgraph`` (Dask raises this when the task runs).
            raise RuntimeError(
                f"task {owner!r} of a fused task depends on {name!r}, which is neither a "
                "task of the fused subgraph nor one of its inputs (Dask: 'Not enough "
                "arguments provided: missing keys')"
            )
        return key

    # --- values -----------------------------------------------------------------------

    def is_plain(self, node: Any) -> bool:
        t = type(node)
        plain = self.plain.get(t)
        if plain is None:
            plain = self.plain[t] = issubclass(t, self.task_type) and (
                t.__call__ is self.task_type.__call__
            )
        return plain

    def arg(self, owner: Hashable, a: Any, names: dict | None) -> Any:
        """A task argument as the tuple format writes it."""
        if isinstance(a, self.node_type):
            t = type(a)
            if t is self.alias:
                return self.ref(owner, a.target, names)
            if t is self.data:
                return _quote(a.value)
            if t is self.list_type:
                return [self.arg(owner, x, names) for x in a.args]
            if t is self.tuple_type:
                return (tuple, [self.arg(owner, x, names) for x in a.args])
            if self.is_plain(a):
                return self.call(owner, a, names)
            deps = list(a.dependencies)
            return (_RunNode(a, deps), *[self.ref(owner, d, names) for d in deps])
        if _is_future(a, self.ref_type):
            return self.ref(owner, a.key, names)
        return _quote(a)

    def call(self, owner: Hashable, node: Any, names: dict | None) -> tuple:
        """``(func, *args)`` for a node that runs as ``Task.__call__`` does."""
        args = [self.arg(owner, a, names) for a in node.args]
        kwargs = node.kwargs
        func = node.func
        if not kwargs:
            return (func, *args)
        if not any(
            isinstance(v, self.kinds) or _is_future(v, self.ref_type) for v in kwargs.values()
        ):
            return (partial(func, **kwargs), *args)
        values = [self.arg(owner, v, names) for v in kwargs.values()]
        return (_CallKw(func, tuple(kwargs)), *args, *values)

    def node(self, key: Hashable, v: Any, names: dict | None) -> None:
        """Put graph node ``v`` in the output under ``key``."""
        t = type(v)
        if t is self.alias:
            self.out[key] = self.ref(key, v.target, names)
        elif t is self.data:
            self.out[key] = data_task(v.value)
        elif self.is_plain(v):
            if v.func is self.subgraph and self.open_fused(key, v, names):
                return
            self.out[key] = self.call(key, v, names)
        else:
            deps = list(v.dependencies)
            self.out[key] = (_RunNode(v, deps), *[self.ref(key, d, names) for d in deps])

    def open_fused(self, key: Hashable, v: Any, names: dict | None) -> bool:
        """Put the inner tasks of fused task ``v`` in the output, its result under
        ``key``; False (nothing done) if ``v`` is not shaped as Dask's fusion makes it."""
        if v.kwargs or len(v.args) < 3:
            return False
        inner, outkey, inkeys, *deps = v.args
        if (
            type(inner) is not dict
            or not isinstance(inkeys, tuple | list)
            or len(inkeys) != len(deps)
            or not all(isinstance(n, self.node_type) for n in inner.values())
        ):
            return False
        try:
            if outkey not in inner and outkey not in inkeys:
                return False
        except TypeError:
            return False
        local: dict = {}
        # The inputs: as in ``_execute_subgraph``, they take precedence over inner
        # tasks of the same name.
        for name, dep in zip(inkeys, deps, strict=True):
            if _is_future(dep, self.ref_type):
                local[name] = self.ref(key, dep.key, names)
            elif isinstance(dep, self.alias):
                local[name] = self.ref(key, dep.target, names)
            else:
                fresh = self.new_key(name)
                self.out[fresh] = self.arg(key, dep, names)
                local[name] = fresh
        if outkey in local:  # the result is one of the inputs
            self.out[key] = local[outkey]
            return True
        for name in inner:
            if name not in local:
                local[name] = key if name == outkey else self.new_key(name)
        for name, node in inner.items():
            if name not in inkeys:
                self.node(local[name], node, local)
        return True

    def run(self) -> dict:
        spec, node_type, kinds, ref_type = self.spec, self.node_type, self.kinds, self.ref_type
        out = self.out
        for key, v in self.dsk.items():
            if not isinstance(v, node_type):
                if _is_future(v, ref_type):
                    out[key] = self.ref(key, v.key, None)
                    continue
                if not _holds_node(v, kinds, ref_type):
                    out[key] = v
                    continue
                v = spec.convert_legacy_task(key, v, self.taken)
                if not isinstance(v, node_type):  # a container of plain values after all
                    out[key] = data_task(v)
                    continue
            self.node(key, v, None)
        return out


_NOT_RENAMED = object()


def lower(expr: Any) -> Any:
    """The graph of what Dask's ``compute`` passes to a ``get``: a collection, or an
    expression whose ``__dask_graph__()`` runs Dask's low-level optimizers.

    Dask's bag optimizer is done taskloom's way (see the module notes); every other
    optimizer, and any optimizer the user configured for bags, runs as Dask runs it.
    """
    bag = sys.modules.get("dask.bag.core")
    operands = _hlg_operands(expr) if bag is not None else None
    if operands is None or not any(op.low_level_optimizer is bag.optimize for op in operands):
        return expr.__dask_graph__()
    from dask.utils import ensure_dict

    graph: dict = {}
    for op in operands:
        optimizer, keys = op.low_level_optimizer, op.__dask_keys__()
        if optimizer is bag.optimize:
            graph.update(_bag_optimize(ensure_dict(op.hlg), keys, bag.lazify_task))
        else:
            graph.update(ensure_dict(optimizer(op.hlg, keys) if optimizer else op.hlg))
    return graph


def _flat(keys: Any) -> list:
    return [k for part in keys for k in _flat(part)] if isinstance(keys, list) else [keys]


def _bag_optimize(dsk: dict, keys: Any, lazify_task: Any) -> dict:
    """What ``dask.bag.core.optimize`` makes of ``dsk``, as tuple tasks: inside each
    linear chain every task but the last lazified as a fused chain's inner task is,
    every other task as a task of its own is (Dask's ``lazify``)."""
    from taskloom import _core

    dsk = as_graph(dsk)
    flat = _flat(keys)
    inner = {k for chain in _core.Compiled(dsk, flat).chains() for k in chain[:-1]}
    inner.difference_update(flat)
    # Only tasks and short lists can change (lazify_task leaves anything else as is).
    return {
        k: lazify_task(v, k not in inner) if type(v) is tuple or _short_list(v) else v
        for k, v in dsk.items()
    }


def _short_list(v: Any) -> bool:
    return type(v) is list and len(v) < 50


def _hlg_operands(expr: Any) -> list | None:
    """The ``HLGExpr`` parts of a lowered ``dask.compute`` expression, or None when it
    is anything else (a dataframe expression lowers through its own code)."""
    expr_module = sys.modules.get("dask._expr")
    if expr_module is None:
        return None
    hlg_expr = getattr(expr_module, "HLGExpr", None)
    sequence = getattr(expr_module, "_HLGExprSequence", None)
    if hlg_expr is None:
        return None
    if isinstance(expr, hlg_expr):
        operands = [expr]
    elif sequence is not None and isinstance(expr, sequence):
        operands = list(expr.operands)
    else:
        return None
    if not all(
        isinstance(op, hlg_expr) and hasattr(op, "hlg") and hasattr(op, "low_level_optimizer")
        for op in operands
    ):
        return None
    return operands


def node_types() -> tuple[type, ...] | None:
    """Dask's graph node types, once Dask's task spec is imported (before, no graph can
    hold them): what ``_core.get(..., foreign=)`` stops at, for :func:`as_graph`."""
    spec = _task_spec()
    return None if spec is None else (spec.GraphNode, spec.TaskRef)


def as_graph(dsk: Any, known: Collection = (), scan: bool = True) -> Any:
    """A dict graph of tuple tasks for whatever ``get`` received, Dask objects included.

    Parameters
    ----------
    dsk : mapping or object with ``__dask_graph__``
        The graph as given to ``get``: a dict, or what ``dask.compute`` passes.
    known : collection
        Keys with results known in advance (the ``get``'s cache): dependencies may name
        them.
    scan : bool
        Whether to look through a mapping's values for Dask's nodes. ``False`` when the
        native converter will (``_core.get(..., foreign=node_types())``): it reads every
        value anyway, where this pass costs a cache miss per value (0.05 us a task in
        dict order, 0.26 shuffled, at 10^6).

    Returns
    -------
    ``dsk`` itself if it holds no Dask graph objects (or ``scan`` is false and ``dsk``
    is a mapping), else a new dict.

    Raises
    ------
    ValueError
        A node depends on a key that is neither in the graph nor in ``known``.

    Examples
    --------
    >>> as_graph({"a": 1})
    {'a': 1}
    """
    if not isinstance(dsk, Mapping) and hasattr(dsk, "__dask_graph__"):
        with gc_paused():
            dsk = lower(dsk)
    spec = _task_spec()
    if spec is None or not scan or not isinstance(dsk, Mapping):
        return dsk
    kinds = (spec.GraphNode, spec.TaskRef)
    # One C-speed pass collecting the values' types (a graph has few), then a check
    # per type: 2.4x faster than isinstance per value (29 vs 70 ms at 10^6 tasks).
    if not any(issubclass(t, kinds) for t in set(map(type, dsk.values()))):
        return dsk
    with gc_paused():
        return _Converter(spec, dsk, known).run()
