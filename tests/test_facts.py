"""The facts layer on a hand-worked warehouse: scopes, currency, owners, filters, series and request logs.

Two days, five providers, one EUR invoice converted at a fixed test rate of 1.25 USD per EUR:

====================  ==========  =========  ==========  ========  ======  ====================
row                   basis       billed     tokens      scope     team    why
====================  ==========  =========  ==========  ========  ======  ====================
OpenAI d1 invoice     invoiced    10.00 USD  -           invoiced  alpha   rule proj_a -> alpha
OpenAI d1 usage       estimated   -          1000 out    superseded alpha  the invoice has d1
Anthropic d1 usage    estimated   3.00 USD   500 out     estimated pool    no invoice that day
Microsoft d1 invoice  invoiced    9.20 EUR   200 out     invoiced  beta    its own tag
AWS d1 invoice        invoiced    5.00 USD   non_token   invoiced  -       nothing names it
OpenAI d2 usage       estimated   -          300 out     unpriced  alpha   no price, no invoice
====================  ==========  =========  ==========  ========  ======  ====================

Spend in USD: 10 + 3 + 9.20 x 1.25 + 5 = 29.50. Tokens: 1000 + 500 + 200 + 300 = 2000 (the usage feeds
first, Microsoft's invoice quantity where no usage feed exists).
"""

from __future__ import annotations

import ast
import json
from decimal import Decimal as D
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pytest

from finops_lib import fx, paths
from finops_lib.errors import ParameterError
from finops_lib.facts import DIMENSIONS, MEASURES, Facts
from finops_lib.rules import parse_rules

RULES = parse_rules("""
version: 1
rules:
  - name: proj-a
    match: {provider: OpenAI, sub_account: proj_a}
    set: {team: alpha, application: chat}
shared:
  - name: research-pool
    applies_to: platform_fee
    match: {provider: Anthropic}
    strategy: even
""")


def _costs() -> ibis.Table:
    def row(day, provider, basis, cost, tokens, currency="USD", team=None, sub=None, bucket="output"):
        return {"ChargePeriodStart": pd.Timestamp(day, tz="UTC"), "ProviderName": provider, "x_CostBasis": basis,
                "BilledCost": None if cost is None else D(cost), "BillingCurrency": currency,
                "ConsumedQuantity": None if tokens is None else D(tokens), "x_TokenType": bucket, "x_Team": team,
                "SubAccountId": sub, "x_Model": None if bucket == "non_token" else "m1", "x_RequestCount": None}
    rows = [
        row("2026-06-01", "OpenAI", "invoiced", "10.00", None, sub="proj_a"),
        row("2026-06-01", "OpenAI", "estimated", None, 1000, sub="proj_a"),
        row("2026-06-01", "Anthropic", "estimated", "3.00", 500),
        row("2026-06-01", "Microsoft", "invoiced", "9.20", 200, currency="EUR", team="beta"),
        row("2026-06-01", "AWS", "invoiced", "5.00", None, bucket="non_token"),
        row("2026-06-02", "OpenAI", "estimated", None, 300, sub="proj_a"),
    ]
    schema = pa.schema([("ChargePeriodStart", pa.timestamp("us", tz="UTC")), ("ProviderName", pa.string()),
                        ("x_CostBasis", pa.string()), ("BilledCost", pa.decimal128(38, 12)),
                        ("BillingCurrency", pa.string()), ("ConsumedQuantity", pa.decimal128(38, 12)),
                        ("x_TokenType", pa.string()), ("x_Team", pa.string()), ("SubAccountId", pa.string()),
                        ("x_Model", pa.string()), ("x_RequestCount", pa.int64())])
    return ibis.memtable(pa.Table.from_pylist(rows, schema=schema))


def _requests() -> ibis.Table:
    data = {
        "ChargePeriodStart": pa.array(pd.to_datetime(["2026-06-01 10:00", "2026-06-01 11:00", "2026-06-02 09:00"],
                                                     utc=True), pa.timestamp("us", tz="UTC")),
        "ProviderName": ["OpenAI"] * 3, "x_Model": ["m1"] * 3, "x_Team": ["support", "support", None],
        "x_Status": ["success", "failure", "success"], "BillingCurrency": ["USD"] * 3, "SubAccountId": ["proj_gw"] * 3,
        "x_InputUncachedTokens": [100, 0, 50], "x_InputCacheReadTokens": [0] * 3, "x_InputCacheWrite5mTokens": [0] * 3,
        "x_InputCacheWrite1hTokens": [0] * 3, "x_OutputTokens": [10, 0, 5],
        "x_ReportedCost": pa.array([D("0.5"), None, D("0.25")], pa.decimal128(38, 12)),
        "x_EstimatedCost": pa.array([None] * 3, pa.decimal128(38, 12)),
    }  # fmt: skip
    return ibis.memtable(pa.table(data))


@pytest.fixture
def rates(tmp_path: Path) -> pd.DataFrame:
    path = tmp_path / "fx.csv"
    path.write_text("from_currency,to_currency,rate,effective_from,effective_to,source\n"
                    "EUR,USD,1.25,2026-01-01,,test rate\n", encoding="utf-8")
    return fx.load_rates(path, shipped=False)


