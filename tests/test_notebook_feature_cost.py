"""The feature cost notebook through papermill on a folder of our own; assertions on ``results.json`` and widgets.

The folder is the one of ``tests/test_feature_cost.py`` (a FOCUS file of eight rows in May and one in June,
OpenCost's allocation, six LiteLLM requests) with its feature map in ``config/``; every expected figure is worked
from those rows by hand (Fractions of the written amounts), never from the workbench.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from nbrun import run_notebook
from test_feature_cost import MAP, OPENCOST, write_folder
from widgets_util import headline, show

from finops_lib import paths

NOTEBOOK = paths.NOTEBOOKS_DIR / "60_feature_cost.ipynb"
BOT = "support-chatbot/answers"

pytestmark = pytest.mark.slow


def _folder(root: Path, feature_map: str) -> Path:
    folder = write_folder(root / "data")
    (folder / "config").mkdir()
    (folder / "config" / "feature_map.yaml").write_text(feature_map, encoding="utf-8")
    return folder


def _run(root: Path, feature_map: str, **parameters: object) -> dict:
    folder = _folder(root, feature_map)
    return run_notebook(NOTEBOOK, root, data_dir=str(folder), warehouse=str(root / "wh.duckdb"), show_widgets=False,
                        **parameters)  # fmt: skip


# the chatbot's May by hand: tokens 140, seats 120, Pinecone 50 x 3/4, the cluster's 80 by OpenCost's namespace
# costs, tracing 30 by own cost (260 of 266)
MAY = {"model_inference": Fraction(140), "seats": Fraction(120), "retrieval": Fraction(75, 2),
       "compute": 80 * OPENCOST["llm-serving"] / sum(OPENCOST.values()), "observability": Fraction(30 * 260, 266)}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _run(tmp_path_factory.mktemp("fc"), MAP, feature="answers", end_date="2026-05-31")


def test_the_chatbot_s_may_stack_by_hand(results: dict) -> None:
    assert results["feature"] == BOT  # named by its feature alone
    got = results["by_feature"][BOT]["2026-05"]
    assert set(got) == set(MAY)
    for layer, exact in MAY.items():
        assert abs(Fraction(Decimal(got[layer])) - exact) <= Fraction(1, 10**12), layer
    # the window (May) adds up exactly: 433 written, every cent in a feature or unassigned
    assert results["input_total"] == results["stack_total"] == {"USD": "433.000000000000"}


def test_the_answer_leads_with_the_feature_its_share_outside_tokens_and_its_units(results: dict) -> None:
    whole = sum(MAY.values())
    outside = whole - MAY["model_inference"]
    text = results["findings"]
    assert text.startswith(f"{BOT} cost ${float(whole):,.2f} in May 2026, {float(outside / whole):.0%} of it outside "
                           "model tokens")  # fmt: skip
    # 4 logged requests by 3 users (tests/test_feature_cost.py LITELLM)
    assert f"${float(whole / 4):,.2f} per request" in text and f"${float(whole / 3):,.2f} per active user" in text
    may = next(r for r in results["summary"] if r["feature"] == BOT and r["month"] == "2026-05")
    assert (may["requests"], may["active_users"]) == (4, 3)
    assert abs(Fraction(Decimal(may["per_request"])) - whole / 4) <= Fraction(1, 10**12)


def test_a_feature_map_naming_an_unknown_layer_is_a_sentence_and_the_page_still_shows_the_tags(tmp_path) -> None:
    bad = ("version: 1\nfeatures:\n  - name: x\n    match: {provider: Pinecone}\n    application: a\n"
           "    layer: vector db\n")
    out = _run(tmp_path, bad, end_date="2026-05-31")
    assert out["findings"].startswith("The feature map cannot be used:")
    assert "line 6" in out["findings"] and "'vector db' is not a layer" in out["findings"]
    assert out["input_total"] == out["stack_total"] == {"USD": "433.000000000000"}  # tags still place the rows
    assert Decimal(out["by_feature"][BOT]["2026-05"]["seats"]) == 120


def test_the_controls_start_on_the_lead_feature_and_a_layer_narrows_it(results: dict, tmp_path: Path) -> None:
    from finops_lib import engine
    from finops_lib.views.feature_cost import page, sections, widgets
    from finops_lib.warehouse import ingest

    folder = _folder(tmp_path, MAP)
    con = engine.memory()
    try:
        ingest([folder], con=con)
        facts, fmap, catalog, filters = page.load(con, data_dir=str(folder), feature="answers",
                                                  end_date="2026-05-31")  # fmt: skip
        box = widgets.make_feature_controls(sections.feature_cost(facts, fmap, catalog, filters))
        controls = box.children[0].children
        assert (controls[0].value, controls[1].value) == (BOT, widgets.ALL_LAYERS)
        whole = sum(MAY.values())
        assert headline(show(box)) == {BOT: f"${float(whole):,.2f}"}
        controls[1].value = "seats"
        assert headline(box.drawn) == {f"{BOT}, seats": "$120.00", "Share of the feature": f"{float(120 / whole):.0%}"}
        controls[0].value = "search-assistant/retrieval"  # no seats: the stack says so, the total is 0
        assert headline(box.drawn)["search-assistant/retrieval, seats"] == "$0.00"
    finally:
        con.disconnect()
