"""FinOps FOCUS cost and usage files, versions 1.0 to 1.4 (CSV, CSV.gz, Parquet, or a zip of CSV parts).

Read entirely inside the engine (DuckDB SQL), so a month of a big cloud bill streams without
pandas; only the distinct meter strings of AI rows go through Python
(:func:`finops_lib.sources._focus_sql.meters_table`).

Quirks handled here (``reference/formats.md`` sections 1, 4.3 and 5):

* Nulls written as the literal string ``NULL`` (the FOCUS sample data), ``None`` or as empty fields.
* A CSV line that lacks trailing optional columns is padded with nulls and flagged ``row_padded``; one that
  ends before a mandatory or money column (:data:`PAD_REQUIRED`) is rejected, naming that column.
* ``Tags`` and ``SkuPriceDetails`` written as Python dict literals (``{'team': 'ml'}``) are read as JSON
  objects, the row flagged ``python_literal``.
* FOCUS 1.0-preview names (:data:`PREVIEW_NAMES`: ``Provider``, ``Publisher``, ``InvoiceIssuer``, ``Region``,
  ``UsageQuantity``, ``UsageUnit``), as Oracle's OCI FOCUS reports write them, are read as their 1.0 columns;
  ``ChargeSubcategory`` and the ``oci_*`` columns are kept in ``x_SourceExtra``.
* Timestamps as ISO ``2026-05-01T00:00:00Z`` or ``2024-09-18 22:00:00`` (no zone: UTC).
* The version is told by the columns present (:func:`focus_version`): 1.3 replaces
  ``ProviderName`` by ``ServiceProviderName`` (``HostProviderName`` beside it), 1.4 drops ``ProviderName``
  and ``PublisherName``; a file without ``InvoiceIssuerName`` or ``PublisherName`` gets the provider there.
* A zip of FOCUS CSV parts and a ``manifest.json`` (Pinecone's cost-usage export) is one delivery, its rows
  located by member and line; a missing part or a bad manifest fails it (:mod:`~finops_lib.sources._focus_zip`).
* Every column the schema has no place for (vendor ``x_*`` columns such as AWS ``x_UsageType`` or
  Azure ``x_SkuMeterName``, the FOCUS sample's ``Id``, FOCUS columns such as ``AvailabilityZone``,
  ``RegionName`` or ``CommitmentDiscountId``) is kept as text in the ``x_SourceExtra`` JSON object.
* Case variants of FOCUS values (Oracle's ``Usage-based``) are normalized; an unknown
  ``ChargeClass``/``ChargeFrequency``/``PricingCategory`` value becomes null, its raw text kept in
  ``x_SourceExtra``. A null ``ContractedCost``/``EffectiveCost``/``ListCost`` (the sample's Oracle
  rows) takes the billed amount, as every invoiced row carries all four.
* Money and quantities are parsed from their text as DECIMAL(38, 12), rounded half-even
  (exponent notation accepted; Parquet doubles are read through their shortest text).
* AI rows (token units or meters, ``Generative AI``, GenAI services, or FOCUS 1.2+
  ``SkuPriceDetails`` ``TokenDirection``): model, token bucket and tier come from AWS
  ``x_UsageType`` (provider ``aws``), Azure ``SkuMeter``/``x_SkuMeterName`` (``azure``), else
  ``SkuMeter``; ``TokenDirection``/``CacheAction`` decide the bucket when present. Other rows load
  unchanged as ``non_token`` rows, so cloud spend adds up.
* ``Tags`` is a JSON object (Azure's brace-less body is wrapped); ``team``, ``app``/``application``,
  ``feature``, ``env``/``environment`` fill the dimensions, in any case and with AWS ``user:``
  prefixes.
* A FOCUS file restates its billing period per billing account: one
  :class:`~finops_lib.sources.Window` per (account, period). A file named as one part of a multi-part
  export (``...-00001.csv.gz``, ``part_0_0001.csv``) names its delivery's parts (:func:`parts_of`): the
  parts keep each other's rows, and a later delivery of the period restates all of them.
  The natural key is every non-measure column plus the occurrence among identical rows.
"""

from __future__ import annotations

import atexit
import glob
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import duckdb
import pyarrow as pa
from ibis.backends import BaseBackend

