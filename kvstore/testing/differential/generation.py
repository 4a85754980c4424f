"""The random generator of steps, and the model of the stores it learns from the answers
they agreed on.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs

from kvstore.keys import ALL_KEYS, MAX_LEASE_TTL, prefix_range_end
from kvstore.ranges import in_range
from kvstore.testing.differential.actions import (
    Action,
    CheckLeaseBounds,
    Compact,
    GrantLease,
    KeepAliveOnce,
    LeaseTimeToLive,
    ListLeases,
    RevokeLease,
    Send,
    WatchReplay,
)
from kvstore.testing.differential.normalized import Outcome
from kvstore.testing.differential.side import NEVER_GRANTED
from kvstore.txn import Compare, CompareOp, CompareTarget, Delete, Get, Op, Put, Txn, WatchRequest
from kvstore.types import LeaseGrant, SortOrder, SortTarget

__all__ = ["Model", "StepGenerator"]

_KEYS = ("a", "b", "b/1", "b/2", "c", "d")
"""The run's keys (at most six: see ``kvstore.testing.differential`` on sorting)."""

_RANGE_ENDS = ("b/", "b0", "c", "c0", "d", "e", ALL_KEYS)
"""Range ends besides the keys themselves (``ALL_KEYS``: the end of the run's prefix)."""

_VALUES = (b"", b"0", b"1", b"10", b"2", b"a", b"ab", b"b", b"\x00", b"\xff")


@attrs.define
class Model:
    """What the generator knows of the stores, from the answers they agreed on."""

    revision: int = 1
    compacted: int = 0
    leases: int = 0
    live: set[int] = attrs.field(factory=set)

    def learn(self, action: Action, outcome: Outcome) -> None:
        if isinstance(outcome.revision, int):
            self.revision = outcome.revision
        result = outcome.result
        if isinstance(action, GrantLease) and isinstance(result, LeaseGrant):
            self.leases += 1
            self.live.add(result.id)
        elif isinstance(action, CheckLeaseBounds) and isinstance(result, tuple):
            if result and isinstance(result[0], LeaseGrant):
                self.leases += 1
        elif isinstance(action, RevokeLease) and result is None:
            self.live.discard(action.lease)
        elif isinstance(action, Compact) and result is None:
            self.compacted = max(self.compacted, action.revision)


class _Writes:
    """The keys a transaction branch writes, to keep it within etcd's duplicate rules."""

    def __init__(self, *, careless: bool) -> None:
        self.careless = careless
        self.puts: set[str] = set()
        self.deletes: list[tuple[str, str | None]] = []

    def can_put(self, key: str) -> bool:
        if self.careless:
            return True
        return key not in self.puts and not any(in_range(key, s, e) for s, e in self.deletes)

    def can_delete(self, key: str, range_end: str | None) -> bool:
        return self.careless or not any(in_range(p, key, range_end) for p in self.puts)


