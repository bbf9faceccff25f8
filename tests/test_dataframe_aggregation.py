"""User-defined groupby aggregations (``taskloom.dataframe.Aggregation``, as Dask's
``dd.Aggregation``) and ``median`` inside ``agg``: against pandas on random frames
(several partitions, empty ones, NaN values and keys, int/float/string keys, several
keys, ``sort``/``dropna``, ``split_every``/``split_out``), Dask's documented examples
against ``dask.dataframe``, the metadata against the computed data, and bad input."""

from __future__ import annotations

import dask.dataframe as dask_dd
import numpy as np
import pandas as pd
import pandas.testing as tm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_dataframe_meta import assert_meta_matches

import taskloom.dataframe as dd
from taskloom.dataframe.groupby import _split_by_key_hash

# A few random frames in the default run; many under -m slow (each example computes
# several graphs, about two seconds).
FEW = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Dask's documented examples (docs: dataframe-groupby.rst, the Aggregation docstring).
CUSTOM_SUM = dd.Aggregation("custom_sum", lambda s: s.sum(), lambda s0: s0.sum())
CUSTOM_MEAN = dd.Aggregation(
    "custom_mean",
    lambda s: (s.count(), s.sum()),
    lambda count, sum: (count.sum(), sum.sum()),
    lambda count, sum: sum / count,
)
NUNIQUE = dd.Aggregation(
    name="nunique_lists",
    chunk=lambda s: s.apply(lambda x: list(set(x))),
    agg=lambda s0: s0.obj.groupby(level=list(range(s0.obj.index.nlevels))).sum(),
    finalize=lambda s1: s1.apply(lambda final: len(set(final))),
)

# The same, keeping missing keys when regrouping: the documented agg regroups with
# pandas' default dropna=True, so it drops the NaN group of groupby(dropna=False).
NUNIQUE_ALL_KEYS = dd.Aggregation(
    name="nunique_lists",
    chunk=lambda s: s.apply(lambda x: list(set(x))),
    agg=lambda s0: s0.obj.groupby(
        level=list(range(s0.obj.index.nlevels)), dropna=False, sort=False
    ).sum(),
    finalize=lambda s1: s1.apply(lambda final: len(set(final))),
)


def _dask_versions():
    return (
        dask_dd.Aggregation("custom_sum", lambda s: s.sum(), lambda s0: s0.sum()),
        dask_dd.Aggregation(
            "custom_mean",
            lambda s: (s.count(), s.sum()),
            lambda count, sum: (count.sum(), sum.sum()),
            lambda count, sum: sum / count,
        ),
        dask_dd.Aggregation(
            name="nunique_lists",
            chunk=lambda s: s.apply(lambda x: list(set(x))),
            agg=lambda s0: s0.obj.groupby(level=list(range(s0.obj.index.nlevels))).sum(),
            finalize=lambda s1: s1.apply(lambda final: len(set(final))),
        ),
    )


KEY_KINDS = ("int", "float_nan", "str", "two")


@st.composite
def frames(draw):
    """``(pandas frame, taskloom frame, key columns)``; the taskloom frame drops the
    rows whose ``keep`` is False after partitioning, so some partitions may be empty."""
    n = draw(st.integers(0, 30))
    kind = draw(st.sampled_from(KEY_KINDS))
    ints = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    if kind == "float_nan":
        nan = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        k = pd.array([None if m else float(v) for v, m in zip(ints, nan, strict=True)], "float64")
    elif kind == "str":
        k = pd.array([f"k{v}" for v in ints], dtype="str")
    else:
        k = np.array(ints, dtype="int64")
    x = draw(st.lists(st.one_of(st.floats(-10, 10), st.just(float("nan"))), min_size=n, max_size=n))
    y = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
    keep = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    pdf = pd.DataFrame(
        {
            "k": k,
            "j": np.array(y, dtype="int64") % 2,
            "x": np.array(x, dtype="float64"),
            "y": np.array(y, dtype="int64"),
            "keep": np.array(keep, dtype=bool),
        },
        index=pd.Index(np.arange(n) * 3, name="i"),
    )
    ddf = dd.from_pandas(pdf, npartitions=draw(st.integers(1, 5)))
    ddf = ddf[ddf.keep].drop(columns="keep")
    keys = ["k", "j"] if kind == "two" else ["k"]
    return pdf[pdf.keep].drop(columns="keep"), ddf, keys


