"""pytest-benchmark cases for dict-graph scheduling, the same workloads as the harness.

Run with ``pytest benches -m benchmark`` (left out of the default test run). Each case
times one ``get`` call, graph conversion included; compare the taskloom and Dask rows
of one run, since this machine is shared and absolute times drift.
"""

from __future__ import annotations

import pytest

import taskloom
from taskloom.bench import WORKLOADS

pytestmark = pytest.mark.benchmark

SIZES = [10_000, 100_000]


def _getters():
    getters = {"taskloom-sync": taskloom.get_sync, "taskloom-threads": taskloom.get}
    try:
        import dask.local
        import dask.threaded
    except ImportError:
        return getters
    getters["dask-sync"] = dask.local.get_sync
    getters["dask-threads"] = dask.threaded.get
    return getters


GETTERS = _getters()


# Dask takes minutes per round at 10^5 tasks; the harness covers it with a time budget.
CASES = [
    (scheduler, workload, n)
    for scheduler in GETTERS
    for workload in WORKLOADS
    for n in SIZES
    if not (scheduler.startswith("dask") and n > 10_000)
]


@pytest.mark.parametrize(("scheduler", "workload", "n"), CASES)
def test_get(benchmark, scheduler, workload, n):
    dsk, keys, loop = WORKLOADS[workload](n)
    benchmark.group = f"{workload}-{n}"
    result = benchmark.pedantic(GETTERS[scheduler], args=(dsk, keys), rounds=3, iterations=1)
    assert result == loop()


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_loop_floor(benchmark, workload):
    _, _, loop = WORKLOADS[workload](100_000)
    benchmark.group = f"{workload}-100000"
    benchmark.pedantic(loop, rounds=3, iterations=1)
