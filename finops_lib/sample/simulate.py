"""Turn the story into numbers: the timeline, per-series daily profiles and direct-traffic aggregates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from finops_lib.sample.story import EVENTS, LONG_PROMPT_MEAN, SERIES, Event, Series

#: Share of a weekday's traffic per UTC hour (business hours in Europe and the US).
DIURNAL: np.ndarray = np.array([1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 7, 8, 9, 9, 8, 7, 5, 4, 3, 2, 2, 1], dtype=float)
DIURNAL = DIURNAL / DIURNAL.sum()
#: Weekday multipliers Monday..Friday (weekends use each series' own factor).
WEEKDAY: tuple[float, ...] = (1.0, 1.04, 1.05, 1.02, 0.92)
#: Standard deviation of the multiplicative daily noise of request counts (log scale).
DAILY_NOISE: float = 0.06
#: Seconds after midnight UTC at which the OpenAI usage query starts (first day) and "now" (last day).
USAGE_WINDOW: tuple[int, int] = (6 * 3600 + 47 * 60 + 12, 15 * 3600 + 22 * 60 + 41)
COUNT_COLUMNS: tuple[str, ...] = (
    "requests",
    "input_uncached",
    "input_cache_read",
    "input_cache_write_5m",
    "input_cache_write_1h",
    "output",
    "reasoning",
)


@dataclass(frozen=True)
class Timeline:
    """The simulated period: ``days`` days ending on ``end`` (inclusive), UTC."""

    end: dt.date
    days: int

    @property
    def start(self) -> dt.date:
        """First day of the period."""
        return self.end - dt.timedelta(days=self.days - 1)

    @property
    def dates(self) -> list[dt.date]:
        """Every day of the period."""
        return [self.start + dt.timedelta(days=i) for i in range(self.days)]

    @property
    def t(self) -> np.ndarray:
        """Position of each day in the period, 0 to 1."""
        return np.linspace(0.0, 1.0, self.days)

    @property
    def dow(self) -> np.ndarray:
        """Day of week of each day (Monday = 0)."""
        return (np.arange(self.days) + self.start.weekday()) % 7

    def span(self, event: Event) -> tuple[int, int]:
        """Return the event's [first, last+1) day indices, rescaled from a 180-day period."""
        first = min(self.days - 1, round(event.day * self.days / 180))
        if event.days is None:
            return first, self.days
        length = event.days if event.days <= 7 else max(2, round(event.days * min(1.0, self.days / 180)))
        return first, min(self.days, first + length)

    def epoch(self, day: int) -> int:
        """Unix seconds of midnight UTC of day index ``day``."""
        moment = dt.datetime.combine(self.start, dt.time(), tzinfo=dt.UTC) + dt.timedelta(days=day)
        return int(moment.timestamp())


@dataclass
class Profile:
    """Daily parameters of one series (arrays over the days of the timeline)."""

    expected: np.ndarray
    in_mult: np.ndarray
    read: np.ndarray
    write_5m: np.ndarray
    write_1h: np.ndarray
    long_share: np.ndarray
    fail_rate: np.ndarray
    active: np.ndarray


EffectFn = Callable[[Profile, slice, object, Series], None]
EFFECTS: dict[str, EffectFn] = {}


def register_effect(name: str) -> Callable[[EffectFn], EffectFn]:
    """Register how an event effect changes a series profile."""

    def wrap(fn: EffectFn) -> EffectFn:
        EFFECTS[name] = fn
        return fn

    return wrap


@register_effect("requests")
def _requests(p: Profile, sl: slice, value: object, s: Series) -> None:
    p.expected[sl] *= float(value)  # type: ignore[arg-type]


@register_effect("input")
def _input(p: Profile, sl: slice, value: object, s: Series) -> None:
    p.in_mult[sl] *= float(value)  # type: ignore[arg-type]


@register_effect("fail_rate")
def _fail(p: Profile, sl: slice, value: object, s: Series) -> None:
    p.fail_rate[sl] = float(value)  # type: ignore[arg-type]


@register_effect("long_share")
def _long(p: Profile, sl: slice, value: object, s: Series) -> None:
    p.long_share[sl] = float(value)  # type: ignore[arg-type]


@register_effect("cache")
def _cache(p: Profile, sl: slice, value: object, s: Series) -> None:
    p.read[sl], p.write_5m[sl], p.write_1h[sl] = value.read, value.write_5m, value.write_1h  # type: ignore[attr-defined]


@register_effect("activate")
def _activate(p: Profile, sl: slice, value: object, s: Series) -> None:
    if value in ("*", s.sid):
        p.active[sl] = True


