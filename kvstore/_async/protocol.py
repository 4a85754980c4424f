"""``AsyncKVStore``: the interface applications type against.

Production code receives an ``AsyncKVStore`` (an ``AsyncEtcdStore``), unit tests pass an
``AsyncMemoryStore``; both satisfy this protocol, and so do the wrapper stores. Backend
authors do not implement it method by method: they subclass
``kvstore.base.AsyncBaseStore``, which provides every method here on top of a few
primitives. Each method here says what it returns and raises, for every backend and
wrapper; its arguments in detail are in ``AsyncBaseStore``'s docstrings.
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
        """The value at ``key``; ``KeyNotFoundError`` if absent.

        Returns:
            The value stored at ``key``.

        Raises:
            KeyNotFoundError: The key does not exist.
            InvalidKeyError: ``key`` is not a valid key.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    async def get_kv(self, key: str) -> KeyValue | None:
        """The value with its metadata, or ``None``.

        Returns:
            The ``KeyValue`` (value, revisions, version, lease), or ``None`` if the key does not
            exist.

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    async def get_with_revision(self, key: str, revision: int) -> bytes:
        """The value ``key`` had at ``revision``; ``CompactedError`` below compaction.

        Returns:
            The value ``key`` had at ``revision``.

        Raises:
            KeyNotFoundError: The key did not exist at that revision.
            CompactedError: ``revision`` is below the compact revision.
            InvalidArgumentError: ``revision`` is not positive or is in the future.
            InvalidKeyError: ``key`` is not a valid key.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    async def exists(self, key: str) -> bool:
        """Whether ``key`` exists.

        Returns:
            ``True`` if the key exists, else ``False``.

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    async def count(self, prefix: str) -> int:
        """How many keys start with ``prefix``.

        Returns:
            The number of keys that start with ``prefix`` (``""``: every key).

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    async def list(self, prefix: str) -> builtins.list[str]:
        """The keys starting with ``prefix``, in order.

        Returns:
            The keys that start with ``prefix``, sorted, read at one revision.

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    async def get_keys_with_prefix(self, prefix: str, limit: int = 0) -> builtins.list[str]:
        """At most ``limit`` keys starting with ``prefix`` (``<= 0``: all).

        Returns:
            The first ``limit`` keys that start with ``prefix`` (all for ``limit <= 0``), sorted.

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
            InvalidArgumentError: ``limit`` is not an int.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    async def get_keys_by_pattern(self, prefix: str, pattern: str) -> builtins.list[str]:
        """Keys starting with ``prefix`` that contain ``pattern``.

        Returns:
            The keys that start with ``prefix`` and contain the substring ``pattern``, sorted.

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    async def get_multiple(self, prefix: str) -> dict[str, bytes]:
        """Keys starting with ``prefix`` with their values, ordered by key.

        Returns:
            A dict of each key that starts with ``prefix`` to its value, in key order.

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    async def list_with_values(self, prefix: str) -> dict[str, bytes]:
        """The same as ``get_multiple``.

        Returns:
            A dict of each key that starts with ``prefix`` to its value, in key order.

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    async def get_range(self, start: str, end: str) -> dict[str, bytes]:
        """Keys in ``[start, end)`` with their values.

        Returns:
            A dict of each key in ``[start, end)`` to its value, in key order.

        Raises:
            InvalidKeyError: ``start`` or ``end`` is not a valid key.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    # writes
    async def put(self, key: str, value: bytes, *, lease: AsyncLease | int | None = None) -> int:
        """Write a value; returns the new revision.

        Returns:
            The new store revision.

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            InvalidArgumentError: ``value`` is not bytes, or ``lease`` is not a ``Lease`` or a
                positive int.
            ValueTooLargeError: The request is over the size limit.
            LeaseNotFoundError: ``lease`` is not live.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """

    async def put_with_lease(self, key: str, value: bytes, lease: AsyncLease | int) -> int:
        """Write a value attached to a lease; returns the new revision.

        Returns:
            The new store revision.

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            InvalidArgumentError: ``value`` is not bytes, or ``lease`` is not a ``Lease`` or a
                positive int.
            ValueTooLargeError: The request is over the size limit.
            LeaseNotFoundError: ``lease`` is not live.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """

    async def delete(self, key: str) -> int:
        """Delete a key; returns 1 or 0.

        Returns:
            How many keys were deleted: 1, or 0 if the key did not exist (not an error).

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """

    async def delete_prefix(self, prefix: str, *, allow_all: bool = False) -> int:
        """Delete the keys starting with ``prefix``; ``""`` needs ``allow_all``.

        Returns:
            How many keys were deleted.

        Raises:
            InvalidArgumentError: ``prefix`` is ``""`` and ``allow_all`` is not set.
            InvalidKeyError: ``prefix`` is not a ``str``.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """

    async def put_if_not_exists(self, key: str, value: bytes) -> bool:
        """Write only if absent; whether it was written.

        Returns:
            Whether the value was written (``False``: the key already existed).

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            InvalidArgumentError: ``value`` is not bytes.
            ValueTooLargeError: The request is over the size limit.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """

    async def compare_and_swap(self, key: str, old: bytes, new: bytes) -> bool:
        """Swap ``old`` for ``new`` atomically; whether it was swapped.

        Returns:
            Whether the value was swapped (``False``: the key is absent or holds another value).

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            InvalidArgumentError: ``old`` or ``new`` is not bytes.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """

    async def move_key(self, old: str, new: str, *, overwrite: bool = True) -> None:
        """Rename a key atomically, keeping value and lease.

        Raises:
            KeyNotFoundError: ``old`` does not exist.
            KeyExistsError: ``new`` exists and ``overwrite`` is false.
            InvalidKeyError: A key is not valid, or ``old == new``.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """

    async def bulk_put(self, mapping: Mapping[str, bytes], *, atomic: bool = True) -> int:
        """Write many keys; returns the last revision.

        Returns:
            The store revision after the last write (the current one for an empty mapping).

        Raises:
            TransactionTooLargeError: ``atomic`` and more keys than the store's ``max_txn_ops``.
            ValueTooLargeError: A value, or with ``atomic`` the whole request, is over the size
                limit.
            InvalidArgumentError: ``mapping`` is not a mapping, or a key or value is invalid
                (nothing is sent).
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """

    async def bulk_delete(self, keys: Iterable[str], *, atomic: bool = True) -> int:
        """Delete many keys; returns how many were deleted.

        Returns:
            How many keys were deleted.

        Raises:
            TransactionTooLargeError: ``atomic`` and more keys than the store's ``max_txn_ops``.
            InvalidKeyError: A key is invalid, or ``keys`` is a single ``str`` (nothing is sent).
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """

    def transaction(self) -> AsyncTransactionBuilder:
        """Start a transaction builder.

        Returns:
            A new ``AsyncTransactionBuilder``: ``.if_(...).then(...).else_(...)``, then ``await
            .commit()``.
        """

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
        """Watch one key.

        Returns:
            The ``AsyncWatch``, started at once: iterate it for its events, or ``cancel()``
            it.

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            InvalidArgumentError: ``start_revision`` is not positive, or ``callback`` / ``on_error``
                is not callable.
            UnsupportedOperationError: The store has no ``watch`` capability.
            StoreClosedError: The store was closed.
        """

    def watch_prefix(
        self,
        prefix: str,
        *,
        start_revision: int | None = None,
        prev_kv: bool = False,
        callback: Callable[[WatchEvent], object] | None = None,
        on_error: Callable[[BaseException], object] | None = None,
    ) -> AsyncWatch:
        """Watch the keys starting with ``prefix``.

        Returns:
            The ``AsyncWatch``, started at once: iterate it for its events, or ``cancel()``
            it.

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
            InvalidArgumentError: ``start_revision`` is not positive, or ``callback`` / ``on_error``
                is not callable.
            UnsupportedOperationError: The store has no ``watch`` capability.
            StoreClosedError: The store was closed.
        """

    def mirror(self, prefix: str) -> AsyncMirror:
        """Keep the keys starting with ``prefix`` in memory, fed by a watch.

        Returns:
            The started ``AsyncMirror``; ``await mirror.wait_synced()`` before relying on its view.

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
            UnsupportedOperationError: The store has no ``watch`` capability.
            StoreClosedError: The store was closed.
        """

    # leases
    async def lease(self, ttl: int) -> AsyncLease:
        """Grant a lease of ``ttl`` seconds.

        Returns:
            The granted ``AsyncLease`` (``id``, granted ``ttl``); nothing renews it until
            ``keep_alive``.

        Raises:
            InvalidArgumentError: ``ttl`` is not a positive int.
            UnsupportedOperationError: The store has no ``leases`` capability.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    async def keep_alive(
        self, lease: AsyncLease, *, on_lost: Callable[[LeaseExpiredError], object] | None = None
    ) -> AsyncKeepAlive:
        """Renew a lease in the background.

        Returns:
            The running ``AsyncKeepAlive``: ``stop()`` it; its ``lost`` event tells of loss.

        Raises:
            InvalidArgumentError: ``lease`` is not a ``Lease`` or a positive int, or ``on_lost`` is
                not callable.
            LeaseNotFoundError: ``lease`` is an id the store does not know.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the TTL read a lease id needs; later renewal failures
                are reported through ``lost`` and ``on_lost``.
        """

    async def revoke_lease(self, lease: AsyncLease | int) -> None:
        """Revoke a lease and delete its keys.

        Raises:
            InvalidArgumentError: ``lease`` is not a ``Lease`` or a positive int.
            LeaseNotFoundError: The lease is not live.
            UnsupportedOperationError: The store has no ``leases`` capability.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """

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
        """A distributed lock (``layout="etcd"``: etcd's own keys, shared with Go).

        Returns:
            The ``AsyncLock``, not acquired yet (``async with lock:``).

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
            InvalidArgumentError: ``ttl`` is not a positive int, or ``layout`` is unknown.
        """

    def new_election(
        self,
        name: str,
        *,
        ttl: int = 60,
        session: AsyncSession | None = None,
        on_lost: Callable[[LockLostError], object] | None = None,
        layout: str = "kvstore",
    ) -> AsyncElection:
        """A leader election (``layout="etcd"``: etcd's own keys, shared with Go).

        Returns:
            The ``AsyncElection``; ``await election.campaign(value)`` runs for leader.

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
            InvalidArgumentError: ``ttl`` is not a positive int, or ``layout`` is unknown.
        """

    async def stm(
        self,
        apply: AsyncApply[_T],
        isolation: Isolation = "serializable_snapshot",
        *,
        retries: int | None = DEFAULT_STM_RETRIES,
        prefetch: Iterable[str] = (),
    ) -> _T:
        """Run ``apply(stm)`` as one transaction, retried until it commits.

        Returns:
            What ``apply`` returned in the attempt that committed.

        Raises:
            STMConflictError: Every attempt conflicted; nothing was written.
            InvalidArgumentError: ``isolation``, ``retries`` or ``apply`` is not valid.
            InvalidKeyError: A key given to ``stm`` or ``prefetch`` is not valid.
            TransactionTooLargeError: The commit does not fit one transaction.
            StoreClosedError: The store was closed.
            BackendError: The backend failed a read or the commit (``IndeterminateError``: the
                commit may have been applied).
            Exception: Whatever ``apply`` raised; that attempt's writes are dropped.
        """

    def new_rwlock(
        self,
        name: str,
        *,
        ttl: int = 60,
        on_lost: Callable[[LockLostError], object] | None = None,
    ) -> AsyncRWLock:
        """A readers-writer lock.

        Returns:
            The ``AsyncRWLock``: ``read_lock()`` and ``write_lock()``, nothing acquired yet.

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
            InvalidArgumentError: ``ttl`` is not a positive int.
            UnsupportedOperationError: The store has no ``leases`` capability.
        """

    def new_semaphore(
        self,
        name: str,
        limit: int,
        *,
        ttl: int = 60,
        on_lost: Callable[[LockLostError], object] | None = None,
    ) -> AsyncSemaphore:
        """One holder of a semaphore of ``limit`` holders.

        Returns:
            The ``AsyncSemaphore`` holder, not acquired yet.

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
            InvalidArgumentError: ``limit`` is not an int >= 1, or ``ttl`` not a positive int.
            UnsupportedOperationError: The store has no ``leases`` capability.
        """

    def new_barrier(self, name: str) -> AsyncBarrier:
        """A barrier.

        Returns:
            The ``AsyncBarrier``: ``hold``, ``release``, ``wait``.

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
        """

    def new_double_barrier(self, name: str, count: int, *, ttl: int = 60) -> AsyncDoubleBarrier:
        """One member of a double barrier of ``count`` members.

        Returns:
            This member's ``AsyncDoubleBarrier``: ``enter``, ``leave``.

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
            InvalidArgumentError: ``count`` is not an int >= 1, or ``ttl`` not a positive int.
            UnsupportedOperationError: The store has no ``leases`` capability.
        """

    def new_queue(self, name: str) -> AsyncQueue:
        """A FIFO work queue.

        Returns:
            The ``AsyncQueue``: ``put``, ``get``, ``len``.

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
        """

    def new_priority_queue(self, name: str) -> AsyncPriorityQueue:
        """A priority queue (lower priorities first).

        Returns:
            The ``AsyncPriorityQueue``.

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
        """

    def new_counter(self, name: str) -> AsyncCounter:
        """A shared counter.

        Returns:
            The ``AsyncCounter``: ``add(n)``, ``value()``.

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
        """

    def new_party(
        self,
        name: str,
        member: str,
        *,
        ttl: int = 60,
        on_lost: Callable[[LockLostError], object] | None = None,
    ) -> AsyncParty:
        """A member of a party (group membership on leases).

        Returns:
            The ``AsyncParty`` membership: ``join``, ``leave``, ``members``.

        Raises:
            InvalidKeyError: ``name`` or ``member`` is not a valid key.
            InvalidArgumentError: ``ttl`` is not a positive int.
            UnsupportedOperationError: The store has no ``leases`` capability.
        """

    # cluster
    async def status(self) -> StatusInfo:
        """The answering member's state.

        Returns:
            A ``StatusInfo``: version, database size, leader, member id, raft index and term,
            revision and compact revision.

        Raises:
            UnsupportedOperationError: The store has no such cluster operation (only etcd has them
                all).
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    async def member_list(self) -> builtins.list[MemberInfo]:
        """The cluster's members.

        Returns:
            A ``MemberInfo`` per member (id, name, peer and client URLs, learner or not).

        Raises:
            UnsupportedOperationError: The store has no such cluster operation (only etcd has them
                all).
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    async def compact_revision(self, revision: int, *, physical: bool = False) -> None:
        """Forget history below ``revision``.

        Raises:
            InvalidArgumentError: ``revision`` is not positive or is in the future.
            CompactedError: ``revision`` is below the current compact revision.
            UnsupportedOperationError: The store keeps no history.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    async def defragment(self) -> None:
        """Defragment the answering member's storage.

        Raises:
            UnsupportedOperationError: The store has no such cluster operation (only etcd has them
                all).
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    async def alarms(self) -> builtins.list[AlarmInfo]:
        """Active alarms.

        Returns:
            An ``AlarmInfo`` per active alarm; empty when none is raised.

        Raises:
            UnsupportedOperationError: The store has no such cluster operation (only etcd has them
                all).
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    async def hash_kv(self, revision: int = 0) -> HashInfo:
        """Hash of the store up to ``revision``.

        Returns:
            A ``HashInfo``: the hash, the revision it covers and the compact revision.

        Raises:
            UnsupportedOperationError: The store has no such cluster operation (only etcd has them
                all).
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """

    def get_client(self) -> Any:
        """The backend's underlying client.

        Returns:
            The backend's own client object, for calls kvstore does not wrap (its errors are not
            translated).

        Raises:
            UnsupportedOperationError: The backend has no client to hand out.
            StoreClosedError: The store was closed.
        """

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
