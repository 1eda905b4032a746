"""Reconcile estimated cost with invoices: the gap per provider x model x day (or month), and why.

The **estimate** is priced with the catalog from request logs (``basis="requests"``: gateway logs and
traces) or from usage feeds (``basis="usage"``: estimated ``costs`` rows); the **invoice** is the money rows of
the facts (:class:`finops_lib.facts.Facts`: invoiced first per provider and day, priced estimates where a
provider sends no invoice), so the invoiced total is the spend every page shows. The **gap** is
``invoiced - estimated``; its components add up to it exactly (Decimal arithmetic, 12 places):

``volume``
    Tokens the estimate did not see (traffic that bypasses the gateway) or saw in excess, at catalog price.
``rate``
    Invoice amount minus the catalog price of the invoice's own tokens (``amount / tokens`` against the
    catalog unit price): negotiated discounts, credits netted into the line, prices the catalog lacks.
``cache``
    Tokens the two sides put in different input buckets of one tier (cache reads counted as uncached
    input, 5-minute against 1-hour writes), at the price difference.
``tier``
    Tokens billed at another service or context tier than the estimate has (batch, priority, flex, long).
``capacity``
    Provisioned model capacity (Azure PTUs, Bedrock provisioned throughput, Vertex provisioned throughput: service
    tier ``provisioned``) billed by the hour whatever traffic it served: a known fixed cost no request estimate
    prices, never an unexplained gap.
``unpriced``
    The whole gap of lines whose model or bucket has no catalog price (estimates leave them out).
``unmatched_invoice``
    AI invoice lines with nothing to compare: no model or no token bucket (other than provisioned capacity), credits.
``unmatched_estimate``
    Estimated cost on a provider, model and day that the invoice does not have at all.
``non_ai``
    Charges of services that are not AI (compute, databases, networking) and carry no model: part of the spend,
    outside what any request log sees, so never an unexplained gap.

Rules
-----
* Lines match on ``ProviderName``, the canonical model (a family id is resolved to its dated snapshot
  through the catalog's aliases on that day), the UTC day, ``BillingCurrency``, service tier (null =
  standard), context tier and token bucket. ``accounts`` restricts invoices and usage feeds to some
  projects, workspaces or API keys (``SubAccountId``, ``SubAccountName`` or ``x_ApiKeyId``), e.g. the
  gateway's own, to isolate what the logs should cover; request logs are never filtered by it.
* The invoice's tokens are its own ``ConsumedQuantity``; invoices without quantities (OpenAI Costs API,
  Anthropic cost report) take those of the usage feed on the same line and account, except on partial
  usage buckets. When neither is known the tokens are *implied* from the catalog price (rate 0 by
  assumption; ``quantity_source`` says ``implied``).
* Within a model-day and direction (input, output), the net token difference is ``volume``, priced at
  the average catalog price of the side in excess; what only moves between buckets of a tier is
  ``cache`` and between tiers ``tier``. Matching tokens priced alike give 0 for all three.
* Currencies are never mixed: the facts convert costs and requests to their currency at each charge day's
  rate (or keep only the rows billed in it). Catalog prices in another currency are converted at the same
  day's rate. :attr:`Reconciliation.rates_used` lists every rate used, and for what.
* The engine prices and aggregates the rows into lines (one per key, account and deployment;
  :mod:`~finops_lib.reconcile.lines`); the decomposition (:mod:`~finops_lib.reconcile.components`) then runs in
  Python on those few lines, in :class:`~decimal.Decimal`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Literal

import ibis
import pandas as pd

from finops_lib import checks, fx
from finops_lib.errors import ParameterError
from finops_lib.facts import Facts
from finops_lib.pricing import book
from finops_lib.reconcile.components import COMPONENTS, MONEY_COLUMNS, UNEXPLAINED, ZERO, decompose
from finops_lib.reconcile.lines import in_scope, invoice_lines, match_lines, request_lines, usage_lines

Basis = Literal["requests", "usage"]
Granularity = Literal["day", "month", "total"]
BASES: tuple[str, ...] = ("requests", "usage")
GRANULARITIES: tuple[str, ...] = ("day", "month")
#: How :meth:`Reconciliation.summarize` shows invoice lines without a model (provisioned hours, fees).
NO_MODEL = "(no model)"

__all__ = ["BASES", "GRANULARITIES", "NO_MODEL", "Reconciliation", "check_parameters", "reconcile"]


# --- the result --------------------------------------------------------------------------------------


def _period(days: pd.Series, granularity: str) -> pd.Series:
    if granularity == "month":
        return days.map(lambda d: d.replace(day=1))
    return days if granularity == "day" else days.map(lambda _: None)


def _total(values: pd.Series) -> Decimal:
    return sum(values, ZERO)


def _pct(gap: Decimal, invoiced: Decimal) -> float | None:
    return float(gap / invoiced) if invoiced else None


@dataclass(frozen=True)
class Reconciliation:
    """The outcome of :func:`reconcile`.

    Attributes
    ----------
    lines
        One row per :data:`KEY` (provider, model, day, currency, tiers, bucket): the invoice's priced,
        unpriced and unmatched amounts, its tokens and their catalog cost, the estimate and its tokens.
    cells
        :func:`decompose` of the lines: one row per provider, model, day and currency.
    basis, accounts, currency
        What was compared: the estimate's source, the accounts the invoices were restricted to (empty =
        all traffic) and the reporting currency (None = billing currencies, never mixed).
    rates_used
        The FX rates used: to convert amounts to ``currency`` (``applied_to`` = ``amounts (rows)``) and catalog
        prices to the lines' currency (``catalog prices (days)``); empty when nothing was converted.
    catalog_version
        Fingerprint of the price catalog used.
    """

    lines: pd.DataFrame
    cells: pd.DataFrame
    basis: str = "requests"
    accounts: tuple[str, ...] = ()
    currency: str | None = None
    rates_used: pd.DataFrame = field(default_factory=pd.DataFrame)
    catalog_version: str = ""

    def summarize(
        self, granularity: Granularity = "day", by: Sequence[str] = ("ProviderName", "model")
    ) -> pd.DataFrame:
        """Return the cells summed per ``by``, currency and period (``day``, ``month`` start, or ``total``).

        Adds ``gap_pct`` (gap / invoiced, float; None without invoice), ``unexplained`` (the sum of
        :data:`UNEXPLAINED`) and ``token_coverage`` (estimated / invoice tokens, float).
        """
        keys = [*by, "BillingCurrency"] + ([] if granularity == "total" else ["period"])
        cells = self.cells.assign(period=_period(self.cells["day"], granularity),
                                  model=self.cells["model"].fillna(NO_MODEL))  # fmt: skip
        sums = [*MONEY_COLUMNS, "invoice_tokens", "estimated_tokens"]
        if cells.empty:
            return pd.DataFrame(columns=[*keys, *sums, "gap_pct", "unexplained", "token_coverage"])
        out = cells.groupby(keys, dropna=False, sort=True)[sums].agg(_total).reset_index()
        out["gap_pct"] = [_pct(g, i) for g, i in zip(out["gap"], out["invoiced"], strict=True)]
        out["unexplained"] = [sum(row, ZERO) for row in zip(*(out[c] for c in UNEXPLAINED), strict=True)]
        out["token_coverage"] = [
            float(e / i) if i else None for e, i in zip(out["estimated_tokens"], out["invoice_tokens"], strict=True)
        ]
        return out

    def unexplained(
        self, top: int = 10, granularity: Granularity = "day", *, at_least: Decimal | float = 0.01
    ) -> pd.DataFrame:
        """Return the ``top`` provider x model pairs with the largest unexplained gap (absolute), largest first.

        Money columns are the window's totals; ``periods`` counts the periods with an unexplained gap,
        ``worst_period`` and ``worst_unexplained`` name the largest of them, and ``cause`` the largest
        component of the pair's gap. Pairs whose unexplained total is below ``at_least`` (a cent by
        default: rounding of converted amounts) are left out.
        """
        s = self.summarize(granularity)
        s = s[s["unexplained"].map(bool).astype(bool)]
        keys = ["ProviderName", "model", "BillingCurrency"]
        if s.empty:
            return pd.DataFrame(columns=[*keys, *MONEY_COLUMNS, "unexplained", "periods", "worst_period",
                                         "worst_unexplained", "cause"])  # fmt: skip
        s = s.assign(_abs=[float(abs(u)) for u in s["unexplained"]])
        worst = s.loc[s.groupby(keys)["_abs"].idxmax(), [*keys, "period", "unexplained"]]
        worst = worst.rename(columns={"period": "worst_period", "unexplained": "worst_unexplained"})
        out = s.groupby(keys)[[*MONEY_COLUMNS, "unexplained"]].agg(_total).reset_index()
        out = out.merge(s.groupby(keys).size().rename("periods").reset_index(), on=keys).merge(worst, on=keys)
        out["cause"] = [max(COMPONENTS, key=lambda c, r=r: abs(r[c])) for r in out.to_dict("records")]
        out["_abs"] = [float(abs(u)) for u in out["unexplained"]]
        out = out[out["_abs"] >= float(at_least)]
        out = out.sort_values(["_abs", "ProviderName", "model"], ascending=[False, True, True], kind="stable")
        return out.head(top).drop(columns="_abs").reset_index(drop=True)

    def components(self, by: Sequence[str] = (), granularity: Granularity = "total") -> pd.DataFrame:
        """Return the gap's components per currency (``by``, period) as a long frame: ``component``, ``amount``.

        Also carries the ``estimated`` and ``invoiced`` totals each group starts and ends at (for waterfalls).
        """
        s = self.summarize(granularity, by=by)
        keys = [*by, "BillingCurrency", *([] if granularity == "total" else ["period"]), "estimated", "invoiced"]
        long = s.melt(id_vars=keys, value_vars=list(COMPONENTS), var_name="component", value_name="amount")
        return long.reset_index(drop=True)

    def total(self) -> dict[str, Decimal]:
        """Return the window's totals (:data:`MONEY_COLUMNS`, ``unexplained``); zeros when nothing matched.

        Raises
        ------
        ParameterError
            When the amounts are in several currencies (pass ``currency`` to :func:`reconcile`).
        """
        s = self.summarize("total", by=())
        if len(s) > 1:
            raise ParameterError(f"amounts in {sorted(s['BillingCurrency'])}: reconcile with currency= to total them")
        return {c: (s[c].iloc[0] if len(s) else ZERO) for c in (*MONEY_COLUMNS, "unexplained")}

    def within(self, start_date: dt.date | None = None, end_date: dt.date | None = None,
               providers: Sequence[str] = ()) -> Reconciliation:  # fmt: skip
        """Return the reconciliation of a window and providers, cut from this one (widgets: no new queries).

        Lines are matched per provider and day, so the cut equals :func:`reconcile` on facts of that window and
        those providers. ``rates_used`` stays the whole reconciliation's.

        Examples
        --------
        >>> lines = pd.DataFrame({"ProviderName": ["A", "B"], "day": [dt.date(2026, 6, 1), dt.date(2026, 6, 2)]})
        >>> Reconciliation(lines, lines).within(dt.date(2026, 6, 2)).cells["ProviderName"].tolist()
        ['B']
        >>> len(Reconciliation(lines, lines).within(providers=["A"]).lines)
        1
        """

        def cut(frame: pd.DataFrame) -> pd.DataFrame:
            keep = pd.Series(True, index=frame.index)
            if start_date is not None:
                keep &= frame["day"] >= start_date
            if end_date is not None:
                keep &= frame["day"] <= end_date
            if providers:
                keep &= frame["ProviderName"].isin(list(providers))
            return frame[keep].reset_index(drop=True)

        return replace(self, lines=cut(self.lines), cells=cut(self.cells))

    def date_range(self) -> tuple[dt.date | None, dt.date | None]:
        """Return the first and last day with an invoice or an estimate."""
        days = self.cells["day"]
        return (min(days), max(days)) if len(days) else (None, None)

    def as_results(self) -> dict[str, object]:
        """Return what was compared and the totals per provider as JSON-ready values (money as exact text)."""
        s = self.summarize("total", by=("ProviderName",))
        money = [*MONEY_COLUMNS, "unexplained"]
        rows = {f"{r['ProviderName']} {r['BillingCurrency']}": {c: format(r[c], "f") for c in money} for r in
                s.to_dict("records")}  # fmt: skip
        first, last = self.date_range()
        used = self.rates_used.astype(str).to_dict("records")
        return {"basis": self.basis, "accounts": list(self.accounts), "currency": self.currency, "by_provider": rows,
                "date_range": [str(first), str(last)] if first else None, "rates_used": used,
                "catalog_version": self.catalog_version}  # fmt: skip

    def unpriced(self) -> pd.DataFrame:
        """Return the models and buckets without a catalog price, with their tokens and invoiced amounts."""
        u = self.lines[self.lines["unpriced"]]
        keys = ["ProviderName", "model", "token_type", "service_tier", "context_tier", "BillingCurrency"]
        cols = ["inv_unpriced", "inv_unpriced_tokens", "est_unpriced_tokens", "inv_priced"]
        if u.empty:
            return pd.DataFrame(columns=[*keys, "invoiced", "invoice_tokens", "estimated_tokens", "days"])
        out = u.groupby(keys, dropna=False)[cols].agg(_total).reset_index()
        out["days"] = u.groupby(keys, dropna=False)["day"].nunique().to_numpy()
        out["invoiced"] = out["inv_unpriced"] + out["inv_priced"]
        out = out.rename(columns={"inv_unpriced_tokens": "invoice_tokens", "est_unpriced_tokens": "estimated_tokens"})
        return out[[*keys, "invoiced", "invoice_tokens", "estimated_tokens", "days"]]

    def agreement(self, tolerance: Decimal | float = 0.001, by: Sequence[str] = ("ProviderName",)) -> pd.DataFrame:
        """Return, per ``by`` and currency, how many days the estimate is within ``tolerance`` of the invoice.

        Days without invoice are not counted. ``max_abs_gap_pct`` is the worst day.
        """
        tolerance = Decimal(str(tolerance))
        s = self.summarize("day", by=by)
        s = s[s["invoiced"].map(bool).astype(bool)]
        s = s.assign(within=[abs(g) <= tolerance * abs(i) for g, i in zip(s["gap"], s["invoiced"], strict=True)],
                     abs_pct=[abs(p) for p in s["gap_pct"]])  # fmt: skip
        out = (
            s.groupby([*by, "BillingCurrency"])
            .agg(days=("period", "count"), within=("within", "sum"), max_abs_gap_pct=("abs_pct", "max"))
            .reset_index()
        )
        return out.assign(share_within=out["within"] / out["days"])


# --- entry points ----------------------------------------------------------------------------------------


def _catalog_rates(lines: pd.DataFrame, catalog: book.Catalog, rates: pd.DataFrame) -> list[pd.DataFrame]:
    """Return the rates that turned catalog prices into each line's currency (``rows_converted`` = days)."""
    out, priced = [], lines[(lines["inv_tokens"].map(bool) | lines["est_tokens"].map(bool)).astype(bool)]
    for currency, days in priced.groupby("BillingCurrency")["day"]:
        stamps = [dt.datetime.combine(d, dt.time(), dt.UTC) for d in sorted(set(days))]
        for source in sorted(catalog.currencies - {currency}):
            t = ibis.memtable(pd.DataFrame({"ChargePeriodStart": stamps, "BillingCurrency": source}))
            out.append(fx.to_currency(t, str(currency), rates=rates)[1].assign(applied_to="catalog prices (days)"))
    return out


