"""The benchmark harness: its graphs compute what its loops compute, the schedulers of a
case take turns, and the command line prints, saves and refuses what it should."""

from __future__ import annotations

import gc
import io
import json
import sys
from typing import ClassVar

import pytest

from taskloom import bench


@pytest.fixture(autouse=True)
def _forget_cases():
    yield
    bench._CASES.clear()


@pytest.mark.parametrize("workload", [w for w in bench.GRAPHS if w != "pure-python"])
def test_each_graph_computes_what_its_loop_computes(workload):
    # run_case raises if the scheduler's result differs from the plain loop's.
    for scheduler in ("taskloom-sync", "taskloom-threads"):
        row = bench.run_case(workload, 40, scheduler, repeat=1)
        assert row["seconds"] > 0
        assert row["us_per_task"] == pytest.approx(row["seconds"] / row["tasks"] * 1e6)
        assert row["exec_us_per_task"] > 0


def test_a_wrong_result_stops_the_harness():
    case = bench._case("chain", 50)
    case.expected = "not the loop's result"
    with pytest.raises(AssertionError, match=r"taskloom-sync computed .* for chain"):
        bench.run_case("chain", 50, "taskloom-sync", repeat=1)


def _record_runs(monkeypatch, seconds: float) -> list:
    """Replace timing with a fixed duration; returns the schedulers run, in order."""
    calls: list = []

    def fake_time_once(case, workload, scheduler):
        calls.append(scheduler)
        return seconds

    monkeypatch.setattr(bench, "_time_once", fake_time_once)
    return calls


def test_schedulers_of_a_case_take_turns(monkeypatch):
    calls = _record_runs(monkeypatch, 1.0)
    rows = bench.run_cases("chain", 30, {"loop": 3, "taskloom-sync": 2, "dask-sync": 1})
    assert calls == ["loop", "taskloom-sync", "dask-sync", "loop", "taskloom-sync", "loop"]
    assert [r["scheduler"] for r in rows] == ["loop", "taskloom-sync", "dask-sync"]


def test_short_cases_get_extra_rounds_for_repeated_schedulers(monkeypatch):
    calls = _record_runs(monkeypatch, 0.01)
    bench.run_cases("chain", 30, {"loop": 3, "dask-sync": 1})
    assert calls.count("loop") == bench.MAX_ROUNDS
    assert calls.count("dask-sync") == 1, "a scheduler asked for one run gets one"


def test_schedulers_whose_runs_take_seconds_get_two(monkeypatch):
    calls = _record_runs(monkeypatch, bench.LONG_RUN_SECONDS + 0.5)
    bench.run_cases("chain", 30, {"loop": 3, "taskloom-sync": 1})
    assert calls == ["loop", "taskloom-sync", "loop"]


def test_a_cases_graph_is_set_aside_from_the_collector_while_it_runs(monkeypatch):
    frozen = []

    def fake_time_once(case, workload, scheduler):
        frozen.append(gc.get_freeze_count())
        return 1.0

    monkeypatch.setattr(bench, "_time_once", fake_time_once)
    bench.run_cases("chain", 3000, {"loop": 1})
    # The collection before each timed run walks what was made since, not the graph...
    assert frozen[0] > 3000
    assert gc.get_freeze_count() == 0, "...and nothing stays frozen after"
    gc.freeze()  # unless the caller froze objects itself: then they stay as they are
    try:
        count = gc.get_freeze_count()
        bench.run_cases("chain", 3000, {"loop": 1})
        assert gc.get_freeze_count() == count
    finally:
        gc.unfreeze()


