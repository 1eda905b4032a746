"""Allocation rules, attribution, shared-cost splits, showback, chargeback, coverage and conservation.

A tiny organisation (``tests/data/allocation_rules.yaml``) with hand-computed owners; a hypothesis property test
over random rules and data for conservation; and, on the committed sample with its shipped rules, coverage and
per-team totals against the generator's truth (slow: ingests the sample).

An allocation is in one currency (the facts'). The tiny organisation bills two Microsoft rows in EUR (100 EUR of
PTU, 8 EUR tagged beta); the tests convert them at a test rate of 1.25 USD per EUR (125 and 10 USD) or allocate each
billing currency alone (``convert=False``).
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops_lib import allocation, fx, paths, schema
from finops_lib import rules as rulebook
from finops_lib.errors import ParameterError, SourceError
from finops_lib.facts import Facts, open_facts
from finops_lib.rules import Condition, Metric, Rule, Rules, SharedRule

DATA = Path(__file__).parent / "data"
RULES = DATA / "allocation_rules.yaml"
D = Decimal
#: The test rate: 1 EUR = 1.25 USD from 1 January 2026 (its inverse, 0.8, is exact too).
EUR_USD = D("1.25")
JAN, FEB = pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01")


# --- tiny organisation ---------------------------------------------------------------------------

_COST_DEFAULTS = {
    "BillingAccountId": "acct", "BillingCurrency": "USD", "ChargeCategory": "Usage", "InvoiceIssuerName": "vendor",
    "PublisherName": "vendor", "ServiceCategory": "AI and Machine Learning", "ServiceName": "svc",
    "x_TokenType": "non_token", "x_CostBasis": "invoiced", "x_SourceFormat": "test", "x_SourceFile": "test.csv",
    "x_DataQualityFlags": "", "SubAccountId": None, "x_UserId": None, "ResourceId": None, "Tags": None,
    "x_Team": None, "x_Application": None, "x_ServiceTier": "standard", "x_Model": None, "BilledCost": None,
    "ConsumedQuantity": None, "x_RequestCount": None,
}  # fmt: skip


def costs_table(rows: list[dict]) -> ibis.Table:
    """A ``costs`` table of the declared schema from short row dicts (``day`` and the columns that matter)."""
    records = []
    for i, row in enumerate(rows):
        row = dict(row)
        day = pd.Timestamp(row.pop("day"), tz="UTC")
        money = row.get("BilledCost")
        records.append(_COST_DEFAULTS | {
            "ChargePeriodStart": day, "ChargePeriodEnd": day + pd.Timedelta(days=1),
            "BillingPeriodStart": day.replace(day=1), "BillingPeriodEnd": day.replace(day=1) + pd.offsets.MonthBegin(1),
            "x_SourceRow": i + 2, "x_RowHash": f"h{i}", "ListCost": money, "EffectiveCost": money,
            "ContractedCost": money,
        } | row)  # fmt: skip
    frame = pd.DataFrame(records)
    for col in ("BilledCost", "ListCost", "EffectiveCost", "ContractedCost", "ConsumedQuantity"):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None).map(lambda v: v and str(v))
    return schema.conform(ibis.memtable(frame), "costs")


def requests_table(rows: list[dict]) -> ibis.Table:
    records = []
    for i, row in enumerate(rows):
        row = dict(row)
        records.append({
            "x_RequestId": f"r{i}", "ChargePeriodStart": pd.Timestamp(row.pop("day"), tz="UTC"),
            "x_InputUncachedTokens": 100, "x_InputCacheReadTokens": 0, "x_InputCacheWrite5mTokens": 0,
            "x_InputCacheWrite1hTokens": 0, "x_OutputTokens": 10, "x_Status": "success", "BillingCurrency": "USD",
            "x_SourceFormat": "litellm_spend_logs", "x_SourceFile": "logs.csv", "x_SourceRow": i + 2,
            "x_RowHash": f"q{i}", "x_DataQualityFlags": "", "x_Team": None, "x_Application": None, "Tags": None,
        } | row)  # fmt: skip
    frame = pd.DataFrame(records)
    frame["x_ReportedCost"] = frame["x_ReportedCost"].map(str)
    return schema.conform(ibis.memtable(frame), "requests")


GROUPED_SPEND = [
    {"day": "2026-01-10", "ProviderName": "OpenAI", "SubAccountId": "proj_a", "BilledCost": "100",
     "x_TokenType": "input_uncached", "x_Model": "gpt-4o"},
    {"day": "2026-02-10", "ProviderName": "OpenAI", "SubAccountId": "proj_a", "BilledCost": "50",
     "x_TokenType": "input_uncached", "x_Model": "gpt-4o"},
    {"day": "2026-01-11", "ProviderName": "AWS", "SubAccountId": "111", "BilledCost": "30", "x_Team": "gamma",
     "Tags": json.dumps({"user:team": "gamma"})},
    {"day": "2026-01-12", "ProviderName": "AWS", "SubAccountId": "222", "x_UserId": "arn:aws:iam::222:user/jdoe",
     "BilledCost": "20", "Tags": "{}"},
    {"day": "2026-01-13", "ProviderName": "Microsoft", "BillingCurrency": "EUR", "BilledCost": "100",
     "ResourceId": "/subscriptions/s/resourceGroups/rg-ptu/providers/Microsoft.CognitiveServices/accounts/ptu",
     "x_ServiceTier": "provisioned", "x_Team": "platform"},
    {"day": "2026-01-13", "ProviderName": "Microsoft", "BillingCurrency": "EUR", "BilledCost": "8",
     "ResourceId": "/subscriptions/s/resourceGroups/rg-app/providers/x", "x_Team": "beta",
     "Tags": json.dumps({"team": "beta", "cost-center": "CC-B"})},
    {"day": "2026-01-14", "ProviderName": "Google", "SubAccountId": "nw-x", "BilledCost": "40"},
    {"day": "2026-01-15", "ProviderName": "AWS", "BilledCost": "12", "x_Team": "platform", "x_Application": "gw",
     "Tags": json.dumps({"team": "platform", "app": "gw"})},
    {"day": "2026-01-16", "ProviderName": "Anthropic", "SubAccountId": "wrk_gw", "BilledCost": "8",
     "x_TokenType": "output"},
    {"day": "2026-01-17", "ProviderName": "Anthropic", "SubAccountId": "wrk_unknown", "BilledCost": "5"},
    # token usage without money: never part of money totals
    {"day": "2026-01-10", "ProviderName": "OpenAI", "SubAccountId": "proj_a", "x_CostBasis": "estimated",
     "x_TokenType": "input_uncached", "ConsumedQuantity": "1000", "x_Model": "gpt-4o"},
]  # fmt: skip
GATEWAY = [
    {"day": "2026-01-05", "ProviderName": "Anthropic", "x_Team": "alpha", "x_Application": "bot", "x_ReportedCost": 2},
    {"day": "2026-01-06", "ProviderName": "Anthropic", "x_Team": "alpha", "x_Application": "bot", "x_ReportedCost": 1},
    {"day": "2026-01-07", "ProviderName": "Anthropic", "x_Team": "beta", "x_Application": "tool", "x_ReportedCost": 1},
    {"day": "2026-01-08", "ProviderName": "OpenAI", "x_Team": "beta", "x_ReportedCost": 0, "x_Status": "failure"},
    {"day": "2026-01-09", "ProviderName": "OpenAI", "x_Team": "alpha", "x_ReportedCost": 0.5},
]  # fmt: skip


@pytest.fixture(scope="module")
def rules() -> Rules:
    return rulebook.load_rules(RULES)


@pytest.fixture(scope="module")
def rates(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Only the test rate EUR -> USD 1.25 (no shipped rate covers January 2026)."""
    path = tmp_path_factory.mktemp("fx") / "fx.csv"
    path.write_text("from_currency,to_currency,rate,effective_from,effective_to,source\n"
                    f"EUR,USD,{EUR_USD},2026-01-01,,test rate\n", encoding="utf-8")  # fmt: skip
    return fx.load_rates(path, shipped=False)


