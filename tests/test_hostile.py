"""The native core under hostile use, in process (issue #12): what a get keeps alive,
which context its tasks see, what counts as a key, which errors escape while the graph
is read, and the notes a failing task's exception carries. The cases that can crash or
hang the interpreter are in ``test_lifecycle.py``, each in a subprocess."""

from __future__ import annotations

import collections
import contextvars
import decimal
import functools
import gc
import threading
import time
import weakref

import numpy as np
import pytest

import taskloom
import taskloom.multiprocessing as tl_multiprocessing
from taskloom import threaded

from conftest import GETS
from reference import reference_get

dask_local = pytest.importorskip("dask.local")

NOTE = "taskloom: raised while computing key "


def threaded2(dsk, keys, **kw):
    return threaded.get(dsk, keys, num_workers=2, **kw)


def processes2(dsk, keys, **kw):
    return tl_multiprocessing.get(dsk, keys, num_workers=2, **kw)


# -- #12.8: nothing user-given is kept alive after a get --------------------------------


class Payload:
    """A user object to watch with a weak reference."""

    def __init__(self, value=1):
        self.value = value


def _add_payload(x, payload):
    return x + payload.value


def _leak_cases():
    """name -> function building (task graph, key, expected, objects that must be freed)."""

    def array_sum():
        arr = np.ones(10_000_000)  # 80 MB
        return {"a": (arr.sum,)}, "a", 10_000_000.0, [arr]

    def partial_of_array_sum():
        arr = np.ones(1_000_000)
        f = functools.partial(arr.sum)
        return {"a": (f,)}, "a", 1_000_000.0, [arr, f]

    def callable_instance():
        class Add:  # the instance and what it holds must go (its class may stay)
            def __init__(self, payload):
                self.payload = payload

            def __call__(self, x):
                return x + self.payload.value

        payload = Payload(2)
        add = Add(payload)
        return {"x": 1, "y": (add, "x")}, "y", 3, [add, payload]

    def partial():
        payload = Payload(3)
        f = functools.partial(_add_payload, payload=payload)
        return {"x": 1, "y": (f, "x")}, "y", 4, [f, payload]

    def closure():
        payload = Payload(4)
        f = lambda x: x + payload.value  # noqa: E731
        return {"x": 1, "y": (f, "x")}, "y", 5, [f, payload]

    def bound_method():
        class Holder:
            def __init__(self, payload):
                self.payload = payload

            def add(self, x):
                return x + self.payload.value

        payload = Payload(5)
        holder = Holder(payload)
        return {"x": 1, "y": (holder.add, "x")}, "y", 6, [holder, payload]

    def task_arguments():
        payload = Payload(6)
        big = np.ones(1_000_000)
        return (
            {"x": 1, "y": (_add_payload, "x", payload), "z": (np.sum, big)},
            ["y", "z"],
            (7, 1_000_000.0),
            [payload, big],
        )

    return {
        f.__name__: f
        for f in [
            array_sum,
            partial_of_array_sum,
            callable_instance,
            partial,
            closure,
            bound_method,
            task_arguments,
        ]
    }


LEAK_CASES = _leak_cases()


@pytest.mark.parametrize("case", list(LEAK_CASES), ids=list(LEAK_CASES))
def test_get_keeps_nothing_user_given_alive(case):
    # #12.8: after a threaded get, the callables, their bound objects and arguments are freed.
    def run() -> list[weakref.ref]:
        dsk, keys, expected, watched = LEAK_CASES[case]()
        for _ in range(2):  # the second run places the callable from its learned timing
            assert threaded2(dsk, keys) == expected
        return [weakref.ref(o) for o in watched]

    refs = run()
    gc.collect()
    alive = [type(r()).__name__ for r in refs if r() is not None]
    assert alive == [], f"still alive after the get: {alive}"


# -- #12.9: every task sees the caller's context ----------------------------------------

VAR = contextvars.ContextVar("VAR", default="unset")
SEEN_THREADS: set = set()


def _remember_thread():
    SEEN_THREADS.add(threading.get_ident())


def slow_context(i):
    _remember_thread()
    time.sleep(0.001)  # slow: offloaded once its timing is known (or when never seen)
    with np.errstate(over="ignore"):  # leaves the `divide` setting alone
        return (VAR.get(), decimal.getcontext().prec, np.geterr()["divide"])


