"""Currencies: an effective-dated FX table, conversion by charge date over ibis tables, and a sum guard.

An FX row says: one unit of ``from_currency`` is worth ``rate`` units of ``to_currency`` on every UTC
day in ``[effective_from, effective_to)`` (``effective_to`` exclusive; empty = open). Rates are exact
decimal text with at most 12 decimal places. The shipped table holds the sample's fixed USD->EUR
rate (0.92, 2026-05-05 to 2026-10-31 inclusive); add your own files with :func:`load_rates`.

Rules
-----
* A money amount is converted at the rate of its row's charge day (``ChargePeriodStart``).
* A pair given only the other way round is converted with the inverse rate ``1 / rate`` rounded
  half-even to 12 decimal places; such rows are marked ``derivation = 'inverse'`` and
  ``exact = False`` when the inverse is not exact at 12 places (1/0.92 is not), so a report can say so.
* A missing rate is an error naming the pair and the day, never a silent 1.0.
* Arithmetic stays in the engine in DECIMAL: ``amount (38,12) x rate (38,12)`` is exact, then cast
  back to DECIMAL(38,12), which rounds half away from zero (DuckDB). Converting there and back is
  therefore the identity within ``|amount| x 1e-12 + 2e-12`` for rates near 1 (one rounding per
  step plus the rounding of the inverse rate). Amounts must stay below 1e14 per row.
* Money in several currencies is never summed: :func:`sum_money` raises :class:`ParameterError`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

import ibis
import ibis.expr.datatypes as dt_
import pandas as pd
import pyarrow as pa

from finops_lib import paths
from finops_lib.errors import ParameterError, SchemaError

FX_COLUMNS: tuple[str, ...] = ("from_currency", "to_currency", "rate", "effective_from", "effective_to", "source")
SHIPPED_RATES: Path = paths.PACKAGE_DATA_DIR / "fx_rates.csv"
MONEY = dt_.Decimal(38, 12)
#: Exact type of ``MONEY x rate`` in the engine; ibis infers DECIMAL(38,12) for it and would drop a cast to MONEY.
_PRODUCT = dt_.Decimal(38, 24)
RATE_PLACES = 12
_QUANTUM = Decimal(1).scaleb(-RATE_PLACES)
_OPEN_END = dt.date(9999, 12, 31)
_ISO = re.compile(r"^[A-Z]{3}$")
#: Money columns of the declared tables, converted together with ``BillingCurrency``.
COST_MONEY_COLUMNS: tuple[str, ...] = (
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ListUnitPrice", "ContractedUnitPrice",
)  # fmt: skip
REQUEST_MONEY_COLUMNS: tuple[str, ...] = ("x_ReportedCost", "x_EstimatedCost")


def _bad(column: str, where: str, problem: str, value: object) -> SchemaError:
    return SchemaError("fx_rates", column, f"{where}: {problem}", [value])


def _missing(column: str, where: str) -> SchemaError:
    return _bad(column, where, "required column is missing", column)


def _parse(row: dict[str, str], where: str) -> dict[str, object]:
    pair = [(row.get(c) or "").strip() for c in ("from_currency", "to_currency")]
    for column, code in zip(("from_currency", "to_currency"), pair, strict=True):
        if not _ISO.match(code):
            raise _bad(column, where, "not an upper-case ISO 4217 code", code)
    if pair[0] == pair[1]:
        raise _bad("to_currency", where, "a rate converts between two different currencies", pair[1])
    try:
        rate = Decimal((row.get("rate") or "").strip())
    except InvalidOperation:
        raise _bad("rate", where, "not a decimal number", row.get("rate")) from None
    if not rate.is_finite() or rate <= 0 or rate.normalize().as_tuple().exponent < -RATE_PLACES:  # type: ignore[operator]
        raise _bad("rate", where, f"must be positive with at most {RATE_PLACES} decimal places", row.get("rate"))
    try:
        start = dt.date.fromisoformat((row.get("effective_from") or "").strip())
        end_text = (row.get("effective_to") or "").strip()
        end = dt.date.fromisoformat(end_text) if end_text else None
    except ValueError:
        raise _bad("effective_from", where, "dates must be YYYY-MM-DD", row.get("effective_from")) from None
    if end is not None and end <= start:
        raise _bad("effective_to", where, "effective_to (exclusive) must be after effective_from", end_text)
    return {"from_currency": pair[0], "to_currency": pair[1], "rate": rate.normalize() + 0, "effective_from": start,
            "effective_to": end, "source": (row.get("source") or "").strip()}  # fmt: skip


def read_rates(path: str | Path) -> pd.DataFrame:
    """Read an FX CSV (``from_currency, to_currency, rate, effective_from, effective_to, source``).

    Raises
    ------
    SchemaError
        Naming the file, line, column and value at fault.
    """
    rows = paths.csv_rows(path, required=FX_COLUMNS[:5], parse=_parse, missing=_missing)
    return pd.DataFrame(rows, columns=list(FX_COLUMNS), dtype=object)


def load_rates(*files: str | Path, shipped: bool = True) -> pd.DataFrame:
    """Load the shipped rates and the given files; a later file wins for the same pair and days.

    Raises
    ------
    SchemaError
        On a malformed row, or when one file's ranges of a pair overlap.

    Examples
    --------
    >>> rate(load_rates(), "USD", "EUR", dt.date(2026, 6, 1))
    (Decimal('0.92'), 'direct')
    """
    frames = ([read_rates(SHIPPED_RATES)] if shipped else []) + [read_rates(f) for f in files]
    out = pd.DataFrame(columns=list(FX_COLUMNS), dtype=object)
    for frame in frames:
        _check_overlaps(frame)
        kept = [part for row in out.to_dict("records") for part in _minus(row, frame)]
        out = pd.DataFrame([*kept, *frame.to_dict("records")], columns=list(FX_COLUMNS), dtype=object)
    return out.reset_index(drop=True)


def _check_overlaps(frame: pd.DataFrame) -> None:
    for (a, b), group in frame.groupby(["from_currency", "to_currency"]):
        spans = sorted(zip(group["effective_from"], group["effective_to"], strict=True))
        for (_, end), (start, _) in itertools.pairwise(spans):
            if end is None or end > start:
                raise _bad("effective_from", f"{a}->{b}", "overlapping date ranges", str(start))


def _minus(row: dict, newer: pd.DataFrame) -> list[dict]:
    """Return the parts of an older rate row not covered by ``newer`` rows of the same pair."""
    parts = [(row["effective_from"], row["effective_to"] or _OPEN_END)]
    same = newer[(newer["from_currency"] == row["from_currency"]) & (newer["to_currency"] == row["to_currency"])]
    for c_start, c_end in zip(same["effective_from"], same["effective_to"], strict=True):
        c_end = c_end or _OPEN_END
        parts = [p for s, e in parts for p in ((s, min(e, c_start)), (max(s, c_end), e)) if p[0] < p[1]]
    return [{**row, "effective_from": s, "effective_to": None if e == _OPEN_END else e} for s, e in parts]


def with_inverses(rates: pd.DataFrame) -> pd.DataFrame:
    """Return the rates plus derived inverse rows for pairs given only one way.

    Returns
    -------
    pandas.DataFrame
        FX columns plus ``derivation`` (``direct`` or ``inverse``) and ``exact`` (False when the inverse
        was rounded to 12 places).
    """
    direct = rates.assign(derivation="direct", exact=True)
    given = set(zip(rates["from_currency"], rates["to_currency"], strict=True))
    inverse = []
    for row in rates.to_dict("records"):
        if (row["to_currency"], row["from_currency"]) in given:
            continue
        value = Decimal(1) / row["rate"]
        rounded = value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)
        inverse.append(
            {
                **row,
                "from_currency": row["to_currency"],
                "to_currency": row["from_currency"],
                "rate": rounded.normalize() + 0,
                "derivation": "inverse",
                "exact": rounded == value,
                "source": f"inverse of {row['from_currency']}->{row['to_currency']} {row['rate']}",
            }
        )
    return pd.concat([direct, pd.DataFrame(inverse, columns=direct.columns)], ignore_index=True)


def rate(rates: pd.DataFrame, from_currency: str, to_currency: str, day: dt.date) -> tuple[Decimal, str]:
    """Return ``(rate, derivation)`` converting ``from_currency`` to ``to_currency`` on ``day``.

    Raises
    ------
    ParameterError
        When no rate (direct or inverse) covers the day; the message names the pair and the day.
    """
    if from_currency == to_currency:
        return Decimal(1), "identity"
    r = with_inverses(rates)
    hit = r[(r["from_currency"] == from_currency) & (r["to_currency"] == to_currency) & (r["effective_from"] <= day)
            & r["effective_to"].map(lambda e: e is None or day < e)]  # fmt: skip
    if hit.empty:
        raise ParameterError(f"no exchange rate {from_currency}->{to_currency} for {day.isoformat()}")
    return hit["rate"].iloc[0], str(hit["derivation"].iloc[0])


def rates_table(rates: pd.DataFrame) -> ibis.Table:
    """Return the rates with derived inverses as an engine table (``rate`` DECIMAL(38,12))."""
    r = with_inverses(rates).reset_index(drop=True)
    data = {
        "fx_id": pa.array(range(len(r)), pa.int64()),
        "fx_from": pa.array(r["from_currency"].tolist(), pa.string()),
        "fx_to": pa.array(r["to_currency"].tolist(), pa.string()),
        "fx_rate": pa.array(r["rate"].tolist(), pa.decimal128(38, 12)),
        "fx_start": pa.array(r["effective_from"].tolist(), pa.date32()),
        "fx_end": pa.array([e or _OPEN_END for e in r["effective_to"]], pa.date32()),
    }
    return ibis.memtable(pa.table(data))


def _attach(
    table: ibis.Table, rates: pd.DataFrame, source: ibis.Value, target: ibis.Value, date_column: str
) -> ibis.Table:
    """Join the rate of each row (``fx_rate`` 1 when the currencies are equal, null when missing)."""
    t = table.mutate(_fx_src=source, _fx_dst=target, _fx_day=table[date_column].date())
    fx = rates_table(rates)
    cond = [t._fx_src == fx.fx_from, t._fx_dst == fx.fx_to, t._fx_day >= fx.fx_start, t._fx_day < fx.fx_end]
    j = t.left_join(fx, cond)
    same = j._fx_src == j._fx_dst
    return j.mutate(_fx_rate=ibis.cases((same, ibis.literal(1).cast(MONEY)), else_=j.fx_rate),
                    _fx_id=ibis.cases((same, ibis.literal(-1)), else_=j.fx_id))  # fmt: skip


def _raise_missing(j: ibis.Table) -> None:
    missing = j.filter(j._fx_rate.isnull() & j._fx_src.notnull() & j._fx_dst.notnull())
    sample = missing.select("_fx_src", "_fx_dst", "_fx_day").distinct().order_by("_fx_day").limit(5).to_pandas()
    if len(sample):
        first = sample.iloc[0]
        others = sample.iloc[1:].values.tolist()
        more = f" (also {len(others)} more pair/day(s): {others})" if others else ""
        raise ParameterError(f"no exchange rate {first._fx_src}->{first._fx_dst} for "
                             f"{pd.Timestamp(first._fx_day).date().isoformat()}{more}")  # fmt: skip


def times_rate(amount: ibis.Value, rate: ibis.Value) -> ibis.Value:
    """Return ``amount x rate`` exactly, rounded to DECIMAL(38,12) (half away from zero).

    The explicit DECIMAL(38,24) step matters: ibis types the product as DECIMAL(38,12) and would drop a
    cast to that type, leaving 24 decimal places in the engine (and overflowing the next product).
    """
    return (amount.cast(MONEY) * rate.cast(MONEY)).cast(_PRODUCT).cast(MONEY)


def _value(table: ibis.Table, name: str) -> ibis.Value:
    """Return a column of ``table`` when ``name`` is one, else the currency code as a literal."""
    return table[name] if name in table.columns else ibis.literal(name)


def convert_columns(
    table: ibis.Table,
    columns: list[str],
    *,
    rates: pd.DataFrame,
    source: str,
    target: str,
    date_column: str = "ChargePeriodStart",
) -> ibis.Table:
    """Return ``table`` with ``columns`` converted from ``source`` to ``target`` currency at the row's day rate.

    ``source`` and ``target`` each name a column of ``table`` or are an ISO currency code. The input is not
    changed; the currency columns are not touched.

    Raises
    ------
    ParameterError
        When a row needs a rate that the table lacks (names the pair and the day).
    """
    j = _attach(table, rates, _value(table, source), _value(table, target), date_column)
    _raise_missing(j)
    converted = {c: times_rate(j[c], j._fx_rate) for c in columns if c in j.columns}
    return j.mutate(**converted).select(table.columns)


def to_currency(
    table: ibis.Table, currency: str, *, rates: pd.DataFrame, date_column: str = "ChargePeriodStart"
) -> tuple[ibis.Table, pd.DataFrame]:
    """Convert every money column of a ``costs`` or ``requests`` table to ``currency``.

    Returns
    -------
    (ibis.Table, pandas.DataFrame)
        The converted table (``BillingCurrency`` = ``currency``) and the rates it used: pair, rate, range,
        derivation, exactness, source and how many rows each converted.

    Raises
    ------
    ParameterError
        When ``currency`` is not an ISO 4217 code, or a rate is missing for a row's pair and day.

    Examples
    --------
    >>> import pandas as pd
    >>> t = ibis.memtable(pd.DataFrame({"ChargePeriodStart": pd.to_datetime(["2026-06-01"], utc=True),
    ...     "BillingCurrency": ["USD"], "BilledCost": [Decimal("10")]}))
    >>> out, used = to_currency(t, "EUR", rates=load_rates())
    >>> out.BilledCost.execute().iloc[0], used["rate"].iloc[0]
    (Decimal('9.200000000000'), Decimal('0.92'))
    """
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise ParameterError(f"currency must be an ISO 4217 code such as 'USD', got {currency!r}")
    money = [c for c in (*COST_MONEY_COLUMNS, *REQUEST_MONEY_COLUMNS) if c in table.columns]
    j = _attach(table, rates, table.BillingCurrency, ibis.literal(currency), date_column)
    _raise_missing(j)
    used_ids = j.group_by("_fx_id").agg(rows=j.count()).to_pandas()
    converted = {c: times_rate(j[c], j._fx_rate) for c in money}
    out = j.mutate(**converted, BillingCurrency=ibis.literal(currency)).select(table.columns)
    return out, _used(rates, used_ids)


def _used(rates: pd.DataFrame, used_ids: pd.DataFrame) -> pd.DataFrame:
    r = with_inverses(rates).reset_index(drop=True).reset_index(names="_fx_id")
    counts = dict(zip(used_ids["_fx_id"], used_ids["rows"], strict=True))
    r["rows_converted"] = r["_fx_id"].map(counts)
    out = r[r["rows_converted"].notna()].drop(columns="_fx_id")
    return out.astype({"rows_converted": "int64"}).reset_index(drop=True)


def currencies(table: ibis.Table, column: str = "BillingCurrency") -> list[str]:
    """Return the distinct currencies of ``table`` (sorted; nulls left out)."""
    values = table.select(column).distinct().to_pandas()[column].dropna()
    return sorted(str(v) for v in values)


def sum_money(table: ibis.Table, column: str, *, currency_column: str = "BillingCurrency") -> tuple[Decimal, str]:
    """Sum a money column, refusing to add amounts of different currencies.

    Returns
    -------
    (Decimal, str)
        The exact total (nulls, i.e. unpriced rows, are left out) and its currency.

    Raises
    ------
    ParameterError
        When the rows are in more than one currency: convert first with :func:`to_currency`.
    """
    found = currencies(table, currency_column)
    if len(found) > 1:
        raise ParameterError(f"cannot sum {column} across currencies {sorted(found)}: convert to one currency "
                             "first (finops_lib.fx.to_currency)")  # fmt: skip
    total = table[column].cast(MONEY).sum().to_pyarrow().as_py()
    return (Decimal(0) if total is None else Decimal(total)), (found[0] if found else "")


# --- money as people read it -----------------------------------------------------------------------------

#: Symbols shown before amounts; other currencies show their code.
CURRENCY_SYMBOLS = {
    "EUR": "€",
    "USD": "$",
    "GBP": "£",
    "JPY": "¥",
    "CNY": "¥",
    "INR": "₹",
}


def currency_symbol(currency: str) -> str:
    """Return the symbol shown before amounts of an ISO 4217 ``currency`` (``EUR`` -> ``€``).

    Raises
    ------
    ParameterError
        If ``currency`` is not a three-letter upper-case code.
    """
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise ParameterError(f"currency must be an ISO 4217 code such as 'EUR', got {currency!r}")
    return CURRENCY_SYMBOLS.get(currency, f"{currency} ")


def fmt_money(amount: object, currency: str) -> str:
    """Return ``amount`` as text with the currency symbol and thousands separators: ``−$1,234.50``.

    Examples
    --------
    >>> fmt_money(Decimal("-162.375"), "USD"), fmt_money(0, "EUR")
    ('−$162.38', '€0.00')
    """
    value = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return f"{'−' if value < 0 else ''}{currency_symbol(currency)}{abs(value):,.2f}"


def dsum(values: object) -> Decimal:
    """Return the exact sum of Decimal amounts, missing ones (None, NaN) left out.

    Examples
    --------
    >>> dsum([Decimal("0.1"), None, Decimal("0.2"), float("nan")])
    Decimal('0.3')
    """
    return sum((v for v in values if v is not None and v == v), Decimal(0))  # type: ignore[attr-defined]
