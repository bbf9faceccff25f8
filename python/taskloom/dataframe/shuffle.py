"""Moving rows between partitions: repartition, hash shuffles, set_index, sort_values.

Policies:

- ``repartition`` by divisions slices each old partition at the new boundaries (only
  the old partitions overlapping a new one are read); by a smaller ``npartitions`` it
  concatenates neighbours; by a larger one it splits at interpolated divisions when
  they are numeric or datetime, else by row count.
- A hash shuffle splits every input partition by a hash of the key columns
  (``pandas.util.hash_pandas_object``, the same in every process) into ``n`` pieces, and
  output partition ``j`` concatenates piece ``j`` of every input: ``n + m`` tasks, each
  output reading every split, the all-to-all the scheduler sees.
- ``set_index``/``sort_values`` are range shuffles: boundaries come from approximate
  quantiles of the column, of any orderable dtype (:mod:`.partitionquantiles`; computed
  when the expression is built, as Dask does, so the result's divisions are known);
  rows go to the partition whose range holds them, compared as sort keys (datetimes in
  their own unit and time zone, strings as strings), and each output partition is
  sorted stably, so equal keys keep their input order.
"""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from taskloom.dataframe.core import (
    _Frame,
    concat_partitions,
    map_partitions,
    new_collection,
    tree_reduction,
)
from taskloom.dataframe.partitionquantiles import (
    division_keys,
    from_keys,
    quantile_divisions,
    range_targets,
)
from taskloom.tokenize import tokenize

__all__ = [
    "drop_duplicates",
    "hash_shuffle",
    "repartition_divisions",
    "repartition_npartitions",
    "set_index",
    "sort_values",
]


# --- repartition ----------------------------------------------------------------------


def _check_divisions(divisions: Sequence) -> list:
    divisions = list(divisions)
    if len(divisions) < 2:
        raise ValueError(f"divisions need at least two values, got {divisions!r}")
    if any(b < a for a, b in itertools.pairwise(divisions)):
        raise ValueError(f"divisions must be sorted, got {divisions!r}")
    if any(a == b for a, b in itertools.pairwise(divisions[:-1])):
        raise ValueError(f"divisions may repeat only the last value, got {divisions!r}")
    return divisions


def repartition_divisions(frame: _Frame, divisions: Sequence, force: bool = False) -> Any:
    """``frame`` with its rows rearranged onto ``divisions`` (its own must be known)."""
    new = _check_divisions(divisions)
    if not frame.known_divisions:
        raise ValueError(
            "repartition(divisions=) needs known divisions; call set_index or "
            "repartition(npartitions=) instead"
        )
    old = list(frame.divisions)
    if force:
        if new[0] > old[0] or new[-1] < old[-1]:
            raise ValueError(
                f"new divisions {new[0]!r}..{new[-1]!r} must cover the old ones "
                f"{old[0]!r}..{old[-1]!r}"
            )
    elif new[0] != old[0] or new[-1] != old[-1]:
        raise ValueError(
            f"new divisions must start and end where the old ones do ({old[0]!r}, "
            f"{old[-1]!r}), got {new[0]!r} and {new[-1]!r}; pass force=True to widen them"
        )
    if new == old:
        return frame
    name = f"repartition-{tokenize(frame._name, new)}"
    layer: dict = {}
    n_old = len(old) - 1
    for j in builtins.range(len(new) - 1):
        lo, hi, last = new[j], new[j + 1], j == len(new) - 2
        pieces: list = []
        for i in builtins.range(n_old):
            a, b, old_last = old[i], old[i + 1], i == n_old - 1
            starts_in_time = a < hi or (last and a <= hi)
            ends_in_time = lo < b or (old_last and lo <= b)
            if not (starts_in_time and ends_in_time):
                continue
            if a >= lo and (b < hi or (b == hi and (last or not old_last))):
                pieces.append((frame._name, i))  # the whole old partition
            else:
                pieces.append((_slice_rows, (frame._name, i), lo, hi, last))
        if not pieces:  # a range holding no rows: an empty slice keeps the dtypes
            pieces = [(_slice_rows, (frame._name, 0), lo, lo, False)]
        layer[(name, j)] = (concat_partitions, pieces)
    return new_collection({**frame._layers, name: layer}, name, frame._meta, new)


def _slice_rows(part: Any, lo: Any, hi: Any, closed: bool) -> Any:
    index = part if isinstance(part, pd.Index) else part.index
    mask = (index >= lo) & ((index <= hi) if closed else (index < hi))
    return part[mask]


