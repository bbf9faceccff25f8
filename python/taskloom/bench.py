"""The benchmark harness: scheduling cost per task, taskloom against Dask and a plain loop.

Run ``python -m taskloom.bench`` (or ``taskloom-bench``). Most workloads are task graphs
of trivial functions (``inc``, ``add``), so what is measured is the scheduler: the time
of one computation, graph conversion included, divided by the number of tasks. The floor
is a plain Python loop making the same calls. ``shuffled`` is ``chain``'s graph with
its dict entries in a seeded random order, so what a graph whose dict order is not its
execution order costs shows beside ``chain`` (the aim: at most 1.3 times as long);
``reused`` is ``chain``'s graph made in memory freed in another order, as any graph but
a process's first is.
Other workloads measure parallel speed-up
(numpy tasks that release the GIL), graph building (``delayed``), Dask's own
collections (``dask-array``: n chunks of 100 float64, summed; ``dask-bag``: n partitions
of 100 integers, ``map``, ``filter``, ``sum``; ``dask-dataframe``: Dask's
``datasets.timeseries()`` over n days, a filtered groupby std), taskloom.array against
dask.array on the same expressions (``array-blocks``, ``array-ufunc``, ``linalg-qr``), and
taskloom.dataframe against dask.dataframe on ``datasets.timeseries()`` (``df-*``, size
in days of 86,400 rows; the loop is pandas on the same partitions made in a loop). Dask
runs only if installed, once per case on task graphs (best of ``--repeat`` on
dataframes and on its own collections, where times are close), and only up to the size
where its estimated time stays within ``--dask-budget`` seconds. The schedulers of one
case take turns, a run each per round, so the machine's load falls on all of them alike;
cases that take milliseconds get extra rounds (up to 10, within about a second).

Columns: ``us/task`` end to end; ``x loop``, the same relative to the loop; ``exec``,
taskloom's execution alone (graph already converted) in us/task; ``B/task``, taskloom's
peak memory beyond the input graph, in bytes per task (Linux); ``vs dask-*``, how many
times less time per task taskloom takes than Dask's scheduler on the same case.
The ``pure-python`` workload (tasks that hold the GIL) also runs the processes
schedulers, taskloom's and Dask's.

Dask's collections run on every path a Dask user takes: ``dask-sync`` and
``dask-threads`` are ``dask.compute(x, scheduler="sync" or "threads")``;
``taskloom-sync`` and ``taskloom-threads`` are ``dask.compute(x,
scheduler=taskloom.get_sync or taskloom.get)`` (Dask's optimization, taskloom's
execution); ``taskloom-compute``, on these workloads only, is ``taskloom.compute(x)``
with no scheduler named, so taskloom picks its own.

On a Dask cluster (not in the default run; needs ``distributed``): ``taskloom-cluster``
runs graphs with :func:`taskloom.distributed.get` (in pieces, see
``taskloom._cluster``) and collections with ``scheduler=client``; ``dask-cluster`` with
Dask's own ``client.get`` and ``dask.compute(x, scheduler=client)``. Both share one
``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)`` started in a child
process; ``sched MiB`` is its scheduler's resident memory after the run, and ``vs
dask-clu`` how many times less time taskloom's path takes on the same cluster.

Your own (``taskloom._bench_extras``): ``--scheduler NAME=module:attr`` adds any
Dask-style ``get(dsk, keys)`` as a column NAME, and ``--scheduler NAME=tcp://host:port``
a running ``distributed`` scheduler's ``Client(address).get``; they run the dict-graph
workloads, results checked as the others'. ``--workload module:function`` adds
``function(size) -> (dsk, keys)`` or ``(dsk, keys, loop)``, named by the function (its
spec where that name is taken), at 10^4 and 10^5 tasks unless ``--sizes``; without a
loop there is no loop row and taskloom's synchronous scheduler gives the expected
result. With ``--workload`` and no ``--workloads``, only the user's workloads run.

The cases are planned before any runs, so the progress on stderr counts cases done of
planned with an estimate of the time left: one line redrawn at every run on a terminal,
else one line per (workload, size). Rows keep every run's seconds (``runs``) and their
:func:`spread`; ``--compare BASELINE.json`` (a run saved with ``--json``) prints each
row's change in us/task and flags a regression only beyond both runs' spread and 5%
(``--fail-on-regression``: exit status 1 then).

Examples
--------
>>> from taskloom.bench import run_case
>>> row = run_case("chain", 1000, "taskloom-sync", repeat=1)
>>> row["tasks"], row["scheduler"]
(1000, 'taskloom-sync')
"""

from __future__ import annotations

import argparse
import atexit
import gc
import glob
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, partial
from operator import add
from typing import Any, TextIO

import taskloom
from taskloom import _bench_cluster, _core
from taskloom._bench_cluster import CLUSTER_SCHEDULERS
from taskloom._bench_extras import (
    UserExtras,
    compare,
    scheduler_spec,
    workload_names,
    workload_spec,
)
from taskloom._gc import gc_paused
from taskloom._graph import num_workers as resolve_num_workers


def inc(x: int) -> int:
    return x + 1


# --- dict-graph workloads: each returns (graph, keys, loop) for about n tasks -----------


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


def shuffled(n: int) -> tuple[dict, Any, Callable[[], Any]]:
    """:func:`chain`'s graph with its entries inserted in a seeded random order, so the
    graph's dict order is not its execution order (as in graphs merged from several
    collections); the issue's aim is at most 1.3 times ``chain``'s time."""
    dsk, key, loop = chain(n)
    items = list(dsk.items())
    random.Random(42).shuffle(items)
    return dict(items), key, loop


def reused(n: int) -> tuple[dict, Any, Callable[[], Any]]:
    """:func:`chain`'s graph made in memory where objects of the same sizes were freed
    in another order than they were made, as is every graph but a process's first: the
    allocator hands freed blocks out last freed first, so objects made one after
    another lie near each other but not in address order."""
    freed = [(f"chain-{i}", (inc, f"chain-{i}")) for i in range(n)]
    random.Random(7).shuffle(freed)
    freed.clear()
    return chain(n)


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


def random_dag(n: int) -> tuple[dict, Any, Callable[[], Any]]:
    """A seeded random DAG: each task sums 1-4 of the 1,000 tasks before it (the first
    four are leaves)."""
    import numpy as np

    # Drawn by numpy at once: a Python random call per edge took 5 s at 10^6 tasks.
    rng = np.random.default_rng(42)
    counts = rng.integers(1, 5, n)
    counts[:4] = 0
    owner = np.repeat(np.arange(n), counts)
    back = np.minimum(owner, 1000)
    flat = (owner - back + (rng.random(owner.size) * back).astype(np.int64)).tolist()
    ends = np.cumsum(counts).tolist()
    deps = [flat[end - k : end] for end, k in zip(ends, counts.tolist(), strict=True)]
    dsk: dict = {}
    for i, ds in enumerate(deps):
        dsk[("r", i)] = (sum, [("r", d) for d in ds]) if ds else (inc, i)
    sinks = sorted(set(range(n)) - {d for ds in deps for d in ds})

    def loop() -> int:
        values: list[int] = []
        for i, ds in enumerate(deps):
            values.append(sum([values[d] for d in ds]) if ds else inc(i))
        return sum(values[s] for s in sinks)

    dsk["sinks"] = (sum, [("r", s) for s in sinks])
    return dsk, "sinks", loop


