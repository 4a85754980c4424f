"""``AsyncSTM``: software transactional memory on any store, etcd's Go ``concurrency.STM``.

``store.stm(apply)`` runs ``apply(stm)``: it reads keys with ``stm.get(key)`` and buffers
writes with ``stm.put(key, value)`` and ``stm.delete(key)`` (it reads its own writes). When
``apply`` returns, ONE transaction commits the buffered writes if what ``apply`` read is
still current; if another writer got in between, the attempt is thrown away and ``apply``
runs again on fresh data, until a commit succeeds (or the retries run out:
``STMConflictError``). ``apply`` may therefore run several times: it must have no effect
other than through ``stm``. A bank transfer, atomic over any number of keys::

    def transfer(stm):
        balance = int(stm.get("accounts/alice") or b"0")
        if balance < 10:
            raise ValueError("insufficient funds")  # propagates; nothing is written
        stm.put("accounts/alice", str(balance - 10).encode())
        stm.put("accounts/bob", str(int(stm.get("accounts/bob") or b"0") + 10).encode())

    store.stm(transfer)

The isolation levels are Go's (``concurrency.WithIsolation``), by what an attempt reads
and what its commit compares:

``"serializable_snapshot"`` (the default)
    The first read fixes the attempt's revision; every later read is served at that
    revision, so ``apply`` sees one consistent snapshot. The commit requires each key read
    to have its mod revision unchanged AND each key written to have no write after the
    snapshot revision (``ModRevision(key) < snapshot + 1``): write skew on keys written
    blindly is caught too.
``"serializable"``
    Reads at the first read's revision, as above; the commit compares the mod revisions
    of the keys read.
``"repeatable_reads"``
    Each key is read once per attempt (at the current revision, not at one snapshot);
    the commit compares the mod revisions of the keys read, so a committed attempt read
    keys that were all current at commit time.
``"read_committed"``
    Each key is read once per attempt; the commit applies the writes without any
    compare: updates computed from what was read can be lost to a concurrent writer.

After a failed commit of the two serializable levels, the same transaction's failure
branch has read the keys again, and the next attempt starts from these (Go's prefetch):
a retry costs no extra round trip for the keys read before. ``prefetch=keys`` reads keys
at the start of every attempt, in one round trip, instead of one ``get`` each.

Only mod-revision compares are used, so the STM works on every backend with the ``txn``
capability and through every wrapper (``NamespacedStore``, ``EncryptedStore`` ...). One
attempt's compares and writes must fit one transaction (``max_txn_ops``, 128 on etcd):
``TransactionTooLargeError`` otherwise.
"""

from __future__ import annotations

import collections.abc  # unasync: async-only
from collections.abc import Callable, Iterable
from typing import Literal, TypeAlias, TypeVar

from kvstore._async.lease import AsyncLease
from kvstore.errors import CompactedError, InvalidArgumentError, STMConflictError
from kvstore.keys import check_key, check_lease_id, check_value, is_int
from kvstore.recipes._async._store import AsyncRecipeStore, unsupported
from kvstore.txn import Compare, Delete, Get, ModRevision, Op, Put, Txn
from kvstore.types import Capability, KeyValue, RangeResult

__all__ = [
    "DEFAULT_STM_RETRIES",
    "ISOLATION_LEVELS",
    "AsyncApply",
    "AsyncSTM",
    "Isolation",
]

T = TypeVar("T")

Isolation: TypeAlias = Literal[
    "serializable_snapshot", "serializable", "repeatable_reads", "read_committed"
]
"""The isolation levels of ``store.stm``, as Go's ``concurrency`` names them."""

ISOLATION_LEVELS: tuple[Isolation, ...] = (
    "serializable_snapshot",
    "serializable",
    "repeatable_reads",
    "read_committed",
)
"""Every isolation level, strongest first."""

_PINNED = ("serializable_snapshot", "serializable")
"""The levels whose reads are served at the first read's revision."""

DEFAULT_STM_RETRIES = 64
"""How many times ``store.stm`` runs a conflicting attempt again before it gives up.

Go's ``NewSTM`` retries without limit; a limit turns a livelock (a hot key rewritten
faster than an attempt can commit) into an ``STMConflictError``. ``retries=None`` is
Go's behaviour.
"""

AsyncApply: TypeAlias = Callable[["AsyncSTM"], collections.abc.Awaitable[T]]  # unasync: async-only
# unasync: sync-only Apply: TypeAlias = Callable[["STM"], T]


