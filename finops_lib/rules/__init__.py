"""Allocation rules: who owns each row (ownership rules, tags), shared pools and how they split, the rules file.

``docs/allocation_rules.md`` documents the file format. :func:`attribute` turns the rules into owner columns of
``costs`` and ``requests`` rows (one engine expression); the facts layer applies it, :mod:`finops_lib.allocation`
splits the shared pools.
"""

from finops_lib.rules.match import FIELDS, Condition, compile_conditions
from finops_lib.rules.model import APPLIES_TO, OWNER_FIELDS, Metric, Rule, Rules, SharedRule
from finops_lib.rules.owners import OWNER_COLUMNS, TAG_KEYS, attribute
from finops_lib.rules.resolve import RULES_FILE, find_rules, resolve_feature_map, resolve_rules
from finops_lib.rules.rulesfile import load_rules, parse_rules, read_metric
from finops_lib.rules.strategies import OWNER_KEYS, STRATEGIES, Option, SplitContext, register_strategy

__all__ = [
    "APPLIES_TO",
    "FIELDS",
    "OWNER_COLUMNS",
    "OWNER_FIELDS",
    "OWNER_KEYS",
    "RULES_FILE",
    "STRATEGIES",
    "TAG_KEYS",
    "Condition",
    "Metric",
    "Option",
    "Rule",
    "Rules",
    "SharedRule",
    "SplitContext",
    "attribute",
    "compile_conditions",
    "find_rules",
    "load_rules",
    "parse_rules",
    "read_metric",
    "register_strategy",
    "resolve_feature_map",
    "resolve_rules",
]
