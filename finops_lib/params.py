"""Notebook parameters given as text (``finops report -p NAME VALUE``), converted to declared types."""

from __future__ import annotations

import ast
import logging
from collections.abc import Callable
from typing import Any

from finops_lib.errors import ParameterError

log = logging.getLogger(__name__)

_TRUE, _FALSE = {"true", "1", "yes", "y", "on"}, {"false", "0", "no", "n", "off"}


def _to_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE | _FALSE:
        return lowered in _TRUE
    raise ValueError(f"expected one of {sorted(_TRUE | _FALSE)}")


def _to_list(text: str) -> list[Any]:
    stripped = text.strip()
    if stripped.startswith(("[", "(")):
        value = ast.literal_eval(stripped)
        if not isinstance(value, list | tuple):
            raise TypeError("expected a list literal")
        return list(value)
    return [item.strip() for item in stripped.split(",") if item.strip()]


def _to_dict(text: str) -> dict[str, Any]:
    value = ast.literal_eval(text.strip())
    if not isinstance(value, dict):
        raise TypeError("expected a dict literal such as {'a': 1}")
    return value


#: Converters of CLI strings, by the base name of the declared type.
CONVERTERS: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": _to_bool,
    "list": _to_list,
    "tuple": lambda text: tuple(_to_list(text)),
    "dict": _to_dict,
}


def _declared_type(type_name: str, default: str) -> tuple[str, str | None, bool]:
    """Return (base type, element type, optional) from papermill's type name and default literal."""
    name = type_name.strip().replace("typing.", "")
    optional = False
    if name.startswith("Optional[") and name.endswith("]"):
        name, optional = name[len("Optional[") : -1], True
    parts = [part.strip() for part in name.split("|")]
    if "None" in parts and len(parts) > 1:
        parts.remove("None")
        optional = True
        name = "|".join(parts)
    if name in {"None", ""}:  # not annotated: the default's type
        try:
            literal = ast.literal_eval(default)
        except (ValueError, SyntaxError):
            return "str", None, optional
        return ("str", None, True) if literal is None else (type(literal).__name__, None, optional)
    base, _, rest = name.partition("[")
    element = rest.rstrip("]").split(",")[0].strip() if rest else ""
    return base.strip().lower(), element or None, optional


def coerce_parameter(value: object, *, type_name: str, default: str = "None", name: str = "?") -> object:
    """Convert a CLI string to the type a notebook declares for a parameter.

    Non-string values (from Python callers) are returned as they are.

    Parameters
    ----------
    value
        The value, usually a string from ``-p NAME VALUE``.
    type_name
        papermill's ``inferred_type_name`` (``int``, ``list[str]``, ``str | None``, ``None`` when
        not annotated, then the type of ``default`` is used).
    default
        The default's source text, from papermill's inspection.
    name
        The parameter's name, for error messages.

    Returns
    -------
    object

    Raises
    ------
    ParameterError
        If the string cannot be converted.

    Examples
    --------
    >>> coerce_parameter("30", type_name="int")
    30
    >>> coerce_parameter("no", type_name="bool")
    False
    >>> coerce_parameter("a, b", type_name="list[str]")
    ['a', 'b']
    >>> coerce_parameter("none", type_name="str | None") is None
    True
    """
    if not isinstance(value, str):
        return value
    base, element, optional = _declared_type(type_name, default)
    if optional and value.strip().lower() in {"none", "null", ""}:
        return None
    converter = CONVERTERS.get(base)
    if converter is None:
        log.warning("parameter %s: type %r is not converted; passed as a string", name, type_name)
        return value
    try:
        converted = converter(value)
        if element in CONVERTERS and isinstance(converted, list | tuple):
            converted = type(converted)(CONVERTERS[element](str(item)) for item in converted)
    except (ValueError, SyntaxError, TypeError) as exc:
        raise ParameterError(f"parameter {name!r}: cannot read {value!r} as {type_name}: {exc}") from exc
    return converted
