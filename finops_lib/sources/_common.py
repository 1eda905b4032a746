"""Helpers shared by source readers: typed tables from records, record faults, rejects, row hashes."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

import ibis
import pyarrow as pa

from finops_lib.errors import ParameterError, SchemaError
from finops_lib.schema import conform, declared_schema, get_table

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
#: The plausible dates of a record: ``FINOPS_DATE_WINDOW="2000-01-01:2036-12-31"`` (first and last day, UTC,
#: either side may be left empty for its default). Default: 2000-01-01 to today + 10 years.
DATE_WINDOW_VAR = "FINOPS_DATE_WINDOW"
DEFAULT_FIRST_DAY = date(2000, 1, 1)
DEFAULT_YEARS_AHEAD = 10
GENAI_SUBCATEGORY = "Generative AI"


class Fault(ValueError):
    """A record that cannot be loaded: the column (field) at fault, its value and the reason.

    In-memory readers raise it while building a row and turn it into a :func:`reject` record.
    """

    def __init__(self, column: str, value: object, reason: str) -> None:
        super().__init__(reason)
        self.column, self.value, self.reason = column, value, reason


def json_number(text: str) -> Decimal | str:
    """Return a JSON number with a fraction or exponent as an exact Decimal, or its text when Decimal cannot hold it.

    An exponent beyond Decimal's range (``1.5e-999999999999999999995``, a corrupt export) stays text, so the field
    that holds it is rejected with its record (never the whole file).

    Examples
    --------
    >>> json_number("1.50"), json_number("1.5e-999999999999999999995")
    (Decimal('1.50'), '1.5e-999999999999999999995')
    """
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


def money(value: object) -> Decimal | None:
    """Return ``value`` as a Decimal rounded (half-even) to the schema's 12 decimal places."""
    if value is None:
        return None
    dec = value if isinstance(value, Decimal) else Decimal(str(value))
    if not dec.is_finite() or abs(dec) >= MONEY_LIMIT:
        raise ValueError(f"amount {value} is out of range (a money column holds magnitudes below 1e26)")
    return dec.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN, context=_CONTEXT)


def date_window() -> tuple[date, date]:
    """Return the first and last plausible day of a record (UTC), from ``$FINOPS_DATE_WINDOW`` or the default.

    The default is 2000-01-01 to today + 10 years: no GenAI or cloud bill is older, and a date further
    ahead is a corrupt value (9999-12-31 placeholders, Unix times in the wrong unit). Every reader
    rejects a record dated outside it, naming the column, the value and the window.

    Raises
    ------
    ParameterError
        When the variable is not ``first:last`` with ISO dates (either may be empty), first <= last.

    Examples
    --------
    >>> import os
    >>> os.environ["FINOPS_DATE_WINDOW"] = "2020-01-01:2030-12-31"
    >>> date_window()
    (datetime.date(2020, 1, 1), datetime.date(2030, 12, 31))
    >>> del os.environ["FINOPS_DATE_WINDOW"]
    >>> date_window()[0]
    datetime.date(2000, 1, 1)
    """
    return _date_window(os.environ.get(DATE_WINDOW_VAR, "").strip(), datetime.now(UTC).date())


@functools.lru_cache(maxsize=16)
def _date_window(text: str, today: date) -> tuple[date, date]:
    """Return :func:`date_window` for the variable's text and today (asked once per record: kept)."""
    first = DEFAULT_FIRST_DAY
    last = today.replace(year=today.year + DEFAULT_YEARS_AHEAD, day=min(today.day, 28))
    if text:
        try:
            left, right = text.split(":")
            first = date.fromisoformat(left.strip()) if left.strip() else first
            last = date.fromisoformat(right.strip()) if right.strip() else last
        except ValueError:
            raise ParameterError(f"${DATE_WINDOW_VAR} must be FIRST:LAST with ISO dates "
                                 f"(e.g. 2000-01-01:2036-12-31), got {text!r}") from None
        if first > last:
            raise ParameterError(f"${DATE_WINDOW_VAR}: the first day {first} is after the last day {last}")
    return first, last


def window_bounds() -> tuple[datetime, datetime]:
    """Return the plausible instants [start, end) in UTC: the window's first day to the day after its last."""
    return _instants(*date_window())


@functools.lru_cache(maxsize=16)
def _instants(first: date, last: date) -> tuple[datetime, datetime]:
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    return start, datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)


def window_text() -> str:
    """Return "outside the plausible dates FIRST to LAST (set ...)", the end of every window reason."""
    first, last = date_window()
    return f"outside the plausible dates {first} to {last} (set ${DATE_WINDOW_VAR}=FIRST:LAST to change them)"


def window_reason(column: str, value: object) -> str:
    """Return the reason of a record dated outside the window (the column, the value and the window)."""
    return f"'{column}' {value} is {window_text()}"


