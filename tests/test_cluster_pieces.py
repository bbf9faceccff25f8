"""Graphs on a real Dask cluster cut into pieces (taskloom._cluster): results equal to
the local schedulers' on every shape, inputs passed between pieces unchanged, errors
as locally, persist's futures, Dask's collections, and a worker killed mid-run."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from operator import add

import numpy as np
import pytest

import taskloom
import taskloom.bag as db
from taskloom import bench
from taskloom.local import get_sync

distributed = pytest.importorskip("distributed")

from taskloom.distributed import get  # noqa: E402


@pytest.fixture
def client(cluster_client):
    return cluster_client


def _dask_tasks_run(client, fn):
    """``fn()``'s result and how many tasks Dask's scheduler ran for it."""
    with distributed.get_task_stream(client) as ts:
        result = fn()
    return result, len(ts.data)


@pytest.mark.parametrize(
    "shape", [bench.fanin, bench.chain, bench.tree, bench.random_dag, bench.mapreduce]
)
def test_every_shape_matches_the_local_result(client, shape):
    dsk, key, loop = shape(3_000)
    expected = loop()
    assert get_sync(dsk, key) == expected
    got, ran = _dask_tasks_run(client, lambda: get(dsk, key, client))
    assert got == expected
    assert ran < len(dsk) / 50  # pieces, not tasks


def test_pieces_off_sends_task_by_task(client):
    dsk, key, loop = bench.tree(300)
    got, ran = _dask_tasks_run(client, lambda: get(dsk, key, client, pieces=False))
    assert (got, ran) == (loop(), len(dsk))  # as Dask's own client.get
    with taskloom.config.set({"distributed.pieces": False}):
        got, ran = _dask_tasks_run(client, lambda: get(dsk, key, client, pieces=None))
    assert (got, ran) == (loop(), len(dsk))
    # By default even a small graph goes in pieces (8 per worker thread here).
    got, ran = _dask_tasks_run(client, lambda: get(dsk, key, client))
    assert got == loop() and ran < len(dsk) / 10
    # A graph of fewer tasks than that: pieces of one task, as Dask's tasks.
    small = {"a": 1, "b": (_same, "a"), "c": (add, "a", "b")}
    assert _dask_tasks_run(client, lambda: get(small, "c", client)) == (2, 3)


def _random_graph(rng: random.Random, n: int) -> tuple[dict, list]:
    dsk: dict = {}
    for i in range(n):
        deps = [f"t{rng.randrange(i)}" for _ in range(rng.randint(0, 3))] if i else []
        kind = rng.random()
        if kind < 0.2:
            dsk[f"t{i}"] = i  # data
        elif kind < 0.3 and deps:
            dsk[f"t{i}"] = deps[0]  # an alias
        else:
            dsk[f"t{i}"] = (_combine, i, deps)
    outputs = [f"t{rng.randrange(n)}" for _ in range(rng.randint(1, 6))]
    # Nested, with a repeat, as Dask's keys may be.
    return dsk, [outputs[:2], outputs[2:], [outputs[0]]]


def _combine(i, values):
    return (i * 31 + sum(v if isinstance(v, int) else len(v) for v in values)) % 1_000_003


@pytest.mark.parametrize("target", [1, 3, 17])
def test_random_graphs_and_nested_keys_match_the_local_result(client, target):
    rng = random.Random(target)
    for _ in range(6):
        dsk, keys = _random_graph(rng, rng.randint(1, 300))
        # As Dask's client.get, lists where the local get gives tuples.
        assert get(dsk, keys, client, pieces=target) == [list(x) for x in get_sync(dsk, keys)]


def _key_like(_):
    return "a"  # equal to a key of the graph: must arrive as the string, not as "a"'s value


def _tuple_task_like(_):
    return (add, 1, 2)  # a task's shape: must arrive as the tuple, not run


def _same(x):
    return x


def test_results_passed_between_pieces_are_not_read_as_tasks_or_keys(client):
    dsk = {
        "a": 10,
        "s": (_key_like, "a"),
        "t": (_tuple_task_like, "a"),
        "l": (list, [["a"], "a"]),
        "arr": (np.arange, 5),
    }
    # Each consumer in a piece of its own (target 1), so every value crosses pieces.
    dsk.update({f"{k}2": (_same, k) for k in ["s", "t", "l", "arr"]})
    keys = ["s2", "t2", "l2", "arr2"]
    s, t, lst, arr = get(dsk, keys, client, pieces=1)
    assert s == "a" and t == (add, 1, 2) and lst == [[10], 10] == get_sync(dsk, "l2")
    np.testing.assert_array_equal(arr, np.arange(5))


class Boom(Exception):
    pass


def _explode(x):
    if x == 1234:
        raise Boom(f"bad input {x}")
    return x


def test_an_error_arrives_with_its_type_traceback_and_key(client):
    dsk = {("x", i): (_explode, i) for i in range(3000)}
    dsk["total"] = (sum, list(dsk))
    with pytest.raises(Boom, match="bad input 1234") as info:
        get(dsk, "total", client, pieces=True)
    assert any("('x', 1234)" in note for note in getattr(info.value, "__notes__", []))
    assert any(entry.name == "_explode" for entry in info.traceback)


def test_persist_leaves_futures_and_later_graphs_read_them(client):
    b = db.from_sequence(range(10_000), npartitions=2_500).map(lambda x: x * 3)
    (kept,) = taskloom.persist(b, scheduler=client)
    values = list(kept.__dask_graph__().values())
    assert len(values) == 2_500 and all(isinstance(v, distributed.Future) for v in values)
    client.gather(values)  # (so the task stream below sees only the next graph's tasks)
    # The graph that reads the futures runs in pieces.
    total, ran = _dask_tasks_run(client, lambda: kept.sum().compute(scheduler=client))
    assert total == 3 * sum(range(10_000))
    assert ran < 500
    parts = kept.__dask_keys__()
    graph = {**dict(kept.__dask_graph__()), "n": (sum, [(len, k) for k in parts])}
    futures = get(graph, ["n", parts[0]], client, pieces=True, sync=False)
    assert [f.result() for f in futures] == [10_000, [0, 3, 6, 9]]


def test_dask_collections_computed_through_taskloom_run_in_pieces(client):
    dask_bag = pytest.importorskip("dask.bag")
    b = dask_bag.from_sequence(range(20_000), npartitions=4_000).map(lambda x: x % 7)
    expected = b.sum().compute(scheduler="sync")
    got, ran = _dask_tasks_run(client, lambda: taskloom.compute(b.sum(), scheduler=client)[0])
    assert got == expected
    assert ran < 1_000  # Dask alone runs more than 8,000 tasks here


def test_bad_arguments_and_graphs_are_refused_as_locally(client):
    dsk, key, _ = bench.tree(100)
    with pytest.raises(ValueError, match="pieces must be"):
        get(dsk, key, client, pieces="many")
    with pytest.raises(taskloom.CycleError):
        get({"a": (_same, "b"), "b": (_same, "a")}, "a", client, pieces=True)


def _slow_inc(x):
    time.sleep(0.01)
    return x + 1


def _kill_once_it_runs_a_piece(client, done: threading.Event) -> None:
    """SIGKILL the first worker seen running a piece (Dask's nanny restarts it)."""
    pids = client.run(os.getpid)
    while not done.is_set():
        busy = [w for w, keys in client.processing().items() if keys]
        if busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            return
        time.sleep(0.02)


def test_a_worker_killed_mid_run_is_recovered_from():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    )
    client = distributed.Client(cluster, set_as_default=False)
    try:
        dsk, key, _ = bench.tree(1_000)
        dsk = {k: (_slow_inc, v) if k[0] == "leaf" else v for k, v in dsk.items()}
        expected = get_sync(dsk, key)
        before = set(client.run(os.getpid).values())
        done = threading.Event()
        killer = threading.Thread(target=_kill_once_it_runs_a_piece, args=(client, done))
        killer.start()
        try:
            assert get(dsk, key, client, pieces=25) == expected
        finally:
            done.set()
            killer.join()
        # A worker process was killed while pieces ran (and the nanny started another).
        assert len(before - set(client.run(os.getpid).values())) == 1
    finally:
        client.close()
        cluster.close()


