"""Reconciliation: hand-computed gaps and components on a private catalog, exact additivity, the sample.

The unit cases price the fictional provider ``Acme`` from ``tests/data/reconcile_prices.csv`` (per 1M
tokens: input 2, cache read 0.5, 5-minute write 2.5, output 8; batch input 1, output 4; ``acme-2`` has
no input price). Expected amounts are written out by hand next to each case.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops_lib import fx, reconcile
from finops_lib import pricing as prices
from finops_lib.errors import ParameterError
from finops_lib.facts import Facts, open_facts
from finops_lib.paths import SAMPLE_DIR
from finops_lib.schema import REQUEST_TOKEN_COLUMNS, TOKEN_BUCKETS
from finops_lib.views import theme
from finops_lib.views.reconciliation import charts as charts_reconcile

D = Decimal
DATA = Path(__file__).parent / "data"
CATALOG = prices.load_catalog(DATA / "reconcile_prices.csv", shipped=False, aliases=DATA / "reconcile_aliases.csv")
MONEY = pa.decimal128(38, 12)
COST_TYPES = {
    "ChargePeriodStart": pa.timestamp("us", tz="UTC"), "BilledCost": MONEY, "EffectiveCost": MONEY, "ListCost": MONEY,
    "ContractedCost": MONEY, "ContractedUnitPrice": MONEY, "ConsumedQuantity": MONEY,
}  # fmt: skip
COST_TEXT = ("ProviderName", "x_Model", "x_TokenType", "x_ServiceTier", "x_ContextTier", "x_DeploymentType",
             "x_CostBasis", "ChargeCategory", "ServiceCategory", "BillingCurrency", "SubAccountId", "SubAccountName",
             "x_ApiKeyId", "x_DataQualityFlags", "PricingUnit", "x_RowHash")  # fmt: skip


def costs_table(rows: list[dict]) -> ibis.Table:
    """A small ``costs`` table: invoiced rows unless said otherwise; ``amount`` and ``tokens`` as text."""
    out = []
    for i, row in enumerate(rows):
        r = {"ProviderName": "Acme", "x_Model": "acme-1", "x_TokenType": "input_uncached", "x_ServiceTier": "standard",
             "x_CostBasis": "invoiced", "ChargeCategory": "Usage", "ServiceCategory": "AI and Machine Learning",
             "BillingCurrency": "USD", "SubAccountId": "proj_gw", "x_DataQualityFlags": "", "PricingUnit": "1M Tokens",
             "day": "2026-06-01", "amount": None, "tokens": None, **row}  # fmt: skip
        amount, tokens = r.pop("amount"), r.pop("tokens")
        money = D(amount) if amount is not None else None
        rec = {c: r.get(c) for c in COST_TEXT} | {"x_RowHash": f"c{i}"}
        rec |= {c: money for c in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")}
        rec |= {"ContractedUnitPrice": None, "ConsumedQuantity": D(tokens) if tokens is not None else None,
                "ChargePeriodStart": dt.datetime.fromisoformat(r["day"]).replace(tzinfo=dt.UTC)}  # fmt: skip
        out.append(rec)
    schema = pa.schema([(c, COST_TYPES.get(c, pa.string())) for c in (*COST_TEXT, *COST_TYPES)])
    return ibis.memtable(pa.Table.from_pylist(out, schema=schema))


def requests_table(rows: list[dict]) -> ibis.Table:
    """A small ``requests`` table: token buckets by name (``input_uncached=...``), Acme acme-1 by default."""
    out = []
    for i, row in enumerate(rows):
        r = {
            "ProviderName": "Acme",
            "x_Model": "acme-1",
            "x_ServiceTier": "standard",
            "x_ContextTier": None,
            "BillingCurrency": "USD",
            "x_DataQualityFlags": "",
            "x_Status": "success",
            "day": "2026-06-01",
            **row,
        }
        rec = {"x_RequestId": f"r{i}", "x_RowHash": f"h{i}", "ChargePeriodStart":
               dt.datetime.fromisoformat(r.pop("day") + "T12:00:00").replace(tzinfo=dt.UTC)}  # fmt: skip
        rec |= {column: int(r.pop(bucket, 0)) for bucket, column in REQUEST_TOKEN_COLUMNS.items()}
        out.append(rec | r)
    types = {"ChargePeriodStart": pa.timestamp("us", tz="UTC"), **dict.fromkeys(REQUEST_TOKEN_COLUMNS.values(),
                                                                                 pa.int64())}  # fmt: skip
    schema = pa.schema([(c, types.get(c, pa.string())) for c in out[0]])
    return ibis.memtable(pa.Table.from_pylist(out, schema=schema))


#: Keyword arguments of :func:`run` that are options of the facts rather than of :func:`reconcile.reconcile`.
FACT_OPTIONS = ("currency", "rates", "start_date", "end_date", "filters", "convert")


def facts_of(invoices: list[dict], logs: list[dict], **options: object) -> Facts:
    """The facts of a small warehouse (``costs`` from ``invoices``, ``requests`` from ``logs`` or none)."""
    return Facts(costs_table(invoices), requests_table(logs) if logs else None, **options)


def run(invoices: list[dict], logs: list[dict], **kw: object) -> reconcile.Reconciliation:
    options = {k: kw.pop(k) for k in FACT_OPTIONS if k in kw}
    return reconcile.reconcile(facts_of(invoices, logs, **options), catalog=CATALOG, **kw)


def total(rec: reconcile.Reconciliation) -> dict:
    """The single currency's totals as {column: Decimal}."""
    row = rec.summarize("total", by=()).iloc[0]
    return {c: row[c] for c in (*reconcile.MONEY_COLUMNS, "invoice_tokens", "estimated_tokens")}