@pytest.fixture(scope="module")
def facts(rules: Rules, rates: pd.DataFrame) -> Facts:
    """The tiny organisation in USD, the EUR rows converted at 1.25."""
    return Facts(costs_table(GROUPED_SPEND), requests_table(GATEWAY), currency="USD", rates=rates, rules=rules)


@pytest.fixture(scope="module")
def result(facts: Facts) -> allocation.Allocation:
    return allocation.allocate(facts)


def totals(frame: pd.DataFrame, *keys: str, amount: str = "cost") -> dict:
    """Exact sums of ``amount`` per key (a scalar key for one column, a tuple for several)."""
    return {(k[0] if len(keys) == 1 else k): sum(g[amount], D(0)) for k, g in frame.groupby(list(keys))}


# --- rules file ----------------------------------------------------------------------------------


def test_rules_file_is_read_with_teams_metrics_and_lines(rules: Rules) -> None:
    assert [r.name for r in rules.rules] == ["proj-a-alpha", "proj-a-beta", "sandbox-principals", "gamma-env"]
    assert [r.line for r in rules.rules] == [11, 15, 20, 23]
    assert rules.rules[0].valid_to.isoformat() == "2026-02-01" and rules.rules[1].valid_from.isoformat() == "2026-02-01"
    assert rules.rules[2].match == (Condition("provider", "eq", ("AWS",), None, 21),
                                    Condition("user", "regex", (":user/(jdoe|asmith)$",), None, 21))
    assert rules.teams["alpha"] == {"business_unit": "Products", "cost_center": "CC-1"}
    assert [(s.name, s.applies_to, s.strategy, s.kind) for s in rules.shared] == [
        ("gateway-anthropic", "metered", "proportional", "metered"),
        ("ptu", "provisioned_throughput", "fixed", "shared"),
        ("gateway-hosting", "platform_fee", "proportional", "shared"), ("google-untagged", "untagged", "proportional",
                                                                       "spread")]  # fmt: skip
    assert rules.shared[1].options == {"weights": {"alpha": 2.0, "beta": 1.0}}
    assert rules.shared[0].options["basis_match"] == (Condition("provider", "eq", ("Anthropic",), None, 32),)
    users = rules.metrics["active_users"].frame
    assert users.loc[users["team"] == "beta", "value"].tolist() == [30.0, 10.0]
    assert set(rules.describe()["section"]) == {"rules", "shared"}


