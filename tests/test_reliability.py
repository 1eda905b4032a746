"""Concurrency and faults (docs/reliability.md): a busy warehouse, a reader open during an ingest, kill -9, disk full.

Every test runs ``finops ingest`` or a notebook's first cell in real processes on a real DuckDB file. The totals a
run leaves are read straight from the tables with DuckDB (count and exact Decimal sums per file and table, the
rejects, the ingested files), never from the workbench's own summary.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from finops_lib import engine, paths
from finops_lib.warehouse import open_data

pytestmark = pytest.mark.slow

FILES = {  # three formats, three readers; the FOCUS file gets one row that must be rejected
    "gcp/billing_export_2026-05.jsonl.gz": "a_gcp_2026-05.jsonl.gz",
    "azure/cost_details_2026-05.csv.gz": "b_azure_2026-05.csv.gz",
    "focus/focus_1.2_cloud_2026-05.csv": "c_focus_2026-05.csv",
}
BAD_LINE = 7  # line of the FOCUS file whose BilledCost becomes text
CLI = "import sys; from finops_lib.cli import main; sys.exit(main(sys.argv[1:]))"


def _env(scratch: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FINOPS_ENGINE", "FINOPS_WAREHOUSE")}
    return {**env, "PYTHONPATH": str(paths.PROJECT_ROOT), engine.SCRATCH_ENV: str(scratch), **extra}


def _ingest(folder: Path, warehouse: Path, scratch: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CLI, "ingest", str(folder), "--warehouse", str(warehouse)],
                          env=_env(scratch, **extra), capture_output=True, text=True, timeout=300)  # fmt: skip


def totals(warehouse: Path) -> dict[str, object]:
    """What a run left in the warehouse: per table and file the row count and the exact sum of every money column,
    every reject (file, line, column, reason), every ingested file with its counts."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        out: dict[str, object] = {}
        for table in ("costs", "requests"):
            money = [name for name, kind in con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [table]
            ).fetchall() if kind.startswith("DECIMAL")]  # fmt: skip
            sums = "".join(f', sum("{name}")' for name in money)
            out[table] = con.execute(f'SELECT x_SourceFile, count(*){sums} FROM "{table}" GROUP BY 1 ORDER BY 1'
                                     ).fetchall()  # fmt: skip
        out["rejects"] = con.execute("SELECT x_SourceFile, x_SourceRow, x_Column, x_Reason FROM rejects ORDER BY ALL"
                                     ).fetchall()  # fmt: skip
        out["files"] = con.execute("SELECT x_SourceFile, x_FileSha256, x_RowsRead, x_RowsLoaded, x_RowsRejected, "
                                   "x_RowsSuperseded FROM ingested_files ORDER BY 1").fetchall()  # fmt: skip
    finally:
        con.close()
    return out


