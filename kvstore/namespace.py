"""``NamespacedStore``: confine a store to the keys under one prefix.

Every key, range end, compare and operation gets the prefix; results and watch events
have it stripped, the way Go's ``clientv3/namespace`` does. Leases are not namespaced.
Only the primitives that carry keys are overridden; every convenience follows.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from kvstore.base import BaseStore, WrapperStore
from kvstore.errors import ConfigurationError
from kvstore.keys import ALL_KEYS, check_key, check_range, prefix_range_end
from kvstore.txn import Compare, Delete, Get, Op, Put, Txn
from kvstore.types import (
    DeleteResult,
    KeyValue,
    LeaseInfo,
    OpResult,
    PutResult,
    RangeResult,
    SortOrder,
    SortTarget,
    TxnResult,
    WatchEvent,
)
from kvstore.watch import MappedWatch, Watch

__all__ = ["NamespacedStore"]


class NamespacedStore(WrapperStore):
    """A store that sees only the keys of ``inner`` under ``prefix``, without the prefix.

    Args:
        inner: The store to wrap.
        prefix: The namespace, for example ``"app1/"``; must not be empty.

    Raises:
        ConfigurationError: ``prefix`` is empty or not a ``str``.
    """

    def __init__(self, inner: BaseStore, prefix: str) -> None:
        if not isinstance(prefix, str) or not prefix:
            raise ConfigurationError("NamespacedStore: the prefix must be a non-empty str")
        super().__init__(inner)
        self.prefix = prefix
        self._prefix_end = prefix_range_end(prefix)

    def __repr__(self) -> str:
        return f"NamespacedStore({self.inner!r}, prefix={self.prefix!r})"

    # -- key mapping

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _range(self, key: str, range_end: str | None) -> tuple[str, str | None]:
        if range_end is None:
            return self.prefix + key, None
        if range_end == ALL_KEYS:
            return self.prefix + key, self._prefix_end
        return self.prefix + key, self.prefix + range_end

    def _strip(self, kv: KeyValue) -> KeyValue:
        return attrs.evolve(kv, key=kv.key[len(self.prefix) :])

    def _strip_optional(self, kv: KeyValue | None) -> KeyValue | None:
        return None if kv is None else self._strip(kv)

    def _compare(self, compare: Compare) -> Compare:
        key, range_end = self._range(compare.key, compare.range_end)
        return attrs.evolve(compare, key=key, range_end=range_end)

    def _op(self, op: Op) -> Op:
        if isinstance(op, Put):
            return attrs.evolve(op, key=self._key(op.key))
        if isinstance(op, (Get, Delete)):
            key, range_end = self._range(op.key, op.range_end)
            return attrs.evolve(op, key=key, range_end=range_end)
        return Txn(
            [self._compare(c) for c in op.compares],
            [self._op(o) for o in op.success],
            [self._op(o) for o in op.failure],
        )

    def _result(self, result: OpResult) -> OpResult:
        if isinstance(result, RangeResult):
            return attrs.evolve(result, kvs=tuple(self._strip(kv) for kv in result.kvs))
        if isinstance(result, PutResult):
            return attrs.evolve(result, prev_kv=self._strip_optional(result.prev_kv))
        if isinstance(result, DeleteResult):
            return attrs.evolve(result, prev_kvs=tuple(self._strip(kv) for kv in result.prev_kvs))
        return attrs.evolve(result, responses=tuple(self._result(r) for r in result.responses))

    def _event(self, event: WatchEvent) -> WatchEvent:
        return WatchEvent(event.type, self._strip(event.kv), self._strip_optional(event.prev_kv))

    # -- primitives that carry keys

    def kv_range(
        self,
        key: str,
        range_end: str | None = None,
        *,
        revision: int | None = None,
        limit: int = 0,
        keys_only: bool = False,
        count_only: bool = False,
        sort_target: SortTarget | None = None,
        sort_order: SortOrder | None = None,
        min_create_revision: int = 0,
        max_create_revision: int = 0,
    ) -> RangeResult:
        self._check_open("range")
        check_range(key, range_end, operation="range", revision=revision, limit=limit)
        start, end = self._range(key, range_end)
        result = self.inner.kv_range(
            start,
            end,
            revision=revision,
            limit=limit,
            keys_only=keys_only,
            count_only=count_only,
            sort_target=sort_target,
            sort_order=sort_order,
            min_create_revision=min_create_revision,
            max_create_revision=max_create_revision,
        )
        return attrs.evolve(result, kvs=tuple(self._strip(kv) for kv in result.kvs))

    def kv_put(
        self, key: str, value: bytes, *, lease: int | None = None, prev_kv: bool = False
    ) -> PutResult:
        self._check_open("put")
        check_key(key, operation="put")
        result = self.inner.kv_put(self._key(key), value, lease=lease, prev_kv=prev_kv)
        return attrs.evolve(result, prev_kv=self._strip_optional(result.prev_kv))

    def kv_delete_range(
        self, key: str, range_end: str | None = None, *, prev_kv: bool = False
    ) -> DeleteResult:
        self._check_open("delete")
        check_range(key, range_end, operation="delete")
        start, end = self._range(key, range_end)
        result = self.inner.kv_delete_range(start, end, prev_kv=prev_kv)
        return attrs.evolve(result, prev_kvs=tuple(self._strip(kv) for kv in result.prev_kvs))

    def kv_txn(
        self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op]
    ) -> TxnResult:
        self._check_open("txn")
        result = self.inner.kv_txn(
            [self._compare(c) for c in compares],
            [self._op(o) for o in success],
            [self._op(o) for o in failure],
        )
        stripped = self._result(result)
        assert isinstance(stripped, TxnResult)
        return stripped

    def watch_range(
        self,
        key: str,
        range_end: str | None = None,
        *,
        start_revision: int | None = None,
        prev_kv: bool = False,
    ) -> Watch:
        self._check_open("watch")
        check_range(key, range_end, operation="watch", revision=start_revision)
        start, end = self._range(key, range_end)
        inner = self.inner.watch_range(start, end, start_revision=start_revision, prev_kv=prev_kv)
        return MappedWatch(inner, self._event)

    def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo:
        info = self.inner.lease_time_to_live(lease_id, keys=keys)
        mine = tuple(k[len(self.prefix) :] for k in info.keys if k.startswith(self.prefix))
        return attrs.evolve(info, keys=mine)