@pytest.mark.parametrize(
    ("text", "line", "where", "problem"),
    [
        ("version: 1\nrules:\n  - name: a\n    match: {projet: p}\n    set: {team: x}\n", 4, "rules[0].match.projet",
         "unknown key 'projet'"),
        ("version: 1\nrules:\n  - name: a\n    match: {sub_account: p}\n    set: {tema: x}\n", 5, "rules[0].set.tema",
         "did you mean 'team'?"),
        ("version: 1\nrules:\n  - name: a\n    match: {sub_account: p}\n", 3, "rules[0]", "missing required key 'set'"),
        ("version: 1\nrules:\n  - name: a\n    match: {user: {regex: '(unclosed'}}\n    set: {team: x}\n", 4,
         "rules[0].match.user.regex", "invalid regular expression"),
        ("version: 1\nrules:\n  - name: a\n    match: {user: {regex: '(?!x)y'}}\n    set: {team: x}\n", 4,
         "rules[0].match.user.regex", "look-around"),
        ("version: 1\nrules:\n  - name: a\n    match: {}\n    set: {team: x}\n    valid_from: 2026-13-01\n", 6,
         "rules[0].valid_from", "expected a date YYYY-MM-DD"),
        ("version: 1\nrules:\n  - name: a\n    match: {}\n    set: {team: x}\n    valid_from: 2026-03-01\n"
         "    valid_to: 2026-02-01\n", 7, "rules[0].valid_to", "is not after valid_from"),
        ("version: 1\nrules:\n  - name: a\n    match: {}\n    set: {team: x}\n  - name: a\n    match: {}\n"
         "    set: {team: y}\n", 6, "rules[1]", "duplicate rule name 'a'"),
        ("version: 1\nrules:\n  - name: a\n    match: {sub_account: p, sub_account: q}\n    set: {team: x}\n", 4,
         "rules[0].match", "duplicate key 'sub_account'"),
        ("version: 1\nshared:\n  - name: s\n    applies_to: platform_fee\n    match: {}\n    strategy: evenly\n", 6,
         "shared[0].strategy", "'evenly' is not one of even, fixed"),
        ("version: 1\nshared:\n  - name: s\n    applies_to: platform_fee\n    match: {}\n    strategy: fixed\n", 3,
         "shared[0]", "strategy 'fixed' needs 'weights'"),
        ("version: 1\nshared:\n  - name: s\n    applies_to: fees\n    match: {}\n    strategy: even\n", 4,
         "shared[0].applies_to", "'fees' is not one of untagged, platform_fee"),
        ("version: 1\nshared:\n  - name: s\n    applies_to: platform_fee\n    match: {}\n    strategy: fixed\n"
         "    weights: {a: -1}\n", 7, "shared[0].weights.a", "non-negative"),
        ("version: 1\nshared:\n  - name: s\n    applies_to: platform_fee\n    match: {}\n    strategy: even\n"
         "    weights: {a: 1}\n", 7, "shared[0].weights", "unknown key 'weights'"),
        ("version: 1\nshared:\n  - name: s\n    applies_to: untagged\n    match: {}\n    strategy: metric\n"
         "    metric: users\n", 7, "shared[0].metric", "metric 'users' is not declared"),
        ("version: 1\nshared:\n  - name: s\n    applies_to: untagged\n    match: {}\n    strategy: proportional\n"
         "    basis_match: {colour: red}\n", 7, "shared[0].basis_match.colour", "unknown key 'colour'"),
        ("version: 2\n", 1, "version", "unsupported version"),
        ("rules: []\n", 1, None, "missing required key 'version'"),
        ("version: 1\nrules:\n  - name: a\n    match: {sub_account: [p, q\n", 5, None, "invalid YAML"),
        ("version: 1\nrules: {name: a}\n", 2, "rules", "expected a list"),
        ("version: 1\nrules:\n  - name: a\n    match: {team: }\n    set: {team: x}\n", 4, "rules[0].match.team",
         "value is empty (null)"),
        ("", 1, None, "the rules file is empty"),
    ],
)  # fmt: skip
def test_malformed_rules_name_the_line_and_the_problem(text: str, line: int, where: str | None, problem: str) -> None:
    with pytest.raises(SourceError) as caught:
        rulebook.parse_rules(text, source="rules.yaml", base_dir=DATA)
    error = caught.value
    assert (error.path, error.line, error.column) == ("rules.yaml", line, where)
    assert problem in str(error)
    assert f"rules.yaml, line {line}" in str(error)


def test_a_malformed_rules_file_names_its_path_and_line() -> None:
    path = DATA / "allocation_rules_malformed.yaml"
    with pytest.raises(SourceError) as caught:
        rulebook.load_rules(path)
    assert str(caught.value) == (f"{path}, line 7, column 'rules[1].match.projet': unknown key 'projet'; expected one "
                                 f"of {', '.join(rulebook.FIELDS)}")  # fmt: skip
    with pytest.raises(SourceError, match="rules file not found"):
        rulebook.load_rules(DATA / "allocation_no_such_file.yaml")


