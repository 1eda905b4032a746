"""Where each registered format keeps its money (or, without money, its main count), and how to set it.

The bad-value, plausible-date and structure-aware fuzz tests put a value into one field of one record of a
format's committed fixture (:func:`source_cases.fixture_path`), records numbered as
:attr:`source_cases.Case.records` numbers them. CSV cells are written as text; JSON values as raw JSON
tokens (``NaN``, ``Infinity`` and ``1e30`` are written bare, as Python's ``json.dumps`` writes them, ``""``
as an empty string), everything else in the file byte-for-byte as the fixture wrote it. A zip of CSV parts (a case
of ``source_cases.VARIANTS``) has the cell of its record's part set, every other member as it was.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from source_cases import fixture_path, rezip, zip_lines, zip_members

#: A JSON path inside a record: keys and list indexes; a ``("attr", key)`` step is an OTLP attribute.
Step = str | int | tuple[str, str]


@dataclass(frozen=True)
class Field:
    """The field of a format that the tests mutate.

    Attributes
    ----------
    column
        The name a reject must give (``x_Column``).
    path
        CSV: the header name; JSON: the steps from a record to the value.
    money
        True for a money column; False for a count (formats that carry no money).
    text
        JSON only: the field is a string holding a number (Anthropic ``amount``), so values go in quotes.
    """

    column: str
    path: tuple[Step, ...]
    money: bool = True
    text: bool = False


FIELDS: dict[str, Field] = {
    "anthropic_cost_report": Field("amount", ("amount",), text=True),
    "anthropic_usage_report": Field("output_tokens", ("output_tokens",), money=False),
    "aws_cur2": Field("line_item_unblended_cost", ("line_item_unblended_cost",)),
    "aws_cur_legacy": Field("lineItem/UnblendedCost", ("lineItem/UnblendedCost",)),
    "azure_cost_details": Field("CostInBillingCurrency", ("CostInBillingCurrency",)),
    "focus": Field("BilledCost", ("BilledCost",)),
    "focus+pinecone": Field("BilledCost", ("BilledCost",)),
    "gcp_billing_export": Field("cost", ("cost",)),
    "helicone_requests": Field("cost", ("cost",)),
    "langfuse_observations": Field("costDetails.total", ("costDetails", "total")),
    "litellm_spend_logs": Field("spend", ("spend",)),
    "mapped:azure_llm_trace": Field("ContextTokens", ("ContextTokens",), money=False),
    "mapped:burstgpt": Field("Response tokens", ("Response tokens",), money=False),
    "mapped:chatgpt_seats": Field("amount", ("amount",)),
    "mapped:claude_seats": Field("amount", ("amount",)),
    "mapped:github_usage": Field("net_amount", ("net_amount",)),
    "oci_cost_report": Field("cost/myCost", ("cost/myCost",)),
    "openai_costs": Field("amount.value", ("amount", "value")),
    "openai_dashboard_activity": Field("output_tokens", ("output_tokens",), money=False),
    "openai_dashboard_costs": Field("amount_value", ("amount_value",)),
    "openai_usage": Field("output_tokens", ("output_tokens",), money=False),
    "openrouter_activity": Field("cost_total", ("cost_total",)),
    "otel_genai": Field("gen_ai.usage.cost", (("attr", "gen_ai.usage.cost"),)),
    "opencost_allocation": Field("totalCost", ("totalCost",), money=False),
    "prometheus_range": Field("value", ("value",), money=False, text=True),
    "prometheus_text": Field("value", ("value",), money=False),
}
PROMETHEUS = ("prometheus_range", "prometheus_text")

#: The values of the acceptance test, as a CSV cell holds them; JSON writes the first four as bare tokens.
BAD_VALUES = ("NaN", "Infinity", "-Infinity", "1e30", "")


def plain_records(rows: Iterable[int], reasons: Iterable[str]) -> list[int]:
    """The loaded records (numbers) that no other record repeats, given the reasons of the file's rejects.

    A record whose line id another line repeats is left out: rejecting it makes the repeat load in its place.
    """
    twins = {int(m) for reason in reasons for m in re.findall(r"duplicate: .* line (\d+)", reason)}
    return sorted(set(rows) - twins)


def is_csv(fmt: str) -> bool:
    """Whether the format's fixture is a CSV file."""
    return fixture_path(fmt).suffix == ".csv"


def is_zip(fmt: str) -> bool:
    """Whether the case's fixture is a zip of CSV parts (records numbered through the parts)."""
    return fixture_path(fmt).suffix == ".zip"


# --- CSV ------------------------------------------------------------------------------------------------------


