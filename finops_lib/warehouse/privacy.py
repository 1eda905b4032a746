"""What never enters the warehouse in clear: API keys and tokens (masked), user ids (pseudonymised on request).

Vendor and gateway exports carry secrets where nobody expects them: a LiteLLM ``api_key`` column holding the raw
virtual key, ``Authorization: Bearer ...`` headers captured in request metadata, AWS access keys in tags. Every
text value a reader produces (every string column of ``costs``, ``requests`` and ``rejects``, the rejected line's
text included) is masked on its way into the warehouse, before anything is written:

* a key of a known shape becomes its kind and a stable hash: ``sk-proj-abc...xyz`` -> ``sk-proj-***3f9a1c2b7d4e``
  (the first 12 hex digits of the key's SHA-256), so rows still group by key and nobody can use or recover it;
* shapes: OpenAI (``sk-``, ``sk-proj-``, ``sk-svcacct-``, ``sk-admin-``) and Anthropic (``sk-ant-api03-``,
  ``sk-ant-admin01-``) keys and LiteLLM virtual keys (``sk-``), bearer tokens (``Bearer <token>``), AWS access key
  ids (``AKIA``, ``ASIA`` ...) and secret access keys written after their name, Google API keys (``AIza``), GitHub
  tokens (``ghp_`` ...), and the value after ``api-key``/``x-api-key``/``authorization`` labels.

User ids (``x_UserId``: e-mails, OpenAI user ids, IAM principals) are pseudonymised when the environment holds
``FINOPS_PSEUDONYM_KEY``: each id becomes ``user-`` and the first 16 hex digits of its HMAC-SHA256 under that key,
the same for the same id in every ingest made with the same key (keep the key to keep pseudonyms stable; without
it the ids cannot be recovered). Prompt and completion text is never stored by any reader (see the readers of
trace formats: only token counts, models and metadata are kept).

Examples
--------
>>> mask_secrets("key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx in a tag")
'key sk-proj-***df178eee6740 in a tag'
>>> mask_secrets("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc")
'Authorization: Bearer ***a3935b86dbb9'
>>> mask_secrets(mask_secrets("sk-ant-api03-" + "x" * 40)) == mask_secrets("sk-ant-api03-" + "x" * 40)
True
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
from dataclasses import replace

import duckdb
from ibis.backends import BaseBackend

from finops_lib.sources import Window

#: The environment variable whose value keys the pseudonyms of user ids; unset: user ids are kept as written.
PSEUDONYM_KEY_ENV = "FINOPS_PSEUDONYM_KEY"
#: Columns never masked: the file's identity and the row keys the warehouse computes (hashes already).
UNMASKED = frozenset({"x_SourceFile", "x_RowHash", "x_FileSha256"})
MASK = "***"

# Each alternative keeps what says which kind of secret it was (group ``kind``) and masks the secret (``secret``).
# The same text serves Python's re and DuckDB's RE2 (no look-behind, scoped flags only).
_SHAPES = (
    r"(?P<k1>sk-(?:ant-(?:api|admin)\d\d-|proj-|svcacct-|admin-|None-)?)(?P<s1>[A-Za-z0-9_\-]{16,})",
    r"(?P<k2>(?i:bearer)\s+)(?P<s2>[A-Za-z0-9._~+/=\-]{8,})",
    r"(?P<k3>\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA))(?P<s3>[A-Z0-9]{16}\b)",
    r"(?P<k4>(?i:secret_access_key|secretaccesskey|aws_secret)[\"']?\s*[:=]\s*[\"']?)(?P<s4>[A-Za-z0-9/+=]{40})",
    r"(?P<k5>AIza)(?P<s5>[0-9A-Za-z_\-]{35})",
    r"(?P<k6>\bgh[pousr]_)(?P<s6>[A-Za-z0-9]{36,})",
    r"(?P<k7>(?i:x-api-key|api-key|authorization)[\"']?\s*[:=]\s*[\"']?)(?P<s7>[A-Za-z0-9._~+/=\-]{16,})",
)
SECRET = re.compile("|".join(_SHAPES))
#: The same shapes without group names, for the engine's cheap test of which values need masking.
SECRET_SQL = re.sub(r"\(\?P<\w+>", "(", SECRET.pattern)
_UDF_MASK, _UDF_PSEUDONYM = "finops_mask_secrets", "finops_pseudonym"


def _hash12(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _masked(match: re.Match[str]) -> str:
    groups = match.groupdict()
    n = next(i for i in range(1, len(_SHAPES) + 1) if groups[f"s{i}"] is not None)
    kind, secret = groups[f"k{n}"], groups[f"s{n}"]
    inner = SECRET.sub(_masked, secret)
    if inner != secret:  # a labelled key of a known shape ("x-api-key: sk-ant-..."): the same mask as alone
        return kind + inner
    return f"{kind}{MASK}{_hash12(secret)}"


def mask_secrets(text: str | None) -> str | None:
    """Return ``text`` with every key of a known shape masked (its kind kept, a stable hash instead of the key).

    Masking is idempotent: a masked key is not a key any more.
    """
    if text is None or not isinstance(text, str):
        return text
    return SECRET.sub(_masked, text)


def mask_windows(windows: tuple[Window, ...]) -> tuple[Window, ...]:
    """Return a reader's restated windows with their scope values masked like the rows' values they select."""
    return tuple(replace(w, scope=tuple((column, mask_secrets(value)) for column, value in w.scope))
                 for w in windows)  # fmt: skip


def pseudonym(value: str | None, key: str) -> str | None:
    """Return the pseudonym of a user id: ``user-`` and 16 hex digits of its HMAC-SHA256 under ``key``.

    Examples
    --------
    >>> pseudonym("ana@example.com", "k") == pseudonym("ana@example.com", "k") != pseudonym("ana@example.com", "j")
    True
    >>> pseudonym("ana@example.com", "k").startswith("user-"), pseudonym(None, "k")
    (True, None)
    """
    if value is None:
        return None
    digest = hmac.new(key.encode(), value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return f"user-{digest[:16]}"


def pseudonym_key() -> str | None:
    """Return the key pseudonymising user ids (``$FINOPS_PSEUDONYM_KEY``), or None to keep them as written."""
    return os.environ.get(PSEUDONYM_KEY_ENV) or None


def prepare(con: BaseBackend, key: str | None) -> None:
    """Register the engine functions :func:`masked_select` uses (DuckDB), the pseudonym's key held by the function.

    The key is never written into a query (it would show in the engine's errors and logs).
    """
    raw = con.con
    done = getattr(con, "_finops_privacy", None)
    if done is not None and done[0] is raw and done[1] == key:
        return
    # Python functions are not listed by duckdb_functions(); one created inside a transaction that is rolled back
    # leaves the catalog while the connection still counts it: :func:`finops_lib.warehouse.ingest` prepares them
    # before its first transaction.
    _create(raw, _UDF_MASK, mask_secrets)
    with contextlib.suppress(duckdb.Error):
        raw.remove_function(_UDF_PSEUDONYM)
    if key:
        _create(raw, _UDF_PSEUDONYM, lambda value: pseudonym(value, key))
    con._finops_privacy = (raw, key)


def _create(raw: duckdb.DuckDBPyConnection, name: str, function: object) -> None:
    try:
        raw.create_function(name, function, ["VARCHAR"], "VARCHAR", side_effects=False)
    except duckdb.NotImplementedException as exc:  # "already created" on this connection
        if "already created" not in str(exc):
            raise


def masked_select(con: BaseBackend, relation: str, columns: list[tuple[str, bool]] | None = None, *,
                  source: str | None = None) -> str:
    """Return a SELECT of every column of ``relation`` with its text masked (and user ids pseudonymised).

    Only rows in whose text the engine finds a key shape go through :func:`mask_secrets`: one regular-expression
    test per row, over its text values joined (the expression is compiled once per statement, not once per
    column: a statement over a small file is planned in a fraction of the time). ``columns`` (name, is text)
    spares asking the engine for the relation's columns when the caller knows them (a relation conformed to a
    declared table). ``source``: SQL to select from (a parenthesised SELECT) instead of the named relation.
    """
    key = pseudonym_key()
    prepare(con, key)
    if columns is None:
        described = con.con.execute(f'DESCRIBE SELECT * FROM "{relation}"').fetchall()
        columns = [(name, sql_type == "VARCHAR") for name, sql_type, *_ in described]
    pattern = SECRET_SQL.replace("'", "''")
    text = [f'"{name}"' for name, is_text in columns if is_text and name not in UNMASKED]
    parts = []
    for name, _ in columns:
        quoted = f'"{name}"'
        if quoted not in text:
            parts.append(quoted)
            continue
        value = f"CASE WHEN __secret THEN {_UDF_MASK}({quoted}) ELSE {quoted} END"
        if name == "x_UserId" and key:
            value = f"{_UDF_PSEUDONYM}({value})"
        parts.append(f"{value} AS {quoted}")
    found = f"coalesce(regexp_matches(concat_ws(chr(31), {', '.join(text)}), '{pattern}'), false)" if text else "false"
    rows = source or f'"{relation}"'
    return f'SELECT {", ".join(parts)} FROM (SELECT *, {found} AS __secret FROM {rows})'
