"""Golden files for the Vega-Lite spec of every chart the pages draw (``tests/golden/charts/<page>.<plot_fn>.json``).

Each public ``plot_*`` function of ``finops_lib.views.<page>.charts`` and of :mod:`finops_lib.views.waterfall`
is called on a small hand-made frame (a few days in 2026, two to four groups, USD and EUR, Decimal or float
money; no sample data, no warehouse, no model fit) and its spec, with the workbench theme applied
(:func:`finops_lib.views.theme.chart_spec`), is compared with its golden file. The goldens protect what a reader
of the page sees: titles and subtitles, axis titles with their units or currency, number and date formats, the
currency symbol of the labels, sort orders of bars and legends, marks, encodings, tooltips, colours, sizes, the
theme, and the inline data rows (sorting, ``Other`` groups, waterfall steps). Any unintended change fails.

The spec is normalised so that the files are the same on every run and machine: the names Altair derives from
content hashes or counters for datasets (``data-<hash>``), parameters (``param_<id>``) and views (``view_<id>``)
are renamed ``data_1``, ``param_1``, ``view_1``... in order of use; the ``$schema`` URL (the Altair version) is
dropped; floats are rounded to 12 significant digits; keys are sorted.

To regenerate after an intended change::

    FINOPS_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_chart_golden.py -p no:cacheprovider

Each rewritten golden still fails its test, naming the file to review (``git diff tests/golden/charts``), so a
regeneration is never silent; run again without the variable to see them pass. A new ``plot_*`` function
fails :func:`test_every_plot_function_has_a_case` until it has a case in :data:`CASES` and a golden file.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path
from types import ModuleType
from typing import Any

import altair as alt
import golden_util as golden
import numpy as np
import pandas as pd
import pytest

import finops_lib.views as views_pkg
from finops_lib.views import waterfall
from finops_lib.views.anomalies import charts as anomalies
from finops_lib.views.attribution import charts as attribution
from finops_lib.views.experiments import charts as experiments
from finops_lib.views.feature_cost import charts as feature_cost
from finops_lib.views.forecast import charts as forecast
from finops_lib.views.overview import charts as overview
from finops_lib.views.reconciliation import charts as reconciliation
from finops_lib.views.theme import chart_spec

GOLDEN = Path(__file__).parent / "golden" / "charts"
UPDATE_VAR = golden.UPDATE_VAR
REGENERATE = f"{UPDATE_VAR}=1 .venv/bin/python -m pytest tests/test_chart_golden.py"
#: Significant digits kept of every float in a spec (sums and ratios may differ in the last bits elsewhere).
FLOAT_DIGITS = 12


# --- the charts, each on a small hand-made frame --------------------------------------------------------------


def _days(start: str, periods: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=periods, freq="D")


def _spend_over_time() -> alt.TopLevelMixin:
    days = np.repeat(_days("2026-03-02", 3), 3)
    frame = pd.DataFrame({"day": days, "team": ["research", "platform", "support"] * 3,
                          "cost": [40.0, 12.5, 3.25, 38.75, 10.0, 4.0, 41.5, 14.125, 2.0]})  # fmt: skip
    return overview.plot_spend_over_time(frame, by="team", currency="USD")


def _tokens_over_time() -> alt.TopLevelMixin:
    days = np.repeat(_days("2026-03-02", 2), 2)
    frame = pd.DataFrame({"day": days, "model": ["gpt-4o-mini", "claude-sonnet-4"] * 2,
                          "tokens": [3_400_000, 1_250_000, 2_800_000, 900_000]})  # fmt: skip
    return overview.plot_tokens_over_time(frame, by="model")


def _top_movers() -> alt.TopLevelMixin:
    frame = pd.DataFrame({"model": ["gpt-4o", "claude-haiku", "gemini-flash", "gpt-4o-mini"],
                          "previous": [100.0, 50.0, 0.0, 30.0], "current": [80.0, 50.0, 12.5, 95.0]})  # fmt: skip
    frame["change"] = frame["current"] - frame["previous"]
    frame["change_pct"] = [-0.2, 0.0, np.nan, 65 / 30]  # no previous spend: no percentage
    return overview.plot_top_movers(frame, by="model", currency="EUR")


def _coverage() -> alt.TopLevelMixin:
    frame = pd.DataFrame({"source": ["openai_usage", "litellm", "aws_cur"], "start": ["2026-02-01", "2026-01-15",
                          "2026-02-01"], "end": ["2026-03-31", "2026-03-31", "2026-02-28"],
                          "rows": [1200, 56_000, 310]})  # fmt: skip
    return overview.plot_coverage(frame)


def _hierarchy() -> alt.TopLevelMixin:
    frame = pd.DataFrame({"business_unit": ["Products", "Products", "Products", "Research"],
                          "team": ["alpha", "alpha", "beta", "lab"], "application": ["chat", "search", "chat", "eval"],
                          "cost": [D("120.50"), D("30.25"), D("180"), D("350.10")]})  # fmt: skip
    return attribution.plot_hierarchy(frame, levels=("business_unit", "team", "application"), currency="USD", top=2)


def _showback() -> alt.TopLevelMixin:
    months = np.repeat(pd.to_datetime(["2026-01-01", "2026-02-01"]), 4)
    frame = pd.DataFrame({"month": months, "team": ["alpha", "beta", "gamma", "(unallocated)"] * 2,
                          "total": [D("120.40"), D("300"), D("15"), D("8.5"), D("90"), D("320.10"), D("22"),
                                    D("4")]})  # fmt: skip
    return attribution.plot_showback(frame, by="team", currency="EUR", top=2)


def _coverage_by_provider() -> alt.TopLevelMixin:
    frame = pd.DataFrame({"currency": ["USD", "USD", "USD", "EUR"],
                          "provider": ["OpenAI", "Anthropic", "All providers", "Azure"],
                          "direct": [D("80"), D("30"), D("110"), D("50")], "metered": [D("5"), D("0"), D("5"), D("0")],
                          "shared": [D("10"), D("5"), D("15"), D("0")], "spread": [D("0"), D("2"), D("2"), D("0")],
                          "unallocated": [D("5"), D("13"), D("18"), D("50")]})  # fmt: skip
    return attribution.plot_coverage_by_provider(frame, currency="USD")


def _unallocated_keys() -> alt.TopLevelMixin:
    frame = pd.DataFrame({"currency": ["USD", "USD", "USD", "EUR"],
                          "provider": ["Google", "Anthropic", "OpenAI", "Azure"],
                          "key": ["sub_account", "sub_account", "project", "subscription"],
                          "value": ["nw-x", "wrk_unknown", "proj_42", "sub-9"],
                          "name": ["Network sandbox", None, "", "Ops"],
                          "cost": [D("40"), D("12.5"), D("12.5"), D("99")]})  # fmt: skip
    return attribution.plot_unallocated_keys(frame, currency="USD")


def _unit_cost() -> alt.TopLevelMixin:
    periods = np.repeat(pd.to_datetime(["2026-03-02", "2026-03-09", "2026-03-16"]), 3)
    frame = pd.DataFrame({"period": periods, "team": ["beta", "alpha", "gamma"] * 3,
                          "cost_per_1m_tokens": [2.5, 0.75, 9.0, 2.25, np.nan, 8.5, 2.75, 0.8, 9.25],
                          "cost": [D("250"), D("30"), D("9"), D("240"), D("0"), D("8.5"), D("260"), D("32"),
                                   D("9.25")]})  # fmt: skip
    return attribution.plot_unit_cost(frame, by="team", metric="cost_per_1m_tokens", currency="USD", top=2)


def _cost_distribution() -> alt.TopLevelMixin:
    frame = pd.DataFrame({"variant": ["a"] * 3 + ["b"] * 3, "value": [0.001, 0.002, 0.003] * 2,
                          "share": [0.25, 0.5, 0.25, 0.1, 0.3, 0.6], "mean": [0.002] * 3 + [0.0025] * 3})  # fmt: skip
    return experiments.plot_cost_distribution(frame, currency="EUR")


def _differences() -> alt.TopLevelMixin:
    table = pd.DataFrame({"variant": ["b", "c", "d"], "baseline": "a", "metric": "cost",
                          "rel_diff": [0.3, -0.1, 0.05], "rel_ci_low": [0.2, -0.3, -0.02],
                          "rel_ci_high": [0.4, 0.1, 0.12], "significant": [True, False, False]})  # fmt: skip
    return experiments.plot_differences(table)


def _frontier() -> alt.TopLevelMixin:
    table = pd.DataFrame({"variant": ["a", "b", "c", "d"], "monthly_cost": [100.0, 300.0, 350.0, np.nan],
                          "monthly_low": [90.0, 280.0, 330.0, np.nan], "monthly_high": [110.0, 320.0, 370.0, np.nan],
                          "quality_mean": [0.7, 0.9, 0.85, 0.95],
                          "on_frontier": [True, True, False, False]})  # fmt: skip
    return experiments.plot_frontier(table, currency="USD")


def _projection() -> alt.TopLevelMixin:
    table = pd.DataFrame({"variant": ["a", "b", "c"], "monthly_cost": [1250.0, 3100.5, np.nan],
                          "monthly_low": [1100.0, 2900.0, np.nan], "monthly_high": [1400.0, 3300.0, np.nan],
                          "requests_per_day": [5000] * 3})  # fmt: skip
    return experiments.plot_projection(table, currency="USD")


def _before_after() -> alt.TopLevelMixin:
    daily = pd.DataFrame({"date": _days("2026-04-01", 5), "period": ["before"] * 2 + ["after"] * 3,
                          "value": [1000.0, 1200.0, 2000.0, 2100.0, np.nan],
                          "requests": [10, 30, 20, 20, 0]})  # fmt: skip
    return experiments.plot_before_after(daily)


def _decomposition() -> alt.TopLevelMixin:
    components = pd.DataFrame({"component": ["volume", "mix", "tokens_per_request", "price", "other"],
                               "amount": [D("2"), D("-0.5"), D("1"), D("0"), D("0.0125")]})  # fmt: skip
    return experiments.plot_decomposition(components, currency="USD")


def _forecast() -> alt.TopLevelMixin:
    days = _days("2026-06-01", 6)
    table = pd.DataFrame({"series": "total", "day": days, "kind": ["actual"] * 3 + ["forecast"] * 3,
                          "value": [10.0, 12.0, 11.0, 11.5, 12.0, 12.5],
                          "lower": [np.nan] * 3 + [9.0, 9.5, 9.75], "upper": [np.nan] * 3 + [14.0, 14.5, 15.25],
                          "lower_raw": [np.nan] * 3 + [10.0, 10.5, 10.75],
                          "upper_raw": [np.nan] * 3 + [13.0, 13.5, 14.25]})  # fmt: skip
    other = table.assign(series="team:alpha", value=table["value"] / 2)  # another series: ignored
    return forecast.plot_forecast(pd.concat([table, other], ignore_index=True), series="total", currency="USD",
                                  budget_per_day=11.75)  # fmt: skip


def _burn_down() -> alt.TopLevelMixin:
    frame = pd.DataFrame({"day": _days("2026-06-01", 5), "kind": ["actual"] * 3 + ["forecast"] * 2,
                          "cumulative": [10.0, 22.0, 33.0, 44.5, 56.0], "lower": [10.0, 22.0, 33.0, 42.0, 51.0],
                          "upper": [10.0, 22.0, 33.0, 47.0, 61.5], "budget": [50.0] * 5})  # fmt: skip
    return forecast.plot_burn_down(frame, currency="EUR")


def _anomaly_series() -> alt.TopLevelMixin:
    points = pd.DataFrame({"day": _days("2026-05-01", 6), "actual": [100.0, 104.0, 180.0, 101.0, 40.0, 99.0],
                           "expected": [101.0, 102.0, 103.0, 102.0, 101.0, 100.0],
                           "lower": [90.0, 91.0, 92.0, 91.0, 90.0, 89.0],
                           "upper": [112.0, 113.0, 114.0, 113.0, 112.0, 111.0],
                           "score": [-0.1, 0.2, 6.5, -0.1, -5.2, -0.1],
                           "reported": [False, False, True, False, True, False]})  # fmt: skip
    alerts = pd.DataFrame({"anomaly_id": ["A-1"], "first_seen": pd.to_datetime(["2026-05-03"]),
                           "last_seen": pd.to_datetime(["2026-05-03"])})  # fmt: skip
    return anomalies.plot_anomaly_series(points, currency="USD", alerts=alerts)


def _decomposition_waterfall() -> alt.TopLevelMixin:
    components = pd.DataFrame({"component": ["volume", "mix", "tokens_per_request", "price", "other"],
                               "amount": [D("60"), D("-4.5"), D("21"), D("0"), D("0.5")]})  # fmt: skip
    return anomalies.plot_decomposition_waterfall(components, baseline=D("103"), current=D("180"), currency="EUR")


def _drilldown() -> alt.TopLevelMixin:
    drill = pd.DataFrame({"dimension": ["model", "model", "team", "team", "provider"],
                          "value": ["gpt-4o", "gpt-4o-mini", "alpha", "beta", "OpenAI"],
                          "change": [D("70"), D("7"), D("-3"), D("80"), D("77")]})  # fmt: skip
    return anomalies.plot_drilldown(drill, currency="USD", skip=("provider",))


def _invoiced_vs_estimated() -> alt.TopLevelMixin:
    frame = pd.DataFrame({"period": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"]),
                          "invoiced": [D("1000.10"), D("1100"), D("950.5")],
                          "estimated": [D("990"), D("1105.25"), D("950.5")]})  # fmt: skip
    return reconciliation.plot_invoiced_vs_estimated(frame, currency="USD", granularity="month")


def _gap_waterfall() -> alt.TopLevelMixin:
    frame = pd.DataFrame({"component": ["volume", "rate", "cache", "non_ai"], "amount": [D("90"), D("-5"), D("0"),
                          D("12.5")], "estimated": D("1000"), "invoiced": D("1097.5")})  # fmt: skip
    return reconciliation.plot_gap_waterfall(frame, currency="EUR")


def _gap_components() -> alt.TopLevelMixin:
    periods = np.repeat(_days("2026-03-01", 2), 4)
    frame = pd.DataFrame({"period": periods, "component": ["volume", "rate", "cache", "tier"] * 2,
                          "amount": [D("1"), D("-6.5"), D("4"), D("0"),
                                     D("2"), D("-3.5"), D("-2"), D("0")]})  # fmt: skip
    return reconciliation.plot_gap_components(frame, currency="USD")


def _agreement() -> alt.TopLevelMixin:
    periods = np.repeat(_days("2026-03-01", 3), 2)
    frame = pd.DataFrame({"period": periods, "ProviderName": ["OpenAI", "Anthropic"] * 3,
                          "gap_pct": [0.0004, -0.0002, 0.0021, np.nan, -0.0008, 0.0]})  # fmt: skip
    return reconciliation.plot_agreement(frame)


def _waterfall() -> alt.TopLevelMixin:
    steps = waterfall.waterfall_steps([("Volume", 2.0), ("Price", -0.5), ("Other", 0.0)], start=("Before", 10.0),
                                      end="After")  # fmt: skip
    return waterfall.plot_waterfall(steps, currency="USD", title="From before to after")


def _layer_stack() -> alt.TopLevelMixin:
    frame = pd.DataFrame({"month": ["2026-05-01"] * 3 + ["2026-06-01"] * 2,
                          "layer": ["model_inference", "retrieval", "seats", "model_inference", "compute"],
                          "cost": [D("140"), D("37.5"), D("120"), D("150.25"), D("55.99")]})  # fmt: skip
    return feature_cost.plot_layer_stack(frame, currency="USD", title="What support-chatbot/answers cost each month")


def _feature_layers() -> alt.TopLevelMixin:
    frame = pd.DataFrame({"feature": ["bot/answers", "bot/answers", "search", "search", "ops", "lab"],
                          "layer": ["model_inference", "observability", "embeddings", "retrieval", "compute", "other"],
                          "cost": [D("300"), D("29.32"), D("6"), D("12.5"), D("40"), D("1")]})  # fmt: skip
    return feature_cost.plot_feature_layers(frame, currency="EUR", top=3, title="Features by whole cost")


def _unit_trend() -> alt.TopLevelMixin:
    frame = pd.DataFrame({"month": ["2026-05-01", "2026-06-01", "2026-05-01", "2026-06-01"],
                          "feature": ["bot/answers", "bot/answers", "search", "search"],
                          "per_request": [D("0.0731"), D("0.0655"), None, D("0.012")]})  # fmt: skip
    return feature_cost.plot_unit_trend(frame, value="per_request", label="Cost per request", currency="USD",
                                        title="Cost per request, by feature and month")  # fmt: skip


def _selfhosted() -> alt.TopLevelMixin:
    days = pd.DataFrame({"deployment": ["vllm-llama-8b"] * 3, "day": _days("2026-05-01", 3),
                         "per_1m_blended": [D("1.6"), D("1.828571428571"), D("1.7")]})  # fmt: skip
    api = pd.DataFrame({"deployment": ["vllm-llama-8b"], "api_model": ["OpenAI gpt-4o-mini"],
                        "api_per_1m": [D("0.24")], "cost_per_day": [D("24")]})  # fmt: skip
    return feature_cost.plot_selfhosted(days, api, currency="USD")


#: Chart name (``<page>.<plot function>``) -> a call of that function on a small frame.
CASES: dict[str, Callable[[], alt.TopLevelMixin]] = {
    "overview.plot_spend_over_time": _spend_over_time,
    "overview.plot_tokens_over_time": _tokens_over_time,
    "overview.plot_top_movers": _top_movers,
    "overview.plot_coverage": _coverage,
    "attribution.plot_hierarchy": _hierarchy,
    "attribution.plot_showback": _showback,
    "attribution.plot_coverage_by_provider": _coverage_by_provider,
    "attribution.plot_unallocated_keys": _unallocated_keys,
    "attribution.plot_unit_cost": _unit_cost,
    "experiments.plot_cost_distribution": _cost_distribution,
    "experiments.plot_differences": _differences,
    "experiments.plot_frontier": _frontier,
    "experiments.plot_projection": _projection,
    "experiments.plot_before_after": _before_after,
    "experiments.plot_decomposition": _decomposition,
    "forecast.plot_forecast": _forecast,
    "forecast.plot_burn_down": _burn_down,
    "anomalies.plot_anomaly_series": _anomaly_series,
    "anomalies.plot_decomposition_waterfall": _decomposition_waterfall,
    "anomalies.plot_drilldown": _drilldown,
    "reconciliation.plot_invoiced_vs_estimated": _invoiced_vs_estimated,
    "reconciliation.plot_gap_waterfall": _gap_waterfall,
    "reconciliation.plot_gap_components": _gap_components,
    "reconciliation.plot_agreement": _agreement,
    "waterfall.plot_waterfall": _waterfall,
    "feature_cost.plot_layer_stack": _layer_stack,
    "feature_cost.plot_feature_layers": _feature_layers,
    "feature_cost.plot_unit_trend": _unit_trend,
    "feature_cost.plot_selfhosted": _selfhosted,
}


# --- normalising a spec ---------------------------------------------------------------------------------------

#: Names Altair derives from content hashes (or counters, in older versions): renamed in order of use.
_GENERATED = {
    "data": re.compile(r"\bdata-[0-9a-f]{8,}\b"),
    "param": re.compile(r"\bparam_[0-9a-f]+\b"),
    "view": re.compile(r"\bview_[0-9a-f]+(?:_\d+)?\b"),
}


def _round_floats(value: Any) -> Any:
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"non-finite number {value!r} in a chart spec (not valid JSON)")
        return float(f"{value:.{FLOAT_DIGITS}g}") + 0.0  # + 0.0: -0.0 reads 0.0
    if isinstance(value, dict):
        return {key: _round_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_round_floats(item) for item in value]
    return value


def normalize_spec(spec: dict[str, Any]) -> str:
    """Return ``spec`` as stable JSON text: generated names renamed in order of use, no ``$schema``, floats rounded.

    Names are numbered in the order the spec uses them, the ``datasets`` table last, so ``data_1`` is the data of
    the top-level chart or first layer whatever the content hashes.
    """
    spec = {key: value for key, value in spec.items() if key not in ("$schema", "datasets")} | (
        {"datasets": spec["datasets"]} if "datasets" in spec else {})  # fmt: skip
    text = json.dumps(spec, ensure_ascii=False)  # no default=str: a Decimal left in a chart fails, as on display
    for prefix, pattern in _GENERATED.items():
        names: dict[str, str] = {}
        for match in pattern.finditer(text):
            names.setdefault(match.group(), f"{prefix}_{len(names) + 1}")
        text = pattern.sub(lambda m, names=names: names[m.group()], text)
    return json.dumps(_round_floats(json.loads(text)), sort_keys=True, indent=1, ensure_ascii=False,
                      allow_nan=False) + "\n"  # fmt: skip


def render(name: str) -> str:
    """Return the normalised spec of chart ``name`` (a key of :data:`CASES`)."""
    return normalize_spec(chart_spec(CASES[name]()))


# --- comparing with a golden file -----------------------------------------------------------------------------


def check_golden(name: str, text: str, *, folder: Path = GOLDEN, update: bool | None = None) -> None:
    """Compare ``text`` with ``folder/<name>.json`` (see :func:`golden_util.check_golden`)."""
    golden.check_golden(folder / f"{name}.json", text, what=f"the chart spec of {name}", regenerate=REGENERATE,
                        update=update)  # fmt: skip


def test_normalize_spec_renames_generated_names_in_order_of_use() -> None:
    spec = {"$schema": "https://vega.github.io/schema/vega-lite/v6.json",
            "datasets": {"data-ffff0000ffff0000": [{"x": 0.1 + 0.2, "y": -0.0}], "data-0000ffff0000ffff": [{"x": 1}]},
            "layer": [{"data": {"name": "data-ffff0000ffff0000"}, "name": "view_9"},
                      {"data": {"name": "data-0000ffff0000ffff"}, "params": [{"name": "param_7", "views": ["view_9"]}],
                       "transform": [{"filter": {"param": "param_7"}}]}]}  # fmt: skip
    out = json.loads(normalize_spec(spec))
    assert "$schema" not in out and list(out) == sorted(out)
    assert [layer["data"]["name"] for layer in out["layer"]] == ["data_1", "data_2"]
    assert out["datasets"] == {"data_1": [{"x": 0.3, "y": 0.0}], "data_2": [{"x": 1}]}
    assert out["layer"][0]["name"] == "view_1"
    assert out["layer"][1]["params"][0] == {"name": "param_1", "views": ["view_1"]}
    assert out["layer"][1]["transform"][0]["filter"]["param"] == "param_1"


# --- the goldens ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_chart_matches_golden(name: str) -> None:
    check_golden(name, render(name))


def test_chart_spec_is_stable_within_a_process() -> None:
    """Building a chart again gives the same text (no counter, clock or random state in the spec)."""
    name = "experiments.plot_frontier"
    assert render(name) == render(name)


def test_golden_files_are_the_charts() -> None:
    """Every golden file belongs to a case: a chart removed or renamed leaves no stale golden behind."""
    files = {path.stem for path in GOLDEN.glob("*.json")}
    stale, missing = sorted(files - set(CASES)), sorted(set(CASES) - files)
    assert not stale, f"golden files without a chart in CASES, delete them: {stale}"
    assert not missing, f"charts without a golden file, create them with {REGENERATE}: {missing}"


def _chart_modules() -> dict[str, ModuleType]:
    """Page name -> ``finops_lib.views.<page>.charts`` for every page package, plus the shared waterfall."""
    modules = {"waterfall": waterfall}
    for info in pkgutil.iter_modules(views_pkg.__path__):
        if info.ispkg:
            try:
                modules[info.name] = importlib.import_module(f"{views_pkg.__name__}.{info.name}.charts")
            except ModuleNotFoundError as exc:
                if exc.name != f"{views_pkg.__name__}.{info.name}.charts":
                    raise
    return modules


def plot_functions() -> set[str]:
    """``<page>.<plot_*>`` of every public ``plot_*`` function defined (not imported) in a chart module."""
    return {f"{page}.{name}" for page, module in _chart_modules().items()
            for name, fn in inspect.getmembers(module, inspect.isfunction)
            if name.startswith("plot_") and fn.__module__ == module.__name__}  # fmt: skip


def test_every_plot_function_has_a_case() -> None:
    """A new chart (or a renamed one) fails here until it gets a case in CASES and a golden file."""
    found = plot_functions()
    assert len(found) >= 25 and {"overview", "reconciliation", "waterfall"} <= {n.split(".")[0] for n in found}
    new, gone = sorted(found - set(CASES)), sorted(set(CASES) - found)
    assert not new, f"plot functions without a golden case, add them to CASES: {new}"
    assert not gone, f"cases of functions that no longer exist: {gone}"
