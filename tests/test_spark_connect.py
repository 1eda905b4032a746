"""Spark Connect (issue 19): a real Connect server started here, `finops` commands run against ``sc://``.

The server is the one pyspark ships (``org.apache.spark.sql.connect.service.SparkConnectServer`` in its bundled
``spark-connect`` jar), started with ``spark-submit`` on a free port, its catalog in a temporary folder. The client
runs as the ``finops`` command in its own process (a Connect client switches pyspark to remote mode for the whole
process, which the local sessions of the other Spark tests must not see).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from finops_lib import paths

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(shutil.which("java") is None, reason="no Java runtime on PATH"),
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark not installed"),
    pytest.mark.skipif(importlib.util.find_spec("grpc") is None, reason="grpcio (Spark Connect client) not installed"),
]

FINOPS = str(Path(sys.executable).with_name("finops"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A Spark Connect server on a free port; yields its URL."""
    home = Path(importlib.util.find_spec("pyspark").origin).parent
    jars = sorted((home / "jars").glob("spark-connect_*.jar"))
    if not jars:
        pytest.skip("this pyspark ships no spark-connect jar")
    folder = tmp_path_factory.mktemp("connect")
    port = _free_port()
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [str(home / "bin" / "spark-submit"), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
         "--master", "local[2]", "--conf", f"spark.connect.grpc.binding.port={port}",
         "--conf", f"spark.sql.warehouse.dir={folder / 'catalog'}", "--conf", "spark.ui.enabled=false",
         str(jars[-1])],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "SPARK_HOME": str(home)}, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None:
                pytest.fail(f"the Spark Connect server stopped: {(folder / 'server.log').read_text()[-2000:]}")
            time.sleep(1)
        else:
            pytest.fail("the Spark Connect server did not listen within 180 s")
        yield f"sc://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _finops(*args: str, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run([FINOPS, *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_ingest_and_chargeback_through_spark_connect(server: str, tmp_path: Path) -> None:
    data = tmp_path / "exports"
    data.mkdir()
    pages = sorted((paths.SAMPLE_DIR / "openai").glob("costs_page_00[12].json"))
    for page in pages:
        shutil.copy(page, data)
    expected = Decimal(0)
    for page in pages:  # the pages' amounts, summed by hand (json + Decimal), not by the workbench
        doc = json.loads(page.read_text(), parse_float=Decimal)
        expected += sum((Decimal(str(r["amount"]["value"])) for b in doc["data"] for r in b["results"]), Decimal(0))
    env = {"FINOPS_WAREHOUSE": str(tmp_path / "ingest-warehouse")}
    first = _finops("ingest", str(data), "--engine", server, env=env)
    assert "2 files: 642 rows read, 642 loaded, 0 rejected" in first.stdout
    again = _finops("ingest", str(data), "--engine", server, env=env)
    assert "2 files: 0 rows read, 0 loaded" in again.stdout

    _finops("chargeback", "--engine", server, "--out", str(tmp_path / "connect.csv"), env=env)
    _finops("chargeback", "--warehouse", str(tmp_path / "ingest-warehouse"), "--out", str(tmp_path / "duck.csv"),
            env={})
    connect = (tmp_path / "connect.csv").read_bytes()
    assert connect == (tmp_path / "duck.csv").read_bytes()
    months = connect.decode().splitlines()[1:]
    total = sum(Decimal(line.split(",")[-1]) for line in months)
    assert months and abs(total - expected) <= Decimal("0.005") * len(months)  # each month to the cent
