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
while a long task runs. State: ``store``, the results this worker holds by key, kept
until the parent releases them (the parent decides where each consumer runs,
preferring the worker that already holds its inputs).

From the parent: ``("init", sys_path)``, ``("run", job, payload)`` with the payload
``(tasks, sent, keep, send_back)`` and ``tasks`` a fused chain of ``(key, task,
dependency keys)``, ``("fetch", request, keys)``, ``("release", keys)``,
``("clear",)``, ``("call", fn)``, ``("stop",)``. To the parent: ``("done", job,
value or None)``, ``("error", job, key repr, exception, type name, message,
traceback text)``, ``("values", request, {key: value} or None, error...)``.
"""

from __future__ import annotations

import os
import pickle
import queue
import struct
import sys
import threading
import traceback
from typing import Any

_HEADER = struct.Struct("!Q")
_KEY_TYPES = (str, int, float, tuple)


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


def execute(task: Any, deps: dict) -> Any:
    """The value of a task in Dask's format, reading the keys in ``deps``."""
    t = type(task)
    if t is tuple and task and callable(task[0]):
        return task[0](*[execute(a, deps) for a in task[1:]])
    if t in _KEY_TYPES and deps:
        try:
            if task in deps:
                return deps[task]
        except TypeError:  # an unhashable tuple
            pass
    if t is list:
        return [execute(a, deps) for a in task]
    if t is tuple:
        return tuple(execute(a, deps) for a in task)
    if t is set or t is frozenset:
        return t(execute(a, deps) for a in task)
    return task


def error_payload(e: BaseException, dumps: Any) -> tuple:
    """``(exception bytes or None, type name, message, traceback text)``."""
    text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    try:
        data = dumps(e)
    except Exception:
        data = None
    return data, type(e).__qualname__, str(e), text


class Worker:
    def __init__(self, fd_in: int, fd_out: int) -> None:
        import cloudpickle

        self.dumps, self.loads = cloudpickle.dumps, cloudpickle.loads
        self.inp = os.fdopen(fd_in, "rb")
        self.out = os.fdopen(fd_out, "wb")
        self.write_lock = threading.Lock()
        self.store: dict = {}
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()

    def send(self, message: tuple) -> None:
        data = frame(message)
        with self.write_lock:
            self.out.write(data)
            self.out.flush()

    def read_loop(self) -> None:
        """Answer fetches and releases at once; queue jobs for the main thread."""
        try:
            while True:
                msg = read_message(self.inp)
                kind = "stop" if msg is None else msg[0]
                if kind == "fetch":
                    self.send_values(msg[1], msg[2])
                elif kind == "release":
                    for k in self.loads(msg[1]):
                        self.store.pop(k, None)
                elif kind == "init":
                    sys.path[:] = msg[1]  # before any payload names the user's modules
                else:
                    self.jobs.put(msg or ("stop",))
                    if kind == "stop":
                        return
        except BaseException:
            # Without its reader the worker would hang the parent: exit, so it sees EOF.
            traceback.print_exc()
            os._exit(70)

    def send_values(self, request: int, keys: bytes) -> None:
        try:
            values = self.dumps({k: self.store[k] for k in self.loads(keys)})
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
            elif kind == "call":
                try:
                    self.loads(msg[1])()
                except Exception:
                    traceback.print_exc()  # an initializer's failure shows, as in a Pool
            elif kind == "run":
                self.run_job(msg[1], msg[2])

    def run_job(self, job: int, payload: bytes) -> None:
        store = self.store
        key = None
        try:
            tasks, sent, keep, send_back = self.loads(payload)
            store.update(sent)
            for key, task, deps in tasks:
                store[key] = execute(task, {d: store[d] for d in deps})
            for k, _, _ in tasks[:-1]:  # a fused chain's intermediates
                del store[k]
            value = store[key] if send_back else None
            if not keep:
                del store[key]
        except BaseException as e:  # everything goes back to the parent
            self.send(("error", job, repr(key), *error_payload(e, self.dumps)))
            if isinstance(e, KeyboardInterrupt | SystemExit):
                raise
            return
        if not send_back:
            self.send(("done", job, None))
            return
        try:
            data = self.dumps(value)
        except Exception as e:
            store.pop(key, None)
            err = TypeError(
                f"the result of task {key!r}, of type {type(value).__name__}, cannot be "
                f"pickled to send it back from the worker process: {e}"
            )
            self.send(("error", job, repr(key), *error_payload(err, self.dumps)))
            return
        self.send(("done", job, data))


def main() -> None:
    fd_in, fd_out = int(sys.argv[1]), int(sys.argv[2])
    Worker(fd_in, fd_out).run()
