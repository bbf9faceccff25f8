"""taskloom.array.linalg against numpy/scipy (and dask.array.linalg where Dask defines
the behaviour: chunkings, sign coercion, random compression), issue #15."""

from __future__ import annotations

import sys
import warnings

import dask.array as dd
import numpy as np
import pytest
import scipy.linalg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom
import taskloom.array as da
from taskloom.array import linalg

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
row_blocks = st.lists(st.integers(1, 9), min_size=1, max_size=7)
seeds = st.integers(0, 2**16)


def computed(x: da.Array) -> np.ndarray:
    """``x`` computed, after checking every block against the metadata: its shape is
    the chunk sizes at its position and its dtype is ``x.dtype``."""
    blocks = taskloom.get(x.__dask_graph__(), x.__dask_keys__())
    if x.ndim == 0:
        value = np.asarray(blocks[0])
        assert value.dtype == x.dtype
        return value
    for idx in np.ndindex(*x.numblocks):
        block = blocks
        for i in idx:
            block = block[i]
        assert block.shape == tuple(c[i] for c, i in zip(x.chunks, idx, strict=True)), idx
        assert block.dtype == x.dtype, (block.dtype, x.dtype)
    value = x.compute()
    assert value.shape == x.shape
    return value


def well_conditioned(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    a = rng.standard_normal((m, n))
    k = min(m, n)
    a[:k, :k] += 3 * np.sqrt(max(m, n)) * np.eye(k)  # singular values kept away from 0
    return a


def assert_qr(q: np.ndarray, r: np.ndarray, a: np.ndarray) -> None:
    k = min(a.shape)
    assert q.shape == (a.shape[0], k) and r.shape == (k, a.shape[1])
    np.testing.assert_allclose(q @ r, a, atol=1e-10)
    np.testing.assert_allclose(q.T @ q, np.eye(k), atol=1e-10)
    np.testing.assert_array_equal(np.triu(r), r)
    # R is numpy's up to the signs of its rows.
    np.testing.assert_allclose(np.abs(r), np.abs(np.linalg.qr(a)[1]), atol=1e-10)


# -- QR ---------------------------------------------------------------------------------


@SETTINGS
@given(rows=row_blocks, n=st.integers(1, 5), seed=seeds)
def test_qr_tall_and_skinny_matches_numpy(rows, n, seed):
    a = well_conditioned(np.random.default_rng(seed), sum(rows), n)
    x = da.from_array(a, chunks=(tuple(rows), n))
    q, r = da.linalg.qr(x)
    assert q.chunks == (tuple(rows), (min(a.shape),))
    assert_qr(computed(q), computed(r), a)


def test_tsqr_recursion_matches_dask_metadata_and_numpy():
    # 40 blocks of 6 rows, 3 columns: the stacked R's (120 rows) are regrouped twice.
    a = well_conditioned(np.random.default_rng(1), 240, 3)
    q, r = da.linalg.tsqr(da.from_array(a, chunks=(6, 3)))
    dq, dr = dd.linalg.tsqr(dd.from_array(a, chunks=(6, 3)))
    assert (q.chunks, r.chunks) == (dq.chunks, dr.chunks)
    assert_qr(computed(q), computed(r), a)
    # The tallest stack is never taller than a block: the graph does recurse.
    assert any("tsqr-stack" in k[0] for k in q.__dask_graph__() if isinstance(k, tuple))


def test_tsqr_of_a_wide_matrix_in_row_blocks():
    a = well_conditioned(np.random.default_rng(2), 4, 7)
    q, r = da.linalg.tsqr(da.from_array(a, chunks=(2, 7)))
    assert q.shape == (4, 4) and r.shape == (4, 7)
    assert_qr(computed(q), computed(r), a)


@SETTINGS
@given(
    m=st.integers(1, 6),
    extra=st.lists(st.integers(1, 8), max_size=4),
    wide=st.integers(0, 3),
    seed=seeds,
)
def test_sfqr_short_and_fat_matches_numpy(m, extra, wide, seed):
    cols = (m + wide, *extra)
    a = well_conditioned(np.random.default_rng(seed), m, sum(cols))
    q, r = da.linalg.qr(da.from_array(a, chunks=(m, cols)))
    assert r.chunks == ((m,), cols)
    assert_qr(computed(q), computed(r), a)


@SETTINGS
@given(rows=row_blocks, n=st.integers(1, 4), seed=seeds)
def test_qr_and_svd_of_rows_of_unknown_sizes(rows, n, seed):
    rng = np.random.default_rng(seed)
    a = well_conditioned(rng, sum(rows) + n, n)
    keep = rng.random(len(a)) < 0.6
    keep[:n] = True  # the well-conditioned top rows stay
    x = da.from_array(a, chunks=((*rows, n), n))
    x = x[da.from_array(keep, chunks=((*rows, n),))]
    assert np.isnan(x.shape[0])
    q, r = da.linalg.qr(x)
    assert q.chunks[1] == (n,) and r.chunks == ((n,), (n,))
    assert_qr(q.compute(), computed(r), a[keep])
    u, s, v = da.linalg.svd(x)
    assert_svd(u.compute(), computed(s), computed(v), a[keep])


@pytest.mark.parametrize("shape, chunks", [((12, 3), (4, 3)), ((3, 12), (3, 4)), ((3, 12), 3)])
def test_complex_qr_and_svd(shape, chunks):
    # Dask's sfqr uses Q^T, not Q^H, for the blocks right of the first: wrong for complex.
    rng = np.random.default_rng(11)
    a = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    x = da.from_array(a, chunks=chunks)
    q, r = (computed(y) for y in da.linalg.qr(x))
    np.testing.assert_allclose(q @ r, a, atol=1e-12)
    np.testing.assert_allclose(q.conj().T @ q, np.eye(q.shape[1]), atol=1e-12)
    u, s, v = (computed(y) for y in da.linalg.svd(x))
    np.testing.assert_allclose((u * s) @ v, a, atol=1e-12)
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False))


