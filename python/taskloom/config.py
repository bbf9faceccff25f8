"""Process-wide configuration, as in ``dask.config``.

One global, nested dict of settings. :class:`set` changes settings globally, or for the
length of a ``with`` block (restoring the previous values on exit); :func:`get` reads
them. Dotted keys reach into nested settings (``"array.chunk-size"``). Names are
normalised so that ``num_workers`` and ``num-workers`` are the same setting (stored
with underscores).

As in ``dask.config``, the settings start from YAML (or JSON) files and environment
variables, read at import and again by :func:`refresh`: every ``*.yaml``, ``*.yml``
and ``*.json`` file in ``/etc/taskloom`` (or ``$TASKLOOM_ROOT_CONFIG``),
``{sys.prefix}/etc/taskloom``, ``~/.config/taskloom`` and ``$TASKLOOM_CONFIG``, later
ones taking precedence, then variables ``TASKLOOM_A__B_C=value`` (``a.b_c``, the value
read as a Python literal if it is one). Reading YAML needs PyYAML
(``pip install 'taskloom[yaml]'``). Libraries register their defaults with
:func:`update_defaults`. :func:`update`, :func:`merge`, :func:`collect`,
:func:`expand_environment_variables`, :func:`serialize` and :func:`deserialize` work
on any nested dicts exactly as Dask's do.
A module that manages a setting's value over time may register a restore hook for it
(``_restore_hooks``): when a ``with`` block ends, the hook decides what the value it
restores becomes (:mod:`taskloom.distributed` uses this so that a block never brings
back a client that closed meanwhile).

Settings taskloom reads
-----------------------
scheduler
    Default scheduler for ``compute``/``persist``: a name (``"sync"``, ``"threads"``,
    ...) or a ``get`` function. Unset: each collection's default (threads).
num_workers
    Default ``num_workers`` for the threaded scheduler. Unset: the number of CPUs.
delayed_pure
    Default for ``delayed(..., pure=)``. Unset: False.

Examples
--------
>>> import taskloom
>>> with taskloom.config.set(scheduler="sync"):
...     taskloom.config.get("scheduler")
'sync'
>>> taskloom.config.get("scheduler", None) is None
True
"""

from __future__ import annotations

import ast
import base64
import builtins
import itertools
import json
import os
import site
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

__all__ = [
    "collect",
    "config",
    "defaults",
    "deserialize",
    "ensure_file",
    "expand_environment_variables",
    "get",
    "merge",
    "refresh",
    "serialize",
    "set",
    "update",
    "update_defaults",
]

config: dict[str, Any] = {}
defaults: list[Mapping] = []
_lock = threading.Lock()
_MISSING = object()

# Every ``set`` gets the next number, so that a hook can tell what happened while a
# block was open (anything numbered after it) from what was there before.
_sequence = itertools.count()

# ``hook(restored, seq)`` is called (without the lock held) when the ``set`` numbered
# ``seq`` ends as a ``with`` block: ``restored`` is the value it is about to bring back
# (None: unset); the hook returns the value to restore instead (None: unset).
_restore_hooks: dict[str, Callable[[Any, int], Any]] = {}


def _canonical(key: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"configuration keys are strings, got {key!r}")
    return key.replace("-", "_")


def canonical_name(k: str, config: Mapping) -> str:
    """``k`` as spelled in ``config``: with ``-`` and ``_`` swapped if only that form
    is there (Dask's rule)."""
    try:
        if k in config:
            return k
    except TypeError:  # not a mapping
        return k
    altk = k.replace("_", "-") if "_" in k else k.replace("-", "_")
    return altk if altk in config else k


def _normalized(data: Any) -> Any:
    """``data`` with its keys spelled as the global config stores them (underscores),
    so that modules reading a setting directly find values from files too."""
    if isinstance(data, Mapping):
        return {_canonical(k) if isinstance(k, str) else k: _normalized(v) for k, v in data.items()}
    return data


