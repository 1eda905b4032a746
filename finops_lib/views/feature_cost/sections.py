"""What each section of the feature cost page shows: the answer, charts and tables, or a sentence saying why not.

:func:`feature_cost` computes the window's stack, units and self-hosted prices once for the page; each other
function returns what one notebook cell displays (an Altair chart, a styled table, or a
:class:`~finops_lib.views.notice.Notice`). Money with separators and two decimals, unit costs to four significant
digits, shares as percentages, months as ``YYYY-MM``; data text escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from finops_lib import paths
from finops_lib.facts import Facts
from finops_lib.feature_cost import UNASSIGNED, Stack, feature_stack, feature_summary, feature_usage
from finops_lib.pricing import Catalog
from finops_lib.rules.feature_map import FeatureMap
from finops_lib.selfhosted import ServingReport, serving_report
from finops_lib.views.feature_cost import charts, page
from finops_lib.views.notice import Findings, Notice, stack
from finops_lib.views.tables import fmt_rates, fmt_table

__all__ = ["FeatureCost", "feature_chart", "feature_cost", "features_chart", "findings_view", "latest_units",
           "map_view",
           "notes_view", "rates_view", "selfhosted_chart", "selfhosted_days", "selfhosted_view", "shared_view",
           "unassigned_view", "unit_chart", "unit_table"]  # fmt: skip

SEE_ABOVE = "Nothing to show: the answer at the top of the page says what is missing."
UNIT_LABELS = {"month": "Month", "feature": "Feature", "cost": "Cost", "other_cost": "Outside model tokens",
               "non_token_share": "Share outside tokens", "requests": "Requests", "per_request": "Per request",
               "active_users": "Active users", "per_active_user": "Per active user", "tokens": "Tokens",
               "per_1m_tokens": "Per 1M tokens", "tokens_from": "Tokens from", "change": "Change"}  # fmt: skip


@dataclass(frozen=True)
class FeatureCost:
    """The page's window: its stack, usage and unit costs per feature, self-hosted prices, the lead feature."""

    facts: Facts
    fmap: FeatureMap
    params: dict[str, Any]
    problem: str
    stack: Stack | None
    summary: pd.DataFrame
    serving: ServingReport | None
    feature: str | None
    shown: tuple[str, ...]

    @property
    def currency(self) -> str:
        """The page's currency."""
        return self.facts.currency

    @property
    def notes(self) -> tuple[str, ...]:
        """What the stack and the self-hosted prices could not show, one sentence each."""
        return (*(self.stack.notes if self.stack else ()), *(self.serving.notes if self.serving else ()))


def feature_cost(facts: Facts, fmap: FeatureMap, catalog: Catalog, params: dict[str, Any]) -> FeatureCost:
    """Compute the page's window once: stack, usage, unit costs, self-hosted prices (nothing without money).

    Raises
    ------
    ParameterError
        When ``params`` name a feature or application the window does not have.
    """
    # a warehouse holds a (maybe empty) metrics table: count its rows only when there is no money to show
    if facts.total("cost") == 0 and not (facts.has_metrics and int(facts.metric_rows().count().execute()) > 0):
        problem = ("Feature cost needs billed cost (an invoice, cost or usage export) or serving metrics: none is "
                   "loaded for this window.")  # fmt: skip
        return FeatureCost(facts, fmap, params, problem, None, pd.DataFrame(), None, None, ())
    stacked = feature_stack(facts, fmap)
    summary = feature_summary(stacked, feature_usage(facts, fmap))
    lead, shown = page.chosen_feature(stacked.frame, feature=params["feature"], application=params["application"],
                                      preferred=page.named_features(fmap))  # fmt: skip
    serving = serving_report(facts, fmap, catalog)
    return FeatureCost(facts, fmap, params, "", stacked, summary, serving, lead, tuple(shown))


def findings_view(fc: FeatureCost) -> Findings:
    """Return the answer the page opens with."""
    return Findings(page.findings(fc))


def rates_view(fc: FeatureCost) -> Any:
    """Return the exchange rates used to convert the window's money, or say that none was needed."""
    return fmt_rates(fc.facts.rates_used(), currency=fc.currency)


def _rows(fc: FeatureCost, features: tuple[str, ...] | list[str]) -> pd.DataFrame:
    frame = fc.stack.frame
    return frame[frame["feature"].isin(list(features))]


