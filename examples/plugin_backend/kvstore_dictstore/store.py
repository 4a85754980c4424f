"""``DictStore``: a complete kvstore backend in one file, written to be copied.

How to write a backend
======================

1. Subclass ``kvstore.BaseStore`` and implement the four primitives. Each receives a
   request from ``kvstore.txn``, already checked by ``BaseStore`` (keys, values, request
   size, and etcd's transaction rules: ``max_txn_ops``, no key written twice), and
   answers with a result from ``kvstore.types``:

   ============================  =====================  ==================
   primitive                     returns                etcd's call
   ============================  =====================  ==================
   ``do_range(Get)``             ``RangeResult``        KV.Range
   ``do_put(Put)``               ``PutResult``          KV.Put
   ``do_delete_range(Delete)``   ``DeleteResult``       KV.DeleteRange
   ``do_txn(Txn)``               ``TxnResult``          KV.Txn
   ============================  =====================  ==================

   Every convenience (``get``, ``list``, ``bulk_put``, ``compare_and_swap``, locks,
   elections ...) is written once in ``BaseStore`` on top of these.
2. Optionally implement ``do_watch(WatchRequest)``, the ``lease_*`` calls,
   ``compact_revision`` and the cluster calls (``status``, ``hash_kv`` ...), and declare
   them in ``capabilities`` (``Capability.TXN``, ``HISTORY``, ``WATCH``, ``LEASES``,
   ``CLUSTER``). What a backend leaves out raises ``UnsupportedOperationError``, and the
   conformance suite skips its tests.
3. Keep etcd's semantics: one store revision, from 1, +1 per write (all the writes of a
   transaction share one; deleting nothing writes nothing); per key ``create_revision``,
   ``mod_revision``, ``version`` and lease; a transaction's compares evaluated on the state
   before it. ``kvstore.ranges.apply_range_options`` applies a read's options (sort,
   create-revision bounds, ``limit`` and ``more``) and ``kvstore.txn.compare_holds``
   evaluates a compare, both as etcd does.
4. Prove it: subclass ``kvstore.testing.ConformanceSuite`` with a ``store`` fixture
   (``tests/test_dictstore_conformance.py``).

How this one works
==================

``_kvs`` maps each key to its current ``KeyValue``. ``_log`` lists every change since the
compact revision, as the ``WatchEvent`` a watcher gets, with the key-value before the
change: watches replay it, and the store as of an old revision is ``_kvs`` with the later
changes undone (simple, and as slow as there are changes since that revision: a
production backend indexes its history). One lock serves one call at a time. Leases
expire on the store's clock, checked at the start of every call: an etcd server also
expires them between calls, so here a watcher alone hears of an expiry only at the next
call anyone makes.
"""

from __future__ import annotations

import contextlib
import itertools
import operator
import threading
import time
from collections.abc import Callable, Iterable, Iterator

import attrs

from kvstore import BaseStore
from kvstore.errors import (
    CompactedError,
    InvalidArgumentError,
    KeyNotFoundError,
    LeaseNotFoundError,
)
from kvstore.keys import MAX_LEASE_TTL, MIN_LEASE_TTL, check_lease_id, check_revision, check_ttl
from kvstore.ranges import apply_range_options, in_range
from kvstore.txn import Delete, Get, Put, Txn, compare_holds
from kvstore.types import (
    Capability,
    DeleteResult,
    EventType,
    KeyValue,
    LeaseGrant,
    LeaseInfo,
    OpResult,
    PutResult,
    RangeResult,
    TxnResult,
    WatchEvent,
)
from kvstore.watch import QueueWatch, Watch, WatchRequest

__all__ = ["DictStore"]

_by_key = operator.attrgetter("key")


@attrs.frozen
class _Branch:
    """A transaction whose compares were evaluated: whether they held, and what runs."""

    succeeded: bool
    ops: tuple[Put | Get | Delete | _Branch, ...]

    def walk(self) -> Iterator[Put | Get | Delete]:
        """Every operation that will run, in order, with the nested transactions' in place."""
        for op in self.ops:
            if isinstance(op, _Branch):
                yield from op.walk()
            else:
                yield op


@attrs.define
class _Lease:
    ttl: int  # the TTL granted, in seconds
    expires_at: float  # on the store's clock


