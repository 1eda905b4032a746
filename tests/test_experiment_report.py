"""Notebook glue of the experiment comparison: parameter checks and the choice of the change to measure."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import pytest

from finops_lib.errors import ParameterError
from finops_lib.views.experiments import page as er


def test_pick_change_from_logs_and_from_facts() -> None:
    logs = pd.DataFrame({"x_Application": ["a", "b"], "x_Feature": ["f", "g"],
                         "change_date": [dt.date(2026, 8, 24), None]})  # fmt: skip
    assert er.pick_change(logs) == ("2026-08-24", {"x_Application": "a", "x_Feature": "f"})
    assert er.pick_change(logs, change_date="2026-09-01", application="b", feature="g") == (
        "2026-09-01", {"x_Application": "b", "x_Feature": "g"})
    facts = pd.DataFrame({"team": ["eng"], "application": ["a"], "change_date": [dt.date(2026, 7, 6)]})
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
    with pytest.raises(ParameterError, match="experiment 'x' not found: no request carries an experiment id"):
        er.check_parameters(untagged, experiment="x")
    assert er.log_currency(t) == "USD" and er.log_currency(ibis.memtable(df.iloc[:0])) == "USD"
    assert er.log_currency(ibis.memtable(df.assign(BillingCurrency="EUR"))) == "EUR"
    with pytest.raises(ParameterError, match="several currencies"):
        er.log_currency(ibis.memtable(df.assign(BillingCurrency=["EUR", "USD"])))
    with pytest.raises(ParameterError, match="change_source must be"):
        er.change_data(None, t, source="nope")
