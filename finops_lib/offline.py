"""Charts that draw without network: the offline Altair renderer and the Vega bundle."""

from __future__ import annotations

import functools
import html
import json
import os
import re
import uuid
from collections.abc import Mapping
from typing import Any

import altair as alt
import vl_convert

#: Name under which :func:`finops_lib.views.theme.enable_offline` registers the Altair renderer.
RENDERER_NAME = "finops-offline"


#: Environment variable: ``0`` turns off the static SVG fallback of chart outputs (report runs).
STATIC_CHARTS_ENV = "FINOPS_STATIC_CHARTS"


#: ``ast: true``: Vega evaluates expressions with vega-embed's interpreter instead of compiling them with
#: ``Function``, so charts draw under a Content-Security-Policy without ``'unsafe-eval'`` (the report's pages).
_EMBED_OPTIONS = {
    "renderer": "svg",
    "ast": True,
    "actions": {"export": True, "source": False, "compiled": False, "editor": False},
}


@functools.cache
def vega_script() -> str:
    """Return the Vega + Vega-Lite + vega-embed bundle of ``vl_convert`` as a classic script (about 0.9 MB).

    It defines the page-global ``vegaEmbed`` that :func:`embed_html` calls; a report writes it once to
    ``assets/vega.js``.
    """
    return vl_convert.javascript_bundle()


@functools.cache
def vega_bundle() -> str:
    """Return :func:`vega_script` made safe to inline in ``<script>`` (a standalone page)."""
    return vega_script().replace("</script", "<\\/script")


#: What a null byte in data text is shown as, on every page and in every chart: U+FFFD, the replacement character.
#: Loaders keep a null byte inside text; a browser would drop it from HTML silently, so the report shows that there
#: was one instead (``report.html`` replaces it in each page it writes, :func:`visible_nul` in chart specs).
REPLACEMENT_CHAR = "\ufffd"


def visible_nul(value: Any) -> Any:
    r"""Return ``value`` (text, or lists and dicts of it) with each null byte made :data:`REPLACEMENT_CHAR`.

    Numbers and other values are returned as they are.

    Examples
    --------
    >>> visible_nul({"team": "ops\x00x", "n": [1, "a"]})
    {'team': 'ops\ufffdx', 'n': [1, 'a']}
    """
    if isinstance(value, str):
        return value.replace("\x00", REPLACEMENT_CHAR)
    if isinstance(value, Mapping):
        return {visible_nul(k): visible_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [visible_nul(v) for v in value]
    return value


def _script_json(value: object) -> str:
    """Return ``value`` as JSON that cannot close the surrounding ``<script>`` element, null bytes shown."""
    text = json.dumps(visible_nul(value), separators=(",", ":"))
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def embed_html(spec: Mapping[str, Any], *, element_id: str, fallback_html: str = "") -> str:
    """Return a ``<div>`` + ``<script>`` drawing ``spec`` with the page-global ``vegaEmbed``.

    Parameters
    ----------
    spec
        A Vega-Lite spec (``chart.to_dict()``).
    element_id
        Id of the ``<div>``; unique on the page.
    fallback_html
        Shown until (and unless) ``vegaEmbed`` draws the chart, e.g. a static SVG.

    Returns
    -------
    str
    """
    message = "Interactive chart unavailable: the Vega bundle is not loaded on this page."
    notice = fallback_html or f'<p class="finops-vega-message">{html.escape(message)}</p>'
    return (
        f'<div class="finops-vega" id="{html.escape(element_id)}">{notice}</div>\n'
        '<script type="text/javascript">\n(function () {\n'
        f"  var el = document.getElementById({_script_json(element_id)});\n"
        '  if (typeof window.vegaEmbed !== "function") { return; }\n'
        f"  window.vegaEmbed(el, {_script_json(dict(spec))}, {_script_json(_EMBED_OPTIONS)})\n"
        '    .catch(function (err) { el.textContent = "Chart error: " + err; console.error(err); });\n'
        "})();\n</script>"
    )


def offline_mimebundle(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    """Altair renderer: the Vega-Lite spec, plus ``text/html`` that works without network.

    Parameters
    ----------
    spec
        The Vega-Lite spec Altair passes to renderers.
    **metadata
        Renderer options: ``static_fallback`` (default ``True``) embeds a static SVG drawn by
        ``vl_convert`` for front ends that cannot run the page-global ``vegaEmbed``; the
        environment variable ``FINOPS_STATIC_CHARTS=0`` turns it off by default.

    Returns
    -------
    dict
        A mimebundle.
    """
    # Altair's own "application/vnd.vegalite.v6.json" fails nbformat validation (JSON values need "+json").
    mimetype = f"application/vnd.vegalite.{alt.SCHEMA_VERSION.split('.')[0]}+json"
    fallback = ""
    if metadata.get("static_fallback", os.environ.get(STATIC_CHARTS_ENV, "1") != "0"):

        svg = vl_convert.vegalite_to_svg(spec)
        fallback = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    element_id = f"finops-vega-{uuid.uuid4().hex[:12]}"
    return {
        mimetype: spec,
        "text/html": embed_html(spec, element_id=element_id, fallback_html=fallback),
        "text/plain": "<Altair chart>",
    }
