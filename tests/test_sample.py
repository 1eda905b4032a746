"""Tests of the sample-data generator against the committed ``data/sample/``."""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from finops_lib.errors import ParameterError
from finops_lib.paths import SAMPLE_DIR
from finops_lib.sample import generate
from finops_lib.sample.story import GW_ANTHROPIC, GW_OPENAI

PROVIDERS = {"openai", "anthropic", "aws_bedrock", "azure_openai", "gcp_vertex"}


@pytest.fixture(scope="module")
def sample() -> Path:
    if not (SAMPLE_DIR / "manifest.json").exists():
        pytest.skip("data/sample/ not generated")
    return SAMPLE_DIR


@pytest.fixture(scope="module")
def truth(sample: Path) -> pd.DataFrame:
    frame = pd.read_csv(sample / "truth/daily_cost.csv", dtype={"cost": str, "cost_usd": str, "credit": str},
                        keep_default_na=False)  # fmt: skip
    frame["tagged"] = frame["tagged"] == "true"
    frame["usd"] = frame["cost_usd"].astype(float)
    return frame


@pytest.fixture(scope="module")
def gateway(sample: Path) -> pd.DataFrame:
    logs = pd.read_csv(sample / "litellm/spend_logs.csv.gz", dtype=str, keep_default_na=False)
    bad = pd.read_csv(sample / "truth/gateway_bad_rows.csv")
    logs = logs[~logs["request_id"].isin(bad["request_id"])].copy()
    usage = [json.loads(m)["usage_object"] or {} for m in logs["metadata"]]
    logs["read"] = [u.get("cache_read_input_tokens", 0) for u in usage]
    logs["write_5m"] = [u.get("cache_creation_token_details", {}).get("ephemeral_5m_input_tokens", 0) for u in usage]
    logs["write_1h"] = [u.get("cache_creation_token_details", {}).get("ephemeral_1h_input_tokens", 0) for u in usage]
    for col in ("prompt_tokens", "completion_tokens"):
        logs[col] = logs[col].astype(int)
    logs["spend"] = logs["spend"].astype(float)
    logs["start"] = pd.to_datetime(logs["startTime"], format="%Y-%m-%dT%H:%M:%S.%fZ", utc=True)
    return logs


def _pages(sample: Path, pattern: str) -> list[dict]:
    return [json.loads(p.read_text(), parse_float=Decimal) for p in sorted(sample.glob(pattern))]


def _month_totals(truth: pd.DataFrame, provider: str) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    rows = truth[truth["provider"] == provider]
    for date, cost in zip(rows["date"], rows["cost"], strict=True):
        out[date[:7]] += Decimal(cost)
    return dict(out)


def test_regenerating_defaults_is_byte_identical(sample: Path, tmp_path: Path) -> None:
    manifest = generate(tmp_path)
    committed = json.loads((sample / "manifest.json").read_text())
    assert [f["path"] for f in manifest["files"]] == [f["path"] for f in committed["files"]]
    for entry in manifest["files"]:
        assert (tmp_path / entry["path"]).read_bytes() == (sample / entry["path"]).read_bytes(), entry["path"]
    assert (tmp_path / "manifest.json").read_bytes() == (sample / "manifest.json").read_bytes()


def test_gzip_header_is_reproducible(sample: Path) -> None:
    head = (sample / "litellm/spend_logs.csv.gz").read_bytes()[:10]
    assert head[:3] == b"\x1f\x8b\x08" and head[3] == 0 and head[4:8] == b"\x00\x00\x00\x00"


def test_story_minimums(sample: Path, truth: pd.DataFrame) -> None:
    tokens = truth[truth["model"] != ""]
    assert truth["date"].min() == "2026-05-05" and truth["date"].max() == "2026-10-31"
    assert tokens["team"].nunique() >= 6
    assert tokens["application"].nunique() >= 10
    assert len(set(zip(tokens["provider"], tokens["model"], strict=True))) >= 12
    assert set(tokens["provider"]) == PROVIDERS
    assert truth.loc[~truth["tagged"], "usd"].sum() / truth["usd"].sum() >= 0.05
    assert {"cloud"} <= set(truth["provider"]) and (truth["service_tier"] == "provisioned").any()
    assert set(truth["service_tier"]) >= {"standard", "batch"}