def assert_adds_up(cells: pd.DataFrame) -> None:
    for row in cells.to_dict("records"):
        assert sum((row[c] for c in reconcile.COMPONENTS), D(0)) == row["gap"] == row["invoiced"] - row["estimated"]


# ---------------------------------------------------------------- hand-computed cases


def test_unseen_tokens_are_volume_and_a_lower_invoice_price_is_rate():
    invoices = [
        {"amount": "5.40", "tokens": "3000000"},  # catalog 3M x 2/M = 6.00: invoice 0.60 below it
        {"x_TokenType": "output", "amount": "4.00", "tokens": "500000"},
    ]  # catalog 500k x 8/M = 4.00
    logs = [{"input_uncached": 1_000_000, "output": 200_000}, {"input_uncached": 500_000, "output": 50_000}]
    t = total(run(invoices, logs))
    # estimate: 1.5M x 2/M + 250k x 8/M = 3.00 + 2.00 = 5.00; invoiced 9.40; gap 4.40
    assert (t["invoiced"], t["estimated"], t["gap"]) == (D("9.40"), D("5.00"), D("4.40"))
    # volume: 1.5M unseen input x 2/M + 250k unseen output x 8/M = 3.00 + 2.00; rate: 5.40 - 6.00
    assert (t["volume"], t["rate"]) == (D("5.00"), D("-0.60"))
    assert t["cache"] == t["tier"] == t["unpriced"] == t["unmatched_invoice"] == t["unmatched_estimate"] == 0
    assert t["non_ai"] == 0
    assert (t["invoice_tokens"], t["estimated_tokens"]) == (D(3_500_000), D(1_750_000))


def test_cache_reads_logged_as_uncached_input_are_cache_not_volume():
    invoices = [{"amount": "2.00", "tokens": "1000000"},
                {"x_TokenType": "input_cache_read", "amount": "0.50", "tokens": "1000000"}]  # fmt: skip
    logs = [{"input_uncached": 2_000_000}]  # the log counted the 1M cache reads as uncached input: 4.00
    t = total(run(invoices, logs))
    # gap 2.50 - 4.00 = -1.50: 1M tokens moved from 2/M to 0.5/M, none missing
    assert (t["gap"], t["cache"], t["volume"], t["rate"]) == (D("-1.50"), D("-1.50"), 0, 0)


def test_moved_and_missing_cache_tokens_split_between_cache_and_volume():
    invoices = [{"amount": "2.00", "tokens": "1000000"},
                {"x_TokenType": "input_cache_read", "amount": "1.00", "tokens": "2000000"}]  # fmt: skip
    logs = [{"input_uncached": 2_000_000}]
    t = total(run(invoices, logs))
    # uncached: -1M tokens, -2.00; cache read: +2M tokens, +1.00. Net 1M tokens missing, priced at the side in
    # excess (cache reads, 0.5/M): volume 0.50; the rest of the -1.00 gap is cache: -1.50
    assert (t["gap"], t["volume"], t["cache"], t["tier"]) == (D("-1.00"), D("0.50"), D("-1.50"), 0)


def test_batch_billed_tokens_logged_as_standard_are_tier():
    invoices = [{"x_ServiceTier": "batch", "amount": "2.00", "tokens": "2000000"}]  # batch 1/M
    logs = [{"input_uncached": 2_000_000}]  # standard 2/M: 4.00
    t = total(run(invoices, logs))
    assert (t["gap"], t["tier"], t["volume"], t["rate"], t["cache"]) == (D("-2.00"), D("-2.00"), 0, 0, 0)


