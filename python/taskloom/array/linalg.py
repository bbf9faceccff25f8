"""Linear algebra on blocked arrays, as ``dask.array.linalg``.

This module owns the factorizations (``tsqr``, ``sfqr``, ``qr``, ``svd``,
``svd_compressed``/``compression_matrix``, ``lu``, ``cholesky``), the solvers built on
them (``solve_triangular``, ``solve``, ``inv``, ``lstsq``) and ``norm``.

Policies: each function accepts the chunkings Dask's accepts, and for others raises a
``ValueError`` naming the rechunk needed (where Dask raises ``NotImplementedError``, an
error that is both). Block algorithms are Dask's, one task per block update: TSQR
(local QR per row block, QR of the stacked R's, recursively while that stack is taller
than a block), block LU with pivoting inside diagonal blocks, block Cholesky, block
substitution. Everything else (products, slicing, joining, sign fixing, norms) is
taskloom.array's own operations. SciPy (``pip install 'taskloom[scipy]'``) is imported
only by the functions that call it: ``lu``, ``solve_triangular``, ``solve``, ``inv``,
``cholesky`` and ``lstsq``.
"""

from __future__ import annotations

import builtins
import operator
import warnings
from numbers import Number
from typing import Any

import numpy as np

from taskloom.array.chunks import has_unknown
from taskloom.array.core import Array, _merge, _offsets, asarray
from taskloom.array.routines import concatenate, eye
from taskloom.tokenize import tokenize

__all__ = [
    "cholesky", "compression_level", "compression_matrix", "inv", "lstsq", "lu", "norm",
    "qr", "sfqr", "solve", "solve_triangular", "svd", "svd_compressed", "svd_flip", "tsqr",
]  # fmt: skip


class ChunkingError(NotImplementedError, ValueError):
    """A chunking this function does not support: Dask raises ``NotImplementedError``
    here, this project ``ValueError``; callers may catch either."""


def _scipy_linalg(func: str) -> Any:
    try:
        import scipy.linalg
    except ImportError as e:
        raise ImportError(
            f"taskloom.array.linalg.{func} needs SciPy: pip install 'taskloom[scipy]'"
        ) from e
    return scipy.linalg


def _array(name: str, layer: dict, chunks: tuple, dtype: Any, *parents: Array) -> Array:
    return _merge(parents, name, layer, chunks, dtype)


def _one_block(key: tuple, shape: tuple, dtype: Any, layer: dict, *parents: Array) -> Array:
    """The array whose only block is ``key`` (computed by a task of ``layer``)."""
    return _array(key[0], layer, tuple((s,) for s in shape), dtype, *parents)


def _check_2d(a: Array, func: str) -> None:
    if a.ndim != 2:
        raise ValueError(f"{func} needs a 2-d array, got shape {a.shape}")


def _check_square_blocks(a: Array, func: str) -> None:
    _check_2d(a, func)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"{func} needs a square matrix, got shape {a.shape}")
    if len(set(a.chunks[0] + a.chunks[1])) != 1:
        raise ValueError(
            f"{func} needs square blocks, all of one size: got chunks {a.chunks}; "
            f"rechunk first, e.g. a.rechunk({a.chunks[0][0]})"
        )


# -- block functions (module-level: tasks must pickle for the process schedulers) ----


