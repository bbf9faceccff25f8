"""Module-level conversions and partition-wise helpers of ``dask.dataframe``:
``to_datetime``, ``to_numeric``, ``to_timedelta`` and ``map_overlap``.

Policy: a conversion of a collection is lazy and runs per partition (the result's
dtype comes from running pandas on the partition metadata, so errors in the data only
show when computed); anything else (scalars, lists, arrays) goes straight to pandas,
as Dask does. ``map_overlap``, ``to_bag`` and ``repartition`` are the collection methods under
Dask's module-level names.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from taskloom.dataframe._meta import meta_from_user
from taskloom.dataframe._primitives import (
    FrameBase,
    map_partitions,
    no_default,
)

__all__ = [
    "isna",
    "map_overlap",
    "repartition",
    "to_bag",
    "to_datetime",
    "to_numeric",
    "to_timedelta",
]


class _Convert:
    """``func(part, **kwargs)`` cast to one dtype, so every partition agrees with the
    metadata (pandas picks the datetime unit from each partition's values)."""

    __slots__ = ("dtype", "func", "kwargs")

    def __init__(self, func: Any, kwargs: dict, dtype: Any) -> None:
        self.func, self.kwargs, self.dtype = func, kwargs, dtype

    def __call__(self, part: Any) -> Any:
        out = self.func(part, **self.kwargs)
        if out.dtype == self.dtype:
            return out
        cast = out.astype(self.dtype)
        if out.dtype.kind in "mM" and not (cast.astype(out.dtype) == out)[out.notna()].all():
            # A coarser unit would truncate these values (e.g. nanosecond strings).
            raise ValueError(
                f"{self.func.__name__}: values of dtype {out.dtype} would lose precision as "
                f"{self.dtype}, the dtype of the metadata"
            )
        return cast

    def __dask_tokenize__(self) -> Any:
        return (
            "convert",
            self.func.__name__,
            sorted(self.kwargs.items(), key=str),
            str(self.dtype),
        )


def _converted(func: Any, arg: Any, kwargs: dict, kind: str, default: Any) -> Any:
    """``arg`` converted lazily: the dtype is pandas' on the empty metadata when the
    input already has a datetime/timedelta or numeric dtype, else pandas' unit for
    parsed strings (``default``)."""
    meta = func(arg._meta, **kwargs)
    if not isinstance(arg._meta, pd.DataFrame) and arg._meta.dtype.kind in "iuf":
        # pandas gives empty numbers seconds but values nanoseconds (unit=None):
        # the unit comes from one value, or every partition would be truncated to it.
        try:
            dtype = func(pd.Series([0], dtype=arg._meta.dtype), **kwargs).dtype
        except (TypeError, ValueError, OverflowError):
            dtype = meta.dtype
        meta = meta.astype(dtype)
    if not (isinstance(arg._meta, pd.DataFrame) or arg._meta.dtype.kind in kind):
        dtype = pd.Series([], dtype=default).dtype
        if isinstance(meta.dtype, pd.DatetimeTZDtype):
            dtype = pd.DatetimeTZDtype("us", meta.dtype.tz)
        meta = meta.astype(dtype)
    return map_partitions(
        _Convert(func, kwargs, meta.dtype), arg, meta=meta, token=func.__name__.replace("_", "-")
    )


def to_datetime(
    arg: Any,
    errors: str = "raise",
    dayfirst: bool = False,
    yearfirst: bool = False,
    utc: bool = False,
    format: str | None = None,
    exact: Any = no_default,
    unit: str | None = None,
    origin: str = "unix",
    cache: bool = True,
) -> Any:
    """Convert to datetimes, as :func:`pandas.to_datetime`; lazy on collections.

    A taskloom Series or Index is converted partition by partition; a DataFrame
    assembles datetimes from its ``year``/``month``/``day``... columns per partition.
    Other arguments go straight to pandas. Parsed strings come out in microseconds
    (pandas' usual unit; every partition is cast to it, so the metadata holds).

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series(["2000-01-01", "2000-01-02"]), npartitions=2)
    >>> dd.to_datetime(s).compute().tolist()
    [Timestamp('2000-01-01 00:00:00'), Timestamp('2000-01-02 00:00:00')]
    """
    kwargs: dict = dict(
        errors=errors,
        dayfirst=dayfirst,
        yearfirst=yearfirst,
        utc=utc,
        format=format,
        unit=unit,
        origin=origin,
        cache=cache,
    )
    if exact is not no_default:
        kwargs["exact"] = exact
    if not isinstance(arg, FrameBase):
        return pd.to_datetime(arg, **kwargs)
    return _converted(pd.to_datetime, arg, kwargs, "iufbMm", "datetime64[us]")


def to_numeric(arg: Any, errors: str = "raise", downcast: Any = None, meta: Any = None) -> Any:
    """Convert to numbers, as :func:`pandas.to_numeric`; lazy on a taskloom Series.

    Without ``meta`` the result is float64 (Dask's guess; a numeric input keeps its
    dtype), and every partition is cast to it, since pandas would pick int64 or
    float64 per partition by its values; ``meta`` (a dtype or empty Series) states
    another, e.g. the type that ``downcast=`` should give.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series(["1", "2.5", "x"]), npartitions=2)
    >>> dd.to_numeric(s, errors="coerce").compute().tolist()
    [1.0, 2.5, nan]
    """
    if errors not in ("raise", "coerce"):
        raise ValueError(f"errors must be 'raise' or 'coerce', got {errors!r}")
    if not isinstance(arg, FrameBase):
        if meta is not None:
            raise ValueError("meta= is only for taskloom Series arguments")
        return pd.to_numeric(arg, errors=errors, downcast=downcast)
    if arg.ndim != 1:
        raise TypeError("arg must be a Series or a scalar, not a DataFrame (as pandas)")
    kwargs = dict(errors=errors, downcast=downcast)
    if meta is None:
        kind = arg._meta.dtype.kind
        dtype = arg._meta.dtype if kind in "iuf" and downcast is None else np.float64
    else:
        dtype = meta_from_user(meta).dtype if not isinstance(meta, str | type) else meta
    meta = (
        arg._meta.astype(dtype)
        if arg._meta.dtype.kind in "iufb"
        else pd.Series([], dtype=dtype, name=arg._meta.name, index=arg._meta.index)
    )
    return map_partitions(_Convert(pd.to_numeric, kwargs, meta.dtype), arg, meta=meta)


def to_timedelta(arg: Any, unit: str | None = None, errors: str = "raise") -> Any:
    """Convert to timedeltas, as :func:`pandas.to_timedelta`; lazy on collections.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series([1, 2]), npartitions=1)
    >>> dd.to_timedelta(s, unit="s").compute().tolist()
    [Timedelta('0 days 00:00:01'), Timedelta('0 days 00:00:02')]
    """
    if not isinstance(arg, FrameBase):
        return pd.to_timedelta(arg, unit=unit, errors=errors)
    kwargs = dict(unit=unit, errors=errors)
    return _converted(pd.to_timedelta, arg, kwargs, "iufbMm", "timedelta64[us]")


def isna(arg: Any) -> Any:
    """Missing-value mask, as :func:`pandas.isna`; lazy per partition on collections.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series([1.0, None, 3.0]), npartitions=2)
    >>> dd.isna(s).compute().tolist()
    [False, True, False]
    """
    if not isinstance(arg, FrameBase):
        return pd.isna(arg)
    return map_partitions(pd.isna, arg, token="isna")


def repartition(df: Any, divisions: Any, force: bool = False) -> Any:
    """``df`` split at new ``divisions`` (index values), as Dask's module-level
    ``repartition``: :meth:`DataFrame.repartition` with ``divisions=``.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> df = dd.from_pandas(pd.DataFrame({"x": range(10)}), npartitions=2)
    >>> dd.repartition(df, [0, 3, 6, 9]).npartitions
    3
    """
    if not isinstance(df, FrameBase):
        raise TypeError(f"repartition needs a taskloom collection, not {type(df).__name__}")
    return df.repartition(divisions=divisions, force=force)


def to_bag(df: Any, index: bool = False, format: str = "tuple") -> Any:
    """A ``taskloom.bag`` of the rows, one bag partition per partition, as Dask's
    ``to_bag``: tuples (``format="tuple"``, the index first with ``index=True``), dicts
    (``"dict"``) or the partitions themselves (``"frame"``); a Series gives its values.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> df = dd.from_pandas(pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}), npartitions=2)
    >>> dd.to_bag(df).compute()
    [(1, 'a'), (2, 'b')]
    """
    if not isinstance(df, FrameBase):
        raise TypeError(f"to_bag needs a taskloom collection, not {type(df).__name__}")
    return df.to_bag(index=index, format=format)


# --- map_overlap ----------------------------------------------------------------------


def map_overlap(
    func: Any,
    df: Any,
    before: Any,
    after: Any,
    *args: Any,
    meta: Any = no_default,
    enforce_metadata: bool = True,
    transform_divisions: bool = True,
    clear_divisions: bool = False,
    align_dataframes: bool = False,
    **kwargs: Any,
) -> Any:
    """``func`` applied to each partition with ``before`` rows of the previous and
    ``after`` rows of the next partition attached, the result trimmed back to the
    partition's rows, as Dask's ``map_overlap``.

    ``before``/``after`` are row counts, or timedeltas (``"2s"``,
    :class:`datetime.timedelta`) reaching back/forward along a sorted index with known
    divisions. This is the collection method :meth:`DataFrame.map_overlap` under
    Dask's module-level name.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> df = dd.from_pandas(pd.DataFrame({"x": range(6)}), npartitions=3)
    >>> dd.map_overlap(lambda p: p.x.diff(), df, 1, 0).compute().tolist()
    [nan, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    if not isinstance(df, FrameBase):
        raise TypeError(f"map_overlap needs a taskloom collection as df, not {type(df).__name__}")
    return df.map_overlap(
        func,
        before,
        after,
        *args,
        meta=meta,
        enforce_metadata=enforce_metadata,
        transform_divisions=transform_divisions,
        clear_divisions=clear_divisions,
        align_dataframes=align_dataframes,
        **kwargs,
    )
