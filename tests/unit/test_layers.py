"""The floors of the house, read from the source: which package of training_dashboard may import
which, no import circles, and the UI reaching data only through the client.

Every ``import`` counts, at module level or inside a function (a lazy import is still a
dependency), relative forms included. A broken rule is reported as ``file:line: the import``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "training_dashboard"
ROOTS = (PACKAGE, "bench")

# Top-level package (or module) of training_dashboard -> what it may import besides itself.
# "main" is training_dashboard/training_dashboard.py, the Reflex main module that composes UI and API.
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "loopback": set(),  # rxconfig's Reflex plugin (the dev server's address): reflex only
    "schemas": {"config"},
    "files": {"config"},
    "db": {"config", "schemas"},
    "engine": {"config", "schemas", "files"},
    "client": {"config", "schemas"},
    "training": {"config", "schemas", "files", "engine", "client"},
    "services": {"config", "schemas", "db", "files", "training"},
    "worker": {"config", "schemas", "db", "files", "engine", "training", "services"},
    "api": {"config", "schemas", "db", "files", "services", "worker"},
    "state": {"config", "schemas", "client"},
    "components": {"config", "schemas", "state"},
    "pages": {"config", "schemas", "state", "components"},
    "main": {"config", "schemas", "client", "state", "components", "pages", "api"},
}
# Below the training CLI and the model, training is reached only through its torch-free contract.
TRAINING_CONTRACT = {f"{PACKAGE}.training.{name}" for name in ("options", "lora", "layout", "stopping")}
CONTRACT_ONLY = {"services", "worker", "api"}
HEAVY = ("torch", "transformers", "peft")
# The UI (the browser's side of the client) never loads the model or the database.
UI = {"state", "components", "pages", "main", "loopback"}
UI_FORBIDDEN = (*HEAVY, "sqlmodel", "sqlalchemy")


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    path: Path
    line: int
    text: str  # the statement as written
    target: str  # the imported module (the longest known module for the package's own names)
    top_level: bool  # executed when the module is imported (not inside a function)

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.text}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _files() -> list[Path]:
    return sorted(p for root in ROOTS for p in (ROOT / root).rglob("*.py"))


MODULES = {_module_name(p): p for p in _files()}


def _known(name: str) -> str:
    """``name`` or its longest prefix that is one of our modules (``a.b.func`` -> ``a.b``)."""
    while name and name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _statements(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    def walk(node: ast.AST, top: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, top
            inner = top and not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            yield from walk(child, inner)

    return walk(tree, True)


def _imports(module: str, path: Path) -> list[Import]:
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node, top in _statements(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        text = ast.unparse(node)
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [base + "." + alias.name if base + "." + alias.name in MODULES else base
                       for alias in node.names]
        for target in dict.fromkeys(_known(t) for t in targets):
            found.append(Import(module, path, node.lineno, text, target, top))
    return found


IMPORTS = [imp for module, path in MODULES.items() for imp in _imports(module, path)]


def _layer(module: str) -> str | None:
    """The top-level package of training_dashboard a module belongs to (None: the package root, or outside)."""
    parts = module.split(".")
    if parts[0] != PACKAGE or len(parts) == 1:
        return None
    return "main" if parts[1] == PACKAGE else parts[1]


def _is(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_every_package_has_a_rule() -> None:
    layers = {_layer(m) for m in MODULES} - {None}
    assert layers == set(ALLOWED), f"packages without a rule: {layers - set(ALLOWED)}; stale rules: " \
                                   f"{set(ALLOWED) - layers}"


def test_packages_import_only_the_floors_below() -> None:
    broken = []
    for imp in IMPORTS:
        mine, theirs = _layer(imp.source), _layer(imp.target)
        if imp.source.split(".")[0] == PACKAGE and _is(imp.target, ("bench", "tests")):
            broken.append(f"{imp.where()}  (the package never imports {imp.target.split('.')[0]}/)")
        if mine is None or theirs is None or mine == theirs:
            continue
        if theirs not in ALLOWED[mine]:
            broken.append(f"{imp.where()}  ({mine} -> {theirs}; {mine} may import "
                          f"{', '.join(sorted(ALLOWED[mine])) or 'nothing'})")
        elif mine in CONTRACT_ONLY and theirs == "training" and imp.target not in TRAINING_CONTRACT:
            broken.append(f"{imp.where()}  ({mine} reaches training only through "
                          f"{', '.join(sorted(TRAINING_CONTRACT))})")
    if broken:
        pytest.fail("imports against the layering:\n" + "\n".join(broken), pytrace=False)


def test_training_contract_is_torch_free() -> None:
    broken = [imp.where() for imp in IMPORTS
              if imp.source in TRAINING_CONTRACT and imp.top_level and _is(imp.target, HEAVY)]
    if broken:
        pytest.fail("the training contract is imported by the API; it must not load torch:\n" + "\n".join(broken),
                    pytrace=False)


def test_ui_imports_no_lower_layer_and_no_model() -> None:
    broken = [f"{imp.where()}  (the UI goes through {PACKAGE}.client)" for imp in IMPORTS
              if _layer(imp.source) in UI and _is(imp.target, UI_FORBIDDEN)]
    if broken:
        pytest.fail("the UI imports what it must not:\n" + "\n".join(broken), pytrace=False)
    ui_areas = {_layer(m) for m in MODULES} & UI
    assert ui_areas == UI


def test_training_page_lives_in_its_own_module() -> None:
    # A page in its own module compiles to its own lazily loaded JS chunk.
    declaring = [p.name for p in (ROOT / PACKAGE / "pages").glob("*.py") if 'route="/training"' in p.read_text()]
    assert declaring == ["training.py"]


def _circles(root: str) -> list[list[Import]]:
    """One concrete cycle per strongly connected group of modules under ``root`` (Tarjan)."""
    edges: dict[str, dict[str, Import]] = {m: {} for m in MODULES if m.split(".")[0] == root}
    for imp in IMPORTS:
        if imp.source in edges and imp.target in edges and imp.target != imp.source:
            edges[imp.source].setdefault(imp.target, imp)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [_shortest_cycle(group[0], set(group), edges) for group in groups]


def _shortest_cycle(start: str, members: set[str], edges: dict[str, dict[str, Import]]) -> list[Import]:
    """The imports of a shortest cycle from ``start`` back to it, breadth first inside ``members``."""
    reached_by: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt, imp in edges[node].items():
                if nxt == start:
                    cycle = [imp]
                    while cycle[-1].source != start:
                        cycle.append(reached_by[cycle[-1].source])
                    return cycle[::-1]
                if nxt in members and nxt not in reached_by:
                    reached_by[nxt] = imp
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{start} is in a circle but no path leads back to it")


@pytest.mark.parametrize("root", ROOTS)
def test_no_import_circles(root: str) -> None:
    cycles = _circles(root)
    if cycles:
        described = ["\n".join(f"  {imp.where()}" for imp in cycle) for cycle in cycles]
        pytest.fail(f"import circles in {root}/ (lazy imports count):\n" + "\n\n".join(described), pytrace=False)
