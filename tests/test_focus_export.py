"""FOCUS 1.2 export of the warehouse: column set, types, a hand-computed row, and the FinOps validator."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finops_lib.errors import FinopsError
from finops_lib.schema import COSTS
from finops_lib.sources._common import records_table
from finops_lib.warehouse.focus_export import (
    DEFAULT_VALIDATOR_VENV,
    FOCUS_COLUMNS,
    export_columns,
    export_focus,
    run_validator,
    validator_failures,
)
from finops_lib.warehouse.ingestion import ensure_tables, ingest

DATA = Path(__file__).parent / "data"
FOCUS_FIXTURES = ["focus.csv", "focus_1.0_sample.csv", "focus_1.3_aws.csv", "focus_azure.csv", "focus_details.csv"]
MANDATORY = ["BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
             "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd",
             "ChargePeriodStart", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost",
             "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory", "ServiceName"]
DAY = datetime(2026, 5, 5, tzinfo=UTC)
NEXT = datetime(2026, 5, 6, tzinfo=UTC)
needs_validator = pytest.mark.skipif(
    not (DEFAULT_VALIDATOR_VENV / "bin" / "focus-validator").exists(),
    reason=f"focus-validator is not installed in {DEFAULT_VALIDATOR_VENV}: `make focus-validate` (run by "
           "`make test`) creates it")


def _row(**values: object) -> dict[str, object]:
    """A costs row of an OpenAI-like source on 2026-05-05, overridden by ``values``."""
    base = {
        "BillingAccountId": "org-1", "BillingCurrency": "USD", "BillingPeriodStart": datetime(2026, 5, 1, tzinfo=UTC),
        "BillingPeriodEnd": datetime(2026, 6, 1, tzinfo=UTC), "ChargeCategory": "Usage", "ChargeFrequency":
        "Usage-Based", "ChargePeriodStart": DAY, "ChargePeriodEnd": NEXT, "InvoiceIssuerName": "OpenAI, Inc.",
        "ProviderName": "OpenAI", "PublisherName": "OpenAI", "ServiceCategory": "AI and Machine Learning",
        "ServiceSubcategory": "Generative AI", "ServiceName": "OpenAI API", "PricingCategory": "Standard",
        "SubAccountId": "proj_1", "ChargeDescription": "model usage", "x_Model": "gpt-4o",
        "x_TokenType": "input_uncached", "x_ServiceTier": "standard", "x_CostBasis": "invoiced",
        "x_DataQualityFlags": "", "x_SourceFormat": "test", "x_SourceFile": "t.json",
        "x_SourceRow": 1,
    }
    base.update(values)
    base.setdefault("x_RowHash", f"h{base['x_SourceRow']}")
    return base


def _money(value: str) -> dict[str, Decimal]:
    return {c: Decimal(value) for c in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")}


def _usage(row: int, tokens: int, **values: object) -> dict[str, object]:
    fields = {"x_CostBasis": "estimated", "x_DataQualityFlags": "unpriced", "ConsumedQuantity": Decimal(tokens),
              "ConsumedUnit": "Tokens", "x_SourceRow": row, **values}
    return _row(**fields)


HAND_ROWS = [
    # A charge without quantity, and the two usage buckets (hourly) it bills: 600k + 400k tokens.
    _row(x_SourceRow=1, **_money("2.50"), RegionId="us-east-1"),
    _usage(2, 600_000, ChargePeriodStart=datetime(2026, 5, 5, 9, tzinfo=UTC),
           ChargePeriodEnd=datetime(2026, 5, 5, 10, tzinfo=UTC)),
    _usage(3, 400_000, ChargePeriodStart=datetime(2026, 5, 5, 10, tzinfo=UTC),
           ChargePeriodEnd=datetime(2026, 5, 5, 11, tzinfo=UTC)),
    # Output: the usage covers part of the day only (query window edge).
    _row(x_SourceRow=4, x_TokenType="output", **_money("1.00")),
    _usage(5, 50_000, x_TokenType="output", x_DataQualityFlags="partial_bucket,unpriced"),
    # A charge with no usage at all, in euros.
    _row(x_SourceRow=6, x_Model="gpt-4o-mini", BillingCurrency="EUR", **_money("0.30")),
    # A charge with its own quantity in 1K-token blocks.
    _row(x_SourceRow=7, x_Model="o3", ConsumedQuantity=Decimal(2000), ConsumedUnit="Tokens",
         PricingQuantity=Decimal(2), PricingUnit="1K Tokens", **_money("0.004")),
]


@pytest.fixture
def hand_con(con):
    ensure_tables(con)
    con.insert("costs", records_table(HAND_ROWS, "costs"))
    return con


@pytest.fixture
def fixture_con(con):
    """A warehouse with several providers (AWS, Microsoft, Oracle, Mistral, OpenAI) and currencies."""
    ingest([DATA / name for name in FOCUS_FIXTURES], con=con)
    con.insert("costs", records_table(HAND_ROWS, "costs"))
    return con


def _by_row(path: Path) -> dict[int, dict[str, object]]:
    return {r["x_SourceRow"]: r for r in pq.read_table(path).to_pylist()}


def test_column_set_holds_focus_mandatory_columns_then_extensions():
    names = export_columns()
    assert set(MANDATORY) <= set(FOCUS_COLUMNS)
    assert {"ChargeFrequency", "InvoiceId", "ServiceSubcategory", "ConsumedQuantity", "ConsumedUnit",
            "ListUnitPrice", "ContractedUnitPrice", "RegionId", "RegionName", "SkuPriceDetails", "Tags"} <= set(names)
    extensions = [n for n in names if not n[0].isupper()]
    assert all(n.startswith("x_") for n in extensions)
    assert {c.name for c in COSTS.columns if c.name.startswith("x_")} <= set(extensions)
    assert names.index(extensions[0]) == len(FOCUS_COLUMNS)  # FOCUS columns first


def test_hand_computed_rows(hand_con, tmp_path):
    info = export_focus(hand_con, tmp_path / "out.parquet")
    assert (info["rows"], info["left_out"], info["without_quantity"]) == (4, 3, 1)
    rows = _by_row(tmp_path / "out.parquet")
    assert sorted(rows) == [1, 4, 6, 7]  # estimated usage rows are not charges
    first = rows[1]
    assert (first["ConsumedQuantity"], first["ConsumedUnit"]) == (Decimal("1000000"), "Tokens")
    assert (first["PricingQuantity"], first["PricingUnit"]) == (Decimal("1"), "1000000 Tokens")
    assert first["ListUnitPrice"] == first["ContractedUnitPrice"] == Decimal("2.5")
    assert first["x_QuantitySource"] == "usage"
    assert first["InvoiceIssuerName"] == "OpenAI"  # "OpenAI, Inc." is the provider itself
    assert (first["RegionId"], first["RegionName"]) == ("us-east-1", "us-east-1")
    assert first["BilledCost"] == Decimal("2.5") and first["BillingPeriodStart"] == datetime(2026, 5, 1, tzinfo=UTC)
    partial = rows[4]
    assert (partial["PricingQuantity"], partial["x_QuantitySource"]) == (Decimal("0.05"), "usage_partial")
    assert partial["ListUnitPrice"] is None  # no unit price from incomplete usage
    lonely = rows[6]
    assert (lonely["BillingCurrency"], lonely["PricingQuantity"], lonely["PricingUnit"]) == ("EUR", None, None)
    own = rows[7]
    assert (own["PricingQuantity"], own["PricingUnit"], own["x_QuantitySource"]) == (Decimal(2), "1000 Tokens",
                                                                                     "charge")
    assert own["ListUnitPrice"] == Decimal("0.002")


def test_parquet_types(hand_con, tmp_path):
    export_focus(hand_con, tmp_path / "out.parquet")
    schema = pq.read_schema(tmp_path / "out.parquet")
    assert schema.names == export_columns()
    for name in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "PricingQuantity", "ListUnitPrice"):
        assert schema.field(name).type == pa.decimal128(38, 12), name
    for name in ("BillingPeriodStart", "ChargePeriodEnd"):
        assert schema.field(name).type == pa.timestamp("us", tz="UTC"), name
    for name in ("BillingAccountId", "InvoiceId", "Tags", "x_TokenType"):
        assert schema.field(name).type == pa.string(), name


def test_csv_writes_iso_utc_times(hand_con, tmp_path):
    export_focus(hand_con, tmp_path / "out.csv")
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == export_columns()
    assert {r["ChargePeriodStart"] for r in rows} == {"2026-05-05T00:00:00Z"}
    assert sum(Decimal(r["BilledCost"]) for r in rows) == Decimal("3.804")


def test_multi_provider_export_keeps_every_charge(fixture_con, tmp_path):
    info = export_focus(fixture_con, tmp_path / "all.parquet")
    table = pq.read_table(tmp_path / "all.parquet").to_pylist()
    invoiced = fixture_con.sql("SELECT BillingCurrency, sum(BilledCost) AS c FROM costs "
                               "WHERE x_CostBasis = 'invoiced' GROUP BY ALL").execute()
    exported: dict[str, Decimal] = {}
    for r in table:
        exported[r["BillingCurrency"]] = exported.get(r["BillingCurrency"], Decimal(0)) + r["BilledCost"]
    assert exported == {r.BillingCurrency: Decimal(str(r.c)) for r in invoiced.itertuples()}
    assert set(exported) == {"USD", "EUR", "GBP"} and info["rows"] == len(table)
    by_provider = {r["ProviderName"]: r["InvoiceIssuerName"] for r in table}
    assert by_provider["AWS"] == "AWS" and by_provider["Oracle"] == "Oracle"
    sqs = next(r for r in table if r["SkuPriceId"] == "G95FST5FTYV3JSRX.JRTCKXETXF")
    assert (sqs["RegionName"], sqs["ServiceName"]) == ("US West (Oregon)", "Amazon Simple Queue Service")


def test_unsupported_version_and_suffix(hand_con, tmp_path):
    with pytest.raises(FinopsError, match="not supported"):
        export_focus(hand_con, tmp_path / "out.csv", version="1.3")
    with pytest.raises(FinopsError, match=r"\.csv or \.parquet"):
        export_focus(hand_con, tmp_path / "out.json")


def test_validator_report_parsing():
    passed_or = "✅ InvoiceId-C-003-C: PASS  (violations=0)\n❌ InvoiceId-C-005-C: FAIL  (violations=9)\n"
    assert validator_failures(passed_or) == []
    mixed = ("❌ InvoiceId-C-004-C: FAIL  (violations=4)\n❌ InvoiceId-C-005-C: FAIL  (violations=20)\n"
             "❌ InvoiceId-C-003-C: FAIL  (violations=0, msg=OR failed - all child rules failed: [a, b])\n"
             "❌ InvoiceId-C-000-O: FAIL  (violations=0, msg=InvoiceId-C-000-O: AND failed - failed child rules: "
             "[InvoiceId-C-003-C])\n")
    assert validator_failures(mixed, mixed_invoice_ids=True) == []
    assert validator_failures(mixed) == ["InvoiceId-C-000-O", "InvoiceId-C-003-C", "InvoiceId-C-004-C",
                                         "InvoiceId-C-005-C"]
    worse = mixed.replace("[InvoiceId-C-003-C]", "[InvoiceId-C-001-M, InvoiceId-C-003-C]")
    assert validator_failures(worse, mixed_invoice_ids=True) == ["InvoiceId-C-000-O"]
    assert validator_failures(passed_or + "❌ BilledCost-C-005-C: FAIL  (violations=1)") == ["BilledCost-C-005-C"]
    with pytest.raises(FinopsError):
        validator_failures("Traceback (most recent call last): ...")


@needs_validator
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_fixture_export_passes_the_focus_validator(fixture_con, tmp_path, suffix):
    path = tmp_path / f"focus{suffix}"
    export_focus(fixture_con, path)
    failures, report = run_validator(path)
    assert failures == [], report[-3000:]
    assert "Total:" in report


@needs_validator
@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_sample_export_passes_the_focus_validator_through_the_command(sample_warehouse, tmp_path, capsys, suffix):
    """``finops export-focus --validate`` on the ingested sample, as users run it: exit 0, every row written."""
    from finops_lib.cli import main

    out = tmp_path / f"sample_focus_1.2{suffix}"
    status = main(["export-focus", "--warehouse", str(sample_warehouse), "--out", str(out), "--validate"])
    printed = capsys.readouterr()
    assert status == 0, printed.err[-3000:]
    assert "no known quantity" not in printed.err  # every usage charge has its PricingQuantity
    assert "no failed rule besides the InvoiceId nullability pair" in printed.out
    rows = pq.read_table(out).num_rows if suffix == ".parquet" else sum(1 for _ in csv.DictReader(out.open()))
    assert rows > 0 and f"wrote {rows} FOCUS 1.2 charge rows" in printed.out
