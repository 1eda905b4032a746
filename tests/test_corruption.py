"""Every source format survives corrupt input: only the project's own errors, and nothing lost.

Each registered format ships one small valid fixture, ``tests/data/<format>.<ext>``. Hypothesis corrupts it
(truncation, a value of the wrong type, a dropped column or key, latin-1 bytes, a duplicated header or header
name) and the file is ingested with its format forced; a zip of CSV parts (Pinecone's FOCUS export,
``source_cases.VARIANTS``) has one part corrupted, its manifest's row counts rewritten to match or left as they
were. The load must either fail as a whole with a
:class:`~finops_lib.errors.SourceError` naming the file (status ``failed``), or account for every record
(read = loaded + rejected, which ``ingest`` itself also enforces by raising). Any other exception is a bug.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops_lib import engine
from finops_lib.sources import SOURCES, detect_format
from finops_lib.warehouse.ingestion import ingest
from tests.sources.source_cases import VARIANTS, format_of, rezip, zip_members, zip_parts

DATA = Path(__file__).parent / "data"
#: Formats registered at run time (user mappings, test formats) have no committed fixture.
RUNTIME_PREFIXES = ("test_",)


def _fixture(fmt: str) -> Path | None:
    if fmt in VARIANTS:
        return DATA / VARIANTS[fmt]
    for path in sorted(DATA.iterdir()):
        if path.is_file() and path.name.split(".", 1)[0] == fmt.replace(":", "_"):
            return path
    return None


FORMATS = sorted(f for f in SOURCES if not f.startswith(RUNTIME_PREFIXES))
#: Each format's fixture, and the inputs a format reads besides it (``focus+pinecone``: a zip of FOCUS CSV parts).
CASES = [*FORMATS, *sorted(VARIANTS)]


def test_every_registered_format_has_a_valid_fixture_that_loads_clean():
    missing = [f for f in FORMATS if _fixture(f) is None]
    assert not missing, f"no tests/data/<format>.* fixture for: {missing}"
    for case in CASES:
        path, fmt = _fixture(case), format_of(case)
        assert detect_format(path).name == fmt, f"{path.name} is not detected as {fmt}"
        con = engine.memory()
        result = ingest([path], con=con).iloc[0]
        assert result.status == "loaded", (fmt, result.message)
        assert result.rows_read == result.rows_loaded + result.rows_rejected > 0


# --- corruptions -------------------------------------------------------------------------------------------------

def _raw(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def _truncate(data: bytes, draw) -> bytes:
    return data[: draw(st.integers(0, max(len(data) - 2, 0)))]


def _wrong_type(data: bytes, draw) -> bytes:
    numbers = list(re.finditer(rb"-?\d+(\.\d+)?", data))
    if not numbers:
        return data + b"x"
    m = draw(st.sampled_from(numbers))
    junk = draw(st.sampled_from([b"abc", b"", b"1e999", b"-1", b"NaN", b"true", b"null", b'"', b"1,5",
                                 b"99999999999999999999999"]))
    return data[: m.start()] + junk + data[m.end():]


def _latin1(data: bytes, draw) -> bytes:
    at = draw(st.integers(0, len(data)))
    return data[:at] + "Zürich café €".encode("latin-1", errors="replace") + b"\xff\xfe" + data[at:]


def _drop_column(data: bytes, draw) -> bytes:
    text = data.decode("utf-8", errors="replace")
    if text.lstrip().startswith(("{", "[")):
        keys = sorted(set(re.findall(r'"([A-Za-z_][\w.]*)"\s*:', text)))
        if not keys:
            return data
        key = draw(st.sampled_from(keys))
        # Drop every "key": value pair of that key (scalar values only; nested ones lose their key name).
        pair = rf'"{re.escape(key)}"\s*:\s*("[^"]*"|[-\w.]+)'
        return re.sub(pair + r"\s*,?\s*", "", re.sub(r",\s*" + pair, "", text)).encode()
    lines = text.split("\n")
    head = lines[0].split(",")
    if len(head) < 2:
        return data
    i = draw(st.integers(0, len(head) - 1))
    everywhere = draw(st.booleans())
    out = [",".join(head[:i] + head[i + 1:])]
    for line in lines[1:]:
        cells = line.split(",")
        out.append(",".join(cells[:i] + cells[i + 1:]) if everywhere and len(cells) > i else line)
    return "\n".join(out).encode()


def _duplicate_header(data: bytes, draw) -> bytes:
    text = data.decode("utf-8", errors="replace")
    if text.lstrip().startswith(("{", "[")):
        # Repeat a key inside an object: JSON parsers keep the last value.
        m = re.search(r'"([A-Za-z_][\w.]*)"\s*:\s*("[^"]*"|[-\w.]+)', text)
        return data if m is None else (text[: m.end()] + f', "{m.group(1)}": "dup"' + text[m.end():]).encode()
    lines = text.split("\n")
    if draw(st.booleans()):
        return "\n".join([lines[0], *lines]).encode()  # the header line twice
    head = lines[0].split(",")
    head[-1] = head[0]  # a header naming one column twice
    return "\n".join([",".join(head), *lines[1:]]).encode()


TEXT_CORRUPTIONS = {"truncate": _truncate, "wrong_type": _wrong_type, "latin1": _latin1,
                    "drop_column": _drop_column, "duplicate_header": _duplicate_header}


def _corrupt_parquet(path: Path, kind: str, draw) -> bytes:
    table = pq.read_table(path)
    if kind == "truncate":
        return _truncate(path.read_bytes(), draw)
    if kind == "drop_column" and table.num_columns > 1:
        table = table.remove_column(draw(st.integers(0, table.num_columns - 1)))
    elif kind == "wrong_type":
        i = draw(st.integers(0, table.num_columns - 1))
        column = pa.array([draw(st.sampled_from(["abc", "", "-1", "1e999"])) for _ in range(table.num_rows)])
        table = table.set_column(i, table.schema.field(i).name, column)
    elif kind == "duplicate_header":
        table = pa.Table.from_arrays([*table.columns, table.column(0)],
                                     names=[*table.column_names, table.column_names[0]])
    else:  # latin-1 bytes inside a string value
        strings = [i for i, f in enumerate(table.schema) if pa.types.is_string(f.type)]
        if strings:
            i = strings[0]
            values = table.column(i).to_pylist()
            values[0] = "Zürich\udcff" .encode("utf-8", errors="surrogateescape").decode("latin-1")
            table = table.set_column(i, table.schema.field(i).name, pa.array(values, pa.string()))
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _corrupt_zip(path: Path, kind: str, draw) -> bytes:
    """Corrupt one CSV part of a zip of parts; its manifest's row counts rewritten to match, or left as they were."""
    data = path.read_bytes()
    name = draw(st.sampled_from(zip_parts(data)))
    corrupt = TEXT_CORRUPTIONS[kind](zip_members(data)[name], draw)
    return rezip(data, {name: corrupt}, recount=draw(st.booleans()))


