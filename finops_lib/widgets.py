"""Interactive controls for notebooks: ``make_*()`` returns an ipywidgets container, thin wiring only.

Every control maps to a notebook parameter of the same name, and the view calls the same
library functions as the notebook's static cells, so a papermill run with those parameters shows
what a person gets from the controls. ipywidgets is imported here only (import this module lazily).

Views draw only once a front end shows them (the widget's ``_view_count`` becomes positive): charts
written into an ``Output`` widget during a headless run stall nbclient, hence papermill and the
report, until the cell times out (https://github.com/jupyter/nbclient/issues/312). So the wiring
observes the controls itself instead of using ``ipywidgets.interactive_output``, which draws at once.
"""

from __future__ import annotations

from datetime import date

import ipywidgets
from ibis.backends import BaseBackend
from IPython.display import display

from finops_lib import charts, overview

__all__ = ["make_attribution_controls", "make_overview_controls", "make_reconciliation_controls"]


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
    providers = ["all", *overview.providers(costs)]
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

    output = ipywidgets.Output()
    output._view_count = 0  # the front end counts its views of the output: draw only when someone looks

    def redraw(change: dict | None = None) -> None:
        if not output._view_count or (change and change["name"] == "_view_count" and change["old"]):
            return
        values = {name: control.value for name, control in controls.items()}
        rows = overview.filter_costs(
            costs, start_date=values["start_date"], end_date=values["end_date"], provider=values["provider"]
        )
        spend = overview.daily_spend(rows, by=values["group_by"], currency=values["currency"], top=top_n)
        tokens = overview.daily_tokens(rows, by=values["group_by"], top=top_n)
        output.clear_output(wait=True)
        with output:
            display(charts.plot_spend_over_time(spend, by=values["group_by"], currency=values["currency"]))
            display(charts.plot_tokens_over_time(tokens, by=values["group_by"]))

    for control in controls.values():
        control.observe(redraw, names="value")
    output.observe(redraw, names="_view_count")
    return ipywidgets.VBox([ipywidgets.HBox(list(controls.values())), output])


def _day(value: str) -> date | None:
    return date.fromisoformat(value) if value else None


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
        The warehouse (:func:`finops_lib.ingest.open_data`).
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
    from finops_lib import allocation, charts_attribution  # lazy: analyses sit below widgets

    costs, requests = con.table("costs"), con.table("requests")
    first, last = overview.date_range(costs)
    currencies = overview.currency_totals(costs)["BillingCurrency"].tolist() or [currency]
    layout = {"layout": ipywidgets.Layout(width="240px"), "style": {"description_width": "80px"}}
    controls = {
        "start_date": ipywidgets.DatePicker(description="From", value=_day(start_date) or first, **layout),
        "end_date": ipywidgets.DatePicker(description="To", value=_day(end_date) or last, **layout),
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


def make_reconciliation_controls(
    con: BaseBackend,
    catalog: object,
    *,
    rates: object = None,
    provider: str = "all",
    start_date: str = "",
    end_date: str = "",
    granularity: str = "day",
    basis: str = "requests",
    currency: str = "USD",
    top_n: int = 10,
) -> ipywidgets.Widget:
    """Return provider, period, granularity and currency controls driving the reconciliation views.

    Parameters
    ----------
    con
        The warehouse (:func:`finops_lib.ingest.open_data`).
    catalog, rates
        The notebook's price catalog (:func:`finops_lib.prices.load_catalog`) and FX rates (None: shipped).
    provider, start_date, end_date, granularity, basis, currency, top_n
        Initial values: the notebook parameters of the same names (``basis`` is not a control).

    Returns
    -------
    ipywidgets.Widget
        A ``VBox``: a row of controls (currency last) above the invoiced-vs-estimated chart, the gap waterfall
        and the ranked unexplained gaps it redraws (only once a front end shows it, as
        :func:`make_overview_controls`).
    """
    from finops_lib import charts_reconcile, reconcile  # lazy: analyses sit below widgets

    costs, requests = con.table("costs"), con.table("requests")
    first, last = overview.date_range(costs)
    providers = ["all", *overview.providers(costs)]
    currencies = overview.currency_totals(costs)["BillingCurrency"].tolist() or [currency]
    layout = {"layout": ipywidgets.Layout(width="220px"), "style": {"description_width": "80px"}}
    controls = {
        "provider": ipywidgets.Dropdown(description="Provider", options=providers,
                                        value=provider if provider in providers else "all", **layout),
        "start_date": ipywidgets.DatePicker(description="From", value=_day(start_date) or first, **layout),
        "end_date": ipywidgets.DatePicker(description="To", value=_day(end_date) or last, **layout),
        "granularity": ipywidgets.Dropdown(description="Granularity", options=list(reconcile.GRANULARITIES),
                                           value=granularity, **layout),
        "currency": ipywidgets.Dropdown(description="Currency", options=sorted({*currencies, currency}),
                                        value=currency, **layout),
    }  # fmt: skip

    output = ipywidgets.Output()
    output._view_count = 0  # draw only when a front end shows the view (see the module docstring)

    def redraw(change: dict | None = None) -> None:
        if not output._view_count or (change and change["name"] == "_view_count" and change["old"]):
            return
        v = {name: control.value for name, control in controls.items()}
        rec = reconcile.reconcile(costs, requests, catalog=catalog, basis=basis, currency=v["currency"], rates=rates,
                                  providers=None if v["provider"] == "all" else [v["provider"]],
                                  start_date=v["start_date"], end_date=v["end_date"])  # fmt: skip
        output.clear_output(wait=True)
        over_time = rec.summarize(v["granularity"], by=())
        with output:
            display(charts_reconcile.plot_invoiced_vs_estimated(over_time, currency=v["currency"],
                                                                granularity=v["granularity"]))  # fmt: skip
            display(charts_reconcile.plot_gap_waterfall(rec.components(), currency=v["currency"]))
            display(rec.unexplained(top=top_n, granularity=v["granularity"]))

    for control in controls.values():
        control.observe(redraw, names="value")
    output.observe(redraw, names="_view_count")
    return ipywidgets.VBox([ipywidgets.HBox(list(controls.values())), output])
