"""The conformance suite on ``SQLiteStore``: bare, through ``NamespacedStore`` and through
``EncryptedStore``, each on a fresh SQLite file with a ``ManualClock``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kvstore import BaseStore, EncryptedStore, Keyring, NamespacedStore
from kvstore.testing import ConformanceSuite
from kvstore_memory import ManualClock
from kvstore_sql import SQLiteStore

KEY = bytes(range(32))


def _clock(store: BaseStore) -> ManualClock:
    while isinstance(store, (NamespacedStore, EncryptedStore)):
        store = store.inner
    assert isinstance(store, SQLiteStore)
    assert isinstance(store.clock, ManualClock)
    return store.clock


class TestSQLiteStore(ConformanceSuite):
    fast_clock = True

    @pytest.fixture
    def store(self, sqlite_path: Path) -> Iterator[BaseStore]:
        store = SQLiteStore(sqlite_path, clock=ManualClock())
        yield store
        store.close()

    def advance_clock(self, store: BaseStore, seconds: float) -> None:
        _clock(store).advance(seconds)


class TestNamespacedSQLiteStore(ConformanceSuite):
    fast_clock = True

    @pytest.fixture
    def store(self, sqlite_path: Path) -> Iterator[BaseStore]:
        inner = SQLiteStore(sqlite_path, clock=ManualClock())
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


class TestEncryptedSQLiteStore(ConformanceSuite):
    fast_clock = True
    value_compares = False
    value_sort = False

    @pytest.fixture
    def store(self, sqlite_path: Path) -> Iterator[BaseStore]:
        store = EncryptedStore(SQLiteStore(sqlite_path, clock=ManualClock()), Keyring.single(KEY))
        yield store
        store.close()

    def advance_clock(self, store: BaseStore, seconds: float) -> None:
        _clock(store).advance(seconds)
