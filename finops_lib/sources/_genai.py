"""JSON documents and GenAI dimension helpers shared by the trace readers (OTel GenAI spans, Langfuse).

A trace export is one JSON document, newline-delimited documents or concatenated ones
(:func:`read_documents`); a record's attributes or metadata are merged under their names without the
instrumentations' namespaces (:func:`normalized_keys`) and read into the dimension columns, the quality
score, ``Tags`` (never message content) and the provider; counts and amounts are read exactly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from finops_lib.errors import SourceError
from finops_lib.models import MODEL_PREFIX_PROVIDERS, provider_name
from finops_lib.sources._common import MAX_COUNT, MONEY_LIMIT, Fault, json_number, money, plausible_time
from finops_lib.sources._compressed import open_input

#: ``service_tier`` values written by the instrumentations -> schema service tier.
TIERS = {"default": "standard", "auto": "standard", "standard": "standard", "on_demand": "standard",
         "flex": "flex", "priority": "priority", "scale": "provisioned", "batch": "batch"}
#: OTel ``gen_ai.provider.name`` values that :func:`finops_lib.models.provider_name` does not know.
OTEL_PROVIDERS = {"azure.ai.inference": "Microsoft", "gcp.gen_ai": "Google", "ibm.watsonx.ai": "IBM",
                  "mistral_ai": "Mistral", "x_ai": "xAI", "deepseek": "DeepSeek", "groq": "Groq",
                  "perplexity": "Perplexity", "cohere": "Cohere"}
#: Attribute or metadata keys (lower case, after :data:`KEY_PREFIXES` are removed) per column.
DIMENSION_KEYS: dict[str, tuple[str, ...]] = {
    "x_Team": ("team", "team.name", "team_name", "team_id"),
    "x_Application": ("app", "application", "app.name", "application.name", "app_name"),
    "x_Feature": ("feature", "feature.name", "feature_name"),
    "x_Environment": ("env", "environment", "deployment.environment.name", "deployment.environment"),
    "x_ExperimentId": ("experiment_id", "experiment.id", "experiment", "experiment.name"),
    "x_Variant": ("variant", "experiment.variant", "experiment_variant", "variant.name"),
    "x_UserId": ("user.id", "enduser.id", "user_id", "user"),
    "x_SessionId": ("gen_ai.conversation.id", "session.id", "session_id", "conversation.id", "thread_id"),
    "SubAccountId": ("project", "project.id", "project_id", "workspace", "workspace_id"),
    "x_ApiKeyId": ("api_key_id", "api_key.id"),
}
QUALITY_KEYS = ("quality_score", "quality.score", "score.quality")
#: Namespaces under which instrumentations put user-defined properties.
KEY_PREFIXES = ("traceloop.association.properties.", "langfuse.trace.metadata.", "langfuse.observation.metadata.",
                "langfuse.", "app.", "tag.", "metadata.")
#: Keys holding message content: never copied into ``Tags``.
_CONTENT = re.compile(r"(prompt|completion|messages|instructions|tool\.definitions|content|input\.value|"
                      r"output\.value|\.input$|\.output$)", re.I)


@dataclass(frozen=True)
class Document:
    """One top-level JSON value of a file: where it starts, its value, or why it is unreadable."""

    line: int
    value: Any
    error: str | None = None


def read_documents(path: Path) -> tuple[list[Document], bool]:
    """Return the JSON documents of a file and whether it holds several (one per line, or concatenated).

    A file of several lines of which one of the first five is a whole JSON object is newline-delimited:
    it is read line by line, and a line that is not JSON (or not UTF-8) becomes a
    :class:`Document` with an ``error`` instead of failing the file. A single document, or
    concatenated documents, must parse; only a broken last document is kept as an error.

    Raises
    ------
    SourceError
        When the file cannot be read, or its (first) document is not JSON.
    """
    try:
        with open_input(path) as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise SourceError(path, f"cannot read file: {exc}") from exc
    lines = data.split(b"\n")
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if len(filled) > 1 and any(_is_json_object(lines[i]) for i in filled[:5]):
        return [line_document(i + 1, lines[i]) for i in filled], True
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(path, f"not UTF-8 text (byte {exc.start})") from exc
    return _concatenated(path, text)


def newline_delimited_head(path: Path, *, longest: int = 16 * 2**20) -> bool:
    """Whether :func:`read_documents` reads the (plain) file line by line, decided from its first lines.

    True when the file has two filled lines and one of its first five is a whole JSON object or array. A line longer
    than ``longest`` bytes before that is decided says no (the file is read whole).
    """
    filled: list[bytes] = []
    with path.open("rb") as fh:
        while len(filled) < 5:
            line = fh.readline(longest)
            if not line:
                break
            if len(line) == longest and not line.endswith(b"\n"):
                return False
            if line.strip():
                filled.append(line.rstrip(b"\n"))
    return len(filled) > 1 and any(_is_json_object(line) for line in filled)


def _is_json_object(line: bytes) -> bool:
    """Whether a line alone is a non-empty JSON object or array (so the file is newline-delimited)."""
    try:
        value = json.loads(line.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(value, dict | list) and bool(value)


def line_document(number: int, line: bytes) -> Document:
    """Return one line of a newline-delimited file as a document (an error in place of a line that is not JSON)."""
    try:
        return Document(number, json.loads(line.decode("utf-8-sig"), parse_float=json_number))
    except UnicodeDecodeError as exc:
        return Document(number, None, f"not UTF-8 text (byte {exc.start})")
    except ValueError as exc:
        return Document(number, None, f"not valid JSON: {exc}")


def _concatenated(path: Path, text: str) -> tuple[list[Document], bool]:
    decoder = json.JSONDecoder(parse_float=json_number)
    docs: list[Document] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        line = text.count("\n", 0, pos) + 1
        try:
            value, pos = decoder.raw_decode(text, pos)
        except ValueError as exc:
            if not docs:
                raise SourceError(path, f"not valid JSON: {exc}", line=getattr(exc, "lineno", None)) from exc
            docs.append(Document(line, None, f"not valid JSON: {exc}"))
            break
        docs.append(Document(line, value))
    if not docs:
        raise SourceError(path, "empty file: no JSON document")
    return docs, len(docs) > 1


def token_count(value: object, column: str) -> int:
    """Return ``value`` as a non-negative integer token count (integral floats and digit strings too).

    Raises
    ------
    Fault
        When it is not one.
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str | float):
        raise Fault(column, value, "not a non-negative integer")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise Fault(column, value, "not a non-negative integer") from None
    if not number.is_finite() or number < 0 or number != number.to_integral_value():
        raise Fault(column, value, "not a non-negative integer")
    if number > MAX_COUNT:
        raise Fault(column, value, f"implausibly large (over {MAX_COUNT:.0e})")
    return int(number)


