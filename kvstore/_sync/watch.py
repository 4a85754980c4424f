# Generated from kvstore/_async/watch.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""Watches: iterators of ``WatchEvent`` in revision order, cancellable, with a callback form.

A backend returns a ``Watch`` from its ``watch_range`` primitive. ``QueueWatch``
is the usual implementation: the backend's delivery side calls ``deliver`` / ``fail`` and
the application iterates. Wrapper stores transform events with ``MappedWatch``.
"""

from __future__ import annotations

import abc
import collections
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator

from kvstore._concurrency import EMPTY, Background, Queue, invoke
from kvstore._sync._context import Closing
from kvstore.txn import WatchRequest
from kvstore.types import WatchEvent

__all__ = ["MappedWatch", "QueueWatch", "Watch", "WatchRequest", "run_callback"]


class Watch(Closing, abc.ABC, Iterator[WatchEvent]):
    """A stream of changes to a key or range.

    Iterate it (``for``) or call ``next_event(timeout)``; ``cancel()``
    (or leaving the ``with`` block) ends the stream and what runs behind it.
    Iteration ends (``StopIteration``) after ``cancel``; a stream that failed raises
    its error from the iterator, for example ``CompactedError`` when the start revision
    was compacted.
    """

    def __iter__(self) -> Watch:
        return self

    def __enter__(self) -> Watch:
        self.ready()
        return self

    def ready(self) -> None:
        """Wait until the store has registered the watch: a watch "from now" sees every
        change made after this returns. Entering the ``with`` block waits for it.

        Stores that register the watch before ``watch()`` returns (the sync API, the
        in-memory store) return at once; over a network the watch is registered when
        the server answers its request (an ``EtcdWatch``). A watch that failed or
        was cancelled returns at once too; its reader then gets the error.
        """

    def __next__(self) -> WatchEvent:
        event = self.next_event(None)
        if event is None:
            raise StopIteration
        return event

    @abc.abstractmethod
    def next_event(self, timeout: float | None = None) -> WatchEvent | None:
        """The next event, waiting at most ``timeout`` seconds (``None``: no limit).

        Returns:
            The event, or ``None`` if none came in time or the watch is cancelled.

        Raises:
            CompactedError: The start revision was compacted.
            KVStoreError: The stream failed for good (the error says why).
        """

    @abc.abstractmethod
    def cancel(self) -> None:
        """End the stream; idempotent. What runs behind the watch stops."""

    @property
    @abc.abstractmethod
    def cancelled(self) -> bool:
        """Whether ``cancel`` was called (or the store closed)."""

    def _end_context(self) -> None:
        self.cancel()


_END = object()


class QueueWatch(Watch):
    """A watch fed by a backend through ``deliver`` and ``fail`` (from any thread).

    The events of one ``deliver`` call reach the reader together: once it has the first,
    the rest are ready (``next_event(0)`` returns them), so a reader that drains what is
    ready never stops in the middle of a revision's events.

    Args:
        on_cancel: Called once, from ``cancel``, so the backend can stop its stream.
    """

    def __init__(self, on_cancel: Callable[[], Awaitable[None] | None] | None = None) -> None:
        self._queue = Queue()
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

    def next_event(self, timeout: float | None = None) -> WatchEvent | None:
        if self._cancelled.is_set():
            return None
        event = self._take()
        if event is not None:
            return event
        item = self._queue.get(timeout)
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

    def cancel(self) -> None:
        if self._set_cancelled() and self._on_cancel is not None:
            invoke(self._on_cancel)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()


class MappedWatch(Watch):
    """A watch whose events are ``transform(event)`` of an inner watch's.

    ``transform`` may raise (for example ``DecryptionError``): the error reaches the reader.
    """

    def __init__(self, inner: Watch, transform: Callable[[WatchEvent], WatchEvent]) -> None:
        self._inner = inner
        self._transform = transform

    def next_event(self, timeout: float | None = None) -> WatchEvent | None:
        event = self._inner.next_event(timeout)
        return None if event is None else self._transform(event)

    def ready(self) -> None:
        self._inner.ready()

    def cancel(self) -> None:
        self._inner.cancel()

    @property
    def cancelled(self) -> bool:
        return self._inner.cancelled


def run_callback(
    watch: Watch,
    callback: Callable[[WatchEvent], object],
    on_error: Callable[[BaseException], object] | None = None,
) -> Background:
    """Call ``callback`` for each event of ``watch`` in the background until it ends.

    The background is a task of the running event loop (a coroutine function's result is
    awaited); in the sync API, a daemon thread. An error from the stream is passed to
    ``on_error`` (if given) and ends it.
    """

    def pump() -> None:
        try:
            for event in watch:
                invoke(callback, event)
        except Exception as exc:  # noqa: BLE001 - handed to the caller's handler
            if on_error is not None:
                invoke(on_error, exc)

    return Background(pump, "kvstore-watch-callback")
