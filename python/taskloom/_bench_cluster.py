"""The benchmark harness's cluster columns: ``taskloom-cluster`` and ``dask-cluster``.

Both run on one ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``,
started on first use in a child process (``python -m taskloom._bench_cluster``) and
stopped when the harness exits. A LocalCluster's scheduler otherwise lives in the
process that made it, the harness's own, which holds every graph it builds; apart, the
scheduler's memory is its own and :func:`scheduler_mib` reports it after each run.
``taskloom-cluster`` is :func:`taskloom.distributed.get` (the graph in pieces, see
``taskloom._cluster``), ``dask-cluster`` Dask's own ``client.get`` (task by task).
"""

from __future__ import annotations

import atexit
import subprocess
import sys
from collections.abc import Callable
from typing import Any

CLUSTER_SCHEDULERS = ["taskloom-cluster", "dask-cluster"]

_state: dict[str, Any] = {}


def available() -> bool:
    """Whether ``distributed`` is installed (the cluster columns need it)."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def client() -> Any:
    """The harness's client, on a cluster started in a child process on first use."""
    if "client" not in _state:
        import distributed

        child = subprocess.Popen(
            [sys.executable, "-m", "taskloom._bench_cluster"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        address = child.stdout.readline().strip() if child.stdout else ""
        if not address:
            child.kill()
            raise RuntimeError("the benchmark cluster did not start (see its error above)")
        _state["child"] = child
        _state["client"] = distributed.Client(address, set_as_default=False)
        atexit.register(_stop)
    return _state["client"]


def warm() -> None:
    """Start the cluster and import taskloom's cluster path on its workers, so neither
    is timed as part of the first case."""
    client().run(_import_on_worker)


def _import_on_worker() -> None:
    import taskloom._cluster  # noqa: F401


def _stop() -> None:
    c = _state.pop("client", None)
    if c is not None:
        c.close()
    child = _state.pop("child", None)
    if child is not None and child.stdin:
        child.stdin.close()  # the child closes its cluster and exits
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()


def get(name: str) -> Callable[[Any, Any], Any]:
    """The ``get`` function of a cluster column; starts the cluster when first called."""

    def run(dsk: Any, keys: Any) -> Any:
        c = client()
        if name == "taskloom-cluster":
            from taskloom.distributed import get as pieces_get

            return pieces_get(dsk, keys, c)
        return c.get(dict(dsk), keys)

    return run


def scheduler_mib() -> float | None:
    """The cluster scheduler's resident memory now, in MiB (None before it started)."""
    if "client" not in _state:
        return None
    return _state["client"].run_on_scheduler(_rss) / 2**20


def _rss() -> int:
    import psutil  # a dependency of distributed

    return psutil.Process().memory_info().rss


def _serve() -> None:
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
    )
    print(cluster.scheduler_address, flush=True)
    sys.stdin.read()  # until the harness closes our stdin, or exits
    cluster.close()


if __name__ == "__main__":
    _serve()
