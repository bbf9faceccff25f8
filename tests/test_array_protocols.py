"""NumPy's protocols on taskloom arrays give numpy's answers and Dask's laziness (#13.10)."""

from __future__ import annotations

import operator
import warnings

import dask.array as dd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taskloom.array as da

A = np.arange(1.0, 25.0).reshape(4, 6) % 5 - 2


@pytest.fixture
def x():
    return da.from_array(A, chunks=(3, 4))


def check(ours, theirs, dask_result=None):
    """A lazy result equal to numpy's, with metadata that matches its data."""
    assert isinstance(ours, da.Array), type(ours)
    got = ours.compute()
    np.testing.assert_allclose(got, theirs, rtol=1e-6)
    got = np.asarray(got)
    assert ours.shape == got.shape and ours.dtype == got.dtype, (ours, got.dtype)
    assert tuple(sum(c) for c in ours.chunks) == got.shape
    if dask_result is not None:
        assert ours.dtype == dask_result.dtype and ours.shape == dask_result.shape


@pytest.mark.parametrize(
    "call",
    [
        lambda m, a: m.mean(a),
        lambda m, a: m.mean(a, axis=0, dtype="f4"),
        lambda m, a: m.mean(a, 1, None, None, True),
        lambda m, a: m.sum(a, axis=(0, 1), keepdims=True),
        lambda m, a: m.sum(a, 0, "i8"),
        lambda m, a: m.prod(a, axis=1),
        lambda m, a: m.std(a, ddof=1),
        lambda m, a: m.var(a, axis=0, ddof=2),
        lambda m, a: m.min(a, axis=1, keepdims=True),
        lambda m, a: m.amax(a, axis=0) if m is np else m.max(a, axis=0),
        lambda m, a: m.argmax(a, axis=1),
        lambda m, a: m.argmin(a, axis=0, keepdims=True),
        lambda m, a: m.any(a > 1, axis=0),
        lambda m, a: m.all(a > -3),
        lambda m, a: m.concatenate([a, a], axis=1),
        lambda m, a: m.stack([a, a], axis=1),
        lambda m, a: m.block([[a, a]]),
        lambda m, a: m.transpose(a),
        lambda m, a: m.transpose(a, (1, 0)),
        lambda m, a: m.reshape(a, (6, 4)),
        lambda m, a: m.expand_dims(a, 1),
        lambda m, a: m.squeeze(m.expand_dims(a, 0), axis=0),
        lambda m, a: m.where(a > 0, a, 0),
        lambda m, a: m.clip(a, -1, 1),
        lambda m, a: m.dot(a, a.T),
        lambda m, a: m.tensordot(a, a, axes=([1], [1])),
        lambda m, a: m.matmul(a, a.T),
        lambda m, a: a @ a.T,
        lambda m, a: m.sqrt(m.abs(a)),
        lambda m, a: m.add(a, 1, dtype="f4"),
        lambda m, a: m.maximum(a, 0.5),
        lambda m, a: m.modf(a / 3)[0],
        lambda m, a: m.divmod(a, 3)[1],
        lambda m, a: m.round(a / 7, 2),
        lambda m, a: m.around(a / 7, 1),
        lambda m, a: m.expand_dims(a, (0, 3)),
        lambda m, a: m.concatenate([a, a], axis=None),
    ],
)
def test_numpy_functions_stay_lazy_and_match(x, call):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        ours = call(np, x)
    try:
        theirs = call(np, dd.from_array(A, chunks=(3, 4)))
    except (IndexError, TypeError, NotImplementedError):
        # Dask passes numpy's positional arguments in its own order:
        # np.mean(a, 1, None, None, True) fails there, and is right here; and Dask's
        # reshape of (4, 6) blocks (3, 4) into (6, 4) is not implemented.
        theirs = None
    check(ours, call(np, A), theirs)


def test_metadata_functions_compute_nothing(x):
    assert np.shape(x) == (4, 6) and np.ndim(x) == 2 and np.size(x) == 24 and np.size(x, 1) == 6
    assert np.result_type(x, 1j) == np.complex128


