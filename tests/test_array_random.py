"""taskloom.array.random: numpy's methods with chunks=, and Dask's numbers (#13.13b)."""

from __future__ import annotations

import inspect
import warnings

import dask.array as dd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taskloom.array as da

ARGS = {
    "beta": (2.0, 3.0), "binomial": (10, 0.3), "chisquare": (2.0,), "exponential": (),
    "f": (2.0, 3.0), "gamma": (2.0,), "geometric": (0.3,), "gumbel": (),
    "hypergeometric": (5, 4, 3), "laplace": (), "logistic": (), "lognormal": (),
    "logseries": (0.5,), "negative_binomial": (3, 0.4), "noncentral_chisquare": (2.0, 1.0),
    "noncentral_f": (2.0, 3.0, 1.0), "normal": (), "pareto": (2.0,), "poisson": (),
    "power": (2.0,), "rayleigh": (), "standard_cauchy": (), "standard_exponential": (),
    "standard_gamma": (2.0,), "standard_normal": (), "standard_t": (3.0,),
    "triangular": (0.0, 0.5, 1.0), "uniform": (), "vonmises": (0.0, 1.0), "wald": (1.0, 1.0),
    "weibull": (2.0,), "zipf": (2.0,), "random": (), "random_sample": (), "randint": (0, 7),
    "random_integers": (1, 6), "tomaxint": (), "integers": (0, 9),
    "multinomial": (10, [0.2, 0.3, 0.5]), "multivariate_hypergeometric": ([3, 4, 5], 6),
}  # fmt: skip
MAKERS = {
    "RandomState": lambda m, seed: m.random.RandomState(seed),
    "Generator": lambda m, seed: m.random.default_rng(seed),
}


def methods(cls):
    return sorted(
        n
        for n in dir(getattr(dd.random, cls))
        if not n.startswith("_") and n not in ("seed", "choice", "permutation")
    )


def computed(a):
    """The data, checked against the metadata."""
    v = a.compute()
    assert v.shape == a.shape and v.dtype == a.dtype, (a, v.shape, v.dtype)
    return v


def test_every_method_of_dasks_generators_exists_with_its_signature():
    def params(f):
        return [(p.name, p.default, p.kind) for p in inspect.signature(f).parameters.values()]

    for cls in MAKERS:
        for name in [n for n in dir(getattr(dd.random, cls)) if not n.startswith("_")]:
            ours = getattr(getattr(da.random, cls), name)
            assert params(ours) == params(getattr(getattr(dd.random, cls), name)), name
            assert ours.__doc__, name
    for name in ["random", "random_sample", "seed", "choice", "permutation", "randint", "zipf"]:
        assert callable(getattr(da.random, name)), name


