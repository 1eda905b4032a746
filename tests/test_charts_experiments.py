"""Experiment charts as specs (titles, axes with units, sorting, guards) and the experiment controls."""

from __future__ import annotations

from decimal import Decimal

import ibis
import numpy as np
import pandas as pd
import pytest
from widgets_util import charts, headline, show

from finops_lib.errors import SchemaError
from finops_lib.views.experiments import charts as ce


def layers(chart) -> list[dict]:
    return chart.to_dict()["layer"]


def test_distribution_bins_shares_add_to_one() -> None:
    rng = np.random.default_rng(0)
    values = {"b": rng.lognormal(0, 0.5, 500), "a": rng.lognormal(0.5, 0.5, 300)}
    bins = ce.distribution_bins(values, bins=20)
    shares = bins.groupby("variant")["share"].sum()
    assert shares.to_dict() == pytest.approx({"a": 1.0, "b": 1.0})
    assert bins.groupby("variant")["mean"].first()["a"] == pytest.approx(values["a"].mean())
    spec = ce.plot_cost_distribution(bins, currency="EUR").to_dict()
    line = spec["layer"][0]["encoding"]
    assert line["x"]["axis"]["title"] == "Cost per request (EUR)" and "€" in line["x"]["axis"]["labelExpr"]
    assert line["y"]["axis"]["format"] == ".0%" and line["color"]["sort"] == ["a", "b"]


def test_frontier_and_projection_specs() -> None:
    t = pd.DataFrame({"variant": ["a", "b", "c"], "monthly_cost": [100.0, 300.0, np.nan],
                      "monthly_low": [90.0, 280.0, np.nan], "monthly_high": [110.0, 320.0, np.nan],
                      "quality_mean": [0.7, 0.9, 0.95], "on_frontier": [True, True, False],
                      "requests_per_day": [5000] * 3})  # fmt: skip
    spec = ce.plot_frontier(t, currency="USD").to_dict()
    data = spec["datasets"][spec["layer"][2]["data"]["name"]]
    assert [d["variant"] for d in data] == ["a", "b"]  # the unpriced variant is not drawn at $0
    assert spec["layer"][2]["encoding"]["y"]["axis"]["title"] == "Mean quality score (0-1)"
    proj = ce.plot_projection(t, currency="USD").to_dict()
    assert proj["title"].startswith("Projected monthly cost at 5,000 requests per day")
    assert proj["layer"][0]["encoding"]["y"]["sort"] == {"field": "monthly_cost", "order": "descending"}


def test_decomposition_waterfall_steps() -> None:
    comp = pd.DataFrame({"component": ["volume", "mix", "tokens_per_request", "price", "other"],
                         "amount": [Decimal("2"), Decimal("-0.5"), Decimal("1"), Decimal(0), Decimal(0)]})  # fmt: skip
    spec = ce.plot_decomposition(comp, currency="USD").to_dict()
    steps = spec["datasets"][spec["data"]["name"]]
    assert [s["step"] for s in steps][-1] == "Change" and steps[-1]["high"] == 2.5
    assert [(s["low"], s["high"]) for s in steps[:3]] == [(0.0, 2.0), (2.0, 1.5), (1.5, 2.5)]
    assert [s["kind"] for s in steps[:3]] == ["increase", "decrease", "increase"]
    bars, labels = spec["layer"]
    calc = {t["as"]: t["calculate"] for t in labels["transform"]}
    assert labels["encoding"]["text"]["field"] == "label_text"  # labels are signed changes with the currency
    assert "'+'" in calc["label_text"] and "'−'" in calc["label_text"] and '"$"' in calc["label_text"]
    assert "+" not in bars["encoding"]["y"]["axis"]["format"]  # the axis is not: $0.01, not $+0.01