def test_unpriced_bucket_is_its_own_component_never_zero_cost():
    invoices = [
        {"x_Model": "acme-2", "amount": "1.00", "tokens": "1000000"},  # no input price for acme-2
        {"x_Model": "acme-2", "x_TokenType": "output", "amount": "0.08", "tokens": "10000"},
    ]
    logs = [{"x_Model": "acme-2", "input_uncached": 1_000_000, "output": 10_000}]
    rec = run(invoices, logs)
    t = total(rec)
    # the output bucket is priced on both sides (10k x 8/M = 0.08); the input bucket's 1.00 is unpriced
    assert (t["estimated"], t["gap"], t["unpriced"], t["volume"], t["rate"]) == (D("0.08"), D("1.00"), D("1.00"), 0, 0)
    listed = rec.unpriced()
    assert listed[["model", "token_type"]].values.tolist() == [["acme-2", "input_uncached"]]
    assert (listed["invoiced"].iloc[0], listed["invoice_tokens"].iloc[0]) == (D("1.00"), D(1_000_000))
    assert listed["estimated_tokens"].iloc[0] == D(1_000_000)


def test_lines_without_counterpart_are_unmatched_both_ways_and_capacity_is_its_own_component():
    invoices = [{"x_Model": None, "x_TokenType": "non_token", "x_ServiceTier": "provisioned", "amount": "10"},
                {"x_TokenType": "output", "ChargeCategory": "Credit", "amount": "-1.5"},
                {"amount": "2.00", "tokens": "1000000"}]  # fmt: skip
    logs = [{"input_uncached": 1_000_000}, {"input_uncached": 500_000, "day": "2026-06-02"}]  # no invoice on 06-02
    rec = run(invoices, logs)
    t = total(rec)
    # provisioned hours are capacity (a known fixed cost), the credit without a model is unmatched
    assert (t["capacity"], t["unmatched_invoice"], t["unmatched_estimate"], t["volume"]) == (
        D("10"), D("-1.5"), D("-1.00"), 0)
    assert t["non_ai"] == 0  # an AI line without a model is AI spend, never non-AI
    assert t["gap"] == D("10") - D("1.5") + D("2.00") - D("3.00")
    ranked = rec.unexplained(top=5)  # capacity is explained: only the credit and the estimate without invoice
    assert ranked[["model", "periods", "cause"]].values.tolist() == [["acme-1", 2, "unmatched_invoice"]]
    assert ranked["unexplained"].tolist() == [D("-2.5")]  # -1.5 credit, -1.00 estimate without invoice


def test_invoiced_is_every_money_row_and_non_ai_charges_are_their_own_component():
    # Behaviour changed by design: the invoiced side is every money row of the facts (the spend every page shows),
    # so it includes non-AI services (their own component `non_ai`, never unexplained) and priced estimates on a
    # provider-day without an invoice; estimates on a provider-day with an invoice stay out (superseded).
    invoices = [
        {"amount": "2.00", "tokens": "1000000"},  # 06-01 invoice: catalog 2.00, rate 0
        {"x_CostBasis": "estimated", "amount": "2.10", "tokens": "1000000"},  # superseded by the 06-01 invoice
        {"x_Model": None, "x_TokenType": "non_token", "x_ServiceTier": "provisioned", "amount": "10"},  # AI, no model
        {"ProviderName": "AWS", "x_Model": None, "x_TokenType": "non_token", "ServiceCategory": "Compute",
         "PricingUnit": "Hours", "SubAccountId": "123456789012", "amount": "12.34", "tokens": "24"},  # EC2 hours
        {"x_CostBasis": "estimated", "amount": "1.00", "tokens": "500000", "day": "2026-06-02"},  # no invoice 06-02
        {"amount": "0.80", "tokens": "500000", "BillingCurrency": "EUR", "day": "2026-06-03"},  # 1.00 USD at 1.25
    ]  # fmt: skip
    logs = [{"input_uncached": 1_000_000}]  # 06-01: 2.00
    facts = facts_of(invoices, logs, rates=fx.load_rates(DATA / "reconcile_fx.csv", shipped=False))
    rec = reconcile.reconcile(facts, catalog=CATALOG)
    t = total(rec)
    # 2.00 + 10 + 12.34 + 1.00 + 0.80 x 1.25 = 26.34 (the superseded 2.10 left out)
    assert t["invoiced"] == facts.total("cost") == D("26.34")
    assert t["non_ai"] == D("12.34")  # exactly the compute charge
    assert (t["capacity"], t["unmatched_invoice"], t["volume"], t["rate"]) == (D("10"), 0, D("2.00"), 0)  # 06-02/03
    assert t["gap"] == D("26.34") - D("2.00") == sum((t[c] for c in reconcile.COMPONENTS), D(0))
    aws = rec.summarize("total", by=("ProviderName", "model")).set_index("ProviderName").loc["AWS"]
    assert (aws["model"], aws["invoiced"], aws["non_ai"], aws["unexplained"]) == (reconcile.NO_MODEL, D("12.34"),
                                                                                 D("12.34"), 0)  # fmt: skip
    assert "AWS" not in set(rec.unexplained()["ProviderName"])
    assert_adds_up(rec.cells)


