"""Charts and tables of the anomaly review: a series with its band and anomalies, the waterfall of one anomaly.

Charts are specs (``plot_*() -> alt.Chart``), never displayed here; frames in, never mutated.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from finops_lib.views.notice import when_empty
from finops_lib.views.theme import as_floats, check_frame, fmt_currency_axis, fmt_money, money_format
from finops_lib.views.waterfall import plot_waterfall, waterfall_steps

__all__ = ["COMPONENT_LABELS", "fmt_alerts", "fmt_days", "plot_anomaly_series", "plot_decomposition_waterfall",
           "plot_drilldown", "series_points"]  # fmt: skip

COMPONENT_LABELS: dict[str, str] = {"volume": "Volume", "mix": "Mix", "tokens_per_request": "Tokens per unit",
                                    "price": "Price per token", "other": "Other"}  # fmt: skip
SPIKE_COLOR, DROP_COLOR, TOTAL_COLOR = "#d62728", "#2ca02c", "#4c78a8"
_UNITS = {"cost": None, "tokens": "Tokens", "requests": "Requests"}


def series_points(points: pd.DataFrame, *, dimension: str, key: str, metric: str = "cost",
                  start_date: str = "", end_date: str = "") -> pd.DataFrame:  # fmt: skip
    """Return one series of the scanned points, within the dates (inclusive, '' = open)."""
    part = points[(points["dimension"] == dimension) & (points["key"] == key) & (points["metric"] == metric)]
    if start_date:
        part = part[part["day"] >= pd.Timestamp(start_date)]
    if end_date:
        part = part[part["day"] <= pd.Timestamp(end_date)]
    return part.reset_index(drop=True)


def plot_anomaly_series(points: pd.DataFrame, *, currency: str, metric: str = "cost", title: str | None = None,
                        alerts: pd.DataFrame | None = None) -> alt.Chart:  # fmt: skip
    """Return the actual series, the detector's expected value and band, and the reported points.

    Parameters
    ----------
    points
        One series of :func:`finops_lib.anomalies.detectors.scan` (:func:`series_points`): ``day``, ``actual``,
        ``expected``, ``lower``, ``upper``, ``score``, ``reported``.
    currency
        ISO 4217 code (cost series).
    metric
        ``cost``, ``tokens`` or ``requests``: the y axis.
    title
        Chart title.
    alerts
        Optional alert rows (``first_seen``, ``last_seen``, ``anomaly_id``) shaded behind the series.
    """
    cols = ["day", "actual", "expected", "lower", "upper", "score", "reported"]
    data = check_frame(
        points, cols, chart="plot_anomaly_series", nullable=["actual", "expected", "lower", "upper", "score"]
    )
    data["kind"] = ["spike" if r and s > 0 else "drop" if r else "" for r, s in zip(data["reported"], data["score"],
                                                                                    strict=True)]  # fmt: skip
    fmt = money_format(data["actual"]) if metric == "cost" else ",.2~f"
    axis = fmt_currency_axis(currency, fmt=fmt) if metric == "cost" else alt.Axis(title=_UNITS[metric], format="~s")
    base = alt.Chart(data).encode(x=alt.X("day:T", title="Day (UTC)"))
    band = base.mark_area(opacity=0.18, color=TOTAL_COLOR).encode(y=alt.Y("lower:Q", axis=axis), y2="upper:Q")
    expected = base.mark_line(strokeDash=[4, 3], color="#888").encode(y="expected:Q")
    unit = f"({currency})" if metric == "cost" else f"({_UNITS[metric].lower()})"
    number = fmt if metric == "cost" else ",.0f"
    tips = [alt.Tooltip("day:T", title="Day (UTC)", format="%Y-%m-%d"),
            alt.Tooltip("actual:Q", title=f"Actual {unit}", format=number),
            alt.Tooltip("expected:Q", title=f"Expected {unit}", format=number),
            alt.Tooltip("score:Q", title="Anomaly score", format=".1f")]  # fmt: skip
    actual = base.mark_line(color=TOTAL_COLOR).encode(y="actual:Q", tooltip=tips)
    kinds = alt.Scale(domain=["spike", "drop"], range=[SPIKE_COLOR, DROP_COLOR])
    marks = (
        base.transform_filter("datum.kind != ''")
        .mark_point(size=90, filled=True)
        .encode(y="actual:Q", color=alt.Color("kind:N", title="Anomaly", scale=kinds))
    )
    layers = [band, expected, actual, marks]
    if alerts is not None and len(alerts):
        spans = alerts[["anomaly_id", "first_seen", "last_seen"]].copy()
        spans["first_seen"] = pd.to_datetime(spans["first_seen"]).dt.normalize()
        spans["end"] = pd.to_datetime(spans["last_seen"]).dt.normalize() + pd.Timedelta(days=1)  # the day's end
        layers.insert(0, alt.Chart(spans).mark_rect(opacity=0.08, color=SPIKE_COLOR).encode(
            x="first_seen:T", x2="end:T", tooltip=[alt.Tooltip("anomaly_id:N", title="Anomaly")]))  # fmt: skip
    name = "Cost" if metric == "cost" else _UNITS[metric]
    return alt.layer(*layers).properties(width=760, height=260, title=title or f"{name} per day, band and anomalies")


@when_empty("No decomposition for this anomaly.")
def plot_decomposition_waterfall(components: pd.DataFrame, *, baseline: object, current: object, currency: str,
                                 title: str | None = None) -> alt.Chart:  # fmt: skip
    """Return the waterfall from the baseline cost to the anomaly's cost through volume, mix, tokens, price, other.

    Parameters
    ----------
    components
        ``component`` and ``amount`` (:attr:`finops_lib.anomalies.explain.Explanation.components`).
    baseline, current
        The baseline's and the anomaly's cost over the anomaly's days (numbers or Decimals).
    currency
        ISO 4217 code.
    title
        Chart title.
    """
    data = as_floats(check_frame(components, ["component", "amount"], chart="plot_decomposition_waterfall"), ["amount"])
    parts = [(label, float(data.loc[data["component"] == c, "amount"].sum())) for c, label in COMPONENT_LABELS.items()]
    steps = waterfall_steps(parts, start=("Baseline", float(baseline)), end=("Anomaly", float(current)))  # type: ignore[arg-type]
    return plot_waterfall(steps, currency=currency, title=title or "From baseline to anomaly", increase=SPIKE_COLOR,
                          decrease=DROP_COLOR, width=620).properties(height=280)


@when_empty("No drill-down for this anomaly.")
def plot_drilldown(drill: pd.DataFrame, *, currency: str, top: int = 6, skip: tuple[str, ...] = (),
                   title: str | None = None) -> alt.Chart:  # fmt: skip
    """Return the change per value of each dimension (``dimension``, ``value``, ``change``), largest first.

    ``skip`` leaves out dimensions (those the anomaly's scope already fixes).
    """
    data = as_floats(check_frame(drill, ["dimension", "value", "change"], chart="plot_drilldown"), ["change"])
    data = data[~data["dimension"].isin(skip)]
    data["size"] = data["change"].abs()
    data = data.sort_values("size", ascending=False).groupby("dimension", sort=False).head(top)
    data["value"] = data["value"].astype(str).str.slice(0, 32)
    return alt.Chart(data, title=title or "Where the change is").mark_bar().encode(
        x=alt.X("change:Q", axis=fmt_currency_axis(currency, label="Change")),
        y=alt.Y("value:N", sort="-x", title=None),
        row=alt.Row("dimension:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
        color=alt.condition("datum.change > 0", alt.value(SPIKE_COLOR), alt.value(DROP_COLOR)),
        tooltip=[alt.Tooltip("dimension:N", title="Dimension"), alt.Tooltip("value:N", title="Value"),
                 alt.Tooltip("change:Q", title=f"Change ({currency})", format="+,.2f")],
    ).resolve_scale(y="independent").properties(width=460)  # fmt: skip


def fmt_days(first: pd.Series, last: pd.Series) -> list[str]:
    """Return each span of days as people write it: one day, or the first day to the last (``2026-06-15 to 06-16``)."""
    starts, ends = pd.to_datetime(first), pd.to_datetime(last)
    return [f"{a:%Y-%m-%d}" if a == b else f"{a:%Y-%m-%d} to {b:%m-%d}" for a, b in zip(starts, ends, strict=True)]


def fmt_alerts(alerts: pd.DataFrame) -> pd.DataFrame:
    """Return the alert list for people, narrow enough for a page: when, where, what it cost, why, how bad.

    Columns: ``Anomaly``, ``When`` (a day, or first to last day), ``Where`` (team / application (provider)),
    ``Model``, ``Change`` (money with its currency), ``Change %``, ``Driver`` (with its typical cause),
    ``Severity``, ``Incident``; the order of ``alerts`` is kept (largest money at stake first).
    """
    columns = ["Anomaly", "When", "Where", "Model", "Change", "Change %", "Driver", "Severity", "Incident"]
    if alerts.empty:
        return pd.DataFrame(columns=columns)
    currency = alerts["currency"].iloc[0] if "currency" in alerts.columns else "USD"
    when = fmt_days(alerts["first_seen"], alerts["last_seen"])

    def where(row: pd.Series) -> str:
        owner = " / ".join(str(row[c]) for c in ("team", "application") if str(row.get(c, "") or "") not in ("", "nan"))
        provider = str(row.get("provider", "") or "")
        return f"{owner} ({provider})" if owner and provider else owner or provider or str(row.get("scope", ""))

    def why(row: pd.Series) -> str:
        cause = str(row.get("cause", "") or "")
        return f"{row['driver']} ({cause})" if cause and cause != "nan" else str(row["driver"])

    def pct(value: object) -> str:
        v = float(value)
        return "new" if abs(v) == float("inf") else f"{v:+.0%}"

    return pd.DataFrame({
        "Anomaly": alerts["anomaly_id"].to_numpy(), "When": when,
        "Where": [where(r) for _, r in alerts.iterrows()], "Model": alerts.get("model", "").to_numpy(),
        "Change": [fmt_money(v, currency) for v in alerts["change"]],
        "Change %": [pct(v) for v in alerts["change_pct"]],
        "Driver": [why(r) for _, r in alerts.iterrows()], "Severity": alerts["severity"].to_numpy(),
        "Incident": alerts["incident"].fillna("").to_numpy() if "incident" in alerts.columns else "",
    })  # fmt: skip
