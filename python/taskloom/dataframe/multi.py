"""Combining collections: ``merge``/``join`` and ``concat``.

``merge`` picks the cheapest plan that is correct:

- both sides joined on their index with known divisions: align the partitions (the
  union of both divisions) and merge partition by partition, keeping the divisions;
- one side in a single partition (and the join keeps the other side's rows): broadcast
  it, merging it with every partition of the other side;
- otherwise hash-shuffle both sides on the join keys into the same partitions (keys of
  different numeric dtypes are hashed as float64 so ``1 == 1.0`` meet) and merge
  partition by partition.

Rows come out in partition order, not pandas' order; compare sorted.

``merge_asof`` gathers the right side into one task and matches every left partition
against all of it, so each left row sees every right row (exact, whatever the
partitioning; the right side must fit in memory, as with a broadcast).

``concat`` along rows appends the partitions (divisions stay known when the inputs'
ranges are ordered; ``interleave_partitions=True`` repartitions overlapping ones onto
shared divisions), columns present in only some inputs are filled with missing values
and every partition is cast to the concatenated dtypes; along columns it aligns the
partitions and concatenates them side by side.
"""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Sequence
from typing import Any

import pandas as pd

from taskloom.dataframe._meta import make_meta, meta_nonempty
from taskloom.dataframe.core import (
    DataFrame,
    Series,
    _Frame,
    align_partitions,
    map_partitions,
    merge_layers,
    new_collection,
)
from taskloom.tokenize import tokenize

__all__ = ["concat", "merge", "merge_asof"]

_HOWS = ("inner", "left", "right", "outer", "leftsemi")


def _as_frame(x: Any, side: str) -> Any:
    if isinstance(x, _Frame):
        return x
    if isinstance(x, pd.DataFrame | pd.Series):
        from taskloom.dataframe.io import from_pandas

        return from_pandas(x, npartitions=1)
    raise TypeError(f"merge needs taskloom or pandas frames; the {side} side is {type(x).__name__}")


def _as_list(x: Any) -> list:
    return [] if x is None else (list(x) if isinstance(x, list | tuple) else [x])


def merge(
    left: Any,
    right: Any,
    how: str = "inner",
    on: Any = None,
    left_on: Any = None,
    right_on: Any = None,
    left_index: bool = False,
    right_index: bool = False,
    suffixes: Sequence = ("_x", "_y"),
    npartitions: int | None = None,
    indicator: bool = False,
    **kwargs: Any,
) -> DataFrame:
    """A database-style join of two frames, as :func:`pandas.merge`.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> a = dd.from_pandas(pd.DataFrame({"k": [1, 2, 3], "x": [10, 20, 30]}), npartitions=2)
    >>> b = dd.from_pandas(pd.DataFrame({"k": [3, 1], "y": ["c", "a"]}), npartitions=2)
    >>> dd.merge(a, b, on="k").compute().sort_values("k").values.tolist()
    [[1, 10, 'a'], [3, 30, 'c']]
    """
    if kwargs:
        raise TypeError(f"merge got unsupported arguments: {', '.join(sorted(kwargs))}")
    if how not in _HOWS:
        raise ValueError(f"how must be one of {_HOWS}, got {how!r}")
    left, right = _as_frame(left, "left"), _as_frame(right, "right")
    if isinstance(left, Series):
        left = left.to_frame()
    if isinstance(right, Series):
        right = right.to_frame()
    if on is not None:
        left_on = right_on = on
    lkeys, rkeys = _as_list(left_on), _as_list(right_on)
    for side, frame, keys in (("left", left, lkeys), ("right", right, rkeys)):
        missing = [k for k in keys if k not in frame._meta.columns]
        if missing:
            raise KeyError(
                f"merge key(s) {missing} not in the {side} frame's columns "
                f"{list(frame._meta.columns)}"
            )
    if not lkeys and not left_index and not rkeys and not right_index:
        common = [c for c in left._meta.columns if c in right._meta.columns]
        if not common:
            raise ValueError(
                "no columns in common to merge on; pass on=, left_on=/right_on= "
                "or left_index=/right_index="
            )
        lkeys = rkeys = common
    pandas_kwargs = {
        "how": how,
        "left_on": lkeys or None,
        "right_on": rkeys or None,
        "left_index": left_index,
        "right_index": right_index,
        "suffixes": tuple(suffixes),
        "indicator": indicator,
    }
    meta = _merge_meta(left._meta, right._meta, pandas_kwargs)
    merge_parts = _Merge(pandas_kwargs, meta)

    if left_index and right_index and left.known_divisions and right.known_divisions:
        lp, rp = align_partitions([left, right])
        return map_partitions(merge_parts, lp, rp, meta=meta, token="merge")
    keep_index = left_index and right_index
    if right.npartitions == 1 and how in ("inner", "left", "leftsemi"):
        return _broadcast(left, right, meta, merge_parts, big_left=True, keep=keep_index)
    if left.npartitions == 1 and how in ("inner", "right"):
        return _broadcast(right, left, meta, merge_parts, big_left=False, keep=keep_index)

    from taskloom.dataframe.shuffle import hash_shuffle

    n = npartitions or builtins.max(left.npartitions, right.npartitions)
    lcast, rcast = _common_hash_dtypes(left, lkeys, left_index, right, rkeys, right_index)
    ls = hash_shuffle(left, None if left_index else lkeys, n, lcast)
    rs = hash_shuffle(right, None if right_index else rkeys, n, rcast)
    return map_partitions(merge_parts, ls, rs, meta=meta, token="merge")


