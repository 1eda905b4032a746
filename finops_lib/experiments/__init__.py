"""Experiments: what each variant costs, whether the difference is real, and what a change did.

What each variant of a prompt or model change costs, whether the difference is real, what it would cost in
production, and what a change did to tokens and cost (before/after).

Modules: ``variants`` (per-variant cost, comparison, power), ``inputs`` (experiment mapping and quality-score
files), ``projection`` (production volume at catalog prices, frontier), ``before_after`` (change finder and the
window comparison), ``metered`` (the before/after on usage feeds' metered cells).
"""

from finops_lib.experiments.changes import (
    BeforeAfter,
    before_after,
    daily_requests,
    find_change,
    find_changes,
    per_request_value,
)
from finops_lib.experiments.comparison import (
    REQUEST_METRICS,
    Comparison,
    compare,
    compare_values,
    per_request,
    power,
    register_request_metric,
    sample_size,
    variants,
)
from finops_lib.experiments.inputs import (
    MATCH_COLUMNS,
    assign_experiments,
    join_quality,
    read_experiment_map,
    read_quality,
)
from finops_lib.experiments.projection import frontier, project

__all__ = [
    "MATCH_COLUMNS",
    "REQUEST_METRICS",
    "BeforeAfter",
    "Comparison",
    "assign_experiments",
    "before_after",
    "compare",
    "compare_values",
    "daily_requests",
    "find_change",
    "find_changes",
    "frontier",
    "join_quality",
    "per_request",
    "per_request_value",
    "power",
    "project",
    "read_experiment_map",
    "read_quality",
    "register_request_metric",
    "sample_size",
    "variants",
]
