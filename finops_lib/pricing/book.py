"""A loaded catalog (:class:`Catalog`): shipped prices, user files, discounts, aliases, and its engine tables.

Discounts are a percentage off the list price, per provider (``model`` empty) or per model; a model's
own discount wins over its provider's; they never stack. The discounted (contracted) price is
``list * (100 - pct) / 100``, rounded half-even to 12 decimal places only when it has more; the list
price is kept beside it so estimated rows get ``ListCost`` at list and the other costs at contract.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import yaml

from finops_lib import paths
from finops_lib.errors import ParameterError, SchemaError
from finops_lib.pricing import catalog as cat
from finops_lib.schema import TOKEN_BUCKETS

MILLION = Decimal(1_000_000)
_QUANTUM = Decimal(1).scaleb(-cat.MAX_PRICE_PLACES)
PRICE_TYPE = pa.decimal128(38, 18)


def read_discounts(path: str | Path) -> list[cat.Discount]:
    """Read negotiated discounts from a CSV or YAML file.

    CSV columns / YAML keys (a list, or a mapping with a ``discounts`` list): ``provider``, ``model``
    (empty = every model of the provider), ``discount_pct`` (0 <= pct < 100), optional
    ``effective_from`` / ``effective_to`` (exclusive) and ``note``.

    Raises
    ------
    SchemaError
        Naming the file, entry and value at fault.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in {".yaml", ".yml"}:
        loaded = yaml.safe_load(text) or []
        entries = loaded.get("discounts", []) if isinstance(loaded, dict) else loaded
    else:
        entries = list(pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records"))
    if not isinstance(entries, list):
        raise SchemaError("discounts", "*", f"{path}: expected a list of discounts", [type(entries).__name__])
    return [_discount(entry, f"{path}, entry {i}") for i, entry in enumerate(entries, start=1)]


def _discount(entry: object, where: str) -> cat.Discount:
    if not isinstance(entry, dict) or not str(entry.get("provider") or "").strip():
        raise SchemaError("discounts", "provider", f"{where}: provider is required", [entry])
    try:
        pct = Decimal(str(entry.get("discount_pct", "")).strip())
    except InvalidOperation:
        pct = Decimal("NaN")
    if not pct.is_finite() or not Decimal(0) <= pct < 100:
        raise SchemaError("discounts", "discount_pct", f"{where}: percent must be in [0, 100)",
                          [entry.get("discount_pct")])  # fmt: skip
    start = cat.parse_date(str(entry.get("effective_from") or ""), "effective_from", where, required=False)
    end = cat.parse_date(str(entry.get("effective_to") or ""), "effective_to", where, required=False)
    return cat.Discount(str(entry["provider"]).strip(), str(entry.get("model") or "").strip().lower(), pct,
                        start, end, str(entry.get("note") or ""))  # fmt: skip


def _active(d: cat.Discount, start: dt.date, end: dt.date | None) -> bool:
    """Whether ``d`` covers the whole interval [start, end)."""
    after_start = d.effective_from is None or d.effective_from <= start
    before_end = d.effective_to is None or (end is not None and end <= d.effective_to)
    return after_start and before_end


def _discount_rows(row: dict, discounts: list[cat.Discount]) -> list[dict]:
    mine = [d for d in discounts if d.provider == row["provider"] and d.model in ("", row["model"])]
    if not mine:
        return [row]
    cuts = sorted({x for d in mine for x in (d.effective_from, d.effective_to) if x is not None})
    start, end = row["effective_from"], row["effective_to"]
    bounds = [start, *[c for c in cuts if c > start and (end is None or c < end)], end]
    out = []
    for s, e in itertools.pairwise(bounds):
        active = sorted((d for d in mine if _active(d, s, e)), key=lambda d: d.model == "", reverse=False)
        price = row["list_price_per_1m"]
        if active:
            price = (price * (100 - active[0].pct) / 100).normalize()
            if price.as_tuple().exponent < -cat.MAX_PRICE_PLACES:  # type: ignore[operator]
                price = price.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)
        out.append({**row, "effective_from": s, "effective_to": e, "price_per_1m": price})
    return out