@pytest.fixture
def facts(rates: pd.DataFrame) -> Facts:
    return Facts(_costs(), _requests(), currency="USD", rates=rates, rules=RULES)


def test_each_row_states_its_scope_and_only_counted_rows_make_the_total(facts: Facts) -> None:
    scopes = facts.scope_summary().set_index(["provider", "money_scope"])
    assert scopes["rows"].to_dict() == {("AWS", "invoiced"): 1, ("Anthropic", "estimated"): 1,
                                        ("Microsoft", "invoiced"): 1, ("OpenAI", "invoiced"): 1,
                                        ("OpenAI", "superseded"): 1, ("OpenAI", "unpriced"): 1}
    assert facts.total("cost") == D("29.50")
    assert facts.total("tokens") == 2000
    by_provider = facts.aggregate(["cost", "tokens"], by=["provider"]).set_index("provider")
    assert by_provider["cost"].to_dict() == {"AWS": D("5"), "Anthropic": D("3"), "Microsoft": D("11.5"),
                                             "OpenAI": D("10")}
    assert by_provider["tokens"].to_dict() == {"AWS": 0, "Anthropic": 500, "Microsoft": 200, "OpenAI": 1300}


def test_currency_is_converted_at_the_dated_rate_or_the_other_rows_left_out(facts: Facts) -> None:
    totals = facts.currency_totals().set_index("billing_currency")
    assert totals.loc["EUR", "billed"] == D("9.2") and totals.loc["EUR", "cost"] == D("11.5")
    assert totals.loc["USD", "billed"] == D("18") and totals.loc["USD", "cost"] == D("18")
    used = facts.rates_used()
    assert used[["from_currency", "to_currency", "rows_converted"]].values.tolist() == [["EUR", "USD", 1]]
    only_usd = facts.with_options(convert=False)
    assert only_usd.total("cost") == D("18") and only_usd.rates_used().empty
    assert only_usd.currency_totals().set_index("billing_currency")["cost"].to_dict() == {"USD": D("18"), "EUR": None}
    with pytest.raises(ParameterError, match=r"no exchange rate (EUR|USD)->GBP for 2026-06-0"):
        facts.with_options(currency="GBP").total("cost")


def test_owners_come_from_the_rules_and_pools_are_named(facts: Facts) -> None:
    by_team = facts.aggregate("cost", by=["team"]).set_index("team")["cost"].to_dict()
    assert by_team == {"alpha": D("10"), "beta": D("11.5"), "(shared: research-pool)": D("3"),
                       "(unattributed)": D("5")}
    tags_only = facts.with_options(rules=None).aggregate("cost", by=["team"]).set_index("team")["cost"]
    assert tags_only.to_dict() == {"beta": D("11.5"), "(unattributed)": D("18")}
    assert facts.aggregate("cost", by=["model"]).set_index("model")["cost"]["(no model: cloud, fees, capacity)"] == 5


def test_filters_and_window(facts: Facts) -> None:
    assert facts.with_options(filters={"provider": "OpenAI"}).total("cost") == D("10")
    assert facts.with_options(filters={"provider": ["AWS", "Microsoft"]}).total("cost") == D("16.5")
    assert facts.with_options(filters={"team": "alpha"}).total("tokens") == 1300
    assert facts.with_options(start_date="2026-06-02").total("cost") == 0
    assert facts.with_options(start_date="2026-06-02").total("tokens") == 300
    assert facts.with_options(filters={"provider": "all"}).total("cost") == D("29.50")
    with pytest.raises(ParameterError, match="start_date 2026-06-02 is after end_date 2026-06-01"):
        Facts(_costs(), start_date="2026-06-02", end_date="2026-06-01")
    with pytest.raises(ParameterError, match="unknown dimension 'colour'"):
        Facts(_costs(), filters={"colour": "red"})
    with pytest.raises(ParameterError, match="ISO 4217"):
        Facts(_costs(), currency="usd")


def test_series_fill_the_window_and_name_the_top_groups(facts: Facts) -> None:
    window = facts.with_options(start_date="2026-06-01", end_date="2026-06-03")
    daily = window.series("cost", by="provider", top=2, fill=True)
    assert set(daily["provider"]) == {"Microsoft", "OpenAI", "Other"}
    assert len(daily) == 9  # three days x three groups, zero days explicit
    assert daily.groupby("provider")["cost"].sum().to_dict() == {"Microsoft": 11.5, "OpenAI": 10.0, "Other": 8.0}
    assert daily["cost"].sum() == pytest.approx(float(facts.total("cost")), abs=1e-9)
    total = window.series("tokens", fill=True)
    assert total["tokens"].tolist() == [1700.0, 300.0, 0.0]


