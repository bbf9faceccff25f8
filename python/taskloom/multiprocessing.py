"""The processes scheduler: tasks run in a pool of worker processes, as ``dask.multiprocessing``.

For pure-Python work that holds the GIL. The Rust core converts, culls and orders the
graph and keeps the ready queue (``taskloom._core.Dispatcher``); this module sends
tasks to the workers and moves results. Policy:

- Selection: the ready tasks, in the core's depth-first priority order, go to the idle
  workers, each to the one that already holds most of its inputs (among those whose
  batch is not full); a fused linear chain goes with its first task and runs there
  start to end.
- Batches: the chains for one worker go as one message; it runs them in order and
  answers once. A batch holds one chain until chains have been timed, then as many as
  make about 5 ms of work (at most 128, or ``chunksize``), the ready chains shared
  evenly among the idle workers: slow tasks still go one at a time, and quick ones do
  not pay a round trip each.
- Results stay in the worker that made them. The parent receives a result only when it
  is requested, when a task on another worker needs it (fetched once, one request to
  each worker holding some, then sent from the parent to whichever worker needs it
  next), or when it is a small scalar (a number, None, a str or bytes of at most 256
  items), which comes back with the reply anyway. Workers answer fetches from a
  reader thread, so a long task does not block them. Results are named by the core's
  task id on the wire, never by key (a NaN key does not equal its unpickled copy).
- Callables: one met again in a computation (a function, class or callable object,
  by identity) goes to each worker by value once, then by a number the worker keeps it
  under; workers forget them at the end of the computation, so a callable changed
  between computations is sent afresh. Within a computation, the tasks on one worker
  share its copy (as threads share the object), and a change made meanwhile (by a
  callback) need not reach a worker that has it. A callable used by one task only is
  pickled with it, as before, and never kept. Not with ``func_dumps``.
- References: the core decides which keys a task depends on (an argument is a
  reference when it is an ``int``, ``float``, ``str`` or ``tuple``, subclasses
  included, and ``arg in dsk`` by the dict's rules, as in Dask); the worker treats such
  an argument as a reference exactly when it is in that set. For a dependency key that
  pickling cannot carry as an equal value (one holding NaN, which only identity
  matches, or of an unusual type), the parent replaces the references in the task by
  a marker (``taskloom._worker.Ref``) before sending it.
- Release: when no remaining task reads a result, every copy is dropped: the parent's
  at once, a worker's with the next message to it (at the latest before the parent
  waits for replies); at the end of a computation, workers forget everything of it,
  and the parent drops its state of the computation, even when an error it raised is
  kept.
- Tasks with no call anywhere in them (literals, aliases, containers of keys) are
  evaluated in the parent when their inputs are there, instead of paying a round trip.
  User functions always run in a worker; user code that runs in the parent is only
  callbacks (and ``__hash__``/``__eq__`` of arguments).
- One computation at a time on the shared pool: ``get`` from other threads waits its
  turn. A ``get`` nested in a computation on the same thread (from a callback) runs on
  a temporary pool of its own, shut down when it returns: the shared pool's workers
  are busy with, and their stores full of, the outer computation.
- Failures: a task's exception reaches the caller with its type and message, the
  worker's traceback text attached as a note. ``SystemExit`` and ``KeyboardInterrupt``
  raised by a task are that task's error too (the caller gets them, as from Dask's
  processes scheduler) and the worker lives on; a task's KeyboardInterrupt is not
  taken for Ctrl-C, so the pool is kept. An exception that cannot be unpickled
  as it was pickled (a constructor with other arguments than its ``args``) is rebuilt
  from its class, ``args`` and ``__dict__``; one whose class cannot travel at all
  arrives as :class:`RemoteError` naming it. A task's error stops the rest of its
  batch. A worker that dies while running a task is an error naming the task (or the
  keys of its batch), and is replaced. A worker that died between
  computations is replaced without an error, its job run by the new one: found dead
  when a computation starts, or dying before it confirmed the previous computation's
  ``clear`` (workers run messages in order, so it began nothing of this one), or
  failing a message before it holds anything of this computation; the new one is sent
  the callables of its job by value. Nothing waits for
  those confirmations: they are read as they come. Ctrl-C stops the workers (they
  ignore SIGINT themselves, leaving it to the parent) and the pool restarts on the
  next computation.
- Fork: a child forked while this module is in use starts with an empty pool and a
  fresh lock. It closes its copies of the parent's pipes and never writes to them
  (they are unbuffered, so no half-sent message can be flushed from the child), so
  the parent's workers see nothing of the child.

Workers are started once (a fresh ``python`` running ``taskloom._worker``, so the user's
script is never re-imported: no ``if __name__ == "__main__":`` guard is needed) and
reused; functions, arguments and results travel with cloudpickle, so lambdas and
closures work. The transport uses POSIX pipes: Linux and macOS; on Windows, use
threads or a cluster.

Examples
--------
>>> from operator import add
>>> from taskloom.multiprocessing import get
>>> get({"a": 1, "b": (add, "a", 10), "c": (lambda x: x * 2, "b")}, "c", num_workers=2)
22
"""

from __future__ import annotations

