"""``mypy --strict`` accepts every ```python block of README.md.

Each block becomes a module in a temporary directory and is checked against the
installed taskloom (its ``py.typed`` makes mypy read taskloom's own annotations and
``_core.pyi``), with pandas-stubs for pandas. A fresh cache makes this take a minute
or more, hence the slow mark.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def readme_python_blocks(text: str) -> list[str]:
    """The contents of the ```python fenced blocks of a Markdown text, in order."""
    return _BLOCK.findall(text)


def test_blocks_are_found() -> None:
    text = "a\n```python\nx = 1\n```\n```sh\nls\n```\n```python\ny: int = 2\nz = y\n```\n"
    assert readme_python_blocks(text) == ["x = 1\n", "y: int = 2\nz = y\n"]
    assert readme_python_blocks(README.read_text())  # the README has examples to check


@pytest.mark.slow
def test_readme_examples_pass_mypy_strict(tmp_path: Path) -> None:
    blocks = readme_python_blocks(README.read_text())
    files = []
    for i, block in enumerate(blocks):
        path = tmp_path / f"readme_example_{i}.py"
        path.write_text(block)
        files.append(str(path))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-color-output",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "--python-executable",
            sys.executable,
            *files,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, (
        f"mypy --strict on README.md's examples:\n{proc.stdout}{proc.stderr}"
    )
