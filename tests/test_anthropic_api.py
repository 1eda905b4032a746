import functools
import gzip
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops_lib import engine, paths
from finops_lib.errors import FinopsError
from finops_lib.schema import validate
from finops_lib.sources import SOURCES, detect_format, get_source
from finops_lib.warehouse.ingestion import ingest

SAMPLE = paths.SAMPLE_DIR / "anthropic"
OURS = {"anthropic_usage_report", "anthropic_cost_report"}
TS = pd.Timestamp


@functools.cache
def _shared_engine():
    return engine.memory()  # one engine for the property tests: opening one takes a second


def _read(path, con, fmt=None):
    result = get_source(path, fmt).read(Path(path), con)
    return result, con.execute(result.costs), con.execute(result.rejects)


def _tokens(rows, source_row):
    sel = rows[rows.x_SourceRow == source_row]
    return {t: int(q) for t, q in zip(sel.x_TokenType, sel.ConsumedQuantity, strict=True)}


def _rejects(rejects):
    return [(r.x_SourceRow, r.x_SourceLocator, r.x_Column, r.x_Reason) for r in rejects.itertuples()]


# --- detection ---------------------------------------------------------------------------------

def test_detection_by_content(data_dir, tmp_path):
    for name in ("anthropic_usage_report", "anthropic_usage_report_legacy", "anthropic_usage_report_analytics",
                 "anthropic_usage_report_users"):
        assert detect_format(data_dir / f"{name}.json").name == "anthropic_usage_report", name
    for name in ("anthropic_cost_report", "anthropic_cost_report_edge", "anthropic_cost_report_analytics"):
        assert detect_format(data_dir / f"{name}.json").name == "anthropic_cost_report", name
    # The file name plays no part: a usage page named like a cost report is still usage.
    renamed = tmp_path / "cost_report.json.gz"
    renamed.write_bytes(gzip.compress((data_dir / "anthropic_usage_report.json").read_bytes()))
    assert detect_format(renamed).name == "anthropic_usage_report"


def test_detectors_accept_only_their_files(data_dir):
    for path in sorted(p for p in data_dir.iterdir() if p.is_file()):
        accepted = {name for name in OURS if SOURCES[name].detect(path, path.read_text(errors="replace"))}
        if path.name.startswith("anthropic_usage_report"):
            assert accepted == {"anthropic_usage_report"}, path.name
        elif path.name.startswith("anthropic_cost_report"):
            assert accepted == {"anthropic_cost_report"}, path.name
        else:
            assert accepted == set(), path.name
        if path.name.startswith("anthropic_"):
            others = {n for n, s in SOURCES.items() if n not in OURS and s.detect(path, path.read_text())}
            assert others == set(), (path.name, others)


# --- usage report -------------------------------------------------------------------------------

def test_usage_buckets_dimensions_and_flags(data_dir, con):
    result, rows, rejects = _read(data_dir / "anthropic_usage_report.json", con)
    assert result.rows_read == 4 and rejects.empty and len(rows) == 12
    validate(rows, "costs")
    # Docs example: 1500 uncached, 200 read, 500 + 1000 writes, 500 output, 10 web searches.
    assert _tokens(rows, 1) == {"input_uncached": 1500, "input_cache_read": 200, "input_cache_write_5m": 500,
                                "input_cache_write_1h": 1000, "output": 500, "non_token": 10}
    first = rows[rows.x_SourceRow == 1].iloc[0]
    assert first.SubAccountId == "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ" and pd.isna(first.SubAccountName)
    assert (first.x_ApiKeyId, first.x_UserId) == ("apikey_01Rj2N8SVvo6BePZj99NhmiT", "user_01WCz1FkmYMm4gnmykNKUu3Q")
    assert (first.x_ServiceTier, first.x_ContextTier, first.RegionId) == ("standard", "standard", "global")
    assert (first.ProviderName, first.ServiceName, first.x_Model) == ("Anthropic", "Claude API",
                                                                       "claude-opus-4-1-20250805")
    web = rows[(rows.x_SourceRow == 1) & (rows.x_TokenType == "non_token")].iloc[0]
    assert web.ConsumedUnit == "Requests"
    # Null workspace = the Default workspace; Workbench usage has no API key.
    second = rows[rows.x_SourceRow == 2]
    assert _tokens(rows, 2) == {"input_uncached": 250000, "output": 1200}
    assert set(second.SubAccountId) == {"default"} and set(second.SubAccountName) == {"Default Workspace"}
    assert second.x_ApiKeyId.isna().all() and set(second.x_ContextTier) == {"long"}
    assert set(second.x_ServiceTier) == {"batch"}
    third = rows[rows.x_SourceRow == 3]
    assert _tokens(rows, 3) == {"input_uncached": 10, "output": 0}  # output kept even when 0
    assert set(third.x_ServiceTier) == {"priority"} and set(third.x_UserId) == {"svac_01Hk3R9TWxq7CfQak00OiVw4"}
    assert set(third.RegionId) == {"us"}
    # Money is null, never $0; every row is flagged unpriced; the last bucket ends at "now".
    assert rows.BilledCost.isna().all() and (rows.x_CostBasis == "estimated").all()
    flags = rows.groupby("x_SourceRow").x_DataQualityFlags.first().to_dict()
    assert flags == {1: "unpriced", 2: "unpriced", 3: "unpriced", 4: "partial_bucket,unpriced"}
    assert list(rows.x_SourceLocator.unique()) == ["data[0].results[0]", "data[0].results[1]",
                                                   "data[1].results[0]", "data[3].results[0]"]


