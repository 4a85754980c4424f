# Generated from kvstore/recipes/_async/_waiters.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""The queue recipe shared by ``Lock`` and ``Election`` (see ``kvstore.recipes``).

``WaiterQueue`` is the FIFO queue of keys under one prefix; ``QueueClaim`` is one object's
place in it: its session, its key, whether it holds the head of the queue, and the loss of
the session while it does. ``Lock`` and ``Election`` add only their verbs on top.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import ClassVar, TypeVar

import attrs

from kvstore._concurrency import Event
from kvstore._sync._context import Closing
from kvstore.errors import (
    CompactedError,
    InvalidArgumentError,
    KVStoreError,
    LeaseExpiredError,
    LeaseNotFoundError,
    LockError,
    LockLostError,
    LockNotHeldError,
    LockTimeoutError,
    StoreClosedError,
)
from kvstore.keys import check_key, check_ttl, prefix_range_end
from kvstore.plugins.events import report as report_event
from kvstore.recipes._sync._store import RecipeStore, check_open, unsupported
from kvstore.recipes._sync.session import Session
from kvstore.txn import Compare, CreateRevision, Delete, Get, Op, Put, Txn, WatchRequest
from kvstore.types import Capability, EventType, RangeResult, SortOrder, SortTarget, TxnResult

__all__ = [
    "LAYOUTS",
    "Holder",
    "LockLostCallback",
    "QueueClaim",
    "WaiterQueue",
    "check_timeout",
    "recipe_name",
    "recipe_prefix",
    "timed_out",
    "wait_for_event",
]

LockLostCallback = Callable[[LockLostError], object]
"""Called with a ``LockLostError`` when a held lock or a leadership is lost."""

_H = TypeVar("_H", bound="Holder")

_WAKE_SECONDS = 0.1
"""How often a waiter looks up from its watch to notice a lost session or its deadline."""


LAYOUTS = ("kvstore", "etcd")
"""The key layouts of locks and elections (the ``layout`` argument of ``new_lock``).

``"kvstore"`` (the default): ``<namespace><percent-encoded name>/<lease id hex>``, apart
from application keys. ``"etcd"``: ``<name>/<lease id hex>``, the layout of etcd's Go
``concurrency.Mutex`` and ``concurrency.Election`` (prefix ``name + "/"``, key
``prefix + "%x" % lease id``) and so of ``etcdctl lock`` and ``etcdctl elect``, whose
holders then exclude (or follow) ours.
"""


def recipe_prefix(namespace: str, name: str, operation: str, layout: str = "kvstore") -> str:
    """The key prefix of the lock or election ``name`` under ``namespace``, in ``layout``.

    Raises:
        InvalidKeyError: ``name`` is not a valid key.
        InvalidArgumentError: ``layout`` is not one of ``LAYOUTS``.
    """
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise InvalidArgumentError(
            f"{operation}: layout must be one of {', '.join(map(repr, LAYOUTS))}, not {layout!r}",
            operation=operation,
        )
    check_key(name, operation=operation)
    if layout == "etcd":
        return name + "/"
    return namespace + urllib.parse.quote(name, safe="") + "/"


def recipe_name(namespace: str, key: str) -> tuple[str, str] | None:
    """Which recipe of the ``"kvstore"`` layout under ``namespace`` the key ``key`` belongs to.

    The inverse of ``recipe_prefix(namespace, name, ...)``: for a key
    ``<namespace><quoted name>/<rest>`` it returns ``(name, rest)``, where ``rest`` is what
    the recipe puts after its prefix (a lease id in hex for a lock waiter).

    Returns:
        The recipe's name and the rest of the key, or ``None`` when ``key`` is not under
        ``namespace`` or has no ``/`` after the name.
    """
    if not key.startswith(namespace):
        return None
    quoted, slash, rest = key[len(namespace) :].partition("/")
    if not slash:
        return None
    return urllib.parse.unquote(quoted), rest


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


