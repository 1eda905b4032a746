"""Chart specs: titles, axis units, currency formats, sort orders (asserted on ``to_dict()``, not pixels)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import pytest

from finops_lib import offline
from finops_lib.errors import ParameterError, SchemaError
from finops_lib.views import theme
from finops_lib.views.overview import charts as overview_charts


def _spend() -> pd.DataFrame:
    days = pd.to_datetime(["2025-01-01", "2025-01-01", "2025-01-02", "2025-01-02"])
    return pd.DataFrame({"day": days, "team": ["small", "big", "small", "big"], "cost": [1.0, 10.0, 2.0, 20.0]})


def test_plot_spend_over_time_spec() -> None:
    frame = _spend()
    before = frame.copy()
    spec = theme.chart_spec(overview_charts.plot_spend_over_time(frame, by="team", currency="EUR"))
    assert spec["title"] == "Daily spend by team"
    assert spec["encoding"]["y"]["axis"]["title"] == "Cost (EUR)"
    assert spec["encoding"]["y"]["axis"]["format"] == ",.2~f" and "€" in spec["encoding"]["y"]["axis"]["labelExpr"]
    assert spec["encoding"]["x"]["title"] == "Date"
    assert spec["encoding"]["color"]["sort"] == ["big", "small"] == spec["encoding"]["color"]["scale"]["domain"]
    assert [tip["title"] for tip in spec["encoding"]["tooltip"]] == ["Date", "Team", "Cost (EUR)"]
    assert spec["config"]["range"]["category"][0] == theme.PALETTE[0]
    assert spec["config"]["view"]["continuousWidth"] == 640
    pd.testing.assert_frame_equal(frame, before)


def test_plot_top_movers_is_sorted_by_change() -> None:
    frame = pd.DataFrame({"model": ["a", "b", "c"], "previous": [10.0, 10.0, 10.0], "current": [5.0, 30.0, 12.0]})
    frame = frame.assign(change=frame["current"] - frame["previous"], change_pct=float("nan"))
    spec = overview_charts.plot_top_movers(frame, by="model", currency="USD").to_dict()
    assert spec["encoding"]["y"]["sort"] == ["b", "c", "a"]
    assert (
        spec["encoding"]["x"]["axis"]["title"] == "Change (USD)" and "$" in spec["encoding"]["x"]["axis"]["labelExpr"]
    )
    assert spec["encoding"]["color"]["condition"]["test"] == "datum.change > 0"
    assert {"Change (%)": "+.1%"}.items() <= {t["title"]: t.get("format") for t in spec["encoding"]["tooltip"]}.items()


def test_plot_coverage_spans_whole_days_sorted_by_start() -> None:
    frame = pd.DataFrame({"source": ["late", "early"], "start": ["2025-02-01", "2025-01-01"],
                          "end": ["2025-02-01", "2025-01-31"], "rows": [1, 2]})  # fmt: skip
    spec = overview_charts.plot_coverage(frame).to_dict()
    values = spec["datasets"][spec["data"]["name"]]
    assert spec["encoding"]["y"]["sort"] == ["early", "late"] and spec["encoding"]["x2"]["field"] == "end_exclusive"
    assert values[0]["end_exclusive"].startswith("2025-02-02")
    with pytest.raises(SchemaError, match="precedes start"):
        overview_charts.plot_coverage(frame.assign(end="2024-01-01"))


def test_plot_tokens_over_time_in_millions() -> None:
    frame = _spend().rename(columns={"cost": "tokens"}).assign(tokens=lambda f: (f["tokens"] * 1e6).astype(int))
    spec = overview_charts.plot_tokens_over_time(frame, by="team").to_dict()
    assert spec["encoding"]["y"]["axis"]["title"] == "Tokens (millions)"
    assert spec["encoding"]["y"]["field"] == "tokens_m" and spec["encoding"]["color"]["sort"] == ["big", "small"]


def test_plot_guards() -> None:
    big = pd.DataFrame({"day": ["2025-01-01"] * 5_001, "team": "a", "cost": 1.0})
    with pytest.raises(ParameterError, match="aggregate"):
        overview_charts.plot_spend_over_time(big, by="team", currency="EUR")
    with pytest.raises(SchemaError, match="cost"):
        overview_charts.plot_spend_over_time(big.drop(columns="cost").head(), by="team", currency="EUR")
    with pytest.raises(ParameterError, match="ISO 4217"):
        theme.fmt_currency_axis("euro")


def test_use_theme_enables_theme_and_offline_renderer() -> None:
    previous_theme, previous_renderer = alt.theme.active, alt.renderers.active
    try:
        theme.use_theme()
        assert alt.theme.active == theme.THEME_NAME and alt.renderers.active == offline.RENDERER_NAME
    finally:
        alt.theme.enable(previous_theme)
        alt.renderers.enable(previous_renderer)
