"""The benchmark harness's command-line extras: the user's own schedulers and workloads,
and the comparison of a run with one saved earlier.

``--scheduler NAME=module:attr`` names any Dask-style ``get(dsk, keys)``;
``--scheduler NAME=tcp://host:port`` a ``distributed`` scheduler, whose
``Client(address).get`` runs the graphs (the client is made on first use, so a bad
address fails in the first case, not while parsing). ``--workload module:function``
names a ``function(size) -> (dsk, keys[, loop])``. Specs are checked when parsed, so a
typo is an argparse error naming the problem, not a traceback minutes into a run.

``--compare BASELINE.json`` matches rows by (workload, tasks, scheduler) and flags a
row as a regression only when it is slower than the baseline by more than the noise
either run measured (:func:`compare`), since this harness runs on shared machines.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import importlib.util
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: A row is flagged only when slower than its baseline by more than this, even when
#: both runs measured less spread: below it, a change is within what a quiet machine
#: drifts between runs (clock, cache, allocator) and is not worth a look.
REGRESSION_FLOOR = 0.05

_ADDRESS = re.compile(r"^[a-z][a-z0-9+]*://\S+$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@dataclass
class UserExtras:
    """What the command line added: columns (name -> ``get``) and workloads (name ->
    builder), in the order given."""

    schedulers: dict[str, Callable] = field(default_factory=dict)
    workloads: dict[str, Callable] = field(default_factory=dict)


def _attribute(spec: str, what: str) -> tuple[Any, str]:
    """Import ``module:attr`` and return the attribute (must be callable) and its name."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise argparse.ArgumentTypeError(f"{what} {spec!r} is not module:attr")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise argparse.ArgumentTypeError(
            f"{what} {spec!r}: cannot import {module_name!r} ({e})"
        ) from e
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as e:
            raise argparse.ArgumentTypeError(
                f"{what} {spec!r}: {module_name!r} has no attribute {attr!r}"
            ) from e
    if not callable(obj):
        raise argparse.ArgumentTypeError(
            f"{what} {spec!r}: {attr!r} is a {type(obj).__name__}, not callable"
        )
    return obj, attr


class ClusterGet:
    """``get(dsk, keys)`` on a running ``distributed`` scheduler, by its address.

    The client connects on the first call and is closed when the harness exits.

    Examples
    --------
    >>> get = ClusterGet("tcp://127.0.0.1:8786")
    >>> get.address
    'tcp://127.0.0.1:8786'
    """

    def __init__(self, address: str) -> None:
        self.address = address
        self._client: Any = None

    def __call__(self, dsk: dict, keys: Any) -> Any:
        if self._client is None:
            import distributed

            self._client = distributed.Client(self.address, set_as_default=False)
            atexit.register(self._client.close)
        return self._client.get(dsk, keys)


def scheduler_spec(text: str, reserved: Iterable[str]) -> tuple[str, Callable]:
    """Parse ``NAME=module:attr`` or ``NAME=scheme://host:port`` into a named get.

    Parameters
    ----------
    text : str
        The ``--scheduler`` argument.
    reserved : iterable of str
        The built-in columns' names, which a user column may not take.

    Returns
    -------
    (name, get)
        The column's name and its ``get(dsk, keys)``.

    Raises
    ------
    argparse.ArgumentTypeError
        Naming what is wrong with the spec.

    Examples
    --------
    >>> name, get = scheduler_spec("mine=taskloom.local:get_sync", ["loop"])
    >>> name, get({"x": 1, "y": (abs, "x")}, "y")
    ('mine', 1)
    """
    name, sep, target = text.partition("=")
    if not sep or not target:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=module:attr or NAME=tcp://...")
    if not _NAME.match(name):
        raise argparse.ArgumentTypeError(f"{text!r}: {name!r} is not a column name")
    if name in set(reserved):
        raise argparse.ArgumentTypeError(f"{text!r}: {name!r} is a built-in column")
    if _ADDRESS.match(target):
        if importlib.util.find_spec("distributed") is None:
            raise argparse.ArgumentTypeError(
                f"{text!r}: a scheduler address needs distributed: pip install distributed"
            )
        return name, ClusterGet(target)
    get, _ = _attribute(target, "scheduler")
    return name, get


