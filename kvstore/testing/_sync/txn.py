# Generated from kvstore/testing/_async/txn.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``TxnConformance``: compares, operations, nesting, responses and etcd's txn limits."""

from __future__ import annotations

import pytest

from kvstore._sync.base import BaseStore
from kvstore.errors import (
    DuplicateKeyError,
    InvalidArgumentError,
    KeyNotFoundError,
    LeaseNotFoundError,
    TransactionError,
    TransactionTooLargeError,
    UnsupportedCompareError,
)
from kvstore.testing._sync._support import (
    ConformanceBase,
    current_revision,
    requires,
    snapshot,
)
from kvstore.testing._sync.lease import UNKNOWN_LEASE_ID
from kvstore.txn import (
    Compare,
    CreateRevision,
    Delete,
    Get,
    ModRevision,
    Op,
    Put,
    Txn,
    Value,
    Version,
)
from kvstore.types import DeleteResult, PutResult, RangeResult, TxnResult

__all__ = ["TxnConformance"]

# (compare, expected) on a key "k" holding b"m": every operator on both sides of the value
_VALUE_CASES = [
    ("eq-true", Value("k") == b"m", True),
    ("eq-false", Value("k") == b"x", False),
    ("ne-true", Value("k") != b"x", True),
    ("ne-false", Value("k") != b"m", False),
    ("lt-true", Value("k") < b"n", True),
    ("lt-false", Value("k") < b"m", False),
    ("gt-true", Value("k") > b"a", True),
    ("gt-false", Value("k") > b"m", False),
    ("gt-longer", Value("k") > b"", True),
    ("lt-prefix", Value("k") < b"mm", True),
]


