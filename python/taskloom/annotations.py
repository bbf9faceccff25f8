"""``annotate`` and ``get_annotations``: task annotations, as in Dask.

Owns the annotations in force (a context variable, so threads and async tasks each
see their own). Annotations are hints for a Dask cluster's scheduler (``priority``,
``retries``, ``resources``, ``workers``, ``allow_other_workers``), checked here as
Dask checks them. Where they take effect: a computation submitted to a Dask cluster
(``scheduler=client``) while an ``annotate`` block is open carries them, since
``annotate`` also opens ``dask.annotate`` (when Dask is imported, as it is with a
client) and ``distributed`` reads Dask's annotations when a graph is submitted.
Unlike Dask, taskloom's collections do not record the annotations in force when they
are built: compute inside the block for them to apply. taskloom's local schedulers
run tasks as soon as their inputs are ready and ignore annotations (``priority``
included: their order already favours finishing what started).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from numbers import Number
from typing import Any

__all__ = ["annotate", "get_annotations"]

_annotations: ContextVar[dict[str, Any] | None] = ContextVar("taskloom_annotations", default=None)


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
    """Annotate the tasks computed inside the block, for a Dask cluster's scheduler.

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
