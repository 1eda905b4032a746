"""Notebook support for attribution: parameter checks and the ``results.json`` summary."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from finops_lib.allocation.allocator import SPLIT_STRATEGIES, Allocation, conservation
from finops_lib.allocation.showback import showback
from finops_lib.errors import ParameterError
from finops_lib.rules.model import OWNER_FIELDS
from finops_lib.views.overview import page as overview_page
from finops_lib.views.theme import currency_symbol

__all__ = ["SPLIT_STRATEGIES", "check_parameters", "notebook_results"]


def check_parameters(costs: ir.Table, *, dimension: str = "team", split_strategy: str = "rules",
                     currency: str = "USD", start_date: str | date | None = None, end_date: str | date | None = None,
                     top_n: int = 10) -> dict[str, Any]:  # fmt: skip
    """Check the attribution notebook's parameters; return them normalized.

    Raises
    ------
    ParameterError
        On an unknown dimension or split strategy, a malformed date or currency, a start after the end, or a
        non-positive ``top_n``.
    """
    if dimension not in OWNER_FIELDS:
        raise ParameterError(f"dimension must be one of {', '.join(OWNER_FIELDS)}; got {dimension!r}")
    if split_strategy not in SPLIT_STRATEGIES:
        raise ParameterError(f"split_strategy must be one of {', '.join(SPLIT_STRATEGIES)}; "
                             f"got {split_strategy!r}")
    checked = overview_page.check_parameters(costs, group_by="team", currency=currency, start_date=start_date,
                                        end_date=end_date, top_n=top_n)  # fmt: skip
    return {"start_date": checked["start_date"], "end_date": checked["end_date"], "dimension": dimension,
            "split_strategy": split_strategy, "currency": currency, "top_n": top_n}  # fmt: skip


def _money(value: Decimal, currency: str) -> str:
    return f"{currency_symbol(currency)}{value:,.2f}"


def _totals(frame: pd.DataFrame, keys: list[str], amount: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, part in frame.groupby(keys):
        total = sum(part[amount], Decimal(0))
        node = out
        for level in (key if isinstance(key, tuple) else (key,))[:-1]:
            node = node.setdefault(str(level), {})
        node[str(key[-1] if isinstance(key, tuple) else key)] = str(total)
    return out


def notebook_results(allocation: Allocation, *, coverage: pd.DataFrame, unallocated: pd.DataFrame,
                     filters: dict[str, Any],
                     date_range: tuple[date | None, date | None]) -> dict[str, Any]:  # fmt: skip
    """Return the ``results.json`` content of the attribution notebook.

    Parameters
    ----------
    allocation
        The cost allocation shown.
    coverage, unallocated
        :func:`finops_lib.allocation.coverage` and :func:`finops_lib.allocation.unallocated_keys` of it.
    filters
        The checked parameters (:func:`check_parameters`).
    date_range
        First and last charge day of the window.

    Returns
    -------
    dict
        ``headline`` (allocated cost, coverage, unallocated cost and top owner in ``currency``), ``date_range``,
        ``filters``, ``rules`` (the file or ``(tags only)``), ``input_total`` and ``allocated_total`` (per
        currency, exact text), ``max_relative_error`` (conservation), ``by_owner`` (currency -> owner -> total,
        at the ``dimension`` level), ``by_kind`` (currency -> kind -> total), ``coverage`` (currency ->
        provider -> share) and ``unallocated_keys`` (the top raw keys).
    """
    amount, currency, dimension = allocation.amounts[0], filters["currency"], filters["dimension"]
    frame = allocation.frame
    check = conservation(allocation)
    inputs = allocation.inputs.groupby("currency")[amount].agg(lambda s: sum(s, Decimal(0)))
    board = showback(allocation, by=dimension)
    owners = board[board["currency"] == currency].groupby(dimension)["total"].agg(lambda s: sum(s, Decimal(0)))
    spent = Decimal(inputs.get(currency, Decimal(0)))
    unallocated_cost = sum(frame.loc[(frame["currency"] == currency) & (frame["kind"] == "unallocated"), amount],
                           Decimal(0))  # fmt: skip
    everything = coverage[(coverage["currency"] == currency) & (coverage["provider"] == "All providers")]
    top = max(owners.items(), key=lambda item: (item[1], item[0]))[0] if len(owners) else "none"
    return {
        "headline": {
            f"Allocated ({currency})": _money(spent, currency),
            "Attributed by rules": f"{float(everything['coverage'].iloc[0]):.1%}" if len(everything) else "n/a",
            f"Unallocated ({currency})": _money(unallocated_cost, currency),
            f"Top {dimension.replace('_', ' ')}": str(top),
        },
        "date_range": [str(date_range[0]), str(date_range[1])] if date_range[0] else None,
        "filters": filters,
        "rules": allocation.rules.source,
        "input_total": {str(k): str(v) for k, v in inputs.items()},
        "allocated_total": _totals(frame, ["currency"], amount) if len(frame) else {},
        "max_relative_error": float(check["relative_error"].max()) if len(check) else 0.0,
        "by_owner": _totals(board, ["currency", dimension], "total") if len(board) else {},
        "by_kind": _totals(frame, ["currency", "kind"], amount) if len(frame) else {},
        "coverage": {c: dict(zip(part["provider"], part["coverage"].round(6), strict=True))
                     for c, part in coverage.groupby("currency")},
        "unallocated_keys": [{"currency": r["currency"], "provider": r["provider"], "key": r["key"],
                              "value": r["value"], "cost": str(r["cost"])} for r in unallocated.to_dict("records")],
    }  # fmt: skip
