"""Statistics beyond the moment reductions of ``core``: correlation and covariance,
medians, modes, largest/smallest rows, arg-extrema, memory sizes.

This module owns their chunk/combine/aggregate functions. Policy: every one is a
:func:`~taskloom.dataframe._primitives.tree_reduction` whose partials are small (sums
and co-occurrence counts, value counts, candidate rows), never whole partitions, and
whose result agrees with pandas on the concatenated data; where Dask refuses something
pandas does (an exact ``median`` of several partitions) taskloom refuses it too.
"""

from __future__ import annotations

import builtins
import itertools
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from taskloom.dataframe._meta import emulate, make_meta
from taskloom.dataframe._primitives import Scalar, map_scalars, tree_reduction

__all__ = [
    "corr",
    "cov",
    "idxmax",
    "idxmin",
    "is_monotonic",
    "median",
    "memory_usage",
    "memory_usage_per_partition",
    "mode",
    "nbytes",
    "nlargest",
    "nsmallest",
    "size",
]


# --- corr / cov -----------------------------------------------------------------------


def _numeric_columns(meta: pd.DataFrame, numeric_only: bool) -> list:
    numeric = [c for c, dt in meta.dtypes.items() if pd.api.types.is_numeric_dtype(dt)]
    if not numeric_only and len(numeric) != len(meta.columns):
        bad = [c for c in meta.columns if c not in numeric]
        raise ValueError(f"corr/cov need numeric columns; {bad} are not (pass numeric_only=True)")
    return numeric


def _comoments_chunk(part: pd.DataFrame, columns: list) -> tuple:
    # Per pair of columns, over the rows where both are present (pairwise deletion, as
    # pandas): count, both means, co-moment and both second moments, each from
    # deviations (a constant column gives exactly 0, never a rounding residue).
    values = part[columns].to_numpy(dtype="f8", na_value=np.nan)
    present = ~np.isnan(values)
    k = len(columns)
    out = np.zeros((6, k, k))
    for i in range(k):
        for j in range(k):
            both = present[:, i] & present[:, j]
            n = int(both.sum())
            if not n:
                continue
            a, b = values[both, i], values[both, j]
            ma, mb = a.mean(), b.mean()
            da, db = a - ma, b - mb
            out[:, i, j] = (n, ma, mb, da @ db, da @ da, db @ db)
    return out


