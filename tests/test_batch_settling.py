"""A batch of new files that restate nothing is settled without asking the deliveries file by file.

:func:`finops_lib.warehouse.delivery.restates_nothing` must answer True only when no statement of
:func:`~finops_lib.warehouse.delivery.supersede` or :func:`~finops_lib.warehouse.delivery.replace_older` could remove
a row; each way a row can be restated (a shared natural key, a batch file's window, a recorded window) is tried here
alone, and the sample folder loads to the same tables whether its batches take the short way or the long one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finops_lib import engine
from finops_lib.sources import Window
from finops_lib.warehouse import delivery, ingest
from finops_lib.warehouse.ingestion import ensure_tables

FMT = "focus"
MAY = Window(datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC), (("BillingAccountId", "A"),))
JUNE = Window(datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC), (("BillingAccountId", "A"),))


def _row(con, file: str, key: str, day: str, account: str = "A", fmt: str = FMT) -> None:
    con.con.execute("INSERT INTO costs (x_SourceFile, x_SourceFormat, x_SourceRow, x_RowHash, ChargePeriodStart, "
                    "BillingAccountId) VALUES (?, ?, 1, ?, ?::TIMESTAMPTZ, ?)",
                    [file, fmt, key, f"{day} 00:00:00+00", account])


def _recorded(con, file: str, window: Window, fmt: str = FMT) -> None:
    con.con.execute("INSERT INTO ingested_windows VALUES (?, ?, ?, ?, ?, ?)",
                    [file, fmt, window.column, window.start, window.end, json.dumps(dict(window.scope))])


@pytest.fixture
def batch():
    """Two new files, May and June of account A, with their rows inserted and nothing else held."""
    con = engine.memory()
    ensure_tables(con)
    _row(con, "may.csv", "k1", "2026-05-03")
    _row(con, "june.csv", "k2", "2026-06-03")
    return con, {"may.csv": (MAY,), "june.csv": (JUNE,)}


def test_files_of_their_own_windows_and_keys_restate_nothing(batch) -> None:
    con, windows = batch
    assert delivery.restates_nothing(con, "costs", FMT, windows) is True


def test_a_natural_key_shared_with_any_other_file_restates(batch) -> None:
    con, windows = batch
    _row(con, "held.csv", "k1", "2024-01-01", account="Z", fmt="aws_cur2")  # another format, out of every window
    assert delivery.restates_nothing(con, "costs", FMT, windows) is False


def test_a_key_repeated_within_one_file_restates_nothing(batch) -> None:
    con, windows = batch
    _row(con, "may.csv", "k1", "2026-05-04")
    assert delivery.restates_nothing(con, "costs", FMT, windows) is True


@pytest.mark.parametrize(("file", "day", "account", "fmt", "restated"), [
    ("held.csv", "2026-05-20", "A", FMT, True),  # an earlier file's row in may.csv's window
    ("june.csv", "2026-05-20", "A", FMT, True),  # another batch file's row in it
    ("held.csv", "2026-05-20", "B", FMT, False),  # another account: out of the window's scope
    ("held.csv", "2026-05-20", "A", "aws_cur2", False),  # another format: windows restate their own format only
    ("held.csv", "2026-06-01", "B", FMT, False),
    ("may.csv", "2026-05-31", "A", FMT, False),  # the file's own row
])
def test_a_batch_file_window_restates_the_rows_of_other_files_of_its_format_and_scope(
        batch, file, day, account, fmt, restated) -> None:
    con, windows = batch
    _row(con, file, f"own-{file}-{day}", day, account=account, fmt=fmt)
    assert delivery.restates_nothing(con, "costs", FMT, windows) is (not restated)


@pytest.mark.parametrize(("window", "fmt", "restated"), [
    (Window(datetime(2026, 6, 3, tzinfo=UTC), datetime(2026, 6, 4, tzinfo=UTC), (("BillingAccountId", "A"),)),
     FMT, True),  # holds june.csv's row
    (Window(datetime(2026, 6, 3, tzinfo=UTC), datetime(2026, 6, 4, tzinfo=UTC), (("BillingAccountId", "B"),)),
     FMT, False),
    (Window(datetime(2026, 6, 3, tzinfo=UTC), datetime(2026, 6, 4, tzinfo=UTC), (("BillingAccountId", "A"),)),
     "aws_cur2", False),
    (Window(datetime(2026, 6, 3, tzinfo=UTC), datetime(2026, 6, 3, tzinfo=UTC), ()), FMT, False),  # names parts only
])
def test_a_window_recorded_by_an_ingested_file_restates_batch_rows_in_it(batch, window, fmt, restated) -> None:
    con, windows = batch
    _recorded(con, "held.csv", window, fmt=fmt)
    assert delivery.restates_nothing(con, "costs", FMT, windows) is (not restated)


def test_too_many_windows_to_test_at_once_are_settled_the_long_way(batch, monkeypatch) -> None:
    con, windows = batch
    monkeypatch.setattr(delivery, "MAX_BATCH_WINDOWS", 1)
    assert delivery.restates_nothing(con, "costs", FMT, windows) is False


def _tables(con) -> dict[str, list]:
    out = {table: con.con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
           for table in ("costs", "requests", "rejects", "ingested_windows")}  # fmt: skip
    out["files"] = con.con.execute("SELECT * EXCLUDE (x_IngestedAt) FROM ingested_files ORDER BY ALL").fetchall()
    return out


def test_the_sample_folder_loads_the_same_tables_settled_either_way(monkeypatch) -> None:
    folder = Path(__file__).resolve().parents[1] / "data" / "sample"
    answers: list[bool] = []
    asked = delivery.restates_nothing

    def spied(*args, **kwargs) -> bool:
        answers.append(asked(*args, **kwargs))
        return answers[-1]

    monkeypatch.setattr(delivery, "restates_nothing", spied)
    short = engine.memory()
    short_way = ingest([folder], con=short)
    assert len(answers) >= 6 and all(answers)  # its batches restate nothing: every one took the short way
    monkeypatch.setattr(delivery, "restates_nothing", lambda *args, **kwargs: False)
    long = engine.memory()
    long_way = ingest([folder], con=long)
    assert short_way.drop(columns="message").equals(long_way.drop(columns="message"))
    assert _tables(short) == _tables(long)
    assert int(short_way.rows_loaded.sum()) > 10_000
