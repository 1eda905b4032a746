"""The warehouse ``costs`` table written back out as a FOCUS 1.2 cost and usage dataset.

Only charges are exported: rows with ``x_CostBasis = 'invoiced'``. Usage the workbench priced
(``estimated``) or could not price (``unpriced``, money null) is not a charge that any invoice
issuer billed: FOCUS requires ``BilledCost`` on every row, and adding those rows beside the
invoiced ones would count the same tokens twice. They still lend their token counts to the
charges they explain (below).

Every FOCUS 1.2 mandatory column is written, with the conditional ones the workbench can fill
(quantities and units, unit prices, region, resource, SKU, sub-account, tags, commitment
discounts and availability zone from FOCUS sources) and every ``x_`` extension column of
``costs`` (FOCUS allows ``x_``-prefixed custom columns). Mapping choices, each for a FOCUS rule:

* Quantity: cost APIs (OpenAI Costs, Anthropic cost report) bill amounts without quantities, but
  FOCUS needs ``PricingQuantity`` on every usage charge. A token charge without a quantity takes
  the token count of the same provider's usage rows (``estimated``) with the same sub-account,
  model and token bucket whose periods lie inside the charge period (the service tier must match
  too when several charges share that key). ``x_QuantitySource`` says where the quantity comes
  from: ``charge``, ``usage``, or ``usage_partial`` when a usage bucket only covers part of its
  period (query window edge: the count may be short). Token ``PricingQuantity`` is in blocks of
  one million (``PricingUnit = '1000000 Tokens'``); FOCUS unit format wants a whole number, so
  ``1M Tokens`` / ``1K Tokens`` units are written ``1000000 Tokens`` / ``1000 Tokens``.
* Unit prices a token charge's source did not give are its cost / ``PricingQuantity`` (so that
  ``ListUnitPrice x PricingQuantity = ListCost``), never from partial usage; other charges keep the
  source's unit prices.
* ``InvoiceIssuerName`` is written as ``ProviderName`` when both name the same company
  (``Amazon Web Services, Inc.`` / ``AWS``): FOCUS reads a different issuer as a third-party
  (marketplace) charge, whose ``BilledCost`` must be 0.
* FOCUS forbids nulls that sources leave: ``RegionName``, ``ResourceName`` and ``SubAccountName``
  fall back to the id; ``ServiceSubcategory`` to the one the same service has elsewhere in the
  data, else ``Other (<ServiceCategory>)``; ``ChargeFrequency`` to ``Usage-Based`` for usage, else
  ``One-Time``; ``ChargeDescription`` to ``SkuMeter``, else ``ServiceName``.
* ``InvoiceId``, ``AvailabilityZone``, ``RegionName``, ``ResourceType``, ``SkuPriceId``,
  ``CommitmentDiscount*`` and ``CapacityReservation*`` come from ``x_SourceExtra`` (FOCUS sources).

:func:`run_validator` runs the FinOps Foundation's ``focus-validator`` on an exported file; see
:data:`INVOICE_PAIR` for the one defect of its 1.2 rule model that no data can pass.

Examples
--------
>>> "BilledCost" in FOCUS_COLUMNS and "x_TokenType" in export_columns()
True
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import duckdb
from ibis.backends import BaseBackend

from finops_lib import engine, paths
from finops_lib.cost_datasets import merge_cost_datasets
from finops_lib.engines.transfer import copy_tables
from finops_lib.errors import FinopsError
from finops_lib.schema import COSTS
from finops_lib.share import atomic_path, neutralise_sql

SUPPORTED_VERSIONS = ("1.2",)
TOKENS_PER_BLOCK = 1_000_000
TOKEN_UNIT = f"{TOKENS_PER_BLOCK} Tokens"
BLOCK_FRACTION = "0.000001"  # 1 / TOKENS_PER_BLOCK, exact in SQL decimal arithmetic


def _extra(key: str) -> str:
    return f"json_extract_string(c.x_SourceExtra, '$.\"{key}\"')"


def _same_company(a: str, b: str) -> str:
    """Return SQL: whether two entity names name the same company (legal suffixes and punctuation ignored)."""
    def norm(x: str) -> str:
        text = f"regexp_replace(lower({x}), '[^a-z0-9 ]', '', 'g')"
        text = f"trim(regexp_replace({text}, '\\b(inc|llc|ltd|limited|corp|corporation|pbc|gmbh|co)\\b', '', 'g'))"
        return f"regexp_replace(regexp_replace({text}, '^amazon web services$', 'aws'), '^google cloud$', 'google')"
    return f"({norm(a)} = {norm(b)})"


def _unit_sql(unit: str) -> str:
    """Return SQL writing a pricing unit in FOCUS unit format (``1M Tokens`` -> ``1000000 Tokens``)."""
    scaled = (f"CAST(CAST(TRY_CAST(regexp_extract({unit}, '^(\\d+(?:\\.\\d+)?)', 1) AS DECIMAL(18, 3)) * "
              f"CASE upper(regexp_extract({unit}, '^[\\d.]+\\s*([KkMm])\\s', 1)) WHEN 'K' THEN 1000 ELSE 1000000 END "
              "AS BIGINT) AS VARCHAR)")
    rest = f"regexp_extract({unit}, '^[\\d.]+\\s*[KkMm]\\s+(.*)$', 1)"
    test = f"regexp_matches({unit}, '^[\\d.]+\\s*[KkMm]\\s+\\S')"
    return f"CASE WHEN {test} THEN {scaled} || ' ' || {rest} ELSE {unit} END"


def _derived_price(cost: str) -> str:
    """Return SQL of the unit price of a token charge as cost / PricingQuantity (not from partial usage)."""
    return (f"CASE WHEN c.x_TokenType <> 'non_token' AND c.quantity_source IN ('charge', 'usage') THEN "
            f"CAST(round({cost} / nullif(c.pricing_quantity, 0), 12) AS DECIMAL(38, 12)) END")


#: The FOCUS 1.2 columns written, with the SQL computing each from the prepared rows ``c``.
FOCUS_COLUMNS: dict[str, str] = {
    "AvailabilityZone": _extra("AvailabilityZone"),
    "BilledCost": "c.BilledCost",
    "BillingAccountId": "c.BillingAccountId",
    "BillingAccountName": "c.BillingAccountName",
    "BillingCurrency": "c.BillingCurrency",
    "BillingPeriodEnd": "c.BillingPeriodEnd",
    "BillingPeriodStart": "c.BillingPeriodStart",
    "CapacityReservationId": _extra("CapacityReservationId"),
    "CapacityReservationStatus": _extra("CapacityReservationStatus"),
    "ChargeCategory": "c.ChargeCategory",
    "ChargeClass": "c.ChargeClass",
    "ChargeDescription": "coalesce(c.ChargeDescription, c.SkuMeter, c.ServiceName)",
    "ChargeFrequency": "coalesce(c.ChargeFrequency, CASE WHEN c.ChargeCategory = 'Usage' THEN 'Usage-Based' "
                       "ELSE 'One-Time' END)",
    "ChargePeriodEnd": "c.ChargePeriodEnd",
    "ChargePeriodStart": "c.ChargePeriodStart",
    "CommitmentDiscountCategory": _extra("CommitmentDiscountCategory"),
    "CommitmentDiscountId": _extra("CommitmentDiscountId"),
    "CommitmentDiscountName": _extra("CommitmentDiscountName"),
    "CommitmentDiscountQuantity": f"TRY_CAST({_extra('CommitmentDiscountQuantity')} AS DECIMAL(38, 12))",
    "CommitmentDiscountStatus": _extra("CommitmentDiscountStatus"),
    "CommitmentDiscountType": _extra("CommitmentDiscountType"),
    "CommitmentDiscountUnit": _extra("CommitmentDiscountUnit"),
    "ConsumedQuantity": "CASE WHEN c.ChargeCategory = 'Usage' THEN c.quantity END",
    "ConsumedUnit": "CASE WHEN c.ChargeCategory = 'Usage' AND c.quantity IS NOT NULL THEN c.consumed_unit END",
    "ContractedCost": "c.ContractedCost",
    "ContractedUnitPrice": f"coalesce(c.ContractedUnitPrice, {_derived_price('c.ContractedCost')})",
    "EffectiveCost": "c.EffectiveCost",
    "InvoiceId": _extra("InvoiceId"),
    "InvoiceIssuerName": f"CASE WHEN {_same_company('c.InvoiceIssuerName', 'c.ProviderName')} THEN c.ProviderName "
                         "ELSE c.InvoiceIssuerName END",
    "ListCost": "c.ListCost",
    "ListUnitPrice": f"coalesce(c.ListUnitPrice, {_derived_price('c.ListCost')})",
    "PricingCategory": "c.PricingCategory",
    "PricingQuantity": "c.pricing_quantity",
    "PricingUnit": "CASE WHEN c.pricing_quantity IS NOT NULL THEN c.pricing_unit END",
    "ProviderName": "c.ProviderName",
    "PublisherName": "c.PublisherName",
    "RegionId": "c.RegionId",
    "RegionName": f"CASE WHEN c.RegionId IS NOT NULL THEN coalesce({_extra('RegionName')}, c.RegionId) END",
    "ResourceId": "c.ResourceId",
    "ResourceName": "CASE WHEN c.ResourceId IS NOT NULL THEN coalesce(c.ResourceName, c.ResourceId) END",
    "ResourceType": _extra("ResourceType"),
    "ServiceCategory": "c.ServiceCategory",
    "ServiceName": "c.ServiceName",
    "ServiceSubcategory": "c.service_subcategory",
    "SkuId": "c.SkuId",
    "SkuMeter": "c.SkuMeter",
    "SkuPriceDetails": "c.SkuPriceDetails",
    "SkuPriceId": _extra("SkuPriceId"),
    "SubAccountId": "c.SubAccountId",
    "SubAccountName": "CASE WHEN c.SubAccountId IS NOT NULL THEN coalesce(c.SubAccountName, c.SubAccountId) END",
    "Tags": "c.Tags",
}
#: Extension columns added by the export itself.
EXPORT_EXTENSIONS: dict[str, str] = {
    "x_QuantitySource": "c.quantity_source",
}
_TIMESTAMPS = ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart")


def export_columns() -> list[str]:
    """Return the exported column names: FOCUS 1.2 columns, then ``x_`` extensions."""
    return [*FOCUS_COLUMNS, *(c.name for c in COSTS.columns if c.name.startswith("x_")), *EXPORT_EXTENSIONS]


def _prepared_sql(table: str) -> str:
    """Return SQL of the invoiced rows with their quantity (own, else from the usage they bill) and units."""
    key = "ProviderName, ChargePeriodStart, ChargePeriodEnd, SubAccountId, x_Model, x_TokenType"
    same = " AND ".join(f"u.{k} IS NOT DISTINCT FROM c.{k}" for k in ("ProviderName", "SubAccountId", "x_TokenType"))
    tier = "u.x_ServiceTier IS NOT DISTINCT FROM c.x_ServiceTier"
    return f"""
