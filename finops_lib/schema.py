"""The data contract: every table the workbench reads or writes, declared once, as data.

``costs`` is a FOCUS 1.2 cost-and-usage table (FOCUS column names, ``x_`` extensions for tokens
and AI dimensions); ``requests`` holds one row per model call from gateway logs and traces, with
the same column names wherever the concept is the same; ``rejects`` keeps every input row that
could not be loaded, with file, line, column, value and reason.

Money columns are ``decimal(38, 12)``: sums are exact in the warehouse. Values read from a
float source (LiteLLM ``spend``, OpenAI ``amount.value``) are rounded to 12 decimal places once,
at load; nothing else rounds. Every money column is in the row's ``BillingCurrency``.

Examples
--------
>>> [c.name for c in COSTS.columns][:3]
['BilledCost', 'BillingAccountId', 'BillingAccountName']
>>> COSTS.column("x_TokenType").allowed[:2]
('input_uncached', 'input_cache_read')
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from finops_lib.errors import SchemaError

LogicalType = Literal["string", "decimal", "datetime", "int64", "float64", "bool", "json"]

#: Logical type -> ibis/DuckDB type. ``json`` is JSON text in a string column.
IBIS_TYPES: dict[str, dt.DataType] = {
    "string": dt.string,
    "decimal": dt.Decimal(38, 12),
    "datetime": dt.Timestamp(timezone="UTC"),
    "int64": dt.int64,
    "float64": dt.float64,
    "bool": dt.boolean,
    "json": dt.string,
}

#: The disjoint token buckets (``x_TokenType``), with their FOCUS ``SkuPriceDetails``
#: ``TokenDirection`` / ``CacheAction`` (FOCUS PR #2606) and meaning. Reasoning, audio and
#: image tokens are *subsets* of these buckets, never buckets of their own.
TOKEN_TYPES: dict[str, tuple[str | None, str | None, str]] = {
    "input_uncached": ("Input", "None", "Input tokens neither read from nor written to a cache."),
    "input_cache_read": ("Input", "Read", "Input tokens served from a prompt cache."),
    "input_cache_write_5m": (
        "Input",
        "Write",
        "Input tokens written to a short-lived cache (Anthropic 5 minutes; OpenAI default).",
    ),
    "input_cache_write_1h": (
        "Input",
        "Write",
        "Input tokens written to a long-lived cache (Anthropic 1 hour; OpenAI 12 hours).",
    ),
    "output": ("Output", "None", "Generated tokens, reasoning tokens included."),
    "non_token": (None, None, "A charge not metered in tokens (hours, requests, storage, fees)."),
}
TOKEN_BUCKETS: tuple[str, ...] = tuple(k for k in TOKEN_TYPES if k != "non_token")

SERVICE_TIERS: tuple[str, ...] = ("standard", "batch", "priority", "flex", "provisioned")
CONTEXT_TIERS: tuple[str, ...] = ("standard", "long")
#: How a cloud deployment routes traffic, where it changes the price (Azure global / data zone /
#: regional; Bedrock cross-region inference profiles vs in-region).
DEPLOYMENT_TYPES: tuple[str, ...] = ("global", "data_zone", "regional", "cross_region")
COST_BASES: tuple[str, ...] = ("invoiced", "estimated")
#: Cost datasets a provider may deliver side by side as separate exports of the same charges.
COST_DATASETS: tuple[str, ...] = ("actual", "amortized")
CHARGE_CATEGORIES: tuple[str, ...] = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
REQUEST_STATUSES: tuple[str, ...] = ("success", "failure")

#: Data-quality flags carried in ``x_DataQualityFlags`` (comma-separated, sorted, '' = clean).
QUALITY_FLAGS: dict[str, str] = {
    "partial_bucket": "The source's time bucket does not cover a whole day (query window edge).",
    "token_subfields_missing": "The source omits cache sub-fields; the split is incomplete.",
    "cache_semantics_inferred": "Whether input tokens include cache tokens was inferred.",
    "cache_ttl_assumed": "Cache writes without a 5m/1h split were assigned to 5m.",
    "negative_tokens_clamped": "A derived bucket came out negative and was set to 0.",
    "reported_cost_missing": "The source reported no cost for this request.",
    "model_unknown": "The model could not be identified.",
    "meter_unparsed": "The SKU, meter or usage-type string could not be parsed; model and token type are not "
                      "guessed (the raw string is in SkuMeter).",
    "unpriced": "The source gives tokens without a cost; priced from the price catalog where it has the model and "
                "bucket (an estimate, counted only where the provider sends no invoice), else left out of money "
                "totals, never $0.",
    "line_id_repeated": "Another record of the same file has the same documented line id (request id, span id, "
                        "report bucket) but other amounts: both kept, since a key never merges rows that differ in "
                        "money.",
    "row_padded": "The record had fewer fields than the header; the missing trailing fields are optional and were "
                  "read as empty.",
    "python_literal": "A field meant to hold JSON held a Python literal (single quotes, None, True); it was parsed "
                      "safely as a literal.",
}

#: Request-table token columns per bucket, plus the reasoning subset.
REQUEST_TOKEN_COLUMNS: dict[str, str] = {
    "input_uncached": "x_InputUncachedTokens",
    "input_cache_read": "x_InputCacheReadTokens",
    "input_cache_write_5m": "x_InputCacheWrite5mTokens",
    "input_cache_write_1h": "x_InputCacheWrite1hTokens",
    "output": "x_OutputTokens",
}


@dataclass(frozen=True)
class Column:
    """One declared column.

    Parameters
    ----------
    name
        Column name (FOCUS name, or ``x_`` extension).
    dtype
        Logical type, a key of :data:`IBIS_TYPES`.
    required
        Whether a null value is an error.
    description
        What the column holds, with units.
    allowed
        Closed set of values, when there is one.
    origin
        ``FOCUS 1.2 mandatory``, ``FOCUS 1.2`` (optional column) or ``extension``.
    required_when
        ``(column, value)``: the column may only be null on rows where ``column`` differs from
        ``value`` (money is required on invoiced rows; token usage not yet priced has none).
    """

    name: str
    dtype: LogicalType
    required: bool
    description: str
    allowed: tuple[str, ...] | None = None
    origin: str = "extension"
    required_when: tuple[str, str] | None = None

    @property
    def ibis_type(self) -> dt.DataType:
        """The ibis type the column is stored as."""
        return IBIS_TYPES[self.dtype]


@dataclass(frozen=True)
class Table:
    """A declared table: an ordered tuple of columns.

    Parameters
    ----------
    name
        Table name in the warehouse.
    description
        What one row is.
    columns
        The declared columns, in storage order.
    """

    name: str
    description: str
    columns: tuple[Column, ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        """Return the declared column ``name``.

        Raises
        ------
        SchemaError
            When the table has no such column.
        """
        for col in self.columns:
            if col.name == name:
                return col
        raise SchemaError(self.name, name, "not a declared column")

    @property
    def names(self) -> list[str]:
        """Column names in storage order."""
        return [c.name for c in self.columns]

    def ibis_schema(self) -> ibis.Schema:
        """Return the table's ibis schema."""
        return ibis.schema({c.name: c.ibis_type for c in self.columns})


