"""The LiteLLM gateway's ``LiteLLM_SpendLogs`` read straight from its PostgreSQL, read-only, in batches.

The LiteLLM proxy logs one row per request in ``LiteLLM_SpendLogs`` (Prisma model in LiteLLM's
``schema.prisma``; ``reference/formats.md`` section 7.1). :func:`fetch_spend_logs` streams the rows whose
``"startTime"`` lies in ``[since, until)``, ordered by ``("startTime", request_id)``, through a server-side
cursor, and :func:`to_json_page` writes a batch as JSON lines (one record a line), which the existing
loader (:mod:`finops_lib.sources.litellm`) detects and reads like any LiteLLM export.

Never a write: the session is opened with ``default_transaction_read_only=on`` and the query runs in a
``READ ONLY`` transaction; a statement timeout bounds each fetch. Only the columns the loader reads are
selected (never ``messages``, ``response`` or ``proxy_server_request``, which may hold prompts), and
``metadata`` is cut server-side to the keys the loader reads (``usage_object``, key and team aliases,
``spend_logs_metadata``...): LiteLLM may also keep the request itself there (``proxy_server_request``).
Columns that older LiteLLM versions lack (``session_id``, ``status``...) are selected only where present.

Errors are :class:`~finops_lib.errors.SourceError` sentences (a malformed DSN is a
:class:`~finops_lib.errors.ParameterError`) that never hold the password: they show :func:`safe_dsn`, and
no psycopg exception is chained to them (its text may echo the connection string).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from finops_lib.errors import ParameterError, SourceError
from finops_lib.sources._litellm_json import COLUMNS as LOADER_COLUMNS
from finops_lib.sources.litellm import META_SPEC, REQUIRED

TABLE = "LiteLLM_SpendLogs"
#: The environment variable the DSN comes from (named in the error sentences).
ENV = "LITELLM_DATABASE_URL"
#: The SpendLogs columns the loader reads (its own list), in the order written to a page: its required keys first.
COLUMNS = (*REQUIRED, *(c for c in LOADER_COLUMNS if c not in REQUIRED))
#: The ``metadata`` keys the loader reads (from its own spec): the rest of ``metadata`` is never fetched.
METADATA_KEYS = tuple(json.loads(META_SPEC))
_JSON_TYPES = ("json", "jsonb")
_TIMES = ("startTime", "endTime")
_URL = re.compile(r"^\s*[a-z][a-z0-9+.-]*://", re.I)
_URL_PASSWORD = re.compile(r"^(?P<head>[a-z][a-z0-9+.-]*://[^:@/?#]*:)(?P<pw>.*)(?P<tail>@.*)$", re.I | re.S)
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<pw>[^&#]*)", re.I)
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|\S*)", re.I)


@dataclass(frozen=True)
class SpendLogBatch:
    """One batch of SpendLogs rows, in ``("startTime", request_id)`` order.

    Attributes
    ----------
    records
        Each row as the JSON object of a LiteLLM SpendLogs export: the :data:`COLUMNS` present in the table,
        ``metadata`` and ``request_tags`` as JSON objects and arrays, times ISO 8601 in UTC with ``Z``.
    first_start, last_start
        The ``startTime`` of the first and the last row (UTC).
    """

    records: list[dict]
    first_start: datetime
    last_start: datetime


def safe_dsn(dsn: str) -> str:
    """Return the DSN with its password replaced by ``***`` (for messages), in URL or key=value form.

    Examples
    --------
    >>> safe_dsn("postgresql://gateway:s3cret@db.internal:5432/litellm")
    'postgresql://gateway:***@db.internal:5432/litellm'
    >>> safe_dsn("host=db.internal user=gateway password='s3 cret' dbname=litellm")
    'host=db.internal user=gateway password=*** dbname=litellm'
    """
    if _URL.match(dsn):
        return _QUERY_PASSWORD.sub(r"\g<head>***", _URL_PASSWORD.sub(r"\g<head>***\g<tail>", dsn))
    return _KV_PASSWORD.sub(r"\g<head>***", dsn)


def _passwords(dsn: str) -> list[str]:
    """Every form in which the DSN's password (or ``$PGPASSWORD``) may appear in a driver's message."""
    found = [m.group("pw") for rx in (_URL_PASSWORD, _QUERY_PASSWORD, _KV_PASSWORD) for m in rx.finditer(dsn)]
    with contextlib.suppress(psycopg.Error):
        found.append(conninfo_to_dict(dsn).get("password") or "")
    found.append(os.environ.get("PGPASSWORD", ""))
    forms = {f for pw in found if pw for f in (pw, unquote(pw), quote(pw, safe=""), pw.strip("'"))}
    return sorted((f for f in forms if f), key=len, reverse=True)


def scrub(text: str, dsn: str) -> str:
    """Return a message with every form of the DSN's password replaced by ``***``.

    Examples
    --------
    >>> scrub('FATAL: role "s3cret" does not exist', "host=h password=s3cret")
    'FATAL: role "***" does not exist'
    """
    for secret in _passwords(dsn):
        text = text.replace(secret, "***")
    return text


def _conninfo(dsn: str, timeout_s: float) -> tuple[str, dict[str, str]]:
    """Return the connection string with the read-only and time-out options added, and its parsed parameters.

    Raises
    ------
    ParameterError
        When the DSN cannot be parsed (the message holds no part of it).
    """
    shown = f"{ENV} ({safe_dsn(dsn)})" if dsn.strip() else ENV
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        raise ParameterError(
            f"{ENV} is not a PostgreSQL connection string: expected postgresql://USER:PASSWORD@HOST:5432/DBNAME "
            "or key=value pairs (host=... dbname=... user=...); percent-encode special characters in the password"
        ) from None
    if "@" in params.get("host", ""):
        raise ParameterError(f"{shown} holds more than one '@': percent-encode '@' in the password as %40")
    statement_ms = max(1, math.ceil(timeout_s * 1000))
    ours = f"-c default_transaction_read_only=on -c statement_timeout={statement_ms} -c TimeZone=UTC"
    options = f"{params['options']} {ours}" if params.get("options") else ours
    conninfo = make_conninfo(
        dsn,
        options=options,
        connect_timeout=str(max(2, math.ceil(timeout_s))),
        application_name=params.get("application_name") or "finops-workbench",
    )
    return conninfo, params


_UNREACHABLE = (
    "connection refused|timeout expired|timed out|resolve host|translate host name|no such file|unreachable|no route"
)
#: (words of a connection error, the sentence; ``{where}`` is host:port, ``{user}``, ``{db}``), first match wins.
CONNECT_ERRORS = (
    (("authentication failed",), f"authentication failed for user {{user!r}}: check the user and password in {ENV}"),
    (("no pg_hba.conf entry",), "the server refuses user {user!r} from this machine (pg_hba.conf): ask its admin"),
    (("does not exist",), f"database {{db!r}} or user {{user!r}} does not exist on {{where}}: is {ENV} right?"),
    (
        tuple(_UNREACHABLE.split("|")),
        f"cannot reach the LiteLLM database at {{where}} (refused, unknown host or time-out): is {ENV} right?",
    ),
)


def _connect_error(exc: psycopg.Error, dsn: str, params: dict[str, str]) -> SourceError:
    """Return the sentence for a failed connection (never the driver's text where it could echo the DSN)."""
    text = str(exc).lower()
    where = f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}"
    fields = {"where": where, "user": params.get("user", ""), "db": params.get("dbname", "")}
    for words, sentence in CONNECT_ERRORS:
        if any(w in text for w in words):
            return SourceError(safe_dsn(dsn), sentence.format(**fields))
    return SourceError(safe_dsn(dsn), f"cannot connect to the LiteLLM database: {scrub(str(exc).strip(), dsn)}")


