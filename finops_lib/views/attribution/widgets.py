"""Controls of the attribution page: dates, dimension, split strategy and currency."""

from __future__ import annotations

import ipywidgets
from ibis.backends import BaseBackend
from IPython.display import display

from finops_lib import facts
from finops_lib.views.controls import parse_day


def make_attribution_controls(
    con: BaseBackend,
    rules: object,
    *,
    start_date: str = "",
    end_date: str = "",
    dimension: str = "team",
    split_strategy: str = "rules",
    currency: str = "USD",
    top_n: int = 10,
) -> ipywidgets.Widget:
    """Return date, dimension, split-strategy and currency controls driving the attribution views.

    Parameters
    ----------
    con
        The warehouse (:func:`finops_lib.warehouse.ingestion.open_data`).
    rules
        The :class:`finops_lib.allocation.Rules` of the notebook (before its ``split_strategy``).
    start_date, end_date, dimension, split_strategy, currency, top_n
        Initial values: the notebook parameters of the same names.

    Returns
    -------
    ipywidgets.Widget
        A ``VBox``: a row of controls (currency last) above the hierarchy chart, the monthly showback chart
        and the showback table it redraws (only once a front end shows it, as :func:`make_overview_controls`).
    """
    from finops_lib import allocation
    from finops_lib.views.attribution import charts as charts_attribution

    costs, requests = con.table("costs"), con.table("requests")
    first, last = facts.date_range(costs)
    currencies = facts.currency_totals(costs)["BillingCurrency"].tolist() or [currency]
    layout = {"layout": ipywidgets.Layout(width="240px"), "style": {"description_width": "80px"}}
    controls = {
        "start_date": ipywidgets.DatePicker(description="From", value=parse_day(start_date) or first, **layout),
        "end_date": ipywidgets.DatePicker(description="To", value=parse_day(end_date) or last, **layout),
        "dimension": ipywidgets.Dropdown(description="Dimension", options=list(allocation.OWNER_FIELDS),
                                         value=dimension, **layout),
        "split_strategy": ipywidgets.Dropdown(description="Split", options=list(allocation.SPLIT_STRATEGIES),
                                              value=split_strategy, **layout),
        "currency": ipywidgets.Dropdown(description="Currency", options=sorted({*currencies, currency}),
                                        value=currency, **layout),
    }  # fmt: skip

    output = ipywidgets.Output()
    output._view_count = 0  # draw only when a front end shows the view (see the module docstring)

    def redraw(change: dict | None = None) -> None:
        if not output._view_count or (change and change["name"] == "_view_count" and change["old"]):
            return
        values = {name: control.value for name, control in controls.items()}
        result = allocation.allocate(costs, rules.with_strategy(values["split_strategy"]), requests=requests,
                                     start_date=values["start_date"], end_date=values["end_date"])  # fmt: skip
        levels = allocation.hierarchy_levels(values["dimension"])
        shape = allocation.hierarchy(result, levels=levels, currency=values["currency"])
        board = allocation.showback(result, by=values["dimension"])
        board = board[board["currency"] == values["currency"]]
        output.clear_output(wait=True)
        with output:
            display(charts_attribution.plot_hierarchy(shape, levels=levels, currency=values["currency"], top=top_n))
            display(charts_attribution.plot_showback(board, by=values["dimension"], currency=values["currency"],
                                                     top=top_n))  # fmt: skip
            display(board.drop(columns="currency"))

    for control in controls.values():
        control.observe(redraw, names="value")
    output.observe(redraw, names="_view_count")
    return ipywidgets.VBox([ipywidgets.HBox(list(controls.values())), output])