def _qr_block(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if a.shape[0] == 0:  # numpy rejects empty matrices; an empty block has no rows to add
        dtype = np.linalg.qr(np.ones((1, 1), dtype=a.dtype))[0].dtype
        return np.zeros((0, 0), dtype), np.zeros((0, a.shape[1]), dtype)
    return np.linalg.qr(a)


def _dot_rows(q: np.ndarray, q2: np.ndarray, start: int, stop: int) -> np.ndarray:
    return q @ q2[start:stop]


def _row_offsets(blocks: list) -> list[int]:
    return _offsets([b.shape[0] for b in blocks])


def _dot_rows_at(q: np.ndarray, q2: np.ndarray, offsets: list, i: int) -> np.ndarray:
    return q @ q2[offsets[i] : offsets[i + 1]]


def _vstack(blocks: list) -> np.ndarray:
    return np.vstack(blocks)


def _minus_products(target: np.ndarray, pairs: list) -> np.ndarray:
    """``target - sum(a @ b for a, b in pairs)``: one task per updated block (Dask
    spends one task per product; their count, not their work, would dominate)."""
    for a, b in pairs:
        target = target - a @ b
    return target


def _solve_tri(a: np.ndarray, b: np.ndarray, lower: bool) -> np.ndarray:
    import scipy.linalg

    return scipy.linalg.solve_triangular(a, b, lower=lower)


def _solve_tri_right_upper(u: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``x`` with ``x @ u = b``, ``u`` upper triangular: ``u.T @ x.T = b.T``."""
    return _solve_tri(u.T, b.T, lower=True).T


def _lu_block(a: np.ndarray) -> tuple:
    import scipy.linalg

    return scipy.linalg.lu(a)


def _conj_t(a: np.ndarray) -> np.ndarray:
    return np.transpose(a).conj()


def _singular_values(r: np.ndarray) -> np.ndarray:
    return np.linalg.svd(r, compute_uv=False)


def _matrix_rank(r: np.ndarray) -> Any:
    return np.linalg.matrix_rank(r)


def _conj(x: Array) -> Array:
    return x.map_blocks(np.conj) if np.iscomplexobj(np.ones(1, x.dtype)) else x


# -- QR -------------------------------------------------------------------------------


def _qr_dtype(dtype: np.dtype) -> np.dtype:
    return np.linalg.qr(np.ones((1, 1), dtype=dtype))[0].dtype


def _min_known(*sizes: float) -> int:
    """``min(m, n)`` where one may be unknown (NaN): the known one, as Dask assumes."""
    return builtins.min(s for s in sizes if s == s)


def tsqr(
    data: Array, compute_svd: bool = False, _max_vchunk_size: int | None = None
) -> tuple[Array, ...]:
    """QR (or SVD) of a tall-and-skinny matrix: the direct TSQR of Benson, Gleich and
    Demmel, as Dask's.

    Each row block gets its own QR; the stacked R factors get another (recursively, in
    groups no taller than the tallest block, while that shrinks the stack), and each
    block of Q is its block's Q times its rows of the second Q.

    Parameters
    ----------
    data : Array
        A 2-d array with one block along its columns.
    compute_svd : bool
        Return the SVD ``u, s, vh`` instead of ``q, r``.
    _max_vchunk_size : int, optional
        Used by the recursion (the tallest block of the original array).

    Row blocks of unknown size (NaN chunks, e.g. after boolean indexing) are allowed, as
    in Dask: their Q blocks are found when computed, and ``q`` has as many columns as
    ``data`` (the matrix is taken to be tall).

    Returns
    -------
    q, r : Array
        ``q`` orthonormal columns, in ``data``'s row blocks; ``r`` upper triangular, one
        block. Or ``u, s, vh`` with ``compute_svd``.

    Raises
    ------
    ValueError
        If ``data`` is not 2-d or has more than one block along its columns.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> a = np.arange(24.0).reshape(8, 3) ** 2
    >>> q, r = da.linalg.tsqr(da.from_array(a, chunks=(2, 3)))
    >>> q.chunks, r.shape
    (((2, 2, 2, 2), (3,)), (3, 3))
    >>> np.allclose(q.compute() @ r.compute(), a)
    True
    """
    data = asarray(data)
    if data.ndim != 2 or data.numblocks[1] != 1:
        raise ValueError(
            "tsqr needs a 2-d array with one block along its columns, e.g. "
            f"x.rechunk({{1: -1}}); got shape {data.shape}, chunks {data.chunks}"
        )
    if has_unknown(data.chunks[1]):
        raise ValueError("tsqr needs the number of columns: call x.compute_chunk_sizes() first")
    m, n = data.shape
    rows = data.chunks[0]
    dtype = _qr_dtype(data.dtype)
    token = tokenize(data.name, compute_svd, _max_vchunk_size)
    qr1, q1, r1 = f"tsqr-qr1-{token}", f"tsqr-q1-{token}", f"tsqr-r1-{token}"
    layer: dict = {}
    for i in builtins.range(len(rows)):
        layer[(qr1, i, 0)] = (_qr_block, (data.name, i, 0))
        layer[(q1, i, 0)] = (operator.getitem, (qr1, i, 0), 0)
        layer[(r1, i, 0)] = (operator.getitem, (qr1, i, 0), 1)
    unknown = has_unknown(rows)
    r_rows = [builtins.min(c, n) if c == c else c for c in rows]  # rows of each block's R
    k = _min_known(m, n)  # columns of Q, rows of R

    # R's grouped, in order, into stacks no taller than the tallest block (Dask's rule).
    tallest = 0 if unknown else builtins.max(rows)
    groups: list[list[int]] = [[]]
    height = 0
    for i, h in enumerate([] if unknown else r_rows):
        if height + h > tallest and groups[-1]:
            groups.append([])
            height = 0
        groups[-1].append(i)
        height += h
    reduces = (tallest if _max_vchunk_size is None else _max_vchunk_size) >= 2 * n
    recurse = len(groups) > 1 and reduces  # never with unknown sizes: one group
    # The array of the blocks' R factors (its graph also holds their Q factors).
    r_local = _array(r1, layer, (tuple(r_rows), (n,)), dtype, data)
    if recurse:
        stack = f"tsqr-stack-{token}"
        stacks = {
            (stack, g, 0): (_vstack, [(r1, i, 0) for i in grp]) for g, grp in enumerate(groups)
        }
        heights = tuple(builtins.sum(r_rows[i] for i in grp) for grp in groups)
        q_inner, r = tsqr(
            _array(stack, stacks, (heights, (n,)), dtype, r_local), _max_vchunk_size=tallest
        )
        pieces = {}
        for g, grp in enumerate(groups):
            offsets = _offsets([r_rows[i] for i in grp])
            for j, i in enumerate(grp):
                pieces[i] = ((q_inner.name, g, 0), offsets[j], offsets[j + 1])
        second = q_inner
    else:
        qr2, q2, r2 = f"tsqr-qr2-{token}", f"tsqr-q2-{token}", f"tsqr-r-{token}"
        stack_layer = {
            (qr2, 0, 0): (_qr_block, (_vstack, [(r1, i, 0) for i in builtins.range(len(rows))])),
            (q2, 0, 0): (operator.getitem, (qr2, 0, 0), 0),
            (r2, 0, 0): (operator.getitem, (qr2, 0, 0), 1),
        }
        # Each block's rows of the second Q, found from the R's shapes when computed
        # (block sizes may be unknown until then).
        offsets = f"tsqr-offsets-{token}"
        stack_layer[offsets] = (_row_offsets, [(r1, i, 0) for i in builtins.range(len(rows))])
        r = second = _one_block((r2, 0, 0), (k, n), dtype, stack_layer, r_local)
        pieces = {i: ((q2, 0, 0), offsets, i) for i in builtins.range(len(rows))}
    qname = f"tsqr-q-{token}"
    dot = _dot_rows if recurse else _dot_rows_at
    qlayer = {(qname, i, 0): (dot, (q1, i, 0), *pieces[i]) for i in builtins.range(len(rows))}
    q = _array(qname, qlayer, (rows, (k,)), dtype, r_local, second)
    if not compute_svd:
        return q, r
    # SVD of R as Dask's (full_matrices: vh is n x n), then u = Q @ u_R.
    svd_name = f"tsqr-svd-{token}"
    u_dtype, s_dtype = (x.dtype for x in np.linalg.svd(np.ones((1, 1), dtype))[:2])
    svd_layer = {
        (svd_name, 0, 0): (np.linalg.svd, r.__dask_keys__()[0][0]),
        (f"{svd_name}-u", 0, 0): (operator.getitem, (svd_name, 0, 0), 0),
        (f"{svd_name}-s", 0): (operator.getitem, (svd_name, 0, 0), 1),
        (f"{svd_name}-vh", 0, 0): (operator.getitem, (svd_name, 0, 0), 2),
    }
    u_r = _one_block((f"{svd_name}-u", 0, 0), (k, k), u_dtype, svd_layer, r)
    s = _one_block((f"{svd_name}-s", 0), (k,), s_dtype, svd_layer, r)
    vh = _one_block((f"{svd_name}-vh", 0, 0), (n, n), u_dtype, svd_layer, r)
    return q @ u_r, s, vh


def sfqr(data: Array, name: str | None = None) -> tuple[Array, Array]:
    """QR of a short-and-fat matrix, as Dask's: ``Q R_1 = A_1`` for the first column
    block, then ``R = [R_1, Q^H A_rest]``.

    Parameters
    ----------
    data : Array
        A 2-d array with one block along its rows and, unless it has one column block,
        a first column block at least as wide as it is tall.
    name : str, optional
        Prefix of the key names.

    Returns
    -------
    q, r : Array
        ``q`` square orthogonal (one block), ``r`` upper triangular in ``data``'s column
        blocks.

    Raises
    ------
    ValueError
        For other chunkings, naming the rechunk needed.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> a = np.arange(1.0, 19.0).reshape(3, 6) ** 2
    >>> q, r = da.linalg.sfqr(da.from_array(a, chunks=3))
    >>> r.chunks
    ((3,), (3, 3))
    >>> np.allclose(q.compute() @ r.compute(), a)
    True
    """
    data = asarray(data)
    if not (
        data.ndim == 2
        and data.numblocks[0] == 1
        and (data.chunks[0][0] <= data.chunks[1][0] or data.numblocks[1] == 1)
    ):
        raise ValueError(
            "sfqr needs a 2-d array with one block along its rows and a first column "
            "block at least as wide as the array is tall (or one column block), e.g. "
            f"x.rechunk({{0: -1}}); got shape {data.shape}, chunks {data.chunks}"
        )
    m = data.shape[0]
    cc = data.chunks[1][0]
    k = builtins.min(m, cc)
    prefix = name or f"sfqr-{tokenize(data.name)}"
    dtype = _qr_dtype(data.dtype)
    layer = {
        (f"{prefix}-qr", 0, 0): (_qr_block, (data.name, 0, 0)),
        (f"{prefix}-q", 0, 0): (operator.getitem, (f"{prefix}-qr", 0, 0), 0),
        (f"{prefix}-r1", 0, 0): (operator.getitem, (f"{prefix}-qr", 0, 0), 1),
    }
    q = _one_block((f"{prefix}-q", 0, 0), (m, k), dtype, layer, data)
    r1 = _one_block((f"{prefix}-r1", 0, 0), (k, cc), dtype, layer, data)
    if data.numblocks[1] == 1:
        return q, r1
    # Q^H, not Dask's Q^T: the same for real data, and right for complex data.
    return q, concatenate([r1, _conj(q).T @ data[:, cc:]], axis=1)


def qr(a: Array) -> tuple[Array, Array]:
    """The QR factorization of a matrix: :func:`tsqr` for one column block (and more
    than one row block), else :func:`sfqr` for one row block.

    Parameters
    ----------
    a : Array
        A 2-d array.

    Returns
    -------
    q, r : Array
        Orthonormal columns and upper triangular, ``q @ r == a``.

    Raises
    ------
    ValueError
        (Also a ``NotImplementedError``, as Dask's.) If ``a`` has several blocks along
        both axes: rechunk one axis to a single block.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> a = da.from_array(np.arange(12.0).reshape(6, 2) ** 2, chunks=(2, 2))
    >>> q, r = da.linalg.qr(a)
    >>> np.allclose(q.compute() @ r.compute(), a.compute())
    True
    """
    a = asarray(a)
    _check_2d(a, "qr")
    if a.numblocks[1] == 1 and a.numblocks[0] > 1:
        return tsqr(a)
    if a.numblocks[0] == 1:
        return sfqr(a)
    raise ChunkingError(
        "qr supports tall-and-skinny matrices (one block along the columns, see tsqr) "
        "and short-and-fat ones (one block along the rows, see sfqr); got chunks "
        f"{a.chunks}. Rechunk one axis to a single block: "
        "x.rechunk({0: 'auto', 1: -1}) or x.rechunk({0: -1, 1: 'auto'})"
    )


# -- SVD ------------------------------------------------------------------------------


def svd_flip(u: Array, v: Array, u_based_decision: bool = False) -> tuple[Array, Array]:
    """Signs of the singular vectors made deterministic, as Dask's ``svd_flip``: each
    pair ``u[:, i], v[i]`` is flipped so that ``v[i]`` (or ``u[:, i]``) sums to >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> u, v = da.from_array(np.eye(2), chunks=1), da.from_array(-np.eye(2), chunks=1)
    >>> [x.compute().tolist() for x in svd_flip(u, v)]
    [[[-1.0, -0.0], [-0.0, -1.0]], [[1.0, 0.0], [0.0, 1.0]]]
    """
    if u_based_decision:
        dtype, signs = u.dtype, u.sum(axis=0, keepdims=True)
    else:
        dtype, signs = v.dtype, v.sum(axis=1, keepdims=True).T
    signs = (((signs >= 0) - 0.5) * 2.0).astype(dtype)
    return u * signs, v * signs.T


def svd(a: Array, coerce_signs: bool = True, full_matrices: bool = False) -> tuple[Array, ...]:
    """The reduced singular value decomposition of a matrix chunked along one axis.

    Tall-and-skinny arrays (one column block) go through :func:`tsqr`, short-and-fat
    ones through ``tsqr`` of the transpose; one block is numpy's ``svd``.

    Parameters
    ----------
    a : Array
        A 2-d array with one block along at least one axis.
    coerce_signs : bool
        Flip singular vector pairs to deterministic signs (see :func:`svd_flip`).
    full_matrices : bool
        Only ``False`` (the reduced SVD), as Dask.

    Returns
    -------
    u, s, v : Array
        ``(M, K)``, ``(K,)`` decreasing, ``(K, N)``, ``K = min(M, N)``.

    Raises
    ------
    ValueError
        (Also a ``NotImplementedError``, as Dask's.) If ``a`` is chunked along both
        axes; see :func:`svd_compressed` for those.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> a = np.arange(20.0).reshape(10, 2) ** 2
    >>> u, s, v = da.linalg.svd(da.from_array(a, chunks=(5, 2)))
    >>> np.allclose(s.compute(), np.linalg.svd(a)[1])
    True
    """
    if full_matrices:
        raise NotImplementedError(
            "full_matrices=True is not implemented: use full_matrices=False (reduced SVD)"
        )
    a = asarray(a)
    _check_2d(a, "svd")
    nb = a.numblocks
    if nb[0] > 1 and nb[1] > 1:
        raise ChunkingError(
            "svd needs an array chunked along one axis only (tall-and-skinny or "
            f"short-and-fat); got chunks {a.chunks}. Rechunk, e.g. "
            "x.rechunk({1: -1}), or see svd_compressed for arrays chunked along both"
        )
    m, n = a.shape
    k = _min_known(m, n)
    if nb == (1, 1):
        name = f"svd-{tokenize(a.name)}"
        dtypes = [x.dtype for x in np.linalg.svd(np.ones((1, 1), a.dtype))]
        layer = {
            (name, 0, 0): (np.linalg.svd, (a.name, 0, 0), False),
            (f"{name}-u", 0, 0): (operator.getitem, (name, 0, 0), 0),
            (f"{name}-s", 0): (operator.getitem, (name, 0, 0), 1),
            (f"{name}-v", 0, 0): (operator.getitem, (name, 0, 0), 2),
        }
        u = _one_block((f"{name}-u", 0, 0), (m, k), dtypes[0], layer, a)
        s = _one_block((f"{name}-s", 0), (k,), dtypes[1], layer, a)
        v = _one_block((f"{name}-v", 0, 0), (k, n), dtypes[2], layer, a)
    else:
        if nb[0] > nb[1]:
            u, s, v = tsqr(a, compute_svd=True)
        else:
            vt, s, ut = tsqr(a.T, compute_svd=True)
            u, v = ut.T, vt.T
        # The chunking's long axis may still be the shorter one: drop the extra vectors.
        if u.shape[1] != k:
            u = u[:, :k]
        if v.shape[0] != k:
            v = v[:k, :]
    if coerce_signs:
        u, v = svd_flip(u, v)
    return u, s, v


def compression_level(n: int, q: int, n_oversamples: int = 10, min_subspace_size: int = 20) -> int:
    """The size of the subspace :func:`compression_matrix` samples: ``q`` plus
    ``n_oversamples``, at least ``min_subspace_size``, at most ``n``.

    Examples
    --------
    >>> compression_level(100, 10)
    20
    """
    return builtins.min(builtins.max(min_subspace_size, q + n_oversamples), n)


def compression_matrix(
    data: Array,
    q: int,
    iterator: str = "power",
    n_power_iter: int = 0,
    n_oversamples: int = 10,
    seed: Any = None,
    compute: bool = False,
) -> Array:
    """A matrix with orthonormal rows spanning ``data``'s most active column space
    (Halko, Martinsson and Tropp's randomized range finder), as Dask's.

    Parameters
    ----------
    data : Array
        A 2-d array (chunked along rows; along columns too when ``n_power_iter`` is 0).
    q : int
        The rank wanted (the subspace is larger, see :func:`compression_level`).
    iterator : {'power', 'QR'}
        Power iterations as products only, or with a QR after each product.
    n_power_iter : int
        Power iterations, for slowly decaying singular values.
    n_oversamples : int
        Extra sampled directions.
    seed : int, numpy or taskloom random state, optional
        Seed of the Gaussian test matrix (or a ``taskloom.array.random.RandomState``).
    compute : bool
        Persist intermediate products between passes over ``data``.

    Returns
    -------
    Array
        ``(compression_level(...), M)`` with orthonormal rows.

    Raises
    ------
    ValueError
        For an unknown ``iterator``.

    Examples
    --------
    >>> import taskloom.array as da
    >>> x = da.random.default_rng(0).random((40, 10), chunks=(10, 10))
    >>> compression_matrix(x, 3).shape
    (10, 40)
    """
    from taskloom.array import random

    if iterator not in ("power", "QR"):
        raise ValueError(f"iterator={iterator!r} is not valid: use 'power' or 'QR'")
    data = asarray(data)
    m, n = data.shape
    level = compression_level(builtins.min(m, n), q, n_oversamples=n_oversamples)
    state = seed if isinstance(seed, random.RandomState) else random.default_rng(seed)
    datatype = np.float32 if data.dtype.type in (np.float32, np.complex64) else np.float64
    omega = state.standard_normal(size=(n, level), chunks=(data.chunks[1], (level,)))
    omega = omega.astype(datatype)

    def persisted(x: Array) -> Array:
        return x.persist() if compute else x

    mat_h = data.dot(omega)
    if iterator == "power":
        for _ in builtins.range(n_power_iter):
            mat_h = persisted(mat_h)
            mat_h = data.dot(persisted(data.T.dot(mat_h)))
        basis, _ = tsqr(mat_h)
    else:
        basis, _ = tsqr(mat_h)
        for _ in builtins.range(n_power_iter):
            basis, _ = tsqr(data.T.dot(persisted(basis)))
            basis, _ = tsqr(data.dot(persisted(basis)))
    return basis.T


def svd_compressed(
    a: Array,
    k: int,
    iterator: str = "power",
    n_power_iter: int = 0,
    n_oversamples: int = 10,
    seed: Any = None,
    compute: bool = False,
    coerce_signs: bool = True,
) -> tuple[Array, Array, Array]:
    """The rank-``k`` thin SVD, approximated by random compression, as Dask's; works on
    arrays chunked along both axes.

    Parameters
    ----------
    a : Array
        A 2-d array.
    k : int
        The rank of the result.
    iterator, n_power_iter, n_oversamples, seed, compute
        As :func:`compression_matrix`.
    coerce_signs : bool
        Flip singular vector pairs to deterministic signs (see :func:`svd_flip`).

    Returns
    -------
    u, s, v : Array
        ``(M, k)``, ``(k,)`` decreasing, ``(k, N)``.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> a = np.outer(np.arange(1.0, 41.0), np.arange(1.0, 21.0))  # rank 1
    >>> u, s, v = svd_compressed(da.from_array(a, chunks=10), 1, seed=0)
    >>> np.allclose(s.compute(), np.linalg.svd(a)[1][:1])
    True
    """
    a = asarray(a)
    comp = compression_matrix(
        a,
        k,
        iterator=iterator,
        n_power_iter=n_power_iter,
        n_oversamples=n_oversamples,
        seed=seed,
        compute=compute,
    )
    if compute:
        comp = comp.persist()
    v, s, u = tsqr(comp.dot(a).T, compute_svd=True)
    u = comp.T.dot(u.T)[:, :k]
    s = s[:k]
    v = v.T[:k, :]
    if coerce_signs:
        u, v = svd_flip(u, v)
    return u, s, v


# -- LU, Cholesky and solvers ----------------------------------------------------------


def lu(a: Array) -> tuple[Array, Array, Array]:
    """The LU decomposition ``a = p @ l @ u`` of a square matrix in square blocks, as
    Dask's (pivoting within the diagonal blocks, so ``p`` is block diagonal). Needs
    SciPy.

    Parameters
    ----------
    a : Array
        A square matrix whose blocks are all square and of one size.

    Returns
    -------
    p, l, u : Array
        A permutation matrix, lower triangular with unit diagonal, upper triangular.

    Raises
    ------
    ValueError
        If ``a`` is not square or its blocks are not square of one size.
    ImportError
        Without SciPy.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> a = np.array([[1.0, 2, 0, 1], [3, 1, 1, 0], [0, 1, 4, 2], [1, 0, 2, 5]])
    >>> p, l, u = da.linalg.lu(da.from_array(a, chunks=2))
    >>> np.allclose(p.compute() @ l.compute() @ u.compute(), a)
    True
    """
    scipy_linalg = _scipy_linalg("lu")
    a = asarray(a)
    _check_square_blocks(a, "lu")
    nb = a.numblocks[0]
    token = tokenize(a.name)
    lu_, p_, l_, u_ = (f"lu-{part}-{token}" for part in ("lu", "p", "l", "u"))
    l_perm, p_inv = f"lu-lperm-{token}", f"lu-pinv-{token}"
    sizes = a.chunks[0]
    # scipy's p, l and u share one dtype (p's ones and zeros are floats).
    dtype = scipy_linalg.lu(np.ones((1, 1), dtype=a.dtype))[1].dtype
    dsk: dict = {}
    for i in builtins.range(nb):
        # Diagonal block: what is left of it after the blocks above and to the left.
        target = (
            _minus_products,
            (a.name, i, i),
            [((l_perm, i, p), (u_, p, i)) for p in builtins.range(i)],
        )
        dsk[(lu_, i, i)] = (_lu_block, target)
        for j in builtins.range(i + 1, nb):  # the row of U right of it
            target = (
                _minus_products,
                (np.dot, (p_inv, i, i), (a.name, i, j)),
                [((l_, i, p), (u_, p, j)) for p in builtins.range(i)],
            )
            dsk[(lu_, i, j)] = (_solve_tri, (l_, i, i), target, True)
        for r in builtins.range(i + 1, nb):  # the column of (row-permuted) L below it
            target = (
                _minus_products,
                (a.name, r, i),
                [((l_perm, r, p), (u_, p, i)) for p in builtins.range(i)],
            )
            dsk[(lu_, r, i)] = (_solve_tri_right_upper, (u_, i, i), target)
    for i in builtins.range(nb):
        for j in builtins.range(nb):
            zeros = (np.zeros, (sizes[i], sizes[j]), dtype)
            if i == j:
                for part, name in enumerate((p_, l_, u_)):
                    dsk[(name, i, i)] = (operator.getitem, (lu_, i, i), part)
                dsk[(l_perm, i, i)] = (np.dot, (p_, i, i), (l_, i, i))
                dsk[(p_inv, i, i)] = (np.transpose, (p_, i, i))
            elif i > j:
                # Blocks below the diagonal were solved in row-permuted order: undo it.
                dsk[(p_, i, j)] = dsk[(u_, i, j)] = zeros
                dsk[(l_, i, j)] = (np.dot, (p_inv, i, i), (lu_, i, j))
                dsk[(l_perm, i, j)] = (lu_, i, j)
            else:
                dsk[(p_, i, j)] = dsk[(l_, i, j)] = zeros
                dsk[(u_, i, j)] = (lu_, i, j)
    return tuple(_array(name, dsk, a.chunks, dtype, a) for name in (p_, l_, u_))


def solve_triangular(a: Array, b: Array, lower: bool = False) -> Array:
    """Solve ``a @ x = b`` for ``x``, ``a`` triangular, by block substitution. Needs
    SciPy.

    Parameters
    ----------
    a : (M, M) Array
        Triangular, in square diagonal blocks.
    b : (M,) or (M, N) Array
        Right-hand side, with ``a``'s column blocks along its rows.
    lower : bool
        Use ``a``'s lower triangle (default: the upper).

    Returns
    -------
    Array
        ``x``, shaped and chunked as ``b``.

    Raises
    ------
    ValueError
        If the shapes do not match or the blocks do not line up (naming the rechunk).
    ImportError
        Without SciPy.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> a = da.from_array(np.triu(np.arange(1.0, 17.0).reshape(4, 4)), chunks=2)
    >>> x = solve_triangular(a, da.from_array(np.ones(4), chunks=2))
    >>> np.allclose(a.compute() @ x.compute(), 1)
    True
    """
    _scipy_linalg("solve_triangular")
    a, b = asarray(a), asarray(b)
    if a.ndim != 2:
        raise ValueError(f"a must be 2-d, got shape {a.shape}")
    if b.ndim not in (1, 2):
        raise ValueError(f"b must be 1-d or 2-d, got shape {b.shape}")
    if a.shape[0] != a.shape[1] or a.shape[1] != b.shape[0]:
        raise ValueError(
            f"a must be square with as many columns as b has rows: {a.shape}, {b.shape}"
        )
    if a.chunks[0] != a.chunks[1] or a.chunks[1] != b.chunks[0]:
        raise ValueError(
            f"a's row and column blocks and b's row blocks must be equal: a.chunks "
            f"{a.chunks}, b.chunks {b.chunks}; rechunk, e.g. "
            f"a.rechunk({a.chunks[1]}) and b.rechunk({{0: {a.chunks[1]}}})"
        )
    nb = a.numblocks[0]
    cols = 1 if b.ndim == 1 else b.numblocks[1]
    name = f"solve-triangular-{tokenize(a.name, b.name, lower)}"

    def key(base: str, i: int, j: int) -> tuple:
        return (base, i) if b.ndim == 1 else (base, i, j)

    dsk: dict = {}
    order = builtins.range(nb) if lower else builtins.range(nb - 1, -1, -1)
    for i in order:
        done = builtins.range(i) if lower else builtins.range(i + 1, nb)
        for j in builtins.range(cols):
            target = (
                _minus_products,
                key(b.name, i, j),
                [((a.name, i, p), key(name, p, j)) for p in done],
            )
            dsk[key(name, i, j)] = (_solve_tri, (a.name, i, i), target, lower)
    dtype = _solve_tri(np.array([[1, 0], [1, 2]], a.dtype), np.array([0, 1], b.dtype), True).dtype
    return _array(name, dsk, b.chunks, dtype, a, b)


def _cholesky(a: Array) -> tuple[Array, Array]:
    """Both Cholesky factors ``l``, ``u = l^H`` (the graph builds both anyway)."""
    _scipy_linalg("cholesky")
    a = asarray(a)
    _check_square_blocks(a, "cholesky")
    nb = a.numblocks[0]
    token = tokenize(a.name)
    lo, up = f"cholesky-{token}", f"cholesky-upper-{token}"
    sizes = a.chunks[0]
    dtype = np.linalg.cholesky(np.array([[1, 2], [2, 5]], dtype=a.dtype)).dtype
    dsk: dict = {}
    for i in builtins.range(nb):
        for j in builtins.range(nb):
            if i < j:
                dsk[(lo, i, j)] = (np.zeros, (sizes[i], sizes[j]), dtype)
                dsk[(up, j, i)] = (lo, i, j)
            elif i == j:
                target = (
                    _minus_products,
                    (a.name, i, i),
                    [((lo, i, p), (up, p, i)) for p in builtins.range(i)],
                )
                dsk[(lo, i, i)] = (np.linalg.cholesky, target)
                dsk[(up, i, i)] = (_conj_t, (lo, i, i))
            else:
                # U_ji solves L_jj @ U_ji = A_ji - sum_p L_jp @ U_pi; L_ij is its transpose.
                target = (
                    _minus_products,
                    (a.name, j, i),
                    [((lo, j, p), (up, p, i)) for p in builtins.range(j)],
                )
                dsk[(up, j, i)] = (_solve_tri, (lo, j, j), target, True)
                dsk[(lo, i, j)] = (_conj_t, (up, j, i))
    return _array(lo, dsk, a.chunks, dtype, a), _array(up, dsk, a.chunks, dtype, a)


def cholesky(a: Array, lower: bool = False) -> Array:
    """The Cholesky factor of a Hermitian positive-definite matrix in square blocks:
    ``a = l @ l^H`` (``lower``) or ``a = u^H @ u``. Needs SciPy.

    Parameters
    ----------
    a : (M, M) Array
        Hermitian positive-definite, with square blocks of one size.
    lower : bool
        Return the lower factor (default: the upper).

    Returns
    -------
    Array

    Raises
    ------
    ValueError
        If ``a`` is not square or its blocks are not square of one size.
    ImportError
        Without SciPy.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> a = np.array([[4.0, 2, 0, 0], [2, 5, 1, 0], [0, 1, 3, 1], [0, 0, 1, 2]])
    >>> u = cholesky(da.from_array(a, chunks=2)).compute()
    >>> np.allclose(u.T @ u, a)
    True
    """
    lo, up = _cholesky(a)
    return lo if lower else up


def solve(a: Array, b: Array, sym_pos: bool | None = None, assume_a: str = "gen") -> Array:
    """Solve ``a @ x = b``: LU and two block substitutions, or Cholesky with
    ``assume_a='pos'``, as Dask's. Needs SciPy.

    Parameters
    ----------
    a : (M, M) Array
        Square, in square blocks of one size.
    b : (M,) or (M, N) Array
        Right-hand side.
    sym_pos : bool, optional
        Deprecated (a ``FutureWarning``, as Dask): ``True`` means ``assume_a='pos'``.
    assume_a : {'gen', 'pos'}
        General (LU) or symmetric positive definite (Cholesky).

    Returns
    -------
    Array
        ``x``, shaped as ``b``.

    Raises
    ------
    ValueError
        For another ``assume_a``, or a chunking ``lu``/``cholesky`` rejects.
    ImportError
        Without SciPy.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> a = np.array([[3.0, 1, 0, 0], [1, 4, 1, 0], [0, 1, 5, 1], [0, 0, 1, 6]])
    >>> x = solve(da.from_array(a, chunks=2), da.from_array(np.ones(4), chunks=2))
    >>> np.allclose(a @ x.compute(), 1)
    True
    """
    if sym_pos is not None:
        warnings.warn(
            "The sym_pos keyword is deprecated and should be replaced by using "
            "``assume_a = 'pos'``. ``sym_pos`` will be removed in a future version.",
            category=FutureWarning,
            stacklevel=2,
        )
        if sym_pos:
            assume_a = "pos"
    a, b = asarray(a), asarray(b)
    if assume_a == "pos":
        lo, up = _cholesky(a)
    elif assume_a == "gen":
        p, lo, up = lu(a)
        b = p.T.dot(b)
    else:
        raise ValueError(
            f"assume_a={assume_a!r} is not a recognized matrix structure: use 'gen' or 'pos'"
        )
    return solve_triangular(up, solve_triangular(lo, b, lower=True))


def inv(a: Array) -> Array:
    """The inverse of a square matrix in square blocks: :func:`solve` of the
    identity. Needs SciPy.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> a = np.array([[2.0, 1, 0, 0], [1, 3, 1, 0], [0, 1, 4, 1], [0, 0, 1, 5]])
    >>> np.allclose(inv(da.from_array(a, chunks=2)).compute() @ a, np.eye(4))
    True
    """
    a = asarray(a)
    _check_2d(a, "inv")
    return solve(a, eye(a.shape[0], chunks=a.chunks[0][0]))


def lstsq(a: Array, b: Array) -> tuple[Array, Array, Array, Array]:
    """The least-squares solution of ``a @ x = b`` by QR, as Dask's. Needs SciPy.

    Parameters
    ----------
    a : (M, N) Array
        Chunked as :func:`qr` needs (tall-and-skinny: one column block).
    b : (M,) or (M, K) Array
        Right-hand side.

    Returns
    -------
    x : (N,) or (N, K) Array
        The solution.
    residuals : (1,) or (K,) Array
        Squared 2-norms of the columns of ``b - a @ x``.
    rank : 0-d Array
        The rank of ``a``.
    s : (min(M, N),) Array
        The singular values of ``a``.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> a = np.vander(np.arange(8.0), 3)
    >>> b = da.from_array(np.ones(8), chunks=4)
    >>> x, res, rank, s = lstsq(da.from_array(a, chunks=(4, 3)), b)
    >>> np.allclose(x.compute(), [0, 0, 1]), int(rank.compute())
    (True, 3)
    """
    a, b = asarray(a), asarray(b)
    q, r = qr(a)
    x = solve_triangular(r, _conj(q.T).dot(b))
    residuals = abs(b - a.dot(x)) ** 2
    residuals = residuals.sum(axis=0, keepdims=b.ndim == 1)
    token = tokenize(a.name, b.name)
    r_key = r.__dask_keys__()[0][0]
    rank_name, s_name = f"lstsq-rank-{token}", f"lstsq-singular-{token}"
    rank = _array(rank_name, {(rank_name,): (_matrix_rank, r_key)}, (), np.intp, r)
    s_dtype = np.linalg.svd(np.ones((1, 1), r.dtype), compute_uv=False).dtype
    s = _array(s_name, {(s_name, 0): (_singular_values, r_key)}, ((r.shape[0],),), s_dtype, r)
    return x, residuals, rank, s


# -- norms -----------------------------------------------------------------------------


def norm(x: Array, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Array:
    """Matrix or vector norm, as ``numpy.linalg.norm`` with Dask's limits.

    Parameters
    ----------
    x : Array
        Input array; integer arrays are taken as float64, as numpy.
    ord : {None, 'fro', 'nuc', inf, -inf, 0, 1, -1, 2, -2, other number}
        The norm's order: over two axes, ``None``/``'fro'``, ``'nuc'``, ``inf``,
        ``-inf``, ``1``, ``-1``, ``2``, ``-2``; over one, any number.
    axis : int or pair of ints, optional
        The axes of the vectors (one) or matrices (two); default: all (at most two).
    keepdims : bool
        Keep the reduced axes, with length 1.

    Returns
    -------
    Array

    Raises
    ------
    ValueError
        For more than two axes, or an order the vector/matrix case has not.
    NotImplementedError
        For SVD-based norms ('nuc', 2, -2) of arrays of more than two dimensions.

    Examples
    --------
    >>> import numpy as np
    >>> import taskloom.array as da
    >>> x = da.from_array(np.array([[3.0, -4.0], [0.0, 12.0]]), chunks=1)
    >>> float(norm(x)), float(norm(x, 1)), norm(x, np.inf, axis=1).compute().tolist()
    (13.0, 16.0, [4.0, 12.0])
    """
    x = asarray(x)
    if not np.issubdtype(x.dtype, np.inexact):
        x = x.astype(float)
    if axis is None:
        axis = tuple(builtins.range(x.ndim))
    elif isinstance(axis, Number):
        axis = (int(axis),)
    else:
        axis = tuple(axis)
    if len(axis) > 2:
        raise ValueError("Improper number of dimensions to norm.")
    matrix = len(axis) == 2
    if ord == "fro":
        if not matrix:
            raise ValueError("Invalid norm order for vectors.")
        ord = None
    r = abs(x)

    def squeezed(y: Array) -> Array:
        return y if keepdims else y.squeeze(axis=axis)

    def singular_values() -> Array:
        if x.ndim > 2:
            raise NotImplementedError("SVD based norm not implemented for ndim > 2")
        return svd(x, coerce_signs=False)[1]

    if ord is None:
        return (r**2).sum(axis=axis, keepdims=keepdims) ** 0.5
    if isinstance(ord, str):
        if ord != "nuc":
            raise ValueError(f"Invalid norm order {ord!r}")
        if not matrix:
            raise ValueError("Invalid norm order for vectors.")
        return _full_shape(singular_values().sum(), keepdims, x.ndim)
    if ord in (np.inf, -np.inf):
        pick = "max" if ord > 0 else "min"
        if not matrix:
            return getattr(r, pick)(axis=axis, keepdims=keepdims)
        rows = r.sum(axis=axis[1], keepdims=True)
        return squeezed(getattr(rows, pick)(axis=axis[0], keepdims=True))
    if ord == 0:
        if matrix:
            raise ValueError("Invalid norm order for matrices.")
        return (r != 0).astype(r.dtype).sum(axis=axis, keepdims=keepdims)
    if matrix and ord in (1, -1):
        columns = r.sum(axis=axis[0], keepdims=True)
        return squeezed((columns.max if ord == 1 else columns.min)(axis=axis[1], keepdims=True))
    if matrix and ord in (2, -2):
        s = singular_values()
        return _full_shape(s.max() if ord == 2 else s.min(), keepdims, x.ndim)
    if matrix:
        raise ValueError("Invalid norm order for matrices.")
    if ord == 1:
        return r.sum(axis=axis, keepdims=keepdims)
    return (r**ord).sum(axis=axis, keepdims=keepdims) ** (1.0 / ord)


def _full_shape(value: Array, keepdims: bool, ndim: int) -> Array:
    """A 0-d result, as ``(1,) * ndim`` with ``keepdims`` (as numpy)."""
    return value[(None,) * ndim] if keepdims else value
