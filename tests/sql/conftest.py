"""Fixtures for the SQL backend's tests: a fresh SQLite file per test, and stores on it; a
fresh PostgreSQL schema per test.

``sqlite_path`` is a database file in the test's ``tmp_path`` (not created yet), the file
the plugin's ``sqlite_url`` names. ``postgres_server``, ``postgres_url`` and ``sqlite_url``
come from kvstore's pytest plugin (``kvstore_sql.pytest_plugin``).
The stores run on a ``ManualClock`` (``clock``), so lease expiry needs no sleeping.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from kvstore.base import BaseStore
from kvstore.plugins.discovery import open_base_store
from kvstore_memory import ManualClock
from kvstore_sql import AsyncSQLiteStore, SQLiteStore


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    """A database file for this test alone (created by the first store that opens it)."""
    return tmp_path / "kvstore.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """An empty database of the test's own, once on each: the ``sqlite_url`` file, then
    the ``postgres_url`` schema (for tests that other processes join through the URL)."""
    if request.param == "sqlite":
        return sqlite_url
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def database_store(database_url: str) -> Iterator[BaseStore]:
    """A store of this process on ``database_url`` (the wall clock), closed after the test."""
    store = open_base_store(database_url)
    yield store
    store.close()


@pytest.fixture
def clock() -> ManualClock:
    """The stores' lease clock: ``clock.advance(s)`` makes leases due, no sleep."""
    return ManualClock()


@pytest.fixture
def sqlite_store(sqlite_path: Path, clock: ManualClock) -> Iterator[SQLiteStore]:
    """A ``SQLiteStore`` on the test's file and ``clock``, closed after the test."""
    store = SQLiteStore(sqlite_path, clock=clock)
    yield store
    store.close()


@pytest_asyncio.fixture
async def async_sqlite_store(
    sqlite_path: Path, clock: ManualClock
) -> AsyncIterator[AsyncSQLiteStore]:
    """An ``AsyncSQLiteStore`` on the test's file and ``clock``, closed after the test."""
    store = AsyncSQLiteStore(sqlite_path, clock=clock)
    yield store
    await store.aclose()


@pytest.fixture
def postgres_schema() -> str:
    """A schema of the test's own on the session's server (the stores create it)."""
    return f"t_{uuid.uuid4().hex}"