def test_command_line_prints_the_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "rows.json"
    argv = ["--workloads", "chain", "tree", "--sizes", "60", "200", "--repeat", "1"]
    argv += ["--schedulers", "loop", "taskloom-sync", "--no-memory", "--json", str(out)]
    assert bench.main(argv) == 0
    rows = json.loads(out.read_text())
    cases = {(r["workload"], r["scheduler"]) for r in rows}
    assert cases == {(w, s) for w in ("chain", "tree") for s in ("loop", "taskloom-sync")}
    assert sorted({r["tasks"] for r in rows if r["workload"] == "chain"}) == [60, 200]
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split()[:4] == ["workload", "tasks", "scheduler", "us/task"]
    for r in rows:
        line = _row_of(printed, r["workload"], r["tasks"], r["scheduler"])
        assert float(line[3]) == pytest.approx(r["us_per_task"], abs=1e-3)


def _row_of(printed, workload, tasks, scheduler):
    """The printed table's row of one case, split into its columns."""
    return next(p.split() for p in printed if p.split()[:3] == [workload, str(tasks), scheduler])


def test_dask_runs_beside_taskloom_and_the_ratio_is_printed(capsys):
    pytest.importorskip("dask")
    argv = ["--workloads", "fanin", "--sizes", "300", "--repeat", "1", "--no-memory"]
    assert bench.main([*argv, "--schedulers", "taskloom-sync", "dask-sync"]) == 0
    lines = capsys.readouterr().out.splitlines()
    ours = _row_of(lines, "fanin", 300, "taskloom-sync")
    dasks = _row_of(lines, "fanin", 300, "dask-sync")
    ratio = float(dasks[3]) / float(ours[3])
    shown = ours[-1].rstrip("x")
    assert float(shown) == pytest.approx(ratio, rel=0.05, abs=0.051)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--schedulers", "bogus"], "invalid choice: 'bogus'"),
        (["--workloads", "nope"], "invalid choice: 'nope'"),
        (["--sizes", "1"], "every size >= 2"),
        (["--repeat", "0"], "--repeat must be >= 1"),
    ],
)
def test_bad_arguments_are_named(argv, message, capsys):
    with pytest.raises(SystemExit):
        bench.main(argv)
    assert message in capsys.readouterr().err


DASK_PATHS = ["loop", "taskloom-sync", "taskloom-threads", "taskloom-compute"]
DASK_PATHS += ["dask-sync", "dask-threads"]


@pytest.mark.parametrize(
    "workload, n", [("dask-array", 20), ("dask-bag", 20), ("dask-dataframe", 2)]
)
def test_dask_collections_compute_the_same_on_every_path(workload, n):
    pytest.importorskip("dask")
    # run_cases raises if any path's result differs from the loop's (or, on the
    # dataframe, from the others').
    rows = bench.run_cases(workload, n, dict.fromkeys(DASK_PATHS, 1))
    assert [r["scheduler"] for r in rows] == DASK_PATHS
    assert all(r["seconds"] > 0 and r["tasks"] > n for r in rows)


def test_a_wrong_result_on_a_dask_collection_stops_the_harness():
    pytest.importorskip("dask")
    bench._case("dask-bag", 10).expected = -1
    with pytest.raises(AssertionError, match=r"taskloom-compute computed .* for dask-bag"):
        bench.run_case("dask-bag", 10, "taskloom-compute", repeat=1)


def test_taskloom_compute_runs_only_dask_collections(monkeypatch):
    pytest.importorskip("dask")
    calls = _record_runs(monkeypatch, 1.0)
    names = ["loop", "taskloom-threads", "taskloom-compute", "dask-threads"]
    rows = bench.run(["chain", "dask-bag"], [30], names, 2, dask_budget=100.0, memory=False)
    ran = {(r["workload"], r["scheduler"]) for r in rows}
    assert ("chain", "taskloom-compute") not in ran
    assert ("dask-bag", "taskloom-compute") in ran
    # On Dask's collections Dask repeats as often as taskloom; on dict graphs, once.
    assert calls.count("dask-threads") == 1 + 2
    with pytest.raises(ValueError, match="only Dask's collections, not chain"):
        bench.run_case("chain", 30, "taskloom-compute", repeat=1)


