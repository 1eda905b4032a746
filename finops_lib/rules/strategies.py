"""Shared-cost split strategies: a registry of functions that turn a shared rule into weights.

A strategy receives the shared rule and a :class:`SplitContext` (which computes usage bases in the
engine) and returns a weights frame: optional key columns ``period`` (the allocation period),
``month`` (first day of a month) or ``currency`` (the weights apply only there), the owner columns
(:data:`OWNER_KEYS`; ``team`` required, the others may be null) and ``weight`` (a non-negative float).
The allocator normalizes the weights per key, so strategies never divide. New strategies register
with :func:`register_strategy`; rules files then accept their name and declared options.

Weights are floats: a share is exact to about 1e-15, and the allocator gives the rounding remainder of
each split to its largest part, so allocated money always adds up exactly to the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import pandas as pd

from finops_lib.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from finops_lib.rules.match import Condition

__all__ = ["OWNER_KEYS", "STRATEGIES", "Option", "SplitContext", "Strategy", "register_strategy"]

#: Owner columns of a weights frame, top of the hierarchy first.
OWNER_KEYS: tuple[str, ...] = ("business_unit", "team", "application", "feature", "environment")
#: Owner columns kept at each ``level`` of a proportional split.
LEVELS: dict[str, tuple[str, ...]] = {
    "team": ("business_unit", "team"),
    "application": ("business_unit", "team", "application"),
    "feature": OWNER_KEYS,
}
OptionKind = Literal["weights", "choice", "teams", "match", "metric"]


@dataclass(frozen=True)
class Option:
    """An option a strategy accepts in a rules file.

    Parameters
    ----------
    kind
        ``weights`` (mapping team -> positive number), ``choice`` (one of ``choices``), ``teams`` (a list of
        team names), ``match`` (conditions, as in a rule's ``match``), ``metric`` (a name under ``metrics``).
    required
        Whether the rule must give it.
    default
        Value when absent.
    choices
        Allowed values of a ``choice``.
    description
        Documentation.
    """

    kind: OptionKind
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    description: str = ""


class PoolRule(Protocol):
    """What a strategy reads of a shared pool (:class:`finops_lib.rules.SharedRule` satisfies it)."""

    name: str
    options: Mapping[str, Any]


class SplitContext(Protocol):
    """What a strategy may ask the allocator for (implemented in :mod:`finops_lib.allocation.allocator`)."""

    measure: str

    def basis(self, *, source: str, basis: str, match: tuple[Condition, ...], level: str,
              window: bool) -> pd.DataFrame:  # fmt: skip
        """Return usage per owner: ``[period,] [currency,] <owner columns of level>, value``."""

    def metric(self, name: str, *, window: bool) -> pd.DataFrame:
        """Return a business metric per team: ``[month,] team, value``."""


StrategyFn = Callable[[PoolRule, SplitContext], pd.DataFrame]


@dataclass(frozen=True)
class Strategy:
    """A registered split strategy: its function, accepted options and description."""

    name: str
    fn: StrategyFn
    options: Mapping[str, Option] = field(default_factory=dict)
    description: str = ""


#: Options every strategy accepts.
COMMON_OPTIONS: dict[str, Option] = {
    "among": Option("teams", description="Only these teams receive a part (default: every team the basis "
                    "names)."),
    "weights_over": Option("choice", default="period", choices=("period", "window"),
                           description="Compute weights per allocation period (default) or once over the whole "
                           "allocated window (steadier for fixed platform costs)."),
}  # fmt: skip

#: Registered strategies by name.
STRATEGIES: Registry[Strategy] = Registry("split strategy")


def register_strategy(name: str, *, options: Mapping[str, Option] | None = None,
                      description: str = "") -> Callable[[StrategyFn], StrategyFn]:  # fmt: skip
    """Register a split strategy under ``name`` (a decorator).

    Parameters
    ----------
    name
        Name used in rules files (``strategy: name``).
    options
        Options the strategy accepts besides :data:`COMMON_OPTIONS`.
    description
        One line for the documentation.
    """
    return STRATEGIES.register(name, make=lambda fn: Strategy(name, fn, {**COMMON_OPTIONS, **(options or {})},
                                                              description))


def _window(rule: PoolRule) -> bool:
    return rule.options.get("weights_over", "period") == "window"


def _frame(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Return ``rows`` with every owner column (nulls where absent) and ``weight`` as float."""
    out = rows.copy()
    for key in OWNER_KEYS:
        if key not in out.columns:
            out[key] = None
    out["weight"] = out["weight"].astype(float)
    return out[[*keys, *OWNER_KEYS, "weight"]].reset_index(drop=True)


@register_strategy("even", description="Equal parts to `among`, or to every team with direct cost in the period.")
def split_even(rule: PoolRule, ctx: SplitContext) -> pd.DataFrame:
    """Return equal weights for the ``among`` teams, else for the teams with direct cost in each period."""
    among = rule.options.get("among")
    if among:
        return _frame(pd.DataFrame({"team": list(among), "weight": 1.0}), [])
    window = _window(rule)
    basis = ctx.basis(source="costs", basis="cost", match=(), level="team", window=window)
    keys = [] if window else ["period"]
    teams = basis[[*keys, "team"]].drop_duplicates().assign(weight=1.0)
    return _frame(teams, keys)


@register_strategy("fixed", options={"weights": Option("weights", required=True,
                                                       description="team: weight (normalized to sum to 1).")},
                   description="Fixed weights per team, given in the rule.")  # fmt: skip
def split_fixed(rule: PoolRule, ctx: SplitContext) -> pd.DataFrame:
    """Return the rule's ``weights`` (team -> weight)."""
    weights = rule.options["weights"]
    return _frame(pd.DataFrame({"team": list(weights), "weight": [float(w) for w in weights.values()]}), [])


@register_strategy(
    "proportional",
    options={
        "basis": Option("choice", default="same", choices=("same", "cost", "tokens", "requests"),
                        description="What usage is measured: cost, tokens, requests, or `same` (the quantity "
                        "being allocated: cost for money, tokens for tokens)."),
        "source": Option("choice", default="costs", choices=("costs", "requests"),
                         description="Where usage is measured: direct rows of `costs`, or gateway `requests`."),
        "basis_match": Option("match", default=(), description="Only usage rows matching these conditions "
                              "count (fields of the `source` table)."),
        "level": Option("choice", default="team", choices=tuple(LEVELS),
                        description="Owner detail kept: team, application, or feature (team, application, "
                        "feature and environment)."),
    },
    description="In proportion to each owner's measured usage (cost, tokens or requests) in the period.",
)  # fmt: skip
def split_proportional(rule: PoolRule, ctx: SplitContext) -> pd.DataFrame:
    """Return weights proportional to each owner's usage; negative usage (credits) counts as zero."""
    opts = rule.options
    basis = opts.get("basis", "same")
    if basis == "same":
        basis = "cost" if ctx.measure == "cost" else "tokens"
    window = _window(rule)
    frame = ctx.basis(source=opts.get("source", "costs"), basis=basis, match=opts.get("basis_match", ()),
                      level=opts.get("level", "team"), window=window)  # fmt: skip
    keys = [k for k in ("period", "currency") if k in frame.columns]
    frame = frame.assign(weight=frame["value"].astype(float).clip(lower=0.0))
    return _frame(frame, keys)


@register_strategy("metric", options={"metric": Option("metric", required=True,
                                                       description="Name of a business metric under `metrics`.")},
                   description="In proportion to a business metric per team and month (a CSV, e.g. active "
                   "users).")  # fmt: skip
def split_metric(rule: PoolRule, ctx: SplitContext) -> pd.DataFrame:
    """Return weights proportional to the rule's business metric (per month, or summed over the window)."""
    window = _window(rule)
    frame = ctx.metric(rule.options["metric"], window=window)
    keys = [] if window else ["month"]
    frame = frame.assign(weight=frame["value"].astype(float).clip(lower=0.0))
    return _frame(frame, keys)
