"""``AsyncMirror``: a prefix of a store kept in memory by a watch, read locally (SPEC 17).

``store.mirror(prefix)`` lists the prefix in pages pinned at one revision R, then
watches it from R + 1, written once on the primitives (``kv_range`` and ``watch``), so
every backend with watches has it, through every wrapper. Reads (``get``, ``get_kv``,
``list``, ``items``, ``len``, ``in``) are served from memory; ``revision`` is the store
revision the local state reflects, and it moves one whole revision at a time (a
transaction's events are applied together).

Never silently wrong: when the watch cannot go on from where it stands (its revision was
compacted, or it failed for good), the mirror lists the prefix again at a new revision,
compares with what it holds, and emits the changes that bring its subscribers to the same
state, marked ``relisted``. Until then its reads answer for its last revision, and
``error`` says why it is behind.

Changes: ``changes()`` (an iterator; ``async for`` in the asyncio API) and
``subscribe(callback)``. Each starts with the mirror's state at that moment (one change
per key, ``old=None``, ``relisted=True``) and then gets every change in revision order, so
a subscriber that applies them holds exactly the mirror's state; ``subscribe`` calls its
callback from a background of its own (a task; a thread in the sync API), so a slow
callback delays neither the mirror nor other subscribers.

Memory: one ``KeyValue`` per key (its key and value, and four integers), a dict entry,
and a sorted key list built on the first ordered read after a change; nothing per
revision. Measured (``benchmarks/bench_mirror.py``, 100,000 keys of 24 characters with
16-byte values): 313 bytes per key, 273 beyond the key and value themselves.
"""

from __future__ import annotations

import bisect
import builtins
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from kvstore._async._concurrency import (
    EMPTY,
    AsyncBackground,
    AsyncEvent,
    AsyncQueue,
    invoke,
    wait_event,
)
from kvstore._async._context import AsyncClosing
from kvstore._async.watch import AsyncWatch
from kvstore.errors import (
    CompactedError,
    InvalidKeyError,
    KeyNotFoundError,
    KVStoreError,
    StoreClosedError,
)
from kvstore.keys import ALL_KEYS, check_key, prefix_range_end
from kvstore.types import EventType, KeyValue, MirrorChange, RangeResult, WatchEvent

__all__ = ["AsyncMirror", "AsyncMirrorChanges", "MirrorChange"]

_log = logging.getLogger(__name__)

_RETRY_FIRST_DELAY = 0.05
_RETRY_MAX_DELAY = 2.0
_END = object()


class _AsyncMirroredStore(Protocol):
    """What a mirror calls on its store: the paged range read and the prefix watch of
    ``BaseStore`` (a narrow protocol, so this module need not import the base class)."""

    @property
    def range_page_size(self) -> int: ...

    async def kv_range(
        self,
        request: str,
        range_end: str | None = None,
        *,
        revision: int | None = None,
        limit: int = 0,
    ) -> RangeResult: ...

    def watch_prefix(self, prefix: str, *, start_revision: int | None = None) -> AsyncWatch: ...


class AsyncMirrorChanges(AsyncClosing, AsyncIterator[MirrorChange]):
    """The changes of a mirror, from the state it had when this was made (see the module
    docstring). Iteration ends when the mirror or this iterator is closed."""

    def __init__(self, mirror: AsyncMirror) -> None:
        self._mirror = mirror
        self._queue = AsyncQueue()
        self._closed = False

    def __aiter__(self) -> AsyncMirrorChanges:
        return self

    async def __anext__(self) -> MirrorChange:
        change = await self.next_change(None)
        if change is None:
            raise StopAsyncIteration
        return change

    async def next_change(self, timeout: float | None = None) -> MirrorChange | None:
        """The next change, waiting at most ``timeout`` seconds (``None``: no limit).

        Returns:
            The change, or ``None`` if none came in time or the iterator is closed.
        """
        if self._closed:
            return None
        item = await self._queue.get(timeout)
        if item is EMPTY:
            return None
        if item is _END:
            self._closed = True
            return None
        assert isinstance(item, MirrorChange)
        return item

    def put(self, item: object) -> None:
        """Queue a change (the mirror's side)."""
        self._queue.put(item)

    async def aclose(self) -> None:
        """Stop receiving changes; idempotent."""
        self._mirror._forget(self)
        self._queue.put(_END)

    async def _end_context(self) -> None:
        await self.aclose()


