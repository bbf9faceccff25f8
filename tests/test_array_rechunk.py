"""rechunk and chunk normalization read every form of ``chunks`` as Dask does (#13.5)."""

from __future__ import annotations

import dask.array as dd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taskloom.array as da

A = np.arange(600.0).reshape(30, 20)

FORMS = [
    {0: 15},
    {},
    {1: -1},
    {0: None},
    {-1: 5},
    {0: "auto"},
    {0: "auto", 1: "auto"},
    {0: (10, 20)},
    {0: "1kiB"},
    (15, None),
    (15, -1),
    (None, None),
    ((10, 20), None),
    (np.int64(4), 5),
    [3, 4],
    -1,
    7,
    "auto",
    "1kiB",
]


def same_as_dask(x_chunks, chunks, limit=None, a=A):
    ours = da.from_array(a, chunks=x_chunks).rechunk(chunks, block_size_limit=limit)
    theirs = dd.from_array(a, chunks=x_chunks).rechunk(chunks, block_size_limit=limit)
    assert ours.chunks == theirs.chunks, (chunks, limit)
    np.testing.assert_array_equal(ours.compute(), a)
    assert tuple(len(c) for c in ours.chunks) == ours.numblocks
    return ours


@pytest.mark.parametrize(
    ("chunks", "limit"),
    # A byte size with a different limit is an error (tested below).
    [(c, lim) for c in FORMS for lim in [None, 800] if lim is None or "kiB" not in repr(c)],
    ids=repr,
)
def test_rechunk_forms_match_dask(chunks, limit):
    same_as_dask((5, 5), chunks, limit)


def test_left_out_axes_keep_their_blocks():
    x = da.from_array(A, chunks=(5, 4))
    assert x.rechunk({0: 15}).chunks == ((15, 15), (4,) * 5)
    assert x.rechunk({}).chunks == x.chunks
    assert x.rechunk({1: -1}).chunks == ((5,) * 6, (20,))
    assert x.rechunk((None, 10)).chunks == ((5,) * 6, (10, 10))


def test_rechunk_errors_name_the_axis():
    x = da.from_array(A, chunks=5)
    with pytest.raises(np.exceptions.AxisError, match="axis 5"):
        x.rechunk({5: 3})
    with pytest.raises(ValueError, match="axis 0 do not add up"):
        x.rechunk(((1,), None))
    with pytest.raises(ValueError, match="axis 0 must be positive"):
        x.rechunk({0: 0})
    with pytest.raises(ValueError, match="chunks=None"):
        x.rechunk(None)
    with pytest.raises(ValueError, match="3 entries for the 2 axes"):
        x.rechunk((1, 2, 3))
    with pytest.raises(ValueError, match="axis 1 are empty"):
        x.rechunk((5, ()))
    with pytest.raises(ValueError, match="disagree with limit"):
        x.rechunk("1kiB", block_size_limit=800)
    with pytest.raises(ValueError, match="byte size"):
        x.rechunk("lots")
    with pytest.raises(TypeError, match="integer axes"):
        x.rechunk({"a": 3})


def test_normalize_chunks_matches_dask():
    for chunks, shape in [
        ((2, 3), (5,)),
        ({1: 2}, (2, 3)),
        ("auto", (10**9,)),
        (("auto", 10), (10**8, 10)),
        ((), (0, 0)),
        (np.array([2, 3]), (5,)),
    ]:
        ours = da.normalize_chunks(chunks, shape, dtype="f8")
        assert ours == dd.core.normalize_chunks(chunks, shape, dtype="f8"), chunks


def test_empty_and_zero_length_axes():
    e = da.from_array(np.ones((0, 4)), chunks=2)
    assert (
        e.rechunk({1: -1}).chunks
        == dd.from_array(np.ones((0, 4)), chunks=2).rechunk({1: -1}).chunks
    )
    z = da.from_array(np.ones((0, 0)), chunks=1)
    assert z.rechunk(3) is z


