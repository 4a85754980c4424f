"""Watches: iterators of ``WatchEvent`` in revision order, cancellable, with a callback form.

A backend returns an ``AsyncWatch`` from its ``watch_range`` primitive. ``AsyncQueueWatch``
is the usual implementation: the backend's delivery side calls ``deliver`` / ``fail`` and
the application iterates. Wrapper stores transform events with ``AsyncMappedWatch``.
"""

from __future__ import annotations

import abc
import collections
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

from kvstore._async._concurrency import EMPTY, AsyncBackground, AsyncQueue, invoke
from kvstore._async._context import AsyncClosing
from kvstore.txn import WatchRequest
from kvstore.types import WatchEvent

__all__ = ["AsyncMappedWatch", "AsyncQueueWatch", "AsyncWatch", "WatchRequest", "run_callback"]


class AsyncWatch(AsyncClosing, abc.ABC, AsyncIterator[WatchEvent]):
    """A stream of changes to a key or range.

    Iterate it (``async for``) or call ``await next_event(timeout)``; ``await cancel()``
    (or leaving the ``async with`` block) ends the stream and what runs behind it.
    Iteration ends (``StopAsyncIteration``) after ``cancel``; a stream that failed raises
    its error from the iterator, for example ``CompactedError`` when the start revision
    was compacted.
    """

    def __aiter__(self) -> AsyncWatch:
        return self

    async def __aenter__(self) -> AsyncWatch:
        await self.ready()
        return self

    async def ready(self) -> None:
        """Wait until the store has registered the watch: a watch "from now" sees every
        change made after this returns. Entering the ``async with`` block waits for it.

        Stores that register the watch before ``watch()`` returns (the sync API, the
        in-memory store) return at once; over a network the watch is registered when
        the server answers its request (an ``AsyncEtcdWatch``). A watch that failed or
        was cancelled returns at once too; its reader then gets the error.
        """

    async def __anext__(self) -> WatchEvent:
        event = await self.next_event(None)
        if event is None:
            raise StopAsyncIteration
        return event

    @abc.abstractmethod
    async def next_event(self, timeout: float | None = None) -> WatchEvent | None:
        """The next event, waiting at most ``timeout`` seconds (``None``: no limit).

        Returns:
            The event, or ``None`` if none came in time or the watch is cancelled.

        Raises:
            CompactedError: The start revision was compacted.
            KVStoreError: The stream failed for good (the error says why).
        """

    @abc.abstractmethod
    async def cancel(self) -> None:
        """End the stream; idempotent. What runs behind the watch stops."""

    @property
    @abc.abstractmethod
    def cancelled(self) -> bool:
        """Whether ``cancel`` was called (or the store closed)."""

    async def _end_context(self) -> None:
        await self.cancel()


_END = object()


class AsyncQueueWatch(AsyncWatch):
    """A watch fed by a backend through ``deliver`` and ``fail`` (from any thread).

    The events of one ``deliver`` call reach the reader together: once it has the first,
    the rest are ready (``next_event(0)`` returns them), so a reader that drains what is
    ready never stops in the middle of a revision's events.

    Args:
        on_cancel: Called once, from ``cancel``, so the backend can stop its stream.
    """

    def __init__(self, on_cancel: Callable[[], Awaitable[None] | None] | None = None) -> None:
        self._queue = AsyncQueue()
        self._ready: collections.deque[WatchEvent] = collections.deque()
        self._count = 0
        self._on_cancel = on_cancel
        self._cancelled = threading.Event()
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def deliver(self, events: Iterable[WatchEvent]) -> None:
        """Queue events for the reader (the backend's side); they arrive together."""
        if self._cancelled.is_set():
            return
        batch = tuple(events)
        if not batch:
            return
        with self._lock:
            self._count += len(batch)
        self._queue.put(batch)

    def buffered(self) -> int:
        """How many delivered events the reader has not read yet.

        Returns:
            The number of events delivered to this watch and not yet read.
        """
        return self._count

    def fail(self, error: BaseException) -> None:
        """End the stream with an error the reader will get after the queued events."""
        with self._lock:
            if self._error is None:
                self._error = error
        self._queue.put(_END)

    async def next_event(self, timeout: float | None = None) -> WatchEvent | None:
        if self._cancelled.is_set():
            return None
        event = self._take()
        if event is not None:
            return event
        item = await self._queue.get(timeout)
        if item is EMPTY:
            return None
        if item is _END:
            self._queue.put(_END)  # every later read ends too
            if self._error is not None and not self._cancelled.is_set():
                raise self._error
            return None
        assert isinstance(item, tuple)
        self._ready.extend(item)
        return self._take()

    def _take(self) -> WatchEvent | None:
        try:
            event = self._ready.popleft()
        except IndexError:
            return None
        with self._lock:
            self._count -= 1
        return event

    def end(self) -> None:
        """End the stream from the backend's side, as a closing store does: readers get
        ``None`` as after ``cancel``, and ``on_cancel`` is not called."""
        self._set_cancelled()

    def _set_cancelled(self) -> bool:
        with self._lock:
            if self._cancelled.is_set():
                return False
            self._cancelled.set()
        self._queue.put(_END)
        return True

    async def cancel(self) -> None:
        if self._set_cancelled() and self._on_cancel is not None:
            await invoke(self._on_cancel)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()


class AsyncMappedWatch(AsyncWatch):
    """A watch whose events are ``transform(event)`` of an inner watch's.

    ``transform`` may raise (for example ``DecryptionError``): the error reaches the reader.
    """

    def __init__(self, inner: AsyncWatch, transform: Callable[[WatchEvent], WatchEvent]) -> None:
        self._inner = inner
        self._transform = transform

    async def next_event(self, timeout: float | None = None) -> WatchEvent | None:
        event = await self._inner.next_event(timeout)
        return None if event is None else self._transform(event)

    async def ready(self) -> None:
        await self._inner.ready()

    async def cancel(self) -> None:
        await self._inner.cancel()

    @property
    def cancelled(self) -> bool:
        return self._inner.cancelled


def run_callback(
    watch: AsyncWatch,
    callback: Callable[[WatchEvent], object],
    on_error: Callable[[BaseException], object] | None = None,
) -> AsyncBackground:
    """Call ``callback`` for each event of ``watch`` in the background until it ends.

    The background is a task of the running event loop (a coroutine function's result is
    awaited); in the sync API, a daemon thread. An error from the stream is passed to
    ``on_error`` (if given) and ends it.
    """

    async def pump() -> None:
        try:
            async for event in watch:
                await invoke(callback, event)
        except Exception as exc:  # noqa: BLE001 - handed to the caller's handler
            if on_error is not None:
                await invoke(on_error, exc)

    return AsyncBackground(pump, "kvstore-watch-callback")