def test_legacy_usage_variants_and_rejects(data_dir, con):
    result, rows, rejects = _read(data_dir / "anthropic_usage_report_legacy.json", con)
    assert result.rows_read == 13 and rows.x_SourceRow.nunique() == 3 and len(rejects) == 10
    # One cache_creation_input_tokens field: read as 5-minute writes, only that row flagged.
    assert _tokens(rows, 1) == {"input_uncached": 100, "input_cache_read": 10, "input_cache_write_5m": 40,
                                "output": 5}
    ttl = rows[rows.x_SourceRow == 1].set_index("x_TokenType").x_DataQualityFlags
    assert ttl["input_cache_write_5m"] == "cache_ttl_assumed,unpriced" and ttl["output"] == "unpriced"
    # "input_tokens" instead of uncached_input_tokens, no cache fields: split flagged incomplete.
    assert _tokens(rows, 2) == {"input_uncached": 70, "output": 3}
    assert set(rows[rows.x_SourceRow == 2].x_DataQualityFlags) == {"token_subfields_missing,unpriced"}
    assert rows[rows.x_SourceRow == 2].SubAccountId.isna().all()  # no workspace_id key: not a workspace report
    assert _tokens(rows, 5) == {"input_uncached": 12, "output": 1}  # 12.0 is a whole number
    assert _rejects(rejects) == [
        (3, "data[0].results[2]", "uncached_input_tokens", "'uncached_input_tokens' must be a non-negative integer"),
        (4, "data[0].results[3]", "uncached_input_tokens", "'uncached_input_tokens' must be a non-negative integer"),
        (6, "data[0].results[5]", "output_tokens", "required field 'output_tokens' is missing"),
        (7, "data[0].results[6]", "record", "record is not a JSON object"),
        (8, "data[0].results[7]", "cache_creation", "'cache_creation' must be an object"),
        (9, "data[0].results[8]", "output_tokens", "'output_tokens' must be a non-negative integer"),
        (10, "data[1].results[0]", "starting_at", "'starting_at' is not an RFC 3339 timestamp"),
        (11, "data[2]", "results", "bucket has no 'results' list"),
        (12, "data[3]", "record", "record is not a JSON object"),
        (13, "data[4].results[0]", "ending_at", "'ending_at' is not after 'starting_at'"),
    ]
    assert list(rejects.x_Value[:2]) == ["lots", "12.5"]
    assert rejects.x_Value.iloc[6] == "yesterday"


def test_analytics_usage_requests_watermark_and_extra(data_dir, con):
    result, rows, rejects = _read(data_dir / "anthropic_usage_report_analytics.json", con)
    assert result.rows_read == 3 and rejects.empty
    assert _tokens(rows, 1) == {"input_cache_write_5m": 500, "input_cache_write_1h": 1000, "output": 0,
                                "non_token": 10}
    assert _tokens(rows, 2) == {"input_uncached": 300, "input_cache_read": 40, "output": 30}
    # Requests counted once per record, on the output row.
    assert rows.x_RequestCount.sum() == 12 + 3 + 1 and rows.groupby("x_SourceRow").x_RequestCount.count().eq(1).all()
    assert set(rows.BillingAccountId) == {"org_013FP9SaFPBg7Kw7fetjn6cF"} and set(rows.ServiceName) == {"Claude"}
    assert rows.SubAccountId.isna().all()  # analytics reports have no workspaces
    extra = json.loads(rows[rows.x_SourceRow == 1].x_SourceExtra.iloc[0])
    assert extra == {"product": "claude_code", "rbac_group_id": "rbac_group_012rppKaSVsmTo6NqRDXQXNF", "speed": "fast"}
    assert rows.x_Team.isna().all()  # rbac groups overlap: never a team
    # Hourly buckets: the one ending after data_refreshed_at (04:00) is incomplete.
    flags = rows.groupby("x_SourceRow").x_DataQualityFlags.first().to_dict()
    assert flags == {1: "unpriced", 2: "unpriced", 3: "partial_bucket,unpriced"}