def test_the_ratio_to_dask_is_printed_for_taskloom_compute():
    rows = [
        {"workload": "dask-bag", "tasks": 80, "scheduler": s, "us_per_task": us}
        for s, us in [("taskloom-compute", 2.0), ("dask-threads", 5.0)]
    ]
    line = _row_of(bench.table(rows).splitlines(), "dask-bag", 80, "taskloom-compute")
    assert line[-1] == "2.5x"


def test_the_default_workloads_include_dask_collections(monkeypatch):
    pytest.importorskip("dask")
    seen = {}

    def fake_run(workloads, *args, **kwargs):
        seen["workloads"] = workloads
        return []

    monkeypatch.setattr(bench, "run", fake_run)
    assert bench.main(["--no-memory"]) == 0
    assert bench.DASK_COLLECTIONS <= set(seen["workloads"])


def test_the_cluster_columns_run_beside_each_other_on_one_cluster(capsys):
    pytest.importorskip("distributed")
    assert "taskloom-cluster" not in bench.DEFAULT_SCHEDULERS  # asked for by name only
    assert bench.main(
        ["--workloads", "tree", "--sizes", "300", "--schedulers", "loop", "taskloom-cluster",
         "dask-cluster", "--repeat", "1", "--no-memory", "--json", "/dev/null"]
    ) == 0  # fmt: skip
    out = capsys.readouterr().out
    header, _, *lines = out.strip().splitlines()
    assert "vs dask-clu" in header and "sched MiB" in header
    row = next(line for line in lines if "taskloom-cluster" in line).split()
    # The results were checked against the loop's; the scheduler's memory is reported
    # and so is the ratio to Dask's client.get on the same cluster.
    assert row[-2].endswith("x") and float(row[-1]) > 10
    from taskloom import _bench_cluster

    assert _bench_cluster._state["client"].scheduler_info()["workers"]
    _bench_cluster._stop()  # (as at the harness's exit; an idle cluster costs CPU)
    assert "client" not in _bench_cluster._state


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_peak_memory_counts_memory_the_allocator_kept_from_an_earlier_run():
    # The binding's allocator keeps freed memory for reuse: unless it is handed
    # back first, a second run reuses it and seems to need none.
    from taskloom import _core

    dsk, key, _ = bench.chain(200_000)
    runs = [bench._peak_rss_delta(lambda: _core.get(dsk, key)) for _ in range(3)]
    assert runs[0] > 4 * 2**20, runs
    assert min(runs[1:]) > runs[0] / 2, runs


# --- the command line's own schedulers and workloads ---------------------------------


def wrong_get(dsk, keys):
    """A get function that computes the wrong thing."""
    return -1


def ring(n):
    """A user's workload without a loop: n tasks, each adding its index to the last."""
    dsk = {("ring", 0): 0}
    dsk.update({("ring", i): (sum, [("ring", i - 1), i]) for i in range(1, n)})
    return dsk, ("ring", n - 1)


def ring_with_loop(n):
    dsk, key = ring(n)
    return dsk, key, lambda: sum(range(n))


def ring_with_a_wrong_loop(n):
    dsk, key = ring(n)
    return dsk, key, lambda: -1


def not_a_graph(n):
    return [n]