def plausible_time(moment: datetime, column: str, value: object = None) -> datetime:
    """Return ``moment`` (aware) when it lies in :func:`date_window`; else raise :class:`Fault`.

    Parameters
    ----------
    moment
        The parsed time.
    column
        The field it came from (named in the reject).
    value
        The value as the file wrote it (default: ``moment``).

    Examples
    --------
    >>> plausible_time(datetime(2026, 5, 1, tzinfo=UTC), "t").year
    2026
    >>> plausible_time(datetime(1999, 12, 31, tzinfo=UTC), "t")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    finops_lib.sources._common.Fault: 't' 1999-12-31 00:00:00+00:00 is outside the plausible dates 2000-01-01 to ...
    """
    start, end = window_bounds()
    if not start <= moment < end:
        shown = moment if value is None else value
        raise Fault(column, shown, window_reason(column, shown))
    return moment


def utc_from_unix(seconds: int | float | Decimal, field: str = "time") -> datetime:
    """Return the UTC datetime of a Unix time in seconds (``field`` names it in the error).

    The number is compared with the plausible window (:func:`date_window`) before any conversion, so a
    far-future or negative time is rejected with the window as its reason, never an overflow.

    Raises
    ------
    Fault
        (a ValueError) When the time is not a finite number or lies outside the window (the caller rejects
        the record).

    Examples
    --------
    >>> utc_from_unix(1777680000).isoformat()
    '2026-05-02T00:00:00+00:00'
    """
    number = unix_in_window(seconds, field)
    return datetime.fromtimestamp(seconds if isinstance(seconds, int | float) else float(number), tz=UTC)


def unix_in_window(seconds: object, field: str, *, scale: int = 1) -> Decimal:
    """Return a Unix time (in units of 1/``scale`` second) as a Decimal when it lies in the window.

    Checked on the number itself, before any conversion to a datetime could overflow.

    Raises
    ------
    Fault
        When it is not a finite number, or lies outside :func:`date_window`.
    """
    try:
        number = Decimal(str(seconds).strip())
    except ArithmeticError:
        number = Decimal("NaN")
    if not number.is_finite():
        raise Fault(field, seconds, f"'{field}' Unix time {seconds} is not a finite number")
    start, end = window_bounds()
    if not int(start.timestamp()) * scale <= number < int(end.timestamp()) * scale:
        raise Fault(field, seconds, window_reason(field, f"(Unix time {seconds})"))
    return number


#: Bucket widths of the vendors' usage APIs, widest first: a day, an hour, a minute (seconds).
BUCKET_WIDTHS: tuple[int, ...] = (86400, 3600, 60)


def grid_width(widths: list[int]) -> int:
    """Return the bucket grid of a page from its buckets' widths (seconds): 1d, 1h or 1m.

    The widest standard width present wins; a page holding only partial buckets (the current hour, 30 minutes
    in, is all a short look-back returns) is on the narrowest standard grid its buckets fit in, so its buckets
    are still seen as partial.

    Examples
    --------
    >>> grid_width([3600, 3600, 1200]), grid_width([1800]), grid_width([43200]), grid_width([])
    (3600, 3600, 86400, 86400)
    """
    for width in BUCKET_WIDTHS:
        if width in widths:
            return width
    if not widths:
        return BUCKET_WIDTHS[0]
    longest = max(widths)
    return min((w for w in BUCKET_WIDTHS if w >= longest), default=longest)


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

    The rows are built in the declared schema, so the table is an in-memory table the loader hands to the engine
    as it is (:func:`finops_lib.warehouse.staging.stage_rows`), with no expression over it.

    Parameters
    ----------
    records
        Row dicts keyed by declared column names.
    table
        Declared table name.
    """
    return conform(ibis.memtable(records_arrow(records, table), schema=declared_schema(table)), table)


def records_arrow(records: Iterable[Mapping[str, object]], table: str) -> pa.Table:
    """Return row dicts as an Arrow table in the declared schema of ``table`` (see :func:`records_table`)."""
    spec = get_table(table)
    arrow_schema = _arrow_schema(table)
    rows = list(records)
    present = set().union(*rows) if rows else set()
    unknown = present - set(spec.names)
    if unknown:
        raise SchemaError(table, sorted(unknown)[0], "a reader produced a column that is not declared")
    columns = {}
    for name in spec.names:
        kind = arrow_schema.field(name).type
        if name not in present:  # a column no record has (most of them, for one reader): nulls, nothing to convert
            columns[name] = pa.nulls(len(rows), type=kind)
        elif pa.types.is_string(kind):
            values = [r.get(name) for r in rows]
            if not all(v is None or type(v) is str for v in values):  # anything else (a str subclass too) converted
                values = [_as_text(v) for v in values]
            columns[name] = pa.array(values, type=kind)
        else:
            columns[name] = pa.array([r.get(name) for r in rows], type=kind)
    return pa.table(columns, schema=arrow_schema)


@functools.cache
def _arrow_schema(table: str) -> pa.Schema:
    """Return the Arrow schema of a declared table (built once)."""
    return get_table(table).ibis_schema().to_pyarrow()


def _as_text(value: object) -> object:
    """Return a text column's value as text: a number or boolean as written, an object or array as JSON.

    A file may give a number where text belongs (a numeric project id); a reader must never fail on a field's
    type, and the value stays visible.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return json.dumps(value, default=str)


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
