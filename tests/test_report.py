"""Tests of finops_lib.report (runner, report folders, HTML export) and finops_lib.offline (plus chart specs).

The report runs a few times per module over tiny fixture notebooks in tests/data/report/ (a few seconds each):
both fixtures two at a time with shared assets, the good one alone with code shown and standalone pages, and
once each for --force and the timestamped folder with its latest link.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from finops_lib import engine, offline, paths, report
from finops_lib.cli import main
from finops_lib.errors import FinopsError, ParameterError
from finops_lib.report import folders, runner
from finops_lib.report import html as htmlexport
from finops_lib.views.overview import charts as overview_charts

FIXTURES = Path(__file__).parent / "data" / "report"
GOOD, FAILING = FIXTURES / "report_fixture.ipynb", FIXTURES / "failing_fixture.ipynb"
CLI_PARAMETERS = {"n_days": "4", "scale": "2.5", "show_total": "false", "groups": "x,y"}


class _Loads(HTMLParser):
    """Collect the addresses a page loads: script/img/iframe ``src`` and ``<link href>``."""

    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "img": "src", "iframe": "src", "link": "href", "source": "src"}.get(tag)
        self.addresses += [value or "" for name, value in attrs if name == wanted]


def remote_loads(page: str) -> list[str]:
    parser = _Loads()
    parser.feed(page)
    return [address for address in parser.addresses if re.match(r"^(https?:)?//", address.strip())]


PROGRESS: list[str] = []


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FinopsError]:
    """Run both fixtures (one fails) two at a time with CLI-style string parameters; return the folder and the error.

    Its progress lines go to ``PROGRESS``.
    """
    out = tmp_path_factory.mktemp("report")
    data = tmp_path_factory.mktemp("data")
    with pytest.raises(FinopsError) as caught:
        report.run_report(data_dir=data, out_dir=out, parameters=CLI_PARAMETERS, notebooks=[GOOD, FAILING], jobs=2,
                          progress=PROGRESS.append)  # fmt: skip
    return out, caught.value


@pytest.fixture(scope="module")
def code_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the good fixture with code shown, one at a time, as standalone pages (--single-file); return the index."""
    out = tmp_path_factory.mktemp("report_code")
    return report.run_report(data_dir=tmp_path_factory.mktemp("data"), out_dir=out, notebooks=[GOOD], with_code=True,
                             jobs=1, single_file=True)  # fmt: skip


def page(out: Path, name: str) -> str:
    return (out / name).read_text(encoding="utf-8")


# --- report ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_failure_is_raised_after_the_whole_report_is_written(failed_run: tuple[Path, FinopsError]) -> None:
    out, error = failed_run
    assert "failing_fixture.ipynb" in str(error) and "FIXTURE-BOOM" in str(error)
    assert "report_fixture" not in str(error).split("failed", 1)[1].split(":", 1)[1]
    for name in ("index.html", "report_fixture.html", "failing_fixture.html"):
        assert (out / name).is_file()
    assert (out / "notebooks" / "report_fixture.ipynb").is_file()
    failed = page(out, "failing_fixture.html")
    assert "BEFORE-FAILURE" in failed and "This notebook failed" in failed
    assert "AFTER-FAILURE" not in failed


@pytest.mark.slow
def test_pages_share_one_vega_bundle_and_one_stylesheet(failed_run: tuple[Path, FinopsError]) -> None:
    out, _ = failed_run
    marker = "window.vegaEmbed="
    assert sorted(path.name for path in (out / "assets").iterdir()) == ["report.css", "vega.js"]
    assert (out / "assets" / "vega.js").read_text(encoding="utf-8") == offline.vega_script()
    assert (out / "assets" / "report.css").read_text(encoding="utf-8") == htmlexport.report_css()
    charts, plain = page(out, "report_fixture.html"), page(out, "failing_fixture.html")
    assert charts.count('class="finops-vega"') == 4
    assert charts.count('<script src="assets/vega.js" type="text/javascript"></script>') == 1
    assert "assets/vega.js" not in plain  # no chart, no bundle
    for text in (charts, plain):
        assert text.count('<link href="assets/report.css" rel="stylesheet" type="text/css"/>') == 1
        assert marker not in text and "<style" not in text and len(text) < 100_000
    assert marker not in page(out, "index.html") and '="assets/' not in page(out, "index.html")


