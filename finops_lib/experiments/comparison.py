"""Experiment cost comparison: what each variant of a prompt or model change costs, and whether it is real.

Experiments come from the ``requests`` table: ``x_ExperimentId`` and ``x_Variant`` (filled by the gateway and
trace loaders from request tags or metadata), ``x_QualityScore`` when scores were logged. A failed request
counts as a request whose cost is what the source reported (usually 0), so cost per request is per *logged*
request; quality is the mean over requests that carry a score.

Per-variant summaries are an ibis aggregation; the statistics (bootstrap, Welch, Mann-Whitney, Holm, power)
run on the per-request values of one experiment pulled into numpy, which is small (one row per request).

Intervals: ``diff`` and ``rel_diff`` carry 95% *symmetric bootstrap-t* intervals. Each arm is resampled
``n_boot`` times (the baseline once for all variants) and ``t* = |est* - est| / se*``: for ``diff`` with the
Welch standard error, for ``rel_diff`` on ``log(mean_a / mean_b)`` with the delta-method standard error
``sqrt(var_a / (n_a mean_a**2) + var_b / (n_b mean_b**2))``. The interval is ``est +- q se``, ``q`` the 95th
percentile of ``t*``, mapped back by ``exp(x) - 1`` for ``rel_diff``. Per-request costs are heavy-tailed and the
percentile bootstrap used before covered too little there; BCa and the equal-tailed bootstrap-t did worse
(0.87 and 0.91 at sigma 2). Coverage of the ``rel_diff`` interval over 1,000 simulated experiments per row
(lognormal arms of equal sigma, ``n_boot`` 2000; median width in brackets; tests/test_bootstrap_coverage.py
runs a smaller version)::

    costs            n per arm   percentile (before)   bootstrap-t
    lognormal 0.9       300         0.947 (0.35)        0.956 (0.36)
    lognormal 1.5       300         0.935 (0.76)        0.951 (0.84)
    lognormal 2.0       200         0.930 (1.48)        0.957 (1.93)
    lognormal 0.5        25         0.936 (0.56)        0.955 (0.61)
    lognormal 1.0        25         0.934 (1.53)        0.960 (1.82)
    lognormal 2.0        30         0.901 (3.18)        0.940 (5.58)
    uniform              20         0.931 (0.23)        0.950 (0.25)

A true difference of +20% gives the same coverage: the interval follows a rescaled arm exactly. With tails
that heavy a few intervals are very wide (at sigma 2 and n 200, 6% reach past +1,000%): a handful of requests
then decide the mean. The ``diff`` interval covers 0.95 to 0.995 (0.90 to 0.95 before). Intervals are NaN with
fewer than 3 values in an arm, with both arms constant, and for ``rel_diff`` when a mean is not positive.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import stats
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


#: Level of the ``diff`` and ``rel`` intervals (the verdict says "95% CI").
CI_LEVEL = 0.95
_CHUNK = 1 << 22  # resampled values held at once (32 MB of float64), whatever the arm's size


def _resample(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Means and variances (ddof=1) of ``n_boot`` bootstrap resamples of ``x``; empty below 3 values."""
    if x.size < 3:
        return np.empty(0), np.empty(0)
    c = x - x.mean()  # centred, so that the sum of squares does not cancel catastrophically
    s1, s2 = np.empty(n_boot), np.empty(n_boot)
    step = max(1, _CHUNK // x.size)
    for i in range(0, n_boot, step):
        r = c[rng.integers(0, x.size, size=(min(step, n_boot - i), x.size))]
        rows = slice(i, i + r.shape[0])
        s1[rows], s2[rows] = r.sum(axis=1), np.einsum("ij,ij->i", r, r)
    m = s1 / x.size
    return x.mean() + m, np.maximum(s2 - x.size * m * m, 0.0) / (x.size - 1)


def _symmetric_t(est: float, se: float, boot: np.ndarray, boot_se: np.ndarray) -> tuple[float, float]:
    """Symmetric bootstrap-t interval ``est +- q * se``, ``q`` the CI_LEVEL order statistic of ``|t*|``."""
    t = np.abs(boot - est) / boot_se
    t[np.isnan(t)] = np.inf  # a resample without spread (or with a zero mean) counts as extreme
    k = min(t.size, int(np.ceil((t.size + 1) * CI_LEVEL))) - 1
    q = float(np.partition(t, k)[k])
    if not (np.isfinite(q) and np.isfinite(se) and se > 0):
        return np.nan, np.nan
    return est - q * se, est + q * se


Resamples = tuple[np.ndarray, np.ndarray]  # bootstrap means and variances of one arm (see _resample)


def _intervals(a: np.ndarray, b: np.ndarray, boot_a: Resamples, boot_b: Resamples) -> dict[str, float]:
    """CI_LEVEL intervals of ``mean(a) - mean(b)`` and ``mean(a) / mean(b) - 1``; NaN where undefined."""
    out = dict.fromkeys(("diff_ci_low", "diff_ci_high", "rel_ci_low", "rel_ci_high"), np.nan)
    if min(boot_a[0].size, boot_b[0].size) == 0 or np.ptp(a) == np.ptp(b) == 0:
        return out
    (na, ma, va), (nb, mb, vb) = ((x.size, x.mean(), x.var(ddof=1)) for x in (a, b))
    (bma, bva), (bmb, bvb) = boot_a, boot_b
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        se, boot_se = np.sqrt(va / na + vb / nb), np.sqrt(bva / na + bvb / nb)  # Welch
        out["diff_ci_low"], out["diff_ci_high"] = _symmetric_t(ma - mb, se, bma - bmb, boot_se)
        if ma > 0 and mb > 0:  # the log of the ratio of means, studentized by the delta method
            se = np.sqrt(va / (na * ma**2) + vb / (nb * mb**2))
            boot_se = np.sqrt(bva / (na * bma**2) + bvb / (nb * bmb**2))
            low, high = _symmetric_t(np.log(ma / mb), se, np.log(bma / bmb), boot_se)
            out["rel_ci_low"], out["rel_ci_high"] = np.expm1(low), np.expm1(high)
    if not np.isfinite(out["rel_ci_high"]):  # exp overflowed: an interval without an upper end says nothing
        out["rel_ci_low"] = out["rel_ci_high"] = np.nan
    return {k: float(v) for k, v in out.items()}


def _pct(x: float) -> str:
    return f"{abs(x) * 100:.1f}%"


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _verdict(row: dict, metric: Metric, alpha: float) -> str:
    rel = row["rel_diff"]
    if not np.isfinite(rel):
        base = f"{row['baseline']}, whose mean {metric.label} is {row['mean_baseline']:.4g}"
        return f"{row['variant']} has no relative difference with {base}"
    if metric.name.endswith("cost"):
        what = f"costs {_pct(rel)} {'more' if rel >= 0 else 'less'} per request than"
    else:
        what = f"has {_pct(rel)} {'more' if rel >= 0 else 'less'} {metric.label} per request than"
    low, high = row["rel_ci_low"], row["rel_ci_high"]
    ci = f"95% CI {low * 100:.1f}% to {high * 100:.1f}%" if np.isfinite([low, high]).all() else "95% CI not available"
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


def _p_values(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Welch and Mann-Whitney p-values; 1.0 where a test is undefined (too few or identical values)."""
    with warnings.catch_warnings():  # scipy warns on identical values and tiny samples: the NaN says it
        warnings.simplefilter("ignore", RuntimeWarning)
        welch = stats.ttest_ind(a, b, equal_var=False).pvalue if min(a.size, b.size) > 1 else np.nan
        mwu = stats.mannwhitneyu(a, b, alternative="two-sided").pvalue if min(a.size, b.size) > 0 else np.nan
    return tuple(float(p) if np.isfinite(p) else 1.0 for p in (welch, mwu))


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values: statsmodels' ``multipletests(p, method="holm")[1]``.

    Written out because statsmodels runs ``gc.collect()`` on every Holm call (0.2 s in a large session).
    """
    order = np.argsort(p, kind="stable")
    out = np.empty(p.size)
    out[order] = np.minimum(1.0, np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1)))
    return out