class AsyncSTM:
    """One software transaction: what ``apply`` reads, what it writes, and its retries.

    ``store.stm(apply, ...)`` builds one and runs it; building one directly
    (``AsyncSTM(store, ...)``, then ``await stm.run(apply)``) is the same. One object runs
    one ``apply`` at a time, in one task (or thread).

    Args:
        store: Any store with the ``txn`` capability.
        isolation: One of ``ISOLATION_LEVELS`` (see the module docstring).
        retries: How many times a conflicting attempt is run again (``0``: one attempt
            only; ``None``: no limit, as Go).
        prefetch: Keys read at the start of each attempt, in one round trip.

    Attributes:
        store: The store.
        isolation: The isolation level.
        retries: The retry limit (``None``: none).
        prefetch: The keys read first in each attempt.
        attempts: How many times ``apply`` ran in the last (or current) ``run``.

    Raises:
        InvalidArgumentError: ``isolation`` is not an isolation level, ``retries`` is not
            ``None`` or an int >= 0, or ``prefetch`` is a ``str`` (give a list of keys).
        InvalidKeyError: A ``prefetch`` key is not a valid key.
        UnsupportedOperationError: The store has no ``txn`` capability.
    """

    def __init__(
        self,
        store: AsyncRecipeStore,
        isolation: Isolation = "serializable_snapshot",
        *,
        retries: int | None = DEFAULT_STM_RETRIES,
        prefetch: Iterable[str] = (),
    ) -> None:
        if not isinstance(isolation, str) or isolation not in ISOLATION_LEVELS:
            raise InvalidArgumentError(
                f"stm: isolation must be one of {', '.join(map(repr, ISOLATION_LEVELS))}, "
                f"not {isolation!r}",
                operation="stm",
            )
        if retries is not None and not is_int(retries, minimum=0):
            raise InvalidArgumentError(
                f"stm: retries must be None or an int >= 0, not {retries!r}", operation="stm"
            )
        if isinstance(prefetch, (str, bytes)):
            raise InvalidArgumentError(
                "stm: prefetch is a list of keys, not one str", operation="stm"
            )
        keys = tuple(dict.fromkeys(check_key(key, operation="stm") for key in prefetch))
        if Capability.TXN not in store.capabilities:
            raise unsupported(store, "stm")
        self.store = store
        self.isolation: Isolation = isolation
        self.retries = retries
        self.prefetch = keys
        self.attempts = 0
        self._reads: dict[str, KeyValue | None] = {}
        self._writes: dict[str, Put | Delete] = {}
        self._revision: int | None = None  # the snapshot of a pinned attempt, once read
        self._carried: dict[str, KeyValue | None] = {}  # read by the last failed commit
        self._carried_revision = 0
        self._restart = False  # a pinned read hit compaction: the attempt starts over

    def __repr__(self) -> str:
        return (
            f"AsyncSTM(isolation={self.isolation!r}, attempts={self.attempts}, "
            f"reads={len(self._reads)}, writes={len(self._writes)})"
        )

    # -- what apply calls

    async def get(self, key: str) -> bytes | None:
        """The value of ``key`` as this attempt sees it: its own write, else the store's.

        Returns:
            The value, or ``None`` if the key does not exist (or this attempt deleted it).

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the read (the transaction is abandoned).
        """
        check_key(key, operation="stm.get")
        write = self._writes.get(key)
        if write is not None:
            return write.value if isinstance(write, Put) else None
        kv = (await self._fetch((key,)))[key]
        return None if kv is None else kv.value

    async def rev(self, key: str) -> int:
        """The mod revision of ``key`` as this attempt read it (0: absent); Go's ``Rev``.

        Returns:
            The key's mod revision in this attempt's view, or 0 if it does not exist.

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the read.
        """
        check_key(key, operation="stm.rev")
        kv = (await self._fetch((key,)))[key]
        return 0 if kv is None else kv.mod_revision

    def put(self, key: str, value: bytes, *, lease: AsyncLease | int | None = None) -> None:
        """Write ``value`` at ``key`` when the transaction commits (later reads see it).

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            InvalidArgumentError: ``value`` is not bytes, or ``lease`` is not a lease id.
        """
        check_key(key, operation="stm.put")
        value = check_value(value, operation="stm.put", key=key)
        lease_id = lease.id if isinstance(lease, AsyncLease) else lease
        if lease_id is not None:
            check_lease_id(lease_id, operation="stm.put")
        self._writes[key] = Put(key, value, lease=lease_id)

    def delete(self, key: str) -> None:
        """Delete ``key`` when the transaction commits (later reads see ``None``).

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
        """
        check_key(key, operation="stm.delete")
        self._writes[key] = Delete(key)

    # -- running

    async def run(self, apply: AsyncApply[T]) -> T:
        """Run ``apply(self)`` and commit its writes, again and again until a commit succeeds.

        Returns:
            What the committed attempt of ``apply`` returned.

        Raises:
            STMConflictError: Every attempt conflicted, ``retries + 1`` attempts in all;
                nothing was written.
            InvalidArgumentError: ``apply`` is not callable.
            TransactionTooLargeError: One attempt's compares or writes do not fit one
                transaction (``max_txn_ops``).
            StoreClosedError: The store was closed.
            BackendError: The backend failed a read or the commit (``IndeterminateError``:
                the commit may have been applied).
            Exception: Whatever ``apply`` raised, as it raised it: that attempt's writes
                are dropped.
        """
        if not callable(apply):
            raise InvalidArgumentError(
                f"stm: apply must be callable, not {type(apply).__name__}", operation="stm"
            )
        self.attempts = 0
        self._carried = {}
        while True:
            self.attempts += 1
            self._reads, self._writes, self._revision = {}, {}, None
            self._restart = False
            try:
                if self.prefetch:
                    await self._fetch(self.prefetch)
                result = await apply(self)
                if await self._commit():
                    return result
            except CompactedError:
                if not self._restart:
                    raise
                self._carried = {}  # its revision is gone too: the next attempt reads anew
            if self.retries is not None and self.attempts > self.retries:
                raise self._conflict_error()

    # -- internals

    async def _fetch(self, keys: Iterable[str]) -> dict[str, KeyValue | None]:
        """The key-values of ``keys``, each read at most once per attempt (the read set)."""
        missing = [key for key in keys if key not in self._reads]
        pinned = self.isolation in _PINNED
        if pinned and self._carried:
            if self._revision is None:  # a retry: start from what the failed commit read
                self._revision = self._carried_revision
            for key in missing:
                if key in self._carried:
                    self._reads[key] = self._carried.pop(key)
            missing = [key for key in missing if key not in self._reads]
        if missing:
            revision = self._revision if pinned else None
            try:
                read_at, found = await self._read(missing, revision)
            except CompactedError:
                self._restart = revision is not None
                raise
            self._reads.update(found)
            if pinned and self._revision is None:
                self._revision = read_at
        return {key: self._reads[key] for key in keys}

    async def _read(
        self, keys: list[str], revision: int | None
    ) -> tuple[int, dict[str, KeyValue | None]]:
        """Read ``keys`` in one round trip (at ``revision``, if given)."""
        if len(keys) == 1:
            one = await self.store.kv_range(Get(keys[0], revision=revision))
            return one.revision, {keys[0]: one.kvs[0] if one.kvs else None}
        reads: list[Op] = [Get(key, revision=revision) for key in keys]
        result = await self.store.kv_txn(Txn([], reads, []))
        return result.revision, _key_values(keys, result.responses)

    def _compares(self) -> list[Compare]:
        if self.isolation == "read_committed":
            return []
        compares = [
            ModRevision(key) == (0 if kv is None else kv.mod_revision)
            for key, kv in self._reads.items()
        ]
        if self.isolation == "serializable_snapshot" and self._revision is not None:
            compares += [ModRevision(key) < self._revision + 1 for key in self._writes]
        return compares

    async def _commit(self) -> bool:
        """One transaction: the writes if nothing read changed, else (pinned) the reads again."""
        keys = list(self._reads)
        pinned = self.isolation in _PINNED
        again: list[Op] = [Get(key) for key in keys] if pinned else []
        result = await self.store.kv_txn(Txn(self._compares(), list(self._writes.values()), again))
        if result.succeeded:
            return True
        if pinned:
            self._carried = _key_values(keys, result.responses)
            self._carried_revision = result.revision
        return False

    def _changed(self) -> list[str]:
        """The keys read by the last attempt that its failed commit found changed."""
        return [
            key
            for key, kv in self._reads.items()
            if key in self._carried and _mod(self._carried[key]) != _mod(kv)
        ]

    def _conflict_error(self) -> STMConflictError:
        changed = self._changed()
        detail = f"; changed meanwhile: {', '.join(map(repr, changed[:5]))}" if changed else ""
        return STMConflictError(
            f"stm: gave up after {self.attempts} attempts ({self.isolation}): another writer "
            f"changed the keys it used before each commit{detail}",
            attempts=self.attempts,
            key=changed[0] if changed else None,
            operation="stm",
        )


def _mod(kv: KeyValue | None) -> int:
    return 0 if kv is None else kv.mod_revision


def _key_values(keys: list[str], responses: Iterable[object]) -> dict[str, KeyValue | None]:
    found: dict[str, KeyValue | None] = {}
    for key, response in zip(keys, responses, strict=True):
        assert isinstance(response, RangeResult)
        found[key] = response.kvs[0] if response.kvs else None
    return found