@pytest.mark.slow
def test_single_file_pages_inline_the_bundle_and_the_stylesheet(code_run: Path) -> None:
    out = code_run.parent
    text = page(out, "report_fixture.html")
    assert not (out / "assets").exists()
    assert text.count("window.vegaEmbed=") == 1 and offline.vega_bundle() in text
    assert "jp-OutputArea-output" in htmlexport.report_css() and ".finops-vega-message" in text
    own = text.replace(offline.vega_bundle(), "")
    references = re.findall(r"""<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)""", own)
    assert references == []  # only the link back to index.html, an <a>, leaves the page
    assert json.loads((out / "report.json").read_text())["layout"] == "standalone pages"


@pytest.mark.slow
def test_pages_load_nothing_from_the_network(failed_run: tuple[Path, FinopsError], code_run: Path) -> None:
    pages = [*failed_run[0].glob("*.html"), *code_run.parent.glob("*.html")]
    assert len(pages) == 5
    for path in pages:
        text = path.read_text(encoding="utf-8")
        assert remote_loads(text) == [], path.name
        assert htmlexport.network_references(text.replace(offline.vega_bundle(), "")) == [], path.name
        assert "require.min.js" not in text and "MathJax" not in text.replace("mathjax", "")
    assert htmlexport.network_references(f"<style>{htmlexport.report_css()}</style>") == []


@pytest.mark.slow
def test_widget_removed_and_stderr_cells_are_dropped(failed_run: tuple[Path, FinopsError], code_run: Path) -> None:
    for text in (page(failed_run[0], "report_fixture.html"), page(code_run.parent, "report_fixture.html")):
        assert "MARKDOWN-VISIBLE" in text
        assert "WIDGET-SLIDER" not in text and "IntSlider" not in text
        assert "REMOVE-ME" not in text
        assert 'data-mime-type="application/vnd.jupyter.stderr"' not in text  # code may show the literal
    assert "STDERR-NOISE" not in page(failed_run[0], "report_fixture.html")


@pytest.mark.slow
def test_code_is_hidden_by_default_and_shown_with_code(failed_run: tuple[Path, FinopsError], code_run: Path) -> None:
    hidden, shown = page(failed_run[0], "report_fixture.html"), page(code_run.parent, "report_fixture.html")
    assert "plot_spend_over_time" not in hidden and "hl-ipython3" not in hidden
    assert "plot_spend_over_time" in shown and "hl-ipython3" in shown
    assert "STDOUT-VISIBLE total" in shown  # default show_total=True; CLI run passed "false"
    assert "STDOUT-VISIBLE" not in hidden


@pytest.mark.slow
def test_cli_strings_are_converted_to_declared_types(failed_run: tuple[Path, FinopsError]) -> None:
    out, _ = failed_run
    results = json.loads((out / "report_fixture" / "results.json").read_text())
    assert results["types"] == {"n_days": "int", "scale": "float", "show_total": "bool", "groups": "list"}
    assert results["parameters"]["n_days"] == 4 and results["parameters"]["scale"] == 2.5
    assert results["parameters"]["show_total"] is False and results["parameters"]["groups"] == ["x", "y"]
    assert Path(results["parameters"]["data_dir"]).is_dir()


@pytest.mark.slow
def test_index_shows_status_headline_and_run_metadata(failed_run: tuple[Path, FinopsError]) -> None:
    import finops_lib

    text = page(failed_run[0], "index.html")
    assert 0 < text.index('href="report_fixture.html"') < text.index('href="failing_fixture.html"')  # plan order
    assert "2 notebook(s) at a time" in text and "pages sharing assets/" in text
    assert "EUR 345.00" in text  # results.json headline: 2.5 * (1 + 2) * (10 + 11 + 12 + 13)
    assert "2025-01-01 to 2025-01-04" in text
    assert "badge ok" in text and "badge failed" in text and "FIXTURE-BOOM" in text
    assert finops_lib.__version__ in text and "UTC" in text and "n_days = 4" in text
    assert "<script" not in text


