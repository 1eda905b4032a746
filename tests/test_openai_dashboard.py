import functools
import gzip
import json
import os
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops_lib import engine
from finops_lib.errors import FinopsError
from finops_lib.schema import validate
from finops_lib.sources import SOURCES, detect_format, get_source
from finops_lib.warehouse.ingestion import ingest

OURS = {"openai_dashboard_costs", "openai_dashboard_activity"}
DATA = Path(__file__).parent / "data"
DAY5, DAY6, DAY7 = (pd.Timestamp(f"2025-10-0{d}", tz="UTC") for d in (5, 6, 7))
COST_HEADER = ("start_time,end_time,start_time_iso,end_time_iso,amount_value,amount_currency,line_item,project_id,"
               "organization_id,organization_name")


@functools.cache
def _shared_engine():
    return engine.memory()  # one engine for the property tests: opening one takes a second


def _read(path, con, fmt=None):
    result = get_source(path, fmt).read(Path(path), con)
    return result, con.execute(result.costs), con.execute(result.rejects)


def _rejects(rejects):
    return [(r.x_SourceRow, r.x_Column, r.x_Value if isinstance(r.x_Value, str) else None, r.x_Reason)
            for r in rejects.itertuples()]


def _tokens(rows, line):
    sel = rows[rows.x_SourceRow == line]
    return {t: int(q) for t, q in zip(sel.x_TokenType, sel.ConsumedQuantity, strict=True)}


def _cost_line(day, amount, line_item, project="proj_A", org="org-1"):
    start = 1759622400 + (day - 5) * 86400
    return f'{start},{start + 86400},,,{amount},usd,"{line_item}",{project},{org},Acme'


# --- detection ---------------------------------------------------------------------------------

def test_detection_by_content(data_dir, tmp_path):
    for name in ("openai_dashboard_costs", "openai_dashboard_costs_edge", "openai_dashboard_costs_variant"):
        assert detect_format(data_dir / f"{name}.csv").name == "openai_dashboard_costs", name
    for name in ("openai_dashboard_activity", "openai_dashboard_activity_edge"):
        assert detect_format(data_dir / f"{name}.csv").name == "openai_dashboard_activity", name
    packed = tmp_path / "export.csv.gz"
    packed.write_bytes(gzip.compress((data_dir / "openai_dashboard_activity.csv").read_bytes()))
    assert detect_format(packed).name == "openai_dashboard_activity"


def test_detectors_accept_only_their_files(data_dir):
    for path in sorted(p for p in data_dir.iterdir() if p.is_file()):
        head = path.read_text(errors="replace")
        accepted = {name for name in OURS if SOURCES[name].detect(path, head)}
        if path.name.startswith("openai_dashboard_costs"):
            assert accepted == {"openai_dashboard_costs"}, path.name
        elif path.name.startswith("openai_dashboard_activity"):
            assert accepted == {"openai_dashboard_activity"}, path.name
        else:
            assert accepted == set(), path.name
        if path.name.startswith("openai_dashboard_"):
            others = {n for n, s in SOURCES.items() if n not in OURS and s.detect(path, head)}
            assert others == set(), (path.name, others)


# --- cost export --------------------------------------------------------------------------------

def test_cost_export_amounts_meters_and_windows(data_dir, con):
    result, rows, rejects = _read(data_dir / "openai_dashboard_costs.csv", con)
    # 5 line items; the day without usage (line 7) is not a record.
    assert result.rows_read == 5 and rejects.empty and list(rows.x_SourceRow) == [2, 3, 4, 5, 6]
    validate(rows, "costs")
    assert rows.BilledCost.sum() == Decimal("0.70544325")  # 0.56177125 + 0.10646 + 0.0072 + 0.000012 + 0.03
    assert rows.set_index("x_SourceRow").BilledCost[5] == Decimal("0.000012")  # "1.2E-5"
    for money in ("EffectiveCost", "ListCost", "ContractedCost"):
        assert (rows[money] == rows.BilledCost).all()
    assert set(rows.BillingCurrency) == {"USD"} and set(rows.x_CostBasis) == {"invoiced"}
    assert set(rows.BillingAccountId) == {"org-Xq2mJ7Lw0pRt"} and set(rows.BillingAccountName) == {"Acme Labs"}
    meters = rows.set_index("x_SourceRow")[["x_Model", "x_TokenType", "x_ServiceTier"]]
    assert meters.loc[2].tolist() == ["gpt-4o-2024-08-06", "input_uncached", "standard"]
    assert meters.loc[3].tolist() == ["gpt-4o-2024-08-06", "output", "standard"]
    assert meters.loc[4].tolist() == ["gpt-4o-2024-08-06", "input_cache_read", "standard"]
    assert meters.loc[6].tolist() == ["gpt-4.1-2025-04-14", "input_uncached", "batch"]
    assert rows.x_DataQualityFlags.eq("").all()
    # The export covers 2025-10-05 .. 2025-10-08 (the empty day included), one window per project.
    assert [(w.start, w.end, w.scope) for w in result.windows] == [
        (DAY5, pd.Timestamp("2025-10-08", tz="UTC"),
         (("BillingAccountId", "org-Xq2mJ7Lw0pRt"), ("SubAccountId", "proj_4BhNtYH0z7dWbBtzhibxa65W"))),
        (DAY5, pd.Timestamp("2025-10-08", tz="UTC"),
         (("BillingAccountId", "org-Xq2mJ7Lw0pRt"), ("SubAccountId", "proj_Bq8s1Lk2Zt5Vn7Yx3Wc9Hd4F"))),
    ]


