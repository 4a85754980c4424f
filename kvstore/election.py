"""``Election``: leader election for every backend, the recipe of etcd's ``concurrency``.

Candidates queue exactly as lock waiters do (see ``kvstore.lock``): each puts the key
``__kvstore/elections/<quoted name>/<lease id hex>`` with its session's lease and its
value; the key with the lowest create revision is the leader, and its value is what the
leader proclaims. A candidate waits for its predecessor only. When the leader's process
stops, its lease expires, its key goes, and the next candidate leads.

Only key and revision compares are used, so elections work through ``EncryptedStore``
(values are encrypted, revisions are not) and ``NamespacedStore``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING

from kvstore.errors import (
    CompactedError,
    LeaseExpiredError,
    LockError,
    LockLostError,
    LockNotHeldError,
)
from kvstore.keys import check_ttl, check_value, prefix_range_end
from kvstore.lock import WaiterQueue, check_timeout, recipe_prefix
from kvstore.session import Session
from kvstore.txn import Compare, CreateRevision, Delete, Put
from kvstore.types import EventType, KeyValue, WatchEvent

if TYPE_CHECKING:
    from kvstore.base import BaseStore
    from kvstore.watch import Watch

__all__ = ["ELECTION_NAMESPACE", "Election", "LeaderObserver"]

ELECTION_NAMESPACE = "__kvstore/elections/"
"""Top-level prefix of every election key."""


class Election:
    """A leader election named ``name``: one leader at a time, FIFO among candidates.

    Get one with ``store.new_election(name, ttl=60)``. Each ``Election`` object has its
    own ``Session`` unless one is passed. One object is used by one thread at a time.

    Args:
        store: Any store with the ``leases``, ``txn`` and ``watch`` capabilities.
        name: The election's name (any non-empty ``str``).
        ttl: TTL of the election's own session, when ``session`` is not given.
        session: Share this session instead of creating one.
        on_lost: Called with a ``LockLostError`` when leadership is lost (lease expired).

    Attributes:
        store: The store.
        name: The election's name.
        prefix: The key prefix of the candidates.
        lost: Set when the session's lease was lost while leading; cleared by the next
            successful ``campaign``.
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
        on_lost: Callable[[LockLostError], object] | None = None,
    ) -> None:
        self.prefix = recipe_prefix(ELECTION_NAMESPACE, name, "new_election")
        check_ttl(ttl, operation="new_election")
        self.store = store
        self.name = name
        self.lost = threading.Event()
        self.on_lost = on_lost
        self._queue = WaiterQueue(store, self.prefix, "campaign")
        self._ttl = ttl
        self._owns_session = session is None
        self._session = Session(store, ttl) if session is None else session
        self._session.add_lost_callback(self._session_lost)
        self._state = threading.Lock()
        self._revision = 0  # create revision of our key while leading
        self._claimed: str | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "leader" if self.is_leader else "lost" if self.lost.is_set() else "follower"
        return f"Election(name={self.name!r}, {state})"

    @property
    def session(self) -> Session:
        """The session whose lease the candidate key is put with."""
        return self._session

    @property
    def key(self) -> str:
        """This object's candidate key: ``prefix`` + the session's lease id in hex."""
        return f"{self.prefix}{self._session.lease_id:x}"

    @property
    def is_leader(self) -> bool:
        """Whether this object leads, as far as this process knows (see ``guard``)."""
        return self._revision != 0 and not self.lost.is_set() and self._session.alive

    @property
    def fencing_token(self) -> int:
        """The candidate key's create revision: strictly increasing from leader to leader.

        Raises:
            LockNotHeldError: This object is not the leader (or resigned).
        """
        if self._revision == 0:
            raise LockNotHeldError(
                f"fencing_token: not the leader of {self.name!r}",
                key=self.key,
                operation="campaign",
            )
        return self._revision

    def guard(self) -> Compare:
        """A compare that holds only while this leadership still stands (fenced writes).

        Raises:
            LockNotHeldError: This object is not the leader (or resigned).
        """
        return CreateRevision(self.key) == self.fencing_token

    def campaign(self, value: bytes, timeout: float | None = None) -> None:
        """Stand for election with ``value`` and block until this object leads.

        A leader that campaigns again just proclaims the new value.

        Args:
            value: What the leader announces (an address, an id ...).
            timeout: Most seconds to wait (``None``: no limit).

        Raises:
            LockTimeoutError: Not elected within ``timeout``; the candidacy is withdrawn.
            LockLostError: The session was lost while waiting.
            LockError: The election object was closed, or another ``Election`` object of
                the same name uses the same session.
            InvalidArgumentError: ``value`` is not bytes, or ``timeout`` is invalid.
            StoreClosedError: The store was closed.
            BackendError: The backend failed a call (the candidacy is withdrawn if possible).
        """
        value = check_value(value, operation="campaign", key=self.key)
        deadline = check_timeout(timeout, "campaign")
        if self.is_leader:
            self.proclaim(value)
            return
        session, key = self._begin()
        try:
            revision, created, queue = self._queue.enqueue(key, value, session)
            if not created:
                self._put_value(key, revision, value)
            self._queue.wait_turn(key, revision, queue, session, deadline)
        except BaseException:
            self._abandon(key)
            raise
        with self._state:
            self._revision = revision
            self.lost.clear()
        if not session.alive:
            self._session_lost(session._lost_error("it was lost during the campaign"))

    def proclaim(self, value: bytes) -> None:
        """Announce a new value as the leader, without a new election.

        Raises:
            LockNotHeldError: This object is not the leader, or no longer is (its key was
                deleted or its lease expired).
            InvalidArgumentError: ``value`` is not bytes.
            StoreClosedError: The store was closed.
        """
        value = check_value(value, operation="proclaim", key=self.key)
        if self._revision == 0:
            raise LockNotHeldError(
                f"proclaim: not the leader of {self.name!r}", key=self.key, operation="proclaim"
            )
        if not self._put_value(self.key, self._revision, value):
            self.lost.set()
            raise LockNotHeldError(
                f"proclaim: leadership of {self.name!r} was lost",
                key=self.key,
                operation="proclaim",
            )

    def resign(self) -> None:
        """Give up leadership (or candidacy), letting the next candidate lead; idempotent.

        Raises:
            StoreClosedError: The store was closed.
            BackendError: The delete failed; the leadership stands (retry, or ``close``).
        """
        with self._state:
            key, revision = self._claimed, self._revision
        if key is None:
            return
        if revision:
            self.store.kv_txn([CreateRevision(key) == revision], [Delete(key)], [])
        else:
            self._queue.delete(key)
        with self._state:
            self._revision = 0
        self._release_claim(key)

    def leader(self) -> KeyValue | None:
        """The current leader's key-value (its ``value`` is the proclaimed value), or None.

        Raises:
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        kvs = self.store.kv_range(self.prefix, prefix_range_end(self.prefix)).kvs
        return min(kvs, key=lambda kv: kv.create_revision) if kvs else None

    def observe(self) -> LeaderObserver:
        """Follow the leadership: an iterator yielding the leader's key-value on each change.

        The first item is the current leader (once there is one); then every new leader and
        every value a leader proclaims, in revision order. ``cancel()`` the observer (or
        leave its ``with`` block) to end the iteration.

        Raises:
            StoreClosedError: The store was closed.
        """
        return LeaderObserver(self.store, self.prefix)

    def close(self) -> None:
        """Resign and close the election's own session (not a shared one); idempotent."""
        if self._closed:
            return
        self.resign()
        self._closed = True
        self._session.remove_lost_callback(self._session_lost)
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Election:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals

    def _put_value(self, key: str, revision: int, value: bytes) -> bool:
        put = Put(key, value, lease=self._session.lease_id)
        return self._queue.txn(
            self._session, [CreateRevision(key) == revision], [put], []
        ).succeeded

    def _begin(self) -> tuple[Session, str]:
        if self._closed:
            raise LockError(f"campaign: election {self.name!r} was closed", operation="campaign")
        if self._claimed is not None:
            self.resign()  # leadership lost earlier: withdraw what is left of it
        session = self._ready_session()
        key = self.key
        if not session._claim(key):
            raise LockError(
                f"campaign: another Election object of {self.name!r} uses the same session",
                key=key,
                operation="campaign",
            )
        with self._state:
            self._claimed = key
        return session, key

    def _ready_session(self) -> Session:
        session = self._session
        if session.alive:
            return session
        if not self._owns_session:
            raise LockLostError(
                f"campaign: the session of election {self.name!r} was lost or closed",
                key=self.key,
                operation="campaign",
            )
        session.remove_lost_callback(self._session_lost)
        session.close()
        self._session = Session(self.store, self._ttl)
        self._session.add_lost_callback(self._session_lost)
        return self._session

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
        callback = self.on_lost
        if callback is not None:
            callback(
                LockLostError(
                    f"election {self.name!r}: leadership was lost: {error.message}",
                    key=self.key,
                    operation="campaign",
                )
            )


