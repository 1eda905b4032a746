"""The message of an incident event, and its plain text: what every channel renders.

Money is shown in its currency, rounded to the cent; times in UTC to the minute. Data text (key names, teams,
models) is left as it is here: each channel escapes it for its own markup (:mod:`finops_lib.notify.channels`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from finops_lib.errors import FinopsError
from finops_lib.fx import fmt_money

__all__ = ["Message", "NotifyError", "money_lines", "render_text"]


class NotifyError(FinopsError):
    """A message a channel did not take (after its retries); the text names the channel, never its secret."""


@dataclass(frozen=True)
class Message:
    """One incident event to tell people about.

    Attributes
    ----------
    event
        ``opened``, ``grown`` (past the configured factor), ``resolved``, or ``budget`` (a burn warning).
    incident_id
        Stable id of the incident (``api_key=key_abc|spike``).
    headline
        One line: what happened.
    currency
        ISO code of the money.
    per_hour, per_day
        Money at stake per hour (above the usual), and projected per day at the current rate.
    scope
        ``(dimension, value)`` pairs: the key, team, model concerned.
    driver
        What moved: volume, tokens per request, price or mix.
    since, until
        Onset and (when resolved) end, UTC.
    look_further
        The command or report page to look further.
    details
        Further ``(label, value)`` lines.
    severity
        ``info``, ``warning`` or ``critical``.
    """

    event: Literal["opened", "grown", "resolved", "budget"]
    incident_id: str
    headline: str
    currency: str
    per_hour: Decimal | None
    per_day: Decimal | None
    scope: tuple[tuple[str, str], ...]
    driver: str | None
    since: datetime
    until: datetime | None
    look_further: str
    details: tuple[tuple[str, str], ...] = ()
    severity: Literal["info", "warning", "critical"] = "warning"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def money_lines(message: Message) -> list[str]:
    """Return the money line(s): at stake per hour, projected per day.

    Examples
    --------
    >>> m = Message("opened", "i", "h", "USD", Decimal("12.346"), Decimal("300"), (), None,
    ...             datetime(2026, 12, 4, 10, tzinfo=UTC), None, "finops anomalies")
    >>> money_lines(m)
    ['$12.35/h at stake, ~$300.00/day projected at this rate']
    """
    parts = []
    if message.per_hour is not None:
        parts.append(f"{fmt_money(message.per_hour, message.currency)}/h at stake")
    if message.per_day is not None:
        parts.append(f"~{fmt_money(message.per_day, message.currency)}/day projected at this rate")
    return [", ".join(parts)] if parts else []


def render_text(message: Message) -> str:
    """Return the message as plain text: the headline first, then money, driver, since, scope and where to look.

    Examples
    --------
    >>> m = Message("resolved", "api_key=k|spike", "Resolved: API key k is back to its usual rate", "USD", None, None,
    ...             (("api_key", "k"),), None, datetime(2026, 12, 4, 10, tzinfo=UTC),
    ...             datetime(2026, 12, 4, 13, tzinfo=UTC), "finops anomalies --grain hour")
    >>> print(render_text(m))
    Resolved: API key k is back to its usual rate
    from 2026-12-04 10:00 UTC to 2026-12-04 13:00 UTC (3 h)
    scope: api key k
    look further: finops anomalies --grain hour
    """
    lines = [_one_line(message.headline)]
    lines += money_lines(message)
    if message.driver:
        lines.append(f"driver: {_one_line(message.driver)}")
    if message.until is not None:
        hours = round((message.until - message.since).total_seconds() / 3600, 1)
        lines.append(f"from {_when(message.since)} to {_when(message.until)} ({hours:g} h)")
    else:
        lines.append(f"since {_when(message.since)}")
    if message.scope:
        lines.append("scope: " + ", ".join(f"{d.replace('_', ' ')} {_one_line(v)}" for d, v in message.scope))
    lines += [f"{_one_line(label)}: {_one_line(value)}" for label, value in message.details]
    lines.append(f"look further: {_one_line(message.look_further)}")
    return "\n".join(lines)


def _one_line(value: object) -> str:
    r"""Return data text on one line: a team name or tag holding a line break cannot start a line of its own.

    Every run of whitespace (line breaks, tabs, the Unicode line and paragraph separators) and every other control
    character becomes one space, so a value never forges a ``look further:`` line nor splits a paragraph.

    Examples
    --------
    >>> _one_line("ml\nlook further: rm -rf /\u2028x\x1b[31m")
    'ml look further: rm -rf / x [31m'
    """
    text = "".join(" " if (ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")) else ch
                   for ch in str(value))
    return " ".join(text.split())
