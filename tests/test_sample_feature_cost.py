"""The sample's feature stack and self-hosted model against its answer key (``truth/feature_stack.csv``,
``truth/selfhosted.csv``, ``truth/selfhosted_break_even.csv``), read as text, never through the workbench."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from finops_lib import engine, paths, pricing
from finops_lib.views.feature_cost import page, sections

TRUTH = paths.SAMPLE_DIR / "truth"
CENT = Decimal("0.01")


def _rows(name: str) -> list[dict[str, str]]:
    with (TRUTH / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def feature_cost(sample_warehouse: Path) -> sections.FeatureCost:
    con = engine.connect(warehouse=sample_warehouse)
    facts, fmap, catalog, filters = page.load(con, data_dir=str(paths.SAMPLE_DIR))
    yield sections.feature_cost(facts, fmap, catalog, filters)
    con.disconnect()


def test_every_placed_amount_of_the_answer_key_to_the_cent(feature_cost: sections.FeatureCost) -> None:
    frame = feature_cost.stack.frame.assign(month=lambda f: f["month"].dt.strftime("%Y-%m"))
    got = frame.groupby(["month", "feature", "layer", "kind"])["cost"].agg(lambda s: sum(s, Decimal(0)))
    truth = _rows("feature_stack.csv")
    assert len(truth) == 26  # 6 months x (cluster: 3 parts, CloudWatch) + 2 months of the GPU node
    for row in truth:
        key = (row["month"], row["feature"], row["layer"], row["kind"])
        assert abs(got[key] - Decimal(row["cost"])) < CENT / 2, key


def test_the_stack_adds_up_to_the_spend_every_month_exactly(feature_cost: sections.FeatureCost) -> None:
    stack = feature_cost.stack
    per_month = stack.frame.groupby("month")["cost"].agg(lambda s: sum(s, Decimal(0)))
    inputs = stack.inputs.set_index("month")["cost"]
    assert per_month.to_dict() == inputs.to_dict()
    assert sum(inputs, Decimal(0)) == feature_cost.facts.total("cost")


def test_the_chatbot_s_model_tokens_are_its_gateway_traffic_of_the_answer_key(feature_cost) -> None:
    # the gateway's OpenAI project and Anthropic workspace are metered by the LiteLLM log: the stack splits them as
    # the allocation does, which gives each feature its true token cost (truth/daily_cost.csv, gateway channel)
    truth: dict[tuple[str, str], Decimal] = {}
    for row in _rows("daily_cost.csv"):
        if row["channel"] == "gateway" and row["application"] == "support-chatbot":
            key = (row["date"][:7], f"support-chatbot/{row['feature']}")
            truth[key] = truth.get(key, Decimal(0)) + Decimal(row["cost_usd"])
    frame = feature_cost.stack.frame
    tokens = frame[(frame["layer"] == "model_inference") & (frame["kind"] == "allocated")]
    got = tokens.assign(month=tokens["month"].dt.strftime("%Y-%m")).groupby(["month", "feature"])["cost"].agg(
        lambda s: sum(s, Decimal(0)))  # fmt: skip
    assert truth and all(abs(got[key] - value) < CENT / 2 for key, value in truth.items())


def test_the_self_hosted_deployment_day_by_day_and_its_break_even(feature_cost) -> None:
    days = feature_cost.serving.days.set_index(feature_cost.serving.days["day"].dt.strftime("%Y-%m-%d"))
    truth = _rows("selfhosted.csv")
    assert len(truth) == len(days) == 61
    for row in truth:
        got = days.loc[row["day"]]
        assert (got.cost, got.input_tokens, got.output_tokens) == (Decimal(row["cost"]), int(row["input_tokens"]),
                                                                    int(row["output_tokens"]))  # fmt: skip
        for name in ("per_1m_blended", "per_1m_input", "per_1m_output", "idle_cost"):
            assert abs(got[name] - Decimal(row[name])) <= Decimal("1e-11"), (row["day"], name)
        assert (got.paid_hours, got.idle_hours) == (float(row["paid_hours"]), float(row["idle_hours"]))
        assert got.unmeasured_hours == 0 and abs(got.gpu_utilization - float(row["gpu_utilization"])) < 1e-9
    (even,) = _rows("selfhosted_break_even.csv")
    row = feature_cost.serving.comparison.set_index("deployment").loc[even["deployment"]]
    assert row.api_model == even["api_model"] and row.days == int(even["days"])
    assert row.cost_per_day == Decimal(even["cost_per_day"]) and row.self_per_1m == Decimal(even["self_per_1m"])
    assert row.api_per_1m == Decimal(even["api_per_1m"])
    assert int(row.break_even_tokens_per_day) == int(even["break_even_tokens_per_day"]) and not row.pays_off
    assert abs(row.tokens_per_day - float(even["tokens_per_day"])) < 1e-6


def test_the_catalog_prices_the_compared_model_as_the_answer_key_assumes() -> None:
    (even,) = _rows("selfhosted_break_even.csv")
    last = date.fromisoformat(_rows("selfhosted.csv")[-1]["day"])
    catalog = pricing.catalog_for(paths.SAMPLE_DIR)
    prices = [catalog.price("OpenAI", "gpt-4o-mini", bucket, last) for bucket in ("input_uncached", "output")]
    assert prices == [Decimal(even["api_input_per_1m"]), Decimal(even["api_output_per_1m"])]
