"""What one AI feature really costs: every money row in a feature and a layer, shared services split exactly.

Each money row of the facts (invoiced first per provider and day, in the facts' currency, owners from the
allocation rules and tags) is placed, in this order:

1. the first ``features`` entry of the feature map it matches: that entry's application and feature (``mapped``);
2. else the first ``shared`` entry it matches: the row is part of a shared service, split among features below;
3. else, when the allocation rules put it in a shared pool (gateway traffic metered by the request logs,
   provisioned throughput, platform fees), each feature's part of the pool as :func:`finops_lib.allocation.allocate`
   splits it (``allocated``; a pool split by team only stays ``(unassigned)``, with a note);
4. else its own application and feature (the ``app``/``feature`` tags, or the allocation rules) (``tagged``);
5. else nowhere: ``(unassigned)``, counted and shown, never dropped.

Its layer is the entry's ``layer``, else the first ``layers`` entry it matches, else the guess of
:func:`finops_lib.feature_cost.layers.guess_layer`.

A shared service's cost is split every month by its strategy: ``even`` (the features named in ``among``, or every
feature with cost of its own that month), ``fixed`` (the weights), ``proportional`` (each feature's own cost,
tokens or requests that month), ``allocation`` (OpenCost's total cost per namespace that month, each namespace
naming its feature; namespaces not named, ``__idle__`` included, keep their share ``(unassigned)``). Each split
gives its rounding remainder (at 12 decimal places) to its largest part, and a month without any basis leaves
the whole amount ``(unassigned)`` with a note, so the stack of every month adds up to the facts' spend exactly.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import ibis
import ibis.expr.types as ir
import pandas as pd

from finops_lib import fx
from finops_lib.allocation import allocate
from finops_lib.facts import Facts
from finops_lib.feature_cost.layers import guess_layer
from finops_lib.rules import compile_conditions
from finops_lib.rules.feature_map import FeatureMap, SharedLayer, feature_key

__all__ = ["UNASSIGNED", "Stack", "feature_stack", "first_match", "month_start", "split_exact",
           "text_or_none"]

UNASSIGNED = "(unassigned)"
_PLACES = Decimal("1e-12")
_NO_BASIS = " (no basis)"
_COLUMNS = ["month", "feature", "application", "feature_name", "layer", "kind", "entry", "cost"]


@dataclass(frozen=True)
class Stack:
    """The result of :func:`feature_stack`.

    Attributes
    ----------
    frame
        One row per month, feature, layer, kind and entry: ``month`` (first day, naive UTC Timestamp), ``feature``
        (``application/feature``, ``application``, or ``(unassigned)``), ``application``, ``feature_name``,
        ``layer``, ``kind`` (``mapped``, ``tagged``, ``shared``, ``allocated``, ``unassigned``), ``entry`` (the
        feature map or rules entry, ``tags``, or ''), ``cost`` (Decimal, in ``currency``).
    inputs
        The facts' spend per ``month`` (Decimal): every month's stack adds up to it.
    currency
        The currency of every amount.
    notes
        What the stack could not do as asked (a shared service without any basis in a month).
    """

    frame: pd.DataFrame
    inputs: pd.DataFrame
    currency: str
    notes: tuple[str, ...] = ()


def split_exact(amount: Decimal, weights: dict[str, float | Decimal]) -> dict[str, Decimal]:
    """Split ``amount`` in proportion to ``weights`` at 12 places; the remainder goes to the largest part.

    Examples
    --------
    >>> split_exact(Decimal("10"), {"a": 1, "b": 2})
    {'a': Decimal('3.333333333333'), 'b': Decimal('6.666666666667')}
    >>> sum(split_exact(Decimal("0.01"), {"a": 1, "b": 1, "c": 1}).values())
    Decimal('0.010000000000')
    """
    exact = {k: Fraction(Decimal(str(w))) for k, w in weights.items() if w > 0}
    total = sum(exact.values(), Fraction(0))
    if total <= 0:
        raise ValueError("split_exact needs at least one positive weight")
    shares = {k: Fraction(amount) * w / total for k, w in exact.items()}
    parts = {k: (Decimal(s.numerator) / Decimal(s.denominator)).quantize(_PLACES) for k, s in shares.items()}
    largest = max(exact, key=lambda k: (exact[k], [-ord(c) for c in k]))
    parts[largest] += amount - sum(parts.values(), Decimal(0))
    return parts


def first_match(rows: ir.Table, table: str, matches: list[tuple]) -> ir.IntegerValue:
    """Return the index of the first entry whose conditions hold on each row of ``table`` (null: none)."""
    if not matches:
        return ibis.null("int64")
    cases = [(compile_conditions(rows, table, m, strict=False).fill_null(False), i) for i, m in enumerate(matches)]
    return ibis.cases(*cases, else_=ibis.null("int64"))


def month_start(values: pd.Series) -> pd.Series:
    """Return times as the first day of their month (naive UTC Timestamps)."""
    stamps = pd.to_datetime(values)
    return (stamps.dt.tz_convert(None) if stamps.dt.tz is not None else stamps).dt.to_period("M").dt.to_timestamp()


def _placed(facts: Facts, fmap: FeatureMap) -> pd.DataFrame:
    """Money per month and placement (feature entry, shared entry, layer entry, guessed layer, tags)."""
    rows = facts.money_rows()
    keyed = rows.mutate(month=rows.ChargePeriodStart.truncate("M"),
                        _f=first_match(rows, "costs", [e.match for e in fmap.features]),
                        _s=first_match(rows, "costs", [s.match for s in fmap.shared]),
                        _l=first_match(rows, "costs", [e.match for e in fmap.layers]),
                        _g=guess_layer(rows))  # fmt: skip
    keys = ["month", "_f", "_s", "_l", "_g", "x_Application", "x_Feature",
            *(["x_AllocationPool"] if "x_AllocationPool" in rows.columns else [])]
    out = keyed.group_by(keys).aggregate(cost=keyed.BilledCost.cast(fx.MONEY).sum()).to_pandas()
    out["month"] = month_start(out["month"])
    out["cost"] = [v if isinstance(v, Decimal) else Decimal(0) for v in out["cost"]]
    return out


def text_or_none(value: object) -> str | None:
    """Return a text value, None for a missing one (null, NaN, empty)."""
    return None if value is None or (isinstance(value, float) and value != value) or value == "" else str(value)


def _split_key(key: str) -> tuple[str | None, str | None]:
    if key == UNASSIGNED:
        return None, None
    application, _, feature = key.partition("/")
    return application, feature or None


class _Bases:
    """What a shared service is split by, per month: the features' own cost, tokens, requests, or OpenCost."""

    def __init__(self, facts: Facts, fmap: FeatureMap, direct: pd.DataFrame) -> None:
        self.facts, self.fmap = facts, fmap
        own = direct[direct["kind"].isin(["mapped", "tagged"])]
        self.cost = own.groupby(["month", "feature"])["cost"].agg(lambda s: sum(s, Decimal(0)))
        self._cache: dict[str, pd.Series] = {}
        self._opencost_frame: pd.DataFrame | None = None

    def _usage(self, basis: str) -> pd.Series:
        if basis in self._cache:
            return self._cache[basis]
        if basis == "tokens":
            rows, table = self.facts.token_rows(), "costs"
            rows = rows.filter(rows.x_TokenType != "non_token")
            value = rows.ConsumedQuantity.cast("float64")
        else:
            if not self.facts.has_requests:
                self._cache[basis] = pd.Series(dtype="float64")
                return self._cache[basis]
            rows, table = self.facts.request_rows(), "requests"
            value = ibis.literal(1.0)
        keyed = rows.mutate(month=rows.ChargePeriodStart.truncate("M"), _v=value,
                            _f=first_match(rows, table, [e.match for e in self.fmap.features]))  # fmt: skip
        agg = keyed.group_by(["month", "_f", "x_Application", "x_Feature"]).aggregate(v=keyed._v.sum()).to_pandas()
        agg["month"] = month_start(agg["month"])
        agg["feature"] = [feature_key(self.fmap.features[int(f)].application, self.fmap.features[int(f)].feature)
                          if pd.notna(f) else feature_key(text_or_none(a), text_or_none(b))
                          for f, a, b in zip(agg["_f"], agg["x_Application"], agg["x_Feature"], strict=True)]
        agg = agg[agg["feature"].notna()]
        self._cache[basis] = agg.groupby(["month", "feature"])["v"].sum()
        return self._cache[basis]

    def _opencost(self) -> pd.DataFrame:
        """OpenCost's total cost per month and namespace, read once for every shared service and month."""
        if self._opencost_frame is None:
            rows = self.facts.metric_rows("total_cost")
            rows = rows.filter(rows.x_MetricSource == "opencost")
            agg = rows.group_by([rows.ChargePeriodStart.truncate("M").name("month"), "x_Namespace"]).aggregate(
                v=rows.x_Value.sum()).to_pandas()  # fmt: skip
            self._opencost_frame = agg.assign(month=month_start(agg["month"]))
        return self._opencost_frame

    def _allocation(self, shared: SharedLayer, month: pd.Timestamp) -> dict[str, float]:
        if not self.facts.has_metrics:
            return {}
        agg = self._opencost()
        agg = agg[agg["month"] == month]
        out: dict[str, float] = defaultdict(float)
        for namespace, value in zip(agg["x_Namespace"], agg["v"], strict=True):
            out[shared.options["namespaces"].get(namespace, UNASSIGNED) if namespace else UNASSIGNED] += float(value)
        return dict(out)

    def weights(self, shared: SharedLayer, month: pd.Timestamp) -> dict[str, float | Decimal]:
        """Return the features' weights of a shared service in one month (empty: no basis)."""
        among = shared.options.get("among")
        if shared.strategy == "fixed":
            return dict(shared.options["weights"])
        if shared.strategy == "allocation":
            return self._allocation(shared, month)
        if shared.strategy == "even":
            names = among or [f for f, v in self._month(self.cost, month).items() if v > 0]
            return dict.fromkeys(names, 1.0)
        basis = shared.options.get("basis", "cost")
        values = self._month(self.cost if basis == "cost" else self._usage(basis), month)
        return {f: v for f, v in values.items() if v > 0 and (not among or f in among)}

    @staticmethod
    def _month(series: pd.Series, month: pd.Timestamp) -> dict[str, float | Decimal]:
        if series.empty or month not in series.index.get_level_values(0):
            return {}
        return series.loc[month].to_dict()


