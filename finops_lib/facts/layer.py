"""The :class:`Facts` of a warehouse: its rows and numbers in one currency, window, scope and set of rules.

Every page, widget, command and detector asks a :class:`Facts` for money, tokens, requests and series; none of
them opens the warehouse's tables. The expressions are ibis, so the same questions run on DuckDB, Spark or a
warehouse engine.

Rows go through the same steps for every question: window (inclusive UTC days) -> scopes
(:mod:`finops_lib.facts.scope`) -> owners (:func:`finops_lib.rules.attribute`, the allocation rules) ->
dimension filters -> currency (each amount converted at its charge day's rate, or, with ``convert=False``, only
rows billed in the currency).

Examples
--------
>>> import datetime as dt
>>> from decimal import Decimal as D
>>> costs = ibis.memtable(pd.DataFrame({
...     "ChargePeriodStart": pd.to_datetime(["2026-06-01", "2026-06-01", "2026-06-02"], utc=True),
...     "ProviderName": ["OpenAI", "Microsoft", "OpenAI"], "BillingCurrency": ["USD", "EUR", "USD"],
...     "x_CostBasis": "invoiced", "BilledCost": [D("10"), D("9.2"), D("5")], "x_TokenType": "output",
...     "ConsumedQuantity": [D("1000"), D("500"), D("400")], "x_Model": "gpt-4o", "x_Team": ["a", "b", "a"]}))
>>> facts = Facts(costs, currency="USD")  # EUR converted with the inverse of the shipped USD->EUR rate 0.92
>>> facts.total("cost")
Decimal('24.999999999999')
>>> facts.aggregate(["cost", "tokens"], by=["team"])
  team             cost  tokens
0    a  15.000000000000    1400
1    b   9.999999999999     500
>>> facts.with_options(convert=False).total("cost")  # only the rows billed in USD
Decimal('15.000000000000')
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from finops_lib import checks, fx, paths
from finops_lib.engines import kept
from finops_lib.errors import ParameterError
from finops_lib.facts.model import DIMENSIONS, GRAINS, MEASURES, Measure, check_grain
from finops_lib.facts.scope import MONEY_SCOPES, TOKEN_SCOPES, in_window, with_scopes
from finops_lib.rules import Condition, Rules, attribute, compile_conditions
from finops_lib.schema import REQUEST_TOKEN_COLUMNS

__all__ = ["Facts", "open_facts"]

#: Text filter values that mean "no filter".
_ANY = (None, "", "all")


@dataclasses.dataclass(frozen=True)
class _Options:
    currency: str
    convert: bool
    start_date: date | None
    end_date: date | None
    filters: tuple[tuple[str, tuple[str, ...]], ...]


class Facts:
    """A warehouse's facts in one currency, window, filter and set of allocation rules.

    Parameters
    ----------
    costs, requests
        The ``costs`` and ``requests`` tables (:func:`open_facts` takes them from a warehouse); ``requests`` may be
        None (no request logs).
    currency
        ISO 4217 code every amount is shown in.
    rates
        Exchange rates (:func:`finops_lib.fx.load_rates`); default the shipped ones.
    rules
        Allocation rules naming the owners (:func:`finops_lib.rules.resolve_rules`); default: the rows' tags only.
    start_date, end_date
        Inclusive UTC days; empty means open.
    filters
        Dimension -> value or values (``{"provider": "OpenAI"}``); ``"all"`` or empty means no filter.
    convert
        Convert amounts billed in other currencies at the charge day's rate (default); False keeps only the rows
        billed in ``currency`` (:meth:`currency_totals` still lists the others).
    metrics
        The ``metrics`` table (model servers' counters, a cluster's allocation), or None.

    Raises
    ------
    ParameterError
        On a malformed currency or date, a start after the end, or an unknown filter dimension.
    """

    def __init__(self, costs: ir.Table | None, requests: ir.Table | None = None, *, currency: str = "USD",
                 rates: pd.DataFrame | None = None, rules: Rules | None = None,
                 start_date: str | date | None = None, end_date: str | date | None = None,
                 filters: Mapping[str, str | Sequence[str] | None] | None = None,
                 convert: bool = True, metrics: ir.Table | None = None) -> None:  # fmt: skip
        currency = checks.currency_code(currency)
        first, last = checks.window(start_date, end_date)
        kept = []
        for name, value in (filters or {}).items():
            DIMENSIONS.lookup(name)
            values = (value,) if isinstance(value, str) or value is None else tuple(value)
            values = tuple(str(v) for v in values if v not in _ANY)
            if values:
                kept.append((name, values))
        self._costs, self._requests, self._metrics = costs, requests, metrics
        self.rates = fx.load_rates() if rates is None else rates
        self.rules = rules or Rules.default()
        self.options = _Options(currency, convert, first, last, tuple(sorted(kept)))
        self._pinned: dict[str, ir.Table] = {}
        self._explored: _Explored | None = None

    # --- options -------------------------------------------------------------------------------------------

    @property
    def currency(self) -> str:
        """The currency of every amount."""
        return self.options.currency

    @property
    def start_date(self) -> date | None:
        """First day of the window (None: open)."""
        return self.options.start_date

    @property
    def end_date(self) -> date | None:
        """Last day of the window (None: open)."""
        return self.options.end_date

    @property
    def filters(self) -> dict[str, tuple[str, ...]]:
        """The dimension filters applied."""
        return dict(self.options.filters)

    @property
    def has_requests(self) -> bool:
        """Whether request logs were given."""
        return self._requests is not None

    def with_options(self, **changes: Any) -> Facts:
        """Return facts of the same tables with other options (``currency``, ``start_date``, ``filters``...)."""
        now = {"currency": self.currency, "rates": self.rates, "rules": self.rules, "start_date": self.start_date,
               "end_date": self.end_date, "filters": self.filters, "convert": self.options.convert}  # fmt: skip
        out = Facts(self._costs, self._requests, metrics=self._metrics, **{**now, **changes})
        out._explored = self._explored
        return out

    def explore(self) -> Facts:
        """Return these facts keeping their rows in memory for many windows, filters and currencies (widgets).

        Every question of a :class:`Facts` runs the whole pipeline (scopes, owners, conversion) as one query: right
        for a page that asks a few questions, slow for a widget that asks the same rows anew on every change of a
        control. The facts this returns, and every copy :meth:`with_options` makes of them, share the rows scoped
        and owned once, and converted once per currency (engine temporary tables, dropped with the last copy); a
        question then costs a window, a filter and a group-by. The numbers are the same: scopes are decided per
        provider and day, owners and rates per row, so windowing by whole days before or after gives the same rows.

        The kept rows are as large as the warehouse's (like :meth:`pinned`, but for every window): the pages explore
        their facts; a script asking one question need not.
        """
        if self._explored is not None:  # already sharing kept rows
            return self
        out = self.with_options()
        out._explored = _Explored(self._costs, self._requests, self.rates)
        return out

    def describe(self) -> dict[str, object]:
        """Return the options as plain values (for ``results.json`` and page captions)."""
        return {"currency": self.currency, "converted": self.options.convert,
                "start_date": self.start_date and self.start_date.isoformat(),
                "end_date": self.end_date and self.end_date.isoformat(),
                "filters": {k: list(v) for k, v in self.options.filters},
                "rules": paths.shown(self.rules.source)}  # fmt: skip

    # --- row sets ------------------------------------------------------------------------------------------

    def _filtered(self, table: ir.Table, name: str) -> ir.Table:
        for dim, values in self.options.filters:
            column = DIMENSIONS[dim].columns.get(name)
            if column is None or column not in table.columns:
                if name == "costs":
                    raise ParameterError(f"cannot filter the {name} table by {dim!r}")
                continue
            table = table.filter(table[column].cast("string").isin(list(values)))
        return table

    def _convert(self, table: ir.Table) -> ir.Table:
        table = table.mutate(x_BillingCurrency=table.BillingCurrency)
        if not self.options.convert:
            return table.filter(table.BillingCurrency == self.currency)
        converted, _ = self._conversion(table)
        return converted

    def _conversion(self, table: ir.Table) -> tuple[ir.Table, pd.DataFrame]:
        return fx.to_currency(table, self.currency, rates=self.rates)

    @cached_property
    def _scoped_costs(self) -> ir.Table:
        """Window, scopes and owners, before filters and currency (for :meth:`currency_totals`)."""
        if self._costs is None:
            raise ParameterError("no costs table: the warehouse holds no billing or usage rows")
        if self._explored is not None:
            return in_window(self._explored.scoped(self.rules), self.start_date, self.end_date)
        return self._scope(in_window(self._costs, self.start_date, self.end_date))

    def _scope(self, windowed: ir.Table) -> ir.Table:
        # Relating cost datasets takes a window over every row: only when more than one dataset is loaded.
        datasets = "x_CostDataset" in self._costs.columns and int(self._costs.x_CostDataset.nunique().execute()) > 1
        return attribute(with_scopes(windowed, datasets=datasets), self.rules)

    def cost_rows(self) -> ir.Table:
        """Every ``costs`` row of the window, with ``x_MoneyScope``, ``x_TokenScope``, owners, in the currency.

        Amounts of rows billed in another currency are converted (``x_BillingCurrency`` keeps the original code).
        """
        if "costs" in self._pinned:
            return self._pinned["costs"]
        return self._costs_expr

    @cached_property
    def _costs_expr(self) -> ir.Table:
        if self._explored is not None:
            converted = self._explored.converted("costs", self)
            return self._filtered(in_window(converted, self.start_date, self.end_date), "costs")
        return self._convert(self._filtered(self._scoped_costs, "costs"))

    def money_rows(self) -> ir.Table:
        """Return the rows money totals are made of (``x_MoneyScope`` invoiced or estimated)."""
        rows = self.cost_rows()
        return rows.filter(rows.x_MoneyScope.isin(list(MONEY_SCOPES)))

    def token_rows(self) -> ir.Table:
        """Return the rows token totals are made of (``x_TokenScope`` usage or invoice)."""
        rows = self.cost_rows()
        return rows.filter(rows.x_TokenScope.isin(list(TOKEN_SCOPES)))

    def request_rows(self) -> ir.Table:
        """Return the request-log rows of the window, with owners, in the currency."""
        if "requests" in self._pinned:
            return self._pinned["requests"]
        return self._requests_expr

    @cached_property
    def _requests_expr(self) -> ir.Table:
        if self._requests is None:
            raise ParameterError("no request logs (gateway or traces) in this warehouse")
        if self._explored is not None:
            converted = self._explored.converted("requests", self)
            return self._filtered(in_window(converted, self.start_date, self.end_date), "requests")
        windowed = in_window(self._requests, self.start_date, self.end_date)
        owned = attribute(windowed, self.rules, table_name="requests", pools=False)
        return self._convert(self._filtered(owned, "requests"))

    @property
    def has_metrics(self) -> bool:
        """Whether the warehouse holds serving or cluster metrics (the ``metrics`` table, with rows or not)."""
        return self._metrics is not None

    def metric_rows(self, *metrics: str) -> ir.Table:
        """Return the ``metrics`` rows of the window (of the named ``x_Metric`` values, when given).

        Measurements, not money: never converted, never part of a money total (:mod:`finops_lib.facts.serving`
        takes counters' increases; an allocation's costs are weights for splitting a bill).

        Raises
        ------
        ParameterError
            When the warehouse has no ``metrics`` table.
        """
        if self._metrics is None:
            raise ParameterError("no serving or cluster metrics (Prometheus, OpenCost) in this warehouse")
        rows = in_window(self._metrics, self.start_date, self.end_date)
        return rows.filter(rows.x_Metric.isin(list(metrics))) if metrics else rows

    def rows(self, row_set: str) -> ir.Table:
        """Return the ``money``, ``tokens`` or ``requests`` row set."""
        sets = {"money": self.money_rows, "tokens": self.token_rows, "requests": self.request_rows,
                "all": self.cost_rows}  # fmt: skip
        if row_set not in sets:
            raise ParameterError(f"row set must be one of {', '.join(sets)}, got {row_set!r}")
        return sets[row_set]()

    @contextmanager
    def pinned(self) -> Iterator[Facts]:
        """Materialize the row sets once for many questions (large warehouses); drops them on exit.

        Explored facts (:meth:`explore`) keep their rows already: pinning them again would copy the window's rows
        for nothing.
        """
        if self._explored is not None:
            yield self
            return
        tables = {"costs": self._costs_expr}
        if self._requests is not None:
            tables["requests"] = self._requests_expr
        try:
            self._pinned = {name: table.cache() for name, table in tables.items()}
            yield self
        finally:
            for table in self._pinned.values():
                _release(table)
            self._pinned = {}

    # --- numbers -------------------------------------------------------------------------------------------

    def _key(self, table: ir.Table, name: str, *, table_name: str, labels: bool) -> ir.Value:
        if name in GRAINS:
            return table.ChargePeriodStart.truncate(check_grain(name))
        dim = DIMENSIONS.lookup(name)
        value = table[dim.column(table_name)]
        if not labels:
            return value
        text = value.cast("string").nullif("")
        if dim.owner and "x_AllocationPool" in table.columns and self.rules.shared:
            pools = [(table.x_AllocationPool == i, ibis.literal(f"(shared: {s.name})"))
                     for i, s in enumerate(self.rules.shared)]  # fmt: skip
            text = text.fill_null(ibis.cases(*pools, else_=ibis.null("string")))
        return text.fill_null(dim.missing)

    def aggregate(self, measures: str | Sequence[str], *, by: Sequence[str] = (), labels: bool = True,
                  match: Sequence[Condition] = ()) -> pd.DataFrame:  # fmt: skip
        """Return measures per group: money exact (:class:`~decimal.Decimal`), counts as integers.

        Parameters
        ----------
        measures
            Names of :data:`~finops_lib.facts.model.MEASURES`, all of one table.
        by
            Dimensions (:data:`~finops_lib.facts.model.DIMENSIONS`) and time grains (``hour``, ``day``, ``week``,
            ``month``: naive UTC timestamps).
        labels
            Show rows without a value under the dimension's missing label (default); False keeps them null.
        match
            Conditions of the allocation rules (:class:`finops_lib.rules.Condition`) the rows must meet.

        Returns
        -------
        pandas.DataFrame
            The ``by`` columns then one column per measure, sorted by the ``by`` columns. Measures of different row
            sets (cost and tokens) are joined on the groups; a group absent from one row set has 0 there.
        """
        names = [measures] if isinstance(measures, str) else list(measures)
        specs = [MEASURES.lookup(n) for n in names]
        tables = {m.table for m in specs}
        if len(tables) != 1:
            raise ParameterError(f"measures {names} come from different tables ({', '.join(sorted(tables))})")
        out = None
        for row_set in dict.fromkeys(m.rows for m in specs):
            part = self._aggregate_rows(row_set, [m for m in specs if m.rows == row_set], list(by), labels=labels,
                                        match=tuple(match))  # fmt: skip
            out = part if out is None else out.merge(part, on=list(by), how="outer")
        return _finish(out, specs, list(by))

    def _aggregate_rows(self, row_set: str, specs: list[Measure], by: list[str], *, labels: bool,
                        match: tuple[Condition, ...]) -> pd.DataFrame:  # fmt: skip
        table_name = specs[0].table
        t = self.rows(row_set)
        if match:
            t = t.filter(compile_conditions(t, table_name, match))
        keys = {name: self._key(t, name, table_name=table_name, labels=labels) for name in by}
        grouped = t.mutate(**keys) if keys else t
        values = {m.name: _measure_expr(grouped, m) for m in specs}
        agg = grouped.group_by(list(keys)).aggregate(**values) if keys else grouped.aggregate(**values)
        return agg.to_pandas()

    def total(self, measure: str = "cost") -> Decimal | int:
        """Return one measure over everything in scope (money as Decimal, counts as int)."""
        frame = self.aggregate(measure)
        return frame[measure].iloc[0] if len(frame) else (Decimal(0) if MEASURES.lookup(measure).money else 0)

    def series(self, measure: str = "cost", *, by: str | None = None, grain: str = "day", top: int | None = None,
               fill: bool = False) -> pd.DataFrame:  # fmt: skip
        """Return one measure per period (and group of ``by``) as floats, for charts and models.

        Parameters
        ----------
        measure
            A measure name.
        by
            A dimension, or None for the total.
        grain
            ``hour``, ``day``, ``week`` or ``month``.
        top
            Keep the ``top`` largest groups by name and sum the others into ``Other``.
        fill
            Add the periods without rows (value 0) from the first to the last period of the window (or of the
            data, for an open window), for every group.

        Returns
        -------
        pandas.DataFrame
            ``<grain>``, ``<by>`` (when given) and ``<measure>`` (float), sorted.
        """
        check_grain(grain)
        keys = [grain, *([by] if by else [])]
        frame = self.aggregate(measure, by=keys)
        frame[measure] = frame[measure].map(float)
        if by and top is not None and frame[by].nunique() > top:
            order = frame.groupby(by)[measure].sum().sort_values(ascending=False, kind="stable")
            keep = set(order.index[:top])
            frame[by] = frame[by].where(frame[by].isin(keep), "Other")
            frame = frame.groupby(keys, as_index=False)[measure].sum()
        if fill and len(frame):
            frame = _fill(frame, grain, by, measure, self.start_date, self.end_date)
        return frame.sort_values(keys).reset_index(drop=True)

    def currency_totals(self) -> pd.DataFrame:
        """Return money per billing currency: as billed (exact, in that currency) and in the facts' currency.

        Returns
        -------
        pandas.DataFrame
            ``billing_currency``, ``billed`` (Decimal in that currency), ``cost`` (Decimal in :attr:`currency`; None
            for rows left out by ``convert=False``), ``rows``; largest first.
        """
        raw = self._filtered(self._scoped_costs, "costs")
        raw = raw.filter(raw.x_MoneyScope.isin(list(MONEY_SCOPES)))
        billed = raw.group_by(billing_currency=raw.BillingCurrency).aggregate(
            billed=raw.BilledCost.sum(), rows=raw.count()).to_pandas()  # fmt: skip
        shown = self.aggregate("cost", by=["billing_currency"], labels=False)
        out = billed.merge(shown, on="billing_currency", how="left")
        out["cost"] = [None if pd.isna(v) else v for v in out["cost"]]
        out["_order"] = out["cost"].map(lambda v: float(v) if v is not None else 0.0)
        return (out.sort_values(["_order", "billing_currency"], ascending=[False, True]).drop(columns="_order")
                [["billing_currency", "billed", "cost", "rows"]].reset_index(drop=True))  # fmt: skip

    def rates_used(self, table: str = "costs") -> pd.DataFrame:
        """Return the exchange rates the money rows (or the request logs) were converted with.

        Parameters
        ----------
        table
            ``costs`` (the money rows) or ``requests``.

        Returns
        -------
        pandas.DataFrame
            Pair, rate, range, derivation, exactness, source and ``rows_converted``; empty when nothing was
            converted.
        """
        if table == "requests":
            raw = self._filtered(attribute(in_window(self._requests, self.start_date, self.end_date), self.rules,
                                           table_name="requests", pools=False), "requests")  # fmt: skip
        else:
            raw = self._filtered(self._scoped_costs, "costs")
            raw = raw.filter(raw.x_MoneyScope.isin(list(MONEY_SCOPES)))
        if not self.options.convert:
            return pd.DataFrame(columns=[*fx.FX_COLUMNS, "derivation", "exact", "rows_converted"])
        _, used = self._conversion(raw)
        return used[used["from_currency"] != used["to_currency"]].reset_index(drop=True)

    def scope_summary(self) -> pd.DataFrame:
        """Return, per provider and money scope, the rows, their cost and their tokens: how the total is made.

        Returns
        -------
        pandas.DataFrame
            ``provider``, ``money_scope``, ``rows``, ``cost`` (Decimal; None where no row has a price) and
            ``tokens`` (of token rows), sorted by provider and scope.
        """
        t = self.cost_rows()
        agg = t.group_by(provider=t.ProviderName, money_scope=t.x_MoneyScope).aggregate(
            rows=t.count(), cost=t.BilledCost.sum(),
            tokens=ibis.ifelse(t.x_TokenScope != "none", t.ConsumedQuantity, 0).sum().cast("int64"))  # fmt: skip
        return agg.to_pandas().sort_values(["provider", "money_scope"]).reset_index(drop=True)

    def date_range(self, row_set: str = "all") -> tuple[date | None, date | None]:
        """Return the first and last charge day of a row set (None, None when it is empty)."""
        t = self.rows(row_set)
        stats = t.aggregate(lo=t.ChargePeriodStart.min(), hi=t.ChargePeriodStart.max()).to_pandas()
        lo, hi = stats.lo.iloc[0], stats.hi.iloc[0]
        return (None if pd.isna(lo) else lo.date()), (None if pd.isna(hi) else hi.date())

    def values(self, dimension: str, *, table: str = "costs") -> list[str]:
        """Return the distinct values of a dimension in the window, sorted (missing values left out)."""
        dim = DIMENSIONS.lookup(dimension)
        t = self.cost_rows() if table == "costs" else self.request_rows()
        column = dim.column(table)
        found = t.select(column).distinct().to_pandas()[column].dropna()
        return sorted(str(v) for v in found if str(v) != "")

    def __repr__(self) -> str:
        window = f"{self.start_date or '...'} to {self.end_date or '...'}"
        return f"Facts({self.currency}, {window}, filters={self.filters}, rules={self.rules.source!r})"


class _Explored:
    """The rows :meth:`Facts.explore` keeps: scoped and owned per rules, converted per currency.

    They are engine temporary tables, dropped when the last facts sharing them go (or with the connection).
    Rules that differ only in how shared pools are split (:meth:`~finops_lib.rules.Rules.with_strategy`) name the
    same owners, so they share the rows.
    """

    def __init__(self, costs: ir.Table | None, requests: ir.Table | None, rates: pd.DataFrame) -> None:
        self.costs, self.requests, self.rates = costs, requests, rates
        self._tables: dict[tuple, tuple[object, ir.Table]] = {}

    def _kept(self, key: tuple, keep: object, make: Any) -> ir.Table:
        if key not in self._tables:  # ``keep`` holds the objects whose ids are in the key: ids are never reused
            expr = make()
            table = kept.keep(expr)
            weakref.finalize(self, kept.release, expr.get_backend(), table)
            self._tables[key] = (keep, table)
        return self._tables[key][1]

    @staticmethod
    def _owners(rules: Rules) -> str:
        """Return what the owner columns depend on: the rules, the teams and where the shared pools are."""
        pools = [(s.match, s.valid_from, s.valid_to, s.applies_to) for s in rules.shared]
        return repr((rules.rules, sorted((k, sorted(v.items())) for k, v in rules.teams.items()), pools))

    def scoped(self, rules: Rules) -> ir.Table:
        """Every ``costs`` row with its scopes and owners under ``rules``."""
        return self._kept(("scoped", self._owners(rules)), None,
                          lambda: Facts(self.costs, rules=rules, rates=self.rates)._scoped_costs)

    def converted(self, table: str, facts: Facts) -> ir.Table:
        """Every row of ``costs`` (scoped) or ``requests`` (owned) in the currency of ``facts``, before filters."""
        owners = self._owners(facts.rules)
        key = (table, owners, facts.currency, facts.options.convert, id(facts.rates))
        if table == "costs":
            return self._kept(key, facts.rates, lambda: facts._convert(self.scoped(facts.rules)))
        owned = self._kept(("owned", owners), None,
                           lambda: attribute(self.requests, facts.rules, table_name="requests", pools=False))
        return self._kept(key, facts.rates, lambda: facts._convert(owned))


def open_facts(con: BaseBackend, **options: Any) -> Facts:
    """Return the :class:`Facts` of a warehouse (its ``costs``, ``requests`` and ``metrics`` tables).

    Parameters
    ----------
    con
        The warehouse (:func:`finops_lib.warehouse.open_data`).
    **options
        As :class:`Facts` (``currency``, ``rules``, ``start_date``, ``end_date``, ``filters``, ``convert``...).
    """
    tables = set(con.list_tables())
    costs = con.table("costs") if "costs" in tables else None
    requests = con.table("requests") if "requests" in tables else None
    metrics = con.table("metrics") if "metrics" in tables else None
    return Facts(costs, requests, metrics=metrics, **options)


def _measure_expr(t: ir.Table, m: Measure) -> ir.Value:
    if m.column is None:  # a count of rows (of the rows meeting ``where``)
        if m.where is None:
            return t.count().cast("int64")
        return (t[m.where[0]] == m.where[1]).fill_null(False).cast("int64").sum()
    if m.column == "*tokens":
        value = sum((t[c].fill_null(0) for c in REQUEST_TOKEN_COLUMNS.values()), ibis.literal(0))
    else:
        value = t[m.column]
        if m.fallback:
            value = ibis.coalesce(value, t[m.fallback])
    if m.where is not None:
        value = ibis.ifelse(t[m.where[0]] == m.where[1], value, 0)
    if m.unless is not None:
        value = ibis.ifelse((t[m.unless[0]] == m.unless[1]).fill_null(False), 0, value)
    if m.money:
        return value.cast(fx.MONEY).sum()
    return value.sum().cast("int64")


def _finish(frame: pd.DataFrame, specs: list[Measure], by: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for m in specs:
        if m.money:
            out[m.name] = [Decimal(0) if v is None or (isinstance(v, float) and v != v) else v for v in out[m.name]]
        else:
            out[m.name] = pd.to_numeric(out[m.name]).fillna(0).astype("int64")
    for key in by:
        if key in GRAINS:
            stamps = pd.to_datetime(out[key])
            stamps = stamps.dt.tz_convert(None) if stamps.dt.tz is not None else stamps
            out[key] = stamps.astype("datetime64[us]")  # one unit whatever the engine (DuckDB us, Spark ns)
    out = out[[*by, *(m.name for m in specs)]]
    return out.sort_values(by, kind="stable").reset_index(drop=True) if by else out.reset_index(drop=True)


def _fill(frame: pd.DataFrame, grain: str, by: str | None, value: str, start: date | None,
          end: date | None) -> pd.DataFrame:  # fmt: skip
    freq = {"hour": "h", "day": "D", "week": "W-MON", "month": "MS"}[grain]
    lo = pd.Timestamp(start) if start and grain == "day" else frame[grain].min()
    hi = pd.Timestamp(end) if end and grain == "day" else frame[grain].max()
    periods = pd.date_range(lo, hi, freq=freq) if grain != "week" else pd.date_range(lo, hi, freq="7D")
    if by:
        grid = pd.MultiIndex.from_product([periods, sorted(frame[by].unique())], names=[grain, by])
        return frame.set_index([grain, by])[value].reindex(grid, fill_value=0.0).reset_index()
    return frame.set_index(grain)[value].reindex(pd.Index(periods, name=grain), fill_value=0.0).reset_index()


def _release(table: ir.Table) -> None:
    """Drop a materialized table (ibis 12 with sqlglot 30 renders ``DROP TABLE`` without a name: use SQL then)."""
    name = table.get_name()
    try:
        table.release()
    except Exception:  # the failed release already forgot the table: drop it by name
        qualified = ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))
        table.get_backend().raw_sql(f"DROP TABLE IF EXISTS {qualified}")
