"""Self-hosted models priced per token, and the break-even against an API model: hand-worked values."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops_lib import engine
from finops_lib.facts.layer import open_facts
from finops_lib.facts.serving import counter_increases, spread_increases
from finops_lib.pricing import load_catalog
from finops_lib.rules.feature_map import parse_feature_map
from finops_lib.selfhosted import ApiPrice, break_even, serving_report, unit_costs
from finops_lib.warehouse import ingest

DATA = Path(__file__).resolve().parent / "data"


def _cost(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame([{"deployment": d, "day": day, "cost": Decimal(c), "currency": "USD"} for d, day, c in rows])


def _tokens(*rows: tuple[str, str, float, float]) -> pd.DataFrame:
    return pd.DataFrame([{"deployment": d, "day": day, "input_tokens": i, "output_tokens": o} for d, day, i, o in rows])


def test_a_priced_day_by_hand_and_the_split_conserves_the_cost():
    # $120 for 50M input and 10M output tokens, one output token bearing 3 input tokens' cost:
    # per 1M input = 120 / (50 + 3 x 10) = 1.5, per 1M output = 4.5, blended 120 / 60 = 2.
    out = unit_costs(_cost(("llama", "05-01", "120")), _tokens(("llama", "05-01", 50e6, 10e6)),
                     output_weight=Decimal(3)).iloc[0]
    assert (out.per_1m_input, out.per_1m_output, out.per_1m_blended) == (Decimal("1.5"), Decimal("4.5"), Decimal(2))
    assert out.per_1m_input * 50 + out.per_1m_output * 10 == out.cost
    assert out.status == "priced" and "3 times" in out.split_rule


def test_an_idle_day_and_traffic_without_cost_have_no_price_never_zero():
    out = unit_costs(_cost(("llama", "05-01", "96"), ("llama", "05-02", "96")),
                     _tokens(("llama", "05-01", 1e6, 1e5), ("mistral", "05-01", 2e6, 0)))
    by = out.set_index(["deployment", "day"])
    assert by.loc[("llama", "05-02"), "status"] == "idle" and by.loc[("llama", "05-02"), "per_1m_blended"] is None
    assert by.loc[("mistral", "05-01"), "status"] == "no_cost" and by.loc[("mistral", "05-01"), "per_1m_input"] is None
    assert by.loc[("llama", "05-01"), "status"] == "priced" and "blended" in by.loc[("llama", "05-01"), "split_rule"]


def test_the_output_weight_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        unit_costs(_cost(("a", "d", "1")), _tokens(("a", "d", 1, 1)), output_weight=Decimal(0))


@settings(max_examples=80, deadline=None)
@given(st.decimals(Decimal("0.01"), Decimal("100000"), places=2), st.integers(0, 10**10), st.integers(0, 10**9),
       st.decimals(Decimal("0.1"), Decimal("20"), places=1))
def test_input_and_output_parts_add_up_to_the_cost(cost, t_in, t_out, weight):
    if t_in + t_out == 0:
        return
    row = unit_costs(_cost(("a", "d", str(cost))), _tokens(("a", "d", t_in, t_out)), output_weight=weight).iloc[0]
    rebuilt = (row.per_1m_input * t_in + row.per_1m_output * t_out) / 1_000_000
    assert abs(rebuilt - cost) <= Decimal("1e-12") * (t_in + t_out) / 1_000_000 + Decimal("1e-9")


def test_break_even_by_hand():
    # 2 days at $10 a day, 30M tokens a day (24M input, 6M output). The API: $0.25 / $1.50 per 1M, so at this mix
    # (24 x 0.25 + 6 x 1.5) / 30 = 0.5 per 1M, $15 a day at today's volume; break-even 10 / 0.5 x 1M = 20M a day.
    days = pd.DataFrame({"deployment": ["llama"] * 2, "cost": [Decimal(10)] * 2, "currency": ["USD"] * 2,
                         "input_tokens": [24e6] * 2, "output_tokens": [6e6] * 2})
    row = break_even(days, {"llama": ApiPrice("claude-haiku", Decimal("0.25"), Decimal("1.50"), "USD")}).iloc[0]
    assert (row.cost_per_day, row.tokens_per_day, row.api_per_1m) == (Decimal(10), 30e6, Decimal("0.5"))
    assert row.self_per_1m == Decimal("0.333333333333")  # $20 over 60M tokens, to 12 places
    assert row.api_cost_per_day == Decimal(15) and int(row.break_even_tokens_per_day) == 20_000_000 and row.pays_off


def test_break_even_refuses_mixed_currencies_and_leaves_unpriced_deployments_without_a_comparison():
    days = pd.DataFrame({"deployment": ["a", "b"], "cost": [Decimal(5), Decimal(5)], "currency": ["EUR", "EUR"],
                         "input_tokens": [1e6, 1e6], "output_tokens": [0.0, 0.0]})
    with pytest.raises(ValueError, match="convert"):
        break_even(days, {"a": ApiPrice("m", Decimal(1), Decimal(1), "USD")})
    out = break_even(days, {}).set_index("deployment")
    assert out.loc["b", "api_model"] is None and out.loc["b", "self_per_1m"] == Decimal(5)


def test_from_served_counters_to_a_price_per_token():
    # tests/data/prometheus_range.json: 4,300 prompt and 1,060 generation tokens on 1 May (a restart counted);
    # $5.36 of GPU that day: 5.36 x 1M / 5,360 = $1,000 per 1M tokens, blended.
    con = engine.memory()
    try:
        ingest([DATA / "prometheus_range.json"], con=con)
        samples = con.sql("SELECT * FROM metrics WHERE x_MetricKind = 'counter'").to_pandas()
    finally:
        con.disconnect()
    spread = spread_increases(counter_increases(samples, keep=["x_Deployment", "x_Metric"]))
    daily = spread.pivot_table(index=["x_Deployment", "period"], columns="x_Metric", values="increase", aggfunc="sum")
    tokens = daily.reset_index().rename(columns={"x_Deployment": "deployment", "period": "day",
                                                 "prompt_tokens": "input_tokens",
                                                 "generation_tokens": "output_tokens"}).dropna(subset=["input_tokens"])
    day = pd.Timestamp("2026-05-01", tz="UTC")
    cost = pd.DataFrame([{"deployment": "vllm-llama-8b", "day": day, "cost": Decimal("5.36"), "currency": "USD"}])
    row = unit_costs(cost, tokens[["deployment", "day", "input_tokens", "output_tokens"]]).iloc[0]
    assert (row.input_tokens, row.output_tokens, row.per_1m_blended) == (4300, 1060, Decimal(1000))


# --- from the warehouse: GPU bill rows, vLLM counters, the catalog -----------------------------------------------

_FOCUS = ["BilledCost", "BillingAccountId", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart",
          "ChargeCategory", "ChargeDescription", "ChargePeriodEnd", "ChargePeriodStart", "ConsumedQuantity",
          "ConsumedUnit", "EffectiveCost", "ListCost", "ProviderName", "PublisherName", "ServiceCategory",
          "ServiceName", "SkuMeter", "SubAccountId", "Tags", "InvoiceIssuerName"]  # fmt: skip
_MAP = """\
version: 1
deployments:
  - name: vllm-llama-8b
    gpu: {match: {tags: {"user:eks:nodegroup": gpu-a10}}}
    compare_with: {provider: OpenAI, model: gpt-4o-mini}
  - name: tgi-mistral-7b
    gpu: opencost
  - name: batch-embedder
    gpu: {match: {tags: {"user:eks:nodegroup": gpu-t4}}}
