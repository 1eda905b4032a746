"""From detected episodes to the alert list: one row per anomaly, explained.

Every episode (a run of reported points of one series, :func:`finops_lib.anomalies.detectors.episodes`) is traced to the
owner path (provider, team, application) that carries most of its change. Episodes of the same direction and path
whose windows overlap or lie within :data:`MERGE_GAP` of each other (a weekend in between) are one anomaly: the
retry storm seen in the team's cost, the application's requests, the key's tokens and the provider total is one
alert. The anomaly's scope is that path when it carries at least half of the change of the largest episode,
else the largest episode's own series (a change spread over many teams, like an outage).
"""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pandas as pd

from finops_lib.anomalies.explain import (
    baseline_weeks,
    days_back,
    explain_anomaly,
    in_scope,
    scope_of,
)
from finops_lib.anomalies.series import money_floats
from finops_lib.fx import dsum

__all__ = ["ALERT_COLUMNS", "INCIDENT_MIN_ALERTS", "MERGE_GAP", "alert_table", "incident_summary", "incidents",
           "severity"]

MERGE_GAP = pd.Timedelta(days=3)
#: Alerts of different owners with the same days and direction that make one incident (an outage, a shared cause).
INCIDENT_MIN_ALERTS = 3
PATH = ("provider", "team", "application")
ALERT_COLUMNS: list[str] = [
    "anomaly_id",
    "first_seen",
    "last_seen",
    "days",
    "direction",
    "kind",
    "provider",
    "team",
    "application",
    "model",
    "api_key",
    "bucket",
    "scope",
    "actual",
    "baseline",
    "change",
    "change_pct",
    "currency",
    "driver",
    "cause",
    "severity",
    "incident",
    "explanation",
    "detected_in",
    "metrics",
    "peak_score",
    "scope_json",
    "baseline_weeks",
]


def severity(change_per_day: float, change_pct: float, threshold: float) -> str:
    """Severity from the daily money impact (in multiples of the reporting threshold) and the relative change.

    ``high``: at least 100 thresholds a day, or 10 thresholds a day and a doubling (or a halving);
    ``medium``: at least 10 thresholds a day or a +-50 % change; ``low`` otherwise.

    Examples
    --------
    >>> severity(300.0, 5.0, 1.0), severity(1.5, 2.0, 1.0), severity(2.0, 0.2, 1.0)
    ('high', 'medium', 'low')
    """
    size = abs(change_per_day) / max(threshold, 1e-12)
    pct = abs(change_pct) if change_pct == change_pct else 0.0
    if size >= 100 or (size >= 10 and (pct >= 1.0 or change_pct <= -0.5)):
        return "high"
    if size >= 10 or pct >= 0.5:
        return "medium"
    return "low"


def _span(first: pd.Timestamp, last: pd.Timestamp, grain: str) -> list[pd.Timestamp]:
    return list(pd.date_range(first, last, freq="h" if grain == "hour" else "D"))


def _paths(facts: pd.DataFrame, eps: pd.DataFrame, avoid: dict[tuple, set], grain: str) -> pd.DataFrame:
    """Add the owner path carrying most of each episode's change, and its share of the change."""
    first_day = facts["day"].min()
    valued = {}  # the cells with each metric as floats, once: their money is Decimal
    for metric in eps["metric"].unique():
        value = (
            money_floats(facts["cost"])
            if metric == "cost"
            else pd.to_numeric(facts[metric], errors="coerce").astype(float)
        )
        valued[metric] = facts.assign(_v=value)
    rows = []
    for ep in eps.itertuples(index=False):
        days = _span(ep.first_seen, ep.last_seen, grain)
        weeks = baseline_weeks(days, avoid=avoid[(ep.dimension, ep.key)], first_day=first_day)
        scoped = in_scope(valued[ep.metric], scope_of(ep.dimension, ep.key))
        cur = scoped[scoped["day"].isin(days)].groupby(list(PATH))["_v"].sum()
        base = scoped[scoped["day"].isin(days_back(days, weeks))].groupby(list(PATH))["_v"].sum()
        change = cur.sub(base / (len(weeks) or 1), fill_value=0.0)
        if change.empty:
            rows.append(dict.fromkeys(PATH, "(unknown)") | {"path_share": np.nan})
            continue
        best = change.idxmax() if ep.direction == "spike" else change.idxmin()
        total = change.sum()
        rows.append(dict(zip(PATH, best, strict=True)) | {"path_share": float(change[best] / total) if total else 0.0})
    return pd.concat([eps.reset_index(drop=True), pd.DataFrame(rows)], axis=1)


