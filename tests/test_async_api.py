"""The asyncio API on ``AsyncMemoryStore``: what only asyncio has (cancellation, tasks,
``aclose``), sharing a ``MemoryStore``'s data, ``open_async``, and the sync and asyncio
conveniences agreeing call for call (they are one source, generated)."""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kvstore
from kvstore import (
    AsyncKVStore,
    AsyncLock,
    BackendNotFoundError,
    InvalidArgumentError,
    InvalidKeyError,
    KVStoreError,
    LockTimeoutError,
    Put,
    StoreClosedError,
)
from kvstore._async._concurrency import wait_event
from kvstore_memory import AsyncMemoryStore, ManualClock, MemoryStore


def _other_tasks() -> set[asyncio.Task[Any]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


async def _settle() -> None:
    """Let cancelled or finished tasks run to their end."""
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.fixture
def data() -> MemoryStore:
    return MemoryStore(clock=ManualClock())


@pytest.fixture
async def store(data: MemoryStore) -> Any:
    async with AsyncMemoryStore(data) as store:
        yield store


async def test_the_store_satisfies_the_protocol(store: AsyncMemoryStore) -> None:
    assert isinstance(store, AsyncKVStore)
    assert isinstance(MemoryStore(), kvstore.KVStore)


async def test_sync_and_async_code_share_one_store(data: MemoryStore) -> None:
    store = AsyncMemoryStore(data)
    data.put("a", b"1")
    assert await store.get("a") == b"1"
    revision = await store.put("b", b"2")
    assert data.get("b") == b"2"
    assert data.status().revision == revision
    await store.aclose()
    assert not data.closed  # a shared MemoryStore belongs to the caller
    assert data.get("a") == b"1"
    with pytest.raises(StoreClosedError):
        await store.get("a")


async def test_a_watch_sees_writes_made_from_another_thread(
    data: MemoryStore, store: AsyncMemoryStore
) -> None:
    async with store.watch_prefix("t/") as watch:
        writer = threading.Thread(target=lambda: [data.put(f"t/{i}", b"x") for i in range(20)])
        writer.start()
        keys = [(await watch.next_event(5)) for _ in range(20)]
        writer.join()
    assert [event.kv.key for event in keys if event is not None] == [f"t/{i}" for i in range(20)]


async def test_cancelling_a_task_waiting_for_a_lock_leaves_no_waiter_key(
    store: AsyncMemoryStore,
) -> None:
    holder = store.new_lock("jobs", ttl=5)
    await holder.lock()
    waiter = store.new_lock("jobs", ttl=5)
    task = asyncio.create_task(waiter.lock())
    for _ in range(50):  # until the waiter's key is queued
        await asyncio.sleep(0.01)
        if await store.count(holder.prefix) == 2:
            break
    assert await store.count(holder.prefix) == 2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await store.list(holder.prefix) == [holder.key]
    assert not waiter.is_locked
    await holder.unlock()
    assert await store.count(holder.prefix) == 0
    # the waiter can still be used
    assert await waiter.try_lock()
    await waiter.unlock()
    await _settle()
    assert _other_tasks() == set()


async def test_a_lock_times_out_without_a_key_left(store: AsyncMemoryStore) -> None:
    async with store.new_lock("t", ttl=5) as holder:
        other = store.new_lock("t", ttl=5)
        with pytest.raises(LockTimeoutError):
            await other.lock(timeout=0.2)
        assert await store.list(holder.prefix) == [holder.key]


async def test_cancelling_a_task_waiting_for_an_event_keeps_the_watch_cancellable(
    data: MemoryStore, store: AsyncMemoryStore
) -> None:
    watch = store.watch("k")
    task = asyncio.create_task(watch.next_event(None))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await store.put("k", b"1")
    event = await watch.next_event(1)
    assert event is not None and event.kv.value == b"1"
    await watch.cancel()
    assert watch.cancelled
    assert await watch.next_event(0) is None
    assert data._watchers == []  # nothing left feeding it


_NO_LOST_CANCEL = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="Python 3.10 has no asyncio.timeout: wait_for keeps the race"
)


