"""Deterministic tokens: equal inputs, equal tokens; different inputs, different tokens."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from taskloom.tokenize import normalize_token, tokenize


def f(x):
    return x


def test_builtin_values():
    assert tokenize(1, "a", b"b", 2.5, None, (1, [2, {3: 4}])) == tokenize(
        1, "a", b"b", 2.5, None, (1, [2, {3: 4}])
    )
    distinct = [1, 1.0, True, "1", b"1", (1,), [1], {1}, {1: None}, None]
    assert len({tokenize(x) for x in distinct}) == len(distinct)
    assert tokenize({"a": 1, "b": 2}) == tokenize({"b": 2, "a": 1})
    assert tokenize({3, 1, 2}) == tokenize({1, 2, 3})
    assert tokenize(x=1) != tokenize(x=2)


def test_long_runs_of_ints_are_told_apart_from_every_near_value():
    # Runs of 16+ plain ints (an array's chunks) are fed as one block of 64-bit values;
    # nothing that differs from them may share their token.
    run = tuple(range(20))
    near = [
        run[:-1],
        (*run, 20),
        list(run),
        (*run[:3], True, *run[4:]),  # a bool where the int 3 was (not 1 == True: 3)
        (True, *run[1:]),
        (*run[:3], 3.0, *run[4:]),
        (*run[:5], 2**70, *run[6:]),  # too large for 64 bits: item by item
        tuple(-i for i in run),
        (run,),
        tuple(range(15)),  # below the run length
    ]
    tokens = [tokenize(x) for x in (run, *near)]
    assert len(set(tokens)) == len(tokens)
    assert tokenize(tuple(range(20))) == tokens[0]
    big = (*run[:5], 2**70, *run[6:])
    assert tokenize(big) == tokenize(tuple(list(big)))  # the same value, a new tuple
    assert tokenize((1,) * 16) != tokenize((True,) * 16)


def test_numpy_arrays_hash_contents_dtype_and_shape():
    a = np.arange(12)
    assert tokenize(a) == tokenize(np.arange(12))
    assert tokenize(a) != tokenize(a.astype("f8"))
    assert tokenize(a) != tokenize(a.reshape(3, 4))
    b = a.copy()
    b[5] = -1
    assert tokenize(a) != tokenize(b)
    assert tokenize(a[::2]) == tokenize(np.ascontiguousarray(a[::2]))
    assert tokenize(np.float64(1.5)) == tokenize(np.float64(1.5)) != tokenize(np.float32(1.5))


def test_functions():
    assert tokenize(f) == tokenize(f)
    assert tokenize(functools.partial(f, 1)) == tokenize(functools.partial(f, 1))
    assert tokenize(functools.partial(f, 1)) != tokenize(functools.partial(f, 2))
    k = 1
    g1 = lambda x: x + k  # noqa: E731
    k = 2
    g2 = lambda x: x + k  # noqa: E731
    assert tokenize(g1) == tokenize(g1)
    assert tokenize(lambda x: x + 1) != tokenize(lambda x: x + 2)
    assert g1 is not g2


def test_dataclasses_and_registered_types():
    @dataclass
    class Point:
        x: int
        y: int

    assert tokenize(Point(1, 2)) == tokenize(Point(1, 2)) != tokenize(Point(2, 1))

    class Opaque:
        def __init__(self, v):
            self.v = v

    normalize_token.register(Opaque)(lambda o: ("opaque", o.v))
    assert tokenize(Opaque(1)) == tokenize(Opaque(1)) != tokenize(Opaque(2))


def test_dask_tokenize_protocol():
    class Custom:
        def __dask_tokenize__(self):
            return "fixed"

    assert tokenize(Custom()) == tokenize(Custom())


def test_object_arrays_of_strings_have_no_ambiguous_form():
    a = np.array(["a-b", "c"], dtype=object)
    b = np.array(["a", "b-c"], dtype=object)
    assert tokenize(a) != tokenize(b)
    assert tokenize(np.array(["ab", ""], dtype=object)) != tokenize(
        np.array(["a", "b"], dtype=object)
    )


def test_pandas_objects_of_any_values():
    """Lists and dicts in columns (pandas cannot hash them) tokenize by their values,
    as Dask's normalize_token rules."""
    import pandas as pd

    frame = pd.DataFrame({"a": [[1, 2], [3]], "b": [{"k": 1}, {"k": [2]}]})
    assert tokenize(frame) == tokenize(frame.copy(deep=True))
    other = frame.copy()
    other.loc[1, "a"] = [4]
    assert tokenize(frame) != tokenize(other)
    assert tokenize(pd.Series([1, 2], name="a")) != tokenize(pd.Series([1, 2], name="b"))
    assert tokenize(pd.Series([1, 2])) != tokenize(pd.Series([1, 2], index=[1, 2]))
    assert tokenize(pd.Series([1, 2])) != tokenize(pd.Series([1, 2], dtype="Int64"))


def test_arrow_slices_of_one_array_differ():
    import pandas as pd

    s = pd.Series(list("abcdef"), dtype="string[pyarrow]")
    assert tokenize(s.iloc[:3].reset_index(drop=True)) != tokenize(
        s.iloc[3:].reset_index(drop=True)
    )
    assert tokenize(s.iloc[1:3]) == tokenize(s.iloc[1:3].copy())