def test_invoice_without_quantity_takes_the_usage_feed_of_its_account():
    invoice = {"amount": "3.00"}  # 3.00 for tokens the invoice does not count
    usage = {"x_CostBasis": "estimated", "tokens": "1000000", "x_DataQualityFlags": "unpriced"}
    logs = [{"input_uncached": 1_000_000}]
    fed = total(run([invoice, usage], logs))
    # the usage feed says 1M tokens: catalog 2.00, so the invoice's unit price is 1.00 above the catalog
    assert (fed["rate"], fed["volume"], fed["invoice_tokens"]) == (D("1.00"), 0, D(1_000_000))
    other = total(run([invoice, usage | {"SubAccountId": "proj_other"}], logs))
    partial = total(run([invoice, usage | {"x_DataQualityFlags": "partial_bucket,unpriced"}], logs))
    for t in (other, partial):  # no usable quantity: 1.5M tokens implied at catalog price, rate 0 by assumption
        assert (t["rate"], t["volume"], t["invoice_tokens"]) == (0, D("1.00"), D(1_500_000))
    assert run([invoice], logs).cells["quantity_source"].tolist() == ["implied"]


def test_accounts_restrict_invoices_to_the_gateway_keys():
    invoices = [{"amount": "2.00", "tokens": "1000000"},
                {"amount": "6.00", "tokens": "3000000", "SubAccountId": "proj_direct"}]  # fmt: skip
    logs = [{"input_uncached": 1_000_000}]
    everything = total(run(invoices, logs))
    assert (everything["invoiced"], everything["volume"]) == (D("8.00"), D("6.00"))
    for key in ("proj_gw", "key_gw"):
        rows = [invoices[0] | {"SubAccountId": key if key.startswith("proj") else None, "x_ApiKeyId": key},
                invoices[1]]  # fmt: skip
        mine = run(rows, logs, accounts=[key])
        assert total(mine)["gap"] == 0 and mine.accounts == (key,)
        assert mine.agreement()["share_within"].tolist() == [1.0]


def test_family_id_resolves_to_the_snapshot_through_the_aliases():
    rec = run([{"x_Model": "acme", "amount": "2.00", "tokens": "1000000"}], [{"input_uncached": 1_000_000}])
    assert rec.cells["model"].tolist() == ["acme-1"] and total(rec)["gap"] == 0


def test_usage_basis_prices_the_usage_feed():
    invoices = [{"amount": "2.20", "tokens": "1000000"},
                {"x_CostBasis": "estimated", "tokens": "1000000"}]  # fmt: skip
    t = total(run(invoices, [], basis="usage"))
    assert (t["estimated"], t["rate"], t["volume"]) == (D("2.00"), D("0.20"), 0)