def check(lazy, expected, npartitions: int | None = None):
    """``lazy`` computes to ``expected`` (rows in any order) with the structure its
    metadata announced; with ``npartitions``, its groups are split by key hash."""
    got = lazy.compute()
    assert_meta_matches(lazy, got)
    if npartitions is not None:
        assert lazy.npartitions == npartitions
        if npartitions > 1:
            _check_hash_partitioned(lazy, npartitions)
    if not len(expected):
        assert not len(got)
        return
    got, expected = got.sort_index(), expected.sort_index()
    if isinstance(expected, pd.DataFrame):
        tm.assert_frame_equal(got, expected, check_index_type=False, check_dtype=False)
    else:
        tm.assert_series_equal(got, expected, check_index_type=False, check_dtype=False)


def _check_hash_partitioned(lazy, n: int) -> None:
    """Each output partition holds exactly the groups the key hash sends to it."""
    for j, part in enumerate(lazy.to_delayed()):
        p = part.compute()
        frame = p.to_frame() if isinstance(p, pd.Series) else p
        pieces = _split_by_key_hash(frame, n)
        assert sum(len(q) for i, q in enumerate(pieces) if i != j) == 0, (j, p)


OPTIONS = (
    frames(),
    st.booleans(),
    st.booleans(),
    st.sampled_from([1, 3]),
    st.sampled_from([2, 8]),
)


def _custom_aggregations(data, sort, dropna, split_out, split_every):
    pdf, ddf, keys = data
    pg = pdf.groupby(keys, sort=sort, dropna=dropna)
    g = ddf.groupby(keys, sort=sort, dropna=dropna)
    opts = {"split_out": split_out, "split_every": split_every}

    check(g.x.agg(CUSTOM_MEAN, **opts), pg.x.mean(), split_out)
    values = [c for c in ("j", "x", "y") if c not in keys]
    check(g.agg(CUSTOM_SUM, **opts), pg[values].sum(), split_out)
    check(g.y.agg(NUNIQUE_ALL_KEYS, **opts), pg.y.nunique(), split_out)
    # Mixed with the built-in names, in a list and in a dict.
    expected = pg.x.agg(["sum", "mean", "count"]).set_axis(["sum", "custom_mean", "count"], axis=1)
    check(g.x.agg(["sum", CUSTOM_MEAN, "count"], **opts), expected, split_out)
    expected = pg.agg({"x": ["mean", "var"], "y": ["sum", "nunique"]})
    expected.columns = pd.MultiIndex.from_tuples(
        [("x", "custom_mean"), ("x", "var"), ("y", "custom_sum"), ("y", "nunique_lists")]
    )
    lazy = g.agg({"x": [CUSTOM_MEAN, "var"], "y": [CUSTOM_SUM, NUNIQUE_ALL_KEYS]}, **opts)
    check(lazy, expected, split_out)
    # With the built-in nunique (its own tree of distinct pairs; one partition).
    expected = pg.agg({"x": ["mean", "max"], "y": "nunique"})
    expected.columns = pd.MultiIndex.from_tuples(
        [("x", "custom_mean"), ("x", "max"), ("y", "nunique")]
    )
    lazy = g.agg({"x": [CUSTOM_MEAN, "max"], "y": "nunique"}, split_every=split_every)
    check(lazy, expected)
    # Named aggregation, frame and series.
    expected = pg.agg(m=("x", "mean"), s=("y", "sum"), lo=("x", "min"))
    check(g.agg(m=("x", CUSTOM_MEAN), s=("y", CUSTOM_SUM), lo=("x", "min"), **opts), expected)
    check(g.x.agg(m=CUSTOM_MEAN, hi="max", **opts), pg.x.agg(m="mean", hi="max"))


