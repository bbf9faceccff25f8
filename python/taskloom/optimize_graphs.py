"""``taskloom.optimize``: several collections rebuilt around one merged, optimized graph,
as ``dask.optimize``.

Owns only that rebuilding. The optimizing itself is :mod:`taskloom.optimization`'s
``cull`` and ``fuse`` (the decisions the scheduler core makes on every run), applied
once to the union of the collections' graphs, keeping every key a collection holds.
Each collection comes back as a collection of its own type whose graph is the shared
one. Dask's own collections (when every collection given is one of Dask's) go to
``dask.optimize``.
"""

from __future__ import annotations

import copy
import sys
from typing import Any

__all__ = ["optimize"]


def _with_graph(c: Any, dsk: dict) -> Any:
    """Collection ``c`` with ``dsk`` as its whole graph."""
    from taskloom.delayed import Delayed

    if isinstance(c, Delayed):
        return Delayed(c.key, dsk, length=c._length)
    if hasattr(c, "_layers"):
        # Bags, items, arrays and dataframes keep their graph as a dict of layers: one
        # layer, named after the collection's keys, now holds it all.
        out = copy.copy(c)
        out._layers = {("optimized", id(dsk)): dsk}
        if hasattr(out, "_expr"):
            out._expr = None  # an array's fusable expression reads the old graph
        return out
    raise TypeError(
        f"optimize cannot rebuild a {type(c).__name__} around a new graph: taskloom "
        "rebuilds its own collections and delayed values (and Dask's, all together)"
    )


def optimize(*args: Any, traverse: bool = True, **kwargs: Any) -> tuple:
    """Equivalent collections sharing one merged and optimized graph.

    Use it before computing collections several times, or before handing their graph
    to another scheduler: the work shared by the collections is in the graph once,
    tasks none of them needs are gone, and linear chains are fused into single tasks.

    Parameters
    ----------
    *args : collections or any objects
        Collections are optimized; lists, tuples, sets and dicts holding collections
        are rebuilt around the optimized ones (unless ``traverse=False``); anything
        else is returned as it is.
    traverse : bool
        Look for collections inside containers.
    **kwargs
        Accepted for Dask's signature (Dask passes them to its optimizations);
        taskloom's take no options.

    Returns
    -------
    tuple
        One entry per argument.

    Examples
    --------
    >>> import taskloom
    >>> a = taskloom.delayed(sum)([1, 2])
    >>> b, c = a + 1, a * 10
    >>> b2, c2 = taskloom.optimize(b, c)
    >>> b2.compute(), c2.compute()
    (4, 30)
    >>> dict(b2.__dask_graph__()) == dict(c2.__dask_graph__())
    True
    """
    from taskloom.base import _fill, _find, _is_foreign, collections_to_dsk
    from taskloom.core import flatten_keys
    from taskloom.optimization import fuse

    found: list = []
    templates = [_find(a, found, traverse) for a in args]
    if not found:
        return tuple(templates)
    if "dask" in sys.modules and all(map(_is_foreign, found)):
        import dask

        return dask.optimize(*args, traverse=traverse, **kwargs)
    keys = list(dict.fromkeys(flatten_keys([c.__dask_keys__() for c in found])))
    dsk, _ = fuse(dict(collections_to_dsk(found)), keys, rename_keys=False)
    return tuple(_fill(t, [_with_graph(c, dsk) for c in found]) for t in templates)
