"""Per feature and month: what it served and what each unit of it cost, all layers included.

* **requests** and **active users**: the request logs (gateway, traces) placed in features as the money is (the
  feature map's entries on the request rows' fields, else their tags and the allocation rules): every logged
  request, failed ones included, and the distinct users (``x_UserId``, pseudonymised when the warehouse does);
* **tokens**: the token rows of the bills and usage feeds placed the same way; where a feature has none, the
  tokens its logged requests carry (``tokens_from`` says which);
* per unit: the feature's whole cost (every layer) per request, per active user and per 1M tokens; the share of
  it that is not model tokens (layers other than ``model_inference`` and ``embeddings``); the change from the
  feature's previous month. A unit figure without its unit (no requests logged) is None, never 0.
"""

from __future__ import annotations

from decimal import Decimal

import ibis
import pandas as pd

from finops_lib.facts import Facts
from finops_lib.feature_cost.stack import UNASSIGNED, Stack, first_match, month_start, text_or_none
from finops_lib.rules.feature_map import FeatureMap, feature_key
from finops_lib.schema import REQUEST_TOKEN_COLUMNS

__all__ = ["MODEL_LAYERS", "feature_summary", "feature_usage"]

#: Layers that are model tokens; everything else is the part of a feature's cost outside them.
MODEL_LAYERS = ("model_inference", "embeddings")
_MILLION = Decimal(1_000_000)
_PLACES = Decimal("1e-12")


def _placed_sum(rows: ibis.Table, table: str, fmap: FeatureMap, **values: ibis.Value) -> pd.DataFrame:
    keyed = rows.mutate(month=rows.ChargePeriodStart.truncate("M"),
                        _f=first_match(rows, table, [e.match for e in fmap.features]), **values)  # fmt: skip
    agg = keyed.group_by(["month", "_f", "x_Application", "x_Feature", *(["x_UserId"] if "_u" in values else [])])
    out = agg.aggregate(**{name: keyed[name].sum() for name in values if name != "_u"}).to_pandas()
    out["month"] = month_start(out["month"])
    out["feature"] = [feature_key(fmap.features[int(f)].application, fmap.features[int(f)].feature) if pd.notna(f)
                      else feature_key(text_or_none(a), text_or_none(b))
                      for f, a, b in zip(out["_f"], out["x_Application"], out["x_Feature"], strict=True)]
    out["feature"] = out["feature"].fillna(UNASSIGNED)
    return out


def feature_usage(facts: Facts, fmap: FeatureMap | None = None) -> pd.DataFrame:
    """Return per month and feature: ``requests``, ``active_users``, ``tokens``, ``logged_tokens``.

    Parameters
    ----------
    facts
        The facts (their request logs and token rows).
    fmap
        The feature map; None places rows by their tags.
    """
    fmap = fmap or FeatureMap.empty()
    columns = ["month", "feature", "requests", "active_users", "tokens", "logged_tokens"]
    parts = []
    token_rows = facts.token_rows()
    token_rows = token_rows.filter(token_rows.x_TokenType != "non_token")
    tokens = _placed_sum(token_rows, "costs", fmap, tokens=token_rows.ConsumedQuantity.cast("float64"))
    parts.append(tokens.groupby(["month", "feature"], as_index=False)["tokens"].sum())
    if facts.has_requests:
        rows = facts.request_rows()
        logged = sum((rows[c].fill_null(0) for c in REQUEST_TOKEN_COLUMNS.values()), ibis.literal(0))
        placed = _placed_sum(rows, "requests", fmap, requests=ibis.literal(1), logged_tokens=logged.cast("float64"),
                             _u=rows.x_UserId)  # fmt: skip
        users = placed[placed["x_UserId"].notna()].groupby(["month", "feature"])["x_UserId"].nunique()
        sums = placed.groupby(["month", "feature"])[["requests", "logged_tokens"]].sum()
        parts.append(sums.join(users.rename("active_users"), how="left").reset_index())
    out = parts[0]
    for part in parts[1:]:
        out = out.merge(part, on=["month", "feature"], how="outer")
    for name in columns[2:]:
        out[name] = pd.to_numeric(out[name], errors="coerce").fillna(0) if name in out else 0.0
    return out[columns].sort_values(["month", "feature"]).reset_index(drop=True)


def _per(cost: Decimal, units: float, scale: Decimal = Decimal(1)) -> Decimal | None:
    if not units:
        return None
    return (cost * scale / Decimal(str(units))).quantize(_PLACES)


def feature_summary(stack: Stack, usage: pd.DataFrame) -> pd.DataFrame:
    """Return per month and feature its whole cost, the part outside model tokens, and its unit costs.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``feature``, ``cost``, ``model_cost``, ``other_cost`` (Decimal), ``non_token_share`` (float, None
        without cost), ``requests``, ``active_users``, ``tokens``, ``tokens_from`` (``usage``, ``request logs`` or
        None), ``per_request``, ``per_active_user``, ``per_1m_tokens`` (Decimal or None), ``change`` (Decimal: the
        cost minus the feature's previous month's, None in its first month), ``currency``.
    """
    frame = stack.frame.assign(model=stack.frame["layer"].isin(MODEL_LAYERS))
    rows = []
    for (month, feature), group in frame.groupby(["month", "feature"], sort=True):
        cost = sum(group["cost"], Decimal(0))
        model = sum(group.loc[group["model"], "cost"], Decimal(0))
        rows.append({"month": month, "feature": feature, "cost": cost, "model_cost": model, "other_cost": cost - model})
    out = pd.DataFrame(rows, columns=["month", "feature", "cost", "model_cost", "other_cost"])
    # an empty stack or usage has no value to give its key columns a type
    out = out.assign(month=pd.to_datetime(out["month"]), feature=out["feature"].astype(object))
    usage = usage.assign(month=pd.to_datetime(usage["month"]), feature=usage["feature"].astype(object))
    out = out.merge(usage, on=["month", "feature"], how="left")
    for name in ("requests", "active_users", "tokens", "logged_tokens"):
        out[name] = out[name].fillna(0) if name in out else 0.0
    out["tokens_from"] = pd.Series(["usage" if t else "request logs" if lt else None
                                    for t, lt in zip(out["tokens"], out["logged_tokens"], strict=True)],
                                   index=out.index, dtype=object)  # None stays None (not a string NaN)
    out["tokens"] = [t or lt for t, lt in zip(out["tokens"], out["logged_tokens"], strict=True)]
    out["non_token_share"] = [float(o / c) if c else None for o, c in zip(out["other_cost"], out["cost"], strict=True)]
    out["per_request"] = [_per(c, r) for c, r in zip(out["cost"], out["requests"], strict=True)]
    out["per_active_user"] = [_per(c, u) for c, u in zip(out["cost"], out["active_users"], strict=True)]
    out["per_1m_tokens"] = [_per(c, t, _MILLION) for c, t in zip(out["cost"], out["tokens"], strict=True)]
    previous = out.groupby("feature")["cost"].shift()
    out["change"] = [c - p if isinstance(p, Decimal) else None for c, p in zip(out["cost"], previous, strict=True)]
    out["currency"] = stack.currency
    return out.drop(columns=["logged_tokens"]).reset_index(drop=True)
