"""Experiment cost comparison: what each variant of a prompt or model change costs, and whether it is real.

Experiments come from the ``requests`` table: ``x_ExperimentId`` and ``x_Variant`` (filled by the gateway and
trace loaders from request tags or metadata), ``x_QualityScore`` when scores were logged. A failed request
counts as a request whose cost is what the source reported (usually 0), so cost per request is per *logged*
request; quality is the mean over requests that carry a score.

Per-variant summaries are an ibis aggregation; the statistics (bootstrap, Welch, Mann-Whitney, Holm, power)
run on the per-request values of one experiment pulled into numpy, which is small (one row per request).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower

from finops_lib.errors import ParameterError
from finops_lib.registry import Registry
from finops_lib.schema import REQUEST_TOKEN_COLUMNS

__all__ = ["REQUEST_METRICS", "Comparison", "compare", "compare_values", "per_request", "power",
           "register_request_metric", "sample_size", "variants"]

TOKEN_COLUMNS: dict[str, str] = REQUEST_TOKEN_COLUMNS  # bucket -> requests column, declared once in the schema


@dataclass(frozen=True)
class Metric:
    """A per-request value compared between variants: a label for verdicts and an ibis expression."""

    name: str
    label: str
    expr: Callable[[ir.Table], ir.NumericValue]


#: Registry of per-request metrics, by name.
REQUEST_METRICS: Registry[Metric] = Registry("request metric")


def register_request_metric(name: str, label: str) -> Callable[[Callable], Callable]:
    """Register a per-request metric ``fn(table) -> numeric column`` under ``name``.

    Parameters
    ----------
    name : str
        Key used by ``compare(..., metric=name)``.
    label : str
        Noun used in verdicts ("cost", "tokens", ...).

    Returns
    -------
    Callable
        The decorator.
    """
    return REQUEST_METRICS.register(name, make=lambda fn: Metric(name, label, fn))


def _cost(column: ir.NumericValue, status: ir.StringValue) -> ir.NumericValue:
    # A failed call that the source left unpriced cost nothing; an unpriced success stays null.
    return ibis.cases((column.isnull() & (status == "failure"), 0), else_=column).cast("float64")


@register_request_metric("cost", "cost")
def _metric_cost(t: ir.Table) -> ir.NumericValue:
    return _cost(t.x_ReportedCost, t.x_Status)


@register_request_metric("estimated_cost", "estimated cost")
def _metric_estimated(t: ir.Table) -> ir.NumericValue:
    return _cost(t.x_EstimatedCost, t.x_Status)


@register_request_metric("tokens", "tokens")
def _metric_tokens(t: ir.Table) -> ir.NumericValue:
    cols = [t[c] for c in TOKEN_COLUMNS.values()]
    return sum(cols[1:], cols[0]).cast("float64")


@register_request_metric("latency", "latency")
def _metric_latency(t: ir.Table) -> ir.NumericValue:
    return t.x_LatencyMs.cast("float64")


@register_request_metric("quality", "quality")
def _metric_quality(t: ir.Table) -> ir.NumericValue:
    return t.x_QualityScore.cast("float64")


def _table(requests: ir.Table | pd.DataFrame) -> ir.Table:
    return ibis.memtable(requests) if isinstance(requests, pd.DataFrame) else requests


def _metric(name: str) -> Metric:
    return REQUEST_METRICS.lookup(name)


def variants(requests: ir.Table | pd.DataFrame, *, experiment: str | None = None, cost: str = "cost") -> pd.DataFrame:
    """Summarize every variant of every experiment (or of one) found in the request log.

    Parameters
    ----------
    requests : ibis Table or DataFrame
        The ``requests`` table.
    experiment : str, optional
        Keep this experiment only.
    cost : str
        Cost metric: ``"cost"`` (x_ReportedCost) or ``"estimated_cost"`` (x_EstimatedCost).

    Returns
    -------
    DataFrame
        One row per experiment and variant: ``requests``, ``failures``, ``failure_rate``,
        ``<bucket>_per_request`` for the five token buckets, ``cost_mean``, ``cost_median``, ``cost_p95``,
        ``cache_hit_rate`` (cache-read tokens over all input tokens), ``latency_p50``, ``latency_p95``,
        ``cost_per_success`` (all cost over successful requests: what a good answer costs once failures and
        retries are paid for), ``quality_mean``, ``scored`` (requests with a score) and ``cost_per_quality``
        (``cost_mean`` over
        ``quality_mean``).

    Examples
    --------
    >>> df = pd.DataFrame({"x_ExperimentId": ["e", "e"], "x_Variant": ["a", "a"], "x_Status": ["success"] * 2,
    ...     "x_ReportedCost": [1.0, 3.0], "x_EstimatedCost": [None, None], "x_LatencyMs": [1.0, 2.0],
    ...     "x_QualityScore": [0.5, 0.5], **{c: [1, 1] for c in TOKEN_COLUMNS.values()}})
    >>> float(variants(df)["cost_per_quality"].iloc[0])
    4.0
    """
    t = _table(requests)
    t = t.filter(t.x_ExperimentId.notnull() & t.x_Variant.notnull())
    if experiment is not None:
        t = t.filter(t.x_ExperimentId == experiment)
    t = t.mutate(_cost=_metric(cost).expr(t), _lat=t.x_LatencyMs.cast("float64"))
    tok = {f"{b}_per_request": t[c].cast("float64").mean() for b, c in TOKEN_COLUMNS.items()}
    inputs = [t[c] for c in list(TOKEN_COLUMNS.values())[:4]]
    out = t.group_by(experiment=t.x_ExperimentId, variant=t.x_Variant).aggregate(
        requests=t.count(),
        failures=(t.x_Status == "failure").cast("int64").sum(),
        **tok,
        cost_mean=t._cost.mean(),
        cost_median=t._cost.median(),
        cost_p95=t._cost.quantile(0.95),
        _cache=t.x_InputCacheReadTokens.sum().cast("float64"),
        _input=sum(inputs[1:], inputs[0]).sum().cast("float64"),
        latency_p50=t._lat.median(),
        latency_p95=t._lat.quantile(0.95),
        quality_mean=t.x_QualityScore.cast("float64").mean(),
        scored=t.x_QualityScore.notnull().cast("int64").sum(),
    )
    df = out.order_by(["experiment", "variant"]).to_pandas()
    df["failure_rate"] = df["failures"] / df["requests"]
    successes = (df["requests"] - df["failures"]).where(lambda n: n > 0)
    df["cost_per_success"] = df["cost_mean"] * df["requests"] / successes
    df["cache_hit_rate"] = (df["_cache"] / df["_input"].where(df["_input"] > 0)).astype(float)
    df["cost_per_quality"] = df["cost_mean"] / df["quality_mean"].where(df["quality_mean"] > 0)
    df = df.drop(columns=["_cache", "_input"])
    head = ["experiment", "variant", "requests", "failures", "failure_rate"]
    return df[head + [c for c in df.columns if c not in head]].reset_index(drop=True)


def _values(requests: ir.Table | pd.DataFrame, experiment: str, metric: Metric) -> dict[str, np.ndarray]:
    t = _table(requests)
    t = t.filter((t.x_ExperimentId == experiment) & t.x_Variant.notnull())
    df = t.select(variant=t.x_Variant, value=metric.expr(t)).to_pandas()
    df = df.dropna(subset=["value"])
    if df.empty:
        raise ParameterError(f"experiment {experiment!r} has no requests with a {metric.label} value")
    return {str(v): g["value"].to_numpy(dtype=float) for v, g in df.groupby("variant", sort=True)}


def per_request(requests: ir.Table | pd.DataFrame, experiment: str, *, metric: str = "cost") -> dict[str, np.ndarray]:
    """Return the per-request values of a metric by variant (requests without a value left out).

    Parameters
    ----------
    requests : ibis Table or DataFrame
        The ``requests`` table.
    experiment : str
        The ``x_ExperimentId``.
    metric : str
        A key of :data:`REQUEST_METRICS`.

    Returns
    -------
    dict of str to ndarray
    """
    return _values(requests, experiment, _metric(metric))


def _bootstrap(a: np.ndarray, b: np.ndarray, n_boot: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap means of arm ``a`` (variant) and ``b`` (baseline), resampled independently."""
    ma = a[rng.integers(0, a.size, size=(n_boot, a.size))].mean(axis=1)
    mb = b[rng.integers(0, b.size, size=(n_boot, b.size))].mean(axis=1)
    return ma, mb


