"""taskloom.config's Dask-compatible functions, compared with dask.config's on the
same inputs, and the global settings read from files and environment variables."""

from __future__ import annotations

import copy
import inspect
import os

import dask.config as dc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taskloom
from taskloom import config as tc

_MISSING = object()
keys = st.sampled_from(["a", "b", "a-b", "a_b", "c"])
leaves = st.one_of(st.integers(), st.text(max_size=3), st.none(), st.booleans())
nested = st.recursive(
    leaves, lambda inner: st.dictionaries(keys, inner, max_size=3), max_leaves=8
).filter(lambda x: isinstance(x, dict))


@pytest.mark.parametrize(
    "name",
    [
        "serialize", "deserialize", "merge", "update", "expand_environment_variables",
        "collect", "refresh", "ensure_file", "update_defaults", "get",
    ],
)  # fmt: skip
def test_signatures_match_dask(name):
    ours = inspect.signature(getattr(tc, name)).parameters
    theirs = inspect.signature(getattr(dc, name)).parameters
    assert list(ours) == list(theirs)
    assert [p.kind for p in ours.values()] == [p.kind for p in theirs.values()]


@settings(max_examples=25, deadline=None)
@given(nested, nested, st.sampled_from(["old", "new"]))
def test_update_and_merge_as_dask(old, new, priority):
    ours = tc.update(copy.deepcopy(old), new, priority=priority)
    assert ours == dc.update(copy.deepcopy(old), new, priority=priority)
    assert tc.merge(old, new, old) == dc.merge(old, new, old)


@settings(max_examples=25, deadline=None)
@given(nested, nested, nested)
def test_update_defaults_as_dask(config, first, new):
    ours_c, ours_d = copy.deepcopy(config), [copy.deepcopy(first)]
    theirs_c, theirs_d = copy.deepcopy(config), [copy.deepcopy(first)]
    tc.update_defaults(new, config=ours_c, defaults=ours_d)
    try:
        dc.update_defaults(new, config=theirs_c, defaults=theirs_d)
    except (TypeError, AttributeError):
        # Dask fails where a default value became a section; taskloom takes it as
        # "no default there": every new section and value lands.
        assert all(tc.get(k, _MISSING, config=ours_c) is not _MISSING for k in new)
        return
    assert ours_c == theirs_c
    assert ours_d == theirs_d


@settings(max_examples=25, deadline=None)
@given(nested)
def test_serialize_roundtrip_and_as_dask(data):
    assert tc.serialize(data) == dc.serialize(data)
    assert tc.deserialize(tc.serialize(data)) == data


def test_expand_environment_variables(monkeypatch):
    monkeypatch.setenv("TL_TEST_X", "xx")
    data = {"a": ["$TL_TEST_X/1", ("${TL_TEST_X}",), 3], "b": {"c": "$NOPE_TL"}, "d": None}
    assert tc.expand_environment_variables(data) == dc.expand_environment_variables(data)
    assert tc.expand_environment_variables(data)["a"][0] == "xx/1"


def test_collect_reads_files_and_env_as_dask(tmp_path):
    (tmp_path / "a.yaml").write_text("x:\n  y: 1\n  z-w: [1, 2]\nq: hello\n")
    (tmp_path / "b.yml").write_text("x:\n  y: 2\n")
    (tmp_path / "c.json").write_text('{"j": {"k": true}}')
    (tmp_path / "ignored.txt").write_text("x: 100")
    env = {"X__Y": "3", "R__S": "[1, 'a']", "T": "none", "U": "plain text"}
    ours = tc.collect(paths=[str(tmp_path)], env={f"TASKLOOM_{k}": v for k, v in env.items()})
    theirs = dc.collect(paths=[str(tmp_path)], env={f"DASK_{k}": v for k, v in env.items()})
    assert ours == theirs
    assert ours["x"] == {"y": 3, "z-w": [1, 2]}
    assert ours["u"] == "plain text" and ours["t"] is None


