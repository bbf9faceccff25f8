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
  reader thread, so a long task does not block them.
- Release: when no remaining task reads a result, every copy (parent and workers) is
  dropped; at the end of a computation, workers forget everything of it.
- Tasks without a function at their root (literals, aliases, containers of keys) are
  evaluated in the parent when their inputs are there, instead of paying a round trip.
- Failures: a task's exception reaches the caller with its type and message, the
  worker's traceback text attached as a note; a worker that dies is an error naming
  the task it ran, and is replaced; Ctrl-C stops the workers and the pool restarts
  on the next computation.

Workers are started once (a fresh ``python`` running ``taskloom._worker``, so the user's
script is never
re-imported: no ``if __name__ == "__main__":`` guard is needed) and reused; functions,
arguments and results travel with cloudpickle, so lambdas and closures work. The
transport uses POSIX pipes: Linux and macOS; on Windows, use threads or a cluster.

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
import os
import select
import signal
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from taskloom import _core
from taskloom._graph import num_workers as resolve_num_workers
from taskloom._graph import prepare
from taskloom._worker import execute, frame, read_message
from taskloom.callbacks import Callback
from taskloom.core import istask

__all__ = ["WorkerDied", "get"]


def _pickle() -> tuple[Callable, Callable]:
    import cloudpickle

    return cloudpickle.dumps, cloudpickle.loads


# Not ``-m taskloom._worker``: importing the package first imports that module too.
_WORKER_MAIN = "from taskloom._worker import main; main()"


class WorkerDied(RuntimeError):
    """A worker process exited while it ran a task."""


