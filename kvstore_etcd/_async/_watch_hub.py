"""``WatchHub``: all watches of one store on one Watch stream (SPEC 16), as Go's clientv3
does.

Written once on ``grpc.aio``: the asyncio ``AsyncEtcdStore`` runs it on its event loop,
the sync ``EtcdStore`` on an event loop thread of its own (``kvstore_etcd._loop``), so a
store runs one watch stream task however many watches it has. (Its kept-alive leases
share one LeaseKeepAlive stream the same way: ``kvstore_etcd._async._keepalive_stream``.)

Each watch is a ``Watcher`` (its ``WatchCursor``, the resume point, and its reader's
``WatchTarget``). The hub keeps one stream open while it has watchers, on the current
endpoint, with ``hasleader=true`` metadata (Go's ``WithRequireLeader``): a member cut off
from its leader ends the stream instead of leaving it silent. Create requests are
pipelined; etcd answers them in order, so ``created`` answers are matched first in, first
out, and every later response by its watch id. When the stream breaks, every watcher is
created again on a new stream from its own next revision (no gap, no duplicate); a
compacted start revision fails that watcher only (``CompactedError``); cancelling one
watch cancels its id only. A stream silent for ``dial_keepalive_time`` is probed with a
progress request and dropped if that goes unanswered for ``dial_keepalive_timeout``.

A reader that stops reading delays nobody: once ``EtcdConfig.watch_buffer`` events wait
unread in its watch, the hub parks it (cancels its id on the server, keeping its resume
point) and creates it again from there when the reader has read half of them. A parked
watch therefore holds at most ``watch_buffer`` events plus one response; its later events
come from etcd's history, so if that was compacted meanwhile its reader gets
``CompactedError`` (as for any watch that resumes too late).
"""
# unasync: no-twin

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

import grpc
from etcd3.etcdrpc import rpc_pb2

from kvstore.errors import KVStoreError, StoreClosedError, UnavailableError
from kvstore.plugins.events import report as report_event
from kvstore.types import WatchEvent
from kvstore_etcd._errors import (
    STREAM_WRITE_ERRORS,
    is_invalid_token,
    is_stream_lost,
    map_errors,
    refused_again_error,
    translate,
)
from kvstore_etcd._metadata import Metadata, with_leader
from kvstore_etcd._watch_cursor import (
    PROGRESS_REQUEST,
    StreamLiveness,
    TokenRefused,
    WatchCancelled,
    WatchCursor,
)

if TYPE_CHECKING:
    from kvstore_etcd._async._calls import AsyncCaller
    from kvstore_etcd._async._endpoints import AsyncEndpoint
    from kvstore_etcd.config import EtcdConfig

__all__ = ["WatchHub", "WatchTarget", "Watcher"]

_log = logging.getLogger(__name__)

_RECONNECT_FIRST_DELAY = 0.05
_RECONNECT_MAX_DELAY = 1.0
_LIVENESS_TICK = 0.5


class WatchTarget(Protocol):
    """The reader's side of one watch, fed by the hub (the sync or the asyncio watch)."""

    def deliver(self, events: list[WatchEvent]) -> None:
        """Queue events for the reader."""

    def fail(self, error: BaseException) -> None:
        """End the watch with ``error`` (the reader gets it after the queued events)."""

    def registered(self) -> None:
        """etcd created the watch (the first time: a watch "from now" starts here)."""

    def buffered(self) -> int:
        """How many events wait unread."""


class _Reauthenticate(Exception):
    """etcd refused one watcher's auth token: open a new stream with a renewed token (the
    watcher ends if it is refused again before it makes progress)."""


class Watcher:
    """The hub's state of one watch: its resume point, its reader, its id on the stream."""

    __slots__ = ("cursor", "ended", "parked", "refused", "registered", "target", "watch_id")

    def __init__(self, cursor: WatchCursor, target: WatchTarget) -> None:
        self.cursor = cursor
        self.target = target
        self.watch_id: int | None = None
        self.registered = False
        self.parked = False
        self.ended = False
        self.refused = False
        """etcd refused the auth token for it once since it last made progress."""

    def __repr__(self) -> str:
        return f"Watcher({self.cursor.key!r}, id={self.watch_id}, next={self.cursor.next_revision})"


