"""A joblib backend, ``"taskloom"``: joblib's (and scikit-learn's) parallel loops on taskloom.

``with joblib.parallel_backend("taskloom", scheduler=...)`` (or ``joblib.parallel_config
(backend="taskloom")``) runs the batches of every ``joblib.Parallel`` call in it as
taskloom tasks: on threads (the default, or the ``scheduler`` setting of
:mod:`taskloom.config`), on worker processes, or on a Dask cluster through a
``distributed.Client``. After ``import taskloom.joblib`` the name is registered; after a
plain ``import taskloom`` joblib finds it on first use (see
:mod:`taskloom._joblib_register`); importing taskloom never imports joblib.

Policy:

- Batches: joblib's auto-batching (``batch_size="auto"``) grows a batch until it takes
  at least ``MIN_IDEAL_BATCH_DURATION`` (threads 20 ms: handing a batch to a thread
  costs tens of microseconds; processes and clusters 200 ms, as joblib's ``loky`` and
  ``dask`` backends: a round trip costs milliseconds). A fixed ``batch_size`` is kept.
- Threads: up to ``n_jobs`` "lanes", each a one-task taskloom computation on a thread
  of its own (started when a batch finds no lane waiting); each lane takes the next
  batch joblib dispatched, runs it and hands its result back at once (joblib then
  dispatches the next), so no lane waits for another. Lanes end when the ``Parallel``
  call does, or after 50 ms with nothing dispatched and nothing running.
- Processes: taskloom's process pool runs one computation at a time, so batches go in
  waves: all batches dispatched so far are one computation of independent tasks; its
  results come back when it ends, and the batches joblib dispatched meanwhile form the
  next wave. The first wave starts once joblib has dispatched its first batches.
- Cluster: each batch is a ``client.submit`` call; its result comes back as soon as it
  is done. An argument of at least ``scatter_threshold`` bytes (default 100 kB: sized
  with ``dask.sizeof``) is sent to the cluster once per ``Parallel`` call with
  ``client.scatter`` and passed to every call that uses it (the same object, by
  identity) as that future: scikit-learn's ``X`` and ``y`` travel once, not once per
  fit. ``scatter=[X, y]`` sends them to every worker up front, kept for the backend's
  life.
- Errors and cancellation: a call that raises stops its batch; the error reaches the
  caller with its type and message, the text of its traceback chained as its cause
  (as joblib's own backends do). Batches not started are dropped: threads stop taking
  them, a wave of processes stops dispatching (tasks already on a worker finish), the
  cluster's futures are cancelled. Calls already running are not interrupted.
- Nesting: a ``Parallel`` call inside a batch runs sequentially (the outer call
  already uses every worker it was given), whether it names a backend or not; so do
  calls asking for ``n_jobs=1`` and calls under the ``sync`` scheduler.
- ``n_jobs``: ``-1`` is every worker (threads and processes: the ``num_workers``
  setting, else the CPU count; a cluster: its worker threads), ``-2`` one fewer, and so
  on; a positive number is taken as given, except that processes never outnumber
  taskloom's pool (``num_workers=``): growing the shared pool for one call would start
  new interpreters (fewer jobs than the pool has workers shrink it, as
  ``taskloom.multiprocessing.get(num_workers=)`` does). The default is ``-1``, as for
  Dask's backend.

Examples
--------
>>> import joblib
>>> import taskloom.joblib
>>> with joblib.parallel_backend("taskloom", scheduler="threads"):
...     joblib.Parallel(n_jobs=2)(joblib.delayed(abs)(-x) for x in range(5))
[0, 1, 2, 3, 4]
"""

from __future__ import annotations

import atexit
import collections
import functools
import threading
import time
import traceback
import uuid
import weakref
from collections.abc import Callable
from typing import Any

try:
    import joblib
    from joblib._parallel_backends import (
        AutoBatchingMixin,
        FallbackToBackend,
        ParallelBackendBase,
        SequentialBackend,
    )