def _rule_pool_parts(facts: Facts, amounts: dict[tuple[int, pd.Timestamp, str], Decimal], notes: list[str]) -> list:
    """Split the allocation rules' shared pools (gateway traffic, provisioned throughput, fees) as the allocation does.

    Each feature's part of a pool's month is its part in :func:`finops_lib.allocation.allocate`.

    A pool whose recipients have no application (split by team, the allocation labelling the parts with the pool's
    name) leaves its amount ``(unassigned)``, with a note; one split by team whose rows carry an application (a
    gateway's hosting) stays that application's.
    """
    frame = allocate(facts).frame
    pooled = frame["rule"].astype(str).str.endswith(_NO_BASIS)  # a pool without weights kept by its own owner
    frame = frame[(frame["kind"] != "direct") | pooled].assign(rule=frame["rule"].astype(str).str.removesuffix(
        _NO_BASIS))  # fmt: skip
    # a part the allocation can only label with the pool's own name (split by team, rows without an application)
    # names no feature
    keys = [UNASSIGNED if a == rule else feature_key(text_or_none(a), text_or_none(f)) or UNASSIGNED
            for a, f, rule in zip(frame["application"], frame["feature"], frame["rule"], strict=True)]
    weights = frame.assign(feature=keys, month=month_start(frame["month"]), weight=frame["cost"].map(abs))
    weights = weights.groupby(["rule", "month", "feature"])["weight"].agg(lambda s: sum(s, Decimal(0)))
    parts, unplaced = [], defaultdict(lambda: Decimal(0))
    for (index, month, layer), amount in sorted(amounts.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2])):
        name = facts.rules.shared[index].name
        try:
            mine = {str(k): w for k, w in weights.loc[(name, month)].items() if w > 0}
        except KeyError:
            mine = {}
        if not mine or set(mine) == {UNASSIGNED}:
            unplaced[(name, month)] += amount
            parts.append((month, UNASSIGNED, layer, "unassigned", name, amount))
            continue
        for key, part in split_exact(amount, mine).items():
            parts.append((month, key, layer, "allocated" if key != UNASSIGNED else "unassigned", name, part))
    for (name, month), amount in unplaced.items():
        notes.append(f"{name} (allocation rules): split by team, not by application, in {month:%B %Y}; its "
                     f"{amount:,.2f} stays unassigned (name the features in the feature map's shared: to split it)")
    return parts


