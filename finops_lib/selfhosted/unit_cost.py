"""What a self-hosted model costs per token: a deployment's GPU cost over the tokens it served, day by day.

The rule, stated once (every figure this module returns carries it in ``split_rule``):

* **Blended**: the day's cost over every token served that day, input and output alike:
  ``cost / (input + output) x 1,000,000``. Needs no assumption.
* **Input and output**: a GPU spends more time per generated token than per prompt token, so the cost is split
  between them with an *output weight* ``w`` (one output token costs as much as ``w`` input tokens):
  ``per 1M input = cost x 1,000,000 / (input + w x output)`` and ``per 1M output = w x per 1M input``. The
  weight is the ratio of the comparable API model's output and input prices when one is named (so the two
  price pairs compare like with like), else 1 (the blended price for both), and is said with every figure.

A day with GPU cost and no token served has no price per token (never $0): its cost is idle cost. A day with
tokens and no GPU cost has none either (the deployment's GPUs are not in the bills read, or not mapped to it).
Money is Decimal in the cost's currency; token counts from counters spread over days may be fractional.

Examples
--------
>>> import pandas as pd
>>> from decimal import Decimal
>>> cost = pd.DataFrame({"deployment": ["llama"], "day": ["2026-05-01"], "cost": [Decimal("96")],
...                      "currency": ["USD"]})
>>> tokens = pd.DataFrame({"deployment": ["llama"], "day": ["2026-05-01"], "input_tokens": [40e6],
...                        "output_tokens": [8e6]})
>>> row = unit_costs(cost, tokens, output_weight=Decimal(4)).iloc[0]
>>> row.per_1m_blended, row.per_1m_input, row.per_1m_output
(Decimal('2.000000000000'), Decimal('1.333333333333'), Decimal('5.333333333333'))
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

__all__ = ["MILLION", "split_rule", "unit_costs"]

MILLION = Decimal(1_000_000)
_PLACES = Decimal("0.000000000001")
_KEY = ["deployment", "day"]


def split_rule(output_weight: Decimal) -> str:
    """Return the sentence saying how a cost was split between input and output tokens.

    Examples
    --------
    >>> split_rule(Decimal(1))
    'blended: every token, input or output, bears the same share of the GPU cost'
    """
    if output_weight == 1:
        return "blended: every token, input or output, bears the same share of the GPU cost"
    return (f"one output token bears {output_weight.normalize()} times the GPU cost of an input token (the ratio "
            "of the comparable API model's output and input prices)")  # fmt: skip


def _tokens(value: object) -> Decimal:
    return Decimal(str(float(value))) if value is not None and not pd.isna(value) else Decimal(0)


def unit_costs(gpu_cost: pd.DataFrame, tokens: pd.DataFrame, *, output_weight: Decimal = Decimal(1)) -> pd.DataFrame:
    """Return, per deployment and day, its GPU cost, the tokens it served and what they cost per million.

    Parameters
    ----------
    gpu_cost
        ``deployment``, ``day``, ``cost`` (Decimal), ``currency``: what the deployment's GPUs cost that day.
    tokens
        ``deployment``, ``day``, ``input_tokens``, ``output_tokens`` (and optionally ``requests``): what it served.
    output_weight
        How many input tokens' worth of GPU cost one output token bears (see the module); 1 = blended.

    Returns
    -------
    pandas.DataFrame
        One row per deployment and day present in either frame: ``cost``, ``currency``, ``input_tokens``,
        ``output_tokens``, ``requests``, ``per_1m_blended``, ``per_1m_input``, ``per_1m_output`` (Decimal, None where
        there is no price) and ``status`` (``priced``, ``idle``: cost without traffic, ``no_cost``: traffic without
        any GPU cost), ``split_rule``. Sorted by deployment and day; the input frames are not changed.
    """
    if output_weight <= 0:
        raise ValueError(f"output_weight must be positive, got {output_weight}")
    # keys as plain objects: an empty side (a deployment without bills or without counters) has no dtype to agree on
    gpu_cost = gpu_cost.astype(dict.fromkeys(_KEY, object))
    tokens = tokens.astype(dict.fromkeys(_KEY, object))
    cost = gpu_cost.groupby(_KEY, as_index=False).agg(cost=("cost", lambda s: sum(s, Decimal(0))),
                                                      currency=("currency", "first"))  # fmt: skip
    served = tokens.assign(requests=tokens.get("requests", 0.0))
    served = served.groupby(_KEY, as_index=False)[["input_tokens", "output_tokens", "requests"]].sum()
    both = cost.merge(served, on=_KEY, how="outer").sort_values(_KEY, kind="stable").reset_index(drop=True)
    rule = split_rule(output_weight)
    rows = []
    for rec in both.to_dict("records"):
        t_in, t_out = _tokens(rec.get("input_tokens")), _tokens(rec.get("output_tokens"))
        amount = rec.get("cost")
        priced = isinstance(amount, Decimal) and t_in + t_out > 0
        status = "priced" if priced else "idle" if isinstance(amount, Decimal) else "no_cost"
        blended = per_in = per_out = None
        if priced:
            blended = (amount * MILLION / (t_in + t_out)).quantize(_PLACES)
            per_in = (amount * MILLION / (t_in + output_weight * t_out)).quantize(_PLACES)
            per_out = (amount * MILLION * output_weight / (t_in + output_weight * t_out)).quantize(_PLACES)
        rows.append({"deployment": rec["deployment"], "day": rec["day"],
                     "cost": amount if isinstance(amount, Decimal) else None, "currency": rec.get("currency"),
                     "input_tokens": float(t_in), "output_tokens": float(t_out),
                     "requests": float(rec.get("requests") or 0), "per_1m_blended": blended, "per_1m_input": per_in,
                     "per_1m_output": per_out, "status": status, "split_rule": rule})  # fmt: skip
    columns = ["deployment", "day", "cost", "currency", "input_tokens", "output_tokens", "requests",
               "per_1m_blended", "per_1m_input", "per_1m_output", "status", "split_rule"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
