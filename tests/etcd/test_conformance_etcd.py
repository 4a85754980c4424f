"""The conformance suite on ``EtcdStore``, bare, through ``NamespacedStore`` and through
``CompressedStore``, each with read coalescing on (the default) and off
(``EtcdConfig.coalesce_reads``)."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

from kvstore import BaseStore, CompressedStore, NamespacedStore
from kvstore.testing import ConformanceSuite
from kvstore_etcd import EtcdConfig, EtcdStore

pytestmark = pytest.mark.etcd


@pytest.fixture(params=[True, False], ids=["coalesce", "no-coalesce"])
def etcd_config(etcd_config: EtcdConfig, request: pytest.FixtureRequest) -> EtcdConfig:
    """The session's config, with read coalescing on, then off."""
    return attrs.evolve(etcd_config, coalesce_reads=request.param)


class TestEtcdStore(ConformanceSuite):
    @pytest.fixture
    def store(self, etcd_config: EtcdConfig) -> Iterator[BaseStore]:
        store = EtcdStore(etcd_config)
        yield store
        store.close()


class TestNamespacedEtcdStore(ConformanceSuite):
    @pytest.fixture
    def store(self, etcd_config: EtcdConfig) -> Iterator[BaseStore]:
        inner = EtcdStore(etcd_config)
        # keys around the namespace must stay invisible and untouched
        inner.put("app", b"outside")
        inner.put("app0", b"outside")
        inner.put("other/key", b"outside")
        store = NamespacedStore(inner, "app/")
        yield store
        if not inner.closed:
            for key in ("app", "app0", "other/key"):
                assert inner.get(key) == b"outside"
        store.close()


class TestCompressedEtcdStore(ConformanceSuite):
    value_compares = False
    value_sort = False

    @pytest.fixture
    def store(self, etcd_config: EtcdConfig) -> Iterator[BaseStore]:
        store = CompressedStore(EtcdStore(etcd_config), threshold=0)
        yield store
        store.close()
