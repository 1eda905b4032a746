"""Tests of finops_lib.experiments.comparison: hand-computed summaries, statistics, A/A property, sample truth."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from finops_lib import paths
from finops_lib.errors import ParameterError
from finops_lib.experiments import comparison as x

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return pd.read_csv(DATA / "experiments_small.csv")


def test_variants_hand_computed(small):
    v = x.variants(small).set_index("variant")
    assert list(v.index) == ["a", "b"]  # the row without experiment is ignored
    a, b = v.loc["a"], v.loc["b"]
    assert (a.requests, a.failures, a.failure_rate) == (4, 1, 0.25)
    assert a.cost_mean == pytest.approx(0.015) and a.cost_median == pytest.approx(0.015)
    assert a.cost_p95 == pytest.approx(0.02 + 0.85 * 0.01)  # linear interpolation on 0, .01, .02, .03
    assert a.input_cache_read_per_request == 50 and a.output_per_request == 15
    assert a.cache_hit_rate == pytest.approx(200 / 600)
    assert a.latency_p50 == 250 and a.quality_mean == pytest.approx(0.6) and a.scored == 3
    assert a.cost_per_quality == pytest.approx(0.025)
    assert a.cost_per_success == pytest.approx(0.06 / 3)  # 4 logged requests cost 0.06, 3 succeeded
    assert b.cost_mean == pytest.approx(0.05) and b.cost_per_quality == pytest.approx(0.05 / 0.9)
    assert x.variants(small, experiment="nope").empty


def test_compare_small(small):
    c = x.compare(small, "exp1")
    row = c.table.iloc[0]
    a = np.array([0.01, 0.02, 0.0, 0.03])
    b = np.array([0.04, 0.06, 0.05, 0.05])
    assert (row.variant, row.baseline) == ("b", "a")
    assert row["diff"] == pytest.approx(0.035) and row.rel_diff == pytest.approx(0.05 / 0.015 - 1)
    assert row.p_welch == pytest.approx(stats.ttest_ind(b, a, equal_var=False).pvalue)
    assert row.p_mannwhitney == pytest.approx(stats.mannwhitneyu(b, a).pvalue)
    assert row.p_holm == pytest.approx(row.p_welch)  # a single comparison: Holm changes nothing
    assert row.diff_ci_low <= row["diff"] <= row.diff_ci_high
    assert c.best_per_quality == "a"
    assert c.verdict.startswith("b costs 233.3% more per request than a, 95% CI ")
    assert "a is the cheapest per quality point" in c.verdict
    again = x.compare(small, "exp1")
    pd.testing.assert_frame_equal(c.table, again.table)  # seeded
    assert x.compare(small, "exp1", baseline="b").table.iloc[0].verdict.startswith("a costs 70.0% less")


def test_compare_errors(small):
    with pytest.raises(ParameterError):
        x.compare(small, "exp1", metric="nope")
    with pytest.raises(ParameterError):
        x.compare(small, "exp1", baseline="zzz")
    with pytest.raises(ParameterError):
        x.compare(small, "missing")


def test_holm_over_three_variants():
    rng = np.random.default_rng(1)
    rows = [{"x_ExperimentId": "e", "x_Variant": v, "x_Status": "success", "x_ReportedCost": rng.normal(mu, 1),
             "x_EstimatedCost": None, "x_LatencyMs": 1.0, "x_QualityScore": 0.5,
             **{c: 1 for c in x.TOKEN_COLUMNS.values()}}
            for v, mu in (("a", 10), ("b", 10.1), ("c", 12)) for _ in range(50)]  # fmt: skip
    t = x.compare(pd.DataFrame(rows), "e").table.set_index("variant")
    p = t.p_welch.sort_values()
    assert t.loc[p.index[0], "p_holm"] == pytest.approx(min(1, 2 * p.iloc[0]))
    assert t.loc[p.index[1], "p_holm"] == pytest.approx(max(min(1, 2 * p.iloc[0]), p.iloc[1]))
    assert bool(t.loc["c", "significant"]) and not bool(t.loc["b", "significant"])


def test_sample_size_known_value():
    assert x.sample_size(1.0, 2.0, 1.0) == 64  # d = 0.5, alpha .05, power .8: 63.77 per arm
    assert x.sample_size(10.0, 2.0, 0.1) == 64
    assert x.sample_size(1.0, 1.0, 0.2, power=0.9) > x.sample_size(1.0, 1.0, 0.2)
    with pytest.raises(ParameterError):
        x.sample_size(1.0, 0.0, 0.1)


def test_power_frame(small):
    p = x.power(small, "exp1", relative_effect=0.5).set_index("variant")
    sd = np.std([0.04, 0.06, 0.05, 0.05], ddof=1)
    assert p.loc["b", "sd"] == pytest.approx(sd)
    assert p.loc["b", "n_per_arm"] == x.sample_size(0.05, sd, 0.5)


# --- the sample -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_requests(sample_warehouse: Path):
    from finops_lib.warehouse import ingestion as ingest

    con = ingest.open_data(None, warehouse=str(sample_warehouse))
    t = con.table("requests")
    df = t.filter(t.x_ExperimentId.notnull()).to_pandas()
    con.disconnect()
    return df


@pytest.fixture(scope="module")
def truth() -> dict[str, dict]:
    path = paths.PROJECT_ROOT / "data" / "sample" / "truth" / "experiments.csv"
    with path.open(newline="") as f:
        return {r["variant"]: r for r in csv.DictReader(f) if r["experiment_id"] == "exp-answer-prompt-v2"}


def test_sample_true_difference_inside_ci(sample_requests, truth):
    for base in truth:
        c = x.compare(sample_requests, "exp-answer-prompt-v2", baseline=base)
        for r in c.table.itertuples():
            true_diff = float(truth[r.variant]["true_mean_cost_usd"]) - float(truth[base]["true_mean_cost_usd"])
            assert r.diff_ci_low <= true_diff <= r.diff_ci_high, (r.variant, base, true_diff)
            true_rel = float(truth[r.variant]["true_mean_cost_usd"]) / float(truth[base]["true_mean_cost_usd"]) - 1
            assert r.rel_ci_low <= true_rel <= r.rel_ci_high, (r.variant, base, true_rel)


def test_sample_cheapest_per_quality(sample_requests, truth):
    c = x.compare(sample_requests, "exp-answer-prompt-v2", baseline="v1-gpt-4o-mini")
    best = min(truth, key=lambda v: float(truth[v]["true_cost_per_quality_point_usd"]))
    assert c.best_per_quality == best
    assert f"{best} is the cheapest per quality point" in c.verdict
    v = c.variants.set_index("variant")
    for name, row in truth.items():
        assert v.loc[name, "cost_mean"] == pytest.approx(float(row["true_mean_cost_usd"]), rel=0.05)
        assert v.loc[name, "quality_mean"] == pytest.approx(float(row["true_mean_quality"]), rel=0.03)
        assert v.loc[name, "failure_rate"] < 0.03


def test_aa_false_positive_rate(sample_requests):
    one = sample_requests[sample_requests.x_Variant == "v1-gpt-4o-mini"]
    cost = one.x_ReportedCost.astype(float).to_numpy()
    rng = np.random.default_rng(42)
    n, hits = 200, 0
    for i in range(n):
        mask = rng.random(cost.size) < 0.5
        table = x.compare_values({"A": cost[mask], "B": cost[~mask]}, n_boot=20, seed=i)
        hits += bool(table.iloc[0].p_welch < 0.05)
    assert hits <= n * 0.05 + 3 * np.sqrt(n * 0.05 * 0.95), hits
    # the same through the table interface, once
    split = one.assign(x_ExperimentId="aa", x_Variant=np.where(rng.random(len(one)) < 0.5, "A", "B"))
    row = x.compare(split, "aa").table.iloc[0]
    assert row.rel_ci_low < 0 < row.rel_ci_high


def test_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    values = {v: rng.lognormal(mu, 1.0, 40) for v, mu in zip("abcdef", (0, 0.05, 0.1, 0.4, 0.4, 0.9), strict=True)}
    t = x.compare_values(values, n_boot=50)
    np.testing.assert_allclose(t.p_holm, multipletests(t.p_welch.to_numpy(), method="holm")[1])
    tied = x.compare_values({"a": values["a"], "b": values["d"], "c": values["d"]}, n_boot=50)
    np.testing.assert_allclose(tied.p_holm, multipletests(tied.p_welch.to_numpy(), method="holm")[1])


def test_compare_fast_on_large_arms():
    # the experiments page compares a few variants with n_boot=2000: the resampling is the cost (CPU time, not
    # wall time, so that a busy machine does not fail the test)
    import time

    rng = np.random.default_rng(4)
    values = {v: rng.lognormal(0.0, 1.5, 5000) for v in "abcd"}
    start = time.process_time()
    table = x.compare_values(values, n_boot=2000)
    assert time.process_time() - start < 2.0
    assert (table.rel_ci_low < table.rel_diff).all() and (table.rel_diff < table.rel_ci_high).all()
