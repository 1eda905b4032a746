"""``finops config``: the workspace's config files (``docs/config.md``), each validated with line-exact errors.

Config files live in a ``config/`` folder: the workspace's (beside the warehouse file) and a data folder's
(``finops ingest FOLDER`` copies the valid ones of ``FOLDER/config/`` into the workspace's). Each known file name
has a checker in :data:`CONFIG_FILES` that reads it with the library's own reader, so ``finops config --check``
reports exactly the error a page or command would meet (file, line, column, value).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from finops_lib.cli.common import CONFIG_DIR, Workspace, resolve_workspace
from finops_lib.errors import FinopsError
from finops_lib.forecast.budgets import read_budgets
from finops_lib.forecast.events import read_events
from finops_lib.registry import Registry
from finops_lib.rules import load_rules
from finops_lib.rules.feature_map import load_feature_map

__all__ = ["CONFIG_FILES", "Checked", "ConfigFile", "check_folder", "copy_config", "register_config", "run"]

#: Exit code of ``finops config --check`` when a config file is invalid.
EXIT_INVALID = 1


@dataclass(frozen=True)
class ConfigFile:
    """A config file the workbench reads: its name in ``config/``, what it holds, who reads it, its checker.

    ``check(path)`` reads the file with the library's reader (raising its error, which names file, line, column
    and value) and returns the other files it reads (a rules file's metric CSVs), copied along with it.
    """

    name: str
    description: str
    read_by: str
    check: Callable[[Path], list[Path]]


#: Known config files, by file name.
CONFIG_FILES: Registry[ConfigFile] = Registry("config file")


def register_config(name: str, *, description: str, read_by: str) -> Callable:
    """Register the checker of a config file named ``name`` (a function ``path -> companion files``)."""
    return CONFIG_FILES.register(name, make=lambda fn: ConfigFile(name, description, read_by, fn))


@register_config("budgets.csv", description="monthly budgets per total, team, application or provider",
                 read_by="the forecast page (budget risk)")  # fmt: skip
def _budgets(path: Path) -> list[Path]:
    read_budgets(path)
    return []


@register_config("allocation_rules.yaml", description="owners of each row, shared pools and how they split",
                 read_by="finops chargeback, finops status and every page")  # fmt: skip
def _rules(path: Path) -> list[Path]:
    return [metric.path for metric in load_rules(path).metrics.values()]


@register_config("feature_map.yaml", description="features, shared services, layers and self-hosted deployments",
                 read_by="the feature cost page")  # fmt: skip
def _feature_map(path: Path) -> list[Path]:
    load_feature_map(path)
    return []


@register_config("events.csv", description="known launches and price changes",
                 read_by="finops forecast and the forecast page")  # fmt: skip
def _events(path: Path) -> list[Path]:
    read_events(path)
    return []


@dataclass(frozen=True)
class Checked:
    """One file of a ``config/`` folder, checked.

    ``kind`` is a :data:`CONFIG_FILES` name, ``metric`` (a CSV the rules file names) or ``unused``; ``error`` is
    the reader's message (file, line, column, value), empty when the file is valid.
    """

    path: Path
    kind: str
    error: str = ""
    companions: tuple[Path, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the file was read without error."""
        return not self.error


def check_folder(config_dir: Path) -> list[Checked]:
    """Check every file of a ``config/`` folder: known files with their reader, the metric CSVs the rules name.

    Returns
    -------
    list of Checked
        Known files first (in :data:`CONFIG_FILES` order), then metric files, then files no command reads.
    """
    if not config_dir.is_dir():
        return []
    out: list[Checked] = []
    for name, spec in CONFIG_FILES.items():
        path = config_dir / name
        if path.is_file():
            try:
                out.append(Checked(path, name, companions=tuple(spec.check(path))))
            except FinopsError as exc:
                out.append(Checked(path, name, str(exc)))
            except (OSError, UnicodeDecodeError) as exc:
                out.append(Checked(path, name, f"{path}: cannot read the file: {exc}"))
    seen = {c.path.resolve() for c in out}
    for checked in list(out):
        for companion in checked.companions:
            if companion.resolve() not in seen:
                seen.add(companion.resolve())
                out.append(Checked(companion, "metric"))
    others = sorted(p for p in config_dir.rglob("*") if p.is_file() and p.resolve() not in seen
                    and not p.name.startswith("."))  # fmt: skip
    return out + [Checked(p, "unused") for p in others]


def _copy(source: Path, target: Path) -> str:
    """Copy one file; return what was done: ``copied to``, ``replaced`` (it differed) or ``unchanged in``."""
    if target.is_file() and filecmp.cmp(source, target, shallow=False):
        return f"unchanged in {target.parent}"
    done = f"replaced {target} (it differed)" if target.exists() else f"copied to {target}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return done


def copy_config(data_dir: Path, ws: Workspace) -> tuple[list[str], bool]:
    """Copy the valid config files of ``data_dir/config/`` into the workspace's ``config/``.

    An invalid file is not copied (the workspace keeps what it had) and its error is returned; a rules file is
    copied with the metric CSVs it names, which must lie inside ``config/`` so that it reads them from its new
    place too.

    Returns
    -------
    tuple of (list of str, bool)
        One line per file (what was done, or the error) and whether any file was invalid.
    """
    source_dir = data_dir / CONFIG_DIR
    if ws.folder is None or not source_dir.is_dir() or source_dir.resolve() == (ws.folder / CONFIG_DIR).resolve():
        return [], False
    target_dir = ws.folder / CONFIG_DIR
    lines, invalid = [], False
    for checked in check_folder(source_dir):
        if checked.kind == "metric":
            continue
        if checked.kind == "unused":
            lines.append(f"config: {checked.path} not copied: no command reads it (see docs/config.md)")
            continue
        if not checked.ok:
            invalid = True
            lines.append(f"config: {checked.path} NOT copied (the workspace keeps what it had): {checked.error}")
            continue
        outside = [c for c in checked.companions if not c.resolve().is_relative_to(source_dir.resolve())]
        if outside:
            invalid = True
            lines.append(f"config: {checked.path} NOT copied: it reads {outside[0]}, outside {source_dir}; move "
                         "the file into config/ and name it relative to the rules file")  # fmt: skip
            continue
        for file in (checked.path, *checked.companions):
            target = target_dir / file.resolve().relative_to(source_dir.resolve())
            lines.append(f"config: {file.relative_to(source_dir)} {_copy(file, target)}")
    return lines, invalid


def _status(checked: Checked, in_effect: dict[str, Path]) -> str:
    if not checked.ok:
        return f"ERROR   {checked.error}"
    if checked.kind == "unused":
        return f"unused  {checked.path}: no command reads it (see docs/config.md)"
    if checked.kind == "metric":
        return f"ok      {checked.path}: metric file named by the allocation rules"
    spec = CONFIG_FILES[checked.kind]
    used = in_effect.get(checked.kind) == checked.path
    where = "in effect" if used else f"not used: {in_effect.get(checked.kind)} comes first"
    return f"ok      {checked.path}: {spec.description}; read by {spec.read_by} ({where})"


def run(args: argparse.Namespace) -> int:
    """List the config files of the workspace (and of ``--data``), validate each; exit 1 on an error with --check."""
    ws = resolve_workspace(args)
    print(f"config folders, in lookup order: {', '.join(map(str, ws.config_dirs)) or 'none'}")
    in_effect = {name: found for name in CONFIG_FILES if (found := ws.config_file(name)) is not None}
    results = [checked for folder in ws.config_dirs for checked in check_folder(folder)]
    for checked in results:
        print(_status(checked, in_effect))
    if not results:
        print("no config files: owners come from tags only, no budgets, no known events (see docs/config.md)")
    errors = sum(not c.ok for c in results)
    print(f"{len(results)} files, {errors} invalid")
    return EXIT_INVALID if errors and args.check else 0
