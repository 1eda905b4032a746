"""LiteLLM spend logs as JSON: the /spend/logs array, the v2 page, JSON lines of StandardLoggingPayload, one object.

Expected values are computed by hand from the fixtures (comments say how) or read with the stdlib ``json`` and
``csv`` modules; the JSON containers of the CSV fixture's records must give exactly the CSV path's rows.
"""

from __future__ import annotations

import csv
import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from source_cases import assert_reingest_changes_nothing

from finops_lib import engine
from finops_lib.errors import SourceError
from finops_lib.sources import detect_format, get_source
from finops_lib.warehouse import ingest

DATA = Path(__file__).resolve().parents[1] / "data"
FORMAT = "litellm_spend_logs"
API, PAGE, PAYLOADS = (
    "litellm_spend_logs_api.json",
    "litellm_spend_logs_v2_page.json",
    "litellm_spend_logs_payloads.jsonl",
)
CSV = "litellm_spend_logs.csv"
BUCKETS = (
    "x_InputUncachedTokens",
    "x_InputCacheReadTokens",
    "x_InputCacheWrite5mTokens",
    "x_InputCacheWrite1hTokens",
    "x_OutputTokens",
)
#: Columns that say where a row came from (differ between containers of the same records).
PROVENANCE = ("x_SourceFile", "x_SourceRow", "x_SourceLocator")


def load(path: Path, **kwargs) -> tuple[dict, dict[str, dict], dict[int, dict]]:
    """Ingest one file into a fresh warehouse; return (status row, rows by request id, rejects by record number)."""
    con = engine.memory()
    try:
        status = ingest([path], con=con, **kwargs).iloc[0].to_dict()
        cur = con.con.execute("SELECT * FROM requests ORDER BY x_SourceRow")
        names = [d[0] for d in cur.description]
        rows = {r["x_RequestId"]: r for r in (dict(zip(names, t, strict=True)) for t in cur.fetchall())}
        cur = con.con.execute("SELECT * FROM rejects ORDER BY x_SourceRow")
        names = [d[0] for d in cur.description]
        rejects = {r["x_SourceRow"]: r for r in (dict(zip(names, t, strict=True)) for t in cur.fetchall())}
    finally:
        con.disconnect()
    return status, rows, rejects


def buckets(row: dict) -> list[int]:
    return [row[c] for c in BUCKETS]


# --- detection ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [API, PAGE, PAYLOADS])
def test_each_json_shape_is_detected(name):
    assert detect_format(DATA / name).name == FORMAT


def test_a_single_object_and_gzip_are_detected(tmp_path):
    first = (DATA / PAYLOADS).read_text(encoding="utf-8").splitlines()[0]
    single = tmp_path / "2026-05-01_chatcmpl-p1.json"
    single.write_text(json.dumps(json.loads(first), indent=2), encoding="utf-8")
    packed = tmp_path / "spend_logs.json.gz"
    packed.write_bytes(gzip.compress((DATA / API).read_bytes(), mtime=0))
    assert detect_format(single).name == FORMAT and detect_format(packed).name == FORMAT
    status, rows, _ = load(single)
    assert (status["rows_read"], status["rows_loaded"]) == (1, 1)
    assert rows["chatcmpl-p1"]["x_SourceLocator"] == "$" and rows["chatcmpl-p1"]["x_SourceRow"] == 1
    status, rows, _ = load(packed)
    assert (status["rows_read"], status["rows_loaded"], status["rows_rejected"]) == (6, 3, 3)


# --- values ---------------------------------------------------------------------------------------------------