def _records(path: Path) -> int:
    with gzip.open(path, "rt") if path.suffix == ".gz" else path.open() as handle:
        lines = sum(1 for line in handle if line.strip())
    return lines if ".jsonl" in path.name else lines - 1


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three exports copied out of the sample (so they are a user's data); one FOCUS row has a text BilledCost."""
    base = tmp_path_factory.mktemp("exports")
    for source, name in FILES.items():
        shutil.copyfile(paths.SAMPLE_DIR / source, base / name)
    focus = base / FILES["focus/focus_1.2_cloud_2026-05.csv"]
    rows = list(csv.reader(focus.open(newline="")))
    rows[BAD_LINE - 1][rows[0].index("BilledCost")] = "twelve"
    with focus.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return base


@pytest.fixture(scope="module")
def clean_warehouse(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse of one uninterrupted ``finops ingest`` of the folder."""
    base = tmp_path_factory.mktemp("clean")
    done = _ingest(folder, base / "wh.duckdb", base / "scratch")
    assert done.returncode == 0, done.stderr[-2000:]
    return base / "wh.duckdb"


@pytest.fixture(scope="module")
def clean(clean_warehouse: Path) -> dict[str, object]:
    """The totals of the uninterrupted run."""
    return totals(clean_warehouse)


def test_the_clean_run_holds_every_record_of_the_three_files(folder: Path, clean: dict[str, object]) -> None:
    files = {Path(row[0]).name: row[2:] for row in clean["files"]}
    assert set(files) == set(FILES.values())
    for name, (read, loaded, rejected, superseded) in files.items():
        expected_rejects = 1 if name.startswith("c_focus") else 0
        assert (read, loaded, rejected, superseded) == (_records(folder / name), read - expected_rejects,
                                                        expected_rejects, 0)  # fmt: skip
    focus = folder / FILES["focus/focus_1.2_cloud_2026-05.csv"]
    rows = list(csv.DictReader(focus.open(newline="")))
    billed = sum(Decimal(r["BilledCost"]) for i, r in enumerate(rows, start=2) if i != BAD_LINE)
    by_file = {Path(row[0]).name: row for row in clean["costs"]}
    assert by_file[focus.name][1] == len(rows) - 1 and billed in by_file[focus.name][2:]
    assert clean["rejects"] == [(str(focus), BAD_LINE, "BilledCost", clean["rejects"][0][3])]


# -- a second writer waits --------------------------------------------------------------------------------------

HOLD = ("import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); con.execute('CREATE TABLE IF NOT EXISTS held "
        "(x INT)'); print('holding', flush=True); time.sleep(float(sys.argv[2])); con.close()")


def _hold(warehouse: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(warehouse), str(seconds)], stdout=subprocess.PIPE,
                              text=True)  # fmt: skip
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_a_writer_that_finds_the_warehouse_busy_waits_then_loads(folder: Path, clean: dict[str, object],
                                                                 tmp_path: Path) -> None:  # fmt: skip
    warehouse = tmp_path / "wh.duckdb"
    holder = _hold(warehouse, 10)  # long enough for a loaded machine to start the second writer meanwhile
    start = time.monotonic()
    done = _ingest(folder, warehouse, tmp_path / "scratch", FINOPS_LOCK_TIMEOUT="120")
    waited = time.monotonic() - start
    assert holder.wait(timeout=30) == 0
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"finops: warehouse {warehouse} is busy (held by pid {holder.pid} (" in done.stderr
    assert "waiting up to 120 s (FINOPS_LOCK_TIMEOUT) ..." in done.stderr
    assert waited > 2 and totals(warehouse) == clean


def test_a_writer_gives_up_after_the_lock_timeout_with_a_clear_error(folder: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    holder = _hold(warehouse, 12)
    try:
        start = time.monotonic()
        done = _ingest(folder, warehouse, tmp_path / "scratch", FINOPS_LOCK_TIMEOUT="1")
        waited = time.monotonic() - start
    finally:
        holder.wait(timeout=30)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"finops: error: warehouse {warehouse} is busy (held by pid {holder.pid} (")
    assert last.endswith("still locked after waiting 1 s; retry when that process has finished, or set "
                         "FINOPS_LOCK_TIMEOUT (seconds) to wait longer")  # fmt: skip
    assert waited < 10  # it gave up; the holder had 12 s to go
    con = duckdb.connect(str(warehouse), read_only=True)
    assert [r[0] for r in con.execute("SHOW TABLES").fetchall()] == ["held"]  # nothing of the ingest reached it
    con.close()


def test_a_lock_timeout_that_is_not_a_number_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv("FINOPS_LOCK_TIMEOUT", bad)
        with pytest.raises(engine.EngineError, match=rf"FINOPS_LOCK_TIMEOUT='{bad}': expected a number of seconds"):
            engine.lock_timeout()
    monkeypatch.setenv("FINOPS_LOCK_TIMEOUT", " 2.5 ")
    assert engine.lock_timeout() == 2.5


# -- a notebook stays open while finops ingest runs ---------------------------------------------------------------

NOTEBOOK = """
import json, sys, time
from pathlib import Path
from finops_lib.warehouse import open_data
folder, warehouse, stop = sys.argv[1], sys.argv[2], Path(sys.argv[3])
def seen(con):
    return [str(con.table("costs").count().execute()), str(con.table("costs").BilledCost.sum().execute())]
con = open_data(folder, warehouse=warehouse)  # a notebook's first cell, kept for the whole session
print(json.dumps(["open", *seen(con)]), flush=True)
while not stop.exists():
    print(json.dumps(["during", *seen(con)]), flush=True)
    time.sleep(0.05)
print(json.dumps(["after", *seen(con)]), flush=True)
con = open_data(None, warehouse=warehouse)  # the first cell run again
print(json.dumps(["rerun", *seen(con)]), flush=True)
"""


def _cost_totals(warehouse: Path, where: str = "true") -> list[str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return [str(v) for v in con.execute(f"SELECT count(*), sum(BilledCost) FROM costs WHERE {where}").fetchone()]
    finally:
        con.close()


def test_a_notebook_left_open_neither_blocks_nor_is_broken_by_an_ingest(folder: Path, clean_warehouse: Path,
                                                                         tmp_path: Path) -> None:  # fmt: skip
    first, later = tmp_path / "first", tmp_path / "later"
    first.mkdir(), later.mkdir()
    for name in FILES.values():
        shutil.copyfile(folder / name, (later if name.startswith("c_") else first) / name)
    warehouse, stop, scratch = tmp_path / "wh.duckdb", tmp_path / "stop", tmp_path / "scratch"
    notebook = subprocess.Popen([sys.executable, "-c", NOTEBOOK, str(first), str(warehouse), str(stop)],
                                env=_env(scratch), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)  # fmt: skip
    opened = json.loads(notebook.stdout.readline())
    assert opened[0] == "open", notebook.stderr.read()[-2000:]
    start = time.monotonic()
    done = _ingest(later, warehouse, scratch, FINOPS_LOCK_TIMEOUT="0")  # no waiting allowed: nothing may hold it
    took = time.monotonic() - start
    stop.touch()
    out, err = notebook.communicate(timeout=120)
    assert notebook.returncode == 0, err[-2000:]
    assert done.returncode == 0 and "busy" not in done.stderr, done.stderr[-2000:]
    lines = [json.loads(line) for line in out.splitlines()]
    during = [line[1:] for line in lines if line[0] == "during"]
    assert len(during) > 3  # it kept querying while the ingest ran
    # The open notebook reads its snapshot: the data as of its first cell, whatever the ingest does meanwhile.
    assert all(seen == opened[1:] for seen in during) and lines[-2][1:] == opened[1:]
    assert lines[-1][0] == "rerun" and lines[-1][1:] == _cost_totals(clean_warehouse)  # all three files now
    assert opened[1:] == _cost_totals(clean_warehouse, "x_SourceFile NOT LIKE '%c_focus%'") != lines[-1][1:]
    assert took < 120


def test_open_data_returns_a_private_snapshot_and_leaves_the_warehouse_free(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(engine.SCRATCH_ENV, str(tmp_path / "scratch"))
    (tmp_path / "azure").mkdir()
    azure = shutil.copyfile(folder / FILES["azure/cost_details_2026-05.csv.gz"], tmp_path / "azure" / "b.csv.gz")
    warehouse = tmp_path / "wh.duckdb"
    reader = open_data(tmp_path / "azure", warehouse=warehouse)
    try:
        file = engine.database_file(reader)
        assert file.parent.parent == (tmp_path / "scratch").resolve()
        assert file.parent.name.startswith(f"finops-snapshot-{os.getpid()}.")
        assert not [p for p in (tmp_path / "scratch").iterdir() if p.name.startswith("finops-stage-")]  # removed
        writer = duckdb.connect(str(warehouse))  # the warehouse is free while the reader is open: no lock error
        writer.execute("DELETE FROM costs")
        writer.close()
        assert reader.table("costs").count().execute() == _records(azure) > 0  # the snapshot is unchanged
        reader.create_view("mine", reader.table("costs"))  # a caller's view stays in its copy
    finally:
        reader.disconnect()
    again = open_data(None, warehouse=warehouse)
    try:
        assert again.table("costs").count().execute() == 0 and "mine" not in again.list_tables()
    finally:
        again.disconnect()


# -- kill -9 at eight points, then rerun --------------------------------------------------------------------------

KILLER = """
import os, signal, sys, threading
from finops_lib.cli import main
point, event, function, nth, module, group = sys.argv[1:7]
from finops_lib.warehouse import grouping
grouping.GROUP_FILES = int(group)  # small files loaded this many to a transaction
seen = [0]
def die():
    os.kill(os.getpid(), signal.SIGKILL)
def watch(frame, kind, arg):
    if kind == event and frame.f_code.co_name == function and frame.f_globals.get("__name__", "").startswith(module):
        seen[0] += 1
        if seen[0] == int(nth):
            if point == "checkpoint":  # die 5 ms into DuckDB's close, which checkpoints the write-ahead log
                threading.Timer(0.005, die).start()
            else:
                die()
sys.setprofile(watch)
sys.exit(main(sys.argv[7:]))
"""
#: point -> (profile event, function, nth occurrence, module, files per transaction, files committed before the
#: kill). The files' order is their names' (a, b, c). With one file per transaction each point is on the second
#: file, the first one committed; with two, the first group (a, b) is one transaction.
POINTS = {
    "inserted": ("return", "insert_rows", 2, "finops_lib.warehouse.loading", 1, 1),  # rows in, transaction open
    "settled": ("return", "settle", 2, "finops_lib.warehouse.loading", 1, 1),  # line numbers and rejects done
    "before_commit": ("return", "settle_file", 2, "finops_lib.warehouse.loading", 1, 1),  # all done but COMMIT
    "after_commit": ("return", "ingest_file", 2, "finops_lib.warehouse.loading", 1, 2),  # next file not begun
    "group_second_file": ("return", "settle_file", 2, "finops_lib.warehouse.loading", 2, 0),  # a done, b all but commit
    "group_committed": ("return", "load_group", 1, "finops_lib.warehouse.grouping", 2, 2),  # c not begun
    # every file committed, closing; "checkpoint" lands inside DuckDB's closing checkpoint when it takes longer than
    # 5 ms (about 100 ms here); on a faster or busier machine it may land just after: only whole files survive.
    "checkpoint": ("call", "disconnect", 1, "ibis.backends.sql", 64, 3),
}


@pytest.mark.parametrize("point", list(POINTS))
def test_kill_9_then_rerun_leaves_the_totals_of_a_clean_run(point: str, folder: Path, clean: dict[str, object],
                                                            tmp_path: Path) -> None:  # fmt: skip
    warehouse, scratch = tmp_path / "wh.duckdb", tmp_path / "scratch"
    event, function, nth, module, group, kept = POINTS[point]
    killed = subprocess.run([sys.executable, "-c", KILLER, point, event, function, str(nth), module, str(group),
                             "ingest", str(folder), "--warehouse", str(warehouse)], env=_env(scratch),
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    left = sorted(p.name for p in scratch.iterdir())
    assert any(name.startswith("finops-stage-") for name in left)  # what a killed ingest leaves behind
    assert totals(warehouse) == _first_files(clean, kept)  # whole files only: nothing of the one being loaded
    rerun = _ingest(folder, warehouse, scratch)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert totals(warehouse) == clean
    pid = killed_pid(left)
    assert not [p for p in scratch.iterdir() if p.name.split("-")[2].startswith(f"{pid}.")]  # the rerun removed them


def _first_files(found: dict[str, object], count: int) -> dict[str, object]:
    """The totals restricted to the first ``count`` files (by name)."""
    names = sorted(row[0] for row in found["files"])[:count]
    return {key: [row for row in rows if row[0] in names] for key, rows in found.items()}


def killed_pid(names: list[str]) -> str:
    """The pid in the scratch entries a killed process left (finops-<kind>-<pid>.<start>-<random>)."""
    pids = {name.split("-")[2].split(".")[0] for name in names if name.startswith("finops-")}
    assert len(pids) == 1, names
    return pids.pop()


# -- scratch folder -----------------------------------------------------------------------------------------------


def test_stale_scratch_entries_of_dead_processes_go_and_live_ones_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    monkeypatch.setenv(engine.SCRATCH_ENV, str(scratch))
    mine = engine.stage_folder()  # this process: alive
    (mine / "rows.parquet").write_bytes(b"x" * 1000)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = scratch / f"finops-stage-{gone.stdout.strip()}.12345-abcd1234"
    dead.mkdir()
    (dead / "rows.parquet").write_bytes(b"x" * 1000)
    reused = scratch / f"finops-snapshot-{os.getpid()}.1-zzzz"  # this pid, another start time: a reused pid
    reused.mkdir()
    other = scratch / "notes.txt"  # not the workbench's
    other.write_text("keep")
    removed = engine.clean_scratch(scratch)
    assert sorted(removed) == sorted([dead, reused])
    assert mine.is_dir() and other.read_text() == "keep" and not dead.exists() and not reused.exists()
    assert engine.remove_stages() == 1 and not mine.exists()


def test_duckdb_spills_into_the_scratch_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(engine.SCRATCH_ENV, str(tmp_path / "scratch"))
    con = engine.memory()
    spill = con.con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    assert Path(spill).parent == tmp_path / "scratch" and Path(spill).name.startswith(f"finops-duckdb-{os.getpid()}.")


# -- disk full ----------------------------------------------------------------------------------------------------

FULL = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
from finops_lib.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_disk_full_during_an_ingest_leaves_the_warehouse_as_it_was(folder: Path, clean: dict[str, object],
                                                                   tmp_path: Path) -> None:  # fmt: skip
    warehouse, scratch = tmp_path / "wh.duckdb", tmp_path / "scratch"
    first = sorted(folder.iterdir())[0]
    assert _ingest(first, warehouse, scratch).returncode == 0  # the first file alone
    before = totals(warehouse)
    assert [Path(row[0]).name for row in before["files"]] == [first.name]
    # 200 kB: the staged rows fit, the commit's write-ahead log of the next file does not
    full = subprocess.run([sys.executable, "-c", FULL, "200000", "ingest", str(folder), "--warehouse",
                           str(warehouse)], env=_env(scratch), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert full.returncode == 2 and "Traceback" not in full.stderr, full.stderr[-2000:]
    assert full.stderr.strip().splitlines()[-1] == (
        f"finops: error: the disk refused a write to {warehouse}.wal (File too large: disk full, over quota or over "
        "a file-size limit); the transaction was rolled back, so the warehouse is as of its last commit (an ingest "
        "keeps the files it loaded before); free space and run the command again: files already loaded are skipped")
    assert totals(warehouse) == before
    assert not list(scratch.iterdir())  # the failed run removed its staging files on its way out
    again = _ingest(folder, warehouse, scratch)  # space again: the same command completes the load
    assert again.returncode == 0, again.stderr[-2000:]
    assert totals(warehouse) == clean


# -- a large dump loads in two commits: a kill between them leaves the earlier version ----------------------------


def _litellm_version(folder: Path, records: int, spend: str | None = None) -> Path:
    """Write a LiteLLM dump of the sample's first ``records`` records (``spend`` set on every one when given)."""
    with gzip.open(paths.SAMPLE_DIR / "litellm" / "spend_logs.csv.gz", "rt", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:records + 1]
    if spend is not None:
        body = [[spend if name == "spend" else value for name, value in zip(header, row, strict=True)]
                for row in body]
    dump = folder / "spend_logs.csv"
    with dump.open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *body])
    return dump


