"""Catalog rows from LiteLLM's ``model_prices_and_context_window.json`` (a file the user supplies).

LiteLLM prices are USD per single token, as JSON numbers; they are read from their text as
:class:`~decimal.Decimal` (``parse_float=Decimal``) and multiplied by 1,000,000, so ``3e-06`` becomes
exactly ``3``. Field mapping (everything else, e.g. audio/image/per-request prices, is listed in
:attr:`LiteLLMImport.skipped`, never guessed):

=========================================================  ==========================================
LiteLLM field                                              catalog row
=========================================================  ==========================================
``input_cost_per_token``                                   ``input_uncached``
``output_cost_per_token``                                  ``output`` (reasoning is inside output)
``cache_read_input_token_cost``                            ``input_cache_read``
``cache_creation_input_token_cost``                        ``input_cache_write_5m``
``cache_creation_input_token_cost_above_1hr``              ``input_cache_write_1h``
suffix ``_batches`` / ``_priority`` / ``_flex``            service tier batch / priority / flex
infix ``_above_<N>k_tokens``                               long context, threshold N x 1000 tokens
``long_context_input_token_threshold`` + ``*_multiplier``  long context: standard price x multiplier
=========================================================  ==========================================

``litellm_provider`` becomes the FOCUS provider (``bedrock`` -> AWS, ``azure`` -> Microsoft,
``vertex_ai*`` / ``gemini`` -> Google); the key, stripped of routes and region prefixes by
:func:`finops_lib.models.canonical_model`, becomes the model. A model with several long-context
thresholds keeps the lowest (the catalog has one long tier per model) and lists the others as skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd

from finops_lib.errors import SourceError
from finops_lib.models import canonical_model, provider_name
from finops_lib.pricing import catalog as cat

_FIELD = re.compile(
    r"^(?P<base>input_cost_per_token|output_cost_per_token|cache_read_input_token_cost"
    r"|cache_creation_input_token_cost(?:_above_1hr)?)"
    r"(?:_above_(?P<k1>\d+)k_tokens)?(?:_(?P<tier>batches|priority|flex))?(?:_above_(?P<k2>\d+)k_tokens)?$"
)
_BUCKET = {
    "input_cost_per_token": "input_uncached",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "input_cache_read",
    "cache_creation_input_token_cost": "input_cache_write_5m",
    "cache_creation_input_token_cost_above_1hr": "input_cache_write_1h",
}
_TIER = {None: "standard", "batches": "batch", "priority": "priority", "flex": "flex"}
_MULTIPLIERS = {"input_uncached": "long_context_input_cost_multiplier", "output": "long_context_output_cost_multiplier"}
MILLION = Decimal(1_000_000)


@dataclass
class LiteLLMImport:
    """Result of :func:`import_litellm`: catalog rows and what was left out, with why."""

    rows: pd.DataFrame
    skipped: list[str] = field(default_factory=list)


def _provider(entry: dict, key: str) -> str:
    raw = str(entry.get("litellm_provider") or key.split("/", 1)[0])
    return "Google" if raw.startswith("vertex_ai") else (provider_name(raw) or raw)


def _prices(key: str, entry: dict, skipped: list[str]) -> list[tuple[str, str, int | None, Decimal]]:
    """Return (bucket, tier, threshold, price per token) of the entry's token prices."""
    out = []
    for name, value in entry.items():
        if "cost" not in name:
            continue
        match = _FIELD.match(name)
        if not match or not isinstance(value, Decimal | int) or value <= 0:
            skipped.append(f"{key}: {name} not mapped")
            continue
        k = match["k1"] or match["k2"]
        out.append((_BUCKET[match["base"]], _TIER[match["tier"]], int(k) * 1000 if k else None, Decimal(value)))
    return out


def _multiplied(entry: dict, prices: list[tuple[str, str, int | None, Decimal]]) -> list:
    threshold = entry.get("long_context_input_token_threshold")
    if not isinstance(threshold, int | Decimal) or threshold <= 0:
        return []
    extra = []
    for bucket, tier, k, price in prices:
        factor = entry.get(_MULTIPLIERS.get(bucket, ""))
        if k is None and isinstance(factor, int | Decimal) and factor > 0:
            extra.append((bucket, tier, int(threshold), price * Decimal(factor)))
    return extra


def _row(provider: str, model: str, item: tuple, start: dt.date, source: str) -> dict[str, str]:
    bucket, tier, threshold, per_token = item
    price = (per_token * MILLION).normalize()
    return {
        "provider": provider, "model": model, "token_type": bucket, "service_tier": tier,
        "context_tier": "long" if threshold else "standard", "context_threshold": str(threshold or ""),
        "context_rule": "whole_request" if threshold else "", "deployment": "", "price_per_1m": format(price, "f"),
        "currency": "USD", "effective_from": start.isoformat(), "effective_to": "", "source": source,
    }  # fmt: skip


def _entry_rows(key: str, entry: dict, start: dt.date, source: str, skipped: list[str]) -> list[dict[str, str]]:
    model = canonical_model(key)
    if not model:
        return []
    prices = _prices(key, entry, skipped)
    prices += _multiplied(entry, prices)
    thresholds = sorted({p[2] for p in prices if p[2]})
    for dropped in thresholds[1:]:
        skipped.append(f"{key}: long-context tier above {dropped} tokens dropped (kept {thresholds[0]})")
    kept = [p for p in prices if p[2] in (None, *thresholds[:1])]
    return [_row(_provider(entry, key), model, p, start, source) for p in kept]


def import_litellm(path: str | Path, *, effective_from: dt.date, source: str | None = None) -> LiteLLMImport:
    """Read LiteLLM's price map into catalog rows effective from ``effective_from``.

    Parameters
    ----------
    path
        The JSON file (``model_prices_and_context_window.json`` or a subset of it).
    effective_from
        First day the prices apply (e.g. the day the file was taken); rows are open-ended.
    source
        Source text for every row (default: the file name).

    Returns
    -------
    LiteLLMImport
        ``rows``: checked catalog rows (the same frame as :func:`~finops_lib.pricing.catalog.read_catalog_file`);
        ``skipped``: fields and entries left out, with the reason. When two keys give the same model
        (``gpt-4o`` and ``openai/gpt-4o``), the first wins and the other is listed as skipped.

    Raises
    ------
    SourceError
        When the file is not a JSON object.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(path, f"not a readable JSON file: {exc}") from None
    if not isinstance(data, dict):
        raise SourceError(path, "expected a JSON object of model entries")
    text = source or f"LiteLLM model_prices_and_context_window.json ({path.name})"
    skipped: list[str] = []
    rows: dict[tuple, dict] = {}
    for key, entry in data.items():
        if key == "sample_spec" or not isinstance(entry, dict):
            continue
        for row in _entry_rows(key, entry, effective_from, text, skipped):
            k = tuple(row[c] for c in cat.KEY)
            if k in rows:
                skipped.append(f"{key}: {row['token_type']} {row['service_tier']} duplicates an earlier key")
                continue
            rows[k] = row
    parsed = [cat.parse_row(r, f"{path}, {r['model']}") for r in rows.values()]
    return LiteLLMImport(cat.validate_catalog(cat.catalog_frame(parsed)), skipped)
