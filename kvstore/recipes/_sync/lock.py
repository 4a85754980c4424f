# Generated from kvstore/recipes/_async/lock.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``Lock``: a fair distributed lock for every backend, built on leases, txns and watches.

The recipe is etcd's ``clientv3/concurrency`` Mutex, written once on the store primitives:

1. Each ``Lock`` has a ``Session`` (a lease kept alive in the background). Its waiter key
   is ``<lock prefix><lease id in hex>``, put with that lease, so it vanishes when the
   process stops renewing. A lock's own session lives only while it waits or holds:
   created by ``lock()`` / ``try_lock()``, closed by ``unlock()`` (and by a failed
   attempt), so a ``with store.new_lock(...)`` block leaves no lease behind.
2. Acquiring is ONE transaction: *if the waiter key does not exist, put it; in both
   branches read the waiter key and the owner*. The owner is the key with the lowest
   create revision, read as one key (``sort_target=SortTarget.CREATE``, ascending,
   ``limit=1``, as Go's ``WithFirstCreate``), so the uncontended path is a single round
   trip whatever the number of waiters.
3. Otherwise the waiter reads its predecessor, again one key: the newest key created
   before its own (``max_create_revision=own - 1``, sorted by create revision descending,
   ``limit=1``, as Go's ``WithLastCreate`` + ``WithMaxCreateRev``), with its own key in the
   same read-only transaction to notice a lost key. It watches only that predecessor until
   it is deleted, then reads again: waiters are served in FIFO order and a release wakes
   one waiter, not all of them.

Key layout. Locks live in their own top-level namespace, apart from application keys::

    __kvstore/locks/<quoted name>/<lease id hex>

The name is percent-encoded (``urllib.parse.quote(name, safe="")``): it never contains
``/``, so the prefix of lock ``"a"`` (``__kvstore/locks/a/``) is not a prefix of the keys
of lock ``"a/b"`` (``__kvstore/locks/a%2Fb/``) and the two are different locks. A
``delete_prefix`` of an application prefix such as ``"app/"`` cannot delete lock keys;
only prefixes of ``"__kvstore/"`` (or ``""`` with ``allow_all``) reach them. Through a
``NamespacedStore`` the layout sits below the namespace's prefix, so locks of different
namespaces are different locks. Elections use ``__kvstore/elections/`` the same way.

With ``layout="etcd"`` (``store.new_lock(name, layout="etcd")``) the keys are etcd's own,
those of Go's ``concurrency.NewMutex(session, name)`` and of ``etcdctl lock name``::

    <name>/<lease id hex>

(the name as it is, lowercase hex without padding), so a Python holder and a Go or
``etcdctl`` holder of the same name exclude each other and queue in one FIFO. As in Go,
the prefix of lock ``"a"`` (``a/``) then also covers the keys of lock ``"a/b"``, and an
application ``delete_prefix`` can reach the keys: choose names apart from data keys.

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

from kvstore.errors import LockError
from kvstore.recipes._sync._waiters import QueueClaim, check_timeout
from kvstore.txn import CreateRevision, Put

__all__ = ["LOCK_NAMESPACE", "Lock"]

LOCK_NAMESPACE = "__kvstore/locks/"
"""Top-level prefix of every lock key."""


class Lock(QueueClaim):
    """A distributed, fair (FIFO), non-reentrant lock named ``name``.

    Get one with ``store.new_lock(name, ttl=60)``. Each ``Lock`` has its own
    ``Session`` unless one is passed, so two ``Lock`` objects for one name
    exclude each other, also inside one process. The own session is created when the
    lock is acquired (or waited for) and closed when it is released, so a lock that is
    not held keeps no lease and no keep-alive. A ``Lock`` object is used by one
    task (or thread) at a time: give each its own.

    Args:
        store: Any store with the ``leases``, ``txn`` and ``watch`` capabilities.
        name: The lock's name; any non-empty ``str`` (``"/a"`` and ``"/a/b"`` differ).
        ttl: TTL of the lock's own sessions, when ``session`` is not given.
        session: Share this session (its lease) instead of creating own ones; it is
            never closed by the lock.
        on_lost: Called with a ``LockLostError`` when the lock is lost while held.
        layout: ``"kvstore"`` (the default: ``__kvstore/locks/<quoted name>/``) or
            ``"etcd"`` (``<name>/``, etcd's own layout, shared with Go and ``etcdctl lock``).

    Attributes:
        store: The store.
        name: The lock's name.
        layout: The key layout.
        prefix: The key prefix of the lock's waiters (see the module docstring).
        lost: Set when the session's lease was lost while the lock was held; cleared by
            the next successful acquisition.
        on_lost: The loss callback; may be assigned after construction.

    Raises:
        InvalidKeyError: ``name`` is not a valid key.
        InvalidArgumentError: ``ttl`` is not a positive int, or ``layout`` is unknown.
        UnsupportedOperationError: The store has no ``leases`` capability.
    """

    _namespace = LOCK_NAMESPACE
    _creator = "new_lock"
    _noun = "lock"
    _kind = "Lock"
    _operation = "lock"
    _not_held = "lock {name!r} is not held"
    _states = ("held", "free")
    _lost_what = "lock {name!r} was lost"

    @property
    def is_locked(self) -> bool:
        """Whether this object holds the lock, as far as this process knows.

        Only a ``guard()``-ed transaction is sure: the lease may have just expired.
        """
        return self._holding

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
            UnsupportedOperationError: The store has no ``leases`` capability.
            StoreClosedError: The store was closed.
            BackendError: The backend failed a call (the waiter key is removed if possible).
        """
        deadline = check_timeout(timeout, "lock")
        if self.is_locked:
            raise LockError(
                f"lock: lock {self.name!r} is already held by this {self._kind} object",
                key=self.key,
                operation="lock",
            )
        self._queue_and_wait("lock", deadline)

    def try_lock(self) -> bool:
        """Acquire the lock if nobody holds or waits for it, without waiting.

        One transaction puts the waiter key only if the lock's prefix is empty, so a
        failed attempt leaves nothing to clean up. A lock with its own session also
        grants the session's lease first (and revokes it after a failed attempt).

        Returns:
            Whether the lock is now held by this object (``False`` if this object already
            holds it, like ``threading.Lock.acquire(blocking=False)``).

        Raises:
            LockLostError: The session was lost (an own session is replaced by a new one
                on the next call; a shared one must be replaced by the caller).
            LockError: This object was closed, or another ``Lock`` object of the same name
                uses the same session.
            UnsupportedOperationError: The store has no ``leases`` capability.
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
        self._acquired(session, result.revision, "acquisition")
        return True

    def unlock(self) -> None:
        """Release the lock by deleting the waiter key, and close an own session; idempotent.

        Raises:
            BackendError: The delete failed; the lock stays held (retry, or ``close``).
        """
        self._release()

    def __enter__(self) -> Lock:
        self.lock()
        return self

    def _end_context(self) -> None:
        self.unlock()
