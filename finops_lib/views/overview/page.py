"""The data overview page (``00_data_overview``): its parameters, its facts, its tables and its ``results.json``."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from ibis.backends import BaseBackend

from finops_lib import checks
from finops_lib.facts import DIMENSIONS, SCOPE_MEANINGS, Facts, open_facts
from finops_lib.rules import resolve_rules
from finops_lib.views.theme import fmt_money

__all__ = ["GROUP_BY", "MATERIAL_PCT", "MATERIAL_SHARE", "check_parameters", "findings", "load", "period_change",
           "results", "scope_table", "spend_totals", "top_movers"]

#: A mover is material when its spend changed by at least this fraction of its previous window ...
MATERIAL_PCT = 0.10
#: ... and by at least this share of the whole spend of the current window.
MATERIAL_SHARE = 0.01

#: Dimensions the page can group spend and tokens by.
GROUP_BY: tuple[str, ...] = ("provider", "model", "team", "application", "environment", "service_tier",
                             "token_type", "sub_account", "api_key", "service", "source_format")  # fmt: skip


def check_parameters(facts: Facts, *, group_by: str, provider: str = "all", start_date: str | None = None,
                     end_date: str | None = None, top_n: int = 8, movers_window_days: int = 7) -> dict[str, Any]:
    """Check the page's parameters against the data; return them normalized.

    Providers match case-insensitively and come back spelled as in the data.

    Parameters
    ----------
    facts
        The facts of the whole warehouse (the providers are looked up in them).
    group_by, provider, start_date, end_date, top_n, movers_window_days
        The notebook parameters of the same names.

    Returns
    -------
    dict
        ``start_date``/``end_date`` (ISO text or None), ``provider``, ``group_by``, ``currency``, ``top_n``,
        ``movers_window_days``: the filters as applied.

    Raises
    ------
    ParameterError
        On an unknown ``group_by`` or ``provider``, a malformed date, a start after the end, or a non-positive
        ``top_n``/``movers_window_days``.
    """
    checks.one_of("group_by", group_by, GROUP_BY)
    first, last = checks.window(start_date, end_date)
    return {"start_date": first and first.isoformat(), "end_date": last and last.isoformat(),
            "provider": checks.match_name("provider", provider, facts.values("provider")), "group_by": group_by,
            "currency": facts.currency, "top_n": checks.positive_int("top_n", top_n),
            "movers_window_days": checks.positive_int("movers_window_days", movers_window_days)}  # fmt: skip


def load(con: BaseBackend, *, data_dir: str | None = None, rules_file: str = "",
         currency: str = "USD", convert_currency: bool = True,
         **parameters: Any) -> tuple[Facts, dict[str, Any]]:  # fmt: skip
    """Return the page's facts (window and provider applied) and its checked parameters.

    Owners come from the data folder's allocation rules (``config/allocation_rules.yaml``), as on every page.

    Parameters
    ----------
    con
        The warehouse (:func:`finops_lib.warehouse.open_data`).
    data_dir
        The data folder (its rules file); None for the committed sample.
    currency, convert_currency
        The money's currency; convert other billing currencies at the charge day's rate, else show only the rows
        billed in ``currency``.
    **parameters
        ``group_by``, ``provider``, ``start_date``, ``end_date``, ``top_n``, ``movers_window_days``
        (:func:`check_parameters`).
    """
    everything = open_facts(con, currency=checks.currency_code(currency), rules=resolve_rules(rules_file, data_dir),
                            convert=convert_currency)  # fmt: skip
    everything = everything.explore()  # the page asks many questions of the same rows: scope them once
    filters = check_parameters(everything, **parameters)
    facts = everything.with_options(start_date=filters["start_date"], end_date=filters["end_date"],
                                    filters={"provider": filters["provider"]})  # fmt: skip
    return facts, filters


def spend_totals(facts: Facts, *, by: str, top: int = 8) -> pd.DataFrame:
    """Return the exact spend and share per group of ``by``, largest first, the groups beyond ``top`` as ``Other``.

    Returns
    -------
    pandas.DataFrame
        ``<by>``, ``cost`` (Decimal in the facts' currency), ``share`` (float), ``Other`` last.
    """
    totals = facts.aggregate("cost", by=[by])
    totals = totals.assign(_order=totals["cost"].map(float)).sort_values(["_order", by], ascending=[False, True])
    if len(totals) > top:
        rest = totals.iloc[top:]
        other = pd.DataFrame({by: ["Other"], "cost": [sum(rest["cost"], Decimal(0))], "_order": [0.0]})
        totals = pd.concat([totals.iloc[:top], other], ignore_index=True)
    grand = sum(totals["cost"], Decimal(0))
    totals["share"] = [float(c / grand) if grand else 0.0 for c in totals["cost"]]
    return totals.drop(columns="_order").reset_index(drop=True)


def top_movers(daily: pd.DataFrame, *, by: str, window_days: int = 7, end_date: str | None = None,
               top: int = 10, material: bool = False) -> pd.DataFrame:  # fmt: skip
    """Return the groups whose spend changed most between the last ``window_days`` and the window before.

    Parameters
    ----------
    daily
        Daily spend per group: ``day``, ``<by>``, ``cost`` (a :meth:`finops_lib.facts.Facts.series`).
    by
        The group column.
    window_days
        Days in each window.
    end_date
        Last day of the current window; default the last day of ``daily``.
    top
        Rows kept.
    material
        Keep only material moves: at least :data:`MATERIAL_PCT` of the group's previous spend (or new spend) and
        at least :data:`MATERIAL_SHARE` of the whole current window's spend.

    Returns
    -------
    pandas.DataFrame
        ``<by>``, ``previous``, ``current``, ``change``, ``change_pct`` (a fraction: 0.25 is +25 %; NaN when the
        previous window had no spend), sorted by absolute change, ``top`` rows.

    Examples
    --------
    >>> days = pd.to_datetime(["2026-06-01", "2026-06-02", "2026-06-01", "2026-06-02"])
    >>> daily = pd.DataFrame({"day": days, "team": ["a", "a", "b", "b"], "cost": [1.0, 3.0, 2.0, 2.0]})
    >>> top_movers(daily, by="team", window_days=1)
      team  previous  current  change  change_pct
    0    a       1.0      3.0     2.0         2.0
    1    b       2.0      2.0     0.0         0.0
    """
    empty = pd.DataFrame(columns=[by, "previous", "current", "change", "change_pct"])
    if daily.empty:
        return empty
    last = pd.Timestamp(end_date) if end_date else daily["day"].max()
    current_start = last - timedelta(days=window_days - 1)
    previous_start = current_start - timedelta(days=window_days)
    part = daily[(daily["day"] >= previous_start) & (daily["day"] <= last)]
    window = part["day"].map(lambda d: "current" if d >= current_start else "previous")
    wide = part.assign(window=window).pivot_table(index=by, columns="window", values="cost", aggfunc="sum",
                                                  fill_value=0.0)  # fmt: skip
    wide = wide.reindex(columns=["previous", "current"], fill_value=0.0).astype(float)
    wide["change"] = wide["current"] - wide["previous"]
    wide["change_pct"] = wide["change"] / wide["previous"].where(wide["previous"] > 0)
    if material:
        pct = wide["change_pct"].abs().fillna(float("inf"))
        wide = wide[(pct >= MATERIAL_PCT) & (wide["change"].abs() >= MATERIAL_SHARE * wide["current"].sum())]
    order = wide["change"].abs().sort_values(ascending=False, kind="stable").index
    return wide.reindex(order).head(top).reset_index().rename_axis(columns=None)


def period_change(facts: Facts, *, days: int = 30) -> dict[str, Any]:
    """Return the spend of the last ``days`` days of the window and of the ``days`` before (exact, Decimal).

    Returns
    -------
    dict
        ``days``, ``current``, ``previous`` (None when the data does not reach back two periods), ``change_pct``
        (None without a previous period or when it had no spend), ``start``/``end`` of the current period.
    """
    daily = facts.aggregate("cost", by=["day"])
    if daily.empty:
        return {"days": days, "current": Decimal(0), "previous": None, "change_pct": None, "start": None, "end": None}
    day = pd.to_datetime(daily["day"])
    last = day.max()
    start = last - timedelta(days=days - 1)
    current = sum(daily.loc[day >= start, "cost"], Decimal(0))
    previous = None
    if day.min() <= start - timedelta(days=days):
        previous = sum(daily.loc[(day < start) & (day >= start - timedelta(days=days)), "cost"], Decimal(0))
    pct = float(current / previous - 1) if previous else None
    return {"days": days, "current": current, "previous": previous, "change_pct": pct, "start": start.date(),
            "end": last.date()}


def findings(facts: Facts, *, by: str, window_days: int = 7, days: int = 30, unloaded: int = 0,
             unpriced: int = 0, period: dict[str, Any] | None = None,
             movers: pd.DataFrame | None = None) -> str:  # fmt: skip
    """Return the page's answer: spend, its window and move, material movers, what is missing from the total.

    The last ``days`` are compared with the ones before; movers of ``by`` over the last ``window_days``.
    ``period`` (:func:`period_change`) and ``movers`` (material :func:`top_movers`) are computed when not given.
    """
    currency, total = facts.currency, facts.total("cost")
    first, last = facts.date_range("money")
    if first is None:
        return "No spend is loaded for this window: the data holds no invoice, cost or usage export with money."
    span = (last - first).days + 1
    converted = [c for c in facts.currency_totals()["billing_currency"] if c != currency]
    parts = [f"Spend is {fmt_money(total, currency)} from {first} to {last} ({span} day{'s' if span > 1 else ''})"
             + (f", {', '.join(converted)} converted to {currency} at each charge day's rate." if converted else ".")]
    period = period or period_change(facts, days=days)
    if period["previous"] is None:
        parts.append(f"The last {days} days: {fmt_money(period['current'], currency)} (the data does not reach "
                     f"back {2 * days} days, so there is no earlier period to compare with).")  # fmt: skip
    elif period["change_pct"] is None:
        parts.append(f"The last {days} days: {fmt_money(period['current'], currency)}, against no spend before.")
    else:
        parts.append(f"The last {days} days: {fmt_money(period['current'], currency)}, {period['change_pct']:+.1%} "
                     f"against the {days} days before ({fmt_money(period['previous'], currency)}).")
    if movers is None:
        movers = top_movers(facts.series("cost", by=by), by=by, window_days=window_days, top=3, material=True)
    if len(movers):
        moved = [f"{row[by]} {'+' if row['change'] >= 0 else ''}{fmt_money(row['change'], currency)} "
                 + (f"({row['change_pct']:+.0%})" if pd.notna(row["change_pct"]) else "(new)")
                 for _, row in movers.head(3).iterrows()]  # fmt: skip
        parts.append(f"Material movers by {by} over the last {window_days} days: {'; '.join(moved)}.")
    else:
        parts.append(f"No {by} moved materially over the last {window_days} days (at least {MATERIAL_PCT:.0%} and "
                     f"{MATERIAL_SHARE:.0%} of spend).")
    if unpriced:
        parts.append(f"{unpriced} model and token-bucket combination(s) have tokens but no price: that usage is in "
                     "no total (listed under Data quality).")
    if unloaded:
        parts.append(f"{unloaded} file(s) of the folder are not loaded: their money is missing (see below).")
    return " ".join(parts)


def scope_table(facts: Facts) -> pd.DataFrame:
    """Return how the total is made: per provider, the money of each scope (invoiced, estimated, left out).

    Returns
    -------
    pandas.DataFrame
        ``provider``, ``scope`` (``invoiced``, ``estimated``, ``superseded``, ``unpriced``), ``counted`` (bool),
        ``rows``, ``cost`` (Decimal; None where the rows have no price), ``tokens`` and ``meaning``.
    """
    out = facts.scope_summary().rename(columns={"money_scope": "scope"})
    out["counted"] = out["scope"].isin(["invoiced", "estimated"])
    out["meaning"] = out["scope"].map(SCOPE_MEANINGS).fillna("")
    return out[["provider", "scope", "counted", "rows", "cost", "tokens", "meaning"]]


def unloaded_headline(unloaded: pd.DataFrame) -> str:
    """Return one sentence on the files of the folder in no figure (:func:`~finops_lib.warehouse.skipped_files`).

    Examples
    --------
    >>> unloaded_headline(pd.DataFrame(columns=["file", "status", "bytes", "reason"]))
    'Every file of the data folder is loaded.'
    >>> print(unloaded_headline(pd.DataFrame({"file": ["a.csv", "b.json"], "status": ["skipped", "failed"],
    ...                                       "bytes": [2_500_000, 1_000], "reason": ["", ""]})))
    ... # doctest: +NORMALIZE_WHITESPACE
    2 files of the data folder (2.5 MB) are in no figure on these pages: 1 skipped (no format recognises it),
    1 failed to load. Their money is missing until they are loaded.
    """
    if unloaded.empty:
        return "Every file of the data folder is loaded."
    counts = unloaded["status"].value_counts()
    parts = [f"{counts['skipped']} skipped (no format recognises it)" if "skipped" in counts else "",
             f"{counts['failed']} failed to load" if "failed" in counts else ""]
    size = float(unloaded["bytes"].sum())
    shown = f"{size / 1e6:,.1f} MB" if size >= 100_000 else f"{size / 1e3:,.1f} kB"
    return (f"{len(unloaded)} file{'s' if len(unloaded) > 1 else ''} of the data folder ({shown}) "
            f"{'are' if len(unloaded) > 1 else 'is'} in no figure on these pages: {', '.join(p for p in parts if p)}. "
            "Their money is missing until they are loaded.")


def results(facts: Facts, *, filters: dict[str, Any], sources: pd.DataFrame, unpriced: pd.DataFrame,
            groups: pd.DataFrame, unloaded: pd.DataFrame | None = None) -> dict[str, Any]:  # fmt: skip
    """Return the page's ``results.json``: the headline of the report index and values for automated checks.

    Parameters
    ----------
    facts
        The page's facts.
    filters
        :func:`check_parameters`.
    sources
        :func:`finops_lib.warehouse.sources` (one row per format and table).
    unpriced
        :func:`finops_lib.facts.unpriced_models`.
    groups
        :func:`spend_totals` by the page's ``group_by``.
    unloaded
        :func:`finops_lib.warehouse.skipped_files` of the data folder (None: not looked at).
    """
    currency = facts.currency
    unloaded = unloaded if unloaded is not None else pd.DataFrame(columns=["file", "status", "bytes", "reason"])
    total = facts.total("cost")
    per_format = sources.drop_duplicates("source")
    models = facts.aggregate("cost", by=["model"])
    models = models[models["model"] != DIMENSIONS["model"].missing]  # a model, not the charges without one
    models = models.assign(_order=models["cost"].map(float)).sort_values(["_order", "model"], ascending=[False, True])
    first, last = facts.date_range("money")
    billed = facts.currency_totals()
    by, window = filters["group_by"], filters["movers_window_days"]
    period = period_change(facts)
    movers = top_movers(facts.series("cost", by=by), by=by, window_days=window, top=5, material=True)
    return {
        "headline": {f"Spend ({currency})": fmt_money(total, currency),
                     **_period_headline(period, currency),
                     "Sources loaded": str(len(per_format)),
                     "Rows rejected": f"{int(per_format['rows_rejected'].sum()):,}",
                     "Top model": str(models["model"].iloc[0]) if len(models) else "none",
                     **({"Files not loaded": f"{len(unloaded):,}"} if len(unloaded) else {})},
        "findings": findings(facts, by=by, window_days=window, unloaded=len(unloaded), unpriced=len(unpriced),
                             period=period, movers=movers),
        "period": {k: (str(v) if v is not None else None) for k, v in period.items()},
        "movers": _movers(movers, by=by, window_days=window),
        "files_not_loaded": unloaded[["file", "status", "bytes", "reason"]].to_dict("records"),
        "date_range": [str(first), str(last)] if first else None,
        "total_spend": {currency: str(total)},
        "billed": {row.billing_currency: str(row.billed) for row in billed.itertuples()},
        "unpriced": unpriced[["table", "provider", "model", "bucket", "tokens"]].to_dict("records"),
        **{key: int(per_format[key].sum()) for key in ("rows_read", "rows_loaded", "rows_rejected")},
        "group_by": filters["group_by"], "groups": groups[filters["group_by"]].tolist(), "filters": filters,
        "facts": facts.describe(),
    }  # fmt: skip


def _period_headline(period: dict[str, Any], currency: str) -> dict[str, str]:
    if period["change_pct"] is None:
        return {}
    return {f"Last {period['days']} days vs previous": f"{fmt_money(period['current'], currency)} "
            f"({period['change_pct']:+.1%})"}  # fmt: skip


def _movers(found: pd.DataFrame, *, by: str, window_days: int) -> dict[str, Any]:
    """Return the material movers of ``by`` as text for ``results.json`` (the report's summary reads them)."""
    rows = [{"name": str(row[by]), "previous": f"{row['previous']:.2f}", "current": f"{row['current']:.2f}",
             "change": f"{row['change']:.2f}", "change_pct": None if pd.isna(row["change_pct"]) else
             f"{row['change_pct']:.4f}"} for _, row in found.iterrows()]  # fmt: skip
    return {"by": by, "window_days": window_days, "rows": rows}
