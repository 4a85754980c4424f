"""``AsyncTaskConformance``: what asyncio adds to the store's contract (no sync twin).

Tasks get cancelled (timeouts, ``TaskGroup``, shutdown): a task cancelled while it waits on
a watch must leave the watch usable and cancellable, and nothing of the store's may stay
running after the watch is gone. Callbacks run on the event loop and may be coroutine
functions.
"""
# unasync: no-twin

from __future__ import annotations

import asyncio
import threading

import pytest

from kvstore._async.base import AsyncBaseStore
from kvstore.testing._async._support import (
    EVENT_TIMEOUT,
    AsyncConformanceBase,
    Inbox,
    current_revision,
    event_summary,
    read_events,
    requires,
    wait_until,
)
from kvstore.types import EventType, WatchEvent

__all__ = ["AsyncTaskConformance"]

PUT = EventType.PUT


def _other_tasks(before: set[asyncio.Task[object]]) -> set[asyncio.Task[object]]:
    """The tasks running now that did not run at ``before``, the caller's own left out."""
    return asyncio.all_tasks() - before - {asyncio.current_task()}


class AsyncTaskConformance(AsyncConformanceBase):
    """Cancellation of tasks that wait on a watch, and callbacks on the event loop."""

    async def test_a_cancelled_next_event_leaves_the_watch_usable(
        self, store: AsyncBaseStore
    ) -> None:
        requires(store, "watch")
        before = set(asyncio.all_tasks())
        start = await current_revision(store)
        watch = store.watch("k", start_revision=start + 1)
        waiter = asyncio.ensure_future(watch.next_event(EVENT_TIMEOUT))
        await asyncio.sleep(0.05)  # the waiter is inside next_event now
        assert not waiter.done()
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert not watch.cancelled
        revision = await store.put("k", b"1")
        (event,) = await read_events(watch, 1)
        assert event_summary(event) == (PUT, "k", b"1", revision)
        await watch.cancel()
        assert watch.cancelled
        assert await watch.next_event(0) is None
        assert await wait_until(lambda: not _other_tasks(before)), _other_tasks(before)

    async def test_a_timeout_around_next_event_leaves_the_watch_usable(
        self, store: AsyncBaseStore
    ) -> None:
        requires(store, "watch")
        start = await current_revision(store)
        async with store.watch("k", start_revision=start + 1) as watch:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(watch.next_event(None), 0.05)
            revision = await store.put("k", b"1")
            (event,) = await read_events(watch, 1)
            assert event_summary(event) == (PUT, "k", b"1", revision)
        assert watch.cancelled

    async def test_cancel_ends_an_iteration_in_another_task(self, store: AsyncBaseStore) -> None:
        requires(store, "watch")
        before = set(asyncio.all_tasks())
        start = await current_revision(store)
        watch = store.watch("k", start_revision=start + 1)
        revision = await store.put("k", b"1")

        events: list[WatchEvent] = []

        async def consume() -> None:
            async for event in watch:
                events.append(event)

        consumer = asyncio.ensure_future(consume())
        # the consumer has read the put and waits for more
        assert await wait_until(lambda: len(events) == 1)
        await watch.cancel()
        await asyncio.wait_for(consumer, EVENT_TIMEOUT)  # the iteration ended
        assert [event_summary(event) for event in events] == [(PUT, "k", b"1", revision)]
        assert await wait_until(lambda: not _other_tasks(before)), _other_tasks(before)

    async def test_a_coroutine_callback_gets_every_event(self, store: AsyncBaseStore) -> None:
        requires(store, "watch")
        received: Inbox[WatchEvent] = Inbox()

        async def callback(event: WatchEvent) -> None:
            await asyncio.sleep(0)
            received.put(event)

        start = await current_revision(store)
        watch = store.watch_prefix("p/", start_revision=start + 1, callback=callback)
        try:
            first = await store.put("p/a", b"1")
            second = await store.put("p/b", b"2")
            events = [await received.get() for _ in range(2)]
            assert [event_summary(event) for event in events] == [
                (PUT, "p/a", b"1", first),
                (PUT, "p/b", b"2", second),
            ]
        finally:
            await watch.cancel()

    async def test_a_plain_callback_runs_on_the_event_loop(self, store: AsyncBaseStore) -> None:
        requires(store, "watch")
        threads: Inbox[int] = Inbox()
        start = await current_revision(store)
        watch = store.watch(
            "k", start_revision=start + 1, callback=lambda event: threads.put(threading.get_ident())
        )
        try:
            await store.put("k", b"1")
            assert await threads.get() == threading.get_ident()
        finally:
            await watch.cancel()
