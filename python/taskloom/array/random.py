"""Random arrays, generated block by block from seeds drawn once per array, so the
same seed gives the same array whatever the chunks' scheduling (as in Dask, the values
depend on the chunking)."""

from __future__ import annotations

from typing import Any

import numpy as np

from taskloom.array.core import Array, _block_slices, normalize_chunks
from taskloom.tokenize import tokenize


def _block(method: str, seed: int, shape: tuple, args: tuple, kwargs: dict) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return getattr(rng, method)(*args, size=shape, **kwargs)


class Generator:
    """A block-wise random generator, like ``numpy.random.Generator``.

    Examples
    --------
    >>> g = Generator(42)
    >>> x = g.random((5,), chunks=2)
    >>> bool(((x.compute() >= 0) & (x.compute() < 1)).all())
    True
    """

    def __init__(self, seed: Any = None) -> None:
        self._rng = np.random.default_rng(seed)

    def _make(
        self, method: str, size: Any, chunks: Any, dtype: Any, *args: Any, **kwargs: Any
    ) -> Array:
        shape = (size,) if isinstance(size, int | np.integer) else tuple(size or ())
        chunks = normalize_chunks(chunks, shape, dtype)
        blocks = list(_block_slices(chunks))
        seeds = self._rng.integers(0, 2**63 - 1, size=len(blocks))
        name = f"{method}-{tokenize(shape, chunks, seeds, args, kwargs)}"
        layer = {
            (name, *idx): (
                _block,
                method,
                int(seed),
                tuple(s.stop - s.start for s in slc),
                args,
                kwargs,
            )
            for (idx, slc), seed in zip(blocks, seeds, strict=True)
        }
        if not shape:
            layer = {
                (name,): (_block, method, int(seeds[0]) if len(seeds) else 0, (), args, kwargs)
            }
        return Array({name: layer}, name, chunks, dtype)

    def random(self, size: Any = None, chunks: Any = "auto") -> Array:
        return self._make("random", size, chunks, np.dtype("f8"))

    def normal(
        self, loc: float = 0.0, scale: float = 1.0, size: Any = None, chunks: Any = "auto"
    ) -> Array:
        return self._make("normal", size, chunks, np.dtype("f8"), loc, scale)

    def uniform(
        self, low: float = 0.0, high: float = 1.0, size: Any = None, chunks: Any = "auto"
    ) -> Array:
        return self._make("uniform", size, chunks, np.dtype("f8"), low, high)

    def integers(
        self, low: int, high: int | None = None, size: Any = None, chunks: Any = "auto"
    ) -> Array:
        return self._make("integers", size, chunks, np.dtype("i8"), low, high)


def default_rng(seed: Any = None) -> Generator:
    """A :class:`Generator` seeded like ``numpy.random.default_rng``."""
    return Generator(seed)


class RandomState(Generator):
    """Legacy-style interface (``RandomState(seed).random(...)``), backed by Generator."""

    def randint(
        self, low: int, high: int | None = None, size: Any = None, chunks: Any = "auto"
    ) -> Array:
        return self.integers(low, high, size=size, chunks=chunks)


_global = Generator()


def random(size: Any = None, chunks: Any = "auto") -> Array:
    """Uniform floats in [0, 1)."""
    return _global.random(size, chunks=chunks)


def normal(loc: float = 0.0, scale: float = 1.0, size: Any = None, chunks: Any = "auto") -> Array:
    """Normally distributed floats."""
    return _global.normal(loc, scale, size, chunks=chunks)


def uniform(low: float = 0.0, high: float = 1.0, size: Any = None, chunks: Any = "auto") -> Array:
    """Uniform floats in [low, high)."""
    return _global.uniform(low, high, size, chunks=chunks)


def randint(low: int, high: int | None = None, size: Any = None, chunks: Any = "auto") -> Array:
    """Uniform integers in [low, high)."""
    return _global.integers(low, high, size, chunks=chunks)
