"""Attribution: who spends what, with allocation rules, shared-cost splits, showback and chargeback.

Modules, by concern:

``rules``
    Rules as data: ownership rules, shared pools, teams, business metrics.
``rulesfile``
    The YAML rules file (``docs/allocation_rules.md``), checked node by node: errors name the line.
``match``
    Match fields (``sub_account``, ``api_key``, ``tags``, ``resource_group``...) compiled to engine conditions.
``strategies``
    The registry of shared-cost split strategies (even, fixed, proportional, metric).
``attribute``
    :func:`attribute`: owners of ``costs`` and ``requests`` rows, one engine expression.
``engine``
    :func:`allocate` (money or tokens to owners, shared pools split exactly) and :func:`conservation`.
``showback``
    Showback and chargeback tables, allocation coverage, the unallocated cost ranked by raw key.
``summary``
    The attribution notebook's parameter checks and ``results.json``.

Examples
--------
>>> from finops_lib import allocation
>>> sorted(allocation.STRATEGIES)
['even', 'fixed', 'metric', 'proportional']
"""

from finops_lib.allocation.attribute import attribute
from finops_lib.allocation.engine import MEASURES, UNALLOCATED, Allocation, allocate, conservation
from finops_lib.allocation.match import FIELDS, Condition, compile_conditions
from finops_lib.allocation.rules import APPLIES_TO, OWNER_FIELDS, Metric, Rule, Rules, SharedRule
from finops_lib.allocation.rulesfile import load_rules, parse_rules, read_metric
from finops_lib.allocation.showback import (
    HIERARCHY_LEVELS,
    KINDS,
    RULES_FILE,
    chargeback,
    coverage,
    find_rules,
    hierarchy,
    hierarchy_levels,
    resolve_rules,
    showback,
    unallocated_keys,
    write_chargeback,
    write_chargeback_csv,
)
from finops_lib.allocation.strategies import STRATEGIES, Option, register_strategy
from finops_lib.allocation.summary import SPLIT_STRATEGIES, check_parameters, notebook_results

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
    "check_parameters",
    "compile_conditions",
    "conservation",
    "coverage",
    "find_rules",
    "hierarchy",
    "hierarchy_levels",
    "load_rules",
    "notebook_results",
    "parse_rules",
    "read_metric",
    "register_strategy",
    "resolve_rules",
    "showback",
    "unallocated_keys",
    "write_chargeback",
    "write_chargeback_csv",
]
