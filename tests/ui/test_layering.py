"""The UI reaches data only through the client: pages, components and state import no lower layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "training_dashboard"
UI_DIRS = ("pages", "components", "state")
FORBIDDEN = ("training_dashboard.db", "training_dashboard.services", "training_dashboard.engine",
             "training_dashboard.training", "training_dashboard.api", "torch", "transformers", "peft", "sqlmodel",
             "sqlalchemy")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


UI_FILES = sorted(p for d in UI_DIRS for p in (PACKAGE / d).rglob("*.py"))


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_ui_module_imports_no_lower_layer(path: Path) -> None:
    bad = sorted(name for name in _imports(path) for f in FORBIDDEN if name == f or name.startswith(f + "."))
    assert not bad, f"{path.name} imports {bad}; go through training_dashboard.client instead"


def test_every_ui_area_has_modules() -> None:
    assert {p.parent.name for p in UI_FILES} == set(UI_DIRS)


def test_training_page_lives_in_its_own_module() -> None:
    # A page in its own module compiles to its own lazily loaded JS chunk.
    declaring = [p.name for p in (PACKAGE / "pages").glob("*.py") if 'route="/training"' in p.read_text()]
    assert declaring == ["training.py"]
