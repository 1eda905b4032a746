"""Vendor meter strings -> Meter: one table of real and sample spellings, unknown strings, and a fuzz test."""

from __future__ import annotations

import csv
import gzip
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops_lib import paths
from finops_lib.meters import PARSERS, Meter, parse_meter
from finops_lib.models import canonical_model
from finops_lib.schema import CONTEXT_TIERS, DEPLOYMENT_TYPES, SERVICE_TIERS, TOKEN_TYPES

IN, OUT, READ, W5, W1, NT = (
    "input_uncached", "output", "input_cache_read", "input_cache_write_5m", "input_cache_write_1h", "non_token",
)  # fmt: skip
STD = "standard"
E1, W2 = "us-east-1", "us-west-2"

# raw, provider, model, token_type, service_tier, context_tier, deployment, modality, region, thinking
CASES: list[tuple[str, str, str | None, str, str | None, str | None, str | None, str | None, str | None, bool]] = [
    # --- AWS Bedrock line_item_usage_type / FOCUS x_UsageType (sample aws_writer + formats.md 4.2) ---
    ("USE1-Claude3-5Haiku-input-tokens", "aws", "claude-3-5-haiku", IN, STD, STD, None, None, E1, False),
    ("USE1-Claude3-5Haiku-output-tokens", "aws", "claude-3-5-haiku", OUT, STD, STD, None, None, E1, False),
    ("USE1-Claude3-5Haiku-cache-read-input-token-count", "aws", "claude-3-5-haiku", READ, STD, STD, None, None, E1,
     False),
    ("USE1-Claude3-5Haiku-cache-write-input-token-count", "aws", "claude-3-5-haiku", W5, STD, STD, None, None, E1,
     False),
    ("USE1-Llama3-3-70B-input-tokens", "aws", "llama3-3-70b-instruct", IN, STD, STD, None, None, E1, False),
    ("USE1-Llama3-3-70B-output-tokens", "aws", "llama3-3-70b-instruct", OUT, STD, STD, None, None, E1, False),
    ("USE1-NovaPro-input-tokens-batch", "aws", "nova-pro", IN, "batch", STD, None, None, E1, False),
    ("USE1-NovaPro-output-tokens-cross-region-global", "aws", "nova-pro", OUT, STD, STD, "global", None, E1, False),
    ("USE1-NovaPro-output-tokens-batch-cross-region-global", "aws", "nova-pro", OUT, "batch", STD, "global", None, E1,
     False),
    ("USE1-Claude4.6Sonnet-input-tokens-batch", "aws", "claude-sonnet-4-6", IN, "batch", STD, None, None, E1, False),
    ("USE1-Claude4.6Sonnet-output-tokens", "aws", "claude-sonnet-4-6", OUT, STD, STD, None, None, E1, False),
    ("USE1-Claude3Sonnet-input-tokens", "aws", "claude-3-sonnet", IN, STD, STD, None, None, E1, False),
    ("USE1-Llama4-Maverick-17B-input-tokens-batch", "aws", "llama4-maverick-17b-instruct", IN, "batch", STD, None,
     None, E1, False),
    ("USE1-Claude3-5Haiku-input-tokens-latency-optimized", "aws", "claude-3-5-haiku", IN, None, STD, None, None, E1,
     False),
    ("USE1-Claude4Sonnet-input-tokens-cross-region-global", "aws", "claude-sonnet-4", IN, STD, STD, "global", None,
     E1, False),
    ("USE1-Claude4Sonnet-output-tokens-long-context-cross-region-global", "aws", "claude-sonnet-4", OUT, STD, "long",
     "global", None, E1, False),
    ("USE1-zai.glm-4.7-output-tokens-batch", "aws", "glm-4.7", OUT, "batch", STD, None, None, E1, False),
    ("USW2-anthropic.claude-opus-4-8-mantle-cache-write-tokens-global-standard", "aws", "claude-opus-4-8", W5, STD,
     STD, "global", None, W2, False),
    ("USE1-Nova2.0Pro-text-input-tokens-priority-cross-region-global", "aws", "nova-2-pro", IN, "priority", STD,
     "global", "text", E1, False),
    ("USE1-Nova2.0Lite-input-tokens-flex", "aws", "nova-2-lite", IN, "flex", STD, None, None, E1, False),
    ("EUC1-Claude3-7Sonnet-cache-read-input-token-count-cross-region-geo", "aws", "claude-3-7-sonnet", READ, STD, STD,
     "cross_region", None, "eu-central-1", False),
    # --- Azure meter names (sample azure_writer + formats.md 5) ---
    ("gpt-4o-0806-Inp-glbl", "azure", "gpt-4o-2024-08-06", IN, STD, STD, "global", None, None, False),
    ("gpt-4o-0806-cached-Inp-glbl", "azure", "gpt-4o-2024-08-06", READ, STD, STD, "global", None, None, False),
    ("gpt-4o-0806-Outp-glbl", "azure", "gpt-4o-2024-08-06", OUT, STD, STD, "global", None, None, False),
    ("GPT 4o mini Inp Glbl 1M Tokens", "azure", "gpt-4o-mini", IN, STD, STD, "global", None, None, False),
    ("GPT 4o mini Cd Inp Glbl 1M Tokens", "azure", "gpt-4o-mini", READ, STD, STD, "global", None, None, False),
    ("GPT 4o mini outpt Glbl 1M Tokens", "azure", "gpt-4o-mini", OUT, STD, STD, "global", None, None, False),
    ("Provisioned Managed Unit", "azure", None, NT, "provisioned", None, None, None, None, False),
    ("Global Provisioned Managed Unit", "azure", None, NT, "provisioned", None, "global", None, None, False),
    ("GPT 5 outpt Glbl 1M Tokens", "azure", "gpt-5", OUT, STD, STD, "global", None, None, False),
    ("gpt-4o-mini-0718-Inp-glbl", "azure", "gpt-4o-mini-2024-07-18", IN, STD, STD, "global", None, None, False),
    ("gpt 4o 1120 Inp global", "azure", "gpt-4o-2024-11-20", IN, STD, STD, "global", None, None, False),
    ("gpt 4o 0513 Input global Tokens", "azure", "gpt-4o-2024-05-13", IN, STD, STD, "global", None, None, False),
    ("o3 Inpt DZone 1M Tokens", "azure", "o3", IN, STD, STD, "data_zone", None, None, False),
    ("GPT 4o mini Inp DZ 1M Tokens", "azure", "gpt-4o-mini", IN, STD, STD, "data_zone", None, None, False),
    ("gpt 4.5 0227 cached Inp regnl", "azure", "gpt-4.5", READ, STD, STD, "regional", None, None, False),
    ("gpt 4.1 nano cached Inp glbl", "azure", "gpt-4.1-nano", READ, STD, STD, "global", None, None, False),
    ("gpt-4o-mini-tts-aud-out-glbl", "azure", "gpt-4o-mini-tts", OUT, STD, STD, "global", "audio", None, False),
    ("gpt-4o-0806-Batch-Inp-glbl", "azure", "gpt-4o-2024-08-06", IN, "batch", STD, "global", None, None, False),
    ("GPT 5 Cd Wr Glbl 1M Tokens", "azure", "gpt-5", W5, STD, STD, "global", None, None, False),
    ("o4 mini 0416 Outp Data Zone 1M Tokens", "azure", "o4-mini-2025-04-16", OUT, STD, STD, "data_zone", None, None,
     False),
    # --- GCP sku.description (sample gcp_writer + formats.md 6) ---
    ("Gemini 2.5 Flash GA Text Input - Predictions", "gcp", "gemini-2.5-flash", IN, STD, STD, None, "text", None,
     False),
    ("Gemini 2.5 Flash GA Text Output - Predictions", "gcp", "gemini-2.5-flash", OUT, STD, STD, None, "text", None,
     False),
    ("Gemini 2.5 Flash GA Thinking Text Output - Predictions", "gcp", "gemini-2.5-flash", OUT, STD, STD, None, "text",
     None, True),
    ("Gemini 2.5 Flash GA Input Text Caching", "gcp", "gemini-2.5-flash", READ, STD, STD, None, "text", None, False),
    ("Gemini 2.5 Pro GA Input Text Caching", "gcp", "gemini-2.5-pro", READ, STD, STD, None, "text", None, False),
    ("Gemini 2.5 Pro GA Long Context Text Input - Predictions", "gcp", "gemini-2.5-pro", IN, STD, "long", None, "text",
     None, False),
    ("Gemini 2.5 Pro GA Long Context Thinking Text Output - Predictions", "gcp", "gemini-2.5-pro", OUT, STD, "long",
     None, "text", None, True),
    ("Gemini 2.5 Pro GA Long Context Input Text Caching", "gcp", "gemini-2.5-pro", READ, STD, "long", None, "text",
     None, False),
    ("Gemini 2.5 Flash GA Text Output (Thinking On) - Predictions", "gcp", "gemini-2.5-flash", OUT, STD, STD, None,
     "text", None, True),
    ("Gemini 3 Flash Text Input Caching Storage", "gcp", "gemini-3-flash", NT, STD, None, None, "text", None, False),
    ("Gemini 3.7 Flash Global Text Input - Predictions", "gcp", "gemini-3.7-flash", IN, STD, STD, "global", "text",
     None, False),
    ("Gemini 2.5 Flash GA Audio Input (Long) - Predictions", "gcp", "gemini-2.5-flash", IN, STD, "long", None, "audio",
     None, False),
    ("Gemini 2.5 Flash Lite Text Input - Predictions", "gcp", "gemini-2.5-flash-lite", IN, STD, STD, None, "text", None,
     False),
    ("Generate content input token count gemini 2.5 flash short input text", "gcp", "gemini-2.5-flash", IN, STD, STD,
     None, "text", None, False),
    ("Generate content output token count gemini 2.5 flash lite short output text non-thinking", "gcp",
     "gemini-2.5-flash-lite", OUT, STD, STD, None, "text", None, False),
    ("Gemini 2.5 Flash Batch Text Input - Predictions", "gcp", "gemini-2.5-flash", IN, "batch", STD, None, "text",
     None, False),
    # --- OpenAI costs line_item (sample openai_writer + formats.md 2.3) ---
    ("ft-gpt-4o-2024-08-06, input", "openai", "ft-gpt-4o-2024-08-06", IN, STD, STD, None, None, None, False),
    ("ft-gpt-4o-2024-08-06, cached input", "openai", "ft-gpt-4o-2024-08-06", READ, STD, STD, None, None, None, False),
    ("gpt-4o-2024-08-06, output", "openai", "gpt-4o-2024-08-06", OUT, STD, STD, None, None, None, False),
    ("gpt-4o-mini-2024-07-18, input", "openai", "gpt-4o-mini-2024-07-18", IN, STD, STD, None, None, None, False),
    ("gpt-5-mini-2025-08-07, cached input", "openai", "gpt-5-mini-2025-08-07", READ, STD, STD, None, None, None, False),
    ("batch | gpt-4.1-2025-04-14, input", "openai", "gpt-4.1-2025-04-14", IN, "batch", STD, None, None, None, False),
    ("batch | gpt-4.1-2025-04-14, output", "openai", "gpt-4.1-2025-04-14", OUT, "batch", STD, None, None, None, False),
    ("text-embedding-3-small, input", "openai", "text-embedding-3-small", IN, STD, STD, None, None, None, False),
    ("evals | gpt-4o-mini-2024-07-18, input", "openai", "gpt-4o-mini-2024-07-18", IN, STD, STD, None, None, None,
     False),
    ("gpt-4o-2024-08-06, cache writes", "openai", "gpt-4o-2024-08-06", W5, STD, STD, None, None, None, False),
    ("gpt-4o-2024-08-06, cache writes - 12hr", "openai", "gpt-4o-2024-08-06", W1, STD, STD, None, None, None, False),
    ("gpt-4o-realtime-preview-2024-12-17, audio input", "openai", "gpt-4o-realtime-preview-2024-12-17", IN, STD, STD,
     None, "audio", None, False),
    # --- Anthropic cost_report description (sample anthropic_writer + formats.md 3.2) ---
    ("Claude Sonnet 4 Usage - Input Tokens", "anthropic", "claude-sonnet-4", IN, STD, STD, None, None, None, False),
    ("Claude Sonnet 4.5 Usage - Output Tokens", "anthropic", "claude-sonnet-4-5", OUT, STD, STD, None, None, None,
     False),
    ("Claude Sonnet 4.5 Batch Usage - Input Tokens", "anthropic", "claude-sonnet-4-5", IN, "batch", STD, None, None,
     None, False),
    ("Claude Sonnet 4.5 Usage - Cache Write Input Tokens (5m)", "anthropic", "claude-sonnet-4-5", W5, STD, STD, None,
     None, None, False),
    ("Claude Opus 4.1 Usage - Cache Write Input Tokens (1h)", "anthropic", "claude-opus-4-1", W1, STD, STD, None,
     None, None, False),
    ("Claude Opus 4.1 Usage - Cache Read Input Tokens", "anthropic", "claude-opus-4-1", READ, STD, STD, None, None,
     None, False),
    ("Claude Haiku 4.5 Usage - Input Tokens", "anthropic", "claude-haiku-4-5", IN, STD, STD, None, None, None, False),
    ("Claude 3.5 Haiku Usage - Output Tokens", "anthropic", "claude-3-5-haiku", OUT, STD, STD, None, None, None,
     False),
    ("Claude Sonnet 4 Long Context Usage - Input Tokens", "anthropic", "claude-sonnet-4", IN, STD, "long", None, None,
     None, False),
    # --- Pinecone hosted inference (its FOCUS cost-usage export; tests/data/pinecone_cost_usage_export.zip) ---
    ("Embedding tokens: multilingual-e5-large", "pinecone", "multilingual-e5-large", IN, STD, STD, None, None, None,
     False),
    ("llama-text-embed-v2 Tokens", "pinecone", "llama-text-embed", IN, STD, STD, None, None, None, False),
    ("inference-embed-pinecone-sparse-english-v0", "pinecone", "pinecone-sparse-english", IN, STD, STD, None, None,
     None, False),  # an embedding model's SKU id: tokens, though it does not say so
    ("Rerank requests: pinecone-rerank-v0", "pinecone", "pinecone-rerank", NT, STD, STD, None, None, None, False),
]  # fmt: skip

