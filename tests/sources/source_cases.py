"""What the source contract suite knows about each registered format, read from its committed fixture.

Each registered format ships one small fixture, ``tests/data/<format>.<ext>`` (``:`` written ``_``;
the convention of ``tests/test_corruption.py``). For every format this module says, without the
workbench:

* which records the fixture holds (:attr:`Case.records`): record number -> raw record, numbered as
  ``x_SourceRow`` numbers them (CSV: line, header = 1; JSON pages: ordinal of the result; JSON lines:
  line; a zip of CSV parts: ordinal through the parts), read with the stdlib ``csv``, ``json`` and ``zipfile``;
* optionally the amount each record carries (:attr:`Case.amount`), to compare with the loaded money;
* one deterministic corruption of one record (:attr:`Case.corruption`) and the reject it must cause.

A format registered without a case here fails ``test_every_format_has_one_fixture_and_a_case``. A format may
have more inputs than its own fixture (:data:`VARIANTS`): each is a case of its own, run by every suite.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from finops_lib import engine, paths
from finops_lib.sources import SOURCES
from finops_lib.warehouse import ingest

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = paths.SAMPLE_DIR
#: Formats registered at run time by tests (``tests/test_ingest.py``) have no committed fixture.
RUNTIME_PREFIXES = ("test_",)

Records = dict[int, Any]


def committed_formats() -> list[str]:
    """Return the registered formats that must ship a fixture, sorted."""
    return sorted(f for f in SOURCES if not f.startswith(RUNTIME_PREFIXES))


#: Inputs a format reads besides its own fixture, that every suite runs too: case ``<format>+<variant>`` -> the
#: fixture's name in ``tests/data``. Pinecone's cost-usage export is FOCUS 1.4 in a zip of CSV parts with a
#: manifest (``tests/pinecone_fixture.py``); its records are numbered through the archive (:func:`zip_records`).
VARIANTS: dict[str, str] = {"focus+pinecone": "pinecone_cost_usage_export.zip"}


def case_ids() -> list[str]:
    """Return every case the suites run: each committed format (its own fixture), then each variant."""
    return [*committed_formats(), *sorted(VARIANTS)]


def format_of(case: str) -> str:
    """Return the registered format a case is read with (``focus+pinecone`` -> ``focus``)."""
    return case.split("+", 1)[0]


def fixtures_of(fmt: str) -> list[Path]:
    """Return every file of ``tests/data`` named as a fixture of ``fmt`` (the suite wants exactly one)."""
    stem = fmt.replace(":", "_")
    return sorted(p for p in DATA.iterdir() if p.is_file() and p.name.split(".", 1)[0] == stem)


def fixture_path(fmt: str) -> Path:
    """Return the one committed fixture of ``fmt`` (a format, or a case of :data:`VARIANTS`)."""
    if fmt in VARIANTS:
        return DATA / VARIANTS[fmt]
    found = fixtures_of(fmt)
    assert len(found) == 1, f"{fmt}: expected one tests/data/{fmt.replace(':', '_')}.<ext>, found {found}"
    return found[0]


# --- raw records, read with the stdlib ------------------------------------------------------------------------


def csv_records(path: Path, *, empty: Callable[[dict[str, str]], bool] | None = None) -> Records:
    """Line -> record of a CSV file (line 1 is the header); ``empty`` marks lines that are not records."""
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""))
    return {line: row for line, row in enumerate(rows, start=2) if not (empty and empty(row))}


def page_records(path: Path) -> Records:
    """Ordinal -> result of a saved API page: every ``data[i].results[j]``, in order (ordinal 1 first)."""
    buckets = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)["data"]
    results = [r for bucket in buckets for r in bucket["results"]]
    return dict(enumerate(results, start=1))


def jsonl_records(path: Path) -> Records:
    """Line -> object of a JSON-lines file (blank lines are not records)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return {n: json.loads(text, parse_float=Decimal) for n, text in enumerate(lines, start=1) if text.strip()}


def array_records(path: Path) -> Records:
    """Ordinal -> element of a JSON array."""
    return dict(enumerate(json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal), start=1))


def otlp_records(path: Path) -> Records:
    """Ordinal -> span of an OTLP/JSON export, for the spans carrying ``gen_ai.*`` attributes (model calls)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    spans = [span for rs in doc["resourceSpans"] for ss in rs["scopeSpans"] for span in ss["spans"]
             if any(a["key"].startswith("gen_ai.") for a in span.get("attributes", []))]
    return dict(enumerate(spans, start=1))


def allocation_records(path: Path) -> Records:
    """Ordinal -> allocation of an OpenCost response: every ``data[i][name]``, steps in order, names as written."""
    steps = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)["data"]
    return dict(enumerate((alloc for step in steps for alloc in step.values()), start=1))


def prometheus_lines(path: Path) -> Records:
    """Line -> sample line of a Prometheus text exposition (comments and blank lines are not records)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return {n: text for n, text in enumerate(lines, start=1) if text.strip() and not text.lstrip().startswith("#")}