def test_differences_and_before_after_specs() -> None:
    table = pd.DataFrame({"variant": ["b", "c"], "baseline": "a", "metric": "cost", "rel_diff": [0.3, -0.1],
                          "rel_ci_low": [0.2, -0.3], "rel_ci_high": [0.4, 0.1], "significant": [True, False]})
    spec = ce.plot_differences(table).to_dict()
    assert spec["title"] == "Cost per request against a, 95% CI"
    # every request of c cost the same: no interval (the hostile report's page failed on it), the point still drawn
    flat = ce.plot_differences(table.assign(rel_ci_low=[0.2, np.nan], rel_ci_high=[0.4, np.nan])).to_dict()
    rows = flat["datasets"][flat["data"]["name"]] if "data" in flat else next(iter(flat["datasets"].values()))
    assert [(r["variant"], r["rel_diff"], r["rel_ci_low"]) for r in rows] == [("b", 0.3, 0.2), ("c", -0.1, None)]
    days = pd.DataFrame({"date": pd.date_range("2026-01-01", periods=4), "period": ["before"] * 2 + ["after"] * 2,
                         "value": [10.0, 12.0, 20.0, np.nan], "requests": [1, 3, 2, 0]})  # fmt: skip
    ba = ce.plot_before_after(days).to_dict()
    levels = ba["datasets"][ba["layer"][1]["data"]["name"]]
    assert {d["period"]: d["level"] for d in levels} == {"before": 11.5, "after": 20.0}  # request-weighted
    with pytest.raises(SchemaError, match="value"):
        ce.plot_before_after(days.drop(columns="value"))


def test_experiment_controls_draw_only_when_shown() -> None:
    from finops_lib.schema import REQUEST_TOKEN_COLUMNS
    from finops_lib.views.experiments.widgets import make_experiment_controls

    rng = np.random.default_rng(1)
    n = 200
    df = pd.DataFrame({"x_ExperimentId": "e", "x_Variant": rng.choice(["a", "b"], n), "x_Status": "success",
                       "ProviderName": "OpenAI", "x_Model": "gpt-4o-mini-2024-07-18", "x_ReportedCost": rng.random(n),
                       "x_EstimatedCost": rng.random(n), "x_LatencyMs": rng.random(n) * 1000,
                       "x_QualityScore": rng.random(n),
                       **{c: rng.integers(0, 1000, n) for c in REQUEST_TOKEN_COLUMNS.values()}})  # fmt: skip
    # gpt-4o-mini has no cache-write price: no write tokens, so the projection is priced (never shown as $0)
    df = df.assign(x_InputCacheWrite5mTokens=0, x_InputCacheWrite1hTokens=0)
    from finops_lib.experiments import comparison as experiments

    t = ibis.memtable(df)
    box = make_experiment_controls(t, experiments.variants(t), experiment="e", requests_per_day=1000,
                                   price_date="2026-09-01", n_boot=100)  # fmt: skip
    controls, output = box.children
    assert [c.description for c in controls.children[:-1]] == ["Experiment", "Metric", "Requests/day"]
    assert controls.children[-1] is box.status and box.status.value == ""  # says "Updating..." only while drawing
    assert output.outputs == () and box.drawn == []  # nothing drawn until a front end shows the view
    drawn = show(box)
    assert headline(drawn)["Experiment"] == "e" and headline(drawn)["Requests logged"] == "200"
    titles = [c["title"] for c in charts(drawn)]
    assert titles[0].startswith("Cost per request against a") and titles[1].startswith("Cost per request per variant")
    assert titles[2].startswith("Cost-quality frontier")
    controls.children[1].value = "tokens"  # metric: the differences and the distribution are of tokens
    assert charts(box.drawn)[1]["title"].startswith("Tokens per request per variant")

    def monthly(spec: dict) -> list[float]:
        rows = [row for data in spec["datasets"].values() for row in data if "monthly_cost" in row]
        return sorted(row["monthly_cost"] for row in rows)

    before = monthly(charts(box.drawn)[2])
    controls.children[2].value = 2000  # volume: the projected monthly cost doubles (same cost per request)
    after = monthly(charts(box.drawn)[2])
    costs = {"before": before, "after": after}
    assert len(before) == 2 and [2 * b for b in costs["before"]] == pytest.approx(costs["after"], rel=1e-9)
