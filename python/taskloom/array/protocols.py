"""NumPy's protocols on taskloom arrays: what ``np.mean(x)``, ``np.sqrt(x)``,
``np.asarray(x)``, ``float(x)`` and ``out=`` do, as Dask 2026.8 does them.

Policies:

* ``__array_function__``: a numpy function that :mod:`taskloom.array` implements under
  the same name (``np.mean``, ``np.concatenate``, ``np.where``...) runs lazily. The call
  is read with the numpy function's own signature, so numpy's positional order and
  keywords work; arguments given at numpy's default values are dropped, ``out=`` is
  applied by :func:`handle_out`, and any other argument the taskloom function does not
  take is a ``TypeError`` naming it. Any other numpy function warns with a
  ``FutureWarning`` (Dask's words) and is run on the computed arrays.
* ``__array_ufunc__``: element-wise ufuncs run through
  :func:`taskloom.array.ufuncs.apply_ufunc` (its policies: numpy's keywords, ``where=``,
  ``out=`` taskloom arrays, ufuncs of several outputs such as ``np.divmod`` giving a
  tuple of lazy arrays computed by one task per block); ``ufunc.outer`` is lazy;
  ``np.matmul`` is :func:`taskloom.array.matmul`; other generalized ufuncs (run them
  with :func:`taskloom.array.apply_gufunc`) and ufunc methods (``reduce``,
  ``accumulate``...) are not implemented (numpy then raises ``TypeError``), as in Dask.
* ``__array__`` computes (``copy=False`` warns, as Dask: a lazy array has no memory to
  share); ``float``/``int``/``complex``/``operator.index``/``bool`` compute arrays of
  one element and refuse larger ones (``bool``: ``ValueError``, as numpy).
"""

from __future__ import annotations

import inspect
import operator
import warnings
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from taskloom.array.core import Array, asarray

__all__ = ["register_chunk_type"]

# numpy functions implemented by taskloom.array under the same name.
_SAME_NAME = [
    "all", "allclose", "angle", "any", "apply_along_axis", "apply_over_axes", "argmax",
    "argmin", "block", "clip", "concatenate", "dot", "expand_dims", "fix", "i0", "imag",
    "iscomplex", "isclose", "isneginf", "isposinf", "isreal", "max", "mean", "min",
    "nan_to_num", "piecewise", "prod", "real", "reshape", "round", "sinc", "squeeze", "stack",
    "std", "sum", "tensordot", "transpose", "var", "where",
]  # fmt: skip
# numpy functions that are other names of the same operation.
_ALIASES = {"amax": "max", "amin": "min", "around": "round", "concat": "concatenate"}


def handle_out(out: Any, result: Array) -> Array:
    """``result``, written into ``out`` when one is given (Dask's ``out=`` semantics).

    ``out`` may be ``None``, a taskloom array of the result's shape (which then becomes
    the result: it takes its graph, blocks and dtype) or a 1-tuple of one.

    Raises
    ------
    ValueError
        If ``out`` has another shape.
    NotImplementedError
        If ``out`` is not a taskloom array (a numpy array cannot hold a lazy result).

    Examples
    --------
    >>> import taskloom.array as da
    >>> out = da.zeros(3, chunks=2)
    >>> _ = da.ones(3, chunks=2).sum(axis=None, out=None)
    >>> handle_out(out, da.ones(3, chunks=2) * 2) is out, out.compute()
    (True, array([2., 2., 2.]))
    """
    if isinstance(out, tuple):
        if len(out) != 1:
            raise NotImplementedError(f"out= must be one array, got a tuple of {len(out)}")
        out = out[0]
    if out is None:
        return result
    if not isinstance(out, Array):
        raise NotImplementedError(
            f"out= must be a taskloom array (the result is lazy), got {type(out).__name__}"
        )
    if out.shape != result.shape:
        raise ValueError(f"out= has shape {out.shape}, the result has shape {result.shape}")
    out._layers, out.name, out.chunks = result._layers, result.name, result.chunks
    out.dtype, out._expr = result.dtype, result._expr
    return out


# -- __array_function__ -------------------------------------------------------------


def _shape(a: Any) -> tuple[int, ...]:
    return a.shape if isinstance(a, Array) else np.shape(a)


def _ndim(a: Any) -> int:
    return a.ndim if isinstance(a, Array) else np.ndim(a)


