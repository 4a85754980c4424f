# Generated from kvstore/wrappers/_async/wrapper.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``WrapperStore``: a store that delegates every primitive to an inner store.

The base of every wrapper (``kvstore.wrappers``): a subclass overrides only the primitives
that carry keys or values; the mapping bases (``KeyMappingStore``,
``ValueMappingStore``) are two such subclasses.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from kvstore._sync.base import BaseStore
from kvstore._sync.watch import Watch
from kvstore.errors import ConfigurationError, KVStoreError
from kvstore.txn import Delete, Get, Put, Txn, WatchRequest
from kvstore.types import (
    AlarmInfo,
    DeleteResult,
    HashInfo,
    LeaseGrant,
    LeaseInfo,
    MemberInfo,
    PutResult,
    RangeResult,
    StatusInfo,
    TxnResult,
)

__all__ = ["WrapperStore"]


class WrapperStore(BaseStore):
    """A store that delegates every primitive to ``inner``; subclasses override the few
    that carry keys or values. Conveniences come from ``BaseStore``, so they all go
    through the overrides.

    Raises:
        ConfigurationError: ``inner`` is not a store.
    """

    def __init__(self, inner: BaseStore) -> None:
        if not isinstance(inner, BaseStore):
            raise ConfigurationError(
                f"{type(self).__name__}: inner must be a store, not {type(inner).__name__}"
            )
        super().__init__()
        self.inner = inner
        self.capabilities = inner.capabilities
        self.value_compares = inner.value_compares and type(self).value_compares
        self.max_txn_ops = inner.max_txn_ops
        self.max_request_bytes = inner.max_request_bytes
        self.range_page_size = inner.range_page_size

    def do_range(self, request: Get) -> RangeResult:
        return self.inner.do_range(request)

    def do_put(self, request: Put) -> PutResult:
        return self.inner.do_put(request)

    def do_delete_range(self, request: Delete) -> DeleteResult:
        return self.inner.do_delete_range(request)

    def do_txn(self, request: Txn) -> TxnResult:
        return self.inner.do_txn(request)

    def do_watch(self, request: WatchRequest) -> Watch:
        return self.inner.do_watch(request)

    def lease_grant(self, ttl: int) -> LeaseGrant:
        return self.inner.lease_grant(ttl)

    def lease_revoke(self, lease_id: int) -> None:
        self.inner.lease_revoke(lease_id)

    def lease_keepalive_once(self, lease_id: int) -> int:
        return self.inner.lease_keepalive_once(lease_id)

    def lease_keepalive_many(self, lease_ids: Sequence[int]) -> builtins.list[int | KVStoreError]:
        return self.inner.lease_keepalive_many(lease_ids)

    def lease_keepalive_idle(self) -> None:
        self.inner.lease_keepalive_idle()

    def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo:
        return self.inner.lease_time_to_live(lease_id, keys=keys)

    def lease_leases(self) -> builtins.list[int]:
        return self.inner.lease_leases()

    def compact_revision(self, revision: int, *, physical: bool = False) -> None:
        self.inner.compact_revision(revision, physical=physical)

    def status(self) -> StatusInfo:
        return self.inner.status()

    def member_list(self) -> builtins.list[MemberInfo]:
        return self.inner.member_list()

    def defragment(self) -> None:
        self.inner.defragment()

    def alarms(self) -> builtins.list[AlarmInfo]:
        return self.inner.alarms()

    def hash_kv(self, revision: int = 0) -> HashInfo:
        return self.inner.hash_kv(revision)

    def get_client(self) -> Any:
        return self.inner.get_client()

    def close(self) -> None:
        super().close()
        self.inner.close()

    @property
    def closed(self) -> bool:
        return self._closed or self.inner.closed

    def _check_open(self, operation: str) -> None:
        if self.inner.closed:
            self._closed = True
        super()._check_open(operation)
