"""``taskloom.array``: n-dimensional numpy arrays made of blocks, as ``dask.array``.

Creation (``from_array``, ``asarray``, ``ones``, ``zeros``, ``full``, ``empty``,
``arange``, ``linspace``, ``eye``, ``random``, ``from_delayed``), joining
(``concatenate``, ``stack``, ``block``), element-wise arithmetic, comparisons and numpy
ufuncs with broadcasting, reductions with ``axis``/``keepdims`` as tree reductions,
slicing (integers, slices, ``...``, ``None``, one integer or boolean array), ``transpose``,
``reshape``, ``squeeze``, ``expand_dims``, ``rechunk``, ``tensordot``/``dot``/``@``,
``map_blocks``/``blockwise``, ``to_delayed``, ``store``/``to_npy_stack``,
``compute``/``persist``; numpy functions and ufuncs called on these arrays stay lazy.
See the modules for each policy: ``chunks`` (chunk normalization), ``core`` (the
``Array``, element-wise fusion, rechunking), ``blockwise`` (``map_blocks``),
``reductions``, ``routines``, ``slicing``, ``creation``, ``random`` and ``protocols``
(numpy's ``__array_function__``/``__array_ufunc__``/conversions).

Examples
--------
>>> import numpy as np
>>> import taskloom.array as da
>>> x = da.from_array(np.arange(12.0).reshape(3, 4), chunks=2)
>>> (np.sqrt(x) + x.T.T).sum(axis=0).compute().round(2)
array([16.83, 21.24, 25.03, 28.69])
"""

from __future__ import annotations

import operator
from functools import partial
from typing import Any

import numpy as np

from taskloom.array import random
from taskloom.array.blockwise import blockwise, map_blocks
from taskloom.array.core import (
    Array,
    asarray,
    elemwise,
    from_array,
    normalize_chunks,
    rechunk,
    unify_chunks,
)
from taskloom.array.creation import arange, empty, full, linspace, ones, zeros
from taskloom.array.reductions import (
    all,
    any,
    argmax,
    argmin,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from taskloom.array.routines import (
    block,
    concatenate,
    dot,
    expand_dims,
    eye,
    from_delayed,
    from_npy_stack,
    matmul,
    reshape,
    squeeze,
    stack,
    store,
    tensordot,
    to_npy_stack,
    transpose,
)

__all__ = [
    "Array", "abs", "all", "any", "arange", "argmax", "argmin", "around", "asarray", "block",
    "blockwise", "clip", "concatenate", "cos", "dot", "elemwise", "empty", "exp",
    "expand_dims", "eye",
    "from_array", "from_delayed", "from_npy_stack", "full", "linspace", "log", "map_blocks",
    "matmul", "max", "mean", "min", "normalize_chunks", "ones", "prod", "random", "rechunk",
    "reshape", "round", "sin", "sqrt", "squeeze", "stack", "std", "store", "sum",
    "tensordot", "to_npy_stack", "transpose", "unify_chunks", "var", "where", "zeros",
]  # fmt: skip


def _binary(op, reflected=False):
    if reflected:
        return lambda self, other: elemwise(op, other, self)
    return lambda self, other: elemwise(op, self, other)


for _name in [
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and_", "or_", "xor",
    "lshift", "rshift",
]:  # fmt: skip
    _op = getattr(operator, _name)
    _dunder = _name.rstrip("_")
    setattr(Array, f"__{_dunder}__", _binary(_op))
    setattr(Array, f"__r{_dunder}__", _binary(_op, reflected=True))
for _name in ["lt", "le", "gt", "ge", "eq", "ne"]:
    setattr(Array, f"__{_name}__", _binary(getattr(operator, _name)))
Array.__neg__ = lambda self: elemwise(operator.neg, self)
Array.__pos__ = lambda self: elemwise(operator.pos, self)
Array.__abs__ = lambda self: elemwise(np.abs, self)
Array.__invert__ = lambda self: elemwise(operator.invert, self)
Array.__hash__ = object.__hash__

sqrt, sin, cos, exp, log, abs = (
    lambda x: elemwise(np.sqrt, x),
    lambda x: elemwise(np.sin, x),
    lambda x: elemwise(np.cos, x),
    lambda x: elemwise(np.exp, x),
    lambda x: elemwise(np.log, x),
    lambda x: elemwise(np.abs, x),
)


def where(condition: Any, x: Any, y: Any) -> Array:
    """``numpy.where(condition, x, y)`` element by element, with broadcasting.

    Examples
    --------
    >>> x = from_array(np.arange(4), chunks=2)
    >>> where(x > 1, x, -1).compute()
    array([-1, -1,  2,  3])
    """
    return elemwise(np.where, condition, x, y)


def clip(a: Any, a_min: Any, a_max: Any) -> Array:
    """``numpy.clip``: values below ``a_min`` or above ``a_max`` (either may be
    ``None``) replaced by those bounds.

    Examples
    --------
    >>> clip(from_array(np.arange(5), chunks=2), 1, 3).compute()
    array([1, 1, 2, 3, 3])
    """
    return elemwise(np.clip, a, a_min, a_max)


def round(a: Any, decimals: int = 0) -> Array:
    """``numpy.round``: each element rounded to ``decimals`` decimals.

    Examples
    --------
    >>> round(from_array(np.array([0.123, 4.567]), chunks=1), 1).compute()
    array([0.1, 4.6])
    """
    return elemwise(partial(np.round, decimals=decimals), a)


around = round


# The operation families: each module lists its public names in ``__all__``, and they
# are this package's names too (a family's function replaces one defined above).
from taskloom.array import (  # noqa: E402
    creation,
    fft,
    gufunc,
    histograms,
    image,
    io,
    linalg,
    ma,
    overlap,
    protocols,
    reductions,
    routines,
    setops,
    stats,
    ufuncs,
)


def _export(*families: Any) -> None:
    for family in families:
        for name in getattr(family, "__all__", ()):
            globals()[name] = getattr(family, name)
            if name not in __all__:
                __all__.append(name)


_export(creation, reductions, histograms, setops, routines, ufuncs, gufunc, overlap, io, protocols)
__all__ += ["fft", "image", "linalg", "ma", "overlap", "stats"]
