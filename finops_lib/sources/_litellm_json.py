"""LiteLLM spend logs written as JSON, staged as the text columns the CSV path reads.

LiteLLM emits the same ``LiteLLM_SpendLogs`` rows as JSON in several containers:

* ``GET /spend/logs``: a JSON array of row objects;
* ``GET /spend/logs/v2`` and ``/spend/logs/ui``: a page ``{"data": [...], "total", "page", "page_size",
  "total_pages"}``;
* one row object per line (JSON lines): the Pub/Sub logger (``gcs_pub_sub_use_v1``) and objects
  collected from a bucket;
* a single object: one GCS/S3 bucket logger object.

The GCS and S3 bucket loggers and the Pub/Sub logger (v2) write LiteLLM's ``StandardLoggingPayload``
instead of a SpendLogs row. The difference is small and mapped here: ``id`` is the request id,
``response_cost`` the spend, ``startTime``/``endTime`` are Unix seconds (floats), the key hash, team and
organisation are ``metadata.user_api_key_hash``/``_team_id``/``_org_id``, and ``trace_id`` is the session
(as LiteLLM itself derives the SpendLogs row). ``metadata.usage_object`` is where the SpendLogs row keeps it.

Every value becomes the text a CSV dump of the same row holds: objects and arrays (``metadata``,
``request_tags``) their JSON text, numbers their digits, an empty string or null an empty (NULL) cell, a
Unix time an ISO-8601 UTC time. So the reader's one SQL turns both into identical rows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
from ibis.backends import BaseBackend

from finops_lib.errors import SourceError
from finops_lib.sources._common import Fault, reject, unix_in_window
from finops_lib.sources._genai import Document, line_document, read_documents
from finops_lib.sources._sql import ident

#: SpendLogs columns the reader's SQL reads (the CSV path stages the same names as text).
COLUMNS = (
    "request_id",
    "startTime",
    "endTime",
    "model",
    "spend",
    "prompt_tokens",
    "completion_tokens",
    "request_duration_ms",
    "call_type",
    "api_key",
    "model_group",
    "custom_llm_provider",
    "user",
    "end_user",
    "metadata",
    "request_tags",
    "team_id",
    "session_id",
    "status",
)
#: Staged columns carrying each record's number and place (not SpendLogs columns).
ROW, LOCATOR = "__row", "__locator"
#: ``StandardLoggingPayload`` field -> SpendLogs column, for the fields whose names differ.
PAYLOAD_FIELDS = {"id": "request_id", "response_cost": "spend", "trace_id": "session_id"}
#: SpendLogs column -> ``StandardLoggingPayload.metadata`` key, for the columns held there.
PAYLOAD_METADATA = {
    "api_key": "user_api_key_hash",
    "user": "user_api_key_user_id",
    "team_id": "user_api_key_team_id",
    "organization_id": "user_api_key_org_id",
}
_TIMES = ("startTime", "endTime")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: (record number, locator, record or Fault).
Record = tuple[int, str, Any]


def is_json(head: str) -> bool:
    """Whether a file's head is JSON (an object or array), not CSV."""
    return head.lstrip("\ufeff \t\r\n").startswith(("{", "["))


def records(path: Path) -> list[Record]:
    """Return every record of a JSON, JSON-lines or API-page file of spend logs, numbered.

    A record is an element of an array or of a page's ``data``, a line of a JSON-lines file, or the single
    object of the file. The number (``x_SourceRow``) is the line of a JSON-lines file, else the ordinal of
    the record (1 first); a JSON-lines file with lines holding several records is numbered by ordinal. The
    locator says where the record is (``line 7``, ``data[3]``, ``[3]``, ``$``). A line that is not JSON, or
    an element that is not an object, comes as a :class:`Fault` in place of the record.

    Raises
    ------
    SourceError
        When the file is not JSON as a whole (a cut JSON document).
    """
    documents, several = read_documents(path)
    found = [record for doc in documents for record in _document_records(doc, several)]
    lines = [line for line, _, _ in found]
    by_line = several and len(set(lines)) == len(lines)
    return [(line if by_line else i, where, value) for i, (line, where, value) in enumerate(found, start=1)]


def _document_records(doc: Document, several: bool) -> list[Record]:
    """Return the records of one document (line, locator, record or Fault), numbered by the document's line.

    ``several``: the file holds several documents (one per line), so a locator names the line.
    """
    prefix = f"line {doc.line}" if several else ""
    if doc.error is not None:
        return [(doc.line, prefix or "$", Fault("record", None, doc.error))]
    return [(doc.line, f"{prefix}: {locator}" if prefix and locator != "$" else prefix or locator, value)
            for locator, value in _elements(doc.value)]


def _elements(value: Any) -> Iterator[tuple[str, Any]]:
    """Yield (locator, record) of one JSON document: a page's data, an array's elements, or the object."""
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        for i, item in enumerate(value["data"]):
            yield f"data[{i}]", item
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield f"[{i}]", item
    else:
        yield "$", value


def spend_log_fields(record: Any) -> dict[str, Any]:
    """Return a record as SpendLogs fields (a ``StandardLoggingPayload`` mapped; a SpendLogs row as is).

    Raises
    ------
    Fault
        When the record is not a JSON object.
    """
    if not isinstance(record, dict):
        raise Fault("record", record, "record is not a JSON object")
    if "request_id" in record or "id" not in record:
        return record
    out = {PAYLOAD_FIELDS.get(k, k): v for k, v in record.items()}
    meta = record.get("metadata")
    if isinstance(meta, dict):
        for column, key in PAYLOAD_METADATA.items():
            if out.get(column) in (None, "") and meta.get(key) not in (None, ""):
                out[column] = meta[key]
    return out


