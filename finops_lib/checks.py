"""One way to check a parameter: pages, commands and the facts layer read their options through these.

Each function returns the value normalized, or raises :class:`~finops_lib.errors.ParameterError` whose message
names the parameter, says what was expected and repeats what was given.

Examples
--------
>>> iso_day("start_date", "2026-06-01")
datetime.date(2026, 6, 1)
>>> window("2026-06-01", "2026-05-01")
Traceback (most recent call last):
...
finops_lib.errors.ParameterError: start_date 2026-06-01 is after end_date 2026-05-01
>>> one_of("metric", "cost", ("cost", "tokens"))
'cost'
>>> match_name("provider", "openai", ["Anthropic", "OpenAI"])
'OpenAI'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta

from finops_lib.errors import ParameterError

__all__ = ["currency_code", "duration", "iso_day", "match_name", "number", "one_of", "positive_int", "window"]

_ISO_CURRENCY = re.compile(r"[A-Z]{3}")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
#: Values of a name filter that mean "no filter".
ANY = "all"


def iso_day(name: str, value: str | date | None) -> date | None:
    """Return an ISO day (``YYYY-MM-DD``) as a date; empty or None means no day."""
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ParameterError(f"{name} must be an ISO date such as '2026-06-01' or empty, got {value!r}") from None


def window(start_date: str | date | None, end_date: str | date | None) -> tuple[date | None, date | None]:
    """Return ``(start_date, end_date)`` as dates (inclusive days; None is open), the start not after the end."""
    first, last = iso_day("start_date", start_date), iso_day("end_date", end_date)
    if first and last and first > last:
        raise ParameterError(f"start_date {first} is after end_date {last}")
    return first, last


def duration(name: str, value: str | timedelta) -> timedelta:
    """Return a duration written as a number and a unit: ``90s``, ``15m``, ``3h``, ``2d``, ``1w`` (``0`` is none).

    Examples
    --------
    >>> duration("every", "15m"), duration("lookback", "2d")
    (datetime.timedelta(seconds=900), datetime.timedelta(days=2))
    """
    if isinstance(value, timedelta):
        return value
    text = str(value).strip().lower()
    if text == "0":
        return timedelta(0)
    found = _DURATION.fullmatch(text)
    if not found:
        raise ParameterError(f"{name} must be a number and a unit (s, m, h, d or w) such as '15m' or '2d', "
                             f"got {value!r}")  # fmt: skip
    return timedelta(**{_UNITS[found.group(2)]: float(found.group(1))})


def currency_code(value: object, *, name: str = "currency") -> str:
    """Return an ISO 4217 code (three upper-case letters)."""
    if not isinstance(value, str) or not _ISO_CURRENCY.fullmatch(value):
        raise ParameterError(f"{name} must be an ISO 4217 code such as 'USD', got {value!r}")
    return value


def positive_int(name: str, value: object) -> int:
    """Return a positive integer (booleans are not numbers here)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    return value


def number(name: str, value: object, *, low: float | None = None, high: float | None = None,
           low_open: bool = False) -> float:  # fmt: skip
    """Return a number within ``[low, high]`` (``(low, high]`` with ``low_open``); None bounds are open."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value == value
    if ok and low is not None:
        ok = value > low if low_open else value >= low  # type: ignore[operator]
    if ok and high is not None:
        ok = value <= high  # type: ignore[operator]
    if not ok:
        span = f"{'(' if low_open else '['}{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        raise ParameterError(f"{name} must be a number in {span}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def one_of(name: str, value: object, choices: Iterable[str]) -> str:
    """Return ``value`` when it is one of ``choices`` (exact spelling)."""
    options = list(choices)
    if value not in options:
        raise ParameterError(f"{name} must be one of {', '.join(options)}; got {value!r}")
    return str(value)


def match_name(name: str, value: str | None, known: Iterable[str], *, any_word: str = ANY) -> str:
    """Return the name of ``known`` that ``value`` spells (case-insensitively), or ``any_word`` for no filter.

    Raises
    ------
    ParameterError
        When ``value`` names nothing in ``known``; the message lists what the data has.
    """
    wanted = (value or any_word).strip()
    if wanted.lower() == any_word:
        return any_word
    names = sorted(str(k) for k in known)
    for candidate in names:
        if candidate.lower() == wanted.lower():
            return candidate
    raise ParameterError(f"unknown {name} {value!r}; the data has {', '.join(names) or f'no {name}'} "
                         f"(or use '{any_word}')")  # fmt: skip

