"""``AsyncTracingStore`` (see ``kvstore.wrappers.tracing``, which exports it and its sync twin)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kvstore._async.base import AsyncBaseStore
from kvstore._async.watch import AsyncWatch
from kvstore.errors import KVStoreError
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
from kvstore.wrappers._async.wrapper import AsyncWrapperStore
from kvstore.wrappers._tracing import Telemetry

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["AsyncTracingStore"]


class AsyncTracingStore(AsyncWrapperStore):
    """A store whose every primitive is an OpenTelemetry span and a duration measurement
    (what is recorded: ``kvstore.wrappers.tracing``).

    Args:
        inner: The store to trace (usually the backend itself; see the module docstring).
        tracer_provider: Where spans go; the global one (``opentelemetry.trace``) if
            ``None``.
        meter_provider: Where measurements go; the global one if ``None``.
        record_keys: Record keys, range ends and error messages (which name keys) on
            spans. Off by default: keys are often personal data. Values are never
            recorded.
        system: ``db.system.name``; the backend's name (``"etcd"``, ``"memory"``) if
            ``None``.

    Raises:
        ConfigurationError: ``inner`` is not a store, an argument has the wrong type, or
            OpenTelemetry is not installed (``pip install 'kvstore[otel]'``).
    """

    def __init__(
        self,
        inner: AsyncBaseStore,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        record_keys: bool = False,
        system: str | None = None,
    ) -> None:
        super().__init__(inner)
        self._telemetry = Telemetry(
            self,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            record_keys=record_keys,
            system=system,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"

    @property
    def record_keys(self) -> bool:
        """Whether keys are recorded on spans."""
        return self._telemetry.record_keys

    async def aclose(self) -> None:
        self._telemetry.close()
        await super().aclose()

    async def do_range(self, request: Get) -> RangeResult:
        with self._telemetry.operation("Range", request.key, request.range_end) as op:
            result = await self.inner.do_range(request)
            op.set("db.response.returned_rows", len(result.kvs))
            return result

    async def do_put(self, request: Put) -> PutResult:
        with self._telemetry.operation("Put", request.key):
            return await self.inner.do_put(request)

    async def do_delete_range(self, request: Delete) -> DeleteResult:
        with self._telemetry.operation("DeleteRange", request.key, request.range_end):
            return await self.inner.do_delete_range(request)

    async def do_txn(self, request: Txn) -> TxnResult:
        with self._telemetry.operation("Txn") as op:
            op.set("db.operation.batch.size", len(request.success) + len(request.failure))
            result = await self.inner.do_txn(request)
            op.set("kvstore.txn.succeeded", result.succeeded)
            return result

    def do_watch(self, request: WatchRequest) -> AsyncWatch:
        with self._telemetry.operation("Watch", request.key, request.range_end):
            return self.inner.do_watch(request)

    async def lease_grant(self, ttl: int) -> LeaseGrant:
        with self._telemetry.operation("LeaseGrant"):
            return await self.inner.lease_grant(ttl)

    async def lease_revoke(self, lease_id: int) -> None:
        with self._telemetry.operation("LeaseRevoke"):
            await self.inner.lease_revoke(lease_id)

    async def lease_keepalive_once(self, lease_id: int) -> int:
        with self._telemetry.operation("LeaseKeepAlive"):
            return await self.inner.lease_keepalive_once(lease_id)

    async def lease_keepalive_many(
        self, lease_ids: Sequence[int]
    ) -> builtins.list[int | KVStoreError]:
        with self._telemetry.operation("LeaseKeepAlive") as op:
            op.set("db.operation.batch.size", len(lease_ids))
            return await self.inner.lease_keepalive_many(lease_ids)

    async def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo:
        with self._telemetry.operation("LeaseTimeToLive"):
            return await self.inner.lease_time_to_live(lease_id, keys=keys)

    async def lease_leases(self) -> builtins.list[int]:
        with self._telemetry.operation("LeaseLeases"):
            return await self.inner.lease_leases()

    async def compact_revision(self, revision: int, *, physical: bool = False) -> None:
        with self._telemetry.operation("Compact"):
            await self.inner.compact_revision(revision, physical=physical)

    async def status(self) -> StatusInfo:
        with self._telemetry.operation("Status"):
            return await self.inner.status()

    async def member_list(self) -> builtins.list[MemberInfo]:
        with self._telemetry.operation("MemberList"):
            return await self.inner.member_list()

    async def defragment(self) -> None:
        with self._telemetry.operation("Defragment"):
            await self.inner.defragment()

    async def alarms(self) -> builtins.list[AlarmInfo]:
        with self._telemetry.operation("Alarm"):
            return await self.inner.alarms()

    async def hash_kv(self, revision: int = 0) -> HashInfo:
        with self._telemetry.operation("HashKV"):
            return await self.inner.hash_kv(revision)