def fast_context(i):
    _remember_thread()
    return (VAR.get(), decimal.getcontext().prec, np.geterr()["divide"])


def context_graph(n=16):
    dsk = {("slow", i): (slow_context, i) for i in range(n)}
    dsk.update({("fast", i): (fast_context, i) for i in range(n)})
    dsk.update({("chain", i): (fast_context, ("slow", i)) for i in range(n)})
    return dsk, sorted(dsk)


@pytest.mark.parametrize("name", list(GETS))
def test_tasks_see_the_callers_context_wherever_they_run(name):
    # #12.9: ContextVar, decimal precision and numpy errstate set by the caller reach every task.
    get = GETS[name]
    dsk, keys = context_graph()

    def caller():
        VAR.set("caller")
        with decimal.localcontext() as ctx, np.errstate(divide="raise"):
            ctx.prec = 7
            return [get(dsk, keys) for _ in range(2)]

    SEEN_THREADS.clear()
    runs = contextvars.copy_context().run(caller)
    expected = ("caller", 7, "raise")
    for results in runs:
        wrong = {k: r for k, r in zip(keys, results, strict=True) if r != expected}
        assert wrong == {}, f"tasks saw another context: {dict(list(wrong.items())[:5])}"
    if "sync" not in name:  # the test is only meaningful if some tasks left this thread
        assert SEEN_THREADS - {threading.get_ident()}, "no task ran on a worker thread"


def test_dask_threaded_tasks_see_the_callers_context():
    # #12.9: the behaviour compared with: Dask's threaded get runs tasks in the caller's context.
    dask_threaded = pytest.importorskip("dask.threaded")
    dsk, keys = context_graph(4)

    def caller():
        VAR.set("caller")
        with decimal.localcontext() as ctx, np.errstate(divide="raise"):
            ctx.prec = 7
            return dask_threaded.get(dsk, keys, num_workers=2)

    results = contextvars.copy_context().run(caller)
    assert set(results) == {("caller", 7, "raise")}


# -- #12.11: one meaning of a key, on every scheduler -----------------------------------


def ident(x):
    return x


class SubStr(str):
    pass


Pair = collections.namedtuple("Pair", "name index")

NAN = float("nan")
OTHER_NAN = float("nan")


def _delayed_literal():
    return taskloom.delayed(ident)(5)


KEY_CASES = {
    # name: (graph, key)
    "True-is-key-1": ({1: "one", "r": (ident, True)}, "r"),
    "False-is-key-0": ({0: "zero", "r": (ident, False)}, "r"),
    "5.0-is-key-5": ({5: "five", "r": (ident, 5.0)}, "r"),
    "1.0-is-key-1": ({1: "one", "r": (ident, 1.0)}, "r"),
    "1.0-is-key-1-beside-a-float-key": ({1: "one", 2.5: "f", "r": (ident, 1.0)}, "r"),
    "1-is-key-1.0": ({1.0: "one", "r": (ident, 1)}, "r"),
    "True-is-key-1.0": ({1.0: "one", "r": (ident, True)}, "r"),
    "np.float64-is-key-5": ({5: "five", "r": (ident, np.float64(5.0))}, "r"),
    "np.int64-is-a-literal": ({5: "five", "r": (ident, np.int64(5))}, "r"),  # not an int
    "str-subclass-is-str-key": ({"a": "A", "r": (ident, SubStr("a"))}, "r"),
    "str-is-str-subclass-key": ({SubStr("a"): "A", "r": (ident, "a")}, "r"),
    "namedtuple-is-tuple-key": ({("a", 1): "T", "r": (ident, Pair("a", 1))}, "r"),
    "tuple-is-namedtuple-key": ({Pair("a", 1): "T", "r": (ident, ("a", 1))}, "r"),
    "tuple-with-True-is-tuple-key": ({("a", 1): "T", "r": (ident, ("a", True))}, "r"),
    "tuple-with-1.0-is-tuple-key": ({("a", 1): "T", "r": (ident, ("a", 1.0))}, "r"),
    "same-nan-object-is-the-nan-key": ({NAN: "N", "r": (ident, NAN)}, "r"),
    "another-nan-is-a-literal": ({NAN: "N", "r": (ident, OTHER_NAN)}, "r"),
    "True-in-a-list": ({1: "one", "r": (list, [True, 1.0, 2])}, "r"),
    "True-alias": ({1: "one", "r": True}, "r"),
    "5.0-alias": ({5: "five", "r": 5.0}, "r"),
    "Delayed-value-is-a-literal": ({"a": 1, "r": _delayed_literal()}, "r"),
    "Delayed-in-a-list-is-a-literal": ({"a": 1, "r": [_delayed_literal()]}, "r"),
}


