"""The price catalog as data: read, check, layer user files over the shipped one, discount, alias.

One catalog row is the price of one token bucket of one model, for one service tier, context tier
and deployment type, over a date range: ``effective_from`` inclusive, ``effective_to`` exclusive
(empty = still valid), both UTC days. The key of a row is
``(provider, model, token_type, service_tier, context_tier, deployment)``; the versions of a key
must neither overlap nor leave gaps. ``deployment`` empty means "any deployment"; a row naming a
deployment type wins over the generic row for traffic of that type. Prices are exact decimal text
per 1M tokens (at most 12 decimal places), never floats.

Long-context rows (``context_tier = long``) carry ``context_threshold``, the prompt size in tokens
above which the long rate applies, and ``context_rule``; the only rule vendors use today is
``whole_request``: once the prompt (uncached input + cache reads + cache writes) exceeds the
threshold, every bucket of that request, output included, is billed at the long rate.

Model aliases (``model_aliases.csv``) map a family id (``gpt-4o-mini``, ``claude-3-5-haiku``) to the
dated snapshot whose prices apply, per provider and date range: explicit rows, never fuzzy matching.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from finops_lib import paths
from finops_lib.errors import SchemaError
from finops_lib.schema import CONTEXT_TIERS, DEPLOYMENT_TYPES, TOKEN_BUCKETS

CATALOG_COLUMNS: tuple[str, ...] = (
    "provider", "model", "token_type", "service_tier", "context_tier", "context_threshold", "context_rule",
    "deployment", "price_per_1m", "currency", "effective_from", "effective_to", "source",
)  # fmt: skip
KEY: tuple[str, ...] = ("provider", "model", "token_type", "service_tier", "context_tier", "deployment")
ALIAS_COLUMNS: tuple[str, ...] = ("provider", "alias", "model", "effective_from", "effective_to", "source")
#: Service tiers priced per token (provisioned throughput is billed per hour, not per token).
PRICED_TIERS: tuple[str, ...] = ("standard", "batch", "priority", "flex")
CONTEXT_RULES: tuple[str, ...] = ("whole_request",)
SHIPPED_CATALOG: Path = paths.PACKAGE_DATA_DIR / "price_catalog.csv"
SHIPPED_ALIASES: Path = paths.PACKAGE_DATA_DIR / "model_aliases.csv"
#: The sample world's own price changes (fictional), layered over the shipped catalog for the sample.
SAMPLE_OVERLAY: Path = paths.PACKAGE_DATA_DIR / "sample_price_overlay.csv"
#: Stand-in for an open-ended ``effective_to`` inside the engine.
OPEN_END: dt.date = dt.date(9999, 12, 31)
MAX_PRICE_PLACES = 12
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _fail(column: str, where: str, problem: str, value: object) -> SchemaError:
    return SchemaError("price_catalog", column, f"{where}: {problem}", [value])


def _missing(column: str, where: str) -> SchemaError:
    return _fail(column, where, "required column is missing", column)


def parse_price(text: str, *, where: str = "", column: str = "price_per_1m") -> Decimal:
    """Return a positive price parsed exactly from its text.

    Raises
    ------
    SchemaError
        When the text is not a finite positive decimal with at most 12 decimal places.

    Examples
    --------
    >>> parse_price("1.25")
    Decimal('1.25')
    >>> parse_price("3E-6")
    Decimal('0.000003')
    """
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise _fail(column, where, "not a decimal number", text) from None
    if not value.is_finite() or value <= 0:
        raise _fail(column, where, "price must be positive (unpriced is a missing row, never 0)", text)
    value = value.normalize()
    if -value.as_tuple().exponent > MAX_PRICE_PLACES:  # type: ignore[operator]
        raise _fail(column, where, f"more than {MAX_PRICE_PLACES} decimal places", text)
    return value + Decimal(0)  # drops an exponent form such as 3E-6 -> 0.000003


def parse_date(text: str, column: str, where: str, *, required: bool) -> dt.date | None:
    """Return an ISO day of a catalog field; empty is None unless ``required`` (errors name the place)."""
    text = (text or "").strip()
    if not text:
        if required:
            raise _fail(column, where, "date is required", text)
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _fail(column, where, "not an ISO date (YYYY-MM-DD)", text) from None


def _choice(row: dict[str, str], column: str, allowed: Sequence[str], where: str, default: str = "") -> str:
    value = (row.get(column) or "").strip() or default
    if value not in allowed:
        shown = ", ".join(a or "(empty)" for a in allowed)
        raise _fail(column, where, f"not one of {shown}", value)
    return value


def _context(row: dict[str, str], where: str) -> tuple[str, int | None, str]:
    tier = _choice(row, "context_tier", CONTEXT_TIERS, where, "standard")
    threshold_text = (row.get("context_threshold") or "").strip()
    rule = (row.get("context_rule") or "").strip()
    if tier == "standard":
        if threshold_text or rule:
            raise _fail("context_threshold", where, "only long-context rows carry a threshold and rule", threshold_text)
        return tier, None, ""
    if not threshold_text.isdigit() or int(threshold_text) <= 0:
        raise _fail("context_threshold", where, "long-context row needs a positive integer threshold", threshold_text)
    if rule not in CONTEXT_RULES:
        raise _fail("context_rule", where, f"not one of {', '.join(CONTEXT_RULES)}", rule)
    return tier, int(threshold_text), rule


def parse_row(row: dict[str, str], where: str) -> dict[str, object]:
    """Return one checked catalog row (``where`` names the file and line in errors)."""
    provider, model = (row.get("provider") or "").strip(), (row.get("model") or "").strip().lower()
    if not provider or not model:
        raise _fail("provider" if not provider else "model", where, "required", "")
    tier, threshold, rule = _context(row, where)
    currency = (row.get("currency") or "").strip()
    if not _CURRENCY.match(currency):
        raise _fail("currency", where, "not an upper-case ISO 4217 code", currency)
    start = parse_date(row.get("effective_from", ""), "effective_from", where, required=True)
    end = parse_date(row.get("effective_to", ""), "effective_to", where, required=False)
    if end is not None and start is not None and end <= start:
        raise _fail("effective_to", where, "effective_to (exclusive) must be after effective_from", str(end))
    price = parse_price(row.get("price_per_1m", ""), where=where)
    return {
        "provider": provider, "model": model,
        "token_type": _choice(row, "token_type", TOKEN_BUCKETS, where),
        "service_tier": _choice(row, "service_tier", PRICED_TIERS, where, "standard"),
        "context_tier": tier, "context_threshold": threshold, "context_rule": rule,
        "deployment": _choice(row, "deployment", ("", *DEPLOYMENT_TYPES), where),
        "price_per_1m": price, "list_price_per_1m": price, "currency": currency,
        "effective_from": start, "effective_to": end, "source": (row.get("source") or "").strip(),
    }  # fmt: skip


def catalog_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Return catalog rows as the catalog frame (its declared columns, in order)."""
    columns = [*CATALOG_COLUMNS, "list_price_per_1m"]
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    return frame.reset_index(drop=True)


