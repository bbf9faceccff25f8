"""Small helpers for task graphs in Dask's format, as in ``dask.core``.

A task is a tuple whose first element is callable; :func:`quote` turns any value into a
task that returns it unchanged, so the scheduler never reads a value as a task, a key
or a container of keys.

Examples
--------
>>> from operator import add
>>> istask((add, 1, 2)), istask(("x", 1))
(True, False)
>>> import taskloom
>>> taskloom.get_sync({"v": quote((add, 1, 2))}, "v") == (add, 1, 2)
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

__all__ = [
    "bind_kwargs",
    "combine_tree",
    "data_task",
    "flatten_keys",
    "iskey",
    "istask",
    "literal",
    "quote",
]


def istask(x: Any) -> bool:
    """Whether ``x`` is a task: a tuple whose first element is callable."""
    return type(x) is tuple and bool(x) and callable(x[0])


def iskey(x: Any, dsk: Mapping) -> bool:
    """Whether ``x`` names a key of ``dsk`` the way the scheduler reads arguments: only
    ``int``, ``float``, ``str`` and ``tuple`` values can (as in Dask)."""
    try:
        return isinstance(x, int | float | str | tuple) and x in dsk
    except TypeError:  # an unhashable tuple
        return False


def flatten_keys(keys: Any) -> list:
    """The keys of ``keys`` as a ``get`` function takes them (a key, or lists of keys
    nested to any depth), in order, in one list.

    Examples
    --------
    >>> flatten_keys([["a", ("b", 0)], [["c"]]])
    ['a', ('b', 0), 'c']
    >>> flatten_keys(("b", 0))
    [('b', 0)]
    """
    out: list = []
    stack = [keys]
    while stack:
        k = stack.pop()
        if isinstance(k, list):
            stack.extend(reversed(k))
        else:
            out.append(k)
    return out


def bind_kwargs(func: Callable, kwargs: dict) -> Callable:
    """``func`` with ``kwargs`` bound, or ``func`` itself when there are none."""
    return partial(func, **kwargs) if kwargs else func


class literal:
    """A value the scheduler must pass exactly as given, used as the task ``(literal(x),)``."""

    __slots__ = ("data",)

    def __init__(self, data: Any) -> None:
        self.data = data

    def __call__(self) -> Any:
        return self.data

    def __repr__(self) -> str:
        return f"literal<type={type(self.data).__name__}>"

    def __reduce__(self) -> tuple:
        return (literal, (self.data,))


def quote(x: Any) -> tuple:
    """The task ``(literal(x),)``, whose result is ``x`` itself."""
    return (literal(x),)


# Types the scheduler never reads as tasks, keys or containers. (Numbers can be: ``5``
# reads the key ``5``, or ``5.0``, or ``True``'s ``1``.)
PLAIN_TYPES = frozenset([type(None), bytes])


def data_task(value: Any) -> Any:
    """A graph value whose result is ``value``: itself if the scheduler cannot misread
    it, else :func:`quote` of it (which the native scheduler reads as a constant, so it
    costs nothing at run time). A ``distributed`` future stays as it is: the cluster's
    scheduler reads it as the result it stands for."""
    t = type(value)
    if t in PLAIN_TYPES or (t.__name__ == "Future" and t.__module__.startswith("distributed")):
        return value
    return (literal(value),)


def combine_tree(
    layer: dict, level: list, combine: Callable, split_every: int, name: Callable[[int], str]
) -> list:
    """The inner levels of a tree reduction: add to ``layer`` tasks ``combine([...])``
    over groups of at most ``split_every`` keys of ``level``, level by level (keys
    ``(name(depth), i)``), until at most ``split_every`` keys remain; return those."""
    depth = 0
    while len(level) > split_every:
        depth += 1
        prefix = name(depth)
        nxt = []
        for j in range(0, len(level), split_every):
            key = (prefix, j // split_every)
            layer[key] = (combine, level[j : j + split_every])
            nxt.append(key)
        level = nxt
    return level


def partition_tree(
    layer: dict,
    source: str,
    npartitions: int,
    perpartition: Callable,
    base: str,
    combine: Callable,
    split_every: int,
    name: Callable[[int], str],
) -> list:
    """A tree reduction's leaves and inner levels: add to ``layer`` the tasks
    ``(base, i): perpartition((source, i))``, one per partition, then
    :func:`combine_tree` over them; return the keys left for the final task."""
    keys = [(base, i) for i in range(npartitions)]
    for i, key in enumerate(keys):
        layer[key] = (perpartition, (source, i))
    return combine_tree(layer, keys, combine, split_every, name)