def _comoments_merge(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # Chan et al.'s pairwise update, elementwise over all pairs.
    n = x[0] + y[0]
    safe = np.where(n > 0, n, 1.0)
    da, db = y[1] - x[1], y[2] - x[2]
    w = x[0] * y[0] / safe
    out = np.empty_like(x)
    out[0] = n
    out[1] = x[1] + da * y[0] / safe
    out[2] = x[2] + db * y[0] / safe
    out[3] = x[3] + y[3] + da * db * w
    out[4] = x[4] + y[4] + da * da * w
    out[5] = x[5] + y[5] + db * db * w
    return out


def _comoments_combine(partials: list) -> np.ndarray:
    total = partials[0]
    for p in partials[1:]:
        total = _comoments_merge(total, p)
    return total


def _comoments_finish(m: np.ndarray, columns: list, corr: bool, min_periods: Any) -> pd.DataFrame:
    n, _, _, cross, va, vb = m
    with np.errstate(divide="ignore", invalid="ignore"):
        if corr:
            result = np.clip(cross / np.sqrt(va * vb), -1.0, 1.0)
            # pandas: exactly 1 on the diagonal, missing for a constant column.
            np.fill_diagonal(result, np.where(np.diag(va) > 0, 1.0, np.nan))
        else:
            result = cross / (n - 1)
    floor = builtins.max(min_periods or 1, 2)
    result = np.where(n >= floor, result, np.nan)
    labels = pd.Index(columns)
    return pd.DataFrame(result, index=labels, columns=labels)


def _comoments(frame: Any, corr: bool, min_periods: Any, numeric_only: bool, split_every: Any):
    columns = _numeric_columns(frame._meta, numeric_only)
    moments = tree_reduction(
        frame,
        _comoments_chunk,
        _comoments_combine,
        _comoments_combine,
        None,
        split_every,
        token="corr" if corr else "cov",
        chunk_kwargs={"columns": columns},
    )
    labels = pd.Index(columns)
    meta = pd.DataFrame(columns=labels, index=labels[:0], dtype="f8")
    return map_scalars(_finish_frame, moments, columns, corr, min_periods, meta=meta)


def _finish_frame(m: tuple, columns: list, corr: bool, min_periods: Any) -> pd.DataFrame:
    return _comoments_finish(m, columns, corr, min_periods)


def _pair_value(frame: pd.DataFrame) -> np.float64:
    return np.float64(frame.iloc[0, 1])


def corr(
    frame: Any,
    method: str = "pearson",
    min_periods: int | None = None,
    numeric_only: bool = False,
    split_every: Any = False,
) -> Any:
    """Pearson correlation of each pair of columns, over the rows where both are present.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> pdf = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [2.0, 4.0, 6.0, 8.5]})
    >>> round(corr(dd.from_pandas(pdf, npartitions=2)).compute().loc["a", "b"], 4)
    np.float64(0.9984)
    """
    if method != "pearson":
        raise NotImplementedError(f"only method='pearson' is supported, got {method!r}")
    return _comoments(frame, True, min_periods, numeric_only, split_every)


def cov(
    frame: Any, min_periods: int | None = None, numeric_only: bool = False, split_every: Any = False
) -> Any:
    """Covariance (``ddof=1``) of each pair of columns, over the rows where both are
    present.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> pdf = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [2.0, 4.0, 6.0, 8.0]})
    >>> cov(dd.from_pandas(pdf, npartitions=2)).compute().loc["a", "b"]
    np.float64(3.3333333333333335)
    """
    return _comoments(frame, False, min_periods, numeric_only, split_every)


def series_comoment(
    a: Any, b: Any, corr: bool, method: str, min_periods: Any, split_every: Any
) -> Scalar:
    """``a.corr(b)`` / ``a.cov(b)`` of two Series collections, as a lazy float."""
    from taskloom.dataframe.core import Series

    if not isinstance(b, Series):
        raise TypeError(f"other must be a taskloom Series, got {type(b).__name__}")
    if method != "pearson":
        raise NotImplementedError(f"only method='pearson' is supported, got {method!r}")
    both = a.to_frame(name="a").assign(b=b.rename("b"))
    matrix = _comoments(both, corr, min_periods, False, split_every)
    return map_scalars(_pair_value, matrix, meta=np.float64(0.0))


# --- median / mode --------------------------------------------------------------------


def median(frame: Any, numeric_only: bool = False) -> Any:
    """The exact median, as Dask only for one partition (see ``median_approximate``)."""
    if frame.npartitions != 1:
        raise NotImplementedError(
            "an exact median of several partitions is not implemented (as in Dask); use "
            "median_approximate, or repartition(npartitions=1)"
        )
    kwargs = {"numeric_only": numeric_only} if isinstance(frame._meta, pd.DataFrame) else {}
    meta = emulate(_median_part, frame._meta_nonempty, **kwargs)
    if isinstance(meta, pd.Series):
        meta = make_meta(meta)
    return tree_reduction(
        frame, _median_part, _first, _first, meta, token="median", chunk_kwargs=kwargs
    )


def _median_part(part: Any, **kwargs: Any) -> Any:
    return part.median(**kwargs)


def _first(partials: list) -> Any:
    return partials[0]


def _counts_chunk(part: pd.Series, dropna: bool) -> pd.Series:
    return part.value_counts(dropna=dropna, sort=False)


def _counts_combine(partials: list) -> pd.Series:
    nonempty = [p for p in partials if len(p)] or partials[:1]
    return pd.concat(nonempty).groupby(level=0, dropna=False, sort=False).sum()


def _mode_aggregate(partials: list, name: Any, dtype: Any) -> pd.Series:
    counts = _counts_combine(partials)
    if not len(counts):
        return pd.Series([], dtype=dtype, name=name)
    modes = counts.index[counts.to_numpy() == counts.max()]
    values = pd.Series(modes, name=name).astype(dtype).sort_values(ignore_index=True)
    return values


def mode(series: Any, dropna: bool = True, split_every: Any = False) -> Any:
    """The most frequent value(s), sorted, as a one-partition Series (as pandas).

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series([3, 1, 3, 1, 2], name="v"), npartitions=2)
    >>> mode(s).compute().tolist()
    [1, 3]
    """
    meta = series._meta.mode(dropna=dropna)
    return tree_reduction(
        series,
        _counts_chunk,
        _counts_combine,
        partial(_mode_aggregate, name=series._meta.name, dtype=series._meta.dtype),
        make_meta(meta),
        split_every,
        token="mode",
        chunk_kwargs={"dropna": dropna},
    )


def frame_mode(
    frame: Any, dropna: bool = True, split_every: Any = False, numeric_only: bool = False
) -> Any:
    """Each column's modes, side by side and padded with missing values (as pandas)."""
    meta = frame._meta.mode(dropna=dropna, numeric_only=numeric_only)
    columns = list(meta.columns)
    parts = [mode(frame[c], dropna, split_every) for c in columns]
    return map_scalars(_mode_frame, columns, *parts, meta=make_meta(meta))


def _mode_frame(columns: list, *parts: pd.Series) -> pd.DataFrame:
    return pd.concat([p.rename(c) for c, p in zip(columns, parts, strict=True)], axis=1)


# --- nlargest / nsmallest / idxmax / idxmin -------------------------------------------


def _n_extreme(part: Any, how: str, n: int, columns: Any) -> Any:
    if columns is None:
        return getattr(part, how)(n)
    return getattr(part, how)(n, columns)


def _n_extreme_combine(partials: list, how: str, n: int, columns: Any) -> Any:
    nonempty = [p for p in partials if len(p)] or partials[:1]
    return _n_extreme(pd.concat(nonempty), how, n, columns)


def n_extreme(
    frame: Any, how: str, n: int = 5, columns: Any = None, split_every: Any = None
) -> Any:
    """``nlargest``/``nsmallest``: each partition's ``n`` candidates, merged in a tree.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series([5, 1, 9, 3, 7]), npartitions=3)
    >>> n_extreme(s, "nlargest", 2).compute().tolist()
    [9, 7]
    """
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"n must be an int, got {n!r}")
    if isinstance(frame._meta, pd.DataFrame) and columns is None:
        raise TypeError(f"DataFrame.{how} needs columns=")
    meta = _n_extreme(frame._meta, how, n, columns)
    kwargs = {"how": how, "n": n, "columns": columns}
    return tree_reduction(
        frame,
        _n_extreme,
        partial(_n_extreme_combine, **kwargs),
        partial(_n_extreme_combine, **kwargs),
        meta,
        split_every,
        token=how,
        chunk_kwargs=kwargs,
    )


