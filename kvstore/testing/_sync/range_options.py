# Generated from kvstore/testing/_async/range_options.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``RangeOptionsConformance``: sorted range reads and create-revision bounds, as etcd.

etcd (checked on 3.4.23 and 3.5.1) counts the range first, then drops the keys outside the
create-revision bounds, sorts, and cuts at ``limit``: ``count`` ignores the bounds,
``more`` does not, and a count-only read ignores the bounds. With a sort target other
than the key and no order, it sorts ascending; but then, with a ``limit`` and no bound,
it reads only the first ``limit + 1`` keys by key and sorts just those. The order among
keys that tie on the sort target is not promised, so these tests never depend on it.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from kvstore._sync.base import BaseStore
from kvstore.errors import InvalidArgumentError, UnsupportedOperationError
from kvstore.keys import prefix_range_end
from kvstore.testing._sync._support import ConformanceBase, requires, snapshot
from kvstore.txn import Get, Put
from kvstore.types import Capability, KeyValue, RangeResult, SortOrder, SortTarget

__all__ = ["RangeOptionsConformance"]

_END = prefix_range_end("p/")

_FIELDS = {
    SortTarget.KEY: "key",
    SortTarget.VERSION: "version",
    SortTarget.CREATE: "create_revision",
    SortTarget.MOD: "mod_revision",
    SortTarget.VALUE: "value",
}


@attrs.frozen
class _Seed:
    """Revisions of the seeded keys (``p/c`` created first, then ``p/a``, ``p/b``, ``p/d``)."""

    created: dict[str, int]
    last: int


def _seed(store: BaseStore) -> _Seed:
    """Keys whose create, mod and key orders all differ; values in another order again."""
    created = {"p/c": store.put("p/c", b"3"), "p/a": store.put("p/a", b"9")}
    created["p/b"] = store.put("p/b", b"1")
    store.put("p/a", b"0")
    created["p/d"] = store.put("p/d", b"5")
    last = store.put("p/d", b"7")
    return _Seed(created, last)


def _keys(result: RangeResult) -> list[str]:
    return [kv.key for kv in result.kvs]


def _field(kv: KeyValue, target: SortTarget) -> Any:
    value = getattr(kv, _FIELDS[target])
    return value.encode() if isinstance(value, str) else value