#: Appended to the description of the four FOCUS cost columns.
_MONEY_NOTE = " Null only on estimated rows not yet priced (flag `unpriced`); the FOCUS export prices or drops them."


def _money(name: str, description: str) -> Column:
    return _m(name, "decimal", False, description + _MONEY_NOTE, required_when=("x_CostBasis", "invoiced"))


def _m(name: str, dtype: LogicalType, required: bool, description: str, **kw: object) -> Column:
    return Column(name, dtype, required, description, origin="FOCUS 1.2 mandatory", **kw)  # type: ignore[arg-type]


def _f(name: str, dtype: LogicalType, description: str, **kw: object) -> Column:
    return Column(name, dtype, False, description, origin="FOCUS 1.2", **kw)  # type: ignore[arg-type]


def _x(name: str, dtype: LogicalType, required: bool, description: str, **kw: object) -> Column:
    return Column(name, dtype, required, description, **kw)  # type: ignore[arg-type]


_PROVENANCE: tuple[Column, ...] = (
    _x("x_SourceFormat", "string", True, "Registered source format that read the row (e.g. `openai_usage`)."),
    _x("x_SourceFile", "string", True, "Path of the file the row came from, as given to the loader."),
    _x("x_SourceRow", "int64", True, "Line of the record in the file (CSV: 1 = header), or its ordinal "
       "for JSON records (see `x_SourceLocator`)."),
    _x("x_SourceLocator", "string", False, "Where in a structured file the record is "
       "(e.g. `data[3].results[0]`)."),
    _x("x_RowHash", "string", True, "Hex digest (MD5/SHA-1) of the row's natural key (source format, account, period, "
       "dimensions, token bucket; for requests the request id). The same charge read again from any "
       "file has the same hash; the last ingest wins, so nothing is counted twice."),
    _x("x_DataQualityFlags", "string", True, "Comma-separated, sorted data-quality flags; '' when clean. "
       "See the flag list below."),
)

