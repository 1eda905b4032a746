"""The facts layer: the one place that decides which rows are money, tokens and requests, in which currency.

Every page, widget, command and detector reads money, tokens and series through this package; nothing
else queries the warehouse's raw tables.
"""

from finops_lib.facts.cells import FACT_COLUMNS, UNKNOWN, build_facts, hourly_facts
from finops_lib.facts.gateway import REQUEST_DIMENSIONS, daily_reported_cost
from finops_lib.facts.requests import cells_from_requests
from finops_lib.facts.rows import (
    DIMENSIONS,
    MISSING_LABELS,
    UNATTRIBUTED,
    date_range,
    dimension_column,
    filter_costs,
    in_currency,
    missing_label,
    money_rows,
    providers,
    token_rows,
)
from finops_lib.facts.series import currency_totals, daily_spend, daily_tokens, top_groups, top_movers
from finops_lib.facts.unpriced import unpriced_models

__all__ = [
    "DIMENSIONS",
    "FACT_COLUMNS",
    "MISSING_LABELS",
    "REQUEST_DIMENSIONS",
    "UNATTRIBUTED",
    "UNKNOWN",
    "build_facts",
    "cells_from_requests",
    "currency_totals",
    "daily_reported_cost",
    "daily_spend",
    "daily_tokens",
    "date_range",
    "dimension_column",
    "filter_costs",
    "hourly_facts",
    "in_currency",
    "missing_label",
    "money_rows",
    "providers",
    "token_rows",
    "top_groups",
    "top_movers",
    "unpriced_models",
]