def workload_spec(text: str) -> tuple[str, Callable]:
    """Parse ``module:function`` into the workload's builder and the spec itself.

    Examples
    --------
    >>> spec, build = workload_spec("taskloom.bench:chain")
    >>> spec, len(build(5)[0])
    ('taskloom.bench:chain', 5)
    """
    build, _ = _attribute(text, "workload")
    return text, build


def workload_names(specs: list[tuple[str, Callable]], taken: Iterable[str]) -> dict[str, Any]:
    """Table names for user workloads: the function's name where it is unique and not
    a built-in workload's, else the whole ``module:function`` spec.

    Examples
    --------
    >>> from taskloom.bench import chain, tree
    >>> list(workload_names([("a:ring", tree), ("b:chain", chain)], ["chain"]))
    ['tree', 'b:chain']
    """
    taken = set(taken)
    short = [getattr(build, "__name__", spec) for spec, build in specs]
    names: dict[str, Any] = {}
    for (spec, build), name in zip(specs, short, strict=True):
        unique = short.count(name) == 1 and name not in taken
        names[name if unique else spec] = build
    return names


def compare(
    rows: list[dict[str, Any]], baseline: list[dict[str, Any]], floor: float = REGRESSION_FLOOR
) -> tuple[str, int]:
    """Each row's change in us/task against the baseline run's row of the same
    (workload, tasks, scheduler).

    A row is a regression when slower by more than ``max(its spread, the baseline's
    spread, floor)``: a change within what either run saw between its own repeats is
    noise. Rows found in one run only are listed after the table.

    Returns
    -------
    (text, regressions)
        The comparison as printed, and how many rows regressed.

    Examples
    --------
    >>> now = [{"workload": "chain", "tasks": 10, "scheduler": "s", "us_per_task": 2.0,
    ...         "spread": 0.1}]
    >>> old = [{**now[0], "us_per_task": 1.0}]
    >>> text, regressions = compare(now, old)
    >>> regressions, text.splitlines()[2].split()[-2:]
    (1, ['+100%', 'REGRESSION'])
    """

    def key(r: dict[str, Any]) -> tuple[str, int, str]:
        return (r["workload"], r["tasks"], r["scheduler"])

    before = {key(r): r for r in baseline}
    wide = max([10, *(len(r["workload"]) for r in rows)])
    scheds = max([17, *(len(r["scheduler"]) for r in rows)])
    header = (
        f"{'workload':<{wide}} {'tasks':>9} {'scheduler':<{scheds}} {'us/task':>9} "
        f"{'baseline':>9} {'allowed':>8} {'change':>7}"
    )
    lines = [header, "-" * len(header)]
    regressions = 0
    for r in rows:
        old = before.get(key(r))
        if old is None:
            continue
        change = r["us_per_task"] / old["us_per_task"] - 1
        allowed = max(r.get("spread", 0.0), old.get("spread", 0.0), floor)
        flag = change > allowed
        regressions += flag
        lines.append(
            f"{r['workload']:<{wide}} {r['tasks']:>9} {r['scheduler']:<{scheds}} "
            f"{r['us_per_task']:>9.3f} {old['us_per_task']:>9.3f} {allowed:>8.0%} "
            f"{change:>+7.0%}" + (" REGRESSION" if flag else "")
        )
    now = dict.fromkeys(key(r) for r in rows)  # an ordered set: listed in run order
    for label, missing in [
        ("only in this run", [k for k in now if k not in before]),
        ("only in the baseline", [k for k in before if k not in now]),
    ]:
        if missing:
            lines.append(f"{label}: " + ", ".join(f"{w} {n} {s}" for w, n, s in missing))
    lines.append(f"{regressions} regression(s) beyond the runs' spread")
    return "\n".join(lines), regressions
