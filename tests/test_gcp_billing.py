"""GCP Cloud Billing export reader: JSON lines, CSV and Parquet fixtures, rejects, detection, the sample."""

from __future__ import annotations

import gzip
import json
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
from finops_lib.sources import SOURCES, detect_format, read_head
from finops_lib.sources.gcp_billing import FORMAT, read_gcp_billing
from finops_lib.warehouse.ingestion import ingest

DATA = Path(__file__).parent / "data"
JSONL = DATA / "gcp_billing_export.jsonl"
CSV = DATA / "gcp_billing_export_csv.csv"
BAD = DATA / "gcp_billing_export_bad.jsonl"
SAMPLE = paths.SAMPLE_DIR
D = Decimal


def _costs(path: Path, con) -> tuple:
    result = read_gcp_billing(path, con)
    frame = result.costs.to_pandas().sort_values("x_SourceRow").reset_index(drop=True).astype(object)
    return result, frame.where(frame.notna(), None)


def test_jsonl_fixture_hand_computed(con) -> None:
    result, df = _costs(JSONL, con)
    assert result.rows_read == 9 and result.rejects.count().execute() == 0 and result.windows == ()
    validate(result.costs, "costs")
    assert list(df.BilledCost) == [D("1.25"), D("2.0"), D("0.000012"), D("0.1"), D("0.5"), D("0.2"), D("0.05"),
                                   D("0.3"), D("0.4")]  # fmt: skip
    row = df.iloc[1]  # thinking output with a promotional credit
    assert (row.BilledCost, row.EffectiveCost, row.ContractedCost, row.ListCost) == (D(2), D(2), D("2.5"), D("2.75"))
    assert (row.x_Model, row.x_TokenType, row.x_ServiceTier, row.x_ContextTier, row.x_Modality) == (
        "gemini-2.5-flash",
        "output",
        "standard",
        "standard",
        "text",
    )
    assert json.loads(row.SkuPriceDetails) == {"TokenDirection": "Output", "CacheAction": "None", "x_Thinking": True}
    assert json.loads(row.x_SourceExtra)["credits"][0]["amount"] == "-0.5"
    assert (row.x_Team, row.x_Application, row.x_Environment) == ("marketing", "content-studio", "prod")
    assert (row.SubAccountId, row.RegionId, row.SkuId, row.ProviderName, row.PublisherName) == (
        "nw-marketing-prod",
        "us-central1",
        "AAAA-0000-0001",
        "Google",
        "Google",
    )
    assert (row.ConsumedQuantity, row.ConsumedUnit, row.PricingQuantity, row.PricingUnit) == (
        D(250000),
        "Tokens",
        D("0.25"),
        "1M Tokens",
    )
    assert df.iloc[2].x_ContextTier == "long" and df.iloc[2].x_TokenType == "input_uncached"
    cache = df.iloc[3]  # project labels and system labels only
    assert cache.x_TokenType == "input_cache_read"
    assert (cache.x_Team, cache.x_Application) == ("data-science", "research-agent")
    assert json.loads(cache.Tags) == {"team": "data-science", "application": "research-agent",
                                      "goog-vertex-endpoint": "ep-1"}  # fmt: skip
    compute = df.iloc[4]
    assert (compute.ServiceCategory, compute.x_TokenType, compute.x_Model, compute.x_ModelRaw) == (
        "Other",
        "non_token",
        None,
        None,
    )
    assert (compute.ConsumedUnit, compute.PricingUnit, compute.x_DataQualityFlags) == ("seconds", "hour", "")
    unparsed = df.iloc[5]
    assert (unparsed.x_DataQualityFlags, unparsed.x_ModelRaw, unparsed.x_TokenType, unparsed.x_Model) == (
        "meter_unparsed",
        "Claude 3.5 Sonnet v2 Input Tokens",
        "non_token",
        None,
    )
    tax = df.iloc[7]
    assert (tax.ChargeCategory, tax.x_DataQualityFlags, tax.ConsumedQuantity) == ("Tax", "", None)
    late = df.iloc[8]  # usage on May 31, invoiced in June
    assert late.BillingPeriodStart == datetime(2026, 6, 1, tzinfo=UTC)
    assert late.ChargePeriodStart == datetime(2026, 5, 31, 23, tzinfo=UTC)
    assert df.x_RowHash.nunique() == 9  # the late-arriving row 7 is a second charge for row 1's SKU and hour
    assert (df.x_CostBasis == "invoiced").all() and (df.BillingCurrency == "USD").all()


def test_second_read_gives_identical_rows(con) -> None:
    _, first = _costs(JSONL, con)
    _, second = _costs(JSONL, con)
    assert first.equals(second)


