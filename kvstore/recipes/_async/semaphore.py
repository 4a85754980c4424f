"""``AsyncSemaphore``: at most ``limit`` holders at a time (kazoo's ``Semaphore``).

Each ``AsyncSemaphore`` object is one would-be holder. It queues a key put with its own
session's lease (as a lock waiter does, see ``kvstore.recipes._sync.lock``) and holds once its key
is among the first ``limit`` keys by create revision: FIFO, and a key among the first
``limit`` stays there until it is deleted (keys only leave the queue). A waiter reads the
first ``limit`` keys and, when it is not among them, watches the prefix until some key is
deleted (every release wakes every waiter, as kazoo's does). Every holder of one name must
use the same ``limit``.

Key layout (each key's value is the holder's ``limit`` in decimal ASCII, so a reader of
the keys, such as ``kvstore ui``, tells holders from waiters)::

    __kvstore/semaphores/<quoted name>/<lease id hex>

Fencing: ``fencing_token`` (the key's create revision) and ``guard()`` as ``Lock``'s. At
any revision the keys that still exist among the holders are among the first ``limit``
keys, so at most ``limit`` holders' ``guard()``-ed writes can succeed at once, even when a
paused holder lost its key without noticing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kvstore.errors import InvalidArgumentError
from kvstore.keys import is_int
from kvstore.recipes._async._waiters import AsyncHolder, LockLostCallback
from kvstore.types import RangeResult

if TYPE_CHECKING:
    from kvstore.recipes._async._store import AsyncRecipeStore
    from kvstore.recipes._async.session import AsyncSession

__all__ = ["SEMAPHORE_NAMESPACE", "AsyncSemaphore", "semaphore_limit"]

SEMAPHORE_NAMESPACE = "__kvstore/semaphores/"
"""Top-level prefix of every semaphore key."""


class AsyncSemaphore(AsyncHolder):
    """One holder of the semaphore ``name``, which admits ``limit`` holders at a time.

    Get one with ``store.new_semaphore(name, limit, ttl=60)``; ``acquire(timeout) -> bool``,
    ``release()``, ``async with``, ``fencing_token`` and ``guard()`` are ``AsyncHolder``'s.

    Args:
        store: Any store with the ``leases``, ``txn`` and ``watch`` capabilities.
        name: The semaphore's name (any non-empty ``str``).
        limit: How many holders at most (an int >= 1; the same for every holder).
        ttl: TTL of the holder's session.
        on_lost: Called with a ``LockLostError`` when the hold is lost (lease expired).

    Raises:
        InvalidKeyError: ``name`` is not a valid key.
        InvalidArgumentError: ``limit`` is not an int >= 1, or ``ttl`` not a positive int.
        UnsupportedOperationError: The store has no ``leases`` capability.
    """

    _namespace = SEMAPHORE_NAMESPACE
    _creator = "new_semaphore"
    _noun = "semaphore"
    _kind = "AsyncSemaphore"
    _operation = "acquire"
    _not_held = "semaphore {name!r} is not held"
    _lost_what = "semaphore {name!r} was lost"
    _states = ("held", "free")

    def __init__(
        self,
        store: AsyncRecipeStore,
        name: str,
        limit: int,
        *,
        ttl: int = 60,
        on_lost: LockLostCallback | None = None,
    ) -> None:
        super().__init__(store, name, ttl=ttl, on_lost=on_lost)
        if not is_int(limit, minimum=1):
            raise InvalidArgumentError(
                f"new_semaphore: limit must be an int >= 1, not {limit!r}",
                operation="new_semaphore",
            )
        self.limit = limit

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, limit={self.limit})"

    def _queued_value(self) -> bytes:
        return str(self.limit).encode("ascii")

    async def _wait(
        self,
        key: str,
        revision: int,
        owner: RangeResult,
        session: AsyncSession,
        deadline: float | None,
    ) -> None:
        await self._queue.wait_rank(key, revision, self.limit, session, deadline)


def semaphore_limit(value: bytes) -> int | None:
    """The ``limit`` a semaphore's key was queued with (its value; see the module docstring).

    Returns:
        The limit, or ``None`` when ``value`` holds none (a key of a kvstore that did not
        write it yet).
    """
    try:
        limit = int(value.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    return limit if limit >= 1 else None
