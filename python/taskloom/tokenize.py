"""Deterministic tokens: equal inputs give equal keys, so equal calls share one task.

``tokenize(*args, **kwargs)`` hashes a canonical byte form of its arguments with BLAKE2b.
Fast paths cover what task arguments usually are: numbers, strings, bytes, None, and
containers of them are encoded directly; numpy arrays hash their raw buffer with dtype and
shape (object arrays their values, whatever they are); pandas objects hash by their
parts as in Dask's rules (each column's storage, dtypes, names, index), so columns of
lists, dicts, Periods or Intervals hash too; pyarrow arrays hash their buffers;
functions hash by module and qualified name (plus code and closure for lambdas and
nested functions).
Objects may define ``__dask_tokenize__``, and types may be registered with
:func:`normalize_token.register`. Anything else is pickled; objects that cannot be
pickled get a random token, so they are never shared by mistake (as in Dask), or, with
``ensure_deterministic=True`` (default: the ``tokenize.ensure-deterministic`` setting),
raise :class:`TokenizationError`.

Examples
--------
>>> from taskloom.tokenize import tokenize
>>> tokenize(1, "a", [2.5]) == tokenize(1, "a", [2.5])
True
>>> tokenize(1) == tokenize(1.0)
False
"""

from __future__ import annotations

import array
import dataclasses
import functools
import hashlib
import os
import pickle
import sys
import types
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from taskloom import _core

__all__ = ["TokenizationError", "normalize_token", "tokenize", "unique_token"]


# Unique tokens are a per-process random prefix plus a counter, kept in the core (the
# hot path of building delayed calls reads it natively): unique within and across
# processes, since forked children draw a new prefix, and far cheaper than uuid4.
def _reseed() -> None:
    _core._seed_unique(os.urandom(6).hex())


_reseed()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)


class TokenizationError(RuntimeError):
    """An object could not be tokenized deterministically, and that was required.

    Examples
    --------
    >>> import threading
    >>> try:
    ...     tokenize(threading.Lock(), ensure_deterministic=True)
    ... except TokenizationError:
    ...     print("not deterministic")
    not deterministic
    """


# The ``ensure_deterministic`` of the outermost ``tokenize`` call in progress (None:
# not given, read the setting), seen by the nested calls made for sets and methods.
_ENSURE_DETERMINISTIC: ContextVar[bool | None] = ContextVar("_ENSURE_DETERMINISTIC", default=None)


def _nondeterministic(what: str) -> bytes:
    """A random token for ``what``, or TokenizationError if determinism is required."""
    ensure = _ENSURE_DETERMINISTIC.get()
    if ensure is None:
        from taskloom import config

        ensure = config.get("tokenize.ensure-deterministic", False)
    if ensure:
        raise TokenizationError(
            f"{what} cannot be deterministically hashed; this likely indicates that "
            "the object cannot be serialized deterministically (define "
            "__dask_tokenize__ or register it with normalize_token)"
        )
    return unique_token().encode()


def unique_token() -> str:
    """A token no other call returns (for impure calls).

    Examples
    --------
    >>> unique_token() != unique_token()
    True
    """
    return _core.unique_token()


