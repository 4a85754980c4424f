"""Differential testing: one random primitive sequence on two stores, compared step by step.

``run_differential(store_a, store_b, seed=...)`` generates a random sequence of primitive
calls from ``random.Random(seed)``, sends each call to both stores and compares what they
answer; the first step where they differ comes back as a ``Divergence`` (``None`` when
they agree all along), whose ``replay`` replays it::

    from kvstore.testing.differential import run_differential
    from kvstore_memory import MemoryStore

    divergence = run_differential(MemoryStore(), etcd_store, seed=7, steps=300)
    assert divergence is None, str(divergence)

``compare_many(make_a, make_b, seeds=range(20))`` runs one sequence per seed, each on a
fresh pair of stores from the two factories, and returns every divergence.

What the steps are (weighted at random, each compared in full):

- ``Put`` with and without a lease (a live one, a revoked one, or one never granted), with
  ``prev_kv``, with ``ignore_lease``;
- ``Get`` with every option: one key, a range, a prefix, an inverted range, the whole
  run; a past, the current, a compacted or a future revision; ``limit``, ``keys_only``,
  ``count_only``; every ``sort_target`` and ``sort_order``; create-revision bounds;
- ``Delete`` of a key or a range, with ``prev_kv``;
- ``Txn`` with compares on every target (value, version, create and mod revision, lease)
  with every operator (``== != < >``), on one key or a range, and branches holding puts,
  gets, deletes and nested transactions (two levels deep); now and then a branch that
  writes one key twice (the error is compared);
- leases: grant (TTLs from 1 s to beyond etcd's maximum, and invalid ones), revoke,
  time-to-live with and without keys, keep-alive once, the list of leases; and a TTL
  bounds step that grants a short lease (1 to 5 s), checks its granted TTL, its remaining
  TTL and its keep-alive TTL, and revokes it at once;
- compaction at the current revision, at a past one, and at already compacted or future
  ones; reads, transactions and watches below the compact revision;
- watch replay: a watch on a key or range from a past revision (with or without
  ``prev_kv``); the step then puts a marker key inside the watched range and collects the
  events up to the marker's, so it ends without waiting on a clock.

How results are compared:

- Every step's answer, and the store revision after it, is turned into plain values and
  compared with ``==``: result types (``RangeResult``, ``TxnResult`` ...), errors as
  ``Raised`` (compared by the error's type, not its message), lease answers as
  ``LeaseState``.
- Revisions are relative to each store's revision when the run started (which counts as
  1, as on a fresh store); lease ids are the position of the grant in the run (1 for the
  first lease granted), since stores pick their own ids; keys are shown without the run's
  prefix. Requests are generated in this normalized form and translated for each store.
- Remaining TTLs are compared as ``Remaining``: whether each lies within what the time
  elapsed on that store allows (from the granted TTL less the seconds since the grant or
  last keep-alive started, less a second, up to the granted TTL). Nothing in a sequence
  depends on the wall clock: no lease is left to expire (short leases are revoked in the
  step that grants them; others are granted for at least a minute).
- Not compared: error messages, ``hash_kv`` (each backend hashes its own way), the
  other fields of ``status``, and the order of keys that tie on a sort target beyond six
  keys (see below).

``Coverage`` counts which generated features (``FEATURES``) the agreed steps exercised,
so a test can show that its seeds covered everything; ``brief`` formats requests and
results the way a ``Divergence`` report shows them.

What the run needs and leaves:

- Two separate stores (two backends, or two instances), each used by nobody else for the
  run: a store shared with a writer elsewhere sees revisions the other does not. Keys
  live under ``prefix``, so other keys may exist; ``lease_leases()`` is filtered to the
  run's leases. Compaction (``compact=False`` leaves it out) is store-wide: on a shared
  etcd it compacts everyone's history.
- The run's leases are revoked and its keys deleted at the end (``cleanup=False`` keeps
  them).

Choices that keep the comparison exact:

- Compactions are physical: a non-physical one leaves it to a background job of etcd
  whether a watch from the compact revision still sees the deletes at that revision.
- At most six keys: etcd (built with Go 1.16) sorts a range with Go's ``sort.Sort``,
  which is a plain insertion sort, stable, below seven elements; so keys that tie on the
  sort target keep key order on etcd as on ``MemoryStore``. On larger ranges etcd's order
  among ties is arbitrary.
- Lease compares with ``<`` and ``>`` use the operand 0 only (lease ids are the stores'
  own and order differently).

etcd versions: the fake follows etcd 3.5. The harness found no difference between etcd
3.5.1 and 3.4.23 in what it compares (CI runs it on both).
"""