"""


def _gpu_row(day: int, cost: str, group: str) -> dict[str, str]:
    return {"BilledCost": cost, "BillingAccountId": "a", "BillingCurrency": "USD",
            "BillingPeriodEnd": "2026-06-01T00:00:00Z", "BillingPeriodStart": "2026-05-01T00:00:00Z",
            "ChargeCategory": "Usage", "ChargeDescription": "g5.xlarge",
            "ChargePeriodEnd": f"2026-05-{day + 1:02d}T00:00:00Z",
            "ChargePeriodStart": f"2026-05-{day:02d}T00:00:00Z", "ConsumedQuantity": "24", "ConsumedUnit": "Hours",
            "EffectiveCost": cost, "ListCost": cost, "ProviderName": "AWS", "PublisherName": "AWS",
            "ServiceCategory": "Compute", "ServiceName": "Amazon EC2", "SkuMeter": "BoxUsage:g5.xlarge",
            "SubAccountId": "1", "Tags": json.dumps({"user:eks:nodegroup": group}),
            "InvoiceIssuerName": "AWS"}  # fmt: skip


@pytest.fixture(scope="module")
def served_facts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    with (folder / "cur_focus.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, _FOCUS)
        writer.writeheader()
        writer.writerows([_gpu_row(1, "24.00", "gpu-a10"), _gpu_row(2, "24.00", "gpu-a10"),
                          _gpu_row(1, "9.00", "gpu-t4")])
    t0 = int(datetime(2026, 5, 1, tzinfo=UTC).timestamp())
    labels = {"job": "vllm-llama-8b", "instance": "10.0.0.1:8000", "model_name": "meta-llama/Llama-3.1-8B-Instruct"}
    # prompt tokens every 12 h: 0, 6M, 12M, then a restart: 3M, 9M; generation a quarter of it
    prompt = [0, 6_000_000, 12_000_000, 3_000_000, 9_000_000]
    series = [{"metric": {"__name__": name, **labels},
               "values": [[t0 + 43_200 * i, str(v // scale)] for i, v in enumerate(prompt)]}
              for name, scale in (("vllm:prompt_tokens_total", 1), ("vllm:generation_tokens_total", 4))]
    (folder / "vllm_range.json").write_text(json.dumps({"status": "success", "data": {"resultType": "matrix",
                                                                                       "result": series}}))
    con = engine.memory()
    assert set(ingest([folder], con=con)["status"]) == {"loaded"}
    yield open_facts(con, currency="USD")
    con.disconnect()


def test_a_deployment_priced_per_token_from_its_bills_and_counters_by_hand(served_facts):
    report = serving_report(served_facts, parse_feature_map(_MAP), load_catalog())
    days = report.days[report.days["deployment"] == "vllm-llama-8b"]
    days = days.set_index(days["day"].dt.day)
    # 1 May: 12M prompt, 3M generated for $24; 2 May: 3M after the restart + 6M = 9M, 0.75M + 1.5M = 2.25M.
    # gpt-4o-mini: $0.15 / $0.60, so an output token bears 4 input tokens' cost.
    assert days.loc[1, ["input_tokens", "output_tokens"]].tolist() == [12e6, 3e6]
    assert days.loc[2, ["input_tokens", "output_tokens"]].tolist() == [9e6, 2.25e6]
    assert (days.loc[1, "per_1m_input"], days.loc[1, "per_1m_output"]) == (Decimal(1), Decimal(4))  # 24/(12+4x3)
    assert days.loc[1, "per_1m_blended"] == Decimal("1.6")  # 24 / 15
    assert days.loc[2, "per_1m_input"] == Decimal("1.333333333333")  # 24 / (9 + 4 x 2.25)
    assert "4 times" in days.loc[1, "split_rule"]
    # two days at $24, 26.25M tokens, 80% input: the API costs 0.8 x 0.15 + 0.2 x 0.60 = $0.24 per 1M at this mix,
    # so the GPUs pay off above 24 / 0.24 = 100M tokens a day; they serve 13.125M
    row = report.comparison.set_index("deployment").loc["vllm-llama-8b"]
    assert (row.api_per_1m, int(row.break_even_tokens_per_day), bool(row.pays_off)) == (Decimal("0.24"), 100_000_000,
                                                                                      False)
    assert row.self_per_1m == Decimal("1.828571428571") and row.tokens_per_day == 13.125e6


def test_what_cannot_be_priced_is_said_never_zero(served_facts):
    report = serving_report(served_facts, parse_feature_map(_MAP), load_catalog())
    assert any(n.startswith("tgi-mistral-7b: gpu: opencost, but no OpenCost allocation names it") for n in report.notes)
    assert any(n.startswith("tgi-mistral-7b: no token counters") for n in report.notes)
    assert any(n.startswith("batch-embedder: no token counters") for n in report.notes)
    idle = report.days[report.days["deployment"] == "batch-embedder"].iloc[0]
    assert idle.status == "idle" and idle.per_1m_blended is None and idle.cost == 9
    empty = serving_report(served_facts, parse_feature_map("version: 1\n"), load_catalog())
    assert empty.days.empty and empty.notes[0].startswith("no self-hosted deployment is named")


# --- idle hours and GPU utilisation: hourly GPU lines, hourly counters, a DCGM gauge ------------------------------

_IDLE_MAP = """\
version: 1
deployments:
  - name: vllm-qwen
    gpu: {match: {tags: {"user:eks:nodegroup": gpu-l4}}}
