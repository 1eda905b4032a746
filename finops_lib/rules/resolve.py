"""Which rules and feature map a notebook or command uses: the data folder's file, a given file, or tags only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from finops_lib import paths
from finops_lib.rules.feature_map import FEATURE_MAP_FILE, FeatureMap, load_feature_map
from finops_lib.rules.model import Rules
from finops_lib.rules.rulesfile import load_rules

T = TypeVar("T")
#: Where a data folder keeps its rules (``config/`` folders are never ingested).
RULES_FILE = Path("config") / "allocation_rules.yaml"


def find_rules(data_dir: str | Path | None = None) -> Path | None:
    """Return ``<data_dir>/config/allocation_rules.yaml`` when it exists, else None (always None without a folder)."""
    if not data_dir:
        return None
    path = Path(data_dir).expanduser() / RULES_FILE
    return path if path.is_file() else None


def resolve_rules(rules_file: str | Path | None = "", data_dir: str | Path | None = None) -> Rules:
    """Return the rules a notebook or command asks for.

    Parameters
    ----------
    rules_file
        ``""`` or None: the data folder's ``config/allocation_rules.yaml`` when present, else tags only;
        ``"none"``: tags only; otherwise a path (relative paths are taken from the project root).
    data_dir
        The data folder whose rules apply; None: no folder, so no folder rules (never the sample's).

    Raises
    ------
    SourceError
        When the file is missing or invalid (naming the line).
    """
    return _resolve(rules_file, data_dir, RULES_FILE, load_rules, Rules.default)


def resolve_feature_map(feature_map: str | Path | None = "", data_dir: str | Path | None = None) -> FeatureMap:
    """Return the feature map a notebook or command asks for.

    ``""`` or None: the data folder's ``config/feature_map.yaml`` when present, else the empty map (tags and guessed
    layers); ``"none"``: the empty map; otherwise a path (relative paths are taken from the project root). Without a
    folder (None) no folder's map applies, never the sample's.

    Raises
    ------
    SourceError
        When the file is missing or invalid (naming the line).
    """
    return _resolve(feature_map, data_dir, FEATURE_MAP_FILE, load_feature_map, FeatureMap.empty)


def _resolve(given: str | Path | None, data_dir: str | Path | None, folder_file: Path,
             load: Callable[[Path], T], empty: Callable[[], T]) -> T:  # fmt: skip
    """``""``: the folder's file when present, else ``empty()``; ``none``: ``empty()``; else ``load`` the path."""
    text = str(given or "").strip()
    if text.lower() == "none":
        return empty()
    if not text:
        found = Path(data_dir).expanduser() / folder_file if data_dir else None
        return load(found) if found is not None and found.is_file() else empty()
    path = Path(text).expanduser()
    return load(path if path.is_absolute() else paths.PROJECT_ROOT / path)
