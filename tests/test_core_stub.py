"""The stub python/taskloom/_core.pyi declares everything the compiled module exports.

Type checkers read the stub, not the extension: a name or method the Rust binding adds
without a stub entry is invisible to them (``mypy --strict`` reports it as missing).
The stub is parsed with ``ast`` and compared with the live module both ways, so a
stale entry for something the binding removed fails too.
"""

from __future__ import annotations

import ast
import inspect
import types
from pathlib import Path

import pytest

import taskloom
from taskloom import _core

STUB = Path(taskloom.__file__).with_name("_core.pyi")

# Attributes every class has (from ``type``/``object``, or that pyo3 adds) that a stub
# does not declare. ``__new__``/``__init__`` are compared separately (either may stand
# for a pyo3 ``#[new]``).
_IMPLICIT = {
    "__doc__",
    "__module__",
    "__dict__",
    "__weakref__",
    "__text_signature__",
    "__qualname__",
    "__firstlineno__",
    "__static_attributes__",
}


def _stub_names(tree: ast.Module) -> tuple[set[str], dict[str, set[str]]]:
    """Module-level names and, per class, its member names declared in a stub."""
    names: set[str] = set()
    members: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
            found = set()
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    found.add(item.target.id)
                elif isinstance(item, ast.Assign):
                    found.update(t.id for t in item.targets if isinstance(t, ast.Name))
            members[node.name] = found
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign) and not _is_type_variable(node.value):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names, members


def _is_type_variable(value: ast.expr) -> bool:
    """``TypeVar("T")`` and kin: names the stub needs for its signatures only."""
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return name in {"TypeVar", "ParamSpec", "TypeVarTuple"}


def _module_names(module: types.ModuleType) -> set[str]:
    return {n for n in dir(module) if not (n.startswith("__") and n.endswith("__"))}


def _class_members(cls: type) -> set[str]:
    return {n for n in vars(cls) if n not in _IMPLICIT}


def stub_mismatches(module: types.ModuleType, stub_source: str) -> list[str]:
    """Everything ``module`` exports that the stub lacks, and stub entries it lacks."""
    names, members = _stub_names(ast.parse(stub_source))
    exported = _module_names(module)
    problems = [f"{n}: exported by {module.__name__}, not in the stub" for n in exported - names]
    problems += [f"{n}: in the stub, not exported" for n in names - exported]
    for name in sorted(exported & names):
        obj = getattr(module, name)
        if not inspect.isclass(obj):
            if name in members:
                problems.append(f"{name}: a class in the stub, a {type(obj).__name__} at run time")
            continue
        if name not in members:
            problems.append(f"{name}: a class at run time, not in the stub")
            continue
        declared = members[name]
        actual = _class_members(obj)
        # A pyo3 #[new] shows as __new__; the stub may spell the constructor either way.
        if "__new__" in actual:
            actual.discard("__new__")
            if not declared & {"__new__", "__init__"}:
                problems.append(f"{name}: a constructor, none in the stub")
        declared = declared - {"__new__", "__init__"}
        problems += [f"{name}.{m}: at run time, not in the stub" for m in sorted(actual - declared)]
        problems += [f"{name}.{m}: in the stub, not at run time" for m in sorted(declared - actual)]
    return sorted(problems)


def test_stub_covers_the_compiled_module() -> None:
    problems = stub_mismatches(_core, STUB.read_text())
    assert not problems, "taskloom/_core.pyi is out of date:\n" + "\n".join(problems)


def test_stub_entries_have_docstrings_for_public_names() -> None:
    tree = ast.parse(STUB.read_text())
    missing = [
        node.name
        for node in tree.body
        if isinstance(node, (ast.ClassDef, ast.FunctionDef))
        and not node.name.startswith("_")
        and ast.get_docstring(node) is None
    ]
    assert not missing, f"public names without a docstring in _core.pyi: {missing}"


def _fake_module() -> types.ModuleType:
    mod = types.ModuleType("fake_core")

    class Thing:
        def __new__(cls) -> Thing:
            return object.__new__(cls)

        def run(self) -> None: ...

        def __len__(self) -> int:
            return 0

    Thing.__module__ = "fake_core"
    mod.Thing = Thing  # type: ignore[attr-defined]
    mod.get = lambda: None  # type: ignore[attr-defined]
    mod._private = lambda: None  # type: ignore[attr-defined]
    return mod


FULL_STUB = """
from typing import TypeVar
_T = TypeVar("_T")
class Thing:
    def __init__(self) -> None: ...
    def run(self) -> None: ...
    def __len__(self) -> int: ...
def get() -> None: ...
def _private() -> None: ...
"""


def test_checker_accepts_a_complete_stub() -> None:
    assert stub_mismatches(_fake_module(), FULL_STUB) == []


@pytest.mark.parametrize(
    ("drop", "expected"),
    [
        ("def get() -> None: ...\n", "get: exported by fake_core, not in the stub"),
        ("def _private() -> None: ...\n", "_private: exported by fake_core, not in the stub"),
        ("    def run(self) -> None: ...\n", "Thing.run: at run time, not in the stub"),
        ("    def __len__(self) -> int: ...\n", "Thing.__len__: at run time, not in the stub"),
        (
            "    def __init__(self) -> None: ...\n",
            "Thing: a constructor, none in the stub",
        ),
    ],
)
def test_checker_reports_what_the_stub_lacks(drop: str, expected: str) -> None:
    assert drop in FULL_STUB
    assert stub_mismatches(_fake_module(), FULL_STUB.replace(drop, "")) == [expected]


def test_checker_reports_stale_stub_entries() -> None:
    stub = FULL_STUB + "def gone() -> None: ...\nclass Thing2: ...\n"
    stub = stub.replace("    def run(self)", "    def walk(self) -> None: ...\n    def run(self)")
    assert stub_mismatches(_fake_module(), stub) == [
        "Thing.walk: in the stub, not at run time",
        "Thing2: in the stub, not exported",
        "gone: in the stub, not exported",
    ]
