"""``SQLiteStore`` against ``MemoryStore`` (etcd's semantics, checked against etcd by
``tests/etcd/test_differential_etcd.py``): random primitive sequences find no divergence.

The seeds and steps are the memory run's (``tests/test_differential.py``); each seed
gets a fresh SQLite file. A failure prints the divergence with the seed and the call that
replays it.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from kvstore.testing.differential import Coverage, compare_many
from kvstore_memory import ManualClock, MemoryStore
from kvstore_sql import SQLiteStore

SEEDS = range(30)
STEPS = 200


def test_sqlite_store_answers_as_memory_store(tmp_path: Path) -> None:
    files = (tmp_path / f"seed-{n}.db" for n in itertools.count())
    coverage = Coverage()
    divergences = compare_many(
        MemoryStore,
        lambda: SQLiteStore(next(files), synchronous="normal"),
        seeds=SEEDS,
        steps=STEPS,
        coverage=coverage,
    )
    assert not divergences, "\n\n".join(map(str, divergences))
    # the sequences exercised everything the harness generates
    assert coverage.missing() == set()


def test_on_a_manual_clock_too(tmp_path: Path) -> None:
    files = (tmp_path / f"seed-{n}.db" for n in itertools.count())
    divergences = compare_many(
        lambda: MemoryStore(clock=ManualClock()),
        lambda: SQLiteStore(next(files), clock=ManualClock(), synchronous="normal"),
        seeds=range(100, 103),
        steps=STEPS,
    )
    assert not divergences, "\n\n".join(map(str, divergences))
