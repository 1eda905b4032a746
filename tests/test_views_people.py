"""What pages show people: sentences instead of empty visuals, tables without raw values, the report's summary.

Unit tests of ``views/notice.py``, ``views/tables.py``, the alert list, the forecast legend and
``report/summary.py``, on small frames whose expected text is written out by hand.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pandas as pd
import pytest
from readable import raw_values

from finops_lib.paths import NOTEBOOKS_DIR
from finops_lib.report.summary import executive_summary
from finops_lib.views.anomalies.charts import fmt_alerts
from finops_lib.views.forecast.charts import fmt_accuracy, fmt_budget_risk, fmt_choice, plot_burn_down
from finops_lib.views.notice import Findings, Notice, stack, when_empty
from finops_lib.views.overview.charts import plot_top_movers
from finops_lib.views.overview.page import top_movers
from finops_lib.views.reconciliation import charts as reconciliation_charts
from finops_lib.views.tables import fmt_p, fmt_rates, fmt_table, fmt_unit_money, fmt_value

NOTEBOOKS = NOTEBOOKS_DIR


def test_an_empty_frame_gives_a_sentence_not_a_chart() -> None:
    said = plot_top_movers(pd.DataFrame(columns=["team", "previous", "current", "change", "change_pct"]), by="team",
                           currency="USD")  # fmt: skip
    assert isinstance(said, Notice) and "No material movers" in str(said)
    assert said._repr_html_().startswith('<p class="finops-notice">')

    @when_empty("nothing here")
    def draw(frame: pd.DataFrame) -> str:
        return f"{len(frame)} rows"

    assert draw(pd.DataFrame({"a": [1]})) == "1 rows" and str(draw(None)) == "nothing here"


def test_data_text_is_escaped_in_sentences_and_stacks() -> None:
    escaped = '<p class="finops-findings">&lt;script&gt;x&lt;/script&gt;</p>'
    assert Findings("<script>x</script>")._repr_html_() == escaped
    table = fmt_table(pd.DataFrame({"team": ["<b>ops</b>"]}))
    html = stack(Notice("a & b"), table)._repr_html_()
    assert "a &amp; b" in html and "<b>ops</b>" not in html and "&lt;b&gt;ops&lt;/b&gt;" in html


def test_every_table_builder_escapes_its_caption_labels_and_cells() -> None:
    # pandas escapes a Styler's cells only: the caption and the column labels carry data text too (a column per
    # team, an experiment's name in a caption), and each table builder of the pages escapes them.
    payload = "<img src=x onerror=alert(1)>"
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    frame = pd.DataFrame({payload: [payload]})
    tables = {
        "fmt_table": fmt_table(frame, caption=payload),
        "reconciliation": reconciliation_charts.fmt_table(frame, caption=payload),
        "fmt_accuracy": fmt_accuracy(frame, caption=payload),
        "fmt_budget_risk": fmt_budget_risk(frame.assign(breach_date=[None]), currency="USD", caption=payload),
        "fmt_choice": fmt_choice(frame.assign(series=["s"]), caption=payload),
    }
    for name, table in tables.items():
        html = table.to_html()
        assert "<img" not in html, name
        assert html.count(escaped) == 3, (name, html.count(escaped))  # caption, column label, cell


def test_notebooks_show_tables_only_through_the_escaping_builders() -> None:
    # A Styler made in a notebook loses the escape of theme.use_theme as soon as it calls .format() without
    # escape="html" (pandas resets every column's formatter), which let model and experiment names through raw.
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code":
                assert not re.search(r"\.style\b|\.to_html\(|\bHTML\(|\bMarkdown\(", source), (path.name, source)


def test_tables_show_no_raw_values() -> None:
    frame = pd.DataFrame({"owner": ["search", "legal"], "cost": [Decimal("1234.5"), None],
                          "per_request": [0.000473339, 2.5], "share": [0.25, float("nan")],
                          "p_holm": [1.9e-39, 0.0432], "significant": [True, False],
                          "scope": [{"team": "a", "app": "b"}, None]}, index=[7, 9])  # fmt: skip
    html = fmt_table(frame, currency="EUR", money=["cost"], unit_money=["per_request"], pct=["share"],
                     p_values=["p_holm"], caption="t").to_html()
    cells = [c.split(">")[-1] for c in html.split("</td>")[:-1]]
    assert cells == ["search", "€1,234.50", "€0.0004733", "25.0%", "< 0.001", "yes", "team=a, app=b",
                     "legal", "-", "€2.50", "-", "0.043", "no", "-"]  # fmt: skip
    assert ">Per request</th>" in html and "row_heading" not in html  # labels; no index
    text = " ".join(cells)
    assert raw_values(text) == []


def test_formatters_read_like_people_write() -> None:
    assert (fmt_p(0.0), fmt_p(0.2), fmt_p(None)) == ("< 0.001", "0.200", "-")
    assert (fmt_unit_money(-0.00012345, "USD"), fmt_unit_money(0, "USD")) == ("−$0.0001234", "$0.00")
    assert (fmt_value(False), fmt_value([1, "a"]), fmt_value(pd.Timestamp("2026-06-01"))) == (
        "no", "1, a", "2026-06-01")
    assert str(fmt_rates(pd.DataFrame(), currency="USD")) == "No conversion: every amount is billed in USD."


def test_raw_value_check_catches_what_a_reader_should_not_see() -> None:
    found = raw_values("ok $12.50\nFilters: {'provider': 'all'}\n/work/main/data/x.csv\nTrue\nnan\n1.086956521739\n"
                       "p 2.7e-24\n<pandas.io.formats.style.Styler at 0x7f00>")  # fmt: skip
    assert [what for what, _ in found] == ["python dict", "local path", "boolean", "NaN", "long decimals",
                                           "e-notation", "object repr"]  # fmt: skip


def test_alert_list_is_narrow_and_keeps_the_money_order() -> None:
    alerts = pd.DataFrame({"anomaly_id": ["A2", "A1"], "first_seen": ["2026-06-15", "2026-07-01"],
                           "last_seen": ["2026-06-16", "2026-07-01"], "provider": ["Anthropic", "OpenAI"],
                           "team": ["support", "sales"], "application": ["chatbot", ""], "model": ["m", "n"],
                           "change": [Decimal("120.5"), Decimal("-3")], "change_pct": [2.25, float("-inf")],
                           "driver": ["requests", "price"], "cause": ["retry storm", ""], "severity": ["high", "low"],
                           "incident": ["", "I1"], "currency": ["USD", "USD"], "scope": ["x", "y"]})  # fmt: skip
    shown = fmt_alerts(alerts)
    assert list(shown.columns) == ["Anomaly", "When", "Where", "Model", "Change", "Change %", "Driver", "Severity",
                                   "Incident"]  # fmt: skip
    assert shown.iloc[0].tolist() == ["A2", "2026-06-15 to 06-16", "support / chatbot (Anthropic)", "m", "$120.50",
                                      "+225%", "requests (retry storm)", "high", ""]  # fmt: skip
    assert shown.iloc[1].tolist()[:7] == ["A1", "2026-07-01", "sales (OpenAI)", "n", "−$3.00", "new", "price"]


def test_material_movers_only() -> None:
    days = pd.to_datetime(["2026-06-01", "2026-06-02"] * 3)
    daily = pd.DataFrame({"day": days, "team": ["a", "a", "b", "b", "c", "c"],
                          "cost": [100.0, 150.0, 100.0, 102.0, 0.0, 0.5]})  # fmt: skip
    # a +50 (+50%) is material; b +2 (+2%) is under 10%; c is new but 0.5 is under 1% of the 252.5 spent
    assert top_movers(daily, by="team", window_days=1, material=True)["team"].tolist() == ["a"]
    assert top_movers(daily, by="team", window_days=1)["team"].tolist() == ["a", "b", "c"]


def test_burn_down_without_actual_days_has_no_actual_legend() -> None:
    days = pd.date_range("2026-11-01", periods=3)
    frame = pd.DataFrame({"day": days, "kind": "forecast", "cumulative": [1.0, 2.0, 3.0], "lower": [0.5, 1.5, 2.5],
                          "upper": [1.5, 2.5, 3.5], "budget": 10.0})  # fmt: skip
    spec = plot_burn_down(frame, currency="USD").to_dict()
    lines = [layer for layer in spec["layer"] if layer["mark"]["type"] == "line"]
    assert lines[0]["encoding"]["color"]["scale"]["domain"] == ["Forecast"]


@pytest.fixture
def pages() -> dict:
    return {
        "00_data_overview": {"total_spend": {"USD": "1000.00"}, "date_range": ["2026-09-01", "2026-10-31"],
                             "billed": {"USD": "900", "EUR": "92"},
                             "period": {"days": "30", "current": "600", "previous": "400", "change_pct": "0.5"},
                             "movers": {"by": "team", "window_days": 7,
                                        "rows": [{"name": "search", "change": "120", "change_pct": "0.6"}]}},
        "30_spend_forecast": {"parameters": {"currency": "USD"},
                              "outlook": {"series": "total", "days": 30, "next_days": 700.0, "next_low": 650.0,
                                          "next_high": 760.0, "month": "2026-11", "month_end": 700.0,
                                          "month_low": 650.0, "month_high": 760.0},
                              "budget_risk": [{"series": "search", "status": "breach projected", "p_exceed": "0.7",
                                               "breach_date": "2026-11-20 00:00:00", "budget": "300",
                                               "projected_month_end": "350"},
                                              {"series": "legal", "status": "within budget", "p_exceed": "0.1",
                                               "breach_date": "NaT", "budget": "300",
                                               "projected_month_end": "200"}]},
        "40_anomaly_review": {"headline": {"Anomalies": "2"}, "alerts": [
            {"anomaly_id": "A1", "scope": "team=search", "change": "-5", "change_pct": "-0.5",
             "first_seen": "2026-10-01", "last_seen": "2026-10-01", "driver": "volume", "cause": "", "currency": "USD"},
            {"anomaly_id": "A2", "scope": "team=legal", "change": "80", "change_pct": "inf",
             "first_seen": "2026-10-02", "last_seen": "2026-10-04", "driver": "model mix", "cause": "new model",
             "currency": "USD"}]},
        "50_reconciliation": {"filters": {"currency": "USD"}, "invoiced_total": "1000", "unexplained_total": "-25"},
    }  # fmt: skip


def test_the_summary_reads_every_page_s_answer(pages: dict) -> None:
    lines = {line["key"]: line for line in executive_summary(pages)}
    assert list(lines) == ["spend", "forecast", "budgets", "anomalies", "reconciliation", "movers"]
    assert lines["spend"]["text"] == ("$1,000.00 from 2026-09-01 to 2026-10-31, in USD (EUR converted at each charge "
                                      "day's rate). The last 30 days: $600.00, +50.0% against the 30 days before.")
    assert lines["forecast"]["text"] == ("Next 30 days, total spend: $700.00 (80%: $650.00 to $760.00); 2026-11: "
                                         "$700.00 (80%: $650.00 to $760.00).")
    assert lines["budgets"]["text"] == "1 of 2 budget(s) exceeded or projected to be."
    assert lines["budgets"]["items"] == ["search: breach projected (70% chance, from 2026-11-20); budget $300.00, "
                                         "projected $350.00"]
    # largest money at stake first: A2 (+80) before A1 (-5); 85 at stake
    assert lines["anomalies"]["text"] == "2 anomalies, $85.00 of spend at stake; the largest:"
    assert [item.split(" ")[0] for item in lines["anomalies"]["items"]] == ["A2", "A1"]
    assert lines["anomalies"]["items"][0] == ("A2 team=legal: +$80.00 (new), 2026-10-02 to 2026-10-04, driven by "
                                              "model mix (new model)")
    assert lines["reconciliation"]["text"].startswith("−$25.00 of the invoices is left unexplained by the request "
                                                      "logs (−2.5% of the invoice)")
    assert lines["movers"]["items"] == ["search: +$120.00 (+60%)"]


def test_a_thin_page_gives_its_own_sentence(pages: dict) -> None:
    thin = {"30_spend_forecast": {"headline": {"Forecast": "Forecasts need 28 days of history; this data has 12."},
                                  "budget_risk": []},
            "40_anomaly_review": {"headline": {"Anomalies": "Anomaly detection needs 14 days of history."},
                                  "alerts": []}}  # fmt: skip
    lines = {line["key"]: line["text"] for line in executive_summary(thin)}
    assert lines == {"forecast": "Forecasts need 28 days of history; this data has 12.",
                     "budgets": "No budgets: add config/budgets.csv to see which budgets will be exceeded.",
                     "anomalies": "Anomaly detection needs 14 days of history."}  # fmt: skip
