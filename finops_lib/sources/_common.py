"""Helpers shared by source readers: typed tables from records, record faults, rejects, row hashes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal

import ibis
import pyarrow as pa

from finops_lib.errors import SchemaError
from finops_lib.schema import conform, get_table

MONEY_QUANTUM = Decimal("1e-12")
#: Enough digits for decimal(38, 12) and beyond: quantize() must never fail on a large quantity
#: (GCS byte-seconds reach 1e16); the schema type bounds what is stored.
_CONTEXT = Context(prec=60)
#: decimal(38, 12) holds magnitudes below 1e26: a larger amount is a corrupt value, rejected with its row.
MONEY_LIMIT = Decimal("1e26")
#: Largest plausible count (tokens, requests) in one record; also keeps sums far inside int64.
MAX_COUNT = 10**15
#: BillingAccountId of rows whose source names no billing account.
ACCOUNT_UNKNOWN = "(not in source)"
AI_CATEGORY = "AI and Machine Learning"
GENAI_SUBCATEGORY = "Generative AI"


class Fault(ValueError):
    """A record that cannot be loaded: the column (field) at fault, its value and the reason.

    In-memory readers raise it while building a row and turn it into a :func:`reject` record.
    """

    def __init__(self, column: str, value: object, reason: str) -> None:
        super().__init__(reason)
        self.column, self.value, self.reason = column, value, reason


def money(value: object) -> Decimal | None:
    """Return ``value`` as a Decimal rounded (half-even) to the schema's 12 decimal places."""
    if value is None:
        return None
    dec = value if isinstance(value, Decimal) else Decimal(str(value))
    if not dec.is_finite() or abs(dec) >= MONEY_LIMIT:
        raise ValueError(f"amount {value} is out of range (a money column holds magnitudes below 1e26)")
    return dec.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN, context=_CONTEXT)


def utc_from_unix(seconds: int | float, field: str = "time") -> datetime:
    """Return the UTC datetime of a Unix time in seconds (``field`` names it in the error).

    Raises
    ------
    ValueError
        When the time is outside the years 1 to 9999 (the caller rejects the record).

    Examples
    --------
    >>> utc_from_unix(1777680000).isoformat()
    '2026-05-02T00:00:00+00:00'
    """
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"'{field}' Unix time {seconds} is out of range ({exc})") from exc


def month_bounds(ts: datetime) -> tuple[datetime, datetime]:
    """Return the calendar month [start, end) holding ``ts`` (UTC), the default billing period."""
    start = ts.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


def row_hash(*parts: object) -> str:
    """Return the SHA-1 of the parts (the natural key of a row), joined unambiguously."""
    return hashlib.sha1(json.dumps([str(p) if p is not None else None for p in parts]).encode()).hexdigest()


def flags(*names: str | None) -> str:
    """Return the ``x_DataQualityFlags`` text of the given flags (sorted, unique, comma-separated)."""
    return ",".join(sorted({n for n in names if n}))


def records_table(records: Iterable[Mapping[str, object]], table: str) -> ibis.Table:
    """Build a conformed ibis table of ``table`` from row dicts (missing keys become null).

    Parameters
    ----------
    records
        Row dicts keyed by declared column names.
    table
        Declared table name.
    """
    spec = get_table(table)
    arrow_schema = spec.ibis_schema().to_pyarrow()
    rows = list(records)
    unknown = {k for r in rows for k in r} - set(spec.names)
    if unknown:
        raise SchemaError(table, sorted(unknown)[0], "a reader produced a column that is not declared")
    columns = {
        name: pa.array([r.get(name) for r in rows], type=arrow_schema.field(name).type) for name in spec.names
    }
    return conform(ibis.memtable(pa.table(columns, schema=arrow_schema)), table)


def reject(fmt: str, path: str, row: int, column: str, value: object, reason: str, target: str,
           locator: str | None = None) -> dict[str, object]:
    r"""Return one rejects record (the value shown as text, truncated to 200 characters).

    A number read as Decimal (JSON readers parse floats that way) is shown as its text, ``3.5``, as the
    file wrote it, not as the JSON string ``"3.5"``; objects and lists are shown as JSON. Characters that
    cannot be written as UTF-8 (undecodable bytes kept as surrogates) are shown as ``?``.

    Examples
    --------
    >>> reject("f", "p", 3, "cost", "\udcff12", "not a number", "costs")["x_Value"]
    '?12'
    """
    if value is None or isinstance(value, str):
        text = value
    else:
        text = str(value) if isinstance(value, Decimal) else json.dumps(value, default=str)
    if text is not None:  # bytes a reader could not decode (lone surrogates) must not crash the load
        text = text.encode("utf-8", "replace").decode("utf-8")
    return {
        "x_SourceFormat": fmt,
        "x_SourceFile": path,
        "x_SourceRow": row,
        "x_SourceLocator": locator,
        "x_Column": column,
        "x_Value": None if text is None else text[:200],
        "x_Reason": reason,
        "x_TargetTable": target,
    }
