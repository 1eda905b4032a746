import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from finops_lib.errors import SourceError
from finops_lib.schema import validate
from finops_lib.sources import SOURCES, detect_format, read_head
from finops_lib.warehouse import ingest, normalize

PAGE = "langfuse_observations_page.json"
FORMAT = "langfuse_observations"
BUCKETS = ["x_InputUncachedTokens", "x_InputCacheReadTokens", "x_InputCacheWrite5mTokens",
           "x_InputCacheWrite1hTokens", "x_OutputTokens"]


@pytest.fixture
def read(tmp_path):
    """Normalize a file (reader + settle) and return (info, rows by request id, rejects by row)."""

    def run(path):
        out = tmp_path / f"{Path(path).name}.parquet"
        info = normalize([path], out, format=FORMAT)
        rows = pd.read_parquet(out)
        rejects = pd.read_parquet(out.with_name(out.name.replace(".parquet", ".rejects.parquet")))
        return info, rows.set_index("x_RequestId"), rejects.set_index("x_SourceRow")

    return run


def test_detected_by_content_and_no_other_fixture_claimed(data_dir):
    assert detect_format(data_dir / PAGE).name == FORMAT
    assert detect_format(data_dir / "langfuse_observations.json").name == FORMAT
    detect = SOURCES[FORMAT].detect
    for path in data_dir.glob("*.*"):
        if not path.name.startswith("langfuse_"):
            assert not detect(path, read_head(path)), path.name


def test_generations_are_records_other_observations_are_not(read, data_dir):
    info, rows, rejects = read(data_dir / PAGE)
    # 11 elements: a SPAN and an EVENT are trace structure; 9 records, 3 rejected.
    assert (info["records_read"], info["rows"], info["records_rejected"]) == (9, 6, 3)
    assert sorted(rows.index) == ["emb-1", "gen-1", "gen-2", "gen-3", "gen-4", "gen-5"]
    assert rows.loc["gen-2", ["x_SourceRow", "x_SourceLocator"]].tolist() == [2, "data[2]"]
    assert rejects.loc[4, ["x_SourceLocator", "x_Column", "x_Value", "x_Reason"]].tolist() == [
        "data[5]", "usageDetails.input", "-5", "not a non-negative integer"]
    assert rejects.loc[5, ["x_SourceLocator", "x_Column", "x_Reason"]].tolist() == [
        "data[6]", "startTime", "not an ISO-8601 time"]
    assert rejects.loc[6, ["x_SourceLocator", "x_Column", "x_Value", "x_Reason"]].tolist() == [
        "data[7]", "record", "garbage", "record is not a JSON object"]


def test_usage_details_become_disjoint_buckets(read, data_dir):
    _, rows, _ = read(data_dir / PAGE)
    # OpenAI schema flattened by Langfuse: keys disjoint (total 1500 = 200 + 1000 + 200 + 100);
    # reasoning 100 is added to output 200 and kept as the reasoning subset.
    assert rows.loc["gen-1", BUCKETS].tolist() == [200, 1000, 0, 0, 300]
    assert rows.loc["gen-1", "x_OutputReasoningTokens"] == 100 and rows.loc["gen-1", "x_DataQualityFlags"] == ""
    # Anthropic keys: cache write without a TTL split -> 5m, flagged.
    assert rows.loc["gen-2", BUCKETS].tolist() == [500, 3000, 1500, 0, 700]
    assert rows.loc["gen-2", "x_DataQualityFlags"] == "cache_ttl_assumed"
    # total 1250 = 1200 + 50: the integration's input included the 1000 cached tokens.
    assert rows.loc["gen-3", BUCKETS].tolist() == [200, 1000, 0, 0, 50]
    assert rows.loc["gen-3", "x_DataQualityFlags"] == "cache_semantics_inferred"
    # TTL-specific keys win over the generic cache_creation key (300 = 100 + 200).
    assert rows.loc["gen-4", BUCKETS].tolist() == [10, 0, 100, 200, 20]
    # Deprecated usage object on an embedding.
    assert rows.loc["emb-1", BUCKETS].tolist() == [40, 0, 0, 0, 0]


def test_cost_is_exact_and_missing_cost_is_flagged(read, data_dir):
    _, rows, _ = read(data_dir / PAGE)
    assert rows.loc["gen-1", "x_ReportedCost"] == Decimal("0.00475")  # costDetails.total
    assert rows.loc["gen-2", "x_ReportedCost"] == Decimal("0.018525")  # sum of the keys, no total
    assert rows.loc["gen-3", "x_ReportedCost"] == Decimal("0.000123")  # calculatedTotalCost
    assert rows.loc["gen-4", "x_ReportedCost"] == Decimal("0.000012")  # 1.2E-5 read exactly
    assert rows.loc["gen-5", "x_ReportedCost"] == Decimal(0) and rows.loc["gen-5", "x_DataQualityFlags"] == ""
    assert pd.isna(rows.loc["emb-1", "x_ReportedCost"])
    assert rows.loc["emb-1", "x_DataQualityFlags"] == "reported_cost_missing"
    assert set(rows.BillingCurrency) == {"USD"}