def apply_discounts(frame: pd.DataFrame, discounts: list[cat.Discount]) -> pd.DataFrame:
    """Return ``frame`` with ``price_per_1m`` discounted (``list_price_per_1m`` unchanged); input not changed."""
    rows = [part for row in frame.to_dict("records") for part in _discount_rows(row, discounts)]
    return cat.catalog_frame(rows)


@dataclass(frozen=True)
class Catalog:
    """A checked price catalog with its aliases, ready to price tables.

    Attributes
    ----------
    prices
        Catalog rows (see :func:`finops_lib.pricing.catalog.read_catalog_file`).
    aliases
        Alias rows (see :func:`finops_lib.pricing.catalog.read_aliases`).
    origin
        The files it was built from, in layering order.
    """

    prices: pd.DataFrame
    aliases: pd.DataFrame
    origin: tuple[str, ...] = ()
    _tables: dict[str, ibis.Table] = field(default_factory=dict, compare=False, repr=False)

    def table(self, name: str) -> ibis.Table:
        """Return an engine table of the catalog (``prices``, ``wide``, ``thresholds``, ``aliases``), built once."""
        if name not in self._tables:
            self._tables[name] = _BUILDERS[name](self)
        return self._tables[name]

    @property
    def currencies(self) -> set[str]:
        """The currencies the prices are in."""
        return set(self.prices["currency"])

    @property
    def version(self) -> str:
        """Digest of the prices (:func:`finops_lib.pricing.catalog.fingerprint`), to cite in reports."""
        return cat.fingerprint(self.prices)

    def resolve(self, provider: str, model: str, day: dt.date) -> str:
        """Return the model whose prices apply to ``model`` on ``day`` (an alias target, else ``model``)."""
        a = self.aliases
        hit = a[(a["provider"] == provider) & (a["alias"] == model) & (a["effective_from"] <= day)
                & a["effective_to"].map(lambda e: e is None or day < e)]  # fmt: skip
        return str(hit["model"].iloc[0]) if len(hit) else model

    def price(
        self,
        provider: str,
        model: str,
        token_type: str,
        day: dt.date,
        *,
        service_tier: str = "standard",
        context_tier: str = "standard",
        deployment: str | None = None,
    ) -> Decimal | None:
        """Return the price per 1M tokens on ``day`` (None when unpriced), resolving aliases.

        Examples
        --------
        >>> c = load_catalog()
        >>> c.price("Anthropic", "claude-3-5-haiku", "input_cache_write_5m", dt.date(2026, 6, 1))
        Decimal('1')
        >>> c.price("OpenAI", "no-such-model", "output", dt.date(2026, 6, 1)) is None
        True
        """
        p = self.prices
        hit = p[(p["provider"] == provider) & (p["model"] == self.resolve(provider, model, day))
                & (p["token_type"] == token_type) & (p["service_tier"] == service_tier)
                & (p["context_tier"] == context_tier) & (p["effective_from"] <= day)
                & p["effective_to"].map(lambda e: e is None or day < e)]  # fmt: skip
        exact = hit[hit["deployment"] == (deployment or "")]
        chosen = exact if len(exact) else hit[hit["deployment"] == ""]
        return chosen["price_per_1m"].iloc[0] if len(chosen) else None

    def long_rows(self) -> pd.DataFrame:
        """One ``provider, model, context_threshold, effective_from, effective_to`` per model with long-context rows.

        The range spans every long-context row of the model (one threshold per model is checked at load),
        so a request is matched at most once.
        """
        long = self.prices[self.prices["context_tier"] == "long"].copy()
        long["end"] = [_end(x) for x in long["effective_to"]]
        out = long.groupby(["provider", "model", "context_threshold"], as_index=False).agg(
            effective_from=("effective_from", "min"), effective_to=("end", "max")
        )
        return out.reset_index(drop=True)


