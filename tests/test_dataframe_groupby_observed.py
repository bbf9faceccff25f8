"""groupby with ``observed=False`` on whole groups (after a shuffle, or nunique's
distinct pairs), against pandas:
every category pandas lists without rows comes out exactly once, beside plain keys,
with NaN keys kept by ``dropna=False``, over several and empty partitions."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pandas.testing as tm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import taskloom.dataframe as dd

KEYSETS = [["k"], ["k", "p"], ["p", "k"], ["k", "c"]]


def _rows(frame: pd.Series | pd.DataFrame) -> pd.DataFrame:
    """The result as rows in a canonical order (pandas may hold a NaN key as a level
    value or as a missing code; the values are what counts)."""
    out = frame.to_frame() if isinstance(frame, pd.Series) else frame
    out = out.reset_index()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object)
    out.columns = [str(c) for c in out.columns]
    return out.sort_values(list(out.columns), na_position="last").reset_index(drop=True)


def same(got: pd.Series | pd.DataFrame, expected: pd.Series | pd.DataFrame) -> None:
    tm.assert_frame_equal(_rows(got), _rows(expected), check_dtype=False)


frames = st.builds(
    lambda k, p, c, x, cut: (k, p, c, x, cut),
    k=st.lists(st.sampled_from(["a", "b", None]), min_size=0, max_size=24),
    p=st.lists(st.sampled_from([0.0, 1.0, 2.0, np.nan]), min_size=24, max_size=24),
    c=st.lists(st.sampled_from(["x", "y"]), min_size=24, max_size=24),
    x=st.lists(st.integers(0, 9), min_size=24, max_size=24),
    cut=st.integers(-1, 9),
)


def _make(data: tuple, nparts: int) -> tuple[pd.DataFrame, dd.DataFrame]:
    k, p, c, x, cut = data
    n = len(k)
    pdf = pd.DataFrame(
        {
            "k": pd.Categorical(k, categories=["a", "b", "d"]),
            "p": p[:n],
            "c": pd.Categorical(c[:n], categories=["x", "y", "z"]),
            "x": np.asarray(x[:n], dtype=float),
        }
    )
    ddf = dd.from_pandas(pdf, npartitions=nparts)
    # Rows dropped after partitioning: some partitions end up empty.
    return pdf[pdf.x > cut], ddf[ddf.x > cut]


# Each example computes a dozen graphs (a third of a second): a fixed sequence of
# examples, no example database, so a CI run takes what a local one does.
SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@SETTINGS
@given(
    data=frames,
    nparts=st.integers(1, 4),
    keys=st.sampled_from(KEYSETS),
    dropna=st.booleans(),
    split=st.booleans(),
)
def test_whole_group_reductions_list_unobserved_once(data, nparts, keys, dropna, split):
    pdf, ddf = _make(data, nparts)
    g = ddf.groupby(keys, observed=False, dropna=dropna)
    pg = pdf.groupby(keys, observed=False, dropna=dropna)
    split_out = True if split else 1

    # Category "d" has no rows: every partition with rows lists a group without rows,
    # whose result stands for the combinations no partition lists (a NaN category
    # beside a value another partition holds), so nothing is refused.
    def agree(lazy, expected, prepare=lambda x: x):
        same(prepare(lazy().compute()), prepare(expected))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        agree(lambda: g.x.median(split_out=split_out), pg.x.median())
        spec = {"x": ["median", "sum"]}
        agree(lambda: g.agg(spec, split_out=2 if split else 1), pg.agg(spec))
        agree(lambda: g.apply(lambda d: d.x.sum()), pg.apply(lambda d: d.x.sum()))
        agree(lambda: g.x.unique(), pg.x.unique(), lambda r: r.map(lambda a: tuple(sorted(a))))
        # Plain tree reductions: the merged partials list what no partition lists.
        agree(lambda: g.x.sum(split_out=2 if split else 1), pg.x.sum())
        agree(lambda: g.x.count(split_out=split_out), pg.x.count())
        # nunique merges distinct pairs (no shuffle), alone or beside other aggregations.
        agree(lambda: g.x.nunique(), pg.x.nunique())
        agree(lambda: g.agg({"x": ["nunique", "sum"]}), pg.agg({"x": ["nunique", "sum"]}))
        if keys == ["k"]:
            agree(lambda: g[["x", "p"]].cov(), pg[["x", "p"]].cov())
        try:
            expected = pg.x.idxmin()
        except ValueError as exc:
            assert "unobserved categories" in str(exc)
            with pytest.raises(ValueError, match="unobserved categories"):
                g.x.idxmin(split_out=split_out).compute()
        else:
            agree(lambda: g.x.idxmin(split_out=split_out), expected)


@pytest.mark.parametrize("nparts", [1, 2, 4])
@pytest.mark.parametrize("split_out", [1, True])
def test_nan_category_beside_a_plain_key_lists_every_combination(nparts, split_out):
    # dropna=False, a NaN category and a plain key: pandas lists (NaN, every p); the
    # partitions holding the NaN category and those holding p=NaN differ.
    pdf = pd.DataFrame(
        {
            "k": pd.Categorical(["a", None, "a", "a"], categories=["a", "b"]),
            "p": [0.0, 0.0, np.nan, 1.0],
            "x": [1.0, 2.0, 3.0, 4.0],
        }
    )
    g = dd.from_pandas(pdf, nparts).groupby(["k", "p"], observed=False, dropna=False)
    got = g.x.median(split_out=split_out)
    both = pd.concat([got.partitions[i].compute() for i in range(got.npartitions)])
    assert not both.index.to_frame().duplicated().any()
    expected = pdf.groupby(["k", "p"], observed=False, dropna=False).x.median()
    assert len(both) == len(expected) == 9
    same(both, expected)
    same(got.compute(), expected)


@pytest.mark.parametrize("how", ["sum", "count", "mean", "min", "var", "size", "prod"])
def test_tree_reductions_in_split_out_trees_list_nan_category_combinations(how):
    # Each split_out tree holds the partials hashed to it: (NaN, 0.0) needs the NaN
    # category and p=0.0, which no single tree may hold.
    pdf = pd.DataFrame(
        {
            "k": pd.Categorical(["a", "b", "b", None, None], categories=["a", "b", "d"]),
            "p": [0.0, 2.0, np.nan, 1.0, 1.0],
            "x": [4, 2, 2, 3, 2],
        }
    )
    g = dd.from_pandas(pdf, 4).groupby(["k", "p"], observed=False, dropna=False)
    pg = pdf.groupby(["k", "p"], observed=False, dropna=False)
    for split_out in (1, 4):
        lazy = getattr(g if how == "size" else g.x, how)(split_out=split_out)
        got = pd.concat([lazy.partitions[i].compute() for i in range(lazy.npartitions)])
        expected = getattr(pg if how == "size" else pg.x, how)()
        assert len(got) == len(expected) == 16
        same(got, expected)
        assert got.dtype == lazy._meta.dtype == expected.dtype


def test_nan_categories_of_two_keys_held_apart():
    # (NaN, NaN): each NaN is held by another partition; the empty group's result comes
    # from a group another partition lists.
    pdf = pd.DataFrame(
        {
            "k": pd.Categorical(["a", None, "a"], categories=["a", "b"]),
            "c": pd.Categorical(["x", "x", None], categories=["x"]),
            "x": [1.0, 2.0, 3.0],
        }
    )
    g = dd.from_pandas(pdf, 3).groupby(["k", "c"], observed=False, dropna=False)
    expected = pdf.groupby(["k", "c"], observed=False, dropna=False)
    same(g.x.median().compute(), expected.x.median())
    same(g.x.median(split_out=3).compute(), expected.x.median())
    same(g.apply(lambda d: d.x.sum()).compute(), expected.apply(lambda d: d.x.sum()))


def test_two_plain_keys_list_only_the_combinations_that_occur():
    pdf = pd.DataFrame(
        {
            "k": pd.Categorical(list("aaaa"), categories=list("ab")),
            "p": [0, 0, 1, 1],
            "q": [0, 1, 0, 2],
            "x": np.arange(4.0),
        }
    )
    expected = pdf.groupby(["k", "p", "q"], observed=False).x.median()
    for split_out in (1, True):
        got = dd.from_pandas(pdf, 2).groupby(["k", "p", "q"], observed=False)
        same(got.x.median(split_out=split_out).compute(), expected)


def test_the_review_reproducer():
    pdf = pd.DataFrame(
        {"k": pd.Categorical(list("abab"), categories=list("abc")), "x": [1.0, 2, 3, 4]}
    )
    ddf = dd.from_pandas(pdf, 2)
    got = ddf.groupby("k", observed=False).x.median().compute()
    expected = pdf.groupby("k", observed=False).x.median()
    assert len(got) == 3 and np.isnan(got["c"])
    same(got, expected)
    # observed=True (pandas 3's default) leaves the unobserved category out.
    assert sorted(ddf.groupby("k").x.median().compute().index) == ["a", "b"]


def test_split_out_keeps_partitions_and_each_group_once():
    pdf = pd.DataFrame(
        {
            "k": pd.Categorical(list("abababab"), categories=list("abcdef")),
            "p": [1, 2, 1, 3, 1, 2, 1, 3],
            "x": np.arange(8.0),
        }
    )
    ddf = dd.from_pandas(pdf, 4)
    got = ddf.groupby(["k", "p"], observed=False).x.median(split_out=True)
    assert got.npartitions == 4
    parts = [got.partitions[i].compute() for i in range(4)]
    both = pd.concat(parts)
    assert not both.index.duplicated().any()
    same(both, pdf.groupby(["k", "p"], observed=False).x.median())


def test_idxmin_of_an_unobserved_category_is_pandas_error():
    pdf = pd.DataFrame(
        {"k": pd.Categorical(list("abab"), categories=list("abc")), "x": [1.0, 2, 3, 4]}
    )
    g = dd.from_pandas(pdf, 2).groupby("k", observed=False)
    with pytest.raises(ValueError, match="idxmax of an empty group"):
        g.x.idxmax().compute()
    # Every category observed somewhere: no error, though each partition alone lacks one.
    pdf["k"] = pdf.k.cat.remove_unused_categories()
    g = dd.from_pandas(pdf.sort_values("k"), 2).groupby("k", observed=False)
    same(g.x.idxmin().compute(), pdf.groupby("k", observed=False).x.idxmin())


def _python_counts(pdf: pd.DataFrame, keys: list, col: str, dropna: bool) -> dict:
    """Rows per ``(keys, value)``, counted in plain Python (NaN as None)."""
    counts: dict = {}
    for row in pdf[[*keys, col]].itertuples(index=False):
        row = tuple(None if pd.isna(v) else v for v in row)
        if dropna and row[-1] is None:
            continue
        counts[row] = counts.get(row, 0) + 1
    return counts


def _tuples(index: pd.Index) -> list:
    return [tuple(None if pd.isna(v) else v for v in row) for row in index]


@settings(SETTINGS, max_examples=40)
@given(
    data=frames,
    nparts=st.integers(1, 4),
    keys=st.sampled_from(KEYSETS),
    col=st.sampled_from(["x", "c"]),
    sort=st.booleans(),
    dropna=st.booleans(),
    vc=st.fixed_dictionaries(
        {
            "sort": st.booleans(),
            "ascending": st.booleans(),
            "dropna": st.booleans(),
            "normalize": st.booleans(),
        }
    ),
    split_every=st.sampled_from([2, None]),
)
def test_value_counts_lists_every_group_and_value(
    data, nparts, keys, col, sort, dropna, vc, split_every
):
    if col in keys:
        col = "x"
    pdf, ddf = _make(data, nparts)
    lazy = ddf.groupby(keys, observed=False, sort=sort, dropna=dropna)[col].value_counts(
        split_every=split_every, **vc
    )
    got = lazy.compute()
    expected = pdf.groupby(keys, observed=False, sort=sort, dropna=dropna)[col].value_counts(**vc)
    assert lazy.npartitions == 1
    assert got.name == lazy._meta.name == expected.name
    assert got.dtype == lazy._meta.dtype == expected.dtype
    assert list(got.index.names) == list(lazy._meta.index.names) == [*keys, col]
    # pandas lists these rows; its counts beside a NaN key kept by dropna=False may be
    # wrong (a missing code read as the last category), so the counts are Python's.
    assert _tuples(got.index) == _tuples(expected.index) or not sort or not dropna
    assert sorted(_tuples(got.index), key=repr) == sorted(_tuples(expected.index), key=repr)
    counts = _python_counts(pdf, keys, col, vc["dropna"])
    want = pd.Series(
        [counts.get(row, 0) for row in _tuples(got.index)], index=got.index, dtype=float
    )
    if vc["normalize"]:
        groups = np.array([repr(row[: len(keys)]) for row in _tuples(got.index)])
        totals = want.groupby(groups).transform("sum")
        want = (want / totals.where(totals > 0)).fillna(0.0)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy())
    if dropna:
        # No NaN key: pandas' own answer, in its order.
        tm.assert_series_equal(got, expected)


def test_value_counts_of_a_categorical_column_lists_all_its_categories():
    pdf = pd.DataFrame(
        {
            "k": pd.Categorical(list("aab"), categories=list("abc")),
            "v": pd.Categorical(list("uvu"), categories=list("wvu")),
        }
    )
    got = dd.from_pandas(pdf, 2).groupby("k", observed=False).v.value_counts().compute()
    assert len(got) == 9 and got[("c", "w")] == 0 and got[("a", "u")] == 1
    tm.assert_series_equal(got, pdf.groupby("k", observed=False).v.value_counts())


# -- a frame's own column given as a Series: a key, not an aggregated column ----------


def _own_column_frames():
    import dask.dataframe as dask_dd

    pdf = pd.DataFrame(
        {
            "k": list("abcabcab"),
            "j": [1, 1, 2, 2, 1, 1, 2, 2],
            "x": np.arange(8.0),
            "y": np.arange(8) % 3,
        }
    )
    return pdf, dd.from_pandas(pdf, 3), dask_dd.from_pandas(pdf, npartitions=3)


@pytest.mark.parametrize(
    "how",
    [
        lambda df: df.groupby(df.k).sum(),
        lambda df: df.groupby(df["k"]).agg("median"),
        lambda df: df.groupby(df.k).mean(),
        lambda df: df.groupby([df.k, "j"]).sum(),
        lambda df: df.groupby([df.k, df.j]).max(),
    ],
)
def test_own_column_series_key_is_not_aggregated(how):
    pdf, ddf, dask_df = _own_column_frames()
    got, expected = how(ddf).compute(), how(dask_df).compute()
    assert list(got.columns) == list(expected.columns)
    assert "k" not in got.columns
    tm.assert_frame_equal(
        got.sort_index(), expected.sort_index(), check_dtype=False, check_index_type=False
    )
    tm.assert_frame_equal(got.sort_index(), how(pdf).sort_index(), check_dtype=False)


def test_other_series_keys_stay_temporary_columns():
    pdf, ddf, dask_df = _own_column_frames()
    # A derived or renamed series, or another frame's column of the same name, is not
    # the frame's own column: the frame's k stays an aggregated column.
    other = dd.from_pandas(pdf.assign(k=pdf.k.str.upper()), 3)
    for key, pkey in [
        (ddf.k + "z", pdf.k + "z"),
        (ddf.j.rename("k"), pdf.j.rename("k")),
        (other.k, pdf.k.str.upper()),
    ]:
        got = ddf.groupby(key).agg({"x": "sum", "k": "max"}).compute()
        expected = pdf.groupby(pkey).agg({"x": "sum", "k": "max"})
        tm.assert_frame_equal(
            got.sort_index(), expected.sort_index(), check_dtype=False, check_index_type=False
        )
    got = ddf.groupby(ddf.j.rename("k")).sum().compute()
    assert "k" in got.columns
    expected = dask_df.groupby(dask_df.j.rename("k")).sum().compute()
    tm.assert_frame_equal(
        got.sort_index(), expected.sort_index(), check_dtype=False, check_index_type=False
    )


def test_column_selection_names_are_deterministic_and_distinct():
    pdf = pd.DataFrame({"a": [1, 2], "b": [3, 4], 1: [5, 6], ("t", "u"): [7, 8], "1": [0, 0]})
    ddf = dd.from_pandas(pdf, 2)
    keys = ["a", "b", 1, "1", ("t", "u"), ["a"], ["b", "a"], ["a", "b"]]
    names = [ddf[k]._name for k in keys]
    assert names == [ddf[k]._name for k in keys]
    assert len(set(names)) == len(keys)
    assert ddf.a._name == ddf["a"]._name
    other = dd.from_pandas(pdf + 1, 2)
    assert other["a"]._name != ddf["a"]._name
    for k in keys:
        got, expected = ddf[k].compute(), pdf[k]
        if isinstance(expected, pd.DataFrame):
            tm.assert_frame_equal(got, expected)
        else:
            tm.assert_series_equal(got, expected)
    # Identical selections share their tasks.
    both = ddf.a + ddf.a
    assert len([k for k in both.__dask_graph__() if k[0].startswith("getitem")]) == 2
    tm.assert_series_equal(both.compute(), pdf.a + pdf.a)
