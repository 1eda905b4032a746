"""Glue of the experiment notebook (``20_experiment_comparison``): parameters, request logs, results.

Parameters are checked against the data; the request logs get mapped experiments and joined scores; the
``results.json`` payload is assembled here.

The analyses themselves live in :mod:`finops_lib.experiments.comparison` (variants, statistics),
:mod:`finops_lib.experiments.projection` and :mod:`finops_lib.experiments.changes`; this module only resolves the
notebook's literal parameters (empty means "the obvious default") and says clearly what is wrong with them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from finops_lib import checks
from finops_lib.errors import ParameterError
from finops_lib.experiments import comparison as experiments
from finops_lib.experiments import inputs as experiment_sources
from finops_lib.experiments import projection
from finops_lib.facts import Facts, build_cells, open_facts
from finops_lib.rules import resolve_rules

__all__ = [
    "NO_EXPERIMENT",
    "VARIANT_LABELS",
    "change_data",
    "check_parameters",
    "compare",
    "load",
    "load_requests",
    "pick_change",
    "power_plan",
    "project",
    "results",
]

#: Said when no experiment can be compared: none tagged, or each tagged one has a single variant.
NO_EXPERIMENT = ("no experiment with two or more variants is tagged in the request logs (an experiment id, "
                 "x_ExperimentId, whose requests carry at least two variant values): tag requests (LiteLLM metadata "
                 "or request tags, Langfuse tags, OpenTelemetry attributes) or pass experiment_map")

#: Display names of the :func:`finops_lib.experiments.comparison.variants` columns shown in the notebook.
VARIANT_LABELS: dict[str, str] = {
    "variant": "Variant", "requests": "Requests", "failure_rate": "Failures", "input_uncached_per_request":
    "Uncached input / req", "input_cache_read_per_request": "Cache read / req", "input_cache_write_5m_per_request":
    "Cache write 5m / req", "input_cache_write_1h_per_request": "Cache write 1h / req", "output_per_request":
    "Output / req", "cost_mean": "Cost / req (mean)", "cost_median": "Median", "cost_p95": "p95",
    "cost_per_success": "Cost / success",
    "cache_hit_rate": "Cache hit rate", "latency_p50": "Latency p50 (ms)", "latency_p95": "Latency p95 (ms)",
    "quality_mean": "Quality", "cost_per_quality": "Cost / quality point",
}  # fmt: skip


def load(con: BaseBackend, *, data_dir: str | None = None, rules_file: str = "",
         currency: str = "USD", quality_file: str = "",
         experiment_map: str = "", **parameters: Any) -> tuple[Facts, ir.Table, dict]:  # fmt: skip
    """Return the page's facts, the request logs with mapped experiments and joined scores, and the parameters.

    Parameters
    ----------
    con
        The warehouse (:func:`finops_lib.warehouse.open_data`).
    data_dir
        The data folder (its allocation rules name the requests' owners); None for the committed sample.
    currency
        Currency of every amount (logged costs are converted at each request's day rate).
    quality_file, experiment_map
        As :func:`load_requests`.
    **parameters
        As :func:`check_parameters`.
    """
    facts = open_facts(con, currency=checks.currency_code(currency), rules=resolve_rules(rules_file, data_dir))
    facts = facts.explore()  # the page asks many questions of the same rows: scope them once
    requests = load_requests(facts, quality_file=quality_file, experiment_map=experiment_map)
    return facts, requests, check_parameters(requests, **parameters)


def load_requests(facts: Facts, *, quality_file: str = "", experiment_map: str = "") -> ir.Table:
    """Return the facts' request rows with experiments from a mapping file and scores from a scores file.

    Parameters
    ----------
    facts : Facts
        The facts (their request logs, in their currency).
    quality_file, experiment_map : str
        CSV paths (:func:`finops_lib.experiments.inputs.read_quality`, ``read_experiment_map``); empty: none.

    Returns
    -------
    ibis Table
    """
    t = facts.request_rows()
    if experiment_map:
        t = experiment_sources.assign_experiments(t, experiment_sources.read_experiment_map(experiment_map))
    if quality_file:
        t = experiment_sources.join_quality(t, experiment_sources.read_quality(quality_file))
    return t


def check_parameters(requests: ir.Table, *, experiment: str = "", baseline: str = "", metric: str = "cost",
                     price_date: str = "", cache_hit_rate: float = -1.0, batch_share: float = 0.0,
                     requests_per_day: float = 10_000) -> dict:  # fmt: skip
    """Resolve and check the notebook's parameters.

    Parameters
    ----------
    requests : ibis Table
        :func:`load_requests`.
    experiment : str
        Experiment id; empty: the one with the most requests.
    baseline : str
        Baseline variant; empty: the first in sorted order.
    metric : str
        A key of :data:`finops_lib.experiments.comparison.REQUEST_METRICS`.
    price_date : str
        ISO day of the projection's prices; empty: the last day with requests.
    cache_hit_rate : float
        Negative keeps each request's logged split; else 0 to 1.
    batch_share : float
        0 to 1.
    requests_per_day : float
        Projected volume, positive.

    Returns
    -------
    dict
        ``experiment`` (None when no request carries one: the notebook then shows the before/after view only),
        ``start`` and ``end`` (the experiment's, else the logs' first and last day, None without logs),
        ``baseline``, ``metric``,
        ``price_date`` (date), ``cache_hit_rate`` (float or None),
        ``batch_share``, ``requests_per_day``, ``experiments`` (the :func:`finops_lib.experiments.comparison.variants`
        summary of every experiment).

    Raises
    ------
    ParameterError
        An unknown experiment, baseline or metric, or a value out of range.
    """
    summary = experiments.variants(requests)
    sizes = summary.groupby("experiment")["requests"].sum().sort_values(ascending=False)
    arms = summary.groupby("experiment")["variant"].nunique()
    if summary.empty and (experiment or baseline):
        raise ParameterError(f"experiment {experiment or baseline!r} not found: {NO_EXPERIMENT}")
    comparable = [str(e) for e in sizes.index if arms[e] >= 2]  # the largest experiment that has two arms
    experiment = experiment or (comparable[0] if comparable else None)
    if experiment is not None and experiment not in sizes.index:
        raise ParameterError(f"experiment {experiment!r} not found; experiments in the data: {list(sizes.index)}")
    if experiment is not None and arms[experiment] < 2:
        raise ParameterError(f"experiment {experiment!r} has one variant: a comparison needs two; experiments "
                             f"with two or more: {comparable or 'none'}")  # fmt: skip
    names = sorted(summary.loc[summary["experiment"] == experiment, "variant"]) if experiment else []
    baseline = baseline or (names[0] if names else None)
    if names and baseline not in names:
        raise ParameterError(f"baseline {baseline!r} is not a variant of {experiment!r}: {names}")
    if metric not in experiments.REQUEST_METRICS:
        raise ParameterError(f"unknown metric {metric!r}; expected one of {sorted(experiments.REQUEST_METRICS)}")
    if cache_hit_rate > 1 or not 0 <= batch_share <= 1 or requests_per_day <= 0:
        raise ParameterError("cache_hit_rate must be at most 1 (negative: as logged), batch_share between 0 and 1, "
                             "requests_per_day positive")  # fmt: skip
    exp = requests.filter(requests.x_ExperimentId == experiment) if experiment else requests
    span = exp.aggregate(start=exp.ChargePeriodStart.min(), end=exp.ChargePeriodStart.max()).to_pandas().iloc[0]
    start, end = (None, None) if pd.isna(span["start"]) else (span["start"].date(), span["end"].date())
    last = requests.ChargePeriodStart.max().to_pandas() if experiment else span["end"]
    day = dt.date.fromisoformat(price_date) if price_date else (
        pd.Timestamp(last).date() if not pd.isna(last) else dt.datetime.now(dt.UTC).date())
    return {"experiment": experiment, "start": start, "end": end, "baseline": baseline,
            "metric": metric, "price_date": day,
            "cache_hit_rate": None if cache_hit_rate < 0 else float(cache_hit_rate), "batch_share": batch_share,
            "requests_per_day": requests_per_day, "experiments": summary}  # fmt: skip


def change_data(facts: Facts, requests: ir.Table, *, source: str = "auto") -> ir.Table | pd.DataFrame:
    """Return what the before/after view reads: the request logs, or the daily cell facts of every source.

    Parameters
    ----------
    facts : Facts
        The facts (their cells are read when the logs are too short).
    requests : ibis Table
        :func:`load_requests`.
    source : {"auto", "requests", "facts"}
        ``auto``: the request logs when they hold at least 14 days, else the cell facts (usage feeds with request
        counts, :mod:`finops_lib.experiments.metered`).

    Returns
    -------
    ibis Table or DataFrame
    """
    if source not in ("auto", "requests", "facts"):
        raise ParameterError(f"change_source must be auto, requests or facts, not {source!r}")
    if source == "auto":
        days = requests.ChargePeriodStart.date().nunique().to_pandas()
        source = "requests" if days >= 14 else "facts"
    if source == "requests":
        return requests
    return build_cells(facts)


def pick_change(changes: pd.DataFrame, *, change_date: str = "", application: str = "",
                feature: str = "") -> tuple[str, dict[str, str | None]]:  # fmt: skip
    """Return the change day and scope of the before/after view: the parameters, else the largest real change found.

    A found change is real when its Welch p-value is below 0.05 and tokens per request moved by at least 5 %.

    Parameters
    ----------
    changes : DataFrame
        :func:`finops_lib.experiments.changes.find_changes` (request logs: application and feature; facts: team and
        application).
    change_date, application, feature : str
        The notebook's parameters; empty means "as found".

    Returns
    -------
    (str, dict)
        ISO day (empty when nothing was found or given) and the scope (column -> value).
    """
    real = changes[(changes["p_value"] < 0.05) & ((changes["ratio"] - 1).abs() >= 0.05)] if len(changes) else changes
    found = real.iloc[0] if len(real) else None  # only a real shift (p < 0.05, at least 5 %) is "found"

    def value(column: str, fallback: str = "") -> str | None:  # a missing value matches rows without one
        got = found.get(column, found.get(fallback, "")) if found is not None else ""
        return None if got is None or (not isinstance(got, str) and pd.isna(got)) else str(got)

    scope: dict[str, str | None] = {"x_Application": application or value("x_Application", "application")}
    if "x_Feature" in changes.columns or feature:
        scope["x_Feature"] = feature or value("x_Feature")
    elif "team" in changes.columns and found is not None and not application:
        scope["x_Team"] = value("team")
    day = change_date or (str(found["change_date"]) if found is not None and pd.notna(found["change_date"]) else "")
    return day, scope


def compare(requests: ir.Table, params: dict, *, n_boot: int = 2000, seed: int = 0) -> experiments.Comparison | None:
    """Return the variant comparison for the checked parameters, None without an experiment."""
    if not params["experiment"]:
        return None
    return experiments.compare(requests, params["experiment"], baseline=params["baseline"], metric=params["metric"],
                               n_boot=n_boot, seed=seed)  # fmt: skip


def power_plan(requests: ir.Table, params: dict) -> pd.DataFrame | None:
    """Return the requests per arm that detect a 10% and a 5% difference, per variant; None without an experiment."""
    if not params["experiment"]:
        return None
    plan = experiments.power(requests, params["experiment"], relative_effect=0.10, metric=params["metric"])
    five = experiments.power(requests, params["experiment"], relative_effect=0.05, metric=params["metric"])
    return plan.rename(columns={"n_per_arm": "n_per_arm_10pct"}).assign(n_per_arm_5pct=five["n_per_arm"])


def project(requests: ir.Table, params: dict, *, days: int = 30, n_boot: int = 2000,
            seed: int = 0) -> pd.DataFrame | None:  # fmt: skip
    """Return the projection with its frontier; None without an experiment."""
    if not params["experiment"]:
        return None
    return projection.frontier(projection.project(
        requests, params["experiment"], requests_per_day=params["requests_per_day"],
        cache_hit_rate=params["cache_hit_rate"], batch_share=params["batch_share"], price_date=params["price_date"],
        days=days, n_boot=n_boot, seed=seed))  # fmt: skip


def _date_range(params: dict, change: object) -> list[str] | None:
    """Return the experiment's days, else the before/after windows, else None."""
    if params["start"] is not None:
        return [str(params["start"]), str(params["end"])]
    if change is not None:
        return [str(change.window[0]), str(change.window[2] - dt.timedelta(days=1))]
    return None


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of strings, missing values as None (JSON null, never NaN)."""
    return [{k: None if pd.isna(v) else str(v) for k, v in row.items()} for row in frame.to_dict("records")]


def results(params: dict, comparison: experiments.Comparison | None, projected: pd.DataFrame | None,
            changes: pd.DataFrame, change: object) -> dict:  # fmt: skip
    """Return the ``results.json`` payload: a headline for the report index and values for automated checks.

    Parameters
    ----------
    params : dict
        :func:`check_parameters`.
    comparison : Comparison
        :func:`finops_lib.experiments.comparison.compare`.
    projected : DataFrame
        :func:`finops_lib.experiments.projection.frontier` of the projection.
    changes : DataFrame
        :func:`finops_lib.experiments.changes.find_changes`.
    change : BeforeAfter or None
        :func:`finops_lib.experiments.changes.before_after` of the chosen change.

    Returns
    -------
    dict
    """
    last, headline = None, {"Experiment": "none with two or more variants in the data"}
    if comparison is not None:
        v = comparison.variants
        top = comparison.table.iloc[comparison.table["rel_diff"].abs().argmax()]
        headline = {
            "Experiment": f"{params['experiment']} ({len(v)} variants, {int(v['requests'].sum()):,} requests)",
            "Largest difference": f"{top['variant']} {top['rel_diff'] * 100:+.1f}% {params['metric']} per request "
                                  f"vs {top['baseline']}",
            "Cheapest per quality point": comparison.best_per_quality or "no quality scores",
        }  # fmt: skip
    if change is not None:
        m = change.metrics.set_index("metric").iloc[0]
        cost = change.metrics.set_index("metric").loc["cost"]
        headline["Change found"] = (f"{change.change_date}: {m.name.replace('_', ' ')} {m['rel_change'] * 100:+.1f}%,"
                                    f" cost per day {cost['rel_change'] * 100:+.1f}%")
        last = {"change_date": str(change.change_date), "window": [str(d) for d in change.window],
                "days": change.days, "metrics": _records(change.metrics), "verdict": change.verdict,
                "decomposition": {r["component"]: str(r["amount"]) for r in change.decomposition.components.to_dict(
                    "records")}, "total_change": str(change.decomposition.total), "currency": change.currency}
    return {
        "headline": headline,
        "date_range": _date_range(params, change),
        "parameters": {k: str(val) for k, val in params.items() if k != "experiments"},
        "variants": _records(comparison.variants) if comparison else [],
        "comparison": _records(comparison.table) if comparison else [],
        "verdict": comparison.verdict if comparison else NO_EXPERIMENT,
        "best_per_quality": comparison.best_per_quality if comparison else None,
        "projection": _records(projected) if projected is not None else [],
        "changes": _records(changes), "before_after": last,
    }
