"""A big LiteLLM Parquet dump read by Spark's own reader on the workers (issue 19, part 2).

The rows must be the rows the ingest machine reads: every table of the ingest warehouse is compared row for row
(``EXCEPT ALL`` both ways) with DuckDB's ingest of the same file, with the file split over several tasks so that a
row's number cannot come from its task. The records, their line numbers and the rejects are also checked against
values worked out by hand from the file the test writes.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finops_lib import engine, warehouse
from finops_lib.engines.publish import INGEST_FILE
from finops_lib.engines.workers import STAGING

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(shutil.which("java") is None, reason="no Java runtime on PATH"),
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark not installed"),
]

KEY = "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0" * 2  # an OpenAI-shaped key in a tag: masked whichever machine reads it


def _record(i: int, prefix: str = "r") -> dict[str, object]:
    """A good record: request ``<prefix><i>``, 1000 + i prompt tokens of which 100 cache reads, i * 0.001 USD."""
    meta = {"usage_object": {"prompt_tokens_details": {"cached_tokens": 100}},
            "spend_logs_metadata": {"experiment_id": "exp-7", "quality_score": 0.5}}
    return {"request_id": f"{prefix}{i}", "startTime": f"2026-05-{1 + i % 28:02d}T10:00:00Z",
            "endTime": f"2026-05-{1 + i % 28:02d}T10:00:02Z", "model": "gpt-4o-mini-2024-07-18",
            "spend": f"{i * 0.001:.3f}", "prompt_tokens": str(1000 + i), "completion_tokens": "50",
            "call_type": "acompletion", "custom_llm_provider": "openai", "metadata": json.dumps(meta),
            "request_tags": json.dumps([f"team:Team {i % 3}", "app:chat"]), "api_key": f"hk{i % 4}"}


#: What the ledger records of when it read a file: the time, and the file's size and time unless it was written a
#: moment before (``ledger.settled_stat``), which depends on how fast each engine got to it.
WHEN_READ = ("x_IngestedAt", "x_FileSize", "x_FileModifiedNs")
#: Records at these 0-based positions are bad (line = position + 2, as in the CSV dump the table came from).
BAD = {
    3: ("request_id", None),  # missing
    7: ("spend", "abc"),
    11: ("prompt_tokens", "12.5"),
    13: ("startTime", "yesterday"),
    17: ("spend", "-1"),
}
DUPLICATE_OF = {20: 2}  # the same request id and amounts as an earlier record


def _records(n: int, prefix: str) -> list[dict[str, object]]:
    rows = [_record(i, prefix) for i in range(n)]
    for position, (column, value) in BAD.items():
        if position < n:
            rows[position][column] = value
    for position, earlier in DUPLICATE_OF.items():
        if position < n:
            rows[position] = dict(rows[earlier])
    rows[5]["request_tags"] = json.dumps([f"note:{KEY}", "team:Team 2"])
    return rows


def _write_text_dump(path: Path, n: int, *, row_group: int, prefix: str) -> list[dict[str, object]]:
    rows = _records(n, prefix)
    names = list(rows[0])
    table = pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in names})
    pq.write_table(table, path, row_group_size=row_group)
    return rows


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    catalog = tmp_path_factory.mktemp("spark-workers") / "catalog"
    con = engine.connect(f"pyspark://{catalog}")
    # Small splits, so that a file of a few row groups is read by several tasks.
    con._session.conf.set("spark.sql.files.maxPartitionBytes", "4096")
    con._session.conf.set("spark.sql.files.openCostInBytes", "0")
    return con


def _catalog(spark) -> Path:
    return Path(spark._session.conf.get("spark.sql.warehouse.dir").removeprefix("file:"))


def _same_rows(left: Path, right: Path, table: str, path: Path, *, drop: tuple[str, ...] = ()) -> int:
    """Assert two DuckDB warehouses hold the same rows of ``path`` in ``table`` (as multisets); return how many."""
    db = duckdb.connect()
    db.execute(f"ATTACH '{left}' AS l (READ_ONLY)")
    db.execute(f"ATTACH '{right}' AS r (READ_ONLY)")
    exclude = f" EXCLUDE ({', '.join(drop)})" if drop else ""

    def rows(side: str) -> str:
        return f"SELECT *{exclude} FROM {side}.{table} WHERE x_SourceFile = $path"

    try:
        for a, b in (("l", "r"), ("r", "l")):
            extra = db.execute(f"{rows(a)} EXCEPT ALL {rows(b)}", {"path": str(path)}).fetchall()
            assert extra == [], f"{table}: rows only in {a}: {extra[:3]}"
        return db.execute(f"SELECT count(*) FROM ({rows('l')})", {"path": str(path)}).fetchone()[0]
    finally:
        db.close()  # a file left attached here could not be opened again by this process


def test_a_parquet_dump_read_on_the_workers_gives_the_rows_the_ingest_machine_reads(spark, tmp_path, monkeypatch):
    monkeypatch.setenv("FINOPS_SPARK_READ_MIN_BYTES", "0")
    folder = tmp_path / "dumps"
    folder.mkdir()
    dump = folder / "spend_logs.parquet"
    rows = _write_text_dump(dump, 40, row_group=6, prefix="r")
    assert pq.ParquetFile(dump).metadata.num_row_groups == 7

    summary = warehouse.ingest([folder], con=spark).set_index("path").loc[str(dump)]
    assert summary["status"] == "loaded", summary["message"]
    tasks = int(summary["message"].split("(")[1].split()[0])
    assert tasks > 1, summary["message"]  # the rows' numbers cannot come from one task's order
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_rejected"]) == (40, 34, 6)
    assert not (_catalog(spark) / STAGING).exists()

    # By hand: each bad record rejected at its line, naming its column; the duplicate at line 22 names line 4.
    rejects = spark.table("rejects").to_pandas()
    rejects = rejects[rejects["x_SourceFile"] == str(dump)].set_index("x_SourceRow")
    assert sorted(rejects.index) == sorted([p + 2 for p in BAD] + [22])
    for position, (column, _value) in BAD.items():
        assert rejects.loc[position + 2, "x_Column"] == column
    assert rejects.loc[22, "x_Reason"] == "duplicate: same request_id and amounts as line 4 (kept)"
    requests = spark.table("requests").to_pandas()
    requests = requests[requests["x_SourceFile"] == str(dump)].set_index("x_RequestId")
    good = [i for i in range(40) if i not in BAD and i not in DUPLICATE_OF]
    assert sorted(requests["x_SourceRow"]) == [i + 2 for i in good]
    assert Decimal(str(requests["x_ReportedCost"].sum())) == sum((Decimal(f"{i * 0.001:.3f}") for i in good),
                                                                 Decimal(0))
    for i in good:  # prompt tokens = uncached + cache read (100), whichever task read the row
        row = requests.loc[f"r{i}"]
        assert (row["x_InputUncachedTokens"], row["x_InputCacheReadTokens"]) == (900 + i, 100)
    assert requests.loc["r1", "x_Team"] == "Team 1" and requests.loc["r1", "x_ExperimentId"] == "exp-7"
    assert KEY not in requests.loc["r5", "Tags"] and "team:Team 2" in requests.loc["r5", "Tags"]

    # Row for row what DuckDB's ingest of the same file holds (the reader run on the ingest machine).
    duck_file = tmp_path / "duck.duckdb"
    duck = engine.connect(f"duckdb:///{duck_file}")
    local = warehouse.ingest([folder], con=duck).set_index("path").loc[str(dump)]
    assert local["message"] == "" and local["rows_loaded"] == 34
    duck.disconnect()
    ingest = _catalog(spark) / INGEST_FILE
    assert _same_rows(duck_file, ingest, "requests", dump) == 34
    assert _same_rows(duck_file, ingest, "rejects", dump) == 6
    assert _same_rows(duck_file, ingest, "ingested_files", dump, drop=WHEN_READ) == 1
    assert rows[5]["request_tags"].count(KEY) == 1  # the test's own record did hold the key


def test_a_typed_dump_and_an_empty_one_read_on_the_workers(spark, tmp_path, monkeypatch):
    """Timestamps, doubles and integers as Parquet types read to the same rows; a file without rows loads none."""
    monkeypatch.setenv("FINOPS_SPARK_READ_MIN_BYTES", "0")
    folder = tmp_path / "typed"
    folder.mkdir()
    rows = [_record(i, "t") for i in range(12)]
    table = pa.table({
        "request_id": [r["request_id"] for r in rows],
        "startTime": pa.array([pa.scalar(10**15 + i * 3_600_000_000, pa.timestamp("us", "UTC")).value
                               for i in range(12)], pa.timestamp("us", "UTC")),
        "endTime": pa.array([10**15 + i * 3_600_000_000 + 1_250_000 for i in range(12)], pa.timestamp("us")),
        "model": [r["model"] for r in rows],
        "spend": pa.array([i * 0.1 + 0.005 for i in range(12)], pa.float64()),
        "prompt_tokens": pa.array([1000 + i for i in range(12)], pa.int64()),
        "completion_tokens": pa.array([50] * 12, pa.int32()),
        "metadata": [r["metadata"] for r in rows],
        "request_tags": [r["request_tags"] for r in rows],
        # Columns the reader never reads (bulky prompts, an odd name) are left alone.
        "messages": ["[" + "x" * 1000 + "]"] * 12,
        "odd`name": ["?"] * 12,
    })
    pq.write_table(table, folder / "typed.parquet", row_group_size=4)
    pq.write_table(table.slice(0, 0), folder / "none.parquet")

    summary = warehouse.ingest([folder], con=spark).set_index("path")
    typed, empty = summary.loc[str(folder / "typed.parquet")], summary.loc[str(folder / "none.parquet")]
    assert (typed["status"], typed["rows_loaded"], typed["rows_rejected"]) == ("loaded", 12, 0)
    assert "Spark's Parquet reader" in typed["message"]
    assert (empty["status"], empty["rows_read"], empty["rows_loaded"]) == ("loaded", 0, 0)

    duck_file = tmp_path / "duck.duckdb"
    duck = engine.connect(f"duckdb:///{duck_file}")
    warehouse.ingest([folder], con=duck)
    duck.disconnect()
    ingest = _catalog(spark) / INGEST_FILE
    db = duckdb.connect()
    db.execute(f"ATTACH '{ingest}' AS s (READ_ONLY)")
    mine = db.execute("SELECT x_RequestId, ChargePeriodStart, x_LatencyMs, x_ReportedCost FROM s.requests "
                      "WHERE x_SourceFile LIKE '%typed.parquet' ORDER BY x_SourceRow").fetchall()
    db.close()
    assert [m[0] for m in mine] == [f"t{i}" for i in range(12)]
    assert all(m[2] == 1250.0 for m in mine)  # end - start, from a zoned and a plain timestamp
    assert [m[3] for m in mine] == [Decimal(f"{i * 0.1 + 0.005:.12f}") for i in range(12)]
    typed_path = folder / "typed.parquet"
    assert _same_rows(duck_file, ingest, "requests", typed_path) == 12


def test_a_file_under_the_threshold_is_read_on_the_ingest_machine(spark, tmp_path, monkeypatch):
    monkeypatch.setenv("FINOPS_SPARK_READ_MIN_BYTES", str(10 * 2**20))
    folder = tmp_path / "small"
    folder.mkdir()
    _write_text_dump(folder / "spend_logs.parquet", 10, row_group=6, prefix="s")
    summary = warehouse.ingest([folder], con=spark).set_index("path").loc[str(folder / "spend_logs.parquet")]
    assert (summary["status"], summary["rows_loaded"], summary["message"]) == ("loaded", 8, "")


def test_what_spark_cannot_read_is_read_on_the_ingest_machine_and_a_broken_file_fails_alone(spark, tmp_path,
                                                                                          monkeypatch):
    """Nanosecond times (pandas' default) are refused by Spark: read on the ingest machine, saying so. A file whose
    data pages are broken fails by itself; the next file of the folder still loads."""
    monkeypatch.setenv("FINOPS_SPARK_READ_MIN_BYTES", "0")
    folder = tmp_path / "odd"
    folder.mkdir()
    rows = [_record(i, "n") for i in range(6)]
    table = pa.table({**{c: [r[c] for r in rows] for c in rows[0] if c != "startTime"},
                      "startTime": pa.array([10**18 + i * 10**9 for i in range(6)], pa.timestamp("ns", "UTC"))})
    pq.write_table(table, folder / "a_nanos.parquet")
    broken = folder / "b_broken.parquet"
    _write_text_dump(broken, 400, row_group=100, prefix="b")
    data = bytearray(broken.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little") + 8
    for at in range(200, len(data) - footer - 200, 997):  # scribble over the data pages, not the footer
        data[at:at + 64] = b"\xff" * 64
    broken.write_bytes(bytes(data))
    _write_text_dump(folder / "c_good.parquet", 10, row_group=4, prefix="c")

    summary = warehouse.ingest([folder], con=spark).set_index("path")
    nanos, bad, good = (summary.loc[str(folder / n)] for n in ("a_nanos.parquet", "b_broken.parquet",
                                                               "c_good.parquet"))
    assert (nanos["status"], nanos["rows_loaded"]) == ("loaded", 6)
    assert nanos["message"] == ("read on the ingest machine: column 'startTime' holds nanosecond timestamps, "
                                "which Spark's Parquet reader refuses")
    starts = spark.table("requests").filter(lambda t: t.x_SourceFile == str(folder / "a_nanos.parquet")) \
        .order_by("x_SourceRow").to_pandas()["ChargePeriodStart"]
    assert [str(s)[:19] for s in starts] == [f"2001-09-09 01:46:{40 + i}" for i in range(6)]
    assert bad["status"] == "failed" and f'Failed to read file "{broken}"' in bad["message"]
    assert (good["status"], good["rows_loaded"]) == ("loaded", 8)
    assert "Spark's Parquet reader on its workers" in good["message"]
    assert not (_catalog(spark) / STAGING).exists()


def _write_csv_dump(path: Path, n: int, prefix: str, *, crlf: bool = False, final_newline: bool = True,
                    extra: list[str] | None = None) -> list[dict[str, object]]:
    """A CSV dump of ``_records`` (quoted JSON cells, the bad records) with raw ``extra`` lines appended."""
    import csv
    import io

    rows = _records(n, prefix)
    names = list(rows[0])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(names)
    writer.writerows([[r.get(c) if r.get(c) is not None else "" for c in names] for r in rows])
    text = out.getvalue() + "".join(line + ("\r\n" if crlf else "\n") for line in extra or [])
    if not final_newline:
        text = text.rstrip("\r\n")
    path.write_bytes(text.encode())
    return rows


def test_a_csv_dump_read_in_ranges_on_the_workers_gives_the_rows_the_ingest_machine_reads(spark, tmp_path,
                                                                                          monkeypatch):
    """Ranges of lines parsed by the reader's own scan: line numbers, malformed lines and rejects as on one machine."""
    monkeypatch.setenv("FINOPS_SPARK_READ_MIN_BYTES", "0")
    monkeypatch.setenv("FINOPS_SPARK_READ_BLOCK_BYTES", "700")
    folder = tmp_path / "csv"
    folder.mkdir()
    dump = folder / "spend_logs.csv"
    # Two malformed lines at the end: line 42 has too many fields, line 43 too few; line 44 is good.
    good_tail = ",".join(["q44", "2026-05-03T10:00:00Z", "2026-05-03T10:00:01Z", "gpt-4o-mini", "0.5", "10", "5",
                          "acompletion", "openai", "", "[]", "hk9"])
    _write_csv_dump(dump, 40, "q", extra=["too,many," * 10, "q43,2026-05-03T10:00:00Z", good_tail])
    crlf = folder / "spend_logs_crlf.csv"
    _write_csv_dump(crlf, 25, "w", crlf=True, final_newline=False)

    summary = warehouse.ingest([folder], con=spark).set_index("path")
    main, windows = summary.loc[str(dump)], summary.loc[str(crlf)]
    assert main["status"] == "loaded", main["message"]
    assert int(main["message"].split()[2]) > 1, main["message"]  # "read in N ranges of lines ..."
    assert (main["rows_read"], main["rows_loaded"], main["rows_rejected"]) == (43, 35, 8)
    rejects = spark.table("rejects").to_pandas()
    rejects = rejects[rejects["x_SourceFile"] == str(dump)].set_index("x_SourceRow")
    assert sorted(rejects.index) == sorted([p + 2 for p in BAD] + [22, 42, 43])
    assert "too many columns" in rejects.loc[42, "x_Reason"] and "missing columns" in rejects.loc[43, "x_Reason"]
    requests = spark.table("requests").to_pandas()
    rows = requests[requests["x_SourceFile"] == str(dump)].set_index("x_RequestId")
    assert rows.loc["q44", "x_SourceRow"] == 44 and rows.loc["q39", "x_SourceRow"] == 41
    assert (windows["status"], windows["rows_read"], windows["rows_rejected"]) == ("loaded", 25, 6)

    duck_file = tmp_path / "duck.duckdb"
    duck = engine.connect(f"duckdb:///{duck_file}")
    local = warehouse.ingest([folder], con=duck).set_index("path")
    assert list(local["message"]) == ["", ""]
    duck.disconnect()
    ingest = _catalog(spark) / INGEST_FILE
    for path in (dump, crlf):
        _same_rows(duck_file, ingest, "requests", path)
        _same_rows(duck_file, ingest, "rejects", path)
        _same_rows(duck_file, ingest, "ingested_files", path, drop=WHEN_READ)
    assert _same_rows(duck_file, ingest, "rejects", dump) == 8


def test_a_csv_dump_the_workers_cannot_number_is_read_on_the_ingest_machine(spark, tmp_path, monkeypatch):
    """A quoted field spanning lines, a blank line, a gzip file: read on the ingest machine, with DuckDB's rows."""
    import gzip

    monkeypatch.setenv("FINOPS_SPARK_READ_MIN_BYTES", "0")
    monkeypatch.setenv("FINOPS_SPARK_READ_BLOCK_BYTES", "700")
    folder = tmp_path / "odd-csv"
    folder.mkdir()
    spans = folder / "a_spans.csv"
    rows = _write_csv_dump(spans, 12, "m")
    text = spans.read_text()
    assert '"{""usage_object""' in text
    spans.write_text(text.replace('"{""usage_object""', '"{\n""usage_object""', 1))  # a newline in a quoted cell
    blank = folder / "b_blank.csv"
    _write_csv_dump(blank, 12, "k")
    blank.write_text(blank.read_text().replace("\n", "\n\n", 3).replace("\n\n", "\n", 2))
    zipped = folder / "c_zipped.csv.gz"
    _write_csv_dump(tmp_path / "plain.csv", 12, "z")
    zipped.write_bytes(gzip.compress((tmp_path / "plain.csv").read_bytes()))

    summary = warehouse.ingest([folder], con=spark).set_index("path")
    assert summary.loc[str(spans), "message"].startswith("read on the ingest machine: a quoted field spans lines")
    assert summary.loc[str(blank), "message"].startswith("read on the ingest machine: the file holds a blank line")
    assert summary.loc[str(zipped), "message"] == ""
    assert set(summary["status"]) == {"loaded"}

    duck_file = tmp_path / "duck.duckdb"
    duck = engine.connect(f"duckdb:///{duck_file}")
    warehouse.ingest([folder], con=duck)
    duck.disconnect()
    for path in (spans, blank, zipped):
        _same_rows(duck_file, _catalog(spark) / INGEST_FILE, "requests", path)
        _same_rows(duck_file, _catalog(spark) / INGEST_FILE, "rejects", path)
    assert len(rows) == 12


def _jsonl(records: list[dict[str, object]]) -> list[str]:
    """JSON lines of records as LiteLLM's loggers write them (numbers as numbers, metadata and tags as objects)."""
    out = []
    for r in records:
        record = {k: v for k, v in r.items() if v is not None}
        for key in ("metadata", "request_tags"):
            if key in record:
                record[key] = json.loads(record[key])
        for key in ("prompt_tokens", "completion_tokens"):
            if key in record and str(record[key]).isdigit():
                record[key] = int(record[key])
        out.append(json.dumps(record))
    return out


def test_a_json_lines_dump_read_in_ranges_on_the_workers_gives_the_rows_the_ingest_machine_reads(
        spark, tmp_path, monkeypatch):
    """Lines numbered as the whole file numbers them, blank and broken lines included; rejects and rows equal."""
    monkeypatch.setenv("FINOPS_SPARK_READ_MIN_BYTES", "0")
    monkeypatch.setenv("FINOPS_SPARK_READ_BLOCK_BYTES", "900")
    folder = tmp_path / "jsonl"
    folder.mkdir()
    lines = _jsonl(_records(30, "j"))
    lines.insert(10, "")  # a blank line: line 11, no record
    lines.insert(15, "{not json")  # line 16: a line that is not JSON
    lines.insert(20, "42")  # line 21: not an object
    dump = folder / "spend_logs.jsonl"
    dump.write_text("\n".join(lines) + "\n")

    summary = warehouse.ingest([folder], con=spark).set_index("path").loc[str(dump)]
    assert summary["status"] == "loaded", summary["message"]
    assert int(summary["message"].split()[2]) > 1, summary["message"]  # "read in N ranges of lines ..."
    # 32 records (30 + the two broken lines); rejected: 5 bad values, the duplicate, the two broken lines.
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_rejected"]) == (32, 24, 8)
    rejects = spark.table("rejects").to_pandas()
    rejects = rejects[rejects["x_SourceFile"] == str(dump)].set_index("x_SourceRow")
    line_of = {}  # record position -> its line in the file, by hand: the inserted lines are lines 11, 16 and 21
    for position in range(30):
        line = position + 1
        for inserted in (11, 16, 21):
            line += line >= inserted
        line_of[position] = line
    assert line_of[20] == 24 and line_of[2] == 3 and line_of[14] == 17
    assert sorted(rejects.index) == sorted([line_of[p] for p in BAD] + [line_of[20], 16, 21])
    assert rejects.loc[16, "x_SourceLocator"] == "line 16" and "not valid JSON" in rejects.loc[16, "x_Reason"]
    requests = spark.table("requests").to_pandas()
    rows = requests[requests["x_SourceFile"] == str(dump)].set_index("x_RequestId")
    assert rows.loc["j29", "x_SourceRow"] == line_of[29] == 33

    duck_file = tmp_path / "duck.duckdb"
    duck = engine.connect(f"duckdb:///{duck_file}")
    assert warehouse.ingest([folder], con=duck).loc[0, "message"] == ""
    duck.disconnect()
    ingest = _catalog(spark) / INGEST_FILE
    assert _same_rows(duck_file, ingest, "requests", dump) == 24
    assert _same_rows(duck_file, ingest, "rejects", dump) == 8
    _same_rows(duck_file, ingest, "ingested_files", dump, drop=WHEN_READ)


def test_json_lines_whose_whole_file_rules_the_workers_cannot_apply(spark, tmp_path, monkeypatch):
    """A line holding several records: read on the ingest machine. A required field in no record: the file fails
    with the ingest machine's own error."""
    monkeypatch.setenv("FINOPS_SPARK_READ_MIN_BYTES", "0")
    monkeypatch.setenv("FINOPS_SPARK_READ_BLOCK_BYTES", "900")
    folder = tmp_path / "jsonl-odd"
    folder.mkdir()
    lines = _jsonl(_records(12, "o"))
    lines[6] = "[" + lines[6] + ", " + lines[7] + "]"  # two records on line 7
    several = folder / "a_several.jsonl"
    several.write_text("\n".join(lines) + "\n")
    lacking = folder / "b_lacking.jsonl"
    lacking.write_text("\n".join(json.dumps({k: v for k, v in json.loads(line).items() if k != "model"})
                                 for line in _jsonl(_records(12, "p"))[:11] if line.startswith("{")) + "\n")

    summary = warehouse.ingest([folder], con=spark).set_index("path")
    assert summary.loc[str(several), "status"] == "loaded"
    assert summary.loc[str(several), "message"].startswith("read on the ingest machine: a line holds several")
    duck_file = tmp_path / "duck.duckdb"
    duck = engine.connect(f"duckdb:///{duck_file}")
    local = warehouse.ingest([folder], con=duck).set_index("path")
    duck.disconnect()
    assert summary.loc[str(lacking), "status"] == local.loc[str(lacking), "status"] == "failed"
    assert summary.loc[str(lacking), "message"] == local.loc[str(lacking), "message"]
    assert "required LiteLLM field(s) missing in every record: model" in summary.loc[str(lacking), "message"]
    _same_rows(duck_file, _catalog(spark) / INGEST_FILE, "requests", several)
    _same_rows(duck_file, _catalog(spark) / INGEST_FILE, "rejects", several)


# --- A FOCUS export read on the workers: staged as text in ranges, the typed SELECT over the staged rows ----------

FOCUS_TEMPLATE = Path(__file__).parent / "data" / "focus.csv"


def _write_focus(path: Path, n: int) -> tuple[list[str], dict[int, Decimal]]:
    """A FOCUS CSV of ``n`` data lines from the fixture's rows, costs (i + 1) cents; return the odd lines and costs.

    Odd lines (by line number, the header is line 1): 9 an unreadable BilledCost; 17 too many fields; 23 ends
    before ChargeClass (a mandatory column: rejected); 30 ends after SubAccountName (padded: loaded, flagged);
    35 the same as line 34 (an identical charge, kept).
    """
    import csv
    import io

    with FOCUS_TEMPLATE.open(newline="", encoding="utf-8") as fh:
        header, *templates = list(csv.reader(fh))
    cost = header.index("BilledCost")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    costs: dict[int, Decimal] = {}
    previous: list[str] = []
    for i in range(n):
        line = i + 2
        row = list(templates[i % len(templates)])
        amount = Decimal(i + 1) / 100
        for money in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
            row[header.index(money)] = str(amount)
        if line == 9:
            row[cost] = "12,5 EUR"
        if line == 35:
            row, amount = list(previous), costs[34]
        if line == 17:
            row = [*row, "one", "too", "many"]
        if line == 23:
            row = row[:header.index("ChargeClass")]
        if line == 30:
            row = row[:header.index("SubAccountName") + 1]
        writer.writerow(row)
        previous = row
        if line not in (9, 17, 23):
            costs[line] = amount
    path.write_text(out.getvalue(), encoding="utf-8")
    return header, costs


def _read_in_ranges(spark, folder: Path, path: Path, monkeypatch, *, block: int):
    """Ingest ``folder`` on Spark, every file read on the workers in blocks of ``block`` bytes; ``path``'s summary."""
    monkeypatch.setenv("FINOPS_SPARK_READ_MIN_BYTES", "0")
    monkeypatch.setenv("FINOPS_SPARK_READ_BLOCK_BYTES", str(block))
    row = warehouse.ingest([folder], con=spark).set_index("path").loc[str(path)]
    assert row["status"] == "loaded", row["message"]
    assert row["message"].startswith("read in ") and int(row["message"].split()[2]) > 1, row["message"]
    return row


def _as_duckdb_reads(spark, tmp_path: Path, folder: Path, path: Path) -> tuple[int, int]:
    """Ingest ``folder`` with DuckDB; assert ``path``'s costs, rejects, ledger and windows equal the ingest warehouse's.

    Returns the numbers of cost rows and rejects compared.
    """
    duck_file = tmp_path / "duck.duckdb"
    duck = engine.connect(f"duckdb:///{duck_file}")
    assert warehouse.ingest([folder], con=duck).set_index("path").loc[str(path), "message"] == ""
    duck.disconnect()
    ingest = _catalog(spark) / INGEST_FILE
    _same_rows(duck_file, ingest, "ingested_files", path, drop=WHEN_READ)
    _same_rows(duck_file, ingest, "ingested_windows", path)
    return _same_rows(duck_file, ingest, "costs", path), _same_rows(duck_file, ingest, "rejects", path)


def test_a_focus_export_read_in_ranges_on_the_workers_gives_the_rows_the_ingest_machine_reads(spark, tmp_path,
                                                                                              monkeypatch):
    """A FOCUS CSV staged as text on the workers: costs, rejects, line numbers and ledger as DuckDB's ingest gives."""
    folder = tmp_path / "focus"
    folder.mkdir()
    export = folder / "focus_export.csv"
    _header, costs = _write_focus(export, 40)

    row = _read_in_ranges(spark, folder, export, monkeypatch, block=4000)
    assert (row["rows_read"], row["rows_loaded"], row["rows_rejected"]) == (40, 37, 3)
    rejects = spark.table("rejects").to_pandas()
    rejects = rejects[rejects["x_SourceFile"] == str(export)].set_index("x_SourceRow")
    assert sorted(rejects.index) == [9, 17, 23]
    assert rejects.loc[9, "x_Column"] == "BilledCost" and "too many columns" in rejects.loc[17, "x_Reason"]
    assert rejects.loc[23, "x_Column"] == "ChargeClass"
    loaded = spark.table("costs").to_pandas()
    loaded = loaded[loaded["x_SourceFile"] == str(export)].set_index("x_SourceRow")
    assert sorted(loaded.index) == sorted(costs)  # every good line at its own number, past the rejected ones
    assert {line: Decimal(str(v)) for line, v in loaded["BilledCost"].items()} == costs
    # 1 to 40 cents = 8.20, less lines 9, 17 and 23 (8 + 16 + 22 cents), line 35 at line 34's 33 cents, not 34
    assert sum(costs.values()) == Decimal("7.73")
    assert "row_padded" in loaded.loc[30, "x_DataQualityFlags"]
    assert _as_duckdb_reads(spark, tmp_path, folder, export) == (37, 3)


@pytest.mark.parametrize("fixture", ["aws_cur2_bad_rows.csv", "azure_cost_details_bad_rows.csv"])
def test_a_cloud_bill_read_in_ranges_on_the_workers_gives_the_rows_the_ingest_machine_reads(spark, tmp_path,
                                                                                            monkeypatch, fixture):
    """CUR and Azure cost details staged as text on the workers: rows, rejects and lines as DuckDB's ingest gives.

    The fixture's five lines (1st and 5th good, the three between bad: a number, a date, a JSON tag) four times, with
    a line of too many fields after the second time: the line numbers below are worked out from that layout.
    """
    header, *body = (Path(__file__).parent / "data" / fixture).read_text(encoding="utf-8").splitlines()
    lines = [header, *body, *body, ",".join(["x"] * (header.count(",") + 4)), *body, *body]
    folder = tmp_path / fixture.split("_bad")[0]
    folder.mkdir()
    bill = folder / fixture.replace("_bad_rows", "")
    bill.write_text("\n".join(lines) + "\n", encoding="utf-8")
    good = {2, 6, 7, 11, 13, 17, 18, 22}
    bad = set(range(2, 23)) - good

    row = _read_in_ranges(spark, folder, bill, monkeypatch, block=900)
    assert (row["rows_read"], row["rows_loaded"], row["rows_rejected"]) == (21, 8, 13)
    rejects = spark.table("rejects").to_pandas()
    assert set(rejects.loc[rejects["x_SourceFile"] == str(bill), "x_SourceRow"]) == bad
    costs = spark.table("costs").to_pandas()
    assert set(costs.loc[costs["x_SourceFile"] == str(bill), "x_SourceRow"]) == good
    assert _as_duckdb_reads(spark, tmp_path, folder, bill) == (8, 13)


def _write_cur_parquet(path: Path, copies: int, *, row_group: int, old_line: int | None = None,
                       extra: dict[str, pa.Array] | None = None, zoned: bool = True) -> dict[int, Decimal]:
    """Write the CUR 2.0 fixture's nine lines ``copies`` times as Parquet (maps, timestamps, doubles).

    The timestamps are UTC instants, or with ``zoned`` false local times (not adjusted to UTC, as Spark writes
    ``TIMESTAMP_NTZ``).

    Copy ``k`` adds ``k`` cents to each line's unblended cost and suffixes its line item id; the record at
    ``old_line`` (its number: position + 2) is dated 1990, outside the plausible dates. Returns each kept record's
    number and unblended cost, worked out here.
    """
    from tests.test_aws_cur import _csv_rows, _parquet_column

    base = _csv_rows(Path(__file__).parent / "data" / "aws_cur2.csv")
    rows, costs = [], {}
    for k in range(copies):
        for row in base:
            row = {**row, "identity_line_item_id": f"{row['identity_line_item_id']}-{k}",
                   "line_item_unblended_cost": str(Decimal(row["line_item_unblended_cost"]) + Decimal(k) / 100)}
            line = len(rows) + 2
            if line == old_line:
                row["line_item_usage_start_date"] = "1990-03-02T00:00:00Z"
            else:
                costs[line] = Decimal(row["line_item_unblended_cost"])
            rows.append(row)
    table = pa.table({n: _parquet_column(n, [r[n] for r in rows]) for n in base[0]})
    if not zoned:
        table = pa.table({n: c.cast(pa.timestamp("ms")) if pa.types.is_timestamp(c.type) else c
                          for n, c in zip(table.column_names, table.columns, strict=True)})
    for name, values in (extra or {}).items():
        table = table.append_column(name, values)
    pq.write_table(table, path, row_group_size=row_group)
    return costs


@pytest.mark.parametrize("zoned", [True, False])
def test_a_parquet_cur_read_by_spark_on_the_workers_gives_the_rows_the_ingest_machine_reads(spark, tmp_path,
                                                                                          monkeypatch, zoned):
    """A CUR 2.0 Parquet part staged as text by Spark's Parquet reader: rows, numbers, rejects as DuckDB's ingest."""
    monkeypatch.setenv("FINOPS_SPARK_READ_MIN_BYTES", "0")
    folder = tmp_path / "aws"
    folder.mkdir()
    bill = folder / "acme-cur2-00001.snappy.parquet"
    costs = _write_cur_parquet(bill, 5, row_group=8, old_line=25, zoned=zoned)
    assert pq.read_schema(bill).field("line_item_usage_start_date").type.tz == ("UTC" if zoned else None)
    assert pq.ParquetFile(bill).metadata.num_row_groups == 6

    row = warehouse.ingest([folder], con=spark).set_index("path").loc[str(bill)]
    assert row["status"] == "loaded", row["message"]
    assert row["message"].startswith("read by Spark's Parquet reader in "), row["message"]
    assert int(row["message"].split(" in ")[1].split()[0]) > 1, row["message"]  # numbers not from one task's order
    assert (row["rows_read"], row["rows_loaded"], row["rows_rejected"]) == (45, 44, 1)
    rejects = spark.table("rejects").to_pandas()
    rejects = rejects[rejects["x_SourceFile"] == str(bill)]
    assert rejects[["x_SourceRow", "x_Column"]].values.tolist() == [[25, "ChargePeriodStart"]]
    assert "1990-03-02" in rejects["x_Value"].iloc[0]
    loaded = spark.table("costs").to_pandas()
    loaded = loaded[loaded["x_SourceFile"] == str(bill)].set_index("x_SourceRow")
    assert {line: Decimal(str(v)) for line, v in loaded["BilledCost"].items()} == costs
    # The fixture's nine costs sum to 2.1596; five copies, the k-th k cents more a line (9 x 10 cents in all), less
    # line 25 (record 23 from 0: copy 2's sixth line, li-006's 0.10 + 0.02).
    assert sum(costs.values()) == 5 * Decimal("2.1596") + 9 * Decimal("0.10") - Decimal("0.12")
    tagged = loaded[loaded["Tags"].notna() & loaded["Tags"].str.contains("team", na=False)]
    assert len(tagged) > 0  # the map columns came through as the JSON the ingest machine makes of them
    assert _as_duckdb_reads(spark, tmp_path, folder, bill) == (44, 1)


@pytest.mark.parametrize(("extra", "why"), [
    ({"x_counter": pa.array(range(18), pa.uint32())}, "reads as BIGINT on Spark but UINTEGER here"),
    ({"x_seen": pa.array([0] * 18, pa.timestamp("ns"))}, "nanosecond timestamps"),
])
def test_a_parquet_bill_spark_reads_otherwise_is_read_on_the_ingest_machine(spark, tmp_path, monkeypatch, extra,
                                                                            why):
    """A column Spark would read as another type (so other text) or not at all: the ingest machine reads the file."""
    monkeypatch.setenv("FINOPS_SPARK_READ_MIN_BYTES", "0")
    folder = tmp_path / "aws"
    folder.mkdir()
    bill = folder / "acme-cur2-00001.snappy.parquet"
    _write_cur_parquet(bill, 2, row_group=8, extra=extra)
    row = warehouse.ingest([folder], con=spark).set_index("path").loc[str(bill)]
    assert row["status"] == "loaded" and row["message"].startswith("read on the ingest machine: "), row["message"]
    assert why in row["message"]
    assert (row["rows_read"], row["rows_loaded"], row["rows_rejected"]) == (18, 18, 0)
    assert _as_duckdb_reads(spark, tmp_path, folder, bill) == (18, 0)


def test_a_parquet_focus_export_read_by_spark_on_the_workers_gives_the_rows_the_ingest_machine_reads(
        spark, tmp_path, monkeypatch):
    """A typed FOCUS Parquet export (decimals, UTC instants, a map of tags) staged as text on the workers."""
    monkeypatch.setenv("FINOPS_SPARK_READ_MIN_BYTES", "0")
    folder = tmp_path / "focus"
    folder.mkdir()
    export = folder / "focus_export.parquet"
    fixture = Path(__file__).parent / "data" / "focus.csv"
    # The fixture's four charges ten times, the k-th with k cents more a charge and its own resource; record 17
    # from 0 (line 19) dated 1990.
    db = duckdb.connect()
    db.execute(f"""COPY (SELECT * REPLACE (
            (BilledCost::DECIMAL(18, 6) + k / 100)::DECIMAL(18, 6) AS BilledCost,
            CASE WHEN n = 17 THEN TIMESTAMPTZ '1990-05-01 00:00:00+00' ELSE ChargePeriodStart::TIMESTAMPTZ END
                AS ChargePeriodStart,
            ChargePeriodEnd::TIMESTAMPTZ AS ChargePeriodEnd, BillingPeriodStart::TIMESTAMPTZ AS BillingPeriodStart,
            BillingPeriodEnd::TIMESTAMPTZ AS BillingPeriodEnd, EffectiveCost::DECIMAL(18, 6) AS EffectiveCost,
            CAST(Tags::JSON AS MAP(VARCHAR, VARCHAR)) AS Tags, ResourceId || '-' || k AS ResourceId)
        FROM (SELECT f.*, r.range AS k, row_number() OVER (ORDER BY r.range, f.i) - 1 AS n
              FROM (SELECT *, row_number() OVER () AS i FROM read_csv('{fixture}', all_varchar = true)) f,
                   range(10) r)
        ORDER BY n) TO '{tmp_path / "typed.parquet"}' (FORMAT parquet)""")
    db.close()
    typed = pq.read_table(tmp_path / "typed.parquet").drop_columns(["k", "n", "i"])
    pq.write_table(typed, export, row_group_size=6)
    assert pq.ParquetFile(export).metadata.num_row_groups == 7
    assert pq.read_schema(export).field("Tags").type == pa.map_(pa.string(), pa.string())

    row = warehouse.ingest([folder], con=spark).set_index("path").loc[str(export)]
    assert row["status"] == "loaded", row["message"]
    assert row["message"].startswith("read by Spark's Parquet reader in "), row["message"]
    assert (row["rows_read"], row["rows_loaded"], row["rows_rejected"]) == (40, 39, 1)
    rejects = spark.table("rejects").to_pandas()
    assert rejects.loc[rejects["x_SourceFile"] == str(export), "x_SourceRow"].tolist() == [19]
    loaded = spark.table("costs").to_pandas()
    loaded = loaded[loaded["x_SourceFile"] == str(export)]
    # Each copy k holds the fixture's four charges k cents more each; line 19 is copy 4's second charge.
    base = [Decimal(r["BilledCost"]) for r in csv.DictReader(fixture.open(encoding="utf-8"))]
    expected = {(k, i): cost + Decimal(k) / 100 for k in range(10) for i, cost in enumerate(base)}
    del expected[(4, 1)]
    assert sum(Decimal(str(v)) for v in loaded["BilledCost"]) == sum(expected.values())
    assert sum(expected.values()) == Decimal("82.532")  # 10 x 8.3772 + 4 x 45 cents - 3.04
    assert loaded["x_Team"].eq("search").sum() > 0  # the map of tags came through as the JSON the machine makes
    assert _as_duckdb_reads(spark, tmp_path, folder, export) == (39, 1)