class StepGenerator:
    """Random steps from ``random.Random(seed)`` and the model of the agreed answers."""

    def __init__(
        self, rng: random.Random, model: Model, *, compact: bool, watch: bool, leases: bool
    ) -> None:
        self.rng = rng
        self.model = model
        weights: list[tuple[Callable[[], Action], int]] = [
            (self.put, 20),
            (self.get, 18),
            (self.delete, 8),
            (self.txn, 26),
            (self.snapshot, 3),
        ]
        if leases:
            weights += [
                (self.grant, 5),
                (self.lease_bounds, 2),
                (self.revoke, 3),
                (self.time_to_live, 3),
                (self.keepalive, 2),
                (self.list_leases, 1),
            ]
        if compact:
            weights.append((self.compact, 3))
        if watch:
            weights.append((self.watch, 6))
        self.makers = [maker for maker, _ in weights]
        self.weights = [weight for _, weight in weights]

    def step(self) -> Action:
        maker = self.rng.choices(self.makers, self.weights)[0]
        return maker()

    # pieces

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def key(self) -> str:
        return self.rng.choice(_KEYS)

    def value(self) -> bytes:
        if self.chance(0.1):
            return bytes(self.rng.randrange(256) for _ in range(self.rng.randint(0, 4)))
        return self.rng.choice(_VALUES)

    def key_range(self, *, single: float = 0.5) -> tuple[str, str | None]:
        """One key, or a range: between two keys, a prefix, inverted, or the whole run."""
        if self.chance(single):
            return self.key(), None
        kind = self.rng.random()
        if kind < 0.1:
            return "", ALL_KEYS
        if kind < 0.3:
            start = self.rng.choice(("b", "b/", "c", "a"))
            return start, prefix_range_end(start)
        start = self.key()
        return start, self.rng.choice((*_KEYS, *_RANGE_ENDS))

    def past_revision(self) -> int:
        """A revision to read at: mostly readable, sometimes compacted or in the future."""
        low = max(1, self.model.compacted - 1)
        return self.rng.randint(low, self.model.revision + 1)

    def lease_ref(self, *, live: float = 0.85) -> int:
        """The position of a lease: mostly a live one, else revoked or never granted."""
        if self.model.live and self.chance(live):
            return self.rng.choice(sorted(self.model.live))
        if self.model.leases and self.chance(0.6):
            return self.rng.randint(1, self.model.leases)
        return NEVER_GRANTED

    # requests

    def put_op(self, writes: _Writes | None = None) -> Put | None:
        keys = [k for k in _KEYS if writes is None or writes.can_put(k)]
        if not keys:
            return None
        key = self.rng.choice(keys)
        if writes is not None:
            writes.puts.add(key)
        lease: int | None = None
        ignore_lease = False
        if self.model.leases and self.chance(0.3):
            lease = self.lease_ref(live=0.9)
        elif self.chance(0.02):
            lease = NEVER_GRANTED
        elif self.chance(0.05):
            ignore_lease = True
        elif self.chance(0.05):
            lease = 0
        return Put(key, self.value(), lease, self.chance(0.5), ignore_lease=ignore_lease)

    def get_op(self) -> Get:
        key, range_end = self.key_range()
        revision = self.past_revision() if self.chance(0.3) else None
        sort_target = self.rng.choice(list(SortTarget)) if self.chance(0.4) else None
        sort_order = self.rng.choice(list(SortOrder)) if self.chance(0.4) else None
        top = self.model.revision + 1
        return Get(
            key,
            range_end,
            revision,
            self.rng.choice((0, 0, 0, 1, 2, 3, -1)),
            self.chance(0.2),
            self.chance(0.15),
            sort_target=sort_target,
            sort_order=sort_order,
            min_create_revision=self.rng.randint(1, top) if self.chance(0.15) else 0,
            max_create_revision=self.rng.randint(1, top) if self.chance(0.15) else 0,
        )

    def delete_op(self, writes: _Writes | None = None) -> Delete | None:
        for _ in range(5):
            key, range_end = self.key_range(single=0.6)
            if key == "" and range_end is None:
                continue
            if writes is None or writes.can_delete(key, range_end):
                if writes is not None:
                    writes.deletes.append((key, range_end))
                return Delete(key, range_end, self.chance(0.5))
        return None

    def compare(self) -> Compare:
        target = self.rng.choice(list(CompareTarget))
        op = self.rng.choice(list(CompareOp))
        key, range_end = self.key_range(single=0.7)
        if key == "" and range_end is None:
            key = "a"
        operand: bytes | int
        if target is CompareTarget.VALUE:
            operand = self.value()
        elif target is CompareTarget.VERSION:
            operand = self.rng.randint(0, 4)
        elif target is CompareTarget.LEASE:
            if op in (CompareOp.LESS, CompareOp.GREATER) or not self.model.leases:
                operand = 0
            else:
                operand = self.rng.choice((0, self.lease_ref(live=0.7)))
        else:
            operand = self.rng.randint(0, self.model.revision + 1)
        return Compare(key, target, op, operand, range_end)

    def txn_op(self, depth: int = 0, writes: _Writes | None = None) -> Txn:
        careless = self.chance(0.04)
        compares = [self.compare() for _ in range(self.rng.choice((0, 1, 1, 2, 2, 3)))]
        branches: list[list[Op]] = []
        for _ in range(2):
            branch_writes = writes or _Writes(careless=careless)
            branches.append(self.branch(depth, branch_writes))
        return Txn(compares, branches[0], branches[1])

    def branch(self, depth: int, writes: _Writes) -> list[Op]:
        ops: list[Op] = []
        for _ in range(self.rng.choice((0, 1, 1, 2, 3, 4))):
            kind = self.rng.random()
            op: Op | None
            if kind < 0.35:
                op = self.put_op(writes)
            elif kind < 0.65:
                op = self.get_op()
            elif kind < 0.85:
                op = self.delete_op(writes)
            elif depth < 2:
                op = self.txn_op(depth + 1, writes)
            else:
                op = self.get_op()
            if op is not None:
                ops.append(op)
        return ops

    # steps

    def put(self) -> Action:
        op = self.put_op()
        assert op is not None
        return Send(op)

    def get(self) -> Action:
        return Send(self.get_op())

    def delete(self) -> Action:
        op = self.delete_op()
        return Send(op if op is not None else Delete(self.key()))

    def txn(self) -> Action:
        return Send(self.txn_op())

    def snapshot(self) -> Action:
        return Send(Get("", ALL_KEYS))

    def grant(self) -> Action:
        kind = self.rng.random()
        if kind < 0.05:
            return GrantLease(self.rng.choice((0, -1)))
        if kind < 0.1:
            return GrantLease(self.rng.choice((MAX_LEASE_TTL, MAX_LEASE_TTL + 1)))
        return GrantLease(self.rng.randint(60, 3600))

    def lease_bounds(self) -> Action:
        return CheckLeaseBounds(self.rng.choice((1, 2, 3, 5)))

    def revoke(self) -> Action:
        return RevokeLease(self.lease_ref())

    def time_to_live(self) -> Action:
        return LeaseTimeToLive(self.lease_ref(), self.chance(0.6))

    def keepalive(self) -> Action:
        return KeepAliveOnce(self.lease_ref())

    def list_leases(self) -> Action:
        return ListLeases()

    def compact(self) -> Action:
        model = self.model
        if model.revision < 2:
            return Send(Get("", ALL_KEYS))
        kind = self.rng.random()
        if kind < 0.1 and model.compacted:
            return Compact(self.rng.randint(1, model.compacted))
        if kind < 0.15:
            return Compact(model.revision + 1)
        if kind < 0.4 or model.compacted >= model.revision:
            return Compact(model.revision)
        return Compact(self.rng.randint(max(2, model.compacted + 1), model.revision))

    def watch(self) -> Action:
        kind = self.rng.random()
        if kind < 0.4:
            key: str = self.key()
            range_end: str | None = None
            marker = key
        elif kind < 0.55:
            key, range_end, marker = "", ALL_KEYS, self.key()
        else:
            key = self.rng.choice(_KEYS[:-1])
            range_end = self.rng.choice(
                [
                    end
                    for end in (*_KEYS, *_RANGE_ENDS, prefix_range_end(key))
                    if end > key or end == ALL_KEYS
                ]
            )
            marker = key
        start = self.past_revision() if self.chance(0.9) else None
        request = WatchRequest(key, range_end, start_revision=start, prev_kv=self.chance(0.5))
        return WatchReplay(request, marker)
