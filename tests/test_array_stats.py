"""taskloom.array.stats against scipy.stats (statistics and p-values on random data,
shapes and chunkings) and dask.array.stats (return types, errors)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taskloom.array as da
from taskloom.array import stats
from taskloom.delayed import Delayed

scipy_stats = pytest.importorskip("scipy.stats")


@st.composite
def samples(draw, min_n=2, dims=2):
    n = draw(st.integers(min_n, 30))
    other = draw(st.lists(st.integers(1, 4), min_size=0, max_size=dims - 1))
    shape = (n, *other)
    chunks = tuple(draw(st.integers(1, s)) for s in shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    scale = draw(st.sampled_from([1.0, 1e3]))
    return rng.standard_normal(shape) * scale + rng.random(), chunks, rng


def close(got, expected):
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-7, atol=1e-12)


def check_result(res, expected, name):
    assert isinstance(res, Delayed)
    statistic, pvalue = res  # nout=2: it unpacks, as Dask's
    assert isinstance(statistic, da.Array | Delayed)
    value = res.compute()
    assert type(value).__name__ == name and value._fields == ("statistic", "pvalue")
    close(value.statistic, expected.statistic)
    close(value.pvalue, expected.pvalue)
    close(statistic.compute(), expected.statistic)
    close(pvalue.compute(), expected.pvalue)


@settings(max_examples=25, deadline=None)
@given(samples(), st.booleans(), st.sampled_from([0, -1, None]))
def test_ttests_match_scipy(sample, equal_var, axis):
    x, chunks, rng = sample
    y = x + rng.standard_normal(x.shape) * 0.5 + 0.1
    if axis == -1 and x.ndim == 1:
        axis = 0
    a, b = da.from_array(x, chunks=chunks), da.from_array(y, chunks=chunks)
    check_result(
        stats.ttest_ind(a, b, axis=axis, equal_var=equal_var),
        scipy_stats.ttest_ind(x, y, axis=axis, equal_var=equal_var),
        "Ttest_indResult",
    )
    check_result(
        stats.ttest_1samp(a, 0.2, axis=axis),
        scipy_stats.ttest_1samp(x, 0.2, axis=axis),
        "Ttest_1sampResult",
    )
    check_result(
        stats.ttest_rel(a, b, axis=axis), scipy_stats.ttest_rel(x, y, axis=axis), "Ttest_relResult"
    )


def test_ttest_ind_of_different_lengths():
    rng = np.random.default_rng(1)
    x, y = rng.random(17), rng.random(9) + 0.3
    for equal_var in [True, False]:
        check_result(
            stats.ttest_ind(
                da.from_array(x, chunks=5), da.from_array(y, chunks=4), equal_var=equal_var
            ),
            scipy_stats.ttest_ind(x, y, equal_var=equal_var),
            "Ttest_indResult",
        )


LAMBDAS = [None, "pearson", "log-likelihood", "freeman-tukey", "mod-log-likelihood",
           "neyman", "cressie-read", 0.5, -3]  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(samples(), st.sampled_from(LAMBDAS), st.booleans(), st.integers(0, 1))
def test_power_divergence_and_chisquare_match_scipy(sample, lambda_, with_exp, ddof):
    x, chunks, rng = sample
    f_obs = np.floor(np.abs(x) * 10) + 1
    f_exp = None
    if with_exp:  # scipy checks the sums agree: scale the expected to the observed
        f_exp = rng.random(x.shape) + 0.5
        f_exp *= f_obs.sum(axis=0) / f_exp.sum(axis=0)
    obs = da.from_array(f_obs, chunks=chunks)
    exp = None if f_exp is None else da.from_array(f_exp, chunks=chunks)
    check_result(
        stats.power_divergence(obs, exp, ddof=ddof, lambda_=lambda_),
        scipy_stats.power_divergence(f_obs, f_exp, ddof=ddof, lambda_=lambda_),
        "Power_divergenceResult",
    )
    check_result(
        stats.chisquare(obs, f_exp, ddof=ddof),
        scipy_stats.chisquare(f_obs, f_exp, ddof=ddof),
        "Power_divergenceResult",
    )


@settings(max_examples=25, deadline=None)
@given(samples(min_n=4), st.sampled_from([0, None]), st.booleans(), st.booleans())
def test_moments_skew_kurtosis_match_scipy(sample, axis, bias, fisher):
    x, chunks, _ = sample
    a = da.from_array(x, chunks=chunks)
    for order in range(5):
        m = stats.moment(a, order, axis=axis)
        expected = scipy_stats.moment(x, order, axis=axis)
        assert isinstance(m, da.Array) and m.shape == np.shape(expected)
        close(m.compute(), expected)
    s = stats.skew(a, axis=axis, bias=bias)
    assert isinstance(s, da.Array)
    close(s.compute(), scipy_stats.skew(x, axis=axis, bias=bias))
    k = stats.kurtosis(a, axis=axis, fisher=fisher, bias=bias)
    assert isinstance(k, da.Array)
    close(k.compute(), scipy_stats.kurtosis(x, axis=axis, fisher=fisher, bias=bias))


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # scipy's, on purpose
def test_constant_data_as_scipy():
    x = np.ones((10, 2))
    a = da.from_array(x, chunks=3)
    close(stats.skew(a).compute(), scipy_stats.skew(x))
    close(stats.kurtosis(a).compute(), scipy_stats.kurtosis(x))


@settings(max_examples=20, deadline=None)
@given(samples(min_n=20), st.sampled_from([0, None]))
def test_normality_tests_match_scipy(sample, axis):
    x, chunks, rng = sample
    x = x + rng.exponential(size=x.shape) * rng.random()  # some skew and kurtosis
    a = da.from_array(x, chunks=chunks)
    check_result(stats.skewtest(a, axis=axis), scipy_stats.skewtest(x, axis=axis), "SkewtestResult")
    check_result(
        stats.kurtosistest(a, axis=axis),
        scipy_stats.kurtosistest(x, axis=axis),
        "KurtosistestResult",
    )
    check_result(
        stats.normaltest(a, axis=axis), scipy_stats.normaltest(x, axis=axis), "NormaltestResult"
    )


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(2, 15), min_size=2, max_size=5), st.integers(1, 6), st.integers(0, 99))
def test_f_oneway_matches_scipy(sizes, chunk, seed):
    rng = np.random.default_rng(seed)
    groups = [rng.standard_normal(n) + rng.random() for n in sizes]
    check_result(
        stats.f_oneway(*[da.from_array(g, chunks=chunk) for g in groups]),
        scipy_stats.f_oneway(*groups),
        "F_onewayResult",
    )


def test_errors_as_dask():
    a = da.from_array(np.arange(10.0), chunks=3)
    with pytest.raises(ValueError, match="less than 8 samples"):
        stats.skewtest(a[:5])
    with pytest.raises(ValueError, match="invalid string for lambda_"):
        stats.power_divergence(a, lambda_="nope")
    for call in [lambda: stats.skew(a, nan_policy="omit"),
                 lambda: stats.kurtosis(a, nan_policy="raise"),
                 lambda: stats.ttest_1samp(a, 0, nan_policy="omit"),
                 lambda: stats.ttest_rel(a, a, nan_policy="omit"),
                 lambda: stats.moment(a, 2, nan_policy="omit"),
                 lambda: stats.normaltest(a, nan_policy="omit")]:  # fmt: skip
        with pytest.raises(NotImplementedError, match="nan_policy"):
            call()


def test_lazy():
    def boom(b):
        raise AssertionError("computed")

    a = da.ones((20, 3), chunks=5).map_blocks(boom, dtype="f8")
    stats.ttest_ind(a, a)
    stats.ttest_1samp(a, 1.0)
    stats.ttest_rel(a, a)
    stats.chisquare(a)
    stats.power_divergence(a, lambda_=0)
    stats.skew(a)
    stats.kurtosis(a)
    stats.skewtest(a)
    stats.kurtosistest(a)
    stats.normaltest(a)
    stats.moment(a, 3)
    stats.f_oneway(a[:, 0], a[:, 1])


def test_signatures_are_dasks():
    import dask.array.stats as dstats

    assert sorted(stats.__all__) == sorted(dstats.__all__)
    for name in stats.__all__:
        ours = inspect.signature(getattr(stats, name)).parameters
        theirs = inspect.signature(getattr(dstats, name), follow_wrapped=False).parameters
        assert [(p.name, p.default) for p in ours.values()] == [
            (p.name, p.default) for p in theirs.values()
        ], name


def test_missing_scipy_names_the_extra(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name == "scipy" or name.startswith("scipy."):
            raise ImportError("no scipy here")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_scipy)
    with pytest.raises(ImportError, match=r"taskloom\[scipy\]"):
        stats.ttest_1samp(da.ones(10, chunks=5), 1.0)
