"""Reconciliation: estimated cost against the invoices, and why they differ.

The estimate comes from request logs or usage feeds priced with the catalog; the gap is decomposed exactly
(volume, rate, cache, tier, unpriced, unmatched).
"""

from finops_lib.reconcile.reconciliation import (
    AI_CATEGORY,
    BASES,
    CELL_COLUMNS,
    COMPONENTS,
    GRANULARITIES,
    GROUP,
    KEY,
    LINE_FIELDS,
    MONEY_COLUMNS,
    NO_MODEL,
    UNEXPLAINED,
    Reconciliation,
    check_parameters,
    decompose,
    net_effect,
    reconcile,
)

__all__ = [
    "AI_CATEGORY",
    "BASES",
    "CELL_COLUMNS",
    "COMPONENTS",
    "GRANULARITIES",
    "GROUP",
    "KEY",
    "LINE_FIELDS",
    "MONEY_COLUMNS",
    "NO_MODEL",
    "UNEXPLAINED",
    "Reconciliation",
    "check_parameters",
    "decompose",
    "net_effect",
    "reconcile",
]