def test_metric_csv_errors_name_the_line(tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_text("month,team,users\n2026-01,a,3\n2026-1x,b,4\n")
    text = "version: 1\nmetrics:\n  users: {file: users.csv, column: users}\n"
    with pytest.raises(SourceError) as caught:
        rulebook.parse_rules(text, base_dir=tmp_path)
    assert (caught.value.line, caught.value.column, caught.value.value) == (3, "month", "2026-1x")
    (tmp_path / "users.csv").write_text("month,team,users\n2026-01,a,many\n")
    with pytest.raises(SourceError, match="line 2, column 'users', value 'many': expected a number"):
        rulebook.parse_rules(text, base_dir=tmp_path)
    with pytest.raises(SourceError, match=r"line 3, column 'metrics\.users\.file': metric file not found"):
        rulebook.parse_rules("version: 1\nmetrics:\n  users: {file: nope.csv}\n", base_dir=tmp_path)


def test_split_strategy_override_keeps_metered_pools(rules: Rules) -> None:
    even = rules.with_strategy("even")
    assert [s.strategy for s in even.shared] == ["proportional", "even", "even", "even"]
    assert rules.with_strategy("metric").shared[1].options == {"metric": "active_users"}
    assert rules.with_strategy("rules") is rules
    with pytest.raises(ParameterError, match="unknown split strategy 'evenly'"):
        rules.with_strategy("evenly")
    with pytest.raises(ParameterError, match=r"needs option\(s\) \['weights'\]"):
        rules.with_strategy("fixed")


# --- attribution ---------------------------------------------------------------------------------


def test_attribution_first_match_wins_tags_win_and_dates_apply(rules: Rules) -> None:
    rows = rulebook.attribute(costs_table(GROUPED_SPEND), rules).to_pandas().set_index("x_RowHash")
    assert rows.loc["h0", ["x_Team", "x_Application", "x_AllocationRule", "x_BusinessUnit", "x_CostCenter"]].tolist() \
        == ["alpha", "chat", "proj-a-alpha", "Products", "CC-1"]  # fmt: skip
    assert rows.loc["h1", ["x_Team", "x_AllocationRule"]].tolist() == ["beta", "proj-a-beta"]  # ownership change
    # the tag's team wins over the rule's, the rule fills the environment the tags lack
    assert rows.loc["h2", ["x_Team", "x_Environment", "x_AllocationRule", "x_BusinessUnit"]].tolist() == [
        "gamma", "prod", "gamma-env", "Research"]  # fmt: skip
    assert rows.loc["h3", ["x_Team", "x_Application", "x_Environment"]].tolist() == ["alpha", "sandbox", "dev"]
    assert rows.loc["h5", ["x_Team", "x_AllocationRule", "x_CostCenter"]].tolist() == ["beta", "tags", "CC-B"]
    assert rows.loc["h9"].isna()[["x_Team", "x_AllocationRule", "x_AllocationPool"]].all()
    pools = rows["x_AllocationPool"].dropna().astype(int).to_dict()
    assert pools == {"h4": 1, "h6": 3, "h7": 2, "h8": 0}


def test_override_replaces_tags_and_tags_only_rules_use_the_common_keys() -> None:
    rows = costs_table(GROUPED_SPEND)
    text = ("version: 1\nrules:\n  - name: all-beta\n    match: {provider: Microsoft}\n    set: {team: omega}\n"
            "    override: true\n")  # fmt: skip
    attributed = rulebook.attribute(rows, rulebook.parse_rules(text)).to_pandas().set_index("x_RowHash")
    assert attributed.loc[["h4", "h5"], "x_Team"].tolist() == ["omega", "omega"]
    tags_only = rulebook.attribute(rows).to_pandas().set_index("x_RowHash")
    assert tags_only["x_Team"].dropna().to_dict() == {"h2": "gamma", "h4": "platform", "h5": "beta", "h7": "platform"}
    assert tags_only.loc["h5", "x_CostCenter"] == "CC-B"


def test_requests_rules_read_request_tags_key_alias_and_skip_billing_fields() -> None:
    reqs = requests_table([
        {"day": "2026-01-05", "ProviderName": "OpenAI", "x_ReportedCost": 1,
         "Tags": json.dumps({"request_tags": ["app:bot", "env:prod"], "key_alias": "bot-prod"})},
        {"day": "2026-01-05", "ProviderName": "OpenAI", "x_ReportedCost": 1,
         "Tags": json.dumps({"key_alias": "eval", "spend_logs_metadata": {"cost_center": "CC-9"}})},
        {"day": "2026-01-05", "ProviderName": "OpenAI", "x_ReportedCost": 1, "Tags": "not json"},
    ])  # fmt: skip
    text = """version: 1
rules:
  - name: billing-only
    match: {resource_group: rg-x}
    set: {team: never}
  - name: bot
    match: {request_tags: {regex: "^app:bot$"}}
    set: {team: alpha}
  - name: eval-key
    match: {tags: {key_alias: eval}, metadata: {cost_center: CC-9}}
    set: {team: beta}
  - name: anything-tagged
    match: {tags: {key_alias: {present: true}}}
    set: {team: gamma}
"""
    rows = rulebook.attribute(reqs, rulebook.parse_rules(text), table_name="requests").to_pandas()
    assert rows["x_Team"].fillna("-").tolist() == ["alpha", "beta", "-"]
    with pytest.raises(ParameterError, match="'resource_group' is not available on the requests table"):
        rulebook.compile_conditions(reqs, "requests", (Condition("resource_group", "eq", ("rg",)),))


# --- allocation ----------------------------------------------------------------------------------


def test_the_eur_rows_are_converted_at_the_test_rate(facts: Facts) -> None:
    billed = facts.currency_totals().set_index("billing_currency")
    # 100 EUR PTU + 8 EUR beta = 108 EUR = 135 USD; USD: 100 + 50 + 30 + 20 + 40 + 12 + 8 + 5 = 265
    assert billed["billed"].to_dict() == {"EUR": D("108"), "USD": D("265")}
    assert billed["cost"].to_dict() == {"EUR": D("135"), "USD": D("265")}


def test_allocation_by_hand(result: allocation.Allocation) -> None:
    frame = result.frame
    assert result.currency == "USD" and set(frame["currency"]) == {"USD"} and set(result.inputs["currency"]) == {"USD"}
    jan = frame[frame["month"] == JAN]
    # alpha: 100 project + 20 sandbox + 125 x 2/3 PTU + 40 x 120/160 untagged Google (direct cost: alpha 120,
    # gamma 30, beta 10 = its 8 EUR) + 12 x 3/4 hosting + 8 x 3/4 gateway
    assert totals(jan, "team") == {"alpha": D("248.333333333333"), "beta": D("59.166666666667"), "gamma": D("37.5"),
                                   "(unallocated)": D("5")}  # fmt: skip
    assert totals(jan, "kind") == {"direct": D("160"), "metered": D("8"), "shared": D("137"), "spread": D("40"),
                                   "unallocated": D("5")}  # fmt: skip
    assert totals(frame[frame["rule"] == "google-untagged"], "team") == {"alpha": D("30"), "beta": D("2.5"),
                                                                         "gamma": D("7.5")}  # fmt: skip
    feb = frame[frame["month"] == FEB]
    assert totals(feb, "team", "rule") == {("beta", "proj-a-beta"): D("50")}
    metered = frame[frame["kind"] == "metered"].set_index("team")
    assert metered.loc["alpha", ["application", "share", "business_unit", "cost_center"]].tolist() == [
        "bot", 0.75, "Products", "CC-1"]  # fmt: skip
    ptu = frame[frame["rule"] == "ptu"].set_index("team")
    assert ptu["application"].tolist() == ["ptu", "ptu"] and ptu.loc["beta", "share"] == pytest.approx(1 / 3)
    # 100 EUR = 125 USD split 2:1, the remainder at 12 places to the largest part
    assert ptu["cost"].to_dict() == {"alpha": D("83.333333333333"), "beta": D("41.666666666667")}
    assert all(isinstance(v, Decimal) for v in frame["cost"])
    check = allocation.conservation(result)
    assert check["relative_error"].max() == 0.0 and (check["difference"] == 0).all()
    cost = check[check["amount"] == "cost"]
    # January: 100 + 30 + 20 + 125 + 10 + 40 + 12 + 8 + 5; February: 50
    assert dict(zip(zip(cost["month"], cost["currency"], strict=True), cost["input"], strict=True)) == {
        (JAN, "USD"): D("350"), (FEB, "USD"): D("50")}  # fmt: skip


def test_each_billing_currency_alone_without_conversion(facts: Facts) -> None:
    usd = allocation.allocate(facts.with_options(convert=False))
    eur = allocation.allocate(facts.with_options(currency="EUR", convert=False))
    assert (usd.currency, set(usd.frame["currency"])) == ("USD", {"USD"})
    assert (eur.currency, set(eur.frame["currency"])) == ("EUR", {"EUR"})
    # only the rows billed in USD; who used Google still counts every row, so beta's 8 EUR (10 USD) of direct cost
    # earns it 40 x 10/160 = 2.5: alpha 100 + 20 + 30 + 9 + 6, beta 2.5 + 3 + 2, gamma 30 + 7.5
    assert totals(usd.frame[usd.frame["month"] == JAN], "team") == {
        "alpha": D("165"), "beta": D("7.5"), "gamma": D("37.5"), "(unallocated)": D("5")}  # fmt: skip
    assert totals(usd.frame[usd.frame["month"] == FEB], "team") == {"beta": D("50")}
    # only the rows billed in EUR: the PTU's 100 EUR split 2:1, beta's own 8 EUR
    assert totals(eur.frame, "team") == {"alpha": D("66.666666666667"), "beta": D("41.333333333333")}
    for result, inputs in ((usd, {(JAN, "USD"): D("215"), (FEB, "USD"): D("50")}), (eur, {(JAN, "EUR"): D("108")})):
        check = allocation.conservation(result)
        assert (check["difference"] == 0).all()
        cost = check[check["amount"] == "cost"]
        assert dict(zip(zip(cost["month"], cost["currency"], strict=True), cost["input"], strict=True)) == inputs
    # together they are the converted allocation: 215 + 50 + 108 x 1.25 = 400
    assert sum(usd.frame["cost"], D(0)) + sum(eur.frame["cost"], D(0)) * EUR_USD == D("400")


def test_strategies_even_metric_and_no_basis(facts: Facts, rules: Rules) -> None:
    even = allocation.allocate(facts.with_options(rules=rules.with_strategy("even"))).frame
    ptu = even[even["rule"] == "ptu"]
    # teams with direct cost in January (any billing currency): alpha, beta (EUR tag), gamma; 125 USD / 3 at 12
    # places is 41.666666666667 three times, one too many: the first part gives the 1e-12 back
    assert totals(ptu, "team") == {"alpha": D("41.666666666666"), "beta": D("41.666666666667"),
                                   "gamma": D("41.666666666667")}  # fmt: skip
    metric = allocation.allocate(facts.with_options(rules=rules.with_strategy("metric"))).frame
    # active users in January: alpha 10, beta 30
    assert totals(metric[metric["rule"] == "ptu"], "team") == {"alpha": D("31.25"), "beta": D("93.75")}
    # no gateway request in January: the metered pool and the hosting fee have no basis and stay with their owners
    march = requests_table([dict(row, day="2026-03-02") for row in GATEWAY])
    alone = allocation.allocate(Facts(costs_table(GROUPED_SPEND), march, rates=facts.rates, rules=rules)).frame
    assert totals(alone[alone["rule"].fillna("").str.endswith("(no basis)")], "team", "kind") == {
        ("(unallocated)", "unallocated"): D("8"), ("platform", "direct"): D("12")}  # fmt: skip


def test_strategy_needing_requests_without_them_is_an_error() -> None:
    rules = Rules(shared=(SharedRule("s", "platform_fee", (), "proportional", {"source": "requests"}),))
    with pytest.raises(ParameterError, match="a split uses source: requests, but the warehouse has no request logs"):
        allocation.allocate(Facts(costs_table(GROUPED_SPEND[:2]), rules=rules))


def test_token_allocation_splits_gateway_tokens_by_the_log(rules: Rules) -> None:
    costs = costs_table([
        {"day": "2026-01-16", "ProviderName": "Anthropic", "SubAccountId": "wrk_gw", "x_CostBasis": "estimated",
         "x_TokenType": "output", "ConsumedQuantity": "1100"},
    ])  # fmt: skip
    tokens = allocation.allocate(Facts(costs, requests_table(GATEWAY), rules=rules), measure="tokens")
    # 'same' basis: the log's tokens (110 per request: alpha 2 requests, beta 1)
    assert totals(tokens.frame, "team", amount="tokens") == {"alpha": D("733.333333333333"),
                                                             "beta": D("366.666666666667")}  # fmt: skip
    check = allocation.conservation(tokens)
    assert (check["difference"] == 0).all() and sum(check.loc[check["amount"] == "tokens", "input"]) == 1100


def test_window_and_parameters(facts: Facts) -> None:
    feb = allocation.allocate(facts.with_options(start_date="2026-02-01"))
    assert totals(feb.frame, "team") == {"beta": D("50")}
    jan = allocation.allocate(facts.with_options(end_date="2026-01-31"))
    assert sum(jan.frame["cost"], D(0)) == D("350") and set(jan.frame["month"]) == {JAN}
    with pytest.raises(ParameterError, match="period must be one of month, week, day"):
        allocation.allocate(facts, period="year")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="measure must be one of cost, charges, tokens"):
        allocation.allocate(facts, measure="users")  # type: ignore[arg-type]
    daily = allocation.allocate(facts, period="day")
    check = allocation.conservation(daily)
    assert (check["difference"] == 0).all()
    assert totals(daily.frame, "period")[pd.Timestamp("2026-01-13")] == D("135")  # the two Microsoft rows


