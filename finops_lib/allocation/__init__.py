"""Allocation: who spends what, shared pools split exactly, showback, chargeback and unit economics.

The rules themselves (ownership rules, shared pools, the rules file, the owner of each row) live in
:mod:`finops_lib.rules`; their names are re-exported here for the notebooks.

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
>>> sorted(allocation.STRATEGIES)
['even', 'fixed', 'metric', 'proportional']
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
from finops_lib.rules.match import FIELDS, Condition, compile_conditions
from finops_lib.rules.model import APPLIES_TO, OWNER_FIELDS, Metric, Rule, Rules, SharedRule
from finops_lib.rules.owners import attribute
from finops_lib.rules.resolve import RULES_FILE, find_rules, resolve_rules
from finops_lib.rules.rulesfile import load_rules, parse_rules, read_metric
from finops_lib.rules.strategies import STRATEGIES, Option, register_strategy

__all__ = [
    "APPLIES_TO",
    "FIELDS",
    "HIERARCHY_LEVELS",
    "KINDS",
    "MEASURES",
    "OWNER_FIELDS",
    "RULES_FILE",
    "SPLIT_STRATEGIES",
    "STRATEGIES",
    "UNALLOCATED",
    "Allocation",
    "Condition",
    "Metric",
    "Option",
    "Rule",
    "Rules",
    "SharedRule",
    "allocate",
    "attribute",
    "chargeback",
    "compile_conditions",
    "conservation",
    "coverage",
    "find_rules",
    "hierarchy",
    "hierarchy_levels",
    "load_rules",
    "parse_rules",
    "read_metric",
    "register_strategy",
    "resolve_rules",
    "showback",
    "unallocated_keys",
    "unit_economics",
    "write_chargeback",
]
