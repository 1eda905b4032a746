"""SaaS seats as ``costs`` rows through the shipped mappings: GitHub's usage report, ChatGPT and Claude seat invoices.

The fixtures (``tests/data/mapped_github_usage.csv``, ``mapped_chatgpt_seats.csv``, ``mapped_claude_seats.csv``)
are written in the documented shapes (``finops_lib/sources/mappings/*.yaml``); every expected figure below is
worked by hand from their lines, never from the workbench.

GitHub (net_amount billed, gross_amount list), line by line::

    2  06-01 copilot_for_business alice acme-org   0.633327      6  06-02 copilot_premium_request alice  1.6 (4.8)
    3  06-01 copilot_for_business bob   acme-org   0.633327      7  06-02 actions_linux (no user)         0   (2.72)
    4  06-02 copilot_for_business alice acme-org   0.633327      8  07-01 copilot_for_business alice      0.612902
    5  06-02 copilot_enterprise   carol acme-labs  1.299987      9  07-01 copilot_enterprise   carol 1.008062 (1.258062)

ChatGPT: June 2400.00 (Enterprise, 40 seats) + 150.00 (Team, 5); July 2520.00 (Enterprise, 42) + 30.00 (Team,
dana) + 25.00 (Team, erik, list 30.00, currency left empty: USD).
"""

from __future__ import annotations

import os
import shutil
from decimal import Decimal
from pathlib import Path

import ibis
import pandas as pd
import pytest

from finops_lib import engine
from finops_lib.cli import main
from finops_lib.facts.layer import open_facts
from finops_lib.feature_cost import feature_stack
from finops_lib.feature_cost.layers import SEAT_UNITS, guess_layer
from finops_lib.schema import validate
from finops_lib.sources import SOURCES, detect_format, mapped
from finops_lib.warehouse import ingest

DATA = Path(__file__).resolve().parent / "data"
GITHUB, CHATGPT, CLAUDE = (DATA / f"mapped_{n}.csv" for n in ("github_usage", "chatgpt_seats", "claude_seats"))
D = Decimal


@pytest.fixture
def con():
    connection = engine.memory()
    yield connection
    connection.disconnect()


def _total(con, where: str = "TRUE", column: str = "BilledCost") -> Decimal:
    return con.con.execute(f"SELECT coalesce(sum({column}), 0) FROM costs WHERE {where}").fetchone()[0]


def _by(con, *keys: str, column: str = "BilledCost") -> dict:
    group = ", ".join(keys)
    rows = con.con.execute(f"SELECT {group}, sum({column}) FROM costs GROUP BY ALL ORDER BY ALL").fetchall()
    return {tuple(r[:-1]) if len(keys) > 1 else r[0]: r[-1] for r in rows}


def _copy(source: Path, target: Path, mtime: int | None = None) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    if mtime is not None:
        os.utime(target, (mtime, mtime))
    return target


# --- GitHub usage report --------------------------------------------------------------------------------------


def test_github_usage_totals_by_sku_user_and_month(con):
    summary = ingest([GITHUB], con=con).iloc[0]
    assert (summary.format, summary.status, summary.rows_loaded, summary.rows_rejected) == (
        "mapped:github_usage",
        "loaded",
        8,
        0,
    )
    validate(con.table("costs"), "costs")
    month = "strftime(ChargePeriodStart, '%Y-%m')"
    assert _by(con, "SkuId", month) == {
        ("actions_linux", "2025-06"): D("0"),
        ("copilot_enterprise", "2025-06"): D("1.299987"),
        ("copilot_enterprise", "2025-07"): D("1.008062"),
        ("copilot_for_business", "2025-06"): D("1.899981"),  # 3 x 0.633327
        ("copilot_for_business", "2025-07"): D("0.612902"),
        ("copilot_premium_request", "2025-06"): D("1.6"),
    }
    assert _by(con, "coalesce(x_UserId, '-')") == {
        "-": D("0"),
        "alice": D("3.479556"),  # 2 x 0.633327 + 1.6
        "bob": D("0.633327"),
        "carol": D("2.308049"),
    }  # + 0.612902
    assert _total(con) == D("6.420932")
    assert _total(con, column="ListCost") == D("12.590932")  # billed + the discounts 3.2 + 2.72 + 0.25
    assert _total(con, column="EffectiveCost") == _total(con, column="ContractedCost") == D("6.420932")
    assert _by(con, "SubAccountId") == {"acme-labs": D("2.308049"), "acme-org": D("4.112883")}


