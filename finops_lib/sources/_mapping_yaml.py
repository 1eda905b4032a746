"""Loading and validating the YAML mappings of the ``mapped:<name>`` formats.

The keys a mapping may hold are described in :mod:`finops_lib.sources.mapped`, which registers
them as source formats and builds their SQL. Every problem is a :class:`~finops_lib.errors.SourceError`
naming the mapping file and the line of the offending key (YAML node marks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from finops_lib.errors import SourceError

PREFIX = "mapped:"
TOP_KEYS = ("name", "description", "table", "match", "columns", "time", "tokens", "constants", "models", "status",
            "tags", "currency")
#: Unix time formats (``time.format``); :data:`finops_lib.sources.mapped.TIME_FORMATS` gives their SQL.
UNIX_TIMES = ("unix_s", "unix_ms", "unix_us", "unix_ns")
COUNTS = ("input_tokens", "x_InputUncachedTokens", "x_InputCacheReadTokens", "x_InputCacheWrite5mTokens",
          "x_InputCacheWrite1hTokens", "x_OutputTokens", "x_OutputReasoningTokens")
TEXTS = ("x_RequestId", "ProviderName", "x_Model", "x_ModelRaw", "x_Operation", "x_ServiceTier", "x_ContextTier",
         "BillingCurrency", "SubAccountId", "x_ApiKeyId", "x_UserId", "x_Team", "x_Application", "x_Feature",
         "x_Environment", "x_ExperimentId", "x_Variant", "x_SessionId")
TARGETS = ("ChargePeriodStart", "ChargePeriodEnd", *COUNTS, "x_LatencyMs", "x_ReportedCost", "x_QualityScore", *TEXTS)
CONSTANT_TARGETS = tuple(t for t in TEXTS if t != "x_RequestId")


@dataclass(frozen=True)
class Mapping:
    """A validated YAML mapping (see :mod:`finops_lib.sources.mapped` for the keys)."""

    name: str
    path: Path
    description: str
    columns: dict[str, str]
    match: tuple[str, ...] = ()
    time_format: str = "iso"
    epoch: datetime = datetime(1970, 1, 1, tzinfo=UTC)
    timezone: str = "UTC"
    input_includes_cache: bool = True
    constants: dict[str, str] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    currency: str = "USD"

    @property
    def format(self) -> str:
        """The registered format name, ``mapped:<name>``."""
        return PREFIX + self.name

    def source(self, target: str) -> str | None:
        """Return the source column mapped to ``target``, if any."""
        return next((src for src, tgt in self.columns.items() if tgt == target), None)

    def required_columns(self) -> list[str]:
        """Source columns the file must have (mapped columns and status columns)."""
        extra = [self.status.get("column"), self.status.get("failure_when_zero")]
        return list(dict.fromkeys([*self.columns, *(c for c in extra if c)]))


class _Checker:
    """Validates the YAML data, raising SourceError at the line of the offending key."""

    def __init__(self, path: Path, lines: dict[tuple[str, ...], int]) -> None:
        self.path, self.lines = path, lines

    def fail(self, where: tuple[str, ...], problem: str) -> SourceError:
        for depth in range(len(where), 0, -1):
            if where[:depth] in self.lines:
                return SourceError(self.path, problem, line=self.lines[where[:depth]], column=".".join(where))
        return SourceError(self.path, problem, line=1)

    def kind(self, data: dict[str, Any], key: str, types: type | tuple[type, ...], what: str) -> Any:
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
            raise self.fail((key,), f"'{key}' must be {what}")
        return value

    def texts(self, where: tuple[str, ...], value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise self.fail(where, f"'{where[-1]}' must be a list of column names or values")
        return tuple(str(v) for v in value)


def _index(node: yaml.Node, where: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> None:
    """Record the line of every mapping key and list item under ``node``."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = (*where, str(key.value))
            lines.setdefault(here, key.start_mark.line + 1)
            _index(value, here, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.setdefault((*where, str(i)), item.start_mark.line + 1)
            _index(item, (*where, str(i)), lines)


def _parse_yaml(path: Path) -> tuple[dict[str, Any], _Checker]:
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(path, f"cannot read mapping: {exc}") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SourceError(path, f"not valid YAML: {exc.problem}", line=mark.line + 1 if mark else None) from exc
    except yaml.YAMLError as exc:
        raise SourceError(path, f"not valid YAML: {exc}") from exc
    lines: dict[tuple[str, ...], int] = {}
    if node is not None:
        _index(node, (), lines)
    checker = _Checker(path, lines)
    if not isinstance(data, dict):
        raise SourceError(path, "a mapping must be a YAML mapping of keys (name, columns, ...)", line=1)
    for key in data:
        if str(key) not in TOP_KEYS:
            raise checker.fail((str(key),), f"unknown key {key!r}; known: {', '.join(TOP_KEYS)}")
    return data, checker


def _columns(data: dict[str, Any], check: _Checker) -> dict[str, str]:
    columns = data.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise check.fail(("columns",), "'columns' must map source columns to requests fields")
    seen: dict[str, str] = {}
    for source, target in columns.items():
        if not isinstance(target, str) or target not in TARGETS:
            hint = " (use the status: section)" if target == "x_Status" else ""
            raise check.fail(("columns", str(source)), f"unknown target field {target!r}{hint}")
        if target in seen:
            raise check.fail(("columns", str(source)), f"{target} is already mapped from column {seen[target]!r}")
        seen[target] = str(source)
    if "ChargePeriodStart" not in seen:
        raise check.fail(("columns",), "no column is mapped to ChargePeriodStart")
    if not any(t in seen for t in COUNTS):
        raise check.fail(("columns",), "no token column is mapped (input_tokens, x_OutputTokens, ...)")
    if "input_tokens" in seen and "x_InputUncachedTokens" in seen:
        raise check.fail(("columns", seen["x_InputUncachedTokens"]),
                         "map either input_tokens or x_InputUncachedTokens, not both")
    return {str(k): v for k, v in columns.items()}


def _time(data: dict[str, Any], check: _Checker) -> dict[str, Any]:
    spec = check.kind(data, "time", dict, "a mapping (format, epoch, timezone)") or {}
    for key in spec:
        if key not in ("format", "epoch", "timezone"):
            raise check.fail(("time", str(key)), f"unknown time key {key!r} (format, epoch, timezone)")
    fmt = str(spec.get("format", "iso"))
    if fmt not in ("iso", *UNIX_TIMES) and "%" not in fmt:
        raise check.fail(("time", "format"), f"time format {fmt!r} is not iso, unix_s/ms/us/ns or a strftime pattern")
    out: dict[str, Any] = {"time_format": fmt, "timezone": str(spec.get("timezone", "UTC"))}
    try:
        ZoneInfo(out["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise check.fail(("time", "timezone"), f"unknown time zone {out['timezone']!r}") from None
    if "epoch" in spec:
        try:
            epoch = datetime.fromisoformat(str(spec["epoch"]).replace(" ", "T"))
        except ValueError:
            raise check.fail(("time", "epoch"), f"epoch {spec['epoch']!r} is not an ISO-8601 time") from None
        local = epoch.replace(tzinfo=ZoneInfo(out["timezone"])) if epoch.tzinfo is None else epoch
        out["epoch"] = local.astimezone(UTC)
    return out


def _options(data: dict[str, Any], check: _Checker) -> dict[str, Any]:
    constants = check.kind(data, "constants", dict, "a mapping of field -> value") or {}
    for target, value in constants.items():
        if target not in CONSTANT_TARGETS or isinstance(value, dict | list) or value is None:
            raise check.fail(("constants", str(target)), f"constant {target!r} must be one of the text fields "
                             "(ProviderName, x_ModelRaw, x_Team, ...) with a scalar value")
    models = check.kind(data, "models", dict, "a mapping of source model value -> model id") or {}
    status = check.kind(data, "status", dict, "a mapping (column, failure_values, success_values, "
                                              "failure_when_zero)") or {}
    for key in status:
        if key not in ("column", "failure_values", "success_values", "failure_when_zero"):
            raise check.fail(("status", str(key)), f"unknown status key {key!r}")
    for key in ("failure_values", "success_values"):
        status = {**status, key: tuple(v.lower() for v in check.texts(("status", key), status.get(key)))}
    tokens = check.kind(data, "tokens", dict, "a mapping (input_includes_cache)") or {}
    if set(tokens) - {"input_includes_cache"} or not isinstance(tokens.get("input_includes_cache", True), bool):
        raise check.fail(("tokens",), "'tokens' takes only input_includes_cache: true or false")
    currency = str(check.kind(data, "currency", str, "an ISO 4217 code") or "USD").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise check.fail(("currency",), f"currency {currency!r} is not an ISO 4217 code")
    return {"constants": {k: str(v) for k, v in constants.items()}, "models": {str(k): str(v) for k, v in
            models.items()}, "status": status, "currency": currency,
            "input_includes_cache": tokens.get("input_includes_cache", True),
            "match": check.texts(("match",), data.get("match")), "tags": check.texts(("tags",), data.get("tags"))}


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a YAML mapping file.

    Parameters
    ----------
    path
        The ``.yaml`` file.

    Returns
    -------
    Mapping
        The validated mapping.

    Raises
    ------
    SourceError
        Naming the mapping file and the line of the offending key.
    """
    path = Path(path)
    data, check = _parse_yaml(path)
    name = check.kind(data, "name", str, "a text")
    if not name or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise check.fail(("name",), "'name' is required: letters, digits, '_', '.', '-'")
    if str(data.get("table", "requests")) != "requests":
        raise check.fail(("table",), "mappings fill the requests table only (table: requests)")
    description = str(check.kind(data, "description", str, "a text") or f"CSV/Parquet mapped by {path.name}")
    columns, time, options = _columns(data, check), _time(data, check), _options(data, check)
    for target in options["constants"]:
        if target in columns.values():
            raise check.fail(("constants", target), f"{target} is both a constant and a mapped column")
    if "epoch" in time and time["time_format"] not in UNIX_TIMES:
        raise check.fail(("time", "epoch"), "an epoch applies to unix_s/ms/us/ns times only")
    return Mapping(name, path, description, columns, **time, **options)
