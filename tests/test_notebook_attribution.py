"""The cost attribution notebook through papermill, with default and non-default parameters.

Expected values come from the sample's answer key (``truth/daily_cost.csv``: every cost row with its real
owner; ``truth/shared_usage.csv``: who uses the shared PTU and gateway hosting), never from the warehouse.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from nbrun import run_notebook
from widgets_util import charts, headline, show

from finops_lib import paths
from finops_lib.views.attribution import widgets as attribution_widgets

NOTEBOOK = paths.NOTEBOOKS_DIR / "10_cost_attribution.ipynb"
SAMPLE = paths.SAMPLE_DIR
WINDOW = ("2026-07-01", "2026-08-31")
BUSINESS_UNITS = {"Customer Operations", "Revenue", "Product & Engineering", "Data & Research", "Corporate"}
D = Decimal

pytestmark = pytest.mark.slow


def run(tmp: Path, warehouse: Path, **parameters: object) -> dict:
    """Execute the notebook into ``tmp`` and return the results.json it wrote."""
    return run_notebook(NOTEBOOK, tmp, warehouse=str(warehouse), **{"show_widgets": False, **parameters})


@pytest.fixture(scope="module")
def warehouse(sample_warehouse: Path) -> Path:
    if not (SAMPLE / "config" / "allocation_rules.yaml").is_file():
        pytest.skip("the sample has no allocation rules (regenerate data/sample)")
    return sample_warehouse


@pytest.fixture(scope="module")
def defaults(sample_report: Path) -> tuple[dict, Path]:
    """The notebook's results and output folder with every default: its run in the session's report (conftest)."""
    out = sample_report / NOTEBOOK.stem
    return json.loads((out / "results.json").read_text(encoding="utf-8")), out


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    frame = pd.read_csv(SAMPLE / "truth" / "daily_cost.csv", dtype=str, keep_default_na=False)
    frame["net"] = [D(c) + D(k) for c, k in zip(frame["cost"], frame["credit"], strict=True)]  # invoices are net
    return frame


def team_totals(truth: pd.DataFrame, currency: str) -> dict[str, Decimal]:
    """Per team: the real owners, the shared PTU and gateway hosting split by truth/shared_usage.csv."""
    shares = pd.read_csv(SAMPLE / "truth" / "shared_usage.csv", dtype={"share": str})
    pools = {"shared-ptu": "aoai-shared-ptu", "llm-gateway": "llm-gateway"}
    out: dict[str, Decimal] = {}
    for row in truth[truth["billing_currency"] == currency].itertuples(index=False):
        part = shares[shares["shared_resource"] == pools.get(row.application, "")]
        for team, share in zip(part["team"], part["share"], strict=True) if len(part) else [(row.team, "1")]:
            out[team] = out.get(team, D(0)) + row.net * D(share)
    return out


def test_defaults_attribute_the_sample_like_its_truth(defaults: tuple[dict, Path], truth: pd.DataFrame) -> None:
    results, out = defaults
    manifest = json.loads((SAMPLE / "manifest.json").read_text())
    assert results["date_range"] == [manifest["date_range"]["start"], manifest["date_range"]["end"]]
    assert results["filters"] == {"start_date": None, "end_date": None, "dimension": "team",
                                  "split_strategy": "rules", "currency": "USD", "top_n": 10}  # fmt: skip
    assert results["rules"] == "data/sample/config/allocation_rules.yaml"  # relative: no machine layout shared
    assert set(results["headline"]) == {"Allocated (USD)", "Attributed by rules", "Unallocated (USD)", "Top team"}
    assert results["headline"]["Attributed by rules"] == "100.0%"
    # one currency: the EUR invoices converted at the sample's rate (USD->EUR 0.92), so the allocated total is
    # the overview's spend
    usd = sum(truth.loc[truth["billing_currency"] == "USD", "net"], D(0))
    eur = sum(truth.loc[truth["billing_currency"] == "EUR", "net"], D(0))
    assert set(results["input_total"]) == {"USD"}
    assert abs(D(results["input_total"]["USD"]) - (usd + eur / D("0.92"))) < D("1e-5")
    assert results["allocated_total"]["USD"] == results["input_total"]["USD"]  # exact
    expected = team_totals(truth, "USD")
    for team, value in team_totals(truth, "EUR").items():
        expected[team] = expected.get(team, D(0)) + value / D("0.92")
    got = {team: D(v) for team, v in results["by_owner"]["USD"].items()}
    assert set(got) == set(expected)
    assert results["headline"]["Top team"] == max(expected, key=expected.get) == "search"  # with its PTU share
    for team, value in expected.items():
        assert abs(got[team] - value) <= D("0.005") * value, (team, got[team], value)
    assert results["coverage"]["USD"]["All providers"] >= 0.95
    assert results["max_relative_error"] < 1e-9
    assert results["unallocated_keys"] == []
    assert set(results["by_kind"]["USD"]) == {"direct", "metered", "shared"}
    with (out / "chargeback.csv").open() as handle:
        lines = list(csv.DictReader(handle))
    assert {line["business_unit"] for line in lines} == BUSINESS_UNITS and {line["currency"] for line in lines} == {
        "USD"}
    # the chargeback adds up to the allocated total rounded to the cent, exactly
    assert sum(D(line["total"]) for line in lines) == D(results["input_total"]["USD"]).quantize(D("0.01"))


def test_window_currency_dimension_and_even_split(tmp_path: Path, warehouse: Path, defaults: tuple,
                                                  truth: pd.DataFrame) -> None:  # fmt: skip
    results = run(tmp_path, warehouse, start_date=WINDOW[0], end_date=WINDOW[1], currency="EUR",
                  convert_currency=False, dimension="business_unit", split_strategy="even", top_n=3)  # fmt: skip
    assert results["date_range"] == list(WINDOW)
    assert results["filters"] == {"start_date": WINDOW[0], "end_date": WINDOW[1], "dimension": "business_unit",
                                  "split_strategy": "even", "currency": "EUR", "top_n": 3}  # fmt: skip
    days = (truth["date"] >= WINDOW[0]) & (truth["date"] <= WINDOW[1]) & (truth["billing_currency"] == "EUR")
    billed = sum(truth.loc[days, "net"], D(0))
    assert D(results["input_total"]["EUR"]) == billed
    owners = {unit: D(v) for unit, v in results["by_owner"]["EUR"].items()}
    assert set(owners) <= BUSINESS_UNITS and sum(owners.values()) == billed
    # the PTU is split evenly among the 7 teams with direct cost of their own (engineering spends only through
    # the gateway's metered project): Revenue (sales, marketing) gets 2/7 of it
    ptu = sum(truth.loc[days & (truth["application"] == "shared-ptu"), "net"], D(0))
    assert abs(owners["Revenue"] - ptu * 2 / 7) < D("1e-9")
    assert set(results["headline"]) == {"Allocated (EUR)", "Attributed by rules", "Unallocated (EUR)",
                                        "Top business unit"}  # fmt: skip
    assert results["headline"]["Allocated (EUR)"] == f"€{billed:,.2f}"


def test_without_conversion_only_the_rows_billed_in_the_currency(tmp_path: Path, warehouse: Path, defaults: tuple,
                                                                   truth: pd.DataFrame) -> None:  # fmt: skip
    results = run(tmp_path, warehouse, convert_currency=False, currency="USD")
    usd = sum(truth.loc[truth["billing_currency"] == "USD", "net"], D(0))
    assert set(results["input_total"]) == {"USD"}
    assert abs(D(results["input_total"]["USD"]) - usd) < D("1e-6")  # the EUR invoices are left out, not converted
    assert results["allocated_total"]["USD"] == results["input_total"]["USD"]


def test_tags_only_ranks_the_raw_keys_to_map(tmp_path: Path, warehouse: Path, defaults: tuple) -> None:
    results = run(tmp_path, warehouse, rules_file="none", top_n=3, convert_currency=False)  # the USD invoices
    assert results["rules"] == "(tags only)"
    assert results["coverage"]["USD"]["All providers"] < 0.5
    usd = [key for key in results["unallocated_keys"] if key["currency"] == "USD"]
    assert len(usd) == 3 and [key["key"] for key in usd] == ["sub_account"] * 3
    assert usd[0]["provider"] == "Anthropic" and D(usd[0]["cost"]) >= D(usd[1]["cost"]) >= D(usd[2]["cost"])
    assert D(results["allocated_total"]["USD"]) == D(results["input_total"]["USD"])


@pytest.mark.parametrize(
    ("parameters", "ename", "message"),
    [({"dimension": "colour"}, "ParameterError", "dimension must be one of business_unit, team"),
     ({"split_strategy": "random"}, "ParameterError", "split_strategy must be one of rules, even"),
     ({"rules_file": str(Path(__file__).parent / "data" / "allocation_rules_malformed.yaml")}, "SourceError",
      "line 7, column 'rules[1].match.projet': unknown key 'projet'")],
)  # fmt: skip
def test_bad_parameters_stop_with_a_clear_message(tmp_path: Path, warehouse: Path, defaults: tuple, parameters: dict,
                                                  ename: str, message: str) -> None:  # fmt: skip
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as caught:
        run(tmp_path, warehouse, **parameters)
    assert caught.value.ename == ename and message in caught.value.evalue
    assert not (tmp_path / "out" / "results.json").exists()


def test_attribution_controls_start_as_the_page_and_redraw_on_every_change(warehouse: Path, defaults: tuple) -> None:
    from finops_lib import engine
    from finops_lib.views.attribution import page

    results, _ = defaults
    con = engine.connect(warehouse=warehouse)
    try:
        facts, _ = page.load(con, data_dir=str(SAMPLE), dimension="team")
        box = attribution_widgets.make_attribution_controls(facts, dimension="team", split_strategy="rules")
        controls, output = box.children
        values = {control.description: control.value for control in controls.children[:-1]}
        assert list(values) == ["From", "To", "Dimension", "Split", "Currency"]  # currency last
        assert controls.children[-1] is box.status  # then what the view is doing (Updating...)
        assert values["Dimension"] == "team" and values["Split"] == "rules" and values["Currency"] == "USD"
        assert output.outputs == () and box.drawn == []  # nothing drawn until a front end shows the view
        drawn = show(box)
        assert headline(drawn)["Allocated (USD)"] == results["headline"]["Allocated (USD)"]  # the static page's
        _, showback = charts(drawn)
        assert showback["encoding"]["color"]["field"] == "team"
        controls.children[2].value = "application"  # dimension: the showback regroups, the total stays
        assert charts(box.drawn)[1]["encoding"]["color"]["field"] == "application"
        assert headline(box.drawn)["Allocated (USD)"] == results["headline"]["Allocated (USD)"]
        controls.children[0].value = date.fromisoformat(WINDOW[0])  # window: July and August only
        controls.children[1].value = date.fromisoformat(WINDOW[1])
        assert headline(box.drawn)["From"] == WINDOW[0] and headline(box.drawn)["To"] == WINDOW[1]
        window = D(headline(box.drawn)["Allocated (USD)"].strip("$").replace(",", ""))
        assert 0 < window < D(results["input_total"]["USD"])
        controls.children[3].value = "even"  # split: the total is conserved whatever the split
        assert D(headline(box.drawn)["Allocated (USD)"].strip("$").replace(",", "")) == window
    finally:
        con.disconnect()
