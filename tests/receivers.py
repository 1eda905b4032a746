"""Real receivers for the notification tests: an HTTP server for webhooks and an SMTP server with STARTTLS and AUTH.

``HttpReceiver`` records every POST (path, headers, JSON body) and can answer 429 (with ``retry-after``) or 500 to
the first posts. ``SmtpReceiver`` is aiosmtpd with a self-signed certificate (made with the ``openssl`` command
line), STARTTLS required before AUTH, and one user and password.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER, SMTP_PASSWORD = "alerts@example.com", "smtp-Secret-42!"


@dataclass
class Post:
    """One POST received."""

    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class HttpReceiver:
    """A webhook receiver on a free loopback port."""

    server: ThreadingHTTPServer
    posts: list[Post] = field(default_factory=list)
    fail_first: int = 0
    fail_status: int = 500
    retry_after: str = "0"

    @property
    def url(self) -> str:
        """The receiver's base URL."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def start_http_receiver() -> HttpReceiver:
    """Start a webhook receiver in a thread."""
    state: dict[str, HttpReceiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

        def do_POST(self) -> None:
            receiver = state["r"]
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            receiver.posts.append(Post(self.path, dict(self.headers), json.loads(raw or b"null")))
            if len(receiver.posts) <= receiver.fail_first:
                self.send_response(receiver.fail_status)
                if receiver.fail_status == 429:
                    self.send_header("retry-after", receiver.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["r"] = HttpReceiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state["r"]


@pytest.fixture()
def http_receiver() -> Iterator[HttpReceiver]:
    """A webhook receiver for one test."""
    receiver = start_http_receiver()
    yield receiver
    receiver.server.shutdown()


class _Store:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.sessions: list[dict[str, object]] = []

    async def handle_DATA(self, server: object, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        self.sessions.append({"tls": session.ssl is not None, "login": session.authenticated})
        return "250 OK"


def _authenticate(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login.decode() == SMTP_USER and \
        data.password.decode() == SMTP_PASSWORD  # fmt: skip
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpReceiver:
    """An SMTP server with STARTTLS and AUTH on a free loopback port."""

    controller: Controller
    store: _Store

    @property
    def port(self) -> int:
        """Its port."""
        return int(self.controller.port)

    @property
    def messages(self) -> list[EmailMessage]:
        """Every message received."""
        return self.store.messages


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """Return (certificate, key) of a self-signed certificate for 127.0.0.1, made with openssl."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)  # fmt: skip
    return cert, key


def start_smtp_receiver(folder: Path) -> SmtpReceiver:
    """Start the SMTP server (STARTTLS required for AUTH)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the SMTP test server's certificate")
    cert, key = make_certificate(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    store = _Store()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(store, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=_authenticate, auth_require_tls=True)  # fmt: skip
    controller.start()
    return SmtpReceiver(controller, store)


@pytest.fixture()
def smtp_receiver(tmp_path: Path) -> Iterator[SmtpReceiver]:
    """An SMTP receiver for one test."""
    receiver = start_smtp_receiver(tmp_path)
    yield receiver
    receiver.controller.stop()
