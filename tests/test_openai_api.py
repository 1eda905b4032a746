import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from finops_lib.sources import detect_format, get_source
from finops_lib.sources.openai_api import parse_line_item


def _read(path, con, fmt=None):
    src = get_source(path, fmt)
    result = src.read(Path(path), con)
    return result, con.execute(result.costs), con.execute(result.rejects)


def test_detection_by_content(data_dir):
    assert detect_format(data_dir / "openai_usage_page.json").name == "openai_usage"
    assert detect_format(data_dir / "openai_costs_page.json").name == "openai_costs"


def test_usage_buckets_are_disjoint_and_add_up(data_dir, con):
    result, rows, rejects = _read(data_dir / "openai_usage_page.json", con)
    # 6 result records: 1 rejected ("lots"), 1 rejected (cached > input), 4 loaded.
    assert result.rows_read == 6
    assert sorted(rejects.x_SourceRow) == [4, 5]
    assert set(rejects.x_Column) == {"input_tokens"}
    assert rows.x_SourceRow.nunique() == 4
    first = rows[rows.x_SourceRow == 1].set_index("x_TokenType").ConsumedQuantity.astype(int).to_dict()
    # input 1000 = 500 uncached + 400 cache read + 100 cache write (hand-worked from the spec example).
    assert first == {"input_uncached": 500, "input_cache_read": 400, "input_cache_write_5m": 100, "output": 500}
    third = rows[rows.x_SourceRow == 3].set_index("x_TokenType").ConsumedQuantity.astype(int).to_dict()
    assert third == {"input_uncached": 1000, "input_cache_read": 6000, "output": 10}
    assert (rows[rows.x_SourceRow == 3].x_ServiceTier == "batch").all()


def test_usage_request_counts_once_per_record(data_dir, con):
    _, rows, _ = _read(data_dir / "openai_usage_page.json", con)
    assert rows.x_RequestCount.sum() == 5 + 3 + 2 + 1
    assert rows.groupby("x_SourceRow").x_RequestCount.count().eq(1).all()


def test_usage_flags_partial_buckets_and_is_unpriced(data_dir, con):
    _, rows, _ = _read(data_dir / "openai_usage_page.json", con)
    partial = rows.groupby("x_SourceRow").x_DataQualityFlags.first().str.contains("partial_bucket")
    # bucket 1 starts at 09:00 (query start), the last ends at 07:33 ("now"): both partial.
    assert partial.to_dict() == {1: True, 2: False, 3: False, 6: True}
    assert rows.x_DataQualityFlags.str.contains("unpriced").all()
    assert rows.BilledCost.isna().all() and (rows.x_CostBasis == "estimated").all()
    last = rows[rows.x_SourceRow == 6]
    assert "token_subfields_missing" in last.x_DataQualityFlags.iloc[0]
    assert last.x_ServiceTier.isna().all()


def test_usage_audio_subsets_are_recorded_not_added(data_dir, con):
    _, rows, _ = _read(data_dir / "openai_usage_page.json", con)
    first = rows[rows.x_SourceRow == 1].set_index("x_TokenType")
    assert json.loads(first.loc["input_uncached", "SkuPriceDetails"])["x_input_audio_tokens"] == 50
    assert json.loads(first.loc["output", "SkuPriceDetails"])["x_output_audio_tokens"] == 20
    assert first.ConsumedQuantity.sum() == 1500


def test_costs_amounts_are_exact_decimals(data_dir, con):
    result, rows, rejects = _read(data_dir / "openai_costs_page.json", con)
    assert result.rows_read == 6 and len(rows) == 5 and len(rejects) == 1
    assert rejects.x_Column.iloc[0] == "amount.value" and rejects.x_SourceRow.iloc[0] == 5
    day1 = rows[rows.ChargePeriodStart == pd.Timestamp("2026-05-01", tz="UTC")]
    # 0.1 + 0.2 is exactly 0.3 here, not 0.30000000000000004.
    assert day1.BilledCost.iloc[:2].sum() == Decimal("0.3")
    assert rows.BillingCurrency.eq("USD").all() and rows.x_CostBasis.eq("invoiced").all()
    tiny = rows[rows.SkuMeter.str.startswith("evals")].iloc[0]
    assert tiny.BilledCost == Decimal("0.000123456789")
    assert (tiny.x_ServiceTier, tiny.x_TokenType, tiny.x_Model) == ("batch", "output", "gpt-4o-mini-2024-07-18")
    assert rows.set_index("SkuMeter").x_TokenType.to_dict()["gpt-4o-2024-08-06, cache writes - 12hr"] == \
        "input_cache_write_1h"