def test_spend_logs_api_array_values_and_rejects():
    status, rows, rejects = load(DATA / API)
    assert (status["status"], status["rows_read"], status["rows_loaded"], status["rows_rejected"]) == (
        "loaded",
        6,
        3,
        3,
    )
    raw = json.loads((DATA / API).read_text(encoding="utf-8"), parse_float=Decimal)
    a1, a2, a3 = rows["chatcmpl-a1"], rows["chatcmpl-a2"], rows["chatcmpl-a3"]
    # a1: OpenAI prompt 1200 includes 1000 cached -> 200 uncached; metadata and tags are real JSON here.
    assert buckets(a1) == [200, 1000, 0, 0, 300] and a1["x_OutputReasoningTokens"] == 0
    assert (a1["x_Team"], a1["x_Application"], a1["x_Feature"], a1["x_Environment"]) == (
        "support",
        "support-chatbot",
        "answer",
        "prod",
    )
    assert (a1["x_ExperimentId"], a1["x_Variant"], a1["x_QualityScore"]) == ("exp1", "A", 0.8)
    assert (a1["x_UserId"], a1["x_SessionId"], a1["x_ApiKeyId"], a1["x_LatencyMs"]) == ("u1", "s1", "hk-support", 1500)
    # a2: metadata as JSON text; prompt 10000 = 1000 uncached + 6000 read + 2000 (5m) + 1000 (1h); no reasoning given.
    assert buckets(a2) == [1000, 6000, 2000, 1000, 500] and a2["x_OutputReasoningTokens"] is None
    # startTime without a zone is UTC; no request_duration_ms: latency = end - start = 3 s.
    assert a2["ChargePeriodStart"].isoformat() == "2026-05-01T11:00:00.250000+00:00" and a2["x_LatencyMs"] == 3000
    # a3: optional fields missing; spend written as the integer 0.
    assert buckets(a3) == [100, 0, 0, 0, 20] and a3["x_LatencyMs"] is None and a3["x_Operation"] == "embedding"
    for rec in raw[:3]:
        assert rows[rec["request_id"]]["x_ReportedCost"] == Decimal(rec["spend"])
    assert [(r["x_SourceLocator"], r["x_Column"], r["x_Value"], r["x_Reason"]) for r in rejects.values()] == [
        ("[3]", "prompt_tokens", "-5", "not a non-negative integer"),
        ("[4]", "model", None, "missing field (required)"),
        ("[5]", "record", "oops", "record is not a JSON object"),
    ]
    assert sorted(rejects) == [4, 5, 6] and {r["x_SourceFile"] for r in rejects.values()} == {str(DATA / API)}


def test_spend_logs_v2_page_values():
    status, rows, rejects = load(DATA / PAGE)
    assert (status["rows_read"], status["rows_loaded"], rejects) == (2, 2, {})
    first, second = rows["req-v2-1"], rows["req-v2-2"]
    assert first["x_ReportedCost"] == Decimal("0.000015")  # 1.5e-05 in the JSON
    assert first["x_ServiceTier"] == "batch" and first["x_Team"] == "ops-batch"  # team tag before the key's team
    assert first["ChargePeriodStart"].isoformat() == "2026-05-02T09:30:00+00:00" and first["x_LatencyMs"] == 800
    assert (first["x_SourceRow"], first["x_SourceLocator"]) == (1, "data[0]")
    # 59200.0 is a whole count written as a float; status failure.
    assert buckets(second) == [59200, 0, 0, 0, 0] and second["x_Status"] == "failure"
    assert second["x_ReportedCost"] == Decimal(0)