from __future__ import annotations

import collections
import contextlib
import enum
import math
import random
import time
from collections.abc import Callable, Iterable
from typing import Any, cast

import attrs

from kvstore._sync.base import BaseStore
from kvstore._sync.watch import WatchRequest
from kvstore.keys import ALL_KEYS, MAX_LEASE_TTL, prefix_range_end
from kvstore.ranges import in_range
from kvstore.txn import Compare, CompareOp, CompareTarget, Delete, Get, Op, Put, Txn
from kvstore.types import (
    DeleteResult,
    EventType,
    KeyValue,
    LeaseGrant,
    PutResult,
    RangeResult,
    SortOrder,
    SortTarget,
    TxnResult,
    WatchEvent,
)

__all__ = [
    "DEFAULT_PREFIX",
    "Action",
    "FEATURES",
    "CheckLeaseBounds",
    "Compact",
    "Coverage",
    "Divergence",
    "GrantLease",
    "KeepAliveOnce",
    "LeaseState",
    "LeaseTimeToLive",
    "ListLeases",
    "Outcome",
    "Raised",
    "Remaining",
    "Replayed",
    "RevokeLease",
    "Send",
    "WatchReplay",
    "brief",
    "compare_many",
    "run_differential",
]

DEFAULT_PREFIX = "kvstore-differential/"
"""Where a run keeps its keys unless told otherwise (``compare_many`` adds the seed)."""

NEVER_GRANTED = 1_000_000
"""The normalized lease id of a lease no store granted (sent as an id nobody uses)."""

_NEVER_GRANTED_ID = 0x5EED_DEAD_BEEF
"""The id sent for ``NEVER_GRANTED``."""

_KEYS = ("a", "b", "b/1", "b/2", "c", "d")
"""The run's keys (at most six: see the module docstring on sorting)."""

_RANGE_ENDS = ("b/", "b0", "c", "c0", "d", "e", ALL_KEYS)
"""Range ends besides the keys themselves (``ALL_KEYS``: the end of the run's prefix)."""

_VALUES = (b"", b"0", b"1", b"10", b"2", b"a", b"ab", b"b", b"\x00", b"\xff")

_MARKER_VALUE = b"~watch-marker"

_WATCH_EVENT_TIMEOUT = 5.0
"""Seconds to wait for each event of a watch replay (only a diverging store waits)."""

_TTL_SLACK = 1
"""Seconds below the elapsed-time bound that a remaining TTL may still be."""


# ---------------------------------------------------------------------- normalized values


@attrs.frozen
class Raised:
    """A call that raised: compared by the error's type name only.

    Attributes:
        error: The exception class name (``"CompactedError"``).
        message: The message, shown but not compared.
    """

    error: str
    message: str = attrs.field(default="", eq=False)

    @classmethod
    def of(cls, exc: BaseException) -> Raised:
        """The ``Raised`` for ``exc``."""
        return cls(type(exc).__name__, str(exc))


@attrs.frozen
class Remaining:
    """A remaining TTL, compared by whether it lies within the bound the run allows.

    Attributes:
        within: Whether ``low <= ttl <= high``; the only field compared.
        ttl: The remaining TTL the store reported.
        low: The smallest value the elapsed time allows.
        high: The largest (the granted TTL).
    """

    within: bool
    ttl: int = attrs.field(eq=False)
    low: int = attrs.field(eq=False)
    high: int = attrs.field(eq=False)


@attrs.frozen
class LeaseState:
    """A normalized ``LeaseInfo``: the lease's position in the run, its remaining TTL as a
    ``Remaining``, its granted TTL and its keys (without the run's prefix)."""

    id: int
    ttl: Remaining
    granted_ttl: int
    keys: tuple[str, ...]


