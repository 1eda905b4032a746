"""When a self-hosted deployment pays off against a comparable API model: the volume where the two cost the same.

A deployment's GPUs cost the same each day whatever it serves (up to its capacity); an API model costs its price
per token. At the deployment's own mix of input and output tokens, the API costs
``api per 1M = (input x price_in + output x price_out) / (input + output)``, so a day of ``N`` tokens costs
``N x api per 1M / 1,000,000`` there, and the deployment pays off above ``N* = cost per day x 1,000,000 /
api per 1M`` tokens a day. Figures are over the days the deployment had GPU cost; money is Decimal in one
currency (the API price must be in the GPU cost's currency: convert before, never mixed).

Examples
--------
>>> import pandas as pd
>>> from decimal import Decimal
>>> days = pd.DataFrame({"deployment": ["llama"] * 2, "cost": [Decimal("96"), Decimal("96")],
...                      "currency": ["USD"] * 2, "input_tokens": [30e6, 50e6], "output_tokens": [10e6, 10e6]})
>>> api = {"llama": ApiPrice("gpt-4o-mini", Decimal("0.15"), Decimal("0.60"), "USD")}
>>> row = break_even(days, api).iloc[0]
>>> row.self_per_1m, row.api_per_1m, int(row.break_even_tokens_per_day), bool(row.pays_off)
(Decimal('1.920000000000'), Decimal('0.240000000000'), 400000000, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

import pandas as pd

from finops_lib.selfhosted.unit_cost import MILLION

__all__ = ["ApiPrice", "break_even"]

_PLACES = Decimal("0.000000000001")


@dataclass(frozen=True)
class ApiPrice:
    """The comparable API model of a deployment and its list prices per million tokens."""

    model: str
    input_per_1m: Decimal
    output_per_1m: Decimal
    currency: str


def _dec(value: float) -> Decimal:
    return Decimal(str(float(value)))


def break_even(days: pd.DataFrame, api: dict[str, ApiPrice]) -> pd.DataFrame:
    """Return, per deployment, its cost per day and per 1M tokens against the API's, and the break-even volume.

    Parameters
    ----------
    days
        Per deployment and day: ``cost`` (Decimal; None on days without GPU cost, which are left out),
        ``currency``, ``input_tokens``, ``output_tokens`` (:func:`finops_lib.selfhosted.unit_cost.unit_costs`).
    api
        Deployment -> :class:`ApiPrice`. A deployment without one gets no comparison (``api_model`` None).

    Returns
    -------
    pandas.DataFrame
        ``deployment``, ``days``, ``currency``, ``cost_per_day``, ``tokens_per_day``, ``self_per_1m`` (the period's
        cost over its tokens; None without tokens), ``api_model``, ``api_per_1m`` (at the deployment's mix),
        ``api_cost_per_day`` (today's volume at the API), ``break_even_tokens_per_day`` (whole tokens, rounded
        up), ``pays_off`` (the deployment's volume is above it).

    Raises
    ------
    ValueError
        When an API price is in another currency than the deployment's cost.
    """
    paid = days.loc[days["cost"].map(lambda v: isinstance(v, Decimal)).astype(bool)]
    rows = []
    for deployment, group in paid.groupby("deployment", sort=True):
        currency = group["currency"].iloc[0]
        n = len(group)
        cost = sum(group["cost"], Decimal(0))
        t_in, t_out = _dec(group["input_tokens"].sum()), _dec(group["output_tokens"].sum())
        row = {"deployment": deployment, "days": n, "currency": currency, "cost_per_day": (cost / n).quantize(_PLACES),
               "tokens_per_day": float((t_in + t_out) / n), "self_per_1m": None, "api_model": None,
               "api_per_1m": None, "api_cost_per_day": None, "break_even_tokens_per_day": None, "pays_off": None}
        if t_in + t_out > 0:
            row["self_per_1m"] = (cost * MILLION / (t_in + t_out)).quantize(_PLACES)
        price = api.get(deployment)
        if price is not None and t_in + t_out > 0:
            if price.currency != currency:
                raise ValueError(f"{deployment}: the API price of {price.model} is in {price.currency}, the GPU cost "
                                 f"in {currency}: convert one before comparing")  # fmt: skip
            per_1m = (t_in * price.input_per_1m + t_out * price.output_per_1m) / (t_in + t_out)
            needed = (cost / n) * MILLION / per_1m if per_1m > 0 else None
            whole = None if needed is None else int(needed.to_integral_value(ROUND_CEILING))
            row.update(api_model=price.model, api_per_1m=per_1m.quantize(_PLACES),
                       api_cost_per_day=((t_in + t_out) / n * per_1m / MILLION).quantize(_PLACES),
                       break_even_tokens_per_day=whole,
                       pays_off=None if needed is None else (t_in + t_out) / n > needed)  # fmt: skip
        rows.append(row)
    columns = ["deployment", "days", "currency", "cost_per_day", "tokens_per_day", "self_per_1m", "api_model",
               "api_per_1m", "api_cost_per_day", "break_even_tokens_per_day", "pays_off"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
