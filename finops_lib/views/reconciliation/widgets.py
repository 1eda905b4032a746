"""Controls of the reconciliation page: provider, dates, granularity and currency redraw its views."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import ipywidgets

from finops_lib import pricing
from finops_lib.facts import Facts
from finops_lib.reconcile import GRANULARITIES, Reconciliation, reconcile
from finops_lib.views.controls import date_picker, dropdown, headline, lazy_view, parse_day
from finops_lib.views.reconciliation.charts import plot_gap_waterfall, plot_invoiced_vs_estimated
from finops_lib.views.theme import fmt_money

__all__ = ["make_reconciliation_controls"]


def make_reconciliation_controls(facts: Facts, catalog: pricing.Catalog, *, granularity: str = "day",
                                 basis: str = "requests", top_n: int = 10) -> ipywidgets.Widget:  # fmt: skip
    """Return provider, period, granularity and currency controls driving the reconciliation views.

    Parameters
    ----------
    facts
        The page's facts (:func:`finops_lib.views.reconciliation.page.load`): window, provider and currency are the
        controls' initial values, so the first view is the static page's.
    catalog
        The page's price catalog.
    granularity, basis, top_n
        The notebook parameters of the same names (``basis`` is not a control).

    Returns
    -------
    ipywidgets.Widget
        A ``VBox``: a row of controls (currency last) above the invoiced and estimated totals, their chart over time,
        the gap waterfall and the ranked unexplained gaps (only once a front end shows it).
    """
    facts = facts.explore()  # every redraw asks the same rows: keep them scoped, owned and converted
    everything = facts.with_options(start_date=None, end_date=None, filters={})
    first, last = everything.date_range("money")
    currencies = sorted({*everything.currency_totals()["billing_currency"], facts.currency})
    controls = {
        "provider": dropdown("Provider", ["all", *everything.values("provider")],
                             facts.filters.get("provider", ("all",))[0]),
        "start_date": date_picker("From", parse_day(facts.start_date) or first),
        "end_date": date_picker("To", parse_day(facts.end_date) or last),
        "granularity": dropdown("Granularity", list(GRANULARITIES), granularity),
        "currency": dropdown("Currency", currencies, facts.currency),
    }  # fmt: skip

    @functools.lru_cache(maxsize=4)
    def whole(currency: str) -> Reconciliation:  # lines are matched per provider and day: cut, don't re-query
        return reconcile(everything.with_options(currency=currency), catalog=catalog, basis=basis)

    def draw(v: dict[str, Any]) -> Iterator[object]:
        providers = [] if v["provider"] in ("all", "", None) else [v["provider"]]
        rec = whole(v["currency"]).within(v["start_date"], v["end_date"], providers)
        total = rec.total()
        yield headline({f"Invoiced ({v['currency']})": fmt_money(total["invoiced"], v["currency"]),
                        f"Estimated ({basis})": fmt_money(total["estimated"], v["currency"])})  # fmt: skip
        yield plot_invoiced_vs_estimated(rec.summarize(v["granularity"], by=()), currency=v["currency"],
                                         granularity=v["granularity"])  # fmt: skip
        yield plot_gap_waterfall(rec.components(), currency=v["currency"])
        yield rec.unexplained(top=top_n, granularity=v["granularity"])

    return lazy_view(controls, draw)