def _groups(eps: pd.DataFrame) -> pd.Series:
    """Give each episode its anomaly number: same path, windows within :data:`MERGE_GAP`.

    Either direction: a switch from one model or key to another is one anomaly.
    """
    order = eps.sort_values([*PATH, "first_seen"])
    group, last, current, key = pd.Series(0, index=eps.index), None, -1, None
    for idx, ep in order.iterrows():
        this = tuple(ep[c] for c in PATH)
        if this != key or last is None or ep.first_seen > last + MERGE_GAP:
            current += 1
            key, last = this, ep.last_seen
        last = max(last, ep.last_seen)
        group[idx] = current
    return group


#: Preferred dimension of the series that scopes an anomaly, when several carry about the same impact.
PRIORITY: tuple[str, ...] = ("application", "team", "provider", "total", "model", "api_key")


def _representative(part: pd.DataFrame) -> pd.Series:
    """Return the episode that scopes the anomaly.

    Cost episodes first, the coarsest among those within 80 % of the largest impact.
    """
    costed = part[part["metric"] == "cost"]
    pool = costed if len(costed) else part
    size = pool["impact"].abs()
    near = pool[size >= 0.8 * size.max()]
    rank = near["dimension"].map({d: i for i, d in enumerate(PRIORITY)})
    return near.loc[rank.idxmin()]


def _top(drill: pd.DataFrame, dim: str, direction: str) -> str:
    part = drill[drill["dimension"] == dim]
    if part.empty:
        return ""
    changes = part["change"].map(float)
    return str(part.loc[changes.idxmax() if direction == "spike" else changes.idxmin(), "value"])


def _text(path: str, ex: object, currency: str, tops: dict[str, str]) -> str:
    comps = ", ".join(
        f"{r.component.replace('_', ' ')} {float(r.amount):+,.2f}" for r in ex.components.itertuples() if r.amount
    )  # type: ignore[attr-defined]
    why = f" ({ex.cause}: {ex.evidence})" if ex.cause else f" ({ex.evidence})"  # type: ignore[attr-defined]
    return (
        f"{path}: cost {float(ex.change):+,.2f} {currency} ({ex.change_pct:+.0%}) against the same weekdays "  # type: ignore[attr-defined]
        f"{len(ex.weeks)} week(s) earlier; driver {ex.driver}{why}; top model {tops['model']}, key "  # type: ignore[attr-defined]
        f"{tops['api_key']}, bucket {tops['bucket']}; decomposition ({ex.volume_unit}): {comps}"
    )  # type: ignore[attr-defined]


def _row(
    facts: pd.DataFrame,
    part: pd.DataFrame,
    avoid_days: set,
    *,
    explain: bool,
    grain: str,
    currency: str,
    threshold: float,
) -> dict:
    rep = _representative(part)
    path = {c: rep[c] for c in PATH}
    own = scope_of(rep["dimension"], rep["key"])
    scope = own | path if rep["path_share"] >= 0.5 else own
    first, last = part["first_seen"].min(), part["last_seen"].max()
    days = _span(first, last, grain)
    weeks = baseline_weeks(days, avoid=avoid_days, first_day=facts["day"].min())
    row = {
        "first_seen": first,
        "last_seen": last,
        "days": len(days),
        **path,
        "scope": ", ".join(f"{k}={v}" for k, v in scope.items()) or "total",
        "currency": currency,
        "detected_in": "; ".join(sorted(f"{r.dimension}={r.key}:{r.metric}" for r in part.itertuples())),
        "metrics": ",".join(sorted(set(part["metric"]))),
        "peak_score": float(part["peak_score"].max()),
        "scope_json": json.dumps(scope, sort_keys=True),
        "baseline_weeks": ",".join(map(str, weeks)),
    }
    if explain:
        ex = explain_anomaly(facts, scope=scope, days=days, weeks=weeks)
        tops = {d: _top(ex.drilldown, d, "drop" if ex.change < 0 else "spike") for d in ("model", "api_key", "bucket")}
        row |= {
            "actual": ex.current,
            "baseline": ex.baseline,
            "change": ex.change,
            "change_pct": ex.change_pct,
            "driver": ex.driver,
            "cause": ex.cause,
            **tops,
            "explanation": _text(row["scope"], ex, currency, tops),
        }
    else:
        rows = in_scope(facts, scope)
        current = dsum(rows.loc[rows["day"].isin(days), "cost"])
        baseline = dsum(rows.loc[rows["day"].isin(days_back(days, weeks)), "cost"]) / Decimal(len(weeks) or 1)
        change = current - baseline
        row |= {
            "actual": current,
            "baseline": baseline,
            "change": change,
            "change_pct": float(change / baseline) if baseline else float("inf"),
            "driver": "",
            "cause": "",
            "model": "",
            "api_key": "",
            "bucket": "",
            "explanation": "",
        }
    row["direction"] = "drop" if row["change"] < 0 else "spike"
    row["kind"] = "level shift" if part["level_shift"].any() else row["direction"]
    row["severity"] = severity(
        float(row["change"]) / len(days) * (24 if grain == "hour" else 1), row["change_pct"], threshold
    )
    return row


