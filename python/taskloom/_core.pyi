"""Type stubs for the compiled extension (rust/taskloom-py)."""

from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

_T = TypeVar("_T")

class CycleError(RuntimeError):
    """The task graph has a cycle: a task depends, through other tasks, on itself."""

class ForeignGraph(Exception):
    """The graph holds another library's graph nodes (Dask's): the caller lowers it and
    converts again. A signal between taskloom's layers, never shown to users."""

class Progress:
    """Live counters of one computation, readable from any thread."""

    def __init__(self) -> None: ...
    @property
    def total(self) -> int: ...
    @property
    def finished(self) -> int: ...
    def __repr__(self) -> str:
        """``Progress(finished=..., total=...)``."""

class DelayedBase:
    """The fields of a Delayed value (see taskloom.delayed)."""

    def __new__(
        cls,
        key: Hashable,
        task: Any,
        deps: Iterable[DelayedBase],
        length: int | None = None,
        graph: dict[Hashable, Any] | None = None,
        unique: bool = False,
        func: Callable[..., Any] | None = None,
        args: tuple[Any, ...] | None = None,
        leaf: tuple[Callable[..., Any], str, bool | None, int | None] | None = None,
    ) -> Any: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """A call of a ``delayed(func)`` leaf (made with ``leaf=``)."""
    @property
    def _key(self) -> Hashable: ...
    @property
    def _task(self) -> Any: ...
    @property
    def _deps(self) -> list[DelayedBase] | tuple[DelayedBase, ...]: ...
    @property
    def _length(self) -> int | None: ...
    @property
    def _graph(self) -> dict[Hashable, Any] | None: ...

def _leaf_setup(
    delayed: type,
    fallback: Callable[[Any, list[Any]], Any],
    slow_call: Callable[..., Any],
    settings: dict[str, Any],
    annotations: Any,
) -> None:
    """Register what native leaf calls need (once, from ``taskloom.delayed``)."""

def get(
    dsk: dict[Hashable, Any],
    keys: Any,
    num_workers: int = 0,
    hooks: Any = None,
    fuse: bool = True,
    priorities: dict[Hashable, float] | None = None,
    foreign: tuple[type, ...] | None = None,
) -> Any:
    """Compute ``keys`` from ``dsk``; ``num_workers <= 1`` runs on the calling thread;
    ``priorities`` pick among ready tasks, highest first; a task value of one of the
    ``foreign`` types raises :class:`ForeignGraph` before any task runs."""

class Compiled:
    """A graph converted and ordered once, to run many times."""

    def __init__(self, dsk: dict[Hashable, Any], keys: Any) -> None: ...
    def run(self, num_workers: int = 0, hooks: Any = None, fuse: bool = True) -> Any: ...
    @property
    def renumbered(self) -> bool:
        """Whether the tasks were renumbered into execution order (the dict's order
        was scattered)."""
    def __len__(self) -> int: ...
    def keys(self) -> list[Hashable]: ...
    def dependencies(self) -> dict[Hashable, set[Hashable]]: ...
    def chains(self) -> list[list[Hashable]]: ...
    def pieces(self, target: int) -> list[tuple[list[Hashable], list[Hashable], list[Hashable]]]:
        """Per piece of about ``target`` tasks (a piece reads only earlier ones): its
        keys in execution order, the keys of earlier pieces it reads, and its keys that
        later pieces or the caller read."""

class Dispatcher:
    """The core's ready queue for executors whose tasks run elsewhere (processes).

    Tasks are ids ``0 .. n-1``; ``pop`` gives the next in depth-first priority order
    (highest user ``priorities`` first, if given), ``finish`` records one and returns
    ``(fused successor or None, released ids)``.
    """

    def __init__(
        self,
        dsk: dict[Hashable, Any],
        keys: Any,
        fuse: bool = True,
        priorities: dict[Hashable, float] | None = None,
    ) -> None: ...
    def __len__(self) -> int: ...
    def outputs(self) -> list[int]: ...
    def key(self, t: int) -> Hashable: ...
    def dependencies(self, t: int) -> list[int]: ...
    def continuation(self, t: int) -> int | None: ...
    def pop(self) -> int | None: ...
    def finish(self, t: int) -> tuple[int | None, list[int]]:
        """ValueError (naming the key) for a task not handed out, finished, or culled."""

    def is_done(self) -> bool: ...
    def gather(self, results: dict[int, Any]) -> Any:
        """The requested results, shaped like the keys, from task id -> result."""

def delayed_call(
    cls: type[_T],
    func: Callable[..., Any],
    name: str,
    args: tuple[Any, ...],
    nout: int | None,
    fallback: Callable[[Any, list[Any]], Any],
) -> _T:
    """An impure call ``func(*args)`` as an instance of ``cls``."""

def graph_of(roots: Iterable[DelayedBase]) -> dict[Hashable, Any]:
    """The task graph of the given Delayed values."""

def unique_token() -> str:
    """A token no other call in this process returns."""

def unique_key(name: str) -> str:
    """``name-<token>`` with a token no other call in this process returns."""

def _seed_unique(prefix: str) -> None: ...
def _shutdown() -> None:
    """The atexit handler: close the pool, wait for running tasks (Ctrl-C: exit 130)."""

def _after_fork_in_child() -> None: ...
def _trim_memory() -> None:
    """Return to the kernel the memory the allocator keeps for reuse."""

def _purge_delay_ms() -> int:
    """How long (ms) the allocator keeps freed memory for reuse; -1: until trimmed."""