def _split(x: int, k: int) -> list[int]:
    return [x + j for j in range(k)]


def mapreduce(n: int) -> tuple[dict, Any, Callable[[], Any]]:
    """All-to-all between two layers of k ~ sqrt(n) tasks: k maps split their output in
    k parts, k*k ``getitem`` tasks move the parts, k reduces each sum one part of every
    map, as in a shuffle."""
    from operator import getitem

    k = max(2, round(math.sqrt(n)))
    dsk: dict = {("map", i): (_split, i, k) for i in range(k)}
    for i in range(k):
        for j in range(k):
            dsk[("part", i, j)] = (getitem, ("map", i), j)
    for j in range(k):
        dsk[("reduce", j)] = (sum, [("part", i, j) for i in range(k)])
    dsk["total"] = (sum, [("reduce", j) for j in range(k)])

    def loop() -> int:
        maps = [_split(i, k) for i in range(k)]
        parts = [[getitem(maps[i], j) for j in range(k)] for i in range(k)]
        return sum(sum(parts[i][j] for i in range(k)) for j in range(k))

    return dsk, "total", loop


def _sorted_sample(a: Any) -> float:
    import numpy as np

    return float(np.sort(a)[::1024].sum())


def numpy_sort(n: int) -> tuple[dict, Any, Callable[[], Any]]:
    """n tasks that each sort a 1 MB array (numpy releases the GIL while sorting),
    then a sum; the arrays are data in the graph."""
    import numpy as np

    rng = np.random.default_rng(42)
    arrays = [rng.random(131_072) for _ in range(n)]  # 1 MB of float64 each
    dsk: dict = {("data", i): a for i, a in enumerate(arrays)}
    dsk.update({("sort", i): (_sorted_sample, ("data", i)) for i in range(n)})
    dsk["total"] = (sum, [("sort", i) for i in range(n)])
    return dsk, "total", lambda: sum(_sorted_sample(a) for a in arrays)


def spin(i: int) -> int:
    """About a tenth of a second of pure-Python arithmetic (on this project's machine),
    holding the GIL the whole time."""
    total = 0
    for k in range(SPIN_STEPS):
        total += (k * i) % 7
    return total


SPIN_STEPS = 2_000_000


def pure_python(n: int) -> tuple[dict, Any, Callable[[], Any]]:
    """n tasks of pure-Python arithmetic that hold the GIL, then a sum: threads cannot
    run them in parallel, processes can."""
    dsk: dict = {("spin", i): (spin, i) for i in range(n)}
    dsk["total"] = (sum, [("spin", i) for i in range(n)])
    return dsk, "total", lambda: sum(spin(i) for i in range(n))


GRAPHS: dict[str, Callable[[int], tuple[dict, Any, Callable[[], Any]]]] = {
    "fanin": fanin,
    "chain": chain,
    "shuffled": shuffled,
    "reused": reused,
    "tree": tree,
    "random": random_dag,
    "mapreduce": mapreduce,
    "numpy": numpy_sort,
    "pure-python": pure_python,
}
# Workloads the processes schedulers run (elsewhere a task is far shorter than a
# round trip to another process).
PROCESS_WORKLOADS = {"pure-python"}


# --- schedulers --------------------------------------------------------------------------


def _dask() -> Any:
    try:
        import dask
        import dask.local
        import dask.threaded
    except ImportError:
        return None
    return dask


# The joblib backends' columns (see the joblib section below).
JOBLIB_SCHEDULERS = ["joblib-loky", "joblib-threading", "joblib-taskloom", "joblib-tl-procs"]

SCHEDULERS = [
    "loop",
    "taskloom-sync",
    "taskloom-threads",
    "taskloom-compute",
    "taskloom-processes",
    "dask-sync",
    "dask-threads",
    "dask-processes",
    *JOBLIB_SCHEDULERS,
    *CLUSTER_SCHEDULERS,
]
# The extra that installs a column's library, where it is not `bench`'s Dask.
_EXTRA = {
    **{name: "joblib" for name in JOBLIB_SCHEDULERS},
    **{name: "distributed" for name in CLUSTER_SCHEDULERS},
}
# What runs without --schedulers: all but the cluster's columns (a cluster of its own,
# and Dask's millisecond per task there, are for a run that asks for them).
DEFAULT_SCHEDULERS = [s for s in SCHEDULERS if s not in CLUSTER_SCHEDULERS]


def schedulers() -> dict[str, Callable | None]:
    """Every scheduler available here; ``loop`` (None) is the plain-Python floor.

    ``taskloom-compute`` (``taskloom.compute`` with no scheduler named) is listed with
    Dask, the only workloads it applies to being Dask's collections."""
    found: dict[str, Callable | None] = {
        "loop": None,
        "taskloom-sync": taskloom.get_sync,
        "taskloom-threads": taskloom.get,
        "taskloom-processes": taskloom.multiprocessing.get,
    }
    dask = _dask()
    if dask is not None:
        import dask.multiprocessing

        found["taskloom-compute"] = taskloom.compute
        found["dask-sync"] = dask.local.get_sync
        found["dask-threads"] = dask.threaded.get
        found["dask-processes"] = dask.multiprocessing.get
    found.update(_joblib_schedulers())
    if _bench_cluster.available():
        found.update({name: _bench_cluster.get(name) for name in CLUSTER_SCHEDULERS})
    return found


# --- cases -------------------------------------------------------------------------------


@dataclass
class Case:
    """One prepared workload at one size: ``run(scheduler)`` does the timed work."""

    tasks: int
    run: Callable[[str], Any]
    expected: Any
    compiled: Callable[[], Any] | None = None  # the graph converted, for execution alone
    # When results differ by library (e.g. random data): library -> group whose
    # results must agree with each other; libraries not listed are not checked.
    agree: dict[str, str] | None = None
    seen: dict[str, Any] = field(default_factory=dict)
    has_loop: bool = True  # False: a user's workload with no loop, so no loop row


def _graph_case(workload: str, n: int, user: UserExtras) -> Case:
    """A dict-graph workload, built-in or the user's; checked against its loop, or
    against taskloom's synchronous scheduler when a user's workload has no loop."""
    build = user.workloads.get(workload) or GRAPHS[workload]
    built = build(n)
    if not (isinstance(built, tuple) and len(built) in (2, 3) and isinstance(built[0], dict)):
        raise TypeError(
            f"workload {workload} returned {type(built).__name__}, not (dsk, keys[, loop])"
        )
    dsk, keys, loop = built if len(built) == 3 else (*built, None)
    getters = {**schedulers(), **user.schedulers}

    def run(name: str) -> Any:
        get = getters[name]
        if get is not None:
            return get(dsk, keys)
        if loop is None:
            raise ValueError(f"workload {workload} has no loop")
        return loop()

    expected = taskloom.get_sync(dsk, keys) if loop is None else loop()
    compiled = cache(partial(_core.Compiled, dsk, keys))  # converted once per case
    return Case(len(dsk), run, expected, compiled, has_loop=loop is not None)


