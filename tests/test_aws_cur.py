"""AWS CUR 2.0 and legacy CUR readers: sample totals, hand-worked fixtures, Parquet, rejects, windows."""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finops_lib import paths
from finops_lib.errors import SourceError
from finops_lib.schema import validate
from finops_lib.sources import SOURCES, Window, detect_format, read_head
from finops_lib.sources._cloud import parse_block
from finops_lib.sources.aws_cur import CUR2, LEGACY, read_cur2, read_legacy, snake
from finops_lib.warehouse.ingestion import ingest

DATA = Path(__file__).parent / "data"
SAMPLE = sorted((paths.SAMPLE_DIR / "aws" / "cur2").glob("*/*.csv.gz"))
MINE = (CUR2, LEGACY)
PERIOD = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
SCOPE = (("BillingAccountId", "123456789012"), ("SubAccountId", "210987654321"))


def _rows(result) -> list[dict]:
    return sorted(result.costs.to_pyarrow().to_pylist(), key=lambda r: r["x_SourceRow"])


def _by_row(result) -> dict[int, dict]:
    return {r["x_SourceRow"]: r for r in _rows(result)}


def _csv_rows(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


# --- the committed sample ---------------------------------------------------------------------------------------

def test_every_sample_file_loads_clean_and_bills_the_raw_totals(con):
    assert len(SAMPLE) == 6
    summary = ingest(SAMPLE, con=con)
    assert set(summary.format) == {CUR2}
    assert (summary.status == "loaded").all() and (summary.rows_rejected == 0).all()
    assert (summary.rows_read == summary.rows_loaded).all()

    raw_cost: dict[str, Decimal] = defaultdict(Decimal)
    raw_tokens: dict[str, Decimal] = defaultdict(Decimal)
    for path in SAMPLE:
        for row in _csv_rows(path):
            raw_cost[row["bill_billing_period_start_date"][:7]] += Decimal(row["line_item_unblended_cost"])
            kind = row["line_item_usage_type"]
            bucket = ("input_cache_read" if "cache-read" in kind else "input_cache_write_5m" if "cache-write" in kind
                      else "output" if "output" in kind else "input_uncached")
            raw_tokens[bucket] += Decimal(row["line_item_usage_amount"])
    loaded = con.sql("""SELECT strftime(BillingPeriodStart, '%Y-%m') AS month, sum(BilledCost) AS cost
        FROM costs WHERE ProviderName = 'AWS' AND BillingCurrency = 'USD' GROUP BY 1""").to_pyarrow().to_pylist()
    assert {r["month"]: r["cost"] for r in loaded} == dict(raw_cost)
    tokens = con.sql("SELECT x_TokenType AS t, sum(ConsumedQuantity) AS q FROM costs GROUP BY 1").to_pyarrow()
    assert {r["t"]: r["q"] for r in tokens.to_pylist()} == dict(raw_tokens)
    flags = con.sql("SELECT DISTINCT x_DataQualityFlags AS f FROM costs").to_pyarrow().to_pylist()
    assert flags == [{"f": ""}]
    validate(con.table("costs"), "costs")


def test_sample_file_declares_its_billing_period(con):
    result = read_cur2(SAMPLE[0], con)
    assert {w.start for w in result.windows} == {datetime(2026, 5, 1, tzinfo=UTC)}
    assert {w.end for w in result.windows} == {datetime(2026, 6, 1, tzinfo=UTC)}
    assert {w.scope[0] for w in result.windows} == {("BillingAccountId", "999988887777")}
    assert all(w.column == "BillingPeriodStart" for w in result.windows)


# --- hand-worked CUR 2.0 fixture --------------------------------------------------------------------------------

def test_cur2_fixture_hand_computed(con):
    result = read_cur2(DATA / "aws_cur2.csv", con)
    rows = _by_row(result)
    assert sorted(rows) == list(range(2, 11))
    assert sum(r["BilledCost"] for r in rows.values()) == Decimal("2.1596")
    assert sum(r["EffectiveCost"] for r in rows.values()) == Decimal("2.1096")  # net unblended of line 2
    assert sum(r["ListCost"] for r in rows.values()) == Decimal("2.2596")  # public on-demand of line 3
    assert sum(r["ContractedCost"] for r in rows.values()) == Decimal("2.1596")
    buckets = {n: (rows[n]["x_TokenType"], rows[n]["ConsumedQuantity"]) for n in range(2, 6)}
    assert buckets == {2: ("input_uncached", Decimal(1250000)), 3: ("output", Decimal(200000)),
                       4: ("input_cache_read", Decimal(500000)), 5: ("input_cache_write_5m", Decimal(100000))}
    first = rows[2]
    assert (first["x_Model"], first["PublisherName"], first["x_ServiceTier"], first["RegionId"]) == (
        "claude-3-5-haiku", "Anthropic", "standard", "us-east-1")
    assert first["PricingQuantity"] == Decimal(1250000) and first["PricingUnit"] == "Tokens"
    assert (first["ServiceName"], first["ServiceCategory"], first["ServiceSubcategory"]) == (
        "Amazon Bedrock", "AI and Machine Learning", "Generative AI")
    assert json.loads(first["Tags"]) == {"user:team": "search", "user:app": "doc-qa", "user:env": "prod"}
    assert (first["x_Team"], first["x_Application"], first["x_Environment"]) == ("search", "doc-qa", "prod")
    assert first["x_UserId"] == "arn:aws:iam::210987654321:user/alice"
    assert json.loads(first["SkuPriceDetails"]) == {"TokenDirection": "Input", "CacheAction": "None"}
    assert (first["BillingAccountId"], first["SubAccountId"], first["x_CostBasis"]) == (
        "123456789012", "210987654321", "invoiced")
    # A block pricing unit: the amount is in 1K blocks (300 x 0.0004 = 0.12), so 300,000 tokens.
    batch = rows[6]
    assert (batch["x_TokenType"], batch["x_ServiceTier"], batch["x_Model"]) == ("input_uncached", "batch", "nova-pro")
    assert (batch["ConsumedQuantity"], batch["ConsumedUnit"]) == (Decimal(300000), "Tokens")
    assert (batch["PricingQuantity"], batch["PricingUnit"]) == (Decimal(300), "1K tokens")
    assert batch["x_Team"] == "catalog"  # from the IAM principal tags, no resource tag
    mystery = rows[7]
    assert (mystery["x_TokenType"], mystery["x_DataQualityFlags"], mystery["SkuMeter"], mystery["x_ModelRaw"]) == (
        "non_token", "meter_unparsed", "USE1-MysteryModel-frobnicate", "USE1-MysteryModel-frobnicate")
    assert mystery["x_Model"] is None
    ec2 = rows[8]
    assert (ec2["ServiceCategory"], ec2["x_TokenType"], ec2["x_DataQualityFlags"], ec2["x_ModelRaw"]) == (
        "Other", "non_token", "", None)
    tax, credit = rows[9], rows[10]
    assert (tax["ChargeCategory"], tax["ConsumedQuantity"], tax["x_DataQualityFlags"]) == ("Tax", None, "")
    assert (credit["ChargeCategory"], credit["BilledCost"], credit["ConsumedQuantity"]) == (
        "Credit", Decimal("-0.5"), None)
    assert result.windows == (Window(*PERIOD, scope=SCOPE, column="BillingPeriodStart"),)
    validate(result.costs, "costs")


def test_second_read_gives_identical_rows(con):
    first = read_cur2(DATA / "aws_cur2.csv", con).costs.to_pandas()
    second = read_cur2(DATA / "aws_cur2.csv", con).costs.to_pandas()
    assert first.equals(second)


def test_bad_rows_are_rejected_with_line_column_and_reason(con):
    path = DATA / "aws_cur2_bad_rows.csv"
    summary = ingest([path], con=con).iloc[0]
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (5, 2, 3)
    rejects = con.sql("SELECT x_SourceRow, x_Column, x_Value, x_Reason FROM rejects ORDER BY 1").to_pyarrow()
    assert [tuple(r.values()) for r in rejects.to_pylist()] == [
        (3, "line_item_unblended_cost", "12,5", "not a number"),
        (4, "line_item_usage_start_date", "2026-02-30T00:00:00Z", "not a timestamp"),
        (5, "resource_tags", "{oops", "not a JSON object"),
    ]
    loaded = con.sql("SELECT x_SourceRow, BilledCost FROM costs ORDER BY 1").to_pyarrow().to_pylist()
    assert [(r["x_SourceRow"], r["BilledCost"]) for r in loaded] == [(2, Decimal("0.8")), (6, Decimal("0.4"))]


def test_money_is_rounded_half_even_to_twelve_places(tmp_path, con):
    rows = _csv_rows(DATA / "aws_cur2_bad_rows.csv")[:1]
    extra = [dict(rows[0], line_item_usage_start_date=f"2026-03-0{d}T00:00:00Z",
                  line_item_usage_end_date=f"2026-03-0{d + 1}T00:00:00Z", line_item_unblended_cost=c)
             for d, c in ((3, "0.0000000000025"), (4, "0.0000000000035"), (5, "-0.0000000000025"), (6, "1.2E-5"))]
    path = tmp_path / "aws_cur2.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows + extra)
    costs = [r["BilledCost"] for r in _rows(read_cur2(path, con))]
    assert costs == [Decimal("0.8"), Decimal("2E-12"), Decimal("4E-12"), Decimal("-2E-12"), Decimal("0.000012")]


# --- restatement ------------------------------------------------------------------------------------------------

def test_restated_billing_period_replaces_the_earlier_file(tmp_path, con):
    ingest([DATA / "aws_cur2.csv"], con=con)
    restated = tmp_path / "redelivered" / "aws_cur2.csv"
    restated.parent.mkdir()
    lines = (DATA / "aws_cur2.csv").read_text().splitlines(keepends=True)
    restated.write_text("".join(lines[:3]))  # the header and two line items
    summary = ingest([restated], con=con).iloc[0]
    assert summary.status == "loaded"
    files = con.sql("SELECT DISTINCT x_SourceFile AS f FROM costs").to_pyarrow().to_pylist()
    assert files == [{"f": str(restated.resolve())}]
    total = con.sql("SELECT sum(BilledCost) AS c FROM costs").to_pyarrow().to_pylist()[0]["c"]
    assert total == Decimal("1.8")


def test_a_part_declares_its_window_and_names_its_delivery(tmp_path, con):
    for part in ("acme-00001.csv", "acme-00002.csv"):
        shutil.copy(DATA / "aws_cur2.csv", tmp_path / part)
    (window,) = read_cur2(tmp_path / "acme-00001.csv", con).windows
    assert window.parts == (f"{tmp_path}/acme-[0-9]*.csv",)
    whole = tmp_path / "single" / "cur.csv"
    whole.parent.mkdir()
    shutil.copy(DATA / "aws_cur2.csv", whole)
    assert [w.parts for w in read_cur2(whole, con).windows] == [()]


# --- legacy CUR -------------------------------------------------------------------------------------------------

def test_legacy_cur_fixture(con):
    path = DATA / "aws_cur_legacy.csv"
    assert detect_format(path).name == LEGACY
    result = read_legacy(path, con)
    rows = _by_row(result)
    assert sum(r["BilledCost"] for r in rows.values()) == Decimal("2.0")
    assert json.loads(rows[2]["Tags"]) == {"user:team": "legal", "user:Environment": "prod"}
    assert json.loads(rows[3]["Tags"]) == {"user:team": "legal"}
    assert (rows[2]["x_Team"], rows[2]["x_Environment"], rows[3]["x_Environment"]) == ("legal", "prod", None)
    assert (rows[2]["x_TokenType"], rows[2]["ConsumedQuantity"], rows[3]["x_TokenType"]) == (
        "input_uncached", Decimal(2000000), "output")
    assert (rows[4]["ChargeCategory"], rows[4]["ChargeClass"], rows[4]["BilledCost"]) == (
        "Credit", "Correction", Decimal("-0.2"))
    assert all(r["x_SourceFormat"] == LEGACY and r["ServiceName"] == "Amazon Bedrock" for r in rows.values())
    assert result.windows == (Window(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC),
                                     scope=SCOPE, column="BillingPeriodStart"),)
    validate(result.costs, "costs")


