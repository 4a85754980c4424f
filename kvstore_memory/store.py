"""``MemoryStore``: an in-memory store with etcd's semantics, for unit tests of applications.

What it models, as etcd 3.5 does:

- one store-wide revision: starts at 1, +1 per write transaction (a transaction with
  several writes gets one revision), unchanged by reads and by deleting a missing key;
- per key ``create_revision``, ``mod_revision``, ``version`` (reset by delete) and lease;
- history until compacted: reads and watches at old revisions; below the compact revision
  they raise ``CompactedError``; reading at the compact revision works;
- leases with etcd's 2 s minimum TTL, expiring on an injectable clock; expiry and revoke
  delete the lease's keys at one revision and emit DELETE events;
- watches from now or from a start revision, with ``prev_kv``;
- transactions with etcd's limits (``max_txn_ops``, no key written twice, request size),
  compares evaluated on the state before the transaction, as etcd does.

Cluster calls answer as a single-member cluster: ``status``, ``member_list``, ``alarms``
(none), ``hash_kv``, ``compact_revision`` work; ``defragment`` does nothing.
"""

from __future__ import annotations

import bisect
import builtins
import contextlib
import math
import secrets
import threading
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol, TypeVar

import attrs

from kvstore.base import BaseStore
from kvstore.errors import CompactedError
from kvstore.keys import (
    ALL_KEYS,
    MAX_REQUEST_BYTES,
    MIN_LEASE_TTL,
    check_lease_id,
    check_revision,
)
from kvstore.ranges import apply_range_options, in_range
from kvstore.semantics import Change, Evaluator, granted_ttl, lease_not_found
from kvstore.txn import Delete, Get, Put, Txn
from kvstore.types import (
    AlarmInfo,
    Capability,
    DeleteResult,
    EventType,
    HashInfo,
    KeyValue,
    LeaseGrant,
    LeaseInfo,
    MemberInfo,
    PutResult,
    RangeResult,
    StatusInfo,
    TxnResult,
    WatchEvent,
)
from kvstore.watch import QueueWatch, Watch, WatchRequest
from kvstore_memory.clock import Clock, ManualClock, SystemClock

__all__ = ["MIN_LEASE_TTL", "MemoryStore"]

_MEMBER_ID = 1
_EXPIRY_POLL_SECONDS = 0.05


@attrs.define
class _LeaseState:
    id: int
    granted_ttl: int
    expires_at: float
    keys: set[str] = attrs.field(factory=set)


class WatchFeed(Protocol):
    """The backend side of a queue watch (``QueueWatch``, ``AsyncQueueWatch``)."""

    def deliver(self, events: Iterable[WatchEvent]) -> None: ...

    def fail(self, error: BaseException) -> None: ...

    def end(self) -> None: ...


_FeedT = TypeVar("_FeedT", bound=WatchFeed)


@attrs.define
class _Watcher:
    key: str
    range_end: str | None
    prev_kv: bool
    watch: WatchFeed
    start_revision: int = 0
    next_revision: int = 0
    """Where the watch resumes after ``watches_disconnected`` (its first undelivered revision)."""


class _Change(Change):
    """The writes of one transaction, collected so that it commits at one revision."""

    def __init__(self, revision: int) -> None:
        super().__init__(revision)
        self.events: list[WatchEvent] = []


