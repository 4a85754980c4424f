# Generated from kvstore/testing/_async/kv.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``KVConformance``: every key-value method of the SPEC section 4 table, and revisions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kvstore._sync.base import BaseStore
from kvstore.errors import (
    InvalidArgumentError,
    KeyExistsError,
    KeyNotFoundError,
    TransactionTooLargeError,
    ValueTooLargeError,
)
from kvstore.keys import ALL_KEYS, prefix_range_end
from kvstore.testing._sync._support import (
    ConformanceBase,
    current_revision,
    requires,
    settle,
    snapshot,
)
from kvstore.txn import Delete, Get, Put, Txn, Version
from kvstore.types import RangeResult

__all__ = ["KVConformance"]


def _count_range_calls(store: BaseStore) -> list[dict[str, Any]]:
    """Record every ``kv_range`` call the store makes on itself (shadows the method)."""
    calls: list[dict[str, Any]] = []
    original: Callable[..., RangeResult] = store.kv_range

    def counting(*args: Any, **kwargs: Any) -> RangeResult:
        calls.append(kwargs)
        return original(*args, **kwargs)

    store.kv_range = counting  # type: ignore[method-assign]
    return calls


class KVConformance(ConformanceBase):
    """Reads, writes, conveniences and the revision / version bookkeeping of etcd."""

    # ------------------------------------------------------------------ put / get

    def test_put_returns_new_revision_and_get_returns_value(self, store: BaseStore) -> None:
        before = current_revision(store)
        revision = store.put("k", b"v")
        assert revision == before + 1
        assert store.get("k") == b"v"
        assert current_revision(store) == revision

    def test_get_missing_raises_key_not_found(self, store: BaseStore) -> None:
        with pytest.raises(KeyNotFoundError) as info:
            store.get("missing")
        assert isinstance(info.value, KeyError)
        assert info.value.key == "missing"

    def test_values_round_trip_as_bytes(self, store: BaseStore) -> None:
        values = {"empty": b"", "binary": bytes(range(256)), "nul": b"\0\0", "utf8": "é".encode()}
        for key, value in values.items():
            store.put(key, value)
        for key, value in values.items():
            assert store.get(key) == value
            assert isinstance(store.get(key), bytes)

    def test_bytearray_and_memoryview_values_are_stored_as_bytes(self, store: BaseStore) -> None:
        store.put("a", bytearray(b"xy"))  # type: ignore[arg-type]
        store.put("b", memoryview(b"zw"))  # type: ignore[arg-type]
        assert store.get("a") == b"xy"
        assert store.get("b") == b"zw"

    def test_unicode_keys_round_trip(self, store: BaseStore) -> None:
        keys = ["é", "日本/語", "a b", "emoji/\U0001f600", "tab\tkey"]
        for index, key in enumerate(keys):
            store.put(key, str(index).encode())
        for index, key in enumerate(keys):
            assert store.get(key) == str(index).encode()
        assert store.list("") == sorted(keys, key=str.encode)

    def test_put_of_one_mebibyte_is_accepted(self, store: BaseStore) -> None:
        # etcd accepts 1 MiB (SPEC 13); the exact limit is left to the bad-input group,
        # since wrappers (namespace prefix, encryption envelope) use part of the request
        value = bytes(range(256)) * 4096
        store.put("big", value)
        assert store.get("big") == value

    def test_get_kv_metadata(self, store: BaseStore) -> None:
        first = store.put("k", b"1")
        kv = store.get_kv("k")
        assert kv is not None
        assert (kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease) == (
            "k",
            b"1",
            first,
            first,
            1,
            0,
        )
        second = store.put("k", b"2")
        kv = store.get_kv("k")
        assert kv is not None
        assert (kv.value, kv.create_revision, kv.mod_revision, kv.version) == (
            b"2",
            first,
            second,
            2,
        )

    def test_get_kv_missing_returns_none(self, store: BaseStore) -> None:
        assert store.get_kv("missing") is None

    def test_version_and_create_revision_reset_after_delete(self, store: BaseStore) -> None:
        store.put("k", b"1")
        store.put("k", b"2")
        store.delete("k")
        recreated = store.put("k", b"3")
        kv = store.get_kv("k")
        assert kv is not None
        assert (kv.version, kv.create_revision, kv.mod_revision) == (1, recreated, recreated)

    # ------------------------------------------------------------------ prefix reads

    def _seed_prefixes(self, store: BaseStore) -> None:
        store.bulk_put(
            {
                "p/b": b"2",
                "p/a": b"1",
                "p/c/d": b"3",
                "p0": b"sibling",
                "q": b"other",
                "p": b"exact",
            }
        )

    def test_get_multiple_is_ordered_by_key_and_bounded_by_prefix(self, store: BaseStore) -> None:
        self._seed_prefixes(store)
        result = store.get_multiple("p/")
        assert list(result.items()) == [("p/a", b"1"), ("p/b", b"2"), ("p/c/d", b"3")]
        assert store.get_multiple("nothing/") == {}

    def test_list_with_values_equals_get_multiple(self, store: BaseStore) -> None:
        self._seed_prefixes(store)
        assert list(store.list_with_values("p").items()) == list(store.get_multiple("p").items())
        assert list(store.list_with_values("p")) == ["p", "p/a", "p/b", "p/c/d", "p0"]

    def test_empty_prefix_means_every_key(self, store: BaseStore) -> None:
        self._seed_prefixes(store)
        assert store.list("") == ["p", "p/a", "p/b", "p/c/d", "p0", "q"]
        assert store.count("") == 6
        assert len(store.get_multiple("")) == 6

    def test_list_returns_keys_in_utf8_order(self, store: BaseStore) -> None:
        keys = ["z", "é", "a", "\U0001f600", "Z", "\uffff"]
        for key in keys:
            store.put(key, b"v")
        assert store.list("") == sorted(keys, key=str.encode)

    def test_list_pages_internally(self, store: BaseStore) -> None:
        keys = [f"page/{index:02d}" for index in range(7)]
        store.bulk_put({key: b"v" for key in keys})
        store.range_page_size = 2
        calls = _count_range_calls(store)
        assert store.list("page/") == keys
        assert len(calls) >= 4
        assert all(call.get("limit") == 2 for call in calls)

    def test_get_multiple_pages_internally(self, store: BaseStore) -> None:
        mapping = {f"page/{index:02d}": str(index).encode() for index in range(5)}
        store.bulk_put(mapping)
        store.range_page_size = 2
        calls = _count_range_calls(store)
        assert store.get_multiple("page/") == mapping
        assert len(calls) >= 3

    def test_paged_list_reads_one_revision(self, store: BaseStore) -> None:
        keys = [f"page/{index:02d}" for index in range(6)]
        store.bulk_put({key: b"v" for key in keys})
        store.range_page_size = 2
        calls = _count_range_calls(store)
        store.list("page/")
        revisions = {call.get("revision") for call in calls[1:]}
        assert len(revisions) == 1
        assert None not in revisions

    def test_exists(self, store: BaseStore) -> None:
        store.put("k", b"")
        assert store.exists("k") is True
        assert store.exists("k2") is False
        store.delete("k")
        assert store.exists("k") is False

    def test_count(self, store: BaseStore) -> None:
        self._seed_prefixes(store)
        assert store.count("p/") == 3
        assert store.count("p") == 5
        assert store.count("none") == 0

    def test_get_keys_with_prefix_limit(self, store: BaseStore) -> None:
        self._seed_prefixes(store)
        assert store.get_keys_with_prefix("p/", 2) == ["p/a", "p/b"]
        assert store.get_keys_with_prefix("p/", 0) == ["p/a", "p/b", "p/c/d"]
        assert store.get_keys_with_prefix("p/", -1) == ["p/a", "p/b", "p/c/d"]
        assert store.get_keys_with_prefix("p/", 10) == ["p/a", "p/b", "p/c/d"]

    def test_get_keys_by_pattern_matches_substring_of_full_key(self, store: BaseStore) -> None:
        store.bulk_put(
            {"app/a/config": b"", "app/b/conf": b"", "app/c/config": b"", "x/config": b""}
        )
        assert store.get_keys_by_pattern("app/", "config") == ["app/a/config", "app/c/config"]
        assert store.get_keys_by_pattern("app/", "app/b") == ["app/b/conf"]
        assert store.get_keys_by_pattern("app/", "nomatch") == []

    def test_get_range_is_half_open(self, store: BaseStore) -> None:
        store.bulk_put({"a": b"1", "b": b"2", "c": b"3", "d": b"4"})
        assert store.get_range("b", "d") == {"b": b"2", "c": b"3"}
        assert store.get_range("a", "a") == {}
        assert store.get_range("b", "\0") == {"b": b"2", "c": b"3", "d": b"4"}

    def test_kv_range_limit_count_and_more(self, store: BaseStore) -> None:
        self._seed_prefixes(store)
        end = prefix_range_end("p/")
        result = store.kv_range("p/", end, limit=2)
        assert [kv.key for kv in result.kvs] == ["p/a", "p/b"]
        assert (result.count, result.more) == (3, True)
        result = store.kv_range("p/", end, limit=3)
        assert (len(result.kvs), result.count, result.more) == (3, 3, False)

    def test_kv_range_keys_only_and_count_only(self, store: BaseStore) -> None:
        self._seed_prefixes(store)
        end = prefix_range_end("p/")
        keys_only = store.kv_range("p/", end, keys_only=True)
        assert [(kv.key, kv.value) for kv in keys_only.kvs] == [
            ("p/a", b""),
            ("p/b", b""),
            ("p/c/d", b""),
        ]
        count_only = store.kv_range("p/", end, count_only=True)
        assert (count_only.kvs, count_only.count) == ((), 3)

    def test_kv_range_reports_the_current_revision(self, store: BaseStore) -> None:
        revision = store.put("k", b"v")
        assert store.kv_range("k").revision == revision
        assert store.kv_range("missing").revision == revision
        assert store.kv_range(ALL_KEYS, ALL_KEYS, count_only=True).revision == revision

    def test_kv_put_and_delete_prev_kv(self, store: BaseStore) -> None:
        first = store.put("k", b"old")
        put = store.kv_put("k", b"new", prev_kv=True)
        assert put.prev_kv is not None
        assert (put.prev_kv.key, put.prev_kv.value, put.prev_kv.mod_revision) == (
            "k",
            b"old",
            first,
        )
        assert store.kv_put("fresh", b"v", prev_kv=True).prev_kv is None
        deleted = store.kv_delete_range("k", prev_kv=True)
        assert deleted.deleted == 1
        assert [(kv.key, kv.value) for kv in deleted.prev_kvs] == [("k", b"new")]

    # ------------------------------------------------------------------ deletes

    def test_delete_returns_number_deleted(self, store: BaseStore) -> None:
        store.put("k", b"v")
        assert store.delete("k") == 1
        assert store.delete("k") == 0
        assert not store.exists("k")

    def test_delete_prefix_deletes_only_the_prefix(self, store: BaseStore) -> None:
        self._seed_prefixes(store)
        assert store.delete_prefix("p/") == 3
        assert store.list("") == ["p", "p0", "q"]
        assert store.delete_prefix("p/") == 0

    def test_delete_prefix_empty_needs_allow_all(self, store: BaseStore) -> None:
        self._seed_prefixes(store)
        before = snapshot(store)
        with pytest.raises(InvalidArgumentError) as info:
            store.delete_prefix("")
        assert isinstance(info.value, ValueError)
        assert snapshot(store) == before
        assert store.delete_prefix("", allow_all=True) == 6
        assert store.count("") == 0

    def test_delete_range_primitive(self, store: BaseStore) -> None:
        store.bulk_put({"a": b"", "b": b"", "c": b"", "d": b""})
        assert store.kv_delete_range("b", "d").deleted == 2
        assert store.list("") == ["a", "d"]

    # ------------------------------------------------------------------ conditional writes

    def test_put_if_not_exists(self, store: BaseStore) -> None:
        assert store.put_if_not_exists("k", b"1") is True
        before = snapshot(store)
        assert store.put_if_not_exists("k", b"2") is False
        assert snapshot(store) == before
        assert store.get("k") == b"1"

    def test_compare_and_swap(self, store: BaseStore) -> None:
        store.put("k", b"old")
        assert store.compare_and_swap("k", b"old", b"new") is True
        assert store.get("k") == b"new"
        before = snapshot(store)
        assert store.compare_and_swap("k", b"old", b"newer") is False
        assert store.compare_and_swap("missing", b"old", b"new") is False
        assert snapshot(store) == before

    def test_compare_and_swap_is_one_write(self, store: BaseStore) -> None:
        store.put("k", b"old")
        before = current_revision(store)
        store.compare_and_swap("k", b"old", b"new")
        assert current_revision(store) == before + 1

    def test_compare_and_swap_keeps_the_lease(self, store: BaseStore) -> None:
        requires(store, "leases")
        lease = store.lease(60)
        store.put("k", b"old", lease=lease)
        assert store.compare_and_swap("k", b"old", b"new") is True
        kv = store.get_kv("k")
        assert kv is not None and kv.value == b"new" and kv.lease == lease.id

    def test_primitives_take_request_objects(self, store: BaseStore) -> None:
        put = store.kv_put(Put("r/a", b"1"))
        assert store.kv_range(Get("r/a")).kvs[0].mod_revision == put.revision
        result = store.kv_txn(Txn([Version("r/a") == 1], [Put("r/b", b"2")], []))
        assert result.succeeded and store.get("r/b") == b"2"
        assert store.kv_range(Get.prefix("r/")).count == 2
        assert store.kv_delete_range(Delete.prefix("r/")).deleted == 2

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
    def test_request_with_arguments_is_refused(
        self, store: BaseStore, call: Callable[[BaseStore], object]
    ) -> None:
        before = snapshot(store)
        with pytest.raises(InvalidArgumentError):
            settle(call(store))
        assert snapshot(store) == before

    def test_put_ignore_lease_keeps_the_lease(self, store: BaseStore) -> None:
        requires(store, "leases")
        lease = store.lease(60)
        store.put("k", b"1", lease=lease)
        store.kv_put(Put("k", b"2", ignore_lease=True))
        kv = store.get_kv("k")
        assert kv is not None and kv.value == b"2" and kv.lease == lease.id
        before = snapshot(store)
        with pytest.raises(KeyNotFoundError):
            store.kv_put(Put("missing", b"v", ignore_lease=True))
        with pytest.raises(InvalidArgumentError):
            Put("k", b"v", lease=lease.id, ignore_lease=True)
        assert snapshot(store) == before

    def test_move_key_moves_value_in_one_revision(self, store: BaseStore) -> None:
        store.put("old", b"v")
        before = current_revision(store)
        store.move_key("old", "new")
        assert current_revision(store) == before + 1
        assert store.get("new") == b"v"
        assert not store.exists("old")
        kv = store.get_kv("new")
        assert kv is not None
        assert kv.mod_revision == kv.create_revision == before + 1

    def test_move_key_overwrites_by_default(self, store: BaseStore) -> None:
        store.put("old", b"moved")
        store.put("new", b"replaced")
        store.move_key("old", "new")
        assert store.get("new") == b"moved"
        assert not store.exists("old")

    def test_move_key_missing_source_raises_and_changes_nothing(self, store: BaseStore) -> None:
        store.put("new", b"v")
        before = snapshot(store)
        with pytest.raises(KeyNotFoundError):
            store.move_key("missing", "new")
        assert snapshot(store) == before

    def test_move_key_no_overwrite_raises_key_exists(self, store: BaseStore) -> None:
        store.put("old", b"1")
        store.put("new", b"2")
        before = snapshot(store)
        with pytest.raises(KeyExistsError):
            store.move_key("old", "new", overwrite=False)
        assert snapshot(store) == before

    def test_move_key_no_overwrite_to_free_target(self, store: BaseStore) -> None:
        store.put("old", b"1")
        store.move_key("old", "new", overwrite=False)
        assert store.get_multiple("") == {"new": b"1"}

    # ------------------------------------------------------------------ bulk operations

    def test_bulk_put_is_one_revision(self, store: BaseStore) -> None:
        before = current_revision(store)
        mapping = {f"bulk/{index:03d}": str(index).encode() for index in range(store.max_txn_ops)}
        revision = store.bulk_put(mapping)
        assert revision == before + 1
        assert store.get_multiple("bulk/") == mapping
        mod_revisions = {kv.mod_revision for kv in snapshot(store).kvs}
        assert mod_revisions == {revision}

    def test_bulk_put_empty_returns_current_revision(self, store: BaseStore) -> None:
        revision = store.put("k", b"v")
        assert store.bulk_put({}) == revision
        assert current_revision(store) == revision

    def test_bulk_put_over_the_limit_is_refused_and_stores_nothing(self, store: BaseStore) -> None:
        store.put("existing", b"v")
        before = snapshot(store)
        mapping = {f"bulk/{index:03d}": b"v" for index in range(store.max_txn_ops + 1)}
        with pytest.raises(TransactionTooLargeError):
            store.bulk_put(mapping)
        assert snapshot(store) == before

    def test_bulk_put_non_atomic_chunks(self, store: BaseStore) -> None:
        before = current_revision(store)
        size = store.max_txn_ops
        mapping = {f"bulk/{index:04d}": b"v" for index in range(2 * size + 1)}
        revision = store.bulk_put(mapping, atomic=False)
        assert revision == before + 3
        assert store.count("bulk/") == 2 * size + 1

    def test_bulk_put_non_atomic_splits_by_request_size(self, store: BaseStore) -> None:
        value = b"x" * 100_000
        mapping = {f"big/{index:02d}": value for index in range(20)}  # 2 MB in all
        with pytest.raises(ValueTooLargeError):
            store.bulk_put(mapping)
        before = current_revision(store)
        revision = store.bulk_put(mapping, atomic=False)
        assert revision - before >= 2
        assert store.get_multiple("big/") == mapping

    def test_keep_alive_takes_a_lease_id(self, store: BaseStore) -> None:
        requires(store, "leases")
        lease = store.lease(30)
        keepalive = store.keep_alive(lease.id)
        try:
            assert keepalive.lease.id == lease.id
            assert keepalive.lease.ttl == lease.ttl
        finally:
            keepalive.stop()
            lease.revoke()

    def test_bulk_delete(self, store: BaseStore) -> None:
        store.bulk_put({"a": b"", "b": b"", "c": b""})
        before = current_revision(store)
        assert store.bulk_delete(["a", "b", "missing"]) == 2
        assert current_revision(store) == before + 1
        assert store.list("") == ["c"]
        assert store.bulk_delete([]) == 0

    def test_bulk_delete_over_the_limit_is_refused(self, store: BaseStore) -> None:
        keys = [f"bulk/{index:03d}" for index in range(store.max_txn_ops + 1)]
        store.bulk_put(dict.fromkeys(keys[: store.max_txn_ops], b"v"))
        before = snapshot(store)
        with pytest.raises(TransactionTooLargeError):
            store.bulk_delete(keys)
        assert snapshot(store) == before
        assert store.bulk_delete(keys, atomic=False) == store.max_txn_ops
        assert store.count("bulk/") == 0

    # ------------------------------------------------------------------ revisions

    def test_each_write_bumps_the_revision_by_one(self, store: BaseStore) -> None:
        start = current_revision(store)
        assert store.put("a", b"1") == start + 1
        assert store.put("a", b"2") == start + 2
        assert store.put("b", b"1") == start + 3
        store.delete("a")
        assert current_revision(store) == start + 4
        store.delete_prefix("b")
        assert current_revision(store) == start + 5

    def test_reads_do_not_bump_the_revision(self, store: BaseStore) -> None:
        revision = store.put("a", b"1")
        store.get("a")
        store.get_kv("a")
        store.exists("a")
        store.count("")
        store.list("")
        store.get_multiple("")
        store.get_range("a", "z")
        assert current_revision(store) == revision

    def test_deleting_missing_keys_does_not_bump_the_revision(self, store: BaseStore) -> None:
        revision = store.put("a", b"1")
        assert store.delete("missing") == 0
        assert store.delete_prefix("missing/") == 0
        assert store.bulk_delete(["x", "y"]) == 0
        assert current_revision(store) == revision

    def test_a_multi_write_txn_gets_one_revision(self, store: BaseStore) -> None:
        start = current_revision(store)
        result = store.kv_txn([], [Put("a", b"1"), Put("b", b"2"), Get("a")], [])
        assert result.revision == start + 1
        a, b = store.get_kv("a"), store.get_kv("b")
        assert a is not None and b is not None
        assert a.mod_revision == b.mod_revision == start + 1

    def test_a_txn_that_writes_nothing_does_not_bump(self, store: BaseStore) -> None:
        revision = store.put("a", b"1")
        assert store.kv_txn([], [Get("a")], []).revision == revision
        assert current_revision(store) == revision
