"""Pictures of task graphs with Graphviz, as ``dask.dot``.

Each key is a box (data); each task adds a circle (the function) with an edge into
its key, and edges from the keys it reads into the circle. Long hex tokens in key names
are shortened to ``#0``, ``#1``... so pictures stay readable. Rendering needs the
``graphviz`` Python package and Graphviz's ``dot`` program.

Examples
--------
>>> from operator import add
>>> g = to_graphviz({"x": 1, "y": (add, "x", 1)}, rankdir="LR")
>>> "rankdir=LR" in g.source and "label=add" in g.source
True
"""

from __future__ import annotations

import os
import re
from collections.abc import Hashable, Mapping
from typing import Any

from taskloom._dask_compat import as_graph
from taskloom.core import iskey, istask, literal
from taskloom.delayed import funcname

__all__ = ["dot_graph", "label", "to_graphviz"]

_TOKEN = re.compile(r"[0-9a-f]{16,}|[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}")
_FORMATS = ("png", "pdf", "dot", "svg", "jpeg", "jpg")


def label(key: Hashable, cache: dict[str, int] | None = None) -> str:
    """A key's name with long hex tokens replaced by ``#n``.

    Examples
    --------
    >>> label("inc-" + "ab" * 16, {})
    'inc-#0'
    """
    text = str(key)
    if cache is None:
        return text

    def short(m: re.Match) -> str:
        return f"#{cache.setdefault(m.group(0), len(cache))}"

    return _TOKEN.sub(short, text)


def dependencies(value: Any, dsk: Mapping) -> list[Hashable]:
    """The keys ``value`` reads, read the way the scheduler reads them."""
    found: list = []
    stack = [value]
    while stack:
        v = stack.pop()
        if istask(v):
            stack.extend(reversed(v[1:]))
        elif iskey(v, dsk):
            found.append(v)
        elif type(v) in (list, tuple, set, frozenset):
            stack.extend(v)
    return list(dict.fromkeys(found))


def to_graphviz(
    dsk: Mapping,
    rankdir: str = "BT",
    graph_attr: dict | None = None,
    node_attr: dict | None = None,
    edge_attr: dict | None = None,
    data_attributes: dict | None = None,
    function_attributes: dict | None = None,
    **kwargs: Any,
) -> Any:
    """A ``graphviz.Digraph`` of the task graph ``dsk``.

    Parameters
    ----------
    rankdir : {"BT", "TB", "LR", "RL"}
        Direction of the layout (default bottom to top, like Dask).
    graph_attr, node_attr, edge_attr : dict, optional
        Graphviz attributes for the graph, every node, every edge.
    data_attributes, function_attributes : dict, optional
        Per-key Graphviz attributes for the data and function nodes.
    **kwargs
        Further graph attributes (``size="10,10"``...).
    """
    try:
        import graphviz
    except ImportError as e:  # pragma: no cover - graphviz is a dependency
        raise ImportError("visualize needs the graphviz package: pip install graphviz") from e
    if rankdir not in ("BT", "TB", "LR", "RL"):
        raise ValueError(f"rankdir must be one of BT, TB, LR, RL, got {rankdir!r}")
    g = graphviz.Digraph(
        graph_attr={"rankdir": rankdir, **(graph_attr or {}), **kwargs},
        node_attr={"fontname": "helvetica", **(node_attr or {})},
        edge_attr=edge_attr or {},
    )
    # Dask's task objects become the tuple tasks taskloom runs, so their calls and
    # dependencies are drawn (fused tasks opened up).
    dsk = as_graph(dsk)
    data_attributes = data_attributes or {}
    function_attributes = function_attributes or {}
    cache: dict[str, int] = {}
    names: dict[Hashable, str] = {}

    def node_name(x: Hashable) -> str:
        if x not in names:
            names[x] = str(len(names))
        return names[x]

    for key, value in dsk.items():
        k = node_name(key)
        g.node(k, label=label(key, cache), shape="box", **data_attributes.get(key, {}))
        if istask(value) and type(value[0]) is not literal:  # a quoted value is data
            f = node_name((key, "function"))
            attrs = {"label": funcname(value[0]), "shape": "circle"}
            g.node(f, **{**attrs, **function_attributes.get(key, {})})
            g.edge(f, k)
            for dep in dependencies(value, dsk):
                g.edge(node_name(dep), f)
        else:
            for dep in dependencies(value, dsk):
                g.edge(node_name(dep), k)
    return g


def _display_class(fmt: str) -> Any:
    try:
        from IPython import display
    except ImportError:
        return None
    return display.SVG if fmt == "svg" else display.Image


def dot_graph(
    dsk: Mapping, filename: str | None = "mydask", format: str | None = None, **kwargs: Any
) -> Any:
    """Render ``dsk``; write ``filename`` (its extension picks the format) if given.

    Returns an IPython image (shown inline in Jupyter) when IPython is installed,
    else the ``graphviz.Digraph``.

    Raises
    ------
    RuntimeError
        If Graphviz's ``dot`` program is not installed (with how to install it).
    """
    g = to_graphviz(dsk, **kwargs)
    if format is None and filename is not None:
        base, ext = os.path.splitext(filename)
        if ext.lower().lstrip(".") in _FORMATS:
            filename, format = base, ext.lower().lstrip(".")
    format = format or "png"
    if format not in _FORMATS:
        raise ValueError(f"format must be one of {', '.join(_FORMATS)}, got {format!r}")
    import graphviz

    try:
        data = g.pipe(format=format)
    except graphviz.ExecutableNotFound as e:
        raise RuntimeError(
            "visualize needs Graphviz's `dot` program, which is not on PATH: install it "
            "with `apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` "
            "(macOS) or `conda install graphviz`"
        ) from e
    display = _display_class(format)
    if filename is None:
        return display(data=data) if display else g
    path = f"{filename}.{format}"
    with open(path, "wb") as f:
        f.write(data)
    return display(filename=path) if display and format != "pdf" else g