UNKNOWN: list[tuple[str, str | None]] = [
    ("", None),
    ("Read units", "pinecone"),  # a database SKU: no hosted model
    ("multilingual-e5-large output tokens", "pinecone"),  # embedding has no output
    ("Embedding tokens: text-embedding-3-small", "pinecone"),  # not a model Pinecone hosts
    ("   ", None),
    ("hello world", None),
    ("assistants api | file search", "openai"),  # a real line item without model: not a model meter
    ("5 mini pp Inp Gl 1M Tokens", "azure"),  # real but cryptic meter name: no model head
    ("5.6 sol ShortCo Inp Std Gl 1M Tokens", "azure"),
    ("gpt-4-8K-Batch-Inp-glbl Tokens", "azure"),  # unknown word `8k`
    ("USE1-MP:USE1_input_tokens_global_standard-Units", "aws"),  # marketplace usage type: no model in it
    ("USE1-MistralSmall-input-tokens-batch", "aws"),  # family not in the label table: never guessed
    ("USE1-Claude3-5Haiku-input-tokens-turbo", "aws"),  # unknown suffix
    ("USE1-BoxUsage:t3.micro", "aws"),
    ("Gemini 2.5 Flash GA Text Input - Predictions", "aws"),  # right string, wrong provider
    ("Claude Sonnet 4 Usage - Web Search", "anthropic"),
    ("Vertex AI Embeddings Text Input", "gcp"),
    ("Gemini 2.5 Flash GA Text Input - Predictions", "mistral"),  # unknown provider
    ("hello, input", "openai"),  # not an OpenAI model prefix
    ("gpt-4o, tokens", "openai"),
    ("x" * 1000, None),
]


