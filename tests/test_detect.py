"""Tests of finops_lib.anomalies.detectors: the robust seasonal detector, series, threshold, episodes, registry, CLI."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from widgets_util import charts, headline, show

from finops_lib.anomalies import detectors as detect
from finops_lib.anomalies.run import write_alerts
from finops_lib.errors import ParameterError
from finops_lib.views.controls import BUSY

WEEK = np.array([100.0, 100, 100, 100, 100, 20, 20])


def weekly(weeks: int, growth: float = 0.3, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.tile(WEEK, weeks) * np.linspace(1, 1 + growth, 7 * weeks)
    return base * rng.normal(1, 0.03, len(base))


def test_spike_and_drop_flagged_and_nothing_else() -> None:
    y = weekly(16)
    y[80] *= 3.0  # a spike
    y[95] *= 0.2  # a drop
    res = detect.robust_seasonal(y, sensitivity=4)
    assert np.flatnonzero(res["outlier"]).tolist() == [80, 95]
    assert res["score"][80] > 4 and res["score"][95] < -4
    # the spike does not raise later baselines: the expected value a week later is still near the normal level
    assert res["expected"][87] == pytest.approx(y[87], rel=0.15)


def test_level_shift_reported_once_then_rebaselined() -> None:
    y = weekly(20)
    y[70:] *= 3.0
    res = detect.robust_seasonal(y, sensitivity=4)
    flagged = np.flatnonzero(res["outlier"])
    assert flagged[0] == 70 and flagged.max() < 70 + 7  # the first week only
    assert res["shift"][70] and not res["outlier"][90:].any()
    assert res["expected"][120] == pytest.approx(y[120], rel=0.15)


def test_sensitivity_is_monotonic_and_nan_is_not_judged() -> None:
    y = weekly(16, seed=3)
    y[60] *= 1.6
    y[100] = np.nan
    counts = [int(detect.robust_seasonal(y, sensitivity=s)["outlier"].sum()) for s in (2, 4, 8)]
    assert counts[0] >= counts[1] >= counts[2]
    res = detect.robust_seasonal(y, sensitivity=2)
    assert np.isnan(res["score"][100]) and not res["outlier"][100]


def _facts(values: dict[str, list[float]], start: str = "2026-01-05") -> pd.DataFrame:
    days = pd.date_range(start, periods=len(next(iter(values.values()))), freq="D")
    rows = [
        {
            "day": d,
            "provider": "P",
            "team": team,
            "application": "app",
            "model": "m",
            "api_key": "k",
            "bucket": "output",
            "cost": Decimal(str(round(v, 6))),
            "tokens": int(v * 1000),
            "requests": int(v),
            "failures": 0,
            "partial": False,
            "sub_account": "s",
            "service_tier": "standard",
            "context_tier": "standard",
            "source": "billing",
        }
        for team, series in values.items()
        for d, v in zip(days, series, strict=True)
    ]
    return pd.DataFrame(rows)


def test_build_series_fills_days_and_names_applications_with_their_team() -> None:
    f = _facts({"a": [1.0, 2.0, 3.0]}).drop(index=1)
    s = detect.build_series(f, dimension="application", metric="cost")
    assert s["key"].unique().tolist() == ["a/app"]
    assert s["value"].tolist() == [1.0, 0.0, 3.0]
    with pytest.raises(ParameterError, match="unknown dimension"):
        detect.build_series(f, dimension="colour", metric="cost")


def test_money_threshold_keeps_small_series_quiet() -> None:
    big = list(weekly(12, seed=5) * 10)  # ~1,000 a weekday
    small = list(weekly(12, seed=6) / 50)  # ~2 a weekday
    big[70] *= 2.0
    small[70] *= 5.0  # +8 in money: a large jump in a tiny series
    f = _facts({"big": big, "small": small})
    assert detect.resolve_min_impact(f, "auto") == pytest.approx(
        0.0025 * pd.Series([float(v) for v in f.groupby("day")["cost"].sum()]).median()
    )
    points = detect.scan(f, min_impact=50, dimensions=("team",), metrics=("cost",))
    eps = detect.episodes(points)
    assert eps[["key", "direction", "first_seen"]].values.tolist() == [["big", "spike", pd.Timestamp("2026-03-16")]]
    assert points.loc[(points["key"] == "small") & points["outlier"], "day"].tolist() == [pd.Timestamp("2026-03-16")]


def test_registry_and_unknown_or_unavailable_detectors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert detect.DEFAULTS["detector"] == "robust_seasonal" and "forecast_interval" in detect.DETECTORS
    with pytest.raises(ParameterError, match="unknown detector"):
        detect.get_detector("crystal_ball")
    import finops_lib.anomalies.forecast_band as df

    monkeypatch.setattr(df, "interval_function", lambda: None)
    with pytest.raises(ParameterError, match=r"forecast_interval.*unavailable"):
        detect.get_detector("forecast_interval")
    with pytest.raises(ParameterError, match="sensitivity"):
        detect.scan(_facts({"a": [1.0] * 30}), sensitivity=0)


def test_write_alerts_csv_and_json(tmp_path) -> None:
    alerts = pd.DataFrame(
        {
            "anomaly_id": ["A001"],
            "first_seen": [pd.Timestamp("2026-07-14")],
            "last_seen": [pd.Timestamp("2026-07-15")],
            "change": [Decimal("777.22")],
        }
    )
    rows = json.loads(write_alerts(alerts, tmp_path / "a.json").read_text())
    assert rows == [{"anomaly_id": "A001", "first_seen": "2026-07-14", "last_seen": "2026-07-15", "change": "777.22"}]
    assert "2026-07-14" in write_alerts(alerts, tmp_path / "a.csv").read_text()
    with pytest.raises(ParameterError, match=r"\.csv or \.json"):
        write_alerts(alerts, tmp_path / "a.xlsx")


def test_anomaly_controls_start_with_the_window_spend_and_redraw_on_every_change() -> None:
    import ipywidgets

    from finops_lib.views.anomalies.widgets import make_anomaly_controls

    spiky = list(weekly(10))
    spiky[60] *= 4  # one spike in team a, a quiet team b beside it
    cells = _facts({"a": spiky, "b": list(weekly(10, seed=2))})
    box = make_anomaly_controls(cells, dimension="team", sensitivity=5.0)
    assert isinstance(box, ipywidgets.VBox)
    values = {c.description: c.value for row in box.children[:2] for c in row.children}
    assert values["Sensitivity"] == 5.0 and values["Dimension"] == "team" and values["Detector"] == "robust_seasonal"
    assert box.drawn == []  # nothing drawn until a front end shows the view
    drawn = show(box)
    spend = sum(cells["cost"], Decimal(0))
    assert headline(drawn)["Spend (USD)"] == f"${spend:,.2f}"  # the cells' whole spend, to the cent
    series = charts(drawn)[0]
    assert series["title"].startswith("team a: cost per day")  # the series where the largest anomaly is
    alerts = drawn[2]
    assert len(alerts) == 1 and alerts["When"].iloc[0] == str(cells["day"].iloc[60].date())  # the list for people
    controls = {c.description: c for row in box.children[:2] for c in row.children}
    controls["Series"].value = "b"  # the quiet series: drawn, the alert list unchanged
    assert charts(box.drawn)[0]["title"].startswith("team b: cost per day") and len(box.drawn[2]) == 1
    said = []  # the status beside the controls says it works while the detector runs again, then clears
    box.status.observe(lambda change: said.append(change["new"]), names="value")
    controls["Sensitivity"].value = 8.0  # less sensitive: still the one large spike
    assert len(box.drawn[2]) == 1 and said == [BUSY, ""]
    controls["From"].value = cells["day"].iloc[7].date()  # the window: the headline is the spend from day 8 on
    later = sum(cells.loc[cells["day"] >= cells["day"].iloc[7], "cost"], Decimal(0))
    assert headline(box.drawn)["Spend (USD)"] == f"${later:,.2f}"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=60))
def test_the_detectors_median_is_numpys(values: list[float]) -> None:
    # robust_seasonal takes medians of plain floats (about 4x faster on the sample); its flags must not change
    assert detect._median(values) == float(np.median(np.array(values)))
