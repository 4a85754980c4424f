"""Config fixture for the etcd backend tests, on the launcher's fixtures.

``etcd_server`` / ``etcd_endpoints`` / ``etcd_cluster`` / ``etcd_store`` come from the
``kvstore_etcd`` pytest plugin (``kvstore_etcd.pytest_plugin``); a missing etcd binary
fails the tests.
"""

from __future__ import annotations

import pytest

from kvstore_etcd import EtcdConfig
from kvstore_etcd.pytest_plugin import STORE_TIMEOUT


@pytest.fixture
def etcd_config(etcd_endpoints: list[str]) -> EtcdConfig:
    """A config for the session's etcd, emptied before the test (as ``etcd_store``'s)."""
    return EtcdConfig(
        endpoints=etcd_endpoints, request_timeout=STORE_TIMEOUT, dial_timeout=STORE_TIMEOUT
    )
