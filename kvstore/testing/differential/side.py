"""One store's side of a run: normalized requests translated for the store, and its
answers normalized (revisions relative to the run's start, leases by grant position, keys
without the run's prefix).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable

import attrs

from kvstore.base import BaseStore
from kvstore.keys import ALL_KEYS, prefix_range_end
from kvstore.testing.differential.normalized import Raised, Remaining
from kvstore.txn import Compare, CompareTarget, Delete, Get, Op, Put, Txn
from kvstore.types import DeleteResult, KeyValue, PutResult, RangeResult, TxnResult, WatchEvent

__all__ = ["NEVER_GRANTED", "Side"]

NEVER_GRANTED = 1_000_000
"""The normalized lease id of a lease no store granted (sent as an id nobody uses)."""

_NEVER_GRANTED_ID = 0x5EED_DEAD_BEEF
"""The id sent for ``NEVER_GRANTED``."""

_TTL_SLACK = 1
"""Seconds below the elapsed-time bound that a remaining TTL may still be."""


class Side:
    """One store in a run: translates normalized requests for it and normalizes answers."""

    def __init__(self, store: BaseStore, prefix: str) -> None:
        self.store = store
        self.prefix = prefix
        self.run_end = prefix_range_end(prefix)
        self.base = store.kv_range(Get(prefix, count_only=True)).revision
        self.leases: list[int] = []
        self.renewed: dict[int, float] = {}

    # normalized -> store

    def key(self, key: str) -> str:
        return self.prefix + key

    def end(self, range_end: str | None) -> str | None:
        if range_end is None:
            return None
        return self.run_end if range_end == ALL_KEYS else self.prefix + range_end

    def revision(self, revision: int) -> int:
        return revision + self.base - 1 if revision > 0 else revision

    def lease(self, lease: int) -> int:
        if lease <= 0:
            return lease
        if lease <= len(self.leases):
            return self.leases[lease - 1]
        return _NEVER_GRANTED_ID

    def request(self, op: Op) -> Op:
        if isinstance(op, Get):
            return attrs.evolve(
                op,
                key=self.key(op.key),
                range_end=self.end(op.range_end),
                revision=None if op.revision is None else self.revision(op.revision),
                min_create_revision=self.revision(op.min_create_revision),
                max_create_revision=self.revision(op.max_create_revision),
            )
        if isinstance(op, Put):
            lease = None if op.lease is None else self.lease(op.lease)
            return attrs.evolve(op, key=self.key(op.key), lease=lease)
        if isinstance(op, Delete):
            return attrs.evolve(op, key=self.key(op.key), range_end=self.end(op.range_end))
        return Txn(
            [self.compare(compare) for compare in op.compares],
            [self.request(inner) for inner in op.success],
            [self.request(inner) for inner in op.failure],
        )

    def compare(self, compare: Compare) -> Compare:
        operand = compare.operand
        if isinstance(operand, int):
            if compare.target in (CompareTarget.CREATE, CompareTarget.MOD):
                operand = self.revision(operand)
            elif compare.target is CompareTarget.LEASE:
                operand = self.lease(operand)
        return attrs.evolve(
            compare,
            key=self.key(compare.key),
            range_end=self.end(compare.range_end),
            operand=operand,
        )

    # store -> normalized

    def norm_key(self, key: str) -> str:
        return key[len(self.prefix) :] if key.startswith(self.prefix) else f"<outside>{key}"

    def norm_revision(self, revision: int) -> int:
        return revision - self.base + 1 if revision > 0 else revision

    def norm_lease(self, lease: int) -> int:
        if lease == 0:
            return 0
        try:
            return self.leases.index(lease) + 1
        except ValueError:
            return -1

    def kv(self, kv: KeyValue | None) -> KeyValue | None:
        if kv is None:
            return None
        return KeyValue(
            self.norm_key(kv.key),
            kv.value,
            self.norm_revision(kv.create_revision),
            self.norm_revision(kv.mod_revision),
            kv.version,
            self.norm_lease(kv.lease),
        )

    def kvs(self, kvs: Iterable[KeyValue]) -> tuple[KeyValue, ...]:
        return tuple(kv for kv in map(self.kv, kvs) if kv is not None)

    def result(self, result: object) -> object:
        if isinstance(result, RangeResult):
            return RangeResult(
                self.kvs(result.kvs), result.count, result.more, self.norm_revision(result.revision)
            )
        if isinstance(result, PutResult):
            return PutResult(self.norm_revision(result.revision), self.kv(result.prev_kv))
        if isinstance(result, DeleteResult):
            return DeleteResult(
                self.norm_revision(result.revision), result.deleted, self.kvs(result.prev_kvs)
            )
        if isinstance(result, TxnResult):
            return TxnResult(
                result.succeeded,
                tuple(self.result(response) for response in result.responses),  # type: ignore[misc]
                self.norm_revision(result.revision),
            )
        return result

    def event(self, event: WatchEvent) -> WatchEvent:
        kv = self.kv(event.kv)
        assert kv is not None
        return WatchEvent(event.type, kv, self.kv(event.prev_kv))

    # calls

    def send(self, op: Op) -> object:
        """Send a normalized request; the normalized answer, or ``Raised``."""
        return self.call(lambda: self.result(_send(self.store, self.request(op))))

    def call(self, function: Callable[[], object]) -> object:
        try:
            return function()
        except Exception as exc:  # noqa: BLE001 - every error is part of the answer
            return Raised.of(exc)

    def current_revision(self) -> object:
        return self.call(
            lambda: self.norm_revision(
                self.store.kv_range(Get(self.prefix, count_only=True)).revision
            )
        )

    def remaining(self, lease: int, ttl: int, granted: int) -> Remaining:
        """``ttl`` against its bound: the server set the lease's expiry after the grant
        (or keep-alive) call started and truncates what is left to whole seconds, so
        ``floor(granted - elapsed since the call started) <= ttl <= granted``, less a
        second of slack."""
        since = self.renewed.get(lease, time.monotonic())
        low = math.floor(granted - (time.monotonic() - since)) - _TTL_SLACK
        return Remaining(low <= ttl <= granted, ttl, low, granted)

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            live = set(self.store.lease_leases())
            for lease in self.leases:
                if lease in live:
                    with contextlib.suppress(Exception):
                        self.store.lease_revoke(lease)
        with contextlib.suppress(Exception):
            self.store.kv_delete_range(Delete(self.prefix, self.run_end))


def _send(store: BaseStore, request: Op) -> object:
    """Send one request object to the primitive that takes it."""
    if isinstance(request, Get):
        return store.kv_range(request)
    if isinstance(request, Put):
        return store.kv_put(request)
    if isinstance(request, Delete):
        return store.kv_delete_range(request)
    return store.kv_txn(request)