_DIMENSIONS: tuple[Column, ...] = (
    _x("x_ApiKeyId", "string", False, "API key id (OpenAI `key_...`, Anthropic `apikey_...`, LiteLLM hashed "
       "virtual key)."),
    _x("x_UserId", "string", False, "User or principal (OpenAI user, AWS IAM principal, LiteLLM user/end user)."),
    _x("x_Team", "string", False, "Team, as carried by the source (tag/label/gateway team). Allocation "
       "rules may refine it later."),
    _x("x_Application", "string", False, "Application, as carried by the source (`app`/`application` tag)."),
    _x("x_Feature", "string", False, "Feature within the application (`feature` tag)."),
    _x("x_Environment", "string", False, "Environment (`env`/`environment` tag): prod, staging, dev..."),
)

COSTS = Table(
    "costs",
    "One charge row in FOCUS 1.2 form: a period x account x SKU meter x token bucket, with its cost.",
    (
        _money("BilledCost", "Cost invoiced for the row, in BillingCurrency (after credits)."),
        _m("BillingAccountId", "string", True, "Billing account (OpenAI organization, AWS payer, Azure billing "
           "account, GCP billing account)."),
        _m("BillingAccountName", "string", False, "Display name of the billing account."),
        _m("BillingCurrency", "string", True, "ISO 4217 currency of every money column of the row (upper case)."),
        _m("BillingPeriodEnd", "datetime", True, "End (exclusive) of the billing period, UTC."),
        _m("BillingPeriodStart", "datetime", True, "Start (inclusive) of the billing period, UTC."),
        _m("ChargeCategory", "string", True, "FOCUS charge category.", allowed=CHARGE_CATEGORIES),
        _m("ChargeClass", "string", False, "`Correction` for restatements of a previous period, else null.",
           allowed=("Correction",)),
        _m("ChargeDescription", "string", False, "Human-readable description of the charge."),
        _m("ChargePeriodEnd", "datetime", True, "End (exclusive) of the charge period, UTC."),
        _m("ChargePeriodStart", "datetime", True, "Start (inclusive) of the charge period, UTC."),
        _money("ContractedCost", "Cost at negotiated prices, before credits and commitments."),
        _money("EffectiveCost", "Amortized cost after discounts and commitments."),
        _m("InvoiceIssuerName", "string", True, "Who issues the invoice (a vendor or a marketplace)."),
        _money("ListCost", "Cost at public list prices."),
        _m("PricingQuantity", "decimal", False, "Quantity in PricingUnit blocks (e.g. 0.0015 for 1,500 tokens "
           "priced per 1M)."),
        _m("PricingUnit", "string", False, "Unit the price is quoted in (`1M Tokens`, `Hours`...)."),
        _m("ProviderName", "string", True, "Who provides the service (OpenAI, Anthropic, AWS, Microsoft, "
           "Google...)."),
        _m("PublisherName", "string", True, "Who publishes the model or service (e.g. Anthropic for Claude on "
           "Bedrock)."),
        _m("ServiceCategory", "string", True, "FOCUS service category (`AI and Machine Learning` for model "
           "usage)."),
        _m("ServiceName", "string", True, "Service (OpenAI API, Claude API, Amazon Bedrock, Azure OpenAI, "
           "Vertex AI...)."),
        _f("ConsumedQuantity", "decimal", "Quantity consumed in ConsumedUnit (raw tokens for token rows); null "
           "unless ChargeCategory is Usage."),
        _f("ConsumedUnit", "string", "Unit of ConsumedQuantity (`Tokens`, `Hours`, `Requests`...)."),
        _f("ServiceSubcategory", "string", "FOCUS service subcategory (`Generative AI` for model usage)."),
        _f("ChargeFrequency", "string", "One-Time, Recurring or Usage-Based.",
           allowed=("One-Time", "Recurring", "Usage-Based")),
        _f("PricingCategory", "string", "Standard, Dynamic, Committed or Other.",
           allowed=("Standard", "Dynamic", "Committed", "Other")),
        _f("ListUnitPrice", "decimal", "List price per PricingUnit, in BillingCurrency."),
        _f("ContractedUnitPrice", "decimal", "Negotiated price per PricingUnit, in BillingCurrency."),
        _f("ResourceId", "string", "Resource (deployment, inference profile, account, endpoint)."),
        _f("ResourceName", "string", "Display name of the resource."),
        _f("RegionId", "string", "Provider region code (`us-east-1`, `westeurope`, `global`)."),
        _f("SkuId", "string", "Provider SKU or meter id."),
        _f("SkuMeter", "string", "Raw meter / usage type / line item / SKU description, as the vendor wrote it."),
        _f("SkuPriceDetails", "json", "JSON of SKU properties: FOCUS `TokenDirection`, `CacheAction`; vendor keys "
           "prefixed `x_`."),
        _f("SubAccountId", "string", "Project, workspace, AWS account, Azure subscription or GCP project."),
        _f("SubAccountName", "string", "Display name of the sub-account."),
        _f("Tags", "json", "JSON object of the row's tags/labels/metadata, keys as the vendor wrote them."),
        _x("x_Model", "string", False, "Canonical model id (lower case, no vendor prefix or region, e.g. "
           "`gpt-4o-2024-08-06`, `claude-sonnet-4-5`); null for non-model charges."),
        _x("x_ModelRaw", "string", False, "The model or meter string exactly as the source wrote it."),
        _x("x_TokenType", "string", True, "Disjoint token bucket of the row; `non_token` for other units.",
           allowed=tuple(TOKEN_TYPES)),
        _x("x_Modality", "string", False, "text, audio, image or video, when the source splits by modality.",
           allowed=("text", "audio", "image", "video")),
        _x("x_ServiceTier", "string", False, "Service tier the usage was billed at.", allowed=SERVICE_TIERS),
        _x("x_ContextTier", "string", False, "`long` when the long-context rate applies, else `standard`.",
           allowed=CONTEXT_TIERS),
        _x("x_DeploymentType", "string", False, "Deployment or routing type when it changes the price (Azure "
           "global / data zone / regional, Bedrock cross-region).", allowed=DEPLOYMENT_TYPES),
        _x("x_RequestCount", "int64", False, "Model requests the row accounts for, when the source says."),
        _x("x_CostBasis", "string", True, "`invoiced` when the vendor billed the amount, `estimated` when the "
           "workbench priced tokens.", allowed=COST_BASES),
        _x("x_CostDataset", "string", False, "Which of a provider's cost datasets the row comes from when the "
           "provider delivers the same charges as several exports (Azure cost details: `actual` or `amortized`); "
           "null when one file carries every cost basis in its own columns (FOCUS, CUR, the APIs). Where both "
           "datasets cover a billing account, sub-account and billing period, billed figures come from `actual` "
           "and EffectiveCost from `amortized` (`finops_lib.cost_datasets`).", allowed=COST_DATASETS),
        *_DIMENSIONS,
        _x("x_SourceExtra", "json", False, "JSON object of the source's columns that have no place in this schema "
           "(FOCUS vendor columns such as `x_UsageType`, newer FOCUS columns), keys as the source wrote them."),
        *_PROVENANCE,
    ),
)