class _Registry:
    """Per-type normalisers: ``normalize_token.register(T)(fn)``, ``fn(obj) -> object``."""

    def __init__(self) -> None:
        self._by_type: dict[type, Callable[[Any], Any]] = {}
        self._lazy: dict[str, Callable[[], None]] = {}

    def register(self, typ: type | tuple[type, ...]) -> Callable:
        def wrap(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
            for t in typ if isinstance(typ, tuple) else (typ,):
                self._by_type[t] = fn
            return fn

        return wrap

    def register_lazy(self, module: str) -> Callable:
        def wrap(fn: Callable[[], None]) -> Callable[[], None]:
            self._lazy[module] = fn
            return fn

        return wrap

    def find(self, typ: type) -> Callable[[Any], Any] | None:
        for t in typ.__mro__:
            fn = self._by_type.get(t)
            if fn is not None:
                return fn
        module = typ.__module__.partition(".")[0]
        if module in self._lazy and module in sys.modules:
            self._lazy.pop(module)()
            return self.find(typ)
        return None

    def __call__(self, obj: Any) -> Any:
        fn = self.find(type(obj))
        return obj if fn is None else fn(obj)


normalize_token = _Registry()

_SCALARS = (int, float, complex, bool, type(None), type(Ellipsis))


def _feed(h: Any, obj: Any, depth: int = 0) -> None:
    t = type(obj)
    if t is str:
        b = obj.encode("utf-8", "surrogatepass")
        h.update(b"s%d:" % len(b))
        h.update(b)
    elif t in _SCALARS:
        h.update(b"%s:%r;" % (t.__name__.encode(), obj))
    elif t is bytes or t is bytearray:
        h.update(b"b%d:" % len(obj))
        h.update(obj)
    elif depth > 100:
        h.update(b"deep:" + pickle.dumps(obj, protocol=5))
    elif t is tuple or t is list:
        h.update(b"(" if t is tuple else b"[")
        if not _feed_ints(h, obj):
            for item in obj:
                _feed(h, item, depth + 1)
        h.update(b")")
    elif t is dict:
        h.update(b"{")
        for k, v in sorted(obj.items(), key=lambda kv: str(kv[0])):
            _feed(h, k, depth + 1)
            _feed(h, v, depth + 1)
        h.update(b"}")
    elif t is set or t is frozenset:
        h.update(b"set{")
        for token in sorted(tokenize(item) for item in obj):
            h.update(token.encode())
        h.update(b"}")
    else:
        _feed_object(h, obj, depth)


def _feed_ints(h: Any, items: tuple | list) -> bool:
    """Feed a long run of plain ``int``s (an array's chunks) as one block of 64-bit
    values, the loop in C; False (nothing fed) for anything else. Its form (``q``, a
    count, raw bytes) starts as no item's form does, so it equals no other value's."""
    if len(items) < 16 or set(map(type, items)) != {int}:
        return False
    try:
        values = array.array("q", items)
    except OverflowError:
        return False
    if sys.byteorder == "big":
        values.byteswap()  # little-endian everywhere: tokens agree across machines
    h.update(b"q%d:" % len(items))
    h.update(values.tobytes())
    return True


def _feed_object(h: Any, obj: Any, depth: int) -> None:
    method = getattr(type(obj), "__dask_tokenize__", None)
    if method is not None:
        h.update(b"dt:")
        _feed(h, method(obj), depth + 1)
        return
    fn = normalize_token.find(type(obj))
    if fn is not None:
        h.update(b"n:" + type(obj).__qualname__.encode())
        _feed(h, fn(obj), depth + 1)
        return
    if callable(obj):
        _feed(h, _normalize_callable(obj), depth + 1)
        return
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]
        _feed(h, (type(obj).__qualname__, fields), depth + 1)
        return
    if type(obj) is object:
        # Every object() pickles alike, yet each is distinct: never share their tasks.
        data = _nondeterministic("object()")
    else:
        try:
            data = pickle.dumps(obj, protocol=5)
        except Exception:
            data = _nondeterministic(f"Object {obj!r}")  # never shared by mistake
    h.update(b"p:")
    h.update(data)


def _normalize_callable(func: Any) -> Any:
    if isinstance(func, functools.partial):
        return ("partial", _normalize_callable(func.func), func.args, func.keywords)
    if isinstance(func, types.MethodType):
        return ("method", _normalize_callable(func.__func__), tokenize(func.__self__))
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if isinstance(func, types.FunctionType) and ("<" in (qualname or "")):
        # Lambdas and nested functions: the name does not identify them.
        code = func.__code__
        closure = tuple(c.cell_contents for c in func.__closure__ or ())
        return ("code", code.co_code, repr(code.co_consts), code.co_names, closure)
    if module and qualname:
        return ("callable", module, qualname)
    try:
        return ("pickled", pickle.dumps(func, protocol=5))
    except Exception:
        # A callable object that cannot be pickled: the same object gives the same
        # token while it lives (Dask falls back to its repr, which shows the id).
        _nondeterministic(f"Callable {func!r}")
        return ("object", type(func).__qualname__, id(func))


def _digest(data: Any) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _object_values(x: Any) -> Any:
    """An object array's values: strings hashed at once (lengths and text, so no
    two lists of strings share a form), anything else element by element."""
    flat = x.ravel(order="K").tolist() if x.ndim else [x.item()]
    if all(type(v) is str for v in flat):
        text = "".join(flat).encode("utf-8", "surrogatepass")
        lengths = ",".join(map(str, map(len, flat))).encode()
        return ("str-values", _digest(lengths), _digest(text))
    return ("values", flat)


@normalize_token.register_lazy("numpy")
def _register_numpy() -> None:
    import numpy as np

    @normalize_token.register(np.ndarray)
    def _ndarray(x: np.ndarray) -> Any:
        if x.dtype.hasobject:
            return ("ndarray-object", x.shape, _object_values(x))
        data = np.ascontiguousarray(x).view(np.uint8).data
        return ("ndarray", x.dtype.str, x.shape, _digest(data))

    @normalize_token.register(np.generic)
    def _scalar(x: np.generic) -> Any:
        if x.dtype.hasobject:
            return ("npscalar-object", x.item())
        return ("npscalar", x.dtype.str, x.tobytes())

    @normalize_token.register(np.dtype)
    def _dtype(x: np.dtype) -> Any:
        return ("dtype", x.str)


@normalize_token.register_lazy("pyarrow")
def _register_pyarrow() -> None:
    import pyarrow as pa

    @normalize_token.register(pa.DataType)
    def _datatype(t: Any) -> Any:
        return ("pa-type", str(t), pickle.dumps(t, protocol=5))

    @normalize_token.register(pa.Array)
    def _array(a: Any) -> Any:
        # The buffers may be a larger array's (a slice): offset and length say which part.
        buffers = [None if b is None else _digest(b) for b in a.buffers()]
        return ("pa-array", a.type, len(a), a.offset, a.null_count, buffers)

    @normalize_token.register(pa.ChunkedArray)
    def _chunked(a: Any) -> Any:
        return ("pa-chunked", a.type, list(a.chunks))

    @normalize_token.register(pa.Table)
    def _table(t: Any) -> Any:
        return ("pa-table", t.schema.to_string(), list(t.columns))