def test_per_user_usage_rows(data_dir, con):
    result, rows, rejects = _read(data_dir / "anthropic_usage_report_users.json", con)
    assert result.rows_read == 2 and rejects.empty
    assert set(rows.x_SourceLocator) == {"data[0]", "data[1]"}
    assert _tokens(rows, 1) == {"input_uncached": 100, "input_cache_read": 5, "input_cache_write_5m": 20, "output": 50}
    assert rows.groupby("x_SourceRow").x_UserId.first().to_dict() == {1: "user_01AAA", 2: "user_01BBB"}
    assert json.loads(rows.x_SourceExtra.iloc[0])["total_tokens"] == 175
    assert rows.x_RowHash.nunique() == len(rows)


# --- cost report --------------------------------------------------------------------------------

def test_cost_amounts_are_exact_cents(data_dir, con):
    path = data_dir / "anthropic_cost_report.json"
    result, rows, rejects = _read(path, con)
    assert result.rows_read == 6 and rejects.empty
    validate(rows, "costs")
    cost = rows.set_index("x_SourceRow").BilledCost
    assert cost[1] == Decimal("1.2378912")  # "123.78912" cents
    assert cost[2] == Decimal("0.000001")
    assert cost[6] == Decimal("123456.781234567890")  # 12345678.123456789012345 cents, half-even to 12 places
    assert (rows.BilledCost == rows.EffectiveCost).all() and (rows.BilledCost == rows.ListCost).all()
    assert (rows.BilledCost == rows.ContractedCost).all() and (rows.x_CostBasis == "invoiced").all()
    by_month = rows.groupby(rows.BillingPeriodStart.dt.strftime("%Y-%m")).BilledCost.sum().to_dict()
    assert by_month == {"2025-08": Decimal("13.7378922"), "2025-09": Decimal("123456.836234567890")}
    kinds = rows.set_index("x_SourceRow")[["x_TokenType", "x_ServiceTier", "x_ContextTier", "SubAccountId"]]
    assert kinds.loc[1].tolist() == ["input_uncached", "standard", "standard", "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"]
    assert kinds.loc[2].tolist() == ["output", "standard", "standard", "default"]
    assert kinds.loc[3].tolist() == ["input_cache_write_1h", "batch", "standard", "default"]
    assert kinds.loc[4, "x_TokenType"] == "non_token" and kinds.loc[5, "x_TokenType"] == "non_token"
    assert kinds.loc[6].tolist() == ["input_cache_read", "standard", "long", "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"]
    assert rows.set_index("x_SourceRow").SkuMeter[4] == "Web Search Usage"
    assert rows.x_DataQualityFlags.eq("").all()