class _Stream:
    """One open Watch stream: its call, what waits to be written, what waits to be created."""

    def __init__(self, call: Any, endpoint: AsyncEndpoint, metadata: Metadata) -> None:
        self.call = call
        self.endpoint = endpoint
        self.metadata = metadata
        self.outbox: asyncio.Queue[Any] = asyncio.Queue()
        self.creating: collections.deque[Watcher] = collections.deque()
        self.by_id: dict[int, Watcher] = {}
        self.liveness = StreamLiveness()
        self.dropped = False
        """Ended on purpose (no watcher left, silent, store closed): not a failure."""


class WatchHub:
    """All watches of one store on one Watch stream (see the module docstring).

    Every method runs on the hub's event loop (``submit`` hands a call over from another
    thread).
    """

    def __init__(self, caller: AsyncCaller, config: EtcdConfig) -> None:
        self._caller = caller
        self._config = config
        self.buffer_limit = config.watch_buffer
        self._loop = asyncio.get_running_loop()
        self._watchers: dict[Watcher, None] = {}
        self._stream: _Stream | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closed = False
        self.streams_opened = 0
        self._resuming = False
        """The last stream broke with watches on it: the next one reports their resume."""
        """How many streams the hub opened (one, plus one per reconnect)."""

    def __len__(self) -> int:
        return len(self._watchers)

    @property
    def running(self) -> bool:
        """Whether the stream task runs (it ends with the last watch)."""
        return self._task is not None and not self._task.done()

    def submit(self, function: Any, *args: Any) -> None:
        """Run ``function(*args)`` on the hub's loop (from any thread).

        Raises:
            StoreClosedError: The loop has ended (the store was closed).
        """
        try:
            self._loop.call_soon_threadsafe(function, *args)
        except RuntimeError:  # "Event loop is closed"
            raise StoreClosedError("watch: the store is closed", operation="watch") from None

    # ------------------------------------------------------------------ watchers

    def add(self, watcher: Watcher) -> None:
        """Start ``watcher``: created on the open stream, or on the next one."""
        if self._closed:
            watcher.ended = True
            watcher.target.fail(
                StoreClosedError(
                    f"watch: the store was closed before the watch on {watcher.cursor.key!r} "
                    "was created",
                    key=watcher.cursor.key,
                    operation="watch",
                )
            )
            return
        self._watchers[watcher] = None
        if self._stream is not None:
            self._create(self._stream, watcher)
        if self._task is None or self._task.done():
            self._task = self._loop.create_task(self._run(), name="kvstore-etcd-watch-stream")
        self._wake.set()

    def cancel(self, watcher: Watcher) -> None:
        """End ``watcher``: its id is cancelled on the server, and only its id."""
        if watcher.ended:
            return
        watcher.ended = True
        self._watchers.pop(watcher, None)
        self._forget_id(watcher)
        if not self._watchers and self._stream is not None:
            self._drop(self._stream)

    def unpark(self, watcher: Watcher) -> None:
        """Create a parked watcher again from its resume point (its reader caught up)."""
        if watcher.ended or not watcher.parked:
            return
        watcher.parked = False
        if self._stream is not None:
            self._create(self._stream, watcher)

    def _create(self, stream: _Stream, watcher: Watcher) -> None:
        stream.creating.append(watcher)
        stream.outbox.put_nowait(watcher.cursor.create_request())

    def _forget_id(self, watcher: Watcher) -> None:
        stream, watch_id = self._stream, watcher.watch_id
        watcher.watch_id = None
        if stream is not None and watch_id is not None:
            stream.by_id.pop(watch_id, None)
            stream.outbox.put_nowait(_cancel_request(watch_id))

    def _end(self, watcher: Watcher, error: KVStoreError) -> None:
        watcher.ended = True
        self._watchers.pop(watcher, None)
        watcher.target.fail(error)
        if not self._watchers and self._stream is not None:
            self._drop(self._stream)

    def _drop(self, stream: _Stream) -> None:
        stream.dropped = True
        stream.call.cancel()

    # ------------------------------------------------------------------ the stream task

    async def _run(self) -> None:
        delay = _RECONNECT_FIRST_DELAY
        renewed_token = False
        liveness = self._loop.create_task(self._watch_liveness(), name="kvstore-etcd-watch-probe")
        syncing = self._loop.create_task(self._auto_sync(), name="kvstore-etcd-auto-sync")
        try:
            while self._watchers and not self._closed:
                try:
                    if await self._open_and_read():
                        delay = _RECONNECT_FIRST_DELAY
                        renewed_token = False
                except _Reauthenticate:
                    continue  # one watcher's token was refused: it says when to give up
                except TokenRefused:
                    if renewed_token:
                        for watcher in list(self._watchers):
                            self._end(watcher, refused_again_error("watch", watcher.cursor.key))
                        continue
                    renewed_token = True
                    continue
                except KVStoreError as exc:
                    if self._closed:
                        return
                    self._stream_failed(exc)
                if not self._watchers or self._closed:
                    return
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):  # TimeoutError from 3.11
                    await asyncio.wait_for(self._wake.wait(), delay)
                delay = min(delay * 2, _RECONNECT_MAX_DELAY)
        finally:
            liveness.cancel()
            syncing.cancel()

    def _stream_failed(self, exc: KVStoreError) -> None:
        """No stream could be opened: a definitive error ends every watcher; while no
        endpoint is reachable, those never created end (the rest wait to resume)."""
        definitive = not isinstance(exc, UnavailableError)
        for watcher in list(self._watchers):
            if definitive or not watcher.registered:
                self._end(watcher, _about(exc, watcher.cursor.key))
        if not definitive:
            _log.debug("watch stream cannot reconnect yet: %s", exc)

    async def _open_and_read(self) -> bool:
        """Open a stream, create every watcher on it, read until it breaks.

        Returns:
            Whether it made progress (a watch created or an event delivered).

        Raises:
            TokenRefused: etcd refused the auth token; authenticate and reconnect.
            UnavailableError: No endpoint is reachable right now.
            KVStoreError: A definitive error.
        """
        caller = self._caller
        await caller.maybe_sync()
        deadline = time.monotonic() + self._config.request_timeout
        endpoint = await caller.pool.acquire(deadline, "watch")
        metadata = await caller.stream_metadata(endpoint, deadline)
        with map_errors("watch", endpoint=endpoint.address):
            call = endpoint.watch.Watch(metadata=with_leader(metadata))
        stream = _Stream(call, endpoint, metadata)
        stream.liveness.heard(time.monotonic())
        self._stream = stream
        self.streams_opened += 1
        for watcher in self._watchers:
            if not watcher.parked:
                self._create(stream, watcher)
        if self._resuming:
            self._resuming = False
            report_event(
                "watch_resume",
                store=caller.pool.events_source,
                watches=len(self._watchers),
                endpoint=endpoint.address,
            )
        writer = self._loop.create_task(self._write(stream), name="kvstore-etcd-watch-writer")
        progressed = False
        try:
            while True:
                response = await call.read()
                if response is grpc.aio.EOF:
                    break
                stream.liveness.heard(time.monotonic())
                if self._dispatch(stream, response):
                    progressed = True
        except asyncio.CancelledError:
            if not call.cancelled():
                raise  # the task itself is cancelled (the store closes)
            # The hub ended the call: no watcher left, a silent stream, the store closing.
            return progressed
        except grpc.RpcError as exc:
            if stream.dropped or self._closed:
                return progressed
            if is_invalid_token(exc):
                caller.forget_token(metadata)
                raise TokenRefused from None
            if is_stream_lost(exc):
                caller.pool.mark_failed(endpoint)
                _log.debug("watch stream lost, resuming every watch: %s", exc)
                return progressed
            raise translate(exc, operation="watch", endpoint=endpoint.address) from exc
        finally:
            self._stream = None
            writer.cancel()
            call.cancel()
            for watcher in self._watchers:
                watcher.watch_id = None
            self._resuming = bool(self._watchers) and not self._closed
        # The server ended the stream without an error (it is shutting down): resume.
        if not stream.dropped:
            caller.pool.mark_failed(endpoint)
        return progressed

    async def _write(self, stream: _Stream) -> None:
        with contextlib.suppress(*STREAM_WRITE_ERRORS):
            while True:
                await stream.call.write(await stream.outbox.get())

    def _dispatch(self, stream: _Stream, response: Any) -> bool:
        """Hand one response to its watcher; whether it made progress.

        Raises:
            _Reauthenticate: etcd refused the auth token of a watcher; reopen the stream.
        """
        if response.created:
            if not stream.creating:
                return False
            watcher = stream.creating.popleft()
            if watcher.ended or watcher.parked or watcher.watch_id is not None:
                # Cancelled or parked while etcd created it: cancel what it created.
                if not response.canceled:
                    stream.outbox.put_nowait(_cancel_request(response.watch_id))
                return False
        else:
            found = stream.by_id.get(response.watch_id)
            if found is None:
                # A progress answer for the whole stream, or a late response of an id
                # cancelled on purpose (its events come again when it is created again).
                return False
            watcher = found
        try:
            events = watcher.cursor.handle(response)
        except TokenRefused:
            self._caller.forget_token(stream.metadata)
            stream.by_id.pop(response.watch_id, None)
            watcher.watch_id = None
            if watcher.refused:
                self._end(watcher, refused_again_error("watch", watcher.cursor.key))
                return False
            watcher.refused = True
            raise _Reauthenticate from None
        except WatchCancelled as cancelled:
            stream.by_id.pop(response.watch_id, None)
            watcher.watch_id = None
            self._end(watcher, cancelled.error)
            return False
        if response.created:
            watcher.watch_id = response.watch_id
            stream.by_id[response.watch_id] = watcher
            watcher.refused = False
            if not watcher.registered:
                watcher.registered = True
                watcher.target.registered()
            return True
        if not events:
            return False
        watcher.refused = False
        watcher.target.deliver(events)
        if watcher.target.buffered() >= self.buffer_limit:
            watcher.parked = True
            self._forget_id(watcher)
            _log.debug(
                "watch on %r parked: %d events unread", watcher.cursor.key, self.buffer_limit
            )
        return True

    def caught_up(self, watcher: Watcher) -> bool:
        """Whether a parked watcher's reader has read enough to create it again."""
        return watcher.parked and watcher.target.buffered() <= self.buffer_limit // 2

    async def _auto_sync(self) -> None:
        """Refresh the endpoints while watches run (``auto_sync_interval``): a stream
        that stays up makes no call that would, and must find a member when it breaks."""
        interval = self._config.auto_sync_interval
        if not interval:
            return
        while True:
            await asyncio.sleep(min(interval, _LIVENESS_TICK))
            await self._caller.maybe_sync()

    # ------------------------------------------------------------------ liveness

    async def _watch_liveness(self) -> None:
        idle, timeout = self._config.dial_keepalive_time, self._config.dial_keepalive_timeout
        while True:
            await asyncio.sleep(_LIVENESS_TICK)
            stream = self._stream
            if stream is None:
                continue
            verdict = stream.liveness.check(time.monotonic(), idle, timeout)
            if verdict == "drop":
                _log.debug("watch stream silent, reconnecting")
                self._caller.pool.mark_failed(stream.endpoint)
                stream.call.cancel()
            elif verdict == "probe":
                stream.outbox.put_nowait(PROGRESS_REQUEST)

    # ------------------------------------------------------------------ lifecycle

    async def close(self) -> None:
        """End every watcher's stream and the task (the store closes)."""
        self._closed = True
        stream, task = self._stream, self._task
        if stream is not None:
            self._drop(stream)
        self._wake.set()
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _cancel_request(watch_id: int) -> Any:
    return rpc_pb2.WatchRequest(cancel_request=rpc_pb2.WatchCancelRequest(watch_id=watch_id))


def _about(error: KVStoreError, key: str) -> KVStoreError:
    """A copy of a stream's ``error`` for the watch on ``key``."""
    error = copy.copy(error)
    if error.key is None:
        error.key = key
    return error