@attrs.frozen
class Replayed:
    """What a watch replay collected: the marker put's answer and the events (normalized)
    in order, ending with ``Raised`` if the watch failed or ``"timeout"`` if the marker's
    event never came."""

    marker: object
    events: tuple[object, ...]


@attrs.frozen
class Outcome:
    """One store's answer to one step: the result and the store revision after the step."""

    result: object
    revision: object


# ---------------------------------------------------------------------- one store's side


class _Side:
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


# ---------------------------------------------------------------------- actions


class Action:
    """One step of a sequence, in normalized form (see the module docstring)."""

    def run(self, side: _Side) -> object:
        """Run the step on one store; its normalized answer."""
        raise NotImplementedError


@attrs.frozen
class Send(Action):
    """Send a ``Get``, ``Put``, ``Delete`` or ``Txn`` to its primitive."""

    request: Op

    def run(self, side: _Side) -> object:
        return side.send(self.request)


@attrs.frozen
class WatchReplay(Action):
    """Watch from a past revision, put ``marker`` (a key in the watched range), and
    collect the events up to the marker's."""

    request: WatchRequest
    marker: str

    def run(self, side: _Side) -> object:
        request = WatchRequest(
            side.key(self.request.key),
            side.end(self.request.range_end),
            start_revision=(
                None
                if self.request.start_revision is None
                else side.revision(self.request.start_revision)
            ),
            prev_kv=self.request.prev_kv,
        )
        try:
            watch = side.store.watch_range(request)
        except Exception as exc:  # noqa: BLE001 - compared like any answer
            return Replayed(side.send(Put(self.marker, _MARKER_VALUE)), (Raised.of(exc),))
        with watch:
            marker = side.send(Put(self.marker, _MARKER_VALUE))
            events: list[object] = []
            marker_key = side.key(self.marker)
            while True:
                try:
                    event = watch.next_event(_WATCH_EVENT_TIMEOUT)
                except Exception as exc:  # noqa: BLE001 - compared like any answer
                    events.append(Raised.of(exc))
                    break
                if event is None:
                    events.append("timeout")
                    break
                events.append(side.event(event))
                if (
                    event.type is EventType.PUT
                    and event.kv.key == marker_key
                    and event.kv.value == _MARKER_VALUE
                    and isinstance(marker, PutResult)
                    and side.norm_revision(event.kv.mod_revision) == marker.revision
                ):
                    break
        return Replayed(marker, tuple(events))


@attrs.frozen
class GrantLease(Action):
    """Grant a lease of ``ttl`` seconds (it becomes the run's next lease position)."""

    ttl: int

    def run(self, side: _Side) -> object:
        return side.call(lambda: _grant(side, self.ttl))


def _grant(side: _Side, ttl: int) -> LeaseGrant:
    started = time.monotonic()
    grant = side.store.lease_grant(ttl)
    side.leases.append(grant.id)
    side.renewed[len(side.leases)] = started
    return LeaseGrant(len(side.leases), grant.ttl)


@attrs.frozen
class CheckLeaseBounds(Action):
    """Grant a short lease, read its TTL, keep it alive once, revoke it: all in one step,
    so it never expires (the TTL bounds: etcd's 2 s minimum, what each call reports)."""

    ttl: int

    def run(self, side: _Side) -> object:
        grant = side.call(lambda: _grant(side, self.ttl))
        if not isinstance(grant, LeaseGrant):
            return (grant,)
        lease = grant.id
        return (
            grant,
            LeaseTimeToLive(lease, keys=True).run(side),
            KeepAliveOnce(lease).run(side),
            LeaseTimeToLive(lease, keys=False).run(side),
            RevokeLease(lease).run(side),
        )


@attrs.frozen
class RevokeLease(Action):
    """Revoke the run's lease at position ``lease`` (``NEVER_GRANTED``: an unknown id)."""

    lease: int

    def run(self, side: _Side) -> object:
        return side.call(lambda: side.store.lease_revoke(side.lease(self.lease)))


