"""Langfuse exports beyond the public API's observations JSON: the UI's CSV export, the traces list, API v2 pages.

Expected values are worked out by hand from the fixtures (comments say how), amounts read with the stdlib ``csv``
and ``json`` modules.
"""

from __future__ import annotations

import csv
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
from finops_lib.sources.langfuse import TRACE_REASON
from finops_lib.warehouse import ingest

DATA = Path(__file__).resolve().parents[1] / "data"
FORMAT = "langfuse_observations"
UI, LEGACY = "langfuse_observations_ui_export.csv", "langfuse_generations_legacy.csv"
TRACES, V2 = "langfuse_traces_page.json", "langfuse_observations_v2.json"
BUCKETS = (
    "x_InputUncachedTokens",
    "x_InputCacheReadTokens",
    "x_InputCacheWrite5mTokens",
    "x_InputCacheWrite1hTokens",
    "x_OutputTokens",
)


def load(path: Path, **kwargs) -> tuple[dict, dict[str, dict], dict[int, dict]]:
    """Ingest one file into a fresh warehouse; return (status row, rows by request id, rejects by record number)."""
    con = engine.memory()
    try:
        status = ingest([path], con=con, **kwargs).iloc[0].to_dict()
        out = []
        for table in ("requests", "rejects"):
            cur = con.con.execute(f"SELECT * FROM {table} ORDER BY x_SourceRow")
            names = [d[0] for d in cur.description]
            out.append([dict(zip(names, t, strict=True)) for t in cur.fetchall()])
    finally:
        con.disconnect()
    return status, {r["x_RequestId"]: r for r in out[0]}, {r["x_SourceRow"]: r for r in out[1]}


def buckets(row: dict) -> list[int]:
    return [row[c] for c in BUCKETS]


@pytest.mark.parametrize("name", [UI, LEGACY, TRACES, V2])
def test_each_export_is_detected(name):
    assert detect_format(DATA / name).name == FORMAT


def test_ui_csv_export_values():
    status, rows, rejects = load(DATA / UI)
    with open(DATA / UI, newline="", encoding="utf-8") as fh:
        lines = {n: r for n, r in enumerate(csv.DictReader(fh), start=2)}
    # 6 lines; the SPAN (line 3) is trace structure, not a record: 5 records, 4 loaded, 1 rejected.
    assert (status["rows_read"], status["rows_loaded"], status["rows_rejected"]) == (5, 4, 1)
    assert {r["x_RequestId"]: r["x_SourceRow"] for r in rows.values()} == {
        "obs-ui-1": 2,
        "obs-ui-2": 4,
        "emb-ui-1": 6,
        "obs-ui-4": 7,
    }
    ui1, ui2, emb, ui4 = rows["obs-ui-1"], rows["obs-ui-2"], rows["emb-ui-1"], rows["obs-ui-4"]
    # usageDetails (JSON text) keys are disjoint: total 130 = 80 + 20 + 30 (inputUsage 100 sums input and cache).
    assert buckets(ui1) == [80, 20, 0, 0, 30] and ui1["x_DataQualityFlags"] == ""
    assert ui1["x_ReportedCost"] == Decimal(json.loads(lines[2]["costDetails"], parse_float=Decimal)["total"])
    assert (ui1["x_Team"], ui1["x_Application"], ui1["x_UserId"], ui1["x_Environment"]) == (
        "support",
        "support-bot",
        "u1",
        "production",
    )
    assert ui1["x_LatencyMs"] == 1200  # endTime - startTime
    assert buckets(ui2) == [50, 400, 0, 0, 25] and ui2["x_Status"] == "failure"  # level ERROR
    assert ui2["x_ReportedCost"] == Decimal("0.00018")
    # Embedding: costDetails {} -> totalCost column; environment "default" is no environment; tag from traceTags.
    assert buckets(emb) == [1000, 0, 0, 0, 0] and emb["x_ReportedCost"] == Decimal(lines[6]["totalCost"])
    assert (emb["x_Environment"], emb["x_Feature"], emb["x_Operation"]) == (None, "search", "embedding")
    # usageDetails {}: the flattened inputUsage/outputUsage stand in, cache split unknown; no cost anywhere.
    assert buckets(ui4) == [120, 0, 0, 0, 40] and ui4["x_ReportedCost"] is None
    assert ui4["x_DataQualityFlags"] == "reported_cost_missing,token_subfields_missing"
    assert (rejects[5]["x_Column"], rejects[5]["x_Value"], rejects[5]["x_Reason"]) == (
        "startTime",
        "yesterday",
        "not an ISO-8601 time",
    )
    assert rejects[5]["x_SourceFile"] == str(DATA / UI)