def test_unimplemented_numpy_function_warns_and_computes_as_dask(x):
    for module, arr in [(da, x), (dd, dd.from_array(A, chunks=(3, 4)))]:
        with pytest.warns(FutureWarning, match="`numpy.packbits` function is not implemented"):
            out = np.packbits(arr > 0)
        np.testing.assert_array_equal(out, np.packbits(A > 0))
        assert type(out) is np.ndarray, module


def test_unsupported_arguments_are_named(x):
    with pytest.raises(
        TypeError, match=r"taskloom\.array\.sum does not support the argument where"
    ):
        np.sum(x, where=A > 0)
    with pytest.raises(TypeError, match="bogus"):
        np.mean(x, bogus=1)


def test_out_takes_the_result(x):
    out = da.zeros((4, 6), chunks=2)
    assert np.add(x, 1, out=out) is out
    np.testing.assert_array_equal(out.compute(), A + 1)
    total = da.zeros((6,), chunks=6)
    assert np.sum(x, axis=0, out=total) is total and x.sum(axis=0, out=total) is total
    np.testing.assert_array_equal(total.compute(), A.sum(axis=0))
    with pytest.raises(ValueError, match="shape"):
        np.sum(x, axis=1, out=total)
    with pytest.raises(NotImplementedError, match="taskloom array"):
        np.sum(x, axis=0, out=np.zeros(6))


def test_scalar_conversions_compute(x):
    s = x.sum()
    assert float(s) == float(A.sum()) and int(s) == int(A.sum())
    assert complex(s) == complex(A.sum()) and bool(s) is bool(A.sum())
    assert operator.index(x.astype(int).sum()) == int(A.sum())
    assert [0, 1, 2][da.from_array(np.array(1), chunks=())] == 1  # __index__
    assert float(x[1:2, 2:3]) == A[1, 2]
    with pytest.raises(TypeError, match="one element"):
        float(x)
    with pytest.raises(TypeError):
        operator.index(s)  # a float: numpy's error
    with pytest.raises(ValueError, match="ambiguous"):
        bool(x)
    assert bool(x[0, 0] == A[0, 0])


def test_array_protocol(x):
    np.testing.assert_array_equal(np.asarray(x), A)
    assert np.asarray(x, dtype="f4").dtype == np.float32
    assert np.array(x, copy=True).flags.owndata
    with pytest.warns(FutureWarning, match="memory view"):
        np.testing.assert_array_equal(np.asarray(x, copy=False), A)


def test_ufunc_methods_and_other_gufuncs_are_not_taken(x):
    with pytest.raises(TypeError):
        np.add.reduce(x)
    with pytest.raises(TypeError):
        np.vecdot(x, x)


def test_reductions_keep_their_parameters_apart(x):
    # ddof and dtype are part of each result's key: two variants computed together.
    import taskloom

    v0, v1 = taskloom.compute(x.var(ddof=0), x.var(ddof=1))
    assert v0 == pytest.approx(A.var()) and v1 == pytest.approx(A.var(ddof=1))
    m4, m8 = taskloom.compute(x.mean(dtype="f4"), x.mean())
    assert m4.dtype == np.float32 and m8.dtype == np.float64


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 7),
    st.integers(1, 7),
    st.integers(1, 4),
    st.sampled_from(["sum", "mean", "std", "var", "max", "argmin", "prod"]),
    st.sampled_from([None, 0, 1]),
    st.integers(0, 2**16),
)
def test_random_numpy_reductions(rows, cols, chunk, name, axis, seed):
    a = np.random.default_rng(seed).normal(size=(rows, cols))
    x = da.from_array(a, chunks=chunk)
    ours = getattr(np, name)(x, axis=axis)
    check(ours, getattr(np, name)(a, axis=axis))


def test_astype_takes_numpys_casting(x):
    np.testing.assert_array_equal(x.astype("i4", casting="unsafe").compute(), A.astype("i4"))
    assert x.astype("f8", copy=False) is x
    with pytest.raises(TypeError, match="according to the rule 'safe'"):
        x.astype("i4", casting="safe")