def _expected(row: tuple) -> Meter:
    raw, _provider, model, token, tier, ctx, dep, modality, region, thinking = row
    return Meter(raw, model, token, tier, ctx, dep, modality, region, thinking, True)


def test_case_table_is_big_enough() -> None:
    assert len(CASES) >= 45
    assert {c[1] for c in CASES} == set(PARSERS)


@pytest.mark.parametrize("row", CASES, ids=[c[0][:60] for c in CASES])
def test_parse_meter(row: tuple) -> None:
    expected = _expected(row)
    assert parse_meter(row[0], provider=row[1]) == expected
    assert parse_meter(row[0]) == expected  # provider=None tries every parser and finds the same reading
    assert expected.token_type in TOKEN_TYPES
    assert expected.service_tier in (*SERVICE_TIERS, None)
    assert expected.context_tier in (*CONTEXT_TIERS, None)
    assert expected.deployment in (*DEPLOYMENT_TYPES, None)
    if expected.model is not None:
        assert canonical_model(expected.model) == expected.model


@pytest.mark.parametrize(("raw", "provider"), UNKNOWN)
def test_unknown_strings_are_not_guessed(raw: str, provider: str | None) -> None:
    assert parse_meter(raw, provider=provider) == Meter(raw=raw)


def test_sample_models_are_reached_where_the_meter_carries_the_date() -> None:
    assert parse_meter("gpt-4o-0806-Inp-glbl").model == "gpt-4o-2024-08-06"
    assert parse_meter("gpt-5-mini-2025-08-07, input").model == "gpt-5-mini-2025-08-07"
    assert parse_meter("USE1-NovaPro-input-tokens").model == canonical_model("amazon.nova-pro-v1:0")
    assert parse_meter("USE1-Llama3-3-70B-input-tokens").model == canonical_model("meta.llama3-3-70b-instruct-v1:0")


