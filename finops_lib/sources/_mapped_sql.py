"""The SQL every ``mapped:<name>`` format shares, whichever table its mapping fills.

A mapped file is read as text (every column ``VARCHAR``); :class:`MappedSql` names the columns the mapping reads
(``c0``, ``c1``, ...), reads text fields from a column or a constant, parses times (ISO-8601, Unix numbers from an
epoch, strftime patterns, in a time zone), collects the faults that reject a record (source column, reason, value)
and writes them as the inline reject mark the loader moves to ``rejects``. The SELECTs themselves are built by
:mod:`~finops_lib.sources._mapped_requests` and :mod:`~finops_lib.sources._mapped_costs`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from finops_lib.models import canonical_model_sql
from finops_lib.sources._common import window_bounds, window_text
from finops_lib.sources._mapping_yaml import Mapping
from finops_lib.sources._sql import ident, quote

__all__ = ["TIME_FORMATS", "MappedSql", "file_stem"]

#: Unix time formats (:data:`~finops_lib.sources._mapping_yaml.UNIX_TIMES`) and the SQL giving their exact
#: microseconds from text: the number is read as a DECIMAL with the scale that makes its digits, dot removed,
#: the microseconds (fast INT64 decimals; wide DECIMAL(38) arithmetic is two orders of magnitude slower on
#: millions of rows).
TIME_FORMATS = {
    "unix_s": "TRY_CAST(replace(CAST(TRY_CAST({v} AS DECIMAL(18, 6)) AS VARCHAR), '.', '') AS BIGINT)",
    "unix_ms": "TRY_CAST(replace(CAST(TRY_CAST({v} AS DECIMAL(18, 3)) AS VARCHAR), '.', '') AS BIGINT)",
    "unix_us": "TRY_CAST(TRY_CAST({v} AS DECIMAL(18, 0)) AS BIGINT)",
    "unix_ns": "TRY_CAST({v} AS BIGINT) // 1000",
}
#: Microseconds either side of the epoch a Unix time may lie (about 317 years): farther is a bad value.
_MAX_MICROS = 10**16
_TIME_PART = r"[0-9]:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?\s*(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$"


def file_stem(path: Path) -> str:
    """Return the file's name without its suffixes (``.csv``, ``.csv.gz``): the ``{stem}`` of constants.

    Examples
    --------
    >>> file_stem(Path("/x/trace_2024.csv.gz"))
    'trace_2024'
    """
    name = path.name.removesuffix(".gz")
    return name.rsplit(".", 1)[0] if "." in name else name


class MappedSql:
    """Builds the parts of a mapping's one streaming SELECT over a source whose columns are all text."""

    def __init__(self, m: Mapping, stem: str) -> None:
        self.m, self.stem = m, stem
        used = [*m.source_columns(), *m.tags]
        self.alias = {col: f"c{i}" for i, col in enumerate(dict.fromkeys(used))}
        self.faults: list[tuple[str, str, str, str]] = []  # (condition, source column, reason, value SQL)

    def selected(self, present: set[str]) -> str:
        """Return the select list naming the source's columns ``c0``, ``c1``...; a missing one is NULL text."""
        return ", ".join(
            f"{ident(src)} AS {a}" if src in present else f"NULL::VARCHAR AS {a}" for src, a in self.alias.items()
        )

    def col(self, target: str) -> str | None:
        """Return the alias of the column mapped to ``target``, if any."""
        source = self.m.source(target)
        return None if source is None else self.alias[source]

    def text(self, target: str) -> str:
        """Return SQL of a text field: its column trimmed (NULL when empty), its constant, or NULL."""
        alias = self.col(target)
        if alias is not None:
            return f"nullif(trim({alias}), '')"
        value = self.m.constants.get(target)
        return "NULL::VARCHAR" if value is None else quote(value.replace("{stem}", self.stem))

    def time(self, target: str, column: str) -> str | None:
        """Return the SQL of a time field (faults refer to ``column``, its name in the parsed CTE)."""
        alias = self.col(target)
        if alias is None:
            return None
        v, fmt, tz = f"trim({alias})", self.m.time_format, quote(self.m.timezone)
        if fmt == "iso":
            sql = (
                f"CASE WHEN regexp_matches({v}, {quote(_TIME_PART)}) THEN TRY_CAST({v} AS TIMESTAMPTZ) "
                f"ELSE timezone({tz}, TRY_CAST({v} AS TIMESTAMP)) END"
            )
        elif fmt in TIME_FORMATS:
            micros = TIME_FORMATS[fmt].format(v=v)
            epoch = (self.m.epoch - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
            sql = (
                f"CASE WHEN abs({micros}) < {_MAX_MICROS} THEN timezone('UTC', make_timestamp({epoch} + {micros})) END"
            )
        elif "%z" in fmt or "%Z" in fmt:
            sql = f"try_strptime({v}, {quote(fmt)})::TIMESTAMPTZ"
        else:
            sql = f"timezone({tz}, try_strptime({v}, {quote(fmt)}))"
        what = "an ISO-8601 time" if fmt == "iso" else f"a {fmt} time" if fmt in TIME_FORMATS else f"a {fmt!r} time"
        if target == "ChargePeriodStart":
            self.fault(f"nullif({v}, '') IS NULL", target, "missing time")
        if fmt in TIME_FORMATS:  # a number too far from the epoch to be a time: outside the window
            self.fault(f"{column} IS NULL AND isfinite(TRY_CAST({v} AS DOUBLE))", target, window_text())
        self.fault(f"{column} IS NULL AND nullif({v}, '') IS NOT NULL", target, f"not {what}")
        start, end = window_bounds()
        self.fault(
            f"NOT ({column} >= '{start:%Y-%m-%d} 00:00:00+00' AND {column} < '{end:%Y-%m-%d} 00:00:00+00')",
            target,
            window_text(),
        )
        return sql

    def fault(self, condition: str, target: str, reason: str) -> None:
        """Note a fault: where ``condition`` holds, the record is rejected naming ``target``'s source column."""
        source = self.m.source(target)
        self.faults.append((condition, source or target, reason, self.alias.get(source, "NULL") if source else "NULL"))

    def fault_case(self) -> str:
        """Return the CASE giving ``column<US>reason<US>value`` of a record's first fault (NULL when none)."""
        whens = " ".join(
            f"WHEN {cond} THEN {quote(src)} || chr(31) || {quote(reason)} || chr(31) || "
            f"coalesce(left({value}, 200), '')"
            for cond, src, reason, value in self.faults
        )
        return f"CASE {whens} END"

    def model(self) -> tuple[str, str]:
        """Return SQL of the raw model text and of its canonical id (through the mapping's ``models:``)."""
        raw = (
            self.text("x_ModelRaw")
            if (self.col("x_ModelRaw") or "x_ModelRaw" in self.m.constants)
            else self.text("x_Model")
        )
        if self.m.models:
            cases = " ".join(f"WHEN {quote(k)} THEN {quote(v)}" for k, v in self.m.models.items())
            return raw, canonical_model_sql(f"CASE {raw} {cases} ELSE {raw} END")
        return raw, canonical_model_sql(raw)

    def tags(self, present: set[str]) -> str:
        """Return SQL of the ``Tags`` JSON object of the tag columns the file has (NULL when none)."""
        pairs = [f"{quote(self.m.tag_keys.get(t, t))}, {self.alias[t]}" for t in self.m.tags if t in present]
        return f"json_object({', '.join(pairs)})" if pairs else "NULL::VARCHAR"
