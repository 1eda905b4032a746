"""A notebook's ``results.json``: written once per page, read by the report index and the tests."""

from __future__ import annotations

import json
from pathlib import Path

from finops_lib import paths


def write_results(output_dir: str | Path, results: dict[str, object]) -> Path:
    """Write a notebook's ``results.json`` into ``output_dir`` and return its path.

    A relative ``output_dir`` is taken from the project root (``build/00_data_overview`` lands in
    :data:`finops_lib.paths.BUILD_DIR`), never from the working directory; the report passes an
    absolute folder. Dates and decimals are written as text.
    """
    folder = Path(output_dir).expanduser()
    folder = folder if folder.is_absolute() else paths.PROJECT_ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "results.json"
    target.write_text(json.dumps(results, indent=2, default=str, ensure_ascii=False) + "\n", encoding="utf-8")
    return target