def test_unknown_or_reserved_parameter_fails_before_running(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ParameterError, match="declared by no notebook"):
        report.run_report(data_dir=tmp_path, out_dir=out, parameters={"horizon_days": "3"}, notebooks=[GOOD])
    with pytest.raises(ParameterError, match="set by the report"):
        report.run_report(data_dir=tmp_path, out_dir=out, parameters={"output_dir": "x"}, notebooks=[GOOD])
    with pytest.raises(ParameterError, match="unknown notebook"):
        report.run_report(data_dir=tmp_path, out_dir=out, notebooks=["99_nothing"])
    with pytest.raises(ParameterError, match="data folder"):
        report.run_report(data_dir=tmp_path / "absent", out_dir=out, notebooks=[GOOD])
    with pytest.raises(ParameterError, match="cannot read 'many' as int"):
        report.run_report(data_dir=tmp_path, out_dir=out, parameters={"n_days": "many"}, notebooks=[GOOD])
    assert not (out / "index.html").exists()


@pytest.mark.slow
def test_progress_names_each_notebook_when_it_starts_and_ends(failed_run: tuple[Path, FinopsError]) -> None:
    assert PROGRESS[0].startswith("running 2 notebook(s), 2 at a time, into ")
    assert {"[1/2] report_fixture ...", "[2/2] failing_fixture ..."} <= set(PROGRESS)
    finished = re.compile(r"\[\d/2\] \w+ \.\.\. (ok|failed) \d+\.\d s \(page \d+\.\d s\)")
    done = [line for line in PROGRESS if finished.match(line)]
    assert len(done) == 2 and any("failing_fixture ... failed" in line and "FIXTURE-BOOM" in line for line in done)
    assert PROGRESS[-1] == f"index ... {failed_run[0] / 'index.html'}"
    manifest = json.loads((failed_run[0] / "report.json").read_text(encoding="utf-8"))
    assert [entry["notebook"] for entry in manifest["pages"]] == [GOOD.name, FAILING.name] and manifest["jobs"] == 2
    assert {"index.html", "assets/vega.js", "report_fixture.html", "report_fixture/results.json",
            "notebooks/failing_fixture.ipynb", "report.json"} <= set(manifest["files"])  # fmt: skip


