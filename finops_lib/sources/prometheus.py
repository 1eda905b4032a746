"""Model servers' metrics in Prometheus form (vLLM, Hugging Face TGI, SGLang, NVIDIA DCGM): ``metrics`` rows.

Two containers, plain or gzip:

* ``prometheus_text``: the text exposition a server returns on ``GET /metrics`` (format 0.0.4), saved as a file:
  one snapshot of every counter and gauge. Each sample line is a record (``x_SourceRow`` = its line), parsed with
  ``prometheus_client``'s parser (one line at a time, with its family's ``# TYPE`` line, so a bad line is a reject
  naming its line, never the end of the file).
* ``prometheus_range``: the JSON of the Prometheus HTTP API's ``/api/v1/query_range`` (``resultType`` ``matrix``,
  ``values`` ``[[unix seconds, "value"], ...]``) or ``/api/v1/query`` (``vector``, ``value``); each point is a
  record (``x_SourceLocator`` ``data.result[2].values[17]``, ``x_SourceRow`` its ordinal).

Rows are raw samples: a counter's value is cumulative since the server process started. Increases per day (with
restarts) are taken later, within one series (``x_SeriesId``), from the samples of every file
(:mod:`finops_lib.facts.serving`): a snapshot alone says nothing of a day's traffic, and two exports that overlap
hold the same samples under the same keys, so nothing is counted twice.

Quirks handled here (names from docs.vllm.ai "Metrics", huggingface.co/docs/text-generation-inference
"Metrics", SGLang's production metrics, NVIDIA dcgm-exporter's default counters):

* Names map to the schema's metrics (:data:`finops_lib.schema.METRICS`): vLLM ``vllm:prompt_tokens_total``,
  ``vllm:generation_tokens_total``, ``vllm:request_success_total`` (per ``finished_reason``),
  ``vllm:num_requests_running``/``_waiting``, ``vllm:gpu_cache_usage_perc`` (v0) and ``vllm:kv_cache_usage_perc``
  (v1), both a fraction despite the name; SGLang the same under ``sglang:``; TGI's counters have no ``_total``
  (``tgi_request_success``, ``tgi_request_count``) and its tokens are the ``_sum`` of the input-length and
  generated-tokens histograms; DCGM's ``DCGM_FI_DEV_GPU_UTIL`` is a percentage (divided by 100). Any other sample
  is kept under its own name, its kind from its ``# TYPE`` (histogram and summary ``_sum``, ``_count`` and
  ``_bucket`` are counters).
* The model: the ``model_name`` (vLLM, SGLang), ``served_model_name``, ``model`` or ``model_id`` label; never
  DCGM's ``modelName``, which names the GPU. TGI names none: map its deployment to a model in the configuration.
* The deployment: the ``deployment``, ``service``, ``job`` or ``app`` label, else the file's name without its time
  (``vllm-llama-70b_2026-05-01T12-00-00Z.prom`` -> ``vllm-llama-70b``), else the folder's name.
* Times: a text sample's own timestamp (milliseconds), else the time written in the file's name (ISO 8601,
  ``2026-05-01T12:00:00Z``, ``20260501T120000Z`` or ``2026-05-01T12-00-00Z``; no zone: UTC). A snapshot with
  neither fails as a whole, saying so: the file's modification time changes with every copy and is never used.
* A value that is missing, not a finite number or beyond 2**53, or a negative counter, is rejected.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend

from finops_lib.errors import SourceError
from finops_lib.models import canonical_model
from finops_lib.schema import METRICS
from finops_lib.sources import ReadResult, register_source
from finops_lib.sources._common import Fault, flags, records_table, reject, row_hash, unix_in_window
from finops_lib.sources._compressed import open_input

TEXT, RANGE = "prometheus_text", "prometheus_range"
#: Raw sample name -> (normalised metric, scale applied to the value).
NAMES: dict[str, tuple[str, float]] = {
    **{f"{p}:{raw}": (metric, 1.0) for p in ("vllm", "sglang") for raw, metric in (
        ("prompt_tokens_total", "prompt_tokens"), ("generation_tokens_total", "generation_tokens"),
        ("request_success_total", "requests"), ("num_requests_total", "requests_received"),
        ("prefix_cache_queries_total", "prefix_cache_queries"), ("prefix_cache_hits_total", "prefix_cache_hits"),
        ("num_requests_running", "requests_running"), ("num_requests_waiting", "requests_waiting"),
        ("gpu_cache_usage_perc", "kv_cache_usage"), ("kv_cache_usage_perc", "kv_cache_usage"))},
    "sglang:num_running_reqs": ("requests_running", 1.0),
    "sglang:num_queue_reqs": ("requests_waiting", 1.0),
    "sglang:token_usage": ("kv_cache_usage", 1.0),
    "tgi_request_success": ("requests", 1.0),
    "tgi_request_count": ("requests_received", 1.0),
    "tgi_request_input_length_sum": ("prompt_tokens", 1.0),
    "tgi_request_generated_tokens_sum": ("generation_tokens", 1.0),
    "tgi_queue_size": ("requests_waiting", 1.0),
    "tgi_batch_current_size": ("requests_running", 1.0),
    "DCGM_FI_DEV_GPU_UTIL": ("gpu_utilization", 0.01),
}  # fmt: skip
#: The largest magnitude loaded: floats count every whole number up to 2**53 (a token counter past it is corrupt).
LARGEST = 2.0**53
_SOURCES = (("vllm:", "vllm"), ("sglang:", "sglang"), ("tgi_", "tgi"), ("DCGM_", "dcgm"))
MODEL_LABELS = ("model_name", "served_model_name", "model", "model_id")
DEPLOYMENT_LABELS = ("deployment", "service", "job", "app")
#: Labels that tell one process or device from another: a series carrying one is known without the file's name.
LOCATION_LABELS = ("instance", "pod", "UUID", "Hostname", "node")
_SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")
_KINDS = {"counter": "counter", "gauge": "gauge", "histogram": "counter", "summary": "counter",
          "gaugehistogram": "gauge", "untyped": "unknown", "unknown": "unknown"}  # fmt: skip
_SAMPLE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?\s+\S+(\s+-?\d+)?\s*$")
_TYPE = re.compile(r"^#\s*TYPE\s+(\S+)\s+(\S+)")
_NAME_TIME = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})[T_ ](\d{2})[:-]?(\d{2})(?:[:-]?(\d{2}))?(Z|[+-]\d{2}:?\d{2})?")


def _detect_text(path: Path, head: str) -> bool:
    lines = [line.strip() for line in head.lstrip("\ufeff").splitlines()[:40] if line.strip()]
    if not lines or lines[0].startswith(("{", "[")):
        return False
    samples = [line for line in lines if not line.startswith("#")]
    good = sum(1 for line in samples if _SAMPLE.match(line))  # a bad line is a reject, not another format
    typed = any(_TYPE.match(line) for line in lines) or lines[0].startswith("# HELP ")
    return good > 0 and good >= 0.8 * len(samples) and (
        typed or any(line.startswith(tuple(p for p, _ in _SOURCES)) for line in samples))


def _detect_range(path: Path, head: str) -> bool:
    text = head.lstrip("\ufeff \t\r\n")
    return text.startswith("{") and '"resultType"' in text and '"result"' in text and '"data"' in text


def _source(name: str) -> str:
    return next((source for prefix, source in _SOURCES if name.startswith(prefix)), "prometheus")


def _unit(name: str, metric: str) -> str:
    if metric in METRICS:
        return METRICS[metric][0]
    if name.endswith(("_count", "_bucket")):  # observations of a histogram or summary
        return "1"
    for suffix, unit in (("_seconds", "seconds"), ("_bytes", "bytes"), ("_tokens", "tokens")):
        if suffix in name:
            return unit
    return "1"


def name_time(path: Path) -> datetime | None:
    """Return the time written in a file's name (UTC; no zone: UTC), or None.

    Examples
    --------
    >>> name_time(Path("vllm-a_2026-05-01T12-30-00Z.prom")), name_time(Path("tgi_20260501T1230.txt"))
    (datetime.datetime(2026, 5, 1, 12, 30, tzinfo=datetime.timezone.utc), \
datetime.datetime(2026, 5, 1, 12, 30, tzinfo=datetime.timezone.utc))
    >>> name_time(Path("metrics.prom")) is None
    True
    """
    found = _NAME_TIME.search(path.name)
    if found is None:
        return None
    year, month, day, hour, minute, second, zone = found.groups()
    text = f"{year}-{month}-{day}T{hour}:{minute}:{second or '00'}"
    if zone and zone != "Z":
        text += zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def file_deployment(path: Path) -> str:
    """Return the deployment a file's name says: the name without its time and extension, else its folder's name.

    Examples
    --------
    >>> file_deployment(Path("/m/vllm-llama-70b_2026-05-01T12-00-00Z.prom.gz"))
    'vllm-llama-70b'
    >>> file_deployment(Path("/m/tgi-mistral/2026-05-01T12:00:00Z.txt"))
    'tgi-mistral'
    """
    stem = path.name
    for ext in (".gz", ".prom", ".txt", ".metrics", ".json"):
        stem = stem.removesuffix(ext)
    stem = _NAME_TIME.sub("", stem).strip("_-. ")
    return stem or path.parent.name


class _Series:
    """What one series' rows share: its metric, kind, unit, labels, model, deployment and id."""

    def __init__(self, raw: str, kind: str, labels: dict[str, str], default_deployment: str) -> None:
        self.raw = raw
        self.metric, self.scale = NAMES.get(raw, (raw, 1.0))
        if kind == "unknown" and raw.endswith(_SUFFIXES[:4]):  # untyped, or a range export: named like a counter
            kind = "counter"
        self.kind = METRICS[self.metric][1] if self.metric in METRICS else kind
        self.unit = _unit(raw, self.metric)
        self.labels = labels
        self.source = _source(raw)
        self.model_raw = next((labels[k] for k in MODEL_LABELS if labels.get(k)), None)
        self.model = canonical_model(self.model_raw) if self.model_raw else None
        named = next((labels[k] for k in DEPLOYMENT_LABELS if labels.get(k)), None)
        located = any(labels.get(k) for k in LOCATION_LABELS)  # the labels say where it runs: not the file's name
        self.deployment = named or (None if located else default_deployment)
        self.id = row_hash("series", self.source, raw, self.deployment, json.dumps(labels, sort_keys=True))

    def row(self, fmt: str, shown: str, moment: datetime, value: object, line: int,
            locator: str | None) -> dict[str, Any]:
        """Return the ``metrics`` row of one sample (raises :class:`Fault` for a value that cannot be loaded)."""
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise Fault("value", value, "not a number") from None
        if not math.isfinite(number):
            raise Fault("value", value, "not a finite number")
        if abs(number) > LARGEST:
            raise Fault("value", value, "out of range: beyond 2**53, where a float no longer counts exactly")
        if self.kind == "counter" and number < 0:
            raise Fault("value", value, "a counter cannot be negative")
        return {
            "ChargePeriodStart": moment, "x_MetricSource": self.source, "x_Metric": self.metric,
            "x_MetricRaw": self.raw, "x_MetricKind": self.kind, "x_Value": number * self.scale, "x_Unit": self.unit,
            "x_SeriesId": self.id, "x_Deployment": self.deployment, "x_Model": self.model, "x_ModelRaw": self.model_raw,
            "x_Cluster": self.labels.get("cluster"), "x_Namespace": self.labels.get("namespace"),
            "x_Team": self.labels.get("team"), "x_Application": self.labels.get("application"),
            "x_Feature": self.labels.get("feature"),
            "x_Environment": self.labels.get("env") or self.labels.get("environment"),
            "Tags": json.dumps(self.labels, sort_keys=True) if self.labels else None,
            "x_SourceFormat": fmt, "x_SourceFile": shown, "x_SourceRow": line, "x_SourceLocator": locator,
            "x_RowHash": row_hash("metric", self.id, moment.isoformat()), "x_DataQualityFlags": flags(),
        }  # fmt: skip


