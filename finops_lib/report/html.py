"""Offline HTML for executed notebooks: charts drawn with no network, one Vega bundle and one stylesheet per report.

How it works
------------
1. In the kernel, :func:`finops_lib.views.theme.use_theme` enables the ``finops-offline`` Altair renderer
   (:func:`offline_mimebundle`). Each chart output carries its Vega-Lite spec under Altair's
   Vega-Lite mimetype, plus a ``text/html`` fallback: a ``<div>`` holding a static SVG (so the chart
   shows in JupyterLab, VS Code or any viewer without JavaScript) and a small script that calls a
   page-global ``vegaEmbed`` when one exists.
2. On export, :class:`VegaOfflinePreprocessor` rewrites every output that has a Vega-Lite spec into
   a bare ``<div>`` + script (no SVG, no CDN), drops stderr streams and widget views, and counts the
   charts. :func:`export_notebook` then renders with ``templates/finops_notebook.html.j2`` (JupyterLab's
   layout minus require.js, MathJax, Mermaid and the widget manager, all CDN-loaded).
3. In a report folder the pages share ``assets/report.css`` (JupyterLab's stylesheet, the code highlighting
   and the report's own rules: :func:`report_css`) and ``assets/vega.js`` (``vl_convert.javascript_bundle()``),
   written once by :func:`write_assets` and linked by relative paths, so the folder opens from ``file://`` and
   from any copy of it. A standalone page (no ``assets_href``) inlines the same stylesheet, and the bundle once in
   ``<head>`` when it has a chart.
4. :func:`network_references` lists any ``http(s)://`` ``src``/``href`` the page would load; the
   export refuses to write a page that has one.
5. Every page, and the index, opens its ``<head>`` with a Content-Security-Policy ``<meta>``
   (:data:`PAGE_POLICY`, :data:`INDEX_POLICY`): the browser itself refuses any network access (``connect-src
   'none'``, no remote script, style, image, font or frame), so even text that escaped escaping could neither
   load nor send anything. Charts draw under it without ``'unsafe-eval'``: the pages call ``vegaEmbed`` with
   ``ast: true`` (:mod:`finops_lib.offline`), so Vega evaluates expressions with its interpreter, never with
   ``Function``.
6. A null byte in data text is written as U+FFFD (``offline.REPLACEMENT_CHAR``) on every page and in every chart
   spec: a browser would otherwise drop it silently.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor

from finops_lib.errors import FinopsError
from finops_lib.offline import REPLACEMENT_CHAR, embed_html, vega_bundle, vega_script
from finops_lib.report.summary import executive_summary
from finops_lib.share import atomic_write

#: Cells carrying one of these tags are left out of the HTML (widgets do not work in static HTML).
REMOVE_CELL_TAGS = frozenset({"widgets", "remove"})


#: Cells carrying one of these tags show their output only, even with code shown.
REMOVE_INPUT_TAGS = frozenset({"remove_input", "hide-input"})


TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


#: The folder of a report holding the files its pages share, and those files.
ASSETS_DIR, REPORT_CSS, VEGA_JS = "assets", "report.css", "vega.js"


#: The Content-Security-Policy of a report page: inline scripts and styles and the report's own ``assets/`` files
#: only (``'self'``), images and fonts only from ``data:``/``blob:`` (chart export), no network of any kind, no
#: ``eval`` (Vega runs with its expression interpreter), no ``<base>``, form, plugin, frame or worker.
PAGE_POLICY = "; ".join((
    "default-src 'none'", "script-src 'self' 'unsafe-inline'", "style-src 'self' 'unsafe-inline'",
    "img-src data: blob:", "font-src data:", "connect-src 'none'", "media-src 'none'", "object-src 'none'",
    "frame-src 'none'", "worker-src 'none'", "manifest-src 'none'", "base-uri 'none'", "form-action 'none'",
))  # fmt: skip


#: The index has no script at all: the same policy with ``script-src 'none'``.
INDEX_POLICY = PAGE_POLICY.replace("script-src 'self' 'unsafe-inline'", "script-src 'none'")


_VEGALITE_MIME = re.compile(r"^application/vnd\.vegalite\.v\d+[.+]json$")


_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


_CDN_VEGA = re.compile(r"cdn\.jsdelivr\.net/npm/vega|requirejs|require\.config", re.IGNORECASE)


_NETWORK_ATTR = re.compile(
    r"<(?:script|link|img|iframe|source|embed|video|audio)\b[^>]*?\b(?:src|href)\s*=\s*[\"']?\s*((?:https?:)?//[^\"'\s>]+)",
    re.IGNORECASE,
)


_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.IGNORECASE | re.DOTALL)


_CSS_URL = re.compile(r"@import\s+(?:url\()?[\"']?((?:https?:)?//[^\"')\s]+)|url\(\s*[\"']?((?:https?:)?//[^\"')\s]+)")


class VegaOfflinePreprocessor(Preprocessor):
    """Rewrite chart outputs for an offline page; drop stderr streams and widget views.

    Sets ``resources["finops"]["vega_charts"]`` to the number of charts on the page.
    """

    def preprocess(self, nb: nbformat.NotebookNode, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """Rewrite the outputs of every code cell (see the class docstring)."""
        nb.metadata.pop("widgets", None)
        charts = 0
        for cell_index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            kept = []
            for output_index, output in enumerate(cell.get("outputs", [])):
                if output.output_type == "stream" and output.get("name") == "stderr":
                    continue
                data = output.get("data", {})
                if output.output_type in {"display_data", "execute_result"}:
                    if _WIDGET_MIME in data:
                        self.log.warning("cell %d shows a widget; tag the cell 'widgets'", cell_index)
                        continue
                    spec_mime = next((mime for mime in data if _VEGALITE_MIME.match(mime)), None)
                    if spec_mime is not None:
                        element_id = f"finops-vega-{cell_index}-{output_index}"
                        output.data = {
                            spec_mime: data[spec_mime],
                            "text/html": embed_html(data[spec_mime], element_id=element_id),
                        }
                        charts += 1
                    elif _CDN_VEGA.search(str(data.get("text/html", ""))):
                        text = "Chart omitted: it needs a CDN. Call finops_lib.views.theme.use_theme() before plotting."
                        output.data = {"text/plain": text}
                kept.append(output)
            cell.outputs = kept
        finops = resources.setdefault("finops", {})
        finops["vega_charts"] = charts
        # Inlined once in <head> by the template, only on standalone pages that draw a chart.
        finops["vega_bundle"] = vega_bundle() if charts and not finops.get("assets_href") else None
        return nb, resources


def network_references(page: str) -> list[str]:
    """Return the ``http(s)://`` or ``//`` addresses a page would load (scripts, styles, images, CSS).

    Links the reader may click (``<a href>``) are not loads and are not listed.

    Examples
    --------
    >>> network_references('<script src="https://cdn.example/x.js"></script><a href="https://a.b">a</a>')
    ['https://cdn.example/x.js']
    """
    found = [match.group(1) for match in _NETWORK_ATTR.finditer(page)]
    found += [first or second for first, second in _CSS_URL.findall(page)]
    return found


def _exporter(*, with_code: bool) -> HTMLExporter:
    exporter = HTMLExporter(
        extra_template_paths=[str(TEMPLATES_DIR)],
        template_file="finops_notebook.html.j2",
        exclude_input=not with_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(
            remove_cell_tags=set(REMOVE_CELL_TAGS),
            remove_input_tags=set(REMOVE_INPUT_TAGS),
        ),
        enabled=True,
    )
    exporter.register_preprocessor(VegaOfflinePreprocessor(), enabled=True)
    return exporter


def export_notebook(
    notebook: Path | nbformat.NotebookNode,
    html_path: Path,
    *,
    with_code: bool = False,
    index_href: str | None = None,
    failure: str | None = None,
    assets_href: str | None = None,
) -> Path:
    """Render an executed notebook to an HTML page that loads nothing from the network.

    Cells tagged ``widgets`` or ``remove`` are left out, stderr output is dropped, code is hidden
    unless ``with_code``.

    Parameters
    ----------
    notebook
        Path of an executed ``.ipynb``, or the notebook itself.
    html_path
        The page to write (its folder is created).
    with_code
        Show code cells (the default shows outputs and markdown only).
    index_href
        Link back to the report index, shown at the top of the page.
    failure
        When the notebook failed: a short message shown in a banner at the top.
    assets_href
        Relative address of a folder holding :func:`write_assets`' files (``"assets"`` in a report): the page
        links its stylesheet and, when it has charts, the Vega bundle there. None: a standalone page that
        inlines both.

    Returns
    -------
    Path
        ``html_path``.

    Raises
    ------
    FinopsError
        If the page would still load something from the network.
    """
    nb = nbformat.read(notebook, as_version=4) if isinstance(notebook, Path) else notebook
    finops = {"index_href": index_href, "failure": failure, "assets_href": assets_href, "policy": PAGE_POLICY}
    body, resources = _exporter(with_code=with_code).from_notebook_node(
        nb, resources={"finops": finops, "metadata": {"name": html_path.stem}}
    )
    inlined = resources["finops"]["vega_bundle"]
    remote = network_references(body.replace(inlined, "") if inlined else body)
    if remote:
        raise FinopsError(f"{html_path.name}: the page would load {remote[:3]} from the network")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(html_path, body.replace("\x00", REPLACEMENT_CHAR))  # a null byte shown, not dropped
    return html_path


@functools.cache
def report_css() -> str:
    """Return the stylesheet of a report page: what a standalone page inlines, as one file.

    JupyterLab's light theme and layout (nbconvert's ``lab`` template), the code highlighting and the report's
    own rules (``templates/finops_page.css``), in the order a standalone page has them.
    """
    body, _ = _exporter(with_code=True).from_notebook_node(
        nbformat.v4.new_notebook(), resources={"finops": {}, "metadata": {"name": "report"}}
    )
    head = body.split("</head>", 1)[0]
    return "\n".join(block.strip("\n") for block in _STYLE.findall(head)) + "\n"


def write_assets(folder: Path) -> Path:
    """Write the files the pages of a report share into ``folder/assets/`` and return that folder.

    ``report.css`` (:func:`report_css`) and ``vega.js`` (the Vega + Vega-Lite + vega-embed bundle), each once
    for the whole report; pages exported with ``assets_href="assets"`` link them by relative paths.

    Raises
    ------
    FinopsError
        If the stylesheet would load something from the network.
    """
    css = report_css()
    remote = network_references(f"<style>{css}</style>")
    if remote:
        raise FinopsError(f"{REPORT_CSS}: the stylesheet would load {remote[:3]} from the network")
    assets = folder / ASSETS_DIR
    assets.mkdir(parents=True, exist_ok=True)
    atomic_write(assets / REPORT_CSS, css)
    atomic_write(assets / VEGA_JS, vega_script())
    return assets


def _shortpath(value: object) -> str:
    """Return text with every absolute path reduced to its last part: a shared page names no local folder.

    Examples
    --------
    >>> _shortpath("/home/ana/exports/acme"), _shortpath("3.11.7 (/work/.venv/bin/python)")
    ('acme', '3.11.7 (python)')
    """
    return re.sub(r"(?<![\w.])/(?:[^/\s()]+/)*([^/\s()]+)", r"\1", str(value))


def write_index(
    path: Path,
    *,
    runs: Sequence[Any],
    metadata: Mapping[str, Any],
    title: str = "GenAI FinOps report",
) -> Path:
    """Write the report's self-contained index page (inline CSS, no script, no network).

    Parameters
    ----------
    path
        The page to write.
    runs
        :class:`finops_lib.report.runner.NotebookRun` objects, in report order.
    metadata
        Run metadata: ``data_dir``, ``date_range``, ``parameters``, ``started``, ``duration``,
        ``version``, ``python``, ``kernel``, ``with_code``; ``demo`` true puts a banner saying the figures are the
        fictional sample's above everything else.
    title
        Page title.

    Returns
    -------
    Path
        ``path``.
    """
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["shortpath"] = _shortpath
    counts = {status: sum(run.status == status for run in runs) for status in ("ok", "failed", "missing")}
    summary = executive_summary({run.entry.stem: run.results for run in runs if run.results})
    page = environment.get_template("report_index.html.j2").render(
        title=title, runs=runs, metadata={"date_range": None, **metadata}, counts=counts, summary=summary,
        policy=INDEX_POLICY,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, page.replace("\x00", REPLACEMENT_CHAR))  # a null byte shown, not dropped
    return path
