"""``annotate`` and ``get_annotations``: task annotations, as in Dask.

Owns the annotations in force (a context variable, so threads and async tasks each
see their own), their recording on the tasks built inside a block, and their
collection when a computation starts. Annotations are hints for a scheduler
(``priority``, ``retries``, ``resources``, ``workers``, ``allow_other_workers``, or
any other name), checked here as Dask checks them.

Recording (at build time, as Dask's high-level graph layers do): a collection built
inside a block (an array, dataframe, series, index, scalar, bag or bag item) carries
its own layer of tasks as an :class:`Annotated` layer; a Delayed call made inside a
block carries an empty :class:`Annotated` graph as a mark for its own key. Nothing
else changes, and outside a block the only cost is one context-variable read per
collection or call. An operation made of several collections (a shuffle is a few
steps) annotates each step built in the block.

Where they take effect, when the computation starts (:func:`collect`, called by
``compute``/``persist``): taskloom's local schedulers (sync, threads, processes)
honour ``priority``: of the tasks ready to run, the one of highest priority goes
first (the depth-first order decides among equals; tasks without one count as 0).
On a Dask cluster (``scheduler=client``) every annotation goes to Dask's scheduler
with its tasks, which then go task by task rather than in pieces. A computation
submitted while a block is open is also annotated as a whole, on a cluster, since
``annotate`` opens ``dask.annotate`` too (when Dask is imported, as it is with a
client) and ``distributed`` reads those when a graph is submitted.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from numbers import Number
from typing import Any

__all__ = ["Annotated", "annotate", "collect", "get_annotations", "priorities"]

_annotations: ContextVar[dict[str, Any] | None] = ContextVar("taskloom_annotations", default=None)
# Set once anything is recorded: until then `collect` has nothing to look for.
_recorded = False


class Annotated(dict):
    """A layer of tasks (key -> task) built inside an :func:`annotate` block, with the
    annotations in force then; an ordinary dict to everything that merges layers.

    Examples
    --------
    >>> import taskloom, taskloom.array as da
    >>> x = da.ones(4, chunks=2)
    >>> with taskloom.annotate(priority=2):
    ...     y = x + 1
    >>> found = taskloom.annotations.collect([y])  # y's two blocks, not x's
    >>> sorted(k[1] for k in found), {k[0] for k in found} == {y.name}
    ([0, 1], True)
    >>> found[(y.name, 0)]
    {'priority': 2}
    """

    __slots__ = ("annotations",)

    def __init__(self, layer: Mapping, annotations: dict[str, Any]) -> None:
        super().__init__(layer)
        self.annotations = annotations

    def __reduce__(self) -> tuple:
        return (Annotated, (dict(self), self.annotations))


def record(layers: dict, name: Hashable) -> dict:
    """``layers``, with layer ``name`` annotated if a block is open (the collections'
    constructors call this; outside a block it returns ``layers`` itself)."""
    current = _annotations.get()
    if not current or type(layers.get(name)) is not dict:
        return layers  # no block, no such layer, or one annotated already
    global _recorded
    _recorded = True
    return {**layers, name: Annotated(layers[name], current)}


def mark() -> Annotated | None:
    """The mark of a Delayed call made now (its ``graph``), or None outside a block."""
    current = _annotations.get()
    if not current:
        return None
    global _recorded
    _recorded = True
    return Annotated({}, current)


def collect(collections: Iterable[Any]) -> dict[Hashable, dict[str, Any]]:
    """The annotations recorded on the tasks of ``collections``, by key.

    Reads the collections' :class:`Annotated` layers and walks Delayed values for
    their marks; returns ``{}`` at once if nothing was ever recorded in this process.
    """
    if not _recorded:
        return {}
    from taskloom.delayed import Delayed

    found: dict[Hashable, dict[str, Any]] = {}
    stack = [c for c in collections if isinstance(c, Delayed)]
    for c in collections:
        layers = getattr(c, "_layers", None)
        if isinstance(layers, dict):
            for layer in layers.values():
                if type(layer) is Annotated:
                    found.update(dict.fromkeys(layer, layer.annotations))
    seen: set[int] = set()
    while stack:
        d = stack.pop()
        if id(d) in seen:
            continue
        seen.add(id(d))
        graph = d._graph
        if type(graph) is Annotated:
            found[d._key] = graph.annotations
        stack.extend(d._deps)
    return found


def priorities(annotations: Mapping[Hashable, Mapping[str, Any]] | None) -> dict | None:
    """``{key: priority}`` from per-key annotations (a callable value is called with
    the key, as in Dask), or None if none has a priority."""
    if not annotations:
        return None
    found = {}
    for key, a in annotations.items():
        if "priority" in a:
            p = a["priority"]
            found[key] = p(key) if callable(p) else p
    return found or None


def get_annotations() -> dict[str, Any]:
    """The annotations in force: those of every enclosing :func:`annotate` block,
    the innermost winning.

    Examples
    --------
    >>> import taskloom
    >>> with taskloom.annotate(priority=1):
    ...     with taskloom.annotate(retries=2):
    ...         sorted(taskloom.get_annotations().items())
    [('priority', 1), ('retries', 2)]
    >>> taskloom.get_annotations()
    {}
    """
    return _annotations.get() or {}


def _check(annotations: dict[str, Any]) -> None:
    """Dask's checks of the annotations a cluster's scheduler reads."""
    if "workers" in annotations:
        workers = annotations["workers"]
        if isinstance(workers, (list, set, tuple)):
            annotations["workers"] = list(workers)
        elif isinstance(workers, str):
            annotations["workers"] = [workers]
        elif not callable(workers):
            raise TypeError(
                "'workers' annotation must be a sequence of str, a str or a callable, "
                f"but got {workers}."
            )
    for name, types, what in (
        ("priority", Number, "a Number or a callable"),
        ("retries", Number, "a Number or a callable"),
        ("resources", dict, "a dict"),
        ("allow_other_workers", bool, "a bool or a callable"),
    ):
        if name in annotations:
            value = annotations[name]
            if not isinstance(value, types) and not callable(value):
                raise TypeError(f"'{name}' annotation must be {what}, but got {value}")


@contextmanager
def annotate(**annotations: Any) -> Iterator[None]:
    """Annotate the tasks built, and the computations submitted, inside the block.

    Parameters
    ----------
    **annotations
        ``priority`` (number), ``retries`` (number), ``resources`` (dict, e.g.
        ``{"GPU": 1}``), ``workers`` (address or addresses), ``allow_other_workers``
        (bool), or any other name; a callable value is called with each task's key.
        Nested blocks add to the enclosing ones.

    Raises
    ------
    TypeError
        For a value of the wrong type for one of the names above.

    Examples
    --------
    >>> import taskloom
    >>> with taskloom.annotate(retries=3):
    ...     taskloom.get_annotations()
    {'retries': 3}

    Tasks built in a block keep its annotations; locally, ``priority`` decides which
    ready task runs first:

    >>> ran = []
    >>> def log(name):
    ...     ran.append(name)
    ...     return name
    >>> later = taskloom.delayed(log)("later")
    >>> with taskloom.annotate(priority=1):
    ...     urgent = taskloom.delayed(log)("urgent")
    >>> taskloom.compute(later, urgent, scheduler="sync")
    ('later', 'urgent')
    >>> ran
    ['urgent', 'later']
    """
    _check(annotations)
    token = _annotations.set({**get_annotations(), **annotations})
    try:
        with ExitStack() as stack:
            if "dask" in sys.modules:
                import dask

                stack.enter_context(dask.annotate(**annotations))
            yield
    finally:
        _annotations.reset(token)
