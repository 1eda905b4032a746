"""The ``finops`` command line: :func:`main` is the entry point.

:mod:`finops_lib.cli.parser` declares every command's arguments; one module per command (``ingest``,
``chargeback``, ``forecast``, ``anomalies``...) carries it out with ``run(args)``, reading money and series
through the facts layer. Errors of the workbench print one clear line and exit 2; anything else is a bug and
shows its traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import duckdb

from finops_lib import engine
from finops_lib.cli.parser import build_parser
from finops_lib.errors import FinopsError

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        command = importlib.import_module(f"finops_lib.cli.{args.command}")
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


if __name__ == "__main__":
    sys.exit(main())
