"""Self-hosted models priced per token: GPU cost over the tokens served, and the break-even against an API.

Frames in, frames out: :func:`unit_costs` (per deployment and day, the split rule stated with every figure) and
:func:`break_even` (per deployment, the daily volume above which its GPUs cost less than a comparable API model);
:func:`serving_report` reads both from the warehouse for the deployments of the feature map.
"""

from finops_lib.selfhosted.break_even import ApiPrice, break_even
from finops_lib.selfhosted.serving import ServingReport, serving_report
from finops_lib.selfhosted.unit_cost import split_rule, unit_costs

__all__ = ["ApiPrice", "ServingReport", "break_even", "serving_report", "split_rule", "unit_costs"]