def connect_read_only(dsn: str, *, timeout_s: float = 30.0) -> psycopg.Connection:
    """Open a read-only connection to the LiteLLM database (every transaction ``READ ONLY``).

    Parameters
    ----------
    dsn
        A libpq connection string or URL (``postgresql://user:password@host:5432/litellm``).
    timeout_s
        Connection time-out and statement timeout, in seconds.

    Returns
    -------
    psycopg.Connection
        Opened with ``-c default_transaction_read_only=on -c statement_timeout=... -c TimeZone=UTC`` and
        ``read_only`` set, so a write fails on the server (``ReadOnlySqlTransaction``).

    Raises
    ------
    ParameterError
        When the DSN is malformed.
    SourceError
        When the server cannot be reached or refuses the user.
    """
    conninfo, params = _conninfo(dsn, timeout_s)
    try:
        conn = psycopg.connect(conninfo)
    except psycopg.Error as exc:
        raise _connect_error(exc, dsn, params) from None
    conn.read_only = True
    return conn


def table_columns(conn: psycopg.Connection, *, shown: str = "the LiteLLM database") -> dict[str, str]:
    """Return the SpendLogs columns present (name -> type) among :data:`COLUMNS`.

    Read from ``pg_catalog``, not ``information_schema``: the latter hides a table the user may not read,
    which would report a permission problem as a missing table.

    Raises
    ------
    SourceError
        When the table is not found on the search path, or lacks a column the loader requires.
    """
    rows = conn.execute(
        "SELECT a.attname, a.atttypid::regtype::text FROM pg_catalog.pg_attribute a "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
        [f'"{TABLE}"'],
    ).fetchall()
    if not rows:
        raise SourceError(shown, f"{TABLE} not found: is this the LiteLLM proxy's database?")
    present = {name: kind for name, kind in rows if name in COLUMNS}
    missing = [c for c in REQUIRED if c not in present]
    if missing:
        raise SourceError(shown, f"{TABLE} lacks the column(s) {', '.join(missing)}: not a LiteLLM SpendLogs table")
    return present