# --- outputs -------------------------------------------------------------------------------------


def test_showback_chargeback_coverage_and_hierarchy(result: allocation.Allocation, tmp_path: Path) -> None:
    board = allocation.showback(result)
    assert set(board["currency"]) == {"USD"}
    usd = board.set_index(["month", "team"])
    assert usd.loc[(JAN, "alpha"), ["direct", "shared", "unallocated", "total"]].tolist() == [
        D("126"), D("122.333333333333"), D("0"), D("248.333333333333")]  # fmt: skip
    assert usd.loc[(JAN, "alpha"), "share"] == pytest.approx(248.333333333333 / 350)
    # beta: 59.166666666667 in January, 50 in February
    assert usd.loc[(FEB, "beta"), "change"] == D("-9.166666666667")
    assert usd.loc[(FEB, "beta"), "change_pct"] == pytest.approx(-9.166666666667 / 59.166666666667)
    assert usd.loc[(JAN, "(unallocated)"), "unallocated"] == D("5")
    by_unit = allocation.showback(result, by="business_unit")
    assert set(by_unit["business_unit"]) == {"Products", "Research", "(none)"}

    path = allocation.write_chargeback(result, tmp_path / "chargeback.csv")
    with path.open() as handle:
        lines = list(csv.DictReader(handle))
    assert list(lines[0]) == ["month", "currency", "business_unit", "cost_center", "team", "direct", "shared",
                              "unallocated", "total"]  # fmt: skip
    assert {line["currency"] for line in lines} == {"USD"}
    got = {(line["month"], line["business_unit"], line["cost_center"], line["team"]):
           (line["direct"], line["shared"], line["unallocated"], line["total"]) for line in lines}  # fmt: skip
    # the tagged cost center wins over the team's: beta's own 8 EUR (10 USD) go to CC-B, its shares to CC-2
    assert got == {
        ("2026-01", "", "", "(unallocated)"): ("0.00", "0.00", "5.00", "5.00"),
        ("2026-01", "Products", "CC-1", "alpha"): ("126.00", "122.33", "0.00", "248.33"),
        ("2026-01", "Products", "CC-2", "beta"): ("2.00", "47.17", "0.00", "49.17"),
        ("2026-01", "Products", "CC-B", "beta"): ("10.00", "0.00", "0.00", "10.00"),
        ("2026-01", "Research", "", "gamma"): ("30.00", "7.50", "0.00", "37.50"),
        ("2026-02", "Products", "CC-2", "beta"): ("50.00", "0.00", "0.00", "50.00"),
    }

    cover = allocation.coverage(result).set_index(["currency", "provider"])
    assert set(cover.index.get_level_values("currency")) == {"USD"}
    # 400 = direct 210 + metered 8 + shared 137 (PTU 125, hosting 12) + spread 40 + unallocated 5
    assert cover.loc[("USD", "All providers"), "total"] == D("400")
    assert cover.loc[("USD", "All providers"), "coverage"] == pytest.approx(355 / 400)
    assert cover.loc[("USD", "All providers"), "direct_share"] == pytest.approx(218 / 400)
    assert cover.loc[("USD", "Google"), ["spread", "coverage"]].tolist() == [D("40"), 0.0]
    assert cover.loc[("USD", "Microsoft"), ["total", "coverage"]].tolist() == [D("135"), 1.0]

    shape = allocation.hierarchy(result, levels=("business_unit", "team"), currency="USD")
    # alpha's direct 120 + metered 6 = 126 is the largest block (its shared parts are 122.33)
    assert shape.iloc[0][["business_unit", "team", "kind"]].tolist() == ["Products", "alpha", "direct"]
    assert shape.iloc[0]["cost"] == pytest.approx(126)
    assert allocation.hierarchy_levels("application") == ("team", "application", "feature")
    with pytest.raises(ParameterError, match="dimension must be one of"):
        allocation.hierarchy_levels("colour")