def timed_out(operation: str, what: str) -> LockTimeoutError:
    """The error of a recipe's wait for ``what`` that reached its deadline."""
    return LockTimeoutError(
        f"{operation}: timed out waiting for {what!r}", key=what, operation=operation
    )


def wait_for_event(
    store: RecipeStore,
    request: WatchRequest,
    types: tuple[EventType, ...],
    deadline: float | None,
    operation: str,
    session: Session | None = None,
    what: str | None = None,
) -> bool:
    """Watch ``request`` until an event of one of ``types`` comes; whether one came.

    ``False`` means the history the watch started from was compacted, or the watch was
    cancelled under the caller: the caller's fresh read tells what happened. Every recipe
    that waits (locks, semaphores, queues, barriers) waits here.

    Args:
        session: The waiter's session: its loss ends the wait.
        what: What the timeout error names (by default the watched key).

    Raises:
        LockTimeoutError: ``deadline`` (a ``time.monotonic`` value) passed first.
        LockLostError: ``session`` was lost while waiting.
        StoreClosedError: The store was closed.
    """
    watch = store.watch_range(request)
    try:
        while True:
            if session is not None and not session.alive:
                raise LockLostError(
                    f"{operation}: the session was lost while waiting for {request.key!r}",
                    key=request.key,
                    operation=operation,
                )
            wait = _WAKE_SECONDS
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise timed_out(operation, request.key if what is None else what)
                wait = min(wait, remaining)
            event = watch.next_event(wait)
            if event is not None and event.type in types:
                return True
            if event is None and watch.cancelled:
                check_open(store, operation)
                return False
    except CompactedError:
        return False
    finally:
        watch.cancel()


