"""The reconciliation notebook through papermill with non-default parameters; assertions on ``results.json``.

Expected values come from the sample's files directly (Anthropic cost report pages, ``truth/daily_cost.csv``,
``truth/fx.csv``), not through the warehouse.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from nbrun import run_notebook
from widgets_util import charts, headline, show

from finops_lib import paths
from finops_lib.views.reconciliation import widgets as reconciliation_widgets

NOTEBOOK = paths.NOTEBOOKS_DIR / "50_reconciliation.ipynb"
SAMPLE = paths.SAMPLE_DIR
WINDOW = ("2026-07-01", "2026-08-31")  # 62 days, two months
NON_DEFAULT = {"provider": "anthropic", "start_date": WINDOW[0], "end_date": WINDOW[1], "granularity": "month",
               "currency": "EUR", "top_n": 3, "show_widgets": False,
               "data_dir": str(SAMPLE)}  # fmt: skip  (the sample rules name the gateway accounts: metered pools)

pytestmark = pytest.mark.slow


def run(tmp: Path, warehouse: Path, **parameters: object) -> dict:
    """Execute the notebook into ``tmp`` and return the results.json it wrote."""
    return run_notebook(NOTEBOOK, tmp, warehouse=str(warehouse), **parameters)


@pytest.fixture(scope="module")
def warehouse(sample_warehouse: Path) -> Path:
    """The module's own copy of the ingested sample (conftest): concurrent runs elsewhere never lock it."""
    return sample_warehouse


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, warehouse: Path) -> dict:
    return run(tmp_path_factory.mktemp("window"), warehouse, **NON_DEFAULT)


def usd_to_eur() -> Decimal:
    with (SAMPLE / "truth" / "fx.csv").open() as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["from_currency"], row["to_currency"]) == ("USD", "EUR")
    return Decimal(row["rate"])


def gateway_workspace() -> str:
    from finops_lib.sample import story

    return str(story.GW_ANTHROPIC["workspace_id"])


def anthropic_invoiced(workspace: str | None = None) -> Decimal:
    """USD invoiced by Anthropic in the window (cost report ``amount`` is in cents), optionally one workspace."""
    total = Decimal(0)
    for page in sorted((SAMPLE / "anthropic").glob("cost_report_page_*.json")):
        for bucket in json.loads(page.read_text())["data"]:
            if WINDOW[0] <= bucket["starting_at"][:10] <= WINDOW[1]:
                rows = [r for r in bucket["results"] if workspace is None or r["workspace_id"] == workspace]
                total += sum((Decimal(r["amount"]) / 100 for r in rows), Decimal(0))
    return total


def truth_gateway_anthropic() -> Decimal:
    with (SAMPLE / "truth" / "daily_cost.csv").open(newline="") as handle:
        return sum((Decimal(r["cost"]) for r in csv.DictReader(handle) if r["channel"] == "gateway"
                    and r["provider"] == "anthropic" and WINDOW[0] <= r["date"] <= WINDOW[1]), Decimal(0))  # fmt: skip


def test_window_filters_and_headline(results: dict) -> None:
    assert results["date_range"] == list(WINDOW)
    assert results["filters"] == {"provider": "Anthropic", "start_date": WINDOW[0], "end_date": WINDOW[1],
                                  "granularity": "month", "basis": "requests", "currency": "EUR"}  # fmt: skip
    assert set(results["headline"]) == {"Invoiced (EUR)", "Estimated (requests)", "Gap", "Unexplained gap",
                                        "Gateway days within ±0.1%"}  # fmt: skip
    assert results["headline"]["Gateway days within ±0.1%"] == "62 of 62"  # the rules' metered pools: no default
    assert results["headline"]["Unexplained gap"] == "€0.00"  # the Anthropic gap is all volume (below)
    assert results["findings"].startswith("Invoiced €") and "traffic the request logs do not see" in results["findings"]


