"""The LiteLLM gateway's PostgreSQL, read-only: a real server, the table made by LiteLLM's own DDL, hand-written rows.

The DDL is LiteLLM's migration for the Prisma model ``LiteLLM_SpendLogs`` (``schema.prisma``; the SQL of
``litellm-proxy-extras`` ``migrations/0_init/migration.sql``, with the model's indexes); the "old" table is the
same table as the 2025-03 baseline migration created it (no ``session_id``, ``status``, ``organization_id``,
``mcp_namespaced_tool_name``, ``agent_id``, ``proxy_server_request``, ``request_duration_ms``).
"""

from __future__ import annotations

import json
import traceback
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import postgres_server as pg
import psycopg
import pytest

from finops_lib import engine
from finops_lib.errors import ParameterError, SourceError
from finops_lib.live import litellm_db
from finops_lib.live.litellm_db import fetch_spend_logs, safe_dsn, to_json_page
from finops_lib.sources import _litellm_json
from finops_lib.warehouse import ingest

postgres_server = pg.postgres_server  # the session's server (fixture)
postgres_database = pg.postgres_database  # a fresh database with a password-authenticated owner (fixture)

SPEND_LOGS_DDL = """
CREATE TABLE "LiteLLM_SpendLogs" (
    "request_id" TEXT NOT NULL,
    "call_type" TEXT NOT NULL,
    "api_key" TEXT NOT NULL DEFAULT '',
    "spend" DOUBLE PRECISION NOT NULL DEFAULT 0.0,
    "total_tokens" INTEGER NOT NULL DEFAULT 0,
    "prompt_tokens" INTEGER NOT NULL DEFAULT 0,
    "completion_tokens" INTEGER NOT NULL DEFAULT 0,
    "startTime" TIMESTAMP(3) NOT NULL,
    "endTime" TIMESTAMP(3) NOT NULL,
    "request_duration_ms" INTEGER,
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
    "mcp_namespaced_tool_name" TEXT,
    "agent_id" TEXT,
    "proxy_server_request" JSONB DEFAULT '{}',

    CONSTRAINT "LiteLLM_SpendLogs_pkey" PRIMARY KEY ("request_id")
);
CREATE INDEX "LiteLLM_SpendLogs_startTime_idx" ON "LiteLLM_SpendLogs"("startTime");
CREATE INDEX "LiteLLM_SpendLogs_startTime_request_id_idx" ON "LiteLLM_SpendLogs"("startTime", "request_id");
CREATE INDEX "LiteLLM_SpendLogs_end_user_idx" ON "LiteLLM_SpendLogs"("end_user");
CREATE INDEX "LiteLLM_SpendLogs_session_id_idx" ON "LiteLLM_SpendLogs"("session_id");
"""
#: The table as LiteLLM's 2025-03 baseline created it (before request_duration_ms, session_id, status...).
OLD_DDL = """
CREATE TABLE "LiteLLM_SpendLogs" (
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
    "end_user" TEXT,
    "requester_ip_address" TEXT,
    "messages" JSONB DEFAULT '{}',
    "response" JSONB DEFAULT '{}',

    CONSTRAINT "LiteLLM_SpendLogs_pkey" PRIMARY KEY ("request_id")
);
"""
PROMPT = "PROMPT-7f3a: summarise the confidential merger memo for Project Heron"