def test_bad_rows_are_rejected_with_line_column_reason(con) -> None:
    result, df = _costs(BAD, con)
    rejects = result.rejects.to_pandas().sort_values("x_SourceRow")
    assert result.rows_read == 8  # the blank line 3 is not a record
    assert list(df.x_SourceRow) == [1]
    assert list(zip(rejects.x_SourceRow, rejects.x_Column, rejects.x_Reason, strict=True)) == [
        (2, "cost", "'cost' is not a number"),
        (4, "record", "not valid JSON: Expecting ':' delimiter (char 61)"),
        (5, "invoice.month", "'invoice.month' is not YYYYMM"),
        (6, "credits.amount", "required field 'credits.amount' is missing"),
        (7, "labels", "'labels' is not valid JSON"),
        (8, "currency", "'currency' is not an ISO 4217 code"),
        (9, "usage_end_time", "'usage_end_time' is before usage_start_time"),
    ]
    assert rejects.iloc[0].x_Value == "abc" and set(rejects.x_SourceFormat) == {FORMAT}


def test_csv_fixture_and_reject(con) -> None:
    result, df = _costs(CSV, con)
    rejects = result.rejects.to_pandas()
    assert result.rows_read == 5
    assert list(df.x_SourceRow) == [2, 3, 4, 6]
    assert list(zip(rejects.x_SourceRow, rejects.x_Column, rejects.x_Reason, strict=True)) == [
        (5, "record", "expected 23 fields, found 4")
    ]
    assert list(df.BilledCost) == [D("1.25"), D("2.0"), D("0.5"), D("0.00035")]
    assert list(df.ListCost) == [D("1.25"), D("2.75"), D("0.5"), D("0.00035")]
    assert df.iloc[3].x_TokenType == "input_cache_read" and df.iloc[3].Tags is None
    _, jsonl = _costs(JSONL, con)
    # Same charges as JSONL rows 1, 2 and 5 (export_time written as ISO here): same natural key.
    assert list(df.x_RowHash[:3]) == [jsonl.x_RowHash[0], jsonl.x_RowHash[1], jsonl.x_RowHash[4]]


DOTTED = {"service_id": "service.id", "service_description": "service.description", "sku_id": "sku.id",
          "sku_description": "sku.description", "project_id": "project.id", "project_name": "project.name",
          "location_region": "location.region", "usage_amount": "usage.amount", "usage_unit": "usage.unit",
          "usage_amount_in_pricing_units": "usage.amount_in_pricing_units", "usage_pricing_unit": "usage.pricing_unit",
          "invoice_month": "invoice.month"}  # fmt: skip


def test_csv_with_dotted_column_names(con, tmp_path) -> None:
    header, body = CSV.read_text().split("\n", 1)
    dotted = ",".join(DOTTED.get(n, n) for n in header.split(","))
    path = tmp_path / "gcp_billing_dotted.csv.gz"
    path.write_bytes(gzip.compress((dotted + "\n" + body).encode()))
    assert detect_format(path).name == FORMAT
    _, df = _costs(path, con)
    _, plain = _costs(CSV, con)
    assert list(df.x_RowHash) == list(plain.x_RowHash) and list(df.BilledCost) == list(plain.BilledCost)
    assert list(df.x_Model) == ["gemini-2.5-flash", "gemini-2.5-flash", None, "gemini-2.5-flash"]


def _parquet_fixture(path: Path) -> None:
    records = [json.loads(line) for line in JSONL.read_text().splitlines()]
    for rec in records:
        for key in ("usage_start_time", "usage_end_time", "export_time"):
            rec[key] = datetime.fromisoformat(rec[key].replace(" UTC", "+00:00").replace("Z", "+00:00"))
    pq.write_table(pa.Table.from_pylist(records), path)


def test_parquet_nested_export(con, tmp_path) -> None:
    path = tmp_path / "gcp_billing_export.parquet"
    _parquet_fixture(path)
    assert detect_format(path).name == FORMAT
    result, df = _costs(path, con)
    _, jsonl = _costs(JSONL, con)
    assert result.rows_read == 9 and result.rejects.count().execute() == 0
    cols = ["BilledCost", "ListCost", "x_Model", "x_TokenType", "x_ContextTier", "Tags", "x_RowHash", "x_SourceRow"]
    assert df[cols].equals(jsonl[cols])


def test_ingest_replaces_the_same_charge_from_another_container(con) -> None:
    first = ingest([JSONL], con=con)
    second = ingest([CSV], con=con)
    assert (first.rows_loaded[0], second.rows_loaded[0], second.rows_rejected[0]) == (9, 4, 1)
    assert second.rows_replaced[0] == 3
    total = con.sql("SELECT sum(BilledCost) AS s, count(*) AS n FROM costs").to_pandas()
    assert (total.s[0], total.n[0]) == (D("4.800012") + D("0.00035"), 10)