def _select(present: dict[str, str], *, bounded: bool) -> sql.Composed:
    """Return the SELECT of the present columns in the window, ``metadata`` cut to :data:`METADATA_KEYS`."""
    items = []
    for name in (c for c in COLUMNS if c in present):
        column = sql.Identifier(name)
        if name == "metadata" and present[name] in _JSON_TYPES:
            meta = sql.SQL("{}::jsonb").format(column)
            items.append(
                sql.SQL(
                    "CASE WHEN jsonb_typeof({m}) = 'object' THEN coalesce((SELECT jsonb_object_agg(e.k, e.v) "
                    "FROM jsonb_each({m}) AS e(k, v) WHERE e.k = ANY(%(keys)s)), '{{}}'::jsonb) ELSE {m} END AS {c}"
                ).format(m=meta, c=column)
            )
        else:
            items.append(column)
    start = sql.Identifier("startTime")
    until = sql.SQL(" AND {} < %(until)s").format(start) if bounded else sql.SQL("")
    return sql.SQL("SELECT {cols} FROM {table} WHERE {start} >= %(since)s{until} ORDER BY {start}, {rid}").format(
        cols=sql.SQL(", ").join(items),
        table=sql.Identifier(TABLE),
        start=start,
        until=until,
        rid=sql.Identifier("request_id"),
    )


