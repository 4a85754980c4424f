"""No import cycles among the modules of the packages (``kvstore``, ``kvstore_etcd``,
``kvstore_memory``, ``kvstore_sql``).

The graph is built from the source with ``ast``, not by importing anything:

- Every ``import`` and ``from ... import`` statement counts, wherever it is: at module
  level, inside a function or method (an import deferred to call time still ties the two
  modules together), inside ``try``/``except``. Calls to ``importlib.import_module`` with
  a literal name count too.
- Imports in the body of ``if TYPE_CHECKING:`` (also ``typing.TYPE_CHECKING``) are left
  out: they never run, they only give the type checker names for annotations. Their
  ``else`` branch runs, and counts.
- ``from pkg import name`` is an edge to the submodule ``pkg.name`` when there is one, else
  to ``pkg`` (its ``__init__``); ``import a.b`` is an edge to ``a.b``. The packages whose
  ``__init__`` Python runs before a submodule (``a`` for ``a.b``) are not edges: counting
  them would make every package whose ``__init__`` imports one of its modules a cycle.
- Only edges between modules of the packages are kept; a module importing itself
  is ignored.

A cycle is a strongly connected component of more than one module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kvstore", "kvstore_etcd", "kvstore_memory", "kvstore_sql")


def _modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:`` bodies."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _imported_names(node: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, ...]]:
    """What one node imports: per import, its candidate modules, best first.

    ``from pkg import name`` gives ``("pkg.name", "pkg")``: the submodule if there is one,
    else the package.
    """
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield (alias.name,)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            source = ".".join([*base, node.module] if node.module else base)
        else:
            source = node.module or ""
        for alias in node.names:
            yield (f"{source}.{alias.name}", source)
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute | ast.Name)
        and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
        == "import_module"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        yield (node.args[0].value,)


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports at run time (see the module docstring)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in _runtime_nodes(tree):
            for candidates in _imported_names(node, name, is_package):
                target = next((c for c in candidates if c in modules), None)
                if target is not None and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, each sorted (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _describe(graph: dict[str, set[str]], component: list[str]) -> str:
    members = set(component)
    edges = [
        f"{source} -> {target}"
        for source in component
        for target in sorted(graph[source] & members)
    ]
    return f"cycle among {', '.join(component)}: " + "; ".join(edges)


def test_the_checker_sees_imports_inside_functions_and_skips_type_checking_blocks() -> None:
    graph = {
        "a": {"b"},
        "b": {"c"},
        "c": {"a"},
        "d": {"a"},
    }
    assert cycles(graph) == [["a", "b", "c"]]
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from kvstore_etcd import store\n"
        "else:\n"
        "    import kvstore_etcd._wire\n"
        "def f():\n"
        "    from . import config\n"
    )
    names = [
        name
        for node in _runtime_nodes(tree)
        for name in _imported_names(node, "kvstore_etcd.plugin", is_package=False)
    ]
    assert ("kvstore_etcd.store", "kvstore_etcd") not in names
    assert {("kvstore_etcd._wire",), ("kvstore_etcd.config", "kvstore_etcd")} <= set(names)


def test_no_import_cycle_involves_kvstore_etcd_or_kvstore_memory() -> None:
    graph = import_graph()
    assert "kvstore_etcd.store" in graph["kvstore_etcd"]
    offending = [
        _describe(graph, component)
        for component in cycles(graph)
        if any(
            member.startswith(("kvstore_etcd", "kvstore_memory", "kvstore_sql"))
            for member in component
        )
    ]
    assert offending == []


def test_no_import_cycle_among_the_packages() -> None:
    graph = import_graph()
    found = [_describe(graph, component) for component in cycles(graph)]
    assert found == []


def strict_import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, counting everything (SPEC 21): imports
    under ``if TYPE_CHECKING:`` too, and ``from pkg import name`` as an import of both the
    submodule ``pkg.name`` (when there is one) and the package ``pkg`` (its ``__init__``,
    which Python runs for it)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            for candidates in _imported_names(node, name, is_package):
                graph[name].update(c for c in candidates if c in modules and c != name)
    return graph


def test_the_strict_checker_counts_type_only_imports_and_package_inits() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from kvstore_etcd import store\n"
    )
    names = [
        name
        for node in ast.walk(tree)
        for name in _imported_names(node, "kvstore_etcd.plugin", is_package=False)
    ]
    assert ("kvstore_etcd.store", "kvstore_etcd") in names
    graph = strict_import_graph()
    assert "kvstore._async.base" in graph["kvstore.base"]
    assert "kvstore._sync.protocol" in graph["kvstore.base"]  # imported under TYPE_CHECKING


def test_no_import_cycle_counting_type_only_imports_and_package_inits() -> None:
    graph = strict_import_graph()
    found = [_describe(graph, component) for component in cycles(graph)]
    assert found == []