def _key_dtypes(frame: Any, keys: list, index: bool) -> list:
    if index:
        idx = frame._meta.index
        return [idx.dtype] if idx.nlevels == 1 else list(idx.dtypes)
    return [frame._meta[k].dtype for k in keys]


def _common_hash_dtypes(
    left: Any, lkeys: list, left_index: bool, right: Any, rkeys: list, right_index: bool
) -> tuple[dict | None, dict | None]:
    ldt, rdt = _key_dtypes(left, lkeys, left_index), _key_dtypes(right, rkeys, right_index)
    if len(ldt) != len(rdt):
        raise ValueError(f"merge needs as many left keys as right keys ({len(ldt)} and {len(rdt)})")
    lcast, rcast = {}, {}
    for i, (a, b) in enumerate(zip(ldt, rdt, strict=False)):
        if a == b:
            continue
        numeric = pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b)
        target = "float64" if numeric else "object"
        lcast[lkeys[i] if not left_index else i] = target
        rcast[rkeys[i] if not right_index else i] = target
    return lcast or None, rcast or None


def _merge_meta(left: pd.DataFrame, right: pd.DataFrame, kwargs: dict) -> pd.DataFrame:
    """The merged columns' dtypes, allowing for rows without a match: an outer side's
    int columns become float, as they do in pandas as soon as one row misses."""
    a, b = meta_nonempty(left), meta_nonempty(right)
    how = kwargs["how"]
    variants = [pd.merge(a, b, **kwargs)]
    if how in ("left", "outer"):
        variants.append(pd.merge(a, b.iloc[:0], **kwargs))
    if how in ("right", "outer"):
        variants.append(pd.merge(a.iloc[:0], b, **kwargs))
    return make_meta(pd.concat(variants) if len(variants) > 1 else variants[0])


