"""Known bug classes of other cost tools, each a hand-computed case (prices per 1M tokens, shipped catalog).

Every expected cost is written out as a Decimal literal with its arithmetic in the comment; a request
is priced on 2026-06-01 unless the case is about dates.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from test_prices import SHIPPED, requests_table

from finops_lib import pricing as prices
from finops_lib.warehouse import ingestion as ingest


def cost(**request) -> Decimal | None:
    return prices.estimate_requests(requests_table([request]), SHIPPED).to_pandas().iloc[0].x_EstimatedCost


def test_anthropic_cache_creation_is_not_charged_twice():
    """LiteLLM #9812: cache-creation tokens were charged as input *and* as cache writes."""
    got = cost(ProviderName="Anthropic", x_Model="claude-sonnet-4-5-20250929", input_uncached=1_000,
               input_cache_write_5m=20_000, output=500)  # fmt: skip
    # 1,000 x $3 + 20,000 x $3.75 + 500 x $15 = 3,000 + 75,000 + 7,500 = 85,500 / 1M
    # (charging the writes again as input would add 20,000 x $3 = $0.06)
    assert got == Decimal("0.0855")


def test_gemini_cache_hits_are_not_double_counted():
    """LiteLLM #14849: cached tokens were priced as cache reads *and* as regular input."""
    # a 100,000-token prompt of which 80,000 came from the context cache
    got = cost(ProviderName="Google", x_Model="gemini-2.5-pro", input_uncached=20_000, input_cache_read=80_000,
               output=2_000)  # fmt: skip
    # 20,000 x $1.25 + 80,000 x $0.125 + 2,000 x $10 = 25,000 + 10,000 + 20,000 = 55,000 / 1M
    assert got == Decimal("0.055")


def test_openai_cached_tokens_are_a_subset_of_prompt_tokens(tmp_path, con):
    """LiteLLM #6215: OpenAI's input_tokens includes the cached ones; pricing both over-charges."""
    page = {
        "object": "page",
        "has_more": False,
        "next_page": None,
        "data": [
            {
                "object": "bucket",
                "start_time": 1780272000,
                "end_time": 1780358400,  # 2026-06-01, a whole day
                "results": [
                    {
                        "object": "organization.usage.completions.result",
                        "input_tokens": 10_000,
                        "input_cached_tokens": 6_000,
                        "input_uncached_tokens": 4_000,
                        "input_cache_write_tokens": 0,
                        "output_tokens": 1_000,
                        "num_model_requests": 3,
                        "project_id": "proj_x",
                        "user_id": None,
                        "api_key_id": None,
                        "model": "gpt-4o-2024-08-06",
                        "batch": False,
                        "service_tier": "default",
                    }
                ],
            }
        ],
    }
    path = tmp_path / "usage.json"
    path.write_text(json.dumps(page))
    ingest.ingest([path], con=con)
    priced = prices.price_costs(con.table("costs"), SHIPPED).to_pandas()
    by_bucket = dict(zip(priced.x_TokenType, priced.ConsumedQuantity, strict=True))
    assert by_bucket == {"input_uncached": 4_000, "input_cache_read": 6_000, "output": 1_000}
    # 4,000 x $2.50 + 6,000 x $1.25 + 1,000 x $10 = 10,000 + 7,500 + 10,000 = 27,500 / 1M
    # (pricing all 10,000 input tokens at $2.50 plus the 6,000 cached would give $0.0425)
    assert priced.BilledCost.sum() == Decimal("0.0275")
    assert set(priced.x_DataQualityFlags) == {""}


def test_cache_writes_are_included():
    """Langfuse #14249: the model cost left cache writes out."""
    got = cost(
        ProviderName="Anthropic",
        x_Model="claude-haiku-4-5-20251001",
        input_uncached=2_000,
        input_cache_write_5m=10_000,
        input_cache_write_1h=50_000,
        input_cache_read=100_000,
        output=1_000,
    )
    # 2,000 x $1 + 10,000 x $1.25 + 50,000 x $2 + 100,000 x $0.10 + 1,000 x $5
    # = 2,000 + 12,500 + 100,000 + 10,000 + 5,000 = 129,500 / 1M
    assert got == Decimal("0.1295")


def test_priority_tier_is_priced_at_the_priority_rate():
    """Langfuse #13780: priority requests were priced at the standard rate (~2x understated)."""
    got = cost(x_Model="gpt-5-mini-2025-08-07", x_ServiceTier="priority", input_uncached=10_000, output=2_000)
    # 10,000 x $0.45 + 2,000 x $3.60 = 4,500 + 7,200 = 11,700 / 1M   (standard would be $0.0065)
    assert got == Decimal("0.0117")