def test_github_usage_rows_are_focus_seat_charges(con):
    ingest([GITHUB], con=con)
    rows = con.table("costs").to_pandas().set_index("x_SourceRow").sort_index()
    seat = rows.loc[2]
    assert (seat.ChargePeriodStart, seat.ChargePeriodEnd) == (
        pd.Timestamp("2025-06-01", tz="UTC"),
        pd.Timestamp("2025-06-02", tz="UTC"),
    )
    assert (seat.BillingPeriodStart, seat.BillingPeriodEnd) == (
        pd.Timestamp("2025-06-01", tz="UTC"),
        pd.Timestamp("2025-07-01", tz="UTC"),
    )
    assert (seat.ProviderName, seat.ServiceName, seat.ServiceCategory, seat.ServiceSubcategory) == (
        "GitHub",
        "GitHub Copilot",
        "AI and Machine Learning",
        "Generative AI",
    )
    assert (seat.ConsumedQuantity, seat.PricingQuantity, seat.ConsumedUnit, seat.PricingUnit) == (
        D("0.033333"),
        D("0.033333"),
        "user-months",
        "user-months",
    )
    assert (seat.ChargeFrequency, seat.ChargeCategory, seat.x_TokenType, seat.x_CostBasis) == (
        "Recurring",
        "Usage",
        "non_token",
        "invoiced",
    )
    assert (seat.ListUnitPrice, seat.BillingCurrency, seat.BillingAccountId) == (D("19"), "USD", "(not in source)")
    assert seat.Tags == '{"cost_center":"platform"}' and seat.x_DataQualityFlags == ""
    actions = rows.loc[7]
    assert (actions.ServiceName, actions.ServiceCategory, actions.ChargeFrequency, actions.ResourceId) == (
        "GitHub Actions",
        "Developer Tools",
        "Usage-Based",
        "acme-org/web",
    )
    assert pd.isna(actions.ServiceSubcategory) and pd.isna(actions.x_UserId)
    assert actions.Tags == '{"workflow_path":".github/workflows/ci.yml","cost_center":"platform"}'
    assert rows.loc[6, "ChargeFrequency"] == "Usage-Based" and rows.loc[6, "ListCost"] == D("4.8")


def test_github_cost_centers_reach_the_owner_dimension(con):
    ingest([GITHUB], con=con)
    frame = open_facts(con, currency="USD").aggregate(["cost"], by=["cost_center"])
    assert dict(zip(frame.cost_center, frame.cost, strict=True)) == {
        "platform": D("4.112883"),
        "research": D("2.308049"),
    }


def test_a_bad_amount_is_rejected_with_file_line_column_and_value(con, tmp_path):
    lines = GITHUB.read_text().splitlines()
    lines[2] = lines[2].replace(",0.633327,bob,", ",1.5 USD,bob,")  # line 3: net_amount
    lines[4] = lines[4].replace(",1.299987,carol,", ",,carol,")  # line 5: empty net_amount
    lines[8] = lines[8].replace(",1.258062,", ",NaN,")  # line 9: gross_amount
    path = tmp_path / "usage.csv"
    path.write_text("\n".join(lines) + "\n")
    summary = ingest([path], con=con).iloc[0]
    assert (summary.status, summary.rows_read, summary.rows_loaded, summary.rows_rejected) == ("loaded", 8, 5, 3)
    rejects = con.con.execute(
        "SELECT x_SourceFile, x_SourceRow, x_Column, x_Value, x_Reason, x_TargetTable FROM rejects ORDER BY x_SourceRow"
    ).fetchall()
    assert rejects == [
        (str(path), 3, "net_amount", "1.5 USD", "not a number", "costs"),
        (str(path), 5, "net_amount", None, "missing amount", "costs"),
        (str(path), 9, "gross_amount", "NaN", "not a finite number (NaN or infinity)", "costs"),
    ]
    assert _total(con) == D("6.420932") - D("0.633327") - D("1.299987") - D("1.008062")


def test_reingesting_copies_never_double_counts(con, tmp_path):
    first = ingest([GITHUB], con=con).iloc[0]
    again = ingest([GITHUB], con=con).iloc[0]
    assert (first.status, again.status, again.rows_loaded) == ("loaded", "unchanged", 0)
    copy = _copy(GITHUB, tmp_path / "elsewhere" / "github-june-july.csv")
    result = ingest([copy], con=con).iloc[0]
    assert (result.status, result.rows_loaded, result.rows_replaced) == ("loaded", 8, 8)
    assert _total(con) == D("6.420932") and con.con.execute("SELECT count(*) FROM costs").fetchone()[0] == 8


