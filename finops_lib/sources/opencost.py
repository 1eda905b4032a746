"""OpenCost (and Kubecost) allocation exports: what each Kubernetes workload was allocated, as ``metrics`` rows.

Shape: the JSON of OpenCost's ``GET /allocation`` (and ``/allocation/compute``, Kubecost's ``/model/allocation``):
``{"code": 200, "data": [{"<name>": {allocation}, ...}, ...]}``, one map per ``step``, each allocation with
``name``, ``properties`` (``cluster``, ``node``, ``namespace``, ``controller``, ``controllerKind``, ``pod``,
``container``, ``labels``, ``annotations``, ``services``), ``window`` (``start``, ``end``), ``start``, ``end``,
``minutes``, the quantities ``cpuCoreHours``, ``ramByteHours``, ``gpuHours``, ``pvByteHours`` and the costs
``cpuCost``, ``ramCost``, ``gpuCost``, ``pvCost``, ``networkCost``, ``loadBalancerCost`` (each with its
``...CostAdjustment``), ``sharedCost``, ``externalCost``, ``totalCost`` (opencost.io/docs/integrations/api).
Each allocation of each step is a record (``x_SourceLocator`` ``data[1]["llm-serving"]``, ``x_SourceRow`` its
ordinal), giving one ``interval`` row per measure it carries, over its step's window.

Why ``metrics`` and not ``costs`` (the decision): OpenCost prices a cluster's nodes, disks and load balancers at
on-demand list prices (or, with a cloud integration, adjusts them towards the bill) and splits that among
workloads. The money itself is on the cloud bill already (the CUR or FOCUS lines of the nodes); these figures say
*how to split it*, so they are kept as measurements and never added to spend. A component's cost is its cost plus
its adjustment (what OpenCost's own ``totalCost`` adds up). Amounts are in OpenCost's configured currency, which
the API does not state: USD unless its settings say otherwise (``x_Unit`` says ``USD``; UNCONFIRMED for other
currencies).

Quirks handled here:

* The special names ``__idle__`` (capacity no workload requested), ``__unallocated__`` and ``__unmounted__``
  (volumes and load balancers no pod uses) are kept under their names: idle cost is part of what a cluster costs.
* Labels arrive with Prometheus-safe keys (``app_kubernetes_io_name``); the dimensions are read from ``team``,
  ``app``/``application``/``app_kubernetes_io_name``, ``feature``, ``env``/``environment``.
* A value that is not a finite number or is beyond 2**53 rejects its allocation (every row of it), naming the
  field; a window that is not an ISO time, or outside the plausible dates, too.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend

from finops_lib.models import canonical_model
from finops_lib.sources import ReadResult, register_source
from finops_lib.sources._common import Fault, flags, records_table, row_hash
from finops_lib.sources._genai import iso_time, read_documents
from finops_lib.sources._records import build_rows
from finops_lib.sources.prometheus import LARGEST, MODEL_LABELS

FORMAT = "opencost_allocation"
#: Normalised metric -> (the allocation's fields summed, unit).
MEASURES: dict[str, tuple[tuple[str, ...], str]] = {
    "cpu_cost": (("cpuCost", "cpuCostAdjustment"), "USD"),
    "ram_cost": (("ramCost", "ramCostAdjustment"), "USD"),
    "gpu_cost": (("gpuCost", "gpuCostAdjustment"), "USD"),
    "pv_cost": (("pvCost", "pvCostAdjustment"), "USD"),
    "network_cost": (("networkCost", "networkCostAdjustment"), "USD"),
    "load_balancer_cost": (("loadBalancerCost", "loadBalancerCostAdjustment"), "USD"),
    "shared_cost": (("sharedCost",), "USD"),
    "external_cost": (("externalCost",), "USD"),
    "total_cost": (("totalCost",), "USD"),
    "cpu_core_hours": (("cpuCoreHours",), "core-hours"),
    "ram_byte_hours": (("ramByteHours",), "byte-hours"),
    "gpu_hours": (("gpuHours",), "gpu-hours"),
    "pv_byte_hours": (("pvByteHours",), "byte-hours"),
}
_LOCATION = ("cluster", "node", "namespace", "controllerKind", "controller", "pod", "container")
_DIMENSION_LABELS = {"x_Team": ("team",), "x_Application": ("app", "application", "app_kubernetes_io_name"),
                     "x_Feature": ("feature",), "x_Environment": ("env", "environment")}  # fmt: skip


def _detect(path: Path, head: str) -> bool:
    text = head.lstrip("\ufeff \t\r\n")
    return (text.startswith("{") and '"data"' in text and '"totalCost"' in text
            and ('"cpuCoreHours"' in text or '"cpuCost"' in text) and '"properties"' in text)  # fmt: skip


def _number(alloc: dict[str, Any], field: str) -> float | None:
    value = alloc.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise Fault(field, value, "not a number")
    try:
        number = float(value)
    except ValueError:
        raise Fault(field, value, "not a number") from None
    if not math.isfinite(number):
        raise Fault(field, value, "not a finite number")
    if abs(number) > LARGEST:
        raise Fault(field, value, "out of range: beyond 2**53")
    return number


def _window(alloc: dict[str, Any]) -> tuple[Any, Any, str]:
    window = alloc.get("window") if isinstance(alloc.get("window"), dict) else {}
    if window.get("start") and window.get("end"):
        return window["start"], window["end"], "window"
    return alloc.get("start"), alloc.get("end"), ""


def build_row_set(alloc: Any, shown: str, ordinal: int, locator: str | None) -> list[dict[str, Any]]:
    """Return the ``metrics`` rows of one allocation (raises :class:`Fault` naming the field at fault)."""
    if not isinstance(alloc, dict):
        raise Fault("allocation", alloc, "an allocation is a JSON object")
    start_raw, end_raw, where = _window(alloc)
    prefix = f"{where}." if where else ""
    start, end = iso_time(start_raw, f"{prefix}start"), iso_time(end_raw, f"{prefix}end")  # in the window too
    if end < start:
        raise Fault(f"{prefix}end", end_raw, "the window ends before it starts")
    values = {metric: [_number(alloc, f) for f in fields] for metric, (fields, _) in MEASURES.items()}
    props = alloc.get("properties") if isinstance(alloc.get("properties"), dict) else {}
    labels = props.get("labels") if isinstance(props.get("labels"), dict) else {}
    labels = {str(k): str(v) for k, v in labels.items()}
    name = str(alloc.get("name") or "")
    where_runs = {k: str(props[k]) for k in _LOCATION if props.get(k) not in (None, "")}
    model_raw = next((labels[k] for k in MODEL_LABELS if labels.get(k)), None)
    tags = {**{f"label:{k}": v for k, v in labels.items()}, **where_runs, "allocation": name}
    common = {
        "ChargePeriodStart": start, "ChargePeriodEnd": end, "x_MetricSource": "opencost", "x_MetricKind": "interval",
        "x_Deployment": where_runs.get("controller") or name, "x_Model": canonical_model(model_raw),
        "x_ModelRaw": model_raw, "x_Cluster": where_runs.get("cluster"), "x_Namespace": where_runs.get("namespace"),
        **{col: next((labels[k] for k in keys if labels.get(k)), None) for col, keys in _DIMENSION_LABELS.items()},
        "Tags": json.dumps(tags, sort_keys=True), "x_SourceFormat": FORMAT, "x_SourceFile": shown,
        "x_SourceRow": ordinal, "x_SourceLocator": locator, "x_DataQualityFlags": flags(),
    }  # fmt: skip
    rows = []
    for metric, parts in values.items():
        if all(p is None for p in parts):
            continue
        fields, unit = MEASURES[metric]
        series = row_hash("opencost", metric, name, json.dumps(where_runs, sort_keys=True))
        rows.append({**common, "x_Metric": metric, "x_MetricRaw": "+".join(fields), "x_Unit": unit,
                     "x_Value": sum(p for p in parts if p is not None), "x_SeriesId": series,
                     "x_RowHash": row_hash("metric", series, start.isoformat(), end.isoformat())})  # fmt: skip
    if not rows:
        raise Fault("totalCost", None, "the allocation carries no cost or quantity")
    return rows


def _records(path: Path) -> list[tuple[int, str | None, Any]]:
    """Return (ordinal, locator, allocation or Fault) of every allocation of every step."""
    documents, _ = read_documents(path)
    out: list[tuple[int, str | None, Any]] = []
    for doc in documents:
        if doc.error:
            out.append((len(out) + 1, None, Fault("record", None, doc.error)))
            continue
        steps = doc.value.get("data") if isinstance(doc.value, dict) else None
        if not isinstance(steps, list):
            out.append((len(out) + 1, None, Fault("data", steps, "an allocation response holds a data list")))
            continue
        for i, step in enumerate(steps):
            if not isinstance(step, dict):
                out.append((len(out) + 1, f"data[{i}]", Fault("data", step, "a step is a JSON object of allocations")))
                continue
            for name, alloc in step.items():
                if isinstance(alloc, dict) and not alloc.get("name"):
                    alloc = {**alloc, "name": name}
                out.append((len(out) + 1, f"data[{i}][{json.dumps(name)}]", alloc))
    return out


@register_source(FORMAT, table="metrics", detect=_detect, line_id="allocation and window",
                 description="OpenCost / Kubecost allocation API JSON: CPU, RAM, GPU, storage and network cost and "
                             "hours per workload and step (list-price weights for splitting a cluster's bill)")
def read(path: Path, con: BaseBackend) -> ReadResult:
    """Read an OpenCost allocation response into ``metrics`` rows; a bad allocation goes to rejects whole.

    ``con`` is unused: rows are built in memory.
    """
    path = Path(path)
    shown = str(path)
    sets, rejects, count = build_rows(_records(path), lambda a, n, where: {"rows": build_row_set(a, shown, n, where)},
                                      fmt=FORMAT, path=shown, table="metrics")  # fmt: skip
    rows = [row for s in sets for row in s["rows"]]
    return ReadResult(FORMAT, shown, None, None, records_table(rejects, "rejects"), count,
                      metrics=records_table(rows, "metrics"))