@pytest.mark.parametrize("fmt", CASES)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), kind=st.sampled_from(sorted(TEXT_CORRUPTIONS)))
def test_corrupt_input_raises_only_own_errors_and_loses_nothing(fmt, data, kind, tmp_path_factory):
    source = _fixture(fmt)
    if source is None:
        pytest.skip(f"no fixture for {fmt}")
    if source.suffix == ".zip":
        corrupt = _corrupt_zip(source, kind, data.draw)
    elif source.suffix == ".parquet":
        corrupt = _corrupt_parquet(source, kind, data.draw)
    else:
        corrupt = TEXT_CORRUPTIONS[kind](_raw(source), data.draw)
        if source.suffix == ".gz":
            corrupt = gzip.compress(corrupt, mtime=0)
    target = tmp_path_factory.mktemp("corrupt") / source.name
    target.write_bytes(corrupt)
    detect_format(target)  # detection never raises
    con = engine.memory()
    try:
        result = ingest([target], con=con, format=format_of(fmt)).iloc[0]
    finally:
        con.disconnect()
    if result.status == "failed":
        assert str(target) in result.message or target.name in result.message, result.message
    else:
        assert result.status == "loaded"
        assert result.rows_read == result.rows_loaded + result.rows_rejected


def test_fixture_corruptions_actually_change_the_files():
    # Guard against a corruption that silently does nothing (the property above would then test nothing).
    sample = b"a,b,c\n1,2,3\n4,5,6\n"

    @given(data=st.data())
    @settings(max_examples=30, deadline=None)
    def check(data):
        for corrupt in TEXT_CORRUPTIONS.values():
            assert corrupt(sample, data.draw) != sample
        assert json.loads(_drop_column(b'{"a": 1, "b": "x"}', data.draw).decode()) in ({"b": "x"}, {"a": 1})

    check()
