"""Regression tests of reader bugs found by the source contract suite (``test_source_contract.py``)."""

from __future__ import annotations

import json
from decimal import Decimal

from finops_lib.sources._common import reject
from finops_lib.sources.openai_api import read_costs


def test_a_rejected_decimal_is_shown_as_the_number_the_file_wrote():
    # JSON readers parse numbers as Decimal; the reject showed them as the JSON string '"3.5"'.
    assert reject("f", "p.json", 2, "output_tokens", Decimal("3.5"), "why", "costs")["x_Value"] == "3.5"
    assert reject("f", "p.json", 2, "input_tokens", -12, "why", "costs")["x_Value"] == "-12"
    assert reject("f", "p.json", 2, "amount", {"value": 1}, "why", "costs")["x_Value"] == '{"value": 1}'
    assert reject("f", "p.json", 2, "amount", None, "why", "costs")["x_Value"] is None


def test_openai_costs_reject_shows_the_nested_amount_at_fault(tmp_path, con):
    # The fault names the dotted field 'amount.value'; its value was looked up as a top-level key (None).
    page = {"object": "page", "data": [{"object": "bucket", "start_time": 1777593600, "end_time": 1777680000,
            "results": [{"object": "organization.costs.result", "amount": {"value": "0.2 USD", "currency": "usd"},
                         "line_item": "gpt-4o-2024-08-06, input", "project_id": "proj_a"}]}]}
    path = tmp_path / "costs.json"
    path.write_text(json.dumps(page))
    rejects = con.execute(read_costs(path, con).rejects)
    assert rejects[["x_Column", "x_Value"]].values.tolist() == [["amount.value", "0.2 USD"]]
