"""``Feed``: every watch of a SQL store, fed from the database's write log by one thread.

All watches of a store share one feed, as all watches of an etcd client share one stream.
Each watch has the next revision it wants; the feed reads the log (``kv_log``) from the
earliest of them, a batch of revisions at a time and in commit order, and hands each
watch the writes in its range from its next revision on. So every watch sees every write
of every process exactly once, in revision order, with no gap: the log holds them all,
and revisions are given in commit order.

How it learns of new writes:

- a write through a store of this process wakes the feeds of every store of this process
  on the same database at once (``wake_neighbours``, called after the commit);
- another process's write: on PostgreSQL, its ``NOTIFY`` (sent by every write
  transaction, delivered on commit) reaches the dialect's listener, a connection of the
  feed's own that ``LISTEN``s, which wakes the feed; then the feed reads the log from the
  last revision it saw, so a lost notification costs at most the fallback poll. SQLite
  pushes nothing: the feed polls the dialect's change detector (``PRAGMA
  data_version``), which costs one cheap statement when nothing changed. The poll's
  interval is the dialect's (``Dialect.poll_interval``: 20 ms on SQLite, a fallback
  0.5 s on PostgreSQL).

A lost connection (the database restarted, the network broke) costs nothing but time:
the feed drops its connections, retries with a backoff of up to a second, and every
watch resumes from its next revision, without gap or duplicate (the log has it all).

It also reaps leases (every ``reap_interval`` seconds, while it has watches): the deletes
of an expired lease must reach the watches even when nobody calls the store. Each store's
calls revoke due leases too, so whichever store of any process gets there first does it,
once (the database's write lock).

The feed's thread uses two connections of its own (one reads the log, one reaps), so a
watch never waits for the store's calls and the reaper never holds up a new watch. The
thread starts with the first watch and ends when the store closes. It delivers through
``QueueWatch`` / ``AsyncQueueWatch`` (both take events from any thread), so the sync
and the asyncio store share this module.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import attrs

from kvstore.errors import BackendError, CompactedError, KVStoreError, StoreClosedError
from kvstore.ranges import in_range
from kvstore.txn import WatchRequest
from kvstore.types import WatchEvent
from kvstore_sql._dialect import Dialect, Listener
from kvstore_sql._engine import Changes, Engine
from kvstore_sql.clock import Clock

__all__ = ["BATCH_REVISIONS", "REAP_SECONDS", "Feed", "WatchFeed"]

REAP_SECONDS = 0.05
"""How often the feed revokes due leases while it has watches."""

BATCH_REVISIONS = 256
"""Revisions read from the log at a time (the feed's lock is released between batches)."""

_MAX_BACKOFF_SECONDS = 1.0


class WatchFeed(Protocol):
    """The backend side of a queue watch (``QueueWatch``, ``AsyncQueueWatch``)."""

    def deliver(self, events: Iterable[WatchEvent]) -> None: ...

    def fail(self, error: BaseException) -> None: ...

    def end(self) -> None: ...


@attrs.define(eq=False)
class _Watcher:
    request: WatchRequest
    watch: WatchFeed
    next_revision: int
    """The first revision the watch has not been given yet."""

    def send(self, changes: Changes) -> None:
        """Deliver the writes of ``changes`` in the watch's range from its next revision."""
        if self.next_revision > changes.last:
            return
        key, range_end, prev_kv = self.request.key, self.request.range_end, self.request.prev_kv
        events = [
            event if prev_kv else attrs.evolve(event, prev_kv=None)
            for event in changes.events
            if event.revision >= self.next_revision and in_range(event.kv.key, key, range_end)
        ]
        self.next_revision = changes.last + 1
        if events:
            self.watch.deliver(events)


_NEIGHBOURS: dict[str, weakref.WeakSet[Feed]] = {}
"""The feeds of this process that have watches (a thread), by database
(``Dialect.identity``): a write wakes them all."""
_NEIGHBOURS_LOCK = threading.Lock()


class Feed:
    """The watches of one store, and the thread that feeds them.

    Args:
        dialect: The database.
        clock: Lease expiry's clock (the store's).
        poll_interval: Seconds between looks for other processes' writes (default: the
            dialect's ``poll_interval``).
        reap_interval: Seconds between looks for due leases.
    """

    def __init__(
        self,
        dialect: Dialect,
        clock: Clock,
        *,
        poll_interval: float | None = None,
        reap_interval: float = REAP_SECONDS,
    ) -> None:
        self.dialect = dialect
        self.clock = clock
        self.poll_interval = dialect.poll_interval if poll_interval is None else poll_interval
        self.reap_interval = reap_interval
        self._lock = threading.Lock()
        self._watchers: list[_Watcher] = []
        self._wake = threading.Event()
        self._closing = False
        self._paused = False
        self._thread: threading.Thread | None = None
        self._reader: Engine | None = None
        self._changed: Callable[[], bool] | None = None
        self._reaper: Engine | None = None
        self._listener: Listener | None = None
        self._head = 0  # the store revision at the feed's last read of the log

    # ------------------------------------------------------------------ the store's side

    def add(self, request: WatchRequest, watch: WatchFeed) -> None:
        """Register a watch; it gets the log from its start revision on (``None``: from
        the revision after the current one, read now).

        Raises:
            StoreClosedError: The store is closed.
            BackendError: The database could not be read.
        """
        with self._lock:
            if self._closing:
                raise StoreClosedError("watch: the store is closed", operation="watch")
            revision, compacted = self._read_engine().revisions("watch", request.key)
            start = request.start_revision
            if start is not None and start < compacted:
                watch.fail(
                    CompactedError(
                        f"watch: start revision {start} of {request.key!r} was compacted "
                        f"(compact revision {compacted})",
                        compact_revision=compacted,
                        key=request.key,
                        operation="watch",
                    )
                )
                return
            self._watchers.append(
                _Watcher(request, watch, revision + 1 if start is None else start)
            )
            self._start()
        self._wake.set()

    def remove(self, watch: WatchFeed) -> None:
        """Forget a watch (its ``cancel``)."""
        with self._lock:
            self._watchers = [w for w in self._watchers if w.watch is not watch]

    def wake(self) -> None:
        """Look at the log now (a write was committed)."""
        self._wake.set()

    def wake_neighbours(self) -> None:
        """Wake every feed of this process on the same database (a store's write did it)."""
        with _NEIGHBOURS_LOCK:
            feeds = list(_NEIGHBOURS.get(self.dialect.identity, ()))
        for feed in feeds:
            feed.wake()

    def catch_up(self) -> None:
        """Deliver every write committed so far to the watches (before a compaction, so
        that the store's own watches never fall below it). Nothing while disconnected.

        Raises:
            BackendError: The database could not be read.
        """
        while self._pump_batch():
            pass

    @contextlib.contextmanager
    def disconnected(self) -> Iterator[None]:
        """Hold every watch's events back while the block runs, as a lost connection
        does; then each resumes from its next revision, or fails with ``CompactedError``
        when that was compacted meanwhile."""
        with self._lock:
            self._paused = True
        try:
            yield
        finally:
            with self._lock:
                self._paused = False
            self._wake.set()

    def close(self) -> None:
        """End every watch (as ``QueueWatch.end``), stop the thread, close the connections.
        Idempotent."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            watchers, self._watchers = self._watchers, []
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._lock:
            self._drop_connections()
            if self._listener is not None:
                self._listener.close()
                self._listener = None
        with _NEIGHBOURS_LOCK:
            feeds = _NEIGHBOURS.get(self.dialect.identity)
            if feeds is not None:
                feeds.discard(self)
                if not feeds:
                    del _NEIGHBOURS[self.dialect.identity]
        for watcher in watchers:
            watcher.watch.end()

    # ------------------------------------------------------------------ the thread

    def _read_engine(self) -> Engine:
        """The log reader's engine (opened on first use; under the lock)."""
        if self._reader is None:
            self._reader = Engine.open(self.dialect, self.clock, create=False, operation="watch")
            self._changed = self._reader.change_detector()
        return self._reader

    def _drop_connections(self) -> None:
        """Close the log reader's and the reaper's connections (under the lock): the next
        look opens new ones."""
        for engine in (self._reader, self._reaper):
            if engine is not None:
                engine.close()
        self._reader = self._reaper = None
        self._changed = None

    def _start(self) -> None:
        if self._thread is None:
            # a neighbour once it has a thread: a write wakes only the feeds that watch
            with _NEIGHBOURS_LOCK:
                _NEIGHBOURS.setdefault(self.dialect.identity, weakref.WeakSet()).add(self)
            self._listener = self.dialect.listener(self.wake)
            self._thread = threading.Thread(
                target=self._run, name=f"kvstore-sql-watch {self.dialect.description}", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        next_reap = 0.0
        failures = 0
        while True:
            with self._lock:
                idle = self._paused or not self._watchers
            if idle:
                timeout = None
            elif failures:
                backoff = self.poll_interval * (1 << min(failures, 6))
                timeout = min(backoff, _MAX_BACKOFF_SECONDS)
            else:
                timeout = self.poll_interval
            self._wake.wait(timeout)
            self._wake.clear()
            if self._closing:
                return
            try:
                while self._pump_batch():
                    pass
                if self._watchers and time.monotonic() >= next_reap:
                    next_reap = time.monotonic() + self.reap_interval
                    self._reap()
                failures = 0
            except KVStoreError:
                # the database is unreachable for now: new connections next time, and the
                # watches resume from their next revision when it answers again
                failures += 1
                with self._lock:
                    self._drop_connections()
            except Exception as exc:  # noqa: BLE001 - a bug must not leave watches hanging
                self._fail_all(
                    BackendError(f"watch: the watch feed failed ({exc!r})", operation="watch")
                )

    def _pump_batch(self) -> bool:
        """Read one batch of the log and deliver it; whether more is waiting (under the
        lock, released between batches so that new watches wait for one batch at most)."""
        with self._lock:
            if self._closing or self._paused or not self._watchers:
                return False
            reader = self._read_engine()
            first = min(watcher.next_revision for watcher in self._watchers)
            assert self._changed is not None
            if not self._changed() and first > self._head:
                return False
            changes = reader.changes(first, BATCH_REVISIONS)
            self._head = changes.revision
            for watcher in list(self._watchers):
                if watcher.next_revision < changes.compacted:
                    self._watchers.remove(watcher)
                    watcher.watch.fail(_compacted(watcher, changes.compacted))
                else:
                    watcher.send(changes)
            return changes.last < changes.revision

    def _reap(self) -> None:
        if self._reaper is None:
            self._reaper = Engine.open(
                self.dialect,
                self.clock,
                create=False,
                operation="lease_expiry",
                on_change=self.wake_neighbours,
            )
        self._reaper.expire_leases()

    def _fail_all(self, error: BaseException) -> None:
        with self._lock:
            watchers, self._watchers = self._watchers, []
        for watcher in watchers:
            watcher.watch.fail(error)


def _compacted(watcher: _Watcher, compacted: int) -> CompactedError:
    key = watcher.request.key
    return CompactedError(
        f"watch: revision {watcher.next_revision} of {key!r} was compacted before the watch "
        f"got it (compact revision {compacted})",
        compact_revision=compacted,
        key=key,
        operation="watch",
    )
