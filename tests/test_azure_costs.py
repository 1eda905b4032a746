"""Azure cost details reader: sample totals, EA and MCA fixtures, actual vs amortized, rejects, windows."""

from __future__ import annotations

import csv
import gzip
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finops_lib import paths
from finops_lib.errors import SourceError
from finops_lib.schema import validate
from finops_lib.sources import SOURCES, Window, detect_format, read_head
from finops_lib.sources.azure_costs import FORMAT, read
from finops_lib.warehouse.ingestion import ingest

DATA = Path(__file__).parent / "data"
SAMPLE = sorted((paths.SAMPLE_DIR / "azure").glob("cost_details_*.csv.gz"))
EA = DATA / "azure_cost_details.csv"
MCA = DATA / "azure_cost_details_mca.csv"
MARCH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))


def _rows(result) -> list[dict]:
    return sorted(result.costs.to_pyarrow().to_pylist(), key=lambda r: r["x_SourceRow"])


def _by_row(result) -> dict[int, dict]:
    return {r["x_SourceRow"]: r for r in _rows(result)}


def _csv_rows(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


# --- the committed sample ---------------------------------------------------------------------------------------

def test_every_sample_file_loads_clean_and_bills_the_raw_totals(con):
    assert len(SAMPLE) == 6
    summary = ingest(SAMPLE, con=con)
    assert set(summary.format) == {FORMAT}
    assert (summary.status == "loaded").all() and (summary.rows_rejected == 0).all()
    raw_cost: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    raw_tokens, raw_hours = Decimal(0), Decimal(0)
    for path in SAMPLE:
        for row in _csv_rows(path):
            start = datetime.strptime(row["BillingPeriodStartDate"], "%m/%d/%Y").strftime("%Y-%m")
            raw_cost[(start, row["BillingCurrencyCode"])] += Decimal(row["CostInBillingCurrency"])
            if row["UnitOfMeasure"] == "1M":
                raw_tokens += Decimal(row["Quantity"])
            else:
                raw_hours += Decimal(row["Quantity"])
    loaded = con.sql("""SELECT strftime(BillingPeriodStart, '%Y-%m') AS month, BillingCurrency AS cur,
        sum(BilledCost) AS cost FROM costs WHERE ProviderName = 'Microsoft' GROUP BY 1, 2""").to_pyarrow().to_pylist()
    assert {(r["month"], r["cur"]): r["cost"] for r in loaded} == dict(raw_cost)
    assert {cur for _, cur in raw_cost} == {"EUR"}
    tokens = con.sql("""SELECT sum(ConsumedQuantity) AS q, sum(PricingQuantity) AS p, count(*) AS n FROM costs
        WHERE x_TokenType <> 'non_token'""").to_pyarrow().to_pylist()[0]
    assert (tokens["q"], tokens["p"]) == (raw_tokens, raw_tokens / 1_000_000)
    ptu = con.sql("""SELECT DISTINCT x_TokenType AS t, x_ServiceTier AS tier, ConsumedUnit AS u, PricingUnit AS pu,
        x_Model AS model FROM costs WHERE SkuMeter = 'Provisioned Managed Unit'""").to_pyarrow().to_pylist()
    assert ptu == [{"t": "non_token", "tier": "provisioned", "u": "Hours", "pu": "1 Hour", "model": None}]
    hours = con.sql("SELECT sum(ConsumedQuantity) AS h FROM costs WHERE x_TokenType = 'non_token'").to_pyarrow()
    assert hours.to_pylist()[0]["h"] == raw_hours
    flags = con.sql("SELECT DISTINCT x_DataQualityFlags AS f FROM costs").to_pyarrow().to_pylist()
    assert flags == [{"f": ""}]
    validate(con.table("costs"), "costs")


# --- EA fixture -------------------------------------------------------------------------------------------------

def test_ea_fixture_hand_computed(con):
    result = read(EA, con)
    rows = _by_row(result)
    assert sorted(rows) == [2, 3, 4, 5, 6]
    assert sum(r["BilledCost"] for r in rows.values()) == Decimal("57.430225")
    assert sum(r["ListCost"] for r in rows.values()) == Decimal("58.250225")  # PaygCostInBillingCurrency
    assert sum(r["ContractedCost"] for r in rows.values()) == Decimal("57.430225")  # UnitPrice x quantity
    first = rows[2]
    assert (first["ChargePeriodStart"], first["ChargePeriodEnd"]) == (
        datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
    assert (first["BillingPeriodStart"], first["BillingPeriodEnd"]) == MARCH
    assert (first["BillingCurrency"], first["BillingAccountId"], first["SubAccountId"]) == ("EUR", "11112222",
                                                                                            "aaaa-1111")
    assert (first["x_TokenType"], first["ConsumedQuantity"], first["ConsumedUnit"]) == (
        "input_uncached", Decimal(2500000), "Tokens")
    assert (first["PricingQuantity"], first["PricingUnit"], first["ListUnitPrice"]) == (
        Decimal("2.5"), "1M Tokens", Decimal("2.5"))
    assert (first["x_Model"], first["PublisherName"], first["ServiceName"], first["x_DeploymentType"]) == (
        "gpt-4o-2024-08-06", "OpenAI", "Azure OpenAI", "global")
    assert json.loads(first["Tags"]) == {"team": "search", "app": "doc-qa", "env": "prod"}
    assert (first["x_Team"], first["x_Application"], first["x_Environment"]) == ("search", "doc-qa", "prod")
    assert (first["ResourceName"], first["RegionId"], first["ProviderName"]) == (
        "aoai-search", "swedencentral", "Microsoft")
    extra = json.loads(first["x_SourceExtra"])
    assert extra["x_CostView"] == "undetermined"
    assert extra["AdditionalInfo"] == {"DeploymentName": "gpt-4o-docqa", "DeploymentType": "GlobalStandard"}
    assert rows[3]["x_TokenType"] == "output"
    # 1,500 tokens priced per 1K: PricingQuantity 1.5 (the FOCUS spec's own example).
    small = rows[4]
    assert (small["ConsumedQuantity"], small["PricingQuantity"], small["PricingUnit"]) == (
        Decimal(1500), Decimal("1.5"), "1K Tokens")
    assert (small["x_Team"], small["x_Environment"], small["BilledCost"]) == ("support", "dev", Decimal("0.000225"))
    ptu = rows[5]
    assert (ptu["x_TokenType"], ptu["x_ServiceTier"], ptu["ConsumedQuantity"], ptu["ConsumedUnit"]) == (
        "non_token", "provisioned", Decimal(24), "Hours")
    assert (ptu["PricingQuantity"], ptu["PricingUnit"], ptu["x_Model"], ptu["x_DataQualityFlags"]) == (
        Decimal(24), "1 Hour", None, "")
    vm = rows[6]
    assert (vm["ServiceCategory"], vm["ServiceName"], vm["x_DataQualityFlags"], vm["Tags"]) == (
        "Other", "Virtual Machines", "", "{}")
    assert result.windows == (Window(*MARCH, scope=(("BillingAccountId", "11112222"), ("SubAccountId", "aaaa-1111"),
                                                                    ("x_CostDataset", "actual")),
                                     column="BillingPeriodStart"),)
    validate(result.costs, "costs")


def test_second_read_gives_identical_rows(con):
    assert read(EA, con).costs.to_pandas().equals(read(EA, con).costs.to_pandas())


# --- MCA naming -------------------------------------------------------------------------------------------------

def test_mca_fixture_iso_dates_and_pricing_currency(con):
    assert detect_format(MCA).name == FORMAT
    rows = _by_row(read(MCA, con))
    inp, out = rows[2], rows[3]
    assert (inp["ChargePeriodStart"], inp["BillingPeriodStart"], inp["BillingPeriodEnd"]) == (
        datetime(2026, 3, 2, tzinfo=UTC), *MARCH)
    assert (inp["BillingAccountId"], inp["BillingAccountName"], inp["BillingCurrency"]) == (
        "acct-mca-1", "Fabrikam MCA", "EUR")
    # On-demand rows are billed at the negotiated price: ContractedCost is the billed cost.
    assert (inp["BilledCost"], inp["ContractedCost"], inp["ListCost"]) == (
        Decimal("3.6"), Decimal("3.6"), Decimal("3.96"))
    assert inp["ListUnitPrice"] is None  # a USD price is not a billing-currency unit price
    assert out["ListCost"] == Decimal("3.96")  # no PaygCost: PayGPrice 8.8 USD x 0.5 (1M blocks) x 0.9 EUR/USD
    assert (inp["x_TokenType"], out["x_TokenType"], inp["x_Model"], inp["x_DeploymentType"]) == (
        "input_uncached", "output", "o3", "data_zone")
    assert (inp["PricingUnit"], inp["PricingQuantity"]) == ("1M Tokens", Decimal(2))
    assert (inp["x_Team"], inp["x_Application"], inp["x_Feature"]) == ("agents", "planner", "plan")


def test_mca_with_us_dates_is_detected_per_file(tmp_path, con):
    rows = _csv_rows(MCA)
    for row in rows:
        for col in ("date", "billingPeriodStartDate", "billingPeriodEndDate"):
            row[col] = date.fromisoformat(row[col]).strftime("%m/%d/%Y")
    us = _rows(read(_write_csv(tmp_path / "us.csv", rows), con))
    iso = _rows(read(MCA, con))
    keys = ("x_RowHash", "ChargePeriodStart", "BillingPeriodEnd", "BilledCost")
    assert [{k: r[k] for k in keys} for r in us] == [{k: r[k] for k in keys} for r in iso]
    rows[1]["date"] = "2026-03-02"  # a stray ISO date in a MM/dd/yyyy file
    rows.append(dict(rows[0], meterId="m-103"))
    ingest([_write_csv(tmp_path / "mixed.csv", rows)], con=con)
    rejects = con.sql("SELECT x_SourceRow, x_Column, x_Reason FROM rejects").to_pyarrow().to_pylist()
    assert rejects == [{"x_SourceRow": 3, "x_Column": "date", "x_Reason": "not a MM/dd/yyyy date"}]


# --- actual vs amortized ----------------------------------------------------------------------------------------

def test_amortized_export_is_recognised(con):
    rows = _by_row(read(DATA / "azure_cost_details_amortized.csv", con))
    assert {json.loads(r["x_SourceExtra"])["x_CostView"] for r in rows.values()} == {"amortized"}
    assert [(r["BilledCost"], r["EffectiveCost"]) for r in rows.values()] == [
        (Decimal(0), Decimal(30)), (Decimal(0), Decimal(6)), (Decimal(1), Decimal(1))]
    assert (rows[2]["PricingCategory"], rows[3]["ChargeCategory"], rows[3]["ConsumedQuantity"]) == (
        "Committed", "Usage", None)
    assert (rows[2]["ListCost"], rows[2]["ContractedCost"]) == (Decimal(40), Decimal(40))  # prices 2 x 20 hours
    assert rows[4]["ContractedCost"] == Decimal(1)  # on demand: the billed cost


def test_actual_export_is_recognised(con):
    rows = _by_row(read(DATA / "azure_cost_details_actual.csv", con))
    assert {json.loads(r["x_SourceExtra"])["x_CostView"] for r in rows.values()} == {"actual"}
    assert [(r["ChargeCategory"], r["BilledCost"], r["EffectiveCost"]) for r in rows.values()] == [
        ("Purchase", Decimal(720), Decimal(720)), ("Usage", Decimal(0), Decimal(0))]


# --- rejects, restatement, failures -----------------------------------------------------------------------------

def test_bad_rows_are_rejected_with_line_column_and_reason(con):
    summary = ingest([DATA / "azure_cost_details_bad_rows.csv"], con=con).iloc[0]
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (5, 2, 3)
    rejects = con.sql("SELECT x_SourceRow, x_Column, x_Value, x_Reason FROM rejects ORDER BY 1").to_pyarrow()
    assert [tuple(r.values()) for r in rejects.to_pylist()] == [
        (3, "Date", "2026-03-02", "not a MM/dd/yyyy date"),
        (4, "CostInBillingCurrency", "abc", "not a number"),
        (5, "Tags", '"team": search', "not a JSON object"),
    ]
    loaded = con.sql("SELECT x_SourceRow, BillingCurrency, x_Team FROM costs ORDER BY 1").to_pyarrow().to_pylist()
    assert loaded == [{"x_SourceRow": 2, "BillingCurrency": "EUR", "x_Team": "search"},
                      {"x_SourceRow": 6, "BillingCurrency": "EUR", "x_Team": None}]


def test_restated_month_replaces_the_earlier_export(tmp_path, con):
    ingest([EA, MCA], con=con)
    rows = _csv_rows(EA)[:2]
    rows[0]["CostInBillingCurrency"] = "6"
    restated = _write_csv(tmp_path / "azure_cost_details.csv", rows)
    ingest([restated], con=con)
    totals = con.sql("""SELECT BillingAccountId AS a, count(*) AS n, sum(BilledCost) AS c FROM costs
        GROUP BY 1 ORDER BY 1""").to_pyarrow().to_pylist()
    assert totals == [{"a": "11112222", "n": 2, "c": Decimal("9.68")},
                      {"a": "acct-mca-1", "n": 2, "c": Decimal("7.2")}]


def test_parquet_export_reads_like_the_csv(tmp_path, con):
    rows = _csv_rows(EA)
    columns = {n: pa.array([r[n] or None for r in rows], pa.string()) for n in rows[0]}
    columns["Date"] = pa.array([datetime.strptime(r["Date"], "%m/%d/%Y").date() for r in rows], pa.date32())
    columns["CostInBillingCurrency"] = pa.array([float(r["CostInBillingCurrency"]) for r in rows], pa.float64())
    columns["Quantity"] = pa.array([float(r["Quantity"]) for r in rows], pa.float64())
    target = tmp_path / "part_0_0001.parquet"
    pq.write_table(pa.table(columns), target)
    assert detect_format(target).name == FORMAT
    keys = ("x_RowHash", "BilledCost", "ConsumedQuantity", "PricingQuantity", "ChargePeriodStart", "Tags")
    from_parquet = [{k: r[k] for k in keys} for r in _rows(read(target, con))]
    assert from_parquet == [{k: r[k] for k in keys} for r in _rows(read(EA, con))]


def test_unreadable_files_raise_source_error(tmp_path, con):
    rows = [{k: v for k, v in r.items() if k != "CostInBillingCurrency"} for r in _csv_rows(EA)]
    with pytest.raises(SourceError, match="CostInBillingCurrency"):
        read(_write_csv(tmp_path / "no_cost.csv", rows), con)
    rows = [{k: v for k, v in r.items() if k not in ("BillingAccountId", "BillingProfileId", "SubscriptionId")}
            for r in _csv_rows(EA)]
    with pytest.raises(SourceError, match="billing account"):
        read(_write_csv(tmp_path / "no_account.csv", rows), con)
    twice = tmp_path / "twice.csv"
    twice.write_text(EA.read_text().replace("Date,", "Date,Date,", 1))
    summary = ingest([twice], con=con, format=FORMAT).iloc[0]
    assert summary.status == "failed" and "twice.csv" in summary.message


def test_detection_accepts_only_cost_details(real_dir):
    ours = set(DATA.glob("azure_cost_details*.csv"))
    assert len(ours) == 5
    for path in ours:
        assert detect_format(path).name == FORMAT
    for path in [p for p in DATA.iterdir() if p.is_file() and p not in ours] + list(real_dir.iterdir()):
        if path.is_file():
            assert not SOURCES[FORMAT].detect(path, read_head(path)), path.name
    focus = "BilledCost,BillingCurrency,ChargePeriodStart,SkuMeter,x_SkuMeterCategory,ConsumedQuantity\n"
    assert not SOURCES[FORMAT].detect(DATA / "focus.csv", focus)


# --- sloppy exports ---------------------------------------------------------------------------------------------


def test_short_lines_are_padded_or_rejected_and_python_literal_tags_read(con):
    """Line 3 lacks only optional trailing fields (padded), line 4 ends before its cost (rejected, naming it)."""
    path = DATA / "tolerance" / "azure_short_rows_literal_tags.csv"
    summary = ingest([path], con=con).iloc[0]
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (4, 3, 1)
    rows = con.sql("SELECT x_SourceRow, BilledCost, x_Team, x_Environment, x_DataQualityFlags FROM costs "
                   f"WHERE x_SourceFile = '{path}' ORDER BY x_SourceRow").to_pandas()
    assert rows.fillna({"x_Team": "-", "x_Environment": "-"}).values.tolist() == [
        [2, Decimal("0.15"), "chat", "prod", "python_literal"],
        [3, Decimal("0.12"), "-", "-", "row_padded"],
        [5, Decimal("0.075"), "chat", "-", ""],
    ]
    reject = con.sql(f"SELECT x_SourceRow, x_Column, x_Reason FROM rejects WHERE x_SourceFile = '{path}'").to_pandas()
    assert reject.values.tolist() == [[4, "CostInBillingCurrency",
                                       "missing columns: the line ends before this required column"]]