@_NO_LOST_CANCEL
async def test_a_cancel_that_meets_an_event_ends_the_read_and_leaves_the_event(
    store: AsyncMemoryStore,
) -> None:
    # The event reaches the waiting reader, and the cancel comes before the reader runs
    # again. asyncio.wait_for (before 3.12) returned the event and lost the cancel: a
    # cancelled semaphore waiter that was just told of a newer waiter's key waited on.
    watch = store.watch_prefix("k")
    task = asyncio.create_task(watch.next_event(30))
    await asyncio.sleep(0.01)
    await store.put("k/1", b"1")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    event = await watch.next_event(1)
    assert event is not None and event.kv.value == b"1"
    await watch.cancel()


@_NO_LOST_CANCEL
async def test_a_cancel_that_meets_the_set_ends_wait_event() -> None:
    event = asyncio.Event()
    task = asyncio.create_task(wait_event(event, 30))
    await asyncio.sleep(0.01)
    event.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_lock_whose_lease_expires_is_reported_lost_and_its_guarded_write_refused(
    data: MemoryStore, store: AsyncMemoryStore
) -> None:
    clock = data.clock
    assert isinstance(clock, ManualClock)
    losses: list[KVStoreError] = []
    lock = store.new_lock("fenced", ttl=2, on_lost=losses.append)
    await lock.lock()
    token = lock.fencing_token
    guard = lock.guard()
    clock.advance(10)  # the lease expires: the key is deleted under the holder
    assert await wait_event(lock.lost, 5)  # the keep-alive's next renewal notices
    assert losses and "was lost" in str(losses[0])
    assert not lock.is_locked
    result = await store.transaction().if_(guard).then(Put("fenced/state", b"late")).commit()
    assert not result.succeeded
    assert not await store.exists("fenced/state")
    assert lock.fencing_token == token  # still readable until unlock
    await lock.unlock()


async def test_closing_the_store_ends_every_task_it_started(data: MemoryStore) -> None:
    store = AsyncMemoryStore(data)
    seen: list[str] = []
    watch = store.watch_prefix("w/", callback=lambda event: seen.append(event.kv.key))
    lease = await store.lease(10)
    keepalive = await store.keep_alive(lease)
    lock = store.new_lock("held", ttl=5)
    await lock.lock()
    await store.put("w/1", b"x")
    for _ in range(100):
        if seen:
            break
        await asyncio.sleep(0.01)
    assert seen == ["w/1"]
    assert _other_tasks()  # the callback pump and the keep-alives
    await store.aclose()
    await _settle()
    assert _other_tasks() == set()
    assert watch.cancelled
    assert keepalive.lost.is_set()  # nothing renews it any more
    assert not keepalive.running
    assert lock.lost.is_set() or not lock.is_locked


async def test_keep_alive_with_a_coroutine_callback(store: AsyncMemoryStore) -> None:
    lost = asyncio.Event()

    async def on_lost(error: KVStoreError) -> None:
        lost.set()

    lease = await store.lease(2)
    keepalive = await store.keep_alive(lease, on_lost=on_lost)
    await store.revoke_lease(lease)
    assert await wait_event(lost, 5)
    assert keepalive.lost.is_set()


async def test_bad_input_is_refused_before_anything_changes(store: AsyncMemoryStore) -> None:
    before = (await store.status()).revision
    with pytest.raises(InvalidKeyError):
        await store.put(1, b"x")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        await store.put("k", "not bytes")  # type: ignore[arg-type]
    with pytest.raises(InvalidKeyError):
        store.watch("")
    with pytest.raises(InvalidArgumentError):
        await store.bulk_put([("a", b"1")])  # type: ignore[arg-type]
    assert (await store.status()).revision == before