def _main_rows(tmp_path, argv):
    """Run the command line with a --json file; the rows written."""
    out = tmp_path / "rows.json"
    assert bench.main([*argv, "--repeat", "1", "--no-memory", "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_a_user_scheduler_is_a_column_of_the_dict_graph_workloads(tmp_path, capsys):
    long_name = "my-threaded-get-column"  # longer than the built-in columns' names
    rows = _main_rows(
        tmp_path,
        ["--workloads", "chain", "delayed", "--sizes", "50", "--schedulers", "loop",
         "--scheduler", f"{long_name}=taskloom.threaded:get"],
    )  # fmt: skip
    ran = {(r["workload"], r["scheduler"]) for r in rows}
    assert ran == {("chain", "loop"), ("chain", long_name), ("delayed", "loop")}
    line = _row_of(capsys.readouterr().out.splitlines(), "chain", 50, long_name)
    ours = next(r for r in rows if r["scheduler"] == long_name)
    assert float(line[3]) == pytest.approx(ours["us_per_task"], abs=1e-3)


def test_every_row_keeps_its_runs_and_their_spread():
    import statistics

    row = bench.run_case("tree", 50, "loop", repeat=3)
    assert len(row["runs"]) >= 3
    best = min(row["runs"])
    assert row["seconds"] == best
    assert row["spread"] == pytest.approx((statistics.median(row["runs"]) - best) / best)


def test_a_user_scheduler_computing_a_wrong_result_stops_the_harness():
    argv = ["--workloads", "fanin", "--sizes", "50", "--schedulers", "loop", "--no-memory"]
    with pytest.raises(AssertionError, match=r"wrong computed -1 for fanin"):
        bench.main([*argv, "--scheduler", "wrong=test_bench:wrong_get"])


class _FakeClient:
    """Stands in for distributed.Client: runs graphs with taskloom's sync scheduler."""

    addresses: ClassVar[list] = []

    def __init__(self, address, set_as_default=True):
        self.addresses.append(address)

    def get(self, dsk, keys):
        import taskloom

        return taskloom.get_sync(dsk, keys)

    def close(self):
        pass


def test_a_scheduler_address_runs_graphs_with_that_clusters_client(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(distributed, "Client", _FakeClient)
    monkeypatch.setattr(_FakeClient, "addresses", [])
    rows = _main_rows(
        tmp_path,
        ["--workloads", "tree", "--sizes", "50", "--schedulers", "loop",
         "--scheduler", "remote=tcp://10.0.0.1:8786"],
    )  # fmt: skip
    assert [r["scheduler"] for r in rows] == ["loop", "remote"]
    assert _FakeClient.addresses == ["tcp://10.0.0.1:8786"], "one client, made on first use"


def test_a_scheduler_address_without_distributed_is_refused(monkeypatch, capsys):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "distributed" else find_spec(name, *a),
    )
    with pytest.raises(SystemExit):
        bench.main(["--scheduler", "remote=tcp://10.0.0.1:8786"])
    assert "needs distributed" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--scheduler", "taskloom.threaded:get"], "is not NAME=module:attr"),
        (["--scheduler", "x=no_such_module:get"], "cannot import 'no_such_module'"),
        (["--scheduler", "x=taskloom.threaded:nope"], "has no attribute 'nope'"),
        (["--scheduler", "x=taskloom.bench:SCHEDULERS"], "is a list, not callable"),
        (["--scheduler", "dask-sync=taskloom.threaded:get"], "'dask-sync' is a built-in"),
        (["--scheduler", "x=taskloom:get", "--scheduler", "x=taskloom:get_sync"], "same NAME"),
        (["--workload", "test_bench.ring"], "is not module:attr"),
        (["--workload", "test_bench:no_such_workload"], "has no attribute"),
        (["--fail-on-regression"], "needs --compare"),
        (["--compare", "/nonexistent/baseline.json"], "--compare /nonexistent/baseline.json"),
    ],
)
def test_bad_user_specs_are_named(argv, message, capsys):
    with pytest.raises(SystemExit):
        bench.main(argv)
    assert message in capsys.readouterr().err


def test_a_user_workload_without_a_loop_is_checked_against_taskloom(tmp_path):
    rows = _main_rows(
        tmp_path,
        ["--workload", "test_bench:ring", "--sizes", "50", "100", "--schedulers", "loop",
         "taskloom-threads", "--scheduler", "threads=taskloom.threaded:get"],
    )  # fmt: skip
    # Only the user's workload runs (no --workloads), and without a loop, no loop row.
    assert [(r["workload"], r["tasks"], r["scheduler"]) for r in rows] == [
        ("ring", n, s) for n in (50, 100) for s in ("taskloom-threads", "threads")
    ]
    case = bench._case("ring", 40, bench.UserExtras(workloads={"ring": ring}))
    assert case.expected == sum(range(40))


