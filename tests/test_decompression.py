"""Issue 17, point 8: a compressed input that expands past a limit is refused with a reason, while streaming.

The bombs are generated here, small: 50 MB of zeros is about 50 KB gzipped (a ratio near 1000:1), and the
size limit is lowered by its setting (``FINOPS_MAX_EXPANDED_BYTES``) so no test needs gigabytes. The
expanded bytes are counted as they come out of the decompressor (the error carries the count at which the
read stopped), so a gzip trailer or zip directory that lies about the size changes nothing.
"""

from __future__ import annotations

import gzip
import shutil
import struct
import zipfile
from pathlib import Path

import pytest

from finops_lib import engine
from finops_lib.errors import ParameterError, SourceError
from finops_lib.sources import detect_format, read_head
from finops_lib.sources._compressed import (
    CHUNK,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_RATIO,
    RATIO_FLOOR,
    RATIO_VAR,
    SIZE_VAR,
    check_expansion,
    limits,
    open_input,
)
from finops_lib.warehouse import ingest

DATA = Path(__file__).parent / "data"
MB = 2**20
BOMB_BYTES = 50 * MB
LITELLM = DATA / "litellm_spend_logs_small.csv"


@pytest.fixture(autouse=True)
def _default_limits(monkeypatch):
    monkeypatch.delenv(SIZE_VAR, raising=False)
    monkeypatch.delenv(RATIO_VAR, raising=False)


