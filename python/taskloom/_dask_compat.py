"""Running graphs that Dask itself builds, so ``dask.compute(x, scheduler=taskloom.get)``
works for Dask's own collections.

Recent Dask passes schedulers an expression object (with ``__dask_graph__``) whose graph
maps keys to ``dask._task_spec`` nodes rather than tuples: ``Task`` (called with a dict of
its dependencies' values), ``Alias`` (another key's value) and ``DataNode`` (a value).
Each node becomes a tuple task here, once per graph: aliases and data map directly; a
``Task`` becomes ``(_RunNode(node, deps), *deps)``, so the scheduler sees its
dependencies and the node evaluates itself, exactly as in Dask. Nothing here imports
Dask; it only looks at what Dask handed over.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Mapping
from itertools import repeat
from typing import Any

from taskloom.core import data_task


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


def _task_spec() -> Any:
    return sys.modules.get("dask._task_spec")


def as_graph(dsk: Any) -> Any:
    """A dict graph of tuple tasks for whatever ``get`` received, Dask objects included."""
    if not isinstance(dsk, Mapping) and hasattr(dsk, "__dask_graph__"):
        dsk = dsk.__dask_graph__()
    spec = _task_spec()
    if spec is None or not isinstance(dsk, Mapping):
        return dsk
    node_type = spec.GraphNode
    if not any(map(isinstance, dsk.values(), repeat(node_type))):  # a C-speed scan
        return dsk
    alias, data = spec.Alias, spec.DataNode
    out = {}
    for key, v in dsk.items():
        if not isinstance(v, node_type):
            out[key] = v
        elif isinstance(v, alias):
            out[key] = v.target
        elif isinstance(v, data):
            out[key] = data_task(v.value)
        else:
            deps = list(v.dependencies)
            out[key] = (_RunNode(v, deps), *deps)
    return out
