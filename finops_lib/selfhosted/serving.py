"""Self-hosted deployments priced per token from the warehouse: GPU cost, served tokens, the API comparison.

For each deployment the feature map names (:class:`finops_lib.rules.feature_map.Deployment`):

* **GPU cost per day**: the money rows of its GPUs (the map's ``gpu: {match: ...}`` on the bills: CUR or FOCUS
  lines of GPU instances or node pools; invoiced, in the facts' currency), or ``gpu: opencost``: its OpenCost GPU
  cost (``x_Deployment`` of the OpenCost rows; a list-price estimate in OpenCost's USD, shown only in USD);
* **tokens and requests per day**: the increases of its servers' counters (vLLM, TGI, SGLang ``prompt_tokens``,
  ``generation_tokens``, ``requests``; restarts counted, spread over days by time,
  :mod:`finops_lib.facts.serving`). Samples before the window are not read, so the interval that crosses its
  start is left out;
* **the API model compared with**: its catalog prices per 1M input and output tokens on the last day served,
  converted to the facts' currency at that day's rate; they set the output weight of the input/output split
  (:func:`finops_lib.selfhosted.unit_cost.unit_costs`) and the break-even
  (:func:`finops_lib.selfhosted.break_even.break_even`).

What cannot be shown is said in ``notes`` (no deployment named, GPU cost without throughput metrics, throughput
without GPU cost, a model the catalog does not price), never shown as $0 per token.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from finops_lib import fx
from finops_lib.errors import FinopsError
from finops_lib.facts import Facts
from finops_lib.facts.serving import counter_increases, spread_increases
from finops_lib.pricing import Catalog
from finops_lib.rules import compile_conditions
from finops_lib.rules.feature_map import Deployment, FeatureMap
from finops_lib.selfhosted.break_even import ApiPrice, break_even
from finops_lib.selfhosted.unit_cost import unit_costs

__all__ = ["ServingReport", "serving_report"]

_SERVED = {"prompt_tokens": "input_tokens", "generation_tokens": "output_tokens", "requests": "requests"}


@dataclass(frozen=True)
class ServingReport:
    """What :func:`serving_report` found: ``days`` (per deployment and day), ``comparison`` (per deployment)."""

    days: pd.DataFrame
    comparison: pd.DataFrame
    currency: str
    notes: tuple[str, ...] = ()


def _day(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values)
    return (stamps.dt.tz_convert(None) if stamps.dt.tz is not None else stamps).dt.normalize()


def _served(facts: Facts) -> pd.DataFrame:
    """Tokens and requests per deployment and day, from the counters' increases."""
    columns = ["deployment", "day", "input_tokens", "output_tokens", "requests"]
    if not facts.has_metrics:
        return pd.DataFrame(columns=columns)
    rows = facts.metric_rows(*_SERVED)
    samples = rows.filter((rows.x_MetricKind == "counter") & rows.x_Deployment.notnull()).to_pandas()
    if samples.empty:
        return pd.DataFrame(columns=columns)
    spread = spread_increases(counter_increases(samples, keep=["x_Deployment", "x_Metric"]))
    spread["day"] = _day(spread["period"])
    out = spread.pivot_table(index=["x_Deployment", "day"], columns="x_Metric", values="increase", aggfunc="sum")
    out = out.rename(columns=_SERVED).reset_index().rename(columns={"x_Deployment": "deployment"})
    for name in columns[2:]:
        out[name] = out[name].fillna(0.0) if name in out else 0.0
    return out[columns]


