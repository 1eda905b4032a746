"""Tests of finops_lib.report (runner and HTML export) and finops_lib.offline (plus chart specs).

The report runs twice per module over tiny fixture notebooks in tests/data/report/ (a few seconds each).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from finops_lib import offline, report
from finops_lib.errors import FinopsError, ParameterError
from finops_lib.report import html as htmlexport
from finops_lib.report import runner
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


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FinopsError]:
    """Run both fixtures (one fails) with CLI-style string parameters; return the folder and the error."""
    out = tmp_path_factory.mktemp("report")
    data = tmp_path_factory.mktemp("data")
    with pytest.raises(FinopsError) as caught:
        report.run_report(data_dir=data, out_dir=out, parameters=CLI_PARAMETERS, notebooks=[GOOD, FAILING])
    return out, caught.value


@pytest.fixture(scope="module")
def code_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the good fixture with code shown; return the index path."""
    out = tmp_path_factory.mktemp("report_code")
    return report.run_report(data_dir=tmp_path_factory.mktemp("data"), out_dir=out, notebooks=[GOOD], with_code=True)


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
def test_vega_bundle_is_inlined_once_per_page_with_charts(failed_run: tuple[Path, FinopsError]) -> None:
    out, _ = failed_run
    marker = "window.vegaEmbed="
    assert page(out, "report_fixture.html").count(marker) == 1
    assert page(out, "report_fixture.html").count('class="finops-vega"') == 4
    assert marker not in page(out, "failing_fixture.html")  # no chart, no bundle
    assert marker not in page(out, "index.html")


@pytest.mark.slow
def test_pages_load_nothing_from_the_network(failed_run: tuple[Path, FinopsError], code_run: Path) -> None:
    pages = [*failed_run[0].glob("*.html"), *code_run.parent.glob("*.html")]
    assert len(pages) == 5
    for path in pages:
        text = path.read_text(encoding="utf-8")
        assert remote_loads(text) == [], path.name
        assert htmlexport.network_references(text.replace(offline.vega_bundle(), "")) == [], path.name
        assert "require.min.js" not in text and "MathJax" not in text.replace("mathjax", "")


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
    assert 'href="report_fixture.html"' in text and 'href="failing_fixture.html"' in text
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
