"""Cut a CSV file into ranges of whole lines, for Spark's workers to parse apart (:func:`.workers.read_csv`).

Pure planning, no Spark: each task scans a block of bytes (:func:`scan_block`) for the newlines that end records,
for both cases of the block starting outside or inside a quoted field (quote parity); :func:`plan_ranges` chains the
blocks' parities from the start of the file, so it knows where each block's first record begins, and returns ranges
of whole lines with the line number of their first line. A file whose quoted fields span lines, or with a blank
line, is refused (:class:`~finops_lib.engines.workers.WorkersFailed`): the ingest machine numbers such files by
record, which a range cannot know.
"""

from __future__ import annotations

from dataclasses import dataclass

_NEWLINE, _QUOTE = 10, 34


class WorkersFailed(Exception):
    """Spark could not read the file on its workers (a type it cannot read, a failed job): read it elsewhere."""


@dataclass(frozen=True)
class BlockScan:
    """What one task found in its block of the file.

    For a start outside (0) or inside (1) a quoted field: the first newline that ends a record (-1: none) and the
    newlines inside quotes; then the block's quote parity, its newlines, and whether it holds a blank line.
    """

    start: int
    first: tuple[int, int]
    quoted: tuple[int, int]
    parity: int
    newlines: int
    blank: bool


@dataclass(frozen=True)
class LineRange:
    """Bytes ``[start, end)`` of whole lines.

    ``base`` turns a line number in a file of the header and these lines into the line number in the whole file.
    """

    index: int
    start: int
    end: int
    base: int


def scan_block(data: bytes, start: int, *, past: bytes = b"") -> BlockScan:
    r"""Scan one block (``past``: the bytes right after it, to see a blank line across the edge).

    Examples
    --------
    >>> scan_block(b'a,"x\ny"\nb\n', 0)
    BlockScan(start=0, first=(7, 4), quoted=(1, 2), parity=0, newlines=3, blank=False)
    """
    import numpy as np

    arr = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(arr == _NEWLINE)
    quotes = np.flatnonzero(arr == _QUOTE)
    inside = np.searchsorted(quotes, newlines) % 2  # quotes before each newline in the block: odd = inside, from 0
    first, quoted = [], []
    for state in (0, 1):
        ends = newlines[(inside ^ state) == 0]
        first.append(int(ends[0]) + start if len(ends) else -1)
        quoted.append(int(len(newlines) - len(ends)))
    edge = data + past[:2]
    blank = b"\n\n" in edge or b"\n\r\n" in edge
    return BlockScan(start, (first[0], first[1]), (quoted[0], quoted[1]), int(len(quotes) % 2), len(newlines),
                     blank)


def plan_ranges(scans: list[BlockScan], size: int, *, ends_with_newline: bool) -> tuple[list[LineRange], int]:
    r"""Return the ranges of whole lines after the header, and the number of data lines, from the blocks' scans.

    Raises
    ------
    WorkersFailed
        When a quoted field spans lines or a line is blank (the line numbers would not be the ingest machine's), or
        the header is not followed by a line.

    Examples
    --------
    >>> data = b"h1,h2\n1,2\n3,4\n5,6"
    >>> scans = [scan_block(data[i:i + 7], i, past=data[i + 7:]) for i in range(0, len(data), 7)]
    >>> plan_ranges(scans, len(data), ends_with_newline=False)
    ([LineRange(index=0, start=6, end=10, base=0), LineRange(index=1, start=10, end=17, base=1)], 3)
    """
    state, cuts, seen = 0, [], 0  # cuts: (position after a record's newline, newlines before that position)
    for scan in sorted(scans, key=lambda s: s.start):
        if scan.quoted[state]:
            raise WorkersFailed("a quoted field spans lines, so the workers cannot number the lines of their ranges")
        if scan.blank:
            raise WorkersFailed("the file holds a blank line, which the ingest machine's numbering counts differently")
        if scan.first[state] >= 0:
            cuts.append((scan.first[state] + 1, seen + 1))
        seen += scan.newlines
        state ^= scan.parity
    if not cuts or cuts[0][0] >= size:
        raise WorkersFailed("no line after the header")
    ranges = []
    for i, (start, before) in enumerate(cuts):
        end = cuts[i + 1][0] if i + 1 < len(cuts) else size
        if end > start:
            ranges.append(LineRange(len(ranges), start, end, before - 1))
    return ranges, seen - 1 + int(not ends_with_newline)