@pytest.mark.slow
def test_out_holding_a_report_is_refused_without_force(failed_run: tuple[Path, FinopsError], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    out = tmp_path / "earlier"
    shutil.copytree(failed_run[0], out)
    (out / "mine.txt").write_text("not the report's")
    before = {path: path.stat().st_mtime_ns for path in out.rglob("*")}
    assert main(["report", "--out", str(out)]) == 2
    assert "already holds a report (the report started " in capsys.readouterr().err
    with pytest.raises(ParameterError, match="--force"):
        report.run_report(data_dir=tmp_path, out_dir=out, notebooks=[GOOD])
    assert {path: path.stat().st_mtime_ns for path in out.rglob("*")} == before  # nothing touched
    lines: list[str] = []
    report.run_report(data_dir=tmp_path, out_dir=out, notebooks=[GOOD], force=True, progress=lines.append)
    assert lines[0].startswith("replacing the report started ") and lines[0].endswith(f"in {out}")
    assert "2 page(s), 1 ok" in lines[0] and "file(s) removed" in lines[0]
    assert not (out / "failing_fixture.html").exists() and not (out / "failing_fixture").exists()  # no stale page
    assert (out / "report_fixture.html").is_file() and (out / "mine.txt").read_text() == "not the report's"
    assert "failing_fixture" not in page(out, "index.html")


@pytest.mark.slow
def test_default_folder_is_timestamped_and_latest_points_at_it(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    reports = tmp_path / "reports"
    (reports / "latest").mkdir(parents=True)  # a report folder left by an earlier version
    (reports / "latest" / "index.html").write_text("earlier")
    monkeypatch.setattr(runner, "REPORTS_DIR", reports)
    lines: list[str] = []
    index = report.run_report(data_dir=tmp_path, notebooks=[GOOD], progress=lines.append)
    assert re.fullmatch(r"\d{8}-\d{6}", index.parent.name) and index.parent.parent == reports
    assert (reports / "latest").is_symlink() and os.readlink(reports / "latest") == index.parent.name
    assert report.latest(reports) == index.parent and (reports / "latest" / "report_fixture.html").is_file()
    moved = [path for path in reports.iterdir() if path.is_dir() and not path.is_symlink() and path != index.parent]
    assert len(moved) == 1 and (moved[0] / "index.html").read_text() == "earlier"
    assert lines[-1] == f"{reports / 'latest'} -> {index.parent.name}; the earlier report in {reports / 'latest'} " \
                        f"moved to {moved[0]}"  # fmt: skip


def test_latest_follows_the_newest_run_or_a_text_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    first = folders.new_run_folder(tmp_path, now=datetime(2026, 5, 1, 9, 0, tzinfo=UTC))
    second = folders.new_run_folder(tmp_path, now=datetime(2026, 5, 1, 9, 0, tzinfo=UTC))
    assert (first.name, second.name) == ("20260501-090000", "20260501-090000-2")
    folders.point_latest(tmp_path, first)
    folders.point_latest(tmp_path, second)
    assert report.latest(tmp_path) == second and os.readlink(tmp_path / "latest") == second.name

    def no_symlinks(*args: object, **kwargs: object) -> None:
        raise OSError("symlinks not permitted")

    monkeypatch.setattr(Path, "symlink_to", no_symlinks)
    (tmp_path / "latest").unlink()
    said = folders.point_latest(tmp_path, first)
    assert "no symlink" in said and (tmp_path / "LATEST").read_text() == "20260501-090000\n"
    assert report.latest(tmp_path) == first


def test_the_slowest_notebooks_start_first_and_outcomes_keep_the_plan_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from finops_lib.report import execute

    entries = [report.NotebookEntry(f"{n}0_x.ipynb", "t", "q", "a") for n in range(4)]
    started: list[str] = []

    def fake_run(entry: report.NotebookEntry, **kwargs: object) -> report.NotebookRun:
        started.append(entry.notebook)
        return report.NotebookRun(entry, "ok", 1.0)

    monkeypatch.setattr(execute, "run_notebook", fake_run)
    expected = {"00_x.ipynb": 5.0, "10_x.ipynb": 40.0, "30_x.ipynb": 20.0}  # 20_x never ran: it starts first
    runs = execute.run_notebooks({entry: {} for entry in entries}, jobs=1, expected=expected)
    assert started == [entry.notebook for entry in entries]  # one at a time: the plan's order
    started.clear()
    runs = execute.run_notebooks({entry: {} for entry in entries}, jobs=2, expected=expected)
    assert started == ["20_x.ipynb", "10_x.ipynb", "30_x.ipynb", "00_x.ipynb"]  # the queue's order
    assert [run.entry for run in runs] == entries


def test_a_report_without_a_manifest_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("a report of an earlier version")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ParameterError, match=r"already holds a report \(a report without a manifest"):
        folders.claim(tmp_path, force=False)
    assert "overwritten" in folders.claim(tmp_path, force=True)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["index.html", "notes.txt"]  # nothing removed
    assert folders.claim(tmp_path / "new", force=False) is None and (tmp_path / "new").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ParameterError, match="is a file"):
        folders.claim(tmp_path / "file", force=True)


