"""Cutting a CSV file into ranges of whole lines for Spark's workers (no Spark needed: the planning is pure).

Checked against Python's ``csv`` module writing the file: every range starts where a record starts, the ranges
cover the data exactly once, each range's base gives the line number of its first line, the data lines are
counted, and a file whose quoted fields span lines (or with a blank line) is refused, whatever the block size.
"""

from __future__ import annotations

import csv
import io
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finops_lib.engines.line_ranges import WorkersFailed, plan_ranges, scan_block

FIELD = st.text(alphabet='ab,"\n ', max_size=6)


def _write(rows: list[list[str]], *, crlf: bool, final_newline: bool) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if crlf else "\n").writerows(rows)
    text = out.getvalue()
    if not final_newline:
        text = text[: -2 if crlf else -1]
    return text.encode()


def _plan(data: bytes, block: int):
    scans = [scan_block(data[i:i + block], i, past=data[i + block:i + block + 2]) for i in range(0, len(data), block)]
    return plan_ranges(scans, len(data), ends_with_newline=data.endswith(b"\n"))


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(FIELD, min_size=2, max_size=2), min_size=2, max_size=12),
       block=st.integers(min_value=1, max_value=40), crlf=st.booleans(), final_newline=st.booleans())
def test_ranges_start_at_records_and_cover_the_data_once(rows, block, crlf, final_newline):
    data = _write(rows, crlf=crlf, final_newline=final_newline)
    # Where each record starts, and its line (header = 1), from the csv module's own writing of each record.
    starts, position = [], 0
    for row in rows:
        starts.append(position)
        one = io.StringIO()
        csv.writer(one, lineterminator="\r\n" if crlf else "\n").writerow(row)
        position += len(one.getvalue().encode())
    spans_lines = any("\n" in field for row in rows for field in row)
    blank = any(data[s:s + 1] in (b"\n", b"\r") for s in starts)  # a record written as an empty line
    if spans_lines or blank:
        with pytest.raises(WorkersFailed):
            _plan(data, block)
        return
    ranges, lines = _plan(data, block)
    assert ranges[0].start == starts[1]  # right after the header
    assert ranges[-1].end == len(data)
    for before, after in itertools.pairwise(ranges):
        assert before.end == after.start  # contiguous: nothing read twice, nothing skipped
    for r in ranges:
        assert r.start in starts
        line = starts.index(r.start) + 1  # the record's line in the whole file (header = 1)
        assert r.base == line - 2  # the range's first line is line 2 of the header + range file
    assert lines == len(rows) - 1


def test_a_quoted_field_spanning_lines_is_refused_even_when_the_block_starts_inside_it():
    data = b'h1,h2\n1,"a\nb"\n2,3\n'
    for block in range(1, len(data) + 1):
        with pytest.raises(WorkersFailed, match="quoted field spans lines"):
            _plan(data, block)


def test_a_blank_line_across_a_block_edge_is_seen():
    data = b"h1,h2\n1,2\n\n3,4\n"
    for block in range(1, len(data) + 1):
        with pytest.raises(WorkersFailed, match="blank line"):
            _plan(data, block)
