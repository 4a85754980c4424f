"""``MemoryStore`` against real etcd: random primitive sequences find no divergence.

CI runs this on etcd 3.5.1 and again on Debian's 3.4.23 (``.ci/run``), with read
coalescing on (the default) and off. A failure prints
the divergence with the seed and the call that replays it.
"""

from __future__ import annotations

import attrs
import pytest

from kvstore.testing.differential import Coverage, compare_many
from kvstore_etcd import EtcdStore
from kvstore_memory import ManualClock, MemoryStore

pytestmark = pytest.mark.etcd

SEEDS = range(20)
STEPS = 250


@pytest.mark.parametrize("coalesce", [True, False], ids=["coalesce", "no-coalesce"])
def test_memory_store_answers_as_etcd(etcd_store: EtcdStore, coalesce: bool) -> None:
    config = attrs.evolve(etcd_store.config, coalesce_reads=coalesce)
    coverage = Coverage()
    divergences = compare_many(
        lambda: EtcdStore(config),
        MemoryStore,
        seeds=SEEDS,
        steps=STEPS,
        coverage=coverage,
    )
    assert not divergences, "\n\n".join(map(str, divergences))
    # the sequences exercised everything the harness generates
    assert coverage.missing() == set()


def test_a_memory_store_on_a_manual_clock_answers_as_etcd(etcd_store: EtcdStore) -> None:
    divergences = compare_many(
        lambda: EtcdStore(etcd_store.config),
        lambda: MemoryStore(clock=ManualClock()),
        seeds=range(100, 103),
        steps=STEPS,
    )
    assert not divergences, "\n\n".join(map(str, divergences))
