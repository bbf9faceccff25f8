"""Shared fixtures: every scheduler entry point, so each spec test runs on all of them."""

from __future__ import annotations

import functools

import pytest

import taskloom
from taskloom import local, threaded

GETS = {
    "get_sync": local.get_sync,
    "threaded": threaded.get,
    "threaded-4": functools.partial(threaded.get, num_workers=4),
    "taskloom.get": taskloom.get,
    "sync-unfused": functools.partial(local.get_sync, optimize_graph=False),
    "threaded-unfused": functools.partial(threaded.get, optimize_graph=False),
}


@pytest.fixture(params=list(GETS), ids=list(GETS))
def get(request):
    """Each ``get`` function taskloom offers, with the same signature."""
    return GETS[request.param]


@pytest.fixture(scope="module")
def cluster_client():
    """A client of a real ``distributed.LocalCluster`` (2 worker processes, a thread
    each), shared by a module's cluster tests; not taskloom's default scheduler.
    Closed after the module: an idle cluster's processes keep a third of a core busy
    (heartbeats), which slowed the rest of the run by minutes."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
    )
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()
