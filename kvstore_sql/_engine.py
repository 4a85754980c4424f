"""``Engine``: etcd's primitives on one database connection, written once for every database.

Both stores of each database run it: the sync store calls it directly, the asyncio store
on its worker thread (``kvstore_sql._async._worker``); the watch feed runs two more
engines, one to read the log and one to reap leases. etcd's semantics come from
``kvstore.semantics.Evaluator``, which ``MemoryStore`` uses too (the same checks, in the
same order, with the same errors); the engine supplies the statements:

- Every call is one database transaction. A write takes the database's write lock first
  (``Dialect.begin_writing``), reads the store revision from the counter row, and moves it
  by one if it changed anything: revisions are gapless, in commit order, one per write
  transaction whatever it writes; reads and failed compares leave the counter alone.
- A write's statements go through ``_write``: where the dialect ``defers_writes``, they
  are held back until the transaction's next read or its ``COMMIT`` and sent with it
  (PostgreSQL: a put is two round trips to the server, its key's row read with the
  counter row).
- Leases whose time is up are revoked at the start of every call, each at a revision of
  its own, by whichever store (of any process) gets there first: the write lock makes
  it exactly once. A read that finds one due revokes it in a write transaction of its
  own, then reads.
- A transaction evaluates every compare, nested ones included, on the state before it,
  checks the leases and read revisions of the branches chosen, then applies them in
  order; a read in it sees its earlier writes.
- History is the log (``kv_log``): a read at an old revision takes each key's latest
  write at or before it; compaction deletes what no such read can reach, in batches of
  their own transactions, after the new compact revision is recorded.

No driver exception leaves it: every statement runs inside ``map_errors``.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import attrs

import kvstore_sql._statements as sql
from kvstore.errors import (
    BackendError,
    CompactedError,
    IndeterminateError,
    KVStoreError,
    LeaseNotFoundError,
    StoreClosedError,
    UnavailableError,
)
from kvstore.keys import check_lease_id, check_revision
from kvstore.ranges import apply_range_options
from kvstore.semantics import Change, Evaluator, granted_ttl, lease_not_found, txn_writes
from kvstore.txn import Delete, Get, Put, Txn
from kvstore.types import (
    DeleteResult,
    EventType,
    KeyValue,
    LeaseGrant,
    LeaseInfo,
    PutResult,
    RangeResult,
    SortOrder,
    SortTarget,
    StatusInfo,
    TxnResult,
    WatchEvent,
)
from kvstore_sql._dialect import Connection, Dialect, Write
from kvstore_sql._errors import map_errors
from kvstore_sql._schema import ensure_schema
from kvstore_sql.clock import Clock

__all__ = ["Changes", "Engine"]

_MAX_INT64 = 2**63 - 1
"""The largest integer a database column holds: a larger lease id names no lease."""

PURGE_BATCH = 1000
"""History rows examined per compaction transaction (writers wait for one batch at most)."""

_MEMBER_ID = 1

RECONNECT_SECONDS = 15.0
"""How long a call keeps trying new connections after its database connection was lost
(the server restarting, the network breaking) before it raises ``UnavailableError``."""

_RETRY_DELAYS = (0.02, 1.0)
"""The first and the longest wait between attempts on a new connection."""

_T = TypeVar("_T")

_log = logging.getLogger(__name__)


@attrs.frozen
class Changes:
    """A span of the write log, read for the watch feed.

    Attributes:
        revision: The store revision when it was read.
        compacted: The compact revision then: the span starts at it or later.
        last: The last revision of the span (every write up to it is in ``events``).
        events: The writes, in commit order, each with ``prev_kv`` (watches that did not
            ask for it drop it).
    """

    revision: int
    compacted: int
    last: int
    events: tuple[WatchEvent, ...]


class Engine(Evaluator):
    """etcd's primitives on one connection to a database.

    Not thread-safe: one call at a time (the stores serialize them).

    Args:
        dialect: The database.
        connection: A connection from ``dialect.connect``; the engine closes it.
        clock: Lease expiry's clock (wall time).
        auto_compact: Keep this many revisions of history, compacting after writes (0: off).
        on_change: Called after a transaction that changed keys committed (wakes watches).
    """

    def __init__(
        self,
        dialect: Dialect,
        connection: Connection,
        clock: Clock,
        *,
        auto_compact: int = 0,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.dialect = dialect
        self.clock = clock
        self.auto_compact = auto_compact
        self._connection = connection
        self._on_change = on_change
        self._revision = 0  # these three: as the current transaction read them
        self._compacted = 0
        self._next_expiry: float | None = None
        self._wrote = False
        self._writes: list[Write] = []  # held back (``Dialect.defers_writes``)
        self._prefetched: tuple[str, list[KeyValue]] | None = None  # read with the counter
        self._closed = False
        self.reconnect_timeout = RECONNECT_SECONDS
        """Seconds ``call`` keeps trying new connections after a lost one."""

    @classmethod
    def open(
        cls,
        dialect: Dialect,
        clock: Clock,
        *,
        create: bool = True,
        operation: str = "open",
        auto_compact: int = 0,
        on_change: Callable[[], None] | None = None,
    ) -> Engine:
        """Connect, and create the tables or check their version (``create``).

        Raises:
            ConfigurationError: The database cannot be opened or written, or holds a
                schema of another version.
            BackendError: The database failed otherwise.
        """
        connection = dialect.connect(operation)
        try:
            if create:
                ensure_schema(connection, dialect, operation)
        except BaseException:
            with contextlib.suppress(Exception):
                connection.close()
            raise
        return cls(dialect, connection, clock, auto_compact=auto_compact, on_change=on_change)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(*self.dialect.driver_errors):
            self._connection.close()

    # ------------------------------------------------------------------ lost connections

    def call(self, function: Callable[..., _T], *args: Any) -> _T:
        """``function(*args)``, one of this engine's calls, again on a new connection while
        the connection was lost before the call could commit (for up to
        ``reconnect_timeout`` seconds, waiting 20 ms to 1 s between attempts): a read is
        retried, and so is a write, whose transaction never committed (the database rolls
        back a transaction whose connection is gone). What the stores call.

        Raises:
            IndeterminateError: The connection was lost while the write committed: its
                outcome is unknown (never retried).
            UnavailableError: The database was still unreachable at the end; nothing was
                written.
            KVStoreError: As ``function``.
        """
        deadline: float | None = None
        delay, longest = _RETRY_DELAYS
        operation = getattr(function, "__name__", "call")
        while True:
            try:
                if self.dialect.connection_lost(self._connection):
                    self._reconnect(operation)
                return function(*args)
            except IndeterminateError:
                raise
            except UnavailableError:
                if not self.dialect.connection_lost(self._connection):
                    raise  # not a lost connection: an answer of the database
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.reconnect_timeout
                if now + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, longest)

    def _reconnect(self, operation: str) -> None:
        """Replace the lost connection with a new one (the old one stays on failure).

        Raises:
            UnavailableError: The database cannot be reached.
        """
        self._check_usable(operation)
        fresh = self.dialect.connect(operation)
        with contextlib.suppress(*self.dialect.driver_errors):
            self._connection.close()
        self._connection = fresh

    # ------------------------------------------------------------------ transactions

    def _execute(self, statement: str, parameters: Sequence[Any] = ()) -> Any:
        """Run a read (after the writes held back, which it may need to see)."""
        if self._writes:
            writes, self._writes = self._writes, []
            self.dialect.write(self._connection, writes)
        return self._connection.execute(self.dialect.sql(statement), parameters)

    def _write(self, statement: str, parameters: Sequence[Any]) -> None:
        """Run a write of the current transaction, or hold it back (``defers_writes``)."""
        self._prefetched = None
        if self.dialect.defers_writes:
            self._writes.append((statement, parameters))
        else:
            self._execute(statement, parameters)

    def _rollback(self) -> None:
        self._writes, self._prefetched = [], None
        with contextlib.suppress(*self.dialect.driver_errors):
            self.dialect.rollback(self._connection)

    def _load_meta(self, row: Any = None) -> None:
        """Read the counter row (or take ``row``, already read from ``sql.META``)."""
        if row is None:
            row = self._execute(sql.META).fetchone()
        if row is None:
            raise BackendError(f"the database {self.dialect.description} has no kv_meta row")
        self._revision, self._compacted = int(row[0]), int(row[1])
        self._next_expiry = None if row[2] is None else float(row[2])

    def _now(self) -> float:
        """Lease time: the store's clock, or the database's (``Dialect.now``)."""
        return self.dialect.now(self._connection, self.clock)

    def _lease_due(self) -> bool:
        return self._next_expiry is not None and self._next_expiry <= self._now()

    @contextlib.contextmanager
    def _reading(
        self, operation: str, key: str | None = None, *, expire: bool = True
    ) -> Iterator[None]:
        """A read transaction (one snapshot), after revoking the leases that are due."""
        self._check_usable(operation)
        while True:
            with map_errors(self.dialect, operation, key=key):
                self.dialect.begin(self._connection, write=False)
                try:
                    self._load_meta()
                    due = expire and self._lease_due()
                except BaseException:
                    self._rollback()
                    raise
            if not due:
                break
            self._rollback()
            with self._writing(operation, key):
                pass  # a write transaction revokes what is due
        try:
            with map_errors(self.dialect, operation, key=key):
                yield
        except BaseException:
            self._rollback()
            raise
        with map_errors(self.dialect, operation, key=key):
            self.dialect.commit(self._connection)

    @contextlib.contextmanager
    def _writing(
        self, operation: str, key: str | None = None, *, prefetch: str | None = None
    ) -> Iterator[None]:
        """A write transaction: the write lock, the counter, the due leases revoked.
        ``prefetch``: a key whose current row is read with the counter row (a put's)."""
        self._check_usable(operation)
        self._wrote = False
        self._writes, self._prefetched = [], None
        try:
            with map_errors(self.dialect, operation, key=key):
                reads = [] if prefetch is None else [(sql.CURRENT_KEY, (prefetch.encode(),))]
                row, rows = self.dialect.begin_writing(self._connection, sql.META, reads)
                self._load_meta(row)
                if prefetch is not None:
                    self._prefetched = (prefetch, [_key_value(found) for found in rows[0]])
                self._expire_due_leases()
                yield
        except BaseException:
            self._rollback()
            raise
        writes, self._writes, self._prefetched = self._writes, [], None
        try:
            with map_errors(self.dialect, operation, key=key, committing=True):
                self.dialect.commit(self._connection, writes)
        except BaseException:
            self._rollback()
            raise
        if self._wrote and self._on_change is not None:
            self._on_change()

    def _check_usable(self, operation: str) -> None:
        if self._closed:  # a call that passed the store's check as the store closed
            raise StoreClosedError(f"{operation}: the store is closed", operation=operation)

    # ------------------------------------------------------------------ reads

    def range(self, request: Get) -> RangeResult:
        """``do_range``.

        Raises:
            InvalidArgumentError: The revision is in the future.
            CompactedError: The revision is below the compact revision.
        """
        if request.is_plain:
            found = self._plain_get(request.key)
            if found is not None:
                return found
        with self._reading("range", request.key):
            if request.is_plain:
                kvs = self._select(request.key, None)
                return RangeResult(tuple(kvs), len(kvs), False, self._revision)
            self.check_read_revision(request.revision, request.key, "range")
            return self._range(request, self._revision)

    def _plain_get(self, key: str) -> RangeResult | None:
        """``get``'s read in one statement, outside any explicit transaction (one
        statement is one snapshot in autocommit mode): the key and the store's revision
        together. ``None`` when a lease is due (the full read revokes it first)."""
        self._check_usable("range")
        with map_errors(self.dialect, "range", key=key):
            row = self._execute(sql.PLAIN_GET, (key.encode(),)).fetchone()
            if row is None:
                return None
            if row[2] is not None and float(row[2]) <= self._now():
                return None
        self._revision, self._compacted = int(row[0]), int(row[1])
        kvs = () if row[3] is None else (_key_value(row[3:]),)
        return RangeResult(kvs, len(kvs), False, self._revision)

    def _range(self, read: Get, header_revision: int) -> RangeResult:
        """etcd's ``applierV3backend.Range``: count the range, then bound, sort, limit.

        ``header_revision`` is the revision of the view read: inside a transaction that
        has written, the transaction's own revision, so that a read at the revision before
        it does not see its writes (it reads that revision from the log)."""
        at = (
            read.revision if read.revision is not None and read.revision < header_revision else None
        )
        count = self._count(read.key, read.range_end, at)
        if read.count_only:
            return RangeResult((), count, False, header_revision)
        whole_range = (
            read.sort_order not in (None, SortOrder.NONE)
            or read.min_create_revision
            or read.max_create_revision
        )
        limit = read.limit + 1 if read.limit > 0 and not whole_range else None
        values = not read.keys_only or read.sort_target is SortTarget.VALUE
        kvs = self._select(read.key, read.range_end, at, limit=limit, values=values)
        shown, more = apply_range_options(kvs, read)
        return RangeResult(shown, count, more, header_revision)

    def _select(
        self,
        key: str,
        range_end: str | None,
        revision: int | None = None,
        *,
        limit: int | None = None,
        values: bool = True,
    ) -> list[KeyValue]:
        """The key-values of a range, in key order: now, or as of ``revision``."""
        prefetched = self._prefetched
        plain = range_end is None and revision is None and limit is None and values
        if plain and prefetched is not None and prefetched[0] == key:
            return list(prefetched[1])
        condition, parameters = sql.range_condition(key, range_end)
        params: list[object] = list(parameters)
        if revision is None:
            statement = (
                sql.CURRENT.format(value="value" if values else "NULL")
                + f" WHERE {condition} ORDER BY key"
            )
        else:
            statement = sql.PAST.format(value="l.value" if values else "NULL", condition=condition)
            params.append(revision)
        if limit is not None:
            statement += " LIMIT ?"
            params.append(limit)
        return [_key_value(row) for row in self._execute(statement, params).fetchall()]

    def _count(self, key: str, range_end: str | None, revision: int | None) -> int:
        condition, parameters = sql.range_condition(key, range_end)
        if revision is None:
            row = self._execute(sql.COUNT_CURRENT.format(condition=condition), parameters)
        else:
            statement = sql.COUNT_PAST.format(condition=condition)
            row = self._execute(statement, [*parameters, revision])
        return int(row.fetchone()[0])

    # ------------------------------------------------------------------ writes

    def put(self, request: Put) -> PutResult:
        """``do_put``.

        Raises:
            LeaseNotFoundError: The lease is not live.
            KeyNotFoundError: ``ignore_lease`` on a key that does not exist.
        """
        with self._writing("put", request.key, prefetch=request.key):
            result = self.evaluate_put(request)
        self._compact_automatically()
        return result

    def delete_range(self, request: Delete) -> DeleteResult:
        """``do_delete_range``."""
        with self._writing("delete", request.key):
            result = self.evaluate_delete(request)
        self._compact_automatically()
        return result

    def txn(self, request: Txn) -> TxnResult:
        """``do_txn``.

        Raises:
            LeaseNotFoundError: A put of the chosen branches names a lease that is not live.
            KeyNotFoundError: An ``ignore_lease`` put of the chosen branches on a key that
                does not exist.
            InvalidArgumentError: A read of the chosen branches is at a future revision.
            CompactedError: A read of the chosen branches is below the compact revision.
        """
        if not (txn_writes(request.success) or txn_writes(request.failure)):
            with self._reading("txn"):  # compares and reads only: no write lock
                return self.evaluate_txn(request)
        with self._writing("txn"):
            result = self.evaluate_txn(request)
        self._compact_automatically()
        return result

    # ------------------------------------------------------------------ Evaluator's hooks

    def store_revision(self) -> int:
        return self._revision

    def compacted_revision(self) -> int:
        return self._compacted

    def current_range(self, key: str, range_end: str | None) -> list[KeyValue]:
        return self._select(key, range_end)

    def key_exists(self, key: str) -> bool:
        return self._execute(sql.KEY_EXISTS, (key.encode(),)).fetchone() is not None

    def read(self, request: Get, header_revision: int) -> RangeResult:
        return self._range(request, header_revision)

    def commit(self, change: Change) -> None:
        """Move the counter to the change's revision, if it wrote anything."""
        if not change.writes:
            return
        self._revision = change.revision
        for statement, parameters in self.dialect.revision_writes(change.revision):
            self._write(statement, parameters)
        self._wrote = True

    def apply_put(self, put: Put, change: Change) -> PutResult:
        revision = change.revision
        key = put.key.encode()
        found = self._select(put.key, None)
        old = found[0] if found else None
        lease = old.lease if put.ignore_lease and old is not None else put.lease or 0
        if old is None:
            kv = KeyValue(put.key, put.value, revision, revision, 1, lease)
            self._write(sql.INSERT_CURRENT, (key, revision, revision, 1, lease, put.value))
        else:
            kv = KeyValue(put.key, put.value, old.create_revision, revision, old.version + 1, lease)
            self._write(sql.UPDATE_CURRENT, (revision, kv.version, lease, put.value, key))
        place = change.next_write()
        row = (revision, place, key, kv.create_revision, kv.version, lease, put.value, 0)
        self._write(sql.INSERT_LOG, row)
        return PutResult(revision, old if put.prev_kv else None)

    def apply_delete(self, delete: Delete, change: Change) -> DeleteResult:
        revision = change.revision
        doomed = self._select(delete.key, delete.range_end, values=delete.prev_kv)
        if doomed:
            condition, parameters = sql.range_condition(delete.key, delete.range_end)
            self._write(sql.DELETE_CURRENT.format(condition=condition), parameters)
            tombstones = [
                (revision, change.next_write(), kv.key.encode(), 0, 0, 0, b"", 1) for kv in doomed
            ]
            if self.dialect.defers_writes:
                self._writes.extend((sql.INSERT_LOG, row) for row in tombstones)
            else:
                self.dialect.execute_many(self._connection, sql.INSERT_LOG, tombstones)
        kvs = tuple(doomed) if delete.prev_kv else ()
        return DeleteResult(change.view_revision, len(doomed), kvs)

    # ------------------------------------------------------------------ leases

    def lease_grant(self, ttl: int) -> LeaseGrant:
        """``lease_grant``: etcd's bounds (at least 2 s, at most ``MAX_LEASE_TTL``).

        Raises:
            InvalidArgumentError: ``ttl`` is not a positive int, or over the maximum.
        """
        granted = granted_ttl(ttl)
        with self._writing("lease_grant"):
            lease_id = secrets.randbits(62) + 1
            while self.lease_exists(lease_id):
                lease_id = secrets.randbits(62) + 1
            self._write(sql.INSERT_LEASE, (lease_id, granted, self._now() + granted))
        return LeaseGrant(lease_id, granted)

    def lease_revoke(self, lease_id: int) -> None:
        """``lease_revoke``: the lease's keys are deleted at one revision.

        Raises:
            LeaseNotFoundError: The lease is not live.
        """
        check_lease_id(lease_id, operation="lease_revoke")
        with self._writing("lease_revoke"):
            self._live_lease(lease_id, "lease_revoke")
            self._drop_lease(lease_id)

    def lease_keepalive(self, lease_ids: Sequence[int]) -> list[int | KVStoreError]:
        """Renew leases once each, in one transaction: each one's TTL, or the
        ``LeaseNotFoundError`` of a lease that is not live."""
        for lease_id in lease_ids:
            check_lease_id(lease_id, operation="lease_keepalive")
        results: list[int | KVStoreError] = []
        with self._writing("lease_keepalive"):
            now = self._now()
            for lease_id in lease_ids:
                try:
                    ttl, _ = self._live_lease(lease_id, "lease_keepalive")
                except LeaseNotFoundError as exc:
                    results.append(exc)
                    continue
                self._write(sql.RENEW_LEASE, (now + ttl, lease_id))
                results.append(ttl)
        return results

    def lease_time_to_live(self, lease_id: int, keys: bool = False) -> LeaseInfo:
        """``lease_time_to_live``: the remaining TTL truncated to whole seconds, as etcd.

        Raises:
            LeaseNotFoundError: The lease is not live.
        """
        check_lease_id(lease_id, operation="lease_time_to_live")
        with self._reading("lease_time_to_live"):
            ttl, expires_at = self._live_lease(lease_id, "lease_time_to_live")
            remaining = int(expires_at - self._now())
            attached = tuple(self._leased_keys(lease_id)) if keys else ()
            return LeaseInfo(lease_id, max(remaining, 0), ttl, attached)

    def lease_leases(self) -> list[int]:
        """``lease_leases``: the live leases' ids, ascending."""
        with self._reading("lease_leases"):
            return [int(row[0]) for row in self._execute(sql.LEASES).fetchall()]

    def lease_exists(self, lease_id: int) -> bool:
        if lease_id > _MAX_INT64:
            return False
        return self._execute(sql.LEASE_EXISTS, (lease_id,)).fetchone() is not None

    def _live_lease(self, lease_id: int, operation: str) -> tuple[int, float]:
        row = None
        if lease_id <= _MAX_INT64:
            row = self._execute(sql.LEASE_STATE, (lease_id,)).fetchone()
        if row is None:
            raise lease_not_found(lease_id, operation)
        return int(row[0]), float(row[1])

    def _leased_keys(self, lease_id: int) -> list[str]:
        rows = self._execute(sql.LEASED_KEYS, (lease_id,)).fetchall()
        return [bytes(row[0]).decode() for row in rows]

    def _drop_lease(self, lease_id: int) -> None:
        """Revoke a lease in the current write transaction: its keys go at one revision."""
        self._write(sql.DELETE_LEASE, (lease_id,))
        self.evaluate_drop_lease(self._leased_keys(lease_id))

    def _expire_due_leases(self) -> None:
        """Revoke the leases whose time is up, the earliest first, each at its revision."""
        if not self._lease_due():
            return
        due = self._execute(sql.DUE_LEASES, (self._now(),)).fetchall()
        for (lease_id,) in due:
            self._drop_lease(int(lease_id))

    def expire_leases(self, operation: str = "lease_expiry") -> None:
        """Revoke the leases that are due, if any (the watch feed's reaper calls it)."""
        with self._reading(operation):
            pass

    # ------------------------------------------------------------------ history

    def compact(self, revision: int) -> None:
        """``compact_revision``: record the compact revision, then delete the history
        below it in batches (each its own transaction).

        Raises:
            InvalidArgumentError: ``revision`` is not positive or is in the future.
            CompactedError: ``revision`` is at or below the compact revision.
        """
        check_revision(revision, operation="compact")
        with self._writing("compact"):
            self.check_compact(revision)
            self._write(sql.SET_COMPACT_REVISION, (revision,))
            self._compacted = revision
        self._purge(revision)

    def _purge(self, revision: int) -> None:
        """Delete the log rows no read at or after ``revision`` reaches, a batch at a time."""
        after: tuple[int, int] = (0, -1)
        while True:
            with self._writing("compact"):
                end = self._execute(
                    sql.LOG_BATCH_END, (*after, revision, PURGE_BATCH - 1)
                ).fetchone()
                upto = (revision, _MAX_INT64) if end is None else (int(end[0]), int(end[1]))
                self._write(sql.PURGE, (*after, *upto, revision, revision))
            if end is None:
                return
            after = upto

    def _compact_automatically(self) -> None:
        """With ``auto_compact`` N, compact to N revisions back once a tenth of N (at
        least one) has passed since the last compaction.

        The write before it has committed: a compaction that fails is logged and left to
        the next write, never raised (``call`` would run the committed write again)."""
        if not self.auto_compact or not self._wrote:
            return
        target = self._revision - self.auto_compact
        if target < 1 or target - self._compacted < max(1, self.auto_compact // 10):
            return
        try:
            self.compact(target)
        except CompactedError:
            pass  # another store compacted further
        except KVStoreError as exc:
            _log.warning("auto-compaction to revision %d failed: %s", target, exc)

    # ------------------------------------------------------------------ watch feed

    def revisions(self, operation: str, key: str | None = None) -> tuple[int, int]:
        """The store revision and the compact revision, read now."""
        with self._reading(operation, key, expire=False):
            return self._revision, self._compacted

    def changes(self, first: int, batch: int) -> Changes:
        """The writes from revision ``first`` (or the compact revision, if later) on, at
        most ``batch`` revisions of them, as watch events.

        As etcd serves a watch from the compact revision: the deletes at it are gone, and
        the puts at it come without ``prev_kv`` (the revision before is compacted).
        """
        with self._reading("watch", expire=False):
            revision, compacted = self._revision, self._compacted
            first = max(first, compacted)
            last = min(revision, first + batch - 1)
            if last < first:
                return Changes(revision, compacted, last, ())
            rows = self._execute(sql.EVENTS, (first, last)).fetchall()
        events = []
        for row in rows:
            at_compaction = int(row[0]) == compacted
            if row[6] and at_compaction:
                continue
            events.append(_event(row, with_prev=not at_compaction))
        return Changes(revision, compacted, last, tuple(events))

    def change_detector(self) -> Callable[[], bool]:
        """``Dialect.change_detector`` on this engine's connection, errors translated."""
        detect = self.dialect.change_detector(self._connection)

        def changed() -> bool:
            self._check_usable("watch")
            with map_errors(self.dialect, "watch"):
                return detect()

        return changed

    # ------------------------------------------------------------------ maintenance

    def status(self) -> StatusInfo:
        """``status``: the database as a single member (size, revision, compact revision)."""
        with self._reading("status"):
            size = self.dialect.database_size(self._connection)
            version = self.dialect.server_version(self._connection)
            return StatusInfo(
                version,
                size,
                _MEMBER_ID,
                _MEMBER_ID,
                self._revision,
                1,
                self._revision,
                self._compacted,
            )

    def defragment(self) -> None:
        """``defragment``: ``VACUUM`` (outside any transaction)."""
        self._check_usable("defragment")
        with map_errors(self.dialect, "defragment"):
            self.dialect.vacuum(self._connection)


def _key_value(row: Sequence[Any]) -> KeyValue:
    value = b"" if row[5] is None else bytes(row[5])
    return KeyValue(
        bytes(row[0]).decode(), value, int(row[1]), int(row[2]), int(row[3]), int(row[4])
    )


def _event(row: Sequence[Any], *, with_prev: bool) -> WatchEvent:
    """A watch event from an ``EVENTS`` row (the write, then the one before it)."""
    key = bytes(row[1]).decode()
    revision = int(row[0])
    prev = None
    if with_prev and row[8] is not None and not row[12]:
        prev = KeyValue(key, bytes(row[11]), int(row[7]), int(row[8]), int(row[9]), int(row[10]))
    if row[6]:
        # a delete event's key-value has only the key and the revision of the delete
        return WatchEvent(EventType.DELETE, KeyValue(key, b"", 0, revision, 0, 0), prev)
    kv = KeyValue(key, bytes(row[5]), int(row[2]), revision, int(row[3]), int(row[4]))
    return WatchEvent(EventType.PUT, kv, prev)
