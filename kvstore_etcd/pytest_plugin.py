"""pytest fixtures that provide real etcd servers (registered as the ``kvstore_etcd`` plugin).

Fixtures:

- ``etcd_binary`` (session): path of the etcd binary (`find_etcd_binary`).
- ``etcd_server`` (session): one local `EtcdServer`, or an `ExternalEtcd` when
  ``$KVSTORE_ETCD_ENDPOINTS`` is set.
- ``etcd_endpoints`` (function): ``["host:port", ...]`` of ``etcd_server``, with every key
  and lease deleted before the test, so tests sharing the session server start empty.
- ``etcd_cluster`` (function): a started three-member `EtcdCluster`, always launched
  locally (tests kill and pause its members), closed after the test.
- ``etcd_store`` (function): an `EtcdStore` on ``etcd_endpoints`` (so on an empty
  keyspace), 5 s request and dial timeouts, closed after the test.

A missing etcd binary fails the test with instructions; it never skips, so CI cannot go
green without having run the etcd tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from kvstore_etcd.testing import (
    EtcdCluster,
    EtcdLaunchError,
    EtcdNotFoundError,
    EtcdServer,
    ExternalEtcd,
    endpoints_from_env,
    etcd_version,
    find_etcd_binary,
    wipe_etcd,
)

if TYPE_CHECKING:
    from kvstore_etcd.store import EtcdStore

__all__ = ["etcd_binary", "etcd_cluster", "etcd_endpoints", "etcd_server", "etcd_store"]

STORE_TIMEOUT = 5.0
"""Request and dial timeout of the ``etcd_store`` fixture's store, in seconds."""


def pytest_report_header(config: pytest.Config) -> str:
    """Say which etcd the tests will use, in pytest's header.

    Args:
        config: The pytest configuration (unused).

    Returns:
        One header line.
    """
    external = endpoints_from_env()
    if external:
        return f"etcd: external {','.join(external)} ($KVSTORE_ETCD_ENDPOINTS)"
    try:
        binary = find_etcd_binary()
        return f"etcd: {binary} (version {etcd_version(binary)})"
    except (EtcdNotFoundError, EtcdLaunchError) as exc:
        return f"etcd: unavailable ({exc})"


def _binary_or_fail() -> str:
    try:
        return find_etcd_binary()
    except EtcdNotFoundError as exc:
        problem = str(exc)
    # Outside the except block, so the report is not doubled by exception chaining.
    pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def etcd_binary() -> str:
    """Path of the etcd binary; fails the test if none is found.

    Returns:
        The absolute path.
    """
    return _binary_or_fail()


@pytest.fixture(scope="session")
def etcd_server() -> Iterator[EtcdServer | ExternalEtcd]:
    """A single-member etcd shared by the session, or the external one from the env.

    Yields:
        A started `EtcdServer`, or `ExternalEtcd` when ``$KVSTORE_ETCD_ENDPOINTS`` is set.
    """
    external = endpoints_from_env()
    if external:
        yield ExternalEtcd(external)
        return
    server = EtcdServer(_binary_or_fail())
    try:
        server.start()
    except EtcdLaunchError as exc:
        problem = str(exc)
    else:
        try:
            yield server
        finally:
            server.close()
        return
    server.close()
    pytest.fail(problem, pytrace=False)


@pytest.fixture
def etcd_endpoints(etcd_server: EtcdServer | ExternalEtcd) -> list[str]:
    """Endpoints of ``etcd_server``, emptied of every key and lease before the test.

    Args:
        etcd_server: The session's etcd.

    Returns:
        ``"host:port"`` strings.
    """
    try:
        wipe_etcd(etcd_server.endpoint)
    except EtcdLaunchError as exc:
        problem = str(exc)
    else:
        return list(etcd_server.endpoints)
    pytest.fail(problem, pytrace=False)


@pytest.fixture
def etcd_cluster() -> Iterator[EtcdCluster]:
    """A started three-member local cluster, closed after the test.

    Yields:
        The `EtcdCluster`.
    """
    cluster = EtcdCluster(3, binary=_binary_or_fail())
    try:
        cluster.start()
    except EtcdLaunchError as exc:
        problem = str(exc)
    else:
        try:
            yield cluster
        finally:
            cluster.close()
        return
    cluster.close()
    pytest.fail(problem, pytrace=False)


@pytest.fixture
def etcd_store(etcd_endpoints: list[str]) -> Iterator[EtcdStore]:
    """An ``EtcdStore`` on the session's etcd with every key and lease wiped, closed after.

    Args:
        etcd_endpoints: The emptied etcd's endpoints.

    Yields:
        The store.
    """
    # Imported here: the plugin is loaded by every pytest run, the gRPC client only when
    # a test asks for a store.
    from kvstore_etcd.config import EtcdConfig
    from kvstore_etcd.store import EtcdStore

    config = EtcdConfig(
        endpoints=etcd_endpoints, request_timeout=STORE_TIMEOUT, dial_timeout=STORE_TIMEOUT
    )
    store = EtcdStore(config)
    try:
        yield store
    finally:
        store.close()
