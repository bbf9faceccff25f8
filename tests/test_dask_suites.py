"""Dask's own test suites as the yardstick (issue #13): each suite, run with taskloom's
schedulers installed in Dask's place (``tests/dask_plugin.py``), must pass wherever it
passes with Dask's own schedulers.

Each suite runs twice in subprocesses, with and without the plugin, and the failing
test ids are compared: a test that fails only with taskloom is a difference to fix.
Slow (minutes): run with ``python -m pytest -m slow tests/test_dask_suites.py -s`` to
see the counts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("dask")

SUITES = {
    "delayed": "dask.tests.test_delayed",
    "bag": "dask.bag.tests.test_bag",
    "array-core": "dask.array.tests.test_array_core",
    "array-reductions": "dask.array.tests.test_reductions",
    "dataframe-groupby": "dask.dataframe.tests.test_groupby",
}
HERE = Path(__file__).parent
# Tests whose difference is a deliberate behaviour of taskloom's, with the reason.
KNOWN_DIFFERENCES = {
    "bag": {
        # It lists Dask's on-disk groupby files after compute. taskloom's worker
        # processes free a computation's results, and so partd's files, when it ends;
        # Dask's pool workers keep them until the pool closes.
        "test_temporary_directory",
    },
}


def run_suite(module: str, with_taskloom: bool, where: Path) -> dict[str, str]:
    """Outcome per test id ("passed", "failed", "skipped") of Dask's ``module``."""
    report = where / ("taskloom.xml" if with_taskloom else "dask.xml")
    args = [sys.executable, "-m", "pytest", "--pyargs", module, "-q", "-p", "no:cacheprovider"]
    args += ["-o", "addopts=", f"--junitxml={report}", "-W", "ignore"]
    if with_taskloom:
        args += ["-p", "dask_plugin"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    subprocess.run(args, cwd=where, env=env, capture_output=True, timeout=3600)
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        outcomes[test_id] = (
            "failed"
            if kinds & {"failure", "error"}
            else "skipped"
            if "skipped" in kinds
            else "passed"
        )
    return outcomes


@pytest.mark.slow
@pytest.mark.parametrize("suite", list(SUITES), ids=list(SUITES))
def test_dask_suite_passes_with_taskloom_where_it_passes_with_dask(suite, tmp_path):
    theirs = run_suite(SUITES[suite], with_taskloom=False, where=tmp_path)
    ours = run_suite(SUITES[suite], with_taskloom=True, where=tmp_path)
    counts = {
        kind: (sum(v == kind for v in ours.values()), sum(v == kind for v in theirs.values()))
        for kind in ("passed", "failed", "skipped")
    }
    print(f"\n{suite}: (taskloom, dask) {counts}")
    known = KNOWN_DIFFERENCES.get(suite, set())
    only_ours = sorted(
        t
        for t, v in ours.items()
        if v == "failed" and theirs.get(t) != "failed" and t.rsplit("::", 1)[-1] not in known
    )
    assert set(ours) == set(theirs), "the two runs collected different tests"
    assert not only_ours, f"{len(only_ours)} tests fail only with taskloom: {only_ours[:50]}"


def test_plugin_puts_taskloom_in_every_place_dask_looks_for_a_scheduler():
    # Runs in a subprocess: the plugin patches Dask for the life of the interpreter.
    code = """
import dask_plugin
dask_plugin.install()
import dask, dask.array as da, dask.bag as db, dask.dataframe as dd, pandas as pd
from dask.base import get_scheduler
found = [get_scheduler(collections=[c]).__module__ for c in (
    dask.delayed(1), da.ones(3), db.from_sequence([1]),
    dd.from_pandas(pd.DataFrame({"a": [1]}), npartitions=1))]
found += [get_scheduler(scheduler=n).__module__ for n in ("sync", "threads", "processes")]
found += [f.__module__ for f in (dask.get, dask.local.get_sync, dask.threaded.get)]
print(" ".join(found))
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        "taskloom.threaded",
        "taskloom.threaded",
        "taskloom.multiprocessing",
        "taskloom.threaded",
        "taskloom.local",
        "taskloom.threaded",
        "taskloom.multiprocessing",
        "taskloom.local",
        "taskloom.local",
        "taskloom.threaded",
    ]
