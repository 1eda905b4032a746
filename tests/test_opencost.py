"""OpenCost allocation exports: hand-worked values from tests/data/opencost_allocation.json, restatement, rejects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finops_lib import engine
from finops_lib.warehouse import ingest

FIXTURE = Path(__file__).resolve().parent / "data" / "opencost_allocation.json"


def _load(*paths: Path) -> tuple[dict, object, list]:
    con = engine.memory()
    try:
        summary = ingest(list(paths), con=con)
        rows = con.con.execute("SELECT x_Deployment, x_Metric, strftime(ChargePeriodStart, '%d'), x_Value "
                               "FROM metrics").fetchall()
        rejects = con.con.execute("SELECT x_SourceRow, x_Column, x_Reason FROM rejects").fetchall()
    finally:
        con.disconnect()
    return {(d, m, day): v for d, m, day, v in rows}, summary, rejects


def test_the_fixture_gives_the_hand_worked_values():
    values, summary, rejects = _load(FIXTURE)
    assert summary.iloc[0].status == "loaded" and rejects == []
    # vllm-llama-8b, 1 May: CPU 1.92 with an adjustment of -0.12; whole cost 1.80 + 0.61 + 98.30 + 0.24 + 0.05
    assert values[("vllm-llama-8b", "cpu_cost", "01")] == pytest.approx(1.80, abs=1e-9)
    assert values[("vllm-llama-8b", "total_cost", "01")] == pytest.approx(101.00, abs=1e-9)
    # 2 May the deployment ran half the day on its GPU: 12 GPU-hours, the other 12 idle
    assert values[("vllm-llama-8b", "gpu_hours", "02")] == 12 and values[("__idle__", "gpu_hours", "02")] == 12
    assert values[("__idle__", "gpu_cost", "01")] == 0
    assert values[("__idle__", "total_cost", "01")] == pytest.approx(4.32)
    assert len({k[0] for k in values}) == 3 and len(values) == 2 * 3 * 13


def test_labels_give_the_dimensions_and_the_model():
    con = engine.memory()
    try:
        ingest([FIXTURE], con=con)
        got = set(con.con.execute("SELECT DISTINCT x_Deployment, x_Cluster, x_Namespace, x_Team, x_Application, "
                                  "x_Feature, x_Environment, x_Model FROM metrics").fetchall())
    finally:
        con.disconnect()
    assert got == {
        ("vllm-llama-8b", "prod-eks", "llm-serving", "platform", "support-chatbot", None, None,
         "meta-llama/llama-3.1-8b-instruct"),
        ("retriever", "prod-eks", "search-rag", "search", "search-assistant", "retrieval", "prod", None),
        ("__idle__", "prod-eks", None, None, None, None, None, None),
    }


def test_a_later_export_of_a_step_restates_it_and_nothing_is_counted_twice(tmp_path):
    doc = json.loads(FIXTURE.read_text())
    later = {"code": 200, "data": [doc["data"][1]]}  # 2 May again, OpenCost having reconciled the GPU cost
    later["data"][0]["llm-serving"]["gpuCost"] = 40.0
    path = tmp_path / "opencost-2026-05-02.json"
    path.write_text(json.dumps(later))
    values, summary, _ = _load(FIXTURE, path)
    assert summary.set_index("format").rows_replaced.sum() == 39  # the 3 allocations x 13 measures of 2 May
    assert values[("vllm-llama-8b", "gpu_cost", "02")] == 40 and values[("vllm-llama-8b", "gpu_cost", "01")] == 98.3
    assert len(values) == 78


def test_a_bad_allocation_is_rejected_whole_and_the_rest_loads(tmp_path):
    doc = json.loads(FIXTURE.read_text())
    doc["data"][0]["search-rag"]["window"]["end"] = "2026-04-30T00:00:00Z"
    doc["data"][1]["__idle__"]["ramCost"] = "n/a"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    values, summary, rejects = _load(path)
    assert sorted(rejects) == [(2, "window.end", "the window ends before it starts"), (6, "ramCost", "not a number")]
    assert (summary.iloc[0].rows_read, summary.iloc[0].rows_loaded, summary.iloc[0].rows_rejected) == (6, 4, 2)
    assert len(values) == 4 * 13 and ("retriever", "cpu_cost", "01") not in values
