"""A real PostgreSQL server for the tests: the Debian server binaries, started once per session in a temp folder.

``initdb`` and ``pg_ctl`` refuse to run as root, so under root they run as the ``postgres`` user (``runuser``) in
a folder it owns. The server listens on 127.0.0.1 on a free port (password auth, SCRAM) and on a unix socket in
its folder (trust, for the fixture's own administration). Tests get a DSN with a password, so they can check that
the password never leaks. Fixtures skip with the reason when no server binary is installed (``.ci/run`` installs
Debian's ``postgresql``).

Use from a test module (assigned, not imported by name, so the fixture parameters shadow nothing)::

    import postgres_server as pg

    postgres_dsn = pg.postgres_dsn
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

psycopg = pytest.importorskip("psycopg", reason="psycopg (psycopg[binary]) is not installed")

#: Where Debian puts the server binaries (newest version first).
BIN_GLOB = "/usr/lib/postgresql/*/bin"
USER = "finops_test"


def server_bin() -> Path | None:
    """Return the folder of the newest installed PostgreSQL server binaries, or None."""
    found = [Path(p) for p in glob.glob(BIN_GLOB) if (Path(p) / "initdb").exists() and (Path(p) / "pg_ctl").exists()]
    found.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    if found:
        return found[0]
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path and shutil.which("initdb") else None


def free_port() -> int:
    """Return a TCP port free on the loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresServer:
    """A running server: its folder, port, and a superuser reached by the unix socket (no password)."""

    bin: Path
    root: Path
    port: int
    superuser: str
    as_postgres: bool

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def admin_dsn(self) -> str:
        """The superuser's DSN over the unix socket (trust): for the fixture's setup only."""
        return f"host={self.root} port={self.port} user={self.superuser} dbname=postgres"

    def dsn(self, user: str, password: str, dbname: str, *, port: int | None = None) -> str:
        """A TCP DSN with a password (URL form)."""
        return f"postgresql://{user}:{password}@127.0.0.1:{port or self.port}/{dbname}"

    def admin(self, *statements: str) -> None:
        """Run statements as the superuser (autocommit: CREATE DATABASE needs it)."""
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            for sql in statements:
                conn.execute(sql)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """Run a server binary as the server's owner."""
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


def start_server() -> PostgresServer:
    """Create a cluster in a new temp folder and start it; skip the test when that cannot be done."""
    binaries = server_bin()
    if binaries is None:
        pytest.skip(f"no PostgreSQL server binaries (initdb, pg_ctl) under {BIN_GLOB} or on PATH")
    as_postgres = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="finops-pg-"))
    superuser = "postgres"
    if as_postgres:
        if shutil.which("runuser") is None:
            pytest.skip("running as root and runuser is missing: PostgreSQL refuses to run as root")
        shutil.chown(root, user="postgres")
    else:
        superuser = os.environ.get("USER") or "postgres"
    server = PostgresServer(binaries, root, free_port(), superuser, as_postgres)
    init = server.run(
        "initdb",
        "-D",
        str(server.data),
        "-U",
        superuser,
        "-E",
        "UTF8",
        "--no-sync",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed: {init.stderr.strip()[-500:]}")
    options = (
        f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c shared_buffers=16MB -c max_connections=20"
    )
    start = server.run(
        "pg_ctl", "-D", str(server.data), "-l", str(root / "server.log"), "-o", options, "-w", "-t", "30", "start"
    )
    if start.returncode != 0:
        log = (root / "server.log").read_text(errors="replace")[-800:] if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed: {start.stderr.strip()[-500:]} {log}")
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session, stopped (``pg_ctl stop -m fast``) and removed at the end."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@dataclass(frozen=True)
class Database:
    """A fresh database owned by a password-authenticated user."""

    server: PostgresServer
    name: str
    user: str
    password: str

    @property
    def dsn(self) -> str:
        return self.server.dsn(self.user, self.password, self.name)


def new_database(server: PostgresServer, name: str) -> Database:
    """Create a user with a random password (once) and a fresh database ``name`` it owns."""
    password = f"pw-{secrets.token_hex(12)}"
    server.admin(
        f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{USER}') "
        f"THEN CREATE ROLE {USER} LOGIN; END IF; END$$",
        f"ALTER ROLE {USER} PASSWORD '{password}'",
        f"DROP DATABASE IF EXISTS {name}",
        f"CREATE DATABASE {name} OWNER {USER}",
    )
    return Database(server, name, USER, password)


@pytest.fixture(scope="session")
def postgres_database(postgres_server: PostgresServer) -> Database:
    """A fresh database for the session, with its owner's password (the DSN is ``.dsn``)."""
    return new_database(postgres_server, "finops_session")


@pytest.fixture(scope="session")
def postgres_dsn(postgres_database: Database) -> str:
    """A DSN with a password to a fresh database (``postgresql://user:password@127.0.0.1:port/db``)."""
    return postgres_database.dsn
