"""Split deliveries: globs naming the parts of one delivery, and a note when a part its manifest lists is missing.

Shared by the readers of exports delivered in several files (Azure runs, CUR assemblies, GCP extracts). Each
reader finds its own parts (its manifest's list, else its file-name pattern) and declares them in
:attr:`finops_lib.sources.Window.parts`; :mod:`finops_lib.warehouse.delivery` keeps parts of one delivery from
restating each other.
"""

from __future__ import annotations

import glob
from pathlib import Path

__all__ = ["listed_parts", "missing_note", "named_parts"]


def listed_parts(path: Path, names: list[str]) -> tuple[str, ...]:
    """Return globs naming exactly the files ``names`` (a manifest's list) in ``path``'s folder, escaped.

    Examples
    --------
    >>> listed_parts(Path("/e/r[1]/a.csv"), ["a.csv", "b.csv"])
    ('/e/r[[]1]/a.csv', '/e/r[[]1]/b.csv')
    """
    return tuple(glob.escape(str(path.parent / name)) for name in dict.fromkeys(names))


def named_parts(path: Path, name_glob: str) -> tuple[str, ...]:
    """Return the glob of the files of ``path``'s folder whose names match ``name_glob`` (the folder escaped).

    Examples
    --------
    >>> named_parts(Path("/e/run-1/part_0_0001.csv"), "part_*_*.csv")
    ('/e/run-1/part_*_*.csv',)
    """
    return (str(Path(glob.escape(str(path.parent))) / name_glob),)


def missing_note(path: Path, names: list[str], delivery: str) -> tuple[str, ...]:
    """Return a note naming the files of ``names`` (a manifest's list, with ``path``) not found beside ``path``.

    Empty when none is missing or ``path`` is not listed.

    Examples
    --------
    >>> missing_note(Path("/nonexistent/r1/part_0_0001.csv"), ["part_0_0001.csv", "part_1_0001.csv"], "export run")
    ('part 1 of 2 of its export run: its manifest also lists part_1_0001.csv, not found beside it',)
    """
    names = list(dict.fromkeys(names))
    absent = [name for name in names if name != path.name and not (path.parent / name).is_file()]
    if not absent or path.name not in names:
        return ()
    return (f"part {names.index(path.name) + 1} of {len(names)} of its {delivery}: its manifest also lists "
            f"{', '.join(absent)}, not found beside it",)
