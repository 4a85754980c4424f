"""``DictStore`` proves itself against kvstore's conformance suite: one class, one fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kvstore_dictstore import DictStore

from kvstore import BaseStore
from kvstore.testing import ConformanceSuite


class HandClock:
    """A clock that moves only when told to: lease expiry without sleeping."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TestDictStore(ConformanceSuite):
    fast_clock = True  # lease expiry follows the HandClock: no sleeping

    @pytest.fixture
    def store(self) -> Iterator[BaseStore]:
        store = DictStore(clock=HandClock())
        yield store
        store.close()

    def advance_clock(self, store: BaseStore, seconds: float) -> None:
        assert isinstance(store, DictStore) and isinstance(store.clock, HandClock)
        store.clock.now += seconds
