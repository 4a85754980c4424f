"""What differs between the two APIs, sync side: sleeping, events, locks, background work.

Hand-written, with its asyncio counterpart ``kvstore/_async/_concurrency.py`` (the same
names with an ``Async`` prefix): modules generated from asyncio sources import these.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeAlias

__all__ = ["EMPTY", "Background", "Done", "Event", "Lock", "Queue", "invoke", "sleep", "wait_event"]

Done: TypeAlias = None
"""What a function that returns nothing returns (``AsyncDone``: ``Awaitable[None]``)."""

Event = threading.Event
Lock = threading.Lock


EMPTY = object()
"""What ``Queue.get`` returns when nothing came in time."""


class Queue:
    """A FIFO queue fed and read from any thread."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()

    def put(self, item: object) -> None:
        """Queue ``item``."""
        self._queue.put(item)

    def get(self, timeout: float | None) -> object:
        """The next item, or ``EMPTY`` if none came within ``timeout`` seconds."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return EMPTY


def invoke(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` (the asyncio side awaits what a coroutine function returns)."""
    return function(*args)


def sleep(seconds: float) -> None:
    """Sleep ``seconds`` (``time.sleep``)."""
    time.sleep(seconds)


def wait_event(event: threading.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds pass; whether it is set.

    Returns:
        ``True`` if ``event`` is set, ``False`` if ``timeout`` passed first.
    """
    return event.wait(timeout)


class Background:
    """``target()`` running on a daemon thread, started at once."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        self._thread = threading.Thread(target=target, name=name, daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the thread has not finished."""
        return self._thread.is_alive()

    def is_current(self) -> bool:
        """Whether the caller is this thread (it cannot wait for itself)."""
        return threading.current_thread() is self._thread

    def join(self) -> None:
        """Wait for the thread to end (it must be told to stop first)."""
        if not self.is_current():
            self._thread.join()
