"""``AsyncKVStore``: the interface applications type against.

Production code receives an ``AsyncKVStore`` (an ``AsyncEtcdStore``), unit tests pass an
``AsyncMemoryStore``; both satisfy this protocol, and so do the wrapper stores. Backend
authors do not implement it method by method: they subclass
``kvstore.base.AsyncBaseStore``, which provides every method here on top of a few
primitives. The full contract of each method (arguments, errors) is in
``AsyncBaseStore``'s docstrings.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Protocol, TypeVar, runtime_checkable

from kvstore._async.lease import AsyncKeepAlive, AsyncLease
from kvstore._async.mirror import AsyncMirror
from kvstore._async.watch import AsyncWatch
from kvstore.errors import LeaseExpiredError, LockLostError
from kvstore.recipes._async import (
    AsyncBarrier,
    AsyncCounter,
    AsyncDoubleBarrier,
    AsyncElection,
    AsyncLock,
    AsyncParty,
    AsyncPriorityQueue,
    AsyncQueue,
    AsyncRWLock,
    AsyncSemaphore,
    AsyncSession,
)
from kvstore.recipes._async.stm import DEFAULT_STM_RETRIES, AsyncApply, Isolation
from kvstore.txn import AsyncTransactionBuilder
from kvstore.types import (
    AlarmInfo,
    HashInfo,
    KeyValue,
    MemberInfo,
    StatusInfo,
    WatchEvent,
)

__all__ = ["AsyncKVStore"]

_T = TypeVar("_T")


@runtime_checkable
class AsyncKVStore(Protocol):
    """A typed key-value store with etcd's semantics (revisions, leases, watches, txns)."""

    capabilities: frozenset[str]

    # reads
    async def get(self, key: str) -> bytes:
        """The value at ``key``; ``KeyNotFoundError`` if absent."""

    async def get_kv(self, key: str) -> KeyValue | None:
        """The value with its metadata, or ``None``."""

    async def get_with_revision(self, key: str, revision: int) -> bytes:
        """The value ``key`` had at ``revision``; ``CompactedError`` below compaction."""

    async def exists(self, key: str) -> bool:
        """Whether ``key`` exists."""

    async def count(self, prefix: str) -> int:
        """How many keys start with ``prefix``."""

    async def list(self, prefix: str) -> builtins.list[str]:
        """The keys starting with ``prefix``, in order."""

    async def get_keys_with_prefix(self, prefix: str, limit: int = 0) -> builtins.list[str]:
        """At most ``limit`` keys starting with ``prefix`` (``<= 0``: all)."""

    async def get_keys_by_pattern(self, prefix: str, pattern: str) -> builtins.list[str]:
        """Keys starting with ``prefix`` that contain ``pattern``."""

    async def get_multiple(self, prefix: str) -> dict[str, bytes]:
        """Keys starting with ``prefix`` with their values, ordered by key."""

    async def list_with_values(self, prefix: str) -> dict[str, bytes]:
        """The same as ``get_multiple``."""

    async def get_range(self, start: str, end: str) -> dict[str, bytes]:
        """Keys in ``[start, end)`` with their values."""

    # writes
    async def put(self, key: str, value: bytes, *, lease: AsyncLease | int | None = None) -> int:
        """Write a value; returns the new revision."""

    async def put_with_lease(self, key: str, value: bytes, lease: AsyncLease | int) -> int:
        """Write a value attached to a lease; returns the new revision."""

    async def delete(self, key: str) -> int:
        """Delete a key; returns 1 or 0."""

    async def delete_prefix(self, prefix: str, *, allow_all: bool = False) -> int:
        """Delete the keys starting with ``prefix``; ``""`` needs ``allow_all``."""

    async def put_if_not_exists(self, key: str, value: bytes) -> bool:
        """Write only if absent; whether it was written."""

    async def compare_and_swap(self, key: str, old: bytes, new: bytes) -> bool:
        """Swap ``old`` for ``new`` atomically; whether it was swapped."""

    async def move_key(self, old: str, new: str, *, overwrite: bool = True) -> None:
        """Rename a key atomically, keeping value and lease."""

    async def bulk_put(self, mapping: Mapping[str, bytes], *, atomic: bool = True) -> int:
        """Write many keys; returns the last revision."""

    async def bulk_delete(self, keys: Iterable[str], *, atomic: bool = True) -> int:
        """Delete many keys; returns how many were deleted."""

    def transaction(self) -> AsyncTransactionBuilder:
        """Start a transaction builder."""

    # watches
    def watch(
        self,
        key: str,
        *,
        start_revision: int | None = None,
        prev_kv: bool = False,
        callback: Callable[[WatchEvent], object] | None = None,
        on_error: Callable[[BaseException], object] | None = None,
    ) -> AsyncWatch:
        """Watch one key."""

    def watch_prefix(
        self,
        prefix: str,
        *,
        start_revision: int | None = None,
        prev_kv: bool = False,
        callback: Callable[[WatchEvent], object] | None = None,
        on_error: Callable[[BaseException], object] | None = None,
    ) -> AsyncWatch:
        """Watch the keys starting with ``prefix``."""

    def mirror(self, prefix: str) -> AsyncMirror:
        """Keep the keys starting with ``prefix`` in memory, fed by a watch."""

    # leases
    async def lease(self, ttl: int) -> AsyncLease:
        """Grant a lease of ``ttl`` seconds."""

    async def keep_alive(
        self, lease: AsyncLease, *, on_lost: Callable[[LeaseExpiredError], object] | None = None
    ) -> AsyncKeepAlive:
        """Renew a lease in the background."""

    async def revoke_lease(self, lease: AsyncLease | int) -> None:
        """Revoke a lease and delete its keys."""

    # coordination
    def new_lock(
        self,
        name: str,
        *,
        ttl: int = 60,
        session: AsyncSession | None = None,
        on_lost: Callable[[LockLostError], object] | None = None,
        layout: str = "kvstore",
    ) -> AsyncLock:
        """A distributed lock (``layout="etcd"``: etcd's own keys, shared with Go)."""

    def new_election(
        self,
        name: str,
        *,
        ttl: int = 60,
        session: AsyncSession | None = None,
        on_lost: Callable[[LockLostError], object] | None = None,
        layout: str = "kvstore",
    ) -> AsyncElection:
        """A leader election (``layout="etcd"``: etcd's own keys, shared with Go)."""

    async def stm(
        self,
        apply: AsyncApply[_T],
        isolation: Isolation = "serializable_snapshot",
        *,
        retries: int | None = DEFAULT_STM_RETRIES,
        prefetch: Iterable[str] = (),
    ) -> _T:
        """Run ``apply(stm)`` as one transaction, retried until it commits."""

    def new_rwlock(
        self,
        name: str,
        *,
        ttl: int = 60,
        on_lost: Callable[[LockLostError], object] | None = None,
    ) -> AsyncRWLock:
        """A readers-writer lock."""

    def new_semaphore(
        self,
        name: str,
        limit: int,
        *,
        ttl: int = 60,
        on_lost: Callable[[LockLostError], object] | None = None,
    ) -> AsyncSemaphore:
        """One holder of a semaphore of ``limit`` holders."""

    def new_barrier(self, name: str) -> AsyncBarrier:
        """A barrier."""

    def new_double_barrier(self, name: str, count: int, *, ttl: int = 60) -> AsyncDoubleBarrier:
        """One member of a double barrier of ``count`` members."""

    def new_queue(self, name: str) -> AsyncQueue:
        """A FIFO work queue."""

    def new_priority_queue(self, name: str) -> AsyncPriorityQueue:
        """A priority queue (lower priorities first)."""

    def new_counter(self, name: str) -> AsyncCounter:
        """A shared counter."""

    def new_party(
        self,
        name: str,
        member: str,
        *,
        ttl: int = 60,
        on_lost: Callable[[LockLostError], object] | None = None,
    ) -> AsyncParty:
        """A member of a party (group membership on leases)."""

    # cluster
    async def status(self) -> StatusInfo:
        """The answering member's state."""

    async def member_list(self) -> builtins.list[MemberInfo]:
        """The cluster's members."""

    async def compact_revision(self, revision: int, *, physical: bool = False) -> None:
        """Forget history below ``revision``."""

    async def defragment(self) -> None:
        """Defragment the answering member's storage."""

    async def alarms(self) -> builtins.list[AlarmInfo]:
        """Active alarms."""

    async def hash_kv(self, revision: int = 0) -> HashInfo:
        """Hash of the store up to ``revision``."""

    def get_client(self) -> Any:
        """The backend's underlying client."""

    # lifetime
    async def aclose(self) -> None:
        """Close the store; later calls raise ``StoreClosedError``."""

    async def __aenter__(self) -> Any: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
