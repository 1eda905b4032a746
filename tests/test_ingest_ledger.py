"""What the warehouse holds of each file decides, before any parsing, whether a file is unchanged (warehouse.ledger)."""

import os
import shutil
from pathlib import Path

import pytest

from finops_lib import engine
from finops_lib.warehouse import ingest, ledger

OLD_NS = 1_700_000_000 * 10**9  # 2023-11-14: long settled


@pytest.fixture
def folder(tmp_path, data_dir):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("litellm_spend_logs_small.csv", "openai_costs_page.json"):
        shutil.copy(data_dir / name, src / name)
        os.utime(src / name, ns=(OLD_NS, OLD_NS))
    return src


def _files(con):
    return con.execute("SELECT x_SourceFile, x_FileSha256, x_FileSize, x_FileModifiedNs FROM ingested_files "
                       "ORDER BY 1").fetchall()


def _totals(con):
    return [con.execute(f"SELECT count(*), sum(x_SourceRow) FROM {t}").fetchone() for t in ("costs", "requests")]


def test_size_and_time_are_recorded_and_an_unchanged_file_is_not_read_again(folder, tmp_path):
    con = engine.connect(warehouse=tmp_path / "wh")
    ingest([folder], con=con)
    files = _files(con.con)
    costs = folder / "openai_costs_page.json"
    assert (str(costs), ledger.file_sha256(costs), costs.stat().st_size, OLD_NS) in files
    # Same size and time: judged by the stat alone. The proof: bytes changed in place with the size and time kept
    # (the documented limit, as for git and rsync) are not read.
    text = costs.read_bytes()
    costs.write_bytes(text.replace(b"2", b"3", 1))
    os.utime(costs, ns=(OLD_NS, OLD_NS))
    again = ingest([folder], con=con)
    assert again.status.tolist() == ["unchanged", "unchanged"]
    assert again.format.tolist() == ["litellm_spend_logs", "openai_costs"]  # the recorded format, no detection


def test_a_touched_file_is_hashed_found_unchanged_and_its_new_time_remembered(folder, tmp_path):
    con = engine.connect(warehouse=tmp_path / "wh")
    ingest([folder], con=con)
    before = _totals(con.con)
    logs = folder / "litellm_spend_logs_small.csv"
    later = OLD_NS + 86_400 * 10**9
    os.utime(logs, ns=(later, later))
    again = ingest([folder], con=con)
    assert again.status.tolist() == ["unchanged", "unchanged"]
    assert _totals(con.con) == before
    assert (str(logs), ledger.file_sha256(logs), logs.stat().st_size, later) in _files(con.con)


def test_new_bytes_of_the_same_size_and_a_new_time_replace_the_file(folder, tmp_path):
    con = engine.connect(warehouse=tmp_path / "wh")
    ingest([folder], con=con)
    costs = folder / "openai_costs_page.json"
    text = costs.read_bytes()
    costs.write_bytes(text.replace(b"0.", b"1.", 1))  # same size, another amount
    result = ingest([costs], con=con)
    assert result.status.tolist() == ["replaced"]


def test_a_file_written_just_now_has_no_time_recorded(folder, tmp_path):
    con = engine.connect(warehouse=tmp_path / "wh")
    fresh = folder / "openai_costs_page.json"
    os.utime(fresh)  # modified now: racy, the next run hashes it
    ingest([fresh], con=con)
    assert _files(con.con) == [(str(fresh), ledger.file_sha256(fresh), None, None)]
    assert ingest([fresh], con=con).status.tolist() == ["unchanged"]


@pytest.fixture
def hashed_while_loading(monkeypatch):
    """Every new file is hashed in a thread while it loads (the path of files of 64 MiB and more)."""
    monkeypatch.setattr("finops_lib.warehouse.loading.BACKGROUND_HASH_BYTES", 0)


def test_a_large_file_hashed_while_it_loads_is_recorded_with_its_hash(folder, tmp_path, hashed_while_loading):
    con = engine.connect(warehouse=tmp_path / "wh")
    result = ingest([folder], con=con)
    assert result.status.tolist() == ["loaded", "loaded"]
    for path, sha, *_ in _files(con.con):
        assert sha == ledger.file_sha256(Path(path))


def test_a_copy_found_by_its_hash_after_loading_rolls_back_to_a_duplicate(folder, tmp_path, hashed_while_loading):
    con = engine.connect(warehouse=tmp_path / "wh")
    ingest([folder], con=con)
    before = _totals(con.con)
    copy = tmp_path / "copy.json"
    shutil.copy2(folder / "openai_costs_page.json", copy)  # same bytes and time: the older path wins
    assert ingest([copy], con=con).status.tolist() == ["duplicate"]
    assert _totals(con.con) == before
    newer = tmp_path / "zz" / "copy.json"
    newer.parent.mkdir()
    shutil.copy(folder / "openai_costs_page.json", newer)  # delivered later: it stands for the bytes
    result = ingest([newer], con=con)
    assert result.status.tolist() == ["loaded"] and result.rows_replaced[0] > 0
    assert _totals(con.con)[0][0] == before[0][0]
    held = [f for f, *_ in _files(con.con)]
    assert str(newer) in held and str(folder / "openai_costs_page.json") not in held
