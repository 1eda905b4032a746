"""Golden files for the SQL the engine-side readers build (``tests/sources/golden/*.sql``).

Two kinds of golden, each rendered for a fixed input so that any change of a reader's SQL shows up as a
diff to review:

* ``<format>.select.sql``: the one SELECT a reader builds from the raw file to schema rows
  (``litellm._select_sql``, ``_focus_sql.select_sql``, ``aws_cur._select_sql``, ``azure_costs._select_sql``,
  ``mapped.select_sql``; ``_focus_zip.rows_sql`` and ``rejects_sql``: a zip's parts as one file), rendered
  with a fake path (``/data/x.csv``), fixed relation names, and the column names of the format's fixture header;
  ``csv_read.sql`` is the engine's CSV scan
  (``_csv.read_csv_sql``) of the LiteLLM header.
* ``<format>.statements.sql``: every statement the reader itself sends to DuckDB while reading its fixture
  (staging, lookups, windows, cost view...), in order; the SELECT of the first kind appears there as a
  ``/* ... */`` reference, and the fixture path, temporary files and random table ids are normalized.

To regenerate after an intended change::

    FINOPS_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/sources -p no:cacheprovider

Each rewritten golden still fails its test, saying which file to review (``git diff --word-diff``), so a
regeneration is never silent; run again without the variable to see them pass.
"""

from __future__ import annotations

import csv
import difflib
import re
import sys
import tempfile
import types
import uuid
from collections.abc import Callable
from pathlib import Path

import golden_util as golden
import pytest
from source_cases import fixture_path

import finops_lib.sources as sources_pkg
from finops_lib import engine
from finops_lib.sources import SOURCES, _csv, aws_cur, azure_costs, focus, litellm, mapped
from finops_lib.sources._common import DATE_WINDOW_VAR
from finops_lib.sources._focus_sql import select_sql as focus_select_sql
from finops_lib.sources._focus_zip import Part, rejects_sql, rows_sql
from finops_lib.sources._sql import ident

GOLDEN = Path(__file__).parent / "golden"
UPDATE_VAR = golden.UPDATE_VAR
FAKE_PATH = "/data/x.csv"
#: Fixed relation names the SELECTs read from (in a real read: the staged or scanned file).
RAW, STAGED, METERS, UNITS = "raw_text_rows", "staged_rows", "meter_lookup", "unit_lookup"


# --- comparing with a golden file -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fixed_date_window(monkeypatch):
    # The plausible window defaults to today + 10 years; the goldens are written with a fixed one.
    monkeypatch.setenv(DATE_WINDOW_VAR, "2000-01-01:2036-12-31")


def check_golden(name: str, sql: str, *, folder: Path = GOLDEN, update: bool | None = None) -> None:
    """Compare ``sql`` with ``folder/<name>.sql`` (see :func:`golden_util.check_golden`)."""
    text = f"-- Golden SQL ({name}), rendered by tests/sources/test_reader_sql.py: do not edit by hand.\n" \
           f"-- Regenerate: {UPDATE_VAR}=1 pytest tests/sources\n{sql.strip()}\n"
    golden.check_golden(folder / f"{name}.sql", text, what=f"the SQL of {name}", update=update, changes=_changes,
                        regenerate=f"{UPDATE_VAR}=1 pytest tests/sources")  # fmt: skip