def test_weekends_lower_and_growth(truth: pd.DataFrame) -> None:
    daily = truth[truth["model"] != ""].groupby("date")["usd"].sum()
    dates = pd.to_datetime(daily.index)
    assert daily[dates.day_of_week >= 5].median() < 0.8 * daily[dates.day_of_week < 5].median()
    weekly = daily.groupby(dates.to_period("W")).sum().iloc[1:-1]
    assert 1.3 < weekly.iloc[-4:].mean() / weekly.iloc[:4].mean() < 1.9


def test_anomalies_lift_team_cost_and_spare_the_last_35_days(sample: Path, truth: pd.DataFrame) -> None:
    events = pd.read_csv(sample / "truth/events.csv")
    anomalies = events[events["kind"].str.startswith("anomaly_")]
    assert len(anomalies) >= 5
    assert set(anomalies["driver"].dropna()) and anomalies["cause"].notna().all()
    assert anomalies["end_date"].max() < "2026-09-27"
    daily = truth.groupby(["date", "team"])["usd"].sum().unstack(fill_value=0.0)
    for event in anomalies.itertuples():
        team = daily[event.team]
        baseline = team[team.index < event.start_date].iloc[-14:].median()
        for day in pd.date_range(event.start_date, event.end_date).strftime("%Y-%m-%d"):
            assert team[day] >= 1.6 * baseline, (event.event_id, day)


def test_ab_experiment(sample: Path, gateway: pd.DataFrame) -> None:
    exp = pd.read_csv(sample / "truth/experiments.csv")
    assert len(exp) == 4
    meta = [json.loads(m).get("spend_logs_metadata") for m in gateway["metadata"]]
    scored = pd.DataFrame([m for m in meta if m])
    ok = scored.dropna(subset=["quality_score"])
    assert ok["quality_score"].between(0, 1).all()
    assert (ok.groupby("variant").size() >= 1500).all() and ok["variant"].nunique() == 4
    cost = exp.set_index("variant")["true_mean_cost_usd"]
    assert cost["v2-gpt-4o-mini"] / cost["v1-gpt-4o-mini"] - 1 >= 0.15
    observed = ok.groupby("variant")["quality_score"].mean()
    truth_quality = exp.set_index("variant")["true_mean_quality"]
    assert (observed - truth_quality).abs().max() < 0.01


def test_gateway_tokens_match_openai_usage_buckets(sample: Path, gateway: pd.DataFrame) -> None:
    logs = gateway[gateway["custom_llm_provider"] == "openai"]
    checked = 0
    for page in _pages(sample, "openai/usage_completions_page_*.json"):
        for bucket in page["data"]:
            lo = pd.Timestamp(bucket["start_time"], unit="s", tz="UTC")
            hi = pd.Timestamp(bucket["end_time"], unit="s", tz="UTC")
            rows = logs[(logs["start"] >= lo) & (logs["start"] < hi)]
            expected = rows.groupby("model")[["prompt_tokens", "completion_tokens", "read"]].sum()
            results = [r for r in bucket["results"] if r["api_key_id"] == GW_OPENAI["api_key_id"]]
            got = {r["model"]: (r["input_tokens"], r["output_tokens"], r["input_cached_tokens"]) for r in results}
            assert got == {m: tuple(int(v) for v in row) for m, row in expected.iterrows()}, bucket["start_time"]
            checked += len(got)
    assert checked > 300