def test_qr_chunked_along_both_axes_names_the_rechunk():
    x = da.ones((8, 8), chunks=4)
    with pytest.raises(ValueError, match=r"rechunk\(\{0: 'auto', 1: -1\}\)"):
        da.linalg.qr(x)
    with pytest.raises(NotImplementedError):  # Dask's exception type
        da.linalg.qr(x)


def test_tsqr_and_sfqr_reject_other_chunkings():
    with pytest.raises(ValueError, match=r"one block along its columns.*rechunk\(\{1: -1\}\)"):
        da.linalg.tsqr(da.ones((8, 4), chunks=2))
    with pytest.raises(ValueError, match=r"one block along its rows"):
        da.linalg.sfqr(da.ones((4, 8), chunks=2))
    with pytest.raises(ValueError, match=r"at least as wide"):  # Dask rejects it too
        da.linalg.sfqr(da.ones((5, 20), chunks=((5,), (4, 8, 8))))


def test_qr_of_float32_and_integers_keeps_numpy_dtypes():
    a = np.random.default_rng(3).integers(-5, 5, (12, 3))
    a[:3] += 20 * np.eye(3, dtype=int)
    for arr in (a, a.astype(np.float32)):
        q, r = da.linalg.qr(da.from_array(arr, chunks=(4, 3)))
        assert q.dtype == np.linalg.qr(arr)[0].dtype
        np.testing.assert_allclose(computed(q) @ computed(r), arr, rtol=1e-4, atol=1e-4)


# -- SVD --------------------------------------------------------------------------------


def assert_svd(u, s, v, a, atol=1e-9):
    k = min(a.shape)
    assert u.shape == (a.shape[0], k) and s.shape == (k,) and v.shape == (k, a.shape[1])
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), atol=atol)
    np.testing.assert_allclose((u * s) @ v, a, atol=atol)
    np.testing.assert_allclose(u.T @ u, np.eye(k), atol=atol)
    np.testing.assert_allclose(v @ v.T, np.eye(k), atol=atol)


