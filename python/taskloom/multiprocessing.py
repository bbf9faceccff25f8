"""The processes scheduler: tasks run in a pool of worker processes, as ``dask.multiprocessing``.

For pure-Python work that holds the GIL. The Rust core converts, culls and orders the
graph and keeps the ready queue (``taskloom._core.Dispatcher``); this module sends
tasks to the workers and moves results. Policy:

- Selection: the next ready task in the core's depth-first priority order goes to the
  idle worker that already holds most of its inputs; a fused linear chain goes as one
  message and runs there start to end.
- Results stay in the worker that made them. The parent receives a result only when it
  is requested, or when a task on another worker needs it (fetched once, then sent
  from the parent to whichever worker needs it next). Workers answer fetches from a
  reader thread, so a long task does not block them. Results are named by the core's
  task id on the wire, never by key (a NaN key does not equal its unpickled copy).
- References: the core decides which keys a task depends on (an argument is a
  reference when it is an ``int``, ``float``, ``str`` or ``tuple``, subclasses
  included, and ``arg in dsk`` by the dict's rules, as in Dask); the worker treats such
  an argument as a reference exactly when it is in that set. For a dependency key that
  pickling cannot carry as an equal value (one holding NaN, which only identity
  matches, or of an unusual type), the parent replaces the references in the task by
  a marker (``taskloom._worker.Ref``) before sending it.
- Release: when no remaining task reads a result, every copy (parent and workers) is
  dropped; at the end of a computation, workers forget everything of it.
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
  arrives as :class:`RemoteError` naming it. A worker that dies while running a task
  is an error naming the task, and is replaced. A worker that died between
  computations is replaced without an error, its job run by the new one: found dead
  when a computation starts, or dying before it confirmed the previous computation's
  ``clear`` (workers run messages in order, so it began nothing of this one), or
  failing a message before it holds anything of this computation. Nothing waits for
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
import itertools
import multiprocessing
import os
import select
import signal
import subprocess
import sys
import threading
import weakref
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from taskloom import _core, config
from taskloom._errors import add_note
from taskloom._graph import num_workers as resolve_num_workers
from taskloom._graph import prepare
from taskloom._worker import KEY_TYPES, Ref, execute, frame, read_message
from taskloom.callbacks import Callback

__all__ = ["RemoteError", "WorkerDied", "get"]


def _pickle() -> tuple[Callable, Callable]:
    import cloudpickle

    return cloudpickle.dumps, cloudpickle.loads


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
        return all(map(_plain_key, k))
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
    ) -> None:
        self.dsk, self.pool, self.procs, self.setup = dsk, pool, procs, setup
        self.dumps, self.loads = dumps, loads
        self.disp = _core.Dispatcher(dsk, keys, fuse)
        self.outputs = set(self.disp.outputs())
        self.here: dict[int, Any] = {}  # results the parent holds, by task id
        self.holders: dict[int, set[int]] = defaultdict(set)  # task id -> workers
        # worker -> (job, chain, inputs sent along (the worker holds them once it ran),
        # the message, to send again to a replacement)
        self.running: dict[int, tuple[int, list[int], list[int], tuple]] = {}
        self.idle = list(range(len(procs)))
        self.dead: int | None = None  # a worker that died, to replace
        self.failed: BaseException | None = None  # a task's error, being raised
        self.hooks = hooks
        self.state = _State(len(self.disp))

    # -- talking to workers --
    def send(self, w: int, message: tuple) -> None:
        try:
            self.procs[w].send(message)
        except (OSError, ValueError):
            raise self.lost(w) from None

    def renew(self, w: int) -> None:
        """A new process in place of worker ``w``, which died holding nothing of this
        computation and before starting any of its jobs: nothing is lost."""
        self.procs[w] = self.pool.replace(self.procs[w])
        for message in self.setup:  # the initializer
            self.send(w, message)
        if w in self.running:
            self.send(w, self.running[w][3])

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
        if t in self.here:
            return self.here[t]
        w = next(iter(self.holders[t]))
        request = next(_IDS)
        self.send(w, ("fetch", request, [t]))
        while True:
            msg = self.recv(w)
            if msg[0] == "values" and msg[1] == request:
                break
            self.handle(w, msg)  # a job of that worker finished meanwhile
        if msg[2] is None:  # the worker could not pickle it
            raise _remote_error(repr(self.disp.key(t)), *msg[3:], loads=self.loads)
        self.here[t] = value = self.loads(msg[2])[t]
        return value

    def release(self, released: list[int]) -> None:
        per_worker: dict[int, list[int]] = defaultdict(list)
        for t in released:
            self.here.pop(t, None)
            for w in self.holders.pop(t, ()):
                per_worker[w].append(t)
        for w, ts in per_worker.items():
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

    def start(self, t: int) -> None:
        chain = self.chain_of(t)
        deps = self.disp.dependencies(t)
        w = max(self.idle, key=lambda w: sum(w in self.holders[d] for d in deps))
        self.idle.remove(w)
        sent, sent_ids = {}, []
        for d in deps:
            if w not in self.holders[d]:
                sent[d] = self.fetch(d)
                sent_ids.append(d)
        tasks = []
        for c in chain:
            key = self.disp.key(c)
            task = self.dsk[key]
            dep_ids = self.disp.dependencies(c)
            dep_keys = [self.disp.key(d) for d in dep_ids]
            if not all(map(_plain_key, dep_keys)):
                task, dep_keys = _pin(task, dep_keys)
            tasks.append((c, key, task, list(zip(dep_keys, dep_ids, strict=True))))
            if self.hooks.get("pretask"):
                self.hooks["pretask"](key)
        last = chain[-1]
        job = next(_IDS)
        try:
            payload = self.dumps((tasks, sent, True, last in self.outputs))
        except Exception as e:
            raise self.pickling_error(tasks, sent, e) from e
        message = ("run", job, payload)
        self.running[w] = (job, chain, sent_ids, message)
        try:
            self.procs[w].send(message)
        except (OSError, ValueError):
            if any(w in ws for ws in self.holders.values()):
                raise self.lost(w) from None
            # It died before this job reached it, holding nothing of this computation
            # (so ``sent`` has all the inputs): a new worker takes the job, no error.
            self.renew(w)

    def pickling_error(self, tasks: list, sent: dict, e: Exception) -> TypeError:
        """Which task, or which result moving between workers, could not be pickled."""
        for _, key, task, _ in tasks:
            if not _picklable(task, self.dumps):
                part = _unpicklable_part(task, self.dumps)
                return TypeError(
                    f"task {key!r} cannot be sent to a worker process: its "
                    f"{type(part).__name__} argument cannot be pickled ({e})"
                )
        bad = next((t for t, v in sent.items() if not _picklable(v, self.dumps)), None)
        bad_key = None if bad is None else self.disp.key(bad)
        return TypeError(
            f"the result of task {bad_key!r} cannot be sent to another worker process: {e}"
        )

    def complete(
        self, chain: list[int], value: Any, worker: int | None, sent: list[int] = ()
    ) -> None:
        last = chain[-1]
        for d in sent:  # stored there by now, so fetches and releases find them
            self.holders[d].add(worker)
        if worker is not None:
            self.holders[last].add(worker)
        if worker is None or last in self.outputs:
            self.here[last] = value
        for t in chain:
            _, released = self.disp.finish(t)  # chain members: known already
            self.state.finished += 1
            if self.hooks.get("posttask"):
                self.hooks["posttask"](
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
            keys = [repr(self.disp.key(t)) for t in job[1]]
            what = f"key {keys[0]}" if len(keys) == 1 else f"keys {', '.join(keys)} (one chain)"
            raise WorkerDied(f"{e} while computing {what}") from None

    def handle(self, w: int, msg: tuple) -> None:
        kind = msg[0]
        entry = self.running.get(w)
        if kind not in ("done", "error") or entry is None or msg[1] != entry[0]:
            return  # a late reply to an interrupted computation, "cleared", "renewed"
        _, chain, sent, _ = self.running.pop(w)
        self.idle.append(w)
        if kind == "done":
            value = None
            if msg[2] is not None:
                try:
                    value = self.loads(msg[2])
                except Exception as e:
                    key = self.disp.key(chain[-1])
                    raise TypeError(
                        f"the result of task {key!r} came back from the worker process "
                        f"but cannot be unpickled here: {e}"
                    ) from e
            self.complete(chain, value, w, sent)
        else:
            self.failed = _remote_error(*msg[2:], loads=self.loads)
            raise self.failed

    def loop(self) -> Any:
        waiting: list[int] = []  # popped, waiting for a worker
        while not self.disp.is_done():
            while True:
                t = waiting.pop() if waiting else self.disp.pop()
                if t is None:
                    break
                if self.run_in_parent(t):
                    continue
                if not self.idle:
                    waiting.append(t)
                    break
                self.start(t)
            if self.disp.is_done():
                break
            if not self.running:
                raise RuntimeError("taskloom internal error: nothing runs and nothing is ready")
            by_fd = {self.procs[w].fileno: w for w in self.running}
            readable, _, _ = select.select(list(by_fd), [], [])
            for fd in readable:
                w = by_fd[fd]
                if w in self.running:  # not already handled during a fetch
                    self.handle(w, self.recv(w))
        return self.disp.gather({t: self.fetch(t) for t in self.outputs})

    def drain(self) -> None:
        """After a failure: wait for the other workers' jobs, then forget them."""
        for w, (job, *_) in list(self.running.items()):
            try:
                while True:
                    msg = self.procs[w].recv()
                    if msg[0] in ("done", "error") and msg[1] == job:
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
        Accepted for compatibility with Dask; fused chains are batched instead.
    cache : dict, optional
        Results known in advance, by key.
    callbacks : list of taskloom.callbacks.Callback, optional
        Callbacks for this computation; ``posttask`` gets the result only when it came
        back to the parent (else None: results stay in the workers).

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
        For ``pool=`` or a ``num_workers`` that is not an integer from 1 to ``2**16``.
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
    dumps, loads = _pickle()
    dumps, loads = func_dumps or dumps, func_loads or loads
    active = list(Callback.active) + [c for c in callbacks or () if c not in Callback.active]
    args = (num_workers, initializer, dsk, keys, optimize_graph, dumps, loads, active)
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
    return _compute(pool, dsk, keys, procs, setup, fuse, dumps, loads, active)


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
) -> Any:
    for cb in active:
        if getattr(cb, "_start", None):
            cb._start(dsk)
    hooks: dict = {}
    run = None
    errored = True
    try:
        run = _Run(dsk, keys, pool, procs, setup, fuse, dumps, loads, hooks)
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
