"""The pull state: per endpoint, the last complete bucket landed and ingested, kept beside the landed pages.

``<data>/landing/.state/pull.json`` (a hidden folder: never offered to the readers). It is advanced only after an
endpoint's pages are landed *and* ingested, so a run that stops half-way (network down, a kill) leaves it where it
was and the next run pulls the same window again; the ingest replaces re-pulled rows by their natural key, so
nothing is counted twice. One run at a time per data folder (:func:`locked`); the file is replaced atomically.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path

from finops_lib.engine import lock_timeout
from finops_lib.live.client import PullError
from finops_lib.share import atomic_write

__all__ = ["STATE_DIR", "EndpointState", "PullState", "locked"]

#: Hidden folder of the landing area holding the state and the lock (never ingested).
STATE_DIR = ".state"
VERSION = 1


@dataclass(frozen=True)
class EndpointState:
    """What is known of one endpoint (``openai/usage_completions``...).

    Attributes
    ----------
    complete_until
        End of the last complete bucket landed and ingested (the vendor's clock); None before the first pull.
    hourly_from
        First hour pulled in hourly buckets: days before it were pulled daily, and every later pull of this
        endpoint keeps that split, so one period is never held at two widths (which would count it twice).
    last_deep
        When the restatement look-back last ran (see the watch's ``restatement`` setting).
    last_run, last_status
        The last run's time and outcome (``complete``, ``incomplete: <reason>``, ``failed: <reason>``).
    """

    complete_until: datetime | None = None
    hourly_from: datetime | None = None
    last_deep: datetime | None = None
    last_run: datetime | None = None
    last_status: str = ""

    def to_json(self) -> dict[str, str | None]:
        """Return the state as JSON values (ISO times)."""
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, doc: dict[str, object]) -> EndpointState:
        """Read a state written by :meth:`to_json` (unknown keys ignored)."""
        times = {k: datetime.fromisoformat(str(doc[k])) for k in ("complete_until", "hourly_from", "last_deep",
                 "last_run") if doc.get(k)}  # fmt: skip
        return cls(**times, last_status=str(doc.get("last_status", "")))


@dataclass
class PullState:
    """The state file of one landing folder."""

    path: Path
    endpoints: dict[str, EndpointState] = field(default_factory=dict)

    @classmethod
    def load(cls, landing: Path) -> PullState:
        """Read ``<landing>/.state/pull.json``; an absent file is an empty state.

        Raises
        ------
        PullError
            When the file is not a state this version wrote (it is never overwritten silently).
        """
        path = landing / STATE_DIR / "pull.json"
        if not path.is_file():
            return cls(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            endpoints = {k: EndpointState.from_json(v) for k, v in doc["endpoints"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise PullError(f"the pull state {path} is unreadable ({type(exc).__name__}); move it away to pull "
                            "again from --since (re-pulled rows replace, never add)", kind="request") from None
        return cls(path, endpoints)

    def get(self, endpoint: str) -> EndpointState:
        """Return an endpoint's state (empty when never pulled)."""
        return self.endpoints.get(endpoint, EndpointState())

    def update(self, endpoint: str, **changes: object) -> EndpointState:
        """Change an endpoint's state in memory; :meth:`save` writes it."""
        self.endpoints[endpoint] = replace(self.get(endpoint), **changes)  # type: ignore[arg-type]
        return self.endpoints[endpoint]

    def save(self) -> None:
        """Write the state atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"version": VERSION, "endpoints": {k: v.to_json() for k, v in sorted(self.endpoints.items())}}
        atomic_write(self.path, json.dumps(doc, indent=1, sort_keys=True) + "\n")


@contextlib.contextmanager
def locked(landing: Path, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the landing folder's pull lock: one pull or watch cycle at a time; wait for a running one.

    Raises
    ------
    PullError
        When another pull still holds the lock after ``timeout`` seconds (default ``$FINOPS_LOCK_TIMEOUT``).
    """
    folder = landing / STATE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    wait = lock_timeout() if timeout is None else timeout
    with open(folder / "pull.lock", "a+") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise PullError(f"another pull of {landing} is still running after {wait:g} s; try again "
                                    "when it ends (FINOPS_LOCK_TIMEOUT sets the wait)", kind="request") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
