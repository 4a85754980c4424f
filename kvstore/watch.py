"""Watches: iterators of ``WatchEvent`` in revision order, cancellable, with a callback form.

For applications: ``Watch`` / ``AsyncWatch`` are what ``store.watch(...)`` returns.

For backend authors: a backend's ``watch_range`` primitive returns a ``QueueWatch`` /
``AsyncQueueWatch``, the usual implementation: the backend's delivery side calls
``deliver`` / ``fail`` and the application iterates. Wrapper stores transform events with
``MappedWatch`` / ``AsyncMappedWatch``.
"""

from __future__ import annotations

from kvstore._async.watch import AsyncMappedWatch, AsyncQueueWatch, AsyncWatch
from kvstore._sync.watch import MappedWatch, QueueWatch, Watch
from kvstore.txn import WatchRequest

__all__ = [
    "AsyncMappedWatch",
    "AsyncQueueWatch",
    "AsyncWatch",
    "MappedWatch",
    "QueueWatch",
    "Watch",
    "WatchRequest",
]
