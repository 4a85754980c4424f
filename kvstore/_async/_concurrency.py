"""What differs between the two APIs, asyncio side: sleeping, events, locks, background work.

Hand-written, with its sync counterpart ``kvstore/_concurrency.py`` (same names without
the ``Async`` prefix, so a module written on these has a generated sync twin).
"""
# unasync: no-twin

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

__all__ = ["AsyncBackground", "AsyncEvent", "AsyncLock", "sleep", "wait_event"]

AsyncEvent = asyncio.Event
AsyncLock = asyncio.Lock


async def sleep(seconds: float) -> None:
    """Sleep ``seconds`` (``asyncio.sleep``)."""
    await asyncio.sleep(seconds)


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds pass; whether it is set."""
    if event.is_set():
        return True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)
    return event.is_set()


class AsyncBackground:
    """``target()`` running as a task of the running event loop, started at once.

    Raises:
        RuntimeError: No event loop is running (call it from a coroutine).
    """

    def __init__(self, target: Callable[[], Awaitable[None]], name: str) -> None:
        self._task = asyncio.get_running_loop().create_task(_run(target), name=name)

    @property
    def running(self) -> bool:
        """Whether the task has not finished."""
        return not self._task.done()

    def is_current(self) -> bool:
        """Whether the caller is this task (it cannot wait for itself)."""
        return asyncio.current_task() is self._task

    async def join(self) -> None:
        """Wait for the task to end (it must be told to stop first)."""
        if not self.is_current():
            await asyncio.shield(self._task)

    def cancel(self) -> None:
        """Cancel the task (asyncio only: a thread cannot be cancelled)."""
        self._task.cancel()


async def _run(target: Callable[[], Awaitable[None]]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        await target()