WITH charges AS (
  SELECT *, row_number() OVER () AS charge_id,
    count(*) OVER (PARTITION BY {key}) AS sharing,
    count(*) OVER (PARTITION BY {key}, x_ServiceTier) AS sharing_tier
  FROM "{table}" WHERE x_CostBasis = 'invoiced'
), usage AS (
  SELECT ProviderName, SubAccountId, x_Model, x_TokenType, x_ServiceTier, ChargePeriodStart, ChargePeriodEnd,
    ConsumedQuantity AS q, contains(x_DataQualityFlags, 'partial_bucket') AS partial
  FROM "{table}"
  WHERE x_CostBasis = 'estimated' AND x_TokenType <> 'non_token' AND ConsumedQuantity IS NOT NULL
), billed AS (
  SELECT c.charge_id,
    CASE WHEN any_value(c.sharing_tier) = 1 THEN sum(u.q) FILTER (WHERE {tier}) END AS q_tier,
    CASE WHEN any_value(c.sharing_tier) = 1 THEN bool_or(u.partial) FILTER (WHERE {tier}) END AS partial_tier,
    CASE WHEN any_value(c.sharing) = 1 THEN sum(u.q) END AS q_any,
    CASE WHEN any_value(c.sharing) = 1 THEN bool_or(u.partial) END AS partial_any
  FROM charges c JOIN usage u ON {same} AND u.x_Model = c.x_Model
    AND u.ChargePeriodStart >= c.ChargePeriodStart AND u.ChargePeriodEnd <= c.ChargePeriodEnd
  WHERE c.ConsumedQuantity IS NULL AND c.x_TokenType <> 'non_token'
  GROUP BY c.charge_id
), services AS (
  SELECT ServiceName, ServiceCategory, first(ServiceSubcategory ORDER BY n DESC, ServiceSubcategory) AS sub
  FROM (SELECT ServiceName, ServiceCategory, ServiceSubcategory, count(*) AS n FROM charges
        WHERE ServiceSubcategory IS NOT NULL GROUP BY ALL) GROUP BY ALL
), matched AS (
  SELECT c.*, coalesce(b.q_tier, b.q_any) AS usage_tokens,
    CASE WHEN b.q_tier IS NOT NULL THEN b.partial_tier ELSE b.partial_any END AS usage_partial,
    coalesce(c.ServiceSubcategory, s.sub, 'Other (' || c.ServiceCategory || ')') AS service_subcategory
  FROM charges c LEFT JOIN billed b USING (charge_id)
    LEFT JOIN services s ON s.ServiceName = c.ServiceName AND s.ServiceCategory = c.ServiceCategory
)
SELECT *,
  CASE WHEN derive THEN CAST(CAST(quantity AS DECIMAL(38, 12)) * {BLOCK_FRACTION} AS DECIMAL(38, 12))
       ELSE PricingQuantity END AS pricing_quantity,
  CASE WHEN derive THEN CASE WHEN quantity IS NOT NULL THEN '{TOKEN_UNIT}' END
       ELSE {_unit_sql("PricingUnit")} END AS pricing_unit