def get(
    key: str, default: Any = _MISSING, config: dict | None = None, override_with: Any = None
) -> Any:
    """The value of setting ``key`` (dots reach into nested settings), or ``default``.

    Parameters
    ----------
    key : str
        The setting, e.g. ``"scheduler"`` or ``"array.chunk-size"``.
    default : optional
        Returned if ``key`` is not set.
    config : dict, optional
        The settings to read (default: the global ones).
    override_with : optional
        Returned instead, if not None (for functions whose argument overrides a setting).

    Raises
    ------
    KeyError
        If ``key`` is not set and no default is given.

    Examples
    --------
    >>> import taskloom
    >>> taskloom.config.get("no-such-setting", 42)
    42
    >>> taskloom.config.get("a.b", config={"a": {"b": 1}})
    1
    """
    if override_with is not None:
        return override_with
    if not isinstance(key, str):
        raise TypeError(f"configuration keys are strings, got {key!r}")
    result: Any = globals()["config"] if config is None else config
    for k in key.split("."):
        try:
            result = result[canonical_name(k, result)]
        except (TypeError, IndexError, KeyError):
            if default is _MISSING:
                raise KeyError(f"configuration setting {key!r} is not set") from None
            return default
    return result


def _validate(path: tuple[str, ...], value: Any) -> None:
    """Check the settings taskloom reads when they are set, not at compute."""
    if len(path) != 1 or value is None:
        return
    if path[0] == "scheduler":
        from taskloom.base import get_scheduler

        get_scheduler(value)
    elif path[0] == "num_workers":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"num_workers must be a positive integer, got {value!r}")


class set:
    """Change settings globally, or temporarily as a context manager.

    Parameters
    ----------
    arg : dict, optional
        Settings to change, by name; dotted names reach into nested settings.
    config : dict, optional
        The settings to change (default: the global ones).
    lock : threading.Lock, optional
        Held while changing them.
    **kwargs
        More settings; ``__`` in a name stands for a dot. ``None`` unsets a setting.

    Examples
    --------
    >>> import taskloom
    >>> with taskloom.config.set(num_workers=2, array__chunk_size="64MiB"):
    ...     taskloom.config.get("num_workers"), taskloom.config.get("array.chunk-size")
    (2, '64MiB')
    >>> taskloom.config.get("array.chunk-size", None) is None
    True
    """

    def __init__(
        self,
        arg: Mapping[str, Any] | None = None,
        config: dict | None = None,
        lock: threading.Lock = _lock,
        **kwargs: Any,
    ) -> None:
        self._global = config is None
        self.config = globals()["config"] if config is None else config
        updates: list[tuple[tuple[str, ...], Any]] = []
        for key, value in [
            *(arg or {}).items(),
            *((k.replace("__", "."), v) for k, v in kwargs.items()),
        ]:
            if not isinstance(key, str):
                raise TypeError(f"configuration keys are strings, got {key!r}")
            path = tuple(key.split("."))
            if self._global:
                # Stored with underscores, so that modules reading a setting directly
                # find it however it was spelled.
                path = tuple(_canonical(k) for k in path)
                _validate(path, value)
            updates.append((path, value))
        self._lock = lock
        with lock:
            self._seq = next(_sequence)
            # (path, value before) per change, the path cut at the first level that
            # was missing: undoing the change removes all it created.
            self._previous: list[tuple[tuple[str, ...], Any]] = []
            for path, value in updates:
                self._assign(path, value)

    def _assign(self, path: tuple[str, ...], value: Any) -> None:
        d = self.config
        spelled: tuple[str, ...] = ()
        recorded = False
        for i, k in enumerate(path):
            k = canonical_name(k, d)
            spelled += (k,)
            last = i == len(path) - 1
            if not last and not isinstance(d.get(k), dict):
                if value is None:
                    return  # unsetting something that is not there
                if not recorded:
                    self._previous.append((spelled, d.get(k, _MISSING)))
                    recorded = True
                d[k] = {}
            elif last:
                if not recorded:
                    self._previous.append((spelled, d.get(k, _MISSING)))
                if value is None:
                    d.pop(k, None)
                else:
                    d[k] = value
                return
            d = d[k]

    def __enter__(self) -> set:
        return self

    def __exit__(self, *exc: object) -> None:
        previous = list(self._previous)
        if self._global:
            for i, (path, v) in enumerate(previous):
                hook = _restore_hooks.get(path[0]) if len(path) == 1 else None
                if hook is not None:
                    settled = hook(None if v is _MISSING else v, self._seq)
                    previous[i] = (path, _MISSING if settled is None else settled)
        with self._lock:
            for path, v in reversed(previous):
                d = self.config
                for k in path[:-1]:
                    d = d.setdefault(k, {})
                if v is _MISSING:
                    d.pop(path[-1], None)
                else:
                    d[path[-1]] = v


