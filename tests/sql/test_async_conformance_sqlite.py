"""The asyncio conformance suite on ``AsyncSQLiteStore``: bare, through
``AsyncNamespacedStore`` and through ``AsyncEncryptedStore``, each on a fresh SQLite file
with a ``ManualClock``. (A sync and an asyncio store sharing a file: ``test_sqlite_store``.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from kvstore import AsyncEncryptedStore, AsyncNamespacedStore, Keyring
from kvstore.base import AsyncBaseStore
from kvstore.testing import AsyncConformanceSuite
from kvstore_memory import ManualClock
from kvstore_sql import AsyncSQLiteStore

KEY = bytes(range(32))


def _clock(store: AsyncBaseStore) -> ManualClock:
    while isinstance(store, (AsyncNamespacedStore, AsyncEncryptedStore)):
        store = store.inner
    assert isinstance(store, AsyncSQLiteStore)
    assert isinstance(store.clock, ManualClock)
    return store.clock


class TestAsyncSQLiteStore(AsyncConformanceSuite):
    fast_clock = True

    @pytest_asyncio.fixture
    async def store(self, sqlite_path: Path) -> AsyncIterator[AsyncBaseStore]:
        store = AsyncSQLiteStore(sqlite_path, clock=ManualClock())
        yield store
        await store.aclose()

    def advance_clock(self, store: AsyncBaseStore, seconds: float) -> None:
        _clock(store).advance(seconds)


class TestAsyncNamespacedSQLiteStore(AsyncConformanceSuite):
    fast_clock = True

    @pytest_asyncio.fixture
    async def store(self, sqlite_path: Path) -> AsyncIterator[AsyncBaseStore]:
        inner = AsyncSQLiteStore(sqlite_path, clock=ManualClock())
        # keys around the namespace must stay invisible and untouched
        await inner.put("app", b"outside")
        await inner.put("app0", b"outside")
        await inner.put("other/key", b"outside")
        store = AsyncNamespacedStore(inner, "app/")
        yield store
        if not inner.closed:
            for key in ("app", "app0", "other/key"):
                assert await inner.get(key) == b"outside"
        await store.aclose()

    def advance_clock(self, store: AsyncBaseStore, seconds: float) -> None:
        _clock(store).advance(seconds)


class TestAsyncEncryptedSQLiteStore(AsyncConformanceSuite):
    fast_clock = True
    value_compares = False
    value_sort = False

    @pytest_asyncio.fixture
    async def store(self, sqlite_path: Path) -> AsyncIterator[AsyncBaseStore]:
        store = AsyncEncryptedStore(
            AsyncSQLiteStore(sqlite_path, clock=ManualClock()), Keyring.single(KEY)
        )
        yield store
        await store.aclose()

    def advance_clock(self, store: AsyncBaseStore, seconds: float) -> None:
        _clock(store).advance(seconds)