@SETTINGS
@given(
    rows=row_blocks,
    n=st.integers(1, 5),
    transpose=st.booleans(),
    coerce=st.booleans(),
    seed=seeds,
)
def test_svd_matches_numpy_and_dask_signs(rows, n, transpose, coerce, seed):
    a = well_conditioned(np.random.default_rng(seed), sum(rows), n)
    chunks = (tuple(rows), n)
    if transpose:  # short-and-fat: one block along the rows
        a, chunks = a.T.copy(), chunks[::-1]
    u, s, v = da.linalg.svd(da.from_array(a, chunks=chunks), coerce_signs=coerce)
    u_, s_, v_ = computed(u), computed(s), computed(v)
    assert_svd(u_, s_, v_, a)
    if coerce:  # deterministic signs: Dask's
        du, _, dv = dd.linalg.svd(dd.from_array(a, chunks=chunks))
        np.testing.assert_allclose(u_, du.compute(), atol=1e-9)
        np.testing.assert_allclose(v_, dv.compute(), atol=1e-9)


def test_svd_of_a_wide_matrix_in_row_blocks_is_truncated():
    a = well_conditioned(np.random.default_rng(4), 4, 9)
    u, s, v = da.linalg.svd(da.from_array(a, chunks=(2, 9)))
    assert_svd(computed(u), computed(s), computed(v), a)


def test_svd_errors():
    with pytest.raises(ValueError, match="svd_compressed"):
        da.linalg.svd(da.ones((8, 8), chunks=4))
    with pytest.raises(NotImplementedError, match="full_matrices"):
        da.linalg.svd(da.ones((8, 2), chunks=4), full_matrices=True)
    with pytest.raises(ValueError, match="2-d"):
        da.linalg.svd(da.ones(8, chunks=4))


def low_rank(rng, m, n, rank):
    return rng.standard_normal((m, rank)) @ rng.standard_normal((rank, n))


@SETTINGS
@given(
    rank=st.integers(1, 4),
    iterator=st.sampled_from(["power", "QR"]),
    n_power_iter=st.integers(0, 2),
    block=st.integers(5, 12),
    seed=seeds,
)
def test_svd_compressed_recovers_a_low_rank_matrix(rank, iterator, n_power_iter, block, seed):
    a = low_rank(np.random.default_rng(seed), 30, 24, rank)
    u, s, v = linalg.svd_compressed(
        da.from_array(a, chunks=block), rank, iterator=iterator, n_power_iter=n_power_iter,
        seed=seed,
    )  # fmt: skip
    u_, s_, v_ = computed(u), computed(s), computed(v)
    np.testing.assert_allclose(s_, np.linalg.svd(a, compute_uv=False)[:rank], rtol=1e-8)
    np.testing.assert_allclose((u_ * s_) @ v_, a, atol=1e-8)
    np.testing.assert_allclose(u_.T @ u_, np.eye(rank), atol=1e-10)


def test_svd_compressed_is_dasks_for_the_same_seed():
    # Same seed and chunks: the same Gaussian test matrix as Dask, hence its result.
    a = np.random.default_rng(5).standard_normal((40, 30))
    for compute in (False, True):
        ours = linalg.svd_compressed(
            da.from_array(a, chunks=10), 5, n_power_iter=1, seed=7, compute=compute
        )
        theirs = dd.linalg.svd_compressed(dd.from_array(a, chunks=10), 5, n_power_iter=1, seed=7)
        for x, y in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(computed(x), y.compute(), atol=1e-10)


def test_compression_matrix_has_orthonormal_rows():
    a = np.random.default_rng(6).standard_normal((50, 30))
    c = computed(linalg.compression_matrix(da.from_array(a, chunks=10), 4, seed=1))
    assert c.shape == (linalg.compression_level(30, 4), 50) == (20, 50)
    np.testing.assert_allclose(c @ c.T, np.eye(20), atol=1e-10)
    with pytest.raises(ValueError, match="iterator"):
        linalg.compression_matrix(da.from_array(a, chunks=10), 4, iterator="lanczos")


# -- LU, Cholesky and solvers -----------------------------------------------------------

square_blocks = st.tuples(st.integers(1, 4), st.integers(1, 5))  # blocks, block size


def square(rng, n, spd=False):
    a = rng.standard_normal((n, n))
    return a @ a.T + n * np.eye(n) if spd else a + 2 * n * np.eye(n)