def test_cost_export_rejects_and_variants(data_dir, con):
    result, rows, rejects = _read(data_dir / "openai_dashboard_costs_edge.csv", con)
    assert result.rows_read == 9 and len(rows) == 4
    assert _rejects(rejects) == [
        (3, "amount_value", "abc", "missing or not a decimal amount"),
        (4, "amount_value", None, "missing or not a decimal amount"),
        (5, "amount_currency", "US Dollars", "not an ISO 4217 currency code"),
        (6, "record", "1759622400,1759708800,0.5", "expected 10 fields, found 3"),
        (7, "start_time", "yesterday", "not a Unix time in seconds"),
    ]
    by_line = rows.set_index("x_SourceRow")
    assert (by_line.x_TokenType[8], by_line.x_DataQualityFlags[8], by_line.x_ModelRaw[8]) == \
        ("non_token", "meter_unparsed", "mystery sku")
    assert by_line.x_Model.isna()[8]
    assert by_line.x_DataQualityFlags[9] == "partial_bucket"  # starts 10:26:40, not at midnight
    # Line 10 is blank and line 11 an empty day: the credit is on line 12.
    assert (by_line.BilledCost[12], by_line.ChargeCategory[12]) == (Decimal("-2.5"), "Credit")


def test_cost_export_column_variants(data_dir, con):
    _, rows, rejects = _read(data_dir / "openai_dashboard_costs_variant.csv", con)
    assert rejects.empty and len(rows) == 1
    row = rows.iloc[0]
    assert (row.ChargePeriodStart, row.ChargePeriodEnd) == (DAY5, DAY6)
    assert (row.BilledCost, row.SubAccountName, row.BillingAccountId) == (Decimal("0.125"), "Support bot",
                                                                          "(not in source)")
    assert (row.x_Model, row.x_TokenType) == ("gpt-4o-mini-2024-07-18", "output")


# --- activity export ----------------------------------------------------------------------------

def test_activity_buckets_are_disjoint(data_dir, con):
    result, rows, rejects = _read(data_dir / "openai_dashboard_activity.csv", con)
    assert result.rows_read == 3 and rejects.empty
    validate(rows, "costs")
    # Real row: 59200 input = 5760 cached + 53440 uncached (no cache writes).
    assert _tokens(rows, 2) == {"input_uncached": 53440, "input_cache_read": 5760, "output": 10646}
    # 1200 input, 0 cached, 1000 uncached: the 200 left are cache writes.
    assert _tokens(rows, 3) == {"input_uncached": 1000, "input_cache_write_5m": 200, "output": 300}
    assert _tokens(rows, 4) == {"input_uncached": 400, "input_cache_read": 100, "output": 2000}
    tiers = rows.groupby("x_SourceRow").x_ServiceTier.first().to_dict()
    assert tiers == {2: "standard", 3: "batch", 4: "flex"}
    assert rows.x_RequestCount.sum() == 14 and rows.groupby("x_SourceRow").x_RequestCount.count().eq(1).all()
    assert rows.BilledCost.isna().all() and rows.x_DataQualityFlags.eq("unpriced").all()
    line4 = rows[rows.x_SourceRow == 4].set_index("x_TokenType")
    assert line4.x_UserId.isna().all() and line4.x_ApiKeyId.isna().all()
    assert json.loads(line4.SkuPriceDetails["input_uncached"])["x_input_audio_tokens"] == 250
    assert json.loads(line4.SkuPriceDetails["output"])["x_output_audio_tokens"] == 800
    total_in = rows[rows.x_TokenType != "output"].ConsumedQuantity.sum()
    assert total_in == 59200 + 1200 + 500


