"""Exact decomposition of a cost change into volume, mix, tokens per request, price and other.

Between a baseline and a current period, the cost of the token-priced cells (a cell is a combination of the
``keys`` columns, e.g. a model) is

    C = R * sum_i s_i * sum_b t_ib * q_ib

with ``R`` the volume (requests, or tokens), ``s_i`` the share of the volume in cell ``i``, ``t_ib`` the tokens
per unit of volume in bucket ``b`` and ``q_ib`` the cost per token. The change is split by sequential
substitution, in this order:

* **volume** ``(R1 - R0) * sum s0 t0 q0``: more or fewer requests at the baseline cost per request;
* **mix** ``R1 * sum (s1 - s0) t0 q0``: the volume moved between cells (another model, tier or key);
* **tokens_per_request** ``R1 * sum s1 (t1 - t0) q0``: more or fewer tokens per request, bucket by bucket (a
  cache that stops hitting moves tokens from the cache-read bucket to the write or uncached buckets);
* **price** ``R1 * sum s1 t1 (q1 - q0)``: the cost per token changed (a price change, a discount);
* **other**: the change of costs that are not per token (``non_token`` rows, money on rows without tokens) and
  of cells whose volume is unknown.

The terms telescope, so they add up to the change exactly: the arithmetic runs on :class:`fractions.Fraction`
(exact rationals) from the Decimal costs, and each component is rounded once to 12 decimal places with the
rounding remainder given to the largest component, so ``sum(components) == total`` holds exactly in Decimal.
A cell present in one period only lands in **mix** (a new model, a model no longer used); a bucket present in
one period only lands in **tokens_per_request** (its price is taken from the period that has it).

``volume="tokens"`` uses the token as the unit of volume (for feeds without request counts): then
``tokens_per_request`` measures the shift between buckets, e.g. a cache hit rate collapse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from typing import Literal

import pandas as pd

from finops_lib.errors import ParameterError

COMPONENTS: tuple[str, ...] = ("volume", "mix", "tokens_per_request", "price", "other")


#: Bucket of costs that are not per token.
NON_TOKEN = "non_token"


_PLACES = Decimal("1e-12")


_CELL_COLUMNS = ("bucket", "tokens", "cost", "requests")


Cell = tuple


Side = dict[Cell, dict]


@dataclass(frozen=True)
class Decomposition:
    """The change of cost between two periods, split into :data:`COMPONENTS`.

    Attributes
    ----------
    baseline, current : Decimal
        Cost of each period (exact sums of the input).
    total : Decimal
        ``current - baseline``, exact.
    components : DataFrame
        ``component``, ``amount`` (Decimal; the amounts add up to ``total`` exactly), ``share`` (float,
        ``amount / total``; NaN when the total is 0).
    detail : DataFrame
        ``keys...``, ``bucket``, ``component``, ``amount``: each component per cell and bucket, every amount
        rounded to 12 places (their sum equals ``total`` within ``1e-12`` per row).
    volume_unit : str
        ``requests`` or ``tokens``.
    volume : tuple of Fraction
        The volume of each period (requests or tokens of the token-priced cells).
    """

    baseline: Decimal
    current: Decimal
    total: Decimal
    components: pd.DataFrame
    detail: pd.DataFrame
    volume_unit: str
    volume: tuple[Fraction, Fraction]

    def amount(self, component: str) -> Decimal:
        """Return one component's amount.

        Parameters
        ----------
        component : str
            One of :data:`COMPONENTS`.

        Returns
        -------
        Decimal
        """
        return self.components.set_index("component").loc[component, "amount"]

    def largest(self) -> str:
        """Return the component with the largest absolute amount (``volume`` when all are zero)."""
        amounts = self.components.set_index("component")["amount"]
        return str(max(COMPONENTS, key=lambda c: abs(amounts[c])))


def _fraction(value: object, where: str) -> Fraction:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ParameterError(f"{where}: not a finite amount: {value}")
        return Fraction(value)
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if value != value:  # NaN
            raise ParameterError(f"{where}: cost is missing (an unpriced amount cannot be decomposed)")
        return Fraction(Decimal(repr(value)))
    if value is None or value is pd.NA:
        raise ParameterError(f"{where}: cost is missing (an unpriced amount cannot be decomposed)")
    try:
        return Fraction(Decimal(str(value)))
    except ArithmeticError as exc:
        raise ParameterError(f"{where}: not an amount: {value!r}") from exc


def _count(value: object) -> Fraction:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return Fraction(0)
    return Fraction(int(value))


def _read(frame: pd.DataFrame, keys: Sequence[str], name: str) -> Side:
    """Return ``{cell: {"requests", "buckets": {bucket: [tokens, cost]}, "other"}}`` for one period."""
    missing = [c for c in (*keys, *_CELL_COLUMNS) if c not in frame.columns]
    if missing:
        raise ParameterError(f"{name} frame lacks column(s) {missing}; expected {[*keys, *_CELL_COLUMNS]}")
    side: Side = {}
    for pos, row in enumerate(frame[[*keys, *_CELL_COLUMNS]].itertuples(index=False, name=None)):
        cell = tuple("(none)" if pd.isna(v) else v for v in row[: len(keys)])
        bucket, tokens, cost, requests = row[len(keys):]
        where = f"{name} row {pos} ({dict(zip(keys, cell, strict=True))}, bucket {bucket})"
        entry = side.setdefault(cell, {"requests": _count(requests), "buckets": {}, "other": Fraction(0)})
        if _count(requests) != entry["requests"]:
            raise ParameterError(f"{where}: requests {requests} differs from {entry['requests']} on another "
                                 "bucket row of the same cell")  # fmt: skip
        money, count = _fraction(cost, where), _count(tokens)
        if bucket == NON_TOKEN or count == 0:
            entry["other"] += money
            continue
        slot = entry["buckets"].setdefault(bucket, [Fraction(0), Fraction(0)])
        slot[0] += count
        slot[1] += money
    return side


def _units(entry: dict, volume: str) -> Fraction:
    if volume == "tokens":
        return sum((tok for tok, _ in entry["buckets"].values()), Fraction(0))
    return entry["requests"]


def _split(base: Side, cur: Side, volume: str) -> tuple[Side, Side, Fraction]:
    """Keep the token-priced cells measurable in every period they appear in; return the rest as ``other``."""
    other = Fraction(0)
    for side, sign in ((base, -1), (cur, 1)):
        for entry in side.values():
            other += sign * entry["other"]
    keep_b, keep_c = {}, {}
    for cell in set(base) | set(cur):
        sides = [(s, k) for s, k in ((base, keep_b), (cur, keep_c)) if cell in s and s[cell]["buckets"]]
        if all(_units(s[cell], volume) > 0 for s, _ in sides):
            for s, k in sides:
                k[cell] = s[cell]
        else:  # no volume count: the cell's token cost cannot be split, it goes to other
            for s, _ in sides:
                money = sum((c for _, c in s[cell]["buckets"].values()), Fraction(0))
                other += money if s is cur else -money
    return keep_b, keep_c, other


def _terms(base: Side, cur: Side, volume: str) -> dict[tuple[Cell, str], dict[str, Fraction]]:
    r0 = sum((_units(e, volume) for e in base.values()), Fraction(0))
    r1 = sum((_units(e, volume) for e in cur.values()), Fraction(0))
    out: dict[tuple[Cell, str], dict[str, Fraction]] = {}
    for cell in sorted(set(base) | set(cur), key=str):
        e0, e1 = base.get(cell), cur.get(cell)
        u0 = _units(e0, volume) if e0 else Fraction(0)
        u1 = _units(e1, volume) if e1 else Fraction(0)
        s0 = u0 / r0 if r0 else Fraction(0)
        s1 = u1 / r1 if r1 else Fraction(0)
        for bucket in sorted(set(e0["buckets"] if e0 else ()) | set(e1["buckets"] if e1 else ())):
            tok0, cost0 = e0["buckets"].get(bucket, (Fraction(0), Fraction(0))) if e0 else (0, 0)
            tok1, cost1 = e1["buckets"].get(bucket, (Fraction(0), Fraction(0))) if e1 else (0, 0)
            q0 = cost0 / tok0 if tok0 else (cost1 / tok1 if tok1 else Fraction(0))
            q1 = cost1 / tok1 if tok1 else q0
            t0 = tok0 / u0 if e0 else tok1 / u1
            t1 = tok1 / u1 if e1 else t0
            if not r0 or not r1:  # nothing to compare with: the whole change is volume
                terms = {"volume": cost1 - cost0, "mix": 0, "tokens_per_request": 0, "price": 0}
            else:
                terms = {"volume": (r1 - r0) * s0 * t0 * q0, "mix": r1 * (s1 - s0) * t0 * q0,
                         "tokens_per_request": r1 * s1 * (t1 - t0) * q0, "price": r1 * s1 * t1 * (q1 - q0)}
            out[(cell, bucket)] = {k: Fraction(v) for k, v in terms.items()}
    return out


def round_fraction(value: Fraction) -> Decimal:
    """Return ``value`` rounded half-even to 12 decimal places (the money quantum)."""
    with localcontext() as ctx:
        ctx.prec = 80
        return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(_PLACES, rounding=ROUND_HALF_EVEN)


def _exact(value: Fraction) -> Decimal:
    """Return the value with 12 decimal places when that is exact, else with all the digits it needs."""
    rounded = round_fraction(value)
    if Fraction(rounded) == value:
        return rounded
    with localcontext() as ctx:
        ctx.prec = 80
        return Decimal(value.numerator) / Decimal(value.denominator)


def decompose(baseline: pd.DataFrame, current: pd.DataFrame, *, keys: Sequence[str] = ("x_Model",),
              volume: Literal["requests", "tokens"] = "requests") -> Decomposition:  # fmt: skip
    """Split the change of cost between two periods into volume, mix, tokens per request, price and other.

    Parameters
    ----------
    baseline, current : DataFrame
        One row per cell (the ``keys`` columns) and token bucket: ``bucket`` (a schema token type, or
        ``non_token``), ``tokens`` (int), ``cost`` (Decimal in one currency, never null: an unpriced amount
        cannot be decomposed) and ``requests`` (the cell's request count, the same on every bucket row of the
        cell; 0 or NaN when unknown). Periods of different lengths are compared as they are: divide by days
        first (or pass per-day frames) to compare rates.
    keys : sequence of str
        Columns that define a cell of the mix (``("x_Model",)``, ``("x_Model", "x_ServiceTier")``, ...).
    volume : {"requests", "tokens"}
        Unit of volume; ``tokens`` for feeds without request counts.

    Returns
    -------
    Decomposition

    Raises
    ------
    ParameterError
        A missing column, a null cost, or request counts that differ between bucket rows of a cell.

    Examples
    --------
    Twice the requests, each with 10% more input tokens, at the same price:

    >>> from decimal import Decimal as D
    >>> b = pd.DataFrame({"x_Model": ["m"], "bucket": ["input_uncached"], "tokens": [1000], "cost": [D("1.00")],
    ...                   "requests": [10]})
    >>> c = b.assign(tokens=[2200], cost=[D("2.20")], requests=[20])
    >>> d = decompose(b, c)
    >>> d.total, d.amount("volume"), d.amount("tokens_per_request"), d.amount("price")
    (Decimal('1.200000000000'), Decimal('1.000000000000'), Decimal('0.200000000000'), Decimal('0E-12'))
    """
    if volume not in ("requests", "tokens"):
        raise ParameterError(f"volume must be 'requests' or 'tokens', not {volume!r}")
    keys = list(keys)
    raw_b, raw_c = _read(baseline, keys, "baseline"), _read(current, keys, "current")
    c0 = sum((e["other"] + sum((c for _, c in e["buckets"].values()), Fraction(0)) for e in raw_b.values()),
             Fraction(0))  # fmt: skip
    c1 = sum((e["other"] + sum((c for _, c in e["buckets"].values()), Fraction(0)) for e in raw_c.values()),
             Fraction(0))  # fmt: skip
    base, cur, other = _split(raw_b, raw_c, volume)
    terms = _terms(base, cur, volume)
    exact = {k: sum((t[k] for t in terms.values()), Fraction(0)) for k in COMPONENTS[:-1]}
    exact["other"] = other
    if sum(exact.values()) != c1 - c0:  # the telescoping identity; a failure here is a bug, not bad input
        raise AssertionError("decomposition does not add up")
    total = _exact(c1 - c0)
    amounts = {k: round_fraction(v) for k, v in exact.items()}
    biggest = max(COMPONENTS, key=lambda k: abs(exact[k]))
    amounts[biggest] += total - sum(amounts.values())
    components = pd.DataFrame({"component": list(COMPONENTS), "amount": [amounts[k] for k in COMPONENTS]})
    components["share"] = [float(amounts[k] / total) if total else float("nan") for k in COMPONENTS]
    rows = [{**dict(zip(keys, cell, strict=True)), "bucket": bucket, "component": k, "amount": round_fraction(v)}
            for (cell, bucket), t in terms.items() for k, v in t.items() if v]  # fmt: skip
    if other:
        rows.append({**dict.fromkeys(keys, "(other)"), "bucket": NON_TOKEN, "component": "other",
                     "amount": round_fraction(other)})  # fmt: skip
    detail = pd.DataFrame(rows, columns=[*keys, "bucket", "component", "amount"])
    r0 = sum((_units(e, volume) for e in base.values()), Fraction(0))
    r1 = sum((_units(e, volume) for e in cur.values()), Fraction(0))
    return Decomposition(_exact(c0), _exact(c1), total, components, detail, volume, (r0, r1))
