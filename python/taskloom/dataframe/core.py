"""The dataframe collections: :class:`DataFrame`, :class:`Series`, :class:`Index`, :class:`Scalar`.

A collection is a task graph whose keys ``(name, i)`` each compute one pandas partition,
plus what is known without computing: ``_meta`` (an empty pandas object with the
partitions' columns and dtypes, see :mod:`taskloom.dataframe._meta`) and ``divisions``,
the ``npartitions + 1`` index values that bound the partitions (partition ``i`` holds
index values in ``[divisions[i], divisions[i + 1])``, the last one closed), or all
``None`` when unknown.

Policies:

- Row-wise operations add one task per partition and keep the divisions; operations
  between collections align them first: same partitions as they are, known but
  different divisions by repartitioning both onto the union of their divisions.
- Reductions are tree reductions: ``chunk`` per partition, then ``combine`` over at most
  ``split_every`` partial results per task, level by level, and ``aggregate`` once at
  the root, so no task sees more than ``split_every`` partials.
- Graphs are kept as layers (one dict per operation) and merged once, at compute time.

The graph-building primitives (new collections, per-partition maps, tree reductions,
alignment, :class:`Scalar`) live below this module in
:mod:`taskloom.dataframe._primitives`, and operation families in their own modules
(:mod:`~taskloom.dataframe._quantile`, ``groupby``, ``shuffle``, ``multi``,
``timeseries``); this module binds them as methods. Its names that the family modules
import (``map_partitions``, ``tree_reduction``, ...) are re-exported from there.
"""

from __future__ import annotations

import builtins
import operator
import warnings
from collections.abc import Callable, Hashable, Iterable, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from taskloom.dataframe._meta import emulate, make_meta, meta_from_user
from taskloom.dataframe._primitives import (
    SPLIT_EVERY,
    FrameBase,
    Scalar,
    align_partitions,
    concat_partitions,
    funcname,
    install_operators,
    map_partitions,
    map_scalars,
    merge_layers,
    new_collection,
    no_default,
    register_collection_type,
    tree_reduction,
)
from taskloom.dataframe._quantile import (
    check_quantiles,
    quantile_aggregate,
    quantile_chunk,
    quantile_combine,
)
from taskloom.delayed import Delayed
from taskloom.tokenize import tokenize

__all__ = [
    "SPLIT_EVERY",
    "DataFrame",
    "Index",
    "Scalar",
    "Series",
    "align_partitions",
    "concat_partitions",
    "map_partitions",
    "map_scalars",
    "merge_layers",
    "meta_from_user",
    "new_collection",
    "no_default",
    "tree_reduction",
]


def _carried_method(how: str, doc: str) -> Callable[[Any], Any]:
    def method(self: Any) -> Any:
        from taskloom.dataframe.timeseries import carried

        return carried(self, how)

    method.__name__ = how
    method.__doc__ = f"{doc} Across partitions: each passes one row of state to the next."
    return method


