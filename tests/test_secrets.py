"""Secrets planted in every loader's fixture never reach the warehouse, the rejects, the reports or the CSVs.

Every committed fixture (one per registered format, ``tests/sources/source_cases.py``) is copied with keys of
every known shape written into its text fields: one text field per record in turn, every text field of the first
record (which the reader then often rejects: the rejects must be masked too), the LiteLLM ``api_key`` column of
every row and ``Bearer`` headers in metadata (the cases of the issue), and prompt and completion text where the
formats carry it (LiteLLM ``messages``/``response``, Langfuse ``input``/``output``, OpenTelemetry
``gen_ai.prompt``). The test then reads every table of the warehouse as text and, in the slow test, every file
``finops report`` and the CSV commands write: no secret and no prompt is found; the keys are there masked, with a
stable hash that still groups rows by key.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import random
import re
import string
import zipfile
from pathlib import Path

import pytest

from finops_lib import engine
from finops_lib.cli import main
from finops_lib.errors import SourceError
from finops_lib.warehouse import ingest
from finops_lib.warehouse.loading import failure_reason
from finops_lib.warehouse.privacy import mask_secrets
from tests.sources.source_cases import case_ids, fixture_path, zip_members, zip_parts

PROMPT = "PROMPT-TEXT-4711 please summarise the quarterly board minutes"
COMPLETION = "COMPLETION-TEXT-4711 the board approved the budget"
_RNG = random.Random(17)
_NUMBER = re.compile(r"^-?[\d.,eE+\-]+$")
_DATE = re.compile(r"^\d{4}-\d\d-\d\d|^\d{10,}$")


def _body(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


class Planter:
    """Makes secrets of every known shape in turn; remembers the part of each that must never be stored."""

    def __init__(self) -> None:
        self.secrets: list[str] = []  # the secret parts, searched for in every output
        self._kinds = [
            lambda: ("sk-proj-", _body(48)),
            lambda: ("sk-ant-api03-", _body(60) + "-" + _body(8) + "AA"),
            lambda: ("sk-", _body(32)),  # a LiteLLM virtual key
            lambda: ("Bearer ", _body(24) + "." + _body(40)),
            lambda: ("", "AKIA" + _body(16, string.ascii_uppercase + string.digits)),
            lambda: ("aws_secret_access_key=", _body(40, string.ascii_letters + string.digits + "/+")),
            lambda: ("", "AIza" + _body(35)),
            lambda: ("", "ghp_" + _body(36)),
            lambda: ("x-api-key: ", _body(32, "0123456789abcdef")),
        ]
        self._turn = 0

    def __call__(self) -> str:
        label, secret = self._kinds[self._turn % len(self._kinds)]()
        self._turn += 1
        self.secrets.append(secret)
        return label + secret


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip()) and not _NUMBER.match(value) and not _DATE.match(value)


def plant_csv(source: Path, target: Path, make: Planter) -> None:
    rows = list(csv.reader(io.StringIO(source.read_text(encoding="utf-8-sig"), newline="")))
    header, body = rows[0], rows[1:]
    text_columns = [i for i in range(len(header)) if any(_is_text(r[i]) for r in body if i < len(r))]
    for n, row in enumerate(body):
        for i, name in enumerate(header):
            if i >= len(row):
                continue
            if name == "api_key":  # the case: the raw virtual key in LiteLLM's api_key column
                row[i] = make()
            elif name in ("messages", "prompt", "input"):
                row[i] = json.dumps([{"role": "user", "content": PROMPT}])
            elif name in ("response", "completion", "output"):
                row[i] = json.dumps({"choices": [{"message": {"content": COMPLETION}}]})
            elif name == "metadata" and row[i].startswith("{"):
                meta = json.loads(row[i])
                meta["spend_logs_metadata"] = {**meta.get("spend_logs_metadata", {}),
                                               "headers": {"authorization": make()}}  # fmt: skip
                row[i] = json.dumps(meta)
        chosen = text_columns if n == 0 else [text_columns[n % len(text_columns)]] if text_columns else []
        for i in chosen:
            if i < len(row):
                row[i] = f"{row[i]} {make()}".strip()
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *body])
    target.write_text(out.getvalue(), encoding="utf-8")


def _plant_json(node: object, make: Planter, counter: list[int]) -> object:
    if isinstance(node, list):
        return [_plant_json(item, make, counter) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _plant_json(value, make, counter) for key, value in node.items()}
    texts = [k for k, v in out.items() if _is_text(v) and k not in ("type", "object", "key")]
    if texts:
        key = texts[counter[0] % len(texts)]
        out[key] = f"{out[key]} {make()}"
        counter[0] += 1
    if "metadata" in out and isinstance(out["metadata"], dict):
        out["metadata"] = {**out["metadata"], "authorization": make(), "note": make()}
    if "attributes" in out and isinstance(out["attributes"], list):  # OpenTelemetry: content and captured headers
        out["attributes"] = [*out["attributes"],
                             {"key": "gen_ai.prompt", "value": {"stringValue": PROMPT}},
                             {"key": "gen_ai.completion", "value": {"stringValue": COMPLETION}},
                             {"key": "http.request.header.authorization", "value": {"stringValue": make()}}]
    if {"startTime", "model"} <= set(out):  # a Langfuse observation: prompt and completion
        out.update(input=[{"role": "user", "content": PROMPT}], output={"content": COMPLETION})
    return out


def plant_json(source: Path, target: Path, make: Planter) -> None:
    text = source.read_text(encoding="utf-8")
    if source.suffix == ".jsonl":
        counter = [0]
        lines = [json.dumps(_plant_json(json.loads(line), make, counter)) for line in text.splitlines() if line.strip()]
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        target.write_text(json.dumps(_plant_json(json.loads(text), make, [0]), indent=1), encoding="utf-8")


def plant_prom(source: Path, target: Path, make: Planter) -> None:
    """A Prometheus text exposition: a key in a label of every sample (exporters copy headers and env into labels)."""
    lines = source.read_text(encoding="utf-8").splitlines()
    out = [line.replace("{", '{note="' + make() + '",', 1) if "{" in line and not line.startswith("#") else line
           for line in lines]  # fmt: skip
    target.write_text("\n".join(out) + "\n", encoding="utf-8")


def plant_zip(source: Path, target: Path, make: Planter) -> None:
    """A zip of CSV parts (a FOCUS export): each part planted as a CSV file; stored uncompressed, so searchable."""
    members = zip_members(source.read_bytes())
    for name in zip_parts(source.read_bytes()):
        part = target.with_name(f"planting-{Path(name).name}")
        part.write_bytes(members[name])
        plant_csv(part, part, make)
        members[name] = part.read_bytes()
        part.unlink()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def planted_folder(root: Path) -> tuple[Path, Planter]:
    """Every format's fixture (and each variant, ``source_cases.VARIANTS``), planted, one sub-folder per case."""
    make = Planter()
    for fmt in case_ids():
        fixture = fixture_path(fmt)
        folder = root / fmt.replace(":", "_")
        folder.mkdir(parents=True)
        planter = {".csv": plant_csv, ".prom": plant_prom, ".zip": plant_zip}.get(fixture.suffix, plant_json)
        planter(fixture, folder / fixture.name, make)
    return root, make


