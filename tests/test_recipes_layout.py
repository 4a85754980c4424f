"""The layering of ``kvstore.recipes`` (see its docstring)."""

from __future__ import annotations

import ast
import pathlib

import pytest

import kvstore
import kvstore.recipes

PACKAGE = pathlib.Path(kvstore.__file__).parent

CORE = (
    "kvstore._concurrency",
    "kvstore._sync._context",
    "kvstore.errors",
    "kvstore.types",
    "kvstore.keys",
    "kvstore.txn",
    "kvstore._sync.lease",
    "kvstore.plugins.events",
)
"""The core modules a recipe may import (with ``kvstore._sync.watch``), besides its own package."""


def imported_modules(path: pathlib.Path) -> set[str]:
    """Every ``kvstore*`` module ``path`` imports: at top level, in functions, under
    ``if TYPE_CHECKING:``; ``from pkg import name`` counts as ``pkg.name`` and ``pkg``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            assert node.module is not None
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0].startswith("kvstore")}


ASYNC_CORE = ("kvstore._async._concurrency", "kvstore._async._context", "kvstore._async.lease")
"""The asyncio core modules an asyncio recipe may import (with ``kvstore._async.watch``)."""


def test_recipes_import_only_core_modules_and_each_other() -> None:
    allowed = (*CORE, *ASYNC_CORE, "kvstore._sync.watch", "kvstore._async.watch", "kvstore.recipes")
    for path in sorted((PACKAGE / "recipes").glob("**/*.py")):
        for name in imported_modules(path):
            assert name.startswith(allowed) and name != "kvstore", f"{path.name} imports {name}"


@pytest.mark.parametrize(
    "module", [*CORE, *ASYNC_CORE, "kvstore._sync.watch", "kvstore._async.watch"]
)
def test_the_core_below_the_recipes_imports_no_store_and_no_recipe(module: str) -> None:
    path = PACKAGE / (module.removeprefix("kvstore.").replace(".", "/") + ".py")
    for name in imported_modules(path):
        assert name.startswith((*CORE, *ASYNC_CORE)), f"{module} imports {name}"


def test_base_imports_the_recipes_at_the_top_of_the_module() -> None:
    tree = ast.parse((PACKAGE / "_sync" / "base.py").read_text(encoding="utf-8"))
    top = {node.module for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert "kvstore.recipes._sync" in top
    recipe_modules = ("kvstore.recipes",)
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom):
                    assert not (node.module or "").startswith(recipe_modules), function.name
