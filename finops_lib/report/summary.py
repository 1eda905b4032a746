"""The report's executive summary: the answers of every page on one screen, built from their ``results.json``.

The index of a report leads with what a FinOps lead or a finance reader needs in thirty seconds, in plain
sentences: the spend of the period (one total, its scope stated once) and how it moved, where it is heading
(forecast to the month's end and over the next days, with the interval), which budgets are at risk, the largest
anomalies by money at stake with their driver, the part of the invoice no log explains, and the material movers.
Each line comes from the page that computed it (the same figure as on the page); a page that could not answer
gives its own sentence instead (``headline`` of a thin folder: "Forecasts need 28 days of history ...").

Examples
--------
>>> pages = {"00_data_overview": {"total_spend": {"USD": "1234.5"}, "date_range": ["2026-10-01", "2026-10-31"],
...                               "period": {"days": "30", "current": "1000", "previous": "800",
...                                          "change_pct": "0.25"}}}
>>> [line["text"] for line in executive_summary(pages)][0]
'$1,234.50 from 2026-10-01 to 2026-10-31, in USD. The last 30 days: $1,000.00, +25.0% against the 30 days before.'
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from finops_lib.fx import fmt_money

__all__ = ["executive_summary"]

#: Anomalies listed on the summary, largest money at stake first.
TOP_ANOMALIES = 5


def _money(value: Any, currency: str) -> str:
    try:
        return fmt_money(Decimal(str(value)), currency)
    except (InvalidOperation, ValueError, TypeError):
        return "-"


def _spend(page: Mapping[str, Any]) -> dict[str, Any] | None:
    totals = page.get("total_spend") or {}
    if not totals:
        return None
    currency, total = next(iter(totals.items()))
    days = page.get("date_range") or []
    text = (f"{_money(total, currency)} from {days[0]} to {days[1]}, in {currency}." if len(days) == 2
            else f"{_money(total, currency)}, in {currency}.")  # fmt: skip
    converted = [c for c in (page.get("billed") or {}) if c != currency]
    if converted:
        text = text[:-1] + f" ({', '.join(converted)} converted at each charge day's rate)."
    period = page.get("period") or {}
    if period.get("change_pct") not in (None, "None"):
        pct = float(period["change_pct"])
        text += (f" The last {period['days']} days: {_money(period['current'], currency)}, {pct:+.1%} against the "
                 f"{period['days']} days before.")  # fmt: skip
    return {"key": "spend", "title": "Spend", "text": text, "figure": _money(total, currency), "items": []}


def _forecast(page: Mapping[str, Any]) -> dict[str, Any] | None:
    view = page.get("outlook") or {}
    currency = (page.get("parameters") or {}).get("currency", "USD")
    if not view:
        reason = (page.get("headline") or {}).get("Forecast")
        return {"key": "forecast", "title": "Forecast", "text": reason, "items": []} if reason else None

    def span(low: Any, high: Any) -> str:
        try:
            return f" (80%: {_money(low, currency)} to {_money(high, currency)})" if float(low) == float(low) else ""
        except (TypeError, ValueError):
            return ""

    name = "total spend" if view["series"] == "total" else view["series"]
    text = (f"Next {view['days']} days, {name}: {_money(view['next_days'], currency)}"
            f"{span(view.get('next_low'), view.get('next_high'))}; {view['month']}: "
            f"{_money(view['month_end'], currency)}{span(view.get('month_low'), view.get('month_high'))}.")
    return {"key": "forecast", "title": "Forecast", "text": text, "figure": _money(view["next_days"], currency),
            "items": []}  # fmt: skip


def _budgets(page: Mapping[str, Any]) -> dict[str, Any] | None:
    risk = page.get("budget_risk")
    if risk is None:
        return None
    currency = (page.get("parameters") or {}).get("currency", "USD")
    if not risk:
        return {"key": "budgets", "title": "Budgets", "items": [],
                "text": "No budgets: add config/budgets.csv to see which budgets will be exceeded."}  # fmt: skip
    at_risk = [r for r in risk if r.get("status") in ("breach projected", "exceeded")]
    items = []
    for r in at_risk:
        chance = f"{float(r['p_exceed']):.0%} chance" if r.get("p_exceed") not in (None, "nan", "None") else "likely"
        day = str(r.get("breach_date") or "")
        when = f", from {day[:10]}" if day and day not in ("NaT", "nan", "None") else ""
        items.append(f"{r['series']}: {r['status']} ({chance}{when}); budget {_money(r['budget'], currency)}, "
                     f"projected {_money(r['projected_month_end'], currency)}")
    text = (f"{len(at_risk)} of {len(risk)} budget(s) exceeded or projected to be." if at_risk
            else f"None of {len(risk)} budget(s) is projected to be exceeded.")  # fmt: skip
    return {"key": "budgets", "title": "Budgets at risk", "text": text, "items": items}


def _anomalies(page: Mapping[str, Any]) -> dict[str, Any] | None:
    if "alerts" not in page:
        return None
    problem = (page.get("headline") or {}).get("Anomalies", "")
    alerts = page["alerts"]
    if not alerts:
        text = problem if problem and not problem.isdigit() else "No anomaly in the window."
        return {"key": "anomalies", "title": "Anomalies", "text": text, "items": []}
    currency = alerts[0].get("currency", "USD")
    ranked = sorted(alerts, key=lambda a: -abs(float(a["change"])))
    stake = sum(abs(float(a["change"])) for a in alerts)
    items = []
    for a in ranked[:TOP_ANOMALIES]:
        change = float(a["change"])
        pct = float(a["change_pct"])
        shown = "new" if abs(pct) == float("inf") else f"{pct:+.0%}"
        cause = f" ({a['cause']})" if a.get("cause") not in (None, "", "nan", "None") else ""
        when = a["first_seen"] if a["first_seen"] == a["last_seen"] else f"{a['first_seen']} to {a['last_seen']}"
        items.append(f"{a['anomaly_id']} {a['scope']}: {'+' if change >= 0 else ''}{_money(change, currency)} "
                     f"({shown}), {when}, driven by {a['driver']}{cause}")
    text = (f"{len(alerts)} anomal{'y' if len(alerts) == 1 else 'ies'}, {_money(stake, currency)} of spend at "
            f"stake; the largest:")  # fmt: skip
    return {"key": "anomalies", "title": "Anomalies", "text": text, "items": items}


def _reconciliation(page: Mapping[str, Any]) -> dict[str, Any] | None:
    if "unexplained_total" not in page:
        return None
    currency = (page.get("filters") or {}).get("currency", "USD")
    invoiced = Decimal(str(page.get("invoiced_total") or 0))
    gap = Decimal(str(page["unexplained_total"]))
    share = f" ({float(gap / invoiced):.1%} of the invoice)".replace("-", "−") if invoiced else ""
    text = (f"{_money(gap, currency)} of the invoices is left unexplained by the request logs{share}; the rest of the "
            "gap has a known cause (traffic the logs do not see, capacity, non-AI services, tiers, cache).")
    return {"key": "reconciliation", "title": "Invoice against logs", "text": text, "items": []}


def _movers(page: Mapping[str, Any]) -> dict[str, Any] | None:
    movers = page.get("movers")
    if not movers:
        return None
    currency = next(iter(page.get("total_spend") or {"USD": 0}))
    rows = movers.get("rows") or []
    if not rows:
        return {"key": "movers", "title": "Top movers", "items": [],
                "text": f"No {movers['by']} moved materially over the last {movers['window_days']} days."}
    items = [f"{r['name']}: {'+' if float(r['change']) >= 0 else ''}{_money(r['change'], currency)} "
             + (f"({float(r['change_pct']):+.0%})" if r.get("change_pct") else "(new)") for r in rows]
    return {"key": "movers", "title": "Top movers",
            "text": f"Material moves by {movers['by']}, last {movers['window_days']} days against the ones before:",
            "items": items}  # fmt: skip


def executive_summary(pages: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return the summary lines of a report from its pages' results (``{stem: results.json}``), in reading order.

    Each line is ``{"key", "title", "text", "items"}`` (``items``: short lines listed under the text; ``figure``
    when the line has one headline number). A page missing from ``pages`` gives no line.
    """
    builders = (("00_data_overview", _spend), ("30_spend_forecast", _forecast), ("30_spend_forecast", _budgets),
                ("40_anomaly_review", _anomalies), ("50_reconciliation", _reconciliation),
                ("00_data_overview", _movers))  # fmt: skip
    lines = []
    for stem, build in builders:
        if stem in pages:
            line = build(pages[stem])
            if line is not None:
                lines.append(line)
    return lines
