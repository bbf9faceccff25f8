"""``groupby``: aggregations as tree reductions of per-group partial results.

An aggregation request (``sum()``, ``agg({'x': 'sum', 'y': ['min', 'max']})``, named
aggregations) is normalised into *specs*, ``(output label, column, how)``, and each spec
into the partials it needs: ``mean`` needs ``sum`` and ``count``; ``var``/``std`` need
``count``, ``sum`` and ``m2`` (the sum of squared deviations from the group's mean in
that partition, merged with Chan's formula, so there is no cancellation as with sums of
squares). Each partition computes all partials of one request in one pandas groupby;
``combine`` groups the concatenated partials again by the group keys (now the index);
the root turns partials into results and sorts the groups when ``sort=True``. The tree
bounds fan-in by ``split_every``; with ``split_out=k`` the partials are split by a
stable hash of the group keys into ``k`` independent trees, one output partition each.
A user's :class:`Aggregation` is one more partial: its ``chunk`` runs on each
partition's grouped column, its ``agg`` on the regrouped concatenation at every combine
and at the root (so ``agg`` always runs at least once, even on one partition), its
``finalize`` at the root, as in Dask. ``median`` inside ``agg`` makes the whole request
exact per group, as Dask does: the rows are hash-shuffled by key and every partial of
the request is computed on whole groups, then gathered (``split_out=1``) or left in
``split_out`` partitions.
``nunique`` merges distinct ``(key, value)`` pairs instead; ``apply``/``transform``
hash-shuffle the rows so every group is in one partition, then run pandas per partition,
as do the fills, ``shift``, grouped ``rolling`` and the reductions without a cheap merge
(``median``, ``idxmin``/``idxmax``, ``cov``/``corr``, ``value_counts``, ``unique``; these
gathered into one sorted partition unless ``split_out`` keeps the shuffle's). The running
``cumsum``/``cumprod``/``cumcount`` keep the partitions: each gets the groups' totals of
the partitions before it along a chain of small tasks. ``head``/``tail`` are tree
reductions of whole rows, so row order is kept. With ``observed=False`` and a
categorical key, pandas lists every category (NaN too when ``dropna=False`` keeps it)
beside each combination of the plain keys' values that occurs: the merged partials are
regrouped with ``observed=False``, so they list the combinations of every value seen;
the results of whole groups list the groups without rows once each (see
:func:`_split_listed`), and ``value_counts`` counts the distinct ``(keys, value)`` rows
in a tree reduction so pandas lists groups and values at the root. A NaN category kept
by ``dropna=False`` meets the other keys' values only where it is held: the
combinations no partition (or no ``split_out`` tree) lists are found from every
partition's keys and get an empty group's result (:func:`_missing_rows`). Where no
partition computed an empty group's result to copy, that is a clear
NotImplementedError, never a missing row.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from taskloom.core import combine_tree
from taskloom.dataframe._meta import make_meta, meta_nonempty
from taskloom.dataframe.core import (
    Series,
    _Frame,
    concat_partitions,
    map_partitions,
    map_scalars,
    new_collection,
    no_default,
    tree_reduction,
)
from taskloom.tokenize import tokenize

__all__ = [
    "SUPPORTED",
    "Aggregation",
    "DataFrameGroupBy",
    "GroupBy",
    "RollingGroupby",
    "SeriesGroupBy",
]

# The partial each aggregation is merged by, for those merged by themselves.
_SELF_MERGED = {
    "sum": "sum",
    "count": "sum",
    "size": "sum",
    "min": "min",
    "max": "max",
    "first": "first",
    "last": "last",
    "prod": "prod",
}
_NEEDS = {"mean": ("sum", "count"), "var": ("count", "sum", "m2"), "std": ("count", "sum", "m2")}
# Reductions without a cheap merge: exact only on whole groups (after a shuffle, or
# as distinct pairs for nunique), where each group is one row of the partials.
_WHOLE_GROUP = ("median", "nunique")
SUPPORTED = (*_SELF_MERGED, *_NEEDS, *_WHOLE_GROUP)


class Aggregation:
    """A user-defined groupby aggregation in three steps, as Dask's ``dd.Aggregation``.

    Parameters
    ----------
    name : str
        The aggregation's name: the label of its result column in lists and dicts;
        it must differ from the other aggregations of the same column.
    chunk : callable
        Called with each partition's grouped column (a pandas ``SeriesGroupBy``);
        returns a Series indexed by the groups, or a tuple of such Series.
    agg : callable
        Called with the regrouped concatenation of ``chunk``'s (or its own) results,
        one ``SeriesGroupBy`` per Series of the tuple, as positional arguments; returns
        the same shape. It runs at every combine of the tree and at the root.
    finalize : callable, optional
        Called at the root with ``agg``'s Series; returns the result Series. Without it
        ``agg`` must return a single Series, which is the result.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> custom_mean = dd.Aggregation(
    ...     "custom_mean",
    ...     chunk=lambda s: (s.count(), s.sum()),
    ...     agg=lambda count, total: (count.sum(), total.sum()),
    ...     finalize=lambda count, total: total / count,
    ... )
    >>> pdf = pd.DataFrame({"k": list("abab"), "x": [1.0, 2.0, 3.0, 5.0]})
    >>> df = dd.from_pandas(pdf, npartitions=2)
    >>> df.groupby("k").x.agg(custom_mean).compute().to_dict()
    {'a': 2.0, 'b': 3.5}
    """

    def __init__(
        self, name: str, chunk: Callable, agg: Callable, finalize: Callable | None = None
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Aggregation name must be a non-empty string, got {name!r}")
        for what, func in (("chunk", chunk), ("agg", agg), ("finalize", finalize)):
            if func is not None and not callable(func):
                raise TypeError(
                    f"Aggregation {name!r}: {what} must be callable, got {type(func).__name__}"
                )
            if func is None and what != "finalize":
                raise TypeError(f"Aggregation {name!r}: {what} must be callable, got None")
        self.chunk, self.agg, self.finalize = chunk, agg, finalize
        self.__name__ = name

    def __repr__(self) -> str:
        return f"Aggregation({self.__name__!r})"

    def __dask_tokenize__(self) -> Any:
        return (
            "groupby-aggregation",
            self.__name__,
            tokenize(self.chunk),
            tokenize(self.agg),
            tokenize(self.finalize),
        )


def _is_custom(how: Any) -> bool:
    return isinstance(how, Aggregation)


def _as_aggregation(h: Any) -> Any:
    """Dask's own ``Aggregation`` objects (anything with its four attributes) as ours,
    so code written for ``dask.dataframe`` runs unchanged; other values as they are."""
    if isinstance(h, Aggregation) or isinstance(h, str):
        return h
    if all(hasattr(h, a) for a in ("chunk", "agg", "finalize", "__name__")):
        return Aggregation(h.__name__, h.chunk, h.agg, h.finalize)
    return h


def _normalize_arg(arg: Any) -> Any:
    if isinstance(arg, dict):
        return {k: _normalize_arg(v) for k, v in arg.items()}
    if isinstance(arg, list | tuple):
        return type(arg)(_as_aggregation(h) for h in arg)
    return _as_aggregation(arg)


def _has_custom(arg: Any) -> bool:
    if isinstance(arg, dict):
        return any(_has_custom(v) for v in arg.values())
    if isinstance(arg, list | tuple):
        return any(_has_custom(v) for v in arg)
    return _is_custom(arg)


class _StepTypeError(TypeError):
    """A user's step returned something else than Series (reported as it is, also
    when met while inferring the metadata)."""


class _StepValueError(ValueError):
    """A user's aggregation whose steps do not fit together."""


def _custom_call(agg: Aggregation, step: str, *args: Any) -> tuple:
    """``step`` of a user's aggregation, its result checked: a tuple of Series."""
    out = getattr(agg, step)(*args)
    parts = out if isinstance(out, tuple) else (out,)
    for p in parts:
        if not isinstance(p, pd.Series):
            raise _StepTypeError(
                f"Aggregation {agg.__name__!r}: {step} must return a Series or a tuple of "
                f"Series indexed by the groups, got {type(p).__name__}"
            )
    if not parts:
        raise _StepTypeError(f"Aggregation {agg.__name__!r}: {step} returned an empty tuple")
    return parts


def _custom_columns(frame: pd.DataFrame, i: int) -> list:
    """The partial columns of the user's aggregation at position ``i``, in order."""
    prefix = f"c{i}."
    found = [c for c in frame.columns if isinstance(c, str) and c.startswith(prefix)]
    return sorted(found, key=lambda c: int(c[len(prefix) :]))


def _put_custom(out: dict, i: int, parts: tuple) -> None:
    for j, p in enumerate(parts):
        out[f"c{i}.{j}"] = p