def feature_chart(fc: FeatureCost, feature: str | None = None, layer: str | None = None) -> Any:
    """Return one feature's cost by month stacked by layer (the lead feature by default; one layer if given)."""
    name = feature or fc.feature
    if fc.problem or name is None:
        return Notice(SEE_ABOVE if fc.problem else "No feature in this window: no stack to chart.")
    rows = _rows(fc, [name])
    if layer:
        rows = rows[rows["layer"] == layer]
    what = f"{charts.layer_label(layer)} of {name}" if layer else name
    return charts.plot_layer_stack(rows, currency=fc.currency, title=f"What {what} cost each month")


def features_chart(fc: FeatureCost, *, top_n: int) -> Any:
    """Return every shown feature's window cost stacked by layer, largest first."""
    if fc.problem or not fc.shown:
        return Notice(SEE_ABOVE if fc.problem else "No feature in this window: nothing to compare.")
    return charts.plot_feature_layers(_rows(fc, fc.shown), currency=fc.currency, top=top_n,
                                      title="Features by whole cost over the window")  # fmt: skip


def _units(fc: FeatureCost, features: tuple[str, ...] | list[str]) -> pd.DataFrame:
    data = fc.summary[fc.summary["feature"].isin(list(features))]
    return data.sort_values(["feature", "month"], kind="stable")


def unit_table(fc: FeatureCost, feature: str | None = None) -> Any:
    """Return one feature's months (the lead feature by default): cost, outside model tokens, units, unit costs."""
    name = feature or fc.feature
    if fc.problem or name is None:
        return Notice(SEE_ABOVE if fc.problem else "No feature in this window: no unit costs.")
    return _unit_styled(_units(fc, [name]), fc.currency, f"{name} by month")


def latest_units(fc: FeatureCost) -> Any:
    """Return every shown feature in its last month with cost, largest first: cost, units and unit costs."""
    if fc.problem or not fc.shown:
        return Notice(SEE_ABOVE if fc.problem else "No feature in this window: no unit costs.")
    data = _units(fc, fc.shown)
    data = data.groupby("feature", sort=False).tail(1)
    data = data.iloc[sorted(range(len(data)), key=lambda i: (-data["cost"].iloc[i], data["feature"].iloc[i]))]
    return _unit_styled(data, fc.currency, "Every feature in its last month with cost, largest first")


def _unit_styled(data: pd.DataFrame, currency: str, title: str) -> Any:
    data = data.assign(month=data["month"].dt.strftime("%Y-%m"))[list(UNIT_LABELS)]
    return fmt_table(data, labels=UNIT_LABELS, currency=currency, money=("cost", "other_cost", "change"),
                     unit_money=("per_request", "per_active_user", "per_1m_tokens"), pct=("non_token_share",),
                     counts=("requests", "active_users", "tokens"),
                     caption=f"{title}. Every layer included; a unit cost without its unit (no request logged) is "
                             "'-', never 0")  # fmt: skip


def unit_chart(fc: FeatureCost, *, top_n: int) -> Any:
    """Return cost per request by month for the shown features (per 1M tokens when no request is logged)."""
    if fc.problem or not fc.shown:
        return Notice(SEE_ABOVE if fc.problem else "No feature in this window: no unit costs.")
    data = _units(fc, fc.shown[:top_n])
    value, label = ("per_request", "Cost per request") if data["per_request"].notna().any() else \
        ("per_1m_tokens", "Cost per 1M tokens")  # fmt: skip
    return charts.plot_unit_trend(data[["month", "feature", value]], value=value, label=label, currency=fc.currency,
                                  title=f"{label}, by feature and month")  # fmt: skip


def shared_view(fc: FeatureCost) -> Any:
    """Return how each shared service of the feature map was split, per month, and what could not be split."""
    if fc.problem:
        return Notice(SEE_ABOVE)
    if not fc.fmap.shared:
        return Notice("No shared service in the feature map: nothing is split (add a shared: entry for a vector "
                      "database, a cluster or a tracing service that serves several features).")  # fmt: skip
    names = {s.name for s in fc.fmap.shared}
    frame = fc.stack.frame
    rows = frame[frame["entry"].isin(names) & frame["kind"].isin(["shared", "unassigned"])]
    if rows.empty:
        return Notice("The feature map's shared services match no cost in this window.")
    data = rows.assign(month=rows["month"].dt.strftime("%Y-%m"), layer=rows["layer"].map(charts.layer_label))
    data = data[["entry", "month", "feature", "layer", "cost"]].sort_values(["entry", "month", "feature"])
    notes = [Notice(n) for n in fc.stack.notes]
    table = fmt_table(data, labels={"entry": "Shared service"}, currency=fc.currency, money=("cost",),
                      caption="Each month's amount split exactly (the parts add up to it to the cent)")  # fmt: skip
    return stack(table, *notes) if notes else table


