"""A plain-Python evaluator of Dask task graphs: what every scheduler is checked against.

It follows the same reading of the spec as ``dask._task_spec.convert_legacy_task``:
tasks first, then references, then lists, tuples and sets; dicts are literals. It is
written as directly as possible so it is easy to trust: recursive, memoized, no
scheduling.

What is a key (issue #12.11): an argument of a key type (``int``, ``float``, ``str``,
``tuple`` or a subclass: ``bool``, ``numpy.float64``, a ``str`` subclass, a namedtuple)
that is in the graph by the dict's own rules, ``arg in dsk``: ``True`` and ``1.0`` refer
to the key ``1``, a NaN only to the very NaN object that is the key. Only a TypeError
from hashing (unhashable) makes it a literal; any other error raised by its
``__hash__`` or ``__eq__`` propagates, as in Dask. Anything else (a ``Delayed``, a
``numpy.int64``, any object) is a literal, returned as is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def reference_get(dsk: dict, keys: Any) -> Any:
    cache: dict = {}

    def is_key(x: Any) -> bool:
        if not isinstance(x, int | float | str | tuple):
            return False
        try:
            return x in dsk
        except TypeError:  # unhashable (a tuple holding a list): a literal
            return False

    def evaluate(x: Any) -> Any:
        if type(x) is tuple and x and callable(x[0]):
            return x[0](*[evaluate(a) for a in x[1:]])
        if is_key(x):
            return compute(x)
        if type(x) in (list, tuple, set, frozenset):
            return type(x)(evaluate(a) for a in x)
        return x  # dicts included: Dask does not look inside them

    def compute(key: Any) -> Any:
        if key not in cache:
            cache[key] = evaluate(dsk[key])
        return cache[key]

    def shaped(k: Any) -> Any:
        return tuple(shaped(i) for i in k) if isinstance(k, list) else compute(k)

    return shaped(keys)


def seed_pipeline(load: Callable, clean: Callable, analyze: Callable, store: Callable) -> dict:
    """The raw-graph pipeline of seed article 004, as written there, with the given
    functions filled in."""
    return {
        "load-1": (load, "myfile.a.data"),
        "load-2": (load, "myfile.b.data"),
        "load-3": (load, "myfile.c.data"),
        "clean-1": (clean, "load-1"),
        "clean-2": (clean, "load-2"),
        "clean-3": (clean, "load-3"),
        "analyze": (analyze, ["clean-%d" % i for i in [1, 2, 3]]),  # noqa: UP031 (as written)
        "store": (store, "analyze"),
    }
