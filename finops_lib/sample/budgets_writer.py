"""The sample's team budgets (``config/budgets.csv``): a monthly plan per team, in USD, read by the forecasts.

Amounts are the organisation's approved plan, set about 10 % above each team's chargeback spend (direct cost by
the allocation rules plus its share of the PTU and gateway pools), rounded to 50 USD. A few are deliberately
tight, so the forecast notebook has something to find: sales in the month of its leaked key (the budget was set
before the incident), marketing in the last month (its production launch outgrew the plan), and search and sales
in the month after the data (a breach is projected before month end). Months are counted back from the
timeline's last month, so other ``--end-date`` values get the same plan shape; amounts follow ``--scale``.
``config/`` folders are not ingested.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

from finops_lib.sample._io import Manifest, csv_text
from finops_lib.sample.ledger import World, register_writer

BUDGETS_PATH = "config/budgets.csv"
#: Monthly plan per team (USD at scale 1) from five months before the last month (index 0) to the month after it
#: (index 6); earlier months use the first amount.
TEAM_PLAN: dict[str, tuple[int, ...]] = {
    "search": (2650, 3050, 3200, 3300, 3350, 3550, 3000),
    "sales": (1500, 1750, 2000, 2000, 2250, 2400, 2100),
    "legal": (1600, 1850, 2000, 2250, 2100, 2200, 2300),
    "data-science": (1100, 1300, 1600, 1800, 1800, 1900, 2000),
    "support": (1200, 1350, 1400, 1450, 1450, 1500, 1550),
    "marketing": (850, 1000, 1500, 1450, 1650, 1450, 1800),
    "engineering": (200, 220, 240, 250, 250, 270, 280),
    "platform": (200, 220, 240, 250, 260, 280, 290),
}


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    """First days of the months from ``first``'s to the month after ``last``'s."""
    out, day = [], first.replace(day=1)
    stop = (last.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    while day <= stop:
        out.append(day)
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return out


def budget_rows(world: World) -> list[list[str]]:
    """Return the budget file's rows: month, dimension, name, amount, currency."""
    months = _months(world.timeline.start, world.timeline.end)
    rows = []
    for index, month in enumerate(months):
        plan_index = max(0, len(TEAM_PLAN["search"]) - len(months) + index)
        for team, plan in sorted(TEAM_PLAN.items()):
            amount = (Decimal(plan[plan_index]) * Decimal(str(world.scale))).quantize(Decimal("0.01"),
                                                                                      rounding=ROUND_HALF_EVEN)
            rows.append([month.strftime("%Y-%m"), "team", team, f"{amount:.2f}", "USD"])
    return rows


@register_writer("budgets")
def write_budgets(world: World, manifest: Manifest) -> None:
    """Write ``config/budgets.csv``."""
    rows = budget_rows(world)
    manifest.write_text(BUDGETS_PATH, csv_text(["month", "dimension", "name", "amount", "currency"], rows),
                        fmt="budgets", rows=len(rows))
