"""One HTTP client for the vendors' admin APIs: retries, back-off, time-outs, and errors that are sentences.

* **429** is retried after the ``retry-after`` the vendor sends (seconds or an HTTP date; capped), else after the
  back-off; **5xx**, time-outs and dropped connections are retried with capped exponential back-off and full
  jitter (:class:`RetryPolicy`); after the last attempt the request fails with :class:`PullError`.
* **401/403** are never retried: the error says which key is needed and where it is read from.
* A body that is not JSON is retried too (a truncated page is usually a dropped connection); when it stays
  broken, :class:`MalformedPage` carries the body so the caller can land it with the reason.
* The key travels only in the request headers. Error texts are built from the vendor's message with every key
  of a known shape masked (:func:`finops_lib.warehouse.privacy.mask_secrets`), and the key itself removed.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from finops_lib import __version__
from finops_lib.errors import FinopsError
from finops_lib.sources._common import json_number
from finops_lib.warehouse.privacy import mask_secrets

__all__ = ["USER_AGENT", "ApiClient", "MalformedPage", "PullError", "Response", "RetryPolicy"]

LOG = logging.getLogger("finops_lib.live")
USER_AGENT = f"genai-finops-workbench/{__version__} (+finops pull)"


class PullError(FinopsError):
    """A pull that cannot go on: the key is refused, the vendor keeps failing, or the network is down.

    Attributes
    ----------
    kind
        ``auth`` (401/403: the wrong key), ``network`` (no answer after the retries), ``server`` (5xx or 429 after
        the retries), ``request`` (another 4xx: a parameter the API refuses), ``malformed`` (not JSON).
    """

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class MalformedPage(PullError):
    """A response that stayed unreadable after the retries; ``body`` is what the vendor sent."""

    def __init__(self, message: str, *, body: bytes) -> None:
        super().__init__(message, kind="malformed")
        self.body = body


@dataclass(frozen=True)
class RetryPolicy:
    """How hard a request is tried.

    Attributes
    ----------
    attempts
        Tries in all (the first one included).
    base_s, cap_s
        Back-off: a random wait in ``[0, min(cap_s, base_s * 2**n)]`` before try ``n + 2`` (full jitter).
    timeout_s
        Connect and read time-out of one try.
    max_retry_after_s
        The longest ``retry-after`` honoured; a longer one is cut to it.
    """

    attempts: int = 6
    base_s: float = 0.5
    cap_s: float = 30.0
    timeout_s: float = 30.0
    max_retry_after_s: float = 120.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Return the wait before the try after ``attempt`` (0-based), full jitter.

        Examples
        --------
        >>> policy = RetryPolicy(base_s=1, cap_s=4)
        >>> all(0 <= policy.backoff(n, random.Random(n)) <= min(4, 2 ** n) for n in range(6))
        True
        """
        return rng.uniform(0, min(self.cap_s, self.base_s * 2**attempt))


@dataclass(frozen=True)
class Response:
    """A response that parsed: the JSON document, the raw body (landed as is) and the vendor's clock."""

    doc: Any
    body: bytes
    status: int
    vendor_time: datetime | None
    attempts: int


