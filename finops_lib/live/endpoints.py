"""The vendors' admin API endpoints a pull reads: paths, bucket widths, groupings, and how each is asked.

Declared as data (:data:`ENDPOINTS`); the quirks of each API's query grammar are here and nowhere else:

* **OpenAI** (``OPENAI_BASE_URL``, default ``https://api.openai.com/v1``; key ``OPENAI_ADMIN_KEY`` as a bearer
  token): ``start_time``/``end_time`` in Unix seconds, ``bucket_width`` 1h or 1d (costs: 1d only), ``limit`` in
  buckets per page (1d at most 31, 1h at most 168), ``group_by[]`` repeated, ``page`` the cursor.
* **Anthropic** (``ANTHROPIC_BASE_URL``, default ``https://api.anthropic.com``; key ``ANTHROPIC_ADMIN_KEY`` in
  ``x-api-key`` with ``anthropic-version``): ``starting_at``/``ending_at`` RFC 3339, the same widths and limits,
  ``group_by[]``; the Claude Code report is one UTC day per request (``starting_at=YYYY-MM-DD``).

Every page is ``{"data": [...], "has_more": bool, "next_page": cursor}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from finops_lib.errors import ParameterError

__all__ = ["ENDPOINTS", "VENDORS", "WIDTHS", "Endpoint", "Vendor", "bucket_bounds", "days", "endpoints_of", "floor"]

Style = Literal["openai", "anthropic", "claude_code"]
#: Bucket widths in seconds.
WIDTHS: dict[str, int] = {"1d": 86400, "1h": 3600}
#: Buckets per page at each width: the APIs' maxima (fewer requests).
LIMITS: dict[str, int] = {"1d": 31, "1h": 168}


@dataclass(frozen=True)
class Vendor:
    """One vendor's API: where it is, which key it needs and how the key is sent."""

    name: str
    label: str
    base_env: str
    base_default: str
    key_env: str
    key_hint: str

    def headers(self, key: str) -> dict[str, str]:
        """Return the request headers carrying ``key``."""
        if self.name == "anthropic":
            return {"x-api-key": key, "anthropic-version": "2023-06-01"}
        return {"Authorization": f"Bearer {key}"}


VENDORS: dict[str, Vendor] = {
    "openai": Vendor("openai", "OpenAI", "OPENAI_BASE_URL", "https://api.openai.com/v1", "OPENAI_ADMIN_KEY",
                     "The usage and costs endpoints need an organization Admin key (sk-admin-...), not a project key: "
                     "create one at platform.openai.com/settings/organization/admin-keys and put it in "
                     "OPENAI_ADMIN_KEY."),
    "anthropic": Vendor("anthropic", "Anthropic", "ANTHROPIC_BASE_URL", "https://api.anthropic.com",
                        "ANTHROPIC_ADMIN_KEY",
                        "The usage and cost reports need an Admin API key (sk-ant-admin...), not a workspace API key: "
                        "an organization admin creates one in the Claude Console (Settings, Admin keys); put it in "
                        "ANTHROPIC_ADMIN_KEY."),
}  # fmt: skip


