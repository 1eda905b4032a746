"""Project folders, resolved from the package location (never the working directory), and reading small config CSVs."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable
from pathlib import Path

#: Root of the source checkout (the folder holding ``pyproject.toml``).
PROJECT_ROOT: Path = Path(__file__).resolve().parent.parent
#: The committed sample organisation (``finops sample`` with default options).
SAMPLE_DIR: Path = PROJECT_ROOT / "data" / "sample"
#: Notebooks of the catalog.
NOTEBOOKS_DIR: Path = PROJECT_ROOT / "notebooks"
#: Executed notebooks and scratch output.
BUILD_DIR: Path = PROJECT_ROOT / "build"
#: Rendered reports.
REPORTS_DIR: Path = PROJECT_ROOT / "reports"
#: Data shipped inside the package (price lists, templates).
PACKAGE_DATA_DIR: Path = Path(__file__).resolve().parent / "data"


def data_folder(data_dir: str | Path | None, warehouse: str | Path | None = None) -> str | None:
    """Return the data folder a run reads, as an absolute path; the committed sample only when nothing is named.

    An empty ``data_dir`` means the sample when no ``warehouse`` is named either (the demo default of the
    notebooks and commands). With a warehouse of one's own and no folder the answer is None: the warehouse is
    read as it is, and nothing of the sample (its files, rules, budgets, prices or answer key) reaches it.

    Examples
    --------
    >>> data_folder("", None) == str(SAMPLE_DIR), data_folder("", "my.duckdb")
    (True, None)
    """
    if data_dir:
        return str(Path(data_dir).expanduser().resolve())
    return None if warehouse else str(SAMPLE_DIR)


def shown(path: str | Path | None) -> str:
    """Return a path as a shared output shows it: never the machine's folder layout.

    Inside the project: relative to it (``data/sample``); elsewhere: ``.../`` and its last two parts (a report
    mailed to others does not tell where the exports live, and reads the same when the folder moves). Text that is
    not a file path (``(tags only)``, ``none``) is returned as it is.

    Examples
    --------
    >>> shown(SAMPLE_DIR / "config" / "allocation_rules.yaml")
    'data/sample/config/allocation_rules.yaml'
    >>> shown("/home/ana/finance/exports/openai"), shown("(tags only)"), shown(None)
    ('.../exports/openai', '(tags only)', '')
    """
    if not path:
        return ""
    text = str(path)
    if not os.path.isabs(os.path.expanduser(text)):
        return text
    full = Path(text).expanduser().resolve()
    if full.is_relative_to(PROJECT_ROOT):
        return full.relative_to(PROJECT_ROOT).as_posix() or "."
    return ".../" + "/".join(full.parts[-2:]) if len(full.parts) > 2 else full.as_posix()


def is_sample(data_dir: str | Path | None) -> bool:
    """Return True when ``data_dir`` is the committed sample's folder (None is no folder, never the sample).

    Examples
    --------
    >>> is_sample(SAMPLE_DIR), is_sample(None), is_sample(PROJECT_ROOT)
    (True, False, False)
    """
    return bool(data_dir) and Path(data_dir).expanduser().resolve() == SAMPLE_DIR.resolve()


def warehouse_dir() -> Path:
    """Return the warehouse folder: ``$FINOPS_WAREHOUSE`` or ``data/warehouse/``.

    Returns
    -------
    Path
        The folder (not created here).
    """
    env = os.environ.get("FINOPS_WAREHOUSE")
    return Path(env).expanduser().resolve() if env else PROJECT_ROOT / "data" / "warehouse"


def csv_rows(path: str | Path, *, required: Iterable[str], parse: Callable[[dict[str, str], str], dict],
             missing: Callable[[str, str], Exception]) -> list[dict]:  # fmt: skip
    """Read a small configuration CSV (rates, prices, aliases), checking every row on its own.

    ``parse(row, where)`` receives each row with ``where`` = ``"<file>, line <n>"`` (the header is line 1) and
    returns the parsed row, or raises an error naming that place; ``missing(column, file)`` builds the error
    raised when the header lacks a required column.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        absent = [c for c in required if c not in (reader.fieldnames or [])]
        if absent:
            raise missing(absent[0], str(path))
        return [parse(row, f"{path}, line {i}") for i, row in enumerate(reader, start=2)]
