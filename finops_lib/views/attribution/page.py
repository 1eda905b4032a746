"""The cost attribution page (``10_cost_attribution``): parameters, facts, coverage and ``results.json``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
from ibis.backends import BaseBackend

from finops_lib import checks, paths
from finops_lib.allocation import SPLIT_STRATEGIES, Allocation, allocate, conservation, coverage, showback
from finops_lib.facts import Facts, open_facts
from finops_lib.rules import OWNER_FIELDS, resolve_rules
from finops_lib.views.theme import fmt_money

__all__ = ["UNIT_COLUMNS", "UNIT_FORMATS", "check_parameters", "coverage_table", "findings", "load", "results",
           "split"]

#: The KPI columns a summary table shows (``metric_value`` and ``cost_per_metric`` when present).
UNIT_COLUMNS: tuple[str, ...] = (
    "cost", "cost_per_1m_tokens", "cost_per_1m_input", "cost_per_1m_output", "cost_per_request", "cache_hit_rate",
    "cache_savings", "batch_share", "batch_savings", "output_input_ratio", "effective_to_list", "metric_value",
    "cost_per_metric",
)  # fmt: skip
#: Display formats of the KPI columns (``Styler.format``).
UNIT_FORMATS: dict[str, str] = {
    "cost": "{:,.2f}", "token_cost": "{:,.2f}", "list_cost": "{:,.2f}", "effective_cost": "{:,.2f}",
    "tokens": "{:,.0f}", "input_tokens": "{:,.0f}", "output_tokens": "{:,.0f}", "cache_read_tokens": "{:,.0f}",
    "cache_write_tokens": "{:,.0f}", "requests": "{:,.0f}", "cost_per_1m_tokens": "{:,.3f}",
    "cost_per_1m_input": "{:,.3f}", "cost_per_1m_output": "{:,.3f}", "cost_per_request": "{:,.5f}",
    "cache_hit_rate": "{:.1%}", "cache_savings": "{:,.2f}", "batch_share": "{:.1%}", "batch_savings": "{:,.2f}",
    "output_input_ratio": "{:.3f}", "effective_to_list": "{:.1%}", "metric_value": "{:,.0f}",
    "cost_per_metric": "{:,.2f}",
}  # fmt: skip


def check_parameters(*, dimension: str = "team", split_strategy: str = "rules", start_date: str | None = None,
                     end_date: str | None = None, top_n: int = 10) -> dict[str, Any]:  # fmt: skip
    """Check the page's parameters; return them normalized.

    Raises
    ------
    ParameterError
        On an unknown dimension or split strategy, a malformed date, a start after the end, or a non-positive
        ``top_n``.
    """
    checks.one_of("dimension", dimension, OWNER_FIELDS)
    checks.one_of("split_strategy", split_strategy, SPLIT_STRATEGIES)
    first, last = checks.window(start_date, end_date)
    return {"start_date": first and first.isoformat(), "end_date": last and last.isoformat(), "dimension": dimension,
            "split_strategy": split_strategy, "top_n": checks.positive_int("top_n", top_n)}  # fmt: skip


def load(con: BaseBackend, *, data_dir: str | None = None, rules_file: str = "", currency: str = "USD",
         convert_currency: bool = True, **parameters: Any) -> tuple[Facts, dict[str, Any]]:  # fmt: skip
    """Return the page's facts (window applied, the rules as read) and its checked parameters.

    Parameters
    ----------
    con
        The warehouse (:func:`finops_lib.warehouse.open_data`).
    data_dir, rules_file
        As :func:`finops_lib.rules.resolve_rules`: the data folder's ``config/allocation_rules.yaml`` when
        ``rules_file`` is empty, ``none`` for tags only, else a file.
    currency, convert_currency
        The money's currency; convert other billing currencies at the charge day's rate, else show only the rows
        billed in ``currency``.
    **parameters
        ``dimension``, ``split_strategy``, ``start_date``, ``end_date``, ``top_n`` (:func:`check_parameters`).

    Raises
    ------
    ParameterError, SourceError
        On a bad parameter, or a malformed rules file (naming its line).
    """
    filters = check_parameters(**parameters)
    rules = resolve_rules(rules_file, data_dir)
    rules.with_strategy(filters["split_strategy"])  # fails now, with the parameter's name, if the split cannot apply
    facts = open_facts(con, currency=checks.currency_code(currency), rules=rules, convert=convert_currency,
                       start_date=filters["start_date"], end_date=filters["end_date"])  # fmt: skip
    facts = facts.explore()  # the page asks many questions of the same rows: scope them once
    return facts, {**filters, "currency": facts.currency}


def split(facts: Facts, split_strategy: str) -> Facts:
    """Return the facts whose rules split every shared pool (metered pools excepted) by ``split_strategy``."""
    return facts.with_options(rules=facts.rules.with_strategy(split_strategy))


def coverage_table(allocation: Allocation, facts: Facts) -> pd.DataFrame:
    """Return :func:`finops_lib.allocation.coverage` with a ``tags only`` column: the coverage without any rules."""
    cover = coverage(allocation)
    baseline = coverage(allocate(facts.with_options(rules=None)))
    return cover.merge(baseline[["currency", "provider", "coverage"]].rename(columns={"coverage": "tags only"}),
                       on=["currency", "provider"], how="left")  # fmt: skip


def findings(a: Any) -> str:
    """Return the page's answer: allocated total, top owners, coverage, unallocated cost (or what is missing).

    ``a`` is :func:`finops_lib.views.attribution.sections.attribute`.
    """
    if a.problem:
        return a.problem
    amount = a.result.amounts[0]
    total = sum(a.result.inputs[amount], Decimal(0))
    owners = a.board.groupby(a.dimension)["total"].agg(lambda s: sum(s, Decimal(0))).sort_values(ascending=False)
    label = a.dimension.replace("_", " ")
    top = [f"{name} {fmt_money(value, a.currency)} ({float(value / total):.0%})" for name, value in
           owners.head(3).items()] if total else []  # fmt: skip
    frame = a.result.frame
    unallocated = sum(frame.loc[frame["kind"] == "unallocated", amount], Decimal(0))
    first, last = a.facts.date_range("money")
    parts = [f"{fmt_money(total, a.currency)} allocated from {first} to {last}"
             + (f"; the largest {label}s: {', '.join(top)}." if len(owners) > 1 else
                f", all to one {label}: {owners.index[0]}." if len(owners) else ".")]  # fmt: skip
    everything = a.cover[a.cover["provider"] == "All providers"]
    if len(everything):
        parts.append(f"{float(everything['coverage'].iloc[0]):.0%} of it is attributed by the data's own tags and "
                     f"keys or the rules.")
    parts.append(f"{fmt_money(unallocated, a.currency)} has no owner." if unallocated else "Every amount has an owner.")
    if a.facts.rules.source in ("", "none", None) or not a.facts.rules.rules:
        parts.append("No allocation rules file: owners come from tags only (add config/allocation_rules.yaml).")
    return " ".join(parts)


def _totals(frame: pd.DataFrame, keys: list[str], amount: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, part in frame.groupby(keys):
        total = sum(part[amount], Decimal(0))
        node = out
        for level in (key if isinstance(key, tuple) else (key,))[:-1]:
            node = node.setdefault(str(level), {})
        node[str(key[-1] if isinstance(key, tuple) else key)] = str(total)
    return out


def results(attribution: Any, *, filters: dict[str, Any]) -> dict[str, Any]:
    """Return the page's ``results.json``.

    Parameters
    ----------
    attribution
        :func:`finops_lib.views.attribution.sections.attribute`: the allocation shown, its facts, coverage and
        unallocated keys (or the problem that left nothing to allocate).
    filters
        :func:`check_parameters` (with the currency).

    Returns
    -------
    dict
        ``headline`` (allocated cost, coverage, unallocated cost and top owner), ``date_range``, ``filters``,
        ``rules``, ``input_total`` and ``allocated_total`` (per currency, exact text), ``max_relative_error``
        (conservation), ``by_owner`` (currency -> owner -> total at the ``dimension`` level), ``by_kind`` (currency
        -> kind -> total), ``coverage`` (currency -> provider -> share) and ``unallocated_keys`` (the top raw keys).
    """
    facts, dimension = attribution.facts, filters["dimension"]
    if attribution.problem:
        return {"headline": {"Attribution": attribution.problem}, "findings": attribution.problem,
                "date_range": None, "filters": filters, "rules": paths.shown(facts.rules.source), "input_total": {},
                "allocated_total": {}, "max_relative_error": 0.0, "by_owner": {}, "by_kind": {}, "coverage": {},
                "unallocated_keys": [], "facts": facts.describe()}  # fmt: skip
    allocation, coverage, unallocated = attribution.result, attribution.cover, attribution.unallocated
    amount, currency = allocation.amounts[0], allocation.currency
    frame = allocation.frame
    check = conservation(allocation)
    spent = sum(allocation.inputs[amount], Decimal(0))
    board = showback(allocation, by=dimension)
    owners = board.groupby(dimension)["total"].agg(lambda s: sum(s, Decimal(0)))
    unallocated_cost = sum(frame.loc[frame["kind"] == "unallocated", amount], Decimal(0))
    everything = coverage[coverage["provider"] == "All providers"]
    top = max(owners.items(), key=lambda item: (item[1], item[0]))[0] if len(owners) else "none"
    first, last = facts.date_range("money")
    return {
        "headline": {
            f"Allocated ({currency})": fmt_money(spent, currency),
            "Attributed by rules": f"{float(everything['coverage'].iloc[0]):.1%}" if len(everything) else "n/a",
            f"Unallocated ({currency})": fmt_money(unallocated_cost, currency),
            f"Top {dimension.replace('_', ' ')}": str(top),
        },
        "findings": findings(attribution),
        "date_range": [str(first), str(last)] if first else None,
        "filters": filters,
        "rules": paths.shown(allocation.rules.source),
        "input_total": {currency: str(spent)},
        "allocated_total": _totals(frame, ["currency"], amount) if len(frame) else {},
        "max_relative_error": float(check["relative_error"].max()) if len(check) else 0.0,
        "by_owner": _totals(board, ["currency", dimension], "total") if len(board) else {},
        "by_kind": _totals(frame, ["currency", "kind"], amount) if len(frame) else {},
        "coverage": {c: dict(zip(part["provider"], part["coverage"].round(6), strict=True))
                     for c, part in coverage.groupby("currency")},
        "unallocated_keys": [{"currency": r["currency"], "provider": r["provider"], "key": r["key"],
                              "value": r["value"], "cost": str(r["cost"])} for r in unallocated.to_dict("records")],
        "facts": facts.describe(),
    }  # fmt: skip