from finops_lib.engines import workers
from finops_lib.errors import SourceError
from finops_lib.schema import conform
from finops_lib.sources import ReadResult, Window, parquet_columns, register_source
from finops_lib.sources._cloud import of_file, runs_alike, stage, union_rows
from finops_lib.sources._csv import MISSING, PADDED, execute_scan, read_csv_sql
from finops_lib.sources._focus_sql import MONEY, PROVIDER_COLUMNS, meters_table, present_column, select_sql
from finops_lib.sources._focus_zip import Export, clipped, is_zip, read_export, zipped
from finops_lib.sources._focus_zip import detect as detect_zip
from finops_lib.sources._parts import named_parts
from finops_lib.sources._sql import ident, quote, relation, timestamp_sql
from finops_lib.sources._worker_stage import on_workers, parquet_on_workers, staged_on_workers

FORMAT = "focus"
#: FOCUS columns by the version that introduced them (Cost and Usage dataset).
VERSION_COLUMNS: dict[str, tuple[str, ...]] = {
    "1.1": ("CapacityReservationId", "CapacityReservationStatus", "CommitmentDiscountQuantity",
            "CommitmentDiscountUnit", "ServiceSubcategory", "SkuMeter", "SkuPriceDetails"),
    "1.2": ("BillingAccountType", "SubAccountType", "InvoiceId", "PricingCurrency",
            "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice"),
    "1.3": ("ServiceProviderName", "HostProviderName", "AllocatedMethodId", "AllocatedMethodDetails",
            "AllocatedResourceId", "AllocatedResourceName", "AllocatedTags", "ContractApplied"),
    # The Cost and Usage columns whose spec file says "Introduced (version) 1.4" (FOCUS_Spec,
    # specification/datasets/cost_and_usage/columns/): the only ones confirmed; 1.4 also drops ProviderName.
    "1.4": ("CommitmentProgramEligibilityDetails", "TagDetails"),
}
REQUIRED = ("BilledCost", "BillingAccountId", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
            "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd", "ServiceCategory", "ServiceName")
#: Columns a short CSV line may not end before (mandatory, money, provider, correction, sub-account).
PAD_REQUIRED = frozenset((*REQUIRED, *MONEY, *PROVIDER_COLUMNS[:2], "ChargeClass", "SubAccountId"))
_MULTIPART = re.compile(r"(?i)(part[-_]?\d+|[-_]\d{4,}\.)")
_AZURE_PART = re.compile(r"^(?P<part>part)_\d+_\d+(?P<ext>(?:\.[A-Za-z0-9]+)+)$", re.IGNORECASE)
_NUMBERED_PART = re.compile(r"^(?P<stem>.*?(?:part[-_]?|[-_]))\d+(?P<ext>(?:\.[A-Za-z0-9]+)+)$", re.IGNORECASE)


def focus_version(columns: set[str] | list[str]) -> str:
    """Return the FOCUS version a set of column names implies (the newest introduced column present).

    Examples
    --------
    >>> focus_version(["BilledCost", "ProviderName"]), focus_version(["SkuMeter", "InvoiceId"])
    ('1.0', '1.2')
    >>> focus_version(["ServiceProviderName"]), focus_version(["ServiceProviderName", "TagDetails"])
    ('1.3', '1.4')
    """
    present = set(columns)
    return max((v for v, cols in VERSION_COLUMNS.items() if present & set(cols)), default="1.0")


#: FOCUS 1.0-preview (0.5) names -> 1.0 names, read as the 1.0 column when the file lacks it (Oracle's OCI FOCUS
#: reports still write ``Provider``, ``Publisher``, ``InvoiceIssuer``, ``Region``, ``UsageQuantity``, ``UsageUnit``).
PREVIEW_NAMES: dict[str, str] = {
    "Provider": "ProviderName", "Publisher": "PublisherName", "InvoiceIssuer": "InvoiceIssuerName",
    "Region": "RegionId", "UsageQuantity": "ConsumedQuantity", "UsageUnit": "ConsumedUnit",
}  # fmt: skip


def _renamed(names: list[str]) -> dict[str, str]:
    """Return the preview columns of ``names`` to read under their 1.0 name (where the file lacks that name)."""
    present = set(names)
    return {old: new for old, new in PREVIEW_NAMES.items() if old in present and new not in present}


def _is_focus(names: set[str]) -> bool:
    return {"BilledCost", "ChargePeriodStart", "BillingCurrency", "BillingPeriodStart"} <= names \
        and bool(names & {"ProviderName", "ServiceProviderName", "Provider"})


def _csv_is_focus(head: str) -> bool:
    first = head.lstrip("\ufeff").split("\n", 1)[0]
    return _is_focus({n.strip().strip('"') for n in first.split(",")})


def _detect(path: Path, head: str) -> bool:
    if head.startswith("PAR1"):
        names = parquet_columns(path)
        return names is not None and _is_focus(set(names))
    if is_zip(head):
        return detect_zip(path, _csv_is_focus)
    return _csv_is_focus(head)


