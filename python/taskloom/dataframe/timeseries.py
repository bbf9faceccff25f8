"""Operations whose rows depend on neighbouring partitions: resample, rolling windows,
cumulative sums, forward/backward fill.

- ``resample`` moves each inner division back to the start of the time bin holding it
  (a repartition of a few rows), so every bin lies in one partition, then resamples each
  partition with the global origin; each result is reindexed onto every bin of its
  range, so bins without rows appear as in pandas (0 for sums and counts, else NaN).
  Day rules are binned as fixed 24-hour multiples (in wall-clock time where there is a
  time zone, so days are calendar days), and the result's index carries the rule's own
  freq (``<Day>``), as pandas gives it. Datetimes keep their unit (s/ms/us/ns) and time
  zone throughout; the metadata comes from two resamples of two rows each, in time
  independent of the data's span and the rule.
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

import bisect
import builtins
import operator
from collections.abc import Callable
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
        tz = frame._meta.index.tz
        self.frame, self.freq = frame, pd.tseries.frequencies.to_offset(rule)
        self.rule = _fixed_length(self.freq)
        # Calendar days of a time zone are wall-clock days: binned in local time.
        self.local_tz = tz if isinstance(self.freq, pd.offsets.Day) else None
        if self.local_tz is not None:
            origin = "start_day"  # pandas ignores the origin of calendar days too
        self.closed, self.label = grouper.closed, grouper.label
        self.offset = offset
        self.origin = _wall(_origin_timestamp(origin, frame.divisions), self.local_tz)

    def _kwargs(self) -> dict:
        kwargs = {"closed": self.closed, "label": self.label, "offset": self.offset}
        if isinstance(pd.tseries.frequencies.to_offset(self.rule), pd.offsets.Tick):
            kwargs["origin"] = self.origin  # pandas uses it for fixed-length bins only
        return kwargs

    def _bin_start(self, ts: pd.Timestamp) -> pd.Timestamp:
        """Where the bin holding ``ts`` starts, as a division (rows from there on)."""
        probe = pd.Series([0], index=pd.DatetimeIndex([_wall(ts, self.local_tz)]))
        kwargs = {**self._kwargs(), "label": "left"}
        edge = probe.resample(self.rule, **kwargs).count().index[0]
        if self.closed == "right":
            name = pd.tseries.frequencies.to_offset(self.rule).rule_code.split("-")[0]
            if name in _WHOLE_DAY_BINS:
                # pandas ends these bins at the end of the anchor's day, not at the anchor.
                edge = edge.normalize() + pd.DateOffset(days=1)
            else:
                edge = edge + _tick(edge)
        return _localized(edge, self.local_tz)

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

    def agg(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Aggregate each bin by ``func`` (a name such as ``'mean'``, or a function);
        ``kwargs`` go to pandas' aggregation."""
        if args:
            raise TypeError("Resampler.agg passes keyword arguments only to func; got args")
        how = func
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
            self.freq,
            self.local_tz,
        )
        name = f"resample-{tokenize(aligned._name, task)}"
        n = aligned.npartitions
        divs = aligned.divisions
        layer = {
            (name, i): (task, (aligned._name, i), divs[i], divs[i + 1], i == 0, i == n - 1)
            for i in builtins.range(n)
        }
        return new_collection({**aligned._layers, name: layer}, name, meta, (None,) * (n + 1))

    aggregate = agg

    def _meta(self, how: Any, kwargs: dict) -> Any:
        """The result's metadata, from two resamples of two rows each, whatever the
        data's span and the rule: rows in one bin, and rows with empty bins between
        them (where ints become floats). Every partition is cast to these dtypes, so
        partitions agree whether or not they have gaps. The index is the input's
        (unit, time zone, name) with the rule's freq, as pandas gives it."""
        index = self.frame._meta.index
        start = pd.Timestamp("2000-01-01", tz=index.tz).as_unit(index.unit)
        # Four steps of the rule from the start skip at least one whole bin.
        far = start + 4 * self.freq
        kw = {**self._kwargs(), "origin": "start_day"}
        results = [
            _aggregate(tiny.resample(self.freq, **kw), how, kwargs)
            for tiny in (
                _tiny(self.frame._meta, [start, start]),
                _tiny(self.frame._meta, [start, far]),
            )
        ]
        meta = make_meta(pd.concat(results))
        meta.index = pd.DatetimeIndex([], dtype=index.dtype, name=index.name, freq=self.freq)
        return meta

    # Dask's Resampler methods take no arguments: each is ``agg`` of its own name.
    def count(self) -> Any:
        """Number of values present in each bin (0 for bins without rows)."""
        return self.agg("count")

    def size(self) -> Any:
        """Number of rows in each bin."""
        return self.agg("size")

    def sum(self) -> Any:
        """Sum of each bin (0 for bins without rows)."""
        return self.agg("sum")

    def prod(self) -> Any:
        """Product of each bin (1 for bins without rows)."""
        return self.agg("prod")

    def mean(self) -> Any:
        """Mean of each bin."""
        return self.agg("mean")

    def median(self) -> Any:
        """Median of each bin."""
        return self.agg("median")

    def quantile(self) -> Any:
        """Median of each bin (pandas' ``quantile()`` with its default ``q=0.5``)."""
        return self.agg("quantile")

    def min(self) -> Any:
        """Minimum of each bin."""
        return self.agg("min")

    def max(self) -> Any:
        """Maximum of each bin."""
        return self.agg("max")

    def first(self) -> Any:
        """First value present in each bin."""
        return self.agg("first")

    def last(self) -> Any:
        """Last value present in each bin."""
        return self.agg("last")

    def std(self) -> Any:
        """Standard deviation of each bin."""
        return self.agg("std")

    def var(self) -> Any:
        """Variance of each bin."""
        return self.agg("var")

    def sem(self) -> Any:
        """Standard error of the mean of each bin."""
        return self.agg("sem")

    def nunique(self) -> Any:
        """Number of distinct values in each bin (0 for bins without rows)."""
        return self.agg("nunique")

    def ohlc(self) -> Any:
        """First, highest, lowest and last value of each bin."""
        return self.agg("ohlc")


