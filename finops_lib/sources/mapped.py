"""Generic CSV or Parquet files described by a small YAML mapping (``mapped:<name>`` formats).

A mapping says which source column fills which field of the ``requests`` table (request logs, traces) or of the
``costs`` table (SaaS seat invoices, licence lists, usage reports), how times are written, and which header
columns identify the file. Each mapping registers a source format ``mapped:<name>``; the shipped ones
(``finops_lib/sources/mappings/*.yaml``) are registered at import, user mappings with :func:`register_mapping`
or through the environment variable ``FINOPS_MAPPINGS`` (files or folders, separated by ``os.pathsep``). Files
are read inside the engine (DuckDB SQL, one streaming pass), so a multi-million-row trace never goes through
pandas. The SQL is built by :mod:`~finops_lib.sources._mapped_requests` and :mod:`~finops_lib.sources._mapped_costs`
(shared parts: :mod:`~finops_lib.sources._mapped_sql`); the YAML is validated by
:mod:`~finops_lib.sources._mapping_yaml`.

Mapping keys of a ``requests`` mapping (``mappings/burstgpt.yaml`` is a commented example)::

    name: my_gateway                 # format name: mapped:my_gateway  (required)
    description: one line            # shown by `finops formats`
    table: requests                  # the default
    match: [ts, model, in_tok]       # header columns that identify the file (no match: never detected)
    columns:                         # source column -> requests field (required)
      ts: ChargePeriodStart          # required; also ChargePeriodEnd
      model: x_ModelRaw              # canonicalized into x_Model (see models:)
      in_tok: input_tokens           # all input tokens (see tokens:), or x_InputUncachedTokens
      out_tok: x_OutputTokens        # also x_InputCacheReadTokens, x_InputCacheWrite5mTokens/1hTokens,
                                     # x_OutputReasoningTokens, x_RequestId, x_LatencyMs (ms),
                                     # x_ReportedCost, BillingCurrency, ProviderName, x_Team, ...
    optional: [team]                 # mapped columns a file may lack (read as empty)
    time: {format: iso, timezone: UTC}   # iso | unix_s | unix_ms | unix_us | unix_ns | a strftime
                                         # pattern; epoch: (for unix_*) the instant of value 0
    tokens: {input_includes_cache: true} # input_tokens counts cache reads and writes (default)
    constants: {ProviderName: OpenAI}    # fixed values ("{stem}" = the file's name without suffixes)
    models: {ChatGPT: gpt-3.5-turbo}     # source model value -> model id
    status: {column: outcome, failure_values: [error], failure_when_zero: out_tok}
    tags: [region]                       # columns copied into Tags (absent ones are skipped); or a
                                         # mapping column -> tag key ({cost_center_name: cost_center})
    currency: USD

Mapping keys of a ``costs`` mapping (``mappings/github_usage.yaml`` and ``mappings/chatgpt_seats.yaml`` are
commented examples); ``name``, ``description``, ``match``, ``optional``, ``time``, ``constants``, ``models``,
``tags`` as above::

    table: costs
    columns:                         # source column -> costs field (required)
      billing_period_start: ChargePeriodStart   # required; ChargePeriodEnd too (else period:)
      amount: BilledCost             # required: the invoiced amount, exact DECIMAL
      list: ListCost                 # also EffectiveCost, ContractedCost (each defaults to BilledCost),
                                     # ListUnitPrice, ContractedUnitPrice
      seats: ConsumedQuantity        # PricingQuantity defaults to it (and the other way round)
      workspace: SubAccountId        # texts: BillingCurrency, BillingAccountId/Name, ProviderName,
      user: x_UserId                 # PublisherName, InvoiceIssuerName, ServiceName, ServiceCategory,
      team: x_Team                   # ServiceSubcategory, ChargeCategory, ChargeFrequency, ChargeDescription,
                                     # PricingCategory, ConsumedUnit, PricingUnit, SkuId, SkuMeter, RegionId,
                                     # ResourceId/Name, SubAccountName, x_Model, x_ModelRaw, x_ApiKeyId,
                                     # x_Application, x_Feature, x_Environment
    period: month                    # day (default) | month | year: a row's charge period from its start,
                                     # where no ChargePeriodEnd column gives one
    constants: {ProviderName: OpenAI, ConsumedUnit: Seat, ChargeFrequency: Recurring}
    lookups:                         # a field from a column through a table (case-insensitive); else the
      ServiceCategory:               # default, else the value as written
        column: product
        values: {copilot: AI and Machine Learning}
        default: Developer Tools
    currency: USD                    # a BillingCurrency column or this key is required (the key is then
                                     # the currency of rows whose column is empty)
    restates: span                   # span (default): a file restates its date span per billing account and
                                     # sub-account; rows: only rows of the same content are replaced

A costs mapping needs ProviderName (a column, a constant or a lookup); ServiceCategory defaults to
``AI and Machine Learning``, ChargeCategory to ``Usage`` (``Credit`` below zero); every row is ``invoiced``
with ``x_TokenType`` ``non_token``. Rows priced per seat (ConsumedUnit or PricingUnit ``Seat``, ``user-months``,
...) land in the ``seats`` layer of a feature's stack (:mod:`finops_lib.feature_cost.layers`).

Quirks handled here: every mapping problem is a :class:`~finops_lib.errors.SourceError` naming the
mapping file and the line of the offending key (YAML node marks). A record whose time, token count,
amount or latency cannot be read is rejected with its line, source column, value and reason. Requests rows
without a request id column get ``<file stem>:<line>`` (line = record number + 1, the header being line 1), so
re-ingesting the same file, from any folder, replaces its rows instead of adding them. Costs rows are keyed by
their content (and the windows of ``restates: span``), so the same charges in another file are never counted
twice. Input tokens without cache columns are flagged ``token_subfields_missing`` (the cache split is unknown).
"""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

