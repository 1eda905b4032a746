"""Helicone request exports (``helicone_requests``): buckets, cost, dimensions, variants and rejects by hand."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from source_cases import DATA, read_rows

from finops_lib.errors import SourceError
from finops_lib.sources import detect_format

FIXTURE = DATA / "helicone_requests.json"
FMT = "helicone_requests"
CSV_HEADER = (
    "response_id,response_created_at,response_status,request_created_at,request_body,request_properties,"
    "request_user_id,model,prompt_tokens,completion_tokens,latency,cost\n"
)


def _read(path: Path) -> tuple[dict[int, dict], list[dict]]:
    return read_rows(path, FMT, "requests")


def _raw() -> list[dict]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"), parse_float=Decimal)["data"]


@pytest.fixture(scope="module")
def fixture_rows():
    return _read(FIXTURE)


def test_buckets_are_helicones_disjoint_counts(fixture_rows):
    rows, rejects = fixture_rows
    assert rejects == [] and sorted(rows) == [1, 2, 3, 4, 5]
    for i, rec in enumerate(_raw(), start=1):
        row = rows[i]
        assert row["x_RequestId"] == rec["request_id"] and row["x_SourceLocator"] == f"data[{i - 1}]"
        assert row["x_InputUncachedTokens"] == rec["prompt_tokens"] + rec.get("prompt_audio_tokens", 0)
        assert row["x_InputCacheReadTokens"] == rec.get("prompt_cache_read_tokens", 0)
        assert row["x_InputCacheWrite5mTokens"] == rec.get("prompt_cache_write_tokens", 0)
        assert row["x_OutputTokens"] == rec["completion_tokens"] + rec.get("reasoning_tokens", 0)
        assert row["x_ReportedCost"] == rec["cost"] and row["BillingCurrency"] == "USD"
    # By hand: request 1 is 1,200 fresh + 800 cached input, request 3 has 150 + 1,024 reasoning output.
    assert (rows[1]["x_InputUncachedTokens"], rows[1]["x_InputCacheReadTokens"]) == (1200, 800)
    assert (rows[3]["x_OutputTokens"], rows[3]["x_OutputReasoningTokens"]) == (1174, 1024)
    assert (rows[2]["x_InputCacheWrite5mTokens"], rows[2]["x_DataQualityFlags"]) == (2000, "cache_ttl_assumed")
    assert sum(r["x_ReportedCost"] for r in rows.values()) == Decimal("0.0223956")


def test_times_status_provider_and_model(fixture_rows):
    rows, _ = fixture_rows
    assert rows[1]["ChargePeriodStart"].isoformat() == "2026-05-04T09:15:02.120000+00:00"
    assert rows[1]["ChargePeriodEnd"].isoformat() == "2026-05-04T09:15:02.932000+00:00"
    assert rows[2]["ChargePeriodStart"].isoformat() == "2026-05-04T09:16:40+00:00"
    assert [rows[i]["x_Status"] for i in range(1, 6)] == ["success", "success", "success", "failure", "success"]
    assert [rows[i]["ProviderName"] for i in range(1, 6)] == ["OpenAI", "Anthropic", "OpenAI", "Microsoft", "OpenAI"]
    assert (rows[1]["x_Model"], rows[1]["x_ModelRaw"], rows[1]["x_Operation"]) == (
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-mini-2024-07-18",
        "chat",
    )
    assert (rows[1]["x_LatencyMs"], rows[4]["x_LatencyMs"]) == (812.0, 210.0)


def test_properties_fill_the_dimensions(fixture_rows):
    rows, _ = fixture_rows
    first, second = rows[1], rows[2]
    assert (first["x_Team"], first["x_Application"], first["x_Environment"]) == ("search", "web", "prod")
    assert (first["x_SessionId"], first["x_UserId"]) == ("sess-1", "u-17")
    assert (second["x_Team"], second["x_Feature"], second["x_ExperimentId"], second["x_Variant"]) == (
        "assistants",
        "summarize",
        "exp-42",
        "B",
    )
    assert (rows[3]["x_Application"], rows[3]["x_Environment"]) == ("agent", "staging")
    assert json.loads(first["Tags"])["properties"]["Helicone-Session-Id"] == "sess-1"


def test_a_helicone_cache_hit_is_kept_and_marked(fixture_rows):
    rows, _ = fixture_rows
    hit = rows[5]
    assert json.loads(hit["Tags"])["helicone_cache_hit"] is True
    assert (hit["x_InputUncachedTokens"], hit["x_OutputTokens"], hit["x_ReportedCost"]) == (0, 0, Decimal(0))
    assert "helicone_cache_hit" not in json.loads(rows[1]["Tags"])


def test_jsonl_export_and_a_single_request(tmp_path):
    records = _raw()
    lines = tmp_path / "helicone-export.jsonl"
    lines.write_text("\n".join(json.dumps(r, default=str) for r in records[:3]) + "\n{broken\n", encoding="utf-8")
    assert detect_format(lines).name == FMT
    rows, rejects = _read(lines)
    assert sorted(rows) == [1, 2, 3] and rows[3]["x_OutputTokens"] == 1174
    assert [(r["x_SourceRow"], r["x_Column"]) for r in rejects] == [(4, "record")]
    single = tmp_path / "request.json"
    single.write_text(json.dumps({"data": records[1], "error": None}, default=str), encoding="utf-8")
    rows, rejects = _read(single)
    assert rejects == [] and rows[1]["x_RequestId"] == records[1]["request_id"]
    assert rows[1]["x_ReportedCost"] == Decimal("0.01395")


def test_csv_export_reads_the_doubled_property_json(tmp_path):
    # The CLI doubles the JSON's quotes, then CSV-quotes the cell (doubling them again).
    props = json.dumps({"team": "ai", "App": "bot"}).replace('"', '""')
    cell = '"' + props.replace('"', '""') + '"'
    text = (
        CSV_HEADER
        + f'"resp-1","2026-05-04 09:00:01.000","200","2026-05-04 09:00:00.000","",{cell},"u-1","gpt-4o-mini",'
        + '"1500","200","","0.000345"\n'
        + '"resp-2","2026-05-04 09:01:01.000","500","2026-05-04 09:01:00.000","","","","gpt-4o-mini","10","0","",""\n'
    )
    target = tmp_path / "helicone.csv"
    target.write_text(text, encoding="utf-8")
    assert detect_format(target).name == FMT
    rows, rejects = _read(target)
    assert rejects == []
    first, second = rows[2], rows[3]
    assert (first["x_RequestId"], first["x_Team"], first["x_Application"], first["x_UserId"]) == (
        "resp-1",
        "ai",
        "bot",
        "u-1",
    )
    assert (first["x_InputUncachedTokens"], first["x_OutputTokens"], first["x_ReportedCost"]) == (
        1500,
        200,
        Decimal("0.000345"),
    )
    assert first["x_DataQualityFlags"] == "token_subfields_missing"
    assert second["x_Status"] == "failure" and second["x_ReportedCost"] is None
    assert second["x_DataQualityFlags"] == "reported_cost_missing,token_subfields_missing"


def test_csv_without_a_required_column_fails_as_a_whole(tmp_path):
    target = tmp_path / "helicone.csv"
    target.write_text(CSV_HEADER.replace(",cost\n", ",price\n") + '"r","","200","","","","","m","1","1","",""\n')
    with pytest.raises(SourceError, match="cost"):
        _read(target)


def test_bad_records_are_rejected_with_field_value_and_reason(tmp_path):
    records = _raw()
    records[0]["request_created_at"] = "yesterday"
    records[1]["cost"] = Decimal("-0.5")
    records[2]["properties"] = "{not json"
    records[3] = "not an object"
    records[4]["prompt_cache_read_tokens"] = Decimal("2.5")
    target = tmp_path / "bad.json"
    target.write_text(json.dumps({"data": records, "error": None}, default=str), encoding="utf-8")
    rows, rejects = _read(target)
    assert rows == {}
    got = {(r["x_SourceRow"], r["x_SourceLocator"], r["x_Column"], r["x_Value"]) for r in rejects}
    assert got == {
        (1, "data[0]", "request_created_at", "yesterday"),
        (2, "data[1]", "cost", "-0.5"),
        (3, "data[2]", "properties", "{not json"),
        (4, "data[3]", "record", "not an object"),
        (5, "data[4]", "prompt_cache_read_tokens", "2.5"),
    }
    reasons = {r["x_Column"]: r["x_Reason"] for r in rejects}
    assert reasons["cost"] == "not a non-negative number" and reasons["properties"] == "not a JSON object"
