"""``delayed``: lazy function calls that build a task graph, as in ``dask.delayed``.

Representation: each :class:`Delayed` holds its key, its own task, and the Delayed
objects that task reads; there is no per-object graph. Building a call is therefore
O(arguments), never O(graph) (Dask merges graphs on every call, which grows with the
graph), and a graph is assembled only when needed, by one iterative walk over all the
requested objects (:func:`graph_of`) in which shared sub-graphs appear once.

Keys: ``<function name>-<token>``. Calls are impure by default (a unique token per call,
as Dask's default); with ``pure=True`` (per ``delayed``, per call, or through the
``delayed_pure`` setting) the token is a hash of the function and arguments, so equal
calls share one task. Operators, item and attribute access are always pure.

Arguments: Delayed objects anywhere inside lists, tuples, sets, frozensets and dicts
(keys and values), slices, named tuples and dataclasses become dependencies and are
replaced by their values, as in Dask (iterators over a list, tuple or set are read into
one); containers without any are passed as given, wrapped so the scheduler never
mistakes them for tasks or keys.

Collections (taskloom's bags, arrays and dataframes, Dask's own collections) given as
arguments, anywhere Delayed objects may be, or to ``delayed`` itself, stand for their
computed value, as in Dask: a ``finalize-`` task applies the collection's
``__dask_postcompute__`` to its keys' results inside the graph, and the collection's
graph travels with the value.

Examples
--------
>>> import taskloom
>>> @taskloom.delayed
... def inc(x):
...     return x + 1
>>> total = taskloom.delayed(sum)([inc(i) for i in range(3)])
>>> total.compute()
6
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
from collections.abc import Callable, Hashable, Iterator
from typing import Any, overload

from taskloom import _core, config, threaded
from taskloom._dask_compat import as_graph
from taskloom.annotations import _annotations
from taskloom.annotations import mark as annotation_mark
from taskloom.base import DaskMethodsMixin, is_dask_collection
from taskloom.core import data_task, literal
from taskloom.tokenize import tokenize

__all__ = ["Delayed", "DelayedAttr", "DelayedLeaf", "delayed", "graph_of", "literal", "unpack"]

_MISSING = object()
_settings = config.config
_base_new = _core.DelayedBase.__new__
graph_of = _core.graph_of


# Argument types passed as they are: numbers and strings are not quoted, as in Dask
# (a string naming another key of the graph reads that key there too).
_PASS = frozenset([int, float, complex, bool, type(None), bytes, str])


def apply(func: Callable, args: list, kwargs: dict | None = None) -> Any:
    """``func(*args, **kwargs)``: how calls with keyword arguments appear in graphs."""
    return func(*args, **kwargs) if kwargs else func(*args)


class methodcaller:
    """``methodcaller(name)(obj, *args, **kwargs)`` calls ``obj.name(*args, **kwargs)``."""

    __slots__ = ("method",)

    def __init__(self, method: str) -> None:
        self.method = method

    def __call__(self, obj: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(obj, self.method)(*args, **kwargs)

    def __reduce__(self) -> tuple:
        return (methodcaller, (self.method,))

    def __repr__(self) -> str:
        return f"<methodcaller: {self.method}>"

    @property
    def __name__(self) -> str:
        return self.method


def funcname(func: Any) -> str:
    """The name used in keys for calls of ``func``.

    Examples
    --------
    >>> funcname(len), funcname(lambda x: x), funcname(functools.partial(max, 1))
    ('len', 'lambda', 'max')
    """
    while isinstance(func, functools.partial):
        func = func.func
    if isinstance(func, operator.methodcaller):
        return func.__reduce__()[1][0]
    if isinstance(func, methodcaller):
        return func.method
    name = getattr(func, "__name__", None) or type(func).__name__
    return "lambda" if name == "<lambda>" else name


def _arg(a: Any, deps: list) -> Any:
    """The task argument for ``a``; Delayed objects found are appended to ``deps``."""
    t = type(a)
    if t in _PASS:
        return a
    if isinstance(a, _core.DelayedBase):
        deps.append(a)
        return a._key
    if t is list or t is tuple or t is set or t is frozenset or t is dict:
        n = len(deps)
        if t is dict:
            task: Any = (dict, [[_arg(k, deps), _arg(v, deps)] for k, v in a.items()])
        else:
            # Inlined common cases: a list of a million Delayed objects is the usual fan-in.
            items = []
            append = items.append
            for x in a:
                tx = type(x)
                if tx is Delayed:  # exact type: subclasses go through _arg
                    deps.append(x)
                    append(x._key)
                elif tx in _PASS:
                    append(x)
                else:
                    append(_arg(x, deps))
            task = items if t is list else (t, items)
        # No Delayed inside: pass the user's object itself, shielded from the scheduler.
        return task if len(deps) > n else (literal(a),)
    if is_dask_collection(a):
        d = _from_collection(a)
        deps.append(d)
        return d._key
    return _arg_rare(a, deps)


_ITERATORS = {type(iter([])): list, type(iter(())): tuple, type(iter(set())): set}


def _arg_rare(a: Any, deps: list) -> Any:
    """:func:`_arg` for the other values Dask's ``delayed`` looks into: iterators over a
    list, tuple or set (read into one), slices, named tuples and dataclasses."""
    t = type(a)
    if t in _ITERATORS:
        return _arg(_ITERATORS[t](a), deps)
    n = len(deps)
    if t is slice:
        task: Any = (slice, _arg(a.start, deps), _arg(a.stop, deps), _arg(a.step, deps))
    elif isinstance(a, tuple) and hasattr(t, "_fields"):  # a named tuple
        task = (_spread, t, _arg(list(a), deps))
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        fields = [f for f in dataclasses.fields(a) if hasattr(a, f.name)]
        task = (apply, t, [], _arg({f.name: getattr(a, f.name) for f in fields}, deps))
        if len(deps) > n and not all(f.init for f in fields):
            raise ValueError(
                f"cannot rebuild the {t.__name__} instance holding Delayed values: "
                "it has fields with init=False (as in Dask)"
            )
    else:
        return a
    if len(deps) > n:
        return task
    return (literal(a),) if isinstance(a, tuple) else a  # a tuple could pass for a key


def _spread(typ: type, items: list) -> Any:
    return typ(*items)


def unpack(obj: Any) -> tuple[Any, list[Delayed]]:
    """The graph argument standing for ``obj``, and the Delayed values it reads.

    Delayed values and collections anywhere inside ``obj`` (wherever :func:`delayed`
    looks for them) become references to their computed values; an ``obj`` without
    any is returned quoted where the scheduler could misread it. For other modules
    that take Dask-style arguments (``Bag.map``'s keyword arguments).

    Examples
    --------
    >>> task, deps = unpack({"k": delayed(1, name="one")})
    >>> task, deps
    ((<class 'dict'>, [['k', 'one']]), [Delayed('one')])
    """
    deps: list = []
    task = _arg(obj, deps)
    if not deps and task is obj:
        task = data_task(obj)  # quoted where the scheduler could misread it
    return task, deps


def _from_collection(c: Any, key: Hashable | None = None, nout: int | None = None) -> Delayed:
    """A Delayed whose value is the computed collection ``c``, as in Dask.

    The value is Dask's finalized result, ``finalize(results, *extra)`` for
    ``(finalize, extra) = c.__dask_postcompute__()`` and ``results`` shaped like
    ``c.__dask_keys__()``, computed by a task in the graph; the collection's graph
    (Dask's task-spec nodes converted, see :mod:`taskloom._dask_compat`) travels with
    the value. ``key`` names the value (default ``finalize-<token of the keys>``).
    """
    finalize, extra = c.__dask_postcompute__()
    keys = c.__dask_keys__()
    if key is None:
        key = f"finalize-{tokenize(keys)}"
    graph = dict(as_graph(c))
    # The extra arguments are values, never keys or tasks (Dask passes them as given).
    graph[key] = (finalize, keys, *map(data_task, extra))
    # The task lives in the graph (a value with both would lose its graph: see
    # `collect` in rust/taskloom-py/src/delayed.rs).
    return _base_new(Delayed, key, None, (), nout, graph)


def call_function(
    func: Callable, name: str, args: tuple, kwargs: dict, pure: bool | None, nout: int | None
) -> Delayed:
    """The Delayed for ``func(*args, **kwargs)``; ``dask_key_name=`` and ``pure=`` in
    ``kwargs`` are options of the call, not arguments of ``func``."""
    key = None
    if kwargs:
        key = kwargs.pop("dask_key_name", None)
        pure = kwargs.pop("pure", pure)
    deps: list = []
    targs = [a if type(a) in _PASS else _arg(a, deps) for a in args]
    if kwargs:
        task: tuple = (apply, func, targs, _arg(kwargs, deps))
    else:
        task = (func, *targs)
    if key is None:
        if pure is None:
            pure = _settings.get("delayed_pure", False)
        if pure:
            key = f"{name}-{tokenize(func, args, kwargs)}"
        else:
            key = _core.unique_key(name)
            return _base_new(Delayed, key, task, deps or (), nout, annotation_mark(), True)
    return _base_new(Delayed, key, task, deps or (), nout, annotation_mark())


def _unpickle(
    cls: type, key: Hashable, task: Any, deps: tuple, length: int | None, graph: dict | None
) -> Delayed:
    """Rebuild a pickled Delayed (its call arrives as an assembled task tuple)."""
    return _base_new(cls, key, task, deps, length, graph)


def _first(results: tuple) -> Any:
    return results[0]


def _rebuild(dsk: dict, key: Hashable, length: int | None) -> Delayed:
    return _base_new(Delayed, key, data_task(dsk[key]), (), length)


class Delayed(_core.DelayedBase, DaskMethodsMixin):
    """A lazy value: the result of a task, computed on demand.

    Parameters
    ----------
    key : str
        The key of this value in ``dsk``.
    dsk : mapping
        A task graph containing ``key``.
    length : int, optional
        Known number of items, which makes the value iterable (see ``nout``).

    Examples
    --------
    >>> from operator import add
    >>> d = Delayed("x", {"x": (add, 1, 2)})
    >>> d, d.compute()
    (Delayed('x'), 3)
    """

    # The fields live in the native base (rust/taskloom-py/src/delayed.rs).
    __slots__ = ()
    # numpy defers to our reflected operators (`array @ delayed`) instead of
    # treating a Delayed as a 0-d object array.
    __array_ufunc__ = None

    def __new__(
        cls, key: Hashable, dsk: Any = None, length: int | None = None, layer: Any = None
    ) -> Delayed:
        graph = dict(as_graph(dsk)) if dsk is not None else {}  # Dask's nodes converted
        if key not in graph:
            raise ValueError(f"the graph given to Delayed does not contain its key {key!r}")
        return _base_new(cls, key, None, (), length, graph)

    # -- the collection protocol --
    def __dask_graph__(self) -> dict:
        return graph_of([self])

    def __dask_keys__(self) -> list:
        return [self._key]

    def __dask_layers__(self) -> tuple:
        return (self._key,)

    def __dask_tokenize__(self) -> Hashable:
        return self._key

    def __dask_postcompute__(self) -> tuple:
        return _first, ()

    def __dask_postpersist__(self) -> tuple:
        return _rebuild, (self._key, self._length)

    __dask_scheduler__ = staticmethod(threaded.get)

    @property
    def key(self) -> Hashable:
        """This value's key in the task graph."""
        return self._key

    @property
    def dask(self) -> dict:
        """The task graph (a dict) that computes this value."""
        return graph_of([self])

    def __repr__(self) -> str:
        return f"Delayed({self._key!r})"

    def __hash__(self) -> int:
        return hash(self._key)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(type(self))) | {"key", "dask"})

    def __getattr__(self, attr: str) -> DelayedAttr:
        if attr.startswith("_"):
            raise AttributeError(f"Delayed has no attribute {attr!r}")
        return DelayedAttr(self, attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        raise TypeError("Delayed objects are immutable: compute first, then modify")

    def __reduce__(self) -> tuple:
        # Pickled with their inputs (the graph travels with the value), as in Dask.
        task = self._task
        return (_unpickle, (type(self), self._key, task, tuple(self._deps), self._length,
                            self._graph))  # fmt: skip

    def __setitem__(self, index: Any, value: Any) -> None:
        raise TypeError("Delayed objects are immutable: compute first, then modify")

    def __bool__(self) -> bool:
        raise TypeError(
            "The truth of a Delayed object is not known until it is computed: "
            "call .compute() first, or build the condition into a delayed function"
        )

    def __len__(self) -> int:
        if self._length is None:
            raise TypeError(
                "Delayed objects of unspecified length have no len(): "
                "pass nout= to delayed() to say how many items the call returns"
            )
        return self._length

    def __iter__(self) -> Iterator[Delayed]:
        if self._length is None:
            raise TypeError(
                "Delayed objects of unspecified length are not iterable: "
                "pass nout= to delayed() to say how many items the call returns"
            )
        return (self[i] for i in range(self._length))

    def __call__(self, *args: Any, pure: bool | None = None, **kwargs: Any) -> Delayed:
        return call_function(apply, "apply", (self, list(args), kwargs), {}, pure, None)

    def __getitem__(self, index: Any) -> Delayed:
        return call_function(operator.getitem, "getitem", (self, index), {}, True, None)


def _bind_operator(op: Callable, reflected: bool = False) -> Callable:
    name = funcname(op)

    if reflected:

        def method(self: Delayed, other: Any) -> Delayed:
            return call_function(op, name, (other, self), {}, True, None)

    else:

        def method(self: Delayed, *args: Any) -> Delayed:
            return call_function(op, name, (self, *args), {}, True, None)

    return method


for _name in [
    "add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "pow",
    "and", "or", "xor", "lshift", "rshift",
]:  # fmt: skip
    _op = getattr(operator, _name, None) or getattr(operator, f"{_name}_")
    setattr(Delayed, f"__{_name}__", _bind_operator(_op))
    setattr(Delayed, f"__r{_name}__", _bind_operator(_op, reflected=True))
for _name in ["lt", "le", "gt", "ge", "eq", "ne", "neg", "pos", "invert", "abs"]:
    setattr(Delayed, f"__{_name}__", _bind_operator(getattr(operator, _name)))


class DelayedLeaf(Delayed):
    """``delayed(func)``: calling it builds a task; computing it gives ``func`` back."""

    __slots__ = ("_name", "_nout", "_obj", "_pure")

    def __new__(cls, obj: Callable, key: str, pure: bool | None, nout: int | None) -> DelayedLeaf:
        name = funcname(obj)
        self = _base_new(cls, key, (literal(obj),), (), leaf=(obj, name, pure, nout))
        for attr, value in [("_obj", obj), ("_name", name), ("_pure", pure), ("_nout", nout)]:
            object.__setattr__(self, attr, value)
        return self

    def __reduce__(self) -> tuple:
        return (DelayedLeaf, (self._obj, self._key, self._pure, self._nout))

    # Calls are built natively (`DelayedBase.__call__`): the common case, an impure
    # call without keywords outside an annotate block, without a Python frame; the
    # rest through `_leaf_call`.
    __call__ = _core.DelayedBase.__call__

    @property
    def __name__(self) -> str:
        return self._name

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        return getattr(self._obj, "__doc__", None)

    @property
    def __wrapped__(self) -> Callable:
        return self._obj


def _leaf_call(leaf: DelayedLeaf, args: tuple, kwargs: dict | None) -> Delayed:
    """A call of ``leaf`` that is pure, takes keywords or is made in an annotate block."""
    return call_function(leaf._obj, leaf._name, args, kwargs or {}, leaf._pure, leaf._nout)


class DelayedAttr(Delayed):
    """``d.attr``: the attribute of a lazy value; calling it calls the method lazily."""

    __slots__ = ("_attr", "_obj")

    def __new__(cls, obj: Delayed, attr: str) -> DelayedAttr:
        key = f"getattr-{tokenize(obj, attr)}"
        self = _base_new(cls, key, (getattr, obj._key, attr), (obj,), None, annotation_mark())
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_attr", attr)
        return self

    def __reduce__(self) -> tuple:
        return (DelayedAttr, (self._obj, self._attr))

    def __call__(self, *args: Any, **kwargs: Any) -> Delayed:
        method = methodcaller(self._attr)
        return call_function(method, self._attr, (self._obj, *args), kwargs, None, None)


_LEAVES: dict[Callable, DelayedLeaf] = {}


def _holds_nothing_of_the_users(func: Callable) -> bool:
    """Whether ``_LEAVES`` may keep ``func`` alive: a function with no closure or
    defaults, or a builtin of a module, holds nothing that would not stay alive anyway.
    A closure, a bound method or a partial may hold the user's data (a model, an
    array), which the cache would keep for as long as 4,096 other functions take."""
    kind = type(func)
    if kind is types.FunctionType:
        return func.__closure__ is None and func.__defaults__ is None and not func.__kwdefaults__
    if kind is types.BuiltinFunctionType:
        return func.__self__ is None or isinstance(func.__self__, types.ModuleType)
    return False


# Typed for checkers: a decorator with options returns a decorator, anything else a
# Delayed. Calls are `Callable[..., Delayed]` (not the function's own parameters): they
# take Delayed arguments in place of values, and `dask_key_name=`/`pure=`.
@overload
def delayed(
    *,
    name: str | None = None,
    pure: bool | None = None,
    nout: int | None = None,
    traverse: bool = True,
) -> Callable[[Any], Delayed]: ...
@overload
def delayed(
    obj: Any,
    name: str | None = None,
    pure: bool | None = None,
    nout: int | None = None,
    traverse: bool = True,
) -> Delayed: ...
def delayed(
    obj: Any = _MISSING,
    name: str | None = None,
    pure: bool | None = None,
    nout: int | None = None,
    traverse: bool = True,
) -> Any:
    """Make a function lazy, or wrap a value, as ``dask.delayed``.

    Parameters
    ----------
    obj : callable or any object
        A function (calls of the result build tasks), or a value. Lists, tuples, sets
        and dicts holding Delayed objects become a Delayed that assembles them; a
        collection becomes a Delayed of its computed value.
        Without ``obj``, returns a decorator: ``@delayed(pure=True)``.
    name : str, optional
        The key of the result (for a value or the function itself; calls take
        ``dask_key_name=``).
    pure : bool, optional
        Whether calls are deterministic, so equal calls may share one task.
        Defaults to the ``delayed_pure`` setting, else False.
    nout : int, optional
        Number of items a call returns, making its result iterable and sized.
    traverse : bool
        Look for Delayed objects inside containers (default True).

    Examples
    --------
    >>> from operator import add
    >>> x = delayed(add)(1, 2)
    >>> (x * 10).compute()
    30
    >>> a, b = delayed(divmod, nout=2)(7, 2)
    >>> b.compute()
    1

    A collection stands for its computed value:

    >>> import taskloom.bag as db
    >>> delayed(sorted)(db.from_sequence([3, 1, 2], npartitions=2)).compute()
    [1, 2, 3]
    """
    if obj is _MISSING:
        return functools.partial(delayed, name=name, pure=pure, nout=nout, traverse=traverse)
    if name is None and nout is None and pure is None:
        # `delayed(f)(x)` in a loop: one leaf per function serves every iteration.
        # Sharing is safe: a leaf's value is the function itself, whatever its key.
        try:
            return _LEAVES[obj]
        except (KeyError, TypeError):
            pass
    if isinstance(obj, Delayed):
        return obj
    if nout is not None and (type(nout) is not int or nout < 0):
        raise ValueError(f"nout must be None or a non-negative integer, got {nout!r}")
    if is_dask_collection(obj):
        return _from_collection(obj, name, nout)
    if callable(obj):
        if name is None:
            effective = config.get("delayed_pure", False) if pure is None else pure
            fname = funcname(obj)
            name = f"{fname}-{tokenize(obj, nout)}" if effective else _core.unique_key(fname)
        leaf = DelayedLeaf(obj, name, pure, nout)
        if (
            pure is None
            and nout is None
            and not _settings.get("delayed_pure", False)
            and _holds_nothing_of_the_users(obj)
        ):
            if len(_LEAVES) >= 4096:
                _LEAVES.clear()
            _LEAVES[obj] = leaf
        return leaf
    deps: list = []
    task = _arg(obj, deps) if traverse else (literal(obj),)
    if name is None:
        effective = config.get("delayed_pure", False) if pure is None else pure
        tname = type(obj).__name__
        name = f"{tname}-{tokenize(obj)}" if effective else _core.unique_key(tname)
    if not deps and task is obj:  # (an iterator was read into a list: keep that)
        task = data_task(obj)
    return _base_new(Delayed, name, task, deps or (), nout, annotation_mark())


_core._leaf_setup(Delayed, _arg, _leaf_call, _settings, _annotations)
