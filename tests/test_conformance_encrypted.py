"""The conformance suite on ``EncryptedStore(MemoryStore)``.

The suite's value-compare tests expect the server to compare values; through
``EncryptedStore`` those transactions are refused with ``UnsupportedCompareError``
before anything is sent. Here they are strict expected failures that must raise exactly
that error, and the state machine runs with every compare target except ``value`` (plus
a rule checking that a value compare is refused and changes nothing).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import rule, run_state_machine_as_test

from kvstore import BaseStore, EncryptedStore, Keyring, UnsupportedCompareError
from kvstore.testing import ConformanceSuite, current_revision
from kvstore.testing import state_machine as machine_module
from kvstore.txn import Value
from kvstore_memory import ManualClock, MemoryStore

KEY = bytes(range(32))

VALUE_COMPARE_TESTS = (
    "test_value_compares",
    "test_compares_on_a_missing_key",
    "test_all_compares_must_hold",
    "test_prefix_compare_holds_for_every_key",
    "test_then_branch_runs_and_reports_responses",
    "test_else_branch_runs_when_a_compare_fails",
    "test_failed_txn_with_empty_else_changes_nothing",
    "test_nested_txn",
    "test_builder_accumulates_calls",
)
"""Suite tests whose transactions compare values (refused through EncryptedStore)."""


def refused(name: str) -> Callable[..., Any]:
    """The suite test ``name``, expected to fail with ``UnsupportedCompareError`` only."""
    original = getattr(ConformanceSuite, name)

    @functools.wraps(original)
    def test(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **kwargs)

    mark = pytest.mark.xfail(
        raises=UnsupportedCompareError,
        strict=True,
        reason="value compares are refused through EncryptedStore",
    )
    marked: Callable[..., Any] = mark(test)
    return marked


_TARGETS_WITHOUT_VALUE = ("version", "create", "mod", "lease")


class _EncryptedMachine(machine_module._KVStoreMachine):
    """The suite's state machine, with value compares replaced by a refusal check."""

    @rule(
        conditions=st.lists(
            st.tuples(
                st.sampled_from(_TARGETS_WITHOUT_VALUE),
                st.sampled_from(
                    machine_module.KEYS + tuple(p + "*" for p in machine_module.PREFIXES)
                ),
                st.sampled_from(("==", "!=", "<", ">")),
                st.integers(min_value=-4, max_value=3),
                machine_module.values,
            ),
            max_size=3,
        ),
        then_ops=machine_module.txn_ops,
        else_ops=machine_module.txn_ops,
    )
    def txn(
        self,
        conditions: list[tuple[str, str, str, int, bytes]],
        then_ops: list[tuple[str, str, str, bytes]],
        else_ops: list[tuple[str, str, str, bytes]],
    ) -> None:
        super().txn(conditions, then_ops, else_ops)

    @rule(key=machine_module.keys, value=machine_module.values, then_ops=machine_module.txn_ops)
    def value_compare_is_refused(
        self, key: str, value: bytes, then_ops: list[tuple[str, str, str, bytes]]
    ) -> None:
        before = current_revision(self.store)
        with pytest.raises(UnsupportedCompareError):
            self.store.kv_txn([Value(key) == value], self._ops(then_ops), [])
        assert current_revision(self.store) == before


class TestEncryptedMemoryStore(ConformanceSuite):
    fast_clock = True

    @pytest.fixture
    def store(self) -> Iterator[BaseStore]:
        store = EncryptedStore(MemoryStore(clock=ManualClock()), Keyring.single(KEY))
        yield store
        store.close()

    def advance_clock(self, store: BaseStore, seconds: float) -> None:
        assert isinstance(store, EncryptedStore) and isinstance(store.inner, MemoryStore)
        clock = store.inner.clock
        assert isinstance(clock, ManualClock)
        clock.advance(seconds)

    def test_state_machine(self, store: BaseStore) -> None:
        machine = type(
            "EncryptedMachine", (_EncryptedMachine,), {"suite": self, "shared_store": store}
        )
        run_state_machine_as_test(machine, settings=self.state_machine_settings())  # type: ignore[no-untyped-call]

    for _name in VALUE_COMPARE_TESTS:
        locals()[_name] = refused(_name)
    del _name
