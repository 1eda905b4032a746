import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops_lib.models import canonical_model, canonical_model_sql, provider_name, provider_sql

EXAMPLES = {
    "openai/gpt-4o-2024-08-06": "gpt-4o-2024-08-06",
    "us.anthropic.claude-3-5-haiku-20241022-v1:0": "claude-3-5-haiku-20241022",
    "bedrock/us.meta.llama3-3-70b-instruct-v1:0": "llama3-3-70b-instruct",
    "amazon.nova-pro-v1:0": "nova-pro",
    "GPT-4o": "gpt-4o",
    " gemini/gemini-2.5-flash ": "gemini-2.5-flash",
    "claude-sonnet-4-5": "claude-sonnet-4-5",
    "  ": None,
}


@pytest.mark.parametrize(("raw", "expected"), EXAMPLES.items())
def test_canonical_model_in_python_and_sql_agree(raw, expected):
    assert canonical_model(raw) == expected
    con = duckdb.connect()
    assert con.execute(f"SELECT {canonical_model_sql('$raw')}", {"raw": raw}).fetchone()[0] == expected


@pytest.mark.parametrize(("provider", "model", "expected"), [
    ("openai", "gpt-4o", "OpenAI"), ("vertex_ai", "gemini-2.5-pro", "Google"), ("", "claude-haiku-4-5", "Anthropic"),
    (None, "mystery", "Unknown"), ("mistral", "mistral-large", "mistral"),
])
def test_provider_sql(provider, model, expected):
    con = duckdb.connect()
    got = con.execute(f"SELECT {provider_sql('$p', '$m')}", {"p": provider, "m": model}).fetchone()[0]
    assert got == expected
    if provider:
        assert provider_name(provider) in (expected, expected.title())


_PIECES = ["openai/", "bedrock/", "litellm_proxy/", "us.", "global.", "us-gov.", "anthropic.", "meta.", "writer.",
           "claude-3-5-haiku", "gpt-4o", "llama3", "-v1", "-v2:0", ":0", "-v", "v1", ".", "/", "-", " ", "\n", "\t",
           "US.", "OpenAI/", "é", "x", "9", "\r", "\u2028", "\xa0", "\x1f"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=8))
def test_the_engine_s_one_regular_expression_equals_the_patterns_applied_in_turn(pieces):
    # canonical_model_sql runs one regular expression per value (the cost of a 10M-row dump); canonical_model applies
    # the patterns one after the other. Any mix of prefixes, suffixes and separators gives the same id.
    raw = "".join(pieces)
    got = duckdb.execute(f"SELECT {canonical_model_sql('$raw')}", {"raw": raw}).fetchone()[0]
    assert got == canonical_model(raw)
