"""NumPy's ufuncs and element-wise functions on blocked arrays, as ``dask.array``'s
(``add``, ``sin``, ``isnan``, ... and the multi-output ``divmod``, ``modf``, ``frexp``).

This module owns :func:`apply_ufunc`, the one way a numpy ufunc runs on taskloom arrays:
the :class:`ufunc` wrappers here call it, and so does ``Array.__array_ufunc__``
(``np.sin(x)``) in :mod:`taskloom.array.protocols`.

Policies:

* A wrapper is lazy when any argument (or ``out=``/``where=``) is a taskloom array and
  otherwise calls numpy directly, as Dask's ``dask.array.ufunc``.
* NumPy's semantics, not an approximation: ``dtype=`` (and ``casting=``, ``order=``,
  ``subok=``, ``signature=``) are passed to each block's ufunc call, so results and
  their dtype are exactly numpy's; any other keyword is a ``TypeError`` naming it.
  The result dtype is found when the graph is built by calling the ufunc on
  one-element blocks, so an impossible call (no loop for those dtypes, an out-of-range
  Python integer) raises numpy's own error then rather than at compute time.
* ``where=`` is an operand lined up like the inputs; without ``out=`` unselected
  elements are uninitialized (numpy's rule), with ``out=`` they keep its values and the
  result has ``out``'s dtype. ``out=`` must be taskloom arrays (Dask's rule).
* Ufuncs of several outputs compute all of them in one task per block; each output
  array picks its item from that task's tuple.
* Element-wise functions that are not ufuncs (``clip``, ``real``, ``nan_to_num``,
  ``isclose``...) are fused element-wise steps taking numpy's keywords.
"""

from __future__ import annotations

import builtins
import operator
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from taskloom.array.core import Array, _derive, asarray, elemwise
from taskloom.tokenize import tokenize

__all__ = [
    "abs", "absolute", "add", "allclose", "angle", "apply_ufunc", "arccos", "arccosh",
    "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "around", "bitwise_and",
    "bitwise_not", "bitwise_or", "bitwise_xor", "cbrt", "ceil", "clip", "conj",
    "conjugate", "copysign", "cos", "cosh", "deg2rad", "degrees", "divide", "divmod",
    "equal", "exp", "exp2", "expm1", "fabs", "fix", "float_power", "floor",
    "floor_divide", "fmax", "fmin", "fmod", "frexp", "frompyfunc", "greater",
    "greater_equal", "hypot", "i0", "imag", "invert", "isclose", "iscomplex", "isfinite",
    "isinf", "isnan", "isneginf", "isnull", "isposinf", "isreal", "ldexp", "left_shift",
    "less", "less_equal", "log", "log1p", "log2", "log10", "logaddexp", "logaddexp2",
    "logical_and", "logical_not", "logical_or", "logical_xor", "maximum", "minimum",
    "mod", "modf", "multiply", "nan_to_num", "negative", "nextafter", "not_equal",
    "notnull", "piecewise", "positive", "power", "rad2deg", "radians", "real",
    "reciprocal", "remainder", "result_type", "right_shift", "rint", "round", "sign",
    "signbit", "sin", "sinc", "sinh", "spacing", "sqrt", "square", "subtract", "tan",
    "tanh", "true_divide", "trunc", "ufunc", "where",
]  # fmt: skip

# numpy's ufunc keywords that only shape each block's call (``out``/``where``/``dtype``
# have their own handling).
_PASSED_KEYWORDS = frozenset({"casting", "order", "subok", "signature"})


# -- the ufunc machinery ------------------------------------------------------------


def _probe(a: Any) -> Any:
    """A one-element stand-in for a taskloom array (numpy's promotion rules treat it as
    the array: NEP 50 looks at dtypes, not values); other values as they are."""
    if isinstance(a, Array):
        return np.ones((1,) * a.ndim, dtype=a.dtype)
    return np.asarray(a) if isinstance(a, list | tuple) else a


def _is_lazy(*values: Any) -> bool:
    return builtins.any(isinstance(v, Array) for v in values)