FROM (
SELECT *,
  CASE WHEN ConsumedQuantity IS NOT NULL THEN 'charge' WHEN usage_tokens IS NULL THEN NULL
       WHEN usage_partial THEN 'usage_partial' ELSE 'usage' END AS quantity_source,
  coalesce(ConsumedQuantity, usage_tokens) AS quantity,
  coalesce(ConsumedUnit, CASE WHEN usage_tokens IS NOT NULL THEN 'Tokens' END) AS consumed_unit,
  PricingQuantity IS NULL AND x_TokenType <> 'non_token' AND coalesce(ConsumedUnit, 'Tokens') = 'Tokens' AS derive
FROM matched)
"""


def focus_sql(*, table: str = "costs", version: str = "1.2", text_times: bool = False) -> str:
    """Return the SQL selecting the FOCUS dataset from the warehouse table.

    Parameters
    ----------
    table
        The warehouse table holding ``costs`` rows.
    version
        FOCUS version to write (only ``1.2``).
    text_times
        Write timestamps as ISO-8601 UTC text (``2026-05-01T00:00:00Z``), as CSV files need.

    Raises
    ------
    FinopsError
        When ``version`` is not supported.
    """
    if version not in SUPPORTED_VERSIONS:
        raise FinopsError(f"FOCUS version {version!r} is not supported; supported: {', '.join(SUPPORTED_VERSIONS)}")
    cols = []
    for name, expr in FOCUS_COLUMNS.items():
        if text_times and name in _TIMESTAMPS:
            expr = f"strftime({expr}, '%Y-%m-%dT%H:%M:%SZ')"
        cols.append(f"{expr} AS {name}")
    cols += [f"c.{n} AS {n}" for n in export_columns() if n.startswith("x_") and n not in EXPORT_EXTENSIONS]
    cols += [f"{expr} AS {name}" for name, expr in EXPORT_EXTENSIONS.items()]
    return (f"SELECT {', '.join(cols)} FROM ({_prepared_sql(table)}) c "
            "ORDER BY c.BillingPeriodStart, c.ChargePeriodStart, c.ProviderName, c.x_RowHash")


def export_focus(con: BaseBackend, out: str | Path, *, version: str = "1.2", table: str = "costs",
                 spreadsheet_safe: bool = True) -> dict[str, object]:  # fmt: skip
    """Write the warehouse's charges as a FOCUS dataset (CSV or Parquet, chosen by the file suffix).

    Parameters
    ----------
    con
        The engine holding ``costs`` (DuckDB; on another engine the charges are copied to an in-memory DuckDB
        through Arrow and written from there, so the bytes are the same).
    out
        Target file: ``.csv`` or ``.parquet``.
    version
        FOCUS version (only ``1.2``).
    table
        The table to export.
    spreadsheet_safe
        CSV only: a text cell a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab
        or a carriage return, and not a plain number) is written with a leading apostrophe
        (:func:`finops_lib.share.neutralise`); False writes text as it is (for programs, not spreadsheets).

    Returns
    -------
    dict
        ``path``, ``rows`` written, ``left_out`` (estimated/unpriced rows, not charges),
        ``without_quantity`` (usage charges whose quantity is unknown: they break FOCUS's
        PricingQuantity rule), ``version``.

    Raises
    ------
    FinopsError
        On an unsupported version or file suffix, or without the table.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise FinopsError(f"{out}: the FOCUS export is written as .csv or .parquet")
    if table not in con.list_tables():
        raise FinopsError(f"the warehouse holds no {table} table: run `finops ingest` first (or pass --data)")
    if getattr(con, "name", None) != "duckdb":
        # Another engine (Spark): its charges come over in Arrow to an in-memory DuckDB, which writes the file with
        # the same statement, so both engines give the same bytes. The costs table (charges, not requests) is what
        # travels; a warehouse whose charges do not fit in memory exports on DuckDB over the Parquet tables.
        local = engine.memory()
        try:
            copy_tables(con, local, tables=(table,))
            return export_focus(local, out, version=version, table=table, spreadsheet_safe=spreadsheet_safe)
        finally:
            local.disconnect()
    con.create_view("_focus_charges", merge_cost_datasets(con.table(table)), overwrite=True)
    try:
        sql = focus_sql(table="_focus_charges", version=version, text_times=suffix == ".csv")
        written = _spreadsheet_safe(con, sql) if suffix == ".csv" and spreadsheet_safe else sql
        options = "FORMAT csv, HEADER true" if suffix == ".csv" else "FORMAT parquet, COMPRESSION zstd"
        with atomic_path(out) as temp:  # the old export stays whole if this one fails
            target = str(temp).replace("'", "''")
            con.con.execute(f"COPY ({written}) TO '{target}' ({options})")
        stats = con.con.execute(
            f"""SELECT count(*) FILTER (WHERE x_CostBasis = 'invoiced'),
                       count(*) FILTER (WHERE x_CostBasis <> 'invoiced') FROM "{table}" """).fetchone()
        missing = con.con.execute(
            f"SELECT count(*) FROM ({sql}) WHERE ChargeCategory IN ('Usage', 'Purchase') AND PricingQuantity IS NULL "
            "AND ChargeClass IS NULL").fetchone()[0]
    finally:
        con.drop_view("_focus_charges", force=True)
    return {"path": str(out), "rows": int(stats[0]), "left_out": int(stats[1]), "without_quantity": int(missing),
            "version": version}


