from decimal import Decimal

import pandas as pd
import pytest

from finops_lib import paths
from finops_lib.errors import SchemaError
from finops_lib.schema import COSTS, REQUESTS, TABLES, TOKEN_BUCKETS, conform, render_markdown, validate

# The 21 mandatory FOCUS 1.2 columns (reference/formats.md section 1.1), listed here by hand.
FOCUS_12_MANDATORY = {
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd",
    "ChargePeriodStart", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity",
    "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
}
ASKED_OPTIONAL = {
    "ConsumedQuantity", "ConsumedUnit", "ServiceSubcategory", "ChargeFrequency", "PricingCategory", "ListUnitPrice",
    "ContractedUnitPrice", "ResourceId", "ResourceName", "RegionId", "SkuId", "SkuMeter", "SkuPriceDetails",
    "SubAccountId", "SubAccountName", "Tags",
}


def test_costs_has_every_focus_column_asked_for():
    names = set(COSTS.names)
    assert len(FOCUS_12_MANDATORY) == 21
    assert names >= FOCUS_12_MANDATORY
    assert names >= ASKED_OPTIONAL
    assert {c.name for c in COSTS.columns if c.origin == "FOCUS 1.2 mandatory"} == FOCUS_12_MANDATORY


def test_custom_columns_are_prefixed_x():
    for table in TABLES.values():
        for col in table.columns:
            if col.origin == "extension" and col.name not in ("ChargePeriodStart", "ChargePeriodEnd", "ProviderName",
                                                            "BillingCurrency", "SubAccountId", "Tags"):
                assert col.name.startswith("x_"), col.name


def test_token_buckets_are_the_disjoint_five():
    assert TOKEN_BUCKETS == ("input_uncached", "input_cache_read", "input_cache_write_5m", "input_cache_write_1h",
                             "output")
    assert COSTS.column("x_TokenType").allowed == (*TOKEN_BUCKETS, "non_token")


def test_requests_share_names_with_costs_where_the_concept_is_shared():
    shared = {"ChargePeriodStart", "ProviderName", "x_Model", "x_ServiceTier", "BillingCurrency", "SubAccountId",
              "x_ApiKeyId", "x_Team", "x_Application", "x_Feature", "x_Environment", "Tags", "x_SourceFile",
              "x_SourceRow", "x_RowHash", "x_DataQualityFlags"}
    assert shared <= set(REQUESTS.names) & set(COSTS.names)


def _rejects(**overrides):
    row = {"x_SourceFormat": "f", "x_SourceFile": "a.csv", "x_SourceRow": 3, "x_Column": "spend", "x_Value": "x",
           "x_Reason": "bad", "x_TargetTable": "requests"}
    row.update(overrides)
    return pd.DataFrame([row])


def test_validate_accepts_a_good_frame():
    validate(_rejects(), "rejects")


def test_validate_names_a_missing_required_column():
    with pytest.raises(SchemaError, match=r"'x_Reason': required column is missing"):
        validate(_rejects().drop(columns="x_Reason"), "rejects")


def test_validate_names_nulls_in_required_column():
    with pytest.raises(SchemaError, match=r"x_SourceFile.*1 null"):
        validate(_rejects(x_SourceFile=None), "rejects")


def test_validate_names_an_undeclared_column():
    with pytest.raises(SchemaError, match=r"'surprise': not declared"):
        validate(_rejects().assign(surprise=1), "rejects")


def test_validate_shows_offending_values_of_wrong_type():
    with pytest.raises(SchemaError, match=r"x_SourceRow.*not of type int64.*\['three'\]"):
        validate(_rejects(x_SourceRow="three"), "rejects")


def _request_row(**overrides):
    row = {"x_RequestId": "r", "ChargePeriodStart": pd.Timestamp("2026-01-01", tz="UTC"), "ProviderName": "OpenAI",
           "x_InputUncachedTokens": 1, "x_InputCacheReadTokens": 0, "x_InputCacheWrite5mTokens": 0,
           "x_InputCacheWrite1hTokens": 0, "x_OutputTokens": 2, "x_Status": "success", "BillingCurrency": "USD",
           "x_SourceFormat": "f", "x_SourceFile": "f", "x_SourceRow": 2, "x_RowHash": "h", "x_DataQualityFlags": ""}
    row.update(overrides)
    return pd.DataFrame([row])


def test_validate_rejects_lower_case_currency_and_negative_tokens():
    validate(_request_row(), "requests")
    with pytest.raises(SchemaError, match=r"BillingCurrency.*ISO 4217.*'usd'"):
        validate(_request_row(BillingCurrency="usd"), "requests")
    with pytest.raises(SchemaError, match=r"x_OutputTokens.*negative"):
        validate(_request_row(x_OutputTokens=-5), "requests")
    with pytest.raises(SchemaError, match=r"x_Status.*allowed"):
        validate(_request_row(x_Status="ok"), "requests")


def test_conform_orders_casts_and_fills(con):
    import ibis

    frame = _request_row(x_ReportedCost=Decimal("0.1"))
    out = con.execute(conform(ibis.memtable(frame), "requests"))
    assert list(out.columns) == REQUESTS.names
    assert out.x_Team.isna().all()
    assert out.x_ReportedCost[0] == Decimal("0.100000000000")


def test_schema_doc_is_current():
    doc = paths.PROJECT_ROOT / "docs" / "schema.md"
    assert doc.read_text(encoding="utf-8") == render_markdown(), "docs/schema.md is stale: run `finops schema-doc`"


def test_money_is_required_on_invoiced_rows_only(con):
    import ibis

    from finops_lib.sources._common import records_table

    base = {"BillingAccountId": "a", "BillingCurrency": "USD",
            "BillingPeriodStart": pd.Timestamp("2026-01-01", tz="UTC"),
            "BillingPeriodEnd": pd.Timestamp("2026-02-01", tz="UTC"), "ChargeCategory": "Usage",
            "ChargePeriodStart": pd.Timestamp("2026-01-01", tz="UTC"),
            "ChargePeriodEnd": pd.Timestamp("2026-01-02", tz="UTC"), "InvoiceIssuerName": "OpenAI",
            "ProviderName": "OpenAI", "PublisherName": "OpenAI", "ServiceCategory": "AI and Machine Learning",
            "ServiceName": "OpenAI API", "x_TokenType": "output", "x_SourceFormat": "t", "x_SourceFile": "f",
            "x_SourceRow": 1, "x_RowHash": "h", "x_DataQualityFlags": "unpriced"}
    estimated = records_table([{**base, "x_CostBasis": "estimated"}], "costs")
    validate(con.execute(estimated), "costs")  # unpriced usage: no money, and that is allowed
    invoiced = records_table([{**base, "x_CostBasis": "invoiced"}], "costs")
    with pytest.raises(SchemaError, match=r"BilledCost.*null value\(s\) on rows where x_CostBasis = 'invoiced'"):
        validate(ibis.memtable(con.execute(invoiced)), "costs")


def test_request_token_columns_cover_every_bucket():
    from finops_lib.schema import REQUEST_TOKEN_COLUMNS

    assert tuple(REQUEST_TOKEN_COLUMNS) == TOKEN_BUCKETS
    for column in REQUEST_TOKEN_COLUMNS.values():
        assert REQUESTS.column(column).dtype == "int64" and REQUESTS.column(column).required