def read_catalog_file(path: str | Path) -> pd.DataFrame:
    """Read one catalog CSV (shipped or user) and check every row on its own.

    Returns
    -------
    pandas.DataFrame
        The catalog columns plus ``list_price_per_1m``; prices are :class:`~decimal.Decimal`, dates
        :class:`datetime.date` (``effective_to`` None when open).

    Raises
    ------
    SchemaError
        Naming the file, line, column and value at fault.
    """
    rows = paths.csv_rows(path, required=CATALOG_COLUMNS, parse=parse_row, missing=_missing)
    return catalog_frame(rows)


def _versions(frame: pd.DataFrame) -> Iterable[tuple[tuple, pd.DataFrame]]:
    for key, group in frame.groupby(list(KEY), sort=True, dropna=False):
        yield key, group.sort_values("effective_from")


def check_catalog(frame: pd.DataFrame) -> list[str]:
    """Return the problems across rows: overlapping or gapped versions, inconsistent thresholds or currencies.

    Returns
    -------
    list of str
        Empty when the catalog is consistent.
    """
    problems: list[str] = []
    for key, group in _versions(frame):
        rows = list(group.itertuples(index=False))
        for prev, nxt in itertools.pairwise(rows):
            if prev.effective_to is None or prev.effective_to > nxt.effective_from:
                problems.append(
                    f"overlapping effective ranges for {key}: {prev.effective_from} and {nxt.effective_from}"
                )
            elif prev.effective_to < nxt.effective_from:
                problems.append(f"gap in effective ranges for {key}: {prev.effective_to} to {nxt.effective_from}")
    by_model = frame.groupby(["provider", "model"], sort=True)
    for (provider, model), group in by_model:
        if group["currency"].nunique() > 1:
            problems.append(f"{provider} {model}: prices in several currencies {sorted(set(group['currency']))}")
        thresholds = set(group.loc[group["context_tier"] == "long", "context_threshold"])
        if len(thresholds) > 1:
            problems.append(f"{provider} {model}: several long-context thresholds {sorted(thresholds)}")
    return problems