def repartition_npartitions(frame: _Frame, npartitions: int) -> Any:
    """``frame`` in ``npartitions`` partitions."""
    if (
        isinstance(npartitions, bool)
        or not isinstance(npartitions, int | np.integer)
        or npartitions < 1
    ):
        raise ValueError(f"npartitions must be a positive integer, got {npartitions!r}")
    n = frame.npartitions
    if npartitions == n:
        return frame
    name = f"repartition-{npartitions}-{tokenize(frame._name, npartitions)}"
    if npartitions < n:
        bounds = np.linspace(0, n, npartitions + 1).round().astype(int)
        layer = {
            (name, j): (concat_partitions, [(frame._name, i) for i in range(a, b)])
            for j, (a, b) in enumerate(itertools.pairwise(bounds))
        }
        divisions = [frame.divisions[b] for b in bounds]
        return new_collection({**frame._layers, name: layer}, name, frame._meta, divisions)
    interpolated = _interpolate_divisions(frame, npartitions)
    if interpolated is not None:
        return repartition_divisions(frame, interpolated)
    # Unknown or non-numeric divisions: split each partition by row count.
    per = np.diff(np.linspace(0, npartitions, n + 1).round().astype(int))
    layer, j = {}, 0
    for i, k in enumerate(per):
        for piece in builtins.range(k):
            layer[(name, j)] = (_split_by_rows, (frame._name, i), int(k), piece)
            j += 1
    divisions = (None,) * (npartitions + 1)
    return new_collection({**frame._layers, name: layer}, name, frame._meta, divisions)


def _interpolate_divisions(frame: _Frame, npartitions: int) -> list | None:
    """Divisions splitting each old partition's range into equal shares, for numeric,
    datetime (any unit or time zone) and timedelta divisions; None for others, or
    when the range has too few distinct values (e.g. integer divisions)."""
    if not frame.known_divisions:
        return None
    divs = list(frame.divisions)
    dtype = frame._meta.index.dtype
    if (
        isinstance(frame._meta.index, pd.MultiIndex)
        or not (
            pd.api.types.is_numeric_dtype(dtype)
            or pd.api.types.is_datetime64_any_dtype(dtype)
            or pd.api.types.is_timedelta64_dtype(dtype)
        )
        or pd.api.types.is_bool_dtype(dtype)
    ):
        return None
    try:
        keys = division_keys(divs, dtype)
    except (TypeError, ValueError):
        return None
    values = keys.astype(float)
    n = frame.npartitions
    per = np.diff(np.linspace(0, npartitions, n + 1).round().astype(int))
    points: list = []
    for i, k in enumerate(per):
        points.extend(np.linspace(values[i], values[i + 1], k + 1)[:-1])
    points.append(values[-1])
    if keys.dtype.kind in "iu":
        new = from_keys(np.round(points).astype(keys.dtype), dtype)
    else:
        new = from_keys(np.asarray(points), dtype)
    new[0], new[-1] = divs[0], divs[-1]
    if any(b <= a for a, b in itertools.pairwise(new)):
        return None  # too many partitions for the range (e.g. integer divisions)
    return new


def _split_by_rows(part: Any, k: int, piece: int) -> Any:
    bounds = np.linspace(0, len(part), k + 1).round().astype(int)
    return part.iloc[bounds[piece] : bounds[piece + 1]]


# --- hash shuffle ---------------------------------------------------------------------


def partitioning_hash(part: Any, on: Any, npartitions: int, cast: dict | None = None) -> np.ndarray:
    """Which of ``npartitions`` each row goes to, by a stable hash of the ``on`` columns
    (the index when ``on`` is None); ``cast`` maps columns to a dtype to hash them as,
    so keys of different dtypes that compare equal land together."""
    keys = part.index.to_frame(index=False) if on is None else part[on]
    if isinstance(keys, pd.Series):
        keys = keys.to_frame()
    if cast:
        keys = keys.astype({c: d for c, d in cast.items() if c in keys.columns})
    hashes = pd.util.hash_pandas_object(keys, index=False).to_numpy()
    return (hashes % np.uint64(npartitions)).astype(np.int64)


def _hash_split(part: Any, on: Any, npartitions: int, cast: dict | None) -> list:
    target = partitioning_hash(part, on, npartitions, cast)
    order = np.argsort(target, kind="stable")
    bounds = np.searchsorted(target[order], np.arange(npartitions + 1))
    rows = part.iloc[order]
    return [rows.iloc[bounds[j] : bounds[j + 1]] for j in builtins.range(npartitions)]


def _gather(splits: list, j: int) -> Any:
    return concat_partitions([s[j] for s in splits])


