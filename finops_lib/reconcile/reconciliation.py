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
``unpriced``
    The whole gap of lines whose model or bucket has no catalog price (estimates leave them out).
``unmatched_invoice``
    AI invoice lines with nothing to compare: no model, non-token charges (provisioned hours), credits.
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
* The engine prices and aggregates the rows into lines (one per key, account and deployment); the
  decomposition then runs in Python on those few lines, in :class:`~decimal.Decimal`.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Literal

import ibis
import ibis.expr.datatypes as dtypes
import pandas as pd

from finops_lib import fx
from finops_lib.errors import ParameterError
from finops_lib.facts import MONEY_SCOPES, Facts
from finops_lib.pricing import book
from finops_lib.pricing.estimate import BUCKET_COST_COLUMNS, MONEY, TOKENS, estimate_requests, price_costs
from finops_lib.schema import REQUEST_TOKEN_COLUMNS, TOKEN_BUCKETS

Basis = Literal["requests", "usage"]
Granularity = Literal["day", "month", "total"]
BASES: tuple[str, ...] = ("requests", "usage")
GRANULARITIES: tuple[str, ...] = ("day", "month")
COMPONENTS: tuple[str, ...] = ("volume", "rate", "cache", "tier", "unpriced", "unmatched_invoice",
                               "unmatched_estimate", "non_ai")  # fmt: skip
#: Components without a known mechanism behind them: what the ranked list of unexplained gaps sums.
UNEXPLAINED: tuple[str, ...] = ("rate", "unmatched_invoice", "unmatched_estimate")
KEY: tuple[str, ...] = ("ProviderName", "model", "day", "BillingCurrency", "service_tier", "context_tier",
                        "token_type")  # fmt: skip
GROUP: tuple[str, ...] = KEY[:4]
#: Money and token fields of one line (see :func:`decompose`).
LINE_FIELDS: tuple[str, ...] = ("inv_priced", "inv_catalog", "inv_tokens", "inv_unpriced", "inv_unpriced_tokens",
                                "inv_unmatched", "inv_non_ai", "est_cost", "est_tokens",
                                "est_unpriced_tokens")  # fmt: skip
AI_CATEGORY = "AI and Machine Learning"
#: How :meth:`Reconciliation.summarize` shows invoice lines without a model (provisioned hours, fees).
NO_MODEL = "(no model)"
ZERO = Decimal(0)
MILLION = Decimal(1_000_000)
_CENT_E12 = Decimal(1).scaleb(-12)
_TOKEN_Q = Decimal(1).scaleb(-6)
_INPUT = frozenset(TOKEN_BUCKETS) - {"output"}


# --- the engine side: lines from invoices, usage feeds and request logs ---------------------------


def _in_scope(t: ibis.Table, accounts: Sequence[str] | None) -> ibis.Table:
    if not accounts:
        return t
    cols = [t[c].isin(list(accounts)) for c in ("SubAccountId", "SubAccountName", "x_ApiKeyId") if c in t.columns]
    return t.filter(functools.reduce(operator.or_, cols).fill_null(False))


def _keyed(t: ibis.Table, catalog: book.Catalog, model: str, token_type: ibis.Value) -> ibis.Table:
    """Add the line key: ``day``, tiers (null = standard), ``token_type`` and the alias-resolved ``model``."""
    t = t.mutate(
        day=t.ChargePeriodStart.date(),
        token_type=token_type,
        service_tier=t.x_ServiceTier.fill_null("standard"),
        context_tier=t.x_ContextTier.fill_null("standard"),
    )
    a = catalog.table("aliases").rename("_a_{name}")
    j = t.left_join(a, [t.ProviderName == a._a_provider, t[model] == a._a_alias, t.day >= a._a_effective_from,
                        t.day < a._a_effective_to])  # fmt: skip
    return j.mutate(model=ibis.coalesce(j._a_model, j[model])).drop(*a.columns)