def warehouse_text(con: object) -> str:
    """Every table of the warehouse, every column, as CSV text."""
    return "\n".join(con.table(name).to_pandas().to_csv() for name in sorted(con.list_tables()))


def leaks(text: str, make: Planter) -> list[str]:
    found = [s for s in make.secrets if s in text]
    return found + [p for p in (PROMPT, COMPLETION, "PROMPT-TEXT-4711", "COMPLETION-TEXT-4711") if p in text]


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Planter, Path]:
    root = tmp_path_factory.mktemp("planted")
    folder, make = planted_folder(root / "data")
    warehouse = root / "wh.duckdb"
    summary = ingest([folder], warehouse=warehouse)
    assert set(summary["status"]) <= {"loaded", "failed"} and (summary["status"] == "loaded").sum() >= 15, summary
    return folder, make, warehouse


def test_no_planted_secret_or_prompt_is_stored(planted: tuple[Path, Planter, Path]) -> None:
    folder, make, warehouse = planted
    assert len(make.secrets) > 200  # planted in every format's records
    planted = "".join(p.read_bytes().decode("utf-8", errors="replace") for p in folder.rglob("*.*"))  # zips: stored
    assert all(s in planted for s in make.secrets)  # they were there
    con = engine.connect(warehouse=warehouse, read_only=True)
    try:
        text = warehouse_text(con)
        assert leaks(text, make) == []
        masks = re.findall(r"\*\*\*[0-9a-f]{12}", text)
        assert len(masks) > 100  # the keys were kept masked (loaded or rejected), not silently dropped
        assert con.table("rejects").count().execute() > 0  # rejected records were masked too
    finally:
        con.disconnect()


def test_litellm_keys_are_masked_with_a_stable_hash_that_groups_rows(planted: tuple[Path, Planter, Path]) -> None:
    folder, _, warehouse = planted
    rows = list(csv.DictReader((folder / "litellm_spend_logs" / "litellm_spend_logs.csv").open(encoding="utf-8")))
    planted_keys = [r["api_key"] for r in rows]
    con = engine.connect(warehouse=warehouse, read_only=True)
    try:
        stored = con.con.execute("SELECT x_SourceRow, x_ApiKeyId FROM requests WHERE x_SourceFormat = "
                                 "'litellm_spend_logs' ORDER BY x_SourceRow").fetchall()
    finally:
        con.disconnect()
    assert stored, "the LiteLLM rows were loaded"
    for line, key_id in stored:
        # the same mask as the masking function gives the planted key (computed here from the file, line by line)
        assert key_id == mask_secrets(planted_keys[line - 2])
        assert key_id.count("***") >= 1 and not re.search(r"[A-Za-z0-9+/]{16,}", key_id.replace("***", " ")), key_id
    # rows of one key share one masked id (the fixture's rows have distinct keys: as many ids as keys)
    assert len({k for _, k in stored}) == len({planted_keys[line - 2] for line, _ in stored})


