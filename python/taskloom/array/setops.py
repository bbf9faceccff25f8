"""Set operations on blocked arrays, as ``dask.array``'s: ``isin``.

Policy: results keep a length known without computing (taskloom arrays have no unknown
chunk sizes), so ``isin`` (the shape of ``element``) is here, while ``unique`` and
``union1d``, whose lengths depend on the data, are not. ``isin`` tests every block of
``element`` against every block of ``test_elements`` and ORs the answers with the
reductions' tree (:func:`taskloom.array.reductions.any`), so no task holds more than
one block of each.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from taskloom.array.core import _merge, asarray, elemwise
from taskloom.array.reductions import any as _any
from taskloom.tokenize import tokenize

__all__ = ["isin"]


def _block_isin(
    element: np.ndarray, test: np.ndarray, assume_unique: bool, kind: str | None
) -> np.ndarray:
    found = np.isin(element, np.ravel(test), assume_unique=assume_unique, kind=kind)
    return found[..., None]


def isin(
    element: Any,
    test_elements: Any,
    assume_unique: bool = False,
    invert: bool = False,
    *,
    kind: str | None = None,
) -> Any:
    """``numpy.isin``: whether each element of ``element`` is among ``test_elements``.

    Parameters
    ----------
    element
        The array tested (the result has its shape and blocks).
    test_elements
        The values looked for (any shape; flattened).
    assume_unique
        Both inputs have unique values (numpy's speed-up; each block then has too).
    invert
        The opposite answer: whether each element is absent.
    kind
        numpy's algorithm (``None``, ``"sort"`` or ``"table"``).

    Returns
    -------
    Array of bool

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([[1, 2], [3, 4]]), chunks=1)
    >>> da.isin(x, da.from_array(np.array([4, 1, 9]), chunks=2)).compute()
    array([[ True, False],
           [False,  True]])
    """
    x = asarray(element)
    test = asarray(test_elements)
    if kind not in (None, "sort", "table"):  # numpy's check, before computing
        np.isin(np.zeros(1, dtype=x.dtype), np.zeros(1, dtype=test.dtype), kind=kind)
    tests = [(test.name, *idx) for idx in np.ndindex(*test.numblocks)]
    name = f"isin-parts-{tokenize(x.name, test.name, assume_unique, kind)}"
    layer = {
        (name, *idx, j): (_block_isin, (x.name, *idx), key, assume_unique, kind)
        for idx in np.ndindex(*x.numblocks)
        for j, key in enumerate(tests)
    }
    chunks = (*x.chunks, (1,) * len(tests))
    parts = _merge([x, test], name, layer, chunks, np.dtype(bool))
    found = _any(parts, axis=-1)
    return elemwise(np.logical_not, found) if invert else found
