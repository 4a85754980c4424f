"""Shared pieces of the conformance suite: the base class, capability skips, snapshots.

Nothing here assumes a store revision starts at 1 or that no other key ever existed: the
suite only compares revisions relative to ones it read itself, so it also runs against a
shared etcd server whose revision counter is arbitrary.
"""

from __future__ import annotations

import collections
import functools  # unasync: async-only
import inspect  # unasync: async-only
import time

# unasync: sync-only from collections.abc import Callable
from collections.abc import Awaitable, Callable  # unasync: async-only

# unasync: sync-only from typing import Generic, TypeVar
from typing import Any, Generic, TypeVar  # unasync: async-only

import attrs
import pytest

from kvstore._async._concurrency import AsyncEvent, sleep, wait_event
from kvstore._async.base import AsyncBaseStore
from kvstore._async.watch import AsyncWatch
from kvstore.keys import ALL_KEYS
from kvstore.types import EventType, KeyValue, WatchEvent

__all__ = [
    "EVENT_TIMEOUT",
    "AsyncConformanceBase",
    "Inbox",
    "StoreSnapshot",
    "assert_next_is_sentinel",
    "current_revision",
    "event_summary",
    "read_events",
    "requires",
    "settle",
    "snapshot",
    "wait_until",
]

EVENT_TIMEOUT = 10.0
"""Seconds to wait for an expected watch event; reached only when a test fails."""

_SNAPSHOT_PAGE = 1000

_T = TypeVar("_T")

_Condition = Callable[[], bool | Awaitable[bool]]  # unasync: async-only
# unasync: sync-only _Condition = Callable[[], bool]


def requires(store: AsyncBaseStore, *capabilities: str) -> None:
    """Skip the calling test unless ``store`` declares every one of ``capabilities``.

    Args:
        store: The store under test.
        capabilities: ``kvstore.types.Capability`` names, such as ``"watch"``.
    """
    missing = sorted(set(capabilities) - set(store.capabilities))
    if missing:
        pytest.skip(f"the store lacks the capabilities {', '.join(missing)}")


@attrs.frozen
class StoreSnapshot:
    """Every key of a store with its metadata, and the revision it was read at.

    Two snapshots are equal when the store revision and every key, value, version,
    create / mod revision and lease are equal: nothing was written in between.

    Attributes:
        revision: The store revision the snapshot was read at.
        kvs: Every key-value, ordered by key.
    """

    revision: int
    kvs: tuple[KeyValue, ...]

    @property
    def values(self) -> dict[str, bytes]:
        """The snapshot as a ``{key: value}`` dict, ordered by key."""
        return {kv.key: kv.value for kv in self.kvs}

    def by_key(self) -> dict[str, KeyValue]:
        """The snapshot as a ``{key: KeyValue}`` dict, ordered by key.

        Returns:
            A new dict of each key to its ``KeyValue``.
        """
        return {kv.key: kv for kv in self.kvs}


async def snapshot(store: AsyncBaseStore) -> StoreSnapshot:
    """Read every key of ``store`` (paged, all pages at one revision).

    Returns:
        A ``StoreSnapshot``: the revision it was read at and every key-value, ordered by key.

    Raises:
        StoreClosedError: The store was closed.
        BackendError: The backend failed the call.
    """
    kvs: list[KeyValue] = []
    start = ALL_KEYS
    revision: int | None = None
    while True:
        page = await store.kv_range(start, ALL_KEYS, revision=revision, limit=_SNAPSHOT_PAGE)
        if revision is None:
            revision = page.revision
        kvs.extend(page.kvs)
        if not page.more or not page.kvs:
            break
        start = page.kvs[-1].key + "\0"
    assert revision is not None
    return StoreSnapshot(revision, tuple(kvs))


async def current_revision(store: AsyncBaseStore) -> int:
    """The store's current revision (a count-only read's header revision).

    Returns:
        The store's current revision.

    Raises:
        StoreClosedError: The store was closed.
        BackendError: The backend failed the call.
    """
    result = await store.kv_range(ALL_KEYS, ALL_KEYS, count_only=True)
    return result.revision


async def read_events(
    watch: AsyncWatch, count: int, *, timeout: float = EVENT_TIMEOUT
) -> list[WatchEvent]:
    """Read exactly ``count`` events from ``watch``.

    Returns:
        The ``count`` events, in the order the watch delivered them.

    Raises:
        AssertionError: Fewer than ``count`` events came within ``timeout`` seconds each.
        CompactedError: From the watch, when its start revision was compacted (as any error that
            ends the watch).
    """
    events: list[WatchEvent] = []
    for _ in range(count):
        event = await watch.next_event(timeout)
        assert event is not None, f"expected {count} watch events, got only {events}"
        events.append(event)
    return events


