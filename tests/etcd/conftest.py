"""Store fixtures for the etcd backend tests, on the launcher's fixtures.

``etcd_server`` / ``etcd_endpoints`` / ``etcd_cluster`` come from the ``kvstore_etcd``
pytest plugin (``kvstore_etcd.pytest_plugin``); a missing etcd binary fails the tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kvstore_etcd import EtcdConfig, EtcdStore


@pytest.fixture
def etcd_config(etcd_endpoints: list[str]) -> EtcdConfig:
    """A config for the session's etcd, emptied before the test."""
    return EtcdConfig(endpoints=etcd_endpoints, request_timeout=5.0, dial_timeout=5.0)


@pytest.fixture
def etcd_store(etcd_config: EtcdConfig) -> Iterator[EtcdStore]:
    """An ``EtcdStore`` on an empty etcd, closed after the test."""
    store = EtcdStore(etcd_config)
    try:
        yield store
    finally:
        store.close()