@SETTINGS
@given(shape=square_blocks, seed=seeds)
def test_lu_factors_the_matrix(shape, seed):
    nb, bs = shape
    a = square(np.random.default_rng(seed), nb * bs)
    p, lo, up = (computed(x) for x in da.linalg.lu(da.from_array(a, chunks=bs)))
    np.testing.assert_allclose(p @ lo @ up, a, atol=1e-10)
    assert set(np.unique(p)) <= {0.0, 1.0} and (p.sum(axis=0) == 1).all()
    assert (p.sum(axis=1) == 1).all()
    np.testing.assert_array_equal(np.tril(lo), lo)
    np.testing.assert_allclose(np.diag(lo), 1)
    np.testing.assert_array_equal(np.triu(up), up)


@SETTINGS
@given(
    shape=square_blocks,
    cols=st.sampled_from([None, 1, 3]),
    assume_a=st.sampled_from(["gen", "pos"]),
    seed=seeds,
)
def test_solve_matches_numpy(shape, cols, assume_a, seed):
    nb, bs = shape
    n = nb * bs
    rng = np.random.default_rng(seed)
    a = square(rng, n, spd=assume_a == "pos")
    b = rng.standard_normal(n if cols is None else (n, cols))
    x = da.linalg.solve(da.from_array(a, chunks=bs), da.from_array(b, chunks=bs), assume_a=assume_a)
    np.testing.assert_allclose(computed(x), np.linalg.solve(a, b), atol=1e-10)


def test_solve_options_as_dask():
    a, b = square(np.random.default_rng(7), 6, spd=True), np.ones(6)
    with pytest.warns(FutureWarning, match="sym_pos"):
        x = da.linalg.solve(da.from_array(a, chunks=3), da.from_array(b, chunks=3), sym_pos=True)
    assert "cholesky" in str(x.__dask_graph__().keys())
    np.testing.assert_allclose(computed(x), np.linalg.solve(a, b))
    with pytest.raises(ValueError, match="assume_a='her'"):
        da.linalg.solve(da.from_array(a, chunks=3), da.from_array(b, chunks=3), assume_a="her")


@SETTINGS
@given(shape=square_blocks, lower=st.booleans(), cols=st.sampled_from([None, 2]), seed=seeds)
def test_solve_triangular_matches_scipy(shape, lower, cols, seed):
    nb, bs = shape
    n = nb * bs
    rng = np.random.default_rng(seed)
    a = square(rng, n)
    a = np.tril(a) if lower else np.triu(a)
    b = rng.standard_normal(n if cols is None else (n, cols))
    x = da.linalg.solve_triangular(
        da.from_array(a + np.triu(np.ones_like(a), 1) * lower, chunks=bs),  # ignored triangle
        da.from_array(b, chunks=bs),
        lower=lower,
    )
    np.testing.assert_allclose(computed(x), scipy.linalg.solve_triangular(a, b, lower=lower))


def test_solve_triangular_names_the_rechunk():
    a = da.from_array(np.eye(6), chunks=3)
    with pytest.raises(ValueError, match=r"b\.rechunk\(\{0: \(3, 3\)\}\)"):
        da.linalg.solve_triangular(a, da.ones(6, chunks=2))
    with pytest.raises(ValueError, match="square"):
        da.linalg.solve_triangular(da.ones((6, 4), chunks=2), da.ones(4, chunks=2))


@SETTINGS
@given(shape=square_blocks, seed=seeds)
def test_inv_and_cholesky_match_numpy(shape, seed):
    nb, bs = shape
    rng = np.random.default_rng(seed)
    a = square(rng, nb * bs, spd=True)
    x = da.from_array(a, chunks=bs)
    np.testing.assert_allclose(computed(da.linalg.inv(x)), np.linalg.inv(a), atol=1e-10)
    lo = np.linalg.cholesky(a)
    np.testing.assert_allclose(computed(da.linalg.cholesky(x, lower=True)), lo, atol=1e-10)
    np.testing.assert_allclose(computed(da.linalg.cholesky(x)), lo.T, atol=1e-10)


def test_square_block_errors_name_the_rechunk():
    for func in (da.linalg.lu, da.linalg.cholesky, da.linalg.inv):
        with pytest.raises(ValueError, match=r"square blocks.*rechunk\(3\)"):
            func(da.from_array(np.eye(6), chunks=(3, (2, 4))))
        with pytest.raises(ValueError, match="square matrix"):
            func(da.ones((6, 4), chunks=2))