class WaiterQueue:
    """The FIFO queue of keys under one prefix, shared by ``Lock`` and ``Election``.

    Args:
        store: The store holding the keys.
        prefix: The lock's or election's prefix (see ``recipe_prefix``).
        operation: Name used in errors (``"lock"``, ``"campaign"``).
    """

    def __init__(self, store: RecipeStore, prefix: str, operation: str) -> None:
        self.store = store
        self.prefix = prefix
        self.range_end = prefix_range_end(prefix)
        self.operation = operation

    def enqueue(self, key: str, value: bytes, session: Session) -> tuple[int, bool, RangeResult]:
        """Put ``key`` with the session's lease unless it exists, and read the owner, in one txn.

        Returns:
            The key's create revision, whether this call created it, and the owner: the
            oldest key of the prefix (keys only, at most one), as of the transaction.

        Raises:
            LockLostError: The session's lease is gone (the session is marked lost).
        """
        mine = Get(key, keys_only=True)
        owner = self._oldest()
        put = Put(key, value, lease=session.lease_id)
        result = self.txn(session, [CreateRevision(key) == 0], [put, mine, owner], [mine, owner])
        *_, own, first = result.responses
        assert isinstance(own, RangeResult) and isinstance(first, RangeResult)
        if not own.kvs:
            raise LockLostError(
                f"{self.operation}: key {key!r} vanished while it was being queued",
                key=key,
                operation=self.operation,
            )
        return own.kvs[0].create_revision, result.succeeded, first

    def _oldest(self) -> Get:
        """The owner read: the key of the prefix with the lowest create revision."""
        return self._one_by_create(SortOrder.ASCEND)

    def _newest_before(self, revision: int, blockers: str | None = None) -> Get:
        """The predecessor read: the newest key of ``blockers`` (a sub-prefix, by default
        the whole prefix) created before ``revision``."""
        return self._one_by_create(
            SortOrder.DESCEND, max_create_revision=revision - 1, prefix=blockers
        )

    def first(self, limit: int) -> Get:
        """The first ``limit`` keys of the prefix by create revision (keys only)."""
        return self._one_by_create(SortOrder.ASCEND, limit=limit)

    def _one_by_create(
        self,
        order: SortOrder,
        *,
        max_create_revision: int = 0,
        prefix: str | None = None,
        limit: int = 1,
    ) -> Get:
        return Get(
            self.prefix if prefix is None else prefix,
            self.range_end if prefix is None else prefix_range_end(prefix),
            limit=limit,
            keys_only=True,
            sort_target=SortTarget.CREATE,
            sort_order=order,
            max_create_revision=max_create_revision,
        )

    def txn(
        self, session: Session, compares: list[Compare], success: list[Op], failure: list[Op]
    ) -> TxnResult:
        """``kv_txn`` that turns an unknown session lease into ``LockLostError``.

        Raises:
            LockLostError: The session's lease is gone (the session is marked lost).
        """
        try:
            return self.store.kv_txn(Txn(compares, success, failure))
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
        owner: RangeResult,
        session: Session,
        deadline: float | None,
        blockers: str | None = None,
    ) -> None:
        """Wait until ``key`` (created at ``revision``) is the oldest key of the prefix.

        Each step reads one key, the predecessor (the newest key created before ``key``),
        and watches it until it is deleted, as etcd's Go ``concurrency`` package does.

        Args:
            owner: The oldest key of the prefix, read after ``key`` was created.
            blockers: Wait only for the earlier keys under this sub-prefix of the prefix
                (a read lock waits for earlier writers only); by default for all.

        Raises:
            LockTimeoutError: ``deadline`` passed first.
            LockLostError: The session was lost, or ``key`` vanished, while waiting.
        """
        if owner.kvs and owner.kvs[0].key == key:
            return
        while True:
            older = self._newest_before(revision, blockers)
            read = self._read_with_own(key, revision, session, older)
            if not read.kvs:
                return
            predecessor = read.kvs[0].key
            wait_for_event(
                self.store,
                WatchRequest(predecessor, start_revision=read.revision + 1),
                (EventType.DELETE,),
                deadline,
                self.operation,
                session,
                self.prefix,
            )

    def wait_rank(
        self, key: str, revision: int, limit: int, session: Session, deadline: float | None
    ) -> None:
        """Wait until ``key`` (created at ``revision``) is among the first ``limit`` keys.

        Keys only leave the queue, so a key among the first ``limit`` stays there until it
        is deleted. Each step reads the first ``limit`` keys and, if ``key`` is not among
        them, watches the prefix until a key is deleted.

        Raises:
            LockTimeoutError: ``deadline`` passed first.
            LockLostError: The session was lost, or ``key`` vanished, while waiting.
        """
        while True:
            read = self._read_with_own(key, revision, session, self.first(limit))
            if any(kv.key == key for kv in read.kvs):
                return
            wait_for_event(
                self.store,
                WatchRequest(self.prefix, self.range_end, start_revision=read.revision + 1),
                (EventType.DELETE,),
                deadline,
                self.operation,
                session,
                self.prefix,
            )

    def _read_with_own(self, key: str, revision: int, session: Session, read: Get) -> RangeResult:
        """``read`` and ``key`` in one read-only txn; the result of ``read`` (its
        ``revision`` that of the transaction).

        Raises:
            LockLostError: ``key`` is gone (or was created again).
        """
        result = self.store.kv_txn(Txn([], [read, Get(key, keys_only=True)], []))
        found, own = result.responses
        assert isinstance(found, RangeResult) and isinstance(own, RangeResult)
        if not own.kvs or own.kvs[0].create_revision != revision:
            session.check()
            raise LockLostError(
                f"{self.operation}: key {key!r} was deleted while waiting "
                "(session lease expired or key removed)",
                key=key,
                operation=self.operation,
            )
        return attrs.evolve(found, revision=result.revision)

    def delete(self, key: str) -> None:
        """Delete ``key``, ignoring a closed store (its lease then expires by itself)."""
        with contextlib.suppress(StoreClosedError):
            self.store.kv_delete_range(Delete(key))