def test_finops_ingest_twice_and_a_redownload_never_double_count(tmp_path):
    data, ws = tmp_path / "data", ["--warehouse", str(tmp_path / "ws")]
    _copy(GITHUB, data / "usage_report.csv")
    _copy(CHATGPT, data / "chatgpt_invoices.csv")
    assert main(["ingest", str(data), *ws]) == 0
    assert main(["ingest", str(data), *ws]) == 0
    _copy(GITHUB, data / "usage_report (1).csv")  # the same report downloaded again, beside the first
    assert main(["ingest", str(data), *ws]) == 0
    con = engine.connect(warehouse=tmp_path / "ws" / "finops.duckdb", read_only=True)
    try:
        assert _by(con, "ProviderName") == {"GitHub": D("6.420932"), "OpenAI": D("5125.00")}
        assert con.con.execute("SELECT count(*) FROM costs").fetchone()[0] == 8 + 5
    finally:
        con.disconnect()


# A newer report of acme-org's June days: alice's premium requests corrected to 1.2, the zero Actions line gone.
CORRECTED = """date,product,sku,quantity,unit_type,applied_cost_per_quantity,gross_amount,discount_amount,net_amount,\
username,organization,repository,workflow_path,cost_center_name
2025-06-01,Copilot,copilot_for_business,0.033333,user-months,19,0.633327,0,0.633327,alice,acme-org,,,platform
2025-06-01,Copilot,copilot_for_business,0.033333,user-months,19,0.633327,0,0.633327,bob,acme-org,,,platform
2025-06-02,Copilot,copilot_for_business,0.033333,user-months,19,0.633327,0,0.633327,alice,acme-org,,,platform
2025-06-02,Copilot,copilot_premium_request,90,requests,0.04,3.6,2.4,1.2,alice,acme-org,,,platform
"""


@pytest.mark.parametrize("newer_first", [False, True])
def test_a_newer_report_restates_its_days_whatever_the_order(con, tmp_path, newer_first):
    old = _copy(GITHUB, tmp_path / "old.csv", mtime=1_750_000_000)
    new = tmp_path / "new.csv"
    new.write_text(CORRECTED)
    os.utime(new, (1_760_000_000, 1_760_000_000))
    for path in [new, old] if newer_first else [old, new]:
        assert ingest([path], con=con).iloc[0].status == "loaded"
    # acme-org's June rows of the old report (3 x 0.633327 + 1.6 + 0) give way to the new report's 1.899981 + 1.2;
    # acme-labs (not in the new report) and July (after its last day) stay.
    assert _total(con) == D("6.420932") - D("3.499981") + D("3.099981") == D("6.020932")
    assert _by(con, "x_SourceFile") == {str(new): D("3.099981"), str(old): D("2.920951")}


def test_restates_rows_replaces_identical_rows_only(con, tmp_path):
    text = (mapped.MAPPINGS_DIR / "github_usage.yaml").read_text()
    mine = tmp_path / "rows_only.yaml"
    mine.write_text(
        text.replace("name: github_usage", "name: test_github_rows").replace("restates: span", "restates: rows")
    )
    fmt = mapped.register_mapping(mine)
    try:
        old = _copy(GITHUB, tmp_path / "old.csv", mtime=1_750_000_000)
        new = tmp_path / "new.csv"
        new.write_text(CORRECTED)
        os.utime(new, (1_760_000_000, 1_760_000_000))
        for path in (old, new):
            ingest([path], con=con, format=fmt)
    finally:
        SOURCES.pop(fmt)
        mapped.MAPPINGS.pop(fmt)
    # the three identical seat lines restate their twins; the corrected premium line is a charge of its own
    assert _total(con) == D("6.420932") + D("1.2")


def test_summarized_and_premium_request_variants(con, tmp_path):
    summarized = tmp_path / "summarized.csv"
    summarized.write_text(
        "date,product,sku,quantity,unit_type,applied_cost_per_quantity,gross_amount,"
        "discount_amount,net_amount,organization,repository,cost_center_name\n"
        "2025-06-01,Copilot,copilot_for_business,0.066666,user-months,19,1.266654,0,1.266654,"
        "acme-org,,platform\n"
    )
    premium = tmp_path / "premium.csv"
    premium.write_text(
        "date,username,product,sku,model,quantity,unit_type,applied_cost_per_quantity,gross_amount,"
        "discount_amount,net_amount,exceeds_quota,total_monthly_quota,organization,cost_center_name\n"
        "2025-06-03,alice,copilot,copilot_premium_request,Claude Sonnet 4.5,40,requests,0.04,1.6,"
        "0,1.6,True,300,acme-org,platform\n"
    )
    assert detect_format(summarized).name == detect_format(premium).name == "mapped:github_usage"
    assert set(ingest([summarized, premium], con=con)["status"]) == {"loaded"}
    rows = con.table("costs").to_pandas().set_index("x_SourceFile")
    assert pd.isna(rows.loc[str(summarized), "x_UserId"]) and rows.loc[str(summarized), "BilledCost"] == D("1.266654")
    request = rows.loc[str(premium)]
    assert (request.x_UserId, request.x_ModelRaw, request.x_Model) == (
        "alice",
        "Claude Sonnet 4.5",
        "claude sonnet 4.5",
    )
    assert request.Tags == '{"cost_center":"platform","exceeds_quota":"True","total_monthly_quota":"300"}'
    layers = con.table("costs").mutate(layer=guess_layer(con.table("costs"))).to_pandas()
    assert dict(zip(layers.x_SourceFile, layers.layer, strict=True)) == {
        str(summarized): "seats",
        str(premium): "model_inference",
    }