def alert_table(
    facts: pd.DataFrame,
    points: pd.DataFrame,
    eps: pd.DataFrame,
    *,
    explain: bool = True,
    grain: str = "day",
    currency: str = "USD",
) -> pd.DataFrame:
    """Return one row per anomaly (columns :data:`ALERT_COLUMNS`), oldest first, ids ``A001``...

    ``change`` is the size in money (Decimal, current minus baseline over the anomaly's days), ``change_pct``
    its fraction of the baseline, ``driver`` the named driver and ``explanation`` one sentence.
    """
    if eps.empty:
        return pd.DataFrame(columns=ALERT_COLUMNS)
    reported = points[points["reported"]]
    avoid = {k: set(g["day"]) for k, g in reported.groupby(["dimension", "key"])}
    eps = _paths(facts, eps, avoid, grain)
    eps["group"] = _groups(eps)
    threshold = float(points["threshold"].iloc[0]) if "threshold" in points.columns else 1.0
    rows = []
    for _, part in eps.groupby("group"):
        avoid_days = set().union(*(avoid[(e.dimension, e.key)] for e in part.itertuples()))
        rows.append(_row(facts, part, avoid_days, explain=explain, grain=grain, currency=currency, threshold=threshold))
    out = pd.DataFrame(rows).sort_values(["first_seen", "provider", "team", "application"]).reset_index(drop=True)
    out["anomaly_id"] = [f"A{i + 1:03d}" for i in range(len(out))]
    return incidents(out)[ALERT_COLUMNS]


def incidents(alerts: pd.DataFrame, *, min_alerts: int = INCIDENT_MIN_ALERTS) -> pd.DataFrame:
    """Mark alerts that are one incident: at least ``min_alerts`` with the same first and last day and direction.

    An upstream outage or a shared platform change shows in every owner's series on the same days; the alerts stay
    (each owner sees its own), and share an ``incident`` id (``I01``...; empty for alerts on their own).

    Examples
    --------
    >>> a = pd.DataFrame({"first_seen": ["2026-06-26"] * 3 + ["2026-07-01"], "last_seen": ["2026-06-26"] * 3
    ...                   + ["2026-07-01"], "direction": ["drop"] * 3 + ["spike"]})
    >>> incidents(a)["incident"].tolist()
    ['I01', 'I01', 'I01', '']
    """
    out = alerts.copy()
    out["incident"] = ""
    if out.empty:
        return out
    keys = ["first_seen", "last_seen", "direction"]
    sizes = out.groupby(keys)[keys[0]].transform("size")
    big = out[sizes >= min_alerts]
    numbers = {key: f"I{i + 1:02d}" for i, key in enumerate(sorted(big.groupby(keys).groups, key=str))}
    out.loc[big.index, "incident"] = [numbers[tuple(r)] for r in big[keys].itertuples(index=False, name=None)]
    return out


def incident_summary(alerts: pd.DataFrame) -> pd.DataFrame:
    """Return one row per incident: days, direction, alerts, providers, teams, applications, total change.

    Parameters
    ----------
    alerts : DataFrame
        :func:`alert_table` (with its ``incident`` column).

    Returns
    -------
    DataFrame
        ``incident``, ``first_seen``, ``last_seen``, ``direction``, ``alerts``, ``providers``, ``teams``,
        ``applications``, ``change`` (Decimal sum), ``currency``.
    """
    part = alerts[alerts["incident"] != ""] if "incident" in alerts.columns else alerts.iloc[:0]
    cols = ["incident", "first_seen", "last_seen", "direction", "alerts", "providers", "teams", "applications",
            "change", "currency"]  # fmt: skip
    if part.empty:
        return pd.DataFrame(columns=cols)
    rows = [{"incident": inc, "first_seen": g["first_seen"].iloc[0], "last_seen": g["last_seen"].iloc[0],
             "direction": g["direction"].iloc[0], "alerts": len(g),
             **{name: ", ".join(sorted(set(g[col].astype(str)))) for name, col in
                (("providers", "provider"), ("teams", "team"), ("applications", "application"))},
             "change": sum(g["change"], start=type(g["change"].iloc[0])(0)), "currency": g["currency"].iloc[0]}
            for inc, g in part.groupby("incident", sort=True)]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)
