"""Fixtures for the tooz driver's tests: tooz URLs on the session's etcd and on the session's
PostgreSQL, with a fresh key space per test.

``etcd_endpoints`` (wiped before each test) and ``postgres_url`` (a schema of the test's
own) come from kvstore's pytest plugins (``kvstore_etcd.pytest_plugin``,
``kvstore_sql.pytest_plugin``); a server that cannot start fails the test, never skips it.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def tooz_etcd_url(etcd_endpoints: list[str]) -> str:
    """``kvstore+etcd://<the session's etcd>``, wiped of every key and lease."""
    return f"kvstore+etcd://{etcd_endpoints[0]}"


@pytest.fixture
def tooz_postgres_url(postgres_url: str) -> str:
    """``kvstore+postgresql://...?schema=<the test's own schema>``."""
    return f"kvstore+{postgres_url}"


@pytest.fixture(params=["etcd", "postgresql"])
def tooz_url(request: pytest.FixtureRequest) -> str:
    """The tooz URL of each server backend: etcd, then PostgreSQL."""
    fixture = "tooz_etcd_url" if request.param == "etcd" else "tooz_postgres_url"
    return str(request.getfixturevalue(fixture))
