"""Annotations recorded at build time (``taskloom.annotate``) and honoured: ``priority``
by the local schedulers, every annotation by a Dask cluster."""

from __future__ import annotations

import os
import pickle
import time

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import taskloom
import taskloom.array as da
import taskloom.bag as db
import taskloom.dataframe as dd
from taskloom.annotations import collect


def _log(ran: list, name):
    ran.append(name)
    return name


# --- recording ----------------------------------------------------------------------


def test_collections_record_their_own_layer_only():
    x = da.ones(6, chunks=2)
    frame = dd.from_pandas(pd.DataFrame({"a": range(6)}), npartitions=3)
    bag = db.from_sequence(range(6), npartitions=2)
    with taskloom.annotate(priority=3, retries=1):
        y = x + 1
        s = frame.a * 2
        total = s.sum()
        b = bag.map(str)
        count = b.count()
    expected = {"priority": 3, "retries": 1}
    for c in (y, s, total, b, count):
        found = collect([c])
        own = set(c.__dask_keys__()) if not hasattr(c, "key") else {c.key}
        assert set(found) >= own, type(c)
        assert all(v == expected for v in found.values())
    # Inputs built outside the block carry nothing; built inside, everything reached.
    assert not set(collect([y])) & set(x.__dask_keys__())
    assert not set(collect([s])) & set(frame.__dask_keys__())
    assert not set(collect([b])) & set(bag.__dask_keys__())
    assert set(collect([y])) == set(y.__dask_keys__())
    assert collect([x, frame, bag]) == {}
    # The graphs themselves are unchanged: plain tasks under the same keys.
    assert y.compute(scheduler="sync").tolist() == [2.0] * 6
    assert total.compute(scheduler="sync") == sum(2 * i for i in range(6))
    assert count.compute(scheduler="sync") == 6


def test_delayed_calls_are_marked_on_every_path():
    def f(*args, **kwargs):
        return args

    outside = taskloom.delayed(f)(0)
    with taskloom.annotate(priority=1):
        calls = [
            taskloom.delayed(f)(1),  # the native fast path elsewhere
            taskloom.delayed(f, pure=True)(2),
            taskloom.delayed(f)(3, k=1),
            outside + (4,),  # noqa: RUF005 (a Delayed operator, not a tuple)
            outside[0],
            outside.count(0),
            taskloom.delayed([outside, 5]),
        ]
        with taskloom.annotate(retries=2):
            inner = taskloom.delayed(f)(outside)
    found = collect([*calls, inner])
    for d in calls:
        assert found[d.key] == {"priority": 1}
    assert found[inner.key] == {"priority": 1, "retries": 2}
    assert outside.key not in found
    assert collect([outside]) == {}
    # Dask records the same calls the same way.
    dask = pytest.importorskip("dask")
    with dask.annotate(priority=1):
        theirs = dask.delayed(f)(1)
    layer = theirs.__dask_graph__().layers[theirs.key]
    assert layer.annotations == found[calls[0].key]


def test_marks_survive_pickling_and_keep_results():
    with taskloom.annotate(priority=7):
        d = taskloom.delayed(sum)([1, 2]) + 1
    for dumps in (pickle.dumps, cloudpickle.dumps):
        again = pickle.loads(dumps(d))
        assert collect([again]) == collect([d]) != {}
        assert again.compute(scheduler="sync") == 4


def test_annotated_layers_pickle_with_their_collection():
    with taskloom.annotate(priority=2):
        y = da.arange(4, chunks=2) * 2
    again = cloudpickle.loads(cloudpickle.dumps(y))
    assert collect([again]) == collect([y]) != {}
    np.testing.assert_array_equal(again.compute(scheduler="sync"), np.arange(4) * 2)


# --- priority, locally --------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-3, 3), st.floats(-5, 5)), max_size=12))
@example([-0.0, None])  # -0.0 is 0: a tie, run in the order asked for
def test_sync_runs_ready_tasks_by_priority(priorities):
    """Independent tasks run highest priority first, unannotated ones as 0, ties in
    the order asked for: the reference is Python's stable sort."""
    ran: list = []
    tasks = []
    for i, p in enumerate(priorities):
        if p is None:
            tasks.append(taskloom.delayed(_log)(ran, i))
        else:
            with taskloom.annotate(priority=p):
                tasks.append(taskloom.delayed(_log)(ran, i))
    for scheduler in ("sync", "threads"):
        ran.clear()
        kwargs = {"num_workers": 1} if scheduler == "threads" else {}
        assert taskloom.compute(*tasks, scheduler=scheduler, **kwargs) == tuple(range(len(tasks)))
        weight = [0 if p is None else p for p in priorities]
        assert ran == sorted(range(len(tasks)), key=lambda i: -weight[i])