def update(
    old: dict,
    new: Mapping,
    priority: Literal["old", "new", "new-defaults"] = "new",
    defaults: Mapping | None = None,
) -> dict:
    """Update nested dict ``old`` with ``new`` in place, and return it.

    Parameters
    ----------
    old, new : dict
        Nested settings; keys match with ``-`` and ``_`` taken as equal.
    priority : {"new", "old", "new-defaults"}
        Which side wins where both have a value: ``"new-defaults"`` lets ``new`` win
        only where ``old`` still holds the value of ``defaults``.
    defaults : dict, optional
        The defaults ``old`` started from (for ``"new-defaults"``).

    Examples
    --------
    >>> update({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}})
    {'a': {'b': 3, 'c': 2}}
    >>> update({"a": 1}, {"a": 2, "b": 3}, priority="old")
    {'a': 1, 'b': 3}
    """
    if priority not in ("old", "new", "new-defaults"):
        raise ValueError(f"priority must be 'old', 'new' or 'new-defaults', got {priority!r}")
    for k, v in new.items():
        k = canonical_name(k, old)
        if isinstance(v, Mapping):
            if k not in old or old[k] is None or not isinstance(old[k], dict):
                old[k] = {}
            # A default that was a value where a section now is: no default under it
            # (Dask fails there, calling .get on the value).
            sub = defaults.get(k) if isinstance(defaults, Mapping) else None
            update(old[k], v, priority=priority, defaults=sub)
        elif (
            priority == "new"
            or k not in old
            or (
                priority == "new-defaults"
                and isinstance(defaults, Mapping)
                and k in defaults
                and defaults[k] == old[k]
            )
        ):
            old[k] = v
    return old


def merge(*dicts: Mapping) -> dict:
    """A new nested dict of ``dicts`` merged, later ones winning.

    Examples
    --------
    >>> merge({"a": {"b": 1}}, {"a": {"c": 2}}, {"a": {"b": 3}})
    {'a': {'b': 3, 'c': 2}}
    """
    result: dict = {}
    for d in dicts:
        update(result, d)
    return result


def expand_environment_variables(config: Any) -> Any:
    """``config`` with ``$VAR`` and ``${VAR}`` in its strings replaced, recursively.

    Examples
    --------
    >>> import os
    >>> os.environ["TASKLOOM_DOC_DIR"] = "/data"
    >>> expand_environment_variables({"a": ["$TASKLOOM_DOC_DIR/x", 1]})
    {'a': ['/data/x', 1]}
    """
    if isinstance(config, Mapping):
        return {k: expand_environment_variables(v) for k, v in config.items()}
    if isinstance(config, str):
        return os.path.expandvars(config)
    if isinstance(config, (list, tuple, builtins.set)):
        return type(config)(expand_environment_variables(v) for v in config)
    return config


def serialize(data: Any) -> str:
    """``data`` (JSON-able) as a URL-safe base64 string, to pass settings on through
    an environment variable (``TASKLOOM_INTERNAL_INHERIT_CONFIG``).

    Examples
    --------
    >>> deserialize(serialize({"a": [1, "x"]}))
    {'a': [1, 'x']}
    """
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def deserialize(data: str) -> Any:
    """The inverse of :func:`serialize`.

    Examples
    --------
    >>> deserialize(serialize(None)) is None
    True
    """
    return json.loads(base64.urlsafe_b64decode(data.encode()).decode())


