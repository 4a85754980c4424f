"""What differs between the two APIs, sync side: sleeping, events, locks, background work.

Hand-written, with its asyncio counterpart ``kvstore/_async/_concurrency.py`` (the same
names with an ``Async`` prefix): modules generated from asyncio sources import these.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Background", "Event", "Lock", "sleep", "wait_event"]

Event = threading.Event
Lock = threading.Lock


def sleep(seconds: float) -> None:
    """Sleep ``seconds`` (``time.sleep``)."""
    time.sleep(seconds)


def wait_event(event: threading.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds pass; whether it is set."""
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
