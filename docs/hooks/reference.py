"""MkDocs hook: a reference page's ``<!-- reference: MODULE -->`` line becomes its reference.

Each public name is documented once, on the page of the public module that defines it
(``KeyNotFoundError`` under ``kvstore.errors``, ``EncryptedStore`` under
``kvstore.wrappers.encryption``), so the site never holds two copies of one object and
every cross-reference has one target. The line expands to:

- a mkdocstrings ``::: MODULE`` block rendering the names of ``MODULE.__all__`` that are
  documented here (with the module's docstring);
- a table of the names ``MODULE`` re-exports from another public module, each linked to
  where it is documented (``kvstore.KeyNotFoundError`` -> ``kvstore.errors.KeyNotFoundError``).

On reference pages, the reStructuredText ``::`` some docstrings put before a literal block
is dropped from the HTML (the block itself renders as code).

The public modules and their names are those of the public API snapshot,
``tests/public_api.txt`` (``tests/test_public_surface.py`` keeps it current). Adding a
package to the reference is one page holding its line, and one line in ``mkdocs.yml``'s nav.
``tests/test_docs_reference.py`` checks that the built site renders every public name.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import griffe

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "tests" / "public_api.txt"
MARKER = re.compile(r"^<!-- reference: ([\w.]+) -->$", flags=re.M)
RST_LITERAL = re.compile(r"<p>::</p>\s*|(?<=\S)::(?=</p>)")
"""reStructuredText's ``Example::`` / ``::`` before a literal block, which some docstrings
use: the block renders as code anyway, so the markers are dropped (``Example:``)."""


@cache
def public_api() -> dict[str, tuple[str, ...]]:
    """Every public module (in snapshot order) and its ``__all__``."""
    modules: dict[str, list[str]] = defaultdict(list)
    for line in SNAPSHOT.read_text(encoding="utf-8").splitlines():
        module, name = line.split(": ")
        modules[module].append(name)
    return {module: tuple(names) for module, names in modules.items()}


@cache
def _sources() -> griffe.ModulesCollection:
    """The packages of this tree, read by griffe as mkdocstrings reads them (no import)."""
    loader = griffe.GriffeLoader(search_paths=[str(ROOT)])
    for package in sorted({module.split(".")[0] for module in public_api()}):
        loader.load(package)
    loader.resolve_aliases(implicit=True)
    return loader.modules_collection


def _canonical(module: str, name: str) -> griffe.Object:
    """The object ``module.name`` names, followed through every import."""
    member = _sources().get_member(f"{module}.{name}")
    return member.final_target if member.is_alias else member


def _nearness(exporter: str, defined: list[str]) -> tuple[int, int, str]:
    """Sort key of a module exporting an object defined at ``defined``: best first."""
    parts = exporter.split(".")
    common = 0
    while common < min(len(parts), len(defined)) and parts[common] == defined[common]:
        common += 1
    return (-common, -len(parts), exporter)


@cache
def homes() -> dict[tuple[str, str], tuple[str, str]]:
    """``(module, name)`` -> where that object is documented, for every public name.

    Exports are the same object when their imports lead to the same definition. The home
    is the exporting module nearest to that definition (the most leading components in
    common with its module path, private ones dropped: ``kvstore._sync.base`` counts as
    ``kvstore.base``), then the deepest, then the first by name. A submodule's home is its
    own page.
    """
    exports: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for module, names in public_api().items():
        for name in names:
            target = _canonical(module, name)
            exports[target.path].append((module, name))
    result = {}
    for path, exporters in exports.items():
        target = _canonical(*exporters[0])
        if target.kind is griffe.Kind.MODULE:
            home = (path, "")
        else:
            defined = [part for part in target.parent.path.split(".") if not part.startswith("_")]
            home = min(exporters, key=lambda exporter: _nearness(exporter[0], defined))
        for exporter in exporters:
            result[exporter] = home
    return result


def identifier(home: tuple[str, str]) -> str:
    module, name = home
    return f"{module}.{name}" if name else module


def reference(module: str) -> str:
    """The Markdown a ``<!-- reference: module -->`` line stands for."""
    if module not in public_api():
        raise ValueError(
            f"{module} is not a public module of tests/public_api.txt: add it to "
            "PUBLIC_MODULES in tests/test_public_surface.py and update the snapshot"
        )
    names = public_api()[module]
    here = [name for name in names if homes()[module, name] == (module, name)]
    elsewhere = [name for name in names if homes()[module, name] != (module, name)]
    lines = [f"::: {module}", "    options:"]
    if here:
        lines.append("      members:")
        lines.extend(f"        - {name}" for name in here)
    else:
        lines.append("      members: false")
    if elsewhere:
        lines += [
            "",
            f"## Names `{module}` re-exports",
            "",
            "Documented where they are defined:",
            "",
            "| name | documented as |",
            "|---|---|",
        ]
        for name in elsewhere:
            target = identifier(homes()[module, name])
            lines.append(f"| `{module}.{name}` | [`{target}`][{target}] |")
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return MARKER.sub(lambda match: reference(match.group(1)), markdown)


def on_page_content(html: str, page: Any, **kwargs: Any) -> str:
    if not page.file.src_uri.startswith("reference/"):
        return html
    return RST_LITERAL.sub(lambda match: "" if match.group(0).startswith("<p>") else ":", html)