def _gpu_cost(facts: Facts, deployment: Deployment) -> tuple[pd.DataFrame, str | None]:
    """GPU cost per day of one deployment (``day``, ``cost`` Decimal, ``currency``), and a note if not shown."""
    empty = pd.DataFrame(columns=["deployment", "day", "cost", "currency"])
    if deployment.gpu == "opencost":
        if not facts.has_metrics:
            return empty, f"{deployment.name}: gpu: opencost, but no OpenCost export is loaded"
        if facts.currency != "USD":
            return empty, (f"{deployment.name}: its OpenCost GPU cost is a USD estimate; shown in USD only (this page "
                           f"is in {facts.currency})")  # fmt: skip
        rows = facts.metric_rows("gpu_cost")
        rows = rows.filter((rows.x_MetricSource == "opencost") & (rows.x_Deployment == deployment.name))
        agg = rows.group_by(day=rows.ChargePeriodStart.truncate("D")).aggregate(v=rows.x_Value.sum()).to_pandas()
        if agg.empty:
            return empty, f"{deployment.name}: gpu: opencost, but no OpenCost allocation names it (controller)"
        costs = [Decimal(str(round(float(v), 12))) for v in agg["v"]]
        frame = pd.DataFrame({"day": _day(agg["day"]), "cost": costs, "currency": "USD"})
    else:
        rows = facts.money_rows()
        rows = rows.filter(compile_conditions(rows, "costs", deployment.gpu, strict=False).fill_null(False))
        agg = rows.group_by(day=rows.ChargePeriodStart.truncate("D")).aggregate(
            cost=rows.BilledCost.cast(fx.MONEY).sum()).to_pandas()  # fmt: skip
        frame = pd.DataFrame({"day": _day(agg["day"]), "cost": list(agg["cost"]), "currency": facts.currency})
    return frame.assign(deployment=deployment.name)[empty.columns], None


def _api_price(facts: Facts, catalog: Catalog, deployment: Deployment, day: dt.date) -> tuple[ApiPrice | None, str]:
    """Return the compared model's prices in the facts' currency on ``day``, or None and why."""
    if deployment.compare_with is None:
        return None, f"{deployment.name}: no compare_with model in the feature map: no break-even"
    provider, model = deployment.compare_with
    p_in, p_out = (catalog.price(provider, model, bucket, day) for bucket in ("input_uncached", "output"))
    if p_in is None or p_out is None:
        return None, f"{deployment.name}: {provider} {model} is not in the price catalog on {day}: no break-even"
    prices = catalog.prices
    found = prices[(prices["provider"] == provider) & (prices["model"] == catalog.resolve(provider, model, day))]
    currency = found["currency"].iloc[0] if len(found) else "USD"
    if currency != facts.currency:
        try:
            rate, _ = fx.rate(facts.rates, currency, facts.currency, day)
        except FinopsError:
            return None, f"{deployment.name}: no {currency}->{facts.currency} rate on {day}: no break-even"
        p_in, p_out = p_in * rate, p_out * rate
    return ApiPrice(f"{provider} {model}", p_in, p_out, facts.currency), ""


def serving_report(facts: Facts, fmap: FeatureMap, catalog: Catalog) -> ServingReport:
    """Price each deployment of the feature map per token, day by day, and compare it with its API model.

    Returns
    -------
    ServingReport
        ``days``: :func:`~finops_lib.selfhosted.unit_cost.unit_costs` rows of every deployment (its split rule set
        by its compared model); ``comparison``: :func:`~finops_lib.selfhosted.break_even.break_even` rows;
        ``notes``: what could not be shown and why.
    """
    notes: list[str] = []
    if not fmap.deployments:
        notes.append("no self-hosted deployment is named in the feature map (deployments: name, gpu, compare_with)")
        return ServingReport(unit_costs(pd.DataFrame(columns=["deployment", "day", "cost", "currency"]),
                                        pd.DataFrame(columns=["deployment", "day", "input_tokens", "output_tokens"])),
                             break_even(pd.DataFrame(columns=["deployment", "cost"]), {}), facts.currency,
                             tuple(notes))  # fmt: skip
    served = _served(facts)
    days, prices = [], {}
    for deployment in fmap.deployments:
        cost, note = _gpu_cost(facts, deployment)
        notes += [note] if note else []
        tokens = served[served["deployment"] == deployment.name]
        if tokens.empty:
            notes.append(f"{deployment.name}: no token counters (vLLM, TGI, SGLang) for this deployment: GPU cost "
                         "without throughput has no price per token")  # fmt: skip
        elif cost.empty and not note:
            notes.append(f"{deployment.name}: tokens served but no GPU cost matched (check its gpu: match)")
        last = max([*cost["day"], *tokens["day"]], default=None)
        price, why = _api_price(facts, catalog, deployment, last.date()) if last is not None else (None, "")
        notes += [why] if why else []
        weight = price.output_per_1m / price.input_per_1m if price and price.input_per_1m > 0 else Decimal(1)
        days.append(unit_costs(cost, tokens, output_weight=weight))
        if price is not None:
            prices[deployment.name] = price
    frame = pd.concat(days, ignore_index=True)
    frame["day"] = pd.to_datetime(frame["day"])
    return ServingReport(frame, break_even(frame, prices), facts.currency, tuple(notes))
