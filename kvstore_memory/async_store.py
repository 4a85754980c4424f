"""``AsyncMemoryStore``: the in-memory fake for the asyncio API, on ``MemoryStore``'s data.

The data, revisions, leases, history and watches are a ``MemoryStore``'s: the asyncio
store runs each primitive on it (they never block on I/O, so they run on the event loop
directly) and feeds its watches through ``AsyncQueueWatch``. Pass a ``MemoryStore`` to
share its data, so sync and async code of one test see one store::

    data = MemoryStore(clock=ManualClock())
    store = AsyncMemoryStore(data)
    data.put("a", b"1")
    assert await store.get("a") == b"1"
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Callable

from kvstore.base import AsyncBaseStore
from kvstore.errors import ConfigurationError
from kvstore.keys import MAX_REQUEST_BYTES
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
from kvstore.watch import AsyncQueueWatch, AsyncWatch
from kvstore_memory.clock import Clock
from kvstore_memory.store import MemoryStore

__all__ = ["AsyncMemoryStore"]


class AsyncMemoryStore(AsyncBaseStore):
    """An in-memory store with the semantics of an etcd cluster, for the asyncio API.

    Args:
        data: The ``MemoryStore`` whose data to use (shared: writes through either store
            are seen by both, and watches of either see them). Without it, a new
            ``MemoryStore`` is made with the other arguments, and closed with this store.
            A given one is left open by ``aclose`` (it belongs to the caller).
        clock: Drives lease expiry (``ManualClock`` for tests); only without ``data``.
        max_txn_ops: Most compares or operations per transaction branch (etcd: 128).
        max_request_bytes: The request size limit (etcd: 1.5 MiB).

    Attributes:
        data: The ``MemoryStore`` holding the data.
        clock: Its clock.

    Raises:
        ConfigurationError: ``data`` is not a ``MemoryStore``, or came with other arguments.
    """

    def __init__(
        self,
        data: MemoryStore | None = None,
        *,
        clock: Clock | None = None,
        max_txn_ops: int = 128,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        super().__init__()
        if data is None:
            data = MemoryStore(
                clock=clock, max_txn_ops=max_txn_ops, max_request_bytes=max_request_bytes
            )
            self._owns_data = True
        elif not isinstance(data, MemoryStore):
            raise ConfigurationError(
                f"AsyncMemoryStore: data must be a MemoryStore, not {type(data).__name__}"
            )
        elif clock is not None or max_txn_ops != 128 or max_request_bytes != MAX_REQUEST_BYTES:
            raise ConfigurationError(
                "AsyncMemoryStore: a shared MemoryStore comes with its own clock and limits"
            )
        else:
            self._owns_data = False
        self.data = data
        self.capabilities = data.capabilities
        self.max_txn_ops = data.max_txn_ops
        self.max_request_bytes = data.max_request_bytes
        self._watches: set[AsyncQueueWatch] = set()

    def __repr__(self) -> str:
        shared = "" if self._owns_data else ", shared"
        return f"AsyncMemoryStore(revision={self.data.status().revision}{shared})"

    @property
    def clock(self) -> Clock:
        """The clock that drives lease expiry (the data's)."""
        return self.data.clock

    @property
    def closed(self) -> bool:
        return self._closed or self.data.closed

    def _check_open(self, operation: str) -> None:
        if self.data.closed:
            self._closed = True
        super()._check_open(operation)

    # ------------------------------------------------------------------ primitives

    async def do_range(self, request: Get) -> RangeResult:
        self._check_open("range")
        return self.data.do_range(request)

    async def do_put(self, request: Put) -> PutResult:
        self._check_open("put")
        return self.data.do_put(request)

    async def do_delete_range(self, request: Delete) -> DeleteResult:
        self._check_open("delete")
        return self.data.do_delete_range(request)

    async def do_txn(self, request: Txn) -> TxnResult:
        self._check_open("txn")
        return self.data.do_txn(request)

    def do_watch(self, request: WatchRequest) -> AsyncWatch:
        self._check_open("watch")

        def make(remove: Callable[[], None]) -> AsyncQueueWatch:
            def on_cancel() -> None:
                self._watches.discard(watch)
                remove()

            watch = AsyncQueueWatch(on_cancel=on_cancel)
            return watch

        watch = self.data.open_watch(request, make)
        self._watches.add(watch)
        return watch

    def watches_disconnected(self) -> contextlib.AbstractContextManager[None]:
        """``MemoryStore.watches_disconnected`` of the shared data: every watch of it is
        cut off while the block runs, as a lost connection does (for tests).

        Returns:
            A context manager: the watches are cut off inside its ``with`` block and resume when it
            ends.
        """
        return self.data.watches_disconnected()

    async def lease_grant(self, ttl: int) -> LeaseGrant:
        self._check_open("lease_grant")
        return self.data.lease_grant(ttl)

    async def lease_revoke(self, lease_id: int) -> None:
        self._check_open("lease_revoke")
        self.data.lease_revoke(lease_id)

    async def lease_keepalive_once(self, lease_id: int) -> int:
        self._check_open("lease_keepalive")
        return self.data.lease_keepalive_once(lease_id)

    async def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo:
        self._check_open("lease_time_to_live")
        return self.data.lease_time_to_live(lease_id, keys=keys)

    async def lease_leases(self) -> builtins.list[int]:
        self._check_open("lease_leases")
        return self.data.lease_leases()

    async def compact_revision(self, revision: int, *, physical: bool = False) -> None:
        self._check_open("compact")
        self.data.compact_revision(revision, physical=physical)

    async def status(self) -> StatusInfo:
        self._check_open("status")
        return self.data.status()

    async def member_list(self) -> builtins.list[MemberInfo]:
        self._check_open("member_list")
        return self.data.member_list()

    async def defragment(self) -> None:
        self._check_open("defragment")
        self.data.defragment()

    async def alarms(self) -> builtins.list[AlarmInfo]:
        self._check_open("alarms")
        return self.data.alarms()

    async def hash_kv(self, revision: int = 0) -> HashInfo:
        self._check_open("hash_kv")
        return self.data.hash_kv(revision)

    async def aclose(self) -> None:
        """Close the store: keep-alives end (reporting their leases lost), watches end,
        and the data's ``MemoryStore`` is closed if this store made it. Idempotent."""
        await super().aclose()
        watches, self._watches = self._watches, set()
        for watch in watches:
            await watch.cancel()
        if self._owns_data:
            self.data.close()
