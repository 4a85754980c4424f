"""The asyncio conformance suite on ``AsyncEtcdStore``: bare, and through each asyncio
wrapper (``AsyncNamespacedStore``, ``AsyncCompressedStore``, ``AsyncEncryptedStore``),
each with read coalescing on (the default) and off (``EtcdConfig.coalesce_reads``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import attrs
import pytest
import pytest_asyncio

from kvstore import (
    AsyncBaseStore,
    AsyncCompressedStore,
    AsyncEncryptedStore,
    AsyncNamespacedStore,
    Keyring,
)
from kvstore.testing import AsyncConformanceSuite
from kvstore_etcd import AsyncEtcdStore, EtcdConfig

pytestmark = pytest.mark.etcd

KEY = bytes(range(32))


@pytest.fixture(params=[True, False], ids=["coalesce", "no-coalesce"])
def etcd_config(etcd_config: EtcdConfig, request: pytest.FixtureRequest) -> EtcdConfig:
    """The session's config, with read coalescing on, then off."""
    return attrs.evolve(etcd_config, coalesce_reads=request.param)


class TestAsyncEtcdStore(AsyncConformanceSuite):
    @pytest_asyncio.fixture
    async def store(self, etcd_config: EtcdConfig) -> AsyncIterator[AsyncBaseStore]:
        store = AsyncEtcdStore(etcd_config)
        yield store
        await store.aclose()


class TestAsyncNamespacedEtcdStore(AsyncConformanceSuite):
    @pytest_asyncio.fixture
    async def store(self, etcd_config: EtcdConfig) -> AsyncIterator[AsyncBaseStore]:
        inner = AsyncEtcdStore(etcd_config)
        # keys around the namespace must stay invisible and untouched
        for key in ("app", "app0", "other/key"):
            await inner.put(key, b"outside")
        store = AsyncNamespacedStore(inner, "app/")
        yield store
        if not inner.closed:
            for key in ("app", "app0", "other/key"):
                assert await inner.get(key) == b"outside"
        await store.aclose()


class TestAsyncCompressedEtcdStore(AsyncConformanceSuite):
    value_compares = False
    value_sort = False

    @pytest_asyncio.fixture
    async def store(self, etcd_config: EtcdConfig) -> AsyncIterator[AsyncBaseStore]:
        store = AsyncCompressedStore(AsyncEtcdStore(etcd_config), threshold=0)
        yield store
        await store.aclose()


class TestAsyncEncryptedEtcdStore(AsyncConformanceSuite):
    value_compares = False
    value_sort = False

    @pytest_asyncio.fixture
    async def store(self, etcd_config: EtcdConfig) -> AsyncIterator[AsyncBaseStore]:
        store = AsyncEncryptedStore(AsyncEtcdStore(etcd_config), Keyring.single(KEY))
        yield store
        await store.aclose()
