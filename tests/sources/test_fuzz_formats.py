"""Issue 17, point 8: structure-aware fuzzing of every registered format's own fixture.

Unlike ``tests/test_corruption.py`` (byte-level: truncation, a number replaced, a key dropped), these
mutations know the container: a JSON fixture is parsed (numbers kept as written, objects as key/value pairs so a
key can be repeated) and a value anywhere in it is changed; a CSV fixture is parsed and a cell of a typed column
is changed. Hypothesis applies one to three of:

* ``swap_type``: a value becomes one of another type (text, number, object, array, boolean, null);
* ``null_nested``: an object or array becomes null (CSV: a cell becomes empty, ``null`` or ``None``);
* ``huge``: a number becomes ``1e308``, ``1e400``, ``-1e30`` or a 41-digit integer;
* ``not_finite``: a number becomes ``NaN``, ``Infinity`` or ``-Infinity`` (bare JSON tokens);
* ``far_date``: a record's date (``value_cases.DATES``) is moved to the year 1 or 9999, or a Unix time
  (seconds or nanoseconds) 1e14 seconds ahead;
* ``duplicate_key``: an object repeats a key with another value (CSV: a header name twice, or a line twice);
* ``truncate``: the file is cut anywhere.

A zip of CSV parts (Pinecone's FOCUS export) is mutated inside: one part, as a CSV file (truncated: the part is cut),
its manifest's row counts then rewritten to match or left as they were.

The invariants: reading never raises anything but :class:`~finops_lib.errors.SourceError` (the file as a
whole cannot be read); ingesting either fails naming the file, or loads with every record accounted for
(read = loaded + rejected + superseded, which ``ingest`` checks too); and nothing dated outside the
plausible window reaches the warehouse. ``FINOPS_FUZZ_EXAMPLES`` sets the examples per format (default 8:
the whole file runs in about a minute here; raise it for a deeper run).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample
from source_cases import CASES, case_ids, fixture_path, format_of, rezip, zip_members, zip_parts
from value_cases import DATES, sample_parts, set_date

from finops_lib import engine
from finops_lib.errors import SourceError
from finops_lib.sources import SOURCES
from finops_lib.sources._common import window_bounds
from finops_lib.warehouse import ingest

FORMATS = case_ids()  # every format's fixture, and the variants (a zip of FOCUS parts)
EXAMPLES = int(os.environ.get("FINOPS_FUZZ_EXAMPLES", "8"))
KINDS = ("swap_type", "null_nested", "huge", "not_finite", "far_date", "duplicate_key", "truncate")
_DATE = re.compile(r"^(\d{4})(-\d\d-\d\d.*)$|^(\d\d/\d\d/)(\d{4})$")
_UNIX = re.compile(r"^-?\d{10}(\.\d+)?$|^-?\d{19}$")
HUGE = ("1e308", "1e400", "-1e30", "1" + "0" * 40)
NOT_FINITE = ("NaN", "Infinity", "-Infinity")


# --- JSON, parsed keeping numbers as written and repeated keys ------------------------------------------------


class Num(str):
    """A JSON number (or NaN/Infinity token) as the file wrote it."""


class Obj(list):
    """A JSON object as its (key, value) pairs, in order; a key may repeat."""


def parse(text: str) -> Any:
    return json.loads(text, parse_float=Num, parse_int=Num, parse_constant=Num, object_pairs_hook=Obj)


def emit(value: Any) -> str:
    if isinstance(value, Obj):
        return "{" + ", ".join(f"{json.dumps(k)}: {emit(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(emit(v) for v in value) + "]"
    if isinstance(value, Num):
        return str(value)
    return json.dumps(value)


def slots(value: Any, path: tuple = ()) -> list[tuple]:
    """Every place holding a value: (container, key or index, value)."""
    out = []
    items = enumerate(value) if isinstance(value, list) and not isinstance(value, Obj) else \
        ((i, v) for i, (_, v) in enumerate(value)) if isinstance(value, Obj) else ()
    for i, item in items:
        out.append((value, i, item))
        out.extend(slots(item))
    return out


def put(container: Any, i: int, new: Any) -> None:
    if isinstance(container, Obj):
        container[i] = (container[i][0], new)
    else:
        container[i] = new


def _other_type(value: Any, draw) -> Any:
    choices = [("text", "abc"), ("number", Num("12")), ("object", Obj([("a", Num("1"))])), ("array", [Num("1")]),
               ("bool", True), ("null", None)]
    kind = ("object" if isinstance(value, Obj) else "array" if isinstance(value, list) else "number"
            if isinstance(value, Num) else "bool" if isinstance(value, bool) else "null" if value is None else "text")
    return draw(st.sampled_from([v for k, v in choices if k != kind]))


def _far(value: Any, draw) -> Any:
    year = draw(st.sampled_from(["0001", "9999"]))
    if isinstance(value, str) and not isinstance(value, Num) and (m := _DATE.match(value)):
        return year + m.group(2) if m.group(1) else m.group(3) + year
    text = str(value)
    if _UNIX.match(text):
        far = draw(st.sampled_from(["253402214400", "100000000000000", "-62135596800"]))
        far = far + "000000000" if len(text.lstrip("-")) == 19 else far
        return Num(far) if isinstance(value, Num) else far
    return value


def mutate_json(doc: Any, kind: str, draw) -> Any:
    spots = slots(doc)
    if not spots:
        return doc
    if kind == "swap_type":
        container, i, value = draw(st.sampled_from(spots))
        put(container, i, _other_type(value, draw))
    elif kind == "null_nested":
        nested = [s for s in spots if isinstance(s[2], list)] or spots
        container, i, _ = draw(st.sampled_from(nested))
        put(container, i, None)
    elif kind in ("huge", "not_finite"):
        numbers = [s for s in spots if isinstance(s[2], Num)] or spots
        container, i, _ = draw(st.sampled_from(numbers))
        put(container, i, Num(draw(st.sampled_from(HUGE if kind == "huge" else NOT_FINITE))))
    elif kind == "far_date":
        dated = [s for s in spots if _far(s[2], lambda _: "9999") is not s[2]
                 and (isinstance(s[2], str) and (_DATE.match(s[2]) or _UNIX.match(s[2])))]
        if dated:
            container, i, value = draw(st.sampled_from(dated))
            put(container, i, _far(value, draw))
    elif kind == "duplicate_key":
        objects = [s[2] for s in spots if isinstance(s[2], Obj) and s[2]] + ([doc] if isinstance(doc, Obj) else [])
        if objects:
            obj = draw(st.sampled_from(objects))
            key, value = draw(st.sampled_from(list(obj)))
            obj.insert(draw(st.integers(0, len(obj))), (key, _other_type(value, draw)))
    return doc


# --- CSV, parsed with its header --------------------------------------------------------------------------------


def mutate_csv(rows: list[list[str]], kind: str, draw) -> list[list[str]]:
    head, body = rows[0], [r for r in rows[1:] if len(r) == len(rows[0])]
    if not body:
        return rows
    r = draw(st.integers(1, len(rows) - 1))
    if len(rows[r]) != len(head):
        return rows
    c = draw(st.integers(0, len(head) - 1))
    cell = rows[r][c]
    if kind == "swap_type":
        rows[r][c] = draw(st.sampled_from([v for v in ('{"a": 1}', "true", "abc", "12", "[1, 2]", "") if v != cell]))
    elif kind == "null_nested":
        rows[r][c] = draw(st.sampled_from(["", "null", "None", "{}", "[]"]))
    elif kind in ("huge", "not_finite"):
        numeric = [i for i, v in enumerate(rows[r]) if re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", v)] or [c]
        rows[r][draw(st.sampled_from(numeric))] = draw(st.sampled_from(HUGE if kind == "huge" else
                                                                       (*NOT_FINITE, "nan", "inf")))
    elif kind == "far_date":
        dated = [i for i, v in enumerate(rows[r]) if _DATE.match(v) or _UNIX.match(v)]
        if dated:
            i = draw(st.sampled_from(dated))
            rows[r][i] = _far(rows[r][i], draw)
    elif kind == "duplicate_key":
        if draw(st.booleans()):
            rows[0] = [*head[:-1], head[draw(st.integers(0, len(head) - 2))]] if len(head) > 1 else head
        else:
            rows.insert(r, list(rows[r]))
    return rows


# --- Prometheus text, a sample per line -------------------------------------------------------------------------


def mutate_prom(lines: list[str], kind: str, draw) -> list[str]:
    samples = [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
    if not samples:
        return lines
    r = draw(st.sampled_from(samples))
    head, value, stamp = sample_parts(lines[r])
    if kind == "swap_type":
        value = draw(st.sampled_from([v for v in ('{"a": 1}', "true", "abc", "12", "[1, 2]", "") if v != value]))
    elif kind == "null_nested":
        name = head.split("{", 1)[0]
        head, value = draw(st.sampled_from([(name + "{}", value), (name, value), (head, "None"), (head + "{}", value)]))
    elif kind in ("huge", "not_finite"):
        value = draw(st.sampled_from(HUGE if kind == "huge" else (*NOT_FINITE, "nan", "+Inf")))
    elif kind == "duplicate_key":
        if "{" in head and head.endswith("}") and draw(st.booleans()):
            label = head[head.index("{") + 1: head.rindex("}")].split(",")[0] or 'a="1"'
            head = head[:-1] + ("," if head[-2] != "{" else "") + label + "}"
        else:
            lines.insert(r, lines[r])
            return lines
    lines[r] = " ".join(p for p in (head, value, stamp) if p)
    return lines


# --- a zip of CSV parts -----------------------------------------------------------------------------------------


def mutate_part(data: bytes, kind: str, draw) -> bytes:
    """Make the mutation to one CSV part of a zip; the manifest's counts are rewritten to match, or not."""
    name = draw(st.sampled_from(zip_parts(data)))
    content = zip_members(data)[name]
    if kind == "truncate":
        content = content[: draw(st.integers(0, max(len(content) - 1, 0)))]
    else:
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig", errors="replace"), newline="")))
        if len(rows) > 1:
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(mutate_csv(rows, kind, draw))
            content = out.getvalue().encode()
    return rezip(data, {name: content}, recount=draw(st.booleans()))


