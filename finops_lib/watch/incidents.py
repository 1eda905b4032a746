"""From hourly episodes to incidents, and from incidents to the few messages a person should get.

A runaway key shows in many series at once: the key's cost, tokens and requests, its team's, its application's,
its model's and the total. One incident names the most specific series that carries most of the change
(:data:`SPECIFICITY`: a key before an application, a model, a team, a provider, the total), and the other series
it explains are folded into it. Each incident is remembered in the alert state (a JSON file that survives
restarts), so a person hears of it once when it opens, again only when its money per hour grows past the
configured factor, and once when it ends.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from finops_lib.share import atomic_write

__all__ = ["SPECIFICITY", "Incident", "WatchState", "find_incidents", "plan_messages"]

#: Dimensions from the most specific to the least: the first that carries the change names the incident.
SPECIFICITY: tuple[str, ...] = ("api_key", "application", "model", "team", "provider", "total")
#: Share of the largest excess a more specific series must carry to name the incident.
LEAD_SHARE = 0.5


@dataclass
class Incident:
    """One incident going on at the latest complete hour.

    Attributes
    ----------
    incident_id
        ``<dimension>=<key>|<direction>``: stable while the same series leads it.
    dimension, key, direction
        The leading series (``api_key``, ``key_abc``, ``spike``).
    first_seen, last_seen
        Hours (UTC, naive) of the episode's first and latest reported point.
    actual, expected
        Money per hour at the latest hour: spent, and the detector's expectation.
    related
        ``(dimension, key)`` of the other series this incident explains.
    driver
        ``volume``, ``tokens per request``, ``price`` or ``mix``, with the ratio in words.
    """

    incident_id: str
    dimension: str
    key: str
    direction: str
    metric: str
    first_seen: pd.Timestamp
    last_seen: pd.Timestamp
    actual: float
    expected: float
    related: list[tuple[str, str]] = field(default_factory=list)
    driver: str = ""

    @property
    def excess(self) -> float:
        """Money (or units, for a token or request series) per hour above the expectation (negative: below)."""
        return self.actual - self.expected


def _latest(points: pd.DataFrame, dimension: str, key: str, metric: str, hour: pd.Timestamp) -> pd.Series | None:
    rows = points[(points["dimension"] == dimension) & (points["key"] == key) & (points["metric"] == metric)
                  & (points["day"] == hour)]  # fmt: skip
    return rows.iloc[0] if len(rows) else None


def _driver(points: pd.DataFrame, dimension: str, key: str, hour: pd.Timestamp, models: int) -> str:
    """Name what moved: requests (volume), tokens per request, or cost per token (price, or mix of models)."""
    values = {}
    for metric in ("cost", "tokens", "requests"):
        row = _latest(points, dimension, key, metric, hour)
        if row is None or not row["expected"] or not row["actual"] or pd.isna(row["expected"]):
            return ""
        values[metric] = (float(row["actual"]), float(row["expected"]))
    (cost, cost0), (tok, tok0), (req, req0) = values["cost"], values["tokens"], values["requests"]
    ratios = {"volume": req / req0, "tokens per request": (tok / req) / (tok0 / req0),
              "mix" if models > 1 else "price": (cost / tok) / (cost0 / tok0)}  # fmt: skip
    name, ratio = max(ratios.items(), key=lambda kv: abs(math.log(kv[1])) if kv[1] > 0 else 0.0)
    what = {"volume": "requests", "tokens per request": "tokens per request", "price": "cost per token",
            "mix": "cost per token (model mix)"}[name]  # fmt: skip
    return f"{name} ({what} x{ratio:.1f})"


def find_incidents(points: pd.DataFrame, episodes: pd.DataFrame, cells: pd.DataFrame, *,
                   hour: pd.Timestamp) -> list[Incident]:  # fmt: skip
    """Return the incidents going on at ``hour`` (the latest complete hour), leading series first.

    Parameters
    ----------
    points, episodes
        :func:`finops_lib.anomalies.scan` and :func:`~finops_lib.anomalies.detectors.episodes` at the hour grain.
    cells
        The hourly cells (:func:`finops_lib.facts.build_cells`): which team, application and model a key's
        spend is in, to fold the series one incident explains.
    hour
        The latest complete hour: an episode still reported there is going on.
    """
    ongoing = episodes[episodes["last_seen"] == hour]
    if ongoing.empty:
        return []
    found: list[Incident] = []
    covered: set[tuple[str, str]] = set()
    for metric in ("cost", "tokens", "requests"):
        for direction in ("spike", "drop"):
            part = ongoing[(ongoing["metric"] == metric) & (ongoing["direction"] == direction)]
            found += _lead(points, part, cells, hour, metric, direction, covered)
    return found


def _lead(points: pd.DataFrame, part: pd.DataFrame, cells: pd.DataFrame, hour: pd.Timestamp, metric: str,
          direction: str, covered: set[tuple[str, str]]) -> list[Incident]:  # fmt: skip
    """Incidents of one metric and direction: lead with the most specific series, fold what it explains."""
    rows = []
    for ep in part.itertuples():
        latest = _latest(points, ep.dimension, ep.key, metric, hour)
        if latest is not None and (ep.dimension, ep.key) not in covered:
            rows.append((ep, float(latest["actual"]), float(latest["expected"])))
    out = []
    while rows:
        largest = max(abs(a - e) for _, a, e in rows)
        rank = {d: i for i, d in enumerate(SPECIFICITY)}
        ep, actual, expected = min((r for r in rows if abs(r[1] - r[2]) >= LEAD_SHARE * largest),
                                   key=lambda r: (rank.get(r[0].dimension, len(rank)), -abs(r[1] - r[2])))
        explained = _explained(cells, ep.dimension, ep.key, hour)
        related = [(r[0].dimension, r[0].key) for r in rows if (r[0].dimension, r[0].key) in explained
                   and (r[0].dimension, r[0].key) != (ep.dimension, ep.key)]  # fmt: skip
        models = len(explained_models(cells, ep.dimension, ep.key, hour))
        out.append(Incident(f"{ep.dimension}={ep.key}|{direction}", ep.dimension, ep.key, direction, metric,
                            ep.first_seen, ep.last_seen, actual, expected, related,
                            _driver(points, ep.dimension, ep.key, hour, models)))  # fmt: skip
        done = {(ep.dimension, ep.key), *related}
        covered |= done
        rows = [r for r in rows if (r[0].dimension, r[0].key) not in done]
    return out


#: Columns of the hourly cells that name each dimension's value (an application is ``team/application``).
_CELL_KEYS = {"provider": ("provider",), "team": ("team",), "application": ("team", "application"),
              "model": ("model",), "api_key": ("api_key",)}  # fmt: skip


def _values(cells: pd.DataFrame, dimension: str) -> pd.Series:
    cols = _CELL_KEYS[dimension]
    out = cells[cols[0]].astype(str)
    for col in cols[1:]:
        out = out + "/" + cells[col].astype(str)
    return out


def _explained(cells: pd.DataFrame, dimension: str, key: str, hour: pd.Timestamp) -> set[tuple[str, str]]:
    """Return the series whose spend at ``hour`` includes the leading series' spend (its total, team, model...)."""
    if dimension == "total":
        return set()
    mine = cells[(cells["day"] == hour) & (_values(cells, dimension) == key)] if dimension in _CELL_KEYS \
        else cells.iloc[:0]  # fmt: skip
    out = {("total", "total")}
    for dim in _CELL_KEYS:
        if dim != dimension:
            out |= {(dim, v) for v in _values(mine, dim).unique()}
    return out