@pytest.mark.parametrize(
    ("cls", "name"),
    [(c, n) for c in MAKERS for n in methods(c)],
    ids=[f"{c}.{n}" for c in MAKERS for n in methods(c)],
)
def test_same_numbers_as_dask(cls, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # random_integers
        ours = getattr(MAKERS[cls](da, 5), name)(*ARGS[name], size=(7, 5), chunks=(3, 2))
        got = computed(ours)
        if (cls, name) == ("Generator", "multivariate_hypergeometric"):
            # Dask fails to compute this one (it sizes the blocks without the extra axis).
            assert got.shape == (7, 5, 3) and (got.sum(axis=-1) == 6).all()
            return
        theirs = getattr(MAKERS[cls](dd, 5), name)(*ARGS[name], size=(7, 5), chunks=(3, 2))
        np.testing.assert_array_equal(got, theirs.compute())
    assert (ours.chunks, ours.dtype) == (theirs.chunks, theirs.dtype)


def test_blocks_are_numpys_generators_on_dasks_seeds():
    # One block: a RandomState seeded with 624 words drawn from RandomState(seed).
    words = np.frombuffer(np.random.RandomState(7).bytes(624 * 4), dtype="<u4")
    expected = np.random.RandomState(words).standard_normal((4, 3))
    np.testing.assert_array_equal(
        da.random.RandomState(7).standard_normal((4, 3), chunks=-1).compute(), expected
    )
    child = np.random.PCG64(7).seed_seq.spawn(1)[0]
    np.testing.assert_array_equal(
        da.random.default_rng(7).random(5, chunks=-1).compute(),
        np.random.default_rng(np.random.PCG64(child)).random(5),
    )


def test_size_forms_chunks_and_reproducibility():
    rs = da.random.RandomState(1)
    assert rs.random_sample(5, chunks=2).chunks == ((2, 2, 1),)
    assert rs.random_sample((2, 3), chunks=2).shape == (2, 3)
    assert rs.random_sample().shape == ()
    assert np.ndim(computed(rs.random_sample())) == 0
    a = computed(da.random.RandomState(1).normal(size=(20, 20), chunks=7))
    b = computed(da.random.RandomState(1).normal(size=(20, 20), chunks=7))
    np.testing.assert_array_equal(a, b)
    c = computed(da.random.RandomState(1).normal(size=(20, 20), chunks=7))
    d = computed(da.random.RandomState(2).normal(size=(20, 20), chunks=7))
    assert not np.array_equal(c, d)
    # Successive calls on one generator differ, as numpy's.
    g = da.random.default_rng(3)
    assert not np.array_equal(computed(g.random(10, chunks=5)), computed(g.random(10, chunks=5)))


def test_module_functions_are_one_shared_random_state_as_dask():
    da.random.seed(3)
    dd.random.seed(3)
    for name, args in [("random", ()), ("normal", (1.0, 2.0)), ("randint", (0, 4))]:
        ours = getattr(da.random, name)(*args, size=(5, 4), chunks=2)
        theirs = getattr(dd.random, name)(*args, size=(5, 4), chunks=2)
        np.testing.assert_array_equal(computed(ours), theirs.compute())


@pytest.mark.parametrize("cls", list(MAKERS))
def test_array_parameters_broadcast_as_dask(cls):
    loc = np.arange(5.0)
    for m_args in [
        lambda m: ((loc, 1.0), {"size": (3, 5), "chunks": 2}),
        lambda m: ((m.from_array(loc, chunks=2),), {"scale": m.from_array(loc + 1, chunks=3)}),
    ]:
        (args, kwargs), (dargs, dkwargs) = m_args(da), m_args(dd)
        ours = MAKERS[cls](da, 4).normal(*args, **kwargs)
        theirs = MAKERS[cls](dd, 4).normal(*dargs, **dkwargs)
        np.testing.assert_array_equal(computed(ours), theirs.compute())
        assert ours.chunks == theirs.chunks


@pytest.mark.parametrize("cls", list(MAKERS))
def test_choice_and_permutation_as_dask(cls):
    p = [0.1, 0.2, 0.3, 0.2, 0.2]
    for args, kwargs in [
        ((5,), {"size": 7, "chunks": 3}),
        ((np.arange(5.0),), {"size": 7, "chunks": 3, "p": p}),
        ((5,), {"size": (3,), "replace": False}),
    ]:
        ours = MAKERS[cls](da, 5).choice(*args, **kwargs)
        theirs = MAKERS[cls](dd, 5).choice(*args, **kwargs)
        np.testing.assert_array_equal(computed(ours), theirs.compute())
        assert (ours.chunks, ours.dtype) == (theirs.chunks, theirs.dtype)
    x = np.arange(20.0).reshape(10, 2)
    ours = MAKERS[cls](da, 5).permutation(da.from_array(x, chunks=3))
    theirs = MAKERS[cls](dd, 5).permutation(dd.from_array(x, chunks=3))
    np.testing.assert_array_equal(computed(ours), theirs.compute())
    assert sorted(computed(MAKERS[cls](da, 5).permutation(10)).tolist()) == list(range(10))


def test_errors_name_the_problem():
    rs = da.random.RandomState(0)
    with pytest.raises(ValueError, match="probabilities do not sum to 1"):
        rs.choice(3, p=[0.5, 0.1, 0.1])
    with pytest.raises(ValueError, match="a and p must have the same size"):
        rs.choice(3, p=[0.5, 0.5])
    with pytest.raises(NotImplementedError, match="replace=False"):
        rs.choice(10, size=6, replace=False, chunks=3)
    with pytest.raises(ValueError, match="a must be greater than 0"):
        rs.choice(-1)
    with pytest.raises(ValueError, match="out= is not supported"):
        da.random.default_rng(0).random(3, out=np.empty(3))
    with pytest.raises(ValueError, match="axis must be 0"):
        da.random.default_rng(0).choice(3, axis=1)


def test_default_rng_accepts_numpys_forms():
    assert str(da.random.default_rng(1)) == "Generator(PCG64)"
    g = da.random.default_rng(1)
    assert da.random.default_rng(g) is g
    for make in [
        lambda: np.random.PCG64(1),
        lambda: np.random.default_rng(1),
        lambda: np.random.SeedSequence(1),
    ]:  # fresh seeds for each: spawning child seeds changes a SeedSequence
        ours = computed(da.random.default_rng(make()).random(4, chunks=2))
        np.testing.assert_array_equal(ours, dd.random.default_rng(make()).random(4, chunks=2))


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**16),
    st.lists(st.integers(1, 6), min_size=1, max_size=3),
    st.integers(1, 4),
    st.sampled_from(["normal", "random_sample", "poisson", "randint"]),
)
def test_random_shapes_match_dask(seed, shape, chunk, name):
    args = (0, 5) if name == "randint" else ()
    ours = getattr(da.random.RandomState(seed), name)(*args, size=tuple(shape), chunks=chunk)
    theirs = getattr(dd.random.RandomState(seed), name)(*args, size=tuple(shape), chunks=chunk)
    np.testing.assert_array_equal(computed(ours), theirs.compute())
    assert ours.chunks == theirs.chunks


def test_lazy_parameters_outside_the_probes_domain():
    # zipf needs a > 1: the dtype probe falls back to the parameter's first element.
    a = np.array([2.0, 3.0, 4.0])
    ours = da.random.RandomState(1).zipf(da.from_array(a, chunks=2))
    theirs = dd.random.RandomState(1).zipf(dd.from_array(a, chunks=2))
    np.testing.assert_array_equal(computed(ours), theirs.compute())


def test_random_state_class_makes_the_blocks():
    made = []

    class Recording(np.random.RandomState):
        def __init__(self, seed):
            made.append(seed)
            super().__init__(seed)

    rs = da.random.RandomState(3, RandomState=Recording)
    ours = computed(rs.normal(size=6, chunks=2))
    np.testing.assert_array_equal(ours, dd.random.RandomState(3).normal(size=6, chunks=2))
    assert len(made) >= 3