# --- the property ---------------------------------------------------------------------------------------------


def mutated(fmt: str, kinds: list[str], draw) -> bytes:
    data = fixture_path(fmt).read_bytes()
    suffix = fixture_path(fmt).suffix
    for kind in kinds:
        if kind == "far_date":  # the format's own date field (value_cases.DATES), of one record
            record = draw(st.sampled_from(sorted(CASES[fmt].records(fixture_path(fmt)))))
            far = [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)]
            moment = draw(st.sampled_from(far + ([10**14] if DATES[fmt].from_unix else [])))
            with contextlib.suppress(ValueError, LookupError, TypeError, AttributeError, StopIteration, csv.Error):
                data = set_date(fmt, data, record, moment)[0]  # after another mutation the record may be gone
        elif suffix == ".zip":
            data = mutate_part(data, kind, draw)
        elif kind == "truncate":
            data = data[: draw(st.integers(0, max(len(data) - 1, 0)))]
        elif suffix == ".csv":
            rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"), newline="")))
            if len(rows) > 1:
                out = io.StringIO()
                csv.writer(out, lineterminator="\n").writerows(mutate_csv(rows, kind, draw))
                data = out.getvalue().encode()
        elif suffix == ".prom":
            lines = data.decode("utf-8", errors="replace").split("\n")
            data = "\n".join(mutate_prom(lines, kind, draw)).encode()
        elif suffix == ".jsonl":
            lines = data.decode("utf-8", errors="replace").splitlines()
            n = draw(st.integers(0, max(len(lines) - 1, 0)))
            with contextlib.suppress(ValueError, IndexError):  # a line no longer JSON stays as it is
                lines[n] = emit(mutate_json(parse(lines[n]), kind, draw))
            data = "\n".join(lines).encode()
        else:
            with contextlib.suppress(ValueError):  # truncated earlier: no longer JSON
                data = emit(mutate_json(parse(data.decode("utf-8")), kind, draw)).encode()
    return data


