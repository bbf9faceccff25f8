"""Division values for range partitioning (``set_index``, ``sort_values``, repartition):
approximate quantiles of a column of any orderable dtype, kept in the column's own type.

This module owns the one mapping between a column's values and *sort keys*, numpy
arrays whose order is pandas' sort order for that dtype, and back:

- datetimes (any unit, with or without a time zone) and timedeltas: ``int64`` counts of
  the dtype's own unit (UTC instants for tz-aware values), so ``datetime64[us]`` is
  never read as nanoseconds;
- categoricals: their codes (pandas sorts categories in category order);
- booleans and integers, nullable or not: ``int64`` (``uint64`` for unsigned);
  floats: ``float64``;
- strings (pyarrow-backed ``str`` or ``object``) and other objects: an object array,
  compared as Python compares them (code point order for strings, as pandas sorts).

Quantiles are computed as Dask does, without pandas' ``quantile`` (which has no kernel
for strings and reads datetimes as floats): each partition contributes a sorted
sample of its values with weights (how many rows each stands for, its exact minimum
and maximum included), and the boundaries are the values where the merged weights
cross equal shares. Boundaries are actual values of the column (no interpolation),
so they have the column's type, unit and time zone; the first and last are the exact
minimum and maximum.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np
import pandas as pd

from taskloom.dataframe.core import tree_reduction

__all__ = ["division_keys", "from_keys", "quantile_divisions", "range_targets", "sort_keys"]

# Grid points each partition contributes at least; more when many outputs are wanted.
_MIN_SAMPLE = 101


def _time_unit(dtype: Any) -> str | None:
    """The unit of a datetime or timedelta dtype, None for other dtypes."""
    if isinstance(dtype, pd.DatetimeTZDtype):
        return dtype.unit
    if getattr(dtype, "kind", None) in ("M", "m") and isinstance(dtype, np.dtype):
        return np.datetime_data(dtype)[0]
    return None


def _is_object_like(dtype: Any) -> bool:
    return not (
        isinstance(dtype, pd.CategoricalDtype)
        or _time_unit(dtype) is not None
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_numeric_dtype(dtype)
    )


def sort_keys(values: pd.Series | pd.Index) -> np.ndarray:
    """The non-missing ``values`` as a numpy array that sorts as pandas sorts them.

    Parameters
    ----------
    values : pandas.Series or pandas.Index
        Values of one dtype; missing values are dropped.

    Returns
    -------
    numpy.ndarray
        ``int64`` counts of the unit for datetimes and timedeltas (UTC for tz-aware),
        codes for categoricals, ``int64``/``uint64``/``float64`` for numbers and
        booleans, an object array for strings and other objects.

    Examples
    --------
    >>> import pandas as pd
    >>> sort_keys(pd.Series(pd.to_datetime(["2000-01-02", None])).astype("M8[s]"))
    array([946771200])
    >>> sort_keys(pd.Series(["b", None, "a"], dtype="str"))
    array(['b', 'a'], dtype=object)
    """
    s = pd.Series(values) if isinstance(values, pd.Index) else values
    s = s.dropna()
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return np.asarray(s.cat.codes, dtype=np.int64)
    if isinstance(dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert(None)  # the same instants, naive in UTC, same unit
    if _time_unit(s.dtype) is not None:
        return s.to_numpy().astype(np.int64)
    if pd.api.types.is_bool_dtype(dtype):
        return s.to_numpy(dtype=np.int64)
    if pd.api.types.is_unsigned_integer_dtype(dtype):
        return s.to_numpy(dtype=np.uint64)
    if pd.api.types.is_integer_dtype(dtype):
        return s.to_numpy(dtype=np.int64)
    if pd.api.types.is_numeric_dtype(dtype):
        return s.to_numpy(dtype=np.float64)
    return s.to_numpy(dtype=object)


def from_keys(keys: np.ndarray, dtype: Any) -> list:
    """The values of ``dtype`` that ``keys`` (from :func:`sort_keys`) stand for, as
    scalars: Timestamps and Timedeltas keep the unit and time zone.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from_keys(np.array([946771200]), pd.DatetimeTZDtype("s", "Europe/Paris"))
    [Timestamp('2000-01-02 01:00:00+0100', tz='Europe/Paris')]
    >>> from_keys(np.array([1, 0]), pd.CategoricalDtype(["x", "y"]))
    ['y', 'x']
    """
    keys = np.asarray(keys)
    unit = _time_unit(dtype)
    if isinstance(dtype, pd.CategoricalDtype):
        return list(dtype.categories[keys.astype(np.int64)])
    if unit is not None:
        ints = keys.astype(np.int64)
        if getattr(dtype, "kind", None) == "m":
            return list(pd.TimedeltaIndex(ints.view(f"m8[{unit}]")))
        index = pd.DatetimeIndex(ints.view(f"M8[{unit}]"))
        tz = getattr(dtype, "tz", None)
        return list(index.tz_localize("UTC").tz_convert(tz) if tz is not None else index)
    if pd.api.types.is_bool_dtype(dtype):
        return [bool(k) for k in keys]
    if pd.api.types.is_integer_dtype(dtype):
        return [int(k) for k in keys]
    if pd.api.types.is_numeric_dtype(dtype):
        return [float(k) for k in keys]
    return [str(k) if isinstance(k, np.str_) else k for k in keys]


def division_keys(divisions: list, dtype: Any) -> np.ndarray:
    """Sort keys of division values for a column of ``dtype``, to compare with its
    :func:`sort_keys`: ``key < division_key`` exactly when ``value < division``.

    A division finer than the column's unit (a nanosecond boundary for a ``[s]``
    column) is rounded up, which keeps that equivalence; a division that is not a
    category of a categorical column raises ValueError.

    Examples
    --------
    >>> import pandas as pd
    >>> division_keys([pd.Timestamp("1970-01-01 00:00:01.5")], "M8[s]")
    array([2])
    """
    dtype = pd.api.types.pandas_dtype(dtype)
    if not len(divisions):
        return sort_keys(pd.Series([], dtype=dtype))
    if isinstance(dtype, pd.CategoricalDtype):
        codes = dtype.categories.get_indexer(list(divisions))
        if (codes < 0).any():
            missing = [d for d, c in zip(divisions, codes, strict=True) if c < 0]
            raise ValueError(f"divisions {missing!r} are not categories of the column")
        return codes.astype(np.int64)
    unit = _time_unit(dtype)
    if unit is not None:
        if dtype.kind == "m":
            index: Any = pd.TimedeltaIndex(list(divisions))
        else:
            index = pd.DatetimeIndex(list(divisions))
            tz = getattr(dtype, "tz", None)
            if (index.tz is None) != (tz is None):
                raise TypeError(
                    f"divisions {list(divisions)!r} and the column (dtype {dtype}) must both "
                    "have a time zone or both have none"
                )
            if tz is not None:
                index = index.tz_convert(None)
        index = index.ceil(pd.Timedelta(1, unit)) if index.unit != unit else index
        return sort_keys(pd.Series(index.as_unit(unit)))
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return np.asarray(divisions)
    return np.asarray(list(divisions), dtype=object)


# --- approximate quantiles ------------------------------------------------------------


def _sample(part: pd.Series | pd.Index, size: int) -> tuple:
    """A sorted sample of ``part``'s sort keys, at most ``size`` values including the
    minimum and maximum, with how many rows each stands for."""
    s = pd.Series(part) if isinstance(part, pd.Index) else part
    s = s.dropna()
    n = len(s)
    if not n:
        return np.array([]), np.array([])
    if _is_object_like(s.dtype):
        # pandas sorts pyarrow strings natively; only the sample becomes Python objects.
        ordered = sort_keys(s.sort_values(kind="stable"))
    else:
        ordered = np.sort(sort_keys(s), kind="stable")
    if n <= size:
        return ordered, np.ones(n)
    positions = np.unique(np.round(np.linspace(0, n - 1, size)).astype(np.int64))
    # Each sampled row stands for the rows up to halfway to its neighbours.
    edges = np.concatenate([[-0.5], (positions[:-1] + positions[1:]) / 2, [n - 0.5]])
    return ordered[positions], np.diff(edges)


def _concat_samples(samples: list) -> tuple:
    samples = [s for s in samples if len(s[0])]
    if not samples:
        return np.array([]), np.array([])
    if len(samples) == 1:
        return samples[0]
    return np.concatenate([k for k, _ in samples]), np.concatenate([w for _, w in samples])


class _Boundaries:
    """The final step: ``npartitions + 1`` boundary keys from the merged samples, as
    values of ``dtype`` (a class so that its token is its content)."""

    __slots__ = ("dtype", "npartitions")

    def __init__(self, npartitions: int, dtype: Any) -> None:
        self.npartitions, self.dtype = npartitions, dtype

    def __call__(self, samples: list) -> list:
        keys, weights = _concat_samples(samples)
        if not len(keys):
            return [None, None]
        order = np.argsort(keys, kind="stable")
        keys, weights = keys[order], weights[order]
        cum = np.cumsum(weights)
        targets = cum[-1] * np.arange(1, self.npartitions) / self.npartitions
        inner = keys[np.minimum(np.searchsorted(cum, targets, side="right"), len(keys) - 1)]
        picked = [keys[0]]
        for k in inner:
            if k > picked[-1]:
                picked.append(k)
        # The last boundary is the maximum; an inner one equal to it is dropped.
        if len(picked) > 1 and picked[-1] == keys[-1]:
            picked.pop()
        picked.append(keys[-1])
        return from_keys(np.asarray(picked, dtype=keys.dtype), self.dtype)

    def __dask_tokenize__(self) -> Any:
        return ("boundaries", self.npartitions, str(self.dtype))


def quantile_divisions(column: Any, npartitions: int) -> list:
    """At most ``npartitions + 1`` increasing boundaries splitting ``column`` (a
    taskloom Series or Index) into ranges of about equal row counts, computed now.

    The first boundary is the column's minimum and the last its maximum; boundaries
    are values of the column, of its type (datetime unit and time zone kept). Many
    repeated values give fewer ranges. A column without values gives ``[None, None]``.

    Parameters
    ----------
    column : taskloom.dataframe.Series or Index
        Values of any orderable dtype: numbers, booleans, datetimes, timedeltas,
        strings, categoricals, objects.
    npartitions : int
        How many ranges are wanted (a positive integer).

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> pdf = pd.DataFrame({"s": list("hgfedcba")})
    >>> quantile_divisions(dd.from_pandas(pdf, npartitions=2).s, 2)
    ['a', 'e', 'h']
    >>> ts = pd.Series(pd.date_range("2000-01-01", periods=4, unit="s"))
    >>> quantile_divisions(dd.from_pandas(ts, npartitions=2), 1)
    [Timestamp('2000-01-01 00:00:00'), Timestamp('2000-01-04 00:00:00')]
    """
    if (
        isinstance(npartitions, bool)
        or not isinstance(npartitions, int | np.integer)
        or npartitions < 1
    ):
        raise ValueError(f"npartitions must be a positive integer, got {npartitions!r}")
    dtype = column._meta.dtype
    size = builtins.max(_MIN_SAMPLE, 4 * int(npartitions) + 1)
    return tree_reduction(
        column,
        _sample,
        _concat_samples,
        _Boundaries(int(npartitions), dtype),
        None,
        split_every=None,
        token="partition-quantiles",
        chunk_kwargs={"size": size},
    ).compute()


def range_targets(values: pd.Series | pd.Index, inner_keys: np.ndarray) -> np.ndarray:
    """For each row of ``values``, the range it falls in between the boundaries whose
    :func:`division_keys` are ``inner_keys`` (range ``j`` holds
    ``inner[j-1] <= value < inner[j]``); missing values get -1.

    Examples
    --------
    >>> import pandas as pd
    >>> range_targets(pd.Series(["b", None, "z"], dtype="str"), division_keys(["c"], "str"))
    array([ 0, -1,  1])
    """
    s = pd.Series(values) if isinstance(values, pd.Index) else values
    na = s.isna().to_numpy()
    target = np.full(len(s), -1, dtype=np.int64)
    if len(inner_keys):
        target[~na] = np.searchsorted(inner_keys, sort_keys(s), side="right")
    else:
        target[~na] = 0
    return target
