"""Readers of many files at once (CUR, Azure cost details, FOCUS) give, per file, what reading it alone gives.

A folder of small parts is read by one typed SELECT per run of files whose columns read alike (planning that SELECT
was most of a small part's load); the tables must end exactly as when every file is read and loaded on its own.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from finops_lib import engine
from finops_lib.sources import SOURCES
from finops_lib.warehouse import grouping, ingest

#: Files of the two formats: alike (two copies of one part under other names, other bytes) and not (other columns,
#: bad rows, MCA names, another cost view): several runs of one SELECT each within one format.
CUR = ("aws_cur2.csv", "aws_cur2_bad_rows.csv")
AZURE = ("azure_cost_details.csv", "azure_cost_details_actual.csv", "azure_cost_details_amortized.csv",
         "azure_cost_details_bad_rows.csv", "azure_cost_details_mca.csv")
FOCUS = ("focus.csv", "focus_1.0_sample.csv", "focus_1.3_aws.csv", "focus_azure.csv", "focus_details.csv")


def _folder(tmp_path: Path, data_dir: Path) -> Path:
    folder = tmp_path / "exports"
    for name in (*CUR, *AZURE, *FOCUS):
        target = folder / name.split("_")[0].split(".")[0] / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir / name, target)
    for n, extra in ((2, "\n"), (3, "\n\n")):  # more parts alike: one SELECT reads them together
        (folder / "aws" / f"aws_cur2_part{n}.csv").write_text((data_dir / "aws_cur2.csv").read_text() + extra)
        (folder / "focus" / f"focus_part{n}.csv").write_text((data_dir / "focus.csv").read_text() + extra)
    return folder


def _tables(con) -> dict[str, list]:
    out = {}
    for table, order in (("costs", "x_SourceFile, x_SourceRow, x_RowHash"), ("rejects", "ALL"),
                         ("ingested_windows", "ALL")):  # fmt: skip
        out[table] = con.con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
    out["files"] = con.con.execute("SELECT x_SourceFile, x_RowsRead, x_RowsLoaded, x_RowsRejected, x_RowsSuperseded "
                                   "FROM ingested_files ORDER BY 1").fetchall()
    return out


def test_a_folder_read_many_files_at_a_time_loads_what_one_at_a_time_loads(tmp_path: Path, data_dir: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _folder(tmp_path, data_dir)
    monkeypatch.setattr(grouping, "GROUP_FILES", 1)  # each file read and loaded alone
    alone = engine.memory()
    one_by_one = ingest([folder], con=alone)
    monkeypatch.setattr(grouping, "GROUP_FILES", 64)
    calls: list[list[str]] = []
    for name in ("aws_cur2", "azure_cost_details", "focus"):
        source = SOURCES[name]
        many = source.read_many

        def counted(paths, con, many=many):
            calls.append([Path(p).name for p in paths])
            return many(paths, con)

        monkeypatch.setitem(SOURCES, name, replace(source, read_many=counted))
    together = engine.memory()
    at_once = ingest([folder], con=together)
    assert sorted(map(len, calls)) == [4, 5, 7]  # each format's files read by one call
    assert at_once.drop(columns="message").equals(one_by_one.drop(columns="message"))
    assert list(at_once.message) == list(one_by_one.message)
    assert _tables(together) == _tables(alone)
    assert int(at_once.rows_rejected.sum()) > 0 and int(at_once.rows_loaded.sum()) > 0  # both kinds were there


@pytest.mark.parametrize(("fmt", "folder"), [("aws_cur2", "aws"), ("azure_cost_details", "azure"),
                                             ("focus", "focus")])
def test_read_many_gives_each_file_its_own_rows_windows_and_rejects(tmp_path: Path, data_dir: Path, fmt: str,
                                                                    folder: str) -> None:  # fmt: skip
    paths = sorted((_folder(tmp_path, data_dir) / folder).iterdir())
    con = engine.memory()
    source = SOURCES[fmt]
    many = source.read_many(paths, con)
    for path, result in zip(paths, many, strict=True):
        single = source.read(path, con)
        assert (result.path, result.format, result.windows, result.notes) == (single.path, single.format,
                                                                              single.windows, single.notes)
        key = ["x_SourceRow", "x_RowHash"]
        assert result.costs.to_pandas().sort_values(key).reset_index(drop=True).equals(
            single.costs.to_pandas().sort_values(key).reset_index(drop=True))
        assert set(result.costs.to_pandas().x_SourceFile) == {str(path)}
        lines = [con.con.execute(f"SELECT DISTINCT line FROM {r.csv_rejects} ORDER BY 1").fetchall()
                 for r in (result, single)]
        assert lines[0] == lines[1]
