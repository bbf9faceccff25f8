"""Small helpers Dask users import from ``dask.utils``: ``apply`` for task tuples, and
parsing and formatting of byte sizes and durations.

Policy: each function returns exactly what ``dask.utils``'s does on the same input
(the tests compare the two directly), including its error types and messages, so that
configuration strings written for Dask (``"100 MiB"``, ``"3s"``) mean the same here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from numbers import Number
from typing import Any

__all__ = ["apply", "format_bytes", "format_time", "parse_bytes", "parse_timedelta"]


def apply(func: Callable, args: tuple, kwargs: Mapping[str, Any] | None = None) -> Any:
    """``func(*args, **kwargs)``: puts keyword arguments in a task tuple.

    Parameters
    ----------
    func : callable
        The function to call.
    args : tuple
        Its positional arguments.
    kwargs : dict, optional
        Its keyword arguments.

    Examples
    --------
    >>> import taskloom
    >>> from taskloom.utils import apply
    >>> apply(int, ("ff",), {"base": 16})
    255
    >>> taskloom.get({"x": (apply, int, ("11",), {"base": 2})}, "x")
    3
    """
    if kwargs:
        return func(*args, **kwargs)
    return func(*args)


def format_bytes(n: int) -> str:
    """Bytes as text with a binary prefix (``'1.21 kiB'``).

    Examples
    --------
    >>> format_bytes(1234), format_bytes(12345678), format_bytes(1)
    ('1.21 kiB', '11.77 MiB', '1 B')
    """
    for prefix, k in (("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("ki", 2**10)):
        # From 90% of a unit on, so that the text never exceeds 10 characters.
        if n >= k * 0.9:
            return f"{n / k:.2f} {prefix}B"
    return f"{n} B"


def format_time(n: float) -> str:
    """Seconds as text (``'1.23 ms'``, ``'20m 34s'``, ``'14d 6hr'``).

    Examples
    --------
    >>> format_time(0.001234), format_time(1234.567), format_time(1234567.89)
    ('1.23 ms', '20m 34s', '14d 6hr')
    """
    if n > 24 * 60 * 60 * 2:
        d = int(n / 3600 / 24)
        h = int((n - d * 3600 * 24) / 3600)
        return f"{d}d {h}hr"
    if n > 60 * 60 * 2:
        h = int(n / 3600)
        m = int((n - h * 3600) / 60)
        return f"{h}hr {m}m"
    if n > 60 * 10:
        m = int(n / 60)
        s = int(n - m * 60)
        return f"{m}m {s}s"
    if n >= 1:
        return f"{n:.2f} s"
    if n >= 1e-3:
        return f"{n * 1e3:.2f} ms"
    return f"{n * 1e6:.2f} us"


byte_sizes: dict[str, int] = {
    "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50,
    "B": 1, "": 1,
}  # fmt: skip
byte_sizes = {k.lower(): v for k, v in byte_sizes.items()}
# Units may drop their final "b": "5k" and "1Mi" are sizes too.
byte_sizes.update({k[:-1]: v for k, v in byte_sizes.items() if k and "i" not in k})
byte_sizes.update({k[:-1]: v for k, v in byte_sizes.items() if k and "i" in k})


def _split_unit(s: str) -> tuple[str, str]:
    """``"5.4kB"`` -> ``("5.4", "kB")``: the number is all before the trailing letters."""
    i = len(s) - 1
    while i >= 0 and s[i].isalpha():
        i -= 1
    return s[: i + 1], s[i + 1 :]


def parse_bytes(s: float | str) -> int:
    """A byte size from text (``'100 MB'``, ``'5.4kB'``, ``'1kiB'``) or a number.

    Units are decimal (``kB``, ``MB``...) or binary (``kiB``, ``MiB``...), in any case;
    a unit alone means one of it.

    Raises
    ------
    ValueError
        If the number or the unit cannot be read.

    Examples
    --------
    >>> parse_bytes("100 MB"), parse_bytes("1kiB"), parse_bytes("MB"), parse_bytes(123)
    (100000000, 1024, 1000000, 123)
    """
    if isinstance(s, (int, float)):
        return int(s)
    s = s.replace(" ", "")
    if not any(char.isdigit() for char in s):
        s = f"1{s}"
    prefix, suffix = _split_unit(s)
    try:
        n = float(prefix)
    except ValueError as e:
        raise ValueError(f"Could not interpret '{prefix}' as a number") from e
    try:
        multiplier = byte_sizes[suffix.lower()]
    except KeyError as e:
        raise ValueError(f"Could not interpret '{suffix}' as a byte unit") from e
    return int(n * multiplier)


timedelta_sizes: dict[str, float] = {
    "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "m": 60, "h": 3600, "d": 3600 * 24,
    "w": 7 * 3600 * 24,
}  # fmt: skip
_tds2 = {
    "second": 1, "minute": 60, "hour": 60 * 60, "day": 60 * 60 * 24,
    "week": 7 * 60 * 60 * 24, "millisecond": 1e-3, "microsecond": 1e-6, "nanosecond": 1e-9,
}  # fmt: skip
_tds2.update({k + "s": v for k, v in _tds2.items()})
timedelta_sizes.update(_tds2)
timedelta_sizes.update({k.upper(): v for k, v in timedelta_sizes.items()})


def parse_timedelta(
    s: str | float | timedelta | None, default: str | bool = "seconds"
) -> float | int | None:
    """Seconds from text (``'3s'``, ``'300ms'``, ``'2 hours'``), a number or a timedelta.

    Parameters
    ----------
    s : str, float, timedelta or None
        The duration; None gives None.
    default : str or False, optional
        The unit of a bare number; False requires ``s`` to name its unit.

    Returns
    -------
    int or float
        An int when the number of seconds is whole.

    Raises
    ------
    ValueError
        If ``s`` has no unit and ``default`` is False.
    KeyError
        If the unit is unknown.

    Examples
    --------
    >>> parse_timedelta("3s"), parse_timedelta("300ms"), parse_timedelta(2, "minutes")
    (3, 0.3, 120)
    """
    if s is None:
        return None
    if isinstance(s, timedelta):
        s = s.total_seconds()
        return int(s) if int(s) == s else s
    if isinstance(s, Number):
        s = str(s)
    s = s.replace(" ", "")
    if not s[0].isdigit():
        s = f"1{s}"
    prefix, suffix = _split_unit(s)
    suffix = suffix or default
    if suffix is False:
        raise ValueError(f"Missing time unit: {s}")
    if not isinstance(suffix, str):
        raise TypeError(f"default must be str or False, got {default!r}")
    n = float(prefix)
    try:
        multiplier = timedelta_sizes[suffix.lower()]
    except KeyError:
        valid_units = ", ".join(timedelta_sizes.keys())
        raise KeyError(f"Invalid time unit: {suffix}. Valid units are: {valid_units}") from None
    result = n * multiplier
    if int(result) == result:
        result = int(result)
    return result
