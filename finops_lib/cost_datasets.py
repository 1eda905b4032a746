"""Cost datasets side by side: one provider's actual and amortized exports of the same charges.

Azure delivers its cost details as two exports, *actual* (what the invoice bills: a reservation purchase
on the day it is bought, covered usage at zero) and *amortized* (what each day effectively cost: the
purchase spread over the usage it covers, unused commitment as its own rows, the purchase itself at zero).
Both are normal to keep side by side (the Microsoft FinOps toolkit ingests both); they are two views of
the same charges, not a restatement of one another. So they are loaded as two datasets
(``x_CostDataset``) with a declared relation, the toolkit's: where both cover the same provider, billing
account, sub-account and billing period,

* billed figures (BilledCost, ListCost, ContractedCost) come from the ``actual`` rows (the amortized
  rows' are set to 0), and quantities too: the amortized rows keep theirs (a FOCUS usage row needs its
  quantity) but are marked ``x_QuantityRestated`` so token totals count them once;
* EffectiveCost comes from the ``amortized`` rows (the actual rows' is set to 0).

A billing period with only one of the datasets keeps that dataset's figures as read. Rows without a
dataset (FOCUS, CUR, the vendors' APIs: one file carries every cost basis in its own columns) are
untouched. Totals are conserved: the sum of BilledCost equals the actual exports' billed total, the sum of
EffectiveCost the amortized exports' effective total.

Examples
--------
>>> from decimal import Decimal as D
>>> import ibis, pandas as pd, pyarrow as pa
>>> rows = pd.DataFrame({"ProviderName": "Microsoft", "BillingAccountId": "1", "SubAccountId": "s",
...     "BillingPeriodStart": pd.Timestamp("2026-04-01", tz="UTC"), "x_CostDataset": ["actual", "amortized"],
...     "BilledCost": [D("720"), D("0")], "EffectiveCost": [D("720"), D("30")], "ListCost": [D("720"), D("40")],
...     "ContractedCost": [D("720"), D("30")], "ConsumedQuantity": [None, D("20")],
...     "PricingQuantity": [None, D("20")], "x_RequestCount": [None, None]})
>>> merged = merge_cost_datasets(ibis.memtable(pa.Table.from_pandas(rows))).to_pandas()
>>> [float(merged[c].sum()) for c in ("BilledCost", "EffectiveCost", "ListCost")]
[720.0, 30.0, 720.0]
>>> merged["x_QuantityRestated"].tolist()
[False, True]
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

__all__ = ["BILLED_COLUMNS", "EFFECTIVE_COLUMNS", "SCOPE", "merge_cost_datasets"]

#: Where both datasets are present, these come from ``actual`` only.
BILLED_COLUMNS = ("BilledCost", "ListCost", "ContractedCost")
#: Where both datasets are present, these come from ``amortized`` only.
EFFECTIVE_COLUMNS = ("EffectiveCost",)
#: The scope both datasets must cover for the relation to apply.
SCOPE = ("ProviderName", "BillingAccountId", "SubAccountId", "BillingPeriodStart")


def merge_cost_datasets(costs: ir.Table) -> ir.Table:
    """Return ``costs`` with each figure taken from its dataset where actual and amortized overlap.

    Adds ``x_QuantityRestated``: true on amortized rows whose quantities the actual rows already carry.

    Apply it before filtering rows (other than by a whole provider): the relation looks at every row of a
    billing period.
    """
    if "x_CostDataset" not in costs.columns:
        return costs.mutate(x_QuantityRestated=ibis.literal(False))
    partition = {"group_by": [costs[c] for c in SCOPE]}
    is_actual = (costs.x_CostDataset == "actual").fill_null(False)
    is_amortized = (costs.x_CostDataset == "amortized").fill_null(False)
    both = ((is_actual.cast("int8").max().over(**partition) == 1)
            & (is_amortized.cast("int8").max().over(**partition) == 1))
    amortized_side, actual_side = both & is_amortized, both & is_actual
    changes = {}
    for column in BILLED_COLUMNS:
        changes[column] = amortized_side.ifelse(ibis.literal(0).cast(costs[column].type()), costs[column])
    for column in EFFECTIVE_COLUMNS:
        changes[column] = actual_side.ifelse(ibis.literal(0).cast(costs[column].type()), costs[column])
    return costs.mutate(**changes, x_QuantityRestated=amortized_side)