class RangeOptionsConformance(ConformanceBase):
    """``sort_target`` / ``sort_order`` and ``min_`` / ``max_create_revision`` of range reads.

    Attributes:
        value_sort: False for stores that refuse ``SortTarget.VALUE`` (``EncryptedStore``:
            the server would sort ciphertexts). Then a test checks the refusal instead.
    """

    value_sort: bool = True

    def _targets(self) -> list[SortTarget]:
        return [t for t in SortTarget if self.value_sort or t is not SortTarget.VALUE]

    def test_every_target_and_order_sorts_the_whole_range(self, store: BaseStore) -> None:
        _seed(store)
        for target in self._targets():
            for order in (SortOrder.ASCEND, SortOrder.DESCEND):
                result = store.kv_range("p/", _END, sort_target=target, sort_order=order)
                assert sorted(_keys(result)) == ["p/a", "p/b", "p/c", "p/d"]
                fields = [_field(kv, target) for kv in result.kvs]
                expected = sorted(fields, reverse=order is SortOrder.DESCEND)
                assert fields == expected, (target, order)
                assert (result.count, result.more) == (4, False)

    def test_sort_by_create_and_mod_revision(self, store: BaseStore) -> None:
        _seed(store)

        def keys(target: SortTarget, order: SortOrder) -> list[str]:
            return _keys(store.kv_range("p/", _END, sort_target=target, sort_order=order))

        assert keys(SortTarget.CREATE, SortOrder.ASCEND) == ["p/c", "p/a", "p/b", "p/d"]
        assert keys(SortTarget.CREATE, SortOrder.DESCEND) == ["p/d", "p/b", "p/a", "p/c"]
        assert keys(SortTarget.MOD, SortOrder.ASCEND) == ["p/c", "p/b", "p/a", "p/d"]
        assert keys(SortTarget.MOD, SortOrder.DESCEND) == ["p/d", "p/a", "p/b", "p/c"]
        assert keys(SortTarget.KEY, SortOrder.DESCEND) == ["p/d", "p/c", "p/b", "p/a"]

    def test_no_order_is_key_order_for_the_key_and_ascending_for_other_targets(
        self, store: BaseStore
    ) -> None:
        _seed(store)
        by_key = ["p/a", "p/b", "p/c", "p/d"]
        assert _keys(store.kv_range("p/", _END, sort_order=SortOrder.NONE)) == by_key
        assert _keys(store.kv_range("p/", _END, sort_target=SortTarget.KEY)) == by_key
        assert _keys(store.kv_range("p/", _END, sort_order=SortOrder.ASCEND)) == by_key
        by_create = ["p/c", "p/a", "p/b", "p/d"]
        assert _keys(store.kv_range("p/", _END, sort_target=SortTarget.CREATE)) == by_create
        result = store.kv_range(
            "p/", _END, sort_target=SortTarget.CREATE, sort_order=SortOrder.NONE
        )
        assert _keys(result) == by_create

    def test_sort_applies_before_limit(self, store: BaseStore) -> None:
        _seed(store)
        oldest = store.kv_range(
            "p/", _END, sort_target=SortTarget.CREATE, sort_order=SortOrder.ASCEND, limit=1
        )
        assert (_keys(oldest), oldest.count, oldest.more) == (["p/c"], 4, True)
        newest = store.kv_range(
            "p/", _END, sort_target=SortTarget.MOD, sort_order=SortOrder.DESCEND, limit=2
        )
        assert (_keys(newest), newest.count, newest.more) == (["p/d", "p/a"], 4, True)
        assert newest.kvs[0].value == b"7"

    def test_a_target_without_order_sorts_only_the_first_limit_plus_one_keys(
        self, store: BaseStore
    ) -> None:
        _seed(store)
        # by key: p/a p/b p/c p/d; by create: p/c p/a p/b p/d
        for limit, expected in ((1, ["p/a"]), (2, ["p/c", "p/a"]), (3, ["p/c", "p/a", "p/b"])):
            result = store.kv_range("p/", _END, sort_target=SortTarget.CREATE, limit=limit)
            assert (_keys(result), result.count, result.more) == (expected, 4, True)
        bounded = store.kv_range(
            "p/", _END, sort_target=SortTarget.CREATE, limit=1, min_create_revision=1
        )
        assert _keys(bounded) == ["p/c"]
        if Capability.TXN in store.capabilities:
            get = Get("p/", _END, limit=1, sort_target=SortTarget.CREATE)
            (read,) = store.kv_txn([], [get], []).responses
            assert isinstance(read, RangeResult)
            assert _keys(read) == ["p/a"]

    def test_create_revision_bounds_filter_before_limit_and_not_the_count(
        self, store: BaseStore
    ) -> None:
        seed = _seed(store)
        b = seed.created["p/b"]
        up_to_b = store.kv_range("p/", _END, max_create_revision=b)
        assert (_keys(up_to_b), up_to_b.count, up_to_b.more) == (["p/a", "p/b", "p/c"], 4, False)
        cut = store.kv_range("p/", _END, max_create_revision=b, limit=2)
        assert (_keys(cut), cut.count, cut.more) == (["p/a", "p/b"], 4, True)
        exact = store.kv_range("p/", _END, max_create_revision=b, limit=3)
        assert (_keys(exact), exact.count, exact.more) == (["p/a", "p/b", "p/c"], 4, False)
        from_b = store.kv_range("p/", _END, min_create_revision=b)
        assert (_keys(from_b), from_b.count) == (["p/b", "p/d"], 4)
        window = store.kv_range(
            "p/", _END, min_create_revision=seed.created["p/a"], max_create_revision=b
        )
        assert _keys(window) == ["p/a", "p/b"]
        before_all = store.kv_range(
            "p/", _END, max_create_revision=seed.created["p/c"] - 1, limit=1
        )
        assert (before_all.kvs, before_all.count, before_all.more) == ((), 4, False)
        empty_window = store.kv_range("p/", _END, min_create_revision=b + 1, max_create_revision=b)
        assert (empty_window.kvs, empty_window.count) == ((), 4)

    def test_count_only_ignores_the_bounds(self, store: BaseStore) -> None:
        seed = _seed(store)
        result = store.kv_range(
            "p/", _END, count_only=True, max_create_revision=seed.created["p/c"]
        )
        assert (result.kvs, result.count, result.more) == ((), 4, False)

    def test_one_key_outside_the_bounds_is_counted_not_returned(self, store: BaseStore) -> None:
        seed = _seed(store)
        result = store.kv_range("p/d", max_create_revision=seed.created["p/d"] - 1)
        assert (result.kvs, result.count) == ((), 1)
        result = store.kv_range("p/d", min_create_revision=seed.created["p/d"])
        assert _keys(result) == ["p/d"]

    def test_oldest_and_predecessor_reads_of_a_waiter_queue(self, store: BaseStore) -> None:
        """The two reads of the lock recipe: the oldest key, and the newest one before mine."""
        seed = _seed(store)
        oldest = store.kv_range(
            "p/",
            _END,
            sort_target=SortTarget.CREATE,
            sort_order=SortOrder.ASCEND,
            limit=1,
            keys_only=True,
        )
        assert [(kv.key, kv.value) for kv in oldest.kvs] == [("p/c", b"")]
        for key, before in (("p/d", "p/b"), ("p/b", "p/a"), ("p/a", "p/c")):
            predecessor = store.kv_range(
                "p/",
                _END,
                max_create_revision=seed.created[key] - 1,
                sort_target=SortTarget.CREATE,
                sort_order=SortOrder.DESCEND,
                limit=1,
                keys_only=True,
            )
            assert _keys(predecessor) == [before]
            assert predecessor.kvs[0].value == b""
        first = store.kv_range(
            "p/",
            _END,
            max_create_revision=seed.created["p/c"] - 1,
            sort_target=SortTarget.CREATE,
            sort_order=SortOrder.DESCEND,
            limit=1,
        )
        assert (first.kvs, first.more) == ((), False)

    def test_sort_and_bounds_at_a_past_revision(self, store: BaseStore) -> None:
        requires(store, Capability.HISTORY)
        seed = _seed(store)
        at_b = seed.created["p/b"]
        result = store.kv_range(
            "p/", _END, revision=at_b, sort_target=SortTarget.CREATE, sort_order=SortOrder.DESCEND
        )
        assert (_keys(result), result.count) == (["p/b", "p/a", "p/c"], 3)
        assert result.kvs[1].value == b"9"
        bounded = store.kv_range("p/", _END, revision=at_b, max_create_revision=at_b - 1)
        assert (_keys(bounded), bounded.count) == (["p/a", "p/c"], 3)

    def test_txn_get_sorts_and_bounds(self, store: BaseStore) -> None:
        requires(store, Capability.TXN)
        seed = _seed(store)
        get = Get(
            "p/",
            _END,
            limit=1,
            sort_target=SortTarget.CREATE,
            sort_order=SortOrder.DESCEND,
            max_create_revision=seed.created["p/d"] - 1,
        )
        result = store.kv_txn([], [Put("other", b"x"), get], [])
        read = result.responses[1]
        assert isinstance(read, RangeResult)
        assert (_keys(read), read.count, read.more) == (["p/b"], 4, True)
        assert read.kvs[0].value == b"1"
        oldest = Get.prefix(
            "p/", sort_target=SortTarget.CREATE, sort_order=SortOrder.ASCEND, limit=1
        )
        (first,) = store.kv_txn([], [oldest], []).responses
        assert isinstance(first, RangeResult)
        assert _keys(first) == ["p/c"]

    @pytest.mark.parametrize(
        "options",
        [
            {"sort_target": "create_revision"},
            {"sort_target": 2},
            {"sort_order": "descend"},
            {"sort_order": 2},
            {"sort_order": SortTarget.KEY},
            {"max_create_revision": -1},
            {"min_create_revision": -1},
            {"max_create_revision": "3"},
            {"min_create_revision": True},
        ],
        ids=repr,
    )
    def test_bad_range_options_raise_invalid_argument(
        self, store: BaseStore, options: dict[str, Any]
    ) -> None:
        _seed(store)
        before = snapshot(store)
        with pytest.raises(InvalidArgumentError):
            store.kv_range("p/", _END, **options)
        with pytest.raises(InvalidArgumentError):
            Get("p/", _END, **options)
        assert snapshot(store) == before

    def test_value_sort(self, store: BaseStore) -> None:
        _seed(store)
        if not self.value_sort:
            pytest.skip("the store refuses value sorts; test_value_sort_is_refused checks it")
        ascending = store.kv_range("p/", _END, sort_target=SortTarget.VALUE)
        assert [kv.value for kv in ascending.kvs] == [b"0", b"1", b"3", b"7"]
        descending = store.kv_range(
            "p/", _END, sort_target=SortTarget.VALUE, sort_order=SortOrder.DESCEND, keys_only=True
        )
        assert [(kv.key, kv.value) for kv in descending.kvs] == [
            ("p/d", b""),
            ("p/c", b""),
            ("p/b", b""),
            ("p/a", b""),
        ]

    def test_value_sort_is_refused(self, store: BaseStore) -> None:
        if self.value_sort:
            pytest.skip("the store sorts by value; test_value_sort checks it")
        _seed(store)
        before = snapshot(store)
        with pytest.raises(UnsupportedOperationError):
            store.kv_range("p/", _END, sort_target=SortTarget.VALUE)
        if Capability.TXN in store.capabilities:
            get = Get.prefix("p/", sort_target=SortTarget.VALUE)
            with pytest.raises(UnsupportedOperationError):
                store.kv_txn([], [Put("p/new", b"x"), get], [])
        assert snapshot(store) == before
