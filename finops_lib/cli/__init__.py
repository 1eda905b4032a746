"""The ``finops`` command line: one module per command, :func:`main` the entry point."""

from finops_lib.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
