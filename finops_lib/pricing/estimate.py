"""Price tokens over ibis tables: requests, estimated ``costs`` rows, unpriced listing, re-pricing diff.

Everything runs in the engine (joins against the catalog as small in-memory tables); no data goes
through pandas. The rules:

* The price is the one effective on the UTC day of ``ChargePeriodStart`` (``effective_from`` <= day
  < ``effective_to``); a family id is first resolved through the alias table for that day.
* Buckets are disjoint and each is priced once at its own rate: uncached input, cache reads, 5-minute
  and 1-hour cache writes, output. Reasoning tokens are inside output and are not priced again.
* Service tier: ``x_ServiceTier`` (null = standard) selects the batch / priority / flex rates.
* Deployment: a catalog row for the row's ``x_DeploymentType`` wins over the generic row (deployment
  empty), as a whole: prices are never mixed between the two.
* Long context (requests): when the model has long-context prices and the request's prompt
  (uncached + cache read + cache writes) exceeds the threshold, the whole request, output included,
  is priced at the long rates. ``costs`` rows are aggregates, so their ``x_ContextTier`` (null =
  standard) is used as the source states it.
* A bucket with tokens but no price is *unpriced*: its cost stays NULL (never 0), the row is flagged
  ``unpriced`` and the request's ``x_EstimatedCost`` is NULL, so money totals leave it out. A bucket
  with 0 tokens costs exactly 0 whether or not it has a price.
* Money is exact: ``tokens (DECIMAL(38,0)) x price per token (DECIMAL(38,18))`` is exact and is cast to
  DECIMAL(38,12) per bucket (DuckDB rounds half away from zero; no rounding happens at all while the
  price per 1M has at most 6 decimal places). A request's cost is the sum of its rounded bucket costs.
* Costs come out in the catalog's currency; when that differs from the row's ``BillingCurrency`` they
  are converted with :mod:`finops_lib.fx` at the row's day rate (``rates=`` required, else an error).
"""

from __future__ import annotations

import functools

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from finops_lib import fx
from finops_lib.errors import ParameterError
from finops_lib.pricing import book
from finops_lib.schema import REQUEST_TOKEN_COLUMNS, TOKEN_BUCKETS

MONEY = dt.Decimal(38, 12)
TOKENS = dt.Decimal(38, 0)
#: Per-bucket estimate columns added to requests (detail; not part of the stored ``requests`` table).
BUCKET_COST_COLUMNS: dict[str, str] = {
    "input_uncached": "x_CostInputUncached",
    "input_cache_read": "x_CostInputCacheRead",
    "input_cache_write_5m": "x_CostInputCacheWrite5m",
    "input_cache_write_1h": "x_CostInputCacheWrite1h",
    "output": "x_CostOutput",
}
#: Every detail column :func:`estimate_requests` adds besides the schema's own columns.
DETAIL_COLUMNS: tuple[str, ...] = (
    *BUCKET_COST_COLUMNS.values(), "x_PriceModel", "x_PriceCurrency", "x_PromptTokens", "x_UnpricedTokens",
    "x_UnpricedBuckets",
)  # fmt: skip
UNPRICED = "unpriced"


@functools.cache
def _shipped() -> book.Catalog:
    return book.load_catalog()


def _catalog(catalog: book.Catalog | None) -> book.Catalog:
    return catalog if catalog is not None else _shipped()


def _optional(t: ibis.Table, name: str, default: object, dtype: dt.DataType) -> ibis.Value:
    return t[name].cast(dtype) if name in t.columns else ibis.literal(default, dtype)


def _flags(t: ibis.Table) -> ibis.StringValue:
    return _optional(t, "x_DataQualityFlags", "", dt.string).fill_null("")


def set_flag(flags: ibis.StringValue, flag: str, on: ibis.BooleanValue) -> ibis.StringValue:
    """Return ``flags`` (sorted, comma-separated) with ``flag`` present where ``on`` is true, absent elsewhere."""
    rest = flags.split(",").filter(lambda f: (f != "") & (f != flag))
    with_flag = rest.concat(ibis.array([flag])).sort().join(",")
    return ibis.ifelse(on, with_flag, rest.sort().join(","))


def _base(t: ibis.Table) -> ibis.Table:
    return t.mutate(
        _day=t.ChargePeriodStart.date(),
        _tier=_optional(t, "x_ServiceTier", None, dt.string).fill_null("standard"),
        _dep=_optional(t, "x_DeploymentType", None, dt.string).fill_null(""),
    )


def _with_model(t: ibis.Table, catalog: book.Catalog) -> ibis.Table:
    """Add ``_model``: the alias target for the row's provider, model and day, else ``x_Model``."""
    a = catalog.table("aliases").rename("_a_{name}")
    j = t.left_join(a, [t.ProviderName == a._a_provider, t.x_Model == a._a_alias, t._day >= a._a_effective_from,
                        t._day < a._a_effective_to])  # fmt: skip
    return j.mutate(_model=ibis.coalesce(j._a_model, j.x_Model)).drop(*a.columns)


