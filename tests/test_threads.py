"""Parallelism: GIL-releasing tasks overlap, concurrent and nested gets are safe."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import taskloom

from reference import reference_get


class Intervals:
    """Records when each task ran and how many ran at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.spans = []
        self.active = 0
        self.peak = 0

    def sleep(self, seconds, tag=None):
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        start = time.perf_counter()
        time.sleep(seconds)
        end = time.perf_counter()
        with self.lock:
            self.active -= 1
            self.spans.append((start, end))
        return tag

    def all_overlap(self):
        return max(s for s, _ in self.spans) < min(e for _, e in self.spans)


def test_gil_releasing_tasks_run_together():
    rec = Intervals()
    dsk = {("s", i): (rec.sleep, 0.2, i) for i in range(4)}
    dsk["all"] = (list, [("s", i) for i in range(4)])
    assert taskloom.get(dsk, "all", num_workers=4) == [0, 1, 2, 3]
    assert len(rec.spans) == 4
    assert rec.all_overlap(), "the four sleeps did not run at the same time"


def test_sync_scheduler_runs_one_task_at_a_time():
    rec = Intervals()
    dsk = {("s", i): (rec.sleep, 0.01, i) for i in range(4)}
    taskloom.get_sync(dsk, [("s", i) for i in range(4)])
    assert rec.peak == 1


def test_num_workers_bounds_concurrency():
    rec = Intervals()
    dsk = {("s", i): (rec.sleep, 0.05, i) for i in range(12)}
    taskloom.get(dsk, [("s", i) for i in range(12)], num_workers=2)
    # Two workers, plus the calling thread while it times a callable it has not seen.
    assert 2 <= rec.peak <= 3


def test_waiting_jobs_do_not_start_on_other_idle_threads():
    # A wider run leaves idle threads in the process-wide pool and teaches the
    # scheduler that `sleep` is slow. Jobs then queued behind busy workers must
    # wait for those workers, not start on the idle threads.
    warm = Intervals()
    taskloom.get(
        {f"w{i}": (warm.sleep, 0.05) for i in range(6)}, [f"w{i}" for i in range(6)], num_workers=6
    )
    assert warm.peak >= 4
    rec = Intervals()
    dsk = {("s", i): (rec.sleep, 0.02, i) for i in range(30)}
    keys = [("s", i) for i in range(30)]
    assert taskloom.get(dsk, keys, num_workers=2) == tuple(range(30))
    assert rec.peak == 2


def test_numpy_tasks_run_on_several_threads():
    np = pytest.importorskip("numpy")
    seen = set()
    lock = threading.Lock()

    def sort(a):
        with lock:
            seen.add(threading.get_ident())
        return np.sort(a)

    rng = np.random.default_rng(0)
    arrays = [rng.random(200_000) for _ in range(16)]
    dsk = {("a", i): arr for i, arr in enumerate(arrays)}
    dsk.update({("sorted", i): (sort, ("a", i)) for i in range(16)})
    dsk["sums"] = (list, [(np.sum, ("sorted", i)) for i in range(16)])
    out = taskloom.get(dsk, "sums", num_workers=2)
    assert out == [np.sum(np.sort(a)) for a in arrays]
    assert len(seen) >= 2, "numpy tasks never left the calling thread"


def nap(x):
    time.sleep(0.001)  # releases the GIL, so this callable is offloaded
    return x


def make_graph(seed: int, n: int = 120) -> tuple[dict, list]:
    dsk = {("x", seed, 0): seed}
    for i in range(1, n):
        if i % 7 == 0:
            dsk[("x", seed, i)] = (nap, ("x", seed, i - 1))
        else:
            dsk[("x", seed, i)] = (sum, [("x", seed, i - 1), i, ("x", seed, i // 2)])
    return dsk, [("x", seed, n - 1), ("x", seed, n // 3)]


def test_python_threads_can_call_get_at_the_same_time():
    graphs = [make_graph(seed) for seed in range(16)]
    with ThreadPoolExecutor(8) as ex:
        futures = [
            ex.submit(getter, dsk, keys)
            for dsk, keys in graphs
            for getter in (taskloom.get, taskloom.get_sync)
        ]
        results = [f.result(timeout=60) for f in futures]
    expected = [reference_get(dsk, keys) for dsk, keys in graphs for _ in range(2)]
    assert results == expected


def test_get_inside_a_task():
    def inner(n):
        sub = {("i", j): (lambda j=j: j * j,) for j in range(n)}
        sub["total"] = (sum, [("i", j) for j in range(n)])
        return taskloom.get(sub, "total")

    dsk = {("outer", k): (inner, k) for k in range(1, 20)}
    dsk["all"] = (sum, [("outer", k) for k in range(1, 20)])
    expected = sum(sum(j * j for j in range(k)) for k in range(1, 20))
    assert taskloom.get(dsk, "all", num_workers=3) == expected