def test_one_currency_per_reconciliation_only_its_rows_or_converted_at_the_dated_rate(tmp_path):
    # Behaviour changed by design: a reconciliation is now always in the facts' one currency (the old API kept
    # billing currencies side by side and refused to total them). Two dated rates, none on 06-03:
    # 1 EUR = 1.25 USD on 06-01 (USD->EUR 0.8) and 1 EUR = 2 USD on 06-02 (USD->EUR 0.5).
    path = tmp_path / "fx.csv"
    path.write_text("from_currency,to_currency,rate,effective_from,effective_to,source\n"
                    "USD,EUR,0.8,2026-01-01,2026-06-02,test: inverse 1.25 exact\n"
                    "USD,EUR,0.5,2026-06-02,2026-06-03,test: inverse 2 exact\n", encoding="utf-8")  # fmt: skip
    rates = fx.load_rates(path, shipped=False)
    invoices = [
        {"amount": "1.60", "tokens": "1000000", "BillingCurrency": "EUR"},  # 2.00 USD at 1.25 = catalog 1M x 2/M
        {"x_TokenType": "output", "amount": "4.40", "tokens": "500000"},  # USD; catalog 500k x 8/M = 4.00
        {"amount": "1.00", "tokens": "1000000", "BillingCurrency": "EUR", "day": "2026-06-02"},  # 2.00 USD at 2
    ]
    logs = [{"input_uncached": 1_000_000, "output": 500_000},  # 2.00 + 4.00 USD
            {"input_uncached": 1_000_000, "day": "2026-06-02"}]  # 2.00 USD  # fmt: skip

    # (a) convert=False: only the USD invoice (4.40) is reconciled; the logs are USD, so the whole estimate 8.00
    # stays. 06-01: 1M logged input the kept invoice lacks is volume -2.00, output rate +0.40; 06-02 has no USD
    # invoice at all: its estimate is unmatched (-2.00). Gap 4.40 - 8.00 = -3.60.
    only_usd = run(invoices, logs, rates=rates, convert=False)
    t = total(only_usd)
    assert (t["invoiced"], t["estimated"], t["gap"]) == (D("4.40"), D("8.00"), D("-3.60"))
    assert (t["volume"], t["rate"], t["unmatched_estimate"]) == (D("-2.00"), D("0.40"), D("-2.00"))
    assert only_usd.currency == "USD" and only_usd.rates_used.empty
    assert set(only_usd.summarize("total")["BillingCurrency"]) == {"USD"}
    # in EUR without conversion: only the two EUR invoices (2.60 EUR), no log (they are USD), so the gap is the
    # catalog value of their 2M tokens in EUR: 1M x 2/M x 0.8 + 1M x 2/M x 0.5 = 1.60 + 1.00, all volume
    only_eur = total(run(invoices, logs, rates=rates, currency="EUR", convert=False))
    assert (only_eur["invoiced"], only_eur["estimated"], only_eur["volume"]) == (D("2.60"), 0, D("2.60"))

    # (b) converted to USD at each day's rate: 2.00 + 4.40 + 2.00 = 8.40 invoiced against 8.00; the gap is the
    # output's rate (+0.40). Had 06-02 used 06-01's rate, its invoice would be 1.25 USD instead of 2.00.
    usd = run(invoices, logs, rates=rates)
    t = total(usd)
    assert (t["invoiced"], t["estimated"], t["gap"], t["rate"], t["volume"]) == (D("8.40"), D("8.00"), D("0.40"),
                                                                                  D("0.40"), 0)  # fmt: skip
    days = usd.summarize("day", by=())
    assert days["invoiced"].tolist() == [D("6.40"), D("2.00")] and days["gap"].tolist() == [D("0.40"), 0]
    assert usd.currency == "USD" and set(usd.summarize("total")["BillingCurrency"]) == {"USD"}
    assert usd.rates_used[["from_currency", "to_currency", "rate", "derivation", "exact", "applied_to",
                           "rows_converted"]].values.tolist() == [
        ["EUR", "USD", D("1.25"), "inverse", True, "amounts (rows)", 1],
        ["EUR", "USD", D("2"), "inverse", True, "amounts (rows)", 1],
    ]  # fmt: skip
    # to EUR: the USD invoice 4.40 x 0.8 = 3.52, plus 1.60 + 1.00 EUR = 6.12; the USD catalog prices are converted
    # the same way: (2.00 + 4.00) x 0.8 + 2.00 x 0.5 = 5.80. Gap 0.32 = rate 3.52 - 4.00 x 0.8.
    eur = run(invoices, logs, rates=rates, currency="EUR")
    t = total(eur)
    assert (t["invoiced"], t["estimated"], t["gap"], t["rate"], t["volume"]) == (D("6.12"), D("5.80"), D("0.32"),
                                                                                  D("0.32"), 0)  # fmt: skip
    assert eur.rates_used[["from_currency", "to_currency", "rate", "applied_to", "rows_converted"]].values.tolist() \
        == [["USD", "EUR", D("0.5"), "amounts (rows)", 1],  # the 06-02 log
            ["USD", "EUR", D("0.5"), "catalog prices (days)", 1],
            ["USD", "EUR", D("0.8"), "amounts (rows)", 2],  # the 06-01 USD invoice and log
            ["USD", "EUR", D("0.8"), "catalog prices (days)", 1]]  # fmt: skip

    # (c) a day without a rate is an error naming the pair and the day, never a silent 1:1 or a dropped row
    late = [*invoices, {"amount": "1.00", "tokens": "500000", "BillingCurrency": "EUR", "day": "2026-06-03"}]
    with pytest.raises(ParameterError, match=r"no exchange rate EUR->USD for 2026-06-03"):
        run(late, logs, rates=rates)
    assert total(run(late, logs, rates=rates, end_date="2026-06-02"))["invoiced"] == D("8.40")  # outside the window


def test_month_granularity_sums_the_days():
    invoices = [{"amount": "2.00", "tokens": "1000000", "day": d} for d in ("2026-06-01", "2026-06-30", "2026-07-01")]
    logs = [{"input_uncached": 500_000, "day": "2026-06-01"}]
    months = run(invoices, logs).summarize("month", by=())
    assert months["period"].tolist() == [dt.date(2026, 6, 1), dt.date(2026, 7, 1)]
    assert months["volume"].tolist() == [D("3.00"), D("2.00")] and months["gap_pct"].tolist() == [0.75, 1.0]


