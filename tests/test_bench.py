"""The benchmark harness: its graphs compute what its loops compute, the schedulers of a
case take turns, and the command line prints, saves and refuses what it should."""

from __future__ import annotations

import json

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
