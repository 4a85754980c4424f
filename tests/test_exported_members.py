"""The public surface: ``__all__`` is exactly what each top-level package exports."""

from __future__ import annotations

import types

import pytest

import kvstore
import kvstore_etcd
import kvstore_memory
import kvstore_sql
from kvstore import errors

SPEC_NAMES = {
    kvstore: {
        "KVStore",
        "KeyValue",
        "WatchEvent",
        "EventType",
        "TxnResult",
        "open",
        "backends",
        "EncryptedStore",
        "Keyring",
        "NamespacedStore",
        "Lock",
        "Election",
        "BaseStore",
        *errors.__all__,
    },
    kvstore_etcd: {"EtcdStore", "EtcdConfig"},
    kvstore_memory: {"MemoryStore", "ManualClock"},
    kvstore_sql: {"SQLiteStore", "AsyncSQLiteStore"},
}


@pytest.mark.parametrize("package", list(SPEC_NAMES), ids=lambda module: module.__name__)
def test_all_lists_every_public_name_and_nothing_else(package: types.ModuleType) -> None:
    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    public |= {
        name for name in package.__all__ if isinstance(getattr(package, name), types.ModuleType)
    }
    assert public == set(package.__all__) - {"__version__"}


@pytest.mark.parametrize("package", list(SPEC_NAMES), ids=lambda module: module.__name__)
def test_the_names_the_spec_promises_are_exported(package: types.ModuleType) -> None:
    assert SPEC_NAMES[package] <= set(package.__all__)
