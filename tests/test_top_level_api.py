"""Top-level names Dask users reach for: ``taskloom.utils`` (compared with
``dask.utils`` on many inputs), ``tokenize.TokenizationError``, ``optimize``,
``annotate``/``get_annotations`` and ``datasets.make_people``."""

from __future__ import annotations

import inspect
import threading
from datetime import timedelta

import dask.utils as du
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taskloom
from taskloom import utils as tu
from taskloom.tokenize import TokenizationError, tokenize


def _same(f, g, *args):
    """f(*args) and g(*args) return equal values of one type, or raise the same error."""
    try:
        expected = g(*args)
    except Exception as e:
        with pytest.raises(type(e)) as info:
            f(*args)
        assert str(info.value) == str(e)
        return
    got = f(*args)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    "name", ["apply", "format_bytes", "format_time", "parse_bytes", "parse_timedelta"]
)
def test_utils_signatures_match_dask(name):
    ours = inspect.signature(getattr(tu, name)).parameters
    theirs = inspect.signature(getattr(du, name)).parameters
    assert [(p.name, p.default) for p in ours.values()] == [
        (p.name, p.default) for p in theirs.values()
    ]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**62) | st.floats(0, 1e18, allow_nan=False))
def test_format_bytes_as_dask(n):
    _same(tu.format_bytes, du.format_bytes, n)


@settings(max_examples=25, deadline=None)
@given(st.floats(0, 1e7, allow_nan=False) | st.integers(0, 10**7))
def test_format_time_as_dask(n):
    _same(tu.format_time, du.format_time, n)


units = st.sampled_from(
    ["", "B", "kB", "KB", "kiB", "MiB", "mb", "G", "Ti", "pb", "PiB", "foo", "k b", "Mi"]
)
numbers = st.sampled_from(["", "1", "100", "5.4", "1e6", " 2 ", "x", "1.5e3", "0"])


@settings(max_examples=25, deadline=None)
@given(numbers, units)
def test_parse_bytes_as_dask(number, unit):
    _same(tu.parse_bytes, du.parse_bytes, number + unit)


@pytest.mark.parametrize("s", ["100 MB", "MB", "5 foos", "1e6 kB", 123, 4.5, "1kiB", "ab1"])
def test_parse_bytes_examples(s):
    _same(tu.parse_bytes, du.parse_bytes, s)


tunits = st.sampled_from(
    ["", "s", "ms", "us", "ns", "m", "h", "d", "w", "seconds", "Minute", "HOURS", "x", " s"]
)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["1", "3.5", "300", "0.25", "2 ", "1e3"]), tunits)
def test_parse_timedelta_as_dask(number, unit):
    _same(tu.parse_timedelta, du.parse_timedelta, number + unit)


@pytest.mark.parametrize(
    "args",
    [
        (None,), (timedelta(seconds=3),), (timedelta(milliseconds=1500),), (3,), (2.5,),
        (2, "minutes"), ("3", False), ("3", 5), ("ms",), ("3s", False),
    ],
)  # fmt: skip
def test_parse_timedelta_examples(args):
    _same(tu.parse_timedelta, du.parse_timedelta, *args)


def test_apply_in_a_graph():
    def f(a, b=1, *, c=0):
        return (a, b, c)

    assert tu.apply(f, (1,)) == f(1)
    assert tu.apply(f, (1, 2), {"c": 3}) == (1, 2, 3)
    assert taskloom.get({"x": 5, "y": (tu.apply, f, ["x"], {"c": "x"})}, "y") == (5, 1, "x")


def test_tokenization_error():
    assert issubclass(TokenizationError, RuntimeError)
    lock = threading.Lock()
    assert tokenize(lock) != tokenize(lock)  # random, so never shared
    with pytest.raises(TokenizationError, match="deterministically"):
        tokenize(lock, ensure_deterministic=True)
    with pytest.raises(TokenizationError):
        tokenize([1, {2: object()}], ensure_deterministic=True)
    with taskloom.config.set({"tokenize.ensure-deterministic": True}):
        with pytest.raises(TokenizationError):
            tokenize({lock})  # also from nested calls (sets tokenize their items)
        assert tokenize(lock, ensure_deterministic=False)
    assert tokenize(object()) != tokenize(object())
    assert tokenize([1, "a"], ensure_deterministic=True) == tokenize([1, "a"])
    assert "ensure_deterministic" in inspect.signature(tokenize).parameters
