"""Graph-building primitives of :mod:`taskloom.dataframe`, below the collection classes.

This module owns what every operation family (``core``'s methods, ``groupby``,
``shuffle``, ``multi``, ``timeseries``, ``io``) builds graphs with, and imports none of
them: the base classes (:class:`FrameBase`, the lazy :class:`Scalar`),
:func:`new_collection` (the classes register themselves with
:func:`register_collection_type`), per-partition maps (:func:`map_partitions`, with
the metadata enforced on each partition as Dask does), one-task combinations of lazy
values (:func:`map_scalars`), tree reductions (:func:`tree_reduction`), the alignment
of collections (:func:`align_partitions`) and :func:`concat_partitions`.

Graphs are kept as layers (one dict per operation) and merged once, at compute time.
"""

from __future__ import annotations

import builtins
import operator
import warnings
from collections.abc import Callable, Hashable, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from taskloom.annotations import record as record_annotations
from taskloom.base import DaskMethodsMixin
from taskloom.core import data_task, partition_tree
from taskloom.dataframe._meta import EnforceMeta, emulate, meta_from_user, meta_nonempty
from taskloom.delayed import Delayed
from taskloom.threaded import get as threaded_get
from taskloom.tokenize import tokenize

__all__ = [
    "SPLIT_EVERY",
    "FrameBase",
    "Scalar",
    "align_partitions",
    "concat_partitions",
    "funcname",
    "install_operators",
    "map_partitions",
    "map_scalars",
    "merge_layers",
    "new_collection",
    "no_default",
    "register_collection_type",
    "tree_reduction",
]

no_default: Any = type("NoDefault", (), {"__repr__": lambda self: "<no_default>"})()
SPLIT_EVERY = 8


def _flatten_layers(layers: dict) -> dict:
    dsk: dict = {}
    for layer in layers.values():
        dsk.update(layer)
    return dsk


def merge_layers(*objs: Any) -> dict:
    """The layers of every collection among ``objs``."""
    layers: dict = {}
    for o in objs:
        if isinstance(o, _Collection):
            layers.update(o._layers)
        elif isinstance(o, Delayed):
            layers[("delayed", o.key)] = o.__dask_graph__()
    return layers


def funcname(func: Any) -> str:
    from taskloom.delayed import funcname as _funcname

    return _funcname(func).replace("_", "-").strip("-") or "func"


# --- the base classes -----------------------------------------------------------------


class _Collection(DaskMethodsMixin):
    __slots__ = ("_layers", "_meta", "_name")
    __dask_scheduler__ = staticmethod(threaded_get)

    def __dask_graph__(self) -> dict:
        return _flatten_layers(self._layers)

    def __dask_tokenize__(self) -> Hashable:
        return self._name

    @property
    def dask(self) -> dict:
        """The task graph."""
        return self.__dask_graph__()

    @property
    def _meta_nonempty(self) -> Any:
        return meta_nonempty(self._meta)

    def _task_count(self) -> int:
        return builtins.sum(len(layer) for layer in self._layers.values())

    def _label(self) -> str:
        return self._name.rsplit("-", 1)[0]


class FrameBase(_Collection):
    """What the primitives need of a partitioned collection: partitions and divisions
    (``DataFrame``, ``Series`` and ``Index`` add the pandas-like methods)."""

    __slots__ = ("divisions",)

    def __init__(self, layers: dict, name: str, meta: Any, divisions: Sequence) -> None:
        self._layers, self._name, self._meta = record_annotations(layers, name), name, meta
        self.divisions = tuple(divisions)

    def __dask_keys__(self) -> list:
        return [(self._name, i) for i in range(self.npartitions)]

    def __dask_postcompute__(self) -> tuple:
        return concat_partitions, ()

    def __dask_postpersist__(self) -> tuple:
        return _frame_from_data, (self._name, self._meta, self.divisions)

    @property
    def npartitions(self) -> int:
        """The number of partitions."""
        return len(self.divisions) - 1

    @property
    def known_divisions(self) -> bool:
        """Whether the divisions (index bounds of the partitions) are known."""
        return len(self.divisions) > 0 and self.divisions[0] is not None


