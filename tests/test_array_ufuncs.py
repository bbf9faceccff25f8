"""taskloom.array's ufuncs and element-wise functions against numpy (values, dtypes,
chunks) on random shapes and chunkings, and against dask.array for Dask's own choices."""

from __future__ import annotations

import threading
import warnings

import dask.array as dda
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom
import taskloom.array as da

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def splits(draw, n):
    """Block sizes summing to ``n``: uneven, single elements, or one block."""
    if n == 0:
        return (0,)
    sizes, left = [], n
    while left:
        s = draw(st.integers(1, left))
        sizes.append(s)
        left -= s
    return tuple(sizes)


@st.composite
def arrays(draw, dtype=float, min_dims=0, max_dims=3, shape=None, allow_empty=True):
    if shape is None:
        ndim = draw(st.integers(min_dims, max_dims))
        low = 0 if allow_empty else 1
        shape = tuple(draw(st.integers(low, 5)) for _ in range(ndim))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        data = np.asarray(rng.normal(scale=3, size=shape).round(2))
        data[rng.random(shape) < 0.1] = 0.5  # exact halves for rounding and modf
    elif np.dtype(dtype).kind == "b":
        data = rng.random(shape) < 0.5
    else:
        data = rng.integers(-20, 20, size=shape)
    data = np.asarray(data).astype(dtype)
    chunks = tuple(draw(splits(n)) for n in shape)
    return data, da.from_array(data, chunks=chunks)


def check(ours, expected, chunks=None):
    """``ours`` is lazy, its metadata is the computed data's, and its data numpy's."""
    assert isinstance(ours, da.Array)
    got = ours.compute()
    expected = np.asarray(expected)
    assert ours.dtype == expected.dtype == np.asarray(got).dtype
    assert ours.shape == expected.shape == np.shape(got)
    if chunks is not None:
        assert ours.chunks == chunks
    np.testing.assert_array_equal(got, expected)


UNARY_FLOAT = [
    "absolute", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh", "cbrt",
    "ceil", "conj", "cos", "cosh", "deg2rad", "degrees", "exp", "exp2", "expm1", "fabs",
    "fix", "floor", "i0", "isfinite", "isinf", "isnan", "isneginf", "isposinf", "log",
    "log10", "log1p", "log2", "logical_not", "negative", "positive", "rad2deg", "radians",
    "reciprocal", "rint", "sign", "signbit", "sin", "sinc", "sinh", "spacing", "sqrt",
    "square", "tan", "tanh", "trunc", "abs", "real", "imag", "isreal", "iscomplex",
    "nan_to_num", "angle", "around", "round",
]  # fmt: skip
BINARY_FLOAT = [
    "add", "arctan2", "copysign", "divide", "equal", "float_power", "floor_divide", "fmax",
    "fmin", "fmod", "greater", "greater_equal", "hypot", "less", "less_equal",
    "logaddexp", "logaddexp2", "logical_and", "logical_or", "logical_xor", "maximum",
    "minimum", "mod", "multiply", "nextafter", "not_equal", "power", "remainder",
    "subtract", "true_divide",
]  # fmt: skip
BINARY_INT = ["bitwise_and", "bitwise_or", "bitwise_xor", "left_shift", "right_shift", "ldexp"]


@SETTINGS
@given(st.sampled_from(UNARY_FLOAT), arrays())
def test_unary_functions_match_numpy(name, data):
    a, x = data
    with np.errstate(all="ignore"):
        expected = getattr(np, name)(a)
        ours = getattr(da, name)(x)
        check(ours, expected, chunks=x.chunks)


@SETTINGS
@given(st.sampled_from(BINARY_FLOAT), arrays(min_dims=1), st.data())
def test_binary_functions_broadcast_as_numpy(name, data, draw):
    a, x = data
    # The other operand: a trailing sub-shape, some axes of length 1, its own blocks.
    k = draw.draw(st.integers(0, a.ndim))
    shape = tuple(1 if draw.draw(st.booleans()) else n for n in a.shape[a.ndim - k :])
    b, y = draw.draw(arrays(shape=shape))
    with np.errstate(all="ignore"):
        check(getattr(da, name)(x, y), getattr(np, name)(a, b))
        check(getattr(da, name)(y, x), getattr(np, name)(b, a))
        check(getattr(da, name)(x, 1.5), getattr(np, name)(a, 1.5), chunks=x.chunks)


