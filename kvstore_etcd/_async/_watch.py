"""Resumable watches over etcd's bidirectional ``Watch`` stream, on ``grpc.aio``.

The asyncio twin of ``kvstore_etcd._watch`` (hand-written: a task per stream where the
sync watch has a thread): ``AsyncEtcdWatch`` owns its stream, run by a task of the event
loop that created the watch. After a lost connection, a member restart or an endpoint
switch it opens a new stream from the last delivered revision + 1 (``WatchCursor``,
shared with the sync watch), so every revision is delivered exactly once, in order, with
no gap. A start revision below the compact revision ends the stream with
``CompactedError(compact_revision)`` from the iterator. ``cancel()`` ends the task and
its gRPC call before it returns.

``watch()`` returns at once: errors etcd gives when creating the watch (a key the user
may not read, refused credentials, no endpoint reachable within the request timeout)
come from the iterator.

A quiet stream is probed: the store's ``AsyncWatchMonitor`` (one task) asks for a
progress report after ``dial_keepalive_time`` of silence and reopens a stream that stays
silent ``dial_keepalive_timeout`` longer (a frozen member, a blackholed connection).
"""
# unasync: no-twin

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import grpc

from kvstore._async.watch import AsyncQueueWatch
from kvstore.errors import KVStoreError, StoreClosedError, UnavailableError
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
    from kvstore_etcd._async._calls import AsyncCaller
    from kvstore_etcd._async.store import AsyncEtcdStore

__all__ = ["AsyncEtcdWatch", "AsyncWatchMonitor", "probe_compact_revision"]

_log = logging.getLogger(__name__)

_RECONNECT_FIRST_DELAY = 0.05
_RECONNECT_MAX_DELAY = 1.0
_STREAM_ERRORS = (grpc.RpcError, asyncio.InvalidStateError)
"""What a ``grpc.aio`` stream raises when it breaks (a write after the call ended raises
``InvalidStateError``)."""


class _StreamEnded(Exception):
    """The stream ended for good (the watch was failed or cancelled)."""


class AsyncEtcdWatch(AsyncQueueWatch):
    """A watch on one key or range that survives reconnects (see the module docstring)."""

    def __init__(
        self,
        store: AsyncEtcdStore,
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
        self._created = False
        self._registered = asyncio.Event()
        self._call: Any = None
        self.liveness = StreamLiveness()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the stream's task on the running event loop; returns at once.

        Raises:
            RuntimeError: No event loop is running (call ``watch`` from a coroutine).
        """
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"kvstore-etcd-watch {self._key!r}"
        )

    async def ready(self) -> None:
        """Wait for etcd's ``created`` answer to the watch request (see ``AsyncWatch``)."""
        task = self._task
        if task is None or self._registered.is_set():
            return
        registered = asyncio.ensure_future(self._registered.wait())
        try:
            await asyncio.wait({registered, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            registered.cancel()

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The task that runs the stream (``None`` before ``start``)."""
        return self._task

    # ------------------------------------------------------------------ stream task

    async def _run(self) -> None:
        delay = _RECONNECT_FIRST_DELAY
        renewed_token = False
        while not self.cancelled:
            try:
                if await self._stream():
                    delay = _RECONNECT_FIRST_DELAY
                    renewed_token = False
            except _StreamEnded:
                return
            except TokenRefused:
                if renewed_token:
                    self.fail(refused_again_error("watch", self._key))
                    return
                renewed_token = True
                continue
            except KVStoreError as exc:
                if self._store.closed:
                    return
                if not isinstance(exc, UnavailableError) or not self._created:
                    self.fail(exc)
                    return
                _log.debug("watch on %r cannot reconnect yet: %s", self._key, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RECONNECT_MAX_DELAY)

    async def _stream(self) -> bool:
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
        caller = store.caller
        deadline = time.monotonic() + store.config.request_timeout
        endpoint = await caller.pool.acquire(deadline, "watch")
        metadata = await caller.stream_metadata(endpoint, deadline)
        with map_errors("watch", key=self._key, endpoint=endpoint.address):
            call = endpoint.watch.Watch(metadata=metadata)
        self._call = call
        self.liveness.heard(time.monotonic())
        progressed = False
        try:
            with contextlib.suppress(asyncio.InvalidStateError):
                # A call that already ended: read() raises its error.
                await call.write(self._cursor.create_request())
            while True:
                response = await call.read()
                if response is grpc.aio.EOF:
                    break
                self.liveness.heard(time.monotonic())
                self._handle(response, metadata)
                progressed = True
        except grpc.RpcError as exc:
            if self.cancelled or store.closed:
                raise _StreamEnded from None
            if is_invalid_token(exc):
                caller.forget_token(metadata)
                raise TokenRefused from None
            if is_stream_lost(exc):
                caller.pool.mark_failed(endpoint)
                _log.debug("watch on %r lost its stream, resuming: %s", self._key, exc)
                return progressed
            raise translate(
                exc, operation="watch", key=self._key, endpoint=endpoint.address
            ) from exc
        finally:
            self._call = None
            call.cancel()
        # The server ended the stream without an error (it is shutting down): resume.
        caller.pool.mark_failed(endpoint)
        return progressed

    def _handle(self, response: Any, metadata: Any) -> None:
        try:
            events = self._cursor.handle(response)
        except TokenRefused:
            self._store.caller.forget_token(metadata)
            raise
        except WatchCancelled as cancelled:
            self.fail(cancelled.error)
            raise _StreamEnded from None
        if events:
            self.deliver(events)
        elif response.created:
            self._created = True
            self._registered.set()

    # ------------------------------------------------------------------ liveness

    async def check_liveness(self, now: float, idle: float, timeout: float) -> None:
        """Probe a quiet stream; drop one whose probe went unanswered (monitor task)."""
        call = self._call
        if call is None:
            return
        verdict = self.liveness.check(now, idle, timeout)
        if verdict == "drop":
            _log.debug("watch on %r: stream silent, reconnecting", self._key)
            call.cancel()
        elif verdict == "probe":
            with contextlib.suppress(*_STREAM_ERRORS):
                await call.write(PROGRESS_REQUEST)

    # ------------------------------------------------------------------ cancel

    async def _stop(self) -> None:
        call, task = self._call, self._task
        if call is not None:
            call.cancel()
        self._store.forget_watch(self)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class AsyncWatchMonitor:
    """One task per store that checks the liveness of its watch streams (while it has
    watches: the store stops it with its last watch)."""

    def __init__(self, store: AsyncEtcdStore, idle: float, timeout: float) -> None:
        self._store = store
        self._idle = idle
        self._timeout = timeout
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name="kvstore-etcd-watch-monitor"
        )

    async def _run(self, tick: float = 0.5) -> None:
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for watch in self._store.watches():
                await watch.check_liveness(now, self._idle, self._timeout)

    def cancel(self) -> None:
        """Stop the task (it ends at its next step)."""
        self._task.cancel()

    async def stop(self) -> None:
        """Stop the task and wait for its end."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def probe_compact_revision(caller: AsyncCaller, timeout: float) -> int:
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
    endpoint = await caller.pool.acquire(deadline, "compact_revision")
    metadata = await caller.stream_metadata(endpoint, deadline)
    call = endpoint.watch.Watch(timeout=max(deadline - time.monotonic(), 0.001), metadata=metadata)
    try:
        await call.write(COMPACT_PROBE_REQUEST)
        while True:
            response = await call.read()
            if response is grpc.aio.EOF:
                return 0
            answer = probe_answer(response)
            if answer is not None:
                return answer
    except _STREAM_ERRORS:
        return 0
    finally:
        call.cancel()