class _Plan:
    """The partials of one aggregation request and how to finish them."""

    def __init__(
        self,
        keys: list,
        level: Any,
        specs: list,
        ddof: int,
        dropna: bool,
        observed: bool,
        whole_groups: bool = False,
    ) -> None:
        self.keys, self.level, self.specs = keys, level, specs
        self.ddof, self.dropna, self.observed = ddof, dropna, observed
        # True when every partition holds whole groups (after a shuffle): then the
        # reductions of _WHOLE_GROUP are exact per partition.
        self.whole_groups = whole_groups
        partials: list = []
        for _, col, how in specs:
            for p in _NEEDS.get(how, (how,)) if isinstance(how, str) else (how,):
                if not any(_same_partial(c, h, col, p) for c, h in partials):
                    partials.append((col, p))
        self.partials = partials
        self.custom = any(_is_custom(h) for _, h in partials)

    def _position(self, col: Any, how: Any) -> int:
        for i, (c, h) in enumerate(self.partials):
            if _same_partial(c, h, col, how):
                return i
        raise KeyError((col, how))

    def __dask_tokenize__(self) -> Any:
        return (
            "groupby-plan",
            self.keys,
            self.level,
            self.specs,
            self.ddof,
            self.dropna,
            self.observed,
            self.whole_groups,
        )

    def _group(self, part: pd.DataFrame) -> Any:
        if self.level is not None:
            return part.groupby(
                level=self.level, sort=False, dropna=self.dropna, observed=self.observed
            )
        return part.groupby(self.keys, sort=False, dropna=self.dropna, observed=self.observed)

    def chunk(self, part: pd.DataFrame) -> pd.DataFrame:
        g = self._group(part)
        out = {}
        for i, (col, how) in enumerate(self.partials):
            if _is_custom(how):
                _put_custom(out, i, _custom_call(how, "chunk", g[col]))
            elif how in _WHOLE_GROUP and not self.whole_groups:
                raise RuntimeError(f"{how} needs whole groups; this plan's partitions are not")
            elif how == "size":
                out[i] = g.size()
            elif how == "m2":
                out[i] = (g[col].var(ddof=0) * g[col].count()).fillna(0.0)
            else:
                out[i] = getattr(g[col], how)()
        return self._frame(out, g)

    def _frame(self, out: dict, g: Any) -> pd.DataFrame:
        if out:
            return pd.DataFrame(out)
        return pd.DataFrame(index=g.size().index)

    def combine(self, parts: list) -> pd.DataFrame:
        both = concat_partitions(parts)
        # A user's agg runs at least once whatever the number of partitions, as in Dask.
        if len(parts) == 1 and not self.custom:
            return both
        levels = list(builtins.range(both.index.nlevels))
        # observed=False: each partition lists the combinations of the values it
        # holds; regrouped, the partials list those of all values held so far (a NaN
        # category of one partition beside a plain value of another).
        g = both.groupby(level=levels, sort=False, dropna=False, observed=self.observed)
        out = {}
        for i, (col, how) in enumerate(self.partials):
            if _is_custom(how):
                args = [g[c] for c in _custom_columns(both, i)]
                _put_custom(out, i, _custom_call(how, "agg", *args))
            elif how in _WHOLE_GROUP:
                # Whole groups: each group is one row already (regrouped only because
                # a user's agg regroups the partials).
                out[i] = g[i].first()
            elif how == "m2":
                n_col = self._position(col, "count")
                s_col = self._position(col, "sum")
                n, s = both[n_col].astype(float), both[s_col].astype(float)
                total_n = g[n_col].transform("sum").astype(float)
                total_mean = g[s_col].transform("sum") / total_n.where(total_n > 0)
                spread = (n * (s / n.where(n > 0) - total_mean) ** 2).fillna(0.0)
                out[i] = (
                    (both[i] + spread)
                    .groupby(level=levels, sort=False, dropna=False, observed=self.observed)
                    .sum()
                )
            else:
                out[i] = getattr(g[i], _SELF_MERGED[how])()
        return self._frame(out, g)

    def aggregate(
        self, sort: bool, as_series: bool, columns: Any, index_names: list, parts: list
    ) -> Any:
        merged = self.combine(parts)
        results = {}
        for label, col, how in self.specs:
            if _is_custom(how):
                value = _finalize_custom(how, merged, self._position(col, how))
            elif how in _NEEDS:
                n = merged[self._position(col, "count")]
                s = merged[self._position(col, "sum")]
                if how == "mean":
                    value = s / n.where(n > 0)
                else:
                    m2 = merged[self._position(col, "m2")]
                    value = m2 / (n - self.ddof).where(n - self.ddof > 0)
                    if how == "std":
                        value = np.sqrt(value)
            else:
                value = merged[self._position(col, how)]
            results[label] = value
        out = pd.DataFrame(results, index=merged.index)
        out.index.names = index_names
        return _shape(out, sort, as_series, columns)


def _finalize_custom(agg: Aggregation, merged: pd.DataFrame, i: int) -> pd.Series:
    args = [merged[c] for c in _custom_columns(merged, i)]
    if agg.finalize is None:
        if len(args) != 1:
            raise _StepValueError(
                f"Aggregation {agg.__name__!r} has no finalize, so its agg must return one "
                f"Series, not a tuple of {len(args)}"
            )
        return args[0]
    value = agg.finalize(*args)
    if not isinstance(value, pd.Series):
        raise _StepTypeError(
            f"Aggregation {agg.__name__!r}: finalize must return a Series indexed by the "
            f"groups, got {type(value).__name__}"
        )
    return value


def _same_partial(col: Any, how: Any, other_col: Any, other_how: Any) -> bool:
    # A user's aggregation is its own partial (by identity: two of one name are two);
    # a built-in partial by name.
    if col != other_col:
        return False
    if _is_custom(how) or _is_custom(other_how):
        return how is other_how
    return how == other_how


def _split_by_key_hash(frame: pd.DataFrame, n: int) -> list:
    keys = frame.index.to_frame(index=False)
    target = (pd.util.hash_pandas_object(keys, index=False).to_numpy() % np.uint64(n)).astype(
        np.int64
    )
    return [frame.iloc[np.flatnonzero(target == j)] for j in builtins.range(n)]