def test_standard_logging_payload_lines_are_mapped_to_spend_log_rows():
    status, rows, rejects = load(DATA / PAYLOADS)
    # Lines 1, 3, 4, 5 are records (line 2 is blank): 2 loaded, line 4 is not JSON, line 5 has no model.
    assert (status["rows_read"], status["rows_loaded"], status["rows_rejected"]) == (4, 2, 2)
    p1, fail = rows["chatcmpl-p1"], rows["fail-1"]
    # startTime 1777629600.5 Unix seconds = 2026-05-01T10:00:00.5Z; endTime 2.25 s later.
    assert p1["ChargePeriodStart"].isoformat() == "2026-05-01T10:00:00.500000+00:00" and p1["x_LatencyMs"] == 2250
    # prompt 2100 = 500 uncached + 1500 read + 100 written (no TTL split: 5m, flagged).
    assert buckets(p1) == [500, 1500, 100, 0, 500] and p1["x_DataQualityFlags"] == "cache_ttl_assumed"
    assert p1["x_ReportedCost"] == Decimal("0.0042")  # response_cost
    assert (p1["x_ApiKeyId"], p1["x_UserId"], p1["x_Team"], p1["x_SessionId"]) == (
        "hash-a",
        "alice",
        "search",
        "trace-1",
    )
    assert (p1["x_Feature"], p1["x_Environment"], p1["x_SourceRow"], p1["x_SourceLocator"]) == (
        "rerank",
        "staging",
        1,
        "line 1",
    )
    assert fail["x_Status"] == "failure" and fail["x_Team"] == "team-web" and fail["x_SourceRow"] == 3
    assert rejects[4]["x_Column"] == "record" and rejects[4]["x_Reason"].startswith("not valid JSON")
    assert (rejects[5]["x_SourceLocator"], rejects[5]["x_Column"], rejects[5]["x_Reason"]) == (
        "line 5",
        "model",
        "missing field (required)",
    )


# --- the same records in every container give the CSV path's rows ---------------------------------------------------