def prometheus_points(path: Path) -> Records:
    """Ordinal -> point of a Prometheus API response: every ``data.result[i].values[j]`` (or ``value``), in order."""
    result = json.loads(path.read_text(encoding="utf-8"))["data"]["result"]
    points = [p for series in result for p in series.get("values", [series.get("value")])]
    return dict(enumerate(points, start=1))


def _usage_free(*measures: str) -> Callable[[dict[str, str]], bool]:
    """A dashboard export's day without usage: every measure empty (documented: not a record)."""
    return lambda row: not any(row.get(m) for m in measures)


# --- zip archives of CSV parts (a FOCUS export delivered as one archive) ----------------------------------------


def zip_members(data: bytes) -> dict[str, bytes]:
    """Name -> bytes of each member of a zip archive, in archive order."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def zip_parts(data: bytes) -> list[str]:
    """The CSV members of a zip archive in part order (``part-2-of-10.csv`` before ``part-10-of-10.csv``)."""
    def order(name: str) -> tuple[int, str]:
        found = re.search(r"part-(\d+)-of-\d+\.csv$", name, re.IGNORECASE)
        return (int(found[1]) if found else 0, name)

    return sorted((n for n in zip_members(data) if n.lower().endswith(".csv")), key=order)


def _part_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig", errors="replace"), newline="")))


def zip_lines(data: bytes) -> dict[int, tuple[str, int]]:
    """Record number (its ordinal through the archive, from 1) -> (its CSV part, its line there: header = 1)."""
    members = zip_members(data)
    places = [(name, line) for name in zip_parts(data) for line in range(2, len(_part_rows(members[name])) + 2)]
    return dict(enumerate(places, start=1))


def zip_records(path: Path) -> Records:
    """Ordinal -> record of a zip of CSV parts: every part's records in part order, numbered from 1 through them."""
    data = path.read_bytes()
    members = zip_members(data)
    return dict(enumerate((row for name in zip_parts(data) for row in _part_rows(members[name])), start=1))


