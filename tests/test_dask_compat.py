"""Dask's own collections on taskloom's schedulers, against Dask's threaded scheduler."""

from __future__ import annotations

import numpy as np
import pytest

import taskloom

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
db = pytest.importorskip("dask.bag")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")

GETS = [taskloom.get, taskloom.get_sync]


def _collections():
    rng = da.random.default_rng(42)
    x = rng.random((60, 40), chunks=(7, 9))
    frame = pd.DataFrame({"g": np.arange(200) % 7, "v": np.arange(200.0), "w": 1.0})
    df = dd.from_pandas(frame, npartitions=5)
    bag = db.from_sequence(range(50), npartitions=6)
    return {
        "array-reduction": (x + x.T[:40, :60].T).mean(axis=0),
        "array-slice": x[3:50:2, ::3].sum(),
        "array-matmul": x.T @ x,
        "delayed": dask.delayed(sum)([dask.delayed(abs)(-i) for i in range(20)]),
        "bag": bag.map(lambda v: v * 3).filter(lambda v: v % 2).frequencies(),
        "bag-fold": bag.foldby(lambda v: v % 4, lambda a, b: a + b, 0),
        "dataframe-groupby": df.groupby("g").v.std(),
        "dataframe-filter": df[df.v > 50].w.sum(),
        "dataframe-assign": df.assign(z=df.v * 2).z.max(),
    }


def _same(a, b):
    if isinstance(a, pd.DataFrame | pd.Series):
        if isinstance(a, pd.Series):
            pd.testing.assert_series_equal(a.sort_index(), b.sort_index())
        else:
            pd.testing.assert_frame_equal(a.sort_index(), b.sort_index())
    elif isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b)
    elif isinstance(a, list):
        assert sorted(a) == sorted(b)
    else:
        assert a == pytest.approx(b)


@pytest.mark.parametrize("name", list(_collections()))
@pytest.mark.parametrize("get", GETS, ids=["threaded", "sync"])
def test_dask_compute_with_taskloom_scheduler(name, get):
    coll = _collections()[name]
    expected = coll.compute(scheduler="threads")
    _same(dask.compute(coll, scheduler=get)[0], expected)
    _same(coll.compute(scheduler=get), expected)


@pytest.mark.parametrize("name", list(_collections()))
def test_taskloom_compute_accepts_dask_collections(name):
    coll = _collections()[name]
    expected = coll.compute(scheduler="threads")
    (ours,) = taskloom.compute(coll)
    _same(ours, expected)


@pytest.mark.filterwarnings("ignore:Computing mixed collections")
def test_several_dask_collections_at_once():
    colls = _collections()
    names = ["array-slice", "delayed", "dataframe-filter"]
    ours = taskloom.compute(*[colls[n] for n in names], scheduler="sync")
    theirs = dask.compute(*[colls[n] for n in names], scheduler="threads")
    for a, b in zip(ours, theirs, strict=True):
        _same(a, b)
