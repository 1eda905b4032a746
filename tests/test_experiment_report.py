"""Notebook glue of the experiment comparison: parameter checks and the choice of the change to measure."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis
import numpy as np
import pandas as pd
import pytest

from finops_lib import fx
from finops_lib.errors import ParameterError
from finops_lib.facts import Facts
from finops_lib.views.experiments import page as er
from finops_lib.views.experiments import tables


def test_pick_change_from_logs_and_from_facts() -> None:
    logs = pd.DataFrame({"x_Application": ["a", "b"], "x_Feature": ["f", "g"],
                         "change_date": [dt.date(2026, 8, 24), None], "ratio": [1.38, np.nan],
                         "p_value": [1e-9, np.nan]})  # fmt: skip
    assert er.pick_change(logs) == ("2026-08-24", {"x_Application": "a", "x_Feature": "f"})
    # a shift that is not real (p >= 0.05, or under 5 %) is not "found": nothing is measured by default
    assert er.pick_change(logs.assign(p_value=[0.2, np.nan])) == ("", {"x_Application": "", "x_Feature": ""})
    assert er.pick_change(logs.assign(ratio=[1.01, np.nan])) == ("", {"x_Application": "", "x_Feature": ""})
    # a feature missing from the logs is no feature filter (never the text 'nan')
    missing = logs.assign(x_Feature=[None, "g"])
    assert er.pick_change(missing) == ("2026-08-24", {"x_Application": "a", "x_Feature": None})
    assert er.pick_change(logs, change_date="2026-09-01", application="b", feature="g") == (
        "2026-09-01", {"x_Application": "b", "x_Feature": "g"})
    facts = pd.DataFrame({"team": ["eng"], "application": ["a"], "change_date": [dt.date(2026, 7, 6)],
                          "ratio": [0.8], "p_value": [0.001]})  # fmt: skip
    assert er.pick_change(facts) == ("2026-07-06", {"x_Application": "a", "x_Team": "eng"})
    assert er.pick_change(facts.iloc[:0]) == ("", {"x_Application": ""})


def test_parameters_are_checked() -> None:
    ts = pd.Timestamp("2026-06-01", tz="UTC")
    df = pd.DataFrame({"ChargePeriodStart": [ts, ts], "x_ExperimentId": ["e", "e"], "x_Variant": ["a", "b"],
                       "x_Status": "success", "x_ReportedCost": [1.0, 2.0], "x_EstimatedCost": [None, None],
                       "x_LatencyMs": 1.0, "x_QualityScore": 0.5, "x_InputUncachedTokens": 1,
                       "x_InputCacheReadTokens": 0, "x_InputCacheWrite5mTokens": 0, "x_InputCacheWrite1hTokens": 0,
                       "x_OutputTokens": 1, "BillingCurrency": "USD"})  # fmt: skip
    t = ibis.memtable(df)
    params = er.check_parameters(t)
    assert (params["experiment"], params["baseline"], params["price_date"]) == ("e", "a", dt.date(2026, 6, 1))
    assert params["cache_hit_rate"] is None and (params["start"], params["end"]) == (dt.date(2026, 6, 1),) * 2
    with pytest.raises(ParameterError, match=r"experiment 'x' not found; experiments in the data: \['e'\]"):
        er.check_parameters(t, experiment="x")
    with pytest.raises(ParameterError, match=r"baseline 'z' is not a variant of 'e': \['a', 'b'\]"):
        er.check_parameters(t, baseline="z")
    with pytest.raises(ParameterError, match="batch_share between 0 and 1"):
        er.check_parameters(t, batch_share=2)
    untagged = ibis.memtable(df.assign(x_ExperimentId=None))
    none = er.check_parameters(untagged)  # no experiment: the notebook shows the before/after view only
    assert (none["experiment"], none["baseline"], none["start"]) == (None, None, dt.date(2026, 6, 1))
    with pytest.raises(ParameterError, match="experiment 'x' not found: no experiment with two or more variants"):
        er.check_parameters(untagged, experiment="x")
    with pytest.raises(ParameterError, match="change_source must be"):
        er.change_data(None, t, source="nope")


def test_an_experiment_with_one_variant_is_not_picked_and_named_is_refused_with_the_reason() -> None:
    """The largest experiment has one arm (the planted-secrets report failed on it): the page picks one with two."""
    ts = pd.Timestamp("2026-06-01", tz="UTC")
    df = pd.DataFrame({"ChargePeriodStart": ts, "x_ExperimentId": ["big"] * 5 + ["ab", "ab"],
                       "x_Variant": ["only"] * 5 + ["a", "b"], "x_Status": "success", "x_ReportedCost": 1.0,
                       "x_EstimatedCost": None, "x_LatencyMs": 1.0, "x_QualityScore": 0.5, "x_InputUncachedTokens": 1,
                       "x_InputCacheReadTokens": 0, "x_InputCacheWrite5mTokens": 0, "x_InputCacheWrite1hTokens": 0,
                       "x_OutputTokens": 1, "BillingCurrency": "USD"})  # fmt: skip
    params = er.check_parameters(ibis.memtable(df))
    assert (params["experiment"], params["baseline"]) == ("ab", "a")
    assert set(params["experiments"]["experiment"]) == {"big", "ab"}  # both still listed as found
    with pytest.raises(ParameterError, match=r"experiment 'big' has one variant: a comparison needs two; "
                                             r"experiments with two or more: \['ab'\]"):
        er.check_parameters(ibis.memtable(df), experiment="big")
    alone = er.check_parameters(ibis.memtable(df[df["x_ExperimentId"] == "big"]))
    assert alone["experiment"] is None and er.compare(ibis.memtable(df), alone) is None  # the page says why


def test_request_logs_come_through_the_facts_in_the_page_currency(tmp_path) -> None:
    """Logs billed in EUR are read in the page's currency, converted at each request's day rate (1.25 here)."""
    rates = tmp_path / "fx.csv"
    rates.write_text("from_currency,to_currency,rate,effective_from,effective_to,source\n"
                     "EUR,USD,1.25,2026-01-01,,test\n", encoding="utf-8")
    frame = pd.DataFrame({"ChargePeriodStart": pd.to_datetime(["2026-06-01", "2026-06-02"], utc=True),
                          "ProviderName": "OpenAI", "x_ExperimentId": "e", "x_Variant": ["a", "b"],
                          "BillingCurrency": "EUR", "x_ReportedCost": [Decimal("1.00"), Decimal("2.00")]})
    facts = Facts(None, ibis.memtable(frame), currency="USD", rates=fx.load_rates(rates, shipped=False))
    logs = er.load_requests(facts).order_by("ChargePeriodStart").to_pandas()
    assert logs["x_ReportedCost"].tolist() == [Decimal("1.25"), Decimal("2.5")]
    assert set(logs["BillingCurrency"]) == {"USD"} and set(logs["x_BillingCurrency"]) == {"EUR"}


def test_projection_table_shows_money_to_the_cent_and_an_unpriced_variant_as_a_dash() -> None:
    projected = pd.DataFrame({
        "variant": ["a", "b"], "model": ["OpenAI m", "OpenAI n"], "cost_per_request": [0.000473339, float("nan")],
        "monthly_cost": [1234.5678, float("nan")], "monthly_low": [1200.004, float("nan")],
        "monthly_high": [1300.996, float("nan")], "quality_mean": [0.72251, 0.8],
        "cost_per_quality_point": [196.595408, float("nan")], "on_frontier": [True, False],
        "unpriced": ["", "batch cache_read"], "currency": ["USD", "USD"],
    })  # fmt: skip
    html = tables.fmt_projection(projected, {"requests_per_day": 10000, "price_date": "2026-09-01"}).to_html()
    cells = [c.split(">")[-1] for c in html.split("</td>")[:-1]]
    # a unit cost keeps four significant digits; money two decimals with separators; booleans as yes/no
    first = ["a", "OpenAI m", "$0.0004733", "$1,234.57", "$1,200.00", "$1,301.00", "0.723", "$196.60", "yes", ""]
    assert cells[:10] == first
    assert cells[10:] == ["b", "OpenAI n", "-", "-", "-", "-", "0.800", "-", "no", "batch cache_read"]
    assert ">Cost / request</th>" in html and "cost_per_request" not in html  # display labels, not column names
    assert 'class="blank' not in html and "row_heading" not in html  # no index column
    assert "Projection at 10,000 requests/day, prices of 2026-09-01, USD" in html
