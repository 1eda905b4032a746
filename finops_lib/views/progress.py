"""Progress in notebook cells that work for seconds: a bar while they work, nothing left once they are done.

A slow cell (reading the data, backtesting every model) shows an HTML ``<progress>`` bar with what it is doing,
how far it is and for how long it has worked. It is one display updated in place (``display_id``), so it needs no
widget state, draws in JupyterLab, VS Code and classic Notebook alike, and ends as an empty output: a saved
notebook, a papermill run and the shared HTML report hold nothing of it. Outside a notebook kernel (scripts,
commands, tests) it shows nothing.

Examples
--------
>>> with working("Reading the data") as work:  # outside a kernel: nothing shown, nothing fails
...     work.step("ingesting")
...     work.advance(3, 10)
>>> work.shown
False
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from contextlib import contextmanager

from IPython import get_ipython
from IPython.display import DisplayHandle, display

__all__ = ["Work", "working"]

#: Seconds between two redraws of a bar (a fit loop may finish hundreds of tasks a second).
INTERVAL = 0.25
#: What a finished bar leaves: an empty output.
NOTHING = {"text/html": "", "text/plain": ""}


def _in_kernel() -> bool:
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Work:
    """The bar of one slow cell: :meth:`step` names what it does, :meth:`advance` says how far it is."""

    def __init__(self, title: str, *, show: bool | None = None) -> None:
        self.title, self.label = title, ""
        self.done: int | None = None
        self.total: int | None = None
        self.started = time.perf_counter()
        self._drawn = 0.0
        self.shown = _in_kernel() if show is None else show
        self._handle: DisplayHandle | None = None
        if self.shown:
            self._handle = display(self._bundle(), raw=True, display_id=True)

    def _bundle(self) -> dict[str, str]:
        value = f' value="{self.done}" max="{self.total}"' if self.total else ""  # no value: an indeterminate bar
        count = f" {self.done:,} of {self.total:,}" if self.total else ""
        doing = f": {self.label}" if self.label else ""
        seconds = time.perf_counter() - self.started
        text = f"{self.title}{doing}{count} ({seconds:.0f} s)"
        return {"text/html": f'<div class="finops-progress"><progress{value} style="width:16em"></progress> '
                             f"{html.escape(text)}</div>", "text/plain": text}  # fmt: skip

    def _draw(self, *, force: bool = False) -> None:
        now = time.perf_counter()
        if self._handle is None or (not force and now - self._drawn < INTERVAL):
            return
        self._drawn = now
        self._handle.update(self._bundle(), raw=True)

    def step(self, label: str) -> None:
        """Say what the cell does now (the count restarts)."""
        self.label, self.done, self.total = label, None, None
        self._draw(force=True)

    def advance(self, done: int, total: int) -> None:
        """Say that ``done`` of ``total`` parts are finished."""
        self.done, self.total = done, total
        self._draw(force=done >= total)

    def __call__(self, done: int, total: int) -> None:
        """Advance the bar: a work is the ``progress`` callback of the library's loops (``(done, total)``)."""
        self.advance(done, total)

    def close(self) -> None:
        """Remove the bar: the output becomes empty."""
        if self._handle is not None:
            self._handle.update(NOTHING, raw=True)
            self._handle = None


@contextmanager
def working(title: str, *, show: bool | None = None) -> Iterator[Work]:
    """Show a progress bar while the block runs, and nothing once it ends (even on an error).

    Parameters
    ----------
    title
        What the cell does, in words (``"Backtesting every model"``).
    show
        Default: only inside a notebook kernel.
    """
    work = Work(title, show=show)
    try:
        yield work
    finally:
        work.close()