@dataclass(frozen=True)
class Endpoint:
    """One endpoint a pull reads.

    Attributes
    ----------
    vendor, name
        ``openai`` and ``usage_completions``: the landing folder is ``landing/<vendor>/<name>/``.
    path
        Under the vendor's base URL.
    widths
        Bucket widths it is pulled at: ``("1h", "1d")`` pulls recent days hourly and older days daily.
    group_by
        Every grouping asked (the finest grain: each row of the warehouse keeps all of them).
    style
        The query grammar.
    default
        Pulled when no endpoint is named (an endpoint without a reader yet is pulled only when named).
    """

    vendor: str
    name: str
    path: str
    widths: tuple[str, ...]
    group_by: tuple[str, ...]
    style: Style
    default: bool = True

    @property
    def key(self) -> str:
        """``vendor/name``: the endpoint's key in the state file."""
        return f"{self.vendor}/{self.name}"

    @property
    def hourly(self) -> bool:
        """Whether recent days are pulled in hourly buckets."""
        return "1h" in self.widths

    def params(self, start: datetime, end: datetime | None, width: str, *, limit: int | None = None,
               page: str | None = None) -> list[tuple[str, str]]:  # fmt: skip
        """Return the query of one page, in the endpoint's grammar.

        Examples
        --------
        >>> ep = ENDPOINTS["openai/costs"]
        >>> ep.params(datetime(2026, 12, 1, tzinfo=UTC), None, "1d", limit=1)
        [('start_time', '1796083200'), ('bucket_width', '1d'), ('limit', '1'), ('group_by[]', 'project_id'), \
('group_by[]', 'line_item')]
        >>> ENDPOINTS["anthropic/usage_report_messages"].params(datetime(2026, 12, 1, tzinfo=UTC),
        ...     datetime(2026, 12, 2, tzinfo=UTC), "1h", page="p2")[:3]
        [('starting_at', '2026-12-01T00:00:00Z'), ('ending_at', '2026-12-02T00:00:00Z'), ('bucket_width', '1h')]
        """
        if self.style == "claude_code":
            query = [("starting_at", start.strftime("%Y-%m-%d")), ("limit", str(limit or 1000))]
        elif self.style == "openai":
            query = [("start_time", str(int(start.timestamp())))]
            query += [("end_time", str(int(end.timestamp())))] if end else []
            query += [("bucket_width", width), ("limit", str(limit or LIMITS[width]))]
        else:
            query = [("starting_at", _rfc3339(start))] + ([("ending_at", _rfc3339(end))] if end else [])
            query += [("bucket_width", width), ("limit", str(limit or LIMITS[width]))]
        query += [("group_by[]", g) for g in self.group_by]
        return query + ([("page", page)] if page else [])


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_OPENAI_USAGE = {
    "completions": ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier"),
    "embeddings": ("project_id", "user_id", "api_key_id", "model"),
    "moderations": ("project_id", "user_id", "api_key_id", "model"),
    "images": ("project_id", "user_id", "api_key_id", "model", "size", "source"),
    "audio_speeches": ("project_id", "user_id", "api_key_id", "model"),
    "audio_transcriptions": ("project_id", "user_id", "api_key_id", "model"),
    "vector_stores": ("project_id",),
    "code_interpreter_sessions": ("project_id",),
}
#: Every endpoint, by ``vendor/name``. Costs first: a vendor's invoice before its usage.
ENDPOINTS: dict[str, Endpoint] = {
    e.key: e for e in [
        Endpoint("openai", "costs", "/organization/costs", ("1d",), ("project_id", "line_item"), "openai"),
        *(Endpoint("openai", f"usage_{kind}", f"/organization/usage/{kind}", ("1h", "1d"), groups, "openai")
          for kind, groups in _OPENAI_USAGE.items()),
        Endpoint("anthropic", "cost_report", "/v1/organizations/cost_report", ("1d",),
                 ("workspace_id", "description"), "anthropic"),
        Endpoint("anthropic", "usage_report_messages", "/v1/organizations/usage_report/messages", ("1h", "1d"),
                 ("api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo"),
                 "anthropic"),
        # no reader reads the Claude Code report yet: its pages would land unread, so it is pulled only when named
        Endpoint("anthropic", "usage_report_claude_code", "/v1/organizations/usage_report/claude_code", ("1d",), (),
                 "claude_code", default=False),
    ]
}  # fmt: skip


def endpoints_of(vendor: str, names: tuple[str, ...] = ()) -> list[Endpoint]:
    """Return a vendor's endpoints (all, or those named), in pull order.

    Raises
    ------
    ParameterError
        For an unknown vendor or endpoint (the message lists the known ones).
    """
    if vendor not in VENDORS:
        raise ParameterError(f"unknown vendor {vendor!r}; choose one of {', '.join([*VENDORS, 'litellm'])}")
    mine = [e for e in ENDPOINTS.values() if e.vendor == vendor]
    unknown = [n for n in names if n not in {e.name for e in mine}]
    if unknown:
        known = ", ".join(e.name for e in mine)
        raise ParameterError(f"unknown {vendor} endpoint {unknown[0]!r}; choose among {known}")
    if names:
        return [e for e in mine if e.name in names]
    return [e for e in mine if e.default]


def bucket_bounds(bucket: Mapping[str, Any], style: Style) -> tuple[datetime, datetime] | None:
    """Return a bucket's (start, end) in UTC, None when it has none readable (the reader will reject it).

    Examples
    --------
    >>> bucket_bounds({"start_time": 1796083200, "end_time": 1796086800}, "openai")[1].isoformat()
    '2026-12-01T01:00:00+00:00'
    >>> bucket_bounds({"starting_at": "2026-12-01T00:00:00Z", "ending_at": "2026-12-02T00:00:00Z"},
    ...               "anthropic")[0].isoformat()
    '2026-12-01T00:00:00+00:00'
    """
    try:
        if style == "openai":
            start, end = bucket["start_time"], bucket["end_time"]
            return datetime.fromtimestamp(int(start), UTC), datetime.fromtimestamp(int(end), UTC)
        begin = datetime.fromisoformat(str(bucket["starting_at"]).replace("Z", "+00:00"))
        finish = datetime.fromisoformat(str(bucket["ending_at"]).replace("Z", "+00:00"))
        return begin.astimezone(UTC), finish.astimezone(UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def floor(moment: datetime, width: str) -> datetime:
    """Return ``moment`` rounded down to the grid of ``width`` (UTC).

    Examples
    --------
    >>> floor(datetime(2026, 12, 4, 10, 37, tzinfo=UTC), "1h").isoformat()
    '2026-12-04T10:00:00+00:00'
    """
    seconds = WIDTHS[width]
    stamp = int(moment.astimezone(UTC).timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, UTC)


def days(start: datetime, end: datetime) -> list[datetime]:
    """Return the UTC midnights from ``start``'s day up to ``end`` (exclusive).

    Examples
    --------
    >>> [d.day for d in days(datetime(2026, 12, 1, 5, tzinfo=UTC), datetime(2026, 12, 3, 1, tzinfo=UTC))]
    [1, 2, 3]
    """
    out, day = [], floor(start, "1d")
    while day < end:
        out.append(day)
        day += timedelta(days=1)
    return out
