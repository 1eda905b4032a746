"""Interactive controls for notebooks: ``make_*()`` returns an ipywidgets container, thin wiring only.

Every control maps to a notebook parameter of the same name, and the view calls the same
library functions as the notebook's static cells, so a papermill run with those parameters shows
what a person gets from the controls. ipywidgets is imported here only (import this module lazily).
"""

from __future__ import annotations

from datetime import date

import ipywidgets
from IPython.display import display
from ibis.backends import BaseBackend

from finops_lib import charts, overview

__all__ = ["make_overview_controls"]


def make_overview_controls(
    con: BaseBackend,
    *,
    start_date: str = "",
    end_date: str = "",
    provider: str = "all",
    group_by: str = "model",
    currency: str = "USD",
    top_n: int = 8,
) -> ipywidgets.Widget:
    """Return date, provider, group-by and currency controls driving the overview's spend and token charts.

    Parameters
    ----------
    con
        The warehouse (:func:`finops_lib.ingest.open_data`).
    start_date, end_date, provider, group_by, currency, top_n
        Initial values: the notebook parameters of the same names. Empty dates start at the
        first and last day of the data.

    Returns
    -------
    ipywidgets.Widget
        A ``VBox``: a row of controls (currency last) above the charts it redraws.
    """
    costs = con.table("costs")
    first, last = overview.date_range(costs)
    providers = ["all", *sorted(costs.select("ProviderName").distinct().to_pandas()["ProviderName"].dropna().astype(str))]
    currencies = overview.currency_totals(costs)["BillingCurrency"].tolist() or [currency]
    layout = {"layout": ipywidgets.Layout(width="220px"), "style": {"description_width": "70px"}}
    controls = {
        "start_date": ipywidgets.DatePicker(description="From", value=_day(start_date) or first, **layout),
        "end_date": ipywidgets.DatePicker(description="To", value=_day(end_date) or last, **layout),
        "provider": ipywidgets.Dropdown(description="Provider", options=providers,
                                        value=provider if provider in providers else "all", **layout),
        "group_by": ipywidgets.Dropdown(description="Group by", options=list(overview.DIMENSIONS),
                                        value=group_by, **layout),
        "currency": ipywidgets.Dropdown(description="Currency", options=sorted({*currencies, currency}),
                                        value=currency, **layout),
    }  # fmt: skip

    def redraw(start_date: date | None, end_date: date | None, provider: str, group_by: str, currency: str) -> None:
        rows = overview.filter_costs(costs, start_date=start_date, end_date=end_date, provider=provider)
        spend = overview.daily_spend(rows, by=group_by, currency=currency, top=top_n)
        tokens = overview.daily_tokens(rows, by=group_by, top=top_n)
        display(charts.plot_spend_over_time(spend, by=group_by, currency=currency))
        display(charts.plot_tokens_over_time(tokens, by=group_by))

    output = ipywidgets.interactive_output(redraw, controls)
    return ipywidgets.VBox([ipywidgets.HBox(list(controls.values())), output])


def _day(value: str) -> date | None:
    return date.fromisoformat(value) if value else None
