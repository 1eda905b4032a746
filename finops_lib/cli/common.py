"""What the ``finops`` commands share: the data folder's facts, user mappings, printing a table."""

from __future__ import annotations

import argparse

import pandas as pd

from finops_lib import checks, paths
from finops_lib.facts import Facts, open_facts
from finops_lib.rules import resolve_rules
from finops_lib.sources.mapped import register_mapping
from finops_lib.warehouse import open_data

__all__ = ["data_facts", "print_frame", "register_mappings"]


def print_frame(frame: pd.DataFrame) -> None:
    """Print a table without its index, wide enough for a terminal."""
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.max_colwidth", 70):
        print(frame.to_string(index=False))


def register_mappings(files: list[str] | None) -> None:
    """Register user column mappings (``--mapping``) as source formats."""
    for file in files or ():
        print(f"mapping {file}: format {register_mapping(file)}")


def data_facts(args: argparse.Namespace, *, rules_file: str = "") -> tuple[object, Facts]:
    """Return the open warehouse of ``--data`` and its facts in ``--currency`` (window and rules as given).

    Without ``--data`` the sample is read only when no ``--warehouse`` is named either; a warehouse of one's own
    is read alone (its rules from ``--rules`` only).

    The warehouse stays open: the caller disconnects it when done.
    """
    folder = paths.data_folder(args.data, args.warehouse)
    con = open_data(folder, warehouse=args.warehouse)
    options = {"currency": checks.currency_code(getattr(args, "currency", "USD"), name="--currency"),
               "rules": resolve_rules(rules_file, folder),
               "start_date": getattr(args, "start_date", None), "end_date": getattr(args, "end_date", None),
               "convert": not getattr(args, "only_billed_in_currency", False)}  # fmt: skip
    return con, open_facts(con, **options)