def _zeros_gz(path: Path, size: int = BOMB_BYTES) -> Path:
    with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as fh:
        block = bytes(MB)
        for _ in range(size // MB):
            fh.write(block)
    return path


def _csv_bomb(path: Path, size: int = BOMB_BYTES) -> Path:
    """A LiteLLM CSV (detected as one) whose one data line repeats until the file expands to ``size``."""
    head, line = LITELLM.read_text(encoding="utf-8").splitlines()[:2]
    with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as fh:
        fh.write((head + "\n").encode())
        block = ((line + "\n") * (MB // (len(line) + 1))).encode()
        for _ in range(size // len(block)):
            fh.write(block)
    return path


def test_the_defaults_and_the_settings(monkeypatch):
    assert limits().max_bytes == DEFAULT_MAX_BYTES == 16 * 2**30 and limits().max_ratio == DEFAULT_MAX_RATIO == 100
    monkeypatch.setenv(SIZE_VAR, "1048576")
    monkeypatch.setenv(RATIO_VAR, "12.5")
    assert (limits().max_bytes, limits().max_ratio) == (MB, 12.5)
    for bad in ("lots", "-1", "0", "inf", "nan"):
        monkeypatch.setenv(SIZE_VAR, bad)
        with pytest.raises(ParameterError, match=SIZE_VAR):
            limits()


def test_a_gzip_past_the_size_limit_is_refused_while_streaming(tmp_path, monkeypatch):
    bomb = _zeros_gz(tmp_path / "zeros.csv.gz")
    assert bomb.stat().st_size < MB  # the whole point of a bomb
    monkeypatch.setenv(SIZE_VAR, str(10 * MB))
    monkeypatch.setenv(RATIO_VAR, "1e9")  # only the size limit applies
    with pytest.raises(SourceError) as err:
        check_expansion(bomb)
    assert str(bomb) in str(err.value) and f"past {10 * MB} bytes" in str(err.value) and SIZE_VAR in str(err.value)
    # stopped at the limit, not after reading the 50 MB: at most one decompressed chunk beyond it
    assert 10 * MB < err.value.value <= 10 * MB + CHUNK


def test_a_gzip_past_the_ratio_is_refused_whatever_the_size_limit(tmp_path):
    bomb = _zeros_gz(tmp_path / "zeros.csv.gz")
    ratio = BOMB_BYTES / bomb.stat().st_size
    assert ratio > 10 * DEFAULT_MAX_RATIO  # zeros: about 1000:1
    with pytest.raises(SourceError, match=rf"more than 100 times its {bomb.stat().st_size} bytes") as err:
        check_expansion(bomb)
    assert RATIO_VAR in str(err.value)
    # the ratio is checked from RATIO_FLOOR on: it stops there, not at the end
    assert RATIO_FLOOR < err.value.value <= RATIO_FLOOR + CHUNK


def test_raising_the_ratio_setting_lets_the_same_file_through(tmp_path, monkeypatch):
    bomb = _zeros_gz(tmp_path / "zeros.csv.gz", 20 * MB)
    monkeypatch.setenv(RATIO_VAR, "100000")
    assert check_expansion(bomb) == 20 * MB


def test_a_gzip_trailer_that_lies_about_the_size_changes_nothing(tmp_path, monkeypatch):
    bomb = _zeros_gz(tmp_path / "zeros.gz")
    data = bytearray(bomb.read_bytes())
    data[-4:] = struct.pack("<I", 100)  # ISIZE: "100 bytes"
    bomb.write_bytes(bytes(data))
    monkeypatch.setenv(SIZE_VAR, str(5 * MB))
    with pytest.raises(SourceError, match=f"past {5 * MB} bytes"):
        check_expansion(bomb)
    with pytest.raises(SourceError, match=f"past {5 * MB} bytes"), open_input(bomb, "rt", encoding="utf-8") as fh:
        for _ in fh:  # the Python readers' way: line by line
            pass


def test_a_zip_bomb_is_refused_and_its_directory_is_not_trusted(tmp_path, monkeypatch):
    bomb = tmp_path / "export.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in ("a.csv", "b.csv"):  # two members of 25 MB: the total counts
            archive.writestr(name, bytes(BOMB_BYTES // 2))
    with zipfile.ZipFile(bomb) as archive:
        assert sum(i.file_size for i in archive.infolist()) == BOMB_BYTES
    monkeypatch.setenv(SIZE_VAR, str(30 * MB))
    monkeypatch.setenv(RATIO_VAR, "1e9")
    with pytest.raises(SourceError, match=f"past {30 * MB} bytes") as err:
        check_expansion(bomb)
    assert 30 * MB < err.value.value <= 30 * MB + CHUNK  # into the second member, counted across members
    monkeypatch.delenv(SIZE_VAR)
    monkeypatch.delenv(RATIO_VAR)
    with pytest.raises(SourceError, match="more than 100 times"):
        check_expansion(bomb)


def test_ordinary_compressed_files_pass_with_their_exact_size(tmp_path):
    raw = LITELLM.read_bytes()
    plain = tmp_path / "logs.csv.gz"
    plain.write_bytes(gzip.compress(raw[: len(raw) // 2]) + gzip.compress(raw[len(raw) // 2:]))  # two members
    assert check_expansion(plain) == len(raw)
    with open_input(plain) as fh:
        assert fh.read() == raw
    packed = tmp_path / "logs.zip"
    with zipfile.ZipFile(packed, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("logs.csv", raw)
    assert check_expansion(packed) == len(raw)
    assert check_expansion(LITELLM) == 0  # not compressed: nothing to check


def test_a_broken_gzip_is_a_source_error_naming_the_file(tmp_path):
    broken = tmp_path / "cut.csv.gz"
    broken.write_bytes(gzip.compress(LITELLM.read_bytes())[:-20])
    with pytest.raises(SourceError, match=r"cut\.csv\.gz"):
        check_expansion(broken)


def test_ingest_refuses_the_bomb_and_loads_the_good_files_beside_it(tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    bomb = _csv_bomb(folder / "spend_logs.csv.gz")
    assert read_head(bomb).startswith("request_id,") and detect_format(bomb).name == "litellm_spend_logs"
    for name in ("focus.csv", "openai_costs.json"):
        shutil.copy(DATA / name, folder / name)
    gz_page = folder / "anthropic_cost_report.json.gz"
    gz_page.write_bytes(gzip.compress((DATA / "anthropic_cost_report.json").read_bytes()))
    con = engine.memory()
    try:
        result = ingest([folder], con=con).set_index("path")
        rows = con.con.execute("SELECT count(*) FROM requests WHERE x_SourceFile = ?", [str(bomb)]).fetchone()[0]
    finally:
        con.disconnect()
    failed = result.loc[str(bomb)]
    assert failed.status == "failed" and "decompression bomb" in failed.message and str(bomb) in failed.message
    assert rows == 0
    others = result.drop(index=str(bomb))
    assert list(others.status) == ["loaded"] * 3 and (others.rows_loaded > 0).all()


def test_python_readers_stop_at_the_limit_too(tmp_path, monkeypatch):
    # An OpenAI costs page, gzipped and padded with 30 MB of spaces (valid JSON): refused by the size limit.
    page = (DATA / "openai_costs.json").read_bytes()
    padded = tmp_path / "openai_costs.json.gz"
    with gzip.GzipFile(padded, "wb", mtime=0) as fh:
        fh.write(page[:-1])
        for _ in range(30):
            fh.write(b" " * MB)
        fh.write(page[-1:])
    monkeypatch.setenv(SIZE_VAR, str(8 * MB))
    row = _ingest_one(padded, "openai_costs")
    assert row.status == "failed" and f"past {8 * MB} bytes" in row.message and SIZE_VAR in row.message
    monkeypatch.delenv(SIZE_VAR)  # the default size, but spaces expand about 1000:1: the ratio refuses it
    assert "more than 100 times" in _ingest_one(padded, "openai_costs").message
    monkeypatch.setenv(RATIO_VAR, "1e6")  # allowed: the same page loads, every record
    row = _ingest_one(padded, "openai_costs")
    plain = _ingest_one(DATA / "openai_costs.json", "openai_costs")
    assert row.status == "loaded" and (row.rows_loaded, row.rows_rejected) == (plain.rows_loaded, plain.rows_rejected)


def _ingest_one(path: Path, fmt: str):
    con = engine.memory()
    try:
        return ingest([path], con=con, format=fmt).iloc[0]
    finally:
        con.disconnect()
