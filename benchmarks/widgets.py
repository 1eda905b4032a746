"""Benchmark: how long each page's widgets take to redraw after a control changes, on the sample.

Run ``python benchmarks/widgets.py [WAREHOUSE]``: ingests the committed sample into a warehouse of its own (or opens
the one named), builds every page's controls as its notebook does, shows them (the first draw), then changes one
control at a time and times each redraw (median and worst of the changes). The goal of issue 16 is a redraw under
0.5 s.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from finops_lib import paths, pricing
from finops_lib.facts import build_cells
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
    con = open_data(paths.SAMPLE_DIR, warehouse=warehouse)
    assert pricing.catalog_for(paths.SAMPLE_DIR) is not None
    worst_all = 0.0
    for name, (build, changes) in pages(con, paths.SAMPLE_DIR).items():
        start = time.perf_counter()
        box = build()
        shown(box)
        first = time.perf_counter() - start
        try:
            seconds = timed_changes(box, changes)
        except KeyError as exc:
            print(f"{name}: no control named {exc} (controls changed?)")
            continue
        worst_all = max(worst_all, max(seconds))
        print(f"{name:15s} first draw {first:6.2f} s; redraw median {statistics.median(seconds):5.2f} s, "
              f"worst {max(seconds):5.2f} s over {len(seconds)} changes")
    print(f"worst redraw {worst_all:.2f} s (goal 0.5 s)")
    con.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
