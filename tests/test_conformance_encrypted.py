"""The conformance suite on ``EncryptedStore(MemoryStore)``.

``EncryptedStore`` refuses ``Value`` compares (the server holds only ciphertexts), so the
class sets ``value_compares = False``: the suite then checks the refusal instead of
evaluating value compares, and its state machine draws none.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kvstore import BaseStore, EncryptedStore, Keyring
from kvstore.testing import ConformanceSuite
from kvstore_memory import ManualClock, MemoryStore

KEY = bytes(range(32))


class TestEncryptedMemoryStore(ConformanceSuite):
    fast_clock = True
    value_compares = False
    value_sort = False

    @pytest.fixture
    def store(self) -> Iterator[BaseStore]:
        store = EncryptedStore(MemoryStore(clock=ManualClock()), Keyring.single(KEY))
        yield store
        store.close()

    def advance_clock(self, store: BaseStore, seconds: float) -> None:
        assert isinstance(store, EncryptedStore) and isinstance(store.inner, MemoryStore)
        clock = store.inner.clock
        assert isinstance(clock, ManualClock)
        clock.advance(seconds)
