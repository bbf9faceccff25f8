"""Regressions found by an adversarial review of the dataframe readers (issue #16):
each test is a wrong answer that was reproduced before its fix."""

from __future__ import annotations

import os

import pandas as pd
import pytest

import taskloom.dataframe as dd


def _rewrite(path: str, write) -> None:
    """Rewrite a file with a later modification time (a fast rewrite may keep it)."""
    before = os.path.getmtime(path)
    write()
    os.utime(path, (before + 10, before + 10))


@pytest.mark.parametrize("fmt", ["json", "orc", "hdf"])
def test_a_rewritten_file_is_not_taken_for_its_persisted_old_contents(tmp_path, fmt):
    # The readers' task names did not depend on the files' versions: a persisted read
    # of the old file and a new read of the rewritten one shared their keys, and a
    # computation holding both got the old contents for the new read.
    if fmt == "orc":
        pytest.importorskip("pyarrow.orc")
    if fmt == "hdf":
        pytest.importorskip("tables")
    path = str(tmp_path / f"data.{fmt}")

    def write(values):
        pdf = pd.DataFrame({"a": values})
        if fmt == "json":
            pdf.to_json(path, orient="records", lines=True)
        elif fmt == "orc":
            pdf.to_orc(path, index=False)
        else:
            pdf.to_hdf(path, key="t", format="table", mode="w")

    def read():
        if fmt == "json":
            return dd.read_json(path)
        if fmt == "orc":
            return dd.read_orc(path)
        return dd.read_hdf(path, "t")

    write([1, 2])
    old = read().persist()
    _rewrite(path, lambda: write([7, 8]))
    new = read()
    assert new._name != old._name
    assert dd.compute(old.a.sum(), new.a.sum()) == (3, 15)
    # Column projection keeps the version too.
    assert dd.compute(old[["a"]].a.sum(), new[["a"]].a.sum()) == (3, 15)
