"""Allocation rules as data: ownership rules, shared pools, teams and business metrics.

The YAML file format (``docs/allocation_rules.md``) is read by :mod:`finops_lib.rules.rulesfile`. In
short: ``teams`` gives each team its business unit and cost center; ``rules`` map raw dimensions to owners
(first match wins); ``shared`` declares shared cost pools and how they are split; ``metrics`` names
business-metric CSVs (active users per team and month...). Without a rules file (:meth:`Rules.default`),
owners come from the common tag keys only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from finops_lib.errors import ParameterError
from finops_lib.rules.match import Condition
from finops_lib.rules.strategies import STRATEGIES

__all__ = ["APPLIES_TO", "OWNER_FIELDS", "Metric", "Rule", "Rules", "SharedRule"]

#: Owner fields a rule may set, top of the hierarchy first (business unit -> team -> application -> feature).
OWNER_FIELDS: tuple[str, ...] = ("business_unit", "team", "application", "feature", "environment", "cost_center")
#: What a shared pool is; ``metered`` pools are split by measured usage of the same traffic and count as direct.
APPLIES_TO: dict[str, str] = {
    "untagged": "usage no tag or rule attributes (applies only to rows without an owner)",
    "platform_fee": "platform and hosting fees (gateway hosting, shared clusters, support plans)",
    "provisioned_throughput": "provisioned capacity (Azure PTU, Bedrock provisioned throughput)",
    "metered": "a shared account whose traffic is metered per owner elsewhere (a gateway's project, split by "
               "its request log); counted as direct",
}


@dataclass(frozen=True)
class Rule:
    """An ownership rule: rows matching ``match`` (in the validity window) get the owner fields of ``set``.

    Fields the source already carries (tags) are kept unless ``override`` is true.
    """

    name: str
    match: tuple[Condition, ...]
    set: Mapping[str, str]
    valid_from: date | None = None
    valid_to: date | None = None
    override: bool = False
    line: int = 0


@dataclass(frozen=True)
class SharedRule:
    """A shared-cost pool: matching rows are split among owners by ``strategy`` with ``options``."""

    name: str
    applies_to: str
    match: tuple[Condition, ...]
    strategy: str
    options: Mapping[str, Any] = field(default_factory=dict)
    valid_from: date | None = None
    valid_to: date | None = None
    label: str | None = None
    line: int = 0

    @property
    def kind(self) -> str:
        """Coverage class of the pool's cost: ``metered`` (direct), ``spread`` (untagged) or ``shared``."""
        return {"metered": "metered", "untagged": "spread"}.get(self.applies_to, "shared")


@dataclass(frozen=True)
class Metric:
    """A business metric per team and month (``frame``: ``month`` as a Timestamp, ``team``, ``value``)."""

    name: str
    path: Path
    frame: pd.DataFrame = field(compare=False, repr=False)


@dataclass(frozen=True)
class Rules:
    """A checked set of allocation rules.

    Examples
    --------
    >>> Rules.default().rules
    ()
    """

    rules: tuple[Rule, ...] = ()
    shared: tuple[SharedRule, ...] = ()
    teams: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    metrics: Mapping[str, Metric] = field(default_factory=dict)
    source: str = "(tags only)"

    @classmethod
    def default(cls) -> Rules:
        """Return the rules used without a file: owners from the common tag keys only."""
        return cls()

    def with_strategy(self, name: str, **options: Any) -> Rules:
        """Return a copy whose shared pools (metered pools excepted) are split by strategy ``name``.

        Parameters
        ----------
        name
            A registered strategy; ``"rules"`` returns the rules unchanged.
        **options
            The strategy's options; ``metric`` defaults to the first declared metric.

        Raises
        ------
        ParameterError
            On an unknown strategy or a missing required option.
        """
        if name == "rules":
            return self
        if name not in STRATEGIES:
            raise ParameterError(f"unknown split strategy {name!r}; choose rules or one of {', '.join(STRATEGIES)}")
        if name == "metric" and "metric" not in options and self.metrics:
            options["metric"] = next(iter(self.metrics))
        spec = STRATEGIES[name].options
        missing = [key for key, opt in spec.items() if opt.required and key not in options]
        if missing:
            raise ParameterError(f"split strategy {name!r} needs option(s) {missing}")
        if "metric" in options and options["metric"] not in self.metrics:
            raise ParameterError(f"metric {options['metric']!r} is not declared; declared: {sorted(self.metrics)}")
        shared = tuple(
            rule if rule.applies_to == "metered" else
            replace(rule, strategy=name, options={k: v for k, v in rule.options.items() if k == "among"} | options)
            for rule in self.shared
        )  # fmt: skip
        return replace(self, shared=shared)

    def describe(self) -> pd.DataFrame:
        """Return one row per rule: ``section``, ``name``, ``match`` (text), ``outcome`` (text), ``line``."""
        rows = [("rules", r.name, _describe_match(r.match), ", ".join(f"{k}={v}" for k, v in r.set.items()), r.line)
                for r in self.rules]
        rows += [("shared", s.name, _describe_match(s.match), f"{s.applies_to}: {s.strategy}", s.line)
                 for s in self.shared]
        return pd.DataFrame(rows, columns=["section", "name", "match", "outcome", "line"])


def _describe_match(conditions: tuple[Condition, ...]) -> str:
    parts = []
    for c in conditions:
        name = f"{c.field}.{c.key}" if c.key else c.field
        value = {"eq": " | ".join(c.values), "regex": f"/{c.values[0]}/", "present": f"present={c.values[0]}"}[c.op]
        parts.append(f"{name}={value}")
    return ", ".join(parts) or "(all rows)"
