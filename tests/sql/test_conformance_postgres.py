"""The conformance suites on ``PostgresStore`` and ``AsyncPostgresStore`` (a schema of the
test's own on a throwaway server), bare and through ``NamespacedStore``; and the
differential run against ``MemoryStore``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from kvstore import AsyncNamespacedStore, BaseStore, NamespacedStore
from kvstore.base import AsyncBaseStore
from kvstore.testing import AsyncConformanceSuite, ConformanceSuite
from kvstore.testing.differential import compare_many
from kvstore_memory import ManualClock, MemoryStore
from kvstore_sql import AsyncPostgresStore, PostgresStore
from kvstore_sql.launcher import PostgresServer


def _clock(store: object) -> ManualClock:
    while isinstance(store, (NamespacedStore, AsyncNamespacedStore)):
        store = store.inner
    assert isinstance(store, (PostgresStore, AsyncPostgresStore))
    assert isinstance(store.clock, ManualClock)
    return store.clock


class TestPostgresStore(ConformanceSuite):
    fast_clock = True

    @pytest.fixture
    def store(self, postgres_server: PostgresServer, postgres_schema: str) -> Iterator[BaseStore]:
        store = PostgresStore(postgres_server.url, schema=postgres_schema, clock=ManualClock())
        yield store
        store.close()

    def advance_clock(self, store: BaseStore, seconds: float) -> None:
        _clock(store).advance(seconds)


class TestNamespacedPostgresStore(ConformanceSuite):
    fast_clock = True

    @pytest.fixture
    def store(self, postgres_server: PostgresServer, postgres_schema: str) -> Iterator[BaseStore]:
        inner = PostgresStore(postgres_server.url, schema=postgres_schema, clock=ManualClock())
        inner.put("app", b"outside")
        store = NamespacedStore(inner, "app/")
        yield store
        if not inner.closed:
            assert inner.get("app") == b"outside"
        store.close()

    def advance_clock(self, store: BaseStore, seconds: float) -> None:
        _clock(store).advance(seconds)


class TestAsyncPostgresStore(AsyncConformanceSuite):
    fast_clock = True

    @pytest_asyncio.fixture
    async def store(
        self, postgres_server: PostgresServer, postgres_schema: str
    ) -> AsyncIterator[AsyncBaseStore]:
        store = AsyncPostgresStore(postgres_server.url, schema=postgres_schema, clock=ManualClock())
        yield store
        await store.aclose()

    def advance_clock(self, store: AsyncBaseStore, seconds: float) -> None:
        _clock(store).advance(seconds)


def test_postgres_store_answers_as_memory_store(postgres_server: PostgresServer) -> None:
    schemas = iter(range(1000))
    divergences = compare_many(
        MemoryStore,
        lambda: PostgresStore(postgres_server.url, schema=f"differential_{next(schemas)}"),
        seeds=range(30),
        steps=200,
    )
    assert not divergences, "\n\n".join(map(str, divergences))