# --- reading -----------------------------------------------------------------------------------------------------


def _source(path: Path) -> tuple[str, list[str], str | None]:
    """Return (SQL of a relation with every column as text, column names, CSV reject table or None)."""
    with path.open("rb") as fh:
        parquet = fh.read(4) == b"PAR1"
    if not parquet:
        sql, names, rejects = read_csv_sql(path, required=lambda n: PREVIEW_NAMES.get(n, n) in PAD_REQUIRED)
        renamed = _renamed(names)
        if renamed:
            sql = f"(SELECT * RENAME ({', '.join(f'{ident(a)} AS {ident(b)}' for a, b in renamed.items())}) FROM {sql})"
            names = [renamed.get(n, n) for n in names]
        return sql, names, rejects
    try:
        import pyarrow.parquet as pq

        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise SourceError(path, f"not a readable Parquet file: {exc}") from exc
    if len(set(schema.names)) != len(schema.names):
        raise SourceError(path, "the Parquet schema repeats a column name")
    sql, names = _parquet_text(f"read_parquet({quote(str(path))})", schema)
    return sql, names, None


def _parquet_text(relation: str, schema: pa.Schema) -> tuple[str, list[str]]:
    """Return (SQL of a Parquet file's rows every column as text, maps and lists as JSON; the columns' FOCUS names).

    ``relation``: the file (``read_parquet``), or a batch of its rows on a Spark worker.
    """
    renamed = _renamed(list(schema.names))
    cols = [f"CAST({'to_json(' + ident(f.name) + ')' if pa.types.is_nested(f.type) else ident(f.name)} "
            f"AS VARCHAR) AS {ident(renamed.get(f.name, f.name))}" for f in schema]
    pads = f"false AS {PADDED}, NULL::VARCHAR AS {MISSING}"
    return f"(SELECT {', '.join(cols)}, {pads} FROM {relation})", [renamed.get(n, n) for n in schema.names]


def _text_select(source: str, names: list[str], shown: str) -> str:
    """Return the SELECT of a file's rows as text, nulls normalized (``NULL``, ``None``, empty), with ``__file``."""
    cols = ", ".join(f"CASE WHEN upper(trim({ident(n)})) IN ('', 'NULL', 'NONE') THEN NULL ELSE {ident(n)} END "
                     f"AS {ident(n)}" for n in names)
    return f"SELECT {cols}, {PADDED}, {MISSING}, {quote(shown)} AS __file FROM {source}"


def _stage(con: BaseBackend, source: str, names: list[str], path: Path) -> str:
    """Write the file's rows, as text with nulls normalized, in file order to a temporary Parquet file.

    Returns a relation reading them back with ``__line`` (the CSV line: header = 1). Numbering
    inside the query would run it on one thread; the Parquet row number is free (as in
    :func:`finops_lib.sources._csv.stage_numbered`).
    """
    folder = Path(tempfile.mkdtemp(prefix="finops_focus_"))
    atexit.register(shutil.rmtree, folder, True)
    target = folder / "raw.parquet"
    con.con.execute("SET preserve_insertion_order = true")
    execute_scan(con, f"COPY ({_text_select(source, names, str(path))}) TO {quote(str(target))} (FORMAT parquet)")
    return (f"(SELECT * EXCLUDE (file_row_number), file_row_number + 2 AS __line "
            f"FROM read_parquet({quote(str(target))}, file_row_number = true))")


@dataclass(frozen=True)
class _Staged:
    """One file's rows staged as text (:func:`_stage`, or :func:`_stage_on_workers`), with what the load needs."""

    path: Path
    rows: str
    names: list[str]
    csv_rejects: str | None
    windows: tuple[Window, ...] = ()
    lines: int | None = None  # the data lines counted, when the rows carry their final line numbers
    notes: tuple[str, ...] = ()
    export: Export | None = None  # a zip of parts: its rejects, records and delivery


def _piece_scan(piece: Path, *, names: list[str], shown: str) -> tuple[str, str]:
    """Return the text SELECT of a CSV file holding the header and some lines of ``shown`` (on a Spark worker)."""
    source, piece_names, rejects = _source(piece)
    if piece_names != names:  # the header is copied into every piece: a difference is a fault of the split
        raise SourceError(Path(shown), "a range of lines read on a worker did not have the file's columns")
    return f"SELECT *, NULL::BIGINT AS __line FROM ({_text_select(source, names, shown)})", rejects


