"""AWS CUR 2.0 (Data Exports) with Bedrock token line items and its map columns, as CSV and as Parquet.

The fixture ``tests/data/tolerance/aws_cur2_bedrock.csv`` follows ``formats.md`` 4.1-4.2: ``product``,
``resource_tags``, ``cost_category``, ``discount`` and ``tags`` are maps (JSON text in CSV; one row writes
them as Python literals), Bedrock bills one line item per token type in ``line_item_usage_type``
(``USE1-Claude4Sonnet-input-tokens``, ``...-cache-read-input-token-count``, ``...-cache-write-input-token-count``,
``...-output-tokens``, ``-cross-region-global`` and ``-batch`` suffixes). The Parquet twin is written here
with real ``MAP`` columns and doubles for money, as Data Exports writes it.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finops_lib.sources._csv import parse_json_text
from finops_lib.warehouse.ingestion import ingest

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "tolerance" / "aws_cur2_bedrock.csv"
MAPS = ("product", "resource_tags", "cost_category", "tags")
DOUBLES = ("line_item_usage_amount", "line_item_unblended_rate", "line_item_unblended_cost",
           "line_item_net_unblended_cost")  # fmt: skip
TIMES = ("bill_billing_period_start_date", "bill_billing_period_end_date", "line_item_usage_start_date",
         "line_item_usage_end_date")  # fmt: skip
COLUMNS = (
    "BilledCost, EffectiveCost, ConsumedQuantity, x_Model, x_TokenType, x_ServiceTier, x_DeploymentType, "
    "RegionId, ServiceName, ServiceCategory, x_Team, x_Application, x_Environment, x_DataQualityFlags"
)
D = Decimal
#: Hand-worked from the fixture: line -> (billed, effective = net unblended, tokens, model, bucket, tier, deployment,
#: region, service, category, team, app (IAM principal tag), env, flags).
EXPECTED = {
    2: (D("3"), D("2.7"), D(1000000), "claude-sonnet-4", "input_uncached", "standard", None, "us-east-1"),
    3: (D("3"), D("2.7"), D(200000), "claude-sonnet-4", "output", "standard", None, "us-east-1"),
    4: (D("1.5"), D("1.35"), D(5000000), "claude-sonnet-4", "input_cache_read", "standard", None, "us-east-1"),
    5: (D("1.5"), D("1.35"), D(400000), "claude-sonnet-4", "input_cache_write_5m", "standard", None, "us-east-1"),
    6: (D("0.33"), D("0.297"), D(100000), "claude-sonnet-4", "input_uncached", "standard", "global", "us-east-1"),
    7: (D("0.75"), D("0.675"), D(100000), "claude-sonnet-4", "output", "batch", None, "us-east-1"),
    8: (D("0.023"), D("0.023"), D(1), None, "non_token", None, None, "us-east-1"),
    # the region comes from the product map (no product_region_code column)
    9: (D("0.4"), D("0.4"), D(100000), "claude-3-5-haiku", "output", "standard", None, "us-west-2"),
    10: (D("0.1"), D("0.1"), D(10), None, "non_token", None, None, "us-east-1"),
}
BEDROCK = ("Amazon Bedrock", "AI and Machine Learning")
OWNERS = {
    **dict.fromkeys((2, 3, 4, 5, 6), ("search", "doc-qa", "prod")),
    7: ("search", None, "prod"),  # no IAM principal tags on the batch line
    8: (None, None, None),
    9: ("legal", None, None),
    10: (None, None, None),
}
FLAGS = {9: "python_literal", 10: "meter_unparsed"}


def _expected(line: int, *, literal_flag: bool = True) -> tuple:
    service = ("Amazon Simple Storage Service", "Other") if line == 8 else BEDROCK
    flags = FLAGS.get(line, "") if literal_flag or line != 9 else ""
    return (line, *EXPECTED[line], *service, *OWNERS[line], flags)


def _load(path: Path, con) -> list[tuple]:
    summary = ingest([path], con=con).iloc[0]
    assert (summary.format, summary.rows_read, summary.rows_loaded, summary.rows_rejected) == ("aws_cur2", 9, 9, 0)
    return con.con.execute(f"SELECT x_SourceRow, {COLUMNS} FROM costs ORDER BY x_SourceRow").fetchall()


def test_bedrock_token_lines_of_a_cur2_csv(con):
    rows = _load(FIXTURE, con)
    assert rows == [_expected(line) for line in EXPECTED]
    billed, effective, tokens = con.con.execute(
        "SELECT sum(BilledCost), sum(EffectiveCost), sum(ConsumedQuantity) FILTER (x_TokenType <> 'non_token') "
        "FROM costs"
    ).fetchone()
    assert (billed, effective, tokens) == (D("10.603"), D("9.595"), D(6900000))
    extra = con.con.execute(
        "SELECT x_SourceExtra::JSON->'cost_category', x_SourceExtra::JSON->'discount', Tags FROM costs "
        "WHERE x_SourceRow = 2"
    ).fetchone()
    assert extra == ('{"BusinessUnit":"Search"}', '{"total_discount":-0.3}', '{"user:team":"search","user:env":"prod"}')


def _parquet(source: Path, target: Path) -> None:
    """Write the fixture as Data Exports' Parquet: maps as MAP columns, money as doubles, times as timestamps."""
    with source.open(newline="") as fh:
        records = list(csv.DictReader(fh))
    columns = {}
    for name in records[0]:
        values = [r[name] for r in records]
        if name in MAPS:
            kind = pa.map_(pa.string(), pa.string())
            maps = [parse_json_text(v)[0] for v in values]
            columns[name] = pa.array([list(m.items()) for m in maps], type=kind)
        elif name == "discount":
            kind = pa.map_(pa.string(), pa.float64())
            columns[name] = pa.array([[(k, float(x)) for k, x in parse_json_text(v)[0].items()] for v in values],
                                     type=kind)  # fmt: skip
        elif name in DOUBLES:
            columns[name] = pa.array([float(v) for v in values], type=pa.float64())
        elif name in TIMES:
            stamps = pa.array([v.replace("Z", "") for v in values]).cast(pa.timestamp("ms"))
            columns[name] = stamps.cast(pa.timestamp("ms", tz="UTC"))
        else:
            columns[name] = pa.array([v or None for v in values], type=pa.string())
    pq.write_table(pa.table(columns), target)


