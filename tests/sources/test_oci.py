"""OCI cost and usage reports (``oci_cost_report``): values computed by hand from the fixture, rejects, variants.

Also checks what the FOCUS reader does with an OCI FOCUS report (Oracle's other export of the same charges).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from source_cases import DATA, read_rows

from finops_lib import engine
from finops_lib.sources import SOURCES, detect_format

FIXTURE = DATA / "oci_cost_report.csv"
FMT = "oci_cost_report"


def _read(path: Path) -> tuple[dict[int, dict], list[dict]]:
    return read_rows(path, FMT, "costs")


def _raw() -> dict[int, dict[str, str]]:
    return dict(enumerate(csv.DictReader(io.StringIO(FIXTURE.read_text(encoding="utf-8"))), start=2))


def _write(tmp_path: Path, name: str, lines: dict[int, dict[str, str]], header: list[str] | None = None) -> Path:
    header = header or list(next(iter(lines.values())))
    out = io.StringIO()
    writer = csv.DictWriter(out, header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(lines.values())
    target = tmp_path / name
    target.write_text(out.getvalue(), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def fixture_rows():
    return _read(FIXTURE)


def test_money_is_my_cost_and_list_cost_is_unit_price_times_quantity(fixture_rows):
    rows, rejects = fixture_rows
    raw = _raw()
    assert rejects == [] and sorted(rows) == [2, 3, 4, 5, 6]
    for line, rec in raw.items():
        cost = Decimal(rec["cost/myCost"])
        assert rows[line]["BilledCost"] == rows[line]["EffectiveCost"] == cost
        at_price = Decimal(rec["usage/billedQuantity"]) * Decimal(rec["cost/unitPrice"])
        assert rows[line]["ListCost"] == rows[line]["ContractedCost"] == at_price
        assert rows[line]["BillingCurrency"] == "USD" and rows[line]["x_CostBasis"] == "invoiced"
    assert sum(r["BilledCost"] for r in rows.values()) == Decimal("4.105825")  # 0.05+0.093075+0.9+3.07275-0.01


def test_periods_accounts_and_resources(fixture_rows):
    rows, _ = fixture_rows
    first = rows[2]
    assert (first["ChargePeriodStart"].isoformat(), first["ChargePeriodEnd"].isoformat()) == (
        "2026-05-01T00:00:00+00:00",
        "2026-05-01T01:00:00+00:00",
    )
    assert (first["BillingPeriodStart"].isoformat(), first["BillingPeriodEnd"].isoformat()) == (
        "2026-05-01T00:00:00+00:00",
        "2026-06-01T00:00:00+00:00",
    )
    assert first["BillingAccountId"] == "ocid1.tenancy.oc1..aaaaexampletenancy"
    assert (first["SubAccountId"], first["SubAccountName"]) == ("ocid1.compartment.oc1..aaaaml", "ml-platform")
    assert (first["ResourceId"], first["RegionId"], first["SkuId"]) == (
        "ocid1.instance.oc1.iad.aaaaworker1",
        "us-ashburn-1",
        "B97384",
    )
    assert (first["ProviderName"], first["InvoiceIssuerName"], first["ServiceName"]) == ("Oracle", "Oracle", "COMPUTE")
    assert (first["ServiceCategory"], rows[5]["ServiceCategory"]) == ("Compute", "Storage")
    assert rows[5]["ChargePeriodEnd"].isoformat() == "2026-05-02T00:00:00+00:00"


def test_tags_fill_tags_and_dimensions(fixture_rows):
    rows, _ = fixture_rows
    assert json.loads(rows[2]["Tags"]) == {
        "Oracle-Tags.CreatedBy": "default/ana@example.com",
        "app": "search",
        "finops.environment": "prod",
        "finops.team": "ml",
    }
    assert (rows[2]["x_Team"], rows[2]["x_Application"], rows[2]["x_Environment"]) == ("ml", "search", "prod")
    assert (rows[4]["x_Team"], rows[4]["x_Environment"]) == ("assistants", "staging")
    assert rows[5]["Tags"] is None and rows[5]["x_Team"] is None


def test_generative_ai_rows(fixture_rows):
    rows, _ = fixture_rows
    chars, tokens = rows[3], rows[4]
    # Per 10,000 transactions (characters): not tokens, and "Large Cohere" names no single model.
    assert (chars["x_TokenType"], chars["x_Model"], chars["x_DataQualityFlags"]) == ("non_token", None, "")
    assert (chars["ServiceCategory"], chars["ServiceSubcategory"]) == ("AI and Machine Learning", "Generative AI")
    assert (chars["PricingQuantity"], chars["PricingUnit"]) == (Decimal("4.25"), "10,000 Transactions")
    assert (tokens["x_TokenType"], tokens["x_Model"], tokens["PublisherName"]) == (
        "input_uncached",
        "llama-3.3-70b",
        "Meta",
    )
    assert (tokens["ConsumedQuantity"], tokens["ConsumedUnit"]) == (Decimal(1250000), "Tokens")
    assert json.loads(tokens["SkuPriceDetails"]) == {"TokenDirection": "Input", "CacheAction": "None"}
    assert tokens["x_ModelRaw"] == "OCI Generative AI - Meta Llama 3.3 70B - Input Tokens"
    assert rows[2]["x_TokenType"] == "non_token" and rows[2]["x_ModelRaw"] is None


def test_correction_row_keeps_its_back_reference(fixture_rows):
    rows, _ = fixture_rows
    raw = _raw()
    assert rows[6]["ChargeClass"] == "Correction" and rows[6]["BilledCost"] == Decimal("-0.01")
    extra = json.loads(rows[6]["x_SourceExtra"])
    assert extra["lineItem/backreferenceNo"] == raw[2]["lineItem/referenceNo"]
    assert [line for line, r in rows.items() if r["ChargeClass"] == "Correction"] == [6]
    assert len({r["x_RowHash"] for r in rows.values()}) == 5


def test_bad_lines_are_rejected_with_column_value_and_reason(tmp_path):
    raw = _raw()
    raw[2]["lineItem/intervalUsageEnd"] = "2026-04-30T23:00Z"
    raw[3]["cost/currencyCode"] = "dollars"
    raw[4]["cost/myCost"] = ""
    raw[5]["lineItem/intervalUsageStart"] = "01/05/2026"
    raw[6]["usage/billedQuantity"] = "12.5"  # fine for OCPU hours
    rows, rejects = _read(_write(tmp_path, "bad.csv", raw))
    assert sorted(rows) == [6]
    got = {(r["x_SourceRow"], r["x_Column"], r["x_Value"], r["x_Reason"]) for r in rejects}
    assert got == {
        (2, "lineItem/intervalUsageEnd", "2026-04-30T23:00Z", "interval ends before it starts"),
        (3, "cost/currencyCode", "dollars", "not an ISO 4217 currency code"),
        (4, "cost/myCost", None, "missing cost"),
        (5, "lineItem/intervalUsageStart", "01/05/2026", "not an ISO-8601 timestamp"),
    }
    assert {r["x_SourceFile"] for r in rejects} == {str(tmp_path / "bad.csv")}


def test_a_fractional_token_quantity_is_rejected(tmp_path):
    raw = {4: _raw()[4]}
    raw[4]["usage/billedQuantity"] = "1250000.5"
    rows, rejects = _read(_write(tmp_path, "frac.csv", raw))
    assert rows == {} and [(r["x_SourceRow"], r["x_Column"]) for r in rejects] == [(2, "usage/billedQuantity")]


def test_an_unreadable_generative_ai_unit_is_flagged(tmp_path):
    raw = {3: _raw()[3]}
    raw[3].update({"product/Description": "OCI Generative AI - Something New", "cost/skuUnitDescription": "Each"})
    rows, _ = _read(_write(tmp_path, "new.csv", raw))
    assert (rows[2]["x_TokenType"], rows[2]["x_DataQualityFlags"]) == ("non_token", "meter_unparsed")


def test_gzip_report_is_detected_and_read(tmp_path):
    target = tmp_path / "0001000000012345.csv.gz"
    target.write_bytes(gzip.compress(FIXTURE.read_bytes()))
    assert detect_format(target).name == FMT
    rows, _ = _read(target)
    assert sum(r["BilledCost"] for r in rows.values()) == Decimal("4.105825")


def test_usage_report_rows_are_estimated_without_money(tmp_path):
    header = [
        "lineItem/referenceNo",
        "lineItem/tenantId",
        "lineItem/intervalUsageStart",
        "lineItem/intervalUsageEnd",
        "product/service",
        "product/resource",
        "product/compartmentId",
        "product/compartmentName",
        "product/region",
        "product/availabilityDomain",
        "product/resourceId",
        "usage/consumedQuantity",
        "usage/billedQuantity",
        "usage/consumedQuantityUnits",
        "usage/consumedQuantityMeasure",
        "lineItem/isCorrection",
        "lineItem/backreferenceNo",
        "tags/team",
    ]
    line = {
        "lineItem/referenceNo": "V2.usage1",
        "lineItem/tenantId": "ocid1.tenancy.oc1..t",
        "lineItem/intervalUsageStart": "2026-05-01T00:00Z",
        "lineItem/intervalUsageEnd": "2026-05-01T01:00Z",
        "product/service": "COMPUTE",
        "product/resource": "PIC_COMPUTE_STANDARD_E4",
        "product/compartmentId": "ocid1.compartment.oc1..c",
        "usage/consumedQuantity": "7200000",
        "usage/billedQuantity": "2",
        "usage/consumedQuantityUnits": "MS",
        "usage/consumedQuantityMeasure": "TIME",
        "lineItem/isCorrection": "false",
        "tags/team": "ml",
    }
    target = _write(tmp_path, "usage.csv", {2: line}, header)
    assert detect_format(target).name == FMT
    rows, rejects = _read(target)
    row = rows[2]
    assert rejects == [] and row["x_CostBasis"] == "estimated" and row["x_DataQualityFlags"] == "unpriced"
    assert row["BilledCost"] is None and row["ConsumedQuantity"] == Decimal(7200000) and row["ConsumedUnit"] == "MS"
    assert row["x_Team"] == "ml"


# --- OCI FOCUS reports --------------------------------------------------------------------------------------------

#: An OCI FOCUS report line, in the column names Oracle writes (FOCUS 1.0-preview names ``Provider``,
#: ``Publisher``, ``InvoiceIssuer``, ``Region``, ``UsageQuantity``, ``UsageUnit``, ``ChargeSubcategory`` plus
#: ``oci_*`` columns), as read by public loaders of these files (e.g. the oci_* column lists of FOCUS loaders
#: for Autonomous Database and ClickHouse).
OCI_FOCUS = (
    "AvailabilityZone,BilledCost,BillingAccountId,BillingAccountName,BillingCurrency,BillingPeriodEnd,"
    "BillingPeriodStart,ChargeCategory,ChargeDescription,ChargeFrequency,ChargePeriodEnd,ChargePeriodStart,"
    "ChargeSubcategory,CommitmentDiscountCategory,CommitmentDiscountId,CommitmentDiscountName,CommitmentDiscountType,"
    "EffectiveCost,InvoiceIssuer,ListCost,ListUnitPrice,PricingCategory,PricingQuantity,PricingUnit,Provider,"
    "Publisher,Region,ResourceId,ResourceName,ResourceType,ServiceCategory,ServiceName,SkuId,SkuPriceId,SubAccountId,"
    "SubAccountName,Tags,UsageQuantity,UsageUnit,oci_ReferenceNumber,oci_CompartmentId,oci_CompartmentName,"
    "oci_OverageFlag,oci_UnitPriceOverage,oci_BilledQuantityOverage,oci_CostOverage,oci_AttributedUsage,"
    "oci_AttributedCost,oci_BackReferenceNumber\n"
    ",0.093075,12345678,,USD,2026-06-01T00:00Z,2026-05-01T00:00Z,Usage,OCI Generative AI - Large Cohere,"
    "Usage-based,2026-05-01T01:00Z,2026-05-01T00:00Z,On-Demand,,,,,0.093075,Oracle,0.093075,0.0219,,4.25,"
    '"10,000 Transactions",Oracle,Oracle,us-chicago-1,ocid1.generativeaiendpoint.oc1.us-chicago-1.aaaachat,,'
    "generativeaiendpoint,AI and Machine Learning,GENERATIVE_AI,B108077,,ocid1.tenancy.oc1..aaaaexampletenancy,"
    'exampletenancy,"{""finops.team"": ""assistants""}",4.25,"10,000 Transactions",V2.q7Lm3xKd9Tz+aaaa0002==,'
    "ocid1.compartment.oc1..aaaaml,ml-platform,N,,,,4.25,0.093075,\n"
)


@pytest.fixture
def oci_focus(tmp_path) -> Path:
    target = tmp_path / "oci_focus_report.csv"
    target.write_text(OCI_FOCUS, encoding="utf-8")
    return target


def test_the_oci_reader_does_not_take_an_oci_focus_report(oci_focus):
    head = oci_focus.read_text(encoding="utf-8")
    assert not SOURCES[FMT].detect(oci_focus, head)


def test_an_oci_focus_report_is_detected_and_read_by_the_focus_reader(oci_focus):
    """OCI writes the FOCUS 1.0-preview names (Provider, Publisher, InvoiceIssuer, Region, UsageQuantity)."""
    assert detect_format(oci_focus).name == "focus"
    con = engine.memory()
    try:
        row = SOURCES["focus"].read(oci_focus, con).costs.to_pyarrow().to_pylist()[0]
    finally:
        con.disconnect()
    assert (row["ProviderName"], row["BilledCost"], row["RegionId"]) == ("Oracle", Decimal("0.093075"), "us-chicago-1")