def _pending(warehouse: Path) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM requests WHERE x_SourceRow IS NULL").fetchone()[0]
    finally:
        con.close()


def test_a_kill_between_the_two_commits_of_a_dump_leaves_its_earlier_version(tmp_path: Path) -> None:
    # A dump numbered by position (LiteLLM CSV) is inserted and committed unnumbered, then settled in a second
    # transaction (finops_lib.warehouse.pending). Killed between the two, the warehouse file holds pending rows; the
    # next command deletes them before reading, so every reader sees the earlier version, whole; a rerun loads the
    # new one.
    folder, warehouse, scratch = tmp_path / "logs", tmp_path / "wh.duckdb", tmp_path / "scratch"
    folder.mkdir()
    _litellm_version(folder, 300)
    assert _ingest(folder, warehouse, scratch).returncode == 0
    earlier = totals(warehouse)
    assert earlier["files"][0][2:] == (300, 300, 0, 0) and _pending(warehouse) == 0
    _litellm_version(folder, 400, spend="0.25")  # a restated dump: more records, other amounts
    killed = subprocess.run([sys.executable, "-c", KILLER, "numbered", "call", "number_rows", "1",
                             "finops_lib.warehouse.loading", "64", "ingest", str(folder), "--warehouse",
                             str(warehouse)],
                            env=_env(scratch), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    assert _pending(warehouse) == 400  # the new version's rows were committed, unnumbered, before the kill
    status = subprocess.run([sys.executable, "-c", CLI, "status", "--warehouse", str(warehouse)], env=_env(scratch),
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert status.returncode == 0, status.stderr[-2000:]
    assert _pending(warehouse) == 0 and totals(warehouse) == earlier  # as before that file
    rerun = _ingest(folder, warehouse, scratch)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    after = totals(warehouse)
    assert after["files"][0][2:] == (400, 400, 0, 0)
    assert after["requests"][0][1:3] == (400, Decimal("0.25") * 400)  # count, reported cost


def test_a_fault_after_the_first_commit_of_a_dump_deletes_its_pending_rows(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from finops_lib.warehouse import ingestion, loading

    folder = tmp_path / "logs"
    folder.mkdir()
    _litellm_version(folder, 120)
    con = engine.connect(warehouse=tmp_path / "wh")
    try:
        monkeypatch.setattr(loading, "settle", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk said no")))
        summary = ingestion.ingest([folder], con=con)
        assert summary.status.tolist() == ["failed"] and "disk said no" in summary.message[0]
        assert con.con.execute("SELECT count(*) FROM requests").fetchone()[0] == 0  # nothing pending left
        assert con.con.execute("SELECT count(*) FROM ingested_files").fetchone()[0] == 0
        monkeypatch.undo()
        assert ingestion.ingest([folder], con=con).status.tolist() == ["loaded"]
        assert con.con.execute("SELECT count(*), count(x_SourceRow), min(x_SourceRow), max(x_SourceRow) "
                               "FROM requests").fetchone() == (120, 120, 2, 121)  # fmt: skip
    finally:
        con.disconnect()