@attrs.frozen
class LeaseTimeToLive(Action):
    """Read a lease's remaining TTL, granted TTL and (with ``keys``) its keys."""

    lease: int
    keys: bool = False

    def run(self, side: _Side) -> object:
        def ask() -> LeaseState:
            info = side.store.lease_time_to_live(side.lease(self.lease), keys=self.keys)
            return LeaseState(
                side.norm_lease(info.id),
                side.remaining(self.lease, info.ttl, info.granted_ttl),
                info.granted_ttl,
                tuple(sorted(side.norm_key(key) for key in info.keys)),
            )

        return side.call(ask)


@attrs.frozen
class KeepAliveOnce(Action):
    """Renew a lease once; the TTL it reports."""

    lease: int

    def run(self, side: _Side) -> object:
        def renew() -> int:
            started = time.monotonic()
            ttl = side.store.lease_keepalive_once(side.lease(self.lease))
            side.renewed[self.lease] = started
            return ttl

        return side.call(renew)


@attrs.frozen
class ListLeases(Action):
    """List the live leases (those of the run, by position)."""

    def run(self, side: _Side) -> object:
        def listed() -> tuple[int, ...]:
            live = set(side.store.lease_leases())
            return tuple(i + 1 for i, lease in enumerate(side.leases) if lease in live)

        return side.call(listed)


@attrs.frozen
class Compact(Action):
    """Compact the store's history at ``revision`` (physically, see the module docstring)."""

    revision: int
    physical: bool = True

    def run(self, side: _Side) -> object:
        return side.call(
            lambda: side.store.compact_revision(
                side.revision(self.revision), physical=self.physical
            )
        )


# ---------------------------------------------------------------------- generation


@attrs.define
class _Model:
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