def _price_join(t: ibis.Table, prices: ibis.Table, extra: list[tuple[str, str]]) -> ibis.Table:
    """Left-join the deployment-specific (``_w_``) and generic (``_g_``) catalog rows of each row."""
    out = t
    for prefix in ("_w_", "_g_"):
        p = prices.rename(prefix + "{name}")
        cond = [out.ProviderName == p[prefix + "provider"], out._model == p[prefix + "model"],
                out._tier == p[prefix + "service_tier"], out._ctx == p[prefix + "context_tier"],
                out._day >= p[prefix + "effective_from"], out._day < p[prefix + "effective_to"]]  # fmt: skip
        cond += [out[mine] == p[prefix + theirs] for mine, theirs in extra]
        cond.append(p[prefix + "deployment"] == ("" if prefix == "_g_" else out._dep))
        if prefix == "_w_":
            cond.append(out._dep != "")
        out = out.left_join(p, cond)
    return out


def _pick(t: ibis.Table, name: str) -> ibis.Value:
    """Return the deployment-specific catalog value when that row matched, else the generic one."""
    return ibis.ifelse(t._w_effective_from.notnull(), t["_w_" + name], t["_g_" + name])


def _cost(tokens: ibis.Value, price: ibis.Value) -> ibis.Value:
    """Exact cost of ``tokens`` at a price per token: 0 for no tokens, NULL when unpriced."""
    exact = (tokens.cast(TOKENS) * price).cast(MONEY)
    return ibis.cases((tokens == 0, ibis.literal(0).cast(MONEY)), (price.isnull(), ibis.null(MONEY)), else_=exact)


def _convert(
    t: ibis.Table, columns: list[str], rates: pd.DataFrame | None, catalog: book.Catalog, source: ibis.Table
) -> ibis.Table:
    """Convert ``columns`` from ``x_PriceCurrency`` to ``BillingCurrency`` where they differ.

    When the catalog has one currency and every row of ``source`` is billed in it, nothing can differ
    and no query over the priced rows is needed.
    """
    if len(catalog.currencies) == 1 and set(fx.currencies(source)) <= catalog.currencies:
        return t
    mismatch = t.filter(t.x_PriceCurrency.notnull() & (t.x_PriceCurrency != t.BillingCurrency))
    pairs = mismatch.select("x_PriceCurrency", "BillingCurrency").distinct().limit(5).to_pandas()
    if pairs.empty:
        return t
    if rates is None:
        shown = ", ".join(f"{a}->{b}" for a, b in pairs.itertuples(index=False))
        raise ParameterError(f"catalog prices are in another currency than BillingCurrency ({shown}): pass "
                             "rates=finops_lib.fx.load_rates(...) to convert them")  # fmt: skip
    return fx.convert_columns(t, columns, rates=rates, source="x_PriceCurrency", target="BillingCurrency")


def _context(t: ibis.Table, catalog: book.Catalog) -> ibis.Table:
    """Add ``x_PromptTokens`` and ``_ctx``: long when the prompt exceeds the model's long-context threshold."""
    inputs = [t[REQUEST_TOKEN_COLUMNS[b]].fill_null(0) for b in TOKEN_BUCKETS if b != "output"]
    prompt = inputs[0] + inputs[1] + inputs[2] + inputs[3]
    th = catalog.table("thresholds").rename("_t_{name}")
    m = t.mutate(x_PromptTokens=prompt)
    j = m.left_join(th, [m.ProviderName == th._t_provider, m._model == th._t_model, m._day >= th._t_effective_from,
                         m._day < th._t_effective_to])  # fmt: skip
    known = ibis.ifelse(j.x_PromptTokens > j._t_context_threshold, "long", "standard")
    given = _optional(j, "x_ContextTier", None, dt.string).fill_null("standard")
    return j.mutate(_ctx=ibis.ifelse(j._t_context_threshold.notnull(), known, given)).drop(*th.columns)


def _request_costs(j: ibis.Table) -> ibis.Table:
    costs, unpriced, names = {}, [], []
    for bucket, column in BUCKET_COST_COLUMNS.items():
        tokens = j[REQUEST_TOKEN_COLUMNS[bucket]].fill_null(0)
        price = _pick(j, "p_" + bucket)
        costs[column] = _cost(tokens, price)
        missing = (tokens > 0) & price.isnull()
        unpriced.append(ibis.ifelse(missing, tokens, 0))
        names.append(ibis.ifelse(missing, bucket, ""))
    unpriced_tokens = unpriced[0] + unpriced[1] + unpriced[2] + unpriced[3] + unpriced[4]
    listed = ibis.array(names).filter(lambda n: n != "").join(",")
    return j.mutate(**costs, x_PriceModel=j._model, x_PriceCurrency=_pick(j, "currency"),
                    x_UnpricedTokens=unpriced_tokens, x_UnpricedBuckets=listed)  # fmt: skip