import duckdb
import ibis
from ibis.backends import BaseBackend

from finops_lib.errors import FinopsError, SourceError
from finops_lib.registry import Registry
from finops_lib.sources import SOURCES, Detector, Reader, ReadResult, parquet_columns, register_source
from finops_lib.sources._csv import read_csv_sql, stage_numbered
from finops_lib.sources._mapped_costs import costs_sql, costs_windows
from finops_lib.sources._mapped_requests import requests_sql
from finops_lib.sources._mapped_sql import file_stem
from finops_lib.sources._mapping_yaml import Mapping, load_mapping
from finops_lib.sources._sql import quote

__all__ = ["ENV_VAR", "MAPPINGS", "MAPPINGS_DIR", "load_mapping", "register_mapping", "select_sql"]

MAPPINGS_DIR = Path(__file__).parent / "mappings"
ENV_VAR = "FINOPS_MAPPINGS"


def select_sql(m: Mapping, source: str, present: set[str], path: Path) -> str:
    """Return the streaming SELECT turning ``source`` (all-text columns) into rows of the mapping's table.

    Parameters
    ----------
    m
        The mapping.
    source
        The relation (or table function) holding the file's columns, all as text.
    present
        The columns the file has.
    path
        The file (named in every row's provenance).

    Returns
    -------
    str
        SQL of ``requests`` or ``costs`` rows; rejected records stay in the result with an ``x_DataQualityFlags``
        starting with :data:`~finops_lib.sources.REJECT_MARK`.
    """
    build = costs_sql if m.table == "costs" else requests_sql
    return build(m, source, present, path)


# --- registration -------------------------------------------------------------------------------

#: Registered mappings by format name.
MAPPINGS: Registry[Mapping] = Registry("column mapping")


def _header_names(path: Path, head: str) -> set[str]:
    if head.startswith("PAR1"):
        return set(parquet_columns(path) or ())
    try:
        return {n.strip() for n in next(csv.reader([head.split("\n", 1)[0].lstrip("\ufeff").rstrip("\r")]))}
    except (csv.Error, StopIteration):
        return set()


def _detector(m: Mapping) -> Detector:
    def detect(path: Path, head: str) -> bool:
        return bool(m.match) and set(m.match) <= _header_names(path, head)

    return detect


