"""``WatchConformance``: ordered events, replay, prev_kv, prefixes, cancel, callbacks."""

from __future__ import annotations

import pytest

from kvstore._async.base import AsyncBaseStore
from kvstore.errors import CompactedError, InvalidArgumentError
from kvstore.testing._async._support import (
    EVENT_TIMEOUT,
    AsyncConformanceBase,
    Inbox,
    assert_next_is_sentinel,
    current_revision,
    event_summary,
    read_events,
    requires,
)
from kvstore.txn import Delete, Put
from kvstore.types import EventType, WatchEvent

__all__ = ["AsyncWatchConformance"]

PUT = EventType.PUT
DELETE = EventType.DELETE


class AsyncWatchConformance(AsyncConformanceBase):
    """Watches deliver every change of their range once, in revision order."""

    async def test_events_in_revision_order(self, store: AsyncBaseStore) -> None:
        requires(store, "watch")
        start = await current_revision(store)
        async with store.watch("k", start_revision=start + 1) as watch:
            first = await store.put("k", b"1")
            second = await store.put("k", b"2")
            await store.put("other", b"x")
            deleted = await store.delete("k")
            third = await store.put("k", b"3")
            events = await read_events(watch, 4)
            assert deleted == 1
            assert [event_summary(event) for event in events] == [
                (PUT, "k", b"1", first),
                (PUT, "k", b"2", second),
                (DELETE, "k", b"", second + 2),
                (PUT, "k", b"3", third),
            ]
            put_events = [events[0], events[1], events[3]]
            assert [(e.kv.version, e.kv.create_revision) for e in put_events] == [
                (1, first),
                (2, first),
                (1, third),
            ]
            assert all(event.revision == event.kv.mod_revision for event in events)
            await assert_next_is_sentinel(store, watch, "k")

    async def test_watch_from_now_sees_only_later_changes(self, store: AsyncBaseStore) -> None:
        requires(store, "watch")
        await store.put("k", b"before")
        async with store.watch("k", start_revision=await current_revision(store) + 1) as watch:
            revision = await store.put("k", b"after")
            (event,) = await read_events(watch, 1)
            assert event_summary(event) == (PUT, "k", b"after", revision)

    async def test_watch_without_start_revision_sees_later_changes(
        self, store: AsyncBaseStore
    ) -> None:
        requires(store, "watch")
        await store.put("k", b"before")
        async with store.watch("k") as watch:
            # a watch "from now" is registered by the time watch() returns
            revision = await store.put("k", b"after")
            (event,) = await read_events(watch, 1)
            assert event_summary(event) == (PUT, "k", b"after", revision)

    async def test_replay_from_start_revision(self, store: AsyncBaseStore) -> None:
        requires(store, "watch", "history")
        first = await store.put("k", b"1")
        await store.put("k", b"2")
        await store.delete("k")
        async with store.watch("k", start_revision=first + 1) as watch:
            events = await read_events(watch, 2)
            assert [event_summary(event) for event in events] == [
                (PUT, "k", b"2", first + 1),
                (DELETE, "k", b"", first + 2),
            ]
            await assert_next_is_sentinel(store, watch, "k")

    async def test_prev_kv(self, store: AsyncBaseStore) -> None:
        requires(store, "watch")
        start = await current_revision(store)
        async with store.watch("k", start_revision=start + 1, prev_kv=True) as watch:
            await store.put("k", b"1")
            await store.put("k", b"2")
            await store.delete("k")
            created, updated, deleted = await read_events(watch, 3)
            assert created.prev_kv is None
            assert updated.prev_kv is not None
            assert (updated.prev_kv.value, updated.prev_kv.mod_revision) == (b"1", start + 1)
            assert deleted.prev_kv is not None
            assert (deleted.prev_kv.value, deleted.prev_kv.version) == (b"2", 2)

    async def test_prefix_watch_sees_only_the_prefix(self, store: AsyncBaseStore) -> None:
        requires(store, "watch")
        start = await current_revision(store)
        async with store.watch_prefix("p/", start_revision=start + 1) as watch:
            await store.put("p", b"outside")
            await store.put("p/a", b"1")
            await store.put("p0", b"outside")
            await store.put("q/a", b"outside")
            await store.put("p/b/c", b"2")
            await store.delete_prefix("p")
            events = await read_events(watch, 4)
            assert [event_summary(event) for event in events] == [
                (PUT, "p/a", b"1", start + 2),
                (PUT, "p/b/c", b"2", start + 5),
                (DELETE, "p/a", b"", start + 6),
                (DELETE, "p/b/c", b"", start + 6),
            ]
            await assert_next_is_sentinel(store, watch, "p/sentinel")

    async def test_key_watch_ignores_keys_sharing_its_prefix(self, store: AsyncBaseStore) -> None:
        requires(store, "watch")
        start = await current_revision(store)
        async with store.watch("k", start_revision=start + 1) as watch:
            await store.put("k2", b"x")
            await store.put("k/a", b"x")
            await store.put("j", b"x")
            await assert_next_is_sentinel(store, watch, "k")

    async def test_empty_prefix_watches_every_key(self, store: AsyncBaseStore) -> None:
        requires(store, "watch")
        start = await current_revision(store)
        async with store.watch_prefix("", start_revision=start + 1) as watch:
            await store.put("a", b"1")
            await store.put("\U0001f600", b"2")
            events = await read_events(watch, 2)
            assert [event.kv.key for event in events] == ["a", "\U0001f600"]

    async def test_txn_events_share_one_revision_in_op_order(self, store: AsyncBaseStore) -> None:
        requires(store, "watch")
        await store.put("z", b"old")
        start = await current_revision(store)
        async with store.watch_prefix("", start_revision=start + 1) as watch:
            await store.kv_txn([], [Put("b", b"1"), Delete("z"), Put("a", b"2")], [])
            events = await read_events(watch, 3)
            assert [event_summary(event) for event in events] == [
                (PUT, "b", b"1", start + 1),
                (DELETE, "z", b"", start + 1),
                (PUT, "a", b"2", start + 1),
            ]
            await assert_next_is_sentinel(store, watch, "sentinel")

    async def test_no_event_for_deleting_a_missing_key(self, store: AsyncBaseStore) -> None:
        requires(store, "watch")
        start = await current_revision(store)
        async with store.watch("k", start_revision=start + 1) as watch:
            await store.delete("k")
            await store.delete_prefix("k")
            await assert_next_is_sentinel(store, watch, "k")

    async def test_next_event_times_out_with_none(self, store: AsyncBaseStore) -> None:
        requires(store, "watch")
        async with store.watch("k") as watch:
            assert await watch.next_event(0.05) is None
            assert not watch.cancelled

    async def test_cancel_ends_iteration(self, store: AsyncBaseStore) -> None:
        requires(store, "watch")
        start = await current_revision(store)
        watch = store.watch("k", start_revision=start + 1)
        await store.put("k", b"1")
        await read_events(watch, 1)
        await watch.cancel()
        assert watch.cancelled
        assert [event async for event in watch] == []
        assert await watch.next_event(0) is None
        await watch.cancel()  # idempotent
        await store.put("k", b"2")
        assert await watch.next_event(0) is None

    async def test_context_manager_cancels(self, store: AsyncBaseStore) -> None:
        requires(store, "watch")
        async with store.watch("k") as watch:
            assert not watch.cancelled
        assert watch.cancelled
        with pytest.raises(StopAsyncIteration):
            await anext(watch)

    async def test_callback_form(self, store: AsyncBaseStore) -> None:
        requires(store, "watch")
        received: Inbox[WatchEvent] = Inbox()
        start = await current_revision(store)
        watch = store.watch_prefix("p/", start_revision=start + 1, callback=received.put)
        try:
            first = await store.put("p/a", b"1")
            second = await store.delete("p/a")
            events = [await received.get(timeout=EVENT_TIMEOUT) for _ in range(2)]
            assert second == 1
            assert [event_summary(event) for event in events] == [
                (PUT, "p/a", b"1", first),
                (DELETE, "p/a", b"", first + 1),
            ]
        finally:
            await watch.cancel()

    async def test_compacted_start_revision_raises_from_the_iterator(
        self, store: AsyncBaseStore
    ) -> None:
        requires(store, "watch", "history")
        first = await store.put("k", b"1")
        second = await store.put("k", b"2")
        await store.compact_revision(second)
        watch = store.watch("k", start_revision=first)
        try:
            with pytest.raises(CompactedError) as info:
                await watch.next_event(EVENT_TIMEOUT)
            assert info.value.compact_revision == second
        finally:
            await watch.cancel()

    async def test_compacted_start_revision_reaches_on_error(self, store: AsyncBaseStore) -> None:
        requires(store, "watch", "history")
        first = await store.put("k", b"1")
        second = await store.put("k", b"2")
        await store.compact_revision(second)
        errors: Inbox[BaseException] = Inbox()
        watch = store.watch(
            "k", start_revision=first, callback=lambda event: None, on_error=errors.put
        )
        try:
            error = await errors.get(timeout=EVENT_TIMEOUT)
            assert isinstance(error, CompactedError)
            assert error.compact_revision == second
        finally:
            await watch.cancel()

    async def test_watch_at_the_compact_revision_replays(self, store: AsyncBaseStore) -> None:
        requires(store, "watch", "history")
        await store.put("k", b"1")
        second = await store.put("k", b"2")
        await store.compact_revision(second)
        async with store.watch("k", start_revision=second) as watch:
            (event,) = await read_events(watch, 1)
            assert event_summary(event) == (PUT, "k", b"2", second)

    async def test_watch_from_a_future_revision_waits_for_it(self, store: AsyncBaseStore) -> None:
        requires(store, "watch")
        start = await current_revision(store)
        async with store.watch("k", start_revision=start + 2) as watch:
            await store.put("k", b"skipped")
            later = await store.put("k", b"seen")
            (event,) = await read_events(watch, 1)
            assert event_summary(event) == (PUT, "k", b"seen", later)

    @pytest.mark.parametrize("revision", [0, -1])
    async def test_non_positive_start_revision_is_refused(
        self, store: AsyncBaseStore, revision: int
    ) -> None:
        requires(store, "watch")
        with pytest.raises(InvalidArgumentError):
            store.watch("k", start_revision=revision)

    async def test_two_watches_see_the_same_stream(self, store: AsyncBaseStore) -> None:
        requires(store, "watch")
        start = await current_revision(store)
        async with (
            store.watch_prefix("", start_revision=start + 1) as one,
            store.watch_prefix("", start_revision=start + 1) as two,
        ):
            await store.put("a", b"1")
            await store.put("b", b"2")
            await store.delete("a")
            first = [event_summary(event) for event in await read_events(one, 3)]
            assert first == [event_summary(event) for event in await read_events(two, 3)]

    async def test_a_watch_from_the_compact_revision_misses_its_deletes_and_prev_kvs(
        self, store: AsyncBaseStore
    ) -> None:
        # etcd's compaction drops the tombstones at the compact revision, and a watch
        # reads prev_kv at the revision before each event: compacted for events there
        requires(store, "watch", "history")
        await store.put("k", b"1")
        await store.put("gone", b"x")
        changed = (await store.kv_txn([], [Put("k", b"2"), Delete("gone")], [])).revision
        await store.compact_revision(changed, physical=True)
        later = await store.put("k", b"3")
        async with store.watch_prefix("", start_revision=changed, prev_kv=True) as watch:
            first, second = await read_events(watch, 2)
        assert event_summary(first) == (PUT, "k", b"2", changed)
        assert first.prev_kv is None
        assert event_summary(second) == (PUT, "k", b"3", later)
        assert second.prev_kv is not None and second.prev_kv.value == b"2"