def _collection_scheduler(column: str) -> Any:
    """``scheduler=`` for a column's suffix: sync, the cluster's client, else threads."""
    if column == "cluster":
        return _bench_cluster.client()
    return "sync" if column == "sync" else "threads"


def _delayed_case(n: int) -> Case:
    """Build n delayed calls, fan them into one ``delayed(sum)``, compute."""
    dask = _dask()

    def run(name: str) -> Any:
        if name == "loop":
            return sum([inc(i) for i in range(n)])
        lib = taskloom if name.startswith("taskloom") else dask
        total = lib.delayed(sum)([lib.delayed(inc)(i) for i in range(n)])
        return lib.compute(total, scheduler=_collection_scheduler(name.split("-")[1]))[0]

    return Case(n + 1, run, sum(range(1, n + 1)))


def _need_dask(workload: str) -> Any:
    dask = _dask()
    if dask is None:
        raise RuntimeError(f"the {workload} workload needs dask: pip install 'taskloom[bench]'")
    return dask


def _dask_collection_case(
    x: Any,
    loop: Callable[[], Any],
    expected: Any,
    value: Callable[[Any], Any] = float,
    agree: dict[str, str] | None = None,
) -> Case:
    """Dask's own collection ``x`` computed on every path a Dask user has.

    Parameters
    ----------
    x : Dask collection
        Computed with Dask's schedulers (``dask-*``), with taskloom's named as Dask's
        scheduler (``taskloom-sync``, ``taskloom-threads``: Dask's optimization,
        taskloom's execution), and by ``taskloom.compute(x)`` with no scheduler named
        (``taskloom-compute``: taskloom picks its own).
    loop : callable
        The same computation in plain Python (or pandas): the ``loop`` row.
    expected : object
        What every path must compute, after ``value``; None with ``agree``.
    value : callable
        Turns each path's result into what is compared (numpy scalars into floats,
        a pandas result into its checksum).
    agree : dict, optional
        As :attr:`Case.agree`.
    """
    dask = _dask()
    schedulers_ = {
        "taskloom-sync": taskloom.get_sync,
        "taskloom-threads": taskloom.get,
        "dask-sync": "sync",
        "dask-threads": "threads",
    }

    def run(name: str) -> Any:
        if name == "loop":
            return value(loop())
        if name == "taskloom-compute":
            return value(taskloom.compute(x)[0])
        if name == "taskloom-cluster":
            return value(taskloom.compute(x, scheduler=_bench_cluster.client())[0])
        if name == "dask-cluster":
            return value(dask.compute(x, scheduler=_bench_cluster.client())[0])
        return value(dask.compute(x, scheduler=schedulers_[name])[0])

    return Case(len(x.__dask_graph__()), run, expected, agree=agree)


def _dask_array_case(n: int) -> Case:
    """A dask.array of n chunks of 100 float64 elements, summed."""
    _need_dask("dask-array")
    import dask.array as da
    import numpy as np

    data = np.arange(n * 100, dtype="f8")
    x = da.from_array(data, chunks=100).sum()

    def loop() -> float:
        return sum(float(data[i : i + 100].sum()) for i in range(0, len(data), 100))

    return _dask_collection_case(x, loop, float(data.sum()))


def is_odd(x: int) -> bool:
    # At module level, not a lambda, as in most Dask code: a named function is
    # tokenized by name and pickled by reference.
    return x % 2 == 1


def _dask_bag_case(n: int) -> Case:
    """A dask.bag of n partitions of 100 integers: ``map(inc)``, ``filter(is_odd)``,
    ``sum()``; the loop does the same per partition in plain Python."""
    _need_dask("dask-bag")
    import dask.bag as db

    x = db.from_sequence(range(n * 100), npartitions=n).map(inc).filter(is_odd).sum()
    parts = [range(i, i + 100) for i in range(0, n * 100, 100)]

    def loop() -> int:
        return sum(sum(y for y in map(inc, part) if is_odd(y)) for part in parts)

    return _dask_collection_case(x, loop, loop(), value=int)


def _dask_dataframe_case(n: int) -> Case:
    """Dask's own ``dask.datasets.timeseries()`` over n days,
    ``df[df.y > 0].groupby("name").x.std()``, as ``df-groupby-std`` does with
    taskloom.dataframe. The loop makes the same partitions by running the source's
    tasks one after another, then runs the expression in pandas on them concatenated.
    Every path computes the same random numbers, so every result must agree."""
    dask = _need_dask("dask-dataframe")
    import pandas as pd
    from dask._task_spec import execute_graph

    end = pd.Timestamp("2000-01-01") + pd.Timedelta(days=n)
    df = dask.datasets.timeseries(end=end, seed=1)
    source, keys = dict(df.__dask_graph__()), df.__dask_keys__()

    def expression(df: Any) -> Any:
        return df[df.y > 0].groupby("name").x.std()

    def loop() -> Any:
        # execute_graph: a plain loop over Dask's task objects, in dependency order.
        done = execute_graph(source, keys=keys)
        return expression(pd.concat([done[k] for k in keys]))

    everyone = {"loop": "all", "taskloom": "all", "dask": "all"}
    return _dask_collection_case(expression(df), loop, None, _checksum, everyone)


def _array_case(
    n: int, expression: Callable[[Any, int], Any], numpy_value: Callable[[int], Any]
) -> Case:
    """The same array expression built with taskloom.array and dask.array."""
    import taskloom.array as ta

    dask = _dask()
    libs = {"taskloom": ta}
    if dask is not None:
        import dask.array as dask_array

        libs["dask"] = dask_array

    def run(name: str) -> Any:
        if name == "loop":
            return numpy_value(n)
        lib, scheduler = name.split("-")
        expr = expression(libs[lib], n)
        return float(expr.compute(scheduler=_collection_scheduler(scheduler)))

    tasks = len(expression(ta, n).__dask_graph__())
    return Case(tasks, run, numpy_value(n))


def _array_blocks_case(n: int) -> Case:
    """The sum of an array of n blocks of 1000 elements: task overhead dominates."""
    import numpy as np

    return _array_case(
        n,
        lambda lib, n: lib.ones((n * 1000,), chunks=1000).sum(),
        lambda n: float(np.ones(n * 1000).sum()),
    )


def _array_ufunc_case(n: int) -> Case:
    """``(sqrt(x) + sin(x)).mean()`` over n elements in blocks of Dask's default size:
    numpy work dominates, and threads run it in parallel."""
    import numpy as np

    def expression(lib: Any, n: int) -> Any:
        x = lib.ones((n,), chunks="auto") * 0.5
        return (np.sqrt(x) + np.sin(x)).mean()

    def numpy_value(n: int) -> float:
        x = np.ones(n) * 0.5
        return float((np.sqrt(x) + np.sin(x)).mean())

    return _array_case(n, expression, numpy_value)