def _median_in_agg(data, sort, dropna, split_out, split_every):
    pdf, ddf, keys = data
    pg = pdf.groupby(keys, sort=sort, dropna=dropna)
    g = ddf.groupby(keys, sort=sort, dropna=dropna)
    opts = {"split_out": split_out, "split_every": split_every}
    check(g.x.agg("median", **opts), pg.x.agg("median"), split_out)
    values = [c for c in ("j", "x", "y") if c not in keys]
    check(g.agg("median", **opts), pg[values].agg("median"), split_out)
    check(g.agg(["sum", "median"], **opts), pg[values].agg(["sum", "median"]), split_out)
    check(g.agg({"x": "median"}, **opts), pg.agg({"x": "median"}), split_out)
    spec = {"x": ["median", "std", "count"], "y": ["median", "first"]}
    check(g.agg(spec, **opts), pg.agg(spec), split_out)
    # With a user's aggregation: all of it on whole groups.
    expected = pg.x.agg(["median", "mean"]).set_axis(["median", "custom_mean"], axis=1)
    check(g.x.agg(["median", CUSTOM_MEAN], **opts), expected, split_out)
    check(
        g.agg(med=("x", "median"), n=("y", NUNIQUE_ALL_KEYS), **opts),
        pg.agg(med=("x", "median"), n=("y", "nunique")),
        split_out,
    )


@FEW
@given(*OPTIONS)
def test_custom_aggregations_match_pandas(data, sort, dropna, split_out, split_every):
    _custom_aggregations(data, sort, dropna, split_out, split_every)


@pytest.mark.slow
@MANY
@given(*OPTIONS)
def test_custom_aggregations_match_pandas_many(data, sort, dropna, split_out, split_every):
    _custom_aggregations(data, sort, dropna, split_out, split_every)


@FEW
@given(*OPTIONS)
def test_median_in_agg_matches_pandas(data, sort, dropna, split_out, split_every):
    _median_in_agg(data, sort, dropna, split_out, split_every)


@pytest.mark.slow
@MANY
@given(*OPTIONS)
def test_median_in_agg_matches_pandas_many(data, sort, dropna, split_out, split_every):
    _median_in_agg(data, sort, dropna, split_out, split_every)


def _example_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 200
    x = rng.normal(size=n)
    x[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "g": rng.choice(["a", "b", "c", "d", "e"], n),
            "h": rng.integers(0, 3, n),
            "x": x,
            "y": rng.integers(0, 12, n),
        }
    )


@pytest.mark.parametrize("split_every", [2, 8])
@pytest.mark.parametrize("split_out", [1, 3])
@pytest.mark.parametrize("keys", ["g", ["g", "h"]])
def test_dask_documented_examples_match_dask(keys, split_out, split_every):
    pdf = _example_frame()
    ddf = dd.from_pandas(pdf, npartitions=7)
    dask_df = dask_dd.from_pandas(pdf, npartitions=7)
    d_sum, d_mean, d_nunique = _dask_versions()
    opts = {"split_out": split_out, "split_every": split_every}
    pairs = [
        (ddf.groupby(keys).agg(CUSTOM_SUM, **opts), dask_df.groupby(keys).agg(d_sum, **opts)),
        (ddf.groupby(keys).agg(CUSTOM_MEAN, **opts), dask_df.groupby(keys).agg(d_mean, **opts)),
        (
            ddf.groupby(keys).y.agg(NUNIQUE, **opts),
            dask_df.groupby(keys).y.agg(d_nunique, **opts),
        ),
        (
            ddf.groupby(keys).agg({"x": [CUSTOM_MEAN, "max"], "y": NUNIQUE}, **opts),
            dask_df.groupby(keys).agg({"x": [d_mean, "max"], "y": d_nunique}, **opts),
        ),
    ]
    for ours, theirs in pairs:
        check(ours, theirs.compute(), split_out)
        assert ours.npartitions == theirs.npartitions