def _stage_on_workers(pool: workers.Workers, con: BaseBackend, path: Path, names: list[str]) -> _Staged:
    """Stage a big plain CSV's rows as text on the offered workers, in ranges of lines (:func:`workers.read_csv`).

    Each range is parsed by the same ``read_csv`` and text SELECT as the whole file on the ingest machine, and its
    rows and rejected lines numbered as the ingest machine numbers them; the typed SELECT, the meters and the
    windows then run over the staged rows exactly as over a file staged on the ingest machine.

    Raises
    ------
    finops_lib.engines.workers.WorkersFailed
        When the lines cannot be numbered on the workers; the caller stages the file on the ingest machine.
    """
    text = staged_on_workers(pool, con, path, partial(_piece_scan, names=names, shown=str(path)), _text_schema(names),
                             line_column="__line")
    return _Staged(path, text.rows, names, text.csv_rejects, lines=text.lines, notes=text.notes)


def _text_schema(names: list[str]) -> pa.Schema:
    """Return the Arrow schema of :func:`_text_select`'s rows with their ``__line``."""
    return pa.schema([*((n, pa.string()) for n in names), (PADDED, pa.bool_()), (MISSING, pa.string()),
                      ("__file", pa.string()), ("__line", pa.int64())])


def _parquet_on_workers(pool: workers.Workers, con: BaseBackend, path: Path, names: list[str]) -> _Staged:
    """Stage a big Parquet export's rows as text with Spark's Parquet reader on the workers, each with its number.

    Each batch goes through the same text SELECT as the whole file on the ingest machine
    (:func:`finops_lib.sources._worker_stage.parquet_on_workers`).
    """
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)

    def select(batch: str) -> str:
        source, _ = _parquet_text(batch, schema)
        return f"SELECT *, NULL::BIGINT AS __line FROM ({_text_select(source, names, str(path))})"

    text = parquet_on_workers(pool, con, path, select, _text_schema(names), line_column="__line")
    return _Staged(path, text.rows, names, None, notes=text.notes)


def _require(path: Path, names: list[str]) -> None:
    """Raise SourceError naming the mandatory columns a file lacks."""
    missing = [c for c in REQUIRED if c not in names]
    if not set(names) & set(PROVIDER_COLUMNS):
        missing.append("ProviderName")
    if missing:
        raise SourceError(path, f"mandatory FOCUS column(s) missing: {', '.join(missing)} "
                                f"(FOCUS {focus_version(names)} columns found)", column=missing[0])


def _member_rows(con: BaseBackend, path: Path, member: Path) -> tuple[str, list[str], str | None]:
    """Stage one CSV part of the zip ``path`` (extracted to ``member``) as text, its rows shown as rows of ``path``."""
    source, names, csv_rejects = _source(member)
    _require(member, names)
    return _stage(con, source, names, path), names, csv_rejects


def _staged_zip(con: BaseBackend, path: Path) -> _Staged:
    """Stage a zip of FOCUS CSV parts as one file: its windows those of its periods, clipped to the export's."""
    export = read_export(con, path, partial(_member_rows, con, path), fmt=FORMAT)
    windows = clipped(_windows(con, path, export.rows, export.names, whole=True), export.period)
    return _Staged(path, export.rows, export.names, None, windows, notes=export.notes, export=export)


def _staged(con: BaseBackend, path: Path) -> _Staged:
    """Stage one FOCUS file's rows as text: on the offered Spark workers when big (plain CSV, Parquet), else here."""
    if zipped(path):
        return _staged_zip(con, path)
    source, names, csv_rejects = _source(path)
    _require(path, names)
    staged, notes = on_workers(path, csv=csv_rejects is not None,
                               in_ranges=lambda pool: _stage_on_workers(pool, con, path, names),
                               by_spark=lambda pool: _parquet_on_workers(pool, con, path, names))
    if staged is not None:
        return replace(staged, windows=_windows(con, path, staged.rows, names))
    rows = _stage(con, source, names, path)
    return _Staged(path, rows, names, csv_rejects, _windows(con, path, rows, names), notes=notes)


def parts_of(path: Path) -> tuple[str, ...]:
    """Return the glob of the files of the export ``path`` is one part of (empty when it is a whole delivery).

    Only the part number varies between the parts: Azure's ``part_<n>_<nnnn>`` names, ``<name>-<nnnnn>`` and
    ``<name>_<nnnnn>`` numbered parts (AWS Data Exports), ``part-<n>``.

    Examples
    --------
    >>> parts_of(Path("/e/run-1/part_1_0001.csv")), parts_of(Path("/e/focus-00002.csv.gz"))
    (('/e/run-1/part_*_*.csv',), ('/e/focus-[0-9]*.csv.gz',))
    >>> parts_of(Path("/e/2026-05/export_0001.parquet")), parts_of(Path("/e/focus.csv"))
    (('/e/2026-05/export_[0-9]*.parquet',), ())
    """
    name = path.name
    if hit := _AZURE_PART.match(name):
        return named_parts(path, f"{glob.escape(hit['part'])}_*_*{hit['ext']}")
    if hit := _NUMBERED_PART.match(name):
        return named_parts(path, f"{glob.escape(hit['stem'])}[0-9]*{hit['ext']}")
    return ()


