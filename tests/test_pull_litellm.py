"""``finops pull litellm`` end to end: a real PostgreSQL, incremental by startTime, re-pulls that never add."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import postgres_server as pg
import psycopg
import pytest

from finops_lib import engine
from finops_lib.live import PullOptions, PullReport, PullState
from finops_lib.live.gateway import pull_litellm
from finops_lib.warehouse import ingest

postgres_server = pg.postgres_server  # the session's server (fixture)

DDL = """
CREATE TABLE "LiteLLM_SpendLogs" (
    "request_id" TEXT NOT NULL, "call_type" TEXT NOT NULL, "api_key" TEXT NOT NULL DEFAULT '',
    "spend" DOUBLE PRECISION NOT NULL DEFAULT 0.0, "total_tokens" INTEGER NOT NULL DEFAULT 0,
    "prompt_tokens" INTEGER NOT NULL DEFAULT 0, "completion_tokens" INTEGER NOT NULL DEFAULT 0,
    "startTime" TIMESTAMP(3) NOT NULL, "endTime" TIMESTAMP(3) NOT NULL, "model" TEXT NOT NULL DEFAULT '',
    "custom_llm_provider" TEXT DEFAULT '', "metadata" JSONB DEFAULT '{}', "request_tags" JSONB DEFAULT '[]',
    "team_id" TEXT, "status" TEXT, "messages" JSONB DEFAULT '{}',
    CONSTRAINT "LiteLLM_SpendLogs_pkey" PRIMARY KEY ("request_id"));
"""
PROMPT = "PROMPT-never-stored: summarise the board minutes"
T0 = datetime(2026, 11, 20, 9, 0)
INSERT = ('INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, total_tokens, prompt_tokens, '
          'completion_tokens, "startTime", "endTime", model, custom_llm_provider, metadata, request_tags, team_id, '
          "status, messages) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")


def _rows(prefix: str, n: int, start: datetime) -> list[tuple]:
    out = []
    for i in range(n):
        begin = start + timedelta(seconds=37 * i)
        meta = {"usage_object": {"prompt_tokens": 1000, "completion_tokens": 50}, "user_api_key_alias": f"key-{i % 3}"}
        out.append((f"{prefix}-{i:05d}", "acompletion", f"hashed-key-{i % 3}", 0.0015, 1050, 1000, 50, begin,
                    begin + timedelta(seconds=2), "gpt-4o-mini", "openai", json.dumps(meta),
                    json.dumps(["team:search"]), "team-1", "success", json.dumps({"content": PROMPT})))
    return out


@pytest.fixture()
def gateway(postgres_server: pg.PostgresServer) -> pg.Database:
    database = pg.new_database(postgres_server, "finops_pull")
    with psycopg.connect(database.dsn, autocommit=True) as con, con.cursor() as cur:
        cur.execute(DDL)
        cur.executemany(INSERT, _rows("req", 2500, T0))
    return database


def _pull(data: Path, wh: Path, dsn: str) -> PullReport:
    con = engine.connect(warehouse=wh)
    try:
        return pull_litellm(data, ingest=lambda files: ingest([str(f) for f in files], con=con),
                            env={"LITELLM_DATABASE_URL": dsn}, batch_rows=1000,
                            options=PullOptions(since=datetime(2026, 11, 19, tzinfo=UTC),
                                                lookback=timedelta(minutes=30)))  # fmt: skip
    finally:
        con.disconnect()


def test_pull_litellm_is_incremental_and_never_double_counts(gateway: pg.Database, tmp_path: Path) -> None:
    data, wh = tmp_path / "data", tmp_path / "wh.duckdb"
    first = _pull(data, wh, gateway.dsn)
    assert first.exit_code == 0, first.error
    assert first.endpoints[0].pages == 3 and first.endpoints[0].results == 2500
    last = (T0 + timedelta(seconds=37 * 2499)).replace(tzinfo=UTC)
    assert PullState.load(data / "landing").get("litellm/spend_logs").complete_until == last
    # 10 rows written late (they started before the last pulled row, within the look-back) and 10 new rows
    with psycopg.connect(gateway.dsn, autocommit=True) as con, con.cursor() as cur:
        late, new = _rows("late", 10, T0 + timedelta(hours=25.5)), _rows("new", 10, T0 + timedelta(hours=26))
        cur.executemany(INSERT, late + new)
    second = _pull(data, wh, gateway.dsn)
    assert second.exit_code == 0, second.error
    assert int(second.ingest["rows_replaced"].sum()) > 0  # the look-back's rows, re-pulled, replaced
    con = engine.connect(warehouse=wh, read_only=True)
    try:
        count, distinct = con.con.execute("SELECT count(*), count(DISTINCT x_RowHash) FROM requests").fetchone()
    finally:
        con.disconnect()
    assert count == distinct == 2520
    for path in [*data.rglob("*"), wh]:
        if path.is_file():
            body = path.read_bytes()
            assert gateway.password.encode() not in body and PROMPT.encode() not in body, path


def test_an_unreachable_database_stops_with_nothing_landed(tmp_path: Path) -> None:
    report = _pull(tmp_path / "data", tmp_path / "wh.duckdb", "postgresql://u:pw-77x@127.0.0.1:9/litellm")
    assert report.exit_code == 2 and "pw-77x" not in report.error
    assert not list((tmp_path / "data").rglob("page-*.json"))
    assert PullState.load(tmp_path / "data" / "landing").endpoints == {}


def test_a_missing_dsn_says_where_it_is_read_from(tmp_path: Path) -> None:
    report = pull_litellm(tmp_path, ingest=lambda files: None, env={})  # type: ignore[arg-type,return-value]
    assert report.exit_code == 2 and "LITELLM_DATABASE_URL is not set" in report.error