def _usage_rows(costs: ibis.Table) -> ibis.Table:
    return costs.filter((costs.x_CostBasis == "estimated") & costs.x_TokenType.isin(list(TOKEN_BUCKETS))
                        & costs.x_Model.notnull())  # fmt: skip


def _invoice_lines(costs: ibis.Table, catalog: book.Catalog, rates: pd.DataFrame, column: str) -> ibis.Table:
    """Billed lines per key, account and deployment, with their tokens and the catalog cost of those tokens.

    The billed side is every money row of the facts (invoiced first, estimates where a provider has no invoice), so
    its total is the spend every page shows; lines of non-AI services without a model are the ``non_ai`` component.
    """
    inv = costs.filter(costs.x_MoneyScope.isin(list(MONEY_SCOPES)))
    inv = _keyed(inv, catalog, "x_Model", inv.x_TokenType)
    sub = [*KEY, "account", "dep", "comparable", "ai"]
    inv = inv.mutate(account=inv.SubAccountId.fill_null(""), dep=inv.x_DeploymentType,
                     comparable=(inv.ChargeCategory == "Usage") & inv.model.notnull()
                     & inv.token_type.isin(list(TOKEN_BUCKETS)),
                     ai=((inv.ServiceCategory == AI_CATEGORY) | inv.model.notnull()).fill_null(False))  # fmt: skip
    inv = inv.group_by(sub).agg(amount=inv[column].cast(MONEY).sum(), qty=inv.ConsumedQuantity.cast(MONEY).sum(),
                                rows=inv.count(), counted=inv.ConsumedQuantity.count())  # fmt: skip
    inv = inv.mutate(siblings=inv.rows.count().over(ibis.window(group_by=[*KEY, "account"])))
    use = _keyed(_usage_rows(costs), catalog, "x_Model", costs.x_TokenType)
    use = use.mutate(
        account=use.SubAccountId.fill_null(""), partial=use.x_DataQualityFlags.fill_null("").contains("partial_bucket")
    )
    use = use.group_by([*KEY, "account"]).agg(u_qty=use.ConsumedQuantity.cast(MONEY).sum(), partial=use.partial.any())
    j = inv.left_join(use, [*KEY, "account"]).drop(*(f"{k}_right" for k in [*KEY, "account"]))
    own = ibis.ifelse(j.rows == j.counted, j.qty, ibis.null(MONEY))
    fed = ibis.ifelse(j.comparable & (j.siblings == 1) & ~j.partial.fill_null(True), j.u_qty, ibis.null(MONEY))
    j = j.mutate(
        qty=ibis.coalesce(own, fed),
        source=ibis.cases((own.notnull(), "invoice"), (fed.notnull(), "usage"), else_=ibis.null("string")),
    )
    blank = {c: ibis.null(MONEY) for c in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")}
    asked = j.select(*sub, "amount", "qty", "source", ChargePeriodStart=j.day.cast(dtypes.Timestamp(timezone="UTC")),
                     x_Model=j.model, x_TokenType=j.token_type,
                     x_ServiceTier=j.service_tier, x_ContextTier=j.context_tier, x_DeploymentType=j.dep,
                     x_CostBasis=ibis.literal("estimated"), ConsumedQuantity=ibis.coalesce(j.qty, MILLION),
                     PricingUnit=ibis.literal("1M Tokens"), ContractedUnitPrice=ibis.null(MONEY),
                     x_DataQualityFlags=ibis.literal(""), **blank)  # fmt: skip
    p = price_costs(asked, catalog, rates=rates)
    catalog_cost = ibis.ifelse(p.qty.notnull(), p.BilledCost, ibis.null(MONEY))
    return p.select(*sub, "amount", "qty", "source", catalog=catalog_cost, p1m=p.ContractedUnitPrice)


def _request_lines(requests: ibis.Table, catalog: book.Catalog, rates: pd.DataFrame) -> ibis.Table:
    """Sum the requests' priced and unpriced tokens and bucket costs per line key, one bucket at a time."""
    k = _keyed(estimate_requests(requests, catalog, rates=rates), catalog, "x_Model", ibis.literal(""))
    sums = {}
    for bucket, column in BUCKET_COST_COLUMNS.items():
        tokens, priced = k[REQUEST_TOKEN_COLUMNS[bucket]].cast(TOKENS).cast(MONEY), k[column].notnull()
        sums |= {f"c_{bucket}": k[column].sum(), f"t_{bucket}": ibis.ifelse(priced, tokens, 0).sum(),
                 f"u_{bucket}": ibis.ifelse(priced, 0, tokens).sum()}  # fmt: skip
    agg = k.group_by([c for c in KEY if c != "token_type"]).agg(**sums)
    parts = [agg.select(*KEY[:-1], token_type=ibis.literal(b), est_cost=agg[f"c_{b}"], est_tokens=agg[f"t_{b}"],
                        est_unpriced_tokens=agg[f"u_{b}"]) for b in BUCKET_COST_COLUMNS]  # fmt: skip
    union = ibis.union(*parts)
    return union.filter((union.est_tokens > 0) | (union.est_unpriced_tokens > 0))


def _usage_lines(costs: ibis.Table, catalog: book.Catalog, rates: pd.DataFrame) -> ibis.Table:
    p = price_costs(_usage_rows(costs), catalog, rates=rates)
    k = _keyed(p, catalog, "x_Model", p.x_TokenType)
    k = k.mutate(tokens=k.ConsumedQuantity.cast(MONEY), cost=k.BilledCost.cast(MONEY)).filter(lambda t: t.tokens > 0)
    priced = k.cost.notnull()
    return k.group_by(list(KEY)).agg(est_cost=k.cost.sum(), est_tokens=ibis.ifelse(priced, k.tokens, 0).sum(),
                                     est_unpriced_tokens=ibis.ifelse(priced, 0, k.tokens).sum())  # fmt: skip


# --- the exact side: lines in Python, decomposition ------------------------------------------------


def _dec(value: object) -> Decimal:
    return ZERO if value is None else Decimal(value)  # type: ignore[arg-type]


def _invoice_parts(r: dict) -> dict[str, object]:
    """Return the line fields one invoice sub-line contributes."""
    amount, qty, p1m = _dec(r["amount"]), r["qty"], r["p1m"]
    if not r["comparable"]:
        return {"inv_unmatched": amount} if r["ai"] else {"inv_non_ai": amount}
    if qty is not None and r["catalog"] is not None:
        return {"inv_priced": amount, "inv_tokens": qty, "inv_catalog": r["catalog"], "source": r["source"]}
    if qty is None and p1m is not None:
        tokens = (amount * MILLION / p1m).quantize(_TOKEN_Q, rounding=ROUND_HALF_EVEN)
        return {"inv_priced": amount, "inv_tokens": tokens, "inv_catalog": amount, "source": "implied"}
    return {"inv_unpriced": amount, "inv_unpriced_tokens": _dec(qty), "unpriced": True}


def _lines(invoices: Iterable[dict], estimates: Iterable[dict]) -> pd.DataFrame:
    acc: dict[tuple, dict] = defaultdict(lambda: {**dict.fromkeys(LINE_FIELDS, ZERO), "invoice_line": False,
                                                  "unpriced": False, "quantity_source": set()})  # fmt: skip
    for r in invoices:
        line = acc[tuple(r[k] for k in KEY)]
        for name, value in _invoice_parts(r).items():
            if name == "source":
                line["quantity_source"].add(value)
            elif name == "unpriced":
                line["unpriced"] = True
            else:
                line[name] += _dec(value)
        line["invoice_line"] |= bool(r["comparable"])
    for r in estimates:
        line = acc[tuple(r[k] for k in KEY)]
        for name in ("est_cost", "est_tokens", "est_unpriced_tokens"):
            line[name] += _dec(r[name])
        line["unpriced"] |= _dec(r["est_unpriced_tokens"]) > 0
    rows = [{**dict(zip(KEY, k, strict=True)), **v, "quantity_source": ",".join(sorted(v["quantity_source"]))}
            for k, v in acc.items()]  # fmt: skip
    return pd.DataFrame(rows, columns=[*KEY, *LINE_FIELDS, "invoice_line", "unpriced", "quantity_source"])


def net_effect(pairs: Iterable[tuple[Decimal, Decimal]]) -> Decimal:
    """Return the part of ``sum(value)`` due to the net token difference of ``(tokens, value)`` pairs.

    When every token difference has one sign, all of it; when they offset (tokens moved between lines),
    only the net tokens, priced at the average of the side in excess (rounded half-even to 12 places).

    Examples
    --------
    >>> net_effect([(Decimal(100), Decimal(5)), (Decimal(-100), Decimal(-50))])  # moved, none missing
    Decimal('0E-12')
    >>> net_effect([(Decimal(300), Decimal(30)), (Decimal(-100), Decimal(-50))])
    Decimal('20.000000000000')
    """
    pairs = list(pairs)
    pos = sum((d for d, _ in pairs if d > 0), ZERO)
    neg = -sum((d for d, _ in pairs if d < 0), ZERO)
    if pos == 0 or neg == 0:
        return sum((v for _, v in pairs), ZERO)
    side, excess = (pos, [v for d, v in pairs if d > 0]) if pos >= neg else (neg, [v for d, v in pairs if d < 0])
    with localcontext() as ctx:
        ctx.prec = 80
        return (sum(excess, ZERO) * abs(pos - neg) / side).quantize(_CENT_E12, rounding=ROUND_HALF_EVEN)


def _split(items: list[tuple[tuple, str, Decimal, Decimal]]) -> tuple[Decimal, Decimal, Decimal]:
    """Return (volume, cache, tier) of ``(tier key, bucket, tokens, value)`` items of one model-day."""
    volume = cache = tier = ZERO
    for direction in (_INPUT, frozenset({"output"})):
        tiers: dict[tuple, list[tuple[Decimal, Decimal]]] = defaultdict(list)
        for key, bucket, d, v in items:
            if bucket in direction:
                tiers[key].append((d, v))
        per_tier = []
        for pairs in tiers.values():
            net = net_effect(pairs)
            cache += sum((v for _, v in pairs), ZERO) - net
            per_tier.append((sum((d for d, _ in pairs), ZERO), net))
        net = net_effect(per_tier)
        tier += sum((v for _, v in per_tier), ZERO) - net
        volume += net
    return volume, cache, tier


def _group(lines: list[dict]) -> dict[str, object]:
    out: dict[str, object] = dict.fromkeys(COMPONENTS, ZERO)
    invoiced = sum((r["inv_priced"] + r["inv_unpriced"] + r["inv_unmatched"] + r["inv_non_ai"] for r in lines), ZERO)
    estimated = sum((r["est_cost"] for r in lines), ZERO)
    out["unmatched_invoice"] = sum((r["inv_unmatched"] for r in lines), ZERO)
    out["non_ai"] = sum((r["inv_non_ai"] for r in lines), ZERO)
    items = []
    matched = any(r["invoice_line"] for r in lines)
    if not matched:  # nothing to compare with: the estimate is unmatched (and so is any stray invoice money)
        out["unmatched_estimate"] = -estimated
        out["unmatched_invoice"] += sum((r["inv_priced"] + r["inv_unpriced"] for r in lines), ZERO)
    for r in lines if matched else ():
        out["unpriced"] += r["inv_unpriced"]
        if r["unpriced"]:
            out["unpriced"] += r["inv_priced"] - r["est_cost"]
            continue
        out["rate"] += r["inv_priced"] - r["inv_catalog"]
        items.append(((r["service_tier"], r["context_tier"]), r["token_type"], r["inv_tokens"] - r["est_tokens"],
                      r["inv_catalog"] - r["est_cost"]))  # fmt: skip
    out["volume"], out["cache"], out["tier"] = _split(items)
    sources = {s for r in lines for s in str(r["quantity_source"]).split(",") if s}
    return {**out, "invoiced": invoiced, "estimated": estimated, "gap": invoiced - estimated,
            "invoice_tokens": sum((r["inv_tokens"] + r["inv_unpriced_tokens"] for r in lines), ZERO),
            "estimated_tokens": sum((r["est_tokens"] + r["est_unpriced_tokens"] for r in lines), ZERO),
            "quantity_source": ",".join(sorted(sources))}  # fmt: skip


MONEY_COLUMNS: tuple[str, ...] = ("invoiced", "estimated", "gap", *COMPONENTS)
CELL_COLUMNS: tuple[str, ...] = (*GROUP, *MONEY_COLUMNS, "invoice_tokens", "estimated_tokens", "quantity_source")


def decompose(lines: pd.DataFrame) -> pd.DataFrame:
    """Return one row per provider, model, day and currency: invoiced, estimated, gap and its components.

    Parameters
    ----------
    lines
        One row per :data:`KEY` with the Decimal :data:`LINE_FIELDS`, ``invoice_line`` (the invoice has a
        comparable line), ``unpriced`` and ``quantity_source`` (as :attr:`Reconciliation.lines`).

    Returns
    -------
    pandas.DataFrame
        :data:`CELL_COLUMNS` (Decimal money); ``gap`` equals the sum of :data:`COMPONENTS` exactly.
    """
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in lines.to_dict("records"):
        groups[tuple(r[k] for k in GROUP)].append(r)
    rows = [{**dict(zip(GROUP, k, strict=True)), **_group(v)} for k, v in sorted(groups.items(), key=_sort_key)]
    return pd.DataFrame(rows, columns=list(CELL_COLUMNS))


def _sort_key(item: tuple) -> tuple:
    return tuple("" if v is None else str(v) for v in item[0])


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


def _as_day(name: str, value: str | dt.date | None) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ParameterError(f"{name} must be an ISO date (YYYY-MM-DD), got {value!r}") from None


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
    if basis not in BASES:
        raise ParameterError(f"basis must be one of {', '.join(BASES)}; got {basis!r}")
    if basis == "requests" and not facts.has_requests:
        raise ParameterError("basis='requests' needs request logs (gateway or traces), and the warehouse has none")
    catalog = catalog if catalog is not None else book.load_catalog()
    rates = facts.rates
    used = [facts.rates_used().assign(applied_to="amounts (rows)")]
    scoped = _in_scope(facts.cost_rows(), accounts)
    invoices = _invoice_lines(scoped, catalog, rates, cost_column).to_pyarrow().to_pylist()
    if basis == "requests":
        rows = _request_lines(facts.request_rows(), catalog, rates)
        used.append(facts.rates_used("requests").assign(applied_to="amounts (rows)"))
    else:
        rows = _usage_lines(scoped, catalog, rates)
    lines = _lines(invoices, rows.to_pyarrow().to_pylist())
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
    known = facts.values("provider")
    match = [p for p in known if p.lower() == (provider or "all").strip().lower()]
    if (provider or "all").strip().lower() != "all" and not match:
        raise ParameterError(f"unknown provider {provider!r}; the data has {', '.join(known) or 'none'} (or all)")
    if granularity not in GRANULARITIES:
        raise ParameterError(f"granularity must be one of {', '.join(GRANULARITIES)}; got {granularity!r}")
    if basis not in BASES:
        raise ParameterError(f"basis must be one of {', '.join(BASES)}; got {basis!r}")
    start, end = _as_day("start_date", start_date), _as_day("end_date", end_date)
    if start and end and start > end:
        raise ParameterError(f"start_date {start} is after end_date {end}")
    return {"provider": match[0] if match else "all", "start_date": start and start.isoformat(),
            "end_date": end and end.isoformat(), "granularity": granularity, "basis": basis}  # fmt: skip
