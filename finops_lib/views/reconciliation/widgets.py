"""Controls of the reconciliation page: provider, dates, granularity and currency."""

from __future__ import annotations

import ipywidgets
from ibis.backends import BaseBackend
from IPython.display import display

from finops_lib import facts
from finops_lib.views.controls import parse_day


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
        The warehouse (:func:`finops_lib.warehouse.ingestion.open_data`).
    catalog, rates
        The notebook's price catalog (:func:`finops_lib.pricing.load_catalog`) and FX rates (None: shipped).
    provider, start_date, end_date, granularity, basis, currency, top_n
        Initial values: the notebook parameters of the same names (``basis`` is not a control).

    Returns
    -------
    ipywidgets.Widget
        A ``VBox``: a row of controls (currency last) above the invoiced-vs-estimated chart, the gap waterfall
        and the ranked unexplained gaps it redraws (only once a front end shows it, as
        :func:`make_overview_controls`).
    """
    from finops_lib import reconcile
    from finops_lib.views.reconciliation import charts as charts_reconcile

    costs, requests = con.table("costs"), con.table("requests")
    first, last = facts.date_range(costs)
    providers = ["all", *facts.providers(costs)]
    currencies = facts.currency_totals(costs)["BillingCurrency"].tolist() or [currency]
    layout = {"layout": ipywidgets.Layout(width="220px"), "style": {"description_width": "80px"}}
    controls = {
        "provider": ipywidgets.Dropdown(description="Provider", options=providers,
                                        value=provider if provider in providers else "all", **layout),
        "start_date": ipywidgets.DatePicker(description="From", value=parse_day(start_date) or first, **layout),
        "end_date": ipywidgets.DatePicker(description="To", value=parse_day(end_date) or last, **layout),
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
