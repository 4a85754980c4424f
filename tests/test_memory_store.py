"""What is particular to the in-memory fake: its clock, its cluster answers, etcd's quirks."""

from __future__ import annotations

import threading

import pytest

from kvstore import Capability, EventType, LeaseNotFoundError, NamespacedStore
from kvstore.errors import CompactedError, ConfigurationError, InvalidArgumentError
from kvstore.txn import Put, Txn, Version
from kvstore_memory import MIN_LEASE_TTL, ManualClock, MemoryStore, SystemClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(clock: ManualClock) -> MemoryStore:
    return MemoryStore(clock=clock)


def test_a_fresh_store_is_at_revision_one(store: MemoryStore) -> None:
    assert store.status().revision == 1
    assert store.put("a", b"1") == 2


def test_leases_expire_when_the_clock_is_advanced(store: MemoryStore, clock: ManualClock) -> None:
    lease = store.lease(10)
    store.put("session", b"x", lease=lease)
    watch = store.watch("session")
    clock.advance(9.5)
    assert store.exists("session")
    clock.advance(1)
    assert not store.exists("session")
    event = watch.next_event(1)
    assert event is not None and event.type is EventType.DELETE
    with pytest.raises(LeaseNotFoundError):
        lease.refresh()


def test_ttl_is_raised_to_the_etcd_minimum(store: MemoryStore) -> None:
    assert store.lease(1).ttl == MIN_LEASE_TTL


def test_lease_revocation_deletes_all_keys_at_one_revision(store: MemoryStore) -> None:
    lease = store.lease(30)
    store.put("a", b"1", lease=lease)
    store.put("b", b"2", lease=lease)
    before = store.status().revision
    lease.revoke()
    assert store.status().revision == before + 1
    assert store.count("") == 0


def test_a_txn_with_an_unknown_lease_changes_nothing(store: MemoryStore) -> None:
    store.put("a", b"1")
    with pytest.raises(LeaseNotFoundError):
        store.transaction().then(Put("b", b"2"), Put("c", b"3", lease=12345)).commit()
    assert store.list("") == ["a"]
    assert store.status().revision == 2


def test_nested_compares_see_the_state_before_the_txn(store: MemoryStore) -> None:
    result = (
        store.transaction()
        .then(Put("a", b"1"), Txn([Version("a") == 0], [Put("b", b"x")], [Put("b", b"y")]))
        .commit()
    )
    assert result.succeeded
    assert store.get("b") == b"x"


def test_compaction_rules(store: MemoryStore) -> None:
    for value in (b"1", b"2", b"3"):
        store.put("k", value)
    store.compact_revision(3)
    assert store.get_with_revision("k", 3) == b"2"
    with pytest.raises(CompactedError) as info:
        store.get_with_revision("k", 2)
    assert info.value.compact_revision == 3
    with pytest.raises(CompactedError):
        store.compact_revision(3)
    with pytest.raises(InvalidArgumentError):
        store.compact_revision(99)
    with pytest.raises(CompactedError):
        next(iter(store.watch("k", start_revision=2)))


def test_hash_kv_tracks_content(store: MemoryStore) -> None:
    empty = store.hash_kv().hash
    store.put("a", b"1")
    assert store.hash_kv().hash != empty
    assert store.hash_kv(1).hash == empty


def test_single_member_cluster_answers(store: MemoryStore) -> None:
    assert len(store.member_list()) == 1
    assert store.alarms() == []
    store.defragment()
    assert Capability.CLOCK in store.capabilities
    assert Capability.CLOCK not in MemoryStore(clock=SystemClock()).capabilities


def test_system_clock_store_expires_leases_by_itself() -> None:
    store = MemoryStore()
    try:
        lease = store.lease(2)
        store.put("k", b"v", lease=lease)
        gone = threading.Event()
        store.watch("k", callback=lambda event: gone.set())
        assert gone.wait(10)
        assert not store.exists("k")
    finally:
        store.close()


def test_manual_clock_refuses_to_go_back(clock: ManualClock) -> None:
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_namespace_needs_a_prefix(store: MemoryStore) -> None:
    with pytest.raises(ConfigurationError):
        NamespacedStore(store, "")


def test_namespace_strips_and_isolates(store: MemoryStore) -> None:
    store.put("other", b"0")
    app = NamespacedStore(store, "app/")
    app.put("a", b"1")
    watch = app.watch_prefix("", start_revision=1)
    assert store.get("app/a") == b"1"
    assert app.list("") == ["a"]
    assert app.delete_prefix("", allow_all=True) == 1
    assert store.list("") == ["other"]
    events = [watch.next_event(1), watch.next_event(1)]
    assert [(e.type, e.kv.key) for e in events if e] == [
        (EventType.PUT, "a"),
        (EventType.DELETE, "a"),
    ]


def _expiry_threads() -> int:
    return sum(thread.name == "kvstore-memory-leases" for thread in threading.enumerate())


def test_no_thread_until_a_lease_and_none_left_by_unclosed_stores() -> None:
    import gc

    before = _expiry_threads()
    stores = [MemoryStore() for _ in range(5)]
    assert _expiry_threads() == before  # no lease, no thread
    for store in stores:
        store.lease(30)
    assert _expiry_threads() == before + 5
    del stores, store
    gc.collect()
    # the threads hold their store weakly, so they end with it
    deadline = threading.Event()
    for _ in range(40):
        if _expiry_threads() == before:
            break
        deadline.wait(0.05)
    assert _expiry_threads() == before


def test_a_lock_held_when_its_store_closes_is_reported_lost(store: MemoryStore) -> None:
    lock = store.new_lock("jobs", ttl=5)
    lock.lock()
    store.close()
    assert lock.lost.is_set()
    assert not lock.is_locked
