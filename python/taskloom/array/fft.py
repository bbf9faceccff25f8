"""Fast Fourier transforms along one chunked axis, as ``dask.array.fft``.
"""

from __future__ import annotations

__all__: list[str] = []