def test_activity_rejects_and_flags(data_dir, con):
    result, rows, rejects = _read(data_dir / "openai_dashboard_activity_edge.csv", con)
    assert result.rows_read == 10 and rows.x_SourceRow.nunique() == 3
    assert _rejects(rejects) == [
        (2, "num_model_requests", "12.5", "fractional count (tokens and requests are whole numbers)"),
        (4, "batch", "maybe", "not TRUE or FALSE"),
        (5, "input_tokens", "1e3", "input_tokens is smaller than its cached and cache-write parts"),
        (6, "output_tokens", "-5.0", "not a non-negative count"),
        (7, "input_tokens", None, "required value missing"),
        (9, "input_tokens", "abc", "not a number"),
        (10, "input_uncached_tokens", "60.0", "input_cached_tokens + input_uncached_tokens exceed input_tokens"),
    ]
    # No input_uncached_tokens value: cache writes unknown, split flagged incomplete.
    assert _tokens(rows, 3) == {"input_uncached": 80, "input_cache_read": 20, "output": 10}
    assert set(rows[rows.x_SourceRow == 3].x_DataQualityFlags) == {"token_subfields_missing,unpriced"}
    line8 = rows[rows.x_SourceRow == 8]
    assert _tokens(rows, 8) == {"input_uncached": 800, "input_cache_read": 200, "output": 7}  # "1E+3" input
    assert line8.x_ServiceTier.isna().all() and json.loads(line8.x_SourceExtra.iloc[0]) == {"service_tier": "turbo"}
    assert _tokens(rows, 11) == {"input_uncached": 40, "input_cache_read": 50, "input_cache_write_5m": 10, "output": 1}
    assert set(rows[rows.x_SourceRow == 11].x_ServiceTier) == {"provisioned"}


def test_second_read_gives_identical_rows(data_dir, con):
    for name in ("openai_dashboard_costs_edge.csv", "openai_dashboard_activity.csv"):
        first, rows1, rej1 = _read(data_dir / name, con)
        second, rows2, rej2 = _read(data_dir / name, con)
        pd.testing.assert_frame_equal(rows1, rows2)
        pd.testing.assert_frame_equal(rej1, rej2)
        assert first.windows == second.windows


# --- whole-file errors and robustness -----------------------------------------------------------

@pytest.mark.parametrize(("text", "problem"), [
    ("", "cannot read the CSV header"),
    ("start_time,amount_value,line_item,amount_value\n", "repeats a column"),
    ("end_time,amount_value,line_item\n", "required column missing: start_time"),
    ("start_time,input_tokens\n", "required column missing: output_tokens"),
])
def test_unreadable_files_raise_source_error(tmp_path, con, text, problem):
    path = tmp_path / "export.csv"
    path.write_text(text)
    fmt = "openai_dashboard_activity" if "input_tokens" in text else "openai_dashboard_costs"
    with pytest.raises(FinopsError, match=problem):
        SOURCES[fmt].read(path, con)


def test_latin1_bytes_raise_source_error(data_dir, tmp_path, con):
    path = tmp_path / "export.csv"
    path.write_bytes((data_dir / "openai_dashboard_costs.csv").read_bytes().replace(b"Acme", b"Acm\xe9"))
    with pytest.raises(FinopsError, match="not UTF-8"):
        SOURCES["openai_dashboard_costs"].read(path, con)


def test_period_faults(tmp_path, con):
    path = tmp_path / "export.csv"
    path.write_text(f"{COST_HEADER}\n1759708800,1759622400,,,1.0,usd,\"o3-2025-04-16, input\",p,o,n\n"
                    ",,,,1.0,usd,\"o3-2025-04-16, input\",p,o,n\n"
                    "1759622400,,,,1.0,usd,\"o3-2025-04-16, input\",p,o,n\n")
    _, rows, rejects = _read(path, con, "openai_dashboard_costs")
    assert _rejects(rejects) == [(2, "end_time", "1759622400", "period end is not after start"),
                                 (3, "start_time", None, "required value missing")]
    assert (rows.ChargePeriodEnd.iloc[0], rows.x_SourceRow.iloc[0]) == (DAY6, 4)  # end defaults to one day


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["openai_dashboard_costs.csv", "openai_dashboard_activity.csv"]), st.data())
def test_property_corrupted_cells_are_rejected_not_raised(tmp_path_factory, name, data):
    lines = (DATA / name).read_text().splitlines()
    row = data.draw(st.integers(1, len(lines) - 1))
    cells = lines[row].split(",")
    col = data.draw(st.integers(0, len(cells) - 1))
    cells[col] = data.draw(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12))
    lines[row] = ",".join(cells)
    path = tmp_path_factory.mktemp("c") / "export.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fmt = "openai_dashboard_costs" if "costs" in name else "openai_dashboard_activity"
    try:
        result, rows, rejects = _read(path, _shared_engine(), fmt)
    except FinopsError:
        return
    assert result.rows_read == rows.x_SourceRow.nunique() + len(rejects)
    assert rows.x_RowHash.notna().all() and (rows.ConsumedQuantity.dropna() >= 0).all()