def _outs(out: Any, nout: int, name: str) -> tuple:
    """``out=`` as a tuple of ``nout`` entries, each ``None`` or a taskloom array."""
    if out is None:
        return (None,) * nout
    outs = out if isinstance(out, tuple) else (out,)
    if len(outs) != nout:
        raise ValueError(f"{name}: out= needs {nout} arrays (one per output), got {len(outs)}")
    for o in outs:
        if o is not None and not isinstance(o, Array):
            raise NotImplementedError(
                f"{name}: out= must hold taskloom arrays (the result is lazy), "
                f"got {type(o).__name__}"
            )
    return outs


def _named(func: Callable, name: str) -> Callable:
    func.__name__ = name  # the graph's key names say which ufunc ran
    return func


def _pick(results: tuple, i: int) -> Any:
    return results[i]


def _call_where(ufunc: Callable, kwargs: dict, nout: int, mask: Any, *rest: Any) -> Any:
    """``ufunc(*blocks, where=mask, out=copies of the out= blocks)``: numpy writes only
    the selected elements, so the copies keep ``out``'s values elsewhere."""
    previous, blocks = rest[:nout], rest[nout:]
    buffers = tuple(None if p is None else np.array(p, copy=True) for p in previous)
    return ufunc(*blocks, where=mask, out=buffers, **kwargs)


def apply_ufunc(
    func: Any,
    *args: Any,
    out: Any = None,
    where: Any = True,
    dtype: Any = None,
    **kwargs: Any,
) -> Any:
    """``func(*args, ...)`` for a numpy ufunc (or :func:`frompyfunc` wrapper), lazily
    when an argument, ``out`` or ``where`` is a taskloom array.

    Parameters
    ----------
    func
        A ``numpy.ufunc`` (element-wise: no core dimensions) or a :class:`ufunc`.
    *args
        Its ``func.nin`` inputs: taskloom arrays, numpy arrays or scalars.
    out
        ``None``, a taskloom array, or a tuple of one per output; the result is
        written into it (Dask's ``out=``: ``out`` becomes the result).
    where
        numpy's mask: elements where it is false are not computed.
    dtype
        The dtype numpy computes in (passed to numpy's call on each block).
    **kwargs
        ``casting``, ``order``, ``subok``, ``signature``, as numpy's.

    Returns
    -------
    Array or tuple of Array
        One array per output of ``func``.

    Raises
    ------
    TypeError
        For a keyword numpy ufuncs do not take, for the wrong number of inputs, or when
        numpy has no loop for the inputs' dtypes.
    NotImplementedError
        If ``out`` holds something else than taskloom arrays.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([1.5, -2.25]), chunks=1)
    >>> q, r = apply_ufunc(np.divmod, x, 1)
    >>> q.compute(), r.compute()
    (array([ 1., -3.]), array([0.5 , 0.75]))
    """
    if isinstance(func, ufunc):
        func = func._ufunc
    name = getattr(func, "__name__", "ufunc")
    unknown = sorted(set(kwargs) - _PASSED_KEYWORDS)
    if unknown:
        raise TypeError(f"{name} does not take the keyword arguments {unknown}")
    if getattr(func, "signature", None) is not None:
        raise TypeError(
            f"{name} is a generalized ufunc (signature {func.signature!r}): use "
            "taskloom.array.apply_gufunc"
        )
    if len(args) != func.nin:
        raise TypeError(f"{name} takes {func.nin} inputs, got {len(args)}")
    nout = func.nout
    if not _is_lazy(*args, where, *(out if isinstance(out, tuple) else (out,))):
        call_kwargs = dict(kwargs, dtype=dtype) if dtype is not None else kwargs
        if where is not True:
            call_kwargs["where"] = where
        return (
            func(*args, out=out, **call_kwargs) if out is not None else func(*args, **call_kwargs)
        )
    outs = _outs(out, nout, name)
    if dtype is not None:
        kwargs = {**kwargs, "dtype": dtype}
    probe = [_probe(a) for a in args]
    with np.errstate(all="ignore"):
        sample = func(*probe, **kwargs)
    dtypes = [np.asarray(s).dtype for s in (sample if nout > 1 else (sample,))]
    if where is True:
        op = _named(partial(func, **kwargs) if kwargs else partial(func), name)
        operands: list = list(args)
    else:
        if where is False or where is None:
            where = False
        # Where numpy writes into out=, the result has out's dtype (if it can be cast).
        casting = kwargs.get("casting", "same_kind")
        for i, o in enumerate(outs):
            if o is not None:
                if not np.can_cast(dtypes[i], o.dtype, casting=casting):
                    raise TypeError(
                        f"{name}: cannot cast the output {i} from {dtypes[i]} to out='s "
                        f"{o.dtype} with casting={casting!r}"
                    )
                dtypes[i] = o.dtype
        op = _named(partial(_call_where, func, kwargs, nout), name)
        operands = [asarray(where) if isinstance(where, list | np.ndarray) else where]
        operands += [*outs, *args]
    if nout == 1:
        result = elemwise(op, *operands)
        if result.dtype != dtypes[0]:  # the probe of where= without out= may differ
            result.dtype = dtypes[0]
        return _into(outs[0], result)
    # One task per block computes every output; each output picks its item from it.
    joint = elemwise(op, *operands)
    results = []
    for i, dt in enumerate(dtypes):
        key = f"{name}-{i}-{tokenize(joint.name, i)}"
        layer = {
            (key, *idx): (_pick, (joint.name, *idx), i) for idx in np.ndindex(*joint.numblocks)
        }
        results.append(_into(outs[i], _derive(joint, key, layer, joint.chunks, dt)))
    return tuple(results)


