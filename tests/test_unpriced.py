"""Unpriced is loud: tokens of a model the catalog does not know are listed with their count, never $0."""

import json

from finops_lib import engine, facts
from finops_lib.warehouse.ingestion import ingest


def test_unknown_model_is_listed_with_its_tokens_and_has_no_money(tmp_path, data_dir):
    page = json.loads((data_dir / "openai_usage.json").read_text())
    for bucket in page["data"]:
        for result in bucket["results"]:
            if isinstance(result, dict) and result.get("model") == "gpt-4o-2024-08-06":
                result["model"] = "gpt-99-preview"  # no catalog price
    path = tmp_path / "usage.json"
    path.write_text(json.dumps(page))
    con = engine.memory()
    ingest([path], con=con)
    everything = facts.unpriced_models(con)
    # The catalog publishes no batch cached-input rate for gpt-4o-mini: honestly unpriced too.
    assert set(everything.model) == {"gpt-99-preview", "gpt-4o-mini-2024-07-18"}
    assert everything[everything.model == "gpt-4o-mini-2024-07-18"][["bucket", "tier", "tokens"]].values.tolist() \
        == [["input_cache_read", "batch", 6000.0]]
    listed = everything[everything.model == "gpt-99-preview"]
    costs = con.table("costs").to_pandas()
    unknown = costs[costs.x_Model == "gpt-99-preview"]
    # The fixture's gpt-4o rows: 1000 input (500 uncached + 400 cached + 100 cache write) + 500 output, then
    # 2000 uncached input + 300 output.
    assert listed.tokens.sum() == unknown.ConsumedQuantity.astype(float).sum() == 1000 + 500 + 2000 + 300
    assert unknown.BilledCost.isna().all()  # left out of money totals, never 0
    assert set(listed.bucket) == {"input_uncached", "input_cache_read", "input_cache_write_5m", "output"}