def _fixed_length(offset: pd.DateOffset) -> pd.DateOffset:
    """``Day(2)`` as ``Hour(48)``: the same bins (in wall-clock time where there is a
    time zone), but pandas anchors fixed-length bins at the origin we pass (the global
    start), where it anchors day bins at each partition's own first day."""
    if isinstance(offset, pd.offsets.Day):
        return pd.offsets.Hour(24 * offset.n)
    return offset


def _wall(ts: pd.Timestamp, tz: Any) -> pd.Timestamp:
    """``ts`` as naive wall-clock time in ``tz`` (unchanged when ``tz`` is None)."""
    if tz is None:
        return ts
    ts = pd.Timestamp(ts)
    return ts.tz_convert(tz).tz_localize(None) if ts.tz is not None else ts


def _localized(ts: Any, tz: Any) -> Any:
    """Naive wall-clock ``ts`` (a Timestamp or DatetimeIndex) back in ``tz``."""
    if tz is None:
        return ts
    return ts.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")


def _tick(ts: pd.Timestamp) -> pd.Timedelta:
    """The step from a bin edge ``ts`` to the division just after it: finer than any
    index's unit (a nanosecond, or a microsecond where nanoseconds cannot reach, where
    no index is finer), so no row falls between the edge and the division."""
    try:
        ts.as_unit("ns")
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        return pd.Timedelta(1, "us")
    return pd.Timedelta(1, "ns")


def _tiny(meta: Any, times: list) -> Any:
    """Two rows of made-up data like ``meta``'s, at ``times``, in the index's unit
    and time zone: the input of a metadata computation, its size independent of the
    data."""
    index = meta.index
    tiny = meta_nonempty(meta).iloc[: len(times)]
    tiny.index = pd.DatetimeIndex(times, name=index.name).as_unit(index.unit)
    return tiny


def _same_index(meta: Any, like: Any) -> Any:
    """``meta`` with ``like``'s index: for operations that keep their input's rows
    (rolling windows, cumulative sums), whose metadata is computed on a stand-in."""
    meta = meta.copy()
    meta.index = like.index[:0]
    return meta


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
    """Resample one partition covering divisions ``[lo, hi)`` (``hi`` included for the
    last): its bins, those without rows included, cast to the result's ``dtypes``,
    indexed with the rule's ``freq``."""

    __slots__ = ("dtypes", "fill", "freq", "how", "how_kwargs", "kwargs", "local_tz", "rule")

    def __init__(
        self,
        rule: Any,
        kwargs: dict,
        how: Any,
        how_kwargs: dict,
        fill: Any,
        dtypes: dict,
        freq: pd.DateOffset,
        local_tz: Any = None,
    ) -> None:
        self.rule, self.kwargs, self.how, self.how_kwargs = rule, kwargs, how, how_kwargs
        self.fill, self.dtypes, self.freq, self.local_tz = fill, dtypes, freq, local_tz

    def __call__(self, part: Any, lo: Any, hi: Any, first: bool, last: bool) -> Any:
        tz = self.local_tz
        if tz is not None:  # bin in wall-clock time, label in the time zone again
            part = part.set_axis(part.index.tz_convert(tz).tz_localize(None))
            lo, hi = _wall(lo, tz), _wall(hi, tz)
        out = _aggregate(part.resample(self.rule, **self.kwargs), self.how, self.how_kwargs)
        # Every bin of [lo, hi), including those without rows, as pandas gives them.
        lo, hi = pd.Timestamp(lo), pd.Timestamp(hi)
        end = hi if last else hi - _tick(hi)
        if end >= lo:
            points = [lo, end]
            if first and tz is not None and self.kwargs["closed"] == "right":
                # pandas opens right-closed calendar-day bins in a time zone one bin
                # early: the bin ending at the first row's midnight, if before the row.
                points.insert(0, lo.normalize())
            span = pd.Series(0, index=pd.DatetimeIndex(points))
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
        if tz is not None:
            out = out.set_axis(_localized(out.index, tz))
        if out.index.freq != self.freq:  # computed with 24h bins for a day rule
            out = out.set_axis(pd.DatetimeIndex(out.index, freq=self.freq))
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
            self.freq.freqstr,
            str(self.local_tz),
        )


