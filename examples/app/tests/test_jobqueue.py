"""Unit tests of the job queue on ``MemoryStore``: lease expiry by ``ManualClock``, no sleeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from jobqueue import ClaimLostError, JobQueue

from kvstore_memory import ManualClock, MemoryStore

CLAIM_TTL = 30


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(clock: ManualClock) -> Iterator[MemoryStore]:
    store = MemoryStore(clock=clock)
    yield store
    store.close()


@pytest.fixture
def queue(store: MemoryStore) -> JobQueue:
    return JobQueue(store, claim_ttl=CLAIM_TTL)


def test_submit_refuses_a_duplicate_id(queue: JobQueue) -> None:
    assert queue.submit("a", b"1")
    assert not queue.submit("a", b"2")
    assert queue.pending() == ["a"]


def test_workers_claim_different_jobs(queue: JobQueue) -> None:
    queue.submit("a", b"1")
    queue.submit("b", b"2")
    first = queue.claim("w1")
    second = queue.claim("w2")
    assert first is not None and second is not None
    assert {(first.job_id, first.payload), (second.job_id, second.payload)} == {
        ("a", b"1"),
        ("b", b"2"),
    }
    assert queue.claimed() == {first.job_id: "w1", second.job_id: "w2"}
    assert queue.claim("w3") is None


def test_claim_on_an_empty_queue_grants_no_lease(queue: JobQueue, store: MemoryStore) -> None:
    assert queue.claim("w1") is None
    assert store.lease_leases() == []


def test_complete_stores_the_result_and_dequeues(queue: JobQueue, store: MemoryStore) -> None:
    queue.submit("a", b"1")
    claim = queue.claim("w1")
    assert claim is not None
    assert queue.complete(claim, b"done")
    assert queue.result("a") == b"done"
    assert queue.pending() == []
    assert queue.claimed() == {}
    assert store.lease_leases() == []


def test_an_expired_claim_goes_back_to_the_queue(queue: JobQueue, clock: ManualClock) -> None:
    queue.submit("a", b"1")
    crashed = queue.claim("w1")
    assert crashed is not None
    clock.advance(CLAIM_TTL + 1)  # w1 stopped heartbeating
    assert queue.claimed() == {}
    retry = queue.claim("w2")
    assert retry is not None and retry.job_id == "a"


def test_a_lost_claim_cannot_complete(queue: JobQueue, clock: ManualClock) -> None:
    queue.submit("a", b"1")
    late = queue.claim("w1")
    assert late is not None
    clock.advance(CLAIM_TTL + 1)
    current = queue.claim("w2")
    assert current is not None
    assert not queue.complete(late, b"stale result")
    assert queue.result("a") is None
    assert queue.complete(current, b"fresh result")
    assert queue.result("a") == b"fresh result"


def test_heartbeat_keeps_the_claim(queue: JobQueue, clock: ManualClock) -> None:
    queue.submit("a", b"1")
    claim = queue.claim("w1")
    assert claim is not None
    for _ in range(5):
        clock.advance(CLAIM_TTL - 5)
        queue.heartbeat(claim)
    assert queue.claimed() == {"a": "w1"}
    assert queue.claim("w2") is None


def test_heartbeat_after_expiry_raises(queue: JobQueue, clock: ManualClock) -> None:
    queue.submit("a", b"1")
    claim = queue.claim("w1")
    assert claim is not None
    clock.advance(CLAIM_TTL + 1)
    with pytest.raises(ClaimLostError):
        queue.heartbeat(claim)