def test_the_parquet_export_with_map_columns_reads_like_the_csv(tmp_path, con):
    target = tmp_path / "aws_cur2_bedrock-00001.snappy.parquet"
    _parquet(FIXTURE, target)
    assert pa.types.is_map(pq.read_schema(target).field("product").type)
    rows = _load(target, con)
    # The same rows, except that a real map is no Python literal: row 9 is not flagged.
    assert rows == [_expected(line, literal_flag=False) for line in EXPECTED]


@pytest.mark.parametrize("suffix", ["", "-batch", "-cross-region-global", "-priority", "-flex"])
def test_each_token_bucket_and_tier_suffix_reads(tmp_path, con, suffix):
    with FIXTURE.open(newline="") as fh:
        reader = csv.reader(fh)
        head, first = next(reader), next(reader)
    usage = head.index("line_item_usage_type")
    lines = []
    for kind in ("input-tokens", "output-tokens", "cache-read-input-token-count", "cache-write-input-token-count"):
        row = list(first)
        row[usage] = f"USE1-Claude4Sonnet-{kind}{suffix}"
        lines.append(row)
    path = tmp_path / "cur2.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([head, *lines])
    ingest([path], con=con)
    got = con.con.execute("SELECT x_TokenType, x_ServiceTier, x_DeploymentType, x_DataQualityFlags FROM costs "
                          "ORDER BY x_SourceRow").fetchall()  # fmt: skip
    tier = {"-batch": "batch", "-priority": "priority", "-flex": "flex"}.get(suffix, "standard")
    deployment = "global" if suffix == "-cross-region-global" else None
    buckets = ("input_uncached", "output", "input_cache_read", "input_cache_write_5m")
    assert got == [(b, tier, deployment, "") for b in buckets]
