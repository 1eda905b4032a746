"""Read and check an allocation rules file (YAML) node by node, so every error names its line.

The format is documented in ``docs/allocation_rules.md``; the result is a
:class:`finops_lib.rules.model.Rules`. Errors are :class:`finops_lib.errors.SourceError` with the file,
the line and the key path (``rules[2].match.projet``) and what is wrong, with a suggestion for misspelt keys.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from finops_lib.errors import SourceError
from finops_lib.rules.model import APPLIES_TO, OWNER_FIELDS, Metric, Rule, Rules, SharedRule
from finops_lib.rules.strategies import STRATEGIES, Option
from finops_lib.rules.yamlnodes import NodeReader, join, kind_of, line_of, read_match, read_window

__all__ = ["load_rules", "parse_rules", "read_metric"]

_RULE_KEYS = ("name", "description", "match", "set", "valid_from", "valid_to", "override")
_SHARED_KEYS = ("name", "description", "applies_to", "match", "strategy", "valid_from", "valid_to", "label")
_TOP_KEYS = ("version", "description", "teams", "metrics", "rules", "shared")


def _rule(r: NodeReader, node: Node, where: str) -> Rule:
    spec = r.mapping(node, where, allowed=_RULE_KEYS, required=("name", "match", "set"))
    owners = {key: r.text(value, join(join(where, "set"), key))
              for key, (_, value) in r.mapping(spec["set"][1], join(where, "set"), allowed=OWNER_FIELDS).items()}
    if not owners:
        r.fail(spec["set"][1], join(where, "set"), f"set at least one of {', '.join(OWNER_FIELDS)}")
    start, end = read_window(r, spec, where)
    override = r.boolean(spec["override"][1], join(where, "override")) if "override" in spec else False
    return Rule(r.text(spec["name"][1], join(where, "name")), read_match(r, spec["match"][1], join(where, "match")),
                owners, start, end, override, line_of(node))  # fmt: skip


def _option(r: NodeReader, node: Node, where: str, opt: Option, metrics: Mapping[str, Metric]) -> Any:
    if opt.kind == "choice":
        return r.choice(node, where, opt.choices)
    if opt.kind == "match":
        return read_match(r, node, where)
    if opt.kind == "teams":
        items = r.seq(node, where) if isinstance(node, SequenceNode) else [node]
        return tuple(r.text(item, join(where, i)) for i, item in enumerate(items))
    if opt.kind == "metric":
        name = r.text(node, where)
        if name not in metrics:
            r.fail(node, where, f"metric {name!r} is not declared under metrics (declared: {sorted(metrics)})")
        return name
    weights = {team: r.number(value, join(where, team)) for team, (_, value) in r.mapping(node, where).items()}
    if not weights or sum(weights.values()) <= 0:
        r.fail(node, where, "weights must name at least one team with a positive weight")
    return weights


def _shared(r: NodeReader, node: Node, where: str, metrics: Mapping[str, Metric]) -> SharedRule:
    if not isinstance(node, MappingNode):
        r.fail(node, where, f"expected a mapping (key: value), got {kind_of(node)}")
    raw = r.mapping(node, where)
    strategy = r.choice(raw["strategy"][1], join(where, "strategy"), list(STRATEGIES)) if "strategy" in raw else ""
    options_spec = STRATEGIES[strategy].options if strategy else {}
    spec = r.mapping(node, where, allowed=[*_SHARED_KEYS, *options_spec],
                     required=("name", "applies_to", "match", "strategy"))  # fmt: skip
    options = {key: _option(r, spec[key][1], join(where, key), opt, metrics)
               for key, opt in options_spec.items() if key in spec}
    for key, opt in options_spec.items():
        if opt.required and key not in options:
            r.fail(node, where, f"strategy {strategy!r} needs {key!r}")
    start, end = read_window(r, spec, where)
    label = r.text(spec["label"][1], join(where, "label")) if "label" in spec else None
    return SharedRule(r.text(spec["name"][1], join(where, "name")),
                      r.choice(spec["applies_to"][1], join(where, "applies_to"), list(APPLIES_TO)),
                      read_match(r, spec["match"][1], join(where, "match")), strategy, options, start, end, label,
                      line_of(node))  # fmt: skip


def _teams(r: NodeReader, node: Node) -> dict[str, dict[str, str]]:
    out = {}
    for team, (_, value) in r.mapping(node, "teams").items():
        where = join("teams", team)
        spec = r.mapping(value, where, allowed=("business_unit", "cost_center", "description"))
        out[team] = {k: r.text(v, join(where, k)) for k, (_, v) in spec.items() if k != "description"}
    return out


def _metrics(r: NodeReader, node: Node) -> dict[str, Metric]:
    out = {}
    for name, (_, value) in r.mapping(node, "metrics").items():
        where = join("metrics", name)
        spec = r.mapping(value, where, allowed=("file", "column", "description"), required=("file",))
        file_node = spec["file"][1]
        path = Path(r.text(file_node, join(where, "file"))).expanduser()
        path = path if path.is_absolute() else r.base / path
        column = r.text(spec["column"][1], join(where, "column")) if "column" in spec else "value"
        if not path.is_file():
            r.fail(file_node, join(where, "file"), f"metric file not found: {path}")
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


def _unique(r: NodeReader, items: Sequence[Rule | SharedRule], nodes: list[Node], section: str) -> None:
    seen: set[str] = set()
    for i, (item, node) in enumerate(zip(items, nodes, strict=True)):
        if item.name in seen:
            r.fail(node, join(section, i), f"duplicate rule name {item.name!r}")
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
    r = NodeReader(source, Path(base_dir) if base_dir else Path.cwd())
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
    rules = tuple(_rule(r, node, join("rules", i)) for i, node in enumerate(rule_nodes))
    shared = tuple(_shared(r, node, join("shared", i), metrics) for i, node in enumerate(shared_nodes))
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
