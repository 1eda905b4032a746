"""The gap between invoice and estimate, decomposed exactly into its components.

:func:`decompose` groups the matched lines per provider, model, day and currency and splits each group's gap
(``invoiced - estimated``) into :data:`COMPONENTS` (see :mod:`finops_lib.reconcile.reconciliation` for what each
one means); they add up to the gap exactly because every part is computed in :class:`~decimal.Decimal` and
``volume``, ``cache`` and ``tier`` split one difference between them (:func:`net_effect`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pandas as pd

from finops_lib.reconcile.lines import GROUP
from finops_lib.schema import TOKEN_BUCKETS

COMPONENTS: tuple[str, ...] = ("volume", "rate", "cache", "tier", "capacity", "unpriced", "unmatched_invoice",
                               "unmatched_estimate", "non_ai")  # fmt: skip
#: Components without a known mechanism behind them: what the ranked list of unexplained gaps sums.
UNEXPLAINED: tuple[str, ...] = ("rate", "unmatched_invoice", "unmatched_estimate")
ZERO = Decimal(0)
_CENT_E12 = Decimal(1).scaleb(-12)
_INPUT = frozenset(TOKEN_BUCKETS) - {"output"}

__all__ = ["CELL_COLUMNS", "COMPONENTS", "MONEY_COLUMNS", "UNEXPLAINED", "decompose", "net_effect"]


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
    invoiced = sum((r["inv_priced"] + r["inv_unpriced"] + r["inv_unmatched"] + r["inv_capacity"] + r["inv_non_ai"]
                    for r in lines), ZERO)  # fmt: skip
    estimated = sum((r["est_cost"] for r in lines), ZERO)
    out["unmatched_invoice"] = sum((r["inv_unmatched"] for r in lines), ZERO)
    out["capacity"] = sum((r["inv_capacity"] for r in lines), ZERO)
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
        One row per line key (:data:`finops_lib.reconcile.lines.KEY`) with the Decimal line fields
        (:data:`finops_lib.reconcile.lines.LINE_FIELDS`), ``invoice_line`` (the invoice has a comparable line),
        ``unpriced`` and ``quantity_source`` (as :attr:`finops_lib.reconcile.Reconciliation.lines`).

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
