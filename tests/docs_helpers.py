"""What the documentation tests share (``tests/test_docs*.py``).

- ``code_blocks()``: every ```` ```python ```` block of every page under ``docs/``, with the
  page and line it starts on, and the reason it is not run when its first line says
  ``# Not run by the docs tests: REASON``.
- ``build_site(directory)``: ``mkdocs build --strict`` of this tree into ``directory``, once
  per process (the reference and browser tests share the build).
- ``inventory(site)``: the identifiers the built reference renders, read from the
  Sphinx-format ``objects.inv`` that mkdocstrings writes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SNAPSHOT = ROOT / "tests" / "public_api.txt"
SKIP_MARKER = "# Not run by the docs tests:"
BUILD_TIMEOUT = 600.0
"""Seconds ``mkdocs build`` may take (about 15 s alone on 2 cores, far longer when shared)."""

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```python[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", flags=re.M | re.S
)


@attrs.frozen
class CodeBlock:
    """One ```` ```python ```` block of a docs page.

    Attributes:
        page: The page's path under ``docs/`` (``"getting-started.md"``).
        line: The 1-based line of the block's first code line in the page.
        code: The block's code, dedented.
        skip: Why the block is not run (its first line's marker), or ``None``: it runs.
    """

    page: str
    line: int
    code: str
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def doc_pages() -> list[Path]:
    """The Markdown pages of the site (the hook's folder holds none)."""
    return sorted(path for path in DOCS.rglob("*.md") if "hooks" not in path.parts)


def code_blocks(page: Path) -> list[CodeBlock]:
    """The ```` ```python ```` blocks of ``page``, in order."""
    text = page.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        indent = len(match.group("indent"))
        code = "".join(line[indent:] for line in match.group("body").splitlines(keepends=True))
        first = code.split("\n", 1)[0].strip()
        skip = first[len(SKIP_MARKER) :].strip() if first.startswith(SKIP_MARKER) else None
        line = text.count("\n", 0, match.start("body")) + 1
        blocks.append(CodeBlock(page.relative_to(DOCS).as_posix(), line, code, skip))
    return blocks


def all_code_blocks() -> list[CodeBlock]:
    return [block for page in doc_pages() for block in code_blocks(page)]


def python_env() -> dict[str, str]:
    """The environment of a child process that imports this tree's packages first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["NO_MKDOCS_2_WARNING"] = "1"  # Material's banner about MkDocs 2, not a warning of ours
    return env


_built: dict[str, Path] = {}


def build_site(directory: Path) -> Path:
    """The site built with ``mkdocs build --strict`` (into ``directory`` on the first call
    of this process; later calls return that first build). A warning fails the test."""
    if "site" not in _built:
        result = subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(directory)],
            cwd=ROOT,
            env=python_env(),
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}"
        _built["site"] = directory
    return _built["site"]


@attrs.frozen
class InventoryEntry:
    """One object of the site's ``objects.inv``.

    Attributes:
        domain: ``"py:class"``, ``"py:function"``, ``"py:module"`` ...
        primary: Whether the object is rendered at ``url`` under this identifier (else
            the identifier is an alias, ``kvstore.KeyNotFoundError``, of one rendered
            under another: ``kvstore.errors.KeyNotFoundError``).
        url: The page and anchor, relative to the site's root.
    """

    domain: str
    primary: bool
    url: str


def inventory(site: Path) -> dict[str, InventoryEntry]:
    """Every identifier of the built reference, from the Sphinx-format ``objects.inv``."""
    data = (site / "objects.inv").read_bytes()
    header, _, compressed = data.partition(b"# The remainder of this file is compressed")
    assert header.startswith(b"# Sphinx inventory version 2"), header[:40]
    body = zlib.decompress(compressed.split(b"\n", 1)[1]).decode("utf-8")
    objects = {}
    for line in body.splitlines():
        name, domain, priority, location, _display = line.split(" ", 4)
        objects[name] = InventoryEntry(domain, priority == "1", location.replace("$", name))
    return objects


def page_html(site: Path, url: str) -> str:
    """The HTML of the page at ``url`` (``reference/kvstore.errors/#anchor``)."""
    page = url.split("#", 1)[0]
    return (site / page / "index.html").read_text(encoding="utf-8")


def public_api() -> dict[str, list[str]]:
    """Every public module and its ``__all__``, from the snapshot ``tests/public_api.txt``."""
    modules: dict[str, list[str]] = {}
    for line in SNAPSHOT.read_text(encoding="utf-8").splitlines():
        module, name = line.split(": ")
        modules.setdefault(module, []).append(name)
    return modules