def test_dask_shuffles_run_by_tasks_in_pieces_unless_p2p_is_asked_for(client):
    # With a default client Dask would shuffle peer to peer through its scheduler's
    # extension, which tasks inside pieces cannot reach.
    dask_dataframe = pytest.importorskip("dask.dataframe")
    import dask
    import pandas as pd

    pdf = pd.DataFrame({"k": np.arange(400) % 13, "v": np.arange(400.0)})
    ddf = dask_dataframe.from_pandas(pdf, npartitions=8)
    expected = pdf.groupby("k").v.std()
    with client.as_current():
        (got,) = taskloom.compute(ddf.groupby("k").v.std(split_out=4), scheduler=client)
        pd.testing.assert_series_equal(got.sort_index(), expected)
        (got,) = taskloom.compute(ddf.shuffle("k").v.sum(), scheduler=client)
        assert got == pdf.v.sum()
        with dask.config.set({"dataframe.shuffle.method": "p2p"}):
            (got,) = taskloom.compute(ddf.shuffle("k").v.sum(), scheduler=client)
        assert got == pdf.v.sum()


def test_futures_inside_tasks_arrive_as_their_results(client):
    scattered = client.scatter(41)
    submitted = client.submit(_same, [1, 2], pure=False)
    one = taskloom.delayed(_same)(scattered) + 1
    both = taskloom.delayed(sum)([scattered, taskloom.delayed(len)(submitted)])
    nested = taskloom.delayed(_same)({"deep": [(scattered,)]})
    assert taskloom.compute(one, both, nested, scheduler=client, pieces=1) == (
        42,
        43,
        {"deep": [(41,)]},
    )
    # The same future in many pieces is sent to each as one argument.
    dsk = {("x", i): (add, scattered, i) for i in range(200)}
    dsk["total"] = (sum, list(dsk))
    assert get(dsk, "total", client, pieces=7) == 200 * 41 + sum(range(200))


def test_lambdas_and_closures_travel_by_value(client):
    offset = 5
    dsk = {("x", i): (lambda i: i + offset, i) for i in range(100)}
    dsk["total"] = (sum, list(dsk))
    assert get(dsk, "total", client, pieces=10) == get_sync(dsk, "total")


SCRIPT = """
from taskloom import _bench_cluster
from taskloom.distributed import get


def triple(x):  # the script's own: the workers' __main__ is another module
    return 3 * x


if __name__ == "__main__":
    # A cluster started by another program (as any real cluster is), so its workers
    # cannot import this script's functions by name.
    client = _bench_cluster.client()
    dsk = {("x", i): (triple, i) for i in range(50)}
    dsk["total"] = (sum, list(dsk))
    print(get(dsk, "total", client, pieces=5))
"""


def test_a_scripts_own_functions_travel_by_value(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[-1] == str(3 * sum(range(50)))
