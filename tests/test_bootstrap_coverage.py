"""Intervals of finops_lib.experiments.comparison on heavy-tailed costs: the coverage simulation, a hand check.

Per-request costs are heavy-tailed. The coverage test draws lognormal arms whose true means are known, runs
:func:`compare_values` on each simulated experiment, and counts how often the 95% interval of the relative
difference of means holds the truth. The percentile bootstrap it replaced covered 0.935 at sigma 1.5 (n 300)
and 0.930 at sigma 2.0 (n 200) over 1,000 experiments (the table in the module's docstring); the symmetric
bootstrap-t on the log of the ratio of means must stay within a binomial tolerance of 95%. The simulation takes
about 20 s of CPU, hence ``slow``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from finops_lib.experiments import comparison as x

EXPERIMENTS = 500  # per case: the binomial standard error of a 95% coverage is 0.010
N_BOOT = 999  # the method is the one compare() runs with n_boot=2000; fewer resamples keep the test short
LOW, HIGH = 0.93, 0.985  # 0.93 is 2 standard errors under 95%; above 98.5% the interval would be needlessly wide

# (sigma of log cost, requests per arm, true relative difference of the means). Both arms share sigma, so the
# true relative difference exp(mu_a + sigma**2 / 2) / exp(mu_b + sigma**2 / 2) - 1 is exp(mu_a - mu_b) - 1.
CASES = [(0.9, 300, 0.0), (1.5, 300, 0.2), (2.0, 200, 0.0), (2.0, 200, 0.2), (0.5, 25, 0.0)]


def _coverage(sigma: float, n: int, rel: float) -> tuple[float, float]:
    """Share of simulated experiments whose 95% interval holds ``rel``, and the median interval width."""
    rng = np.random.default_rng([round(100 * sigma), n, round(100 * rel)])  # one stream per case, seeded
    hits, widths = 0, []
    for i in range(EXPERIMENTS):
        values = {"base": rng.lognormal(0.0, sigma, n), "variant": rng.lognormal(np.log1p(rel), sigma, n)}
        row = x.compare_values(values, baseline="base", n_boot=N_BOOT, seed=i).iloc[0]
        hits += bool(row.rel_ci_low <= rel <= row.rel_ci_high)
        widths.append(row.rel_ci_high - row.rel_ci_low)
    return hits / EXPERIMENTS, float(np.median(widths))


@pytest.mark.slow
@pytest.mark.parametrize(("sigma", "n", "rel"), CASES)
def test_relative_interval_keeps_95_percent_coverage(sigma, n, rel):
    coverage, width = _coverage(sigma, n, rel)
    assert LOW <= coverage <= HIGH, (
        f"sigma {sigma}, n {n}, true relative difference {rel:+.0%}: the 95% interval covered {coverage:.3f} "
        f"of {EXPERIMENTS} experiments (median width {width:.2f})"
    )


def test_light_tails_small_n_coverage():
    # uniform costs, 20 requests per arm: the interval must not be too narrow where tails are light either
    rng = np.random.default_rng(5)
    hits = 0
    for i in range(200):
        values = {"base": rng.uniform(1.0, 2.0, 20), "variant": 1.2 * rng.uniform(1.0, 2.0, 20)}
        row = x.compare_values(values, baseline="base", n_boot=499, seed=i).iloc[0]
        hits += bool(row.rel_ci_low <= 0.2 <= row.rel_ci_high)
    assert hits >= 0.91 * 200, f"covered {hits} of 200"  # 2 standard errors (0.015 each) under 95%


# --- a hand check on 4 + 4 values ---------------------------------------------------------------------------

VARIANT = np.array([1.0, 2.0, 3.0, 6.0])  # mean 3, variance (4 + 1 + 0 + 9) / 3 = 14/3
BASE = np.array([1.0, 2.0, 2.0, 3.0])  # mean 2, variance (1 + 0 + 0 + 1) / 3 = 2/3
SE_LOG = np.sqrt(14 / 3 / (4 * 3**2) + 2 / 3 / (4 * 2**2))  # delta method: sqrt(var_a/(n_a m_a²) + var_b/(n_b m_b²))


def _row(scale: float = 1.0, n_boot: int = 20_000):
    return x.compare_values({"a": scale * BASE, "b": scale * VARIANT}, n_boot=n_boot, seed=11).iloc[0]


def _exact_t_quantiles(levels: list[float]) -> np.ndarray:
    """Quantiles of |t*| over all 4**4 x 4**4 equally likely pairs of resamples (the exact bootstrap)."""

    def resamples(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = x[np.indices((4,) * 4).reshape(4, -1).T]  # every ordered resample of 4 values
        return r.mean(axis=1), r.var(axis=1, ddof=1)

    (ma, va), (mb, vb) = resamples(VARIANT), resamples(BASE)
    ma, va, mb, vb = ma[:, None], va[:, None], mb[None, :], vb[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(np.log(ma / mb) - np.log(1.5)) / np.sqrt(va / (4 * ma**2) + vb / (4 * mb**2))
    t = np.sort(np.where(np.isnan(t), np.inf, t).ravel())
    return np.array([t[int(np.ceil(p * t.size)) - 1] for p in levels])


def test_interval_hand_checked():
    row = _row()
    assert row.rel_diff == pytest.approx(0.5) and row["diff"] == pytest.approx(1.0)  # 3 / 2 - 1, 3 - 2
    assert row.rel_ci_low < 0.5 < row.rel_ci_high and row.diff_ci_low < 1.0 < row.diff_ci_high
    # symmetric on the log scale around log(1.5), on the cost scale around the difference of 1
    assert (1 + row.rel_ci_low) * (1 + row.rel_ci_high) == pytest.approx(1.5**2)
    assert (row.diff_ci_low + row.diff_ci_high) / 2 == pytest.approx(1.0)
    # the half-width is q * SE_LOG, q the 95th percentile of |t*| of the exact bootstrap (up to Monte Carlo error)
    q = np.log((1 + row.rel_ci_high) / 1.5) / SE_LOG
    low, high = _exact_t_quantiles([0.94, 0.96])
    assert low <= q <= high, (q, low, high)


def test_interval_invariant_to_scale():
    row, scaled = _row(n_boot=2000), _row(scale=7.5, n_boot=2000)
    assert scaled.rel_diff == pytest.approx(row.rel_diff)
    assert scaled.rel_ci_low == pytest.approx(row.rel_ci_low, rel=1e-9)
    assert scaled.rel_ci_high == pytest.approx(row.rel_ci_high, rel=1e-9)
    assert scaled.diff_ci_low == pytest.approx(7.5 * row.diff_ci_low, rel=1e-9)
    assert scaled.diff_ci_high == pytest.approx(7.5 * row.diff_ci_high, rel=1e-9)


# --- degenerate inputs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("base", "variant", "diff_defined"), [
    ([1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], False),  # all equal
    ([2.0, 2.0, 2.0], [1.0, 1.0, 1.0], False),  # each arm constant
    ([0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], False),  # zero means
    ([0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 2.0, 3.0], True),  # zero baseline mean: no relative difference
    ([0.0, 1.0, 2.0, 3.0], [0.0, 0.0, 0.0, 0.0], True),  # the variant costs nothing: -100%, no log-scale interval
    ([1.0, 2.0], [3.0, 4.0, 5.0], False),  # n < 3
    ([1.0], [3.0, 4.0, 5.0, 6.0], False),
])  # fmt: skip
def test_degenerate_inputs_give_nan_intervals_without_warnings(base, variant, diff_defined):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = x.compare_values({"a": np.array(base), "b": np.array(variant)}, n_boot=200).iloc[0]
    assert np.isnan(row.rel_ci_low) and np.isnan(row.rel_ci_high)
    assert np.isfinite([row.diff_ci_low, row.diff_ci_high]).all() == diff_defined
    assert "nan%" not in row.verdict and ("95% CI not available" in row.verdict
                                          or "no relative difference" in row.verdict)  # fmt: skip


def test_one_constant_arm_still_has_an_interval():
    rng = np.random.default_rng(2)
    row = x.compare_values({"a": np.full(50, 1.0), "b": rng.lognormal(0.0, 0.5, 50)}, n_boot=500).iloc[0]
    assert row.rel_ci_low < row.rel_diff < row.rel_ci_high
