# Generated from kvstore/testing/_async/watch.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``WatchConformance``: ordered events, replay, prev_kv, prefixes, cancel, callbacks."""

from __future__ import annotations

import pytest

from kvstore._sync.base import BaseStore
from kvstore.errors import CompactedError, InvalidArgumentError
from kvstore.testing._sync._support import (
    EVENT_TIMEOUT,
    ConformanceBase,
    Inbox,
    assert_next_is_sentinel,
    current_revision,
    event_summary,
    read_events,
    requires,
)
from kvstore.txn import Delete, Put
from kvstore.types import EventType, WatchEvent

__all__ = ["WatchConformance"]

PUT = EventType.PUT
DELETE = EventType.DELETE


class WatchConformance(ConformanceBase):
    """Watches deliver every change of their range once, in revision order."""

    def test_events_in_revision_order(self, store: BaseStore) -> None:
        requires(store, "watch")
        start = current_revision(store)
        with store.watch("k", start_revision=start + 1) as watch:
            first = store.put("k", b"1")
            second = store.put("k", b"2")
            store.put("other", b"x")
            deleted = store.delete("k")
            third = store.put("k", b"3")
            events = read_events(watch, 4)
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
            assert_next_is_sentinel(store, watch, "k")

    def test_watch_from_now_sees_only_later_changes(self, store: BaseStore) -> None:
        requires(store, "watch")
        store.put("k", b"before")
        with store.watch("k", start_revision=current_revision(store) + 1) as watch:
            revision = store.put("k", b"after")
            (event,) = read_events(watch, 1)
            assert event_summary(event) == (PUT, "k", b"after", revision)

    def test_watch_without_start_revision_sees_later_changes(self, store: BaseStore) -> None:
        requires(store, "watch")
        store.put("k", b"before")
        with store.watch("k") as watch:
            # a watch "from now" is registered by the time watch() returns
            revision = store.put("k", b"after")
            (event,) = read_events(watch, 1)
            assert event_summary(event) == (PUT, "k", b"after", revision)

    def test_replay_from_start_revision(self, store: BaseStore) -> None:
        requires(store, "watch", "history")
        first = store.put("k", b"1")
        store.put("k", b"2")
        store.delete("k")
        with store.watch("k", start_revision=first + 1) as watch:
            events = read_events(watch, 2)
            assert [event_summary(event) for event in events] == [
                (PUT, "k", b"2", first + 1),
                (DELETE, "k", b"", first + 2),
            ]
            assert_next_is_sentinel(store, watch, "k")

    def test_prev_kv(self, store: BaseStore) -> None:
        requires(store, "watch")
        start = current_revision(store)
        with store.watch("k", start_revision=start + 1, prev_kv=True) as watch:
            store.put("k", b"1")
            store.put("k", b"2")
            store.delete("k")
            created, updated, deleted = read_events(watch, 3)
            assert created.prev_kv is None
            assert updated.prev_kv is not None
            assert (updated.prev_kv.value, updated.prev_kv.mod_revision) == (b"1", start + 1)
            assert deleted.prev_kv is not None
            assert (deleted.prev_kv.value, deleted.prev_kv.version) == (b"2", 2)

    def test_prefix_watch_sees_only_the_prefix(self, store: BaseStore) -> None:
        requires(store, "watch")
        start = current_revision(store)
        with store.watch_prefix("p/", start_revision=start + 1) as watch:
            store.put("p", b"outside")
            store.put("p/a", b"1")
            store.put("p0", b"outside")
            store.put("q/a", b"outside")
            store.put("p/b/c", b"2")
            store.delete_prefix("p")
            events = read_events(watch, 4)
            assert [event_summary(event) for event in events] == [
                (PUT, "p/a", b"1", start + 2),
                (PUT, "p/b/c", b"2", start + 5),
                (DELETE, "p/a", b"", start + 6),
                (DELETE, "p/b/c", b"", start + 6),
            ]
            assert_next_is_sentinel(store, watch, "p/sentinel")

    def test_key_watch_ignores_keys_sharing_its_prefix(self, store: BaseStore) -> None:
        requires(store, "watch")
        start = current_revision(store)
        with store.watch("k", start_revision=start + 1) as watch:
            store.put("k2", b"x")
            store.put("k/a", b"x")
            store.put("j", b"x")
            assert_next_is_sentinel(store, watch, "k")

    def test_empty_prefix_watches_every_key(self, store: BaseStore) -> None:
        requires(store, "watch")
        start = current_revision(store)
        with store.watch_prefix("", start_revision=start + 1) as watch:
            store.put("a", b"1")
            store.put("\U0001f600", b"2")
            events = read_events(watch, 2)
            assert [event.kv.key for event in events] == ["a", "\U0001f600"]

    def test_txn_events_share_one_revision_in_op_order(self, store: BaseStore) -> None:
        requires(store, "watch")
        store.put("z", b"old")
        start = current_revision(store)
        with store.watch_prefix("", start_revision=start + 1) as watch:
            store.kv_txn([], [Put("b", b"1"), Delete("z"), Put("a", b"2")], [])
            events = read_events(watch, 3)
            assert [event_summary(event) for event in events] == [
                (PUT, "b", b"1", start + 1),
                (DELETE, "z", b"", start + 1),
                (PUT, "a", b"2", start + 1),
            ]
            assert_next_is_sentinel(store, watch, "sentinel")

    def test_no_event_for_deleting_a_missing_key(self, store: BaseStore) -> None:
        requires(store, "watch")
        start = current_revision(store)
        with store.watch("k", start_revision=start + 1) as watch:
            store.delete("k")
            store.delete_prefix("k")
            assert_next_is_sentinel(store, watch, "k")

    def test_next_event_times_out_with_none(self, store: BaseStore) -> None:
        requires(store, "watch")
        with store.watch("k") as watch:
            assert watch.next_event(0.05) is None
            assert not watch.cancelled

    def test_cancel_ends_iteration(self, store: BaseStore) -> None:
        requires(store, "watch")
        start = current_revision(store)
        watch = store.watch("k", start_revision=start + 1)
        store.put("k", b"1")
        read_events(watch, 1)
        watch.cancel()
        assert watch.cancelled
        assert [event for event in watch] == []
        assert watch.next_event(0) is None
        watch.cancel()  # idempotent
        store.put("k", b"2")
        assert watch.next_event(0) is None

    def test_context_manager_cancels(self, store: BaseStore) -> None:
        requires(store, "watch")
        with store.watch("k") as watch:
            assert not watch.cancelled
        assert watch.cancelled
        with pytest.raises(StopIteration):
            next(watch)

    def test_callback_form(self, store: BaseStore) -> None:
        requires(store, "watch")
        received: Inbox[WatchEvent] = Inbox()
        start = current_revision(store)
        watch = store.watch_prefix("p/", start_revision=start + 1, callback=received.put)
        try:
            first = store.put("p/a", b"1")
            second = store.delete("p/a")
            events = [received.get(timeout=EVENT_TIMEOUT) for _ in range(2)]
            assert second == 1
            assert [event_summary(event) for event in events] == [
                (PUT, "p/a", b"1", first),
                (DELETE, "p/a", b"", first + 1),
            ]
        finally:
            watch.cancel()

    def test_compacted_start_revision_raises_from_the_iterator(self, store: BaseStore) -> None:
        requires(store, "watch", "history")
        first = store.put("k", b"1")
        second = store.put("k", b"2")
        store.compact_revision(second)
        watch = store.watch("k", start_revision=first)
        try:
            with pytest.raises(CompactedError) as info:
                watch.next_event(EVENT_TIMEOUT)
            assert info.value.compact_revision == second
        finally:
            watch.cancel()

    def test_compacted_start_revision_reaches_on_error(self, store: BaseStore) -> None:
        requires(store, "watch", "history")
        first = store.put("k", b"1")
        second = store.put("k", b"2")
        store.compact_revision(second)
        errors: Inbox[BaseException] = Inbox()
        watch = store.watch(
            "k", start_revision=first, callback=lambda event: None, on_error=errors.put
        )
        try:
            error = errors.get(timeout=EVENT_TIMEOUT)
            assert isinstance(error, CompactedError)
            assert error.compact_revision == second
        finally:
            watch.cancel()

    def test_watch_at_the_compact_revision_replays(self, store: BaseStore) -> None:
        requires(store, "watch", "history")
        store.put("k", b"1")
        second = store.put("k", b"2")
        store.compact_revision(second)
        with store.watch("k", start_revision=second) as watch:
            (event,) = read_events(watch, 1)
            assert event_summary(event) == (PUT, "k", b"2", second)

    def test_watch_from_a_future_revision_waits_for_it(self, store: BaseStore) -> None:
        requires(store, "watch")
        start = current_revision(store)
        with store.watch("k", start_revision=start + 2) as watch:
            store.put("k", b"skipped")
            later = store.put("k", b"seen")
            (event,) = read_events(watch, 1)
            assert event_summary(event) == (PUT, "k", b"seen", later)

    @pytest.mark.parametrize("revision", [0, -1])
    def test_non_positive_start_revision_is_refused(self, store: BaseStore, revision: int) -> None:
        requires(store, "watch")
        with pytest.raises(InvalidArgumentError):
            store.watch("k", start_revision=revision)

    def test_two_watches_see_the_same_stream(self, store: BaseStore) -> None:
        requires(store, "watch")
        start = current_revision(store)
        with (
            store.watch_prefix("", start_revision=start + 1) as one,
            store.watch_prefix("", start_revision=start + 1) as two,
        ):
            store.put("a", b"1")
            store.put("b", b"2")
            store.delete("a")
            first = [event_summary(event) for event in read_events(one, 3)]
            assert first == [event_summary(event) for event in read_events(two, 3)]

    def test_a_watch_from_the_compact_revision_misses_its_deletes_and_prev_kvs(
        self, store: BaseStore
    ) -> None:
        # etcd's compaction drops the tombstones at the compact revision, and a watch
        # reads prev_kv at the revision before each event: compacted for events there
        requires(store, "watch", "history")
        store.put("k", b"1")
        store.put("gone", b"x")
        changed = store.kv_txn([], [Put("k", b"2"), Delete("gone")], []).revision
        store.compact_revision(changed, physical=True)
        later = store.put("k", b"3")
        with store.watch_prefix("", start_revision=changed, prev_kv=True) as watch:
            first, second = read_events(watch, 2)
        assert event_summary(first) == (PUT, "k", b"2", changed)
        assert first.prev_kv is None
        assert event_summary(second) == (PUT, "k", b"3", later)
        assert second.prev_kv is not None and second.prev_kv.value == b"2"