class QueueClaim(Closing):
    """One object's place in a ``WaiterQueue``: what locks and elections share.

    The object's own session (when none is passed in) exists only while the object queues
    or holds: it is created when the object joins the queue and closed when it leaves
    (released, resigned, timed out, failed), so an object that holds nothing keeps no
    lease and no keep-alive thread. A passed-in session belongs to the caller and is
    never closed here.

    Args:
        store: Any store with the ``leases``, ``txn`` and ``watch`` capabilities.
        name: The lock's or election's name.
        ttl: TTL of the object's own sessions, when ``session`` is not given.
        session: Share this session (its lease) instead of creating own ones.
        on_lost: Called with a ``LockLostError`` when the head of the queue is lost.
        layout: The key layout, ``"kvstore"`` or ``"etcd"`` (see ``LAYOUTS``).

    Raises:
        InvalidKeyError: ``name`` is not a valid key.
        InvalidArgumentError: ``ttl`` is not a positive int, or ``layout`` is unknown.
        UnsupportedOperationError: The store has no ``leases`` capability.
    """

    _namespace: ClassVar[str]
    """The top-level prefix of the keys (``LOCK_NAMESPACE``, ``ELECTION_NAMESPACE``)."""
    _creator: ClassVar[str]
    """The operation named in argument errors: ``"new_lock"``, ``"new_election"``."""
    _noun: ClassVar[str]
    """What the object is called in errors: ``"lock"``, ``"election"``."""
    _kind: ClassVar[str]
    """The class name used in errors about a shared session."""
    _operation: ClassVar[str]
    """The operation named in errors of the recipe itself: ``"lock"``, ``"campaign"``."""
    _not_held: ClassVar[str]
    """Error text (``str.format`` with ``name``) for a token asked of a non-holder."""
    _lost_what: ClassVar[str]
    """Loss text (``str.format`` with ``name``) passed to ``on_lost``."""
    _states: ClassVar[tuple[str, str]]
    """How ``repr`` calls holding and not holding: ``("held", "free")`` ..."""

    def __init__(
        self,
        store: RecipeStore,
        name: str,
        *,
        ttl: int = 60,
        session: Session | None = None,
        on_lost: LockLostCallback | None = None,
        layout: str = "kvstore",
    ) -> None:
        self.prefix = recipe_prefix(self._namespace, name, self._creator, layout)
        self.layout = layout
        check_ttl(ttl, operation=self._creator)
        if session is None and Capability.LEASES not in store.capabilities:
            raise unsupported(store, self._creator)
        self.store = store
        self.name = name
        self.lost = Event()
        self.on_lost = on_lost
        self._queue = WaiterQueue(store, self.prefix, self._operation)
        self._ttl = ttl
        self._owns_session = session is None
        self._session = session
        if session is not None:
            session.add_lost_callback(self._session_lost)
        self._state = threading.Lock()
        self._revision = 0  # create revision of our key while held (or lost, until released)
        self._claimed: str | None = None
        self._closed = False

    def __repr__(self) -> str:
        holding, free = self._states
        state = holding if self._holding else "lost" if self.lost.is_set() else free
        return f"{self._kind}(name={self.name!r}, {state})"

    @property
    def session(self) -> Session:
        """The session whose lease the key is put with.

        An own session is created on first use (joining the queue, or, in the sync API,
        reading this property) and closed when the object leaves the queue; the object
        keeps it for ``key`` and ``guard()`` and replaces it by a new one when it joins
        again.

        Raises:
            LockNotHeldError: (asyncio API) The object never joined the queue yet.
        """
        if self._session is None:
            self._session = self._new_session()
        return self._session

    @property
    def key(self) -> str:
        """This object's key: ``prefix`` + its session's lease id in hex.

        Just ``prefix`` while the object never had a session (it never queued).
        """
        session = self._session
        return self.prefix if session is None else self._key_of(session.lease_id)

    def _key_of(self, lease_id: int) -> str:
        """The key of this object on the session with lease ``lease_id``."""
        return f"{self.prefix}{lease_id:x}"

    @property
    def fencing_token(self) -> int:
        """The key's create revision: strictly increasing from holder to holder.

        Still readable after the lock or leadership was lost (until ``unlock`` or
        ``resign``), so late writes carry a stale token that a resource can refuse.

        Raises:
            LockNotHeldError: Not acquired or elected (or unlocked, or resigned).
        """
        if self._revision == 0:
            raise self._not_held_error("fencing_token")
        return self._revision

    def _not_held_error(self, operation: str) -> LockNotHeldError:
        return LockNotHeldError(
            f"{operation}: " + self._not_held.format(name=self.name),
            key=self.key,
            operation=self._operation,
        )

    def guard(self) -> Compare:
        """A compare that holds only while this acquisition or leadership still stands.

        ``CreateRevision(key) == fencing_token``: put it in the ``if_`` of a transaction
        and the writes apply only if the key was not lost (lease expired, key deleted)
        since it was acquired.

        Raises:
            LockNotHeldError: Not acquired or elected (or unlocked, or resigned).
        """
        return CreateRevision(self.key) == self.fencing_token

    def close(self) -> None:
        """Release (``unlock``, ``resign``) and close an own session; idempotent.

        A passed-in session is left open. The object cannot be used again.

        Raises:
            StoreClosedError: The store was closed (elections only: the guarded delete).
            BackendError: Releasing failed.
        """
        if self._closed:
            return
        self._release()
        self._closed = True
        if self._session is not None:
            self._session.remove_lost_callback(self._session_lost)
        self._drop_own_session()

    # -- internals

    @property
    def _holding(self) -> bool:
        session = self._session
        return (
            self._revision != 0 and not self.lost.is_set() and session is not None and session.alive
        )

    def _begin(self, operation: str) -> tuple[Session, str]:
        """Join the queue: check, get a live session, and claim the key on it."""
        if self._closed:
            raise LockError(
                f"{operation}: {self._noun} {self.name!r} was closed", operation=operation
            )
        if self._claimed is not None:
            self._release()  # lost earlier: drop what is left of the old acquisition
        session = self._ready_session(operation)
        key = self._key_of(session.lease_id)
        if not session._claim(key):
            raise LockError(
                f"{operation}: another {self._kind} object of {self.name!r} uses the same session",
                key=key,
                operation=operation,
            )
        with self._state:
            self._claimed = key
        return session, key

    def _queue_and_wait(self, operation: str, deadline: float | None) -> None:
        """Join the queue with ``_queued_value()`` and wait for the turn ``_wait`` defines;
        on any failure (timeout, loss, cancellation) leave it without a key behind."""
        session, key = self._begin(operation)
        try:
            revision, _, queue = self._queue.enqueue(key, self._queued_value(), session)
            self._wait(key, revision, queue, session, deadline)
        except BaseException:
            self._abandon(key)
            raise
        self._acquired(session, revision, "acquisition")

    def _queued_value(self) -> bytes:
        """The value ``_queue_and_wait`` puts the key with: empty (a semaphore's: its limit)."""
        return b""

    def _wait(
        self,
        key: str,
        revision: int,
        owner: RangeResult,
        session: Session,
        deadline: float | None,
    ) -> None:
        """Wait until the key holds: by default, until it heads the queue."""
        self._queue.wait_turn(key, revision, owner, session, deadline)

    def _ready_session(self, operation: str) -> Session:
        session = self._session
        if session is not None and session.alive:
            return session
        if not self._owns_session:
            raise LockLostError(
                f"{operation}: the session of {self._noun} {self.name!r} was lost or closed",
                key=self.key,
                operation=operation,
            )
        self._drop_own_session()
        self._session = self._new_session()
        return self._session

    def _new_session(self) -> Session:
        session = Session(self.store, self._ttl).start()
        session.add_lost_callback(self._session_lost)
        return session

    def _drop_own_session(self) -> None:
        session = self._session
        if not self._owns_session or session is None:
            return
        session.remove_lost_callback(self._session_lost)
        # close() stops the keep-alive before revoking: if the revoke fails, the lease
        # still expires within its TTL, and the release that led here did succeed.
        with contextlib.suppress(KVStoreError):
            session.close()

    def _acquired(self, session: Session, revision: int, during: str) -> None:
        with self._state:
            self._revision = revision
            self.lost.clear()
        if not session.alive:
            self._session_lost(session._lost_error(f"it was lost during {during}"))

    def _release(self) -> None:
        """Delete the key and leave the queue; idempotent."""
        with self._state:
            key, revision = self._claimed, self._revision
        if key is None:
            return
        self._delete_key(key, revision)
        with self._state:
            self._revision = 0
        self._release_claim(key)

    def _delete_key(self, key: str, revision: int) -> None:
        self._queue.delete(key)

    def _abandon(self, key: str) -> None:
        """Leave the queue after a failed attempt, without masking the attempt's error."""
        with contextlib.suppress(Exception):
            self._queue.delete(key)
        self._release_claim(key)

    def _release_claim(self, key: str) -> None:
        with self._state:
            if self._claimed == key:
                self._claimed = None
        if self._session is not None:
            self._session._release(key)
        self._drop_own_session()

    def _session_lost(self, error: LeaseExpiredError) -> None:
        with self._state:
            if self._revision == 0:
                return
            self.lost.set()
        report_event(
            "lock_lost", store=self.store, name=self.name, kind=self._noun, reason=error.message
        )
        callback = self.on_lost
        if callback is not None:
            callback(
                LockLostError(
                    f"{self._lost_what.format(name=self.name)}: {error.message}",
                    key=self.key,
                    operation=self._operation,
                )
            )


