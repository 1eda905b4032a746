"""The sample's whole-feature world: a Kubernetes cluster, a self-hosted model on a GPU node, CloudWatch.

What the support chatbot runs on besides model tokens (issue: what one AI feature really costs):

* ``prod-eks``: an EKS cluster of general nodes billed daily in the FOCUS file (tag ``user:eks:cluster-name``),
  shared by the chatbot's retrieval service (namespace ``chatbot-rag``), doc-search's (``docsearch-rag``) and the
  cluster's own ``kube-system``; OpenCost allocates it per namespace (``__idle__`` included);
* ``vllm-llama-8b``: Llama 3.1 8B on vLLM for the chatbot's conversation summaries (a feature of its own, in no
  request log), on one GPU node (g5.2xlarge) billed by the hour over the last :data:`GPU_DAYS` days (one FOCUS
  line a day); the server's token counters and DCGM's utilisation gauge are scraped every hour (one restart, at
  :data:`RESTART`); it serves from 06:00 to 22:00 UTC and idles at night;
* CloudWatch logs and metrics of the chatbot (tagged ``app``/``feature``): observability.

Every amount is an exact decimal from the seed; :mod:`finops_lib.sample.serving_writer` writes the files and the
answer key (``truth/feature_stack.csv``, ``truth/selfhosted.csv``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from finops_lib.sample.simulate import Timeline

CLUSTER = "prod-eks"
#: General nodes: how many, what an hour of one costs (USD).
NODES, NODE_RATE = 3, Decimal("0.384")
#: The GPU node: its instance, its hourly rate (USD), its node group tag, how many days before the end it runs.
GPU_INSTANCE, GPU_RATE, GPU_NODEGROUP, GPU_DAYS = "g5.2xlarge", Decimal("1.212"), "gpu-llama", 61
DEPLOYMENT, MODEL = "vllm-llama-8b", "meta-llama/Llama-3.1-8B-Instruct"
#: Serving hours (UTC, [from, to)) of the deployment; the other hours are idle (paid, no token).
SERVING_HOURS = (6, 22)
#: (day of the GPU window, hour) of the vLLM restart: the counters start again from zero.
RESTART = (20, 14)
#: The API model the deployment is compared with, and its prices per 1M tokens (input, output) in the catalog.
COMPARE_WITH = ("OpenAI", "gpt-4o-mini")
#: OpenCost namespaces -> the feature they serve (None: nobody's, stays unassigned); daily list cost base (USD).
NAMESPACES: dict[str, tuple[str | None, float]] = {
    "chatbot-rag": ("support-chatbot/answer", 11.0),
    "docsearch-rag": ("doc-search", 7.5),
    "kube-system": (None, 1.2),
    "__idle__": (None, 4.0),
}
#: CloudWatch of the chatbot: USD per GB ingested and the GB a day at the start.
CLOUDWATCH_RATE, CLOUDWATCH_GB = Decimal("0.50"), 4.8


@dataclass(frozen=True)
class Cluster:
    """The whole-feature world's amounts, all exact.

    ``nodes``: per day index, the general nodes' cost; ``cloudwatch``: per day, GB and cost; ``gpu_hours``: the
    hours (UTC datetimes) the GPU node is billed; ``opencost``: per day and namespace, the allocation's component
    costs (cpu, ram, pv) and total; ``counters``: per hour sample, cumulative prompt and generation tokens;
    ``increments``: per hour, the tokens served in it; ``utilization``: per hour, DCGM's percentage.
    """

    nodes: pd.DataFrame
    cloudwatch: pd.DataFrame
    gpu_hours: list[dt.datetime]
    opencost: pd.DataFrame
    counters: pd.DataFrame
    increments: pd.DataFrame
    utilization: pd.DataFrame


def _money(value: float, places: str = "0.01") -> Decimal:
    return Decimal(f"{value:.6f}").quantize(Decimal(places))


def build_cluster(timeline: Timeline, seed: int) -> Cluster:
    """Return the cluster world of ``timeline`` (deterministic for ``seed``)."""
    dates = timeline.dates
    node_day = NODES * 24 * NODE_RATE
    nodes = pd.DataFrame({"day": range(len(dates)), "hours": NODES * 24, "cost": [node_day] * len(dates)})
    rng = np.random.default_rng([seed, 20, 1])
    growth = (1 + 0.3) ** timeline.t
    gb = [Decimal(f"{v:.3f}") for v in CLOUDWATCH_GB * growth * rng.lognormal(0, 0.05, len(dates))]
    cloudwatch = pd.DataFrame({"day": range(len(dates)), "gb": gb, "cost": [g * CLOUDWATCH_RATE for g in gb]})
    rows = []
    rng = np.random.default_rng([seed, 20, 2])
    for day in range(len(dates)):
        for namespace, (_, base) in NAMESPACES.items():
            total = _money(base * float(growth[day]) * rng.lognormal(0, 0.08))
            cpu = (total * Decimal("0.6")).quantize(Decimal("0.01"))
            ram = (total * Decimal("0.3")).quantize(Decimal("0.01"))
            rows.append((day, namespace, cpu, ram, total - cpu - ram, total))
    opencost = pd.DataFrame(rows, columns=["day", "namespace", "cpu", "ram", "pv", "total"])
    first = dt.datetime.combine(dates[-GPU_DAYS], dt.time(), tzinfo=dt.UTC)
    gpu_hours = [first + dt.timedelta(hours=h) for h in range(GPU_DAYS * 24)]
    counters, increments, utilization = _serving(gpu_hours, seed)
    return Cluster(nodes, cloudwatch, gpu_hours, opencost, counters, increments, utilization)


def _serving(hours: list[dt.datetime], seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Hourly tokens served, the counters a scrape on each hour reads (one restart), DCGM's utilisation."""
    rng = np.random.default_rng([seed, 20, 3])
    busy = [SERVING_HOURS[0] <= h.hour < SERVING_HOURS[1] for h in hours]
    prompt = [int(rng.integers(700_000, 1_100_000)) if b else 0 for b in busy]
    generation = [int(p // int(rng.integers(6, 10))) if p else 0 for p in prompt]
    util = [int(rng.integers(45, 86)) if b else 0 for b in busy]
    restart = hours[0] + dt.timedelta(days=RESTART[0], hours=RESTART[1])
    samples, p_total, g_total = [(hours[0], 0, 0)], 0, 0
    for hour, p, g in zip(hours, prompt, generation, strict=True):
        end = hour + dt.timedelta(hours=1)
        if end == restart:  # the process restarted at the start of this hour: it counted this hour only
            p_total, g_total = p, g
        else:
            p_total, g_total = p_total + p, g_total + g
        samples.append((end, p_total, g_total))
    counters = pd.DataFrame(samples, columns=["time", "prompt_tokens", "generation_tokens"])
    increments = pd.DataFrame({"hour": hours, "prompt_tokens": prompt, "generation_tokens": generation})
    utilization = pd.DataFrame({"hour": hours, "percent": util})
    return counters, increments, utilization