REQUESTS = Table(
    "requests",
    "One model call from a gateway log or trace: tokens by disjoint bucket, latency, status, cost, owner.",
    (
        _x("x_RequestId", "string", True, "Request id, unique within the source."),
        _x("ChargePeriodStart", "datetime", True, "Request start, UTC (the period the charge was incurred in)."),
        _x("ChargePeriodEnd", "datetime", False, "Request end, UTC."),
        _x("ProviderName", "string", True, "Model provider (OpenAI, Anthropic, AWS, Microsoft, Google...)."),
        _x("x_Model", "string", False, "Canonical model id (see `costs`)."),
        _x("x_ModelRaw", "string", False, "Model string as the source wrote it."),
        _x("x_Operation", "string", False, "Call type (`chat`, `embedding`, `completion`, ...)."),
        _x("x_ServiceTier", "string", False, "Service tier of the call.", allowed=SERVICE_TIERS),
        _x("x_ContextTier", "string", False, "`long` when the prompt crossed the long-context threshold.",
           allowed=CONTEXT_TIERS),
        _x("x_InputUncachedTokens", "int64", True, "Input tokens neither read from nor written to a cache."),
        _x("x_InputCacheReadTokens", "int64", True, "Input tokens read from a prompt cache."),
        _x("x_InputCacheWrite5mTokens", "int64", True, "Input tokens written to the short-lived cache."),
        _x("x_InputCacheWrite1hTokens", "int64", True, "Input tokens written to the long-lived cache."),
        _x("x_OutputTokens", "int64", True, "Output tokens, reasoning included."),
        _x("x_OutputReasoningTokens", "int64", False, "Reasoning tokens: a subset of x_OutputTokens, never added "
           "again."),
        _x("x_LatencyMs", "float64", False, "End-to-end latency in milliseconds."),
        _x("x_Status", "string", True, "`success` or `failure`.", allowed=REQUEST_STATUSES),
        _x("x_ReportedCost", "decimal", False, "Cost the source reported for the call, in BillingCurrency."),
        _x("x_EstimatedCost", "decimal", False, "Cost the workbench computed from tokens and the price catalog; "
           "null until priced or when unpriced."),
        _x("BillingCurrency", "string", True, "Currency of x_ReportedCost and x_EstimatedCost."),
        _x("SubAccountId", "string", False, "Project or workspace the call was made in."),
        *_DIMENSIONS,
        _x("x_ExperimentId", "string", False, "Experiment the call belongs to."),
        _x("x_Variant", "string", False, "Experiment variant."),
        _x("x_QualityScore", "float64", False, "Quality score logged with the call, in [0, 1]."),
        _x("x_SessionId", "string", False, "Session or conversation id."),
        _x("Tags", "json", False, "JSON object of the call's tags and metadata."),
        *_PROVENANCE,
    ),
)

