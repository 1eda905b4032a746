"""The organisation the fake vendor server plays: who uses which model through which key, hour by hour.

Deterministic: the usage of an hour depends on the seed and the hour only (a re-pull gets the same numbers unless a
scenario restates them). Each *combo* (a project or workspace, one of its keys, a model) has a base request rate,
a daily shape (busy working hours, quiet nights), a weekly shape (quiet weekends), a little noise, and fixed tokens
per request. Money is the tokens at the shipped catalog's list prices, exact (Decimal), so what the vendor bills
and what the workbench estimates from usage agree.

Scenarios change the usage: ``runaway`` (one key's requests times a factor from a moment on, the hour it starts
prorated) and ``restate`` (a day's usage and costs changed afterwards, as a vendor restating yesterday).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

import numpy as np

from finops_lib.pricing import load_catalog

__all__ = ["BUCKETS", "Org", "expected_spend", "hours"]

UTC = dt.UTC
MILLION = Decimal(1_000_000)
#: Token buckets the organisation uses, as the catalog names them.
BUCKETS = ("input_uncached", "input_cache_read", "output")
OPENAI_MODELS = ("gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06", "gpt-4.1-mini-2025-04-14", "gpt-4.1-2025-04-14",
                 "gpt-4.1-nano-2025-04-14", "gpt-5-2025-08-07", "gpt-5-mini-2025-08-07", "gpt-5-nano-2025-08-07",
                 "o3-2025-04-16", "o4-mini-2025-04-16")  # fmt: skip
ANTHROPIC_MODELS = ("claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "claude-opus-4-1-20250805",
                    "claude-sonnet-4-20250514", "claude-3-5-haiku-20241022")  # fmt: skip
#: Share of the hour's usage by UTC hour of day (busy 8:00-18:00).
DAY_SHAPE = np.array([0.35, 0.3, 0.3, 0.3, 0.35, 0.45, 0.6, 0.8, 1.1, 1.3, 1.4, 1.45, 1.4, 1.45, 1.5, 1.45, 1.35,
                      1.2, 1.0, 0.85, 0.7, 0.6, 0.5, 0.4])  # fmt: skip
WEEK_SHAPE = np.array([1.0, 1.05, 1.05, 1.0, 0.95, 0.55, 0.5])  # Monday first


@dataclass(frozen=True)
class Combo:
    """One stream of usage: an account (project or workspace), its key, a model."""

    vendor: str
    account: str
    key: str
    model: str
    rate: float  # requests per hour at shape 1
    tokens_in: int  # input tokens per request (cache reads included)
    cached_share: float
    tokens_out: int


@dataclass(frozen=True)
class Org:
    """A generated organisation (sizes, seed, scenarios)."""

    seed: int = 7
    openai_projects: int = 4
    openai_models: int = 3
    anthropic_workspaces: int = 3
    anthropic_models: int = 2
    keys_per_account: int = 2
    scenarios: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @cached_property
    def combos(self) -> dict[str, list[Combo]]:
        """Every combo, per vendor, in a fixed order."""
        rng = np.random.default_rng(self.seed)
        out: dict[str, list[Combo]] = {"openai": [], "anthropic": []}
        for vendor, accounts, models, prefix, names in (
                ("openai", self.openai_projects, self.openai_models, "proj_", OPENAI_MODELS),
                ("anthropic", self.anthropic_workspaces, self.anthropic_models, "wrkspc_", ANTHROPIC_MODELS)):
            for a in range(accounts):
                for m in range(models):
                    key = f"key_{vendor[:2]}{a:02d}{m % self.keys_per_account}" if vendor == "openai" \
                        else f"apikey_{a:02d}{m % self.keys_per_account}"  # fmt: skip
                    out[vendor].append(Combo(vendor, f"{prefix}{a:03d}", key, names[m % len(names)],
                                             float(rng.uniform(20, 120)), int(rng.integers(600, 2400)),
                                             float(rng.uniform(0.1, 0.5)), int(rng.integers(120, 600))))
        return out

    @cached_property
    def prices(self) -> dict[tuple[str, str], Decimal]:
        """List price per 1M tokens of each (model, bucket) the organisation uses (the shipped catalog)."""
        catalog = load_catalog()
        out = {}
        for vendor, combos in self.combos.items():
            provider = "OpenAI" if vendor == "openai" else "Anthropic"
            for combo in combos:
                for bucket in BUCKETS:
                    price = catalog.price(provider, combo.model, bucket, dt.date(2026, 6, 1))
                    if price is None:
                        raise ValueError(f"the catalog has no {bucket} price for {combo.model}")
                    out[(combo.model, bucket)] = Decimal(str(price))
        return out

    def with_scenarios(self, scenarios: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> Org:
        """Return the same organisation with these scenarios."""
        return Org(self.seed, self.openai_projects, self.openai_models, self.anthropic_workspaces,
                   self.anthropic_models, self.keys_per_account, tuple(scenarios))  # fmt: skip

    def requests(self, vendor: str, hour: dt.datetime, fraction: float = 1.0) -> np.ndarray:
        """Return the requests of every combo in the hour starting at ``hour`` (the first ``fraction`` of it)."""
        combos = self.combos[vendor]
        stamp = int(hour.timestamp())
        noise = np.random.default_rng([self.seed, stamp // 3600, 1 if vendor == "openai" else 2]).uniform(0.93, 1.07,
                                                                                                          len(combos))
        shape = DAY_SHAPE[hour.hour] * WEEK_SHAPE[hour.weekday()]
        rate = np.array([c.rate for c in combos]) * shape * noise * self._factors(vendor, hour, fraction)
        return np.floor(rate * fraction + 0.5).astype(np.int64)

    def _factors(self, vendor: str, hour: dt.datetime, fraction: float) -> np.ndarray:
        combos = self.combos[vendor]
        out = np.ones(len(combos))
        end = hour + dt.timedelta(seconds=3600 * fraction)
        for scenario in self.scenarios:
            if "restate" in scenario:
                day = scenario["restate"]["day"]
                if hour.strftime("%Y-%m-%d") == day:
                    out *= float(scenario["restate"]["factor"])
            if "runaway" in scenario:
                run = scenario["runaway"]
                start = _time(run["start"])
                stop = _time(run["end"]) if run.get("end") else end
                overlap = (min(end, stop) - max(hour, start)).total_seconds()
                if overlap > 0 and end > hour:
                    share = overlap / (end - hour).total_seconds()
                    mask = np.array([c.key == run["api_key_id"] for c in combos])
                    out[mask] *= 1 + (float(run["factor"]) - 1) * share
        return out

    def tokens(self, vendor: str, requests: np.ndarray) -> dict[str, np.ndarray]:
        """Return the disjoint token buckets of these requests, per combo."""
        combos = self.combos[vendor]
        inp = requests * np.array([c.tokens_in for c in combos])
        cached = np.floor(inp * np.array([c.cached_share for c in combos])).astype(np.int64)
        return {"input_uncached": inp - cached, "input_cache_read": cached,
                "output": requests * np.array([c.tokens_out for c in combos])}  # fmt: skip

    def cost(self, vendor: str, tokens: dict[str, np.ndarray], index: int) -> Decimal:
        """Return the exact cost of one combo's tokens."""
        model = self.combos[vendor][index].model
        return sum((Decimal(int(tokens[b][index])) * self.prices[(model, b)] / MILLION for b in BUCKETS), Decimal(0))