def _changes(old: str, new: str, *, width: int = 160, limit: int = 12) -> str:
    """Changed lines of two texts, each cut to the neighbourhood of its first changed character (lines are long)."""
    out = []
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        before, after = matcher.a[i1:i2], matcher.b[j1:j2]
        for k in range(max(len(before), len(after))):
            a, b = (before[k] if k < len(before) else ""), (after[k] if k < len(after) else "")
            at = next((n for n, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            start = max(at - width // 4, 0)
            dots = "..." if start else ""
            out += [f"line {i1 + k + 1}:", f"- {dots}{a[start:start + width]}", f"+ {dots}{b[start:start + width]}"]
    return "\n".join(out[: 3 * limit])


def test_a_changed_select_shows_the_changed_line_near_its_first_difference(tmp_path):
    long = "SELECT a, " + "x, " * 100
    with pytest.raises(pytest.fail.Exception, match="created"):
        check_golden("q", long + "1", update=True, folder=tmp_path)
    assert (tmp_path / "q.sql").read_text().startswith("-- Golden SQL (q)")
    check_golden("q", long + "1", update=False, folder=tmp_path)
    # the SQL is line 3 of the file (after the two header lines); the line is cut 40 characters before the change
    expected = r"(?s)the SQL of q changed.*line 3:\n- \.\.\. (x, ){13}1\n\+ \.\.\. (x, ){13}2$"
    with pytest.raises(pytest.fail.Exception, match=expected):
        check_golden("q", long + "2", update=False, folder=tmp_path)


# --- 1. the SELECT each reader builds, for a fixed input ------------------------------------------------------


def _header(fmt: str) -> list[str]:
    """Column names of the format's fixture header (stdlib csv)."""
    with fixture_path(fmt).open(encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh))


def _csv_read() -> str:
    names = _header("litellm_spend_logs")
    fixed_ids = types.SimpleNamespace(uuid4=lambda: uuid.UUID(int=0))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_csv, "header", lambda path: names)
        mp.setattr(_csv, "uuid", fixed_ids)
        sql, _, _ = _csv.read_csv_sql(Path(FAKE_PATH))
    return sql


def _litellm() -> str:
    return litellm._select_sql(RAW, set(_header("litellm_spend_logs")), FAKE_PATH)


def _focus() -> str:
    return focus_select_sql(STAGED, _header("focus"), METERS, "focus")


#: Two CSV parts of a zip (Pinecone's cost-usage export): the second lacks a column and has two malformed lines.
ZIP_PARTS = [Part("part-1-of-2.csv", "staged_part_1", ["BilledCost", "x_Plan"], 0, (), None, 3),
             Part("part-2-of-2.csv", "staged_part_2", ["BilledCost"], 3, (4, 7), "csv_rejects_2", 5)]


def _aws(fmt: str) -> str:
    _, labels = aws_cur._raw_select(RAW, {n: ident(n) for n in _header(fmt)}, Path(FAKE_PATH))
    return aws_cur._select_sql(STAGED, labels, (METERS, UNITS), fmt)


def _azure() -> str:
    _, labels = azure_costs._raw_select(RAW, {n: ident(n) for n in _header("azure_cost_details")}, Path(FAKE_PATH))
    # As the fixture is read: MM/dd/yyyy dates, pay-as-you-go rows only (cost view "undetermined").
    parsed = azure_costs._parsed_sql(STAGED, True, labels)
    return azure_costs._select_sql(parsed, (METERS, UNITS), ("undetermined", "actual"), labels, True)


def _mapped(fmt: str) -> str:
    return mapped.select_sql(mapped.MAPPINGS[fmt], RAW, set(_header(fmt)), Path(FAKE_PATH))


def _golden_name(fmt: str) -> str:
    return fmt.replace(":", "_")


#: The mappings shipped in ``finops_lib/sources/mappings/`` (not those a test or ``$FINOPS_MAPPINGS`` adds).
SHIPPED_MAPPINGS = sorted(f for f, m in mapped.MAPPINGS.items() if m.path.parent.resolve() == mapped.MAPPINGS_DIR)


#: Golden name -> renderer of the SQL text.
SELECTS: dict[str, Callable[[], str]] = {
    "csv_read": _csv_read,
    "litellm_spend_logs.select": _litellm,
    "focus.select": _focus,
    "focus_zip.rows": lambda: rows_sql(ZIP_PARTS, ["BilledCost", "x_Plan"]),
    "focus_zip.rejects": lambda: rejects_sql(ZIP_PARTS, Path(FAKE_PATH), "focus"),
    "aws_cur2.select": lambda: _aws("aws_cur2"),
    "aws_cur_legacy.select": lambda: _aws("aws_cur_legacy"),
    "azure_cost_details.select": _azure,
    "window_mark": lambda: "SELECT " + sources_pkg.window_mark_sql(ident("ChargePeriodStart"),
                                                                    ident("x_DataQualityFlags")),
    **{f"{_golden_name(f)}.select": (lambda f=f: _mapped(f)) for f in SHIPPED_MAPPINGS},
}


@pytest.mark.parametrize("name", sorted(SELECTS))
def test_reader_select_matches_its_golden(name):
    check_golden(name, SELECTS[name]())


def _sql_builders() -> set[str]:
    """Every function of ``finops_lib.sources`` with ``sql`` in its name, as ``module.function``."""
    found = set()
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if name == sources_pkg.__name__ or name.startswith(sources_pkg.__name__ + "."):
            for attr, value in vars(module).items():
                if isinstance(value, types.FunctionType) and value.__module__ == name and "sql" in attr.lower():
                    found.add(f"{name.rsplit('.', 1)[-1]}.{attr}")
    return found


def test_every_sql_builder_of_the_readers_is_in_a_golden():
    called: set[str] = set()

    def profile(frame, event, arg):
        if event == "call":
            module = frame.f_globals.get("__name__", "")
            inside = module == sources_pkg.__name__ or module.startswith(sources_pkg.__name__ + ".")
            if inside and "sql" in frame.f_code.co_name.lower():
                called.add(f"{module.rsplit('.', 1)[-1]}.{frame.f_code.co_name}")

    sys.setprofile(profile)
    try:
        for render in SELECTS.values():
            render()
    finally:
        sys.setprofile(None)
    missing = _sql_builders() - called
    assert missing == set(), f"SQL builders no golden renders; add a case to SELECTS: {sorted(missing)}"


# --- 2. every statement a reader sends to the engine ----------------------------------------------------------

#: Engine-side formats -> (module, name) of the SELECT builder their reader calls (shown as a reference).
BUILDERS: dict[str, tuple[types.ModuleType, str, str]] = {
    "litellm_spend_logs": (litellm, "_select_sql", "litellm_spend_logs.select"),
    "focus": (focus, "select_sql", "focus.select"),
    "aws_cur2": (aws_cur, "_select_sql", "aws_cur2.select"),
    "aws_cur_legacy": (aws_cur, "_select_sql", "aws_cur_legacy.select"),
    "azure_cost_details": (azure_costs, "_select_sql", "azure_cost_details.select"),
    **{f: (mapped, "select_sql", f"{_golden_name(f)}.select") for f in SHIPPED_MAPPINGS},
}
#: Staging folders: the scratch folder's (``engine.stage_folder``) and the system temporary folder's.
_TEMP = re.compile(f"{re.escape(str(engine.scratch_dir()))}/finops-stage-[^/']+"
                   f"|{re.escape(tempfile.gettempdir())}/finops_[a-z]+_[^/']+")
_RANDOM_ID = re.compile(r"(?<=_)[0-9a-f]{12}(?![0-9A-Za-z])")


def _numbered(pattern: re.Pattern[str], label: str, texts: list[str]) -> list[str]:
    """Replace each distinct match of ``pattern`` by ``<label1>``, ``<label2>``... in order of appearance."""
    seen: dict[str, str] = {}

    def number(m: re.Match[str]) -> str:
        return seen.setdefault(m.group(0), f"<{label}{len(seen) + 1}>")

    return [pattern.sub(number, text) for text in texts]


class _Recorder:
    """Stands in for the DuckDB connection of an ibis backend; records what ``finops_lib.sources`` executes."""

    def __init__(self, raw: object, log: list[str]) -> None:
        self._raw, self._log = raw, log

    def execute(self, sql: str, *args: object) -> object:
        if _called_from_sources():
            self._log.append(sql)
        return self._raw.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._raw, name)


