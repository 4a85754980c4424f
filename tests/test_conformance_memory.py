"""The conformance suite on ``MemoryStore``, bare and through ``NamespacedStore``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kvstore import BaseStore, NamespacedStore
from kvstore.testing import ConformanceSuite
from kvstore_memory import ManualClock, MemoryStore


def _clock(store: BaseStore) -> ManualClock:
    while isinstance(store, NamespacedStore):
        store = store.inner
    assert isinstance(store, MemoryStore)
    assert isinstance(store.clock, ManualClock)
    return store.clock


class TestMemoryStore(ConformanceSuite):
    fast_clock = True

    @pytest.fixture
    def store(self) -> Iterator[BaseStore]:
        store = MemoryStore(clock=ManualClock())
        yield store
        store.close()

    def advance_clock(self, store: BaseStore, seconds: float) -> None:
        _clock(store).advance(seconds)


class TestNamespacedMemoryStore(ConformanceSuite):
    fast_clock = True

    @pytest.fixture
    def store(self) -> Iterator[BaseStore]:
        inner = MemoryStore(clock=ManualClock())
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

    def advance_clock(self, store: BaseStore, seconds: float) -> None:
        _clock(store).advance(seconds)