def test_chargeback_cents_add_up_to_the_grand_total_the_months_and_the_lines() -> None:
    costs = costs_table([
        {"day": "2026-01-05", "ProviderName": "X", "SubAccountId": "shared", "BilledCost": "1"},
        {"day": "2026-02-05", "ProviderName": "X", "x_Team": "a", "BilledCost": "0.005"},
        {"day": "2026-03-05", "ProviderName": "X", "x_Team": "b", "BilledCost": "0.004"},
    ])  # fmt: skip
    pool = SharedRule("pool", "platform_fee", (Condition("sub_account", "eq", ("shared",)),), "even",
                      {"among": ("a", "b", "c")})  # fmt: skip
    result = allocation.allocate(Facts(costs, rules=Rules(shared=(pool,))))
    lines = allocation.chargeback(result)
    got = {(m, t): (d, s, u, total) for m, t, d, s, u, total in
           lines[["month", "team", "direct", "shared", "unallocated", "total"]].itertuples(index=False)}  # fmt: skip
    # grand total 1.009 -> 1.01. Months 1.00 + 0.00 + 0.00 (0.005 and 0.004 round down) miss a cent: February,
    # rounded down the most, takes it. January's thirds 0.33 x 3 miss a cent: a's part (0.333333333334, the
    # split's remainder) takes it.
    assert got == {
        ("2026-01", "a"): (D("0"), D("0.34"), D("0"), D("0.34")),
        ("2026-01", "b"): (D("0"), D("0.33"), D("0"), D("0.33")),
        ("2026-01", "c"): (D("0"), D("0.33"), D("0"), D("0.33")),
        ("2026-02", "a"): (D("0.01"), D("0"), D("0"), D("0.01")),
        ("2026-03", "b"): (D("0"), D("0"), D("0"), D("0")),
    }
    exact = allocation.chargeback(result, decimals=None)
    assert sum(exact["total"], D(0)) == D("1.009") and sum(lines["total"], D(0)) == D("1.01")
    months = lines.groupby("month")["total"].agg(lambda s: sum(s, D(0)))
    exact_months = exact.groupby("month")["total"].agg(lambda s: sum(s, D(0)))
    assert ((months - exact_months).abs() < D("0.01")).all()
    assert all(d + s + u == t for d, s, u, t in lines[["direct", "shared", "unallocated", "total"]].itertuples(
        index=False))  # fmt: skip


