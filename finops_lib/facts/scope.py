"""Which rows count: the money and token scope of every ``costs`` row, stated in two columns.

A vendor may send both an invoiced feed (OpenAI Costs API, Anthropic cost report) and a token feed (their usage
APIs). To count nothing twice, per provider and UTC day:

* **money** comes from the invoiced rows when there are any, else from priced estimates. ``x_MoneyScope`` says,
  for each row: ``invoiced`` (counted), ``estimated`` (counted: a priced estimate on a provider-day without an
  invoice), ``superseded`` (an estimate on a provider-day the invoice covers: not counted) or ``unpriced`` (no
  price and no invoice to stand in: flagged, never counted as zero).
* **tokens** come from the usage feeds when there are any, else from the invoices' own quantities.
  ``x_TokenScope`` says ``usage`` or ``invoice`` (counted), ``superseded`` (invoice quantities on a provider-day a
  usage feed covers) or ``none`` (not a token row).

These two columns are the whole rule; :data:`MONEY_SCOPES` and :data:`TOKEN_SCOPES` list the values that count.
Before them, a provider's cost datasets delivered side by side (Azure actual and amortized exports of the same
charges) are related once: billed figures and quantities from ``actual``, EffectiveCost from ``amortized``
(:func:`finops_lib.cost_datasets.merge_cost_datasets`), so nothing is counted twice.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from finops_lib.cost_datasets import merge_cost_datasets

__all__ = ["AI_SCOPE", "GENAI_SUBCATEGORY", "MONEY_SCOPES", "SCOPE_MEANINGS", "TOKEN_SCOPES", "in_ai_scope",
           "in_window", "with_scopes"]

#: Money scopes that count in money totals.
MONEY_SCOPES: tuple[str, ...] = ("invoiced", "estimated")
#: Token scopes that count in token totals.
TOKEN_SCOPES: tuple[str, ...] = ("usage", "invoice")
#: What each scope value means (for pages and documentation).
SCOPE_MEANINGS: dict[str, str] = {
    "invoiced": "invoiced: counted",
    "estimated": "priced estimate on a provider-day without an invoice: counted",
    "superseded": "estimate on a provider-day that has an invoice: not counted (the invoice has the money)",
    "unpriced": "no price and no invoice: not counted, never shown as $0",
}


#: FOCUS 1.2 ServiceSubcategory of generative AI charges.
GENAI_SUBCATEGORY = "Generative AI"
#: The AI scope of reconciliation and the AI views, in words (pages and documentation quote it).
AI_SCOPE = ("a charge is AI spend when it names a model, is a token bucket, is provisioned model capacity "
            "(service tier 'provisioned'), or its FOCUS ServiceSubcategory is 'Generative AI'; the rest of the 'AI and "
            "Machine Learning' category (machine-learning compute, disks, notebooks) is not")


def in_ai_scope(table: ir.Table) -> ir.BooleanValue:
    """Return whether each ``costs`` row is AI spend (see :data:`AI_SCOPE`; never null).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"x_Model": ["gpt-4o", None, None, None], "x_TokenType": ["output"] + ["non_token"] * 3,
    ...     "ServiceCategory": ["AI and Machine Learning"] * 3 + ["Compute"],
    ...     "ServiceSubcategory": [None, "Generative AI", "Machine Learning", None]})
    >>> t = ibis.memtable(rows)
    >>> t.select(ai=in_ai_scope(t)).to_pandas().ai.tolist()
    [True, True, False, False]
    """
    ai = table.x_Model.notnull()
    if "x_TokenType" in table.columns:
        ai = ai | (table.x_TokenType.notnull() & (table.x_TokenType != "non_token"))
    if "ServiceSubcategory" in table.columns:
        ai = ai | (table.ServiceSubcategory == GENAI_SUBCATEGORY)
    if "x_ServiceTier" in table.columns:
        ai = ai | (table.x_ServiceTier == "provisioned")
    return ai.fill_null(False)


def in_window(table: ir.Table, start_date: date | None, end_date: date | None) -> ir.Table:
    """Return the rows charged in ``[start_date, end_date]`` (inclusive UTC days; None is open)."""
    out = table
    if start_date:
        out = out.filter(out.ChargePeriodStart.date() >= start_date)
    if end_date:
        out = out.filter(out.ChargePeriodStart.date() <= end_date)
    return out


def _flag(value: ir.BooleanValue) -> ir.IntegerValue:
    return value.fill_null(False).cast("int8")


def with_scopes(costs: ir.Table, *, datasets: bool = True) -> ir.Table:
    """Return ``costs`` with ``x_MoneyScope`` and ``x_TokenScope`` (see the module docstring).

    The scopes look at every row of a provider and day, so compute them before any filter other than the
    window and the provider. ``datasets=False`` skips relating cost datasets (when at most one is loaded).

    Examples
    --------
    >>> from decimal import Decimal as D
    >>> import pandas as pd
    >>> import pyarrow as pa
    >>> rows = pd.DataFrame({"ChargePeriodStart": pd.to_datetime(["2026-06-01"] * 3 + ["2026-06-02"], utc=True),
    ...     "ProviderName": "OpenAI", "x_CostBasis": ["invoiced", "estimated", "estimated", "estimated"],
    ...     "BilledCost": [D("2"), None, D("1"), D("3")], "x_TokenType": ["non_token", "output", "output", "output"],
    ...     "ConsumedQuantity": [None, D("10"), D("5"), D("7")]})
    >>> scoped = with_scopes(ibis.memtable(pa.Table.from_pandas(rows)))
    >>> scoped.order_by("ChargePeriodStart", ibis.desc("x_CostBasis")).select(
    ...     "x_MoneyScope", "x_TokenScope").to_pandas().values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['invoiced', 'none'], ['superseded', 'usage'], ['superseded', 'usage'], ['estimated', 'usage']]
    """
    costs = merge_cost_datasets(costs) if datasets else costs.mutate(x_QuantityRestated=ibis.literal(False))
    day = costs.ChargePeriodStart.date()
    partition = {"group_by": [costs.ProviderName, day]}
    priced = costs.BilledCost.notnull()
    invoiced = (costs.x_CostBasis == "invoiced").fill_null(False)
    has_invoice = _flag(invoiced & priced).max().over(**partition) == 1
    money = ibis.cases(
        (invoiced & priced, "invoiced"),
        (has_invoice, "superseded"),
        (priced, "estimated"),
        else_="unpriced",
    )
    token = (costs.x_TokenType.notnull() & (costs.x_TokenType != "non_token") & costs.ConsumedQuantity.notnull())
    token = token.fill_null(False)
    restated = costs.x_QuantityRestated  # an amortized row whose tokens the actual export counts
    usage = (costs.x_CostBasis == "estimated").fill_null(False)
    has_usage = _flag(token & usage).max().over(**partition) == 1
    tokens = ibis.cases((~token, "none"), (restated, "superseded"), (usage, "usage"), (has_usage, "superseded"),
                        else_="invoice")
    return costs.mutate(x_MoneyScope=money, x_TokenScope=tokens).drop("x_QuantityRestated")
