"""``HistoryConformance``: reads at old revisions and compaction, as etcd keeps history."""

from __future__ import annotations

import pytest

from kvstore._async.base import AsyncBaseStore
from kvstore.errors import CompactedError, InvalidArgumentError, KeyNotFoundError
from kvstore.keys import prefix_range_end
from kvstore.testing._async._support import (
    AsyncConformanceBase,
    current_revision,
    requires,
    snapshot,
)

__all__ = ["AsyncHistoryConformance"]


class AsyncHistoryConformance(AsyncConformanceBase):
    """History is kept until compacted; below the compact revision reads fail loudly."""

    async def test_get_with_revision_reads_old_values(self, store: AsyncBaseStore) -> None:
        requires(store, "history")
        first = await store.put("k", b"1")
        second = await store.put("k", b"2")
        await store.delete("k")
        assert await store.get_with_revision("k", first) == b"1"
        assert await store.get_with_revision("k", second) == b"2"
        with pytest.raises(KeyNotFoundError):
            await store.get_with_revision("k", second + 1)
        with pytest.raises(KeyNotFoundError):
            await store.get_with_revision("k", first - 1)

    async def test_range_at_an_old_revision(self, store: AsyncBaseStore) -> None:
        requires(store, "history")
        first = await store.bulk_put({"p/a": b"1", "p/b": b"1"})
        await store.put("p/a", b"2")
        await store.delete("p/b")
        await store.put("p/c", b"3")
        old = await store.kv_range("p/", prefix_range_end("p/"), revision=first)
        assert [(kv.key, kv.value, kv.mod_revision) for kv in old.kvs] == [
            ("p/a", b"1", first),
            ("p/b", b"1", first),
        ]
        assert old.revision == await current_revision(store)
        now = await store.kv_range(
            "p/", prefix_range_end("p/"), revision=await current_revision(store)
        )
        assert [(kv.key, kv.value) for kv in now.kvs] == [("p/a", b"2"), ("p/c", b"3")]

    async def test_old_revision_keeps_old_metadata(self, store: AsyncBaseStore) -> None:
        requires(store, "history")
        first = await store.put("k", b"1")
        await store.put("k", b"2")
        (kv,) = (await store.kv_range("k", revision=first)).kvs
        assert (kv.version, kv.create_revision, kv.mod_revision) == (1, first, first)

    async def test_future_revision_is_refused(self, store: AsyncBaseStore) -> None:
        requires(store, "history")
        revision = await store.put("k", b"1")
        with pytest.raises(InvalidArgumentError):
            await store.get_with_revision("k", revision + 1000)
        with pytest.raises(InvalidArgumentError):
            await store.kv_range("k", revision=revision + 1000)

    async def test_compaction_below_at_and_above(self, store: AsyncBaseStore) -> None:
        requires(store, "history")
        first = await store.put("k", b"1")
        second = await store.put("k", b"2")
        third = await store.put("k", b"3")
        await store.compact_revision(second)
        with pytest.raises(CompactedError) as info:
            await store.get_with_revision("k", first)
        assert info.value.compact_revision == second
        with pytest.raises(CompactedError):
            await store.kv_range("k", revision=first)
        assert await store.get_with_revision("k", second) == b"2"
        assert await store.get_with_revision("k", third) == b"3"
        assert await store.get("k") == b"3"

    async def test_compaction_keeps_the_latest_state(self, store: AsyncBaseStore) -> None:
        requires(store, "history")
        await store.put("a", b"1")
        await store.put("b", b"1")
        await store.delete("a")
        before = await snapshot(store)
        await store.compact_revision(before.revision)
        assert await snapshot(store) == before

    async def test_compacting_at_the_current_revision_is_allowed(
        self, store: AsyncBaseStore
    ) -> None:
        requires(store, "history")
        revision = await store.put("k", b"1")
        await store.compact_revision(revision, physical=True)
        assert await store.get_with_revision("k", revision) == b"1"
        assert await store.put("k", b"2") == revision + 1

    async def test_compaction_does_not_bump_the_revision(self, store: AsyncBaseStore) -> None:
        requires(store, "history")
        revision = await store.put("k", b"1")
        await store.compact_revision(revision)
        assert await current_revision(store) == revision

    async def test_compacting_again_at_or_below_raises(self, store: AsyncBaseStore) -> None:
        requires(store, "history")
        first = await store.put("k", b"1")
        second = await store.put("k", b"2")
        await store.compact_revision(second)
        with pytest.raises(CompactedError):
            await store.compact_revision(second)
        with pytest.raises(CompactedError):
            await store.compact_revision(first)

    async def test_compacting_a_future_revision_is_refused(self, store: AsyncBaseStore) -> None:
        requires(store, "history")
        revision = await store.put("k", b"1")
        with pytest.raises(InvalidArgumentError):
            await store.compact_revision(revision + 1000)
        assert await store.get_with_revision("k", revision) == b"1"
