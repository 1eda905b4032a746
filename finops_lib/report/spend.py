"""The report index's first line: the spend of the period, read through the facts layer like every page."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from finops_lib.errors import FinopsError
from finops_lib.facts import open_facts
from finops_lib.fx import fmt_money
from finops_lib.rules import resolve_rules
from finops_lib.warehouse import open_data

__all__ = ["period_spend"]


def period_spend(data_dir: Path | None, parameters: Mapping[str, Any]) -> dict[str, str]:
    """Return the spend of the report's data and shared parameters (currency, window, provider).

    The same facts as every page: money rows invoiced first, in ``currency`` at each charge day's rate, owners from
    the data folder's rules. A data folder the facts cannot read gives ``error`` instead of a figure.

    Returns
    -------
    dict
        ``currency``, ``total`` (exact text), ``text`` (``$65,871.26``), ``start`` and ``end`` (ISO days), or
        ``error``.
    """
    currency = str(parameters.get("currency") or "USD")
    try:
        con = open_data(data_dir, warehouse=parameters.get("warehouse") or None)
    except FinopsError as exc:
        return {"error": str(exc)}
    try:
        facts = open_facts(con, currency=currency, rules=resolve_rules("", data_dir),
                           start_date=parameters.get("start_date") or None, end_date=parameters.get("end_date") or None,
                           filters={"provider": parameters.get("provider") or "all"})  # fmt: skip
        total = facts.total("cost")
        first, last = facts.date_range("money")
    except FinopsError as exc:
        return {"error": str(exc)}
    finally:
        con.disconnect()
    return {"currency": currency, "total": str(total), "text": fmt_money(total, currency),
            "start": str(first or ""), "end": str(last or "")}  # fmt: skip
