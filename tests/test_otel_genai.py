import gzip
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from finops_lib.errors import SourceError
from finops_lib.schema import validate
from finops_lib.sources import SOURCES, detect_format, read_head
from finops_lib.warehouse import ingest, normalize

EXPORT = "otel_genai_export.json"
BUCKETS = ["x_InputUncachedTokens", "x_InputCacheReadTokens", "x_InputCacheWrite5mTokens",
           "x_InputCacheWrite1hTokens", "x_OutputTokens"]
CHAT = "5b8efff798038103d269b633813fc60c:eee19b7ec3c1b174"
CLAUDE = "5b8efff798038103d269b633813fc60d:aaa19b7ec3c1b171"
DEPRECATED = "5b8efff798038103d269b633813fc60e:bbb19b7ec3c1b170"
EMBED = "5b8efff798038103d269b633813fc60e:bbb19b7ec3c1b173"
OLD_CACHE = "5b8efff798038103d269b633813fc60e:bbb19b7ec3c1b174"
GEMINI = "5b8efff798038103d269b633813fc60f:ccc19b7ec3c1b170"


@pytest.fixture
def read(tmp_path):
    """Normalize a file (reader + settle) and return (info, rows by request id, rejects by row)."""

    def run(path):
        out = tmp_path / f"{Path(path).name}.parquet"
        info = normalize([path], out, format="otel_genai")
        rows = pd.read_parquet(out)
        rejects = pd.read_parquet(out.with_name(out.name.replace(".parquet", ".rejects.parquet")))
        return info, rows.set_index("x_RequestId"), rejects.set_index("x_SourceRow")

    return run


def test_detected_by_content_and_no_other_fixture_claimed(data_dir):
    assert detect_format(data_dir / EXPORT).name == "otel_genai"
    assert detect_format(data_dir / "otel_genai.json").name == "otel_genai"
    detect = SOURCES["otel_genai"].detect
    for path in data_dir.glob("*.*"):
        if not path.name.startswith("otel_"):
            assert not detect(path, read_head(path)), path.name


def test_every_model_call_span_is_loaded_or_rejected(read, data_dir):
    info, rows, rejects = read(data_dir / EXPORT)
    # 13 spans in the file: an HTTP span, a tool span and the agent span above the Claude call are not
    # model calls; 9 records remain, 3 of them rejected.
    assert (info["records_read"], info["rows"], info["records_rejected"]) == (9, 6, 3)
    assert sorted(rows.x_SourceRow) == [1, 2, 3, 6, 7, 9]
    assert rejects.loc[4, ["x_Column", "x_Value", "x_Reason", "x_SourceLocator"]].tolist() == [
        "gen_ai.usage.input_tokens", "abc", "not a non-negative integer", "resourceSpans[0].scopeSpans[0].spans[6]"]
    assert rejects.loc[5, ["x_Column", "x_Reason", "x_SourceLocator"]].tolist() == [
        "startTimeUnixNano", "missing start time", "resourceSpans[0].scopeSpans[0].spans[7]"]
    assert rejects.loc[8, ["x_Column", "x_Value", "x_Reason"]].tolist() == ["span", "oops", "span is not a JSON object"]
    assert set(rejects.x_TargetTable) == {"requests"}


def test_input_includes_cache_and_reasoning_is_a_subset(read, data_dir):
    _, rows, _ = read(data_dir / EXPORT)
    # input 1200 includes 1000 cache reads -> 200 uncached; reasoning 100 inside output 300.
    assert rows.loc[CHAT, BUCKETS].tolist() == [200, 1000, 0, 0, 300]
    assert rows.loc[CHAT, "x_OutputReasoningTokens"] == 100
    assert rows.loc[CHAT, "x_DataQualityFlags"] == ""
    # 5000 = 500 uncached + 3000 read + 1500 written (no TTL in OTel: 5m, flagged).
    assert rows.loc[CLAUDE, BUCKETS].tolist() == [500, 3000, 1500, 0, 700]
    assert rows.loc[CLAUDE, "x_DataQualityFlags"] == "cache_ttl_assumed"
    # Deprecated prompt/completion names; no cache attribute at all -> split unknown.
    assert rows.loc[DEPRECATED, BUCKETS].tolist() == [50, 0, 0, 0, 10]
    assert rows.loc[DEPRECATED, "x_DataQualityFlags"] == "token_subfields_missing"
    # Cache read 400 > input 100: that instrumentation excluded cache from the input.
    assert rows.loc[OLD_CACHE, BUCKETS].tolist() == [100, 400, 0, 0, 20]
    assert rows.loc[OLD_CACHE, "x_DataQualityFlags"] == "cache_semantics_inferred"
    assert rows.loc[EMBED, BUCKETS].tolist() == [40, 0, 0, 0, 0] and rows.loc[EMBED, "x_DataQualityFlags"] == ""
    assert rows.loc[GEMINI, "x_OutputReasoningTokens"] == 300


