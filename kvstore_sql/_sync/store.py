# Generated from kvstore_sql/_async/store.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``SQLStore``: etcd's semantics on a SQL database, whatever the database.

The store is thin: each primitive is one call of the engine (``kvstore_sql._engine``,
which holds the statements and etcd's logic) through the store's worker (a thread of its
own for the asyncio store, the caller's thread under a lock for the sync one), and every
watch is registered with the store's feed (``kvstore_sql._feed``). A database is a
dialect (``kvstore_sql._dialect``): ``SQLiteStore`` is this store on
``SQLiteDialect``.

Every convenience of ``KVStore`` comes from ``BaseStore`` on these primitives;
keep-alives share the base's ``Renewals`` and renew in one transaction
(``lease_keepalive_many``). The cluster calls without a meaning for one database
(``member_list``, ``alarms``, ``hash_kv``) raise ``UnsupportedOperationError``: the store
declares no ``cluster`` capability; ``status``, ``defragment`` and ``compact_revision``
work.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from kvstore.base import BaseStore
from kvstore.errors import KVStoreError
from kvstore.keys import MAX_REQUEST_BYTES
from kvstore.txn import Delete, Get, Put, Txn
from kvstore.types import (
    Capability,
    DeleteResult,
    LeaseGrant,
    LeaseInfo,
    PutResult,
    RangeResult,
    StatusInfo,
    TxnResult,
)
from kvstore.watch import QueueWatch, Watch, WatchRequest
from kvstore_sql._dialect import Dialect
from kvstore_sql._engine import Engine
from kvstore_sql._feed import Feed
from kvstore_sql._worker import Worker
from kvstore_sql.clock import Clock, WallClock

__all__ = ["SQLStore"]

_T = TypeVar("_T")


class SQLStore(BaseStore):
    """A store with etcd's semantics on a SQL database.

    Revisions, history and compaction, transactions, watches and leases behave as an etcd
    cluster's (and as ``MemoryStore``'s); every store on the database, in any process,
    sees the others' writes at once in its reads and in its watches. Build one through a
    database's class (``SQLiteStore``).

    Args:
        dialect: The database.
        clock: Lease expiry's clock (default: the wall clock, shared by the processes).
        auto_compact: Keep this many revisions of history (0: keep it all).
        max_txn_ops: Most compares or operations per transaction branch (etcd: 128).
        max_request_bytes: The request size limit (etcd: 1.5 MiB).

    Raises:
        ConfigurationError: The database cannot be opened or written, or holds a newer
            schema than this kvstore knows.
        BackendError: The database failed otherwise.
    """

    capabilities = frozenset(
        {Capability.LEASES, Capability.WATCH, Capability.TXN, Capability.HISTORY}
    )

    def __init__(
        self,
        dialect: Dialect,
        *,
        clock: Clock | None = None,
        auto_compact: int = 0,
        max_txn_ops: int = 128,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        super().__init__()
        self.dialect = dialect
        self.clock: Clock = clock if clock is not None else WallClock()
        self.max_txn_ops = max_txn_ops
        self.max_request_bytes = max_request_bytes
        self._feed = Feed(dialect, self.clock)
        try:
            self._engine = Engine.open(
                dialect,
                self.clock,
                auto_compact=auto_compact,
                on_change=self._feed.wake_neighbours,
            )
        except BaseException:
            self._feed.close()
            raise
        self._worker = Worker(f"kvstore-sql {dialect.description}")

    @property
    def system_name(self) -> str:
        """The database as OpenTelemetry's ``db.system.name`` names it: ``"sqlite"`` or
        ``"postgresql"`` (what ``TracingStore`` records)."""
        return self.dialect.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.dialect.description!r})"

    def _call(self, function: Callable[..., _T], *args: Any) -> _T:
        """``function(*args)``, a call of the store's engine, on the worker; again on a new
        connection while the connection was lost (``Engine.call``)."""
        return self._worker.run(lambda: self._engine.call(function, *args))

    # ------------------------------------------------------------------ primitives

    def do_range(self, request: Get) -> RangeResult:
        self._check_open("range")
        return self._call(self._engine.range, request)

    def do_put(self, request: Put) -> PutResult:
        self._check_open("put")
        return self._call(self._engine.put, request)

    def do_delete_range(self, request: Delete) -> DeleteResult:
        self._check_open("delete")
        return self._call(self._engine.delete_range, request)

    def do_txn(self, request: Txn) -> TxnResult:
        self._check_open("txn")
        return self._call(self._engine.txn, request)

    def do_watch(self, request: WatchRequest) -> Watch:
        self._check_open("watch")
        watch = QueueWatch(on_cancel=lambda: self._feed.remove(watch))
        self._feed.add(request, watch)
        return watch

    def watches_disconnected(self) -> contextlib.AbstractContextManager[None]:
        """Hold back every watch's events while the block runs, as a lost connection
        does; then each watch resumes from its first undelivered revision, or fails with
        ``CompactedError`` when that revision was compacted meanwhile (for tests of what
        consumers do then).

        Returns:
            A context manager: the watches are cut off inside its ``with`` block and resume when it
            ends.
        """
        return self._feed.disconnected()

    # ------------------------------------------------------------------ leases

    def lease_grant(self, ttl: int) -> LeaseGrant:
        """Grant a lease of ``ttl`` seconds (at least etcd's 2 s).

        Returns:
            A ``LeaseGrant``: the new lease's id and its TTL (``ttl``, raised to 2 as etcd does).

        Raises:
            InvalidArgumentError: ``ttl`` is not a positive int, or over etcd's largest.
            StoreClosedError: The store was closed.
            BackendError: The database failed the call.
        """
        self._check_open("lease_grant")
        return self._call(self._engine.lease_grant, ttl)

    def lease_revoke(self, lease_id: int) -> None:
        """Revoke a lease; its keys are deleted at one revision.

        Raises:
            LeaseNotFoundError: The lease is not live.
            StoreClosedError: The store was closed.
            BackendError: The database failed the call.
        """
        self._check_open("lease_revoke")
        self._call(self._engine.lease_revoke, lease_id)

    def lease_keepalive_once(self, lease_id: int) -> int:
        """Renew a lease once; its TTL.

        Returns:
            The lease's TTL in seconds after the renewal.

        Raises:
            LeaseNotFoundError: The lease is not live.
            StoreClosedError: The store was closed.
            BackendError: The database failed the call.
        """
        self._check_open("lease_keepalive")
        (result,) = self._call(self._engine.lease_keepalive, [lease_id])
        if isinstance(result, KVStoreError):
            raise result
        return result

    def lease_keepalive_many(self, lease_ids: Sequence[int]) -> builtins.list[int | KVStoreError]:
        """Renew several leases in one transaction (what this store's keep-alives call).

        Returns:
            For each lease, in order, its TTL or the ``KVStoreError`` its renewal got:
            ``LeaseNotFoundError`` for a lease that is not live; for all of them, the
            error of a call that failed as a whole (``StoreClosedError``, a
            ``BackendError``), as the base class's one-by-one renewal reports it.
        """
        try:
            self._check_open("lease_keepalive")
            return self._call(self._engine.lease_keepalive, list(lease_ids))
        except KVStoreError as exc:
            return [exc for _ in lease_ids]

    def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo:
        """A lease's remaining TTL in whole seconds (and its keys, if asked).

        Returns:
            A ``LeaseInfo``: remaining ``ttl`` and ``granted_ttl`` in seconds, and its ``keys`` when
            ``keys`` is true (else empty).

        Raises:
            LeaseNotFoundError: The lease is not live.
            StoreClosedError: The store was closed.
            BackendError: The database failed the call.
        """
        self._check_open("lease_time_to_live")
        return self._call(self._engine.lease_time_to_live, lease_id, keys)

    def lease_leases(self) -> builtins.list[int]:
        """The ids of the live leases, ascending.

        Returns:
            The ids of the live leases, ascending.

        Raises:
            StoreClosedError: The store was closed.
            BackendError: The database failed the call.
        """
        self._check_open("lease_leases")
        return self._call(self._engine.lease_leases)

    # ------------------------------------------------------------------ history and upkeep

    def compact_revision(self, revision: int, *, physical: bool = False) -> None:
        """Forget the history below ``revision``; reads and watches below it then fail.

        Compaction is always physical: the rows are gone when this returns (deleted in
        batches, each its own transaction, so writers wait for one batch at most).

        Raises:
            InvalidArgumentError: ``revision`` is not positive or is in the future.
            CompactedError: ``revision`` is at or below the compact revision.
            StoreClosedError: The store was closed.
            BackendError: The database failed the call.
        """
        self._check_open("compact")
        self._worker.run(self._compact, revision)

    def _compact(self, revision: int) -> None:
        # this store's watches get everything before it is compacted away
        self._feed.catch_up()
        self._engine.call(self._engine.compact, revision)

    def status(self) -> StatusInfo:
        """The database as a single member: its version, size in bytes, the store revision
        and the compact revision.

        Returns:
            A ``StatusInfo`` of the database as a one-member cluster: the database version and size,
            the member as its own leader, the store revision as the raft index (term 1), and the
            compact revision.

        Raises:
            StoreClosedError: The store was closed.
            BackendError: The database failed the call.
        """
        self._check_open("status")
        return self._call(self._engine.status)

    def defragment(self) -> None:
        """Give the database's free space back to the file system (``VACUUM``).

        Raises:
            StoreClosedError: The store was closed.
            OperationTimeoutError: Other connections kept the database busy.
            BackendError: The database failed the call.
        """
        self._check_open("defragment")
        self._call(self._engine.defragment)

    def close(self) -> None:
        """Close the store: keep-alives end (reporting their leases lost), watches end,
        the connections close. Idempotent."""
        if self._closed:
            return
        super().close()
        self._worker.run(self._feed.close)
        self._worker.run(self._engine.close)
        self._worker.close()