import atexit
import io
import itertools
import multiprocessing
import os
import select
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from taskloom import _core, config
from taskloom._errors import add_note
from taskloom._graph import num_workers as resolve_num_workers
from taskloom._graph import prepare
from taskloom._worker import KEY_TYPES, Ref, _define, _lookup, execute, frame, read_message
from taskloom.annotations import priorities
from taskloom.callbacks import Callback

__all__ = ["RemoteError", "WorkerDied", "get"]


def _pickle() -> tuple[Callable, Callable]:
    import cloudpickle

    return cloudpickle.dumps, cloudpickle.loads


_MEMO_PICKLER: type | None = None


def _memo_pickler() -> type:
    """cloudpickle's Pickler, sending a callable used again once per worker and
    computation.

    A callable (function, class, callable object) met for the first time in a
    computation is pickled as usual, in the message. Met again (in another message),
    it goes by value, pickled on its own, with a number the worker keeps it under for
    the rest of the computation (``taskloom._worker._define``); from then on that
    worker gets only the number (``_lookup``). A callable used by one task only, such
    as a ``partial`` made for it, is thus never kept by a worker.

    ``seen`` (id -> object) holds every callable met in the computation; ``known``
    (id -> (number, object)) those the worker holds; ``new`` what this pickle adds, to
    be merged into ``known`` by the caller. The objects are kept so that their ids
    stay theirs.
    """
    global _MEMO_PICKLER
    if _MEMO_PICKLER is None:
        import cloudpickle

        class MemoPickler(cloudpickle.Pickler):
            def __init__(self, file: Any, seen: dict, known: dict) -> None:
                super().__init__(file, protocol=_PROTOCOL)
                self.seen, self.known, self.new = seen, known, {}

            def reducer_override(self, obj: Any) -> Any:
                # Called for functions, classes and other objects, not for the builtin
                # containers and atoms; ``_define`` and ``_lookup`` go by reference.
                if callable(obj) and obj is not _define and obj is not _lookup:
                    i = id(obj)
                    entry = self.known.get(i) or self.new.get(i)
                    if entry is not None:
                        return _lookup, (entry[0],)
                    if i not in self.seen:
                        self.seen[i] = obj
                        return super().reducer_override(obj)
                    data = cloudpickle.dumps(obj, protocol=_PROTOCOL)
                    self.new[i] = (n := next(_IDS), obj)
                    return _define, (n, data)
                return super().reducer_override(obj)

        _MEMO_PICKLER = MemoPickler
    return _MEMO_PICKLER


_PROTOCOL = 5
# Batches of fused chains: a message carries about this much work (seconds, by the
# chains' measured time) ...
_BATCH_SECONDS = 0.005
# ... and at most this many chains, unless ``chunksize`` says otherwise.
_BATCH_MAX = 128


# Not ``-m taskloom._worker``: importing the package first imports that module too.
_WORKER_MAIN = "from taskloom._worker import main; main()"


class WorkerDied(RuntimeError):
    """A worker process exited while it ran a task, or held results still needed."""


