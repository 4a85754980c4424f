"""``Lock``: a fair distributed lock for every backend, built on leases, txns and watches.

The recipe is etcd's ``clientv3/concurrency`` Mutex, written once on the store primitives:

1. Each ``Lock`` has a ``Session`` (a lease kept alive in the background). Its waiter key
   is ``<lock prefix><lease id in hex>``, put with that lease, so it vanishes when the
   process stops renewing.
2. Acquiring is ONE transaction: *if the waiter key does not exist, put it; in both
   branches read the keys of the prefix*. The owner is the key with the lowest create
   revision, so the uncontended path is a single round trip.
3. Otherwise the waiter watches only its predecessor (the key created just before its
   own) until that key is deleted, then reads the prefix again: waiters are served in
   FIFO order and a release wakes one waiter, not all of them.

Key layout. Locks live in their own top-level namespace, apart from application keys::

    __kvstore/locks/<quoted name>/<lease id hex>

The name is percent-encoded (``urllib.parse.quote(name, safe="")``): it never contains
``/``, so the prefix of lock ``"a"`` (``__kvstore/locks/a/``) is not a prefix of the keys
of lock ``"a/b"`` (``__kvstore/locks/a%2Fb/``) and the two are different locks. A
``delete_prefix`` of an application prefix such as ``"app/"`` cannot delete lock keys;
only prefixes of ``"__kvstore/"`` (or ``""`` with ``allow_all``) reach them. Through a
``NamespacedStore`` the layout sits below the namespace's prefix, so locks of different
namespaces are different locks. Elections use ``__kvstore/elections/`` the same way.

Fencing. A lease-based lock is not mutual exclusion on its own: a holder that pauses
(GC, SIGSTOP, a slow network) past its TTL loses the lock without running any code, and
may then write as if it still held it. ``fencing_token`` (the waiter key's create
revision, strictly increasing from one holder to the next) and ``guard()`` (a compare
that holds only while the key is still ours) let the store or the resource reject such
late writes::

    with store.new_lock("jobs") as lock:
        store.transaction().if_(lock.guard()).then(Put("jobs/state", b"done")).commit()
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from kvstore.errors import (
    CompactedError,
    InvalidArgumentError,
    LeaseExpiredError,
    LeaseNotFoundError,
    LockError,
    LockLostError,
    LockNotHeldError,
    LockTimeoutError,
    StoreClosedError,
)
from kvstore.keys import check_key, check_ttl, prefix_range_end
from kvstore.session import Session
from kvstore.txn import Compare, CreateRevision, Get, Op, Put
from kvstore.types import EventType, KeyValue, RangeResult, TxnResult

if TYPE_CHECKING:
    from kvstore.base import BaseStore

__all__ = ["LOCK_NAMESPACE", "Lock", "Session", "WaiterQueue", "check_timeout", "recipe_prefix"]

LOCK_NAMESPACE = "__kvstore/locks/"
"""Top-level prefix of every lock key."""

LockLostCallback = Callable[[LockLostError], object]

_WAKE_SECONDS = 0.1
"""How often a waiter looks up from its watch to notice a lost session or its deadline."""


def recipe_prefix(namespace: str, name: str, operation: str) -> str:
    """The key prefix of the lock or election ``name`` under ``namespace``.

    Raises:
        InvalidKeyError: ``name`` is not a valid key.
    """
    check_key(name, operation=operation)
    return namespace + urllib.parse.quote(name, safe="") + "/"


def check_timeout(timeout: object, operation: str) -> float | None:
    """Turn a ``timeout`` argument into a ``time.monotonic`` deadline (``None``: none).

    Raises:
        InvalidArgumentError: ``timeout`` is not ``None`` or a finite number >= 0.
    """
    if timeout is None:
        return None
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout < 0
    ):
        raise InvalidArgumentError(
            f"{operation}: timeout must be None or a number of seconds >= 0, not {timeout!r}",
            operation=operation,
        )
    return time.monotonic() + timeout


class WaiterQueue:
    """The FIFO queue of keys under one prefix, shared by ``Lock`` and ``Election``.

    Args:
        store: The store holding the keys.
        prefix: The lock's or election's prefix (see ``recipe_prefix``).
        operation: Name used in errors (``"lock"``, ``"campaign"``).
    """

    def __init__(self, store: BaseStore, prefix: str, operation: str) -> None:
        self.store = store
        self.prefix = prefix
        self.range_end = prefix_range_end(prefix)
        self.operation = operation

    def enqueue(self, key: str, value: bytes, session: Session) -> tuple[int, bool, RangeResult]:
        """Put ``key`` with the session's lease unless it exists, and read the queue, in one txn.

        Returns:
            The key's create revision, whether this call created it, and the keys of the
            prefix (keys only) as of the transaction.

        Raises:
            LockLostError: The session's lease is gone (the session is marked lost).
        """
        listing = Get(self.prefix, self.range_end, keys_only=True)
        put = Put(key, value, lease=session.lease_id)
        result = self.txn(session, [CreateRevision(key) == 0], [put, listing], [listing])
        queue = result.responses[-1]
        assert isinstance(queue, RangeResult)
        mine = next((kv for kv in queue.kvs if kv.key == key), None)
        if mine is None:
            raise LockLostError(
                f"{self.operation}: key {key!r} vanished while it was being queued",
                key=key,
                operation=self.operation,
            )
        stamped = RangeResult(queue.kvs, queue.count, queue.more, result.revision)
        return mine.create_revision, result.succeeded, stamped

    def txn(
        self, session: Session, compares: list[Compare], success: list[Op], failure: list[Op]
    ) -> TxnResult:
        """``kv_txn`` that turns an unknown session lease into ``LockLostError``.

        Raises:
            LockLostError: The session's lease is gone (the session is marked lost).
        """
        try:
            return self.store.kv_txn(compares, success, failure)
        except LeaseNotFoundError as exc:
            session._report_lost(session._lost_error("the store no longer knows it"))
            raise LockLostError(
                f"{self.operation}: the session lease {session.lease_id:#x} is gone",
                key=self.prefix,
                operation=self.operation,
            ) from exc

    def wait_turn(
        self,
        key: str,
        revision: int,
        queue: RangeResult,
        session: Session,
        deadline: float | None,
    ) -> None:
        """Block until ``key`` (created at ``revision``) is the oldest key of the prefix.

        Args:
            queue: A listing of the prefix made after ``key`` was created.

        Raises:
            LockTimeoutError: ``deadline`` passed first.
            LockLostError: The session was lost, or ``key`` vanished, while waiting.
        """
        while True:
            predecessor = self._predecessor(key, revision, queue.kvs, session)
            if predecessor is None:
                return
            self._wait_delete(predecessor, queue.revision + 1, session, deadline)
            queue = self.store.kv_range(self.prefix, self.range_end, keys_only=True)

    def _predecessor(
        self, key: str, revision: int, kvs: Sequence[KeyValue], session: Session
    ) -> str | None:
        if not any(kv.key == key for kv in kvs):
            session.check()
            raise LockLostError(
                f"{self.operation}: key {key!r} was deleted while waiting "
                "(session lease expired or key removed)",
                key=key,
                operation=self.operation,
            )
        older = [kv for kv in kvs if kv.create_revision < revision]
        return max(older, key=lambda kv: kv.create_revision).key if older else None

    def _wait_delete(
        self, key: str, start_revision: int, session: Session, deadline: float | None
    ) -> None:
        watch = self.store.watch_range(key, start_revision=start_revision)
        try:
            while True:
                if not session.alive:
                    raise LockLostError(
                        f"{self.operation}: the session was lost while waiting for {key!r}",
                        key=key,
                        operation=self.operation,
                    )
                wait = _WAKE_SECONDS
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise LockTimeoutError(
                            f"{self.operation}: timed out waiting for {self.prefix!r}",
                            key=self.prefix,
                            operation=self.operation,
                        )
                    wait = min(wait, remaining)
                event = watch.next_event(wait)
                if event is not None and event.type is EventType.DELETE:
                    return
                if event is None and watch.cancelled:
                    self.store._check_open(self.operation)
                    return
        except CompactedError:
            return  # history gone: the caller's fresh read tells whether the key still is
        finally:
            watch.cancel()

    def delete(self, key: str) -> None:
        """Delete ``key``, ignoring a closed store (its lease then expires by itself)."""
        with contextlib.suppress(StoreClosedError):
            self.store.kv_delete_range(key)


class Lock:
    """A distributed, fair (FIFO), non-reentrant lock named ``name``.

    Get one with ``store.new_lock(name, ttl=60)``. Each ``Lock`` has its own ``Session``
    unless one is passed, so two ``Lock`` objects for one name exclude each other, also
    inside one process. A ``Lock`` object is used by one thread at a time: give each
    thread its own.

    Args:
        store: Any store with the ``leases``, ``txn`` and ``watch`` capabilities.
        name: The lock's name; any non-empty ``str`` (``"/a"`` and ``"/a/b"`` differ).
        ttl: TTL of the lock's own session, when ``session`` is not given.
        session: Share this session (its lease) instead of creating one.
        on_lost: Called with a ``LockLostError`` when the lock is lost while held.

    Attributes:
        store: The store.
        name: The lock's name.
        prefix: The key prefix of the lock's waiters (see the module docstring).
        lost: Set when the session's lease was lost while the lock was held; cleared by
            the next successful acquisition.
        on_lost: The loss callback; may be assigned after construction.

    Raises:
        InvalidKeyError: ``name`` is not a valid key.
        InvalidArgumentError: ``ttl`` is not a positive int.
        UnsupportedOperationError: The store has no ``leases`` capability.
    """

    def __init__(
        self,
        store: BaseStore,
        name: str,
        *,
        ttl: int = 60,
        session: Session | None = None,
        on_lost: LockLostCallback | None = None,
    ) -> None:
        self.prefix = recipe_prefix(LOCK_NAMESPACE, name, "new_lock")
        check_ttl(ttl, operation="new_lock")
        self.store = store
        self.name = name
        self.lost = threading.Event()
        self.on_lost = on_lost
        self._queue = WaiterQueue(store, self.prefix, "lock")
        self._ttl = ttl
        self._owns_session = session is None
        self._session = Session(store, ttl) if session is None else session
        self._session.add_lost_callback(self._session_lost)
        self._state = threading.Lock()
        self._revision = 0  # create revision of our key while held (or lost, until unlock)
        self._claimed: str | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "held" if self.is_locked else "lost" if self.lost.is_set() else "free"
        return f"Lock(name={self.name!r}, {state})"

    # -- properties

    @property
    def session(self) -> Session:
        """The session whose lease the waiter key is put with."""
        return self._session

    @property
    def key(self) -> str:
        """This lock object's waiter key: ``prefix`` + the session's lease id in hex."""
        return f"{self.prefix}{self._session.lease_id:x}"

    @property
    def is_locked(self) -> bool:
        """Whether this object holds the lock, as far as this process knows.

        Only a ``guard()``-ed transaction is sure: the lease may have just expired.
        """
        return self._revision != 0 and not self.lost.is_set() and self._session.alive

    @property
    def fencing_token(self) -> int:
        """The waiter key's create revision: strictly increasing from holder to holder.

        Still readable after the lock was lost (until ``unlock``), so late writes carry a
        stale token that a resource can refuse.

        Raises:
            LockNotHeldError: The lock was not acquired (or was unlocked).
        """
        if self._revision == 0:
            raise LockNotHeldError(
                f"fencing_token: lock {self.name!r} is not held", key=self.key, operation="lock"
            )
        return self._revision

    def guard(self) -> Compare:
        """A compare that holds only while this acquisition of the lock still stands.

        ``CreateRevision(key) == fencing_token``: put it in the ``if_`` of a transaction
        and the writes apply only if the lock was not lost (lease expired, key deleted)
        since it was acquired.

        Raises:
            LockNotHeldError: The lock was not acquired (or was unlocked).
        """
        return CreateRevision(self.key) == self.fencing_token

    # -- acquiring and releasing

    def lock(self, timeout: float | None = None) -> None:
        """Acquire the lock, waiting in FIFO order behind earlier waiters.

        Args:
            timeout: Most seconds to wait (``None``: no limit).

        Raises:
            LockTimeoutError: Not acquired within ``timeout``; no waiter key is left behind.
            LockLostError: The session was lost before or while waiting (an own session
                is replaced by a new one on the next call).
            LockError: This object already holds the lock or was closed, or another
                ``Lock`` object of the same name uses the same session.
            InvalidArgumentError: ``timeout`` is negative or not a number.
            StoreClosedError: The store was closed.
            BackendError: The backend failed a call (the waiter key is removed if possible).
        """
        deadline = check_timeout(timeout, "lock")
        session, key = self._begin("lock")
        try:
            revision, _, queue = self._queue.enqueue(key, b"", session)
            self._queue.wait_turn(key, revision, queue, session, deadline)
        except BaseException:
            self._abandon(key)
            raise
        self._acquired(revision)

    def try_lock(self) -> bool:
        """Acquire the lock if nobody holds or waits for it: one round trip, no waiting.

        One transaction puts the waiter key only if the lock's prefix is empty, so a
        failed attempt leaves nothing to clean up.

        Returns:
            Whether the lock is now held by this object (``False`` if this object already
            holds it, like ``threading.Lock.acquire(blocking=False)``).

        Raises:
            LockLostError: The session was lost (an own session is replaced by a new one
                on the next call; a shared one must be replaced by the caller).
            LockError: This object was closed, or another ``Lock`` object of the same name
                uses the same session.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        if self._revision != 0 and self.is_locked:
            return False
        session, key = self._begin("try_lock")
        try:
            empty = CreateRevision(self.prefix, prefix=True) == 0
            put = Put(key, b"", lease=session.lease_id)
            result = self._queue.txn(session, [empty], [put], [])
        except BaseException:
            self._release_claim(key)
            raise
        if not result.succeeded:
            self._release_claim(key)
            return False
        self._acquired(result.revision)
        return True

    def unlock(self) -> None:
        """Release the lock by deleting the waiter key; idempotent.

        Raises:
            BackendError: The delete failed; the lock stays held (retry, or ``close``).
        """
        with self._state:
            key = self._claimed
        if key is None:
            return
        self._queue.delete(key)
        with self._state:
            self._revision = 0
        self._release_claim(key)

    def close(self) -> None:
        """Release the lock and close the lock's own session (not a shared one); idempotent.

        Raises:
            BackendError: Releasing the lock failed.
        """
        if self._closed:
            return
        self.unlock()
        self._closed = True
        self._session.remove_lost_callback(self._session_lost)
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Lock:
        self.lock()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.unlock()

    # -- internals

    def _begin(self, operation: str) -> tuple[Session, str]:
        if self._closed:
            raise LockError(f"{operation}: lock {self.name!r} was closed", operation=operation)
        if self.is_locked:
            raise LockError(
                f"{operation}: lock {self.name!r} is already held by this Lock object",
                key=self.key,
                operation=operation,
            )
        if self._revision != 0:
            self.unlock()  # lost earlier: drop what is left of the old acquisition
        session = self._ready_session(operation)
        key = self.key
        if not session._claim(key):
            raise LockError(
                f"{operation}: another Lock object of {self.name!r} uses the same session",
                key=key,
                operation=operation,
            )
        with self._state:
            self._claimed = key
        return session, key

    def _ready_session(self, operation: str) -> Session:
        session = self._session
        if session.alive:
            return session
        if not self._owns_session:
            raise LockLostError(
                f"{operation}: the session of lock {self.name!r} was lost or closed",
                key=self.key,
                operation=operation,
            )
        session.remove_lost_callback(self._session_lost)
        session.close()
        self._session = Session(self.store, self._ttl)
        self._session.add_lost_callback(self._session_lost)
        return self._session

    def _acquired(self, revision: int) -> None:
        with self._state:
            self._revision = revision
            self.lost.clear()
        if not self._session.alive:
            self._session_lost(self._session._lost_error("it was lost during acquisition"))

    def _abandon(self, key: str) -> None:
        with contextlib.suppress(Exception):
            self._queue.delete(key)
        self._release_claim(key)

    def _release_claim(self, key: str) -> None:
        with self._state:
            if self._claimed == key:
                self._claimed = None
        self._session._release(key)

    def _session_lost(self, error: LeaseExpiredError) -> None:
        with self._state:
            if self._revision == 0:
                return
            self.lost.set()
        lost = LockLostError(
            f"lock {self.name!r} was lost: {error.message}", key=self.key, operation="lock"
        )
        callback = self.on_lost
        if callback is not None:
            callback(lost)