def test_legacy_generations_csv_values():
    status, rows, rejects = load(DATA / LEGACY)
    assert (status["rows_read"], status["rows_loaded"], status["rows_rejected"]) == (3, 2, 1)
    a, c = rows["gen-a"], rows["gen-c"]
    # promptTokens / completionTokens; "$0.00123" read as 0.00123; the trace score "quality" 0.9.
    assert buckets(a) == [1000, 0, 0, 0, 200] and a["x_ReportedCost"] == Decimal("0.00123")
    assert (a["x_QualityScore"], a["x_Feature"], a["x_Operation"], a["x_LatencyMs"]) == (0.9, "faq", "generation", 1200)
    assert buckets(c) == [300, 0, 0, 0, 50] and c["x_ReportedCost"] == Decimal("0.0004")
    assert (rejects[3]["x_Column"], rejects[3]["x_Value"], rejects[3]["x_Reason"]) == (
        "completionTokens",
        "abc",
        "not a non-negative integer",
    )


def test_traces_list_is_rejected_with_its_reason_not_loaded():
    status, rows, rejects = load(DATA / TRACES)
    # Each trace lists observation ids only: 2 records, both rejected (loading the trace's totalCost would count
    # it twice once the observations are loaded), none silently skipped.
    assert (status["status"], status["rows_read"], status["rows_loaded"], status["rows_rejected"]) == (
        "loaded",
        2,
        0,
        2,
    )
    assert rows == {}
    assert [(n, r["x_SourceLocator"], r["x_Column"], r["x_Reason"]) for n, r in rejects.items()] == [
        (1, "data[0]", "observations", TRACE_REASON),
        (2, "data[1]", "observations", TRACE_REASON),
    ]
    assert rejects[1]["x_Value"] == "trace tr-10: 2 observation ids, totalCost 0.0012"


def test_observations_api_v2_page_values():
    status, rows, rejects = load(DATA / V2)
    # 3 observations, the SPAN is structure: 2 records.
    assert (status["rows_read"], status["rows_loaded"], rejects) == (2, 2, {})
    v1, v3 = rows["o-v2-1"], rows["o-v2-3"]
    # total 1300 = 900 + 100 + 250 + 50: disjoint; reasoning 50 added to output 250 and kept as the subset.
    assert buckets(v1) == [900, 100, 0, 0, 300] and v1["x_OutputReasoningTokens"] == 50
    assert (v1["x_ModelRaw"], v1["x_ReportedCost"], v1["x_UserId"], v1["x_SessionId"]) == (
        "gpt-4.1-mini",
        Decimal("0.00077"),
        "user-7",
        "sess-7",
    )
    assert (v1["SubAccountId"], v1["x_Team"], v1["x_Environment"], v1["x_LatencyMs"]) == (
        "proj-1",
        "growth",
        None,
        2000,
    )
    assert (v1["x_SourceRow"], v1["x_SourceLocator"], v3["x_SourceRow"], v3["x_SourceLocator"]) == (
        1,
        "data[0]",
        2,
        "data[2]",
    )
    # No costDetails: v2's totalCost.
    assert buckets(v3) == [10, 0, 0, 0, 5] and v3["x_ReportedCost"] == Decimal("0.0001")


def test_a_csv_without_the_identity_columns_names_them(tmp_path, con):
    bad = tmp_path / "obs.csv"
    bad.write_text('"id","startTime","model"\n"o1","2026-05-01T00:00:00Z","gpt-4o"\n', encoding="utf-8")
    with pytest.raises(SourceError, match=r"required Langfuse column.*traceId") as err:
        get_source(bad, FORMAT).read(bad, con)
    assert err.value.path == str(bad) and err.value.column == "traceId"


@pytest.mark.parametrize("name", [UI, LEGACY, TRACES, V2])
def test_ingesting_the_same_export_again_changes_nothing(name):
    assert_reingest_changes_nothing(DATA / name)


def _corrupt_csv(data: bytes, draw) -> bytes:
    lines = data.decode("utf-8").split("\n")
    kind = draw(st.sampled_from(["truncate", "cell", "drop_field", "latin1"]))
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind == "latin1":
        at = draw(st.integers(0, len(data)))
        return data[:at] + b"\xff caf\xe9" + data[at:]
    n = draw(st.integers(1, len([line for line in lines if line]) - 1))
    cells = next(csv.reader([lines[n]]))
    i = draw(st.integers(0, len(cells) - 1))
    if kind == "cell":
        cells[i] = draw(st.sampled_from(["abc", "-1", "1e999", "{", "[1]", '{"input": "x"}', "$-5", "NaN"]))
    else:
        del cells[i]
    out = []
    csv.writer(_Lines(out), quoting=csv.QUOTE_ALL, lineterminator="").writerow(cells)
    lines[n] = out[0]
    return "\n".join(lines).encode("utf-8")


class _Lines:
    def __init__(self, out: list[str]) -> None:
        self.out = out

    def write(self, text: str) -> None:
        self.out.append(text)


@pytest.mark.parametrize("name", [UI, LEGACY])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupt_csv_export_raises_only_own_errors_and_loses_nothing(name, data, tmp_path_factory):
    target = tmp_path_factory.mktemp("corrupt") / name
    target.write_bytes(_corrupt_csv((DATA / name).read_bytes(), data.draw))
    detect_format(target)  # never raises
    status, rows, rejects = load(target, format=FORMAT)
    if status["status"] == "failed":
        assert str(target) in status["message"]
    else:
        assert status["rows_read"] == status["rows_loaded"] + status["rows_rejected"] == len(rows) + len(rejects)