def _into(out: Array | None, result: Array) -> Array:
    if out is None:
        return result
    from taskloom.array.protocols import handle_out

    return handle_out(out, result)


class ufunc:
    """A numpy ufunc that is lazy on taskloom arrays, as Dask's ``dask.array.ufunc``:
    calling it with a taskloom array (see :func:`apply_ufunc`) builds a graph, with
    anything else it is numpy's ufunc. ``nin``, ``nout``, ``nargs``, ``ntypes``,
    ``identity``, ``signature`` and ``types`` are numpy's.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> hyp = ufunc(np.hypot)
    >>> hyp(da.from_array(np.array([3.0, 5.0]), chunks=1), 4).compute()
    array([5.        , 6.40312424])
    >>> hyp(3.0, 4.0)
    np.float64(5.0)
    >>> hyp.outer(da.arange(2, chunks=1), np.arange(3)).shape
    (2, 3)
    """

    _forward_attrs = frozenset({"nin", "nargs", "nout", "ntypes", "identity", "signature", "types"})

    def __init__(self, ufunc: Any) -> None:
        if not isinstance(ufunc, np.ufunc | _PyFunc):
            raise TypeError(
                f"ufunc: the argument must be a numpy.ufunc or a frompyfunc, got "
                f"{type(ufunc).__name__}"
            )
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__
        if isinstance(ufunc, np.ufunc):
            self.__doc__ = (
                f"``numpy.{ufunc.__name__}``, lazy on taskloom arrays (see "
                f"``taskloom.array.apply_ufunc``).\n\nnumpy's documentation:\n\n{ufunc.__doc__}"
            )

    def __dask_tokenize__(self) -> Any:
        return ("taskloom.array.ufunc", self.__name__, tokenize(self._ufunc))

    def __getattr__(self, key: str) -> Any:
        if key in type(self)._forward_attrs:
            return getattr(self._ufunc, key)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    def __dir__(self) -> list[str]:
        return sorted(self._forward_attrs.union(dir(type(self)), self.__dict__))

    def __repr__(self) -> str:
        return repr(self._ufunc)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return apply_ufunc(self._ufunc, *args, **kwargs)

    def outer(self, A: Any, B: Any, **kwargs: Any) -> Any:
        """``ufunc.outer``: ``self`` on every pair of an element of ``A`` and one of
        ``B`` (``A``'s axes first), lazy if either is a taskloom array.

        Raises
        ------
        ValueError
            If the ufunc does not take two inputs, or for ``out=`` (as Dask).
        """
        if self.nin != 2:
            raise ValueError("outer product only supported for binary functions")
        if "out" in kwargs:
            raise ValueError("`out` kwarg not supported")
        if not _is_lazy(A, B):
            return self._ufunc.outer(A, B, **kwargs)
        A, B = asarray(A), asarray(B)
        return self(A[(Ellipsis, *(None,) * B.ndim)], B, **kwargs)