def _usage(prompt: int, completion: int, *, read: int = 0, write: int = 0, reasoning: int | None = None) -> dict:
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": read},
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": write,
    }
    if reasoning is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def _row(
    rid: str,
    start: str,
    *,
    key: str,
    team: str,
    model: str,
    spend: float,
    prompt: int,
    completion: int,
    tags: list[str],
    usage: dict,
    status: str = "success",
    call: str = "acompletion",
    extra_meta: dict | None = None,
) -> dict:
    meta = {
        "usage_object": usage,
        "user_api_key_alias": f"alias-{key}",
        "user_api_key_team_alias": team,
        "user_api_key_user_id": f"user-{team}",
        "model_map_information": {"model_map_key": model},
        **(extra_meta or {}),
    }
    begin = datetime.fromisoformat(start)
    return {
        "request_id": rid,
        "call_type": call,
        "api_key": key,
        "spend": spend,
        "total_tokens": prompt + completion,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "startTime": begin,
        "endTime": begin + timedelta(seconds=1.2),
        "request_duration_ms": 1200,
        "model": model,
        "model_group": model,
        "custom_llm_provider": "openai" if model.startswith(("gpt", "text")) else "anthropic",
        "user": "",
        "metadata": json.dumps(meta),
        "request_tags": json.dumps(tags),
        "team_id": team,
        "end_user": f"end-{team}",
        "messages": json.dumps([{"role": "user", "content": PROMPT}]),
        "response": json.dumps({"text": PROMPT}),
        "proxy_server_request": json.dumps({"messages": [{"role": "user", "content": PROMPT}]}),
        "session_id": f"sess-{team}",
        "status": status,
    }


#: Hand-written rows: three teams and keys, cache reads and writes, a failure, tags; prompts in messages/response
#: and inside metadata (proxy_server_request, error_information), which must never come out.
ROWS = [
    _row(
        "req-z0",
        "2025-03-24 08:59:59.999",
        key="hk_a",
        team="team-a",
        model="gpt-4o",
        spend=0.5,
        prompt=10,
        completion=1,
        tags=[],
        usage=_usage(10, 1),
    ),
    _row(
        "req-a1",
        "2025-03-24 09:00:00.000",
        key="hk_a",
        team="team-a",
        model="gpt-4o",
        spend=0.0125,
        prompt=1000,
        completion=200,
        tags=["team:search", "env:prod"],
        usage=_usage(1000, 200, read=400),
    ),
    _row(
        "req-a2",
        "2025-03-24 09:30:00.500",
        key="hk_a",
        team="team-a",
        model="claude-3-7-sonnet-20250219",
        spend=0.03,
        prompt=2095,
        completion=503,
        tags=["team:search"],
        usage=_usage(2095, 503, read=1000, write=500),
        extra_meta={"proxy_server_request": {"body": {"messages": [{"content": PROMPT}]}}},
    ),
    _row(
        "req-b2",
        "2025-03-24 10:00:00.000",
        key="hk_b",
        team="team-b",
        model="gpt-4o-mini",
        spend=0.002,
        prompt=300,
        completion=100,
        tags=["team:ads"],
        usage=_usage(300, 100, reasoning=40),
    ),
    _row(
        "req-b1",
        "2025-03-24 10:00:00.000",
        key="hk_b",
        team="team-b",
        model="gpt-4o-mini",
        spend=0.0,
        prompt=50,
        completion=0,
        tags=["team:ads"],
        usage=_usage(50, 0),
        status="failure",
        extra_meta={"error_information": {"error_message": PROMPT}},
    ),
    _row(
        "req-a3",
        "2025-03-24 10:30:00.250",
        key="hk_a",
        team="team-a",
        model="text-embedding-3-small",
        spend=0.0004,
        prompt=2000,
        completion=0,
        tags=[],
        usage=_usage(2000, 0),
        call="aembedding",
    ),
    _row(
        "req-c1",
        "2025-03-24 11:59:59.999",
        key="hk_c",
        team="team-c",
        model="gpt-4o",
        spend=0.0071,
        prompt=500,
        completion=150,
        tags=["team:infra", "feature:chat"],
        usage=_usage(500, 150),
    ),
    _row(
        "req-c2",
        "2025-03-24 12:00:00.000",
        key="hk_c",
        team="team-c",
        model="gpt-4o",
        spend=0.25,
        prompt=10,
        completion=1,
        tags=[],
        usage=_usage(10, 1),
    ),
]
SINCE = datetime(2025, 3, 24, 9, tzinfo=UTC)
UNTIL = datetime(2025, 3, 24, 12, tzinfo=UTC)
#: The window [09:00, 12:00) by hand: (startTime, request_id) order; req-z0 is before, req-c2 at the end (excluded).
EXPECTED = ["req-a1", "req-a2", "req-b1", "req-b2", "req-a3", "req-c1"]


