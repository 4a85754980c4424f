"""``WatchCursor``: where a watch resumes, and what each Watch response means for it.

Pure (no I/O), used by the store's one Watch stream (``kvstore_etcd._async._watch_hub``,
which serves the sync and the asyncio watches alike), so the resume rule is written
once: the resume point starts at ``start_revision`` (or, for "from now",
the header revision of the first ``created`` response + 1) and moves past every
delivered event and every progress notification; a new stream asks etcd for history
from there, and events below it (already delivered) are dropped. etcd never splits one
revision's events over two responses, so resuming by response revision never splits a
revision either.
"""

from __future__ import annotations

from typing import Any, Literal

from etcd3.etcdrpc import rpc_pb2

from kvstore.errors import KVStoreError
from kvstore.txn import WatchRequest
from kvstore.types import WatchEvent
from kvstore_etcd._convert import end_key, start_key, watch_event
from kvstore_etcd._errors import cancel_refuses_token, translate_cancel_reason

__all__ = [
    "COMPACT_PROBE_REQUEST",
    "PROGRESS_REQUEST",
    "StreamLiveness",
    "TokenRefused",
    "WatchCancelled",
    "WatchCursor",
    "probe_answer",
    "watch_cursor",
]

_BROADCAST_WATCH_ID = -1
"""``watch_id`` of responses to a progress request, which concern no single watcher."""

PROGRESS_REQUEST = rpc_pb2.WatchRequest(progress_request=rpc_pb2.WatchProgressRequest())
"""Asks etcd to report progress on a stream (the answer proves the stream is alive)."""

COMPACT_PROBE_REQUEST = rpc_pb2.WatchRequest(
    create_request=rpc_pb2.WatchCreateRequest(key=b"\0", start_revision=1)
)
"""A watch from revision 1: etcd cancels it at once, naming the compact revision, when
history was compacted."""


class TokenRefused(Exception):
    """etcd refused the stream's auth token: authenticate again and reopen the stream."""


class WatchCancelled(Exception):
    """etcd cancelled the watch for good; ``error`` is the kvstore error it means."""

    def __init__(self, error: KVStoreError) -> None:
        super().__init__(str(error))
        self.error = error


class WatchCursor:
    """The resume point of one watch on ``key`` (``key_bytes`` to ``range_end`` on the wire)."""

    def __init__(
        self,
        key: str,
        key_bytes: bytes,
        range_end: bytes,
        *,
        start_revision: int | None,
        prev_kv: bool,
    ) -> None:
        self.key = key
        self._key_bytes = key_bytes
        self._range_end = range_end
        self._prev_kv = prev_kv
        self.next_revision = start_revision
        """The first revision not delivered yet (``None``: from now, not created yet)."""

    def create_request(self) -> Any:
        """The request that opens (or reopens) the watch from the resume point."""
        return rpc_pb2.WatchRequest(
            create_request=rpc_pb2.WatchCreateRequest(
                key=self._key_bytes,
                range_end=self._range_end,
                start_revision=self.next_revision or 0,
                progress_notify=True,
                prev_kv=self._prev_kv,
            )
        )

    def handle(self, response: Any) -> list[WatchEvent]:
        """Move past ``response``; the events it brings that were not delivered yet.

        A ``created`` response (``response.created``) brings none; neither do progress
        notifications, which only move the resume point.

        Raises:
            TokenRefused: etcd cancelled the watch because of its auth token (maybe).
            WatchCancelled: etcd cancelled the watch (``CompactedError`` when its start
                revision was compacted).
        """
        if response.canceled or response.compact_revision:
            if not response.compact_revision and cancel_refuses_token(response.cancel_reason):
                raise TokenRefused
            raise WatchCancelled(
                translate_cancel_reason(
                    response.cancel_reason,
                    compact_revision=response.compact_revision,
                    key=self.key,
                    revision=self.next_revision,
                )
            )
        if response.created:
            if self.next_revision is None:
                self.next_revision = response.header.revision + 1
            return []
        if response.events:
            floor = self.next_revision or 0
            events = [
                watch_event(event) for event in response.events if event.kv.mod_revision >= floor
            ]
            if events:
                self.next_revision = events[-1].kv.mod_revision + 1
            return events
        if response.watch_id == _BROADCAST_WATCH_ID:
            # The answer to a liveness probe: proof of life only, since etcd 3.4 sends it
            # even while this watcher still catches up.
            return []
        # A progress notification: every change up to the header revision was delivered.
        revision = response.header.revision
        if self.next_revision is None or revision + 1 > self.next_revision:
            self.next_revision = revision + 1
        return []


def watch_cursor(request: WatchRequest) -> WatchCursor:
    """The cursor of a new watch asked for by ``request``."""
    return WatchCursor(
        request.key,
        start_key(request.key),
        end_key(request.range_end),
        start_revision=request.start_revision,
        prev_kv=request.prev_kv,
    )


def probe_answer(response: Any) -> int | None:
    """What a response to ``COMPACT_PROBE_REQUEST`` says: the compact revision, 0 for
    "not compacted", ``None`` for "nothing yet" (the creation ack)."""
    if response.compact_revision:
        return int(response.compact_revision)
    if response.canceled or response.events:
        return 0
    return None


class StreamLiveness:
    """When a quiet watch stream is probed, and when it is given up (both watches).

    gRPC keepalive does not notice a member that is frozen or a connection that is
    blackholed while the stream waits, so a watch asks for a progress report after
    ``idle`` seconds of silence and reconnects if nothing arrives within ``timeout``.
    """

    def __init__(self) -> None:
        self.last_activity = 0.0
        self.probe_sent: float | None = None

    def heard(self, now: float) -> None:
        """The stream was just opened, or something arrived on it."""
        self.last_activity, self.probe_sent = now, None

    def check(self, now: float, idle: float, timeout: float) -> Literal["probe", "drop"] | None:
        """``"probe"``: send a progress request now; ``"drop"``: the probe went
        unanswered, reconnect; ``None``: nothing to do."""
        if self.probe_sent is not None:
            if now - self.probe_sent > timeout:
                self.probe_sent = None
                return "drop"
            return None
        if now - self.last_activity > idle:
            self.probe_sent = now
            return "probe"
        return None
