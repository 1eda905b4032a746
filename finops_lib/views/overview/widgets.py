"""Controls of the data overview: dates, provider, group-by and currency redraw its headline and charts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ipywidgets

from finops_lib.facts import Facts
from finops_lib.views.controls import date_picker, dropdown, headline, lazy_view, parse_day
from finops_lib.views.overview.charts import plot_spend_over_time, plot_tokens_over_time
from finops_lib.views.overview.page import GROUP_BY
from finops_lib.views.theme import fmt_money

__all__ = ["make_overview_controls"]


def make_overview_controls(facts: Facts, *, group_by: str = "model", top_n: int = 8) -> ipywidgets.Widget:
    """Return date, provider, group-by and currency controls driving the overview's spend and token charts.

    Parameters
    ----------
    facts
        The page's facts (:func:`finops_lib.views.overview.page.load`): their window, provider and currency are
        the controls' initial values, so the first view is the static page's.
    group_by, top_n
        The notebook parameters of the same names.

    Returns
    -------
    ipywidgets.Widget
        A ``VBox``: a row of controls (currency last) above the spend headline and the charts it redraws.
    """
    facts = facts.explore()  # every redraw asks the same rows: keep them scoped, owned and converted
    everything = facts.with_options(start_date=None, end_date=None, filters={})
    first, last = everything.date_range("money")
    providers = ["all", *everything.values("provider")]
    currencies = sorted({*everything.currency_totals()["billing_currency"], facts.currency})
    chosen = facts.filters.get("provider", ("all",))[0]
    controls = {
        "start_date": date_picker("From", parse_day(facts.start_date) or first),
        "end_date": date_picker("To", parse_day(facts.end_date) or last),
        "provider": dropdown("Provider", providers, chosen),
        "group_by": dropdown("Group by", list(GROUP_BY), group_by),
        "currency": dropdown("Currency", currencies, facts.currency),
    }

    def draw(values: dict[str, Any]) -> Iterator[object]:
        view = facts.with_options(start_date=values["start_date"], end_date=values["end_date"],
                                  filters={"provider": values["provider"]}, currency=values["currency"])  # fmt: skip
        by, currency = values["group_by"], values["currency"]
        yield headline({f"Spend ({currency})": fmt_money(view.total("cost"), currency),
                        "From": str(values["start_date"]), "To": str(values["end_date"])})  # fmt: skip
        yield plot_spend_over_time(view.series("cost", by=by, top=top_n), by=by, currency=currency)
        yield plot_tokens_over_time(view.series("tokens", by=by, top=top_n), by=by)

    return lazy_view(controls, draw)
