"""kvstore_memory: an in-memory fake with etcd's semantics, for unit tests of applications.

``MemoryStore`` passes the whole ``kvstore.testing`` conformance suite; ``ManualClock``
makes lease expiry deterministic: advance it instead of sleeping. ``AsyncMemoryStore`` is
the same fake for the asyncio API, and can share a ``MemoryStore``'s data.
"""

from __future__ import annotations

from kvstore_memory.async_store import AsyncMemoryStore
from kvstore_memory.clock import Clock, ManualClock, SystemClock
from kvstore_memory.store import MIN_LEASE_TTL, MemoryStore

__all__ = [
    "AsyncMemoryStore",
    "Clock",
    "MIN_LEASE_TTL",
    "ManualClock",
    "MemoryStore",
    "SystemClock",
]