@attrs.frozen(eq=False)
class _Watcher:
    request: WatchRequest
    start_revision: int  # the first revision it wants
    watch: QueueWatch

    def send(self, events: Iterable[WatchEvent]) -> None:
        """Deliver, in order, the events of its range from its start revision on."""
        key, range_end, prev_kv = self.request.key, self.request.range_end, self.request.prev_kv
        self.watch.deliver(
            event if prev_kv else attrs.evolve(event, prev_kv=None)
            for event in events
            if event.revision >= self.start_revision and in_range(event.kv.key, key, range_end)
        )


class DictStore(BaseStore):
    """A store kept in a dict, with etcd's semantics: revisions, history and compaction,
    transactions, watches and leases.

    Args:
        clock: The time in seconds (monotonic), for lease expiry; tests pass a clock they
            move by hand.
        max_txn_ops: Most operations per transaction branch (etcd's ``--max-txn-ops``).
    """

    capabilities = frozenset(
        {Capability.TXN, Capability.HISTORY, Capability.WATCH, Capability.LEASES}
    )

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_txn_ops: int = 128
    ) -> None:
        super().__init__()
        self.clock = clock
        self.max_txn_ops = max_txn_ops
        self._lock = threading.RLock()
        self._revision = 1  # etcd's store revision starts at 1
        self._compacted = 0  # reads below this revision fail; 0: nothing compacted
        self._kvs: dict[str, KeyValue] = {}
        self._log: list[WatchEvent] = []
        self._write_start = 0  # the length of the log when the current write began
        self._leases: dict[int, _Lease] = {}
        self._lease_ids = itertools.count(1)
        self._watchers: list[_Watcher] = []

    def __repr__(self) -> str:
        return f"DictStore(keys={len(self._kvs)}, revision={self._revision})"

    # ------------------------------------------------------------------ the primitives

    def do_range(self, request: Get) -> RangeResult:
        with self._call("range"):
            self._check_revision(request.revision, "range", request.key)
            return self._get(request)

    def do_put(self, request: Put) -> PutResult:
        with self._call("put"):
            self._check_put(request)
            with self._write():
                return self._put(request)

    def do_delete_range(self, request: Delete) -> DeleteResult:
        with self._call("delete"), self._write():
            return self._delete(request)

    def do_txn(self, request: Txn) -> TxnResult:
        with self._call("txn"):
            branch = self._evaluate(request)
            self._check_branch(branch)  # may refuse the txn: nothing is written yet
            with self._write():
                result = self._run(branch)
            return _with_revision(result, self._revision)

    # ------------------------------------------------------------------ reads

    def _get(self, request: Get) -> RangeResult:
        """A range read, alone or in a transaction (it sees the transaction's writes)."""
        kvs = self._range(request.key, request.range_end, request.revision)
        shown, more = apply_range_options(kvs, request)
        return RangeResult(shown, len(kvs), more, self._revision)

    def _range(
        self, key: str, range_end: str | None, revision: int | None = None
    ) -> list[KeyValue]:
        """The key-values in the range as of ``revision`` (``None``: now), in key order."""
        state = self._kvs if revision is None else self._as_of(revision)
        if range_end is None:
            kv = state.get(key)
            return [] if kv is None else [kv]
        return sorted(
            (kv for kv in state.values() if in_range(kv.key, key, range_end)), key=_by_key
        )

    def _as_of(self, revision: int) -> dict[str, KeyValue]:
        """The store at ``revision``: the current key-values with the later changes undone."""
        state = dict(self._kvs)
        for event in reversed(self._log):
            if event.revision <= revision:
                break
            if event.prev_kv is None:  # the change created the key
                del state[event.kv.key]
            else:  # it replaced or deleted this key-value
                state[event.kv.key] = event.prev_kv
        return state

    def _check_revision(self, revision: int | None, operation: str, key: str | None = None) -> None:
        """Refuse to read a revision in the future, or one that compaction removed."""
        if revision is not None and revision > self._revision:
            raise InvalidArgumentError(
                f"{operation}: revision {revision} is in the future (current {self._revision})",
                key=key,
                operation=operation,
            )
        if revision is not None and revision < self._compacted:
            raise self._compacted_error(operation, revision, key)

    def _compacted_error(self, operation: str, revision: int, key: str | None) -> CompactedError:
        return CompactedError(
            f"{operation}: revision {revision} is compacted (compact revision {self._compacted})",
            compact_revision=self._compacted,
            key=key,
            operation=operation,
        )

    # ------------------------------------------------------------------ writes

    @contextlib.contextmanager
    def _call(self, operation: str) -> Iterator[None]:
        """Serve one call: one at a time, on an open store, after expiring due leases."""
        with self._lock:
            self._check_open(operation)
            self._expire_leases()
            yield

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """One write: its changes share one new revision (see ``_next_revision``), and the
        watchers get them when it is done. A write that changes nothing keeps the revision.
        """
        self._write_start = len(self._log)
        yield
        changes = self._log[self._write_start :]
        for watcher in self._watchers:
            watcher.send(changes)

    def _next_revision(self) -> int:
        """The revision of a change: a write's first change opens it, the others share it."""
        if len(self._log) == self._write_start:
            self._revision += 1
        return self._revision

    def _check_put(self, put: Put, operation: str = "put") -> None:
        """Refuse the puts etcd refuses: on a lease that is not live, or keeping the lease
        (``ignore_lease``) of a key that does not exist."""
        if put.lease and put.lease not in self._leases:
            raise LeaseNotFoundError(
                f"{operation}: lease {put.lease:#x} for key {put.key!r} not found",
                key=put.key,
                operation=operation,
            )
        if put.ignore_lease and put.key not in self._kvs:
            raise KeyNotFoundError(
                f"{operation}: ignore_lease needs an existing key, none found for key {put.key!r}",
                key=put.key,
                operation=operation,
            )

    def _put(self, put: Put) -> PutResult:
        old = self._kvs.get(put.key)
        revision = self._next_revision()
        lease = old.lease if old is not None and put.ignore_lease else put.lease or 0
        created, version = (old.create_revision, old.version + 1) if old else (revision, 1)
        kv = KeyValue(put.key, put.value, created, revision, version, lease)
        self._kvs[put.key] = kv
        self._log.append(WatchEvent(EventType.PUT, kv, old))
        return PutResult(revision, old if put.prev_kv else None)

    def _delete(self, delete: Delete) -> DeleteResult:
        doomed = self._range(delete.key, delete.range_end)
        for old in doomed:
            del self._kvs[old.key]
            # a delete event's key-value has only the key and the revision of the delete
            gone = KeyValue(old.key, b"", 0, self._next_revision(), 0, 0)
            self._log.append(WatchEvent(EventType.DELETE, gone, old))
        # as etcd: the new revision if this delete, or an earlier write of its transaction,
        # changed something; the current one otherwise
        return DeleteResult(self._revision, len(doomed), tuple(doomed) if delete.prev_kv else ())

    # ------------------------------------------------------------------ transactions

    def _evaluate(self, txn: Txn) -> _Branch:
        """Choose the branch of ``txn`` and of the transactions nested in it, all on the
        state before the transaction: etcd evaluates every compare first."""
        succeeded = all(compare_holds(c, self._range(c.key, c.range_end)) for c in txn.compares)
        chosen = txn.success if succeeded else txn.failure
        return _Branch(
            succeeded, tuple(self._evaluate(op) if isinstance(op, Txn) else op for op in chosen)
        )

    def _check_branch(self, branch: _Branch) -> None:
        """Refuse what etcd refuses before writing anything, in its order
        (``checkRequests``): every put of the chosen branches, then every read's revision."""
        ops = list(branch.walk())
        for put in (op for op in ops if isinstance(op, Put)):
            self._check_put(put, "txn")
        for get in (op for op in ops if isinstance(op, Get)):
            self._check_revision(get.revision, "txn", get.key)

    def _run(self, branch: _Branch) -> TxnResult:
        """Apply a chosen branch in order: each operation sees the writes before it."""
        return TxnResult(branch.succeeded, tuple(map(self._apply, branch.ops)), 0)

    def _apply(self, op: Put | Get | Delete | _Branch) -> OpResult:
        if isinstance(op, _Branch):
            return self._run(op)
        if isinstance(op, Put):
            return self._put(op)
        if isinstance(op, Delete):
            return self._delete(op)
        return self._get(op)

    # ------------------------------------------------------------------ watches

    def do_watch(self, request: WatchRequest) -> Watch:
        with self._call("watch"):
            watch = QueueWatch(on_cancel=lambda: self._unwatch(watcher))
            start = request.start_revision or self._revision + 1  # None: from the next one
            watcher = _Watcher(request, start, watch)
            if start < self._compacted:
                watch.fail(self._compacted_error("watch", start, request.key))
                return watch
            watcher.send(self._log)  # replay: the log holds every change not compacted
            self._watchers.append(watcher)
            return watch

    def _unwatch(self, watcher: _Watcher) -> None:
        with self._lock, contextlib.suppress(ValueError):  # close() removed it already
            self._watchers.remove(watcher)

    # ------------------------------------------------------------------ leases

    def lease_grant(self, ttl: int) -> LeaseGrant:
        check_ttl(ttl, operation="lease_grant")
        if ttl > MAX_LEASE_TTL:  # etcd: "too large lease TTL"
            raise InvalidArgumentError(
                f"lease_grant: ttl {ttl} is over etcd's largest, {MAX_LEASE_TTL} s",
                operation="lease_grant",
            )
        with self._call("lease_grant"):
            lease_id, granted = next(self._lease_ids), max(ttl, MIN_LEASE_TTL)
            self._leases[lease_id] = _Lease(granted, self.clock() + granted)
            return LeaseGrant(lease_id, granted)

    def lease_revoke(self, lease_id: int) -> None:
        with self._live_lease(lease_id, "lease_revoke"):
            self._revoke(lease_id)

    def lease_keepalive_once(self, lease_id: int) -> int:
        with self._live_lease(lease_id, "lease_keepalive") as lease:
            lease.expires_at = self.clock() + lease.ttl
            return lease.ttl

    def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo:
        with self._live_lease(lease_id, "lease_time_to_live") as lease:
            remaining = int(lease.expires_at - self.clock())  # etcd truncates to seconds
            attached = tuple(self._leased_keys(lease_id)) if keys else ()
            return LeaseInfo(lease_id, max(remaining, 0), lease.ttl, attached)

    def lease_leases(self) -> list[int]:
        with self._call("lease_leases"):
            return sorted(self._leases)

    @contextlib.contextmanager
    def _live_lease(self, lease_id: int, operation: str) -> Iterator[_Lease]:
        """Serve a call on a lease (``_call``), refusing a lease that is not live."""
        check_lease_id(lease_id, operation=operation)
        with self._call(operation):
            lease = self._leases.get(lease_id)
            if lease is None:
                raise LeaseNotFoundError(
                    f"{operation}: lease {lease_id:#x} not found", operation=operation
                )
            yield lease

    def _leased_keys(self, lease_id: int) -> list[str]:
        return sorted(key for key, kv in self._kvs.items() if kv.lease == lease_id)

    def _revoke(self, lease_id: int) -> None:
        """Drop a lease and delete its keys in key order, in one write (as etcd)."""
        del self._leases[lease_id]
        with self._write():
            for key in self._leased_keys(lease_id):
                self._delete(Delete(key))

    def _expire_leases(self) -> None:
        """Revoke the leases whose time is up, the earliest first, each at its revision."""
        now = self.clock()
        due = sorted(
            (lease.expires_at, i) for i, lease in self._leases.items() if lease.expires_at <= now
        )
        for _, lease_id in due:
            self._revoke(lease_id)

    # ------------------------------------------------------------------ history

    def compact_revision(self, revision: int, *, physical: bool = False) -> None:
        check_revision(revision, operation="compact")
        with self._call("compact"):
            self._check_revision(revision, "compact")
            if revision == self._compacted:
                raise self._compacted_error("compact", revision, None)
            self._compacted = revision
            # Of the changes at the compact revision itself, etcd keeps what a watch starting
            # there gets: the puts, without prev_kv (the revision before is gone). They are
            # never undone, since no read goes below the compact revision.
            kept = [
                attrs.evolve(event, prev_kv=None)
                for event in self._log
                if event.revision == revision and event.type is EventType.PUT
            ]
            self._log = kept + [event for event in self._log if event.revision > revision]

    def close(self) -> None:
        with self._lock:
            watchers, self._watchers = self._watchers, []
        super().close()  # ends the keep-alives, which call the store: not under the lock
        for watcher in watchers:
            watcher.watch.cancel()


def _with_revision(result: TxnResult, revision: int) -> TxnResult:
    """Give a transaction, and those nested in it, the revision it ended at (etcd leaves a
    nested one's to the client, which takes the outer one's)."""
    responses = tuple(
        _with_revision(r, revision) if isinstance(r, TxnResult) else r for r in result.responses
    )
    return TxnResult(result.succeeded, responses, revision)
