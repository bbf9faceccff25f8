"""Argument handling shared by the ``get`` functions: what they accept, and errors
that name the offending argument. No scheduling happens here.

Policy, as Dask's ``get`` functions: keyword arguments a ``get`` does not know are
accepted and ignored (``compute(..., scheduler=get, **kwargs)`` forwards everything it
does not use itself, so a keyword meant for another scheduler must not fail here).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from taskloom import _core, config
from taskloom._dask_compat import as_graph


class DelayedGraph(Mapping):
    """The task graph of some Delayed values, read as a dict only when someone asks.

    ``compute`` passes this to the scheduler: taskloom's own ``get`` reads the tasks
    straight from the Delayed values (no dict of a million entries is built); any other
    ``get`` function, or a callback, sees an ordinary read-only mapping.
    """

    __slots__ = ("_delayed_roots", "_dict")

    def __init__(self, roots: list) -> None:
        self._delayed_roots = roots
        self._dict: dict | None = None

    def _materialize(self) -> dict:
        if self._dict is None:
            self._dict = _core.graph_of(self._delayed_roots)
        return self._dict

    def __getitem__(self, key: Any) -> Any:
        return self._materialize()[key]

    def __iter__(self) -> Iterator:
        return iter(self._materialize())

    def __len__(self) -> int:
        return len(self._materialize())


def prepare(
    dsk: Any, cache: Mapping | None, extra: dict[str, Any], caller: str, scan: bool = True
) -> dict:
    """Return ``dsk`` as a dict, with ``cache`` entries taking the place of tasks.

    ``scan=False`` leaves Dask's graph nodes among a dict's values for the caller to
    lower (see :func:`taskloom._dask_compat.as_graph`), unless there is a ``cache``:
    its results join the graph after the nodes are lowered, never as nodes.

    ``extra`` holds the keyword arguments the ``get`` function does not know: they are
    accepted and ignored, as Dask's ``get`` functions do (``dask.local.get_async``
    takes ``**kwargs``), so ``compute(..., scheduler=taskloom.get, anything=1)`` runs.

    Raises
    ------
    TypeError
        For a graph that is not a mapping, or a cache that is not one.
    ValueError
        For a Dask graph node depending on a key that is nowhere (see
        :func:`taskloom._dask_compat.as_graph`).
    """
    del extra  # ignored, as in Dask
    if cache and not isinstance(cache, Mapping):
        raise TypeError(f"cache must be a mapping of precomputed results, got {type(cache)}")
    if isinstance(dsk, DelayedGraph):
        return {**dsk, **cache} if cache else dsk
    dsk = as_graph(dsk, cache or (), scan or bool(cache))  # Dask's collections' graphs
    if not isinstance(dsk, dict):
        if not isinstance(dsk, Mapping):
            raise TypeError(
                f"{caller}() needs a dict mapping keys to tasks, got {type(dsk).__name__}"
            )
        dsk = dict(dsk)
    if cache:
        # Precomputed results replace their tasks; the user's dict is not modified.
        dsk = {**dsk, **cache}
    return dsk


CPU_COUNT: int = os.cpu_count() or 1

# The most workers a ``get`` accepts. Far above any machine's core count (the largest
# have a few thousand) yet low enough that a value past it is surely a mistake: an
# overflowed or unit-confused number, or ``2**63`` meant as "unlimited". Without the
# limit the processes scheduler would try to start that many processes and never
# return. The threaded scheduler's native pool stops at 1024 threads anyway.
MAX_WORKERS: int = 2**16


def num_workers(n: Any) -> int:
    """``num_workers=`` as given, else the ``num_workers`` setting, else the CPU count.

    Parameters
    ----------
    n : int or None
        The ``num_workers=`` argument of a ``get`` function.

    Returns
    -------
    int
        A number of workers, from 1 to :data:`MAX_WORKERS`.

    Raises
    ------
    ValueError
        For anything but a positive integer of at most :data:`MAX_WORKERS`, whether
        passed or read from the setting (the message says which).
    """
    what = "num_workers"
    if n is None:
        n = config.get("num_workers", CPU_COUNT)
        what = "the num_workers setting"
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{what} must be a positive integer, got {n!r}")
    if n > MAX_WORKERS:
        raise ValueError(
            f"{what} must be at most {MAX_WORKERS} (2**16), got {n!r}: no machine runs "
            "that many workers usefully"
        )
    return n
