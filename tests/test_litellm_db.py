"""``finops pull litellm``: the gateway's PostgreSQL read for real, read-only, incrementally, without prompts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from finops_lib import engine
from finops_lib.errors import SourceError
from finops_lib.live import PullOptions, PullState
from finops_lib.live.gateway import pull_litellm
from finops_lib.live.litellm_db import fetch_spend_logs, safe_dsn, to_json_page
from finops_lib.warehouse import ingest
from tests.postgres_server import PASSWORD, postgres_dsn  # noqa: F401 (the fixture)

# The table as Prisma creates it from LiteLLM's schema.prisma (model LiteLLM_SpendLogs; PostgreSQL provider).
DDL = """
CREATE TABLE IF NOT EXISTS "LiteLLM_SpendLogs" (
    "request_id" TEXT NOT NULL,
    "call_type" TEXT NOT NULL,
    "api_key" TEXT NOT NULL DEFAULT '',
    "spend" DOUBLE PRECISION NOT NULL DEFAULT 0.0,
    "total_tokens" INTEGER NOT NULL DEFAULT 0,
    "prompt_tokens" INTEGER NOT NULL DEFAULT 0,
    "completion_tokens" INTEGER NOT NULL DEFAULT 0,
    "startTime" TIMESTAMP(3) NOT NULL,
    "endTime" TIMESTAMP(3) NOT NULL,
    "completionStartTime" TIMESTAMP(3),
    "model" TEXT NOT NULL DEFAULT '',
    "model_id" TEXT DEFAULT '',
    "model_group" TEXT DEFAULT '',
    "custom_llm_provider" TEXT DEFAULT '',
    "api_base" TEXT DEFAULT '',
    "user" TEXT DEFAULT '',
    "metadata" JSONB DEFAULT '{}',
    "cache_hit" TEXT DEFAULT '',
    "cache_key" TEXT DEFAULT '',
    "request_tags" JSONB DEFAULT '[]',
    "team_id" TEXT,
    "organization_id" TEXT,
    "end_user" TEXT,
    "requester_ip_address" TEXT,
    "messages" JSONB DEFAULT '{}',
    "response" JSONB DEFAULT '{}',
    "session_id" TEXT,
    "status" TEXT,
    "request_duration_ms" INTEGER,
    "mcp_namespaced_tool_name" TEXT,
    "proxy_server_request" JSONB DEFAULT '{}',
    CONSTRAINT "LiteLLM_SpendLogs_pkey" PRIMARY KEY ("request_id")
);
CREATE INDEX IF NOT EXISTS "LiteLLM_SpendLogs_startTime_idx" ON "LiteLLM_SpendLogs"("startTime");
"""
PROMPT = "PROMPT-never-stored: summarise the board minutes"
T0 = datetime(2026, 11, 20, 9, 0)


def _rows(n: int, *, start: datetime = T0) -> list[tuple]:
    out = []
    for i in range(n):
        begin = start + timedelta(seconds=37 * i)
        meta = {"usage_object": {"prompt_tokens": 1000 + i, "completion_tokens": 50,
                                 "prompt_tokens_details": {"cached_tokens": 200}},
                "user_api_key_alias": f"key-{i % 3}", "user_api_key_team_alias": ["search", "support"][i % 2]}
        out.append((f"req-{i:05d}", "acompletion", f"hashed-key-{i % 3}", round(0.0015 + i * 1e-6, 9), 1050 + i,
                    1000 + i, 50, begin, begin + timedelta(seconds=2), "gpt-4o-mini", "openai",
                    json.dumps(meta), json.dumps(["team:search", f"app:bot{i % 2}"]), f"team-{i % 2}",
                    "failure" if i % 50 == 7 else "success", json.dumps({"content": PROMPT})))
    return out


@pytest.fixture()
def spend_logs(postgres_dsn: str) -> str:  # noqa: F811
    with psycopg.connect(postgres_dsn, autocommit=True) as con:
        con.execute('DROP TABLE IF EXISTS "LiteLLM_SpendLogs"')
        con.execute(DDL)
        with con.cursor() as cur:
            cur.executemany('INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, total_tokens, '
                            'prompt_tokens, completion_tokens, "startTime", "endTime", model, custom_llm_provider, '
                            'metadata, request_tags, team_id, status, messages) VALUES (%s, %s, %s, %s, %s, %s, %s, '
                            '%s, %s, %s, %s, %s, %s, %s, %s, %s)', _rows(2500))
    return postgres_dsn


def _sql(dsn: str, query: str) -> tuple:
    with psycopg.connect(dsn) as con:
        return con.execute(query).fetchone()


def test_batches_come_in_start_order_without_a_row_twice(spend_logs: str) -> None:
    batches = list(fetch_spend_logs(spend_logs, since=datetime(2026, 11, 20, tzinfo=UTC), batch_rows=1000))
    assert [len(b.records) for b in batches] == [1000, 1000, 500]
    ids = [r["request_id"] for b in batches for r in b.records]
    assert ids == [f"req-{i:05d}" for i in range(2500)]
    assert batches[0].first_start == T0.replace(tzinfo=UTC)
    assert batches[-1].last_start == (T0 + timedelta(seconds=37 * 2499)).replace(tzinfo=UTC)
    first = batches[0].records[0]
    assert "messages" not in first and "response" not in first
    assert first["startTime"] == "2026-11-20T09:00:00.000000Z" and first["metadata"]["user_api_key_alias"] == "key-0"


def test_since_and_until_select_exactly_the_window(spend_logs: str) -> None:
    since, until = (T0 + timedelta(seconds=37 * 100)).replace(tzinfo=UTC), (T0 + timedelta(seconds=37 * 200))
    rows = [r for b in fetch_spend_logs(spend_logs, since=since, until=until.replace(tzinfo=UTC)) for r in b.records]
    assert [r["request_id"] for r in rows] == [f"req-{i:05d}" for i in range(100, 200)]


def test_pages_load_through_the_reader_and_match_the_database(spend_logs: str, tmp_path: Path) -> None:
    batch = next(fetch_spend_logs(spend_logs, since=datetime(2026, 11, 20, tzinfo=UTC), batch_rows=5000))
    page = tmp_path / "page.json"
    page.write_bytes(to_json_page(batch))
    assert PROMPT.encode() not in page.read_bytes()
    con = engine.connect(warehouse=tmp_path / "wh.duckdb")
    try:
        summary = ingest([page], con=con)
        assert summary["status"].tolist() == ["loaded"] and int(summary["rows_rejected"].iloc[0]) == 0
        got = con.con.execute("SELECT count(*), sum(x_ReportedCost), count(*) FILTER (WHERE x_Status = 'failure') "
                              "FROM requests").fetchone()
    finally:
        con.disconnect()
    want = _sql(spend_logs, "SELECT count(*), sum(spend)::numeric, count(*) FILTER (WHERE status = 'failure') "
                            'FROM "LiteLLM_SpendLogs"')
    assert got[0] == want[0] == 2500 and got[2] == want[2] == 50
    assert abs(Decimal(str(got[1])) - Decimal(str(want[1]))) < Decimal("1e-6")


def test_the_connection_is_read_only(spend_logs: str) -> None:
    with psycopg.connect(spend_logs, options="-c default_transaction_read_only=on") as con, \
            pytest.raises(psycopg.errors.ReadOnlySqlTransaction):  # fmt: skip
        con.execute('DELETE FROM "LiteLLM_SpendLogs"')
    assert _sql(spend_logs, 'SELECT count(*) FROM "LiteLLM_SpendLogs"')[0] == 2500


def test_errors_are_sentences_without_the_password(spend_logs: str, postgres_dsn: str) -> None:  # noqa: F811
    wrong = postgres_dsn.replace(PASSWORD, "not-the-password-9")
    with pytest.raises(SourceError, match="refused the login") as err:
        list(fetch_spend_logs(wrong, since=T0))
    assert "not-the-password-9" not in str(err.value) and PASSWORD not in str(err.value)
    port = postgres_dsn.rsplit(":", 1)[1].split("/")[0]
    closed = postgres_dsn.replace(f":{port}/", ":9/")
    with pytest.raises(SourceError, match="cannot connect") as err:
        list(fetch_spend_logs(closed, since=T0, timeout_s=2))
    assert PASSWORD not in str(err.value)
    other = postgres_dsn.rsplit("/", 1)[0] + "/postgres"
    with pytest.raises(SourceError, match="LiteLLM_SpendLogs not found"):
        list(fetch_spend_logs(other, since=T0))
    assert PASSWORD not in safe_dsn(postgres_dsn)


def test_pull_litellm_is_incremental_and_never_double_counts(spend_logs: str, tmp_path: Path) -> None:
    data, wh = tmp_path / "data", tmp_path / "wh.duckdb"
    env = {"LITELLM_DATABASE_URL": spend_logs}

    def run() -> object:
        con = engine.connect(warehouse=wh)
        try:
            return pull_litellm(data, ingest=lambda files: ingest([str(f) for f in files], con=con), env=env,
                                options=PullOptions(since=datetime(2026, 11, 19, tzinfo=UTC),
                                                    lookback=timedelta(minutes=30)), batch_rows=1000)  # fmt: skip
        finally:
            con.disconnect()

    first = run()
    assert first.exit_code == 0, first.error
    state = PullState.load(data / "landing").get("litellm/spend_logs")
    assert state.complete_until == (T0 + timedelta(seconds=37 * 2499)).replace(tzinfo=UTC)
    # 10 rows written late (started before the last pulled row, within the look-back) and 10 new rows
    with psycopg.connect(spend_logs, autocommit=True) as con, con.cursor() as cur:
        cur.executemany('INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, total_tokens, '
                        'prompt_tokens, completion_tokens, "startTime", "endTime", model, custom_llm_provider, '
                        'metadata, request_tags, team_id, status, messages) VALUES (%s, %s, %s, %s, %s, %s, %s, '
                        '%s, %s, %s, %s, %s, %s, %s, %s, %s)',
                        [(f"late-{i}", *r[1:]) for i, r in enumerate(_rows(10, start=T0 + timedelta(hours=25.5)))]
                        + [(f"new-{i}", *r[1:]) for i, r in enumerate(_rows(10, start=T0 + timedelta(hours=26)))])
    second = run()
    assert second.exit_code == 0, second.error
    con = engine.connect(warehouse=wh, read_only=True)
    try:
        count, distinct = con.con.execute("SELECT count(*), count(DISTINCT x_RowHash) FROM requests").fetchone()
    finally:
        con.disconnect()
    assert count == distinct == 2520
    for path in [*data.rglob("*"), *tmp_path.glob("wh*")]:
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes() and PROMPT.encode() not in path.read_bytes(), path


def test_a_missing_dsn_says_where_it_is_read_from(tmp_path: Path) -> None:
    report = pull_litellm(tmp_path, ingest=lambda files: None, env={})  # type: ignore[arg-type,return-value]
    assert report.exit_code == 2 and "LITELLM_DATABASE_URL is not set" in report.error
