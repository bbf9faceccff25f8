"""Linear algebra on blocked arrays, as ``dask.array.linalg``.
"""

from __future__ import annotations

__all__: list[str] = []