class Holder(QueueClaim):
    """A claim that holds a resource once its turn comes: read and write locks, semaphores.

    What the holders share: ``acquire(timeout) -> bool`` (``threading.Lock``'s), ``release()``,
    ``is_held``, ``fencing_token`` and ``guard()`` (from ``QueueClaim``), and the
    ``with`` block, which acquires (raising ``LockTimeoutError`` past the holder's
    timeout) and releases. Each holder has its own session, granted when it queues and
    revoked when it releases or gives up, so a holder that stops renewing (crash, pause)
    loses its place after its TTL.
    """

    _timeout: float | None = None
    """The timeout of ``with`` blocks."""

    @property
    def is_held(self) -> bool:
        """Whether this object holds, as far as this process knows (only ``guard()`` is sure)."""
        return self._holding

    def acquire(self, timeout: float | None = None) -> bool:
        """Queue and wait for the turn; whether it came within ``timeout``.

        Args:
            timeout: Most seconds to wait (``None``: no limit, ``0``: do not wait).

        Returns:
            ``True`` once held; ``False`` if ``timeout`` passed first (no key is left behind).

        Raises:
            LockLostError: The session was lost while waiting (a new one is granted on the
                next call).
            LockError: This object already holds, or was closed.
            InvalidArgumentError: ``timeout`` is negative or not a number.
            StoreClosedError: The store was closed.
            BackendError: The backend failed a call (the waiter key is removed if possible).
        """
        deadline = check_timeout(timeout, self._operation)
        if self._holding:
            raise LockError(
                f"{self._operation}: {self._noun} {self.name!r} is already held by this object",
                key=self.key,
                operation=self._operation,
            )
        try:
            self._queue_and_wait(self._operation, deadline)
        except LockTimeoutError:
            return False
        return True

    def release(self) -> None:
        """Give the resource up (delete the key, revoke the own session); idempotent.

        Raises:
            BackendError: The delete failed; the hold stands (retry, or ``close``).
        """
        self._release()

    def __enter__(self: _H) -> _H:
        if not self.acquire(self._timeout):
            raise timed_out(self._operation, self.prefix)
        return self

    def _end_context(self) -> None:
        self.release()
