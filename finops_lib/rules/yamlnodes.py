"""Reading a YAML configuration node by node, so that every error names its file, line and key path.

Shared by the allocation rules (:mod:`finops_lib.rules.rulesfile`) and the feature map
(:mod:`finops_lib.rules.feature_map`): the checks of a mapping (unknown keys with a suggestion, required keys,
duplicates), of values (text, number, boolean, day, choice) and of the rules' ``match`` conditions.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import NoReturn

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from finops_lib.errors import SourceError
from finops_lib.rules.match import FIELDS, Condition

__all__ = ["HINTS", "NodeReader", "join", "kind_of", "line_of", "read_condition", "read_match", "read_window"]

#: Vendor words for match fields, suggested when a rule uses them as keys.
HINTS: dict[str, str] = {
    "project": "sub_account", "project_id": "sub_account", "workspace": "sub_account", "workspace_id": "sub_account",
    "account": "sub_account", "account_id": "sub_account", "subscription": "sub_account", "key": "api_key",
    "api_key_id": "api_key", "principal": "user", "iam_principal": "user", "labels": "tags", "label": "tags",
    "tag": "tags", "key_alias": "tags", "app": "application", "env": "environment", "business-unit": "business_unit",
    "bu": "business_unit", "cost-center": "cost_center",
}  # fmt: skip
_RE2_UNSUPPORTED = re.compile(r"\(\?[=!<]|\\[1-9]")


class NodeReader:
    """Node checks that raise :class:`SourceError` naming the file, line and key path."""

    def __init__(self, source: str, base: Path) -> None:
        self.source = source
        self.base = base

    def fail(self, node: Node, where: str, problem: str) -> NoReturn:
        """Raise :class:`SourceError` naming the file, the node's line and the key path ``where``."""
        raise SourceError(self.source, problem, line=node.start_mark.line + 1, column=where or None)

    def mapping(self, node: Node, where: str, allowed: Sequence[str] | None = None,
                required: Sequence[str] = ()) -> dict[str, tuple[Node, Node]]:  # fmt: skip
        """Return a mapping's (key node, value node) by key, checking allowed, required and repeated keys."""
        if not isinstance(node, MappingNode):
            self.fail(node, where, f"expected a mapping (key: value), got {kind_of(node)}")
        out: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = self.text(key_node, where)
            if key in out:
                self.fail(key_node, where, f"duplicate key {key!r}")
            if allowed is not None and key not in allowed:
                close = [HINTS[key]] if HINTS.get(key) in allowed else difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; expected one of {', '.join(allowed)}"
                self.fail(key_node, join(where, key), f"unknown key {key!r}{hint}")
            out[key] = (key_node, value_node)
        for key in required:
            if key not in out:
                self.fail(node, where, f"missing required key {key!r}")
        return out

    def seq(self, node: Node, where: str) -> list[Node]:
        """Return a list's item nodes."""
        if not isinstance(node, SequenceNode):
            self.fail(node, where, f"expected a list, got {kind_of(node)}")
        return list(node.value)

    def text(self, node: Node, where: str) -> str:
        """Return a single value as text (not empty)."""
        if not isinstance(node, ScalarNode):
            self.fail(node, where, f"expected a single value, got {kind_of(node)}")
        if node.tag.endswith(":null"):
            self.fail(node, where, "value is empty (null)")
        return str(node.value)

    def number(self, node: Node, where: str) -> float:
        """Return a non-negative finite number."""
        text = self.text(node, where)
        try:
            value = float(text)
        except ValueError:
            self.fail(node, where, f"expected a number, got {text!r}")
        if not value >= 0 or value == float("inf"):
            self.fail(node, where, f"expected a non-negative finite number, got {text!r}")
        return value

    def boolean(self, node: Node, where: str) -> bool:
        """Return true or false (yes/no, on/off accepted)."""
        text = self.text(node, where).lower()
        if text not in {"true", "false", "yes", "no", "on", "off"}:
            self.fail(node, where, f"expected true or false, got {text!r}")
        return text in {"true", "yes", "on"}

    def day(self, node: Node, where: str) -> date:
        """Return a date written YYYY-MM-DD."""
        text = self.text(node, where)
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.fail(node, where, f"expected a date YYYY-MM-DD, got {text!r}")

    def choice(self, node: Node, where: str, choices: Sequence[str]) -> str:
        """Return a value that must be one of ``choices``."""
        text = self.text(node, where)
        if text not in choices:
            self.fail(node, where, f"{text!r} is not one of {', '.join(choices)}")
        return text