def explained_models(cells: pd.DataFrame, dimension: str, key: str, hour: pd.Timestamp) -> set[str]:
    """Return the models the leading series spends on at ``hour``."""
    if dimension == "total" or dimension not in _CELL_KEYS:
        return set(cells.loc[cells["day"] == hour, "model"].astype(str))
    return set(cells.loc[(cells["day"] == hour) & (_values(cells, dimension) == key), "model"].astype(str))


Event = Literal["opened", "grown", "resolved"]


@dataclass
class WatchState:
    """The alert state: open incidents and what was last said of each (a JSON file; survives restarts)."""

    path: Path
    open: dict[str, dict[str, object]] = field(default_factory=dict)
    budgets: dict[str, dict[str, object]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> WatchState:
        """Read the state (empty when the file does not exist yet)."""
        if not path.is_file():
            return cls(path)
        doc = json.loads(path.read_text(encoding="utf-8"))
        return cls(path, dict(doc.get("open", {})), dict(doc.get("budgets", {})))

    def copy(self) -> WatchState:
        """Return a deep copy (what a cycle started from)."""
        return WatchState(self.path, json.loads(json.dumps(self.open, default=str)),
                          json.loads(json.dumps(self.budgets, default=str)))

    def restore(self, incident_id: str, before: WatchState) -> None:
        """Put one incident (or budget warning) back as it was in ``before``: its message reached no channel."""
        for mine, theirs in ((self.open, before.open), (self.budgets, before.budgets)):
            if incident_id in theirs:
                mine[incident_id] = theirs[incident_id]
            else:
                mine.pop(incident_id, None)

    def save(self) -> None:
        """Write the state atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {k: v for k, v in asdict(self).items() if k != "path"}
        atomic_write(self.path, json.dumps(doc, indent=1, sort_keys=True, default=str) + "\n")


def plan_messages(state: WatchState, incidents: list[Incident], *, hour: pd.Timestamp,
                  grow_factor: float) -> list[tuple[Event, Incident | dict[str, object]]]:  # fmt: skip
    """Decide what to say: ``opened`` for a new incident, ``grown`` past the factor, ``resolved`` once at its end.

    The state is updated in memory (the caller saves it once the messages are sent); a resolved incident leaves
    the open set, so the same series spiking again later is a new incident.
    """
    plan: list[tuple[Event, Incident | dict[str, object]]] = []
    seen = set()
    for inc in incidents:
        seen.add(inc.incident_id)
        known = state.open.get(inc.incident_id)
        if known is None:
            plan.append(("opened", inc))
            state.open[inc.incident_id] = {"first_seen": str(inc.first_seen), "notified_excess": inc.excess,
                                           "last_seen": str(inc.last_seen), "dimension": inc.dimension,
                                           "key": inc.key, "metric": inc.metric}  # fmt: skip
            continue
        known["last_seen"] = str(inc.last_seen)
        notified = float(known.get("notified_excess") or 0.0)
        if notified and abs(inc.excess) >= grow_factor * abs(notified):
            plan.append(("grown", inc))
            known["notified_excess"] = inc.excess
    for incident_id in [i for i in state.open if i not in seen]:
        closed = state.open.pop(incident_id)
        plan.append(("resolved", {"incident_id": incident_id, **closed, "resolved_at": str(hour)}))
    return plan
