"""Explain anomalies: drill-down to the dimensions that carry the change, exact decomposition, named cause.

For an anomaly over days ``D`` in a scope (``team=sales, application=email-assistant``), the **baseline** is the
mean of the same weekdays ``k`` weeks earlier, for the ``K`` most recent weeks (``K`` = 4, else 2, else 1) whose
days hold no reported anomaly in that scope. Then:

* :func:`drilldown`: per dimension (provider, team, application, model, API key, token bucket, context tier), the
  change of each value against the baseline and its share of the scope's change (shares of one dimension add up
  to 1 exactly, as the changes add up to the scope's change);
* :func:`decompose_anomaly`: :func:`finops_lib.decompose.decompose` of the scope's cells (model x context tier x
  service tier) into volume, mix, tokens per request, price and other. The current days are weighted by ``K`` so
  that both sides are integer token counts, and the components divided by ``K`` again (``K`` in 1, 2, 4: exact
  in Decimal), so they add up to the observed change exactly;
* :func:`name_cause`: the typical causes, recognised from the data in this order: a **retry storm** (requests up,
  failure rate up, tokens per successful request flat; driver ``requests``), a **context tier** crossing (cost on
  the long-context tier appears), a **new model** (a model without baseline cost carries the change; driver
  ``model mix``), a **cache hit rate** change (the cache-read share of input tokens moves by 25 points or more);
  otherwise the largest decomposition component names the driver (:data:`COMPONENT_DRIVERS`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from finops_lib.anomalies.detectors import DIMENSIONS
from finops_lib.decompose import decompose
from finops_lib.fx import dsum

__all__ = [
    "COMPONENT_DRIVERS",
    "DRILL_DIMENSIONS",
    "Explanation",
    "baseline_weeks",
    "decompose_anomaly",
    "drilldown",
    "explain_anomaly",
    "name_cause",
    "scope_of",
]

DRILL_DIMENSIONS: tuple[str, ...] = ("provider", "team", "application", "model", "api_key", "bucket", "context_tier")
#: Driver label of the largest decomposition component, per volume unit (truth/events.csv vocabulary).
COMPONENT_DRIVERS: dict[str, dict[str, str]] = {
    "requests": {
        "volume": "requests",
        "mix": "model mix",
        "tokens_per_request": "tokens per request",
        "price": "price",
        "other": "other",
    },
    "tokens": {
        "volume": "volume",
        "mix": "model mix",
        "tokens_per_request": "token mix",
        "price": "price",
        "other": "other",
    },
}
CELL_KEYS: tuple[str, ...] = ("model", "context_tier", "service_tier")
INPUT_BUCKETS = ("input_uncached", "input_cache_read", "input_cache_write_5m", "input_cache_write_1h")
_ZERO = Decimal(0)




def scope_of(dimension: str, key: str) -> dict[str, str]:
    """Return the fact filter of a scanned series (``application`` keys are ``team/application``).

    Examples
    --------
    >>> scope_of("application", "legal/adhoc-scripts")
    {'team': 'legal', 'application': 'adhoc-scripts'}
    >>> scope_of("total", "total")
    {}
    """
    cols = DIMENSIONS[dimension]
    if not cols:
        return {}
    parts = key.split("/", len(cols) - 1) if len(cols) > 1 else [key]
    return dict(zip(cols, parts, strict=True))


def in_scope(facts: pd.DataFrame, scope: dict[str, str]) -> pd.DataFrame:
    """Rows of ``facts`` in ``scope`` (a column -> value filter)."""
    mask = np.ones(len(facts), bool)
    for column, value in scope.items():
        mask &= (facts[column].astype(str) == value).to_numpy()
    return facts[mask]


def baseline_weeks(
    days: list[pd.Timestamp], *, avoid: set[pd.Timestamp], first_day: pd.Timestamp, max_back: int = 8
) -> list[int]:
    """Weeks back (1 = a week earlier) used as baseline: the 4 (else 2, else 1) most recent clean ones.

    Examples
    --------
    >>> d = [pd.Timestamp("2026-03-30")]
    >>> baseline_weeks(d, avoid={pd.Timestamp("2026-03-23")}, first_day=pd.Timestamp("2026-01-01"))
    [2, 3, 4, 5]
    """
    clean = [
        k
        for k in range(1, max_back + 1)
        if all(d - pd.Timedelta(weeks=k) >= first_day and d - pd.Timedelta(weeks=k) not in avoid for d in days)
    ]
    for size in (4, 2, 1):
        if len(clean) >= size:
            return clean[:size]
    return []


def days_back(days: list[pd.Timestamp], weeks: list[int]) -> list[pd.Timestamp]:
    return [d - pd.Timedelta(weeks=k) for k in weeks for d in days]


def drilldown(
    facts: pd.DataFrame,
    *,
    scope: dict[str, str],
    days: list[pd.Timestamp],
    weeks: list[int],
    dimensions: tuple[str, ...] = DRILL_DIMENSIONS,
) -> pd.DataFrame:
    """Change of cost against the baseline per value of each dimension, within ``scope``.

    Returns
    -------
    pandas.DataFrame
        ``dimension``, ``value``, ``current`` and ``baseline`` (Decimal: the anomaly days' cost and the
        baseline's mean cost over as many days), ``change`` (Decimal), ``share`` (float: of the scope's change),
        sorted by dimension and absolute change. Per dimension, ``change`` adds up to the scope's change exactly.
    """
    rows = in_scope(facts, scope)
    cur = rows[rows["day"].isin(days)]
    base = rows[rows["day"].isin(days_back(days, weeks))]
    k = Decimal(len(weeks) or 1)
    total = dsum(cur["cost"]) - dsum(base["cost"]) / k
    frames = []
    for dim in dimensions:
        c = cur.groupby(dim)["cost"].agg(dsum)
        b = base.groupby(dim)["cost"].agg(dsum) / k
        both = pd.concat([c.rename("current"), b.rename("baseline")], axis=1).fillna(_ZERO)
        both["change"] = both["current"] - both["baseline"]
        both["share"] = [float(v / total) if total else np.nan for v in both["change"]]
        both = both.reset_index(names="value").assign(dimension=dim)
        frames.append(both.reindex(both["change"].map(abs).sort_values(ascending=False).index))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return out[["dimension", "value", "current", "baseline", "change", "share"]]


def _cells(rows: pd.DataFrame, *, weight: int) -> pd.DataFrame:
    """Rows summed into :func:`finops_lib.decompose.decompose`'s cell frame, amounts multiplied by ``weight``."""
    priced = rows[rows["cost"].map(lambda v: v is not None and not pd.isna(v))]
    keys = list(CELL_KEYS)
    if priced.empty:
        return pd.DataFrame(columns=[*keys, "bucket", "tokens", "cost", "requests"])
    grouped = priced.groupby([*keys, "bucket"], as_index=False).agg(
        tokens=("tokens", lambda s: int(s.fillna(0).sum())),
        cost=("cost", dsum),
        requests=("requests", lambda s: s.sum(min_count=1)),
    )
    per_cell = grouped.groupby(keys)["requests"].transform(lambda s: s.sum(min_count=1))
    grouped["requests"] = per_cell.fillna(0).astype("int64") * weight
    grouped["tokens"] = grouped["tokens"].astype("int64") * weight
    grouped["cost"] = grouped["cost"].map(lambda v: v * weight)
    return grouped


