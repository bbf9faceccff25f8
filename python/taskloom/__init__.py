"""taskloom: parallel computing with Dask's programming model and a Rust scheduler core.

Replace ``dask`` by ``taskloom`` in code that runs Dask task graphs and get the same
results with far less scheduling overhead per task. This module re-exports the public
entry points; the scheduler itself lives in the compiled extension ``taskloom._core``.

Examples
--------
>>> import taskloom
>>> from operator import add
>>> dsk = {"x": 1, "y": (add, "x", 10), "z": (sum, ["x", "y"])}
>>> taskloom.get(dsk, "z")
12
"""

from __future__ import annotations

import atexit
import os
from importlib.metadata import PackageNotFoundError, version

from taskloom import _core, local, threaded
from taskloom._core import CycleError
from taskloom.local import get_sync
from taskloom.threaded import get

try:
    __version__ = version("taskloom")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

# Idle worker threads must detach from the interpreter before it finalizes.
atexit.register(_core._shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_core._after_fork_in_child)

__all__ = ["CycleError", "__version__", "get", "get_sync", "local", "threaded"]