def _lines(path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return fh.read().splitlines()


def _sample_meters() -> dict[str, set[str]]:
    sample = paths.SAMPLE_DIR
    found: dict[str, set[str]] = {"aws": set(), "azure": set(), "gcp": set(), "openai": set(), "anthropic": set()}
    for path in sample.glob("aws/cur2/*/*.csv.gz"):
        found["aws"] |= {r["line_item_usage_type"] for r in csv.DictReader(_lines(path))}
    for path in sample.glob("azure/*.csv.gz"):
        found["azure"] |= {r["MeterName"] for r in csv.DictReader(_lines(path))}
    for path in sample.glob("gcp/*.jsonl.gz"):
        found["gcp"] |= {json.loads(line)["sku"]["description"] for line in _lines(path)}
    for key, pattern, field in (
        ("openai", "openai/costs_page_*.json", "line_item"),
        ("anthropic", "anthropic/cost_report_page_*.json", "description"),
    ):
        for path in sample.glob(pattern):
            found[key] |= {r[field] for b in json.loads(path.read_text())["data"] for r in b["results"]}
    return found


def test_every_sample_meter_parses() -> None:
    found = _sample_meters()
    if not any(found.values()):
        pytest.skip("no sample data")
    for provider, meters in found.items():
        assert meters, provider
        for text in meters:
            meter = parse_meter(text, provider=provider)
            assert meter.parsed, (provider, text)
            assert meter.model is not None or text == "Provisioned Managed Unit"


def test_non_string_input_never_raises() -> None:
    for value in (None, 12, 3.5, b"USE1-NovaPro-input-tokens", object()):
        assert parse_meter(value).parsed is False  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(text=st.text(max_size=200), provider=st.sampled_from([None, *PARSERS, "bogus"]))
def test_parse_meter_never_raises(text: str, provider: str | None) -> None:
    meter = parse_meter(text, provider=provider)
    assert meter.raw == text
    if not meter.parsed:
        assert meter == Meter(raw=text)


@settings(max_examples=200, deadline=None)
@given(
    base=st.sampled_from([c[0] for c in CASES]),
    noise=st.text(alphabet="-_ ,|()0123456789aZ.", max_size=8),
    cut=st.integers(min_value=0, max_value=80),
)
def test_mangled_meters_never_raise(base: str, noise: str, cut: int) -> None:
    for text in (base[:cut] + noise, noise + base, base.replace("-", noise)):
        meter = parse_meter(text)
        assert meter.raw == text
        assert meter.parsed or meter == Meter(raw=text)