def _windows(con: BaseBackend, path: Path, stage: str, names: list[str], *, whole: bool = False,
             ) -> tuple[Window, ...]:
    """One window per (billing account, billing period) in the file, naming its delivery's parts when it is one.

    The parts of one delivery restate nothing of each other; a later delivery of the period restates all of them
    (:mod:`finops_lib.warehouse.delivery`). ``whole``: the file is a delivery whatever its name (a zip of parts).
    """
    parts = parts_of(path) if not whole and _MULTIPART.search(path.name) else ()
    col = present_column(names)
    start, end = timestamp_sql(col("BillingPeriodStart")), timestamp_sql(col("BillingPeriodEnd"))
    rows = con.con.execute(
        f"SELECT DISTINCT account, s, e FROM (SELECT {col('BillingAccountId')} AS account, {start} AS s, {end} AS e "
        f"FROM {stage}) WHERE account IS NOT NULL AND s IS NOT NULL AND e > s ORDER BY ALL").fetchall()
    return tuple(Window(s, e, (("BillingAccountId", account),), "BillingPeriodStart", parts=parts)
                 for account, s, e in rows)  # fmt: skip


def _read_many(paths: list[Path], con: BaseBackend) -> list[ReadResult]:
    """Read FOCUS files: each file's text staged apart, then one typed SELECT per run of files with the same columns.

    The typed SELECT is long, and for a file of a few hundred rows planning it costs more than running it: files in
    a row with the same columns share one (run once, into a staging file), each file's rows then selected by
    ``x_SourceFile``. Returns one result per file, in order, each as reading the file alone gives it.
    """
    staged: list[_Staged] = []
    for path in paths:
        try:
            staged.append(_staged(con, path))
        except (duckdb.Error, OSError) as exc:
            raise SourceError(path, f"cannot read the file: {exc}") from exc
    results: dict[Path, ReadResult] = {}
    for run in runs_alike(staged, key=lambda item: (item.names, item.export is None)):
        first, names, located = run[0].path, run[0].names, run[0].export is not None
        try:
            rows = union_rows([item.rows for item in run])
            meters = meters_table(con, rows, names)
            select = select_sql(rows, names, meters, FORMAT, locator=located)
            # one file: its SELECT as it is; several: run once into a staging file, each file's rows read back
            final = f"({select})" if len(run) == 1 else stage(con, select, first)
            for item in run:
                mine = of_file(final, item.path, len(run))
                costs = conform(relation(con, f"SELECT * {'' if len(run) == 1 else 'EXCLUDE (src_row) '}FROM {mine}"),
                                "costs")
                export = item.export
                rejects = None if export is None or export.rejects is None else \
                    conform(relation(con, export.rejects), "rejects")  # fmt: skip
                results[item.path] = ReadResult(FORMAT, str(item.path), costs, None, rejects,
                                                item.lines if export is None else export.records,
                                                inline_rejects=True, csv_rejects=item.csv_rejects,
                                                windows=item.windows, lines_final=item.lines is not None,
                                                notes=item.notes,
                                                delivered_at=None if export is None else export.delivered_at)
        except (duckdb.Error, OSError) as exc:
            raise SourceError(first, f"cannot read the file: {exc}") from exc
    return [results[path] for path in paths]


@register_source(FORMAT, table="costs", detect=_detect, many=_read_many,
                 description="FinOps FOCUS 1.0-1.4 cost and usage file (CSV, CSV.gz, Parquet, or a zip of CSV "
                             "parts; AWS, Azure and Pinecone FOCUS exports, any provider): every charge, AI rows by "
                             "model and token bucket")
def read(path: Path, con: BaseBackend) -> ReadResult:
    """Read a FOCUS file into ``costs`` rows inside the engine.

    Reads FOCUS 1.0 to 1.4 cost and usage data (CSV, optionally gzip, Parquet, or a zip of CSV parts). A reader of
    :data:`finops_lib.sources.SOURCES`: ``read(path, con) -> ReadResult``.
    """
    return _read_many([Path(path)], con)[0]