def _utc(moment: datetime) -> datetime:
    """Return a time as aware UTC (a naive time is UTC: LiteLLM writes ``startTime`` as UTC without a zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _param(moment: datetime, column_type: str) -> datetime:
    """Return a bound for ``"startTime"``: naive UTC against ``timestamp`` (keeps its index), aware UTC otherwise."""
    aware = _utc(moment)
    return aware.replace(tzinfo=None) if column_type.startswith("timestamp without") else aware


def _iso(moment: datetime) -> str:
    """Return ISO 8601 in UTC with ``Z``, to the microsecond (as a LiteLLM JSON export writes it)."""
    return _utc(moment).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _record(names: list[str], row: tuple) -> dict[str, Any]:
    """Return one row as a SpendLogs JSON record (times as ISO text; JSON columns as objects; values as read)."""
    return {n: _iso(v) if n in _TIMES and isinstance(v, datetime) else v for n, v in zip(names, row, strict=True)}


def _query_error(exc: psycopg.Error, dsn: str, timeout_s: float) -> SourceError:
    """Return the sentence for a failed query (the driver's text scrubbed of the password)."""
    shown = safe_dsn(dsn)
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return SourceError(
            shown,
            f'permission denied reading {TABLE}: grant the user SELECT on it (GRANT SELECT ON "{TABLE}" TO <user>)',
        )
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return SourceError(
            shown,
            f"reading {TABLE} took longer than the statement timeout of {timeout_s:g} s: "
            "raise the timeout or pull a shorter window",
        )
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return SourceError(shown, f"{TABLE} not found: is this the LiteLLM proxy's database?")
    if isinstance(exc, psycopg.OperationalError):
        return SourceError(
            shown,
            f"the connection to the LiteLLM database was lost while reading {TABLE}: {scrub(str(exc).strip(), dsn)}",
        )
    return SourceError(shown, f"reading {TABLE} failed: {scrub(str(exc).strip(), dsn)}")


def _check_window(since: datetime, until: datetime | None, batch_rows: int) -> None:
    if not isinstance(since, datetime) or (until is not None and not isinstance(until, datetime)):
        raise ParameterError("since and until must be datetimes (naive ones are taken as UTC)")
    if until is not None and _utc(until) <= _utc(since):
        raise ParameterError(f"until ({_iso(until)}) must be after since ({_iso(since)})")
    if batch_rows < 1:
        raise ParameterError(f"batch_rows must be at least 1, not {batch_rows}")


def fetch_spend_logs(
    dsn: str,
    *,
    since: datetime,
    until: datetime | None = None,
    batch_rows: int = 50_000,
    timeout_s: float = 30.0,
) -> Iterator[SpendLogBatch]:
    """Yield the SpendLogs rows with since <= "startTime" < until, ordered by ("startTime", request_id), in batches.

    Parameters
    ----------
    dsn
        The LiteLLM proxy's database (``$LITELLM_DATABASE_URL``).
    since, until
        The window of ``"startTime"`` (``until`` None: no upper bound); naive times are UTC.
    batch_rows
        Rows per batch (fetched from a server-side cursor, so memory holds one batch).
    timeout_s
        Connection time-out and statement timeout (each fetch), in seconds.

    Yields
    ------
    SpendLogBatch
        Non-empty batches, in order, no row twice.

    Raises
    ------
    ParameterError
        A malformed DSN or window.
    SourceError
        The server unreachable, the user refused, the table missing or not readable, a fetch timed out.
    """
    _check_window(since, until, batch_rows)
    with connect_read_only(dsn, timeout_s=timeout_s) as conn:
        try:
            present = table_columns(conn, shown=safe_dsn(dsn))
            kind = present["startTime"]
            params = {
                "since": _param(since, kind),
                "until": _param(until, kind) if until else None,
                "keys": list(METADATA_KEYS),
            }
            with conn.cursor(name="finops_spend_logs") as cur:
                cur.execute(_select(present, bounded=until is not None), params)
                names = [d.name for d in cur.description or ()]
                while rows := cur.fetchmany(batch_rows):
                    records = [_record(names, row) for row in rows]
                    start = names.index("startTime")
                    yield SpendLogBatch(records, _utc(rows[0][start]), _utc(rows[-1][start]))
        except psycopg.Error as exc:
            raise _query_error(exc, dsn, timeout_s) from None


def to_json_page(batch: SpendLogBatch) -> bytes:
    r"""Return a batch as JSON lines: one SpendLogs record a line, UTF-8, each line ending in a newline.

    The container of LiteLLM's Pub/Sub logger, which the existing loader detects as ``litellm_spend_logs`` and
    reads record by record (``x_SourceRow`` is the line). Pages written one after another into one file stay
    valid JSON lines. The detection keys come first in each record.

    Examples
    --------
    >>> start = datetime(2025, 3, 24, 9, tzinfo=UTC)
    >>> page = to_json_page(SpendLogBatch([{"request_id": "r1", "spend": 0.5}], start, start))
    >>> page
    b'{"request_id":"r1","spend":0.5}\n'
    """
    return b"".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for r in batch.records)
