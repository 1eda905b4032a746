"""``finops pull``: read a vendor's admin API incrementally, land every page, ingest, then advance the state.

One run, for one vendor:

1. take the landing folder's lock and sweep what dead runs left in ``.partial`` (:mod:`finops_lib.live.landing`);
2. ask the vendor once for its clock (the HTTP ``Date`` of a one-bucket request): the windows below are in the
   vendor's time, so a proxy or a test server with its own clock is read the same way;
3. per endpoint, pull from the last complete bucket minus the look-back (late and restated buckets), or from
   ``--since``, to ``--until`` (or the vendor's now): recent days hourly, older days daily (a period is always
   held at one width, :class:`~finops_lib.live.state.EndpointState`), every page of a cursor until ``has_more``
   is false or the page limit is reached;
4. move each endpoint's pages into the landing area and ingest them; an endpoint's state advances only when its
   pages all loaded. Re-pulled buckets replace the rows they restate (the readers' natural keys), so a re-pull
   never counts twice.

A refused key, or a vendor or network still failing after the retries, stops the run: nothing of it is landed or
ingested, the state stays where it was, and the exit code is 2. A page that stays unreadable is kept in
``landing/.rejected`` with the reason; its endpoint keeps what came before it and the run goes on (exit code 3).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from finops_lib.errors import ParameterError
from finops_lib.live.client import ApiClient, MalformedPage, PullError, Response, RetryPolicy
from finops_lib.live.endpoints import VENDORS, WIDTHS, Endpoint, bucket_bounds, days, endpoints_of, floor
from finops_lib.live.landing import Landing, Staged
from finops_lib.live.state import EndpointState, PullState, locked

__all__ = ["EXIT_FAILED", "EXIT_INCOMPLETE", "EXIT_OK", "EndpointResult", "Ingest", "PullOptions", "PullReport",
           "land_and_ingest", "pull"]

EXIT_OK, EXIT_FAILED, EXIT_INCOMPLETE = 0, 2, 3
#: Ingest summary statuses of a page that is in the warehouse.
LOADED = ("loaded", "replaced", "unchanged", "duplicate")
Ingest = Callable[[list[Path]], pd.DataFrame]


@dataclass(frozen=True)
class PullOptions:
    """How far back and how much one run pulls.

    Attributes
    ----------
    since, until
        The window asked (UTC); ``since`` earlier than the state's start pulls that history too (a backfill).
    lookback
        Re-pulled before the last complete bucket on every run (late and restated buckets).
    deep_lookback, deep_every
        A longer look-back, run when the last one is ``deep_every`` old (restated yesterdays, for a watch whose
        every-run look-back is short). None: never.
    history
        How far back the first pull of an endpoint goes without ``since``.
    hourly_days
        Days pulled in hourly buckets on the first pull (older days: daily).
    page_limit
        Pages per endpoint per run; an endpoint that needs more continues on the next run.
    endpoints
        Endpoint names (all of the vendor's when empty).
    """

    since: datetime | None = None
    until: datetime | None = None
    lookback: timedelta = timedelta(days=2)
    deep_lookback: timedelta | None = None
    deep_every: timedelta | None = None
    history: timedelta = timedelta(days=90)
    hourly_days: int = 14
    page_limit: int = 1000
    endpoints: tuple[str, ...] = ()
    policy: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass
class EndpointResult:
    """What one endpoint's pull did."""

    endpoint: str
    status: str = "complete"
    reason: str = ""
    pages: int = 0
    buckets: int = 0
    results: int = 0
    start: datetime | None = None
    end: datetime | None = None
    complete_until: datetime | None = None
    hourly_from: datetime | None = None
    deep: bool = False
    files: list[Path] = field(default_factory=list)
    staged: Staged | None = None

    def incomplete(self, reason: str) -> None:
        """Mark the endpoint incomplete (its pages so far are kept and loaded)."""
        self.status, self.reason = "incomplete", reason


@dataclass
class PullReport:
    """What a run did: per endpoint, the ingest summary, and the error that stopped it, if any."""

    vendor: str
    run: str
    endpoints: list[EndpointResult] = field(default_factory=list)
    ingest: pd.DataFrame | None = None
    requests: int = 0
    vendor_now: datetime | None = None
    error: str | None = None

    @property
    def exit_code(self) -> int:
        """0 when every endpoint is complete and loaded, 2 when the run stopped, 3 when some part is missing."""
        if self.error:
            return EXIT_FAILED
        return EXIT_OK if all(e.status == "complete" for e in self.endpoints) else EXIT_INCOMPLETE

    def table(self) -> pd.DataFrame:
        """One row per endpoint: status, window, pages, buckets, results, complete until, reason."""
        rows = [{"endpoint": e.endpoint, "status": e.status, "from": _iso(e.start), "to": _iso(e.end) or "now",
                 "pages": e.pages, "buckets": e.buckets, "results": e.results,
                 "complete_until": _iso(e.complete_until), "reason": e.reason} for e in self.endpoints]  # fmt: skip
        return pd.DataFrame(rows, columns=["endpoint", "status", "from", "to", "pages", "buckets", "results",
                                           "complete_until", "reason"])  # fmt: skip


def _iso(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def pull(vendor: str, data_dir: str | Path, *, ingest: Ingest, options: PullOptions | None = None,
         env: Mapping[str, str] | None = None) -> PullReport:  # fmt: skip
    """Pull one vendor's admin API into ``data_dir``'s landing area and ingest it (see the module docstring).

    Parameters
    ----------
    vendor
        ``openai`` or ``anthropic`` (LiteLLM: :func:`finops_lib.live.pull_litellm`).
    data_dir
        The data folder; pages land under ``<data_dir>/landing/``.
    ingest
        Loads files into the workspace's warehouse and returns the ingest summary
        (:func:`finops_lib.warehouse.ingest`'s frame).
    options
        Window, look-back and limits (:class:`PullOptions`).
    env
        Where the key and base URL are read (default ``os.environ``).

    Returns
    -------
    PullReport
        Per endpoint what was pulled; ``exit_code`` for a command.

    Raises
    ------
    ParameterError
        For an unknown vendor or endpoint, or a window that ends before it starts.
    """
    opts = options or PullOptions()
    env = os.environ if env is None else env
    endpoints = endpoints_of(vendor, opts.endpoints)
    if opts.since and opts.until and opts.until <= opts.since:
        raise ParameterError(f"--until ({opts.until:%Y-%m-%d}) must be after --since ({opts.since:%Y-%m-%d})")
    spec = VENDORS[vendor]
    landing = Landing(Path(data_dir).expanduser().resolve())
    report = PullReport(vendor, landing.run)
    key = env.get(spec.key_env, "")
    if not key:
        report.error = f"{spec.key_env} is not set. {spec.key_hint}"
        return report
    client = ApiClient(spec.label, env.get(spec.base_env) or spec.base_default, spec.headers(key), key,
                       spec.key_hint, policy=opts.policy)  # fmt: skip
    with locked(landing.root):
        landing.sweep()
        state = PullState.load(landing.root)
        try:
            with client:
                report.vendor_now = _vendor_now(client, endpoints[0])
                for endpoint in endpoints:
                    report.endpoints.append(_pull_endpoint(client, endpoint, landing, state.get(endpoint.key), opts,
                                                           report.vendor_now))  # fmt: skip
        except PullError as exc:
            landing.discard()
            report.error, report.requests = str(exc), client.requests
            return report
        report.requests = client.requests
        land_and_ingest(report, landing, state, ingest)
    return report


def _vendor_now(client: ApiClient, endpoint: Endpoint) -> datetime:
    """Return the vendor's clock: the ``Date`` of a one-bucket request (the local clock when the vendor sends none)."""
    local = datetime.now(UTC)
    width = endpoint.widths[-1]
    probe = client.get(endpoint.path, endpoint.params(floor(local, "1d") - timedelta(days=1), None, width, limit=1))
    return probe.vendor_time or local


def _window(endpoint: Endpoint, state: EndpointState, opts: PullOptions, now: datetime) -> tuple[datetime, bool]:
    """(start, deep): where this run starts, and whether it is a restatement look-back."""
    deep = bool(opts.deep_lookback and state.complete_until
                and (state.last_deep is None or opts.deep_every is None or now - state.last_deep >= opts.deep_every))
    if state.complete_until is None:
        start = opts.since or now - opts.history
    else:
        back = opts.deep_lookback if deep and opts.deep_lookback else opts.lookback
        start = state.complete_until - back
        if opts.since and opts.since < start:
            start = opts.since
    return start, deep


def _segments(endpoint: Endpoint, start: datetime, end: datetime | None, hourly_from: datetime | None
              ) -> list[tuple[datetime, datetime | None, str]]:  # fmt: skip
    """(start, end, width) pieces of the window: daily before ``hourly_from``, hourly from it."""
    if hourly_from is None:
        return [(floor(start, "1d"), end, "1d")]
    out: list[tuple[datetime, datetime | None, str]] = []
    if start < hourly_from:
        out.append((floor(start, "1d"), min(end, hourly_from) if end else hourly_from, "1d"))
    if end is None or end > hourly_from:
        out.append((max(floor(start, "1h"), hourly_from), end, "1h"))
    return out


def _pull_endpoint(client: ApiClient, endpoint: Endpoint, landing: Landing, state: EndpointState,
                   opts: PullOptions, now: datetime) -> EndpointResult:  # fmt: skip
    start, deep = _window(endpoint, state, opts, now)
    hourly_from = None
    if endpoint.hourly:
        hourly_from = state.hourly_from or max(floor(start, "1d"), floor(now - timedelta(days=opts.hourly_days), "1d"))
    result = EndpointResult(endpoint.key, start=start, end=opts.until, hourly_from=hourly_from, deep=deep,
                            staged=landing.stage(endpoint.vendor, endpoint.name))  # fmt: skip
    for seg_start, seg_end, width in _segments(endpoint, start, opts.until, hourly_from):
        if endpoint.style == "claude_code":
            for day in days(seg_start, seg_end or now + timedelta(seconds=1)):
                if not _walk(client, endpoint, landing, result, opts, lambda page, d=day: endpoint.params(
                        d, None, "1d", page=page), width="1d", now=now):  # fmt: skip
                    return result
        elif not _walk(client, endpoint, landing, result, opts,
                       lambda page, s=seg_start, e=seg_end, w=width: endpoint.params(s, e, w, page=page),
                       width=width, now=now):  # fmt: skip
            return result
    return result


def _walk(client: ApiClient, endpoint: Endpoint, landing: Landing, result: EndpointResult, opts: PullOptions,
          params: Callable[[str | None], list[tuple[str, str]]], *, width: str, now: datetime) -> bool:  # fmt: skip
    """Follow one cursor to its end; False when the endpoint cannot go on this run (page limit, unreadable page)."""
    page: str | None = None
    while True:
        if result.pages >= opts.page_limit:
            result.incomplete(f"page limit ({opts.page_limit}) reached: the next run goes on from "
                              f"{_iso(result.complete_until) or 'the same start'}")  # fmt: skip
            return False
        query = params(page)
        try:
            response = client.get(endpoint.path, query)
        except MalformedPage as exc:
            where = landing.reject(endpoint.vendor, endpoint.name, exc.body, str(exc), params=query)
            result.incomplete(f"a page stayed unreadable after the retries (kept in {where.name} under "
                              "landing/.rejected); the next run asks again")  # fmt: skip
            return False
        result.pages += 1
        data = response.doc.get("data") if isinstance(response.doc, dict) else None
        if not isinstance(data, list):
            landing.reject(endpoint.vendor, endpoint.name, response.body, "the page has no 'data' list", params=query)
            result.incomplete("a page without a 'data' list (kept under landing/.rejected)")
            return False
        _count(result, endpoint, data, width, now)
        if _has_results(data, endpoint):
            result.staged.write(_safe_body(response, client.secret))  # type: ignore[union-attr]
        page = response.doc.get("next_page")
        if not response.doc.get("has_more") or not page:
            return True


def _has_results(data: list[Any], endpoint: Endpoint) -> bool:
    if endpoint.style == "claude_code":
        return bool(data)
    return any(isinstance(b, dict) and b.get("results") for b in data)


def _count(result: EndpointResult, endpoint: Endpoint, data: list[Any], width: str, now: datetime) -> None:
    """Count buckets and results; move ``complete_until`` to the end of the last full bucket seen."""
    if endpoint.style == "claude_code":
        result.results += len(data)
        today = floor(now, "1d")
        ends = [floor(b, "1d") + timedelta(days=1) for b in _claude_code_days(data)]
        complete = [e for e in ends if e <= today]
    else:
        result.buckets += len(data)
        result.results += sum(len(b.get("results") or []) for b in data if isinstance(b, dict))
        bounds = [bucket_bounds(b, endpoint.style) for b in data if isinstance(b, dict)]
        complete = [e for s, e in filter(None, bounds) if (e - s).total_seconds() == WIDTHS[width]]
    if complete:
        result.complete_until = max([*complete, *([result.complete_until] if result.complete_until else [])])


def _claude_code_days(data: list[Any]) -> list[datetime]:
    out = []
    for item in data:
        try:
            out.append(datetime.fromisoformat(str(item["date"])[:10]).replace(tzinfo=UTC))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def _safe_body(response: Response, secret: str) -> bytes:
    """Return the page as sent; should a vendor ever echo the key, it is cut out before anything is written."""
    return response.body.replace(secret.encode(), b"***") if secret and secret.encode() in response.body \
        else response.body  # fmt: skip


def land_and_ingest(report: PullReport, landing: Landing, state: PullState, ingest: Ingest) -> None:
    """Move each endpoint's pages into place, ingest them all, and advance the state of what loaded."""
    for result in report.endpoints:
        result.files = landing.commit(result.staged) if result.staged else []
    landing.discard()
    files = [f for r in report.endpoints for f in r.files]
    report.ingest = ingest(files) if files else None
    statuses = {} if report.ingest is None else dict(zip(report.ingest["path"], report.ingest["status"], strict=True))
    for result in report.endpoints:
        bad = [f.name for f in result.files if statuses.get(str(f)) not in LOADED]
        if bad:
            result.incomplete(f"{len(bad)} landed page(s) did not load ({bad[0]}...): see `finops status`")
            state.update(result.endpoint, last_run=report.vendor_now, last_status=f"incomplete: {result.reason}")
            continue
        changes: dict[str, Any] = {"last_run": report.vendor_now, "last_status": result.status,
                                   "hourly_from": result.hourly_from}  # fmt: skip
        previous = state.get(result.endpoint).complete_until
        if result.complete_until and (previous is None or result.complete_until > previous):
            changes["complete_until"] = result.complete_until
        if result.deep and result.status == "complete":
            changes["last_deep"] = report.vendor_now
        state.update(result.endpoint, **changes)
    state.save()
