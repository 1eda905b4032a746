"""Notebooks run through papermill with default and non-default parameters; assertions on ``results.json``.

Expected values are computed from the sample's files directly (OpenAI Costs API pages, ``manifest.json``,
``truth/gateway_bad_rows.csv``), not through the warehouse. ``pytest --nbval-lax`` runs each notebook
with its defaults separately.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from nbrun import run_notebook
from rawfiles import raw_invoices
from widgets_util import charts, headline, show

from finops_lib import paths
from finops_lib.sources import detect_format
from finops_lib.views.overview import widgets as overview_widgets

NOTEBOOK = paths.NOTEBOOKS_DIR / "00_data_overview.ipynb"
SAMPLE = paths.SAMPLE_DIR
WINDOW = ("2026-06-01", "2026-06-30")
NON_DEFAULT = {"group_by": "team", "provider": "OpenAI", "start_date": WINDOW[0], "end_date": WINDOW[1],
               "top_n": 3, "movers_window_days": 5, "show_widgets": False}  # fmt: skip

pytestmark = pytest.mark.slow


def run(tmp: Path, warehouse: Path, **parameters: object) -> dict:
    """Execute the overview notebook into ``tmp`` and return the results.json it wrote."""
    return run_notebook(NOTEBOOK, tmp, timeout=300, warehouse=str(warehouse), **parameters)


@pytest.fixture(scope="module")
def warehouse(sample_warehouse: Path) -> Path:
    """The module's own copy of the ingested sample (conftest): concurrent runs elsewhere never lock it."""
    return sample_warehouse


