"""The asyncio recipes of SPEC 18 part A on AsyncMemoryStore and its wrappers: safety
under contention of asyncio tasks, cancellation and timeouts leaving no key behind, and
the typed errors of bad input.

Each test takes ``any_async_store``; ``tests/etcd/test_recipes_async_etcd.py`` runs the
contention tests again on etcd by giving that fixture another store.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
from async_recipe_helpers import (
    RECIPE_KEYS,
    History,
    cancel_and_wait,
    run_all,
    wait_for_keys,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from recipe_helpers import WAIT

from kvstore import (
    AsyncBaseStore,
    InvalidArgumentError,
    InvalidKeyError,
    LockTimeoutError,
)
from kvstore._async._concurrency import wait_event
from kvstore_memory import ManualClock

_NAMES = itertools.count()
"""Fresh recipe names for the examples of a property, which share one store."""

_PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def _no_recipe_keys(store: AsyncBaseStore) -> bool:
    return await store.count(RECIPE_KEYS) == 0


# ---------------------------------------------------------------- semaphores and rwlocks


async def _hold_semaphore(
    store: AsyncBaseStore, name: str, limit: int, history: History, rounds: int
) -> None:
    for _ in range(rounds):
        async with store.new_semaphore(name, limit):
            await history.inside("holder")


async def test_a_semaphore_never_has_more_than_limit_holders(
    any_async_store: AsyncBaseStore,
) -> None:
    history = History()
    await run_all(*(_hold_semaphore(any_async_store, "s", 2, history, 5) for _ in range(4)))
    assert len(history.events) == 2 * 4 * 5
    assert 1 <= history.most_inside() <= 2
    assert await _no_recipe_keys(any_async_store)


@_PROPERTY
@given(limit=st.integers(1, 3), rounds=st.lists(st.integers(1, 3), min_size=1, max_size=5))
async def test_random_semaphores_keep_their_bound(
    any_async_store: AsyncBaseStore, limit: int, rounds: list[int]
) -> None:
    """Contender ``i`` holds the semaphore ``rounds[i]`` times."""
    history = History()
    name = f"s{next(_NAMES)}"
    await run_all(*(_hold_semaphore(any_async_store, name, limit, history, n) for n in rounds))
    assert len(history.events) == 2 * sum(rounds)
    assert 1 <= history.most_inside() <= min(limit, len(rounds))
    assert await _no_recipe_keys(any_async_store)


async def test_a_writer_never_overlaps_anyone_in_a_rwlock(any_async_store: AsyncBaseStore) -> None:
    history = History()

    async def work(seed: int) -> None:
        rw = any_async_store.new_rwlock("rw")
        for step in range(6):
            writer = (seed + step) % 3 == 0
            async with rw.write_lock() if writer else rw.read_lock():
                await history.inside("writer" if writer else "reader")

    await run_all(*(work(seed) for seed in range(4)))
    assert len(history.events) == 2 * 4 * 6
    assert history.writer_overlaps() == []
    assert await _no_recipe_keys(any_async_store)


# ---------------------------------------------------------------- queues and counters


async def test_each_queue_item_is_taken_exactly_once(any_async_store: AsyncBaseStore) -> None:
    queue = any_async_store.new_queue("q")

    async def produce(first: int) -> list[bytes]:
        items = [str(n).encode() for n in range(first, first + 20)]
        for item in items:
            await queue.put(item)
        return items

    async def consume() -> list[bytes]:
        mine = any_async_store.new_queue("q")
        return [await mine.get(timeout=WAIT) for _ in range(10)]

    *taken, put_first, put_second = await run_all(
        *(consume() for _ in range(4)), produce(0), produce(20)
    )
    assert sorted(item for batch in taken for item in batch) == sorted(put_first + put_second)
    assert await queue.len() == 0


async def test_each_priority_queue_item_is_taken_exactly_once(
    any_async_store: AsyncBaseStore,
) -> None:
    queue = any_async_store.new_priority_queue("pq")
    items = [(n % 5 - 2, str(n).encode()) for n in range(40)]
    for priority, value in items:
        await queue.put(value, priority)

    async def consume() -> list[bytes]:
        mine = any_async_store.new_priority_queue("pq")
        return [await mine.get(timeout=WAIT) for _ in range(10)]

    taken = await run_all(*(consume() for _ in range(4)))
    assert sorted(item for batch in taken for item in batch) == sorted(v for _, v in items)
    assert await queue.len() == 0


async def test_a_priority_queue_hands_out_lower_numbers_first(
    any_async_store: AsyncBaseStore,
) -> None:
    queue = any_async_store.new_priority_queue("pq")
    for priority, value in [(5, b"e"), (-3, b"a"), (5, b"f"), (0, b"c"), (-3, b"b")]:
        await queue.put(value, priority)
    assert [await queue.get(timeout=5) for _ in range(5)] == [b"a", b"b", b"c", b"e", b"f"]
    assert await queue.len() == 0


async def test_eight_concurrent_adders_end_exact(any_async_store: AsyncBaseStore) -> None:
    async def add_ten() -> list[int]:
        counter = any_async_store.new_counter("c")
        return [await counter.add() for _ in range(10)]

    returned = await run_all(*(add_ten() for _ in range(8)))
    assert await any_async_store.new_counter("c").value() == 80
    # each add saw its own new value: none was lost or applied twice
    assert sorted(value for adds in returned for value in adds) == list(range(1, 81))


@_PROPERTY
@given(adds=st.lists(st.lists(st.integers(-5, 5), max_size=6), min_size=1, max_size=4))
async def test_concurrent_counter_adds_end_at_their_sum(
    any_async_store: AsyncBaseStore, adds: list[list[int]]
) -> None:
    name = f"c{next(_NAMES)}"

    async def add_all(amounts: list[int]) -> None:
        counter = any_async_store.new_counter(name)
        for amount in amounts:
            await counter.add(amount)

    await run_all(*(add_all(amounts) for amounts in adds))
    assert await any_async_store.new_counter(name).value() == sum(map(sum, adds))


# ---------------------------------------------------------------- barriers


async def test_a_double_barrier_lets_all_in_and_all_out(any_async_store: AsyncBaseStore) -> None:
    events: list[str] = []

    async def member() -> None:
        barrier = any_async_store.new_double_barrier("db", 3)
        events.append("entering")
        await barrier.enter(timeout=WAIT)
        events.append("entered")
        events.append("leaving")
        await barrier.leave(timeout=WAIT)
        events.append("left")

    await run_all(*(member() for _ in range(3)))
    # nobody got in before all three came, nor out before all three were leaving
    assert events.index("entered") > max(i for i, e in enumerate(events) if e == "entering")
    assert events.index("left") > max(i for i, e in enumerate(events) if e == "leaving")
    assert events.count("left") == 3
    assert await _no_recipe_keys(any_async_store)


async def test_a_double_barrier_short_of_members_times_all_out(
    any_async_store: AsyncBaseStore,
) -> None:
    members = [any_async_store.new_double_barrier("db2", 3) for _ in range(2)]
    outcomes = await asyncio.gather(
        *(member.enter(timeout=0.3) for member in members), return_exceptions=True
    )
    assert [type(outcome) for outcome in outcomes] == [LockTimeoutError, LockTimeoutError]
    assert not any(member.entered for member in members)
    assert await _no_recipe_keys(any_async_store)


async def test_a_barrier_holds_waiters_until_released(any_async_store: AsyncBaseStore) -> None:
    barrier = any_async_store.new_barrier("b")
    assert await barrier.hold() is True
    assert await barrier.hold() is False
    assert await any_async_store.new_barrier("b").wait(timeout=0.2) is False
    waiters = [
        asyncio.create_task(any_async_store.new_barrier("b").wait(timeout=WAIT)) for _ in range(3)
    ]
    await asyncio.sleep(0.05)
    assert not any(waiter.done() for waiter in waiters)  # the barrier is still up
    assert await barrier.release() is True
    assert await run_all(*waiters) == [True, True, True]
    assert await barrier.release() is False
    assert await _no_recipe_keys(any_async_store)


# ---------------------------------------------------------------- parties


async def test_party_members_join_and_leave(any_async_store: AsyncBaseStore) -> None:
    names = ["worker-b", "worker-c", "worker-a"]
    parties = [any_async_store.new_party("p", name) for name in names]
    await run_all(*(party.join() for party in parties))
    assert await parties[0].members() == sorted(names)
    await parties[1].leave()
    assert await parties[0].members() == ["worker-a", "worker-b"]
    assert not parties[1].joined
    await run_all(*(party.leave() for party in parties))
    assert await _no_recipe_keys(any_async_store)


async def test_a_party_member_whose_lease_expires_is_no_longer_listed(
    any_async_store: AsyncBaseStore, clock: ManualClock
) -> None:
    short = any_async_store.new_party("p", "short-lived", ttl=2)
    stays = any_async_store.new_party("p", "stays", ttl=60)
    await short.join()
    await stays.join()
    assert await stays.members() == ["short-lived", "stays"]
    clock.advance(3)  # past short's TTL: its lease expires, its key goes
    assert await stays.members() == ["stays"]
    assert await wait_event(short.lost, WAIT)
    assert not short.joined
    await short.leave()
    await short.join()  # a new session, so a new membership
    assert await stays.members() == ["short-lived", "stays"]
    await run_all(short.leave(), stays.leave())
    assert await _no_recipe_keys(any_async_store)


# ---------------------------------------------------------------- cancellation


async def test_cancelling_a_semaphore_waiter_leaves_no_key(
    any_async_store: AsyncBaseStore,
) -> None:
    holder = any_async_store.new_semaphore("s", 1)
    assert await holder.acquire(timeout=5)
    cancelled = any_async_store.new_semaphore("s", 1)
    cancelled_task = asyncio.create_task(cancelled.acquire())
    await wait_for_keys(any_async_store, holder.prefix, 2)
    later = any_async_store.new_semaphore("s", 1)
    later_task = asyncio.create_task(later.acquire())
    await wait_for_keys(any_async_store, holder.prefix, 3)
    await cancel_and_wait(cancelled_task)
    assert sorted(await any_async_store.list(RECIPE_KEYS)) == sorted([holder.key, later.key])
    assert not cancelled.is_held
    await holder.release()
    assert await run_all(later_task) == [True]
    assert await cancelled.acquire(timeout=0) is False  # still usable, and refused
    await later.release()
    assert await _no_recipe_keys(any_async_store)


async def test_cancelling_a_writer_waiting_in_a_rwlock_lets_later_readers_in(
    any_async_store: AsyncBaseStore,
) -> None:
    rw = any_async_store.new_rwlock("rw")
    reader = rw.read_lock()
    assert await reader.acquire(timeout=5)
    writer = rw.write_lock()
    writer_task = asyncio.create_task(writer.acquire())
    await wait_for_keys(any_async_store, rw.prefix, 2)
    later = rw.read_lock()  # queued after the writer: waits for it, writers are not starved
    later_task = asyncio.create_task(later.acquire())
    await wait_for_keys(any_async_store, rw.prefix, 3)
    await cancel_and_wait(writer_task)
    assert await run_all(later_task) == [True]  # while the first reader still holds
    assert sorted(await any_async_store.list(RECIPE_KEYS)) == sorted([reader.key, later.key])
    assert not writer.is_held
    await run_all(reader.release(), later.release())
    assert await _no_recipe_keys(any_async_store)


async def test_cancelling_a_queue_getter_leaves_the_item_to_another(
    any_async_store: AsyncBaseStore,
) -> None:
    queue = any_async_store.new_queue("q")
    cancelled = asyncio.create_task(any_async_store.new_queue("q").get())
    other = asyncio.create_task(any_async_store.new_queue("q").get(timeout=WAIT))
    await asyncio.sleep(0.05)  # both wait on the empty queue
    assert not cancelled.done() and not other.done()
    await cancel_and_wait(cancelled)
    await queue.put(b"job")
    assert await run_all(other) == [b"job"]
    assert await queue.len() == 0
    assert await _no_recipe_keys(any_async_store)


async def test_cancelling_a_double_barrier_member_lets_the_round_go_on(
    any_async_store: AsyncBaseStore,
) -> None:
    first = any_async_store.new_double_barrier("db", 3)
    first_task = asyncio.create_task(first.enter(timeout=WAIT))
    members_prefix = first.members_prefix
    await wait_for_keys(any_async_store, members_prefix, 1)
    cancelled = any_async_store.new_double_barrier("db", 3)
    cancelled_task = asyncio.create_task(cancelled.enter())
    await wait_for_keys(any_async_store, members_prefix, 2)
    await cancel_and_wait(cancelled_task)
    assert await any_async_store.list(RECIPE_KEYS) == [first.key]
    assert not cancelled.entered
    rest = [any_async_store.new_double_barrier("db", 3) for _ in range(2)]
    await run_all(first_task, *(member.enter(timeout=WAIT) for member in rest))
    assert all(member.entered for member in [first, *rest])
    await run_all(*(member.leave(timeout=WAIT) for member in [first, *rest]))
    assert await _no_recipe_keys(any_async_store)


# ---------------------------------------------------------------- timeouts


async def test_a_semaphore_waiter_that_times_out_leaves_no_key(
    any_async_store: AsyncBaseStore,
) -> None:
    holder = any_async_store.new_semaphore("s1", 1)
    assert await holder.acquire(timeout=5) is True
    try:
        assert await any_async_store.new_semaphore("s1", 1).acquire(timeout=0.2) is False
        assert await any_async_store.list(RECIPE_KEYS) == [holder.key]
        assert holder.fencing_token > 0
    finally:
        await holder.release()
    assert await _no_recipe_keys(any_async_store)


async def test_rwlock_waiters_that_time_out_raise_and_leave_no_key(
    any_async_store: AsyncBaseStore,
) -> None:
    rw = any_async_store.new_rwlock("rw")
    async with rw.write_lock() as writer:
        with pytest.raises(LockTimeoutError):
            async with rw.read_lock(timeout=0.2):
                pytest.fail("a reader got in beside a writer")
        with pytest.raises(LockTimeoutError):
            async with rw.write_lock(timeout=0.2):
                pytest.fail("two writers got in")
        assert await any_async_store.list(RECIPE_KEYS) == [writer.key]
    assert await _no_recipe_keys(any_async_store)


async def test_a_queue_getter_that_times_out_raises_and_takes_nothing(
    any_async_store: AsyncBaseStore,
) -> None:
    queue = any_async_store.new_priority_queue("pq")
    with pytest.raises(LockTimeoutError):
        await queue.get(timeout=0.2)
    with pytest.raises(LockTimeoutError):
        await any_async_store.new_queue("q").get(timeout=0)
    await queue.put(b"late", 1)
    assert await queue.get(timeout=0) == b"late"
    assert await _no_recipe_keys(any_async_store)


# ---------------------------------------------------------------- bad input


async def test_bad_input_is_refused_and_stores_nothing(any_async_store: AsyncBaseStore) -> None:
    store = any_async_store
    before = (await store.status()).revision
    with pytest.raises(InvalidKeyError):
        store.new_queue("")
    with pytest.raises(InvalidKeyError):
        store.new_party("p", "")
    with pytest.raises(InvalidArgumentError):
        store.new_semaphore("s", 0)
    with pytest.raises(InvalidArgumentError):
        store.new_double_barrier("d", 0)
    with pytest.raises(InvalidArgumentError):
        store.new_rwlock("rw").read_lock(timeout=float("nan"))
    with pytest.raises(InvalidArgumentError):
        await store.new_queue("q").put("text")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        await store.new_priority_queue("p").put(b"x", True)
    with pytest.raises(InvalidArgumentError):
        await store.new_priority_queue("p").put(b"x", 2**63)
    with pytest.raises(InvalidArgumentError):
        await store.new_counter("c").add("1")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        await store.new_barrier("b").wait(timeout=-1)
    with pytest.raises(InvalidArgumentError):
        await store.new_semaphore("s", 1).acquire(timeout=-1)
    with pytest.raises(InvalidArgumentError):
        await store.new_double_barrier("d", 2).enter(timeout=-1)
    assert await _no_recipe_keys(store)
    assert (await store.status()).revision == before