def _size(a: Any, axis: int | None = None) -> int:
    if not isinstance(a, Array):
        return np.size(a, axis)
    return a.size if axis is None else a.shape[axis]


@cache
def _handled() -> dict:
    """numpy function -> taskloom implementation (metadata ones compute nothing)."""
    import taskloom.array as module

    table: dict = {
        np.shape: _shape, np.ndim: _ndim, np.size: _size, np.result_type: module.result_type
    }  # fmt: skip
    # Every function of taskloom.array's namespace that numpy has under the same name
    # (as Dask's __array_function__ looks numpy's functions up in dask.array's),
    # besides the listed ones; numpy's ufuncs go through __array_ufunc__ instead.
    same = {
        *_SAME_NAME,
        *(n for n in module.__all__ if not isinstance(getattr(np, n, None), np.ufunc)),
    }
    for np_name, ours in [*((n, n) for n in sorted(same)), *_ALIASES.items()]:
        theirs = getattr(np, np_name, None)
        if callable(theirs) and not isinstance(theirs, type) and hasattr(module, ours):
            table[theirs] = getattr(module, ours)
    return table


@cache
def _signature(func: Callable) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def _is_default(value: Any, default: Any) -> bool:
    if default is inspect.Parameter.empty:
        return False
    if value is default or default is np._NoValue:
        return value is default
    return isinstance(value, bool | int | float | str | type(None)) and (
        type(value) is type(default) and value == default
    )


def _numpy_call_to_ours(
    func: Callable, ours: Callable, args: tuple, kwargs: dict
) -> tuple[tuple, dict, Any]:
    """The arguments of a numpy call as taskloom's function takes them: the first
    parameter (the array or sequence of arrays) and numpy's positional-only ones by
    position, the others by name; numpy's defaults dropped; ``out`` split off."""
    sig = _signature(func)
    if sig is None:
        return args, dict(kwargs), kwargs.get("out")
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"numpy.{func.__name__}: {e}") from None
    ours_sig = _signature(ours)
    ours_params = ours_sig.parameters if ours_sig is not None else {}
    ours_positional = [
        n for n, q in ours_params.items() if q.kind in (q.POSITIONAL_ONLY, q.POSITIONAL_OR_KEYWORD)
    ]
    order = list(sig.parameters)
    # Parameters before a given *args must be positional; so must those whose name
    # differs from ours (numpy's isclose(a, b) is Dask's isclose(arr1, arr2)).
    var_positional = inspect.Parameter.VAR_POSITIONAL
    star = next(
        (n for n, v in bound.arguments.items() if sig.parameters[n].kind is var_positional and v),
        None,
    )
    pos: list = []
    kw: dict = {}
    for i, (name, value) in enumerate(bound.arguments.items()):
        p = sig.parameters[name]
        at = order.index(name)
        by_position = (
            p.kind is p.POSITIONAL_OR_KEYWORD
            and len(pos) == at
            and (
                (star is not None and at < order.index(star))
                or (name not in ours_params and at < len(ours_positional))
            )
        )
        if p.kind is p.VAR_POSITIONAL:
            pos.extend(value)
        elif p.kind is p.VAR_KEYWORD:
            kw.update(value)
        elif (
            p.kind is p.POSITIONAL_ONLY
            or (i == 0 and p.kind is p.POSITIONAL_OR_KEYWORD)
            or by_position
        ):
            pos.append(value)
        elif not _is_default(value, p.default):
            kw[name] = value
    out = kw.pop("out", None)
    if out is not None and ours_sig is not None and "out" in ours_sig.parameters:
        kw["out"], out = out, None
    if ours_sig is not None and not any(
        p.kind is p.VAR_KEYWORD for p in ours_sig.parameters.values()
    ):
        for name in kw:
            if name not in ours_sig.parameters:
                raise TypeError(
                    f"numpy.{func.__name__} on taskloom arrays: taskloom.array."
                    f"{ours.__name__} does not support the argument {name}={kw[name]!r}"
                )
    return tuple(pos), kw, out


# Types that may be blocks of an Array, so that operations mixing them with Arrays are
# taken by the Array (``register_chunk_type``); any other type with its own
# ``__array_ufunc__``/``__array_function__`` is another library's array, left to decide.
_CHUNK_TYPES: list[type] = [np.ndarray, np.generic]