@SETTINGS
@given(rows=row_blocks, n=st.integers(1, 4), cols=st.sampled_from([None, 1, 3]), seed=seeds)
def test_lstsq_matches_numpy(rows, n, cols, seed):
    m = sum(rows)
    if m <= n or len(rows) == 1:  # over-determined, tall-and-skinny (as Dask needs)
        rows = [*rows, n + 1]
        m += n + 1
    rng = np.random.default_rng(seed)
    a = well_conditioned(rng, m, n)
    b = rng.standard_normal(m if cols is None else (m, cols))
    b_chunks = (tuple(rows),) if cols is None else (tuple(rows), cols)
    x, res, rank, s = da.linalg.lstsq(
        da.from_array(a, chunks=(tuple(rows), n)), da.from_array(b, chunks=b_chunks)
    )
    x_, res_, rank_, s_ = np.linalg.lstsq(a, b, rcond=None)
    np.testing.assert_allclose(computed(x), x_, atol=1e-10)
    np.testing.assert_allclose(computed(res), res_, rtol=1e-8, atol=1e-10)
    assert computed(rank) == rank_ == n
    np.testing.assert_allclose(computed(s), s_)


# -- norm -------------------------------------------------------------------------------

MATRIX_ORDS = [None, "fro", "nuc", np.inf, -np.inf, 1, -1, 2, -2]
VECTOR_ORDS = [None, np.inf, -np.inf, 0, 1, -1, 2, -2, 3, 0.5]


@SETTINGS
@given(
    rows=row_blocks,
    n=st.integers(1, 5),
    ord=st.sampled_from(MATRIX_ORDS),
    keepdims=st.booleans(),
    axis=st.sampled_from([None, (0, 1), (1, 0)]),
    seed=seeds,
)
def test_matrix_norms_match_numpy(rows, n, ord, keepdims, axis, seed):
    a = np.random.default_rng(seed).standard_normal((sum(rows), n))
    r = da.linalg.norm(da.from_array(a, chunks=(tuple(rows), n)), ord, axis, keepdims)
    expected = np.linalg.norm(a, ord, axis, keepdims)
    value = computed(r)
    assert value.shape == np.shape(expected)
    np.testing.assert_allclose(value, expected)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # numpy's too, at 0
