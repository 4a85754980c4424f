"""The asyncio conformance suite on ``AsyncMemoryStore``: alone, over a ``MemoryStore``'s
data (then the sync store must read what the async one wrote), and through
``AsyncNamespacedStore``, ``AsyncCompressedStore`` and ``AsyncEncryptedStore``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import attrs
import pytest_asyncio

from kvstore import AsyncCompressedStore, AsyncEncryptedStore, AsyncNamespacedStore, Keyring
from kvstore.base import AsyncBaseStore
from kvstore.testing import AsyncConformanceSuite
from kvstore.testing._async._support import snapshot as async_snapshot
from kvstore.testing._sync._support import snapshot
from kvstore_memory import AsyncMemoryStore, ManualClock, MemoryStore

KEY = bytes(range(32))


def _clock(store: AsyncBaseStore) -> ManualClock:
    while isinstance(store, (AsyncNamespacedStore, AsyncCompressedStore, AsyncEncryptedStore)):
        store = store.inner
    assert isinstance(store, AsyncMemoryStore)
    assert isinstance(store.clock, ManualClock)
    return store.clock


class TestAsyncMemoryStore(AsyncConformanceSuite):
    fast_clock = True

    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[AsyncBaseStore]:
        store = AsyncMemoryStore(clock=ManualClock())
        yield store
        await store.aclose()

    def advance_clock(self, store: AsyncBaseStore, seconds: float) -> None:
        _clock(store).advance(seconds)


class TestAsyncMemoryStoreOverSyncData(AsyncConformanceSuite):
    fast_clock = True

    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[AsyncBaseStore]:
        data = MemoryStore(clock=ManualClock())
        store = AsyncMemoryStore(data)
        yield store
        if not store.closed and not data.closed:
            seen = await async_snapshot(store)
            assert (seen.revision, seen.kvs) == attrs.astuple(snapshot(data), recurse=False)
        await store.aclose()
        data.close()

    async def advance_clock(self, store: AsyncBaseStore, seconds: float) -> None:
        _clock(store).advance(seconds)


class TestAsyncNamespacedMemoryStore(AsyncConformanceSuite):
    fast_clock = True

    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[AsyncBaseStore]:
        inner = AsyncMemoryStore(clock=ManualClock())
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


class TestAsyncCompressedMemoryStore(AsyncConformanceSuite):
    fast_clock = True
    value_compares = False
    value_sort = False

    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[AsyncBaseStore]:
        store = AsyncCompressedStore(AsyncMemoryStore(clock=ManualClock()), threshold=0)
        yield store
        await store.aclose()

    def advance_clock(self, store: AsyncBaseStore, seconds: float) -> None:
        _clock(store).advance(seconds)


class TestAsyncEncryptedMemoryStore(AsyncConformanceSuite):
    fast_clock = True
    value_compares = False
    value_sort = False

    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[AsyncBaseStore]:
        store = AsyncEncryptedStore(AsyncMemoryStore(clock=ManualClock()), Keyring.single(KEY))
        yield store
        await store.aclose()

    def advance_clock(self, store: AsyncBaseStore, seconds: float) -> None:
        _clock(store).advance(seconds)
