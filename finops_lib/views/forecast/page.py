"""The forecast page (``30_spend_forecast``): MASE wording and ``results.json``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from finops_lib.forecast.choice import chosen_rows


def mase_summary(accuracy: pd.DataFrame) -> str:
    """Return one sentence on both MASE readings of the chosen models (see the module docstring).

    Examples
    --------
    >>> acc = pd.DataFrame({"series": ["a", "b"], "model": "m", "mase": [1.3, 0.8], "mase_vs_naive": [0.7, 0.9],
    ...                     "chosen": True})
    >>> print(mase_summary(acc))
    Chosen models: MASE vs weekly seasonal naive below 1 for 2 of 2 series (median 0.80); standard MASE below 1 for 1 of 2 (median 1.05; above 1: a).
    """  # noqa: E501
    best = chosen_rows(accuracy)
    vs, std = best["mase_vs_naive"].dropna(), best["mase"].dropna()
    above = ", ".join(std[std >= 1].index) or "none"
    return (f"Chosen models: MASE vs weekly seasonal naive below 1 for {int((vs < 1).sum())} of {len(vs)} series "
            f"(median {vs.median():.2f}); standard MASE below 1 for {int((std < 1).sum())} of {len(std)} "
            f"(median {std.median():.2f}; above 1: {above}).")  # fmt: skip


def _pct(value: float) -> str:
    return f"{value:.0%}" if np.isfinite(value) else "n/a"


def results(*, accuracy: pd.DataFrame, choice: pd.DataFrame, risk: pd.DataFrame, table: pd.DataFrame,
            calibration: Mapping[str, Any], parameters: Mapping[str, object], date_range: Sequence[object],
            month: object, shown: str, level: float = 0.8) -> dict[str, object]:  # fmt: skip
    """Return the ``results.json`` content of the spend-forecast notebook.

    The headline describes ``total`` (``shown`` when there is no total series): chosen model, month-total error
    and band, both MASE readings, interval coverage (raw, calibrated leave-one-origin-out, nominal) and the budgets
    breached or projected to be. Tables are written as records of text values.
    """
    from finops_lib.forecast import calibrate

    best = chosen_rows(accuracy)
    top = "total" if "total" in best.index else shown
    row = best.loc[top]
    ahead = table[table["kind"] == "forecast"].groupby("series")["value"].sum()
    breaches = risk[risk["status"].isin(["breach projected", "exceeded"])]["series"].tolist()
    coverage = (f"{_pct(row['coverage_cal'])} calibrated (leave-one-origin-out), {_pct(row['coverage'])} raw; "
                f"nominal {level:.0%}")  # fmt: skip
    headline = {f"Chosen model ({top})": str(row["model"]),
                f"Month-total error ({top})": f"{row['month_total_error_pct']:.1f}% ({row['band']})",
                f"MASE vs seasonal naive ({top})": f"{row['mase_vs_naive']:.2f}",
                f"MASE, standard ({top})": f"{row['mase']:.2f}", f"Interval coverage ({top})": coverage,
                f"Budgets breached or projected to ({month})": ", ".join(breaches) or "none"}  # fmt: skip
    return {"headline": headline, "date_range": [str(d) for d in date_range], "parameters": dict(parameters),
            "month": str(month), "interval_level": level,
            "forecast_total_next_days": {k: float(v) for k, v in ahead.items()},
            "accuracy": accuracy.astype(str).to_dict("records"), "choice": choice.to_dict("records"),
            "calibration": calibrate.calibration_table(calibration).astype(str).to_dict("records"),
            "budget_risk": risk.astype(str).to_dict("records")}  # fmt: skip
