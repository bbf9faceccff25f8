"""The native classes used by executors and benchmarks (``_core.Dispatcher``,
``_core.Compiled``) under misuse: refused with an error naming the key, state intact,
and their Python objects visible to the cyclic GC (#12.19)."""

from __future__ import annotations

import gc
import weakref
from operator import add

import pytest

from taskloom import _core

from reference import reference_get


def drive(disp: _core.Dispatcher, dsk: dict) -> dict:
    """Run the dispatcher to the end the way the processes scheduler does."""
    results: dict = {}
    while not disp.is_done():
        t = disp.pop()
        while t is not None:
            key = disp.key(t)
            results[t] = reference_get(dsk, key)
            t, _released = disp.finish(t)
    return results


def graph() -> dict:
    return {"a": 1, "b": (add, "a", 1), "c": (add, "b", "a"), "d": (add, "c", 10)}


def test_dispatcher_refuses_finishing_a_task_twice():
    dsk = graph()
    disp = _core.Dispatcher(dsk, "d", fuse=False)
    t = disp.pop()
    disp.finish(t)
    with pytest.raises(ValueError, match=r"finished already.*key 'a'"):
        disp.finish(t)
    # The refused call changed nothing: the run completes with the right answer.
    results = drive(disp, dsk)
    assert disp.gather(results) == reference_get(dsk, "d")


def test_dispatcher_refuses_a_task_before_it_is_handed_out():
    dsk = graph()
    disp = _core.Dispatcher(dsk, "d", fuse=False)
    ids = {disp.key(t): t for t in range(4)}
    with pytest.raises(ValueError, match=r"not ready.*key 'd'"):
        disp.finish(ids["d"])  # its dependencies have not run
    with pytest.raises(ValueError, match=r"key 'a'"):
        disp.finish(ids["a"])  # ready, but pop has not returned it
    results = drive(disp, dsk)
    assert disp.gather(results) == reference_get(dsk, "d")


def test_dispatcher_refuses_unknown_and_culled_tasks():
    dsk = {**graph(), "unused": (add, "a", 2)}
    disp = _core.Dispatcher(dsk, "b")
    unused = next(t for t in range(5) if disp.key(t) == "unused")
    with pytest.raises(ValueError, match="unused"):
        disp.finish(unused)
    with pytest.raises(ValueError, match="no task 99"):
        disp.finish(99)
    with pytest.raises(OverflowError):
        disp.finish(-1)
    assert disp.gather(drive(disp, dsk)) == 2


class Holder:
    """A task argument that refers back to the Compiled graph holding it."""

    compiled: object = None

    def __call__(self) -> int:
        return 1


def test_compiled_in_a_reference_cycle_is_collected():
    holder = Holder()
    compiled = _core.Compiled({"x": (holder,)}, "x")
    assert compiled.run() == 1
    holder.compiled = compiled  # compiled -> task -> holder -> compiled
    ref = weakref.ref(holder)
    del holder, compiled
    gc.collect()
    assert ref() is None


def test_dispatcher_in_a_reference_cycle_is_collected():
    class Key(str):
        pass

    key = Key("k")
    disp = _core.Dispatcher({key: 1}, key)
    key.disp = disp  # disp -> key -> disp
    ref = weakref.ref(key)
    del key, disp
    gc.collect()
    assert ref() is None