def _rates_used(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=[*fx.FX_COLUMNS, "derivation", "exact", "applied_to", "rows_converted"])
    both = pd.concat(frames, ignore_index=True)
    keys = [c for c in both.columns if c != "rows_converted"]
    return both.groupby(keys, dropna=False, sort=True)["rows_converted"].sum().reset_index()


def reconcile(
    facts: Facts,
    *,
    catalog: book.Catalog | None = None,
    basis: Basis = "requests",
    accounts: Sequence[str] | None = None,
    cost_column: str = "BilledCost",
) -> Reconciliation:
    """Compare the estimate (request logs or usage feeds, priced with the catalog) with the invoices.

    Parameters
    ----------
    facts
        The facts: window, provider filter and currency (amounts converted at each charge day's rate; catalog
        prices in another currency converted at the same day's rate).
    catalog
        Price catalog; default the shipped one (:func:`finops_lib.pricing.load_catalog`).
    basis
        ``requests`` or ``usage``: where the estimate comes from.
    accounts
        Restrict invoices and usage feeds to these ``SubAccountId`` / ``SubAccountName`` / ``x_ApiKeyId``
        values (e.g. the gateway's project and workspace); default all traffic.
    cost_column
        The invoice's money column (``BilledCost``; ``EffectiveCost`` for amortized cost).

    Returns
    -------
    Reconciliation

    Raises
    ------
    ParameterError
        On an unknown basis, missing request logs or a missing FX rate.
    """
    checks.one_of("basis", basis, BASES)
    if basis == "requests" and not facts.has_requests:
        raise ParameterError("basis='requests' needs request logs (gateway or traces), and the warehouse has none")
    catalog = catalog if catalog is not None else book.load_catalog()
    rates = facts.rates
    used = [facts.rates_used().assign(applied_to="amounts (rows)")]
    scoped = in_scope(facts.cost_rows(), accounts)
    invoices = invoice_lines(scoped, catalog, rates, cost_column).to_pyarrow().to_pylist()
    if basis == "requests":
        rows = request_lines(facts.request_rows(), catalog, rates)
        used.append(facts.rates_used("requests").assign(applied_to="amounts (rows)"))
    else:
        rows = usage_lines(scoped, catalog, rates)
    lines = match_lines(invoices, rows.to_pyarrow().to_pylist())
    used += _catalog_rates(lines, catalog, rates)
    return Reconciliation(lines, decompose(lines), basis, tuple(accounts or ()), facts.currency,
                          _rates_used(used), catalog.version)  # fmt: skip


def check_parameters(
    facts: Facts,
    *,
    provider: str = "all",
    start_date: str | dt.date | None = None,
    end_date: str | dt.date | None = None,
    granularity: str = "day",
    basis: str = "requests",
) -> dict[str, object]:
    """Check the reconciliation notebook's parameters against the data; return them normalized.

    Parameters
    ----------
    facts
        The facts of the whole warehouse (the providers are looked up in them).
    provider, start_date, end_date, granularity, basis
        The notebook's parameters.

    Returns
    -------
    dict
        ``provider`` (as spelled in the data, or ``all``), ``start_date``, ``end_date`` (ISO text or None),
        ``granularity``, ``basis``.

    Raises
    ------
    ParameterError
        On an unknown provider, granularity or basis, a malformed date, or start after end.
    """
    provider = checks.match_name("provider", provider, facts.values("provider"), any_word="all")
    start, end = checks.window(start_date, end_date)
    return {"provider": provider, "start_date": start and start.isoformat(), "end_date": end and end.isoformat(),
            "granularity": checks.one_of("granularity", granularity, GRANULARITIES),
            "basis": checks.one_of("basis", basis, BASES)}
