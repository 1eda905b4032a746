"""Match fields of allocation rules and their translation into engine (ibis) conditions.

A rule's ``match`` names raw dimensions with vendor-neutral field names (``sub_account`` is the OpenAI
project, Anthropic workspace, AWS account, Azure subscription or GCP project); :data:`FIELDS` maps each
name to the column it reads in the ``costs`` and ``requests`` tables. Everything compiles to one SQL
``CASE`` expression, so rules run inside the engine on any number of rows.

JSON fields (``tags``, ``metadata``, ``extra``, ``request_tags``) are read with the portable JSON functions of
:mod:`finops_lib.engines.functions` (rendered for DuckDB or Spark); malformed JSON text never matches (it is not an
error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir

from finops_lib.engines.functions import json_string, json_string_list, json_valid
from finops_lib.errors import ParameterError

__all__ = ["FIELDS", "Condition", "Field", "available", "compile_conditions", "field_names", "json_key",
           "json_text", "value_expr"]  # fmt: skip

Op = Literal["eq", "regex", "present"]
Kind = Literal["column", "json", "resource_group", "request_tags"]


@dataclass(frozen=True)
class Field:
    """A match field.

    Parameters
    ----------
    name
        Name used in rules files.
    columns
        Table name -> column it reads (``costs``, ``requests``); a table not listed lacks the field.
    kind
        ``column`` (a plain column), ``json`` (a key of a JSON column; the rule gives ``{key: condition}``),
        ``resource_group`` (the Azure resource group inside ``ResourceId``), ``request_tags`` (an element of
        the LiteLLM ``request_tags`` list in ``Tags``).
    description
        What it is, per vendor (documentation).
    prefix
        For ``json`` fields: the JSON path below the column where the keys live (``spend_logs_metadata``).
    case_insensitive
        Compare without regard to case (provider names).
    """

    name: str
    columns: dict[str, str]
    kind: Kind
    description: str
    prefix: tuple[str, ...] = ()
    case_insensitive: bool = False


def _col(name: str, costs: str | None, requests: str | None, description: str, **kw: object) -> Field:
    columns = {table: col for table, col in (("costs", costs), ("requests", requests)) if col}
    return Field(name, columns, kw.pop("kind", "column"), description, **kw)  # type: ignore[arg-type]


#: Match fields by name, in documentation order.
FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        _col("provider", "ProviderName", "ProviderName", "ProviderName: OpenAI, Anthropic, AWS, Microsoft, Google "
             "(case-insensitive).", case_insensitive=True),
        _col("billing_account", "BillingAccountId", None, "Billing account (organization, payer, EA, billing "
             "account)."),
        _col("sub_account", "SubAccountId", "SubAccountId", "OpenAI project id, Anthropic workspace id (`default` "
             "for the Default workspace), AWS account, Azure subscription, GCP project."),
        _col("sub_account_name", "SubAccountName", None, "Display name of the sub-account (AWS account name, "
             "Azure subscription name, GCP project name)."),
        _col("api_key", "x_ApiKeyId", "x_ApiKeyId", "API key id (OpenAI `key_...`, Anthropic `apikey_...`, "
             "LiteLLM hashed virtual key)."),
        _col("user", "x_UserId", "x_UserId", "User or principal (AWS IAM principal ARN, OpenAI user, LiteLLM "
             "user)."),
        _col("resource", "ResourceId", None, "Resource id (Bedrock inference profile ARN, Azure resource id, "
             "cloud resource)."),
        _col("resource_name", "ResourceName", None, "Resource display name (Azure account, cloud resource)."),
        _col("resource_group", "ResourceId", None, "Azure resource group, read from ResourceId.",
             kind="resource_group"),
        _col("service", "ServiceName", None, "Service name (OpenAI API, Amazon Bedrock, Azure OpenAI...)."),
        _col("region", "RegionId", None, "Region code."),
        _col("model", "x_Model", "x_Model", "Canonical model id."),
        _col("service_tier", "x_ServiceTier", "x_ServiceTier", "standard, batch, priority, flex, provisioned."),
        _col("token_type", "x_TokenType", None, "Token bucket (`non_token` for hours, fees...)."),
        _col("charge_category", "ChargeCategory", None, "FOCUS charge category (Usage, Purchase, Credit...)."),
        _col("source_format", "x_SourceFormat", "x_SourceFormat", "Registered source format of the row."),
        _col("team", "x_Team", "x_Team", "Team carried by the source (tag, label, LiteLLM team alias)."),
        _col("application", "x_Application", "x_Application", "Application carried by the source."),
        _col("feature", "x_Feature", "x_Feature", "Feature carried by the source."),
        _col("environment", "x_Environment", "x_Environment", "Environment carried by the source."),
        _col("tags", "Tags", "Tags", "Tags, labels and gateway metadata: `{key: condition}` on the top-level keys "
             "of `Tags` (AWS `user:team`, GCP labels, Azure tags, LiteLLM `key_alias`, `team_alias`).", kind="json"),
        _col("metadata", "Tags", "Tags", "LiteLLM request metadata: `{key: condition}` on the keys of "
             "`spend_logs_metadata` inside `Tags`.", kind="json", prefix=("spend_logs_metadata",)),
        _col("request_tags", "Tags", "Tags", "LiteLLM request tags: matches when one element of `request_tags` "
             "matches (`app:support-chatbot`).", kind="request_tags"),
        _col("extra", "x_SourceExtra", None, "Vendor columns kept in `x_SourceExtra`: `{key: condition}` "
             "(Azure `CostCenter`, `ResourceGroupName`, `InvoiceSectionName`...).", kind="json"),
    )
}  # fmt: skip


def field_names() -> list[str]:
    """Return the match field names, in documentation order."""
    return list(FIELDS)


@dataclass(frozen=True)
class Condition:
    """One test of a rule's ``match``: every condition of a rule must hold (AND).

    Parameters
    ----------
    field
        A key of :data:`FIELDS`.
    op
        ``eq`` (equal to one of ``values``), ``regex`` (RE2 search: unanchored, use ``^...$`` for a whole
        value) or ``present`` (``values`` is ``("true",)`` or ``("false",)``: the value exists or not).
    values
        The values, pattern or presence flag, as text.
    key
        For ``json`` fields, the key inside the JSON object.
    line
        Line of the condition in the rules file (for errors).
    """

    field: str
    op: Op
    values: tuple[str, ...]
    key: str | None = None
    line: int = 0


def json_text(column: ir.StringValue, key: str | None = None) -> ir.StringValue:
    """Return ``column`` where it holds valid JSON (and the text ``"key"``, when given), else null.

    Malformed text never matches. The key test is a plain substring search that lets rows without the key skip
    JSON parsing, which dominates the cost on large tables (a key is always written ``"key"`` in JSON text).
    """
    valid = json_valid(column)
    if key is not None:
        valid = column.contains(json_key(key)) & valid
    return ibis.ifelse(valid, column, ibis.null("string"))


def json_key(key: str) -> str:
    """Return ``key`` as JSON writes it (quoted, escaped), for substring pre-tests."""
    import json

    return json.dumps(key, ensure_ascii=False)


def value_expr(table: ir.Table, table_name: str, field: Field, key: str | None) -> ir.StringValue:
    """Return the string value a field reads from a row (null when absent).

    Raises
    ------
    ParameterError
        When ``table_name`` has no column for the field.
    """
    column = field.columns.get(table_name)
    if column is None or column not in table.columns:
        have = sorted(name for name, f in FIELDS.items() if table_name in f.columns)
        raise ParameterError(f"match field {field.name!r} is not available on the {table_name} table "
                             f"(available: {', '.join(have)})")  # fmt: skip
    raw = table[column].cast("string")
    if field.kind == "json":
        return json_string(json_text(raw, key or ""), (*field.prefix, key or "")).nullif("")
    if field.kind == "resource_group":
        return raw.re_extract(r"(?i)/resourcegroups/([^/]+)", 1).nullif("")
    return raw.nullif("")


def _condition(table: ir.Table, table_name: str, cond: Condition) -> ir.BooleanValue:
    field = FIELDS[cond.field]
    if field.kind == "request_tags":
        column = field.columns.get(table_name)
        if column is None or column not in table.columns:
            raise ParameterError(f"match field {field.name!r} is not available on the {table_name} table")
        items = json_string_list(json_text(table[column].cast("string"), "request_tags"), ("request_tags",))
        if cond.op == "present":
            found = items.length().fill_null(0) > 0
            return found if cond.values[0] == "true" else ~found
        if cond.op == "regex":
            return items.filter(lambda item: item.re_search(cond.values[0])).length().fill_null(0) > 0
        found = items.filter(lambda item: item.isin(list(cond.values))).length().fill_null(0) > 0
        return _mentions(table[column], cond.values) & found
    value = value_expr(table, table_name, field, cond.key)
    if cond.op == "present":
        return value.notnull() if cond.values[0] == "true" else value.isnull()
    if field.case_insensitive:
        value = value.lower()
    if cond.op == "regex":
        return value.re_search(cond.values[0]).fill_null(False)
    values = [v.lower() for v in cond.values] if field.case_insensitive else list(cond.values)
    test = value.isin(values).fill_null(False)
    return _mentions(table[field.columns[table_name]], cond.values) & test if field.kind == "json" else test


def _mentions(column: ir.Value, values: tuple[str, ...]) -> ir.BooleanValue:
    """Return a cheap substring pre-test: JSON text holding one of ``values`` contains it quoted.

    Only plain values (no character JSON would escape) are pre-tested; the exact test follows anyway.
    """
    quoted = [json_key(v) for v in values]
    if any(q != f'"{v}"' or not v.isascii() for q, v in zip(quoted, values, strict=True)):
        return ibis.literal(True)
    text = column.cast("string")
    out: ir.BooleanValue = ibis.literal(False)
    for q in quoted:
        out = out | text.contains(q)
    return out.fill_null(False)


def available(field: str, table: ir.Table, table_name: str) -> bool:
    """Return whether match field ``field`` can be read from ``table`` (a ``table_name`` table)."""
    column = FIELDS[field].columns.get(table_name)
    return column is not None and column in table.columns


def compile_conditions(table: ir.Table, table_name: str, conditions: tuple[Condition, ...], *,
                       strict: bool = True) -> ir.BooleanValue:  # fmt: skip
    """Return the engine expression that is true where every condition holds (true for no condition).

    Parameters
    ----------
    table
        The table the conditions are evaluated on.
    table_name
        ``costs`` or ``requests``: which column each field reads.
    conditions
        The conditions (AND).
    strict
        Raise on a field the table lacks; otherwise such a condition never holds (a rule written for
        billing rows never matches gateway requests).

    Raises
    ------
    ParameterError
        When ``strict`` and a field is not available on ``table_name``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = ibis.memtable(pd.DataFrame({"ProviderName": ["OpenAI", "AWS"], "SubAccountId": ["p1", "111"]}))
    >>> cond = compile_conditions(t, "costs", (Condition("provider", "eq", ("openai",)),))
    >>> t.filter(cond).SubAccountId.to_list()
    ['p1']
    """
    out: ir.BooleanValue = ibis.literal(True)
    for cond in conditions:
        if not strict and not available(cond.field, table, table_name):
            return ibis.literal(False)
        out = out & _condition(table, table_name, cond)
    return out