def _insert(conn: psycopg.Connection, table: str, rows: list[dict]) -> None:
    """Insert rows into the columns the table has (an older table lacks some)."""
    present = {
        c
        for (c,) in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
            [table],
        ).fetchall()
    }
    names = [c for c in rows[0] if c in present]
    columns = ", ".join(f'"{c}"' for c in names)
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(names))})",
            [[r[c] for c in names] for r in rows],
        )


@pytest.fixture(scope="module")
def gateway(postgres_database: pg.Database) -> pg.Database:
    """The gateway's database: LiteLLM's table in ``public`` with :data:`ROWS`; 2,500 rows in schema ``bulk``;
    the old table in schema ``old``; an empty schema ``empty``; a role with no SELECT on the table."""
    bulk = [
        {
            **ROWS[0],
            "request_id": f"bulk-{i:05d}",
            "startTime": datetime(2025, 4, 1) + timedelta(seconds=i // 3),
            "endTime": datetime(2025, 4, 1, 1),
        }
        for i in range(2500)
    ]
    with psycopg.connect(postgres_database.dsn, autocommit=True) as conn:
        for schema in ("bulk", "old", "empty"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute("DROP SCHEMA IF EXISTS slow CASCADE")
        conn.execute('DROP TABLE IF EXISTS public."LiteLLM_SpendLogs"')
        for schema, ddl, rows in (
            ("bulk", SPEND_LOGS_DDL, bulk),
            ("old", OLD_DDL, ROWS[:3]),
            ("public", SPEND_LOGS_DDL, ROWS),
        ):
            conn.execute(f"SET search_path = {schema}")
            conn.execute(ddl)
            _insert(conn, f'{schema}."LiteLLM_SpendLogs"', rows)
        conn.execute("CREATE SCHEMA slow")  # a relation that takes a second a row: for the statement timeout
        conn.execute(
            'CREATE VIEW slow."LiteLLM_SpendLogs" AS SELECT s.* FROM public."LiteLLM_SpendLogs" s '
            "CROSS JOIN LATERAL (SELECT pg_sleep(1)) AS z"
        )
    postgres_database.server.admin(
        "DROP ROLE IF EXISTS finops_nobody",
        "CREATE ROLE finops_nobody LOGIN PASSWORD 'nobody-pw-91f2'",
        f"GRANT CONNECT ON DATABASE {postgres_database.name} TO finops_nobody",
    )
    return postgres_database


def _with_schema(dsn: str, schema: str) -> str:
    return f"{dsn}?options=-c%20search_path%3D{schema}"


def _fetch(dsn: str, **kw) -> list[litellm_db.SpendLogBatch]:
    return list(fetch_spend_logs(dsn, **{"since": SINCE, "until": UNTIL, **kw}))


def test_the_window_gives_exactly_its_rows_in_start_time_then_request_id_order(gateway):
    batches = _fetch(gateway.dsn)
    assert [r["request_id"] for b in batches for r in b.records] == EXPECTED
    assert batches[0].first_start == datetime(2025, 3, 24, 9, tzinfo=UTC)
    assert batches[-1].last_start == datetime(2025, 3, 24, 11, 59, 59, 999000, tzinfo=UTC)
    # no upper bound: req-c2 (12:00) too; a since after everything: nothing at all
    open_ended = [r["request_id"] for b in fetch_spend_logs(gateway.dsn, since=SINCE) for r in b.records]
    assert open_ended == [*EXPECTED, "req-c2"]
    assert list(fetch_spend_logs(gateway.dsn, since=datetime(2030, 1, 1))) == []


def test_records_are_export_rows_without_any_prompt(gateway):
    records = {r["request_id"]: r for b in _fetch(gateway.dsn) for r in b.records}
    a2 = records["req-a2"]
    assert a2["startTime"] == "2025-03-24T09:30:00.500000Z" and a2["spend"] == 0.03
    assert a2["request_tags"] == ["team:search"] and records["req-b1"]["status"] == "failure"
    assert a2["metadata"]["usage_object"]["cache_creation_input_tokens"] == 500
    assert set(a2["metadata"]) == {
        "usage_object",
        "user_api_key_alias",
        "user_api_key_team_alias",
        "user_api_key_user_id",
    }  # model_map_information, proxy_server_request cut
    assert set(a2) == set(_litellm_json.COLUMNS)  # the loader's columns, nothing else (no messages/response)
    page = to_json_page(_fetch(gateway.dsn)[0]).decode()
    assert "PROMPT-7f3a" not in page and "Heron" not in page and "merger" not in page


def test_page_loads_through_the_real_loader_with_the_database_s_own_totals(gateway, tmp_path):
    pages = tmp_path / "landing"
    pages.mkdir()
    for i, batch in enumerate(_fetch(gateway.dsn, batch_rows=4)):
        (pages / f"page-{i}.json").write_bytes(to_json_page(batch))
    con = engine.connect(warehouse=tmp_path / "wh")
    summary = ingest([pages], con=con)
    assert summary.status.tolist() == ["loaded", "loaded"] and summary.rows_rejected.sum() == 0
    with psycopg.connect(gateway.dsn) as pg:  # the database's own figures, computed independently by SQL
        n, spend = pg.execute(
            'SELECT count(*), sum(spend::numeric) FROM "LiteLLM_SpendLogs" '
            'WHERE "startTime" >= %s AND "startTime" < %s',
            [SINCE.replace(tzinfo=None), UNTIL.replace(tzinfo=None)],
        ).fetchone()
    assert (n, spend) == (6, Decimal("0.0520"))  # by hand: 0.0125 + 0.03 + 0 + 0.002 + 0.0004 + 0.0071
    rows = (
        con.sql(
            "SELECT x_RequestId, x_Team, x_Status, x_ReportedCost, x_InputUncachedTokens, "
            "x_InputCacheReadTokens, x_InputCacheWrite5mTokens, x_OutputReasoningTokens, x_Operation "
            "FROM requests ORDER BY x_RequestId"
        )
        .to_pandas()
        .set_index("x_RequestId")
    )
    assert len(rows) == n and sum(rows.x_ReportedCost) == spend
    assert rows.loc[
        "req-a2", ["x_InputUncachedTokens", "x_InputCacheReadTokens", "x_InputCacheWrite5mTokens"]
    ].tolist() == [595, 1000, 500]  # 2095 - 1000 - 500
    assert rows.loc["req-a1", ["x_InputUncachedTokens", "x_InputCacheReadTokens"]].tolist() == [600, 400]
    assert rows.loc["req-b2", "x_OutputReasoningTokens"] == 40
    assert rows.x_Status.to_dict() == {r: "failure" if r == "req-b1" else "success" for r in sorted(EXPECTED)}
    assert rows.x_Team.to_dict() == {
        "req-a1": "search",
        "req-a2": "search",
        "req-a3": "team-a",
        "req-b1": "ads",
        "req-b2": "ads",
        "req-c1": "infra",
    }
    assert rows.loc["req-a3", "x_Operation"] == "embedding"
    assert "PROMPT-7f3a" not in con.table("requests").to_pandas().astype(str).to_csv()
    con.disconnect()


def test_batches_stream_in_order_with_no_row_twice(gateway):
    batches = list(fetch_spend_logs(_with_schema(gateway.dsn, "bulk"), since=datetime(2025, 4, 1), batch_rows=1000))
    assert [len(b.records) for b in batches] == [1000, 1000, 500]
    ids = [r["request_id"] for b in batches for r in b.records]
    assert ids == [f"bulk-{i:05d}" for i in range(2500)] and len(set(ids)) == 2500
    assert batches[0].last_start <= batches[1].first_start and batches[1].last_start <= batches[2].first_start
    assert batches[2].last_start == datetime(2025, 4, 1, 0, 13, 53, tzinfo=UTC)  # row 2499 at 2499 // 3 = 833 s


def test_the_connection_is_read_only(gateway):
    with litellm_db.connect_read_only(gateway.dsn) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        assert conn.execute("SHOW transaction_read_only").fetchone() == ("on",)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute('DELETE FROM "LiteLLM_SpendLogs"')
    with litellm_db.connect_read_only(gateway.dsn) as conn:  # even a transaction asking for writes is refused
        conn.read_only = False
        conn.autocommit = True
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE finops_was_here (x int)")
    with psycopg.connect(gateway.dsn) as pg:
        assert pg.execute('SELECT count(*) FROM "LiteLLM_SpendLogs"').fetchone() == (len(ROWS),)


def test_an_older_table_without_the_newer_columns_is_read(gateway):
    records = [r for b in _fetch(_with_schema(gateway.dsn, "old")) for r in b.records]
    assert [r["request_id"] for r in records] == ["req-a1", "req-a2"]
    assert {"session_id", "status", "request_duration_ms"}.isdisjoint(records[0])
    assert records[1]["metadata"]["usage_object"]["cache_read_input_tokens"] == 1000


def _error(dsn: str, exc: type = SourceError) -> str:
    with pytest.raises(exc) as info:
        _fetch(dsn)
    shown = "".join(traceback.format_exception(info.value))  # the message, its cause and context, as printed
    assert info.value.__cause__ is None and (info.value.__context__ is None or info.value.__suppress_context__)
    return shown


def test_errors_are_sentences_without_the_password(gateway, postgres_server):
    server, pw = postgres_server, gateway.password
    wrong = server.dsn(gateway.user, "not-the-pw-4411", gateway.name)
    message = _error(wrong)
    assert "authentication failed" in message and "not-the-pw-4411" not in message and "***" in message
    refused = _error(server.dsn(gateway.user, pw, gateway.name, port=1))
    assert "is LITELLM_DATABASE_URL right?" in refused and "127.0.0.1:1" in refused and pw not in refused
    missing = _error(_with_schema(gateway.dsn, "empty"))
    assert "LiteLLM_SpendLogs not found: is this the LiteLLM proxy's database?" in missing and pw not in missing
    denied = _error(server.dsn("finops_nobody", "nobody-pw-91f2", gateway.name))
    assert "permission denied" in denied and "nobody-pw-91f2" not in denied
    assert pw not in _error(f"postgresql://{gateway.user}:{pw}@127.0.0.1:{server.port}/no_such_db")
    bad = _error(f"host=127.0.0.1 password={pw} this-is-not-a-pair", ParameterError)
    assert "not a PostgreSQL connection string" in bad and pw not in bad
    two_at = _error(f"postgresql://{gateway.user}:{pw}@x@127.0.0.1/db", ParameterError)
    assert "%40" in two_at and pw not in two_at


def test_a_slow_read_stops_at_the_statement_timeout(gateway):
    started = datetime.now(UTC)
    with pytest.raises(SourceError, match=r"longer than the statement timeout of 0\.3 s") as info:
        _fetch(_with_schema(gateway.dsn, "slow"), timeout_s=0.3)
    assert (datetime.now(UTC) - started).total_seconds() < 3 and gateway.password not in str(info.value)


def test_safe_dsn_hides_the_password_in_every_form():
    assert safe_dsn("postgresql://u:p%40ss@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert (
        safe_dsn("postgresql://u@h/d?password=sek&sslmode=require") == "postgresql://u@h/d?password=***&sslmode=require"
    )
    assert safe_dsn("host=h password='a b c' user=u") == "host=h password=*** user=u"
    assert safe_dsn("postgresql://h:5432/d") == "postgresql://h:5432/d"


def test_the_columns_are_the_loader_s():
    assert set(litellm_db.COLUMNS) == set(_litellm_json.COLUMNS)
