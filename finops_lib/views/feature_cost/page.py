"""The feature cost page (``60_feature_cost``): parameters, facts, feature map, the answer and ``results.json``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
from ibis.backends import BaseBackend

from finops_lib import checks, paths, pricing
from finops_lib.errors import ParameterError, SourceError
from finops_lib.facts import Facts, open_facts
from finops_lib.feature_cost import UNASSIGNED
from finops_lib.rules import resolve_feature_map, resolve_rules
from finops_lib.rules.feature_map import FeatureMap
from finops_lib.views.feature_cost.charts import layer_label
from finops_lib.views.tables import fmt_unit_money
from finops_lib.views.theme import fmt_money

__all__ = ["check_parameters", "chosen_feature", "describe_map", "findings", "load", "named_features", "results"]

ALL = "all"


def check_parameters(*, feature: str = "", application: str = "", start_date: str | None = None,
                     end_date: str | None = None, top_n: int = 10) -> dict[str, Any]:  # fmt: skip
    """Check the page's parameters; return them normalized (names are checked against the data later).

    Raises
    ------
    ParameterError
        On a malformed date, a start after the end, or a non-positive ``top_n``.
    """
    first, last = checks.window(start_date, end_date)
    return {"feature": str(feature or "").strip(), "application": str(application or "").strip(),
            "start_date": first and first.isoformat(), "end_date": last and last.isoformat(),
            "top_n": checks.positive_int("top_n", top_n)}  # fmt: skip


def load(con: BaseBackend, *, data_dir: str | None = None, feature_map: str = "", rules_file: str = "",
         currency: str = "USD", convert_currency: bool = True, catalog_files: tuple[str, ...] = (),
         **parameters: Any) -> tuple[Facts, FeatureMap, pricing.Catalog, dict[str, Any]]:  # fmt: skip
    """Return the page's facts (window applied), feature map, price catalog and checked parameters.

    Parameters
    ----------
    con
        The warehouse (:func:`finops_lib.warehouse.open_data`).
    data_dir, feature_map, rules_file
        The data folder's ``config/feature_map.yaml`` and ``config/allocation_rules.yaml`` when the file parameter
        is empty, ``none`` for tags only, else a file (:func:`finops_lib.rules.resolve_feature_map`).
    currency, convert_currency
        The money's currency; convert other billing currencies at the charge day's rate, else show only the rows
        billed in ``currency``.
    catalog_files
        Price catalogs layered over the shipped one (the API models self-hosted ones are compared with).
    **parameters
        ``feature``, ``application``, ``start_date``, ``end_date``, ``top_n`` (:func:`check_parameters`).

    Raises
    ------
    ParameterError, SourceError
        On a bad parameter, or a malformed rules file (naming its line). A malformed feature map does not stop
        the page: it is read as no map, and ``feature_map_error`` says why (the answer leads with it).
    """
    filters = check_parameters(**parameters)
    try:
        fmap, map_error = resolve_feature_map(feature_map, data_dir), ""
    except SourceError as exc:  # the page still shows what tags place, and leads with what to fix
        fmap = FeatureMap.empty()
        map_error = f"The feature map cannot be used: {exc}. Until it is fixed, features come from tags only."
    facts = open_facts(con, currency=checks.currency_code(currency), rules=resolve_rules(rules_file, data_dir),
                       convert=convert_currency, start_date=filters["start_date"],
                       end_date=filters["end_date"])  # fmt: skip
    facts = facts.explore()  # the page asks many questions of the same rows: scope them once
    catalog = pricing.catalog_for(data_dir, *catalog_files)
    return facts, fmap, catalog, {**filters, "currency": facts.currency, "feature_map": paths.shown(fmap.source),
                                  "feature_map_error": map_error}  # fmt: skip


def _features(frame: pd.DataFrame) -> pd.Series:
    """Cost per feature over the window (Decimal), largest first, ``(unassigned)`` left out."""
    placed = frame[frame["feature"] != UNASSIGNED]
    totals = placed.groupby("feature")["cost"].agg(lambda s: sum(s, Decimal(0)))
    return totals.sort_values(ascending=False, kind="stable")


def named_features(fmap: FeatureMap) -> set[str]:
    """Return the features a feature map names (its entries, shared weights, namespaces and ``among`` lists)."""
    names = {f"{e.application}/{e.feature}" if e.feature else e.application for e in fmap.features}
    for shared in fmap.shared:
        for option in ("weights", "namespaces", "among"):
            value = shared.options.get(option) or {}
            names |= set(value.values()) if option == "namespaces" else set(value)
    return {str(n) for n in names}


def chosen_feature(frame: pd.DataFrame, *, feature: str, application: str,
                   preferred: set[str] | frozenset[str] = frozenset()) -> tuple[str | None, list[str]]:  # fmt: skip
    """Return the feature the page leads with and the features shown (those of ``application`` when given).

    ``feature`` empty: the largest feature of the window (of ``application`` when given) among ``preferred`` (the
    features the feature map names) when any has cost, else among all; otherwise the feature named
    ``application/feature``, ``application`` or a bare feature name (case-insensitive).

    Raises
    ------
    ParameterError
        When ``application`` or ``feature`` names nothing in the window (the message lists what there is).
    """
    totals = _features(frame)
    names = list(totals.index)
    if application and application.lower() != ALL:
        apps = sorted({n.split("/", 1)[0] for n in names})
        match = next((a for a in apps if a.lower() == application.lower()), None)
        if match is None:
            raise ParameterError(f"unknown application {application!r}; this window has "
                                 f"{', '.join(apps) or 'no application'}")  # fmt: skip
        names = [n for n in names if n.split("/", 1)[0] == match]
    if not feature or feature.lower() == ALL:
        lead = [n for n in names if n in preferred] or names
        return (lead[0] if lead else None), names
    wanted = feature.lower()
    found = [n for n in names if n.lower() == wanted] or [n for n in names if n.split("/", 1)[-1].lower() == wanted]
    if not found:
        raise ParameterError(f"unknown feature {feature!r}; this window has {', '.join(names) or 'no feature'}")
    return found[0], names


def _pct(part: Decimal, whole: Decimal) -> str:
    if not whole:
        return "n/a"
    share = float(part / whole)
    return f"{share:.0%}" if share == 0 or abs(share) >= 0.1 else f"{share:.1%}"


def findings(fc: Any) -> str:
    """Return the page's answer: the lead feature's cost in its last month, the part outside model tokens, units.

    ``fc`` is :func:`finops_lib.views.feature_cost.sections.feature_cost`.
    """
    if fc.problem:
        return fc.problem
    currency, summary = fc.currency, fc.summary
    parts = [fc.params["feature_map_error"]] if fc.params.get("feature_map_error") else []
    total = sum(fc.stack.inputs["cost"], Decimal(0))
    unassigned = sum(fc.stack.frame.loc[fc.stack.frame["feature"] == UNASSIGNED, "cost"], Decimal(0))
    if fc.feature is None:
        parts.append(f"No feature in this window: all {fmt_money(total, currency)} is unassigned. Tag rows with "
                     "app and feature, or map them in config/feature_map.yaml (docs/feature_cost.md).")  # fmt: skip
        return " ".join(parts)
    mine = summary[summary["feature"] == fc.feature]
    last = mine.iloc[-1]
    month = f"{last['month']:%B %Y}"
    sentence = (f"{fc.feature} cost {fmt_money(last['cost'], currency)} in {month}, "
                f"{_pct(last['other_cost'], last['cost'])} of it outside model tokens")  # fmt: skip
    units = [f"{fmt_unit_money(last[c], currency)} per {word}" for c, word in
             (("per_request", "request"), ("per_active_user", "active user"), ("per_1m_tokens", "1M tokens"))
             if last[c] is not None]  # fmt: skip
    parts.append(sentence + (f"; {', '.join(units)}." if units else "."))
    layers = fc.stack.frame[(fc.stack.frame["feature"] == fc.feature) & (fc.stack.frame["month"] == last["month"])]
    by_layer = layers.groupby("layer")["cost"].agg(lambda s: sum(s, Decimal(0))).sort_values(ascending=False)
    if len(by_layer) > 1:
        parts.append("Layers: " + ", ".join(f"{layer_label(k)} {fmt_money(v, currency)}" for k, v in
                                            by_layer.head(4).items()) + ".")  # fmt: skip
    if isinstance(last["change"], Decimal) and len(mine) > 1:
        word = "up" if last["change"] > 0 else "down"
        parts.append(f"{word.capitalize()} {fmt_money(abs(last['change']), currency)} from the month before.")
    if unassigned:
        parts.append(f"All features: {fmt_money(total - unassigned, currency)} of {fmt_money(total, currency)} "
                     f"placed; {fmt_money(unassigned, currency)} ({_pct(unassigned, total)}) has no feature.")
    else:
        parts.append(f"Every amount of the window's {fmt_money(total, currency)} is in a feature.")
    if fc.fmap.source == "(tags only)" and not fc.params.get("feature_map_error"):
        parts.append("No feature map: features come from app/feature tags and the allocation rules only.")
    return " ".join(parts)


def _options(options: Any) -> str:
    """Return a shared service's options as a reader writes them: ``namespaces: chatbot-rag -> bot/answers; ...``."""
    parts = []
    for key, value in options.items():
        if isinstance(value, dict):
            shown = ", ".join(f"{k} -> {v}" if key == "namespaces" else f"{k} {v:g}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            shown = ", ".join(str(v) for v in value)
        else:
            shown = str(value)
        parts.append(f"{key}: {shown}")
    return "; ".join(parts)


def describe_map(fmap: FeatureMap) -> pd.DataFrame:
    """Return the feature map's entries, one row each: section, name, what it places, layer, strategy, line."""
    rows = [{"section": "features", "name": e.name, "places": f"{e.application}/{e.feature}" if e.feature else
             e.application, "layer": layer_label(e.layer) if e.layer else "", "strategy": "", "line": e.line}
            for e in fmap.features]  # fmt: skip
    rows += [{"section": "shared", "name": s.name, "places": _options(s.options) or "every feature with cost",
              "layer": layer_label(s.layer) if s.layer else "", "strategy": s.strategy, "line": s.line}
             for s in fmap.shared]  # fmt: skip
    rows += [{"section": "layers", "name": "", "places": "", "layer": layer_label(e.layer), "strategy": "",
              "line": e.line} for e in fmap.layers]  # fmt: skip
    rows += [{"section": "deployments", "name": d.name, "places": "OpenCost GPU cost" if d.gpu == "opencost" else
              "GPU bill rows", "layer": "", "strategy": " ".join(d.compare_with) if d.compare_with else "",
              "line": d.line} for d in fmap.deployments]  # fmt: skip
    return pd.DataFrame(rows, columns=["section", "name", "places", "layer", "strategy", "line"])


def _text(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else value


def results(fc: Any, *, filters: dict[str, Any]) -> dict[str, Any]:
    """Return the page's ``results.json``.

    Returns
    -------
    dict
        ``headline``, ``findings``, ``date_range``, ``filters``, ``feature`` (the lead feature), ``input_total`` and
        ``stack_total`` (exact text: equal), ``by_feature`` (feature -> month -> layer -> cost text),
        ``summary`` (per feature and month: cost, other cost, share outside model tokens, units),
        ``selfhosted`` (per deployment: cost per day, $/1M, API $/1M, break-even, idle cost) and ``notes``.
    """
    currency = fc.currency
    if fc.problem:
        return {"headline": {"Feature cost": fc.problem}, "findings": fc.problem, "date_range": None,
                "filters": filters, "feature": None, "input_total": {}, "stack_total": {}, "by_feature": {},
                "summary": [], "selfhosted": [], "notes": list(fc.notes), "facts": fc.facts.describe()}  # fmt: skip
    frame = fc.stack.frame
    total = sum(fc.stack.inputs["cost"], Decimal(0))
    stacked = sum(frame["cost"], Decimal(0))
    by_feature: dict[str, Any] = {}
    for (feature, month, layer), part in frame.groupby(["feature", "month", "layer"], sort=True):
        by_feature.setdefault(feature, {}).setdefault(f"{month:%Y-%m}", {})[layer] = str(sum(part["cost"], Decimal(0)))
    summary = [{k: _text(v) for k, v in rec.items()} | {"month": f"{rec['month']:%Y-%m}"}
               for rec in fc.summary.drop(columns=["currency"]).to_dict("records")]  # fmt: skip
    lead = fc.summary[fc.summary["feature"] == fc.feature].iloc[-1] if fc.feature else None
    headline = {f"Spend placed ({currency})": fmt_money(total, currency),
                "Features": str(len(_features(frame)))}  # fmt: skip
    if lead is not None:
        headline[f"{fc.feature}, {lead['month']:%b %Y}"] = fmt_money(lead["cost"], currency)
        headline["Outside model tokens"] = _pct(lead["other_cost"], lead["cost"])
    first, last = fc.facts.date_range("money")
    return {
        "headline": headline,
        "findings": findings(fc),
        "date_range": [str(first), str(last)] if first else None,
        "filters": filters,
        "feature": fc.feature,
        "input_total": {currency: str(total)},
        "stack_total": {currency: str(stacked)},
        "by_feature": by_feature,
        "summary": summary,
        "selfhosted": [{k: _text(v) for k, v in rec.items()} for rec in fc.serving.comparison.to_dict("records")]
        if fc.serving is not None else [],
        "notes": list(fc.notes),
        "facts": fc.facts.describe(),
    }  # fmt: skip