def test_model_provider_status_time_and_cost(read, data_dir):
    _, rows, _ = read(data_dir / EXPORT)
    chat, claude = rows.loc[CHAT], rows.loc[CLAUDE]
    assert (chat.ProviderName, chat.x_Model, chat.x_ModelRaw) == ("OpenAI", "gpt-4o-2024-08-06", "gpt-4o-2024-08-06")
    assert (claude.ProviderName, claude.x_Model) == ("Anthropic", "claude-sonnet-4-5-20250929")
    assert rows.loc[GEMINI, "ProviderName"] == "Google" and rows.loc[DEPRECATED, "ProviderName"] == "OpenAI"
    assert rows.loc[DEPRECATED, "x_Model"] == "gpt-4o-mini"  # request model when no response model
    assert (chat.x_Status, claude.x_Status) == ("success", "failure")
    assert chat.ChargePeriodStart == pd.Timestamp("2024-06-01T10:00:00Z")
    assert claude.ChargePeriodEnd == pd.Timestamp("2024-06-01T10:00:03.5Z")
    assert (chat.x_LatencyMs, claude.x_LatencyMs, rows.loc[EMBED, "x_LatencyMs"]) == (1500, 2500, 200)
    assert (chat.x_Operation, rows.loc[EMBED, "x_Operation"]) == ("chat", "embedding")
    assert chat.x_ServiceTier == "standard"
    # gen_ai.usage.cost 0.0123456789012345 read from its JSON text, rounded half-even to 12 places.
    assert rows.loc[GEMINI, "x_ReportedCost"] == Decimal("0.012345678901")
    assert pd.isna(chat.x_ReportedCost) and set(rows.BillingCurrency) == {"USD"}


def test_dimensions_from_resource_and_span_attributes(read, data_dir):
    _, rows, _ = read(data_dir / EXPORT)
    chat = rows.loc[CHAT]
    assert (chat.x_Application, chat.x_Environment, chat.x_Team, chat.x_Feature) == (
        "support-bot", "prod", "support", "answer")  # service.name is the application
    assert (chat.x_ExperimentId, chat.x_Variant, chat.x_QualityScore, chat.x_SessionId) == ("exp1", "B", 0.9, "conv-1")
    assert rows.loc[DEPRECATED, "x_UserId"] == "u-42"
    assert rows.loc[GEMINI, "x_Application"] == "reporting"  # an app attribute wins over service.name
    tags = json.loads(chat.Tags)
    assert tags["span.name"] == "chat gpt-4o" and tags["service.name"] == "support-bot"
    assert "gen_ai.input.messages" not in tags and "secret" not in chat.Tags


def test_rows_satisfy_the_contract_and_a_second_read_is_identical(read, data_dir, con):
    _, first, _ = read(data_dir / EXPORT)
    _, second, _ = read(data_dir / EXPORT)
    pd.testing.assert_frame_equal(first, second)
    ingest([data_dir / EXPORT], con=con)
    validate(con.table("requests"), "requests")
    validate(con.table("rejects"), "rejects")