#: What a serving or cluster metric measures once normalised (``metrics.x_Metric``): unit, kind and meaning. A
#: source's own names (vLLM ``vllm:prompt_tokens_total``, TGI ``tgi_request_input_length_sum``) map to these in
#: its reader; a metric not listed keeps its own name. ``counter``: cumulative since the process started (a fall
#: is a restart); ``gauge``: a level at an instant; ``interval``: an amount over the row's period.
METRICS: dict[str, tuple[str, str, str]] = {
    "prompt_tokens": ("tokens", "counter", "Prompt (input) tokens processed by a model server."),
    "generation_tokens": ("tokens", "counter", "Tokens generated (output) by a model server."),
    "requests": ("requests", "counter", "Requests a model server finished successfully."),
    "requests_received": ("requests", "counter", "Requests a model server received, failed ones included."),
    "prefix_cache_queries": ("tokens", "counter", "Prompt tokens looked up in the prefix cache."),
    "prefix_cache_hits": ("tokens", "counter", "Prompt tokens found in the prefix cache."),
    "requests_running": ("requests", "gauge", "Requests being served at the instant."),
    "requests_waiting": ("requests", "gauge", "Requests queued at the instant."),
    "kv_cache_usage": ("ratio", "gauge", "Share of the KV cache in use at the instant (0 to 1)."),
    "gpu_utilization": ("ratio", "gauge", "Share of the GPU busy at the instant (0 to 1)."),
    **{f"{part}_cost": ("USD", "interval", f"A workload's share of the cluster's {what} cost over the period, at "
                        "the allocator's prices (OpenCost: list prices, adjusted towards the bill when integrated): "
                        "a weight for splitting the bill, never spend.")
       for part, what in (("cpu", "CPU"), ("ram", "memory"), ("gpu", "GPU"), ("pv", "persistent volume"),
                          ("network", "network"), ("load_balancer", "load balancer"), ("shared", "shared"),
                          ("external", "external (out-of-cluster)"), ("total", "whole"))},
    "cpu_core_hours": ("core-hours", "interval", "CPU core-hours allocated to a workload over the period."),
    "ram_byte_hours": ("byte-hours", "interval", "Memory byte-hours allocated to a workload over the period."),
    "gpu_hours": ("gpu-hours", "interval", "GPU-hours allocated to a workload over the period."),
    "pv_byte_hours": ("byte-hours", "interval", "Persistent-volume byte-hours allocated over the period."),
}
METRIC_KINDS: tuple[str, ...] = ("counter", "gauge", "interval", "unknown")

