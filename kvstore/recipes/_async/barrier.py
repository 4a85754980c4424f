"""``AsyncBarrier`` and ``AsyncDoubleBarrier``: etcd's Go ``recipes.Barrier`` and ``DoubleBarrier``.

A barrier is one key: ``hold()`` puts it, ``release()`` deletes it, ``wait()`` returns
once it is gone (at once if it is not there). The key has no lease, as Go's: a barrier
outlives the process that held it.

A double barrier lets ``count`` members start together and finish together. ``enter()``
puts the member's key (with its own session's lease) and waits until ``count`` members
entered; ``leave()`` deletes it and waits until every member of the round left. The
member whose key completes the count puts the ``ready`` key (its value: the create
revision of the last member counted) in a transaction that holds only if all ``count``
members' keys still exist; a member that gives up (timeout, cancellation) withdraws in a
transaction that holds only if no ``ready`` came after its key. The two exclude each other,
so a round releases all its ``count`` members or none: a member that times out just as the
round completes is released instead. More members than ``count`` at once is an error for
the latecomers (``LockError``). One round at a time per name: the next round may enter once
the previous one left.

Key layout::

    __kvstore/barriers/<quoted name>/hold
    __kvstore/double-barriers/<quoted name>/waiters/<lease id hex>
    __kvstore/double-barriers/<quoted name>/ready
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kvstore.errors import InvalidArgumentError, LockError, LockLostError, LockNotHeldError
from kvstore.keys import is_int, prefix_range_end
from kvstore.recipes._async._waiters import (
    AsyncQueueClaim,
    AsyncWaiterQueue,
    LockLostCallback,
    check_timeout,
    recipe_prefix,
    wait_for_event,
)
from kvstore.txn import CreateRevision, Delete, Get, ModRevision, Put, Txn, WatchRequest
from kvstore.types import EventType, KeyValue, RangeResult

if TYPE_CHECKING:
    from kvstore.recipes._async._store import AsyncRecipeStore
    from kvstore.recipes._async.session import AsyncSession

__all__ = [
    "BARRIER_HOLD",
    "BARRIER_NAMESPACE",
    "DOUBLE_BARRIER_MEMBERS",
    "DOUBLE_BARRIER_NAMESPACE",
    "DOUBLE_BARRIER_READY",
    "AsyncBarrier",
    "AsyncDoubleBarrier",
]

BARRIER_NAMESPACE = "__kvstore/barriers/"
"""Top-level prefix of every barrier key."""

DOUBLE_BARRIER_NAMESPACE = "__kvstore/double-barriers/"
"""Top-level prefix of every double barrier key."""

BARRIER_HOLD = "hold"
"""A barrier's key after its prefix: the barrier is up while it exists."""

DOUBLE_BARRIER_MEMBERS = "waiters/"
"""The sub-prefix (after a double barrier's prefix) of its members' keys."""

DOUBLE_BARRIER_READY = "ready"
"""A double barrier's key after its prefix, put once the round's members all entered."""


