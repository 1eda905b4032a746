"""The watch's parts that need no server: config, incidents from hourly episodes, the message plan, budget burn."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from finops_lib.errors import SourceError
from finops_lib.live import PullState, endpoints_of
from finops_lib.live.landing import Landing
from finops_lib.watch import WatchState, find_incidents, load_watch_config, plan_messages, watch_loop
from finops_lib.watch.burn import month_burn

HOUR = pd.Timestamp("2026-12-04 10:00")


def _point(dimension: str, key: str, metric: str, actual: float, expected: float) -> dict:
    return {"dimension": dimension, "key": key, "metric": metric, "day": HOUR, "actual": actual,
            "expected": expected, "reported": True, "score": 9.0}


def _episode(dimension: str, key: str, metric: str = "cost") -> dict:
    return {"dimension": dimension, "key": key, "metric": metric, "direction": "spike", "first_seen": HOUR,
            "last_seen": HOUR, "points": 1, "impact": 1.0}


def _runaway() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Key k1 (team search, app search/bot, model gpt) goes from $2/h to $16/h; the rest of the org spends $10/h."""
    points, eps = [], []
    for dim, key, usual in (("api_key", "k1", 2.0), ("team", "search", 5.0), ("application", "search/bot", 4.0),
                            ("model", "gpt", 6.0), ("provider", "OpenAI", 12.0), ("total", "total", 12.0)):
        actual = usual + 14.0
        points += [_point(dim, key, "cost", actual, usual), _point(dim, key, "tokens", actual * 1000, usual * 1000),
                   _point(dim, key, "requests", actual * 10, usual * 10)]
        eps += [_episode(dim, key, m) for m in ("cost", "tokens", "requests")]
    cells = pd.DataFrame([{"day": HOUR, "provider": "OpenAI", "team": "search", "application": "bot", "model": "gpt",
                           "api_key": "k1"}])
    return pd.DataFrame(points), pd.DataFrame(eps), cells


def test_one_incident_names_the_key_and_folds_the_series_it_explains() -> None:
    points, eps, cells = _runaway()
    found = find_incidents(points, eps, cells, hour=HOUR)
    assert [i.incident_id for i in found] == ["api_key=k1|spike"]
    inc = found[0]
    assert (inc.actual, inc.expected, inc.excess) == (16.0, 2.0, 14.0)
    assert set(inc.related) == {("team", "search"), ("application", "search/bot"), ("model", "gpt"),
                                ("provider", "OpenAI"), ("total", "total")}
    # requests x8, tokens per request and cost per token unchanged: volume
    assert inc.driver.startswith("volume (requests x8.0)")


def test_a_key_carrying_too_little_of_the_change_does_not_lead() -> None:
    points, eps, cells = _runaway()
    # the key's excess is only $1/h of the total's $14/h: a broad change, named by the next series that carries it
    points.loc[(points.dimension == "api_key") & (points.metric == "cost"), "actual"] = 3.0
    found = find_incidents(points, eps, cells, hour=HOUR)
    assert found[0].incident_id == "application=search/bot|spike"


def test_the_plan_opens_once_regrows_past_the_factor_and_resolves_once(tmp_path: Path) -> None:
    points, eps, cells = _runaway()
    state = WatchState(tmp_path / "watch.json")
    inc = find_incidents(points, eps, cells, hour=HOUR)
    assert [e for e, _ in plan_messages(state, inc, hour=HOUR, grow_factor=2)] == ["opened"]
    assert plan_messages(state, inc, hour=HOUR, grow_factor=2) == []  # the same hour again: nothing new
    state.save()
    state = WatchState.load(tmp_path / "watch.json")  # a restart
    bigger = find_incidents(points.assign(actual=points.actual * 1.5), eps, cells, hour=HOUR)  # excess 14 -> 22
    assert plan_messages(state, bigger, hour=HOUR, grow_factor=2) == []  # 22 < 2 x 14
    much = find_incidents(points.assign(actual=points.actual * 3), eps, cells, hour=HOUR)  # excess 46 >= 28
    assert [e for e, _ in plan_messages(state, much, hour=HOUR, grow_factor=2)] == ["grown"]
    later = HOUR + pd.Timedelta(hours=3)
    plan = plan_messages(state, [], hour=later, grow_factor=2)
    assert [e for e, _ in plan] == ["resolved"] and plan[0][1]["incident_id"] == "api_key=k1|spike"
    assert plan_messages(state, [], hour=later, grow_factor=2) == []


def test_a_message_no_channel_took_is_planned_again(tmp_path: Path) -> None:
    points, eps, cells = _runaway()
    state = WatchState(tmp_path / "watch.json")
    before = state.copy()
    inc = find_incidents(points, eps, cells, hour=HOUR)
    plan_messages(state, inc, hour=HOUR, grow_factor=2)
    state.restore("api_key=k1|spike", before)
    assert [e for e, _ in plan_messages(state, inc, hour=HOUR, grow_factor=2)] == ["opened"]