def load_catalog(
    *user_files: str | Path,
    discounts: str | Path | list[cat.Discount] | None = None,
    aliases: str | Path | None = None,
    shipped: bool = True,
) -> Catalog:
    """Load the shipped catalog, layer user catalog files over it, apply discounts, check the result.

    Parameters
    ----------
    *user_files
        User catalog CSVs (same columns), layered in order: later files win for the same key and dates.
    discounts
        A discounts CSV/YAML (see :func:`read_discounts`) or a list of :class:`Discount`.
    aliases
        An alias CSV replacing the shipped ``model_aliases.csv``.
    shipped
        Start from the shipped catalog (False: only the user files).

    Returns
    -------
    Catalog

    Raises
    ------
    SchemaError
        On a malformed row, overlapping or gapped versions, or an alias pointing at an unpriced model.
    ParameterError
        When there is nothing to load.

    Examples
    --------
    >>> load_catalog().price("OpenAI", "gpt-4o-mini", "output", dt.date(2026, 6, 1), service_tier="batch")
    Decimal('0.3')
    """
    files = ([cat.SHIPPED_CATALOG] if shipped else []) + [Path(f) for f in user_files]
    if not files:
        raise ParameterError("load_catalog: no catalog file (shipped=False and no user file)")
    frame = cat.read_catalog_file(files[0])
    for path in files[1:]:
        frame = cat.overlay(frame, cat.read_catalog_file(path))
    if discounts is not None:
        items = discounts if isinstance(discounts, list) else read_discounts(discounts)
        frame = apply_discounts(frame, items)
    cat.validate_catalog(frame)
    alias_frame = _usable_aliases(frame, cat.read_aliases(aliases or cat.SHIPPED_ALIASES), strict=aliases is not None)
    return Catalog(frame, alias_frame, tuple(str(f) for f in files))


def _usable_aliases(prices: pd.DataFrame, aliases: pd.DataFrame, *, strict: bool) -> pd.DataFrame:
    """Return the aliases that apply: explicit prices win over an alias of the same id.

    With ``strict``, an alias whose target has no price is refused.
    """
    priced = set(zip(prices["provider"], prices["model"], strict=True))
    own = [(p, a) in priced for p, a in zip(aliases["provider"], aliases["alias"], strict=True)]
    kept = aliases[[not x for x in own]].reset_index(drop=True)
    for row in kept.itertuples(index=False):
        if strict and (row.provider, row.model) not in priced:
            raise SchemaError(
                "model_aliases", "model", f"alias {row.alias} points at unpriced {row.model}", [row.model]
            )
    return kept


def catalog_for(data_dir: str | Path | None, *user_files: str | Path) -> Catalog:
    """Return the catalog a data folder is priced with: shipped prices, then ``user_files``.

    The sample world's fictional price change (:data:`~finops_lib.pricing.catalog.SAMPLE_OVERLAY`) is layered
    for the committed sample's own folder only (:func:`finops_lib.paths.is_sample`): never for a user's folder,
    nor for a warehouse read without its folder (None).

    Examples
    --------
    >>> str(cat.SAMPLE_OVERLAY) in map(str, catalog_for(paths.SAMPLE_DIR).origin)
    True
    >>> any(str(cat.SAMPLE_OVERLAY) == str(o) for o in (*catalog_for(None).origin, *catalog_for("/my/exports").origin))
    False
    """
    overlay = [cat.SAMPLE_OVERLAY] if paths.is_sample(data_dir) else []
    return load_catalog(*overlay, *user_files)


def sample_catalog() -> Catalog:
    """Return the catalog of the committed sample (:func:`catalog_for` its folder), for tests and demos."""
    return catalog_for(paths.SAMPLE_DIR)


def _per_token(price: Decimal | None) -> Decimal | None:
    return None if price is None else price / MILLION


def _end(day: dt.date | None) -> dt.date:
    return cat.OPEN_END if day is None else day


