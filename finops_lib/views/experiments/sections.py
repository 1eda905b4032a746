"""The experiment page's answer: what the variants cost, whether the difference is real, what a change did."""

from __future__ import annotations

from typing import Any

import pandas as pd

from finops_lib.views.notice import Findings
from finops_lib.views.theme import fmt_money

__all__ = ["findings", "findings_view"]


def findings(params: dict, comparison: Any, projected: pd.DataFrame | None, change: Any, *,
             has_requests: bool = True) -> str:  # fmt: skip
    """Return the page's answer in two to four sentences (or what it needs).

    ``comparison``, ``projected`` and ``change`` are the page's :func:`page.compare`, :func:`page.project` and
    :func:`finops_lib.experiments.before_after` (None where there is none).
    """
    if not has_requests:
        return ("Experiment comparison needs request logs (a gateway such as LiteLLM, Langfuse or OpenTelemetry "
                "traces): this data has none, so there is no variant to compare and no change to measure.")
    parts = []
    if comparison is None:
        parts.append("No experiment with two or more variants is tagged in the request logs: tag requests with an "
                     "experiment id and variant (LiteLLM metadata or request tags, Langfuse tags, OpenTelemetry "
                     "attributes) or pass experiment_map.")  # fmt: skip
    else:
        v = comparison.variants
        table = comparison.table
        parts.append(f"Experiment {params['experiment']}: {len(v)} variants over {int(v['requests'].sum()):,} "
                     f"requests, compared with {params['baseline']}.")
        if len(table):
            top = table.iloc[table["rel_diff"].abs().argmax()]
            real = "a real difference" if bool(top.get("significant", False)) else "not a significant difference"
            parts.append(f"The largest gap: {top['variant']} {top['rel_diff']:+.1%} {params['metric']} per request "
                         f"({real}).")  # fmt: skip
        if projected is not None and len(projected) and "monthly_cost" in projected.columns:
            cheapest = projected.assign(_m=projected["monthly_cost"].map(float)).sort_values("_m").iloc[0]
            parts.append(f"At {params['requests_per_day']:,} requests a day, {cheapest['variant']} would cost "
                         f"{fmt_money(cheapest['monthly_cost'], str(cheapest['currency']))} a month"
                         + (f"; best per quality point: {comparison.best_per_quality}." if comparison.best_per_quality
                            else "."))  # fmt: skip
    if change is not None:
        m = change.metrics.set_index("metric")
        first = m.iloc[0]
        cost = m.loc["cost", "rel_change"] if "cost" in m.index else float("nan")
        parts.append(f"A change on {change.change_date}: {first.name.replace('_', ' ')} {first['rel_change']:+.1%}, "
                     + (f"cost per day {cost:+.1%}." if pd.notna(cost) else "cost per day not known (unpriced)."))
    else:
        parts.append("No change of tokens per request stands out in the logs.")
    return " ".join(parts)


def findings_view(params: dict, comparison: Any, projected: pd.DataFrame | None, change: Any, *,
                  has_requests: bool = True) -> Findings:  # fmt: skip
    """Return :func:`findings` as the paragraph that opens the page."""
    return Findings(findings(params, comparison, projected, change, has_requests=has_requests))