def _open_source(path: Path) -> tuple[str, set[str], str | None]:
    """Return (table-function SQL with every column as text, column names, CSV reject table)."""
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq

            names = set(pq.read_schema(path).names)
        except Exception as exc:  # pyarrow raises several types for unreadable files
            raise SourceError(path, f"not a readable Parquet file: {exc}") from exc
        return f"(SELECT COLUMNS(*)::VARCHAR FROM read_parquet({quote(str(path))}))", names, None
    sql, names, rejects = read_csv_sql(path)
    return sql, set(names), rejects


def _reader(m: Mapping) -> Reader:
    def read(path: Path, con: BaseBackend) -> ReadResult:
        path = Path(path)
        source, present, csv_rejects = _open_source(path)
        missing = [c for c in m.required_columns() if c not in present]
        if missing:
            raise SourceError(path, f"column(s) of mapping {m.name!r} missing: {', '.join(missing)}", column=missing[0])
        try:
            rows = stage_numbered(con, select_sql(m, source, present, path), m.table)
            windows = costs_windows(m, rows) if m.table == "costs" else ()
        except duckdb.Error as exc:
            raise SourceError(path, f"cannot read the file with mapping {m.name!r}: {exc}") from exc
        if m.table == "costs":
            return ReadResult(
                m.format,
                str(path),
                rows,
                None,
                None,
                None,
                inline_rejects=True,
                csv_rejects=csv_rejects,
                windows=windows,
            )
        if m.source("x_RequestId") is None:  # file-stable id: stem and line
            request_id = ibis.literal(file_stem(path) + ":") + rows.x_SourceRow.cast("string")
            rows = rows.mutate(
                x_RequestId=request_id, x_RowHash=(ibis.literal(m.format + "\x1f") + request_id).hexdigest("md5")
            )
        return ReadResult(m.format, str(path), None, rows, None, None, inline_rejects=True, csv_rejects=csv_rejects)

    read.__doc__ = f"Read a file with the {m.name!r} mapping ({m.path})."
    return read


def register_mapping(path: str | Path) -> str:
    """Validate a YAML mapping and register its source format.

    Parameters
    ----------
    path
        The mapping file (see the module docstring for its keys).

    Returns
    -------
    str
        The registered format name, ``mapped:<name>``.

    Raises
    ------
    SourceError
        When the mapping is invalid (naming its line), or its name is taken by another file.

    Examples
    --------
    >>> register_mapping(MAPPINGS_DIR / "burstgpt.yaml")
    'mapped:burstgpt'
    """
    m = load_mapping(path)
    known = MAPPINGS.get(m.format)
    if (known is not None and known.path.resolve() != m.path.resolve()) or (known is None and m.format in SOURCES):
        raise SourceError(
            m.path,
            f"format {m.format!r} is already registered" + (f" from {known.path}" if known else ""),
            column="name",
        )
    # Requests: the request id column, or the file stem and line where the mapping has none, identifies a record
    # (a line id). Costs: no documented line id; the warehouse keys each row by its content.
    line_id = (
        None if m.table == "costs" else "request id" if m.source("x_RequestId") is not None else "file stem and line"
    )
    register_source(m.format, table=m.table, description=m.description, detect=_detector(m),
                    line_id=line_id)(_reader(m))  # fmt: skip
    MAPPINGS[m.format] = m
    return m.format


def _mapping_files(entry: str) -> list[Path]:
    place = Path(entry).expanduser()
    if place.is_dir():
        return sorted(p for p in place.iterdir() if p.suffix in (".yaml", ".yml"))
    return [place]


def _register_defaults() -> None:
    """Register the shipped mappings, then those named by ``$FINOPS_MAPPINGS`` (a bad one only warns)."""
    for path in _mapping_files(str(MAPPINGS_DIR)):
        register_mapping(path)
    for entry in filter(None, os.environ.get(ENV_VAR, "").split(os.pathsep)):
        for path in _mapping_files(entry):
            try:
                register_mapping(path)
            except FinopsError as exc:
                warnings.warn(f"{ENV_VAR}: mapping not registered: {exc}", stacklevel=2)


_register_defaults()