def _get_paths() -> list[str]:
    """The directories read for settings, lowest precedence first."""
    paths = [
        os.getenv("TASKLOOM_ROOT_CONFIG", "/etc/taskloom"),
        os.path.join(sys.prefix, "etc", "taskloom"),
        *[os.path.join(prefix, "etc", "taskloom") for prefix in site.PREFIXES],
        os.path.join(os.path.expanduser("~"), ".config", "taskloom"),
    ]
    if "TASKLOOM_CONFIG" in os.environ:
        paths.append(os.environ["TASKLOOM_CONFIG"])
    # Keep each path's last occurrence, so that a repeated path takes its highest rank.
    return list(reversed(list(dict.fromkeys(reversed(paths)))))


paths = _get_paths()
# Where ensure_file puts files by default.
PATH = os.environ.get(
    "TASKLOOM_CONFIG", os.path.join(os.path.expanduser("~"), ".config", "taskloom")
)


def _load_config_file(path: str) -> dict | None:
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None  # unreadable files are skipped, as Dask skips them
    try:
        if path.lower().endswith(".json"):
            data = json.loads(text)
        else:
            try:
                import yaml
            except ImportError as e:
                raise ImportError(
                    f"reading the configuration file {path!r} needs PyYAML; install it "
                    "with pip install 'taskloom[yaml]'"
                ) from e
            data = yaml.safe_load(text)
    except ImportError:
        raise
    except Exception as exc:
        raise ValueError(
            f"A taskloom config file at {path!r} is malformed, original error message:\n\n{exc}"
        ) from None
    if data is not None and not isinstance(data, dict):
        raise ValueError(
            f"A taskloom config file at {path!r} is malformed - config files must have "
            f"a dict as the top level object, got a {type(data).__name__} instead"
        )
    return data


def _collect_yaml(paths: Sequence[str]) -> Iterator[dict]:
    file_paths = []
    for path in paths:
        if os.path.isdir(path):
            try:
                file_paths.extend(
                    sorted(
                        os.path.join(path, p)
                        for p in os.listdir(path)
                        if os.path.splitext(p)[1].lower() in (".json", ".yaml", ".yml")
                    )
                )
            except OSError:
                pass
        elif os.path.exists(path):
            file_paths.append(path)
    for path in file_paths:
        data = _load_config_file(path)
        if data is not None:
            yield data


def _interpret_value(value: str) -> Any:
    try:
        return ast.literal_eval(value)
    except (SyntaxError, ValueError):
        pass
    # YAML's spellings too, so that a variable means what it would in a file.
    return {"none": None, "null": None, "false": False, "true": True}.get(value.lower(), value)


def _collect_env(env: Mapping[str, str]) -> dict:
    if "TASKLOOM_INTERNAL_INHERIT_CONFIG" in env:
        d = deserialize(env["TASKLOOM_INTERNAL_INHERIT_CONFIG"])
    else:
        d = {}
    for name, value in env.items():
        if name.startswith("TASKLOOM_") and name not in _NOT_SETTINGS:
            d[name[9:].lower().replace("__", ".")] = _interpret_value(value)
    result: dict = {}
    for key, value in d.items():
        node = result
        *parents, leaf = key.split(".")
        for k in parents:
            k = canonical_name(k, node)
            if not isinstance(node.get(k), dict):
                node[k] = {}
            node = node[k]
        node[canonical_name(leaf, node)] = value
    return result


# Variables that choose where settings come from, not settings themselves.
_NOT_SETTINGS = frozenset(
    {"TASKLOOM_CONFIG", "TASKLOOM_ROOT_CONFIG", "TASKLOOM_INTERNAL_INHERIT_CONFIG"}
)


def collect(paths: list[str] = paths, env: Mapping[str, str] | None = None) -> dict:
    """The settings in the files under ``paths`` and the ``TASKLOOM_*`` variables of
    ``env``, merged (variables win over files, later files over earlier ones).

    Parameters
    ----------
    paths : list of str
        Files, or directories whose ``*.yaml``, ``*.yml`` and ``*.json`` files are read.
    env : dict, optional
        The environment (default: ``os.environ``).

    Examples
    --------
    >>> collect(paths=[], env={"TASKLOOM_ARRAY__CHUNK_SIZE": "'64MiB'", "TASKLOOM_X": "1"})
    {'array': {'chunk_size': '64MiB'}, 'x': 1}
    """
    if env is None:
        env = os.environ
    configs = [*_collect_yaml(paths), _collect_env(env)]
    result: dict[str, Any] = {}
    for data in configs[::-1]:
        update(result, data, priority="old")
    return result


