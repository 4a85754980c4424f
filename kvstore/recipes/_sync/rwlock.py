# Generated from kvstore/recipes/_async/rwlock.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``RWLock``: a fair readers-writer lock, etcd's Go ``recipes.RWMutex`` on the primitives.

Each holder (``rw.read_lock()``, ``rw.write_lock()``) queues a key put with its own
session's lease, exactly as a lock waiter does (see ``kvstore.recipes._sync.lock``), and waits by
create revision:

* a reader waits only for the writers that queued before it (the newest write key created
  before its own, then again), so readers that queue together hold together;
* a writer waits for every key that queued before it, readers and writers;
* a reader that queues after a waiting writer waits for that writer: writers are never
  starved by a stream of readers.

Each holder watches one key at a time (its blocking predecessor), never the whole prefix.

Key layout::

    __kvstore/rwlocks/<quoted name>/read/<lease id hex>
    __kvstore/rwlocks/<quoted name>/write/<lease id hex>

Fencing: each holder has a ``fencing_token`` (its key's create revision; a writer's is
above every earlier holder's) and a ``guard()`` compare, as ``Lock`` has. While a writer's
key exists no other holder's key does (earlier ones are gone, later ones wait for it),
so writes guarded by ``guard()`` never overlap a writer's, even when a paused holder lost
its key without noticing::

    with rw.write_lock() as writer:
        store.transaction().if_(writer.guard()).then(Put("cfg", b"v")).commit()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kvstore.keys import check_ttl
from kvstore.recipes._sync._store import unsupported
from kvstore.recipes._sync._waiters import (
    Holder,
    LockLostCallback,
    check_timeout,
    recipe_prefix,
)
from kvstore.types import Capability, RangeResult

if TYPE_CHECKING:
    from kvstore.recipes._sync._store import RecipeStore
    from kvstore.recipes._sync.session import Session

__all__ = ["RWLOCK_NAMESPACE", "RWLock", "ReadLock", "WriteLock", "holder_mode"]

RWLOCK_NAMESPACE = "__kvstore/rwlocks/"
"""Top-level prefix of every readers-writer lock key."""


class RWLock:
    """A readers-writer lock named ``name``: many readers or one writer, FIFO.

    Get one with ``store.new_rwlock(name, ttl=60)``; each ``read_lock()`` /
    ``write_lock()`` is a new holder with its own session::

        with rw.read_lock():
            ...

    Args:
        store: Any store with the ``leases``, ``txn`` and ``watch`` capabilities.
        name: The lock's name (any non-empty ``str``).
        ttl: TTL of each holder's session.
        on_lost: Given to each holder: called with a ``LockLostError`` when its hold is lost.

    Raises:
        InvalidKeyError: ``name`` is not a valid key.
        InvalidArgumentError: ``ttl`` is not a positive int.
        UnsupportedOperationError: The store has no ``leases`` capability.
    """

    def __init__(
        self,
        store: RecipeStore,
        name: str,
        *,
        ttl: int = 60,
        on_lost: LockLostCallback | None = None,
    ) -> None:
        self.prefix = recipe_prefix(RWLOCK_NAMESPACE, name, "new_rwlock")
        check_ttl(ttl, operation="new_rwlock")
        if Capability.LEASES not in store.capabilities:
            raise unsupported(store, "new_rwlock")
        self.store = store
        self.name = name
        self.ttl = ttl
        self.on_lost = on_lost

    def __repr__(self) -> str:
        return f"RWLock(name={self.name!r})"

    def read_lock(self, timeout: float | None = None) -> ReadLock:
        """A new read holder (acquired by ``with``, or ``acquire()``).

        Args:
            timeout: Most seconds the ``with`` block waits (``None``: no limit);
                past it, entering raises ``LockTimeoutError`` and leaves no key.

        Returns:
            A ``ReadLock``, not acquired yet.

        Raises:
            InvalidArgumentError: ``timeout`` is negative or not a number.
        """
        return ReadLock(self.store, self.name, ttl=self.ttl, on_lost=self.on_lost, timeout=timeout)

    def write_lock(self, timeout: float | None = None) -> WriteLock:
        """A new write holder (acquired by ``with``, or ``acquire()``).

        Args:
            timeout: Most seconds the ``with`` block waits (``None``: no limit);
                past it, entering raises ``LockTimeoutError`` and leaves no key.

        Returns:
            A ``WriteLock``, not acquired yet.

        Raises:
            InvalidArgumentError: ``timeout`` is negative or not a number.
        """
        return WriteLock(self.store, self.name, ttl=self.ttl, on_lost=self.on_lost, timeout=timeout)


class _RWHolder(Holder):
    """One read or write acquisition of a ``RWLock``."""

    _namespace = RWLOCK_NAMESPACE
    _creator = "new_rwlock"
    _states = ("held", "free")
    _mode: str
    """The key's sub-prefix: ``"read"`` or ``"write"``."""

    def __init__(
        self,
        store: RecipeStore,
        name: str,
        *,
        ttl: int = 60,
        on_lost: LockLostCallback | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(store, name, ttl=ttl, on_lost=on_lost)
        check_timeout(timeout, self._operation)
        self._timeout = timeout

    def _key_of(self, lease_id: int) -> str:
        return f"{self.prefix}{self._mode}/{lease_id:x}"

    def _blockers(self) -> str | None:
        """The sub-prefix whose earlier keys this holder waits for (``None``: all)."""
        return None

    def _wait(
        self,
        key: str,
        revision: int,
        owner: RangeResult,
        session: Session,
        deadline: float | None,
    ) -> None:
        self._queue.wait_turn(key, revision, owner, session, deadline, self._blockers())


class ReadLock(_RWHolder):
    """A read hold of a ``RWLock`` (see ``Holder`` for its methods).

    It holds once every writer that queued before it is gone; readers share.
    """

    _noun = "read lock"
    _kind = "ReadLock"
    _operation = "read_lock"
    _mode = "read"
    _not_held = "read lock of {name!r} is not held"
    _lost_what = "read lock of {name!r} was lost"

    def _blockers(self) -> str | None:
        return f"{self.prefix}write/"


class WriteLock(_RWHolder):
    """A write hold of a ``RWLock`` (see ``Holder`` for its methods).

    It holds once every holder that queued before it, reader or writer, is gone.
    """

    _noun = "write lock"
    _kind = "WriteLock"
    _operation = "write_lock"
    _mode = "write"
    _not_held = "write lock of {name!r} is not held"
    _lost_what = "write lock of {name!r} was lost"


def holder_mode(rest: str) -> str | None:
    """Whether a key of a readers-writer lock is a reader's or a writer's.

    Args:
        rest: The key after the lock's prefix (the ``rest`` of ``recipe_name``).

    Returns:
        ``"read"`` or ``"write"`` (the holders' ``_mode``), or ``None`` for a key that is
        neither.
    """
    mode, slash, _ = rest.partition("/")
    if slash and mode in (ReadLock._mode, WriteLock._mode):
        return mode
    return None
