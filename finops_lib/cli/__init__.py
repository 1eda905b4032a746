"""The ``finops`` command line: :func:`main` is the entry point.

:mod:`finops_lib.cli.parser` declares every command's arguments; one module per command (``ingest``,
``chargeback``, ``forecast``, ``anomalies``...) carries it out with ``run(args)``, reading money and series
through the facts layer. Errors of the workbench print one clear line and exit 2; anything else is a bug and
shows its traceback.

Start-up: only the chosen command's module is imported, and Python's cyclic garbage collector is paused while the
modules load (ibis, DuckDB and pandas create a few hundred thousand objects, none of them garbage: the full
collections their growth triggers, and the one at exit, cost about 0.2 s). In the command's own process (``argv``
None) the loaded modules are then frozen out of every later collection, the one at exit included
(docs/scale.md has the figures).
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

_COLLECTING = gc.isenabled()
gc.disable()  # resumed below the imports, which load ibis and DuckDB: see the docstring

import duckdb  # noqa: E402

from finops_lib import engine  # noqa: E402
from finops_lib.cli.parser import build_parser  # noqa: E402
from finops_lib.errors import FinopsError  # noqa: E402

if _COLLECTING:
    gc.enable()

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    ``argv`` None (the ``finops`` command itself) reads ``sys.argv`` and treats the process as the command's own:
    the modules loaded stay out of the garbage collector's reach until exit.
    """
    args = build_parser().parse_args(argv)
    with _loading(freeze=argv is None):
        command = importlib.import_module(f"finops_lib.cli.{args.command}")
    try:
        return int(command.run(args))
    except FinopsError as exc:
        print(f"finops: error: {exc}", file=sys.stderr)
        return 2
    except (duckdb.Error, OSError) as exc:  # a full disk is the one engine failure that is not a bug
        refused = engine.storage_error(exc)
        if refused is None:
            raise
        print(f"finops: error: {refused}", file=sys.stderr)
        return 2


@contextmanager
def _loading(*, freeze: bool) -> Iterator[None]:
    """Pause the cyclic garbage collector while modules load; with ``freeze``, keep what they built out of it."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if collecting:
            gc.enable()


if __name__ == "__main__":
    sys.exit(main())
