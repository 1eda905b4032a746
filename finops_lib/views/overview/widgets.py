"""Controls of the data overview: dates, provider, group-by and currency redraw its charts."""

from __future__ import annotations

import ipywidgets
from ibis.backends import BaseBackend
from IPython.display import display

from finops_lib import facts
from finops_lib.views.controls import parse_day
from finops_lib.views.overview import charts as overview_charts


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
        The warehouse (:func:`finops_lib.warehouse.ingestion.open_data`).
    start_date, end_date, provider, group_by, currency, top_n
        Initial values: the notebook parameters of the same names. Empty dates start at the
        first and last day of the data.

    Returns
    -------
    ipywidgets.Widget
        A ``VBox``: a row of controls (currency last) above the charts it redraws.
    """
    costs = con.table("costs")
    first, last = facts.date_range(costs)
    providers = ["all", *facts.providers(costs)]
    currencies = facts.currency_totals(costs)["BillingCurrency"].tolist() or [currency]
    layout = {"layout": ipywidgets.Layout(width="220px"), "style": {"description_width": "70px"}}
    controls = {
        "start_date": ipywidgets.DatePicker(description="From", value=parse_day(start_date) or first, **layout),
        "end_date": ipywidgets.DatePicker(description="To", value=parse_day(end_date) or last, **layout),
        "provider": ipywidgets.Dropdown(description="Provider", options=providers,
                                        value=provider if provider in providers else "all", **layout),
        "group_by": ipywidgets.Dropdown(description="Group by", options=list(facts.DIMENSIONS),
                                        value=group_by, **layout),
        "currency": ipywidgets.Dropdown(description="Currency", options=sorted({*currencies, currency}),
                                        value=currency, **layout),
    }  # fmt: skip

    output = ipywidgets.Output()
    output._view_count = 0  # the front end counts its views of the output: draw only when someone looks

    def redraw(change: dict | None = None) -> None:
        if not output._view_count or (change and change["name"] == "_view_count" and change["old"]):
            return
        values = {name: control.value for name, control in controls.items()}
        rows = facts.filter_costs(
            costs, start_date=values["start_date"], end_date=values["end_date"], provider=values["provider"]
        )
        spend = facts.daily_spend(rows, by=values["group_by"], currency=values["currency"], top=top_n)
        tokens = facts.daily_tokens(rows, by=values["group_by"], top=top_n)
        output.clear_output(wait=True)
        with output:
            display(overview_charts.plot_spend_over_time(spend, by=values["group_by"], currency=values["currency"]))
            display(overview_charts.plot_tokens_over_time(tokens, by=values["group_by"]))

    for control in controls.values():
        control.observe(redraw, names="value")
    output.observe(redraw, names="_view_count")
    return ipywidgets.VBox([ipywidgets.HBox(list(controls.values())), output])
