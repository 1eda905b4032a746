"""Slow notebook cells show how far they are, then leave nothing in the saved notebook or the shared report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from finops_lib.forecast import backtest as bt
from finops_lib.report import CATALOG
from finops_lib.views import progress
from finops_lib.views.progress import working


def test_a_slow_cell_shows_each_step_and_count_then_an_empty_output(monkeypatch: pytest.MonkeyPatch) -> None:
    InteractiveShell.instance()
    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    with capture_output() as shown, working("Backtesting <team>", show=True) as work:
        work.step("fits")
        for done in range(1, 4):
            work(done, 3)
    texts = [o.data["text/plain"] for o in shown.outputs]
    assert [t.rsplit(" (", 1)[0] for t in texts[:-1]] == [
        "Backtesting <team>", "Backtesting <team>: fits", "Backtesting <team>: fits 1 of 3",
        "Backtesting <team>: fits 2 of 3", "Backtesting <team>: fits 3 of 3"]  # fmt: skip
    html = [o.data["text/html"] for o in shown.outputs]
    assert "<progress style" in html[0]  # no value yet: the browser animates an indeterminate bar
    assert '<progress value="2" max="3"' in html[3] and "Backtesting &lt;team&gt;" in html[3]  # data text escaped
    assert shown.outputs[-1].data == progress.NOTHING  # the last update empties the output
    assert [o.update for o in shown.outputs] == [False] + [True] * 5  # one output, updated in place


def test_the_bar_is_removed_when_the_cell_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    InteractiveShell.instance()
    with capture_output() as shown, pytest.raises(ValueError), working("Reading", show=True):
        raise ValueError("bad file")
    assert shown.outputs[-1].data == progress.NOTHING


def test_outside_a_kernel_nothing_is_shown() -> None:
    with capture_output() as shown, working("Reading") as work:
        work.step("ingesting")
        work(1, 2)
    assert work.shown is False and shown.outputs == [] and shown.stdout == ""


@pytest.mark.parametrize("workers", [1, 2])
def test_model_fits_say_how_far_they_are(workers: int) -> None:
    days = pd.date_range("2026-01-01", periods=200, freq="D")
    rng = np.random.default_rng(3)
    series = {name: pd.Series(100 + rng.normal(0, 5, len(days)), index=days) for name in ("a", "b", "c")}
    told: list[tuple[int, int]] = []
    bt.backtest(series, horizon=14, models=("drift", "seasonal_naive"), n_origins=2, workers=workers,
                progress=lambda done, total: told.append((done, total)))  # fmt: skip
    total = 3 * 2 * 2  # series x models x origins
    assert told == [(done, total) for done in range(1, total + 1)]


@pytest.mark.slow
def test_the_report_keeps_no_progress_bar(sample_report: Path) -> None:
    """Every page's slow cells ran with a bar (the notebooks say ``working``); none is left in what is shared."""
    notebooks = sorted((sample_report / "notebooks").glob("*.ipynb"))
    assert len(notebooks) == len(CATALOG)
    used = 0
    for path in notebooks:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] != "code" or "working(" not in "".join(cell["source"]):
                continue
            used += 1
            first = cell["outputs"][0]  # the bar's display, emptied in place
            assert first["output_type"] == "display_data" and first["data"].get("text/html", "") in ("", []), path
            assert "finops-progress" not in json.dumps(cell["outputs"]), path
    assert used >= 7  # every page's load cell, and the forecast's fits
    for page in sample_report.glob("*.html"):
        assert "<progress" not in page.read_text(encoding="utf-8"), page


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


@pytest.mark.slow
def test_every_results_file_is_strict_json(sample_report: Path) -> None:
    """A budget without a breach day was written as NaN, which strict JSON readers (jq, browsers) refuse."""
    files = sorted(sample_report.glob("*/results.json"))
    assert len(files) == len(CATALOG)
    for path in files:
        json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    risk = json.loads((sample_report / "30_spend_forecast" / "results.json").read_text(encoding="utf-8"))
    assert None in [row["breach_date"] for row in risk["budget_risk"]]  # a budget the forecast does not breach
