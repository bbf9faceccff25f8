"""Set operations on blocked arrays, as ``dask.array``'s: ``isin``, ``unique`` and
``union1d``.

Policy: ``isin`` tests every block of ``element`` against every block of
``test_elements`` and ORs the answers with the reductions' tree
(:func:`taskloom.array.reductions.any`), so no task holds more than one block of each.
``unique`` is a tree reduction too (each block's unique values with their first flat
index and count, merged ``split_every`` partials at a time); its results have an
unknown length (NaN chunks, as Dask's), except the inverse, which has the input's shape
and blocks (each block's values looked up in the unique values).
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from taskloom.array.core import Array, _derive, _merge, asarray, elemwise
from taskloom.array.reductions import _tree
from taskloom.array.reductions import any as _any
from taskloom.tokenize import tokenize

__all__ = ["isin", "union1d", "unique"]


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


def _unique_chunk(
    block: np.ndarray, axes: tuple, start: tuple | None = None, shape: tuple | None = None
) -> tuple:
    values, first, counts = np.unique(block, return_index=True, return_counts=True)
    if start is None:  # no return_index: positions are not needed (nor maybe known)
        return values, np.zeros(len(values), dtype=np.intp), counts.astype(np.intp)
    # Flat positions in the block, as flat positions in the whole (C order) array.
    coords = np.unravel_index(first, block.shape)
    index = np.ravel_multi_index(
        tuple(c + s for c, s in zip(coords, start, strict=True)), shape
    ).astype(np.intp)
    return values, index, counts.astype(np.intp)


def _flat_parts(parts: Any) -> list:
    return [q for p in parts for q in _flat_parts(p)] if isinstance(parts, list) else [parts]


def _unique_combine(parts: Any, axes: tuple) -> tuple:
    values, index, counts = (np.concatenate(f) for f in zip(*_flat_parts(parts), strict=True))
    merged, where = np.unique(values, return_inverse=True)
    first = np.full(len(merged), np.iinfo(np.intp).max, dtype=np.intp)
    np.minimum.at(first, where.ravel(), index)
    total = np.zeros(len(merged), dtype=np.intp)
    np.add.at(total, where.ravel(), counts)
    return merged, first, total


def _unique_finish(parts: Any, axes: tuple, keepdims: bool) -> tuple:
    return _unique_combine([parts], axes)


def _inverse_block(values: np.ndarray, block: np.ndarray) -> np.ndarray:
    return np.searchsorted(values, block).astype(np.intp)


def unique(
    ar: Any,
    return_index: bool = False,
    return_inverse: bool = False,
    return_counts: bool = False,
) -> Array | tuple[Array, ...]:
    """``numpy.unique`` of the flattened array: the sorted unique values (NaNs as one),
    and optionally each one's first flat index, the inverse and the counts.

    Parameters
    ----------
    ar
        The array.
    return_index
        Also the flat index of each unique value's first occurrence.
    return_inverse
        Also, for each element, the index of its value among the unique ones (the
        input's shape and blocks).
    return_counts
        Also the number of occurrences of each unique value.

    Returns
    -------
    Array or tuple of Array
        In numpy's order: values, index, inverse, counts. All but the inverse have an
        unknown length (NaN chunks) until computed.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([[3, 1], [1, 2]]), chunks=1)
    >>> values, counts = da.unique(x, return_counts=True)
    >>> values.compute(), counts.compute()
    (array([1, 2, 3]), array([2, 1, 1]))
    """
    x = asarray(ar)
    if x.ndim == 0:
        from taskloom.array.routines import reshape

        x = reshape(x, (1,))
    merged = _tree(
        x,
        _unique_chunk,
        _unique_combine,
        _unique_finish,
        None,
        False,
        x.dtype,
        "unique-parts",
        index_aware=return_index,
    )
    token = tokenize(merged.name)
    fields = [("values", 0, x.dtype)]
    if return_index:
        fields.append(("index", 1, np.dtype(np.intp)))
    if return_counts:
        fields.append(("counts", 2, np.dtype(np.intp)))
    out = {}
    for label, k, dtype in fields:
        name = f"unique-{label}-{token}"
        layer = {(name, 0): (operator.getitem, (merged.name,), k)}
        out[label] = _derive(merged, name, layer, ((math.nan,),), dtype)
    if return_inverse:
        values = out["values"]
        name = f"unique-inverse-{tokenize(values.name, x.name)}"
        layer = {
            (name, *idx): (_inverse_block, (values.name, 0), (x.name, *idx))
            for idx in np.ndindex(*x.numblocks)
        }
        inverse = _derive(x, name, layer, x.chunks, np.intp, values)
        if asarray(ar).ndim == 0:
            inverse = inverse[0]
        out["inverse"] = inverse
    order = ["values", "index", "inverse", "counts"]
    results = tuple(out[label] for label in order if label in out)
    return results[0] if len(results) == 1 else results


def union1d(ar1: Any, ar2: Any) -> Array:
    """``numpy.union1d``: the sorted unique values of both arrays (flattened), with an
    unknown length (NaN chunks) until computed.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> da.union1d(da.from_array(np.array([3, 1, 3]), chunks=2), np.array([[2, 1]])).compute()
    array([1, 2, 3])
    """
    from taskloom.array.routines import concatenate, ravel

    return unique(concatenate([ravel(asarray(ar1)), ravel(asarray(ar2))]))
