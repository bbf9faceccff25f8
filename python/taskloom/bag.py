"""``taskloom.bag``: a list split into partitions, processed in parallel, as ``dask.bag``.

A :class:`Bag` is a task graph whose keys ``(name, i)`` each compute one partition (a
Python list). Element-wise operations add one task per partition; reductions are tree
reductions (each partition reduced on its own, then at most ``split_every`` partial
results combined per task, level by level), so no single task sees the whole bag until
the last; ``groupby`` is a hash shuffle (each partition split by a stable hash of the
key, then each output partition gathers its share from every input). Graphs are kept as
layers (one dict per operation) and merged once, at compute time.

Partitioning policy: ``from_sequence``, ``range`` and ``repartition`` cut partitions by
Dask's rules, to the element (same count, same sizes, floats rounded as Dask rounds
them), so code whose results depend on partitions (``map_partitions``, ``take``,
``to_delayed``, folds that are not associative) gives Dask's answers; ``read_text``
cuts files in byte blocks as ``dask.bytes.read_bytes`` does. ``accumulate`` is a chain
(partition ``i`` waits for the running total of partition ``i - 1``), ``zip`` and
``map`` pair partitions as they are (Dask's rule: same partitioning or an error), and
``random_sample`` with a seed draws Dask's sample.

Families in their own modules: :mod:`taskloom.bag_random` (``taskloom.bag.random``:
``sample``, ``choices``) and :mod:`taskloom.bag_avro` (``read_avro``, ``Bag.to_avro``;
fastavro, the ``avro`` extra).

Examples
--------
>>> import taskloom.bag as db
>>> b = db.from_sequence([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], npartitions=3)
>>> b.map(lambda x: x * 2).filter(lambda x: x % 3 == 0).compute()
[0, 6, 12, 18]
>>> b.sum().compute(), b.frequencies().compute()[:2]
(45, [(0, 1), (1, 1)])
"""

from __future__ import annotations

import builtins
import glob as globmod
import heapq
import io
import itertools
import math
import operator
import os
import pickle
import random as pyrandom
import zlib
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from functools import partial, reduce
from typing import Any

from taskloom import _files
from taskloom.annotations import record as record_annotations
from taskloom.base import DaskMethodsMixin, is_dask_collection
from taskloom.core import bind_kwargs, data_task, partition_tree
from taskloom.delayed import Delayed, unpack
from taskloom.threaded import get as threaded_get
from taskloom.tokenize import tokenize

__all__ = [
    "Bag",
    "Item",
    "concat",
    "from_delayed",
    "from_sequence",
    "from_url",
    "map",
    "map_partitions",
    "random",
    "range",
    "read_avro",
    "read_text",
    "to_textfiles",
    "zip",
]


