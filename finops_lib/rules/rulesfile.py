"""Read and check an allocation rules file (YAML) node by node, so every error names its line.

The format is documented in ``docs/allocation_rules.md``; the result is a
:class:`finops_lib.rules.model.Rules`. Errors are :class:`finops_lib.errors.SourceError` with the file,
the line and the key path (``rules[2].match.projet``) and what is wrong, with a suggestion for misspelt keys.
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from finops_lib.errors import SourceError
from finops_lib.rules.match import FIELDS, Condition
from finops_lib.rules.model import APPLIES_TO, OWNER_FIELDS, Metric, Rule, Rules, SharedRule
from finops_lib.rules.strategies import STRATEGIES, Option

__all__ = ["load_rules", "parse_rules", "read_metric"]

_RULE_KEYS = ("name", "description", "match", "set", "valid_from", "valid_to", "override")
_SHARED_KEYS = ("name", "description", "applies_to", "match", "strategy", "valid_from", "valid_to", "label")
_TOP_KEYS = ("version", "description", "teams", "metrics", "rules", "shared")
#: Vendor words for match fields, suggested when a rule uses them as keys.
_HINTS: dict[str, str] = {
    "project": "sub_account", "project_id": "sub_account", "workspace": "sub_account", "workspace_id": "sub_account",
    "account": "sub_account", "account_id": "sub_account", "subscription": "sub_account", "key": "api_key",
    "api_key_id": "api_key", "principal": "user", "iam_principal": "user", "labels": "tags", "label": "tags",
    "tag": "tags", "key_alias": "tags", "app": "application", "env": "environment", "business-unit": "business_unit",
    "bu": "business_unit", "cost-center": "cost_center",
}  # fmt: skip
_RE2_UNSUPPORTED = re.compile(r"\(\?[=!<]|\\[1-9]")




class _Reader:
    """Node checks that raise :class:`SourceError` naming the file, line and key path."""

    def __init__(self, source: str, base: Path) -> None:
        self.source = source
        self.base = base

    def fail(self, node: Node, where: str, problem: str) -> NoReturn:
        raise SourceError(self.source, problem, line=node.start_mark.line + 1, column=where or None)

    def mapping(self, node: Node, where: str, allowed: Sequence[str] | None = None,
                required: Sequence[str] = ()) -> dict[str, tuple[Node, Node]]:  # fmt: skip
        if not isinstance(node, MappingNode):
            self.fail(node, where, f"expected a mapping (key: value), got {_kind(node)}")
        out: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = self.text(key_node, where)
            if key in out:
                self.fail(key_node, where, f"duplicate key {key!r}")
            if allowed is not None and key not in allowed:
                close = [_HINTS[key]] if _HINTS.get(key) in allowed else difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; expected one of {', '.join(allowed)}"
                self.fail(key_node, _join(where, key), f"unknown key {key!r}{hint}")
            out[key] = (key_node, value_node)
        for key in required:
            if key not in out:
                self.fail(node, where, f"missing required key {key!r}")
        return out

    def seq(self, node: Node, where: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            self.fail(node, where, f"expected a list, got {_kind(node)}")
        return list(node.value)

    def text(self, node: Node, where: str) -> str:
        if not isinstance(node, ScalarNode):
            self.fail(node, where, f"expected a single value, got {_kind(node)}")
        if node.tag.endswith(":null"):
            self.fail(node, where, "value is empty (null)")
        return str(node.value)

    def number(self, node: Node, where: str) -> float:
        text = self.text(node, where)
        try:
            value = float(text)
        except ValueError:
            self.fail(node, where, f"expected a number, got {text!r}")
        if not value >= 0 or value == float("inf"):
            self.fail(node, where, f"expected a non-negative finite number, got {text!r}")
        return value

    def boolean(self, node: Node, where: str) -> bool:
        text = self.text(node, where).lower()
        if text not in {"true", "false", "yes", "no", "on", "off"}:
            self.fail(node, where, f"expected true or false, got {text!r}")
        return text in {"true", "yes", "on"}

    def day(self, node: Node, where: str) -> date:
        text = self.text(node, where)
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.fail(node, where, f"expected a date YYYY-MM-DD, got {text!r}")

    def choice(self, node: Node, where: str, choices: Sequence[str]) -> str:
        text = self.text(node, where)
        if text not in choices:
            self.fail(node, where, f"{text!r} is not one of {', '.join(choices)}")
        return text


def _kind(node: Node) -> str:
    return {MappingNode: "a mapping", SequenceNode: "a list"}.get(type(node), f"the value {node.value!r}")


def _join(where: str, key: str | int) -> str:
    return f"{where}[{key}]" if isinstance(key, int) else (f"{where}.{key}" if where else key)


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _condition_value(r: _Reader, node: Node, where: str, field_name: str, key: str | None) -> Condition:
    """One condition from ``value``, ``[v1, v2]``, ``{regex: ...}`` or ``{present: true}``."""
    if isinstance(node, SequenceNode):
        values = tuple(r.text(item, _join(where, i)) for i, item in enumerate(r.seq(node, where)))
        if not values:
            r.fail(node, where, "empty list: give at least one value")
        return Condition(field_name, "eq", values, key, _line(node))
    if isinstance(node, MappingNode):
        spec = r.mapping(node, where, allowed=("regex", "present"))
        if len(spec) != 1:
            r.fail(node, where, "give exactly one of regex or present")
        (op, (_, value_node)), = spec.items()
        if op == "present":
            flag = "true" if r.boolean(value_node, _join(where, op)) else "false"
            return Condition(field_name, "present", (flag,), key, _line(node))
        pattern = r.text(value_node, _join(where, op))
        try:
            re.compile(pattern)
        except re.error as exc:
            r.fail(value_node, _join(where, op), f"invalid regular expression {pattern!r}: {exc}")
        if _RE2_UNSUPPORTED.search(pattern):
            r.fail(value_node, _join(where, op), f"look-around and back-references are not supported: {pattern!r}")
        return Condition(field_name, "regex", (pattern,), key, _line(node))
    return Condition(field_name, "eq", (r.text(node, where),), key, _line(node))


def _match(r: _Reader, node: Node, where: str) -> tuple[Condition, ...]:
    if isinstance(node, ScalarNode) and node.tag.endswith(":null"):
        return ()
    conditions = []
    for name, (_, value_node) in r.mapping(node, where, allowed=list(FIELDS)).items():
        spot = _join(where, name)
        if FIELDS[name].kind == "json":
            for key, (_, sub) in r.mapping(value_node, spot).items():
                conditions.append(_condition_value(r, sub, _join(spot, key), name, key))
        else:
            conditions.append(_condition_value(r, value_node, spot, name, None))
    return tuple(conditions)


def _window(r: _Reader, spec: dict[str, tuple[Node, Node]], where: str) -> tuple[date | None, date | None]:
    start = r.day(spec["valid_from"][1], _join(where, "valid_from")) if "valid_from" in spec else None
    end = r.day(spec["valid_to"][1], _join(where, "valid_to")) if "valid_to" in spec else None
    if start and end and end <= start:
        r.fail(spec["valid_to"][1], _join(where, "valid_to"), f"valid_to {end} is not after valid_from {start}")
    return start, end


def _rule(r: _Reader, node: Node, where: str) -> Rule:
    spec = r.mapping(node, where, allowed=_RULE_KEYS, required=("name", "match", "set"))
    owners = {key: r.text(value, _join(_join(where, "set"), key))
              for key, (_, value) in r.mapping(spec["set"][1], _join(where, "set"), allowed=OWNER_FIELDS).items()}
    if not owners:
        r.fail(spec["set"][1], _join(where, "set"), f"set at least one of {', '.join(OWNER_FIELDS)}")
    start, end = _window(r, spec, where)
    override = r.boolean(spec["override"][1], _join(where, "override")) if "override" in spec else False
    return Rule(r.text(spec["name"][1], _join(where, "name")), _match(r, spec["match"][1], _join(where, "match")),
                owners, start, end, override, _line(node))  # fmt: skip


def _option(r: _Reader, node: Node, where: str, opt: Option, metrics: Mapping[str, Metric]) -> Any:
    if opt.kind == "choice":
        return r.choice(node, where, opt.choices)
    if opt.kind == "match":
        return _match(r, node, where)
    if opt.kind == "teams":
        items = r.seq(node, where) if isinstance(node, SequenceNode) else [node]
        return tuple(r.text(item, _join(where, i)) for i, item in enumerate(items))
    if opt.kind == "metric":
        name = r.text(node, where)
        if name not in metrics:
            r.fail(node, where, f"metric {name!r} is not declared under metrics (declared: {sorted(metrics)})")
        return name
    weights = {team: r.number(value, _join(where, team)) for team, (_, value) in r.mapping(node, where).items()}
    if not weights or sum(weights.values()) <= 0:
        r.fail(node, where, "weights must name at least one team with a positive weight")
    return weights


def _shared(r: _Reader, node: Node, where: str, metrics: Mapping[str, Metric]) -> SharedRule:
    if not isinstance(node, MappingNode):
        r.fail(node, where, f"expected a mapping (key: value), got {_kind(node)}")
    raw = r.mapping(node, where)
    strategy = r.choice(raw["strategy"][1], _join(where, "strategy"), list(STRATEGIES)) if "strategy" in raw else ""
    options_spec = STRATEGIES[strategy].options if strategy else {}
    spec = r.mapping(node, where, allowed=[*_SHARED_KEYS, *options_spec],
                     required=("name", "applies_to", "match", "strategy"))  # fmt: skip
    options = {key: _option(r, spec[key][1], _join(where, key), opt, metrics)
               for key, opt in options_spec.items() if key in spec}
    for key, opt in options_spec.items():
        if opt.required and key not in options:
            r.fail(node, where, f"strategy {strategy!r} needs {key!r}")
    start, end = _window(r, spec, where)
    label = r.text(spec["label"][1], _join(where, "label")) if "label" in spec else None
    return SharedRule(r.text(spec["name"][1], _join(where, "name")),
                      r.choice(spec["applies_to"][1], _join(where, "applies_to"), list(APPLIES_TO)),
                      _match(r, spec["match"][1], _join(where, "match")), strategy, options, start, end, label,
                      _line(node))  # fmt: skip


def _teams(r: _Reader, node: Node) -> dict[str, dict[str, str]]:
    out = {}
    for team, (_, value) in r.mapping(node, "teams").items():
        where = _join("teams", team)
        spec = r.mapping(value, where, allowed=("business_unit", "cost_center", "description"))
        out[team] = {k: r.text(v, _join(where, k)) for k, (_, v) in spec.items() if k != "description"}
    return out


def _metrics(r: _Reader, node: Node) -> dict[str, Metric]:
    out = {}
    for name, (_, value) in r.mapping(node, "metrics").items():
        where = _join("metrics", name)
        spec = r.mapping(value, where, allowed=("file", "column", "description"), required=("file",))
        file_node = spec["file"][1]
        path = Path(r.text(file_node, _join(where, "file"))).expanduser()
        path = path if path.is_absolute() else r.base / path
        column = r.text(spec["column"][1], _join(where, "column")) if "column" in spec else "value"
        if not path.is_file():
            r.fail(file_node, _join(where, "file"), f"metric file not found: {path}")
        out[name] = Metric(name, path, read_metric(path, column=column))
    return out


def read_metric(path: str | Path, *, column: str = "value") -> pd.DataFrame:
    """Read a business-metric CSV: columns ``month`` (``YYYY-MM``), ``team`` and ``column`` (a number).

    Returns
    -------
    pandas.DataFrame
        ``month`` (first day, Timestamp), ``team``, ``value`` (float), summed per month and team.

    Raises
    ------
    SourceError
        Naming the line and column of a missing column, bad month or bad number.
    """
    rows = []
    with Path(path).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        for needed in ("month", "team", column):
            if needed not in (reader.fieldnames or []):
                raise SourceError(path, f"missing column {needed!r}; columns are {reader.fieldnames}", line=1)
        for line, row in enumerate(reader, start=2):
            try:
                month = pd.Timestamp(date.fromisoformat(row["month"].strip() + "-01"))
            except ValueError:
                raise SourceError(path, "expected a month YYYY-MM", line=line, column="month",
                                  value=row["month"]) from None  # fmt: skip
            try:
                value = float(row[column])
            except (TypeError, ValueError):
                raise SourceError(path, "expected a number", line=line, column=column, value=row[column]) from None
            if not value >= 0:
                raise SourceError(path, "expected a non-negative number", line=line, column=column, value=value)
            rows.append((month, row["team"].strip(), value))
    frame = pd.DataFrame(rows, columns=["month", "team", "value"])
    return frame.groupby(["month", "team"], as_index=False)["value"].sum()


def _unique(r: _Reader, items: Sequence[Rule | SharedRule], nodes: list[Node], section: str) -> None:
    seen: set[str] = set()
    for i, (item, node) in enumerate(zip(items, nodes, strict=True)):
        if item.name in seen:
            r.fail(node, _join(section, i), f"duplicate rule name {item.name!r}")
        seen.add(item.name)


def parse_rules(text: str, *, source: str = "<rules>", base_dir: str | Path | None = None) -> Rules:
    r"""Parse and check allocation rules from YAML text.

    Parameters
    ----------
    text
        The YAML document.
    source
        Name shown in errors (the file path).
    base_dir
        Folder that relative metric files are read from; default the working directory.

    Returns
    -------
    Rules

    Raises
    ------
    SourceError
        On invalid YAML or an invalid rule, naming the line and the key path (``rules[2].match.project``).

    Examples
    --------
    >>> rules = parse_rules("version: 1\nrules:\n  - name: a\n    match: {sub_account: p1}\n    set: {team: x}\n")
    >>> rules.rules[0].set
    {'team': 'x'}
    >>> parse_rules("version: 1\nrules:\n  - name: a\n    match: {projet: p1}\n    set: {team: x}\n")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    finops_lib.errors.SourceError: <rules>, line 4, column 'rules[0].match.projet': unknown key 'projet'; ...
    """
    r = _Reader(source, Path(base_dir) if base_dir else Path.cwd())
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SourceError(source, f"invalid YAML: {exc.problem or exc}", line=mark.line + 1 if mark else None) \
            from None
    except yaml.YAMLError as exc:
        raise SourceError(source, f"invalid YAML: {exc}") from None
    if root is None:
        raise SourceError(source, "the rules file is empty; expected a mapping with `version: 1`", line=1)
    spec = r.mapping(root, "", allowed=_TOP_KEYS, required=("version",))
    if r.text(spec["version"][1], "version") != "1":
        r.fail(spec["version"][1], "version", "unsupported version; this workbench reads version 1")
    metrics = _metrics(r, spec["metrics"][1]) if "metrics" in spec else {}
    rule_nodes = r.seq(spec["rules"][1], "rules") if "rules" in spec else []
    shared_nodes = r.seq(spec["shared"][1], "shared") if "shared" in spec else []
    rules = tuple(_rule(r, node, _join("rules", i)) for i, node in enumerate(rule_nodes))
    shared = tuple(_shared(r, node, _join("shared", i), metrics) for i, node in enumerate(shared_nodes))
    _unique(r, rules, rule_nodes, "rules")
    _unique(r, shared, shared_nodes, "shared")
    teams = _teams(r, spec["teams"][1]) if "teams" in spec else {}
    return Rules(rules, shared, teams, metrics, source)


def load_rules(path: str | Path) -> Rules:
    """Read and check an allocation rules file (see :func:`parse_rules`); metric files are relative to it.

    Raises
    ------
    SourceError
        When the file is missing, not UTF-8, or invalid (naming the line).
    """
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError(file, "rules file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(file, f"cannot read the rules file: {exc}") from None
    return parse_rules(text, source=str(file), base_dir=file.parent)