@SETTINGS
@given(
    shape=st.sampled_from([(7,), (5, 4), (3, 4, 5)]),
    chunk=st.integers(1, 4),
    ord=st.sampled_from(VECTOR_ORDS),
    keepdims=st.booleans(),
    data=st.data(),
)
def test_vector_norms_match_numpy(shape, chunk, ord, keepdims, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    a = np.random.default_rng(chunk).standard_normal(shape)
    a[(0,) * len(shape)] = 0.0  # ord=0 counts non-zeros
    r = da.linalg.norm(da.from_array(a, chunks=chunk), ord, axis, keepdims)
    np.testing.assert_allclose(computed(r), np.linalg.norm(a, ord, axis, keepdims))


def test_norm_of_integers_is_float_and_errors_are_numpys():
    a = np.arange(-6, 6).reshape(3, 4)
    r = da.linalg.norm(da.from_array(a, chunks=2), np.inf)
    assert r.dtype == np.float64 and computed(r) == np.linalg.norm(a, np.inf)
    x = da.ones((2, 3, 4), chunks=2)
    with pytest.raises(ValueError, match="Improper number of dimensions"):
        da.linalg.norm(x)
    with pytest.raises(ValueError, match="for vectors"):
        da.linalg.norm(x, "fro", axis=0)
    with pytest.raises(ValueError, match="for matrices"):
        da.linalg.norm(x, 0, axis=(0, 1))
    with pytest.raises(NotImplementedError, match="ndim > 2"):
        da.linalg.norm(x, "nuc", axis=(1, 2))


# -- metadata as Dask's ------------------------------------------------------------------


def metadata(arrays):
    return [(x.shape, x.chunks, x.dtype) for x in arrays]


@pytest.mark.parametrize(
    "shape, chunks",
    [((30, 4), (7, 4)), ((30, 4), ((5, 20, 5), 4)), ((6, 20), (6, 8)), ((6, 20), 6)],
)
@pytest.mark.parametrize("dtype", ["f8", "f4", "i8"])
def test_qr_and_svd_metadata_are_dasks(shape, chunks, dtype):
    a = well_conditioned(np.random.default_rng(9), *shape).astype(dtype)
    ours, theirs = da.from_array(a, chunks=chunks), dd.from_array(a, chunks=chunks)
    for func in (linalg.qr, linalg.svd):
        assert metadata(func(ours)) == metadata(getattr(dd.linalg, func.__name__)(theirs))
    for x in (*linalg.qr(ours), *linalg.svd(ours)):
        computed(x)


@pytest.mark.parametrize("dtype", ["f8", "f4"])
def test_square_solvers_metadata_are_dasks(dtype):
    a = square(np.random.default_rng(10), 6, spd=True).astype(dtype)
    b = np.ones((6, 2), dtype)
    ours = [da.from_array(a, chunks=3), da.from_array(b, chunks=3)]
    theirs = [dd.from_array(a, chunks=3), dd.from_array(b, chunks=3)]
    for name in ("lu", "cholesky", "inv", "solve", "solve_triangular"):
        args = (1,) if name in ("lu", "cholesky", "inv") else (2,)
        mine = getattr(linalg, name)(*ours[: args[0]])
        dask_ = getattr(dd.linalg, name)(*theirs[: args[0]])
        mine, dask_ = (v if isinstance(v, tuple) else (v,) for v in (mine, dask_))
        assert metadata(mine) == metadata(dask_), name
        for x in mine:
            computed(x)
    x_ours, x_theirs = (
        da.from_array(a[:, :3], chunks=(2, 3)),
        dd.from_array(a[:, :3], chunks=(2, 3)),
    )
    assert metadata(linalg.lstsq(x_ours, ours[1][:, 0].rechunk(2))) == metadata(
        dd.linalg.lstsq(x_theirs, theirs[1][:, 0].rechunk(2))
    )


# -- laziness, SciPy, the benchmark -----------------------------------------------------

CALLS = []


def counted(block):
    CALLS.append(1)
    return block


def test_every_function_is_lazy():
    rng = np.random.default_rng(8)
    spd = square(rng, 6, spd=True)

    def source(a, chunks):
        return da.from_array(a, chunks=chunks).map_blocks(counted, dtype=a.dtype)

    tall = source(well_conditioned(rng, 12, 3), (4, 3))
    sq = source(spd, 3)
    b = source(np.ones(6), 3)
    CALLS.clear()
    built = [
        *linalg.tsqr(tall),
        *linalg.tsqr(tall, compute_svd=True),
        *linalg.sfqr(tall.T.rechunk((3, 6))),
        *linalg.qr(tall),
        *linalg.svd(tall),
        *linalg.svd_compressed(sq, 2, n_power_iter=1, seed=0),
        linalg.compression_matrix(sq, 2),
        *linalg.lu(sq),
        linalg.solve(sq, b),
        linalg.solve(sq, b, assume_a="pos"),
        linalg.solve_triangular(sq, b),
        linalg.inv(sq),
        linalg.cholesky(sq),
        *linalg.lstsq(tall, tall[:, 0]),
        linalg.norm(sq),
        linalg.norm(tall, "nuc"),
    ]
    assert CALLS == [] and all(isinstance(x, da.Array) for x in built)
    computed(built[0])
    assert CALLS  # the graph does read the source when computed


def test_scipy_functions_ask_for_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.linalg", None)
    x = da.from_array(np.eye(4), chunks=2)
    for call in (
        lambda: linalg.lu(x),
        lambda: linalg.solve(x, x),
        lambda: linalg.solve_triangular(x, x),
        lambda: linalg.inv(x),
        lambda: linalg.cholesky(x),
    ):
        with pytest.raises(ImportError, match=r"pip install 'taskloom\[scipy\]'"):
            call()
    q, r = linalg.qr(da.from_array(np.eye(4), chunks=(2, 4)))  # numpy alone
    np.testing.assert_allclose(computed(q) @ computed(r), np.eye(4), atol=1e-12)


def test_bench_linalg_qr_case_agrees_across_libraries():
    from taskloom.bench import run_cases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = run_cases("linalg-qr", 400, {"loop": 1, "taskloom-threads": 1, "dask-threads": 1})
    assert [r["scheduler"] for r in rows] == ["loop", "taskloom-threads", "dask-threads"]
    assert all(r["seconds"] > 0 for r in rows)