def test_masking_is_stable_and_keeps_the_kind() -> None:
    key = "sk-proj-" + "Ab3" * 16
    assert mask_secrets(key) == mask_secrets(key) == mask_secrets(f"Bearer {key}").removeprefix("Bearer ")
    assert mask_secrets(key).startswith("sk-proj-***") and key[8:] not in mask_secrets(key)
    assert mask_secrets(mask_secrets(key)) == mask_secrets(key)
    other = "sk-proj-" + "Zz9" * 16
    assert mask_secrets(other) != mask_secrets(key)
    for harmless in ("gpt-4o-mini-2024-07-18", "team-support", "sk-short", "task-1234567890", "2026-05-01"):
        assert mask_secrets(harmless) == harmless


def test_user_ids_are_pseudonymised_with_the_key_in_the_environment(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    fixture = fixture_path("litellm_spend_logs")
    plain = engine.memory()
    ingest([fixture], con=plain)
    written = dict(plain.con.execute("SELECT x_SourceRow, x_UserId FROM requests").fetchall())
    assert sum(v is not None for v in written.values()) >= 2
    key = "a-key-only-the-finops-team-holds"
    monkeypatch.setenv("FINOPS_PSEUDONYM_KEY", key)
    con = engine.memory()
    ingest([fixture], con=con)
    stored = dict(con.con.execute("SELECT x_SourceRow, x_UserId FROM requests").fetchall())
    expected = {line: None if user is None else
                "user-" + hmac.new(key.encode(), user.encode(), hashlib.sha256).hexdigest()[:16]
                for line, user in written.items()}  # fmt: skip
    assert stored == expected
    assert key not in warehouse_text(con)


@pytest.mark.slow
def test_no_planted_secret_reaches_a_report_or_a_csv(planted: tuple[Path, Planter, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    folder, make, _ = planted
    ws = ["--warehouse", str(tmp_path / "workspace")]
    # Azure's and Claude seats' fixtures bill in EUR on days the shipped rates do not cover: every command would stop
    # on the missing rate (a separate defect); the other formats are all read.
    usd = [str(p) for p in sorted(folder.iterdir()) if p.name not in ("azure_cost_details", "mapped_claude_seats")]
    codes = {"ingest": main(["ingest", *usd, *ws])}
    codes["report"] = main(["report", "--out", str(tmp_path / "report"), *ws])
    codes["chargeback"] = main(["chargeback", "--out", str(tmp_path / "chargeback.csv"), "--only-billed-in-currency",
                                *ws])  # fmt: skip
    codes["anomalies"] = main(["anomalies", "--out", str(tmp_path / "anomalies.csv"), *ws])
    codes["forecast"] = main(["forecast", "--out", str(tmp_path / "forecast.csv"), *ws])
    codes["export-focus"] = main(["export-focus", "--out", str(tmp_path / "focus.csv"), *ws])
    codes["status"] = main(["status", *ws])
    captured = capsys.readouterr()
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".html", ".json", ".csv", ".md")]
    assert codes == {"ingest": 0, "report": 0, "chargeback": 0, "anomalies": 0, "forecast": 0, "export-focus": 0,
                     "status": 0}, (codes, captured.err[-3000:])
    assert "demo" not in captured.err  # the report is of the planted data, not the sample
    assert len([p for p in written if p.suffix == ".html"]) >= 7 and (tmp_path / "chargeback.csv").is_file()
    for path in written:
        assert leaks(path.read_text(encoding="utf-8", errors="replace"), make) == [], path
    assert leaks(captured.out + captured.err, make) == []


def test_a_failure_reason_quoting_a_raw_value_masks_the_key() -> None:
    """An exception that echoes a raw cell (a key pasted into a column) must not print the key in the ingest summary."""
    key = "sk-proj-" + "Q" * 40
    for exc in (ValueError(f"could not convert {key!r} to float"), SourceError(Path("x.csv"), f"bad value {key}")):
        reason = failure_reason(exc)
        assert key not in reason and "Q" * 12 not in reason
        assert "sk-proj-***" in reason


def test_a_reader_s_note_quoting_a_key_is_masked_in_the_summary(tmp_path: Path) -> None:
    """A reader's note about a whole file (a Spark job's error echoing a raw cell, say) is masked like a reason."""
    from finops_lib.sources import SOURCES, ReadResult, register_source
    from finops_lib.sources._common import records_table

    key = "sk-proj-" + "N" * 40
    name = "test_noting_reader"

    def note(path: Path, con: object) -> ReadResult:
        return ReadResult(name, str(path), records_table([], "costs"), None, None, 0,
                          notes=(f"read elsewhere: the job failed on {key!r}",))

    register_source(name, table="costs", description="test", detect=lambda p, h: h.startswith("NOTE"))(note)
    try:
        (tmp_path / "a.txt").write_text("NOTE\n")
        summary = ingest([tmp_path], con=engine.memory())
        message = summary.loc[0, "message"]
        assert summary.loc[0, "status"] == "loaded", message
        assert key not in message and "N" * 12 not in message and "sk-proj-***" in message
    finally:
        SOURCES.pop(name)
