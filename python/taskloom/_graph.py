"""Argument handling shared by the ``get`` functions: what they accept, and errors
that name the offending argument. No scheduling happens here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taskloom._dask_compat import as_graph


def prepare(dsk: Any, cache: Mapping | None, extra: dict[str, Any], caller: str) -> dict:
    """Return ``dsk`` as a dict, with ``cache`` entries taking the place of tasks.

    Raises
    ------
    TypeError
        For keyword arguments this scheduler does not accept, or a graph that is
        not a mapping.
    """
    if extra:
        names = ", ".join(sorted(extra))
        raise TypeError(f"{caller}() got unexpected keyword argument(s): {names}")
    dsk = as_graph(dsk)  # graphs from Dask's own collections
    if not isinstance(dsk, dict):
        if not isinstance(dsk, Mapping):
            raise TypeError(
                f"{caller}() needs a dict mapping keys to tasks, got {type(dsk).__name__}"
            )
        dsk = dict(dsk)
    if cache:
        if not isinstance(cache, Mapping):
            raise TypeError(f"cache must be a mapping of precomputed results, got {type(cache)}")
        # Precomputed results replace their tasks; the user's dict is not modified.
        dsk = {**dsk, **cache}
    return dsk