def set_csv_cells(data: bytes, cells: dict[int, dict[str, str]]) -> bytes:
    """Set ``cells`` ({line (header = 1): {column: text}}) of a CSV file; a column not in it is appended."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    for line, values in cells.items():
        for column, text in values.items():
            if column not in rows[0]:
                rows[0].append(column)
                for row in rows[1:]:
                    row.append("")
            rows[line - 1][rows[0].index(column)] = text
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def set_zip_cells(data: bytes, cells: dict[int, dict[str, str]]) -> bytes:
    """Set ``cells`` ({record: {column: text}}, records numbered through the archive) of a zip of CSV parts."""
    places, members, changed = zip_lines(data), zip_members(data), {}
    for record, values in cells.items():
        member, line = places[record]
        changed[member] = set_csv_cells(changed.get(member, members[member]), {line: values})
    return rezip(data, changed)


# --- JSON -----------------------------------------------------------------------------------------------------


class Raw:
    """A JSON token written as is (``NaN``, ``1e30``, a number exactly as the fixture wrote it)."""

    def __init__(self, text: str) -> None:
        self.text = text


def _load(text: str) -> Any:
    """Parse JSON keeping every number as the text the file wrote (so a dump changes no other byte of value)."""
    return json.loads(text, parse_float=Raw, parse_int=Raw, parse_constant=Raw)


def _dump(doc: Any) -> str:
    """Write JSON, :class:`Raw` values as their text."""
    raws: list[str] = []

    def default(value: object) -> object:
        if isinstance(value, Raw):
            raws.append(value.text)
            return f"\x00{len(raws) - 1}\x00"
        raise TypeError(type(value))

    out = json.dumps(doc, default=default)
    for i, text in enumerate(raws):
        out = out.replace(json.dumps(f"\x00{i}\x00"), text, 1)
    return out


def _records(fmt: str, doc: Any) -> list[Any]:
    """The records of a parsed JSON fixture, in the order :data:`source_cases.CASES` numbers them."""
    if fmt in ("anthropic_cost_report", "anthropic_usage_report", "openai_costs", "openai_usage"):
        return [r for bucket in doc["data"] for r in bucket["results"]]
    if fmt == "helicone_requests":
        return doc["data"]
    if fmt == "opencost_allocation":
        return [alloc for step in doc["data"] for alloc in step.values()]
    if fmt == "otel_genai":
        return [span for rs in doc["resourceSpans"] for ss in rs["scopeSpans"] for span in ss["spans"]
                if any(a["key"].startswith("gen_ai.") for a in span.get("attributes", []))]
    return doc  # a JSON array


def _put(record: Any, path: tuple[Step, ...], value: Any) -> None:
    """Set the value at ``path`` in ``record`` (creating objects, or an OTLP attribute, on the way)."""
    *head, last = path
    for step in head:
        record = record.setdefault(step, {}) if isinstance(step, str) else record[step]
    if isinstance(last, tuple):  # an OTLP attribute: {"key": k, "value": {"doubleValue": v}}
        attrs = record.setdefault("attributes", [])
        attrs[:] = [a for a in attrs if a["key"] != last[1]]
        attrs.append({"key": last[1], "value": {"doubleValue": value}})
    else:
        record[last] = value


def set_json_values(fmt: str, data: bytes, values: dict[int, tuple[tuple[Step, ...], Any]]) -> bytes:
    """Set, per record number, the value at a path; JSON lines files are edited line by line."""
    text = data.decode("utf-8")
    if fixture_path(fmt).suffix == ".jsonl":
        lines = text.splitlines()
        for n, (path, value) in values.items():
            record = _load(lines[n - 1])
            _put(record, path, value)
            lines[n - 1] = _dump(record)
        return ("\n".join(lines) + "\n").encode()
    doc = _load(text)
    records = _records(fmt, doc)
    for n, (path, value) in values.items():
        _put(records[n - 1], path, value)
    return _dump(doc).encode()


def json_value(text: str, *, quoted: bool) -> Any:
    """The JSON value of a bad value's text: a bare token, or a string when the field holds text or is empty."""
    return text if quoted or text == "" else Raw(text)


# --- one format -----------------------------------------------------------------------------------------------


def sample_parts(line: str) -> tuple[str, str, str]:
    """(name and labels, value, timestamp or '') of a Prometheus text sample line."""
    cut = line.rindex("}") + 1 if "}" in line else len(line.split(None, 1)[0])
    rest = line[cut:].split()
    return line[:cut], rest[0] if rest else "", rest[1] if len(rest) > 1 else ""