def _arg_candidates(part: Any, how: str, skipna: bool, numeric_only: bool) -> Any:
    # The rows holding each column's first extreme (or first missing value when not
    # skipping them): the extremes of their concatenation are the global ones, and the
    # partitions' order keeps pandas' first-occurrence rule.
    if isinstance(part, pd.DataFrame) and numeric_only:
        part = part.select_dtypes("number")
    values = part.to_frame() if isinstance(part, pd.Series) else part
    positions: set = set()
    for k in range(values.shape[1]):
        column = values.iloc[:, k]
        missing = column.isna().to_numpy()
        if not skipna and missing.any():
            positions.add(int(np.argmax(missing)))
        if (~missing).any():
            present = column[~missing]
            label = getattr(present.reset_index(drop=True), how)()
            positions.add(int(np.flatnonzero(~missing)[label]))
    return part.iloc[sorted(positions)]


def _arg_combine(partials: list) -> Any:
    nonempty = [p for p in partials if len(p)] or partials[:1]
    return pd.concat(nonempty)


def _arg_aggregate(partials: list, how: str, skipna: bool) -> Any:
    return getattr(_arg_combine(partials), how)(skipna=skipna)


def arg_extreme(
    frame: Any, how: str, skipna: bool = True, numeric_only: bool = False, split_every: Any = False
) -> Any:
    """``idxmax``/``idxmin``: the index label of each column's first extreme.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series([5, 1, 9, 9], index=list("abcd")), npartitions=2)
    >>> arg_extreme(s, "idxmax").compute()
    'c'
    """
    sample = frame._meta_nonempty
    if isinstance(sample, pd.DataFrame):
        meta = make_meta(getattr(sample, how)(skipna=skipna, numeric_only=numeric_only))
    else:
        meta = getattr(sample, how)(skipna=skipna)
    return tree_reduction(
        frame,
        _arg_candidates,
        _arg_combine,
        partial(_arg_aggregate, how=how, skipna=skipna),
        meta,
        split_every,
        token=how,
        chunk_kwargs={"how": how, "skipna": skipna, "numeric_only": numeric_only},
    )


# --- sizes ----------------------------------------------------------------------------


def _sum(partials: list) -> Any:
    nonempty = [p for p in partials if not isinstance(p, pd.Series) or len(p)]
    return builtins.sum(nonempty[1:], nonempty[0]) if nonempty else partials[0]


