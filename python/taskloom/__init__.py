"""taskloom: parallel computing with Dask's programming model and a Rust scheduler core.

Replace ``dask`` by ``taskloom`` in code that builds Dask task graphs, ``delayed`` calls
or collections, and get the same results with far less scheduling overhead per task.
This module re-exports the public entry points; the scheduler itself lives in the
compiled extension ``taskloom._core``. Schedulers: ``threaded`` (the default),
``local`` (one thread), ``multiprocessing`` (worker processes), ``distributed`` (a
Dask cluster). Collections, imported on first use: ``bag``, ``array``, ``dataframe``
(with ``datasets`` for example data).

Examples
--------
>>> import taskloom
>>> from operator import add
>>> dsk = {"x": 1, "y": (add, "x", 10), "z": (sum, ["x", "y"])}
>>> taskloom.get(dsk, "z")
12
>>> taskloom.delayed(add)(1, 2).compute()
3
"""

from __future__ import annotations

import atexit
import os
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from taskloom import _core, _joblib_register, config, local, multiprocessing, optimization, threaded
from taskloom._core import CycleError
from taskloom.annotations import annotate, get_annotations
from taskloom.base import compute, is_dask_collection, persist, visualize
from taskloom.delayed import Delayed, delayed
from taskloom.local import get_sync
from taskloom.optimize_graphs import optimize
from taskloom.threaded import get
from taskloom.tokenize import tokenize

do = delayed  # the name early Dask gave ``delayed`` (``dask.do``)

try:
    __version__ = version("taskloom")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

# At exit: close the native pool and wait for tasks still running on its threads, so
# none runs Python while the interpreter finalizes (see rust/taskloom-py/src/lifecycle.rs).
atexit.register(_core._shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_core._after_fork_in_child)
# joblib finds the "taskloom" backend by name, without taskloom importing joblib.
_joblib_register.install()

_SUBMODULES = ("array", "bag", "dataframe", "datasets", "diagnostics", "utils")

if TYPE_CHECKING:  # type checkers see the lazily imported submodules as attributes
    from taskloom import array as array
    from taskloom import bag as bag
    from taskloom import dataframe as dataframe
    from taskloom import datasets as datasets
    from taskloom import diagnostics as diagnostics
    from taskloom import utils as utils


def __getattr__(name: str) -> object:
    # Collections load numpy/pandas: import them on first use (``taskloom.datasets``
    # works after ``import taskloom``, as ``dask.datasets`` does).
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"taskloom.{name}")
    raise AttributeError(f"module 'taskloom' has no attribute {name!r}")


__all__ = [
    "CycleError",
    "Delayed",
    "__version__",
    "annotate",
    "compute",
    "config",
    "delayed",
    "do",
    "get",
    "get_annotations",
    "get_sync",
    "is_dask_collection",
    "local",
    "multiprocessing",
    "optimization",
    "optimize",
    "persist",
    "threaded",
    "tokenize",
    "visualize",
]