def _read_directly(path: Path, fmt: str) -> None:
    """Run the reader alone and evaluate everything it returns: only SourceError may come out."""
    con = engine.memory()
    try:
        result = SOURCES[format_of(fmt)].read(path, con)
        for table in (result.costs, result.requests, result.metrics, result.rejects):
            if table is not None:
                table.to_pyarrow()
    except SourceError as exc:
        assert str(path) in str(exc), str(exc)
    finally:
        con.disconnect()


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=3))
def test_structure_aware_mutations_never_crash_and_lose_nothing(fmt, data, kinds, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / fixture_path(fmt).name
    path.write_bytes(mutated(fmt, kinds, data.draw))
    _read_directly(path, fmt)
    con = engine.memory()
    try:
        result = ingest([path], con=con, format=format_of(fmt)).iloc[0]
        start, end = window_bounds()
        outside = con.con.execute(
            f"SELECT count(*) FROM {SOURCES[format_of(fmt)].table} "
            "WHERE NOT (ChargePeriodStart >= ? AND ChargePeriodStart < ?)",
            [start, end]).fetchone()[0]
    finally:
        con.disconnect()
    if result.status == "failed":
        assert str(path) in result.message, result.message
    else:
        assert result.status == "loaded", result.message
        assert result.rows_read == result.rows_loaded + result.rows_rejected + result.rows_superseded
        assert outside == 0


@pytest.mark.parametrize("kind", KINDS)
def test_each_mutation_changes_each_fixture(kind):
    # Guard: a mutation that leaves a fixture unchanged for every draw would make the property test nothing.
    unchanged = []
    for fmt in FORMATS:
        original = fixture_path(fmt).read_bytes()
        files = st.composite(lambda draw, fmt=fmt: mutated(fmt, [kind], draw))()
        try:
            find(files, lambda data, original=original: data != original,
                 settings=settings(max_examples=20, database=None, deadline=None, phases=[Phase.generate]))
        except NoSuchExample:
            unchanged.append(fmt)
    assert unchanged == [], f"{kind} never changes {unchanged}"