def test_legacy_reject_names_the_legacy_column(tmp_path, con):
    text = (DATA / "aws_cur_legacy.csv").read_text().replace(",1.6,Claude", ",one point six,Claude")
    path = tmp_path / "aws_cur_legacy.csv"
    path.write_text(text)
    ingest([path], con=con)
    rejects = con.sql("SELECT x_SourceRow, x_Column, x_Value, x_Reason FROM rejects").to_pyarrow().to_pylist()
    assert rejects == [{"x_SourceRow": 2, "x_Column": "lineItem/UnblendedCost", "x_Value": "one point six",
                        "x_Reason": "not a number"}]


def test_the_same_charge_has_the_same_key_in_legacy_and_cur2_naming(tmp_path, con):
    legacy = _rows(read_legacy(DATA / "aws_cur_legacy.csv", con))
    names = {"identity/LineItemId": "identity_line_item_id", "identity/TimeInterval": "identity_time_interval"}
    header, *body = (DATA / "aws_cur_legacy.csv").read_text().splitlines()
    cur2 = [names.get(n, snake(n)) for n in header.split(",")]
    cur2 = [c for c in cur2 if not c.startswith("resource_tags")]
    path = tmp_path / "as_cur2.csv"
    path.write_text("\n".join([",".join(cur2), *(",".join(line.split(",")[: len(cur2)]) for line in body)]) + "\n")
    assert [r["x_RowHash"] for r in _rows(read_cur2(path, con))] == [r["x_RowHash"] for r in legacy]


