"""``finops schema-doc``: write ``docs/schema.md`` from the declared tables (or check it is current)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from finops_lib.schema import render_markdown
from finops_lib.share import atomic_write


def run(args: argparse.Namespace) -> int:
    """Write docs/schema.md from the declaration; with ``--check``, exit 1 when it is stale."""
    target = Path(args.out)
    text = render_markdown()
    if args.check:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            print(f"{target} is stale: run `finops schema-doc`", file=sys.stderr)
            return 1
        print(f"{target} is current")
        return 0
    atomic_write(target, text)
    print(f"wrote {target}")
    return 0
