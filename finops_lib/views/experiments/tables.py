"""The experiment page's tables, for people: labelled columns, unit costs with significant digits, p-values as
``< 0.001``, yes/no, no index; a sentence instead of an empty table."""  # noqa: D205, D209

from __future__ import annotations

from typing import Any

import pandas as pd

from finops_lib import experiments
from finops_lib.views.experiments.page import NO_EXPERIMENT, VARIANT_LABELS
from finops_lib.views.notice import Notice
from finops_lib.views.tables import fmt_table

__all__ = ["fmt_changes", "fmt_differences", "fmt_power", "fmt_projection", "fmt_variants"]

_LABELS = {"variant": "Variant", "baseline": "Baseline", "n": "Requests", "n_baseline": "Baseline requests",
           "mean": "Mean", "mean_baseline": "Baseline mean", "rel_diff": "Difference", "rel_ci_low": "95% CI low",
           "rel_ci_high": "95% CI high", "p_welch": "p (Welch)", "p_mannwhitney": "p (Mann-Whitney)",
           "p_holm": "p (Holm)", "significant": "Significant", "model": "Model", "cost_per_request": "Cost / request",
           "monthly_cost": "Monthly cost", "monthly_low": "Monthly low", "monthly_high": "Monthly high",
           "quality_mean": "Quality", "cost_per_quality_point": "Cost / quality point", "on_frontier": "On frontier",
           "unpriced": "Unpriced buckets", "x_Application": "Application", "x_Feature": "Feature", "x_Team": "Team",
           "application": "Application", "feature": "Feature", "team": "Team", "change_date": "Change day",
           "before": "Before", "after": "After", "ratio": "After / before", "t_stat": "t", "p_value": "p",
           "days_before": "Days before", "days_after": "Days after", "metric": "Measure", "change": "Change",
           "rel_change": "Change %", "p_welch_": "p"}  # fmt: skip


def fmt_variants(summary: pd.DataFrame | None, *, currency: str) -> Any:
    """Return the variant summary: tokens per request rounded, costs as unit costs, rates in %."""
    if summary is None:
        return Notice(f"No experiment: {NO_EXPERIMENT}.")
    cols = [c for c in VARIANT_LABELS if c in summary.columns and (not c.endswith("_per_request")
                                                                   or summary[c].fillna(0).any())]  # fmt: skip
    money = [c for c in ("cost_mean", "cost_median", "cost_p95", "cost_per_success", "cost_per_quality") if c in cols]
    counts = [c for c in cols if c.endswith("_per_request") or c.startswith("latency") or c == "requests"]
    return fmt_table(summary[cols], labels=VARIANT_LABELS, currency=currency, unit_money=money, counts=counts,
                     pct=["failure_rate", "cache_hit_rate"], numbers={"quality_mean": "{:.3f}"},
                     caption=f"Per variant: tokens per request by bucket, cost per logged request in {currency}")


def fmt_differences(comparison: experiments.Comparison | None) -> Any:
    """Return each variant against the baseline: difference and interval in %, p-values as people read them."""
    if comparison is None:
        return Notice(f"No comparison: {NO_EXPERIMENT}.")
    cols = ["variant", "baseline", "n", "n_baseline", "mean", "mean_baseline", "rel_diff", "rel_ci_low",
            "rel_ci_high", "p_welch", "p_mannwhitney", "p_holm", "significant"]  # fmt: skip
    return fmt_table(comparison.table[cols], labels=_LABELS, counts=["n", "n_baseline"],
                     signed_pct=["rel_diff", "rel_ci_low", "rel_ci_high"],
                     p_values=["p_welch", "p_mannwhitney", "p_holm"],
                     numbers={"mean": "{:.4g}", "mean_baseline": "{:.4g}"},
                     caption="Differences against the baseline (95% intervals; p-values Holm-adjusted in p (Holm))")


def fmt_power(plan: pd.DataFrame | None) -> Any:
    """Return the requests per arm needed to detect a 10% and a 5% difference."""
    if plan is None:
        return Notice("No experiment to plan from.")
    counts = [c for c in plan.columns if pd.api.types.is_numeric_dtype(plan[c])]
    return fmt_table(plan, labels=_LABELS, counts=counts, caption="Requests per arm (two-sided 5%, 80% power)")


def fmt_projection(projected: pd.DataFrame | None, params: dict) -> Any:
    """Return the projection to production volume: monthly cost with its interval, quality, the frontier."""
    if projected is None:
        return Notice("No experiment to project.")
    cols = ["variant", "model", "cost_per_request", "monthly_cost", "monthly_low", "monthly_high", "quality_mean",
            "cost_per_quality_point", "on_frontier", "unpriced"]  # fmt: skip
    currency = str(projected["currency"].iloc[0])
    caption = f"Projection at {params['requests_per_day']:,} requests/day, prices of {params['price_date']}, {currency}"
    return fmt_table(projected[cols], labels=_LABELS, currency=currency, unit_money=["cost_per_request"],
                     money=["monthly_cost", "monthly_low", "monthly_high", "cost_per_quality_point"],
                     numbers={"quality_mean": "{:.3f}"}, caption=caption)  # fmt: skip


def fmt_changes(changes: pd.DataFrame, change: Any = None) -> Any:
    """Return the largest shifts found, or with ``change`` (a BeforeAfter) its metrics before and after."""
    if change is not None:
        metrics = change.metrics.assign(metric=change.metrics["metric"].str.replace("_", " "))
        return fmt_table(metrics, labels=_LABELS | {"p_welch": "p"}, signed_pct=["rel_change", "rel_ci_low",
                         "rel_ci_high"], p_values=["p_welch"], numbers={"before": "{:,.4g}", "after": "{:,.4g}",
                         "change": "{:+,.4g}"}, caption=f"{change.days} days before and after {change.change_date}")
    if changes.empty:
        return Notice("No group has enough days with requests to look for a change.")
    shown = changes.head(5).drop(columns=[c for c in ("metric",) if c in changes.columns])
    return fmt_table(shown, labels=_LABELS, counts=["before", "after", "days_before", "days_after"],
                     numbers={"ratio": "{:.3f}", "t_stat": "{:.1f}"}, p_values=["p_value"],
                     caption="Largest shifts of input tokens per request")  # fmt: skip
