"""The live path's acceptance: a simulated day against the fake vendor server, real Slack-style and SMTP receivers.

The server plays 45 ordinary days, then on 2026-11-30 one API key runs away from 10:00 to 13:00 (x8 its hourly
spend). ``watch_once`` runs every 15 simulated minutes from 08:00 to 14:30 while another process holds a snapshot of
the warehouse open (a notebook). Expected: one alert naming the key on each channel within 75 minutes of onset,
with the key's spend per hour within 5% of the organisation's own figure, nothing more while it goes on, one
"resolved" when it stops; and over the 30 ordinary days before, at most one alert.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from finops_lib import engine, paths, pricing
from finops_lib.anomalies import scan
from finops_lib.anomalies.detectors import WEEKLY_HOURS, episodes
from finops_lib.facts import build_cells, open_facts
from finops_lib.sample.vendor_org import expected_spend
from finops_lib.watch import WatchState, find_incidents, load_watch_config, plan_messages, watch_once
from finops_lib.watch.cycle import DIMENSIONS
from tests.receivers import SMTP_PASSWORD, SMTP_USER, start_http_receiver, start_smtp_receiver
from tests.vendor_fake import start_vendor_server

DAY = datetime(2026, 11, 30, tzinfo=UTC)
ONSET, END = DAY.replace(hour=10), DAY.replace(hour=13)
KEY = "key_op011"
HOLDER = """
import sys, time
from finops_lib import engine
con = engine.reader(engine.connect(warehouse=sys.argv[1]))
print("HOLDING", flush=True)
time.sleep(600)
"""


@pytest.fixture(scope="module")
def simulated_day(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("watch")
    server = start_vendor_server(tmp / "server", now=DAY.replace(hour=8))
    server.configure(runaway={"api_key_id": KEY, "start": ONSET.isoformat(), "end": END.isoformat(), "factor": 8})
    slack, smtp = start_http_receiver(), start_smtp_receiver(tmp)
    (tmp / "watch.yaml").write_text(f"""
data: {tmp / 'data'}
warehouse: {tmp / 'wh.duckdb'}
pull: [openai]
first_pull_days: 46
hourly_days: 46
notify:
  - {{type: slack, url_env: SLACK_URL, base_s: 0.01}}
  - {{type: email, host: 127.0.0.1, port: {smtp.port}, starttls: true, tls_verify: false, from: finops@example.com,
     to: [oncall@example.com], user_env: SMTP_USER, password_env: SMTP_PASSWORD}}
