"""Unit economics on a hand-made month: cost per 1M tokens, per request, per active user, cache and batch savings.

The rows are billed in USD; unit economics in EUR convert them at a test rate of 0.80 EUR per USD.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import ibis
import pandas as pd
import pytest

from finops_lib import fx, schema
from finops_lib import rules as rulebook
from finops_lib.allocation import unit_costs as kpis
from finops_lib.errors import ParameterError, SchemaError
from finops_lib.facts import Facts
from finops_lib.views.attribution import charts as charts_attribution
from finops_lib.views.theme import chart_spec

D = Decimal
M = 1_000_000
RULES = Path(__file__).parent / "data" / "allocation_rules.yaml"

_DEFAULTS = {
    "BillingAccountId": "org", "BillingCurrency": "USD", "ChargeCategory": "Usage", "InvoiceIssuerName": "Anthropic",
    "PublisherName": "Anthropic", "ServiceCategory": "AI and Machine Learning", "ServiceName": "Claude API",
    "ProviderName": "Anthropic", "x_SourceFormat": "test", "x_SourceFile": "t.json", "x_DataQualityFlags": "",
    "x_Model": "m1", "x_Team": "a", "x_ServiceTier": "standard", "BilledCost": None, "ListCost": None,
    "ConsumedQuantity": None, "x_RequestCount": None,
}  # fmt: skip


def _rows() -> list[dict]:
    """One January day: invoiced cost per bucket and the usage feed's tokens (team a), plus team b's model m2."""
    billed = [  # token type, tier, cost, list cost, tokens
        ("input_uncached", "standard", "30", "30", 10 * M), ("input_cache_read", "standard", "3", "3", 10 * M),
        ("input_cache_write_5m", "standard", "3.75", "3.75", 1 * M), ("output", "standard", "150", "160", 10 * M),
        ("input_uncached", "batch", "15", "15", 10 * M), ("output", "batch", "75", "75", 10 * M),
    ]  # fmt: skip
    rows = []
    for token_type, tier, cost, listed, tokens in billed:
        rows.append({"x_TokenType": token_type, "x_ServiceTier": tier, "x_CostBasis": "invoiced", "BilledCost": cost,
                     "ListCost": listed})  # fmt: skip
        rows.append({"x_TokenType": token_type, "x_ServiceTier": tier, "x_CostBasis": "estimated",
                     "ConsumedQuantity": str(tokens), "x_RequestCount": 1000 if token_type == "output" and tier ==
                     "standard" else None})  # fmt: skip
    rows.append({"x_TokenType": "non_token", "x_CostBasis": "invoiced", "BilledCost": "10", "x_Model": None})
    rows.append({"x_TokenType": "output", "x_CostBasis": "invoiced", "BilledCost": "8", "x_Model": "m2",
                 "x_Team": "b", "Tags": json.dumps({"team": "b"})})  # fmt: skip
    rows.append({"x_TokenType": "output", "x_CostBasis": "estimated", "ConsumedQuantity": str(2 * M), "x_Model": "m2",
                 "x_Team": "b"})  # fmt: skip
    return rows


def costs() -> ibis.Table:
    day = pd.Timestamp("2026-01-10", tz="UTC")
    records = []
    for i, row in enumerate(_rows()):
        rec = _DEFAULTS | {"ChargePeriodStart": day, "ChargePeriodEnd": day + pd.Timedelta(days=1),
                           "BillingPeriodStart": day.replace(day=1), "BillingPeriodEnd": pd.Timestamp("2026-02-01",
                           tz="UTC"), "x_SourceRow": i + 2, "x_RowHash": f"k{i}"} | row  # fmt: skip
        rec["ListCost"] = rec["ListCost"] or rec["BilledCost"]
        rec["EffectiveCost"] = rec["BilledCost"]
        records.append(rec)
    return schema.conform(ibis.memtable(pd.DataFrame(records)), "costs")


USERS = pd.DataFrame({"month": [pd.Timestamp("2026-01-01")] * 2, "team": ["a", "b"], "value": [5.0, 0.0]})


@pytest.fixture(scope="module")
def by_team() -> pd.DataFrame:
    return kpis.unit_economics(Facts(costs()), by=("team",), metric=USERS).set_index("team")


def test_costs_tokens_and_prices_per_team(by_team: pd.DataFrame) -> None:
    a = by_team.loc["a"]
    assert a["period"] == pd.Timestamp("2026-01-01") and a["currency"] == "USD"
    assert (a["cost"], a["token_cost"]) == (D("286.75"), D("276.75"))
    assert (a["list_cost"], a["effective_cost"]) == (D("296.75"), D("286.75"))
    assert a["tokens"] == 51 * M and a["input_tokens"] == 31 * M and a["output_tokens"] == 20 * M
    assert (a["cache_read_tokens"], a["cache_write_tokens"]) == (10 * M, 1 * M)
    assert a["cost_per_1m_tokens"] == pytest.approx(276.75 / 51)
    assert a["cost_per_1m_input"] == pytest.approx(51.75 / 31)
    assert a["cost_per_1m_output"] == pytest.approx(225 / 20)
    assert a["cost_per_request"] == pytest.approx(276.75 / 1000)
    assert a["output_input_ratio"] == pytest.approx(20 / 31)
    assert a["effective_to_list"] == pytest.approx(286.75 / 296.75)


def test_cache_and_batch_savings_against_observed_prices(by_team: pd.DataFrame) -> None:
    a = by_team.loc["a"]
    assert a["cache_hit_rate"] == pytest.approx(10 / 31)
    # reads: 10M x $3/M uncached - $3; 5-minute writes: 1M x $3/M - $3.75 (a premium, so negative)
    assert a["cache_savings"] == pytest.approx(27 - 0.75)
    # batch input 10M x $3/M - $15, batch output 10M x $15/M - $75 (standard prices of the same model)
    assert a["batch_savings"] == pytest.approx(15 + 75)
    assert a["batch_share"] == pytest.approx(90 / 276.75)


def test_metric_and_groups_without_a_reference_price(by_team: pd.DataFrame) -> None:
    assert by_team.loc["a", "metric_value"] == 5 and by_team.loc["a", "cost_per_metric"] == pytest.approx(57.35)
    b = by_team.loc["b"]
    assert b["cost_per_1m_output"] == pytest.approx(4.0)
    assert pd.isna(b["cost_per_metric"])  # 0 users: undefined, not infinite
    assert pd.isna(b["cost_per_request"]) and pd.isna(b["cache_savings"]) and pd.isna(b["batch_savings"])


def test_by_model_and_errors() -> None:
    facts = Facts(costs())
    models = kpis.unit_economics(facts, by=("model",)).set_index("model")
    assert set(models.index) == {"m1", "m2", "(none)"}
    assert models.loc["m2", "cost_per_1m_tokens"] == pytest.approx(4.0)
    both = kpis.unit_economics(facts, by=("team", "model"))
    assert len(both) == 3 and sum(both["cost"], D(0)) == D("294.75")
    # nothing is billed in EUR: without conversion there is nothing to show
    assert kpis.unit_economics(facts.with_options(currency="EUR", convert=False), by=("team",)).empty
    with pytest.raises(ParameterError, match="by must name dimensions"):
        kpis.unit_economics(facts, by=("colour",))
    with pytest.raises(ParameterError, match="needs by=\\('team',\\)"):
        kpis.unit_economics(facts.with_options(rules=rulebook.load_rules(RULES)), by=("model",),
                            metric="active_users")  # fmt: skip


def test_unit_economics_in_another_currency(tmp_path: Path) -> None:
    path = tmp_path / "fx.csv"
    path.write_text("from_currency,to_currency,rate,effective_from,effective_to,source\n"
                    "USD,EUR,0.80,2026-01-01,,test rate\n", encoding="utf-8")  # fmt: skip
    eur = kpis.unit_economics(Facts(costs(), currency="EUR", rates=fx.load_rates(path, shipped=False)),
                              by=("team",), metric=USERS).set_index("team")  # fmt: skip
    a, b = eur.loc["a"], eur.loc["b"]
    assert set(eur["currency"]) == {"EUR"}
    # every amount x 0.8: 286.75 -> 229.40, 276.75 -> 221.40, list 296.75 -> 237.40; b's 8 -> 6.40
    assert (a["cost"], a["token_cost"], a["list_cost"], a["effective_cost"]) == (D("229.4"), D("221.4"),
                                                                                D("237.4"), D("229.4"))  # fmt: skip
    assert b["cost"] == D("6.4")
    assert a["tokens"] == 51 * M and a["requests"] == 1000  # tokens and requests do not change
    assert a["cost_per_1m_tokens"] == pytest.approx(221.4 / 51)
    assert a["cost_per_request"] == pytest.approx(221.4 / 1000)
    assert a["cost_per_metric"] == pytest.approx(229.4 / 5)
    assert b["cost_per_1m_output"] == pytest.approx(3.2)
    assert a["cache_savings"] == pytest.approx((27 - 0.75) * 0.8)
    assert a["batch_savings"] == pytest.approx(90 * 0.8)
    # ratios of two amounts do not depend on the currency
    assert a["cache_hit_rate"] == pytest.approx(10 / 31) and a["batch_share"] == pytest.approx(90 / 276.75)
    assert a["effective_to_list"] == pytest.approx(286.75 / 296.75)


def test_unit_cost_chart(by_team: pd.DataFrame) -> None:
    frame = by_team.reset_index()
    spec = chart_spec(charts_attribution.plot_unit_cost(frame, by="team", metric="cost_per_1m_tokens", currency="EUR"))
    assert spec["encoding"]["color"]["scale"]["domain"] == ["a", "b"]  # largest cost first
    assert spec["encoding"]["y"]["axis"]["title"] == "Cost per 1M tokens (EUR)"
    assert "€" in spec["encoding"]["y"]["axis"]["labelExpr"]
    assert spec["title"] == "Cost per 1M tokens by team"
    share = chart_spec(charts_attribution.plot_unit_cost(frame, by="team", metric="cache_hit_rate", currency="USD"))
    assert share["encoding"]["y"]["axis"]["format"] == ".0%"
    with pytest.raises(SchemaError, match="unknown metric"):
        charts_attribution.plot_unit_cost(frame, by="team", metric="vibes", currency="USD")
