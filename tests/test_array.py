"""taskloom.array against numpy, on odd chunkings (uneven, single-element, whole)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taskloom
import taskloom.array as da

A = np.arange(1.0, 61.0).reshape(6, 10) % 7 - 3  # negatives, repeats, zeros
CHUNKS = [(6, 10), (4, 3), (1, 1), ((1, 5), (2, 2, 6))]


@pytest.fixture(params=CHUNKS, ids=["whole", "uneven", "ones", "explicit"])
def x(request):
    return da.from_array(A, chunks=request.param)


def test_metadata(x):
    assert x.shape == A.shape and x.dtype == A.dtype and x.ndim == 2
    assert x.size == A.size and x.nbytes == A.nbytes
    assert sum(x.chunks[0]) == 6 and x.numblocks == tuple(len(c) for c in x.chunks)
    assert "<table>" in x._repr_html_() and "shape=(6, 10)" in repr(x)
    np.testing.assert_array_equal(x.compute(), A)


def test_elementwise_and_broadcasting(x):
    np.testing.assert_allclose((x + 1).compute(), A + 1)
    np.testing.assert_allclose((2 * x - x / 4).compute(), 2 * A - A / 4)
    np.testing.assert_allclose((x**2 % 5).compute(), A**2 % 5)
    np.testing.assert_array_equal((x > 0).compute(), A > 0)
    np.testing.assert_allclose((x + np.arange(10.0)).compute(), A + np.arange(10.0))
    row = da.from_array(np.arange(10.0), chunks=3)
    np.testing.assert_allclose((x * row).compute(), A * np.arange(10.0))
    col = da.from_array(np.arange(6.0).reshape(6, 1), chunks=2)
    np.testing.assert_allclose((x - col).compute(), A - np.arange(6.0).reshape(6, 1))
    np.testing.assert_allclose((-abs(x)).compute(), -np.abs(A))
    np.testing.assert_allclose(np.sqrt(abs(x)).compute(), np.sqrt(np.abs(A)))
    np.testing.assert_allclose(da.where(x > 0, x, 0).compute(), np.where(A > 0, A, 0))
    np.testing.assert_allclose(da.clip(x, -1, 1).compute(), np.clip(A, -1, 1))
    np.testing.assert_allclose(x.astype("f4").compute(), A.astype("f4"))


def test_shapes_that_cannot_broadcast_fail_when_built(x):
    with pytest.raises(ValueError, match="broadcast"):
        x + np.ones(7)


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["sum", "prod", "mean", "min", "max", "any", "all", "std", "var"])
def test_reductions(x, name, axis, keepdims):
    ours = getattr(x, name)(axis=axis, keepdims=keepdims).compute()
    theirs = getattr(np, name)(A, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("axis", [0, 1])
def test_argmin_argmax(x, axis):
    np.testing.assert_array_equal(x.argmin(axis=axis).compute(), A.argmin(axis=axis))
    np.testing.assert_array_equal(x.argmax(axis=axis).compute(), A.argmax(axis=axis))


def test_reduction_errors_name_the_problem(x):
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match="split_every"):
        x.sum(split_every=1)


@pytest.mark.parametrize(
    "index",
    [
        (slice(1, 5), slice(None, None, 3)),
        (2, slice(None)),
        (slice(None), 7),
        (-1, -1),
        (slice(None, None, -1), slice(8, 1, -2)),
        (Ellipsis, 3),
        (None, slice(2, 4)),
        (slice(5, 2),),
    ],
)
def test_basic_slicing(x, index):
    np.testing.assert_array_equal(x[index].compute(), A[index])


def test_out_of_range_index_fails_when_built(x):
    with pytest.raises(IndexError, match="out of bounds for axis 0"):
        x[6]
    with pytest.raises(IndexError, match="too many indices"):
        x[1, 2, 3]


def test_slicing_a_huge_array_computes_only_what_it_needs():
    big = da.random.default_rng(0).random((100_000, 100_000), chunks=(1000, 1000))
    part = big[:2000, :2000]
    dsk = part.__dask_graph__()
    assert len(taskloom.optimization.cull(dsk, part.__dask_keys__())[0]) == 8  # 4 blocks + 4 slices
    assert 0.45 < part.mean().compute() < 0.55


def test_transpose_rechunk_map_blocks(x):
    np.testing.assert_array_equal(x.T.compute(), A.T)
    np.testing.assert_array_equal(x.transpose(1, 0).compute(), A.T)
    for chunks in [(2, 5), 3, ((6,), (1, 9)), "auto", -1]:
        y = x.rechunk(chunks)
        np.testing.assert_array_equal(y.compute(), A)
    np.testing.assert_allclose(x.map_blocks(lambda b: b * 2).compute(), A * 2)
    blocks = x.to_delayed()
    assert blocks.shape == x.numblocks
    np.testing.assert_array_equal(blocks[0, 0].compute(), A[: x.chunks[0][0], : x.chunks[1][0]])


def test_creation_functions():
    np.testing.assert_array_equal(da.ones((3, 4), chunks=2).compute(), np.ones((3, 4)))
    np.testing.assert_array_equal(da.zeros(5, chunks=2, dtype="i4").compute(), np.zeros(5, "i4"))
    np.testing.assert_array_equal(da.full((2, 2), 7, chunks=1).compute(), np.full((2, 2), 7))
    np.testing.assert_array_equal(da.arange(3, 20, 4, chunks=2).compute(), np.arange(3, 20, 4))
    np.testing.assert_array_equal(da.arange(7, chunks=3).compute(), np.arange(7))
    assert da.empty((4,), chunks=2).shape == (4,)
    r = da.random.default_rng(1)
    a, b = (
        r.normal(size=(50, 50), chunks=10).compute(),
        da.random.default_rng(1).normal(size=(50, 50), chunks=10).compute(),
    )
    np.testing.assert_array_equal(a, b)
    ints = da.random.randint(0, 5, size=100, chunks=30).compute()
    assert ints.min() >= 0 and ints.max() < 5


def test_chunks_normalization_and_errors():
    assert da.normalize_chunks("auto", (10**9,), "f8") == ((2**24,) * 59 + (10**9 - 59 * 2**24,),)
    assert da.normalize_chunks({0: 2}, (5, 3)) == ((2, 2, 1), (3,))
    with pytest.raises(ValueError, match="axis 0"):
        da.normalize_chunks(((1, 1),), (5,))
    with pytest.raises(ValueError, match="positive"):
        da.from_array(np.ones(3), chunks=0)


def test_empty_arrays():
    e = da.from_array(np.ones((0, 3)), chunks=2)
    assert e.shape == (0, 3)
    np.testing.assert_array_equal(e.compute(), np.ones((0, 3)))
    np.testing.assert_array_equal(e.sum(axis=0).compute(), np.zeros(3))


def test_persist_keeps_blocks(x):
    p = (x * 2).persist()
    assert len(p.__dask_graph__()) == x.npartitions
    np.testing.assert_allclose(p.compute(), A * 2)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(1, 9),
    st.integers(1, 5),
    st.integers(1, 5),
    st.integers(0, 2**16),
)
def test_random_shapes_and_chunks_match_numpy(rows, cols, c0, c1, seed):
    a = np.random.default_rng(seed).normal(size=(rows, cols))
    x = da.from_array(a, chunks=(c0, c1))
    np.testing.assert_allclose(((x + 1) * x).sum(axis=0).compute(), ((a + 1) * a).sum(axis=0))
    np.testing.assert_allclose(x.var(axis=1).compute(), a.var(axis=1), atol=1e-12)
    if cols > 1:
        np.testing.assert_allclose(x[::2, 1:].max().compute(), a[::2, 1:].max())
    else:  # an empty selection: numpy's error, raised when the expression is built
        with pytest.raises(ValueError, match="zero-size"):
            x[::2, 1:].max()


def test_joining(x):
    np.testing.assert_array_equal(
        da.concatenate([x, x * 2], axis=1).compute(), np.hstack([A, 2 * A])
    )
    np.testing.assert_array_equal(
        da.concatenate([x, x[:2]], axis=0).compute(), np.vstack([A, A[:2]])
    )
    np.testing.assert_array_equal(da.stack([x, -x], axis=1).compute(), np.stack([A, -A], axis=1))
    np.testing.assert_array_equal(da.block([[x, x], [x, x]]).compute(), np.block([[A, A], [A, A]]))
    with pytest.raises(ValueError, match="must match"):
        da.concatenate([x, x[:, :3]], axis=0)


def test_reshape_squeeze_expand_dims(x):
    for shape in [(60,), (10, 6), (2, 3, 10), (-1, 5), (6, 10, 1)]:
        np.testing.assert_array_equal(x.reshape(shape).compute(), A.reshape(shape))
    np.testing.assert_array_equal(da.expand_dims(x, 1).compute(), A[:, None])
    np.testing.assert_array_equal(da.squeeze(x[:1]).compute(), A[0])
    with pytest.raises(ValueError, match="cannot reshape"):
        x.reshape(7, 9)


def test_linear_algebra(x):
    b = da.from_array(A.T.copy(), chunks=(3, 2))
    np.testing.assert_allclose((x @ b).compute(), A @ A.T)
    np.testing.assert_allclose(da.dot(x, np.arange(10.0)).compute(), A @ np.arange(10.0))
    np.testing.assert_allclose(
        da.tensordot(x, x, axes=([0, 1], [0, 1])).compute(),
        np.tensordot(A, A, axes=([0, 1], [0, 1])),
    )
    np.testing.assert_allclose((np.ones((3, 6)) @ x).compute(), np.ones((3, 6)) @ A)
    with pytest.raises(ValueError, match="shape mismatch"):
        x @ x


@pytest.mark.parametrize(
    "index",
    [
        (slice(None), [9, 0, 3, 3]),
        ([5, -1, 2],),
        (A[:, 0] > 0,),
        (slice(1, 4), np.array([True] * 5 + [False] * 5)),
        ([],),
    ],
)
def test_array_indexing_along_one_axis(x, index):
    np.testing.assert_array_equal(x[index].compute(), A[index])


def test_array_indexing_errors(x):
    with pytest.raises(IndexError, match="out of bounds"):
        x[[0, 6]]
    with pytest.raises(IndexError, match="boolean index of length 3"):
        x[np.array([True, False, True])]


def test_more_creation():
    np.testing.assert_allclose(da.linspace(-1, 2, 13, chunks=5).compute(), np.linspace(-1, 2, 13))
    np.testing.assert_allclose(
        da.linspace(0, 1, 10, endpoint=False, chunks=3).compute(),
        np.linspace(0, 1, 10, endpoint=False),
    )
    np.testing.assert_array_equal(da.eye(6, 4, k=-1, chunks=3).compute(), np.eye(6, 4, k=-1))
    value = taskloom.delayed(np.arange)(6)
    np.testing.assert_array_equal(da.from_delayed(value, (6,), "i8").sum().compute(), 15)


def test_store_and_npy_stack(tmp_path, x):
    target = np.zeros_like(A)
    da.store(x * 3, target)
    np.testing.assert_array_equal(target, A * 3)
    da.to_npy_stack(tmp_path / "stack", x)
    np.testing.assert_array_equal(da.from_npy_stack(tmp_path / "stack").compute(), A)


def test_same_results_as_dask_array():
    dask_array = pytest.importorskip("dask.array")

    def expr(lib):
        x = lib.from_array(A, chunks=(4, 3))
        return [
            ((np.sqrt(abs(x)) + np.sin(x)).mean(axis=0)).compute(),
            x[1:5, ::3].std().compute(),
            (x @ x.T).compute(),
            lib.concatenate([x, x], axis=0).sum(axis=1).compute(),
        ]

    for ours, theirs in zip(expr(da), expr(dask_array), strict=True):
        np.testing.assert_allclose(ours, theirs)


def test_blocks_accessor(x):
    rows, cols = x.chunks
    np.testing.assert_array_equal(x.blocks[0, 0].compute(), A[: rows[0], : cols[0]])
    np.testing.assert_array_equal(x.blocks[-1].compute(), A[sum(rows[:-1]) :])
    np.testing.assert_array_equal(x.blocks[:, ::-1].compute().shape, A.shape)
    with pytest.raises(IndexError, match="out of range"):
        x.blocks[len(rows)]


def test_blockwise_elementwise_and_contracted(x):
    np.testing.assert_array_equal(
        da.blockwise(np.add, "ij", x, "ij", 5, None, dtype=x.dtype).compute(), A + 5
    )
    # Row sums: the contracted index j arrives as the row's blocks, concatenated.
    sums = da.blockwise(
        lambda b: b.sum(axis=1), "i", x, "ij", concatenate=True, dtype=x.dtype
    ).compute()
    np.testing.assert_allclose(sums, A.sum(axis=1))
    with pytest.raises(ValueError, match="appear in no input"):
        da.blockwise(np.add, "ik", x, "ij", dtype="f8")


def test_elementwise_chains_fuse_into_one_task_per_block():
    x = da.from_array(A, chunks=(3, 5)) * 0.5
    y = np.sqrt(abs(x)) + np.sin(x) - x
    # Three blocks' worth of source slices, then one fused task per block.
    fused_tasks = [k for k in y.__dask_graph__() if isinstance(k, tuple) and k[0] == y.name]
    assert len(fused_tasks) == x.npartitions
    culled, _ = taskloom.optimization.cull(y.__dask_graph__(), y.__dask_keys__())
    assert len(culled) == 1 + 2 * x.npartitions  # source, slices, fused blocks
    half = A * 0.5
    np.testing.assert_allclose(y.compute(), np.sqrt(np.abs(half)) + np.sin(half) - half)
    # Intermediates stay usable on their own.
    np.testing.assert_allclose(x.compute(), half)


def test_fused_blocks_are_freed_without_the_cyclic_gc():
    import gc
    import weakref

    made = []

    def track(block):
        out = block * 2
        made.append(weakref.ref(out))
        return out

    y = da.elemwise(track, da.from_array(A, chunks=3)) + 1
    gc.disable()
    try:
        np.testing.assert_allclose(y.compute(scheduler="sync"), A * 2 + 1)
        assert made and all(r() is None for r in made), "an intermediate block outlived its task"
    finally:
        gc.enable()