class _Merge:
    """``pd.merge`` of two partitions, cast to the merged metadata's dtypes so every
    partition agrees whether or not its rows all found a match."""

    __slots__ = ("dtypes", "kwargs")

    def __init__(self, kwargs: dict, meta: pd.DataFrame) -> None:
        self.kwargs, self.dtypes = kwargs, dict(meta.dtypes)

    def __call__(self, left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
        out = pd.merge(left, right, **self.kwargs)
        wrong = {c: d for c, d in self.dtypes.items() if c in out and out[c].dtype != d}
        return out.astype(wrong) if wrong else out

    def flipped(self, right: pd.DataFrame, left: pd.DataFrame) -> pd.DataFrame:
        return self(left, right)

    def __dask_tokenize__(self) -> Any:
        return ("merge", sorted(self.kwargs.items(), key=str), sorted(map(str, self.dtypes)))


def _broadcast(
    big: Any, small: Any, meta: Any, merge_parts: _Merge, big_left: bool, keep: bool
) -> DataFrame:
    func = merge_parts if big_left else merge_parts.flipped
    name = f"merge-broadcast-{tokenize(big._name, small._name, merge_parts, big_left)}"
    layer = {
        (name, i): (func, (big._name, i), (small._name, 0)) for i in builtins.range(big.npartitions)
    }
    layers = merge_layers(big, small)
    layers[name] = layer
    divisions = big.divisions if keep else (None,) * (big.npartitions + 1)
    return new_collection(layers, name, meta, divisions)


# --- concat ---------------------------------------------------------------------------


class _Conform:
    """Make a partition look like the concatenated meta (columns, then dtypes)."""

    __slots__ = ("meta",)

    def __init__(self, meta: Any) -> None:
        self.meta = meta

    def __call__(self, part: Any) -> Any:
        if isinstance(self.meta, pd.DataFrame):
            if isinstance(part, pd.Series):
                part = part.to_frame()
            part = part.reindex(columns=self.meta.columns)
            dtypes = {c: d for c, d in self.meta.dtypes.items() if part[c].dtype != d}
            return part.astype(dtypes) if dtypes else part
        return part.astype(self.meta.dtype) if part.dtype != self.meta.dtype else part

    def __dask_tokenize__(self) -> Any:
        return (
            "conform",
            list(map(str, getattr(self.meta, "columns", []))),
            str(getattr(self.meta, "dtypes", getattr(self.meta, "dtype", None))),
        )


def concat(
    dfs: Sequence,
    axis: Any = 0,
    join: str = "outer",
    ignore_unknown_divisions: bool = False,
    ignore_order: bool = False,
    interleave_partitions: bool = False,
    **kwargs: Any,
) -> Any:
    """Concatenate frames or series along rows (``axis=0``) or columns (``axis=1``).

    Dask's arguments: ``ignore_unknown_divisions`` and ``ignore_order`` are accepted
    (no warning is given here, and categoricals are concatenated as pandas does);
    ``interleave_partitions`` repartitions overlapping known divisions onto shared
    ones. Of pandas' extra keywords ``ignore_index`` is supported; others are a
    TypeError naming them.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> a = dd.from_pandas(pd.DataFrame({"x": [1, 2]}), npartitions=1)
    >>> b = dd.from_pandas(pd.DataFrame({"x": [3], "y": [0.5]}), npartitions=1)
    >>> dd.concat([a, b]).compute().x.tolist()
    [1, 2, 3]
    """
    ignore_index = kwargs.pop("ignore_index", False)
    if kwargs:
        raise TypeError(f"concat got unsupported arguments: {', '.join(sorted(kwargs))}")
    dfs = [_as_frame(d, f"#{i}") for i, d in enumerate(dfs)]
    if not dfs:
        raise ValueError("concat needs at least one frame")
    if join not in ("outer", "inner"):
        raise ValueError(f"join must be 'outer' or 'inner', got {join!r}")
    if len(dfs) == 1:
        return dfs[0]
    if axis in (1, "columns"):
        aligned = align_partitions(dfs)
        return map_partitions(_concat_columns, join, *aligned, token="concat")
    if axis not in (0, "index"):
        raise ValueError(f"axis must be 0 or 1, got {axis!r}")
    meta = make_meta(pd.concat([meta_nonempty(d._meta) for d in dfs], join=join))
    conform = _Conform(meta)
    if all(d.known_divisions for d in dfs):
        try:
            ordered = all(a.divisions[-1] < b.divisions[0] for a, b in itertools.pairwise(dfs))
        except TypeError as e:  # indexes of types that do not compare: rows kept as given
            if interleave_partitions:
                raise ValueError(
                    f"concat(interleave_partitions=True) needs divisions that compare: {e}"
                ) from None
            ordered = False
        if not ordered and interleave_partitions:
            union = sorted(set().union(*(d.divisions for d in dfs)))
            from taskloom.dataframe.shuffle import repartition_divisions

            parts = [repartition_divisions(d, union, force=True) for d in dfs]
            return map_partitions(_concat_rows, conform, *parts, meta=meta, token="concat")
    else:
        ordered = False
    name = f"concat-{tokenize([d._name for d in dfs], join)}"
    layer, divisions, j = {}, [], 0
    for d in dfs:
        for i in builtins.range(d.npartitions):
            layer[(name, j)] = (conform, (d._name, i))
            j += 1
        if ordered:
            divisions.extend(d.divisions[:-1])
    divisions = [*divisions, dfs[-1].divisions[-1]] if ordered else [None] * (j + 1)
    layers = merge_layers(*dfs)
    layers[name] = layer
    out = new_collection(layers, name, meta, divisions)
    return out.reset_index(drop=True) if ignore_index else out


def _concat_rows(conform: _Conform, *parts: Any) -> Any:
    # Rows of several frames falling in one division: sorted by the index (stable, so
    # earlier frames first among equal labels), as known divisions promise.
    return conform(pd.concat([conform(p) for p in parts]).sort_index(kind="stable"))


def _concat_columns(join: str, *parts: Any) -> pd.DataFrame:
    return pd.concat(parts, axis=1, join=join)


class _MergeAsof:
    """``pandas.merge_asof`` of a left partition with the whole right side."""

    __slots__ = ("kwargs",)

    def __init__(self, kwargs: dict) -> None:
        self.kwargs = kwargs

    def __call__(self, left: Any, right: Any) -> pd.DataFrame:
        return pd.merge_asof(left, right, **self.kwargs)

    def __dask_tokenize__(self) -> Any:
        return ("merge-asof", sorted(self.kwargs.items(), key=str))


def merge_asof(
    left: Any,
    right: Any,
    on: Any = None,
    left_on: Any = None,
    right_on: Any = None,
    left_index: bool = False,
    right_index: bool = False,
    by: Any = None,
    left_by: Any = None,
    right_by: Any = None,
    suffixes: tuple = ("_x", "_y"),
    tolerance: Any = None,
    allow_exact_matches: bool = True,
    direction: str = "backward",
) -> Any:
    """Match each left row with the nearest right row by key, as
    :func:`pandas.merge_asof` (every partition's keys must be sorted, as pandas needs).

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> l = dd.from_pandas(pd.DataFrame({"t": [1, 5, 10]}), npartitions=2)
    >>> r = dd.from_pandas(pd.DataFrame({"t": [2, 6], "v": ["a", "b"]}), npartitions=2)
    >>> dd.merge_asof(l, r, on="t").compute().v.tolist()
    [nan, 'a', 'b']
    """
    if direction not in ("backward", "forward", "nearest"):
        raise ValueError(f"direction must be 'backward', 'forward' or 'nearest', got {direction!r}")
    kwargs = dict(
        on=on,
        left_on=left_on,
        right_on=right_on,
        left_index=left_index,
        right_index=right_index,
        by=by,
        left_by=left_by,
        right_by=right_by,
        suffixes=suffixes,
        tolerance=tolerance,
        allow_exact_matches=allow_exact_matches,
        direction=direction,
    )
    if not isinstance(left, _Frame):
        if isinstance(right, _Frame):
            raise TypeError("merge_asof: left and right must both be taskloom or pandas")
        return pd.merge_asof(left, right, **kwargs)
    left, right = _as_frame(left, "left"), _as_frame(right, "right")
    call = _MergeAsof(kwargs)
    meta = make_meta(call(left._meta, right._meta))
    token = tokenize(left._name, right._name, call)
    whole = f"merge-asof-right-{token}"
    name = f"merge-asof-{token}"
    from taskloom.dataframe._primitives import concat_partitions

    keys = [(right._name, i) for i in builtins.range(right.npartitions)]
    layer: dict = {(whole, 0): (concat_partitions, keys)}
    for i in builtins.range(left.npartitions):
        layer[(name, i)] = (call, (left._name, i), (whole, 0))
    layers = merge_layers(left, right)
    layers[name] = layer
    divisions = left.divisions if left_index else (None,) * (left.npartitions + 1)
    return new_collection(layers, name, meta, divisions)
