# Generated from kvstore/testing/_async/history.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``HistoryConformance``: reads at old revisions and compaction, as etcd keeps history."""

from __future__ import annotations

import pytest

from kvstore._sync.base import BaseStore
from kvstore.errors import CompactedError, InvalidArgumentError, KeyNotFoundError
from kvstore.keys import prefix_range_end
from kvstore.testing._sync._support import (
    ConformanceBase,
    current_revision,
    requires,
    snapshot,
)

__all__ = ["HistoryConformance"]


class HistoryConformance(ConformanceBase):
    """History is kept until compacted; below the compact revision reads fail loudly."""

    def test_get_with_revision_reads_old_values(self, store: BaseStore) -> None:
        requires(store, "history")
        first = store.put("k", b"1")
        second = store.put("k", b"2")
        store.delete("k")
        assert store.get_with_revision("k", first) == b"1"
        assert store.get_with_revision("k", second) == b"2"
        with pytest.raises(KeyNotFoundError):
            store.get_with_revision("k", second + 1)
        with pytest.raises(KeyNotFoundError):
            store.get_with_revision("k", first - 1)

    def test_range_at_an_old_revision(self, store: BaseStore) -> None:
        requires(store, "history")
        first = store.bulk_put({"p/a": b"1", "p/b": b"1"})
        store.put("p/a", b"2")
        store.delete("p/b")
        store.put("p/c", b"3")
        old = store.kv_range("p/", prefix_range_end("p/"), revision=first)
        assert [(kv.key, kv.value, kv.mod_revision) for kv in old.kvs] == [
            ("p/a", b"1", first),
            ("p/b", b"1", first),
        ]
        assert old.revision == current_revision(store)
        now = store.kv_range("p/", prefix_range_end("p/"), revision=current_revision(store))
        assert [(kv.key, kv.value) for kv in now.kvs] == [("p/a", b"2"), ("p/c", b"3")]

    def test_old_revision_keeps_old_metadata(self, store: BaseStore) -> None:
        requires(store, "history")
        first = store.put("k", b"1")
        store.put("k", b"2")
        (kv,) = store.kv_range("k", revision=first).kvs
        assert (kv.version, kv.create_revision, kv.mod_revision) == (1, first, first)

    def test_future_revision_is_refused(self, store: BaseStore) -> None:
        requires(store, "history")
        revision = store.put("k", b"1")
        with pytest.raises(InvalidArgumentError):
            store.get_with_revision("k", revision + 1000)
        with pytest.raises(InvalidArgumentError):
            store.kv_range("k", revision=revision + 1000)

    def test_compaction_below_at_and_above(self, store: BaseStore) -> None:
        requires(store, "history")
        first = store.put("k", b"1")
        second = store.put("k", b"2")
        third = store.put("k", b"3")
        store.compact_revision(second)
        with pytest.raises(CompactedError) as info:
            store.get_with_revision("k", first)
        assert info.value.compact_revision == second
        with pytest.raises(CompactedError):
            store.kv_range("k", revision=first)
        assert store.get_with_revision("k", second) == b"2"
        assert store.get_with_revision("k", third) == b"3"
        assert store.get("k") == b"3"

    def test_compaction_keeps_the_latest_state(self, store: BaseStore) -> None:
        requires(store, "history")
        store.put("a", b"1")
        store.put("b", b"1")
        store.delete("a")
        before = snapshot(store)
        store.compact_revision(before.revision)
        assert snapshot(store) == before

    def test_compacting_at_the_current_revision_is_allowed(self, store: BaseStore) -> None:
        requires(store, "history")
        revision = store.put("k", b"1")
        store.compact_revision(revision, physical=True)
        assert store.get_with_revision("k", revision) == b"1"
        assert store.put("k", b"2") == revision + 1

    def test_compaction_does_not_bump_the_revision(self, store: BaseStore) -> None:
        requires(store, "history")
        revision = store.put("k", b"1")
        store.compact_revision(revision)
        assert current_revision(store) == revision

    def test_compacting_again_at_or_below_raises(self, store: BaseStore) -> None:
        requires(store, "history")
        first = store.put("k", b"1")
        second = store.put("k", b"2")
        store.compact_revision(second)
        with pytest.raises(CompactedError):
            store.compact_revision(second)
        with pytest.raises(CompactedError):
            store.compact_revision(first)

    def test_compacting_a_future_revision_is_refused(self, store: BaseStore) -> None:
        requires(store, "history")
        revision = store.put("k", b"1")
        with pytest.raises(InvalidArgumentError):
            store.compact_revision(revision + 1000)
        assert store.get_with_revision("k", revision) == b"1"