def test_repulled_window_replaces_earlier_rows_and_adds_late_ones(con, tmp_path) -> None:
    lines = JSONL.read_text().splitlines()
    late = json.loads(lines[0])
    late.update(cost=0.75, cost_at_list=0.75, export_time="2026-05-03 02:00:00 UTC")
    repull = tmp_path / "gcp_billing_repull.jsonl"
    repull.write_text("\n".join([*lines, json.dumps(late)]) + "\n")
    ingest([JSONL], con=con)
    summary = ingest([repull], con=con)
    assert (summary.rows_loaded[0], summary.rows_replaced[0]) == (10, 9)
    total = con.sql("SELECT sum(BilledCost) AS s, count(*) AS n FROM costs").to_pandas()
    assert (total.s[0], total.n[0]) == (D("4.800012") + D("0.75"), 10)


def test_whole_file_errors_raise_source_error(tmp_path, con) -> None:
    header, *rows = CSV.read_text().splitlines()
    no_cost = tmp_path / "no_cost.csv"
    no_cost.write_text(header.replace(",cost,", ",price,") + "\n" + rows[0] + "\n")
    twice = tmp_path / "twice.csv"
    twice.write_text(header.replace("cost_type", "cost") + "\n")
    truncated = tmp_path / "cut.jsonl.gz"
    truncated.write_bytes(gzip.compress(JSONL.read_bytes())[:300])
    array = tmp_path / "array.json"
    array.write_text('[{"usage_start_time": 1, "cost": 2, "sku": {}}')
    for path, line in ((no_cost, 1), (twice, 1), (truncated, None), (array, None)):
        with pytest.raises(SourceError) as info:
            read_gcp_billing(path, con)
        assert str(path) in str(info.value)
        if line:
            assert info.value.line == line


def test_latin1_line_is_a_reject(tmp_path, con) -> None:
    lines = JSONL.read_bytes().splitlines()
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b"\n".join([lines[0], lines[1].replace(b"Vertex AI", b"Vert\xe9x AI"), *lines[2:]]))
    result, df = _costs(path, con)
    rejects = result.rejects.to_pandas()
    assert len(df) == 8 and list(zip(rejects.x_SourceRow, rejects.x_Reason, strict=True)) == [
        (2, "line is not valid UTF-8")
    ]


def _other_files() -> list[Path]:
    ours = [p for p in DATA.iterdir() if p.is_file() and not p.name.startswith("gcp_billing")]
    sample = [p for p in SAMPLE.rglob("*") if p.is_file() and "gcp" not in p.parts and "truth" not in p.parts]
    return ours + sample


def test_detection_accepts_ours_and_nothing_else() -> None:
    detect = SOURCES[FORMAT].detect
    for path in (JSONL, CSV, BAD, *sorted(SAMPLE.glob("gcp/*.jsonl.gz"))):
        assert detect(path, read_head(path)), path
        assert detect_format(path).name == FORMAT, path  # no other detector claims it first
    others = _other_files()
    assert others
    for path in others:
        assert not detect(path, read_head(path)), path


def _raw_net_by_month() -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for path in sorted(SAMPLE.glob("gcp/billing_export_*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line, parse_float=Decimal)
                net = Decimal(rec["cost"]) + sum((Decimal(c["amount"]) for c in rec["credits"]), Decimal(0))
                totals[rec["invoice"]["month"]] += net
    return dict(totals)


def test_every_sample_gcp_file_loads_and_billed_cost_matches_the_raw_files(con) -> None:
    files = sorted(SAMPLE.glob("gcp/billing_export_*.jsonl.gz"))
    assert len(files) >= 6
    summary = ingest(files, con=con)
    assert (summary.format == FORMAT).all() and (summary.status == "loaded").all()
    assert (summary.rows_rejected == 0).all() and (summary.rows_read == summary.rows_loaded).all()
    frame = con.sql(
        "SELECT strftime(BillingPeriodStart, '%Y%m') AS month, sum(BilledCost) AS billed, "
        "sum(ListCost) - sum(BilledCost) AS credits FROM costs GROUP BY 1"
    ).to_pandas()
    loaded = dict(zip(frame.month, frame.billed, strict=True))
    assert loaded == _raw_net_by_month()
    assert frame.credits.sum() > 0  # the promotional credit is netted out of BilledCost
    flags = con.sql("SELECT DISTINCT x_DataQualityFlags FROM costs").to_pandas()
    assert list(flags.x_DataQualityFlags) == [""]
    again = ingest(files, con=con)
    assert (again.status == "unchanged").all()
