"""taskloom on a real Dask cluster: a distributed.LocalCluster of worker processes on
127.0.0.1, with results compared against the local schedulers."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import taskloom
import taskloom.array as da
import taskloom.bag as db
import taskloom.dataframe as dd

distributed = pytest.importorskip("distributed")


@pytest.fixture
def client(cluster_client):
    return cluster_client


def _pid(_):
    return os.getpid()


def test_collections_on_the_cluster(client):
    parts = [taskloom.delayed(lambda i: i * i)(i) for i in range(20)]
    total = taskloom.delayed(sum)(parts)
    assert taskloom.compute(total, scheduler=client) == (total.compute(scheduler="sync"),)
    assert total.compute(scheduler=client) == sum(i * i for i in range(20))

    b = db.from_sequence(range(200), npartitions=6)
    assert b.map(lambda x: x % 5).frequencies().compute(scheduler=client) == b.map(
        lambda x: x % 5
    ).frequencies().compute(scheduler="sync")

    data = np.random.default_rng(0).random((60, 40))
    x = da.from_array(data, chunks=(15, 10))
    np.testing.assert_allclose(
        (x @ x.T).mean(axis=1).compute(scheduler=client), (data @ data.T).mean(axis=1)
    )

    pdf = pd.DataFrame({"k": list("abcde") * 40, "v": np.arange(200.0)})
    df = dd.from_pandas(pdf, npartitions=5)
    pd.testing.assert_frame_equal(
        df.groupby("k").agg({"v": ["sum", "std"]}).compute(scheduler=client),
        pdf.groupby("k").agg({"v": ["sum", "std"]}),
    )
    pids = set(b.map(_pid).compute(scheduler=client))
    assert os.getpid() not in pids  # the work ran in the cluster's worker processes


def test_persist_keeps_results_on_the_workers(client):
    pdf = pd.DataFrame({"v": np.arange(100.0)})
    doubled = dd.from_pandas(pdf, npartitions=4).v * 2
    (kept,) = taskloom.persist(doubled, scheduler=client)
    values = list(kept.__dask_graph__().values())
    assert values and all(isinstance(v, distributed.Future) for v in values)
    assert kept.sum().compute(scheduler=client) == (pdf.v * 2).sum()
    kept_delayed = taskloom.delayed(sum)([1, 2, 3]).persist(scheduler=client)
    assert (kept_delayed + 1).compute(scheduler=client) == 7


def test_taskloom_client_is_the_default_while_open(client):
    from taskloom.distributed import Client

    before = taskloom.config.get("scheduler", None)
    with Client(client.scheduler.address) as ours:
        assert taskloom.config.get("scheduler") is ours
        pids = set(db.from_sequence(range(10), npartitions=2).map(_pid).compute())
        assert os.getpid() not in pids
    assert taskloom.config.get("scheduler", None) is before


def test_without_distributed_the_error_names_the_extra():
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "try:\n    import taskloom.distributed\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "pip install 'taskloom[distributed]'" in out.stdout


def test_seed_article_001_client_and_delayed():
    """Article 001's code with ``dask`` replaced by ``taskloom`` (sleeps shortened):
    ``Client()`` starts a local cluster and becomes the default scheduler."""
    from time import sleep

    from taskloom import delayed
    from taskloom.distributed import Client

    def inc(x):
        sleep(0.01)
        return x + 1

    def add(x, y):
        sleep(0.01)
        return x + y

    with Client(dashboard_address=":0") as client:  # any free port for the dashboard
        x = delayed(inc)(1)
        y = delayed(inc)(2)
        z = delayed(add)(x, y)
        assert z.compute() == 5
        x2 = delayed(inc)(1)
        y2 = delayed(inc)(2)
        z2 = delayed(add)(x2, y2)
        total = delayed(add)(z, z2)
        assert total.compute() == 10
        assert (z + z2).compute() == 10
        assert sum([z, z2]).compute() == 10
        data = [3, 8, 1, 4, 2, 9, 4, 6]
        newdata = [delayed(inc)(x) for x in data]
        prod = np.prod(newdata)
        assert prod.compute() == np.prod([x + 1 for x in data])
        assert delayed(np.prod)(newdata).compute() == np.prod([x + 1 for x in data])
        assert taskloom.config.get("scheduler") is client


# --- default clients form a stack (issue #12, item 16) ------------------------------------


def _new_client():
    from taskloom.distributed import Client

    return Client(n_workers=1, processes=False, dashboard_address=":0")


def _on_a_worker() -> bool:
    """Whether the calling task runs on a distributed worker (else: a local scheduler)."""
    try:
        distributed.get_worker()
    except ValueError:
        return False
    return True


@pytest.fixture(autouse=True)
def dask_scheduler_setting_restored():
    """Dask's own client leaves ``dask.config``'s scheduler at "dask.distributed" when
    clients close in opening order (Dask 2026.8): put it back, so later tests that call
    ``dask.compute`` run on Dask's default, not on a closed client."""
    import dask

    before = dask.config.get("scheduler", None)
    yield
    dask.config.set(scheduler=before)


