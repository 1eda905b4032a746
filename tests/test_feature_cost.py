"""The feature cost stack: every money row in a feature and a layer, shared services split exactly.

The bills are written here (a FOCUS file of eight rows in May, one in June) beside the OpenCost fixture; every
expected figure is worked from those rows by hand (Fractions of the written amounts), never from the workbench.
"""

from __future__ import annotations

import csv
import json
import shutil
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops_lib import engine
from finops_lib.facts.layer import open_facts
from finops_lib.feature_cost import UNASSIGNED, feature_stack, feature_summary, feature_usage, split_exact
from finops_lib.rules.feature_map import FeatureEntry, FeatureMap, LayerEntry, SharedLayer, parse_feature_map
from finops_lib.rules.match import Condition
from finops_lib.warehouse import ingest

DATA = Path(__file__).resolve().parent / "data"
HEADER = ["BilledCost", "BillingAccountId", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart",
          "ChargeCategory", "ChargeDescription", "ChargePeriodEnd", "ChargePeriodStart", "ConsumedQuantity",
          "ConsumedUnit", "EffectiveCost", "ListCost", "ProviderName", "PublisherName", "ServiceCategory",
          "ServiceName", "ServiceSubcategory", "SkuMeter", "SubAccountId", "Tags", "InvoiceIssuerName",
          "PricingUnit", "PricingQuantity"]  # fmt: skip
BOT = {"app": "support-chatbot", "feature": "answers"}
SEARCH = {"app": "search-assistant", "feature": "retrieval"}
MAP = """\
version: 1
shared:
  - name: pinecone
    match: {provider: Pinecone}
    strategy: fixed
    weights: {support-chatbot/answers: 3, search-assistant/retrieval: 1}
  - name: eks
    match: {tags: {"user:eks:cluster-name": prod-eks}}
    layer: compute
    strategy: allocation
    namespaces: {llm-serving: support-chatbot/answers, search-rag: search-assistant/retrieval}
  - name: tracing
    match: {provider: Langfuse}
    strategy: proportional
    basis: cost
"""


def _row(cost, provider, category, service, meter, tags=None, qty="", unit="", month=5):
    end = "2026-06-01" if month == 5 else "2026-07-01"
    return {"BilledCost": cost, "BillingAccountId": "acct-1", "BillingCurrency": "USD",
            "BillingPeriodEnd": f"{end}T00:00:00Z", "BillingPeriodStart": f"2026-{month:02d}-01T00:00:00Z",
            "ChargeCategory": "Usage", "ChargeDescription": meter, "ChargePeriodEnd": f"2026-{month:02d}-02T00:00:00Z",
            "ChargePeriodStart": f"2026-{month:02d}-01T00:00:00Z", "ConsumedQuantity": qty, "ConsumedUnit": unit,
            "EffectiveCost": cost, "ListCost": cost, "ProviderName": provider, "PublisherName": provider,
            "ServiceCategory": category, "ServiceName": service, "ServiceSubcategory": "", "SkuMeter": meter,
            "SubAccountId": "sub-1", "Tags": json.dumps(tags) if tags else "", "InvoiceIssuerName": provider,
            "PricingUnit": unit, "PricingQuantity": qty}  # fmt: skip


