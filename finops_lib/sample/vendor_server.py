"""A fake OpenAI and Anthropic admin API: a real HTTP server playing :class:`~finops_lib.sample.vendor_org.Org`.

Run ``python -m finops_lib.sample.vendor_server --port 0 --control-file PATH [--seed N] [--size small|bench]``;
it prints ``LISTENING http://127.0.0.1:<port>`` and serves until killed. One port serves both vendors the way
their SDKs address them: OpenAI under ``<url>/v1`` (``OPENAI_BASE_URL``), Anthropic under ``<url>``
(``ANTHROPIC_BASE_URL``), with the documented query parameters, envelopes, pagination and error shapes
(``reference/formats.md`` sections 2 and 3).

The control file (JSON, read on every request) sets the server's clock (``now``: buckets after it are not served,
the bucket holding it is partial and ends at it, and the HTTP ``Date`` says it), the scenarios (``scenarios``:
``runaway``, ``restate``) and faults: ``rate_limit_every``/``retry_after`` (a 429), ``error_every``/
``error_status`` (a 5xx), ``delay`` (slow answers), ``fail_after_pages`` (the process dies mid-pagination),
``malformed_every`` (a truncated page). Each request is logged to ``requests.jsonl`` beside the control file
(path, query, status; never the key).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import email.utils
import json
import os
import sys
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from finops_lib.sample.vendor_org import BUCKETS, Org, hours

__all__ = ["SIZES", "main", "make_server"]

UTC = dt.UTC
#: Organisation sizes: tests, the README demo and the benchmark (50 projects x 10 models).
SIZES: dict[str, dict[str, int]] = {
    "small": {},
    "demo": {"openai_projects": 6, "openai_models": 3, "anthropic_workspaces": 3, "anthropic_models": 2},
    "bench": {"openai_projects": 50, "openai_models": 10, "anthropic_workspaces": 10, "anthropic_models": 5},
}
WIDTH = {"1d": 86400, "1h": 3600, "1m": 60}
LIMITS = {"1d": (7, 31), "1h": (24, 168), "1m": (60, 1440)}
OPENAI_DIRECTIONS = {"input_uncached": "input", "input_cache_read": "cached input", "output": "output"}
ANTHROPIC_TOKEN_TYPES = {"input_uncached": "uncached_input_tokens", "input_cache_read": "cache_read_input_tokens",
                         "output": "output_tokens"}  # fmt: skip
ANTHROPIC_LABELS = {"input_uncached": "Input Tokens", "input_cache_read": "Cache Read Input Tokens",
                    "output": "Output Tokens"}  # fmt: skip


class Fake(ThreadingHTTPServer):
    """The server and what it shares between requests."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], org: Org, control: Path) -> None:
        super().__init__(address, Handler)
        self.org, self.control = org, control
        self.log = control.parent / "requests.jsonl"
        self.count, self.pages = 0, 0
        self.lock = threading.Lock()
        self._orgs: dict[str, Org] = {}

    def settings(self) -> dict[str, Any]:
        """Read the control file (empty when absent or being written)."""
        try:
            return json.loads(self.control.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def org_for(self, settings: dict[str, Any]) -> Org:
        """Return the organisation with the control file's scenarios (cached per scenario set)."""
        scenarios = settings.get("scenarios") or []
        key = json.dumps(scenarios, sort_keys=True)
        if key not in self._orgs:
            self._orgs[key] = self.org.with_scenarios(scenarios)
        return self._orgs[key]


def _now(settings: dict[str, Any]) -> dt.datetime:
    text = settings.get("now")
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else dt.datetime.now(UTC)


class Handler(BaseHTTPRequestHandler):
    """One request: auth, faults, then the endpoint."""

    server: Fake
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Keep stderr quiet (requests go to requests.jsonl)."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        """Send the simulated clock as the HTTP ``Date``."""
        return email.utils.format_datetime(_now(self.server.settings()).astimezone(UTC), usegmt=True)

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        url = urlsplit(self.path)
        with self.server.lock, open(self.server.log, "a", encoding="utf-8") as log:
            log.write(json.dumps({"path": url.path, "query": url.query, "status": status}) + "\n")

    def do_GET(self) -> None:
        """Serve one GET."""
        settings = self.server.settings()
        with self.server.lock:
            self.server.count += 1
            count = self.server.count
        if settings.get("delay"):
            time.sleep(float(settings["delay"]))
        url = urlsplit(self.path)
        query = parse_qsl(url.query, keep_blank_values=True)
        vendor = "openai" if url.path.startswith("/v1/organization/") else \
            "anthropic" if url.path.startswith("/v1/organizations/") else None  # fmt: skip
        if vendor is None:
            return self._reply(404, b'{"error":{"message":"not found"}}')
        refused = self._auth(vendor)
        if refused:
            return self._reply(*refused)
        for every, status, headers in (("rate_limit_every", 429, {"retry-after": str(settings.get("retry_after", 1))}),
                                       ("error_every", int(settings.get("error_status", 500)), {})):
            if settings.get(every) and count % int(settings[every]) == 0:
                return self._reply(status, b'{"error":{"message":"try again"}}', headers)
        with self.server.lock:
            self.server.pages += 1
            pages = self.server.pages
        if settings.get("fail_after_pages") and pages > int(settings["fail_after_pages"]):
            os._exit(3)  # killed mid-pagination: no answer at all
        try:
            doc = (_openai if vendor == "openai" else _anthropic)(self.server.org_for(settings), url.path, query,
                                                                   _now(settings))  # fmt: skip
        except ValueError as exc:
            return self._reply(400, json.dumps({"error": {"message": str(exc), "type": "invalid_request_error"}})
                               .encode())  # fmt: skip
        body = _dumps(doc)
        if settings.get("malformed_every") and count % int(settings["malformed_every"]) == 0:
            body = body[: len(body) // 2]
        return self._reply(200, body)

    def _auth(self, vendor: str) -> tuple[int, bytes] | None:
        if vendor == "openai":
            header = self.headers.get("Authorization", "")
            if not header.startswith("Bearer "):
                return 401, b'{"error":{"message":"You didn\'t provide an API key.","type":"invalid_request_error"}}'
            if not header.removeprefix("Bearer ").startswith("sk-admin-"):
                return 403, (b'{"error":{"message":"This endpoint requires an admin API key.",'
                             b'"type":"invalid_request_error","code":"insufficient_permissions"}}')
            return None
        key = self.headers.get("x-api-key", "")
        if not key:
            return 401, _anthropic_error("authentication_error", "x-api-key header is required")
        if not key.startswith("sk-ant-admin"):
            return 403, _anthropic_error("permission_error", "an Admin API key is required")
        if not self.headers.get("anthropic-version"):
            return 400, _anthropic_error("invalid_request_error", "anthropic-version header is required")
        return None


def _anthropic_error(kind: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), default=_decimal).replace('"__D__', "").replace('__D__"', "") \
        .encode()  # fmt: skip


def _decimal(value: object) -> object:
    if isinstance(value, Decimal):
        return f"__D__{value:f}__D__"
    raise TypeError(type(value))


def _params(query: list[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    single = {k: v for k, v in query if not k.startswith("group_by")}
    groups = [v for k, v in query if k in ("group_by", "group_by[]")]
    return single, groups


def _window(single: dict[str, str], now: dt.datetime, *, openai: bool) -> tuple[dt.datetime, dt.datetime, str, int]:
    width = single.get("bucket_width", "1d")
    if width not in WIDTH:
        raise ValueError(f"bucket_width must be one of 1m, 1h, 1d, got {width!r}")
    try:
        if openai:
            start = dt.datetime.fromtimestamp(int(single["start_time"]), UTC)
            end = dt.datetime.fromtimestamp(int(single["end_time"]), UTC) if "end_time" in single else now
        else:
            start = dt.datetime.fromisoformat(single["starting_at"].replace("Z", "+00:00"))
            end = dt.datetime.fromisoformat(single["ending_at"].replace("Z", "+00:00")) if "ending_at" in single \
                else now  # fmt: skip
    except (KeyError, ValueError):
        raise ValueError("start_time (or starting_at) is required") from None
    default, most = LIMITS[width]
    limit = min(int(single.get("limit", default)), most)
    return start, min(end, now), width, limit


def _buckets(start: dt.datetime, end: dt.datetime, width: str) -> list[tuple[dt.datetime, dt.datetime]]:
    """Buckets of ``width`` from ``start`` (the first one starts at ``start``), the last one ending at ``end``."""
    step = dt.timedelta(seconds=WIDTH[width])
    out, begin = [], start
    while begin < end:
        grid = dt.datetime.fromtimestamp((int(begin.timestamp()) // WIDTH[width] + 1) * WIDTH[width], UTC)
        finish = min(grid, end, begin + step)
        out.append((begin, finish))
        begin = finish
    return out


def _page(items: list[Any], single: dict[str, str], limit: int) -> tuple[list[Any], bool, str | None]:
    first = int(base64.urlsafe_b64decode(single["page"]).decode()) if single.get("page") else 0
    chunk = items[first:first + limit]
    more = first + limit < len(items)
    cursor = base64.urlsafe_b64encode(str(first + limit).encode()).decode() if more else None
    return chunk, more, cursor


def _usage(org: Org, vendor: str, begin: dt.datetime, finish: dt.datetime) -> dict[str, np.ndarray]:
    """Tokens (and requests) per combo in ``[begin, finish)``: whole hours, the last one prorated."""
    total: dict[str, np.ndarray] = {}
    for hour, fraction in hours(begin, finish):
        requests = org.requests(vendor, hour, fraction)
        for k, v in {**org.tokens(vendor, requests), "requests": requests}.items():
            total[k] = total.get(k, 0) + v
    return total


def _group(dims: dict[str, Any], groups: list[str]) -> tuple[Any, ...]:
    return tuple((g, dims.get(g)) for g in groups)


def _openai(org: Org, path: str, query: list[tuple[str, str]], now: dt.datetime) -> dict[str, Any]:
    single, groups = _params(query)
    start, end, width, limit = _window(single, now, openai=True)
    if path == "/v1/organization/costs" and width != "1d":
        raise ValueError("bucket_width must be 1d for costs")
    spans, more, cursor = _page(_buckets(start, end, width), single, limit)
    data = []
    for begin, finish in spans:
        if path == "/v1/organization/costs":
            results = _openai_costs(org, begin, finish, groups)
        elif path == "/v1/organization/usage/completions":
            results = _openai_usage(org, begin, finish, groups)
        elif path.startswith("/v1/organization/usage/"):
            results = []
        else:
            raise ValueError(f"unknown endpoint {path}")
        data.append({"object": "bucket", "start_time": int(begin.timestamp()), "end_time": int(finish.timestamp()),
                     "results": results})
    return {"object": "page", "data": data, "has_more": more, "next_page": cursor}


def _openai_usage(org: Org, begin: dt.datetime, finish: dt.datetime, groups: list[str]) -> list[dict[str, Any]]:
    use = _usage(org, "openai", begin, finish)
    rows: dict[tuple[Any, ...], dict[str, int]] = {}
    for i, combo in enumerate(org.combos["openai"]):
        if not use["requests"][i]:
            continue
        dims = {"project_id": combo.account, "api_key_id": combo.key, "model": combo.model, "user_id": None,
                "batch": False, "service_tier": "default"}
        row = rows.setdefault(_group(dims, groups), {"input_tokens": 0, "input_cached_tokens": 0,
                                                      "output_tokens": 0, "num_model_requests": 0})
        row["input_tokens"] += int(use["input_uncached"][i] + use["input_cache_read"][i])
        row["input_cached_tokens"] += int(use["input_cache_read"][i])
        row["output_tokens"] += int(use["output"][i])
        row["num_model_requests"] += int(use["requests"][i])
    fields = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier")
    return [{"object": "organization.usage.completions.result", **counts, "input_cache_write_tokens": 0,
             **{f: dict(key).get(f) for f in fields}} for key, counts in rows.items()]


def _openai_costs(org: Org, begin: dt.datetime, finish: dt.datetime, groups: list[str]) -> list[dict[str, Any]]:
    use = _usage(org, "openai", begin, finish)
    amounts: dict[tuple[Any, ...], Decimal] = {}
    for i, combo in enumerate(org.combos["openai"]):
        for bucket in BUCKETS:
            tokens = int(use[bucket][i])
            if not tokens:
                continue
            dims = {"project_id": combo.account, "line_item": f"{combo.model}, {OPENAI_DIRECTIONS[bucket]}"}
            key = _group(dims, groups)
            amounts[key] = amounts.get(key, Decimal(0)) + Decimal(tokens) * org.prices[(combo.model, bucket)] / 10**6
    return [{"object": "organization.costs.result", "amount": {"value": value, "currency": "usd"},
             "line_item": dict(key).get("line_item"), "project_id": dict(key).get("project_id")}
            for key, value in amounts.items()]


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _anthropic(org: Org, path: str, query: list[tuple[str, str]], now: dt.datetime) -> dict[str, Any]:
    single, groups = _params(query)
    if path == "/v1/organizations/usage_report/claude_code":
        return {"data": [], "has_more": False, "next_page": None}
    start, end, width, limit = _window(single, now, openai=False)
    if path == "/v1/organizations/cost_report" and width != "1d":
        raise ValueError("bucket_width must be 1d for the cost report")
    spans, more, cursor = _page(_buckets(start, end, width), single, limit)
    data = []
    for begin, finish in spans:
        if path == "/v1/organizations/cost_report":
            results = _anthropic_costs(org, begin, finish, groups)
        elif path == "/v1/organizations/usage_report/messages":
            results = _anthropic_usage(org, begin, finish, groups)
        else:
            raise ValueError(f"unknown endpoint {path}")
        data.append({"starting_at": _iso(begin), "ending_at": _iso(finish), "results": results})
    return {"data": data, "has_more": more, "next_page": cursor}


def _anthropic_usage(org: Org, begin: dt.datetime, finish: dt.datetime, groups: list[str]) -> list[dict[str, Any]]:
    use = _usage(org, "anthropic", begin, finish)
    rows: dict[tuple[Any, ...], dict[str, int]] = {}
    for i, combo in enumerate(org.combos["anthropic"]):
        if not use["requests"][i]:
            continue
        dims = {"api_key_id": combo.key, "workspace_id": combo.account, "model": combo.model,
                "service_tier": "standard", "context_window": "0-200k", "inference_geo": "global"}
        row = rows.setdefault(_group(dims, groups), {"uncached_input_tokens": 0, "cache_read_input_tokens": 0,
                                                      "output_tokens": 0})
        row["uncached_input_tokens"] += int(use["input_uncached"][i])
        row["cache_read_input_tokens"] += int(use["input_cache_read"][i])
        row["output_tokens"] += int(use["output"][i])
    fields = ("api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo")
    return [{**counts, "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
             "server_tool_use": {"web_search_requests": 0}, **{f: dict(key).get(f) for f in fields}}
            for key, counts in rows.items()]


def _anthropic_costs(org: Org, begin: dt.datetime, finish: dt.datetime, groups: list[str]) -> list[dict[str, Any]]:
    use = _usage(org, "anthropic", begin, finish)
    cents: dict[tuple[Any, ...], Decimal] = {}
    for i, combo in enumerate(org.combos["anthropic"]):
        for bucket in BUCKETS:
            tokens = int(use[bucket][i])
            if tokens:
                dims = {"workspace_id": combo.account, "description": (combo.model, bucket)}
                key = _group(dims, groups)
                cents[key] = cents.get(key, Decimal(0)) + Decimal(tokens) * org.prices[(combo.model, bucket)] / 10**4
    out = []
    for key, amount in cents.items():
        found = dict(key)
        row = {"currency": "USD", "amount": f"{amount:f}", "workspace_id": found.get("workspace_id")}
        if found.get("description"):
            model, bucket = found["description"]
            row |= {"description": f"{model} Usage - {ANTHROPIC_LABELS[bucket]}", "cost_type": "tokens",
                    "model": model, "service_tier": "standard", "context_window": "0-200k",
                    "token_type": ANTHROPIC_TOKEN_TYPES[bucket], "inference_geo": "global"}
        out.append(row)
    return out


def make_server(org: Org, control: Path, *, port: int = 0) -> Fake:
    """Return a bound server (not yet serving) for ``org``, reading ``control``."""
    return Fake(("127.0.0.1", port), org, control)


def main(argv: list[str] | None = None) -> int:
    """Serve until killed; print ``LISTENING <url>`` once bound."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--control-file", required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--size", choices=tuple(SIZES), default="small")
    args = parser.parse_args(argv)
    org = Org(seed=args.seed, **SIZES[args.size])
    server = make_server(org, Path(args.control_file), port=args.port)
    print(f"LISTENING http://127.0.0.1:{server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
