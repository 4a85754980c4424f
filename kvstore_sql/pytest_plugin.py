"""pytest fixtures for the SQL backend (registered as the ``kvstore_sql`` plugin).

Fixtures:

- ``postgres_server`` (session): a throwaway `PostgresServer` (``kvstore_sql.launcher``)
  for the test process: under pytest-xdist, one per worker.
- ``postgres_url`` (function): ``postgresql://postgres@127.0.0.1:<port>/postgres?schema=
  <a schema of the test's own>`` on ``postgres_server``: every test starts on empty
  tables, and the stores of one test (in any process) share them.
- ``sqlite_url`` (function): ``sqlite:////<tmp_path>/kvstore.db``, a SQLite file of the
  test's own (created by the first store that opens it).

A server that cannot start (no binaries, ``initdb`` failing) fails the test with the
reason; it never skips, so a run cannot go green without the PostgreSQL tests.

Every pytest run loads this plugin (the ``pytest11`` entry point), also in projects that
installed ``kvstore`` without the ``[postgres]`` extra: importing it needs neither psycopg
nor PostgreSQL (the launcher is pure Python; the server's binaries are looked for when a
test asks for it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvstore_sql.launcher import (
    PostgresLaunchError,
    PostgresNotFoundError,
    PostgresServer,
    find_postgres_bin_dir,
    postgres_version,
)

__all__ = ["postgres_server", "postgres_url", "sqlite_url"]


def pytest_report_header(config: pytest.Config) -> str:
    """Say which PostgreSQL the tests will use, in pytest's header.

    Args:
        config: The pytest configuration (unused).

    Returns:
        One header line.
    """
    try:
        bin_dir = find_postgres_bin_dir()
        return f"postgres: {bin_dir} (version {postgres_version(bin_dir)})"
    except (PostgresNotFoundError, PostgresLaunchError) as exc:
        return f"postgres: unavailable ({exc})"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A started PostgreSQL server for this test process, closed at the end; fails the
    test if none can start.

    Yields:
        The `PostgresServer` (``url``, ``url_for(database, schema=...)``, ``kill``,
        ``start``).
    """
    try:
        server = PostgresServer()
    except (PostgresNotFoundError, PostgresLaunchError) as exc:
        problem = f"no PostgreSQL server for the tests: {exc}"
    else:
        try:
            yield server
        finally:
            server.close()
        return
    # outside the except block, so the report is not doubled by exception chaining
    pytest.fail(problem, pytrace=False)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A URL of the session's server with a schema of this test's own (created by the
    first store that opens it).

    Args:
        postgres_server: The session's server.

    Returns:
        ``postgresql://postgres@127.0.0.1:<port>/postgres?schema=t_<32 hex digits>``.
    """
    return postgres_server.url_for(schema=f"t_{uuid.uuid4().hex}")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file of this test's own, in ``tmp_path`` (not created yet).

    Args:
        tmp_path: pytest's directory for the test.

    Returns:
        ``sqlite:////<tmp_path>/kvstore.db`` (an absolute path: four slashes).
    """
    return f"sqlite:///{tmp_path / 'kvstore.db'}"
