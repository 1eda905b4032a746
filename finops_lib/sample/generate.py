"""The sample generator's entry point: :func:`generate`."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from finops_lib.errors import ParameterError
from finops_lib.sample import (
    anthropic_writer,
    aws_writer,
    azure_writer,
    budgets_writer,
    focus_writer,
    gcp_writer,
    openai_writer,
    rules_writer,
)
from finops_lib.sample._io import Manifest, dumps_json
from finops_lib.sample.gateway import simulate_gateway
from finops_lib.sample.ledger import WRITERS, World, build_ledger
from finops_lib.sample.litellm_writer import LiteLLMWriter
from finops_lib.sample.prices import PriceBook, PriceCut, build_price_list
from finops_lib.sample.readme import write_readme
from finops_lib.sample.simulate import Timeline, build_profiles, simulate_direct
from finops_lib.sample.story import EVENTS
from finops_lib.sample.truth import write_truth

# The writer modules register themselves on import.
_WRITER_MODULES = (openai_writer, anthropic_writer, aws_writer, azure_writer, gcp_writer, focus_writer, rules_writer,
                   budgets_writer)
#: Folders and files the generator owns inside ``out_dir`` (replaced on every run).
OWNED: tuple[str, ...] = ("openai", "anthropic", "aws", "azure", "gcp", "litellm", "focus", "truth", "config",
                          "README.md", "manifest.json")  # fmt: skip


def _check(days: int, seed: int, scale: float, end_date: str) -> dt.date:
    if not isinstance(days, int) or isinstance(days, bool) or not 14 <= days <= 3660:
        raise ParameterError(f"days: expected an integer from 14 to 3660, got {days!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ParameterError(f"seed: expected a non-negative integer, got {seed!r}")
    if not isinstance(scale, int | float) or isinstance(scale, bool) or not 0 < scale <= 10_000:
        raise ParameterError(f"scale: expected a number in (0, 10000], got {scale!r}")
    try:
        return dt.date.fromisoformat(end_date)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"end_date: expected YYYY-MM-DD, got {end_date!r}") from exc


def _price_cuts(timeline: Timeline) -> list[PriceCut]:
    event = next(e for e in EVENTS if e.kind == "price_change")
    first, _ = timeline.span(event)
    day = timeline.dates[first]
    return [PriceCut("gcp_vertex", "gemini-2.5-flash", "output", Decimal("0.75"), day)]


def generate(out_dir: str | Path, *, days: int = 180, seed: int = 7, scale: float = 1.0,
             end_date: str = "2026-10-31", compress_gateway_logs: bool = True) -> dict[str, Any]:  # fmt: skip
    """Write the fictional organisation's AI spend data, each source in its vendor's native format.

    Parameters
    ----------
    out_dir
        Destination folder (created). The generator's own sub-folders and files in it are replaced.
    days
        Length of the period in days (14 to 3660), ending on ``end_date`` inclusive.
    seed
        Seed of every random draw; the same options give byte-identical files.
    scale
        Multiplies request volume everywhere (about 21,000 gateway log rows per unit at 180 days).
    end_date
        Last day of the period (``YYYY-MM-DD``, UTC).
    compress_gateway_logs
        Write ``litellm/spend_logs.csv.gz`` (gzip) instead of plain ``litellm/spend_logs.csv``.

    Returns
    -------
    dict
        The manifest (also written as ``manifest.json``): options, date range and, per file, its
        relative path, format, rows, bytes and sha256.

    Raises
    ------
    ParameterError
        When an option is out of range.

    Examples
    --------
    >>> import tempfile
    >>> manifest = generate(tempfile.mkdtemp(), days=30, scale=0.1)
    >>> manifest["date_range"]
    {'start': '2026-10-02', 'end': '2026-10-31'}
    """
    end = _check(days, seed, scale, end_date)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    for name in OWNED:
        target = root / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    timeline = Timeline(end, days)
    book = PriceBook(build_price_list(_price_cuts(timeline)))
    profiles = build_profiles(timeline, scale=float(scale))
    manifest = Manifest(root)
    log_rel = "litellm/spend_logs.csv.gz" if compress_gateway_logs else "litellm/spend_logs.csv"
    logs = LiteLLMWriter(root / log_rel, days=days, seed=seed, compress=compress_gateway_logs)
    try:
        gateway = simulate_gateway(timeline, profiles, book, seed=seed, sink=logs)
    finally:
        logs.close()
    manifest.record(log_rel, fmt="litellm_spend_logs_csv", rows=logs.rows)
    usage = pd.concat([simulate_direct(timeline, profiles, seed=seed), gateway.daily], ignore_index=True)
    usage = usage.sort_values(["day", "sid", "context_tier"], kind="stable").reset_index(drop=True)
    world = World(timeline, book, usage, gateway.window, build_ledger(usage, timeline, book), float(scale), seed)
    for write in WRITERS.values():
        write(world, manifest)
    truth = write_truth(world, manifest, bad_rows=logs.bad_rows)
    options = {"days": days, "seed": seed, "scale": scale, "end_date": end_date,
               "compress_gateway_logs": compress_gateway_logs}  # fmt: skip
    write_readme(world, manifest, truth=truth, options=options, bad_rows=logs.bad_rows)
    manifest.files.sort(key=lambda f: f["path"])
    result = {
        "generator": "finops_lib.sample",
        "options": options,
        "date_range": {"start": timeline.start.isoformat(), "end": timeline.end.isoformat()},
        "files": manifest.files,
    }
    (root / "manifest.json").write_text(dumps_json(result) + "\n", encoding="utf-8")
    return result
