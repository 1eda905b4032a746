"""Self-hosted deployments priced per token from the warehouse: GPU cost, served tokens, the API comparison.

For each deployment the feature map names (:class:`finops_lib.rules.feature_map.Deployment`):

* **GPU cost per day**: the money rows of its GPUs (the map's ``gpu: {match: ...}`` on the bills: CUR or FOCUS
  lines of GPU instances or node pools; invoiced, in the facts' currency), or ``gpu: opencost``: its OpenCost GPU
  cost (``x_Deployment`` of the OpenCost rows; a list-price estimate in OpenCost's USD, shown only in USD);
* **tokens and requests per day**: the increases of its servers' counters (vLLM, TGI, SGLang ``prompt_tokens``,
  ``generation_tokens``, ``requests``; restarts counted, spread over days by time,
  :mod:`finops_lib.facts.serving`). Samples before the window are not read, so the interval that crosses its
  start is left out;
* **idle hours and utilisation**: the hours its GPU cost covers in which its counters saw no token
  (:mod:`finops_lib.selfhosted.idle`: ``idle_hours``, ``idle_cost``; hours without counter samples are
  ``unmeasured``, never idle), and the mean of DCGM's GPU utilisation gauge of its GPUs (the gauge's
  ``x_Deployment``: name the snapshots after the deployment);
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
from finops_lib.selfhosted.idle import IDLE_COLUMNS, idle_hours, utilization
from finops_lib.selfhosted.unit_cost import unit_costs

__all__ = ["ServingReport", "serving_report"]

_SERVED = {"prompt_tokens": "input_tokens", "generation_tokens": "output_tokens", "requests": "requests"}
_TOKENS = ("prompt_tokens", "generation_tokens")


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


def _increases(facts: Facts) -> pd.DataFrame:
    """Every counter interval of the served tokens and requests, per deployment (``x_Deployment``, ``x_Metric``)."""
    if not facts.has_metrics:
        return pd.DataFrame()
    rows = facts.metric_rows(*_SERVED)
    samples = rows.filter((rows.x_MetricKind == "counter") & rows.x_Deployment.notnull()).to_pandas()
    if samples.empty:
        return pd.DataFrame()
    return counter_increases(samples, keep=["x_Deployment", "x_Metric"])


def _served(increases: pd.DataFrame) -> pd.DataFrame:
    """Tokens and requests per deployment and day, from the counters' increases."""
    columns = ["deployment", "day", "input_tokens", "output_tokens", "requests"]
    if increases.empty:
        return pd.DataFrame(columns=columns)
    spread = spread_increases(increases)
    spread["day"] = _day(spread["period"])
    out = spread.pivot_table(index=["x_Deployment", "day"], columns="x_Metric", values="increase", aggfunc="sum")
    out = out.rename(columns=_SERVED).reset_index().rename(columns={"x_Deployment": "deployment"})
    for name in columns[2:]:
        out[name] = out[name].fillna(0.0) if name in out else 0.0
    return out[columns]