@dataclass
class ApiClient:
    """GET JSON from one vendor's API with the retry policy.

    Parameters
    ----------
    vendor
        Name used in messages (``OpenAI``).
    base_url
        The API root (``https://api.openai.com/v1``; a proxy or a local server in tests).
    headers
        Sent with every request (the key among them; never logged).
    secret
        The key, so that no error text can carry it even if the vendor echoes it.
    auth_hint
        What to say on 401/403: which key is needed and where it is read from.
    """

    vendor: str
    base_url: str
    headers: Mapping[str, str]
    secret: str
    auth_hint: str
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    requests: int = 0
    _http: httpx.Client | None = None
    _last_body: bytes = b""

    def __enter__(self) -> ApiClient:
        timeout = httpx.Timeout(self.policy.timeout_s)
        self._http = httpx.Client(base_url=self.base_url.rstrip("/"), timeout=timeout,
                                  headers={"User-Agent": USER_AGENT, "Accept": "application/json", **self.headers})
        return self

    def __exit__(self, *exc: object) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def get(self, path: str, params: list[tuple[str, str]]) -> Response:
        """GET ``path`` with ``params`` (pairs: repeated keys allowed); retry as the policy says.

        Raises
        ------
        PullError
            When the request cannot succeed (see :class:`PullError` ``kind``); :class:`MalformedPage` for a body
            that stayed unreadable.
        """
        if self._http is None:
            raise RuntimeError("use ApiClient as a context manager")
        last = ""
        for attempt in range(self.policy.attempts):
            self.requests += 1
            wait, last, done = self._try(path, params, attempt)
            if done is not None:
                return done
            if attempt + 1 < self.policy.attempts:
                LOG.info("%s %s: %s; retrying in %.1f s", self.vendor, path, last, wait)
                self.sleep(wait)
        return self._give_up(path, last)

    def _try(self, path: str, params: list[tuple[str, str]], attempt: int) -> tuple[float, str, Response | None]:
        """One try: (wait before the next, what went wrong, the response when it succeeded)."""
        assert self._http is not None
        backoff = self.policy.backoff(attempt, self.rng)
        try:
            reply = self._http.get(path, params=params)
        except httpx.TimeoutException:
            return backoff, f"no answer within {self.policy.timeout_s:g} s", None
        except httpx.TransportError as exc:
            return backoff, f"cannot connect ({type(exc).__name__})", None
        status = reply.status_code
        if status in (401, 403):
            raise PullError(self._auth_text(status, reply.content), kind="auth")
        if status == 429 or status >= 500:
            wait = self._retry_after(reply.headers.get("retry-after"), backoff) if status == 429 else backoff
            self._last_body = reply.content
            return wait, f"HTTP {status}", None
        if status >= 400:
            raise PullError(f"{self.vendor} refused {path} (HTTP {status}): {self._message(reply.content)}",
                            kind="request")
        try:
            doc = json.loads(reply.content.decode("utf-8"), parse_float=json_number)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._last_body = reply.content
            return backoff, f"the page is not valid JSON ({type(exc).__name__})", None
        return 0.0, "", Response(doc, reply.content, status, _vendor_time(reply.headers.get("date")), attempt + 1)

    def _give_up(self, path: str, last: str) -> Response:
        tries = f"after {self.policy.attempts} tries"
        if last.startswith("the page is not valid JSON"):
            raise MalformedPage(f"{self.vendor} {path}: {last} {tries}", body=self._last_body)
        kind = "server" if last.startswith("HTTP") else "network"
        hint = "" if kind == "server" else f"; check the network and the base URL ({self._base_shown()})"
        raise PullError(f"{self.vendor} {path}: {last} {tries}{hint}", kind=kind)

    def _retry_after(self, value: str | None, backoff: float) -> float:
        """Seconds to wait from a ``retry-after`` header (seconds or HTTP date), capped; the back-off without one."""
        if not value:
            return backoff
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = (email.utils.parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
            except (TypeError, ValueError):
                return backoff
        return max(0.0, min(seconds, self.policy.max_retry_after_s))

    def _message(self, body: bytes) -> str:
        """Return the vendor's error message (``{"error": {"message": ...}}``), keys masked, shortened."""
        try:
            doc = json.loads(body.decode("utf-8"))
            error = doc.get("error", doc) if isinstance(doc, dict) else doc
            text = error.get("message", "") if isinstance(error, dict) else str(error)
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            text = body[:200].decode("utf-8", "replace")
        text = " ".join(str(text).split())
        if self.secret:
            text = text.replace(self.secret, "***")
        text = mask_secrets(text) or ""
        return text[:300] or "no message"

    def _auth_text(self, status: int, body: bytes) -> str:
        return f"{self.vendor} refused the key (HTTP {status}: {self._message(body)}). {self.auth_hint}"

    def _base_shown(self) -> str:
        return httpx.URL(self.base_url).copy_with(username=None, password=None, query=None).__str__()


def _vendor_time(value: str | None) -> datetime | None:
    """Return the vendor's clock from an HTTP ``Date`` header, UTC; None when absent or unreadable.

    Examples
    --------
    >>> _vendor_time("Fri, 04 Dec 2026 10:15:00 GMT").isoformat()
    '2026-12-04T10:15:00+00:00'
    >>> _vendor_time(None) is None
    True
    """
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None