def _spreadsheet_safe(con: BaseBackend, sql: str) -> str:
    """Return ``sql`` with every text column neutralised for spreadsheets (:func:`finops_lib.share.neutralise_sql`)."""
    text = [name for name, sql_type, *_ in con.con.execute(f"DESCRIBE {sql}").fetchall() if sql_type == "VARCHAR"]
    if not text:
        return sql
    replaced = ", ".join(f'{neutralise_sql(chr(34) + name + chr(34))} AS "{name}"' for name in text)
    return f"SELECT * REPLACE ({replaced}) FROM ({sql})"


# --- the FinOps Foundation validator ------------------------------------------------------------------------------

#: ``focus-validator`` 2.2.1's 1.2 model encodes InvoiceId's two conditional nullability rules without their
#: conditions ("when the charge is (not) associated with an invoice"), so whatever InvoiceId holds, one of the
#: pair fails on every row (a known upstream defect, FOCUS_Spec#2394). Their OR is the requirement that can pass:
#: a failure of the pair is tolerated when the OR passes (InvoiceId all null, or all set). When a dataset mixes
#: rows with and without an invoice (FOCUS-correct), both halves fail, which also fails the OR and the column's
#: AND rule; those are tolerated then, and only then.
INVOICE_PAIR = ("InvoiceId-C-004-C", "InvoiceId-C-005-C")
INVOICE_OR = "InvoiceId-C-003-C"
INVOICE_COLUMN = "InvoiceId-C-000-O"
DEFAULT_VALIDATOR_VENV = paths.BUILD_DIR / "focus-validator-venv"
_RESULT = re.compile(r"^\S+\s+(?P<rule>[A-Za-z]+-[A-Z]-\d{3}-[A-Z]):\s+(?P<status>PASS|FAIL|SKIPPED)\b(?P<rest>.*)$",
                     re.M)