def _volume_unit(rows: pd.DataFrame) -> str:
    """Return ``requests`` when request counts cover at least 90 % of the token cost, else ``tokens``."""
    token_rows = rows[(rows["bucket"] != "non_token") & rows["cost"].notna()]
    counted = token_rows.groupby(list(CELL_KEYS))["requests"].transform(lambda s: s.notna().any() and s.sum() > 0)
    total = dsum(token_rows["cost"])
    covered = dsum(token_rows.loc[counted.astype(bool), "cost"]) if len(token_rows) else _ZERO
    return "requests" if total and covered / total >= Decimal("0.9") else "tokens"


def decompose_anomaly(
    facts: pd.DataFrame, *, scope: dict[str, str], days: list[pd.Timestamp], weeks: list[int]
) -> tuple[pd.DataFrame, Any]:
    """Decompose the scope's cost change against the baseline (see the module docstring).

    Returns
    -------
    (pandas.DataFrame, Decomposition)
        ``component``, ``amount`` (Decimal, per the observed change: the amounts add up to it exactly),
        ``share``; and the underlying :class:`~finops_lib.decompose.Decomposition` (amounts ``K`` times larger).
    """
    rows = in_scope(facts, scope)
    k = len(weeks) or 1
    cur = rows[rows["day"].isin(days)]
    base = rows[rows["day"].isin(days_back(days, weeks))]
    unit = _volume_unit(pd.concat([cur, base]))
    result = decompose(_cells(base, weight=1), _cells(cur, weight=k), keys=CELL_KEYS, volume=unit)  # type: ignore
    comps = result.components.copy()
    comps["amount"] = comps["amount"].map(lambda v: v / Decimal(k))
    return comps, result


