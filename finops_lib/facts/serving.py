"""What model servers did, from their counters: increases between samples, with restarts, spread over days.

A counter (``metrics`` rows of kind ``counter``: vLLM's prompt and generation tokens, TGI's requests) is
cumulative since its process started. What happened between two samples of one series (``x_SeriesId``) is the
difference of their values; when the later value is smaller, the process restarted in between and the later value
is what it counted since (Prometheus ``increase()`` semantics, without extrapolation: what the counter did before
the first sample, or between the last sample before a restart and the restart, is unknown and left out). Samples
of one series at one instant are one sample (the warehouse keeps one row per series and time).

An increase belongs to the interval between its two samples; spread over days (or hours) it is split in
proportion to the time each one covers, so a snapshot taken once a day at 06:00 gives each day a quarter and
three quarters of two intervals. Token counts so spread are fractional: they are measurements, not invoices.

Examples
--------
>>> import pandas as pd
>>> samples = pd.DataFrame({"x_SeriesId": ["s"] * 3, "x_Value": [100.0, 160.0, 20.0],
...                         "ChargePeriodStart": pd.to_datetime(["2026-05-01 00:00", "2026-05-01 12:00",
...                                                              "2026-05-02 00:00"], utc=True)})
>>> counter_increases(samples)[["increase", "reset"]].values.tolist()
[[60.0, False], [20.0, True]]
"""

from __future__ import annotations

import itertools

import pandas as pd

__all__ = ["counter_increases", "spread_increases"]

_KEY = ["x_SeriesId", "ChargePeriodStart"]


def counter_increases(samples: pd.DataFrame, *, keep: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """Return one row per interval between consecutive samples of each counter series, with its increase.

    Parameters
    ----------
    samples
        Counter samples: ``x_SeriesId``, ``ChargePeriodStart`` (UTC), ``x_Value``, and the ``keep`` columns.
    keep
        Columns of the series carried to each interval (its deployment, model, metric...).

    Returns
    -------
    pandas.DataFrame
        ``x_SeriesId``, ``start``, ``end``, ``increase`` (>= 0), ``reset`` (the counter fell: a restart), and the
        ``keep`` columns; sorted by series and start. A series sampled once has no interval.
    """
    missing = [c for c in (*_KEY, "x_Value", *keep) if c not in samples.columns]
    if missing:
        raise KeyError(f"counter samples need the column {missing[0]!r}")
    ordered = (samples.sort_values(_KEY, kind="stable").drop_duplicates(_KEY, keep="last")
               .reset_index(drop=True))  # fmt: skip
    previous = ordered.groupby("x_SeriesId", sort=False)["x_Value"].shift()
    started = ordered.groupby("x_SeriesId", sort=False)["ChargePeriodStart"].shift()
    reset = ordered["x_Value"] < previous
    out = pd.DataFrame({
        "x_SeriesId": ordered["x_SeriesId"], "start": started, "end": ordered["ChargePeriodStart"],
        "increase": ordered["x_Value"].where(reset, ordered["x_Value"] - previous), "reset": reset,
        **{c: ordered[c] for c in keep},
    })  # fmt: skip
    return out[previous.notna()].reset_index(drop=True)


def spread_increases(increases: pd.DataFrame, *, freq: str = "D") -> pd.DataFrame:
    """Split each interval's increase over the periods (days by default) it covers, in proportion to time.

    Parameters
    ----------
    increases
        :func:`counter_increases` output.
    freq
        ``"D"`` (UTC days) or ``"h"`` (hours).

    Returns
    -------
    pandas.DataFrame
        The same columns with ``period`` (the period's start, UTC) in place of ``start``/``end``; the increase of
        each interval is conserved exactly up to float rounding (its parts sum to it).
    """
    if increases.empty:
        return increases.drop(columns=["start", "end"]).assign(period=pd.Series(dtype="datetime64[ns, UTC]"))
    rows = []
    for i, start, end in zip(increases.index, increases["start"], increases["end"], strict=True):
        span = (end - start).total_seconds()
        first = start.floor(freq)
        edges = list(pd.date_range(first, end, freq=freq))
        if not edges or edges[-1] < end:
            edges.append(edges[-1] + pd.Timedelta(1, freq) if edges else first + pd.Timedelta(1, freq))
        for lo, hi in itertools.pairwise(edges):
            covered = (min(hi, end) - max(lo, start)).total_seconds()
            if covered > 0 or (span == 0 and lo <= start < hi):
                rows.append((i, lo, 1.0 if span == 0 else covered / span))
    parts = pd.DataFrame(rows, columns=["row", "period", "share"])
    out = increases.drop(columns=["start", "end"]).loc[parts["row"]].reset_index(drop=True)
    out["period"] = parts["period"].to_numpy()
    out["increase"] = out["increase"].to_numpy() * parts["share"].to_numpy()
    return out
