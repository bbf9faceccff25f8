"""visualize: Graphviz pictures of task graphs."""

from __future__ import annotations

import pytest

import taskloom
from taskloom import delayed
from taskloom.dot import dependencies, label, to_graphviz


def inc(x):
    return x + 1


def add(x, y):
    return x + y


def test_graph_shapes_edges_and_labels():
    dsk = {"x": 1, "y": (inc, "x"), "z": (add, "x", "y"), "w": "z"}
    g = to_graphviz(dsk, rankdir="LR")
    src = g.source
    assert "rankdir=LR" in src
    assert src.count("shape=box") == 4  # one per key
    assert src.count("shape=circle") == 2  # one per task
    assert "label=inc" in src and "label=add" in src
    # x feeds two functions, y one, z is aliased by w: 3 + 2 (functions -> keys) + 1
    assert src.count("->") == 6


def test_dependencies_follow_the_scheduler_rules():
    dsk = {"a": 1, ("b", 0): 2, "c": (sum, ["a", [("b", 0)], (inc, "a")])}
    assert dependencies(dsk["c"], dsk) == ["a", ("b", 0)]


def test_labels_shorten_tokens():
    cache: dict = {}
    assert label("inc-" + "f" * 32, cache) == "inc-#0"
    assert label("add-" + "e" * 32, cache) == "add-#1"
    assert label("inc-" + "f" * 32, cache) == "inc-#0"
    assert label(("x", 1), cache) == "('x', 1)"


@pytest.mark.parametrize("ext", ["png", "svg", "pdf", "dot"])
def test_writes_the_format_of_the_extension(tmp_path, ext):
    x = delayed(inc)(1)
    y = delayed(add)(x, 2)
    path = tmp_path / f"graph.{ext}"
    y.visualize(filename=str(path))
    data = path.read_bytes()
    magic = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF", "dot": b"digraph"}[ext]
    assert data.startswith(magic)


def test_module_level_visualize_and_rankdir(tmp_path):
    x = delayed(inc)(1)
    path = tmp_path / "g"
    taskloom.visualize(x, x + 1, filename=str(path), format="svg", rankdir="LR")
    assert (tmp_path / "g.svg").read_text().startswith("<?xml")
    with pytest.raises(ValueError, match="rankdir"):
        taskloom.visualize(x, filename=None, rankdir="sideways")


def test_missing_dot_program_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        delayed(inc)(1).visualize(filename=None)


def test_visualize_optimize_graph_draws_the_fused_graph():
    a = taskloom.delayed(sum)([1, 2])
    b = (a + 1) * 2
    plain = taskloom.visualize(b, filename=None)
    fused = taskloom.visualize(b, filename=None, optimize_graph=True)
    # Three chained calls are drawn as three functions, fused as one.
    assert plain.source.count("shape=circle") == 3
    assert fused.source.count("shape=circle") == 1