def test_priority_waits_for_dependencies_and_reaches_collections():
    ran: list = []
    low = taskloom.delayed(_log)(ran, "low input")
    middle = taskloom.delayed(_log)(ran, "middle")
    with taskloom.annotate(priority=10):
        high = taskloom.delayed(lambda x, ran: _log(ran, "high"))(low, ran)
    with taskloom.annotate(priority=5):
        mid_high = taskloom.delayed(_log)(ran, "mid high")
    taskloom.compute(middle, high, mid_high, scheduler="sync")
    assert ran == ["mid high", "middle", "low input", "high"]

    # An array's blocks, built in the block with their inputs: later blocks first.
    with taskloom.annotate(priority=lambda key: key[1]):
        x = da.arange(8, chunks=2)
        y = x.map_blocks(lambda b: np.asarray([time.perf_counter_ns()]), chunks=(1,))
    order = y.compute(scheduler="sync")
    assert list(np.argsort(order)) == [3, 2, 1, 0]


def test_processes_hand_out_by_priority():
    with taskloom.annotate(priority=lambda key: int(key.rsplit("-", 1)[1])):
        tasks = [taskloom.delayed(time.perf_counter_ns)(dask_key_name=f"t-{i}") for i in range(6)]
    started = taskloom.compute(*tasks, scheduler="processes", num_workers=1)
    assert sorted(range(6), key=lambda i: -started[i]) == list(range(6))


def test_bad_priority_from_a_callable_names_the_key():
    with taskloom.annotate(priority=lambda key: "soon"):
        d = taskloom.delayed(len)([1], dask_key_name="the-key")
    with pytest.raises(TypeError, match="the-key"):
        d.compute(scheduler="sync")
    with taskloom.annotate(priority=lambda key: float("nan")):
        d = taskloom.delayed(len)([1], dask_key_name="nan-key")
    with pytest.raises(TypeError, match="nan-key"):
        d.compute(scheduler="threads")


# --- on a Dask cluster --------------------------------------------------------------


@pytest.fixture(scope="module")
def small_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.Client(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        dashboard_address=":0",
        resources={"GPU": 1},
        set_as_default=False,
    ) as client:
        yield client


def test_cluster_honours_build_time_annotations(small_cluster):
    distributed = pytest.importorskip("distributed")

    def where(_):
        time.sleep(0.02)  # long enough that, unconstrained, both workers take tasks
        return distributed.get_worker().address

    addresses = sorted(small_cluster.scheduler_info()["workers"])
    for target in addresses:
        with taskloom.annotate(workers=[target], allow_other_workers=False):
            pinned = [taskloom.delayed(where)(i) for i in range(6)]
        free = [taskloom.delayed(where)(i) for i in range(6)]
        ran, _ = taskloom.compute(pinned, free, scheduler=small_cluster)
        assert set(ran) == {target}
    x = da.ones(8, chunks=2)
    for i, target in enumerate(addresses):
        with taskloom.annotate(workers=[target], allow_other_workers=False):
            y = x.map_blocks(
                lambda b: np.full(b.shape, addresses.index(distributed.get_worker().address)),
                dtype=int,
            )
        assert set(y.compute(scheduler=small_cluster).tolist()) == {i}


def test_cluster_retries_an_annotated_task(small_cluster, tmp_path):
    marker = tmp_path / "failed-once"

    def flaky():
        if not marker.exists():
            marker.touch()
            raise OSError("first attempt fails")
        return os.getpid()

    plain = taskloom.delayed(flaky)()
    with pytest.raises(OSError, match="first attempt"):
        plain.compute(scheduler=small_cluster)
    marker.unlink()
    with taskloom.annotate(retries=2):
        retried = taskloom.delayed(flaky)()
    assert retried.compute(scheduler=small_cluster) == os.getpid()
