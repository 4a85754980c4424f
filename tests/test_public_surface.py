"""The public surface (SPEC 21): what backend authors and applications may import.

- The backends (``kvstore_etcd``, ``kvstore_memory``, ``kvstore_sql``, the example
  ``kvstore_dictstore``) and the tooz driver (``kvstore_tooz``)
  import no private ``kvstore`` module: no module path with a component starting with
  ``_`` (``kvstore._async.base``, ``kvstore._concurrency``, ``kvstore.wrappers._sync``
  ...), counting every import (type-only ones, imports inside functions). Everything a
  backend needs is public and documented: each name it imports is in its module's
  ``__all__`` and the module has a docstring.
- The public modules' ``__all__`` are pinned by a snapshot (``tests/public_api.txt``):
  adding, removing or renaming a public name fails here until the snapshot is updated on
  purpose (``python tests/test_public_surface.py --update``), so the change is reviewed.
- The packages' ``__all__`` are sorted.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = Path(__file__).resolve().parent / "public_api.txt"

BACKENDS = {
    "kvstore_etcd": ROOT / "kvstore_etcd",
    "kvstore_memory": ROOT / "kvstore_memory",
    "kvstore_sql": ROOT / "kvstore_sql",
    "kvstore_tooz": ROOT / "kvstore_tooz",
    "kvstore_dictstore": ROOT / "examples" / "plugin_backend" / "kvstore_dictstore",
}

PUBLIC_MODULES = (
    "kvstore",
    "kvstore.base",
    "kvstore.concurrency",
    "kvstore.errors",
    "kvstore.keys",
    "kvstore.lease",
    "kvstore.mirror",
    "kvstore.plugins.discovery",
    "kvstore.plugins.events",
    "kvstore.plugins.hookspecs",
    "kvstore.protocol",
    "kvstore.ranges",
    "kvstore.recipes",
    "kvstore.semantics",
    "kvstore.testing",
    "kvstore.txn",
    "kvstore.types",
    "kvstore.watch",
    "kvstore.wrappers",
    "kvstore.wrappers.compose",
    "kvstore.wrappers.encryption",
    "kvstore.wrappers.tracing",
    "kvstore_etcd",
    "kvstore_memory",
    "kvstore_sql",
    "kvstore_sql.launcher",
    "kvstore_tooz",
)
"""The modules whose ``__all__`` is kvstore's public API."""

SORTED_PACKAGES = ("kvstore", "kvstore_etcd", "kvstore_memory", "kvstore_sql", "kvstore_tooz")


def kvstore_imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """Every ``(module, names)`` that ``path`` imports from ``kvstore`` (or a submodule),
    wherever the import stands; ``import kvstore.x`` gives ``("kvstore.x", [])``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "kvstore":
                    yield alias.name, []
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").split(".")[0] == "kvstore"
        ):
            yield str(node.module), [alias.name for alias in node.names]


def backend_files() -> Iterator[tuple[str, Path]]:
    for backend, folder in BACKENDS.items():
        for path in sorted(folder.rglob("*.py")):
            yield backend, path


def is_private(module: str) -> bool:
    return any(part.startswith("_") for part in module.split("."))


def is_submodule(package: str, name: str) -> bool:
    """Whether ``from package import name`` imports a submodule."""
    module = importlib.import_module(package)
    return hasattr(module, "__path__") and importlib.util.find_spec(f"{package}.{name}") is not None


def public_api() -> str:
    """The snapshot's text: ``module: name`` for every name of every public module."""
    lines = []
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        lines.extend(f"{name}: {exported}" for exported in sorted(module.__all__))
    return "\n".join(lines) + "\n"


def test_the_checker_finds_private_imports_anywhere(tmp_path: Path) -> None:
    source = tmp_path / "backend.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import kvstore\n"
        "from kvstore.base import BaseStore\n"
        "if TYPE_CHECKING:\n"
        "    from kvstore._async.watch import AsyncQueueWatch\n"
        "def f():\n"
        "    import kvstore.wrappers._sync.mapping\n"
    )
    found = [module for module, _ in kvstore_imports(source)]
    assert sorted(found) == [
        "kvstore",
        "kvstore._async.watch",
        "kvstore.base",
        "kvstore.wrappers._sync.mapping",
    ]
    assert sorted(module for module in found if is_private(module)) == [
        "kvstore._async.watch",
        "kvstore.wrappers._sync.mapping",
    ]
    assert not is_private("kvstore.wrappers.encryption")


def test_the_backends_import_no_private_kvstore_module() -> None:
    offending = [
        f"{path.relative_to(ROOT)} imports {module}"
        for _, path in backend_files()
        for module, _ in kvstore_imports(path)
        if is_private(module)
    ]
    assert offending == []


def test_every_name_a_backend_imports_from_kvstore_is_public_and_documented() -> None:
    problems = []
    for _, path in backend_files():
        for module_name, names in kvstore_imports(path):
            module = importlib.import_module(module_name)
            if not (module.__doc__ or "").strip():
                problems.append(f"{module_name} (imported by {path.name}) has no docstring")
            exported = set(getattr(module, "__all__", ()))
            for name in names:
                if is_submodule(module_name, name):
                    continue  # a public submodule: checked as a module where it is imported
                if name not in exported:
                    problems.append(f"{path.name}: {module_name}.{name} is not in its __all__")
    assert problems == []


def test_the_public_api_matches_its_snapshot() -> None:
    assert public_api() == SNAPSHOT.read_text(encoding="utf-8"), (
        "the public API changed: if on purpose, run `python tests/test_public_surface.py "
        "--update` and commit tests/public_api.txt with the change"
    )


@pytest.mark.parametrize("package", SORTED_PACKAGES)
def test_the_packages_all_is_sorted(package: str) -> None:
    names = list(importlib.import_module(package).__all__)
    assert names == sorted(names)


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        SNAPSHOT.write_text(public_api(), encoding="utf-8")
        print(f"wrote {SNAPSHOT.relative_to(ROOT)}")
    else:
        sys.exit("usage: python tests/test_public_surface.py --update")