def validator_failures(report: str, *, mixed_invoice_ids: bool = False) -> list[str]:
    """Return the failed rules of a ``focus-validator`` console report, less the tolerated InvoiceId defect.

    Parameters
    ----------
    report
        The validator's console output.
    mixed_invoice_ids
        Whether the file has both null and non-null InvoiceId values.

    Raises
    ------
    FinopsError
        When the text holds no rule results (the validator did not run).

    Examples
    --------
    >>> validator_failures(chr(10).join(["✅ InvoiceId-C-003-C: PASS", "❌ InvoiceId-C-005-C: FAIL (violations=3)",
    ...                                  "❌ BilledCost-C-005-C: FAIL (violations=1)"]))
    ['BilledCost-C-005-C']
    """
    results = {m["rule"]: (m["status"], m["rest"]) for m in _RESULT.finditer(report)}
    if not results:
        raise FinopsError("the focus-validator report holds no rule results")
    tolerated: set[str] = set()
    if results.get(INVOICE_OR, ("",))[0] == "PASS":
        tolerated.update(INVOICE_PAIR)
    elif mixed_invoice_ids:
        tolerated.update((*INVOICE_PAIR, INVOICE_OR))
        children = re.search(r"failed child rules: \[([^\]]*)\]", results.get(INVOICE_COLUMN, ("", ""))[1])
        if children and {c.strip() for c in children.group(1).split(",")} <= {INVOICE_OR}:
            tolerated.add(INVOICE_COLUMN)
    return sorted(rule for rule, (status, _) in results.items() if status == "FAIL" and rule not in tolerated)


