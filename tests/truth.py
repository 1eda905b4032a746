"""The sample's answer key read without the workbench: what each team really spent (``truth/``)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from finops_lib import paths

TRUTH = paths.SAMPLE_DIR / "truth"
#: ``application`` of a shared pool's rows in ``daily_cost.csv`` -> its ``shared_resource`` in ``shared_usage.csv``.
POOLS = {"shared-ptu": "aoai-shared-ptu", "llm-gateway": "llm-gateway"}
#: The sample's fixed exchange rate (``truth/fx.csv``): one USD is 0.92 EUR.
USD_TO_EUR = Decimal("0.92")


def daily_cost() -> pd.DataFrame:
    """``truth/daily_cost.csv`` with ``net`` (cost + credit, as the invoices bill it) as Decimal."""
    frame = pd.read_csv(TRUTH / "daily_cost.csv", dtype=str, keep_default_na=False)
    frame["net"] = [Decimal(c) + Decimal(k or "0") for c, k in zip(frame["cost"], frame["credit"], strict=True)]
    return frame


def team_spend(*, currency: str | None = None, usd: bool = True) -> dict[str, Decimal]:
    """Per team: its own cost plus its share of the shared PTU and gateway hosting (``shared_usage.csv``).

    Parameters
    ----------
    currency
        Only rows billed in this currency; None: every row.
    usd
        Express EUR rows in USD at the sample's rate (else keep each row's own currency).
    """
    truth = daily_cost()
    shares = pd.read_csv(TRUTH / "shared_usage.csv", dtype={"share": str})
    out: dict[str, Decimal] = {}
    rows = truth if currency is None else truth[truth["billing_currency"] == currency]
    for row in rows.itertuples(index=False):
        net = row.net / USD_TO_EUR if usd and row.billing_currency == "EUR" else row.net
        part = shares[shares["shared_resource"] == POOLS.get(row.application, "")]
        for team, share in zip(part["team"], part["share"], strict=True) if len(part) else [(row.team, "1")]:
            out[team] = out.get(team, Decimal(0)) + net * Decimal(share)
    return out
