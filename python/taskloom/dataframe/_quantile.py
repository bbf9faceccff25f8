"""Quantiles of a column as a tree reduction: the partition functions behind
``Series.quantile``, ``DataFrame.quantile`` and ``describe``.

Each partial is a *sketch* ``(values, weights, count)``: the sorted non-missing values
of the rows it stands for, ``weights=None`` while every row is kept (exact). Merging
exact sketches concatenates and sorts them, and the root interpolates linearly between
order statistics exactly as pandas does (``numpy.quantile``, ``method='linear'``), so
results are pandas' own while fewer than :data:`EXACT_LIMIT` values are held. A sketch
with more values is compressed to ``EXACT_LIMIT`` evenly spaced order statistics, each
weighted by the rows it stands for, and merged by weight (Dask's approach of merging
per-partition percentiles): approximate, with a rank error below ``1 / EXACT_LIMIT``.

Examples
--------
>>> import numpy as np
>>> parts = [quantile_chunk(pd.Series(v)) for v in (np.arange(50.0), np.arange(50.0, 100))]
>>> quantile_aggregate(0.5, "w", parts)
np.float64(49.5)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "EXACT_LIMIT",
    "check_quantiles",
    "quantile_aggregate",
    "quantile_chunk",
    "quantile_combine",
]

#: Values a sketch holds before it is compressed (and results become approximate).
EXACT_LIMIT = 100_000

Sketch = tuple[np.ndarray, np.ndarray | None, int]


def _is_timelike(dtype: Any) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind in "mM"


def _values(part: pd.Series | pd.Index) -> np.ndarray:
    dtype = part.dtype
    numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if not (numeric or _is_timelike(dtype)):
        raise TypeError(
            f"quantile needs numeric, datetime64 or timedelta64 values, got dtype {dtype}"
            + (f" (column {part.name!r})" if part.name is not None else "")
        )
    values = part.dropna()
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return values.to_numpy(dtype="float64")
    return np.asarray(values)


def _compress(values: np.ndarray, weights: np.ndarray | None, count: int) -> Sketch:
    """At most ``EXACT_LIMIT`` order statistics standing for the same rows."""
    if len(values) <= EXACT_LIMIT:
        return values, weights, count
    grid = np.linspace(0, 1, EXACT_LIMIT)
    points = _weighted_quantiles(values, weights, grid)
    return points, np.full(EXACT_LIMIT, count / EXACT_LIMIT), count


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray | None, qs: np.ndarray) -> Any:
    """Linear interpolation between values placed at the middle of their weights."""
    if weights is None and _is_timelike(values.dtype):
        # As pandas: on the integer ticks, the float result cast back (truncated).
        return np.quantile(values.view("i8"), qs, method="linear").astype(values.dtype)
    if weights is None:
        return np.quantile(values, qs, method="linear")
    mid = np.cumsum(weights) - weights / 2
    span = mid[-1] - mid[0]
    ranks = (mid - mid[0]) / span if span > 0 else np.zeros_like(mid)
    if _is_timelike(values.dtype):
        ticks = np.interp(qs, ranks, values.view("i8").astype("float64"))
        return np.round(ticks).astype("i8").view(values.dtype)
    return np.interp(qs, ranks, values.astype("float64"))


def quantile_chunk(part: pd.Series | pd.Index) -> Sketch:
    """The sketch of one partition: its sorted non-missing values (datetimes and
    timedeltas in their own dtype, as pandas interpolates them)."""
    values = np.sort(_values(part), kind="stable")
    return _compress(values, None, len(values))


def quantile_combine(partials: list[Sketch]) -> Sketch:
    """One sketch standing for the rows of all ``partials``."""
    kept = [p for p in partials if p[2]]
    if not kept:
        return (partials[0][0][:0] if partials else np.array([])), None, 0
    partials = kept
    if len(partials) == 1:
        return partials[0]
    count = sum(p[2] for p in partials)
    values = np.concatenate([p[0] for p in partials])
    if all(p[1] is None for p in partials):
        return _compress(np.sort(values, kind="stable"), None, count)
    weights = np.concatenate([np.ones(len(p[0])) if p[1] is None else p[1] for p in partials])
    order = np.argsort(values, kind="stable")
    return _compress(values[order], weights[order], count)


def quantile_aggregate(q: Any, name: Any, partials: list[Sketch]) -> Any:
    """The quantile(s) ``q`` of the rows of ``partials``: a float for a scalar ``q``,
    else a Series indexed by ``q`` and named ``name``, as pandas."""
    values, weights, count = quantile_combine(partials)
    qs = np.atleast_1d(np.asarray(q, dtype="float64"))
    timelike = _is_timelike(values.dtype)
    if count:
        out = np.asarray(_weighted_quantiles(values, weights, qs))
        out = out if timelike else out.astype("float64")
    else:
        out = np.full(len(qs), np.nan).astype(values.dtype if timelike else "float64")
    if np.ndim(q) == 0:
        return pd.Series(out).iloc[0] if timelike else np.float64(out[0])
    return pd.Series(out, index=pd.Index(qs), name=name)


def check_quantiles(q: Any) -> np.ndarray:
    """``q`` as an array, after checking every value is in ``[0, 1]``.

    Examples
    --------
    >>> check_quantiles([0.1, 0.5])
    array([0.1, 0.5])
    """
    try:
        qs = np.atleast_1d(np.asarray(q, dtype="float64"))
    except (TypeError, ValueError):
        raise TypeError(f"q must be a number or a list of numbers, got {q!r}") from None
    if qs.ndim != 1 or ((qs < 0) | (qs > 1) | np.isnan(qs)).any():
        raise ValueError(f"q must be between 0 and 1, got {q!r}")
    return qs