"""


def _hour_row(hour: int, cost: str) -> dict[str, str]:
    row = _gpu_row(3, cost, "gpu-l4")
    row.update(ChargePeriodStart=f"2026-05-03T{hour:02d}:00:00Z", ChargePeriodEnd=f"2026-05-03T{hour + 1:02d}:00:00Z",
               ConsumedQuantity="1")
    return row


def test_idle_hours_their_cost_and_gpu_utilisation_by_hand(tmp_path):
    # GPU billed hourly from 00:00 to 06:00 on 3 May, $2 an hour. The counters are scraped at 01:00 ... 05:00:
    # tokens in 01-02 and 03-04, none in 02-03 and 04-05 (2 idle hours, $4); 00-01 and 05-06 have no sample on
    # both sides (2 unmeasured hours, neither idle nor busy). DCGM says 80%, 0%, 60%, 0%: a mean of 35%.
    with (tmp_path / "gpu_focus.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, _FOCUS)
        writer.writeheader()
        writer.writerows([_hour_row(h, "2.00") for h in range(6)])
    t0 = int(datetime(2026, 5, 3, 1, tzinfo=UTC).timestamp())
    labels = {"job": "vllm-qwen", "model_name": "Qwen/Qwen2.5-7B-Instruct"}
    counters = {"vllm:prompt_tokens_total": [0, 100, 100, 250, 250],
                "vllm:generation_tokens_total": [0, 10, 10, 20, 20]}
    series = [{"metric": {"__name__": name, **labels}, "values": [[t0 + 3600 * i, str(v)] for i, v in enumerate(vs)]}
              for name, vs in counters.items()]
    series.append({"metric": {"__name__": "DCGM_FI_DEV_GPU_UTIL", "gpu": "0", "UUID": "GPU-1", "Hostname": "node-1",
                              "deployment": "vllm-qwen"},
                   "values": [[t0 + 3600 * i, str(v)] for i, v in enumerate([80, 0, 60, 0])]})
    (tmp_path / "vllm_qwen.json").write_text(json.dumps({"status": "success", "data": {"resultType": "matrix",
                                                                                       "result": series}}))
    con = engine.memory()
    try:
        assert set(ingest([tmp_path], con=con)["status"]) == {"loaded"}
        report = serving_report(open_facts(con, currency="USD"), parse_feature_map(_IDLE_MAP), load_catalog())
    finally:
        con.disconnect()
    day = report.days.iloc[0]
    assert (day.cost, day.input_tokens, day.output_tokens) == (Decimal(12), 250, 20)
    assert (day.paid_hours, day.idle_hours, day.unmeasured_hours) == (6, 2, 2)
    assert day.idle_cost == Decimal(4) and round(day.gpu_utilization, 9) == 0.35
    assert not any("utilisation" in note for note in report.notes)


def test_no_gauge_and_no_counter_samples_say_so_and_no_hour_is_called_idle(served_facts):
    report = serving_report(served_facts, parse_feature_map(_MAP), load_catalog())
    assert any("no GPU utilisation gauge" in note for note in report.notes)
    embedder = report.days[report.days["deployment"] == "batch-embedder"].iloc[0]
    # 24 hours paid, no counter at all: every hour unmeasured, none idle, no idle cost
    assert (embedder.paid_hours, embedder.idle_hours, embedder.unmeasured_hours) == (24, 0, 24)
    assert embedder.idle_cost == 0 and pd.isna(embedder.gpu_utilization)