def test_attribution_charts(result: allocation.Allocation, facts: Facts) -> None:
    from finops_lib.views.attribution import charts as ca
    from finops_lib.views.theme import chart_spec

    shape = allocation.hierarchy(result, levels=("business_unit", "team", "application"), currency="USD")
    spec = chart_spec(ca.plot_hierarchy(shape, currency="USD", top=2))
    assert spec["encoding"]["y"]["sort"][:2] == ["Products › alpha", "Products › beta"]  # largest unit, then team
    # applications: chat 100 + 50, ptu 125, then (none) 45, google-untagged 40, ...
    assert spec["encoding"]["color"]["scale"]["domain"] == ["chat", "ptu", "Other"]
    assert spec["encoding"]["color"]["scale"]["range"][-1] == "#bab0ac"  # Other in grey
    assert spec["encoding"]["x"]["axis"]["title"] == "Cost (USD)" and spec["title"]["text"].startswith("Spend by")
    board = allocation.showback(result)
    spec = chart_spec(ca.plot_showback(board, currency="USD"))
    assert spec["encoding"]["color"]["sort"] == ["alpha", "beta", "gamma", "(unallocated)"]
    assert spec["encoding"]["y"]["axis"]["title"] == "Allocated cost (USD)"
    spec = chart_spec(ca.plot_coverage_by_provider(allocation.coverage(result), currency="USD"))
    assert spec["encoding"]["color"]["scale"]["domain"] == list(allocation.KINDS)
    assert spec["encoding"]["y"]["sort"][-1] == "All providers"
    assert spec["encoding"]["x"]["axis"]["format"] == ".0%"
    keys = allocation.unallocated_keys(facts)
    spec = chart_spec(ca.plot_unallocated_keys(keys, currency="USD"))
    assert spec["encoding"]["y"]["sort"] == ["Google sub_account nw-x", "Anthropic sub_account wrk_unknown"]
    assert spec["encoding"]["x"]["axis"]["title"] == "Unallocated cost (USD)"


def test_unallocated_keys_rank_the_most_specific_key(facts: Facts) -> None:
    keys = allocation.unallocated_keys(facts)
    assert keys[["currency", "provider", "key", "value", "cost"]].values.tolist() == [
        ["USD", "Google", "sub_account", "nw-x", D("40")],
        ["USD", "Anthropic", "sub_account", "wrk_unknown", D("5")],
    ]
    assert keys["share"].tolist() == pytest.approx([40 / 45, 5 / 45])
    assert keys["cumulative_share"].iloc[-1] == pytest.approx(1.0)
    assert keys["rule"].iloc[0] == '{provider: Google, sub_account: "nw-x"}'
    assert allocation.unallocated_keys(facts, top=1)["value"].tolist() == ["nw-x"]
    untagged = allocation.unallocated_keys(facts.with_options(rules=None))  # no rules: the sandbox account shows up
    assert ("AWS", "sub_account", "222") in set(zip(untagged["provider"], untagged["key"], untagged["value"],
                                                    strict=True))  # fmt: skip
    # the EUR rows all have owners (the PTU is a declared pool, the other row is tagged)
    assert allocation.unallocated_keys(facts.with_options(currency="EUR", convert=False)).empty


def test_resolve_rules(tmp_path: Path) -> None:
    assert rulebook.resolve_rules("none").rules == ()
    assert rulebook.resolve_rules("", tmp_path).source == "(tags only)"
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "allocation_rules.yaml").write_text("version: 1\n")
    assert rulebook.resolve_rules("", tmp_path).source.endswith("allocation_rules.yaml")
    assert rulebook.resolve_rules(str(RULES)).rules[0].name == "proj-a-alpha"


def test_docs_describe_every_field_strategy_and_option() -> None:
    text = (paths.PROJECT_ROOT / "docs" / "allocation_rules.md").read_text()
    for name in [*rulebook.FIELDS, *rulebook.STRATEGIES, *rulebook.APPLIES_TO, *rulebook.OWNER_FIELDS]:
        assert f"`{name}`" in text, name
    for strategy in rulebook.STRATEGIES.values():
        for option in strategy.options:
            assert f"`{option}" in text, option


# --- conservation (property test) ----------------------------------------------------------------

TEAMS = ["a", "b", "c"]
_amounts = st.decimals(min_value=D("-50"), max_value=D("5000"), places=6, allow_nan=False, allow_infinity=False)
_rows = st.lists(st.fixed_dictionaries({
    "day": st.sampled_from(["2026-01-03", "2026-01-20", "2026-02-11", "2026-03-31"]),
    "currency": st.sampled_from(["USD", "EUR"]),
    "provider": st.sampled_from(["OpenAI", "AWS", "Google"]),
    "sub": st.sampled_from(["p1", "p2", "p3", "p4"]),
    "tag": st.sampled_from([None, "a", "b", "z"]),
    "amount": _amounts,
    "tokens": st.integers(min_value=0, max_value=10**9),
}), min_size=1, max_size=25)  # fmt: skip
_weights = st.dictionaries(st.sampled_from(TEAMS), st.floats(min_value=0.001, max_value=1000), min_size=1)


@st.composite
def _shared(draw: st.DrawFn, i: int) -> SharedRule:
    strategy = draw(st.sampled_from(["even", "fixed", "proportional", "metric"]))
    options: dict = {"weights_over": draw(st.sampled_from(["period", "window"]))}
    if strategy == "fixed":
        options["weights"] = draw(_weights)
    elif strategy == "proportional":
        options["basis"] = draw(st.sampled_from(["cost", "tokens"]))
    elif strategy == "metric":
        options["metric"] = "users"
    if draw(st.booleans()):
        options["among"] = tuple(draw(st.lists(st.sampled_from([*TEAMS, "z"]), min_size=1, max_size=3)))
    match = (Condition(draw(st.sampled_from(["provider", "sub_account"])), "eq",
                       (draw(st.sampled_from(["OpenAI", "AWS", "p1", "p2"])),)),)  # fmt: skip
    return SharedRule(f"s{i}", draw(st.sampled_from(["untagged", "platform_fee", "provisioned_throughput"])), match,
                      strategy, options)  # fmt: skip


@st.composite
def _rules(draw: st.DrawFn) -> Rules:
    owners = tuple(Rule(f"r{i}", (Condition("sub_account", "eq", (sub,)),), {"team": draw(st.sampled_from(TEAMS))})
                   for i, sub in enumerate(draw(st.lists(st.sampled_from(["p1", "p2", "p3"]), unique=True))))
    shared = tuple(draw(_shared(i)) for i in range(draw(st.integers(min_value=0, max_value=3))))
    months = [pd.Timestamp(m) for m in ("2026-01-01", "2026-02-01", "2026-03-01")]
    users = pd.DataFrame([(m, t, float(draw(st.integers(0, 50)))) for m in months for t in TEAMS],
                         columns=["month", "team", "value"])  # fmt: skip
    return Rules(owners, shared, metrics={"users": Metric("users", Path("users.csv"), users)})


