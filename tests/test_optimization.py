"""taskloom.optimization.cull and fuse: new dict graphs that compute the same values."""

from __future__ import annotations

from operator import add, mul

import pytest
from hypothesis import HealthCheck, given, settings
from test_properties import graphs

import taskloom
from taskloom.optimization import cull, fuse, key_split, subs

from reference import reference_get


def inc(x):
    return x + 1


def pipeline():
    return {
        "load": (inc, 1),
        "clean": (mul, "load", 2),
        "alias": "clean",
        "analyze": (add, "alias", 100),
        "store": (str, "analyze"),
        "unused": (inc, "load"),
        "other": (inc, 5),
    }


def test_cull_keeps_what_the_keys_need():
    dsk = pipeline()
    culled, deps = cull(dsk, ["store", "other"])
    assert set(culled) == {"load", "clean", "alias", "analyze", "store", "other"}
    assert all(culled[k] is dsk[k] for k in culled)
    assert deps == {
        "load": set(),
        "clean": {"load"},
        "alias": {"clean"},
        "analyze": {"alias"},
        "store": {"analyze"},
        "other": set(),
    }
    with pytest.raises(KeyError, match="nope"):
        cull(dsk, "nope")


@pytest.mark.parametrize("rename_keys", [True, False])
def test_fuse_inlines_linear_chains(rename_keys):
    dsk = pipeline()
    fused, deps = fuse(dsk, ["store", "other"], rename_keys=rename_keys)
    assert "unused" not in fused
    tasks = [k for k, v in fused.items() if isinstance(v, tuple) and callable(v[0])]
    assert len(tasks) == 2, fused  # the whole chain became one task, plus "other"
    assert deps["other"] == set()
    if rename_keys:
        assert fused["store"] == "load-clean-alias-analyze-store"
        assert deps["store"] == {"load-clean-alias-analyze-store"}
    for keys in ["store", ["store", "other"]]:
        assert taskloom.get(fused, keys) == reference_get(dsk, keys)
    assert dsk == pipeline(), "the input graph is not modified"


def test_fuse_keeps_requested_and_shared_keys():
    dsk = {"a": 1, "b": (inc, "a"), "c": (inc, "b"), "d": (add, "b", "c")}
    fused, _ = fuse(dsk, ["d", "a"], rename_keys=False)
    # "a" is requested, "b" is read twice: neither may disappear.
    assert {"a", "b", "d"} <= set(fused)
    assert taskloom.get(fused, ["d", "a"]) == reference_get(dsk, ["d", "a"])


def test_fuse_without_keys_keeps_the_sinks():
    dsk = {"a": 1, "b": (inc, "a"), "c": (inc, "b"), "x": (inc, 10)}
    fused, _ = fuse(dsk, rename_keys=False)
    assert set(fused) == {"c", "x"}
    assert taskloom.get(fused, ["c", "x"]) == (3, 11)


def test_unsupported_fusion_options_are_refused():
    with pytest.raises(NotImplementedError, match="ave_width"):
        fuse({"a": 1}, "a", ave_width=2)


def test_helpers():
    assert key_split("load-" + "0123456789abcdef" * 2) == "load"
    assert key_split(("x-1", 0, 1)) == "x"
    assert subs((add, "a", ["a", (inc, "a")]), "a", 5) == (add, 5, [5, (inc, 5)])
    assert subs("ab", "a", 5) == "ab"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(allow_failure=False))
def test_fused_and_culled_graphs_compute_the_same(case):
    dsk, keys = case
    expected = reference_get(dsk, keys)
    flat = [k for part in (keys if isinstance(keys, list) else [keys]) for k in
            (part if isinstance(part, list) else [part])]  # fmt: skip
    culled, _ = cull(dsk, flat)
    assert reference_get(culled, keys) == expected
    for rename in (True, False):
        fused, _ = fuse(dsk, flat, rename_keys=rename)
        assert taskloom.get_sync(fused, keys) == expected


def test_fuse_cuts_chains_that_pass_through_sets():
    # b reads a inside a frozenset: a's task (holding a list) cannot be put there.
    dsk = {"x": 0, "a": (sum, ["x", 0]), "b": (sum, frozenset(["a"])), "c": (inc, "b")}
    for rename in (True, False):
        fused, _ = fuse(dsk, "c", rename_keys=rename)
        assert taskloom.get_sync(fused, "c") == reference_get(dsk, "c")