def _read_text(path: Path) -> str:
    try:
        with open_input(path) as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise SourceError(path, f"cannot read file: {exc}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(path, f"not UTF-8 text (byte {exc.start})") from exc


def _family_type(name: str, types: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    """Return (kind, ``# TYPE`` line) of the family a sample name belongs to, if the file typed it."""
    if name in types:
        return types[name]
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in types:
            return types[name.removesuffix(suffix)]
    return None


@functools.cache
def _parser() -> Callable[[str], Iterator[Any]]:
    """Return prometheus_client's text parser, imported on first use.

    The package imports an HTTP server and more (about 50 ms), which every ``finops`` command would pay at start,
    since every reader is registered then.
    """
    from prometheus_client.parser import text_string_to_metric_families

    return text_string_to_metric_families


def _parse_line(line: str, typed: tuple[str, str] | None) -> tuple[str, dict[str, str], str, float | None, str]:
    """Parse one sample line with its family's TYPE line: (name, labels, value as written, timestamp s, kind)."""
    after = line[line.rindex("}") + 1:] if "}" in line else line.split(None, 1)[1] if " " in line else ""
    if not after.split():
        raise Fault("value", "", "missing value")
    text = line if typed is None else f"{typed[1]}\n{line}"
    try:
        families = list(_parser()(text + "\n"))
    except ValueError as exc:
        raise Fault("sample", line, f"not a Prometheus sample: {exc}") from None
    samples = [(family, s) for family in families for s in family.samples]
    if len(samples) != 1:
        raise Fault("sample", line, "not a Prometheus sample line")
    family, sample = samples[0]
    kind = _KINDS.get(family.type, "unknown")
    name = _written_name(line)  # the parser adds ``_total`` to a counter written without it (TGI): kept as written
    if name.endswith("_created"):
        kind = "gauge"
    stamp = None if sample.timestamp is None else float(sample.timestamp)
    return name, dict(sample.labels), after.split()[0], stamp, kind


def _written_name(line: str) -> str:
    return line.split("{", 1)[0].split(None, 1)[0]


def _instant(written: object, *, scale: int = 1) -> datetime:
    """Return a Unix time as written (in 1/``scale`` seconds) as UTC, checked against the window before converting."""
    number = unix_in_window(written, "timestamp", scale=scale)
    return datetime.fromtimestamp(float(number / scale), UTC)


@register_source(TEXT, table="metrics", detect=_detect_text, line_id="series and time",
                 description="Prometheus text exposition of a model server (vLLM, TGI, SGLang) or GPU exporter "
                             "(DCGM): one row per sample; token and request counters, cache and GPU gauges")
def read_text(path: Path, con: BaseBackend) -> ReadResult:
    """Read a saved ``/metrics`` snapshot into ``metrics`` rows, one per sample line; bad lines go to rejects.

    ``con`` is unused: rows are built in memory. Raises :class:`SourceError` when the file cannot be read, or when
    a sample carries no timestamp and the file's name no time (a snapshot must say when it was taken).
    """
    path = Path(path)
    shown = str(path)
    when, deployment = name_time(path), file_deployment(path)
    types: dict[str, tuple[str, str]] = {}
    series: dict[tuple[str, str], _Series] = {}
    rows, rejects, count = [], [], 0
    for number, raw_line in enumerate(_read_text(path).splitlines(), start=1):
        line = raw_line.strip()
        if not line:
            continue
        if line.startswith("#"):
            typed = _TYPE.match(line)
            if typed:
                types[typed.group(1)] = (typed.group(2).lower(), line)
            continue
        count += 1
        try:
            name, labels, value, stamp, kind = _parse_line(line, _family_type(_written_name(line), types))
            if stamp is not None:
                moment = _instant(line.rsplit(None, 1)[-1], scale=1000)
            elif when is not None:
                moment = when
            else:
                raise SourceError(path, "a snapshot needs a time: its samples carry no timestamp and the file's name "
                                        "none (name it like vllm-a_2026-05-01T12-00-00Z.prom)", line=number)
            key = (name, json.dumps(labels, sort_keys=True))
            if key not in series:
                series[key] = _Series(name, kind, labels, deployment)
            rows.append(series[key].row(TEXT, shown, moment, value, number, None))
        except Fault as fault:
            rejects.append(reject(TEXT, shown, number, fault.column, fault.value, fault.reason, "metrics"))
    return ReadResult(TEXT, shown, None, None, records_table(rejects, "rejects"), count,
                      metrics=records_table(rows, "metrics"))


def _range_document(path: Path) -> list[Any]:
    """Return the ``data.result`` list of a Prometheus API response (raises SourceError for a failed query)."""
    try:
        doc = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise SourceError(path, f"not JSON: {exc.msg}", line=exc.lineno) from exc
    if isinstance(doc, dict) and doc.get("status") == "error":
        raise SourceError(path, f"the saved response is an error, not data: {doc.get('errorType', '')}".strip())
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        raise SourceError(path, "not a Prometheus API response (no data object)")
    kind = doc["data"].get("resultType")
    if kind in ("scalar", "string"):
        raise SourceError(path, f"resultType {kind!r} holds no series (a matrix or vector is read)")
    result = doc["data"].get("result")
    if not isinstance(result, list):
        raise SourceError(path, "data.result is not a list of series")
    return result


@register_source(RANGE, table="metrics", detect=_detect_range, line_id="series and time",
                 description="Prometheus HTTP API query_range / query JSON of model-server or GPU metrics: one row "
                             "per point of each series")  # fmt: skip
def read_range(path: Path, con: BaseBackend) -> ReadResult:
    """Read a Prometheus ``query_range`` (or ``query``) response into ``metrics`` rows, one per point.

    A series without ``__name__`` (an expression such as ``rate(...)`` rather than a raw metric) has its points
    rejected: an already-derived value is not a sample the workbench can take increases of.
    """
    path = Path(path)
    shown = str(path)
    deployment = file_deployment(path)
    rows, rejects, count = [], [], 0
    for i, item in enumerate(_range_document(path)):
        labels = item.get("metric") if isinstance(item, dict) else None
        points = item.get("values", [item.get("value")] if "value" in item else []) if isinstance(item, dict) else []
        if not isinstance(points, list):
            points = [points]
        where = "values" if isinstance(item, dict) and "values" in item else "value"
        series = None
        if isinstance(labels, dict) and labels.get("__name__"):
            kept = {str(k): str(v) for k, v in labels.items() if k != "__name__"}
            series = _Series(str(labels["__name__"]), "unknown", kept, deployment)
        for j, point in enumerate(points or [None]):
            count += 1
            locator = f"data.result[{i}].{where}[{j}]" if where == "values" else f"data.result[{i}].value"
            try:
                if series is None:
                    raise Fault("metric.__name__", labels, "the series has no metric name (export the raw metric, "
                                                           "not an expression)")
                if not isinstance(point, list) or len(point) != 2:
                    raise Fault(where, point, "a point is [unix seconds, \"value\"]")
                stamp, value = point
                if isinstance(stamp, bool) or not isinstance(stamp, int | float | str):
                    raise Fault("timestamp", stamp, "not a Unix time")
                moment = _instant(stamp)
                rows.append(series.row(RANGE, shown, moment, value, count, locator))
            except Fault as fault:
                rejects.append(reject(RANGE, shown, count, fault.column, fault.value, fault.reason, "metrics",
                                      locator))
    return ReadResult(RANGE, shown, None, None, records_table(rejects, "rejects"), count,
                      metrics=records_table(rows, "metrics"))