def test_a_user_workload_with_a_loop_has_a_loop_row_and_is_checked_against_it(tmp_path):
    argv = ["--workload", "test_bench:ring_with_loop", "--workloads", "chain", "--sizes", "50"]
    rows = _main_rows(tmp_path, [*argv, "--schedulers", "loop", "taskloom-sync"])
    assert {(r["workload"], r["scheduler"]) for r in rows} == {
        (w, s) for w in ("chain", "ring_with_loop") for s in ("loop", "taskloom-sync")
    }
    with pytest.raises(AssertionError, match="taskloom-sync computed 1225 for ring_with_a_wrong"):
        bench.main(["--workload", "test_bench:ring_with_a_wrong_loop", "--sizes", "50",
                    "--schedulers", "taskloom-sync", "--no-memory"])  # fmt: skip


def test_a_user_workload_returning_no_graph_is_named():
    with pytest.raises(TypeError, match="workload not_a_graph returned list"):
        bench.main(["--workload", "test_bench:not_a_graph", "--sizes", "5", "--no-memory"])


def test_user_workloads_default_sizes_and_names():
    user = bench.UserExtras(
        workloads=bench.workload_names([("a:ring", ring), ("b:chain", bench.chain)], bench.GRAPHS)
    )
    assert list(user.workloads) == ["ring", "b:chain"], "a built-in's name is not reused"
    planned = bench.plan(list(user.workloads), None, ["taskloom-sync"], 3, user)
    assert [(w, n) for w, n, _ in planned] == [
        (w, n) for w in ("ring", "b:chain") for n in bench.USER_SIZES
    ]


# --- progress -------------------------------------------------------------------------


