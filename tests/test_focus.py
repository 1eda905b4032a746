"""FOCUS 1.0-1.4 reader: quirks, meters, rejects, natural key, windows, the real and sample files."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from finops_lib import paths
from finops_lib.errors import FinopsError, SourceError
from finops_lib.schema import validate
from finops_lib.sources import SOURCES, detect_format, focus, read_head
from finops_lib.warehouse.ingestion import ingest

DATA = Path(__file__).parent / "data"
#: FOCUS fixtures: the focus*.csv files and Pinecone's cost-usage export (a zip of FOCUS 1.4 parts, test_pinecone.py).
FIXTURES = [*sorted(DATA.glob("focus*.csv")), DATA / "pinecone_cost_usage_export.zip"]
SAMPLE_FOCUS = sorted((paths.SAMPLE_DIR / "focus").glob("*.csv"))


def _rows(con, path: Path) -> pd.DataFrame:
    return con.sql(f"SELECT * FROM costs WHERE x_SourceFile = '{path.resolve()}' ORDER BY x_SourceRow").execute()


def _rejects(con) -> list[tuple]:
    frame = con.sql("SELECT x_SourceRow, x_Column, x_Value, x_Reason FROM rejects ORDER BY x_SourceRow").execute()
    return [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False)]


def _raw_billed(path: Path) -> dict[tuple[str, str], Decimal]:
    """BilledCost per (provider, billing month) computed from the raw file with csv + Decimal."""
    opener = gzip.open if path.suffix == ".gz" else open
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        for rec in csv.DictReader(fh):
            totals[(rec["ProviderName"], rec["BillingPeriodStart"][:7])] += Decimal(rec["BilledCost"])
    return dict(totals)


def _loaded_billed(con, files: list[Path]) -> dict[tuple[str, str], Decimal]:
    names = ", ".join(f"'{p.resolve()}'" for p in files)
    frame = con.sql(f"SELECT ProviderName, strftime(BillingPeriodStart, '%Y-%m') AS m, sum(BilledCost) AS c "
                    f"FROM costs WHERE x_SourceFile IN ({names}) GROUP BY ALL").execute()
    return {(r.ProviderName, r.m): Decimal(str(r.c)) for r in frame.itertuples()}


# --- detection and versions --------------------------------------------------------------------------------------


def test_detects_every_focus_fixture_and_nothing_else():
    others = [p for p in [*DATA.iterdir(), *paths.SAMPLE_DIR.rglob("*")]
              if p.is_file() and not p.name.startswith("focus") and p not in FIXTURES and p.suffix != ".md"]
    detect = SOURCES["focus"].detect
    assert [p.name for p in FIXTURES if detect_format(p).name != "focus"] == []
    assert [p.name for p in SAMPLE_FOCUS if detect_format(p).name != "focus"] == []
    assert [str(p) for p in others if detect(p, read_head(p))] == []


@pytest.mark.parametrize(("name", "version"), [("focus.csv", "1.2"), ("focus_1.0_sample.csv", "1.0"),
                                               ("focus_1.3_aws.csv", "1.3"), ("focus_azure.csv", "1.1")])
def test_version_from_columns(name, version):
    with open(DATA / name, newline="", encoding="utf-8") as fh:
        assert focus.focus_version(next(csv.reader(fh))) == version


# --- fixtures, hand-computed ---------------------------------------------------------------------------------------


def test_aws_focus_export_splits_bedrock_tokens(con):
    path = DATA / "focus.csv"
    summary = ingest([path], con=con)
    assert summary[["rows_read", "rows_loaded", "rows_rejected"]].values.tolist() == [[4, 4, 0]]
    rows = _rows(con, path)
    assert rows.BilledCost.map(Decimal).sum() == Decimal("8.3772")
    assert rows.x_TokenType.tolist() == ["input_uncached", "output", "input_cache_read", "non_token"]
    assert rows.x_Model.tolist()[:3] == ["claude-sonnet-4"] * 3 and pd.isna(rows.x_Model[3])
    assert rows.x_ModelRaw[0] == "USE1-Claude4Sonnet-input-tokens"
    assert rows.x_ServiceTier.tolist()[:3] == ["standard"] * 3
    assert rows.PublisherName.tolist() == ["Anthropic"] * 3 + ["AWS"]
    assert (rows.x_Team[0], rows.x_Application[0], rows.x_Environment[3]) == ("search", "qa-bot", "prod")
    assert json.loads(rows.SkuPriceDetails[2]) == {"TokenDirection": "Input", "CacheAction": "Read"}
    assert json.loads(rows.SkuPriceDetails[3]) == {"x_InstanceType": "m5.large"}
    extra = json.loads(rows.x_SourceExtra[0])
    assert extra["x_UsageType"] == "USE1-Claude4Sonnet-input-tokens" and extra["InvoiceId"] == "INV-2026-05-001"
    assert set(rows.x_CostBasis) == {"invoiced"} and set(rows.x_DataQualityFlags) == {""}
    assert rows.ConsumedQuantity.map(Decimal).tolist()[:3] == [Decimal(1_000_000), Decimal(200_000), Decimal(500_000)]
    validate(con.table("costs"), "costs")


def test_focus_1_0_quirks_and_rejects(con):
    path = DATA / "focus_1.0_sample.csv"
    summary = ingest([path], con=con)
    assert summary[["rows_read", "rows_loaded", "rows_rejected"]].values.tolist() == [[10, 5, 5]]
    assert _rejects(con) == [
        (5, "BilledCost", "abc", "not a decimal number"),
        (6, "ChargePeriodStart", "2024-13-45 00:00:00", "not an ISO-8601 timestamp"),
        (7, "ChargeCategory", "Refund", "not a FOCUS charge category"),
        (8, "BillingAccountId", None, "missing value in a mandatory FOCUS column"),
        (9, "Tags", "[1, 2]", "not a JSON object"),
    ]
    rows = _rows(con, path).set_index("x_SourceRow")
    assert list(rows.index) == [2, 3, 4, 10, 11]
    assert str(rows.ChargePeriodStart[2]) == "2024-09-18 22:00:00+00:00"  # no zone written: UTC
    assert pd.isna(rows.ChargeClass[3]) and rows.ChargeFrequency[3] == "Usage-Based"  # Oracle 'Usage-based'
    assert Decimal(rows.ContractedCost[3]) == Decimal("0.012")  # NULL in the file: the billed amount
    assert (rows.x_Team[3], rows.x_Application[3], rows.x_Environment[3]) == ("infra", "SafeRadarCore", "dev")
    assert Decimal(rows.BilledCost[11]) == Decimal("0.000000000002")  # ...25 rounded half-even
    assert Decimal(rows.ContractedCost[11]) == Decimal("0.000000000004")  # ...35 rounded half-even
    assert Decimal(rows.ListCost[11]) == Decimal("0.0015")  # 1.5E-3
    assert pd.isna(rows.ChargeFrequency[11]) and json.loads(rows.x_SourceExtra[11])["ChargeFrequency"] == "Sometimes"
    assert json.loads(rows.x_SourceExtra[2]) == {"RegionName": "US West (Oregon)", "Id": "11472",
                                                 "SkuPriceId": "G95FST5FTYV3JSRX.JRTCKXETXF"}
    assert rows.x_RowHash[2] != rows.x_RowHash[10]  # an identical line is a second charge, not a duplicate
    assert sum(rows.BilledCost.map(Decimal)) == Decimal("-2.601698399998")
    assert set(rows.x_TokenType) == {"non_token"}


def test_focus_1_3_provider_columns_and_bedrock_meters(con):
    path = DATA / "focus_1.3_aws.csv"
    ingest([path], con=con)
    rows = _rows(con, path)
    assert set(rows.ProviderName) == {"AWS"} and set(rows.PublisherName) == {"AWS"}
    assert set(rows.InvoiceIssuerName) == {"Amazon Web Services, Inc."}
    assert rows.x_TokenType.tolist() == ["input_uncached", "input_cache_write_5m", "non_token", "non_token"]
    assert rows.x_Model.tolist()[:2] == ["llama4-maverick-17b-instruct", "claude-3-5-haiku"]
    assert rows.x_ServiceTier.tolist()[:2] == ["batch", "standard"]
    assert rows.x_DataQualityFlags.tolist() == ["", "", "meter_unparsed", ""]
    assert rows.SkuMeter[2] == rows.x_ModelRaw[2] == "USE1-SomethingNew-widgets"
    assert (rows.x_Team[0], rows.x_Environment[0], rows.x_Feature[0]) == ("platform", "staging", "summaries")
    assert json.loads(rows.x_SourceExtra[2]) == {"HostProviderName": "AWS", "AllocatedMethodId": "split-1",
                                                 "x_UsageType": "USE1-SomethingNew-widgets"}
    assert pd.isna(rows.x_Model[3]) and pd.isna(rows.x_ModelRaw[3])  # S3 storage: not an AI row


def test_azure_focus_export(con):
    path = DATA / "focus_azure.csv"
    ingest([path], con=con)
    rows = _rows(con, path)
    assert set(rows.BillingCurrency) == {"EUR"}
    assert rows.x_TokenType.tolist() == ["input_uncached", "output", "non_token", "non_token"]
    assert rows.x_Model.tolist()[:2] == ["gpt-4o-mini-2024-07-18"] * 2
    assert rows.x_DeploymentType.tolist()[:2] == ["global"] * 2
    assert rows.x_DataQualityFlags.tolist() == ["", "", "meter_unparsed", ""]
    assert json.loads(rows.Tags[0]) == {"team": "ml", "env": "prod"}  # brace-less body wrapped
    assert (rows.x_Team[0], rows.x_Environment[0]) == ("ml", "prod")
    assert json.loads(rows.x_SourceExtra[0])["x_SkuMeterName"] == "gpt-4o-mini-0718-Inp-glbl"
    assert sum(rows.BilledCost.map(Decimal)) == Decimal("5.35")


def test_sku_price_details_decide_the_bucket(con):
    path = DATA / "focus_details.csv"
    ingest([path], con=con)
    rows = _rows(con, path)
    assert set(rows.BillingCurrency) == {"GBP"}
    assert rows.x_TokenType.tolist() == ["output", "input_cache_write_5m", "non_token"]
    assert rows.x_DataQualityFlags.tolist() == ["meter_unparsed", "cache_ttl_assumed,meter_unparsed", ""]
    assert rows.x_ModelRaw.tolist()[:2] == ["mistral-large output", "mistral-large cache write"]
    assert rows.x_Application.tolist()[:2] == ["chat", "chat"]


# --- formats, determinism, windows, whole-file errors --------------------------------------------------------------


def _typed_parquet(src: Path, target: Path) -> None:
    duckdb.sql(f"""COPY (SELECT * EXCLUDE (BilledCost, Tags, BillingPeriodStart, ChargePeriodStart),
        CAST(BilledCost AS DOUBLE) AS BilledCost, CAST(BillingPeriodStart AS TIMESTAMPTZ) AS BillingPeriodStart,
        CAST(ChargePeriodStart AS TIMESTAMP) AS ChargePeriodStart,
        CAST(json_transform(Tags, '"MAP(VARCHAR, VARCHAR)"') AS MAP(VARCHAR, VARCHAR)) AS Tags
        FROM read_csv('{src}', all_varchar = true)) TO '{target}' (FORMAT parquet)""")


def test_parquet_and_gzip_give_the_same_rows(con, tmp_path):
    src = DATA / "focus.csv"
    parquet, gz = tmp_path / "export.parquet", tmp_path / "export.csv.gz"
    _typed_parquet(src, parquet)
    with open(src, "rb") as fh, gzip.open(gz, "wb") as out:
        shutil.copyfileobj(fh, out)
    assert detect_format(parquet).name == detect_format(gz).name == "focus"
    cols = ["x_RowHash", "BilledCost", "ChargePeriodStart", "x_TokenType", "x_Model", "x_Team", "x_SourceRow"]
    frames = [focus.read(p, con).costs.execute().sort_values("x_SourceRow")[cols].reset_index(drop=True)
              for p in (src, parquet, gz)]
    pd.testing.assert_frame_equal(frames[0], frames[1])
    pd.testing.assert_frame_equal(frames[0], frames[2])


def test_second_read_is_identical(con):
    for path in FIXTURES:
        first, second = (focus.read(path, con).costs.execute().sort_values("x_SourceRow").reset_index(drop=True)
                         for _ in range(2))
        pd.testing.assert_frame_equal(first, second)


def test_windows_per_account_and_billing_period(con, tmp_path):
    (window,) = focus.read(DATA / "focus.csv", con).windows
    assert (window.start.isoformat(), window.end.isoformat()) == ("2026-05-01T00:00:00+00:00",
                                                                  "2026-06-01T00:00:00+00:00")
    assert window.scope == (("BillingAccountId", "123456789012"),) and window.column == "BillingPeriodStart"
    windows = focus.read(DATA / "focus_1.0_sample.csv", con).windows
    assert sorted(w.scope[0][1] for w in windows) == ["1234567890123", "20209880"]
    part = tmp_path / "focus-00001.csv"
    shutil.copy(DATA / "focus.csv", part)
    # one part of a multi-part export declares its period and names its delivery's parts: they keep each other's
    # rows, a later delivery restates them all (tests/test_split_deliveries.py)
    (named,) = focus.read(part, con).windows
    assert (named.start, named.end, named.scope) == (window.start, window.end, window.scope)
    assert named.parts == (str(tmp_path / "focus-[0-9]*.csv"),)


def test_restated_billing_period_replaces_the_earlier_file(con, tmp_path):
    first = tmp_path / "may.csv"
    shutil.copy(DATA / "focus.csv", first)
    lines = (DATA / "focus.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    restated = tmp_path / "may_restated.csv"
    restated.write_text("".join(lines[:2]), encoding="utf-8")  # the period now holds one charge
    ingest([first], con=con)
    ingest([restated], con=con)
    total = con.sql("SELECT count(*) AS n, sum(BilledCost) AS c FROM costs").execute()
    assert (int(total.n[0]), Decimal(str(total.c[0]))) == (1, Decimal("3"))


def test_whole_file_errors(con, tmp_path):
    header = (DATA / "focus.csv").read_text(encoding="utf-8").splitlines()
    missing = tmp_path / "missing.csv"
    missing.write_text(header[0].replace("BilledCost,", "") + "\n", encoding="utf-8")
    with pytest.raises(SourceError, match="BilledCost"):
        focus.read(missing, con)
    duplicated = tmp_path / "dup.csv"
    duplicated.write_text(header[0] + ",BilledCost\n", encoding="utf-8")
    with pytest.raises(SourceError, match="repeats"):
        focus.read(duplicated, con)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1" + b"\0" * 64)
    with pytest.raises(SourceError):
        focus.read(broken, con)


def test_corrupted_files_raise_only_finops_errors(con, tmp_path):
    text = (DATA / "focus_1.0_sample.csv").read_bytes()
    variants = {
        "truncated.csv": text[: len(text) // 2],
        "latin1.csv": text.replace(b"SunBird", "Sünbird".encode("latin-1")),
        "short_row.csv": text + b'NULL,1.0,"1"\n',
        "header_only.csv": text.splitlines(keepends=True)[0],
    }
    for name, content in variants.items():
        path = tmp_path / name
        path.write_bytes(content)
        try:
            summary = ingest([path], con=con, format="focus")
        except FinopsError:
            continue
        row = summary.iloc[0]
        if row.status != "failed":
            assert row.rows_read == row.rows_loaded + row.rows_rejected, name


# --- real and sample data ----------------------------------------------------------------------------------------


def test_real_focus_1_0_sample_loads_every_row(con, real_dir):
    path = real_dir / "focus_1.0_sample_1000.csv"
    summary = ingest([path], con=con)
    assert summary[["rows_read", "rows_loaded", "rows_rejected"]].values.tolist() == [[1000, 1000, 0]]
    with open(path, newline="", encoding="utf-8-sig") as fh:
        raw = sum(Decimal(r["BilledCost"]) for r in csv.DictReader(fh))
    loaded = con.sql("SELECT sum(BilledCost) AS c FROM costs").execute().c[0]
    assert Decimal(str(loaded)) == raw
    validate(con.table("costs"), "costs")


def test_sample_focus_files_load_with_raw_totals(con):
    assert SAMPLE_FOCUS, "data/sample/focus holds no FOCUS file"
    summary = ingest(SAMPLE_FOCUS, con=con)
    assert int(summary.rows_rejected.sum()) == 0 and int(summary.rows_read.sum()) == int(summary.rows_loaded.sum())
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for path in SAMPLE_FOCUS:
        for key, value in _raw_billed(path).items():
            expected[key] += value
    assert _loaded_billed(con, SAMPLE_FOCUS) == dict(expected)
