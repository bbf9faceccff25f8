"""Operations whose rows depend on neighbouring partitions: resample, rolling windows,
cumulative sums, forward/backward fill.

- ``resample`` moves each inner division back to the start of the time bin holding it
  (a repartition of a few rows), so every bin lies in one partition, then resamples each
  partition with the global origin; each result is reindexed onto every bin of its
  range, so bins without rows appear as in pandas (0 for sums and counts, else NaN).
- ``rolling`` gives each partition the rows before it that its windows can reach: for a
  window of ``w`` rows, the last ``w`` rows of everything before, handed along a chain
  of small tasks (so windows may span many small partitions); for a time window, the
  rows of the earlier partitions whose divisions fall within the window. The result is
  computed on the extended partition, then cut back to the partition's own rows.
- ``cumsum``/``cumprod``/``cummax``/``cummin`` and ``ffill``/``bfill`` carry one row of
  state (the running total, the last valid value) along a chain of tasks from
  partition to partition, so each partition is still processed in parallel.
"""

from __future__ import annotations

import builtins
import operator
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from taskloom.dataframe._meta import make_meta, meta_nonempty
from taskloom.dataframe.core import _Frame, concat_partitions, new_collection
from taskloom.tokenize import tokenize

__all__ = ["Resampler", "Rolling", "carried"]


# --- resample -------------------------------------------------------------------------

# Anchored offsets whose right-closed bins pandas extends to the end of the anchor day.
_WHOLE_DAY_BINS = ("BME", "ME", "W", "BQE", "BYE", "QE", "YE")
_EMPTY_BIN = {"sum": 0, "count": 0, "size": 0, "nunique": 0, "prod": 1}


