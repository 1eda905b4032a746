"""OpenAI organization Usage API (completions, embeddings) and Costs API pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from finops_lib.sample._io import Manifest
from finops_lib.sample.ledger import World, attach, dsum, register_writer
from finops_lib.sample.paging import write_pages
from finops_lib.sample.simulate import COUNT_COLUMNS, USAGE_WINDOW, window_fraction

_LINE_ITEM = {"input_uncached": "input", "input_cache_read": "cached input", "output": "output"}
_ZERO_MODALITIES = ("input_audio_tokens", "input_cached_audio_tokens", "output_audio_tokens", "input_image_tokens",
                    "input_cached_image_tokens", "output_image_tokens")  # fmt: skip


def _fraction(world: World, day: int) -> float:
    last = world.timeline.days - 1
    share = 1.0
    if day == 0:
        share -= window_fraction(USAGE_WINDOW[0], after=False)
    if day == last:
        share -= window_fraction(USAGE_WINDOW[1], after=True)
    return share


def usage_api_frame(world: World) -> pd.DataFrame:
    """Return OpenAI usage as the Usage API reports it: partial first and last day (query window)."""
    usage = attach(world.usage, provider="openai")
    edge = usage["day"].isin([0, world.timeline.days - 1])
    direct = usage[edge & (usage["channel"] == "direct")].copy()
    for day in direct["day"].unique():
        rows = direct["day"] == day
        direct.loc[rows, list(COUNT_COLUMNS)] = np.rint(direct.loc[rows, list(COUNT_COLUMNS)] * _fraction(world, day))
    window = attach(world.openai_window, provider="openai")
    out = pd.concat([usage[~edge], direct, window], ignore_index=True)
    out[list(COUNT_COLUMNS)] = out[list(COUNT_COLUMNS)].astype(np.int64)
    return out.sort_values(["day", "w_project_id", "w_api_key_id", "model", "tier"], kind="stable")


def _bounds(world: World, day: int) -> tuple[int, int]:
    start, end = world.timeline.epoch(day), world.timeline.epoch(day + 1)
    if day == 0:
        start += USAGE_WINDOW[0]
    if day == world.timeline.days - 1:
        end = world.timeline.epoch(day) + USAGE_WINDOW[1]
    return start, end


def _completion_result(g: pd.DataFrame, key: tuple[Any, ...]) -> dict[str, Any]:
    project, api_key, model, tier = key
    cached, uncached = int(g["input_cache_read"].sum()), int(g["input_uncached"].sum())
    write = int(g["input_cache_write_5m"].sum() + g["input_cache_write_1h"].sum())
    output = int(g["output"].sum())
    result: dict[str, Any] = {
        "object": "organization.usage.completions.result", "input_tokens": cached + uncached + write,
        "input_cached_tokens": cached, "input_cache_write_tokens": write, "input_uncached_tokens": uncached,
        "output_tokens": output, "input_text_tokens": uncached, "output_text_tokens": output,
        "input_cached_text_tokens": cached,
    }  # fmt: skip
    result |= dict.fromkeys(_ZERO_MODALITIES, 0)
    result |= {"num_model_requests": int(g["requests"].sum()), "project_id": project, "user_id": None,
               "api_key_id": api_key, "model": model, "batch": tier == "batch", "service_tier": "default"}  # fmt: skip
    return result


def _embedding_result(g: pd.DataFrame, key: tuple[Any, ...]) -> dict[str, Any]:
    project, api_key, model, _ = key
    return {"object": "organization.usage.embeddings.result", "input_tokens": int(g["input_uncached"].sum()),
            "num_model_requests": int(g["requests"].sum()), "project_id": project, "user_id": None,
            "api_key_id": api_key, "model": model}  # fmt: skip


def _usage_buckets(world: World, frame: pd.DataFrame, make: Any) -> list[dict[str, Any]]:
    by_day = dict(list(frame.groupby("day", sort=True)))
    buckets = []
    for day in range(world.timeline.days):
        start, end = _bounds(world, day)
        results = []
        if day in by_day:
            for key, g in by_day[day].groupby(["w_project_id", "w_api_key_id", "model", "tier"], sort=True):
                results.append(make(g, key))
        buckets.append({"object": "bucket", "start_time": start, "end_time": end, "results": results})
    return buckets


def _page(buckets: list[dict[str, Any]], more: bool, nxt: str | None) -> dict[str, Any]:
    return {"object": "page", "data": buckets, "has_more": more, "next_page": nxt}


def _start_iso(bucket: dict[str, Any]) -> str:
    return dt.datetime.fromtimestamp(bucket["start_time"], dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def line_item(model: str, token_type: str, tier: str) -> str:
    """Return the Costs API ``line_item`` label (batch as a ``batch |`` feature prefix)."""
    label = f"{model}, {_LINE_ITEM[token_type]}"
    return f"batch | {label}" if tier == "batch" else label


@register_writer("openai")
def write_openai(world: World, manifest: Manifest) -> None:
    """Write the completions and embeddings usage pages and the costs pages."""
    frame = usage_api_frame(world)
    embed = frame["model"].str.startswith("text-embedding")
    write_pages(manifest, "openai/usage_completions_page", _usage_buckets(world, frame[~embed], _completion_result),
                fmt="openai_usage_completions", envelope=_page, start_key=_start_iso)  # fmt: skip
    write_pages(manifest, "openai/usage_embeddings_page", _usage_buckets(world, frame[embed], _embedding_result),
                fmt="openai_usage_embeddings", envelope=_page, start_key=_start_iso)  # fmt: skip
    ledger = attach(world.ledger, provider="openai")
    ledger["line_item"] = [line_item(m, t, r) for m, t, r in zip(ledger["model"], ledger["token_type"],
                                                                  ledger["tier"], strict=True)]  # fmt: skip
    by_day = dict(list(ledger.groupby("day", sort=True)))
    buckets = []
    for day in range(world.timeline.days):
        results = []
        if day in by_day:
            for (project, item), g in by_day[day].groupby(["w_project_id", "line_item"], sort=True):
                results.append({"object": "organization.costs.result", "amount": {"value": dsum(g["cost"]),
                                "currency": "usd"}, "line_item": item, "project_id": project})  # fmt: skip
        epoch = world.timeline.epoch(day)
        buckets.append({"object": "bucket", "start_time": epoch, "end_time": epoch + 86400, "results": results})
    write_pages(manifest, "openai/costs_page", buckets, fmt="openai_costs", envelope=_page, start_key=_start_iso)
