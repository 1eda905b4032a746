"""``finops formats``: list the registered source formats."""

from __future__ import annotations

import argparse

import pandas as pd

from finops_lib.cli.common import print_frame
from finops_lib.sources import SOURCES


def run(args: argparse.Namespace) -> int:
    """Print every registered format, its table and what it reads."""
    print_frame(pd.DataFrame([{"format": s.name, "table": s.table, "description": s.description}
                              for s in SOURCES.values()]))  # fmt: skip
    return 0