def _pct(x: float) -> str:
    return f"{abs(x) * 100:.1f}%"


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _verdict(row: dict, metric: Metric, alpha: float) -> str:
    rel = row["rel_diff"]
    if metric.name.endswith("cost"):
        what = f"costs {_pct(rel)} {'more' if rel >= 0 else 'less'} per request than"
    else:
        what = f"has {_pct(rel)} {'more' if rel >= 0 else 'less'} {metric.label} per request than"
    ci = f"95% CI {row['rel_ci_low'] * 100:.1f}% to {row['rel_ci_high'] * 100:.1f}%"
    sig = "significant" if row["p_holm"] < alpha else "not significant"
    return f"{row['variant']} {what} {row['baseline']}, {ci}; {sig} (Holm-adjusted {_p_text(row['p_holm'])})"


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare`.

    Attributes
    ----------
    table : DataFrame
        One row per variant other than the baseline (see :func:`compare`).
    variants : DataFrame
        The :func:`variants` summary of the experiment.
    best_per_quality : str or None
        The variant with the lowest cost per quality point (None when no scores were logged).
    verdict : str
        One sentence per compared variant, then the cheapest variant per quality point.
    """

    table: pd.DataFrame
    variants: pd.DataFrame
    best_per_quality: str | None
    verdict: str


def _compare_one(a: np.ndarray, b: np.ndarray, n_boot: int, rng: np.random.Generator) -> dict:
    ma, mb = _bootstrap(a, b, n_boot, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff, rel = ma - mb, ma / mb - 1
    mean_a, mean_b = float(a.mean()), float(b.mean())
    welch = stats.ttest_ind(a, b, equal_var=False).pvalue if a.size > 1 and b.size > 1 else np.nan
    mwu = stats.mannwhitneyu(a, b, alternative="two-sided").pvalue
    return {
        "n": a.size, "n_baseline": b.size, "mean": mean_a, "mean_baseline": mean_b, "diff": mean_a - mean_b,
        "diff_ci_low": float(np.percentile(diff, 2.5)), "diff_ci_high": float(np.percentile(diff, 97.5)),
        "rel_diff": mean_a / mean_b - 1 if mean_b else np.nan,
        "rel_ci_low": float(np.percentile(rel, 2.5)), "rel_ci_high": float(np.percentile(rel, 97.5)),
        "p_welch": float(welch) if np.isfinite(welch) else 1.0, "p_mannwhitney": float(mwu),
    }  # fmt: skip


def compare_values(values: dict[str, np.ndarray], *, baseline: str | None = None, metric: str = "cost",
                   n_boot: int = 2000, seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:  # fmt: skip
    """Compare per-request values of several variants with a baseline (the statistics of :func:`compare`).

    Parameters
    ----------
    values : dict of str to ndarray
        Per-request values by variant (no NaN).
    baseline, metric, n_boot, seed, alpha
        As in :func:`compare`.

    Returns
    -------
    DataFrame
        The :attr:`Comparison.table` columns, without ``experiment``.

    Raises
    ------
    ParameterError
        Unknown baseline, or a single variant.
    """
    m = _metric(metric)
    baseline = baseline if baseline is not None else min(values)
    if baseline not in values:
        raise ParameterError(f"baseline {baseline!r} is not a variant: {sorted(values)}")
    others = sorted(v for v in values if v != baseline)
    if not others:
        raise ParameterError("an experiment needs at least two variants")
    rng = np.random.default_rng(seed)
    rows = [{"variant": v, "baseline": baseline, "metric": metric,
             **_compare_one(values[v], values[baseline], n_boot, rng)} for v in others]  # fmt: skip
    table = pd.DataFrame(rows)
    # One comparison needs no correction (and multipletests runs a slow gc.collect on every call).
    pw = table["p_welch"].to_numpy()
    table["p_holm"] = multipletests(pw, method="holm")[1] if pw.size > 1 else pw
    table["significant"] = table["p_holm"] < alpha
    table["verdict"] = [_verdict(r, m, alpha) for r in table.to_dict("records")]
    return table


def compare(requests: ir.Table | pd.DataFrame, experiment: str, *, baseline: str | None = None, metric: str = "cost",
            n_boot: int = 2000, seed: int = 0, alpha: float = 0.05) -> Comparison:  # fmt: skip
    """Compare every variant of an experiment with a baseline on the mean of a per-request metric.

    Parameters
    ----------
    requests : ibis Table or DataFrame
        The ``requests`` table.
    experiment : str
        The ``x_ExperimentId`` to compare.
    baseline : str, optional
        Baseline variant; by default the first variant in sorted order.
    metric : str
        A key of :data:`REQUEST_METRICS`: ``cost`` (x_ReportedCost), ``estimated_cost``, ``tokens``, ``latency``,
        ``quality``.
    n_boot : int
        Bootstrap resamples for the percentile confidence intervals.
    seed : int
        Seed of the numpy generator (results are reproducible).
    alpha : float
        Significance level of the verdict, applied to Holm-adjusted Welch p-values.

    Returns
    -------
    Comparison
        ``table`` columns: ``experiment``, ``variant``, ``baseline``, ``metric``, ``n``, ``n_baseline``,
        ``mean``, ``mean_baseline``, ``diff``, ``diff_ci_low``, ``diff_ci_high``, ``rel_diff``, ``rel_ci_low``,
        ``rel_ci_high`` (relative difference of means and its 95% bootstrap interval), ``p_welch``,
        ``p_mannwhitney``, ``p_holm`` (Welch p adjusted by Holm over the variants), ``significant``, ``verdict``.

    Raises
    ------
    ParameterError
        Unknown metric, experiment without values, unknown baseline or a single variant.
    """
    m = _metric(metric)
    table = compare_values(_values(requests, experiment, m), baseline=baseline, metric=metric, n_boot=n_boot,
                           seed=seed, alpha=alpha).assign(experiment=experiment)  # fmt: skip
    table = table[["experiment", *[c for c in table.columns if c != "experiment"]]]
    summary = variants(requests, experiment=experiment, cost=metric if metric.endswith("cost") else "cost")
    scored = summary.dropna(subset=["cost_per_quality"])
    best = None if scored.empty else str(scored.loc[scored["cost_per_quality"].idxmin(), "variant"])
    lines = list(table["verdict"])
    if best is not None:
        cpq = float(scored["cost_per_quality"].min())
        lines.append(f"{best} is the cheapest per quality point ({cpq:.6g} per point).")
    return Comparison(table, summary, best, "\n".join(lines))


def sample_size(mean: float, sd: float, relative_effect: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Compute the requests per arm that detect a relative change of a mean (two-sided two-sample t-test).

    Parameters
    ----------
    mean, sd : float
        Mean and standard deviation of the per-request metric (e.g. from a pilot).
    relative_effect : float
        Smallest relative difference to detect (0.1 = 10%).
    alpha, power : float
        Significance level and power.

    Returns
    -------
    int
        Requests per arm, rounded up.

    Examples
    --------
    >>> sample_size(1.0, 2.0, 1.0)  # Cohen's d = 0.5
    64
    """
    if sd <= 0 or mean == 0 or relative_effect == 0:
        raise ParameterError("sample_size needs sd > 0, a non-zero mean and a non-zero effect")
    d = abs(mean * relative_effect) / sd
    n = TTestIndPower().solve_power(effect_size=d, alpha=alpha, power=power, ratio=1.0, alternative="two-sided")
    return int(np.ceil(n))


def power(requests: ir.Table | pd.DataFrame, experiment: str, *, relative_effect: float = 0.1, metric: str = "cost",
          alpha: float = 0.05, power: float = 0.8) -> pd.DataFrame:  # fmt: skip
    """Compute the requests per arm that detect a relative difference, from each variant's mean and sd.

    Parameters
    ----------
    requests : ibis Table or DataFrame
        The ``requests`` table.
    experiment : str
        The experiment whose variants give the mean and standard deviation.
    relative_effect : float
        Smallest relative difference in the mean to detect (0.1 = 10%).
    metric : str
        A key of :data:`REQUEST_METRICS`.
    alpha, power : float
        Significance level and power of the two-sided Welch/t test.

    Returns
    -------
    DataFrame
        Per variant: ``variant``, ``n``, ``mean``, ``sd``, ``effect_size`` (Cohen's d), ``n_per_arm``.
    """
    values = _values(requests, experiment, _metric(metric))
    rows = []
    for v, x in values.items():
        mean, sd = float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else float("nan")
        n = sample_size(mean, sd, relative_effect, alpha=alpha, power=power) if sd > 0 and mean else None
        d = abs(mean * relative_effect) / sd if sd > 0 else np.nan
        rows.append({"variant": v, "n": x.size, "mean": mean, "sd": sd, "effect_size": d, "n_per_arm": n})
    return pd.DataFrame(rows)