class _Sentinel:
    """A marker that is one object in every process: it unpickles as the module
    global of its name, so a task run in a worker process still recognises it."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __reduce__(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<{self._name.strip('_')}>"


_no_default = _Sentinel("_no_default")


def _merge_layers(*parents: Any) -> dict:
    layers: dict = {}
    for p in parents:
        layers.update(p._layers)
    return layers


class Item(DaskMethodsMixin):
    """A single lazy value computed from a bag (the result of a reduction).

    Examples
    --------
    >>> import taskloom.bag as db
    >>> db.from_sequence([1, 2, 3]).max().compute()
    3
    """

    __slots__ = ("_layers", "key")

    def __init__(self, layers: dict, key: Hashable) -> None:
        self._layers = record_annotations(layers, key)
        self.key = key

    def __dask_graph__(self) -> dict:
        return _flatten_layers(self._layers)

    def __dask_keys__(self) -> list:
        return [self.key]

    def __dask_postcompute__(self) -> tuple:
        return _first, ()

    def __dask_postpersist__(self) -> tuple:
        return _item_from_data, (self.key,)

    def __dask_tokenize__(self) -> Hashable:
        return self.key

    __dask_scheduler__ = staticmethod(threaded_get)

    def __repr__(self) -> str:
        return f"Item<{self.key}>"

    def apply(self, func: Callable) -> Item:
        """``func`` of the value, lazily."""
        name = f"apply-{tokenize(self.key, func)}"
        return Item({**self._layers, name: {name: (func, self.key)}}, name)

    def to_delayed(self, optimize_graph: bool = True) -> Delayed:
        """This value as a :class:`~taskloom.Delayed` (graphs are optimized when
        computed, so ``optimize_graph`` is accepted for Dask's signature)."""
        return Delayed(self.key, self.__dask_graph__())

    @staticmethod
    def from_delayed(value: Delayed) -> Item:
        """An Item computing a :class:`~taskloom.Delayed` value.

        Examples
        --------
        >>> import taskloom, taskloom.bag as db
        >>> db.Item.from_delayed(taskloom.delayed(sum)([1, 2])).apply(str).compute()
        '3'
        """
        if not isinstance(value, Delayed):
            raise TypeError(f"Item.from_delayed needs a Delayed value, got {type(value).__name__}")
        return Item({("delayed", value.key): value.__dask_graph__()}, value.key)


def _first(results: tuple) -> Any:
    return results[0]


def _item_from_data(dsk: dict, key: Hashable) -> Item:
    return Item({key: {key: data_task(dsk[key])}}, key)


def _flatten_layers(layers: dict) -> dict:
    dsk: dict = {}
    for layer in layers.values():
        dsk.update(layer)
    return dsk


def _concat(partitions: Iterable[list]) -> list:
    return list(itertools.chain.from_iterable(partitions))


def _finalize(partitions: tuple) -> list:
    """The bag's elements: partitions concatenated (partitions that are not iterable,
    e.g. after ``map_partitions(len)``, are listed as they are, as in Dask)."""
    if partitions and all(
        isinstance(p, Iterable) and not isinstance(p, str | bytes | dict) for p in partitions
    ):
        return _concat(partitions)
    return list(partitions)


def _bag_from_data(dsk: dict, name: str, n: int) -> Bag:
    layer = {(name, i): data_task(dsk[(name, i)]) for i in builtins.range(n)}
    return Bag({name: layer}, name, n)


class Bag(DaskMethodsMixin):
    """A parallel collection of Python objects, in partitions.

    Build one with :func:`from_sequence`, :func:`range`, :func:`read_text` or
    :func:`from_delayed`; ``compute()`` returns a list.
    """

    __slots__ = ("_layers", "name", "npartitions")

    def __init__(self, layers: dict, name: str, npartitions: int) -> None:
        self._layers = record_annotations(layers, name)
        self.name = name
        self.npartitions = npartitions

    # -- collection protocol --
    def __dask_graph__(self) -> dict:
        return _flatten_layers(self._layers)

    def __dask_keys__(self) -> list:
        return [(self.name, i) for i in builtins.range(self.npartitions)]

    def __dask_postcompute__(self) -> tuple:
        return _finalize, ()

    def __dask_postpersist__(self) -> tuple:
        return _bag_from_data, (self.name, self.npartitions)

    def __dask_tokenize__(self) -> Hashable:
        return self.name

    __dask_scheduler__ = staticmethod(threaded_get)

    @property
    def dask(self) -> dict:
        """The task graph."""
        return self.__dask_graph__()

    def __repr__(self) -> str:
        return f"taskloom.bag<{self.name.rsplit('-', 1)[0]}, npartitions={self.npartitions}>"

    def __iter__(self) -> Any:
        return iter(self.compute())

    # -- building blocks --
    def _new(self, prefix: str, tasks: Callable[[int], Any], token: Any, *parents: Any) -> Bag:
        name = f"{prefix}-{tokenize(self.name, token)}"
        layer = {(name, i): tasks(i) for i in builtins.range(self.npartitions)}
        layers = _merge_layers(self, *parents)
        layers[name] = layer
        return Bag(layers, name, self.npartitions)

    def map_partitions(self, func: Callable, *args: Any, **kwargs: Any) -> Bag:
        """Apply ``func`` to each partition (a list), as ``dask.bag.map_partitions``.

        Bags among the arguments (positional or keyword) give their partition of the
        same index; Items and Delayed values give their computed value; keyword values
        holding Delayed values, Items or other collections anywhere inside are passed
        with those computed; anything else is passed as given.

        Examples
        --------
        >>> import taskloom.bag as db
        >>> db.from_sequence([0, 1, 2, 3, 4, 5], npartitions=2).map_partitions(len).compute()
        [3, 3]
        """
        a = _Args(self, args, kwargs)
        if a.static_kwargs is not None and not a.bag_kwargs:
            fn = bind_kwargs(func, a.static_kwargs)

            def task(i: int) -> Any:
                return (fn, (self.name, i), *a.positional(i))

        else:
            fn = partial(_call_partition, func)

            def task(i: int) -> Any:
                return (fn, (self.name, i), a.positional(i), a.keywords(i))

        out = self._new("map-partitions", task, (func, args, kwargs), *a.bags)
        out._layers.update(a.layers)
        return out

    def map(self, func: Callable, *args: Any, **kwargs: Any) -> Bag:
        """Apply ``func`` to each element, as ``dask.bag.map``.

        Bags among the arguments (positional or keyword) are zipped with this one
        element by element (their partitions must have the same lengths); Items and
        Delayed values give their computed value to every call; keyword values holding
        Delayed values, Items or other collections anywhere inside are passed with
        those computed; anything else is passed to every call as given (a list too).

        Examples
        --------
        >>> import taskloom.bag as db
        >>> a = db.from_sequence([1, 2, 3], npartitions=2)
        >>> a.map(lambda x, y: x + y, a).compute()
        [2, 4, 6]
        >>> a.map(lambda x, y: x + len(y), [10, 20]).compute()
        [3, 4, 5]
        """
        a = _Args(self, args, kwargs)
        fn = partial(_map_partition, func, a.zipped, tuple(a.bag_kwargs))

        def task(i: int) -> Any:
            return (fn, (self.name, i), a.positional(i), a.keywords(i))

        out = self._new(f"{_name(func)}", task, (func, args, kwargs), *a.bags)
        out._layers.update(a.layers)
        return out

    def starmap(self, func: Callable, **kwargs: Any) -> Bag:
        """``func(*element)`` for each element (a tuple of arguments)."""
        return self.map_partitions(partial(_starmap_partition, func), **kwargs)

    def filter(self, predicate: Callable) -> Bag:
        """Keep the elements for which ``predicate`` is true."""
        return self.map_partitions(partial(_filter_partition, predicate))

    def remove(self, predicate: Callable) -> Bag:
        """Drop the elements for which ``predicate`` is true (``filter``'s complement).

        Examples
        --------
        >>> import taskloom.bag as db
        >>> db.range(6, npartitions=2).remove(lambda x: x % 2 == 0).compute()
        [1, 3, 5]
        """
        return self.map_partitions(partial(_remove_partition, predicate))

    def accumulate(self, binop: Callable, initial: Any = _no_default) -> Bag:
        """Running totals ``binop(total, element)`` in bag order, as ``itertools.accumulate``.

        Partition ``i`` waits only for the running total at the end of partition
        ``i - 1`` (a chain, as in Dask); partitions keep their lengths, the first one
        gaining ``initial`` when it is given.

        Examples
        --------
        >>> import operator, taskloom.bag as db
        >>> b = db.from_sequence([1, 2, 3, 4, 5], npartitions=2)
        >>> b.accumulate(operator.add).compute()
        [1, 3, 6, 10, 15]
        >>> b.accumulate(operator.add, initial=-1).compute()
        [-1, 0, 2, 5, 9, 14]
        """
        token = tokenize(self.name, binop, initial)
        prefix = _name(binop)
        step, out = f"{prefix}-accumulate-step-{token}", f"{prefix}-accumulate-{token}"
        layer: dict = {}
        for i in builtins.range(self.npartitions):
            carry = (operator.getitem, (step, i - 1), 1) if i else data_task(initial)
            layer[(step, i)] = (_accumulate_part, binop, (self.name, i), carry, i == 0)
            layer[(out, i)] = (operator.getitem, (step, i), 0)
        layers = _merge_layers(self)
        layers[out] = layer
        return Bag(layers, out, self.npartitions)

    def join(self, other: Any, on_self: Callable, on_other: Callable | None = None) -> Bag:
        """Pairs ``(y, x)`` of an element ``y`` of ``other`` and an element ``x`` of this
        bag with ``on_other(y) == on_self(x)``, as ``dask.bag.Bag.join`` (``other`` held
        whole by every task).

        Parameters
        ----------
        other : iterable, Delayed or Bag of one partition
            The other collection.
        on_self, on_other : callable
            The join keys (``on_other`` defaults to ``on_self``).

        Examples
        --------
        >>> import taskloom.bag as db
        >>> people = db.from_sequence(["Alice", "Bob", "Charlie"])
        >>> people.join(["Apple", "Apricot", "Banana"], lambda x: x[0]).compute()
        [('Apple', 'Alice'), ('Apricot', 'Alice'), ('Banana', 'Bob')]
        """
        layers = _merge_layers(self)
        if isinstance(other, Bag):
            if other.npartitions != 1:
                raise NotImplementedError(
                    f"join with a Bag of {other.npartitions} partitions: only a Bag of one "
                    "partition, a Delayed value or an iterable (as in Dask)"
                )
            layers.update(other._layers)
            other_task: Any = (other.name, 0)
        elif isinstance(other, Delayed):
            layers[("delayed", other.key)] = other.__dask_graph__()
            other_task = other.key
        elif isinstance(other, Iterable) and not is_dask_collection(other):
            other_task = data_task(other)
        else:
            raise TypeError(
                "join's other must be an iterable, a Delayed value or a Bag of one "
                f"partition, got {type(other).__name__}"
            )
        on_other = on_other or on_self
        name = f"join-{tokenize(self.name, other_task, on_self, on_other)}"
        layers[name] = {
            (name, i): (_join_partition, on_self, on_other, other_task, (self.name, i))
            for i in builtins.range(self.npartitions)
        }
        return Bag(layers, name, self.npartitions)

    def random_sample(self, prob: float, random_state: Any = None) -> Bag:
        """Each element kept with probability ``prob``, independently.

        With the same ``random_state`` (an int seed or a :class:`random.Random`) the
        sample is Dask's, element for element: each partition draws from its own
        Mersenne Twister state, derived from ``random_state`` as Dask derives it.

        Examples
        --------
        >>> import taskloom.bag as db
        >>> db.from_sequence(builtins.range(10)).random_sample(0.5, 43).compute()
        [0, 1, 3, 4, 7, 9]
        """
        from taskloom.bag_random import random_sample_states

        if not isinstance(prob, int | float) or not 0 <= prob <= 1:
            raise ValueError(f"prob must be a number in the interval [0, 1], got {prob!r}")
        states, token = random_sample_states(self.npartitions, random_state)
        name = f"random-sample-{tokenize(self.name, prob, token)}"
        layers = _merge_layers(self)
        layers[name] = {
            (name, i): (_random_sample_partition, (self.name, i), data_task(state), prob)
            for i, state in enumerate(states)
        }
        return Bag(layers, name, self.npartitions)

    @property
    def str(self) -> StringAccessor:
        """String methods applied to each element (``b.str.upper()``), as Dask's."""
        return StringAccessor(self)

    def flatten(self) -> Bag:
        """Concatenate the elements (each an iterable)."""
        return self.map_partitions(_concat)

    def pluck(self, key: Any, default: Any = _no_default) -> Bag:
        """``element[key]`` for each element (``key`` may be a list of keys)."""
        return self.map_partitions(partial(_pluck_partition, key, default))

    def unzip(self, n: int) -> tuple[Bag, ...]:
        """``n`` bags: the first items of the elements (tuples), the second items...

        Examples
        --------
        >>> import taskloom.bag as db
        >>> a, b = db.from_sequence([(1, "x"), (2, "y")]).unzip(2)
        >>> a.compute(), b.compute()
        ([1, 2], ['x', 'y'])
        """
        return tuple(self.pluck(i) for i in builtins.range(n))

    def distinct(self, key: Callable | None = None) -> Bag:
        """The distinct elements (by ``key(element)`` if given), in first-seen order."""
        return self.reduction(
            partial(_distinct, key), partial(_distinct_merge, key), out_type=Bag, name="distinct"
        )

    def product(self, other: Bag) -> Bag:
        """All pairs ``(x, y)`` of an element of this bag and one of ``other``."""
        if not isinstance(other, Bag):
            raise TypeError(f"product needs another Bag, got {type(other).__name__}")
        name = f"product-{tokenize(self.name, other.name)}"
        layer = {}
        for i in builtins.range(self.npartitions):
            for j in builtins.range(other.npartitions):
                layer[(name, i * other.npartitions + j)] = (
                    _product_partition,
                    (self.name, i),
                    (other.name, j),
                )
        layers = _merge_layers(self, other)
        layers[name] = layer
        return Bag(layers, name, self.npartitions * other.npartitions)

    def repartition(
        self, npartitions: int | None = None, partition_size: int | str | None = None
    ) -> Bag:
        """The same elements, in order, in ``npartitions`` partitions, as Dask splits them,
        or in partitions of about ``partition_size`` bytes each.

        Fewer partitions: whole partitions are joined, new partition ``j`` taking old
        partitions ``int(j * ratio)`` up to ``int((j + 1) * ratio)`` (``ratio`` = old
        count / new count). More: each old partition is cut in
        ``npartitions // self.npartitions`` pieces of near-equal length, the last
        one in that many more as remain. The same count returns this bag.

        ``partition_size`` (bytes, or text such as ``"10MB"``) computes the bag once to
        measure each partition (its list plus ``sys.getsizeof`` of each element), cuts
        those larger than the size in ``1 + size // partition_size`` pieces, then joins
        neighbours while their total stays within it, as Dask does.

        Examples
        --------
        >>> b = from_sequence(list(builtins.range(12)), npartitions=4)
        >>> b.repartition(3).map_partitions(len).compute()
        [3, 3, 6]
        >>> b.repartition(6).map_partitions(len).compute()
        [3, 3, 3, 1, 1, 1]
        """
        if (npartitions is None) == (partition_size is None):
            raise ValueError("repartition needs exactly one of npartitions and partition_size")
        if partition_size is not None:
            return self._repartition_size(partition_size)
        _check_npartitions(npartitions)
        old = self.npartitions
        if npartitions == old:
            return self
        name = f"repartition-{tokenize(self.name, npartitions)}"
        if npartitions < old:
            ratio = old / npartitions  # floats as in Dask, so boundaries agree
            bounds = [int(j * ratio) for j in builtins.range(npartitions + 1)]
            return self._joined(bounds, name)
        div, mod = divmod(npartitions, old)
        splits = [div + (mod if i == old - 1 else 0) for i in builtins.range(old)]
        return self._split(splits, name)

    def _split(self, splits: list[int], name: str) -> Bag:
        """Partition ``i`` cut in ``splits[i]`` near-equal pieces (``_split``)."""
        layer: dict = {}
        j = 0
        for i, k in enumerate(splits):
            if k == 1:
                layer[(name, j)] = (self.name, i)
                j += 1
                continue
            pieces = (f"{name}-split", i)
            layer[pieces] = (_split, (self.name, i), k)
            for piece in builtins.range(k):
                layer[(name, j)] = (operator.getitem, pieces, piece)
                j += 1
        layers = _merge_layers(self)
        layers[name] = layer
        return Bag(layers, name, j)

    def _joined(self, bounds: list[int], name: str) -> Bag:
        """New partition ``j`` the old ones ``bounds[j]`` up to ``bounds[j + 1]``
        (the bounds are completed to start at 0 and end at the last partition)."""
        if bounds[0] > 0:
            bounds = [0, *bounds]
        if bounds[-1] < self.npartitions:
            bounds = [*bounds, self.npartitions]
        layer = {
            (name, j): (_concat, [(self.name, i) for i in builtins.range(bounds[j], bounds[j + 1])])
            for j in builtins.range(len(bounds) - 1)
        }
        layers = _merge_layers(self)
        layers[name] = layer
        return Bag(layers, name, len(bounds) - 1)

    def _repartition_size(self, partition_size: int | str) -> Bag:
        from taskloom.utils import parse_bytes

        size = parse_bytes(partition_size)
        if size < 1:
            raise ValueError(f"partition_size must be a positive size, got {partition_size!r}")
        token = tokenize(self.name, size)
        usages = self.map_partitions(_mem_usage).compute()
        splits = [1 + u // size for u in usages]
        bag = self
        if builtins.any(k > 1 for k in splits):
            bag = self._split(splits, f"repartition-split-{token}")
            usages = [
                u / k
                for u, k in builtins.zip(usages, splits, strict=True)
                for _ in builtins.range(k)
            ]
        bounds, total = [0], 0.0
        for i, u in enumerate(usages):
            if total + u > size and i > bounds[-1]:
                bounds.append(i)
                total = 0.0
            total += u
        return bag._joined(bounds, f"repartition-{token}")

    def take(self, k: int, npartitions: int = 1, compute: bool = True, warn: bool = True) -> Any:
        """The first ``k`` elements, read from the first ``npartitions`` partitions
        (``-1``: as many as needed). Only those partitions are computed.

        Examples
        --------
        >>> import taskloom.bag as db
        >>> db.range(100, npartitions=10).take(3)
        (0, 1, 2)
        """
        if npartitions <= -1:  # any negative number: all of them, as in Dask
            npartitions = self.npartitions
        if not 1 <= npartitions <= self.npartitions:
            raise ValueError(
                f"npartitions must be -1 or between 1 and {self.npartitions}, got {npartitions}"
            )
        name = f"take-{tokenize(self.name, k, npartitions)}"
        keys = [(self.name, i) for i in builtins.range(npartitions)]
        layers = _merge_layers(self)
        layers[name] = {name: (_take, k, keys)}
        item = Item(layers, name)
        if not compute:
            return item
        result = item.compute()
        if warn and len(result) < k:
            import warnings

            warnings.warn(
                f"Insufficient elements for `take`: {k} requested, {len(result)} found in "
                f"{npartitions} partition(s); pass npartitions=-1 to read them all",
                stacklevel=2,
            )
        return result

    # -- reductions --
    def reduction(
        self,
        perpartition: Callable,
        aggregate: Callable,
        split_every: int | None = None,
        out_type: type = Item,
        name: str | None = None,
    ) -> Any:
        """A tree reduction: ``perpartition(list)`` per partition, then
        ``aggregate(list of partials)`` over at most ``split_every`` partials per task.

        As in Dask: empty partitions are skipped (``perpartition`` sees one only when
        the bag has a single partition), an inner ``aggregate`` whose partials all
        came from empty partitions is skipped too, and the final ``aggregate`` always
        runs, on the partials there are (possibly none). ``split_every`` defaults to
        8; ``False`` aggregates all partitions in one task.

        Examples
        --------
        >>> import taskloom.bag as db
        >>> b = db.range(10, npartitions=4)
        >>> b.reduction(sum, sum).compute()
        45
        """
        if split_every is None:
            split_every = 8
        elif split_every is False:
            split_every = builtins.max(self.npartitions, 2)
        if split_every < 2:
            raise ValueError(f"split_every must be at least 2, got {split_every}")
        prefix = name or f"{_name(perpartition)}-{_name(aggregate)}"
        token = tokenize(self.name, perpartition, aggregate, split_every)
        base = f"{prefix}-part-{token}"
        layer: dict = {}
        level = partition_tree(
            layer,
            self.name,
            self.npartitions,
            partial(_empty_safe_apply, perpartition, self.npartitions == 1),
            base,
            partial(_empty_safe_aggregate, aggregate, False),
            split_every,
            lambda depth: f"{prefix}-agg-{depth}-{token}",
        )
        final = f"{prefix}-{token}"
        last = partial(_empty_safe_aggregate, aggregate, True)
        layers = _merge_layers(self)
        if out_type is Bag:
            layer[(final, 0)] = (last, level)
            layers[final] = layer
            return Bag(layers, final, 1)
        layer[final] = (last, level)
        layers[final] = layer
        return Item(layers, final)

    def sum(self, split_every: int | None = None) -> Item:
        """Sum of the elements."""
        return self.reduction(sum, sum, split_every, name="sum")

    def count(self, split_every: int | None = None) -> Item:
        """Number of elements."""
        return self.reduction(len, sum, split_every, name="count")

    def any(self, split_every: int | None = None) -> Item:
        """Whether any element is truthy (``False`` for an empty bag)."""
        return self.reduction(builtins.any, builtins.any, split_every, name="any")

    def all(self, split_every: int | None = None) -> Item:
        """Whether every element is truthy (``True`` for an empty bag).

        Examples
        --------
        >>> import taskloom.bag as db
        >>> db.from_sequence([True, True, False]).all().compute()
        False
        """
        return self.reduction(builtins.all, builtins.all, split_every, name="all")

    def min(self, split_every: int | None = None) -> Item:
        """Smallest element (``ValueError`` when computed on an empty bag)."""
        return self.reduction(_min_of, _min_of, split_every, name="min")

    def max(self, split_every: int | None = None) -> Item:
        """Largest element (``ValueError`` when computed on an empty bag)."""
        return self.reduction(_max_of, _max_of, split_every, name="max")

    def mean(self, split_every: int | None = None) -> Item:
        """Arithmetic mean of the elements."""
        return self.reduction(_moments, _add_moments, split_every, name="mean").apply(_mean)

    def var(self, ddof: int = 0, split_every: int | None = None) -> Item:
        """Variance of the elements (``ddof`` as numpy's)."""
        moments = self.reduction(_moments, _add_moments, split_every, name="var")
        return moments.apply(partial(_var, ddof))

    def std(self, ddof: int = 0, split_every: int | None = None) -> Item:
        """Standard deviation of the elements (``ddof`` as numpy's)."""
        moments = self.reduction(_moments, _add_moments, split_every, name="std")
        return moments.apply(partial(_std, ddof))

    def frequencies(self, split_every: int | None = None, sort: bool = False) -> Bag:
        """``(element, count)`` pairs; with ``sort``, most frequent first."""
        counted = self.reduction(
            _count_partition, _merge_counts, split_every, out_type=Bag, name="frequencies"
        )
        return counted.map_partitions(partial(_counts_to_pairs, sort))

    def topk(self, k: int, key: Callable | None = None, split_every: int | None = None) -> Bag:
        """The ``k`` largest elements (by ``key`` if given), largest first."""
        f = partial(_topk, k, key)
        return self.reduction(
            f, partial(_topk_merge, k, key), split_every, out_type=Bag, name="topk"
        )

    def fold(
        self,
        binop: Callable,
        combine: Callable | None = None,
        initial: Any = _no_default,
        split_every: int | None = None,
        out_type: type = Item,
    ) -> Any:
        """Reduce with ``binop(total, element)``; partial totals with ``combine`` (default
        ``binop``), starting from ``initial`` if given. ``out_type=Bag`` gives a bag
        of one partition: the total itself (as in Dask).

        Examples
        --------
        >>> import taskloom.bag as db
        >>> db.range(5, npartitions=2).fold(max).compute()
        4
        """
        combine = combine or binop
        per = partial(_fold, binop, initial)
        agg = partial(_fold, combine, _no_default)
        return self.reduction(per, agg, split_every, out_type=out_type, name="fold")

    def foldby(
        self,
        key: Callable | Any,
        binop: Callable,
        initial: Any = _no_default,
        combine: Callable | None = None,
        combine_initial: Any = _no_default,
        split_every: int | None = None,
    ) -> Bag:
        """Group by ``key`` and fold each group: ``(key, total)`` pairs.

        ``binop(total, element)`` folds elements within a partition (from ``initial``),
        ``combine(total, total)`` merges partition totals (from ``combine_initial``).

        Examples
        --------
        >>> import taskloom.bag as db
        >>> b = db.from_sequence([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], npartitions=3)
        >>> sorted(b.foldby(lambda x: x % 2, lambda t, x: t + x, 0).compute())
        [(0, 20), (1, 25)]
        """
        keyfunc = key if callable(key) else operator.itemgetter(key)
        combine = combine or binop
        per = partial(_foldby_partition, keyfunc, binop, initial)
        agg = partial(_foldby_merge, combine, combine_initial)
        out = self.reduction(per, agg, split_every, out_type=Bag, name="foldby")
        return out.map_partitions(_items)

    def groupby(
        self,
        grouper: Callable | Any,
        method: None = None,
        npartitions: int | None = None,
        blocksize: int = 2**20,
        max_branch: int | None = None,
        shuffle: str | None = None,
    ) -> Bag:
        """``(key, [elements])`` pairs, by a hash shuffle into ``npartitions`` partitions
        (default: as many as this bag).

        ``shuffle`` may be ``"tasks"``, ``"disk"`` or ``"p2p"`` (Dask's names): all run
        the same in-memory all-to-all shuffle, so ``blocksize`` (Dask's disk blocks)
        and ``max_branch`` (Dask's staged task shuffle) change nothing here.
        ``method`` is Dask's old name for ``shuffle`` and, as there, an error.

        Examples
        --------
        >>> import taskloom.bag as db
        >>> b = db.from_sequence([0, 1, 2, 3, 4, 5], npartitions=2)
        >>> sorted(b.groupby(lambda x: x % 3).compute())
        [(0, [0, 3]), (1, [1, 4]), (2, [2, 5])]
        """
        if method is not None:
            raise TypeError("groupby: the method= keyword has been moved to shuffle=")
        if shuffle not in (None, "tasks", "disk", "p2p"):
            raise NotImplementedError(f"groupby shuffle must be 'tasks' or 'disk', got {shuffle!r}")
        keyfunc = grouper if callable(grouper) else operator.itemgetter(grouper)
        n = npartitions or self.npartitions
        _check_npartitions(n)
        token = tokenize(self.name, grouper, n)
        split = f"groupby-split-{token}"
        name = f"groupby-{token}"
        layer: dict = {
            (split, i): (_shuffle_split, keyfunc, n, (self.name, i))
            for i in builtins.range(self.npartitions)
        }
        for j in builtins.range(n):
            parts = [(_bucket, (split, i), j) for i in builtins.range(self.npartitions)]
            layer[(name, j)] = (_group, keyfunc, parts)
        layers = _merge_layers(self)
        layers[name] = layer
        return Bag(layers, name, n)

    # -- output --
    def to_delayed(self, optimize_graph: bool = True) -> list[Delayed]:
        """One :class:`~taskloom.Delayed` per partition."""
        dsk = self.__dask_graph__()
        return [Delayed(k, dsk) for k in self.__dask_keys__()]

    def to_dataframe(
        self, meta: Any = None, columns: Any = None, optimize_graph: bool = True
    ) -> Any:
        """A :class:`taskloom.dataframe.DataFrame` with one pandas partition per bag
        partition: elements are rows (dicts by key, tuples/lists by position, with
        ``columns`` naming them). Without ``meta`` the first partition is computed to
        learn the columns and dtypes; every partition is cast to them.

        Examples
        --------
        >>> import taskloom.bag as db
        >>> b = db.from_sequence([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}], npartitions=2)
        >>> b.to_dataframe().a.sum().compute()
        np.int64(3)
        """
        import pandas as pd

        from taskloom.dataframe.core import meta_from_user, new_collection

        if meta is None:
            first = self.__dask_graph__()
            head = _records_frame(threaded_get(first, (self.name, 0)), columns, None)
            meta = head.iloc[:0]
        else:
            meta = meta_from_user(meta)
            if not isinstance(meta, pd.DataFrame):
                raise TypeError(f"to_dataframe meta must describe a frame, got {meta!r}")
        name = f"to-dataframe-{tokenize(self.name, columns, list(meta.columns))}"
        layer = {
            (name, i): (_records_frame, (self.name, i), columns, meta)
            for i in builtins.range(self.npartitions)
        }
        layers = {**self._layers, name: layer}
        return new_collection(layers, name, meta, [None] * (self.npartitions + 1))

    def to_textfiles(
        self,
        path: str | Sequence[str],
        name_function: Callable[[int], str] | None = None,
        compression: str | None = "infer",
        encoding: str = "utf-8",
        compute: bool = True,
        storage_options: dict | None = None,
        last_endline: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Write one text file per partition: see :func:`to_textfiles`."""
        return to_textfiles(
            self,
            path,
            name_function,
            compression,
            encoding,
            compute,
            storage_options,
            last_endline,
            **kwargs,
        )

    def to_avro(
        self,
        filename: str | Sequence[str],
        schema: dict,
        name_function: Callable[[int], str] | None = None,
        storage_options: dict | None = None,
        codec: str = "null",
        sync_interval: int = 16000,
        metadata: dict | None = None,
        compute: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Write one Avro file per partition: see :func:`taskloom.bag_avro.to_avro`."""
        from taskloom.bag_avro import to_avro

        return to_avro(
            self,
            filename,
            schema,
            name_function,
            storage_options,
            codec,
            sync_interval,
            metadata,
            compute,
            **kwargs,
        )


class StringAccessor:
    """``str`` methods mapped over a bag's elements (``b.str.lower()``), as Dask's
    ``Bag.str``; ``match`` filters by a shell-style pattern.

    Examples
    --------
    >>> import taskloom.bag as db
    >>> b = db.from_sequence(["Alice Smith", "Bob Jones", "Charlie Smith"])
    >>> b.str.lower().compute()
    ['alice smith', 'bob jones', 'charlie smith']
    >>> b.str.match("*Smith").compute()
    ['Alice Smith', 'Charlie Smith']
    >>> b.str.split(" ").compute()[0]
    ['Alice', 'Smith']
    """

    def __init__(self, bag: Bag) -> None:
        self._bag = bag

    def __dir__(self) -> list[str]:
        return sorted(set(dir(type(self))) | set(dir(str)))

    def __getattr__(self, key: str) -> Callable[..., Bag]:
        if key.startswith("_") or not hasattr(str, key):
            raise AttributeError(f"'str' has no method {key!r} to map over a bag")

        def method(*args: Any, **kwargs: Any) -> Bag:
            return self._bag.map(operator.methodcaller(key, *args, **kwargs))

        method.__name__ = key
        method.__doc__ = getattr(str, key).__doc__
        return method

    def match(self, pattern: str) -> Bag:
        """The strings matching a shell-style ``pattern`` (:func:`fnmatch.fnmatch`)."""
        from fnmatch import fnmatch

        return self._bag.filter(partial(fnmatch, pat=pattern))


# -- helpers (module level so tasks pickle) ------------------------------------------


def _name(func: Any) -> str:
    from taskloom.delayed import funcname

    return funcname(func)


def _check_npartitions(n: Any) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"npartitions must be a positive integer, got {n!r}")


class _Args:
    """The arguments of ``map``/``map_partitions``, split as Dask splits them.

    Bags (positional or keyword) are read partition by partition; positional Items
    and Delayed values by key; keyword values through :func:`taskloom.delayed.unpack`
    (Delayed values and collections anywhere inside computed, as Dask's
    ``unpack_scalar_dask_kwargs``); other positional values are passed as given.
    """

    def __init__(self, bag: Bag, args: tuple, kwargs: dict) -> None:
        self.bags: list[Bag] = []
        self.layers: dict = {}
        self.args: list = []  # a _BagArg, a key, or a quoted value
        self.zipped: tuple[bool, ...] = tuple(isinstance(a, Bag) for a in args)
        for a in args:
            if isinstance(a, Bag):
                self.args.append(_BagArg(self._zip(bag, a)))
            elif isinstance(a, Item):
                self.layers.update(a._layers)
                self.args.append(a.key)
            elif isinstance(a, Delayed):
                self.layers[("delayed", a.key)] = a.__dask_graph__()
                self.args.append(a.key)
            elif is_dask_collection(a):
                raise TypeError(
                    f"map arguments may be bags, Items, Delayed values or plain values, "
                    f"not {type(a).__name__} (pass it as a keyword argument to have it "
                    "computed)"
                )
            else:
                self.args.append(data_task(a))
        self.bag_kwargs = {k: self._zip(bag, v) for k, v in kwargs.items() if isinstance(v, Bag)}
        plain = {k: v for k, v in kwargs.items() if not isinstance(v, Bag)}
        self.kwargs_task, deps = unpack(plain)
        for d in deps:
            self.layers[("delayed", d.key)] = d.__dask_graph__()
        # The keyword arguments themselves when nothing in them needs computing.
        self.static_kwargs: dict | None = None if deps else plain

    def _zip(self, bag: Bag, other: Bag) -> str:
        if other.npartitions != bag.npartitions:
            raise ValueError(
                f"bags to zip must have the same number of partitions: "
                f"{bag.npartitions} and {other.npartitions}"
            )
        self.bags.append(other)
        return other.name

    def positional(self, i: int) -> list:
        return [(a.name, i) if isinstance(a, _BagArg) else a for a in self.args]

    def keywords(self, i: int) -> Any:
        """A task for partition ``i``'s keyword arguments (a dict)."""
        if not self.bag_kwargs:
            return self.kwargs_task
        parts = (dict, [[k, (name, i)] for k, name in self.bag_kwargs.items()])
        return (_merged, self.kwargs_task, parts)


def _merged(a: dict, b: dict) -> dict:
    return {**a, **b}


class _BagArg:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _call_partition(func: Callable, part: Any, args: list, kwargs: dict) -> Any:
    return func(part, *args, **kwargs)


def _map_partition(
    func: Callable,
    zipped: tuple[bool, ...],
    zipped_kwargs: tuple[str, ...],
    part: Any,
    args: list,
    kwargs: dict,
) -> list:
    """``func`` over the elements of ``part``, zipped element by element with the
    arguments flagged in ``zipped`` and the keyword arguments named in
    ``zipped_kwargs`` (partitions of other bags); the rest go to every call."""
    if not any(zipped) and not zipped_kwargs:
        if args or kwargs:
            return [func(x, *args, **kwargs) for x in part]
        return [func(x) for x in part]
    part = list(part)
    columns = [list(a) if z else None for a, z in builtins.zip(args, zipped, strict=True)]
    kw_columns = {k: list(kwargs[k]) for k in zipped_kwargs}
    for c in [*columns, *kw_columns.values()]:
        if c is not None and len(c) != len(part):
            raise ValueError(
                "map zips bags whose partitions differ in length: a partition of "
                f"{len(part)} elements with one of {len(c)} (as Dask, the bags must be "
                "partitioned identically)"
            )
    fixed = {k: v for k, v in kwargs.items() if k not in kw_columns}
    return [
        func(
            x,
            *[a if c is None else c[j] for a, c in builtins.zip(args, columns, strict=True)],
            **fixed,
            **{k: c[j] for k, c in kw_columns.items()},
        )
        for j, x in enumerate(part)
    ]


def _starmap_partition(func: Callable, part: list, **kwargs: Any) -> list:
    return [func(*x, **kwargs) for x in part]


def _filter_partition(predicate: Callable, part: list) -> list:
    return [x for x in part if predicate(x)]


def _remove_partition(predicate: Callable, part: list) -> list:
    return [x for x in part if not predicate(x)]


def _accumulate_part(binop: Callable, part: Iterable, carry: Any, first: bool) -> tuple:
    """(this partition's running totals, the total to carry on). ``carry`` is
    ``_no_default`` until some element has been seen (and no ``initial`` was given)."""
    if carry is _no_default:
        out = list(itertools.accumulate(part, binop))
    else:
        out = list(itertools.accumulate(part, binop, initial=carry))
        if not first:  # the carried total belongs to the previous partition
            out = out[1:]
    return out, (out[-1] if out else carry)


def _join_partition(on_self: Callable, on_other: Callable, other: Iterable, part: list) -> list:
    index: dict = {}
    for y in other:
        index.setdefault(on_other(y), []).append(y)
    return [(y, x) for x in part for y in index.get(on_self(x), ())]


def _random_sample_partition(part: Iterable, state: tuple, prob: float) -> list:
    rng = pyrandom.Random()
    rng.setstate(state)
    return [x for x in part if rng.random() < prob]


def _pluck_partition(key: Any, default: Any, part: list) -> list:
    if isinstance(key, list):
        if default is _no_default:
            return [tuple(x[k] for k in key) for x in part]
        return [tuple(_get(x, k, default) for k in key) for x in part]
    if default is _no_default:
        return [x[key] for x in part]
    return [_get(x, key, default) for x in part]


def _get(x: Any, key: Any, default: Any) -> Any:
    try:
        return x[key]
    except (KeyError, IndexError, TypeError):
        return default


def _distinct(key: Callable | None, part: list) -> list:
    seen: dict = {}
    for x in part:
        seen.setdefault(key(x) if key else x, x)
    return list(seen.values())


def _distinct_merge(key: Callable | None, parts: list) -> list:
    return _distinct(key, _concat(parts))


def _product_partition(a: list, b: list) -> list:
    return [(x, y) for x in a for y in b]


def _split(part: Iterable, n: int) -> list[list]:
    """``part`` cut in ``n`` pieces of near-equal length, as ``dask.bag.core.split``."""
    seq = part if isinstance(part, list | tuple) else list(part)
    step = len(seq) / n
    pieces = [seq[int(step * i) : int(step * (i + 1))] for i in builtins.range(n - 1)]
    pieces.append(seq[int(step * (n - 1)) :])
    return pieces


def _mem_usage(part: Iterable) -> list[int]:
    """Bytes a partition holds: its list and each element, shallowly (a one-element
    list, so the result is one partition of the measuring bag)."""
    import sys

    part = part if isinstance(part, list) else list(part)
    return [sys.getsizeof(part) + sum(sys.getsizeof(x) for x in part)]


def _take(k: int, parts: list) -> tuple:
    return tuple(itertools.islice(itertools.chain.from_iterable(parts), k))


# What an empty partition contributes to a reduction: nothing (Dask's ``no_result``).
_NO_RESULT = _Sentinel("_NO_RESULT")


def _empty_safe_apply(func: Callable, is_last: bool, part: Any) -> Any:
    """``func(part)``, or nothing for an empty partition unless it is the last chance
    (``dask.bag.core.empty_safe_apply``)."""
    if not is_last:
        if isinstance(part, Iterator):
            try:
                first = next(part)
            except StopIteration:
                return _NO_RESULT
            part = itertools.chain([first], part)
        elif _is_empty(part):
            return _NO_RESULT
    return func(part)


def _is_empty(part: Any) -> bool:
    try:
        return len(part) == 0
    except TypeError:  # not sized: Dask peeks too
        return next(iter(part), _NO_RESULT) is _NO_RESULT


def _empty_safe_aggregate(func: Callable, is_last: bool, parts: list) -> Any:
    """``func`` of the partials that are not nothing (``empty_safe_aggregate``)."""
    return _empty_safe_apply(func, is_last, [p for p in parts if p is not _NO_RESULT])


def _min_of(values: list) -> Any:
    if not values:
        raise ValueError("min() of an empty bag")
    return builtins.min(values)


def _max_of(values: list) -> Any:
    if not values:
        raise ValueError("max() of an empty bag")
    return builtins.max(values)


def _moments(part: list) -> tuple:
    """(count, total, sum of squared deviations from the mean) of one partition."""
    n = len(part)
    if n == 0:
        return (0, 0.0, 0.0)
    total = math.fsum(part)
    mean = total / n
    return (n, total, math.fsum((x - mean) ** 2 for x in part))


def _add_moments(parts: list) -> tuple:
    """Chan et al.'s parallel combination of (count, total, sum of squared deviations).

    Totals, not means, are carried, so the mean is total / count as in Dask (exact
    for integers: the mean of ``[13, -28, 15]`` is 0.0, not a rounding error).
    """
    n, total, m2 = 0, 0.0, 0.0
    for nb, tb, m2b in parts:
        if nb == 0:
            continue
        if n:
            delta = tb / nb - total / n
            m2 += m2b + delta * delta * n * nb / (n + nb)
        else:
            m2 = m2b
        total += tb
        n += nb
    return (n, total, m2)


def _mean(m: tuple) -> float:
    if m[0] == 0:
        raise ZeroDivisionError("mean() of an empty bag")
    return m[1] / m[0]


def _var(ddof: int, m: tuple) -> float:
    n, _, m2 = m
    if n - ddof <= 0:
        raise ZeroDivisionError(f"var() of {n} elements with ddof={ddof}")
    return m2 / (n - ddof)


def _std(ddof: int, m: tuple) -> float:
    return math.sqrt(_var(ddof, m))


def _count_partition(part: list) -> dict:
    counts: dict = defaultdict(int)
    for x in part:
        counts[x] += 1
    return counts


def _merge_counts(parts: list) -> dict:
    total: dict = defaultdict(int)
    for counts in parts:
        for k, v in counts.items():
            total[k] += v
    return total


def _counts_to_pairs(sort: bool, counts: dict) -> list:
    pairs = list(counts.items())
    if sort:
        pairs.sort(key=lambda kv: kv[1], reverse=True)
    return pairs


def _topk(k: int, key: Callable | None, part: list) -> list:
    return heapq.nlargest(k, part, key=key)


def _topk_merge(k: int, key: Callable | None, parts: list) -> list:
    return heapq.nlargest(k, _concat(parts), key=key)


def _fold(binop: Callable, initial: Any, values: Iterable) -> Any:
    """``reduce(binop, values[, initial])``; ``initial`` starts each partition only
    (partials are combined without it, as in Dask)."""
    if initial is not _no_default:
        return reduce(binop, values, initial)
    it = iter(values)
    first = next(it, _NO_RESULT)
    if first is _NO_RESULT:
        raise TypeError("fold() of an empty bag with no initial value")
    return reduce(binop, it, first)


def _foldby_partition(key: Callable, binop: Callable, initial: Any, part: list) -> dict:
    groups: dict = {}
    for x in part:
        k = key(x)
        if k in groups:
            groups[k] = binop(groups[k], x)
        elif initial is _no_default:
            groups[k] = x
        else:
            groups[k] = binop(initial() if callable(initial) else initial, x)
    return groups


def _foldby_merge(combine: Callable, combine_initial: Any, parts: list) -> dict:
    out: dict = {}
    for groups in parts:
        for k, v in groups.items():
            if k in out:
                out[k] = combine(out[k], v)
            elif combine_initial is _no_default:
                out[k] = v
            else:
                init = combine_initial() if callable(combine_initial) else combine_initial
                out[k] = combine(init, v)
    return out


def _items(groups: dict) -> list:
    return list(groups.items())


def stable_hash(x: Any) -> int:
    """A hash that is the same in every process (Python's ``hash`` of ``str`` is not).

    Examples
    --------
    >>> stable_hash("a") == stable_hash("a"), stable_hash(3)
    (True, 3)
    """
    if isinstance(x, bool | int):
        return int(x)
    if isinstance(x, str):
        return zlib.crc32(x.encode("utf-8", "surrogatepass"))
    if isinstance(x, bytes):
        return zlib.crc32(x)
    if isinstance(x, tuple):
        h = 0x345678
        for item in x:
            h = (h * 1000003) ^ stable_hash(item)
        return h & 0xFFFFFFFFFFFF
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return zlib.crc32(pickle.dumps(x, protocol=4))


def _shuffle_split(key: Callable, n: int, part: list) -> list:
    buckets: list[list] = [[] for _ in builtins.range(n)]
    for x in part:
        buckets[stable_hash(key(x)) % n].append(x)
    return buckets


def _bucket(buckets: list, j: int) -> list:
    return buckets[j]


def _group(key: Callable, parts: list) -> list:
    groups: dict = {}
    for part in parts:
        for x in part:
            groups.setdefault(key(x), []).append(x)
    return list(groups.items())


def _records_frame(part: list, columns: Any, meta: Any) -> Any:
    import pandas as pd

    rows = list(part)
    if columns is None and meta is not None:
        columns = list(meta.columns)
    if rows and isinstance(rows[0], dict):
        frame = pd.DataFrame.from_records(rows, columns=columns)
    else:
        frame = pd.DataFrame(rows, columns=columns)
    if meta is not None:
        if len(frame) == 0:
            return meta
        wrong = {c: d for c, d in meta.dtypes.items() if frame[c].dtype != d}
        if wrong:
            frame = frame.astype(wrong)
    return frame


def _output_paths(
    path: str | Sequence[str], n: int, name_function: Callable[[int], str] | None, stem: str
) -> list[str]:
    if not isinstance(path, str):
        paths = list(path)
        if len(paths) != n:
            raise ValueError(f"{len(paths)} paths given for {n} partitions")
        return paths
    name_function = name_function or str
    if "*" not in path:
        os.makedirs(path, exist_ok=True)
        path = os.path.join(path, f"*.{stem}")
    if path.count("*") != 1:
        raise ValueError(f"the path pattern must contain exactly one '*', got {path!r}")
    return [path.replace("*", name_function(i)) for i in builtins.range(n)]


_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz"}


def _compression(path: str, compression: str | None) -> str | None:
    """The codec for ``path``: ``"infer"`` reads it from the extension, as Dask."""
    if compression == "infer":
        return _COMPRESSIONS.get(os.path.splitext(path)[1])
    if compression is not None and compression not in _COMPRESSIONS.values():
        raise ValueError(
            f"compression must be 'infer', None or one of {sorted(_COMPRESSIONS.values())}, "
            f"got {compression!r}"
        )
    return compression


def _codec_open(path: str, mode: str, compression: str | None, **kwargs: Any) -> Any:
    """``open`` through ``compression``'s standard-library module (``None``: plain)."""
    if compression is None:
        return open(path, mode, **kwargs)
    import importlib

    module = {"gzip": "gzip", "bz2": "bz2", "xz": "lzma"}[compression]
    return importlib.import_module(module).open(path, mode, **kwargs)


def _open_text(path: str, compression: str | None, encoding: str, options: dict | None) -> Any:
    if not _files.is_local(path):
        try:
            import fsspec
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(f"writing to {path!r} needs fsspec: pip install fsspec") from e
        return fsspec.open(
            path, "wt", compression=compression, encoding=encoding, **(options or {})
        ).open()
    return _codec_open(path, "wt", compression, encoding=encoding)


def _write_text(
    part: list,
    path: str,
    encoding: str,
    last_endline: bool,
    compression: str | None = None,
    options: dict | None = None,
) -> str:
    """Write one partition's lines to ``path``, whole or not at all: an element that
    cannot be turned into text, or a write that fails, leaves an existing file intact
    (see :mod:`taskloom._files`)."""
    directory = os.path.dirname(path)
    if directory and _files.is_local(path):
        os.makedirs(directory, exist_ok=True)
    with _files.atomic_write(path) as temp, _open_text(temp, compression, encoding, options) as f:
        lines = [x if isinstance(x, str) else str(x) for x in part]
        text = "\n".join(line[:-1] if line.endswith("\n") else line for line in lines)
        f.write(text + ("\n" if last_endline and lines else ""))
    return path


def to_textfiles(
    b: Bag,
    path: str | Sequence[str],
    name_function: Callable[[int], str] | None = None,
    compression: str | None = "infer",
    encoding: str = "utf-8",
    compute: bool = True,
    storage_options: dict | None = None,
    last_endline: bool = False,
    **kwargs: Any,
) -> Any:
    """Write one text file per partition of ``b``, one element per line.

    ``path`` is a directory, a pattern with one ``*`` (replaced by
    ``name_function(i)``, default ``str(i)``), or a list of paths. ``compression``
    ``"infer"`` compresses by the file extension (``.gz``, ``.bz2``, ``.xz``); a path
    with a URL scheme is written through fsspec, with ``storage_options`` and the
    other keyword arguments as its options (local files have none). Each file is
    written whole or not at all: a partition that fails (while computing, or while
    its elements are turned into text and written) leaves an existing file at its
    path byte for byte as it was, and no staging files behind.
    Returns the paths written (or, with ``compute=False``, a Delayed of them).

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> paths = to_textfiles(from_sequence(["a", "b", "c"], npartitions=2), d)
    >>> [os.path.basename(p) for p in paths], open(paths[0]).read()
    (['0.part', '1.part'], 'a\\nb')
    """
    if not isinstance(b, Bag):
        raise TypeError(f"to_textfiles writes a Bag, got {type(b).__name__}")
    options = {**(storage_options or {}), **kwargs} or None
    paths = _output_paths(path, b.npartitions, name_function, "part")
    codecs = [_compression(p, compression) for p in paths]
    from taskloom.delayed import delayed

    dsk = b.__dask_graph__()
    writes = [
        delayed(_write_text, pure=True)(Delayed(k, dsk), p, encoding, last_endline, c, options)
        for k, p, c in builtins.zip(b.__dask_keys__(), paths, codecs, strict=True)
    ]
    out = delayed(list)(writes)
    return out.compute() if compute else out


# -- creation -----------------------------------------------------------------------


def _sequence_partition_size(n: int, partition_size: Any, npartitions: Any) -> int:
    """Elements per partition for :func:`from_sequence`: Dask's rule, exactly.

    ``partition_size`` wins when both are given (a falsy one counts as absent);
    ``npartitions`` gives ``ceil(n / npartitions)`` up to 100 elements and
    ``max(1, floor(n / npartitions))`` beyond (so a long sequence may get more
    partitions than asked); neither gives 1 up to 100 elements and
    ``ceil(sqrt(n) / 10)`` beyond.
    """
    if npartitions is not None and not partition_size:
        _check_npartitions(npartitions)
        # Float division as in Dask, so sizes agree even where it rounds.
        if n <= 100:
            return math.ceil(n / npartitions)
        return builtins.max(1, math.floor(n / npartitions))
    if partition_size is None:
        if n <= 100:
            return 1
        return builtins.max(1, math.ceil(math.sqrt(n) / math.sqrt(100)))
    bad = isinstance(partition_size, bool) or not isinstance(partition_size, int)
    if bad or partition_size < 1:
        raise ValueError(f"partition_size must be a positive integer, got {partition_size!r}")
    return partition_size


def from_sequence(
    seq: Iterable, partition_size: int | None = None, npartitions: int | None = None
) -> Bag:
    """A bag of the elements of ``seq``, in partitions sized by Dask's rules.

    Parameters
    ----------
    seq : iterable
        The elements (read into a list at once).
    partition_size : int, optional
        Elements per partition (the last may hold fewer). Takes precedence over
        ``npartitions``, as in Dask.
    npartitions : int, optional
        Wanted number of partitions. As in Dask, the partition size is
        ``ceil(len / npartitions)`` for up to 100 elements (so there may be fewer
        partitions: 10 elements in 7 partitions make 5 of 2) and
        ``floor(len / npartitions)`` beyond (there may be one more).

    Without either, one element per partition up to 100 elements, else partitions of
    ``ceil(sqrt(len) / 10)`` elements. An empty sequence makes one empty partition.

    Raises
    ------
    ValueError
        For a ``partition_size`` or ``npartitions`` that is not a positive integer.

    Examples
    --------
    >>> b = from_sequence("abcdefghij", npartitions=3)
    >>> b.npartitions, b.map_partitions(len).compute()
    (3, [4, 4, 2])
    >>> from_sequence("abcdefghij", npartitions=7).npartitions
    5
    >>> from_sequence("abcdefghij", partition_size=3).map_partitions(len).compute()
    [3, 3, 3, 1]
    """
    seq = list(seq)
    size = _sequence_partition_size(len(seq), partition_size, npartitions)
    name = f"from_sequence-{tokenize(seq, size)}"
    starts = builtins.range(0, len(seq), size) if seq else [0]
    layer = {(name, i): data_task(seq[j : j + size]) for i, j in enumerate(starts)}
    return Bag({name: layer}, name, len(layer))


def range(n: int, npartitions: int) -> Bag:
    """A bag of ``0, 1, ..., n - 1`` in ``npartitions`` partitions, made lazily.

    Partitions as in Dask: ``n // npartitions`` numbers each, the last one taking the
    rest. Where Dask fails (fewer numbers than partitions) the numbers are spread one
    per partition instead.

    Raises
    ------
    ValueError
        For an ``n`` that is not a non-negative integer, or an ``npartitions`` that is
        not a positive one.

    Examples
    --------
    >>> range(5, npartitions=2).compute()
    [0, 1, 2, 3, 4]
    >>> range(10, npartitions=4).map_partitions(len).compute()
    [2, 2, 2, 4]
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    _check_npartitions(npartitions)
    size = n // npartitions
    if size:
        bounds = [i * size for i in builtins.range(npartitions)] + [n]
    else:
        bounds = [n * i // npartitions for i in builtins.range(npartitions + 1)]
    name = f"range-{tokenize(n, npartitions)}"
    layer = {
        (name, i): (_range_part, bounds[i], bounds[i + 1]) for i in builtins.range(npartitions)
    }
    return Bag({name: layer}, name, npartitions)


def _range_part(start: int, stop: int) -> list:
    return list(builtins.range(start, stop))


def from_delayed(values: Delayed | Sequence[Delayed]) -> Bag:
    """A bag with one partition per Delayed value (each an iterable)."""
    if isinstance(values, Delayed):
        values = [values]
    values = list(values)
    if not all(isinstance(v, Delayed) for v in values):
        raise TypeError("from_delayed needs Delayed values")
    name = f"from_delayed-{tokenize(*[v.key for v in values])}"
    layers: dict = {}
    for v in values:
        layers[("delayed", v.key)] = v.__dask_graph__()
    layers[name] = {(name, i): (list, v.key) for i, v in enumerate(values)}
    return Bag(layers, name, len(values))


def _expand_paths(urlpath: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    """The files ``urlpath`` names: a path, a glob pattern, or a list of them (each
    pattern must match something, so a typo fails here rather than as an empty bag)."""
    patterns = [urlpath] if isinstance(urlpath, str | os.PathLike) else list(urlpath)
    paths: list[str] = []
    for p in patterns:
        p = os.fspath(p)
        matched = sorted(globmod.glob(p)) if globmod.has_magic(p) else [p]
        if not matched or (not globmod.has_magic(p) and not os.path.exists(p)):
            raise FileNotFoundError(f"no file matches {p!r}")
        paths.extend(matched)
    return paths


def read_text(
    urlpath: str | os.PathLike | Sequence[str | os.PathLike],
    blocksize: int | str | None = None,
    compression: str | None = "infer",
    encoding: str = "utf-8",
    errors: str = "strict",
    linedelimiter: str | None = None,
    collection: bool = True,
    storage_options: dict | None = None,
    files_per_partition: int | None = None,
    include_path: bool = False,
) -> Bag | list[Delayed]:
    """A bag of the lines of text files (each line keeps its delimiter, as in Dask).

    Parameters
    ----------
    urlpath : str, path or list
        A path, a glob pattern, or a list of them (local files).
    blocksize : int or str, optional
        Bytes per partition (``"10MB"`` too): each file is cut in
        ``size // blocksize`` blocks of near-equal size (at least one), as Dask cuts
        them, a line belonging to the block its first byte is in. ``None``: one
        partition per file (or per ``files_per_partition`` files).
    compression : str or None
        ``"infer"`` (from the extension: ``.gz``, ``.bz2``, ``.xz``), ``None``, or a
        codec name. Compressed files are read whole: not with ``blocksize``.
    encoding, errors : str
        How bytes are decoded, as :func:`open`.
    linedelimiter : str, optional
        ``None`` reads universal newlines (``\r\n`` and ``\r`` become ``\n``), as
        :func:`open` does; ``"\n"``, ``"\r"``, ``"\r\n"`` or ``""`` are
        :func:`open`'s ``newline``; any other string splits the text on it (an empty
        piece after a final delimiter is not a line).
    collection : bool
        ``False`` returns a list of Delayed lists, one per partition.
    storage_options : dict, optional
        Only ``None`` or ``{}``: local files.
    files_per_partition : int, optional
        Files read into each partition (not with ``blocksize``).
    include_path : bool
        Elements are ``(line, path)`` pairs.

    Raises
    ------
    FileNotFoundError
        If a pattern matches no file, naming the pattern.
    ValueError
        For a bad ``blocksize``/``files_per_partition``, both given, or ``blocksize``
        with compressed files.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with open(os.path.join(d, "a.txt"), "w") as f:
    ...     _ = f.write("x;y;z")
    >>> read_text(os.path.join(d, "*.txt"), linedelimiter=";").compute()
    ['x;', 'y;', 'z']
    """
    if blocksize is not None and files_per_partition is not None:
        raise ValueError("read_text: only one of blocksize and files_per_partition can be set")
    if storage_options:
        raise ValueError(f"storage_options: only local files are read, got {storage_options!r}")
    if isinstance(blocksize, str):
        from taskloom.utils import parse_bytes

        blocksize = parse_bytes(blocksize)
    if blocksize is not None and (
        isinstance(blocksize, bool) or not isinstance(blocksize, int) or blocksize < 1
    ):
        raise ValueError(f"blocksize must be a positive number of bytes, got {blocksize!r}")
    if files_per_partition is not None and (
        isinstance(files_per_partition, bool)
        or not isinstance(files_per_partition, int)
        or files_per_partition < 1
    ):
        raise ValueError(
            f"files_per_partition must be a positive integer, got {files_per_partition!r}"
        )
    paths = _expand_paths(urlpath)
    codecs = [_compression(p, compression) for p in paths]
    if blocksize is not None and builtins.any(codecs):
        raise ValueError("read_text: compressed files cannot be cut in blocks; pass blocksize=None")
    read = partial(_read_block, encoding, errors, include_path, linedelimiter)
    token = tokenize(paths, [os.path.getmtime(p) for p in paths], blocksize, compression)
    name = f"read_text-{tokenize(token, encoding, errors, linedelimiter, include_path)}"
    tasks: list = []
    if blocksize is None:
        files = [(read, p, c, 0, None) for p, c in builtins.zip(paths, codecs, strict=True)]
        step = files_per_partition or 1
        for k in builtins.range(0, len(files), step):
            group = files[k : k + step]
            tasks.append(group[0] if len(group) == 1 else (_concat, group))
    else:
        for p in paths:
            for start, end in _byte_blocks(os.path.getsize(p), blocksize):
                tasks.append((read, p, None, start, end))
        if not tasks:  # only empty files (where Dask fails): one empty partition
            tasks.append((read, paths[0], None, 0, 0))
    bag = Bag({name: {(name, i): t for i, t in enumerate(tasks)}}, name, len(tasks))
    return bag if collection else bag.to_delayed()


def _byte_blocks(size: int, blocksize: int) -> list[tuple[int, int]]:
    """``[start, end)`` byte ranges of a file, as ``dask.bytes.read_bytes`` cuts them:
    ``size // blocksize`` blocks (at least one; none for an empty file), the spare
    bytes spread among them."""
    if size == 0:
        return []
    step = size / (size // blocksize) if size % blocksize and size > blocksize else blocksize
    starts, place = [0], 0.0
    while size - place > step * 2 - 1:
        place += step
        starts.append(int(place))
    return list(builtins.zip(starts, [*starts[1:], size], strict=True))


_NEWLINES = (None, "", "\n", "\r", "\r\n")


def _read_block(
    encoding: str,
    errors: str,
    include_path: bool,
    delimiter: str | None,
    path: str,
    compression: str | None,
    start: int,
    end: int | None,
) -> list:
    """The lines of ``path`` that start in ``[start, end)`` (all of them for ``None``):
    a line belongs to the block its first byte is in, so blocks cut at any offset cover
    each line once."""
    if delimiter in _NEWLINES:
        cut = b"\r\n" if delimiter == "\r\n" else (b"\r" if delimiter == "\r" else b"\n")
    else:
        cut = delimiter.encode(encoding)
    if end is None:
        with _open_bytes(path, compression) as f:
            data = f.read()
    else:
        with open(path, "rb") as f:
            data = _byte_range(f, start, end, cut)
    if delimiter in _NEWLINES:
        # What open(path, newline=delimiter) reads (Dask's block reader goes through
        # StringIO, which turns "\n" into the delimiter: not followed here).
        wrapper = io.TextIOWrapper(io.BytesIO(data), encoding, errors, newline=delimiter)
        lines = list(wrapper)
    else:
        text = data.decode(encoding, errors)
        pieces = text.split(delimiter)
        lines = [t + delimiter for t in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    return [(line, path) for line in lines] if include_path else lines


def _open_bytes(path: str, compression: str | None) -> Any:
    return _codec_open(path, "rb", compression)


def _byte_range(f: Any, start: int, end: int, cut: bytes) -> bytes:
    """The bytes of the records (each ended by ``cut``) that start in ``[start, end)``."""
    n = len(cut)
    if builtins.any(cut[:k] == cut[-k:] for k in builtins.range(1, n)):
        # A delimiter that can overlap itself ("--" in "---") is found where records
        # begin only by scanning from the start of the file.
        f.seek(0)
        data = f.read()
        bounds, i = [], 0
        while i < len(data) and i < end:
            j = data.find(cut, i)
            stop = len(data) if j == -1 else j + n
            if i >= start:
                bounds.append((i, stop))
            i = stop
        return data[bounds[0][0] : bounds[-1][1]] if bounds else b""
    base = builtins.max(0, start - n)
    f.seek(base)
    buf = f.read(end - base)
    # A record starts at 0 or right after a delimiter: the first one ending at or
    # after ``start`` opens this block.
    if start:
        q = buf.find(cut)
        if q == -1:
            return b""
        first = q + n
    else:
        first = 0
    if first >= end - base:
        return b""
    # The last record starting before ``end`` runs to the delimiter that ends at or
    # after ``end``.
    search = builtins.max(first, end - base - n)
    while (q := buf.find(cut, search)) == -1:
        more = f.read(1 << 16)
        if not more:
            return buf[first:]
        buf += more
    return buf[first : q + n]


def concat(bags: Sequence[Bag]) -> Bag:
    """One bag of the partitions of ``bags``, in order (no data moves).

    Examples
    --------
    >>> import taskloom.bag as db
    >>> c = db.concat([db.from_sequence([1, 2, 3]), db.from_sequence([4, 5, 6])])
    >>> c.compute(), c.npartitions
    ([1, 2, 3, 4, 5, 6], 6)
    """
    bags = list(bags)
    if not bags or not all(isinstance(b, Bag) for b in bags):
        raise TypeError("concat needs a non-empty sequence of Bags")
    name = f"concat-{tokenize(*[b.name for b in bags])}"
    keys = [k for b in bags for k in b.__dask_keys__()]
    layers = _merge_layers(*bags)
    layers[name] = {(name, i): k for i, k in enumerate(keys)}
    return Bag(layers, name, len(keys))


def zip(*bags: Bag) -> Bag:
    """Tuples of the elements at the same place in ``bags``, partition by partition.

    As in Dask the bags must have the same number of partitions, and partitions are
    zipped as they are: the longer of two partitions loses its extra elements.

    Examples
    --------
    >>> import taskloom.bag as db
    >>> evens = db.from_sequence(builtins.range(0, 10, 2), partition_size=4)
    >>> odds = db.from_sequence(builtins.range(1, 10, 2), partition_size=4)
    >>> db.zip(evens, odds).compute()
    [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    """
    if not bags or not all(isinstance(b, Bag) for b in bags):
        raise TypeError("zip needs one or more Bags")
    n = bags[0].npartitions
    if any(b.npartitions != n for b in bags):
        counts = [b.npartitions for b in bags]
        raise ValueError(f"bags to zip must have the same number of partitions, got {counts}")
    name = f"zip-{tokenize(*[b.name for b in bags])}"
    layers = _merge_layers(*bags)
    layers[name] = {
        (name, i): (_zip_partitions, [(b.name, i) for b in bags]) for i in builtins.range(n)
    }
    return Bag(layers, name, n)


def _zip_partitions(parts: list) -> list:
    return list(builtins.zip(*parts, strict=False))  # Dask drops the extras


def _first_bag(fname: str, args: tuple, kwargs: dict) -> tuple[int | None, Bag]:
    """Where the first Bag argument is: its position (``None`` for a keyword), itself."""
    for i, a in enumerate(args):
        if isinstance(a, Bag):
            return i, a
    for v in kwargs.values():
        if isinstance(v, Bag):
            return None, v
    raise ValueError(f"{fname}: at least one argument must be a Bag")


def _moved_first(func: Callable, position: int | None, x: Any, /, *args: Any, **kwargs: Any) -> Any:
    """``func`` with its first argument put back at ``position`` (dropped for ``None``:
    it was a keyword Bag, passed by keyword too). Positional-only, so the caller's
    keywords may use any name."""
    if position is None:
        return func(*args, **kwargs)
    return func(*args[:position], x, *args[position:], **kwargs)


def _lead_with(func: Callable, args: tuple, kwargs: dict, fname: str) -> tuple:
    position, bag = _first_bag(fname, args, kwargs)
    if position == 0:
        return bag, func, args[1:]
    rest = args if position is None else args[:position] + args[position + 1 :]
    return bag, partial(_moved_first, func, position), rest


def map(func: Callable, *args: Any, **kwargs: Any) -> Bag:
    """``func`` over the elements of the Bag arguments, zipped, as ``dask.bag.map``.

    Any positional or keyword argument may be a Bag (all with the same number of
    partitions, partitions of the same lengths); the others are passed to every call
    as :meth:`Bag.map` passes them.

    Examples
    --------
    >>> import taskloom.bag as db
    >>> b = db.range(4, npartitions=2)
    >>> db.map(lambda a, x: a - x, 10, b).compute()
    [10, 9, 8, 7]
    """
    bag, fn, rest = _lead_with(func, args, kwargs, "map")
    return bag.map(fn, *rest, **kwargs)


def map_partitions(func: Callable, *args: Any, **kwargs: Any) -> Bag:
    """``func`` over the partitions of the Bag arguments, as ``dask.bag.map_partitions``.

    Examples
    --------
    >>> import taskloom.bag as db
    >>> b = db.range(4, npartitions=2)
    >>> db.map_partitions(lambda a, p: a + sum(p), 100, b).compute()
    [101, 105]
    """
    bag, fn, rest = _lead_with(func, args, kwargs, "map_partitions")
    return bag.map_partitions(fn, *rest, **kwargs)


def from_url(urls: str | Sequence[str]) -> Bag:
    """A bag of the lines (bytes) read from each URL, one partition per URL.

    Read when computed, and again at each compute (a URL's content may change, so the
    bag's name is random, as in Dask).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = f.write_text("x\\ny\\n")
    >>> from_url(f.as_uri()).compute()
    [b'x\\n', b'y\\n']
    """
    import uuid

    urls = [urls] if isinstance(urls, str) else list(urls)
    if not all(isinstance(u, str) for u in urls):
        raise TypeError("from_url needs a URL string or a sequence of them")
    name = f"from_url-{uuid.uuid4().hex}"
    layer = {(name, i): (_read_url, u) for i, u in enumerate(urls)}
    return Bag({name: layer}, name, len(urls))


def _read_url(url: str) -> list[bytes]:
    from urllib.request import urlopen

    with urlopen(url) as f:
        return list(f)


# Families in their own modules; imported last, as they build on Bag.
from taskloom import bag_random as random  # noqa: E402
from taskloom.bag_avro import read_avro  # noqa: E402