class Scalar(_Collection):
    """One lazy value computed from a dataframe (the result of a reduction).

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> s = dd.from_pandas(pd.Series([1, 2, 3]), npartitions=2).sum()
    >>> s, s.compute()
    (taskloom.dataframe.Scalar<sum, dtype=int64>, np.int64(6))
    """

    def __init__(self, layers: dict, name: str, meta: Any) -> None:
        self._layers, self._name, self._meta = record_annotations(layers, name), name, meta

    @property
    def key(self) -> str:
        return self._name

    @property
    def dtype(self) -> Any:
        return getattr(self._meta, "dtype", np.dtype(type(self._meta)))

    def __dask_keys__(self) -> list:
        return [self._name]

    def __dask_postcompute__(self) -> tuple:
        return _first, ()

    def __dask_postpersist__(self) -> tuple:
        return _scalar_from_data, (self._name, self._meta)

    def __repr__(self) -> str:
        return f"taskloom.dataframe.Scalar<{self._label()}, dtype={self.dtype}>"

    def __bool__(self) -> bool:
        raise TypeError(
            "the truth value of a taskloom Scalar is not known until it is computed; "
            "call .compute() first"
        )

    def to_delayed(self, optimize_graph: bool = True) -> Delayed:
        """This value as a :class:`~taskloom.Delayed`."""
        return Delayed(self._name, self.__dask_graph__())

    def _binop(self, op: Callable, other: Any, reflect: bool = False) -> Any:
        if isinstance(other, FrameBase):
            return NotImplemented
        a, b = (other, self) if reflect else (self, other)
        meta = op(_meta_of(a), _meta_of(b))
        name = f"{funcname(op)}-{tokenize(_token_of(a), _token_of(b), op)}"
        layers = merge_layers(self, other)
        layers[name] = {name: (op, _task_arg(a, None), _task_arg(b, None))}
        return Scalar(layers, name, meta)

    def _unary(self, op: Callable) -> Scalar:
        name = f"{funcname(op)}-{tokenize(self._name, op)}"
        layers = dict(self._layers)
        layers[name] = {name: (op, self._name)}
        return Scalar(layers, name, op(self._meta))


def _first(results: Sequence) -> Any:
    return results[0]


def _scalar_from_data(dsk: dict, name: str, meta: Any) -> Scalar:
    return Scalar({name: {name: data_task(dsk[name])}}, name, meta)


def install_operators(cls: type) -> None:
    """Python's arithmetic, comparison and unary operators on ``cls``, through its
    ``_binop(op, other, reflect)`` and ``_unary(op)``."""
    binary = {
        "add": operator.add,
        "sub": operator.sub,
        "mul": operator.mul,
        "truediv": operator.truediv,
        "floordiv": operator.floordiv,
        "mod": operator.mod,
        "pow": operator.pow,
        "and": operator.and_,
        "or": operator.or_,
        "xor": operator.xor,
    }
    for name, op in binary.items():
        setattr(cls, f"__{name}__", lambda self, other, op=op: self._binop(op, other))
        setattr(
            cls, f"__r{name}__", lambda self, other, op=op: self._binop(op, other, reflect=True)
        )
    for name, op in {
        "lt": operator.lt,
        "le": operator.le,
        "gt": operator.gt,
        "ge": operator.ge,
        "eq": operator.eq,
        "ne": operator.ne,
    }.items():
        setattr(cls, f"__{name}__", lambda self, other, op=op: self._binop(op, other))
    for name, op in {
        "neg": operator.neg,
        "pos": operator.pos,
        "invert": operator.invert,
        "abs": operator.abs,
    }.items():
        setattr(cls, f"__{name}__", lambda self, op=op: self._unary(op))


install_operators(Scalar)
Scalar.__hash__ = object.__hash__  # type: ignore[method-assign]


# --- construction ---------------------------------------------------------------------


# The collection class of each kind of pandas meta, registered by the module that
# defines the classes (core), so that this module need not import it.
_COLLECTION_TYPES: dict[type, type] = {}


def register_collection_type(pandas_type: type, cls: type) -> None:
    """Make :func:`new_collection` build ``cls`` for a meta of ``pandas_type``."""
    _COLLECTION_TYPES[pandas_type] = cls


