"""Fixtures for the tooz driver's tests: tooz URLs on the session's etcd and on a throwaway
PostgreSQL server (each xdist worker has its own), with a fresh key space per test.

``etcd_endpoints`` comes from the ``kvstore_etcd`` pytest plugin (it wipes the etcd before
each test); the PostgreSQL server is ``tests/sql/postgres_server.py``'s, and each test gets
a schema of its own. A server that cannot start fails the test, never skips it.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sql"))

from postgres_server import PostgresServer


@pytest.fixture(scope="session")
def tooz_postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for this test process."""
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture
def tooz_etcd_url(etcd_endpoints: list[str]) -> str:
    """``kvstore+etcd://<the session's etcd>``, wiped of every key and lease."""
    return f"kvstore+etcd://{etcd_endpoints[0]}"


@pytest.fixture
def tooz_postgres_url(tooz_postgres_server: PostgresServer) -> str:
    """``kvstore+postgresql://...?schema=<the test's own schema>``."""
    return f"kvstore+{tooz_postgres_server.url}?schema=t_{uuid.uuid4().hex}"


@pytest.fixture(params=["etcd", "postgresql"])
def tooz_url(request: pytest.FixtureRequest) -> str:
    """The tooz URL of each server backend: etcd, then PostgreSQL."""
    fixture = "tooz_etcd_url" if request.param == "etcd" else "tooz_postgres_url"
    return str(request.getfixturevalue(fixture))
