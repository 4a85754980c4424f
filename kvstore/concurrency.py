"""The concurrency helpers a backend needs, for backend authors, in both APIs.

A backend's asyncio code is written once and its sync twin generated from it (as kvstore's
own are, by ``scripts/unasync.py``), so each helper comes in a pair whose names differ only
by the ``Async`` prefix (``AsyncLock`` / ``Lock``) or, for functions, the ``async_``
prefix (``async_sleep`` / ``sleep``):

- ``Lock`` / ``AsyncLock``: a mutual-exclusion lock (``threading.Lock`` / ``asyncio.Lock``).
- ``Event`` / ``AsyncEvent``: an event flag (``threading.Event`` / ``asyncio.Event``).
- ``sleep`` / ``async_sleep``: sleep for a number of seconds.
- ``wait_event`` / ``async_wait_event``: wait for an event, at most ``timeout`` seconds;
  returns whether it was set.
- ``Closing`` / ``AsyncClosing``: the context-manager mixin of everything with a
  ``close()`` / ``aclose()``.

Everything here is a name of kvstore's own private pairs (``kvstore/_async/_concurrency.py``
and ``kvstore._concurrency.py``), made public: the objects are the same.
"""

from __future__ import annotations

from kvstore._async._concurrency import AsyncEvent, AsyncLock
from kvstore._async._concurrency import sleep as async_sleep
from kvstore._async._concurrency import wait_event as async_wait_event
from kvstore._async._context import AsyncClosing
from kvstore._concurrency import Event, Lock, sleep, wait_event
from kvstore._sync._context import Closing

__all__ = [
    "AsyncClosing",
    "AsyncEvent",
    "AsyncLock",
    "Closing",
    "Event",
    "Lock",
    "async_sleep",
    "async_wait_event",
    "sleep",
    "wait_event",
]