class AsyncMirror(AsyncClosing):
    """A prefix of a store kept in memory by a watch (see the module docstring).

    Made by ``store.mirror(prefix)``; it starts at once (a task of the running loop; a
    thread in the sync API). Close it (``aclose()`` or ``async with``) to stop the watch.

    Attributes:
        prefix: The mirrored prefix (``""``: every key).
        error: Why the mirror is behind the store (the last listing or watch failure),
            ``None`` while it follows the store.
    """

    def __init__(self, store: _AsyncMirroredStore, prefix: str) -> None:
        self._store = store
        self.prefix = prefix
        self._start, self._end = (
            (ALL_KEYS, ALL_KEYS) if prefix == "" else (prefix, prefix_range_end(prefix))
        )
        self._data: dict[str, KeyValue] = {}
        self._sorted: builtins.list[str] | None = None
        self._lock = threading.Lock()
        self._revision = 0
        self._synced = AsyncEvent()
        self._progress = AsyncEvent()
        self._stopping = AsyncEvent()
        self._listeners: builtins.list[AsyncMirrorChanges] = []
        self._watch: AsyncWatch | None = None
        self.error: KVStoreError | None = None
        self._background = AsyncBackground(self._run, f"kvstore-mirror {prefix!r}")

    def __repr__(self) -> str:
        return f"Mirror({self.prefix!r}, {len(self._data)} keys, revision {self._revision})"

    # ------------------------------------------------------------------ reads

    @property
    def revision(self) -> int:
        """The store revision the local state reflects (0 before the first listing)."""
        return self._revision

    @property
    def synced(self) -> bool:
        """Whether the first listing is done (reads answer for ``revision``)."""
        return self._synced.is_set()

    def get(self, key: str) -> bytes:
        """The value at ``key``, from memory.

        Returns:
            The value at ``key`` in the mirror's current view (no call to the store).

        Raises:
            KeyNotFoundError: The key does not exist (at ``revision``).
            InvalidKeyError: ``key`` is not a key under the mirrored prefix.
        """
        kv = self.get_kv(key)
        if kv is None:
            raise KeyNotFoundError(f"get: key {key!r} not found", key=key, operation="get")
        return kv.value

    def get_kv(self, key: str) -> KeyValue | None:
        """The ``KeyValue`` at ``key`` (value and revisions), or ``None`` if absent.

        Returns:
            The mirrored ``KeyValue``, or ``None`` if the key is not in the view.

        Raises:
            InvalidKeyError: ``key`` is not a key under the mirrored prefix.
        """
        self._check_key(key, "get")
        return self._data.get(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def list(self, prefix: str = "") -> builtins.list[str]:
        """The keys that start with ``prefix`` (``""``: every mirrored key), in order.

        Returns:
            The mirrored keys that start with ``prefix``, sorted.

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
        """
        check_key(prefix, operation="list", allow_empty=True)
        keys = self._keys()
        if not prefix:
            return keys
        first = bisect.bisect_left(keys, prefix)
        last = bisect.bisect_left(keys, prefix_range_end(prefix), first)
        return keys[first:last]

    def items(self) -> builtins.list[tuple[str, bytes]]:
        """``(key, value)`` of every mirrored key, in key order (a snapshot).

        Returns:
            A new list of ``(key, value)`` pairs, sorted by key, taken at one point of the view.
        """
        with self._lock:
            data = self._data
            return [(key, data[key].value) for key in self._keys_locked()]

    def _keys(self) -> builtins.list[str]:
        with self._lock:
            return self._keys_locked()

    def _keys_locked(self) -> builtins.list[str]:
        if self._sorted is None:
            self._sorted = sorted(self._data)
        return self._sorted

    def _check_key(self, key: str, operation: str) -> None:
        check_key(key, operation=operation)
        if self.prefix and not key.startswith(self.prefix):
            raise InvalidKeyError(
                f"{operation}: key {key!r} is not under the mirrored prefix {self.prefix!r}",
                key=key,
                operation=operation,
            )

    # ------------------------------------------------------------------ waiting

    async def wait_synced(self, timeout: float | None = None) -> bool:
        """Wait for the first listing; whether it is done within ``timeout`` seconds.

        Returns:
            ``True`` once the first listing is loaded; ``False`` if ``timeout`` passed first.
        """
        return await wait_event(self._synced, timeout)

    async def wait_for_revision(self, revision: int, timeout: float | None = None) -> bool:
        """Wait until the mirror reflects ``revision``: after ``rev = store.put(key, ...)``
        on a key under the prefix, reads of the mirror then see that write.

        The mirror learns of revisions from changes under its prefix: for the revision
        of a write elsewhere, this waits for the next change under the prefix.

        Returns:
            Whether ``revision`` was reached within ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            progress = self._progress  # before the check: a change after it sets this one
            if self._revision >= revision:
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            if self._stopping.is_set():
                return False
            await wait_event(progress, remaining)

    # ------------------------------------------------------------------ changes

    def changes(self) -> AsyncMirrorChanges:
        """An iterator of changes, from the current state on (see the module docstring).

        Returns:
            An ``AsyncMirrorChanges`` feed: first a ``relisted`` change per key already mirrored,
            then each change as it arrives, until the mirror or the feed is closed.
        """
        listener = AsyncMirrorChanges(self)
        with self._lock:
            revision = self._revision
            for key in self._keys_locked():
                listener.put(MirrorChange(key, None, self._data[key], revision, True))
            if self._stopping.is_set():
                listener.put(_END)
            else:
                self._listeners.append(listener)
        return listener

    def subscribe(self, callback: Callable[[MirrorChange], object]) -> AsyncMirrorChanges:
        """Call ``callback`` with every change, from the current state on, in a
        background of its own (a coroutine function's result is awaited), until the
        mirror closes or the returned feed is closed (``aclose()``: unsubscribe). A
        callback that raises is logged and goes on receiving.

        Returns:
            The ``AsyncMirrorChanges`` feed the callback reads; close it to unsubscribe.
        """
        listener = self.changes()

        async def pump() -> None:
            async for change in listener:
                try:
                    await invoke(callback, change)
                except Exception:  # noqa: BLE001 - one bad call must not end the feed
                    _log.exception("mirror %r: subscriber failed", self.prefix)

        AsyncBackground(pump, f"kvstore-mirror-subscriber {self.prefix!r}")
        return listener

    def _forget(self, listener: AsyncMirrorChanges) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _publish(self, changes: builtins.list[MirrorChange], revision: int) -> None:
        """Apply ``changes`` (of whole revisions) and tell the listeners (lock held)."""
        data = self._data
        for change in changes:
            if change.new is None:
                data.pop(change.key, None)
            else:
                data[change.key] = change.new
            if (change.old is None) != (change.new is None):
                self._sorted = None
            for listener in self._listeners:
                listener.put(change)
        self._advance(revision)

    def _advance(self, revision: int) -> None:
        """The state is now that of ``revision``: wake who waits for it (lock held)."""
        self._revision = revision
        progress, self._progress = self._progress, AsyncEvent()
        progress.set()

    # ------------------------------------------------------------------ the background

    async def _run(self) -> None:
        try:
            await self._follow_store()
        finally:
            # Closed, or the store closed under it: no change will come any more.
            self._stopping.set()
            with self._lock:
                listeners, self._listeners = self._listeners, []
                progress = self._progress
            progress.set()
            for listener in listeners:
                listener.put(_END)

    async def _follow_store(self) -> None:
        delay = _RETRY_FIRST_DELAY
        while not self._stopping.is_set():
            try:
                revision = await self._relist()
                self.error = None
                watch = self._store.watch_prefix(self.prefix, start_revision=revision + 1)
                self._watch = watch
                try:
                    if not self._stopping.is_set():
                        await self._follow(watch)
                finally:
                    await watch.cancel()
                return  # closed, or the store ended the watch (it is closing)
            except StoreClosedError:
                return
            except CompactedError as exc:
                # The watch fell behind the compaction: list again at a new revision.
                self.error = exc
                _log.info("mirror %r: %s; listing again", self.prefix, exc)
            except KVStoreError as exc:
                self.error = exc
                _log.warning("mirror %r: %s; listing again in %.2f s", self.prefix, exc, delay)
                await wait_event(self._stopping, delay)
                delay = min(delay * 2, _RETRY_MAX_DELAY)

    async def _relist(self) -> int:
        """List the prefix at one revision and bring the local state (and listeners) to it.

        Raises:
            KVStoreError: A page could not be read.
        """
        store = self._store
        fresh: dict[str, KeyValue] = {}
        start = self._start
        pinned: int | None = None
        while True:
            page = await store.kv_range(
                start, self._end, revision=pinned, limit=store.range_page_size
            )
            pinned = page.revision
            for kv in page.kvs:
                fresh[kv.key] = kv
            if not page.more or not page.kvs:
                break
            start = page.kvs[-1].key + "\0"
        with self._lock:
            if self._listeners:
                old = self._data
                changes = [
                    MirrorChange(key, old.get(key), fresh.get(key), pinned, True)
                    for key in sorted(old.keys() | fresh.keys())
                    if old.get(key) != fresh.get(key)
                ]
                self._publish(changes, pinned)
            else:  # nobody to tell what changed: take the listing as it is
                self._data, self._sorted = fresh, None
                self._advance(pinned)
        self._synced.set()
        return pinned

    async def _follow(self, watch: AsyncWatch) -> None:
        """Apply the watch's events, a whole revision (or several) at a time."""
        while True:
            event = await watch.next_event(None)
            if event is None:
                return
            events = [event]
            while (ready := await watch.next_event(0)) is not None:
                events.append(ready)
            with self._lock:
                changes = [self._change(event) for event in events]
                self._publish(changes, events[-1].revision)

    def _change(self, event: WatchEvent) -> MirrorChange:
        """The change ``event`` makes to the local state (lock held)."""
        key = event.kv.key
        old = self._data.get(key)
        new = event.kv if event.type is EventType.PUT else None
        # A later event of the same batch must see this one's result.
        if new is None:
            self._data.pop(key, None)
        else:
            self._data[key] = new
        if (old is None) != (new is None):
            self._sorted = None
        return MirrorChange(key, old, new, event.revision)

    # ------------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:
        """Stop the watch and end every change iterator; idempotent. Reads keep
        answering for the last revision."""
        self._stopping.set()
        watch = self._watch
        if watch is not None:
            await watch.cancel()
        await self._background.join()

    async def _end_context(self) -> None:
        await self.aclose()