def kind_of(node: Node) -> str:
    """Return what a node is, for messages (a mapping, a list, the value ...)."""
    return {MappingNode: "a mapping", SequenceNode: "a list"}.get(type(node), f"the value {node.value!r}")


def join(where: str, key: str | int) -> str:
    """Return the key path of ``key`` below ``where`` (``rules[2].match``)."""
    return f"{where}[{key}]" if isinstance(key, int) else (f"{where}.{key}" if where else key)


def line_of(node: Node) -> int:
    """Return the 1-based line a node starts on."""
    return node.start_mark.line + 1


def read_condition(r: NodeReader, node: Node, where: str, field_name: str, key: str | None) -> Condition:
    """Return one condition from ``value``, ``[v1, v2]``, ``{regex: ...}`` or ``{present: true}``."""
    if isinstance(node, SequenceNode):
        values = tuple(r.text(item, join(where, i)) for i, item in enumerate(r.seq(node, where)))
        if not values:
            r.fail(node, where, "empty list: give at least one value")
        return Condition(field_name, "eq", values, key, line_of(node))
    if isinstance(node, MappingNode):
        spec = r.mapping(node, where, allowed=("regex", "present"))
        if len(spec) != 1:
            r.fail(node, where, "give exactly one of regex or present")
        (op, (_, value_node)), = spec.items()
        if op == "present":
            flag = "true" if r.boolean(value_node, join(where, op)) else "false"
            return Condition(field_name, "present", (flag,), key, line_of(node))
        pattern = r.text(value_node, join(where, op))
        try:
            re.compile(pattern)
        except re.error as exc:
            r.fail(value_node, join(where, op), f"invalid regular expression {pattern!r}: {exc}")
        if _RE2_UNSUPPORTED.search(pattern):
            r.fail(value_node, join(where, op), f"look-around and back-references are not supported: {pattern!r}")
        return Condition(field_name, "regex", (pattern,), key, line_of(node))
    return Condition(field_name, "eq", (r.text(node, where),), key, line_of(node))


def read_match(r: NodeReader, node: Node, where: str) -> tuple[Condition, ...]:
    """Return the conditions of a ``match`` mapping (every field of :data:`~finops_lib.rules.match.FIELDS`)."""
    if isinstance(node, ScalarNode) and node.tag.endswith(":null"):
        return ()
    conditions = []
    for name, (_, value_node) in r.mapping(node, where, allowed=list(FIELDS)).items():
        spot = join(where, name)
        if FIELDS[name].kind == "json":
            for key, (_, sub) in r.mapping(value_node, spot).items():
                conditions.append(read_condition(r, sub, join(spot, key), name, key))
        else:
            conditions.append(read_condition(r, value_node, spot, name, None))
    return tuple(conditions)


def read_window(r: NodeReader, spec: dict[str, tuple[Node, Node]], where: str) -> tuple[date | None, date | None]:
    """Return a rule's ``valid_from`` and ``valid_to`` (None when absent); the end must come after the start."""
    start = r.day(spec["valid_from"][1], join(where, "valid_from")) if "valid_from" in spec else None
    end = r.day(spec["valid_to"][1], join(where, "valid_to")) if "valid_to" in spec else None
    if start and end and end <= start:
        r.fail(spec["valid_to"][1], join(where, "valid_to"), f"valid_to {end} is not after valid_from {start}")
    return start, end


