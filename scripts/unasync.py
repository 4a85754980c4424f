"""Generate kvstore's sync modules from their asyncio sources (as httpcore does).

The asyncio code is the one source of truth: each ``<package>/.../_async/<name>.py`` is
written by hand, and its sync twin ``<package>/.../_sync/<name>.py`` is generated from it
here, token by token (a ``_sync/`` folder holds generated code only: see the README's
"Contributing" section for the rule and its one exception):

* ``async def`` / ``async for`` / ``async with`` lose ``async``; ``await`` is dropped;
* names lose an ``Async`` prefix (``AsyncBaseStore`` -> ``BaseStore``, ``_AsyncLock`` ->
  ``_Lock``), and the names in ``RENAMES`` are replaced (``aclose`` -> ``close``,
  ``__aenter__`` -> ``__enter__``, ``StopAsyncIteration`` -> ``StopIteration`` ...);
* module paths get ``._sync`` for ``._async`` (``kvstore._async.base`` ->
  ``kvstore._sync.base``), except the hand-written pairs of ``HAND_WRITTEN_PAIRS``;
  so the async sources import their async neighbours and the sync twins the sync ones;
* strings and comments get the same name replacements (docstrings then read right in both);
* the modules marked ``# unasync: no-twin`` have no twin (asyncio-only code);
* a line ending in ``# unasync: async-only`` is left out of the sync twin, and a comment
  line ``# unasync: sync-only <code>`` becomes ``<code>`` in it.

What differs for real between the two APIs (locks, events, sleeping, tasks against
threads) lives in hand-written pairs such as ``kvstore/_async/_concurrency.py`` and
``kvstore/_concurrency.py`` (``HAND_WRITTEN_PAIRS``), which this script does not touch.

Usage::

    python scripts/unasync.py           # write the sync twins
    python scripts/unasync.py --check   # exit 1 if a twin is out of date (CI runs this)
"""

from __future__ import annotations

import argparse
import ast
import io
import keyword
import re
import subprocess
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PACKAGES = ("kvstore", "kvstore_memory", "kvstore_etcd", "kvstore_sql")
NO_TWIN = "# unasync: no-twin"


def sources() -> list[tuple[str, str]]:
    """Every (async source, sync twin) pair, relative to the repository root: each module
    under an ``_async`` folder of the packages, its twin at the same path with ``_sync``
    for ``_async``, except the modules marked ``# unasync: no-twin`` (asyncio-only code)
    and the ``__init__`` modules that hold only a docstring (their ``_sync`` twins say
    what the folder is, by hand).
    """
    pairs = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("_async/*.py")):
            text = path.read_text()
            if NO_TWIN in text or (path.name == "__init__.py" and not _has_code(text)):
                continue
            source = path.relative_to(ROOT).as_posix()
            pairs.append((source, source.replace("/_async/", "/_sync/", 1)))
    return pairs


def _has_code(text: str) -> bool:
    """Whether a module has statements beyond its docstring and ``from __future__``."""
    tree = ast.parse(text)
    return any(
        not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
        for node in tree.body
    )


RENAMES = {
    "aclose": "close",
    "aclosing": "closing",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
    "anext": "next",
    "StopAsyncIteration": "StopIteration",
    "asynccontextmanager": "contextmanager",
    "AsyncExitStack": "ExitStack",
    "iscoroutinefunction": "callable",
    "open_async": "open",
    "enter_async_context": "enter_context",
    # kvstore.concurrency's public pairs of functions (``async_sleep`` / ``sleep``)
    "async_sleep": "sleep",
    "async_wait_event": "wait_event",
}

_ASYNC_NAME = re.compile(r"\b(_*)Async([A-Z]\w*)")
_WORD = re.compile(r"\b(" + "|".join(re.escape(name) for name in RENAMES) + r")\b")
HAND_WRITTEN_PAIRS = {
    "kvstore._async._concurrency": "kvstore._concurrency",
    "kvstore_etcd._async._endpoints": "kvstore_etcd._endpoints",
    "kvstore_etcd._async._watch": "kvstore_etcd._watch",
    "kvstore_sql._async._worker": "kvstore_sql._worker",
}
"""Asyncio modules (marked ``# unasync: no-twin``) whose sync half is written by hand, and
where that half lives: outside ``_sync/``, which holds generated code only."""
_PAIR = re.compile(r"\b(" + "|".join(re.escape(name) for name in HAND_WRITTEN_PAIRS) + r")\b")

_MODULE = re.compile(r"\b(kvstore\w*(?:\.\w+)*?)\._async\b")
_ARTICLE = re.compile(r"\b([Aa])n(\s+`*_*Async[BCDFGHJKLMNPQRSTVWXYZ])")
_KEYWORD = re.compile(r"\bawait[ \t]+|\basync[ \t]+(?=def\b|for\b|with\b)")
_ASYNC_ONLY = "# unasync: async-only"
_SYNC_ONLY = re.compile(r"^(\s*)# unasync: sync-only (.*)$")


def _pairs(text: str) -> str:
    """The module paths of ``HAND_WRITTEN_PAIRS`` replaced by their sync halves."""
    return _PAIR.sub(lambda match: HAND_WRITTEN_PAIRS[match.group(1)], text)


