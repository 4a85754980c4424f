"""Resumable watches for the sync ``EtcdStore``, fed by the store's ``WatchHub``.

All watches of a store share one Watch stream, run on the store's stream thread
(``kvstore_etcd._loop``) by the same code as the asyncio store's
(``kvstore_etcd._async._watch_hub``): after a lost connection, a member restart or an
endpoint switch each watch resumes from its own next revision, so events are delivered
exactly once, in revision order, with no gap. A start revision below the compact
revision ends the watch with ``CompactedError(compact_revision)`` from the iterator.
``cancel()`` cancels the watch's id on the server, and only its id.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Protocol

from kvstore.errors import CompactedError, KVStoreError, StoreClosedError, UnavailableError
from kvstore.types import WatchEvent
from kvstore.watch import QueueWatch, Watch
from kvstore_etcd._async._watch_hub import Watcher, WatchHub
from kvstore_etcd._watch_cursor import WatchCursor
from kvstore_etcd.config import EtcdConfig

__all__ = ["EtcdWatch", "WatchStore"]


class _StreamThread(Protocol):
    """The thread running a sync store's streams (``kvstore_etcd._loop.StreamLoop``)."""

    hub: WatchHub


class WatchStore(Protocol):
    """What an ``EtcdWatch`` needs from its store (``EtcdStore``)."""

    @property
    def config(self) -> EtcdConfig:
        """The request timeout bounds the watch's creation."""

    def streams(self) -> _StreamThread:
        """The store's stream thread, whose hub runs the watch.

        Raises:
            StoreClosedError: The store was closed.
        """

    def forget_watch(self, watch: Watch) -> None:
        """The watch was cancelled: the store stops tracking it."""


class EtcdWatch(QueueWatch):
    """A watch on one key or range that survives reconnects (see the module docstring)."""

    def __init__(self, store: WatchStore, cursor: WatchCursor) -> None:
        super().__init__(on_cancel=self._stop)
        self._store = store
        self._answered = threading.Event()
        self._start_error: KVStoreError | None = None
        self._hub: WatchHub | None = None
        self.watcher = Watcher(cursor, self)

    def start(self) -> None:
        """Hand the watch to the store's stream and wait until etcd has created it.

        Raises:
            UnavailableError: No endpoint could create the watch within the request timeout.
            PermissionDeniedError: The user may not watch this key or range.
            AuthenticationError: The credentials were refused.
            StoreClosedError: The store was closed before etcd created the watch.
        """
        key = self.watcher.cursor.key
        hub = self._hub = self._store.streams().hub
        hub.submit(hub.add, self.watcher)
        if not self._answered.wait(self._store.config.request_timeout):
            raise UnavailableError(
                f"watch: etcd did not create the watch on {key!r} within the request timeout",
                key=key,
                operation="watch",
            )
        if self._start_error is not None:
            raise self._start_error
        if self.cancelled:
            raise StoreClosedError(
                f"watch: the store was closed before the watch on {key!r} was created",
                key=key,
                operation="watch",
            )

    def next_event(self, timeout: float | None = None) -> WatchEvent | None:
        event = super().next_event(timeout)
        hub = self._hub
        if hub is not None and hub.caught_up(self.watcher):
            with contextlib.suppress(StoreClosedError):
                hub.submit(hub.unpark, self.watcher)
        return event

    # ------------------------------------------------------------------ WatchTarget

    def registered(self) -> None:
        self._answered.set()

    def fail(self, error: BaseException) -> None:
        if (
            not self._answered.is_set()
            and isinstance(error, KVStoreError)
            and not isinstance(error, CompactedError)
        ):
            self._start_error = error
            self._answered.set()
            return
        super().fail(error)

    def _stop(self) -> None:
        hub = self._hub
        if hub is not None:
            with contextlib.suppress(StoreClosedError):  # the streams ended with the store
                hub.submit(hub.cancel, self.watcher)
        self._answered.set()
        self._store.forget_watch(self)
