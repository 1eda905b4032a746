"""One file's fault is that file's failure: the run goes on, the summary is printed, the exit code says so."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from commit_counter import CommitCounter

from finops_lib import engine
from finops_lib.cli import main
from finops_lib.cli.parser import EXIT_FAILED
from finops_lib.sources import SOURCES, register_source
from finops_lib.warehouse import ingest

DATA = Path(__file__).parent / "data"
_CRASHING = "test_crashing_reader"


def _crash(path: Path, con: object) -> None:
    """A reader with a bug that is not a SourceError (what a NaN cast or an overflow used to do)."""
    raise ZeroDivisionError("division by zero in a reader")


@pytest.fixture
def crashing_format():
    register_source(_CRASHING, table="costs", description="test", detect=lambda p, h: h.startswith("CRASH"))(_crash)
    yield _CRASHING
    SOURCES.pop(_CRASHING)


def _folder(tmp_path: Path) -> Path:
    """Two good FOCUS files around a file whose reader crashes (sorted between them)."""
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(DATA / "focus.csv", folder / "a_focus.csv")
    (folder / "b_crash.txt").write_text("CRASH this file\n")
    shutil.copy(DATA / "focus_azure.csv", folder / "c_focus.csv")
    return folder


def _billed(path: Path) -> Decimal:
    """The file's BilledCost added up without the workbench (pandas reading text, summed as Decimal)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return sum((Decimal(v) for v in frame["BilledCost"] if v.strip()), Decimal(0))


def test_a_crashing_reader_fails_its_file_and_the_others_load(tmp_path: Path, crashing_format: str) -> None:
    folder = _folder(tmp_path)
    con = engine.memory()
    summary = ingest([folder], con=con).set_index("path")
    crashed = summary.loc[str(folder / "b_crash.txt")]
    assert (crashed.status, crashed.format) == ("failed", _CRASHING)
    assert crashed.message == "could not be read (ZeroDivisionError: division by zero in a reader)"
    assert summary.loc[str(folder / "a_focus.csv"), "status"] == "loaded"
    assert summary.loc[str(folder / "c_focus.csv"), "status"] == "loaded"
    held = con.con.execute("SELECT x_SourceFile, sum(BilledCost) FROM costs GROUP BY 1").fetchall()
    expected = {str(folder / "a_focus.csv"): _billed(folder / "a_focus.csv"),
                str(folder / "c_focus.csv"): _billed(folder / "c_focus.csv")}  # fmt: skip
    assert {f: Decimal(v) for f, v in held} == expected
    # nothing of the crashed file was written, and the connection still works for the next ingest
    assert con.con.execute("SELECT count(*) FROM ingested_files WHERE x_SourceFile LIKE '%b_crash%'").fetchone() == (0,)
    again = ingest([folder], con=con).set_index("path")
    assert again.loc[str(folder / "b_crash.txt"), "status"] == "failed"
    assert set(again.drop(str(folder / "b_crash.txt"))["status"]) == {"unchanged"}


