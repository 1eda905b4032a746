"""Glue of the experiment notebook (``20_experiment_comparison``): parameters, request logs, results.

Parameters are checked against the data; the request logs get mapped experiments and joined scores; the
``results.json`` payload is assembled here.

The analyses themselves live in :mod:`finops_lib.experiments` (variants, statistics), :mod:`finops_lib.projection`
and :mod:`finops_lib.beforeafter`; this module only resolves the notebook's literal parameters (empty means "the
obvious default") and says clearly what is wrong with them.
"""

from __future__ import annotations

import datetime as dt

import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from finops_lib import experiment_sources, experiments
from finops_lib.errors import ParameterError

__all__ = ["VARIANT_LABELS", "change_data", "check_parameters", "fmt_variants", "load_requests", "pick_change",
           "results"]

#: Display names of the :func:`finops_lib.experiments.variants` columns shown in the notebook.
VARIANT_LABELS: dict[str, str] = {
    "variant": "Variant", "requests": "Requests", "failure_rate": "Failures", "input_uncached_per_request":
    "Uncached input / req", "input_cache_read_per_request": "Cache read / req", "input_cache_write_5m_per_request":
    "Cache write 5m / req", "input_cache_write_1h_per_request": "Cache write 1h / req", "output_per_request":
    "Output / req", "cost_mean": "Cost / req (mean)", "cost_median": "Median", "cost_p95": "p95",
    "cost_per_success": "Cost / success",
    "cache_hit_rate": "Cache hit rate", "latency_p50": "Latency p50 (ms)", "latency_p95": "Latency p95 (ms)",
    "quality_mean": "Quality", "cost_per_quality": "Cost / quality point",
}  # fmt: skip


def load_requests(con: BaseBackend, *, quality_file: str = "", experiment_map: str = "") -> ir.Table:
    """Return the ``requests`` table with experiments from a mapping file and scores from a scores file.

    Parameters
    ----------
    con : ibis backend
        The warehouse (:func:`finops_lib.ingest.open_data`).
    quality_file, experiment_map : str
        CSV paths (:func:`finops_lib.experiment_sources.read_quality`, ``read_experiment_map``); empty: none.

    Returns
    -------
    ibis Table
    """
    t = con.table("requests")
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
        A key of :data:`finops_lib.experiments.METRICS`.
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
        ``experiment``, ``start`` and ``end`` (its first and last day), ``baseline``, ``metric``,
        ``price_date`` (date), ``cache_hit_rate`` (float or None),
        ``batch_share``, ``requests_per_day``, ``experiments`` (the :func:`finops_lib.experiments.variants`
        summary of every experiment).

    Raises
    ------
    ParameterError
        No experiment in the data, an unknown experiment, baseline or metric, or a value out of range.
    """
    summary = experiments.variants(requests)
    if summary.empty:
        raise ParameterError("no request carries an experiment id (x_ExperimentId): tag requests (LiteLLM "
                             "metadata, Langfuse tags, OTel attributes) or pass experiment_map")  # fmt: skip
    sizes = summary.groupby("experiment")["requests"].sum().sort_values(ascending=False)
    experiment = experiment or str(sizes.index[0])
    if experiment not in sizes.index:
        raise ParameterError(f"experiment {experiment!r} not found; experiments in the data: {list(sizes.index)}")
    names = sorted(summary.loc[summary["experiment"] == experiment, "variant"])
    baseline = baseline or names[0]
    if baseline not in names:
        raise ParameterError(f"baseline {baseline!r} is not a variant of {experiment!r}: {names}")
    if metric not in experiments.METRICS:
        raise ParameterError(f"unknown metric {metric!r}; expected one of {sorted(experiments.METRICS)}")
    if cache_hit_rate > 1 or not 0 <= batch_share <= 1 or requests_per_day <= 0:
        raise ParameterError("cache_hit_rate must be at most 1 (negative: as logged), batch_share between 0 and 1, "
                             "requests_per_day positive")  # fmt: skip
    exp = requests.filter(requests.x_ExperimentId == experiment)
    span = exp.aggregate(start=exp.ChargePeriodStart.min(), end=exp.ChargePeriodStart.max()).to_pandas().iloc[0]
    last = requests.ChargePeriodStart.max().to_pandas()
    day = dt.date.fromisoformat(price_date) if price_date else pd.Timestamp(last).date()
    return {"experiment": experiment, "start": span["start"].date(), "end": span["end"].date(), "baseline": baseline,
            "metric": metric, "price_date": day,
            "cache_hit_rate": None if cache_hit_rate < 0 else float(cache_hit_rate), "batch_share": batch_share,
            "requests_per_day": requests_per_day, "experiments": summary}  # fmt: skip


def fmt_variants(summary: pd.DataFrame, *, currency: str) -> object:
    """Return the variant summary as a labelled table (tokens rounded, costs with 6 decimals, rates in %).

    Parameters
    ----------
    summary : DataFrame
        :func:`finops_lib.experiments.variants` of one experiment.
    currency : str
        Currency of the costs (caption).

    Returns
    -------
    pandas Styler
    """
    cols = [c for c in VARIANT_LABELS if c in summary.columns and (not c.endswith("_per_request")
                                                                   or summary[c].fillna(0).any())]  # fmt: skip
    money = {"cost_mean", "cost_median", "cost_p95", "cost_per_success", "cost_per_quality"}
    fmt = {c: "{:,.0f}" for c in cols if c.endswith("_per_request") or c.startswith("latency")}
    fmt |= {c: "{:.6f}" for c in money}
    fmt |= {"failure_rate": "{:.1%}", "cache_hit_rate": "{:.1%}", "quality_mean": "{:.3f}"}
    return (summary[cols].rename(columns=VARIANT_LABELS).style.hide()
            .format({VARIANT_LABELS[c]: f for c, f in fmt.items() if c in cols}, na_rep="n/a")
            .set_caption(f"Per variant: tokens per request by bucket, cost per logged request in {currency}"))


def change_data(con: BaseBackend, requests: ir.Table, *, source: str = "auto", currency: str = "USD",
                data_dir: str | None = None) -> ir.Table | pd.DataFrame:  # fmt: skip
    """Return what the before/after view reads: the request logs, or the daily cell facts of every source.

    Parameters
    ----------
    con : ibis backend
        The warehouse.
    requests : ibis Table
        :func:`load_requests`.
    source : {"auto", "requests", "facts"}
        ``auto``: the request logs when they hold at least 14 days, else the facts (usage feeds with request
        counts, :mod:`finops_lib.beforeafter_facts`).
    currency, data_dir
        For the facts (:func:`finops_lib.anomaly_facts.build_facts`).

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
    from finops_lib.anomaly_facts import build_facts

    return build_facts(con, currency=currency, data_dir=data_dir)