def test_window_provider_and_parameter_checks():
    # providers, dates and currency are now options of the facts (filters={"provider": ...}, start_date, currency)
    invoices = [{"amount": "2.00", "tokens": "1000000", "day": d} for d in ("2026-06-01", "2026-06-02")]
    invoices.append({"ProviderName": "Zen", "x_Model": "zen-1", "amount": "7.00", "tokens": "1000000",
                     "day": "2026-06-02"})  # fmt: skip
    logs = [{"input_uncached": 1}]  # on 06-01: 1 token x 2/M
    everything = total(run(invoices, logs))
    assert (everything["invoiced"], everything["estimated"]) == (D("11.00"), D("0.000002"))
    rec = run(invoices, logs, start_date="2026-06-02", filters={"provider": "Acme"})
    assert rec.date_range() == (dt.date(2026, 6, 2), dt.date(2026, 6, 2))
    assert set(rec.cells["ProviderName"]) == {"Acme"}
    assert (total(rec)["invoiced"], total(rec)["estimated"]) == (D("2.00"), 0)  # Zen's 7.00 and the 06-01 log out
    both = total(run(invoices, logs, start_date="2026-06-02", filters={"provider": ["Acme", "Zen"]}))
    assert (both["invoiced"], both["unpriced"]) == (D("9.00"), D("7.00"))  # zen-1 has no catalog price

    whole = facts_of(invoices, logs)
    assert reconcile.check_parameters(whole, provider="acme", granularity="month") == {
        "provider": "Acme", "start_date": None, "end_date": None, "granularity": "month",
        "basis": "requests"}  # fmt: skip
    assert reconcile.check_parameters(whole, provider="ZEN", start_date=dt.date(2026, 6, 1), end_date="2026-06-02",
                                      basis="usage") == {
        "provider": "Zen", "start_date": "2026-06-01", "end_date": "2026-06-02", "granularity": "day",
        "basis": "usage"}  # fmt: skip
    assert reconcile.check_parameters(whole, provider="All")["provider"] == "all"
    for bad, message in (({"provider": "Nope"}, "unknown provider 'Nope'; the data has Acme, Zen"),
                         ({"granularity": "week"}, "granularity"), ({"basis": "vibes"}, "basis"),
                         ({"start_date": "2026-06-31"}, "ISO date"),
                         ({"start_date": "2026-07-01", "end_date": "2026-06-01"}, "after")):  # fmt: skip
        with pytest.raises(ParameterError, match=message):
            reconcile.check_parameters(whole, **bad)
    with pytest.raises(ParameterError, match="ISO 4217"):  # the currency is checked by the facts now
        facts_of(invoices, logs, currency="usd")
    with pytest.raises(ParameterError, match="needs request logs"):
        run(invoices, [])


# ---------------------------------------------------------------- exact additivity


def test_net_effect_prices_the_net_tokens_at_the_side_in_excess():
    assert reconcile.net_effect([(D(5), D(10)), (D(3), D(1))]) == D(11)  # one sign: everything
    assert reconcile.net_effect([(D(-4), D(-8)), (D(4), D(2))]) == 0  # only moved
    assert reconcile.net_effect([(D(-1), D(-1)), (D(3), D(1))]) == D("0.666666666667")  # 2 of 3 at 1/3 each


TOKENS = st.integers(min_value=0, max_value=10**12).map(D)
AMOUNT = st.decimals(min_value=-(10**6), max_value=10**6, places=12, allow_nan=False, allow_infinity=False)
LINE = st.fixed_dictionaries({
    "ProviderName": st.sampled_from(["Acme", "Zen"]), "model": st.sampled_from(["m1", "m2", None]),
    "day": st.sampled_from([dt.date(2026, 6, 1), dt.date(2026, 6, 30), dt.date(2026, 7, 1)]),
    "BillingCurrency": st.sampled_from(["USD", "EUR"]), "service_tier": st.sampled_from(["standard", "batch"]),
    "context_tier": st.sampled_from(["standard", "long"]), "token_type": st.sampled_from(TOKEN_BUCKETS),
    "inv_priced": AMOUNT, "inv_catalog": AMOUNT, "inv_tokens": TOKENS, "inv_unpriced": AMOUNT,
    "inv_unpriced_tokens": TOKENS, "inv_unmatched": AMOUNT, "inv_capacity": AMOUNT, "inv_non_ai": AMOUNT,
    "est_cost": AMOUNT, "est_tokens": TOKENS,
    "est_unpriced_tokens": TOKENS, "invoice_line": st.booleans(), "unpriced": st.booleans(),
    "quantity_source": st.sampled_from(["invoice", "usage", "implied", ""]),
})  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LINE, min_size=1, max_size=25))
def test_components_add_up_to_the_gap_exactly(lines):
    frame = pd.DataFrame(lines).drop_duplicates(subset=list(reconcile.KEY)).reset_index(drop=True)
    cells = reconcile.decompose(frame)
    assert_adds_up(cells)
    rec = reconcile.Reconciliation(frame, cells)
    for granularity in ("month", "total"):
        s = rec.summarize(granularity, by=("ProviderName",))
        assert all(sum((r[c] for c in reconcile.COMPONENTS), D(0)) == r["gap"] for r in s.to_dict("records"))
    assert sum(rec.components()["amount"], D(0)) == sum(cells["gap"], D(0))


