"""Masked arrays made of blocks, as ``dask.array.ma``.

This module owns the functions of ``dask.array.ma``: each builds blocks that are
``numpy.ma.MaskedArray`` by calling the matching ``numpy.ma`` function block by block
(through :func:`~taskloom.array.map_blocks`/:func:`~taskloom.array.blockwise`), so a
block's mask always travels with its data. Reductions that must ignore masked elements
(``count``, ``average``) reduce plain arrays (the data with masked elements filled,
and the mask) with the tree reductions of :mod:`taskloom.array.reductions`, so their
partial results never depend on how partial masks are joined. ``numpy.ma`` arrays
given as inputs are split into data and mask, each read lazily.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from taskloom.array.blockwise import blockwise, map_blocks
from taskloom.array.core import Array, _derive, asarray, elemwise, from_array
from taskloom.tokenize import tokenize

__all__ = [
    "average",
    "count",
    "empty_like",
    "filled",
    "fix_invalid",
    "getdata",
    "getmaskarray",
    "masked_array",
    "masked_equal",
    "masked_greater",
    "masked_greater_equal",
    "masked_inside",
    "masked_invalid",
    "masked_less",
    "masked_less_equal",
    "masked_not_equal",
    "masked_outside",
    "masked_values",
    "masked_where",
    "nonzero",
    "ones_like",
    "set_fill_value",
    "where",
    "zeros_like",
]


def _asanyarray(a: Any) -> Array:
    """``a`` as a blocked array, keeping the mask of a ``numpy.ma`` array (which
    :func:`~taskloom.array.from_array` would drop: it reads plain numpy blocks)."""
    if isinstance(a, Array):
        return a
    if isinstance(a, np.ma.MaskedArray):
        data = from_array(np.ma.getdata(a))
        mask = from_array(np.ma.getmaskarray(a), chunks=data.chunks)
        return masked_array(data, mask=mask, fill_value=a.fill_value)
    return asarray(a)


def _chunked_like(b: Array, a: Array) -> Array:
    """``b`` rechunked to ``a``'s blocks on the trailing axes they share, so that lining
    them up never rechunks ``a``: taskloom's rechunk joins pieces with ``numpy.block``,
    which drops masks."""
    if b.ndim > a.ndim:
        return b
    target = tuple(
        a.chunks[a.ndim - b.ndim + i] if n == a.shape[a.ndim - b.ndim + i] else c
        for i, (c, n) in enumerate(zip(b.chunks, b.shape, strict=True))
    )
    return b.rechunk(target)


def _rev(ndim: int) -> tuple[int, ...]:
    # Indices numbered from the last axis: blockwise then aligns trailing axes, which is
    # numpy's broadcasting of the value against the array.
    return tuple(range(ndim))[::-1]


def _compare(func: Any) -> Any:
    def masked(a: Any, value: Any) -> Array:
        a = _asanyarray(a)
        value = _chunked_like(_asanyarray(value), a)
        ainds, vinds = _rev(a.ndim), _rev(value.ndim)
        return blockwise(func, max(ainds, vinds, key=len), a, ainds, value, vinds, dtype=a.dtype)

    name = func.__name__
    masked.__name__ = masked.__qualname__ = name
    masked.__module__ = __name__
    masked.__annotations__ = {"a": "Any", "value": "Any", "return": "Array"}
    masked.__doc__ = f"""``numpy.ma.{name}``, block by block: ``a`` masked where the
    comparison with ``value`` (a scalar or an array broadcast against ``a``) holds.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(5), chunks=2)
    >>> da.ma.count(da.ma.{name}(x, 2)).compute() <= 5
    np.True_
    """
    return masked


masked_greater = _compare(np.ma.masked_greater)
masked_greater_equal = _compare(np.ma.masked_greater_equal)
masked_less = _compare(np.ma.masked_less)
masked_less_equal = _compare(np.ma.masked_less_equal)
masked_not_equal = _compare(np.ma.masked_not_equal)


def _scalar_only(func: str, value: Any) -> None:
    if getattr(value, "shape", ()):
        raise ValueError(f"da.ma.{func} doesn't support array `value`s")


def masked_equal(a: Any, value: Any) -> Array:
    """``numpy.ma.masked_equal``: ``a`` masked where it equals the scalar ``value``.

    Raises
    ------
    ValueError
        If ``value`` is an array (as Dask).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([1, 2, 1, 3]), chunks=2)
    >>> da.ma.filled(da.ma.masked_equal(x, 1), 0).compute()
    array([0, 2, 0, 3])
    """
    a = _asanyarray(a)
    _scalar_only("masked_equal", value)
    return map_blocks(np.ma.masked_equal, a, value, dtype=a.dtype)


def masked_invalid(a: Any) -> Array:
    """``numpy.ma.masked_invalid``: ``a`` masked where it is NaN or infinite.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([1.0, np.nan, np.inf]), chunks=2)
    >>> da.ma.count(da.ma.masked_invalid(x)).compute()
    np.int64(1)
    """
    a = _asanyarray(a)
    return map_blocks(np.ma.masked_invalid, a, dtype=a.dtype)


def masked_inside(x: Any, v1: Any, v2: Any) -> Array:
    """``numpy.ma.masked_inside``: ``x`` masked inside the closed interval between
    ``v1`` and ``v2`` (in either order).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(6), chunks=4)
    >>> da.ma.filled(da.ma.masked_inside(x, 4, 1), -1).compute()
    array([ 0, -1, -1, -1, -1,  5])
    """
    x = _asanyarray(x)
    return map_blocks(np.ma.masked_inside, x, v1, v2, dtype=x.dtype)


def masked_outside(x: Any, v1: Any, v2: Any) -> Array:
    """``numpy.ma.masked_outside``: ``x`` masked outside the closed interval between
    ``v1`` and ``v2``.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(6), chunks=4)
    >>> da.ma.filled(da.ma.masked_outside(x, 1, 4), -1).compute()
    array([-1,  1,  2,  3,  4, -1])
    """
    x = _asanyarray(x)
    return map_blocks(np.ma.masked_outside, x, v1, v2, dtype=x.dtype)


def masked_where(condition: Any, a: Any) -> Array:
    """``numpy.ma.masked_where``: ``a`` masked where ``condition`` is true.

    Raises
    ------
    IndexError
        If ``condition`` is an array of another shape than ``a`` (as Dask).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(4), chunks=2)
    >>> da.ma.filled(da.ma.masked_where(x % 2 == 1, x), 9).compute()
    array([0, 9, 2, 9])
    """
    cshape = getattr(condition, "shape", ())
    ashape = getattr(a, "shape", np.shape(a))
    if cshape and cshape != ashape:
        raise IndexError(
            f"Inconsistent shape between the condition and the input (got {cshape} and {ashape})"
        )
    a = _asanyarray(a)
    condition = _chunked_like(_asanyarray(condition), a)
    ainds, cinds = tuple(range(a.ndim)), tuple(range(condition.ndim))
    return blockwise(np.ma.masked_where, ainds, condition, cinds, a, ainds, dtype=a.dtype)


def masked_values(
    x: Any, value: Any, rtol: float = 1e-05, atol: float = 1e-08, shrink: bool = True
) -> Array:
    """``numpy.ma.masked_values``: ``x`` masked where it is close to the scalar
    ``value`` (``numpy.isclose`` with ``rtol``/``atol``).

    Raises
    ------
    ValueError
        If ``value`` is an array (as Dask).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([1.0, 1.1, 2.0, 1.0000001]), chunks=2)
    >>> da.ma.filled(da.ma.masked_values(x, 1.0), 0.0).compute()
    array([0. , 1.1, 2. , 0. ])
    """
    x = _asanyarray(x)
    _scalar_only("masked_values", value)
    return map_blocks(
        np.ma.masked_values, x, value, rtol=rtol, atol=atol, shrink=shrink, dtype=x.dtype
    )


def fix_invalid(a: Any, fill_value: Any = None) -> Array:
    """``numpy.ma.fix_invalid``: ``a`` with NaN and infinite values masked and their
    data replaced by ``fill_value`` (the dtype's default fill value if ``None``).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([1.0, np.nan]), chunks=1)
    >>> da.ma.getdata(da.ma.fix_invalid(x, fill_value=-1.0)).compute()
    array([ 1., -1.])
    """
    a = _asanyarray(a)
    return map_blocks(np.ma.fix_invalid, a, fill_value=fill_value, dtype=a.dtype)


def filled(a: Any, fill_value: Any = None) -> Array:
    """``numpy.ma.filled``: plain blocks, masked elements replaced by ``fill_value``
    (each block's own fill value if ``None``).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.ma.masked_array(np.arange(3), mask=[0, 1, 0])
    >>> da.ma.filled(x, -1).compute()
    array([ 0, -1,  2])
    """
    a = _asanyarray(a)
    return map_blocks(np.ma.filled, a, fill_value=fill_value, dtype=a.dtype)


def getdata(a: Any) -> Array:
    """``numpy.ma.getdata``: the data of ``a`` as plain blocks, masked or not.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> da.ma.getdata(da.ma.masked_array(np.arange(3), mask=[0, 1, 0])).compute()
    array([0, 1, 2])
    """
    a = _asanyarray(a)
    return map_blocks(np.ma.getdata, a, dtype=a.dtype)


def getmaskarray(a: Any) -> Array:
    """``numpy.ma.getmaskarray``: the full boolean mask of ``a`` (all ``False`` for a
    block without a mask).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> da.ma.getmaskarray(da.ma.masked_array(np.arange(3), mask=[0, 1, 0])).compute()
    array([False,  True, False])
    """
    a = _asanyarray(a)
    return map_blocks(np.ma.getmaskarray, a, dtype=bool)


def _masked_array(data: Any, mask: Any = np.ma.nomask, masked_dtype: Any = None, **kwargs: Any):
    return np.ma.masked_array(data, mask=mask, dtype=masked_dtype, **kwargs)


def masked_array(
    data: Any, mask: Any = np.ma.nomask, fill_value: Any = None, **kwargs: Any
) -> Array:
    """``numpy.ma.masked_array``, block by block: ``data`` with ``mask`` (an array of
    the same shape, or one value for every element).

    Other keywords (``dtype``, ``copy``, ``keep_mask``, ``hard_mask``...) are passed
    to ``numpy.ma.masked_array``.

    Raises
    ------
    ValueError
        If ``fill_value`` is not a scalar.
    numpy.ma.MaskError
        If ``mask`` has another shape than ``data`` (and more than one element).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.ma.masked_array(da.arange(4, chunks=2), mask=[1, 0, 0, 1], fill_value=7)
    >>> da.ma.filled(x).compute()
    array([7, 1, 2, 7])
    """
    data = _asanyarray(data)
    inds = tuple(range(data.ndim))
    arginds: list = [data, inds]
    if getattr(fill_value, "shape", ()):
        raise ValueError("non-scalar fill_value not supported")
    kwargs["fill_value"] = fill_value
    if mask is not np.ma.nomask:
        mask = _chunked_like(_asanyarray(mask), data)
        if mask.size == 1:
            mask = mask.reshape((1,) * data.ndim)
        elif data.shape != mask.shape:
            raise np.ma.MaskError(
                "Mask and data not compatible: data shape "
                f"is {data.shape!r}, and mask shape is {mask.shape!r}."
            )
        arginds.extend([mask, inds])
    dtype = np.dtype(kwargs.pop("dtype")) if "dtype" in kwargs else data.dtype
    if dtype != data.dtype:
        kwargs["masked_dtype"] = dtype
    return blockwise(_masked_array, inds, *arginds, dtype=dtype, **kwargs)


def _set_fill_value(block: Any, fill_value: Any) -> Any:
    if isinstance(block, np.ma.MaskedArray):
        block = block.copy()  # the input's blocks may be shared with other arrays
        np.ma.set_fill_value(block, fill_value)
    return block


def set_fill_value(a: Array, fill_value: Any) -> None:
    """``numpy.ma.set_fill_value``: set the fill value of the masked blocks of ``a``,
    in place (``a`` becomes the new graph, as in Dask); returns ``None``.

    Raises
    ------
    ValueError
        If ``fill_value`` is an array (as Dask).
    TypeError
        If ``fill_value`` cannot be converted to ``a``'s dtype (as numpy).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.ma.masked_array(da.arange(3, chunks=2), mask=[0, 1, 0])
    >>> da.ma.set_fill_value(x, 5)
    >>> da.ma.filled(x).compute()
    array([0, 5, 2])
    """
    a = _asanyarray(a)
    _scalar_only("set_fill_value", fill_value)
    fill_value = np.ma.core._check_fill_value(fill_value, a.dtype)
    res = map_blocks(_set_fill_value, a, fill_value, dtype=a.dtype)
    a._layers, a.name, a._expr = res._layers, res.name, res._expr


def _count_chunk(block: Any, axes: tuple) -> np.ndarray:
    return np.asarray(np.ma.count(block, axis=axes, keepdims=True), dtype=np.intp)


def _count_combine(parts: Any, axes: tuple) -> np.ndarray:
    from taskloom.array.reductions import _concat_nested

    return np.sum(_concat_nested(parts), axis=axes, keepdims=True, dtype=np.intp)


def count(
    a: Any, axis: Any = None, keepdims: bool = False, split_every: int | None = None
) -> Array:
    """``numpy.ma.count``: the number of unmasked elements along ``axis`` (all axes
    by default), as a tree reduction.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.ma.masked_array(da.ones((2, 3), chunks=1), mask=[[0, 1, 1], [0, 0, 1]])
    >>> da.ma.count(x, axis=1).compute()
    array([1, 2])
    """
    from taskloom.array.reductions import _simple_finish, _tree

    a = _asanyarray(a)
    return _tree(a, _count_chunk, _count_combine, _simple_finish, axis, keepdims,
                 np.intp, "count", split_every)  # fmt: skip


def _average_weights(a: Array, axis: Any, weights: Any) -> Array:
    """``weights`` checked and broadcast against ``a``, as ``numpy.average``."""
    wgt = _asanyarray(weights)
    if a.shape == wgt.shape:
        return wgt
    if axis is None:
        raise TypeError("Axis must be specified when shapes of a and weights differ.")
    if wgt.ndim != 1:
        raise TypeError("1D weights expected when shapes of a and weights differ.")
    if not isinstance(axis, int | np.integer):
        raise TypeError("Single axis expected when shapes of a and weights differ.")
    if wgt.shape[0] != a.shape[axis]:
        raise ValueError("Length of weights not compatible with specified axis.")
    index: list = [None] * a.ndim
    index[int(axis) % a.ndim] = slice(None)
    return wgt[tuple(index)]


def average(
    a: Any, axis: Any = None, weights: Any = None, returned: bool = False, keepdims: bool = False
) -> Any:
    """``numpy.ma.average``: the weighted mean of the unmasked elements along ``axis``.

    Masked elements weigh nothing; where every element is masked (or the weights sum
    to zero) the result is masked. With ``returned=True``, also the sum of the weights
    (for ``weights=None``, the count of unmasked elements, as ``numpy.ma.average``;
    Dask returns the count of all elements there).

    Raises
    ------
    TypeError, ValueError
        For weights that do not fit ``a``, as ``numpy.average``.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.ma.masked_array(da.arange(4.0, chunks=2), mask=[0, 0, 1, 0])
    >>> float(da.ma.average(x, weights=np.array([1.0, 1.0, 5.0, 2.0])).compute())
    1.75
    """
    from taskloom.array.reductions import sum as _sum

    a = _asanyarray(a)
    unmasked = ~getmaskarray(a)
    if weights is None:
        dtype = np.mean(np.ones(1, dtype=a.dtype)).dtype
        wgt: Any = unmasked
    else:
        wgt = _average_weights(a, axis, weights)
        if issubclass(a.dtype.type, np.integer | np.bool_):
            dtype = np.result_type(a.dtype, wgt.dtype, "f8")
        else:
            dtype = np.result_type(a.dtype, wgt.dtype)
        wgt = elemwise(np.multiply, wgt, unmasked)
    # The masked elements' data (possibly NaN) are zeroed, not merely given no weight.
    values = elemwise(np.multiply, filled(a, 0), wgt)
    scl = _sum(wgt, axis=axis, dtype=dtype, keepdims=keepdims)
    avg = elemwise(_masked_divide, _sum(values, axis=axis, dtype=dtype, keepdims=keepdims), scl)
    # The weights were broadcast to ``a``'s shape above, so ``scl`` has ``avg``'s shape.
    return (avg, scl) if returned else avg


def _masked_divide(num: Any, den: Any) -> Any:
    # Division by zero weight is a masked result, as numpy.ma's domained divide.
    return np.ma.divide(num, den)


def _like(func: Any, a: Any, kwargs: dict) -> Array:
    a = _asanyarray(a)
    dtype = np.dtype(kwargs["dtype"]) if kwargs.get("dtype") is not None else a.dtype
    return map_blocks(partial(func, **kwargs), a, dtype=dtype)


def empty_like(a: Any, **kwargs: Any) -> Array:
    """``numpy.ma.empty_like``: uninitialized masked blocks like ``a``'s (its mask is
    kept); keywords (``dtype``...) as numpy's.

    Examples
    --------
    >>> import taskloom.array as da
    >>> da.ma.empty_like(da.ones(3, chunks=2), dtype="i4").dtype
    dtype('int32')
    """
    return _like(np.ma.empty_like, a, kwargs)


def ones_like(a: Any, **kwargs: Any) -> Array:
    """``numpy.ma.ones_like``: ones with ``a``'s shape, blocks and mask; keywords
    (``dtype``...) as numpy's.

    Examples
    --------
    >>> import taskloom.array as da
    >>> da.ma.filled(da.ma.ones_like(da.arange(3, chunks=2), dtype="f4")).compute()
    array([1., 1., 1.], dtype=float32)
    """
    return _like(np.ma.ones_like, a, kwargs)


def zeros_like(a: Any, **kwargs: Any) -> Array:
    """``numpy.ma.zeros_like``: zeros with ``a``'s shape, blocks and mask; keywords
    (``dtype``...) as numpy's.

    Examples
    --------
    >>> import taskloom.array as da
    >>> da.ma.filled(da.ma.zeros_like(da.arange(3, chunks=2))).compute()
    array([0, 0, 0])
    """
    return _like(np.ma.zeros_like, a, kwargs)


def _flat_nonzero(block: Any, offset: int) -> np.ndarray:
    return np.flatnonzero(block) + offset


def _unravel(flat: np.ndarray, shape: tuple, axis: int) -> np.ndarray:
    return np.unravel_index(flat, shape)[axis].astype(np.intp)


def nonzero(a: Any) -> tuple[Array, ...]:
    """``numpy.ma.nonzero``: per axis, the indices of the unmasked nonzero elements.

    Taskloom's blocks have known sizes, so the number of such elements in each block
    is computed when this is called (one pass over ``a``, keeping only counts); the
    indices themselves are computed lazily. (Dask leaves the sizes unknown, ``nan``.)

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.ma.masked_array(np.array([[0, 1], [2, 3]]), mask=[[0, 0], [1, 0]])
    >>> [i.compute() for i in da.ma.nonzero(x)]
    [array([0, 1]), array([1, 1])]
    """
    import taskloom
    from taskloom.delayed import delayed

    a = _asanyarray(a)
    if a.ndim == 0:
        raise ValueError("Calling nonzero on 0d arrays is not allowed.")
    flat = elemwise(np.logical_and, getdata(a) != 0, ~getmaskarray(a))
    flat = flat.reshape(-1) if a.ndim != 1 else flat
    counts = taskloom.compute(*[delayed(np.count_nonzero)(b) for b in flat.to_delayed()])
    name = f"ma-nonzero-{tokenize(flat.name)}"
    offsets = np.concatenate([[0], np.cumsum(flat.chunks[0])]).tolist()
    layer = {
        (name, i): (_flat_nonzero, (flat.name, i), offsets[i]) for i in range(flat.numblocks[0])
    }
    index = _derive(flat, name, layer, (tuple(int(c) for c in counts),), np.intp)
    return tuple(
        map_blocks(_unravel, index, a.shape, axis, dtype=np.intp) for axis in range(a.ndim)
    )


def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    """``numpy.ma.where``: ``x`` where ``condition`` holds, else ``y``, keeping masks
    (masked where the chosen value, or the condition, is masked); with neither ``x``
    nor ``y``, :func:`nonzero` of ``condition``.

    Raises
    ------
    ValueError
        If only one of ``x`` and ``y`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.ma.masked_array(da.arange(4, chunks=2), mask=[1, 0, 0, 0])
    >>> da.ma.filled(da.ma.where(x > 1, x, -x), 99).compute()
    array([99, -1,  2,  3])
    """
    if (x is None) != (y is None):
        raise ValueError("either both or neither of x and y should be given")
    if x is None:
        return nonzero(condition)
    x = _asanyarray(x)
    return elemwise(np.ma.where, _chunked_like(_asanyarray(condition), x), x, _asanyarray(y))
