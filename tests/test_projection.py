"""Projection to production volume, the cost-quality frontier, experiment mapping and quality files."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from finops_lib import paths
from finops_lib.errors import SourceError
from finops_lib.experiments import inputs as es
from finops_lib.experiments import projection
from finops_lib.pricing import load_catalog
from finops_lib.schema import REQUEST_TOKEN_COLUMNS

ZERO = {c: 0 for c in REQUEST_TOKEN_COLUMNS.values()}


def requests_frame() -> pd.DataFrame:
    ts = pd.Timestamp("2026-06-01 10:00", tz="UTC")
    rows = [
        # variant a: gpt-4o-mini, two requests: 1000 in / 100 out and 3000 in / 300 out.
        {"x_RequestId": "r1", "x_Variant": "a", "ProviderName": "OpenAI", "x_Model": "gpt-4o-mini-2024-07-18",
         **ZERO, "x_InputUncachedTokens": 1000, "x_OutputTokens": 100, "x_QualityScore": 0.5},
        {"x_RequestId": "r2", "x_Variant": "a", "ProviderName": "OpenAI", "x_Model": "gpt-4o-mini-2024-07-18",
         **ZERO, "x_InputUncachedTokens": 3000, "x_OutputTokens": 300, "x_QualityScore": 0.7},
        # variant b: claude-haiku-4-5, one request of 2000 in / 200 out.
        {"x_RequestId": "r3", "x_Variant": "b", "ProviderName": "Anthropic", "x_Model": "claude-haiku-4-5-20251001",
         **ZERO, "x_InputUncachedTokens": 2000, "x_OutputTokens": 200, "x_QualityScore": 0.9},
    ]  # fmt: skip
    df = pd.DataFrame(rows)
    return df.assign(x_ExperimentId="e", x_Status="success", ChargePeriodStart=ts)


def test_projection_by_hand() -> None:
    day = dt.date(2026, 9, 1)
    cat = load_catalog()
    p = projection.project(requests_frame(), "e", requests_per_day=1000, price_date=day, days=30).set_index("variant")
    # gpt-4o-mini: 0.15 in / 0.60 out per 1M. Mean request 2000 in + 200 out = 0.0003 + 0.00012 = 0.00042.
    assert cat.price("OpenAI", "gpt-4o-mini-2024-07-18", "input_uncached", day) == Decimal("0.15")
    assert p.loc["a", "cost_per_request"] == pytest.approx(0.00042, rel=1e-12)
    assert p.loc["a", "monthly_cost"] == pytest.approx(0.00042 * 1000 * 30, rel=1e-12)
    # claude-haiku-4-5: 1 in / 5 out per 1M: 0.002 + 0.001 = 0.003 per request.
    assert p.loc["b", "monthly_cost"] == pytest.approx(0.003 * 30_000, rel=1e-12)
    assert p.loc["a", "monthly_low"] <= p.loc["a", "monthly_cost"] <= p.loc["a", "monthly_high"]
    assert p.loc["b", "monthly_low"] == p.loc["b", "monthly_high"]  # one request: no spread
    # Half the input from the cache (Haiku reads at 0.1 per 1M) and half the requests at the batch tier (50%).
    q = projection.project(requests_frame(), "e", requests_per_day=1000, price_date=day, cache_hit_rate=0.5,
                           batch_share=0.5).set_index("variant")  # fmt: skip
    std = 1000 * 1e-6 + 1000 * 0.1e-6 + 200 * 5e-6
    batch = 1000 * 0.5e-6 + 1000 * 0.05e-6 + 200 * 2.5e-6
    assert q.loc["b", "cost_per_request"] == pytest.approx(0.5 * std + 0.5 * batch, rel=1e-12)


def test_unpriced_bucket_is_never_zero() -> None:
    df = requests_frame()
    df.loc[0, "x_Model"] = df.loc[1, "x_Model"] = "no-such-model"
    p = projection.project(df, "e", requests_per_day=10, price_date="2026-09-01").set_index("variant")
    assert np.isnan(p.loc["a", "monthly_cost"]) and "input_uncached (standard)" in p.loc["a", "unpriced"]
    assert p.loc["b", "monthly_cost"] > 0


def test_frontier() -> None:
    t = pd.DataFrame({"variant": list("abcd"), "monthly_cost": [1.0, 2.0, 2.0, np.nan],
                      "quality_mean": [0.5, 0.8, 0.7, 0.99]})  # fmt: skip
    f = projection.frontier(t).set_index("variant")["on_frontier"]
    assert f.to_dict() == {"a": True, "b": True, "c": False, "d": False}


def test_sample_projection_matches_truth_prices(sample_warehouse: Path) -> None:
    """At the sample's own prices and mix the projection equals the truth's mean cost per request (+-3%)."""
    from finops_lib.warehouse import ingestion as ingest

    con = ingest.open_data(warehouse=sample_warehouse)
    p = projection.project(con.table("requests"), "exp-answer-prompt-v2", requests_per_day=1, days=1,
                           price_date="2026-09-01").set_index("variant")  # fmt: skip
    truth = pd.read_csv(paths.SAMPLE_DIR / "truth" / "experiments.csv").set_index("variant")
    for variant, row in truth.iterrows():
        assert p.loc[variant, "cost_per_request"] == pytest.approx(row["true_mean_cost_usd"], rel=0.03)
    # The truth's frontier, by hand: a variant is dominated when another is no dearer and no worse, one strictly.
    cost, quality = truth["true_mean_cost_usd"].astype(float), truth["true_mean_quality"].astype(float)
    dominated = {v for v in truth.index for w in truth.index if w != v and cost[w] <= cost[v]
                 and quality[w] >= quality[v] and (cost[w] < cost[v] or quality[w] > quality[v])}  # fmt: skip
    ours = projection.frontier(p.reset_index()).set_index("variant")["on_frontier"]
    assert {v for v in ours.index if ours[v]} == set(truth.index) - dominated


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def test_quality_file(tmp_path: Path) -> None:
    good = write(tmp_path, "q.csv", "request_id,score\nr1,0.9\nr3,0.1\n")
    t = es.join_quality(ibis.memtable(requests_frame()), es.read_quality(good)).to_pandas().set_index("x_RequestId")
    assert t["x_QualityScore"].to_dict() == {"r1": 0.9, "r2": 0.7, "r3": 0.1}
    with pytest.raises(SourceError, match=r"line 3, column 'score', value '1.5': not a number"):
        es.read_quality(write(tmp_path, "b.csv", "request_id,score\nr1,0.2\nr2,1.5\n"))
    with pytest.raises(SourceError, match=r"line 3, column 'request_id', value 'r1': already scored on line 2"):
        es.read_quality(write(tmp_path, "d.csv", "request_id,score\nr1,0.2\nr1,0.3\n"))
    with pytest.raises(SourceError, match=r"line 1: missing column\(s\) \['score'\]"):
        es.read_quality(write(tmp_path, "m.csv", "request_id,quality\nr1,0.2\n"))


def test_experiment_mapping(tmp_path: Path) -> None:
    df = requests_frame().assign(x_ExperimentId=[None, None, "logged"], x_Variant=[None, None, "v"],
                                 x_Application="app")  # fmt: skip
    df.loc[1, "ChargePeriodStart"] = pd.Timestamp("2026-07-01 10:00", tz="UTC")
    text = ("experiment_id,variant,x_Application,x_Model,start_date,end_date\n"
            "exp,june,app,,2026-06-01,2026-06-30\nexp,later,app,gpt-4o-mini-2024-07-18,,\n")  # fmt: skip
    rules = es.read_experiment_map(write(tmp_path, "map.csv", text))
    out = es.assign_experiments(ibis.memtable(df), rules).to_pandas().set_index("x_RequestId")
    assert out.loc["r1", ["x_ExperimentId", "x_Variant"]].tolist() == ["exp", "june"]
    assert out.loc["r2", ["x_ExperimentId", "x_Variant"]].tolist() == ["exp", "later"]
    assert out.loc["r3", ["x_ExperimentId", "x_Variant"]].tolist() == ["logged", "v"]  # logged tags win
    with pytest.raises(SourceError, match=r"line 2, column 'start_date', value '2026-13-01': not a YYYY-MM-DD"):
        es.read_experiment_map(write(tmp_path, "b.csv", "experiment_id,variant,x_Model,start_date\ne,v,m,2026-13-01\n"))
    with pytest.raises(SourceError, match="matches every request"):
        es.read_experiment_map(write(tmp_path, "c.csv", "experiment_id,variant,x_Model\ne,v,\n"))
    with pytest.raises(SourceError, match=r"unknown column\(s\) \['team'\]"):
        es.read_experiment_map(write(tmp_path, "u.csv", "experiment_id,variant,team\ne,v,x\n"))
