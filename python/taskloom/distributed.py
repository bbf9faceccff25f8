"""Running taskloom on a Dask cluster: Dask's distributed scheduler and workers.

taskloom does not have a cluster of its own. Any ``distributed.Client`` works as a
scheduler: ``taskloom.compute(x, scheduler=client)``, ``x.compute(scheduler=client)``,
or :func:`get` for a dict graph. Dask's engine moves the data and keeps the work alive;
taskloom's core runs the tasks: a large graph goes to the cluster cut into pieces, one
Dask task each, that taskloom runs on the workers (see ``taskloom._cluster`` for the
policy; ``pieces=False``, or the ``distributed.pieces`` setting, sends task by task).
``persist`` leaves the results on the workers (the persisted collection's graph holds
futures).
:class:`Client` is a ``distributed.Client`` that, while it is open, is also
taskloom's default scheduler, as Dask's client is Dask's.

Default clients form a stack
----------------------------
This module owns what the ``scheduler`` setting is while :class:`Client` objects open
and close. Opening one makes it the setting. Closing one whose client is the setting
hands it to the most recently opened default client still open, or, with none left,
back to what it was before those clients opened; so any order of ``close()`` calls and
``with Client(...)`` blocks leaves the most recently opened open client as the default.
Closing never undoes what the user did since the client opened: a scheduler set by
``taskloom.config.set`` after it, globally or in a ``with`` block, stays set. A ``with
taskloom.config.set(scheduler=...)`` block that ends brings back what it found, except
that a client that has closed meanwhile is replaced as above, and a client opened inside
the block and still open stays the default (what the block restores then lies beneath
it, for when it closes).

Compared with Dask (``distributed`` 2026.8): Dask sets ``scheduler="dask.distributed"``
and looks up its most recent open client at compute time, but restores a client's
snapshot of the setting only when its last client closes; so after A then B close in
opening order the setting stays ``"dask.distributed"`` with no client (a compute raises
"no Client active"), a ``with dask.config.set(scheduler=...)`` block is cleared from
under the user when the last client closes inside it, and a scheduler the user set
globally while a client was open is reset when it closes. taskloom keeps the stack
without those three effects.

Needs the optional ``distributed`` package: ``pip install 'taskloom[distributed]'``.

Examples
--------
>>> import taskloom
>>> from taskloom.distributed import Client
>>> with Client(n_workers=1, processes=False, dashboard_address=":0") as client:
...     taskloom.delayed(sum)([1, 2, 3]).compute()  # runs on the cluster
6
"""

from __future__ import annotations

import threading
from typing import Any

try:
    import distributed
except ImportError as e:  # pragma: no cover - exercised by a test that hides the package
    raise ImportError(
        "taskloom.distributed needs the 'distributed' package; install it with "
        "pip install 'taskloom[distributed]'"
    ) from e

from taskloom import config
from taskloom._cluster import get

__all__ = ["Client", "LocalCluster", "get"]

LocalCluster = distributed.LocalCluster

# The default clients still open, in opening order; guarded by _lock, which is taken
# before (never while holding) the config's own lock.
_open: list[Client] = []
_lock = threading.RLock()


def _is_default(value: Any) -> bool:
    """Whether ``value`` is a :class:`Client` opened as taskloom's default."""
    return isinstance(value, Client) and value._taskloom_seq is not None


def _settle(value: Any) -> Any:
    """What a setting naming ``value`` should name now: a default client gives way to
    the most recently opened one still open or, with none open, to what was set before
    it (followed down through clients that have closed)."""
    if not _is_default(value):
        return value
    if _open:
        return _open[-1]
    while _is_default(value):
        value = value._taskloom_before
    return value


def _restore_scheduler(restored: Any, seq: int) -> Any:
    """The config's restore hook for ``scheduler``: the value a ``with config.set``
    block numbered ``seq`` brings back when it ends."""
    with _lock:
        opened_inside = [c for c in _open if c._taskloom_seq > seq]
        # Values set during the block that lie beneath clients opened in it give way to
        # what the block restores.
        for c in opened_inside:
            node = c
            while True:
                below = node._taskloom_before
                if _is_default(below) and below._taskloom_seq > seq:
                    node = below
                    continue
                node._taskloom_before = restored
                break
        if opened_inside:
            return _open[-1]
        return _settle(restored)


config._restore_hooks["scheduler"] = _restore_scheduler


class Client(distributed.Client):
    """A ``distributed.Client`` that is taskloom's default scheduler while it is open.

    Takes the arguments of ``distributed.Client``: an address such as
    ``"tcp://10.0.0.5:8786"``, a cluster object, or none for a new local cluster (then
    keywords such as ``n_workers`` and ``threads_per_worker`` go to ``LocalCluster``).
    ``set_as_default=False`` leaves taskloom's default scheduler alone. Default
    clients stack: closing one brings back the most recently opened one still open
    (see the module's notes).

    Examples
    --------
    >>> import taskloom
    >>> from taskloom.distributed import Client
    >>> a = Client(n_workers=1, processes=False, dashboard_address=":0")
    >>> b = Client(n_workers=1, processes=False, dashboard_address=":0")
    >>> a.close()
    >>> taskloom.config.get("scheduler") is b  # closing A leaves B the default
    True
    >>> b.close()
    >>> taskloom.config.get("scheduler", None) is None
    True
    """

    _taskloom_seq: int | None = None  # when it became the default (None: it did not)
    _taskloom_before: Any = None  # the scheduler setting it found when it opened

    def __init__(
        self, address: Any = None, *args: Any, set_as_default: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(address, *args, set_as_default=set_as_default, **kwargs)
        if set_as_default:
            with _lock:
                self._taskloom_before = config.get("scheduler", None)
                self._taskloom_seq = config.set(scheduler=self)._seq
                _open.append(self)

    def _stop_being_default(self) -> None:
        """Leave the stack; if this client is the setting, hand it on (see _settle)."""
        with _lock:
            if not any(c is self for c in _open):
                return
            _open[:] = [c for c in _open if c is not self]
            if config.get("scheduler", None) is self:
                config.set(scheduler=_settle(self))

    async def _close(self, *args: Any, **kwargs: Any) -> Any:
        # Every way of closing (close(), shutdown(), ``async with``, ``with``) ends here.
        self._stop_being_default()
        return await super()._close(*args, **kwargs)

    def close(self, *args: Any, **kwargs: Any) -> Any:
        """Close the client; the default scheduler goes back as the module describes."""
        self._stop_being_default()  # before returning, even if the close times out
        return super().close(*args, **kwargs)