@SETTINGS
@given(st.sampled_from(BINARY_INT), arrays(dtype="i8"), st.integers(0, 5))
def test_integer_functions_match_numpy(name, data, k):
    a, x = data
    check(getattr(da, name)(x, k) if name != "ldexp" else da.ldexp(x * 0.5, k),
          getattr(np, name)(a, k) if name != "ldexp" else np.ldexp(a * 0.5, k))  # fmt: skip
    check(da.invert(x), np.invert(a))
    check(da.bitwise_not(x), np.bitwise_not(a))


@SETTINGS
@given(arrays(min_dims=0), st.sampled_from(["divmod", "modf", "frexp"]), st.booleans())
def test_multi_output_ufuncs_give_arrays_per_output(data, name, through_numpy):
    a, x = data
    fn = getattr(np, name) if through_numpy else getattr(da, name)
    args = (x, 1.25) if name == "divmod" else (x,)
    ours = fn(*args)
    expected = getattr(np, name)(*((a, 1.25) if name == "divmod" else (a,)))
    assert isinstance(ours, tuple) and len(ours) == 2
    for o, e in zip(ours, expected, strict=True):
        check(o, e, chunks=x.chunks)


def test_multi_output_ufuncs_compute_each_block_once():
    calls = []
    lock = threading.Lock()

    def split(v):
        with lock:
            calls.append(v)
        return v // 10, v % 10

    f = da.frompyfunc(split, 1, 2)
    assert (f.nin, f.nout) == (1, 2)
    x = da.from_array(np.arange(7), chunks=3)
    tens, ones = f(x)
    probed = len(calls)  # the dtype probes' calls on one-element stand-ins
    assert probed <= 2
    t, o = taskloom.compute(tens, ones)
    assert len(calls) - probed == 7  # once per element: both outputs from one call
    np.testing.assert_array_equal(t.astype(int), np.arange(7) // 10)
    np.testing.assert_array_equal(o.astype(int), np.arange(7) % 10)
    assert tens.dtype == object == t.dtype


def test_frompyfunc_respects_nin_and_passes_through_numpy():
    f = da.frompyfunc(lambda a, b, c: a * b + c, 3, 1)
    assert (f.nin, f.nout) == (3, 1)
    x = da.from_array(np.arange(4), chunks=3)
    check(f(x, 2, np.arange(4)), np.frompyfunc(lambda a, b, c: a * b + c, 3, 1)(
        np.arange(4), 2, np.arange(4)))  # fmt: skip
    assert f(2, 3, 4) == 10  # no taskloom array: numpy's call
    with pytest.raises(TypeError, match="takes 3 inputs"):
        f(x, 1)
    with pytest.raises(ValueError, match="nout"):
        da.frompyfunc(abs, 1, 0)
    with pytest.raises(TypeError, match="callable"):
        da.frompyfunc(3, 1, 1)


def test_ufuncs_pass_through_numpy_on_other_inputs():
    assert da.sin(0.5) == np.sin(0.5) and isinstance(da.sin(0.5), np.floating)
    assert isinstance(da.add(np.ones(2), 1), np.ndarray)
    assert isinstance(da.clip(np.arange(5), 1, 3), np.ndarray)
    q, r = da.divmod(7, 2)
    assert (q, r) == (3, 1)
    assert da.add.nin == 2 and da.modf.nout == 2 and da.add.identity == 0
    assert repr(da.add) == repr(np.add)


def test_nothing_is_computed_until_compute():
    calls = []

    def tracked(b):
        calls.append(1)
        return b

    x = da.from_array(np.arange(6.0), chunks=2).map_blocks(tracked, dtype=float)
    calls.clear()
    results = [da.sin(x), np.divmod(x, 2)[0], da.isclose(x, 1), da.allclose(x, x),
               da.piecewise(x, [x < 2], [0, 1]), da.nan_to_num(x), da.where(x > 1, x, 0),
               da.clip(x, 1, 2), da.add.outer(x, x), da.isnull(x)]  # fmt: skip
    assert calls == [] and all(isinstance(r, da.Array) for r in results)
    taskloom.compute(*results)
    assert calls


@SETTINGS
@given(arrays(dtype="i1", min_dims=1), st.sampled_from(["i2", "f4", "i1"]))
def test_dtype_keyword_is_numpys(data, dtype):
    a, x = data
    # numpy computes in dtype=: int8 127 + 1 is 128 in int16 (a cast after would wrap).
    check(da.add(x, x, dtype=dtype), np.add(a, a, dtype=dtype))
    check(np.multiply(x, 3, dtype=dtype), np.multiply(a, 3, dtype=dtype))


@SETTINGS
@given(arrays(min_dims=1), st.data())
def test_where_with_out_keeps_outs_values(data, draw):
    a, x = data
    b, o = draw.draw(arrays(shape=a.shape))
    expected = b.copy()
    np.add(a, 10, where=a > 0, out=expected)
    result = np.add(x, 10, where=x > 0, out=o)
    assert result is o
    check(o, expected)
    # Without out=, only the selected elements are defined (numpy's rule).
    got = da.sqrt(x, where=x > 0).compute()
    np.testing.assert_array_equal(got[a > 0], np.sqrt(a[a > 0]))


def test_where_with_multi_output_and_out():
    a = np.array([1.5, -2.5, 3.25, 4.0])
    x = da.from_array(a, chunks=3)
    o1, o2 = da.zeros(4, chunks=2), da.full(4, 7.0, chunks=1)
    frac, whole = np.modf(x, where=x > 0, out=(o1, o2))
    assert frac is o1 and whole is o2
    e1, e2 = np.zeros(4), np.full(4, 7.0)
    np.modf(a, where=a > 0, out=(e1, e2))
    check(frac, e1)
    check(whole, e2)


def test_ufunc_keywords_are_checked_when_built():
    x = da.from_array(np.arange(4.0), chunks=3)
    with pytest.raises(TypeError, match="foo"):
        da.add(x, 1, foo=1)
    with pytest.raises(TypeError, match="foo"):
        np.add(x, 1, foo=1)
    with pytest.raises(TypeError):  # numpy: no loop for float64 and str
        da.add(x, "a")
    with pytest.raises(TypeError):  # numpy: same_kind casting refuses float -> int
        da.add(x, 1, dtype="i4", casting="same_kind")
    check(da.add(x, 1, dtype="i4", casting="unsafe"), np.add(np.arange(4.0), 1, dtype="i4",
                                                               casting="unsafe"))  # fmt: skip
    with pytest.raises(NotImplementedError, match="out="):
        da.add(x, 1, out=np.empty(4))
    with pytest.raises(ValueError, match="out="):
        da.modf(x, out=(da.zeros(4, chunks=2),))
    with pytest.raises(TypeError, match="cannot cast"):
        da.add(x, 0.5, where=x > 1, out=da.zeros(4, chunks=2, dtype="i8"))
    with pytest.raises(TypeError, match="2 inputs"):
        da.add(x)
    with pytest.raises(TypeError, match=r"numpy\.ufunc"):
        da.ufunc(np.sum)


@SETTINGS
@given(arrays(max_dims=2), arrays(max_dims=2), st.sampled_from(["add", "hypot", "less"]))
def test_outer_matches_numpy(data_a, data_b, name):
    (a, x), (b, y) = data_a, data_b
    check(getattr(da, name).outer(x, y), getattr(np, name).outer(a, b))
    check(getattr(np, name).outer(x, b), getattr(np, name).outer(a, b))
    with pytest.raises(ValueError, match="binary"):
        da.sin.outer(x, y)


@SETTINGS
@given(arrays(min_dims=1), st.data())
def test_where_clip_and_round(data, draw):
    a, x = data
    c, cond = draw.draw(arrays(dtype=bool, shape=a.shape))
    check(da.where(cond, x, -x), np.where(c, a, -a))
    check(da.where(True, x, 0), np.where(True, a, 0))
    check(np.where(cond, 1, x), np.where(c, 1, a))
    lo, hi = draw.draw(arrays(shape=a.shape[-1:]))
    check(da.clip(x, hi, None), np.clip(a, lo * 0 + hi, None))
    check(np.clip(x, -1, 1), np.clip(a, -1, 1))
    check(da.clip(x, a_max=0.5), np.clip(a, None, 0.5))
    decimals = draw.draw(st.integers(-1, 2))
    check(da.round(x, decimals), np.round(a, decimals))
    check(da.around(x.astype("i8"), -1), np.around(a.astype("i8"), -1))
    with pytest.raises(ValueError, match="both or neither"):
        da.where(cond, x)


@SETTINGS
@given(arrays(dtype=complex, min_dims=0))
def test_complex_functions(data):
    a, _ = data
    a = a + 1j * a[::-1] if a.ndim else a + 2j
    x = da.from_array(a, chunks=1 if a.ndim else ())
    for name in ["real", "imag", "isreal", "iscomplex", "conj", "absolute", "angle"]:
        check(getattr(da, name)(x), getattr(np, name)(a))
    check(da.angle(x, deg=True), np.angle(a, deg=True))
    check(np.angle(x, deg=True), np.angle(a, deg=True))


def test_nan_to_num_isclose_allclose_isnull():
    a = np.array([np.nan, np.inf, -np.inf, 1.0, 2.0])
    x = da.from_array(a, chunks=2)
    check(da.nan_to_num(x, nan=-1, posinf=9, neginf=-9), np.nan_to_num(a, nan=-1, posinf=9,
                                                                        neginf=-9))  # fmt: skip
    check(np.nan_to_num(x, posinf=3), np.nan_to_num(a, posinf=3))
    b = a + np.array([0, 0, 0, 1e-9, 0.1])
    check(da.isclose(x, b), np.isclose(a, b))
    check(np.isclose(x, b, 0.1, 0, True), np.isclose(a, b, 0.1, 0, True))
    check(da.isclose(x, b, equal_nan=True), np.isclose(a, b, equal_nan=True))
    r = da.allclose(x, a, equal_nan=True)
    assert isinstance(r, da.Array) and r.shape == () and r.dtype == bool
    assert r.compute() is np.True_ or r.compute() == True  # noqa: E712
    assert not bool(da.allclose(x, b, equal_nan=True))
    assert bool(da.allclose(x, b, rtol=0.1, equal_nan=True))
    check(da.isnull(x), np.isnan(a))
    check(da.notnull(x), ~np.isnan(a))
    o = da.from_array(np.array([None, 1, "a"], dtype=object), chunks=2)
    check(da.isnull(o), np.array([True, False, False]))


@SETTINGS
@given(arrays(min_dims=1))
def test_piecewise_matches_numpy(data):
    a, x = data
    funcs = [lambda v: v * 2, -1.0, lambda v, k=0: v + k]
    check(da.piecewise(x, [x < 0, x > 1], funcs), np.piecewise(a, [a < 0, a > 1], funcs))
    check(np.piecewise(x, [x < 0], [lambda v, k: v - k, 0], 5),
          np.piecewise(a, [a < 0], [lambda v, k: v - k, 0], 5))  # fmt: skip
    r, a1 = x.reshape(-1), a.ravel()
    if a1.size:  # a bare 1-d array is one condition (numpy fails on an empty one)
        check(da.piecewise(r, r > 0, [1.0, 2.0]), np.piecewise(a1, a1 > 0, [1.0, 2.0]))


def test_result_type_and_the_exports():
    assert da.result_type(da.ones(2, chunks=1, dtype="i2"), 1.0) == np.result_type("i2", 1.0)
    assert np.result_type(da.ones(2, chunks=1, dtype="f4"), np.int8) == np.float32
    # the module's functions replace the package's older lambdas
    for name in ["sqrt", "sin", "cos", "exp", "log", "abs", "where", "clip", "round", "around"]:
        assert getattr(da, name) is getattr(da.ufuncs, name)
    assert da.abs is da.absolute and da.invert is da.bitwise_not and da.conj is da.conjugate


@pytest.mark.parametrize("name", ["add", "floor_divide", "less", "sqrt", "frexp", "isnan",
                                  "isneginf", "angle", "fix", "nan_to_num", "i0"])  # fmt: skip
@pytest.mark.parametrize("dtype", ["i2", "f4", "u1", "bool"])
def test_dtypes_and_chunks_are_dasks(name, dtype):
    a = (np.arange(12) % 5).astype(dtype).reshape(3, 4)
    ours_x = da.from_array(a, chunks=(2, 3))
    dask_x = dda.from_array(a, chunks=(2, 3))
    nin = getattr(getattr(dda, name), "nin", 1)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            theirs = getattr(dda, name)(*[dask_x] * nin)
        except Exception as e:  # Dask refuses: so do we (numpy's error)
            with pytest.raises(type(e)):
                getattr(da, name)(*[ours_x] * nin)
            return
        ours = getattr(da, name)(*[ours_x] * nin)
    for o, t in zip(ours if isinstance(ours, tuple) else (ours,),
                    theirs if isinstance(theirs, tuple) else (theirs,), strict=True):  # fmt: skip
        assert o.dtype == t.dtype and o.chunks == t.chunks
