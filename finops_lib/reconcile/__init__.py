"""Reconciliation: estimated cost against the invoices, and why they differ.

The estimate comes from request logs or usage feeds priced with the catalog; the gap is decomposed exactly
(volume, rate, cache, tier, unpriced, unmatched, non-AI).

Modules, by concern:

``lines``
    The two sides as lines per provider, model, day, currency, tier and token bucket (engine, then Decimal).
``components``
    :func:`decompose`: each group's gap split into :data:`COMPONENTS` that add up to it exactly.
``reconciliation``
    :func:`reconcile` on the facts, the :class:`Reconciliation` result and the page's :func:`check_parameters`.
"""

from finops_lib.reconcile.components import CELL_COLUMNS, COMPONENTS, MONEY_COLUMNS, UNEXPLAINED, decompose, net_effect
from finops_lib.reconcile.lines import AI_CATEGORY, GROUP, KEY, LINE_FIELDS
from finops_lib.reconcile.reconciliation import (
    BASES,
    GRANULARITIES,
    NO_MODEL,
    Reconciliation,
    check_parameters,
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
