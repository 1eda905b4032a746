"""Budget burn in the watch: this month's spend and its recent daily rate against config/budgets.csv, said once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from finops_lib.sample.vendor_org import expected_spend
from finops_lib.watch import load_watch_config, watch_once
from tests.vendor_fake import start_vendor_server

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MONTH = datetime(2026, 11, 1, tzinfo=UTC)


def _projection(org: object) -> Decimal:
    """Spent so far + the rest of today and the 10 days left at the mean of Nov 13-19, from the organisation."""
    spent = expected_spend(org, MONTH, NOW)
    days = [expected_spend(org, MONTH + timedelta(days=d), MONTH + timedelta(days=d + 1)) for d in range(12, 19)]
    rate = sum(days, Decimal(0)) / 7
    today = expected_spend(org, NOW.replace(hour=0), NOW)
    return spent + max(rate - today, Decimal(0)) + 10 * rate


def test_a_budget_on_course_to_be_passed_is_said_once(tmp_path: Path) -> None:
    server = start_vendor_server(tmp_path / "server", now=NOW)
    try:
        projected = _projection(server.org)
        config_dir = tmp_path / "data" / "config"
        config_dir.mkdir(parents=True)
        tight, loose = (projected * Decimal("0.9")).quantize(Decimal("1")), (projected * Decimal("1.1")).quantize(
            Decimal("1"))
        (config_dir / "budgets.csv").write_text("month,dimension,name,amount,currency\n"
                                                f"2026-11,total,total,{tight},USD\n"
                                                f"2026-11,provider,OpenAI,{loose},USD\n")  # fmt: skip
        alerts = tmp_path / "alerts.jsonl"
        (tmp_path / "watch.yaml").write_text(
            f"data: {tmp_path / 'data'}\nwarehouse: {tmp_path / 'wh.duckdb'}\npull: [openai]\nfirst_pull_days: 25\n"
            f"hourly_days: 2\nnotify: [{{type: file, path: {alerts}}}]\n")  # fmt: skip
        env = {"OPENAI_ADMIN_KEY": "sk-admin-" + "K" * 30, "OPENAI_BASE_URL": server.openai_base}
        config = load_watch_config(tmp_path / "watch.yaml")
        first = watch_once(config, env=env)
        second = watch_once(config, env=env)
    finally:
        server.stop()
    budget = [s for s in first.sent if s["event"] == "budget"]
    assert [s["incident"] for s in budget] == ["budget=total:total|2026-11"]  # the loose OpenAI budget: nothing
    assert not [s for s in second.sent if s["event"] == "budget"]  # once per budget and month
    message = json.loads(alerts.read_text().splitlines()[0])
    got = Decimal(message["details"]["projected month end"].replace(",", ""))
    assert abs(got - projected) <= Decimal("0.01")
    assert f"over its budget of USD {tight:,.0f}" in message["headline"]
    # the day the budget is reached: the first day the month's spend so far plus the rate passes it
    assert message["headline"].split("reached on ")[1].startswith("2026-11-")
