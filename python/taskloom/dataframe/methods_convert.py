"""Conversions of dataframe collections to other collections and to Python iteration:
``values``/``to_dask_array``/``to_records`` (a :mod:`taskloom.array` Array),
``to_bag``, ``iterrows``/``itertuples``, and ``random_split``.

This module owns the graphs that hand partitions over to another collection type.
Policy: one block or bag partition per dataframe partition, built on
:func:`~taskloom.dataframe._primitives.map_partitions` so the key ``(name, i)`` of
partition ``i`` becomes block ``(name, i, 0)``; row counts are unknown (``nan``) unless
``lengths`` gives or computes them, as Dask. ``random_split`` draws each partition's
assignment from a seed of its own, so every part is a lazy, per-partition selection.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from taskloom.dataframe._primitives import FrameBase, new_collection, tree_reduction
from taskloom.tokenize import tokenize

__all__ = ["iterrows", "itertuples", "random_split", "to_bag", "to_dask_array", "to_records"]


def _to_numpy(part: Any) -> np.ndarray:
    return part.to_numpy()


def _records(part: pd.DataFrame, index: bool) -> np.ndarray:
    return part.to_records(index=index)


def _array_from(frame: FrameBase, func: Any, dtype: Any, ncols: int | None, lengths: Any, *args):
    from taskloom.array.core import Array

    n = frame.npartitions
    if lengths is True:
        lengths = tuple(int(v) for v in frame.map_partitions(len).compute())
    if lengths is None or lengths is False:
        rows = (np.nan,) * n
    else:
        rows = tuple(int(v) for v in lengths)
        if len(rows) != n:
            raise ValueError(f"lengths must give one length per partition ({n}), got {len(rows)}")
    name = f"to-array-{tokenize(frame._name, func, args)}"
    layer = {}
    for i in builtins.range(n):
        key = (name, i) if ncols is None else (name, i, 0)
        layer[key] = (func, (frame._name, i), *args)
    layers = dict(frame._layers)
    layers[name] = layer
    chunks = (rows,) if ncols is None else (rows, (ncols,))
    return Array(layers, name, chunks, dtype)


def to_dask_array(frame: FrameBase, lengths: Any = None, meta: Any = None) -> Any:
    """The values as an Array with one block of rows per partition.

    ``lengths=True`` computes the partitions' lengths (so the chunks are known); a
    sequence gives them.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> df = dd.from_pandas(pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]}), npartitions=2)
    >>> to_dask_array(df, lengths=True).chunks
    ((2, 1), (2,))
    >>> to_dask_array(df).compute().tolist()
    [[1, 4], [2, 5], [3, 6]]
    """
    sample = frame._meta_nonempty
    dtype = _to_numpy(sample).dtype
    ncols = len(frame._meta.columns) if isinstance(frame._meta, pd.DataFrame) else None
    return _array_from(frame, _to_numpy, dtype, ncols, lengths)


def to_records(frame: FrameBase, index: bool = False, lengths: Any = None) -> Any:
    """The rows as a 1-d Array of numpy records (``DataFrame.to_records`` per partition).

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> df = dd.from_pandas(pd.DataFrame({"a": [1, 2, 3]}), npartitions=2)
    >>> to_records(df).compute()["a"].tolist()
    [1, 2, 3]
    """
    if not isinstance(frame._meta, pd.DataFrame):
        raise TypeError("to_records needs a DataFrame")
    dtype = frame._meta_nonempty.to_records(index=index).dtype
    return _array_from(frame, _records, dtype, None, lengths, index)


def _bag_rows(part: Any, index: bool, format: str) -> list:
    if isinstance(part, pd.Series | pd.Index):
        if isinstance(part, pd.Index):
            return part.tolist()
        return list(part.items()) if index else part.tolist()
    if format == "dict":
        frame = part.reset_index() if index else part
        return frame.to_dict(orient="records")
    return list(part.itertuples(index=index, name=None))


def to_bag(frame: FrameBase, index: bool = False, format: str = "tuple") -> Any:
    """The rows as a :class:`taskloom.bag.Bag`, one bag partition per partition: tuples
    (``format='tuple'``) or dicts (``'dict'``), with the index first when ``index``.

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> df = dd.from_pandas(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), npartitions=2)
    >>> to_bag(df).compute()
    [(1, 'x'), (2, 'y')]
    >>> to_bag(df, format="dict").compute()
    [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'y'}]
    """
    from taskloom.bag import Bag

    if format not in ("tuple", "dict"):
        raise ValueError(f"format must be 'tuple' or 'dict', got {format!r}")
    name = f"to-bag-{tokenize(frame._name, index, format)}"
    layers = dict(frame._layers)
    layers[name] = {
        (name, i): (_bag_rows, (frame._name, i), index, format)
        for i in builtins.range(frame.npartitions)
    }
    return Bag(layers, name, frame.npartitions)


def iterrows(frame: FrameBase) -> Iterator:
    """``(index, row)`` pairs, computing one partition at a time (as Dask)."""
    for i in builtins.range(frame.npartitions):
        yield from frame.get_partition(i).compute().iterrows()


def itertuples(frame: FrameBase, index: bool = True, name: str | None = "Pandas") -> Iterator:
    """Rows as named tuples, computing one partition at a time (as Dask)."""
    for i in builtins.range(frame.npartitions):
        yield from frame.get_partition(i).compute().itertuples(index=index, name=name)


# --- random_split ---------------------------------------------------------------------


def _split_part(part: Any, frac: tuple, seed: int, k: int, shuffle: bool) -> Any:
    rng = np.random.RandomState(seed)
    assignment = rng.choice(len(frac), size=len(part), p=frac)
    chosen = part.iloc[np.flatnonzero(assignment == k)]
    if shuffle and len(chosen):
        chosen = chosen.iloc[rng.permutation(len(chosen))]
    return chosen


def random_split(
    frame: FrameBase, frac: Sequence, random_state: Any = None, shuffle: bool = False
) -> list:
    """Rows split at random into ``len(frac)`` collections with the given fractions,
    each with the partitions and divisions of ``frame`` (as Dask).

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> df = dd.from_pandas(pd.DataFrame({"a": range(100)}), npartitions=4)
    >>> a, b = random_split(df, [0.8, 0.2], random_state=1)
    >>> len(a) + len(b), a.npartitions
    (100, 4)
    """
    frac = tuple(float(f) for f in frac)
    if not frac or any(f < 0 for f in frac) or not np.isclose(builtins.sum(frac), 1.0):
        raise ValueError(f"frac must be non-negative fractions summing to 1, got {frac}")
    if isinstance(random_state, np.random.RandomState):
        state = random_state
    else:
        state = np.random.RandomState(random_state)
    seeds = state.randint(0, 2**31 - 1, size=frame.npartitions)
    total = builtins.sum(frac)
    frac = tuple(f / total for f in frac)
    parts = []
    for k in builtins.range(len(frac)):
        # Built by hand rather than with map_partitions: partition i takes seed i.
        name = f"random-split-{k}-{tokenize(frame._name, frac, tuple(seeds), shuffle)}"
        layers = dict(frame._layers)
        layers[name] = {
            (name, i): (_split_part, (frame._name, i), frac, int(seeds[i]), k, shuffle)
            for i in builtins.range(frame.npartitions)
        }
        parts.append(new_collection(layers, name, frame._meta, frame.divisions))
    return parts


def info(frame: Any, buf: Any = None, verbose: bool = False, memory_usage: bool = False) -> None:
    """Dask's ``DataFrame.info``: class, columns and dtype counts; with ``verbose`` the
    row count and each column's non-missing count, with ``memory_usage`` the bytes
    (what needs data is computed in one pass).

    Examples
    --------
    >>> import pandas as pd, taskloom.dataframe as dd
    >>> info(dd.from_pandas(pd.DataFrame({"a": [1, 2], "b": [0.5, None]}), npartitions=1))
    <class 'taskloom.dataframe.core.DataFrame'>
    Columns: 2 entries, a to b
    dtypes: float64(1), int64(1)
    """
    import sys

    from taskloom.base import compute

    buf = sys.stdout if buf is None else buf
    meta = frame._meta
    lines = [str(type(frame))]
    if len(meta.columns) == 0:
        lines.append(f"Empty {type(frame).__name__}")
        buf.write("\n".join(lines) + "\n")
        return
    wanted = {}
    if verbose:
        wanted["index"] = tree_reduction(
            frame.index, _index_summary, _concat_lists, _concat_lists, None, token="info"
        )
        wanted["counts"] = frame.count()
    if memory_usage:
        wanted["memory"] = frame.memory_usage(deep=True)
    values = dict(zip(wanted, compute(*wanted.values()), strict=True))
    if verbose:
        summaries = [s for s in values["index"] if s[0]]
        rows = builtins.sum(s[0] for s in summaries)
        if summaries:
            first, last = summaries[0][1], summaries[-1][2]
            lines.append(f"{type(meta.index).__name__}: {rows} entries, {first} to {last}")
        else:
            lines.append(f"{type(meta.index).__name__}: 0 entries")
        lines.append(f"Data columns (total {len(meta.columns)} columns):")
        table = pd.DataFrame(
            {
                "Column": [str(c) for c in meta.columns],
                "Non-Null Count": [f"{int(n)} non-null" for n in values["counts"]],
                "Dtype": [str(d) for d in meta.dtypes],
            }
        )
        lines.append(table.to_string())
    else:
        lines.append(
            f"Columns: {len(meta.columns)} entries, {meta.columns[0]} to {meta.columns[-1]}"
        )
    counts = meta.dtypes.astype(str).value_counts().sort_index()
    lines.append("dtypes: " + ", ".join(f"{k}({v})" for k, v in counts.items()))
    if memory_usage:
        lines.append(f"memory usage: {int(values['memory'].sum())} bytes")
    buf.write("\n".join(lines) + "\n")


def _concat_lists(partials: list) -> list:
    return [v for p in partials for v in p]


def _index_summary(index: pd.Index) -> list:
    if not len(index):
        return [(0, None, None)]
    return [(len(index), index[0], index[-1])]