def unassigned_view(fc: FeatureCost) -> Any:
    """Return the cost no feature holds, by month and layer, and what would place it."""
    if fc.problem:
        return Notice(SEE_ABOVE)
    frame = fc.stack.frame
    rows = frame[frame["feature"] == UNASSIGNED]
    if rows.empty:
        return Notice("Every amount of the window is in a feature.")
    data = rows.groupby([rows["month"].dt.strftime("%Y-%m").rename("month"), rows["layer"].map(charts.layer_label)],
                        as_index=False)["cost"].agg(lambda s: sum(s, Decimal(0)))  # fmt: skip
    return fmt_table(data, currency=fc.currency, money=("cost",),
                     caption="Cost without a feature: tag it (app, feature) or add a features: entry to the feature "
                             "map")  # fmt: skip


def selfhosted_view(fc: FeatureCost) -> Any:
    """Return per self-hosted deployment its cost per day and per 1M tokens against its API model, and break-even."""
    if fc.problem:
        return Notice(SEE_ABOVE)
    report = fc.serving
    notes = [Notice(n) for n in report.notes]
    if report.comparison.empty:
        return stack(*notes) if notes else Notice("No self-hosted deployment has GPU cost in this window.")
    data = report.comparison.drop(columns=["currency"])
    table = fmt_table(data, currency=fc.currency, money=("cost_per_day", "api_cost_per_day"),
                      unit_money=("self_per_1m", "api_per_1m"), counts=("days", "tokens_per_day",
                                                                         "break_even_tokens_per_day"),
                      labels={"self_per_1m": "Self-hosted per 1M tokens", "api_per_1m": "API per 1M tokens",
                              "api_cost_per_day": "Same tokens on the API, per day",
                              "break_even_tokens_per_day": "Pays off above (tokens/day)", "pays_off": "Pays off"},
                      caption="Per 1M tokens at the deployment's own input/output mix; break-even = GPU cost per day "
                              "over the API's price")  # fmt: skip
    return stack(table, *notes) if notes else table


def selfhosted_days(fc: FeatureCost) -> Any:
    """Return per deployment and day: GPU cost, tokens, $/1M (input, output, blended), idle hours, utilisation."""
    if fc.problem:
        return Notice(SEE_ABOVE)
    days = fc.serving.days
    if days.empty:
        return Notice("No self-hosted deployment has GPU cost or served tokens in this window.")
    data = days.assign(day=days["day"].dt.strftime("%Y-%m-%d")).drop(columns=["currency", "split_rule"])
    rule = days["split_rule"].iloc[0]
    return fmt_table(data, currency=fc.currency, money=("cost", "idle_cost"),
                     unit_money=("per_1m_blended", "per_1m_input", "per_1m_output"),
                     counts=("input_tokens", "output_tokens", "requests"), pct=("gpu_utilization",),
                     numbers={"paid_hours": "{:,.1f}", "idle_hours": "{:,.1f}", "unmeasured_hours": "{:,.1f}"},
                     labels={"per_1m_blended": "Per 1M (blended)", "per_1m_input": "Per 1M input",
                             "per_1m_output": "Per 1M output", "gpu_utilization": "GPU utilisation"},
                     caption=f"Split rule: {rule}. Idle: paid hours with no token served; unmeasured: no counter "
                             "samples around them")  # fmt: skip


def selfhosted_chart(fc: FeatureCost) -> Any:
    """Return each deployment's blended cost per 1M tokens by day against its API model's price."""
    if fc.problem:
        return Notice(SEE_ABOVE)
    days = fc.serving.days
    priced = days[days["status"] == "priced"] if len(days) else days
    return charts.plot_selfhosted(priced, fc.serving.comparison, currency=fc.currency)


def notes_view(fc: FeatureCost) -> Any:
    """Return what the page could not show, one sentence each, or say that nothing is missing."""
    if fc.problem:
        return Notice(SEE_ABOVE)
    if not fc.notes:
        return Notice("Nothing left out: every shared service split and every deployment priced.")
    return stack(*(Notice(n) for n in fc.notes))


def map_view(fc: FeatureCost) -> Any:
    """Return the feature map's entries with their lines, or say that there is none."""
    table = page.describe_map(fc.fmap)
    if table.empty:
        return Notice("No feature map: features come from the data's app and feature tags and the allocation rules; "
                      "layers are guessed (docs/feature_cost.md).")  # fmt: skip
    return fmt_table(table, caption=f"{paths.shown(fc.fmap.source)}: first match wins; line: in the file")
