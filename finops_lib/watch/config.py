"""The watch's configuration file (``watch.yaml``): what to pull, how to detect, whom to tell.

Example (every key but ``data`` is optional)::

    data: /srv/finops/data            # pulls land in <data>/landing; relative paths are from this file
    warehouse: /srv/finops/warehouse  # default $FINOPS_WAREHOUSE, else data/warehouse/
    currency: USD
    pull:                              # default: none (the watch then only detects on what is ingested)
      - vendor: openai                 # key OPENAI_ADMIN_KEY, base OPENAI_BASE_URL
      - vendor: anthropic
        endpoints: [cost_report, usage_report_messages]
      - vendor: litellm                # LITELLM_DATABASE_URL
    first_pull_days: 90                # history of the first pull
    hourly_days: 28                    # of it, the recent days pulled hourly (the detectors' history)
    lookback: 3h                       # re-pulled on every cycle (late buckets)
    restatement: {lookback: 2d, every: 6h}
    detect:
      history_days: 22                 # hourly history the detectors see (hour-of-week baselines need 21)
      sensitivity: 4
      min_impact: auto                 # money per hour below which nothing is said (or a number)
      grow_factor: 2                   # an open incident is re-sent when its money per hour doubles
    budgets: true                      # budget burn from config/budgets.csv of the workspace or data folder
    notify:
      - {type: slack, url_env: SLACK_WEBHOOK_URL}
      - {type: email, host: smtp.example.com, port: 587, starttls: true, from: finops@example.com,
         to: [finops-team@example.com], user_env: SMTP_USER, password_env: SMTP_PASSWORD}
    report: reports/latest             # where the HTML report lives, named in alerts as the place to look further

Secrets are never in this file: channels name environment variables (``url_env``, ``password_env``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from finops_lib import checks
from finops_lib.errors import ParameterError, SourceError
from finops_lib.live import VENDORS, endpoints_of

__all__ = ["Detect", "PullSpec", "WatchConfig", "load_watch_config"]

KNOWN = {"data", "warehouse", "currency", "pull", "lookback", "restatement", "detect", "budgets", "notify", "report",
         "state", "first_pull_days", "hourly_days"}  # fmt: skip


@dataclass(frozen=True)
class PullSpec:
    """One vendor to pull on every cycle."""

    vendor: str
    endpoints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Detect:
    """Detection settings (hourly series)."""

    history_days: int = 22
    sensitivity: float = 4.0
    min_impact: float | str = "auto"
    grow_factor: float = 2.0


@dataclass(frozen=True)
class WatchConfig:
    """A checked ``watch.yaml``."""

    path: Path
    data: Path
    warehouse: Path | None = None
    currency: str = "USD"
    pulls: tuple[PullSpec, ...] = ()
    first_pull_days: int = 90
    hourly_days: int = 28
    lookback: timedelta = timedelta(hours=3)
    deep_lookback: timedelta = timedelta(days=2)
    deep_every: timedelta = timedelta(hours=6)
    detect: Detect = field(default_factory=Detect)
    budgets: bool = True
    channels: tuple[dict[str, Any], ...] = ()
    report: str = ""
    state: Path | None = None

    @property
    def state_file(self) -> Path:
        """Where the alert state lives (``<data>/landing/.state/watch.json`` unless set)."""
        return self.state or self.data / "landing" / ".state" / "watch.json"


def _fail(path: Path, key: str, problem: str) -> SourceError:
    return SourceError(path, problem, column=key)


def _path(base: Path, value: object) -> Path:
    return (base / str(value)).expanduser().resolve() if not Path(str(value)).expanduser().is_absolute() \
        else Path(str(value)).expanduser()  # fmt: skip


def load_watch_config(path: str | Path) -> WatchConfig:
    """Read and check a ``watch.yaml`` (see the module docstring).

    Raises
    ------
    SourceError
        Naming the file and the key at fault: unknown keys, a missing ``data``, an unknown vendor or endpoint, a
        channel with a literal secret, a bad duration.
    """
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise SourceError(file, "watch config not found")
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SourceError(file, f"not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise SourceError(file, "expected a mapping of settings (data, pull, detect, notify...)")
    unknown = sorted(set(doc) - KNOWN)
    if unknown:
        raise _fail(file, unknown[0], f"unknown setting {unknown[0]!r}; known: {', '.join(sorted(KNOWN))}")
    if not doc.get("data"):
        raise _fail(file, "data", "'data' is required: the folder pulls land in and the watch reads")
    base = file.parent
    try:
        return WatchConfig(
            path=file,
            data=_path(base, doc["data"]),
            warehouse=_path(base, doc["warehouse"]) if doc.get("warehouse") else None,
            currency=checks.currency_code(doc.get("currency", "USD")),
            pulls=_pulls(file, doc.get("pull") or []),
            first_pull_days=checks.positive_int("first_pull_days", doc.get("first_pull_days", 90)),
            hourly_days=checks.positive_int("hourly_days", doc.get("hourly_days", 28)),
            lookback=checks.duration("lookback", doc.get("lookback", "3h")),
            **_restatement(doc.get("restatement") or {}),
            detect=_detect(file, doc.get("detect") or {}),
            budgets=bool(doc.get("budgets", True)),
            channels=_channels(file, doc.get("notify") or []),
            report=str(doc.get("report", "")),
            state=_path(base, doc["state"]) if doc.get("state") else None,
        )
    except ParameterError as exc:
        raise SourceError(file, str(exc)) from None


def _pulls(file: Path, items: list[Any]) -> tuple[PullSpec, ...]:
    out = []
    for item in items if isinstance(items, list) else [items]:
        spec = {"vendor": item} if isinstance(item, str) else item
        if not isinstance(spec, dict) or spec.get("vendor") not in (*VENDORS, "litellm"):
            raise _fail(file, "pull", f"each pull names a vendor: one of {', '.join([*VENDORS, 'litellm'])}; got "
                        f"{item!r}")  # fmt: skip
        names = tuple(spec.get("endpoints") or ())
        if spec["vendor"] != "litellm":
            endpoints_of(spec["vendor"], names)  # unknown endpoints fail here, naming the known ones
        out.append(PullSpec(spec["vendor"], names))
    return tuple(out)


def _restatement(doc: dict[str, Any]) -> dict[str, timedelta]:
    return {"deep_lookback": checks.duration("restatement.lookback", doc.get("lookback", "2d")),
            "deep_every": checks.duration("restatement.every", doc.get("every", "6h"))}


def _detect(file: Path, doc: dict[str, Any]) -> Detect:
    unknown = sorted(set(doc) - {"history_days", "sensitivity", "min_impact", "grow_factor"})
    if unknown:
        raise _fail(file, f"detect.{unknown[0]}", f"unknown detect setting {unknown[0]!r}")
    min_impact = doc.get("min_impact", "auto")
    if min_impact != "auto":
        min_impact = checks.number("detect.min_impact", min_impact, low=0)
    return Detect(history_days=checks.positive_int("detect.history_days", doc.get("history_days", 22)),
                  sensitivity=checks.number("detect.sensitivity", doc.get("sensitivity", 4.0), low=0, low_open=True),
                  min_impact=min_impact,
                  grow_factor=checks.number("detect.grow_factor", doc.get("grow_factor", 2.0), low=1))


def _channels(file: Path, items: list[Any]) -> tuple[dict[str, Any], ...]:
    out = []
    for item in items if isinstance(items, list) else [items]:
        if not isinstance(item, dict) or not item.get("type"):
            raise _fail(file, "notify", f"each channel is a mapping with a type (slack, teams, webhook, email); got "
                        f"{item!r}")  # fmt: skip
        for secret in ("url", "password", "token", "webhook"):
            if secret in item:
                raise _fail(file, f"notify.{secret}", f"a {item['type']} channel must not hold its {secret} in the "
                            f"file: name an environment variable instead ({secret}_env: VARIABLE)")  # fmt: skip
        out.append(dict(item))
    return tuple(out)