# --- ChatGPT and Claude seat invoices ---------------------------------------------------------------------------


def test_chatgpt_seat_invoice_months_plans_and_users(con):
    assert detect_format(CHATGPT).name == "mapped:chatgpt_seats"
    assert ingest([CHATGPT], con=con).iloc[0].rows_loaded == 5
    month = "strftime(ChargePeriodStart, '%Y-%m')"
    assert _by(con, month) == {"2025-06": D("2550.00"), "2025-07": D("2575.00")}
    assert _by(con, "ServiceName") == {"ChatGPT Enterprise": D("4920.00"), "ChatGPT Team": D("205.00")}
    assert _by(con, "ServiceName", column="ConsumedQuantity") == {"ChatGPT Enterprise": D("82"), "ChatGPT Team": D("7")}
    assert _total(con, column="ListCost") == D("5130.00")  # erik's line: 25.00 billed, 30.00 list
    rows = con.table("costs").to_pandas().set_index("x_SourceRow")
    erik = rows.loc[6]
    assert (erik.x_UserId, erik.x_Team, erik.BillingCurrency, erik.ConsumedUnit) == (
        "erik@example.com",
        "search",
        "USD",
        "Seat",
    )
    assert (erik.ChargePeriodStart, erik.ChargePeriodEnd) == (
        pd.Timestamp("2025-07-01", tz="UTC"),
        pd.Timestamp("2025-08-01", tz="UTC"),
    )
    assert (erik.ProviderName, erik.ChargeFrequency, erik.SkuId) == ("OpenAI", "Recurring", "ChatGPT Team")
    assert erik.Tags == '{"billing_period_end":"2025-07-31"}'


def test_claude_seat_invoice_currencies(con):
    assert detect_format(CLAUDE).name == "mapped:claude_seats"
    ingest([CLAUDE], con=con)
    assert _by(con, "BillingCurrency", "strftime(ChargePeriodStart, '%Y-%m')") == {
        ("EUR", "2025-07"): D("165.00"),
        ("USD", "2025-06"): D("600.00"),
        ("USD", "2025-07"): D("360.00"),
    }
    assert set(con.table("costs").to_pandas().ProviderName) == {"Anthropic"}


# --- the seats layer --------------------------------------------------------------------------------------------


def test_seat_rows_land_in_the_seats_layer_of_the_stack(con, tmp_path):
    for path in (GITHUB, CHATGPT):
        _copy(path, tmp_path / path.name)
    assert set(ingest([tmp_path], con=con)["status"]) == {"loaded"}
    frame = feature_stack(open_facts(con, currency="USD")).frame
    by = frame.groupby([frame.month.dt.strftime("%Y-%m"), "layer"])["cost"].agg(lambda s: sum(s, D(0))).to_dict()
    assert by == {
        ("2025-06", "seats"): D("3.199968") + D("2550.00"),  # Copilot 1.899981 + 1.299987; ChatGPT 2400 + 150
        ("2025-07", "seats"): D("1.620964") + D("2575.00"),  # Copilot 0.612902 + 1.008062; ChatGPT 2520 + 30 + 25
        ("2025-06", "compute"): D("1.6"),  # premium requests: AI and Machine Learning, no model named
        ("2025-06", "other"): D("0"),  # Actions: Developer Tools
    }


@pytest.mark.parametrize(
    ("unit", "layer"),
    [
        ("user-months", "seats"),
        ("User-Month", "seats"),
        ("Seat", "seats"),
        ("requests", "compute"),
        ("minutes", "compute"),
    ],
)
def test_seat_units_include_github_user_months(unit, layer):
    assert {"user-month", "user-months", "seat"} <= set(SEAT_UNITS)
    rows = ibis.memtable(
        pd.DataFrame(
            {
                "ProviderName": ["GitHub"],
                "x_Model": [None],
                "PricingUnit": [None],
                "ConsumedUnit": [unit],
                "x_TokenType": ["non_token"],
                "ServiceCategory": ["AI and Machine Learning"],
            }
        ),
        schema={
            "ProviderName": "string",
            "x_Model": "string",
            "PricingUnit": "string",
            "ConsumedUnit": "string",
            "x_TokenType": "string",
            "ServiceCategory": "string",
        },
    )
    assert rows.mutate(layer=guess_layer(rows)).to_pandas().layer.tolist() == [layer]