def test_dask_aggregation_objects_are_accepted():
    pdf = _example_frame()
    ddf = dd.from_pandas(pdf, npartitions=4)
    _, d_mean, _ = _dask_versions()
    check(ddf.groupby("g").x.agg(d_mean), pdf.groupby("g").x.mean())
    check(
        ddf.groupby("g").agg({"x": ["sum", d_mean]}).x.custom_mean,
        pdf.groupby("g").x.mean().rename("custom_mean"),
    )


def test_median_agg_matches_dask():
    pdf = _example_frame()
    ddf = dd.from_pandas(pdf, npartitions=5)
    dask_df = dask_dd.from_pandas(pdf, npartitions=5)
    spec = {"x": ["median", "sum"], "y": "median"}
    check(ddf.groupby("g").agg(spec), dask_df.groupby("g").agg(spec).compute())
    ours = ddf.groupby("g").x.agg("median", split_out=2)
    theirs = dask_df.groupby("g").x.agg("median", split_out=2)
    assert ours.npartitions == theirs.npartitions == 2
    # Dask gives a one-column frame here; pandas, and taskloom, a Series.
    check(ours, pdf.groupby("g").x.agg("median"), 2)
    check(ours, theirs.compute()["x"], 2)


def test_agg_runs_once_on_one_partition_as_in_dask():
    # Dask calls agg at the root even when there was a single chunk; an agg that is
    # not a plain merge shows whether it ran.
    pdf = _example_frame()
    times_ten = dd.Aggregation("t", lambda s: s.sum(), lambda s: s.sum() * 10)
    d_times_ten = dask_dd.Aggregation("t", lambda s: s.sum(), lambda s: s.sum() * 10)
    ours = dd.from_pandas(pdf, npartitions=1).groupby("g").y.agg(times_ten)
    theirs = dask_dd.from_pandas(pdf, npartitions=1).groupby("g").y.agg(d_times_ten)
    check(ours, theirs.compute())
    check(ours, pdf.groupby("g").y.sum() * 10)


def test_level_and_series_keys():
    pdf = _example_frame().set_index("g")
    ddf = dd.from_pandas(pdf, npartitions=4)
    check(ddf.groupby(level=0).x.agg(CUSTOM_MEAN), pdf.groupby(level=0).x.mean())
    check(
        ddf.groupby(level=0).agg({"x": ["median", CUSTOM_MEAN]}, split_out=2),
        pdf.groupby(level=0)
        .agg({"x": ["median", "mean"]})
        .set_axis(pd.MultiIndex.from_tuples([("x", "median"), ("x", "custom_mean")]), axis=1),
        2,
    )
    pdf = _example_frame()
    ddf = dd.from_pandas(pdf, npartitions=4)
    check(ddf.groupby(ddf.y % 3).x.agg(CUSTOM_MEAN), pdf.groupby(pdf.y % 3).x.mean())
    check(ddf.groupby(ddf.y % 3).x.agg("median"), pdf.groupby(pdf.y % 3).x.median())
    # A Series grouped by Series.
    check(ddf.x.groupby(ddf.g).agg(CUSTOM_MEAN), pdf.x.groupby(pdf.g).mean())
    expected = pdf.x.groupby([pdf.g, pdf.h]).agg(["median", "mean"])
    check(
        ddf.x.groupby([ddf.g, ddf.h]).agg(["median", CUSTOM_MEAN], split_out=2),
        expected.set_axis(["median", "custom_mean"], axis=1),
        2,
    )
    check(ddf.groupby("g").aggregate({"x": CUSTOM_MEAN}), pdf.groupby("g").agg({"x": "mean"}))


