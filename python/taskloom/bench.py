"""The benchmark harness: scheduling cost per task, taskloom against Dask and a plain loop.

Run ``python -m taskloom.bench`` (or ``taskloom-bench``). Each workload is a task graph
of trivial functions (``inc``, ``add``), so what is measured is the scheduler: the time
of one ``get`` call, graph conversion included, divided by the number of tasks. The
floor is a plain Python loop making the same calls. Dask runs only if installed, and
only up to the size where its estimated time stays within ``--dask-budget`` seconds.

Examples
--------
>>> from taskloom.bench import run_case
>>> row = run_case("chain", 1000, "taskloom-sync", repeat=1)
>>> row["tasks"], row["scheduler"]
(1000, 'taskloom-sync')
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from operator import add
from typing import Any

import taskloom


def inc(x: int) -> int:
    return x + 1


# --- workloads: each returns (graph, keys, loop) for n tasks --------------------------


def fanin(n: int) -> tuple[dict, Any, Callable[[], Any]]:
    """n - 1 independent ``inc`` tasks summed by one task."""
    m = n - 1
    dsk: dict = {("inc", i): (inc, i) for i in range(m)}
    dsk["total"] = (sum, [("inc", i) for i in range(m)])
    return dsk, "total", lambda: sum([inc(i) for i in range(m)])


def chain(n: int) -> tuple[dict, Any, Callable[[], Any]]:
    """A linear chain: each task increments the previous result."""
    dsk: dict = {"chain-0": 0}
    for i in range(1, n):
        dsk[f"chain-{i}"] = (inc, f"chain-{i - 1}")

    def loop() -> int:
        x = 0
        for _ in range(1, n):
            x = inc(x)
        return x

    return dsk, f"chain-{n - 1}", loop


def tree(n: int) -> tuple[dict, Any, Callable[[], Any]]:
    """A binary reduction tree over about n/2 ``inc`` leaves, combined by ``add``."""
    leaves = (n + 1) // 2
    dsk: dict = {("leaf", i): (inc, i) for i in range(leaves)}
    level = [("leaf", i) for i in range(leaves)]
    depth = 0
    while len(level) > 1:
        depth += 1
        nxt = []
        for j in range(0, len(level) - 1, 2):
            key = ("node", depth, j // 2)
            dsk[key] = (add, level[j], level[j + 1])
            nxt.append(key)
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt

    def loop() -> int:
        values = [inc(i) for i in range(leaves)]
        while len(values) > 1:
            paired = [add(values[j], values[j + 1]) for j in range(0, len(values) - 1, 2)]
            if len(values) % 2:
                paired.append(values[-1])
            values = paired
        return values[0]

    return dsk, level[0], loop


WORKLOADS: dict[str, Callable[[int], tuple[dict, Any, Callable[[], Any]]]] = {
    "fanin": fanin,
    "chain": chain,
    "tree": tree,
}


# --- schedulers ------------------------------------------------------------------------


def _dask_getters() -> dict[str, Callable]:
    try:
        import dask.local
        import dask.threaded
    except ImportError:
        return {}
    return {"dask-sync": dask.local.get_sync, "dask-threads": dask.threaded.get}


def schedulers() -> dict[str, Callable | None]:
    """Every scheduler available here; ``loop`` (None) is the plain-Python floor."""
    found: dict[str, Callable | None] = {
        "loop": None,
        "taskloom-sync": taskloom.get_sync,
        "taskloom-threads": taskloom.get,
    }
    found.update(_dask_getters())
    return found


_GRAPHS: dict[tuple[str, int], tuple[dict, Any, Callable[[], Any]]] = {}


def _graph(workload: str, n: int) -> tuple[dict, Any, Callable[[], Any]]:
    if (workload, n) not in _GRAPHS:
        _GRAPHS.clear()  # keep one graph alive at a time: 10^6 tasks is ~200 MB of dict
        _GRAPHS[(workload, n)] = WORKLOADS[workload](n)
    return _GRAPHS[(workload, n)]


def run_case(workload: str, n: int, scheduler: str, repeat: int = 3) -> dict[str, Any]:
    """Time one (workload, size, scheduler) case; best of ``repeat`` runs.

    Returns a row with ``us_per_task`` and the raw ``seconds``.
    """
    dsk, keys, loop = _graph(workload, n)
    get = schedulers()[scheduler]
    expected = loop()
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = loop() if get is None else get(dsk, keys)
        best = min(best, time.perf_counter() - start)
        if result != expected:
            raise AssertionError(
                f"{scheduler} computed {result!r} for {workload}, not {expected!r}"
            )
    return {
        "workload": workload,
        "tasks": len(dsk),
        "scheduler": scheduler,
        "seconds": best,
        "us_per_task": best / len(dsk) * 1e6,
    }


def _progress(message: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[K" + message)
    else:
        sys.stderr.write(message + "\n")
    sys.stderr.flush()


def run(
    workloads: list[str],
    sizes: list[int],
    names: list[str],
    repeat: int,
    dask_budget: float,
) -> list[dict[str, Any]]:
    """Run every case; Dask stops growing a workload once its estimate passes the budget."""
    rows = []
    available = schedulers()
    for name in names:
        if name not in available:
            _progress(f"skipping {name}: not installed (pip install 'taskloom[bench]')")
    for workload in workloads:
        dask_cost: dict[str, float] = {}
        for n in sizes:
            for name in names:
                if name not in available:
                    continue
                if name.startswith("dask") and name in dask_cost:
                    estimate = dask_cost[name] * n * repeat
                    if estimate > dask_budget:
                        continue
                _progress(f"{workload:>6} n={n:<8} {name}")
                row = run_case(workload, n, name, repeat)
                rows.append(row)
                if name.startswith("dask"):
                    dask_cost[name] = row["seconds"] / row["tasks"]
    _progress("")
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """Format rows: us/task, cost relative to the loop, speed-up over Dask's schedulers."""
    by = {(r["workload"], r["tasks"], r["scheduler"]): r["us_per_task"] for r in rows}
    header = (
        f"{'workload':<8} {'tasks':>9} {'scheduler':<17} {'us/task':>9} "
        f"{'x loop':>7} {'vs dask-sync':>13} {'vs dask-thr':>12}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        w, n, s, us = r["workload"], r["tasks"], r["scheduler"], r["us_per_task"]
        loop = by.get((w, n, "loop"))
        ratio = f"{us / loop:7.1f}" if loop else f"{'':>7}"

        def speedup(peer: str, w=w, n=n, s=s, us=us) -> str:
            other = by.get((w, n, peer))
            return f"{other / us:.0f}x" if other and s.startswith("taskloom") else ""

        lines.append(
            f"{w:<8} {n:>9} {s:<17} {us:>9.3f} {ratio} "
            f"{speedup('dask-sync'):>13} {speedup('dask-threads'):>12}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``taskloom-bench``)."""
    parser = argparse.ArgumentParser(prog="taskloom-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument(
        "--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000], metavar="N"
    )
    parser.add_argument(
        "--schedulers",
        nargs="+",
        default=["loop", "taskloom-sync", "taskloom-threads", "dask-sync", "dask-threads"],
        metavar="NAME",
        help="loop, taskloom-sync, taskloom-threads, dask-sync, dask-threads",
    )
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument(
        "--dask-budget",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="skip Dask on sizes whose estimated time exceeds this",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    if args.repeat < 1 or any(n < 2 for n in args.sizes):
        parser.error("--repeat must be >= 1 and every size >= 2")
    rows = run(args.workloads, args.sizes, args.schedulers, args.repeat, args.dask_budget)
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
