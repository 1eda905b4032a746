"""The reconciliation page (``50_reconciliation``): parameters, facts, catalog and rates, ``results.json``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from ibis.backends import BaseBackend

from finops_lib import checks, fx, pricing
from finops_lib.facts import Facts, open_facts
from finops_lib.reconcile import COMPONENTS, UNEXPLAINED, Reconciliation, check_parameters
from finops_lib.rules import resolve_rules
from finops_lib.views.theme import fmt_money

__all__ = ["findings", "gateway_accounts", "load", "results"]

#: Gap components with a known mechanism (what the estimate could not see or price the same way).
_EXPLAINED = tuple(c for c in COMPONENTS if c not in UNEXPLAINED)
_WORDS = {"volume": "traffic the request logs do not see", "cache": "cache buckets counted differently",
          "tier": "other service or context tiers", "capacity": "provisioned capacity billed by the hour",
          "unpriced": "models or buckets without a catalog price", "non_ai": "non-AI services",
          "rate": "prices that differ from the catalog", "unmatched_invoice": "invoice lines nothing matches",
          "unmatched_estimate": "estimates without an invoice line"}  # fmt: skip


def gateway_accounts(facts: Facts, given: Sequence[str] = ()) -> list[str]:
    """Return the accounts the gateway view reconciles: ``given``, else the sub-accounts of the rules' metered pools.

    A metered pool (``applies_to: metered``, split by the gateway's requests) names the vendor projects or
    workspaces the gateway calls; without one (and none given) the page has no gateway view.
    """
    if given:
        return list(given)
    found = []
    for pool in facts.rules.shared:
        if pool.applies_to == "metered":
            found += [v for c in pool.match if c.field == "sub_account" and c.op == "eq" for v in c.values]
    return found


def findings(rec: Reconciliation, gateway: Reconciliation | None, *, agreement: pd.DataFrame | None,
             tolerance_pct: float) -> str:  # fmt: skip
    """Return the page's answer: invoiced, estimated, the gap's known parts and what is left unexplained."""
    total, currency = rec.total(), rec.currency
    if not total["invoiced"] and not total["estimated"]:
        return "Nothing to reconcile: this data has neither an invoice nor request logs or usage feeds to price."
    if not total["estimated"]:
        return (f"Invoiced {fmt_money(total['invoiced'], currency)}; no request log or usage feed to estimate from "
                f"({rec.basis}), so the whole amount is a gap this page cannot explain further: add the gateway's "
                "logs (LiteLLM, Langfuse, OpenTelemetry) to compare.")  # fmt: skip
    if not total["invoiced"]:
        return (f"The request logs price at {fmt_money(total['estimated'], currency)} ({rec.basis}) but no invoice "
                "or cost export is loaded to compare with: add the vendors' cost exports.")
    parts = [f"Invoiced {fmt_money(total['invoiced'], currency)} against {fmt_money(total['estimated'], currency)} "
             f"estimated from the {rec.basis}: a gap of {fmt_money(total['gap'], currency)}."]
    known = sorted(((c, total[c]) for c in _EXPLAINED if total[c]), key=lambda kv: -abs(kv[1]))
    if known:
        parts.append("Explained: " + "; ".join(f"{fmt_money(v, currency)} {_WORDS[c]}" for c, v in known) + ".")
    largest = max(UNEXPLAINED, key=lambda c: abs(total[c]))
    parts.append(f"Left unexplained: {fmt_money(total['unexplained'], currency)}"
                 + (f" (largest part: {_WORDS[largest]})." if total[largest] else "."))  # fmt: skip
    if gateway is not None and agreement is not None and len(agreement):
        days = (int(agreement["within"].sum()), int(agreement["days"].sum()))
        parts.append(f"On the gateway's own accounts, {days[0]} of {days[1]} days agree within ±{tolerance_pct}%.")
    return " ".join(parts)


def load(con: BaseBackend, *, data_dir: str | None = None, rules_file: str = "",
         currency: str = "USD", catalog_files: Sequence[str] = (),
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
                            rules=resolve_rules(rules_file, data_dir))  # fmt: skip
    everything = everything.explore()  # the page asks many questions of the same rows: scope them once
    filters = check_parameters(everything, **parameters)
    facts = everything.with_options(start_date=filters["start_date"], end_date=filters["end_date"],
                                    filters={"provider": filters["provider"]})  # fmt: skip
    catalog = pricing.catalog_for(data_dir, *catalog_files)
    return facts, catalog, {**filters, "currency": facts.currency}


def results(rec: Reconciliation, gateway: Reconciliation | None, *, filters: dict[str, Any],
            agreement: pd.DataFrame | None, ranked: pd.DataFrame, unpriced: pd.DataFrame,
            tolerance_pct: float) -> dict[str, Any]:  # fmt: skip
    """Return the page's ``results.json``: invoiced (the facts' spend), estimated, the gap's parts, the gateway view.

    Parameters
    ----------
    rec, gateway
        All traffic and the gateway keys only (:func:`finops_lib.reconcile.reconcile`; None: no gateway accounts).
    filters
        :func:`load`'s parameters.
    agreement, ranked, unpriced
        The gateway view's agreement per provider (None without one), the ranked unexplained gaps and the unpriced
        lines.
    tolerance_pct
        The agreement band, in percent of the invoice.
    """
    total, currency = rec.total(), rec.currency
    unexplained = total["unexplained"]
    money = {f"Invoiced ({currency})": total["invoiced"], f"Estimated ({rec.basis})": total["estimated"],
             "Gap": total["gap"], "Unexplained gap": unexplained}  # fmt: skip
    headline = {k: fmt_money(v, currency) for k, v in money.items()}
    if gateway is not None and agreement is not None and len(agreement):
        days = (int(agreement["within"].sum()), int(agreement["days"].sum()))
        headline[f"Gateway days within ±{tolerance_pct}%"] = f"{days[0]} of {days[1]}"
    return {
        "headline": headline,
        "findings": findings(rec, gateway, agreement=agreement if agreement is not None else pd.DataFrame(),
                             tolerance_pct=tolerance_pct),
        "date_range": rec.as_results()["date_range"], "filters": {k: str(v) for k, v in filters.items()},
        "invoiced_total": str(total["invoiced"]), "unexplained_total": str(unexplained),
        "all_traffic": rec.as_results(), "gateway": gateway.as_results() if gateway is not None else None,
        "gateway_agreement": agreement.astype(str).to_dict("records") if agreement is not None else [],
        "unexplained_top": ranked.astype(str).to_dict("records"), "unpriced_lines": len(unpriced),
    }  # fmt: skip