def _called_from_sources() -> bool:
    return sys._getframe(2).f_globals.get("__name__", "").startswith(sources_pkg.__name__ + ".")


def _statements(fmt: str) -> list[str]:
    """Read the fixture of ``fmt``; return the statements its reader sent to the engine, normalized."""
    module, builder, golden = BUILDERS[fmt]
    path = fixture_path(fmt)
    log: list[str] = []
    built: list[str] = []
    original = getattr(module, builder)

    def recording_builder(*args: object, **kwargs: object) -> str:
        built.append(original(*args, **kwargs))
        return built[-1]

    con = engine.memory()
    ibis_sql = con.sql

    def recording_sql(query: str, *args: object, **kwargs: object) -> object:
        if _called_from_sources():
            log.append(query)
        return ibis_sql(query, *args, **kwargs)

    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(module, builder, recording_builder)
            mp.setattr(con, "con", _Recorder(con.con, log))
            mp.setattr(con, "sql", recording_sql)
            SOURCES[fmt].read(path, con)
    finally:
        con.disconnect()
    assert len(built) == 1, f"{module.__name__}.{builder} was expected to build one SELECT"
    reference = f"/* {module.__name__.rsplit('.', 1)[-1]}.{builder}(...): see {golden}.sql */"
    texts = [sql.replace(built[0], reference).replace(str(path), FAKE_PATH).strip() for sql in log]
    return _numbered(_RANDOM_ID, "id", _numbered(_TEMP, "tmp", texts))


@pytest.mark.parametrize("fmt", sorted(BUILDERS))
def test_reader_statements_match_their_golden(fmt):
    check_golden(f"{_golden_name(fmt)}.statements", "\n\n".join(f"{s};" for s in _statements(fmt)))


def test_every_golden_file_is_rendered_by_a_test():
    rendered = {*SELECTS, *(f"{_golden_name(f)}.statements" for f in BUILDERS)}
    stale = sorted(p.name for p in GOLDEN.glob("*.sql") if p.stem not in rendered)
    assert stale == [], f"golden files no test renders (delete them): {stale}"
