"""Portable functions the analytic layer needs and ibis does not carry: JSON reads, one rendering per engine.

Tags, metadata and request tags arrive as JSON text. Three operations read them, each an ibis operation compiled
by the engine the query runs on, so rules, owners and exports are written once:

* :func:`json_valid` -- the text parses as JSON (malformed text never matches a rule; it is not an error).
* :func:`json_string` -- the value under nested keys as text: strings unquoted, numbers and booleans as written
  by the engine's JSON writer (``1.5``, ``true``), objects and arrays as compact JSON, JSON ``null`` and absent
  keys as null.
* :func:`json_string_list` -- an array under nested keys as a list of strings (same rendering per element).

Renderings (the only place engine SQL for these lives):

========  ============================================  ==============================================
function  DuckDB                                        Spark
========  ============================================  ==============================================
valid     ``json_valid(t)``                             ``get_json_object(t, '$') IS NOT NULL`` (null: null)
string    ``json_extract_string(t, '$."a"."b"')``       ``get_json_object(t, '$[''a''][''b'']')``
list      ``json_extract_string(t, '$."a"[*]')``        ``from_json(get_json_object(t, '$[''a'']'),
                                                        'array<string>')``
========  ============================================  ==============================================

Both engines agree on the renderings above (tested in ``tests/test_engine_functions.py`` on the same inputs).
Spark's JSON path cannot name a key holding a single quote: such a key is refused with a clear error when the
query is compiled for Spark, never silently read as null. ibis's own JSON support is not used: its Spark
rendering writes ``$.key`` paths, which break on keys with dots or spaces, and its ``unwrap_as("str")`` returns
null for numbers, where tags such as ``"cost_center": 4410`` must read as text.

Examples
--------
>>> import ibis
>>> t = ibis.memtable({"tags": ['{"team": "search", "n": 2}', "not json"]})
>>> print(ibis.to_sql(t.select(team=json_string(t.tags, ("team",))), dialect="duckdb").splitlines()[1].strip())
JSON_EXTRACT_STRING("t0"."tags", '$."team"') AS "team"
>>> guarded = ibis.ifelse(json_valid(t.tags), t.tags, None)
>>> picked = t.select(team=json_string(guarded, ("team",)), n=json_string(guarded, ("n",)))
>>> ibis.duckdb.connect().to_pyarrow(picked).to_pydict()
{'team': ['search', None], 'n': ['2', None]}
"""

from __future__ import annotations

import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.rules as rlz
import ibis.expr.types as ir
import sqlglot.expressions as sge
from ibis.backends.sql.compilers.duckdb import DuckDBCompiler
from ibis.backends.sql.compilers.pyspark import PySparkCompiler
from ibis.common.typing import VarTuple

from finops_lib.errors import ParameterError

__all__ = ["json_string", "json_string_list", "json_valid", "spark_path"]


class JsonValid(ops.Value):
    """The text parses as JSON."""

    arg: ops.Value[dt.String]

    dtype = dt.boolean
    shape = rlz.shape_like("arg")


class JsonString(ops.Value):
    """The value under ``keys`` as text (see the module's rendering rules)."""

    arg: ops.Value[dt.String]
    keys: VarTuple[str]

    dtype = dt.string
    shape = rlz.shape_like("arg")


class JsonStringList(ops.Value):
    """The array under ``keys`` as a list of strings."""

    arg: ops.Value[dt.String]
    keys: VarTuple[str]

    dtype = dt.Array(dt.string)
    shape = rlz.shape_like("arg")


def json_valid(text: ir.StringValue) -> ir.BooleanValue:
    """Return whether ``text`` parses as JSON (null text: null)."""
    return JsonValid(text).to_expr()


def json_string(text: ir.StringValue, keys: tuple[str, ...]) -> ir.StringValue:
    """Return the value of ``text`` (JSON) under the nested ``keys`` as a string, null when absent.

    Parameters
    ----------
    text
        A string column holding JSON text (malformed text: null on Spark; DuckDB raises, so guard with
        :func:`json_valid` as :func:`finops_lib.rules.match.json_text` does).
    keys
        Nested object keys, outermost first (at least one).
    """
    if not keys:
        raise ValueError("json_string needs at least one key")
    return JsonString(text, tuple(keys)).to_expr()


def json_string_list(text: ir.StringValue, keys: tuple[str, ...]) -> ir.ArrayValue:
    """Return the JSON array of ``text`` under the nested ``keys`` as a list of strings, null when absent."""
    if not keys:
        raise ValueError("json_string_list needs at least one key")
    return JsonStringList(text, tuple(keys)).to_expr()


def duckdb_path(keys: tuple[str, ...], *, each: bool = False) -> str:
    r"""Return DuckDB's JSON path for nested keys (``$."a"."b"``; ``[*]`` appended for each array element).

    Examples
    --------
    >>> print(duckdb_path(("spend_logs_metadata", 'a"b')))
    $."spend_logs_metadata"."a\"b"
    """
    path = "$" + "".join('."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"' for key in keys)
    return path + "[*]" if each else path


def spark_path(keys: tuple[str, ...]) -> str:
    """Return Spark's JSON path for nested keys (``$['a']['b']``, which takes dots and spaces in keys).

    Raises
    ------
    ParameterError
        When a key holds a single quote, which Spark's JSON path cannot express.

    Examples
    --------
    >>> spark_path(("metadata", "cost center"))
    "$['metadata']['cost center']"
    """
    bad = [key for key in keys if "'" in key]
    if bad:
        raise ParameterError(f"JSON key {bad[0]!r} holds a single quote, which Spark's JSON path cannot read; "
                             "rename the tag key or run this on DuckDB")  # fmt: skip
    return "$" + "".join(f"['{key}']" for key in keys)


# -- DuckDB ------------------------------------------------------------------------------------------------


def _call(name: str, *args: sge.Expression) -> sge.Expression:
    """Return a plain function call (sqlglot would otherwise parse JSON paths and write them back without escapes)."""
    return sge.Anonymous(this=name, expressions=list(args))


def _duck_valid(self, op, *, arg):
    return _call("json_valid", arg)


def _duck_string(self, op, *, arg, keys):
    return _call("json_extract_string", arg, sge.convert(duckdb_path(op.keys)))


def _duck_list(self, op, *, arg, keys):
    return _call("json_extract_string", arg, sge.convert(duckdb_path(op.keys, each=True)))


# -- Spark -------------------------------------------------------------------------------------------------


def _spark_valid(self, op, *, arg):
    parsed = _call("get_json_object", arg, sge.convert("$")).is_(sge.null()).not_()
    return sge.Case(ifs=[sge.If(this=arg.is_(sge.null()), true=sge.null())], default=parsed)  # null stays null


def _spark_string(self, op, *, arg, keys):
    return _call("get_json_object", arg, sge.convert(spark_path(op.keys)))


def _spark_list(self, op, *, arg, keys):
    return _call("from_json", _call("get_json_object", arg, sge.convert(spark_path(op.keys))),
                 sge.convert("array<string>"))  # fmt: skip


_RENDERINGS = {
    DuckDBCompiler: {JsonValid: _duck_valid, JsonString: _duck_string, JsonStringList: _duck_list},
    PySparkCompiler: {JsonValid: _spark_valid, JsonString: _spark_string, JsonStringList: _spark_list},
}


def _register() -> None:
    """Teach each engine's compiler the operations (ibis dispatches on ``visit_<OperationName>``)."""
    for compiler, renderings in _RENDERINGS.items():
        for op, render in renderings.items():
            setattr(compiler, f"visit_{op.__name__}", render)


_register()
