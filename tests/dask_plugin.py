"""pytest plugin: Dask's own test suites, run with taskloom's schedulers in Dask's place.

Loaded by ``tests/test_dask_suites.py`` (``python -m pytest -p dask_plugin --pyargs
dask.tests.test_delayed``, with ``tests/`` on ``sys.path``). Before any test runs, every
way Dask picks a scheduler leads to taskloom's: the names in
``dask.base.named_schedulers`` ("sync", "synchronous", "single-threaded" ->
``taskloom.local.get_sync``; "threads", "threading" -> ``taskloom.threaded.get``;
"processes", "multiprocessing" -> ``taskloom.multiprocessing.get``), the module functions
``dask.get``, ``dask.local.get_sync``, ``dask.threaded.get`` and
``dask.multiprocessing.get``, and the default (``__dask_scheduler__``) of every Dask
collection class, which captured Dask's function when its module was imported.
"""

from __future__ import annotations

import importlib
import sys

import taskloom.local
import taskloom.multiprocessing
import taskloom.threaded

# Dask's collection modules, imported here so their classes can be patched.
COLLECTION_MODULES = ("dask.delayed", "dask.bag", "dask.array", "dask.dataframe")


def install() -> dict:
    """Put taskloom's get functions in Dask's place; returns Dask's -> taskloom's."""
    import dask
    import dask.base
    import dask.local
    import dask.multiprocessing
    import dask.threaded

    ours = {
        dask.local.get_sync: taskloom.local.get_sync,
        dask.threaded.get: taskloom.threaded.get,
        dask.multiprocessing.get: taskloom.multiprocessing.get,
    }
    for name, get in list(dask.base.named_schedulers.items()):
        dask.base.named_schedulers[name] = ours.get(get, get)
    dask.get = taskloom.local.get_sync
    dask.local.get_sync = taskloom.local.get_sync
    dask.threaded.get = taskloom.threaded.get
    dask.multiprocessing.get = taskloom.multiprocessing.get
    for module in COLLECTION_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:  # an optional collection's dependency is missing
            continue
    for name, module in list(sys.modules.items()):
        if not name.startswith("dask") or module is None:
            continue
        for obj in list(vars(module).values()):
            default = isinstance(obj, type) and obj.__dict__.get("__dask_scheduler__")
            if isinstance(default, staticmethod) and default.__func__ in ours:
                obj.__dask_scheduler__ = staticmethod(ours[default.__func__])
    return ours


def pytest_configure(config) -> None:
    install()