@normalize_token.register_lazy("pandas")
def _register_pandas() -> None:
    """pandas objects by their parts, as Dask's rules: values, dtype, names and index.

    Values go by their storage (numpy buffers, Arrow buffers, codes and categories,
    integer views of dates and periods, interval bounds, masked data and mask), so any
    column hashes, whatever it holds (lists, dicts, Periods, Intervals)."""
    import numpy as np
    import pandas as pd
    from pandas.api.extensions import ExtensionArray, ExtensionDtype

    @normalize_token.register(pd.RangeIndex)
    def _range_index(x: pd.RangeIndex) -> Any:
        return ("RangeIndex", x.start, x.stop, x.step, x.name)

    @normalize_token.register(pd.MultiIndex)
    def _multi_index(x: pd.MultiIndex) -> Any:
        return ("MultiIndex", list(x.names), list(x.levels), [np.asarray(c) for c in x.codes])

    @normalize_token.register(pd.Index)
    def _index(x: pd.Index) -> Any:
        return (type(x).__name__, x.name, x.dtype, x.array)

    @normalize_token.register(pd.Series)
    def _series(x: pd.Series) -> Any:
        return ("Series", x.name, x.dtype, x.array, x.index)

    @normalize_token.register(pd.DataFrame)
    def _frame(x: pd.DataFrame) -> Any:
        columns = [x.iloc[:, i].array for i in range(x.shape[1])]
        return ("DataFrame", list(x.dtypes), columns, x.columns, x.index)

    @normalize_token.register(pd.Categorical)
    def _categorical(x: pd.Categorical) -> Any:
        return ("Categorical", x.dtype, np.asarray(x.codes))

    @normalize_token.register(
        (pd.arrays.DatetimeArray, pd.arrays.TimedeltaArray, pd.arrays.PeriodArray)
    )
    def _datetimelike(x: Any) -> Any:
        return (type(x).__name__, str(x.dtype), np.asarray(x.asi8))

    @normalize_token.register(pd.arrays.IntervalArray)
    def _interval(x: Any) -> Any:
        return ("IntervalArray", str(x.dtype), x.closed, x.left, x.right)

    @normalize_token.register(pd.arrays.ArrowExtensionArray)
    def _arrow_backed(x: Any) -> Any:
        return (type(x).__name__, str(x.dtype), x._pa_array)

    @normalize_token.register((pd.arrays.IntegerArray, pd.arrays.FloatingArray))
    def _masked(x: Any) -> Any:
        return (type(x).__name__, str(x.dtype), x._data, x._mask)

    @normalize_token.register(pd.arrays.BooleanArray)
    def _masked_bool(x: Any) -> Any:
        return ("BooleanArray", x._data, x._mask)

    @normalize_token.register(pd.arrays.SparseArray)
    def _sparse(x: Any) -> Any:
        index = x.sp_index
        return ("SparseArray", str(x.dtype), x.sp_values, np.asarray(index.indices), len(x))

    @normalize_token.register(ExtensionArray)
    def _extension(x: Any) -> Any:
        # NumpyExtensionArray, StringArray (Python storage) and third-party arrays.
        return (type(x).__name__, str(x.dtype), np.asarray(x))

    @normalize_token.register(pd.CategoricalDtype)
    def _categorical_dtype(x: pd.CategoricalDtype) -> Any:
        return ("CategoricalDtype", x.categories if x.categories is not None else None, x.ordered)

    @normalize_token.register(ExtensionDtype)
    def _extension_dtype(x: Any) -> Any:
        return ("ExtensionDtype", type(x).__name__, str(x))

    @normalize_token.register(pd.offsets.BaseOffset)
    def _offset(x: Any) -> Any:
        return ("offset", x.freqstr)

    @normalize_token.register(type(pd.NA))
    def _na(x: Any) -> Any:
        return ("pd.NA",)

    @normalize_token.register(type(pd.NaT))
    def _nat(x: Any) -> Any:
        return ("pd.NaT",)


def tokenize(*args: Any, ensure_deterministic: bool | None = None, **kwargs: Any) -> str:
    """A deterministic 32-hex-digit token of the arguments.

    Parameters
    ----------
    *args, **kwargs
        The objects to tokenize.
    ensure_deterministic : bool, optional
        Raise :class:`TokenizationError` rather than give a random token to an object
        that cannot be tokenized deterministically. Default: the
        ``tokenize.ensure-deterministic`` setting (False when unset).

    Examples
    --------
    >>> tokenize("x", 1) == tokenize("x", 1) != tokenize("x", 2)
    True
    """
    reset = (
        None if ensure_deterministic is None else _ENSURE_DETERMINISTIC.set(ensure_deterministic)
    )
    try:
        h = hashlib.blake2b(digest_size=16)
        _feed(h, args)
        if kwargs:
            _feed(h, kwargs)
        return h.hexdigest()
    finally:
        if reset is not None:
            _ENSURE_DETERMINISTIC.reset(reset)