def test_model_provider_time_status(read, data_dir):
    _, rows, _ = read(data_dir / PAGE)
    assert rows.loc["gen-1", ["ProviderName", "x_Model", "x_Operation"]].tolist() == [
        "OpenAI", "gpt-4o-2024-08-06", "generation"]
    assert rows.loc["gen-2", "ProviderName"] == "Anthropic"  # metadata ls_provider
    assert rows.loc["gen-5", "ProviderName"] == "Google"  # model prefix
    assert rows.loc["emb-1", "x_Operation"] == "embedding"
    assert (rows.loc["gen-1", "x_Status"], rows.loc["gen-2", "x_Status"]) == ("success", "failure")
    assert rows.loc["gen-1", "x_LatencyMs"] == 2500 and rows.loc["emb-1", "x_LatencyMs"] == 200  # latency in s
    assert rows.loc["gen-5", "ChargePeriodStart"] == pd.Timestamp("2024-06-01T10:30:00Z")  # +02:00 -> UTC
    assert rows.loc["gen-5", "x_LatencyMs"] == 750


def test_dimensions_metadata_and_tags(read, data_dir):
    _, rows, _ = read(data_dir / PAGE)
    g1 = rows.loc["gen-1"]
    assert (g1.x_Team, g1.x_Application, g1.x_Feature, g1.x_Environment) == ("support", "support-bot", "answer",
                                                                            "production")
    assert (g1.x_ExperimentId, g1.x_Variant, g1.x_QualityScore) == ("exp1", "A", 0.8)
    assert (g1.x_UserId, g1.x_SessionId, g1.SubAccountId) == ("u1", "s1", "proj-1")
    assert rows.loc["gen-2", "x_Team"] == "search"  # key:value tag
    assert pd.isna(rows.loc["gen-2", "x_Environment"])  # "default" is Langfuse's placeholder
    tags = json.loads(g1.Tags)
    assert tags["traceId"] == "tr-1" and tags["usageDetails"]["input_cached_tokens"] == 1000
    assert "system_prompt" not in tags["metadata"] and "secret" not in g1.Tags


def test_trace_with_observations_and_scores(read, tmp_path):
    trace = {"id": "tr-9", "timestamp": "2024-06-03T09:00:00Z", "userId": "u9", "sessionId": "s9",
             "tags": ["app:checkout", "env:staging"], "metadata": {"team": "payments"},
             "scores": [{"name": "quality", "value": 0.75}],
             "observations": [
                 {"id": "sp-9", "traceId": "tr-9", "type": "SPAN", "startTime": "2024-06-03T09:00:00Z"},
                 {"id": "g-9", "traceId": "tr-9", "type": "GENERATION", "startTime": "2024-06-03T09:00:01Z",
                  "model": "gpt-4o", "usageDetails": {"input": 10, "output": 5}, "costDetails": {"total": 0.0001}}]}
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(trace))
    assert detect_format(path).name == FORMAT
    info, rows, _ = read(path)
    assert (info["records_read"], info["rows"]) == (1, 1)
    row = rows.loc["g-9"]
    assert (row.x_Application, row.x_Environment, row.x_Team, row.x_UserId, row.x_SessionId) == (
        "checkout", "staging", "payments", "u9", "s9")
    assert row.x_QualityScore == 0.75 and row.x_SourceLocator == "observations[1]"


def test_jsonl_export_with_a_broken_line(read, data_dir, tmp_path):
    page = json.loads((data_dir / PAGE).read_text())
    path = tmp_path / "observations.jsonl"
    path.write_text("\n".join([json.dumps(page["data"][0]), '{"id": "cut', json.dumps(page["data"][1])]) + "\n")
    info, rows, rejects = read(path)
    assert (info["records_read"], info["rows"], info["records_rejected"]) == (2, 1, 1)
    assert rows.loc["gen-1", "x_SourceLocator"] == "line 1"
    assert rejects.loc[2, "x_SourceLocator"] == "line 2" and rejects.loc[2, "x_Column"] == "record"


def test_second_read_identical_and_contract(read, data_dir, con):
    _, first, _ = read(data_dir / PAGE)
    _, second, _ = read(data_dir / PAGE)
    pd.testing.assert_frame_equal(first, second)
    summary = ingest([data_dir / PAGE, data_dir / "langfuse_observations.json"], con=con)
    assert summary.rows_read.tolist() == [9, 2] and summary.rows_rejected.tolist() == [3, 0]
    validate(con.table("requests"), "requests")


def test_not_json_is_a_source_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"data": [{"id": "x", ')
    with pytest.raises(SourceError, match="not valid JSON"):
        SOURCES[FORMAT].read(path, None)
