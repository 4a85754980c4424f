"""Resumable watches over etcd's bidirectional ``Watch`` stream.

python3-etcd3's watch helpers drop the watch when the stream fails. ``EtcdWatch`` owns
its stream and a daemon thread instead: after a lost connection, a member restart or an
endpoint switch it opens a new stream from the last delivered revision + 1, so events
are delivered exactly once, in revision order, with no gap. etcd never splits one
revision's events over two responses, so resuming by response revision never splits a
revision either.

The resume point and what each response means for it are ``WatchCursor``'s (shared with
the asyncio watch). A start revision below the compact revision ends the stream with
``CompactedError(compact_revision)`` from the iterator.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import grpc

from kvstore.errors import (
    CompactedError,
    KVStoreError,
    StoreClosedError,
    UnavailableError,
)
from kvstore.watch import QueueWatch
from kvstore_etcd._errors import (
    is_invalid_token,
    is_stream_lost,
    map_errors,
    refused_again_error,
    translate,
)
from kvstore_etcd._watch_cursor import (
    COMPACT_PROBE_REQUEST,
    PROGRESS_REQUEST,
    StreamLiveness,
    TokenRefused,
    WatchCancelled,
    WatchCursor,
    probe_answer,
)

if TYPE_CHECKING:
    from kvstore_etcd._calls import Caller
    from kvstore_etcd._endpoints import Endpoint
    from kvstore_etcd.store import EtcdStore

__all__ = ["EtcdWatch", "WatchMonitor", "probe_compact_revision"]

_log = logging.getLogger(__name__)

_RECONNECT_FIRST_DELAY = 0.05
_RECONNECT_MAX_DELAY = 1.0
_JOIN_SECONDS = 5.0
_END = None


def _requests(pending: queue.SimpleQueue[Any]) -> Iterator[Any]:
    """The request side of one stream: what is queued, until ``_END``."""
    while True:
        item = pending.get()
        if item is _END:
            return
        yield item


class _StreamEnded(Exception):
    """The stream ended for good (the watch was failed or cancelled)."""


class EtcdWatch(QueueWatch):
    """A watch on one key or range that survives reconnects (see the module docstring)."""

    def __init__(
        self,
        store: EtcdStore,
        key: str,
        key_bytes: bytes,
        range_end: bytes,
        *,
        start_revision: int | None,
        prev_kv: bool,
    ) -> None:
        super().__init__(on_cancel=self._stop)
        self._store = store
        self._key = key
        self._cursor = WatchCursor(
            key, key_bytes, range_end, start_revision=start_revision, prev_kv=prev_kv
        )
        self._stopping = threading.Event()
        self._created = threading.Event()
        self._start_error: KVStoreError | None = None
        self._call_lock = threading.Lock()
        self._call: Any = None
        self._pending: queue.SimpleQueue[Any] | None = None
        self._liveness = StreamLiveness()
        self._thread = threading.Thread(target=self._run, name="kvstore-etcd-watch", daemon=True)

    def start(self) -> None:
        """Start the stream and wait until etcd has created the watcher.

        Raises:
            UnavailableError: No endpoint could create the watch within the request timeout.
            PermissionDeniedError: The user may not watch this key or range.
            AuthenticationError: The credentials were refused.
            StoreClosedError: The store was closed before etcd created the watch.
        """
        self._thread.start()
        if not self._created.wait(self._store.config.request_timeout):
            raise UnavailableError(
                f"watch: etcd did not create the watch on {self._key!r} within the request timeout",
                key=self._key,
                operation="watch",
            )
        if self._start_error is not None:
            raise self._start_error

    # ------------------------------------------------------------------ stream thread

    def _run(self) -> None:
        delay = _RECONNECT_FIRST_DELAY
        renewed_token = False
        while not self._stopping.is_set():
            try:
                if self._stream():
                    delay = _RECONNECT_FIRST_DELAY
                    renewed_token = False
            except _StreamEnded:
                break
            except TokenRefused:
                if renewed_token:
                    self._end(refused_again_error("watch", self._key))
                    return
                renewed_token = True
                continue
            except KVStoreError as exc:
                if self._store.closed:
                    break
                if not isinstance(exc, UnavailableError) or not self._created.is_set():
                    self._end(exc)
                    return
                _log.debug("watch on %r cannot reconnect yet: %s", self._key, exc)
            if self._stopping.is_set():
                return
            self._store.pool.wait_any(delay, self._stopping.is_set)
            delay = min(delay * 2, _RECONNECT_MAX_DELAY)
        if not self._created.is_set():
            # The store closed before etcd created the watch, too early for close() to
            # cancel it: start() must fail now rather than wait out the request timeout.
            self._end(
                StoreClosedError(
                    f"watch: the store was closed before the watch on {self._key!r} was created",
                    key=self._key,
                    operation="watch",
                )
            )

    def _stream(self) -> bool:
        """Run one stream until it breaks; return whether it delivered anything.

        Raises:
            _StreamEnded: The watch is over (cancelled, failed, store closed).
            TokenRefused: etcd refused the auth token; authenticate and reconnect.
            UnavailableError: No endpoint is reachable right now.
            KVStoreError: A definitive error.
        """
        store = self._store
        if store.closed:
            raise _StreamEnded
        deadline = time.monotonic() + store.config.request_timeout
        endpoint = store.pool.acquire(deadline, "watch")
        metadata = store.caller.stream_metadata(endpoint, deadline)
        pending: queue.SimpleQueue[Any] = queue.SimpleQueue()
        pending.put(self._cursor.create_request())
        with map_errors("watch", key=self._key, endpoint=endpoint.address):
            call = endpoint.watch.Watch(_requests(pending), metadata=metadata)
        with self._call_lock:
            self._call, self._pending = call, pending
            self._liveness.heard(time.monotonic())
        store.watch_monitor().add(self)
        if self._stopping.is_set():
            self._close_call(call, pending)
            raise _StreamEnded
        progressed = False
        try:
            for response in call:
                self._liveness.heard(time.monotonic())
                self._handle(response, metadata)
                progressed = True
        except grpc.RpcError as exc:
            if self._stopping.is_set() or store.closed:
                raise _StreamEnded from None
            if is_invalid_token(exc):
                store.caller.forget_token(metadata)
                raise TokenRefused from None
            if is_stream_lost(exc):
                store.pool.mark_failed(endpoint)
                _log.debug("watch on %r lost its stream, resuming: %s", self._key, exc.details())
                return progressed
            raise translate(
                exc, operation="watch", key=self._key, endpoint=endpoint.address
            ) from exc
        finally:
            self._close_call(call, pending)
        # The server ended the stream without an error (it is shutting down): resume.
        store.pool.mark_failed(endpoint)
        return progressed

    def _handle(self, response: Any, metadata: Any) -> None:
        try:
            events = self._cursor.handle(response)
        except TokenRefused:
            self._store.caller.forget_token(metadata)
            raise
        except WatchCancelled as cancelled:
            self._end(cancelled.error)
            raise _StreamEnded from None
        if events:
            self.deliver(events)
        elif response.created:
            self._created.set()

    def _end(self, error: KVStoreError) -> None:
        if not self._created.is_set() and not isinstance(error, CompactedError):
            self._start_error = error
        else:
            self.fail(error)
        self._stopping.set()
        self._created.set()

    def _close_call(self, call: Any, pending: queue.SimpleQueue[Any]) -> None:
        pending.put(_END)
        call.cancel()
        with self._call_lock:
            if self._call is call:
                self._call, self._pending = None, None

    # ------------------------------------------------------------------ liveness

    def check_liveness(self, now: float, idle: float, timeout: float) -> bool:
        """Probe a quiet stream; drop one whose probe went unanswered (monitor thread).

        The rule is ``StreamLiveness``'s (shared with the asyncio watch).

        Returns:
            Whether the watch is still running (the monitor forgets it otherwise).
        """
        if self._stopping.is_set():
            return False
        with self._call_lock:
            call, pending = self._call, self._pending
        if call is None or pending is None:
            return True
        verdict = self._liveness.check(now, idle, timeout)
        if verdict == "drop":
            _log.debug("watch on %r: stream silent, reconnecting", self._key)
            call.cancel()
        elif verdict == "probe":
            pending.put(PROGRESS_REQUEST)
        return True

    # ------------------------------------------------------------------ cancel

    def _stop(self) -> None:
        self._stopping.set()
        self._created.set()
        with self._call_lock:
            call, pending = self._call, self._pending
        if call is not None and pending is not None:
            pending.put(_END)
            call.cancel()
        self._store.forget_watch(self)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(_JOIN_SECONDS)


class WatchMonitor:
    """One daemon thread per store that checks the liveness of its watch streams."""

    def __init__(self, idle: float, timeout: float, tick: float = 0.5) -> None:
        self._idle = idle
        self._timeout = timeout
        self._tick = tick
        self._watches: weakref.WeakSet[EtcdWatch] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, watch: EtcdWatch) -> None:
        """Watch ``watch``'s stream (idempotent); starts the thread on first use."""
        with self._lock:
            self._watches.add(watch)
            if self._thread is None and not self._stopped.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="kvstore-etcd-watch-monitor", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._tick):
            with self._lock:
                watches = list(self._watches)
            now = time.monotonic()
            for watch in watches:
                if not watch.check_liveness(now, self._idle, self._timeout):
                    with self._lock:
                        self._watches.discard(watch)

    def stop(self) -> None:
        """Stop the thread."""
        self._stopped.set()
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(_JOIN_SECONDS)


def probe_compact_revision(caller: Caller, timeout: float) -> int:
    """The store's compact revision, from a watch that starts at revision 1.

    etcd cancels such a watch at once with ``compact_revision`` set when history was
    compacted; if it was not, nothing comes and 0 is returned after ``timeout``.

    Raises:
        UnavailableError: No endpoint is reachable.
        StoreClosedError: The store was closed.
    """
    if caller.closed:
        raise StoreClosedError("watch: the store is closed", operation="watch")
    deadline = time.monotonic() + timeout
    endpoint: Endpoint = caller.pool.acquire(deadline, "compact_revision")
    metadata = caller.stream_metadata(endpoint, deadline)
    pending: queue.SimpleQueue[Any] = queue.SimpleQueue()
    pending.put(COMPACT_PROBE_REQUEST)
    call = endpoint.watch.Watch(
        _requests(pending), timeout=max(deadline - time.monotonic(), 0.001), metadata=metadata
    )
    try:
        for response in call:
            answer = probe_answer(response)
            if answer is not None:
                return answer
    except grpc.RpcError:
        return 0
    finally:
        pending.put(_END)
        call.cancel()
    return 0
