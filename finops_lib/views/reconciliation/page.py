"""The reconciliation page (``50_reconciliation``): parameters, facts, catalog and rates, ``results.json``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from ibis.backends import BaseBackend

from finops_lib import checks, fx, pricing
from finops_lib.facts import Facts, open_facts
from finops_lib.reconcile import Reconciliation, check_parameters
from finops_lib.rules import resolve_rules
from finops_lib.views.theme import fmt_money

__all__ = ["load", "results"]


def load(con: BaseBackend, *, data_dir: str | None = None, currency: str = "USD", catalog_files: Sequence[str] = (),
         fx_files: Sequence[str] = (),
         **parameters: Any) -> tuple[Facts, pricing.Catalog, dict[str, Any]]:  # fmt: skip
    """Return the page's facts (window and provider applied), its price catalog and its checked parameters.

    Parameters
    ----------
    con
        The warehouse (:func:`finops_lib.warehouse.open_data`).
    data_dir
        The data folder (its allocation rules); None: a warehouse without its folder. Only the committed
        sample's folder gets the sample world's fictional price change (E09) layered over the catalogs.
    currency
        Every amount is converted to it at the charge day's rate (catalog prices too).
    catalog_files, fx_files
        Price catalogs and exchange-rate files layered over the shipped ones.
    **parameters
        ``provider``, ``start_date``, ``end_date``, ``granularity``, ``basis``
        (:func:`finops_lib.reconcile.check_parameters`).
    """
    rates = fx.load_rates(*fx_files)
    everything = open_facts(con, currency=checks.currency_code(currency), rates=rates,
                            rules=resolve_rules("", data_dir))  # fmt: skip
    filters = check_parameters(everything, **parameters)
    facts = everything.with_options(start_date=filters["start_date"], end_date=filters["end_date"],
                                    filters={"provider": filters["provider"]})  # fmt: skip
    catalog = pricing.catalog_for(data_dir, *catalog_files)
    return facts, catalog, {**filters, "currency": facts.currency}


def results(rec: Reconciliation, gateway: Reconciliation, *, filters: dict[str, Any], agreement: pd.DataFrame,
            ranked: pd.DataFrame, unpriced: pd.DataFrame, tolerance_pct: float) -> dict[str, Any]:  # fmt: skip
    """Return the page's ``results.json``: invoiced (the facts' spend), estimated, the gap's parts, the gateway view.

    Parameters
    ----------
    rec, gateway
        All traffic and the gateway keys only (:func:`finops_lib.reconcile.reconcile`).
    filters
        :func:`load`'s parameters.
    agreement, ranked, unpriced
        The gateway view's agreement per provider, the ranked unexplained gaps and the unpriced lines.
    tolerance_pct
        The agreement band, in percent of the invoice.
    """
    total, currency = rec.total(), rec.currency
    days = (int(agreement["within"].sum()), int(agreement["days"].sum()))
    money = {f"Invoiced ({currency})": total["invoiced"], f"Estimated ({rec.basis})": total["estimated"],
             "Gap: volume": total["volume"], "Gap: rate": total["rate"]}  # fmt: skip
    return {
        "headline": {**{k: fmt_money(v, currency) for k, v in money.items()},
                     f"Gateway days within ±{tolerance_pct}%": f"{days[0]} of {days[1]}"},
        "date_range": rec.as_results()["date_range"], "filters": {k: str(v) for k, v in filters.items()},
        "invoiced_total": str(total["invoiced"]),
        "all_traffic": rec.as_results(), "gateway": gateway.as_results(),
        "gateway_agreement": agreement.astype(str).to_dict("records"),
        "unexplained_top": ranked.astype(str).to_dict("records"), "unpriced_lines": len(unpriced),
    }  # fmt: skip
