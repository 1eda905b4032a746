"""The Langfuse UI's CSV export of observations (generations), read back into observation objects.

The UI's export (Observations or Generations table, "Export" as CSV; the batch export worker) writes one
line per observation. Every field is quoted; objects and arrays are their JSON text. Two generations of
the export exist:

* current (Langfuse v3): the header is the keys of the exported observation, ``id, traceId, projectId,
  type, environment, parentObservationId, startTime, endTime, name, metadata, level, statusMessage,
  version, input, output, modelParameters, completionStartTime, promptId, ..., usageDetails, costDetails,
  providedCostDetails, model, internalModelId, promptName, promptVersion, latency, timeToFirstToken,
  inputCost, outputCost, totalCost, inputUsage, outputUsage, totalUsage, traceName, traceTags,
  traceTimestamp, userId, ..., modelId, inputPrice, outputPrice, totalPrice`` and one column per score name
  (``usageDetails``/``costDetails`` are JSON text; ``inputUsage`` sums every ``input*`` usage key, cache
  included; ``latency`` is in milliseconds);
* older (Langfuse v2, generations only): ``id, name, traceId, traceName, startTime, endTime,
  completionStartTime, timeToFirstToken, scores, latency, latencyPerToken, inputCost, outputCost,
  totalCost, level, statusMessage, model, modelParameters, promptTokens, completionTokens, totalTokens,
  unit, input, output, metadata, promptName, promptVersion``, costs possibly written as ``$0.00123``,
  latency as ``1.50s``; some versions name them ``inputCostInUSD``/``totalCostInUSD`` and
  ``latencyInMilliSeconds`` (UNCONFIRMED which releases).

A line becomes the observation object the public API would return, so the one reading of usage, cost and
dimensions (:mod:`finops_lib.sources.langfuse`) applies: JSON-text columns are parsed, a ``$`` cost is read
as its number, ``traceTags`` are the tags, an export without a ``type`` column is the generations table
(every line a generation), and the flattened ``inputUsage``/``outputUsage``/``totalUsage`` are read (by the
reader) only when ``usageDetails`` is absent or empty (the cache split is then unknown). ``latency`` columns are dropped
(milliseconds or a formatted interval here, seconds in the API; ``endTime`` gives the latency).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from finops_lib.errors import SourceError
from finops_lib.sources._common import Fault, json_number

#: Columns a Langfuse observations CSV must have.
REQUIRED = ("id", "traceId", "startTime")
#: Columns of which an observations export has at least one (usage, cost or model).
MARKERS = (
    "usageDetails",
    "costDetails",
    "inputUsage",
    "promptTokens",
    "totalCost",
    "calculatedTotalCost",
    "totalCostInUSD",
    "model",
    "providedModelName",
)
#: Columns holding JSON text (objects or arrays) in the export.
JSON_COLUMNS = (
    "usageDetails",
    "costDetails",
    "providedUsageDetails",
    "providedCostDetails",
    "metadata",
    "modelParameters",
    "traceTags",
    "tags",
    "scores",
)
#: Cost columns written as numbers, possibly formatted (``$0.00123``); older names mapped to current ones.
COST_COLUMNS = {
    "inputCost": "inputCost",
    "outputCost": "outputCost",
    "totalCost": "totalCost",
    "calculatedTotalCost": "calculatedTotalCost",
    "inputCostInUSD": "inputCost",
    "outputCostInUSD": "outputCost",
    "totalCostInUSD": "totalCost",
}
#: Columns not carried over (latency in export-specific units; message content).
DROPPED = ("latency", "latencyInMilliSeconds", "latencyPerToken", "latencyPerTokenInMilliSeconds", "input", "output")
_MONEY_TEXT = re.compile(r"^\s*\$?\s*([-+]?[\d,]*\.?\d+(?:[eE][-+]?\d+)?)\s*$")


def header_names(head: str) -> set[str]:
    """Return the column names of a CSV head's first line (quotes and a BOM removed)."""
    first = head.lstrip("\ufeff").split("\n", 1)[0].strip()
    return {name.strip().strip('"') for name in first.split(",")}


def is_observations_csv(head: str) -> bool:
    """Whether a CSV head is a Langfuse observations export (its identity columns and a usage/cost/model one)."""
    names = header_names(head)
    return set(REQUIRED) <= names and bool(names & set(MARKERS))


def require(path: Path, names: list[str], line: int | None) -> None:
    """Raise :class:`SourceError` when a CSV header lacks a column every observation needs."""
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise SourceError(
            path, f"required Langfuse column(s) missing: {', '.join(missing)}", line=line, column=missing[0]
        )
    if not set(names) & set(MARKERS):
        raise SourceError(path, f"no usage, cost or model column (one of {', '.join(MARKERS)})", line=line)


def observation(line: dict[str, Any], *, typed: bool) -> dict[str, Any]:
    """Return a CSV line (column -> text or None) as a Langfuse observation object.

    ``typed``: the export has a ``type`` column; without one it is the generations table.

    Raises
    ------
    Fault
        When a JSON-text usage or cost column is not JSON.
    """
    obs = {k: v for k, v in line.items() if k not in DROPPED and k not in COST_COLUMNS}
    for column in JSON_COLUMNS:
        text = obs.get(column)
        if isinstance(text, str):
            obs[column] = _json_cell(text, column)
    for column, name in COST_COLUMNS.items():
        if line.get(column) is not None:
            obs[name] = _amount_text(line[column])
    if obs.get("tags") is None and obs.get("traceTags") is not None:
        obs["tags"] = obs.pop("traceTags")
    if not typed:
        obs["type"] = "GENERATION"
    return obs


def _json_cell(text: str, column: str) -> Any:
    """Return a JSON-text cell's value (numbers with a fraction as Decimal); usage and cost must be JSON."""
    try:
        return json.loads(text, parse_float=json_number)
    except ValueError:
        if column in ("usageDetails", "costDetails"):
            raise Fault(column, text, "not JSON (the export writes this object as JSON text)") from None
        return text


def _amount_text(text: str) -> str:
    """Return a cost cell as the number's text (``$1,234.5`` -> ``1234.5``); other text as is (rejected later)."""
    match = _MONEY_TEXT.match(text)
    return match.group(1).replace(",", "") if match else text