def test_notebooks_read_the_warehouse_ingested_once_at_the_same_time(sample_warehouse: Path) -> None:
    lines: list[str] = []
    env = runner._read_only_warehouse(paths.SAMPLE_DIR, str(sample_warehouse), lines.append)
    url = env["FINOPS_ENGINE"]  # a read-only snapshot of the warehouse: the report holds no lock on the warehouse
    snapshot = Path(url.removeprefix("duckdb:///").removesuffix("?read_only=true"))
    assert url.endswith("?read_only=true") and snapshot.name == sample_warehouse.name
    assert snapshot.parent.parent == engine.scratch_dir().resolve() and snapshot.is_file()
    assert lines[0].startswith(f"ingest {paths.SAMPLE_DIR} ... ok ")
    # What every notebook's first cell does, in two processes at once: both open the same file (read-write, the
    # second would fail on DuckDB's lock).
    code = ("import time; from finops_lib.warehouse import open_data; from finops_lib import paths; "
            "con = open_data(paths.SAMPLE_DIR); time.sleep(2); print(con.table('costs').count().execute())")
    kernels = [subprocess.Popen([sys.executable, "-c", code], env={**os.environ, **env}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    outcomes = [kernel.communicate(timeout=120) for kernel in kernels]
    assert [kernel.returncode for kernel in kernels] == [0, 0], [err[-500:] for _, err in outcomes]
    assert outcomes[0][0] == outcomes[1][0] and int(outcomes[0][0]) > 0


def test_cli_passes_the_report_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    from finops_lib.cli import report as cli_report

    seen = {}

    def fake_run_report(**kwargs: object) -> Path:
        seen.update(kwargs)
        kwargs["progress"]("[1/1] 00_data_overview ... ok 1.0 s (page 0.1 s)")
        return tmp_path / "index.html"

    monkeypatch.setattr(cli_report, "run_report", fake_run_report)
    monkeypatch.setattr(cli_report, "_not_loaded", lambda *args: [])
    # a workspace named by $FINOPS_WAREHOUSE that holds nothing: an error, never the sample's fictional figures
    monkeypatch.setenv("FINOPS_WAREHOUSE", str(tmp_path / "empty-workspace"))
    assert main(["report", "--out", str(tmp_path)]) == 2 and not seen
    assert "nothing ingested in" in capsys.readouterr().err
    # the default workspace holding nothing: the demo, said on stderr
    monkeypatch.delenv("FINOPS_WAREHOUSE")
    monkeypatch.setattr(paths, "warehouse_dir", lambda: tmp_path / "empty-workspace")
    assert main(["report", "--out", str(tmp_path), "--jobs", "1", "--single-file", "--force"]) == 0
    assert seen["data_dir"] == str(paths.SAMPLE_DIR)  # the demo, never an empty report
    assert (seen["out_dir"], seen["jobs"], seen["single_file"], seen["force"]) == (str(tmp_path), 1, True, True)
    captured = capsys.readouterr()
    # nothing ingested in the (empty) workspace: the demo sample, said once, then the progress lines
    assert captured.err == (f"nothing ingested in {tmp_path / 'empty-workspace' / 'finops.duckdb'}: showing the demo "
                            "sample (finops ingest <folder> loads your exports into the workspace)\n"
                            "[1/1] 00_data_overview ... ok 1.0 s (page 0.1 s)\n")
    assert captured.out == f"report written to {tmp_path / 'index.html'}\n"
    main(["report"])
    assert seen["out_dir"] is None and seen["jobs"] is None and seen["single_file"] is False
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "standalone" in capsys.readouterr().out.replace("\n", " ")


def test_catalog_entries_without_a_notebook_are_listed_not_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absent = report.NotebookEntry("10_cost_attribution.ipynb", "Cost attribution", "Who spends?", "Team leads",
                                  folder=tmp_path)  # fmt: skip
    monkeypatch.setattr(runner, "CATALOG", (absent,))
    index = report.run_report(data_dir=tmp_path, out_dir=tmp_path / "out", kernel_name="python3")
    text = index.read_text(encoding="utf-8")
    assert "not available" in text and "Cost attribution" in text and "Who spends?" in text


def test_catalog_declares_the_data_overview() -> None:
    entry = report.CATALOG[0]
    assert entry.notebook == "00_data_overview.ipynb" and entry.title == "Data overview"
    assert entry.key_parameters == ("start_date", "end_date", "provider", "group_by", "currency")
    assert all(re.fullmatch(r"\d\d_[a-z_]+\.ipynb", item.notebook) for item in report.CATALOG)


@pytest.mark.parametrize(
    ("value", "type_name", "default", "expected"),
    [
        ("7", "int", "1", 7),
        ("2.5", "float", "1.0", 2.5),
        ("yes", "bool", "False", True),
        ("0", "bool", "True", False),
        ("a, b", "list", "[]", ["a", "b"]),
        ('["a", "b"]', "list[str]", "[]", ["a", "b"]),
        ("1,2", "list[int]", "[]", [1, 2]),
        ("none", "str | None", "None", None),
        ("x", "Optional[str]", "None", "x"),
        ("5", "None", "3", 5),  # not annotated: the default's type
        ("EUR", "None", '"USD"', "EUR"),
        ("{'a': 1}", "dict", "{}", {"a": 1}),
        (12, "str", '""', 12),  # Python callers' values pass through
    ],
)
def test_coerce_parameter(value: object, type_name: str, default: str, expected: object) -> None:
    assert report.coerce_parameter(value, type_name=type_name, default=default) == expected


@pytest.mark.parametrize(("value", "type_name"), [("3.5", "int"), ("maybe", "bool"), ("{1: 2", "dict")])
def test_coerce_parameter_rejects(value: str, type_name: str) -> None:
    with pytest.raises(ParameterError, match=type_name):
        report.coerce_parameter(value, type_name=type_name, name="p")


def test_ensure_kernel_runs_this_interpreter() -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    name = report.ensure_kernel()
    argv0 = KernelSpecManager().get_kernel_spec(name).argv[0]
    assert argv0 in {"python", "python3"} or Path(argv0) == Path(__import__("sys").executable)


# --- htmlexport units ---------------------------------------------------------------------------


def test_preprocessor_rewrites_charts_and_drops_noise() -> None:
    spec = {"$schema": "x", "mark": "bar", "title": "</script><b>"}
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="noise"),
        nbformat.v4.new_output("display_data", data={"application/vnd.vegalite.v6+json": spec, "text/html": "<svg/>"}),
        nbformat.v4.new_output(
            "display_data", data={"text/html": '<script src="https://cdn.jsdelivr.net/npm/vega@6">'}
        ),
        nbformat.v4.new_output(
            "display_data", data={"application/vnd.jupyter.widget-view+json": {}, "text/plain": "w"}
        ),
    ]
    nb = nbformat.v4.new_notebook(cells=[cell], metadata={"widgets": {"state": {}}})
    nb, resources = htmlexport.VegaOfflinePreprocessor().preprocess(nb, {})
    outputs = nb.cells[0].outputs
    assert len(outputs) == 2 and resources["finops"]["vega_charts"] == 1
    assert 'id="finops-vega-0-1"' in outputs[0].data["text/html"] and "<svg" not in outputs[0].data["text/html"]
    assert "</script><b>" not in outputs[0].data["text/html"]  # cannot close the script element
    assert "use_theme" in outputs[1].data["text/plain"]
    assert "widgets" not in nb.metadata