class AsyncBarrier:
    """A barrier named ``name``: ``wait()`` blocks while someone ``hold()`` s it.

    Get one with ``store.new_barrier(name)``.

    Raises:
        InvalidKeyError: ``name`` is not a valid key.
    """

    def __init__(self, store: AsyncRecipeStore, name: str) -> None:
        self.prefix = recipe_prefix(BARRIER_NAMESPACE, name, "new_barrier")
        self.key = self.prefix + BARRIER_HOLD
        self.store = store
        self.name = name

    def __repr__(self) -> str:
        return f"AsyncBarrier(name={self.name!r})"

    async def hold(self) -> bool:
        """Raise the barrier (put its key); whether this call raised it (``False``: it was up).

        Returns:
            ``True`` if this call raised the barrier, ``False`` if it was already up.

        Raises:
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        result = await self.store.kv_txn(
            Txn([CreateRevision(self.key) == 0], [Put(self.key, b"")], [])
        )
        return result.succeeded

    async def release(self) -> bool:
        """Lower the barrier (delete its key), letting every waiter go; whether it was up.

        Returns:
            ``True`` if the barrier was up (and is now down), ``False`` if it was already down.

        Raises:
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        return (await self.store.kv_delete_range(Delete(self.key))).deleted > 0

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until the barrier is down; whether it is (``False``: ``timeout`` passed).

        Returns:
            ``True`` once the barrier is down, ``False`` if ``timeout`` passed first.

        Raises:
            InvalidArgumentError: ``timeout`` is negative or not a number.
            StoreClosedError: The store was closed.
            BackendError: The backend failed a call.
        """
        deadline = check_timeout(timeout, "wait")
        while True:
            read = await self.store.kv_range(Get(self.key, keys_only=True))
            if not read.kvs:
                return True
            request = WatchRequest(self.key, start_revision=read.revision + 1)
            try:
                await wait_for_event(self.store, request, (EventType.DELETE,), deadline, "wait")
            except LockError:  # LockTimeoutError: the only one without a session
                return False


class AsyncDoubleBarrier(AsyncQueueClaim):
    """A double barrier named ``name`` for ``count`` members (see the module docstring).

    Get one per member with ``store.new_double_barrier(name, count, ttl=60)``; the member's
    own session lives from ``enter`` to ``leave``, so a member that dies is dropped after
    its TTL.

    Args:
        store: Any store with the ``leases``, ``txn`` and ``watch`` capabilities.
        name: The barrier's name (any non-empty ``str``).
        count: How many members enter together (an int >= 1; the same for all).
        ttl: TTL of the member's session.
        on_lost: Called with a ``LockLostError`` if the session is lost after ``enter``.

    Raises:
        InvalidKeyError: ``name`` is not a valid key.
        InvalidArgumentError: ``count`` is not an int >= 1, or ``ttl`` not a positive int.
        UnsupportedOperationError: The store has no ``leases`` capability.
    """

    _namespace = DOUBLE_BARRIER_NAMESPACE
    _creator = "new_double_barrier"
    _noun = "double barrier"
    _kind = "AsyncDoubleBarrier"
    _operation = "enter"
    _not_held = "not inside double barrier {name!r}"
    _lost_what = "double barrier {name!r}: the member's session was lost"
    _states = ("entered", "outside")

    def __init__(
        self,
        store: AsyncRecipeStore,
        name: str,
        count: int,
        *,
        ttl: int = 60,
        on_lost: LockLostCallback | None = None,
    ) -> None:
        super().__init__(store, name, ttl=ttl, on_lost=on_lost)
        if not is_int(count, minimum=1):
            raise InvalidArgumentError(
                f"new_double_barrier: count must be an int >= 1, not {count!r}",
                operation="new_double_barrier",
            )
        self.count = count
        self.members_prefix = self.prefix + DOUBLE_BARRIER_MEMBERS
        self.ready_key = self.prefix + DOUBLE_BARRIER_READY
        self._queue = AsyncWaiterQueue(store, self.members_prefix, "enter")
        self._round = 0  # the create revision of the round's last member, once entered

    def _key_of(self, lease_id: int) -> str:
        return f"{self.members_prefix}{lease_id:x}"

    @property
    def entered(self) -> bool:
        """Whether this member is inside (entered, not yet left), as far as it knows."""
        return self._holding

    async def enter(self, timeout: float | None = None) -> None:
        """Enter, and wait until ``count`` members have entered.

        Raises:
            LockTimeoutError: Fewer than ``count`` entered within ``timeout``; this member
                withdrew (no key left), and the round goes on without it.
            LockError: ``count`` other members are already inside, or this member already
                entered, or was closed.
            LockLostError: The session was lost while waiting.
            InvalidArgumentError: ``timeout`` is negative or not a number.
            StoreClosedError: The store was closed.
            BackendError: The backend failed a call (the key is removed if possible).
        """
        deadline = check_timeout(timeout, "enter")
        if self._holding:
            raise LockError(
                f"enter: already inside double barrier {self.name!r}",
                key=self.key,
                operation="enter",
            )
        session, key = await self._begin("enter")
        revision = 0
        try:
            revision, _, _ = await self._queue.enqueue(key, b"", session)
            ready = await self._await_ready(key, revision, session, deadline)
        except BaseException as exc:
            counted = await self._withdraw(key, revision) if revision else None
            if counted is None or not isinstance(exc, TimeoutError):
                await self._abandon(key)
                raise
            ready = counted
        self._round = int(ready.value)
        self._acquired(session, revision, "enter")

    async def leave(self, timeout: float | None = None) -> None:
        """Leave (delete this member's key and end its session) and wait until every member
        of the round left; the last one out removes the ``ready`` key.

        Raises:
            LockTimeoutError: Members were still inside after ``timeout`` (this one left).
            LockNotHeldError: This member did not enter (or left already).
            InvalidArgumentError: ``timeout`` is negative or not a number.
            StoreClosedError: The store was closed.
            BackendError: The backend failed a call.
        """
        deadline = check_timeout(timeout, "leave")
        if self._revision == 0:
            raise LockNotHeldError(
                f"leave: not inside double barrier {self.name!r}", key=self.key, operation="leave"
            )
        last = self._round
        await self._release()
        members = Get(
            self.members_prefix,
            prefix_range_end(self.members_prefix),
            limit=1,
            keys_only=True,
            max_create_revision=last,
        )
        while True:
            read = await self.store.kv_range(members)
            if not read.kvs:
                break
            request = WatchRequest(
                self.members_prefix,
                prefix_range_end(self.members_prefix),
                start_revision=read.revision + 1,
            )
            await wait_for_event(self.store, request, (EventType.DELETE,), deadline, "leave")
        # The round's ready key goes; a later round's stays. Its value names the round (the
        # create revision of its last member): a member slow to leave may find the next
        # round's ready already, which was put after this round's last member too, and
        # deleting that one would let its members withdraw, or a round begin, while the
        # next round is released.
        ready = await self.store.kv_range(Get(self.ready_key))
        if ready.kvs and ready.kvs[0].value == str(last).encode():
            await self.store.kv_txn(
                Txn(
                    [ModRevision(self.ready_key) == ready.kvs[0].mod_revision],
                    [Delete(self.ready_key)],
                    [],
                )
            )

    async def _end_context(self) -> None:
        await self.aclose()

    # -- internals

    async def _await_ready(
        self, key: str, revision: int, session: AsyncSession, deadline: float | None
    ) -> KeyValue:
        """Wait until a ``ready`` key that counts this member exists; return it.

        Raises:
            LockError: This member is past the first ``count`` (too many members).
        """
        while True:
            ready, members, read_at = await self._read(key, revision, session)
            if ready is not None and ready.mod_revision > revision:
                if int(ready.value) >= revision:
                    return ready
                raise self._too_many(key)
            if key not in {kv.key for kv in members}:
                raise self._too_many(key)
            if len(members) == self.count:
                ready = await self._put_ready(members, ready)
                if ready is not None:
                    return ready
                continue
            request = WatchRequest(self.ready_key, start_revision=read_at + 1)
            await wait_for_event(self.store, request, (EventType.PUT,), deadline, "enter", session)

    async def _read(
        self, key: str, revision: int, session: AsyncSession
    ) -> tuple[KeyValue | None, tuple[KeyValue, ...], int]:
        """The ``ready`` key, the first ``count`` members and the revision, in one read."""
        result = await self.store.kv_txn(
            Txn(
                [],
                [Get(self.ready_key), self._queue.first(self.count), Get(key, keys_only=True)],
                [],
            )
        )
        ready, members, own = result.responses
        assert isinstance(ready, RangeResult) and isinstance(members, RangeResult)
        assert isinstance(own, RangeResult)
        if not own.kvs or own.kvs[0].create_revision != revision:
            await session.check()
            raise LockLostError(
                f"enter: key {key!r} was deleted while waiting (session lease expired)",
                key=key,
                operation="enter",
            )
        return (ready.kvs[0] if ready.kvs else None), members.kvs, result.revision

    async def _put_ready(
        self, members: tuple[KeyValue, ...], ready: KeyValue | None
    ) -> KeyValue | None:
        """Put ``ready`` if all ``members`` are still in and no round started meanwhile."""
        last = max(kv.create_revision for kv in members)
        first = min(kv.create_revision for kv in members)
        compares = [CreateRevision(kv.key) == kv.create_revision for kv in members]
        compares.append(ModRevision(self.ready_key) < first)
        value = str(last).encode()
        result = await self.store.kv_txn(
            Txn(compares, [Put(self.ready_key, value), Get(self.ready_key)], [])
        )
        if not result.succeeded:
            return None
        read = result.responses[1]
        assert isinstance(read, RangeResult)
        return read.kvs[0]

    async def _withdraw(self, key: str, revision: int) -> KeyValue | None:
        """Delete this member's key unless a ``ready`` counting it came; that ``ready``.

        ``None``: withdrawn (or not counted: the caller abandons the key either way).
        """
        try:
            result = await self.store.kv_txn(
                Txn(
                    [ModRevision(self.ready_key) < revision + 1],
                    [Delete(key)],
                    [Get(self.ready_key)],
                )
            )
        except Exception:  # noqa: BLE001 - the caller's own error is the one to report
            return None
        if result.succeeded:
            return None
        read = result.responses[0]
        assert isinstance(read, RangeResult)
        if read.kvs and int(read.kvs[0].value) >= revision:
            return read.kvs[0]
        return None

    def _too_many(self, key: str) -> LockError:
        return LockError(
            f"enter: double barrier {self.name!r} already has its {self.count} members",
            key=key,
            operation="enter",
        )