@register_effect("stop")
def _stop(p: Profile, sl: slice, value: object, s: Series) -> None:
    if value == s.sid:
        p.active[sl] = False


def event_targets(event: Event) -> list[Series]:
    """Return the series an event applies to (``@provider`` selects every series of a provider)."""
    out: list[Series] = []
    for target in event.targets:
        if target.startswith("@"):
            out.extend(s for s in SERIES if s.provider == target[1:])
        else:
            out.extend(s for s in SERIES if s.sid == target)
    return out


def build_profiles(timeline: Timeline, *, scale: float) -> dict[str, Profile]:
    """Return each series' daily parameters, events applied (expected requests include ``scale``)."""
    t, dow = timeline.t, timeline.dow
    weekly_base = np.array([*WEEKDAY, 1.0, 1.0])[dow]
    profiles: dict[str, Profile] = {}
    for s in SERIES:
        weekly = np.where(dow >= 5, s.weekend * np.where(dow == 6, 0.9, 1.0), weekly_base)
        ones = np.ones(timeline.days)
        profiles[s.sid] = Profile(
            expected=s.base * scale * (1.0 + s.growth) ** t * weekly,
            in_mult=ones.copy(),
            read=ones * s.cache.read,
            write_5m=ones * s.cache.write_5m,
            write_1h=ones * s.cache.write_1h,
            long_share=ones * 0.0,
            fail_rate=ones * s.fail_rate,
            active=np.full(timeline.days, s.active),
        )
    for event in EVENTS:
        first, stop = timeline.span(event)
        for s in event_targets(event):
            for name, value in event.effects.items():
                EFFECTS[name](profiles[s.sid], slice(first, stop), value, s)
    for p in profiles.values():
        p.expected = np.where(p.active, p.expected, 0.0)
    return profiles


def daily_counts(profile: Profile, rng: np.random.Generator) -> np.ndarray:
    """Draw the daily request counts of a series (expected x lognormal noise, rounded)."""
    noise = rng.lognormal(-(DAILY_NOISE**2) / 2, DAILY_NOISE, profile.expected.size)
    return np.rint(profile.expected * noise).astype(np.int64)


def _split(total: np.ndarray, p: Profile) -> dict[str, np.ndarray]:
    read = np.rint(total * p.read).astype(np.int64)
    w5 = np.rint(total * p.write_5m).astype(np.int64)
    w1h = np.rint(total * p.write_1h).astype(np.int64)
    return {
        "input_uncached": total - read - w5 - w1h,
        "input_cache_read": read,
        "input_cache_write_5m": w5,
        "input_cache_write_1h": w1h,
    }


def simulate_direct(timeline: Timeline, profiles: dict[str, Profile], *, seed: int) -> pd.DataFrame:
    """Return daily aggregates of every direct (non-gateway) series.

    Returns
    -------
    pandas.DataFrame
        Columns ``day, sid, context_tier`` and :data:`COUNT_COLUMNS`; rows with no request dropped.
    """
    frames = []
    for k, s in enumerate(SERIES):
        if s.channel != "direct":
            continue
        rng = np.random.default_rng([seed, 1, k])
        p = profiles[s.sid]
        requests = daily_counts(p, rng)
        in_noise = rng.lognormal(0.0, 0.02, timeline.days)
        out_noise = rng.lognormal(0.0, 0.03, timeline.days)
        long_req = np.rint(requests * p.long_share).astype(np.int64)
        for tier, req, mean in (("standard", requests - long_req, s.in_mean), ("long", long_req, LONG_PROMPT_MEAN)):
            total_in = np.rint(req * mean * p.in_mult * in_noise).astype(np.int64)
            output = np.rint(req * s.out_mean * out_noise).astype(np.int64)
            cols = {"day": np.arange(timeline.days), "sid": s.sid, "context_tier": tier, "requests": req}
            cols |= _split(total_in, p)
            cols |= {"output": output, "reasoning": np.rint(output * s.reasoning).astype(np.int64)}
            frames.append(pd.DataFrame(cols))
    out = pd.concat(frames, ignore_index=True)
    return out[out["requests"] > 0].reset_index(drop=True)


def window_fraction(seconds: int, *, after: bool) -> float:
    """Share of a day's traffic (by the diurnal profile) after (or before) ``seconds`` past midnight."""
    hour, rest = divmod(seconds, 3600)
    before = DIURNAL[:hour].sum() + DIURNAL[hour] * rest / 3600
    return float(1.0 - before if after else before)
