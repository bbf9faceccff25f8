"""Top-level names Dask users reach for: ``taskloom.utils`` (compared with
``dask.utils`` on many inputs), ``tokenize.TokenizationError``, ``optimize``,
``annotate``/``get_annotations`` and ``datasets.make_people``."""

from __future__ import annotations

import inspect
import threading
import time
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


def test_optimize_signature_matches_dask():
    import dask

    for name in ("optimize", "annotate", "get_annotations"):
        ours = inspect.signature(getattr(taskloom, name)).parameters
        theirs = inspect.signature(getattr(dask, name)).parameters
        assert [(p.name, p.kind) for p in ours.values()] == [
            (p.name, p.kind) for p in theirs.values()
        ]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(-50, 50), min_size=1, max_size=30), st.integers(1, 4))
def test_optimize_collections_share_one_graph(values, nparts):
    import numpy as np
    import pandas as pd

    import taskloom.array as ta
    import taskloom.bag as tb
    import taskloom.dataframe as tdd

    nparts = min(nparts, len(values))
    bag = tb.from_sequence(values, npartitions=nparts).map(lambda x: x + 1)
    arr = ta.from_array(np.array(values), chunks=max(1, len(values) // nparts)) * 2
    frame = tdd.from_pandas(pd.DataFrame({"x": values}), npartitions=nparts)
    d = taskloom.delayed(sum)(values)
    total = d + 1
    unused = d * 100  # noqa: F841 - built, never asked for: culled
    opt = taskloom.optimize(bag, arr.sum(), frame.x + 1, total, {"k": [d, 5]}, 7)
    b2, a2, s2, t2, container, seven = opt
    assert seven == 7 and container["k"][1] == 5
    assert type(b2) is type(bag) and type(a2) is type(arr) and type(s2) is type(frame.x)
    graphs = [dict(c.__dask_graph__()) for c in (b2, a2, s2, t2, container["k"][0])]
    assert all(g.keys() == graphs[0].keys() for g in graphs)
    assert b2.compute() == [v + 1 for v in values]
    assert a2.compute() == 2 * sum(values)
    pd.testing.assert_series_equal(s2.compute(), pd.Series(values, name="x") + 1)
    assert t2.compute() == sum(values) + 1
    assert taskloom.compute(container)[0] == {"k": [sum(values), 5]}
    # Fused chains: fewer tasks than the graphs had, and nothing unused kept.
    separate = {}
    for c in (bag, arr.sum(), frame.x + 1, total, d):
        separate.update(dict(c.__dask_graph__()))
    assert len(graphs[0]) < len(separate)
    assert not any(str(k).startswith("mul") for k in graphs[0])


def test_optimize_dask_collections_and_plain_values():
    import dask
    import dask.bag as db

    b = db.from_sequence([1, 2, 3], npartitions=2).map(lambda x: x * 2)
    (b2,) = taskloom.optimize(b)
    assert isinstance(b2, db.Bag) and b2.compute(scheduler="sync") == [2, 4, 6]
    assert taskloom.optimize(1, [2]) == (1, [2]) == dask.optimize(1, [2])
    d = taskloom.delayed(len)([1, 2])
    assert taskloom.optimize([d], traverse=False)[0][0] is d


def test_annotate_nesting_and_checks():
    import dask

    assert taskloom.get_annotations() == {}
    with taskloom.annotate(priority=1, workers="tcp://a:1"):
        assert taskloom.get_annotations() == {"priority": 1, "workers": ["tcp://a:1"]}
        assert dask.get_annotations() == taskloom.get_annotations()
        with taskloom.annotate(priority=5, retries=2):
            assert taskloom.get_annotations() == {
                "priority": 5,
                "workers": ["tcp://a:1"],
                "retries": 2,
            }
        assert taskloom.get_annotations()["priority"] == 1
    assert taskloom.get_annotations() == {} == dask.get_annotations()
    for bad in ({"priority": "high"}, {"retries": "x"}, {"resources": 3}, {"workers": 3}):
        with pytest.raises(TypeError, match=next(iter(bad))):
            with taskloom.annotate(**bad):
                pass
    with taskloom.annotate(anything=[1]):  # any other name is kept as given
        assert taskloom.get_annotations() == {"anything": [1]}


def test_annotate_is_honoured_by_a_dask_cluster():
    distributed = pytest.importorskip("distributed")
    from taskloom.distributed import Client

    def where(_):
        time.sleep(0.05)  # long enough that, unconstrained, both workers take tasks
        return distributed.get_worker().address

    with Client(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as client:
        addresses = sorted(client.scheduler_info()["workers"])
        for target in addresses:
            with taskloom.annotate(workers=[target], allow_other_workers=False):
                ran = taskloom.compute(
                    [taskloom.delayed(where)(i, dask_key_name=f"w-{target}-{i}") for i in range(6)]
                )[0]
            assert set(ran) == {target}


@settings(max_examples=5, deadline=None)
@given(st.integers(1, 3), st.integers(0, 4), st.integers(0, 2**31))
def test_make_people_equals_dasks(npartitions, records, seed):
    pytest.importorskip("mimesis")
    import dask.datasets

    ours = taskloom.datasets.make_people(npartitions, records, seed=seed, locale="fr")
    theirs = dask.datasets.make_people(npartitions, records, seed=seed, locale="fr")
    assert ours.npartitions == npartitions
    assert ours.compute(scheduler="sync") == theirs.compute(scheduler="sync")


def test_make_people_runs_in_processes_and_checks_arguments(monkeypatch):
    pytest.importorskip("mimesis")
    b = taskloom.datasets.make_people(npartitions=2, records_per_partition=2)
    people = b.compute(scheduler="processes")
    assert len(people) == 4 and all(0 <= p["age"] <= 120 for p in people)
    other = taskloom.datasets.make_people(npartitions=2, records_per_partition=2)
    assert other.name != b.name  # unseeded bags are different bags
    with pytest.raises(ValueError, match="npartitions"):
        taskloom.datasets.make_people(npartitions=0)
    with pytest.raises(ValueError, match="records_per_partition"):
        taskloom.datasets.make_people(records_per_partition=-1)
    monkeypatch.setitem(__import__("sys").modules, "mimesis", None)
    with pytest.raises(ImportError, match=r"taskloom\[mimesis\]"):
        taskloom.datasets.make_people()