def _ratio(num: float, den: float) -> float:
    return num / den if den else (np.inf if num else np.nan)


def _stats(rows: pd.DataFrame, days_n: int) -> dict[str, float]:
    tokens = rows.groupby("bucket")["tokens"].sum(min_count=1).fillna(0).astype(float)
    inputs = float(sum(tokens.get(b, 0.0) for b in INPUT_BUCKETS))
    req = float(rows["requests"].sum(min_count=1) or 0) if rows["requests"].notna().any() else np.nan
    fails = float(rows["failures"].sum(min_count=1) or 0) if rows["failures"].notna().any() else np.nan
    cost = float(dsum(rows["cost"]))
    long_cost = float(dsum(rows.loc[rows["context_tier"] == "long", "cost"]))
    return {
        "requests": req / days_n,
        "failure_rate": _ratio(fails, req) if req == req else np.nan,
        "tokens_per_success": _ratio(float(tokens.sum()), req - fails) if req == req else np.nan,
        "cache_read_share": _ratio(float(tokens.get("input_cache_read", 0.0)), inputs),
        "long_share": _ratio(long_cost, cost),
        "cost": cost / days_n,
    }


def name_cause(
    cur: pd.DataFrame,
    base: pd.DataFrame,
    *,
    days_n: int,
    weeks_n: int,
    change: Decimal,
    components: pd.DataFrame,
    unit: str,
) -> tuple[str, str, str]:
    """Return ``(driver, cause, evidence)`` for an anomaly's current and baseline rows (see the module docstring).

    Examples
    --------
    >>> from decimal import Decimal as D
    >>> def rows(model, cost):
    ...     return pd.DataFrame({"model": [model], "bucket": ["output"], "tokens": [1000], "cost": [D(cost)],
    ...                          "requests": [pd.NA], "failures": [pd.NA], "context_tier": ["standard"]})
    >>> comps = pd.DataFrame({"component": ["mix"], "amount": [D("9")]})
    >>> name_cause(rows("big", "10"), rows("small", "1"), days_n=1, weeks_n=1, change=D("9"), components=comps,
    ...            unit="tokens")[:2]
    ('model mix', 'new model')
    """
    now, before = _stats(cur, days_n), _stats(base, days_n * max(weeks_n, 1))
    req_up = _ratio(now["requests"], before["requests"])
    tps = _ratio(now["tokens_per_success"], before["tokens_per_success"])
    if (
        req_up >= 1.5
        and now["failure_rate"] >= 0.1
        and now["failure_rate"] >= 3 * before["failure_rate"]
        and 0.75 <= tps <= 1.33
    ):
        return (
            "requests",
            "retry storm",
            (
                f"requests x{req_up:.1f}, failure rate {now['failure_rate']:.0%} (baseline "
                f"{before['failure_rate']:.0%}), tokens per successful request x{tps:.2f}"
            ),
        )
    if now["long_share"] >= 0.2 and now["long_share"] >= before["long_share"] + 0.15:
        return (
            "context tier",
            "long-context tier crossing",
            (
                f"{now['long_share']:.0%} of the cost billed at the long-context rate "
                f"(baseline {before['long_share']:.0%})"
            ),
        )
    new_models = set(cur.loc[cur["cost"].map(lambda v: v is not None and v > 0), "model"]) - set(
        base.loc[base["cost"].map(lambda v: v is not None and v > 0), "model"]
    )
    if new_models and change:
        new_cost = dsum(cur.loc[cur["model"].isin(new_models), "cost"]) / days_n
        if new_cost / abs(change / days_n) >= Decimal("0.5"):
            names = ", ".join(sorted(new_models))
            return "model mix", "new model", f"new model(s) {names}: {float(new_cost):,.2f} a day"
    shift = now["cache_read_share"] - before["cache_read_share"]
    if abs(shift) >= 0.25:
        word = "collapse" if shift < 0 else "rise"
        return (
            "cache hit rate",
            f"cache hit rate {word}",
            (f"cache reads {before['cache_read_share']:.0%} -> {now['cache_read_share']:.0%} of input tokens"),
        )
    amounts = components.set_index("component")["amount"]
    top = max(amounts.index, key=lambda c: abs(amounts[c]))
    driver = COMPONENT_DRIVERS[unit][top]
    return driver, "", f"largest component: {top.replace('_', ' ')}"


