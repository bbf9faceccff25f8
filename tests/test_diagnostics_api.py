"""ResourceProfiler, CacheProfiler and visualize: real measurements, Dask's result
types, and the Bokeh document drawn from them."""

from __future__ import annotations

import sys
import time
from operator import add, mul

import dask.diagnostics as dd
import pytest

import taskloom
from taskloom.diagnostics import (
    CacheProfiler,
    Profiler,
    ResourceData,
    ResourceProfiler,
    visualize,
)


def _allocate(mb):
    block = bytearray(mb * 10**6)  # touched: bytearray zero-fills, so it is resident
    time.sleep(0.4)
    return len(block)


def test_resource_profiler_sees_memory_grow():
    with ResourceProfiler(dt=0.02) as prof:
        time.sleep(0.1)
        assert taskloom.get({"x": (_allocate, 300)}, "x", num_workers=1) == 300 * 10**6
    assert prof.start_time <= prof.results[0].time <= prof.results[-1].time <= prof.end_time
    assert all(isinstance(r, ResourceData) for r in prof.results)
    assert ResourceData._fields == dd.profile.ResourceData._fields
    mems = [r.mem for r in prof.results]
    assert max(mems) - mems[0] > 200  # MB: the task's 300 MB block was seen
    assert len(prof.results) >= 10


def test_resource_profiler_sees_cpu_use():
    def spin(samples):
        # Busy until the sampler has taken 5 samples during the spin (at most 20 s: on
        # a loaded machine its thread may get few turns), handing the GIL over every
        # 10 ms so that it gets them even when other threads (a Dask client's event
        # loop left by an earlier test) also want it.
        first = len(samples)
        end = time.perf_counter() + 20
        while len(samples) < first + 5 and time.perf_counter() < end:
            step = time.perf_counter() + 0.01
            while time.perf_counter() < step:
                pass
            time.sleep(0)

    with ResourceProfiler(dt=0.1) as idle_prof:
        time.sleep(0.5)
    idle = max(r.cpu for r in idle_prof.results)
    with ResourceProfiler(dt=0.1) as prof:
        taskloom.get({"x": (spin, prof._tracker.data)}, "x", num_workers=1)
    # Busy: a good share of a CPU (the machine is shared, so not all of one).
    assert max(r.cpu for r in prof.results) > max(idle, 5) + 15


def test_resource_profiler_registered_samples_only_during_computations():
    prof = ResourceProfiler(dt=0.01)

    def until_sampled(times):
        # Waits for the samples rather than a fixed time: CI's machine can stall.
        deadline = time.monotonic() + 30
        while len(prof._tracker.data) < times and time.monotonic() < deadline:
            time.sleep(0.01)

    prof.register()
    try:
        taskloom.get({"x": (until_sampled, 3)}, "x")
        n = len(prof.results)
        assert n >= 3
        time.sleep(0.1)
        assert len(prof.results) == n  # no sampling between computations
        taskloom.get({"x": (time.sleep, 0.05)}, "x")
        assert len(prof.results) > n
    finally:
        prof.unregister()
        prof.close()
    with pytest.raises(ValueError, match="dt"):
        ResourceProfiler(dt=0)


def test_cache_profiler_metrics_and_release_times():
    dsk = {"x": 1, "y": (add, "x", 10), "z": (mul, "y", 2), "w": (add, "z", "y")}
    with CacheProfiler(metric=lambda v: v, metric_name="value") as prof:
        assert taskloom.get_sync(dsk, "w") == 33
    by_key = {r.key: r for r in prof.results}
    assert set(by_key) == {"y", "z", "w"}  # data is not a cached result, as in Dask
    assert {k: r.metric for k, r in by_key.items()} == {"y": 11, "z": 22, "w": 33}
    # "y" is read by "z" and "w": held until "w" finished; "w" held to the end.
    assert by_key["y"].free_time == by_key["w"].cache_time
    assert by_key["z"].free_time == by_key["w"].cache_time
    for r in prof.results:
        assert prof.start_time <= r.cache_time <= r.free_time <= prof.end_time
        assert r.task == dsk[r.key]
    assert prof._metric_name == "value"
    assert CacheProfiler(metric=sys.getsizeof)._metric_name == "getsizeof"
    assert CacheProfiler()._metric_name == "count"
    with pytest.raises(TypeError, match="metric"):
        CacheProfiler(metric=3)


def test_cache_profiler_matches_dask_on_a_chain():
    dsk = {"a": (abs, -1), "b": (add, "a", 1), "c": (add, "b", 1), "d": (add, "c", "a")}
    with CacheProfiler(metric=lambda v: v * 10) as ours:
        taskloom.get_sync(dsk, "d")
    import dask

    with dd.CacheProfiler(metric=lambda v: v * 10) as theirs:
        dask.get(dsk, "d")
    assert sorted((r.key, r.metric) for r in ours.results) == sorted(
        (r.key, r.metric) for r in theirs.results
    )


def test_visualize_builds_one_figure_per_profiler(tmp_path):
    pytest.importorskip("bokeh")
    from bokeh.models import GridPlot, Plot

    dsk = {"x": (_allocate, 10), "y": (add, "x", 1)}
    with Profiler() as p, ResourceProfiler(dt=0.05) as r, CacheProfiler() as c:
        taskloom.get(dsk, "y")
    out = tmp_path / "profile.html"
    grid = visualize([p, r, c], filename=str(out), show=False, save=True)
    assert isinstance(grid, GridPlot)
    figs = [child[0] for child in grid.children]
    assert len(figs) == 3 and all(isinstance(f, Plot) for f in figs)
    assert figs[1].x_range is figs[0].x_range  # one shared time axis
    assert "Bokeh" in out.read_text()
    single = p.visualize(show=False, save=False)
    assert isinstance(single, Plot)
    assert len(single.renderers) == 1


def test_visualize_without_bokeh_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "bokeh", None)
    monkeypatch.setitem(sys.modules, "bokeh.plotting", None)
    with pytest.raises(ImportError, match=r"taskloom\[bokeh\]"):
        visualize(Profiler(), show=False, save=False)


def test_resource_profiler_counts_worker_processes_started_later():
    with ResourceProfiler(dt=0.02) as prof:
        time.sleep(0.1)
        dsk = {("x", i): (_allocate, 150) for i in range(2)}
        assert taskloom.multiprocessing.get(dsk, list(dsk), num_workers=2) == (150 * 10**6,) * 2
    mems = [r.mem for r in prof.results]
    assert max(mems) - mems[0] > 250  # both workers' blocks: in the children's memory


def test_resource_profiler_without_psutil_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)
    with pytest.raises(ImportError, match=r"taskloom\[diagnostics\]"):
        with ResourceProfiler(dt=0.01):
            pass