def set_prometheus(fmt: str, data: bytes, values: dict[int, tuple[str, str]]) -> bytes:
    """Set, per record number, the value (``"value"``) or the time (``"time"``) of a Prometheus fixture's record.

    Text: the record is a line; an empty value leaves the sample without value *and* time (a value alone would
    read the time as the value, which the format cannot tell apart). JSON: the record is the n-th point.
    """
    if fmt == "prometheus_text":
        lines = data.decode("utf-8").split("\n")
        for n, (part, text) in values.items():
            head, value, stamp = sample_parts(lines[n - 1])
            if part == "value":
                value = text
                stamp = stamp if text else ""
            else:
                stamp = text
            lines[n - 1] = " ".join(p for p in (head, value, stamp) if p)
        return "\n".join(lines).encode()
    doc = _load(data.decode("utf-8"))
    points = [p for series in doc["data"]["result"] for p in series.get("values", [series.get("value")])]
    for n, (part, text) in values.items():
        points[n - 1][1 if part == "value" else 0] = text if part == "value" else Raw(text)
    return _dump(doc).encode()


def set_field(fmt: str, data: bytes, values: dict[int, str], field: Field | None = None) -> bytes:
    """Set the format's :data:`FIELDS` field (or ``field``) of each record number to a value's text."""
    field = field or FIELDS[fmt]
    if fmt in PROMETHEUS:
        return set_prometheus(fmt, data, {n: ("value", v) for n, v in values.items()})
    if is_csv(fmt) or is_zip(fmt):
        cells = {n: {field.path[0]: v} for n, v in values.items()}
        return set_csv_cells(data, cells) if is_csv(fmt) else set_zip_cells(data, cells)
    return set_json_values(fmt, data, {n: (field.path, json_value(v, quoted=field.text)) for n, v in values.items()})


def write_variant(fmt: str, directory: Path, values: dict[int, str], name: str | None = None) -> Path:
    """Write a copy of the fixture with :func:`set_field` applied, under ``directory``; return its path."""
    source = fixture_path(fmt)
    target = directory / (name or source.name)
    target.write_bytes(set_field(fmt, source.read_bytes(), values))
    return target


# --- dates ----------------------------------------------------------------------------------------------------

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BURSTGPT_EPOCH = datetime(2023, 1, 1, tzinfo=UTC)  # finops_lib/sources/mappings: the trace's day 1


def iso(moment: datetime, sep: str = "T", suffix: str = "Z", digits: int = 6) -> str:
    """ISO-8601 text of any year (``strftime`` drops the zeros of year 1)."""
    m = moment
    text = f"{m.year:04d}-{m.month:02d}-{m.day:02d}{sep}{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
    return text + (f".{m.microsecond:0{digits}d}"[: digits + 1] if digits else "") + suffix


def unix(moment: datetime) -> int:
    """Unix seconds of any datetime, however far from 1970 (no platform call)."""
    return (moment - EPOCH) // timedelta(seconds=1)


@dataclass(frozen=True)
class DateField:
    """Where a format dates a record, and how it writes a time.

    Attributes
    ----------
    start, end
        Paths (as :attr:`Field.path`) of the start and of the end (None: no end field).
    write
        datetime -> the value as the file writes it (text for CSV, a JSON value).
    bucket
        True when the times belong to a bucket of several records (API pages): every record of the
        bucket is dated by it.
    from_unix
        For a field holding a Unix time: Unix seconds -> the value as the file writes it (so a time past
        the year 9999 can be written); None for text times.
    """

    start: tuple[Step, ...]
    end: tuple[Step, ...] | None
    write: Callable[[datetime], Any]
    bucket: bool = False
    from_unix: Callable[[int], Any] | None = None


def _z(m: datetime) -> str:
    return iso(m, digits=0)


def _unix_field(start: str, end: str | None, from_unix: Callable[[int], Any], *, bucket: bool = False,
                epoch: datetime = EPOCH) -> DateField:
    shift = unix(epoch)
    return DateField((start,), (end,) if end else None, lambda m: from_unix(unix(m) - shift), bucket,
                     lambda s: from_unix(s - shift))