class _Semantics(Evaluator):
    """``kvstore.semantics``' evaluator on a ``MemoryStore``'s data (under its lock)."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def store_revision(self) -> int:
        return self.store._revision

    def compacted_revision(self) -> int:
        return self.store._compacted

    def current_range(self, key: str, range_end: str | None) -> list[KeyValue]:
        return self.store._current_range(key, range_end)

    def key_exists(self, key: str) -> bool:
        return key in self.store._current

    def lease_exists(self, lease_id: int) -> bool:
        return lease_id in self.store._leases

    def read(self, request: Get, header_revision: int) -> RangeResult:
        return self.store._range(request, header_revision)

    def apply_put(self, request: Put, change: Change) -> PutResult:
        assert isinstance(change, _Change)
        return self.store._apply_put(request, change)

    def apply_delete(self, request: Delete, change: Change) -> DeleteResult:
        assert isinstance(change, _Change)
        return self.store._apply_delete(request, change)

    def commit(self, change: Change) -> None:
        assert isinstance(change, _Change)
        self.store._commit(change)

    def new_change(self) -> _Change:
        return _Change(self.store._revision + 1)


class MemoryStore(BaseStore):
    """An in-memory, thread-safe store with the semantics of an etcd cluster.

    Args:
        clock: Drives lease expiry. ``ManualClock`` for tests (leases expire when it is
            advanced), ``SystemClock`` (the default) for real time.
        max_txn_ops: Most compares or operations per transaction branch (etcd: 128).
        max_request_bytes: The request size limit (etcd: 1.5 MiB).

    Example::

        clock = ManualClock()
        store = MemoryStore(clock=clock)
        store.put("config/a", b"1")
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        max_txn_ops: int = 128,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        super().__init__()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.max_txn_ops = max_txn_ops
        self.max_request_bytes = max_request_bytes
        caps = {
            Capability.LEASES,
            Capability.WATCH,
            Capability.TXN,
            Capability.HISTORY,
            Capability.CLUSTER,
        }
        if isinstance(self.clock, ManualClock):
            caps.add(Capability.CLOCK)
        self.capabilities = frozenset(caps)
        self._lock = threading.RLock()
        self._disconnected = False
        self._revision = 1
        self._compacted = 0
        self._current: dict[str, KeyValue] = {}
        self._sorted: list[str] = []
        self._history: dict[str, list[tuple[int, KeyValue | None]]] = {}
        self._history_keys: list[str] = []
        self._events: list[WatchEvent] = []
        self._event_revisions: list[int] = []
        self._leases: dict[int, _LeaseState] = {}
        # earliest expiry of any lease, or earlier (renewals only move expiries later)
        self._next_expiry = math.inf
        self._watchers: list[_Watcher] = []
        self._stop = threading.Event()
        self._expirer: threading.Thread | None = None
        # The clock and the expiry thread hold the store weakly, so an unclosed store can
        # still be garbage-collected (and its thread then ends).
        self._clock_listener = _weak_call(self, MemoryStore._expire_leases)
        self._semantics = _Semantics(self)
        if isinstance(self.clock, ManualClock):
            self.clock.subscribe(self._clock_listener)

    def __repr__(self) -> str:
        return f"MemoryStore(keys={len(self._current)}, revision={self._revision})"

    # ------------------------------------------------------------------ reads

    def do_range(self, request: Get) -> RangeResult:
        with self._lock:
            self._check_open("range")
            self._expire_leases()
            if request.is_plain:
                # get's hot path: one dict lookup
                kv = self._current.get(request.key)
                kvs = () if kv is None else (kv,)
                return RangeResult(kvs, len(kvs), False, self._revision)
            self._semantics.check_read_revision(request.revision, request.key, "range")
            return self._range(request, self._revision)

    def _range(self, read: Get, header_revision: int) -> RangeResult:
        """etcd's ``applierV3backend.Range``: count the range, then bound, sort, limit.

        ``header_revision`` is the revision of the view read: inside a transaction that
        has written, the transaction's own revision, so that a read at the revision before
        it does not see its writes (etcd reads such a revision from history)."""
        if read.revision is None or read.revision >= header_revision:
            kvs = self._current_range(read.key, read.range_end)
        else:
            kvs = self._past_range(read.key, read.range_end, read.revision)
        shown, more = apply_range_options(kvs, read)
        return RangeResult(shown, len(kvs), more, header_revision)

    def _slice(self, keys: list[str], start: str, range_end: str | None) -> list[str]:
        if range_end is None:
            index = bisect.bisect_left(keys, start)
            return keys[index : index + 1] if index < len(keys) and keys[index] == start else []
        low = bisect.bisect_left(keys, start)
        high = len(keys) if range_end == ALL_KEYS else bisect.bisect_left(keys, range_end)
        return keys[low:high]

    def _current_range(self, start: str, range_end: str | None) -> list[KeyValue]:
        if range_end is None:
            kv = self._current.get(start)
            return [] if kv is None else [kv]
        return [self._current[k] for k in self._slice(self._sorted, start, range_end)]

    def _past_range(self, start: str, range_end: str | None, revision: int) -> list[KeyValue]:
        kvs = []
        for key in self._slice(self._history_keys, start, range_end):
            kv = self._value_at(key, revision)
            if kv is not None:
                kvs.append(kv)
        return kvs

    def _value_at(self, key: str, revision: int) -> KeyValue | None:
        entries = self._history.get(key, [])
        index = bisect.bisect_right(entries, revision, key=lambda entry: entry[0])
        return entries[index - 1][1] if index else None

    # ------------------------------------------------------------------ writes

    def do_put(self, request: Put) -> PutResult:
        with self._lock:
            self._check_open("put")
            self._expire_leases()
            return self._semantics.evaluate_put(request)

    def do_delete_range(self, request: Delete) -> DeleteResult:
        with self._lock:
            self._check_open("delete")
            self._expire_leases()
            return self._semantics.evaluate_delete(request)

    def do_txn(self, request: Txn) -> TxnResult:
        with self._lock:
            self._check_open("txn")
            self._expire_leases()
            return self._semantics.evaluate_txn(request)

    def _apply_put(self, put: Put, change: _Change) -> PutResult:
        revision = change.revision
        old = self._current.get(put.key)
        lease = old.lease if put.ignore_lease and old is not None else put.lease or 0
        if old is None:
            kv = KeyValue(put.key, put.value, revision, revision, 1, lease)
            bisect.insort(self._sorted, put.key)
        else:
            kv = KeyValue(put.key, put.value, old.create_revision, revision, old.version + 1, lease)
            if old.lease and old.lease != lease and old.lease in self._leases:
                self._leases[old.lease].keys.discard(put.key)
        if lease:
            self._leases[lease].keys.add(put.key)
        self._current[put.key] = kv
        self._record(put.key, revision, kv)
        change.next_write()
        change.events.append(WatchEvent(EventType.PUT, kv, old))
        return PutResult(revision, old if put.prev_kv else None)

    def _apply_delete(self, delete: Delete, change: _Change) -> DeleteResult:
        revision = change.revision
        doomed = self._current_range(delete.key, delete.range_end)
        for old in doomed:
            del self._current[old.key]
            self._sorted.pop(bisect.bisect_left(self._sorted, old.key))
            if old.lease and old.lease in self._leases:
                self._leases[old.lease].keys.discard(old.key)
            self._record(old.key, revision, None)
            tombstone = KeyValue(old.key, b"", 0, revision, 0, 0)
            change.next_write()
            change.events.append(WatchEvent(EventType.DELETE, tombstone, old))
        kvs = tuple(doomed) if delete.prev_kv else ()
        return DeleteResult(change.view_revision, len(doomed), kvs)

    def _record(self, key: str, revision: int, kv: KeyValue | None) -> None:
        entries = self._history.get(key)
        if entries is None:
            entries = self._history[key] = []
            bisect.insort(self._history_keys, key)
        if entries and entries[-1][0] == revision:
            entries[-1] = (revision, kv)
        else:
            entries.append((revision, kv))

    def _commit(self, change: _Change) -> None:
        if not change.events:
            return
        self._revision = change.revision
        self._events.extend(change.events)
        self._event_revisions.extend(event.revision for event in change.events)
        if self._disconnected:
            return
        for watcher in self._watchers:
            self._deliver(watcher, change.events)

    # ------------------------------------------------------------------ watches

    def do_watch(self, request: WatchRequest) -> Watch:
        return self.open_watch(request, QueueWatch)

    def open_watch(
        self, request: WatchRequest, make: Callable[[Callable[[], None]], _FeedT]
    ) -> _FeedT:
        """Register a watch made by ``make(on_cancel)`` and feed it from this store.

        The feeding happens inside the writers' calls, from whatever thread they run on
        (an ``AsyncMemoryStore`` sharing this store's data passes ``AsyncQueueWatch``,
        which takes events from any thread).

        Returns:
            The watch ``make`` built, registered (or already failed with ``CompactedError`` when
            ``start_revision`` was compacted).

        Raises:
            StoreClosedError: The store was closed.
        """
        key, range_end, start_revision = request.key, request.range_end, request.start_revision
        with self._lock:
            self._check_open("watch")
            watch = make(lambda: self._remove_watcher(watcher))
            watcher = _Watcher(
                key,
                range_end,
                request.prev_kv,
                watch,
                start_revision or 0,
                start_revision or self._revision + 1,
            )
            if start_revision is not None and start_revision < self._compacted:
                watch.fail(
                    CompactedError(
                        f"watch: start revision {start_revision} of {key!r} was compacted "
                        f"(compact revision {self._compacted})",
                        compact_revision=self._compacted,
                        key=key,
                        operation="watch",
                    )
                )
                return watch
            if start_revision is not None:
                first = bisect.bisect_left(self._event_revisions, start_revision)
                self._deliver(watcher, self._events[first:])
            self._watchers.append(watcher)
            return watch

    def _deliver(self, watcher: _Watcher, events: Sequence[WatchEvent]) -> None:
        matching = [
            e
            for e in events
            if e.revision >= watcher.start_revision
            and in_range(e.kv.key, watcher.key, watcher.range_end)
        ]
        if not watcher.prev_kv:
            matching = [attrs.evolve(e, prev_kv=None) for e in matching]
        if events:
            watcher.next_revision = max(watcher.next_revision, events[-1].revision + 1)
        if matching:
            watcher.watch.deliver(matching)

    @contextlib.contextmanager
    def watches_disconnected(self) -> Iterator[None]:
        """Hold back every watch's events while the block runs, as a lost connection to
        etcd does; then each watch resumes from its first undelivered revision, or fails
        with ``CompactedError`` when that revision was compacted meanwhile (as an etcd
        watch that resumes too late). For tests of what consumers do then.

        Yields:
            ``None``, while the watches are cut off.
        """
        with self._lock:
            self._disconnected = True
        try:
            yield
        finally:
            with self._lock:
                self._disconnected = False
                for watcher in list(self._watchers):
                    self._resume(watcher)

    def _resume(self, watcher: _Watcher) -> None:
        if watcher.next_revision < self._compacted:
            self._watchers.remove(watcher)
            watcher.watch.fail(
                CompactedError(
                    f"watch: resume revision {watcher.next_revision} of {watcher.key!r} was "
                    f"compacted (compact revision {self._compacted})",
                    compact_revision=self._compacted,
                    key=watcher.key,
                    operation="watch",
                )
            )
            return
        first = bisect.bisect_left(self._event_revisions, watcher.next_revision)
        self._deliver(watcher, self._events[first:])

    def _remove_watcher(self, watcher: _Watcher) -> None:
        with self._lock:
            if watcher in self._watchers:
                self._watchers.remove(watcher)

    # ------------------------------------------------------------------ leases

    def lease_grant(self, ttl: int) -> LeaseGrant:
        granted = granted_ttl(ttl)
        with self._lock:
            self._check_open("lease_grant")
            lease_id = secrets.randbits(62) + 1
            while lease_id in self._leases:
                lease_id = secrets.randbits(62) + 1
            expires_at = self.clock.now() + granted
            self._leases[lease_id] = _LeaseState(lease_id, granted, expires_at)
            self._next_expiry = min(self._next_expiry, expires_at)
            self._start_expirer()
            return LeaseGrant(lease_id, granted)

    def _start_expirer(self) -> None:
        """Start the real-time expiry thread on the first lease (a ManualClock needs none)."""
        if self._expirer is not None or isinstance(self.clock, ManualClock):
            return
        self._expirer = threading.Thread(
            target=_expire_loop,
            args=(self._clock_listener, self._stop),
            name="kvstore-memory-leases",
            daemon=True,
        )
        self._expirer.start()

    def lease_revoke(self, lease_id: int) -> None:
        check_lease_id(lease_id, operation="lease_revoke")
        with self._lock:
            self._check_open("lease_revoke")
            self._expire_leases()
            self._live_lease(lease_id, "lease_revoke")
            self._drop_lease(lease_id)

    def lease_keepalive_once(self, lease_id: int) -> int:
        check_lease_id(lease_id, operation="lease_keepalive")
        with self._lock:
            self._check_open("lease_keepalive")
            self._expire_leases()
            state = self._live_lease(lease_id, "lease_keepalive")
            state.expires_at = self.clock.now() + state.granted_ttl
            return state.granted_ttl

    def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo:
        check_lease_id(lease_id, operation="lease_time_to_live")
        with self._lock:
            self._check_open("lease_time_to_live")
            self._expire_leases()
            state = self._live_lease(lease_id, "lease_time_to_live")
            # etcd truncates the remaining time to whole seconds
            remaining = int(state.expires_at - self.clock.now())
            attached = tuple(sorted(state.keys)) if keys else ()
            return LeaseInfo(lease_id, max(remaining, 0), state.granted_ttl, attached)

    def lease_leases(self) -> builtins.list[int]:
        with self._lock:
            self._check_open("lease_leases")
            self._expire_leases()
            return sorted(self._leases)

    def _live_lease(self, lease_id: int, operation: str) -> _LeaseState:
        state = self._leases.get(lease_id)
        if state is None:
            raise lease_not_found(lease_id, operation)
        return state

    def _drop_lease(self, lease_id: int) -> None:
        state = self._leases.pop(lease_id)
        self._semantics.evaluate_drop_lease(sorted(state.keys))

    def _expire_leases(self) -> None:
        with self._lock:
            if self._closed:
                return
            now = self.clock.now()
            if now < self._next_expiry:
                return
            due = sorted((s.expires_at, s.id) for s in self._leases.values() if s.expires_at <= now)
            for _, lease_id in due:
                self._drop_lease(lease_id)
            self._next_expiry = min((s.expires_at for s in self._leases.values()), default=math.inf)

    # ------------------------------------------------------------------ cluster

    def compact_revision(self, revision: int, *, physical: bool = False) -> None:
        check_revision(revision, operation="compact")
        with self._lock:
            self._check_open("compact")
            self._semantics.check_compact(revision)
            self._compacted = revision
            for key in list(self._history_keys):
                self._compact_key(key, revision)
            first = bisect.bisect_left(self._event_revisions, revision)
            del self._events[:first]
            del self._event_revisions[:first]
            self._compact_events_at(revision)

    def _compact_events_at(self, revision: int) -> None:
        """The events at the compact revision, as a watch from there gets them from etcd:
        deletes are gone (compaction drops a tombstone at or below the compact revision),
        and puts come without ``prev_kv`` (etcd reads it at the revision before, which is
        compacted)."""
        end = bisect.bisect_right(self._event_revisions, revision)
        kept = [
            attrs.evolve(event, prev_kv=None)
            for event in self._events[:end]
            if event.type is EventType.PUT
        ]
        self._events[:end] = kept
        self._event_revisions[:end] = [revision] * len(kept)

    def _compact_key(self, key: str, revision: int) -> None:
        entries = self._history[key]
        index = bisect.bisect_right(entries, revision, key=lambda entry: entry[0])
        if index == 0:
            return
        keep_from = index - 1 if entries[index - 1][1] is not None else index
        del entries[:keep_from]
        if not entries:
            del self._history[key]
            self._history_keys.pop(bisect.bisect_left(self._history_keys, key))

    def status(self) -> StatusInfo:
        with self._lock:
            self._check_open("status")
            size = sum(len(k) + len(kv.value) for k, kv in self._current.items())
            return StatusInfo(
                "memory",
                size,
                _MEMBER_ID,
                _MEMBER_ID,
                self._revision,
                1,
                self._revision,
                self._compacted,
            )

    def member_list(self) -> builtins.list[MemberInfo]:
        self._check_open("member_list")
        return [MemberInfo(_MEMBER_ID, "memory", (), ("memory://",))]

    def defragment(self) -> None:
        self._check_open("defragment")

    def alarms(self) -> builtins.list[AlarmInfo]:
        self._check_open("alarms")
        return []

    def hash_kv(self, revision: int = 0) -> HashInfo:
        with self._lock:
            self._check_open("hash_kv")
            at = revision or self._revision
            self._semantics.check_read_revision(at, "", "hash_kv")
            digest = 0
            for kv in self._past_range(ALL_KEYS, ALL_KEYS, at):
                record = f"{kv.key}\0{kv.create_revision}\0{kv.mod_revision}\0{kv.version}"
                digest = zlib.crc32(record.encode() + kv.value, digest)
            return HashInfo(digest, self._compacted, self._revision)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            watchers, self._watchers = self._watchers, []
        super().close()
        self._stop.set()
        if self._expirer is not None and self._expirer is not threading.current_thread():
            self._expirer.join()
        if isinstance(self.clock, ManualClock):
            self.clock.unsubscribe(self._clock_listener)
        for watcher in watchers:
            watcher.watch.end()


def _weak_call(store: MemoryStore, method: Callable[[MemoryStore], None]) -> Callable[[], bool]:
    """``method(store)`` through a weak reference; returns False once the store is gone."""
    reference = weakref.ref(store)

    def call() -> bool:
        target = reference()
        if target is None:
            return False
        method(target)
        return True

    return call


def _expire_loop(expire: Callable[[], bool], stop: threading.Event) -> None:
    while not stop.wait(_EXPIRY_POLL_SECONDS):
        if not expire():
            return