def rezip(data: bytes, changed: dict[str, bytes], *, recount: bool = False, comment: bytes | None = None) -> bytes:
    """The archive ``data`` with members replaced, each keeping its name, time, compression and place.

    ``recount``: the manifest's row counts (``files[].row_count``, ``row_count``) are set to what the CSV parts now
    hold, as an export of the changed records would write them; ``comment``: a new archive comment.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        infos, old = source.infolist(), source.comment
        contents = {info.filename: changed.get(info.filename, source.read(info)) for info in infos}
    manifest = next((n for n in contents if n.lower().endswith("manifest.json")), None)
    if recount and manifest is not None:
        counts = {n: len(_part_rows(c)) for n, c in contents.items() if n.lower().endswith(".csv")}
        doc = json.loads(contents[manifest])
        for entry in doc.get("files", []):
            entry["row_count"] = counts.get(entry["name"], entry.get("row_count"))
        doc["row_count"] = sum(counts.values())
        contents[manifest] = (json.dumps(doc, indent=2) + "\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in infos:
            target.writestr(info, contents[info.filename])
        target.comment = old if comment is None else comment
    return out.getvalue()


def in_part(member: str, apply: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    """Corruption ``apply`` made to one member of a zip archive (its manifest left as it was)."""
    return lambda data: rezip(data, {member: apply(zip_members(data)[member])})


# --- corruptions ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Corruption:
    """One bad value put into one record, and the reject it must produce.

    Attributes
    ----------
    apply
        Bytes of the fixture -> bytes of the corrupted copy.
    row
        ``x_SourceRow`` of the corrupted record.
    column
        ``x_Column`` the reject must name.
    reason
        A fragment of ``x_Reason``.
    value
        ``x_Value`` the reject must show (the bad value as text).
    """

    apply: Callable[[bytes], bytes]
    row: int
    column: str
    reason: str
    value: str


def replace_once(old: str, new: str) -> Callable[[bytes], bytes]:
    """Corruption replacing the one occurrence of ``old`` (it must occur exactly once)."""
    def apply(data: bytes) -> bytes:
        assert data.count(old.encode()) == 1, f"{old!r} must occur exactly once in the fixture"
        return data.replace(old.encode(), new.encode())

    return apply


def set_csv_field(line: int, column: str, value: str) -> Callable[[bytes], bytes]:
    """Corruption setting ``column`` of the record on ``line`` (header = 1) of a CSV file to ``value``."""
    def apply(data: bytes) -> bytes:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        rows[line - 1][rows[0].index(column)] = value
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue().encode()

    return apply


# --- cases ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """What the suite knows about one format.

    Attributes
    ----------
    records
        Fixture -> {record number: raw record}, the records ``rows_read`` must count.
    corruption
        The one-record corruption of the rejects test.
    amount
        (raw record -> amount, loaded column): each loaded record's amount, summed over its rows, must
        equal the raw one exactly; None when the format carries no money or no cheap raw amount.
    """

    records: Callable[[Path], Records]
    corruption: Corruption
    amount: tuple[Callable[[Any], Decimal], str] | None = None


def _dec(value: object) -> Decimal:
    return Decimal(str(value))


CASES: dict[str, Case] = {
    "anthropic_cost_report": Case(
        page_records,
        Corruption(replace_once('"amount":"250"', '"amount":"lots"'), 3, "amount", "not a decimal amount in cents",
                   "lots"),
        (lambda r: _dec(r["amount"]) / 100, "BilledCost"),  # cents
    ),
    "anthropic_usage_report": Case(
        page_records,
        Corruption(replace_once('"output_tokens":1200', '"output_tokens":-1200'), 2, "output_tokens",
                   "non-negative integer", "-1200"),
    ),
    "aws_cur2": Case(
        csv_records,
        Corruption(set_csv_field(4, "line_item_unblended_cost", "1,5"), 4, "line_item_unblended_cost",
                   "not a number", "1,5"),
        (lambda r: _dec(r["line_item_unblended_cost"]), "BilledCost"),
    ),
    "aws_cur_legacy": Case(
        csv_records,
        Corruption(set_csv_field(3, "lineItem/UsageStartDate", "2026-02-30T00:00:00Z"), 3, "lineItem/UsageStartDate",
                   "not a timestamp", "2026-02-30T00:00:00Z"),
        (lambda r: _dec(r["lineItem/UnblendedCost"]), "BilledCost"),
    ),
    "azure_cost_details": Case(
        csv_records,
        Corruption(set_csv_field(5, "Date", "2026-03-02"), 5, "Date", "not a MM/dd/yyyy date", "2026-03-02"),
        (lambda r: _dec(r["CostInBillingCurrency"]), "BilledCost"),
    ),
    "focus": Case(
        csv_records,
        Corruption(set_csv_field(3, "BilledCost", "3.00 USD"), 3, "BilledCost", "not a decimal number", "3.00 USD"),
        (lambda r: _dec(r["BilledCost"]), "BilledCost"),
    ),
    "focus+pinecone": Case(  # part 1 holds 11 records: line 3 of part 2 is record 13
        zip_records,
        Corruption(in_part("part-2-of-2.csv", set_csv_field(3, "BilledCost", "3.00 USD")), 13, "BilledCost",
                   "not a decimal number", "3.00 USD"),
        (lambda r: _dec(r["BilledCost"]), "BilledCost"),
    ),
    "gcp_billing_export": Case(
        jsonl_records,
        Corruption(replace_once('"usage_start_time":"2026-05-01T00:00:00Z"', '"usage_start_time":"2026-05-01T25:00Z"'),
                   3, "usage_start_time", "not a timestamp", "2026-05-01T25:00Z"),
        (lambda r: _dec(r["cost"]) + sum((_dec(c["amount"]) for c in r["credits"]), Decimal(0)), "BilledCost"),
    ),
    "helicone_requests": Case(
        lambda p: dict(enumerate(json.loads(p.read_text(encoding="utf-8"), parse_float=Decimal)["data"], start=1)),
        Corruption(replace_once('"completion_tokens": 300,', '"completion_tokens": -300,'), 1, "completion_tokens",
                   "not a non-negative integer", "-300"),
        (lambda r: _dec(r["cost"]), "x_ReportedCost"),
    ),
    "langfuse_observations": Case(
        array_records,
        Corruption(replace_once('"startTime": "2024-06-01T10:00:02.000Z"', '"startTime": "2024-13-01T10:00:02Z"'),
                   2, "startTime", "not an ISO-8601 time", "2024-13-01T10:00:02Z"),
        (lambda r: _dec(r["costDetails"]["total"]), "x_ReportedCost"),
    ),
    "litellm_spend_logs": Case(
        csv_records,
        Corruption(set_csv_field(4, "completion_tokens", "-500"), 4, "completion_tokens",
                   "not a non-negative integer", "-500"),
        (lambda r: _dec(r["spend"]), "x_ReportedCost"),
    ),
    "mapped:azure_llm_trace": Case(
        csv_records,
        Corruption(set_csv_field(3, "ContextTokens", "320 tokens"), 3, "ContextTokens", "not a number",
                   "320 tokens"),
    ),
    "mapped:burstgpt": Case(
        csv_records,
        Corruption(set_csv_field(3, "Response tokens", "2.5"), 3, "Response tokens", "not a non-negative integer",
                   "2.5"),
    ),
    "mapped:chatgpt_seats": Case(
        csv_records,
        Corruption(set_csv_field(3, "billing_period_start", "2025-06-31"), 3, "billing_period_start",
                   "not an ISO-8601 time", "2025-06-31"),
        (lambda r: _dec(r["amount"]), "BilledCost"),
    ),
    "mapped:claude_seats": Case(
        csv_records,
        Corruption(set_csv_field(4, "amount", "360 USD"), 4, "amount", "not a number", "360 USD"),
        (lambda r: _dec(r["amount"]), "BilledCost"),
    ),
    "mapped:github_usage": Case(
        csv_records,
        Corruption(set_csv_field(3, "net_amount", "0,633327"), 3, "net_amount", "not a number", "0,633327"),
        (lambda r: _dec(r["net_amount"]), "BilledCost"),
    ),
    "oci_cost_report": Case(
        csv_records,
        Corruption(set_csv_field(3, "cost/myCost", "0,093075"), 3, "cost/myCost", "not a number", "0,093075"),
        (lambda r: _dec(r["cost/myCost"]), "BilledCost"),
    ),
    "opencost_allocation": Case(
        allocation_records,
        Corruption(replace_once('"gpuCost": 98.3,', '"gpuCost": "lots",'), 1, "gpuCost", "not a number", "lots"),
    ),
    "prometheus_range": Case(
        prometheus_points,
        Corruption(replace_once('"5000"', '"NaN"'), 2, "value", "not a finite number", "NaN"),
    ),
    "prometheus_text": Case(
        prometheus_lines,
        Corruption(replace_once(" 4102200 ", " -4102200 "), 6, "value", "a counter cannot be negative", "-4102200"),
    ),
    "openai_costs": Case(
        page_records,
        Corruption(replace_once('"value":0.2,', '"value":"0.2 USD",'), 2, "amount.value", "not a number",
                   "0.2 USD"),
        (lambda r: _dec(r["amount"]["value"]), "BilledCost"),
    ),
    "openai_dashboard_activity": Case(
        lambda p: csv_records(p, empty=_usage_free("model", "num_model_requests", "input_tokens", "output_tokens")),
        Corruption(set_csv_field(3, "output_tokens", "300.5"), 3, "output_tokens", "fractional count", "300.5"),
    ),
    "openai_dashboard_costs": Case(
        lambda p: csv_records(p, empty=_usage_free("amount_value", "line_item")),
        Corruption(set_csv_field(4, "amount_value", "0.0072 USD"), 4, "amount_value", "not a decimal amount",
                   "0.0072 USD"),
        (lambda r: _dec(r["amount_value"]), "BilledCost"),
    ),
    "openai_usage": Case(
        page_records,
        Corruption(replace_once('"output_tokens":300,', '"output_tokens":3.5,'), 2, "output_tokens",
                   "non-negative integer", "3.5"),
    ),
    "openrouter_activity": Case(
        csv_records,
        Corruption(set_csv_field(3, "cost_total", "$0.021"), 3, "cost_total", "not a number", "$0.021"),
        (lambda r: _dec(r["cost_total"]), "x_ReportedCost"),
    ),
    "otel_genai": Case(
        otlp_records,
        Corruption(replace_once('"intValue": "50"', '"intValue": "fifty"'), 2, "gen_ai.usage.prompt_tokens",
                   "not a non-negative integer", "fifty"),
    ),
}


def assert_reingest_changes_nothing(path: Path) -> None:
    """Ingest ``path`` twice into one warehouse: the second time is ``unchanged`` and adds no row or reject."""
    con = engine.memory()
    try:
        first = ingest([path], con=con).iloc[0]
        counts = [con.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("requests", "rejects")]
        again = ingest([path], con=con).iloc[0]
        after = [con.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("requests", "rejects")]
    finally:
        con.disconnect()
    assert first.status == "loaded" and (again.status, again.rows_loaded) == ("unchanged", 0) and after == counts


def read_rows(path: Path, fmt: str, table: str = "requests") -> tuple[dict[int, dict], list[dict]]:
    """Read ``path`` with the ``fmt`` reader alone: (rows of ``table`` by record number, rejects)."""
    con = engine.memory()
    try:
        result = SOURCES[fmt].read(path, con)
        rows = getattr(result, table).to_pyarrow().to_pylist()
        rejects = result.rejects.to_pyarrow().to_pylist()
    finally:
        con.disconnect()
    return {r["x_SourceRow"]: r for r in rows}, rejects
