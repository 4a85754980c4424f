"""Clocks for ``MemoryStore``: the system's monotonic clock, and one tests move by hand."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """What ``MemoryStore`` needs of a clock: the time in seconds, monotonic."""

    def now(self) -> float:
        """The current time in seconds.

        Returns:
            Seconds on the clock's own scale (only differences between readings matter).
        """
        ...


class SystemClock:
    """The real monotonic clock; a ``MemoryStore`` on it expires leases by itself."""

    def now(self) -> float:
        """``time.monotonic()``.

        Returns:
            ``time.monotonic()``, in seconds.
        """
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to, so lease expiry is tested without sleeping.

    Args:
        start: The initial time in seconds.

    Example::

        clock = ManualClock()
        store = MemoryStore(clock=clock)
        lease = store.lease(10)
        clock.advance(11)  # the lease expires now; its keys are deleted
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], object]] = []

    def now(self) -> float:
        """The current time in seconds.

        Returns:
            The time the clock was set or advanced to, in seconds.
        """
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward; stores on this clock expire due leases before it returns.

        Raises:
            ValueError: ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def subscribe(self, listener: Callable[[], object]) -> None:
        """Call ``listener`` after every ``advance`` (stores use it to expire leases)."""
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], object]) -> None:
        """Stop calling ``listener``."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)
