"""``DictStore`` proves itself against kvstore's conformance suite: one class, one fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kvstore_dictstore import DictStore

from kvstore import BaseStore
from kvstore.testing import ConformanceSuite
from kvstore_memory import ManualClock


class TestDictStore(ConformanceSuite):
    fast_clock = True  # lease expiry follows the ManualClock: no sleeping

    @pytest.fixture
    def store(self) -> Iterator[BaseStore]:
        store = DictStore(clock=ManualClock())
        yield store
        store.close()

    def advance_clock(self, store: BaseStore, seconds: float) -> None:
        assert isinstance(store, DictStore)
        clock = store.inner.clock  # type: ignore[attr-defined]
        assert isinstance(clock, ManualClock)
        clock.advance(seconds)
