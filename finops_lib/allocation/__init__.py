"""Allocation: who spends what, shared pools split exactly, showback, chargeback and unit economics.

The rules themselves (ownership rules, shared pools, the rules file, the owner of each row) live in
:mod:`finops_lib.rules`; this package applies them to the facts.

Modules, by concern:

``allocator``
    :func:`allocate` (money or tokens to owners, shared pools split exactly) and :func:`conservation`.
``showback``
    Showback and chargeback tables, allocation coverage, the hierarchy, the unallocated cost ranked by raw key.
``unit_economics``
    What a token, a request and an active user cost, by owner, model and period.

Examples
--------
>>> from finops_lib import allocation
>>> sorted(allocation.SPLIT_STRATEGIES)
['even', 'metric', 'proportional', 'rules']
"""

from finops_lib.allocation.allocator import (
    MEASURES,
    SPLIT_STRATEGIES,
    UNALLOCATED,
    Allocation,
    allocate,
    conservation,
)
from finops_lib.allocation.showback import (
    HIERARCHY_LEVELS,
    KINDS,
    chargeback,
    coverage,
    hierarchy,
    hierarchy_levels,
    showback,
    unallocated_keys,
    write_chargeback,
)
from finops_lib.allocation.unit_costs import unit_economics

__all__ = [
    "HIERARCHY_LEVELS",
    "KINDS",
    "MEASURES",
    "SPLIT_STRATEGIES",
    "UNALLOCATED",
    "Allocation",
    "allocate",
    "chargeback",
    "conservation",
    "coverage",
    "hierarchy",
    "hierarchy_levels",
    "showback",
    "unallocated_keys",
    "unit_economics",
    "write_chargeback",
]
