"""``finops normalize``: convert files to a Parquet file of the schema, without a warehouse."""

from __future__ import annotations

import argparse

from finops_lib.cli.common import register_mappings
from finops_lib.warehouse import normalize


def run(args: argparse.Namespace) -> int:
    """Convert files to Parquet; rejects go beside it."""
    register_mappings(args.mapping)
    info = normalize(args.paths, args.out, format=args.format, table=args.table)
    print(f"{info['records_read']} records read: {info['rows']} {info['table']} rows written to {args.out}; "
          f"{info['records_rejected']} rejected to {info['rejects']}")  # fmt: skip
    return 0