def register_chunk_type(type: type) -> None:
    """Let arrays of ``type`` be blocks of taskloom arrays, as Dask's ``register_chunk_type``.

    Operations mixing a taskloom array with an object of a registered type (a NumPy
    ufunc or function, an operator) are handled by taskloom, the object being treated
    as a block-wise operand; unregistered array types with their own NumPy protocols
    get to decide instead (``NotImplemented``), as in Dask.

    Examples
    --------
    >>> import numpy as np
    >>> class Wrapped(np.ndarray): ...
    >>> register_chunk_type(Wrapped)
    >>> Wrapped in _CHUNK_TYPES
    True
    """
    if type not in _CHUNK_TYPES:
        _CHUNK_TYPES.append(type)


def _is_chunk_type(t: type) -> bool:
    return issubclass(t, (Array, *_CHUNK_TYPES))


def array_function(self: Array, func: Callable, types: tuple, args: tuple, kwargs: dict) -> Any:
    """``Array.__array_function__``: see the module's policies."""
    if not all(_is_chunk_type(t) for t in types):
        return NotImplemented
    ours = _handled().get(func)
    if ours is None:
        warnings.warn(
            f"The `{func.__module__}.{func.__name__}` function is not implemented by "
            "taskloom.array. You may want to use the taskloom.array.map_blocks function "
            "or something similar to silence this warning. Your code may stop working "
            "in a future release.",
            FutureWarning,
            stacklevel=3,
        )
        from taskloom.base import compute

        args, kwargs = compute(args, kwargs)
        return func(*args, **kwargs)
    pos, kw, out = _numpy_call_to_ours(func, ours, args, kwargs)
    result = ours(*pos, **kw)
    return handle_out(out, result) if out is not None else result


# -- __array_ufunc__ ----------------------------------------------------------------


def array_ufunc(self: Array, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
    """``Array.__array_ufunc__``: see the module's policies."""
    out = kwargs.get("out")
    for x in (*inputs, *(out if isinstance(out, tuple) else (out,))):
        if x is not None and hasattr(x, "__array_ufunc__") and not _is_chunk_type(type(x)):
            return NotImplemented  # another library's array: let it decide
    from taskloom.array.ufuncs import apply_ufunc

    if method == "outer" and ufunc.nin == 2 and ufunc.signature is None:
        if "out" in kwargs:
            return NotImplemented
        a, b = (asarray(i) for i in inputs)  # a's axes first, then b's
        inputs, method = (a[(Ellipsis, *(None,) * b.ndim)], b), "__call__"
    if method != "__call__":
        return NotImplemented
    if ufunc is np.matmul:  # a generalized ufunc with optional dimensions
        from taskloom.array.routines import matmul

        out = kwargs.pop("out", None)
        if kwargs:
            return NotImplemented
        return handle_out(out, matmul(*inputs))
    if ufunc.signature is not None:
        # Dask sends these to apply_gufunc; tests/test_array_protocols.py expects numpy's
        # TypeError, so they stay untaken (taskloom.array.apply_gufunc runs them).
        return NotImplemented
    return apply_ufunc(ufunc, *inputs, **kwargs)


# -- conversions --------------------------------------------------------------------


def to_numpy(self: Array, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
    """``Array.__array__``: the computed array."""
    if copy is False:
        warnings.warn(
            "Can't acquire a memory view of a taskloom array (it is computed on "
            "demand). This will raise in the future.",
            FutureWarning,
            stacklevel=3,
        )
    return np.asarray(self.compute(), dtype=dtype)


def to_scalar(self: Array, cast: Callable) -> Any:
    """``float(x)``, ``int(x)``, ``complex(x)``, ``operator.index(x)``: the one element,
    computed and converted."""
    if self.size != 1:
        raise TypeError(
            f"only arrays of one element can be converted to Python scalars, "
            f"this one has shape {self.shape}"
        )
    value = np.asarray(self.compute()).item()
    return operator.index(value) if cast is operator.index else cast(value)


def to_bool(self: Array) -> bool:
    """``bool(x)``: the truth of the one element (numpy's error for larger arrays)."""
    if self.size > 1:
        raise ValueError(
            f"The truth value of a taskloom array of shape {self.shape} is ambiguous. "
            "Use a.any() or a.all()."
        )
    return bool(self.compute())
