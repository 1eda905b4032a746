"""Benchmark: how long each page's widgets take to redraw after a control changes, on the sample.

Run ``python benchmarks/widgets.py [WAREHOUSE]``: ingests the committed sample into a warehouse of its own (or opens
the one named), builds every page's controls as its notebook does, shows them (the first draw), then changes one
control at a time and times each redraw, then makes the same changes again (values seen before: what a person
going back and forth gets). Prints every change, then per page the median and worst of the first pass and the
worst of the second. The goal of issue 16 is a redraw under 0.5 s.

A change that needs new numbers recomputes them (a new currency converts every row once, a new sensitivity runs
the detector again, a new horizon backtests again); a change that only regroups, cuts or picks is drawn from what
the view keeps (the facts' rows, the whole reconciliation, the detection, the allocation).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from IPython.core.formatters import format_display_data

from finops_lib import paths, pricing
from finops_lib.facts import build_cells
from finops_lib.views import controls
from finops_lib.views.anomalies import page as anomaly_page
from finops_lib.views.anomalies.widgets import make_anomaly_controls
from finops_lib.views.attribution import page as attribution_page
from finops_lib.views.attribution.widgets import make_attribution_controls
from finops_lib.views.forecast import page as forecast_page
from finops_lib.views.forecast.widgets import make_forecast_controls
from finops_lib.views.overview import page as overview_page
from finops_lib.views.overview.widgets import make_overview_controls
from finops_lib.views.reconciliation import page as reconciliation_page
from finops_lib.views.reconciliation.widgets import make_reconciliation_controls
from finops_lib.warehouse import open_data


def formatted(*items: object, **_: object) -> None:
    """Format what a view displays as a kernel does for a front end (chart specs, table HTML), quietly."""
    for item in items:
        format_display_data(item)


def shown(box: object) -> None:
    """Make the view believe a front end shows it: it draws."""
    box.children[-1]._view_count = 1


def timed_changes(box: object, changes: list[tuple[str, object]]) -> list[float]:
    """Apply each (control, value) change in turn; return the seconds each redraw took."""
    controls = {c.description: c for row in box.children[:-1] for c in getattr(row, "children", [row])
                if hasattr(c, "description")}  # fmt: skip
    seconds = []
    for name, value in changes:
        control = controls[name]
        start = time.perf_counter()
        control.value = value
        seconds.append(time.perf_counter() - start)
    return seconds


def pages(con: object, data: Path) -> dict[str, tuple[Callable[[], object], list[tuple[str, object]]]]:
    """Return page -> (build its controls, the control changes to time)."""
    facts, _ = overview_page.load(con, data_dir=str(data), group_by="model")
    att_facts, _ = attribution_page.load(con, data_dir=str(data))
    inputs = forecast_page.load(con, data_dir=str(data), dimension="team")
    rec_facts, catalog, _ = reconciliation_page.load(con, data_dir=str(data))
    cells = build_cells(anomaly_page.load(con, data_dir=str(data), detector="robust_seasonal", sensitivity=4.0,
                                          min_impact="auto", dimension="team", metric="cost")[0])  # fmt: skip
    return {
        "overview": (lambda: make_overview_controls(facts, group_by="model"),
                     [("Group by", "provider"), ("Group by", "team"), ("Currency", "EUR"), ("Currency", "USD")]),
        "attribution": (lambda: make_attribution_controls(att_facts, dimension="team"),
                        [("Dimension", "application"), ("Split", "even"), ("Currency", "EUR")]),
        "forecast": (lambda: make_forecast_controls(inputs, dimension="team", series="search", horizon_days=30),
                     [("Horizon", 14), ("Model", "seasonal_naive"), ("Series", "sales")]),
        "anomalies": (lambda: make_anomaly_controls(cells, dimension="team"),
                      [("Sensitivity", 5.0), ("Metric", "tokens"), ("Dimension", "provider")]),
        "reconciliation": (lambda: make_reconciliation_controls(rec_facts, catalog, granularity="day"),
                           [("Granularity", "month"), ("Currency", "EUR")]),
    }  # fmt: skip


def main() -> int:
    warehouse = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "sample.duckdb"
    controls.display = formatted  # what a kernel sends a front end, timed with the redraw
    con = open_data(paths.SAMPLE_DIR, warehouse=warehouse)
    assert pricing.catalog_for(paths.SAMPLE_DIR) is not None
    summary = []
    for name, (build, changes) in pages(con, paths.SAMPLE_DIR).items():
        start = time.perf_counter()
        box = build()
        shown(box)
        first = time.perf_counter() - start
        try:
            back = [(control, value) for control, value in changes[:-1]]  # the same values again, in order
            initial = [(control, initial_value(box, control)) for control, _ in changes]
            once = timed_changes(box, changes)
            again = timed_changes(box, [*initial[:1], *back, changes[-1]])
        except KeyError as exc:
            print(f"{name}: no control named {exc} (controls changed?)")
            continue
        for (control, value), seconds in zip(changes, once, strict=True):
            print(f"  {name:15s} {control:12s} -> {value!s:15s} {seconds:6.2f} s")
        summary.append((name, first, statistics.median(once), max(once), max(again[1:] or [0.0])))
    print(f"{'page':15s} {'first draw':>10s} {'median':>8s} {'worst':>8s} {'worst seen again':>17s}")
    for name, first, median, worst, again in summary:
        print(f"{name:15s} {first:9.2f}s {median:7.2f}s {worst:7.2f}s {again:16.2f}s")
    print(f"worst redraw {max(s[3] for s in summary):.2f} s, of a value seen before {max(s[4] for s in summary):.2f} s"
          " (goal 0.5 s)")
    con.disconnect()
    return 0


def initial_value(box: object, name: str) -> object:
    """Return the value a control of ``box`` has now."""
    controls = {c.description: c for row in box.children[:-1] for c in getattr(row, "children", [row])
                if hasattr(c, "description")}  # fmt: skip
    return controls[name].value


if __name__ == "__main__":
    sys.exit(main())