def hash_shuffle(
    frame: _Frame, on: Any, npartitions: int | None = None, cast: dict | None = None
) -> Any:
    """``frame`` rearranged so that rows with equal ``on`` values share a partition."""
    n = npartitions or frame.npartitions
    token = tokenize(frame._name, on, n, cast)
    split, name = f"shuffle-split-{token}", f"shuffle-{token}"
    layer: dict = {
        (split, i): (_hash_split, (frame._name, i), on, n, cast)
        for i in builtins.range(frame.npartitions)
    }
    splits = [(split, i) for i in builtins.range(frame.npartitions)]
    for j in builtins.range(n):
        layer[(name, j)] = (_gather, splits, j)
    return new_collection({**frame._layers, name: layer}, name, frame._meta, (None,) * (n + 1))


# --- range shuffles: set_index, sort_values -------------------------------------------


def _range_split(
    part: Any, column: Any, inner: np.ndarray, n: int, descending: bool, na_first: bool
) -> list:
    """``part``'s rows in ``n`` pieces by the range of ``column`` (the index when None)
    between the boundary keys ``inner``; missing values go first or last."""
    values = part[column] if column is not None else part.index
    target = range_targets(values, inner)
    na = target < 0
    if descending:
        target = n - 1 - target
    if na.any():
        target[na] = 0 if na_first else n - 1
    order = np.argsort(target, kind="stable")
    bounds = np.searchsorted(target[order], np.arange(n + 1))
    rows = part.iloc[order]
    return [rows.iloc[bounds[j] : bounds[j + 1]] for j in builtins.range(n)]


def _range_shuffle(
    frame: _Frame,
    column: Any,
    divisions: list,
    descending: bool,
    na_first: bool,
    finish: Any,
    token: str,
) -> tuple[dict, str, int]:
    n = len(divisions) - 1
    dtype = (frame._meta.index if column is None else frame._meta[column]).dtype
    inner = division_keys(list(divisions[1:-1]), dtype)
    tok = tokenize(frame._name, column, divisions, descending, na_first, finish)
    split, name = f"{token}-split-{tok}", f"{token}-{tok}"
    layer: dict = {
        (split, i): (_range_split, (frame._name, i), column, inner, n, descending, na_first)
        for i in builtins.range(frame.npartitions)
    }
    splits = [(split, i) for i in builtins.range(frame.npartitions)]
    for j in builtins.range(n):
        layer[(name, j)] = (finish, (_gather, splits, j))
    return {**frame._layers, name: layer}, name, n


def set_index(
    df: Any,
    other: Any,
    drop: bool = True,
    sorted: bool = False,
    npartitions: int | None = None,
    divisions: Sequence | None = None,
    **kwargs: Any,
) -> Any:
    """``df`` indexed by column ``other`` (or an aligned Series), rows sorted."""
    from taskloom.dataframe.core import Series

    if kwargs:
        raise TypeError(f"set_index got unsupported arguments: {sorted_names(kwargs)}")
    if isinstance(other, Series):
        column = other.name if other.name is not None else "_index"
        df = df.assign(**{column: other})
    elif isinstance(other, list):
        raise NotImplementedError("set_index with several columns is not supported")
    else:
        column = other
        df._check_columns([column])
    meta = df._meta.set_index(column, drop=drop)
    if sorted:
        parts = map_partitions(_call_set_index, df, column, drop, False, token="set-index")
        if divisions is None:
            bounds = tree_reduction(
                df[column],
                _min_max,
                _concat_lists,
                _concat_lists,
                None,
                split_every=False,
                token="bounds",
            ).compute()
            for (_, hi), (lo, _) in itertools.pairwise(bounds):
                if lo < hi:
                    raise ValueError(
                        f"set_index({column!r}, sorted=True): the column is not sorted "
                        f"across partitions ({hi!r} is followed by {lo!r})"
                    )
            divisions = [lo for lo, _ in bounds] + [bounds[-1][1]]
            if any(d is None or d != d for d in divisions):
                return parts.clear_divisions()
        parts.divisions = tuple(divisions)
        return parts
    if divisions is None:
        divisions = quantile_divisions(df[column], npartitions or df.npartitions)
    else:
        divisions = _check_divisions(divisions)
    finish = _SortedIndex(column, drop)
    layers, name, _ = _range_shuffle(df, column, list(divisions), False, False, finish, "set-index")
    return new_collection(layers, name, meta, divisions)


def sorted_names(kwargs: dict) -> str:
    return ", ".join(sorted(kwargs))


def _call_set_index(part: pd.DataFrame, column: Any, drop: bool, sort: bool) -> pd.DataFrame:
    out = part.set_index(column, drop=drop)
    return out.sort_index(kind="stable") if sort else out