def test_collect_malformed_file(tmp_path):
    (tmp_path / "bad.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="malformed"):
        tc.collect(paths=[str(tmp_path)], env={})


def test_refresh_global_config_from_env_and_files(tmp_path, monkeypatch):
    saved = copy.deepcopy(tc.config)
    (tmp_path / "s.yaml").write_text("delayed-pure: true\narray:\n  chunk-size: 64MiB\n")
    monkeypatch.setenv("TASKLOOM_CONFIG", str(tmp_path))
    monkeypatch.setenv("TASKLOOM_NUM_WORKERS", "2")
    try:
        tc.refresh(paths=[str(tmp_path)])
        assert tc.get("delayed_pure") is True
        assert tc.get("num-workers") == 2
        assert tc.get("array.chunk_size") == "64MiB"
        # Modules that read settings directly see file settings, however spelled.
        d = taskloom.delayed(lambda: object())
        assert d().key == d().key
        with tc.set({"array.chunk-size": "1MiB", "array.new": 1}):
            assert tc.get("array.chunk-size") == "1MiB"
            assert tc.get("array.new") == 1
        assert tc.config["array"] == {"chunk_size": "64MiB"}
    finally:
        tc.config.clear()
        tc.config.update(saved)


def test_set_nested_restores_and_removes_what_it_created():
    assert tc.get("tl_test", None) is None
    with tc.set(tl_test__a__b=1, other=None):
        assert tc.config["tl_test"] == {"a": {"b": 1}}
        assert tc.get("tl-test.a.b") == 1
        with tc.set({"tl_test.a.c": 2}):
            assert tc.get("tl_test.a") == {"b": 1, "c": 2}
        assert tc.get("tl_test.a") == {"b": 1}
    assert "tl_test" not in tc.config
    with pytest.raises(KeyError, match=r"tl_test\.a"):
        tc.get("tl_test.a")
    assert tc.get("x", 1, override_with=5) == 5


def test_set_on_another_dict_as_dask():
    ours, theirs = {"a-b": {"c": 1}}, {"a-b": {"c": 1}}
    with tc.set({"a_b.c": 2, "a_b.d.e": 3}, config=ours):
        with dc.set({"a_b.c": 2, "a_b.d.e": 3}, config=theirs):
            assert ours == theirs == {"a-b": {"c": 2, "d": {"e": 3}}}
    assert ours == theirs == {"a-b": {"c": 1}}


def test_update_defaults_keeps_user_settings():
    cfg, defaults = {}, []
    tc.update_defaults({"lib": {"x": 1, "y": 2}}, config=cfg, defaults=defaults)
    tc.set({"lib.x": 10}, config=cfg)
    tc.update_defaults({"lib": {"x": 5, "y": 6}}, config=cfg, defaults=defaults)
    assert cfg == {"lib": {"x": 10, "y": 6}}
    theirs = {"stale": 1}
    tc.refresh(cfg, defaults=defaults, paths=[], env={"TASKLOOM_LIB__Y": "7"})
    dc.refresh(theirs, defaults=defaults, paths=[], env={"DASK_LIB__Y": "7"})
    # Dask merges the defaults with the earliest winning: so does taskloom.
    assert cfg == theirs == {"lib": {"x": 1, "y": 7}}


def test_ensure_file_never_overwrites(tmp_path):
    src = tmp_path / "lib.yaml"
    src.write_text("# a comment\nlib:\n  x: 1\n\n")
    out = tmp_path / "out"
    tc.ensure_file(str(src), str(out), comment=False)
    assert (out / "lib.yaml").read_text() == src.read_text()
    src.write_text("lib:\n  x: 2\n")
    tc.ensure_file(str(src), str(out))
    assert (out / "lib.yaml").read_text() == "# a comment\nlib:\n  x: 1\n\n"
    tc.ensure_file(str(src), str(tmp_path / "c"))
    dc.ensure_file(str(src), str(tmp_path / "d"))
    assert (tmp_path / "c" / "lib.yaml").read_text() == (tmp_path / "d" / "lib.yaml").read_text()
    assert not [p for p in os.listdir(out) if ".tmp." in p]


def test_validation_still_applies():
    with pytest.raises(ValueError, match="num_workers"):
        tc.set({"num-workers": 0})
    assert tc.get("num_workers", None) is None


def _import_taskloom_with(env_extra, code):
    import subprocess
    import sys

    env = {**os.environ, **env_extra}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out


def test_settings_read_at_import(tmp_path):
    (tmp_path / "a.yaml").write_text("num-workers: 3\nlib:\n  x: file\n")
    out = _import_taskloom_with(
        {"TASKLOOM_CONFIG": str(tmp_path), "TASKLOOM_LIB__Y": "[1, 2]"},
        "import taskloom; c = taskloom.config; "
        "print(c.get('num_workers'), c.get('lib.x'), c.get('lib.y'))",
    )
    assert out.stdout.split() == ["3", "file", "[1,", "2]"]


def test_import_without_pyyaml_warns_and_keeps_env(tmp_path):
    (tmp_path / "a.yaml").write_text("lib:\n  x: file\n")
    out = _import_taskloom_with(
        {"TASKLOOM_CONFIG": str(tmp_path), "TASKLOOM_LIB__Y": "2"},
        "import sys; sys.modules['yaml'] = None\n"
        "import taskloom; print(taskloom.config.config.get('lib'))",
    )
    assert out.stdout.strip() == "{'y': 2}"
    assert "taskloom[yaml]" in out.stderr
