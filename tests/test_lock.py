"""Tests of ``kvstore.recipes`` (Session, Lock) on MemoryStore and through wrapper stores."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from recipe_helpers import WAIT, Worker, keepalive_threads, wait_until

from kvstore import (
    BaseStore,
    InvalidArgumentError,
    InvalidKeyError,
    Lock,
    LockError,
    LockLostError,
    LockNotHeldError,
    LockTimeoutError,
    Put,
    Session,
)
from kvstore.recipes import LOCK_NAMESPACE
from kvstore.recipes._sync._waiters import recipe_prefix
from kvstore_memory import ManualClock, MemoryStore


def lock_keys(store: BaseStore, lock: Lock) -> list[str]:
    return store.list(lock.prefix)


# ---------------------------------------------------------------- mutual exclusion


def test_threads_doing_read_modify_write_never_lose_an_increment(any_store: BaseStore) -> None:
    threads, rounds = 4, 15
    any_store.put("counter", b"0")
    inside = 0
    most_inside = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most_inside
        lock = any_store.new_lock("counter")
        for _ in range(rounds):
            lock.lock()
            with guard:
                inside += 1
                most_inside = max(most_inside, inside)
            value = int(any_store.get("counter"))
            time.sleep(0)  # invite a context switch between read and write
            any_store.put("counter", str(value + 1).encode())
            with guard:
                inside -= 1
            lock.unlock()
        lock.close()

    workers = [Worker(work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.result()
    assert int(any_store.get("counter")) == threads * rounds
    assert most_inside == 1
    assert any_store.count(LOCK_NAMESPACE) == 0


def test_fencing_tokens_strictly_increase_from_holder_to_holder(any_store: BaseStore) -> None:
    tokens: list[int] = []

    def work() -> None:
        lock = any_store.new_lock("fenced")
        for _ in range(5):
            lock.lock()
            tokens.append(lock.fencing_token)
            kv = any_store.get_kv(lock.key)
            assert kv is not None
            assert kv.create_revision == lock.fencing_token
            lock.unlock()
        lock.close()

    workers = [Worker(work) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.result()
    assert len(tokens) == 15
    assert tokens == sorted(set(tokens))


def test_waiters_are_served_in_fifo_order(any_store: BaseStore) -> None:
    holder = any_store.new_lock("queue")
    holder.lock()
    order: list[int] = []
    waiters = [any_store.new_lock("queue") for _ in range(4)]

    def wait_for(index: int) -> Callable[[], None]:
        def run() -> None:
            waiters[index].lock()
            order.append(index)
            waiters[index].unlock()

        return run

    workers = []
    for index in range(4):
        worker = Worker(wait_for(index))
        worker.start()
        workers.append(worker)
        queued = index + 2
        wait_until(lambda: len(lock_keys(any_store, holder)) == queued, "waiter queued")  # noqa: B023
    holder.unlock()
    for worker in workers:
        worker.result()
    assert order == [0, 1, 2, 3]
    for lock in [holder, *waiters]:
        lock.close()


def test_each_waiter_watches_only_its_predecessor(store: MemoryStore) -> None:
    holder = store.new_lock("herd")
    holder.lock()
    first, second = store.new_lock("herd"), store.new_lock("herd")
    workers = [Worker(first.lock)]
    workers[0].start()
    wait_until(lambda: len(lock_keys(store, holder)) == 2, "first waiter queued")
    workers.append(Worker(second.lock))
    workers[1].start()
    wait_until(lambda: len(lock_keys(store, holder)) == 3, "second waiter queued")
    # the fake's own watcher list: the second waiter watches the first, not the holder
    wait_until(lambda: {w.key for w in store._watchers} == {holder.key, first.key}, "watches")
    assert len(store._watchers) == 2
    holder.unlock()
    workers[0].result()
    assert first.is_locked and not second.is_locked
    first.unlock()
    workers[1].result()
    assert second.is_locked
    for lock in (holder, first, second):
        lock.close()


# ---------------------------------------------------------------- try_lock and timeouts


def test_try_lock_on_a_held_lock_returns_false_without_writing(any_store: BaseStore) -> None:
    holder = any_store.new_lock("busy")
    other = any_store.new_lock("busy")
    assert holder.try_lock()
    revision = any_store.kv_range("x").revision
    assert other.try_lock() is False
    assert any_store.kv_range("x").revision == revision  # the failed attempt wrote nothing
    assert lock_keys(any_store, holder) == [holder.key]
    assert not other.is_locked
    holder.unlock()
    assert other.try_lock()
    assert other.is_locked
    other.close()
    holder.close()


def test_try_lock_fails_while_waiters_queue_even_between_holders(store: MemoryStore) -> None:
    holder, waiter, late = (store.new_lock("q") for _ in range(3))
    holder.lock()
    worker = Worker(waiter.lock)
    worker.start()
    wait_until(lambda: len(lock_keys(store, holder)) == 2, "waiter queued")
    assert late.try_lock() is False
    holder.unlock()
    worker.result()
    assert waiter.is_locked
    for lock in (holder, waiter, late):
        lock.close()


def test_try_lock_by_the_holder_itself_returns_false(store: MemoryStore) -> None:
    lock = store.new_lock("self")
    assert lock.try_lock()
    assert lock.try_lock() is False
    assert lock.is_locked
    with pytest.raises(LockError):
        lock.lock()
    lock.close()


def test_lock_that_times_out_leaves_no_key(any_store: BaseStore) -> None:
    holder = any_store.new_lock("slow")
    holder.lock()
    other = any_store.new_lock("slow")
    with pytest.raises(LockTimeoutError):
        other.lock(timeout=0.05)
    with pytest.raises(LockTimeoutError):
        other.lock(timeout=0)
    assert lock_keys(any_store, holder) == [holder.key]
    assert not other.is_locked
    holder.unlock()
    other.lock(timeout=WAIT)
    assert other.is_locked
    other.close()
    holder.close()


@pytest.mark.parametrize("timeout", [-1, float("nan"), float("inf"), "1", True])
def test_bad_timeout_is_refused_before_anything_is_written(
    store: MemoryStore, timeout: object
) -> None:
    lock = store.new_lock("t")
    revision = store.kv_range("x").revision
    with pytest.raises(InvalidArgumentError):
        lock.lock(timeout=timeout)  # type: ignore[arg-type]
    assert store.kv_range("x").revision == revision
    lock.close()


# ---------------------------------------------------------------- loss and fencing


def test_expired_holder_sees_lost_and_its_stale_guard_is_rejected(
    any_store: BaseStore, clock: ManualClock
) -> None:
    losses: list[LockLostError] = []
    holder = any_store.new_lock("job", ttl=2)
    holder.on_lost = losses.append
    holder.lock()
    stale_token = holder.fencing_token
    contender = any_store.new_lock("job", ttl=60)
    waiting = Worker(contender.lock)
    waiting.start()
    wait_until(lambda: len(lock_keys(any_store, holder)) == 2, "contender queued")

    clock.advance(3)  # past the holder's TTL: its lease expires, its key goes

    waiting.result()
    assert contender.is_locked
    assert contender.fencing_token > stale_token
    assert holder.lost.wait(WAIT)
    assert not holder.is_locked
    wait_until(lambda: len(losses) == 1, "on_lost callback")
    assert isinstance(losses[0], LockLostError)

    stale = any_store.transaction().if_(holder.guard()).then(Put("resource", b"stale"))
    assert stale.commit().succeeded is False
    fresh = any_store.transaction().if_(contender.guard()).then(Put("resource", b"fresh"))
    assert fresh.commit().succeeded is True
    assert any_store.get("resource") == b"fresh"
    assert holder.fencing_token == stale_token  # kept until unlock, so late writes fail

    holder.unlock()
    with pytest.raises(LockNotHeldError):
        holder.guard()
    contender.close()
    holder.close()


def test_lost_holder_can_lock_again_with_a_new_session(
    store: MemoryStore, clock: ManualClock
) -> None:
    lock = store.new_lock("again", ttl=2)
    lock.lock()
    old_key = lock.key
    clock.advance(3)
    assert lock.lost.wait(WAIT)
    lock.lock(timeout=WAIT)
    assert lock.is_locked
    assert not lock.lost.is_set()
    assert lock.key != old_key
    lock.close()
    assert store.lease_leases() == []


def test_waiter_whose_session_expires_gets_lock_lost_and_leaves_no_key(
    store: MemoryStore, clock: ManualClock
) -> None:
    holder = store.new_lock("w", ttl=60)
    holder.lock()
    waiter = store.new_lock("w", ttl=2)
    worker = Worker(waiter.lock)
    worker.start()
    wait_until(lambda: len(lock_keys(store, holder)) == 2, "waiter queued")
    clock.advance(3)
    with pytest.raises(LockLostError):
        worker.result()
    assert lock_keys(store, holder) == [holder.key]
    assert holder.is_locked
    holder.close()
    waiter.close()


def test_shared_session_lost_raises_lock_lost(store: MemoryStore, clock: ManualClock) -> None:
    session = Session(store, ttl=2)
    lock = store.new_lock("shared", session=session)
    lock.lock()
    clock.advance(3)
    assert lock.lost.wait(WAIT)
    assert session.lost.is_set()
    with pytest.raises(LockLostError):
        lock.lock()
    lock.close()
    session.close()


# ---------------------------------------------------------------- names and key layout


def test_names_cannot_collide_by_prefix(any_store: BaseStore) -> None:
    names = ["a", "a/b", "/a", "/a/b", "a%2Fb", "a/", "ab"]
    locks = [any_store.new_lock(name) for name in names]
    assert all(lock.try_lock() for lock in locks)
    assert len({lock.prefix for lock in locks}) == len(names)
    for lock in locks:
        assert lock_keys(any_store, lock) == [lock.key]
        lock.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8))
def test_prefixes_of_distinct_names_are_never_nested(first: str, second: str) -> None:
    if first == second:
        return
    try:
        one = recipe_prefix(LOCK_NAMESPACE, first, "test")
        two = recipe_prefix(LOCK_NAMESPACE, second, "test")
    except InvalidKeyError:
        return  # not encodable as UTF-8 (lone surrogates): refused as a lock name too
    assert not one.startswith(two)
    assert not two.startswith(one)


def test_lock_keys_live_outside_application_prefixes(store: MemoryStore) -> None:
    lock = store.new_lock("app/jobs")
    lock.lock()
    assert lock.key.startswith("__kvstore/locks/app%2Fjobs/")
    assert lock.key == f"{lock.prefix}{lock.session.lease_id:x}"
    store.put("app/jobs/1", b"x")
    store.delete_prefix("app")
    store.delete_prefix("app/jobs")
    assert store.exists(lock.key)
    assert lock.is_locked
    lock.close()


def test_bad_names_and_ttls_are_refused(store: MemoryStore) -> None:
    with pytest.raises(InvalidKeyError):
        store.new_lock("")
    with pytest.raises(InvalidKeyError):
        store.new_lock(3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        store.new_lock("x", ttl=0)
    assert store.lease_leases() == []


# ---------------------------------------------------------------- sessions and life cycle


def test_two_lock_objects_in_one_process_exclude_each_other(store: MemoryStore) -> None:
    first, second = store.new_lock("same"), store.new_lock("same")
    assert first.session is not second.session
    assert first.try_lock()
    assert not second.try_lock()
    first.close()
    assert second.try_lock()
    second.close()


def test_one_session_shared_by_two_locks_of_one_name_is_refused(store: MemoryStore) -> None:
    with Session(store) as session:
        first = store.new_lock("dup", session=session)
        second = store.new_lock("dup", session=session)
        other = store.new_lock("other", session=session)
        first.lock()
        with pytest.raises(LockError):
            second.try_lock()
        assert other.try_lock()  # other names may share the session
        first.unlock()
        assert second.try_lock()
        for lock in (first, second, other):
            lock.close()
        assert not session.closed  # a shared session outlives its locks
    assert store.lease_leases() == []


def test_unlock_is_idempotent_and_close_revokes_the_own_session(store: MemoryStore) -> None:
    lock = store.new_lock("life")
    lock.unlock()
    with lock:
        assert lock.is_locked
    assert not lock.is_locked
    lock.unlock()
    with pytest.raises(LockNotHeldError):
        _ = lock.fencing_token
    lock.lock()
    lease = lock.session.lease_id
    lock.close()
    lock.close()
    assert lease not in store.lease_leases()
    assert store.count(LOCK_NAMESPACE) == 0
    with pytest.raises(LockError):
        lock.lock()
    assert "life" in repr(lock)


def test_session_lost_callback_and_close(store: MemoryStore, clock: ManualClock) -> None:
    seen: list[Exception] = []
    session = Session(store, ttl=2, on_lost=seen.append)
    assert session.alive and session.ttl == 2
    clock.advance(3)
    assert session.lost.wait(WAIT)
    assert not session.alive
    late: list[Exception] = []
    session.add_lost_callback(late.append)
    assert len(seen) == 1 and len(late) == 1
    assert session.check() is False
    session.close()
    session.close()
    assert "lost" in repr(session)


def test_session_check_reports_a_revoked_lease_at_once(store: MemoryStore) -> None:
    session = Session(store, ttl=60)
    assert session.check()
    store.revoke_lease(session.lease_id)
    assert session.check() is False
    assert session.lost.is_set()
    session.close()


def test_lease_revoked_behind_the_locks_back_gives_lock_lost_then_a_new_session(
    store: MemoryStore,
) -> None:
    lock = store.new_lock("revoked")
    store.revoke_lease(lock.session.lease_id)
    with pytest.raises(LockLostError):
        lock.lock()
    assert lock.session.lost.is_set()
    assert lock.try_lock()  # the lock's own session is replaced
    assert lock.is_locked
    lock.close()
    assert store.lease_leases() == []


def test_with_blocks_and_failed_attempts_leave_no_lease_and_no_keepalive_thread(
    any_store: BaseStore,
) -> None:
    threads, leases = keepalive_threads(), any_store.lease_leases()
    idle = any_store.new_lock("billing")  # an own session is made only to queue or hold
    assert any_store.lease_leases() == leases
    for _ in range(20):
        with any_store.new_lock("billing") as lock:
            assert lock.is_locked
            assert keepalive_threads() == threads + 1
        assert not lock.is_locked
    holder = any_store.new_lock("billing")
    assert holder.try_lock()
    assert idle.try_lock() is False
    with pytest.raises(LockTimeoutError):
        idle.lock(timeout=0)
    holder.unlock()
    assert keepalive_threads() == threads
    assert any_store.lease_leases() == leases
    for lock in (idle, holder):
        lock.close()


def test_unlock_keeps_a_shared_session_and_the_own_one_is_replaced(store: MemoryStore) -> None:
    with Session(store) as session:
        shared = store.new_lock("keep", session=session)
        with shared:
            pass
        assert session.alive
        assert shared.try_lock()
        assert shared.key == f"{shared.prefix}{session.lease_id:x}"
        shared.close()
        assert session.alive
    own = store.new_lock("keep")
    own.lock()
    first = own.session
    own.unlock()
    assert first.closed
    own.lock()
    assert own.session is not first and own.session.alive
    own.close()
    assert store.lease_leases() == []