@pytest.fixture(scope="module")
def defaults(sample_report: Path) -> dict:
    """The notebook's results with every default: its run in the session's report (conftest)."""
    return json.loads((sample_report / NOTEBOOK.stem / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def window(tmp_path_factory: pytest.TempPathFactory, warehouse: Path, defaults: dict) -> dict:
    return run(tmp_path_factory.mktemp("window"), warehouse, **NON_DEFAULT)


def openai_invoiced(first: str | None = None, last: str | None = None) -> Decimal:
    """Sum of ``amount.value`` over the OpenAI Costs API pages, buckets starting in [first, last] (UTC days)."""
    lo = date.fromisoformat(first) if first else date.min
    hi = date.fromisoformat(last) if last else date.max
    total = Decimal(0)
    for page in sorted((SAMPLE / "openai").glob("costs_page_*.json")):
        for bucket in json.loads(page.read_text(), parse_float=Decimal)["data"]:
            if lo <= datetime.fromtimestamp(bucket["start_time"], UTC).date() <= hi:
                amounts = (r["amount"]["value"] for r in bucket["results"])
                total += sum((Decimal(value) for value in amounts if value is not None), Decimal(0))
    return total


def expected_rows() -> tuple[int, int]:
    """(records in the files a loader recognises, per the manifest; gateway rows known to be bad)."""
    manifest = json.loads((SAMPLE / "manifest.json").read_text())
    read = sum(
        f["rows"]
        for f in manifest["files"]
        if not f["path"].startswith(("truth/", "config/")) and f["path"] != "README.md"
        and detect_format(SAMPLE / f["path"])
    )
    with (SAMPLE / "truth" / "gateway_bad_rows.csv").open() as fh:
        bad = sum(1 for _ in csv.DictReader(fh))
    return read, bad


def test_defaults_cover_the_sample(defaults: dict) -> None:
    manifest = json.loads((SAMPLE / "manifest.json").read_text())
    assert defaults["date_range"] == [manifest["date_range"]["start"], manifest["date_range"]["end"]]
    assert defaults["group_by"] == "model"
    assert defaults["filters"] == {"start_date": None, "end_date": None, "provider": "all", "group_by": "model",
                                   "currency": "USD", "top_n": 8, "movers_window_days": 7}  # fmt: skip
    read, bad = expected_rows()
    assert (defaults["rows_read"], defaults["rows_loaded"], defaults["rows_rejected"]) == (read, read - bad, bad)
    headline = defaults["headline"]
    assert set(headline) == {"Spend (USD)", "Last 30 days vs previous", "Sources loaded", "Rows rejected", "Top model"}
    assert headline["Rows rejected"] == str(bad)
    # the last 30 days against the 30 before: the answer key's daily usage cost moves the same way (+1.9%); the
    # invoices add fixed charges (capacity, non-AI services) the key does not price, so within half a point
    with (SAMPLE / "truth" / "daily_cost.csv").open(newline="") as handle:
        truth = [(r["date"], Decimal(r["cost_usd"])) for r in csv.DictReader(handle)]
    current = sum((c for d, c in truth if d >= defaults["period"]["start"]), Decimal(0))
    previous = sum((c for d, c in truth if "2026-09-02" <= d < defaults["period"]["start"]), Decimal(0))
    assert defaults["period"]["start"] == "2026-10-02" and defaults["period"]["end"] == "2026-10-31"
    assert abs(float(defaults["period"]["change_pct"]) - float(current / previous - 1)) < 0.005
    assert defaults["findings"].startswith("Spend is $65,871.26 from 2026-05-05 to 2026-10-31 (180 days)")
    manifest_formats = {detect_format(SAMPLE / f["path"]).name for f in manifest["files"]
                        if not f["path"].startswith(("truth/", "config/")) and f["path"] != "README.md"}
    assert int(headline["Sources loaded"]) == len(manifest_formats) == 9
    # Every invoiced amount of every vendor file is in its currency's total, exactly (usage feeds are unpriced
    # estimates used only where no invoice exists; gateway logs are requests, not money).
    invoices = raw_invoices(SAMPLE)
    for currency in ("USD", "EUR"):
        expected = sum((v for (_, cur, _), v in invoices.items() if cur == currency), Decimal(0))
        assert Decimal(defaults["billed"][currency]) == expected, currency
    # Shown in USD: the EUR invoices converted at the sample's rate (USD->EUR 0.92, so EUR->USD is its
    # inverse, rounded to 12 places: relative error below 1e-12 per row).
    usd = sum((v for (_, cur, _), v in invoices.items() if cur == "USD"), Decimal(0))
    eur = sum((v for (_, cur, _), v in invoices.items() if cur == "EUR"), Decimal(0))
    shown = Decimal(defaults["total_spend"]["USD"])
    assert abs(shown - (usd + eur / Decimal("0.92"))) < Decimal("1e-6")
    assert headline["Spend (USD)"] == f"${shown:,.2f}"
    assert defaults["unpriced"] == []  # the shipped catalog prices every model and bucket of the sample
    assert headline["Top model"] in defaults["groups"]
    truth = pd.read_csv(SAMPLE / "truth" / "daily_cost.csv")  # the largest model by USD-equivalent net cost
    truth = truth[truth["model"].notna()].assign(net=lambda f: f["cost_usd"] + f["credit"])
    assert headline["Top model"] == truth.groupby("model")["net"].sum().idxmax() == "claude-sonnet-4-5-20250929"
    assert 1 <= len(defaults["groups"]) <= 8 + 1


def test_provider_and_window_filter_the_invoiced_spend(window: dict) -> None:
    expected = openai_invoiced(*WINDOW)
    assert expected > 0
    assert set(window["billed"]) == {"USD"}
    assert Decimal(window["billed"]["USD"]) == expected  # exact: decimals end to end
    assert Decimal(window["total_spend"]["USD"]) == expected
    assert window["headline"]["Spend (USD)"] == f"${expected:,.2f}"
    assert window["date_range"] == list(WINDOW)
    assert window["group_by"] == "team"
    assert window["filters"] == {"start_date": WINDOW[0], "end_date": WINDOW[1], "currency": "USD"} | {
        key: value for key, value in NON_DEFAULT.items() if key not in {"start_date", "end_date", "show_widgets"}
    }
    # teams come from the sample's allocation rules (OpenAI projects and keys); the gateway's project is a shared pool
    teams = {"support", "engineering", "search", "sales", "marketing", "data-science", "legal", "platform"}
    assert 1 <= len(window["groups"]) <= 3 + 1
    assert set(window["groups"]) <= teams | {"(shared: gateway-openai-traffic)", "(unattributed)", "Other"}
    assert "(unattributed)" not in window["groups"][:1]  # the rules name the owner of the largest OpenAI spend
    read, bad = expected_rows()  # source counts describe the warehouse, not the window
    assert (window["rows_read"], window["rows_rejected"]) == (read, bad)


def test_unknown_group_by_stops_with_a_clear_message(tmp_path: Path, warehouse: Path, defaults: dict) -> None:
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as caught:
        run(tmp_path, warehouse, group_by="colour", show_widgets=False)
    assert caught.value.ename == "ParameterError"
    assert "group_by must be one of provider, model, team" in caught.value.evalue
    assert "'colour'" in caught.value.evalue
    assert not (tmp_path / "out" / "results.json").exists()


def test_unknown_provider_lists_the_known_ones(tmp_path: Path, warehouse: Path, defaults: dict) -> None:
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as caught:
        run(tmp_path, warehouse, provider="Acme", show_widgets=False)
    assert caught.value.ename == "ParameterError"
    assert "unknown provider 'Acme'" in caught.value.evalue and "OpenAI" in caught.value.evalue


def test_overview_controls_start_as_the_page_and_redraw_on_every_change(warehouse: Path, defaults: dict) -> None:
    from finops_lib import engine
    from finops_lib.views.overview import page

    con = engine.connect(warehouse=warehouse)
    try:
        facts, _ = page.load(con, data_dir=str(SAMPLE), group_by="team", provider="OpenAI", start_date=WINDOW[0],
                             end_date=WINDOW[1])
        box = overview_widgets.make_overview_controls(facts, group_by="team", top_n=3)
        controls, output = box.children
        values = {control.description: control.value for control in controls.children[:-1]}
        assert list(values) == ["From", "To", "Provider", "Group by", "Currency"]  # currency last
        assert controls.children[-1] is box.status  # then what the view is doing (Updating...)
        assert values["From"] == date.fromisoformat(WINDOW[0]) and values["Group by"] == "team"
        assert values["Provider"] == "OpenAI" and values["Currency"] == "USD"
        assert output.outputs == () and box.drawn == []  # nothing drawn until a front end shows the view
        drawn = show(box)
        assert headline(drawn)["Spend (USD)"] == f"${openai_invoiced(*WINDOW):,.2f}"  # the static page's figure
        spend, tokens = charts(drawn)
        assert spend["encoding"]["color"]["field"] == tokens["encoding"]["color"]["field"] == "team"
        controls.children[3].value = "application"  # group by: both charts regroup
        assert [c["encoding"]["color"]["field"] for c in charts(box.drawn)] == ["application", "application"]
        controls.children[2].value = "all"  # provider: the headline becomes June's whole spend, EUR converted in
        june = {cur: sum((v for (_, c, month), v in raw_invoices(SAMPLE).items() if c == cur and month == "2026-06"),
                         Decimal(0)) for cur in ("USD", "EUR")}  # fmt: skip
        shown = Decimal(headline(box.drawn)["Spend (USD)"].strip("$").replace(",", ""))
        assert abs(shown - (june["USD"] + june["EUR"] / Decimal("0.92"))) <= Decimal("0.01")
        controls.children[4].value = "EUR"  # currency: converted, not filtered
        assert headline(box.drawn)["Spend (EUR)"].startswith("€")
        assert charts(box.drawn)[0]["encoding"]["y"]["axis"]["title"] == "Cost (EUR)"
    finally:
        con.disconnect()
