"""map_blocks and blockwise with Dask's semantics, compared with Dask and numpy (#13.11)."""

from __future__ import annotations

import dask.array as dd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taskloom.array as da

A = np.arange(60.0).reshape(6, 10)
B = np.arange(10.0)


def both(call, a_chunks=(4, 3), b_chunks=3):
    """``call(module, x, y)`` with taskloom and with Dask: (ours, computed, Dask's)."""
    ours = call(da, da.from_array(A, chunks=a_chunks), da.from_array(B, chunks=b_chunks))
    theirs = call(dd, dd.from_array(A, chunks=a_chunks), dd.from_array(B, chunks=b_chunks))
    return ours, ours.compute(), theirs.compute(scheduler="sync"), theirs


CASES = {
    "plain": lambda m, x, y: m.map_blocks(lambda b: b * 2, x),
    "two arrays broadcast": lambda m, x, y: m.map_blocks(np.add, x, y),
    "drop_axis=0": lambda m, x, y: x.map_blocks(lambda b: b.sum(axis=0), drop_axis=0),
    "drop_axis=1 kwargs": lambda m, x, y: x.map_blocks(np.sum, axis=1, drop_axis=1),
    "drop_axis=-1": lambda m, x, y: x.map_blocks(np.max, axis=-1, drop_axis=[-1]),
    "new_axis": lambda m, x, y: y.map_blocks(lambda b: b[None, :], new_axis=0),
    "new_axis last": lambda m, x, y: x.map_blocks(lambda b: b[..., None], new_axis=[2]),
    "new_axis chunks": lambda m, x, y: y.map_blocks(
        lambda b: np.stack([b, b]), new_axis=0, chunks=(2, (3, 3, 3, 1))
    ),
    "chunks ints": lambda m, x, y: x.map_blocks(lambda b: b[:2, :1], chunks=(2, 1)),
    "chunks tuples": lambda m, x, y: y.map_blocks(lambda b: b[:1], chunks=((1, 1, 1, 1),)),
    "chunks extra axes": lambda m, x, y: y.map_blocks(lambda b: b[None], chunks=(1, (3, 3, 3, 1))),
    "args and kwargs": lambda m, x, y: m.map_blocks(lambda b, k, c=0: b * k + c, x, 3, c=1),
    "array second": lambda m, x, y: m.map_blocks(lambda k, b: b - k, 2.5, x),
    "dtype": lambda m, x, y: x.map_blocks(lambda b: b.astype("f4"), dtype="f4"),
    "meta": lambda m, x, y: x.map_blocks(lambda b: b.astype("i4"), meta=np.array((), "i4")),
    "drop and new": lambda m, x, y: x.map_blocks(
        lambda b: b.sum(axis=1)[None], drop_axis=1, new_axis=0, chunks=(1, (4, 2))
    ),
    "enforce_ndim": lambda m, x, y: x.map_blocks(lambda b: b + 1, enforce_ndim=True),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_map_blocks_matches_dask(case):
    ours, got, expected, theirs = both(CASES[case])
    np.testing.assert_array_equal(got, expected)
    assert (ours.shape, ours.chunks, ours.dtype) == (theirs.shape, theirs.chunks, theirs.dtype)
    assert got.shape == ours.shape and got.dtype == ours.dtype


def test_results_against_numpy():
    x = da.from_array(A, chunks=(4, 3))
    np.testing.assert_array_equal(x.map_blocks(np.sum, axis=1, drop_axis=1).compute(), A.sum(1))
    np.testing.assert_array_equal(
        x.map_blocks(lambda b: b.sum(axis=0), drop_axis=0).compute(), A.sum(0)
    )
    v = da.from_array(B, chunks=3)
    np.testing.assert_array_equal(da.map_blocks(np.add, x, v).compute(), A + B)
    col = da.from_array(np.arange(6.0)[:, None], chunks=(4, 1))
    np.testing.assert_array_equal(da.map_blocks(np.add, x, col).compute(), A + col.compute())


def _recorder(calls):
    def record(*blocks, block_info=None, block_id=None):
        if isinstance(block_id, tuple):  # not dtype inference
            calls.append((block_id, block_info))
        return sum(blocks[1:], blocks[0])

    return record


@pytest.mark.parametrize(
    "call",
    [
        lambda m, f, x, y: m.map_blocks(f, x, dtype=x.dtype),
        lambda m, f, x, y: m.map_blocks(f, x, y, dtype=x.dtype),
        lambda m, f, x, y: m.map_blocks(f, y, 1.0, x, dtype=x.dtype),
        lambda m, f, x, y: m.map_blocks(
            lambda b, block_info=None, block_id=None: f(
                b.sum(axis=0), block_info=block_info, block_id=block_id
            ),
            x,
            drop_axis=0,
            dtype=x.dtype,
        ),
        lambda m, f, x, y: m.map_blocks(
            lambda b, block_info=None, block_id=None: f(
                b[None], block_info=block_info, block_id=block_id
            ),
            y,
            new_axis=0,
            dtype=x.dtype,
        ),
        lambda m, f, x, y: m.map_blocks(
            lambda b, block_info=None, block_id=None: f(
                b[:1], block_info=block_info, block_id=block_id
            ),
            y,
            chunks=((1, 1, 1, 1),),
            dtype=x.dtype,
        ),
        lambda m, f, x, y: m.map_blocks(f, x, meta=np.array((), "f8")),
    ],
    ids=["one", "two", "with values", "drop_axis", "new_axis", "chunks", "meta"],
)
def test_block_info_and_block_id_are_dasks(call):
    records = {}
    for m in (da, dd):
        calls = []
        x = m.from_array(A, chunks=(4, 3))
        y = m.from_array(B, chunks=3)
        out = call(m, _recorder(calls), x, y)
        out.compute(**({"scheduler": "sync"} if m is dd else {}))
        records[m] = sorted(calls, key=lambda c: c[0])
    assert records[da] and records[da] == records[dd]


def test_block_id_alone_and_functions_without_it():
    x = da.from_array(A, chunks=(4, 3))
    got = x.map_blocks(
        lambda b, block_id: np.full((1, 1), block_id[0] * 10 + block_id[1]),
        chunks=(1, 1),
        dtype=int,
    ).compute()
    np.testing.assert_array_equal(got, [[0, 1, 2, 3], [10, 11, 12, 13]])
    # A function that does not take them gets neither.
    np.testing.assert_array_equal(x.map_blocks(lambda b: b).compute(), A)


def test_name_token_and_determinism():
    x = da.from_array(A, chunks=(4, 3))
    assert x.map_blocks(lambda b: b, name="mine").name == "mine"
    assert x.map_blocks(np.negative, token="tok").name.startswith("tok-")
    assert x.map_blocks(np.negative).name == x.map_blocks(np.negative).name
    assert x.map_blocks(np.negative).name != x.map_blocks(np.negative, dtype="f4").name


def test_errors_name_the_argument():
    x = da.from_array(A, chunks=(4, 3))
    with pytest.raises(ValueError, match=r"drop_axis out of range \(drop_axis=3"):
        x.map_blocks(lambda b: b, drop_axis=3)
    with pytest.raises(ValueError, match="chunks along output axis 0: 3 block sizes"):
        x.map_blocks(lambda b: b, chunks=((1, 1, 1), 2))
    with pytest.raises(ValueError, match="Dimension mismatch"):
        x.map_blocks(lambda b: b.sum(), enforce_ndim=True).compute()
    with pytest.raises(ValueError, match="specify the dtype"):
        x.map_blocks(lambda b: b.no_such_method())
    with pytest.raises(ValueError, match="new_axis=5"):
        x.map_blocks(lambda b: b, new_axis=5)
    with pytest.raises(TypeError, match="must be a function"):
        da.map_blocks(x, x)
    with pytest.raises(ValueError, match="at least one taskloom array"):
        da.map_blocks(np.add, 1, 2)
    with pytest.raises(ValueError, match="block counts must match"):
        da.map_blocks(np.add, x, da.from_array(np.ones(7), chunks=3))


def test_arrays_of_one_shape_line_up_and_others_pair_by_block():
    x = da.from_array(A, chunks=(4, 3))
    z = da.from_array(A, chunks=(3, 5))
    np.testing.assert_array_equal(da.map_blocks(np.add, x, z).compute(), 2 * A)
    # Dask's documented example: same block counts, different shapes.
    for m in (da, dd):
        p, q = m.arange(1000, chunks=(100,)), m.arange(100, chunks=(10,))
        r = m.map_blocks(lambda a, b: np.array([a.max(), b.max()]), p, q, chunks=(2,), dtype="i8")
        assert r.chunks == ((2,) * 10,)
        np.testing.assert_array_equal(r.compute()[:4], [99, 9, 199, 19])


def test_blockwise_keeps_its_index_notation():
    x = da.from_array(A, chunks=(4, 3))
    v = da.from_array(B, chunks=4)
    np.testing.assert_array_equal(
        da.blockwise(np.add, "ij", x, "ij", v, "j", dtype=x.dtype).compute(), A + B
    )
    np.testing.assert_array_equal(
        da.blockwise(np.outer, "ij", B, "i", B, "j", dtype="f8").compute(), np.outer(B, B)
    )
    got = da.blockwise(
        lambda b: b.sum(axis=1), "i", x, "ij", concatenate=True, dtype=x.dtype
    ).compute()
    np.testing.assert_array_equal(got, A.sum(axis=1))
    new = da.blockwise(lambda b: b[:, None], "ik", v, "i", new_axes={"k": 2}, dtype="f8")
    assert new.shape == (10, 2)
    c = da.blockwise(lambda b: b[:1], "i", v, "i", adjust_chunks={"i": 1}, dtype="f8")
    assert c.chunks == ((1, 1, 1),)
    np.testing.assert_array_equal(c.compute(), [0.0, 4.0, 8.0])


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 9),
    st.integers(1, 9),
    st.integers(1, 4),
    st.integers(1, 4),
    st.sampled_from([None, 0, 1]),
)
def test_random_map_blocks_match_dask(rows, cols, c0, c1, drop):
    a = np.random.default_rng(rows * 10 + cols).normal(size=(rows, cols))
    kwargs = {} if drop is None else {"drop_axis": drop}
    f = (lambda b: b * 2 + 1) if drop is None else (lambda b: b.sum(axis=drop))
    calls = {}
    for m in (da, dd):
        x = m.from_array(a, chunks=(c0, c1))
        out = x.map_blocks(f, **kwargs)
        calls[m] = (
            out.chunks,
            out.dtype,
            out.compute(**({"scheduler": "sync"} if m is dd else {})),
        )
    assert calls[da][:2] == calls[dd][:2]
    np.testing.assert_allclose(calls[da][2], calls[dd][2])
    expected = a * 2 + 1 if drop is None else a.sum(axis=drop)
    np.testing.assert_allclose(calls[da][2], expected)