# --- rolling --------------------------------------------------------------------------


class Rolling:
    """``frame.rolling(window)``: call an aggregation (``mean()``, ``sum()``, ``apply(f)``).

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series([1.0, 5.0, 2.0, 8.0]), npartitions=2)
    >>> s.rolling(2).max().compute().tolist()
    [nan, 5.0, 5.0, 8.0]
    """

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
        meta = _same_index(
            make_meta(
                getattr(meta_nonempty(frame._meta).rolling(self.window, **self.kwargs), how)(
                    *args, **kwargs
                )
            ),
            frame._meta,
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
                # The earlier partitions ending at or after ``reach``: a suffix.
                first = bisect.bisect_left(divs, reach, 1, i + 1) - 1
                prev = [(frame._name, j) for j in builtins.range(first, i)]
                lead = (_rows_since, prev, reach) if prev else None
                layer[(name, i)] = (task, (frame._name, i), lead, None)
        return new_collection({**frame._layers, name: layer}, name, meta, frame.divisions)

    def apply(self, func: Callable, *args: Any, **kwargs: Any) -> Any:
        """``func`` of each window (``raw=``, ``args=``, ``kwargs=`` as in pandas)."""
        return self._apply("apply", func, *args, **kwargs)

    def agg(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Aggregate each window by ``func`` (a name or function, or a list of them)."""
        return self._apply("agg", func, *args, **kwargs)

    aggregate = agg

    # As in Dask, arguments go to pandas' method of the same name.
    def count(self, *args: Any, **kwargs: Any) -> Any:
        """Number of values present in each window."""
        return self._apply("count", *args, **kwargs)

    def sum(self, *args: Any, **kwargs: Any) -> Any:
        """Sum of each window."""
        return self._apply("sum", *args, **kwargs)

    def mean(self, *args: Any, **kwargs: Any) -> Any:
        """Mean of each window."""
        return self._apply("mean", *args, **kwargs)

    def median(self, *args: Any, **kwargs: Any) -> Any:
        """Median of each window."""
        return self._apply("median", *args, **kwargs)

    def min(self, *args: Any, **kwargs: Any) -> Any:
        """Minimum of each window."""
        return self._apply("min", *args, **kwargs)

    def max(self, *args: Any, **kwargs: Any) -> Any:
        """Maximum of each window."""
        return self._apply("max", *args, **kwargs)

    def std(self, *args: Any, **kwargs: Any) -> Any:
        """Standard deviation of each window."""
        return self._apply("std", *args, **kwargs)

    def var(self, *args: Any, **kwargs: Any) -> Any:
        """Variance of each window."""
        return self._apply("var", *args, **kwargs)

    def sem(self, *args: Any, **kwargs: Any) -> Any:
        """Standard error of the mean of each window."""
        return self._apply("sem", *args, **kwargs)

    def skew(self, *args: Any, **kwargs: Any) -> Any:
        """Skewness of each window."""
        return self._apply("skew", *args, **kwargs)

    def kurt(self, *args: Any, **kwargs: Any) -> Any:
        """Kurtosis (Fisher's) of each window."""
        return self._apply("kurt", *args, **kwargs)

    def quantile(self, q: float, *args: Any, **kwargs: Any) -> Any:
        """Quantile ``q`` of each window."""
        return self._apply("quantile", q, *args, **kwargs)


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
    meta = _same_index(make_meta(getattr(meta_nonempty(frame._meta), how)()), frame._meta)
    token = tokenize(frame._name, how)
    layer, carry = _carried(frame, how, f"{how}-carry-{token}", forward=how != "bfill")
    name = f"{how}-{token}"
    for i in builtins.range(frame.npartitions):
        layer[(name, i)] = (_apply_carry, how, (frame._name, i), carry[i])
    return new_collection({**frame._layers, name: layer}, name, meta, frame.divisions)