def estimate_requests(
    requests: ibis.Table, catalog: book.Catalog | None = None, *, rates: pd.DataFrame | None = None, detail: bool = True
) -> ibis.Table:
    """Estimate the cost of every request from its token buckets and the catalog.

    Parameters
    ----------
    requests
        A ``requests`` table (``ChargePeriodStart``, ``ProviderName``, ``x_Model``, the five token
        columns, ``BillingCurrency``; ``x_ServiceTier``, ``x_ContextTier``, ``x_DeploymentType``,
        ``x_DataQualityFlags`` used when present).
    catalog
        Default: :func:`finops_lib.pricing.book.load_catalog` (the shipped catalog).
    rates
        FX rates (:func:`finops_lib.fx.load_rates`), needed only when catalog and billing currencies differ.
    detail
        Add :data:`DETAIL_COLUMNS` (per-bucket costs, resolved model, prompt size, unpriced tokens).

    Returns
    -------
    ibis.Table
        The requests with ``x_EstimatedCost`` (NULL when any bucket with tokens is unpriced),
        ``x_ContextTier`` (the tier applied) and ``x_DataQualityFlags`` (``unpriced`` set or cleared).

    Raises
    ------
    ParameterError
        When prices must be converted to the billing currency and ``rates`` is missing or lacks a day.
    """
    catalog = _catalog(catalog)
    t = _context(_with_model(_base(requests), catalog), catalog)
    j = _request_costs(_price_join(t, catalog.table("wide"), []))
    j = _convert(j, list(BUCKET_COST_COLUMNS.values()), rates, catalog, requests)
    total = sum((j[c] for c in BUCKET_COST_COLUMNS.values()), ibis.literal(0).cast(MONEY))
    out = j.mutate(
        x_EstimatedCost=ibis.ifelse(j.x_UnpricedTokens == 0, total.cast(MONEY), ibis.null(MONEY)),
        x_ContextTier=j._ctx,
        x_DataQualityFlags=set_flag(_flags(j), UNPRICED, j.x_UnpricedTokens > 0),
    )
    keep = list(dict.fromkeys([*requests.columns, "x_EstimatedCost", "x_ContextTier", "x_DataQualityFlags"]))
    return out.select(keep + (list(DETAIL_COLUMNS) if detail else []))


def _priced_money(j: ibis.Table) -> dict[str, ibis.Value]:
    qty = j.ConsumedQuantity.cast(MONEY)
    price, list_price = _pick(j, "price_per_token"), _pick(j, "list_price_per_token")
    per_block = j.PricingUnit == "1M Tokens"
    million = ibis.literal(1_000_000).cast(TOKENS)
    return {
        "_cost": _cost(qty, price), "_list": _cost(qty, list_price),
        "_unit": ibis.ifelse(per_block, (price * million).cast(MONEY), ibis.null(MONEY)),
        "_list_unit": ibis.ifelse(per_block, (list_price * million).cast(MONEY), ibis.null(MONEY)),
        "x_PriceCurrency": _pick(j, "currency"),
    }  # fmt: skip


def price_costs(
    costs: ibis.Table, catalog: book.Catalog | None = None, *, rates: pd.DataFrame | None = None
) -> ibis.Table:
    """Price the estimated token rows of a ``costs`` table (usage feeds without money).

    Rows with ``x_CostBasis = 'estimated'`` and a token bucket get ``BilledCost``, ``EffectiveCost`` and
    ``ContractedCost`` at the catalog (contracted) price, ``ListCost`` at list price, unit prices per
    1M tokens when ``PricingUnit`` is ``1M Tokens``, and lose the ``unpriced`` flag; those without a
    price keep NULL money and the flag. Every other row is returned unchanged, with the same columns.

    Raises
    ------
    ParameterError
        When prices must be converted to the billing currency and ``rates`` is missing or lacks a day.
    """
    catalog = _catalog(catalog)
    t = _base(costs)
    t = t.mutate(_ctx=_optional(t, "x_ContextTier", None, dt.string).fill_null("standard"),
                 _est=(t.x_CostBasis == "estimated") & t.x_TokenType.isin(list(TOKEN_BUCKETS)))  # fmt: skip
    j = _price_join(_with_model(t, catalog), catalog.table("prices"), [("x_TokenType", "token_type")])
    j = j.mutate(**_priced_money(j))
    j = _convert(j, ["_cost", "_list", "_unit", "_list_unit"], rates, catalog, costs)
    priced = j._est & j._cost.notnull()
    money = {c: ibis.ifelse(priced, j._cost, j[c].cast(MONEY)) for c in ("BilledCost", "EffectiveCost",
                                                                          "ContractedCost")}  # fmt: skip
    money["ListCost"] = ibis.ifelse(priced, j._list, j.ListCost.cast(MONEY))
    for column, value in (("ListUnitPrice", j._list_unit), ("ContractedUnitPrice", j._unit)):
        if column in costs.columns:
            money[column] = ibis.ifelse(priced & value.notnull(), value, j[column].cast(MONEY))
    flags = ibis.ifelse(j._est, set_flag(_flags(j), UNPRICED, ~priced), _flags(j))
    return j.mutate(**money, x_DataQualityFlags=flags).select(costs.columns)
