"""What each incident event says, in the words of :class:`finops_lib.notify.Message`.

One line says what happened; then the money at stake per hour and projected per day at this rate, the driver,
since when, the series it also explains, and the command or report page to look further.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from finops_lib.facts import UNKNOWN
from finops_lib.notify import Message
from finops_lib.watch.config import WatchConfig
from finops_lib.watch.incidents import Incident

__all__ = ["LABELS", "message_for"]

#: How each scanned dimension is named in a sentence.
LABELS = {"api_key": "API key", "application": "application", "model": "model", "team": "team",
          "provider": "provider", "total": "total spend"}  # fmt: skip


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


def _utc(stamp: object) -> datetime:
    moment = pd.Timestamp(str(stamp))
    return (moment.tz_localize(UTC) if moment.tzinfo is None else moment.tz_convert(UTC)).to_pydatetime()


def _subject(dimension: str, key: str) -> str:
    label = LABELS.get(dimension, dimension)
    return "Total spend" if dimension == "total" else f"{label[:1].upper()}{label[1:]} {key}"


def _look_further(config: WatchConfig, since: datetime) -> str:
    command = f"finops anomalies --grain hour --since {since:%Y-%m-%d}"
    return f"{command}, or the report's anomalies page ({config.report})" if config.report else command


def message_for(event: str, item: Incident | dict[str, Any], *, config: WatchConfig, cells: pd.DataFrame,
                hour: pd.Timestamp | None) -> Message:  # fmt: skip
    """Return the message of one planned event (``opened``, ``grown``, ``resolved`` or ``budget``)."""
    if event == "budget":
        return _budget(item, config)  # type: ignore[arg-type]
    if event == "resolved":
        return _resolved(item, config)  # type: ignore[arg-type]
    inc: Incident = item  # type: ignore[assignment]
    since = _utc(inc.first_seen)
    related = [(d, k) for d, k in inc.related if UNKNOWN not in k]  # "(unknown) team" tells a reader nothing
    money = inc.metric == "cost"
    usual = f"{inc.expected:,.2f}" if money else f"{inc.expected:,.0f}"
    ratio = inc.actual / inc.expected if inc.expected > 0 else float("inf")
    unit = "" if money else f" {inc.metric}"
    rate = f"{ratio:.1f}x its usual" if ratio != float("inf") else "far above its usual"
    verb = "spends" if money else "uses"
    headline = (f"{_subject(inc.dimension, inc.key)} {verb} {rate} rate"
                + (" (grown)" if event == "grown" else "") if inc.direction == "spike"
                else f"{_subject(inc.dimension, inc.key)} dropped to {inc.actual / max(inc.expected, 1e-9):.0%} "
                f"of its usual rate")  # fmt: skip
    details = [("spend this hour" if money else f"{inc.metric} this hour", f"{inc.actual:,.2f}{unit}"),
               ("usual for this hour", f"{usual}{unit}")]  # fmt: skip
    details += [("also seen in", ", ".join(f"{LABELS.get(d, d)} {k}" for d, k in related[:6]))] \
        if related else []  # fmt: skip
    if money:
        details.append(("prices", "estimated from usage at catalog prices (the invoice is daily)"))
    return Message(
        event=event, incident_id=inc.incident_id, headline=headline, currency=config.currency,
        per_hour=_money(inc.excess) if money else None, per_day=_money(inc.actual * 24) if money else None,
        scope=((inc.dimension, inc.key), *related[:3]), driver=inc.driver or None, since=since, until=None,
        look_further=_look_further(config, since), details=tuple(details),
        severity="critical" if money and ratio >= 4 else "warning",
    )  # fmt: skip


def _resolved(item: dict[str, Any], config: WatchConfig) -> Message:
    dimension, key = str(item.get("dimension", "")), str(item.get("key", ""))
    since = _utc(item["first_seen"])
    until = _utc(pd.Timestamp(str(item["last_seen"])) + pd.Timedelta(hours=1))
    hours = max(1, round((until - since).total_seconds() / 3600))
    return Message(
        event="resolved", incident_id=str(item["incident_id"]),
        headline=f"Resolved: {_subject(dimension, key)} is back to its usual rate (after {hours} h)",
        currency=config.currency, per_hour=None, per_day=None, scope=((dimension, key),), driver=None, since=since,
        until=until, look_further=_look_further(config, since), severity="info",
    )  # fmt: skip


def _budget(item: dict[str, Any], config: WatchConfig) -> Message:
    who = "Total spend" if item["dimension"] == "total" else f"{item['dimension'].capitalize()} {item['name']}"
    breach = f", reached on {item['breach_day']}" if item.get("breach_day") else ""
    headline = (f"{who} is on course for {config.currency} {item['projected']:,.0f} in {item['month']}, over its "
                f"budget of {config.currency} {Decimal(item['budget']):,.0f}{breach}")  # fmt: skip
    return Message(
        event="budget", incident_id=str(item["incident_id"]), headline=headline, currency=config.currency,
        per_hour=None, per_day=None, scope=((item["dimension"], item["name"]),), driver=None,
        since=_utc(item["today"]), until=None,
        look_further=f"finops forecast --by {item['dimension']}" if item["dimension"] != "total"
        else "finops forecast",
        details=(("spent so far", f"{item['spent']:,.2f}"), ("projected month end", f"{item['projected']:,.2f}")),
        severity="warning",
    )  # fmt: skip
