# Generated from kvstore/recipes/_async/election.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``Election``: leader election for every backend, the recipe of etcd's ``concurrency``.

Candidates queue exactly as lock waiters do (see ``kvstore.recipes._sync.lock``): each puts the key
``__kvstore/elections/<quoted name>/<lease id hex>`` with its session's lease and its
value; the key with the lowest create revision is the leader, and its value is what the
leader proclaims. A candidate waits for its predecessor only. When the leader's process
stops, its lease expires, its key goes, and the next candidate leads. An election's own
session lives only while it campaigns or leads: ``resign()`` closes it.

With ``layout="etcd"`` the keys are etcd's own, ``<name>/<lease id hex>``, as Go's
``concurrency.NewElection(session, name)`` and ``etcdctl elect name proposal`` write them
(the value is the proposal), so Python and Go candidates stand in one election and
``etcdctl elect -l name`` follows a Python leader.

Only key and revision compares are used, so elections work through ``EncryptedStore``
(values are encrypted, revisions are not) and ``NamespacedStore``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from kvstore._sync._context import Closing
from kvstore.errors import CompactedError, LockNotHeldError
from kvstore.keys import check_value, prefix_range_end
from kvstore.recipes._sync._waiters import QueueClaim, check_timeout
from kvstore.txn import CreateRevision, Delete, Get, Put, Txn, WatchRequest
from kvstore.types import EventType, KeyValue, SortOrder, SortTarget, WatchEvent

if TYPE_CHECKING:
    from kvstore._sync.watch import Watch
    from kvstore.recipes._sync._store import RecipeStore
    from kvstore.recipes._sync.session import Session

__all__ = ["ELECTION_NAMESPACE", "Election", "LeaderObserver"]

ELECTION_NAMESPACE = "__kvstore/elections/"
"""Top-level prefix of every election key."""