def _time(value: str | dt.datetime) -> dt.datetime:
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def hours(start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, float]]:
    """Return ``(hour, fraction)`` covering ``[start, end)``: whole hours, and the part of the last one.

    Examples
    --------
    >>> [(h.hour, f) for h, f in hours(dt.datetime(2026, 1, 1, 10, tzinfo=UTC), dt.datetime(2026, 1, 1, 12, 30,
    ...                                                                                    tzinfo=UTC))]
    [(10, 1.0), (11, 1.0), (12, 0.5)]
    """
    out, hour = [], start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        out.append((hour, min(1.0, (end - hour).total_seconds() / 3600)))
        hour += dt.timedelta(hours=1)
    return out


def expected_spend(org: Org, start: dt.datetime, end: dt.datetime, *, vendor: str = "openai",
                   api_key_id: str | None = None) -> Decimal:  # fmt: skip
    """Return what the organisation's usage in ``[start, end)`` costs, exactly (the hour still running prorated).

    Computed from the organisation itself (not from a served page), for tests to compare the workbench's figures
    with.
    """
    total = Decimal(0)
    combos = org.combos[vendor]
    for hour, fraction in hours(start, end):
        tokens = org.tokens(vendor, org.requests(vendor, hour, fraction))
        for i, combo in enumerate(combos):
            if api_key_id is None or combo.key == api_key_id:
                total += org.cost(vendor, tokens, i)
    return total
