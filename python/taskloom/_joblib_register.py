"""Makes ``joblib.parallel_backend("taskloom")`` work after a plain ``import taskloom``.

This module owns one thing: telling joblib where the ``"taskloom"`` backend lives
without importing joblib (importing taskloom must stay cheap, and joblib is an optional
extra). joblib keeps a table, ``joblib.parallel.EXTERNAL_BACKENDS``, of backends it
registers on first use by name (that is how its ``"dask"`` backend is found); we add
``"taskloom"`` to it, pointing at ``import taskloom.joblib``. If joblib is imported
already, the entry is added at once; otherwise an import hook adds it right after
``joblib.parallel`` is executed, and then removes itself, so it costs nothing once
joblib is loaded (and nothing at all if joblib never is).

Examples
--------
>>> import sys
>>> import taskloom._joblib_register as reg
>>> reg.install()  # idempotent
>>> import joblib
>>> "taskloom" in joblib.parallel.EXTERNAL_BACKENDS or "taskloom" in joblib.parallel.BACKENDS
True
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

__all__ = ["install"]

_TARGET = "joblib.parallel"


def _register() -> None:
    # Called by joblib the first time a Parallel or parallel_config names "taskloom".
    import taskloom.joblib

    taskloom.joblib.register()


def _add(module: ModuleType) -> None:
    table = getattr(module, "EXTERNAL_BACKENDS", None)
    if isinstance(table, dict):
        table.setdefault("taskloom", _register)


class _Loader(importlib.abc.Loader):
    """The real loader of ``joblib.parallel``, plus one step after it runs."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # Hand the module back to its own loader (tracebacks and get_source use it).
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        _add(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Wraps the loader of ``joblib.parallel`` when it is imported, once."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != _TARGET:
            return None
        _uninstall()
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader)
                return spec
        return None


def _uninstall() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]


def install() -> None:
    """Make the ``"taskloom"`` joblib backend findable by name; never imports joblib.

    Examples
    --------
    >>> from taskloom._joblib_register import install
    >>> install()
    """
    module = sys.modules.get(_TARGET)
    if module is not None:
        _add(module)
        return
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
