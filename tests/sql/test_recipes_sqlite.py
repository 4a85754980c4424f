"""The recipe tests (locks, elections, STM, the other recipes, their asyncio forms) on
SQLite: every test of those modules that takes the ``store``, ``any_store`` or
``any_async_store`` fixture runs again here, on a ``SQLiteStore`` / ``AsyncSQLiteStore``
file with the test's ``ManualClock``.

Left out: ``test_each_waiter_watches_only_its_predecessor``, which reads the watcher
list of ``MemoryStore`` itself. Across processes, the locks are tested in
``test_processes.py``.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import test_election
import test_lock
import test_recipes_async
import test_recipes_more
import test_stm

from kvstore_memory import ManualClock
from kvstore_sql import AsyncSQLiteStore, SQLiteStore

_FIXTURES = {"store", "any_store", "any_async_store"}
_LEFT_OUT = {"test_each_waiter_watches_only_its_predecessor"}

for _module in (test_lock, test_election, test_stm, test_recipes_more, test_recipes_async):
    _prefix = _module.__name__.removeprefix("test_")
    for _name, _test in vars(_module).items():
        if (
            _name.startswith("test_")
            and _name not in _LEFT_OUT
            and inspect.isfunction(_test)
            and _FIXTURES & set(inspect.signature(_test).parameters)
        ):
            globals()[f"test_{_prefix}__{_name.removeprefix('test_')}"] = _test


@pytest.fixture
def store(sqlite_path: Path, clock: ManualClock) -> Iterator[SQLiteStore]:
    with SQLiteStore(sqlite_path, clock=clock, synchronous="normal") as made:
        yield made


@pytest.fixture
def any_store(store: SQLiteStore) -> SQLiteStore:
    return store


@pytest_asyncio.fixture
async def any_async_store(sqlite_path: Path, clock: ManualClock) -> AsyncIterator[AsyncSQLiteStore]:
    async with AsyncSQLiteStore(sqlite_path, clock=clock, synchronous="normal") as made:
        yield made
