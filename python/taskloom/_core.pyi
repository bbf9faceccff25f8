"""Type stubs for the compiled extension (rust/taskloom-py)."""

from collections.abc import Hashable
from typing import Any

class CycleError(RuntimeError):
    """The task graph has a cycle: a task depends, through other tasks, on itself."""

def get(dsk: dict[Hashable, Any], keys: Any, num_workers: int = 0) -> Any:
    """Compute ``keys`` from ``dsk``; ``num_workers <= 1`` runs on the calling thread."""

def _shutdown() -> None: ...
def _after_fork_in_child() -> None: ...
