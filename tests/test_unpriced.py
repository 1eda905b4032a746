"""Unpriced is loud: tokens of a model the catalog does not know are listed with their count, never $0."""

import json
from pathlib import Path

import pytest

from finops_lib import engine, facts
from finops_lib.warehouse.ingestion import ingest


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """The OpenAI usage fixture with gpt-4o-2024-08-06 renamed to a model the catalog does not price."""
    page = json.loads((Path(__file__).parent / "data" / "openai_usage.json").read_text())
    for bucket in page["data"]:
        for result in bucket["results"]:
            if isinstance(result, dict) and result.get("model") == "gpt-4o-2024-08-06":
                result["model"] = "gpt-99-preview"  # no catalog price
    path = tmp_path_factory.mktemp("unpriced") / "usage.json"
    path.write_text(json.dumps(page))
    c = engine.memory()
    ingest([path], con=c)
    yield c
    c.disconnect()


def test_unknown_model_is_listed_with_its_tokens_and_has_no_money(warehouse):
    everything = facts.unpriced_models(facts.open_facts(warehouse))
    # The catalog publishes no batch cached-input rate for gpt-4o-mini: honestly unpriced too.
    assert set(everything.model) == {"gpt-99-preview", "gpt-4o-mini-2024-07-18"}
    assert everything[everything.model == "gpt-4o-mini-2024-07-18"][["bucket", "tier", "tokens"]].values.tolist() \
        == [["input_cache_read", "batch", 6000.0]]
    listed = everything[everything.model == "gpt-99-preview"]
    costs = warehouse.table("costs").to_pandas()
    unknown = costs[costs.x_Model == "gpt-99-preview"]
    # The fixture's gpt-4o rows: 1000 input (500 uncached + 400 cached + 100 cache write) + 500 output, then
    # 2000 uncached input + 300 output.
    assert listed.tokens.sum() == unknown.ConsumedQuantity.astype(float).sum() == 1000 + 500 + 2000 + 300
    assert unknown.BilledCost.isna().all()  # left out of money totals, never 0
    assert set(listed.bucket) == {"input_uncached", "input_cache_read", "input_cache_write_5m", "output"}


def test_unpriced_models_are_windowed_and_filtered_like_the_facts(warehouse):
    """The list follows the facts' window and filters (it used to cover the whole warehouse)."""
    whole = facts.open_facts(warehouse)
    # 2026-05-01 holds only gpt-99-preview (proj_a): 500 uncached + 400 cached + 100 cache write + 500 output
    first_day = facts.unpriced_models(whole.with_options(start_date="2026-05-01", end_date="2026-05-01"))
    assert set(first_day.model) == {"gpt-99-preview"} and first_day.tokens.sum() == 1500
    assert set(first_day.first_day.astype(str)) == set(first_day.last_day.astype(str)) == {"2026-05-01"}
    # proj_b holds only the gpt-4o-mini rows; of them only the batch cache reads (6000, on 2026-05-02) lack a price
    proj_b = facts.unpriced_models(whole.with_options(filters={"sub_account": "proj_b"}))
    assert proj_b[["model", "bucket", "tier", "tokens"]].values.tolist() == [
        ["gpt-4o-mini-2024-07-18", "input_cache_read", "batch", 6000.0]]  # fmt: skip
    assert facts.unpriced_models(whole.with_options(filters={"provider": "Anthropic"})).empty
    assert facts.unpriced_models(whole.with_options(start_date="2026-05-03")).empty  # 05-04's gpt-4.1 has a price
