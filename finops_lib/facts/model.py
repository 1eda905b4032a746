"""The semantic model, declared once: the measures and dimensions every page, command and detector speaks of.

A **measure** is a number summed over a set of rows: its unit, the table it comes from, which rows count (the
*row set*, see :mod:`finops_lib.facts.scope`) and the column summed. A **dimension** is what a measure is split
or filtered by: its column in each table, and the label of rows without a value. Owner dimensions (team,
application, ...) come from the allocation rules (:func:`finops_lib.rules.attribute`), so "team" means the same
on every page.

The tables of :data:`MEASURES` and :data:`DIMENSIONS` are rendered in ``docs/architecture.md``.

Examples
--------
>>> MEASURES["cost"].unit, MEASURES["cost"].rows, MEASURES["cost"].column
('money', 'money', 'BilledCost')
>>> DIMENSIONS["team"].column("requests"), DIMENSIONS["model"].missing
('x_Team', '(no model: cloud, fees, capacity)')
>>> DIMENSIONS.lookup("colour")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
finops_lib.errors.ParameterError: unknown dimension 'colour'; choose one of provider, model, ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from finops_lib.errors import ParameterError
from finops_lib.registry import Registry
from finops_lib.schema import REQUEST_TOKEN_COLUMNS

__all__ = ["DIMENSIONS", "GRAINS", "MEASURES", "UNATTRIBUTED", "Dimension", "Measure", "RowSet", "Table"]

Table = Literal["costs", "requests"]
#: Row sets a measure is summed over (see :mod:`finops_lib.facts.scope`).
RowSet = Literal["money", "tokens", "requests"]
#: Label of rows without a value of a dimension (unless the dimension declares its own).
UNATTRIBUTED = "(unattributed)"
#: Time grains of a series: the engine's truncation unit.
GRAINS: dict[str, str] = {"hour": "h", "day": "D", "week": "W", "month": "M"}


@dataclass(frozen=True)
class Measure:
    """A declared measure.

    Attributes
    ----------
    name
        What pages and commands call it (``cost``, ``tokens``...).
    unit
        ``money`` (in the facts' currency, exact :class:`~decimal.Decimal`), ``tokens``, ``requests`` or ``count``.
    table
        The table it is read from.
    rows
        The row set it sums: ``money`` (invoiced first, see :mod:`finops_lib.facts.scope`), ``tokens`` (usage
        feeds first) or ``requests`` (every request-log row).
    column
        The column summed; ``None`` counts rows.
    where
        ``(column, value)``: only rows where the column equals the value (``failures`` counts failed requests).
    unless
        ``(column, value)``: leave out the rows where the column equals the value (null is not equal).
    fallback
        A column summed where ``column`` is null (``ListCost`` falls back to ``BilledCost``).
    description
        One line for the documentation.
    """

    name: str
    unit: Literal["money", "tokens", "requests", "count"]
    table: Table
    rows: RowSet
    column: str | None
    description: str
    where: tuple[str, str] | None = None
    fallback: str | None = None
    unless: tuple[str, str] | None = None

    @property
    def money(self) -> bool:
        """Whether the measure is an amount of money (exact, in the facts' currency)."""
        return self.unit == "money"


@dataclass(frozen=True)
class Dimension:
    """A declared dimension.

    Attributes
    ----------
    name
        What pages and commands call it (``team``, ``model``...).
    columns
        Its column in each table that has it.
    description
        One line for the documentation.
    missing
        Label of rows without a value.
    owner
        Set by the allocation rules (the rows' own tags where no rule applies).
    """

    name: str
    columns: Mapping[str, str]
    description: str
    missing: str = UNATTRIBUTED
    owner: bool = False
    tables: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", tuple(self.columns))

    def column(self, table: str) -> str:
        """Return the column of this dimension in ``table``.

        Raises
        ------
        ParameterError
            When ``table`` has no such column (a request-log dimension asked of invoices, say).
        """
        try:
            return self.columns[table]
        except KeyError:
            raise ParameterError(f"the {table} table has no {self.name!r} dimension; it is in "
                                 f"{', '.join(self.columns)}") from None  # fmt: skip


MEASURES: Registry[Measure] = Registry("measure")
DIMENSIONS: Registry[Dimension] = Registry("dimension")


def _measure(name: str, unit: str, table: str, rows: str, column: str | None, description: str, **kw: object) -> None:
    MEASURES[name] = Measure(name, unit, table, rows, column, description, **kw)  # type: ignore[arg-type]


_measure("cost", "money", "costs", "money", "BilledCost",
         "Spend: billed cost of the money rows (invoiced first per provider and day, priced estimates where no "
         "invoice), converted at the charge day's rate")  # fmt: skip
_measure("charges", "money", "costs", "money", "BilledCost",
         "Spend before credits: the billed cost of the money rows other than credits (FOCUS ChargeCategory Credit); "
         "cost = charges + credits exactly. Forecasts model this series and show credits apart",
         unless=("ChargeCategory", "Credit"))  # fmt: skip
_measure("credits", "money", "costs", "money", "BilledCost",
         "Credits: the billed cost (negative) of the money rows of ChargeCategory Credit (promotional credits, "
         "refunds)", where=("ChargeCategory", "Credit"))  # fmt: skip
_measure("list_cost", "money", "costs", "money", "ListCost", "List-price cost of the money rows (billed cost where "
         "the source gives none)", fallback="BilledCost")  # fmt: skip
_measure("effective_cost", "money", "costs", "money", "EffectiveCost", "Effective (amortized) cost of the money "
         "rows (billed cost where the source gives none)", fallback="BilledCost")  # fmt: skip
_measure("tokens", "tokens", "costs", "tokens", "ConsumedQuantity",
         "Tokens of the token rows (usage feeds first per provider and day, invoice quantities where no usage feed)")
_measure("requests", "requests", "costs", "tokens", "x_RequestCount",
         "Model requests the token rows report (usage feeds with request counts)")
_measure("request_count", "requests", "requests", "requests", None, "Requests in the request logs (gateway, traces)")
_measure("failures", "requests", "requests", "requests", None, "Failed requests in the request logs",
         where=("x_Status", "failure"))
_measure("reported_cost", "money", "requests", "requests", "x_ReportedCost",
         "Cost the gateway or tracer logged per request (an estimate inside the invoices, never added to spend)")
_measure("estimated_cost", "money", "requests", "requests", "x_EstimatedCost",
         "Catalog-priced cost of the logged requests")
for _bucket, _column in REQUEST_TOKEN_COLUMNS.items():
    _measure(f"{_bucket}_tokens", "tokens", "requests", "requests", _column,
             f"Logged {_bucket.replace('_', ' ')} tokens of the requests")


def _dimension(name: str, description: str, *, costs: str | None = None, requests: str | None = None,
               **kw: object) -> None:  # fmt: skip
    columns = {table: col for table, col in (("costs", costs), ("requests", requests)) if col}
    DIMENSIONS[name] = Dimension(name, columns, description, **kw)  # type: ignore[arg-type]


_dimension("provider", "The AI vendor or cloud (FOCUS ProviderName)", costs="ProviderName", requests="ProviderName")
_dimension("model", "Canonical model id", costs="x_Model", requests="x_Model",
           missing="(no model: cloud, fees, capacity)")
for _owner, _col in (("business_unit", "x_BusinessUnit"), ("team", "x_Team"), ("application", "x_Application"),
                     ("feature", "x_Feature"), ("environment", "x_Environment"), ("cost_center", "x_CostCenter")):
    _dimension(_owner, f"Owner: {_owner.replace('_', ' ')}, from the allocation rules and the rows' tags",
               costs=_col, requests=_col, owner=True)  # fmt: skip
_dimension("token_type", "Disjoint token bucket (input_uncached, input_cache_read, ..., output, non_token)",
           costs="x_TokenType")
_dimension("service_tier", "Service tier (standard, batch, priority, flex, provisioned)", costs="x_ServiceTier",
           requests="x_ServiceTier", missing="standard")
_dimension("context_tier", "Context tier (standard, long)", costs="x_ContextTier", requests="x_ContextTier",
           missing="standard")
_dimension("sub_account", "Project, workspace, account or subscription (FOCUS SubAccountId)", costs="SubAccountId",
           requests="SubAccountId")
_dimension("api_key", "API key id", costs="x_ApiKeyId", requests="x_ApiKeyId")
_dimension("service", "Billed service (FOCUS ServiceName)", costs="ServiceName")
_dimension("service_category", "FOCUS ServiceCategory (AI and Machine Learning, Compute, ...)",
           costs="ServiceCategory")
_dimension("charge_category", "FOCUS ChargeCategory (Usage, Purchase, Credit, ...)", costs="ChargeCategory")
_dimension("billing_currency", "Currency the row was billed in, before conversion", costs="x_BillingCurrency",
           requests="x_BillingCurrency")
_dimension("cost_basis", "invoiced or estimated (as loaded)", costs="x_CostBasis")
_dimension("money_scope", "Whether the row counts as money: invoiced, estimated, superseded or unpriced",
           costs="x_MoneyScope")
_dimension("source_format", "The loader that read the row", costs="x_SourceFormat", requests="x_SourceFormat")
_dimension("experiment", "Experiment id of a request", requests="x_ExperimentId")
_dimension("variant", "Experiment variant of a request", requests="x_Variant")
_dimension("status", "Request status (success, failure)", requests="x_Status")
_dimension("user", "End user of a request", requests="x_UserId")
_dimension("allocation_rule", "The ownership rule that named the owner (tags, a rule name, or none)",
           costs="x_AllocationRule", requests="x_AllocationRule")
_dimension("allocation_pool", "The shared pool a row belongs to (index of the rules file's shared pool)",
           costs="x_AllocationPool")


def measure(name: str) -> Measure:
    """Return the declared measure ``name`` (raises :class:`ParameterError` naming the choices)."""
    return MEASURES.lookup(name)


def dimension(name: str) -> Dimension:
    """Return the declared dimension ``name`` (raises :class:`ParameterError` naming the choices)."""
    return DIMENSIONS.lookup(name)


def check_grain(grain: str) -> str:
    """Return the engine's truncation unit of a time grain (``day`` -> ``D``)."""
    if grain not in GRAINS:
        raise ParameterError(f"grain must be one of {', '.join(GRAINS)}, got {grain!r}")
    return GRAINS[grain]
