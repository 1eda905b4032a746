"""``finops pull`` against the fake vendor server (a real HTTP server process): incremental, idempotent, honest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from finops_lib import engine
from finops_lib.cli import main
from finops_lib.facts import open_facts
from finops_lib.live import PullOptions, PullState, RetryPolicy, pull
from finops_lib.sample.vendor_org import expected_spend
from finops_lib.warehouse import ingest
from tests.vendor_fake import VendorServer, start_vendor_server

OPENAI_KEY = "sk-admin-" + "T3st" * 10
ANTHROPIC_KEY = "sk-ant-admin01-" + "Zq9" * 14
NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
SINCE = datetime(2026, 11, 14, tzinfo=UTC)
FAST = RetryPolicy(attempts=4, base_s=0.01, cap_s=0.05, timeout_s=5)


@pytest.fixture()
def server(tmp_path: Path):
    srv = start_vendor_server(tmp_path / "server", now=NOW)
    yield srv
    srv.stop()


def _env(srv: VendorServer, **extra: str) -> dict[str, str]:
    return {"OPENAI_ADMIN_KEY": OPENAI_KEY, "ANTHROPIC_ADMIN_KEY": ANTHROPIC_KEY, "OPENAI_BASE_URL": srv.openai_base,
            "ANTHROPIC_BASE_URL": srv.anthropic_base, **extra}


def _run(vendor: str, data: Path, warehouse: Path, env: dict[str, str], **opts: object):
    con = engine.connect(warehouse=warehouse)
    try:
        options = PullOptions(**{"since": SINCE, "hourly_days": 3, "policy": FAST, **opts})
        return pull(vendor, data, ingest=lambda files: ingest([str(f) for f in files], con=con), options=options,
                    env=env)
    finally:
        con.disconnect()


def _totals(warehouse: Path, provider: str) -> tuple[Decimal, int, int]:
    """(invoiced money, usage tokens, rows) of one provider, through the facts layer."""
    con = engine.connect(warehouse=warehouse, read_only=True)
    try:
        facts = open_facts(con, filters={"provider": [provider]})
        rows = con.table("costs").count().execute()
        return facts.total("cost"), int(facts.total("tokens")), int(rows)
    finally:
        con.disconnect()


def test_first_pull_lands_every_page_and_the_money_equals_the_vendor(server: VendorServer, tmp_path: Path) -> None:
    data, wh = tmp_path / "data", tmp_path / "wh.duckdb"
    report = _run("openai", data, wh, _env(server))
    assert report.exit_code == 0, (report.error, report.table())
    assert report.vendor_now == NOW
    pages = sorted((data / "landing" / "openai").rglob("page-*.json"))
    assert pages and all(json.loads(p.read_text())["object"] == "page" for p in pages)
    money, _, _ = _totals(wh, "OpenAI")
    # the vendor's own cost for the complete days pulled (the day still running is partial at the vendor too)
    assert money == expected_spend(server.org, SINCE, NOW, vendor="openai")
    state = PullState.load(data / "landing")
    assert state.get("openai/costs").complete_until == datetime(2026, 11, 20, tzinfo=UTC)
    assert state.get("openai/usage_completions").complete_until == datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert state.get("openai/usage_completions").hourly_from == datetime(2026, 11, 17, tzinfo=UTC)


def test_a_rerun_replaces_what_it_re_pulls_and_counts_nothing_twice(server: VendorServer, tmp_path: Path) -> None:
    data, wh = tmp_path / "data", tmp_path / "wh.duckdb"
    _run("openai", data, wh, _env(server))
    first = _totals(wh, "OpenAI")
    again = _run("openai", data, wh, _env(server))
    assert again.exit_code == 0
    assert int(again.ingest["rows_replaced"].sum()) > 0
    assert _totals(wh, "OpenAI") == first


def test_an_interrupted_pull_then_a_rerun_equals_a_clean_pull(tmp_path: Path) -> None:
    clean = start_vendor_server(tmp_path / "clean", now=NOW)
    try:
        _run("openai", tmp_path / "clean-data", tmp_path / "clean.duckdb", _env(clean))
    finally:
        clean.stop()
    data, wh = tmp_path / "data", tmp_path / "wh.duckdb"
    dying = start_vendor_server(tmp_path / "dying", now=NOW)
    dying.configure(fail_after_pages=5)  # the process dies mid-pagination
    stopped = _run("openai", data, wh, _env(dying))
    dying.stop()
    assert stopped.exit_code == 2 and stopped.error
    assert not list((data / "landing" / "openai").rglob("page-*.json")) if (data / "landing" / "openai").exists() \
        else True
    assert PullState.load(data / "landing").endpoints == {}
    back = start_vendor_server(tmp_path / "back", now=NOW)
    try:
        assert _run("openai", data, wh, _env(back)).exit_code == 0
    finally:
        back.stop()
    assert _totals(wh, "OpenAI") == _totals(tmp_path / "clean.duckdb", "OpenAI")
    con = engine.connect(warehouse=wh, read_only=True)
    try:
        dup = con.con.execute("SELECT count(*) - count(DISTINCT x_RowHash) FROM costs").fetchone()[0]
    finally:
        con.disconnect()
    assert dup == 0
    assert not (data / "landing" / ".partial").exists() or not any((data / "landing" / ".partial").iterdir())


def test_a_restated_day_holds_the_new_numbers_only(server: VendorServer, tmp_path: Path) -> None:
    data, wh = tmp_path / "data", tmp_path / "wh.duckdb"
    _run("openai", data, wh, _env(server))
    yesterday = NOW.replace(hour=0, minute=0) - timedelta(days=1)
    server.configure(restate={"day": f"{yesterday:%Y-%m-%d}", "factor": 1.25})
    assert _run("openai", data, wh, _env(server)).exit_code == 0
    con = engine.connect(warehouse=wh, read_only=True)
    try:
        facts = open_facts(con, start_date=yesterday.date(), end_date=yesterday.date())
        money = facts.total("cost")
    finally:
        con.disconnect()
    # server.org carries the restatement now: the vendor's new numbers, and only them
    assert money == expected_spend(server.org, yesterday, yesterday + timedelta(days=1), vendor="openai")
    assert money != expected_spend(server.org.with_scenarios([]), yesterday, yesterday + timedelta(days=1))


def test_rate_limits_and_server_errors_are_retried(server: VendorServer, tmp_path: Path) -> None:
    server.configure(rate_limit_every=3, retry_after=0.01, error_every=5, error_status=503)
    data, wh = tmp_path / "data", tmp_path / "wh.duckdb"
    report = _run("openai", data, wh, _env(server))
    assert report.exit_code == 0
    statuses = [r["status"] for r in server.requests_seen()]
    assert 429 in statuses and 503 in statuses
    assert _totals(wh, "OpenAI")[0] == expected_spend(server.org, SINCE, NOW, vendor="openai")


def test_network_down_stops_with_exit_2_and_nothing_written(tmp_path: Path) -> None:
    env = {"OPENAI_ADMIN_KEY": OPENAI_KEY, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}  # discard port: refused
    report = _run("openai", tmp_path / "data", tmp_path / "wh.duckdb", env)
    assert report.exit_code == 2
    assert "cannot connect" in report.error and "after 4 tries" in report.error
    assert not list((tmp_path / "data").rglob("page-*.json"))
    assert PullState.load(tmp_path / "data" / "landing").endpoints == {}


def test_a_project_key_is_refused_with_the_key_it_needs(server: VendorServer, tmp_path: Path) -> None:
    project_key = "sk-proj-" + "P" * 40
    report = _run("openai", tmp_path / "data", tmp_path / "wh.duckdb", _env(server, OPENAI_ADMIN_KEY=project_key))
    assert report.exit_code == 2
    assert "OPENAI_ADMIN_KEY" in report.error and "Admin key" in report.error and "HTTP 403" in report.error
    assert project_key not in report.error


def test_an_unreadable_page_is_kept_in_rejects_and_the_run_goes_on(server: VendorServer, tmp_path: Path) -> None:
    server.configure(malformed_every=4)
    data, wh = tmp_path / "data", tmp_path / "wh.duckdb"
    report = _run("openai", data, wh, _env(server), policy=RetryPolicy(attempts=1, timeout_s=5))
    assert report.exit_code == 3
    rejected = [json.loads(line) for line in (data / "landing" / ".rejected" / "rejects.jsonl").read_text()
                .splitlines()]
    assert rejected and "not valid JSON" in rejected[0]["reason"]
    assert Path(rejected[0]["file"]).is_file()
    server.configure(malformed_every=0)
    assert _run("openai", data, wh, _env(server)).exit_code == 0
    assert _totals(wh, "OpenAI")[0] == expected_spend(server.org, SINCE, NOW, vendor="openai")


def test_anthropic_pull_matches_the_vendor(server: VendorServer, tmp_path: Path) -> None:
    data, wh = tmp_path / "data", tmp_path / "wh.duckdb"
    report = _run("anthropic", data, wh, _env(server))
    assert report.exit_code == 0, (report.error, report.table())
    assert _totals(wh, "Anthropic")[0] == expected_spend(server.org, SINCE, NOW, vendor="anthropic")


def test_the_command_pulls_and_no_output_holds_the_key(server: VendorServer, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    for name, value in _env(server).items():
        monkeypatch.setenv(name, value)
    data, wh = tmp_path / "data", tmp_path / "wh"
    code = main(["pull", "openai", "--data", str(data), "--warehouse", str(wh), "--since", "2026-11-14",
                 "--hourly-days", "2"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "openai/usage_completions" in out.out and "complete" in out.out
    secret = OPENAI_KEY.encode()
    for path in [*data.rglob("*"), *wh.rglob("*")]:
        if path.is_file():
            assert secret not in path.read_bytes(), path
    assert OPENAI_KEY not in out.out + out.err