DATES: dict[str, DateField] = {
    "anthropic_cost_report": DateField(("starting_at",), ("ending_at",), _z, bucket=True),
    "anthropic_usage_report": DateField(("starting_at",), ("ending_at",), _z, bucket=True),
    "aws_cur2": DateField(("line_item_usage_start_date",), ("line_item_usage_end_date",), _z),
    "aws_cur_legacy": DateField(("lineItem/UsageStartDate",), ("lineItem/UsageEndDate",), _z),
    "azure_cost_details": DateField(("Date",), None, lambda m: f"{m.month:02d}/{m.day:02d}/{m.year:04d}"),
    "focus": DateField(("ChargePeriodStart",), ("ChargePeriodEnd",), _z),
    "focus+pinecone": DateField(("ChargePeriodStart",), ("ChargePeriodEnd",), _z),
    "gcp_billing_export": DateField(("usage_start_time",), ("usage_end_time",),
                                    lambda m: iso(m, " ", " UTC", 0)),
    "helicone_requests": DateField(("request_created_at",), ("response_created_at",), lambda m: iso(m, " ", "", 3)),
    "langfuse_observations": DateField(("startTime",), ("endTime",), lambda m: iso(m, digits=3)),
    "litellm_spend_logs": DateField(("startTime",), ("endTime",), iso),
    "mapped:azure_llm_trace": DateField(("TIMESTAMP",), None, lambda m: iso(m, " ", "", 7)),
    "mapped:burstgpt": _unix_field("Timestamp", None, str, epoch=BURSTGPT_EPOCH),
    "mapped:chatgpt_seats": DateField(("billing_period_start",), None, lambda m: iso(m)[:10]),
    "mapped:claude_seats": DateField(("billing_period_start",), None, lambda m: iso(m)[:10]),
    "mapped:github_usage": DateField(("date",), None, lambda m: iso(m)[:10]),
    "oci_cost_report": DateField(("lineItem/intervalUsageStart",), ("lineItem/intervalUsageEnd",),
                                 lambda m: iso(m, digits=0)[:-4] + "Z"),
    "openai_costs": _unix_field("start_time", "end_time", lambda s: Raw(str(s)), bucket=True),
    "openai_dashboard_activity": _unix_field("start_time", "end_time", str),
    "openai_dashboard_costs": _unix_field("start_time", "end_time", str),
    "openai_usage": _unix_field("start_time", "end_time", lambda s: Raw(str(s)), bucket=True),
    "openrouter_activity": DateField(("created_at",), None, lambda m: iso(m, " ", "", 3)),
    "otel_genai": _unix_field("startTimeUnixNano", "endTimeUnixNano", lambda s: str(s * 10**9)),
    "opencost_allocation": DateField(("window", "start"), ("window", "end"), _z),
    "prometheus_range": _unix_field("timestamp", None, str),
    "prometheus_text": _unix_field("timestamp", None, lambda s: str(s * 1000)),
}


def _buckets(doc: Any) -> list[tuple[dict, list[int]]]:
    """(bucket, its record numbers) of an API page, records numbered across buckets from 1."""
    out, n = [], 0
    for bucket in doc["data"]:
        numbers = list(range(n + 1, n + 1 + len(bucket["results"])))
        n += len(numbers)
        out.append((bucket, numbers))
    return out


def set_date(fmt: str, data: bytes, record: int, moment: datetime | int) -> tuple[bytes, set[int]]:
    """Date one record (its bucket, in API pages) at ``moment`` (the end an hour later).

    ``moment`` is a datetime, or Unix seconds (formats with :attr:`DateField.from_unix` only: a time past
    the year 9999). Returns the new bytes and the records the change dates.
    """
    spec = DATES[fmt]
    if isinstance(moment, int):
        assert spec.from_unix is not None, f"{fmt} writes no Unix time"
        start_value, end_value = spec.from_unix(moment), spec.from_unix(moment + 3600)
    else:
        later = moment + timedelta(hours=1) if moment < datetime(9999, 12, 31, 23, tzinfo=UTC) else moment
        start_value, end_value = spec.write(moment), spec.write(later)
    if fmt in PROMETHEUS:
        return set_prometheus(fmt, data, {record: ("time", str(start_value))}), {record}
    if is_csv(fmt) or is_zip(fmt):
        cells = {spec.start[0]: str(start_value)} | ({spec.end[0]: str(end_value)} if spec.end else {})
        write = set_csv_cells if is_csv(fmt) else set_zip_cells
        return write(data, {record: cells}), {record}
    if spec.bucket:
        doc = _load(data.decode("utf-8"))
        bucket, numbers = next((b, ns) for b, ns in _buckets(doc) if record in ns)
        bucket[spec.start[0]] = start_value
        bucket[spec.end[0]] = end_value
        return _dump(doc).encode(), set(numbers)
    out = set_json_values(fmt, data, {record: (spec.start, start_value)})
    if spec.end:
        out = set_json_values(fmt, out, {record: (spec.end, end_value)})
    return out, {record}