class _PyFunc:
    """``numpy.frompyfunc(func, nin, nout)`` that tokenizes and pickles by its Python
    function (numpy's own object does neither)."""

    def __init__(self, func: Callable, nin: int, nout: int) -> None:
        self._ufunc = np.frompyfunc(func, nin, nout)
        self._func, self.nin, self.nout = func, nin, nout
        self.__name__ = f"frompyfunc-{getattr(func, '__name__', 'func')}"
        self.signature = None

    def __repr__(self) -> str:
        return f"taskloom.array.frompyfunc<{self._func!r}, {self.nin}, {self.nout}>"

    def __dask_tokenize__(self) -> Any:
        return ("frompyfunc", tokenize(self._func), self.nin, self.nout)

    def __reduce__(self) -> tuple:
        return (_PyFunc, (self._func, self.nin, self.nout))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._ufunc(*args, **kwargs)

    def __getattr__(self, key: str) -> Any:
        if not key.startswith("_"):
            return getattr(self._ufunc, key)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")


def frompyfunc(func: Callable, nin: int, nout: int) -> ufunc:
    """``numpy.frompyfunc``: a ufunc of ``nin`` inputs and ``nout`` outputs (object
    dtype) calling the Python function ``func`` on each element, lazy on taskloom arrays.

    Unlike Dask's, ``nout > 1`` works: the result is a tuple of arrays.

    Raises
    ------
    TypeError
        If ``func`` is not callable.
    ValueError
        If ``nin`` or ``nout`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> f = frompyfunc(lambda a, b: a * 10 + b, 2, 1)
    >>> f.nin, f(da.arange(3, chunks=2), 1).compute()
    (2, array([1, 11, 21], dtype=object))
    """
    if not callable(func):
        raise TypeError(f"frompyfunc: func must be callable, not {type(func).__name__}")
    for arg, value in (("nin", nin), ("nout", nout)):
        if not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"frompyfunc: {arg} must be a positive integer, got {value!r}")
    return ufunc(_PyFunc(func, int(nin), int(nout)))


