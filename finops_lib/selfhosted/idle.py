"""Hours a self-hosted deployment's GPUs were paid for and served nothing, and what those hours cost.

Per deployment and UTC day, from its GPU cost rows (each row's amount spread evenly over the time its charge period
covers, so an hourly CUR line is one hour and a daily line 24) and its token counters (increases spread over hours,
:func:`finops_lib.facts.serving.spread_increases`):

* ``paid_hours``: the hours its GPU cost covers (a row's overlap with each hour, so two GPUs billed for the same
  hour are still one hour paid);
* ``idle_hours``: the paid hours in which the counters were sampled on both sides and no token was served;
* ``unmeasured_hours``: the paid hours no counter interval covers (before the first sample, after the last, or a
  gap in the scrapes): neither idle nor busy, said apart, never counted as idle;
* ``idle_cost``: the GPU cost of the idle hours (each row's amount times the share of its time that was idle;
  Decimal, 12 places).

An hour is known only as finely as the counters were sampled: an increase between two samples is spread evenly
over the time between them, so a snapshot once a day finds idle days, not idle hours.

Examples
--------
>>> import pandas as pd
>>> from decimal import Decimal
>>> t = lambda s: pd.Timestamp(s, tz="UTC")
>>> cost = pd.DataFrame({"deployment": ["llama"] * 4, "start": [t("2026-05-01 0:00"), t("2026-05-01 1:00"),
...                      t("2026-05-01 2:00"), t("2026-05-01 3:00")], "end": [t("2026-05-01 1:00"),
...                      t("2026-05-01 2:00"), t("2026-05-01 3:00"), t("2026-05-01 4:00")], "cost": [Decimal(4)] * 4})
>>> traffic = pd.DataFrame({"deployment": ["llama"] * 3, "hour": [t("2026-05-01 0:00"), t("2026-05-01 1:00"),
...                         t("2026-05-01 2:00")], "tokens": [10.0, 0.0, 5.0]})
>>> measured = pd.DataFrame({"deployment": ["llama"], "start": [t("2026-05-01 0:00")], "end": [t("2026-05-01 3:00")]})
>>> row = idle_hours(cost, traffic, measured).iloc[0]
>>> float(row.paid_hours), float(row.idle_hours), float(row.unmeasured_hours), row.idle_cost
(4.0, 1.0, 1.0, Decimal('4.000000000000'))
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pandas as pd

__all__ = ["IDLE_COLUMNS", "idle_hours", "merged_spans", "utilization"]

IDLE_COLUMNS = ["deployment", "day", "paid_hours", "idle_hours", "unmeasured_hours", "idle_cost"]
_HOUR = pd.Timedelta(hours=1)
_PLACES = Decimal("0.000000000001")


def merged_spans(spans: pd.DataFrame) -> dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    """Return per deployment the union of its ``start``-``end`` intervals, as sorted disjoint spans.

    Examples
    --------
    >>> t = lambda s: pd.Timestamp(s, tz="UTC")
    >>> merged_spans(pd.DataFrame({"deployment": ["a"] * 3, "start": [t("2026-05-01 02:00"), t("2026-05-01 00:00"),
    ...              t("2026-05-01 05:00")], "end": [t("2026-05-01 03:00"), t("2026-05-01 02:00"),
    ...              t("2026-05-01 06:00")]}))["a"] == [(t("2026-05-01 00:00"), t("2026-05-01 03:00")),
    ...                                                 (t("2026-05-01 05:00"), t("2026-05-01 06:00"))]
    True
    """
    out: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]] = {}
    for deployment, group in spans.groupby("deployment", sort=True):
        merged: list[tuple[pd.Timestamp, pd.Timestamp]] = []
        for start, end in sorted(zip(group["start"], group["end"], strict=True)):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        out[str(deployment)] = merged
    return out


def _covered(spans: list[tuple[pd.Timestamp, pd.Timestamp]], hour: pd.Timestamp) -> bool:
    return any(start <= hour and hour + _HOUR <= end for start, end in spans)


def idle_hours(cost: pd.DataFrame, traffic: pd.DataFrame, measured: pd.DataFrame) -> pd.DataFrame:
    """Return per deployment and day its paid, idle and unmeasured GPU hours and the idle hours' cost.

    Parameters
    ----------
    cost
        One row per GPU cost row: ``deployment``, ``start``, ``end`` (UTC Timestamps; a null or non-positive span is
        one hour from ``start``), ``cost`` (Decimal).
    traffic
        ``deployment``, ``hour`` (UTC, on the hour), ``tokens``: the tokens served in that hour.
    measured
        ``deployment``, ``start``, ``end``: the intervals between consecutive counter samples.

    Returns
    -------
    pandas.DataFrame
        :data:`IDLE_COLUMNS`, ``day`` a naive midnight Timestamp, sorted by deployment and day.
    """
    busy = {(str(d), h) for d, h, n in zip(traffic["deployment"], traffic["hour"], traffic["tokens"], strict=True)
            if n and n > 0}  # fmt: skip
    spans = merged_spans(measured) if len(measured) else {}
    totals: dict[tuple[str, pd.Timestamp], list] = defaultdict(lambda: [0.0, 0.0, 0.0, Decimal(0)])
    for deployment, start, end, amount in zip(cost["deployment"], cost["start"], cost["end"], cost["cost"],
                                              strict=True):  # fmt: skip
        deployment = str(deployment)
        if pd.isna(end) or end <= start:
            end = start + _HOUR
        seconds = Decimal((end - start).total_seconds())
        hour = start.floor("h")
        while hour < end:
            overlap = (min(hour + _HOUR, end) - max(hour, start)).total_seconds()
            part = totals[(deployment, hour.tz_convert(None).normalize() if hour.tz else hour.normalize())]
            part[0] += overlap / 3600
            if not _covered(spans.get(deployment, []), hour):
                part[2] += overlap / 3600
            elif (deployment, hour) not in busy:
                part[1] += overlap / 3600
                part[3] += amount * Decimal(overlap) / seconds
            hour += _HOUR
    rows = [{"deployment": d, "day": day, "paid_hours": round(v[0], 9), "idle_hours": round(v[1], 9),
             "unmeasured_hours": round(v[2], 9), "idle_cost": v[3].quantize(_PLACES)}
            for (d, day), v in sorted(totals.items())]  # fmt: skip
    return pd.DataFrame(rows, columns=IDLE_COLUMNS)


def utilization(gauges: pd.DataFrame) -> pd.DataFrame:
    """Return the mean GPU utilisation (0 to 1) per deployment and day from ``gpu_utilization`` gauge samples.

    ``gauges``: ``deployment``, ``day`` (naive midnight), ``value`` (0 to 1). Every sample weighs the same (the
    scrape interval is regular); several GPUs of one deployment are averaged together.

    Examples
    --------
    >>> g = pd.DataFrame({"deployment": ["a", "a", "a"], "day": pd.to_datetime(["2026-05-01"] * 2 + ["2026-05-02"]),
    ...                   "value": [0.5, 0.7, 0.2]})
    >>> utilization(g)["gpu_utilization"].round(6).tolist()
    [0.6, 0.2]
    """
    if gauges.empty:
        return pd.DataFrame(columns=["deployment", "day", "gpu_utilization"])
    out = gauges.groupby(["deployment", "day"], as_index=False)["value"].mean()
    return out.rename(columns={"value": "gpu_utilization"})