class Election(QueueClaim):
    """A leader election named ``name``: one leader at a time, FIFO among candidates.

    Get one with ``store.new_election(name, ttl=60)``. Each ``Election`` object has
    its own ``Session`` unless one is passed; the own session is created by ``campaign`` and
    closed by ``resign`` (or a failed campaign), so a follower that is not campaigning
    keeps no lease and no keep-alive. One object is used by one task (or thread) at a time.

    Args:
        store: Any store with the ``leases``, ``txn`` and ``watch`` capabilities.
        name: The election's name (any non-empty ``str``).
        ttl: TTL of the election's own sessions, when ``session`` is not given.
        session: Share this session instead of creating own ones; it is never closed by
            the election.
        on_lost: Called with a ``LockLostError`` when leadership is lost (lease expired).
        layout: ``"kvstore"`` (the default: ``__kvstore/elections/<quoted name>/``) or
            ``"etcd"`` (``<name>/``, etcd's own layout, shared with Go and ``etcdctl elect``).

    Attributes:
        store: The store.
        name: The election's name.
        layout: The key layout.
        prefix: The key prefix of the candidates.
        lost: Set when the session's lease was lost while leading; cleared by the next
            successful ``campaign``.
        on_lost: The loss callback; may be assigned after construction.

    Raises:
        InvalidKeyError: ``name`` is not a valid key.
        InvalidArgumentError: ``ttl`` is not a positive int, or ``layout`` is unknown.
        UnsupportedOperationError: The store has no ``leases`` capability.
    """

    _namespace = ELECTION_NAMESPACE
    _creator = "new_election"
    _noun = "election"
    _kind = "Election"
    _operation = "campaign"
    _not_held = "not the leader of {name!r}"
    _states = ("leader", "follower")
    _lost_what = "election {name!r}: leadership was lost"

    @property
    def is_leader(self) -> bool:
        """Whether this object leads, as far as this process knows (see ``guard``)."""
        return self._holding

    def campaign(self, value: bytes, timeout: float | None = None) -> None:
        """Stand for election with ``value`` and wait until this object leads.

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
            UnsupportedOperationError: The store has no ``leases`` capability.
            StoreClosedError: The store was closed.
            BackendError: The backend failed a call (the candidacy is withdrawn if possible).
        """
        value = check_value(value, operation="campaign", key=self.key)
        deadline = check_timeout(timeout, "campaign")
        if self.is_leader:
            self.proclaim(value)
            return
        session, key = self._begin("campaign")
        try:
            revision, created, queue = self._queue.enqueue(key, value, session)
            if not created:
                self._put_value(session, key, revision, value)
            self._queue.wait_turn(key, revision, queue, session, deadline)
        except BaseException:
            self._abandon(key)
            raise
        self._acquired(session, revision, "the campaign")

    def proclaim(self, value: bytes) -> None:
        """Announce a new value as the leader, without a new election.

        Raises:
            LockNotHeldError: This object is not the leader, or no longer is (its key was
                deleted or its lease expired).
            InvalidArgumentError: ``value`` is not bytes.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """
        value = check_value(value, operation="proclaim", key=self.key)
        if self._revision == 0:
            raise LockNotHeldError(
                f"proclaim: not the leader of {self.name!r}", key=self.key, operation="proclaim"
            )
        if not self._put_value(self.session, self.key, self._revision, value):
            self.lost.set()
            raise LockNotHeldError(
                f"proclaim: leadership of {self.name!r} was lost",
                key=self.key,
                operation="proclaim",
            )

    def resign(self) -> None:
        """Give up leadership (or candidacy), letting the next candidate lead; idempotent.

        An own session is closed too.

        Raises:
            StoreClosedError: The store was closed.
            BackendError: The delete failed; the leadership stands (retry, or ``close``).
        """
        self._release()

    def leader(self) -> KeyValue | None:
        """The current leader's key-value (its ``value`` is the proclaimed value), or None.

        Returns:
            The leader's ``KeyValue`` (the campaign key created first; its ``value`` is the
            proclaimed value), or ``None`` when nobody campaigns.

        Raises:
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        oldest = Get(
            self.prefix,
            prefix_range_end(self.prefix),
            limit=1,
            sort_target=SortTarget.CREATE,
            sort_order=SortOrder.ASCEND,
        )
        kvs = self.store.kv_range(oldest).kvs
        return kvs[0] if kvs else None

    def observe(self) -> LeaderObserver:
        """Follow the leadership: an iterator yielding the leader's key-value on each change.

        The first item is the current leader (once there is one); then every new leader and
        every value a leader proclaims, in revision order. ``cancel()`` the observer (or
        leave its ``with`` block) to end the iteration.

        Returns:
            A ``LeaderObserver`` to iterate, yielding the leader's ``KeyValue`` on each
            change.

        Raises:
            StoreClosedError: The store was closed.
        """
        return LeaderObserver(self.store, self.prefix)

    def _end_context(self) -> None:
        self.close()

    # -- internals

    def _delete_key(self, key: str, revision: int) -> None:
        if revision:
            self.store.kv_txn(Txn([CreateRevision(key) == revision], [Delete(key)], []))
        else:
            self._queue.delete(key)

    def _put_value(self, session: Session, key: str, revision: int, value: bytes) -> bool:
        put = Put(key, value, lease=session.lease_id)
        result = self._queue.txn(session, [CreateRevision(key) == revision], [put], [])
        return result.succeeded


class LeaderObserver(Closing, Iterator[KeyValue]):
    """Iterator over the leaders of one election (see ``Election.observe``).

    It keeps a local copy of the candidates, fed by one watch on the election's prefix,
    and reports a change after applying every event of a revision, so it never reports
    a leader that existed only half-way through a transaction or a lease expiry.
    """

    def __init__(self, store: RecipeStore, prefix: str) -> None:
        self._store = store
        self._prefix = prefix
        self._range_end = prefix_range_end(prefix)
        self._candidates: dict[str, KeyValue] = {}
        self._last: KeyValue | None = None
        self._lookahead: WatchEvent | None = None
        self._cancelled = False
        self._watch: Watch | None = None
        self._watch = self._sync()

    def __repr__(self) -> str:
        return f"LeaderObserver(prefix={self._prefix!r}, leader={self._leader()!r})"

    def __iter__(self) -> LeaderObserver:
        return self

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
        if self._watch is None and not self._cancelled:
            self._watch = self._sync()  # the asyncio API reads on first use
        while not self._cancelled and self._watch is not None:
            leader = self._leader()
            if leader is not None and leader != self._last:
                self._last = leader
                return leader
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if remaining == 0.0:
                return None
            try:
                if not self._apply_revision(self._watch, remaining):
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
        if self._watch is not None:
            self._watch.cancel()

    def _end_context(self) -> None:
        self.cancel()

    def _sync(self) -> Watch:
        read = self._store.kv_range(Get(self._prefix, self._range_end))
        self._candidates = {kv.key: kv for kv in read.kvs}
        self._lookahead = None
        return self._store.watch_range(
            WatchRequest(self._prefix, self._range_end, start_revision=read.revision + 1)
        )

    def _leader(self) -> KeyValue | None:
        if not self._candidates:
            return None
        return min(self._candidates.values(), key=lambda kv: kv.create_revision)

    def _apply_revision(self, watch: Watch, timeout: float | None) -> bool:
        event = self._lookahead or watch.next_event(timeout)
        self._lookahead = None
        if event is None:
            return False
        self._apply(event)
        while True:
            following = watch.next_event(0)
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