# --- re-downloads -------------------------------------------------------------------------------

def test_overlapping_redownload_replaces_not_adds(tmp_path):
    first = tmp_path / "cost_oct05_oct06.csv"
    first.write_text("\n".join([COST_HEADER, _cost_line(5, "1.0", "gpt-4o-2024-08-06, input"),
                                _cost_line(6, "2.0", "gpt-4o-2024-08-06, input"),
                                _cost_line(6, "0.5", "gpt-4o-2024-08-06, output"),
                                _cost_line(6, "7.0", "gpt-4o-2024-08-06, input", project="proj_B")]) + "\n")
    # Re-downloaded from Oct 6 for proj_A only: Oct 6 restated (the output line item is gone), Oct 7 new.
    second = tmp_path / "cost_oct06_oct07.csv"
    second.write_text("\n".join([COST_HEADER, _cost_line(6, "2.25", "gpt-4o-2024-08-06, input"),
                                 _cost_line(7, "3.0", "gpt-4o-2024-08-06, input")]) + "\n")
    con = engine.memory()
    ingest([first], con=con)
    ingest([second], con=con)
    costs = con.table("costs").to_pandas()
    got = {(r.ChargePeriodStart.day, r.SubAccountId, r.SkuMeter): r.BilledCost for r in costs.itertuples()}
    assert got == {(5, "proj_A", "gpt-4o-2024-08-06, input"): Decimal("1"),
                   (6, "proj_A", "gpt-4o-2024-08-06, input"): Decimal("2.25"),
                   (6, "proj_B", "gpt-4o-2024-08-06, input"): Decimal("7"),
                   (7, "proj_A", "gpt-4o-2024-08-06, input"): Decimal("3")}


def test_same_charge_from_the_costs_api_and_the_export_is_counted_once(tmp_path):
    page = {"object": "page", "data": [{"object": "bucket", "start_time": 1759622400, "end_time": 1759708800,
            "results": [{"object": "organization.costs.result", "amount": {"value": 0.5, "currency": "usd"},
                         "line_item": "gpt-4o-2024-08-06, input", "project_id": "proj_A"}]}]}
    api = tmp_path / "costs_page.json"
    api.write_text(json.dumps(page))
    export = tmp_path / "export.csv"
    export.write_text(f"{COST_HEADER}\n{_cost_line(5, '0.5617', 'gpt-4o-2024-08-06, input')}\n")
    con = engine.memory()
    ingest([api], con=con)
    ingest([export], con=con)
    costs = con.table("costs").to_pandas()
    assert len(costs) == 1 and costs.BilledCost.iloc[0] == Decimal("0.5617")
    assert costs.x_SourceFormat.iloc[0] == "openai_dashboard_costs"


def test_same_usage_from_the_usage_api_and_the_export_is_counted_once(data_dir, tmp_path):
    result = {"object": "organization.usage.completions.result", "input_tokens": 59200, "output_tokens": 10646,
              "input_cached_tokens": 5760, "input_cache_write_tokens": 0, "num_model_requests": 10,
              "project_id": "proj_4BhNtYH0z7dWbBtzhibxa65W", "user_id": "user-dAU7Ud7OljwJvKfi4wQzWHyV",
              "api_key_id": "key_OYRZfEkH5R9CNgtY", "model": "gpt-4o-2024-08-06", "batch": False,
              "service_tier": "default"}
    page = {"object": "page", "data": [{"object": "bucket", "start_time": 1759622400, "end_time": 1759708800,
                                        "results": [result]}]}
    api = tmp_path / "usage_page.json"
    api.write_text(json.dumps(page))
    os.utime(api, (1_000_000_000, 1_000_000_000))  # pulled long before the export was downloaded: the export wins
    con = engine.memory()
    ingest([api], con=con)
    ingest([data_dir / "openai_dashboard_activity.csv"], con=con)
    costs = con.table("costs").to_pandas()
    line2 = costs[(costs.ChargePeriodStart == DAY5) & (costs.x_ModelRaw == "gpt-4o-2024-08-06")]
    assert len(line2) == 3 and set(line2.x_SourceFormat) == {"openai_dashboard_activity"}
    assert costs.ConsumedQuantity.sum() == 59200 + 10646 + 1200 + 300 + 500 + 2000
