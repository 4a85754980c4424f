"""What differs between the two APIs, asyncio side: sleeping, events, locks, background work.

Hand-written, with its sync counterpart ``kvstore/_concurrency.py`` (same names without
the ``Async`` prefix, so a module written on these has a generated sync twin).
"""
# unasync: no-twin

from __future__ import annotations

import asyncio
import contextlib
import inspect
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

__all__ = [
    "EMPTY",
    "AsyncDone",
    "AsyncBackground",
    "AsyncEvent",
    "AsyncLock",
    "AsyncQueue",
    "invoke",
    "sleep",
    "wait_event",
]

AsyncDone: TypeAlias = Awaitable[None]
"""What a coroutine function that returns nothing returns (``Done``: ``None``)."""

AsyncEvent = asyncio.Event
AsyncLock = asyncio.Lock


EMPTY = object()
"""What ``AsyncQueue.get`` returns when nothing came in time."""

_T = TypeVar("_T")

if sys.version_info >= (3, 11):

    async def _within(awaitable: Awaitable[_T], timeout: float | None) -> _T:
        """``await awaitable``, raising ``TimeoutError`` after ``timeout`` seconds.

        Not ``asyncio.wait_for``: before Python 3.12 it awaits in a task of its own, and
        when that task finishes just as the caller is cancelled, it returns the result and
        the cancellation is lost (a cancelled watch reader that had just been handed an
        event read on, and waited for ever). ``asyncio.timeout`` awaits in the caller's
        task, so a cancellation always ends the wait (``asyncio.Queue.get`` then leaves
        the item queued).
        """
        async with asyncio.timeout(timeout):
            return await awaitable

else:  # pragma: no cover - Python 3.10 has no asyncio.timeout; wait_for keeps its race

    async def _within(awaitable: Awaitable[_T], timeout: float | None) -> _T:
        return await asyncio.wait_for(awaitable, timeout)


class AsyncQueue:
    """A FIFO queue read by coroutines of one event loop, fed from any thread.

    ``put`` never blocks: on the loop's thread it queues at once, from another thread
    (a sync ``MemoryStore`` sharing its data with an async one) it hands the item to the
    loop. The loop is the one running when the queue is made, or else the first reader's.
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        with contextlib.suppress(RuntimeError):
            self._bind(asyncio.get_running_loop())

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.get_ident()

    def put(self, item: object) -> None:
        """Queue ``item`` (from any thread)."""
        loop = self._loop
        if loop is None or threading.get_ident() == self._thread:
            self._queue.put_nowait(item)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._queue.put_nowait, item)

    async def get(self, timeout: float | None) -> object:
        """The next item, or ``EMPTY`` if none came within ``timeout`` seconds."""
        if self._loop is None:
            self._bind(asyncio.get_running_loop())
        if not self._queue.empty():
            return self._queue.get_nowait()
        if timeout is not None and timeout <= 0:
            return EMPTY
        try:
            return await _within(self._queue.get(), timeout)
        except asyncio.TimeoutError:  # not TimeoutError before Python 3.11
            return EMPTY


async def invoke(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``, awaited if it returns an awaitable (a coroutine function)."""
    result = function(*args)
    if inspect.isawaitable(result):
        return await result
    return result


async def sleep(seconds: float) -> None:
    """Sleep ``seconds`` (``asyncio.sleep``)."""
    await asyncio.sleep(seconds)


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds pass; whether it is set.

    Returns:
        ``True`` if ``event`` is set, ``False`` if ``timeout`` passed first.
    """
    if event.is_set():
        return True
    with contextlib.suppress(asyncio.TimeoutError):  # TimeoutError from 3.11
        await _within(event.wait(), timeout)
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