class _Proc:
    """One worker process and the parent's ends of its pipes."""

    def __init__(self, sys_path: list[str]) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        self.popen = subprocess.Popen(
            [sys.executable, "-c", _WORKER_MAIN, str(to_child_r), str(from_child_w)],
            pass_fds=(to_child_r, from_child_w),
            close_fds=True,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.w = os.fdopen(to_child_w, "wb")
        self.r = os.fdopen(from_child_r, "rb", buffering=0)  # select() sees all there is
        self.fileno = from_child_r
        self.send(("init", sys_path))

    def send(self, message: tuple) -> None:
        self.w.write(frame(message))
        self.w.flush()

    def recv(self) -> Any:
        msg = read_message(self.r)
        if msg is None:
            raise WorkerDied(self.describe_exit())
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

    def stop(self, kill: bool = False) -> None:
        try:
            if kill:
                self.popen.kill()
            else:
                self.send(("stop",))
        except (OSError, ValueError):
            pass
        for f in (self.w, self.r):
            try:
                f.close()
            except OSError:
                pass
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


class _Pool:
    """The worker processes, started once and reused; one computation at a time."""

    def __init__(self) -> None:
        self.procs: list[_Proc] = []
        self.lock = threading.Lock()

    def ensure(self, n: int) -> list[_Proc]:
        self.procs = [p for p in self.procs if p.alive()]
        while len(self.procs) < n:
            self.procs.append(_Proc(list(sys.path)))
        while len(self.procs) > n:
            self.procs.pop().stop()
        return list(self.procs)

    def replace(self, proc: _Proc) -> None:
        proc.stop(kill=True)
        if proc in self.procs:
            self.procs[self.procs.index(proc)] = _Proc(list(sys.path))

    def shutdown(self, kill: bool = False) -> None:
        for p in self.procs:
            p.stop(kill=kill)
        self.procs = []


_POOL = _Pool()
# Job and request ids, unique across computations: a late reply to an interrupted
# computation can never be taken for one of the current one.
_IDS = itertools.count()
atexit.register(_POOL.shutdown)
if hasattr(os, "register_at_fork"):
    # A forked child must not talk to its parent's workers.
    os.register_at_fork(after_in_child=lambda: setattr(_POOL, "procs", []))


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


def _remote_error(
    key: str, data: bytes | None, name: str, message: str, text: str, loads: Callable
) -> BaseException:
    """The exception a worker reported (``key`` is the task key's repr)."""
    exc: BaseException | None = None
    if data is not None:
        try:
            exc = loads(data)
        except Exception:
            exc = None
    if not isinstance(exc, BaseException):
        exc = RuntimeError(f"{name}: {message}")
    exc.add_note(f"taskloom: raised while computing key {key} in a worker process")
    exc.add_note("Traceback in the worker process:\n" + text.rstrip())
    return exc


class _Run:
    """One computation on the pool: the parent's side of the protocol."""

    def __init__(
        self,
        dsk: Mapping,
        keys: Any,
        procs: list[_Proc],
        fuse: bool,
        dumps: Callable,
        loads: Callable,
        hooks: dict,
    ) -> None:
        self.dsk, self.procs, self.dumps, self.loads = dsk, procs, dumps, loads
        self.disp = _core.Dispatcher(dsk, keys, fuse)
        self.outputs = set(self.disp.outputs())
        self.here: dict[int, Any] = {}  # results the parent holds, by task id
        self.holders: dict[int, set[int]] = defaultdict(set)  # task id -> workers
        # worker -> (job, chain, inputs sent along; the worker holds them once it ran)
        self.running: dict[int, tuple[int, list[int], list[int]]] = {}
        self.idle = list(range(len(procs)))
        self.dead: int | None = None  # a worker that died, to replace
        self.hooks = hooks
        self.state = _State(len(self.disp))

    # -- moving results --
    def fetch(self, t: int) -> Any:
        """Bring the result of task ``t`` to the parent (from a worker holding it)."""
        if t in self.here:
            return self.here[t]
        w = next(iter(self.holders[t]))
        request = next(_IDS)
        key = self.disp.key(t)
        self.procs[w].send(("fetch", request, self.dumps([key])))
        while True:
            msg = self.recv(w)
            if msg[0] == "values" and msg[1] == request:
                break
            self.handle(w, msg)  # a job of that worker finished meanwhile
        if msg[2] is None:  # the worker could not pickle it
            raise _remote_error(repr(key), *msg[3:], loads=self.loads)
        self.here[t] = value = self.loads(msg[2])[key]
        return value

    def release(self, released: list[int]) -> None:
        per_worker: dict[int, list] = defaultdict(list)
        for t in released:
            self.here.pop(t, None)
            for w in self.holders.pop(t, ()):
                per_worker[w].append(self.disp.key(t))
        for w, keys in per_worker.items():
            self.procs[w].send(("release", self.dumps(keys)))

    # -- running --
    def chain_of(self, t: int) -> list[int]:
        chain = [t]
        while (c := self.disp.continuation(chain[-1])) is not None:
            chain.append(c)
        return chain

    def run_in_parent(self, t: int) -> bool:
        """Evaluate a task without a function at its root here, if its inputs are."""
        key = self.disp.key(t)
        task = self.dsk[key]
        if istask(task) or self.disp.continuation(t) is not None:
            return False
        deps = self.disp.dependencies(t)
        if any(d not in self.here for d in deps):
            return False
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
                sent[self.disp.key(d)] = self.fetch(d)
                sent_ids.append(d)
        tasks = []
        for c in chain:
            key = self.disp.key(c)
            dep_keys = [self.disp.key(d) for d in self.disp.dependencies(c)]
            tasks.append((key, self.dsk[key], dep_keys))
            if self.hooks.get("pretask"):
                self.hooks["pretask"](key)
        last = chain[-1]
        job = next(_IDS)
        try:
            payload = self.dumps((tasks, sent, True, last in self.outputs))
        except Exception as e:
            raise self.pickling_error(tasks, sent, e) from e
        self.procs[w].send(("run", job, payload))
        self.running[w] = (job, chain, sent_ids)

    def pickling_error(self, tasks: list, sent: dict, e: Exception) -> TypeError:
        """Which task, or which result moving between workers, could not be pickled."""
        for key, task, _ in tasks:
            if not _picklable(task, self.dumps):
                part = _unpicklable_part(task, self.dumps)
                return TypeError(
                    f"task {key!r} cannot be sent to a worker process: its "
                    f"{type(part).__name__} argument cannot be pickled ({e})"
                )
        bad = next((k for k, v in sent.items() if not _picklable(v, self.dumps)), None)
        return TypeError(
            f"the result of task {bad!r} cannot be sent to another worker process: {e}"
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
        if kind == "values" or entry is None or msg[1] != entry[0]:
            return  # a late reply to an interrupted computation
        _, chain, sent = self.running.pop(w)
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
        elif kind == "error":
            raise _remote_error(*msg[2:], loads=self.loads)
        else:
            raise RuntimeError(f"taskloom internal error: unexpected reply {kind!r}")

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
                _POOL.replace(self.procs[w])
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
        Worker processes; defaults to the ``num_workers`` setting, else the number of
        CPUs. The pool is started on first use and kept for later computations.
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
        A worker process exited (killed, crashed) while running a task; it is replaced.
    TypeError
        A task's arguments or result cannot be pickled; the message names the task.
    Exception
        Whatever a task raised, with the worker's traceback attached as a note.

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
    with _POOL.lock:
        procs = _POOL.ensure(num_workers)
        if initializer is not None:
            for p in procs:
                p.send(("call", dumps(initializer)))
        return _compute(dsk, keys, procs, optimize_graph, dumps, loads, active)


def _compute(
    dsk: Mapping,
    keys: Any,
    procs: list[_Proc],
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
        run = _Run(dsk, keys, procs, fuse, dumps, loads, hooks)
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
    except KeyboardInterrupt:
        _POOL.shutdown(kill=True)  # the next computation starts fresh workers
        raise
    except BaseException:
        if run is not None:
            if run.dead is not None:
                _POOL.replace(procs[run.dead])
            run.drain()
        raise
    finally:
        for p in _POOL.procs:
            try:
                p.send(("clear",))
            except (OSError, ValueError):
                _POOL.replace(p)
        for cb in active:
            if getattr(cb, "_finish", None):
                cb._finish(dsk, run.state if run else _State(0), errored)