@pytest.mark.parametrize("observed", [True, False])
@pytest.mark.parametrize("keys", ["k", ["k", "j"]])
def test_categorical_keys_and_observed(keys, observed):
    # With observed=False each unobserved category is one row, also when the request
    # runs on whole groups in several shuffled partitions (each would list it).
    pdf = pd.DataFrame(
        {
            "k": pd.Categorical(list("ababa"), categories=["a", "b", "z", "w"]),
            "j": pd.Categorical(list("uuvvu"), categories=["u", "v", "q"]),
            "x": [1.0, 2.0, 3.0, 4.0, 8.0],
        }
    )
    pg = pdf.groupby(keys, observed=observed)
    for nparts in (1, 3):
        g = dd.from_pandas(pdf, npartitions=nparts).groupby(keys, observed=observed)
        for split_out in (1, 3):
            expected = pg.x.agg(["median", "mean"]).set_axis(["median", "custom_mean"], axis=1)
            check(g.x.agg(["median", CUSTOM_MEAN], split_out=split_out), expected, split_out)
            spec = {"x": ["sum", "median"]}
            check(g.agg(spec, split_out=split_out), pg.agg(spec), split_out)
            check(g.x.agg(CUSTOM_MEAN, split_out=split_out), pg.x.mean(), split_out)