except ImportError as e:  # pragma: no cover - exercised only without joblib
    raise ImportError(
        "taskloom.joblib needs the 'joblib' package; install it with pip install 'taskloom[joblib]'"
    ) from e

from taskloom import _core, local, multiprocessing, threaded
from taskloom._graph import num_workers as resolve_num_workers

__all__ = ["TaskloomBackend", "register"]

# How long lanes and the wave driver wait for more work before they end.
_LINGER = 0.05
# How long the first wave of processes waits for joblib's first dispatches to stop.
_GATHER = 0.005

# Runners still alive. At exit they stop taking batches: taskloom's own exit handler
# (registered before this one, so run after it) waits for tasks still running, and a
# lane would otherwise go on with a generator's remaining batches nobody will read.
_RUNNERS: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for runner in list(_RUNNERS):
        try:
            runner.abort()
        except Exception:  # a cluster client closed already: nothing left to cancel
            pass


# Set while a batch runs in this thread (threads, processes, cluster workers alike):
# a Parallel call made from inside one runs sequentially.
_state = threading.local()


def _in_batch() -> bool:
    return getattr(_state, "depth", 0) > 0


class _RemoteTraceback(Exception):
    """The traceback of a call that raised in a batch, as text (the error's cause)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


class _Failure:
    """What a batch returns instead of its results when one of its calls raised."""

    __slots__ = ("error", "text")

    def __init__(self, error: BaseException, text: str) -> None:
        self.error = error
        self.text = text

    def __reduce__(self) -> tuple:
        return (_Failure, (_picklable_error(self.error), self.text))

    def reraise(self) -> Any:
        error = self.error
        if error.__cause__ is None:
            error.__cause__ = _RemoteTraceback(f'\n"""\n{self.text}"""')
        raise error


def _picklable_error(error: BaseException) -> BaseException:
    import cloudpickle

    try:
        cloudpickle.loads(cloudpickle.dumps(error))
        return error
    except Exception:
        return RuntimeError(f"{type(error).__module__}.{type(error).__qualname__}: {error}")


def _failure(error: BaseException) -> _Failure:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return _Failure(error, text)


def _run_batch(batch: Callable[[], list]) -> list | _Failure:
    """Run one joblib batch; an error is returned (with its traceback text), not raised."""
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        return batch()
    except BaseException as e:
        return _failure(e)
    finally:
        _state.depth -= 1


class _BatchError(Exception):
    """Raised by a batch in a process wave: stops the wave (taskloom dispatches nothing
    more) and says which batch failed."""

    def __init__(self, index: int, failure: _Failure) -> None:
        super().__init__(index, failure)
        self.index = index
        self.failure = failure


def _run_batch_in_wave(index: int, batch: Callable[[], list]) -> list:
    out = _run_batch(batch)
    if isinstance(out, _Failure):
        raise _BatchError(index, out)
    return out


def _run_items(items: list, nested: Any) -> list | _Failure:
    """A batch's calls on a cluster worker (futures already replaced by their data)."""
    backend, n_jobs = nested
    batch = joblib.parallel.BatchedCalls(items, (backend, n_jobs))
    return _run_batch(batch)


# --- runners: one per Parallel call ---------------------------------------------------


class _QueuedRunner:
    """What the threads and processes runners share: a queue of batches under a
    condition, and stopping, which drops the batches not yet started."""

    def __init__(self, get: Callable, n: int) -> None:
        self.get = get
        self.n = n
        self.cond = threading.Condition()
        self.queue: collections.deque = collections.deque()
        self.stopped = False

    def abort(self) -> None:
        with self.cond:
            self.stopped = True
            self.queue.clear()
            self.cond.notify_all()

    stop = abort