def _memory_chunk(part: Any, deep: bool, index: bool) -> Any:
    if isinstance(part, pd.Index):
        return np.int64(part.memory_usage(deep=deep))
    usage = part.memory_usage(deep=deep, index=index)
    return np.int64(usage) if np.ndim(usage) == 0 else usage


def memory_usage(frame: Any, deep: bool = False, index: bool = True) -> Any:
    """Bytes used, summed over the partitions: per column for a frame, one number for a
    Series or Index (each partition's index counted, as Dask)."""
    meta = _memory_chunk(frame._meta, deep, index)
    return tree_reduction(
        frame,
        _memory_chunk,
        _sum,
        _sum,
        meta,
        token="memory_usage",
        chunk_kwargs={"deep": deep, "index": index},
    )


def _partition_memory(part: Any, deep: bool, index: bool) -> list:
    usage = _memory_chunk(part, deep, index)
    return [np.int64(np.sum(usage))]


def _concat_lists(partials: list) -> list:
    return [v for p in partials for v in p]


def _as_series(partials: list) -> pd.Series:
    return pd.Series(_concat_lists(partials), dtype="int64")


def memory_usage_per_partition(frame: Any, index: bool = True, deep: bool = False) -> Any:
    """Bytes of each partition, as a Series indexed by partition number."""
    return tree_reduction(
        frame,
        _partition_memory,
        _concat_lists,
        _as_series,
        pd.Series([], dtype="int64"),
        token="memory_usage_per_partition",
        chunk_kwargs={"deep": deep, "index": index},
    )


def _attribute(part: Any, attr: str) -> np.int64:
    return np.int64(getattr(part, attr))


def _add(partials: list) -> np.int64:
    return np.int64(builtins.sum(partials))


def partition_sum(frame: Any, attr: str) -> Scalar:
    """A per-partition integer attribute (``size``, ``nbytes``) summed, lazily."""
    return tree_reduction(
        frame, _attribute, _add, _add, np.int64(0), token=attr, chunk_kwargs={"attr": attr}
    )


def size(frame: Any) -> Scalar:
    """Number of elements."""
    return partition_sum(frame, "size")


def nbytes(frame: Any) -> Scalar:
    """Bytes of the values (without the index)."""
    return partition_sum(frame, "nbytes")


def idxmax(frame: Any, **kwargs: Any) -> Any:
    """Index label of the first largest value."""
    return arg_extreme(frame, "idxmax", **kwargs)


def idxmin(frame: Any, **kwargs: Any) -> Any:
    """Index label of the first smallest value."""
    return arg_extreme(frame, "idxmin", **kwargs)


def nlargest(frame: Any, **kwargs: Any) -> Any:
    """The ``n`` largest rows."""
    return n_extreme(frame, "nlargest", **kwargs)


def nsmallest(frame: Any, **kwargs: Any) -> Any:
    """The ``n`` smallest rows."""
    return n_extreme(frame, "nsmallest", **kwargs)


# --- monotonicity ---------------------------------------------------------------------


def _monotonic_chunk(part: Any, how: str) -> list:
    values = part if isinstance(part, pd.Index) else pd.Index(part)
    if not len(values):
        return []
    return [(values[0], values[-1], bool(getattr(values, how)))]


def _monotonic_combine(partials: list) -> list:
    return [p for group in partials for p in group]


def _monotonic_aggregate(partials: list, increasing: bool) -> bool:
    pieces = _monotonic_combine(partials)
    if not all(ok for _, _, ok in pieces):
        return False
    for (_, last, _), (first, _, _) in itertools.pairwise(pieces):
        if (last > first) if increasing else (last < first):
            return False
    return True


def is_monotonic(frame: Any, increasing: bool) -> Scalar:
    """Whether the values never decrease (``increasing``) or never increase, as a lazy
    bool: each partition's verdict and end values, checked across partition boundaries.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series([1, 2, 2, 5, 4]), npartitions=2)
    >>> is_monotonic(s, True).compute(), is_monotonic(s.head(4, compute=False), True).compute()
    (False, True)
    """
    how = "is_monotonic_increasing" if increasing else "is_monotonic_decreasing"
    return tree_reduction(
        frame,
        _monotonic_chunk,
        _monotonic_combine,
        partial(_monotonic_aggregate, increasing=increasing),
        True,
        token=how,
        chunk_kwargs={"how": how},
    )
