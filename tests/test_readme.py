"""The README's Python snippets are valid Python (they are documentation users copy)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_snippets() -> None:
    assert len(SNIPPETS) > 10


@pytest.mark.parametrize("number", range(len(SNIPPETS)))
def test_each_snippet_parses(number: int) -> None:
    # top-level await is allowed: some snippets show what runs inside a coroutine
    compile(
        SNIPPETS[number], f"README snippet {number}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    )
