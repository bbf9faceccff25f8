"""Process-wide configuration, as in ``dask.config``.

One global dict of settings. :class:`set` changes settings globally, or for the length
of a ``with`` block (restoring the previous values on exit); :func:`get` reads them.
Names are normalised so that ``num_workers`` and ``num-workers`` are the same setting.
A module that manages a setting's value over time may register a restore hook for it
(``_restore_hooks``): when a ``with`` block ends, the hook decides what the value it
restores becomes (:mod:`taskloom.distributed` uses this so that a block never brings
back a client that closed meanwhile).

Settings taskloom reads
-----------------------
scheduler
    Default scheduler for ``compute``/``persist``: a name (``"sync"``, ``"threads"``,
    ...) or a ``get`` function. Unset: each collection's default (threads).
num_workers
    Default ``num_workers`` for the threaded scheduler. Unset: the number of CPUs.
delayed_pure
    Default for ``delayed(..., pure=)``. Unset: False.

Examples
--------
>>> import taskloom
>>> with taskloom.config.set(scheduler="sync"):
...     taskloom.config.get("scheduler")
'sync'
>>> taskloom.config.get("scheduler", None) is None
True
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["config", "get", "set"]

config: dict[str, Any] = {}
_lock = threading.Lock()
_MISSING = object()

# Every ``set`` gets the next number, so that a hook can tell what happened while a
# block was open (anything numbered after it) from what was there before.
_sequence = itertools.count()

# ``hook(restored, seq)`` is called (without the lock held) when the ``set`` numbered
# ``seq`` ends as a ``with`` block: ``restored`` is the value it is about to bring back
# (None: unset); the hook returns the value to restore instead (None: unset).
_restore_hooks: dict[str, Callable[[Any, int], Any]] = {}


def _canonical(key: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"configuration keys are strings, got {key!r}")
    return key.replace("-", "_")


def get(key: str, default: Any = _MISSING) -> Any:
    """The value of setting ``key``, or ``default`` if it is not set.

    Raises
    ------
    KeyError
        If ``key`` is not set and no default is given.

    Examples
    --------
    >>> import taskloom
    >>> taskloom.config.get("no-such-setting", 42)
    42
    """
    value = config.get(_canonical(key), _MISSING)
    if value is _MISSING:
        if default is _MISSING:
            raise KeyError(f"configuration setting {key!r} is not set")
        return default
    return value


class set:
    """Change settings globally, or temporarily as a context manager.

    Parameters
    ----------
    arg : dict, optional
        Settings to change, by name.
    **kwargs
        More settings; ``None`` unsets a setting.

    Examples
    --------
    >>> import taskloom
    >>> with taskloom.config.set(num_workers=2):
    ...     taskloom.config.get("num_workers")
    2
    """

    def __init__(self, arg: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        updates = {_canonical(k): v for k, v in {**(arg or {}), **kwargs}.items()}
        if "scheduler" in updates:
            from taskloom.base import get_scheduler

            if updates["scheduler"] is not None:
                get_scheduler(updates["scheduler"])  # validate the name now, not at compute
        if "num_workers" in updates:
            n = updates["num_workers"]
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
                raise ValueError(f"num_workers must be a positive integer, got {n!r}")
        with _lock:
            self._seq = next(_sequence)
            self._previous = {k: config.get(k, _MISSING) for k in updates}
            for k, v in updates.items():
                if v is None:
                    config.pop(k, None)
                else:
                    config[k] = v

    def __enter__(self) -> set:
        return self

    def __exit__(self, *exc: object) -> None:
        previous = dict(self._previous)
        for k, v in previous.items():
            hook = _restore_hooks.get(k)
            if hook is not None:
                settled = hook(None if v is _MISSING else v, self._seq)
                previous[k] = _MISSING if settled is None else settled
        with _lock:
            for k, v in previous.items():
                if v is _MISSING:
                    config.pop(k, None)
                else:
                    config[k] = v
