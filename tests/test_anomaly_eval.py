"""Tests of finops_lib.anomalies.evaluation: matching rules on constructed cases, and the acceptance on the sample.

The sample figures are checked against ``truth/events.csv`` and ``truth/daily_cost.csv`` read directly.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from finops_lib import paths
from finops_lib.anomalies import evaluation as anomaly_eval
from finops_lib.facts import build_cells, open_facts
from finops_lib.rules import resolve_rules
from finops_lib.warehouse import open_data

SAMPLE = paths.SAMPLE_DIR
TRUTH = SAMPLE / "truth"


def alert(aid, first, last, provider, team, application, driver="requests"):
    return {
        "anomaly_id": aid,
        "first_seen": pd.Timestamp(first),
        "last_seen": pd.Timestamp(last),
        "provider": provider,
        "team": team,
        "application": application,
        "driver": driver,
    }


def test_matching_rules_on_constructed_alerts() -> None:
    events = anomaly_eval.load_events(SAMPLE)
    alerts = pd.DataFrame(
        [
            alert("A1", "2026-06-16", "2026-06-17", "Anthropic", "support", "support-chatbot"),  # E02, a day late
            alert("A2", "2026-06-15", "2026-06-16", "Anthropic", "legal", "contract-review"),  # right day, wrong team
            alert("A3", "2026-07-06", "2026-07-08", "OpenAI", "marketing", "ad-copy-lab"),  # E05 starts
            alert("A4", "2026-08-20", "2026-08-21", "OpenAI", "marketing", "ad-copy-lab"),  # inside E05: no match
            alert("A5", "2026-06-26", "2026-06-26", "OpenAI", "search", "semantic-index"),  # E04, the outage
            alert("A6", "2026-09-10", "2026-09-11", "Anthropic", "support", "support-chatbot"),  # E10 ends 09-09
        ]
    )
    matched = anomaly_eval.match_alerts(alerts, events).set_index("anomaly_id")
    assert matched["matched"].to_dict() == {"A1": "E02", "A2": "", "A3": "E05", "A4": "", "A5": "E04", "A6": "E10"}
    assert matched["match_role"].tolist() == [
        "anomaly",
        "false positive",
        "change",
        "false positive",
        "change",
        "change",
    ]
    summary, per_event = anomaly_eval.score(alerts, events)
    assert summary["alerts"] == 6 and summary["false_positives"] == 2
    assert summary["precision"] == pytest.approx(4 / 6) and summary["strict_precision"] == pytest.approx(1 / 6)
    assert summary["recall"] == pytest.approx(1 / 5) and summary["mean_delay_days"] == 1.0
    e02 = per_event.set_index("event_id").loc["E02"]
    assert e02["found"] and e02["delay_days"] == 1 and e02["driver_ok"]


def test_late_alert_is_not_found() -> None:
    events = anomaly_eval.load_events(SAMPLE)
    alerts = pd.DataFrame(
        [alert("A1", "2026-08-05", "2026-08-06", "Anthropic", "legal", "contract-review", driver="cache hit rate")]
    )
    _, per_event = anomaly_eval.score(alerts, events)
    e08 = per_event.set_index("event_id").loc["E08"]
    assert e08["anomaly_id"] == "A1" and e08["delay_days"] == 2 and not e08["found"]


@pytest.fixture(scope="module")
def facts(sample_warehouse: Path) -> pd.DataFrame:
    con = open_data(warehouse=sample_warehouse)
    try:
        return build_cells(open_facts(con, rules=resolve_rules("", SAMPLE)))
    finally:
        con.disconnect()


def truth_cost(*, team: str, application: str, model: str, days: list[str]) -> Decimal:
    with (TRUTH / "daily_cost.csv").open() as handle:
        return sum((Decimal(r["cost_usd"]) for r in csv.DictReader(handle)
                    if r["team"] == team and r["application"] == application and r["model"] == model
                    and r["date"] in days), Decimal(0))  # fmt: skip


@pytest.mark.slow
def test_acceptance_on_the_sample_with_default_settings(facts: pd.DataFrame) -> None:
    summary, per_event, matched = anomaly_eval.evaluate(facts, data_dir=SAMPLE)
    truth = pd.read_csv(TRUTH / "events.csv")
    injected = set(truth.loc[truth["kind"].str.startswith("anomaly_"), "event_id"])
    assert set(per_event["event_id"]) == injected == {"E02", "E06", "E08", "E11", "E13"}
    assert summary["recall"] >= 0.9 and summary["precision"] >= 0.8
    assert per_event.loc[per_event["found"], "delay_days"].abs().max() <= 1
    assert summary["driver_accuracy"] >= 0.9
    drivers = dict(zip(truth["event_id"], truth["driver"], strict=True))
    assert (per_event["driver_found"] == per_event["event_id"].map(drivers)).mean() >= 0.9
    # every alert's decomposition adds up to its change exactly, and its ids are unique
    from finops_lib.anomalies.explain import explain_alert

    for _, row in matched.iterrows():
        ex = explain_alert(facts, row)
        assert sum(ex.components["amount"], Decimal(0)) == ex.change == row["change"]
    # the leaked key: Opus spend on the sales key, which the baseline never had, as truth's daily cost says
    e06 = matched[matched["matched"] == "E06"].iloc[0]
    drill = explain_alert(facts, e06).drilldown
    opus = drill[(drill["dimension"] == "model") & (drill["value"] == "claude-opus-4-1-20250805")]["change"].iloc[0]
    expected = truth_cost(
        team="sales", application="email-assistant", model="claude-opus-4-1-20250805", days=["2026-07-14", "2026-07-15"]
    )
    assert float(opus) == pytest.approx(float(expected), rel=1e-6)
    # the E04 outage (one day, OpenAI and Anthropic, every direct team) is one incident, and nothing else is
    from finops_lib.anomalies.alerts import incident_summary

    outage = matched[matched["matched"] == "E04"]
    assert len(outage) >= 3 and outage["incident"].nunique() == 1 and outage["incident"].iloc[0] != ""
    (incident,) = incident_summary(matched).to_dict("records")
    assert incident["alerts"] == len(outage) and incident["providers"] == "Anthropic, OpenAI"
    assert incident["direction"] == "drop" and incident["change"] < 0


@pytest.mark.slow
def test_precision_falls_and_recall_holds_as_sensitivity_drops(facts: pd.DataFrame) -> None:
    table = anomaly_eval.sweep(facts, data_dir=SAMPLE, sensitivities=(3.0, 4.0, 6.0)).set_index("sensitivity")
    assert table.loc[3.0, "alerts"] > table.loc[4.0, "alerts"] >= table.loc[6.0, "alerts"]
    assert table.loc[3.0, "precision"] < table.loc[4.0, "precision"]
    assert (table["recall"] == 1.0).all()


def test_truth_file_is_where_the_evaluation_reads_it() -> None:
    assert Path(TRUTH / "events.csv").is_file()
    events = anomaly_eval.load_events(SAMPLE)
    assert events.set_index("event_id").loc["E04", "windows"] == [(pd.Timestamp("2026-06-26"),) * 2]
    assert events.set_index("event_id").loc["E01", "role"] == "background"


def test_default_series_and_alert_are_the_largest_anomaly() -> None:
    from decimal import Decimal

    from finops_lib.views.anomalies import page as anomaly_review

    alerts = pd.DataFrame({"anomaly_id": ["A1", "A2", "A3"], "change": [Decimal("5"), Decimal("-80"), Decimal("20")],
                           "detected_in": ["team=support:cost", "team=legal:cost; model=m:cost", "model=x:tokens"]})
    points = pd.DataFrame({"dimension": ["team"], "metric": ["cost"], "key": ["platform"], "actual": [100.0]})
    assert anomaly_review.default_key(alerts, points, "team", "cost") == "legal"  # the largest |change|, a drop
    assert anomaly_review.default_key(alerts, points, "model", "tokens") == "x"
    assert anomaly_review.default_key(alerts.iloc[:0], points, "team", "cost") == "platform"  # no alert: largest
    assert anomaly_review.pick_alert(alerts)["anomaly_id"] == "A2"
    assert anomaly_review.pick_alert(alerts, anomaly_index=0)["anomaly_id"] == "A1"
