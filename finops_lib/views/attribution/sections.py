"""What each section of the attribution page shows: the answer, charts and tables, or a sentence saying why not.

:func:`attribute` allocates the window once for the page; each other function returns what one notebook cell
displays (an Altair chart, a styled table, or a :class:`~finops_lib.views.notice.Notice`). No table shows an index,
a raw number or a Python value: money with separators and two decimals, shares as percentages, months as
``YYYY-MM``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pandas as pd

from finops_lib import allocation
from finops_lib.allocation import Allocation
from finops_lib.facts import Facts
from finops_lib.views.attribution import charts, page
from finops_lib.views.notice import Findings, Notice, stack
from finops_lib.views.tables import fmt_rates, fmt_table

__all__ = ["Attribution", "attribute", "coverage_chart", "coverage_view", "findings_view", "hierarchy_chart",
           "model_unit_chart", "rates_view", "rules_view", "showback_chart", "showback_latest", "showback_matrix",
           "unallocated_chart", "unallocated_view", "unit_chart", "unit_table"]  # fmt: skip

UNIT_LABELS = {"cost": "Cost", "cost_per_1m_tokens": "Per 1M tokens", "cost_per_1m_input": "Per 1M input",
               "cost_per_1m_output": "Per 1M output", "cost_per_request": "Per request",
               "metric_value": "Active users", "cost_per_metric": "Per active user", "cache_hit_rate": "Cache hit rate",
               "cache_savings": "Cache savings", "batch_share": "Batch share", "batch_savings": "Batch savings",
               "output_input_ratio": "Output / input", "effective_to_list": "Effective / list"}  # fmt: skip

SEE_ABOVE = "Nothing to attribute: the answer at the top of the page says what is missing."


@dataclass(frozen=True)
class Attribution:
    """One allocation of the page's window: the result, its showback board, coverage and unallocated keys."""

    facts: Facts
    params: dict[str, Any]
    problem: str
    result: Allocation | None
    check: pd.DataFrame
    board: pd.DataFrame
    cover: pd.DataFrame
    unallocated: pd.DataFrame

    @property
    def currency(self) -> str:
        """The page's currency."""
        return self.facts.currency

    @property
    def dimension(self) -> str:
        """The owner level shown."""
        return self.params["dimension"]

    @cached_property
    def units(self) -> pd.DataFrame:
        """Unit economics per owner of the shown level and month (once: a table and a chart show them)."""
        by = self.dimension
        metric = "active_users" if by == "team" and "active_users" in self.facts.rules.metrics else None
        return allocation.unit_economics(self.facts, by=(by,), metric=metric)


def _problem(facts: Facts) -> str:
    if facts.total("cost") != 0:
        return ""
    if facts.has_requests:
        return ("Attribution needs billed cost (an invoice, cost or usage export): this data has request logs only, "
                "whose catalog-priced estimate is on the reconciliation page.")  # fmt: skip
    return "Attribution needs billed cost: none is loaded for this window."


def attribute(facts: Facts, params: dict[str, Any]) -> Attribution:
    """Allocate the window's money with the page's rules and split strategy (nothing when there is no money)."""
    problem = _problem(facts)
    empty = pd.DataFrame()
    if problem:
        return Attribution(facts, params, problem, None, empty, empty, empty, empty)
    result = allocation.allocate(page.split(facts, params["split_strategy"]))
    board = allocation.showback(result, by=params["dimension"])
    return Attribution(facts, params, "", result, allocation.conservation(result), board,
                       page.coverage_table(result, facts),
                       allocation.unallocated_keys(facts, top=params["top_n"]))  # fmt: skip


def findings_view(a: Attribution) -> Findings:
    """Return the answer the page opens with."""
    return Findings(page.findings(a))


def rates_view(a: Attribution) -> Any:
    """Return the exchange rates used to convert the window's money, or say that none was needed."""
    return fmt_rates(a.facts.rates_used(), currency=a.currency)


def rules_view(a: Attribution) -> Any:
    """Return the ownership rules and shared pools in use, or say there are none."""
    rules = page.split(a.facts, a.params["split_strategy"]).rules
    table = rules.describe()
    if not len(table):
        return Notice("No allocation rules: owners come from the data's own tags only.")
    return fmt_table(table, caption="Ownership rules (first match wins) and shared pools; line: in the rules file")


def hierarchy_chart(a: Attribution, *, top_n: int) -> Any:
    """Return spend by the owner hierarchy around the page's dimension."""
    if a.problem:
        return Notice(SEE_ABOVE)
    levels = allocation.hierarchy_levels(a.dimension)
    shape = allocation.hierarchy(a.result, levels=levels, currency=a.currency)
    return charts.plot_hierarchy(shape, levels=levels, currency=a.currency, top=top_n)


def showback_matrix(a: Attribution) -> Any:
    """Return total allocated cost per owner (rows, largest first) and month (columns)."""
    if a.problem:
        return Notice(SEE_ABOVE)
    board = a.board.drop(columns="currency")
    order = board.groupby(a.dimension)["total"].sum().map(float).sort_values(ascending=False).index
    matrix = board.pivot(index=a.dimension, columns="month", values="total").loc[order]
    matrix = matrix.rename(columns=lambda m: f"{m:%Y-%m}").rename_axis(columns=None).reset_index()
    months = [c for c in matrix.columns if c != a.dimension]
    if len(months) > 6:  # the latest six months: a wider table would not fit the page
        matrix = matrix[[a.dimension, *months[-6:]]]
    return fmt_table(matrix, currency=a.currency, money=months[-6:],
                     caption=f"Total allocated cost (direct and shared) per month, {a.currency}"
                     + (f"; the latest 6 of {len(months)} months" if len(months) > 6 else ""))