def cell(value: Any, column: str) -> str | None:
    """Return a JSON value as the text of a CSV cell of ``column`` (null for null or the empty string)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if column in _TIMES and isinstance(value, int | Decimal):
        return _iso_from_unix(value, column)
    if isinstance(value, dict | list):
        return json.dumps(value, default=float, allow_nan=True)
    return str(value)


def _iso_from_unix(seconds: int | Decimal, column: str) -> str:
    """Return Unix seconds as ISO-8601 UTC text, to the microsecond.

    Raises
    ------
    Fault
        When the time lies outside the plausible window (the record is rejected, naming ``column``).
    """
    unix_in_window(seconds, column)
    try:
        whole = int(seconds)
        micros = int((Decimal(seconds) - whole) * 1_000_000)
        return (_EPOCH + timedelta(seconds=whole, microseconds=micros)).isoformat()
    except (OverflowError, ValueError, InvalidOperation):
        return str(seconds)


def stage(con: BaseBackend, path: Path, required: tuple[str, ...], fmt: str) -> tuple[str, int, list[dict]]:
    """Stage a JSON spend-log file as a temporary table of text columns; return (table, records read, rejects).

    The table has :data:`COLUMNS` (text, null where a record lacks the field) plus :data:`ROW` and
    :data:`LOCATOR`. Records that are not objects, lines that are not JSON and records lacking a required
    field are returned as rejects (file, record number, locator, column, reason), not staged.

    Raises
    ------
    SourceError
        When the file is not JSON as a whole, holds no record, or no record has one of the ``required`` fields
        (then it is not a LiteLLM spend log: the error names the first record and the field).
    """
    found = records(path)
    if not found:
        raise SourceError(path, "no spend-log record in the JSON file (an empty array or page)")
    rows, rejects, seen = staged_rows(found, required, fmt, str(path))
    check_required(path, required, seen, any(not isinstance(v, Fault) for _, _, v in found), found[0][:2])
    return _table(con, rows), len(found), rejects


def staged_rows(found: list[Record], required: tuple[str, ...], fmt: str,
                shown: str) -> tuple[list[dict[str, Any]], list[dict], set[str]]:
    """Return the records as staged rows (:data:`COLUMNS` as text, :data:`ROW`, :data:`LOCATOR`), rejects, fields seen.

    A record that is not an object, a line that is not JSON and a record lacking a ``required`` field is a reject.
    """
    rows: list[dict[str, Any]] = []
    rejects: list[dict] = []
    seen: set[str] = set()
    for number, where, value in found:
        try:
            if isinstance(value, Fault):
                raise value
            fields = spend_log_fields(value)
            seen.update(fields)
            lacking = next((c for c in required if c not in fields), None)
            if lacking is not None:
                raise Fault(lacking, None, "missing field (required)")
            rows.append({**{c: cell(fields.get(c), c) for c in COLUMNS}, ROW: number, LOCATOR: where})
        except Fault as fault:
            rejects.append(reject(fmt, shown, number, fault.column, fault.value, fault.reason, "requests", where))
    return rows, rejects, seen


def check_required(path: Path, required: tuple[str, ...], seen: set[str], any_record: bool,
                   first: tuple[int, str]) -> None:
    """Fail the file when no record has one of the ``required`` fields (it is then not a LiteLLM spend log).

    ``any_record``: some record is an object (a file of broken lines only is left to its rejects); ``first``: the
    first record's number and locator, which the error names.

    Raises
    ------
    SourceError
        Naming the first record and the first absent field.
    """
    absent = [c for c in required if c not in seen]
    if absent and any_record:
        number, where = first
        raise SourceError(
            path,
            f"required LiteLLM field(s) missing in every record: {', '.join(absent)} "
            f"(first record: {where}, record {number})",
            line=number,
            column=absent[0],
        )


def lines_records(numbered: list[tuple[int, bytes]]) -> tuple[list[Record], bool]:
    """Return the records of some numbered lines of a JSON-lines file, as :func:`records` numbers them.

    Also whether no line holds several records (else :func:`records` numbers the whole file by ordinal, which lines
    read apart cannot know). Blank lines are skipped, as :func:`~finops_lib.sources._genai.read_documents` does.
    """
    found: list[Record] = []
    one_each = True
    for number, line in numbered:
        if line.strip():
            mine = _document_records(line_document(number, line), several=True)
            one_each = one_each and len(mine) <= 1
            found.extend(mine)
    return found, one_each


def staged_arrow(rows: list[dict[str, Any]]) -> pa.Table:
    """Return staged rows as an Arrow table (text columns, record number, locator)."""
    schema = pa.schema(
        [*(pa.field(c, pa.string()) for c in COLUMNS), pa.field(ROW, pa.int64()), pa.field(LOCATOR, pa.string())]
    )
    return pa.table({f.name: pa.array([r[f.name] for r in rows], type=f.type) for f in schema}, schema=schema)


def _table(con: BaseBackend, rows: list[dict[str, Any]]) -> str:
    """Create a temporary table of the staged rows (text columns, record number, locator); return its name."""
    arrow = staged_arrow(rows)
    name = f"_litellm_json_{uuid.uuid4().hex[:12]}"
    view = f"{name}_arrow"
    con.con.register(view, arrow)
    try:
        con.con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {ident(view)}")
    finally:
        con.con.unregister(view)
    return name