# --- Parquet ----------------------------------------------------------------------------------------------------

_TIMES = ("bill_billing_period_start_date", "bill_billing_period_end_date", "line_item_usage_start_date",
          "line_item_usage_end_date")
_FLOATS = ("line_item_usage_amount", "line_item_unblended_rate", "line_item_unblended_cost",
           "line_item_net_unblended_cost", "pricing_public_on_demand_cost", "pricing_public_on_demand_rate")
_MAPS = ("product", "resource_tags", "tags")


def _parquet_column(name: str, values: list[str]) -> pa.Array:
    if name in _TIMES:
        return pa.array([datetime.fromisoformat(v.replace("Z", "+00:00")) for v in values],
                        pa.timestamp("ms", tz="UTC"))
    if name in _FLOATS:
        return pa.array([float(v) if v else None for v in values], pa.float64())
    if name in _MAPS:
        return pa.array([list(json.loads(v).items()) for v in values], pa.map_(pa.string(), pa.string()))
    return pa.array([v or None for v in values], pa.string())


def _write_parquet(source: Path, target: Path) -> None:
    rows = _csv_rows(source)
    names = list(rows[0])
    pq.write_table(pa.table({n: _parquet_column(n, [r[n] for r in rows]) for n in names}), target)


def test_parquet_with_map_columns_reads_like_the_csv(tmp_path, con):
    target = tmp_path / "acme-cur2.snappy.parquet"
    _write_parquet(DATA / "aws_cur2.csv", target)
    assert pq.read_schema(target).field("resource_tags").type == pa.map_(pa.string(), pa.string())
    assert detect_format(target).name == CUR2
    from_csv, from_parquet = _rows(read_cur2(DATA / "aws_cur2.csv", con)), _rows(read_cur2(target, con))
    same = ("x_SourceRow", "x_RowHash", "BilledCost", "EffectiveCost", "ListCost", "ConsumedQuantity",
            "PricingQuantity", "x_TokenType", "x_Model", "Tags", "x_Team", "x_Application", "ChargePeriodStart",
            "ServiceName", "x_DataQualityFlags")
    assert [{k: r[k] for k in same} for r in from_parquet] == [{k: r[k] for k in same} for r in from_csv]
    summary = ingest([target], con=con).iloc[0]
    assert (summary.status, summary.rows_read, summary.rows_rejected) == ("loaded", 9, 0)


