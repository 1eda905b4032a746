"""Start the fake vendor server (:mod:`finops_lib.sample.vendor_server`) as a real process, and drive it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from finops_lib import paths
from finops_lib.sample.vendor_org import Org
from finops_lib.sample.vendor_server import SIZES


@dataclass
class VendorServer:
    """A running fake vendor server: its URLs, its clock and faults, its request log."""

    process: subprocess.Popen[str]
    url: str
    control: Path
    org: Org
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def openai_base(self) -> str:
        """``OPENAI_BASE_URL`` for this server."""
        return self.url + "/v1"

    @property
    def anthropic_base(self) -> str:
        """``ANTHROPIC_BASE_URL`` for this server."""
        return self.url

    def _write(self) -> None:
        tmp = self.control.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.settings, default=str))
        os.replace(tmp, self.control)

    def set_clock(self, now: datetime) -> None:
        """Set the server's clock."""
        self.settings["now"] = now.isoformat()
        self._write()

    def configure(self, **faults: Any) -> None:
        """Set faults (``rate_limit_every=3``...) and scenarios (``runaway={...}``, ``restate={...}``)."""
        for name in ("runaway", "restate"):
            if name in faults:
                value = faults.pop(name)
                self.settings["scenarios"] = [s for s in self.settings.get("scenarios", []) if name not in s] + \
                    ([{name: value}] if value else [])  # fmt: skip
                self.org = self.org.with_scenarios(self.settings["scenarios"])
        self.settings.update(faults)
        self._write()

    def requests_seen(self) -> list[dict[str, Any]]:
        """Every request served so far: path, query, status."""
        log = self.control.parent / "requests.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []

    def kill(self) -> None:
        """SIGKILL the server."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the server."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_vendor_server(folder: Path, *, now: datetime | None = None, seed: int = 7, size: str = "small",
                        **faults: Any) -> VendorServer:  # fmt: skip
    """Start the server in ``folder`` (its control file and request log) on a free port."""
    folder.mkdir(parents=True, exist_ok=True)
    control = folder / "control.json"
    control.write_text("{}")
    env = {**os.environ, "PYTHONPATH": str(paths.PROJECT_ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "finops_lib.sample.vendor_server", "--port", "0",
                                "--control-file", str(control), "--seed", str(seed), "--size", size],
                               stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("LISTENING "):
        process.kill()
        raise RuntimeError(f"the fake vendor server did not start: {line!r}")
    server = VendorServer(process, line.split()[1], control, Org(seed=seed, **SIZES[size]))
    if now is not None:
        server.settings["now"] = now.isoformat()
    server.configure(**faults)
    return server


@pytest.fixture()
def vendor_server(tmp_path: Path) -> Iterator[VendorServer]:
    """A fake vendor server for one test (stopped at teardown)."""
    server = start_vendor_server(tmp_path / "vendor-server")
    yield server
    server.stop()
