# Generated from kvstore/wrappers/_async/tracing.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``TracingStore`` (see ``kvstore.wrappers.tracing``, which exports it and its sync twin)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kvstore._sync.base import BaseStore
from kvstore._sync.watch import Watch
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
from kvstore.wrappers._sync.wrapper import WrapperStore
from kvstore.wrappers._tracing import Telemetry

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["TracingStore"]


class TracingStore(WrapperStore):
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
        inner: BaseStore,
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

    def close(self) -> None:
        self._telemetry.close()
        super().close()

    def do_range(self, request: Get) -> RangeResult:
        with self._telemetry.operation("Range", request.key, request.range_end) as op:
            result = self.inner.do_range(request)
            op.set("db.response.returned_rows", len(result.kvs))
            return result

    def do_put(self, request: Put) -> PutResult:
        with self._telemetry.operation("Put", request.key):
            return self.inner.do_put(request)

    def do_delete_range(self, request: Delete) -> DeleteResult:
        with self._telemetry.operation("DeleteRange", request.key, request.range_end):
            return self.inner.do_delete_range(request)

    def do_txn(self, request: Txn) -> TxnResult:
        with self._telemetry.operation("Txn") as op:
            op.set("db.operation.batch.size", len(request.success) + len(request.failure))
            result = self.inner.do_txn(request)
            op.set("kvstore.txn.succeeded", result.succeeded)
            return result

    def do_watch(self, request: WatchRequest) -> Watch:
        with self._telemetry.operation("Watch", request.key, request.range_end):
            return self.inner.do_watch(request)

    def lease_grant(self, ttl: int) -> LeaseGrant:
        with self._telemetry.operation("LeaseGrant"):
            return self.inner.lease_grant(ttl)

    def lease_revoke(self, lease_id: int) -> None:
        with self._telemetry.operation("LeaseRevoke"):
            self.inner.lease_revoke(lease_id)

    def lease_keepalive_once(self, lease_id: int) -> int:
        with self._telemetry.operation("LeaseKeepAlive"):
            return self.inner.lease_keepalive_once(lease_id)

    def lease_keepalive_many(self, lease_ids: Sequence[int]) -> builtins.list[int | KVStoreError]:
        with self._telemetry.operation("LeaseKeepAlive") as op:
            op.set("db.operation.batch.size", len(lease_ids))
            return self.inner.lease_keepalive_many(lease_ids)

    def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo:
        with self._telemetry.operation("LeaseTimeToLive"):
            return self.inner.lease_time_to_live(lease_id, keys=keys)

    def lease_leases(self) -> builtins.list[int]:
        with self._telemetry.operation("LeaseLeases"):
            return self.inner.lease_leases()

    def compact_revision(self, revision: int, *, physical: bool = False) -> None:
        with self._telemetry.operation("Compact"):
            self.inner.compact_revision(revision, physical=physical)

    def status(self) -> StatusInfo:
        with self._telemetry.operation("Status"):
            return self.inner.status()

    def member_list(self) -> builtins.list[MemberInfo]:
        with self._telemetry.operation("MemberList"):
            return self.inner.member_list()

    def defragment(self) -> None:
        with self._telemetry.operation("Defragment"):
            self.inner.defragment()

    def alarms(self) -> builtins.list[AlarmInfo]:
        with self._telemetry.operation("Alarm"):
            return self.inner.alarms()

    def hash_kv(self, revision: int = 0) -> HashInfo:
        with self._telemetry.operation("HashKV"):
            return self.inner.hash_kv(revision)
