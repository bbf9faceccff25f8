"""Graph rewrites that return dict graphs, as in ``dask.optimization``.

The schedulers already cull and fuse inside the Rust core on every run; these functions
expose the same decisions as new dict graphs, for inspecting a graph or handing it to
another scheduler. Both run the core's analysis (one DFS from the keys) and never modify
the graph they are given.

Examples
--------
>>> from operator import add
>>> dsk = {"a": 1, "b": (add, "a", 1), "c": (add, "b", 10), "unused": (add, "a", 2)}
>>> culled, deps = cull(dsk, "c")
>>> sorted(culled), deps["c"]
(['a', 'b', 'c'], {'b'})
>>> fused, deps = fuse(dsk, "c", rename_keys=False)
>>> fused
{'c': (<built-in function add>, (<built-in function add>, 1, 1), 10)}
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from itertools import pairwise
from typing import Any

from taskloom import _core
from taskloom.core import data_task, iskey, istask

# Values that are read as themselves when they name no key of the graph.
_SCALARS = frozenset([int, float, complex, bool, str, bytes, type(None)])

__all__ = ["cull", "fuse", "key_split", "subs"]


def _compiled(dsk: Mapping, keys: Any) -> Any:
    return _core.Compiled(dict(dsk), keys)


def cull(dsk: Mapping, keys: Hashable | list) -> tuple[dict, dict]:
    """Only the tasks ``keys`` need.

    Returns
    -------
    (dict, dict)
        The culled graph (in execution order) and, per key, the set of keys it reads.

    Raises
    ------
    KeyError
        If a requested key is not in the graph.
    """
    compiled = _compiled(dsk, keys)
    return {k: dsk[k] for k in compiled.keys()}, compiled.dependencies()


_TOKEN = re.compile(r"^(?:[0-9a-f]{8,}|\d+)$")


def key_split(key: Hashable) -> str:
    """The name part of a key: ``'inc-1b3f...'`` and ``('inc-1b3f...', 0)`` give ``'inc'``.

    Examples
    --------
    >>> key_split("inc-" + "a" * 32), key_split(("x", 3)), key_split("load-1")
    ('inc', 'x', 'load')
    """
    if isinstance(key, tuple) and key:
        return key_split(key[0])
    words = str(key).split("-")
    kept = [w for w in words[1:] if not _TOKEN.match(w)]
    return "-".join([words[0], *kept])


def subs(task: Any, key: Hashable, value: Any) -> Any:
    """``task`` with each reference to ``key`` replaced by ``value`` (read like the
    scheduler reads arguments: nested tasks, lists, tuples and sets are walked)."""
    if istask(task):
        return (task[0], *(subs(a, key, value) for a in task[1:]))
    try:
        if type(task) is type(key) and task == key:
            return value
    except Exception:  # exotic __eq__: not a reference
        return task
    if type(task) in (list, tuple, set, frozenset):
        return type(task)(subs(a, key, value) for a in task)
    return task


def fuse(
    dsk: Mapping,
    keys: Hashable | list | None = None,
    dependencies: Mapping | None = None,
    ave_width: float | None = None,
    max_width: float | None = None,
    max_height: float | None = None,
    max_depth_new_edges: float | None = None,
    rename_keys: bool = True,
    fuse_subgraphs: bool | None = None,
) -> tuple[dict, dict]:
    """Fuse linear chains of tasks into single tasks (and cull what ``keys`` do not need).

    A task whose only consumer reads nothing else is inlined into that consumer, as the
    core does when it runs a graph. ``keys`` are kept as keys; without ``keys``, every
    task no other task reads is kept.

    Parameters
    ----------
    dependencies : mapping, optional
        Accepted for compatibility with Dask (which uses it to save work); the core
        finds dependencies itself.
    rename_keys : bool
        Give a fused task a key naming the chain (``"load-clean-analyze"`` style) and keep
        the chain's last key as an alias of it, as Dask does; with False the fused task
        keeps the last key.
    ave_width, max_width, max_height, max_depth_new_edges, fuse_subgraphs
        Dask's options for fusing wider (reduction-like) subgraphs, which taskloom does
        not do: only None (the default) is accepted.

    Returns
    -------
    (dict, dict)
        The new graph and, per key, the set of keys it reads.
    """
    unsupported = {
        "ave_width": ave_width,
        "max_width": max_width,
        "max_height": max_height,
        "max_depth_new_edges": max_depth_new_edges,
        "fuse_subgraphs": fuse_subgraphs,
    }
    given = sorted(k for k, v in unsupported.items() if v is not None)
    if given:
        raise NotImplementedError(
            f"taskloom fuses linear chains only; {', '.join(given)} not supported"
        )
    if keys is None:
        read = {d for ds in _compiled(dsk, list(dsk)).dependencies().values() for d in ds}
        keys = [k for k in dsk if k not in read]
    compiled = _compiled(dsk, keys)
    out = {k: dsk[k] for k in compiled.keys()}
    for chain in compiled.chains():
        group, value = [chain[0]], dsk[chain[0]]
        for prev, key in pairwise(chain):
            # A task, an alias, or a number or string naming no key (inlined as Dask
            # does) goes in as it is; any other value is quoted.
            keep = istask(value) or iskey(value, dsk) or type(value) in _SCALARS
            try:
                value = subs(dsk[key], prev, value if keep else data_task(value))
            except TypeError:
                # The consumer holds the reference inside a set, where a task
                # (which may hold a list) cannot go: the chain is cut here.
                _replace(out, group, value, dsk, rename_keys)
                group, value = [key], dsk[key]
                continue
            group.append(key)
        _replace(out, group, value, dsk, rename_keys)
    return out, _compiled(out, list(out)).dependencies()


def _replace(out: dict, group: list, value: Any, dsk: Mapping, rename_keys: bool) -> None:
    """Put the fused ``value`` of the keys in ``group`` in their place in ``out``."""
    if len(group) < 2:
        return
    for k in group:
        del out[k]
    last = group[-1]
    new_key = last
    if rename_keys:
        name = "-".join(key_split(k) for k in group)
        candidate = (name, *last[1:]) if isinstance(last, tuple) else name
        if candidate not in dsk and candidate not in out:
            new_key = candidate
    out[new_key] = value
    if new_key != last:
        out[last] = new_key