def same(a, b) -> bool:
    """Equal, with NaN equal to NaN, Delayed values by key, containers item by item."""
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    if isinstance(a, taskloom.Delayed) or isinstance(b, taskloom.Delayed):
        return type(a) is type(b) and a.key == b.key
    if isinstance(a, list | tuple) and type(a) is type(b):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("case", list(KEY_CASES), ids=list(KEY_CASES))
def test_reference_reads_keys_as_dask_does(case):
    # #12.11: the reference evaluator's rule (key type, hashable, `in dsk`) agrees with Dask.
    dsk, key = KEY_CASES[case]
    assert same(reference_get(dsk, key), dask_local.get_sync(dsk, key))


@pytest.mark.parametrize("case", list(KEY_CASES), ids=list(KEY_CASES))
def test_keys_mean_the_same_on_every_in_process_get(case, get):
    # #12.11: a hashable argument of a key type is a reference iff `arg in dsk`, as in Dask.
    dsk, key = KEY_CASES[case]
    expected = dask_local.get_sync(dsk, key)
    result = get(dsk, key)
    assert same(result, expected), (result, expected)
    if case in ("another-nan-is-a-literal", "Delayed-value-is-a-literal"):
        assert result is expected, "a literal is passed through as the same object"


@pytest.mark.parametrize("case", list(KEY_CASES), ids=list(KEY_CASES))
def test_keys_mean_the_same_on_processes(case):
    # #12.11: the processes scheduler reads keys by the same rule.
    dsk, key = KEY_CASES[case]
    result = processes2(dsk, key)
    assert same(result, dask_local.get_sync(dsk, key)), result


# -- #12.12: errors other than TypeError from a key's __hash__ / __eq__ propagate -------


class HashRaises(str):
    error: type[BaseException] = ValueError

    def __hash__(self):
        raise self.error(f"hash of {str(self)!r}")


class HashKeyboardInterrupt(HashRaises):
    error = KeyboardInterrupt


class HashMemoryError(HashRaises):
    error = MemoryError


class HashTypeError(HashRaises):
    error = TypeError  # unhashable: a literal


class EqRaises(str):
    """Hashes like the str it holds; comparing it with that key raises."""

    def __hash__(self):
        return str.__hash__(self)

    def __eq__(self, other):
        raise ValueError("eq")

    __ne__ = __eq__


class Unhashable:
    def __hash__(self):
        raise ValueError("unhashable object of a non-key type")


HASH_CASES = {
    # name: (argument, the exception `arg in dsk` raises, or None if it is a literal)
    "str-subclass-hash-ValueError": (HashRaises("a"), ValueError),
    "str-subclass-hash-KeyboardInterrupt": (HashKeyboardInterrupt("a"), KeyboardInterrupt),
    "str-subclass-hash-MemoryError": (HashMemoryError("a"), MemoryError),
    "str-subclass-eq-ValueError": (EqRaises("a"), ValueError),
    "tuple-item-hash-ValueError": (("a", HashRaises("b")), ValueError),
    # No tuple key in the graph: still looked up (Dask looks up every key-typed argument).
    "tuple-item-hash-ValueError-no-tuple-keys": (("x", HashRaises("b")), ValueError),
    "str-subclass-hash-TypeError": (HashTypeError("a"), None),
    "unhashable-tuple": (("z", [1]), None),
    "non-key-type": (Unhashable(), None),  # Dask never hashes it: a literal
}


def _hash_case_graph(arg):
    return {"a": 1, "b": 2, "r": (ident, arg)}


@pytest.mark.parametrize("case", list(HASH_CASES), ids=list(HASH_CASES))
def test_dask_propagates_errors_of_key_hashing(case):
    # #12.12: what the cases below are compared with.
    arg, error = HASH_CASES[case]
    dsk = _hash_case_graph(arg)
    if error is None:
        assert dask_local.get_sync(dsk, "r") == arg
        assert reference_get(dsk, "r") == arg
    else:
        with pytest.raises(error):
            dask_local.get_sync(dsk, "r")
        with pytest.raises(error):
            reference_get(dsk, "r")


