"""How the sync SQL store reaches its database, sync side: the caller's thread, one at a time.

Hand-written, with its asyncio counterpart ``kvstore_sql/_async/_worker.py``
(``AsyncWorker``): the sync store generated from the asyncio source calls these. Each
store call runs the engine on the calling thread, under a lock, so that the threads
sharing a store take turns on its one connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["Worker"]

_T = TypeVar("_T")


class Worker:
    """Runs a store's database calls one at a time, on the callers' threads.

    Args:
        name: Unused (the asyncio worker names its thread with it).
    """

    def __init__(self, name: str) -> None:
        self._lock = threading.Lock()

    def run(self, function: Callable[..., _T], *args: Any) -> _T:
        """``function(*args)``, after the calls of other threads that hold the lock."""
        with self._lock:
            return function(*args)

    def close(self) -> None:
        """Nothing to end: the callers' threads are theirs."""
