"""The sync twins generated from the asyncio sources are up to date, and the generator
does what its docstring says."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "unasync.py"


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("unasync_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_twin_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_every_source_has_its_twin() -> None:
    pairs = _generator().sources()
    assert ("kvstore/_async/_context.py", "kvstore/_sync/_context.py") in pairs
    for source, twin in pairs:
        assert (ROOT / twin).exists(), f"{twin} (from {source}) is missing"
        assert (ROOT / twin).read_text().startswith(f"# Generated from {source} by ")


def test_keywords_names_modules_and_markers() -> None:
    source = '''"""An ``AsyncWatch`` of kvstore._async.watch: ``await watch.aclose()``."""
from kvstore._async.watch import AsyncWatch  # AsyncWatch
from kvstore.testing._async._support import snapshot
import asyncio  # unasync: async-only
# unasync: sync-only import time


class _AsyncThing(AsyncWatch):
    async def __aenter__(self) -> _AsyncThing:
        await self.aclose()
        async for item in self:
            await   self.step(item)
        async with self.lock:
            return f"{await self.name()} AsyncThing"

    async def size(self) -> int:
        return (await self.name()).count("a") + (await self.count())

    def __aiter__(self) -> AsyncIterator[int]:
        raise StopAsyncIteration
'''
    expected = '''"""A ``Watch`` of kvstore._sync.watch: ``watch.close()``."""
from kvstore._sync.watch import Watch  # Watch
from kvstore.testing._sync._support import snapshot
import time


class _Thing(Watch):
    def __enter__(self) -> _Thing:
        self.close()
        for item in self:
            self.step(item)
        with self.lock:
            return f"{self.name()} Thing"

    def size(self) -> int:
        return self.name().count("a") + self.count()

    def __iter__(self) -> Iterator[int]:
        raise StopIteration
'''
    assert _generator().unasync_source(source) == expected


def test_names_that_only_start_like_async_stay() -> None:
    generator = _generator()
    assert generator.unasync_name("Asynchronous") == "Asynchronous"
    assert generator.unasync_name("asyncio") == "asyncio"
    assert generator.unasync_name("AsyncKVStore") == "KVStore"