class RemoteError(RuntimeError):
    """A task's exception that could not be rebuilt in the parent process.

    Raised in its place when neither the exception nor its class, ``args`` and
    ``__dict__`` could be pickled in the worker and unpickled here (a class holding a
    lock, say).

    Parameters
    ----------
    type_name : str
        The exception's qualified type name (``module.Class``).
    message : str
        ``str()`` of the exception, in the worker.
    remote_traceback : str
        The worker's formatted traceback.

    Attributes
    ----------
    type_name, message, remote_traceback : str
        As given.
    """

    def __init__(self, type_name: str, message: str, remote_traceback: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name, self.message = type_name, message
        self.remote_traceback = remote_traceback

    def __reduce__(self) -> tuple:
        return type(self), (self.type_name, self.message, self.remote_traceback)


class _Proc:
    """One worker process and the parent's ends of its pipes."""

    def __init__(self, sys_path: list[str]) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self.popen = subprocess.Popen(
                [sys.executable, "-c", _WORKER_MAIN, str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w),
                close_fds=True,
            )
        except BaseException:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            raise
        os.close(to_child_r)
        os.close(from_child_w)
        # Both ends unbuffered: select() sees all there is to read, and a forked child
        # inherits no half-written buffer it could flush into the worker's pipe.
        self.w = os.fdopen(to_child_w, "wb", buffering=0)
        self.r = os.fdopen(from_child_r, "rb", buffering=0)
        self.fileno = from_child_r
        # "clear"s sent whose "cleared" reply has not been read. A worker runs its
        # messages in order, so while this is not 0 it has begun nothing sent after.
        self.unconfirmed = 0
        # The parent's multiprocessing authkey: tasks may carry its Manager proxies
        # and shared locks, which authenticate with it, as in a forked Pool worker.
        self.send(("init", sys_path, bytes(multiprocessing.current_process().authkey)))

    def send(self, message: tuple) -> None:
        """Write one message; OSError (BrokenPipeError) if the worker is gone."""
        data = memoryview(frame(message))
        while data:  # a raw write to a pipe may be partial
            data = data[self.w.write(data) :]

    def recv(self) -> Any:
        """The next message (counting ``cleared`` replies); WorkerDied at end of file."""
        msg = read_message(self.r)
        if msg is None:
            raise WorkerDied(self.describe_exit())
        if msg[0] == "cleared":
            self.unconfirmed -= 1
        return msg

    def describe_exit(self) -> str:
        try:
            code = self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return f"worker process {self.popen.pid} stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"worker process {self.popen.pid} was killed by {name}"
        return f"worker process {self.popen.pid} exited with code {code}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def collect(self) -> bool:
        """Read the replies to earlier ``clear``s that are there already, without
        waiting; False if the worker is gone (end of file)."""
        try:
            while self.unconfirmed and select.select([self.fileno], [], [], 0)[0]:
                self.recv()
        except (WorkerDied, OSError, ValueError):
            return False
        return True

    def close_pipes(self) -> None:
        for f in (self.w, self.r):
            try:
                f.close()
            except OSError:
                pass

    def stop(self, kill: bool = False) -> None:
        try:
            if kill:
                self.popen.kill()
            else:
                self.send(("stop",))
        except (OSError, ValueError):
            pass
        self.close_pipes()
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


class _Pool:
    """Worker processes, started once and reused; one computation at a time.

    ``lock`` is held for a whole computation; ``owner`` is the thread holding it, so
    that a ``get`` nested on that thread can tell (see :func:`get`).
    """

    def __init__(self) -> None:
        self.procs: list[_Proc] = []
        self.lock = threading.Lock()
        self.owner: int | None = None
        _POOLS.add(self)

    def ensure(self, n: int) -> list[_Proc]:
        """``n`` workers for a computation; those found dead are replaced.

        Nothing waits here for a worker to confirm the last ``clear``: one that dies
        before it does is replaced when that shows (see :meth:`_Run.recv`).
        """
        alive = []
        for p in self.procs:
            if p.collect() and p.alive():
                alive.append(p)
            else:
                p.stop(kill=True)
        self.procs = alive
        while len(self.procs) < n:
            self.procs.append(_Proc(list(sys.path)))
        while len(self.procs) > n:
            self.procs.pop().stop()
        return list(self.procs)

    def replace(self, proc: _Proc) -> _Proc:
        """Kill ``proc``; return the new worker that takes its place in the pool."""
        proc.stop(kill=True)
        new = _Proc(list(sys.path))
        if proc in self.procs:
            self.procs[self.procs.index(proc)] = new
        return new

    def clear(self) -> None:
        """End of a computation: every worker forgets it, and confirms (read later)."""
        for p in list(self.procs):
            try:
                p.send(("clear",))
                p.unconfirmed += 1
            except (OSError, ValueError):
                self.replace(p)

    def shutdown(self, kill: bool = False) -> None:
        for p in self.procs:
            p.stop(kill=kill)
        self.procs = []

    def abandon(self) -> None:
        """In a forked child: forget the parent's workers, without a word to them.

        Only the child's copies of the pipes are closed (the parent's stay open), and
        nothing is written or waited for: they are the parent's processes.
        """
        for p in self.procs:
            p.close_pipes()
        self.procs = []
        self.lock = threading.Lock()  # the parent's may be held by a thread not here
        self.owner = None


# Every pool alive, temporary ones included, for the fork handler.
_POOLS: weakref.WeakSet[_Pool] = weakref.WeakSet()
_POOL = _Pool()
# Job and request ids, unique across computations: a late reply to an interrupted
# computation can never be taken for one of the current one.
_IDS = itertools.count()
atexit.register(_POOL.shutdown)


def _after_fork_in_child() -> None:
    for pool in list(_POOLS):
        pool.abandon()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _State:
    """What callbacks' ``start_state`` receive: live ``total`` and ``finished`` counts."""

    __slots__ = ("finished", "total")

    def __init__(self, total: int) -> None:
        self.total, self.finished = total, 0


def _unpicklable_part(task: Any, dumps: Callable) -> Any:
    """The first piece of a task that cannot be pickled, for the error message."""
    parts = list(task) if isinstance(task, tuple | list | set | frozenset) else [task]
    for part in parts:
        try:
            dumps(part)
        except Exception:
            if part is task or not isinstance(part, tuple | list | set | frozenset):
                return part
            return _unpicklable_part(part, dumps)
    return task


def _load_exception(data: bytes | None, parts: bytes | None, loads: Callable) -> Any:
    """The worker's exception from its pickle, else rebuilt from its parts, else None."""
    if data is not None:
        try:
            exc = loads(data)
        except Exception:  # e.g. a constructor that does not take its own args back
            exc = None
        if isinstance(exc, BaseException):
            return _builtin_fields(exc)
    if parts is not None:
        try:
            cls, args, state = loads(parts)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                # What unpickling would do without calling the constructor.
                exc = cls.__new__(cls)
                exc.args = args
                exc.__dict__.update(state)
                return _builtin_fields(exc)
        except Exception:
            pass
    return None


def _builtin_fields(exc: BaseException) -> BaseException:
    """``exc`` with the fields its builtin base sets in ``__init__`` from ``args``
    (``SystemExit.code``, ``OSError.errno``, ``StopIteration.value``).

    An exception rebuilt without its constructor lacks them: by the parts above, and by
    tblib's reducer, which Dask installs for every exception class in any process that
    imports ``dask.multiprocessing`` (a worker does, to take the caller's Dask settings).
    """
    for klass in type(exc).__mro__:
        if klass.__module__ == "builtins" and "__init__" in vars(klass):
            if klass is not BaseException:
                try:
                    klass.__init__(exc, *exc.args)
                except Exception:  # args that do not fit the builtin's: leave it
                    pass
            break
    return exc


def _remote_error(
    key: str,
    data: bytes | None,
    parts: bytes | None,
    name: str,
    message: str,
    text: str,
    loads: Callable,
) -> BaseException:
    """The exception a worker reported (``key`` is the task key's repr)."""
    exc = _load_exception(data, parts, loads)
    if exc is None:
        exc = RemoteError(name, message, text)
    add_note(exc, f"taskloom: raised while computing key {key} in a worker process")
    add_note(exc, "Traceback in the worker process:\n" + text.rstrip())
    return exc


def _has_call(x: Any) -> bool:
    """Whether evaluating ``x`` calls a function (as :func:`~taskloom._worker.execute`
    would walk it)."""
    t = type(x)
    if t is tuple:
        return (bool(x) and callable(x[0])) or any(map(_has_call, x))
    if t is list or t is set or t is frozenset:
        return any(map(_has_call, x))
    return False


_PLAIN_KEY_TYPES = frozenset({str, int, bytes})


def _plain_key(k: Any) -> bool:
    """Whether an unpickled copy of key ``k`` equals ``k``, so a worker can match it."""
    t = type(k)
    if t in _PLAIN_KEY_TYPES:
        return True
    if t is tuple:
        for x in k:  # a Dask key is mostly (str, int, ...): no call for those
            tx = type(x)
            if tx is not str and tx is not int and not _plain_key(x):
                return False
        return True
    return t is float and k == k  # NaN equals nothing but itself, which pickling loses


def _pin(task: Any, dep_keys: list) -> tuple[Any, list]:
    """``task`` and ``dep_keys`` with a :class:`~taskloom._worker.Ref` in place of each
    key that is not plain, and of each reference to it in the task.

    The parent decides here, with the original objects (so a NaN key matches the very
    object and nothing else, as ``arg in dsk`` does); the worker then finds each
    marker by identity. It walks the task as ``execute`` does.
    """
    pinned = {k: Ref() for k in dep_keys if not _plain_key(k)}

    def walk(x: Any) -> Any:
        t = type(x)
        if t is tuple and x and callable(x[0]):
            return (x[0], *map(walk, x[1:]))
        try:
            if isinstance(x, KEY_TYPES) and x in pinned:
                return pinned[x]
        except TypeError:  # unhashable: not a reference
            pass
        if t is list:
            return list(map(walk, x))
        if t is tuple:
            return tuple(map(walk, x))
        if t is set or t is frozenset:
            return t(map(walk, x))
        return x

    return walk(task), [pinned.get(k, k) for k in dep_keys]


class _Job:
    """A batch of fused chains sent to one worker as one message."""

    __slots__ = ("chains", "id", "released", "sent", "sent_ids", "started", "tasks")

    def __init__(self, chains: list[list[int]], tasks: list, sent: dict, released: list) -> None:
        self.id = next(_IDS)
        self.chains = chains  # the task ids of each chain
        self.tasks = tasks  # what the worker runs: [(tasks, send back?) per chain]
        self.sent = sent  # inputs sent along (the worker holds them once it ran)
        self.sent_ids = list(sent)
        self.released = released  # results the worker can drop first
        self.started = time.perf_counter()

    def keys(self, disp: Any) -> list[str]:
        return [repr(disp.key(t)) for chain in self.chains for t in chain]


class _Run:
    """One computation on the pool: the parent's side of the protocol."""

    def __init__(
        self,
        dsk: Mapping,
        keys: Any,
        pool: _Pool,
        procs: list[_Proc],
        setup: list[tuple],
        fuse: bool,
        dumps: Callable,
        loads: Callable,
        hooks: dict,
        memo: bool = True,
        chunksize: int | None = None,
        priorities: dict | None = None,
    ) -> None:
        self.dsk, self.pool, self.procs, self.setup = dsk, pool, procs, setup
        self.dumps, self.loads = dumps, loads
        self.disp = _core.Dispatcher(dsk, keys, fuse, priorities)
        self.outputs = set(self.disp.outputs())
        self.here: dict[int, Any] = {}  # results the parent holds, by task id
        self.holders: dict[int, set[int]] = defaultdict(set)  # task id -> workers
        self.running: dict[int, _Job] = {}  # worker -> the batch it runs
        self.idle = list(range(len(procs)))
        self.dead: int | None = None  # a worker that died, to replace
        self.failed: BaseException | None = None  # a task's error, being raised
        self.hooks = hooks
        self.state = _State(len(self.disp))
        # Per worker, the callables it holds (see _memo_pickler); None: func_dumps given.
        self.memo: list[dict] | None = [{} for _ in procs] if memo else None
        self.seen: dict[int, Any] = {}  # every callable pickled, by id (_memo_pickler)
        # Per worker, results to drop, sent with its next message.
        self.to_release: list[list[int]] = [[] for _ in procs]
        self.max_batch = {None: _BATCH_MAX, -1: sys.maxsize}.get(chunksize, chunksize)
        self.chain_seconds: float | None = None  # a chain's time, as measured so far

    # -- talking to workers --
    def send(self, w: int, message: tuple) -> None:
        try:
            self.procs[w].send(message)
        except (OSError, ValueError):
            raise self.lost(w) from None

    def renew(self, w: int) -> None:
        """A new process in place of worker ``w``, which died holding nothing of this
        computation and before starting any of its jobs: nothing is lost. The new one
        holds no callables either: its job is pickled again."""
        self.procs[w] = self.pool.replace(self.procs[w])
        if self.memo is not None:
            self.memo[w] = {}
        self.to_release[w] = []
        for message in self.setup:  # the settings and the initializer
            self.send(w, message)
        job = self.running.get(w)
        if job is not None:
            job.released = []
            self.send(w, self.job_message(w, job))

    def lost(self, w: int) -> WorkerDied:
        """The error for worker ``w`` found dead while not running a task."""
        self.dead = w
        self.running.pop(w, None)  # a job it never received: nothing to wait for
        held = [repr(self.disp.key(t)) for t, ws in self.holders.items() if w in ws]
        what = f"; the results it held are lost (keys {', '.join(held)})" if held else ""
        return WorkerDied(self.procs[w].describe_exit() + what)

    # -- moving results --
    def fetch(self, t: int) -> Any:
        """Bring the result of task ``t`` to the parent (from a worker holding it)."""
        if t not in self.here:
            self.fetch_many([t])
        return self.here[t]

    def fetch_many(self, ts: list[int]) -> None:
        """Bring the results of tasks ``ts`` to the parent: one request to each worker
        holding some, all sent before any reply is awaited."""
        by_worker: dict[int, list[int]] = defaultdict(list)
        for t in ts:
            if t not in self.here:
                by_worker[next(iter(self.holders[t]))].append(t)
        requests = []
        for w, ids in by_worker.items():
            request = next(_IDS)
            self.send(w, ("fetch", request, ids))
            requests.append((w, request, ids))
        failed = None
        for w, request, ids in requests:
            while True:
                msg = self.recv(w)
                if msg[0] == "values" and msg[1] == request:
                    break
                self.handle(w, msg)  # a job of that worker finished meanwhile
            if msg[2] is None:  # the worker could not pickle one of them
                if failed is None:
                    failed = (ids, msg)
                continue
            self.here.update(self.loads(msg[2]))
        if failed is not None:
            ids, msg = failed
            if len(ids) > 1:  # which one: ask for each alone
                for t in ids:
                    self.fetch_many([t])
            raise _remote_error(repr(self.disp.key(ids[0])), *msg[3:], loads=self.loads)

    def release(self, released: list[int]) -> None:
        """Drop results no task reads any more: here now, in the workers with their next
        message (see :meth:`flush_releases`)."""
        for t in released:
            self.here.pop(t, None)
            for w in self.holders.pop(t, ()):
                self.to_release[w].append(t)

    def flush_releases(self) -> None:
        for w, ts in enumerate(self.to_release):
            if ts:
                self.to_release[w] = []
                try:
                    self.procs[w].send(("release", ts))
                except (OSError, ValueError):
                    pass  # dead: found when next needed, else replaced at the next start

    # -- running --
    def chain_of(self, t: int) -> list[int]:
        chain = [t]
        while (c := self.disp.continuation(chain[-1])) is not None:
            chain.append(c)
        return chain

    def run_in_parent(self, t: int) -> bool:
        """Evaluate a task without any call in it here, if its inputs are."""
        key = self.disp.key(t)
        task = self.dsk[key]
        if self.disp.continuation(t) is not None or _has_call(task):
            return False
        deps = self.disp.dependencies(t)
        if any(d not in self.here for d in deps):
            return False
        if self.hooks.get("pretask"):
            self.hooks["pretask"](key)
        value = execute(task, {self.disp.key(d): self.here[d] for d in deps})
        self.complete([t], value, worker=None)
        return True

    def batch_size(self) -> int:
        """How many chains one message may carry: 1 until chains are measured, then
        enough for about ``_BATCH_SECONDS`` of work, at most ``max_batch``."""
        if self.chain_seconds is None:
            return 1
        return max(1, min(self.max_batch, int(_BATCH_SECONDS / max(self.chain_seconds, 1e-6))))

    def dispatch(self) -> None:
        """Send the ready tasks to the idle workers, in batches of even size."""
        while self.idle:
            limit = len(self.idle) * self.batch_size()
            ready = []
            while len(ready) < limit:
                t = self.disp.pop()
                if t is None:
                    break
                if not self.run_in_parent(t):
                    ready.append(t)
            if not ready:
                return
            per = -(-len(ready) // len(self.idle))
            batches: dict[int, list[int]] = {w: [] for w in self.idle}
            room = list(self.idle)  # the workers whose batch is not full
            for t in ready:  # to the worker that holds most of its inputs, if it has room
                deps = self.disp.dependencies(t)
                if deps and len(room) > 1:
                    w = max(room, key=lambda w: sum(w in self.holders[d] for d in deps))
                else:
                    w = room[0]
                batch = batches[w]
                batch.append(t)
                if len(batch) == per:
                    room.remove(w)
            for w, ts in batches.items():
                if ts:
                    self.start(w, ts)

    def start(self, w: int, ts: list[int]) -> None:
        """Send ready tasks ``ts`` (each with its fused chain) to idle worker ``w``."""
        self.idle.remove(w)
        needed = []
        for t in ts:
            needed.extend(d for d in self.disp.dependencies(t) if w not in self.holders[d])
        needed = list(dict.fromkeys(needed))
        self.fetch_many(needed)
        sent = {d: self.here[d] for d in needed}
        chains, tasks = [], []
        pretask = self.hooks.get("pretask")
        for t in ts:
            chain = self.chain_of(t)
            entries = []
            for c in chain:
                key = self.disp.key(c)
                task = self.dsk[key]
                dep_ids = self.disp.dependencies(c)
                dep_keys = [self.disp.key(d) for d in dep_ids]
                if not all(map(_plain_key, dep_keys)):
                    task, dep_keys = _pin(task, dep_keys)
                entries.append((c, key, task, list(zip(dep_keys, dep_ids, strict=True))))
                if pretask:
                    pretask(key)
            chains.append(chain)
            tasks.append((entries, chain[-1] in self.outputs))
        job = _Job(chains, tasks, sent, self.to_release[w])
        self.to_release[w] = []
        message = self.job_message(w, job)
        self.running[w] = job
        try:
            self.procs[w].send(message)
        except (OSError, ValueError):
            if any(w in ws for ws in self.holders.values()):
                raise self.lost(w) from None
            # It died before this job reached it, holding nothing of this computation
            # (so ``sent`` has all the inputs): a new worker takes the job, no error.
            self.renew(w)

    def job_message(self, w: int, job: _Job) -> tuple:
        """The ``run`` message for ``job`` to worker ``w``; callables it holds already
        are sent by number (see :func:`_memo_pickler`)."""
        try:
            if self.memo is None:
                payload = self.dumps(job.tasks)
                new = None
            else:
                buffer = io.BytesIO()
                pickler = _memo_pickler()(buffer, self.seen, self.memo[w])
                pickler.dump(job.tasks)
                payload, new = buffer.getvalue(), pickler.new
            sent = self.dumps(job.sent) if job.sent else None
        except Exception as e:
            raise self.pickling_error(job, e) from e
        if new:  # taken as held: if the message does not arrive, the worker is renewed
            self.memo[w].update(new)
        return ("run", job.id, payload, sent, job.released)

    def pickling_error(self, job: _Job, e: Exception) -> TypeError:
        """Which task, or which result moving between workers, could not be pickled."""
        for entries, _ in job.tasks:
            for _, key, task, _ in entries:
                if not _picklable(task, self.dumps):
                    part = _unpicklable_part(task, self.dumps)
                    return TypeError(
                        f"task {key!r} cannot be sent to a worker process: its "
                        f"{type(part).__name__} argument cannot be pickled ({e})"
                    )
        sent = job.sent
        bad = next((t for t, v in sent.items() if not _picklable(v, self.dumps)), None)
        bad_key = None if bad is None else self.disp.key(bad)
        return TypeError(
            f"the result of task {bad_key!r} cannot be sent to another worker process: {e}"
        )

    def complete(
        self, chain: list[int], value: Any, worker: int | None, known: bool = True
    ) -> None:
        """Record a chain done; ``known``: ``value`` is its last task's result (else the
        result stays in ``worker`` and ``value`` is None)."""
        last = chain[-1]
        if worker is not None:
            self.holders[last].add(worker)
        if known:
            self.here[last] = value
        posttask = self.hooks.get("posttask")
        for t in chain:
            _, released = self.disp.finish(t)  # chain members: known already
            self.state.finished += 1
            if posttask:
                posttask(
                    self.disp.key(t),
                    value if t == last else None,
                    0 if worker is None else worker + 1,
                )
            self.release(released)

    def recv(self, w: int) -> tuple:
        try:
            return self.procs[w].recv()
        except WorkerDied as e:
            if self.procs[w].unconfirmed and w in self.running:
                # It died before confirming the previous computation's clear-up, so
                # before beginning its job here: a worker that died between
                # computations, not this job's fault. Run the job on a new one.
                self.renew(w)
                return ("renewed",)
            self.dead = w
            job = self.running.pop(w, None)
            if job is None:
                raise
            keys = job.keys(self.disp)
            if len(keys) == 1:
                what = f"key {keys[0]}"
            elif len(job.chains) == 1:
                what = f"keys {', '.join(keys)} (one chain)"
            else:
                shown = ", ".join(keys[:10]) + (", ..." if len(keys) > 10 else "")
                what = f"one of keys {shown} ({len(job.chains)} chains sent together)"
            raise WorkerDied(f"{e} while computing {what}") from None

    def handle(self, w: int, msg: tuple) -> None:
        kind = msg[0]
        job = self.running.get(w)
        if kind not in ("done", "error") or job is None or msg[1] != job.id:
            return  # a late reply to an interrupted computation, "cleared", "renewed"
        del self.running[w]
        self.idle.append(w)
        seconds = (time.perf_counter() - job.started) / len(job.chains)
        previous = self.chain_seconds
        self.chain_seconds = seconds if previous is None else 0.5 * (previous + seconds)
        if kind == "error":
            self.failed = _remote_error(*msg[2:], loads=self.loads)
            raise self.failed
        values = {}
        if msg[2] is not None:
            try:
                values = self.loads(msg[2])
            except Exception as e:
                keys = [self.disp.key(c[-1]) for c in job.chains if c[-1] in self.outputs]
                what = f"task {keys[0]!r}" if len(keys) == 1 else f"one of tasks {keys!r}"
                raise TypeError(
                    f"the result of {what} came back from the worker process "
                    f"but cannot be unpickled here: {e}"
                ) from e
        for d in job.sent_ids:  # stored there by now, so fetches and releases find them
            self.holders[d].add(w)
        for i, chain in enumerate(job.chains):
            self.complete(chain, values.get(i), w, i in values)

    def loop(self) -> Any:
        while not self.disp.is_done():
            self.dispatch()
            if self.disp.is_done():
                break
            if not self.running:
                raise RuntimeError("taskloom internal error: nothing runs and nothing is ready")
            self.flush_releases()
            by_fd = {self.procs[w].fileno: w for w in self.running}
            readable, _, _ = select.select(list(by_fd), [], [])
            for fd in readable:
                w = by_fd[fd]
                if w in self.running:  # not already handled during a fetch
                    self.handle(w, self.recv(w))
        self.fetch_many(list(self.outputs))
        return self.disp.gather({t: self.here[t] for t in self.outputs})

    def close(self) -> None:
        """Drop what the run holds, here and now: an error raised from it keeps it
        alive in its traceback (in a cycle, when the caller holds the error in a local
        variable), and the Dispatcher must be dropped on this thread, not by the
        garbage collector on another. Results and callables are not kept either."""
        self.disp = self.failed = None
        self.dsk, self.here, self.holders, self.running = {}, {}, {}, {}
        self.memo = self.seen = None

    def drain(self) -> None:
        """After a failure: wait for the other workers' jobs, then forget them."""
        for w, job in list(self.running.items()):
            try:
                while True:
                    msg = self.procs[w].recv()
                    if msg[0] in ("done", "error") and msg[1] == job.id:
                        break
            except WorkerDied:
                self.procs[w] = self.pool.replace(self.procs[w])
        self.running.clear()


def _picklable(value: Any, dumps: Callable) -> bool:
    try:
        dumps(value)
        return True
    except Exception:
        return False


def get(
    dsk: Mapping,
    keys: Hashable | list,
    num_workers: int | None = None,
    func_loads: Callable | None = None,
    func_dumps: Callable | None = None,
    optimize_graph: bool = True,
    pool: Any = None,
    initializer: Callable[[], Any] | None = None,
    chunksize: int | None = None,
    cache: Mapping | None = None,
    callbacks: list[Callback] | None = None,
    annotations: Mapping | None = None,
    **kwargs: Any,
) -> Any:
    """Compute ``keys`` from the task graph ``dsk`` in worker processes.

    Parameters
    ----------
    dsk : dict
        A Dask task graph (see :func:`taskloom.threaded.get`).
    keys : key or (nested) list of keys
        What to compute; the result has the same nesting, with tuples for lists.
    num_workers : int, optional
        Worker processes, at most ``2**16``; defaults to the ``num_workers`` setting,
        else the number of CPUs. The pool is started on first use and kept for later
        computations. A ``get`` called by a callback during another on the same thread
        runs on a temporary pool of this size, stopped when it returns.
    func_loads, func_dumps : callable, optional
        Replace cloudpickle's ``loads``/``dumps`` for messages to and from workers.
    optimize_graph : bool
        Send fused linear chains as one message (default).
    pool : None
        Accepted for compatibility; taskloom manages its own processes.
    initializer : callable, optional
        Called in every worker process before this computation's tasks.
    chunksize : int, optional
        The most chains one message to a worker may carry (see the module
        documentation; by default 128, fewer for slow chains); ``-1``: no limit.
    cache : dict, optional
        Results known in advance, by key.
    callbacks : list of taskloom.callbacks.Callback, optional
        Callbacks for this computation; ``posttask`` gets the result only when it came
        back to the parent (else None: results stay in the workers).
    annotations : mapping, optional
        Annotations by key (see :func:`taskloom.threaded.get`): ``priority`` orders
        the tasks that are ready, highest first.

    Returns
    -------
    The result of each requested key, in the shape of ``keys``.

    Raises
    ------
    WorkerDied
        A worker process exited (killed, crashed) while running a task, or while it
        held results still needed; it is replaced.
    TypeError
        A task's arguments or result cannot be pickled; the message names the task.
    ValueError
        For ``pool=``, a ``num_workers`` that is not an integer from 1 to ``2**16``, or
        a ``chunksize`` that is neither a positive integer nor ``-1``.
    RemoteError
        A task raised an exception that cannot be carried to this process; the error
        names its type and holds the worker's traceback.
    BaseException
        Whatever a task raised (``SystemExit`` and ``KeyboardInterrupt`` included),
        with the worker's traceback attached as a note.

    Examples
    --------
    >>> get({"x": 2, "y": (pow, "x", 10)}, ["y", "x"], num_workers=1)
    (1024, 2)
    """
    if pool is not None:
        raise ValueError(
            "taskloom manages its own worker processes; pass num_workers= instead of pool="
        )
    if os.name != "posix":
        raise RuntimeError(
            "the processes scheduler needs a POSIX system (Linux, macOS); "
            "use scheduler='threads' or a distributed Client"
        )
    num_workers = resolve_num_workers(num_workers)
    dsk = prepare(dsk, cache, kwargs, "get")
    if chunksize is not None and (
        not isinstance(chunksize, int)
        or isinstance(chunksize, bool)
        or chunksize < -1
        or chunksize == 0
    ):
        raise ValueError(f"chunksize must be a positive integer or -1, not {chunksize!r}")
    dumps, loads = _pickle()
    memo = func_dumps is None  # callables sent once per worker: with cloudpickle only
    dumps, loads = func_dumps or dumps, func_loads or loads
    active = list(Callback.active) + [c for c in callbacks or () if c not in Callback.active]
    options = (memo, chunksize, priorities(annotations))  # batching, priorities
    args = (num_workers, initializer, dsk, keys, optimize_graph, dumps, loads, active, options)
    me = threading.get_ident()
    if _POOL.owner == me:
        # Nested in a computation on this thread (a callback called ``get``): the shared
        # pool's lock is ours already and its workers are busy with the outer graph.
        # Run on a pool of our own; other threads never see it.
        temporary = _Pool()
        try:
            return _run(temporary, *args)
        finally:
            temporary.shutdown()
    with _POOL.lock:
        _POOL.owner = me
        try:
            return _run(_POOL, *args)
        finally:
            _POOL.owner = None


def _settings(dumps: Callable) -> bytes:
    """The caller's settings as tasks in the workers must see them: taskloom's, and
    Dask's when Dask is loaded (tasks of Dask's own graphs read it, e.g.
    ``temporary_directory``), as a thread would see them. Entries that cannot be
    pickled (a ``pool`` object) are left out."""
    settings = {"taskloom": config.config}
    dask_config = sys.modules.get("dask.config")
    if dask_config is not None:
        settings["dask"] = dask_config.config
    try:
        return dumps(settings)
    except Exception:
        kept = {
            name: {k: v for k, v in values.items() if _picklable(v, dumps)}
            for name, values in settings.items()
        }
        return dumps(kept)


def _run(
    pool: _Pool,
    num_workers: int,
    initializer: Callable[[], Any] | None,
    dsk: Mapping,
    keys: Any,
    fuse: bool,
    dumps: Callable,
    loads: Callable,
    active: list[Callback],
    options: tuple[bool, int | None, dict | None],
) -> Any:
    """One computation on ``pool``: the shared pool with its lock held by the caller, or
    a temporary pool only the caller knows."""
    procs = pool.ensure(num_workers)
    setup = [("config", _settings(dumps))]
    if initializer is not None:
        setup.append(("call", dumps(initializer)))
    for message in setup:
        for i, p in enumerate(procs):
            try:
                p.send(message)
            except (OSError, ValueError):  # died since ensure(): nothing of ours lost
                procs[i] = pool.replace(p)
                procs[i].send(message)
    return _compute(pool, dsk, keys, procs, setup, fuse, dumps, loads, active, options)


def _compute(
    pool: _Pool,
    dsk: Mapping,
    keys: Any,
    procs: list[_Proc],
    setup: list[tuple],
    fuse: bool,
    dumps: Callable,
    loads: Callable,
    active: list[Callback],
    options: tuple[bool, int | None, dict | None],
) -> Any:
    for cb in active:
        if getattr(cb, "_start", None):
            cb._start(dsk)
    hooks: dict = {}
    run = None
    errored = True
    try:
        run = _Run(dsk, keys, pool, procs, setup, fuse, dumps, loads, hooks, *options)
        state = run.state
        for cb in active:
            if getattr(cb, "_start_state", None):
                cb._start_state(dsk, state)
        pre = [cb._pretask for cb in active if getattr(cb, "_pretask", None)]
        post = [cb._posttask for cb in active if getattr(cb, "_posttask", None)]
        if pre:
            hooks["pretask"] = lambda key: [f(key, dsk, state) for f in pre]
        if post:
            hooks["posttask"] = lambda key, result, worker: [
                f(key, result, dsk, state, worker) for f in post
            ]
        result = run.loop()
        errored = False
        return result
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt) and (run is None or e is not run.failed):
            # Ctrl-C (not a task's own KeyboardInterrupt): stop now, whatever runs;
            # the next computation starts fresh workers.
            pool.shutdown(kill=True)
            raise
        if run is not None:
            if run.dead is not None:
                run.procs[run.dead] = pool.replace(run.procs[run.dead])
            try:
                run.drain()
            except KeyboardInterrupt:  # Ctrl-C while waiting for the other jobs
                pool.shutdown(kill=True)
                raise
        raise
    finally:
        pool.clear()
        for cb in active:
            if getattr(cb, "_finish", None):
                cb._finish(dsk, run.state if run else _State(0), errored)
        if run is not None:
            run.close()
