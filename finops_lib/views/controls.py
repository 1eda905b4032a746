"""Shared wiring of the notebooks' ipywidgets controls: one lazy view, the same pickers everywhere.

Every control maps to a notebook parameter of the same name, and a view calls the same library functions as the
notebook's static cells, so a papermill run with those parameters shows what a person gets from the controls.
ipywidgets is imported here only (import the page's ``widgets`` module lazily).

Views draw only once a front end shows them (the output widget's ``_view_count`` becomes positive): charts written
into an ``Output`` widget during a headless run stall nbclient, hence papermill and the report, until the cell
times out (https://github.com/jupyter/nbclient/issues/312). So :func:`lazy_view` observes the controls itself
instead of using ``ipywidgets.interactive_output``, which draws at once.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

import ipywidgets
from IPython.display import HTML, display

__all__ = ["date_picker", "dropdown", "headline", "lazy_view", "parse_day"]


#: What the status beside the controls says while a redraw works (a change that needs new fits or queries).
BUSY = '<span class="finops-busy" style="color:#555">&#8987; Updating&hellip;</span>'


def parse_day(value: str | date | None) -> date | None:
    """Return an ISO day as a date, None for an empty text."""
    if isinstance(value, date):
        return value
    return date.fromisoformat(value) if value else None


def _layout(width: str, label: str) -> dict[str, Any]:
    return {"layout": ipywidgets.Layout(width=width), "style": {"description_width": label}}


def date_picker(description: str, value: date | None, *, width: str = "220px") -> ipywidgets.DatePicker:
    """Return a date picker."""
    return ipywidgets.DatePicker(description=description, value=value, **_layout(width, "70px"))


def dropdown(description: str, options: Sequence[object], value: object, *,
             width: str = "220px") -> ipywidgets.Dropdown:  # fmt: skip
    """Return a dropdown whose value is ``value`` when it is an option, else the first option."""
    choices = list(options)
    return ipywidgets.Dropdown(description=description, options=choices, value=value if value in choices else
                               (choices[0] if choices else None), **_layout(width, "80px"))  # fmt: skip


def headline(items: dict[str, str]) -> HTML:
    """Return the line a view leads with: the answer (``Spend: $1,234.56``), data text escaped."""
    text = " &middot; ".join(f"<b>{html.escape(k)}</b>: {html.escape(v)}" for k, v in items.items())
    return HTML(f'<p class="finops-headline">{text}</p>')


def lazy_view(controls: dict[str, ipywidgets.Widget], draw: Callable[[dict[str, Any]], Iterable[object]],
              ) -> ipywidgets.VBox:  # fmt: skip
    """Return the controls above an output that ``draw(values)`` fills, only once a front end shows it.

    Parameters
    ----------
    controls
        Parameter name -> control; their values are passed to ``draw`` by name.
    draw
        Returns what the view shows (charts, tables, :func:`headline`), in order.

    Returns
    -------
    ipywidgets.VBox
        ``children[0]`` the row of controls (then ``status``, which says "Updating..." while a redraw works),
        ``children[1]`` the output; ``drawn`` lists what the output shows. Every change of a control redraws.
    """
    output = ipywidgets.Output()
    output._view_count = 0  # the front end counts its views of the output: draw only when someone looks
    status = ipywidgets.HTML("", layout=ipywidgets.Layout(min_width="120px"))
    box = ipywidgets.VBox([ipywidgets.HBox([*controls.values(), status]), output])
    box.drawn = []  # what the view shows now, in order (read by tests and by callers embedding the view)
    box.status = status  # says "Updating..." while a redraw works (a layout of its own keeps it)

    def redraw(change: dict | None = None) -> None:
        if not output._view_count or (change and change["name"] == "_view_count" and change["old"]):
            return
        status.value = BUSY
        try:
            box.drawn = list(draw({name: control.value for name, control in controls.items()}))
        finally:
            status.value = ""
        output.clear_output(wait=True)
        with output:
            for item in box.drawn:
                display(item)

    for control in controls.values():
        control.observe(redraw, names="value")
    output.observe(redraw, names="_view_count")
    return box