""")
    env = {"OPENAI_ADMIN_KEY": "sk-admin-" + "W" * 32, "OPENAI_BASE_URL": server.openai_base,
           "SLACK_URL": slack.url + "/services/T1/B1/slack-secret", "SMTP_USER": SMTP_USER,
           "SMTP_PASSWORD": SMTP_PASSWORD}
    config = load_watch_config(tmp / "watch.yaml")
    cycles, holder = [], None
    try:
        moment = DAY.replace(hour=8)
        while moment <= DAY.replace(hour=14, minute=30):
            server.set_clock(moment)
            report = watch_once(config, env=env)
            cycles.append((moment, report))
            if holder is None:  # a notebook opens the warehouse after the first pull and keeps it open
                holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp / "wh.duckdb")],
                                          stdout=subprocess.PIPE, text=True,
                                          env={**os.environ, "PYTHONPATH": str(paths.PROJECT_ROOT)})
                assert holder.stdout is not None and holder.stdout.readline().startswith("HOLDING")
            moment += timedelta(minutes=15)
    finally:
        if holder is not None:
            holder.kill()
        server.stop()
        slack.server.shutdown()
        smtp.controller.stop()
    return {"tmp": tmp, "cycles": cycles, "slack": slack, "smtp": smtp, "org": server.org, "config": config,
            "env": env}


def test_one_alert_per_channel_names_the_key_within_75_minutes(simulated_day: dict) -> None:
    cycles = simulated_day["cycles"]
    assert all(r.exit_code == 0 for _, r in cycles), [(m, r.notes, r.sent) for m, r in cycles if r.exit_code]
    opened = [(m, s) for m, r in cycles for s in r.sent if s["event"] == "opened"]
    assert [(s["incident"], s["channel"]) for _, s in opened] == [(f"api_key={KEY}|spike", "slack"),
                                                                  (f"api_key={KEY}|spike", "email")]
    assert opened[0][0] - ONSET <= timedelta(minutes=75)
    slack_posts = [p.body for p in simulated_day["slack"].posts]
    assert len(slack_posts) == 2 and KEY in slack_posts[0]["text"] and "Resolved" in slack_posts[1]["text"]
    mails = simulated_day["smtp"].messages
    assert len(mails) == 2 and KEY in mails[0]["Subject"] and "Resolved" in mails[1]["Subject"]


def test_the_alert_says_the_right_money_per_hour(simulated_day: dict) -> None:
    cycles = simulated_day["cycles"]
    report = next(r for _, r in cycles if r.incidents)
    incident = report.incidents[0]
    hour = report.hour.tz_localize(UTC).to_pydatetime()
    truth = expected_spend(simulated_day["org"], hour, hour + timedelta(hours=1), api_key_id=KEY)
    assert abs(Decimal(str(incident.actual)) - truth) <= Decimal("0.05") * truth
    usual = expected_spend(simulated_day["org"].with_scenarios([]), hour, hour + timedelta(hours=1), api_key_id=KEY)
    assert incident.driver.startswith("volume")
    # the detector's expectation is the same hour of the last three Mondays: within 15% of this Monday's own
    assert abs(Decimal(str(incident.expected)) - usual) <= Decimal("0.15") * usual
    body = json.dumps(simulated_day["slack"].posts[0].body)
    assert f"spend this hour*\\n{float(truth):,.2f}" in body  # the organisation's own figure, to the cent


def test_no_repeat_while_it_goes_on_and_one_resolved_when_it_stops(simulated_day: dict) -> None:
    cycles = simulated_day["cycles"]
    events = [(m, s["event"]) for m, r in cycles for s in r.sent if s["channel"] == "slack"]
    assert [e for _, e in events] == ["opened", "resolved"]
    resolved_at = events[1][0]
    assert END < resolved_at <= END + timedelta(hours=1, minutes=15)
    ongoing = [m for m, r in cycles if r.incidents]
    assert ongoing[0] < END and all(m < END + timedelta(hours=1) for m in ongoing)
    state = json.loads((simulated_day["tmp"] / "data" / "landing" / ".state" / "watch.json").read_text())
    assert state["open"] == {}


def test_over_the_thirty_ordinary_days_at_most_one_alert(simulated_day: dict) -> None:
    """Every hour of the 30 days before, as an hourly watch would have judged it: at most one incident opened."""
    con = engine.connect(warehouse=simulated_day["tmp"] / "wh.duckdb", read_only=True)
    try:
        facts = open_facts(con, start_date=(DAY - timedelta(days=45)).date(), end_date=(DAY - timedelta(days=1)).date())
        cells = build_cells(facts, grain="hour", catalog=pricing.load_catalog())
    finally:
        con.disconnect()
    points = scan(cells, grain="hour", dimensions=DIMENSIONS, options=WEEKLY_HOURS)
    eps = episodes(points, grain="hour")
    state = WatchState(simulated_day["tmp"] / "replay.json")
    opened = []
    for hour in pd.date_range(DAY - timedelta(days=30), DAY - timedelta(hours=1), freq="h").tz_localize(None):
        plan = plan_messages(state, find_incidents(points, eps, cells, hour=hour), hour=hour, grow_factor=2)
        opened += [(hour, item.incident_id) for event, item in plan if event == "opened"]
    judged = points[points["day"] >= DAY.replace(tzinfo=None) - timedelta(days=30)]
    assert judged["expected"].notna().mean() > 0.9  # the baseline covered the 30 days: they were really judged
    assert len(opened) <= 1, opened


def test_no_secret_reaches_any_output(simulated_day: dict) -> None:
    env = simulated_day["env"]
    secrets = [env["OPENAI_ADMIN_KEY"], "slack-secret", SMTP_PASSWORD]
    for path in simulated_day["tmp"].rglob("*"):
        if path.is_file() and path.suffix != ".pem":
            body = path.read_bytes()
            assert not [s for s in secrets if s.encode() in body], path
    for _, report in simulated_day["cycles"]:
        text = json.dumps([report.sent, report.notes], default=str)
        assert not [s for s in secrets if s in text]
