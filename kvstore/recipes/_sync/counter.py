# Generated from kvstore/recipes/_async/counter.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``Counter``: a shared integer (kazoo's ``Counter``), one key changed by compare-and-swap.

``add(n)`` reads the key, and writes the sum in a transaction that holds only if the key's
mod revision is unchanged, retrying otherwise: concurrent adds never lose an update. The
value is the decimal ASCII of the integer (no bound: Python ints), ``0`` before the first
add. The compare is on the mod revision, not the value, so counters work through
``EncryptedStore``.

Key layout::

    __kvstore/counters/<quoted name>/value
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kvstore.errors import InvalidArgumentError
from kvstore.keys import is_int
from kvstore.recipes._sync._waiters import recipe_prefix
from kvstore.txn import Get, ModRevision, Put, Txn
from kvstore.types import KeyValue

if TYPE_CHECKING:
    from kvstore.recipes._sync._store import RecipeStore

__all__ = ["COUNTER_NAMESPACE", "COUNTER_VALUE", "Counter"]

COUNTER_NAMESPACE = "__kvstore/counters/"
"""Top-level prefix of every counter key."""

COUNTER_VALUE = "value"
"""A counter's key after its prefix (it holds the value in decimal ASCII)."""


class Counter:
    """A counter named ``name``: ``add(n)`` returns the new value.

    Get one with ``store.new_counter(name)``. The value is a property of the sync
    counter (``counter.value``, as kazoo's) and a coroutine of the asyncio one
    (``counter.value()``): reading it is a call to the store.

    Raises:
        InvalidKeyError: ``name`` is not a valid key.
    """

    def __init__(self, store: RecipeStore, name: str) -> None:
        self.prefix = recipe_prefix(COUNTER_NAMESPACE, name, "new_counter")
        self.key = self.prefix + COUNTER_VALUE
        self.store = store
        self.name = name

    def __repr__(self) -> str:
        return f"Counter(name={self.name!r})"

    def add(self, n: int = 1) -> int:
        """Add ``n`` (negative subtracts) atomically; the value after this add.

        Returns:
            The counter's value after this add.

        Raises:
            InvalidArgumentError: ``n`` is not an int, or the key holds no integer.
            StoreClosedError: The store was closed.
            BackendError: The backend failed a call (``IndeterminateError``: the add may
                have been applied).
        """
        if not is_int(n):
            raise InvalidArgumentError(
                f"add: n must be an int, not {n!r}", key=self.key, operation="add"
            )
        while True:
            kv = self._read()
            total = self._parse(kv) + n
            unchanged = ModRevision(self.key) == (0 if kv is None else kv.mod_revision)
            result = self.store.kv_txn(Txn([unchanged], [Put(self.key, str(total).encode())], []))
            if result.succeeded:
                return total

    @property
    def value(self) -> int:
        """The counter's value now (0 before the first add).

        Returns:
            The counter's current value (0 if its key does not exist).

        Raises:
            InvalidArgumentError: The key holds no integer.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        return self._parse(self._read())

    def _read(self) -> KeyValue | None:
        read = self.store.kv_range(Get(self.key))
        return read.kvs[0] if read.kvs else None

    def _parse(self, kv: KeyValue | None) -> int:
        if kv is None:
            return 0
        try:
            return int(kv.value.decode("ascii"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"counter {self.name!r}: its key holds no integer", key=self.key, operation="add"
            ) from exc
