"""``store.stm`` on a real etcd: the bank under concurrent transfers, the forced schedules.

The same helpers as ``tests/test_stm.py`` (``stm_helpers``), against the etcd server the
fixtures start, sync (threads) and asyncio (tasks).
"""

from __future__ import annotations

import pytest
from stm_helpers import (
    ACCOUNTS,
    SAFE_LEVELS,
    START,
    Insufficient,
    balances,
    open_accounts,
    run_bank_tasks,
    run_bank_threads,
    run_two_withdrawals,
    write_skew,
)
from test_stm import (  # noqa: F401 - collected here again, on etcd
    test_a_pinned_read_below_compaction_starts_the_attempt_over,
)

from kvstore import STM, STMConflictError
from kvstore_etcd import AsyncEtcdStore, EtcdConfig, EtcdStore

pytestmark = pytest.mark.etcd


@pytest.mark.parametrize("isolation", SAFE_LEVELS)
def test_concurrent_transfers_keep_the_total_and_never_overdraw(
    etcd_store: EtcdStore, isolation: str
) -> None:
    open_accounts(etcd_store)
    attempts = run_bank_threads(etcd_store, isolation, threads=4, rounds=8)
    final = balances(etcd_store)
    assert sum(final) == START * len(ACCOUNTS)
    assert min(final) >= 0
    assert len(attempts) == 4 * 8


@pytest.mark.parametrize("isolation", SAFE_LEVELS)
async def test_concurrent_async_transfers_keep_the_total_and_never_overdraw(
    etcd_config: EtcdConfig, etcd_store: EtcdStore, isolation: str
) -> None:
    open_accounts(etcd_store)
    store = AsyncEtcdStore(etcd_config)
    try:
        attempts = await run_bank_tasks(store, isolation, tasks=4, rounds=8)
    finally:
        await store.aclose()
    final = balances(etcd_store)
    assert sum(final) == START * len(ACCOUNTS)
    assert min(final) >= 0
    assert max(attempts) > 1  # the tasks' transfers overlapped and conflicted


def test_read_committed_loses_an_update_that_serializable_snapshot_stops(
    etcd_store: EtcdStore,
) -> None:
    etcd_store.put("bank/0", b"100")
    assert run_two_withdrawals(etcd_store, "read_committed") == [1, 1]  # 120 handed out
    assert etcd_store.get("bank/0") == b"40"  # ... of 100, and the books show 60
    assert etcd_store.get("bank/out") == b"60"

    etcd_store.put("bank/0", b"100")
    etcd_store.delete("bank/out")
    outcomes = run_two_withdrawals(etcd_store, "serializable_snapshot")
    assert sorted(map(repr, outcomes)) == [repr(1), repr(Insufficient("bank/0"))]
    assert etcd_store.get("bank/0") == b"40"
    assert etcd_store.get("bank/out") == b"60"


def test_write_skew_under_read_committed_but_not_serializable(etcd_store: EtcdStore) -> None:
    etcd_store.bulk_put({"a": b"50", "b": b"50"})
    assert sorted(map(str, write_skew(etcd_store, "read_committed"))) == ["a", "b"]
    assert int(etcd_store.get("a")) + int(etcd_store.get("b")) == -60

    etcd_store.bulk_put({"a": b"50", "b": b"50"})
    results = write_skew(etcd_store, "serializable")
    assert len([result for result in results if isinstance(result, Insufficient)]) == 1
    assert int(etcd_store.get("a")) + int(etcd_store.get("b")) == 20


def test_a_blind_write_over_a_newer_one_retries_only_under_serializable_snapshot(
    etcd_store: EtcdStore,
) -> None:
    for isolation, attempts in (("serializable_snapshot", 2), ("serializable", 1)):
        etcd_store.bulk_put({"a": b"1", "b": b"old"})

        def apply(stm: STM) -> None:
            stm.get("a")
            if stm.attempts == 1:
                etcd_store.put("b", b"theirs")
            stm.put("b", b"mine")

        runner = STM(etcd_store, isolation)  # type: ignore[arg-type]
        runner.run(apply)
        assert runner.attempts == attempts, isolation
        assert etcd_store.get("b") == b"mine"


@pytest.fixture
def store(etcd_store: EtcdStore) -> EtcdStore:
    """The store of the memory tests run here again on etcd."""
    return etcd_store


def test_endless_conflicts_raise_with_nothing_written(etcd_store: EtcdStore) -> None:
    etcd_store.put("hot", b"0")

    def apply(stm: STM) -> None:
        stm.get("hot")
        etcd_store.put("hot", str(stm.attempts).encode())
        stm.put("mine", b"x")

    with pytest.raises(STMConflictError) as caught:
        etcd_store.stm(apply, retries=2)
    assert caught.value.attempts == 3 and caught.value.key == "hot"
    assert not etcd_store.exists("mine")


def test_an_exception_in_apply_writes_nothing(etcd_store: EtcdStore) -> None:
    revision = etcd_store.status().revision

    def apply(stm: STM) -> None:
        stm.put("k", b"v")
        raise Insufficient("k")

    with pytest.raises(Insufficient):
        etcd_store.stm(apply, prefetch=["k", "other"])
    assert etcd_store.status().revision == revision