class _GroupBy:
    """What frame and series groupbys share: keys, plans, the reductions."""

    def __init__(
        self,
        obj: _Frame,
        by: Any = None,
        level: Any = None,
        sort: bool = True,
        dropna: bool = True,
        observed: bool = True,
        group_keys: bool = True,
        _selection: Any = None,
        _frame: Any = None,
        _keys: Any = None,
        _key_names: Any = None,
    ) -> None:
        self.sort, self.dropna, self.observed, self.group_keys = sort, dropna, observed, group_keys
        self.level = level
        if _frame is not None:  # a column selection of an existing groupby
            self.obj, self.keys, self.key_names = _frame, _keys, _key_names
            self.selection = _selection
            return
        if by is None and level is None:
            raise TypeError("groupby needs by= or level=")
        frame = (
            obj.to_frame()
            if isinstance(obj, Series) and not isinstance(obj._meta, pd.DataFrame)
            else obj
        )
        keys, key_names = [], []
        for i, b in enumerate(by if isinstance(by, list) else ([] if by is None else [by])):
            if isinstance(b, Series) and _own_column(frame, b):
                # The frame's own column given as a Series (``df.groupby(df.k)``): a
                # key like ``groupby("k")``, so it is not aggregated, as in pandas.
                keys.append(b.name)
                key_names.append(b.name)
            elif isinstance(b, Series):
                temp = f"__groupby_key_{i}"
                frame = frame.assign(**{temp: b})
                keys.append(temp)
                key_names.append(b.name)
            elif isinstance(b, _Frame):
                raise TypeError("groupby keys may be column names or Series, not a DataFrame")
            else:
                if b not in frame._meta.columns:
                    raise KeyError(
                        f"groupby key {b!r} is not a column; the columns are "
                        f"{list(frame._meta.columns)}"
                    )
                keys.append(b)
                key_names.append(b)
        self.obj, self.keys, self.key_names = frame, keys, key_names
        if isinstance(obj, Series):
            self.selection = obj.name if obj.name is not None else frame._meta.columns[0]
        else:
            self.selection = None

    # -- the pandas object the metadata comes from --
    def _value_columns(self) -> list:
        if self.selection is None:
            return [c for c in self.obj._meta.columns if c not in self.keys]
        return [self.selection] if not isinstance(self.selection, list) else self.selection

    def _meta_groupby(self) -> Any:
        part = meta_nonempty(self.obj._meta)
        g = part.groupby(
            self.keys if self.level is None else None,
            level=self.level,
            sort=self.sort,
            dropna=self.dropna,
            observed=self.observed,
        )
        return g if self.selection is None else g[self.selection]

    def _index_names(self) -> list:
        if self.level is not None:
            levels = self.level if isinstance(self.level, list) else [self.level]
            names = self.obj._meta.index.names
            return [names[lv] if isinstance(lv, int) else lv for lv in levels]
        return list(self.key_names)

    def _fix_meta(self, meta: Any) -> Any:
        meta = make_meta(meta)
        if isinstance(meta, pd.DataFrame | pd.Series):
            meta.index.names = self._index_names()
        return meta

    # -- aggregation --
    def _specs(self, arg: Any, named: dict) -> tuple[list, bool, Any]:
        """``(specs, as_series, output columns)`` of an aggregation request."""
        series = self._is_series()
        if named:
            specs = []
            for label, value in named.items():
                if series and not isinstance(value, tuple):
                    # A series groupby's named aggregation: label=function, as pandas.
                    specs.append((label, self.selection, _how(value)))
                    continue
                if not (isinstance(value, tuple) and len(value) == 2):
                    raise TypeError(f"named aggregation {label}= needs (column, function)")
                if value[0] not in self.obj._meta.columns:
                    raise KeyError(
                        f"named aggregation {label}=: column {value[0]!r} is not in the frame"
                    )
                specs.append((label, value[0], _how(value[1])))
            return specs, False, pd.Index([s[0] for s in specs])
        if isinstance(arg, dict):
            if series:
                raise TypeError("a dict of aggregations needs a frame groupby, not a series")
            specs, nested = [], False
            for col, hows in arg.items():
                if col not in self.obj._meta.columns:
                    raise KeyError(f"column {col!r} to aggregate is not in the frame")
                if isinstance(hows, list | tuple):
                    nested = True
                    for h in hows:
                        h = _how(h)
                        specs.append(((col, _label(h)), col, h))
                else:
                    h = _how(hows)
                    specs.append(((col, _label(h)), col, h))
            _check_clashes(specs)
            labels = [s[0] for s in specs]
            columns = (
                pd.MultiIndex.from_tuples(labels)
                if nested
                else pd.Index([lab[0] for lab in labels])
            )
            return specs, False, columns
        if isinstance(arg, list | tuple):
            hows = [_how(h) for h in arg]
            if series:
                specs = [(_label(h), self.selection, h) for h in hows]
                _check_clashes([((self.selection, lab), c, h) for lab, c, h in specs])
                return specs, False, pd.Index([s[0] for s in specs])
            cols = self._value_columns()
            specs = [((c, _label(h)), c, h) for c in cols for h in hows]
            _check_clashes(specs)
            return specs, False, pd.MultiIndex.from_tuples([s[0] for s in specs])
        how = _how(arg)
        if series:
            return [(self.selection, self.selection, how)], True, self.selection
        cols = self._value_columns()
        return [(c, c, how) for c in cols], False, pd.Index(cols)

    def _is_series(self) -> bool:
        return isinstance(self.selection, str | int | float | tuple) and not isinstance(
            self.selection, list
        )

    def _plan(self, specs: list, ddof: int, whole_groups: bool = False) -> _Plan:
        return _Plan(self.keys, self.level, specs, ddof, self.dropna, self.observed, whole_groups)

    def _plan_frame(self, plan: _Plan) -> Any:
        """The columns a plan reads: the keys and the aggregated columns."""
        if self.level is not None:
            return self.obj
        needed = list(dict.fromkeys([*self.keys, *(c for c, h in plan.partials if h != "size")]))
        return self.obj[needed]

    def _aggregate(
        self,
        arg: Any,
        split_every: int | None,
        split_out: int,
        ddof: int,
        meta: Any,
        named: dict | None = None,
    ) -> Any:
        specs, as_series, columns = self._specs(arg, named or {})
        if any(how == "median" for _, _, how in specs if isinstance(how, str)):
            return self._whole_groups(specs, as_series, columns, ddof, split_every, split_out, meta)
        if any(how == "nunique" for _, _, how in specs if isinstance(how, str)):
            return self._with_nunique(specs, as_series, columns, split_every, ddof, meta)
        plan = self._plan(specs, ddof)
        frame = self._plan_frame(plan)
        finish = _Finish(
            plan, self.sort and split_out == 1, as_series, columns, self._index_names(), meta
        )
        if split_out == 1:
            return tree_reduction(
                frame, plan.chunk, plan.combine, finish, meta, split_every, token="groupby-agg"
            )
        return _split_out_reduction(frame, plan, finish, meta, split_every, split_out)

    def _whole_groups(
        self,
        specs: list,
        as_series: bool,
        columns: Any,
        ddof: int,
        split_every: int | None,
        split_out: int,
        meta: Any,
    ) -> Any:
        """The request on whole groups, as Dask does when it holds ``median``: the rows
        hash-shuffled by key, every partial computed per partition (exact, since each
        group is in one partition), then gathered into one partition unless
        ``split_out`` asks for more."""
        plan = self._plan(specs, ddof, whole_groups=True)
        frame = self._plan_frame(plan)
        shuffled = self._shuffled(frame, split_out if split_out > 1 else None)
        n = shuffled.npartitions
        finish = _Finish(plan, False, as_series, columns, self._index_names(), meta)
        listed = self._lists_unobserved()
        step = _FinishPart(finish, listed, self.keys, self.level)
        name = f"groupby-agg-whole-{tokenize(shuffled._name, step)}"
        layer = {(name, j): (step, (shuffled._name, j)) for j in builtins.range(n)}
        out = new_collection({**shuffled._layers, name: layer}, name, meta, (None,) * (n + 1))
        if listed:
            return _place_listed_groups(
                out,
                meta,
                self.sort,
                split_every,
                split_out == 1,
                "groupby-agg",
                self._check_keys(),
            )
        if split_out > 1:
            return out
        return self._gathered(out, split_every, "groupby-agg-gather")

    def _gathered(self, out: Any, split_every: int | None, token: str) -> Any:
        """Whole groups spread over partitions, gathered into one by a tree of concats
        (index-sorted when the groupby sorts)."""
        return tree_reduction(
            out,
            _identity,
            concat_partitions,
            partial(_concat_sorted, self.sort),
            out._meta,
            split_every,
            token=token,
        )

    def _key_dtypes(self) -> list:
        """The dtypes of the grouping keys (index levels or columns)."""
        meta = self.obj._meta
        if self.level is not None:
            levels = self.level if isinstance(self.level, list) else [self.level]
            return [meta.index.get_level_values(lv).dtype for lv in levels]
        return [meta[k].dtype for k in self.keys]

    def _lists_unobserved(self) -> bool:
        """Whether pandas lists groups without rows: ``observed=False`` and a
        categorical key."""
        if self.observed:
            return False
        dtypes = self._key_dtypes()
        return any(isinstance(d, pd.CategoricalDtype) for d in dtypes)

    def _check_keys(self) -> int:
        """The number of keys when there are two or more and ``dropna=False``: a
        categorical key's NaN is then listed beside the other keys' values only by the
        partitions holding it, so pandas' ``observed=False`` may list combinations no
        single partition lists (see :func:`_fill_product`); else 0. (Plain keys list
        only the combinations of their values that occur, each in the partition
        holding its rows, beside every category.)"""
        nkeys = len(self._key_dtypes())
        return nkeys if not self.dropna and nkeys > 1 else 0

    def _with_nunique(
        self,
        specs: list,
        as_series: bool,
        columns: Any,
        split_every: int | None,
        ddof: int,
        meta: Any,
    ) -> Any:
        pieces = []
        for _, col, how in specs:
            if how == "nunique":
                pieces.append(_nunique(self, col, split_every))
            else:
                sub = _GroupBy(
                    self.obj,
                    _frame=self.obj,
                    _keys=self.keys,
                    _key_names=self.key_names,
                    _selection=col,
                    sort=self.sort,
                    dropna=self.dropna,
                    observed=self.observed,
                    level=self.level,
                )
                pieces.append(sub._aggregate(how, split_every, 1, ddof, None))
        return map_scalars(_join_columns, as_series, columns, self.sort, *pieces, meta=meta)

    def _custom_meta(self, arg: Any, named: dict, ddof: int) -> Any:
        """The metadata of a request holding a user's aggregation: the request run on
        the fake rows of the metadata (pandas cannot run it), then emptied."""
        specs, as_series, columns = self._specs(arg, named)
        plan = self._plan(specs, ddof, whole_groups=True)
        finish = _Finish(plan, self.sort, as_series, columns, self._index_names())
        part = meta_nonempty(self._plan_frame(plan)._meta)
        try:
            out = finish([plan.chunk(part)])
        except (_StepTypeError, _StepValueError):
            raise
        except Exception as exc:
            names = sorted({h.__name__ for _, _, h in specs if _is_custom(h)})
            raise ValueError(
                f"groupby agg: the aggregation(s) {names} failed on the metadata's fake "
                f"rows ({type(exc).__name__}: {exc})"
            ) from exc
        return self._fix_meta(out)

    def agg(
        self,
        arg: Any = None,
        split_every: int | None = 8,
        split_out: Any = None,
        shuffle_method: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Aggregate with a name, a list of names, a dict column -> name(s), or named
        aggregations ``label=(column, name)`` (``label=name`` on a series groupby);
        names are those of :data:`SUPPORTED`, and a user's :class:`Aggregation` may
        stand wherever a name does. ``median`` makes the whole request run on whole
        groups after a hash shuffle, as in Dask.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> pdf = pd.DataFrame({"k": list("abab"), "x": [1, 2, 3, 4], "y": [4, 3, 2, 1]})
        >>> df = dd.from_pandas(pdf, npartitions=2)
        >>> df.groupby("k").agg({"x": "sum", "y": "max"}).compute().to_dict("index")
        {'a': {'x': 4, 'y': 4}, 'b': {'x': 6, 'y': 3}}
        >>> df.groupby("k").x.agg(["sum", "median"]).compute().to_dict("index")
        {'a': {'sum': 4, 'median': 2.0}, 'b': {'sum': 6, 'median': 3.0}}
        """
        ddof = kwargs.pop("ddof", 1)
        named = {k: _normalize_arg(v) for k, v in kwargs.items()} if arg is None else {}
        if arg is None and not named:
            raise TypeError("agg needs an aggregation (a name, list, dict or label=(col, how))")
        if arg is not None and kwargs:
            raise TypeError(f"agg got unexpected arguments: {sorted(kwargs)}")
        arg = _normalize_arg(arg)
        if _has_custom(arg) or _has_custom(list(named.values())):
            meta = self._custom_meta(arg, named, ddof)
        else:
            self._specs(arg, named)  # our own checks and messages before pandas'
            g = self._meta_groupby()
            meta = g.agg(arg, **_meta_kwargs(ddof, arg)) if arg is not None else g.agg(**named)
            meta = self._fix_meta(meta)
        split_out = _split_out(split_out, self.obj.npartitions, len(self.keys))
        return self._aggregate(arg, split_every, split_out, ddof, meta, named=named)

    aggregate = agg

    def _simple(
        self,
        how: str,
        split_every: int | None = None,
        split_out: Any = None,
        ddof: int = 1,
        numeric_only: bool = False,
        min_count: int | None = None,
        shuffle_method: Any = None,
    ) -> Any:
        if numeric_only:
            return self._numeric_columns()._simple(
                how, split_every, split_out, ddof, False, min_count
            )
        split_out = _split_out(split_out, self.obj.npartitions, len(self.keys))
        g = self._meta_groupby()
        meta = getattr(g, how)(**({"ddof": ddof} if how in ("var", "std") else {}))
        out = self._aggregate(how, split_every, split_out, ddof, self._fix_meta(meta))
        if not min_count:
            return out
        # pandas' min_count: groups with fewer values present give NaN.
        counts = self._aggregate("count", split_every, split_out, 1, self._fix_meta(g.count()))
        meta = make_meta(getattr(g, how)(min_count=min_count))
        return map_partitions(_at_least, out, counts, min_count, meta=self._fix_meta(meta))

    def _numeric_columns(self) -> _GroupBy:
        """This groupby restricted to its numeric value columns (``numeric_only=True``)."""
        if not (self.selection is None or isinstance(self.selection, list)):
            return self
        meta = self.obj._meta
        cols = [c for c in self._value_columns() if pd.api.types.is_numeric_dtype(meta[c])]
        return DataFrameGroupBy(
            self.obj,
            _frame=self.obj,
            _keys=self.keys,
            _key_names=self.key_names,
            _selection=cols,
            sort=self.sort,
            dropna=self.dropna,
            observed=self.observed,
            level=self.level,
        )

    def sum(self, numeric_only: bool = False, min_count: int | None = None, **kwargs: Any) -> Any:
        """Sum per group; ``kwargs``: ``split_every``, ``split_out``, as in Dask.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> pdf = pd.DataFrame({"k": list("abb"), "x": [1.0, 2.0, None]})
        >>> dd.from_pandas(pdf, npartitions=2).groupby("k").x.sum(min_count=2).compute().tolist()
        [nan, nan]
        """
        return self._simple("sum", numeric_only=numeric_only, min_count=min_count, **kwargs)

    def prod(self, numeric_only: bool = False, min_count: int | None = None, **kwargs: Any) -> Any:
        """Product per group (see :meth:`sum`)."""
        return self._simple("prod", numeric_only=numeric_only, min_count=min_count, **kwargs)

    def mean(self, numeric_only: bool = False, split_out: Any = None, **kwargs: Any) -> Any:
        """Mean per group (see :meth:`sum`)."""
        return self._simple("mean", numeric_only=numeric_only, split_out=split_out, **kwargs)

    def var(
        self,
        ddof: int = 1,
        split_every: int | None = None,
        split_out: Any = None,
        numeric_only: bool = False,
        shuffle_method: Any = None,
    ) -> Any:
        """Variance per group."""
        return self._simple("var", split_every, split_out, ddof, numeric_only)

    def std(
        self,
        ddof: int = 1,
        split_every: int | None = None,
        split_out: Any = None,
        numeric_only: bool = False,
        shuffle_method: Any = None,
    ) -> Any:
        """Standard deviation per group."""
        return self._simple("std", split_every, split_out, ddof, numeric_only)

    def min(self, numeric_only: bool = False, **kwargs: Any) -> Any:
        """Minimum per group (see :meth:`sum`)."""
        return self._simple("min", numeric_only=numeric_only, **kwargs)

    def max(self, numeric_only: bool = False, **kwargs: Any) -> Any:
        """Maximum per group (see :meth:`sum`)."""
        return self._simple("max", numeric_only=numeric_only, **kwargs)

    def count(self, **kwargs: Any) -> Any:
        """Number of values present per group (see :meth:`sum`)."""
        return self._simple("count", **kwargs)

    def first(self, numeric_only: bool = False, sort: bool | None = None, **kwargs: Any) -> Any:
        """First value present per group, in row order (``sort`` overrides the
        groupby's for the order of the groups)."""
        return self._with_sort(sort)._simple("first", numeric_only=numeric_only, **kwargs)

    def last(self, numeric_only: bool = False, sort: bool | None = None, **kwargs: Any) -> Any:
        """Last value present per group, in row order (see :meth:`first`)."""
        return self._with_sort(sort)._simple("last", numeric_only=numeric_only, **kwargs)

    def _with_sort(self, sort: bool | None) -> _GroupBy:
        if sort is None or sort == self.sort:
            return self
        return type(self)(
            self.obj,
            _frame=self.obj,
            _keys=self.keys,
            _key_names=self.key_names,
            _selection=self.selection,
            sort=sort,
            dropna=self.dropna,
            observed=self.observed,
            level=self.level,
        )

    def size(self, **kwargs: Any) -> Series:
        """Number of rows per group; ``kwargs``: ``split_every``, ``split_out``."""
        split_every, split_out = kwargs.pop("split_every", None), kwargs.pop("split_out", None)
        kwargs.pop("shuffle_method", None)
        if kwargs:
            raise TypeError(f"size got unexpected arguments: {sorted(kwargs)}")
        split_out = _split_out(split_out, self.obj.npartitions, len(self.keys))
        meta = self._fix_meta(self._meta_groupby().size())
        plan = _Plan(self.keys, self.level, [("size", None, "size")], 1, self.dropna, self.observed)
        finish = _Finish(plan, self.sort, True, meta.name, self._index_names())
        frame = self.obj if self.level is not None else self.obj[self.keys]
        if split_out == 1:
            return tree_reduction(
                frame, plan.chunk, plan.combine, finish, meta, split_every, token="groupby-size"
            )
        return _split_out_reduction(frame, plan, finish, meta, split_every, split_out)

    def nunique(
        self, split_every: int | None = None, split_out: Any = True, shuffle_method: Any = None
    ) -> Any:
        """Number of distinct values per group (a tree reduction of distinct
        ``(key, value)`` pairs; one output partition whatever ``split_out``)."""
        if self.selection is None or isinstance(self.selection, list):
            cols = self._value_columns()
            return self.agg({c: "nunique" for c in cols}, split_every=split_every)
        return _nunique(self, self.selection, split_every)

    # -- per-row results keeping the input's partitions: a carried running state --
    def _cumulative(self, how: str, numeric_only: bool = False) -> Any:
        from taskloom.dataframe.timeseries import _same_index

        frame = self.obj
        kwargs = {} if how == "cumcount" else {"numeric_only": numeric_only}
        meta = _same_index(make_meta(getattr(self._meta_groupby(), how)(**kwargs)), frame._meta)
        cum = _GroupCum(self, how, kwargs)
        token = tokenize(frame._name, cum)
        carry_name, name = f"groupby-{how}-carry-{token}", f"groupby-{how}-{token}"
        n = frame.npartitions
        layer: dict = {}
        carry: list = [None] * n
        for i in builtins.range(1, n):
            layer[(carry_name, i)] = (cum.step, carry[i - 1], (frame._name, i - 1))
            carry[i] = (carry_name, i)
        for i in builtins.range(n):
            layer[(name, i)] = (cum, (frame._name, i), carry[i])
        return new_collection({**frame._layers, name: layer}, name, meta, frame.divisions)

    def cumsum(self, numeric_only: bool = False) -> Any:
        """Running sum within each group, in row order; the partitions stay as they are
        (each gets the groups' totals of the partitions before it).

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> pdf = pd.DataFrame({"k": list("abab"), "x": [1, 2, 3, 4]})
        >>> dd.from_pandas(pdf, npartitions=2).groupby("k").x.cumsum().compute().tolist()
        [1, 2, 4, 6]
        """
        return self._cumulative("cumsum", numeric_only)

    def cumprod(self, numeric_only: bool = False) -> Any:
        """Running product within each group, in row order (see :meth:`cumsum`)."""
        return self._cumulative("cumprod", numeric_only)

    def cumcount(self) -> Series:
        """Position of each row within its group, from 0 (see :meth:`cumsum`)."""
        return self._cumulative("cumcount")

    # -- whole-group functions, after a shuffle --
    def _shuffled(self, frame: Any = None, npartitions: int | None = None) -> Any:
        from taskloom.dataframe.shuffle import hash_shuffle

        frame = self.obj if frame is None else frame
        if self.level is not None:
            return hash_shuffle(frame, None, npartitions)
        return hash_shuffle(frame, self.keys, npartitions)

    def _per_group(
        self,
        method: str,
        args: tuple = (),
        kwargs: dict | None = None,
        meta: Any = no_default,
        keyed: bool = False,
    ) -> Any:
        call = _GroupApply(self, method, args, kwargs or {}, keyed)
        out = map_partitions(call, self._shuffled(), meta=meta, token=f"groupby-{method}")
        if call.keyed and self._lists_unobserved():
            return self._listed(call, out._meta, False, None)
        return out

    def _listed(self, call: _GroupApply, meta: Any, gather: bool, split_every: int | None) -> Any:
        """``call``'s per-group results with the groups pandas lists without rows
        (``observed=False``) each once: gathered or kept in the shuffle's partitions."""
        shuffled = self._shuffled()
        step = _ListedApply(call)
        name = f"groupby-{call.method}-listed-{tokenize(shuffled._name, step)}"
        n = shuffled.npartitions
        layer = {(name, j): (step, (shuffled._name, j)) for j in builtins.range(n)}
        listings = new_collection({**shuffled._layers, name: layer}, name, meta, (None,) * (n + 1))
        error = None
        if call.method in _EMPTY_GROUP_ERRORS:
            error = (
                f"Can't get {call.method} of an empty group due to unobserved categories. "
                "Specify observed=True in groupby instead."
            )
        return _place_listed_groups(
            listings,
            meta,
            self.sort,
            split_every,
            gather,
            f"groupby-{call.method}",
            self._check_keys(),
            error,
        )

    def _per_group_reduction(
        self, method: str, split_out: Any, split_every: int | None = None, **kwargs: Any
    ) -> Any:
        """A result with one row per group, from whole groups after a shuffle: in
        ``split_out`` partitions when it is ``True`` or above 1 (groups unsorted, as in
        Dask), else gathered into one partition (sorted when ``sort=True``)."""
        gather = not (split_out is True or (isinstance(split_out, int) and split_out > 1))
        listed = self._lists_unobserved()
        if listed and method == "value_counts":
            return self._value_counts_listed(split_every, kwargs)
        # idxmin/idxmax of an unobserved group is pandas' error: each partition runs
        # with observed=True (its other listed groups would raise there) and the groups
        # without rows anywhere raise at the end.
        observed = True if method in _EMPTY_GROUP_ERRORS else None
        call = _GroupApply(self, method, (), kwargs, keyed=True, observed=observed)
        out = map_partitions(call, self._shuffled(), token=f"groupby-{method}")
        if listed:
            return self._listed(call, out._meta, gather, split_every)
        if not gather:
            return out
        return self._gathered(out, split_every, f"groupby-{method}-gather")

    def _value_counts_listed(self, split_every: int | None, kwargs: dict) -> Any:
        """``value_counts`` with ``observed=False`` beside a categorical key: a tree
        reduction of the counts of each distinct ``(keys, value)`` row, all of which
        meet at the root, where pandas lists the groups and values (see
        :class:`_ValueCountsFinish`); one output partition whatever ``split_out``."""
        if self.level is not None or kwargs.get("bins") is not None:
            raise NotImplementedError(
                "groupby value_counts with observed=False and a categorical key: index "
                "levels or bins are not supported; use observed=True"
            )
        call = _GroupApply(self, "value_counts", (), kwargs, keyed=True)
        meta = make_meta(call(meta_nonempty(self.obj._meta)))
        finish = _ValueCountsFinish(self, kwargs)
        return tree_reduction(
            self.obj[[*self.keys, self.selection]],
            partial(_row_counts, [*self.keys, self.selection]),
            _merge_row_counts,
            finish,
            meta,
            split_every,
            token="groupby-value_counts",
        )

    def apply(
        self,
        func: Callable,
        *args: Any,
        meta: Any = no_default,
        shuffle_method: Any = None,
        **kwargs: Any,
    ) -> Any:
        """``func`` of each group's rows (as pandas' ``apply``), after a hash shuffle
        that puts every group in one partition."""
        return self._per_group("apply", (func, *args), kwargs, meta=meta)

    def transform(
        self,
        func: Any,
        meta: Any = no_default,
        shuffle_method: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """``func`` of each group, shaped like the input (after a hash shuffle)."""
        call = _GroupApply(self, "transform", (func, *args), kwargs)
        return map_partitions(call, self._shuffled(), meta=meta, token="groupby-transform")

    def ffill(self, limit: int | None = None, shuffle_method: Any = None) -> Any:
        """Fill missing values from the previous row of the same group (at most
        ``limit`` in a row); the rows come back hash-partitioned by group.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> pdf = pd.DataFrame({"k": list("abab"), "x": [1.0, None, None, 4.0]})
        >>> gb = dd.from_pandas(pdf, npartitions=2).groupby("k")
        >>> gb.x.ffill().compute().sort_index().tolist()
        [1.0, nan, 1.0, 4.0]
        """
        return self._per_group("ffill", (), {"limit": limit})

    def bfill(self, limit: int | None = None, shuffle_method: Any = None) -> Any:
        """Fill missing values from the next row of the same group (see :meth:`ffill`)."""
        return self._per_group("bfill", (), {"limit": limit})

    def shift(
        self,
        periods: int = 1,
        meta: Any = no_default,
        shuffle_method: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Each row's value ``periods`` rows earlier in its group (after a shuffle).

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> pdf = pd.DataFrame({"k": list("abab"), "x": [1.0, None, None, 4.0]})
        >>> gb = dd.from_pandas(pdf, npartitions=2).groupby("k")
        >>> gb.x.shift(-1).compute().sort_index().tolist()
        [nan, 4.0, nan, nan]
        """
        return self._per_group("shift", (periods, *args), kwargs, meta=meta)

    def median(
        self,
        split_every: int | None = None,
        split_out: Any = True,
        shuffle_method: Any = None,
        numeric_only: bool = False,
    ) -> Any:
        """Median per group, of whole groups after a shuffle (``split_out`` as in Dask:
        ``True`` keeps the shuffle's partitions).

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> pdf = pd.DataFrame({"k": list("abab"), "x": [1.0, None, None, 4.0]})
        >>> gb = dd.from_pandas(pdf, npartitions=2).groupby("k")
        >>> gb.x.median(split_out=1).compute().to_dict()
        {'a': 1.0, 'b': 4.0}
        """
        return self._per_group_reduction(
            "median", split_out, split_every, numeric_only=numeric_only
        )

    def idxmin(
        self,
        split_every: int | None = None,
        split_out: Any = None,
        skipna: bool = True,
        numeric_only: bool = False,
        shuffle_method: Any = None,
    ) -> Any:
        """Index label of the minimum per group.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> pdf = pd.DataFrame({"k": list("abab"), "x": [1.0, None, None, 4.0]})
        >>> gb = dd.from_pandas(pdf, npartitions=2).groupby("k")
        >>> gb.x.idxmin().compute().to_dict()
        {'a': 0, 'b': 3}
        """
        return self._per_group_reduction(
            "idxmin", split_out, split_every, skipna=skipna, **_numeric_only(self, numeric_only)
        )

    def idxmax(
        self,
        split_every: int | None = None,
        split_out: Any = None,
        skipna: bool = True,
        numeric_only: bool = False,
        shuffle_method: Any = None,
    ) -> Any:
        """Index label of the maximum per group."""
        return self._per_group_reduction(
            "idxmax", split_out, split_every, skipna=skipna, **_numeric_only(self, numeric_only)
        )

    def cov(
        self,
        ddof: int = 1,
        split_every: int | None = None,
        split_out: Any = None,
        numeric_only: bool = False,
        shuffle_method: Any = None,
    ) -> Any:
        """Covariance matrix of the columns within each group (index: keys, column).

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> pdf = pd.DataFrame({"k": [1, 1, 1], "x": [1.0, 2.0, 3.0], "y": [2.0, 4.0, 6.0]})
        >>> dd.from_pandas(pdf, npartitions=2).groupby("k").cov().compute().y.tolist()
        [2.0, 4.0]
        """
        self._needs_frame("cov")
        return self._per_group_reduction(
            "cov", split_out, split_every, ddof=ddof, numeric_only=numeric_only
        )

    def corr(
        self,
        split_every: int | None = None,
        split_out: Any = None,
        numeric_only: bool = False,
        shuffle_method: Any = None,
    ) -> Any:
        """Correlation matrix of the columns within each group (index: keys, column)."""
        self._needs_frame("corr")
        return self._per_group_reduction("corr", split_out, split_every, numeric_only=numeric_only)

    def _needs_frame(self, name: str) -> None:
        if not (self.selection is None or isinstance(self.selection, list)):
            raise NotImplementedError(f"{name} of a SeriesGroupBy; select two or more columns")

    def _head_tail(self, how: str, n: int, split_every: int | None) -> Any:
        if n < 0:
            # pandas drops the other end of each group: that needs the groups' sizes,
            # which a per-partition head/tail does not know (Dask answers wrongly).
            raise NotImplementedError(f"groupby {how}(n) with n < 0 is not supported")
        step = _HeadTail(self.keys, self.level, self.dropna, how, n)
        meta = getattr(self._meta_groupby(), how)(n)
        finish = _HeadTailFinish(step, self.selection, self.keys, self.key_names)
        return tree_reduction(
            self.obj,
            step,
            step.combine,
            finish,
            make_meta(meta),
            split_every,
            token=f"groupby-{how}",
        )

    def head(self, n: int = 5, split_every: int | None = None, split_out: Any = None) -> Any:
        """The first ``n`` rows of each group, in row order as pandas gives them (Dask
        lists them group by group); a tree reduction.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> pdf = pd.DataFrame({"k": list("abab"), "x": [1.0, None, None, 4.0]})
        >>> gb = dd.from_pandas(pdf, npartitions=2).groupby("k")
        >>> gb.x.head(1).compute().tolist()
        [1.0, nan]
        """
        return self._head_tail("head", n, split_every)

    def tail(self, n: int = 5, split_every: int | None = None, split_out: Any = None) -> Any:
        """The last ``n`` rows of each group, in row order (a tree reduction)."""
        return self._head_tail("tail", n, split_every)

    def get_group(self, key: Any) -> Any:
        """The rows of the group ``key`` (a tuple for several keys), partitions kept.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> pdf = pd.DataFrame({"k": list("abab"), "x": [1, 2, 3, 4]})
        >>> dd.from_pandas(pdf, npartitions=2).groupby("k").get_group("a").x.compute().tolist()
        [1, 3]
        """
        call = _GetGroup(self.keys, self.level, self.dropna, self.selection, key)
        meta = make_meta(call(self.obj._meta))
        return map_partitions(call, self.obj, meta=meta, token="groupby-get-group")

    def rolling(
        self,
        window: Any,
        min_periods: int | None = None,
        center: bool = False,
        win_type: Any = None,
        axis: int = 0,
    ) -> RollingGroupby:
        """Rolling windows within each group: call an aggregation (``sum()``, ...).

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> pdf = pd.DataFrame({"k": list("aabb"), "x": [1, 2, 3, 4]})
        >>> r = dd.from_pandas(pdf, npartitions=2).groupby("k").x.rolling(2).sum()
        >>> r.compute().sort_index().tolist()
        [nan, 3.0, nan, 7.0]
        """
        if axis not in (0, "index"):
            raise ValueError(f"axis must be 0, got {axis!r}")
        return RollingGroupby(
            self, window, {"min_periods": min_periods, "center": center, "win_type": win_type}
        )


class _GroupApply:
    """Per partition of a shuffled frame: pandas' groupby method ``method`` with
    ``args``/``kwargs`` (for ``apply``/``transform`` the function comes first in
    ``args``). Results indexed by the group keys (``keyed``) get the keys' own names
    back, since a series key is a temporary column in the shuffled frame."""

    __slots__ = (
        "args",
        "dropna",
        "key_names",
        "keyed",
        "keys",
        "kwargs",
        "level",
        "method",
        "observed",
        "selection",
        "sort",
    )

    def __init__(
        self,
        gb: _GroupBy,
        method: str,
        args: tuple,
        kwargs: dict,
        keyed: bool = False,
        observed: bool | None = None,
    ) -> None:
        self.keys, self.level, self.selection = gb.keys, gb.level, gb.selection
        self.key_names, self.sort, self.dropna = gb.key_names, gb.sort, gb.dropna
        self.observed = gb.observed if observed is None else observed
        self.method, self.args, self.kwargs = method, args, kwargs
        self.keyed = keyed or method == "apply"

    def __call__(self, part: pd.DataFrame) -> Any:
        g = _group_part(part, self.keys, self.level, self.sort, self.dropna, self.observed)
        if self.selection is not None:
            g = g[self.selection]
        elif self.method == "apply" and self.level is None:
            g = g[[c for c in part.columns if c not in self.keys]]
        out = getattr(g, self.method)(*self.args, **self.kwargs)
        if self.keyed and isinstance(out, pd.Series | pd.DataFrame) and self.level is None:
            names = list(out.index.names)
            names[: len(self.key_names)] = self.key_names
            out.index.names = names
        return out

    def __dask_tokenize__(self) -> Any:
        return (
            "group-apply",
            self.keys,
            self.level,
            self.selection,
            self.method,
            self.args,
            self.kwargs,
            self.sort,
            self.dropna,
            self.observed,
            self.keyed,
        )


def _row_counts(columns: list, part: pd.DataFrame) -> pd.Series:
    """How many rows of ``part`` hold each distinct combination of ``columns``' values
    (NaN included), in order of first appearance."""
    return part.groupby(columns, sort=False, dropna=False, observed=True).size()


def _merge_row_counts(parts: list) -> pd.Series:
    counts = concat_partitions(parts)
    levels = list(builtins.range(counts.index.nlevels))
    return counts.groupby(level=levels, sort=False, dropna=False, observed=True).sum()


class _ValueCountsFinish:
    """pandas' ``value_counts`` of whole groups from the counts of the distinct
    ``(keys, value)`` rows in order of first appearance: pandas, run on one row per
    distinct combination, lists the groups and values it would list on all rows (a
    listing depends only on which combinations occur, and their first appearances keep
    its order); the counts then replace its ones and zeros, and the sorts and the
    normalisation are pandas' own steps."""

    __slots__ = (
        "ascending",
        "column",
        "dropna",
        "key_names",
        "keys",
        "normalize",
        "sort",
        "vc_dropna",
        "vc_sort",
    )

    def __init__(self, gb: _GroupBy, kwargs: dict) -> None:
        self.keys, self.key_names, self.column = gb.keys, gb.key_names, gb.selection
        self.sort, self.dropna = gb.sort, gb.dropna
        self.normalize = kwargs.get("normalize", False)
        self.vc_sort = kwargs.get("sort", True)
        self.ascending = kwargs.get("ascending", False)
        self.vc_dropna = kwargs.get("dropna", True)

    def __call__(self, parts: list) -> pd.Series:
        counts = _merge_row_counts(parts)
        rows = counts.index.to_frame(index=False)
        listing = rows.groupby(self.keys, sort=self.sort, dropna=self.dropna, observed=False)[
            self.column
        ].value_counts(sort=False, dropna=self.vc_dropna)
        nlevels = listing.index.nlevels
        found = pd.Index(_key_hashes(counts.index, nlevels)).get_indexer(
            _key_hashes(listing.index, nlevels)
        )
        # found is -1 for a listed combination without rows: the 0 appended last.
        values = np.append(counts.to_numpy(), 0)[found].astype("int64")
        out = pd.Series(values, index=listing.index, name="count")
        if self.vc_sort:
            out = out.sort_values(ascending=self.ascending, kind="stable")
        nkeys = len(self.keys)
        names = [*self.key_names, *out.index.names[nkeys:]]
        if self.sort:
            # Positions as names: pandas' own workaround for integer level names.
            out.index.names = list(builtins.range(nlevels))
            out = out.sort_index(level=list(builtins.range(nkeys)), sort_remaining=False)
        out.index.names = names
        if self.normalize:
            groups = out.index.droplevel(list(builtins.range(nkeys, nlevels)))
            sizes = out.groupby(groups, sort=self.sort, dropna=self.dropna, observed=False)
            out = (out / sizes.transform("sum")).fillna(0.0)
            out.name = "proportion"
        return out

    def __dask_tokenize__(self) -> Any:
        return (
            "groupby-value-counts-finish",
            self.keys,
            self.key_names,
            self.column,
            self.sort,
            self.dropna,
            self.normalize,
            self.vc_sort,
            self.ascending,
            self.vc_dropna,
        )


class _ListedApply:
    """Per partition of a shuffled frame: ``call``'s result split by
    :func:`_split_listed`. For idxmin/idxmax ``call`` runs with ``observed=True`` and
    the listed rows are the sizes of the groups pandas lists without rows."""

    __slots__ = ("call",)

    def __init__(self, call: _GroupApply) -> None:
        self.call = call

    def __call__(self, part: pd.DataFrame) -> tuple:
        c = self.call
        state = _split_listed(c(part), part, c.keys, c.level)
        if c.method not in _EMPTY_GROUP_ERRORS:
            return state
        sizes = _group_part(part, c.keys, c.level, False, c.dropna, False).size()
        _, _, listed, h, _ = _split_listed(sizes, part, c.keys, c.level)
        return state[0], state[1], listed, h, None

    def __dask_tokenize__(self) -> Any:
        return ("group-apply-listed", self.call)


# Per-group methods that pandas refuses on a group without rows.
_EMPTY_GROUP_ERRORS = ("idxmin", "idxmax")


def _group_part(
    part: pd.DataFrame, keys: list, level: Any, sort: bool, dropna: bool, observed: bool = True
) -> Any:
    # observed only matters to results listing groups (the callers that list them
    # pass the user's); row-shaped results are the same either way.
    if level is not None:
        return part.groupby(
            level=level, sort=sort, dropna=dropna, group_keys=True, observed=observed
        )
    return part.groupby(keys, sort=sort, dropna=dropna, group_keys=True, observed=observed)


def _own_column(frame: _Frame, key: Series) -> bool:
    """Whether ``key`` is ``frame[key.name]`` itself (column selections are named by
    their parent and column, so the same selection has the same name)."""
    name = key.name
    try:
        if name not in frame._meta.columns or not frame._meta.columns.is_unique:
            return False
    except TypeError:  # an unhashable name
        return False
    return frame[name]._name == key._name


def _split_out(split_out: Any, npartitions: int, nkeys: int = 1) -> int:
    """Dask's ``split_out``: None or False for one output partition, True for a number
    chosen as Dask does (one per 15 input partitions for one key, more for several keys,
    whose groups are more), else a count."""
    if split_out is None or split_out is False:
        return 1
    if split_out is True:
        if nkeys <= 1:
            return math.ceil(npartitions / 15)
        return math.ceil(npartitions / (10 / (nkeys - 1)))
    if not isinstance(split_out, int) or split_out < 1:
        raise ValueError(f"split_out must be a positive int, True or None, got {split_out!r}")
    return split_out


def _at_least(total: Any, counts: Any, min_count: int) -> Any:
    return total.where(counts >= min_count)


def _identity(part: Any) -> Any:
    return part


def _concat_sorted(sort: bool, parts: list) -> Any:
    out = concat_partitions(parts)
    return out.sort_index() if sort else out


def _numeric_only(gb: _GroupBy, numeric_only: bool) -> dict:
    # pandas' SeriesGroupBy.idxmin/idxmax take no numeric_only.
    return (
        {"numeric_only": numeric_only}
        if gb.selection is None or isinstance(gb.selection, list)
        else {}
    )


def _row_keys(part: pd.DataFrame, keys: list, level: Any) -> pd.Index:
    """Each row's group key, as the index of a per-group result is."""
    if level is not None:
        levels = level if isinstance(level, list) else [level]
        arrays = [part.index.get_level_values(lv) for lv in levels]
    else:
        arrays = [part[k] for k in keys]
    if len(arrays) == 1:
        return pd.Index(arrays[0])
    return pd.MultiIndex.from_arrays(arrays)


class _GroupCum:
    """``cumsum``/``cumprod``/``cumcount`` of one partition given the groups' totals
    (sums, products, row counts) over the partitions before it."""

    __slots__ = ("dropna", "how", "keys", "kwargs", "level", "selection")

    def __init__(self, gb: _GroupBy, how: str, kwargs: dict) -> None:
        self.keys, self.level, self.selection, self.dropna = (
            gb.keys,
            gb.level,
            gb.selection,
            gb.dropna,
        )
        self.how, self.kwargs = how, kwargs

    def _group(self, part: pd.DataFrame) -> Any:
        g = _group_part(part, self.keys, self.level, False, self.dropna)
        return g if self.selection is None else g[self.selection]

    def step(self, carried: Any, part: pd.DataFrame) -> Any:
        """The totals after ``part``, from those before it (None before the first)."""
        g = self._group(part)
        if self.how == "cumcount":
            totals = g.size()
        else:
            totals = getattr(g, "prod" if self.how == "cumprod" else "sum")(**self.kwargs)
        if carried is None:
            return totals
        both = pd.concat([carried, totals])
        g = both.groupby(level=list(builtins.range(both.index.nlevels)), dropna=False)
        return g.prod() if self.how == "cumprod" else g.sum()

    def __call__(self, part: pd.DataFrame, carried: Any) -> Any:
        out = getattr(self._group(part), self.how)(**self.kwargs)
        if carried is None or not len(part):
            return out
        before = carried.reindex(_row_keys(part, self.keys, self.level))
        before = before.fillna(1 if self.how == "cumprod" else 0).set_axis(part.index)
        if isinstance(out, pd.DataFrame):
            before = before[out.columns]
        total = out * before if self.how == "cumprod" else out + before
        return total.astype(out.dtypes.to_dict() if isinstance(out, pd.DataFrame) else out.dtype)

    def __dask_tokenize__(self) -> Any:
        return (
            "group-cum",
            self.keys,
            self.level,
            self.selection,
            self.dropna,
            self.how,
            self.kwargs,
        )


class _HeadTail:
    """Whole rows of the first/last ``n`` of each group: per partition, then again
    over the concatenated survivors, which keep row order."""

    __slots__ = ("dropna", "how", "keys", "level", "n")

    def __init__(self, keys: list, level: Any, dropna: bool, how: str, n: int) -> None:
        self.keys, self.level, self.dropna, self.how, self.n = keys, level, dropna, how, n

    def __call__(self, part: pd.DataFrame) -> pd.DataFrame:
        return getattr(_group_part(part, self.keys, self.level, False, self.dropna), self.how)(
            self.n
        )

    def combine(self, parts: list) -> pd.DataFrame:
        return self(concat_partitions(parts))

    def __dask_tokenize__(self) -> Any:
        return ("group-head-tail", self.keys, self.level, self.dropna, self.how, self.n)


class _HeadTailFinish:
    __slots__ = ("key_names", "keys", "selection", "step")

    def __init__(self, step: _HeadTail, selection: Any, keys: list, key_names: list) -> None:
        self.step, self.selection, self.keys, self.key_names = step, selection, keys, key_names

    def __call__(self, parts: list) -> Any:
        return _select_rows(self.step.combine(parts), self.selection, self.keys, self.key_names)

    def __dask_tokenize__(self) -> Any:
        return ("group-head-tail-finish", self.step, self.selection, self.keys)


def _select_rows(rows: pd.DataFrame, selection: Any, keys: list, key_names: list) -> Any:
    """Rows of the grouped frame as pandas shows them: the selection, else without the
    temporary columns of series keys."""
    if selection is not None:
        return rows[selection]
    temp = [k for k, name in zip(keys, key_names, strict=True) if k != name]
    return rows.drop(columns=temp) if temp else rows


class _GetGroup:
    __slots__ = ("dropna", "key", "keys", "level", "selection")

    def __init__(self, keys: list, level: Any, dropna: bool, selection: Any, key: Any) -> None:
        self.keys, self.level, self.dropna, self.selection = keys, level, dropna, selection
        self.key = key

    def __call__(self, part: pd.DataFrame) -> Any:
        g = _group_part(part, self.keys, self.level, False, self.dropna)
        single = self.level is None and len(self.keys) == 1
        try:
            # Grouped by a one-key list, pandas names groups by 1-tuples.
            rows = g.get_group((self.key,) if single else self.key)
        except KeyError:  # the group has no rows in this partition
            rows = part.iloc[:0]
        names = [k if not k.startswith("__groupby_key_") else None for k in self.keys]
        return _select_rows(rows, self.selection, self.keys, names)

    def __dask_tokenize__(self) -> Any:
        return ("group-get", self.keys, self.level, self.dropna, self.selection, self.key)


class RollingGroupby:
    """``groupby(...).rolling(window)``: each aggregation runs pandas' grouped rolling
    window on whole groups after a shuffle; the result is indexed by the group keys
    and the original index, as pandas gives it."""

    def __init__(self, gb: _GroupBy, window: Any, kwargs: dict) -> None:
        self.gb, self.window, self.kwargs = gb, window, kwargs
        meta_nonempty(gb.obj._meta).rolling(window, **kwargs)  # pandas checks arguments

    def _apply(self, how: str, *args: Any, **kwargs: Any) -> Any:
        call = _GroupRollingCall(self.window, self.kwargs, how, args, kwargs)
        return self.gb._per_group("apply", (call,), {}, keyed=True)

    def apply(self, func: Callable, *args: Any, **kwargs: Any) -> Any:
        """``func`` of each window within each group."""
        return self._apply("apply", func, *args, **kwargs)

    def agg(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Aggregate each window within each group by ``func``."""
        return self._apply("agg", func, *args, **kwargs)

    aggregate = agg

    def count(self) -> Any:
        """Number of values present in each window."""
        return self._apply("count")

    def sum(self) -> Any:
        """Sum of each window."""
        return self._apply("sum")

    def mean(self) -> Any:
        """Mean of each window."""
        return self._apply("mean")

    def median(self) -> Any:
        """Median of each window."""
        return self._apply("median")

    def min(self) -> Any:
        """Minimum of each window."""
        return self._apply("min")

    def max(self) -> Any:
        """Maximum of each window."""
        return self._apply("max")

    def std(self, ddof: int = 1) -> Any:
        """Standard deviation of each window."""
        return self._apply("std", ddof=ddof)

    def var(self, ddof: int = 1) -> Any:
        """Variance of each window."""
        return self._apply("var", ddof=ddof)

    def skew(self) -> Any:
        """Skewness of each window."""
        return self._apply("skew")

    def kurt(self) -> Any:
        """Kurtosis of each window."""
        return self._apply("kurt")

    def quantile(self, q: float) -> Any:
        """Quantile ``q`` of each window."""
        return self._apply("quantile", q)


class _GroupRollingCall:
    """One group's rolling aggregation, applied by ``groupby().apply`` so that the
    keys become the outer index levels."""

    __slots__ = ("args", "how", "how_kwargs", "kwargs", "window")

    def __init__(self, window: Any, kwargs: dict, how: str, args: tuple, how_kwargs: dict) -> None:
        self.window, self.kwargs, self.how = window, kwargs, how
        self.args, self.how_kwargs = args, how_kwargs

    def __call__(self, group: Any) -> Any:
        return getattr(group.rolling(self.window, **self.kwargs), self.how)(
            *self.args, **self.how_kwargs
        )

    def __dask_tokenize__(self) -> Any:
        return (
            "group-rolling",
            str(self.window),
            sorted(self.kwargs.items(), key=str),
            self.how,
            self.args,
            self.how_kwargs,
        )


class _Finish:
    __slots__ = ("as_series", "columns", "empty", "index_names", "plan", "sort")

    def __init__(
        self,
        plan: _Plan,
        sort: bool,
        as_series: bool,
        columns: Any,
        index_names: list,
        meta: Any = None,
    ) -> None:
        self.plan, self.sort, self.as_series = plan, sort, as_series
        self.columns, self.index_names = columns, index_names
        # A user's functions may give other dtypes on no groups than on some (apply on
        # an empty SeriesGroupBy gives object); an empty result takes the metadata's.
        self.empty = meta if plan.custom and isinstance(meta, pd.Series | pd.DataFrame) else None

    def __call__(self, parts: list) -> Any:
        out = self.plan.aggregate(self.sort, self.as_series, self.columns, self.index_names, parts)
        if self.empty is not None and not len(out):
            out = _as_meta_dtypes(out, self.empty)
        return out

    def __dask_tokenize__(self) -> Any:
        return (
            "groupby-finish",
            self.plan,
            self.sort,
            self.as_series,
            list(self.columns) if isinstance(self.columns, pd.Index) else self.columns,
            self.index_names,
            None if self.empty is None else tokenize(self.empty),
        )


def _as_meta_dtypes(out: Any, meta: Any) -> Any:
    try:
        if isinstance(out, pd.DataFrame) and isinstance(meta, pd.DataFrame):
            if list(out.columns) == list(meta.columns):
                return out.astype(dict(zip(out.columns, meta.dtypes, strict=True)))
        elif isinstance(out, pd.Series) and isinstance(meta, pd.Series):
            return out.astype(meta.dtype)
    except (TypeError, ValueError):  # the data decide; the metadata was a guess
        pass
    return out


class _FinishPart:
    """Partition ``j`` of whole groups aggregated completely (chunk, then the root).
    With ``listed`` (``observed=False`` beside a categorical key) the result goes apart
    as :func:`_split_listed` does, for :func:`_place_listed_groups`."""

    __slots__ = ("finish", "keys", "level", "listed")

    def __init__(self, finish: _Finish, listed: bool, keys: list, level: Any) -> None:
        self.finish, self.listed, self.keys, self.level = finish, listed, keys, level

    def __call__(self, part: pd.DataFrame) -> Any:
        out = self.finish([self.finish.plan.chunk(part)])
        if not self.listed:
            return out
        return _split_listed(out, part, self.keys, self.level)

    def __dask_tokenize__(self) -> Any:
        return ("groupby-finish-part", self.finish, self.listed, self.keys, self.level)


# -- unobserved categories on whole groups ------------------------------------------
# With observed=False pandas lists every category (beside a plain key: every category
# with each plain value present) even where no row has it. After a shuffle each
# partition lists the combinations of the values *it* holds, so a group observed in one
# partition is listed as empty by the others, and an unobserved combination may be
# listed by several partitions or by none but one. Each partition's result is therefore
# split into the rows of the groups it holds (owned: exact, each group in exactly one
# partition) and the rows of the groups it merely lists; the listed rows of a group that
# no partition owns come out once (from the first partition listing it), the others are
# dropped. Groups are compared by a hash of their key values, which treats a NaN key
# alike wherever pandas keeps it (level value or missing code).


def _key_hashes(index: pd.Index, nkeys: int) -> np.ndarray:
    """A hash of each row's group key: the first ``nkeys`` levels of ``index``."""
    if nkeys < index.nlevels:
        index = index.droplevel(list(builtins.range(nkeys, index.nlevels)))
    return pd.util.hash_pandas_object(index.to_frame(index=False), index=False).to_numpy()


def _split_listed(out: Any, part: pd.DataFrame, keys: list, level: Any) -> tuple:
    """``(owned, owned hashes, listed, listed hashes, template)`` of a partition's
    per-group result ``out``: owned are the rows of the groups that have rows in
    ``part``; the template is the rows of one listed group (a group without rows, for
    :func:`_fill_product`), or None."""
    held = _row_keys(part, keys, level)
    nkeys = held.nlevels
    if not isinstance(out, pd.Series | pd.DataFrame) or out.index.nlevels < nkeys:
        raise TypeError(
            "groupby with observed=False: the function must return a Series or DataFrame "
            f"indexed by the group keys, got {type(out).__name__}"
        )
    h = _key_hashes(out.index, nkeys)
    mine = np.isin(h, _key_hashes(held, nkeys))
    rows, others = np.flatnonzero(mine), np.flatnonzero(~mine)
    template = out.iloc[others[h[others] == h[others[0]]]] if len(others) else None
    return out.iloc[rows], h[rows], out.iloc[others], h[others], template


def _merge_listed(parts: list) -> tuple:
    """The listings of several partitions as one: owned rows all kept, each listed
    group once (from the first listing it) unless owned."""
    owned = concat_partitions([p[0] for p in parts])
    owned_h = np.concatenate([p[1] for p in parts])
    taken, frames, hashes = owned_h, [], []
    template = next((p[4] for p in parts if p[4] is not None), None)
    for _, _, listed, h, _ in parts:
        keep = np.flatnonzero(~np.isin(h, taken))
        if len(keep):
            frames.append(listed.iloc[keep])
            hashes.append(h[keep])
        taken = np.concatenate([taken, h])
    if not frames:
        return owned, owned_h, parts[0][2].iloc[:0], parts[0][3][:0], template
    return owned, owned_h, concat_partitions(frames), np.concatenate(hashes), template


def _finish_listed(sort: bool, empty_error: str | None, check_keys: int, parts: list) -> Any:
    """Each group once: from the partition owning it, else (a combination no
    partition owns: unobserved) from the first partition listing it. With
    ``empty_error`` an unobserved group is that error (pandas' idxmin/idxmax). With
    ``check_keys`` (two keys or more, a NaN category kept by ``dropna=False``), the
    combinations no partition listed are added (:func:`_fill_product`)."""
    owned, owned_h, listed, h, template = _merge_listed(parts)
    listed = listed.iloc[np.flatnonzero(~np.isin(h, owned_h))]
    if len(listed) and empty_error is not None:
        raise ValueError(empty_error)
    out = concat_partitions([owned, listed] if len(listed) else [owned])
    if check_keys and len(out):
        out = _fill_product(out, check_keys, template, empty_error)
    return _concat_sorted(sort, [out])


def _fill_product(out: Any, nkeys: int, template: Any, empty_error: str | None) -> Any:
    """``out`` with the rows pandas lists that no partition listed
    (:func:`_missing_rows`)."""
    added = _missing_rows(_key_frame(out.index, nkeys), template, empty_error)
    return out if added is None else concat_partitions([out, added])


def _key_frame(index: pd.Index, nkeys: int) -> pd.DataFrame:
    """The first ``nkeys`` levels of ``index`` as columns ``0..nkeys-1``, each
    combination once."""
    keys = index.droplevel(list(builtins.range(nkeys, index.nlevels)))
    frame = keys.to_frame(index=False).set_axis(list(builtins.range(nkeys)), axis=1)
    return frame.drop_duplicates()


def _missing_rows(frame: pd.DataFrame, template: Any, empty_error: str | None) -> Any:
    """The rows pandas lists for the key combinations absent from ``frame`` (the
    listed ones), or None. pandas lists every value of the categorical keys (their
    categories, and NaN where ``dropna=False`` keeps it) beside each combination of
    the plain keys' values that occurs; a partition lists those of the values it
    holds, so a NaN category and a plain value (or another NaN category) held apart
    are listed by none. Their rows are an empty group's result, the ``template``,
    under their keys."""
    nkeys = frame.shape[1]
    missing = _missing_keys(frame)
    if not len(missing):
        return None
    if empty_error is not None:
        raise ValueError(empty_error)
    if template is None:
        raise NotImplementedError(
            "groupby with observed=False: a combination of the keys' values that no "
            "partition holds (a NaN category kept by dropna=False beside another key) "
            "cannot be listed here; use observed=True or dropna=True"
        )
    index = template.index
    t, m = len(template), len(missing)
    rows = np.tile(np.arange(t), m)
    arrays = [missing[i].repeat(t).array for i in builtins.range(nkeys)]
    inner = [index.get_level_values(i)[rows] for i in builtins.range(nkeys, index.nlevels)]
    return template.iloc[rows].set_axis(
        pd.MultiIndex.from_arrays([*arrays, *inner], names=index.names)
    )


def _missing_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """The key combinations pandas lists (see :func:`_missing_rows`) that ``frame``
    (one column per key, numbered from 0) lacks."""
    cats = [i for i in frame if isinstance(frame[i].dtype, pd.CategoricalDtype)]
    plain = [i for i in frame if i not in cats]
    every = frame[plain].drop_duplicates() if plain else pd.DataFrame(index=[0])
    for i in cats:
        every = every.merge(frame[[i]].drop_duplicates(), how="cross")
    every = every[list(frame.columns)]
    return every.iloc[np.flatnonzero(~np.isin(_frame_hashes(every), _frame_hashes(frame)))]


def _listed_keys(nkeys: int, state: tuple) -> tuple:
    """A partition's listed key combinations (owned or not) and its template, for
    :func:`_missing_rows` on the whole frame."""
    owned, _, listed, _, template = state
    frames = [_key_frame(x.index, nkeys) for x in (owned, listed) if len(x)]
    return (pd.concat(frames).drop_duplicates() if frames else None), template


def _merge_listed_keys(parts: list) -> tuple:
    frames = [p[0] for p in parts if p[0] is not None]
    template = next((p[1] for p in parts if p[1] is not None), None)
    return (pd.concat(frames).drop_duplicates() if frames else None), template


def _missing_of_all(empty_error: str | None, parts: list) -> Any:
    frame, template = _merge_listed_keys(parts)
    return None if frame is None else _missing_rows(frame, template, empty_error)


def _frame_hashes(frame: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _route_listed(n: int, state: tuple) -> list:
    """A partition's owned keys and listed rows in ``n`` pieces by key hash, for
    :func:`_place_listed`."""
    _, owned_h, listed, h, _ = state
    owned_to, listed_to = owned_h % np.uint64(n), h % np.uint64(n)
    pieces = []
    for k in builtins.range(n):
        rows = np.flatnonzero(listed_to == k)
        pieces.append((owned_h[owned_to == k], listed.iloc[rows], h[rows]))
    return pieces


def _place_listed(
    empty_error: str | None,
    state: tuple,
    routes: list,
    k: int,
    nkeys: int = 0,
    missing: Any = None,
) -> Any:
    """Output partition ``k``: the groups partition ``k`` owns, and the unobserved
    groups whose hash picks ``k`` (once, and only if no partition owns them), with
    those of ``missing`` (:func:`_missing_of_all`: listed by no partition)."""
    pieces = [r[k] for r in routes]
    owned_h = np.concatenate([p[0] for p in pieces])
    parts = [(state[0].iloc[:0], owned_h, listed, h, None) for _, listed, h in pieces]
    _, _, listed, h, _ = _merge_listed(parts)
    frames = [state[0], listed.iloc[np.flatnonzero(~np.isin(h, owned_h))]]
    if missing is not None:
        to = _key_hashes(missing.index, nkeys) % np.uint64(len(routes))
        frames.append(missing.iloc[np.flatnonzero(to == k)])
    frames = [f for f in frames[1:] if len(f)]
    if not frames:
        return state[0]
    if empty_error is not None:
        raise ValueError(empty_error)
    return concat_partitions([state[0], *frames])


def _place_listed_groups(
    listings: _Frame,
    meta: Any,
    sort: bool,
    split_every: int | None,
    gather: bool,
    token: str,
    check_keys: int,
    empty_error: str | None = None,
) -> Any:
    """The partitions' listings (each partition's :func:`_split_listed`) as the
    result: gathered into one partition, else kept in as many partitions.
    ``check_keys`` (the number of keys, or 0) asks for :func:`_fill_product`."""
    if gather:
        return tree_reduction(
            listings,
            _identity,
            _merge_listed,
            partial(_finish_listed, sort, empty_error, check_keys),
            meta,
            split_every,
            token=f"{token}-gather",
        )
    n = listings.npartitions
    layers = dict(listings._layers)
    missing = None
    if check_keys:
        # The combinations no partition lists, found where every listed key meets.
        found = tree_reduction(
            listings,
            partial(_listed_keys, check_keys),
            _merge_listed_keys,
            partial(_missing_of_all, empty_error),
            None,
            split_every,
            token=f"{token}-missing",
        )
        layers.update(found._layers)
        missing = found._name
    tok = tokenize(listings._name, empty_error, missing)
    route, name = f"{token}-route-{tok}", f"{token}-place-{tok}"
    layer: dict = {(route, j): (_route_listed, n, (listings._name, j)) for j in builtins.range(n)}
    routes = [(route, j) for j in builtins.range(n)]
    for k in builtins.range(n):
        layer[(name, k)] = (
            _place_listed,
            empty_error,
            (listings._name, k),
            routes,
            k,
            check_keys,
            missing,
        )
    return new_collection({**layers, name: layer}, name, meta, (None,) * (n + 1))


def _split_out_reduction(
    frame: _Frame, plan: _Plan, finish: _Finish, meta: Any, split_every: int | None, split_out: int
) -> Any:
    split_every = split_every or 8
    token = tokenize(frame._name, plan, finish, split_every, split_out)
    chunk, name = f"groupby-chunk-{token}", f"groupby-agg-{token}"
    layer: dict = {
        (chunk, i): (_split_by_key_hash, (plan.chunk, (frame._name, i)), split_out)
        for i in builtins.range(frame.npartitions)
    }
    missing = None
    levels = plan.level if isinstance(plan.level, list) else [plan.level]
    nkeys = len(plan.keys) if plan.level is None else len(levels)
    if not plan.observed and not plan.dropna and nkeys > 1:
        # A NaN category kept by dropna=False meets the other keys' values only in the
        # trees holding it: the combinations no tree lists are found where every
        # partition's keys meet.
        missing = f"groupby-missing-{token}"
        keys = [(_pieces_keys, (chunk, i)) for i in builtins.range(frame.npartitions)]
        layer[missing] = (_missing_of_keys, keys)
    for j in builtins.range(split_out):
        level = [(_pick, (chunk, i), j) for i in builtins.range(frame.npartitions)]
        level = combine_tree(
            layer,
            level,
            plan.combine,
            split_every,
            lambda depth, j=j: f"groupby-combine-{depth}-{j}-{token}",
        )
        if missing is not None:
            level = (_with_missing, plan, split_out, j, missing, level)
        layer[(name, j)] = (finish, level)
        if not plan.observed:
            # The regrouped partials list the combinations of every value the tree
            # holds; those another tree owns are its to list.
            layer[(name, j)] = (_rows_hashed_to, split_out, j, layer[(name, j)])
    return new_collection({**frame._layers, name: layer}, name, meta, (None,) * (split_out + 1))


def _pieces_keys(pieces: list) -> pd.DataFrame:
    """The key combinations of a partition's partials (all its pieces)."""
    frames = [_key_frame(p.index, p.index.nlevels) for p in pieces]
    return pd.concat(frames).drop_duplicates()


def _missing_of_keys(frames: list) -> pd.DataFrame:
    return _missing_keys(pd.concat(frames).drop_duplicates())


# The partial of a group without rows, where 0 (or 1) is not NaN.
_EMPTY_PARTIAL = {"sum": 0, "count": 0, "size": 0, "m2": 0.0, "prod": 1}


def _with_missing(plan: _Plan, n: int, j: int, missing: pd.DataFrame, parts: list) -> list:
    """Tree ``j``'s partials and the partials of the groups without rows that no
    tree lists (``missing``) whose hash picks ``j``."""
    if not len(missing):
        return parts
    index = pd.MultiIndex.from_frame(missing, names=parts[0].index.names)
    to = _key_hashes(index, index.nlevels) % np.uint64(n)
    index = index[to == j]
    if not len(index):
        return parts
    columns = {}
    for c in parts[0].columns:
        how = plan.partials[c][1] if isinstance(c, int) else None
        fill = _EMPTY_PARTIAL.get(how, np.nan) if isinstance(how, str) else np.nan
        columns[c] = pd.Series(fill, index=index)
        if fill is not np.nan:
            columns[c] = columns[c].astype(parts[0][c].dtype)
    return [*parts, pd.DataFrame(columns, index=index)]


def _rows_hashed_to(n: int, j: int, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` (a result indexed by the group keys) that
    :func:`_split_by_key_hash` sends to piece ``j``."""
    return _split_by_key_hash(frame, n)[j]


def _pick(parts: list, j: int) -> Any:
    return parts[j]


def _nunique(gb: _GroupBy, column: Any, split_every: int | None) -> Series:
    keys = gb.keys
    if gb.level is not None:
        raise NotImplementedError("nunique of a groupby on index levels")
    pairs = gb.obj[[*keys, column]]
    g = meta_nonempty(gb.obj._meta).groupby(
        keys, sort=gb.sort, dropna=gb.dropna, observed=gb.observed
    )
    meta = gb._fix_meta(g[column].nunique())
    # All the distinct pairs meet at the root: pandas' observed=False there lists
    # every group it would list on the whole frame.
    finish = _NuniqueFinish(keys, column, gb.sort, gb.dropna, gb.key_names, gb.observed)
    return tree_reduction(
        pairs, _drop_dup_rows, _concat_drop_dup, finish, meta, split_every, token="groupby-nunique"
    )


def _drop_dup_rows(part: pd.DataFrame) -> pd.DataFrame:
    return part.drop_duplicates()


def _concat_drop_dup(parts: list) -> pd.DataFrame:
    return concat_partitions(parts).drop_duplicates()


class _NuniqueFinish:
    __slots__ = ("column", "dropna", "key_names", "keys", "observed", "sort")

    def __init__(
        self,
        keys: list,
        column: Any,
        sort: bool,
        dropna: bool,
        key_names: list,
        observed: bool = True,
    ) -> None:
        self.keys, self.column, self.sort, self.dropna = keys, column, sort, dropna
        self.key_names, self.observed = key_names, observed

    def __call__(self, parts: list) -> pd.Series:
        pairs = _concat_drop_dup(parts)
        g = pairs.groupby(self.keys, sort=self.sort, dropna=self.dropna, observed=self.observed)
        out = g[self.column].nunique()
        out.index.names = self.key_names
        return out

    def __dask_tokenize__(self) -> Any:
        return (
            "nunique-finish",
            self.keys,
            self.column,
            self.sort,
            self.dropna,
            self.key_names,
            self.observed,
        )


def _join_columns(as_series: bool, columns: Any, sort: bool, *pieces: pd.Series) -> Any:
    # pandas may hold a NaN key as a level value in one piece and as a missing code in
    # another (observed=False, dropna=False); rebuilt from the values, they align.
    pieces = tuple(
        p.set_axis(pd.MultiIndex.from_frame(p.index.to_frame(index=False)))
        if isinstance(p.index, pd.MultiIndex) and len(p)
        else p
        for p in pieces
    )
    return _shape(pd.concat(pieces, axis=1), sort, as_series, columns)


def _shape(out: pd.DataFrame, sort: bool, as_series: bool, columns: Any) -> Any:
    """The result as pandas gives it: groups sorted or not, a series or labelled columns."""
    if sort:
        out = out.sort_index()
    if as_series:
        series = out.iloc[:, 0]
        series.name = columns
        return series
    out.columns = columns
    return out


def _label(how: Any) -> str:
    """The column label of an aggregation in a list or dict: its name."""
    return how.__name__ if _is_custom(how) else how


def _check_clashes(specs: list) -> None:
    """Two aggregations of one column under one name would share a result column
    (Dask: "conflicting aggregation functions"; pandas: names must be unique)."""
    seen: dict = {}
    for label, _, how in specs:
        if label in seen:
            col, name = label
            raise ValueError(
                f"conflicting aggregations of column {col!r}: {seen[label]!r} and {how!r} "
                f"are both named {name!r}; give each aggregation of a column its own name"
            )
        seen[label] = how


def _how(h: Any) -> Any:
    """A built-in aggregation's name, or the user's :class:`Aggregation` itself."""
    h = _as_aggregation(h)
    if _is_custom(h):
        return h
    name = h if isinstance(h, str) else getattr(h, "__name__", None)
    aliases = {
        "amin": "min",
        "amax": "max",
        "nanmin": "min",
        "nanmax": "max",
        "nansum": "sum",
        "nanmean": "mean",
        "average": "mean",
    }
    name = aliases.get(name, name)
    if name not in SUPPORTED:
        raise ValueError(
            f"unsupported groupby aggregation {h!r}; taskloom supports {', '.join(SUPPORTED)} "
            "or a taskloom.dataframe.Aggregation (use groupby().apply for anything else)"
        )
    return name


def _meta_kwargs(ddof: int, arg: Any) -> dict:
    return {"ddof": ddof} if ddof != 1 and isinstance(arg, str) and arg in ("var", "std") else {}


class DataFrameGroupBy(_GroupBy):
    """A frame grouped by keys; select columns with ``gb['x']``, ``gb.x`` or ``gb[['x', 'y']]``."""

    def __getitem__(self, key: Any) -> Any:
        cols = key if isinstance(key, list) else [key]
        missing = [c for c in cols if c not in self.obj._meta.columns]
        if missing:
            raise KeyError(
                f"columns {missing} not found; the columns are {list(self.obj._meta.columns)}"
            )
        cls = DataFrameGroupBy if isinstance(key, list) else SeriesGroupBy
        return cls(
            self.obj,
            _frame=self.obj,
            _keys=self.keys,
            _key_names=self.key_names,
            _selection=list(key) if isinstance(key, list) else key,
            sort=self.sort,
            dropna=self.dropna,
            observed=self.observed,
            level=self.level,
        )

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        if key in self.obj._meta.columns and key not in self.keys:
            return self[key]
        raise AttributeError(f"'DataFrameGroupBy' object has no attribute {key!r}")

    def __repr__(self) -> str:
        return f"<taskloom DataFrameGroupBy by={self.key_names or self.level}>"


class SeriesGroupBy(_GroupBy):
    """One column grouped by keys."""

    def __repr__(self) -> str:
        return f"<taskloom SeriesGroupBy {self.selection!r} by={self.key_names or self.level}>"

    def value_counts(self, **kwargs: Any) -> Series:
        """Count of each distinct value per group (index: keys, value), of whole
        groups after a shuffle. With ``observed=False`` beside a categorical key, a
        tree reduction of the counts of the distinct ``(keys, value)`` rows instead,
        in one partition: pandas' listing (every group beside every value seen with
        its plain keys' values) and pandas' order.

        Examples
        --------
        >>> import pandas as pd, taskloom.dataframe as dd
        >>> pdf = pd.DataFrame({"k": list("aab"), "x": [5, 5, 6]})
        >>> dd.from_pandas(pdf, npartitions=2).groupby("k").x.value_counts().compute().tolist()
        [2, 1]
        """
        split_out, split_every = kwargs.pop("split_out", None), kwargs.pop("split_every", None)
        return self._per_group_reduction("value_counts", split_out, split_every, **kwargs)

    def unique(self, **kwargs: Any) -> Series:
        """The distinct values of each group, as arrays in order of appearance."""
        split_out = kwargs.pop("split_out", None)
        return self._per_group_reduction("unique", split_out, None, **kwargs)


# Dask's name for the base both groupbys share.
GroupBy = _GroupBy