async def test_open_async_builds_memory_and_the_wrappers() -> None:
    async with kvstore.open_async("memory://?namespace=app/&compress=1") as store:
        assert isinstance(store, kvstore.AsyncNamespacedStore)
        assert isinstance(store.inner, kvstore.AsyncCompressedStore)
        await store.put("a", b"v" * 1000)
        assert await store.get("a") == b"v" * 1000
        assert await store.list("") == ["a"]
        raw = store.inner.inner
        assert (await raw.kv_range("app/a")).kvs[0].value != b"v" * 1000


async def test_open_async_of_an_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(BackendNotFoundError) as info:
        kvstore.open_async("nosuch://x")
    assert "memory" in info.value.known


async def test_an_async_lock_is_an_async_context_manager(store: AsyncMemoryStore) -> None:
    async with store.new_lock("cm") as lock:
        assert isinstance(lock, AsyncLock)
        assert lock.is_locked
    assert not lock.is_locked
    assert await store.count(lock.prefix) == 0


async def test_an_election_observer_iterates_leaders(store: AsyncMemoryStore) -> None:
    first = store.new_election("e", ttl=5)
    await first.campaign(b"one")
    observer = first.observe()
    leaders = []
    async for leader in observer:
        leaders.append(leader.value)
        if len(leaders) == 1:
            await first.proclaim(b"two")
        else:
            break
    await observer.cancel()
    assert leaders == [b"one", b"two"]
    await first.resign()


# ---------------------------------------------------------------- the two APIs agree

_KEYS = st.sampled_from(["a", "a/b", "a/c", "b", "c/d"])
_VALUES = st.binary(max_size=8)
_CALLS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), _KEYS, _VALUES),
        st.tuples(st.just("get"), _KEYS),
        st.tuples(st.just("delete"), _KEYS),
        st.tuples(st.just("delete_prefix"), st.sampled_from(["a", "a/", "c"])),
        st.tuples(st.just("put_if_not_exists"), _KEYS, _VALUES),
        st.tuples(st.just("compare_and_swap"), _KEYS, _VALUES, _VALUES),
        st.tuples(st.just("move_key"), _KEYS, _KEYS),
        st.tuples(st.just("list"), st.sampled_from(["", "a", "a/"])),
        st.tuples(st.just("get_multiple"), st.sampled_from(["", "a/"])),
        st.tuples(st.just("count"), st.sampled_from(["", "a"])),
        st.tuples(st.just("get_keys_with_prefix"), st.sampled_from(["", "a"]), st.integers(0, 3)),
        st.tuples(st.just("bulk_put"), st.dictionaries(_KEYS, _VALUES, max_size=3)),
        st.tuples(st.just("bulk_delete"), st.lists(_KEYS, max_size=3)),
    ),
    max_size=25,
)


def _outcome(store: MemoryStore, name: str, args: list[Any]) -> Any:
    try:
        return ("ok", getattr(store, name)(*args))
    except KVStoreError as exc:
        return ("error", type(exc).__name__, str(exc))


async def _async_outcome(store: AsyncMemoryStore, name: str, args: list[Any]) -> Any:
    try:
        return ("ok", await getattr(store, name)(*args))
    except KVStoreError as exc:
        return ("error", type(exc).__name__, str(exc).replace("AsyncMemoryStore", "MemoryStore"))


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(calls=_CALLS)
def test_the_sync_and_async_conveniences_give_the_same_results(calls: list[Any]) -> None:
    sync_store = MemoryStore()
    async_store = AsyncMemoryStore()

    async def run() -> list[Any]:
        outcomes = []
        for name, *args in [*calls, ("get_multiple", "")]:
            outcomes.append(await _async_outcome(async_store, name, args))
        await async_store.aclose()
        return outcomes

    expected = [_outcome(sync_store, name, args) for name, *args in [*calls, ("get_multiple", "")]]
    assert asyncio.run(run()) == expected