def test_cost_variants_and_rejects(data_dir, con):
    result, rows, rejects = _read(data_dir / "anthropic_cost_report_edge.json", con)
    assert result.rows_read == 12 and len(rows) == 7
    assert _rejects(rejects) == [
        (1, "data[0].results[0]", "amount", "'amount' is not a decimal amount in cents"),
        (2, "data[0].results[1]", "amount", "required field 'amount' is missing"),
        (3, "data[0].results[2]", "currency", "'currency' is not an ISO 4217 code"),
        (10, "data[0].results[9]", "amount", "'amount' is not a decimal amount in cents"),
        (11, "data[0].results[10]", "amount", "'amount' is out of range"),
    ]
    by_row = rows.set_index("x_SourceRow")
    assert by_row.BilledCost[4] == Decimal("1.5")  # a JSON number is tolerated
    assert (by_row.x_TokenType[5], by_row.x_DataQualityFlags[5]) == ("input_cache_write_5m", "cache_ttl_assumed")
    # Not grouped by description: a workspace total; tokens without token type: split unknown.
    assert (by_row.x_TokenType[6], by_row.ChargeDescription[6], by_row.x_DataQualityFlags[6]) == \
        ("non_token", "Claude cost, all cost types", "")
    assert (by_row.x_TokenType[7], by_row.x_DataQualityFlags[7]) == ("non_token", "token_subfields_missing")
    # No token_type: the description is parsed by the meters package.
    assert (by_row.x_TokenType[8], by_row.x_Model[8], by_row.x_ServiceTier[8]) == \
        ("input_cache_write_5m", "claude-haiku-4-5", "batch")
    assert (by_row.x_TokenType[9], by_row.x_DataQualityFlags[9], by_row.x_ModelRaw[9], by_row.SkuMeter[9]) == \
        ("non_token", "meter_unparsed", "Mystery Charge", "Mystery Charge")
    assert by_row.x_Model.isna()[9]
    assert by_row.BilledCost[12] == Decimal("0.00000012")  # "1.2E-5" cents
    assert by_row.BillingCurrency[12] == "USD"


def test_analytics_cost_list_amount_and_requests(data_dir, con):
    _, rows, rejects = _read(data_dir / "anthropic_cost_report_analytics.json", con)
    assert rejects.empty
    out, code = rows.iloc[0], rows.iloc[1]
    assert (out.BilledCost, out.ListCost, out.EffectiveCost) == (Decimal("0.8"), Decimal("1"), Decimal("0.8"))
    assert (out.x_TokenType, out.x_Model, out.RegionId) == ("output", "claude-opus-5", "global")
    assert (code.BilledCost, code.x_TokenType, code.x_RequestCount) == (Decimal("0.2025"), "non_token", 4)
    assert set(rows.BillingAccountId) == {"org_013FP9SaFPBg7Kw7fetjn6cF"}


def test_second_read_gives_identical_rows(data_dir, con):
    for name in ("anthropic_usage_report.json", "anthropic_cost_report_edge.json"):
        _, first, rej1 = _read(data_dir / name, con)
        _, second, rej2 = _read(data_dir / name, con)
        pd.testing.assert_frame_equal(first, second)
        pd.testing.assert_frame_equal(rej1, rej2)


# --- whole-file errors and robustness -----------------------------------------------------------

@pytest.mark.parametrize(("text", "problem"), [
    ('{"data": [', "not valid JSON"),
    ('{"data": {"starting_at": 1}}', "expected a page"),
    ("\"uncached_input_tokens\": 1", "not valid JSON"),
])
def test_unreadable_files_raise_source_error(tmp_path, con, text, problem):
    path = tmp_path / "page.json"
    path.write_text(text)
    with pytest.raises(FinopsError, match=problem):
        SOURCES["anthropic_usage_report"].read(path, con)


def test_latin1_and_truncated_gzip_raise_source_error(data_dir, tmp_path, con):
    bad = tmp_path / "latin.json"
    bad.write_bytes((data_dir / "anthropic_cost_report.json").read_bytes().replace(b"Web", b"W\xe9b"))
    with pytest.raises(FinopsError, match="cannot read"):
        SOURCES["anthropic_cost_report"].read(bad, con)
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(gzip.compress((data_dir / "anthropic_cost_report.json").read_bytes())[:200])
    with pytest.raises(FinopsError):
        SOURCES["anthropic_cost_report"].read(cut, con)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["anthropic_usage_report.json", "anthropic_cost_report.json",
                        "anthropic_usage_report_analytics.json", "anthropic_cost_report_analytics.json"]),
       st.data())
