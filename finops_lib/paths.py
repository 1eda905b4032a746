"""Project folders, resolved from the package location (never the working directory)."""

from __future__ import annotations

import os
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


def warehouse_dir() -> Path:
    """Return the warehouse folder: ``$FINOPS_WAREHOUSE`` or ``data/warehouse/``.

    Returns
    -------
    Path
        The folder (not created here).
    """
    env = os.environ.get("FINOPS_WAREHOUSE")
    return Path(env).expanduser().resolve() if env else PROJECT_ROOT / "data" / "warehouse"