@settings(max_examples=40, deadline=None)
@given(st.lists(LINE, min_size=1, max_size=10), st.integers(min_value=1, max_value=9))
def test_a_partial_view_of_priced_traffic_is_only_volume(lines, tenths):
    """Logs that see the same share of every priced line at catalog prices: the whole gap is volume."""
    share = D(tenths) / 10
    frame = pd.DataFrame(lines).drop_duplicates(subset=list(reconcile.KEY)).reset_index(drop=True)
    frame = frame.assign(inv_tokens=[abs(t) for t in frame["inv_tokens"]], inv_unpriced=D(0), inv_unmatched=D(0),
                         inv_capacity=D(0), inv_non_ai=D(0), est_unpriced_tokens=D(0), invoice_line=True,
                         unpriced=False)  # fmt: skip
    frame = frame.assign(inv_catalog=frame["inv_priced"], est_tokens=[t * share for t in frame["inv_tokens"]],
                         est_cost=[c * share for c in frame["inv_priced"]])  # fmt: skip
    cells = reconcile.decompose(frame)
    assert_adds_up(cells)
    assert all(c["cache"] == c["tier"] == c["rate"] == 0 for c in cells.to_dict("records"))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["input_uncached", "input_cache_read", "output"]),
                          st.sampled_from(["standard", "batch"]), st.integers(0, 5_000_000),
                          st.integers(0, 500), st.booleans()), min_size=1, max_size=6),
       st.lists(st.tuples(st.integers(0, 3_000_000), st.integers(0, 3_000_000), st.integers(0, 300_000)),
                min_size=1, max_size=4))  # fmt: skip
def test_reconcile_adds_up_end_to_end(invoice_lines, requests):
    invoices = [
        {
            "x_TokenType": bucket,
            "x_ServiceTier": tier,
            "tokens": str(tokens) if counted else None,
            "amount": str(D(cents) / 100),
        }
        for bucket, tier, tokens, cents, counted in invoice_lines
    ]
    logs = [{"input_uncached": u, "input_cache_read": r, "output": o} for u, r, o in requests]
    rec = run(invoices, logs)
    assert_adds_up(rec.cells)
    t = total(rec)
    assert t["invoiced"] == sum((D(i["amount"]) for i in invoices), D(0))


# ---------------------------------------------------------------- charts


def test_charts_take_the_reconciliation_frames():
    rec = run(
        [{"amount": "5.40", "tokens": "3000000"}, {"x_Model": None, "x_TokenType": "non_token", "amount": "1"}],
        [{"input_uncached": 1_000_000}],
    )
    spec = theme.chart_spec(charts_reconcile.plot_gap_waterfall(rec.components(), currency="EUR"))
    data = spec["datasets"][spec["layer"][0]["data"]["name"]] if "data" in spec["layer"][0] else \
        spec["datasets"][spec["data"]["name"]]  # fmt: skip
    assert [row["step"] for row in data] == ["Estimated", *charts_reconcile.COMPONENT_LABELS.values(), "Invoiced"]
    assert [row["kind"] for row in data][:3] == ["total", "increase", "decrease"]  # volume +4.00, rate -0.60
    assert (
        data[-1]["high"] == pytest.approx(6.40) and spec["layer"][0]["encoding"]["y"]["axis"]["title"] == "Cost (EUR)"
    )
    lines = theme.chart_spec(
        charts_reconcile.plot_invoiced_vs_estimated(rec.summarize("month", by=()), currency="USD", granularity="month")
    )
    assert lines["encoding"]["color"]["scale"]["domain"] == ["Invoiced", "Estimated"]
    assert lines["encoding"]["x"]["field"] == "period" and lines["encoding"]["x"]["timeUnit"] == "yearmonth"
    parts = theme.chart_spec(charts_reconcile.plot_gap_components(rec.components(granularity="day"), currency="USD"))
    # by size; the 1.00 line without a model, bucket or Generative AI subcategory is outside the AI scope
    assert parts["encoding"]["color"]["scale"]["domain"] == ["Volume", "Non-AI services", "Rate"]
    agreement = theme.chart_spec(charts_reconcile.plot_agreement(rec.summarize("day", by=("ProviderName",))))
    assert agreement["layer"][0]["encoding"]["y"]["axis"]["format"] == ".2%"
    table = charts_reconcile.fmt_table(rec.unexplained(), caption="x").to_html()
    assert "Largest component" in table and "Unmatched invoice" in table


# ---------------------------------------------------------------- the sample


@pytest.fixture(scope="module")
def sample():
    from finops_lib import engine
    from finops_lib.warehouse import ingestion as ingest

    con = engine.memory()
    ingest.ingest([SAMPLE_DIR / "litellm", SAMPLE_DIR / "openai", SAMPLE_DIR / "anthropic"], con=con)
    yield con
    con.disconnect()


def gateway_accounts() -> list[str]:
    from finops_lib.sample import story

    return [story.GW_OPENAI["project_id"], story.GW_ANTHROPIC["workspace_id"]]