def test_line_items():
    assert parse_line_item("gpt-4o-2024-08-06, input") == (None, "gpt-4o-2024-08-06", "input_uncached", None)
    assert parse_line_item("gpt-4o-2024-08-06, cache writes") == (None, "gpt-4o-2024-08-06",
                                                                  "input_cache_write_5m", None)
    assert parse_line_item("gpt-5-mini-2025-08-07, output, flex") == (None, "gpt-5-mini-2025-08-07", "output", "flex")
    assert parse_line_item("web search tool calls")[2] == "non_token"


def test_real_cookbook_response_keeps_its_token_totals(real_dir, con):
    path = real_dir / "openai_usage_completions_cookbook_2025-01.json"
    doc = json.loads(path.read_text())
    result, rows, rejects = _read(path, con)
    assert rejects.empty and result.rows_read == sum(len(b["results"]) for b in doc) == 26
    expected = {}
    for bucket in doc:
        for r in bucket["results"]:
            day = pd.Timestamp(bucket["start_time"], unit="s", tz="UTC")
            expected[day] = (r["input_tokens"], r["output_tokens"], r["num_model_requests"])
    got = rows.assign(inp=rows.ConsumedQuantity.where(rows.x_TokenType != "output", 0).astype(int),
                      out=rows.ConsumedQuantity.where(rows.x_TokenType == "output", 0).astype(int)) \
        .groupby("ChargePeriodStart").agg(inp=("inp", "sum"), out=("out", "sum"), req=("x_RequestCount", "sum"))
    assert {k: (int(v.inp), int(v.out), int(v.req)) for k, v in got.iterrows()} == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9),
                          st.integers(0, 10**9)), min_size=1, max_size=8))
def test_property_input_buckets_sum_to_input_tokens(tmp_path_factory, records):
    from finops_lib import engine

    results = [{"object": "organization.usage.completions.result", "input_tokens": u + c + w,
                "input_cached_tokens": c, "input_cache_write_tokens": w, "output_tokens": o,
                "num_model_requests": 1, "model": f"m{i}"} for i, (u, c, w, o) in enumerate(records)]
    doc = {"object": "page", "data": [{"object": "bucket", "start_time": 1777593600, "end_time": 1777680000,
                                      "results": results}]}
    path = tmp_path_factory.mktemp("p") / "u.json"
    path.write_text(json.dumps(doc))
    con = engine.memory()
    _, rows, rejects = _read(path, con, "openai_usage")
    assert rejects.empty
    inputs = rows[rows.x_TokenType != "output"].groupby("x_Model").ConsumedQuantity.sum()
    outputs = rows[rows.x_TokenType == "output"].groupby("x_Model").ConsumedQuantity.sum()
    for i, (u, c, w, o) in enumerate(records):
        assert inputs.get(f"m{i}", 0) == u + c + w
        assert outputs[f"m{i}"] == o


def test_bucket_time_out_of_range_is_rejected_not_raised(tmp_path, con):
    """Found by the corruption property test: a start_time beyond year 9999 used to raise OverflowError."""
    result_record = {"object": "organization.usage.completions.result", "input_tokens": 10, "output_tokens": 5,
                     "num_model_requests": 1, "model": "gpt-4o-mini-2024-07-18", "batch": False,
                     "input_cached_tokens": 0}  # fmt: skip
    page = {"object": "page", "has_more": False, "next_page": None, "data": [
        {"object": "bucket", "start_time": 10**22, "end_time": 10**22 + 86400, "results": [result_record]}]}
    path = tmp_path / "openai_usage_huge.json"
    path.write_text(json.dumps(page))
    result, rows, rejects = _read(path, con, "openai_usage")
    assert result.rows_read == 1 and len(rows) == 0
    assert rejects.x_Column.tolist() == ["start_time"]
    assert "outside the plausible dates 2000-01-01 to " in rejects.x_Reason.iloc[0]  # issue 17: the window


def test_a_page_of_only_the_current_partial_hour_is_flagged_partial(tmp_path, con):
    """A short look-back can return only the hour still filling (10:00 to 10:30): partial, not a 30-minute grid."""
    start = 1764842400  # 2025-12-04 10:00 UTC
    result = {"object": "organization.usage.completions.result", "input_tokens": 100, "input_cached_tokens": 0,
              "input_cache_write_tokens": 0, "output_tokens": 10, "num_model_requests": 1, "model": "gpt-4o-mini"}
    page = {"object": "page", "has_more": False, "next_page": None,
            "data": [{"object": "bucket", "start_time": start, "end_time": start + 1800, "results": [result]}]}
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page))
    _, rows, rejects = _read(path, con)
    assert rejects.empty and len(rows) == 2
    assert rows.x_DataQualityFlags.str.contains("partial_bucket").all()