class _Frame(FrameBase):
    """What DataFrame, Series and Index share: partitions, divisions, row-wise methods."""

    __slots__ = ()

    # -- conversions (taskloom.dataframe.methods_convert) --
    @property
    def values(self) -> Any:
        """The values as an Array with unknown chunk lengths (see :meth:`to_dask_array`)."""
        from taskloom.dataframe import methods_convert

        return methods_convert.to_dask_array(self)

    def to_dask_array(
        self, lengths: Any = None, meta: Any = None, optimize: bool = True, **optimize_kwargs: Any
    ) -> Any:
        """The values as an Array, one block of rows per partition; ``lengths=True``
        computes the chunk lengths, a sequence gives them."""
        from taskloom.dataframe import methods_convert

        return methods_convert.to_dask_array(self, lengths, meta)

    def to_bag(self, index: bool = False, format: str = "tuple") -> Any:
        """The rows as a Bag of tuples or dicts, one bag partition per partition."""
        from taskloom.dataframe import methods_convert

        return methods_convert.to_bag(self, index, format)

    def random_split(self, frac: Sequence, random_state: Any = None, shuffle: bool = False) -> list:
        """Rows split at random in the fractions ``frac``, each part keeping the
        partitions and divisions."""
        from taskloom.dataframe import methods_convert

        return methods_convert.random_split(self, frac, random_state, shuffle)

    def to_string(self, max_rows: int = 5) -> str:
        """The structure (dtypes and divisions) as a string, as Dask."""
        from taskloom.dataframe import methods_reshape

        return methods_reshape.repr_string(self, max_rows)

    def to_timestamp(self, freq: Any = None, how: str = "start") -> Any:
        """A PeriodIndex turned into timestamps (divisions too)."""
        from taskloom.dataframe import methods_reshape

        return methods_reshape.to_timestamp(self, freq, how)

    def align(
        self, other: Any, join: str = "outer", axis: Any = None, fill_value: Any = None
    ) -> tuple:
        """Both collections over the union (or ``join``) of their labels, as pandas."""
        from taskloom.dataframe import methods_reshape

        return methods_reshape.align(self, other, join, axis, fill_value)

    def to_backend(self, backend: str | None = None, **kwargs: Any) -> Any:
        """The collection on another dataframe backend; taskloom has only pandas' (the
        default), so this is the collection itself.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> s = dd.from_pandas(pd.Series([1]), npartitions=1)
        >>> s.to_backend("pandas") is s
        True
        """
        if backend not in (None, "pandas"):
            raise ValueError(
                f"backend must be 'pandas' (the only one taskloom has), got {backend!r}"
            )
        return self

    # -- overlapping partitions (taskloom.dataframe.methods_overlap) --
    def map_overlap(
        self,
        func: Callable,
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
        """``func`` on each partition extended by ``before``/``after`` rows (ints) or
        time spans of its neighbours; see :func:`methods_overlap.map_overlap`.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> s = dd.from_pandas(pd.Series([1.0, 2.0, 3.0, 4.0]), npartitions=2)
        >>> s.map_overlap(lambda p: p.rolling(2).sum(), 1, 0).compute().tolist()
        [nan, 3.0, 5.0, 7.0]
        """
        from taskloom.dataframe import methods_overlap

        return methods_overlap.map_overlap(
            func,
            self,
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

    def shift(self, periods: int = 1, freq: Any = None, axis: Any = 0) -> Any:
        """Values moved by ``periods`` rows across partitions (the index, with ``freq``)."""
        from taskloom.dataframe import methods_overlap

        return methods_overlap.shift(self, periods, freq, axis)

    def diff(self, periods: int = 1, axis: Any = 0) -> Any:
        """Difference to the value ``periods`` rows earlier, across partitions."""
        from taskloom.dataframe import methods_overlap

        return methods_overlap.diff(self, periods, axis)

    def pct_change(self, periods: int = 1, fill_method: Any = None, **kwargs: Any) -> Any:
        """Fractional change from ``periods`` rows earlier, across partitions."""
        from taskloom.dataframe import methods_overlap

        return methods_overlap.pct_change(self, periods, fill_method, **kwargs)

    def pipe(self, func: Callable, *args: Any, **kwargs: Any) -> Any:
        """``func(self, *args, **kwargs)``; ``func`` may be ``(callable, keyword)`` to
        pass ``self`` as that keyword, as pandas.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> s = dd.from_pandas(pd.Series([1, 2]), npartitions=1)
        >>> s.pipe(lambda x, k: x * k, 3).compute().tolist()
        [3, 6]
        """
        if isinstance(func, tuple):
            func, target = func
            if target in kwargs:
                raise ValueError(f"{target} is both the pipe target and a keyword argument")
            kwargs[target] = self
            return func(*args, **kwargs)
        return func(self, *args, **kwargs)

    # -- statistics (taskloom.dataframe.methods_stats) --
    def memory_usage_per_partition(self, index: bool = True, deep: bool = False) -> Series:
        """Bytes of each partition, as a Series indexed by partition number.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> s = dd.from_pandas(pd.Series([1, 2, 3], dtype="i8"), npartitions=2)
        >>> s.memory_usage_per_partition(index=False).compute().tolist()
        [16, 8]
        """
        from taskloom.dataframe import methods_stats

        return methods_stats.memory_usage_per_partition(self, index, deep)

    def median_approximate(
        self, axis: Any = 0, method: str = "default", numeric_only: bool = False
    ) -> Any:
        """The median from the approximate quantile algorithm (see ``quantile``)."""
        if isinstance(self._meta, pd.DataFrame):
            return self.quantile(0.5, numeric_only=True)
        return self.quantile(0.5, method=method)

    def median(self, axis: Any = 0, numeric_only: bool = False) -> Any:
        """Exact median; as Dask, only of a one-partition collection (else
        ``NotImplementedError``: use :meth:`median_approximate`)."""
        from taskloom.dataframe import methods_stats

        return methods_stats.median(self, numeric_only)

    def sem(
        self,
        axis: Any = None,
        skipna: bool = True,
        ddof: int = 1,
        split_every: Any = False,
        numeric_only: bool = False,
    ) -> Any:
        """Standard error of the mean: ``std(ddof) / sqrt(count)``.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> s = dd.from_pandas(pd.Series([1.0, 2.0, 3.0, 4.0]), npartitions=2)
        >>> round(float(s.sem().compute()), 6)
        0.645497
        """
        frame = self
        if isinstance(self._meta, pd.DataFrame):
            kwargs = {"numeric_only": numeric_only}
            emulate(_call_method, self._meta, _method="sem", **kwargs)  # errors, early
            if numeric_only:
                frame = self.select_dtypes("number")
        std = frame.std(skipna=skipna, ddof=ddof, split_every=split_every or None)
        count = frame.count(split_every=split_every or None)
        return std / count**0.5

    def idxmax(
        self,
        axis: Any = 0,
        skipna: bool = True,
        numeric_only: bool = False,
        split_every: Any = False,
    ) -> Any:
        """Index label of each column's first largest value."""
        from taskloom.dataframe import methods_stats

        return methods_stats.idxmax(
            self, skipna=skipna, numeric_only=numeric_only, split_every=split_every
        )

    def idxmin(
        self,
        axis: Any = 0,
        skipna: bool = True,
        numeric_only: bool = False,
        split_every: Any = False,
    ) -> Any:
        """Index label of each column's first smallest value."""
        from taskloom.dataframe import methods_stats

        return methods_stats.idxmin(
            self, skipna=skipna, numeric_only=numeric_only, split_every=split_every
        )

    def clear_divisions(self) -> Any:
        """The same collection with unknown divisions."""
        return new_collection(self._layers, self._name, self._meta, (None,) * len(self.divisions))

    @property
    def partitions(self) -> _PartitionIndexer:
        """``x.partitions[i]`` / ``[i:j]`` / ``[[i, j]]``: a collection of some partitions."""
        return _PartitionIndexer(self)

    def get_partition(self, n: int) -> Any:
        """Partition ``n`` as a one-partition collection."""
        return self.partitions[n]

    @property
    def index(self) -> Index:
        """The index, as a lazy :class:`Index`."""
        return self.map_partitions(_get_index, meta=self._meta.index, token="index")

    def __len__(self) -> int:
        return int(self._reduction(len, builtins.sum, builtins.sum, 0, token="len").compute())

    def __bool__(self) -> bool:
        raise ValueError(
            f"the truth value of a taskloom {type(self).__name__} is ambiguous; "
            "use a reduction such as .any() or .all(), then .compute()"
        )

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self.compute(), dtype=dtype)

    # -- repr --
    def _repr_divisions(self) -> list:
        if self.known_divisions:
            return [str(d) for d in self.divisions]
        return [""] * len(self.divisions)

    def _footer(self) -> str:
        return f"taskloom Name: {self._label()}, {self._task_count()} tasks"

    # -- building blocks --
    def map_partitions(self, func: Callable, *args: Any, **kwargs: Any) -> Any:
        """``func`` applied to each partition; see :func:`map_partitions`."""
        return map_partitions(func, self, *args, **kwargs)

    def _partitionwise(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return map_partitions(_call_method, self, *args, _method=method, token=method, **kwargs)

    def _reduction(
        self,
        chunk: Callable,
        combine: Callable,
        aggregate: Callable,
        meta: Any,
        split_every: int | None = None,
        token: str | None = None,
        chunk_kwargs: dict | None = None,
    ) -> Any:
        return tree_reduction(
            self, chunk, combine, aggregate, meta, split_every, token, chunk_kwargs
        )

    def head(self, n: int = 5, npartitions: int = 1, compute: bool = True) -> Any:
        """The first ``n`` rows, computing only the first partitions needed.

        Starts with the first ``npartitions`` partitions (``-1``: all) and, when they
        hold fewer than ``n`` rows, goes on to the next ones (Dask warns instead).

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> df = dd.from_pandas(pd.DataFrame({"x": range(10)}), npartitions=5)
        >>> df.head(3).x.tolist()
        [0, 1, 2]
        """
        n_parts = self.npartitions if npartitions == -1 else npartitions
        if not 1 <= n_parts <= self.npartitions:
            raise ValueError(
                f"npartitions={npartitions} is out of range for a collection of "
                f"{self.npartitions} partitions"
            )
        if not compute:
            return self.partitions[:n_parts].map_partitions(_head, n, token="head")
        result = self.partitions[:n_parts].map_partitions(_head, n, token="head").compute()
        start = n_parts
        while len(result) < n and start < self.npartitions:
            stop = builtins.min(self.npartitions, start + builtins.max(1, start))
            more = self.partitions[start:stop].map_partitions(_head, n, token="head").compute()
            result = concat_partitions([result, more]).iloc[:n]
            start = stop
        return result.iloc[:n] if len(result) > n else result

    def tail(self, n: int = 5, compute: bool = True) -> Any:
        """The last ``n`` rows, computing only the last partitions needed."""
        last = self.partitions[self.npartitions - 1].map_partitions(_tail, n, token="tail")
        if not compute:
            return last
        result = last.compute()
        stop = self.npartitions - 1
        while len(result) < n and stop > 0:
            start = builtins.max(0, stop - builtins.max(1, self.npartitions - stop))
            more = self.partitions[start:stop].map_partitions(_tail, n, token="tail").compute()
            result = concat_partitions([more, result]).iloc[-n:]
            stop = start
        return result

    def to_delayed(self, optimize_graph: bool = True) -> list[Delayed]:
        """One :class:`~taskloom.Delayed` per partition."""
        dsk = self.__dask_graph__()
        return [Delayed(k, dsk) for k in self.__dask_keys__()]

    def repartition(
        self,
        npartitions: int | None = None,
        divisions: Sequence | None = None,
        partition_size: Any = None,
        force: bool = False,
    ) -> Any:
        """Rearrange the rows into ``npartitions`` partitions or onto new ``divisions``.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> df = dd.from_pandas(pd.DataFrame({"x": range(10)}), npartitions=5)
        >>> df.repartition(npartitions=2).npartitions
        2
        """
        from taskloom.dataframe.shuffle import repartition_divisions, repartition_npartitions

        if partition_size is not None:
            raise NotImplementedError(
                "repartition(partition_size=) is not supported; pass npartitions= or divisions="
            )
        if (npartitions is None) == (divisions is None):
            raise ValueError("repartition needs exactly one of npartitions= or divisions=")
        if divisions is not None:
            return repartition_divisions(self, divisions, force=force)
        return repartition_npartitions(self, npartitions)

    # -- row-wise methods shared by frames and series --
    def astype(self, dtype: Any) -> Any:
        """Cast to ``dtype`` (a dtype, or a dict column -> dtype); a cast to
        ``'category'`` without categories gives unknown categories, as Dask."""
        result = self._partitionwise("astype", dtype)
        from taskloom.dataframe import methods_reshape

        return methods_reshape.mark_unknown_categories(self, result, dtype)

    def fillna(self, value: Any = None, **kwargs: Any) -> Any:
        """Fill missing values with ``value`` (a scalar, dict or Series per column)."""
        if kwargs.get("method") is not None:
            raise NotImplementedError("fillna(method=) is not supported; use ffill()/bfill()")
        return self._partitionwise("fillna", value, **kwargs)

    def isna(self) -> Any:
        """Element-wise: whether a value is missing."""
        return self._partitionwise("isna")

    isnull = isna

    def notna(self) -> Any:
        """Element-wise: whether a value is present."""
        return self._partitionwise("notna")

    notnull = notna

    def abs(self) -> Any:
        """Element-wise absolute value."""
        return self._partitionwise("abs")

    def round(self, decimals: int = 0) -> Any:
        """Element-wise rounding."""
        return self._partitionwise("round", decimals)

    def clip(self, lower: Any = None, upper: Any = None, **kwargs: Any) -> Any:
        """Element-wise clipping to ``[lower, upper]``."""
        return self._partitionwise("clip", lower, upper, **kwargs)

    def isin(self, values: Any) -> Any:
        """Element-wise membership in ``values``."""
        if isinstance(values, _Frame):
            raise NotImplementedError("isin with a taskloom collection; compute it first")
        return self._partitionwise("isin", list(values) if isinstance(values, set) else values)

    def where(self, cond: Any, other: Any = np.nan) -> Any:
        """Keep values where ``cond`` holds, else ``other``."""
        return self._partitionwise("where", cond, other)

    def mask(self, cond: Any, other: Any = np.nan) -> Any:
        """Replace values where ``cond`` holds by ``other``."""
        return self._partitionwise("mask", cond, other)

    def replace(self, to_replace: Any = None, value: Any = no_default, **kwargs: Any) -> Any:
        """Replace values, as pandas' ``replace``."""
        if value is no_default:
            return self._partitionwise("replace", to_replace, **kwargs)
        return self._partitionwise("replace", to_replace, value, **kwargs)

    def copy(self, deep: bool = False) -> Any:
        """The same collection (collections are immutable; partitions are not shared)."""
        return new_collection(self._layers, self._name, self._meta, self.divisions)

    def sample(
        self, frac: float | None = None, replace: bool = False, random_state: Any = None
    ) -> Any:
        """A random fraction of the rows of every partition."""
        if frac is None:
            raise ValueError("sample needs frac= (sampling n rows would need the length)")
        seeds = np.random.default_rng(random_state).integers(0, 2**31, self.npartitions)
        name = f"sample-{tokenize(self._name, frac, replace, random_state)}"
        layer = {
            (name, i): (_sample, (self._name, i), frac, replace, int(seeds[i]))
            for i in builtins.range(self.npartitions)
        }
        return new_collection({**self._layers, name: layer}, name, self._meta, self.divisions)

    ffill = _carried_method("ffill", "Fill missing values with the last value before them.")
    bfill = _carried_method("bfill", "Fill missing values with the next value after them.")
    cumsum = _carried_method("cumsum", "Cumulative sum down the rows.")
    cumprod = _carried_method("cumprod", "Cumulative product down the rows.")
    cummax = _carried_method("cummax", "Cumulative maximum down the rows.")
    cummin = _carried_method("cummin", "Cumulative minimum down the rows.")

    def rolling(self, window: int | str | pd.Timedelta, **kwargs: Any) -> Any:
        """A rolling window (rows or a time span), correct across partition boundaries.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> df = dd.from_pandas(pd.DataFrame({"x": range(6)}), npartitions=3)
        >>> df.rolling(3).sum().compute().x.tolist()[2:]
        [3.0, 6.0, 9.0, 12.0]
        """
        from taskloom.dataframe.timeseries import Rolling

        return Rolling(self, window, **kwargs)

    def resample(self, rule: Any, **kwargs: Any) -> Any:
        """Group rows into time bins of a datetime index (needs known divisions)."""
        from taskloom.dataframe.timeseries import Resampler

        return Resampler(self, rule, **kwargs)

    @property
    def loc(self) -> _LocIndexer:
        """Selection by index label: ``loc[label]``, ``loc[a:b]`` (pruned by divisions),
        ``loc[boolean series]``, ``loc[rows, columns]``."""
        return _LocIndexer(self)

    # -- reductions shared by frames and series --
    def _stat(self, how: str, split_every: int | None, **kwargs: Any) -> Any:
        meta = emulate(_call_method, self._meta, _method=how, **kwargs)
        dtypes = None
        if (
            how in ("min", "max")
            and isinstance(self._meta, pd.DataFrame)
            and self._meta.columns.is_unique
        ):
            # The partials are column values: merged in each column's own dtype.
            dtypes = dict(self._meta.dtypes.items())
        combine = partial(
            _combine_stat, _COMBINE[how], skipna=kwargs.get("skipna", True), dtypes=dtypes
        )
        dtype = meta.dtype if isinstance(meta, pd.Series) else None
        return self._reduction(
            _call_method,
            combine,
            partial(_per_column_result, combine, dtype),
            meta,
            split_every,
            token=how,
            chunk_kwargs={"_method": how, **kwargs},
        )

    def sum(
        self,
        axis: Any = None,
        skipna: bool = True,
        numeric_only: bool = False,
        min_count: int = 0,
        split_every: int | None = None,
    ) -> Any:
        """Sum of the values (per column for a frame)."""
        if axis in (1, "columns"):
            return self._partitionwise("sum", axis=1, skipna=skipna, numeric_only=numeric_only)
        result = self._stat("sum", split_every, skipna=skipna, numeric_only=numeric_only)
        if min_count:
            count = self.count(numeric_only=numeric_only, split_every=split_every)
            return map_scalars(_apply_min_count, result, count, min_count, meta=result._meta)
        return result

    def prod(
        self,
        axis: Any = None,
        skipna: bool = True,
        numeric_only: bool = False,
        split_every: int | None = None,
    ) -> Any:
        """Product of the values."""
        return self._stat("prod", split_every, skipna=skipna, numeric_only=numeric_only)

    product = prod

    def min(
        self,
        axis: Any = None,
        skipna: bool = True,
        numeric_only: bool = False,
        split_every: int | None = None,
    ) -> Any:
        """Minimum of the values."""
        return self._stat("min", split_every, skipna=skipna, numeric_only=numeric_only)

    def max(
        self,
        axis: Any = None,
        skipna: bool = True,
        numeric_only: bool = False,
        split_every: int | None = None,
    ) -> Any:
        """Maximum of the values."""
        return self._stat("max", split_every, skipna=skipna, numeric_only=numeric_only)

    def any(self, axis: Any = None, skipna: bool = True, split_every: int | None = None) -> Any:
        """Whether any value is true."""
        return self._stat("any", split_every, skipna=skipna)

    def all(self, axis: Any = None, skipna: bool = True, split_every: int | None = None) -> Any:
        """Whether every value is true."""
        return self._stat("all", split_every, skipna=skipna)

    def count(
        self, axis: Any = None, numeric_only: bool = False, split_every: int | None = None
    ) -> Any:
        """Number of values present (not missing)."""
        kwargs = {"numeric_only": numeric_only} if isinstance(self._meta, pd.DataFrame) else {}
        return self._stat("count", split_every, **kwargs)

    def _from_moments(
        self, how: str, numeric_only: bool, split_every: int | None, finish: Callable, *args: Any
    ) -> Any:
        """``mean``/``var``/``std`` from per-partition ``(count, mean, M2)`` merged
        with Chan's formula (no cancellation, unlike sums of squares)."""
        kwargs = {"numeric_only": numeric_only} if isinstance(self._meta, pd.DataFrame) else {}
        meta = emulate(_call_method, self._meta, _method=how, **kwargs)  # errors, early
        moments = self._reduction(
            _moments_chunk,
            _moments_combine,
            _moments_combine,
            None,
            split_every,
            token=f"{how}-moments",
            chunk_kwargs=kwargs,
        )
        dtype = meta.dtype if isinstance(meta, pd.Series) else None
        return map_scalars(_per_column_result, finish, dtype, moments, *args, meta=meta)

    def mean(
        self,
        axis: Any = None,
        skipna: bool = True,
        numeric_only: bool = False,
        split_every: int | None = None,
    ) -> Any:
        """Mean of the values."""
        return self._from_moments("mean", numeric_only, split_every, _moments_mean)

    def var(
        self,
        axis: Any = None,
        skipna: bool = True,
        ddof: int = 1,
        numeric_only: bool = False,
        split_every: int | None = None,
    ) -> Any:
        """Variance of the values (``ddof`` as pandas)."""
        return self._from_moments("var", numeric_only, split_every, _moments_var, ddof, False)

    def std(
        self,
        axis: Any = None,
        skipna: bool = True,
        ddof: int = 1,
        numeric_only: bool = False,
        split_every: int | None = None,
    ) -> Any:
        """Standard deviation of the values (``ddof`` as pandas)."""
        return self._from_moments("std", numeric_only, split_every, _moments_var, ddof, True)

    # -- operators --
    def _binop(self, op: Callable, other: Any, reflect: bool = False) -> Any:
        if isinstance(other, pd.DataFrame | pd.Series) and not isinstance(other, _Frame):
            if len(other) > 0 and isinstance(self._meta, pd.Series):
                raise TypeError(
                    "arithmetic between a taskloom collection and a pandas object with rows "
                    "would misalign partitions; convert it with from_pandas first"
                )
        args = (other, self) if reflect else (self, other)
        return map_partitions(op, *args, token=funcname(op))

    def _unary(self, op: Callable) -> Any:
        return map_partitions(op, self, token=funcname(op))


install_operators(_Frame)
_Frame.__hash__ = object.__hash__  # type: ignore[method-assign]


def _install_named_arithmetic(cls: type) -> None:
    """``add``, ``sub``, ... with pandas' ``fill_value``/``axis``/``level`` arguments."""
    for name in (
        "add",
        "sub",
        "mul",
        "div",
        "truediv",
        "divide",
        "floordiv",
        "mod",
        "pow",
        "radd",
        "rsub",
        "rmul",
        "rdiv",
        "rtruediv",
        "rfloordiv",
        "rmod",
        "rpow",
        "lt",
        "le",
        "gt",
        "ge",
        "eq",
        "ne",
    ):

        def method(self: Any, other: Any, *args: Any, _name: str = name, **kwargs: Any) -> Any:
            return map_partitions(
                _call_method, self, other, *args, _method=_name, token=_name, **kwargs
            )

        method.__name__ = name
        method.__doc__ = f"Element-wise ``{name}``, as pandas' method of that name."
        setattr(cls, name, method)


_install_named_arithmetic(_Frame)


class DataFrame(_Frame):
    """A lazy pandas DataFrame made of partitions along the index.

    Build one with :func:`~taskloom.dataframe.from_pandas`,
    :func:`~taskloom.dataframe.read_csv`, :func:`~taskloom.dataframe.read_parquet`,
    :func:`~taskloom.datasets.timeseries` and others; ``compute()`` returns a pandas
    DataFrame.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> pdf = pd.DataFrame({"x": [1, 2, 3, 4], "y": [1.0, -1.0, 2.0, -2.0]})
    >>> df = dd.from_pandas(pdf, npartitions=2)
    >>> df[df.y > 0].x.sum().compute()
    np.int64(4)
    """

    # A reader's way to read only some columns (set by data sources): selecting
    # columns straight after reading projects them into the reader.
    _source: Callable[[list], DataFrame] | None = None

    @property
    def columns(self) -> pd.Index:
        """The column labels."""
        return self._meta.columns

    @columns.setter
    def columns(self, columns: Any) -> None:
        renamed = self._partitionwise("set_axis", list(columns), axis=1)
        self._layers, self._name, self._meta = renamed._layers, renamed._name, renamed._meta

    @property
    def dtypes(self) -> pd.Series:
        """The dtype of each column."""
        return self._meta.dtypes

    @property
    def ndim(self) -> int:
        return 2

    @property
    def shape(self) -> tuple:
        """``(rows as a lazy Scalar, number of columns)``."""
        rows = self._reduction(len, builtins.sum, builtins.sum, 0, token="len")
        return rows, len(self.columns)

    @property
    def size(self) -> Scalar:
        """Number of values (rows times columns), lazily."""
        return self.shape[0] * len(self.columns)

    @property
    def empty(self) -> bool:
        raise NotImplementedError(
            "checking whether a taskloom DataFrame is empty needs a compute; use len(df) == 0"
        )

    def __iter__(self) -> Any:
        return iter(self.columns)

    def __dir__(self) -> list:
        extra = [c for c in self.columns if isinstance(c, str) and c.isidentifier()]
        return sorted(set(super().__dir__()) | set(extra))

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            columns = self._meta.columns
        except AttributeError:
            raise AttributeError(key) from None
        if key in columns:
            return self[key]
        raise AttributeError(f"'DataFrame' object has no attribute {key!r}")

    def _check_columns(self, keys: Iterable) -> None:
        missing = [k for k in keys if k not in self._meta.columns]
        if missing:
            raise KeyError(
                f"column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
                f"not found; the columns are {list(self._meta.columns)}"
            )

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, Series):
            return map_partitions(operator.getitem, self, key, token="filter")
        if isinstance(key, list | pd.Index | np.ndarray):
            self._check_columns(key)
            if self._source is not None and list(key) != list(self.columns):
                return self._source(list(key))
            # The metadata given, so the name is a token of the parent and the key
            # only: the same selection is the same collection (shared tasks, and a
            # groupby knows its frame's own column given as a Series).
            cols = list(key)
            return map_partitions(
                _select_columns, self, cols, meta=self._meta[cols], token="getitem"
            )
        if isinstance(key, slice):
            return self.loc[key]
        if isinstance(key, Hashable):
            self._check_columns([key])
            frame = self
            if self._source is not None and len(self.columns) > 1:
                frame = self._source([key])
            return map_partitions(
                operator.getitem, frame, key, meta=frame._meta[key], token="getitem"
            )
        raise TypeError(f"cannot index a taskloom DataFrame with {type(key).__name__}")

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, list):
            result = self.assign(**{k: value[c] for k, c in zip(key, value.columns, strict=False)})
        else:
            result = self.assign(**{key: value})
        self._layers, self._name, self._meta = result._layers, result._name, result._meta
        self.divisions = result.divisions

    def __repr__(self) -> str:
        return "\n".join(
            [
                "taskloom DataFrame Structure:",
                self._repr_frame().to_string(max_rows=5),
                self._footer(),
            ]
        )

    def _repr_html_(self) -> str:
        table = self._repr_frame().to_html(max_rows=5)
        return (
            f"<div><strong>taskloom DataFrame Structure:</strong></div>{table}"
            f"<div>{self._footer()}</div>"
        )

    def _repr_frame(self) -> pd.DataFrame:
        divisions = self._repr_divisions()
        rows = [[str(d) for d in self.dtypes]] + [["..."] * len(self.columns)] * self.npartitions
        index = pd.Index(divisions, name=f"npartitions={self.npartitions}")
        return pd.DataFrame(rows, index=index, columns=self.columns)

    # -- selection and changes --
    def assign(self, **kwargs: Any) -> DataFrame:
        """New columns from scalars, callables of the frame, or aligned series."""
        names = list(kwargs)
        values = list(kwargs.values())
        for name, v in kwargs.items():
            if isinstance(v, DataFrame):
                raise TypeError(f"assign({name}=...) needs a Series or a scalar, not a DataFrame")
        return map_partitions(_assign, self, names, *values, token="assign")

    def drop(
        self, labels: Any = None, axis: Any = 0, columns: Any = None, errors: str = "raise"
    ) -> DataFrame:
        """Drop columns (``columns=`` or ``labels`` with ``axis=1``)."""
        if columns is None:
            if axis not in (1, "columns"):
                raise NotImplementedError("drop only drops columns; pass columns= or axis=1")
            columns = labels
        cols = (
            [columns]
            if isinstance(columns, str) or not isinstance(columns, Iterable)
            else list(columns)
        )
        if errors == "raise":
            self._check_columns(cols)
        return self._partitionwise("drop", columns=cols, errors=errors)

    def rename(self, index: Any = None, columns: Any = None, **kwargs: Any) -> DataFrame:
        """Rename columns (``columns=`` a mapping or function)."""
        if index is not None:
            return self._partitionwise(
                "rename", index=index, columns=columns, clear_divisions=True, **kwargs
            )
        return self._partitionwise("rename", columns=columns, **kwargs)

    def query(self, expr: str, **kwargs: Any) -> DataFrame:
        """Rows for which the pandas expression ``expr`` holds."""
        return self._partitionwise("query", expr, **kwargs)

    def eval(self, expr: str, **kwargs: Any) -> Any:
        """Evaluate a pandas expression on each partition."""
        if kwargs.get("inplace"):
            raise NotImplementedError("eval(inplace=True): collections are immutable")
        return self._partitionwise("eval", expr, **kwargs)

    def dropna(self, how: str | None = None, subset: Any = None, thresh: Any = None) -> DataFrame:
        """Rows without missing values (``how``, ``subset``, ``thresh`` as pandas)."""
        if subset is not None:
            self._check_columns([subset] if isinstance(subset, str) else subset)
        kwargs: dict = {"subset": subset}
        if how is not None:
            kwargs["how"] = how
        if thresh is not None:
            kwargs["thresh"] = thresh
        return self._partitionwise("dropna", **kwargs)

    def select_dtypes(self, include: Any = None, exclude: Any = None) -> DataFrame:
        """The columns of the given dtypes."""
        return self._partitionwise("select_dtypes", include=include, exclude=exclude)

    def apply(
        self, func: Callable, axis: Any = 0, args: tuple = (), meta: Any = no_default, **kwargs: Any
    ) -> Any:
        """``func`` applied to each row (``axis=1``; columns would need whole columns)."""
        if axis not in (1, "columns"):
            raise NotImplementedError(
                "taskloom DataFrame.apply supports axis=1 only (rows are split across "
                "partitions); use map_partitions for column-wise work"
            )
        return map_partitions(
            _call_method,
            self,
            func,
            _method="apply",
            axis=1,
            args=args,
            meta=meta,
            token="apply",
            **kwargs,
        )

    def set_index(
        self,
        other: Any,
        drop: bool = True,
        sorted: bool = False,
        npartitions: int | None = None,
        divisions: Sequence | None = None,
        **kwargs: Any,
    ) -> DataFrame:
        """Make a column the index, sorting the rows across partitions (divisions known).

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> pdf = pd.DataFrame({"k": [3, 1, 2, 5, 4], "v": list("abcde")})
        >>> dd.from_pandas(pdf, npartitions=2).set_index("k").v.compute().tolist()
        ['b', 'c', 'a', 'e', 'd']
        """
        from taskloom.dataframe.shuffle import set_index

        return set_index(
            self,
            other,
            drop=drop,
            sorted=sorted,
            npartitions=npartitions,
            divisions=divisions,
            **kwargs,
        )

    def reset_index(self, drop: bool = False) -> DataFrame:
        """A default integer index (restarting at 0 in each partition, as in Dask)."""
        return self._partitionwise("reset_index", drop=drop, clear_divisions=True)

    def sort_values(
        self,
        by: Any,
        ascending: bool = True,
        npartitions: int | None = None,
        na_position: str = "last",
        **kwargs: Any,
    ) -> DataFrame:
        """Rows sorted by column(s) ``by``, across partitions."""
        from taskloom.dataframe.shuffle import sort_values

        return sort_values(
            self,
            by,
            ascending=ascending,
            npartitions=npartitions,
            na_position=na_position,
            **kwargs,
        )

    def merge(
        self,
        right: Any,
        how: str = "inner",
        on: Any = None,
        left_on: Any = None,
        right_on: Any = None,
        left_index: bool = False,
        right_index: bool = False,
        suffixes: tuple = ("_x", "_y"),
        npartitions: int | None = None,
        **kwargs: Any,
    ) -> DataFrame:
        """A database-style join, as pandas' ``merge``; see :func:`taskloom.dataframe.merge`."""
        from taskloom.dataframe.multi import merge

        return merge(
            self,
            right,
            how=how,
            on=on,
            left_on=left_on,
            right_on=right_on,
            left_index=left_index,
            right_index=right_index,
            suffixes=suffixes,
            npartitions=npartitions,
            **kwargs,
        )

    def join(
        self,
        other: Any,
        on: Any = None,
        how: str = "left",
        lsuffix: str = "",
        rsuffix: str = "",
        npartitions: int | None = None,
    ) -> DataFrame:
        """Join columns of ``other`` on the index (or ``on`` columns of this frame)."""
        from taskloom.dataframe.multi import merge

        if isinstance(other, Series):
            other = other.to_frame()
        return merge(
            self,
            other,
            how=how,
            left_on=on,
            left_index=on is None,
            right_index=True,
            suffixes=(lsuffix, rsuffix),
            npartitions=npartitions,
        )

    def drop_duplicates(
        self,
        subset: Any = None,
        keep: str = "first",
        split_every: int | None = None,
        split_out: int = 1,
        ignore_index: bool = False,
    ) -> DataFrame:
        """Rows that are not duplicates of an earlier row (tree reduction)."""
        from taskloom.dataframe.shuffle import drop_duplicates

        if subset is not None:
            self._check_columns([subset] if isinstance(subset, str) else subset)
        return drop_duplicates(
            self,
            subset=subset,
            keep=keep,
            split_every=split_every,
            split_out=split_out,
            ignore_index=ignore_index,
        )

    def groupby(
        self,
        by: Any = None,
        level: Any = None,
        sort: bool = True,
        dropna: bool = True,
        observed: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Group rows by column(s) or an aligned series; see :mod:`taskloom.dataframe.groupby`.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> pdf = pd.DataFrame({"k": list("abab"), "x": [1, 2, 3, 4]})
        >>> dd.from_pandas(pdf, npartitions=2).groupby("k").x.sum().compute().tolist()
        [4, 6]
        """
        from taskloom.dataframe.groupby import DataFrameGroupBy

        return DataFrameGroupBy(
            self, by, level=level, sort=sort, dropna=dropna, observed=observed, **kwargs
        )

    def nunique(self, dropna: bool = True, split_every: int | None = None) -> Series:
        """The number of distinct values in each column."""
        counts = [self[c].nunique(dropna=dropna, split_every=split_every) for c in self.columns]
        meta = self._meta.nunique()
        return map_scalars(_series_of, list(self.columns), *counts, meta=meta)

    def describe(
        self, percentiles: Sequence | None = None, split_every: int | None = None, **kwargs: Any
    ) -> DataFrame:
        """Count, mean, std, min, quantiles (see :meth:`Series.quantile`) and max of
        the numeric columns."""
        numeric = [
            c
            for c, dt in self.dtypes.items()
            if pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt)
        ]
        if not numeric:
            raise NotImplementedError("describe of a frame without numeric columns")
        parts = [
            self[c].describe(percentiles=percentiles, split_every=split_every) for c in numeric
        ]
        meta = self._meta_nonempty[numeric].describe(percentiles=percentiles).iloc[:0]
        return map_scalars(_describe_frame, numeric, *parts, meta=meta)

    def quantile(
        self, q: Any = 0.5, numeric_only: bool = True, split_every: int | None = None
    ) -> Any:
        """Quantile(s) ``q`` of each numeric column, as pandas (see
        :meth:`Series.quantile`): a Series named ``q`` for a scalar ``q``, else a frame
        indexed by ``q``.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> pdf = pd.DataFrame({"a": range(10), "b": [1.0] * 10})
        >>> dd.from_pandas(pdf, npartitions=3).quantile(0.5).compute().tolist()
        [4.5, 1.0]
        """
        if not numeric_only:
            raise NotImplementedError("quantile(numeric_only=False) is not supported")
        check_quantiles(q)
        numeric = [
            c
            for c, dt in self.dtypes.items()
            if pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt)
        ]
        parts = [self[c].quantile(q, split_every=split_every) for c in numeric]
        meta = self._meta_nonempty[numeric].quantile(q)
        meta = make_meta(meta) if isinstance(meta, pd.DataFrame | pd.Series) else meta
        return map_scalars(_quantile_frame, numeric, q, *parts, meta=meta)

    def to_csv(self, path: Any, **kwargs: Any) -> Any:
        """Write CSV files; see :func:`taskloom.dataframe.to_csv`."""
        from taskloom.dataframe.io import to_csv

        return to_csv(self, path, **kwargs)

    def to_parquet(self, path: Any, **kwargs: Any) -> Any:
        """Write a Parquet dataset; see :func:`taskloom.dataframe.to_parquet`."""
        from taskloom.dataframe.io import to_parquet

        return to_parquet(self, path, **kwargs)

    def corr(
        self,
        method: str = "pearson",
        min_periods: int | None = None,
        numeric_only: bool = False,
        split_every: Any = False,
    ) -> DataFrame:
        """Pearson correlation of the columns (pairwise complete rows, as pandas)."""
        from taskloom.dataframe import methods_stats

        return methods_stats.corr(self, method, min_periods, numeric_only, split_every)

    def cov(
        self, min_periods: int | None = None, numeric_only: bool = False, split_every: Any = False
    ) -> DataFrame:
        """Covariance of the columns (pairwise complete rows, as pandas)."""
        from taskloom.dataframe import methods_stats

        return methods_stats.cov(self, min_periods, numeric_only, split_every)

    def mode(
        self, dropna: bool = True, split_every: Any = False, numeric_only: bool = False
    ) -> DataFrame:
        """Each column's modes, padded with missing values, as pandas."""
        from taskloom.dataframe import methods_stats

        return methods_stats.frame_mode(self, dropna, split_every, numeric_only)

    def nlargest(
        self, n: int = 5, columns: Any = None, split_every: int | None = None
    ) -> DataFrame:
        """The ``n`` rows with the largest ``columns``."""
        from taskloom.dataframe import methods_stats

        return methods_stats.nlargest(self, n=n, columns=columns, split_every=split_every)

    def nsmallest(
        self, n: int = 5, columns: Any = None, split_every: int | None = None
    ) -> DataFrame:
        """The ``n`` rows with the smallest ``columns``."""
        from taskloom.dataframe import methods_stats

        return methods_stats.nsmallest(self, n=n, columns=columns, split_every=split_every)

    def memory_usage(self, deep: bool = False, index: bool = True) -> Series:
        """Bytes per column (and index), summed over partitions."""
        from taskloom.dataframe import methods_stats

        return methods_stats.memory_usage(self, deep, index)

    def shuffle(
        self,
        on: Any = no_default,
        ignore_index: bool = False,
        npartitions: int | None = None,
        shuffle_method: str | None = None,
        on_index: bool = False,
        force: bool = False,
        **options: Any,
    ) -> DataFrame:
        """Rows with equal ``on`` values (or index values, ``on_index``) gathered in
        one partition by a hash shuffle; divisions become unknown."""
        from taskloom.dataframe import methods_reshape

        on = None if on is no_default else on
        return methods_reshape.shuffle(self, on, ignore_index, npartitions, on_index)

    def info(self, buf: Any = None, verbose: bool = False, memory_usage: bool = False) -> None:
        """A summary of the frame written to ``buf`` (stdout by default), as Dask:
        columns and dtypes; with ``verbose`` the row count and non-missing counts, with
        ``memory_usage`` the bytes used (both computed)."""
        from taskloom.dataframe import methods_convert

        methods_convert.info(self, buf, verbose, memory_usage)

    @classmethod
    def from_dict(
        cls,
        data: dict,
        *,
        npartitions: int = 1,
        orient: str = "columns",
        dtype: Any = None,
        columns: Any = None,
    ) -> DataFrame:
        """A DataFrame from a dict, as :func:`taskloom.dataframe.from_dict`.

        Examples
        --------
        >>> import taskloom.dataframe as dd
        >>> dd.DataFrame.from_dict({"a": [1, 2, 3]}, npartitions=2).npartitions
        2
        """
        from taskloom.dataframe.io import from_dict

        return from_dict(data, npartitions, orient=orient, dtype=dtype, columns=columns)

    def pivot_table(
        self, index: Any, columns: Any, values: Any, aggfunc: str = "mean"
    ) -> DataFrame:
        """A pivot table over a categorical ``columns`` with known categories, as Dask."""
        from taskloom.dataframe import methods_reshape

        return methods_reshape.pivot_table(self, index, columns, values, aggfunc)

    def to_records(self, index: bool = False, lengths: Any = None) -> Any:
        """The rows as a 1-d Array of numpy records, one block per partition."""
        from taskloom.dataframe import methods_convert

        return methods_convert.to_records(self, index, lengths)

    def iterrows(self) -> Any:
        """``(index, row)`` pairs, one partition computed at a time."""
        from taskloom.dataframe import methods_convert

        return methods_convert.iterrows(self)

    def itertuples(self, index: bool = True, name: str | None = "Pandas") -> Any:
        """Rows as named tuples, one partition computed at a time."""
        from taskloom.dataframe import methods_convert

        return methods_convert.itertuples(self, index, name)

    def explode(self, column: Any) -> DataFrame:
        """Each list-like element of ``column`` on a row of its own."""
        from taskloom.dataframe import methods_reshape

        return methods_reshape.explode(self, column)

    def melt(
        self,
        id_vars: Any = None,
        value_vars: Any = None,
        var_name: Any = None,
        value_name: str = "value",
        col_level: Any = None,
    ) -> DataFrame:
        """Columns unpivoted into variable/value rows, per partition (as Dask)."""
        from taskloom.dataframe import methods_reshape

        return methods_reshape.melt(self, id_vars, value_vars, var_name, value_name, col_level)

    @property
    def iloc(self) -> Any:
        """``iloc[:, cols]``: columns by position."""
        from taskloom.dataframe import methods_reshape

        return methods_reshape.iloc(self)

    def categorize(
        self, columns: Any = None, index: Any = None, split_every: int | None = None, **kwargs: Any
    ) -> DataFrame:
        """String/object columns (and unknown categoricals) cast to categoricals whose
        categories are computed now, as Dask."""
        from taskloom.dataframe import methods_reshape

        return methods_reshape.categorize(self, columns, index, split_every, **kwargs)

    def squeeze(self, axis: Any = None) -> Any:
        """A one-column frame as a Series."""
        from taskloom.dataframe import methods_reshape

        return methods_reshape.squeeze(self, axis)

    def pop(self, item: Any) -> Series:
        """Column ``item``, removed from this frame (in place, as pandas).

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> df = dd.from_pandas(pd.DataFrame({"a": [1], "b": [2]}), npartitions=1)
        >>> df.pop("a").compute().tolist(), list(df.columns)
        ([1], ['b'])
        """
        out = self[item]
        rest = self.drop(columns=[item])
        self._layers, self._name, self._meta = rest._layers, rest._name, rest._meta
        return out

    def rename_axis(
        self,
        mapper: Any = no_default,
        index: Any = no_default,
        columns: Any = no_default,
        axis: Any = 0,
    ) -> DataFrame:
        """Names of the index or columns axis set, as pandas."""
        kwargs = {
            k: v
            for k, v in {"mapper": mapper, "index": index, "columns": columns}.items()
            if v is not no_default
        }
        return self._partitionwise("rename_axis", axis=axis, **kwargs)

    def to_html(self, max_rows: int = 5) -> str:
        """The structure (dtypes and divisions) as HTML, as Dask."""
        return self._repr_frame().to_html(max_rows=max_rows)

    def items(self) -> Any:
        """``(column, Series)`` pairs."""
        for c in self.columns:
            yield c, self[c]


class Series(_Frame):
    """A lazy pandas Series made of partitions along the index.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series([3.0, 1.0, 2.0], name="x"), npartitions=2)
    >>> (s * 2).max().compute()
    np.float64(6.0)
    """

    @property
    def name(self) -> Any:
        return self._meta.name

    @property
    def dtype(self) -> Any:
        return self._meta.dtype

    @property
    def ndim(self) -> int:
        return 1

    @property
    def shape(self) -> tuple:
        """``(rows as a lazy Scalar,)``."""
        return (self._reduction(len, builtins.sum, builtins.sum, 0, token="len"),)

    @property
    def str(self) -> _Accessor:
        """String methods, as pandas' ``Series.str``."""
        return _Accessor(self, "str")

    @property
    def dt(self) -> _Accessor:
        """Datetime properties and methods, as pandas' ``Series.dt``."""
        return _Accessor(self, "dt")

    @property
    def cat(self) -> _Accessor:
        """Categorical properties and methods, as pandas' ``Series.cat``."""
        return _Accessor(self, "cat")

    def __repr__(self) -> str:
        values = [str(self.dtype)] + ["..."] * self.npartitions
        body = pd.Series(values, index=self._repr_divisions()).to_string(max_rows=5)
        return "\n".join(
            [
                f"taskloom {type(self).__name__} Structure:",
                f"npartitions={self.npartitions}",
                body,
                f"Name: {self.name}, dtype: {self.dtype}",
                self._footer(),
            ]
        )

    def __getitem__(self, key: Any) -> Series:
        if isinstance(key, Series):
            return map_partitions(operator.getitem, self, key, token="filter")
        if isinstance(key, slice):
            return self.loc[key]
        raise NotImplementedError(
            "Series[label] would need to search every partition; use .loc[label]"
        )

    def rename(self, index: Any = None, **kwargs: Any) -> Series:
        """A new name (scalar ``index``), or relabelled index values (clears divisions)."""
        if index is None or np.isscalar(index) or isinstance(index, tuple):
            return self._partitionwise("rename", index, **kwargs)
        return self._partitionwise("rename", index, clear_divisions=True, **kwargs)

    def to_frame(self, name: Any = no_default) -> DataFrame:
        """This series as a one-column frame."""
        if name is no_default:
            return self._partitionwise("to_frame")
        return self._partitionwise("to_frame", name=name)

    def reset_index(self, drop: bool = False, name: Any = no_default) -> Any:
        """A default integer index (restarting at 0 in each partition, as in Dask)."""
        kwargs = {} if name is no_default else {"name": name}
        return self._partitionwise("reset_index", drop=drop, clear_divisions=True, **kwargs)

    def map(self, arg: Any, na_action: Any = None, meta: Any = no_default) -> Series:
        """Element-wise mapping through a function, dict or Series."""
        return self._partitionwise("map", arg, na_action=na_action, meta=meta)

    def apply(
        self, func: Callable, args: tuple = (), meta: Any = no_default, **kwargs: Any
    ) -> Series:
        """``func`` applied to each value."""
        return self._partitionwise("apply", func, args=args, meta=meta, **kwargs)

    def between(self, left: Any, right: Any, inclusive: str = "both") -> Series:
        """Element-wise ``left <= x <= right`` (``inclusive`` as pandas)."""
        return self._partitionwise("between", left, right, inclusive=inclusive)

    def dropna(self) -> Series:
        """The values that are not missing."""
        return self._partitionwise("dropna")

    def groupby(
        self,
        by: Any = None,
        level: Any = None,
        sort: bool = True,
        dropna: bool = True,
        observed: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Group values by an aligned series or the index level."""
        from taskloom.dataframe.groupby import SeriesGroupBy

        return SeriesGroupBy(
            self, by, level=level, sort=sort, dropna=dropna, observed=observed, **kwargs
        )

    def sort_values(
        self, ascending: bool = True, npartitions: int | None = None, na_position: str = "last"
    ) -> Series:
        """The values sorted, across partitions."""
        from taskloom.dataframe.shuffle import sort_values

        return sort_values(
            self,
            self.name,
            ascending=ascending,
            npartitions=npartitions,
            na_position=na_position,
        )

    def value_counts(
        self,
        sort: bool = True,
        ascending: bool = False,
        dropna: bool = True,
        normalize: bool = False,
        split_every: int | None = None,
        split_out: int = 1,
    ) -> Series:
        """How often each value occurs (tree reduction of per-partition counts)."""
        meta = self._meta_nonempty.value_counts(normalize=normalize).iloc[:0]
        return self._reduction(
            _value_counts_chunk,
            _value_counts_combine,
            partial(_value_counts_aggregate, sort, ascending, normalize),
            meta,
            split_every,
            token="value-counts",
            chunk_kwargs={"dropna": dropna},
        )

    def unique(self, split_every: int | None = None) -> Series:
        """The distinct values, in order of first appearance, as a series."""
        meta = _unique_chunk(self._meta)
        return self._reduction(
            _unique_chunk, _unique_combine, _unique_combine, meta, split_every, token="unique"
        )

    def drop_duplicates(
        self,
        keep: str = "first",
        split_every: int | None = None,
        split_out: int = 1,
        ignore_index: bool = False,
    ) -> Series:
        """Values that are not duplicates of an earlier one (tree reduction)."""
        from taskloom.dataframe.shuffle import drop_duplicates

        return drop_duplicates(
            self, keep=keep, split_every=split_every, split_out=split_out, ignore_index=ignore_index
        )

    def corr(
        self,
        other: Series,
        method: str = "pearson",
        min_periods: int | None = None,
        split_every: Any = False,
    ) -> Scalar:
        """Pearson correlation with ``other`` over the rows where both are present.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> a = dd.from_pandas(pd.Series([1.0, 2.0, 3.0]), npartitions=2)
        >>> float(a.corr(a * 2).compute())
        1.0
        """
        from taskloom.dataframe import methods_stats

        return methods_stats.series_comoment(self, other, True, method, min_periods, split_every)

    def cov(
        self, other: Series, min_periods: int | None = None, split_every: Any = False
    ) -> Scalar:
        """Covariance with ``other`` over the rows where both are present."""
        from taskloom.dataframe import methods_stats

        return methods_stats.series_comoment(
            self, other, False, "pearson", min_periods, split_every
        )

    def autocorr(self, lag: int = 1, split_every: Any = False) -> Scalar:
        """Correlation with itself ``lag`` rows earlier."""
        if not isinstance(lag, int) or isinstance(lag, bool):
            raise TypeError(f"lag must be an int, got {lag!r}")
        return self.corr(self.shift(lag), split_every=split_every)

    def mode(self, dropna: bool = True, split_every: Any = False) -> Series:
        """The most frequent values, sorted."""
        from taskloom.dataframe import methods_stats

        return methods_stats.mode(self, dropna, split_every)

    def nlargest(self, n: int = 5, split_every: int | None = None) -> Series:
        """The ``n`` largest values."""
        from taskloom.dataframe import methods_stats

        return methods_stats.nlargest(self, n=n, split_every=split_every)

    def nsmallest(self, n: int = 5, split_every: int | None = None) -> Series:
        """The ``n`` smallest values."""
        from taskloom.dataframe import methods_stats

        return methods_stats.nsmallest(self, n=n, split_every=split_every)

    def memory_usage(self, deep: bool = False, index: bool = True) -> Scalar:
        """Bytes of the values (and each partition's index), summed."""
        from taskloom.dataframe import methods_stats

        return methods_stats.memory_usage(self, deep, index)

    @property
    def size(self) -> Scalar:
        """Number of values, lazily."""
        from taskloom.dataframe import methods_stats

        return methods_stats.size(self)

    @property
    def nbytes(self) -> Scalar:
        """Bytes of the values, lazily."""
        from taskloom.dataframe import methods_stats

        return methods_stats.nbytes(self)

    @property
    def is_monotonic_increasing(self) -> Scalar:
        """Whether the values never decrease, as a lazy bool."""
        from taskloom.dataframe import methods_stats

        return methods_stats.is_monotonic(self, True)

    @property
    def is_monotonic_decreasing(self) -> Scalar:
        """Whether the values never increase, as a lazy bool."""
        from taskloom.dataframe import methods_stats

        return methods_stats.is_monotonic(self, False)

    def explode(self) -> Series:
        """Each list-like element on a row of its own."""
        from taskloom.dataframe import methods_reshape

        return methods_reshape.explode(self)

    def median(self) -> Scalar:
        """Exact median; as Dask, only of one partition (see :meth:`median_approximate`)."""
        from taskloom.dataframe import methods_stats

        return methods_stats.median(self)

    def median_approximate(self, method: str = "default") -> Scalar:
        """The median from the approximate quantile algorithm (see :meth:`quantile`)."""
        return self.quantile(0.5, method=method)

    def nunique_approx(self, split_every: int | None = None) -> Scalar:
        """Number of distinct values; exact here (Dask's HyperLogLog estimate is within
        a few percent of it)."""
        return self.nunique(dropna=False, split_every=split_every)

    def nunique(self, dropna: bool = True, split_every: int | None = None) -> Scalar:
        """The number of distinct values."""
        uniques = self._reduction(
            _unique_chunk,
            _unique_combine,
            _unique_combine,
            self._meta,
            split_every,
            token="nunique-values",
        )
        return map_scalars(_nunique_of, uniques, dropna, meta=np.int64(0))

    def quantile(
        self, q: Any = 0.5, method: str = "default", split_every: int | None = None
    ) -> Any:
        """Quantile(s) ``q`` of the values, interpolated linearly as pandas does.

        Exact (pandas' own result) while the values fit in one sketch of
        :data:`~taskloom.dataframe._quantile.EXACT_LIMIT` values, approximate beyond
        (merged per-partition order statistics, as Dask); see
        :mod:`taskloom.dataframe._quantile`.

        Parameters
        ----------
        q : float or list of float
            Quantiles in ``[0, 1]``.
        method : str
            Accepted for Dask compatibility (``'default'``, ``'dask'``, ``'tdigest'``):
            every method is the one above.
        split_every : int, optional
            Partials merged per task of the tree reduction.

        Returns
        -------
        Scalar or Series
            A lazy float for a scalar ``q``, else a Series indexed by ``q``.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> s = dd.from_pandas(pd.Series(range(100), name="w"), npartitions=3)
        >>> s.quantile(0.5).compute()
        np.float64(49.5)
        >>> s.quantile([0.25, 0.75]).compute().tolist()
        [24.75, 74.25]
        """
        if method not in ("default", "dask", "tdigest"):
            raise ValueError(f"method must be 'default', 'dask' or 'tdigest', got {method!r}")
        check_quantiles(q)
        sample = self._meta_nonempty
        if isinstance(sample, pd.Index):
            sample = sample.to_series(index=pd.RangeIndex(len(sample)))
        quantile_chunk(sample)  # raises for a dtype without quantiles, early
        meta = sample.quantile(q)
        if isinstance(meta, pd.Series):
            meta = make_meta(meta)
        elif isinstance(meta, float | int | np.number):
            meta = np.float64(meta)
        return self._reduction(
            quantile_chunk,
            quantile_combine,
            partial(quantile_aggregate, q, self.name),
            meta,
            split_every,
            token="quantile",
        )

    def describe(
        self, percentiles: Sequence | None = None, split_every: int | None = None, **kwargs: Any
    ) -> Series:
        """Count, mean, std, min, quantiles (see :meth:`quantile`) and max."""
        ps = [0.25, 0.5, 0.75] if percentiles is None else sorted(set(percentiles) | {0.5})
        parts = [
            self.count(split_every=split_every),
            self.mean(split_every=split_every),
            self.std(split_every=split_every),
            self.min(split_every=split_every),
            self.quantile(ps, split_every=split_every),
            self.max(split_every=split_every),
        ]
        meta = self._meta_nonempty.describe(percentiles=percentiles).iloc[:0]
        return map_scalars(_describe_series, self.name, ps, *parts, meta=meta)

    def to_csv(self, path: Any, **kwargs: Any) -> Any:
        """Write CSV files; see :func:`taskloom.dataframe.to_csv`."""
        from taskloom.dataframe.io import to_csv

        return to_csv(self.to_frame(), path, **kwargs)

    def __iter__(self) -> Any:
        for part in self.to_delayed():
            yield from part.compute()


class _NotOnIndex:
    """A Series method that pandas' Index does not have: ``hasattr`` is false."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        raise AttributeError(f"'Index' object has no attribute {self.name!r}")


class Index(Series):
    """A lazy pandas Index, the index of a dataframe's partitions.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> dd.from_pandas(pd.DataFrame({"x": [1, 2]}), npartitions=1).index.compute().tolist()
    [0, 1]
    """

    @property
    def name(self) -> Any:
        return self._meta.name

    @property
    def index(self) -> Index:
        raise AttributeError("an Index has no index")

    def to_series(self) -> Series:
        """The index values as a series indexed by themselves."""
        return self._partitionwise("to_series")

    def to_frame(self, index: bool = True, name: Any = no_default) -> DataFrame:
        """The index values as a one-column frame."""
        kwargs = {} if name is no_default else {"name": name}
        return self._partitionwise("to_frame", index=index, **kwargs)

    # Reductions take pandas' Index arguments: no ``numeric_only``, and ``any``/``all``
    # no ``skipna``.
    def min(self, axis: Any = None, skipna: bool = True, split_every: int | None = None) -> Any:
        """Smallest index value.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> df = dd.from_pandas(pd.DataFrame({"x": [1, 2, 3]}, index=[5, 1, 9]), npartitions=2)
        >>> df.index.min().compute(), df.index.max().compute()
        (np.int64(1), np.int64(9))
        """
        return self._stat("min", split_every, skipna=skipna)

    def max(self, axis: Any = None, skipna: bool = True, split_every: int | None = None) -> Any:
        """Largest index value."""
        return self._stat("max", split_every, skipna=skipna)

    def any(self, axis: Any = None, skipna: bool = True, split_every: int | None = None) -> Any:
        """Whether any index value is true."""
        return self._stat("any", split_every)

    def all(self, axis: Any = None, skipna: bool = True, split_every: int | None = None) -> Any:
        """Whether every index value is true."""
        return self._stat("all", split_every)

    def count(self, split_every: int | None = None) -> Scalar:
        """Number of index values that are not missing (as Dask; pandas' Index has no
        ``count``).

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> pdf = pd.DataFrame({"x": [1, 2, 3]}, index=pd.Index([1.0, None, 3.0]))
        >>> dd.from_pandas(pdf, npartitions=2).index.count().compute()
        np.int64(2)
        """
        return self._reduction(
            _count_present, builtins.sum, builtins.sum, np.int64(0), split_every, token="count"
        )

    # pandas' Index has none of these (Dask's fails when called).
    sum = _NotOnIndex()
    prod = _NotOnIndex()
    product = _NotOnIndex()
    mean = _NotOnIndex()
    var = _NotOnIndex()
    std = _NotOnIndex()
    sample = _NotOnIndex()

    def apply(self, func: Callable, args: tuple = (), meta: Any = no_default, **kwargs: Any) -> Any:
        """Not on an Index: pandas' Index has no ``apply`` (Dask's fails too); use
        :meth:`map`."""
        raise NotImplementedError("an Index has no apply (as pandas' Index); use Index.map")


register_collection_type(pd.DataFrame, DataFrame)
register_collection_type(pd.Series, Series)
register_collection_type(pd.Index, Index)


# --- indexers and accessors ---------------------------------------------------------


class _PartitionIndexer:
    __slots__ = ("_frame",)

    def __init__(self, frame: _Frame) -> None:
        self._frame = frame

    def __getitem__(self, index: Any) -> Any:
        f = self._frame
        n = f.npartitions
        if isinstance(index, int | np.integer):
            if not -n <= index < n:
                raise IndexError(f"partition {index} out of range for {n} partitions")
            picks = [int(index) % n]
        elif isinstance(index, slice):
            picks = list(builtins.range(n))[index]
        else:
            picks = [int(i) for i in index]
            bad = [i for i in picks if not -n <= i < n]
            if bad:
                raise IndexError(f"partitions {bad} out of range for {n} partitions")
            picks = [i % n for i in picks]
        if not picks:
            raise IndexError(f"partitions[{index!r}] selects no partition")
        name = f"partitions-{tokenize(f._name, picks)}"
        layer = {(name, j): (f._name, i) for j, i in enumerate(picks)}
        if f.known_divisions and picks == list(builtins.range(picks[0], picks[-1] + 1)):
            divisions = f.divisions[picks[0] : picks[-1] + 2]
        else:
            divisions = (None,) * (len(picks) + 1)
        return new_collection({**f._layers, name: layer}, name, f._meta, divisions)


class _LocIndexer:
    __slots__ = ("_frame",)

    def __init__(self, frame: _Frame) -> None:
        self._frame = frame

    def __getitem__(self, key: Any) -> Any:
        f = self._frame
        if isinstance(key, tuple) and len(key) == 2 and isinstance(f, DataFrame):
            rows, cols = key
            if not (isinstance(rows, slice) and rows == slice(None)):
                f = f.loc[rows]
            return f[cols]
        if isinstance(key, Series):
            return map_partitions(operator.getitem, f, key, token="loc-filter")
        if isinstance(key, slice):
            return _loc_slice(f, key)
        if isinstance(key, list | np.ndarray | pd.Index):
            return map_partitions(_loc_labels, f, list(key), token="loc")
        return _loc_slice(f, slice(key, key), single=True)


def _loc_slice(f: _Frame, key: slice, single: bool = False) -> Any:
    if key.step is not None:
        raise NotImplementedError("loc slices with a step are not supported")
    start, stop = key.start, key.stop
    if not f.known_divisions:
        return map_partitions(_loc_range, f, start, stop, token="loc")
    divs = f.divisions
    n = f.npartitions
    if isinstance(divs[0], pd.Timestamp | np.datetime64):
        start = None if start is None else _as_bound(start, divs[0])
        stop = None if stop is None else _as_bound(stop, divs[0], end=True)
    lo = 0 if start is None else builtins.max(0, int(np.searchsorted(divs, start, "right")) - 1)
    # start == the last division: that value is in the last partition (closed on the right).
    lo = builtins.min(lo, n - 1)
    # stop == a division: rows with that value start the partition at that division.
    hi = (
        n - 1
        if stop is None
        else builtins.min(n - 1, builtins.max(0, int(np.searchsorted(divs, stop, "right")) - 1))
    )
    if (stop is not None and stop < divs[0]) or (start is not None and start > divs[-1]):
        lo, hi = 0, 0
    hi = builtins.max(hi, lo)
    picked = f.partitions[lo : hi + 1]
    result = map_partitions(_loc_range, picked, key.start, key.stop, token="loc")
    new_divs = list(picked.divisions)
    if start is not None and start > new_divs[0]:
        new_divs[0] = start
    if stop is not None and stop < new_divs[-1]:
        new_divs[-1] = stop
    result.divisions = tuple(new_divs)
    return result


def _as_bound(value: Any, like: Any, end: bool = False) -> Any:
    """A label for a datetime index bound; a partial date string such as ``'2000-01-02'``
    as an end bound covers that whole day, as in pandas."""
    ts = pd.Timestamp(value)
    if end and isinstance(value, str):
        try:
            period = pd.Period(value)
            ts = period.end_time
        except (ValueError, TypeError):
            pass
    return ts.tz_localize(like.tz) if getattr(like, "tz", None) and ts.tz is None else ts


_CAT_META_NAMES = ("known", "as_known", "as_unknown", "categories", "ordered")
_DT_DASK_ONLY = ("week", "weekofyear")


class _Accessor:
    __slots__ = ("_attr", "_series")

    def __init__(self, series: Series, attr: str) -> None:
        meta = series._meta_nonempty
        try:
            getattr(meta, attr)
        except AttributeError as e:
            raise AttributeError(f"{e} (dtype {series.dtype})") from None
        self._series, self._attr = series, attr

    def __dir__(self) -> list:
        return dir(getattr(self._series._meta_nonempty, self._attr))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._attr == "cat" and name in _CAT_META_NAMES:
            # Dask's unknown categories live in the metadata, not in pandas.
            from taskloom.dataframe import methods_reshape

            if name == "known":
                return methods_reshape.has_known_categories(self._series._meta)
            if name in ("categories", "ordered"):
                return methods_reshape.categories_attribute(self._series, name)
            return partial(getattr(methods_reshape, name), self._series)
        if self._attr == "dt" and name in _DT_DASK_ONLY:
            from taskloom.dataframe import methods_reshape

            return methods_reshape.week(self._series)
        sample = getattr(getattr(self._series._meta_nonempty, self._attr), name)
        if callable(sample):

            def method(*args: Any, **kwargs: Any) -> Any:
                return map_partitions(
                    _call_accessor,
                    self._series,
                    self._attr,
                    name,
                    True,
                    args,
                    kwargs,
                    token=f"{self._attr}-{name}",
                )

            method.__name__ = name
            method.__doc__ = f"``Series.{self._attr}.{name}`` on each partition."
            return method
        return map_partitions(
            _call_accessor,
            self._series,
            self._attr,
            name,
            False,
            (),
            {},
            token=f"{self._attr}-{name}",
        )


# --- partition functions ------------------------------------------------------------


def _call_method(part: Any, *args: Any, _method: str, **kwargs: Any) -> Any:
    return getattr(part, _method)(*args, **kwargs)


def _call_accessor(part: Any, attr: str, name: str, call: bool, args: tuple, kwargs: dict) -> Any:
    value = getattr(getattr(part, attr), name)
    return value(*args, **kwargs) if call else value


def _get_index(part: Any) -> pd.Index:
    return part.index


def _head(part: Any, n: int) -> Any:
    return part[:n] if isinstance(part, pd.Index) else part.head(n)


def _tail(part: Any, n: int) -> Any:
    if isinstance(part, pd.Index):
        return part[builtins.max(len(part) - n, 0) :]
    return part.tail(n)


def _count_present(part: Any) -> np.int64:
    return np.int64(part.notna().sum())


def _sample(part: Any, frac: float, replace: bool, seed: int) -> Any:
    return part.sample(frac=frac, replace=replace, random_state=seed)


def _select_columns(part: pd.DataFrame, columns: list) -> pd.DataFrame:
    return part[columns]


def _assign(part: pd.DataFrame, names: list, *values: Any) -> pd.DataFrame:
    return part.assign(**dict(zip(names, values, strict=True)))


def _loc_range(part: Any, start: Any, stop: Any) -> Any:
    return part.loc[start:stop]


def _loc_labels(part: Any, labels: list) -> Any:
    return part.loc[part.index.isin(labels)]


def _apply_min_count(total: Any, count: Any, min_count: int) -> Any:
    if isinstance(total, pd.Series):
        return total.where(count >= min_count)
    return total if count >= min_count else np.nan


# Each reduction's partials are combined by the same reduction over a frame/series
# of partials (one row per partition), which skips missing values as pandas does.
_COMBINE = {
    "sum": "sum",
    "prod": "prod",
    "min": "min",
    "max": "max",
    "count": "sum",
    "any": "any",
    "all": "all",
}


def _stack(partials: list) -> Any:
    if isinstance(partials[0], pd.Series):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return pd.DataFrame(partials)
    return pd.Series(partials, dtype=object if any(isinstance(p, str) for p in partials) else None)


def _column_of(values: list, dtype: Any) -> pd.Series:
    """``values`` as a Series of ``dtype``, or as pandas infers them when they cannot
    be (the NaN that an empty partition gives for an int or bool column)."""
    if isinstance(dtype, np.dtype) and dtype.kind in "biu" and pd.isna(values).any():
        return pd.Series(values)
    try:
        return pd.Series(values, dtype=dtype)
    except (TypeError, ValueError):
        return pd.Series(values)


def _combine_stat(how: str, partials: list, skipna: bool = True, dtypes: dict | None = None) -> Any:
    """The reduction ``how`` of per-partition results: a missing partial stays missing
    unless ``skipna``; with ``dtypes`` (column -> dtype, for a frame's min/max) each
    column's partials are merged as a Series of that column's dtype, so a nullable or
    datetime column keeps its missing-value kind inside an object result."""
    if len(partials) == 1:
        return partials[0]
    if dtypes is not None and isinstance(partials[0], pd.Series):
        labels = partials[0].index
        values = [
            getattr(_column_of([p[c] for p in partials], dtypes[c]), how)(skipna=skipna)
            for c in labels
        ]
        return pd.Series(values, index=labels, dtype=object, name=partials[0].name).infer_objects()
    result = getattr(_stack(partials), how)(skipna=skipna)
    if isinstance(result, pd.Series):
        result.name = partials[0].name if isinstance(partials[0], pd.Series) else None
    return result


def _moments_chunk(part: Any, **kwargs: Any) -> tuple:
    """``(count, mean, M2)`` of a partition: exact merging without cancellation."""
    if isinstance(part, pd.DataFrame):
        part = (
            part.select_dtypes(include=["number", "bool"]) if kwargs.get("numeric_only") else part
        )
        values = part.astype(float) if len(part.columns) else part
    else:
        values = part.astype(float)
    n = values.count()
    mean = values.mean()
    m2 = ((values - mean) ** 2).sum()
    return n, mean, m2


def _moments_combine(partials: list) -> tuple:
    n, mean, m2 = partials[0]
    for nb, meanb, m2b in partials[1:]:
        total = n + nb
        if isinstance(total, pd.Series):
            delta = meanb.fillna(0) - mean.fillna(0)
            frac = (nb / total.where(total > 0)).fillna(0)
            mean = mean.fillna(0) + delta * frac
            m2 = m2 + m2b + delta**2 * (n * nb / total.where(total > 0)).fillna(0)
            mean = mean.where(total > 0)
        elif total:
            a = 0.0 if n == 0 else mean
            b = 0.0 if nb == 0 else meanb
            delta = b - a
            mean = a + delta * nb / total
            m2 = m2 + m2b + delta**2 * n * nb / total
        n = total
    return n, mean, m2


def _per_column_result(finish: Callable, dtype: Any, *args: Any) -> Any:
    """``finish(*args)``; a per-column result (a frame's reduction) in the dtype pandas
    gives it, which the partials lose: stacking per-partition results of nullable and
    plain columns, or computing moments in float64, gives ``int64``/``float64`` where
    pandas gives ``Int64``/``Float64``."""
    out = finish(*args)
    if dtype is not None and isinstance(out, pd.Series) and out.dtype != dtype:
        try:
            out = out.astype(dtype)
        except (TypeError, ValueError):
            pass  # missing values pandas would not have cast either
    return out


def _moments_mean(m: tuple) -> Any:
    n, mean, _ = m
    if isinstance(n, pd.Series):
        return mean.where(n > 0)
    return np.float64(mean) if n else np.float64(np.nan)


def _moments_var(m: tuple, ddof: int, root: bool) -> Any:
    n, _, m2 = m
    if isinstance(n, pd.Series):
        var = (m2 / (n - ddof)).where(n - ddof > 0)
        return np.sqrt(var) if root else var
    var = np.float64(m2 / (n - ddof)) if n - ddof > 0 else np.float64(np.nan)
    return np.sqrt(var) if root else var


def _series_of(index: list, *values: Any) -> pd.Series:
    return pd.Series(list(values), index=index, dtype="int64")


def _value_counts_chunk(part: pd.Series, dropna: bool) -> pd.Series:
    return part.value_counts(dropna=dropna, sort=False)


def _value_counts_combine(partials: list) -> pd.Series:
    both = concat_partitions(partials)
    return both.groupby(level=0, dropna=False, sort=False).sum()


def _value_counts_aggregate(
    sort: bool, ascending: bool, normalize: bool, partials: list
) -> pd.Series:
    counts = _value_counts_combine(partials)
    if normalize:
        counts = counts / counts.sum()
        counts.name = "proportion"
    if sort:
        counts = counts.sort_values(ascending=ascending, kind="stable")
    return counts


def _unique_chunk(part: pd.Series | pd.Index) -> pd.Series | pd.Index:
    """The distinct values in order of appearance: an Index of an Index, else a Series
    with a fresh index (pandas gives an array)."""
    if isinstance(part, pd.Index):
        return part.unique()
    return pd.Series(part.unique(), name=part.name, dtype=part.dtype)


def _unique_combine(partials: list) -> pd.Series | pd.Index:
    return _unique_chunk(concat_partitions(partials))


def _nunique_of(values: pd.Series, dropna: bool) -> np.int64:
    return np.int64(values.nunique(dropna=dropna))


def _describe_series(
    name: Any, ps: list, count: Any, mean: Any, std: Any, mn: Any, quantiles: pd.Series, mx: Any
) -> pd.Series:
    labels = [f"{p * 100:g}%" for p in ps]
    values = [count, mean, std, mn, *quantiles.tolist(), mx]
    return pd.Series(
        values, index=["count", "mean", "std", "min", *labels, "max"], name=name, dtype=float
    )


def _describe_frame(columns: list, *parts: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(dict(zip(columns, parts, strict=True)))


def _quantile_frame(columns: list, q: Any, *parts: Any) -> Any:
    if np.ndim(q) == 0:
        return pd.Series(list(parts), index=columns, dtype=float, name=q)
    return pd.DataFrame(dict(zip(columns, parts, strict=True)), columns=columns)
