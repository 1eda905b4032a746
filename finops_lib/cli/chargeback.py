"""``finops chargeback``: allocate the workspace's spend with its rules and write the chargeback CSV."""

from __future__ import annotations

import argparse

from finops_lib.allocation import allocate, write_chargeback
from finops_lib.cli.workspace_facts import data_facts


def run(args: argparse.Namespace) -> int:
    """Allocate and write the CSV: one line per month, business unit, cost center and team, in one currency."""
    con, facts = data_facts(args, rules_file=args.rules)
    try:
        path = write_chargeback(allocate(facts), args.out, neutralise_text=not args.raw_csv)
    finally:
        con.disconnect()  # type: ignore[attr-defined]
    print(f"chargeback in {facts.currency} written to {path}")
    return 0