@pytest.fixture
def no_default_scheduler():
    """Each test starts and must end with no scheduler set: the collections' default."""
    assert taskloom.config.get("scheduler", None) is None
    yield
    leftover = taskloom.config.get("scheduler", None)
    taskloom.config.config.pop("scheduler", None)
    assert leftover is None


def test_closing_in_opening_order_leaves_the_most_recent_open_client(no_default_scheduler):
    from taskloom.base import ClusterGet, get_scheduler
    from taskloom.threaded import get as threads

    a = _new_client()
    b = _new_client()
    try:
        assert get_scheduler() == ClusterGet(b)
        a.close()
        # Dask agrees here (its most recent open client is B); taskloom used to fall
        # back to the threads while B was still open.
        assert get_scheduler() == ClusterGet(b)
        assert taskloom.delayed(_on_a_worker)().compute()
        b.close()
        # Dask (distributed 2026.8) leaves scheduler="dask.distributed" here and its
        # next compute raises "no Client active"; taskloom used to point at closed A.
        assert get_scheduler() is threads
        assert taskloom.config.get("scheduler", None) is None
        assert taskloom.delayed(_on_a_worker)().compute() is False  # ran locally
    finally:
        a.close()
        b.close()


def test_any_order_of_closes_and_with_blocks(no_default_scheduler):
    from taskloom.base import ClusterGet, get_scheduler
    from taskloom.threaded import get as threads

    with _new_client() as a:
        with _new_client() as b:
            assert get_scheduler() == ClusterGet(b)
        assert get_scheduler() == ClusterGet(a)
        c = _new_client()
        d = _new_client()
        c.close()  # out of order, under d
        assert get_scheduler() == ClusterGet(d)
        d.close()
        assert get_scheduler() == ClusterGet(a)
        assert taskloom.delayed(_on_a_worker)().compute()
        a.close()  # closed inside its own with block; the block's close is then a no-op
        assert get_scheduler() is threads
    assert get_scheduler() is threads
    shut = _new_client()
    shut.shutdown()  # every way of closing hands the default back
    assert get_scheduler() is threads


def test_a_scheduler_the_user_sets_while_a_client_is_open(no_default_scheduler):
    """Closing a client undoes only what the client did.

    Dask (distributed 2026.8) restores its snapshot of the setting when the last client
    closes: a ``with dask.config.set(scheduler="sync")`` block is cleared from under the
    user (None inside the block, then the stale "dask.distributed" after it, with no
    client), and a scheduler set globally while the client was open is reset. taskloom
    keeps the user's setting, and a block never brings back a closed client.
    """
    from taskloom.base import ClusterGet, get_scheduler
    from taskloom.local import get_sync
    from taskloom.threaded import get as threads

    a = _new_client()
    with taskloom.config.set(scheduler="sync"):
        assert get_scheduler() is get_sync
        a.close()
        assert get_scheduler() is get_sync  # the user's block stands
    assert get_scheduler() is threads  # not the closed client the block found
    assert taskloom.delayed(_on_a_worker)().compute() is False

    a = _new_client()
    user = taskloom.config.set(scheduler="sync")  # globally, after the client opened
    a.close()
    assert get_scheduler() is get_sync
    user.__exit__(None, None, None)  # (undo it: the fixture checks for a clean end)
    assert get_scheduler() is threads

    with taskloom.config.set(scheduler="sync"):
        a = _new_client()  # opened inside the block, outlives it
        assert get_scheduler() == ClusterGet(a)
    assert get_scheduler() == ClusterGet(a)  # still open: still the default
    a.close()
    assert get_scheduler() is threads  # not the block's "sync", which has ended

    b = _new_client()
    with taskloom.config.set(scheduler="sync"):
        b.close()
        c = _new_client()
        assert get_scheduler() == ClusterGet(c)
    assert get_scheduler() == ClusterGet(c)
    c.close()
    assert get_scheduler() is threads


def test_set_as_default_false_leaves_the_default_alone(no_default_scheduler):
    from taskloom.base import ClusterGet, get_scheduler
    from taskloom.distributed import Client
    from taskloom.threaded import get as threads

    with _new_client() as a:
        with Client(a.scheduler.address, set_as_default=False) as other:
            assert get_scheduler() == ClusterGet(a)
        assert other.status == "closed" and get_scheduler() == ClusterGet(a)
    assert get_scheduler() is threads