def test_newline_delimited_export_with_a_broken_line(read, data_dir, tmp_path):
    doc = json.loads((data_dir / EXPORT).read_text())
    lines = [json.dumps({"resourceSpans": [rs]}) for rs in doc["resourceSpans"]]
    path = tmp_path / "spans.jsonl"
    path.write_text(lines[0] + "\n" + '{"resourceSpans": [\n' + lines[1] + "\n")
    info, rows, rejects = read(path)
    # line 1: 8 records (5 loaded), line 2: one unreadable record, line 3: the Gemini call.
    assert (info["records_read"], info["rows"], info["records_rejected"]) == (10, 6, 4)
    broken = rejects[rejects.x_SourceLocator == "line 2"]
    assert broken.x_Column.tolist() == ["record"] and broken.x_Reason.iloc[0].startswith("not valid JSON")
    assert rows.loc[GEMINI, "x_SourceLocator"] == "line 3: resourceSpans[0].scopeSpans[0].spans[0]"


def test_flattened_sdk_spans_concatenated(read, tmp_path):
    span = {
        "name": "chat gpt-4o-mini",
        "context": {"trace_id": "0x" + "ab" * 16, "span_id": "0x" + "cd" * 8},
        "parent_id": None, "start_time": "2024-06-02T08:00:00.000000Z", "end_time": "2024-06-02T08:00:00.250000Z",
        "status": {"status_code": "ERROR"},
        "attributes": {"gen_ai.operation.name": "chat", "gen_ai.system": "openai",
                       "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 30,
                       "gen_ai.usage.cache_read.input_tokens": 10, "gen_ai.usage.output_tokens": 5, "team": "search"},
        "resource": {"attributes": {"service.name": "api", "deployment.environment": "staging"}},
    }
    other = {**span, "context": {"trace_id": "0x" + "ab" * 16, "span_id": "0x" + "ce" * 8}, "status": {}}
    path = tmp_path / "console.json"
    path.write_text(json.dumps(span, indent=4) + "\n" + json.dumps(other, indent=4) + "\n")
    assert detect_format(path).name == "otel_genai"
    info, rows, _ = read(path)
    assert (info["records_read"], info["rows"]) == (2, 2)
    row = rows.loc["ab" * 16 + ":" + "cd" * 8]
    assert row[BUCKETS].tolist() == [20, 10, 0, 0, 5] and row.x_Status == "failure" and row.x_LatencyMs == 250
    assert (row.x_Environment, row.x_Application, row.x_Team) == ("staging", "api", "search")
    assert row.x_SourceLocator == "line 1" and rows.loc["ab" * 16 + ":" + "ce" * 8, "x_Status"] == "success"


def test_base64_ids_become_hex(read, data_dir, tmp_path):
    doc = json.loads((data_dir / "otel_genai.json").read_text())
    span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["traceId"], span["spanId"] = "W47/95gDgQPSabYzgT/GDA==", "7uGbfsPBsXQ="
    path = tmp_path / "b64.json"
    path.write_text(json.dumps(doc))
    _, rows, _ = read(path)
    assert CHAT in rows.index


def test_gzip_reads_the_same(read, data_dir, tmp_path):
    gz = tmp_path / (EXPORT + ".gz")
    gz.write_bytes(gzip.compress((data_dir / EXPORT).read_bytes()))
    assert detect_format(gz).name == "otel_genai"
    info, rows, _ = read(gz)
    assert (info["records_read"], info["rows"]) == (9, 6)
    assert rows.loc[CHAT, BUCKETS].tolist() == [200, 1000, 0, 0, 300]


@pytest.mark.parametrize(("content", "problem"), [
    (b'{"resourceSpans": [', "not valid JSON"), (b"", "empty file"), (b'{"resourceSpans": "\xe9"}', "not UTF-8"),
])
def test_unreadable_files_raise_source_error(tmp_path, content, problem):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(SourceError, match=problem):
        SOURCES["otel_genai"].read(path, None)


def test_ingest_counts_and_reingest_replaces(con, data_dir, tmp_path):
    summary = ingest([data_dir / EXPORT], con=con)
    assert summary[["rows_read", "rows_loaded", "rows_rejected"]].iloc[0].tolist() == [9, 6, 3]
    copy = tmp_path / "again.json"
    copy.write_text((data_dir / EXPORT).read_text() + "\n")  # other bytes, same spans
    ingest([copy], con=con)
    assert con.table("requests").count().execute() == 6  # same trace:span ids replace, never add