class _Generator:
    """Random steps from ``random.Random(seed)`` and the model of the agreed answers."""

    def __init__(
        self, rng: random.Random, model: _Model, *, compact: bool, watch: bool, leases: bool
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


def _options(options: dict[str, bool]) -> dict[str, bool]:
    allowed = {"compact", "watch", "leases"}
    unknown = set(options) - allowed
    if unknown:
        raise TypeError(f"unknown options: {', '.join(sorted(unknown))}")
    return {"compact": True, "watch": True, "leases": True, **options}


# ---------------------------------------------------------------------- runs


@attrs.frozen
class Divergence:
    """The first step at which two stores answered differently.

    Attributes:
        seed: The seed of the sequence.
        step: The index of the diverging step (0-based).
        action: The step (normalized: see the module docstring).
        result_a: Store A's answer (an ``Outcome``: the result and the revision after).
        result_b: Store B's answer.
        names: What the two stores are (their reprs, unless named).
        history: Every step before the diverging one.
        options: The run's options besides the seed and the steps (for ``replay``).
    """

    seed: int
    step: int
    action: Action
    result_a: Outcome
    result_b: Outcome
    names: tuple[str, str]
    history: tuple[Action, ...] = attrs.field(repr=False)
    options: dict[str, Any] = attrs.field(factory=dict, repr=False)

    @property
    def replay(self) -> str:
        """The call that replays the sequence up to the diverging step."""
        extra = "".join(f", {name}={value!r}" for name, value in sorted(self.options.items()))
        return f"run_differential(store_a, store_b, seed={self.seed}, steps={self.step + 1}{extra})"

    def __str__(self) -> str:
        lines = [
            f"stores diverge at step {self.step} of seed {self.seed}",
            f"  replay: {self.replay}",
            f"  step {self.step}: {brief(self.action)}",
            f"  A {self.names[0]}:",
            f"      {brief(self.result_a.result)}",
            f"      revision after: {brief(self.result_a.revision)}",
            f"  B {self.names[1]}:",
            f"      {brief(self.result_b.result)}",
            f"      revision after: {brief(self.result_b.revision)}",
        ]
        lines.extend(_differences(self.result_a, self.result_b))
        shown = self.history[-12:]
        if shown:
            lines.append(f"  the {len(shown)} steps before (of {len(self.history)}):")
            first = len(self.history) - len(shown)
            lines.extend(f"    {first + i}: {brief(action)}" for i, action in enumerate(shown))
        lines.append(
            "  (revisions relative to the run's start, which is 1; leases by grant position; "
            "keys without the run prefix)"
        )
        return "\n".join(lines)


def brief(value: object) -> str:
    """``repr`` without the defaults: requests, results and steps in a line a person reads.

    An attrs instance shows its first field and the fields without a default
    positionally, the others only where they differ from their default
    (``Get('a', limit=2)``); a ``Compare`` reads as
    ``version('a') > 1``; an enum member as ``SortTarget.VERSION``.
    """
    if isinstance(value, Compare):
        range_part = "" if value.range_end is None else f", {value.range_end!r}"
        return f"{value.target.value}({value.key!r}{range_part}) {value.op.value} {value.operand!r}"
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, tuple):
        inner = ", ".join(brief(item) for item in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(brief(item) for item in value) + "]"
    if attrs.has(type(value)):
        parts: list[str] = []
        positional = True
        for field in attrs.fields(cast(Any, type(value))):
            if not field.repr:
                continue
            item = getattr(value, field.name)
            default = field.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = default.factory()
            positional = positional and default is attrs.NOTHING
            if positional or not parts:
                parts.append(brief(item))
            elif default is attrs.NOTHING or item != default:
                parts.append(f"{field.name}={brief(item)}")
        return f"{type(value).__name__}({', '.join(parts)})"
    return repr(value)


def _differences(a: object, b: object, path: str = "") -> list[str]:
    """Where two normalized answers differ (the first few paths)."""
    if a == b:
        return []
    if attrs.has(type(a)) and type(a) is type(b):
        found: list[str] = []
        for field in attrs.fields(cast(Any, type(a))):
            if field.eq:
                found += _differences(
                    getattr(a, field.name), getattr(b, field.name), f"{path}.{field.name}"
                )
        return found[:5] or [f"  differs at {path or 'the top'}"]
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        found = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found += _differences(x, y, f"{path}[{i}]")
        return found[:5]
    return [f"  differs at {path or 'the top'}: {brief(a)} != {brief(b)}"]


# ---------------------------------------------------------------------- coverage


def _all_features() -> frozenset[str]:
    features = {f"compare {t.value} {o.value}" for t in CompareTarget for o in CompareOp}
    features |= {f"sort {t.name} {o.name}" for t in SortTarget for o in SortOrder}
    features |= {
        "compare on a range",
        "txn then",
        "txn else",
        "txn nested",
        "txn nested twice",
        "txn nested result",
        "txn put",
        "txn get",
        "txn delete",
        "get range",
        "get past revision",
        "get limit",
        "get more",
        "get keys_only",
        "get count_only",
        "get min_create_revision",
        "get max_create_revision",
        "put lease",
        "put prev_kv",
        "put ignore_lease",
        "delete range",
        "delete prev_kvs",
        "lease grant",
        "lease bounds",
        "lease revoke",
        "lease time_to_live keys",
        "lease keepalive",
        "lease list",
        "compact",
        "read below compaction",
        "watch replay",
        "watch prev_kv",
        "watch below compaction",
    }
    features |= {
        f"error {name}"
        for name in (
            "CompactedError",
            "DuplicateKeyError",
            "InvalidArgumentError",
            "KeyNotFoundError",
            "LeaseNotFoundError",
        )
    }
    return frozenset(features)


FEATURES = _all_features()
"""What ``Coverage`` counts: every compare target and operator, every sort target and
order, each option, lease call, compaction and watch case, and the expected errors."""


@attrs.define
class Coverage:
    """Counts the features a run's steps exercised (``FEATURES``), from the steps and the
    answers the stores agreed on. Pass one to ``run_differential`` or ``compare_many``.

    Attributes:
        counts: How many times each feature was exercised.
    """

    counts: collections.Counter[str] = attrs.field(factory=collections.Counter)

    def missing(self) -> set[str]:
        """The features no step exercised."""
        return set(FEATURES) - set(self.counts)

    def add(self, action: Action, outcome: Outcome) -> None:
        """Count the features of one step and its (agreed) outcome."""
        found: list[str] = []
        result = outcome.result
        if isinstance(action, Send):
            found += _request_features(action.request, 0)
        found += _result_features(result)
        if isinstance(action, GrantLease) and isinstance(result, LeaseGrant):
            found.append("lease grant")
        elif isinstance(action, CheckLeaseBounds) and len(cast(tuple[object], result)) > 1:
            found.append("lease bounds")
        elif isinstance(action, RevokeLease) and result is None:
            found.append("lease revoke")
        elif isinstance(action, KeepAliveOnce) and isinstance(result, int):
            found.append("lease keepalive")
        elif isinstance(action, ListLeases) and isinstance(result, tuple) and result:
            found.append("lease list")
        elif isinstance(action, Compact) and result is None:
            found.append("compact")
        elif isinstance(action, WatchReplay) and isinstance(result, Replayed):
            events = [e for e in result.events if isinstance(e, WatchEvent)]
            if len(events) > 1:
                found.append("watch replay")
            if any(e.prev_kv is not None for e in events):
                found.append("watch prev_kv")
            if any(isinstance(e, Raised) and e.error == "CompactedError" for e in result.events):
                found.append("watch below compaction")
        if (
            isinstance(action, Send)
            and isinstance(result, Raised)
            and result.error == "CompactedError"
        ):
            found.append("read below compaction")
        self.counts.update(found)


def _request_features(op: Op, depth: int) -> list[str]:
    found: list[str] = []
    if isinstance(op, Txn):
        if depth == 1:
            found.append("txn nested")
        elif depth == 2:
            found.append("txn nested twice")
        for compare in op.compares:
            found.append(f"compare {compare.target.value} {compare.op.value}")
            if compare.range_end is not None:
                found.append("compare on a range")
        for inner in (*op.success, *op.failure):
            if depth == 0 and not isinstance(inner, Txn):
                found.append(f"txn {type(inner).__name__.lower()}")
            found += _request_features(inner, depth + 1)
    elif isinstance(op, Get):
        if op.sort_target is not None and op.sort_order is not None:
            found.append(f"sort {op.sort_target.name} {op.sort_order.name}")
        options = {
            "get range": op.range_end is not None,
            "get past revision": op.revision is not None,
            "get limit": op.limit > 0,
            "get keys_only": op.keys_only,
            "get count_only": op.count_only,
            "get min_create_revision": op.min_create_revision > 0,
            "get max_create_revision": op.max_create_revision > 0,
        }
        found += [name for name, used in options.items() if used]
    elif isinstance(op, Put):
        options = {"put lease": bool(op.lease), "put ignore_lease": op.ignore_lease}
        found += [name for name, used in options.items() if used]
    elif isinstance(op, Delete) and op.range_end is not None:
        found.append("delete range")
    return found


def _result_features(result: object) -> list[str]:
    found: list[str] = []
    if isinstance(result, Raised):
        found.append(f"error {result.error}")
    elif isinstance(result, TxnResult):
        found.append("txn then" if result.succeeded else "txn else")
        for response in result.responses:
            if isinstance(response, TxnResult):
                found.append("txn nested result")
            found += _result_features(response)
    elif isinstance(result, RangeResult) and result.more:
        found.append("get more")
    elif isinstance(result, PutResult) and result.prev_kv is not None:
        found.append("put prev_kv")
    elif isinstance(result, DeleteResult) and len(result.prev_kvs) > 1:
        found.append("delete prev_kvs")
    elif isinstance(result, LeaseState) and result.keys:
        found.append("lease time_to_live keys")
    elif isinstance(result, tuple):
        for item in result:
            found += _result_features(item)
    return found


def run_differential(
    store_a: BaseStore,
    store_b: BaseStore,
    *,
    seed: int,
    steps: int = 200,
    prefix: str = DEFAULT_PREFIX,
    compact: bool = True,
    watch: bool = True,
    leases: bool = True,
    cleanup: bool = True,
    names: tuple[str, str] | None = None,
    coverage: Coverage | None = None,
) -> Divergence | None:
    """Run ``seed``'s random sequence of ``steps`` primitive calls on both stores.

    Args:
        store_a: One store (usually the reference, such as an ``EtcdStore``).
        store_b: The other; both need the ``txn`` capability, and ``leases``, ``watch``
            and ``history`` unless those steps are turned off.
        seed: Seeds ``random.Random``; the same seed and answers give the same sequence.
        steps: How many random steps (a final read of every key and of the leases
            follows).
        prefix: Where the run's keys live (nothing else under it should change).
        compact: Include compactions (store-wide: leave out on a shared etcd).
        watch: Include watch replays.
        leases: Include lease calls and puts with leases.
        cleanup: Revoke the run's leases and delete its keys at the end.
        names: How to call the stores in the report (default: their reprs).
        coverage: Counts the features the agreed steps exercised.

    Returns:
        The first divergence, or ``None`` if the stores agreed on every step.
    """
    return _run(
        store_a,
        store_b,
        seed=seed,
        steps=steps,
        prefix=prefix,
        compact=compact,
        watch=watch,
        leases=leases,
        cleanup=cleanup,
        names=names,
        coverage=coverage,
    )


def _run(
    store_a: BaseStore,
    store_b: BaseStore,
    *,
    seed: int,
    steps: int,
    prefix: str = DEFAULT_PREFIX,
    compact: bool,
    watch: bool,
    leases: bool,
    cleanup: bool = True,
    names: tuple[str, str] | None = None,
    coverage: Coverage | None = None,
) -> Divergence | None:
    same = store_a is store_b
    side_a = _Side(store_a, prefix)
    side_b = side_a if same else _Side(store_b, prefix)
    model = _Model()
    generator = _Generator(random.Random(seed), model, compact=compact, watch=watch, leases=leases)
    history: list[Action] = []
    options: dict[str, Any] = {
        name: value
        for name, value, default in (
            ("prefix", prefix, DEFAULT_PREFIX),
            ("compact", compact, True),
            ("watch", watch, True),
            ("leases", leases, True),
        )
        if value != default
    }
    finals: list[Action] = (
        [Send(Get("", ALL_KEYS)), ListLeases()] if leases else [Send(Get("", ALL_KEYS))]
    )
    try:
        for index in range(steps + len(finals)):
            action = generator.step() if index < steps else finals[index - steps]
            outcome_a = Outcome(action.run(side_a), side_a.current_revision())
            outcome_b = (
                outcome_a if same else Outcome(action.run(side_b), side_b.current_revision())
            )
            if outcome_a != outcome_b:
                return Divergence(
                    seed,
                    index,
                    action,
                    outcome_a,
                    outcome_b,
                    names or (repr(store_a), repr(store_b)),
                    tuple(history),
                    options,
                )
            history.append(action)
            model.learn(action, outcome_a)
            if coverage is not None:
                coverage.add(action, outcome_a)
        return None
    finally:
        if cleanup:
            side_a.cleanup()
            if not same:
                side_b.cleanup()


def compare_many(
    make_a: Callable[[], BaseStore],
    make_b: Callable[[], BaseStore],
    *,
    seeds: Iterable[int],
    steps: int = 200,
    prefix: str = DEFAULT_PREFIX,
    close: bool = True,
    coverage: Coverage | None = None,
    **options: bool,
) -> list[Divergence]:
    """``run_differential`` for each seed, on a fresh pair of stores from the factories.

    Each seed's keys live under ``f"{prefix}{seed}/"``.

    Args:
        make_a: Makes store A (called once per seed).
        make_b: Makes store B.
        seeds: The seeds to run.
        steps: Steps per seed.
        prefix: The prefix under which each seed gets its own.
        close: Close the stores after each seed.
        coverage: Counts the features the agreed steps exercised, over every seed.
        options: ``compact``, ``watch``, ``leases`` as for ``run_differential``.

    Returns:
        The divergences found, one per diverging seed (empty when all agreed).
    """
    checked = _options(options)
    found: list[Divergence] = []
    for seed in seeds:
        store_a = make_a()
        try:
            store_b = make_b()
            try:
                divergence = run_differential(
                    store_a,
                    store_b,
                    seed=seed,
                    steps=steps,
                    prefix=f"{prefix}{seed}/",
                    compact=checked["compact"],
                    watch=checked["watch"],
                    leases=checked["leases"],
                    coverage=coverage,
                )
            finally:
                if close:
                    store_b.close()
        finally:
            if close:
                store_a.close()
        if divergence is not None:
            found.append(divergence)
    return found
