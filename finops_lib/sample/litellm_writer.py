"""Write the gateway's requests as a CSV dump of LiteLLM's ``LiteLLM_SpendLogs`` table, in chunks.

Strings are built column-wise with pyarrow compute, so millions of rows are written without a
Python loop per row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from finops_lib.sample._io import open_gzip
from finops_lib.sample.gateway import GATEWAY_SERIES, DayBatch
from finops_lib.sample.story import EXPERIMENT_ID, make_id

COLUMNS: tuple[str, ...] = (
    "request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens", "completion_tokens",
    "startTime", "endTime", "request_duration_ms", "completionStartTime", "model", "model_id", "model_group",
    "custom_llm_provider", "api_base", "user", "metadata", "cache_hit", "cache_key", "request_tags", "team_id",
    "organization_id", "end_user", "requester_ip_address", "messages", "response", "session_id", "status",
    "mcp_namespaced_tool_name", "agent_id", "proxy_server_request",
)  # fmt: skip
_API_BASE = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com/v1/messages"}
_ERRORS = (("429", "RateLimitError"), ("500", "InternalServerError"), ("503", "ServiceUnavailableError"))
#: Dirty rows added to the dump: (position in the period 0..1, column, bad value, reason).
BAD_ROWS: tuple[tuple[float, str, str, str], ...] = (
    (0.17, "startTime", "2026-06-31T08:14:22.123456Z", "startTime is not a valid date (June 31)"),
    (0.38, "spend", "0.00O31", "spend is not a number (letter O)"),
    (0.56, "startTime", "13/08/2026 11:02", "startTime is not ISO-8601"),
    (0.81, "spend", "n/a", "spend is not a number"),
)


def _model_group(model: str) -> str:
    return model.rsplit("-", 1)[0] if model[-8:].isdigit() else model.rsplit("-", 3)[0]


def _series_constants() -> dict[str, pa.Array]:
    """Per gateway series constant strings, indexed like :data:`GATEWAY_SERIES`."""
    cols: dict[str, list[str]] = {k: [] for k in ("key", "model", "model_id", "group", "provider", "base",
                                                  "tags", "team_id", "meta_head", "prefix")}  # fmt: skip
    for s in GATEWAY_SERIES:
        alias = f"{s.app}-{s.env}"
        team_id = make_id("", f"team-{s.team}", 8).lower() + "-" + make_id("", f"t2-{s.team}", 4).lower()
        tags = [f"app:{s.app}", f"feature:{s.feature}", f"env:{s.env}"]
        cols["key"].append(hashlib.sha256(f"sk-litellm-{alias}".encode()).hexdigest())
        cols["model"].append(s.model)
        cols["model_id"].append(hashlib.sha256(f"deployment-{s.model}".encode()).hexdigest()[:16])
        cols["group"].append(_model_group(s.model))
        cols["provider"].append(s.provider)
        cols["base"].append(_API_BASE[s.provider])
        cols["tags"].append("[" + ",".join(f'"{t}"' for t in tags) + "]")
        cols["team_id"].append(team_id)
        cols["meta_head"].append(
            f'{{"user_api_key_alias":"{alias}","user_api_key_team_id":"{team_id}",'
            f'"user_api_key_team_alias":"{s.team}","model_map_information":{{"model_map_key":"{s.model}"}},'
        )
        cols["prefix"].append("chatcmpl-" if s.provider == "openai" else "msg_01")
    return {k: pa.array(v, pa.string()) for k, v in cols.items()}


def _s(values: np.ndarray) -> pa.Array:
    return pa.array(values).cast(pa.string())


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _iso(us: np.ndarray) -> pa.Array:
    return pc.strftime(pa.array(us).cast(pa.timestamp("us")), format="%Y-%m-%dT%H:%M:%SZ")


def _hex(rng: np.random.Generator, n: int, width: int) -> pa.Array:
    raw = np.frombuffer(rng.bytes(n * width // 2).hex().encode(), dtype=f"S{width}")
    return pa.array(raw).cast(pa.string())


@dataclass
class LiteLLMWriter:
    """Stream :class:`~finops_lib.sample.gateway.DayBatch` chunks into the SpendLogs CSV dump."""

    path: Path
    days: int
    seed: int
    compress: bool
    rows: int = 0
    bad_rows: list[dict[str, object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Open the (gzip) file and the CSV writer."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[bytes] = open_gzip(self.path) if self.compress else self.path.open("wb")
        self._const = _series_constants()
        schema = pa.schema([(c, pa.string()) for c in COLUMNS])
        self._writer = pacsv.CSVWriter(self._handle, schema)
        self._bad_days = {min(self.days - 1, round(f * (self.days - 1))): i for i, (f, *_) in enumerate(BAD_ROWS)}

    def __call__(self, day: int, batch: DayBatch) -> None:
        """Write one day of requests (and the dirty row planned for that day, if any)."""
        table = self._table(batch, np.random.default_rng([self.seed, 4, day]))
        if day in self._bad_days:
            table = self._insert_bad(table, BAD_ROWS[self._bad_days[day]])
        self._writer.write_table(table)
        self.rows += table.num_rows

    def _insert_bad(self, table: pa.Table, bad: tuple[float, str, str, str]) -> pa.Table:
        _, column, value, reason = bad
        pos = table.num_rows // 2
        row = table.slice(pos, 1).to_pylist()[0]
        row["request_id"] = row["request_id"][:-6] + "dup000"
        row[column] = value
        self.bad_rows.append({"line": self.rows + pos + 2 + 1, "request_id": row["request_id"], "column": column,
                              "value": value, "reason": reason})  # fmt: skip
        bad_table = pa.Table.from_pylist([row], schema=table.schema)
        return pa.concat_tables([table.slice(0, pos + 1), bad_table, table.slice(pos + 1)])

    def _table(self, b: DayBatch, rng: np.random.Generator) -> pa.Table:
        n = b["series"].size
        idx = pa.array(b["series"])
        const = {k: v.take(idx) for k, v in self._const.items()}
        failed = pa.array(b["failed"])
        uid = _hex(rng, n, 32)
        request_id = _join(const["prefix"], pc.utf8_slice_codeunits(uid, 0, 8), "-",
                           pc.utf8_slice_codeunits(uid, 8, 12), "-", pc.utf8_slice_codeunits(uid, 12, 16), "-",
                           pc.utf8_slice_codeunits(uid, 16, 20), "-", pc.utf8_slice_codeunits(uid, 20, 32))  # fmt: skip
        inputs = ("input_uncached", "input_cache_read", "input_cache_write_5m", "input_cache_write_1h")
        prompt = sum(b[k] for k in inputs)
        writes = b["input_cache_write_5m"] + b["input_cache_write_1h"]
        end_us = b["start_us"] + b["duration_ms"] * 1000
        usage = _join('"usage_object":{"completion_tokens":', _s(b["output"]), ',"prompt_tokens":', _s(prompt),
                      ',"total_tokens":', _s(prompt + b["output"]), ',"completion_tokens_details":{"reasoning_tokens":',
                      _s(b["reasoning"]), '},"prompt_tokens_details":{"cached_tokens":', _s(b["input_cache_read"]),
                      '},"cache_creation_input_tokens":', _s(writes), ',"cache_read_input_tokens":',
                      _s(b["input_cache_read"]), ',"cache_creation_token_details":{"ephemeral_5m_input_tokens":',
                      _s(b["input_cache_write_5m"]), ',"ephemeral_1h_input_tokens":', _s(b["input_cache_write_1h"]),
                      "}}")  # fmt: skip
        err = rng.integers(0, len(_ERRORS), n)
        error = _join('"usage_object":null,"error_information":{"error_code":"',
                      pa.array([e[0] for e in _ERRORS]).take(pa.array(err)), '","error_class":"',
                      pa.array([e[1] for e in _ERRORS]).take(pa.array(err)), '","llm_provider":"',
                      const["provider"], '"}')  # fmt: skip
        is_variant = pa.array([bool(s.variant) for s in GATEWAY_SERIES]).take(idx)
        variant = pa.array([s.variant for s in GATEWAY_SERIES]).take(idx)
        quality = pc.fill_null(_s(b["quality"]), "null") if n else pa.array([], pa.string())
        quality = pc.if_else(pc.is_nan(pa.array(b["quality"])), "null", quality)
        slm = pc.if_else(is_variant, _join(f'"spend_logs_metadata":{{"experiment_id":"{EXPERIMENT_ID}","variant":"',
                                           variant, '","quality_score":', quality, "}"),
                         '"spend_logs_metadata":null')  # fmt: skip
        metadata = _join(const["meta_head"], slm, ",", pc.if_else(failed, error, usage), "}")
        end_user = self._end_users(rng, b["series"])
        session = self._sessions(rng, n)
        spend = pc.if_else(failed, "0.0", _s(b["spend"]))
        cols = {
            "request_id": request_id, "call_type": "acompletion", "api_key": const["key"], "spend": spend,
            "total_tokens": _s(prompt + b["output"]), "prompt_tokens": _s(prompt), "completion_tokens": _s(b["output"]),
            "startTime": _iso(b["start_us"]), "endTime": _iso(end_us), "request_duration_ms": _s(b["duration_ms"]),
            "completionStartTime": "", "model": const["model"], "model_id": const["model_id"],
            "model_group": const["group"], "custom_llm_provider": const["provider"], "api_base": const["base"],
            "user": "", "metadata": metadata, "cache_hit": "False", "cache_key": "Cache OFF",
            "request_tags": const["tags"], "team_id": const["team_id"], "organization_id": "", "end_user": end_user,
            "requester_ip_address": "", "messages": "{}", "response": "{}", "session_id": session,
            "status": pc.if_else(failed, "failure", "success"), "mcp_namespaced_tool_name": "", "agent_id": "",
            "proxy_server_request": "{}",
        }  # fmt: skip
        arrays = [v if isinstance(v, pa.Array) else pa.array(np.full(n, v, dtype=object), pa.string())
                  for v in cols.values()]  # fmt: skip
        return pa.Table.from_arrays(arrays, names=list(COLUMNS))

    @staticmethod
    def _end_users(rng: np.random.Generator, series: np.ndarray) -> pa.Array:
        support = np.array([s.team == "support" for s in GATEWAY_SERIES])[series]
        number = rng.integers(1, 4000, series.size)
        people = pc.binary_join_element_wise(pa.array(np.where(support, "cust_", "eng-")), _s(number), "")
        staging = np.array([s.env != "prod" for s in GATEWAY_SERIES])[series]
        return pc.if_else(pa.array(staging), "", people)

    @staticmethod
    def _sessions(rng: np.random.Generator, n: int) -> pa.Array:
        new = rng.random(n) < 0.25
        new[:1] = True
        number = np.cumsum(new) - 1
        ids = _hex(rng, int(number[-1]) + 1 if n else 0, 32)
        return ids.take(pa.array(number))

    def close(self) -> None:
        """Finish the CSV and the gzip stream."""
        self._writer.close()
        self._handle.close()
