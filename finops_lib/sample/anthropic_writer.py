"""Anthropic Admin API ``usage_report/messages`` and ``cost_report`` pages (1-day buckets)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from finops_lib.sample._io import Manifest, fmt_decimal
from finops_lib.sample.ledger import MONEY, World, attach, dsum, iso_day, register_writer
from finops_lib.sample.paging import write_pages

_DISPLAY = {
    "claude-sonnet-4-5-20250929": "Claude Sonnet 4.5",
    "claude-haiku-4-5-20251001": "Claude Haiku 4.5",
    "claude-opus-4-1-20250805": "Claude Opus 4.1",
}
_TOKEN_TYPE = {
    "input_uncached": ("uncached_input_tokens", "Input Tokens"),
    "input_cache_read": ("cache_read_input_tokens", "Cache Read Input Tokens"),
    "input_cache_write_5m": ("cache_creation.ephemeral_5m_input_tokens", "Cache Write Input Tokens (5m)"),
    "input_cache_write_1h": ("cache_creation.ephemeral_1h_input_tokens", "Cache Write Input Tokens (1h)"),
    "output": ("output_tokens", "Output Tokens"),
}


def _workspace(value: str) -> str | None:
    return value or None  # the default workspace is reported as null


def _page(buckets: list[dict[str, Any]], more: bool, nxt: str | None) -> dict[str, Any]:
    return {"data": buckets, "has_more": more, "next_page": nxt}


def _buckets(world: World, frame: pd.DataFrame, results_of: Any) -> list[dict[str, Any]]:
    by_day = dict(list(frame.groupby("day", sort=True)))
    dates = world.timeline.dates
    out = []
    for day, date in enumerate(dates):
        results = results_of(by_day[day]) if day in by_day else []
        end = iso_day(date + dt.timedelta(days=1))
        out.append({"starting_at": iso_day(date), "ending_at": end, "results": results})
    return out


def _usage_results(g: pd.DataFrame) -> list[dict[str, Any]]:
    results = []
    for (workspace, key, model, tier), r in g.groupby(["w_workspace_id", "w_api_key_id", "model", "tier"], sort=True):
        results.append({
            "api_key_id": key, "workspace_id": _workspace(workspace), "model": model, "service_tier": tier,
            "context_window": "0-200k", "inference_geo": None, "account_id": None, "service_account_id": None,
            "uncached_input_tokens": int(r["input_uncached"].sum()),
            "cache_creation": {"ephemeral_1h_input_tokens": int(r["input_cache_write_1h"].sum()),
                               "ephemeral_5m_input_tokens": int(r["input_cache_write_5m"].sum())},
            "cache_read_input_tokens": int(r["input_cache_read"].sum()), "output_tokens": int(r["output"].sum()),
            "server_tool_use": {"web_search_requests": 0},
        })  # fmt: skip
    return results


def description(model: str, tier: str, token_type: str) -> str:
    """Return the cost line description, e.g. ``Claude Sonnet 4.5 Batch Usage - Input Tokens``."""
    usage = "Batch Usage" if tier == "batch" else "Usage"
    return f"{_DISPLAY[model]} {usage} - {_TOKEN_TYPE[token_type][1]}"


def _cost_results(g: pd.DataFrame) -> list[dict[str, Any]]:
    results = []
    for (workspace, desc), r in g.groupby(["w_workspace_id", "description"], sort=True):
        first = r.iloc[0]
        cents = MONEY.multiply(dsum(r["cost"]), 100)
        results.append({
            "currency": "USD", "amount": fmt_decimal(cents), "workspace_id": _workspace(workspace),
            "description": desc, "cost_type": "tokens", "context_window": "0-200k", "model": first["model"],
            "service_tier": first["tier"], "token_type": _TOKEN_TYPE[first["token_type"]][0], "inference_geo": None,
        })  # fmt: skip
    return results


@register_writer("anthropic")
def write_anthropic(world: World, manifest: Manifest) -> None:
    """Write the usage report and cost report pages."""
    usage = attach(world.usage, provider="anthropic")
    write_pages(manifest, "anthropic/usage_report_page", _buckets(world, usage, _usage_results),
                fmt="anthropic_usage_report", envelope=_page, start_key=lambda b: b["starting_at"])  # fmt: skip
    ledger = attach(world.ledger, provider="anthropic")
    ledger["description"] = [description(m, t, k) for m, t, k in zip(ledger["model"], ledger["tier"],
                                                                       ledger["token_type"], strict=True)]  # fmt: skip
    write_pages(manifest, "anthropic/cost_report_page", _buckets(world, ledger, _cost_results),
                fmt="anthropic_cost_report", envelope=_page, start_key=lambda b: b["starting_at"])  # fmt: skip
