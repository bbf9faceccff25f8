"""Operations that see rows of neighbouring partitions: ``map_overlap``, ``shift``,
``diff``, ``pct_change``.

This module owns the overlap graph. Policy: each partition is given the last
``before`` rows (or the rows within a time span ``before`` of its end) of everything
before it and the first ``after`` rows (or span) of everything after it, carried from
partition to partition, so that short or empty partitions still see enough neighbours
(Dask only looks at the adjacent partition and raises when it is too short). The
function runs on the extended partition and the borrowed rows are cut off again.
Built on :func:`~taskloom.dataframe._primitives.map_partitions`.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from functools import partial
from typing import Any

import pandas as pd

from taskloom.dataframe._meta import EnforceMeta, emulate, meta_from_user
from taskloom.dataframe._primitives import (
    FrameBase,
    _meta_of,
    _task_arg,
    _token_of,
    funcname,
    merge_layers,
    new_collection,
    no_default,
)
from taskloom.tokenize import tokenize

__all__ = ["diff", "map_overlap", "pct_change", "shift"]


def _check_extent(value: Any, name: str) -> Any:
    if isinstance(value, str):
        value = pd.Timedelta(value)
    if isinstance(value, pd.Timedelta | pd.DateOffset):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(f"{name} must be a non-negative int or a time delta, got {value!r}")


def _slice(obj: Any, start: int, stop: int | None) -> Any:
    return obj[start:stop] if isinstance(obj, pd.Index) else obj.iloc[start:stop]


def _positions(obj: Any) -> pd.Index:
    return obj if isinstance(obj, pd.Index) else obj.index


def _keep_tail(carry: Any, part: Any, extent: Any) -> Any:
    both = _concat(carry, part)
    if isinstance(extent, int):
        return _slice(both, builtins.max(len(both) - extent, 0) if extent else len(both), None)
    if not len(both):
        return both
    index = _positions(both)
    return both[index > index.max() - extent]


def _keep_head(part: Any, carry: Any, extent: Any) -> Any:
    both = _concat(part, carry)
    if isinstance(extent, int):
        return _slice(both, 0, extent)
    if not len(both):
        return both
    index = _positions(both)
    return both[index < index.min() + extent]


def _concat(*parts: Any) -> Any:
    parts = [p for p in parts if len(p)] or [parts[0]]
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], pd.Index):
        return parts[0].append(parts[1:])
    return pd.concat(parts)


def _overlap_call(func: Callable, prev: Any, part: Any, nxt: Any, *args: Any, **kwargs: Any):
    whole = _concat(prev, part, nxt) if len(part) else part
    if len(part) and (len(prev) or len(nxt)):
        # The borrowed rows are cut by position: the index may repeat values.
        result = func(whole, *args, **kwargs)
        return _slice(result, len(prev), len(prev) + len(part))
    return func(part, *args, **kwargs)


def map_overlap(
    func: Callable,
    frame: Any,
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
    """``func`` applied to each partition extended by ``before`` rows (or a time span)
    of the partitions before it and ``after`` rows of those after it.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series([1, 2, 4, 7, 11]), npartitions=2)
    >>> map_overlap(lambda p: p.diff(), s, 1, 0).compute().tolist()
    [nan, 1.0, 2.0, 3.0, 4.0]
    """
    if not isinstance(frame, FrameBase):
        raise TypeError("map_overlap needs a taskloom collection")
    before = _check_extent(before, "before")
    after = _check_extent(after, "after")
    if not isinstance(before, int) or not isinstance(after, int):
        if not frame.known_divisions and not isinstance(frame._meta.index, pd.DatetimeIndex):
            raise TypeError("a time delta before/after needs a datetime index")
    if meta is no_default:
        meta = emulate(func, _meta_of(frame), *(_meta_of(a) for a in args), **kwargs)
    else:
        meta = meta_from_user(meta, index=frame._meta.index)
    tok = tokenize(func, frame._name, before, after, [_token_of(a) for a in args], kwargs)
    label = funcname(func)
    n = frame.npartitions
    name = f"overlap-{label}-{tok}"
    prev_name, next_name = f"overlap-prev-{tok}", f"overlap-next-{tok}"
    empty = frame._meta
    layer: dict = {}
    for i in builtins.range(n):
        # carry_prev[i]: the tail of partitions < i; carry_next[i]: the head of > i.
        layer[(prev_name, i)] = (
            empty if i == 0 else (_keep_tail, (prev_name, i - 1), (frame._name, i - 1), before)
        )
    for i in reversed(builtins.range(n)):
        layer[(next_name, i)] = (
            empty if i == n - 1 else (_keep_head, (frame._name, i + 1), (next_name, i + 1), after)
        )
    call = EnforceMeta(_overlap_call, meta) if enforce_metadata else _overlap_call
    bound = partial(func, **kwargs) if kwargs else func
    for i in builtins.range(n):
        layer[(name, i)] = (
            call,
            bound,
            (prev_name, i),
            (frame._name, i),
            (next_name, i),
            *(_task_arg(a, i) for a in args),
        )
    layers = merge_layers(frame, *args)
    layers[name] = layer
    divisions = (None,) * (n + 1) if clear_divisions else frame.divisions
    return new_collection(layers, name, meta, divisions)


def shift(frame: Any, periods: int = 1, freq: Any = None, axis: Any = 0) -> Any:
    """Values moved ``periods`` rows down (up when negative), across partitions; with
    ``freq`` the index is moved instead, partition by partition.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series([1.0, 2.0, 3.0, 4.0]), npartitions=3)
    >>> shift(s, 2).compute().tolist()
    [nan, nan, 1.0, 2.0]
    """
    if axis not in (0, "index"):
        raise ValueError(f"axis must be 0 or 'index', got {axis!r}")
    if not isinstance(periods, int) or isinstance(periods, bool):
        raise TypeError(f"periods must be an int, got {periods!r}")
    if freq is not None:
        shifted = frame.map_partitions(_shift_part, periods, freq, token="shift")
        if (
            not frame.known_divisions
            or isinstance(frame._meta, pd.Index)
            or not _uniform_offset(freq, frame._meta.index)
        ):
            # An anchored or calendar offset (month end, week, business day) moves
            # values by different amounts and can merge neighbouring divisions: the
            # divisions are unknown afterwards, as Dask's.
            return shifted.clear_divisions()
        # Every index value moves by the same offset: so do the divisions.
        divisions = pd.Index(frame.divisions).shift(periods, freq=freq)
        return new_collection(shifted._layers, shifted._name, shifted._meta, tuple(divisions))
    before, after = builtins.max(periods, 0), builtins.max(-periods, 0)
    return map_overlap(_shift_part, frame, before, after, periods, None)


def _uniform_offset(freq: Any, index: pd.Index) -> bool:
    """Whether shifting by ``freq`` moves every value of ``index`` by the same amount."""
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except (TypeError, ValueError):
        return False
    if isinstance(offset, pd.offsets.Tick):
        return True
    # A calendar day is 24 hours only without a time zone.
    return isinstance(offset, pd.offsets.Day) and getattr(index, "tz", None) is None


def _shift_part(part: Any, periods: int, freq: Any) -> Any:
    if freq is None:
        return part.shift(periods)
    return part.shift(periods, freq=freq)


def diff(frame: Any, periods: int = 1, axis: Any = 0) -> Any:
    """Difference to the value ``periods`` rows earlier, across partitions.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series([1, 3, 6, 10]), npartitions=2)
    >>> diff(s).compute().tolist()
    [nan, 2.0, 3.0, 4.0]
    """
    if axis not in (0, "index"):
        raise ValueError(f"axis must be 0 or 'index', got {axis!r}")
    if not isinstance(periods, int) or isinstance(periods, bool):
        raise TypeError(f"periods must be an int, got {periods!r}")
    before, after = builtins.max(periods, 0), builtins.max(-periods, 0)
    return map_overlap(_diff_part, frame, before, after, periods)


def _diff_part(part: Any, periods: int) -> Any:
    return part.diff(periods)


def pct_change(frame: Any, periods: int = 1, fill_method: Any = None, **kwargs: Any) -> Any:
    """Fractional change from the value ``periods`` rows earlier, across partitions.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series([1.0, 2.0, 3.0, 6.0]), npartitions=2)
    >>> pct_change(s).compute().tolist()
    [nan, 1.0, 0.5, 1.0]
    """
    if not isinstance(periods, int) or isinstance(periods, bool):
        raise TypeError(f"periods must be an int, got {periods!r}")
    if fill_method is not None:
        raise ValueError("fill_method other than None is not supported (deprecated in pandas)")
    before, after = builtins.max(periods, 0), builtins.max(-periods, 0)
    if kwargs.get("freq") is not None:
        # The value compared with is ``periods * freq`` earlier in time, not ``periods``
        # rows: borrow that time span from the neighbours.
        if not _uniform_offset(kwargs["freq"], frame._meta.index):
            raise NotImplementedError(
                "pct_change(freq=) with an anchored or calendar offset is not supported"
            )
        span = abs(periods) * pd.Timedelta(pd.tseries.frequencies.to_offset(kwargs["freq"]))
        zero = pd.Timedelta(0)
        before, after = (span, zero) if periods >= 0 else (zero, span)
    return map_overlap(_pct_part, frame, before, after, periods, **kwargs)


def _pct_part(part: Any, periods: int, **kwargs: Any) -> Any:
    return part.pct_change(periods, **kwargs)
