"""Metadata: the empty pandas object that stands for a collection's partitions.

Every taskloom dataframe, series and index carries ``_meta``, an empty pandas object
with the partitions' columns, dtypes and index type; everything the user can learn
without computing (``columns``, ``dtypes``, a repr) comes from it, and an operation's
result type is found by running the same pandas operation on it first. Running on an
empty frame misleads some functions (a user function may index into its input), so
:func:`meta_nonempty` builds a two-row stand-in with the same dtypes, as Dask does.
Errors a pandas operation raises on the stand-in (a missing column, a wrong argument)
are therefore raised when the expression is built, not deep inside a compute.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["emulate", "make_meta", "meta_nonempty"]


def make_meta(x: Any) -> Any:
    """The empty pandas object standing for ``x`` (a pandas object or a scalar)."""
    if isinstance(x, pd.DataFrame | pd.Series):
        return x.iloc[:0]
    if isinstance(x, pd.Index):
        return x[:0]
    return x


def _fake_values(dtype: Any, n: int = 2) -> Any:
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories
        return pd.Categorical([cats[0]] * n if len(cats) else [None] * n, dtype=dtype)
    if isinstance(dtype, pd.DatetimeTZDtype):
        return pd.array([pd.Timestamp("2000-01-01", tz=dtype.tz)] * n, dtype=dtype)
    kind = getattr(dtype, "kind", "O")
    if kind == "b":
        return pd.array([True, False][:n] * (n // 2 or 1), dtype=dtype)[:n]
    if kind in "iu":
        return pd.array([1] * n, dtype=dtype)
    if kind == "f":
        return pd.array([1.0] * n, dtype=dtype)
    if kind == "c":
        return np.array([1 + 1j] * n, dtype=dtype)
    if kind == "M":
        return pd.array([pd.Timestamp("2000-01-01")] * n, dtype=dtype)
    if kind == "m":
        return pd.array([pd.Timedelta(1, "s")] * n, dtype=dtype)
    return pd.array(["foo"] * n, dtype=dtype)


def _nonempty_index(idx: pd.Index) -> pd.Index:
    if isinstance(idx, pd.MultiIndex):
        levels = [_nonempty_index(level) for level in idx.levels]
        return pd.MultiIndex.from_arrays(levels, names=idx.names)
    if isinstance(idx, pd.RangeIndex):
        return pd.RangeIndex(2, name=idx.name)
    if isinstance(idx, pd.DatetimeIndex):
        return pd.date_range(
            "2000-01-01", periods=2, freq=idx.freq or "D", tz=idx.tz, name=idx.name
        )
    return pd.Index(_fake_values(idx.dtype), name=idx.name)


def meta_nonempty(meta: Any) -> Any:
    """Two rows of made-up data with ``meta``'s columns, dtypes and index type."""
    if isinstance(meta, pd.DataFrame):
        index = _nonempty_index(meta.index)
        data = {i: _fake_values(dt) for i, dt in enumerate(meta.dtypes)}
        df = pd.DataFrame(data, index=index)
        df.columns = meta.columns
        return df
    if isinstance(meta, pd.Series):
        return pd.Series(
            _fake_values(meta.dtype), index=_nonempty_index(meta.index), name=meta.name
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