def test_request_logs_are_their_own_measures(facts: Facts) -> None:
    logged = facts.aggregate(["reported_cost", "request_count", "failures"], by=["team"]).set_index("team")
    assert logged.loc["support"].tolist() == [D("0.5"), 2, 1]
    assert logged.loc["(unattributed)"].tolist() == [D("0.25"), 1, 0]
    assert facts.total("input_uncached_tokens") == 150
    with pytest.raises(ParameterError, match="different tables"):
        facts.aggregate(["cost", "reported_cost"])
    with pytest.raises(ParameterError, match="the costs table has no 'experiment' dimension"):
        facts.aggregate("cost", by=["experiment"])
    assert Facts(_costs()).has_requests is False


def _answers(f: Facts) -> dict[str, object]:
    """What a page or widget asks of facts, as comparable values."""
    out = {"cost": f.total("cost"), "tokens": f.total("tokens"), "range": f.date_range("money"),
           "by_team": f.aggregate(["cost", "tokens"], by=["team", "provider"]).values.tolist(),
           "daily": f.series("cost", by="provider", fill=True).values.tolist(),
           "rates": f.rates_used()[["from_currency", "to_currency", "rows_converted"]].values.tolist(),
           "currencies": f.currency_totals().values.tolist(), "scopes": f.scope_summary().values.tolist()}
    if f.has_requests:
        out["requests"] = f.aggregate(["reported_cost", "request_count", "failures"], by=["team"]).values.tolist()
    return out


def test_explored_facts_answer_exactly_as_the_facts_do(facts: Facts) -> None:
    explored = facts.explore()
    assert _answers(explored)["cost"] == D("29.50")  # the hand-worked total
    cases = [{}, {"start_date": "2026-06-02"}, {"end_date": "2026-06-01"}, {"filters": {"provider": "OpenAI"}},
             {"filters": {"team": ["alpha", "beta"]}}, {"convert": False}, {"currency": "EUR"},
             {"currency": "EUR", "convert": False}, {"rules": None}, {"rules": RULES.with_strategy("proportional")},
             {"start_date": "2026-06-01", "end_date": "2026-06-01", "filters": {"provider": "Microsoft"}}]
    for case in [*cases, {}]:  # the last asks again what is already kept
        assert _answers(explored.with_options(**case)) == _answers(facts.with_options(**case)), case
    # the kept rows are shared by every copy: one scoped table per set of owners, one per currency
    tables = explored._explored._tables
    assert {key[0] for key in tables} == {"scoped", "costs", "owned", "requests"}
    assert len([k for k in tables if k[0] == "scoped"]) == 2  # the rules' owners, the tags' owners
    assert explored.with_options(currency="EUR").total("cost") == facts.with_options(currency="EUR").total("cost")


def test_every_declared_measure_and_dimension_names_real_columns() -> None:
    from finops_lib.schema import COSTS, REQUESTS

    columns = {"costs": {c.name for c in COSTS.columns}, "requests": {c.name for c in REQUESTS.columns}}
    derived = {"x_MoneyScope", "x_TokenScope", "x_BillingCurrency", "x_BusinessUnit", "x_CostCenter",
               "x_AllocationRule", "x_AllocationPool"}  # added by the facts layer itself
    for name, m in MEASURES.items():
        assert m.column is None or m.column == "*tokens" or m.column in columns[m.table], name
    for name, d in DIMENSIONS.items():
        for table, column in d.columns.items():
            assert column in columns[table] | derived, (name, table, column)


# --- one layer: nothing else opens the warehouse's tables -------------------------------------------------------

ALLOWED = ("warehouse", "facts", "sources", "sample", "engines")  # engines: the seam itself (sessions, copies)
RAW_TABLES = {"costs", "requests", "rejects", "ingested_files"}
RAW_CALLS = {"list_tables", "raw_sql", "sql", "create_table", "drop_table"}


def _raw_access(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name = node.func.attr
        first = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
        if (name == "table" and first in RAW_TABLES) or name in RAW_CALLS:
            found.append(f"line {node.lineno}: .{name}({first!r})" if first else f"line {node.lineno}: .{name}()")
        elif name == "execute" and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "con":
            found.append(f"line {node.lineno}: con.con.execute()")
    return sorted(found, key=lambda text: int(text.split(":")[0].split()[1]))


def test_nothing_outside_the_warehouse_and_the_facts_reads_the_raw_tables() -> None:
    package = paths.PROJECT_ROOT / "finops_lib"
    offenders = {}
    for path in package.rglob("*.py"):
        relative = path.relative_to(package)
        if relative.parts[0] in ALLOWED or relative.name == "engine.py":
            continue
        found = _raw_access(ast.parse(path.read_text(encoding="utf-8")))
        if found:
            offenders[str(relative)] = found
    for notebook in paths.NOTEBOOKS_DIR.glob("*.ipynb"):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        found = _raw_access(ast.parse(code))
        if found:
            offenders[notebook.name] = found
    assert offenders == {}, "read money, tokens and series through finops_lib.facts, not the raw tables"


def test_the_guard_itself_sees_raw_access() -> None:
    code = 'con.table("costs").count()\ncon.con.execute("select 1")\nt = catalog.table("prices")\ncon.sql("x")'
    assert _raw_access(ast.parse(code)) == ["line 1: .table('costs')", "line 2: con.con.execute()",
                                            "line 4: .sql('x')"]
