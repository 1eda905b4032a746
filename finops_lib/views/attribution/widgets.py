"""Controls of the attribution page: dates, dimension, split strategy and currency redraw its views."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import ipywidgets

from finops_lib.allocation import SPLIT_STRATEGIES, Allocation, allocate, hierarchy, hierarchy_levels, showback
from finops_lib.facts import Facts
from finops_lib.rules import OWNER_FIELDS
from finops_lib.views.attribution.charts import plot_hierarchy, plot_showback
from finops_lib.views.controls import date_picker, dropdown, headline, lazy_view, parse_day
from finops_lib.views.theme import fmt_money

__all__ = ["make_attribution_controls"]


def make_attribution_controls(facts: Facts, *, dimension: str = "team", split_strategy: str = "rules",
                              top_n: int = 10) -> ipywidgets.Widget:  # fmt: skip
    """Return date, dimension, split-strategy and currency controls driving the attribution views.

    Parameters
    ----------
    facts
        The page's facts (:func:`finops_lib.views.attribution.page.load`, rules as read): window and currency are
        the controls' initial values, so the first view is the static page's.
    dimension, split_strategy, top_n
        The notebook parameters of the same names.

    Returns
    -------
    ipywidgets.Widget
        A ``VBox``: a row of controls (currency last) above the allocated total, the hierarchy chart, the monthly
        showback chart and the showback table it redraws (only once a front end shows it).
    """
    facts = facts.explore()  # every redraw asks the same rows: keep them scoped, owned and converted
    everything = facts.with_options(start_date=None, end_date=None)
    first, last = everything.date_range("money")
    currencies = sorted({*everything.currency_totals()["billing_currency"], facts.currency})
    controls = {
        "start_date": date_picker("From", parse_day(facts.start_date) or first, width="240px"),
        "end_date": date_picker("To", parse_day(facts.end_date) or last, width="240px"),
        "dimension": dropdown("Dimension", list(OWNER_FIELDS), dimension, width="240px"),
        "split_strategy": dropdown("Split", list(SPLIT_STRATEGIES), split_strategy, width="240px"),
        "currency": dropdown("Currency", currencies, facts.currency, width="240px"),
    }

    @functools.lru_cache(maxsize=16)
    def allocation_of(start: date, end: date, currency: str, split: str) -> Allocation:  # the dimension only regroups
        return allocate(facts.with_options(start_date=start, end_date=end, currency=currency,
                                           rules=facts.rules.with_strategy(split)))  # fmt: skip

    def draw(values: dict[str, Any]) -> Iterator[object]:
        result = allocation_of(values["start_date"], values["end_date"], values["currency"], values["split_strategy"])
        by, currency = values["dimension"], values["currency"]
        levels = hierarchy_levels(by)
        board = showback(result, by=by)
        allocated = sum(result.frame[result.amounts[0]], Decimal(0))
        yield headline({f"Allocated ({currency})": fmt_money(allocated, currency), "Split": values["split_strategy"],
                        "From": str(values["start_date"]), "To": str(values["end_date"])})  # fmt: skip
        yield plot_hierarchy(hierarchy(result, levels=levels, currency=currency), levels=levels, currency=currency,
                             top=top_n)  # fmt: skip
        yield plot_showback(board, by=by, currency=currency, top=top_n)
        yield board.drop(columns="currency")

    return lazy_view(controls, draw)