def prices_table(catalog: Catalog) -> ibis.Table:
    """Return the catalog as an engine table, one row per key and range, prices per token as DECIMAL(38,18)."""
    p = catalog.prices
    data = {
        **{k: pa.array(p[k].tolist(), pa.string()) for k in cat.KEY},
        "currency": pa.array(p["currency"].tolist(), pa.string()),
        "price_per_token": pa.array([_per_token(x) for x in p["price_per_1m"]], PRICE_TYPE),
        "list_price_per_token": pa.array([_per_token(x) for x in p["list_price_per_1m"]], PRICE_TYPE),
        "effective_from": pa.array(p["effective_from"].tolist(), pa.date32()),
        "effective_to": pa.array([_end(x) for x in p["effective_to"]], pa.date32()),
    }
    return ibis.memtable(pa.table(data))


def _wide_rows(records: list[dict]) -> list[dict]:
    """Split one (provider, model, tier, context, deployment) group at every price change."""
    bounds = sorted({*(r["effective_from"] for r in records), *(_end(r["effective_to"]) for r in records)})
    out = []
    for start, end in itertools.pairwise(bounds):
        live = [r for r in records if r["effective_from"] <= start and end <= _end(r["effective_to"])]
        if not live:
            continue
        row = {k: live[0][k] for k in ("provider", "model", "service_tier", "context_tier", "deployment", "currency")}
        row.update({"effective_from": start, "effective_to": end})
        for r in live:
            row[f"p_{r['token_type']}"] = _per_token(r["price_per_1m"])
            row[f"lp_{r['token_type']}"] = _per_token(r["list_price_per_1m"])
        out.append(row)
    return out


def wide_table(catalog: Catalog) -> ibis.Table:
    """Return the catalog with one column per token bucket (``p_<bucket>``, ``lp_<bucket>`` list), per range."""
    keys = ["provider", "model", "service_tier", "context_tier", "deployment"]
    groups: dict[tuple, list[dict]] = {}
    for record in catalog.prices.to_dict("records"):
        groups.setdefault(tuple(record[k] for k in keys), []).append(record)
    rows = [r for k in sorted(groups) for r in _wide_rows(groups[k])]
    data: dict[str, pa.Array] = {k: pa.array([r[k] for r in rows], pa.string()) for k in (*keys, "currency")}
    data["effective_from"] = pa.array([r["effective_from"] for r in rows], pa.date32())
    data["effective_to"] = pa.array([r["effective_to"] for r in rows], pa.date32())
    for prefix in ("p_", "lp_"):
        for bucket in TOKEN_BUCKETS:
            data[prefix + bucket] = pa.array([r.get(prefix + bucket) for r in rows], PRICE_TYPE)
    return ibis.memtable(pa.table(data))


def thresholds_table(catalog: Catalog) -> ibis.Table:
    """Return ``provider, model, context_threshold, effective_from, effective_to`` of long-context pricing."""
    t = catalog.long_rows()
    data = {
        "provider": pa.array(t["provider"].tolist(), pa.string()),
        "model": pa.array(t["model"].tolist(), pa.string()),
        "context_threshold": pa.array([int(x) for x in t["context_threshold"]], pa.int64()),
        "effective_from": pa.array(t["effective_from"].tolist(), pa.date32()),
        "effective_to": pa.array(t["effective_to"].tolist(), pa.date32()),
    }
    return ibis.memtable(pa.table(data))


def aliases_table(catalog: Catalog) -> ibis.Table:
    """Return the aliases as an engine table (open ranges end on :data:`~finops_lib.pricing.catalog.OPEN_END`)."""
    a = catalog.aliases
    data = {
        "provider": pa.array(a["provider"].tolist(), pa.string()),
        "alias": pa.array(a["alias"].tolist(), pa.string()),
        "model": pa.array(a["model"].tolist(), pa.string()),
        "effective_from": pa.array(a["effective_from"].tolist(), pa.date32()),
        "effective_to": pa.array([_end(x) for x in a["effective_to"]], pa.date32()),
    }
    return ibis.memtable(pa.table(data))


_BUILDERS = {"prices": prices_table, "wide": wide_table, "thresholds": thresholds_table, "aliases": aliases_table}