def pick_change(changes: pd.DataFrame, *, change_date: str = "", application: str = "",
                feature: str = "") -> tuple[str, dict]:  # fmt: skip
    """Return the change day and scope of the before/after view: the parameters, else the largest change found.

    Parameters
    ----------
    changes : DataFrame
        :func:`finops_lib.beforeafter.find_changes` (request logs: application and feature; facts: team and
        application).
    change_date, application, feature : str
        The notebook's parameters; empty means "as found".

    Returns
    -------
    (str, dict)
        ISO day (empty when nothing was found or given) and the scope (column -> value).
    """
    found = changes.iloc[0] if len(changes) else None
    scope = {"x_Application": application or (str(found.get("x_Application", found.get("application", "")))
                                              if found is not None else "")}  # fmt: skip
    if "x_Feature" in changes.columns or feature:
        scope["x_Feature"] = feature or (str(found["x_Feature"]) if found is not None else "")
    elif "team" in changes.columns and found is not None and not application:
        scope["x_Team"] = str(found["team"])
    day = change_date or (str(found["change_date"]) if found is not None and pd.notna(found["change_date"]) else "")
    return day, scope


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of strings, missing values as None (JSON null, never NaN)."""
    return [{k: None if pd.isna(v) else str(v) for k, v in row.items()} for row in frame.to_dict("records")]


def results(params: dict, comparison: experiments.Comparison, projected: pd.DataFrame, changes: pd.DataFrame,
            change: object) -> dict:  # fmt: skip
    """Return the ``results.json`` payload: a headline for the report index and values for automated checks.

    Parameters
    ----------
    params : dict
        :func:`check_parameters`.
    comparison : Comparison
        :func:`finops_lib.experiments.compare`.
    projected : DataFrame
        :func:`finops_lib.projection.frontier` of the projection.
    changes : DataFrame
        :func:`finops_lib.beforeafter.find_changes`.
    change : BeforeAfter or None
        :func:`finops_lib.beforeafter.before_after` of the chosen change.

    Returns
    -------
    dict
    """
    v, last = comparison.variants, None
    top = comparison.table.iloc[comparison.table["rel_diff"].abs().argmax()]
    headline = {
        "Experiment": f"{params['experiment']} ({len(v)} variants, {int(v['requests'].sum()):,} requests)",
        "Largest difference": f"{top['variant']} {top['rel_diff'] * 100:+.1f}% {params['metric']} per request vs "
                              f"{top['baseline']}",
        "Cheapest per quality point": comparison.best_per_quality or "no quality scores",
    }  # fmt: skip
    if change is not None:
        m = change.metrics.set_index("metric").iloc[0]
        headline["Change found"] = (f"{change.change_date}: {m.name.replace('_', ' ')} {m['rel_change'] * 100:+.1f}%")
        last = {"change_date": str(change.change_date), "window": [str(d) for d in change.window],
                "days": change.days, "metrics": _records(change.metrics), "verdict": change.verdict,
                "decomposition": {r["component"]: str(r["amount"]) for r in change.decomposition.components.to_dict(
                    "records")}, "total_change": str(change.decomposition.total), "currency": change.currency}
    return {
        "headline": headline,
        "date_range": [str(params["start"]), str(params["end"])],
        "parameters": {k: str(val) for k, val in params.items() if k != "experiments"},
        "variants": _records(v), "comparison": _records(comparison.table), "verdict": comparison.verdict,
        "best_per_quality": comparison.best_per_quality, "projection": _records(projected),
        "changes": _records(changes), "before_after": last,
    }
