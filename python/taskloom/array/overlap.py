"""Blocks that share borders with their neighbours: ``overlap``, ``map_overlap``,
``trim_internal``, as ``dask.array.overlap``.
"""

from __future__ import annotations

__all__: list[str] = []