class _SortedIndex:
    """``part.set_index(column).sort_index()`` (a class so its token is its content)."""

    __slots__ = ("column", "drop")

    def __init__(self, column: Any, drop: bool) -> None:
        self.column, self.drop = column, drop

    def __call__(self, part: pd.DataFrame) -> pd.DataFrame:
        return _call_set_index(part, self.column, self.drop, True)

    def __dask_tokenize__(self) -> Any:
        return ("sorted-index", self.column, self.drop)


class _SortValues:
    __slots__ = ("kwargs",)

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def __call__(self, part: pd.DataFrame) -> pd.DataFrame:
        return part.sort_values(kind="stable", **self.kwargs)

    def __dask_tokenize__(self) -> Any:
        return ("sort-values", sorted(self.kwargs.items(), key=str))


def _min_max(part: pd.Series) -> list:
    values = part.dropna()
    return [(values.min(), values.max())] if len(values) else [(None, None)]


def _concat_lists(parts: list) -> list:
    return [x for p in parts for x in p]


def sort_values(
    df: Any,
    by: Any,
    ascending: Any = True,
    npartitions: int | None = None,
    na_position: str = "last",
    **kwargs: Any,
) -> Any:
    """``df`` with rows sorted by ``by`` across partitions (divisions unknown)."""
    if kwargs:
        raise TypeError(f"sort_values got unsupported arguments: {sorted_names(kwargs)}")
    if na_position not in ("first", "last"):
        raise ValueError(f"na_position must be 'first' or 'last', got {na_position!r}")
    cols = [by] if not isinstance(by, list) else list(by)
    if not cols:
        raise ValueError("sort_values needs at least one column in by=")
    from taskloom.dataframe.core import Series

    if isinstance(df, Series):
        frame = df.to_frame()
        cols = [frame.columns[0]]
    else:
        df._check_columns(cols)
        frame = df
    first_ascending = ascending if isinstance(ascending, bool) else ascending[0]
    divisions = quantile_divisions(frame[cols[0]], npartitions or df.npartitions)
    if isinstance(df, Series):
        finish: _SortValues = _SeriesSort(ascending=ascending, na_position=na_position)
    else:
        finish = _SortValues(by=cols, ascending=ascending, na_position=na_position)
    layers, name, n = _range_shuffle(
        frame,
        cols[0],
        divisions,
        not first_ascending,
        na_position == "first",
        finish,
        "sort-values",
    )
    return new_collection(layers, name, df._meta, (None,) * (n + 1))


class _SeriesSort(_SortValues):
    __slots__ = ()

    def __call__(self, part: pd.DataFrame) -> pd.Series:
        return part.iloc[:, 0].sort_values(kind="stable", **self.kwargs)


# --- drop_duplicates ------------------------------------------------------------------


def _drop_dups(part: Any, **kwargs: Any) -> Any:
    return part.drop_duplicates(**kwargs)


class _DropDuplicates:
    __slots__ = ("kwargs",)

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def __call__(self, parts: list) -> Any:
        return concat_partitions(parts).drop_duplicates(**self.kwargs)

    def __dask_tokenize__(self) -> Any:
        return ("drop-duplicates", sorted(self.kwargs.items(), key=str))


def drop_duplicates(
    frame: Any,
    subset: Any = None,
    keep: Any = "first",
    split_every: int | None = None,
    split_out: int = 1,
    ignore_index: bool = False,
) -> Any:
    """Rows that do not repeat an earlier row (or a later one, ``keep='last'``)."""
    if keep not in ("first", "last", False):
        raise ValueError(f"keep must be 'first', 'last' or False, got {keep!r}")
    kwargs: dict = {"keep": keep}
    if subset is not None:
        kwargs["subset"] = subset
    if keep is False or split_out > 1:
        # Equal rows must meet in one partition to be judged: shuffle by their values.
        on = (
            subset
            if subset is not None
            else (list(frame.columns) if hasattr(frame, "columns") else None)
        )
        source = frame if on is not None else frame.to_frame()
        shuffled = hash_shuffle(
            source,
            on if on is not None else list(source.columns),
            split_out if split_out > 1 else frame.npartitions,
        )
        if on is None:
            shuffled = shuffled.map_partitions(_first_column, meta=frame._meta)
        out = shuffled.map_partitions(_drop_dups, **kwargs, token="drop-duplicates")
    else:
        combine = _DropDuplicates(**kwargs)
        out = tree_reduction(
            frame,
            _drop_dups,
            combine,
            combine,
            frame._meta,
            split_every,
            token="drop-duplicates",
            chunk_kwargs=kwargs,
        )
    if ignore_index:
        out = out.reset_index(drop=True)
    return out


def _first_column(part: pd.DataFrame) -> pd.Series:
    return part.iloc[:, 0]
