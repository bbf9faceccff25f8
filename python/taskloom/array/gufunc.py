"""Generalized ufuncs: ``apply_gufunc``, ``gufunc``, ``as_gufunc``, as ``dask.array.gufunc``.
"""

from __future__ import annotations

__all__: list[str] = []
