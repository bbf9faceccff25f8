"""Masked arrays made of blocks, as ``dask.array.ma``.
"""

from __future__ import annotations

__all__: list[str] = []
