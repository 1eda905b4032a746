"""Read ``LiteLLM_SpendLogs`` from the LiteLLM proxy's PostgreSQL, read-only, in ``startTime`` order.

* **Read-only, twice over**: the session starts with ``default_transaction_read_only=on`` and the query runs in a
  ``READ ONLY`` transaction; nothing is ever written to the gateway's database. A statement time-out bounds it.
* **Only what the loader reads**: the columns of :data:`finops_lib.sources._litellm_json.COLUMNS` that the table
  has (older LiteLLM versions lack ``session_id`` or ``status``: they are simply not selected). Prompts and
  responses (``messages``, ``response``, ``proxy_server_request``) are never selected.
* **Streaming**: a server-side cursor, so a million rows come in batches of ``batch_rows``.
* **Errors are sentences** without the password: a wrong DSN, a refused connection, a refused login, a missing
  table, a missing permission.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from finops_lib.errors import SourceError
from finops_lib.sources.litellm import FORMAT
from finops_lib.warehouse.privacy import mask_secrets

__all__ = ["TABLE", "SpendLogBatch", "fetch_spend_logs", "safe_dsn", "to_json_page"]

TABLE = "LiteLLM_SpendLogs"
#: The SpendLogs columns the LiteLLM reader uses (prompts and responses are not among them).
WANTED = ("request_id", "startTime", "endTime", "model", "spend", "prompt_tokens", "completion_tokens",
          "request_duration_ms", "call_type", "api_key", "model_group", "custom_llm_provider", "user", "end_user",
          "metadata", "request_tags", "team_id", "session_id", "status")  # fmt: skip
REQUIRED = ("request_id", "startTime", "model", "spend", "prompt_tokens", "completion_tokens")


@dataclass(frozen=True)
class SpendLogBatch:
    """Rows of one batch, as the LiteLLM JSON reader reads them, and the ``startTime`` range they cover."""

    records: list[dict[str, Any]]
    first_start: datetime
    last_start: datetime


def safe_dsn(dsn: str) -> str:
    """Return ``dsn`` with its password replaced by ``***`` (URL or key=value form).

    Examples
    --------
    >>> safe_dsn("postgresql://litellm:s3cret@db:5432/litellm")
    'postgresql://litellm:***@db:5432/litellm'
    >>> safe_dsn("host=db user=litellm password=s3cret dbname=litellm")
    'host=db user=litellm password=*** dbname=litellm'
    """
    try:
        parts = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(an unreadable DSN)"
    secret = parts.get("password")
    return dsn.replace(str(secret), "***") if secret else dsn


def _clean(text: str, dsn: str) -> str:
    try:
        secret = psycopg.conninfo.conninfo_to_dict(dsn).get("password")
    except psycopg.ProgrammingError:
        secret = None
    out = text.replace(str(secret), "***") if secret else text
    return mask_secrets(" ".join(out.split())) or ""


def _connect(dsn: str, timeout_s: float) -> psycopg.Connection:
    options = f"-c default_transaction_read_only=on -c statement_timeout={int(timeout_s * 1000)}"
    shown = safe_dsn(dsn)
    try:
        return psycopg.connect(dsn, options=options, connect_timeout=max(1, int(timeout_s)), autocommit=False)
    except psycopg.ProgrammingError:
        raise SourceError(shown, "LITELLM_DATABASE_URL is not a PostgreSQL DSN (postgresql://user:password@host:"
                          "5432/litellm)") from None  # fmt: skip
    except psycopg.OperationalError as exc:
        text = _clean(str(exc), dsn)
        if "password authentication failed" in text or "authentication" in text.lower():
            problem = "the database refused the login: check the user and password in LITELLM_DATABASE_URL"
        else:
            problem = f"cannot connect ({text[:200]}): is LITELLM_DATABASE_URL right, and the database up?"
        raise SourceError(shown, problem) from None


def _columns(cur: psycopg.Cursor, dsn: str) -> list[str]:
    cur.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s", [TABLE])
    present = {row[0] for row in cur.fetchall()}
    if not present:
        raise SourceError(safe_dsn(dsn), f"{TABLE} not found: is this the LiteLLM proxy's database (the one its "
                          "DATABASE_URL names)?")  # fmt: skip
    missing = [c for c in REQUIRED if c not in present]
    if missing:
        raise SourceError(safe_dsn(dsn), f"{TABLE} has no column {missing[0]!r}: not a LiteLLM spend log table")
    return [c for c in WANTED if c in present]


def _value(value: object) -> object:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, Decimal):
        return float(value)
    return value


def fetch_spend_logs(dsn: str, *, since: datetime, until: datetime | None = None, batch_rows: int = 50_000,
                     timeout_s: float = 30.0) -> Iterator[SpendLogBatch]:  # fmt: skip
    """Yield the rows with ``since <= "startTime" < until``, ordered by (``startTime``, ``request_id``), in batches.

    Raises
    ------
    SourceError
        With a sentence saying what is wrong (never the password).
    """
    con = _connect(dsn, timeout_s)
    try:
        with con.transaction():
            con.execute("SET TRANSACTION READ ONLY")
            with con.cursor() as cur:
                columns = _columns(cur, dsn)
            query = sql.SQL("SELECT {cols} FROM {table} WHERE {start} >= %s{until} ORDER BY {start}, {rid}").format(
                cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns), table=sql.Identifier(TABLE),
                start=sql.Identifier("startTime"), rid=sql.Identifier("request_id"),
                until=sql.SQL(" AND {} < %s").format(sql.Identifier("startTime")) if until else sql.SQL(""))
            params = [_naive(since), *([_naive(until)] if until else [])]
            with con.cursor(name="finops_spend_logs") as cur:
                cur.itersize = batch_rows
                cur.execute(query, params)
                while rows := cur.fetchmany(batch_rows):
                    records = [{c: _value(v) for c, v in zip(columns, row, strict=True)} for row in rows]
                    yield SpendLogBatch(records, _start(rows[0][1]), _start(rows[-1][1]))
    except psycopg.errors.InsufficientPrivilege:
        raise SourceError(safe_dsn(dsn), f"the database user may not read {TABLE}: GRANT SELECT ON "
                          f'"{TABLE}" TO <user>') from None  # fmt: skip
    except psycopg.Error as exc:
        raise SourceError(safe_dsn(dsn), f"reading {TABLE} failed: {_clean(str(exc), dsn)[:300]}") from None
    finally:
        con.close()


def _naive(moment: datetime) -> datetime:
    """LiteLLM's ``startTime`` is ``timestamp(3)`` without zone, in UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _start(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def to_json_page(batch: SpendLogBatch) -> bytes:
    """Return one batch as a JSON array of SpendLogs rows: a file the LiteLLM reader detects and loads."""
    body = json.dumps(batch.records, ensure_ascii=False, default=str)
    return body.encode("utf-8")


#: The format the landed pages are read as (for messages and tests).
LANDED_FORMAT = FORMAT
