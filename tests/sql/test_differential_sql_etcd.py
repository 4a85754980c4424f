"""``SQLiteStore`` and ``PostgresStore`` against real etcd: random primitive sequences find
no divergence.

The seeds and step counts are the ``MemoryStore``-against-etcd run's
(``tests/etcd/test_differential_etcd.py``); each seed gets a fresh SQLite file or a fresh
PostgreSQL schema. The etcd server and the PostgreSQL server are the fixtures' (a missing
one fails the test, never skips it). A failure prints the divergence with the seed and
the call that replays it.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from postgres_server import PostgresServer

from kvstore.base import BaseStore
from kvstore.testing.differential import Coverage, compare_many
from kvstore_etcd import EtcdStore
from kvstore_memory import ManualClock
from kvstore_sql import PostgresStore, SQLiteStore

pytestmark = pytest.mark.etcd

SEEDS = range(20)
STEPS = 250
MANUAL_CLOCK_SEEDS = range(100, 103)

DATABASES = ["sqlite", "postgresql"]


def store_factory(
    database: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    *,
    clock: ManualClock | None = None,
) -> Callable[[], BaseStore]:
    """A fresh store of ``database`` per call: a new SQLite file, a new PostgreSQL schema."""
    if database == "sqlite":
        files = (tmp_path / f"seed-{n}.db" for n in itertools.count())
        return lambda: SQLiteStore(next(files), clock=clock, synchronous="normal")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return lambda: PostgresStore(server.url, schema=f"d_{uuid.uuid4().hex}", clock=clock)


@pytest.mark.parametrize("database", DATABASES)
def test_sql_store_answers_as_etcd(
    database: str, etcd_store: EtcdStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    coverage = Coverage()
    divergences = compare_many(
        lambda: EtcdStore(etcd_store.config),
        store_factory(database, tmp_path, request),
        seeds=SEEDS,
        steps=STEPS,
        coverage=coverage,
    )
    assert not divergences, "\n\n".join(map(str, divergences))
    # the sequences exercised everything the harness generates
    assert coverage.missing() == set()


@pytest.mark.parametrize("database", DATABASES)
def test_a_sql_store_on_a_manual_clock_answers_as_etcd(
    database: str, etcd_store: EtcdStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    divergences = compare_many(
        lambda: EtcdStore(etcd_store.config),
        store_factory(database, tmp_path, request, clock=ManualClock()),
        seeds=MANUAL_CLOCK_SEEDS,
        steps=STEPS,
    )
    assert not divergences, "\n\n".join(map(str, divergences))