METRICS_TABLE = Table(
    "metrics",
    "One measured value of a serving or cluster metric: a model server's counter or gauge at an instant (vLLM, "
    "TGI, SGLang through Prometheus), or a cluster allocation over a period. Measurements, not money: never added "
    "to spend; they price self-hosted tokens and split shared costs.",
    (
        _x("ChargePeriodStart", "datetime", True, "When the value was measured (a counter or gauge sample), or the "
           "start of the period it covers (an interval), UTC."),
        _x("ChargePeriodEnd", "datetime", False, "End of the period an interval value covers, UTC; null for a "
           "sample at an instant."),
        _x("x_MetricSource", "string", True, "The software that exposed the metric (`vllm`, `tgi`, `sglang`, "
           "`dcgm`, `opencost`, `prometheus` for any other exporter)."),
        _x("x_Metric", "string", True, "What is measured: a normalised name (see the metric list below), or the "
           "exporter's own name for a metric the list does not have."),
        _x("x_MetricRaw", "string", True, "The sample's name as the exporter wrote it (`vllm:prompt_tokens_total`)."),
        _x("x_MetricKind", "string", True, "`counter` (cumulative since the process started; a fall is a restart), "
           "`gauge` (a level), `interval` (an amount over the period), `unknown` (untyped).",
           allowed=METRIC_KINDS),
        _x("x_Value", "float64", True, "The value, in x_Unit (counters are exact up to 2**53)."),
        _x("x_Unit", "string", True, "Unit of x_Value (`tokens`, `requests`, `ratio`, `seconds`, or the exporter's "
           "own where unknown: `1`)."),
        _x("x_SeriesId", "string", True, "Hex digest of the series: the exporter, the raw name, the deployment and "
           "every label. Increases of a counter are taken within one series, whatever file its samples came from."),
        _x("x_Deployment", "string", False, "The serving deployment or scrape target (the `deployment`, `job`, "
           "`service` or `instance` label, else the file's name without its time)."),
        _x("x_Model", "string", False, "Canonical model id of the model served, when a label names it."),
        _x("x_ModelRaw", "string", False, "The model as the label wrote it (`model_name`, `model`, `model_id`)."),
        _x("x_Cluster", "string", False, "Kubernetes cluster, when a label names it."),
        _x("x_Namespace", "string", False, "Kubernetes namespace, when a label names it."),
        *_DIMENSIONS,
        _x("Tags", "json", False, "JSON object of the sample's labels, as written."),
        *_PROVENANCE,
    ),
)

REJECTS = Table(
    "rejects",
    "An input record that could not be loaded, and why. Loaded + rejected = read, per file.",
    (
        _x("x_SourceFormat", "string", True, "Source format that tried to read the record."),
        _x("x_SourceFile", "string", True, "File the record is in."),
        _x("x_SourceRow", "int64", True, "Line (CSV: 1 = header) or ordinal (JSON) of the record."),
        _x("x_SourceLocator", "string", False, "Where in a structured file the record is."),
        _x("x_Column", "string", True, "Source column or field at fault."),
        _x("x_Value", "string", False, "The offending value, as text (truncated to 200 characters)."),
        _x("x_Reason", "string", True, "Why the record was rejected."),
        _x("x_TargetTable", "string", True, "Table the record was meant for.",
           allowed=("costs", "requests", "metrics")),
    ),
)

INGESTED_FILES = Table(
    "ingested_files",
    "One ingested file: its content hash, format and row counts (read = loaded + rejected).",
    (
        _x("x_SourceFile", "string", True, "Path of the file as ingested (absolute)."),
        _x("x_FileSha256", "string", True, "SHA-256 of the file's bytes."),
        _x("x_SourceFormat", "string", True, "Detected source format."),
        _x("x_RowsRead", "int64", True, "Records read from the file."),
        _x("x_RowsLoaded", "int64", True, "Records loaded (costs or requests rows produced)."),
        _x("x_RowsRejected", "int64", True, "Records rejected."),
        _x("x_IngestedAt", "datetime", True, "When the file was ingested, UTC."),
        _x("x_DeliveredAt", "datetime", False, "When the vendor delivered the file (its stated export time, else "
           "the file's modification time), UTC: where two files restate the same rows, the newer delivery wins."),
        _x("x_RowsSuperseded", "int64", False, "Records of this file a newer delivery of the same rows restates "
           "(kept out of the tables, counted here: read = loaded + rejected + superseded)."),
        _x("x_FileSize", "int64", False, "Size of the file in bytes when it was ingested."),
        _x("x_FileModifiedNs", "int64", False, "The file's modification time when it was ingested (nanoseconds since "
           "1970, UTC): a later ingest finding the same size and time skips the file without reading it again."),
    ),
)

