"""NumPy's ufuncs and element-wise functions on blocked arrays, as ``dask.array``'s
(``add``, ``sin``, ``isnan``, ... and the multi-output ``divmod``, ``modf``, ``frexp``).
"""

from __future__ import annotations

__all__: list[str] = []
