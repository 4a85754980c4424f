"""Fixtures for the SQL backend's tests: a fresh SQLite file per test, and stores on it; a
PostgreSQL server per test process, with a fresh schema per test.

``sqlite_path`` is a database file in the test's ``tmp_path`` (not created yet);
``sqlite_url`` names it as ``kvstore.open`` takes it (``sqlite:////abs/path.db``).
The stores run on a ``ManualClock`` (``clock``), so lease expiry needs no sleeping.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from postgres_server import PostgresServer

from kvstore_memory import ManualClock
from kvstore_sql import AsyncSQLiteStore, SQLiteStore


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    """A database file for this test alone (created by the first store that opens it)."""
    return tmp_path / "kvstore.db"


@pytest.fixture
def sqlite_url(sqlite_path: Path) -> str:
    """``sqlite:////<tmp>/kvstore.db``: an absolute path, four slashes."""
    return f"sqlite:///{sqlite_path}"


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for this test process (each xdist worker has its own).

    It fails, never skips, when no server can start."""
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture
def postgres_schema() -> str:
    """A schema of the test's own on the session's server (the stores create it)."""
    return f"t_{uuid.uuid4().hex}"


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, postgres_schema: str) -> str:
    """``postgresql://postgres@127.0.0.1:<port>/postgres?schema=<the test's schema>``."""
    return f"{postgres_server.url}?schema={postgres_schema}"