INGESTED_WINDOWS = Table(
    "ingested_windows",
    "A slice of a source that an ingested file restates in full (a billing period of one account and dataset).",
    (
        _x("x_SourceFile", "string", True, "File that restates the window."),
        _x("x_SourceFormat", "string", True, "Source format of the file."),
        _x("x_WindowColumn", "string", True, "Timestamp column the bounds apply to."),
        _x("x_WindowStart", "datetime", True, "Start of the window, UTC, inclusive."),
        _x("x_WindowEnd", "datetime", True, "End of the window, UTC, exclusive."),
        _x("x_WindowScope", "json", False, "Columns that must match too, as a JSON object (column -> value)."),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (COSTS, REQUESTS, METRICS_TABLE, REJECTS, INGESTED_FILES, INGESTED_WINDOWS)
}


def get_table(name: str) -> Table:
    """Return the declared table ``name``.

    Raises
    ------
    SchemaError
        When no table has that name.
    """
    try:
        return TABLES[name]
    except KeyError:
        raise SchemaError(name, "*", f"unknown table; declared: {sorted(TABLES)}") from None


@functools.cache
def declared_schema(table: str) -> ibis.Schema:
    """Return the ibis schema of the declared table ``table`` (built once; :meth:`Table.ibis_schema` builds anew)."""
    return get_table(table).ibis_schema()


def conform(expr: ibis.Table, table: str) -> ibis.Table:
    """Return ``expr`` with exactly the declared columns of ``table``, in order and cast.

    Missing optional columns become typed nulls; a missing required column, or a column that
    is neither declared nor an ``x_`` extension, raises.

    Parameters
    ----------
    expr
        An ibis table expression.
    table
        Declared table name.

    Returns
    -------
    ibis.Table
        A new expression (``expr`` itself when it already has exactly the declared columns and types); ``expr`` is
        not changed.

    Raises
    ------
    SchemaError
        Naming the column at fault.
    """
    spec = get_table(table)
    if expr.schema() == declared_schema(table):  # already conformed (rows built in the declared schema): as is
        return expr
    have = set(expr.columns)
    for name in have:
        if name not in spec.names:
            raise SchemaError(table, name, "not declared in the schema")
    cols = []
    for col in spec.columns:
        if col.name in have:
            cols.append(expr[col.name].cast(col.ibis_type).name(col.name))
        elif col.required:
            raise SchemaError(table, col.name, "required column is missing")
        else:
            cols.append(ibis.null(col.ibis_type).name(col.name))
    return expr.select(cols)


def validate(frame: pd.DataFrame | ibis.Table, table: str) -> None:
    """Check ``frame`` against the declared table; raise on the first violation.

    Checks: every required column present, no undeclared column, no null in a required column,
    values castable to the declared type, values inside the allowed set, ``BillingCurrency``
    upper-case ISO codes, and token quantities not negative.

    Parameters
    ----------
    frame
        A pandas frame or an ibis table (checked in the engine, without loading it).
    table
        Declared table name.

    Raises
    ------
    SchemaError
        Naming the column and up to five offending values.

    Examples
    --------
    >>> import pandas as pd
    >>> bad = pd.DataFrame({"x_SourceFormat": ["a"], "x_SourceFile": ["f"], "x_SourceRow": [2],
    ...     "x_Column": ["spend"], "x_Value": ["x"], "x_Reason": ["not a number"],
    ...     "x_TargetTable": ["invoices"]})
    >>> validate(bad, "rejects")
    Traceback (most recent call last):
    ...
    finops_lib.errors.SchemaError: table 'rejects', column 'x_TargetTable': value not allowed \
(allowed: costs, requests, metrics); offending values: ['invoices']
    """
    spec = get_table(table)
    expr = ibis.memtable(frame) if isinstance(frame, pd.DataFrame) else frame
    have = set(expr.columns)
    for name in expr.columns:
        if name not in spec.names:
            raise SchemaError(table, name, "not declared in the schema")
    for col in spec.columns:
        if col.name not in have:
            if col.required:
                raise SchemaError(table, col.name, "required column is missing")
            continue
        _validate_column(expr, spec, col)


def _offending(expr: ibis.Table, cond: ibis.expr.types.BooleanValue, column: str) -> list[object]:
    sample = expr.filter(cond).select(column).limit(5).to_pandas()
    return sample[column].tolist()


def _checks(table: ibis.Table, col: Column) -> list[tuple[ibis.expr.types.BooleanValue, str]]:
    """Return (condition that marks a bad value, problem) pairs that apply to a column."""
    raw = table[col.name]
    checks = []
    if col.required:
        checks.append((raw.isnull(), "null value(s) in a required column"))
    elif col.required_when is not None:
        other, value = col.required_when
        checks.append((raw.isnull() & (table[other] == value), f"null value(s) on rows where {other} = {value!r}"))
    if raw.type() != col.ibis_type:
        checks.append((raw.notnull() & raw.try_cast(col.ibis_type).isnull(), f"values are not of type {col.dtype}"))
    if col.allowed is not None:
        checks.append((raw.notnull() & ~raw.cast("string").isin(list(col.allowed)),
                       f"value not allowed (allowed: {', '.join(col.allowed)})"))
    if col.name == "BillingCurrency":
        checks.append((raw.notnull() & ~raw.cast("string").re_search(r"^[A-Z]{3}$"),
                       "not an upper-case ISO 4217 code"))
    if col.dtype == "int64" and col.name.endswith("Tokens"):
        checks.append((raw.notnull() & (raw.try_cast("int64") < 0), "negative token count"))
    return checks


def _validate_column(expr: ibis.Table, spec: Table, col: Column) -> None:
    for cond, problem in _checks(expr, col):
        n = _count(expr, cond)
        if n:
            show = None if "null value" in problem else _offending(expr, cond, col.name)
            raise SchemaError(spec.name, col.name, f"{n} {problem}" if show is None else problem, show or [None])


def _count(expr: ibis.Table, cond: ibis.expr.types.BooleanValue) -> int:
    return int(expr.filter(cond).count().to_pyarrow().as_py())


def render_markdown() -> str:
    """Render the declaration as the Markdown of ``docs/schema.md``.

    Returns
    -------
    str
        The document; ``finops schema-doc`` writes it and a test fails when the file is stale.
    """
    out = [
        "# Data contract",
        "",
        "Generated from `finops_lib/schema.py` by `finops schema-doc`; do not edit by hand.",
        "",
        "Money columns are `decimal(38, 12)` in the row's `BillingCurrency`: sums are exact. Values from "
        "float sources are rounded to 12 decimal places once, at load. Times are UTC; a period's start is "
        "inclusive and its end exclusive.",
        "",
    ]
    for spec in TABLES.values():
        out += [f"## `{spec.name}`", "", spec.description, "",
                "| Column | Type | Required | Origin | Description |", "|---|---|---|---|---|"]
        for c in spec.columns:
            desc = c.description + (f" Allowed: {', '.join(f'`{a}`' for a in c.allowed)}." if c.allowed else "")
            required = "yes" if c.required else (f"when `{c.required_when[0]}` = `{c.required_when[1]}`"
                                                 if c.required_when else "no")
            out.append(f"| `{c.name}` | {c.dtype} | {required} | {c.origin} | {desc} |")
        out.append("")
    out += ["## Token buckets (`x_TokenType`)", "",
            "Disjoint: a token is in exactly one bucket. Reasoning, audio and image tokens are subsets.", "",
            "| Bucket | FOCUS TokenDirection | FOCUS CacheAction | Meaning |", "|---|---|---|---|"]
    for name, (direction, action, meaning) in TOKEN_TYPES.items():
        out.append(f"| `{name}` | {direction or ''} | {action or ''} | {meaning} |")
    out += ["", "## Data-quality flags (`x_DataQualityFlags`)", "", "| Flag | Meaning |", "|---|---|"]
    out += [f"| `{k}` | {v} |" for k, v in QUALITY_FLAGS.items()]
    out += ["", "## Metrics (`metrics.x_Metric`)", "", "Normalised names of serving metrics; the readers map each "
            "exporter's own names to these.", "", "| Metric | Unit | Kind | Meaning |", "|---|---|---|---|"]
    out += [f"| `{k}` | {unit} | {kind} | {meaning} |" for k, (unit, kind, meaning) in METRICS.items()]
    return "\n".join(out) + "\n"