def test_month_burn_projects_at_the_recent_complete_days() -> None:
    days = pd.date_range("2026-11-01", "2026-11-10")
    daily = pd.Series([50.0] * 2 + [100.0] * 7 + [30.0], index=days)
    spent, projected, future = month_burn(daily, today=pd.Timestamp("2026-11-10"))
    # rate = mean of Nov 3..9 = 100; 20 days left; today's remaining 100 - 30 = 70
    assert spent == 830.0 and projected == 830.0 + 70.0 + 20 * 100.0 and len(future) == 20


@pytest.mark.parametrize(("text", "message"), [
    ("notify:\n  - {type: slack, url: 'https://hooks.slack.com/services/T/B/X'}\n", "url_env"),
    ("colour: blue\n", "unknown setting 'colour'"),
    ("pull: [{vendor: openai, endpoints: [costz]}]\n", "unknown openai endpoint 'costz'"),
    ("lookback: 3x\n", "lookback must be a number and a unit"),
])  # fmt: skip
def test_watch_config_refuses_secrets_and_unknown_keys(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "watch.yaml"
    file.write_text("data: d\n" + text)
    with pytest.raises(SourceError, match=message):
        load_watch_config(file)


def test_watch_config_reads_its_settings(tmp_path: Path) -> None:
    file = tmp_path / "watch.yaml"
    file.write_text("data: d\npull: [openai, {vendor: litellm}]\nrestatement: {lookback: 1d, every: 2h}\n"
                    "detect: {min_impact: 5, grow_factor: 3}\n")
    config = load_watch_config(file)
    assert config.data == (tmp_path / "d").resolve() and [p.vendor for p in config.pulls] == ["openai", "litellm"]
    assert config.deep_lookback == pd.Timedelta(days=1) and config.deep_every == pd.Timedelta(hours=2)
    assert config.detect.min_impact == 5 and config.detect.grow_factor == 3
    assert config.state_file == (tmp_path / "d" / "landing" / ".state" / "watch.json").resolve()


def test_landing_moves_an_endpoint_into_place_in_one_rename_and_sweeps_dead_runs(tmp_path: Path) -> None:
    dead = Landing(tmp_path, run="20261204T000000000000Z")
    staged = dead.stage("openai", "costs")
    staged.write(b"{}")
    live = Landing(tmp_path, run="20261204T010000000000Z")
    assert live.sweep() == 1 and not (tmp_path / "landing" / ".partial" / dead.run).exists()
    staged = live.stage("openai", "costs")
    staged.write(b'{"data": []}')
    staged.write(b'{"data": [1]}')
    files = live.commit(staged)
    assert [f.read_bytes() for f in files] == [b'{"data": []}', b'{"data": [1]}']
    assert files[0].parent == tmp_path / "landing" / "openai" / "costs" / live.run


def test_pull_state_round_trips_and_refuses_a_broken_file(tmp_path: Path) -> None:
    state = PullState.load(tmp_path)
    state.update("openai/costs", complete_until=pd.Timestamp("2026-12-04", tz="UTC").to_pydatetime(),
                 last_status="complete")
    state.save()
    again = PullState.load(tmp_path)
    assert again.get("openai/costs").complete_until.isoformat() == "2026-12-04T00:00:00+00:00"
    assert again.get("anthropic/cost_report").complete_until is None
    (tmp_path / ".state" / "pull.json").write_text("{not json")
    with pytest.raises(Exception, match="unreadable"):
        PullState.load(tmp_path)


def test_the_loop_runs_its_cycles_and_stops(tmp_path: Path) -> None:
    """``--every``: cycles until told to stop; a folder with nothing pulled yet says so instead of failing."""
    (tmp_path / "watch.yaml").write_text(f"data: {tmp_path / 'data'}\nwarehouse: {tmp_path / 'wh.duckdb'}\n")
    seen: list[object] = []
    code = watch_loop(load_watch_config(tmp_path / "watch.yaml"), every=0.05, cycles=2, on_cycle=seen.append)
    assert code == 0 and len(seen) == 2
    assert any("nothing" in note or "no usage" in note for note in seen[0].notes)  # type: ignore[attr-defined]


def test_an_endpoint_without_a_reader_is_pulled_only_when_named() -> None:
    names = [e.name for e in endpoints_of("anthropic")]
    assert names == ["cost_report", "usage_report_messages"]
    assert [e.name for e in endpoints_of("anthropic", ("usage_report_claude_code",))] == ["usage_report_claude_code"]
    assert [e.name for e in endpoints_of("openai")][:2] == ["costs", "usage_completions"]