def _compare_one(a: np.ndarray, b: np.ndarray, boot_a: Resamples, boot_b: Resamples) -> dict:
    mean_a, mean_b = (float(x.mean()) if x.size else np.nan for x in (a, b))
    ci = _intervals(a, b, boot_a, boot_b)
    p_welch, p_mwu = _p_values(a, b)
    return {
        "n": a.size, "n_baseline": b.size, "mean": mean_a, "mean_baseline": mean_b, "diff": mean_a - mean_b,
        "diff_ci_low": ci["diff_ci_low"], "diff_ci_high": ci["diff_ci_high"],
        "rel_diff": mean_a / mean_b - 1 if mean_b else np.nan,
        "rel_ci_low": ci["rel_ci_low"], "rel_ci_high": ci["rel_ci_high"],
        "p_welch": p_welch, "p_mannwhitney": p_mwu,
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
    boot_b = _resample(values[baseline], n_boot, rng)  # drawn once: every comparison reuses it
    rows = [{"variant": v, "baseline": baseline, "metric": metric,
             **_compare_one(values[v], values[baseline], _resample(values[v], n_boot, rng), boot_b)}
            for v in others]  # fmt: skip
    table = pd.DataFrame(rows)
    table["p_holm"] = _holm(table["p_welch"].to_numpy())
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
        Bootstrap resamples of each arm for the confidence intervals (symmetric bootstrap-t, see the module).
    seed : int
        Seed of the numpy generator (results are reproducible).
    alpha : float
        Significance level of the verdict, applied to Holm-adjusted Welch p-values.

    Returns
    -------
    Comparison
        ``table`` columns: ``experiment``, ``variant``, ``baseline``, ``metric``, ``n``, ``n_baseline``,
        ``mean``, ``mean_baseline``, ``diff``, ``diff_ci_low``, ``diff_ci_high``, ``rel_diff``, ``rel_ci_low``,
        ``rel_ci_high`` (difference and relative difference of means with their 95% intervals, NaN where
        undefined: fewer than 3 values in an arm, both arms constant, or a mean <= 0 for ``rel``), ``p_welch``,
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
        unit = f" {scored['currency'].iloc[0]}" if "currency" in scored.columns else ""
        lines.append(f"{best} is the cheapest per quality point ({cpq:.4g}{unit} per point).")
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
