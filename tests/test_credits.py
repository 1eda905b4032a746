"""Credits and negative days: forecasts, anomalies and budgets model usage apart from credits and never fail.

The fixture (``tests/data/quirks/focus_aws_with_credit.csv``) holds 61 days of Bedrock usage and one promotional
credit of -250.00 USD larger than its day's usage; expected figures are read from it with the stdlib.
"""

from __future__ import annotations

import csv
import shutil
from decimal import Decimal as D
from pathlib import Path

import pandas as pd
import pytest

from finops_lib import engine
from finops_lib.anomalies import detect_anomalies
from finops_lib.cli import main
from finops_lib.facts import build_cells, open_facts
from finops_lib.forecast import build_series, credits_by_day, forecastable
from finops_lib.views.forecast import page as forecast_page
from finops_lib.warehouse import ingest

CREDIT = Path(__file__).parent / "data" / "quirks" / "focus_aws_with_credit.csv"


def _expected() -> tuple[D, D, str]:
    with CREDIT.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    credits = [r for r in rows if r["ChargeCategory"] == "Credit"]
    charges = sum((D(r["BilledCost"]) for r in rows if r["ChargeCategory"] != "Credit"), D(0))
    return charges, sum((D(r["BilledCost"]) for r in credits), D(0)), credits[0]["ChargePeriodStart"][:10]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    folder = tmp_path_factory.mktemp("credit")
    shutil.copyfile(CREDIT, folder / CREDIT.name)
    con = engine.memory()
    ingest([folder], con=con)
    return con


def test_cost_is_charges_plus_credits_exactly(con) -> None:
    charges, credits, _ = _expected()
    facts = open_facts(con, currency="USD")
    assert (facts.total("charges"), facts.total("credits")) == (charges, credits)
    assert facts.total("cost") == charges + credits and credits == D("-250.00")


def test_spend_series_leave_credits_out_and_say_so(con) -> None:
    charges, credits, day = _expected()
    facts = open_facts(con, currency="USD")
    frame, left_out = forecastable(build_series(facts, by="total", metric="spend"))
    assert left_out.empty and (frame["value"] >= 0).all()
    assert round(frame["value"].sum(), 6) == float(charges)
    apart = credits_by_day(facts)
    assert apart.values.tolist() == [[pd.Timestamp(day), float(credits)]]


def test_the_forecast_page_loads_and_names_the_credits(con) -> None:
    inputs = forecast_page.load(con, dimension="total", metric="spend", currency="USD")
    assert inputs.note().startswith("Credits of \u2212$250.00 on 1 day are left out of the spend history")
    assert list(inputs.series) == ["total"]


def test_a_credit_is_not_an_anomaly_and_detection_runs(con) -> None:
    charges, _, day = _expected()
    facts = open_facts(con, currency="USD")
    cells = build_cells(facts)
    assert sum(cells["cost"].dropna(), D(0)) == charges  # the cells carry the charges, the credit apart
    alerts = detect_anomalies(facts)
    assert alerts.empty or not (alerts["first_seen"] == pd.Timestamp(day)).any()


def test_finops_forecast_with_a_backtest_exits_zero_on_credits(tmp_path, capsys) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copyfile(CREDIT, folder / CREDIT.name)
    out = tmp_path / "forecast.csv"
    code = main(["forecast", "--data", str(folder), "--out", str(out), "--by", "total", "--backtest", "--horizon", "14",
                 "--warehouse", str(tmp_path / "w.duckdb")])  # fmt: skip
    assert code == 0
    assert "credits of -250.00 USD on 1 days are left out" in capsys.readouterr().err
    table = pd.read_csv(out)
    assert (table[table["kind"] == "forecast"]["value"] >= 0).all() and (table["kind"] == "forecast").sum() == 14
    history = table[table["kind"] == "actual"]
    assert round(history["value"].sum(), 6) == float(_expected()[0])
