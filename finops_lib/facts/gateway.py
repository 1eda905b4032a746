"""The gateway view: what per-request logs (LiteLLM) say, by team, application, key or experiment.

Gateway logs cover only the traffic routed through the gateway, and the cost they report is a
gateway estimate of part of the invoiced spend: these figures are shown beside the invoices,
never added to them.
"""

from __future__ import annotations

from datetime import date

import ibis.expr.types as ir
import pandas as pd

from finops_lib.errors import ParameterError
from finops_lib.facts.rows import UNATTRIBUTED
from finops_lib.facts.series import top_groups

#: Group-by dimensions of the ``requests`` table.
REQUEST_DIMENSIONS: dict[str, str] = {
    "team": "x_Team",
    "application": "x_Application",
    "feature": "x_Feature",
    "environment": "x_Environment",
    "model": "x_Model",
    "provider": "ProviderName",
    "api_key": "x_ApiKeyId",
    "experiment": "x_ExperimentId",
    "status": "x_Status",
}


def daily_reported_cost(
    requests: ir.Table,
    *,
    by: str = "team",
    currency: str = "USD",
    top: int = 8,
    start_date: str | date | None = None,
    end_date: str | date | None = None,
    provider: str | None = None,
) -> pd.DataFrame:
    """Daily cost the gateway reported per group: columns ``day``, the dimension, ``cost`` (float).

    Requests without a reported cost are left out (flag ``reported_cost_missing``), never counted
    as zero.

    Parameters
    ----------
    requests
        The ``requests`` table.
    by
        A key of :data:`REQUEST_DIMENSIONS`.
    currency
        Currency of the reported cost to show.
    top
        Groups kept by name; the others are summed into ``Other``.
    start_date, end_date, provider
        Filters, as in :func:`finops_lib.facts.rows.filter_costs`.

    Raises
    ------
    ParameterError
        On an unknown dimension.
    """
    if by not in REQUEST_DIMENSIONS:
        raise ParameterError(f"unknown dimension {by!r}; choose one of {', '.join(REQUEST_DIMENSIONS)}")
    rows = requests.filter(requests.x_ReportedCost.notnull() & (requests.BillingCurrency == currency))
    day = rows.ChargePeriodStart.date()
    if start_date:
        rows = rows.filter(day >= pd.Timestamp(start_date).date())
    if end_date:
        rows = rows.filter(day <= pd.Timestamp(end_date).date())
    if provider and provider.lower() != "all":
        rows = rows.filter(rows.ProviderName == provider)
    agg = (rows.mutate(day=rows.ChargePeriodStart.date(), grp=rows[REQUEST_DIMENSIONS[by]].fill_null(UNATTRIBUTED))
           .group_by(["day", "grp"]).aggregate(cost=lambda t: t.x_ReportedCost.sum()).to_pandas())
    return top_groups(agg, "cost", by, top)