class _Lanes(_QueuedRunner):
    """Threads: up to ``n`` lanes, each a one-task taskloom computation on a thread of its
    own, pull batches from a queue.

    Each lane is its own ``get`` with one worker (run on its calling thread) rather than
    one task of a shared computation: the threads scheduler runs a task it has timed as
    quick inline on the caller, and a lane that found nothing to do is quick, so lanes
    of one computation could end up running one after another."""

    def __init__(self, get: Callable, n: int) -> None:
        super().__init__(get, n)
        self.in_flight = 0
        self.lanes = 0  # lanes started and not yet ended (ending is decided under cond)
        self.waiting = 0  # lanes waiting for a batch
        self.idle_since = time.monotonic()

    def submit(self, batch: Callable, callback: Callable) -> None:
        with self.cond:
            if self.stopped:
                return
            self.queue.append((batch, callback))
            self.cond.notify()
            start = self.lanes < self.n and self.waiting < len(self.queue)
            if start:
                self.lanes += 1
        if start:
            threading.Thread(target=self._run_lane, name="taskloom-joblib", daemon=True).start()

    def _run_lane(self) -> None:
        key = f"joblib-lane-{_core.unique_token()}"
        ran = []
        try:
            # (a partial: taskloom would copy a list argument)
            self.get({key: (functools.partial(self._lane, ran),)}, key, num_workers=1)
        except BaseException as e:  # taskloom failing, or joblib's callback raising
            with self.cond:
                if not ran or ran[-1] != "ended":
                    self.lanes -= 1
            self._fail_all(e)

    def _fail_all(self, error: BaseException) -> None:
        with self.cond:
            pending = list(self.queue)
        self.abort()
        for _, callback in pending[:1]:
            callback(_failure(error))

    def _lane(self, ran: list) -> None:
        ran.append("started")
        cond = self.cond
        while True:
            with cond:
                self.waiting += 1
                try:
                    while not self.queue:
                        idle = self.in_flight == 0
                        if self.stopped or (idle and time.monotonic() - self.idle_since > _LINGER):
                            # Decided under the lock that submit() takes: a batch queued
                            # after this starts a new lane.
                            self.lanes -= 1
                            ran.append("ended")
                            return
                        cond.wait(_LINGER)
                finally:
                    self.waiting -= 1
                batch, callback = self.queue.popleft()
                self.in_flight += 1
            try:
                out = _run_batch(batch)
                if isinstance(out, _Failure):
                    self.abort()
                callback(out)  # joblib dispatches its next batch from here
            finally:
                with cond:
                    self.in_flight -= 1
                    if self.in_flight == 0:
                        self.idle_since = time.monotonic()
                        cond.notify_all()

    def start_retrieval(self) -> None:
        pass


class _Waves(_QueuedRunner):
    """Processes: the batches dispatched so far run as one computation at a time."""

    def __init__(self, get: Callable, n: int) -> None:
        super().__init__(get, n)
        self.running = False
        self.first = True
        self.retrieving = False
        self.last_submit = time.monotonic()

    def submit(self, batch: Callable, callback: Callable) -> None:
        with self.cond:
            if self.stopped:
                return
            self.queue.append((batch, callback))
            self.last_submit = time.monotonic()
            self.cond.notify_all()
            start = not self.running
            self.running = True
        if start:
            threading.Thread(target=self._drive, name="taskloom-joblib", daemon=True).start()

    def start_retrieval(self) -> None:
        with self.cond:
            self.retrieving = True
            self.cond.notify_all()

    def _next_wave(self) -> list | None:
        cond = self.cond
        with cond:
            since = time.monotonic()
            while not self.queue:
                if self.stopped or time.monotonic() - since > _LINGER:
                    self.running = False
                    return None
                cond.wait(_LINGER)
            if self.first:
                # joblib dispatches its first batches one by one from the caller's
                # thread: gather them into the first wave rather than run one alone.
                self.first = False
                while not (self.retrieving or self.stopped):
                    left = _GATHER - (time.monotonic() - self.last_submit)
                    if left <= 0:
                        break
                    cond.wait(left)
            if self.stopped:
                self.running = False
                return None
            wave = list(self.queue)
            self.queue.clear()
            return wave

    def _drive(self) -> None:
        while True:
            wave = self._next_wave()
            if wave is None:
                return
            name = f"joblib-batch-{_core.unique_token()}"
            dsk = {(name, i): (_run_batch_in_wave, i, b) for i, (b, _) in enumerate(wave)}
            try:
                results = self.get(dsk, list(dsk), num_workers=self.n)
            except _BatchError as e:
                self.abort()
                wave[e.index][1](e.failure)
                continue
            except BaseException as e:  # taskloom failing (a worker died, pickling)
                self.abort()
                wave[0][1](_failure(e))
                continue
            for (_, callback), out in zip(wave, results, strict=True):
                callback(out)  # joblib dispatches the next wave's batches from here


