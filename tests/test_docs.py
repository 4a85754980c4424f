"""Every ```` ```python ```` block of the documentation site runs (SPEC 24).

The blocks of one page run in order, in one namespace, as a reader would paste them into
one interpreter: a block may use what an earlier block of its page defined. Each page runs
in a child process of its own (``python tests/test_docs.py --run PAGE RESULT``), in an
empty temporary directory, so what a page sets globally (an OpenTelemetry provider, an
event observer) or leaves running (a store's threads) stays there. A block that defines
``test_*`` functions (a test file's example) also has those that take no fixture called,
as pytest would: ``async def`` ones through ``asyncio.run``.

A block whose first line is ``# Not run by the docs tests: REASON`` is skipped with that
reason, which the reader sees too: it is for what the suite cannot provide (an etcd
cluster at a name in the example, a Go client). Everything else runs on ``memory://``.
Each block is one test, ``test_block[page.md:LINE]``; a failure shows the traceback with
the page's own line numbers.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import os
import subprocess
import sys
import tempfile
import traceback
import warnings
from pathlib import Path
from typing import Any

import pytest
from docs_helpers import DOCS, ROOT, CodeBlock, all_code_blocks, code_blocks, python_env

PAGE_TIMEOUT = 180.0
"""Seconds one page's blocks may take together (they take a few; a hang fails the page)."""

BLOCKS = all_code_blocks()
_results: dict[str, dict[str, dict[str, str]]] = {}


def page_results(page: str) -> dict[str, dict[str, str]]:
    """Each block's outcome (``{"status": "passed" | "failed" | "skipped", ...}``) by id."""
    if page not in _results:
        with tempfile.TemporaryDirectory(prefix="kvstore-docs-") as work:
            result_file = Path(work) / "result.json"
            run = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--run", page, str(result_file)],
                cwd=work,
                env=python_env(),
                capture_output=True,
                text=True,
                timeout=PAGE_TIMEOUT,
                check=False,
            )
            if not result_file.exists():
                pytest.fail(
                    f"the docs runner died on {page} (exit {run.returncode}):\n"
                    f"{run.stdout[-4000:]}\n{run.stderr[-4000:]}",
                    pytrace=False,
                )
            _results[page] = json.loads(result_file.read_text(encoding="utf-8"))
    return _results[page]


def test_the_docs_have_code_blocks() -> None:
    assert len(BLOCKS) > 50
    assert {block.page for block in BLOCKS} >= {"getting-started.md", "store-api.md"}


def test_skipped_blocks_say_why() -> None:
    skipped = [block for block in BLOCKS if block.skip is not None]
    assert all(len(block.skip or "") > 20 for block in skipped), skipped
    # the site runs on memory://: a skip is for what no test here can provide
    assert len(skipped) <= len(BLOCKS) // 10, [block.id for block in skipped]


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.id)
def test_block(block: CodeBlock) -> None:
    if block.skip is not None:
        pytest.skip(f"{block.id}: {block.skip}")
    outcome = page_results(block.page)[block.id]
    if outcome["status"] != "passed":
        pytest.fail(f"{block.id}: {outcome['detail']}", pytrace=False)


CONFORMANCE_PAGE = "extending.md"
"""The page whose example backend and wrapper claim to pass the conformance suite."""


def test_the_example_backend_and_wrapper_pass_the_conformance_suite(tmp_path: Path) -> None:
    # the page's blocks, in order, are a test module: its Test* classes run under pytest
    blocks = [block.code for block in code_blocks(DOCS / CONFORMANCE_PAGE) if block.skip is None]
    module = tmp_path / "test_extending_page.py"
    module.write_text("\n\n".join(blocks), encoding="utf-8")
    env = python_env()
    env.pop("PYTEST_ADDOPTS", None)  # the outer run's options (-n ...) are not this run's
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=PAGE_TIMEOUT * 2,
        check=False,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary, summary


# ---------------------------------------------------------------- the child process


def _call_tests(namespace: dict[str, Any], before: set[str]) -> None:
    """Call the ``test_*`` functions the block defined; one that takes fixtures (an
    argument without a default) is left to pytest, as in a project's own test file."""
    for name, value in list(namespace.items()):
        if name in before or not name.startswith("test_") or not inspect.isfunction(value):
            continue
        parameters = inspect.signature(value).parameters.values()
        if any(parameter.default is inspect.Parameter.empty for parameter in parameters):
            continue
        if inspect.iscoroutinefunction(value):
            asyncio.run(value())
        else:
            value()


def _check_warnings(caught: list[warnings.WarningMessage]) -> None:
    """A block that forgets an ``await`` fails (asyncio only warns, at collection)."""
    for warning in caught:
        if "was never awaited" in str(warning.message):
            raise AssertionError(f"{warning.filename}:{warning.lineno}: {warning.message}")


def run_page(page: str) -> dict[str, dict[str, str]]:
    """Run ``page``'s blocks in order in one namespace; each block's outcome by id."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    outcomes: dict[str, dict[str, str]] = {}
    failed: str | None = None
    for block in code_blocks(DOCS / page):
        if block.skip is not None:
            outcomes[block.id] = {"status": "skipped", "detail": block.skip}
            continue
        if failed is not None:
            outcomes[block.id] = {"status": "failed", "detail": f"not run: {failed} failed"}
            continue
        # blank lines before the code keep the page's line numbers in tracebacks
        source = "\n" * (block.line - 1) + block.code
        try:
            before = set(namespace)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                exec(compile(source, str(DOCS / page), "exec"), namespace)
                _call_tests(namespace, before)
                gc.collect()  # a coroutine never awaited warns when it is collected
            _check_warnings(caught)
        except BaseException:  # noqa: BLE001 - every failure is the block's outcome
            outcomes[block.id] = {"status": "failed", "detail": traceback.format_exc()}
            failed = block.id
        else:
            outcomes[block.id] = {"status": "passed", "detail": ""}
    return outcomes


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "--run":
        sys.exit("usage: python tests/test_docs.py --run PAGE RESULT_JSON")
    sys.path.insert(0, str(ROOT))
    results = run_page(sys.argv[2])
    Path(sys.argv[3]).write_text(json.dumps(results), encoding="utf-8")
    sys.stdout.flush()
    sys.stderr.flush()
    # a store a page left open keeps threads of its own: the results are written, stop here
    os._exit(0)