def refresh(
    config: dict | None = None,
    defaults: list[Mapping] = defaults,
    paths: list[str] = paths,
    env: Mapping[str, str] | None = None,
) -> None:
    """Reset ``config`` (default: the global settings) to ``defaults`` updated with
    :func:`collect`'s settings, dropping everything set since.

    Examples
    --------
    >>> d = {"stale": 1}
    >>> refresh(d, defaults=[{"a": 1}], paths=[], env={"TASKLOOM_B": "2"})
    >>> d
    {'a': 1, 'b': 2}
    """
    is_global = config is None
    if config is None:
        config = globals()["config"]
    collected = collect(paths=paths, env=env)
    config.clear()
    for d in defaults:
        update(config, _normalized(d) if is_global else d, priority="old")
    update(config, _normalized(collected) if is_global else collected)


def ensure_file(source: str, destination: str | None = None, comment: bool = True) -> None:
    """Copy the settings file ``source`` into ``destination`` unless one is there.

    Parameters
    ----------
    source : str
        The file to copy, e.g. a library's own defaults.
    destination : str, optional
        A file, or the directory to copy into (default: ``$TASKLOOM_CONFIG`` or
        ``~/.config/taskloom``). An existing file is never overwritten.
    comment : bool
        Comment out every line, so that the copy documents the defaults without
        pinning them.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with open(os.path.join(d, "lib.yaml"), "w") as f:
    ...     _ = f.write("lib:\\n  x: 1\\n")
    >>> ensure_file(os.path.join(d, "lib.yaml"), os.path.join(d, "out"))
    >>> print(open(os.path.join(d, "out", "lib.yaml")).read(), end="")
    # lib:
    #   x: 1
    """
    if destination is None:
        destination = PATH
    if os.path.isfile(destination):
        return
    directory = destination
    destination = os.path.join(directory, os.path.basename(source))
    try:
        if not os.path.exists(destination):
            os.makedirs(directory, exist_ok=True)
            # Written under another name, then renamed: a process reading the directory
            # meanwhile never sees a half-written file.
            tmp = f"{destination}.tmp.{os.getpid()}"
            with open(source) as f:
                lines = list(f)
            if comment:
                lines = [
                    f"# {line}" if line.strip() and not line.startswith("#") else line
                    for line in lines
                ]
            with open(tmp, "w") as f:
                f.write("".join(lines))
            try:
                os.rename(tmp, destination)
            except OSError:
                os.remove(tmp)
    except OSError:
        pass  # a read-only home: the defaults still apply, unwritten


def update_defaults(
    new: Mapping, config: dict | None = None, defaults: list[Mapping] = defaults
) -> None:
    """Add ``new`` to the defaults, and to ``config`` (default: the global settings)
    wherever it still holds a default value (what the user set is kept).

    Examples
    --------
    >>> d, dd = {"a": 1, "b": 5}, [{"a": 1, "b": 2}]
    >>> update_defaults({"a": 10, "b": 20, "c": 30}, config=d, defaults=dd)
    >>> d
    {'a': 10, 'b': 5, 'c': 30}
    """
    is_global = config is None
    if config is None:
        config = globals()["config"]
    if is_global:
        new = _normalized(new)
    current_defaults = merge(*defaults)
    if is_global:
        current_defaults = _normalized(current_defaults)
    defaults.append(new)
    update(config, new, priority="new-defaults", defaults=current_defaults)


def _initialize() -> None:
    try:
        refresh()
    except ImportError as e:
        # YAML files but no PyYAML: importing taskloom must still work; say what is
        # missing and start from the environment variables alone.
        import warnings

        warnings.warn(f"{e}; taskloom's settings files were not read", stacklevel=3)
        refresh(paths=[])


_initialize()