class _Cluster:
    """A ``distributed.Client``: one future per batch, shared large arguments scattered."""

    def __init__(self, backend: TaskloomBackend) -> None:
        self.backend = backend
        self.client = backend.client
        self.lock = threading.Lock()
        self.futures: set = set()
        self.scattered: dict[int, tuple[Any, Any]] = {}  # id -> (object, future)
        self.stopped = False

    def _arg(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
            if not isinstance(value, (str, bytes)) or len(value) < 1024:
                return value
        key = id(value)
        hit = self.backend._prescattered.get(key) or self.scattered.get(key)
        if hit is not None and hit[0] is value:
            return hit[1]
        from dask.sizeof import sizeof

        if sizeof(value) < self.backend.scatter_threshold:
            return value
        [future] = self.client.scatter([value], hash=False)
        # The object is kept with its future, so its id is not reused meanwhile.
        self.scattered[key] = (value, future)
        return future

    def submit(self, batch: Any, callback: Callable) -> None:
        with self.lock:
            if self.stopped:
                return
            items = [
                (func, [self._arg(a) for a in args], {k: self._arg(v) for k, v in kwargs.items()})
                for func, args, kwargs in batch.items
            ]
            nested = (batch._backend, batch._n_jobs)
            key = f"joblib-batch-{_funcname(items)}-{uuid.uuid4().hex}"
            future = self.client.submit(_run_items, items, nested, key=key, pure=False)
            self.futures.add(future)
        future.add_done_callback(lambda f: self._done(f, callback))

    def _done(self, future: Any, callback: Callable) -> None:
        with self.lock:
            self.futures.discard(future)
            if self.stopped:
                return
        if future.status == "finished":
            out = future.result()
        elif future.status == "error":
            error = future.exception()
            error.__traceback__ = future.traceback()
            out = _failure(error)
        else:  # cancelled: by an abort, or the cluster lost it
            out = _failure(RuntimeError(f"the cluster cancelled task {future.key!r}"))
        if isinstance(out, _Failure):
            self.abort()
        callback(out)

    def start_retrieval(self) -> None:
        pass

    def abort(self) -> None:
        with self.lock:
            self.stopped = True
            futures = list(self.futures)
            self.futures.clear()
        if futures:
            self.client.cancel(futures)

    def stop(self) -> None:
        self.abort()
        with self.lock:
            self.scattered.clear()


def _funcname(items: list) -> str:
    try:
        f = items[0][0]
        return getattr(f, "__name__", type(f).__name__)
    except Exception:
        return "batch"


# --- the backend ----------------------------------------------------------------------


def _is_client(x: Any) -> bool:
    import sys

    distributed = sys.modules.get("distributed")
    return distributed is not None and isinstance(x, distributed.Client)


def _resolve(scheduler: Any) -> tuple[str, Any]:
    """``(kind, get or client)`` for a ``scheduler=`` argument or setting."""
    from taskloom import base, config

    if scheduler is None:
        scheduler = config.get("scheduler", None)
    if scheduler is None:
        return "threads", threaded.get
    if _is_client(scheduler):
        return "cluster", scheduler
    if isinstance(scheduler, str) and scheduler.lower() in ("distributed", "dask.distributed"):
        from distributed import get_client

        return "cluster", get_client()
    try:
        get = base.taskloom_equivalent(base.get_scheduler(scheduler))
    except ValueError as e:
        raise ValueError(f"the 'taskloom' joblib backend: {e}") from None
    kinds = {threaded.get: "threads", multiprocessing.get: "processes", local.get_sync: "sync"}
    kind = kinds.get(get)
    if kind is None:
        if _is_client(getattr(get, "__self__", None)):
            return "cluster", get.__self__
        raise ValueError(
            "the 'taskloom' joblib backend runs on 'threads', 'processes', 'sync' or a "
            f"distributed.Client, not scheduler={scheduler!r}"
        )
    return kind, get


class TaskloomBackend(AutoBatchingMixin, ParallelBackendBase):
    """joblib's parallel backend running batches as taskloom tasks (see the module notes).

    Parameters
    ----------
    scheduler : str, get function or distributed.Client, optional
        ``"threads"`` (default, or the ``scheduler`` setting), ``"processes"``,
        ``"sync"``, taskloom's (or Dask's) ``get`` functions, or a cluster client.
    num_workers : int, optional
        Threads or processes that ``n_jobs=-1`` means; default the ``num_workers``
        setting, else the CPU count. Not for a cluster (its workers decide).
    scatter : list, optional
        Cluster only: objects to send to every worker up front; calls that get one of
        them (by identity) get the worker's copy.
    scatter_threshold : int
        Cluster only: arguments at least this large (bytes, per ``dask.sizeof``) are
        scattered once per ``Parallel`` call. Default 100 000.
    **kwargs
        joblib's own backend arguments (``nesting_level``, ``inner_max_num_threads``).

    Examples
    --------
    >>> import joblib
    >>> from taskloom.joblib import TaskloomBackend
    >>> joblib.Parallel(n_jobs=2, backend=TaskloomBackend("threads"))(
    ...     joblib.delayed(pow)(x, 2) for x in range(4))
    [0, 1, 4, 9]
    """

    default_n_jobs = -1
    supports_retrieve_callback = True
    supports_timeout = True

    def __init__(
        self,
        scheduler: Any = None,
        num_workers: int | None = None,
        scatter: list | tuple | None = None,
        scatter_threshold: int = 100_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.kind, target = _resolve(scheduler)
        self.get: Callable | None = None if self.kind == "cluster" else target
        self.client = target if self.kind == "cluster" else None
        if num_workers is not None and self.kind == "cluster":
            raise ValueError("num_workers= is for threads and processes, not a cluster")
        self.num_workers = num_workers
        if self.kind != "cluster":
            resolve_num_workers(num_workers)  # a bad value fails here, not mid-call
        if not isinstance(scatter_threshold, int) or scatter_threshold < 0:
            raise ValueError(
                f"scatter_threshold must be a non-negative int, not {scatter_threshold!r}"
            )
        self.scatter_threshold = scatter_threshold
        if scatter is not None and not isinstance(scatter, (list, tuple)):
            raise TypeError(f"scatter must be a list or tuple, not {type(scatter).__name__}")
        if scatter and self.kind != "cluster":
            raise ValueError("scatter= needs a cluster (scheduler=distributed.Client)")
        self._prescattered: dict[int, tuple[Any, Any]] = {}
        if scatter:
            futures = self.client.scatter(list(scatter), broadcast=True, hash=False)
            self._prescattered = {id(x): (x, f) for x, f in zip(scatter, futures, strict=True)}
        threads = self.kind in ("threads", "sync")
        self.uses_threads = threads
        self.supports_sharedmem = threads
        if self.kind == "threads":
            self.MIN_IDEAL_BATCH_DURATION = 0.02
            self.MAX_IDEAL_BATCH_DURATION = 1.0
        elif self.kind == "cluster":
            self.MIN_IDEAL_BATCH_DURATION = 0.2
            self.MAX_IDEAL_BATCH_DURATION = 1.0
        self._runner: Any = None
        self.parallel: Any = None

    def __reduce__(self) -> tuple:
        # A backend travels (inside a batch) only as the nested backend, which is
        # never this one; keep pickling cheap and client-free anyway.
        return (SequentialBackend, ())

    def _total_workers(self) -> int:
        if self.kind == "cluster":
            return max(sum(self.client.ncores().values()), 1)
        return resolve_num_workers(self.num_workers)

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        """The number of batches run at once for ``n_jobs``.

        Examples
        --------
        >>> TaskloomBackend("threads", num_workers=4).effective_n_jobs(-1)
        4
        >>> TaskloomBackend("sync").effective_n_jobs(-1)
        1
        """
        if n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        if n_jobs is None:
            n_jobs = self.default_n_jobs
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int):
            raise ValueError(f"n_jobs must be an int, not {n_jobs!r}")
        if self.kind == "sync" or _in_batch():
            return 1
        if n_jobs < 0:
            return max(self._total_workers() + 1 + n_jobs, 1)
        return n_jobs

    def configure(self, n_jobs: int | None = 1, parallel: Any = None, **backend_kwargs: Any) -> int:
        """Prepare a ``Parallel`` call; one job falls back to joblib's sequential run."""
        n = self.effective_n_jobs(n_jobs)
        if n == 1:
            raise FallbackToBackend(SequentialBackend(nesting_level=self.nesting_level))
        self.parallel = parallel
        self._n = n
        return n

    def start_call(self) -> None:
        """Start a ``Parallel`` call: a fresh runner for its batches."""
        self._new_runner()
        _RUNNERS.add(self._runner)

    def _new_runner(self) -> None:
        if self.kind == "threads":
            self._runner = _Lanes(self.get, self._n)
        elif self.kind == "processes":
            # Never more processes than the pool has: resizing taskloom's shared pool
            # per call would start (and import into) new interpreters each time.
            self._runner = _Waves(self.get, min(self._n, self._total_workers()))
        else:
            self._runner = _Cluster(self)

    def stop_call(self) -> None:
        """End a ``Parallel`` call: idle lanes and waves end, scattered data is released."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.stop()

    def terminate(self) -> None:
        """Nothing to shut down: taskloom's pools outlive a call."""
        self.stop_call()
        self.reset_batch_stats()

    def submit(self, func: Callable, callback: Callable | None = None) -> Any:
        """Queue a batch; ``callback`` gets its outcome when it is done."""
        if self._runner is None:
            self.start_call()
        self._runner.submit(func, callback or (lambda out: None))
        return func

    # joblib before 1.5 calls apply_async where later versions call submit.
    apply_async = submit

    def retrieve_result_callback(self, out: Any) -> list:
        """A batch's results, or its error raised (traceback text as the cause)."""
        if isinstance(out, _Failure):
            out.reraise()
        return out

    def abort_everything(self, ensure_ready: bool = True) -> None:
        """Drop the batches not started (cluster: cancel them); see the module notes."""
        runner = self._runner
        if runner is not None:
            runner.abort()
        if ensure_ready and runner is not None:
            self.start_call()

    def get_nested_backend(self) -> tuple[ParallelBackendBase, int | None]:
        """Calls inside a batch run sequentially: the outer call has the workers."""
        level = (self.nesting_level or 0) + 1
        return SequentialBackend(nesting_level=level), None

    def retrieval_context(self) -> Any:
        """joblib starts waiting for results: the first wave of processes may start."""
        runner = self._runner
        if runner is not None:
            runner.start_retrieval()
        return super().retrieval_context()


def register() -> None:
    """Register the ``"taskloom"`` backend with joblib (done on import of this module).

    Examples
    --------
    >>> import joblib
    >>> from taskloom.joblib import register
    >>> register()
    >>> with joblib.parallel_config(backend="taskloom"):
    ...     joblib.Parallel(n_jobs=2)(joblib.delayed(len)(s) for s in ["a", "bb"])
    [1, 2]
    """
    joblib.register_parallel_backend("taskloom", TaskloomBackend)


register()