def _mixed_invoice_ids(path: Path) -> bool:
    """Whether a FOCUS file has InvoiceId values on some rows and nulls on others."""
    reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
    target = str(path).replace("'", "''")
    con = duckdb.connect()
    try:
        if "InvoiceId" not in [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}('{target}')").fetchall()]:
            return False
        have, total = con.execute(f"SELECT count(InvoiceId), count(*) FROM {reader}('{target}')").fetchone()
    finally:
        con.close()
    return 0 < have < total


def run_validator(path: str | Path, *, venv: str | Path = DEFAULT_VALIDATOR_VENV, version: str = "1.2",
                  timeout: int = 900) -> tuple[list[str], str]:
    """Run the FinOps Foundation's ``focus-validator`` on a FOCUS file; return (failed rules, report).

    The validator reads its currency list by a relative path, so it runs from its own
    site-packages folder, with ``--block-download`` (its bundled rule model, no network).

    Parameters
    ----------
    path
        The FOCUS CSV or Parquet file.
    venv
        The validator's virtual environment (``make focus-validate`` creates it).
    version
        FOCUS version to validate against.
    timeout
        Seconds before giving up.

    Raises
    ------
    FinopsError
        When the validator is not installed, crashes, or prints no result.
    """
    venv = Path(venv)
    exe = venv / "bin" / "focus-validator"
    sites = sorted(venv.glob("lib/python*/site-packages"))
    if not exe.exists() or not sites:
        raise FinopsError(f"focus-validator is not installed in {venv} (run `make focus-validate`)")
    cmd = [str(exe), "--data-file", str(Path(path).resolve()), "--validate-version", version, "--block-download",
           "--show-violations"]
    try:
        proc = subprocess.run(cmd, cwd=sites[0], capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FinopsError(f"focus-validator did not run: {exc}") from exc
    report = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise FinopsError(f"focus-validator exited with {proc.returncode}: {report[-2000:]}")
    return validator_failures(report, mixed_invoice_ids=_mixed_invoice_ids(Path(path))), report
