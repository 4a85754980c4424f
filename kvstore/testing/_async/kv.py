"""``KVConformance``: every key-value method of the SPEC section 4 table, and revisions."""

from __future__ import annotations

# unasync: sync-only from collections.abc import Callable
from collections.abc import Awaitable, Callable  # unasync: async-only
from typing import Any

import pytest

from kvstore._async.base import AsyncBaseStore
from kvstore.errors import (
    InvalidArgumentError,
    KeyExistsError,
    KeyNotFoundError,
    TransactionTooLargeError,
    ValueTooLargeError,
)
from kvstore.keys import ALL_KEYS, prefix_range_end
from kvstore.testing._async._support import (
    AsyncConformanceBase,
    current_revision,
    requires,
    settle,
    snapshot,
)
from kvstore.txn import Delete, Get, Put, Txn, Version
from kvstore.types import RangeResult

__all__ = ["AsyncKVConformance"]


def _count_range_calls(store: AsyncBaseStore) -> list[dict[str, Any]]:
    """Record every ``kv_range`` call the store makes on itself (shadows the method)."""
    calls: list[dict[str, Any]] = []
    # unasync: sync-only original: Callable[..., RangeResult] = store.kv_range
    original: Callable[..., Awaitable[RangeResult]] = store.kv_range  # unasync: async-only

    async def counting(*args: Any, **kwargs: Any) -> RangeResult:
        calls.append(kwargs)
        return await original(*args, **kwargs)

    store.kv_range = counting  # type: ignore[method-assign]
    return calls