def unasync_name(name: str) -> str:
    """The sync twin's name for ``name``."""
    if name in RENAMES:
        return RENAMES[name]
    match = _ASYNC_NAME.fullmatch(name)
    if match:
        return match.group(1) + match.group(2)
    return name


def unasync_text(text: str) -> str:
    """Names and keywords replaced inside a string or a comment."""
    text = _MODULE.sub(r"\1._sync", _pairs(text))
    text = _ARTICLE.sub(r"\1\2", text)
    text = _KEYWORD.sub("", text)
    text = _ASYNC_NAME.sub(lambda match: match.group(1) + match.group(2), text)
    return _WORD.sub(lambda match: RENAMES[match.group(1)], text)


def _lines(source: str) -> str:
    """Apply the line markers: async-only lines go, sync-only comments become code."""
    kept = []
    for line in source.splitlines(keepends=True):
        if line.rstrip().endswith(_ASYNC_ONLY):
            continue
        match = _SYNC_ONLY.match(line.rstrip("\n"))
        if match:
            line = match.group(1) + match.group(2) + "\n"
        kept.append(line)
    return "".join(kept)


def unasync_source(source: str) -> str:
    """The sync twin of an asyncio module's source (before formatting).

    Works on the text: the tokens say where each edit goes, and the edits are applied
    from the end, so the source's layout is kept.
    """
    source = _MODULE.sub(r"\1._sync", _pairs(_lines(source)))
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def at(position: tuple[int, int]) -> int:
        return offsets[position[0] - 1] + position[1]

    edits: list[tuple[int, int, str]] = []
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for index, token in enumerate(tokens):
        start, end = at(token.start), at(token.end)
        if token.type == tokenize.NAME and token.string in ("async", "await"):
            following = tokens[index + 1]
            if token.string == "await" or following.string in ("def", "for", "with"):
                # the keyword and the space after it
                edits.append((start, at(following.start), ""))
                closing = _grouping_close(tokens, index)
                if closing is not None:
                    # ``(await x.y()).z`` -> ``x.y().z``: the parentheses had no other use
                    edits.append((at(tokens[index - 1].start), at(tokens[index - 1].end), ""))
                    edits.append((at(closing.start), at(closing.end), ""))
                continue
        if token.type == tokenize.NAME:
            replacement = unasync_name(token.string)
        elif token.type in _TEXT_TOKENS:
            replacement = unasync_text(token.string)
        else:
            continue
        if replacement != token.string:
            edits.append((start, end, replacement))
    for start, end, replacement in sorted(edits, reverse=True):
        source = source[:start] + replacement + source[end:]
    return source


def _grouping_close(tokens: list[tokenize.TokenInfo], index: int) -> tokenize.TokenInfo | None:
    """The ``)`` of grouping parentheses around ``await <primary>`` at ``index``, if any.

    Only parentheses that group (not a call's) around one primary (names, dots, calls,
    subscripts: no operator at their level) are given, since only those can go.
    """
    if index < 2 or tokens[index - 1].string != "(":
        return None
    before = tokens[index - 2]
    if before.type == tokenize.NAME and not keyword.iskeyword(before.string):
        return None  # a call: f(await x)
    if before.string in (")", "]"):
        return None
    depth = 0
    for token in tokens[index + 1 :]:
        if token.string in ("(", "[", "{"):
            depth += 1
        elif token.string in (")", "]", "}"):
            if depth == 0:
                return token if token.string == ")" else None
            depth -= 1
        elif depth == 0 and token.string != "." and token.type != tokenize.NAME:
            return None  # an operator, or a literal, at the level of the primary
    return None


_TEXT_TOKENS = {tokenize.STRING, tokenize.COMMENT} | (
    {tokenize.FSTRING_MIDDLE} if hasattr(tokenize, "FSTRING_MIDDLE") else set()
)


def _header(source_path: str) -> str:
    return (
        f"# Generated from {source_path} by scripts/unasync.py;\n"
        "# do not edit: edit the source and run `python scripts/unasync.py`.\n"
    )


def _ruff(arguments: list[str], text: str, target: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *arguments, "--stdin-filename", str(target), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise SystemExit(f"ruff {arguments[0]} failed on the twin of {target}:\n{result.stderr}")
    return result.stdout


def _format(text: str, target: Path) -> str:
    """Imports sorted again (names changed), ``yield from`` where an async generator had
    to loop (UP028), and the layout of ``ruff format``."""
    fixes = ["--select", "I,UP028,RUF022", "--fix", "--unsafe-fixes", "--quiet", "--exit-zero"]
    text = _ruff(["check", *fixes], text, target)
    return _ruff(["format", "--quiet"], text, target)


def generate(source_path: str, target_path: str) -> str:
    """The formatted sync twin of one source."""
    source = (ROOT / source_path).read_text()
    text = _header(source_path) + unasync_source(source)
    return _format(text, ROOT / target_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if a twin is out of date")
    args = parser.parse_args(argv)
    stale = []
    for source_path, target_path in sources():
        text = generate(source_path, target_path)
        target = ROOT / target_path
        current = target.read_text() if target.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(target_path)
        else:
            target.write_text(text)
            print(f"wrote {target_path}")
    if stale:
        print(
            "out of date (run `python scripts/unasync.py`): " + ", ".join(stale),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