class TxnConformance(ConformanceBase):
    """Transactions as etcd applies them: atomically, at one revision, within limits."""

    def requires_value_compares(self) -> None:
        """Skip the calling test when the store refuses ``Value`` compares."""
        if not self.value_compares:
            pytest.skip(
                "the store refuses Value compares (value_compares = False); "
                "test_value_compare_is_refused_and_changes_nothing checks the refusal"
            )

    @pytest.mark.parametrize(
        ("compare", "expected"),
        [case[1:] for case in _VALUE_CASES],
        ids=[case[0] for case in _VALUE_CASES],
    )
    def test_value_compares(self, store: BaseStore, compare: Compare, expected: bool) -> None:
        self.requires_value_compares()
        store.put("k", b"m")
        result = store.transaction().if_(compare).then(Put("r", b"then")).else_(Put("r", b"else"))
        assert result.commit().succeeded is expected
        assert store.get("r") == (b"then" if expected else b"else")

    def test_int_compares_on_version_create_mod(self, store: BaseStore) -> None:
        create = store.put("k", b"1")
        mod = store.put("k", b"2")
        cases: list[tuple[Compare, bool]] = [
            (Version("k") == 2, True),
            (Version("k") != 2, False),
            (Version("k") < 3, True),
            (Version("k") > 2, False),
            (CreateRevision("k") == create, True),
            (CreateRevision("k") < create, False),
            (CreateRevision("k") > create - 1, True),
            (CreateRevision("k") != create, False),
            (ModRevision("k") == mod, True),
            (ModRevision("k") == create, False),
            (ModRevision("k") > create, True),
            (ModRevision("k") < mod, False),
        ]
        for compare, expected in cases:
            assert store.kv_txn([compare], [], []).succeeded is expected, compare

    def test_compares_on_a_missing_key(self, store: BaseStore) -> None:
        self.requires_value_compares()
        # etcd compares a missing key's version / revisions / lease as 0, and fails
        # every value compare on it (there is no value to compare)
        cases: list[tuple[Compare, bool]] = [
            (Version("missing") == 0, True),
            (CreateRevision("missing") == 0, True),
            (ModRevision("missing") == 0, True),
            (Version("missing") > 0, False),
            (Value("missing") == b"", False),
            (Value("missing") != b"x", False),
        ]
        for compare, expected in cases:
            assert store.kv_txn([compare], [], []).succeeded is expected, compare

    def test_all_compares_must_hold(self, store: BaseStore) -> None:
        self.requires_value_compares()
        store.put("a", b"1")
        store.put("b", b"2")
        assert store.kv_txn([Value("a") == b"1", Value("b") == b"2"], [], []).succeeded
        assert not store.kv_txn([Value("a") == b"1", Value("b") == b"x"], [], []).succeeded

    def test_prefix_compare_holds_for_every_key(self, store: BaseStore) -> None:
        self.requires_value_compares()
        store.bulk_put({"p/a": b"1", "p/b": b"1", "q": b"2"})
        assert store.kv_txn([Value("p/", prefix=True) == b"1"], [], []).succeeded
        store.put("p/c", b"3")
        assert not store.kv_txn([Value("p/", prefix=True) == b"1"], [], []).succeeded
        assert store.kv_txn([Version("p/", prefix=True) == 1], [], []).succeeded

    def test_then_branch_runs_and_reports_responses(self, store: BaseStore) -> None:
        self.requires_value_compares()
        store.put("k", b"old")
        start = current_revision(store)
        result = (
            store.transaction()
            .if_(Value("k") == b"old")
            .then(Put("k", b"new"), Put("other", b"o"), Get("k"), Delete("gone"))
            .else_(Put("else", b"e"))
            .commit()
        )
        assert isinstance(result, TxnResult)
        assert result.succeeded is True
        assert result.revision == start + 1
        put_k, put_other, get_k, delete_gone = result.responses
        assert isinstance(put_k, PutResult)
        assert isinstance(put_other, PutResult)
        assert isinstance(get_k, RangeResult)
        assert [(kv.key, kv.value, kv.mod_revision) for kv in get_k.kvs] == [
            ("k", b"new", start + 1)
        ]
        assert isinstance(delete_gone, DeleteResult)
        assert delete_gone.deleted == 0
        assert store.get_multiple("") == {"k": b"new", "other": b"o"}

    def test_else_branch_runs_when_a_compare_fails(self, store: BaseStore) -> None:
        self.requires_value_compares()
        store.put("k", b"current")
        result = (
            store.transaction()
            .if_(Value("k") == b"stale")
            .then(Put("k", b"then"))
            .else_(Get("k"), Put("else", b"e"))
            .commit()
        )
        assert result.succeeded is False
        got, put = result.responses
        assert isinstance(got, RangeResult)
        assert [kv.value for kv in got.kvs] == [b"current"]
        assert isinstance(put, PutResult)
        assert store.get_multiple("") == {"else": b"e", "k": b"current"}

    def test_failed_txn_with_empty_else_changes_nothing(self, store: BaseStore) -> None:
        self.requires_value_compares()
        store.put("k", b"v")
        before = snapshot(store)
        result = store.kv_txn([Value("k") == b"other"], [Put("k", b"x")], [])
        assert (result.succeeded, result.responses, result.revision) == (
            False,
            (),
            before.revision,
        )
        assert snapshot(store) == before

    def test_empty_txn_succeeds_without_a_revision(self, store: BaseStore) -> None:
        revision = store.put("k", b"v")
        result = store.kv_txn([], [], [])
        assert (result.succeeded, result.responses, result.revision) == (True, (), revision)

    def test_ops_see_earlier_writes_of_the_same_txn(self, store: BaseStore) -> None:
        store.put("a", b"old")
        result = store.kv_txn([], [Put("a", b"new"), Get("a"), Delete("b"), Get("b")], [])
        _, got_a, _, got_b = result.responses
        assert isinstance(got_a, RangeResult) and isinstance(got_b, RangeResult)
        assert [kv.value for kv in got_a.kvs] == [b"new"]
        assert got_b.kvs == ()

    def test_prefix_and_range_get_and_delete(self, store: BaseStore) -> None:
        store.bulk_put({"p/a": b"1", "p/b": b"2", "p0": b"x", "r/a": b"", "r/b": b"", "r/c": b""})
        result = store.kv_txn(
            [],
            [
                Get.prefix("p/"),
                Get("r/a", "r/c", count_only=True),
                Delete.prefix("p/", prev_kv=True),
                Delete("r/a", "r/c"),
            ],
            [],
        )
        get_prefix, count_range, delete_prefix, delete_range = result.responses
        assert isinstance(get_prefix, RangeResult) and isinstance(count_range, RangeResult)
        assert [(kv.key, kv.value) for kv in get_prefix.kvs] == [("p/a", b"1"), ("p/b", b"2")]
        assert count_range.count == 2
        assert isinstance(delete_prefix, DeleteResult) and isinstance(delete_range, DeleteResult)
        assert delete_prefix.deleted == 2
        assert [kv.key for kv in delete_prefix.prev_kvs] == ["p/a", "p/b"]
        assert delete_range.deleted == 2
        assert store.list("") == ["p0", "r/c"]

    def test_get_with_limit_and_keys_only_in_txn(self, store: BaseStore) -> None:
        store.bulk_put({"p/a": b"1", "p/b": b"2", "p/c": b"3"})
        get = Get.prefix("p/", limit=2, keys_only=True)
        (result,) = store.kv_txn([], [get], []).responses
        assert isinstance(result, RangeResult)
        assert [(kv.key, kv.value) for kv in result.kvs] == [("p/a", b""), ("p/b", b"")]
        assert (result.count, result.more) == (3, True)

    def test_put_prev_kv_in_txn(self, store: BaseStore) -> None:
        store.put("k", b"old")
        (put,) = store.kv_txn([], [Put("k", b"new", prev_kv=True)], []).responses
        assert isinstance(put, PutResult)
        assert put.prev_kv is not None and put.prev_kv.value == b"old"

    def test_delete_prefix_of_empty_string_is_refused(self, store: BaseStore) -> None:
        with pytest.raises(InvalidArgumentError):
            Delete.prefix("")

    def test_nested_txn(self, store: BaseStore) -> None:
        self.requires_value_compares()
        store.put("k", b"1")
        start = current_revision(store)
        result = store.kv_txn(
            [Version("k") == 1],
            [
                Put("outer", b"o"),
                Txn([Value("k") == b"nope"], [Put("inner-then", b"t")], [Put("inner-else", b"e")]),
                Txn([Value("k") == b"1"], [Get("k")], []),
            ],
            [],
        )
        assert result.succeeded
        assert result.revision == start + 1
        _, first, second = result.responses
        assert isinstance(first, TxnResult) and isinstance(second, TxnResult)
        assert first.succeeded is False
        assert [type(response) for response in first.responses] == [PutResult]
        assert second.succeeded is True
        (got,) = second.responses
        assert isinstance(got, RangeResult) and [kv.value for kv in got.kvs] == [b"1"]
        assert store.get_multiple("") == {"inner-else": b"e", "k": b"1", "outer": b"o"}
        kv = store.get_kv("inner-else")
        assert kv is not None and kv.mod_revision == start + 1

    def test_value_compare_is_refused_and_changes_nothing(self, store: BaseStore) -> None:
        if self.value_compares:
            pytest.skip("the store evaluates Value compares (test_value_compares checks them)")
        store.bulk_put({"k": b"v", "p/a": b"1"})
        before = snapshot(store)
        refused: list[tuple[list[Compare], list[Op], list[Op]]] = [
            ([Value("k") == b"v"], [Put("k", b"then")], [Put("k", b"else")]),
            ([Version("k") == 1, Value("k") != b"x"], [Put("k", b"then")], []),
            ([Value("p/", prefix=True) > b""], [Put("p/a", b"then")], []),
            ([Value("missing") == b""], [], [Put("missing", b"else")]),
            ([], [Put("o", b"o"), Txn([Value("k") == b"v"], [Put("i", b"i")], [])], []),
            # refused even in a branch that would not run, and nested two deep
            ([Version("k") == 0], [Txn([], [Txn([Value("k") < b"w"], [], [])], [])], []),
        ]
        for compares, success, failure in refused:
            with pytest.raises(UnsupportedCompareError) as info:
                store.kv_txn(compares, success, failure)
            assert isinstance(info.value, TransactionError)
        with pytest.raises(UnsupportedCompareError):
            store.transaction().if_(Value("k") == b"v").then(Put("k", b"then")).commit()
        assert snapshot(store) == before

    def test_too_many_ops_is_refused_and_changes_nothing(self, store: BaseStore) -> None:
        store.put("k", b"v")
        before = snapshot(store)
        too_many = [Put(f"t/{index:03d}", b"v") for index in range(store.max_txn_ops + 1)]
        with pytest.raises(TransactionTooLargeError) as info:
            store.kv_txn([], too_many, [])
        assert isinstance(info.value, TransactionError)
        with pytest.raises(TransactionTooLargeError):
            store.kv_txn([Version("k") == 1], [], too_many)
        compares = [Version(f"c/{index:03d}") == 0 for index in range(store.max_txn_ops + 1)]
        with pytest.raises(TransactionTooLargeError):
            store.kv_txn(compares, [], [])
        assert snapshot(store) == before

    def test_too_many_ops_in_a_nested_txn_is_refused(self, store: BaseStore) -> None:
        before = snapshot(store)
        inner = Txn([], [Put(f"t/{index:03d}", b"v") for index in range(store.max_txn_ops + 1)])
        with pytest.raises(TransactionTooLargeError):
            store.kv_txn([], [inner], [])
        assert snapshot(store) == before

    def test_max_txn_ops_is_accepted(self, store: BaseStore) -> None:
        ops = [Put(f"t/{index:03d}", b"v") for index in range(store.max_txn_ops)]
        assert store.kv_txn([], ops, []).succeeded
        assert store.count("t/") == store.max_txn_ops

    @pytest.mark.parametrize(
        "ops",
        [
            [Put("k", b"1"), Put("k", b"2")],
            [Put("k", b"1"), Delete("k")],
            [Delete("k"), Put("k", b"1")],
            [Delete.prefix("p/"), Put("p/x", b"1")],
            [Put("k", b"1"), Txn([], [Put("k", b"2")], [])],
        ],
        ids=["put-put", "put-delete", "delete-put", "delete-prefix-put", "nested-put"],
    )
    def test_duplicate_key_is_refused_and_changes_nothing(
        self, store: BaseStore, ops: list[Put | Delete | Txn]
    ) -> None:
        store.bulk_put({"k": b"0", "p/x": b"0"})
        before = snapshot(store)
        with pytest.raises(DuplicateKeyError) as info:
            store.kv_txn([], ops, [])
        assert isinstance(info.value, TransactionError)
        assert snapshot(store) == before

    def test_same_key_in_then_and_else_is_allowed(self, store: BaseStore) -> None:
        result = store.kv_txn(
            [],
            [Txn([Version("k") == 0], [Put("k", b"then")], [Put("k", b"else")])],
            [Put("k", b"outer-else")],
        )
        assert result.succeeded
        assert store.get("k") == b"then"

    def test_two_deletes_of_one_key_are_allowed(self, store: BaseStore) -> None:
        store.put("p/a", b"")
        result = store.kv_txn([], [Delete("p/a"), Delete.prefix("p/")], [])
        first, second = result.responses
        assert isinstance(first, DeleteResult) and isinstance(second, DeleteResult)
        assert (first.deleted, second.deleted) == (1, 0)

    def test_builder_rejects_non_compares_and_non_ops(self, store: BaseStore) -> None:
        with pytest.raises(InvalidArgumentError):
            store.transaction().if_(True)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError):
            store.transaction().then("put k")  # type: ignore[arg-type]

    def test_builder_accumulates_calls(self, store: BaseStore) -> None:
        self.requires_value_compares()
        store.put("a", b"1")
        result = (
            store.transaction()
            .if_(Value("a") == b"1")
            .if_(Version("b") == 0)
            .then(Put("b", b"2"))
            .then(Put("c", b"3"))
            .commit()
        )
        assert result.succeeded
        assert store.get_multiple("") == {"a": b"1", "b": b"2", "c": b"3"}

    def test_compare_on_int_target_needs_an_int(self, store: BaseStore) -> None:
        with pytest.raises(InvalidArgumentError):
            _ = Version("k") == b"1"
        with pytest.raises(InvalidArgumentError):
            _ = Value("k") == 1

    def test_per_op_revisions_inside_a_txn(self, store: BaseStore) -> None:
        # etcd's write txn: a delete reports the revision before the txn until the txn has
        # written (that delete included), every put the txn's revision, a read the
        # revision of its view, a nested txn the txn's revision
        start = current_revision(store)
        result = store.kv_txn(
            [],
            [Delete("missing"), Get("k"), Put("k", b"1"), Delete("missing"), Get("k"), Txn()],
            [],
        )
        assert result.revision == start + 1
        revisions = [response.revision for response in result.responses]
        assert revisions == [start, start, start + 1, start + 1, start + 1, start + 1]

    def test_a_read_at_the_revision_before_a_writing_txn_does_not_see_its_writes(
        self, store: BaseStore
    ) -> None:
        requires(store, "history")
        store.put("k", b"old")
        before = store.put("n", b"1")
        result = store.kv_txn(
            [],
            [
                Put("k", b"new"),
                Delete("n"),
                Get.prefix("", revision=before),
                Get.prefix(""),
                Get.prefix("", revision=before, count_only=True),
            ],
            [],
        )
        _, _, old, new, count = result.responses
        assert isinstance(old, RangeResult) and isinstance(new, RangeResult)
        assert isinstance(count, RangeResult)
        assert [(kv.key, kv.value) for kv in old.kvs] == [("k", b"old"), ("n", b"1")]
        assert (old.count, old.revision) == (2, before + 1)
        assert [(kv.key, kv.value) for kv in new.kvs] == [("k", b"new")]
        assert new.count == 1
        assert count.count == 2

    def test_puts_are_checked_before_reads(self, store: BaseStore) -> None:
        # etcd checks every put of the chosen branches (lease, ignore_lease) before any
        # read's revision, whatever their order: the put's error is the one raised
        requires(store, "leases", "history")
        first = store.put("k", b"1")
        second = store.put("k", b"2")
        store.compact_revision(second)
        before = snapshot(store)
        with pytest.raises(LeaseNotFoundError):
            store.kv_txn([], [Get("k", revision=first), Put("p", b"v", UNKNOWN_LEASE_ID)], [])
        with pytest.raises(KeyNotFoundError):
            store.kv_txn(
                [], [Get("k", revision=second + 5), Put("missing", b"v", ignore_lease=True)], []
            )
        assert snapshot(store) == before