def _csv_as_json_records() -> list[dict]:
    """The CSV fixture's records as the JSON a LiteLLM API would return (objects, arrays and numbers unquoted)."""
    out = []
    with open(DATA / CSV, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rec: dict = {}
            for key, text in row.items():
                if key is None or text in ("", None):
                    continue
                try:
                    value = json.loads(text, parse_float=Decimal)
                except ValueError:
                    value = text
                # Objects, arrays and numbers become JSON values; other text (ids, times, "None") stays a string.
                keep = isinstance(value, dict | list) or (
                    isinstance(value, int | Decimal) and not isinstance(value, bool)
                )
                rec[key] = value if keep and key not in ("request_id", "api_key", "user") else text
            out.append(rec)
    return out


def _dump(records: list[dict], shape: str) -> bytes:
    def text(value):
        return json.dumps(value, default=lambda d: float(d) if d != d.to_integral_value() or "." in str(d) else int(d))

    if shape == "array":
        return text(records).encode()
    if shape == "page":
        return text({"data": records, "total": len(records), "page": 1, "page_size": 50, "total_pages": 1}).encode()
    return ("\n".join(text(r) for r in records) + "\n").encode()


def _content(rows: dict[str, dict]) -> dict[str, dict]:
    return {k: {c: v for c, v in r.items() if c not in PROVENANCE} for k, r in rows.items()}


@pytest.mark.parametrize(
    ("shape", "suffix"), [("array", ".json"), ("page", ".json"), ("lines", ".jsonl"), ("lines", ".json.gz")]
)
def test_json_containers_give_exactly_the_csv_rows(shape, suffix, tmp_path):
    records = _csv_as_json_records()
    target = tmp_path / f"spend_logs{suffix}"
    data = _dump(records, shape)
    target.write_bytes(gzip.compress(data, mtime=0) if suffix.endswith(".gz") else data)
    csv_status, csv_rows, csv_rejects = load(DATA / CSV)
    status, rows, rejects = load(target, format=FORMAT)
    assert _content(rows) == _content(csv_rows)
    assert status["rows_read"] == csv_status["rows_read"] == len(records)
    assert status["rows_loaded"] == csv_status["rows_loaded"] and status["rows_rejected"] == csv_status["rows_rejected"]
    # Record n of the JSON is line n + 1 of the CSV (header = line 1); the same records are rejected, for the
    # same reasons, except the CSV's short line (a "record" reject there, a record lacking startTime here).
    assert {n + 1 for n in rejects} == set(csv_rejects)
    expected = {n: (r["x_Column"], r["x_Reason"]) for n, r in csv_rejects.items() if r["x_Column"] != "record"}
    assert {n + 1: (r["x_Column"], r["x_Reason"]) for n, r in rejects.items() if n + 1 in expected} == expected
    assert rejects[5]["x_Column"] == "startTime" and csv_rejects[6]["x_Column"] == "record"
    assert {r["x_RequestId"]: r["x_SourceRow"] for r in rows.values()} == {
        r["x_RequestId"]: r["x_SourceRow"] - 1 for r in csv_rows.values()
    }


# --- errors and idempotency -----------------------------------------------------------------------------------


def test_forcing_the_format_on_json_reads_it(tmp_path, con):
    result = get_source(DATA / API, FORMAT).read(DATA / API, con)
    assert result.rows_read == 6 and result.inline_rejects


def test_a_json_file_without_a_required_field_names_file_record_and_field(tmp_path, con):
    bad = tmp_path / "logs.json"
    bad.write_text(
        json.dumps(
            [
                {
                    "request_id": "r1",
                    "startTime": "2026-05-01T00:00:00Z",
                    "spend": 1,
                    "prompt_tokens": 2,
                    "completion_tokens": 3,
                }
            ]
        ),
        encoding="utf-8",
    )
    with pytest.raises(SourceError, match=r"required LiteLLM field.*model.*\[0\], record 1") as err:
        get_source(bad, FORMAT).read(bad, con)
    assert (err.value.path, err.value.line, err.value.column) == (str(bad), 1, "model")


def test_a_cut_json_array_fails_as_a_whole(tmp_path):
    cut = tmp_path / "cut.json"
    data = (DATA / API).read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    status, rows, rejects = load(cut, format=FORMAT)
    assert status["status"] == "failed" and str(cut) in status["message"] and rows == {} and rejects == {}


@pytest.mark.parametrize("name", [API, PAGE, PAYLOADS])
def test_ingesting_the_same_json_file_again_changes_nothing(name):
    assert_reingest_changes_nothing(DATA / name)


# --- corrupt JSON: only SourceError, and every record accounted for ------------------------------------------------


def _corrupt(data: bytes, draw) -> bytes:
    kind = draw(st.sampled_from(["truncate", "number", "drop_key", "latin1"]))
    text = data.decode("utf-8")
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind == "latin1":
        at = draw(st.integers(0, len(data)))
        return data[:at] + b"\xff\xfe caf\xe9" + data[at:]
    if kind == "number":
        spots = [i for i, ch in enumerate(text) if ch.isdigit()]
        at = draw(st.sampled_from(spots))
        junk = draw(st.sampled_from(['"abc"', "-1", "1e999", "null", "true", "[]", "{}", "99999999999999999999"]))
        return (text[:at] + junk + text[at + 1 :]).encode()
    keys = sorted(
        {
            k
            for k in (
                "request_id",
                "id",
                "startTime",
                "model",
                "spend",
                "response_cost",
                "prompt_tokens",
                "completion_tokens",
                "metadata",
            )
            if f'"{k}"' in text
        }
    )
    key = draw(st.sampled_from(keys))
    return text.replace(f'"{key}"', '"x_dropped"', draw(st.integers(1, 3))).encode()


@pytest.mark.parametrize("name", [API, PAGE, PAYLOADS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupt_json_raises_only_own_errors_and_loses_nothing(name, data, tmp_path_factory):
    target = tmp_path_factory.mktemp("corrupt") / name
    target.write_bytes(_corrupt((DATA / name).read_bytes(), data.draw))
    detect_format(target)  # never raises
    status, rows, rejects = load(target, format=FORMAT)
    if status["status"] == "failed":
        assert str(target) in status["message"]
    else:
        assert status["rows_read"] == status["rows_loaded"] + status["rows_rejected"] == len(rows) + len(rejects)
        assert all(r["x_SourceFile"] == str(target) and r["x_Reason"] for r in rejects.values())
