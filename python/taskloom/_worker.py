"""A worker process of the processes scheduler (:mod:`taskloom.multiprocessing`).

Started as ``python -c "from taskloom._worker import main; main()" IN_FD OUT_FD`` by
the parent, so it never imports the user's ``__main__`` (no ``if __name__ ==
"__main__":`` guard is needed); functions defined in the user's script travel by
value with cloudpickle.

Messages are length-prefixed pickles on two pipes. The envelope holds only builtins
(plain pickle); user objects (tasks, keys, values) travel inside it as cloudpickle
bytes, unpickled where a failure can be reported for the job it belongs to. The main
thread runs jobs one at a time; a reader thread takes every message as it arrives, so
the parent can fetch a result held here (``fetch``) or release one (``release``)
while a long task runs. State: ``store``, the results this worker holds by task id (the
core's number for the task, unique within a computation; keys are not used, because a
key such as NaN does not equal its own unpickled copy), kept until the parent releases
them (the parent decides where each consumer runs, preferring the worker that already
holds its inputs) or clears them at the end of the computation; and ``_FUNCTIONS``,
the callables the parent sent once for the computation's later jobs to name by number
(see :func:`_define`), emptied by ``clear`` too.

From the parent: ``("init", sys_path, authkey)``; ``("run", job, payload, sent,
released)``, a batch of fused chains run in order, with ``payload`` the pickled list of
chains ``[(tasks, send back?), ...]``, ``tasks`` a fused chain of ``(task id, key,
task, [(dependency key, dependency id), ...])``, ``sent`` the pickled inputs by task id
(or None) and ``released`` the task ids to drop first; ``("fetch", request, task
ids)``, ``("release", task ids)``, ``("clear",)``, ``("call", fn)``, ``("config",
settings)`` (the caller's taskloom and Dask settings, which replace this process's
before the computation's jobs), ``("stop",)``. To the parent: ``("done", job,
{chain index: last result} or None)``, for the chains whose result was asked for and
those whose result is a small scalar (see :func:`_small`), pickled; ``("error", job,
key repr, *error)`` for the first task that failed (the batch's later chains are not
run); ``("values", request, {task id: value} or None, *error)``; ``("cleared",)`` once
the store is empty (the parent counts them: end of file before the last one means this
worker died before beginning anything the parent sent after). ``error`` is
``(exception, (class, args, __dict__), qualified type name, message, traceback
text)``, the first two as cloudpickle bytes or None (see :func:`error_payload`).

Policy:

- Every exception a task raises, ``SystemExit`` and ``KeyboardInterrupt`` included, is
  that task's error: it is reported and the worker keeps serving. A worker exits only
  on ``stop``, at end of file, or when killed.
- ``SIGINT`` is ignored by a no-op handler (not ``SIG_IGN``, which the task's own
  subprocesses would inherit): Ctrl-C in a terminal reaches the whole process group,
  and the parent, which gets it too, decides (it kills its workers). A
  ``KeyboardInterrupt`` a task raises itself is its error, as above.
- A task's argument is a reference to a dependency when it is of a key type and found
  in the dict of that task's dependency keys, by Python's dict rules (see
  :func:`execute`). The parent's core chose those keys; the worker does not re-decide
  by type beyond that.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import struct
import sys
import threading
import traceback
from typing import Any, NoReturn

_HEADER = struct.Struct("!Q")
# The types of argument that can name a key (subclasses included), as in Dask's
# ``convert_legacy_task``: anything else is a literal, even if it equals a key.
KEY_TYPES = (int, float, str, tuple)


def _read_exact(f: Any, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = f.read(n - got)
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_message(f: Any) -> Any:
    """One envelope from the binary file ``f``, or None at end of file.

    The parent reads unbuffered (``f`` may return short reads): a buffer could hold
    the next message where ``select`` cannot see it.
    """
    header = _read_exact(f, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    data = _read_exact(f, size)
    return None if data is None else pickle.loads(data)


def frame(message: tuple) -> bytes:
    """An envelope as sent: its length, then its pickle."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


_SMALL_TYPES = frozenset({int, float, complex, bool, type(None)})


def _small(value: Any) -> bool:
    """Whether a result is a scalar small and cheap enough to send back with the reply
    even when not asked for, sparing the parent a fetch if another worker needs it: a
    Python or NumPy number or boolean, None, or a str or bytes of at most 256 items."""
    t = type(value)
    if t in _SMALL_TYPES:
        return True
    if t is str or t is bytes:
        return len(value) <= 256
    np = sys.modules.get("numpy")
    return np is not None and isinstance(value, np.number | np.bool_)


class Ref:
    """A stand-in the parent puts in a task for a reference to a dependency whose key
    does not survive pickling (it contains NaN, or is of an unusual type).

    The same object replaces the key in the task's dependency list; pickle keeps the two
    one object, so :func:`execute` finds it by identity (the default ``==`` and hash).
    """

    __slots__ = ()