def exact_amount(value: object, column: str) -> Decimal:
    """Return a money amount parsed exactly from its JSON text (never through float), 12 places."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise Fault(column, value, "not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise Fault(column, value, "not a number") from None
    if not number.is_finite() or number < 0:
        raise Fault(column, value, "not a non-negative number")
    if number >= MONEY_LIMIT:
        raise Fault(column, value, "out of range (a money column holds magnitudes below 1e26)")
    return money(number)


def plausible(ts: datetime, column: str, value: object) -> datetime:
    """Return ``ts`` when it lies in the plausible window (:func:`~finops_lib.sources._common.date_window`)."""
    return plausible_time(ts, column, value)


def iso_time(value: object, column: str) -> datetime:
    """Return an ISO-8601 time as UTC (a zone-less time is UTC), or raise :class:`Fault` naming ``column``."""
    if isinstance(value, str) and value.strip():
        try:
            ts = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return plausible(ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC), column, value)
    raise Fault(column, value, "not an ISO-8601 time")


def normalized_keys(*sources: dict[str, Any]) -> dict[str, Any]:
    """Merge attribute/metadata dicts (later ones win) keyed by lower-case name without namespace prefixes."""
    out: dict[str, Any] = {}
    for source in sources:
        for key, value in source.items():
            name = str(key).lower()
            out[name] = value
            for prefix in KEY_PREFIXES:
                if name.startswith(prefix) and len(name) > len(prefix):
                    out[name[len(prefix):]] = value
                    break
    return out


def dimensions(keys: dict[str, Any]) -> dict[str, str | None]:
    """Return the dimension columns found in normalized keys (first matching key per column)."""
    out: dict[str, str | None] = {}
    for column, names in DIMENSION_KEYS.items():
        found = next((keys[n] for n in names if scalar_text(keys.get(n)) is not None), None)
        out[column] = scalar_text(found)
    return out


def quality_score(keys: dict[str, Any]) -> float | None:
    """Return a quality score in [0, 1] from normalized keys, else None."""
    for name in QUALITY_KEYS:
        try:
            score = float(str(keys[name]))
        except (KeyError, ValueError, TypeError):
            continue
        if 0 <= score <= 1:
            return score
    return None


def small_tags(values: dict[str, Any]) -> dict[str, Any]:
    """Keep scalar (and list-of-scalar) values that are not message content, strings cut to 256 chars."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if _CONTENT.search(str(key)):
            continue
        if isinstance(value, list) and all(isinstance(v, str | int | float | bool | Decimal) for v in value):
            out[str(key)] = [str(v)[:256] if isinstance(v, str) else v for v in value][:50]
        elif isinstance(value, str):
            out[str(key)] = value[:256]
        elif isinstance(value, int | float | bool | Decimal):
            out[str(key)] = value
    return out


def provider_for(raw: object, model: str | None) -> str:
    """Return the FOCUS provider name from a provider spelling, else the model's prefix, else ``Unknown``."""
    if scalar_text(raw) is not None:
        key = str(raw).strip().lower()
        return OTEL_PROVIDERS.get(key) or provider_name(key) or "Unknown"
    for prefix, name in MODEL_PREFIX_PROVIDERS:
        if model and model.startswith(prefix):
            return name
    return "Unknown"


def tags_json(values: dict[str, Any]) -> str | None:
    """Return the JSON text of a tags dict (Decimals as numbers), None when empty."""
    return json.dumps(values, default=lambda v: float(v) if isinstance(v, Decimal) else str(v),
                      sort_keys=True) if values else None


def scalar_text(value: object) -> str | None:
    """Return a scalar value as stripped text; None when empty, absent, or an object or list."""
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None
