"""A sentence where a chart or a table cannot be: what the page could not show, and what it needs.

Pages never show an empty chart, an empty table or a stack trace on thin data. A view function that has nothing
to draw returns a :class:`Notice` instead (``show(frame, draw, empty=...)``), and the notebook displays it like
a chart: in JupyterLab, in the executed notebook and in the HTML report it reads as one short paragraph.

Examples
--------
>>> n = Notice("Forecasts need 28 days of history; this folder has 12.")
>>> str(n)
'Forecasts need 28 days of history; this folder has 12.'
>>> Notice("<b>team</b>")._repr_html_()
'<p class="finops-notice">&lt;b&gt;team&lt;/b&gt;</p>'
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["Findings", "Notice", "show", "stack", "when_empty"]


class Notice:
    """What a page could not show, as a sentence (data text escaped in HTML).

    Parameters
    ----------
    text
        One or two plain sentences: what is missing and what would be needed.
    """

    def __init__(self, text: str) -> None:
        self.text = str(text).strip()

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return bool(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Notice) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def _repr_html_(self) -> str:
        return f'<p class="finops-notice">{html.escape(self.text)}</p>'

    def to_dict(self) -> dict[str, str]:
        """Return ``{"notice": text}`` (what a chart's spec would be, for tests and ``results.json``)."""
        return {"notice": self.text}


class Findings(Notice):
    """The answer a page opens with: two to four sentences computed from the data."""

    def _repr_html_(self) -> str:
        return f'<p class="finops-findings">{html.escape(self.text)}</p>'


class _Stack:
    """Paragraphs and tables shown one under the other in one output."""

    def __init__(self, parts: tuple[Any, ...]) -> None:
        self.parts = parts

    def __repr__(self) -> str:
        return "\n\n".join(part.text if isinstance(part, Notice) else f"[table: {getattr(part, 'caption', '') or ''}]"
                             for part in self.parts)

    def _repr_html_(self) -> str:
        return "\n".join(part._repr_html_() if isinstance(part, Notice) else part.to_html() for part in self.parts)


def stack(*parts: Any) -> _Stack:
    """Return notices and styled tables (pandas ``Styler``) shown one under the other in a single output.

    Examples
    --------
    >>> print(stack(Findings("Two series."), Notice("No budget.")))
    Two series.
    <BLANKLINE>
    No budget.
    """
    return _Stack(parts)


def show(frame: pd.DataFrame | None, draw: Callable[[pd.DataFrame], Any], *, empty: str) -> Any:
    """Return ``draw(frame)``, or a :class:`Notice` saying ``empty`` when there is nothing to draw.

    Nothing to draw: no frame, no row, or every value column zero or missing is left to ``draw`` itself; this
    only guards the frame being absent or empty.

    Examples
    --------
    >>> show(pd.DataFrame(), len, empty="No budget in this folder.")
    No budget in this folder.
    >>> show(pd.DataFrame({"a": [1, 2]}), len, empty="-")
    2
    """
    if frame is None or frame.empty:
        return Notice(empty)
    return draw(frame)


def when_empty(message: str) -> Callable[[F], F]:
    """Decorate a ``plot_*`` or ``fmt_*`` function: with an empty first argument it returns ``Notice(message)``.

    No page draws an empty chart or an empty table: it says what is not there instead.

    Examples
    --------
    >>> @when_empty("No unit costs: no tokens in this window.")
    ... def plot_units(frame): return "chart"
    >>> plot_units(pd.DataFrame())
    No unit costs: no tokens in this window.
    """

    def wrap(function: F) -> F:
        @functools.wraps(function)
        def guarded(frame: Any, *args: Any, **kwargs: Any) -> Any:
            if frame is None or len(frame) == 0:
                return Notice(message)
            return function(frame, *args, **kwargs)

        return guarded  # type: ignore[return-value]

    return wrap
