"""OpenRouter activity exports (``openrouter_activity``): buckets, cost, dimensions, API shapes and rejects by hand."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from source_cases import DATA, read_rows

from finops_lib import engine
from finops_lib.facts import open_facts
from finops_lib.sources import detect_format
from finops_lib.warehouse import ingest

FIXTURE = DATA / "openrouter_activity.csv"
FMT = "openrouter_activity"
GENERATION = {
    "id": "gen-1777880400-p1Q2r3S4t5U6v7W8x9Y0",
    "upstream_id": "chatcmpl-abc",
    "total_cost": 0.0031,
    "cache_discount": 0.0004,
    "upstream_inference_cost": None,
    "created_at": "2026-05-04T07:40:00.250000+00:00",
    "model": "openai/gpt-4.1",
    "app_id": 12345,
    "streamed": True,
    "cancelled": False,
    "provider_name": "OpenAI",
    "latency": 420,
    "moderation_latency": None,
    "generation_time": 2300,
    "finish_reason": "stop",
    "tokens_prompt": 2100,
    "tokens_completion": 180,
    "native_tokens_prompt": 2048,
    "native_tokens_completion": 175,
    "native_tokens_completion_images": None,
    "native_tokens_reasoning": 0,
    "native_tokens_cached": 1536,
    "num_media_prompt": None,
    "num_input_audio_prompt": None,
    "num_media_completion": None,
    "num_search_results": None,
    "origin": "https://example.com/",
    "usage": 0.0031,
    "is_byok": False,
    "native_finish_reason": "stop",
    "external_user": "u-2",
    "api_type": "completions",
}


def _read(path: Path) -> tuple[dict[int, dict], list[dict]]:
    return read_rows(path, FMT, "requests")


def _raw() -> dict[int, dict[str, str]]:
    return dict(enumerate(csv.DictReader(io.StringIO(FIXTURE.read_text(encoding="utf-8"))), start=2))


@pytest.fixture(scope="module")
def fixture_rows():
    return _read(FIXTURE)


def test_buckets_cost_and_status_per_generation(fixture_rows):
    rows, rejects = fixture_rows
    assert rejects == [] and sorted(rows) == [2, 3, 4, 5]
    for line, rec in _raw().items():
        row = rows[line]
        prompt, cached = int(rec["tokens_prompt"]), int(rec["tokens_cached"])
        assert row["x_RequestId"] == rec["generation_id"]
        assert (row["x_InputUncachedTokens"], row["x_InputCacheReadTokens"]) == (prompt - cached, cached)
        assert (row["x_OutputTokens"], row["x_OutputReasoningTokens"]) == (
            int(rec["tokens_completion"]),
            int(rec["tokens_reasoning"]),
        )
        assert row["x_ReportedCost"] == Decimal(rec["cost_total"]) and row["BillingCurrency"] == "USD"
        assert row["ProviderName"] == "OpenRouter" and row["x_DataQualityFlags"] == ""
    # By hand: 1,200 prompt tokens of which 1,024 cached leave 176 uncached; R1 spent 700 of 900 on reasoning.
    assert (rows[2]["x_InputUncachedTokens"], rows[4]["x_OutputReasoningTokens"]) == (176, 700)
    assert sum(r["x_ReportedCost"] for r in rows.values()) == Decimal("0.0212346")
    assert [rows[n]["x_Status"] for n in (2, 3, 4, 5)] == ["success", "success", "success", "failure"]


def test_models_dimensions_and_tags(fixture_rows):
    rows, _ = fixture_rows
    assert [rows[n]["x_Model"] for n in (2, 3, 4, 5)] == [
        "gpt-4o-mini-2024-07-18",
        "claude-4.5-sonnet-20250929",
        "deepseek-r1",
        "gemini-2.5-flash",
    ]
    assert rows[4]["x_ModelRaw"] == "deepseek/deepseek-r1:free"
    first = rows[2]
    assert (first["x_Application"], first["x_ApiKeyId"], first["x_UserId"], first["x_LatencyMs"]) == (
        "docs-bot",
        "prod-key",
        "u-9",
        1840.0,
    )
    assert first["ChargePeriodStart"].isoformat() == "2026-05-04T07:35:00.120000+00:00"
    tags = json.loads(first["Tags"])
    assert (tags["provider_name"], tags["cost_cache"], tags["time_to_first_token_ms"]) == (
        "OpenAI",
        "-0.00007680",
        "310",
    )
    assert json.loads(rows[4]["Tags"])["variant"] == "free" and rows[4]["x_UserId"] is None


def test_generation_api_responses_single_array_and_lines(tmp_path):
    single = tmp_path / "generation.json"
    single.write_text(json.dumps({"data": GENERATION}), encoding="utf-8")
    assert detect_format(single).name == FMT
    rows, rejects = _read(single)
    row = rows[1]
    assert rejects == [] and row["x_RequestId"] == GENERATION["id"]
    # Native counts win over the normalized ones: 2,048 prompt tokens, 1,536 of them cached.
    assert (row["x_InputUncachedTokens"], row["x_InputCacheReadTokens"], row["x_OutputTokens"]) == (512, 1536, 175)
    assert (row["x_ReportedCost"], row["x_Model"], row["x_Application"], row["x_UserId"]) == (
        Decimal("0.0031"),
        "gpt-4.1",
        "12345",
        "u-2",
    )
    assert (row["x_LatencyMs"], json.loads(row["Tags"])["cache_discount"]) == (2300.0, 0.0004)
    second = dict(GENERATION, id="gen-2", native_tokens_cached=4000, total_cost=0.5)
    array = tmp_path / "generations.json"
    array.write_text(json.dumps([{"data": GENERATION}, {"data": second}, "oops"]), encoding="utf-8")
    rows, rejects = _read(array)
    assert sorted(rows) == [1, 2] and rows[2]["x_DataQualityFlags"] == "cache_semantics_inferred"
    assert (rows[2]["x_InputUncachedTokens"], rows[2]["x_InputCacheReadTokens"]) == (2048, 4000)
    assert [(r["x_SourceRow"], r["x_SourceLocator"], r["x_Column"]) for r in rejects] == [(3, "[2]", "record")]
    lines = tmp_path / "generations.jsonl"
    lines.write_text(json.dumps({"data": GENERATION}) + "\n" + json.dumps({"data": second}) + "\n", encoding="utf-8")
    rows, rejects = _read(lines)
    assert rejects == [] and sorted(rows) == [1, 2] and rows[2]["x_ReportedCost"] == Decimal("0.5")


def test_bad_records_are_rejected_with_column_value_and_reason(tmp_path):
    raw = _raw()
    raw[2]["created_at"] = "04/05/2026"
    raw[3]["tokens_cached"] = "-5"
    raw[4]["cost_total"] = "-0.01"
    raw[5]["generation_time_ms"] = "fast"
    out = io.StringIO()
    writer = csv.DictWriter(out, list(raw[2]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(raw.values())
    target = tmp_path / "activity.csv"
    target.write_text(out.getvalue() + "gen-x,2026-05-04 07:39:00,0.1\n", encoding="utf-8")
    rows, rejects = _read(target)
    assert rows == {}
    got = {(r["x_SourceRow"], r["x_Column"], r["x_Value"], r["x_Reason"]) for r in rejects}
    assert got == {
        (2, "created_at", "04/05/2026", "not an ISO-8601 time"),
        (3, "tokens_cached", "-5", "not a non-negative integer"),
        (4, "cost_total", "-0.01", "not a non-negative number"),
        (5, "generation_time_ms", "fast", "not a number of milliseconds"),
        (6, "record", "gen-x,2026-05-04 07:39:00,0.1", "expected 24 fields, found 3"),
    }


def test_the_debits_are_invoiced_spend_once(tmp_path):
    """Each generation's debit is an invoiced costs row (the spend), and its request row carries the same amount."""
    with (DATA / "openrouter_activity.csv").open(newline="") as fh:
        debits = [Decimal(r["cost_total"]) for r in csv.DictReader(fh)]
    con = engine.memory()
    summary = ingest([DATA / "openrouter_activity.csv"], con=con).iloc[0]
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (4, 4, 0)  # a record fills both tables
    facts = open_facts(con, currency="USD")
    assert facts.total("cost") == sum(debits) == Decimal("0.0212346")
    assert facts.total("reported_cost") == sum(debits)
    providers = con.sql("SELECT DISTINCT ProviderName, x_CostBasis, x_TokenType FROM costs").to_pandas()
    assert providers.values.tolist() == [["OpenRouter", "invoiced", "non_token"]]
