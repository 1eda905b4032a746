"""The facts layer: the one place that decides which rows are money, tokens and requests, in which currency.

Every page, widget, command and detector reads money, tokens and series through a :class:`Facts`; nothing
else opens the warehouse's tables. Modules:

``model``
    The declared measures and dimensions (names, units, tables, columns): the semantic model.
``scope``
    Which rows count: invoiced first per provider and day, estimates where no invoice, unpriced flagged.
``layer``
    :class:`Facts`: row sets, totals, aggregates and series in one currency, window, filter and set of rules.
``cells``
    Cell facts (day x provider x owner x model x key x bucket) for anomalies and before/after views.
``requests``
    Request logs as cells of a cost-change decomposition.
``unpriced``
    Models and buckets with tokens but no price.
"""

from finops_lib.facts.cells import FACT_COLUMNS, UNKNOWN, build_cells, gateway_pools
from finops_lib.facts.layer import Facts, open_facts
from finops_lib.facts.model import DIMENSIONS, GRAINS, MEASURES, UNATTRIBUTED, Dimension, Measure
from finops_lib.facts.requests import cells_from_requests
from finops_lib.facts.scope import AI_SCOPE, MONEY_SCOPES, SCOPE_MEANINGS, TOKEN_SCOPES, in_ai_scope
from finops_lib.facts.unpriced import unpriced_models

__all__ = [
    "AI_SCOPE",
    "DIMENSIONS",
    "FACT_COLUMNS",
    "GRAINS",
    "MEASURES",
    "MONEY_SCOPES",
    "SCOPE_MEANINGS",
    "TOKEN_SCOPES",
    "UNATTRIBUTED",
    "UNKNOWN",
    "Dimension",
    "Facts",
    "Measure",
    "build_cells",
    "cells_from_requests",
    "gateway_pools",
    "in_ai_scope",
    "open_facts",
    "unpriced_models",
]