# Exact types whose values are never tasks or containers, and hash without user code.
_ATOMS = frozenset({int, float, complex, str, bytes, bool, type(None)})


def execute(task: Any, deps: dict) -> Any:
    """The value of a task in Dask's format, with the results of its dependencies.

    Parameters
    ----------
    task : object
        A task, a reference, a container of them, or a literal.
    deps : dict
        The task's dependencies, key to result: exactly the keys the core found.

    Returns
    -------
    object
        Calls made (``(func, *args)``), references replaced by their results, lists,
        tuples and sets rebuilt; anything else (dicts too) as it is.

    Notes
    -----
    An argument is a reference when it is of a key type (:data:`KEY_TYPES`, subclasses
    included) and ``arg in deps`` by Python's dict rules, as Dask reads ``arg in dsk``:
    ``True`` for key ``1``, ``5.0`` for key ``5``, an equal ``str`` subclass or
    namedtuple; ``numpy.int64(5)`` is not a key type, so a literal even where ``5`` is a
    dependency. Only ``TypeError`` from hashing means "unhashable, so a literal"; any
    other error is the task's. Tasks are recognised first, then references, then
    containers, as ``dask._task_spec.convert_legacy_task`` does. A :class:`Ref` is
    always a reference (the parent put it there).
    """
    t = type(task)
    if t is tuple and task and callable(task[0]):
        return task[0](*[execute(a, deps) for a in task[1:]])
    if deps:
        if t is str or t is int or t is float:  # the common keys: always hashable
            if task in deps:
                return deps[task]
        elif t is Ref:
            return deps[task]
        elif isinstance(task, KEY_TYPES):  # tuples, bool, subclasses (namedtuples...)
            try:
                if task in deps:
                    return deps[task]
            except TypeError:  # unhashable (a tuple holding a list): a literal
                pass
    if t is list or t is tuple or t is set or t is frozenset:
        if set(map(type, task)) <= _ATOMS and (not deps or deps.keys().isdisjoint(task)):
            # Only literals that are no dependency's key (a data partition): nothing to
            # walk. Hashing these exact builtin types runs no user code.
            return task if t is tuple or t is frozenset else t(task)
    if t is list:
        return [execute(a, deps) for a in task]
    if t is tuple:
        return tuple(execute(a, deps) for a in task)
    if t is set or t is frozenset:
        return t(execute(a, deps) for a in task)
    return task


def error_payload(e: BaseException, dumps: Any) -> tuple:
    """What the parent needs to raise ``e`` again, each part as far as it can travel.

    Returns
    -------
    tuple
        ``(exception, parts, type name, message, traceback text)``: ``exception`` is
        ``dumps(e)``; ``parts`` is ``dumps((type(e), e.args, e.__dict__))``, from which
        the parent rebuilds an exception whose constructor cannot take its own ``args``
        back (``E(a, b)`` pickles as ``E(message)``); either is None when it cannot be
        pickled. The type name is qualified (``module.Class``) for the last-resort error
        the parent raises when neither loads.
    """
    cls = type(e)
    text = "".join(traceback.format_exception(cls, e, e.__traceback__))
    name = cls.__qualname__
    if cls.__module__ != "builtins":
        name = f"{cls.__module__}.{name}"
    try:
        message = str(e)
    except Exception:  # a broken __str__ must not hide the error itself
        message = f"<{name} object: str() failed>"
    try:
        data = dumps(e)
    except Exception:
        data = None
    try:
        parts = dumps((cls, e.args, getattr(e, "__dict__", {})))
    except Exception:
        parts = None
    return data, parts, name, message, text


# The callables (functions, classes, callable objects) the parent sent in this
# computation, by the number it gave them: each is sent by value once per worker and
# computation (:func:`_define`), then named by its number (:func:`_lookup`). Used by
# the main thread only; emptied by ``clear``.
_FUNCTIONS: dict[int, Any] = {}


def _define(n: int, data: bytes) -> Any:
    """Unpickle callable number ``n`` and keep it for the computation's later jobs."""
    obj = _FUNCTIONS[n] = pickle.loads(data)
    return obj


def _lookup(n: int) -> Any:
    """Callable number ``n``, sent before in this computation (see :func:`_define`)."""
    return _FUNCTIONS[n]