@pytest.mark.parametrize(("request_", "expected"), [
    # 40,000 x $0.125 + 60,000 x $0.0125 + 5,000 x $1 = 5,000 + 750 + 5,000 = 10,750 / 1M
    # (cached tokens at the full batch input rate would cost 60,000 x $0.125 = $0.0075 instead of $0.00075)
    ({"x_Model": "gpt-5-mini-2025-08-07", "input_uncached": 40_000, "input_cache_read": 60_000, "output": 5_000},
     Decimal("0.01075")),
    # 10,000 x $1.50 + 90,000 x $0.15 + 1,000 x $7.50 = 15,000 + 13,500 + 7,500 = 36,000 / 1M
    ({"ProviderName": "Anthropic", "x_Model": "claude-sonnet-4-5-20250929", "input_uncached": 10_000,
      "input_cache_read": 90_000, "output": 1_000}, Decimal("0.036")),
])  # fmt: skip
def test_batch_requests_with_cached_tokens(request_, expected):
    """LiteLLM PR #38341: cached tokens in batch requests were billed at the full batch input rate."""
    assert cost(x_ServiceTier="batch", **request_) == expected


def test_long_context_whole_request_above_200k():
    """opik #6982: the >200k tier was not applied; the whole request (prompt incl. cache) moves to it."""
    # prompt = 150,000 uncached + 60,000 cache reads = 210,000 > 200,000: every bucket at the long rate
    # 150,000 x $6 + 60,000 x $0.60 + 2,000 x $22.50 = 900,000 + 36,000 + 45,000 = 981,000 / 1M
    assert cost(ProviderName="Anthropic", x_Model="claude-sonnet-4-5-20250929", input_uncached=150_000,
                input_cache_read=60_000, output=2_000) == Decimal("0.981")  # fmt: skip
    # exactly 200,000 is not above the threshold: 200,000 x $3 + 1,000 x $15 = 615,000 / 1M
    assert cost(ProviderName="Anthropic", x_Model="claude-sonnet-4-5-20250929", input_uncached=200_000,
                output=1_000) == Decimal("0.615")  # fmt: skip
    # Gemini 2.5 Pro: 250,000 x $2.50 + 4,000 x $15 = 625,000 + 60,000 = 685,000 / 1M
    assert cost(ProviderName="Google", x_Model="gemini-2.5-pro", input_uncached=250_000,
                output=4_000) == Decimal("0.685")  # fmt: skip


def test_batch_prompts_above_272k_use_the_long_context_batch_tier(data_dir):
    """LiteLLM PR #39861: batch prompts above 272k tokens must be billed at the long-context *batch* tier."""
    catalog = prices.load_catalog(data_dir / "prices_long272k.csv")
    t = requests_table([{"x_Model": "gpt-test-272k", "x_ServiceTier": "batch", "input_uncached": 300_000,
                         "output": 10_000},
                        {"x_Model": "gpt-test-272k", "x_ServiceTier": "batch", "input_uncached": 272_000,
                         "output": 10_000}])  # fmt: skip
    out = prices.estimate_requests(t, catalog).order_by("x_RowHash").to_pandas()
    # 300,000 x $2.50 + 10,000 x $11.25 = 750,000 + 112,500 = 862,500 / 1M   (long batch tier)
    # 272,000 x $1.25 + 10,000 x $7.50 = 340,000 + 75,000 = 415,000 / 1M    (not above 272k: batch tier)
    assert out.x_EstimatedCost.tolist() == [Decimal("0.8625"), Decimal("0.415")]
    assert out.x_ContextTier.tolist() == ["long", "standard"]


def test_unknown_model_is_not_zero():
    """LiteLLM #12337: tokens of an unpriced model showed as a confident $0.00."""
    t = requests_table([{"ProviderName": "Together", "x_Model": "llama-3-70b-together", "input_uncached": 1_000,
                         "output": 500}])  # fmt: skip
    out = prices.estimate_requests(t, SHIPPED)
    row = out.to_pandas().iloc[0]
    assert row.x_EstimatedCost is None  # NULL, never Decimal("0")
    assert (row.x_DataQualityFlags, row.x_UnpricedTokens, row.x_UnpricedBuckets) == (
        "unpriced",
        1_500,
        "input_uncached,output",
    )
    listed = prices.unpriced_summary(out).to_pandas()
    assert sorted(zip(listed.x_TokenType, listed.tokens, strict=True)) == [("input_uncached", 1_000), ("output", 500)]


def test_history_is_priced_at_the_price_effective_then():
    """Langfuse #12184: old requests were re-priced at today's rate (o3 was cut 80% on 2025-06-10)."""
    before = cost(x_Model="o3-2025-04-16", day="2025-06-09", input_uncached=10_000, output=1_000)
    after = cost(x_Model="o3-2025-04-16", day="2025-06-10", input_uncached=10_000, output=1_000)
    # before the cut: 10,000 x $10 + 1,000 x $40 = 100,000 + 40,000 = 140,000 / 1M
    assert before == Decimal("0.14")
    # from the cut:   10,000 x $2  + 1,000 x $8  =  20,000 +  8,000 =  28,000 / 1M
    assert after == Decimal("0.028")