ROWS = [
    _row("100.00", "OpenAI", "AI and Machine Learning", "OpenAI API", "gpt-4o, input", BOT, "40000000", "Tokens"),
    _row("40.00", "OpenAI", "AI and Machine Learning", "OpenAI API", "gpt-4o, output", BOT, "4000000", "Tokens"),
    _row("6.00", "OpenAI", "AI and Machine Learning", "OpenAI API", "text-embedding-3-small, input", SEARCH,
         "300000000", "Tokens"),
    _row("50.00", "Pinecone", "Databases", "Pinecone Serverless", "Read Units", None, "3125000", "Read Units"),
    _row("80.00", "AWS", "Compute", "Amazon EC2", "g5.xlarge", {"user:eks:cluster-name": "prod-eks"}, "80", "Hours"),
    _row("30.00", "Langfuse", "Management and Governance", "Langfuse Cloud", "Pro plan", None, "1", "Month"),
    _row("120.00", "OpenAI", "Business Applications", "ChatGPT Enterprise", "seats", BOT, "2", "Seat"),
    _row("7.00", "AWS", "Storage", "Amazon S3", "storage", None, "300", "GB-Mo"),
    _row("10.00", "Langfuse", "Management and Governance", "Langfuse Cloud", "Pro plan", None, "1", "Month", month=6),
]
LITELLM = [  # request_id, user, tags, prompt, completion: 4 chatbot requests by 3 users, 2 search requests by 1
    ("r1", "u1", '["app:support-chatbot", "feature:answers"]', 1200, 300),
    ("r2", "u2", '["app:support-chatbot", "feature:answers"]', 800, 200),
    ("r3", "u1", '["app:support-chatbot", "feature:answers"]', 1000, 100),
    ("r4", "u3", '["app:support-chatbot", "feature:answers"]', 500, 50),
    ("r5", "u4", '["app:search-assistant", "feature:retrieval"]', 300, 0),
    ("r6", "u4", '["app:search-assistant", "feature:retrieval"]', 300, 0),
]
# OpenCost's total cost in May (tests/data/opencost_allocation.json, both days): llm-serving 101.00 + 51.85,
# search-rag 3.87 + 3.87, __idle__ 4.32 + 53.47 (the component costs of each allocation, adjustments included).
OPENCOST = {"llm-serving": Fraction("152.85"), "search-rag": Fraction("7.74"), "__idle__": Fraction("57.79")}


def write_folder(folder: Path) -> Path:
    """Write the module's bills, OpenCost's allocation and the LiteLLM log into ``folder``; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "focus.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, HEADER)
        writer.writeheader()
        writer.writerows(ROWS)
    shutil.copy(DATA / "opencost_allocation.json", folder / "opencost.json")
    with (folder / "spend_logs.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["request_id", "call_type", "spend", "prompt_tokens", "completion_tokens", "startTime",
                         "endTime", "model", "custom_llm_provider", "end_user", "request_tags", "status"])
        for rid, user, tags, prompt, completion in LITELLM:
            writer.writerow([rid, "acompletion", "0.001", prompt, completion, "2026-05-03T10:00:00Z",
                             "2026-05-03T10:00:01Z", "gpt-4o", "openai", user, tags, "success"])
    return folder


@pytest.fixture(scope="module")
def facts(tmp_path_factory):
    folder = write_folder(tmp_path_factory.mktemp("stack"))
    con = engine.memory()
    assert set(ingest([folder], con=con)["status"]) == {"loaded"}
    yield open_facts(con, currency="USD")
    con.disconnect()


def _by(stack, month="2026-05-01"):
    frame = stack.frame[stack.frame["month"] == month]
    return {(f, layer, kind): cost for f, layer, kind, cost in
            zip(frame["feature"], frame["layer"], frame["kind"], frame["cost"], strict=True)}


def _near(value: Decimal, exact: Fraction) -> bool:
    return abs(Fraction(value) - exact) <= Fraction(1, 10**12)


def test_the_stack_of_may_by_hand(facts):
    stack = feature_stack(facts, parse_feature_map(MAP))
    got = _by(stack)
    bot, search = "support-chatbot/answers", "search-assistant/retrieval"
    # own rows: tokens 100 + 40 (model inference), seats 120; embeddings 6; untagged S3 7 stays unassigned
    assert got[(bot, "model_inference", "tagged")] == 140 and got[(bot, "seats", "tagged")] == 120
    assert got[(search, "embeddings", "tagged")] == 6 and got[(UNASSIGNED, "storage", "unassigned")] == 7
    # Pinecone 50 split 3:1
    assert got[(bot, "retrieval", "shared")] == Decimal("37.5") and got[(search, "retrieval", "shared")] == 12.5
    # the cluster's 80 by OpenCost's May cost per namespace; idle keeps its share unassigned
    whole = sum(OPENCOST.values())
    assert _near(got[(bot, "compute", "shared")], 80 * OPENCOST["llm-serving"] / whole)
    assert _near(got[(search, "compute", "shared")], 80 * OPENCOST["search-rag"] / whole)
    assert _near(got[(UNASSIGNED, "compute", "unassigned")], 80 * OPENCOST["__idle__"] / whole)
    # tracing 30 by each feature's own cost: 260 and 6
    assert _near(got[(bot, "observability", "shared")], Fraction(30 * 260, 266))
    assert _near(got[(search, "observability", "shared")], Fraction(30 * 6, 266))
    # every cent is somewhere, exactly
    assert sum(got.values()) == Decimal("433") == stack.inputs.set_index("month").loc["2026-05-01", "cost"]


def test_a_month_without_a_basis_keeps_the_shared_cost_unassigned_and_says_so(facts):
    stack = feature_stack(facts, parse_feature_map(MAP))
    assert _by(stack, "2026-06-01") == {(UNASSIGNED, "observability", "unassigned"): Decimal(10)}
    assert stack.notes == ("tracing: nothing to split it by in June 2026 (proportional); its 10.00 stays "
                           "unassigned",)


def test_without_a_map_tags_place_the_rows_and_layers_are_guessed(facts):
    got = _by(feature_stack(facts))
    assert got == {
        ("support-chatbot/answers", "model_inference", "tagged"): 140,
        ("support-chatbot/answers", "seats", "tagged"): 120,
        ("search-assistant/retrieval", "embeddings", "tagged"): 6,
        (UNASSIGNED, "retrieval", "unassigned"): 50,
        (UNASSIGNED, "compute", "unassigned"): 80,
        (UNASSIGNED, "observability", "unassigned"): 30,
        (UNASSIGNED, "storage", "unassigned"): 7,
    }


def test_entries_and_layers_override_tags_and_guesses(facts):
    fmap = parse_feature_map("""\
