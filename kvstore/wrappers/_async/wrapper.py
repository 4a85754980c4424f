"""``AsyncWrapperStore``: a store that delegates every primitive to an inner store.

The base of every wrapper (``kvstore.wrappers``): a subclass overrides only the primitives
that carry keys or values; the mapping bases (``AsyncKeyMappingStore``,
``AsyncValueMappingStore``) are two such subclasses.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from kvstore._async.base import AsyncBaseStore
from kvstore._async.watch import AsyncWatch
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

__all__ = ["AsyncWrapperStore"]


class AsyncWrapperStore(AsyncBaseStore):
    """A store that delegates every primitive to ``inner``; subclasses override the few
    that carry keys or values. Conveniences come from ``AsyncBaseStore``, so they all go
    through the overrides.

    Raises:
        ConfigurationError: ``inner`` is not a store.
    """

    def __init__(self, inner: AsyncBaseStore) -> None:
        if not isinstance(inner, AsyncBaseStore):
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

    async def do_range(self, request: Get) -> RangeResult:
        return await self.inner.do_range(request)

    async def do_put(self, request: Put) -> PutResult:
        return await self.inner.do_put(request)

    async def do_delete_range(self, request: Delete) -> DeleteResult:
        return await self.inner.do_delete_range(request)

    async def do_txn(self, request: Txn) -> TxnResult:
        return await self.inner.do_txn(request)

    def do_watch(self, request: WatchRequest) -> AsyncWatch:
        return self.inner.do_watch(request)

    async def lease_grant(self, ttl: int) -> LeaseGrant:
        return await self.inner.lease_grant(ttl)

    async def lease_revoke(self, lease_id: int) -> None:
        await self.inner.lease_revoke(lease_id)

    async def lease_keepalive_once(self, lease_id: int) -> int:
        return await self.inner.lease_keepalive_once(lease_id)

    async def lease_keepalive_many(
        self, lease_ids: Sequence[int]
    ) -> builtins.list[int | KVStoreError]:
        return await self.inner.lease_keepalive_many(lease_ids)

    async def lease_keepalive_idle(self) -> None:
        await self.inner.lease_keepalive_idle()

    async def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo:
        return await self.inner.lease_time_to_live(lease_id, keys=keys)

    async def lease_leases(self) -> builtins.list[int]:
        return await self.inner.lease_leases()

    async def compact_revision(self, revision: int, *, physical: bool = False) -> None:
        await self.inner.compact_revision(revision, physical=physical)

    async def status(self) -> StatusInfo:
        return await self.inner.status()

    async def member_list(self) -> builtins.list[MemberInfo]:
        return await self.inner.member_list()

    async def defragment(self) -> None:
        await self.inner.defragment()

    async def alarms(self) -> builtins.list[AlarmInfo]:
        return await self.inner.alarms()

    async def hash_kv(self, revision: int = 0) -> HashInfo:
        return await self.inner.hash_kv(revision)

    def get_client(self) -> Any:
        return self.inner.get_client()

    async def aclose(self) -> None:
        await super().aclose()
        await self.inner.aclose()

    @property
    def closed(self) -> bool:
        return self._closed or self.inner.closed

    def _check_open(self, operation: str) -> None:
        if self.inner.closed:
            self._closed = True
        super()._check_open(operation)
