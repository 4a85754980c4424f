# Generated from kvstore/recipes/_async/queue.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``Queue`` and ``PriorityQueue``: etcd's Go ``recipes.Queue`` / ``PriorityQueue``.

An item is one key put under the queue's prefix with a unique name (``put``); ``get``
reads the oldest item (by create revision) and takes it with a transaction that deletes it
only if its mod revision is unchanged, so each item goes to exactly one consumer; a
consumer that loses the race reads again. An empty queue is waited on with a watch of the
prefix for puts. Items have no lease: they outlive the producer.

A priority queue puts the priority in the key, before the unique name, encoded so that
the keys' order is the priorities' order: ``f"{priority + 2**63:020d}"``, so priorities
are any int that fits in 64 signed bits (Go's ``%05d`` allows 0 to 99999, kazoo's ``%03d``
0 to 999). ``get`` takes the oldest item of the lowest priority present: lower numbers
first, FIFO within one priority.

Key layout::

    __kvstore/queues/<quoted name>/<uuid hex>
    __kvstore/priority-queues/<quoted name>/<priority, 20 digits>/<uuid hex>

Only key and revision compares are used, so queues work through ``EncryptedStore`` and
``NamespacedStore``.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from kvstore.errors import InvalidArgumentError
from kvstore.keys import check_value, is_int, prefix_range_end
from kvstore.recipes._sync._waiters import check_timeout, recipe_prefix, wait_for_event
from kvstore.txn import CreateRevision, Delete, Get, ModRevision, Put, Txn, WatchRequest
from kvstore.types import EventType, KeyValue, SortOrder, SortTarget

if TYPE_CHECKING:
    from kvstore.recipes._sync._store import RecipeStore

__all__ = [
    "MAX_PRIORITY",
    "MIN_PRIORITY",
    "PRIORITY_QUEUE_NAMESPACE",
    "QUEUE_NAMESPACE",
    "PriorityQueue",
    "Queue",
]

QUEUE_NAMESPACE = "__kvstore/queues/"
"""Top-level prefix of every queue key."""

PRIORITY_QUEUE_NAMESPACE = "__kvstore/priority-queues/"
"""Top-level prefix of every priority queue key."""

MIN_PRIORITY = -(2**63)
"""The lowest (first served) priority a priority queue accepts."""

MAX_PRIORITY = 2**63 - 1
"""The highest (last served) priority a priority queue accepts."""


class _Items:
    """What both queues share: the put of a uniquely named key, the take, the wait."""

    _namespace: str
    _creator: str

    def __init__(self, store: RecipeStore, name: str) -> None:
        self.prefix = recipe_prefix(self._namespace, name, self._creator)
        self.range_end = prefix_range_end(self.prefix)
        self.store = store
        self.name = name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def get(self, timeout: float | None = None) -> bytes:
        """Take the next item, waiting for one if the queue is empty.

        Returns:
            The item's value; no other consumer gets it.

        Raises:
            LockTimeoutError: No item came within ``timeout`` (also a ``TimeoutError``).
            InvalidArgumentError: ``timeout`` is negative or not a number.
            StoreClosedError: The store was closed.
            BackendError: The backend failed a call (an item whose take failed this way
                may have been taken: ``IndeterminateError``).
        """
        deadline = check_timeout(timeout, "get")
        while True:
            item, revision = self._next()
            if item is None:
                request = WatchRequest(self.prefix, self.range_end, start_revision=revision + 1)
                wait_for_event(
                    self.store, request, (EventType.PUT,), deadline, "get", what=self.prefix
                )
                continue
            taken = self.store.kv_txn(
                Txn([ModRevision(item.key) == item.mod_revision], [Delete(item.key)], [])
            )
            if taken.succeeded:
                return item.value

    def len(self) -> int:
        """How many items the queue holds now (a coroutine, not ``__len__``: it is a call
        to the store).

        Raises:
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        read = self.store.kv_range(Get(self.prefix, self.range_end, count_only=True))
        return read.count

    def _put(self, band: str, value: bytes) -> None:
        while True:
            key = f"{band}{uuid.uuid4().hex}"
            result = self.store.kv_txn(Txn([CreateRevision(key) == 0], [Put(key, value)], []))
            if result.succeeded:
                return

    def _oldest(self, prefix: str) -> tuple[KeyValue | None, int]:
        """The oldest item under ``prefix`` (``None``: none) and the revision read at."""
        read = self.store.kv_range(
            Get(
                prefix,
                prefix_range_end(prefix),
                limit=1,
                sort_target=SortTarget.CREATE,
                sort_order=SortOrder.ASCEND,
            )
        )
        return (read.kvs[0] if read.kvs else None), read.revision

    def _next(self) -> tuple[KeyValue | None, int]:
        """The item ``get`` takes next (``None``: empty) and the revision read at."""
        return self._oldest(self.prefix)


class Queue(_Items):
    """A FIFO work queue named ``name``: ``put(value)``, ``get(timeout)``, ``len()``.

    Get one with ``store.new_queue(name)``.

    Raises:
        InvalidKeyError: ``name`` is not a valid key.
    """

    _namespace = QUEUE_NAMESPACE
    _creator = "new_queue"

    def put(self, value: bytes) -> None:
        """Append ``value`` to the queue.

        Raises:
            InvalidArgumentError: ``value`` is not bytes.
            ValueTooLargeError: The item does not fit in one request.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        self._put(self.prefix, check_value(value, operation="put", key=self.prefix))


class PriorityQueue(_Items):
    """A priority queue named ``name``: ``put(value, priority)``, lower numbers first.

    Get one with ``store.new_priority_queue(name)``; ``get`` and ``len`` as ``Queue``'s.

    Raises:
        InvalidKeyError: ``name`` is not a valid key.
    """

    _namespace = PRIORITY_QUEUE_NAMESPACE
    _creator = "new_priority_queue"

    def put(self, value: bytes, priority: int) -> None:
        """Add ``value`` with ``priority`` (lower first; FIFO among equal priorities).

        Raises:
            InvalidArgumentError: ``value`` is not bytes, or ``priority`` is not an int
                from ``MIN_PRIORITY`` to ``MAX_PRIORITY``.
            ValueTooLargeError: The item does not fit in one request.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        value = check_value(value, operation="put", key=self.prefix)
        if not is_int(priority, minimum=MIN_PRIORITY, maximum=MAX_PRIORITY):
            raise InvalidArgumentError(
                f"put: priority must be an int from {MIN_PRIORITY} to {MAX_PRIORITY}, "
                f"not {priority!r}",
                key=self.prefix,
                operation="put",
            )
        self._put(f"{self.prefix}{priority - MIN_PRIORITY:020d}/", value)

    def _next(self) -> tuple[KeyValue | None, int]:
        while True:
            first = self.store.kv_range(Get(self.prefix, self.range_end, limit=1, keys_only=True))
            if not first.kvs:
                return None, first.revision
            band = first.kvs[0].key.rpartition("/")[0] + "/"
            item, revision = self._oldest(band)
            if item is not None:
                return item, revision