version: 1
features:
  - {name: seats-are-the-bot, match: {service: ChatGPT Enterprise}, application: support-chatbot, layer: other}
  - {name: s3, match: {service: Amazon S3}, application: search-assistant, feature: retrieval}
layers:
  - {match: {provider: Pinecone}, layer: storage}
""")
    got = _by(feature_stack(facts, fmap))
    assert got[("support-chatbot", "other", "mapped")] == 120  # the entry's application, its layer
    assert got[("search-assistant/retrieval", "storage", "mapped")] == 7  # no layer in the entry: the guess
    assert got[(UNASSIGNED, "storage", "unassigned")] == 50  # Pinecone, layer from the layers section


def test_split_exact_conserves_and_gives_the_remainder_to_the_largest_part():
    parts = split_exact(Decimal("100"), {"a": 1, "b": 1, "c": 1})
    assert parts == {"a": Decimal("33.333333333334"), "b": Decimal("33.333333333333"),
                     "c": Decimal("33.333333333333")}
    with pytest.raises(ValueError, match="positive"):
        split_exact(Decimal(1), {"a": 0})


_CONDITIONS = [(Condition("provider", "eq", ("Pinecone",)),), (Condition("provider", "eq", ("Langfuse",)),),
               (Condition("provider", "eq", ("AWS",)),), (Condition("provider", "eq", ("OpenAI",)),),
               (Condition("service", "eq", ("Amazon S3",)),), ()]
_FEATURES = ["support-chatbot/answers", "search-assistant/retrieval", "ops", "ghost/none"]


@st.composite
def _maps(draw):
    features = tuple(FeatureEntry(f"f{i}", draw(st.sampled_from(_CONDITIONS)), draw(st.sampled_from(["a", "b"])),
                                  draw(st.sampled_from([None, "x"])), draw(st.sampled_from([None, "other", "seats"])))
                     for i in range(draw(st.integers(0, 2))))  # fmt: skip
    shared = []
    for i in range(draw(st.integers(0, 3))):
        strategy = draw(st.sampled_from(["even", "fixed", "proportional", "allocation"]))
        options = {"even": {}, "proportional": {"basis": draw(st.sampled_from(["cost", "tokens", "requests"]))},
                   "fixed": {"weights": dict.fromkeys(draw(st.lists(st.sampled_from(_FEATURES), min_size=1,
                                                                     unique=True)), 1.5)},
                   "allocation": {"namespaces": {"llm-serving": draw(st.sampled_from(_FEATURES))}}}[strategy]
        shared.append(SharedLayer(f"s{i}", draw(st.sampled_from(_CONDITIONS)), strategy, options,
                                  draw(st.sampled_from([None, "compute"]))))
    layers = tuple(LayerEntry(draw(st.sampled_from(_CONDITIONS)), "other") for _ in range(draw(st.integers(0, 1))))
    return FeatureMap(features, tuple(shared), layers)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmap=_maps())
def test_any_map_conserves_every_month_exactly(facts, fmap):
    stack = feature_stack(facts, fmap)
    totals = stack.frame.groupby("month")["cost"].agg(lambda s: sum(s, Decimal(0)))
    expected = {"2026-05-01": Decimal("433"), "2026-06-01": Decimal("10")}
    assert {str(m.date()): v for m, v in totals.items()} == expected
    assert (stack.frame["feature"] != UNASSIGNED).eq(stack.frame["kind"] != "unassigned").all()


def test_unit_costs_of_each_feature_by_hand(facts):
    fmap = parse_feature_map(MAP)
    usage = feature_usage(facts, fmap).set_index(["month", "feature"])
    may = "2026-05-01"
    assert usage.loc[(may, "support-chatbot/answers"), ["requests", "active_users", "tokens"]].tolist() == [
        4, 3, 44_000_000]
    assert usage.loc[(may, "search-assistant/retrieval"), ["requests", "active_users", "tokens"]].tolist() == [
        2, 1, 300_000_000]
    summary = feature_summary(feature_stack(facts, fmap), feature_usage(facts, fmap)).set_index(["month", "feature"])
    whole = sum(OPENCOST.values())
    bot = 140 + 120 + Fraction("37.5") + 80 * OPENCOST["llm-serving"] / whole + Fraction(30 * 260, 266)
    row = summary.loc[(may, "support-chatbot/answers")]
    assert _near(row.cost, bot) and row.model_cost == 140 and _near(row.other_cost, bot - 140)
    assert row.non_token_share == pytest.approx(float((bot - 140) / bot))
    assert _near(row.per_request, bot / 4) and _near(row.per_active_user, bot / 3)
    assert _near(row.per_1m_tokens, bot / 44) and row.tokens_from == "usage" and row.change is None
    unassigned = summary.loc[(may, UNASSIGNED)]
    assert unassigned.per_request is None and unassigned.per_active_user is None and unassigned.tokens_from is None
    june = summary.loc[("2026-06-01", UNASSIGNED)]
    assert june.cost == 10 and _near(june.change, 10 - (7 + 80 * OPENCOST["__idle__"] / whole))
    assert set(summary["currency"]) == {"USD"}


# --- the allocation rules' shared pools: split as the allocation page splits them --------------------------------

POOL_RULES = """\
version: 1
shared:
  - name: s3-platform
    applies_to: platform_fee
    match: {service: Amazon S3}
    strategy: proportional
    basis: cost
    level: feature
  - name: tracing-by-team
    applies_to: platform_fee
    match: {provider: Langfuse}
    strategy: fixed
    weights: {bots: 1, search: 1}
