"""Metadata: the empty pandas object that stands for a collection's partitions.

Every taskloom dataframe, series and index carries ``_meta``, an empty pandas object
with the partitions' columns, dtypes and index type; everything the user can learn
without computing (``columns``, ``dtypes``, a repr) comes from it, and an operation's
result type is found by running the same pandas operation on it first. Running on an
empty frame misleads some functions (a user function may index into its input), so
:func:`meta_nonempty` builds a two-row stand-in with the same dtypes, as Dask does.
Errors a pandas operation raises on the stand-in (a missing column, a wrong argument)
are therefore raised when the expression is built, not deep inside a compute.

The stand-in exists for every pandas dtype (numpy, categorical, datetime with a time
zone, period, interval, sparse, nullable, string and pyarrow-backed ones). A meta the
user describes (``meta=`` as Dask takes it) becomes a pandas object through
:func:`meta_from_user`, and :func:`enforce_meta` makes a computed partition agree with
its meta (names, columns, empty partitions), as Dask's ``apply_and_enforce``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["EnforceMeta", "emulate", "enforce_meta", "make_meta", "meta_from_user", "meta_nonempty"]


def make_meta(x: Any) -> Any:
    """The empty pandas object standing for ``x`` (a pandas object or a scalar)."""
    if isinstance(x, pd.DataFrame | pd.Series):
        return x.iloc[:0]
    if isinstance(x, pd.Index):
        return x[:0]
    return x


_SAMPLES = {
    "b": [True, False],
    "i": [1, 2],
    "u": [1, 2],
    "f": [1.0, 2.0],
    "c": [1 + 1j, 2 + 2j],
    "M": [pd.Timestamp("2000-01-01"), pd.Timestamp("2000-01-02")],
    "m": [pd.Timedelta(1, "s"), pd.Timedelta(2, "s")],
    "S": [b"foo", b"bar"],
    "U": ["foo", "bar"],
}


def _fake_values(dtype: Any, n: int = 2) -> Any:
    """``n`` made-up values of ``dtype`` (any numpy or pandas dtype, pyarrow-backed
    ones included); missing values where a dtype has no sample to offer."""
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories
        codes = [0] * n if cats is not None and len(cats) else [-1] * n
        return pd.Categorical.from_codes(codes, dtype=dtype)
    if isinstance(dtype, pd.DatetimeTZDtype):
        return pd.array([pd.Timestamp("2000-01-01", tz=dtype.tz)] * n, dtype=dtype)
    if isinstance(dtype, pd.PeriodDtype):
        return pd.array([pd.Period("2000-01-01", freq=dtype.freq)] * n, dtype=dtype)
    if isinstance(dtype, pd.IntervalDtype):
        sub = dtype.subtype if dtype.subtype is not None else np.dtype("int64")
        bounds = _fake_values(sub, 2)
        left, right = [bounds[0]] * n, [bounds[1]] * n
        return pd.arrays.IntervalArray.from_arrays(left, right, closed=dtype.closed, dtype=dtype)
    if isinstance(dtype, pd.SparseDtype):
        return pd.arrays.SparseArray(_fake_values(dtype.subtype, n), dtype=dtype)
    if isinstance(dtype, pd.ArrowDtype):
        return _fake_arrow(dtype, n)
    kind = getattr(dtype, "kind", "O")
    sample = _SAMPLES.get(kind, ["foo", "bar"])
    values = [sample[i % 2] for i in range(n)]
    if isinstance(dtype, np.dtype):
        if kind == "O":
            return np.array(values, dtype=object)
        return np.array(values).astype(dtype)
    try:
        return pd.array(values, dtype=dtype)
    except (TypeError, ValueError):
        # A third-party extension dtype: its missing value.
        array_type = dtype.construct_array_type()
        return array_type._from_sequence([dtype.na_value] * n, dtype=dtype)


def _fake_arrow(dtype: pd.ArrowDtype, n: int) -> Any:
    import pyarrow as pa

    t = dtype.pyarrow_dtype
    try:
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            values: Any = ["foo", "bar"]
        elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
            values = [b"foo", b"bar"]
        elif pa.types.is_date(t):
            values = [pd.Timestamp("2000-01-01").date()] * 2
        else:
            values = list(_fake_values(dtype.numpy_dtype, 2))
        values = [values[i % 2] for i in range(n)]
        return pd.array(values, dtype=dtype)
    except (TypeError, ValueError, NotImplementedError, pa.ArrowException):
        # Nested types (lists, structs, maps) and the like: missing values.
        return pd.array(pa.nulls(n, type=t), dtype=dtype)


def _nonempty_index(idx: pd.Index) -> pd.Index:
    if isinstance(idx, pd.MultiIndex):
        levels = [_nonempty_index(level) for level in idx.levels]
        return pd.MultiIndex.from_arrays(levels, names=idx.names)
    if isinstance(idx, pd.RangeIndex):
        return pd.RangeIndex(2, name=idx.name)
    if isinstance(idx, pd.DatetimeIndex):
        freq = idx.freq or "D"
        return pd.date_range(
            "2000-01-01", periods=2, freq=freq, tz=idx.tz, name=idx.name, unit=idx.unit
        )
    return pd.Index(_fake_values(idx.dtype), name=idx.name, dtype=idx.dtype)


def meta_nonempty(meta: Any) -> Any:
    """Two rows of made-up data with ``meta``'s columns, dtypes and index type, for
    every pandas dtype (numpy ones, categorical, datetime with time zone, period,
    interval, sparse, nullable, string, pyarrow-backed).

    Examples
    --------
    >>> meta = pd.DataFrame({"p": pd.Series([], dtype="period[D]"), "i": [], "s": []})
    >>> meta_nonempty(meta.astype({"i": "Int64", "s": "str"})).dtypes.tolist()
    [period[D], Int64Dtype(), <StringDtype(na_value=nan)>]
    """
    if isinstance(meta, pd.DataFrame):
        index = _nonempty_index(meta.index)
        data = {
            i: pd.Series(_fake_values(dt), index=index, dtype=dt)
            for i, dt in enumerate(meta.dtypes)
        }
        df = pd.DataFrame(data, index=index)
        df.columns = meta.columns
        return df
    if isinstance(meta, pd.Series):
        return pd.Series(
            _fake_values(meta.dtype),
            index=_nonempty_index(meta.index),
            name=meta.name,
            dtype=meta.dtype,
        )
    if isinstance(meta, pd.Index):
        return _nonempty_index(meta)
    return meta


def _nonempty_arg(x: Any) -> Any:
    return meta_nonempty(x) if isinstance(x, pd.DataFrame | pd.Series | pd.Index) else x


def emulate(func: Callable, *args: Any, **kwargs: Any) -> Any:
    """The metadata of ``func(*args, **kwargs)`` where pandas arguments are metas:
    ``func`` runs on non-empty stand-ins and the result is emptied again."""
    args = tuple(_nonempty_arg(a) for a in args)
    kwargs = {k: _nonempty_arg(v) for k, v in kwargs.items()}
    return make_meta(func(*args, **kwargs))


def meta_from_user(meta: Any, index: pd.Index | None = None) -> Any:
    """A meta from what Dask's ``meta=`` accepts: a pandas object, a dict or list of
    ``(column, dtype)``, a ``(name, dtype)`` tuple for a series, or a dtype/scalar.
    Frames and series built from a description get ``index`` (emptied), as in Dask.

    Examples
    --------
    >>> meta_from_user(("s", "i8"))
    Series([], Name: s, dtype: int64)
    >>> meta_from_user({"a": "f8", "b": "str"}).dtypes.tolist()
    [dtype('float64'), <StringDtype(na_value=nan)>]
    """
    index = None if index is None else index[:0]
    if isinstance(meta, pd.DataFrame | pd.Series | pd.Index):
        return make_meta(meta)
    if isinstance(meta, dict):
        meta = list(meta.items())
    if isinstance(meta, list) and all(isinstance(x, tuple) and len(x) == 2 for x in meta):
        columns = {c: pd.Series([], dtype=d, index=index) for c, d in meta}
        return pd.DataFrame(columns, index=index, columns=[c for c, _ in meta])
    if isinstance(meta, tuple) and len(meta) == 2:
        return pd.Series([], dtype=meta[1], name=meta[0], index=index)
    if isinstance(meta, np.dtype | str | type):
        try:
            return pd.Series([], dtype=meta, index=index)
        except TypeError as e:
            raise TypeError(f"meta={meta!r} is not a dtype: {e}") from None
    return meta


def enforce_meta(part: Any, meta: Any) -> Any:
    """``part`` made to agree with ``meta``, as Dask's ``apply_and_enforce``: an empty
    part is ``meta`` itself, a Series or Index takes the meta's name, a frame's columns
    must be the meta's (same labels in the same order), else ``ValueError``.

    Examples
    --------
    >>> enforce_meta(pd.Series([1, 2], name="a"), pd.Series([], dtype="i8", name="s")).name
    's'
    """
    if not isinstance(part, pd.DataFrame | pd.Series | pd.Index):
        return part
    if not len(part):
        return meta.copy()  # a copy: a caller may change a partition in place
    if isinstance(part, pd.DataFrame):
        if not isinstance(meta, pd.DataFrame) or list(part.columns) != list(meta.columns):
            expected = list(getattr(meta, "columns", []))
            got = list(part.columns)
            extra = [c for c in got if c not in expected]
            missing = [c for c in expected if c not in got]
            detail = (
                f"extra: {extra}, missing: {missing}"
                if extra or missing
                else f"order differs: got {got}, expected {expected}"
            )
            raise ValueError(
                f"the columns in the computed data do not match the columns in the "
                f"provided metadata ({detail}); pass meta= with the columns the function "
                "returns"
            )
        return part
    name = getattr(meta, "name", None)
    return part if part.name == name else part.rename(name)


class EnforceMeta:
    """``func`` whose results go through :func:`enforce_meta` (a task callable)."""

    __slots__ = ("func", "meta")

    def __init__(self, func: Callable, meta: Any) -> None:
        self.func, self.meta = func, meta

    def __call__(self, *args: Any) -> Any:
        return enforce_meta(self.func(*args), self.meta)

    def __reduce__(self) -> tuple:
        return (EnforceMeta, (self.func, self.meta))