def test_offline_renderer_emits_spec_and_cdn_free_html() -> None:
    frame = pd.DataFrame({"source": ["a"], "start": ["2025-01-01"], "end": ["2025-01-02"], "rows": [3]})
    chart = overview_charts.plot_coverage(frame)
    bundle = offline.offline_mimebundle(chart.to_dict(), static_fallback=True)
    assert set(bundle) == {"application/vnd.vegalite.v6+json", "text/html", "text/plain"}
    assert "<svg" in bundle["text/html"] and "window.vegaEmbed" in bundle["text/html"]
    assert "cdn" not in bundle["text/html"] and remote_loads(bundle["text/html"]) == []
    nbformat.validate(nbformat.v4.new_notebook(cells=[_cell_with(bundle)]))


def _cell_with(data: dict[str, object]) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("chart")
    cell.outputs = [nbformat.v4.new_output("display_data", data=data)]
    return cell


# --- charts (spec-level, no pixels) ---------------------------------------------------------------


def test_the_index_of_the_sample_says_it_is_fictional_and_a_user_s_does_not(tmp_path: Path) -> None:
    # `finops report` with nothing ingested in the default workspace shows the demo sample: the page a recipient
    # opens must say so before any figure, and a report of the user's own folder must not.
    from finops_lib import paths
    from finops_lib.report.html import write_index

    base = {"data_dir": "data/sample", "date_range": None, "parameters": {}, "started": "2026-12-05 10:00:00 UTC",
            "duration": "1.0 s", "version": "0", "python": "3.11", "kernel": "k", "with_code": False}
    demo = write_index(tmp_path / "demo.html", runs=[],
                       metadata={**base, "demo": paths.is_sample(paths.SAMPLE_DIR)}).read_text()
    own = write_index(tmp_path / "own.html", runs=[],
                      metadata={**base, "data_dir": "/exports", "demo": paths.is_sample(tmp_path)}).read_text()
    assert 'id="demo"' in demo and "fictional sample organisation" in demo
    assert demo.index('id="demo"') < demo.index("Run started")
    assert 'id="demo"' not in own and "fictional" not in own
