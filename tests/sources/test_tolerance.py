"""Tolerable quirks of real exports load (flagged) instead of being rejected; untrustworthy money still is not.

Each case reads a small fixture written for it (``tests/data/tolerance/``: a folder of its own, so the suites
that walk ``tests/data`` for each format's one fixture do not see them), with the values expected computed by hand:

* short CSV lines (a trailing optional column missing) are padded with nulls and flagged ``row_padded``; a
  line that ends before a money or identity column is rejected with its line, the column and the reason;
  a line with too many fields stays rejected;
* JSON cells written as Python literals (``[{'key': 'team', 'value': 'ml'}]``) are read, flagged
  ``python_literal``, with money exact;
* a UTF-8 byte order mark, ``NULL``/``null``/``None`` and empty cells read as null where a field is optional.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from finops_lib.sources import detect_format
from finops_lib.sources._csv import SHORT_REASON, json_text_sql, literal_used_sql, read_csv_sql
from finops_lib.warehouse.ingestion import ingest

DATA = Path(__file__).resolve().parents[1] / "data" / "tolerance"
D = Decimal


def _costs(con, columns: str) -> list[tuple]:
    return con.con.execute(f"SELECT x_SourceRow, {columns} FROM costs ORDER BY x_SourceRow").fetchall()


def _rejects(con) -> list[tuple]:
    return con.con.execute("SELECT x_SourceRow, x_Column, x_Value, x_Reason FROM rejects ORDER BY 1").fetchall()


# --- short lines ------------------------------------------------------------------------------------------------


def test_legacy_cur_short_lines_are_padded_and_flagged_and_a_line_without_its_cost_is_rejected(con):
    path = DATA / "aws_cur_legacy_short_rows.csv"
    assert detect_format(path).name == "aws_cur_legacy"  # the header starts with a byte order mark
    summary = ingest([path], con=con).iloc[0]
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (7, 5, 2)

    rows = _costs(
        con,
        "BilledCost, ListCost, x_DataQualityFlags, Tags, json_extract_string(x_SourceExtra, '$.identity_line_item_id')",
    )
    assert rows == [
        (2, Decimal("1.6"), Decimal("1.6"), "", '{"user:team":"legal","user:Environment":"prod"}', "s1"),
        (3, Decimal("0.6"), Decimal("0.6"), "row_padded", '{"user:team":"legal","user:Environment":"prod"}', "s2"),
        # two fields short: the Environment tag is missing too
        (4, Decimal("0.25"), Decimal("0.25"), "row_padded", '{"user:team":"legal"}', "s3"),
        # a description spanning two physical lines: still record (line) 5, and the lines after it keep their number
        (5, Decimal("0.04"), Decimal("0.04"), "row_padded", '{"user:team":"legal","user:Environment":"prod"}', "s4"),
        # pricing/publicOnDemandCost written NULL: no list cost, so the billed amount stands in
        (8, Decimal("0.05"), Decimal("0.05"), "row_padded", '{"user:team":"legal","user:Environment":"dev"}', "s7"),
    ]
    assert sum(r[1] for r in rows) == Decimal("2.54")
    rejects = _rejects(con)
    assert rejects[0] == (6, "lineItem/UnblendedCost", None, SHORT_REASON)
    assert rejects[1][:2] == (7, "record") and rejects[1][3].startswith("too many columns")
    assert rejects[1][2].startswith("s6,")


def test_a_short_line_of_a_cur2_file_is_padded_only_when_the_fields_it_lacks_are_optional(tmp_path, con):
    head = (
        "bill_payer_account_id,bill_billing_period_start_date,line_item_usage_start_date,line_item_usage_end_date,"
        "line_item_usage_type,line_item_currency_code,line_item_unblended_cost,line_item_net_unblended_cost,"
        "line_item_line_item_description,resource_tags"
    )
    start = "123456789012,2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,2026-03-03T00:00:00Z"
    path = tmp_path / "cur2_short.csv"
    path.write_text(
        "\n".join(
            [
                head,
                f"{start},USE1-Claude4Sonnet-output-tokens,USD,3.0,2.7,output",  # no resource_tags: padded
                f"{start},USE1-Claude4Sonnet-input-tokens,USD,1.5",  # no net cost (money): rejected
                f'{start},USE1-Claude4Sonnet-input-tokens,USD,1.5,1.35,input,"{{""user:team"": ""ml""}}"',
            ]
        )
        + "\n"
    )
    summary = ingest([path], con=con).iloc[0]
    assert (summary.format, summary.rows_loaded, summary.rows_rejected) == ("aws_cur2", 2, 1)
    assert _costs(con, "BilledCost, EffectiveCost, x_DataQualityFlags, x_Team") == [
        (2, Decimal("3"), Decimal("2.7"), "row_padded", None),
        (4, Decimal("1.5"), Decimal("1.35"), "", "ml"),
    ]
    assert _rejects(con) == [(3, "line_item_net_unblended_cost", None, SHORT_REASON)]


def test_padding_survives_quoted_fields_spanning_lines_in_a_file_read_in_parallel(tmp_path, con):
    """DuckDB's parallel scanner cannot pad such a file: the scan is run again on one thread, same lines."""
    head = (
        "bill_payer_account_id,bill_billing_period_start_date,line_item_usage_start_date,line_item_usage_end_date,"
        "line_item_usage_type,line_item_currency_code,line_item_unblended_cost,line_item_line_item_description,"
        "resource_tags"
    )
    start = "123456789012,2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,2026-03-03T00:00:00Z"
    lines = [head]
    for i in range(5000):
        if i == 3:
            lines.append(f'{start},USE1-Claude4Sonnet-input-tokens,USD,0.001,"two\nlines",{{}}')
        elif i == 4000:
            lines.append(f"{start},USE1-Claude4Sonnet-input-tokens,USD,0.001,short")
        else:
            lines.append(f"{start},USE1-Claude4Sonnet-input-tokens,USD,0.001,line {i},{{}}")
    path = tmp_path / "cur2_big.csv"
    path.write_text("\n".join(lines) + "\n")
    summary = ingest([path], con=con).iloc[0]
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (5000, 5000, 0)
    total, padded = con.con.execute(
        "SELECT sum(BilledCost), list(x_SourceRow) FILTER (x_DataQualityFlags = 'row_padded') FROM costs"
    ).fetchone()
    assert (total, padded) == (Decimal("5"), [4002])