# ufuncs (numpy's reference list of ufuncs)
add = ufunc(np.add)
subtract = ufunc(np.subtract)
multiply = ufunc(np.multiply)
divide = ufunc(np.divide)
logaddexp = ufunc(np.logaddexp)
logaddexp2 = ufunc(np.logaddexp2)
true_divide = ufunc(np.true_divide)
floor_divide = ufunc(np.floor_divide)
negative = ufunc(np.negative)
positive = ufunc(np.positive)
power = ufunc(np.power)
float_power = ufunc(np.float_power)
remainder = ufunc(np.remainder)
mod = ufunc(np.mod)
fmod = ufunc(np.fmod)
divmod = ufunc(np.divmod)
conj = conjugate = ufunc(np.conjugate)
exp = ufunc(np.exp)
exp2 = ufunc(np.exp2)
log = ufunc(np.log)
log2 = ufunc(np.log2)
log10 = ufunc(np.log10)
log1p = ufunc(np.log1p)
expm1 = ufunc(np.expm1)
sqrt = ufunc(np.sqrt)
square = ufunc(np.square)
cbrt = ufunc(np.cbrt)
reciprocal = ufunc(np.reciprocal)
sin = ufunc(np.sin)
cos = ufunc(np.cos)
tan = ufunc(np.tan)
arcsin = ufunc(np.arcsin)
arccos = ufunc(np.arccos)
arctan = ufunc(np.arctan)
arctan2 = ufunc(np.arctan2)
hypot = ufunc(np.hypot)
sinh = ufunc(np.sinh)
cosh = ufunc(np.cosh)
tanh = ufunc(np.tanh)
arcsinh = ufunc(np.arcsinh)
arccosh = ufunc(np.arccosh)
arctanh = ufunc(np.arctanh)
deg2rad = ufunc(np.deg2rad)
rad2deg = ufunc(np.rad2deg)
degrees = ufunc(np.degrees)
radians = ufunc(np.radians)
greater = ufunc(np.greater)
greater_equal = ufunc(np.greater_equal)
less = ufunc(np.less)
less_equal = ufunc(np.less_equal)
not_equal = ufunc(np.not_equal)
equal = ufunc(np.equal)
logical_and = ufunc(np.logical_and)
logical_or = ufunc(np.logical_or)
logical_xor = ufunc(np.logical_xor)
logical_not = ufunc(np.logical_not)
maximum = ufunc(np.maximum)
minimum = ufunc(np.minimum)
fmax = ufunc(np.fmax)
fmin = ufunc(np.fmin)
bitwise_and = ufunc(np.bitwise_and)
bitwise_or = ufunc(np.bitwise_or)
bitwise_xor = ufunc(np.bitwise_xor)
bitwise_not = invert = ufunc(np.bitwise_not)
left_shift = ufunc(np.left_shift)
right_shift = ufunc(np.right_shift)
isfinite = ufunc(np.isfinite)
isinf = ufunc(np.isinf)
isnan = ufunc(np.isnan)
signbit = ufunc(np.signbit)
copysign = ufunc(np.copysign)
nextafter = ufunc(np.nextafter)
spacing = ufunc(np.spacing)
modf = ufunc(np.modf)
ldexp = ufunc(np.ldexp)
frexp = ufunc(np.frexp)
floor = ufunc(np.floor)
ceil = ufunc(np.ceil)
trunc = ufunc(np.trunc)
rint = ufunc(np.rint)
fabs = ufunc(np.fabs)
sign = ufunc(np.sign)
absolute = abs = ufunc(np.absolute)


# -- element-wise functions that are not ufuncs -------------------------------------