class Worker:
    """The worker's state and its two threads (see the module documentation)."""

    def __init__(self, fd_in: int, fd_out: int) -> None:
        import cloudpickle

        self.dumps, self.loads = cloudpickle.dumps, cloudpickle.loads
        self.inp = os.fdopen(fd_in, "rb")
        self.out = os.fdopen(fd_out, "wb")
        self.write_lock = threading.Lock()
        self.store: dict[int, Any] = {}
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()

    def send(self, message: tuple) -> None:
        data = frame(message)
        with self.write_lock:
            try:
                self.out.write(data)
                self.out.flush()
            except BrokenPipeError:
                _parent_gone()

    def read_loop(self) -> None:
        """Answer fetches and releases at once; queue jobs for the main thread."""
        try:
            while True:
                msg = read_message(self.inp)
                kind = "stop" if msg is None else msg[0]
                if kind == "fetch":
                    self.send_values(msg[1], msg[2])
                elif kind == "release":
                    for t in msg[1]:
                        self.store.pop(t, None)
                elif kind == "init":
                    sys.path[:] = msg[1]  # before any payload names the user's modules
                    import multiprocessing

                    multiprocessing.current_process().authkey = msg[2]
                else:
                    self.jobs.put(msg or ("stop",))
                    if kind == "stop":
                        return
        except BaseException:
            # Without its reader the worker would hang the parent: exit, so it sees EOF.
            traceback.print_exc()
            os._exit(70)

    def send_values(self, request: int, ids: list[int]) -> None:
        try:
            values = self.dumps({t: self.store[t] for t in ids})
        except Exception as e:  # a value that cannot be pickled
            self.send(("values", request, None, *error_payload(e, self.dumps)))
            return
        self.send(("values", request, values))

    def run(self) -> None:
        threading.Thread(target=self.read_loop, name="taskloom-worker-reader", daemon=True).start()
        while True:
            msg = self.jobs.get()
            kind = msg[0]
            if kind == "stop":
                return
            if kind == "clear":
                self.store.clear()
                _FUNCTIONS.clear()
                self.send(("cleared",))
            elif kind == "config":
                self.apply_settings(self.loads(msg[1]))
            elif kind == "call":
                try:
                    self.loads(msg[1])()
                except BaseException:  # SystemExit too: the worker must keep serving
                    traceback.print_exc()  # an initializer's failure shows, as in a Pool
            elif kind == "run":
                self.run_job(*msg[1:])

    @staticmethod
    def apply_settings(settings: dict) -> None:
        """Make the caller's settings this process's, as a thread of the caller sees them."""
        from taskloom import config

        config.config.clear()
        config.config.update(settings["taskloom"])
        if "dask" in settings:
            import dask.config

            dask.config.config.clear()
            dask.config.config.update(settings["dask"])

    def run_job(self, job: int, payload: bytes, sent: bytes | None, released: list[int]) -> None:
        """Run a batch of fused chains in order; report the results asked for, or the
        first error (the chains after it are not run)."""
        store = self.store
        for t in released:
            store.pop(t, None)
        key, tid = None, None
        back: list[tuple[int, Any, Any]] = []  # (chain index, last task's id, its key)
        try:
            if sent is not None:
                store.update(self.loads(sent))
            chains = self.loads(payload)
            for i, (tasks, send_back) in enumerate(chains):
                for entry in tasks:
                    tid, key, task, deps = entry  # ``key`` names the task if it fails
                    store[tid] = execute(task, {k: store[d] for k, d in deps})
                for t, _, _, _ in tasks[:-1]:  # a fused chain's intermediates
                    del store[t]
                if send_back or _small(store[tid]):
                    back.append((i, tid, key))
        except BaseException as e:
            # SystemExit and KeyboardInterrupt too: they are this task's error, for the
            # caller to see, and the worker stays healthy for the next job.
            self.send(("error", job, repr(key), *error_payload(e, self.dumps)))
            return
        if not back:
            self.send(("done", job, None))
            return
        try:
            data = self.dumps({i: store[t] for i, t, _ in back})
        except Exception as together:
            for _, t, key in back:  # name the first result that cannot travel
                value = store[t]
                try:
                    self.dumps(value)
                except Exception as e:
                    store.pop(t, None)
                    err = TypeError(
                        f"the result of task {key!r}, of type {type(value).__name__}, cannot "
                        f"be pickled to send it back from the worker process: {e}"
                    )
                    self.send(("error", job, repr(key), *error_payload(err, self.dumps)))
                    return
            key = back[0][2]  # each pickles alone, not together: name the first
            self.send(("error", job, repr(key), *error_payload(together, self.dumps)))
            return
        self.send(("done", job, data))


def _parent_gone() -> NoReturn:
    """The parent closed its end (it stopped the pool, or exited): there is nobody to
    answer, so exit at once and quietly, after flushing what tasks printed."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(0)


def _ignore_sigint(signum: int, frame: Any) -> None:
    """Ctrl-C is the parent's to handle (see the module documentation)."""


def main() -> None:
    """The worker process's entry point: serve the parent until it says stop."""
    signal.signal(signal.SIGINT, _ignore_sigint)
    fd_in, fd_out = int(sys.argv[1]), int(sys.argv[2])
    Worker(fd_in, fd_out).run()