"""


def test_rule_pools_are_split_by_feature_as_the_allocation_splits_them_and_team_splits_stay_unassigned(tmp_path):
    from finops_lib.rules import parse_rules

    bot, search = {**BOT, "team": "bots"}, {**SEARCH, "team": "search"}
    rows = [_row("100.00", "OpenAI", "AI and Machine Learning", "OpenAI API", "gpt-4o, input", bot, "1000", "Tokens"),
            _row("60.00", "OpenAI", "AI and Machine Learning", "OpenAI API", "gpt-4o, output", search, "100", "Tokens"),
            _row("20.00", "AWS", "Storage", "Amazon S3", "storage", None, "300", "GB-Mo"),
            _row("10.00", "Langfuse", "Management and Governance", "Langfuse Cloud", "Pro plan", None, "1", "Month")]
    with (tmp_path / "focus.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, HEADER)
        writer.writeheader()
        writer.writerows(rows)
    con = engine.memory()
    try:
        assert set(ingest([tmp_path], con=con)["status"]) == {"loaded"}
        stack = feature_stack(open_facts(con, currency="USD", rules=parse_rules(POOL_RULES)))
    finally:
        con.disconnect()
    got = _by(stack)
    # S3's 20 by each feature's own cost, 100 : 60 -> 12.5 and 7.5, in the storage layer
    assert got[("support-chatbot/answers", "storage", "allocated")] == Decimal("12.5")
    assert got[("search-assistant/retrieval", "storage", "allocated")] == Decimal("7.5")
    # tracing split by team only: no feature can be named, so its 10 stays unassigned, said in a note
    assert got[(UNASSIGNED, "observability", "unassigned")] == 10
    assert any(n.startswith("tracing-by-team (allocation rules): split by team") for n in stack.notes)
    assert sum(got.values()) == Decimal(190) == stack.inputs["cost"].sum()


def test_search_services_are_retrieval_and_provisioned_capacity_is_model_inference():
    import ibis
    import pandas as pd

    from finops_lib.feature_cost import guess_layer

    rows = ibis.memtable(pd.DataFrame({
        "ProviderName": ["AWS", "Microsoft", "Google", "Microsoft", "AWS"],
        "ServiceName": ["Amazon OpenSearch Service", "Azure AI Search", "Vertex AI Vector Search", "Azure OpenAI",
                        "Amazon EC2"],
        "x_Model": pd.Series([None] * 5, dtype="string"), "x_TokenType": ["non_token"] * 5,
        "x_ServiceTier": [None, None, None, "provisioned", None],
        "ServiceCategory": ["Analytics", "AI and Machine Learning", "AI and Machine Learning",
                            "AI and Machine Learning", "Compute"]}))  # fmt: skip
    con = engine.memory()
    try:
        assert con.execute(guess_layer(rows)).tolist() == ["retrieval"] * 3 + ["model_inference", "compute"]
    finally:
        con.disconnect()


def test_the_page_on_an_empty_folder_and_on_metrics_alone_says_what_is_missing(tmp_path):
    from finops_lib.views.feature_cost import page, sections
    from finops_lib.warehouse import open_data

    (tmp_path / "data").mkdir()
    con = open_data(str(tmp_path / "data"), warehouse=str(tmp_path / "wh.duckdb"))
    try:
        facts, fmap, catalog, filters = page.load(con, data_dir=str(tmp_path))
        empty = sections.feature_cost(facts, fmap, catalog, filters)
        assert empty.problem.startswith("Feature cost needs billed cost")
        assert page.results(empty, filters=filters)["findings"] == empty.problem
        assert str(sections.notes_view(empty)) == str(sections.feature_chart(empty)) == sections.SEE_ABOVE
        ingest([DATA / "prometheus_range.json"], con=con)  # counters, no bill: priced nowhere, said so
        facts, fmap, catalog, filters = page.load(con, data_dir=str(tmp_path))
        served = sections.feature_cost(facts, fmap, catalog, filters)
        assert served.problem == "" and served.feature is None
        assert page.findings(served).startswith("No feature in this window")
        assert "no self-hosted deployment is named" in str(sections.selfhosted_view(served))
    finally:
        con.disconnect()