def feature_stack(facts: Facts, fmap: FeatureMap | None = None) -> Stack:
    """Place every money row in a feature and a layer, split shared services, per month (see the module).

    Parameters
    ----------
    facts
        The facts: window, currency, filters and allocation rules.
    fmap
        The feature map (:func:`finops_lib.rules.feature_map.load_feature_map`); None: tags and guessed layers.

    Returns
    -------
    Stack
    """
    fmap = fmap or FeatureMap.empty()
    placed = _placed(facts, fmap)
    direct, pools, rule_pools = [], defaultdict(lambda: Decimal(0)), defaultdict(lambda: Decimal(0))
    for rec in placed.to_dict("records"):
        layer = fmap.layers[int(rec["_l"])].layer if pd.notna(rec["_l"]) else rec["_g"]
        if pd.notna(rec["_f"]):
            entry = fmap.features[int(rec["_f"])]
            key = feature_key(entry.application, entry.feature)
            direct.append((rec["month"], key, entry.layer or layer, "mapped", entry.name, rec["cost"]))
        elif pd.notna(rec["_s"]):
            shared = fmap.shared[int(rec["_s"])]
            pools[(int(rec["_s"]), rec["month"], shared.layer or layer)] += rec["cost"]
        elif pd.notna(rec.get("x_AllocationPool")):
            rule_pools[(int(rec["x_AllocationPool"]), rec["month"], layer)] += rec["cost"]
        else:
            key = feature_key(text_or_none(rec["x_Application"]), text_or_none(rec["x_Feature"]))
            kind = "tagged" if key else "unassigned"
            direct.append((rec["month"], key or UNASSIGNED, layer, kind, "tags" if key else "", rec["cost"]))
    frame = pd.DataFrame(direct, columns=["month", "feature", "layer", "kind", "entry", "cost"])
    bases, notes, parts = _Bases(facts, fmap, frame), [], []
    for (index, month, layer), amount in sorted(pools.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2])):
        shared = fmap.shared[index]
        weights = bases.weights(shared, month)
        if not weights or sum(float(w) for w in weights.values()) <= 0:
            notes.append(f"{shared.name}: nothing to split it by in {month:%B %Y} ({shared.strategy}); its "
                         f"{amount:,.2f} stays unassigned")  # fmt: skip
            parts.append((month, UNASSIGNED, layer, "unassigned", shared.name, amount))
            continue
        for key, part in split_exact(amount, weights).items():
            parts.append((month, key, layer, "shared" if key != UNASSIGNED else "unassigned", shared.name, part))
    if rule_pools:
        parts += _rule_pool_parts(facts, rule_pools, notes)
    frame = pd.concat([frame, pd.DataFrame(parts, columns=frame.columns)], ignore_index=True)
    frame = frame.groupby(["month", "feature", "layer", "kind", "entry"], as_index=False)["cost"].agg(
        lambda s: sum(s, Decimal(0)))  # fmt: skip
    split = [_split_key(k) for k in frame["feature"]]
    frame.insert(2, "application", [a for a, _ in split])
    frame.insert(3, "feature_name", [f for _, f in split])
    inputs = placed.groupby("month", as_index=False)["cost"].agg(lambda s: sum(s, Decimal(0)))
    frame = frame[_COLUMNS].sort_values(["month", "feature", "layer", "kind", "entry"]).reset_index(drop=True)
    return Stack(frame, inputs, facts.currency, tuple(notes))
