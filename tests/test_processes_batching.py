"""The processes scheduler's economies (issue #14): a callable used again is sent to a
worker once per computation, fast chains travel in batches, small results come back
with the reply, and a data partition is not walked element by element. Each must
leave the results, the errors and the recovery from a dead worker as they were."""

from __future__ import annotations

import os
import signal
import time
from operator import add

import cloudpickle
import numpy as np
import pytest

import taskloom
import taskloom.multiprocessing as mp
from taskloom._worker import execute
from taskloom.multiprocessing import WorkerDied, get

pytestmark = pytest.mark.skipif(os.name != "posix", reason="processes need POSIX pipes")

PICKLED = {"count": 0}


class Adder:
    """A callable object that counts how often the parent pickles it."""

    def __init__(self, n):
        self.n = n

    def __call__(self, x):
        return x + self.n

    def __reduce__(self):
        PICKLED["count"] += 1
        return Adder, (self.n,)


def _batch_sizes(monkeypatch):
    sizes = []
    start = mp._Run.start

    def spy(self, w, ts):
        sizes.append(len(ts))
        return start(self, w, ts)

    monkeypatch.setattr(mp._Run, "start", spy)
    return sizes


def test_the_same_lambda_in_1000_tasks_on_2_workers():
    offset = 7
    f = lambda x: x * 2 + offset  # noqa: E731
    dsk = {("x", i): (f, i) for i in range(1000)}
    dsk["total"] = (sum, list(dsk))
    assert get(dsk, ["total", ("x", 999)], num_workers=2) == (
        sum(i * 2 + 7 for i in range(1000)),
        999 * 2 + 7,
    )


def test_a_callable_used_again_is_pickled_once_per_worker():
    add_three = Adder(3)
    dsk = {("a", i): (add_three, i) for i in range(1000)}
    PICKLED["count"] = 0
    assert get(dsk, list(dsk), num_workers=2) == tuple(i + 3 for i in range(1000))
    # Once in the first message, then once for each of the two workers.
    assert PICKLED["count"] <= 3


def test_a_callable_changed_between_computations_is_sent_afresh():
    adder = Adder(1)
    dsk = {("a", i): (adder, i) for i in range(300)}
    assert get(dsk, list(dsk), num_workers=2) == tuple(i + 1 for i in range(300))
    adder.n = 100
    assert get(dsk, list(dsk), num_workers=2) == tuple(i + 100 for i in range(300))


def test_a_function_redefined_between_computations_is_sent_afresh():
    results = []
    for k in (1, 2):
        g = lambda x, k=k: x * k  # noqa: E731
        dsk = {("g", i): (g, i) for i in range(200)}
        results.append(get(dsk, list(dsk), num_workers=2))
    assert results == [tuple(range(200)), tuple(2 * i for i in range(200))]


def test_with_func_dumps_every_message_is_pickled_whole():
    f = lambda x: x - 1  # noqa: E731
    dsk = {("f", i): (f, i) for i in range(300)}
    out = get(
        dsk, list(dsk), num_workers=2, func_dumps=cloudpickle.dumps, func_loads=cloudpickle.loads
    )
    assert out == tuple(i - 1 for i in range(300))


class _ExitOnClear(dict):
    def clear(self):
        time.sleep(0.5)  # the parent's next computation has sent this worker a job
        os._exit(0)


def _exit_when_cleared(i):
    import gc

    from taskloom._worker import Worker

    time.sleep(0.2)  # so that each of the two workers takes one
    worker = next(o for o in gc.get_objects() if isinstance(o, Worker))
    worker.store = _ExitOnClear(worker.store)
    return os.getpid()


def test_workers_replaced_at_the_start_get_the_callables_they_need():
    doomed = set(get({("d", i): (_exit_when_cleared, i) for i in range(2)}, [("d", 0), ("d", 1)]))
    assert len(doomed) == 2
    # Both die before beginning their first job of this computation, which carries the
    # callables by value or by number: the new workers must get them by value.
    adder = Adder(5)
    dsk = {("a", i): (adder, i) for i in range(500)}
    dsk.update({("b", i): (lambda x: -x, ("a", i)) for i in range(500)})
    assert get(dsk, [("b", i) for i in range(500)], num_workers=2) == tuple(
        -(i + 5) for i in range(500)
    )
    assert not doomed & {p.popen.pid for p in mp._POOL.procs}


def test_a_worker_that_crashed_is_replaced_and_gets_the_callables_next_time():
    f = lambda x: x + 1  # noqa: E731
    dsk = {("f", i): (f, i) for i in range(200)}
    dsk["boom"] = (lambda *xs: os.kill(os.getpid(), signal.SIGKILL), *list(dsk)[:5])
    with pytest.raises(WorkerDied, match="while computing"):
        get(dsk, "boom", num_workers=2)
    del dsk["boom"]
    assert get(dsk, list(dsk), num_workers=2) == tuple(i + 1 for i in range(200))