def new_collection(layers: dict, name: str, meta: Any, divisions: Sequence) -> Any:
    """The collection type that ``meta`` calls for: DataFrame, Series, Index or Scalar.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> meta = pd.Series([], dtype="i8", name="a")
    >>> type(new_collection({"x": {("x", 0): meta}}, "x", meta, (None, None))).__name__
    'Series'
    """
    for pandas_type in (pd.DataFrame, pd.Series, pd.Index):
        if isinstance(meta, pandas_type):
            return _COLLECTION_TYPES[pandas_type](layers, name, meta, divisions)
    return Scalar(layers, name, meta)


def _frame_from_data(dsk: dict, name: str, meta: Any, divisions: Sequence) -> Any:
    layer = {(name, i): data_task(dsk[(name, i)]) for i in builtins.range(len(divisions) - 1)}
    return new_collection({name: layer}, name, meta, divisions)


def concat_partitions(parts: Sequence) -> Any:
    """The pandas object made of ``parts`` in order (empty ones kept only for dtypes)."""
    parts = list(parts)
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], pd.Index):
        return parts[0].append(parts[1:])
    nonempty = [p for p in parts if len(p)]
    if not nonempty:
        return parts[0]
    if len(nonempty) == 1:
        return nonempty[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return pd.concat(nonempty)


# --- map_partitions -----------------------------------------------------------------


def _meta_of(a: Any) -> Any:
    if isinstance(a, FrameBase):
        return a._meta_nonempty
    if isinstance(a, Scalar):
        return a._meta
    if isinstance(a, Delayed):
        raise TypeError("pass meta= when giving Delayed arguments (their type is not known)")
    return a


def _token_of(a: Any) -> Any:
    return a._name if isinstance(a, _Collection) else (a.key if isinstance(a, Delayed) else a)


def _task_arg(a: Any, i: int | None) -> Any:
    if isinstance(a, FrameBase):
        return (a._name, i)
    if isinstance(a, Scalar):
        return a._name
    if isinstance(a, Delayed):
        return a.key
    return data_task(a)


def align_partitions(frames: list) -> list:
    """``frames`` over the same partitions: as they are when their divisions agree (or
    are unknown with equal partition counts), else repartitioned onto the union of
    their divisions."""
    if len(frames) < 2:
        return frames
    first = frames[0]
    if all(f.divisions == first.divisions for f in frames):
        return frames
    if all(f.known_divisions for f in frames):
        from taskloom.dataframe.shuffle import repartition_divisions

        union = sorted(set().union(*(f.divisions for f in frames)))
        return [repartition_divisions(f, union, force=True) for f in frames]
    if all(f.npartitions == first.npartitions for f in frames):
        return frames
    counts = ", ".join(str(f.npartitions) for f in frames)
    raise ValueError(
        f"cannot align collections with unknown divisions and different numbers of "
        f"partitions ({counts}); repartition them to the same npartitions, or set_index "
        "to learn their divisions"
    )


def map_partitions(
    func: Callable,
    *args: Any,
    meta: Any = no_default,
    token: str | None = None,
    clear_divisions: bool = False,
    align_dataframes: bool = True,
    enforce_metadata: bool = True,
    **kwargs: Any,
) -> Any:
    """``func`` applied to each partition of the collections among ``args``.

    Collections among ``args`` are aligned partition by partition; scalars, lazy
    :class:`Scalar` and :class:`~taskloom.Delayed` values are passed whole. The result's
    columns and dtypes are found by running ``func`` on two-row stand-ins of the
    inputs, unless ``meta=`` gives them (a pandas object, ``{column: dtype}``,
    ``(name, dtype)`` or a dtype; the index is the first collection's). Divisions are
    kept unless ``clear_divisions=True``.

    With ``enforce_metadata=True`` (the default, as in Dask) each computed partition is
    made to agree with the metadata: a Series takes the meta's name, a frame's columns
    must be the meta's (else ``ValueError``), an empty partition is the meta itself.
    A function returning a scalar per partition gives a Series of them; one returning
    an array gives a Series of its values.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> df = dd.from_pandas(pd.DataFrame({"x": range(6)}), npartitions=3)
    >>> dd.map_partitions(len, df).compute().tolist()
    [2, 2, 2]
    """
    frames = [a for a in args if isinstance(a, FrameBase)]
    if not frames:
        raise TypeError("map_partitions needs at least one taskloom collection argument")
    if align_dataframes:
        aligned = iter(align_partitions(frames))
        args = tuple(next(aligned) if isinstance(a, FrameBase) else a for a in args)
        frames = [a for a in args if isinstance(a, FrameBase)]
    n = frames[0].npartitions
    for f in frames:
        if f.npartitions != n:
            raise ValueError(f"partition counts differ: {n} and {f.npartitions}")
    user_meta = meta
    if meta is no_default:
        meta = emulate(func, *(_meta_of(a) for a in args), **kwargs)
    else:
        # An Index collection's meta has no index of its own.
        meta = meta_from_user(meta, index=getattr(frames[0]._meta, "index", None))
    call = partial(func, **kwargs) if kwargs else func
    if not isinstance(meta, pd.DataFrame | pd.Series | pd.Index):
        # A function returning a scalar (or an array) per partition: a Series of them.
        meta = pd.Series([], dtype=np.asarray(meta).dtype if meta is not None else object)
        call = partial(_scalar_as_series, call)
    elif enforce_metadata:
        call = EnforceMeta(call, meta)
    label = token or funcname(func)
    token_args = (_token_of(a) for a in args)
    name = f"{label}-{tokenize(func, *token_args, kwargs, user_meta, enforce_metadata)}"
    layer = {(name, i): (call, *(_task_arg(a, i) for a in args)) for i in builtins.range(n)}
    layers = merge_layers(*args)
    layers[name] = layer
    divisions = (None,) * (n + 1) if clear_divisions else frames[0].divisions
    return new_collection(layers, name, meta, divisions)


def map_scalars(func: Callable, *args: Any, meta: Any) -> Any:
    """One task ``func(*args)`` whose arguments may be lazy Scalars or one-partition
    collections; the result is a Scalar or a one-partition collection per ``meta``."""
    name = f"{funcname(func)}-{tokenize(func, *(_token_of(a) for a in args))}"
    targs = []
    for a in args:
        if isinstance(a, FrameBase):
            if a.npartitions != 1:
                a = a.repartition(npartitions=1)
            targs.append((a._name, 0))
        else:
            targs.append(_task_arg(a, None))
    layers = merge_layers(*args)
    if isinstance(meta, pd.DataFrame | pd.Series | pd.Index):
        layers[name] = {(name, 0): (func, *targs)}
        return new_collection(layers, name, meta, (None, None))
    layers[name] = {name: (func, *targs)}
    return Scalar(layers, name, meta)


def tree_reduction(
    frame: FrameBase,
    chunk: Callable,
    combine: Callable,
    aggregate: Callable,
    meta: Any,
    split_every: int | None = None,
    token: str | None = None,
    chunk_kwargs: dict | None = None,
) -> Any:
    """``chunk`` per partition, ``combine`` over groups of at most ``split_every``
    partials, level by level, ``aggregate`` of the last ones: a Scalar, or a
    one-partition collection when ``meta`` is a pandas object."""
    split_every = SPLIT_EVERY if split_every is None else split_every
    if split_every is False:
        split_every = builtins.max(frame.npartitions, 2)
    if split_every < 2:
        raise ValueError(f"split_every must be at least 2, got {split_every}")
    label = token or funcname(chunk)
    tok = tokenize(frame._name, chunk, combine, aggregate, split_every, chunk_kwargs)
    chunk_call = partial(chunk, **chunk_kwargs) if chunk_kwargs else chunk
    base = f"{label}-chunk-{tok}"
    layer: dict = {}
    level = partition_tree(
        layer,
        frame._name,
        frame.npartitions,
        chunk_call,
        base,
        combine,
        split_every,
        lambda depth: f"{label}-combine-{depth}-{tok}",
    )
    final = f"{label}-{tok}"
    layers = dict(frame._layers)
    if isinstance(meta, pd.DataFrame | pd.Series | pd.Index):
        layer[(final, 0)] = (aggregate, level)
        layers[final] = layer
        return new_collection(layers, final, meta, (None, None))
    layer[final] = (aggregate, level)
    layers[final] = layer
    return Scalar(layers, final, meta)


def _scalar_as_series(func: Callable, *args: Any) -> Any:
    value = func(*args)
    if isinstance(value, pd.DataFrame | pd.Series | pd.Index):
        return value
    if isinstance(value, np.ndarray | pd.api.extensions.ExtensionArray) and value.ndim == 1:
        return pd.Series(value)
    return pd.Series([value])
