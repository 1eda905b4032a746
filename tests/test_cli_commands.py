"""``finops anomalies`` and ``finops forecast`` run for real on the committed sample, end to end, no mocks.

Expected values come from the sample's answer key (``truth/events.csv``, ``truth/daily_cost.csv``), not from the
code under test.
"""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from finops_lib import paths
from finops_lib.cli import main
from finops_lib.cli.parser import FORECAST_DIMENSIONS
from finops_lib.forecast import DIMENSIONS

pytestmark = pytest.mark.slow
TRUTH = paths.SAMPLE_DIR / "truth"


def _injected(since: str) -> list[dict[str, str]]:
    with (TRUTH / "events.csv").open(encoding="utf-8") as handle:
        return [r for r in csv.DictReader(handle) if r["kind"].startswith("anomaly_") and r["start_date"] >= since]


def test_anomalies_command_reports_the_injected_anomalies_and_exits_3(tmp_path, capsys) -> None:
    out = tmp_path / "alerts.csv"
    code = main(["anomalies", "--data", str(paths.SAMPLE_DIR), "--since", "2026-07-01", "--out", str(out),
                 "--fail-on-anomalies"])  # fmt: skip
    assert code == 3, capsys.readouterr()
    alerts = pd.read_csv(out)
    assert len(alerts) and (alerts["last_seen"] >= "2026-07-01").all()
    events = _injected("2026-07-01")
    assert {e["event_id"] for e in events} == {"E06", "E08", "E11", "E13"}
    for event in events:  # each injected anomaly is alerted within a day of its start, on its team
        start = pd.Timestamp(event["start_date"])
        near = alerts[(pd.to_datetime(alerts["first_seen"]) - start).abs() <= pd.Timedelta(days=1)]
        assert (near["team"] == event["team"]).any(), (event["event_id"], near[["first_seen", "team"]])
    assert "anomalies written to" in capsys.readouterr().out


def test_anomalies_command_exit_codes_without_anomalies_and_on_a_bad_file(tmp_path, capsys) -> None:
    quiet = main(["anomalies", "--data", str(paths.SAMPLE_DIR), "--since", "2026-11-01", "--no-explain",
                  "--fail-on-anomalies"])  # fmt: skip
    assert quiet == 0 and "no anomaly" in capsys.readouterr().out
    bad = main(["anomalies", "--data", str(paths.SAMPLE_DIR), "--out", str(tmp_path / "alerts.txt")])
    assert bad == 2 and "expected a .csv or .json file" in capsys.readouterr().err


def test_forecast_command_writes_history_and_forecasts_per_provider(tmp_path, capsys) -> None:
    out = tmp_path / "forecast.csv"
    code = main(["forecast", "--data", str(paths.SAMPLE_DIR), "--by", "provider", "--horizon", "7",
                 "--model", "seasonal_naive", "--out", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr()
    table = pd.read_csv(out, parse_dates=["day"])
    history, ahead = table[table["kind"] == "actual"], table[table["kind"] == "forecast"]
    assert set(table["unit"]) == {"USD"} and set(table["metric"]) == {"spend"}
    truth = pd.read_csv(TRUTH / "daily_cost.csv")
    names = {"openai": "OpenAI", "anthropic": "Anthropic", "aws_bedrock": "AWS", "azure_openai": "Microsoft",
             "gcp_vertex": "Google"}  # fmt: skip
    spent = (truth["cost_usd"] + truth["credit"].fillna(0)).groupby(truth["provider"].map(names)).sum()
    got = history.groupby("series")["value"].sum()
    for provider in ("OpenAI", "Anthropic", "Google"):  # AI-only providers: the answer key has their whole spend
        assert got[provider] == pytest.approx(spent[provider], rel=2e-3), provider
    assert (ahead.groupby("series")["day"].nunique() == 7).all()
    assert ahead["day"].min() == history["day"].max() + pd.Timedelta(days=1)
    # seasonal naive repeats the last week of history
    last_week = history[history["day"] > history["day"].max() - pd.Timedelta(days=7)]
    for name, part in ahead.groupby("series"):
        expected = last_week[last_week["series"] == name].sort_values("day")["value"].to_numpy()
        assert part.sort_values("day")["value"].to_numpy() == pytest.approx(expected, rel=1e-9), name


def test_forecast_command_by_a_combination_of_dimensions(tmp_path, capsys) -> None:
    out = tmp_path / "forecast.csv"
    code = main(["forecast", "--data", str(paths.SAMPLE_DIR), "--by", "provider, model", "--horizon", "7",
                 "--model", "seasonal_naive", "--out", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr()
    assert "series, 7 days" in capsys.readouterr().out
    table = pd.read_csv(out)
    history = table[table["kind"] == "actual"]
    by_provider = history.assign(provider=history["series"].str.split(" / ").str[0]).groupby("provider")["value"].sum()
    single = tmp_path / "single.csv"
    assert main(["forecast", "--data", str(paths.SAMPLE_DIR), "--by", "provider", "--horizon", "7",
                 "--model", "seasonal_naive", "--out", str(single)]) == 0  # fmt: skip
    alone = pd.read_csv(single).query("kind == 'actual'").groupby("series")["value"].sum()
    assert by_provider.to_dict() == pytest.approx(alone.to_dict(), rel=1e-9)  # the combinations add up per provider
    assert "OpenAI / gpt-4o-mini-2024-07-18" in set(history["series"])
    assert main(["forecast", "--data", str(paths.SAMPLE_DIR), "--by", "provider,colour",
                 "--out", str(tmp_path / "x.csv")]) == 2  # fmt: skip
    assert "colour is not" in capsys.readouterr().err


def test_forecast_command_refuses_a_bad_output_name(tmp_path, capsys) -> None:
    assert main(["forecast", "--data", str(paths.SAMPLE_DIR), "--out", str(tmp_path / "x.xlsx")]) == 2
    assert "--out must end in .parquet or .csv" in capsys.readouterr().err


def test_the_parser_offers_the_forecast_dimensions_of_the_library() -> None:
    assert FORECAST_DIMENSIONS == DIMENSIONS
