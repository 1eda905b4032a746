"""Experiments and quality scores that the request logs do not carry: a mapping file and a scores file.

Loaders already fill ``x_ExperimentId``/``x_Variant`` from LiteLLM metadata and request tags, Langfuse tags and
OpenTelemetry attributes, and ``x_QualityScore`` where scores were logged. These two CSV files cover the rest:

* **experiment mapping** (``experiment_id,variant`` plus any of the match columns :data:`MATCH_COLUMNS` and an
  optional ``start_date``/``end_date``, inclusive UTC days): a request without a logged experiment gets the first
  matching row's experiment and variant; empty match cells match anything;
* **quality scores** (``request_id,score``, score in [0, 1]): joined on ``x_RequestId``; a score in the file
  replaces the logged one.

Errors name the file, the line (header = line 1), the column and the value.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from finops_lib.errors import SourceError

__all__ = ["MATCH_COLUMNS", "assign_experiments", "join_quality", "read_experiment_map", "read_quality"]

MATCH_COLUMNS: tuple[str, ...] = ("x_Application", "x_Feature", "x_Environment", "x_Team", "x_ApiKeyId", "x_Model",
                                  "x_UserId", "x_SessionId", "ProviderName")  # fmt: skip


def _rows(path: str | Path, required: tuple[str, ...]) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in (reader.fieldnames or [])]
            rows = [(reader.line_num, {k.strip(): (v or "").strip() for k, v in row.items() if k}) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(path, f"cannot read: {exc}") from exc
    missing = [c for c in required if c not in header]
    if missing:
        raise SourceError(path, f"missing column(s) {missing}; found {header}", line=1)
    return header, rows


def read_quality(path: str | Path) -> pd.DataFrame:
    """Read a scores file ``request_id,score``.

    Parameters
    ----------
    path : str or Path
        CSV file.

    Returns
    -------
    DataFrame
        ``x_RequestId``, ``score`` (float in [0, 1]).

    Raises
    ------
    SourceError
        A missing column, a score that is not a number in [0, 1], or a request id listed twice.
    """
    _, rows = _rows(path, ("request_id", "score"))
    seen: dict[str, int] = {}
    out = []
    for line, row in rows:
        rid = row["request_id"]
        try:
            score = float(row["score"])
        except ValueError:
            score = math.nan
        if not 0 <= score <= 1:
            raise SourceError(path, "not a number in [0, 1]", line=line, column="score", value=row["score"])
        if rid in seen:
            raise SourceError(path, f"already scored on line {seen[rid]}", line=line, column="request_id", value=rid)
        seen[rid] = line
        out.append({"x_RequestId": rid, "score": score})
    return pd.DataFrame(out, columns=["x_RequestId", "score"])


def join_quality(requests: ir.Table, scores: pd.DataFrame) -> ir.Table:
    """Set ``x_QualityScore`` from a scores frame (:func:`read_quality`), keeping logged scores elsewhere.

    Parameters
    ----------
    requests : ibis Table
        The ``requests`` table.
    scores : DataFrame
        ``x_RequestId``, ``score``.

    Returns
    -------
    ibis Table
        Same columns as ``requests``.
    """
    s = ibis.memtable(scores.rename(columns={"x_RequestId": "_rid", "score": "_score"}))
    j = requests.left_join(s, requests.x_RequestId == s._rid)
    return j.mutate(x_QualityScore=j._score.cast("float64").fill_null(j.x_QualityScore))[requests.columns]


def _day(path: str | Path, line: int, column: str, value: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise SourceError(path, "not a YYYY-MM-DD date", line=line, column=column, value=value) from exc


def read_experiment_map(path: str | Path) -> pd.DataFrame:
    """Read an experiment mapping file.

    Parameters
    ----------
    path : str or Path
        CSV with ``experiment_id``, ``variant``, any of :data:`MATCH_COLUMNS`, optional ``start_date`` and
        ``end_date``.

    Returns
    -------
    DataFrame
        One row per rule in file order, ``line`` included; empty match cells are None.

    Raises
    ------
    SourceError
        Missing columns, an unknown column, a bad date, an empty experiment or variant, or a rule that matches
        everything.
    """
    header, rows = _rows(path, ("experiment_id", "variant"))
    known = {"experiment_id", "variant", "start_date", "end_date", *MATCH_COLUMNS}
    unknown = [h for h in header if h not in known]
    if unknown:
        raise SourceError(path, f"unknown column(s) {unknown}; match columns are {list(MATCH_COLUMNS)}", line=1)
    out = []
    for line, row in rows:
        for col in ("experiment_id", "variant"):
            if not row.get(col):
                raise SourceError(path, "empty", line=line, column=col)
        match = {c: row.get(c) or None for c in MATCH_COLUMNS}
        if not any(match.values()):
            raise SourceError(path, f"the rule matches every request; give at least one of {list(MATCH_COLUMNS)}",
                                  line=line)  # fmt: skip
        out.append({"line": line, "experiment_id": row["experiment_id"], "variant": row["variant"], **match,
                    "start_date": _day(path, line, "start_date", row.get("start_date", "")),
                    "end_date": _day(path, line, "end_date", row.get("end_date", ""))})  # fmt: skip
    return pd.DataFrame(out)


def assign_experiments(requests: ir.Table, rules: pd.DataFrame) -> ir.Table:
    """Give requests without a logged experiment the first matching rule's experiment and variant.

    Parameters
    ----------
    requests : ibis Table
        The ``requests`` table.
    rules : DataFrame
        :func:`read_experiment_map`.

    Returns
    -------
    ibis Table
        Same columns; logged experiments are kept.
    """
    day = requests.ChargePeriodStart.date()
    exp_cases, var_cases = [], []
    for rule in rules.to_dict("records"):
        cond = ibis.literal(True)
        for col in MATCH_COLUMNS:
            if rule.get(col) is not None and not pd.isna(rule.get(col)):
                cond &= requests[col] == rule[col]
        if rule.get("start_date") is not None and not pd.isna(rule["start_date"]):
            cond &= day >= rule["start_date"]
        if rule.get("end_date") is not None and not pd.isna(rule["end_date"]):
            cond &= day <= rule["end_date"]
        exp_cases.append((cond, rule["experiment_id"]))
        var_cases.append((cond, rule["variant"]))
    if not exp_cases:
        return requests
    logged = requests.x_ExperimentId.notnull()
    return requests.mutate(
        x_ExperimentId=ibis.ifelse(logged, requests.x_ExperimentId, ibis.cases(*exp_cases, else_=None)),
        x_Variant=ibis.ifelse(logged, requests.x_Variant, ibis.cases(*var_cases, else_=None)),
    )
