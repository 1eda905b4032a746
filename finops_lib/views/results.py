"""A notebook's ``results.json``: written once per page, read by the report index and the tests."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from finops_lib import paths
from finops_lib.share import atomic_write


def write_results(output_dir: str | Path, results: dict[str, object]) -> Path:
    """Write a notebook's ``results.json`` into ``output_dir`` and return its path.

    A relative ``output_dir`` is taken from the project root (``build/00_data_overview`` lands in
    :data:`finops_lib.paths.BUILD_DIR`), never from the working directory; the report passes an
    absolute folder. Dates and decimals are written as text; a missing value (NaN, NaT, infinity) as ``null``, so
    the file is strict JSON any reader parses.

    Examples
    --------
    >>> import math, tempfile
    >>> path = write_results(tempfile.mkdtemp(), {"breach_date": math.nan, "rows": [1.5, float("inf")]})
    >>> json.loads(path.read_text())
    {'breach_date': None, 'rows': [1.5, None]}
    """
    folder = Path(output_dir).expanduser()
    folder = folder if folder.is_absolute() else paths.PROJECT_ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "results.json"
    text = json.dumps(_strict(results), indent=2, default=_text, ensure_ascii=False, allow_nan=False)
    atomic_write(target, text + "\n")
    return target


def _missing(value: object) -> bool:
    return value is pd.NaT or (isinstance(value, float) and not math.isfinite(value))


def _strict(value: object) -> object:
    """Return ``value`` with every missing number (NaN, NaT, infinity) as None, containers walked."""
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(item) for item in value]
    return None if _missing(value) else value


def _text(value: object) -> object:
    """Write what JSON has no type for (dates, decimals, numpy numbers) as text, a missing one as null."""
    return None if _missing(value) else str(value)