def test_without_a_terminal_progress_is_a_line_per_workload_and_size(capsys, monkeypatch):
    calls = _record_runs(monkeypatch, 0.001)
    argv = ["--workloads", "chain", "tree", "--sizes", "50", "100", "--repeat", "3"]
    assert bench.main([*argv, "--schedulers", "loop", "taskloom-sync", "--no-memory"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert len(calls) > 4 * 2 * 3, "every case ran several times..."
    assert len(lines) == 4, "...and each (workload, size) printed one line"
    assert [line.split()[1] for line in lines] == ["2/8", "4/8", "6/8", "8/8"]


def test_a_missing_column_is_named_with_its_extra_only_where_it_would_run(monkeypatch):
    # joblib's columns run joblib's workloads only: a run without them says nothing of
    # joblib; one with them names the extra that installs joblib (not the bench one).
    _record_runs(monkeypatch, 0.001)
    installed = {k: v for k, v in bench.schedulers().items() if "joblib" not in k}
    monkeypatch.setattr(bench, "schedulers", lambda: installed)
    names = ["loop", "taskloom-sync", *bench.JOBLIB_SCHEDULERS]
    for workloads, notes in [
        (["chain"], []),
        (["joblib-map"], [f"skipping {n}: not installed" for n in bench.JOBLIB_SCHEDULERS]),
    ]:
        stream = io.StringIO()
        bench.run(workloads, [50], names, 1, 1.0, False, stream=stream)
        said = [line for line in stream.getvalue().splitlines() if "skipping" in line]
        assert [line.split(" (")[0] for line in said] == notes
        assert all("pip install 'taskloom[joblib]'" in line for line in said)


class _Terminal:
    """A stream that says it is a terminal, keeping what is written."""

    def __init__(self):
        self.written = []

    def isatty(self):
        return True

    def write(self, text):
        self.written.append(text)

    def flush(self):
        pass


def test_on_a_terminal_progress_redraws_one_line_per_run(monkeypatch):
    calls = _record_runs(monkeypatch, 0.001)
    terminal = _Terminal()
    bench.run(["chain"], [50], ["loop", "taskloom-sync"], 1, 1.0, False, stream=terminal)
    draws = [w for w in terminal.written if "run " in w]
    assert len(draws) == len(calls)
    assert all(w.startswith("\r\x1b[K") and "\n" not in w for w in terminal.written[:-1])
    assert "chain n=50 taskloom-sync run 1" in draws[1]
    assert terminal.written[-1] == "\r\x1b[K", "the line is cleared before the table"


def test_the_progress_line_shows_counts_bar_and_time_left_first():
    line = bench.progress_line(5, 20, "tree n=1000 dask-sync run 1", 3725.0)
    assert line == "[#####---------------] 5/20 ETA 1h02m  tree n=1000 dask-sync run 1"
    narrow = bench.progress_line(5, 20, "x" * 200, 42.0, width=40)
    assert narrow == "[#####---------------] 5/20 ETA 42s  xx", "the case is cut, not the ETA"
    assert bench.progress_line(0, 3, "chain", None).startswith("[--------------------] 0/3 ETA ?")


def test_every_size_is_planned_best_of_repeat():
    # A process's first gets of 10^6 tasks fault in their memory: a best of two read
    # 10-40% above the steady time there, so large sizes get `repeat` runs too (a run
    # that takes seconds is still cut to two when it has run).
    names = ["loop", "taskloom-sync", "dask-sync"]
    planned = bench.plan(["chain"], [1000, 10**6], names, 3, installed=names)
    assert [(n, r["taskloom-sync"], r["loop"]) for _, n, r in planned] == [
        (1000, 3, 3),
        (10**6, 3, 3),
    ]


def test_the_estimate_scales_runs_by_size_and_planned_runs_and_adapts_to_drops():
    planned = [("chain", n, s, 3) for n in (10, 20, 40) for s in ("loop", "dask-sync")]
    planned.append(("tree", 10, "loop", 1))
    progress = bench.Progress(planned, stream=_Terminal())
    assert progress.eta() is None
    # loop: ten runs of 0.1 s (extra rounds) and 0.5 s more; dask-sync: one run of 2 s.
    runs = {"loop": [0.1] * 10, "dask-sync": [2.0]}
    progress.finished("chain", 10, {"loop": 1.5, "dask-sync": 2.0}, runs)

    def loop_at(n):  # three runs of 0.1 s per 10, and the 0.5 s more per 10
        return (0.1 * 3 + 0.5) * n / 10

    def dask_at(n):
        return 2.0 * 3 * n / 10

    tree_guess = (1.5 + 2.0) / 2  # an unknown workload: the mean case so far
    assert progress.eta() == pytest.approx(
        loop_at(20) + loop_at(40) + dask_at(20) + dask_at(40) + tree_guess
    )
    progress.drop("chain", 40, "dask-sync")
    assert progress.total == 6
    assert progress.eta() == pytest.approx(loop_at(20) + loop_at(40) + dask_at(20) + tree_guess)


def test_on_a_terminal_the_estimate_counts_down_during_a_case(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock[0])
    terminal = _Terminal()
    progress = bench.Progress([("chain", 10, "loop", 1), ("chain", 20, "loop", 1)], terminal)
    progress.finished("chain", 10, {"loop": 4.0}, {"loop": [4.0]})  # 8 s left at 20
    progress.step("chain", 20, "loop", "run 1")
    clock[0] += 3.0
    progress.step("chain", 20, "loop", "run 2")
    clock[0] += 30.0
    progress.step("chain", 20, "loop", "run 3")
    etas = [w.split("ETA ")[1].split()[0] for w in terminal.written]
    assert etas == ["8s", "5s", "0s"]


def test_dask_past_its_budget_leaves_the_plan(capsys, monkeypatch):
    pytest.importorskip("dask")
    calls = _record_runs(monkeypatch, 1.0)
    # 1 s at 30 tasks: 2 s estimated at 60, past a budget of 1.5 s.
    rows = bench.run(["fanin"], [30, 60], ["loop", "dask-sync"], 1, dask_budget=1.5)
    assert [(r["tasks"], r["scheduler"]) for r in rows] == [
        (30, "loop"), (30, "dask-sync"), (60, "loop")
    ]  # fmt: skip
    assert calls.count("dask-sync") == 1
    assert capsys.readouterr().err.splitlines()[-1].split()[1] == "3/3"


# --- comparing with a saved run -------------------------------------------------------


def _rows(*specs):
    return [
        {"workload": w, "tasks": n, "scheduler": s, "us_per_task": us, "spread": spread}
        for w, n, s, us, spread in specs
    ]


def test_compare_flags_only_changes_beyond_both_runs_spread():
    now = _rows(
        ("chain", 100, "loop", 1.0, 0.02),
        ("chain", 100, "taskloom-sync", 2.0, 0.30),  # +25%: within this run's spread
        ("chain", 100, "mine", 3.0, 0.02),  # +50%: beyond every spread
        ("tree", 100, "loop", 1.0, 0.0),  # only in this run
    )
    baseline = _rows(
        ("chain", 100, "loop", 0.99, 0.01),  # +1%: under the floor
        ("chain", 100, "taskloom-sync", 1.6, 0.01),
        ("chain", 100, "mine", 2.0, 0.01),
        ("fanin", 100, "loop", 1.0, 0.0),  # only in the baseline
    )
    text, regressions = bench.compare(now, baseline)
    assert regressions == 1
    lines = text.splitlines()
    flagged = [line.split()[2] for line in lines if line.endswith("REGRESSION")]
    assert flagged == ["mine"]
    assert _row_of(lines, "chain", 100, "taskloom-sync")[-1] == f"{2.0 / 1.6 - 1:+.0%}"
    assert "only in this run: tree 100 loop" in lines
    assert "only in the baseline: fanin 100 loop" in lines


def test_compare_on_the_command_line(tmp_path, capsys):
    argv = ["--workloads", "chain", "--sizes", "50", "100", "--schedulers", "loop"]
    rows = _main_rows(tmp_path, argv)
    capsys.readouterr()
    baseline = [
        {**rows[0], "us_per_task": rows[0]["us_per_task"] / 1000},  # 1000x faster then
        {**rows[0], "scheduler": "gone"},
    ]
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(baseline))
    argv += ["--repeat", "1", "--no-memory", "--compare", str(path)]
    assert bench.main(argv) == 0, "a regression alone does not fail the run"
    out = capsys.readouterr().out.split("\n\n")[1]  # the comparison, after the table
    assert _row_of(out.splitlines(), "chain", rows[0]["tasks"], "loop")[-1] == "REGRESSION"
    assert f"only in this run: chain {rows[1]['tasks']} loop" in out
    assert f"only in the baseline: chain {rows[0]['tasks']} gone" in out
    assert bench.main([*argv, "--fail-on-regression"]) == 1


# --- the shuffled workload ------------------------------------------------------------


def test_shuffled_is_chains_graph_in_an_order_that_is_not_execution_order():
    import taskloom

    dsk, key, loop = bench.shuffled(200)
    in_order, chain_key, chain_loop = bench.chain(200)
    assert dsk == in_order and key == chain_key
    assert taskloom.get_sync(dsk, key) == chain_loop() == loop()
    position = {k: i for i, k in enumerate(dsk)}
    late = [k for k, v in dsk.items() if isinstance(v, tuple) and position[v[1]] > position[k]]
    assert late, "some task comes before the task it depends on"
    assert list(in_order) == sorted(in_order, key=lambda k: int(k.split("-")[1]))
    assert "shuffled" in bench.default_workloads()


def test_reused_is_chains_graph():
    import taskloom

    dsk, key, loop = bench.reused(200)
    in_order, chain_key, chain_loop = bench.chain(200)
    assert list(dsk.items()) == list(in_order.items()) and key == chain_key
    assert taskloom.get_sync(dsk, key) == chain_loop() == loop()
    assert "reused" in bench.default_workloads()