def test_concatenate_keeps_blocks_of_other_axes():
    a, b = (da.from_array(A, chunks=c) for c in [(5, 5), (10, 4)])
    c, d = (dd.from_array(A, chunks=c) for c in [(5, 5), (10, 4)])
    for axis in (0, 1):
        assert da.concatenate([a, b], axis=axis).chunks == dd.concatenate([c, d], axis).chunks
    np.testing.assert_array_equal(da.concatenate([a, b], axis=1).compute(), np.hstack([A, A]))


entry = st.one_of(st.integers(1, 12), st.just(-1), st.none(), st.just("auto"), st.just("400B"))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(1, 12),
    st.integers(1, 5),
    st.integers(1, 5),
    st.one_of(
        st.tuples(entry, entry),
        st.dictionaries(st.integers(-2, 1), entry, max_size=2),
        entry.filter(lambda e: e is not None),
    ),
)
def test_random_rechunks_match_dask(rows, cols, c0, c1, chunks):
    a = np.arange(rows * cols, dtype="f8").reshape(rows, cols)
    if isinstance(chunks, dict) and len({k % 2 for k in chunks}) < len(chunks):
        return  # the same axis twice (0 and -2): Dask keeps the last one, order-dependent
    same_as_dask((c0, c1), chunks, a=a)


def test_balance_as_dask():
    for chunks, target in [(100, (400, -1)), (10, {0: 300, 1: 20}), (100, {0: 300})]:
        ours = da.ones((1000, 50), chunks=chunks).rechunk(target, balance=True)
        theirs = dd.ones((1000, 50), chunks=chunks).rechunk(target, balance=True)
        assert ours.chunks == theirs.chunks
        np.testing.assert_array_equal(ours.compute(), np.ones((1000, 50)))
    results = []
    for module in (da, dd):  # an axis that cannot be balanced: both warn and keep it
        with pytest.warns(UserWarning, match="balancing not possible"):
            results.append(module.ones((1000, 50), chunks=3).rechunk(4, balance=True).chunks)
    assert results[0] == results[1]
    with pytest.raises(NotImplementedError, match="p2p"):
        da.ones(4, chunks=2).rechunk(3, method="p2p")


class _ChunkedSource:
    """An h5py/zarr-like source: its own block shape in ``chunks``."""

    def __init__(self, a, chunks):
        self.a, self.chunks = a, chunks
        self.shape, self.dtype, self.ndim = a.shape, a.dtype, a.ndim

    def __getitem__(self, index):
        return self.a[index]


@pytest.mark.parametrize("source_chunks", [(100, 3000), (1000, 100), ((5000,) * 4, (3000,))])
def test_from_array_auto_follows_the_sources_blocks_as_dask(source_chunks):
    a = np.broadcast_to(np.float64(1), (20000, 3000))
    # A name: no token of the (large) source is computed.
    ours = da.from_array(_ChunkedSource(a, source_chunks), name="source")
    theirs = dd.from_array(_ChunkedSource(a, source_chunks), name="source")
    assert ours.chunks == theirs.chunks
    np.testing.assert_array_equal(ours[:3, :3].compute(), np.ones((3, 3)))


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_rechunk_to_and_from_blocks_of_zero_length_anywhere(data):
    """Empty blocks in any position, on either side (once only the first worked)."""
    n = data.draw(st.integers(0, 8))

    def chunking():
        sizes = data.draw(st.lists(st.integers(0, 3), max_size=6))
        out, left = [], n
        for size in sizes:
            out.append(min(size, left))
            left -= out[-1]
        if left or not out:
            out.append(left)
        return tuple(out)

    x = np.arange(n * 2).reshape(n, 2)
    a = da.from_array(x, chunks=(chunking(), (1, 1)))
    target = (chunking(), (2,))
    b = a.rechunk(target)
    assert b.chunks == target
    np.testing.assert_array_equal(b.compute(), x)
    for idx in np.ndindex(*b.numblocks):
        assert b.blocks[idx].compute().shape == tuple(
            c[i] for c, i in zip(b.chunks, idx, strict=True)
        )