def showback_latest(a: Attribution) -> Any:
    """Return the last month's showback: direct, shared, unallocated, total, share and change."""
    if a.problem:
        return Notice(SEE_ABOVE)
    board = a.board.drop(columns="currency")
    latest = board[board["month"] == board["month"].max()].drop(columns="month")
    month = pd.Timestamp(board["month"].max())
    return fmt_table(latest, currency=a.currency, money=["direct", "shared", "unallocated", "total", "change"],
                     pct=["share"], signed_pct=["change_pct"], labels={"change_pct": "Change %"},
                     caption=f"{month:%Y-%m}, {a.currency}")  # fmt: skip


def showback_chart(a: Attribution, *, top_n: int) -> Any:
    """Return the monthly showback chart."""
    if a.problem:
        return Notice(SEE_ABOVE)
    return charts.plot_showback(a.board, by=a.dimension, currency=a.currency, top=top_n)


def coverage_view(a: Attribution) -> Any:
    """Return the coverage table: cost per provider by how it was allocated."""
    if a.problem:
        return Notice(SEE_ABOVE)
    return fmt_table(a.cover, currency=a.currency, money=["total", *allocation.KINDS],
                     pct=["direct_share", "coverage", "tags only"],
                     caption=f"Allocation coverage by provider, {a.currency}")


def coverage_chart(a: Attribution) -> Any:
    """Return the coverage chart by provider."""
    if a.problem:
        return Notice(SEE_ABOVE)
    return charts.plot_coverage_by_provider(a.cover, currency=a.currency)


def unallocated_view(a: Attribution) -> Any:
    """Return the raw keys that would cover most of the unallocated cost, or say every amount has an owner."""
    if a.problem:
        return Notice(SEE_ABOVE)
    if a.unallocated.empty:
        return Notice("No unallocated cost under these rules: every amount has an owner.")
    return fmt_table(a.unallocated, currency=a.currency, money=["cost"], pct=["share", "cumulative_share"],
                     caption=f"Unallocated under these rules: {len(a.unallocated)} key(s), {a.currency}")


def unallocated_chart(a: Attribution, *, top_n: int) -> Any:
    """Return the unallocated cost by raw key without any rules (what the rules file covers)."""
    if a.problem:
        return Notice(SEE_ABOVE)
    untagged = allocation.unallocated_keys(a.facts.with_options(rules=None), top=top_n)
    return charts.plot_unallocated_keys(untagged, currency=a.currency,
                                        title=f"Without rules: unallocated cost by raw key ({a.currency})")


def unit_table(a: Attribution) -> Any:
    """Return the last month's unit economics per owner."""
    if a.problem:
        return Notice(SEE_ABOVE)
    units = a.units
    if units.empty:
        return Notice("No unit economics: no tokens or requests with a cost in this window.")
    latest = units[units["period"] == units["period"].max()]
    month = f"{pd.Timestamp(units['period'].max()):%Y-%m}"
    groups = (("cost", "cost_per_1m_tokens", "cost_per_1m_input", "cost_per_1m_output", "cost_per_request",
               "metric_value", "cost_per_metric"),
              ("cache_hit_rate", "cache_savings", "batch_share", "batch_savings", "output_input_ratio",
               "effective_to_list"))  # fmt: skip
    titles = (f"Unit costs, {month}, {a.currency}", f"Cache, batch and price efficiency, {month}, {a.currency}")
    tables = []
    for columns, title in zip(groups, titles, strict=True):  # two narrow tables instead of one too wide for the page
        shown = [c for c in columns if c in latest.columns and latest[c].notna().any()]
        if shown:
            tables.append(fmt_table(latest[[a.dimension, *shown]], currency=a.currency, labels=UNIT_LABELS,
                                    money=["cost", "cache_savings", "batch_savings", "cost_per_metric"],
                                    unit_money=["cost_per_1m_tokens", "cost_per_1m_input", "cost_per_1m_output",
                                                "cost_per_request"],
                                    pct=["cache_hit_rate", "batch_share", "effective_to_list"],
                                    numbers={"output_input_ratio": "{:.2f}", "metric_value": "{:,.0f}"},
                                    caption=title))  # fmt: skip
    return stack(*tables)


def unit_chart(a: Attribution, *, top_n: int) -> Any:
    """Return cost per 1M tokens per owner and month."""
    if a.problem:
        return Notice(SEE_ABOVE)
    return charts.plot_unit_cost(a.units, by=a.dimension, metric="cost_per_1m_tokens",
                                 currency=a.currency, top=top_n)  # fmt: skip


def model_unit_chart(a: Attribution, *, top_n: int) -> Any:
    """Return cost per 1M tokens per model and month."""
    if a.problem:
        return Notice(SEE_ABOVE)
    return charts.plot_unit_cost(allocation.unit_economics(a.facts, by=("model",)), by="model",
                                 metric="cost_per_1m_tokens", currency=a.currency, top=top_n)  # fmt: skip
