"""Bokeh plots of profiler results, as ``dask.diagnostics.profile_visualize``.

:func:`visualize` draws one figure per profiler, stacked in one Bokeh layout sharing
the time axis: tasks as bars per worker (:class:`~taskloom.diagnostics.Profiler`),
CPU and memory over time (:class:`~taskloom.diagnostics.ResourceProfiler`), and the
total size of held results over time (:class:`~taskloom.diagnostics.CacheProfiler`).
Bokeh is optional: ``pip install 'taskloom[bokeh]'``; it is imported only here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["plot_cache", "plot_resources", "plot_tasks", "visualize"]

_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


def _bokeh_plotting() -> Any:
    try:
        import bokeh.plotting
    except ImportError as e:
        raise ImportError(
            "drawing profiler results needs Bokeh; install it with pip install 'taskloom[bokeh]'"
        ) from e
    return bokeh.plotting


def _figure(title: str, **kwargs: Any) -> Any:
    bp = _bokeh_plotting()
    defaults = {
        "title": title,
        "width": 800,
        "height": 300,
        "tools": "hover,save,reset,xwheel_zoom,xpan",
        "x_axis_label": "Time (s)",
    }
    defaults.update(kwargs)
    return bp.figure(**defaults)


def plot_tasks(results: Sequence, dsk: dict, **kwargs: Any) -> Any:
    """A figure of :class:`~taskloom.diagnostics.TaskData`: one bar per task, on its
    worker's row, coloured by function.

    Parameters
    ----------
    results : list of TaskData
        A Profiler's ``results``.
    dsk : dict
        The graph (unused beyond the tasks the results carry; kept for Dask's signature).
    **kwargs
        Passed to ``bokeh.plotting.figure``.
    """
    from taskloom.diagnostics.profile import _function_name

    p = _figure("Profile Results", y_axis_label="Worker ID", **kwargs)
    if not results:
        return p
    origin = min(r.start_time for r in results)
    names = sorted({_function_name(r.task) for r in results})
    colour = {n: _PALETTE[i % len(_PALETTE)] for i, n in enumerate(names)}
    data = {
        "left": [r.start_time - origin for r in results],
        "right": [r.end_time - origin for r in results],
        "worker": [r.worker_id for r in results],
        "key": [str(r.key) for r in results],
        "function": [_function_name(r.task) for r in results],
        "color": [colour[_function_name(r.task)] for r in results],
    }
    p.hbar(y="worker", left="left", right="right", height=0.8, color="color", source=data)
    p.hover.tooltips = [("Key", "@key"), ("Function", "@function")]
    return p


def plot_resources(
    results: Sequence, start_time: float | None, end_time: float | None, **kwargs: Any
) -> Any:
    """A figure of :class:`~taskloom.diagnostics.ResourceData`: CPU (%) on the left
    axis and memory (MB) on the right, over time since ``start_time``.

    Parameters
    ----------
    results : list of ResourceData
        A ResourceProfiler's ``results``.
    start_time, end_time : float or None
        The profiled span (default: the first and last sample).
    **kwargs
        Passed to ``bokeh.plotting.figure``.
    """
    from bokeh.models import LinearAxis, Range1d

    p = _figure("Profile Results", y_axis_label="% CPU", **kwargs)
    if not results:
        return p
    origin = start_time if start_time is not None else results[0].time
    t = [r.time - origin for r in results]
    cpu = [r.cpu for r in results]
    mem = [r.mem for r in results]
    p.line(t, cpu, color=_PALETTE[0], line_width=2, legend_label="% CPU")
    p.y_range = Range1d(0, max(max(cpu), 100) * 1.05)
    p.extra_y_ranges = {"memory": Range1d(0, max(mem) * 1.05 or 1)}
    p.line(t, mem, color=_PALETTE[1], y_range_name="memory", line_width=2, legend_label="Memory")
    p.add_layout(LinearAxis(y_range_name="memory", axis_label="Memory (MB)"), "right")
    if end_time is not None:
        p.x_range.end = max(end_time - origin, t[-1])
    return p


def plot_cache(
    results: Sequence,
    dsk: dict,
    start_time: float | None,
    end_time: float | None,
    metric_name: str,
    **kwargs: Any,
) -> Any:
    """A figure of :class:`~taskloom.diagnostics.CacheData`: the total metric of the
    results held, over time, as a step line.

    Parameters
    ----------
    results : list of CacheData
        A CacheProfiler's ``results``.
    dsk : dict
        The graph (kept for Dask's signature).
    start_time, end_time : float or None
        The profiled span.
    metric_name : str
        The y axis's label.
    **kwargs
        Passed to ``bokeh.plotting.figure``.
    """
    p = _figure("Profile Results", y_axis_label=f"Cache Size ({metric_name})", **kwargs)
    if not results:
        return p
    origin = start_time if start_time is not None else min(r.cache_time for r in results)
    events = sorted(
        [(r.cache_time, r.metric) for r in results] + [(r.free_time, -r.metric) for r in results],
        key=lambda e: e[0],
    )
    t, total, size = [0.0], [0], 0
    for when, delta in events:
        size += delta
        t.append(when - origin)
        total.append(size)
    p.step(t, total, mode="after", line_width=2, color=_PALETTE[0])
    return p


def visualize(
    profilers: Any,
    filename: str = "profile.html",
    show: bool = True,
    save: bool | None = None,
    mode: str | None = None,
    **kwargs: Any,
) -> Any:
    """Draw profilers' results as one Bokeh layout, one figure per profiler.

    Parameters
    ----------
    profilers : profiler or list of profilers
        :class:`~taskloom.diagnostics.Profiler`, ``ResourceProfiler`` or
        ``CacheProfiler`` objects (anything with a ``_plot`` method).
    filename : str
        The HTML file to save to.
    show : bool
        Open the plot (in a browser, or inline in a notebook).
    save : bool, optional
        Write ``filename``; default: unless running in a notebook.
    mode : str, optional
        How the HTML gets BokehJS (``"cdn"``, ``"inline"``; see
        ``bokeh.plotting.output_file``).
    **kwargs
        Passed to each figure.

    Returns
    -------
    The Bokeh figure, or a grid of figures for several profilers.

    Examples
    --------
    >>> import taskloom
    >>> from taskloom.diagnostics import Profiler, visualize
    >>> with Profiler() as prof:
    ...     taskloom.get({"a": (abs, -1)}, "a")
    1
    >>> fig = visualize(prof, show=False, save=False)  # doctest: +SKIP
    """
    bp = _bokeh_plotting()
    from bokeh.io import state

    if save is None:
        save = not state.curstate().notebook
    if not isinstance(profilers, list):
        profilers = [profilers]
    figs = [prof._plot(**kwargs) for prof in profilers]
    if len(figs) == 1:
        p = figs[0]
    else:
        # One time axis for all, so that a task lines up with the memory it used.
        top = figs[0]
        for f in figs[1:]:
            f.x_range = top.x_range
            f.title = None
            f.min_border_top = 20
            f.height -= 30
        for f in figs[:-1]:
            f.xaxis.axis_label = None
            f.min_border_bottom = 20
            f.height -= 30
        for f in figs:
            f.min_border_left = 75
            f.min_border_right = 75
        p = bp.gridplot([[f] for f in figs])
    if show:
        bp.show(p)
    if save:
        bp.output_file(filename, mode=mode)
        bp.save(p)
    return p
