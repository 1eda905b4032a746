"""``finops sample``: write the fictional sample organisation's files in every vendor's format."""

from __future__ import annotations

import argparse

from finops_lib.sample import generate


def run(args: argparse.Namespace) -> int:
    """Write the sample organisation."""
    manifest = generate(args.out, days=args.days, seed=args.seed, scale=args.scale, end_date=args.end_date,
                        compress_gateway_logs=not args.no_compress)  # fmt: skip
    files = manifest.get("files", [])
    print(f"wrote {len(files)} files to {args.out} ({manifest['date_range']['start']} to "
          f"{manifest['date_range']['end']}, seed {args.seed}, scale {args.scale})")  # fmt: skip
    return 0