def _linalg_qr_case(n: int) -> Case:
    """``qr`` of a tall-and-skinny n x 100 float64 array in 20 row blocks (50,000 rows at
    the default 10^6): TSQR, whose work is numpy's QR of each block; the loop is numpy's
    QR of the whole array. The check is the sum of |Q| and |R| (the libraries' signs
    differ)."""
    import numpy as np

    cols = 100
    data = np.random.default_rng(0).standard_normal((n, cols))
    block = max(-(-n // 20), 1)

    def expression(lib: Any, n: int) -> Any:
        # Named: hashing the whole input would be timed too, for both libraries alike.
        x = lib.from_array(data, chunks=(block, cols), name=f"bench-qr-input-{n}")
        q, r = lib.linalg.qr(x)
        return abs(q).sum() + abs(r).sum()

    def numpy_value(n: int) -> float:
        q, r = np.linalg.qr(data)
        return float(np.abs(q).sum() + np.abs(r).sum())

    return _array_case(n, expression, numpy_value)


def _source_partitions(df: Any) -> list:
    """A source collection's partitions made by calling its tasks in a plain loop."""
    dsk = df.__dask_graph__()
    return [task[0](*task[1:]) for task in (dsk[k] for k in df.__dask_keys__())]


def _checksum(result: Any) -> float:
    import numpy as np

    return float(np.nansum(np.asarray(result, dtype=float)))


def _dataframe_case(n: int, expression: Callable[[Any], Any], csv: bool = False) -> Case:
    """``expression`` of ``datasets.timeseries()`` over ``n`` days (one partition a day,
    86,400 rows each), in taskloom, Dask and pandas (the loop: the same partitions made
    one after the other, concatenated, then the pandas expression). With ``csv``, the
    days are first written to CSV files and the expression starts from ``read_csv``.
    The libraries draw different random numbers, so Dask's result is not compared."""
    import pandas as pd

    import taskloom.dataframe as tdd

    end = pd.Timestamp("2000-01-01") + pd.Timedelta(days=n)
    source = taskloom.datasets.timeseries(end=end, seed=1)
    dask = _dask()
    if csv:
        folder = tempfile.mkdtemp(prefix="taskloom-bench-")
        atexit.register(shutil.rmtree, folder, True)
        pattern = os.path.join(folder, "*.csv")
        source.to_csv(pattern)

        def frames(lib: str) -> Any:
            if lib == "taskloom":
                return tdd.read_csv(pattern)
            import dask.dataframe as ddd

            return ddd.read_csv(pattern)

        def loop_frame() -> Any:
            files = sorted(glob.glob(pattern))
            return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    else:

        def frames(lib: str) -> Any:
            return source if lib == "taskloom" else dask.datasets.timeseries(end=end, seed=1)

        def loop_frame() -> Any:
            return pd.concat(_source_partitions(source))

    def run(name: str) -> Any:
        if name == "loop":
            return _checksum(expression(loop_frame()))
        lib, scheduler = name.split("-")
        return _checksum(
            expression(frames(lib)).compute(scheduler=_collection_scheduler(scheduler))
        )

    tasks = len(expression(frames("taskloom")).__dask_graph__())
    return Case(tasks, run, None, agree={"loop": "taskloom", "taskloom": "taskloom"})


DATAFRAME: dict[str, Callable[[int], Case]] = {
    "df-groupby-std": partial(
        _dataframe_case, expression=lambda df: df[df.y > 0].groupby("name").x.std()
    ),
    "df-groupby-agg": partial(
        _dataframe_case,
        expression=lambda df: df.groupby("name").agg({"x": "sum", "y": "max"}),
    ),
    "df-resample": partial(
        _dataframe_case, expression=lambda df: df[["x", "y"]].resample("1h").mean()
    ),
    "df-read-csv": partial(
        _dataframe_case, expression=lambda df: df.groupby("name").x.mean(), csv=True
    ),
}

SPECIAL: dict[str, Callable[[int], Case]] = {
    **DATAFRAME,
    "delayed": _delayed_case,
    "dask-array": _dask_array_case,
    "dask-bag": _dask_bag_case,
    "dask-dataframe": _dask_dataframe_case,
    "array-blocks": _array_blocks_case,
    "array-ufunc": _array_ufunc_case,
    "linalg-qr": _linalg_qr_case,
}


# --- joblib: the joblib backends against taskloom's, on the seed articles' loops --------
#
# Workloads (size n = calls): ``joblib-map``, the article's ``Parallel(n_jobs=2)
# (delayed(bar)(x) for x in foo)`` over ``np.arange(n)``; ``joblib-numpy``, its
# ``calculation()`` (10^7 float64: random, then ten ``sqrt(a) + sin(a)``) n times with
# ``n_jobs=4`` as in the article (seeded, so every column computes the same means);
# ``joblib-gridsearch``, scikit-learn's ``GridSearchCV(SVC(), ..., n_jobs=-1)`` of n fits
# (a grid of n/3 candidates, 3 folds) on 1,500 samples. Columns: ``joblib-loky`` and
# ``joblib-threading`` (joblib's own backends), ``joblib-taskloom`` (taskloom's backend
# on threads) and ``joblib-tl-procs`` (on processes), and ``loop``: the calls in a
# plain loop (``GridSearchCV`` with ``n_jobs=1``). Not in the default run (about two
# minutes): ``--workloads joblib-map joblib-numpy joblib-gridsearch``. ``joblib-threading``
# and ``joblib-tl-procs`` skip the map above 10^5 calls (~50 and ~20 us a call: a minute
# per run at 10^6; the processes pay for pickling every call's arguments in the parent).

#: The most calls of ``joblib-map`` each joblib scheduler runs (None: no limit).
JOBLIB_MAP_LIMIT = {"joblib-threading": 100_000, "joblib-tl-procs": 100_000}


def _joblib_schedulers() -> dict[str, Callable | None]:
    try:
        import joblib  # noqa: F401
    except ImportError:
        return {}
    return {name: partial(_joblib_backend, name) for name in JOBLIB_SCHEDULERS}


_JOBLIB_WARM: set[str] = set()


def _joblib_backend(name: str) -> Any:
    """The ``joblib.parallel_backend`` context for a joblib scheduler column.

    The first time in a session, a small ``Parallel`` call starts its workers (loky's
    reusable executor, taskloom's process pool): the harness measures pools in use, as
    a notebook's second ``%timeit`` loop does, not their start-up."""
    import joblib

    import taskloom.joblib  # noqa: F401  (registers "taskloom")

    if name == "joblib-loky":
        context = joblib.parallel_backend("loky")
    elif name == "joblib-threading":
        context = joblib.parallel_backend("threading")
    else:
        scheduler = "processes" if name == "joblib-tl-procs" else "threads"
        context = joblib.parallel_backend("taskloom", scheduler=scheduler)
    if name not in _JOBLIB_WARM:
        _JOBLIB_WARM.add(name)
        with context:
            joblib.Parallel(n_jobs=4)(joblib.delayed(bar)(i) for i in range(16))
    return context


def bar(x: Any) -> Any:
    """The article's map function."""
    return x * x


def calculation(size: int = 10_000_000, seed: int = 0) -> float:
    """The article's ``calculation()``, with a seed so every run computes the same mean."""
    import numpy as np

    arr = np.random.RandomState(seed).rand(size)
    for _ in range(10):
        arr = np.sqrt(arr) + np.sin(arr)
    return float(np.mean(arr))


def _joblib_map_case(n: int) -> Case:
    import numpy as np
    from joblib import Parallel, delayed

    foo = np.arange(n)

    def run(name: str) -> Any:
        if name == "loop":
            return sum(int(bar(x)) for x in foo)
        with _joblib_backend(name):
            return sum(int(r) for r in Parallel(n_jobs=2)(delayed(bar)(x) for x in foo))

    return Case(n, run, sum(i * i for i in range(n)))


def _joblib_numpy_case(n: int) -> Case:
    from joblib import Parallel, delayed

    def run(name: str) -> Any:
        if name == "loop":
            return sum([calculation(seed=i) for i in range(n)])
        with _joblib_backend(name):
            return sum(Parallel(n_jobs=4)(delayed(calculation)(seed=i) for i in range(n)))

    return Case(n, run, sum(calculation(seed=i) for i in range(n)))


def _joblib_gridsearch_case(n: int) -> Case:
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    X, y = make_classification(n_samples=1500, n_features=20, random_state=0)
    candidates = max(n // 3, 1)
    grid = {"C": [float(c) for c in np.logspace(-2, 2, candidates)]}

    def search(n_jobs: int | None) -> float:
        gs = GridSearchCV(SVC(gamma="scale"), grid, cv=3, n_jobs=n_jobs).fit(X, y)
        return float(gs.best_score_) + sum(gs.cv_results_["mean_test_score"])

    def run(name: str) -> Any:
        if name == "loop":
            return search(None)
        with _joblib_backend(name):
            return search(-1)

    return Case(candidates * 3, run, search(None))


JOBLIB: dict[str, Callable[[int], Case]] = {
    "joblib-map": _joblib_map_case,
    "joblib-numpy": _joblib_numpy_case,
    "joblib-gridsearch": _joblib_gridsearch_case,
}
SPECIAL.update(JOBLIB)

ALL_WORKLOADS = [*GRAPHS, *SPECIAL]
# Run only when named, so the default run stays near five minutes: they measure numpy,
# pandas and joblib more than scheduling (linalg-qr alone took four minutes).
OPT_IN = {"numpy", "linalg-qr", "df-groupby-agg", "df-resample", "df-read-csv", *JOBLIB}
# Dask's own collections: the workloads that need Dask, and the only ones where
# ``taskloom-compute`` applies (taskloom.compute has no collection of its own to pick a
# scheduler for in the others, and on a dict graph it is not a get function).
DASK_COLLECTIONS = {"dask-array", "dask-bag", "dask-dataframe"}
# Sizes that make sense when --sizes is not given.
DEFAULT_SIZES = {
    "numpy": [64, 256],
    "pure-python": [8],  # 8 tasks of ~0.1 s
    "dask-array": [1_000, 10_000],
    "dask-bag": [1_000, 3_000],
    "dask-dataframe": [30],
    # From 10^3, where Dask's superlinear graph building starts to show.
    "delayed": [1_000, 10_000, 100_000, 1_000_000],
    "array-blocks": [1_000, 10_000],
    "array-ufunc": [10**7, 10**8],
    "linalg-qr": [10**6],
    "joblib-map": [10_000, 100_000, 1_000_000],
    "joblib-numpy": [4],
    "joblib-gridsearch": [24],
    **{w: [30] for w in DATAFRAME},  # 30 days: 2.6 million rows, as in the seed articles
}

_CASES: dict[tuple[str, int], Case] = {}


def _case(workload: str, n: int, user: UserExtras | None = None) -> Case:
    if (workload, n) not in _CASES:
        _CASES.clear()  # one graph alive at a time: 10^6 tasks is ~200 MB of dict
        gc.collect()
        with gc_paused():  # millions of objects made and none freed: nothing to find
            _CASES[(workload, n)] = (
                SPECIAL[workload](n)
                if workload in SPECIAL
                else _graph_case(workload, n, user or UserExtras())
            )
    return _CASES[(workload, n)]


@contextmanager
def _set_aside() -> Iterator[None]:
    """Freeze what is alive (a case's graph of 10^6 tasks: millions of objects) out of
    the collector's sight for the block: the collection before each timed run then
    takes milliseconds, not a second, and no run pays for walking the harness's own
    graph. Left alone if the caller froze objects itself (unfreezing would thaw them)."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        # Block-wise sums add in another order than one numpy sum.
        return math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-9)
    return a == b


def _peak_rss_delta(fn: Callable[[], Any]) -> int | None:
    """Bytes the process's peak RSS rose by while ``fn`` ran (Linux only)."""

    def field(name: str) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(name):
                    return int(line.split()[1]) * 1024
        raise KeyError(name)

    try:
        # Memory the allocator kept from earlier runs would be reused unseen.
        _core._trim_memory()
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak to the current RSS
        before = field("VmRSS:")
        fn()
        return field("VmHWM:") - before
    except OSError:
        return None


def run_case(
    workload: str, n: int, scheduler: str, repeat: int = 3, memory: bool = False
) -> dict[str, Any]:
    """Time one (workload, size, scheduler) case; best of ``repeat`` runs.

    Returns a row with ``us_per_task``, the raw ``seconds`` (the best run), every run's
    seconds in ``runs`` and their :func:`spread`; for taskloom on dict graphs,
    ``exec_us_per_task`` (execution alone) and, with ``memory``, ``bytes_per_task``.
    """
    return run_cases(workload, n, {scheduler: repeat}, memory)[0]


def run_cases(
    workload: str,
    n: int,
    repeats: dict[str, int],
    memory: bool = False,
    progress: Progress | None = None,
    user: UserExtras | None = None,
) -> list[dict[str, Any]]:
    """Time one (workload, size) on several schedulers, best of ``repeats[scheduler]``
    runs each, as :func:`run_case` does for one.

    The schedulers take turns, one run each per round, so a stretch of load on this
    shared machine slows all of them rather than the one that happened to be running:
    the ratios between them are what the harness reports. A scheduler whose first run
    took over :data:`LONG_RUN_SECONDS` gets at most two. Short cases get extra rounds
    (up to :data:`MAX_ROUNDS`, while the case has taken under
    :data:`SHORT_CASE_SECONDS`) for the schedulers asked to repeat at all, so one slow
    moment does not decide a case that takes milliseconds. ``progress`` hears of each
    run; ``user`` holds the command line's own schedulers and workloads. A user's
    workload without a loop gets no ``loop`` row.
    """
    if "taskloom-compute" in repeats and workload not in DASK_COLLECTIONS:
        raise ValueError(f"taskloom-compute runs only Dask's collections, not {workload}")
    start = time.perf_counter()
    case = _case(workload, n, user)
    with _set_aside():
        return _run_rounds(case, workload, n, repeats, memory, progress, start)


def _run_rounds(
    case: Case,
    workload: str,
    n: int,
    repeats: dict[str, int],
    memory: bool,
    progress: Progress | None,
    start: float,
) -> list[dict[str, Any]]:
    """The rounds of :func:`run_cases` on a prepared case."""

    def step(scheduler: str, what: str) -> None:
        if progress is not None:
            progress.step(workload, n, scheduler, what)

    repeats = dict(repeats)
    if not case.has_loop and repeats.pop("loop", None) is not None and progress is not None:
        progress.drop(workload, n, "loop")
    # Seconds each scheduler's part of the case took, for the progress's estimates; the
    # graph's building is shared alike.
    spent = dict.fromkeys(repeats, (time.perf_counter() - start) / max(len(repeats), 1))
    runs: dict[str, list[float]] = {s: [] for s in repeats}
    total = 0.0
    round_ = 0
    while True:
        extra = round_ >= max(repeats.values(), default=0)
        if extra and (total >= SHORT_CASE_SECONDS or round_ >= MAX_ROUNDS):
            break
        ran = False
        for scheduler, reps in repeats.items():
            if runs[scheduler] and runs[scheduler][0] > LONG_RUN_SECONDS:
                reps = min(reps, 2)  # seconds a run: a third would not move the best
            if round_ >= reps and not (extra and reps > 1):
                continue
            step(scheduler, f"run {round_ + 1}")
            seconds = _time_once(case, workload, scheduler)
            runs[scheduler].append(seconds)
            spent[scheduler] += seconds
            total += seconds
            ran = True
        if not ran:
            break
        round_ += 1
    rows = []
    for s, reps in repeats.items():
        start = time.perf_counter()
        rows.append(_row(case, workload, s, runs[s], reps, memory, partial(step, s)))
        spent[s] += time.perf_counter() - start
    if progress is not None:
        progress.finished(workload, n, spent, runs)
    return rows


#: A scheduler whose first run took longer than this gets at most two.
LONG_RUN_SECONDS = 2.0
#: Cases whose rounds so far took less than this many seconds get more rounds...
SHORT_CASE_SECONDS = 1.0
#: ...up to this many in all.
MAX_ROUNDS = 10


def spread(runs: list[float]) -> float:
    """How far a typical run sits above the best: ``(median - best) / best``.

    The best is what a row reports; the median says how much above it the runs
    usually land. Not ``(max - min) / min``: on a shared machine one run caught by
    another process's burst would set it, making every row's allowance in
    ``--compare`` wide enough to hide a real regression. One run: 0 (nothing measured;
    the comparison's floor applies).

    Examples
    --------
    >>> round(spread([1.0, 1.2, 1.1, 3.0]), 6)
    0.15
    """
    best = min(runs)
    return (statistics.median(runs) - best) / best


def _time_once(case: Case, workload: str, scheduler: str) -> float:
    """Seconds for one run, after checking the result."""
    gc.collect()
    start = time.perf_counter()
    result = case.run(scheduler)
    seconds = time.perf_counter() - start
    expected = case.expected
    if case.agree is not None:
        group = case.agree.get(scheduler.split("-")[0])
        expected = result if group is None else case.seen.setdefault(group, result)
    if not _close(result, expected):
        raise AssertionError(f"{scheduler} computed {result!r} for {workload}, not {expected!r}")
    return seconds


def _row(
    case: Case,
    workload: str,
    scheduler: str,
    runs: list[float],
    repeat: int,
    memory: bool,
    step: Callable[[str], None],
) -> dict[str, Any]:
    best = min(runs)
    row: dict[str, Any] = {
        "workload": workload,
        "tasks": case.tasks,
        "scheduler": scheduler,
        "seconds": best,
        "us_per_task": best / case.tasks * 1e6,
        "runs": runs,
        "spread": spread(runs),
    }
    if scheduler in CLUSTER_SCHEDULERS:
        row["scheduler_mib"] = _bench_cluster.scheduler_mib()
    if (
        case.compiled is not None
        and scheduler in ("taskloom-sync", "taskloom-threads")
        and workload not in PROCESS_WORKLOADS
    ):
        step("execution alone")
        workers = 0 if scheduler.endswith("sync") else resolve_num_workers(None)
        compiled = case.compiled()
        exec_best = float("inf")
        for _ in range(repeat):
            gc.collect()
            start = time.perf_counter()
            compiled.run(workers)
            exec_best = min(exec_best, time.perf_counter() - start)
        row["exec_us_per_task"] = exec_best / case.tasks * 1e6
        if memory:
            step("peak memory")
            gc.collect()
            delta = _peak_rss_delta(lambda: case.run(scheduler))
            if delta is not None:
                row["bytes_per_task"] = delta / case.tasks
    return row


def progress_line(
    done: int, total: int, current: str, eta: float | None, width: int | None = None
) -> str:
    """One line of progress: a bar, cases done of planned, the time left, the case now.

    The ETA comes before the case so a narrow terminal cuts the case's name, not it.

    Examples
    --------
    >>> progress_line(3, 12, "chain n=10000 taskloom-sync run 2", 75.0)
    '[#####---------------] 3/12 ETA 1m15s  chain n=10000 taskloom-sync run 2'
    """
    filled = round(20 * done / total) if total else 20
    text = f"[{'#' * filled}{'-' * (20 - filled)}] {done}/{total} ETA {_duration(eta)}"
    text += f"  {current}"
    return text if width is None else text[: max(width - 1, 0)]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s // 60 % 60:02d}m"


class Progress:
    """What the harness reports on stderr while it runs: on a terminal, one live line
    (:func:`progress_line`) redrawn at every run; elsewhere (a log, CI) one line per
    (workload, size) finished, so a long run stays a short log.

    The estimate of the time left adds up the planned cases not yet run. A case whose
    workload and scheduler ran at a smaller size is its mean run there scaled by the
    size, times its planned runs, plus the rest of its time there (graph building,
    execution alone, memory) scaled alike; scaling the whole time instead would count
    a millisecond case's extra rounds (:data:`MAX_ROUNDS`) a hundred times at a size a
    hundred times larger. A case of a workload that ran with other schedulers only is
    their estimates' mean; any other, the mean time of a case so far. Cases the
    harness drops as it goes (Dask past its budget) leave the plan.
    """

    def __init__(
        self, planned: Iterable[tuple[str, int, str, int]], stream: TextIO | None = None
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.tty = self.stream.isatty()
        # (workload, size, scheduler) -> planned runs, for the cases not yet done
        self.left = {(w, n, s): reps for w, n, s, reps in planned}
        self.total = len(self.left)
        self.done = 0
        self.seconds = 0.0
        # (workload, scheduler) -> seconds per unit of size: of a run, of the rest
        self.rates: dict[tuple[str, str], tuple[float, float]] = {}
        self.width = shutil.get_terminal_size().columns
        self.current: tuple[tuple[str, int] | None, float] = (None, 0.0)  # case, its start

    def eta(self) -> float | None:
        """Seconds the cases left should take, None before the first is done."""
        if not self.done:
            return None
        measured: dict[str, list[tuple[float, float]]] = {}
        for (w, _), rates in self.rates.items():
            measured.setdefault(w, []).append(rates)
        left = 0.0
        for (w, n, s), reps in self.left.items():
            known = [self.rates[(w, s)]] if (w, s) in self.rates else measured.get(w)
            if known:
                left += statistics.mean((run * reps + rest) * n for run, rest in known)
            else:
                left += self.seconds / self.done
        return left

    def step(self, workload: str, n: int, scheduler: str, what: str) -> None:
        """A run (or other timed part) of one case starts."""
        if not self.tty:
            return
        now = time.perf_counter()
        if self.current[0] != (workload, n):
            self.current = ((workload, n), now)
        eta = self.eta()
        if eta is not None:
            # Counts down while a long (workload, size) runs, rather than standing still.
            eta = max(eta - (now - self.current[1]), 0.0)
        current = f"{workload} n={n} {scheduler} {what}"
        self._write("\r\x1b[K" + progress_line(self.done, self.total, current, eta, self.width))

    def finished(
        self, workload: str, n: int, spent: dict[str, float], runs: dict[str, list[float]]
    ) -> None:
        """One (workload, size) is done: ``spent``, each scheduler's seconds in all;
        ``runs``, the seconds of each of its runs."""
        for scheduler, seconds in spent.items():
            self.left.pop((workload, n, scheduler), None)
            timed = runs[scheduler]
            rest = max(seconds - sum(timed), 0.0)
            self.rates[(workload, scheduler)] = (statistics.mean(timed) / n, rest / n)
        self.done += len(spent)
        self.seconds += sum(spent.values())
        if not self.tty:
            current = f"{workload} n={n}: {len(spent)} schedulers, {sum(spent.values()):.1f} s"
            self._write(progress_line(self.done, self.total, current, self.eta()) + "\n")

    def drop(self, workload: str, n: int, scheduler: str) -> None:
        """A planned case will not run."""
        if (workload, n, scheduler) in self.left:
            del self.left[(workload, n, scheduler)]
            self.total -= 1

    def note(self, message: str) -> None:
        """A message on a line of its own."""
        self._write(("\r\x1b[K" if self.tty else "") + message + "\n")

    def close(self) -> None:
        """Clear the live line, so the table starts on a clean terminal."""
        if self.tty:
            self._write("\r\x1b[K")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def plan(
    workloads: list[str],
    sizes: list[int] | None,
    names: list[str],
    repeat: int,
    user: UserExtras | None = None,
    *,
    installed: Collection[str] | None = None,
) -> list[tuple[str, int, dict[str, int]]]:
    """Every (workload, size) to run, each with its schedulers' numbers of runs, before
    anything runs (so the progress knows the total). ``installed``: the schedulers to
    plan for (default: those installed here, see :func:`schedulers`).

    Examples
    --------
    >>> plan(["chain", "pure-python"], None, ["loop", "taskloom-processes"], 3)[-1]
    ('pure-python', 8, {'loop': 1, 'taskloom-processes': 3})
    """
    user = user or UserExtras()
    available = {*(schedulers() if installed is None else installed), *user.schedulers}
    graphs = {*GRAPHS, *user.workloads}
    planned = []
    for workload in workloads:
        default = DEFAULT_SIZES.get(workload, [10_000, 100_000, 1_000_000])
        for n in sizes or (USER_SIZES if workload in user.workloads else default):
            repeats: dict[str, int] = {}
            for name in [*names, *user.schedulers]:
                if name not in available:
                    continue
                # Best of `repeat` at 10^6 too: a process's first get of that size
                # faults in its arrays (41,000 page faults a fan-in, 8,000 from the
                # third on, at 1-4 us each on this VM), and the second still pays
                # some, so a best of two read 10-40% above the steady time.
                reps = repeat
                if workload in PROCESS_WORKLOADS:
                    # Seconds per run and steady; best of three for the processes ones, so
                    # taskloom's pool, started once per session, is warm in one.
                    reps = 3 if name.endswith("processes") else 1
                if name in user.schedulers:
                    if workload in graphs:  # a get function runs dict graphs only
                        repeats[name] = reps
                    continue
                if name.endswith("processes") and workload not in PROCESS_WORKLOADS:
                    continue
                if name == "taskloom-compute" and workload not in DASK_COLLECTIONS:
                    continue
                if (workload in JOBLIB) != (name in JOBLIB_SCHEDULERS) and name != "loop":
                    continue  # joblib's columns run joblib's workloads only, and only they
                if workload == "joblib-map" and n > JOBLIB_MAP_LIMIT.get(name, n):
                    continue
                if (
                    name.startswith("dask")
                    and workload not in DATAFRAME
                    and workload not in DASK_COLLECTIONS
                ):
                    # One run: Dask's times are 100x ours, so its run-to-run noise does
                    # not move the ratios, and repeats would dominate the wall time. On
                    # Dask's own collections the times are close (the tasks call back
                    # into Dask), so Dask gets as many as taskloom.
                    reps = 1
                repeats[name] = reps
            if repeats:
                planned.append((workload, n, repeats))
    return planned


#: Sizes of a user's workload when --sizes is not given.
USER_SIZES = [10_000, 100_000]


def run(
    workloads: list[str],
    sizes: list[int] | None,
    names: list[str],
    repeat: int,
    dask_budget: float,
    memory: bool = True,
    user: UserExtras | None = None,
    stream: TextIO | None = None,
) -> list[dict[str, Any]]:
    """Run every planned case (:func:`plan`), reporting progress on ``stream`` (stderr);
    Dask stops growing a workload once its estimate passes the budget."""
    user = user or UserExtras()
    planned = plan(workloads, sizes, names, repeat, user)
    progress = Progress(
        [(w, n, s, reps) for w, n, repeats in planned for s, reps in repeats.items()], stream
    )
    available = schedulers()
    # Only columns this run's workloads would have: joblib's run joblib's workloads only.
    wanted = plan(workloads, sizes, names, repeat, user, installed=SCHEDULERS)
    for name in dict.fromkeys(s for _, _, repeats in wanted for s in repeats):
        if name not in available:
            extra = _EXTRA.get(name, "bench")
            progress.note(f"skipping {name}: not installed (pip install 'taskloom[{extra}]')")
    if any(name in available for name in CLUSTER_SCHEDULERS if name in names):
        progress.note("starting the cluster")
        _bench_cluster.warm()
    rows = []
    dask_cost: dict[tuple[str, str], float] = {}  # seconds per unit of size, any workload
    try:
        for workload, n, repeats in planned:
            for name in [s for s in repeats if (workload, s) in dask_cost]:
                if workload not in DATAFRAME and n * dask_cost[(workload, name)] > dask_budget:
                    del repeats[name]
                    progress.drop(workload, n, name)
            if not repeats:
                continue
            for row in run_cases(workload, n, repeats, memory, progress, user):
                rows.append(row)
                if row["scheduler"].startswith("dask") and row["scheduler"] in SCHEDULERS:
                    dask_cost[(workload, row["scheduler"])] = row["seconds"] / n
    finally:
        _CASES.clear()
        progress.close()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """Format rows as the harness prints them (see the module documentation)."""
    by = {(r["workload"], r["tasks"], r["scheduler"]): r["us_per_task"] for r in rows}
    wide = max([10, *(len(r["workload"]) for r in rows)])
    scheds = max([17, *(len(r["scheduler"]) for r in rows)])  # user columns' names too
    header = (
        f"{'workload':<{wide}} {'tasks':>9} {'scheduler':<{scheds}} {'us/task':>9} {'x loop':>7} "
        f"{'exec':>7} {'B/task':>7} {'vs dask-sync':>13} {'vs dask-thr':>12} "
        f"{'vs dask-proc':>13}"
    )
    cluster = any(r["scheduler"] in CLUSTER_SCHEDULERS for r in rows)
    if cluster:
        header += f" {'vs dask-clu':>12} {'sched MiB':>10}"
    lines = [header, "-" * len(header)]
    for r in rows:
        w, n, s, us = r["workload"], r["tasks"], r["scheduler"], r["us_per_task"]
        loop = by.get((w, n, "loop"))
        ratio = f"{us / loop:7.1f}" if loop else f"{'':>7}"
        exec_us = f"{r['exec_us_per_task']:7.3f}" if "exec_us_per_task" in r else f"{'':>7}"
        mem = f"{r['bytes_per_task']:7.0f}" if "bytes_per_task" in r else f"{'':>7}"

        def speedup(peer: str, w=w, n=n, s=s, us=us) -> str:
            other = by.get((w, n, peer))
            if not (other and s.startswith("taskloom")):
                return ""
            return f"{other / us:.0f}x" if other / us >= 10 else f"{other / us:.1f}x"

        line = (
            f"{w:<{wide}} {n:>9} {s:<{scheds}} {us:>9.3f} {ratio} {exec_us} {mem} "
            f"{speedup('dask-sync'):>13} {speedup('dask-threads'):>12} "
            f"{speedup('dask-processes'):>13}"
        )
        if cluster:
            mib = r.get("scheduler_mib")
            line += f" {speedup('dask-cluster'):>12} " + (
                f"{mib:>10.0f}" if mib is not None else f"{'':>10}"
            )
        lines.append(line)
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: str) -> None:
    """Per-task cost against graph size, log-log, one panel per workload."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise SystemExit("--plot needs matplotlib: pip install 'taskloom[bench]'") from e
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    cols = min(3, len(workloads))
    nrows = math.ceil(len(workloads) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5 * cols, 3.8 * nrows), squeeze=False)
    for ax, w in zip(axes.flat, workloads, strict=False):
        for s in dict.fromkeys(r["scheduler"] for r in rows if r["workload"] == w):
            pts = sorted(
                (r["tasks"], r["us_per_task"])
                for r in rows
                if (r["workload"], r["scheduler"]) == (w, s)
            )
            ax.plot(*zip(*pts, strict=True), marker="o", label=s)
        ax.set(xscale="log", yscale="log", title=w, xlabel="tasks", ylabel="us per task")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(workloads) :]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``taskloom-bench``); 1 only for ``--fail-on-regression``
    with a regression."""
    parser = argparse.ArgumentParser(prog="taskloom-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workloads",
        nargs="+",
        choices=ALL_WORKLOADS,
        help=f"default: all but {', '.join(sorted(OPT_IN))} (and the dask-* ones without "
        "Dask); "
        "with --workload and no --workloads, only the user's",
    )
    parser.add_argument(
        "--workload",
        action="append",
        default=[],
        type=workload_spec,
        metavar="MODULE:FUNCTION",
        help="also run function(size) -> (dsk, keys[, loop]) (repeatable; default sizes "
        f"{', '.join(map(str, USER_SIZES))})",
    )
    parser.add_argument(
        "--sizes", nargs="+", type=int, metavar="N", help="task counts (default per workload)"
    )
    parser.add_argument(
        "--schedulers",
        nargs="+",
        default=DEFAULT_SCHEDULERS,
        choices=SCHEDULERS,
        metavar="NAME",
        help=f"{', '.join(SCHEDULERS)} (processes only on the pure-python workload, "
        "taskloom-compute only on the dask-* ones, joblib-* only on the joblib-* ones; "
        "the *-cluster ones only when asked for)",
    )
    parser.add_argument(
        "--scheduler",
        action="append",
        default=[],
        type=partial(scheduler_spec, reserved=SCHEDULERS),
        metavar="NAME=MODULE:ATTR|NAME=tcp://HOST:PORT",
        help="also run a Dask-style get(dsk, keys), or a distributed scheduler's "
        "Client(address).get, as column NAME on the dict-graph workloads (repeatable)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="best of this many runs (at most 2 when a run takes over 2 s; short cases get "
        "up to 10)",
    )
    parser.add_argument(
        "--dask-budget",
        type=float,
        # Dask at 10^4 tasks on every dict shape, and its collections at their smaller
        # sizes; 12 reaches 10^5 on the dict shapes (~9 s each for Dask's sync
        # scheduler here) at a minute or two more.
        default=5.0,
        metavar="SECONDS",
        help="skip Dask on sizes whose estimated time exceeds this (default: 5)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    parser.add_argument("--plot", metavar="FILE.png", help="draw us/task against size")
    parser.add_argument(
        "--compare",
        metavar="BASELINE.json",
        help="print each row's change against a run saved with --json, flagging "
        "regressions beyond the runs' spread",
    )
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="with --compare, exit with status 1 when a row regressed",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or any(n < 2 for n in args.sizes or []):
        parser.error("--repeat must be >= 1 and every size >= 2")
    user = UserExtras(dict(args.scheduler), workload_names(args.workload, ALL_WORKLOADS))
    if len(user.schedulers) < len(args.scheduler):
        parser.error("--scheduler: two columns have the same NAME")
    if args.fail_on_regression and not args.compare:
        parser.error("--fail-on-regression needs --compare")
    baseline = _baseline(parser, args.compare) if args.compare else None
    workloads = args.workloads
    if workloads is None:
        workloads = [] if user.workloads else default_workloads()
    rows = run(
        [*workloads, *user.workloads],
        args.sizes,
        args.schedulers,
        args.repeat,
        args.dask_budget,
        memory=not args.no_memory,
        user=user,
    )
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    if args.plot:
        plot(rows, args.plot)
    if baseline is not None:
        text, regressions = compare(rows, baseline)
        print()
        print(text)
        if regressions and args.fail_on_regression:
            return 1
    return 0


def default_workloads() -> list[str]:
    """What runs without --workloads: all but :data:`OPT_IN`, and Dask's collections
    only where Dask is installed."""
    return [
        w
        for w in ALL_WORKLOADS
        if (w not in DASK_COLLECTIONS or _dask() is not None) and w not in OPT_IN
    ]


def _baseline(parser: argparse.ArgumentParser, path: str) -> list[dict[str, Any]]:
    """The rows of a run saved with --json, read before this run starts (so a wrong
    path fails now, not after minutes of measuring)."""
    try:
        with open(path) as f:
            rows = json.load(f)
    except (OSError, ValueError) as e:
        parser.error(f"--compare {path}: {e}")
    if not (
        isinstance(rows, list) and all(isinstance(r, dict) and "us_per_task" in r for r in rows)
    ):
        parser.error(f"--compare {path}: not the rows of a --json file")
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
