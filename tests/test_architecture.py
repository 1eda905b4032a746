"""The layout's rules (docs/architecture.md), checked on the code's own imports.

A *room* is a package directly under ``finops_lib`` (``facts``, ``views``...) or a loose module (``fx``). Imports
point one way: the rooms form no cycle, at most nine levels deep; only the report and the notebooks import a page
view; no module imports another's private names or imports the workbench inside a function body.
"""

from __future__ import annotations

import ast
import json
from collections import defaultdict
from functools import cache
from pathlib import Path

from finops_lib import paths
from finops_lib.facts import DIMENSIONS, MEASURES

PACKAGE = paths.PROJECT_ROOT / "finops_lib"
MAX_LEVELS = 9
MAX_LOOSE_MODULES = 12


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, ast.Module]:
    return {_module_name(p): ast.parse(p.read_text(encoding="utf-8")) for p in PACKAGE.rglob("*.py")}


def _is_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def _imports(tree: ast.Module) -> list[tuple[str, list[str], ast.AST]]:
    """(imported module, names, node) of every finops_lib import, TYPE_CHECKING ones left out."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if _is_type_checking(node, parents):
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("finops_lib"):
            found.append((node.module, [a.name for a in node.names], node))
        elif isinstance(node, ast.Import):
            found += [(a.name, [], node) for a in node.names if a.name.startswith("finops_lib")]
    return found


def _target(module: str, name: str) -> str:
    """The module an import names: ``from finops_lib import fx`` imports the module ``finops_lib.fx``."""
    candidate = f"{module}.{name}"
    return candidate if candidate in _modules() else module


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _room_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, tree in _modules().items():
        for imported, names, _ in _imports(tree):
            for target in {_target(imported, n) for n in names} or {imported}:
                if _room(target) not in (_room(module), "__init__"):
                    graph[_room(module)].add(_room(target))
    return graph


def _levels(graph: dict[str, set[str]]) -> dict[str, int]:
    rooms = set(graph) | {r for targets in graph.values() for r in targets}

    @cache
    def level(room: str) -> int:
        return 1 + max((level(t) for t in graph.get(room, ())), default=0)

    return {room: level(room) for room in rooms}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(room: str) -> list[str]:
        state[room] = 1
        stack.append(room)
        for target in sorted(graph.get(room, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target):], target]
            if target not in state and (found := visit(target)):
                return found
        state[room] = 2
        stack.pop()
        return []

    for room in sorted(graph):
        if room not in state and (found := visit(room)):
            return found
    return []


def test_the_rooms_form_no_cycle_and_at_most_nine_levels() -> None:
    graph = _room_graph()
    assert _cycle(graph) == []
    levels = _levels(graph)
    assert max(levels.values()) <= MAX_LEVELS, sorted(levels.items(), key=lambda kv: -kv[1])
    # the layers of docs/architecture.md: nothing imports a layer above its own
    above = {
        "ingest": ({"sources", "meters", "warehouse"}, {"pricing", "facts", *ANALYSES, "views", "report", "cli"}),
        "pricing": ({"pricing"}, {"warehouse", "facts", *ANALYSES, "views", "report", "cli"}),
        "facts": ({"facts", "rules"}, {*ANALYSES, "views", "report", "cli"}),
        "analyses": (set(ANALYSES), {"views", "report", "cli"}),
        "views": ({"views"}, {"report", "cli"}),
    }  # fmt: skip
    for layer, (rooms, forbidden) in above.items():
        for room in rooms:
            assert not graph.get(room, set()) & forbidden, (layer, room, graph.get(room, set()) & forbidden)


ANALYSES = ("allocation", "experiments", "forecast", "anomalies", "reconcile")


def test_no_module_cycle_either() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, tree in _modules().items():
        for imported, names, _ in _imports(tree):
            graph[module] |= {_target(imported, n) for n in names} or {imported}
    graph = {m: {t for t in targets if t in _modules() and t != m} for m, targets in graph.items()}
    assert _cycle(graph) == []


def test_at_most_twelve_loose_modules_at_the_top() -> None:
    loose = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert len(loose) <= MAX_LOOSE_MODULES, loose


def test_only_the_report_and_the_notebooks_import_a_page_view() -> None:
    offenders = [module for module, tree in _modules().items() if _room(module) not in ("views", "report")
                 and any(imported.startswith("finops_lib.views") or
                         any(_target(imported, n).startswith("finops_lib.views") for n in names)
                         for imported, names, _ in _imports(tree))]  # fmt: skip
    assert offenders == []


def test_no_private_name_crosses_a_module_and_no_import_hides_in_a_function() -> None:
    private, hidden = [], []
    for module, tree in _modules().items():
        top = set(tree.body)
        for imported, names, node in _imports(tree):
            private += [f"{module}: {imported}.{n}" for n in names if n.startswith("_") and not n.startswith("__")
                        and imported != module]
            if node not in top:
                hidden.append(f"{module}: line {node.lineno} imports {imported}")
        for node in ast.walk(tree):  # module._name, where module is a workbench module imported here
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__") \
                    and isinstance(node.value, ast.Name) and node.value.id in _aliases(tree):  # fmt: skip
                private.append(f"{module}: {node.value.id}.{node.attr}")
    assert private == [] and hidden == []


def _aliases(tree: ast.Module) -> set[str]:
    """Local names bound to workbench modules by ``from finops_lib(.x) import y [as z]`` or ``import finops_lib.x``."""
    names = set()
    for imported, _, node in _imports(tree):
        for alias in getattr(node, "names", []):
            if _target(imported, alias.name) != imported or isinstance(node, ast.Import):
                names.add(alias.asname or alias.name.split(".")[0])
    return names


def test_notebooks_import_no_private_name_and_define_nothing() -> None:
    for notebook in sorted(paths.NOTEBOOKS_DIR.glob("*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        tree = ast.parse("\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code"))
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)], notebook.name
        for imported, names, _ in _imports(tree):
            assert not [n for n in names if n.startswith("_")], (notebook.name, imported)


def test_the_architecture_page_names_every_room_measure_and_dimension() -> None:
    """docs/architecture.md is the map: it names every package and loose module, and the declared semantic model."""
    page = (paths.PROJECT_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    loose = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    missing = [f"{p}/" for p in packages if f"`{p}/`" not in page] + [m for m in loose if f"`{m}`" not in page]
    missing += [f"measure {m}" for m in MEASURES if f"`{m}`" not in page]
    missing += [f"dimension {d}" for d in DIMENSIONS if f"`{d}`" not in page]
    assert missing == [], f"docs/architecture.md does not name: {missing}"
    pages = sorted(p.name for p in (PACKAGE / "views").iterdir() if (p / "page.py").exists())
    assert all(f"`{p}`" in page for p in pages), pages