def test_the_command_prints_the_summary_and_exits_failed(tmp_path: Path, crashing_format: str,
                                                         capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    folder = _folder(tmp_path)
    code = main(["ingest", str(folder), "--warehouse", str(tmp_path / "wh"), "-v"])
    out, err = capsys.readouterr()
    assert code == EXIT_FAILED
    assert f"FAILED {folder / 'b_crash.txt'}: could not be read (ZeroDivisionError: division by zero in a reader)" \
        in err
    assert "3 files:" in out  # the summary is printed, every file counted
    verbose = [line for line in out.splitlines() if "b_crash.txt" in line]
    assert len(verbose) == 1 and "failed" in verbose[0] and _CRASHING in verbose[0]
    assert "could not be read (ZeroDivisionError" in verbose[0] and "NaN" not in out


_MISCOUNTING = "test_miscounting_reader"


def _miscount(path: Path, con: object) -> object:
    """A reader whose rows are inserted, then found not to add up: the load fails inside its transaction."""
    from finops_lib.sources import ReadResult
    from finops_lib.sources._common import records_table

    row = {"BilledCost": Decimal("1"), "BillingCurrency": "USD", "x_SourceFormat": _MISCOUNTING,
           "x_SourceFile": str(path), "x_SourceRow": 1, "x_RowHash": "r1"}  # fmt: skip
    return ReadResult(_MISCOUNTING, str(path), records_table([row], "costs"), None, records_table([], "rejects"),
                      rows_read=5)  # five said, one given


def test_a_load_failing_inside_its_transaction_leaves_the_next_file_masked_and_loaded(tmp_path: Path) -> None:
    register_source(_MISCOUNTING, table="costs", description="test",
                    detect=lambda p, h: h.startswith("MISCOUNT"))(_miscount)  # fmt: skip
    try:
        folder = tmp_path / "exports"
        folder.mkdir()
        (folder / "a_miscount.txt").write_text("MISCOUNT\n")
        key = "sk-proj-" + "Q7" * 20
        text = (DATA / "focus.csv").read_text(encoding="utf-8").replace('""user:team"": ""search""',
                                                                      f'""user:team"": ""search {key}""')  # fmt: skip
        assert key in text
        (folder / "b_focus.csv").write_text(text, encoding="utf-8")
        con = engine.memory()
        summary = ingest([folder], con=con).set_index("path")
        assert summary.loc[str(folder / "a_miscount.txt"), "status"] == "failed"
        assert "refusing to commit" in summary.loc[str(folder / "a_miscount.txt"), "message"]
        assert summary.loc[str(folder / "b_focus.csv"), "status"] == "loaded"
        tags = [t for (t,) in con.con.execute("SELECT Tags FROM costs").fetchall()]
        assert not any(key in (t or "") for t in tags) and any("sk-proj-***" in (t or "") for t in tags)
    finally:
        SOURCES.pop(_MISCOUNTING)


def test_a_parquet_file_with_broken_pages_fails_saying_why_and_the_next_file_loads(tmp_path: Path) -> None:
    """The footer reads (so the format is detected) but a data page does not: the engine's own error is the reason.

    A failed statement aborts DuckDB's transaction; the cleanup after it used to fail too, and its "transaction is
    aborted" replaced the reason.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "dumps"
    folder.mkdir()
    rows = 400
    table = pa.table({"request_id": [f"r{i}" for i in range(rows)], "startTime": ["2026-05-01T10:00:00Z"] * rows,
                      "model": ["gpt-4o-mini"] * rows, "spend": [f"{i / 1000}" for i in range(rows)],
                      "prompt_tokens": [str(1000 + i) for i in range(rows)], "completion_tokens": ["5"] * rows,
                      "metadata": ['{"usage_object": {}}'] * rows})
    broken = folder / "a_spend_logs.parquet"
    pq.write_table(table, broken, row_group_size=100)
    data = bytearray(broken.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little") + 8
    for at in range(200, len(data) - footer - 200, 997):  # scribble over the data pages, not the footer
        data[at:at + 64] = b"\xff" * 64
    broken.write_bytes(bytes(data))
    shutil.copy(DATA / "focus.csv", folder / "b_focus.csv")
    summary = ingest([folder], con=engine.memory()).set_index("path")
    failed = summary.loc[str(broken)]
    assert failed["status"] == "failed" and failed["format"] == "litellm_spend_logs"
    assert f'Failed to read file "{broken}"' in failed["message"], failed["message"]
    assert "transaction is aborted" not in failed["message"]
    assert summary.loc[str(folder / "b_focus.csv"), "status"] == "loaded"


def test_a_data_folder_moved_is_recognised_by_its_files_bytes(tmp_path: Path) -> None:
    """Moving the exports folder and ingesting it again double counts nothing and reports nothing as failed."""
    from finops_lib.warehouse import skipped_files

    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(DATA / "focus.csv", folder / "a_focus.csv")
    shutil.copy(DATA / "focus_azure.csv", folder / "c_focus.csv")
    con = engine.memory()
    ingest([folder], con=con)
    before = con.con.execute("SELECT count(*), sum(BilledCost) FROM costs").fetchone()
    moved = shutil.move(folder, tmp_path / "archive" / "exports-2026")
    summary = ingest([moved], con=con)
    assert set(summary["status"]) == {"duplicate"}  # the same bytes: already held
    assert con.con.execute("SELECT count(*), sum(BilledCost) FROM costs").fetchone() == before
    expected = _billed(Path(moved) / "a_focus.csv") + _billed(Path(moved) / "c_focus.csv")
    assert Decimal(before[1]) == expected
    assert skipped_files(moved, con).empty  # nothing said to have failed in the moved folder


def test_small_files_load_in_one_transaction(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(DATA / "focus.csv", folder / "a.csv")
    shutil.copy(DATA / "focus_azure.csv", folder / "b.csv")
    shutil.copy(DATA / "focus_details.csv", folder / "c.csv")
    con = engine.memory()
    counting = con.con = CommitCounter(con.con)
    summary = ingest([folder], con=con)
    assert list(summary.status) == ["loaded"] * 3
    assert counting.commits == 1  # one group, one commit
    held = dict(con.con.execute("SELECT x_SourceFile, sum(BilledCost) FROM costs GROUP BY 1").fetchall())
    assert {Path(f).name: Decimal(v) for f, v in held.items()} == {n: _billed(folder / n) for n in ("a.csv", "b.csv",
                                                                                                     "c.csv")}


def test_a_fault_in_a_group_rolls_it_back_and_loads_its_files_one_by_one(tmp_path: Path,
                                                                         crashing_format: str) -> None:  # fmt: skip
    # a.csv loads, b.csv holds a.csv's bytes (a later copy: it stands for a.csv), then a crash: the group is rolled
    # back and redone file by file. What the run had learnt inside the rolled-back group is forgotten with it (a
    # ledger still naming b.csv as a.csv's twin would fail a.csv, the twin holding no rows): a.csv loads, b.csv
    # stands for it, the crash fails alone, d.csv loads.
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(DATA / "focus.csv", folder / "a.csv")
    shutil.copy(DATA / "focus.csv", folder / "b.csv")
    (folder / "c_crash.txt").write_text("CRASH this file\n")
    shutil.copy(DATA / "focus_azure.csv", folder / "d.csv")
    con = engine.memory()
    counting = con.con = CommitCounter(con.con)
    summary = ingest([folder], con=con).set_index("path")
    assert {Path(p).name: s for p, s in summary.status.items()} == {"a.csv": "loaded", "b.csv": "loaded",
                                                                   "c_crash.txt": "failed", "d.csv": "loaded"}
    assert summary.loc[str(folder / "b.csv"), "rows_replaced"] == summary.loc[str(folder / "a.csv"), "rows_loaded"]
    assert counting.commits == 3  # the group's was never reached; then a.csv's, b.csv's and d.csv's own
    held = dict(con.con.execute("SELECT x_SourceFile, sum(BilledCost) FROM costs GROUP BY 1").fetchall())
    assert {Path(f).name: Decimal(v) for f, v in held.items()} == {"b.csv": _billed(folder / "a.csv"),
                                                                   "d.csv": _billed(folder / "d.csv")}
    files = con.con.execute("SELECT x_SourceFile FROM ingested_files ORDER BY 1").fetchall()
    assert [Path(f).name for (f,) in files] == ["b.csv", "d.csv"]
