"""JSON pages and buckets of the OpenAI organization Usage and Costs APIs, shared by their readers.

A saved response is a page ``{"object": "page", "data": [...]}`` or a bare list of buckets
(:func:`load_page`); each bucket has ``start_time``/``end_time`` (Unix seconds) and ``results``
(:func:`bucket_results`). Problems with one result raise ``ValueError`` naming the field in quotes,
which :mod:`finops_lib.sources.openai_api` turns into a reject.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from finops_lib.errors import SourceError
from finops_lib.sources._common import MAX_COUNT, grid_width, json_number
from finops_lib.sources._compressed import open_input


def load_page(path: Path) -> list[dict[str, Any]]:
    """Return the buckets of a saved response: a page's ``data`` list, or a bare list of buckets."""
    try:
        with open_input(path) as fh:  # .gz too, within the expansion limits
            doc = json.loads(fh.read().decode("utf-8"), parse_float=json_number)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise SourceError(path, f"cannot read file: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise SourceError(path, f"not valid JSON: {exc.msg}", line=exc.lineno, column=f"char {exc.colno}") from exc
    buckets = doc.get("data") if isinstance(doc, dict) else doc
    if not isinstance(buckets, list):
        raise SourceError(path, "expected a page with a 'data' list or a list of buckets", column="data")
    return buckets


def bucket_results(buckets: list[Any]) -> Iterator[tuple[str, int | None, int | None, dict[str, Any] | Any]]:
    """Yield (locator, start, end, result) for every result of every bucket."""
    for i, bucket in enumerate(buckets):
        if not isinstance(bucket, dict):
            yield f"data[{i}]", None, None, bucket
            continue
        results = bucket.get("results", bucket.get("result", []))
        for j, result in enumerate(results if isinstance(results, list) else [results]):
            yield f"data[{i}].results[{j}]", bucket.get("start_time"), bucket.get("end_time"), result


def int_field(result: dict[str, Any], name: str, *, required: bool = False) -> int | None:
    """Return a non-negative integer field, None when absent; raise ValueError when unusable."""
    value = result.get(name)
    if value is None:
        if required:
            raise ValueError(f"required field {name!r} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or not Decimal(value).is_finite() \
            or value != int(value) or value < 0:
        raise ValueError(f"{name!r} must be a non-negative integer")
    if value > MAX_COUNT:
        raise ValueError(f"{name!r} is implausibly large (over {MAX_COUNT:.0e})")
    return int(value)


def text_field(result: dict[str, Any], name: str) -> str | None:
    """Return a text field, None when absent or null; raise ValueError when it holds another type."""
    value = result.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name!r} is not text")
    return value


def period(start: Any, end: Any) -> tuple[int, int]:
    """Return a bucket's (start, end) Unix seconds; raise ValueError unless both are integers, end after start."""
    if not isinstance(start, int) or isinstance(start, bool):
        raise ValueError("bucket 'start_time' must be Unix seconds")
    if not isinstance(end, int) or isinstance(end, bool) or end <= start:
        raise ValueError("bucket 'end_time' must be Unix seconds after start_time")
    return start, end


def is_partial(start: int, end: int, width: int) -> bool:
    """Whether a bucket is off the file's grid of ``width`` seconds (the query window's edges)."""
    return end - start != width or start % width != 0


def bucket_width(buckets: list[Any]) -> int:
    """Return the dominant bucket width of the file (1d, 1h or 1m)."""
    widths = sorted(
        b["end_time"] - b["start_time"] for b in buckets
        if isinstance(b, dict) and isinstance(b.get("start_time"), int) and isinstance(b.get("end_time"), int)
    )
    return grid_width(widths)