def test_without_required_columns_a_short_line_stays_a_duckdb_reject(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n")
    sql, _, rejects = read_csv_sql(path)
    con = duckdb.connect()
    assert con.execute(f"SELECT * FROM {sql}").fetchall() == [("1", "2", "3")]
    assert con.execute(f"SELECT DISTINCT line, error_type FROM {rejects}").fetchall() == [(3, "MISSING COLUMNS")]


# --- Python literals in JSON cells ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "json", "literal"),
    [
        ('{"a": 1}', '{"a": 1}', False),
        ("[{'key': 'team', 'value': 'ml'}]", '[{"key": "team", "value": "ml"}]', True),
        (
            "{'id': None, 'ok': True, 'no': False, 'amount': -1.23}",
            '{"id": null, "ok": true, "no": false, "amount": -1.23}',
            True,
        ),
        (
            "{'a': \"O'Brien\", 'b': 'say \"hi\"', 'c': 'it\\'s'}",
            '{"a": "O\'Brien", "b": "say \\"hi\\"", "c": "it\'s"}',
            True,
        ),
        ("('a', 1)", None, False),  # a tuple: not JSON either way
        ("{'a': nan}", None, False),  # names are not literals
        ("{'a': __import__('os')}", None, False),
        ("{'a': 'b", None, False),
        ("", None, False),
        (None, None, False),
    ],
)
def test_python_literals_read_as_json_in_sql(text, json, literal):
    con = duckdb.connect()
    got = con.execute(
        f"SELECT {json_text_sql('x')}, {literal_used_sql('x')} FROM (SELECT ?::VARCHAR AS x)", [text]
    ).fetchone()
    assert got == (json, literal)


def test_gcp_csv_with_python_literal_labels_and_credits_nets_each_row_exactly(con):
    path = DATA / "gcp_billing_python_literals.csv"
    assert detect_format(path).name == "gcp_billing_export"  # a byte order mark before the header
    summary = ingest([path], con=con).iloc[0]
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (6, 4, 2)
    rows = _costs(con, "BilledCost, ContractedCost, ListCost, x_DataQualityFlags, Tags, x_Team")
    assert rows == [
        (2, D("1.25"), D("1.25"), D("1.25"), "", '{"team": "ml"}', "ml"),
        # cost 2.5 + credit -1.23 (a Python list of dicts, None in it)
        (3, D("1.27"), D("2.5"), D("2.5"), "python_literal", '{"env": "", "team": "ml"}', "ml"),
        # cost 0.3 + credits -0.1 and -1e-12 (exact: no float on the way); project and system labels as literals
        (4, D("0.199999999999"), D("0.3"), D("0.3"), "python_literal",
         '{"goog-resource-type": "vertex", "team": "search"}', "search"),
        # labels None, project labels NULL, credits empty, cost_at_list NULL: all optional, all null
        (5, D("0.75"), D("0.75"), D("0.75"), "", None, None),
    ]  # fmt: skip
    assert sum(r[1] for r in rows) == D("3.469999999999")
    assert _rejects(con) == [
        (6, "credits", "[{'name': 'x', 'amount': float('nan')}]", "'credits' is not valid JSON"),  # a call: no literal
        (7, "cost", None, "required field 'cost' is missing"),  # cost written None
    ]


def test_focus_short_lines_python_literal_tags_and_none_cells(con):
    summary = ingest([DATA / "focus_short_rows_literal_tags.csv"], con=con).iloc[0]
    assert (summary.format, summary.rows_read, summary.rows_loaded, summary.rows_rejected) == ("focus", 5, 4, 1)
    rows = _costs(con, "BilledCost, EffectiveCost, ResourceId, Tags, x_Team, x_DataQualityFlags")
    assert rows == [
        (2, D("10"), D("9"), "vm-1", '{"team": "ml"}', "ml", ""),
        (3, D("5"), D("5"), "vm-2", '{"team": "search", "env": null}', "search", "python_literal"),
        (4, D("2"), D("2"), None, None, None, "row_padded"),  # no ResourceId, no Tags: optional
        (6, D("1"), D("1"), None, None, None, ""),  # ResourceId written None
    ]
    assert sum(r[1] for r in rows) == D("18")
    assert _rejects(con) == [(5, "BillingPeriodStart", None, SHORT_REASON)]