class Resampler:
    """``frame.resample(rule)``: call an aggregation (``mean()``, ``sum()``, ``agg(...)``).

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> pdf = pd.DataFrame({"x": range(48)}, index=pd.date_range("2000", periods=48,
    ...                                                            freq="h"))
    >>> df = dd.from_pandas(pdf, npartitions=5)
    >>> df.resample("1D").sum().compute().x.tolist()
    [276, 852]
    """

    def __init__(
        self,
        frame: _Frame,
        rule: Any,
        closed: str | None = None,
        label: str | None = None,
        origin: Any = "start_day",
        offset: Any = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(f"resample got unsupported arguments: {', '.join(sorted(kwargs))}")
        if not isinstance(frame._meta.index, pd.DatetimeIndex):
            raise TypeError(
                f"resample needs a DatetimeIndex; this collection's index is "
                f"{type(frame._meta.index).__name__}"
            )
        if not frame.known_divisions:
            raise ValueError(
                "resample needs known divisions; call set_index on the datetime column first"
            )
        probe = pd.Series(
            [], index=pd.DatetimeIndex([], tz=frame._meta.index.tz), dtype=float
        ).resample(rule, closed=closed, label=label)
        grouper = probe._timegrouper
        self.frame, self.rule = frame, _fixed_length(rule, frame._meta.index.tz)
        self.closed, self.label = grouper.closed, grouper.label
        self.offset = offset
        self.origin = _origin_timestamp(origin, frame.divisions)

    def _kwargs(self) -> dict:
        kwargs = {"closed": self.closed, "label": self.label, "offset": self.offset}
        if isinstance(pd.tseries.frequencies.to_offset(self.rule), pd.offsets.Tick):
            kwargs["origin"] = self.origin  # pandas uses it for fixed-length bins only
        return kwargs

    def _bin_start(self, ts: pd.Timestamp) -> pd.Timestamp:
        """Where the bin holding ``ts`` starts, as a division (rows from there on)."""
        probe = pd.Series([0], index=pd.DatetimeIndex([ts]))
        kwargs = {**self._kwargs(), "label": "left"}
        edge = probe.resample(self.rule, **kwargs).count().index[0]
        if self.closed != "right":
            return edge
        name = pd.tseries.frequencies.to_offset(self.rule).rule_code.split("-")[0]
        if name in _WHOLE_DAY_BINS:
            # pandas ends these bins at the end of the anchor's day, not at the anchor.
            return edge.normalize() + pd.Timedelta(days=1)
        return edge + pd.Timedelta(1, "ns")

    def _aligned(self) -> _Frame:
        from taskloom.dataframe.shuffle import repartition_divisions

        divs = list(self.frame.divisions)
        starts = [self._bin_start(d) for d in divs[1:-1]]
        new = [divs[0]]
        for s in starts:
            if s > new[-1] and s < divs[-1]:
                new.append(s)
        new.append(divs[-1])
        if len(new) == 2 and new[0] == new[1]:
            new = [divs[0], divs[-1]]
        return repartition_divisions(self.frame, new)

    def agg(self, how: Any, **kwargs: Any) -> Any:
        """Aggregate each bin by ``how`` (a name such as ``'mean'``, or a function)."""
        meta = self._meta(how, kwargs)
        aligned = self._aligned()
        fill = _EMPTY_BIN.get(how) if isinstance(how, str) else None
        task = _ResampleTask(
            self.rule,
            self._kwargs(),
            how,
            kwargs,
            fill,
            dict(meta.dtypes) if isinstance(meta, pd.DataFrame) else {None: meta.dtype},
        )
        name = f"resample-{tokenize(aligned._name, task)}"
        n = aligned.npartitions
        divs = aligned.divisions
        layer = {
            (name, i): (task, (aligned._name, i), divs[i], divs[i + 1], i == n - 1)
            for i in builtins.range(n)
        }
        return new_collection({**aligned._layers, name: layer}, name, meta, (None,) * (n + 1))

    aggregate = agg

    def _meta(self, how: Any, kwargs: dict) -> Any:
        """The result's dtypes when some bins are empty (ints become floats), which
        every partition is cast to, so partitions agree whether or not they have gaps."""
        dense = meta_nonempty(self.frame._meta)
        sparse = dense.copy()
        sparse.index = (
            pd.DatetimeIndex(
                [pd.Timestamp("2000-01-01"), pd.Timestamp("2003-01-01")], name=dense.index.name
            )
            .as_unit(dense.index.unit)
            .tz_localize(dense.index.tz)
        )
        results = [
            _aggregate(
                d.resample(self.rule, **{**self._kwargs(), "origin": "start_day"}), how, kwargs
            )
            for d in (dense, sparse)
        ]
        return make_meta(pd.concat(results))

    def __getattr__(self, how: str) -> Callable:
        if how.startswith("_") or how not in _RESAMPLE_METHODS:
            raise AttributeError(f"'Resampler' object has no attribute {how!r}")
        return partial(self.agg, how)

    def __dir__(self) -> list:
        return sorted(set(super().__dir__()) | set(_RESAMPLE_METHODS))


_RESAMPLE_METHODS = (
    "mean",
    "sum",
    "count",
    "size",
    "min",
    "max",
    "first",
    "last",
    "median",
    "std",
    "var",
    "prod",
    "nunique",
    "ohlc",
    "sem",
)


def _fixed_length(rule: Any, tz: Any) -> Any:
    """``'2D'`` as ``'48h'`` without a time zone: the same bins, but pandas anchors
    fixed-length bins at the origin we pass (the global start), where it anchors day
    bins at each partition's own first day."""
    offset = pd.tseries.frequencies.to_offset(rule)
    if tz is None and isinstance(offset, pd.offsets.Day):
        return pd.offsets.Hour(24 * offset.n)
    return rule


def _aggregate(r: Any, how: Any, kwargs: dict) -> Any:
    return getattr(r, how)(**kwargs) if isinstance(how, str) else r.agg(how, **kwargs)


def _origin_timestamp(origin: Any, divisions: tuple) -> pd.Timestamp:
    first, last = pd.Timestamp(divisions[0]), pd.Timestamp(divisions[-1])
    if isinstance(origin, str):
        table = {
            "start_day": first.normalize(),
            "start": first,
            "end": last,
            "end_day": last.ceil("D"),
            "epoch": pd.Timestamp("1970-01-01", tz=first.tz),
        }
        if origin not in table:
            raise ValueError(
                f"origin must be one of {sorted(table)} or a timestamp, got {origin!r}"
            )
        return table[origin]
    return pd.Timestamp(origin)


class _ResampleTask:
    __slots__ = ("dtypes", "fill", "how", "how_kwargs", "kwargs", "rule")

    def __init__(
        self, rule: Any, kwargs: dict, how: Any, how_kwargs: dict, fill: Any, dtypes: dict
    ) -> None:
        self.rule, self.kwargs, self.how, self.how_kwargs = rule, kwargs, how, how_kwargs
        self.fill, self.dtypes = fill, dtypes

    def __call__(self, part: Any, lo: Any, hi: Any, last: bool) -> Any:
        out = _aggregate(part.resample(self.rule, **self.kwargs), self.how, self.how_kwargs)
        # Every bin of [lo, hi), including those without rows, as pandas gives them.
        end = hi if last else hi - pd.Timedelta(1, "ns")
        if end >= lo:
            span = pd.Series([0, 0], index=pd.DatetimeIndex([lo, end]).as_unit("ns"))
            counts = span.resample(self.rule, **self.kwargs).count()
            # pandas may add an empty bin past ``end``; bins between lo and end stay.
            hit = np.flatnonzero(counts.to_numpy())
            labels = counts.index[hit[0] : hit[-1] + 1]
            labels = labels.as_unit(part.index.unit).rename(part.index.name)
            if not (len(out) == len(labels) and out.index.equals(labels)):
                out = (
                    out.reindex(labels, fill_value=self.fill)
                    if self.fill is not None
                    else out.reindex(labels)
                )
        else:
            out = out.iloc[:0]
        if isinstance(out, pd.DataFrame):
            wrong = {c: d for c, d in self.dtypes.items() if c in out and out[c].dtype != d}
            return out.astype(wrong) if wrong else out
        dtype = self.dtypes[None]
        return out.astype(dtype) if out.dtype != dtype else out

    def __dask_tokenize__(self) -> Any:
        return (
            "resample",
            str(self.rule),
            sorted(self.kwargs.items(), key=str),
            self.how,
            self.how_kwargs,
            self.fill,
            sorted(map(str, self.dtypes.items())),
        )


# --- rolling --------------------------------------------------------------------------


class Rolling:
    """``frame.rolling(window)``: call an aggregation (``mean()``, ``sum()``, ``apply(f)``)."""

    def __init__(
        self,
        frame: _Frame,
        window: Any,
        min_periods: int | None = None,
        center: bool = False,
        win_type: Any = None,
        closed: str | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(f"rolling got unsupported arguments: {', '.join(sorted(kwargs))}")
        self.frame, self.window = frame, window
        self.kwargs = {
            "min_periods": min_periods,
            "center": center,
            "win_type": win_type,
            "closed": closed,
        }
        meta_nonempty(frame._meta).rolling(window, **self.kwargs)  # pandas checks arguments
        if isinstance(window, int | np.integer):
            if window < 1:
                raise ValueError(f"window must be a positive number of rows, got {window}")
            self.span = None
        else:
            if not isinstance(frame._meta.index, pd.DatetimeIndex):
                raise TypeError("a time window needs a DatetimeIndex")
            if center:
                raise NotImplementedError("center=True with a time window is not supported")
            if not frame.known_divisions:
                raise ValueError("a time window needs known divisions; call set_index first")
            self.span = pd.Timedelta(pd.tseries.frequencies.to_offset(window))

    def _apply(self, how: str, *args: Any, **kwargs: Any) -> Any:
        frame = self.frame
        meta = make_meta(
            getattr(meta_nonempty(frame._meta).rolling(self.window, **self.kwargs), how)(
                *args, **kwargs
            )
        )
        task = _RollingTask(self.window, self.kwargs, how, args, kwargs)
        token = tokenize(frame._name, task)
        name = f"rolling-{how}-{token}"
        n = frame.npartitions
        layer: dict = {}
        if self.span is None:
            w = int(self.window)
            before = _carry_chain(layer, frame, f"rolling-before-{token}", w, forward=True)
            after = (
                _carry_chain(layer, frame, f"rolling-after-{token}", w, forward=False)
                if self.kwargs["center"]
                else [None] * n
            )
            for i in builtins.range(n):
                layer[(name, i)] = (task, (frame._name, i), before[i], after[i])
        else:
            divs = frame.divisions
            for i in builtins.range(n):
                reach = divs[i] - self.span
                prev = [(frame._name, j) for j in builtins.range(i) if divs[j + 1] >= reach]
                lead = (_rows_since, prev, reach) if prev else None
                layer[(name, i)] = (task, (frame._name, i), lead, None)
        return new_collection({**frame._layers, name: layer}, name, meta, frame.divisions)

    def apply(
        self, func: Callable, raw: bool = False, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        """``func`` of each window."""
        return self._apply("apply", func, raw=raw, args=args, kwargs=kwargs or {})

    def agg(self, func: Any) -> Any:
        """Aggregate each window by ``func`` (a name or function, or a list of them)."""
        return self._apply("agg", func)

    aggregate = agg

    def __getattr__(self, how: str) -> Callable:
        if how.startswith("_") or how not in _ROLLING_METHODS:
            raise AttributeError(f"'Rolling' object has no attribute {how!r}")
        return partial(self._apply, how)


_ROLLING_METHODS = (
    "mean",
    "sum",
    "count",
    "min",
    "max",
    "median",
    "std",
    "var",
    "skew",
    "kurt",
    "quantile",
    "sem",
)


def _carry_chain(layer: dict, frame: _Frame, name: str, rows: int, forward: bool) -> list:
    """For each partition, the ``rows`` rows just before it (``forward``) or after it,
    from however many partitions they span: a chain of small tasks."""
    n = frame.npartitions
    out: list = [None] * n
    order = builtins.range(1, n) if forward else builtins.range(n - 2, -1, -1)
    prev = None
    for i in order:
        src = (frame._name, i - 1) if forward else (frame._name, i + 1)
        layer[(name, i)] = (_edge_rows, prev, src, rows, forward)
        prev = out[i] = (name, i)
    return out


def _edge_rows(carried: Any, part: Any, rows: int, forward: bool) -> Any:
    both = (
        part
        if carried is None
        else (concat_partitions([carried, part]) if forward else concat_partitions([part, carried]))
    )
    return both.iloc[-rows:] if forward else both.iloc[:rows]


def _rows_since(parts: list, since: Any) -> Any:
    both = concat_partitions(parts)
    return both[both.index >= since]


class _RollingTask:
    __slots__ = ("args", "how", "how_kwargs", "kwargs", "window")

    def __init__(self, window: Any, kwargs: dict, how: str, args: tuple, how_kwargs: dict) -> None:
        self.window, self.kwargs, self.how, self.args, self.how_kwargs = (
            window,
            kwargs,
            how,
            args,
            how_kwargs,
        )

    def __call__(self, part: Any, before: Any, after: Any) -> Any:
        pieces = [p for p in (before, part, after) if p is not None]
        both = concat_partitions(pieces) if len(pieces) > 1 else part
        out = getattr(both.rolling(self.window, **self.kwargs), self.how)(
            *self.args, **self.how_kwargs
        )
        start = 0 if before is None else len(before)
        return out.iloc[start : start + len(part)]

    def __dask_tokenize__(self) -> Any:
        return (
            "rolling",
            str(self.window),
            sorted(self.kwargs.items(), key=str),
            self.how,
            self.args,
            self.how_kwargs,
        )


# --- carried state: cumulative operations and fills -----------------------------------


def _edge_value(s: pd.Series, last: bool) -> Any:
    """The last (or first) value of ``s`` that is not missing, NaN if none is."""
    valid = s.dropna()
    if not len(valid):
        return np.nan
    return valid.iloc[-1] if last else valid.iloc[0]


def _carry_of(how: str, s: pd.Series) -> Any:
    """What a series passes on: its last running total, or its edge valid value."""
    if how in ("ffill", "bfill"):
        return _edge_value(s, last=how == "ffill")
    return _edge_value(getattr(s, how)(), last=True)


def _merge_scalar(how: str, carried: Any, value: Any) -> Any:
    if pd.isna(carried):
        return value
    if pd.isna(value):
        return carried
    if how in ("ffill", "bfill"):
        return value  # the nearer partition's value wins
    return {"cumsum": operator.add, "cumprod": operator.mul, "cummax": max, "cummin": min}[how](
        carried, value
    )


def _apply_scalar(how: str, s: pd.Series, carried: Any) -> pd.Series:
    out = getattr(s, how)()
    if pd.isna(carried):
        return out
    if how in ("ffill", "bfill"):
        return out.fillna(carried)
    if how == "cumsum":
        return out + carried
    if how == "cumprod":
        return out * carried
    return out.clip(lower=carried) if how == "cummax" else out.clip(upper=carried)


def _carry_step(how: str, carried: Any, part: Any) -> Any:
    """The state after ``part``, from the state before it (None for the first);
    a frame's state is one value per column, each keeping its column's type."""
    if isinstance(part, pd.DataFrame):
        values = [_carry_of(how, part.iloc[:, k]) for k in builtins.range(part.shape[1])]
        if carried is None:
            return values
        return [_merge_scalar(how, c, v) for c, v in zip(carried, values, strict=True)]
    value = _carry_of(how, part)
    return value if carried is None else _merge_scalar(how, carried, value)


def _apply_carry(how: str, part: Any, carried: Any) -> Any:
    if carried is None:
        return getattr(part, how)()
    if isinstance(part, pd.DataFrame):
        columns = [_apply_scalar(how, part.iloc[:, k], c) for k, c in enumerate(carried)]
        out = pd.concat(columns, axis=1) if columns else getattr(part, how)()
        out.columns = part.columns
        return out
    return _apply_scalar(how, part, carried)


def _carried(frame: _Frame, how: str, name: str, forward: bool) -> tuple[dict, list]:
    n = frame.npartitions
    layer: dict = {}
    carry: list = [None] * n
    prev = None
    order = builtins.range(1, n) if forward else builtins.range(n - 2, -1, -1)
    for i in order:
        src = (frame._name, i - 1) if forward else (frame._name, i + 1)
        layer[(name, i)] = (_carry_step, how, prev, src)
        prev = carry[i] = (name, i)
    return layer, carry


def carried(frame: _Frame, how: str) -> Any:
    """``frame.cumsum()`` and friends, ``ffill()``, ``bfill()``, across partitions."""
    meta = make_meta(getattr(meta_nonempty(frame._meta), how)())
    token = tokenize(frame._name, how)
    layer, carry = _carried(frame, how, f"{how}-carry-{token}", forward=how != "bfill")
    name = f"{how}-{token}"
    for i in builtins.range(frame.npartitions):
        layer[(name, i)] = (_apply_carry, how, (frame._name, i), carry[i])
    return new_collection({**frame._layers, name: layer}, name, meta, frame.divisions)
