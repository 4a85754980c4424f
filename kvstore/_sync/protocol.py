# Generated from kvstore/_async/protocol.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``KVStore``: the interface applications type against.

Production code receives a ``KVStore`` (an ``EtcdStore``), unit tests pass a
``MemoryStore``; both satisfy this protocol, and so do the wrapper stores. Backend
authors do not implement it method by method: they subclass
``kvstore.base.BaseStore``, which provides every method here on top of a few
primitives. The full contract of each method (arguments, errors) is in
``BaseStore``'s docstrings.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Protocol, TypeVar, runtime_checkable

from kvstore._sync.lease import KeepAlive, Lease
from kvstore._sync.mirror import Mirror
from kvstore._sync.watch import Watch
from kvstore.errors import LeaseExpiredError, LockLostError
from kvstore.recipes._sync import (
    Barrier,
    Counter,
    DoubleBarrier,
    Election,
    Lock,
    Party,
    PriorityQueue,
    Queue,
    RWLock,
    Semaphore,
    Session,
)
from kvstore.recipes._sync.stm import DEFAULT_STM_RETRIES, Apply, Isolation
from kvstore.txn import TransactionBuilder
from kvstore.types import (
    AlarmInfo,
    HashInfo,
    KeyValue,
    MemberInfo,
    StatusInfo,
    WatchEvent,
)

__all__ = ["KVStore"]

_T = TypeVar("_T")


@runtime_checkable
class KVStore(Protocol):
    """A typed key-value store with etcd's semantics (revisions, leases, watches, txns)."""

    capabilities: frozenset[str]

    # reads
    def get(self, key: str) -> bytes:
        """The value at ``key``; ``KeyNotFoundError`` if absent."""

    def get_kv(self, key: str) -> KeyValue | None:
        """The value with its metadata, or ``None``."""

    def get_with_revision(self, key: str, revision: int) -> bytes:
        """The value ``key`` had at ``revision``; ``CompactedError`` below compaction."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists."""

    def count(self, prefix: str) -> int:
        """How many keys start with ``prefix``."""

    def list(self, prefix: str) -> builtins.list[str]:
        """The keys starting with ``prefix``, in order."""

    def get_keys_with_prefix(self, prefix: str, limit: int = 0) -> builtins.list[str]:
        """At most ``limit`` keys starting with ``prefix`` (``<= 0``: all)."""

    def get_keys_by_pattern(self, prefix: str, pattern: str) -> builtins.list[str]:
        """Keys starting with ``prefix`` that contain ``pattern``."""

    def get_multiple(self, prefix: str) -> dict[str, bytes]:
        """Keys starting with ``prefix`` with their values, ordered by key."""

    def list_with_values(self, prefix: str) -> dict[str, bytes]:
        """The same as ``get_multiple``."""

    def get_range(self, start: str, end: str) -> dict[str, bytes]:
        """Keys in ``[start, end)`` with their values."""

    # writes
    def put(self, key: str, value: bytes, *, lease: Lease | int | None = None) -> int:
        """Write a value; returns the new revision."""

    def put_with_lease(self, key: str, value: bytes, lease: Lease | int) -> int:
        """Write a value attached to a lease; returns the new revision."""

    def delete(self, key: str) -> int:
        """Delete a key; returns 1 or 0."""

    def delete_prefix(self, prefix: str, *, allow_all: bool = False) -> int:
        """Delete the keys starting with ``prefix``; ``""`` needs ``allow_all``."""

    def put_if_not_exists(self, key: str, value: bytes) -> bool:
        """Write only if absent; whether it was written."""

    def compare_and_swap(self, key: str, old: bytes, new: bytes) -> bool:
        """Swap ``old`` for ``new`` atomically; whether it was swapped."""

    def move_key(self, old: str, new: str, *, overwrite: bool = True) -> None:
        """Rename a key atomically, keeping value and lease."""

    def bulk_put(self, mapping: Mapping[str, bytes], *, atomic: bool = True) -> int:
        """Write many keys; returns the last revision."""

    def bulk_delete(self, keys: Iterable[str], *, atomic: bool = True) -> int:
        """Delete many keys; returns how many were deleted."""

    def transaction(self) -> TransactionBuilder:
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
    ) -> Watch:
        """Watch one key."""

    def watch_prefix(
        self,
        prefix: str,
        *,
        start_revision: int | None = None,
        prev_kv: bool = False,
        callback: Callable[[WatchEvent], object] | None = None,
        on_error: Callable[[BaseException], object] | None = None,
    ) -> Watch:
        """Watch the keys starting with ``prefix``."""

    def mirror(self, prefix: str) -> Mirror:
        """Keep the keys starting with ``prefix`` in memory, fed by a watch."""

    # leases
    def lease(self, ttl: int) -> Lease:
        """Grant a lease of ``ttl`` seconds."""

    def keep_alive(
        self, lease: Lease, *, on_lost: Callable[[LeaseExpiredError], object] | None = None
    ) -> KeepAlive:
        """Renew a lease in the background."""

    def revoke_lease(self, lease: Lease | int) -> None:
        """Revoke a lease and delete its keys."""

    # coordination
    def new_lock(
        self,
        name: str,
        *,
        ttl: int = 60,
        session: Session | None = None,
        on_lost: Callable[[LockLostError], object] | None = None,
        layout: str = "kvstore",
    ) -> Lock:
        """A distributed lock (``layout="etcd"``: etcd's own keys, shared with Go)."""

    def new_election(
        self,
        name: str,
        *,
        ttl: int = 60,
        session: Session | None = None,
        on_lost: Callable[[LockLostError], object] | None = None,
        layout: str = "kvstore",
    ) -> Election:
        """A leader election (``layout="etcd"``: etcd's own keys, shared with Go)."""

    def stm(
        self,
        apply: Apply[_T],
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
    ) -> RWLock:
        """A readers-writer lock."""

    def new_semaphore(
        self,
        name: str,
        limit: int,
        *,
        ttl: int = 60,
        on_lost: Callable[[LockLostError], object] | None = None,
    ) -> Semaphore:
        """One holder of a semaphore of ``limit`` holders."""

    def new_barrier(self, name: str) -> Barrier:
        """A barrier."""

    def new_double_barrier(self, name: str, count: int, *, ttl: int = 60) -> DoubleBarrier:
        """One member of a double barrier of ``count`` members."""

    def new_queue(self, name: str) -> Queue:
        """A FIFO work queue."""

    def new_priority_queue(self, name: str) -> PriorityQueue:
        """A priority queue (lower priorities first)."""

    def new_counter(self, name: str) -> Counter:
        """A shared counter."""

    def new_party(
        self,
        name: str,
        member: str,
        *,
        ttl: int = 60,
        on_lost: Callable[[LockLostError], object] | None = None,
    ) -> Party:
        """A member of a party (group membership on leases)."""

    # cluster
    def status(self) -> StatusInfo:
        """The answering member's state."""

    def member_list(self) -> builtins.list[MemberInfo]:
        """The cluster's members."""

    def compact_revision(self, revision: int, *, physical: bool = False) -> None:
        """Forget history below ``revision``."""

    def defragment(self) -> None:
        """Defragment the answering member's storage."""

    def alarms(self) -> builtins.list[AlarmInfo]:
        """Active alarms."""

    def hash_kv(self, revision: int = 0) -> HashInfo:
        """Hash of the store up to ``revision``."""

    def get_client(self) -> Any:
        """The backend's underlying client."""

    # lifetime
    def close(self) -> None:
        """Close the store; later calls raise ``StoreClosedError``."""

    def __enter__(self) -> Any: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
