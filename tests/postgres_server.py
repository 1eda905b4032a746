"""A real PostgreSQL server for the tests: Debian's binaries, a throwaway cluster, password login.

Started once per session (a few seconds) on a free port, its socket in the cluster folder; the tests skip with the
reason when no server binary is installed (`.ci/run` installs Debian's ``postgresql``). PostgreSQL refuses to run
as root, so as root the cluster belongs to the ``postgres`` user and is driven through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

USER, PASSWORD, DATABASE = "finops_test", "pg-Secret-7x!", "litellm"


def _bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(args: list[str], *, root: bool) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if root else args


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """Yield a DSN (with a password) to a fresh database of a real PostgreSQL server."""
    binaries = _bin()
    if binaries is None:
        pytest.skip("PostgreSQL server binaries not installed (Debian package postgresql; .ci/run installs it)")
    root = os.geteuid() == 0
    if root and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: PostgreSQL cannot be started")
    folder = Path(tempfile.mkdtemp(prefix="finops-pg-"))
    data = folder / "data"
    if root:
        shutil.chown(folder, "postgres", "postgres")
    port = _free_port()
    pwfile = folder / "pw"
    pwfile.write_text("postgres-admin\n")
    if root:
        shutil.chown(pwfile, "postgres", "postgres")
    subprocess.run(_as_owner([str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
                              f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync"], root=root),
                   check=True, capture_output=True)  # fmt: skip
    log = folder / "server.log"
    subprocess.run(_as_owner([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "30", "-o",
                              f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                             root=root), check=True, capture_output=True)  # fmt: skip
    admin = f"postgresql://postgres:postgres-admin@127.0.0.1:{port}/postgres"
    try:
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f"CREATE USER {USER} PASSWORD '{PASSWORD}'")
            con.execute(f"CREATE DATABASE {DATABASE} OWNER {USER}")
        yield f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}"
    finally:
        subprocess.run(_as_owner([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], root=root),
                       capture_output=True)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