def _conserved(result: allocation.Allocation, expected: dict[str, Decimal]) -> None:
    """The allocation's amounts add up exactly to ``expected`` (month -> amount), and so do its inputs."""
    got = {m.strftime("%Y-%m"): v for m, v in totals(result.frame, "month").items()}
    assert got == expected
    inputs = {m.strftime("%Y-%m"): v for m, v in zip(result.inputs["month"], result.inputs["cost"], strict=True)}
    assert inputs == expected
    assert (allocation.conservation(result)["difference"] == 0).all()
    assert set(result.frame["currency"]) <= {result.currency}
    assert (result.frame["share"] > 0).all() and (result.frame["share"] <= 1 + 1e-12).all()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_rows, rules=_rules())
def test_allocated_totals_equal_input_totals_per_month(rows: list[dict], rules: Rules, rates: pd.DataFrame) -> None:
    costs = costs_table([
        {"day": r["day"], "BillingCurrency": r["currency"], "ProviderName": r["provider"], "SubAccountId": r["sub"],
         "x_Team": r["tag"], "BilledCost": str(r["amount"]), "x_TokenType": "output",
         "ConsumedQuantity": str(r["tokens"])}
        for r in rows
    ])  # fmt: skip
    facts = Facts(costs, currency="USD", rates=rates, rules=rules)
    # each billing currency alone: exactly its own rows
    for currency in ("USD", "EUR"):
        expected: dict[str, Decimal] = {}
        for r in rows:
            if r["currency"] == currency:
                expected[r["day"][:7]] = expected.get(r["day"][:7], D(0)) + r["amount"]
        _conserved(allocation.allocate(facts.with_options(currency=currency, convert=False)), expected)
    # every row in USD: amounts have 6 places, so 1.25 x amount is exact at the engine's 12
    converted: dict[str, Decimal] = {}
    for r in rows:
        amount = r["amount"] * (EUR_USD if r["currency"] == "EUR" else 1)
        converted[r["day"][:7]] = converted.get(r["day"][:7], D(0)) + amount
    _conserved(allocation.allocate(facts), converted)


# --- the committed sample ------------------------------------------------------------------------

SAMPLE = paths.SAMPLE_DIR


@pytest.fixture(scope="module")
def sample_con(sample_warehouse: Path):
    from finops_lib.warehouse import ingestion as ingest

    if not (SAMPLE / "config" / "allocation_rules.yaml").is_file():
        pytest.skip("the sample has no allocation rules (regenerate data/sample)")
    con = ingest.open_data(SAMPLE, warehouse=sample_warehouse)
    yield con
    con.disconnect()


def truth_by_team() -> dict[tuple[str, str], Decimal]:
    """Per team and currency: the generator's owners, shared resources split by truth/shared_usage.csv."""
    truth = pd.read_csv(SAMPLE / "truth" / "daily_cost.csv", dtype=str, keep_default_na=False)
    shares = pd.read_csv(SAMPLE / "truth" / "shared_usage.csv", dtype={"share": str})
    split = {"shared-ptu": "aoai-shared-ptu", "llm-gateway": "llm-gateway"}
    out: dict[tuple[str, str], Decimal] = {}
    for row in truth.itertuples(index=False):
        net = D(row.cost) + D(row.credit)  # the invoices are net of GCP credits
        parts = shares[shares["shared_resource"] == split.get(row.application, "")]
        owners = [(t, D(s)) for t, s in zip(parts["team"], parts["share"], strict=True)] or [(row.team, D(1))]
        for team, share in owners:
            out[(team, row.billing_currency)] = out.get((team, row.billing_currency), D(0)) + net * share
    return out


@pytest.mark.slow
def test_sample_rules_cover_95_percent_and_match_the_truth_per_team(sample_con) -> None:
    rules = rulebook.load_rules(SAMPLE / "config" / "allocation_rules.yaml")
    facts = open_facts(sample_con, rules=rules)
    expected = truth_by_team()
    for currency in ("USD", "EUR"):  # each billing currency alone, as the generator bills it
        result = allocation.allocate(facts.with_options(currency=currency, convert=False))
        cover = allocation.coverage(result).set_index(["currency", "provider"])
        assert cover.loc[(currency, "All providers"), "coverage"] >= 0.95
        got = totals(result.frame, "team")
        want = {team: value for (team, c), value in expected.items() if c == currency}
        assert set(got) == set(want)
        for team, value in want.items():
            assert abs(got[team] - value) <= D("0.005") * value, (currency, team, got[team], value)
        assert (allocation.conservation(result)["difference"] == 0).all()
    # everything in USD: EUR at the inverse of the shipped USD->EUR 0.92, rounded to 12 places
    to_usd = {"USD": D(1), "EUR": (D(1) / D("0.92")).quantize(D("1e-12"))}
    converted = allocation.allocate(facts)
    want = {}
    for (team, currency), value in expected.items():
        want[team] = want.get(team, D(0)) + value * to_usd[currency]
    got = totals(converted.frame, "team")
    assert set(got) == set(want)
    for team, value in want.items():
        assert abs(got[team] - value) <= D("0.005") * value, ("USD", team, got[team], value)
    assert sum(converted.frame["cost"], D(0)) == facts.total("cost")
    assert (allocation.conservation(converted)["difference"] == 0).all()
    # without the rules, the untagged projects and workspaces are unallocated
    bare = allocation.coverage(allocation.allocate(facts.with_options(rules=None, convert=False)))
    assert bare.set_index(["currency", "provider"]).loc[("USD", "All providers"), "coverage"] < 0.5


@pytest.mark.slow
def test_sample_rules_file_is_what_the_writer_writes() -> None:
    import datetime as dt

    from finops_lib.sample.ledger import World
    from finops_lib.sample.rules_writer import rules_text
    from finops_lib.sample.simulate import Timeline

    manifest = json.loads((SAMPLE / "manifest.json").read_text())
    options = manifest["options"]
    world = World(Timeline(dt.date.fromisoformat(options["end_date"]), options["days"]), None, None, None, None,
                  options["scale"], options["seed"])  # type: ignore[arg-type]
    assert (SAMPLE / "config" / "allocation_rules.yaml").read_text() == rules_text(world)