def _elementwise(func: Callable, *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` block by block when an argument is a taskloom array
    (numpy's own call otherwise); numpy rejects bad keywords when the graph is built."""
    if not _is_lazy(*args):
        return func(*args, **kwargs)
    with np.errstate(all="ignore"):
        func(*[_probe(a) for a in args], **kwargs)
    op = partial(func, **kwargs) if kwargs else partial(func)
    return elemwise(_named(op, func.__name__), *args)


def clip(a: Any, a_min: Any = None, a_max: Any = None, out: Any = None, **kwargs: Any) -> Any:
    """``numpy.clip``: values below ``a_min`` or above ``a_max`` (either may be ``None``,
    or an array broadcasting against ``a``) replaced by those bounds.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> clip(da.from_array(np.arange(5), chunks=2), 1, 3).compute()
    array([1, 1, 2, 3, 3])
    """
    return _into(out, _elementwise(np.clip, a, a_min, a_max, **kwargs))


def round(a: Any, decimals: int = 0) -> Any:
    """``numpy.round``: each element rounded to ``decimals`` decimals (a negative number
    rounds to tens, hundreds...); the dtype is kept.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> round(da.from_array(np.array([0.123, 4.567]), chunks=1), 1).compute()
    array([0.1, 4.6])
    """
    if not isinstance(decimals, int | np.integer):
        raise TypeError(f"round: decimals must be an integer, not {decimals!r}")
    return _elementwise(np.round, a, decimals=int(decimals))


def around(x: Any, decimals: int = 0) -> Any:
    """``numpy.around``: the same as :func:`round`.

    Examples
    --------
    >>> import taskloom.array as da
    >>> around(da.arange(3, chunks=2) * 0.55, 1).compute()
    array([0. , 0.6, 1.1])
    """
    return round(x, decimals)


def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    """``numpy.where(condition, x, y)`` element by element, with broadcasting; with
    ``condition`` alone, ``nonzero(condition)``.

    Raises
    ------
    ValueError
        If only one of ``x`` and ``y`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(4), chunks=2)
    >>> where(x > 1, x, -1).compute()
    array([-1, -1,  2,  3])
    """
    if (x is None) != (y is None):
        raise ValueError("either both or neither of x and y should be given")
    if x is None:
        import taskloom.array as module

        if not hasattr(module, "nonzero"):
            raise NotImplementedError("where(condition) needs taskloom.array.nonzero")
        return module.nonzero(condition)
    return _elementwise(np.where, condition, x, y)


def angle(x: Any, deg: bool | int = 0) -> Any:
    """``numpy.angle``: the argument of complex numbers, in radians (degrees with
    ``deg``).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> angle(da.from_array(np.array([1j, -1]), chunks=1), deg=True).compute()
    array([ 90., 180.])
    """
    return _elementwise(np.angle, x, deg=bool(deg))


def real(val: Any) -> Any:
    """``numpy.real``: the real part (the values themselves for real dtypes).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> real(da.from_array(np.array([1 + 2j, 3 - 1j]), chunks=1)).compute()
    array([1., 3.])
    """
    return _elementwise(np.real, val)


def imag(val: Any) -> Any:
    """``numpy.imag``: the imaginary part (zeros for real dtypes).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> imag(da.from_array(np.array([1 + 2j, 3 - 1j]), chunks=1)).compute()
    array([ 2., -1.])
    """
    return _elementwise(np.imag, val)


def isreal(x: Any) -> Any:
    """``numpy.isreal``: whether each imaginary part is zero.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> isreal(da.from_array(np.array([1 + 0j, 1j]), chunks=1)).compute()
    array([ True, False])
    """
    return _elementwise(np.isreal, x)


def iscomplex(x: Any) -> Any:
    """``numpy.iscomplex``: whether each imaginary part is non-zero.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> iscomplex(da.from_array(np.array([1 + 0j, 1j]), chunks=1)).compute()
    array([False,  True])
    """
    return _elementwise(np.iscomplex, x)


def fix(x: Any, out: Any = None) -> Any:
    """``numpy.fix``: rounding towards zero, keeping a float dtype.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> fix(da.from_array(np.array([2.7, -2.7]), chunks=1)).compute()
    array([ 2., -2.])
    """
    return _into(out, _elementwise(np.fix, x))


def i0(x: Any) -> Any:
    """``numpy.i0``: the modified Bessel function of the first kind, order 0.

    Examples
    --------
    >>> import taskloom.array as da
    >>> i0(da.zeros(2, chunks=1)).compute()
    array([1., 1.])
    """
    return _elementwise(np.i0, x)


def sinc(x: Any) -> Any:
    """``numpy.sinc``: ``sin(pi x) / (pi x)``, 1 at 0.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> sinc(da.from_array(np.array([0.0, 1.0]), chunks=1)).compute().round(6)
    array([1., 0.])
    """
    return _elementwise(np.sinc, x)


def nan_to_num(
    x: Any, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
    neginf: float | None = None,
) -> Any:  # fmt: skip
    """``numpy.nan_to_num``: NaN replaced by ``nan``, infinities by ``posinf`` and
    ``neginf`` (the largest and smallest finite values by default). Blocks are never
    modified in place, whatever ``copy`` says.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> nan_to_num(da.from_array(np.array([np.nan, 1.0, -np.inf]), chunks=2), neginf=-9).compute()
    array([ 0.,  1., -9.])
    """
    return _elementwise(np.nan_to_num, x, nan=nan, posinf=posinf, neginf=neginf)


def isneginf(x: Any, out: Any = None) -> Any:
    """``numpy.isneginf``: whether each element is negative infinity.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> isneginf(da.from_array(np.array([-np.inf, np.inf]), chunks=1)).compute()
    array([ True, False])
    """
    return _into(out, _elementwise(np.isneginf, x))


def isposinf(x: Any, out: Any = None) -> Any:
    """``numpy.isposinf``: whether each element is positive infinity.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> isposinf(da.from_array(np.array([-np.inf, np.inf]), chunks=1)).compute()
    array([False,  True])
    """
    return _into(out, _elementwise(np.isposinf, x))


def _isnull(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isnull(values))


def isnull(values: Any) -> Array:
    """``pandas.isnull`` element by element: NaN, ``None`` and ``NaT`` are missing.

    Raises
    ------
    ImportError
        If pandas is not installed (when the graph is built).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> isnull(da.from_array(np.array([1.0, np.nan]), chunks=1)).compute()
    array([False,  True])
    """
    import pandas  # noqa: F401  -- raise now, not in a task

    return elemwise(_isnull, asarray(values))


def notnull(values: Any) -> Array:
    """The negation of :func:`isnull`.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> notnull(da.from_array(np.array([1.0, np.nan]), chunks=1)).compute()
    array([ True, False])
    """
    return elemwise(operator.invert, isnull(values))


def isclose(
    arr1: Any, arr2: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False
) -> Array:
    """``numpy.isclose``: whether ``|arr1 - arr2| <= atol + rtol * |arr2|`` element by
    element (NaNs equal each other with ``equal_nan``).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> isclose(da.from_array(np.array([1.0, 2.0]), chunks=1), [1.0 + 1e-9, 2.1]).compute()
    array([ True, False])
    """
    func = partial(np.isclose, rtol=rtol, atol=atol, equal_nan=equal_nan)
    return elemwise(_named(func, "isclose"), asarray(arr1), arr2)


def allclose(
    arr1: Any, arr2: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False
) -> Array:
    """``numpy.allclose``, lazily: a 0-d boolean array, true when :func:`isclose` holds
    everywhere (as Dask's; ``bool()`` of it computes).

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> r = allclose(da.from_array(np.array([1.0, 2.0]), chunks=1), [1.0, 2.0])
    >>> r.shape, bool(r)
    ((), True)
    """
    return isclose(arr1, arr2, rtol=rtol, atol=atol, equal_nan=equal_nan).all()


def _piecewise(x: np.ndarray, *condlist: Any, funclist: Any, args: tuple, kw: dict) -> Any:
    return np.piecewise(x, list(condlist), funclist, *args, **kw)


def piecewise(x: Any, condlist: Any, funclist: Sequence, *args: Any, **kw: Any) -> Array:
    """``numpy.piecewise``, block by block: where ``condlist[i]`` holds, ``funclist[i]``
    (a function of the selected values, or a value); one extra entry of ``funclist`` is
    the default. ``*args``/``**kw`` are passed to the functions. The dtype is ``x``'s.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.arange(-2, 3), chunks=2)
    >>> piecewise(x, [x < 0, x >= 0], [lambda v: -v, lambda v: v * 10]).compute()
    array([ 2,  1,  0, 10, 20])
    """
    x = asarray(x)
    if isinstance(condlist, Array | np.ndarray):
        # numpy's reading of a bare array: one condition if 1-d, else one per row.
        if condlist.ndim == 1 and x.ndim == 1:
            condlist = [condlist]
        else:
            condlist = [condlist[i] for i in builtins.range(len(condlist))]
    conds = [
        asarray(c).rechunk(x.chunks) if np.shape(c) == x.shape else c
        for c in (c if isinstance(c, Array) else np.asarray(c) for c in condlist)
    ]
    from taskloom.array.blockwise import map_blocks

    return map_blocks(
        _piecewise, x, *conds, dtype=x.dtype, token="piecewise",
        funclist=funclist, args=args, kw=kw,
    )  # fmt: skip


def result_type(*args: Any) -> np.dtype:
    """``numpy.result_type`` with taskloom arrays standing for their dtypes.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> result_type(da.ones(2, chunks=1, dtype="f4"), np.int16)
    dtype('float32')
    """
    return np.result_type(*[a.dtype if isinstance(a, Array) else a for a in args])
