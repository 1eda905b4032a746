"""Currencies: the FX table, conversion by charge day, rates used, the guard against mixed-currency sums."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops_lib import fx
from finops_lib.errors import ParameterError, SchemaError

D = Decimal


def money_table(rows: list[tuple[str, str, str | None]]) -> ibis.Table:
    """``(day, currency, amount)`` rows as a small costs-like table."""
    data = {
        "x_RowHash": [f"r{i}" for i in range(len(rows))],
        "ChargePeriodStart": pa.array([dt.datetime.fromisoformat(d + "T08:00:00+00:00") for d, _, _ in rows],
                                      pa.timestamp("us", tz="UTC")),
        "BillingCurrency": [c for _, c, _ in rows],
        "BilledCost": pa.array([None if a is None else D(a) for _, _, a in rows], pa.decimal128(38, 12)),
    }  # fmt: skip
    return ibis.memtable(pa.table(data))


def test_shipped_rate_is_the_sample_rate_with_exclusive_end():
    rates = fx.load_rates()
    assert fx.rate(rates, "USD", "EUR", dt.date(2026, 5, 5)) == (D("0.92"), "direct")
    assert fx.rate(rates, "USD", "EUR", dt.date(2026, 10, 31)) == (D("0.92"), "direct")
    with pytest.raises(ParameterError, match=r"no exchange rate USD->EUR for 2026-11-01"):
        fx.rate(rates, "USD", "EUR", dt.date(2026, 11, 1))
    assert fx.rate(rates, "EUR", "EUR", dt.date(2030, 1, 1)) == (D(1), "identity")


def test_inverse_rate_is_derived_and_marked_inexact():
    inv = fx.with_inverses(fx.load_rates())
    row = inv[(inv.from_currency == "EUR") & (inv.to_currency == "USD")].iloc[0]
    assert row.rate == D("1.086956521739")  # 1 / 0.92 rounded half-even to 12 places
    assert (row.derivation, row.exact) == ("inverse", False)
    assert fx.rate(fx.load_rates(), "EUR", "USD", dt.date(2026, 6, 1)) == (D("1.086956521739"), "inverse")


def test_later_file_wins_for_the_same_pair_and_days(data_dir):
    rates = fx.load_rates(data_dir / "prices_fx_gbp.csv")
    assert fx.rate(rates, "USD", "EUR", dt.date(2026, 9, 30))[0] == D("0.92")
    assert fx.rate(rates, "USD", "EUR", dt.date(2026, 10, 1))[0] == D("0.90")
    assert fx.rate(rates, "EUR", "GBP", dt.date(2026, 6, 30))[0] == D("0.85")
    assert fx.rate(rates, "EUR", "GBP", dt.date(2026, 7, 1))[0] == D("0.86")


def test_bad_rate_rows_are_refused(tmp_path):
    path = tmp_path / "rates.csv"
    path.write_text("from_currency,to_currency,rate,effective_from,effective_to,source\nUSD,eur,0.9,2026-01-01,,x\n")
    with pytest.raises(SchemaError, match=r"rates.csv, line 2: not an upper-case ISO 4217 code"):
        fx.read_rates(path)
    path.write_text("from_currency,to_currency,rate,effective_from,effective_to,source\nUSD,EUR,-1,2026-01-01,,x\n")
    with pytest.raises(SchemaError, match="must be positive"):
        fx.read_rates(path)


def test_to_currency_converts_by_charge_day_and_returns_the_rates_used(data_dir):
    rates = fx.load_rates(data_dir / "prices_fx_gbp.csv")
    t = money_table([("2026-06-30", "EUR", "100"), ("2026-07-01", "EUR", "100"), ("2026-07-01", "GBP", "5"),
                     ("2026-07-02", "EUR", None)])  # fmt: skip
    out, used = fx.to_currency(t, "GBP", rates=rates)
    got = out.order_by("x_RowHash").to_pandas()
    assert got.BilledCost.tolist() == [D("85"), D("86"), D("5"), None]  # by day; NULL stays NULL
    assert set(got.BillingCurrency) == {"GBP"}
    assert sorted(zip(used.from_currency, used.rate, used.rows_converted, strict=True)) == [
        ("EUR", D("0.85"), 1),
        ("EUR", D("0.86"), 2),
    ]


def test_missing_rate_is_an_error_naming_pair_and_day():
    t = money_table([("2026-06-01", "USD", "1"), ("2027-01-15", "USD", "2")])
    with pytest.raises(ParameterError, match=r"no exchange rate USD->EUR for 2027-01-15"):
        fx.to_currency(t, "EUR", rates=fx.load_rates())


def test_summing_across_currencies_raises():
    t = money_table([("2026-06-01", "USD", "10"), ("2026-06-01", "EUR", "10")])
    with pytest.raises(ParameterError, match=r"cannot sum BilledCost across currencies \['EUR', 'USD'\]"):
        fx.sum_money(t, "BilledCost")
    converted, _ = fx.to_currency(t, "EUR", rates=fx.load_rates())
    assert fx.sum_money(converted, "BilledCost") == (D("19.2"), "EUR")  # 10 x 0.92 + 10


@settings(max_examples=15, deadline=None)
@given(st.lists(st.decimals(min_value=D("-1e9"), max_value=D("1e9"), places=12, allow_nan=False), min_size=1,
                max_size=8))  # fmt: skip
def test_there_and_back_is_identity_within_the_documented_rounding(amounts):
    t = money_table([("2026-06-01", "USD", str(a)) for a in amounts])
    rates = fx.load_rates()
    eur, _ = fx.to_currency(t, "EUR", rates=rates)
    back, _ = fx.to_currency(eur, "USD", rates=rates)
    got = back.order_by("x_RowHash").to_pandas().BilledCost.tolist()
    for original, returned in zip(amounts, got, strict=True):
        assert abs(returned - original) <= abs(original) * D("1e-12") + D("2e-12")


def test_to_currency_refuses_a_currency_that_is_not_an_iso_code() -> None:
    """A missing currency (NaN from an empty table) once reached the SQL as a float and failed deep in ibis."""
    t = ibis.memtable(pd.DataFrame({"ChargePeriodStart": pd.to_datetime(["2026-06-01"], utc=True),
                                    "BillingCurrency": ["USD"], "BilledCost": [Decimal("10")]}))  # fmt: skip
    for bad in (float("nan"), None, "usd", "EURO"):
        with pytest.raises(ParameterError, match="ISO 4217"):
            fx.to_currency(t, bad, rates=fx.load_rates())
