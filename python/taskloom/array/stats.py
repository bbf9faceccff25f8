"""Statistical tests on blocked arrays, as ``dask.array.stats`` (needs scipy).
"""

from __future__ import annotations

__all__: list[str] = []
