"""Resumable watches for ``AsyncEtcdStore``, fed by the store's ``WatchHub``.

All watches of a store share one Watch stream, run by one task of the event loop that
made the first watch (``kvstore_etcd._async._watch_hub``): after a lost connection, a
member restart or an endpoint switch each watch resumes from its own next revision, so
every revision is delivered exactly once, in order, with no gap. A start revision below
the compact revision ends the watch with ``CompactedError(compact_revision)`` from the
iterator. ``cancel()`` cancels the watch's id on the server, and only its id.

``watch()`` returns at once: errors etcd gives when creating the watch (a key the user
may not read, refused credentials, no endpoint reachable within the request timeout)
come from the iterator; ``ready()`` (and ``async with``) waits for etcd's answer.
"""
# unasync: no-twin

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from kvstore.types import WatchEvent
from kvstore.watch import AsyncQueueWatch
from kvstore_etcd._async._watch_hub import Watcher
from kvstore_etcd._watch_cursor import WatchCursor

if TYPE_CHECKING:
    from kvstore_etcd._async._watch_hub import WatchHub

__all__ = ["AsyncEtcdWatch"]


class AsyncEtcdWatch(AsyncQueueWatch):
    """A watch on one key or range that survives reconnects (see the module docstring)."""

    def __init__(self, hub: WatchHub, cursor: WatchCursor) -> None:
        super().__init__(on_cancel=self._stop)
        self._hub = hub
        self._answered = asyncio.Event()
        self.watcher = Watcher(cursor, self)

    def start(self) -> None:
        """Hand the watch to the hub (on the running event loop); returns at once."""
        self._hub.add(self.watcher)

    async def ready(self) -> None:
        """Wait for etcd's ``created`` answer to the watch request (see ``AsyncWatch``)."""
        await self._answered.wait()

    async def next_event(self, timeout: float | None = None) -> WatchEvent | None:
        event = await super().next_event(timeout)
        if self._hub.caught_up(self.watcher):
            self._hub.unpark(self.watcher)
        return event

    # ------------------------------------------------------------------ WatchTarget

    def registered(self) -> None:
        self._answered.set()

    def fail(self, error: BaseException) -> None:
        super().fail(error)
        self._answered.set()

    async def _stop(self) -> None:
        self._hub.cancel(self.watcher)
        self._answered.set()
