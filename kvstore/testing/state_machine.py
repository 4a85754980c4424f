"""``StateMachineConformance``: random operation sequences checked against a reference model.

A Hypothesis ``RuleBasedStateMachine`` runs puts, deletes (key and prefix), transactions
with compares, range reads, revision reads, compactions (``history``) and lease grant /
refresh / revoke / expiry (``leases`` and a ``fast_clock``) against the backend and
against ``ReferenceModel``, a dict with a revision counter and a history. After every
step the whole store must equal the model (values, versions, create / mod revisions,
leases, the store revision), and a watch opened at the start must deliver exactly the
model's event stream.

Revisions are relative: each example starts at whatever revision the (emptied) store is
at, so the machine runs against a shared etcd server too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from kvstore._sync.base import BaseStore
from kvstore._sync.lease import Lease
from kvstore._sync.watch import Watch
from kvstore.errors import CompactedError, LeaseNotFoundError
from kvstore.keys import ALL_KEYS, prefix_range_end
from kvstore.testing._sync._support import (
    ConformanceBase,
    assert_next_is_sentinel,
    current_revision,
    read_events,
    snapshot,
)
from kvstore.txn import (
    Compare,
    CreateRevision,
    Delete,
    Get,
    LeaseId,
    ModRevision,
    Op,
    Put,
    Value,
    Version,
)
from kvstore.types import (
    DeleteResult,
    EventType,
    KeyValue,
    PutResult,
    RangeResult,
    TxnResult,
    WatchEvent,
)

__all__ = ["KVStoreMachine", "ReferenceModel", "StateMachineConformance"]

KEYS = ("a", "a/x", "a/y", "ab", "b", "b/x", "é", "\U0001f600")
PREFIXES = ("a", "a/", "b", "é", "c")
SENTINEL_KEY = "~sentinel"
"""Written once at the end of an example to prove the watch delivered nothing extra."""

EventSummary = tuple[EventType, str, bytes, int, int, int, int]

keys = st.sampled_from(KEYS)
prefixes = st.sampled_from(PREFIXES)
values = st.binary(max_size=3)
picks = st.integers(min_value=0, max_value=1_000)
"""An index into a range only known when the rule runs (revisions, for example)."""

_TARGETS = ("value", "version", "create", "mod", "lease")
_OPERATORS = ("==", "!=", "<", ">")
compares = st.tuples(
    st.sampled_from(_TARGETS),
    st.sampled_from(KEYS + tuple(p + "*" for p in PREFIXES)),
    st.sampled_from(_OPERATORS),
    st.integers(min_value=-4, max_value=3),
    values,
)
_OP_KINDS = ("put", "put", "delete", "get", "get-prefix", "delete-prefix")
txn_ops = st.lists(
    st.tuples(st.sampled_from(_OP_KINDS), keys, prefixes, values),
    max_size=4,
    unique_by=lambda op: op[1],
)


def _encoded(key: str) -> bytes:
    return key.encode()


def _in_range(key: str, start: str, end: str | None) -> bool:
    if end is None:
        return key == start
    if start == ALL_KEYS and end == ALL_KEYS:
        return True
    if end == ALL_KEYS:
        return _encoded(key) >= _encoded(start)
    return _encoded(start) <= _encoded(key) < _encoded(end)


def _summary(kv: KeyValue, event_type: EventType) -> EventSummary:
    if event_type is EventType.DELETE:
        return (event_type, kv.key, b"", kv.mod_revision, 0, 0, 0)
    return (
        event_type,
        kv.key,
        kv.value,
        kv.mod_revision,
        kv.create_revision,
        kv.version,
        kv.lease,
    )


def _event_summary(event: WatchEvent) -> EventSummary:
    return _summary(event.kv, event.type)


@attrs.define
class ModelLease:
    """The model of the one lease the machine may hold."""

    id: int
    ttl: int
    expires_at: float


class ReferenceModel:
    """etcd's key-value semantics in a few lines: a dict, a revision counter, a history.

    Args:
        base_revision: The store revision when the example started (the store is empty).
    """

    def __init__(self, base_revision: int) -> None:
        self.base = base_revision
        self.revision = base_revision
        self.kvs: dict[str, KeyValue] = {}
        self.history: dict[int, dict[str, KeyValue]] = {base_revision: {}}
        self.compacted = 0
        self.pending_events: list[EventSummary] = []
        self.now = 0.0
        self.lease: ModelLease | None = None
        self._state: dict[str, KeyValue] = {}
        self._changed = False

    # -- one write transaction at a time: begin, operations, commit

    def begin(self) -> None:
        """Start a write transaction on a working copy of the state."""
        self._state = dict(self.kvs)
        self._changed = False

    def put(self, key: str, value: bytes, lease: int | None = None) -> PutResult:
        """Put inside the current transaction.

        Returns:
            The ``PutResult`` etcd would give: the transaction's new revision.
        """
        revision = self.revision + 1
        old = self._state.get(key)
        kv = KeyValue(
            key,
            value,
            old.create_revision if old else revision,
            revision,
            old.version + 1 if old else 1,
            lease or 0,
        )
        self._state[key] = kv
        self._changed = True
        self.pending_events.append(_summary(kv, EventType.PUT))
        return PutResult(revision)

    def delete(self, start: str, end: str | None) -> DeleteResult:
        """Delete a key or range inside the current transaction (keys in order).

        Returns:
            The ``DeleteResult`` etcd would give: the transaction's new revision and how many keys
            were deleted.
        """
        revision = self.revision + 1
        doomed = [kv for kv in self.range_kvs(self._state, start, end)]
        for kv in doomed:
            del self._state[kv.key]
            self.pending_events.append(
                _summary(attrs.evolve(kv, mod_revision=revision), EventType.DELETE)
            )
        self._changed = self._changed or bool(doomed)
        return DeleteResult(revision, len(doomed))

    def get(self, start: str, end: str | None) -> tuple[KeyValue, ...]:
        """Read inside the current transaction (sees its earlier writes).

        Returns:
            The key-values in the range, ordered by encoded key.
        """
        return self.range_kvs(self._state, start, end)

    def commit(self) -> int:
        """End the transaction: one new revision if it wrote anything.

        Returns:
            The model's revision after the transaction (unchanged if it wrote nothing).
        """
        if self._changed:
            self.revision += 1
            self.kvs = self._state
            self.history[self.revision] = dict(self.kvs)
        return self.revision

    # -- reads

    @staticmethod
    def range_kvs(state: dict[str, KeyValue], start: str, end: str | None) -> tuple[KeyValue, ...]:
        """The key-values of ``state`` in the range, ordered by encoded key.

        Returns:
            A tuple of the key-values, ordered by their UTF-8 bytes.
        """
        found = [kv for key, kv in state.items() if _in_range(key, start, end)]
        return tuple(sorted(found, key=lambda kv: _encoded(kv.key)))

    def compare_holds(self, target: str, key: str, end: str | None, op: str, operand: Any) -> bool:
        """etcd's compare: every key of the range must satisfy it; a missing key has
        version / revisions / lease 0 and fails every value compare.

        Returns:
            ``True`` if the compare holds on the committed state.
        """
        found = self.range_kvs(self.kvs, key, end)
        if not found:
            if target == "value":
                return False
            return _relate(0, op, operand)
        return all(_relate(_field(kv, target), op, operand) for kv in found)

    def leased_keys(self, lease_id: int) -> list[str]:
        """The keys attached to ``lease_id``, in order.

        Returns:
            The keys attached to ``lease_id``, sorted.
        """
        return [
            kv.key for kv in self.range_kvs(self.kvs, ALL_KEYS, ALL_KEYS) if kv.lease == lease_id
        ]

    def revoke(self, lease_id: int) -> None:
        """Revoke a lease: delete its keys in one transaction (in key order, as etcd)."""
        self.begin()
        for key in self.leased_keys(lease_id):
            self.delete(key, None)
        self.commit()
        self.lease = None


def _field(kv: KeyValue, target: str) -> Any:
    return {
        "value": kv.value,
        "version": kv.version,
        "create": kv.create_revision,
        "mod": kv.mod_revision,
        "lease": kv.lease,
    }[target]


def _relate(actual: Any, op: str, operand: Any) -> bool:
    if op == "==":
        return bool(actual == operand)
    if op == "!=":
        return bool(actual != operand)
    if op == "<":
        return bool(actual < operand)
    return bool(actual > operand)


_COMPARE_CLASSES: dict[str, Callable[..., Any]] = {
    "value": Value,
    "version": Version,
    "create": CreateRevision,
    "mod": ModRevision,
    "lease": LeaseId,
}


def _build_compare(target: str, key: str, op: str, operand: Any) -> Compare:
    prefix = key.endswith("*")
    builder = _COMPARE_CLASSES[target](key.rstrip("*"), prefix=prefix)
    compare: Compare
    if op == "==":
        compare = builder == operand
    elif op == "!=":
        compare = builder != operand
    elif op == "<":
        compare = builder < operand
    else:
        compare = builder > operand
    return compare


class KVStoreMachine(RuleBasedStateMachine):
    """The rules; a subclass made per test binds ``suite`` and ``shared_store``.

    Subclass it to add rules for a wrapper (``StateMachineConformance.machine_class``).
    """

    suite: ClassVar[StateMachineConformance]
    shared_store: ClassVar[BaseStore]

    def __init__(self) -> None:
        super().__init__()
        self._exit = contextlib.ExitStack()
        self.store: BaseStore = self._exit.enter_context(
            self.suite.store_factory(self.shared_store)
        )
        caps = self.store.capabilities
        self.history = "history" in caps
        self.leases = "leases" in caps and self.suite.fast_clock
        self.compare_targets = self.suite.machine_compare_targets()
        self.model = ReferenceModel(current_revision(self.store))
        self.watch: Watch | None = None
        if "watch" in caps:
            self.watch = self._exit.enter_context(
                self.store.watch_prefix("", start_revision=self.model.base + 1)
            )
        self.lease: Lease | None = None

    # ------------------------------------------------------------------ writes

    @rule(key=keys, value=values, leased=st.booleans())
    def put(self, key: str, value: bytes, leased: bool) -> None:
        lease_id = self.model.lease.id if leased and self.model.lease else None
        revision = self.store.put(key, value, lease=lease_id)
        self.model.begin()
        self.model.put(key, value, lease_id)
        assert revision == self.model.commit()

    @rule(key=keys)
    def delete(self, key: str) -> None:
        deleted = self.store.delete(key)
        self.model.begin()
        expected = self.model.delete(key, None).deleted
        self.model.commit()
        assert deleted == expected

    @rule(prefix=prefixes)
    def delete_prefix(self, prefix: str) -> None:
        deleted = self.store.delete_prefix(prefix)
        self.model.begin()
        expected = self.model.delete(prefix, prefix_range_end(prefix)).deleted
        self.model.commit()
        assert deleted == expected

    @rule(
        conditions=st.lists(compares, max_size=3),
        then_ops=txn_ops,
        else_ops=txn_ops,
    )
    def txn(
        self,
        conditions: list[tuple[str, str, str, int, bytes]],
        then_ops: list[tuple[str, str, str, bytes]],
        else_ops: list[tuple[str, str, str, bytes]],
    ) -> None:
        built: list[Compare] = []
        holds = True
        allowed = self.compare_targets
        for drawn, key, op, number, value in conditions:
            # a target the store cannot evaluate is swapped for an allowed one, stably
            target = drawn if drawn in allowed else allowed[_TARGETS.index(drawn) % len(allowed)]
            operand = self._operand(target, number, value)
            built.append(_build_compare(target, key, op, operand))
            end = prefix_range_end(key.rstrip("*")) if key.endswith("*") else None
            holds = holds and self.model.compare_holds(target, key.rstrip("*"), end, op, operand)
        success, failure = self._ops(then_ops), self._ops(else_ops)
        result = self.store.kv_txn(built, success, failure)
        assert result.succeeded is holds
        self.model.begin()
        expected = [self._apply(op) for op in (success if holds else failure)]
        revision = self.model.commit()
        assert result.revision == revision
        assert len(result.responses) == len(expected)
        for actual, wanted in zip(result.responses, expected, strict=True):
            self._check_response(actual, wanted)

    def _operand(self, target: str, number: int, value: bytes) -> bytes | int:
        if target == "value":
            return value
        if target == "version":
            return max(number, 0)
        if target == "lease":
            return self.model.lease.id if number > 0 and self.model.lease else 0
        return max(self.model.revision + number, 0)

    def _ops(self, ops: list[tuple[str, str, str, bytes]]) -> list[Op]:
        put_keys = [key for kind, key, _, _ in ops if kind == "put"]
        built: list[Op] = []
        for kind, key, prefix, value in ops:
            if kind == "put":
                built.append(Put(key, value))
            elif kind == "delete":
                built.append(Delete(key))
            elif kind == "get":
                built.append(Get(key))
            elif kind == "delete-prefix" and not any(k.startswith(prefix) for k in put_keys):
                built.append(Delete.prefix(prefix))
            else:  # a prefix delete over a put of the branch would be a duplicate key
                built.append(Get.prefix(prefix))
        return built

    def _apply(self, op: Op) -> PutResult | DeleteResult | tuple[KeyValue, ...]:
        if isinstance(op, Put):
            return self.model.put(op.key, op.value, op.lease)
        if isinstance(op, Delete):
            return self.model.delete(op.key, op.range_end)
        assert isinstance(op, Get)
        return self.model.get(op.key, op.range_end)

    @staticmethod
    def _check_response(
        actual: RangeResult | PutResult | DeleteResult | TxnResult,
        wanted: PutResult | DeleteResult | tuple[KeyValue, ...],
    ) -> None:
        if isinstance(wanted, tuple):
            assert isinstance(actual, RangeResult)
            assert actual.kvs == wanted
            assert actual.count == len(wanted)
        elif isinstance(wanted, DeleteResult):
            assert isinstance(actual, DeleteResult)
            assert actual.deleted == wanted.deleted
        else:
            assert isinstance(actual, PutResult)

    # ------------------------------------------------------------------ reads

    @rule(prefix=prefixes, limit=st.integers(min_value=0, max_value=3), mode=st.integers(0, 2))
    def range_read(self, prefix: str, limit: int, mode: int) -> None:
        end = prefix_range_end(prefix)
        result = self.store.kv_range(
            prefix, end, limit=limit, keys_only=mode == 1, count_only=mode == 2
        )
        expected = ReferenceModel.range_kvs(self.model.kvs, prefix, end)
        assert result.count == len(expected)
        assert result.revision == self.model.revision
        if mode == 2:
            assert result.kvs == ()
            return
        shown = expected[:limit] if limit else expected
        if mode == 1:
            shown = tuple(attrs.evolve(kv, value=b"") for kv in shown)
        assert result.kvs == shown
        assert result.more is (len(shown) < len(expected))

    @rule(key=keys)
    def get(self, key: str) -> None:
        assert self.store.get_kv(key) == self.model.kvs.get(key)

    @precondition(lambda self: self.history)
    @rule(pick=picks, prefix=st.one_of(st.none(), prefixes), key=keys)
    def read_at_revision(self, pick: int, prefix: str | None, key: str) -> None:
        span = self.model.revision - self.model.base + 1
        revision = self.model.base + pick % span
        start, end = (key, None) if prefix is None else (prefix, prefix_range_end(prefix))
        if revision < self.model.compacted:
            with pytest.raises(CompactedError) as info:
                self.store.kv_range(start, end, revision=revision)
            assert info.value.compact_revision == self.model.compacted
            return
        result = self.store.kv_range(start, end, revision=revision)
        assert result.kvs == ReferenceModel.range_kvs(self.model.history[revision], start, end)

    @precondition(lambda self: self.history and self.model.revision > self.model.base)
    @rule(pick=picks)
    def compact(self, pick: int) -> None:
        # only revisions written in this example: earlier ones may be compacted already
        revision = self.model.base + 1 + pick % (self.model.revision - self.model.base)
        self._drain_watch()
        if revision <= self.model.compacted:
            with pytest.raises(CompactedError):
                self.store.compact_revision(revision)
            return
        self.store.compact_revision(revision)
        self.model.compacted = revision

    # ------------------------------------------------------------------ leases

    @precondition(lambda self: self.leases and self.model.lease is None)
    @rule(ttl=st.sampled_from([2, 3]))
    def grant_lease(self, ttl: int) -> None:
        lease = self.store.lease(ttl)
        assert lease.ttl >= ttl
        self.lease = lease
        self.model.lease = ModelLease(lease.id, lease.ttl, self.model.now + lease.ttl)

    @precondition(lambda self: self.model.lease is not None)
    @rule()
    def refresh_lease(self) -> None:
        assert self.lease is not None and self.model.lease is not None
        assert self.lease.refresh() >= 2
        self.model.lease.expires_at = self.model.now + self.model.lease.ttl

    @precondition(lambda self: self.model.lease is not None)
    @rule()
    def revoke_lease(self) -> None:
        assert self.lease is not None and self.model.lease is not None
        self.store.revoke_lease(self.lease)
        self.model.revoke(self.model.lease.id)
        self.lease = None

    @precondition(lambda self: self.model.lease is not None)
    @rule(past=st.booleans())
    def advance_clock(self, past: bool) -> None:
        # never land on the expiry instant itself, where "expired" is a matter of rounding
        assert self.model.lease is not None
        remaining = self.model.lease.expires_at - self.model.now
        seconds = remaining + 0.5 if past else remaining / 2
        self.suite.advance_clock(self.store, seconds)
        self.model.now += seconds
        if past:
            self.model.revoke(self.model.lease.id)
            self.lease = None

    # ------------------------------------------------------------------ checks

    @invariant()
    def store_equals_model(self) -> None:
        state = snapshot(self.store)
        assert state.revision == self.model.revision
        assert state.by_key() == {
            kv.key: kv for kv in self.model.range_kvs(self.model.kvs, ALL_KEYS, ALL_KEYS)
        }
        if self.model.lease is not None:
            info = self.store.lease_time_to_live(self.model.lease.id, keys=True)
            assert sorted(info.keys, key=_encoded) == self.model.leased_keys(self.model.lease.id)

    @invariant()
    def watch_matches_model(self) -> None:
        self._drain_watch()

    def _drain_watch(self) -> None:
        pending, self.model.pending_events = self.model.pending_events, []
        if self.watch is None:
            return
        events = read_events(self.watch, len(pending))
        assert [_event_summary(event) for event in events] == pending

    def teardown(self) -> None:
        try:
            if self.lease is not None and self.model.lease is not None:
                with contextlib.suppress(LeaseNotFoundError):
                    self.store.revoke_lease(self.lease)
                self.model.revoke(self.model.lease.id)
            self._drain_watch()
            if self.watch is not None:
                assert_next_is_sentinel(self.store, self.watch, SENTINEL_KEY)
        finally:
            self._exit.close()


class StateMachineConformance(ConformanceBase):
    """Random operation sequences against a reference model (SPEC section 6).

    Attributes:
        state_machine_max_examples: Hypothesis ``max_examples``.
        state_machine_step_count: Hypothesis ``stateful_step_count``.
        state_machine_derandomize: Run the same examples every time (deterministic CI);
            set false to explore new sequences on each run.
        state_machine_compare_targets: The compare targets the machine's transactions may
            use (``value``, ``version``, ``create``, ``mod``, ``lease``); ``value`` is left
            out automatically when ``value_compares`` is false.
        machine_class: The ``KVStoreMachine`` subclass to run (to add wrapper rules).
    """

    state_machine_max_examples: int = 30
    state_machine_step_count: int = 30
    state_machine_derandomize: bool = True
    state_machine_compare_targets: tuple[str, ...] = _TARGETS
    machine_class: type[KVStoreMachine] = KVStoreMachine

    @contextlib.contextmanager
    def store_factory(self, store: BaseStore) -> Iterator[BaseStore]:
        """An empty store for one state-machine example.

        The default empties the fixture's store (``delete_prefix("", allow_all=True)``)
        and reuses it; the machine reads the revision it starts at, so nothing assumes
        a revision restarts at 1. Override to build a fresh store per example instead.

        Args:
            store: The test's ``store`` fixture.

        Yields:
            The store the example runs against.
        """
        store.delete_prefix("", allow_all=True)
        yield store

    def machine_compare_targets(self) -> tuple[str, ...]:
        """The compare targets the machine's transactions draw from.

        Returns:
            ``state_machine_compare_targets`` without ``value`` when the store refuses
            value compares (``value_compares`` is false).

        Raises:
            ValueError: No compare target is left to draw.
        """
        targets = tuple(
            target
            for target in self.state_machine_compare_targets
            if self.value_compares or target != "value"
        )
        if not targets:
            raise ValueError("state_machine_compare_targets leaves no usable compare target")
        return targets

    def state_machine_settings(self) -> settings:
        """The Hypothesis settings of the state machine test (see the class attributes).

        Returns:
            Hypothesis ``settings`` built from the class's ``state_machine_*`` attributes, without a
            deadline.
        """
        return settings(
            max_examples=self.state_machine_max_examples,
            stateful_step_count=self.state_machine_step_count,
            deadline=None,
            derandomize=self.state_machine_derandomize,
            database=None if self.state_machine_derandomize else settings().database,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )

    def test_state_machine(self, store: BaseStore) -> None:
        machine = type(
            "KVStoreMachine",
            (self.machine_class,),
            {"suite": self, "shared_store": store},
        )
        run_state_machine_as_test(  # type: ignore[no-untyped-call, unused-ignore]
            machine, settings=self.state_machine_settings()
        )
