"""Price catalog (shipped data, overrides, discounts, LiteLLM import) and estimation over ibis tables."""

from __future__ import annotations

import csv
import datetime as dt
import re
from decimal import Decimal

import ibis
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops_lib import fx
from finops_lib import pricing as prices
from finops_lib.errors import ParameterError, SchemaError
from finops_lib.models import canonical_model
from finops_lib.paths import SAMPLE_DIR
from finops_lib.pricing import book
from finops_lib.schema import REQUEST_TOKEN_COLUMNS, TOKEN_BUCKETS

D = Decimal
DAY = dt.date(2026, 6, 1)
TRUTH_PROVIDERS = {"openai": "OpenAI", "anthropic": "Anthropic", "aws_bedrock": "AWS", "azure_openai": "Microsoft",
                   "gcp_vertex": "Google"}  # fmt: skip
SAMPLE_FIRST, SAMPLE_END = dt.date(2026, 5, 5), dt.date(2026, 11, 1)  # the sample period, end exclusive
SHIPPED = prices.load_catalog()


def requests_table(rows: list[dict]) -> ibis.Table:
    """A small ``requests`` table: defaults for every column the estimate reads."""
    base = {"x_ServiceTier": "standard", "x_ContextTier": None, "BillingCurrency": "USD", "x_DataQualityFlags": "",
            "ProviderName": "OpenAI", "x_Model": "gpt-4o-mini-2024-07-18", "day": "2026-06-01"}  # fmt: skip
    out = []
    for i, row in enumerate(rows):
        r = {**base, **row}
        rec = {"x_RequestId": f"r{i}", "x_RowHash": f"h{i}",
               "ChargePeriodStart": pd.Timestamp(r.pop("day") + "T12:00:00", tz="UTC")}  # fmt: skip
        for bucket, column in REQUEST_TOKEN_COLUMNS.items():
            rec[column] = int(r.pop(bucket, 0))
        out.append({**rec, **r})
    frame = pd.DataFrame(out)
    for column in REQUEST_TOKEN_COLUMNS.values():
        frame[column] = frame[column].astype("int64")
    return ibis.memtable(frame)


def costs_table(rows: list[dict]) -> ibis.Table:
    """A small ``costs`` table of token rows (estimated unless said otherwise)."""
    base = {"BilledCost": None, "EffectiveCost": None, "ListCost": None, "ContractedCost": None,
            "ListUnitPrice": None, "ContractedUnitPrice": None, "BillingCurrency": "USD", "ProviderName": "OpenAI",
            "x_Model": "gpt-4o-mini-2024-07-18", "x_TokenType": "output", "x_ServiceTier": "standard",
            "x_ContextTier": None, "x_DeploymentType": None, "x_CostBasis": "estimated", "PricingUnit": "1M Tokens",
            "x_DataQualityFlags": "unpriced", "day": "2026-06-01"}  # fmt: skip
    out = []
    for i, row in enumerate(rows):
        r = {**base, **row}
        r["ChargePeriodStart"] = pd.Timestamp(r.pop("day"), tz="UTC")
        r["ConsumedQuantity"] = D(r.pop("tokens"))
        out.append({"x_RowHash": f"c{i}", **r})
    money = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ListUnitPrice", "ContractedUnitPrice",
             "ConsumedQuantity")  # fmt: skip
    fields = [(c, pa.decimal128(38, 12) if c in money else pa.string()) for c in out[0] if c != "ChargePeriodStart"]
    schema = pa.schema([*fields, ("ChargePeriodStart", pa.timestamp("us", tz="UTC"))])
    return ibis.memtable(pa.Table.from_pylist(out, schema=schema))


def one(expr: ibis.Table, column: str) -> list:
    return expr.order_by("x_RowHash")[column].to_pandas().tolist()


# ---------------------------------------------------------------- the shipped catalog


def test_shipped_catalog_has_no_overlap_gap_or_inconsistency():
    frame = prices.read_catalog_file(prices.SHIPPED_CATALOG)
    assert prices.check_catalog(frame) == []
    assert len(frame) > 200


