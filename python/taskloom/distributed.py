"""Running taskloom on a Dask cluster: Dask's distributed scheduler and workers.

taskloom does not have a cluster of its own. Any ``distributed.Client`` works as a
scheduler: ``taskloom.compute(x, scheduler=client)``, ``x.compute(scheduler=client)``;
the graph goes to the cluster's scheduler as Dask's own graphs do, and ``persist``
leaves the results on the workers (the persisted collection's graph holds futures).
:class:`Client` is a ``distributed.Client`` that, while it is open, is also
taskloom's default scheduler, as Dask's client is Dask's.

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

from typing import Any

try:
    import distributed
except ImportError as e:  # pragma: no cover - exercised by a test that hides the package
    raise ImportError(
        "taskloom.distributed needs the 'distributed' package; install it with "
        "pip install 'taskloom[distributed]'"
    ) from e

from taskloom import config

__all__ = ["Client", "LocalCluster"]

LocalCluster = distributed.LocalCluster


class Client(distributed.Client):
    """A ``distributed.Client`` that is taskloom's default scheduler while it is open.

    Takes the arguments of ``distributed.Client``: an address such as
    ``"tcp://10.0.0.5:8786"``, a cluster object, or none for a new local cluster (then
    keywords such as ``n_workers`` and ``threads_per_worker`` go to ``LocalCluster``).
    ``set_as_default=False`` leaves taskloom's default scheduler alone.
    """

    def __init__(
        self, address: Any = None, *args: Any, set_as_default: bool = True, **kwargs: Any
    ) -> None:
        self._taskloom_default: config.set | None = None
        super().__init__(address, *args, set_as_default=set_as_default, **kwargs)
        if set_as_default:
            self._taskloom_default = config.set(scheduler=self)

    def close(self, *args: Any, **kwargs: Any) -> Any:
        """Close the client; taskloom's previous default scheduler comes back."""
        if self._taskloom_default is not None:
            self._taskloom_default.__exit__(None, None, None)
            self._taskloom_default = None
        return super().close(*args, **kwargs)
