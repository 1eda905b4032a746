"""Report folders: a timestamped folder per run with a ``latest`` link, a manifest, no silent overwrite.

A run without ``--out`` gets ``reports/<YYYYMMDD-HHMMSS>/`` and ``reports/latest`` points at it; a folder holding
an earlier report is only replaced when asked (``--force``), and then exactly the files its manifest lists go.

Layout of a report folder::

    index.html  NN_name.html ...      the pages (offline; they share assets/)
    assets/report.css  assets/vega.js  written once per report (absent with --single-file)
    NN_name/results.json ...          each notebook's output_dir
    notebooks/NN_name.ipynb ...       the executed notebooks (papermill's record) and their kernel logs
    report.json                       the manifest: the run, its pages and times, every file it wrote
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finops_lib.errors import ParameterError
from finops_lib.share import atomic_write

#: ``reports/<stamp>/`` of a run: its start, UTC.
STAMP_FORMAT = "%Y%m%d-%H%M%S"
#: The symlink to the newest run in the reports folder, and the text file naming it where symlinks fail.
LATEST_LINK, LATEST_FILE = "latest", "LATEST"
#: The manifest every report writes in its folder.
MANIFEST = "report.json"


def new_run_folder(base: Path, *, now: datetime | None = None) -> Path:
    """Create and return ``base/<YYYYMMDD-HHMMSS>/`` (UTC), with ``-2``, ``-3``... when that second is taken.

    Examples
    --------
    >>> import tempfile
    >>> base = Path(tempfile.mkdtemp())
    >>> when = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    >>> [new_run_folder(base, now=when).name for _ in range(2)]
    ['20260501-093000', '20260501-093000-2']
    """
    stamp = (now or datetime.now(UTC)).strftime(STAMP_FORMAT)
    base.mkdir(parents=True, exist_ok=True)
    for suffix in ("", *(f"-{n}" for n in range(2, 1000))):
        folder = base / f"{stamp}{suffix}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise ParameterError(f"{base}: no free report folder name for {stamp}")


def point_latest(base: Path, folder: Path) -> str:
    """Point ``base/latest`` at ``folder`` (a relative symlink, replaced atomically); return what was done.

    Where symlinks cannot be made, ``base/LATEST`` (a text file) names the folder instead. A real folder left at
    ``base/latest`` by an earlier version (which wrote reports there) is first renamed to a timestamped folder.
    """
    link, note = base / LATEST_LINK, ""
    if link.is_dir() and not link.is_symlink():
        when = datetime.fromtimestamp(link.stat().st_mtime, UTC)
        moved = new_run_folder(base, now=when)
        moved.rmdir()
        link.rename(moved)
        note = f"; the earlier report in {link} moved to {moved}"
    target = os.path.relpath(folder, base)
    temporary = base / f".{LATEST_LINK}.{os.getpid()}"
    try:
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(target, target_is_directory=True)
        os.replace(temporary, link)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        atomic_write(base / LATEST_FILE, f"{target}\n")
        return f"{base / LATEST_FILE} names {target} (no symlink: {exc}){note}"
    (base / LATEST_FILE).unlink(missing_ok=True)
    return f"{link} -> {target}{note}"


def latest(base: Path) -> Path | None:
    """Return the newest report folder under ``base`` (the ``latest`` link, else the ``LATEST`` file), or None."""
    link = base / LATEST_LINK
    if link.is_symlink() or link.is_dir():
        return link.resolve()
    named = base / LATEST_FILE
    if named.is_file():
        return (base / named.read_text(encoding="utf-8").strip()).resolve()
    return None


def previous_report(folder: Path) -> dict[str, Any] | None:
    """Return the manifest of the report already in ``folder`` (``{}`` for one without a manifest), or None."""
    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            value = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}
    return {} if (folder / "index.html").is_file() else None


def claim(folder: Path, *, force: bool) -> str | None:
    """Make ``folder`` ready for a new report; return what was replaced, or None when it held no report.

    A folder holding an earlier report (a manifest or an ``index.html``) is refused unless ``force``. With
    ``force``, the files the earlier manifest lists are removed (so no stale page stays beside the new ones);
    other files in the folder are left alone.

    Raises
    ------
    ParameterError
        If ``folder`` holds an earlier report and ``force`` is False, or is a file.
    """
    if folder.exists() and not folder.is_dir():
        raise ParameterError(f"report folder {folder} is a file")
    earlier = previous_report(folder)
    if earlier is None:
        folder.mkdir(parents=True, exist_ok=True)
        return None
    what = describe(earlier)
    if not force:
        raise ParameterError(f"{folder} already holds a report ({what}); use --force (force=True) to replace it, "
                             "or leave out --out for a new timestamped folder under reports/")  # fmt: skip
    removed = remove_files(folder, earlier.get("files", []), folders=earlier.get("folders", []))
    return f"{what}: {removed} file(s) removed" if earlier else f"{what}: files of the same names overwritten"


def describe(manifest: dict[str, Any]) -> str:
    """Return one line on a report from its manifest (``{}``: a report without one)."""
    if not manifest:
        return "a report without a manifest, written by an earlier version"
    pages = manifest.get("pages", [])
    ok = sum(page.get("status") == "ok" for page in pages)
    return f"the report started {manifest.get('started', '?')}, {len(pages)} page(s), {ok} ok"


def remove_files(folder: Path, files: Sequence[str], *, folders: Sequence[str] = ()) -> int:
    """Remove the files (relative paths) a manifest lists, then its folders and those they leave empty.

    Nothing outside ``folder`` is touched, and a folder is only removed when empty. Returns the files removed.
    """
    root, removed = folder.resolve(), 0
    emptied = {(root / name).resolve() for name in folders}
    for name in files:
        path = (root / name).resolve()
        if root not in path.parents or not path.is_file():  # never outside the report folder
            continue
        path.unlink()
        removed += 1
        emptied.update(parent for parent in path.parents if root in parent.parents)
    for parent in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
        if root in parent.parents and parent.is_dir() and not parent.is_symlink() and not any(parent.iterdir()):
            parent.rmdir()
    return removed


def written_files(folder: Path, names: Sequence[str]) -> list[str]:
    """Return the files under ``folder`` that a report wrote: those named, and every file under a named folder."""
    found = []
    for name in names:
        path = folder / name
        if path.is_file():
            found.append(name)
        elif path.is_dir():
            found += sorted(str(item.relative_to(folder)) for item in path.rglob("*") if item.is_file())
    return found


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    """Write ``report.json`` (the manifest lists itself among the files)."""
    path = folder / MANIFEST
    manifest = {**manifest, "files": sorted({*manifest.get("files", []), MANIFEST})}
    atomic_write(path, json.dumps(manifest, indent=2, default=str) + "\n")
    return path


def folder_bytes(folder: Path, *, exclude: Sequence[str] = ()) -> int:
    """Return the bytes of every file under ``folder``, leaving out the top-level entries named in ``exclude``."""
    return sum(path.stat().st_size for path in folder.rglob("*")
               if path.is_file() and path.relative_to(folder).parts[0] not in exclude)  # fmt: skip