def test_property_corrupted_values_are_rejected_not_raised(tmp_path_factory, name, data):
    doc = json.loads((Path(__file__).parent / "data" / name).read_text())
    buckets = doc["data"]
    i = data.draw(st.integers(0, len(buckets) - 1))
    target = buckets[i]["results"][0] if buckets[i]["results"] else buckets[i]
    key = data.draw(st.sampled_from(sorted(target)))
    target[key] = data.draw(st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.text(max_size=8),
                                      st.floats(allow_nan=True), st.lists(st.integers(), max_size=2),
                                      st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
    path = tmp_path_factory.mktemp("c") / "page.json"
    path.write_text(json.dumps(doc))
    fmt = "anthropic_usage_report" if "usage" in name else "anthropic_cost_report"
    try:
        result, rows, rejects = _read(path, _shared_engine(), fmt)
    except FinopsError:
        return
    assert result.rows_read == rows.x_SourceRow.nunique() + len(rejects)
    assert rows.x_RowHash.notna().all() and (rows.ConsumedQuantity.dropna() >= 0).all()


# --- ingest: replacement and the committed sample -----------------------------------------------

def test_redownloaded_page_replaces_the_partial_bucket(data_dir, tmp_path):
    con = engine.memory()
    ingest([data_dir / "anthropic_usage_report.json"], con=con)
    later = json.loads((data_dir / "anthropic_usage_report.json").read_text())
    del later["data"][:3]
    later["data"][0]["ending_at"] = "2025-08-05T00:00:00Z"  # the day is complete now
    later["data"][0]["results"][0].update(uncached_input_tokens=900, output_tokens=70)
    path = tmp_path / "usage_later.json"
    path.write_text(json.dumps(later))
    summary = ingest([path], con=con)
    assert summary.rows_loaded.tolist() == [1]
    costs = con.table("costs").to_pandas()
    day4 = costs[costs.ChargePeriodStart == TS("2025-08-04", tz="UTC")]
    assert {t: int(q) for t, q in zip(day4.x_TokenType, day4.ConsumedQuantity, strict=True)} == \
        {"input_uncached": 900, "output": 70}
    assert set(day4.x_DataQualityFlags) == {"unpriced"} and len(costs) == 12


def _raw_pages(pattern):
    return [json.loads(p.read_text(), parse_float=Decimal) for p in sorted(SAMPLE.glob(pattern))]


@pytest.fixture(scope="module")
def sample_loaded():
    con = engine.memory()
    summary = ingest([SAMPLE], con=con)
    yield con, summary
    con.disconnect()


def test_sample_loads_with_no_rejects(sample_loaded):
    _, summary = sample_loaded
    assert len(summary) == 12 and (summary.status == "loaded").all()
    assert summary.rows_rejected.sum() == 0
    assert set(summary.format) == OURS
    records = {str(p): sum(len(b["results"]) for b in json.loads(p.read_text())["data"])
               for p in SAMPLE.glob("*.json")}
    assert dict(zip(summary.path, summary.rows_read, strict=True)) == records
    validate(sample_loaded[0].table("costs"), "costs")


def test_sample_invoiced_total_per_month_equals_cents_over_100(sample_loaded):
    con, _ = sample_loaded
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for page in _raw_pages("cost_report_page_*.json"):
        for bucket in page["data"]:
            for r in bucket["results"]:
                assert r["currency"] == "USD"
                expected[bucket["starting_at"][:7]] += Decimal(r["amount"]) / 100
    got = con.con.execute("""SELECT strftime(BillingPeriodStart, '%Y-%m'), sum(BilledCost) FROM costs
        WHERE x_SourceFormat = 'anthropic_cost_report' AND BillingCurrency = 'USD' GROUP BY 1""").fetchall()
    assert dict(got) == dict(expected)
    assert len(expected) == 6


def test_sample_usage_tokens_per_bucket_equal_raw_sums(sample_loaded):
    con, _ = sample_loaded
    names = {"uncached_input_tokens": "input_uncached", "cache_read_input_tokens": "input_cache_read",
             "output_tokens": "output"}
    expected: dict[tuple[str, str], int] = defaultdict(int)
    for page in _raw_pages("usage_report_page_*.json"):
        for bucket in page["data"]:
            for r in bucket["results"]:
                day = bucket["starting_at"][:10]
                for field, token_type in names.items():
                    expected[(day, token_type)] += r[field]
                expected[(day, "input_cache_write_5m")] += r["cache_creation"]["ephemeral_5m_input_tokens"]
                expected[(day, "input_cache_write_1h")] += r["cache_creation"]["ephemeral_1h_input_tokens"]
    got = con.con.execute("""SELECT strftime(ChargePeriodStart, '%Y-%m-%d'), x_TokenType, sum(ConsumedQuantity)
        FROM costs WHERE x_SourceFormat = 'anthropic_usage_report' GROUP BY 1, 2""").fetchall()
    assert {(d, t): int(q) for d, t, q in got} == {k: v for k, v in expected.items() if v}
    flags = con.con.execute("SELECT DISTINCT x_DataQualityFlags FROM costs WHERE x_SourceFormat = "
                            "'anthropic_usage_report'").fetchall()
    assert flags == [("unpriced",)]
