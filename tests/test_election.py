"""Tests of ``kvstore.recipes._sync.election`` on MemoryStore and through wrapper stores."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from recipe_helpers import WAIT, Worker, keepalive_threads, wait_until

from kvstore import (
    BaseStore,
    CompactedError,
    Election,
    InvalidArgumentError,
    KeyValue,
    LockError,
    LockLostError,
    LockNotHeldError,
    LockTimeoutError,
    Put,
    Session,
    Watch,
)
from kvstore.recipes import ELECTION_NAMESPACE
from kvstore.watch import QueueWatch
from kvstore_memory import ManualClock, MemoryStore


def candidates(store: BaseStore, election: Election) -> int:
    return store.count(election.prefix)


def test_one_leader_at_a_time_and_every_candidate_leads(any_store: BaseStore) -> None:
    leading = 0
    most_leading = 0
    leaders: list[bytes] = []
    guard = threading.Lock()

    def candidate(name: bytes) -> Callable[[], None]:
        def run() -> None:
            nonlocal leading, most_leading
            with any_store.new_election("primary") as election:
                election.campaign(name)
                with guard:
                    leading += 1
                    most_leading = max(most_leading, leading)
                    leaders.append(name)
                leader = election.leader()
                assert leader is not None and leader.value == name
                assert election.is_leader
                time.sleep(0.01)
                with guard:
                    leading -= 1
                election.resign()
                assert not election.is_leader

        return run

    workers = [Worker(candidate(f"node-{i}".encode())) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.result()
    assert most_leading == 1
    assert sorted(leaders) == [f"node-{i}".encode() for i in range(4)]
    assert any_store.count(ELECTION_NAMESPACE) == 0


def test_proclaim_changes_the_value_only_for_the_leader(any_store: BaseStore) -> None:
    first = any_store.new_election("svc")
    second = any_store.new_election("svc")
    assert first.leader() is None
    with pytest.raises(LockNotHeldError):
        first.proclaim(b"nope")
    first.campaign(b"10.0.0.1")
    first.proclaim(b"10.0.0.2")
    leader = first.leader()
    assert leader is not None
    assert (leader.key, leader.value) == (first.key, b"10.0.0.2")
    with pytest.raises(LockNotHeldError):
        second.proclaim(b"10.0.0.3")
    first.campaign(b"10.0.0.4")  # a leader campaigning again just proclaims
    assert first.leader().value == b"10.0.0.4"  # type: ignore[union-attr]
    assert candidates(any_store, first) == 1
    first.close()
    second.close()


def test_campaign_that_times_out_leaves_no_key(any_store: BaseStore) -> None:
    leader = any_store.new_election("e")
    leader.campaign(b"a")
    follower = any_store.new_election("e")
    with pytest.raises(LockTimeoutError):
        follower.campaign(b"b", timeout=0.05)
    assert candidates(any_store, leader) == 1
    assert not follower.is_leader
    with pytest.raises(InvalidArgumentError):
        follower.campaign("text")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        follower.campaign(b"b", timeout=-1)
    assert candidates(any_store, leader) == 1
    leader.close()
    follower.close()


def test_failover_when_the_leaders_session_dies(any_store: BaseStore, clock: ManualClock) -> None:
    losses: list[LockLostError] = []
    leader = any_store.new_election("db", ttl=2)
    leader.on_lost = losses.append
    leader.campaign(b"old")
    old_token = leader.fencing_token
    follower = any_store.new_election("db", ttl=60)
    worker = Worker(lambda: follower.campaign(b"new"))
    worker.start()
    wait_until(lambda: candidates(any_store, leader) == 2, "follower queued")

    clock.advance(3)

    worker.result()
    assert follower.is_leader
    assert follower.fencing_token > old_token
    assert follower.leader().value == b"new"  # type: ignore[union-attr]
    assert leader.lost.wait(WAIT)
    assert not leader.is_leader
    wait_until(lambda: len(losses) == 1, "on_lost callback")
    stale = any_store.transaction().if_(leader.guard()).then(Put("config", b"old"))
    assert not stale.commit().succeeded
    with pytest.raises(LockNotHeldError):
        leader.proclaim(b"still me?")
    with pytest.raises(LockTimeoutError):
        leader.campaign(b"back", timeout=0.05)  # campaigns again, on a fresh session
    assert candidates(any_store, follower) == 1
    follower.close()
    leader.close()


def test_observers_see_every_change_in_order(any_store: BaseStore, clock: ManualClock) -> None:
    a = any_store.new_election("obs", ttl=60)
    b = any_store.new_election("obs", ttl=2)
    c = any_store.new_election("obs", ttl=60)
    seen: list[tuple[str, bytes]] = []
    observer = a.observe()
    done = threading.Event()

    def follow() -> None:
        for kv in observer:
            seen.append((kv.key, kv.value))
            if kv.value == b"c1":
                done.set()

    follower = Worker(follow)
    follower.start()
    a.campaign(b"a1")
    a.proclaim(b"a2")
    b_turn = Worker(lambda: b.campaign(b"b1"))
    b_turn.start()
    wait_until(lambda: candidates(any_store, a) == 2, "b queued")
    c_turn = Worker(lambda: c.campaign(b"c1"))
    c_turn.start()
    wait_until(lambda: candidates(any_store, a) == 3, "c queued")
    a.resign()
    b_turn.result()
    b.proclaim(b"b2")
    clock.advance(3)  # b's lease expires: c leads
    c_turn.result()
    assert done.wait(WAIT)
    observer.cancel()
    follower.result()
    assert seen == [
        (a.key, b"a1"),
        (a.key, b"a2"),
        (b.key, b"b1"),
        (b.key, b"b2"),
        (c.key, b"c1"),
    ]
    for election in (a, b, c):
        election.close()


def test_observer_starts_with_the_current_leader_and_times_out(store: MemoryStore) -> None:
    election = store.new_election("now")
    with election.observe() as observer:
        assert observer.next_leader(0.01) is None
        election.campaign(b"x")
        first = observer.next_leader(WAIT)
        assert isinstance(first, KeyValue) and first.value == b"x"
        assert observer.next_leader(0.01) is None
    assert observer.next_leader(0.01) is None
    with election.observe() as late:
        assert late.next_leader(WAIT) == election.leader()
    election.close()


def test_observer_recovers_from_a_compacted_watch(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    election = store.new_election("compact")
    election.campaign(b"1")
    real_watch_range = store.watch_range
    calls = []

    def compacted_once(*args: Any, **kwargs: Any) -> Watch:
        calls.append(kwargs.get("start_revision"))
        if len(calls) > 1:
            return real_watch_range(*args, **kwargs)
        broken = QueueWatch()
        broken.fail(CompactedError("compacted", compact_revision=1, operation="watch"))
        return broken

    monkeypatch.setattr(store, "watch_range", compacted_once)
    observer = election.observe()
    assert observer.next_leader(WAIT).value == b"1"  # type: ignore[union-attr]
    election.proclaim(b"2")
    assert observer.next_leader(WAIT).value == b"2"  # type: ignore[union-attr]
    assert len(calls) == 2
    observer.cancel()
    election.close()


def test_resign_is_idempotent_and_lets_the_next_candidate_lead(store: MemoryStore) -> None:
    first, second = store.new_election("r"), store.new_election("r")
    first.resign()
    first.campaign(b"1")
    worker = Worker(lambda: second.campaign(b"2"))
    worker.start()
    wait_until(lambda: candidates(store, first) == 2, "second queued")
    first.resign()
    first.resign()
    worker.result()
    assert second.is_leader and not first.is_leader
    assert second.leader().value == b"2"  # type: ignore[union-attr]
    second.close()
    first.close()
    with pytest.raises(LockError):
        first.campaign(b"closed")
    assert store.lease_leases() == []
    assert "r" in repr(first)


def test_shared_session_between_lock_and_election(store: MemoryStore) -> None:
    with Session(store) as session:
        lock = store.new_lock("x", session=session)
        election = store.new_election("x", session=session)
        twin = store.new_election("x", session=session)
        assert lock.try_lock()
        election.campaign(b"v")
        with pytest.raises(LockError):
            twin.campaign(b"w")
        assert lock.key.endswith(election.key.rsplit("/", 1)[1])
        lock.close()
        election.close()
        twin.close()
    assert store.count(ELECTION_NAMESPACE) == 0


def test_resign_and_with_blocks_leave_no_lease_and_no_keepalive_thread(
    any_store: BaseStore,
) -> None:
    threads, leases = keepalive_threads(), any_store.lease_leases()
    follower = any_store.new_election("cron")  # no session until it campaigns
    assert follower.leader() is None
    assert any_store.lease_leases() == leases
    for index in range(10):
        election = any_store.new_election("cron")
        election.campaign(str(index).encode())
        assert keepalive_threads() == threads + 1
        election.resign()
        with any_store.new_election("cron") as scoped:
            scoped.campaign(b"scoped")
    leader = any_store.new_election("cron")
    leader.campaign(b"leader")
    with pytest.raises(LockTimeoutError):
        follower.campaign(b"follower", timeout=0)
    leader.resign()
    assert keepalive_threads() == threads
    assert any_store.lease_leases() == leases
    for election in (follower, leader):
        election.close()
