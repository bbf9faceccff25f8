"""pytest-benchmark cases: the harness's workloads, run only when asked.

Run with ``pytest benches -m benchmark``. Each case times one computation, graph
conversion included; compare the taskloom and Dask rows of one run, since this machine
is shared and absolute times drift. ``python -m taskloom.bench`` covers larger sizes.
"""

from __future__ import annotations

import pytest

from taskloom.bench import GRAPHS, run_case, schedulers

pytestmark = pytest.mark.benchmark

SCHEDULING = [w for w in GRAPHS if w != "numpy"]
GETTERS = {name: get for name, get in schedulers().items() if get is not None}

# Dask takes minutes per round at 10^5 tasks; the harness covers it with a time budget.
CASES = [
    (scheduler, workload, n)
    for scheduler in GETTERS
    for workload in SCHEDULING
    for n in (10_000, 100_000)
    if not (scheduler.startswith("dask") and n > 10_000)
]


@pytest.mark.parametrize(("scheduler", "workload", "n"), CASES)
def test_get(benchmark, scheduler, workload, n):
    dsk, keys, loop = GRAPHS[workload](n)
    benchmark.group = f"{workload}-{n}"
    result = benchmark.pedantic(GETTERS[scheduler], args=(dsk, keys), rounds=3, iterations=1)
    assert result == loop()


@pytest.mark.parametrize("workload", SCHEDULING)
def test_loop_floor(benchmark, workload):
    _, _, loop = GRAPHS[workload](100_000)
    benchmark.group = f"{workload}-100000"
    benchmark.pedantic(loop, rounds=3, iterations=1)


@pytest.mark.parametrize("scheduler", ["taskloom-sync", "taskloom-threads"])
def test_numpy_tasks_release_the_gil(benchmark, scheduler):
    benchmark.group = "numpy-64"
    benchmark.pedantic(run_case, args=("numpy", 64, scheduler, 1), rounds=3, iterations=1)


@pytest.mark.parametrize("lib", ["taskloom", "dask"])
@pytest.mark.parametrize("n", [1_000, 10_000])
def test_delayed_build_and_compute(benchmark, lib, n):
    if lib == "dask":
        pytest.importorskip("dask")
    benchmark.group = f"delayed-{n}"
    benchmark.pedantic(run_case, args=("delayed", n, f"{lib}-sync", 1), rounds=3, iterations=1)


@pytest.mark.parametrize("scheduler", ["loop", "taskloom-threads", "dask-threads"])
@pytest.mark.parametrize("workload", ["df-groupby-std", "df-resample"])
def test_dataframe_on_timeseries(benchmark, workload, scheduler):
    if scheduler.startswith("dask"):
        pytest.importorskip("dask.dataframe")
    benchmark.group = f"{workload}-30-days"
    benchmark.pedantic(run_case, args=(workload, 30, scheduler, 1), rounds=3, iterations=1)