@pytest.mark.parametrize("case", list(HASH_CASES), ids=list(HASH_CASES))
def test_errors_of_key_hashing_propagate(case, get):
    # #12.12: only TypeError from hashing means "not a key"; any other error is raised by get.
    arg, error = HASH_CASES[case]
    dsk = _hash_case_graph(arg)
    if error is None:
        result = get(dsk, "r")
        assert type(result) is type(arg) and result == arg
    else:
        with pytest.raises(error):
            get(dsk, "r")
    assert get({"a": 1, "b": (ident, "a")}, "b") == 1  # and the next get works


@pytest.mark.parametrize(
    "case", [c for c in HASH_CASES if "KeyboardInterrupt" not in c], ids=lambda c: c
)
def test_errors_of_key_hashing_propagate_on_processes(case):
    # #12.12: the same on the processes scheduler (the graph is read in the parent).
    arg, error = HASH_CASES[case]
    dsk = _hash_case_graph(arg)
    if error is None:
        assert type(processes2(dsk, "r")) is type(arg)
    else:
        with pytest.raises(error):
            processes2(dsk, "r")


# -- #12.13: one note, naming the key that raised ---------------------------------------


class Boom(Exception):
    pass


RAISED_ON: list = []


def ok(x=0):
    return x + 1


def bad(x=0):
    RAISED_ON.append(threading.get_ident())
    raise Boom("bad")


def slow_first():
    time.sleep(0.01)  # never seen, or learned slow: the chain goes to a worker
    return 0


def taskloom_notes(exc: BaseException) -> list[str]:
    return [n for n in getattr(exc, "__notes__", []) if n.startswith(NOTE)]


@pytest.mark.parametrize("name", list(GETS))
@pytest.mark.parametrize(
    "dsk",
    [
        {"x": 1, "b": (bad, "x"), "a": (ok, "b")},
        {"s": (slow_first,), "b": (bad, "s"), "a": (ok, "b")},
        {"s": (slow_first,), "t": (ok, "s"), "b": (bad, "t"), "a": (ok, "b"), "z": (ok, "a")},
    ],
    ids=["literal-then-chain", "slow-first-chain", "long-chain"],
)
def test_one_note_naming_the_key_that_raised(name, dsk):
    # #12.13: exactly one taskloom note, naming b (not a, not the chain's first key), on every get.
    get = GETS[name]
    last = list(dsk)[-1]
    for _ in range(2):  # the second run places the chain from learned timings
        RAISED_ON.clear()
        with pytest.raises(Boom) as info:
            get(dsk, last)
        assert taskloom_notes(info.value) == [NOTE + repr("b")]
    if name in ("threaded", "threaded-4", "taskloom.get") and "s" in dsk:
        # the offloaded-chain path was exercised
        assert RAISED_ON and RAISED_ON[0] != threading.get_ident()


SHARED = Boom("one exception object, raised by many gets")


def raise_shared(x):
    raise SHARED


@pytest.mark.parametrize("name", ["get_sync", "threaded", "taskloom.get"])
def test_one_exception_raised_by_many_gets_carries_one_note(name):
    # #12.13: the same exception object through 1000 gets: one note, naming the latest key.
    get = GETS[name]
    SHARED.__notes__ = []
    for i in range(1000):
        with pytest.raises(Boom):
            get({("k", i): (raise_shared, i)}, ("k", i))
    assert taskloom_notes(SHARED) == [NOTE + repr(("k", 999))]


def _inner_get(get_name):
    def inner(x):
        return GETS[get_name]({"inner-ok": (ok, x), "inner": (bad, "inner-ok")}, "inner")

    return inner


@pytest.mark.parametrize("outer", ["get_sync", "threaded", "taskloom.get"])
@pytest.mark.parametrize("inner", ["get_sync", "threaded"])
def test_nested_get_note_names_the_innermost_key_once(outer, inner):
    # #12.13: a get inside a task: the note names the inner get's key that raised, once.
    dsk = {"x": 1, "outer": (_inner_get(inner), "x"), "top": (ok, "outer")}
    for _ in range(2):
        with pytest.raises(Boom) as info:
            GETS[outer](dsk, "top")
        assert taskloom_notes(info.value) == [NOTE + repr("inner")]