def validate_catalog(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` unchanged when :func:`check_catalog` finds nothing.

    Raises
    ------
    SchemaError
        Listing the first problems found.
    """
    problems = check_catalog(frame)
    if problems:
        raise SchemaError("price_catalog", "effective_from", f"{len(problems)} problem(s): {problems[0]}", problems)
    return frame


def _subtract(row: dict, cuts: list[tuple[dt.date, dt.date | None]]) -> list[dict]:
    """Return the parts of ``row``'s date range not covered by any of ``cuts``."""
    parts = [(row["effective_from"], row["effective_to"])]
    for c_start, c_end in cuts:
        kept = []
        for start, end in parts:
            if (end is not None and end <= c_start) or (c_end is not None and c_end <= start):
                kept.append((start, end))
                continue
            if start < c_start:
                kept.append((start, c_start))
            if c_end is not None and (end is None or c_end < end):
                kept.append((c_end, end))
        parts = kept
    return [{**row, "effective_from": s, "effective_to": e} for s, e in parts]


def overlay(base: pd.DataFrame, user: pd.DataFrame) -> pd.DataFrame:
    """Layer ``user`` rows over ``base``: for the same key and dates the user row wins.

    Base rows of a key the user also prices are cut back to the dates the user rows leave
    uncovered; keys only in ``user`` (private models) are added. Neither input is changed.

    Returns
    -------
    pandas.DataFrame
        The merged catalog (not yet checked: call :func:`validate_catalog`).
    """
    cover: dict[tuple, list[tuple[dt.date, dt.date | None]]] = {}
    for row in user.to_dict("records"):
        cover.setdefault(tuple(row[k] for k in KEY), []).append((row["effective_from"], row["effective_to"]))
    kept: list[dict] = []
    for row in base.to_dict("records"):
        cuts = cover.get(tuple(row[k] for k in KEY))
        kept.extend(_subtract(row, cuts) if cuts else [row])
    return catalog_frame([*kept, *user.to_dict("records")])


def _alias_row(row: dict[str, str], where: str) -> dict[str, object]:
    alias, model = (row["alias"] or "").strip().lower(), (row["model"] or "").strip().lower()
    if not alias or not model or alias == model:
        raise _fail("alias", where, "alias and model are required and must differ", alias)
    return {"provider": row["provider"].strip(), "alias": alias, "model": model,
            "effective_from": parse_date(row["effective_from"], "effective_from", where, required=True),
            "effective_to": parse_date(row["effective_to"], "effective_to", where, required=False),
            "source": (row.get("source") or "").strip()}  # fmt: skip


def read_aliases(path: str | Path) -> pd.DataFrame:
    """Read a model-alias CSV (``provider, alias, model, effective_from, effective_to, source``).

    Raises
    ------
    SchemaError
        On a malformed row or overlapping ranges of one alias.
    """
    rows = paths.csv_rows(path, required=ALIAS_COLUMNS, parse=_alias_row, missing=_missing)
    frame = pd.DataFrame(rows, columns=list(ALIAS_COLUMNS), dtype=object)
    for (provider, alias), group in frame.groupby(["provider", "alias"]):
        spans = sorted(zip(group["effective_from"], group["effective_to"], strict=True))
        for (_, end), (start, _) in itertools.pairwise(spans):
            if end is None or end > start:
                raise _fail("effective_from", str(path), f"overlapping ranges for alias {provider} {alias}", start)
    return frame


def fingerprint(frame: pd.DataFrame) -> str:
    """Return a short, order-independent digest of a catalog's prices (its version, for provenance).

    Examples
    --------
    >>> len(fingerprint(read_catalog_file(SHIPPED_CATALOG)))
    12
    """
    lines = sorted(
        "|".join(str(row[c]) for c in (*KEY, "context_threshold", "price_per_1m", "list_price_per_1m", "currency",
                                       "effective_from", "effective_to"))
        for row in frame.to_dict("records")
    )  # fmt: skip
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Discount:
    """A negotiated discount in percent off the list price, for a provider or one of its models."""

    provider: str
    model: str
    pct: Decimal
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    note: str = field(default="", compare=False)


def write_catalog(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write catalog rows as a catalog CSV (e.g. an imported LiteLLM map, to review and layer as a user file).

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(CATALOG_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in frame.to_dict("records"):
            out = {c: "" if row.get(c) is None else row.get(c) for c in CATALOG_COLUMNS}
            out["price_per_1m"] = format(row["price_per_1m"], "f")
            writer.writerow(out)
    return path
