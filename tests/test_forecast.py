"""Forecast series and models: the history contract, cleaning, level shifts, events, Prophet on the sample."""

from __future__ import annotations

import contextlib
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from finops_lib import forecast as fc
from finops_lib import paths
from finops_lib.errors import ParameterError, SourceError
from finops_lib.facts import Facts, open_facts
from finops_lib.forecast import backtest as bt
from finops_lib.forecast.models import MODELS, Options, check_history, clean_history, outlier_mask
from finops_lib.rules import resolve_rules
from finops_lib.warehouse import ingestion as ingest

DATA = Path(__file__).parent / "data"
E05 = pd.Timestamp("2026-07-06")  # truth/events.csv: ad-copy-lab prototype -> production, volume x11


def weekly(days: int, start: str = "2026-05-04", level: float = 100.0) -> pd.Series:
    index = pd.date_range(start, periods=days)
    return pd.Series(np.tile([1.0, 1, 1, 1, 1, 0.4, 0.4], days // 7 + 1)[:days] * level, index=index)


def test_history_contract() -> None:
    s = weekly(14)
    with pytest.raises(ParameterError, match=r"consecutive and complete.*first missing day 2026-05-06"):
        check_history(s.drop(s.index[2]), name="x")
    with pytest.raises(ParameterError, match="missing or infinite value nan on 2026-05-05"):
        check_history(s.where(s.index != s.index[1]), name="x")


def test_outliers_are_short_runs_and_level_shifts_are_kept() -> None:
    s = weekly(70)
    spiky = s.copy()
    spiky.iloc[30:32] *= 4  # a two-day anomaly
    assert outlier_mask(spiky).sum() == 2 and outlier_mask(spiky).iloc[30:32].all()
    assert clean_history(spiky).iloc[30:32].tolist() == pytest.approx(s.iloc[30:32].tolist())
    stepped = s.where(s.index < "2026-06-22", s * 3)  # a lasting step: not an outlier
    assert not outlier_mask(stepped).any()
    assert fc.detect_level_shifts(stepped) == [pd.Timestamp("2026-06-22")]
    assert fc.detect_level_shifts(s * (1 + 0.003 * np.arange(70))) == []  # steady growth is no shift


def test_events_file_and_errors() -> None:
    events = fc.read_events(DATA / "forecast_events.csv")
    assert events[0] == fc.Event(date(2026, 7, 6), "ad-copy-lab to production", "launch", None, "ad-copy-lab")
    assert events[1].effect_pct == -20.0 and events[1].applies_to("anything")
    with pytest.raises(SourceError) as info:
        fc.read_events(DATA / "forecast_events_bad.csv")
    assert info.value.line == 3 and info.value.column == "date"


def test_future_event_scales_forecast_and_past_event_is_a_regressor() -> None:
    history = weekly(56)
    forecasts = bt.fit_forecasts({"x": history}, "seasonal_naive", horizon=14, workers=1,
                                 events=[fc.Event(date(2026, 7, 6), "cut", "price_change", -50.0)])
    f = forecasts["x"].frame["forecast"]  # history ends 2026-06-28: naive repeats its last week, halved from 07-06
    naive = pd.Series(np.tile(history.iloc[-7:].to_numpy(), 3)[:len(f)], index=f.index)
    assert f[:"2026-07-05"].tolist() == naive[:"2026-07-05"].tolist()
    assert f["2026-07-06":].tolist() == (0.5 * naive["2026-07-06":]).tolist()
    assert "events applied: cut (-50%)" in forecasts["x"].note
    reg = fc.event_regressors([fc.Event(date(2026, 6, 1), "launch", "launch")], history, 14)
    assert reg.columns.tolist() == ["event launch"] and reg.iloc[:28].sum().item() == 0 and reg.iloc[28:].all().item()


def test_prophet_fits_growth_and_weekly_pattern_quietly() -> None:
    days = 140
    s = weekly(days) * (1 + 0.004 * np.arange(days))
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured), contextlib.redirect_stdout(captured):
        f = MODELS["prophet"].fit(s, 28, Options())
    expected = weekly(days + 28).iloc[days:].to_numpy() * (1 + 0.004 * np.arange(days, days + 28))
    assert np.allclose(f.frame["forecast"].to_numpy(), expected, rtol=0.05)
    assert f.samples.shape == (28, 200) and (f.frame["lower"] <= f.frame["upper"]).all()
    assert "cmdstanpy" not in captured.getvalue() and "INFO" not in captured.getvalue()


def test_parallel_equals_sequential() -> None:
    series = {f"s{i}": weekly(63, level=10.0 * (i + 1)) for i in range(4)}
    one = bt.fit_forecasts(series, "drift", horizon=7, workers=1)
    two = bt.fit_forecasts(series, "drift", horizon=7, workers=2)
    for name in series:
        pd.testing.assert_frame_equal(one[name].frame, two[name].frame)


@pytest.fixture(scope="module")
def con(sample_warehouse: Path):
    connection = ingest.open_data(paths.SAMPLE_DIR, warehouse=sample_warehouse)
    yield connection
    connection.disconnect()


@pytest.fixture(scope="module")
def facts(con) -> Facts:
    return open_facts(con, rules=resolve_rules("", paths.SAMPLE_DIR))


@pytest.fixture(scope="module")
def applications(facts: Facts) -> pd.DataFrame:
    return fc.build_series(facts, by="application")


def test_series_are_complete_and_teams_add_up_to_total(facts: Facts, applications: pd.DataFrame) -> None:
    total = fc.build_series(facts, by="total")
    assert len(total) == 180 and total["day"].is_monotonic_increasing
    counts = applications.groupby("series").size()
    assert (counts == 180).all()  # every day of every application, zero days explicit
    assert (applications["value"] == 0).any()
    per_day = applications.groupby("day")["value"].sum().to_numpy()
    assert np.allclose(per_day, total["value"].to_numpy(), rtol=1e-9, atol=1e-6)
    truth = pd.read_csv(paths.SAMPLE_DIR / "truth" / "daily_cost.csv")
    assert total["value"].sum() == pytest.approx(truth["cost_usd"].sum() + truth["credit"].fillna(0).sum(), rel=2e-3)
    # the forecast's actuals are the facts' spend, to the cent, whichever dimension cuts them
    exact = facts.total("cost").quantize(Decimal("0.01"))
    for by in ("total", "provider", "team"):
        frame = total if by == "total" else fc.build_series(facts, by=by)
        assert Decimal(f"{frame['value'].sum():.2f}") == exact, by


def test_a_combination_of_dimensions_gives_one_series_per_combination_adding_up_to_the_total(facts: Facts) -> None:
    combos = fc.build_series(facts, by="team,model,api_key")
    total = fc.build_series(facts, by="total").set_index("day")["value"]
    rows = facts.aggregate("charges", by=["team", "model", "api_key"])
    expected = {" / ".join(map(str, key)) for key in rows[["team", "model", "api_key"]].itertuples(index=False)}
    assert set(combos["series"]) == expected and len(expected) > 10
    assert (combos.groupby("series").size() == len(total)).all()  # every day of every combination
    per_day = combos.groupby("day")["value"].sum()
    assert np.allclose(per_day.to_numpy(), total.loc[per_day.index].to_numpy(), rtol=1e-9, atol=1e-6)
    one = rows.sort_values("charges").iloc[-1]  # the largest combination: its series sums to its own charges
    name = f"{one['team']} / {one['model']} / {one['api_key']}"
    assert combos.loc[combos["series"] == name, "value"].sum() == pytest.approx(float(one["charges"]), rel=1e-12)


@pytest.mark.parametrize("by", ["team,nope", "team,team", "total,model"])
def test_a_combination_names_known_dimensions_once(facts: Facts, by: str) -> None:
    with pytest.raises(ParameterError, match="combination"):
        fc.build_series(facts, by=by)


@pytest.mark.parametrize("name", ["ad-copy-lab"])
def test_forecast_after_step_change_uses_new_level(applications: pd.DataFrame, name: str) -> None:
    s = fc.series_map(applications)[name]
    before = s[E05 - pd.Timedelta(days=28):E05 - pd.Timedelta(days=1)].mean()
    for end in ("2026-07-13", "2026-07-20"):
        history = s[:end]
        forecast = bt.fit_forecasts({name: history}, "prophet", horizon=14, workers=1)[name]
        after = s[pd.Timestamp(end) + pd.Timedelta(days=1):].iloc[:14].mean()
        level = forecast.frame["forecast"].iloc[:14].mean()
        assert abs(level - after) / after < 0.25, (end, level, after)
        assert level > 5 * before
        assert "level shift 2026-07-06" in forecast.note
