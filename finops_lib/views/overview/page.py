"""The data overview page (``00_data_overview``): parameter checks and spend totals."""

from __future__ import annotations

import re
from datetime import date

import ibis.expr.types as ir
import pandas as pd

from finops_lib.errors import ParameterError
from finops_lib.facts.rows import DIMENSIONS, providers

_ISO_CURRENCY = re.compile(r"[A-Z]{3}")


def _iso_day(name: str, value: str | date | None) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ParameterError(f"{name} must be an ISO date such as '2026-06-01' or empty, got {value!r}") from None


def check_parameters(
    costs: ir.Table,
    *,
    group_by: str,
    provider: str = "all",
    currency: str = "USD",
    start_date: str | date | None = None,
    end_date: str | date | None = None,
    top_n: int = 8,
    movers_window_days: int = 7,
) -> dict[str, object]:
    """Check a notebook's overview parameters against the data; return them normalized.

    Providers match case-insensitively and come back spelled as in the data. A currency that no
    row is billed in is accepted (other notebooks of a report may need it); charts are then empty.

    Parameters
    ----------
    costs
        The ``costs`` table (unfiltered: providers are looked up in it).
    group_by, provider, currency, start_date, end_date, top_n, movers_window_days
        The notebook parameters of the same names.

    Returns
    -------
    dict
        ``start_date``/``end_date`` (ISO text or None), ``provider``, ``group_by``, ``currency``,
        ``top_n``, ``movers_window_days``: the filters as applied.

    Raises
    ------
    ParameterError
        On an unknown ``group_by`` or ``provider``, a malformed date or currency code, a start
        after the end, or a non-positive ``top_n``/``movers_window_days``.
    """
    if group_by not in DIMENSIONS:
        raise ParameterError(f"group_by must be one of {', '.join(DIMENSIONS)}; got {group_by!r}")
    known = providers(costs)
    wanted = (provider or "all").strip()
    matches = [name for name in known if name.lower() == wanted.lower()]
    if wanted.lower() != "all" and not matches:
        raise ParameterError(f"unknown provider {provider!r}; the data has {', '.join(known) or 'no provider'} "
                             "(or use 'all')")
    if not isinstance(currency, str) or not _ISO_CURRENCY.fullmatch(currency):
        raise ParameterError(f"currency must be an ISO 4217 code such as 'USD', got {currency!r}")
    first, last = _iso_day("start_date", start_date), _iso_day("end_date", end_date)
    if first and last and first > last:
        raise ParameterError(f"start_date {first} is after end_date {last}")
    for name, value in (("top_n", top_n), ("movers_window_days", movers_window_days)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    return {"start_date": first and first.isoformat(), "end_date": last and last.isoformat(),
            "provider": matches[0] if matches else "all", "group_by": group_by, "currency": currency,
            "top_n": top_n, "movers_window_days": movers_window_days}


def spend_totals(daily: pd.DataFrame, *, by: str) -> pd.DataFrame:
    """Total and share of cost per group of a :func:`daily_spend` frame, largest first, ``Other`` last.

    Examples
    --------
    >>> daily = pd.DataFrame({"day": ["d1", "d2", "d1"], "team": ["a", "a", "Other"], "cost": [1.0, 2.0, 5.0]})
    >>> spend_totals(daily, by="team")
        team  cost  share
    0      a   3.0  0.375
    1  Other   5.0  0.625
    """
    totals = daily.groupby(by, as_index=False)["cost"].sum()
    totals["share"] = totals["cost"] / totals["cost"].sum() if len(totals) else 0.0
    totals["_other"] = totals[by] == "Other"
    return (totals.sort_values(["_other", "cost", by], ascending=[True, False, True]).drop(columns="_other")
            .reset_index(drop=True))
