"""Linear-chain fusion: chains run as one unit; results and errors are unchanged."""

from __future__ import annotations

import threading
import time

import pytest

import taskloom
from taskloom import _core

from reference import reference_get


def nap_step(x):
    time.sleep(0.002)  # releases the GIL: offloaded to the pool
    return (*x, threading.get_ident())


def chain_graph(length=6, chains=3):
    dsk = {}
    for c in range(chains):
        dsk[("step", c, 0)] = (nap_step, ())
        for i in range(1, length):
            dsk[("step", c, i)] = (nap_step, ("step", c, i - 1))
    keys = [("step", c, length - 1) for c in range(chains)]
    return dsk, keys


def test_fused_chain_runs_on_one_worker_as_one_job():
    dsk, keys = chain_graph()
    taskloom.get(dsk, keys[0], num_workers=2)  # learn that nap_step is slow
    for threads in taskloom.get(dsk, keys, num_workers=2):
        assert len(set(threads)) == 1, "a fused chain moved between threads"
        assert threads[0] != threading.get_ident()


def test_unfused_chain_is_scheduled_task_by_task():
    dsk, keys = chain_graph(length=12, chains=1)
    taskloom.get(dsk, keys[0], num_workers=2)
    seen = set()
    for _ in range(5):
        (threads,) = taskloom.get(dsk, keys, num_workers=2, optimize_graph=False)
        seen.add(len(set(threads)))
    # Each step is its own job, so steps land on whichever worker is free.
    assert max(seen) > 1


def test_fusion_does_not_change_results(get):
    dsk = {"a": 1}
    prev = "a"
    for i in range(20):
        dsk[f"c{i}"] = (lambda x, i=i: x * 2 + i, prev)
        prev = f"c{i}"
    dsk["side"] = (sum, ["c3", "c10"])  # c3 and c10 have two consumers: chains break
    keys = [prev, "side", "c5"]  # c5 is an output: not fused away
    expected = reference_get(dsk, keys)
    assert get(dsk, keys) == expected
    assert get(dsk, keys, optimize_graph=False) == expected


def test_error_inside_a_fused_chain_names_the_failing_task():
    def boom(x):
        time.sleep(0.001)
        raise ValueError("chain broke")

    dsk = {"a": (nap_step, ()), "b": (nap_step, "a"), "c": (boom, "b"), "d": (nap_step, "c")}
    taskloom.get({"w": (nap_step, ())}, "w", num_workers=2)
    with pytest.raises(ValueError, match="chain broke") as info:
        taskloom.get(dsk, "d", num_workers=2)
    assert any("'c'" in note for note in info.value.__notes__)


def test_compiled_graph_runs_repeatedly():
    dsk = {"a": 1, "b": (lambda x: x + 1, "a"), "unused": (print, "a")}
    compiled = _core.Compiled(dsk, ["b", "a"])
    assert len(compiled) == 2
    assert compiled.run() == (2, 1)
    assert compiled.run(num_workers=2) == (2, 1)
    with pytest.raises(taskloom.CycleError):
        _core.Compiled({"x": (abs, "x")}, "x")
