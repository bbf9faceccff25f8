"""The documentation site (``mkdocs.yml``, ``docs/``): its examples run, its claims hold.

- Every ``python`` code block of a guide page runs, the blocks of one page in order in
  one namespace, in a temporary directory. A top-level expression followed by a comment
  that starts with a Python literal (``total.compute()  # 90``) must evaluate to that
  literal: the pages show results, and a wrong one is a bug.
- The benchmark page names every workload, scheduler and flag the harness has.
- ``mkdocs build --strict`` succeeds (slow: about 10-30 s) and the API reference shows
  every name in the public modules' ``__all__``.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GUIDES = [
    "index.md",
    "getting-started.md",
    "coming-from-dask.md",
    "schedulers.md",
    "task-graphs.md",
    "diagnostics.md",
]
# Pages whose examples start a Dask cluster or run for seconds.
SLOW_GUIDES = {"schedulers.md", "diagnostics.md"}

_FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(page: str) -> list[str]:
    return _FENCE.findall((DOCS / page).read_text())


def _leading_literal(comment: str) -> tuple[bool, object]:
    """The longest prefix of ``comment`` that is a Python literal, cut before a ``,``,
    ``:`` or space (``"3, on the threaded scheduler"`` -> 3)."""
    cuts = [i for i, c in enumerate(comment) if c in ",: "] + [len(comment)]
    for end in sorted(cuts, reverse=True):
        candidate = comment[:end].strip()
        if not candidate or candidate[-1] in ",:":  # "3, on threads" is 3, not (3,)
            continue
        try:
            return True, ast.literal_eval(candidate)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return False, None


def claimed_results(source: str) -> list[tuple[int, str, object]]:
    """(line, expression, value) for each top-level expression statement whose line ends
    with a comment starting with a literal."""
    lines = source.splitlines()
    claims = []
    for node in ast.parse(source).body:
        if not isinstance(node, ast.Expr) or node.lineno != node.end_lineno:
            continue
        line = lines[node.lineno - 1]
        rest = line[node.end_col_offset :]
        if "#" not in rest:
            continue
        found, value = _leading_literal(rest.split("#", 1)[1].strip())
        if found:
            claims.append((node.lineno, ast.get_source_segment(source, node), value))
    return claims


def run_page(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run every python block of ``page``; return how many claimed results were checked."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    checked = 0
    for i, block in enumerate(python_blocks(page)):
        claims = {line: (expr, value) for line, expr, value in claimed_results(block)}
        tree = ast.parse(block)
        for node in tree.body:
            where = f"{page}, python block {i + 1}, line {node.lineno}"
            if node.lineno in claims:
                expr, value = claims[node.lineno]
                got = eval(compile(ast.Expression(node.value), where, "eval"), namespace)
                assert got == value, f"{where}: {expr} gives {got!r}, the page says {value!r}"
                checked += 1
            else:
                exec(compile(ast.Module([node], []), where, "exec"), namespace)
    return checked


def test_claimed_results_parser() -> None:
    source = "f(1)  # 3, on threads\ng(2)  # (5, (1, 2)): tuples\nx = 1  # 2\nh()  # a note\n"
    assert claimed_results(source) == [(1, "f(1)", 3), (2, "g(2)", (5, (1, 2)))]


# How many shown results each page's examples check, at least: a change that silently
# checked nothing (a parser bug, a reworded comment) fails here.
MIN_CLAIMS = {
    "index.md": 1,
    "getting-started.md": 4,
    "schedulers.md": 1,
    "task-graphs.md": 4,
    "diagnostics.md": 1,
}


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(p, marks=pytest.mark.slow) if p in SLOW_GUIDES else p
        for p in GUIDES
        if p not in {"benchmarks.md", "architecture.md"}
    ],
)
def test_guide_examples_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert python_blocks(page), f"{page} has no python example"
    checked = run_page(page, tmp_path, monkeypatch)
    assert checked >= MIN_CLAIMS.get(page, 0), f"{page}: only {checked} results checked"


def test_benchmark_page_names_every_workload_scheduler_and_flag() -> None:
    from taskloom import bench

    page = (DOCS / "benchmarks.md").read_text()
    help_text = subprocess.run(
        [sys.executable, "-m", "taskloom.bench", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    flags = set(re.findall(r"(--[a-z][a-z-]+)", help_text)) - {"--help"}
    assert flags, help_text
    missing = [f for f in sorted(flags) if f"`{f}" not in page]
    missing += [w for w in bench.ALL_WORKLOADS if f"`{w}`" not in page]
    missing += [s for s in bench.SCHEDULERS if f"`{s}`" not in page]
    assert not missing, f"docs/benchmarks.md does not mention {missing}"


def test_every_page_is_in_the_nav() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")} - {"api-coverage.md"}
    assert pages, "no pages"
    assert not [p for p in sorted(pages) if f" {p}\n" not in config]


# Public names the API reference cannot show: native functions and other libraries'
# objects (static analysis sees no docstring or no definition), module-level data.
NOT_RENDERED = {
    "taskloom.delayed": {"graph_of"},  # taskloom._core.graph_of
    "taskloom.distributed": {"LocalCluster"},  # distributed.LocalCluster itself
    "taskloom.config": {"defaults"},  # a list of dicts, not an API
    "taskloom.array": {"flatten"},  # an alias of ravel
    "taskloom.bag": {"random"},  # the module taskloom.bag_random, shown under that name
}
API_PAGES = {
    "taskloom.delayed": "delayed",
    "taskloom.array": "array",
    "taskloom.bag": "bag",
    "taskloom.dataframe": "dataframe",
    "taskloom.distributed": "distributed",
    "taskloom.diagnostics": "diagnostics",
    "taskloom.config": "config",
    "taskloom.datasets": "datasets",
    "taskloom.joblib": "joblib",
}


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocstrings_handlers.python", reason="pip install '.[docs]'")
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The coverage table is included, not left as a snippet marker.
    coming = (site / "coming-from-dask" / "index.html").read_text()
    assert "--8&lt;--" not in coming and "dask.array.linalg" in coming
    assert (site / "img" / "bench.png").stat().st_size > 0
    for module, page in API_PAGES.items():
        html = (site / "api" / page / "index.html").read_text()
        shown = {i.rsplit(".", 1)[-1] for i in re.findall(r'id="(taskloom[\w.]*)"', html)}
        names = set(importlib.import_module(module).__all__) - NOT_RENDERED.get(module, set())
        assert not sorted(names - shown), f"{module}: not on api/{page}.md"
