"""The conformance suite on ``CompressedStore(MemoryStore)``.

The threshold is 0, so every value that zlib shrinks (the suite's large values) is stored
compressed and the rest as it is: both paths run under every test. ``CompressedStore``
refuses ``Value`` compares and value sorts (the server holds compressed bytes), so the
class sets ``value_compares = False`` and ``value_sort = False``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kvstore import BaseStore, CompressedStore
from kvstore.testing import ConformanceSuite
from kvstore_memory import ManualClock, MemoryStore


class TestCompressedMemoryStore(ConformanceSuite):
    fast_clock = True
    value_compares = False
    value_sort = False

    @pytest.fixture
    def store(self) -> Iterator[BaseStore]:
        store = CompressedStore(MemoryStore(clock=ManualClock()), threshold=0)
        yield store
        store.close()

    def advance_clock(self, store: BaseStore, seconds: float) -> None:
        assert isinstance(store, CompressedStore) and isinstance(store.inner, MemoryStore)
        clock = store.inner.clock
        assert isinstance(clock, ManualClock)
        clock.advance(seconds)
