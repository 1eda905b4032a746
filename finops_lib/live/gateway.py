"""``finops pull litellm``: the LiteLLM gateway's ``LiteLLM_SpendLogs``, read-only, incrementally by ``startTime``.

The DSN comes from ``LITELLM_DATABASE_URL`` only. Rows are read in ``startTime`` order in batches
(:func:`finops_lib.live.litellm_db.fetch_spend_logs`: a read-only transaction, no prompt or response column) and
each batch is landed as one JSON page under ``landing/litellm/spend_logs/<run>/`` that the ordinary LiteLLM
reader loads. A request is keyed by its ``request_id``, so the look-back (requests written late, long requests
whose ``startTime`` is older than their write) replaces rows, never adds them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from finops_lib.errors import FinopsError
from finops_lib.live.landing import Landing
from finops_lib.live.litellm_db import ENV, fetch_spend_logs, safe_dsn, to_json_page
from finops_lib.live.pull import EndpointResult, Ingest, PullOptions, PullReport, land_and_ingest
from finops_lib.live.state import PullState, locked

__all__ = ["ENDPOINT", "pull_litellm"]

ENDPOINT = "litellm/spend_logs"
BATCH_ROWS = 50_000


def pull_litellm(data_dir: str | Path, *, ingest: Ingest, options: PullOptions | None = None,
                 env: Mapping[str, str] | None = None, batch_rows: int = BATCH_ROWS) -> PullReport:  # fmt: skip
    """Pull the gateway's spend logs since the last run (minus the look-back) into the landing area and ingest them.

    Parameters
    ----------
    data_dir
        The data folder (pages land under ``<data_dir>/landing/litellm/spend_logs/``).
    ingest
        Loads files into the workspace's warehouse (as :func:`finops_lib.live.pull`).
    options
        ``since``, ``until``, ``lookback``, ``history`` of :class:`~finops_lib.live.PullOptions` (the rest is for
        the HTTP APIs).
    env
        Where ``LITELLM_DATABASE_URL`` is read (default ``os.environ``).
    batch_rows
        Rows per landed page.

    Returns
    -------
    PullReport
        One endpoint, ``litellm/spend_logs``; ``exit_code`` 2 when the database cannot be read (nothing landed).
    """
    opts = options or PullOptions()
    env = os.environ if env is None else env
    landing = Landing(Path(data_dir).expanduser().resolve())
    report = PullReport("litellm", landing.run)
    dsn = env.get(ENV, "")
    if not dsn:
        report.error = (f"{ENV} is not set: give the LiteLLM proxy's PostgreSQL DSN (a read-only user is "
                        "enough: the pull only reads LiteLLM_SpendLogs)")  # fmt: skip
        return report
    now = datetime.now(UTC)
    with locked(landing.root):
        landing.sweep()
        state = PullState.load(landing.root)
        previous = state.get(ENDPOINT).complete_until
        start = opts.since or now - opts.history
        if previous is not None and not (opts.since and opts.since < previous - opts.lookback):
            start = previous - opts.lookback
        result = EndpointResult(ENDPOINT, start=start, end=opts.until, staged=landing.stage("litellm", "spend_logs"))
        try:
            for batch in fetch_spend_logs(dsn, since=start, until=opts.until, batch_rows=batch_rows,
                                          timeout_s=opts.policy.timeout_s):  # fmt: skip
                result.staged.write(to_json_page(batch))  # type: ignore[union-attr]
                result.pages += 1
                result.results += len(batch.records)
                result.complete_until = max(batch.last_start, result.complete_until or batch.last_start)
        except FinopsError as exc:
            landing.discard()
            report.error = str(exc).replace(dsn, safe_dsn(dsn))
            return report
        report.vendor_now = now
        report.endpoints.append(result)
        land_and_ingest(report, landing, state, ingest)
    return report