def test_shipped_prices_are_positive_exact_and_in_iso_currencies():
    with open(prices.SHIPPED_CATALOG, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        assert re.fullmatch(r"\d+(\.\d+)?", row["price_per_1m"]), row  # plain decimal text, no exponent
        assert D(row["price_per_1m"]) > 0
        assert re.fullmatch(r"[A-Z]{3}", row["currency"])
        assert row["source"], row
        assert row["token_type"] in TOKEN_BUCKETS
        assert row["provider"] in {"OpenAI", "Anthropic", "AWS", "Microsoft", "Google"}
        assert row["model"] == canonical_model(row["model"])


def test_shipped_aliases_point_at_priced_models():
    catalog = SHIPPED
    kept = book._usable_aliases(catalog.prices, catalog.aliases, strict=True)  # raises when one does not
    assert len(kept) == len(catalog.aliases) == len(prices.read_aliases(prices.SHIPPED_ALIASES))


def _truth_days(row: dict) -> list[dt.date]:
    start = max(dt.date.fromisoformat(row["effective_from"]), SAMPLE_FIRST)
    end = min(dt.date.fromisoformat(row["effective_to"]) if row["effective_to"] else SAMPLE_END, SAMPLE_END)
    return [start, end - dt.timedelta(days=1)] if start < end else []


def test_catalog_reproduces_every_price_of_the_sample_truth():
    """Every (provider, model, bucket, tier, context) price of truth/prices.csv, on the first and last day it
    applies inside the sample period, equals the sample catalog's price (Azure: USD list x the EUR rate)."""
    catalog, rates = prices.sample_catalog(), fx.load_rates()
    with open(SAMPLE_DIR / "truth" / "prices.csv", newline="") as handle:
        truth = [r for r in csv.DictReader(handle) if r["token_type"] != "provisioned_hour"]
    assert len(truth) == 61  # 60 prices, one of which changes on 2026-08-08
    checked = 0
    for row in truth:
        provider = TRUTH_PROVIDERS[row["provider"]]
        deployment = "global" if provider == "Microsoft" else None
        for day in _truth_days(row):
            price = catalog.price(provider, canonical_model(row["model"]), row["token_type"], day,
                                  service_tier=row["service_tier"], context_tier=row["context_tier"],
                                  deployment=deployment)  # fmt: skip
            assert price is not None, (row, day)
            rate, _ = fx.rate(rates, "USD", row["currency"], day)
            assert price * rate == D(row["price_per_1m"]), (row, day, price, rate)
            checked += 1
    assert checked == 2 * 61


def test_sample_overlay_cuts_the_shipped_row_at_the_sample_price_change():
    shipped, sample = SHIPPED, prices.sample_catalog()
    flash = ("Google", "gemini-2.5-flash", "output")
    assert shipped.price(*flash, dt.date(2026, 8, 8)) == D("2.5")
    assert sample.price(*flash, dt.date(2026, 8, 7)) == D("2.5")
    assert sample.price(*flash, dt.date(2026, 8, 8)) == D("1.875")
    assert shipped.version != sample.version


def test_alias_resolves_family_ids_per_provider_and_date():
    c = SHIPPED
    assert c.price("OpenAI", "gpt-4o-mini", "input_cache_read", DAY) == D("0.075")
    assert c.price("AWS", "claude-3-5-haiku", "input_cache_read", DAY) == D("0.08")
    assert c.price("Microsoft", "gpt-4o-mini", "output", DAY, deployment="global") == D("0.6")
    assert c.price("Microsoft", "gpt-4o", "output", DAY, deployment="global") is None  # ambiguous family: no alias
    assert c.price("OpenAI", "gpt-4o", "output", dt.date(2024, 9, 1)) is None  # alias pointed elsewhere then


def test_deployment_specific_row_wins_over_generic():
    c = SHIPPED
    assert c.price("Microsoft", "gpt-4o-2024-08-06", "input_uncached", DAY, deployment="data_zone") == D("2.75")
    assert c.price("Microsoft", "gpt-4o-2024-08-06", "input_uncached", DAY, deployment="global") == D("2.5")
    assert c.price("AWS", "nova-pro", "output", DAY, deployment="global") == D("3.2")  # no deployment premium


# ---------------------------------------------------------------- overrides, discounts, errors


def test_user_catalog_wins_from_its_date_and_adds_private_models(data_dir):
    c = prices.load_catalog(data_dir / "prices_user_catalog.csv")
    mini = ("OpenAI", "gpt-4o-mini-2024-07-18", "output")
    assert c.price(*mini, dt.date(2026, 6, 30)) == D("0.6")
    assert c.price(*mini, dt.date(2026, 7, 1)) == D("0.5")
    assert c.price("Internal", "acme-llm-1", "output", DAY) == D("1.5")
    assert prices.check_catalog(c.prices) == []


@pytest.mark.parametrize(("name", "message"), [
    ("prices_overlap.csv", "overlapping effective ranges"),
    ("prices_gap.csv", "gap in effective ranges"),
    ("prices_zero.csv", "price must be positive"),
])  # fmt: skip
def test_bad_user_catalogs_are_refused(data_dir, name, message):
    with pytest.raises(SchemaError, match=message):
        prices.load_catalog(data_dir / name)


def test_bad_row_error_names_file_line_column_and_value(tmp_path):
    path = tmp_path / "bad.csv"
    header = ",".join(prices.CATALOG_COLUMNS)
    path.write_text(f"{header}\nOpenAI,m,output,standard,standard,,,,1.0,usd,2026-01-01,,x\n")
    with pytest.raises(SchemaError, match=r"bad.csv, line 2: not an upper-case ISO 4217 code") as err:
        prices.load_catalog(path)
    assert err.value.column == "currency" and err.value.values == ["usd"]


@pytest.mark.parametrize("name", ["prices_discounts.yaml", "prices_discounts.csv"])
def test_discounts_model_beats_provider_and_keep_list_price(data_dir, name):
    c = prices.load_catalog(discounts=data_dir / name)
    p = c.prices
    sonnet = p[(p.model == "claude-sonnet-4-5-20250929") & (p.token_type == "output") & (p.service_tier == "standard")
               & (p.context_tier == "standard")].iloc[0]  # fmt: skip
    assert (sonnet.price_per_1m, sonnet.list_price_per_1m) == (D("13.5"), D("15"))  # 15 x 0.90
    assert c.price("Anthropic", "claude-haiku-4-5-20251001", "output", DAY) == D("4")  # 5 x 0.80, not 0.72
    mini = ("OpenAI", "gpt-4o-mini-2024-07-18", "output")
    assert c.price(*mini, dt.date(2026, 6, 30)) == D("0.6")  # dated discount: split at its start
    assert c.price(*mini, dt.date(2026, 7, 1)) == D("0.525")  # 0.60 x 0.875
    assert prices.check_catalog(p) == []


def test_litellm_import_maps_tiers_cache_and_long_context(data_dir):
    result = prices.import_litellm(data_dir / "prices_litellm.json", effective_from=dt.date(2026, 1, 1))
    rows = result.rows
    got = {(r.provider, r.model, r.token_type, r.service_tier, r.context_tier): r.price_per_1m
           for r in rows.itertuples()}  # fmt: skip
    sonnet = ("Anthropic", "claude-sonnet-4-5")
    assert got[(*sonnet, "input_uncached", "standard", "standard")] == D("3")
    assert got[(*sonnet, "input_cache_write_5m", "standard", "standard")] == D("3.75")
    assert got[(*sonnet, "input_cache_write_1h", "standard", "standard")] == D("6")
    assert got[(*sonnet, "input_cache_read", "standard", "long")] == D("0.6")
    assert got[(*sonnet, "output", "standard", "long")] == D("22.5")
    assert got[(*sonnet, "output", "batch", "standard")] == D("7.5")
    mini = ("OpenAI", "gpt-5-mini")
    assert got[(*mini, "input_uncached", "standard", "standard")] == D("0.25")  # first key wins over openai/...
    assert got[(*mini, "input_cache_read", "priority", "standard")] == D("0.045")
    assert got[(*mini, "output", "flex", "standard")] == D("1")
    assert got[("Google", "gemini-2.5-pro", "input_uncached", "standard", "long")] == D("2.5")
    assert got[("AWS", "nova-pro", "output", "standard", "standard")] == D("3.2")
    assert got[("OpenAI", "gpt-test-long", "output", "standard", "long")] == D("22.5")  # 15 x 1.5 multiplier
    assert set(rows[rows.context_tier == "long"].groupby("model").context_threshold.first()) == {200000, 272000, 128000}
    assert any("output_cost_per_reasoning_token not mapped" in s for s in result.skipped)
    assert any("input_cost_per_audio_token not mapped" in s for s in result.skipped)
    assert any("above 200000 tokens dropped" in s for s in result.skipped)
    assert any(s.startswith("openai/gpt-5-mini") for s in result.skipped)
    assert "sample_spec" not in set(rows.model)


def test_litellm_import_round_trips_as_a_user_catalog(data_dir, tmp_path):
    result = prices.import_litellm(data_dir / "prices_litellm.json", effective_from=dt.date(2026, 1, 1))
    path = prices.write_catalog(result.rows, tmp_path / "litellm.csv")
    c = prices.load_catalog(path, shipped=False)
    assert c.price("OpenAI", "gpt-5-mini", "output", DAY, service_tier="priority") == D("3.6")


# ---------------------------------------------------------------- estimation


def test_estimate_requests_prices_every_bucket_exactly():
    t = requests_table([{"ProviderName": "Anthropic", "x_Model": "claude-sonnet-4-5-20250929", "input_uncached": 1234,
                         "input_cache_read": 5000, "input_cache_write_5m": 700, "input_cache_write_1h": 300,
                         "output": 999, "x_OutputReasoningTokens": 400}])  # fmt: skip
    out = prices.estimate_requests(t, SHIPPED).to_pandas().iloc[0]
    # 1234x3 + 5000x0.30 + 700x3.75 + 300x6 + 999x15 = 3702 + 1500 + 2625 + 1800 + 14985 = 24612 per 1M
    assert out.x_EstimatedCost == D("0.024612")
    assert out.x_CostOutput == D("0.014985")  # reasoning tokens are inside output, priced once
    assert (out.x_PromptTokens, out.x_ContextTier, out.x_DataQualityFlags) == (7234, "standard", "")


def test_unpriced_bucket_keeps_null_total_and_is_listed():
    t = requests_table([
        {"x_Model": "gpt-4o-mini-2024-07-18", "input_uncached": 100, "input_cache_write_5m": 50, "output": 10},
        {"x_Model": "gpt-4o-mini-2024-07-18", "input_uncached": 100, "output": 10},
    ])  # fmt: skip
    e = prices.estimate_requests(t, SHIPPED)
    assert one(e, "x_EstimatedCost")[0] is None
    assert one(e, "x_EstimatedCost")[1] == D("0.000021")  # 100x0.15 + 10x0.60 = 21 per 1M
    assert one(e, "x_DataQualityFlags") == ["unpriced", ""]
    assert one(e, "x_UnpricedBuckets") == ["input_cache_write_5m", ""]
    summary = prices.unpriced_summary(e).to_pandas()
    assert summary[["x_Model", "x_TokenType", "tokens", "rows"]].values.tolist() == [
        ["gpt-4o-mini-2024-07-18", "input_cache_write_5m", D(50), 1]
    ]


def test_price_costs_fills_money_and_clears_the_flag():
    t = costs_table([
        {"x_Model": "gpt-4o-mini-2024-07-18", "x_TokenType": "output", "tokens": 2_000_000},
        {"x_Model": "mystery-model", "x_TokenType": "output", "tokens": 500},
        {"x_CostBasis": "invoiced", "BilledCost": D("1.5"), "EffectiveCost": D("1.5"), "ListCost": D("1.5"),
         "ContractedCost": D("1.5"), "x_DataQualityFlags": "", "tokens": 10},
    ])  # fmt: skip
    p = prices.price_costs(t, prices.load_catalog(discounts=[prices.Discount("OpenAI", "", D(10))]))
    assert one(p, "BilledCost") == [D("1.08"), None, D("1.5")]  # 2M x 0.60 x 0.90; unpriced stays NULL
    assert one(p, "ListCost") == [D("1.2"), None, D("1.5")]
    assert one(p, "ListUnitPrice")[0] == D("0.6") and one(p, "ContractedUnitPrice")[0] == D("0.54")
    assert one(p, "x_DataQualityFlags") == ["", "unpriced", ""]
    assert list(p.columns) == list(t.columns)
    summary = prices.unpriced_summary(p).to_pandas()
    assert summary[["x_Model", "tokens"]].values.tolist() == [["mystery-model", D(500)]]


def test_prices_in_another_currency_need_rates():
    t = requests_table([{"x_Model": "gpt-4o-mini-2024-07-18", "output": 1_000_000, "BillingCurrency": "EUR"}])
    with pytest.raises(ParameterError, match="USD->EUR"):
        prices.estimate_requests(t, SHIPPED).to_pandas()
    out = prices.estimate_requests(t, SHIPPED, rates=fx.load_rates()).to_pandas().iloc[0]
    assert out.x_EstimatedCost == D("0.552")  # 0.60 USD x 0.92


def test_reprice_changes_only_rows_after_the_price_change(tmp_path):
    change = tmp_path / "cut.csv"
    change.write_text(
        ",".join(prices.CATALOG_COLUMNS) + "\n"
        "OpenAI,gpt-4o-mini-2024-07-18,output,standard,standard,,,,0.30,USD,2026-06-15,,test\n"
    )
    days = ["2026-06-13", "2026-06-14", "2026-06-15", "2026-06-16"]
    t = requests_table([{"day": d, "input_uncached": 1000, "output": 1_000_000} for d in days])
    diff = prices.reprice(t, SHIPPED, prices.load_catalog(change)).to_pandas()
    assert [d.isoformat() for d in pd.to_datetime(diff["day"]).dt.date] == ["2026-06-15", "2026-06-16"]
    assert diff["delta"].tolist() == [D("-0.3"), D("-0.3")]  # 1M output tokens x (0.30 - 0.60)
    assert diff["old_cost"].tolist() == [D("0.60015"), D("0.60015")]
    assert diff["rows_changed"].tolist() == [1, 1]
    assert prices.reprice(t, SHIPPED, SHIPPED).count().execute() == 0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tokens=st.lists(st.integers(0, 3_000_000), min_size=5, max_size=5),
       model=st.sampled_from(["claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "claude-opus-4-1-20250805"]),
       tier=st.sampled_from(["standard", "batch"]))  # fmt: skip
def test_estimate_is_additive_over_buckets(tokens, model, tier):
    """A request costs exactly the sum of the same request split into one-bucket requests."""
    whole = dict(zip(TOKEN_BUCKETS, tokens, strict=True))
    parts = [{b: (n if b == bucket else 0) for b, n in whole.items()} for bucket in TOKEN_BUCKETS]
    # keep the whole request under the long-context threshold, or the parts would be priced differently
    if sum(tokens[:4]) > 200_000:
        parts = [{**p, **{b: 0 for b in TOKEN_BUCKETS[:4]}} for p in parts]
        whole = {**whole, **{b: 0 for b in TOKEN_BUCKETS[:4]}}
    t = requests_table([{"ProviderName": "Anthropic", "x_Model": model, "x_ServiceTier": tier, **r}
                        for r in [whole, *parts]])  # fmt: skip
    costs = one(prices.estimate_requests(t, SHIPPED), "x_EstimatedCost")
    assert costs[0] == sum(costs[1:], D(0))


def test_estimate_keeps_the_input_columns_and_adds_details():
    t = requests_table([{"output": 5}])
    out = prices.estimate_requests(t, SHIPPED)
    assert out.columns[: len(t.columns)] == t.columns
    assert set(prices.DETAIL_COLUMNS) <= set(out.columns)
    assert list(prices.estimate_requests(t, SHIPPED, detail=False).columns) == [*t.columns, "x_EstimatedCost"]


# ---------------------------------------------------------------- the sample, end to end


@pytest.fixture(scope="module")
def sample_con():
    from finops_lib import engine
    from finops_lib.warehouse import ingestion as ingest

    con = engine.memory()
    ingest.ingest([SAMPLE_DIR / "litellm", SAMPLE_DIR / "openai", SAMPLE_DIR / "anthropic"], con=con)
    yield con
    con.disconnect()


def _truth_gateway() -> dict[tuple[str, str], Decimal]:
    out: dict[tuple[str, str], Decimal] = {}
    with open(SAMPLE_DIR / "truth" / "daily_cost.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["channel"] == "gateway":
                key = (row["date"], TRUTH_PROVIDERS[row["provider"]])
                out[key] = out.get(key, D(0)) + D(row["cost"])
    return out


def test_sample_gateway_estimate_matches_the_truth_per_provider_and_day(sample_con):
    """Acceptance: for the traffic the gateway saw, the estimate is within 0.1% of the true invoiced cost."""
    e = prices.estimate_requests(sample_con.table("requests"), prices.sample_catalog())
    e = e.filter(e.x_Status == "success").mutate(day=e.ChargePeriodStart.date().cast("string"))
    got = e.group_by(["day", "ProviderName"]).agg(cost=e.x_EstimatedCost.sum(), unpriced=e.x_UnpricedTokens.sum())
    frame = got.to_pandas()
    truth = {k: v for k, v in _truth_gateway().items() if v}  # the outage day (2026-06-26) had no OpenAI traffic
    assert len(frame) == len(truth) == 359
    assert frame.unpriced.sum() == 0
    for row in frame.itertuples():
        expected = truth[(row.day, row.ProviderName)]
        assert abs(row.cost - expected) <= expected * D("0.001"), (row, expected)


def test_sample_usage_feeds_priced_equal_the_invoices_on_whole_days(sample_con):
    """Anthropic usage report priced = cost report, every day; OpenAI usage priced = Costs API on whole days
    (the usage query window cuts the first and last day)."""
    c = prices.price_costs(sample_con.table("costs"), prices.sample_catalog())
    c = c.mutate(day=c.ChargePeriodStart.date())
    daily = c.group_by(["x_SourceFormat", "day"]).agg(cost=c.BilledCost.sum()).to_pandas()
    pivot = daily.pivot(index="day", columns="x_SourceFormat", values="cost")
    assert (pivot["anthropic_usage_report"] == pivot["anthropic_cost_report"]).all()
    inner = pivot.iloc[1:-1]
    assert (inner["openai_usage"] == inner["openai_costs"]).all()
    assert prices.unpriced_summary(c).count().execute() == 0