async def assert_next_is_sentinel(store: AsyncBaseStore, watch: AsyncWatch, key: str) -> None:
    """Prove a watch delivered nothing unexpected: write ``key`` and expect exactly it next.

    Events are in revision order, so if the next event is this later write, nothing was
    queued before it. ``key`` must be inside the watched range.

    Raises:
        AssertionError: The next event is not the sentinel's put.
    """
    revision = await store.put(key, b"sentinel")
    (event,) = await read_events(watch, 1)
    assert (event.type, event.kv.key, event.kv.mod_revision) == (EventType.PUT, key, revision), (
        f"unexpected watch event before the sentinel: {event}"
    )


def event_summary(event: WatchEvent) -> tuple[EventType, str, bytes, int]:
    """The parts of an event every backend must agree on: type, key, value, revision."""
    value = event.kv.value if event.type is EventType.PUT else b""
    return event.type, event.kv.key, value, event.kv.mod_revision


class AsyncConformanceBase:
    """Base of every conformance group: the hooks a backend's test class may override.

    A subclass provides a ``store`` pytest fixture that yields a fresh, empty, open store
    and closes it afterwards.

    Attributes:
        fast_clock: Set to true when ``advance_clock`` moves the store's clock instantly
            (a controllable clock); enables the lease-expiry rules of the state machine
            and the tests that must jump past a TTL faster than a keep-alive renews.
        value_compares: False for stores that refuse ``Value`` compares in transactions
            (``EncryptedStore``: values are ciphertexts the server cannot compare). Then
            the tests that rely on value compares skip, a test checks instead that a value
            compare raises ``UnsupportedCompareError`` and changes nothing, and the state
            machine draws no value compares.
    """

    # marked coroutines run in pytest-asyncio's strict mode too  # unasync: async-only
    pytestmark = pytest.mark.asyncio  # unasync: async-only
    fast_clock: bool = False
    value_compares: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:  # unasync: async-only
        super().__init_subclass__(**kwargs)  # unasync: async-only
        hook = cls.__dict__.get("advance_clock")  # unasync: async-only
        if hook is not None and not inspect.iscoroutinefunction(hook):  # unasync: async-only
            cls.advance_clock = _awaited(hook)  # type: ignore[method-assign]  # unasync: async-only

    async def advance_clock(self, store: AsyncBaseStore, seconds: float) -> None:
        """Let ``seconds`` pass for the store's lease clock (default: real time, sleeps).

        Args:
            store: The store whose clock to move.
            seconds: How far to move it.
        """
        await sleep(seconds)


def _awaited(hook: Any) -> Any:  # unasync: async-only
    """A plain ``advance_clock`` override as a coroutine method."""  # unasync: async-only

    @functools.wraps(hook)  # unasync: async-only
    async def advance_clock(*args: Any) -> None:  # unasync: async-only
        await settle(hook(*args))  # unasync: async-only

    return advance_clock  # unasync: async-only


async def settle(result: object) -> object:
    """What a store call returned, awaited on the asyncio side (there calls return coroutines).

    Lets one table of calls (``lambda s: s.get("")``) serve the sync and the asyncio suite.
    """
    if inspect.isawaitable(result):  # unasync: async-only
        return await result  # unasync: async-only
    return result


async def wait_until(condition: _Condition, *, timeout: float = EVENT_TIMEOUT) -> bool:
    """Poll ``condition()`` every 20 ms until it is true or ``timeout`` seconds pass.

    Returns:
        Whether the condition became true.
    """
    deadline = time.monotonic() + timeout
    while True:
        if await settle(condition()):
            return True
        if time.monotonic() >= deadline:
            return False
        await sleep(0.02)


class Inbox(Generic[_T]):
    """What a callback hands over (``put``, from any thread or task), read in order."""

    def __init__(self) -> None:
        self._items: collections.deque[_T] = collections.deque()
        self._arrived = AsyncEvent()

    def put(self, item: _T) -> None:
        """Keep ``item`` (the callback)."""
        self._items.append(item)
        self._arrived.set()

    async def get(self, timeout: float = EVENT_TIMEOUT) -> _T:
        """The oldest item not read yet, waiting at most ``timeout`` seconds for one.

        Raises:
            AssertionError: Nothing came in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            # cleared before looking, so a put after the look sets it again
            self._arrived.clear()
            if self._items:
                return self._items.popleft()
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"nothing came within {timeout} s"
            await wait_event(self._arrived, remaining)
