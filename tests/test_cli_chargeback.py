"""``finops chargeback`` on real exports: the finance CSV, in one currency, adds up to the money rows.

The command converts the other billing currencies at the charge day's rate of the shipped table (USD->EUR 0.92 from
2026-05-05 to 2026-10-31, EUR->USD its inverse), or with ``--only-billed-in-currency`` keeps only the rows billed in
``--currency``. The expected amounts are computed here from the warehouse rows and the loaded rates, row by row as
:mod:`finops_lib.fx` states it: amount x rate rounded half away from zero to 12 places, an inverse rate rounded
half-even to 12 places.

Hand-worked, ``focus_1.3_aws.csv`` (four USD rows on 2026-06-02) and ``focus_azure.csv`` (four EUR rows on
2026-07-10), no rules (owners from tags):

* June: platform 0.096 + 0.25 = 0.346, untagged 1.10 + 4.60 = 5.70: 6.046 USD = 5.56232 EUR (x 0.92).
* July: ml 1.35 + 2.70 + 0.90 = 4.95, untagged 0.40: 5.35 EUR. In USD (x 1.086956521739, row by row): ml
  1.467391304348 + 2.934782608695 + 0.978260869565 = 5.380434782608, untagged 0.434782608696: 5.815217391304.
* In USD the grand total 11.861217391304 is 11.86, but June 6.05 + July 5.82 = 11.87: July, rounded up the most,
  gives the cent back (5.81, its lines 5.38 + 0.43).
"""

import csv
import shutil
from datetime import date
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd

from finops_lib import engine, fx
from finops_lib.cli import main
from finops_lib.facts import open_facts

D = Decimal
CENT = D("0.01")
PLACES = D("1e-12")
FOCUS_PAIR = ("focus_1.3_aws.csv", "focus_azure.csv")
#: OpenAI (USD, May), AWS CUR 2.0 (USD, March) and Azure cost details (EUR, March: before any shipped rate).
EXPORTS = ("openai_costs.json", "aws_cur2.csv", "azure_cost_details.csv")


def _folder(tmp_path: Path, data_dir: Path, names: tuple[str, ...]) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    for name in names:
        shutil.copy(data_dir / name, folder / name)
    return folder


def _chargeback(folder: Path, warehouse: Path, out: Path, *options: str) -> int:
    return main(["chargeback", "--data", str(folder), "--out", str(out), "--warehouse", str(warehouse),
                 "--rules", "none", *options])  # fmt: skip