def test_parquet_wrong_types_are_rejected_not_raised(tmp_path, con):
    target = tmp_path / "cur.parquet"
    _write_parquet(DATA / "aws_cur2.csv", target)
    table = pq.read_table(target)
    i = table.schema.get_field_index("line_item_unblended_cost")
    table = table.set_column(i, "line_item_unblended_cost", pa.array(["abc", *["1"] * (table.num_rows - 1)]))
    pq.write_table(table, target)
    summary = ingest([target], con=con).iloc[0]
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (9, 8, 1)
    reject = con.sql("SELECT x_SourceRow, x_Column, x_Reason FROM rejects").to_pyarrow().to_pylist()
    assert reject == [{"x_SourceRow": 2, "x_Column": "line_item_unblended_cost", "x_Reason": "not a number"}]


def test_unreadable_files_raise_source_error(tmp_path, con):
    truncated = tmp_path / "cur.parquet"
    _write_parquet(DATA / "aws_cur2.csv", truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(SourceError, match=r"cur\.parquet"):
        read_cur2(truncated, con)
    dropped = tmp_path / "dropped.csv"
    rows = _csv_rows(DATA / "aws_cur2.csv")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[n for n in rows[0] if n != "line_item_unblended_cost"],
                            extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    dropped.write_text(buffer.getvalue())
    with pytest.raises(SourceError, match="line_item_unblended_cost"):
        read_cur2(dropped, con)
    broken_gzip = tmp_path / "cur.csv.gz"
    broken_gzip.write_bytes(gzip.compress((DATA / "aws_cur2.csv").read_bytes())[:-30])
    summary = ingest([broken_gzip], con=con, format=CUR2).iloc[0]
    assert summary.status in ("failed", "loaded")
    assert summary.status == "loaded" or "cur.csv.gz" in summary.message


# --- detection and helpers --------------------------------------------------------------------------------------

def test_detection_accepts_only_cur_files(real_dir):
    ours = {DATA / "aws_cur2.csv": CUR2, DATA / "aws_cur2_bad_rows.csv": CUR2, DATA / "aws_cur_legacy.csv": LEGACY}
    for path, fmt in ours.items():
        assert detect_format(path).name == fmt
    others = [p for p in DATA.iterdir() if p.is_file() and p not in ours]
    others += [p for p in real_dir.iterdir() if p.is_file()]
    for path in others:
        head = read_head(path)
        assert not any(SOURCES[f].detect(path, head) for f in MINE), path.name
    assert not SOURCES[CUR2].detect(DATA / "focus_aws.csv", "BilledCost,BillingAccountId,x_UsageType,x_Operation\n")


@pytest.mark.parametrize(("unit", "block", "words"), [
    ("Tokens", 1, "Tokens"), ("1K tokens", 1000, "tokens"), ("1M", 1_000_000, ""), ("1 Hour", 1, "Hour"),
    ("10K/Hour", 10_000, "/Hour"), ("1 MB", 1, "MB"), ("", 1, ""), (None, 1, ""), ("1 Million Tokens", 10**6, "Tokens"),
])
def test_parse_block(unit, block, words):
    assert parse_block(unit) == (Decimal(block), words)