def test_fast_chains_travel_in_batches_and_every_task_is_seen(monkeypatch):
    sizes = _batch_sizes(monkeypatch)
    seen = []
    cb = taskloom.callbacks.Callback(posttask=lambda key, *rest: seen.append(key))
    dsk = {("x", i): (add, i, 1) for i in range(2000)}
    dsk.update({("y", i): (add, ("x", i), ("x", (i + 1) % 2000)) for i in range(2000)})
    dsk["total"] = (sum, [("y", i) for i in range(2000)])
    assert get(dsk, "total", num_workers=2, callbacks=[cb]) == 2 * sum(range(1, 2001))
    assert sorted(map(str, seen)) == sorted(map(str, dsk))
    assert sizes[:2] == [1, 1] and max(sizes) > 1  # measured first, then batched
    assert sum(sizes) == len(dsk)  # nothing fused here: one chain per task


def test_chunksize_bounds_the_batches(monkeypatch):
    sizes = _batch_sizes(monkeypatch)
    dsk = {("x", i): (add, i, 1) for i in range(500)}
    assert get(dsk, list(dsk), num_workers=2, chunksize=1) == tuple(range(1, 501))
    assert set(sizes) == {1}
    sizes.clear()
    assert get(dsk, list(dsk), num_workers=2, chunksize=3) == tuple(range(1, 501))
    assert max(sizes) == 3
    with pytest.raises(ValueError, match="chunksize"):
        get(dsk, list(dsk), chunksize=0)


def test_slow_tasks_are_not_batched(monkeypatch):
    sizes = _batch_sizes(monkeypatch)
    dsk = {("s", i): (time.sleep, 0.02) for i in range(10)}
    get(dsk, list(dsk), num_workers=2)
    assert set(sizes) == {1}


def _fail_at(i):
    if i == 700:
        raise KeyError(f"bad {i}")
    return i


def test_an_error_in_a_batch_names_its_task_and_the_pool_recovers():
    dsk = {("e", i): (_fail_at, i) for i in range(1000)}
    with pytest.raises(KeyError, match="bad 700") as info:
        get(dsk, list(dsk), num_workers=2)
    assert any("('e', 700)" in note for note in info.value.__notes__)
    assert get({"a": 1, "b": (add, "a", 1)}, "b", num_workers=2) == 2


def _die_at(i):
    if i == 1500:
        os._exit(5)
    return i


def test_a_worker_dying_in_a_batch_is_an_error_and_is_replaced():
    dsk = {("d", i): (_die_at, i) for i in range(2000)}
    with pytest.raises(WorkerDied, match=r"exited with code 5 while computing"):
        get(dsk, list(dsk), num_workers=2)
    dsk = {("d", i): (_die_at, i) for i in range(1000)}
    assert get(dsk, list(dsk), num_workers=2) == tuple(range(1000))


def test_small_results_move_between_workers_without_a_fetch(monkeypatch):
    # A tree reduction: the partial sums come back with the replies.
    fetched = []
    fetch_many = mp._Run.fetch_many

    def spy(self, ts):
        fetched.extend(t for t in ts if t not in self.here)
        return fetch_many(self, ts)

    monkeypatch.setattr(mp._Run, "fetch_many", spy)
    dsk = {("p", i): (sum, list(range(i * 10, i * 10 + 10))) for i in range(256)}
    level, n = "p", 256
    while n > 1:
        n //= 2
        dsk.update({(f"{level}+", i): (add, (level, 2 * i), (level, 2 * i + 1)) for i in range(n)})
        level += "+"
    assert get(dsk, (level, 0), num_workers=2) == sum(range(2560))
    assert fetched == []
    # A large result still stays in its worker until needed elsewhere.
    fetched.clear()
    big = {"l": (list, (range, 10_000)), "s": (sum, "l"), "n": (len, "l")}
    assert get(big, ["s", "n"], num_workers=2, optimize_graph=False) == (sum(range(10_000)), 10_000)


def test_execute_skips_walking_partitions_but_keeps_references():
    part = list(range(100))
    out = execute(part, {})
    assert out == part and out is not part
    assert execute([1, "x", 2.5], {"x": 10}) == [1, 10, 2.5]
    assert execute([True, 2], {1: "one"}) == ["one", 2]  # True is key 1, by dict rules
    assert execute((1, 2), {}) == (1, 2)
    assert execute({1, 2}, {2: "two"}) == {1, "two"}
    five = np.int64(5)
    assert execute([five, 6], {5: "five"}) == [five, 6]  # not a key type: a literal
    assert get({"a": 1, "b": (sum, [1, "a", 2])}, "b", num_workers=2) == 4