def _read(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _rate(rates: pd.DataFrame, source: str, target: str, day: date) -> Decimal:
    """The day's rate: the pair as given, else the inverse of the reverse pair rounded half-even to 12 places."""
    if source == target:
        return D(1)
    for pair, inverse in (((source, target), False), ((target, source), True)):
        for r in rates.to_dict("records"):
            covers = r["effective_from"] <= day and (r["effective_to"] is None or day < r["effective_to"])
            if (r["from_currency"], r["to_currency"]) == pair and covers:
                return (D(1) / r["rate"]).quantize(PLACES, ROUND_HALF_EVEN) if inverse else r["rate"]
    raise AssertionError(f"no rate {source}->{target} on {day}")


def _expected(warehouse: Path, currency: str, *, convert: bool) -> tuple[dict[str, Decimal], Decimal]:
    """Money per month in ``currency`` from the warehouse rows, and the facts' own total of the same rows.

    Every row of these exports is invoiced and priced, so every row is a money row.
    """
    rates = fx.load_rates()  # the shipped table: the command's rates
    con = engine.connect(warehouse=warehouse)
    try:
        costs = con.table("costs")
        rows = costs.select("ChargePeriodStart", "BillingCurrency", "BilledCost", "x_CostBasis").to_pyarrow()
        facts_total = open_facts(con, currency=currency, convert=convert).total("cost")
    finally:
        con.disconnect()
    rows = rows.to_pylist()
    assert rows and all(r["x_CostBasis"] == "invoiced" and r["BilledCost"] is not None for r in rows)
    months: dict[str, Decimal] = {}
    for r in rows:
        if r["BillingCurrency"] != currency and not convert:
            continue
        day = pd.Timestamp(r["ChargePeriodStart"]).tz_convert("UTC").date()  # charge days are UTC days
        amount = (r["BilledCost"] * _rate(rates, r["BillingCurrency"], currency, day)).quantize(PLACES, ROUND_HALF_UP)
        month = day.strftime("%Y-%m")
        months[month] = months.get(month, D(0)) + amount
    return months, facts_total


def _check_adds_up(lines: list[dict], currency: str, months: dict[str, Decimal], facts_total: Decimal) -> None:
    """The four promises of the CSV: one currency, grand total, months within a cent, lines adding up."""
    assert lines and {line["currency"] for line in lines} == {currency}
    exact = sum(months.values(), D(0))
    assert facts_total == exact  # the facts count exactly these rows at these rates
    assert sum(D(line["total"]) for line in lines) == exact.quantize(CENT, ROUND_HALF_EVEN)
    got: dict[str, Decimal] = {}
    for line in lines:
        assert D(line["direct"]) + D(line["shared"]) + D(line["unallocated"]) == D(line["total"]), line
        got[line["month"]] = got.get(line["month"], D(0)) + D(line["total"])
    assert set(got) == set(months)
    for month, value in months.items():
        assert abs(got[month] - value) <= CENT, (month, got[month], value)


def _by_line(lines: list[dict]) -> dict[tuple[str, str], tuple[str, ...]]:
    return {(line["month"], line["team"]): (line["direct"], line["unallocated"], line["total"]) for line in lines}


def test_chargeback_converts_every_currency_and_adds_up_to_the_money(tmp_path, data_dir, capsys):
    folder = _folder(tmp_path, data_dir, FOCUS_PAIR)
    wh = tmp_path / "wh.duckdb"
    usd, eur = tmp_path / "usd.csv", tmp_path / "eur.csv"
    assert _chargeback(folder, wh, usd) == 0
    assert f"chargeback in USD written to {usd}" in capsys.readouterr().out
    assert _chargeback(folder, wh, eur, "--currency", "EUR") == 0
    assert f"chargeback in EUR written to {eur}" in capsys.readouterr().out

    lines = _read(usd)
    _check_adds_up(lines, "USD", *_expected(wh, "USD", convert=True))
    assert _by_line(lines) == {
        ("2026-06", "platform"): ("0.35", "0.00", "0.35"), ("2026-06", "(unallocated)"): ("0.00", "5.70", "5.70"),
        ("2026-07", "ml"): ("5.38", "0.00", "5.38"), ("2026-07", "(unallocated)"): ("0.00", "0.43", "0.43"),
    }  # fmt: skip
    months, _ = _expected(wh, "USD", convert=True)
    assert months == {"2026-06": D("6.046"), "2026-07": D("5.815217391304")}

    lines = _read(eur)
    _check_adds_up(lines, "EUR", *_expected(wh, "EUR", convert=True))
    # June x 0.92: platform 0.31832, untagged 5.244; July as billed
    assert _by_line(lines) == {
        ("2026-06", "platform"): ("0.32", "0.00", "0.32"), ("2026-06", "(unallocated)"): ("0.00", "5.24", "5.24"),
        ("2026-07", "ml"): ("4.95", "0.00", "4.95"), ("2026-07", "(unallocated)"): ("0.00", "0.40", "0.40"),
    }  # fmt: skip


def test_only_billed_in_currency_leaves_the_other_currencies_out(tmp_path, data_dir):
    folder = _folder(tmp_path, data_dir, FOCUS_PAIR)
    wh = tmp_path / "wh.duckdb"
    for currency, kept in (("USD", {("2026-06", "platform"): ("0.35", "0.00", "0.35"),
                                    ("2026-06", "(unallocated)"): ("0.00", "5.70", "5.70")}),
                           ("EUR", {("2026-07", "ml"): ("4.95", "0.00", "4.95"),
                                    ("2026-07", "(unallocated)"): ("0.00", "0.40", "0.40")})):  # fmt: skip
        out = tmp_path / f"{currency}.csv"
        assert _chargeback(folder, wh, out, "--currency", currency, "--only-billed-in-currency") == 0
        lines = _read(out)
        months, total = _expected(wh, currency, convert=False)
        _check_adds_up(lines, currency, months, total)
        assert _by_line(lines) == kept
    assert total == D("5.35")  # EUR: only the four Azure rows, as billed


def test_chargeback_of_vendor_exports_per_billing_currency(tmp_path, data_dir, capsys):
    folder = _folder(tmp_path, data_dir, EXPORTS)
    wh = tmp_path / "wh.duckdb"
    # the Azure rows are billed in EUR in March 2026, before any shipped rate: converting them is an error naming
    # the pair and the day, never a silent 1.0, and no CSV is written
    out = tmp_path / "converted.csv"
    assert _chargeback(folder, wh, out) == 2
    assert "no exchange rate EUR->USD for 2026-03-02" in capsys.readouterr().err
    assert not out.exists()
    # each billing currency alone
    totals = {}
    for currency in ("USD", "EUR"):
        out = tmp_path / f"{currency}.csv"
        assert _chargeback(folder, wh, out, "--currency", currency, "--only-billed-in-currency") == 0
        lines = _read(out)
        months, total = _expected(wh, currency, convert=False)
        _check_adds_up(lines, currency, months, total)
        totals[currency] = {month: sum(D(line["total"]) for line in lines if line["month"] == month)
                            for month in months}  # fmt: skip
    # USD: AWS in March 1 + 0.8 + 0.04 + 0.1 + 0.12 + 0.1 + 0.2496 - 0.5 + 0.25 = 2.1596 (the credit is -0.5), OpenAI
    # in May 0.1 + 0.2 + 0.000123456789 + 1.5 + 3 (the "oops" amount is rejected); EUR: Azure in March
    # 5.75 + 3.68 + 0.000225 + 45.6 + 2.4 = 57.430225
    assert totals == {"USD": {"2026-03": D("2.16"), "2026-05": D("4.80")}, "EUR": {"2026-03": D("57.43")}}
