"""How the asyncio SQL store reaches its database, asyncio side: a thread of its own.

Hand-written, with its sync counterpart ``kvstore_sql/_worker.py`` (``Worker``, same
methods without ``Async``), so that ``kvstore_sql/_async/store.py`` has a generated sync
twin. Database drivers such as ``sqlite3`` block: each store call runs the engine on one
dedicated thread per store (``run``), one call at a time, and the event loop waits for
it without blocking. A whole call, its transaction included, is one hop to the thread.

A task cancelled while its call runs does not stop the call (a thread cannot be
interrupted): a write then happens or not, and its caller does not learn which, as with
a request cancelled on the network.
"""
# unasync: no-twin

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["AsyncWorker"]

_T = TypeVar("_T")


class AsyncWorker:
    """Runs a store's database calls one at a time on a thread of its own.

    Args:
        name: The thread's name (shows in thread dumps).
    """

    def __init__(self, name: str) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=name
        )

    async def run(self, function: Callable[..., _T], *args: Any) -> _T:
        """``function(*args)`` on the worker thread, after the calls queued before it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))

    async def aclose(self) -> None:
        """Let the queued calls finish, then end the thread (idempotent)."""
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown)