class LeaderObserver(Iterator[KeyValue]):
    """Iterator over the leaders of one election (see ``Election.observe``).

    It keeps a local copy of the candidates, fed by one watch on the election's prefix,
    and reports a change after applying every event of a revision, so it never reports
    a leader that existed only half-way through a transaction or a lease expiry.
    """

    def __init__(self, store: BaseStore, prefix: str) -> None:
        self._store = store
        self._prefix = prefix
        self._range_end = prefix_range_end(prefix)
        self._candidates: dict[str, KeyValue] = {}
        self._last: KeyValue | None = None
        self._lookahead: WatchEvent | None = None
        self._cancelled = False
        self._watch: Watch = self._sync()

    def __repr__(self) -> str:
        return f"LeaderObserver(prefix={self._prefix!r}, leader={self._leader()!r})"

    def __next__(self) -> KeyValue:
        leader = self.next_leader(None)
        if leader is None:
            raise StopIteration
        return leader

    def next_leader(self, timeout: float | None = None) -> KeyValue | None:
        """The next leader (or new value of the leader), waiting at most ``timeout`` s.

        Returns:
            The leader's key-value, or ``None`` when none came in time or on ``cancel``.

        Raises:
            KVStoreError: The watch failed for good (other than by compaction, which is
                recovered from by reading the candidates again).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._cancelled:
            leader = self._leader()
            if leader is not None and leader != self._last:
                self._last = leader
                return leader
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if remaining == 0.0:
                return None
            try:
                if not self._apply_revision(remaining):
                    if self._watch.cancelled:
                        self._cancelled = True
                    return None
            except CompactedError:
                self._watch.cancel()
                self._watch = self._sync()
        return None

    def cancel(self) -> None:
        """Stop observing; iteration ends. Idempotent."""
        self._cancelled = True
        self._watch.cancel()

    def __enter__(self) -> LeaderObserver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.cancel()

    def _sync(self) -> Watch:
        read = self._store.kv_range(self._prefix, self._range_end)
        self._candidates = {kv.key: kv for kv in read.kvs}
        self._lookahead = None
        return self._store.watch_range(
            self._prefix, self._range_end, start_revision=read.revision + 1
        )

    def _leader(self) -> KeyValue | None:
        if not self._candidates:
            return None
        return min(self._candidates.values(), key=lambda kv: kv.create_revision)

    def _apply_revision(self, timeout: float | None) -> bool:
        event = self._lookahead or self._watch.next_event(timeout)
        self._lookahead = None
        if event is None:
            return False
        self._apply(event)
        while True:
            following = self._watch.next_event(0)
            if following is None:
                return True
            if following.revision != event.revision:
                self._lookahead = following
                return True
            self._apply(following)

    def _apply(self, event: WatchEvent) -> None:
        if event.type is EventType.PUT:
            self._candidates[event.kv.key] = event.kv
        else:
            self._candidates.pop(event.kv.key, None)
