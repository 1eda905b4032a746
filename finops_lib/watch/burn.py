"""Budget burn: this month's spend so far and at its recent daily rate, against the month's budgets.

For each budget of the current month (``config/budgets.csv``: total, team, application or provider), the watch
adds the month's spend so far (the facts' ``cost``, invoiced first) and the recent daily rate (the mean of the
last :data:`RATE_DAYS` complete days) over the days left. When that projection passes the budget it says so once
per budget and month, with the day the budget is reached (:func:`finops_lib.forecast.budgets.breach_date`).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from ibis.backends import BaseBackend

from finops_lib.facts import open_facts
from finops_lib.forecast.budgets import breach_date
from finops_lib.warehouse.status import ingested_count
from finops_lib.watch.config import WatchConfig
from finops_lib.watch.incidents import WatchState

__all__ = ["RATE_DAYS", "budget_messages", "month_burn"]

#: Complete days whose mean is the daily rate the month is projected at.
RATE_DAYS = 7


def month_burn(daily: pd.Series, *, today: pd.Timestamp) -> tuple[float, float, pd.Series]:
    """Return (spent so far, projected month end, projected daily spend of the days left) of one series.

    ``daily`` is spend per day (index: days of the month up to ``today``, which may be partial). The rate is the
    mean of the last :data:`RATE_DAYS` complete days (today's partial day left out; all complete days when fewer).

    Examples
    --------
    >>> days = pd.date_range("2026-11-01", "2026-11-10")
    >>> spent, projected, future = month_burn(pd.Series([100.0] * 9 + [40.0], index=days),
    ...                                       today=pd.Timestamp("2026-11-10"))
    >>> spent, projected, len(future)
    (940.0, 3000.0, 20)
    """
    month = today.to_period("M")
    spent = float(daily.sum())
    complete = daily[daily.index < today].tail(RATE_DAYS)
    rate = float(complete.mean()) if len(complete) else float(daily.sum())
    left = pd.date_range(today + timedelta(days=1), month.end_time.normalize(), freq="D")
    # today's remaining hours at the rate, plus the days left
    rest_today = max(rate - float(daily.get(today, 0.0)), 0.0)
    future = pd.Series(rate, index=left, dtype=float)
    return spent, spent + rest_today + float(future.sum()), future


def budget_messages(con: BaseBackend, config: WatchConfig, state: WatchState, *,
                    budgets: pd.DataFrame) -> list[tuple[str, dict[str, Any]]]:  # fmt: skip
    """Plan one ``budget`` message per budget of the month whose projection passes it (once per month)."""
    if budgets.empty or not ingested_count(con):
        return []
    facts = open_facts(con, currency=config.currency)
    last = facts.date_range("money")[1]
    if last is None:
        return []
    today = pd.Timestamp(last)
    month = today.to_period("M")
    rows = budgets[(budgets["month"] == str(month)) & (budgets["currency"] == config.currency)]
    if rows.empty:
        return []
    month_facts = facts.with_options(start_date=month.start_time.date(), end_date=last)
    plan: list[tuple[str, dict[str, Any]]] = []
    for row in rows.itertuples():
        key = f"budget={row.dimension}:{row.name}|{month}"
        if key in state.budgets:
            continue
        by = None if row.dimension == "total" else row.dimension
        frame = month_facts.series("cost", by=by, grain="day")
        if by:
            frame = frame[frame[by] == row.name]
        daily = frame.set_index(pd.to_datetime(frame["day"]))["cost"].astype(float) if len(frame) else \
            pd.Series(dtype=float)  # fmt: skip
        if daily.empty:
            continue
        spent, projected, future = month_burn(daily, today=today)
        amount = float(Decimal(row.amount))
        if projected <= amount:
            continue
        breach = breach_date(daily, future, budget=amount, month=month)
        item = {"incident_id": key, "dimension": row.dimension, "name": row.name, "month": str(month),
                "budget": str(row.amount), "spent": spent, "projected": projected,
                "breach_day": str(breach.date()) if breach is not None else "", "today": str(today.date())}
        state.budgets[key] = {k: v for k, v in item.items() if k != "incident_id"}
        plan.append(("budget", item))
    return plan