def _hourly(increases: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tokens served per deployment and hour, and the intervals the token counters measured."""
    tokens = increases[increases["x_Metric"].isin(_TOKENS)] if len(increases) else increases
    if tokens.empty:
        return (pd.DataFrame(columns=["deployment", "hour", "tokens"]),
                pd.DataFrame(columns=["deployment", "start", "end"]))  # fmt: skip
    spread = spread_increases(tokens, freq="h")
    traffic = spread.groupby(["x_Deployment", "period"], as_index=False)["increase"].sum()
    traffic = traffic.rename(columns={"x_Deployment": "deployment", "period": "hour", "increase": "tokens"})
    return traffic, tokens.rename(columns={"x_Deployment": "deployment"})[["deployment", "start", "end"]]


def _utilization(facts: Facts) -> pd.DataFrame:
    """Mean GPU utilisation per deployment and day (DCGM's gauge of the deployment's GPUs)."""
    empty = pd.DataFrame(columns=["deployment", "day", "value"])
    if not facts.has_metrics:
        return utilization(empty)
    rows = facts.metric_rows("gpu_utilization")
    gauges = rows.filter(rows.x_Deployment.notnull()).select(deployment=rows.x_Deployment,
                                                             at=rows.ChargePeriodStart, value=rows.x_Value).to_pandas()
    if gauges.empty:
        return utilization(empty)
    return utilization(gauges.assign(day=_day(gauges["at"]))[["deployment", "day", "value"]])


def _gpu_cost(facts: Facts, deployment: Deployment) -> tuple[pd.DataFrame, str | None]:
    """GPU cost rows of one deployment (``start``, ``end``, ``cost`` Decimal, ``currency``), and a note if not shown.

    One row per charge period (the bill's rows of one period added up), so the days and the idle hours read the
    same amounts.
    """
    empty = pd.DataFrame(columns=["deployment", "start", "end", "cost", "currency"])
    if deployment.gpu == "opencost":
        if not facts.has_metrics:
            return empty, f"{deployment.name}: gpu: opencost, but no OpenCost export is loaded"
        if facts.currency != "USD":
            return empty, (f"{deployment.name}: its OpenCost GPU cost is a USD estimate; shown in USD only (this page "
                           f"is in {facts.currency})")  # fmt: skip
        rows = facts.metric_rows("gpu_cost")
        rows = rows.filter((rows.x_MetricSource == "opencost") & (rows.x_Deployment == deployment.name))
        agg = rows.group_by(start=rows.ChargePeriodStart, end=rows.ChargePeriodEnd).aggregate(
            v=rows.x_Value.sum()).to_pandas()  # fmt: skip
        if agg.empty:
            return empty, f"{deployment.name}: gpu: opencost, but no OpenCost allocation names it (controller)"
        costs = [Decimal(str(round(float(v), 12))) for v in agg["v"]]
        frame = pd.DataFrame({"start": agg["start"], "end": agg["end"], "cost": costs, "currency": "USD"})
    else:
        rows = facts.money_rows()
        rows = rows.filter(compile_conditions(rows, "costs", deployment.gpu, strict=False).fill_null(False))
        agg = rows.group_by(start=rows.ChargePeriodStart, end=rows.ChargePeriodEnd).aggregate(
            cost=rows.BilledCost.cast(fx.MONEY).sum()).to_pandas()  # fmt: skip
        frame = pd.DataFrame({"start": agg["start"], "end": agg["end"], "cost": list(agg["cost"]),
                              "currency": facts.currency})  # fmt: skip
    for name in ("start", "end"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame.assign(deployment=deployment.name)[empty.columns], None


def _daily(rows: pd.DataFrame) -> pd.DataFrame:
    """GPU cost per deployment and day (the day its charge period starts), Decimal."""
    if rows.empty:
        return pd.DataFrame(columns=["deployment", "day", "cost", "currency"])
    days = rows.assign(day=_day(rows["start"]))
    out = days.groupby(["deployment", "day", "currency"], as_index=False)["cost"].agg(lambda s: sum(s, Decimal(0)))
    return out[["deployment", "day", "cost", "currency"]]


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
        by its compared model, with ``paid_hours``, ``idle_hours``, ``unmeasured_hours``, ``idle_cost``
        (:func:`~finops_lib.selfhosted.idle.idle_hours`) and ``gpu_utilization`` (0 to 1, None without a gauge));
        ``comparison``: :func:`~finops_lib.selfhosted.break_even.break_even` rows;
        ``notes``: what could not be shown and why.
    """
    notes: list[str] = []
    if not fmap.deployments:
        notes.append("no self-hosted deployment is named in the feature map (deployments: name, gpu, compare_with)")
        days = unit_costs(pd.DataFrame(columns=["deployment", "day", "cost", "currency"]),
                          pd.DataFrame(columns=["deployment", "day", "input_tokens", "output_tokens"]))
        days = _with_hours(days.assign(day=pd.to_datetime(days["day"])), pd.DataFrame(columns=IDLE_COLUMNS),
                           utilization(pd.DataFrame(columns=["deployment", "day", "value"])))
        return ServingReport(days, break_even(pd.DataFrame(columns=["deployment", "cost"]), {}), facts.currency,
                             tuple(notes))  # fmt: skip
    increases = _increases(facts)
    served = _served(increases)
    traffic, measured = _hourly(increases)
    days, prices, idle = [], {}, []
    for deployment in fmap.deployments:
        rows, note = _gpu_cost(facts, deployment)
        cost = _daily(rows)
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
        idle.append(idle_hours(rows, traffic[traffic["deployment"] == deployment.name],
                               measured[measured["deployment"] == deployment.name]))  # fmt: skip
        if price is not None:
            prices[deployment.name] = price
    frame = pd.concat(days, ignore_index=True)
    frame["day"] = pd.to_datetime(frame["day"])
    frame = _with_hours(frame, pd.concat(idle, ignore_index=True), _utilization(facts))
    if len(frame) and frame["gpu_utilization"].isna().all():
        notes.append("no GPU utilisation gauge (DCGM_FI_DEV_GPU_UTIL) names a deployment: utilisation not shown "
                     "(name the DCGM snapshots after the deployment, or give them a deployment label)")  # fmt: skip
    return ServingReport(frame, break_even(frame, prices), facts.currency, tuple(notes))


def _with_hours(days: pd.DataFrame, idle: pd.DataFrame, used: pd.DataFrame) -> pd.DataFrame:
    """Return the days with their paid, idle and unmeasured hours, idle cost and GPU utilisation (None: unknown)."""
    key = ["deployment", "day"]
    for frame in (idle, used):
        frame["day"] = pd.to_datetime(frame["day"])
        frame["deployment"] = frame["deployment"].astype(object)
    days = days.astype({"deployment": object})
    out = days.merge(idle, on=key, how="left").merge(used, on=key, how="left")
    for name in ("paid_hours", "idle_hours", "unmeasured_hours"):
        out[name] = out[name].fillna(0.0).astype(float)
    out["idle_cost"] = [v if isinstance(v, Decimal) else None for v in out["idle_cost"]]
    out["gpu_utilization"] = out["gpu_utilization"].astype(float)
    return out