def raw_invoices(accounts: list[str] | None) -> dict[tuple[str, str], Decimal]:
    """Invoiced USD per (provider, day) from the OpenAI Costs and Anthropic cost report pages themselves."""
    out: dict[tuple[str, str], Decimal] = {}
    for page in sorted((SAMPLE_DIR / "openai").glob("costs_page_*.json")):
        for bucket in json.loads(page.read_text(), parse_float=D)["data"]:
            day = dt.datetime.fromtimestamp(bucket["start_time"], dt.UTC).date().isoformat()
            for r in bucket["results"]:
                if accounts is None or r["project_id"] in accounts:
                    out[("OpenAI", day)] = out.get(("OpenAI", day), D(0)) + D(r["amount"]["value"])
    for page in sorted((SAMPLE_DIR / "anthropic").glob("cost_report_page_*.json")):
        for bucket in json.loads(page.read_text())["data"]:
            for r in bucket["results"]:
                if accounts is None or r["workspace_id"] in accounts:
                    key = ("Anthropic", bucket["starting_at"][:10])
                    out[key] = out.get(key, D(0)) + D(r["amount"]) / 100  # cents
    return out


def truth_gateway() -> dict[tuple[str, str], Decimal]:
    out: dict[tuple[str, str], Decimal] = {}
    names = {"openai": "OpenAI", "anthropic": "Anthropic"}
    with open(SAMPLE_DIR / "truth" / "daily_cost.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["channel"] == "gateway":
                key = (names[row["provider"]], row["date"])
                out[key] = out.get(key, D(0)) + D(row["cost"])
    return out


@pytest.mark.slow
def test_sample_gateway_keys_reconcile_within_a_tenth_of_a_percent_per_provider_and_day(sample):
    """Acceptance: for the traffic the gateway saw, the estimate reproduces the invoice within 0.1%."""
    rec = reconcile.reconcile(open_facts(sample), catalog=prices.sample_catalog(), accounts=gateway_accounts())
    assert_adds_up(rec.cells)
    days = rec.summarize("day", by=("ProviderName",))
    invoiced, truth = raw_invoices(gateway_accounts()), truth_gateway()
    got = {(r["ProviderName"], r["period"].isoformat()): r for r in days.to_dict("records")}
    assert {k for k, v in invoiced.items() if v} == {k for k, r in got.items() if r["invoiced"]}
    for key, row in got.items():
        assert row["invoiced"] == invoiced[key]  # exact, from the raw pages
        assert abs(row["gap"]) <= row["invoiced"] * D("0.001"), (key, row["gap"])
        assert abs(row["estimated"] - truth[key]) <= truth[key] * D("0.001")  # the generator's truth
    agreement = rec.agreement(tolerance=0.001)
    assert agreement["within"].tolist() == agreement["days"].tolist() == [180, 179]  # no OpenAI traffic on 06-26
    assert rec.unpriced().empty


@pytest.mark.slow
def test_sample_gateway_coverage_gap_is_volume_not_rate(sample):
    facts = open_facts(sample)
    rec = reconcile.reconcile(facts, catalog=prices.sample_catalog())
    assert_adds_up(rec.cells)
    s = rec.summarize("total", by=("ProviderName",)).set_index("ProviderName")
    invoiced = raw_invoices(None)
    # the invoiced side is every money row: the spend the facts show, and here exactly the two vendors' invoices
    assert rec.total()["invoiced"] == facts.total("cost") == sum(invoiced.values(), D(0))
    for provider in ("OpenAI", "Anthropic"):
        row = s.loc[provider]
        assert row["invoiced"] == sum((v for (p, _), v in invoiced.items() if p == provider), D(0))
        assert row["gap"] > row["invoiced"] * D("0.95")  # the gateway sees a few percent of the traffic
        assert row["volume"] == row["gap"] and row["rate"] == row["cache"] == row["tier"] == 0


def test_a_cut_of_the_whole_reconciliation_is_the_reconciliation_of_the_cut(sample):
    """Widgets cut one reconciliation by window and provider: lines are matched per provider and day."""
    facts = open_facts(sample).explore()
    whole = reconcile.reconcile(facts)
    first, last = whole.date_range()
    cuts = [(first + dt.timedelta(days=20), first + dt.timedelta(days=50), ()),
            (None, last - dt.timedelta(days=100), ("OpenAI",)), (last, last, ("Anthropic", "OpenAI")), (None, None, ())]
    for start, end, providers in cuts:
        cut = whole.within(start, end, providers)
        direct = reconcile.reconcile(facts.with_options(start_date=start, end_date=end,
                                                        filters={"provider": list(providers)}))  # fmt: skip
        assert cut.total() == direct.total(), (start, end, providers)
        assert cut.date_range() == direct.date_range()
        pd.testing.assert_frame_equal(cut.unexplained(top=50), direct.unexplained(top=50))
    assert whole.within(last, last).total()["invoiced"] > 0 and len(whole.within(last, last).cells) < len(whole.cells)