def test_gateway_tokens_match_anthropic_usage(sample: Path, gateway: pd.DataFrame) -> None:
    logs = gateway[gateway["custom_llm_provider"] == "anthropic"].copy()
    logs["day"] = logs["start"].dt.strftime("%Y-%m-%dT00:00:00Z")
    logs["uncached"] = logs["prompt_tokens"] - logs["read"] - logs["write_5m"] - logs["write_1h"]
    expected = logs.groupby(["day", "model"])[["uncached", "read", "write_5m", "completion_tokens"]].sum()
    got = {}
    for page in _pages(sample, "anthropic/usage_report_page_*.json"):
        for bucket in page["data"]:
            for r in bucket["results"]:
                if r["api_key_id"] == GW_ANTHROPIC["api_key_id"]:
                    writes = r["cache_creation"]["ephemeral_5m_input_tokens"]
                    got[(bucket["starting_at"], r["model"])] = (
                        r["uncached_input_tokens"], r["cache_read_input_tokens"], writes, r["output_tokens"]
                    )  # fmt: skip
    assert got == {k: tuple(int(v) for v in row) for k, row in expected.iterrows()}


def test_gateway_spend_is_tokens_times_true_price(sample: Path, gateway: pd.DataFrame) -> None:
    prices = pd.read_csv(sample / "truth/prices.csv")
    std = prices[(prices["service_tier"] == "standard") & (prices["context_tier"] == "standard")]
    table = std.pivot_table(index="model", columns="token_type", values="price_per_1m", aggfunc="first").fillna(0)
    ok = gateway[gateway["status"] == "success"]
    p = table.loc[ok["model"]].to_numpy()
    cols = list(table.columns)
    uncached = ok["prompt_tokens"] - ok["read"] - ok["write_5m"] - ok["write_1h"]
    expected = (uncached * p[:, cols.index("input_uncached")] + ok["read"] * p[:, cols.index("input_cache_read")]
                + ok["write_5m"] * p[:, cols.index("input_cache_write_5m")]
                + ok["completion_tokens"] * p[:, cols.index("output")]) / 1e6  # fmt: skip
    assert ((ok["spend"] - expected).abs() <= 1e-9 * expected.abs() + 1e-15).all()
    failed = gateway[gateway["status"] == "failure"]
    assert len(failed) > 0 and (failed["spend"] == 0).all() and (failed["prompt_tokens"] == 0).all()


def test_bad_rows_are_where_truth_says(sample: Path) -> None:
    bad = pd.read_csv(sample / "truth/gateway_bad_rows.csv", dtype=str, keep_default_na=False)
    bad["line"] = bad["line"].astype(int)
    assert 3 <= len(bad) <= 5
    with gzip.open(sample / "litellm/spend_logs.csv.gz", "rt", newline="") as handle:
        lines = {i + 1: row for i, row in enumerate(csv.reader(handle)) if i + 1 in set(bad["line"]) | {1}}
    header = lines[1]
    for row in bad.itertuples():
        assert lines[row.line][header.index("request_id")] == row.request_id
        assert lines[row.line][header.index(row.column)] == row.value


def _csv_bills(sample: Path, pattern: str, column: str, month_of: object) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for path in sample.glob(pattern):
        frame = pd.read_csv(path, dtype=str)
        out[month_of(path)] += sum(map(Decimal, frame[column]))  # type: ignore[operator]
    return dict(out)


def _api_bills(sample: Path) -> dict[str, dict[str, Decimal]]:
    bills: dict[str, dict[str, Decimal]] = {"openai": defaultdict(Decimal), "anthropic": defaultdict(Decimal)}
    for page in _pages(sample, "openai/costs_page_*.json"):  # USD dollars
        for b in page["data"]:
            month = pd.Timestamp(b["start_time"], unit="s").strftime("%Y-%m")
            bills["openai"][month] += sum((r["amount"]["value"] for r in b["results"]), Decimal(0))
    for page in _pages(sample, "anthropic/cost_report_page_*.json"):  # USD cents
        for b in page["data"]:
            bills["anthropic"][b["starting_at"][:7]] += sum(
                (Decimal(r["amount"]) / 100 for r in b["results"]), Decimal(0)
            )
    return {k: dict(v) for k, v in bills.items()}


