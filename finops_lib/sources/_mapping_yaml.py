"""Loading and validating the YAML mappings of the ``mapped:<name>`` formats.

The keys a mapping may hold are described in :mod:`finops_lib.sources.mapped`, which registers
them as source formats; their SQL is built by :mod:`~finops_lib.sources._mapped_requests` (``table: requests``)
and :mod:`~finops_lib.sources._mapped_costs` (``table: costs``). Every problem is a
:class:`~finops_lib.errors.SourceError` naming the mapping file and the line of the offending key (YAML node marks).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from finops_lib.errors import SourceError
from finops_lib.schema import COSTS

PREFIX = "mapped:"
TOP_KEYS = ("name", "description", "table", "match", "columns", "optional", "time", "period", "tokens", "constants",
            "lookups", "models", "status", "tags", "currency", "restates")
#: Keys that only one table's mappings take.
TABLE_KEYS = {"requests": ("tokens", "status"), "costs": ("period", "lookups", "restates")}
#: Unix time formats (``time.format``); :data:`finops_lib.sources._mapped_sql.TIME_FORMATS` gives their SQL.
UNIX_TIMES = ("unix_s", "unix_ms", "unix_us", "unix_ns")
COUNTS = ("input_tokens", "x_InputUncachedTokens", "x_InputCacheReadTokens", "x_InputCacheWrite5mTokens",
          "x_InputCacheWrite1hTokens", "x_OutputTokens", "x_OutputReasoningTokens")
TEXTS = ("x_RequestId", "ProviderName", "x_Model", "x_ModelRaw", "x_Operation", "x_ServiceTier", "x_ContextTier",
         "BillingCurrency", "SubAccountId", "x_ApiKeyId", "x_UserId", "x_Team", "x_Application", "x_Feature",
         "x_Environment", "x_ExperimentId", "x_Variant", "x_SessionId")
TARGETS = ("ChargePeriodStart", "ChargePeriodEnd", *COUNTS, "x_LatencyMs", "x_ReportedCost", "x_QualityScore", *TEXTS)
CONSTANT_TARGETS = tuple(t for t in TEXTS if t != "x_RequestId")
#: ``table: costs``: the money columns (EffectiveCost, ListCost, ContractedCost default to BilledCost) ...
COST_MONEY = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
#: ... every decimal field a costs mapping fills ...
COST_NUMBERS = (*COST_MONEY, "ConsumedQuantity", "PricingQuantity", "ListUnitPrice", "ContractedUnitPrice")
#: ... and its text fields (each a column, a constant or a lookup).
COST_TEXTS = ("BillingCurrency", "BillingAccountId", "BillingAccountName", "ProviderName", "PublisherName",
              "InvoiceIssuerName", "ServiceName", "ServiceCategory", "ServiceSubcategory", "ChargeCategory",
              "ChargeFrequency", "ChargeDescription", "PricingCategory", "ConsumedUnit", "PricingUnit", "SkuId",
              "SkuMeter", "RegionId", "ResourceId", "ResourceName", "SubAccountId", "SubAccountName", "x_Model",
              "x_ModelRaw", "x_UserId", "x_ApiKeyId", "x_Team", "x_Application", "x_Feature", "x_Environment")
COST_TARGETS = ("ChargePeriodStart", "ChargePeriodEnd", *COST_NUMBERS, *COST_TEXTS)
#: Text fields of ``costs`` with a closed set of values (matched case-insensitively, written as the schema spells).
COST_CHOICES: dict[str, tuple[str, ...]] = {name: COSTS.column(name).allowed or ()
                                            for name in ("ChargeCategory", "ChargeFrequency", "PricingCategory")}
#: How long a costs row's charge period is when no ChargePeriodEnd column says (``period:``).
PERIODS = ("day", "month", "year")
#: What a costs file restates (``restates:``): its whole date span per billing account and sub-account, or only
#: rows of the same content.
RESTATES = ("span", "rows")


@dataclass(frozen=True)
class Lookup:
    """A field of a costs mapping read from a source column through a table of values (``lookups:``).

    A value found in ``values`` (trimmed, case-insensitive) gives its entry; another gives ``default``, or, without
    a default, the value as written.
    """

    column: str
    values: dict[str, str] = field(default_factory=dict)
    default: str | None = None


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
    currency: str | None = "USD"
    table: str = "requests"
    optional: tuple[str, ...] = ()
    period: str = "day"
    lookups: dict[str, Lookup] = field(default_factory=dict)
    restates: str = "span"
    tag_keys: dict[str, str] = field(default_factory=dict)

    @property
    def format(self) -> str:
        """The registered format name, ``mapped:<name>``."""
        return PREFIX + self.name

    def source(self, target: str) -> str | None:
        """Return the source column mapped to ``target``, if any."""
        return next((src for src, tgt in self.columns.items() if tgt == target), None)

    def source_columns(self) -> list[str]:
        """Source columns the mapping reads (mapped columns, status and lookup columns), tags aside."""
        extra = [self.status.get("column"), self.status.get("failure_when_zero")]
        lookups = [spec.column for spec in self.lookups.values()]
        return list(dict.fromkeys([*self.columns, *(c for c in extra if c), *lookups]))

    def required_columns(self) -> list[str]:
        """Source columns the file must have (those the mapping reads, less the ``optional`` ones)."""
        return [c for c in self.source_columns() if c not in self.optional]


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


def _columns(data: dict[str, Any], check: _Checker, table: str) -> dict[str, str]:
    columns = data.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise check.fail(("columns",), f"'columns' must map source columns to {table} fields")
    targets = TARGETS if table == "requests" else COST_TARGETS
    seen: dict[str, str] = {}
    for source, target in columns.items():
        if not isinstance(target, str) or target not in targets:
            close = difflib.get_close_matches(str(target), targets, n=1)
            hint = (" (use the status: section)" if target == "x_Status" and table == "requests"
                    else f" (did you mean {close[0]!r}?)" if close else "")
            where = "" if table == "requests" else " of the costs table"
            raise check.fail(("columns", str(source)), f"unknown target field {target!r}{where}{hint}")
        if target in seen:
            raise check.fail(("columns", str(source)), f"{target} is already mapped from column {seen[target]!r}")
        seen[target] = str(source)
    if "ChargePeriodStart" not in seen:
        raise check.fail(("columns",), "no column is mapped to ChargePeriodStart")
    if table == "costs":
        if "BilledCost" not in seen:
            raise check.fail(("columns",), "no column is mapped to BilledCost (a costs mapping needs the amount)")
    elif not any(t in seen for t in COUNTS):
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


def _choice(check: _Checker, where: tuple[str, ...], target: str, value: str) -> str:
    """Return ``value`` as the schema spells it when ``target`` has a closed set of values; raise when not in it."""
    allowed = COST_CHOICES.get(target)
    if not allowed:
        return value
    found = next((a for a in allowed if a.lower() == value.strip().lower()), None)
    if found is None:
        raise check.fail(where, f"{value!r} is not a {target} ({', '.join(allowed)})")
    return found


def _constants(data: dict[str, Any], check: _Checker, table: str) -> dict[str, str]:
    constants = check.kind(data, "constants", dict, "a mapping of field -> value") or {}
    targets = CONSTANT_TARGETS if table == "requests" else COST_TEXTS
    out = {}
    for target, value in constants.items():
        if target not in targets or isinstance(value, dict | list) or value is None:
            raise check.fail(("constants", str(target)), f"constant {target!r} must be one of the text fields "
                             f"({', '.join(targets[:3])}, ...) with a scalar value")
        out[str(target)] = _choice(check, ("constants", str(target)), str(target), str(value))
    return out


def _tags(data: dict[str, Any], check: _Checker) -> tuple[tuple[str, ...], dict[str, str]]:
    """Return the tag columns and their keys in ``Tags`` (a list: the column names; a mapping: column -> key)."""
    tags = data.get("tags")
    if isinstance(tags, dict):
        if not all(isinstance(k, str | int) and isinstance(v, str | int) for k, v in tags.items()):
            raise check.fail(("tags",), "'tags' must be a list of columns or a mapping of column -> tag key")
        keys = {str(k): str(v) for k, v in tags.items()}
        if len(set(keys.values())) < len(keys):
            raise check.fail(("tags",), "two tag columns are given the same tag key")
        return tuple(keys), {k: v for k, v in keys.items() if k != v}
    return check.texts(("tags",), tags), {}


def _options(data: dict[str, Any], check: _Checker, table: str) -> dict[str, Any]:
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
    given = check.kind(data, "currency", str, "an ISO 4217 code")
    currency = str(given or "USD").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise check.fail(("currency",), f"currency {currency!r} is not an ISO 4217 code")
    tags, tag_keys = _tags(data, check)
    return {"constants": _constants(data, check, table), "models": {str(k): str(v) for k, v in models.items()},
            "status": status, "currency": currency if given or table == "requests" else None,
            "input_includes_cache": tokens.get("input_includes_cache", True),
            "match": check.texts(("match",), data.get("match")), "tags": tags, "tag_keys": tag_keys,
            "optional": check.texts(("optional",), data.get("optional"))}


def _lookups(data: dict[str, Any], check: _Checker) -> dict[str, Lookup]:
    specs = check.kind(data, "lookups", dict, "a mapping of field -> {column, values, default}") or {}
    out = {}
    for target, spec in specs.items():
        where = ("lookups", str(target))
        if target not in COST_TEXTS:
            raise check.fail(where, f"lookup {target!r} must be one of the text fields ({', '.join(COST_TEXTS[:3])}, "
                                    "...)")
        if not isinstance(spec, dict) or set(spec) - {"column", "values", "default"} or \
                not isinstance(spec.get("column"), str | int) or not isinstance(spec.get("values", {}), dict):
            raise check.fail(where, f"lookup {target!r} takes column (required), values (a mapping) and default")
        values = {}
        for key, value in (spec.get("values") or {}).items():
            if isinstance(value, dict | list) or value is None:
                raise check.fail((*where, "values", str(key)), "a lookup value must be a scalar")
            values[str(key).strip().lower()] = _choice(check, (*where, "values", str(key)), str(target), str(value))
        default = spec.get("default")
        if isinstance(default, dict | list):
            raise check.fail((*where, "default"), "a lookup default must be a scalar")
        default = None if default is None else _choice(check, (*where, "default"), str(target), str(default))
        out[str(target)] = Lookup(str(spec["column"]), values, default)
    return out


def _costs_options(data: dict[str, Any], check: _Checker, columns: dict[str, str],
                   options: dict[str, Any]) -> dict[str, Any]:
    """Validate what only a costs mapping takes (period, lookups, restates) and what it must say."""
    period = str(data.get("period", "day"))
    if period not in PERIODS:
        raise check.fail(("period",), f"period {period!r} is not one of {', '.join(PERIODS)}")
    restates = str(data.get("restates", "span"))
    if restates not in RESTATES:
        raise check.fail(("restates",), f"restates {restates!r} is not one of {', '.join(RESTATES)}")
    lookups = _lookups(data, check)
    for target in lookups:
        if target in columns.values() or target in options["constants"]:
            raise check.fail(("lookups", target), f"{target} is also a mapped column or a constant")
    if options["currency"] is None and "BillingCurrency" not in columns.values() and \
            "BillingCurrency" not in lookups and "BillingCurrency" not in options["constants"]:
        raise check.fail(("columns",), "a costs mapping needs its currency: a column mapped to BillingCurrency "
                                       "or a currency: key")
    if not any("ProviderName" in where for where in (columns.values(), options["constants"], lookups)):
        raise check.fail(("columns",), "a costs mapping needs ProviderName: a column, a constant or a lookup")
    return {"period": period, "restates": restates, "lookups": lookups}


def _check_optional(check: _Checker, m: Mapping) -> None:
    """Check that optional columns are read by the mapping, and that none holds a field a row cannot do without."""
    needed = {m.source("ChargePeriodStart"), m.source("BilledCost")}
    for i, column in enumerate(m.optional):
        if column not in m.source_columns():
            raise check.fail(("optional", str(i)), f"optional column {column!r} is not one the mapping reads")
        if column in needed:
            raise check.fail(("optional", str(i)), f"column {column!r} holds a required field: it cannot be optional")


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
    table = str(data.get("table", "requests"))
    if table not in TABLE_KEYS:
        raise check.fail(("table",), f"table {table!r}: mappings fill the requests or the costs table")
    for other, keys in TABLE_KEYS.items():
        for key in (k for k in keys if k in data and other != table):
            raise check.fail((key,), f"'{key}' applies to table: {other} mappings only")
    description = str(check.kind(data, "description", str, "a text") or f"CSV/Parquet mapped by {path.name}")
    columns, time, options = _columns(data, check, table), _time(data, check), _options(data, check, table)
    for target in options["constants"]:
        if target in columns.values():
            raise check.fail(("constants", target), f"{target} is both a constant and a mapped column")
    if "epoch" in time and time["time_format"] not in UNIX_TIMES:
        raise check.fail(("time", "epoch"), "an epoch applies to unix_s/ms/us/ns times only")
    extra = _costs_options(data, check, columns, options) if table == "costs" else {}
    mapping = Mapping(name, path, description, columns, table=table, **time, **options, **extra)
    _check_optional(check, mapping)
    return mapping