@dataclass(frozen=True)
class Explanation:
    """Everything said about one anomaly: scope, days, baseline weeks, drill-down, decomposition, driver."""

    scope: dict[str, str]
    days: list[pd.Timestamp]
    weeks: list[int]
    current: Decimal
    baseline: Decimal
    change: Decimal
    drilldown: pd.DataFrame
    components: pd.DataFrame
    volume_unit: str
    driver: str
    cause: str
    evidence: str

    @property
    def change_pct(self) -> float:
        """Change relative to the baseline (a fraction; inf when the baseline is 0)."""
        return float(self.change / self.baseline) if self.baseline else float("inf")


def explain_anomaly(
    facts: pd.DataFrame, *, scope: dict[str, str] | str, days: list[pd.Timestamp], weeks: list[int] | str
) -> Explanation:
    """Explain the cost change of ``scope`` over ``days`` against the baseline ``weeks`` back.

    ``scope`` and ``weeks`` may be given as stored in the alert table (JSON text, ``"1,2,3,4"``).
    """
    scope = json.loads(scope) if isinstance(scope, str) else scope
    weeks = [int(w) for w in str(weeks).split(",") if w] if isinstance(weeks, str) else list(weeks)
    rows = in_scope(facts, scope)
    cur = rows[rows["day"].isin(days)]
    base = rows[rows["day"].isin(days_back(days, weeks))]
    k = Decimal(len(weeks) or 1)
    current, baseline = dsum(cur["cost"]), dsum(base["cost"]) / k
    change = current - baseline
    drill = drilldown(facts, scope=scope, days=days, weeks=weeks)
    comps, result = decompose_anomaly(facts, scope=scope, days=days, weeks=weeks)
    driver, cause, evidence = name_cause(
        cur, base, days_n=len(days), weeks_n=len(weeks), change=change, components=comps, unit=result.volume_unit
    )
    return Explanation(
        scope,
        list(days),
        list(weeks),
        current,
        baseline,
        change,
        drill,
        comps,
        result.volume_unit,
        driver,
        cause,
        evidence,
    )


def explain_alert(facts: pd.DataFrame, alert: pd.Series) -> Explanation:
    """Explain one row of the alert table again (scope, days and baseline weeks as stored in the row)."""
    days = list(pd.date_range(alert["first_seen"], alert["last_seen"], freq="D"))
    return explain_anomaly(facts, scope=alert["scope_json"], days=days, weeks=alert["baseline_weeks"])


def largest_key(points: pd.DataFrame, dimension: str, metric: str = "cost") -> str:
    """Return the series of ``dimension`` with the largest total ``metric`` (``total`` for the total)."""
    part = points[(points["dimension"] == dimension) & (points["metric"] == metric)]
    if part.empty:
        return "total"
    return str(part.groupby("key")["actual"].sum().idxmax())
