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
import queue
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import grpc

from kvstore.errors import CompactedError, KVStoreError, StoreClosedError, UnavailableError
from kvstore.types import WatchEvent
from kvstore.watch import QueueWatch
from kvstore_etcd._async._watch_hub import Watcher
from kvstore_etcd._metadata import with_leader
from kvstore_etcd._watch_cursor import COMPACT_PROBE_REQUEST, WatchCursor, probe_answer

if TYPE_CHECKING:
    from kvstore_etcd._async._watch_hub import WatchHub
    from kvstore_etcd._endpoints import Endpoint
    from kvstore_etcd._sync._calls import Caller
    from kvstore_etcd.store import EtcdStore

__all__ = ["EtcdWatch", "probe_compact_revision"]

_END = None


def _requests(pending: queue.SimpleQueue[Any]) -> Iterator[Any]:
    """The request side of one stream: what is queued, until ``_END``."""
    while True:
        item = pending.get()
        if item is _END:
            return
        yield item


class EtcdWatch(QueueWatch):
    """A watch on one key or range that survives reconnects (see the module docstring)."""

    def __init__(self, store: EtcdStore, cursor: WatchCursor) -> None:
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


def probe_compact_revision(caller: Caller, timeout: float) -> int:
    """The store's compact revision, from a watch that starts at revision 1.

    etcd cancels such a watch at once with ``compact_revision`` set when history was
    compacted; if it was not, nothing comes and 0 is returned after ``timeout``.

    Raises:
        UnavailableError: No endpoint is reachable.
        StoreClosedError: The store was closed.
    """
    if caller.closed:
        raise StoreClosedError("watch: the store is closed", operation="watch")
    deadline = time.monotonic() + timeout
    endpoint: Endpoint = caller.pool.acquire(deadline, "compact_revision")
    metadata = caller.stream_metadata(endpoint, deadline)
    pending: queue.SimpleQueue[Any] = queue.SimpleQueue()
    pending.put(COMPACT_PROBE_REQUEST)
    call = endpoint.watch.Watch(
        _requests(pending),
        timeout=max(deadline - time.monotonic(), 0.001),
        metadata=with_leader(metadata),
    )
    try:
        for response in call:
            answer = probe_answer(response)
            if answer is not None:
                return answer
    except grpc.RpcError:
        return 0
    finally:
        pending.put(_END)
        call.cancel()
    return 0