@pytest.mark.parametrize("nparts", [1, 3, 6])
def test_observed_false_with_a_plain_key_lists_every_combination(nparts):
    # A categorical key beside a plain one: a shuffled partition lists only the
    # combinations of the plain values it holds, so an unobserved combination could be
    # missing from the one partition its hash picks (it was dropped from the result).
    pdf = pd.DataFrame(
        {
            "k": pd.Categorical(list("ababab"), categories=["a", "b", "c", "d"]),
            "j": [1, 1, 2, 2, 1, 1],
            "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    g = dd.from_pandas(pdf, npartitions=nparts).groupby(["k", "j"], observed=False)
    pg = pdf.groupby(["k", "j"], observed=False)
    spec = {"x": ["median", "count", CUSTOM_MEAN]}
    expected = pg.agg({"x": ["median", "count", "mean"]}).set_axis(
        pd.MultiIndex.from_tuples([("x", "median"), ("x", "count"), ("x", "custom_mean")]),
        axis=1,
    )
    assert len(expected) == 8
    check(g.agg(spec), expected)
    # Split outputs: each unobserved combination goes, once, to the partition its hash
    # picks (from whichever partition lists it).
    split = g.agg(spec, split_out=2)
    assert split.npartitions == 2
    check(split, expected)
    # A NaN key kept by dropna=False: pandas may hold it as a level value in one
    # partition's result and as a missing code in another's; it is still one group.
    rng = np.random.default_rng(3)
    pdf = pd.DataFrame(
        {
            "k": pd.Categorical(rng.choice(list("ab"), 60), categories=list("abcde")),
            "j": rng.integers(0, 6, 60).astype(float),
            "x": rng.normal(size=60),
        }
    )
    pdf.loc[pdf.index[::5], "j"] = np.nan
    g = dd.from_pandas(pdf, npartitions=5).groupby(["k", "j"], observed=False, dropna=False)
    pg = pdf.groupby(["k", "j"], observed=False, dropna=False)
    assert len(pg.x.median()) == 35
    check(g.agg({"x": ["median", "count"]}), pg.agg({"x": ["median", "count"]}))
    expected = pg.agg({"x": ["median", "count", "mean"]}).set_axis(expected.columns, axis=1)
    check(g.agg(spec), expected)


def test_group_order_follows_sort():
    pdf = pd.DataFrame({"k": ["c", "a", "c", "b"], "x": [1.0, 2.0, 3.0, 4.0]})
    one = dd.from_pandas(pdf, npartitions=1)
    # On one partition, unsorted groups come in order of first appearance, as pandas.
    expected = list(pdf.groupby("k", sort=False).x.mean().index)
    assert expected == ["c", "a", "b"]
    for spec in (CUSTOM_MEAN, ["median", CUSTOM_MEAN], ["sum", CUSTOM_MEAN]):
        got = one.groupby("k", sort=False).x.agg(spec).compute()
        assert list(got.index) == expected, spec
    two = dd.from_pandas(pdf, npartitions=2)
    for spec in (CUSTOM_MEAN, ["median", CUSTOM_MEAN]):
        got = two.groupby("k").x.agg(spec).compute()
        assert list(got.index) == ["a", "b", "c"], spec


# --- bad input -----------------------------------------------------------------------


def test_aggregation_arguments_are_checked():
    with pytest.raises(TypeError, match="'bad': chunk must be callable, got int"):
        dd.Aggregation("bad", 1, lambda s: s.sum())
    with pytest.raises(TypeError, match="'bad': agg must be callable, got None"):
        dd.Aggregation("bad", lambda s: s.sum(), None)
    with pytest.raises(TypeError, match="'bad': finalize must be callable, got str"):
        dd.Aggregation("bad", lambda s: s.sum(), lambda s: s.sum(), "sum")
    with pytest.raises(TypeError, match="name must be a non-empty string"):
        dd.Aggregation(None, lambda s: s.sum(), lambda s: s.sum())


def test_name_clashes_are_refused():
    ddf = dd.from_pandas(_example_frame(), npartitions=2)
    other_sum = dd.Aggregation("custom_sum", lambda s: s.max(), lambda s: s.max())
    with pytest.raises(ValueError, match=r"conflicting aggregations of column 'x'.*'custom_sum'"):
        ddf.groupby("g").x.agg([CUSTOM_SUM, other_sum])
    named_sum = dd.Aggregation("sum", lambda s: s.max(), lambda s: s.max())
    with pytest.raises(ValueError, match=r"conflicting aggregations of column 'y'.*'sum'"):
        ddf.groupby("g").agg({"y": ["sum", named_sum]})
    with pytest.raises(ValueError, match=r"conflicting aggregations of column 'h'.*'sum'"):
        ddf.groupby("g").agg(["sum", named_sum])
    # One name on two columns, or under two labels, is no clash.
    pdf = _example_frame()
    check(
        ddf.groupby("g").agg(a=("x", CUSTOM_SUM), b=("x", other_sum)),
        pdf.groupby("g").agg(a=("x", "sum"), b=("x", "max")),
    )


def test_bad_results_of_the_steps_are_reported():
    ddf = dd.from_pandas(_example_frame(), npartitions=3)
    scalar = dd.Aggregation("scalar", lambda s: 1, lambda s: s.sum())
    with pytest.raises(TypeError, match="'scalar': chunk must return a Series"):
        ddf.groupby("g").x.agg(scalar)
    tuple_no_finalize = dd.Aggregation(
        "pair", lambda s: (s.sum(), s.count()), lambda a, b: (a.sum(), b.sum())
    )
    with pytest.raises(ValueError, match="'pair' has no finalize"):
        ddf.groupby("g").x.agg(tuple_no_finalize)
    frame_final = dd.Aggregation(
        "framed", lambda s: s.sum(), lambda s: s.sum(), lambda s: s.to_frame()
    )
    with pytest.raises(TypeError, match="'framed': finalize must return a Series"):
        ddf.groupby("g").x.agg(frame_final)


def test_other_bad_requests():
    ddf = dd.from_pandas(_example_frame(), npartitions=2)
    with pytest.raises(ValueError, match=r"unsupported groupby aggregation.*Aggregation"):
        ddf.groupby("g").x.agg(lambda s: s.sum())
    with pytest.raises(KeyError, match="column 'nope' to aggregate"):
        ddf.groupby("g").agg({"nope": CUSTOM_SUM})
    with pytest.raises(KeyError, match="column 'nope' is not in the frame"):
        ddf.groupby("g").agg(a=("nope", CUSTOM_SUM))
