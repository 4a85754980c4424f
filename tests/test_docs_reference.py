"""The site's API reference is complete (SPEC 24): every public name is rendered.

The site is built with ``mkdocs build --strict`` (any warning fails), then its objects
inventory (``objects.inv``, which mkdocstrings writes like Sphinx) is compared with the
public API snapshot ``tests/public_api.txt`` (every public module and its ``__all__``):

- each public name ``module.name`` is in the inventory and its anchor is on its page, or,
  for a name the module re-exports (``kvstore.open`` is
  ``kvstore.plugins.discovery.open_store``), the module's page links to where that same
  object is rendered;
- the reference renders no other module-level name than the public ones, apart from the
  hooks a backend plugin implements (``kvstore.plugins.hookspecs.kvstore_open`` ...),
  documented on purpose although they are not in ``__all__``;
- every public function and method that has a ``raise`` statement says what it raises in
  a ``Raises:`` section, and every one without a docstring overrides a documented one
  (the primitives of a backend or wrapper document nothing new).

- every public function and method that returns a value (not ``None``) and has a
  docstring of its own says what it returns in a ``Returns:`` (or ``Yields:``) section;
- every ``Raises:`` section names exception classes that exist (``kvstore.errors``'
  classes, builtins, the function's own module's, or a dotted path such as
  ``pluggy.PluginValidationError``).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import inspect
import re
import textwrap
from pathlib import Path
from typing import Any

import griffe
import pytest
from docs_helpers import ROOT, InventoryEntry, build_site, inventory, page_html, public_api

import kvstore.errors

PLUGIN_HOOKS = {
    "kvstore.plugins.hookspecs.kvstore_open",
    "kvstore.plugins.hookspecs.kvstore_open_async",
    "kvstore.plugins.hookspecs.kvstore_local_server",
}
"""Rendered on the plugins page on purpose: what a backend plugin implements."""

STATE_MACHINE_RULES = "kvstore.testing.KVStoreMachine."
"""Hypothesis rules of the conformance state machine: test steps, not an API to document."""

# One xdist group with the other module that builds the site (test_docs_reference.py,
# test_docs_browser.py): their tests run on one worker, which builds the site once, instead
# of one build (most of a minute on a loaded machine) on every worker they land on.
pytestmark = pytest.mark.xdist_group("docs-site")

_HREF = re.compile(r'href="[^"]*#([^"]+)"')


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def objects(site: Path) -> dict[str, InventoryEntry]:
    return inventory(site)


def resolve(identifier: str) -> Any:
    """The Python object an identifier names (``kvstore.errors.KeyNotFoundError``)."""
    parts = identifier.split(".")
    for split in range(len(parts), 0, -1):
        try:
            value: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for part in parts[split:]:
            value = getattr(value, part)
        return value
    raise LookupError(identifier)


def test_every_public_module_has_a_page(objects: dict[str, InventoryEntry]) -> None:
    missing = [module for module in public_api() if module not in objects]
    assert not missing, f"no reference page renders these modules: {missing}"


def test_every_public_name_is_in_the_reference(
    site: Path, objects: dict[str, InventoryEntry]
) -> None:
    missing = []
    covered = 0
    for module, names in public_api().items():
        module_page = page_html(site, objects[module].url)
        links = set(_HREF.findall(module_page))
        for name in names:
            identifier = f"{module}.{name}"
            value = getattr(importlib.import_module(module), name)
            entry = objects.get(identifier)
            if entry is not None:
                anchor = entry.url.split("#", 1)[1]
                if f'id="{anchor}"' in page_html(site, entry.url):
                    covered += 1
                    continue
            # a re-export: the module's page links to where the same object is rendered
            if any(
                target in objects and objects[target].primary and resolve(target) is value
                for target in links
                if target.endswith("." + getattr(value, "__name__", name)) or target == name
            ):
                covered += 1
                continue
            missing.append(identifier)
    assert not missing, f"{len(missing)} public names are not in the reference: {missing}"
    assert covered == sum(len(names) for names in public_api().values())


def test_the_reference_renders_no_other_module_level_name(
    objects: dict[str, InventoryEntry],
) -> None:
    public = {f"{module}.{name}" for module, names in public_api().items() for name in names}
    extra = sorted(
        identifier
        for identifier, entry in objects.items()
        if entry.primary
        and entry.domain != "py:module"
        and identifier.rpartition(".")[0] in public_api()
        and identifier not in public
    )
    assert extra == sorted(PLUGIN_HOOKS)


# ---------------------------------------------------------------- docstrings


@pytest.fixture(scope="module")
def public_callables(objects: dict[str, InventoryEntry]) -> dict[str, griffe.Object]:
    """Every function and method the reference renders (the conformance tests apart), by
    the identifier it is rendered under."""
    loader = griffe.GriffeLoader(search_paths=[str(ROOT)], docstring_parser=griffe.Parser.google)
    for package in ("kvstore", "kvstore_etcd", "kvstore_memory", "kvstore_sql", "kvstore_tooz"):
        loader.load(package)
    loader.resolve_aliases(implicit=True)
    found = {}
    for identifier, entry in sorted(objects.items()):
        if not entry.primary or entry.domain not in ("py:function", "py:method"):
            continue
        if identifier.rpartition(".")[2].startswith("test_"):
            continue  # the conformance suite's tests: their names are their documentation
        member = loader.modules_collection.get_member(identifier)
        found[identifier] = member.final_target if member.is_alias else member
    return found


def _sections(function: griffe.Object) -> set[str]:
    if function.docstring is None:
        return set()
    return {section.kind.value for section in function.docstring.parse(griffe.Parser.google)}


def _raises(function: griffe.Object) -> bool:
    tree = ast.parse(textwrap.dedent(function.source))
    return any(isinstance(node, ast.Raise) for node in ast.walk(tree))


def _inherited_docstring(identifier: str) -> str | None:
    """The docstring a method without one inherits from the first base class that has it."""
    owner_path, _, name = identifier.rpartition(".")
    owner = resolve(owner_path)
    if not inspect.isclass(owner):
        return None
    for base in owner.__mro__[1:]:
        doc = getattr(vars(base).get(name), "__doc__", None)
        if doc:
            return str(doc)
    return None


def test_public_callables_that_raise_say_what_they_raise(
    public_callables: dict[str, griffe.Object],
) -> None:
    assert len(public_callables) > 500
    silent = []
    for identifier, function in public_callables.items():
        if not _raises(function) or "raises" in _sections(function):
            continue
        inherited = _inherited_docstring(identifier) if function.docstring is None else None
        if inherited is None or "Raises:" not in inherited:
            silent.append(identifier)
    assert not silent, f"a raise statement, and no Raises: section (own or inherited): {silent}"


def test_undocumented_public_callables_override_documented_ones(
    public_callables: dict[str, griffe.Object],
) -> None:
    orphans = [
        identifier
        for identifier, function in public_callables.items()
        if function.docstring is None
        and not identifier.startswith(STATE_MACHINE_RULES)
        and _inherited_docstring(identifier) is None
    ]
    assert not orphans, f"no docstring, and none to inherit: {orphans}"


def test_public_callables_that_return_a_value_say_what_they_return(
    public_callables: dict[str, griffe.Object], capsys: pytest.CaptureFixture[str]
) -> None:
    no_value = {"None", "NoReturn", "Done", "AsyncDone"}
    without = [
        identifier
        for identifier, function in public_callables.items()
        if function.docstring is not None
        and function.returns is not None
        and str(function.returns) not in no_value
        and function.name != "__init__"
        and not {"returns", "yields"} & _sections(function)
    ]
    undocumented = sum(function.docstring is None for function in public_callables.values())
    with capsys.disabled():
        print(
            f"\n{len(public_callables)} public functions and methods: {undocumented} without "
            f"a docstring of their own (overrides), {len(without)} returning a value without "
            "a Returns: section"
        )
    assert not without, f"a return value, and no Returns: section: {without}"


def _exception_class(name: str, where: str) -> type[BaseException] | None:
    """The exception class a ``Raises:`` entry of ``where`` (an identifier) names: one of
    ``kvstore.errors``, a builtin, one of the module (or class) ``where`` is in, or a dotted
    path; ``None`` if it names none."""
    candidates = [getattr(kvstore.errors, name, None), getattr(builtins, name, None)]
    parts = where.split(".")
    paths = [".".join([*parts[:end], name]) for end in range(len(parts) - 1, 0, -1)]
    # the module the function is written in (``coordination.X`` of tooz's import)
    with contextlib.suppress(LookupError, AttributeError):
        paths.append(f"{resolve(where).__module__}.{name}")
    for path in [*paths, name] if "." in name else paths:
        try:
            candidates.append(resolve(path))
        except (LookupError, AttributeError):
            continue
    for value in candidates:
        if inspect.isclass(value) and issubclass(value, BaseException):
            return value
    return None


def test_raises_sections_name_exception_classes(
    public_callables: dict[str, griffe.Object],
) -> None:
    unknown = []
    for identifier, function in public_callables.items():
        if function.docstring is None:
            continue
        for section in function.docstring.parse(griffe.Parser.google):
            if section.kind.value != "raises":
                continue
            for entry in section.value:
                names = str(entry.annotation).strip("()").split(",")
                unknown.extend(
                    f"{identifier}: {name.strip()}"
                    for name in names
                    if _exception_class(name.strip(), identifier) is None
                )
    assert not unknown, f"Raises: entries that name no exception class: {unknown}"