def test_all_traffic_is_the_invoice_converted_and_its_gap_is_volume(results: dict) -> None:
    rate = usd_to_eur()
    all_traffic = results["all_traffic"]
    assert list(all_traffic["by_provider"]) == ["Anthropic EUR"]
    row = {k: Decimal(v) for k, v in all_traffic["by_provider"]["Anthropic EUR"].items()}
    assert row["invoiced"] == anthropic_invoiced() * rate  # exact: 0.92 x cents/100 needs no rounding
    assert Decimal(results["invoiced_total"]) == row["invoiced"]  # one provider: its invoice is the page's total
    assert results["headline"]["Invoiced (EUR)"] == f"€{row['invoiced']:,.2f}"
    assert row["gap"] == row["invoiced"] - row["estimated"] > row["invoiced"] * Decimal("0.95")
    assert row["volume"] == row["gap"]  # the gateway-coverage gap is volume, not rate
    assert row["rate"] == row["cache"] == row["tier"] == row["unpriced"] == row["unexplained"] == 0
    assert results["unexplained_top"] == [] and results["unpriced_lines"] == 0
    used = [(u["from_currency"], u["to_currency"], Decimal(u["rate"]), u["applied_to"]) for u in
            all_traffic["rates_used"]]  # fmt: skip
    # the invoices and logs (USD) converted to EUR, and the catalog's USD prices turned into EUR: 62 days
    assert used == [("USD", "EUR", rate, "amounts (rows)"), ("USD", "EUR", rate, "catalog prices (days)")]
    assert all_traffic["rates_used"][1]["rows_converted"] == "62"


def test_gateway_view_reproduces_the_invoice_and_the_truth(results: dict) -> None:
    rate = usd_to_eur()
    gateway = results["gateway"]
    assert gateway["accounts"] == ["proj_nb4CCZL2UewnBI2A0ZUuaQFg", gateway_workspace()]
    row = {k: Decimal(v) for k, v in gateway["by_provider"]["Anthropic EUR"].items()}
    assert row["invoiced"] == anthropic_invoiced(gateway_workspace()) * rate
    assert abs(row["gap"]) <= row["invoiced"] * Decimal("0.001")
    truth = truth_gateway_anthropic() * rate
    assert abs(row["estimated"] - truth) <= truth * Decimal("0.001")
    (agreement,) = results["gateway_agreement"]
    assert (agreement["ProviderName"], agreement["days"], agreement["within"]) == ("Anthropic", "62", "62")


def test_unknown_granularity_stops_with_a_clear_message(tmp_path: Path) -> None:
    """A small data folder and a warehouse of its own: no lock shared with the other runs of the module."""
    import shutil

    from papermill.exceptions import PapermillExecutionError

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(Path(__file__).parent / "data" / "openai_costs.json", data / "openai_costs.json")
    with pytest.raises(PapermillExecutionError) as caught:
        run(tmp_path, tmp_path / "own.duckdb", data_dir=str(data), granularity="week", show_widgets=False)
    assert caught.value.ename == "ParameterError"
    assert "granularity must be one of day, month" in caught.value.evalue
    assert not (tmp_path / "out" / "results.json").exists()


def test_reconciliation_controls_start_as_the_page_and_redraw_on_every_change(warehouse: Path, results: dict) -> None:
    from finops_lib import engine
    from finops_lib.views.reconciliation import page

    con = engine.connect(warehouse=warehouse)
    try:
        facts, catalog, _ = page.load(con, data_dir=str(SAMPLE), currency="EUR", provider="anthropic",
                                      start_date=WINDOW[0], end_date=WINDOW[1], granularity="month")  # fmt: skip
        box = reconciliation_widgets.make_reconciliation_controls(facts, catalog, granularity="month")
        controls, output = box.children
        values = {control.description: control.value for control in controls.children[:-1]}
        assert list(values) == ["Provider", "From", "To", "Granularity", "Currency"]  # currency last
        assert controls.children[-1] is box.status  # then what the view is doing (Updating...)
        assert values["Provider"] == "Anthropic" and values["Granularity"] == "month"
        assert values["From"] == date.fromisoformat(WINDOW[0]) and values["Currency"] == "EUR"
        assert output.outputs == () and box.drawn == []  # nothing drawn until a front end shows the view
        drawn = show(box)
        assert headline(drawn)["Invoiced (EUR)"] == results["headline"]["Invoiced (EUR)"]  # the static page's
        over_time = charts(drawn)[0]
        assert over_time["encoding"]["x"]["timeUnit"] == "yearmonth"
        controls.children[3].value = "day"  # granularity: the chart redraws per day
        assert charts(box.drawn)[0]["encoding"]["x"]["timeUnit"] == "yearmonthdate"
        controls.children[4].value = "USD"  # currency: the same invoices, in USD (no conversion needed)
        assert headline(box.drawn)["Invoiced (USD)"] == f"${anthropic_invoiced():,.2f}"
    finally:
        con.disconnect()