def test_array_keywords_reach_every_call_whole_as_dask():
    for m in (da, dd):
        x = m.from_array(np.arange(4.0), chunks=2)
        r = x.map_blocks(
            lambda b, y=None, block_id=None: b + y.sum() + block_id[0], y=x * 2, dtype="f8"
        )
        np.testing.assert_array_equal(
            r.compute(**({"scheduler": "sync"} if m is dd else {})), [12.0, 13.0, 15.0, 16.0]
        )
        np.testing.assert_array_equal(
            x.map_blocks(lambda b, y=None: b + y.sum(), y=x).compute(), [6.0, 7.0, 8.0, 9.0]
        )


def test_ufunc_where_and_outer_as_dask():
    x = da.from_array(A, chunks=(4, 3))
    out = da.zeros(A.shape, chunks=2)
    got = np.add(x, 1, where=x > 20, out=out)
    expected = np.add(A, 1, where=A > 20, out=np.zeros(A.shape))
    assert got is out
    np.testing.assert_array_equal(out.compute(), expected)
    kept = np.add(x, 1, where=A > 20)  # a numpy mask; unselected values are undefined
    np.testing.assert_array_equal(kept.compute()[A > 20], A[A > 20] + 1)
    v = da.from_array(B, chunks=4)
    np.testing.assert_array_equal(np.multiply.outer(v, x).compute(), np.multiply.outer(B, A))