class AsyncKVConformance(AsyncConformanceBase):
    """Reads, writes, conveniences and the revision / version bookkeeping of etcd."""

    # ------------------------------------------------------------------ put / get

    async def test_put_returns_new_revision_and_get_returns_value(
        self, store: AsyncBaseStore
    ) -> None:
        before = await current_revision(store)
        revision = await store.put("k", b"v")
        assert revision == before + 1
        assert await store.get("k") == b"v"
        assert await current_revision(store) == revision

    async def test_get_missing_raises_key_not_found(self, store: AsyncBaseStore) -> None:
        with pytest.raises(KeyNotFoundError) as info:
            await store.get("missing")
        assert isinstance(info.value, KeyError)
        assert info.value.key == "missing"

    async def test_values_round_trip_as_bytes(self, store: AsyncBaseStore) -> None:
        values = {"empty": b"", "binary": bytes(range(256)), "nul": b"\0\0", "utf8": "é".encode()}
        for key, value in values.items():
            await store.put(key, value)
        for key, value in values.items():
            assert await store.get(key) == value
            assert isinstance(await store.get(key), bytes)

    async def test_bytearray_and_memoryview_values_are_stored_as_bytes(
        self, store: AsyncBaseStore
    ) -> None:
        await store.put("a", bytearray(b"xy"))  # type: ignore[arg-type]
        await store.put("b", memoryview(b"zw"))  # type: ignore[arg-type]
        assert await store.get("a") == b"xy"
        assert await store.get("b") == b"zw"

    async def test_unicode_keys_round_trip(self, store: AsyncBaseStore) -> None:
        keys = ["é", "日本/語", "a b", "emoji/\U0001f600", "tab\tkey"]
        for index, key in enumerate(keys):
            await store.put(key, str(index).encode())
        for index, key in enumerate(keys):
            assert await store.get(key) == str(index).encode()
        assert await store.list("") == sorted(keys, key=str.encode)

    async def test_put_of_one_mebibyte_is_accepted(self, store: AsyncBaseStore) -> None:
        # etcd accepts 1 MiB (SPEC 13); the exact limit is left to the bad-input group,
        # since wrappers (namespace prefix, encryption envelope) use part of the request
        value = bytes(range(256)) * 4096
        await store.put("big", value)
        assert await store.get("big") == value

    async def test_get_kv_metadata(self, store: AsyncBaseStore) -> None:
        first = await store.put("k", b"1")
        kv = await store.get_kv("k")
        assert kv is not None
        assert (kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease) == (
            "k",
            b"1",
            first,
            first,
            1,
            0,
        )
        second = await store.put("k", b"2")
        kv = await store.get_kv("k")
        assert kv is not None
        assert (kv.value, kv.create_revision, kv.mod_revision, kv.version) == (
            b"2",
            first,
            second,
            2,
        )

    async def test_get_kv_missing_returns_none(self, store: AsyncBaseStore) -> None:
        assert await store.get_kv("missing") is None

    async def test_version_and_create_revision_reset_after_delete(
        self, store: AsyncBaseStore
    ) -> None:
        await store.put("k", b"1")
        await store.put("k", b"2")
        await store.delete("k")
        recreated = await store.put("k", b"3")
        kv = await store.get_kv("k")
        assert kv is not None
        assert (kv.version, kv.create_revision, kv.mod_revision) == (1, recreated, recreated)

    # ------------------------------------------------------------------ prefix reads

    async def _seed_prefixes(self, store: AsyncBaseStore) -> None:
        await store.bulk_put(
            {
                "p/b": b"2",
                "p/a": b"1",
                "p/c/d": b"3",
                "p0": b"sibling",
                "q": b"other",
                "p": b"exact",
            }
        )

    async def test_get_multiple_is_ordered_by_key_and_bounded_by_prefix(
        self, store: AsyncBaseStore
    ) -> None:
        await self._seed_prefixes(store)
        result = await store.get_multiple("p/")
        assert list(result.items()) == [("p/a", b"1"), ("p/b", b"2"), ("p/c/d", b"3")]
        assert await store.get_multiple("nothing/") == {}

    async def test_list_with_values_equals_get_multiple(self, store: AsyncBaseStore) -> None:
        await self._seed_prefixes(store)
        assert list((await store.list_with_values("p")).items()) == list(
            (await store.get_multiple("p")).items()
        )
        assert list(await store.list_with_values("p")) == ["p", "p/a", "p/b", "p/c/d", "p0"]

    async def test_empty_prefix_means_every_key(self, store: AsyncBaseStore) -> None:
        await self._seed_prefixes(store)
        assert await store.list("") == ["p", "p/a", "p/b", "p/c/d", "p0", "q"]
        assert await store.count("") == 6
        assert len(await store.get_multiple("")) == 6

    async def test_list_returns_keys_in_utf8_order(self, store: AsyncBaseStore) -> None:
        keys = ["z", "é", "a", "\U0001f600", "Z", "\uffff"]
        for key in keys:
            await store.put(key, b"v")
        assert await store.list("") == sorted(keys, key=str.encode)

    async def test_list_pages_internally(self, store: AsyncBaseStore) -> None:
        keys = [f"page/{index:02d}" for index in range(7)]
        await store.bulk_put({key: b"v" for key in keys})
        store.range_page_size = 2
        calls = _count_range_calls(store)
        assert await store.list("page/") == keys
        assert len(calls) >= 4
        assert all(call.get("limit") == 2 for call in calls)

    async def test_get_multiple_pages_internally(self, store: AsyncBaseStore) -> None:
        mapping = {f"page/{index:02d}": str(index).encode() for index in range(5)}
        await store.bulk_put(mapping)
        store.range_page_size = 2
        calls = _count_range_calls(store)
        assert await store.get_multiple("page/") == mapping
        assert len(calls) >= 3

    async def test_paged_list_reads_one_revision(self, store: AsyncBaseStore) -> None:
        keys = [f"page/{index:02d}" for index in range(6)]
        await store.bulk_put({key: b"v" for key in keys})
        store.range_page_size = 2
        calls = _count_range_calls(store)
        await store.list("page/")
        revisions = {call.get("revision") for call in calls[1:]}
        assert len(revisions) == 1
        assert None not in revisions

    async def test_exists(self, store: AsyncBaseStore) -> None:
        await store.put("k", b"")
        assert await store.exists("k") is True
        assert await store.exists("k2") is False
        await store.delete("k")
        assert await store.exists("k") is False

    async def test_count(self, store: AsyncBaseStore) -> None:
        await self._seed_prefixes(store)
        assert await store.count("p/") == 3
        assert await store.count("p") == 5
        assert await store.count("none") == 0

    async def test_get_keys_with_prefix_limit(self, store: AsyncBaseStore) -> None:
        await self._seed_prefixes(store)
        assert await store.get_keys_with_prefix("p/", 2) == ["p/a", "p/b"]
        assert await store.get_keys_with_prefix("p/", 0) == ["p/a", "p/b", "p/c/d"]
        assert await store.get_keys_with_prefix("p/", -1) == ["p/a", "p/b", "p/c/d"]
        assert await store.get_keys_with_prefix("p/", 10) == ["p/a", "p/b", "p/c/d"]

    async def test_get_keys_by_pattern_matches_substring_of_full_key(
        self, store: AsyncBaseStore
    ) -> None:
        await store.bulk_put(
            {"app/a/config": b"", "app/b/conf": b"", "app/c/config": b"", "x/config": b""}
        )
        assert await store.get_keys_by_pattern("app/", "config") == ["app/a/config", "app/c/config"]
        assert await store.get_keys_by_pattern("app/", "app/b") == ["app/b/conf"]
        assert await store.get_keys_by_pattern("app/", "nomatch") == []

    async def test_get_range_is_half_open(self, store: AsyncBaseStore) -> None:
        await store.bulk_put({"a": b"1", "b": b"2", "c": b"3", "d": b"4"})
        assert await store.get_range("b", "d") == {"b": b"2", "c": b"3"}
        assert await store.get_range("a", "a") == {}
        assert await store.get_range("b", "\0") == {"b": b"2", "c": b"3", "d": b"4"}

    async def test_kv_range_limit_count_and_more(self, store: AsyncBaseStore) -> None:
        await self._seed_prefixes(store)
        end = prefix_range_end("p/")
        result = await store.kv_range("p/", end, limit=2)
        assert [kv.key for kv in result.kvs] == ["p/a", "p/b"]
        assert (result.count, result.more) == (3, True)
        result = await store.kv_range("p/", end, limit=3)
        assert (len(result.kvs), result.count, result.more) == (3, 3, False)

    async def test_kv_range_keys_only_and_count_only(self, store: AsyncBaseStore) -> None:
        await self._seed_prefixes(store)
        end = prefix_range_end("p/")
        keys_only = await store.kv_range("p/", end, keys_only=True)
        assert [(kv.key, kv.value) for kv in keys_only.kvs] == [
            ("p/a", b""),
            ("p/b", b""),
            ("p/c/d", b""),
        ]
        count_only = await store.kv_range("p/", end, count_only=True)
        assert (count_only.kvs, count_only.count) == ((), 3)

    async def test_kv_range_reports_the_current_revision(self, store: AsyncBaseStore) -> None:
        revision = await store.put("k", b"v")
        assert (await store.kv_range("k")).revision == revision
        assert (await store.kv_range("missing")).revision == revision
        assert (await store.kv_range(ALL_KEYS, ALL_KEYS, count_only=True)).revision == revision

    async def test_kv_put_and_delete_prev_kv(self, store: AsyncBaseStore) -> None:
        first = await store.put("k", b"old")
        put = await store.kv_put("k", b"new", prev_kv=True)
        assert put.prev_kv is not None
        assert (put.prev_kv.key, put.prev_kv.value, put.prev_kv.mod_revision) == (
            "k",
            b"old",
            first,
        )
        assert (await store.kv_put("fresh", b"v", prev_kv=True)).prev_kv is None
        deleted = await store.kv_delete_range("k", prev_kv=True)
        assert deleted.deleted == 1
        assert [(kv.key, kv.value) for kv in deleted.prev_kvs] == [("k", b"new")]

    # ------------------------------------------------------------------ deletes

    async def test_delete_returns_number_deleted(self, store: AsyncBaseStore) -> None:
        await store.put("k", b"v")
        assert await store.delete("k") == 1
        assert await store.delete("k") == 0
        assert not await store.exists("k")

    async def test_delete_prefix_deletes_only_the_prefix(self, store: AsyncBaseStore) -> None:
        await self._seed_prefixes(store)
        assert await store.delete_prefix("p/") == 3
        assert await store.list("") == ["p", "p0", "q"]
        assert await store.delete_prefix("p/") == 0

    async def test_delete_prefix_empty_needs_allow_all(self, store: AsyncBaseStore) -> None:
        await self._seed_prefixes(store)
        before = await snapshot(store)
        with pytest.raises(InvalidArgumentError) as info:
            await store.delete_prefix("")
        assert isinstance(info.value, ValueError)
        assert await snapshot(store) == before
        assert await store.delete_prefix("", allow_all=True) == 6
        assert await store.count("") == 0

    async def test_delete_range_primitive(self, store: AsyncBaseStore) -> None:
        await store.bulk_put({"a": b"", "b": b"", "c": b"", "d": b""})
        assert (await store.kv_delete_range("b", "d")).deleted == 2
        assert await store.list("") == ["a", "d"]

    # ------------------------------------------------------------------ conditional writes

    async def test_put_if_not_exists(self, store: AsyncBaseStore) -> None:
        assert await store.put_if_not_exists("k", b"1") is True
        before = await snapshot(store)
        assert await store.put_if_not_exists("k", b"2") is False
        assert await snapshot(store) == before
        assert await store.get("k") == b"1"

    async def test_compare_and_swap(self, store: AsyncBaseStore) -> None:
        await store.put("k", b"old")
        assert await store.compare_and_swap("k", b"old", b"new") is True
        assert await store.get("k") == b"new"
        before = await snapshot(store)
        assert await store.compare_and_swap("k", b"old", b"newer") is False
        assert await store.compare_and_swap("missing", b"old", b"new") is False
        assert await snapshot(store) == before

    async def test_compare_and_swap_is_one_write(self, store: AsyncBaseStore) -> None:
        await store.put("k", b"old")
        before = await current_revision(store)
        await store.compare_and_swap("k", b"old", b"new")
        assert await current_revision(store) == before + 1

    async def test_compare_and_swap_keeps_the_lease(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        lease = await store.lease(60)
        await store.put("k", b"old", lease=lease)
        assert await store.compare_and_swap("k", b"old", b"new") is True
        kv = await store.get_kv("k")
        assert kv is not None and kv.value == b"new" and kv.lease == lease.id

    async def test_primitives_take_request_objects(self, store: AsyncBaseStore) -> None:
        put = await store.kv_put(Put("r/a", b"1"))
        assert (await store.kv_range(Get("r/a"))).kvs[0].mod_revision == put.revision
        result = await store.kv_txn(Txn([Version("r/a") == 1], [Put("r/b", b"2")], []))
        assert result.succeeded and await store.get("r/b") == b"2"
        assert (await store.kv_range(Get.prefix("r/"))).count == 2
        assert (await store.kv_delete_range(Delete.prefix("r/"))).deleted == 2

    @pytest.mark.parametrize(
        "call",
        [
            lambda s: s.kv_range(Get("a"), limit=1),
            lambda s: s.kv_put(Put("a", b"v"), b"w"),
            lambda s: s.kv_delete_range(Delete("a"), prev_kv=True),
            lambda s: s.kv_txn(Txn(), [Put("a", b"v")]),
        ],
        ids=["range", "put", "delete", "txn"],
    )
    async def test_request_with_arguments_is_refused(
        self, store: AsyncBaseStore, call: Callable[[AsyncBaseStore], object]
    ) -> None:
        before = await snapshot(store)
        with pytest.raises(InvalidArgumentError):
            await settle(call(store))
        assert await snapshot(store) == before

    async def test_put_ignore_lease_keeps_the_lease(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        lease = await store.lease(60)
        await store.put("k", b"1", lease=lease)
        await store.kv_put(Put("k", b"2", ignore_lease=True))
        kv = await store.get_kv("k")
        assert kv is not None and kv.value == b"2" and kv.lease == lease.id
        before = await snapshot(store)
        with pytest.raises(KeyNotFoundError):
            await store.kv_put(Put("missing", b"v", ignore_lease=True))
        with pytest.raises(InvalidArgumentError):
            Put("k", b"v", lease=lease.id, ignore_lease=True)
        assert await snapshot(store) == before

    async def test_move_key_moves_value_in_one_revision(self, store: AsyncBaseStore) -> None:
        await store.put("old", b"v")
        before = await current_revision(store)
        await store.move_key("old", "new")
        assert await current_revision(store) == before + 1
        assert await store.get("new") == b"v"
        assert not await store.exists("old")
        kv = await store.get_kv("new")
        assert kv is not None
        assert kv.mod_revision == kv.create_revision == before + 1

    async def test_move_key_overwrites_by_default(self, store: AsyncBaseStore) -> None:
        await store.put("old", b"moved")
        await store.put("new", b"replaced")
        await store.move_key("old", "new")
        assert await store.get("new") == b"moved"
        assert not await store.exists("old")

    async def test_move_key_missing_source_raises_and_changes_nothing(
        self, store: AsyncBaseStore
    ) -> None:
        await store.put("new", b"v")
        before = await snapshot(store)
        with pytest.raises(KeyNotFoundError):
            await store.move_key("missing", "new")
        assert await snapshot(store) == before

    async def test_move_key_no_overwrite_raises_key_exists(self, store: AsyncBaseStore) -> None:
        await store.put("old", b"1")
        await store.put("new", b"2")
        before = await snapshot(store)
        with pytest.raises(KeyExistsError):
            await store.move_key("old", "new", overwrite=False)
        assert await snapshot(store) == before

    async def test_move_key_no_overwrite_to_free_target(self, store: AsyncBaseStore) -> None:
        await store.put("old", b"1")
        await store.move_key("old", "new", overwrite=False)
        assert await store.get_multiple("") == {"new": b"1"}

    # ------------------------------------------------------------------ bulk operations

    async def test_bulk_put_is_one_revision(self, store: AsyncBaseStore) -> None:
        before = await current_revision(store)
        mapping = {f"bulk/{index:03d}": str(index).encode() for index in range(store.max_txn_ops)}
        revision = await store.bulk_put(mapping)
        assert revision == before + 1
        assert await store.get_multiple("bulk/") == mapping
        mod_revisions = {kv.mod_revision for kv in (await snapshot(store)).kvs}
        assert mod_revisions == {revision}

    async def test_bulk_put_empty_returns_current_revision(self, store: AsyncBaseStore) -> None:
        revision = await store.put("k", b"v")
        assert await store.bulk_put({}) == revision
        assert await current_revision(store) == revision

    async def test_bulk_put_over_the_limit_is_refused_and_stores_nothing(
        self, store: AsyncBaseStore
    ) -> None:
        await store.put("existing", b"v")
        before = await snapshot(store)
        mapping = {f"bulk/{index:03d}": b"v" for index in range(store.max_txn_ops + 1)}
        with pytest.raises(TransactionTooLargeError):
            await store.bulk_put(mapping)
        assert await snapshot(store) == before

    async def test_bulk_put_non_atomic_chunks(self, store: AsyncBaseStore) -> None:
        before = await current_revision(store)
        size = store.max_txn_ops
        mapping = {f"bulk/{index:04d}": b"v" for index in range(2 * size + 1)}
        revision = await store.bulk_put(mapping, atomic=False)
        assert revision == before + 3
        assert await store.count("bulk/") == 2 * size + 1

    async def test_bulk_put_non_atomic_splits_by_request_size(self, store: AsyncBaseStore) -> None:
        value = b"x" * 100_000
        mapping = {f"big/{index:02d}": value for index in range(20)}  # 2 MB in all
        with pytest.raises(ValueTooLargeError):
            await store.bulk_put(mapping)
        before = await current_revision(store)
        revision = await store.bulk_put(mapping, atomic=False)
        assert revision - before >= 2
        assert await store.get_multiple("big/") == mapping

    async def test_keep_alive_takes_a_lease_id(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        lease = await store.lease(30)
        keepalive = await store.keep_alive(lease.id)
        try:
            assert keepalive.lease.id == lease.id
            assert keepalive.lease.ttl == lease.ttl
        finally:
            await keepalive.stop()
            await lease.revoke()

    async def test_bulk_delete(self, store: AsyncBaseStore) -> None:
        await store.bulk_put({"a": b"", "b": b"", "c": b""})
        before = await current_revision(store)
        assert await store.bulk_delete(["a", "b", "missing"]) == 2
        assert await current_revision(store) == before + 1
        assert await store.list("") == ["c"]
        assert await store.bulk_delete([]) == 0

    async def test_bulk_delete_over_the_limit_is_refused(self, store: AsyncBaseStore) -> None:
        keys = [f"bulk/{index:03d}" for index in range(store.max_txn_ops + 1)]
        await store.bulk_put(dict.fromkeys(keys[: store.max_txn_ops], b"v"))
        before = await snapshot(store)
        with pytest.raises(TransactionTooLargeError):
            await store.bulk_delete(keys)
        assert await snapshot(store) == before
        assert await store.bulk_delete(keys, atomic=False) == store.max_txn_ops
        assert await store.count("bulk/") == 0

    # ------------------------------------------------------------------ revisions

    async def test_each_write_bumps_the_revision_by_one(self, store: AsyncBaseStore) -> None:
        start = await current_revision(store)
        assert await store.put("a", b"1") == start + 1
        assert await store.put("a", b"2") == start + 2
        assert await store.put("b", b"1") == start + 3
        await store.delete("a")
        assert await current_revision(store) == start + 4
        await store.delete_prefix("b")
        assert await current_revision(store) == start + 5

    async def test_reads_do_not_bump_the_revision(self, store: AsyncBaseStore) -> None:
        revision = await store.put("a", b"1")
        await store.get("a")
        await store.get_kv("a")
        await store.exists("a")
        await store.count("")
        await store.list("")
        await store.get_multiple("")
        await store.get_range("a", "z")
        assert await current_revision(store) == revision

    async def test_deleting_missing_keys_does_not_bump_the_revision(
        self, store: AsyncBaseStore
    ) -> None:
        revision = await store.put("a", b"1")
        assert await store.delete("missing") == 0
        assert await store.delete_prefix("missing/") == 0
        assert await store.bulk_delete(["x", "y"]) == 0
        assert await current_revision(store) == revision

    async def test_a_multi_write_txn_gets_one_revision(self, store: AsyncBaseStore) -> None:
        start = await current_revision(store)
        result = await store.kv_txn([], [Put("a", b"1"), Put("b", b"2"), Get("a")], [])
        assert result.revision == start + 1
        a, b = await store.get_kv("a"), await store.get_kv("b")
        assert a is not None and b is not None
        assert a.mod_revision == b.mod_revision == start + 1

    async def test_a_txn_that_writes_nothing_does_not_bump(self, store: AsyncBaseStore) -> None:
        revision = await store.put("a", b"1")
        assert (await store.kv_txn([], [Get("a")], [])).revision == revision
        assert await current_revision(store) == revision
