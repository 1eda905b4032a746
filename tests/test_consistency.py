"""One set of numbers: a period's spend is the same figure, to the cent, on every page, widget and command.

Checked on a second data set generated with another seed (60 days, two billing currencies: the Azure invoices are
in EUR), over a window, through the same library calls the notebooks, widgets and commands make. The committed
sample is checked on the real report's pages in ``tests/test_report_catalog.py``.
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
from widgets_util import headline, show

from finops_lib.allocation import allocate
from finops_lib.anomalies import scan
from finops_lib.cli import main
from finops_lib.reconcile import reconcile
from finops_lib.report.spend import period_spend
from finops_lib.sample import generate
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

pytestmark = pytest.mark.slow
CENT = Decimal("0.01")
WINDOW = {"start_date": "2026-08-15", "end_date": "2026-09-20"}


def cents(value: object) -> Decimal:
    """A money figure as shown (``$1,234.56``, ``€12.30``) or as exact text, to the cent."""
    text = str(value).replace(",", "").lstrip("$€£").replace("−", "-")
    return Decimal(text).quantize(CENT)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("second_org")
    generate(folder, days=60, seed=11, scale=0.3, end_date="2026-09-30")
    return folder


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wh") / "second.duckdb"


@pytest.fixture(scope="module")
def con(data: Path, warehouse: Path):
    connection = open_data(data, warehouse=warehouse)
    yield connection
    connection.disconnect()


@pytest.fixture(scope="module")
def spend(con, data: Path) -> Decimal:
    """The overview's spend of the window, in USD: the figure every other page must show."""
    facts, _ = overview_page.load(con, data_dir=str(data), group_by="team", **WINDOW)
    assert set(facts.currency_totals()["billing_currency"]) == {"USD", "EUR"}  # two currencies, converted
    return facts.total("cost")


def test_the_data_set_has_two_currencies_and_money_in_the_window(spend: Decimal) -> None:
    assert spend > 100


def test_attribution_allocates_exactly_the_spend(con, data: Path, spend: Decimal) -> None:
    facts, filters = attribution_page.load(con, data_dir=str(data), **WINDOW)
    result = allocate(attribution_page.split(facts, filters["split_strategy"]))
    allocated = sum(result.frame["cost"], Decimal(0))
    assert allocated == sum(result.inputs["cost"], Decimal(0)) == spend  # exact, unallocated included
    kinds = result.frame.groupby("kind")["cost"].agg(lambda s: sum(s, Decimal(0)))
    assert sum(kinds, Decimal(0)) == spend


def test_reconciliation_invoices_exactly_the_spend(con, data: Path, spend: Decimal) -> None:
    facts, catalog, filters = reconciliation_page.load(con, data_dir=str(data), **WINDOW)
    assert reconcile(facts, catalog=catalog, basis=filters["basis"]).total()["invoiced"] == spend


def test_forecast_history_sums_to_the_spend(con, data: Path, spend: Decimal) -> None:
    for dimension in ("team", "provider"):
        inputs = forecast_page.load(con, data_dir=str(data), dimension=dimension, as_of=WINDOW["end_date"],
                                    catalog_events_on=False)  # fmt: skip
        history = inputs.series["total"]
        in_window = history[WINDOW["start_date"]:WINDOW["end_date"]]
        assert Decimal(f"{in_window.sum():.2f}") == spend.quantize(CENT), dimension
        teams = sum(s[WINDOW["start_date"]:WINDOW["end_date"]].sum() for name, s in inputs.series.items()
                    if name != "total")  # fmt: skip
        assert Decimal(f"{teams:.2f}") == spend.quantize(CENT), dimension


def test_anomaly_cells_and_total_series_sum_to_the_spend(con, data: Path, spend: Decimal) -> None:
    _, cells, _ = anomaly_page.load(con, data_dir=str(data), detector="robust_seasonal", sensitivity=4.0,
                                    min_impact="auto", dimension="team", metric="cost")  # fmt: skip
    days = (cells["day"] >= WINDOW["start_date"]) & (cells["day"] <= WINDOW["end_date"])
    assert sum((c for c in cells.loc[days, "cost"] if c is not None), Decimal(0)) == spend
    points = scan(cells, dimensions=("total",), metrics=("cost",))
    window = points[(points["day"] >= WINDOW["start_date"]) & (points["day"] <= WINDOW["end_date"])]
    assert Decimal(f"{window['actual'].sum():.2f}") == spend.quantize(CENT)


def test_every_widget_opens_on_the_spend(con, data: Path, spend: Decimal) -> None:
    facts, _ = overview_page.load(con, data_dir=str(data), group_by="team", **WINDOW)
    assert cents(headline(show(make_overview_controls(facts, group_by="team")))["Spend (USD)"]) == spend.quantize(CENT)
    facts, _ = attribution_page.load(con, data_dir=str(data), **WINDOW)
    drawn = show(make_attribution_controls(facts))
    assert cents(headline(drawn)["Allocated (USD)"]) == spend.quantize(CENT)
    facts, catalog, _ = reconciliation_page.load(con, data_dir=str(data), **WINDOW)
    drawn = show(make_reconciliation_controls(facts, catalog))
    assert cents(headline(drawn)["Invoiced (USD)"]) == spend.quantize(CENT)
    _, cells, _ = anomaly_page.load(con, data_dir=str(data), detector="robust_seasonal", sensitivity=4.0,
                                    min_impact="auto", dimension="total", metric="cost")  # fmt: skip
    drawn = show(make_anomaly_controls(cells, dimension="total", **WINDOW))
    assert cents(headline(drawn)["Spend (USD)"]) == spend.quantize(CENT)
    inputs = forecast_page.load(con, data_dir=str(data), dimension="total", catalog_events_on=False,
                                as_of=WINDOW["end_date"])  # fmt: skip
    window = inputs.facts.with_options(start_date=WINDOW["start_date"])  # the forecast view shows the whole history
    drawn = show(make_forecast_controls(inputs, dimension="total", series="total", model="seasonal_naive"))
    assert cents(headline(drawn)[f"History to {WINDOW['end_date']}"]) == inputs.facts.total("cost").quantize(CENT)
    assert window.total("cost") == spend


def test_chargeback_command_and_report_index_sum_to_the_spend(con, data: Path, warehouse: Path, spend: Decimal,
                                                              tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "chargeback.csv"
    con.disconnect()  # the command opens the warehouse file itself
    assert main(["chargeback", "--data", str(data), "--warehouse", str(warehouse), "--out", str(out),
                 "--start-date", WINDOW["start_date"], "--end-date", WINDOW["end_date"]]) == 0  # fmt: skip
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["currency"] for row in rows} == {"USD"}
    assert sum(Decimal(row["total"]) for row in rows) == spend.quantize(CENT)
    index = period_spend(data, {"warehouse": str(warehouse), **WINDOW})
    assert Decimal(index["total"]) == spend and index["text"] == f"${spend.quantize(CENT):,.2f}"


def test_finops_status_shows_the_overview_s_spend(con, data: Path, warehouse: Path, capsys) -> None:
    con.disconnect()  # its own connection below; the command then opens the warehouse file itself
    own = open_data(data, warehouse=warehouse)
    facts, _ = overview_page.load(own, data_dir=str(data), group_by="team")  # the whole window, as status shows
    total = facts.total("cost")
    own.disconnect()
    assert main(["status", "--json", "--warehouse", str(warehouse)]) == 0
    shown = json.loads(capsys.readouterr().out)["spend"]
    assert Decimal(shown["total"]) == total and shown["currency"] == "USD"
    assert cents(shown["text"]) == total.quantize(CENT)
