"""Owners of ``costs`` and ``requests`` rows from the rules and the rows' own tags, as one engine expression.

First matching ownership rule wins; its ``set`` fills the owner fields the row does not carry (tags win unless
the rule says ``override``); business unit and cost center fall back to the ``teams`` section. Shared pools
are marked by the first matching shared rule (``untagged`` pools only take rows left without a team).
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from finops_lib.engines.functions import json_string
from finops_lib.rules.match import compile_conditions, json_text
from finops_lib.rules.model import OWNER_FIELDS, Rules

__all__ = ["OWNER_COLUMNS", "TAG_KEYS", "attribute"]

#: Owner column in engine tables -> friendly name in results.
OWNER_COLUMNS: dict[str, str] = {
    "business_unit": "x_BusinessUnit", "team": "x_Team", "application": "x_Application", "feature": "x_Feature",
    "environment": "x_Environment", "cost_center": "x_CostCenter",
}  # fmt: skip
#: Tag keys read for the owner fields the loaders do not fill (they fill team, application, feature, environment).
TAG_KEYS: dict[str, tuple[str, ...]] = {
    "business_unit": ("business-unit", "business_unit", "businessunit", "bu"),
    "cost_center": ("cost-center", "cost_center", "costcenter", "CostCenter"),
}

def _tag(table: ir.Table, keys: tuple[str, ...]) -> ir.StringValue:
    """Return the first of ``keys`` present in ``Tags`` (rows whose text lacks every key skip JSON parsing)."""
    text = table.Tags.cast("string")
    values = [json_string(json_text(text, key), (key,)).nullif("") for key in keys]
    return ibis.coalesce(*values)


def _source_owner(table: ir.Table) -> dict[str, ir.StringValue]:
    """Owner values the row carries itself (loader columns and common tag keys)."""
    out = {name: table[col].cast("string").nullif("") for name, col in OWNER_COLUMNS.items() if col in table.columns}
    for name in OWNER_FIELDS:
        if name not in out:
            keys = TAG_KEYS.get(name, ())
            out[name] = _tag(table, keys) if keys and "Tags" in table.columns else ibis.null("string")
    return out


def _effective(table: ir.Table, start: date | None, end: date | None) -> ir.BooleanValue:
    day = table.ChargePeriodStart.date()
    cond: ir.BooleanValue = ibis.literal(True)
    if start:
        cond = cond & (day >= start)
    if end:
        cond = cond & (day < end)
    return cond


def _first_match(conditions: list[ir.BooleanValue]) -> ir.IntegerValue:
    if not conditions:
        return ibis.null("int32")
    return ibis.cases(*[(cond, i) for i, cond in enumerate(conditions)], else_=ibis.null("int32"))


def _mapped(team: ir.StringValue, teams: dict[str, dict[str, str]], key: str) -> ir.StringValue:
    pairs = [(team == name, ibis.literal(info[key])) for name, info in teams.items() if key in info]
    return ibis.cases(*pairs, else_=ibis.null("string")) if pairs else ibis.null("string")


def attribute(table: ir.Table, rules: Rules | None = None, *, table_name: str = "costs",
              pools: bool = True) -> ir.Table:  # fmt: skip
    """Return ``table`` with owner columns from the rules and the row's own tags.

    Parameters
    ----------
    table
        ``costs`` or ``requests`` rows.
    rules
        The rules; default :meth:`Rules.default` (tags only).
    table_name
        ``costs`` or ``requests``: which columns the match fields read.
    pools
        Also mark rows of shared pools (``costs`` only).

    Returns
    -------
    ibis.Table
        The input columns, with ``x_Team``, ``x_Application``, ``x_Feature``, ``x_Environment`` replaced by the
        attributed values and ``x_BusinessUnit``, ``x_CostCenter``, ``x_AllocationRule`` (rule name, ``tags``
        or null) and ``x_AllocationPool`` (index of the shared rule, or null) added.

    Raises
    ------
    ParameterError
        When a rule uses a field that ``table_name`` lacks.
    """
    rules = rules or Rules.default()
    conds = [compile_conditions(table, table_name, r.match, strict=False) & _effective(table, r.valid_from, r.valid_to)
             for r in rules.rules]  # fmt: skip
    # Stage the rule index and the carried values as columns, so each CASE below refers to them by name.
    staged = table.mutate(_rule=_first_match(conds).cast("int32"),
                          **{f"_src_{k}": v for k, v in _source_owner(table).items()})  # fmt: skip
    idx = staged._rule
    carried = {name: staged[f"_src_{name}"] for name in OWNER_FIELDS}
    owner: dict[str, ir.StringValue] = {}
    for name in OWNER_FIELDS:
        branches = [(idx == i, ibis.literal(r.set[name]) if r.override else carried[name].fill_null(r.set[name]))
                    for i, r in enumerate(rules.rules) if name in r.set]  # fmt: skip
        owner[name] = ibis.cases(*branches, else_=carried[name]) if branches else carried[name]
    staged = staged.mutate(**{f"_own_{k}": v.cast("string") for k, v in owner.items()})
    team = staged._own_team
    for name in ("business_unit", "cost_center"):
        owner[name] = staged[f"_own_{name}"].fill_null(_mapped(team, dict(rules.teams), name))
    owner = {name: owner[name] if name in ("business_unit", "cost_center") else staged[f"_own_{name}"]
             for name in OWNER_FIELDS}
    names = [(staged._rule == i, ibis.literal(r.name)) for i, r in enumerate(rules.rules)]
    rule = ibis.cases(*names, else_=ibis.null("string")) if names else ibis.null("string")
    rule = rule.fill_null(ibis.ifelse(team.notnull(), "tags", ibis.null("string")))
    pool: ir.IntegerValue = ibis.null("int32")
    if pools and table_name == "costs":
        pool = _first_match([
            compile_conditions(staged, table_name, s.match, strict=False) & _effective(staged, s.valid_from, s.valid_to)
            & (team.isnull() if s.applies_to == "untagged" else ibis.literal(True))
            for s in rules.shared
        ])  # fmt: skip
    columns = {OWNER_COLUMNS[name]: value.cast("string") for name, value in owner.items()}
    out = staged.mutate(**columns, x_AllocationRule=rule, x_AllocationPool=pool.cast("int32"))
    return out.drop(*[c for c in out.columns if c.startswith(("_rule", "_src_", "_own_"))])