def _month_of(path: Path) -> str:
    return re.search(r"(\d{4}-\d{2})", path.name).group(1)


def test_truth_equals_vendor_bills_exactly(sample: Path, truth: pd.DataFrame) -> None:
    bills = _api_bills(sample)
    bills["aws_bedrock"] = _csv_bills(
        sample, "aws/cur2/*/*.csv.gz", "line_item_unblended_cost", lambda p: p.parent.name[-7:]
    )
    bills["azure_openai"] = _csv_bills(sample, "azure/*.csv.gz", "CostInBillingCurrency", _month_of)  # EUR
    bills["cloud"] = _csv_bills(sample, "focus/*.csv", "BilledCost", _month_of)
    for provider, months in bills.items():
        assert {m: v for m, v in months.items() if v} == _month_totals(truth, provider), provider
    euro = pd.concat(pd.read_csv(p, dtype=str) for p in sample.glob("azure/*.csv.gz"))
    assert set(euro["BillingCurrencyCode"]) == {"EUR"}


def test_truth_equals_gcp_bill_within_float_precision(sample: Path, truth: pd.DataFrame) -> None:
    cost: dict[str, float] = defaultdict(float)
    credit: dict[str, float] = defaultdict(float)
    for path in sample.glob("gcp/*.jsonl.gz"):  # USD floats
        for line in gzip.decompress(path.read_bytes()).decode().splitlines():
            row = json.loads(line)
            cost[row["invoice"]["month"]] += row["cost"]
            credit[row["invoice"]["month"]] += sum(c["amount"] for c in row["credits"])
    rows = truth[truth["provider"] == "gcp_vertex"]
    for month, total in _month_totals(truth, "gcp_vertex").items():
        assert cost[month.replace("-", "")] == pytest.approx(float(total), rel=1e-9)
        expected = float(sum(map(Decimal, rows.loc[rows["date"].str[:7] == month, "credit"])))
        assert credit[month.replace("-", "")] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert sum(credit.values()) < 0


def test_openai_usage_pages_chain_and_partial_edges(sample: Path) -> None:
    pages = _pages(sample, "openai/usage_completions_page_*.json")
    buckets = [b for p in pages for b in p["data"]]
    assert len(buckets) == 180 and all(p["object"] == "page" for p in pages)
    assert [p["has_more"] for p in pages] == [True] * (len(pages) - 1) + [False]
    assert buckets[0]["start_time"] % 86400 != 0 and buckets[-1]["end_time"] % 86400 != 0
    assert all(b["start_time"] % 86400 == 0 for b in buckets[1:])
    for b in buckets:
        for r in b["results"]:
            parts = r["input_cached_tokens"] + r["input_uncached_tokens"] + r["input_cache_write_tokens"]
            assert r["input_tokens"] == parts


def test_small_run(tmp_path: Path) -> None:
    manifest = generate(tmp_path, days=30, scale=0.1)
    assert manifest["date_range"] == {"start": "2026-10-02", "end": "2026-10-31"}
    paths = {f["path"] for f in manifest["files"]}
    assert {"litellm/spend_logs.csv.gz", "truth/daily_cost.csv", "README.md"} <= paths
    truth = pd.read_csv(tmp_path / "truth/daily_cost.csv")
    assert truth["date"].nunique() == 30 and len(pd.read_csv(tmp_path / "litellm/spend_logs.csv.gz")) > 100
    for entry in manifest["files"]:
        assert (tmp_path / entry["path"]).stat().st_size == entry["bytes"]


@pytest.mark.parametrize("options", [{"days": 3}, {"scale": 0}, {"seed": -1}, {"end_date": "31/10/2026"}])
def test_bad_options_raise(tmp_path: Path, options: dict) -> None:
    with pytest.raises(ParameterError):
        generate(tmp_path, **options)
