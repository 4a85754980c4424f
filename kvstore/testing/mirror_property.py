"""``MirrorPropertyConformance``: Hypothesis draws write sequences; after them the mirror
holds the store's state of its prefix at ``mirror.revision``, and its changes, applied
from nothing, rebuild that state.

Written once in sync code (Hypothesis drives sync code): the asyncio suite runs the same
property in a worker thread, each store and mirror call handed to the test's event loop
(``kvstore.testing._async.mirror_property``). Each example mirrors a prefix of its own,
so the examples share the fixture's store (and a shared etcd) without interfering.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvstore._sync.base import BaseStore
from kvstore.keys import prefix_range_end
from kvstore.testing._sync._support import EVENT_TIMEOUT, ConformanceBase, requires
from kvstore.txn import Delete, Put, Txn
from kvstore.types import KeyValue, MirrorChange

__all__ = ["OPERATIONS", "MirrorPropertyConformance", "apply_change", "check_mirror"]

_NAMES = ("a", "b", "c/1", "c/2", "d")

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.sampled_from(_NAMES), st.binary(max_size=4)),
        st.tuples(st.just("delete"), st.sampled_from(_NAMES), st.just(b"")),
        st.tuples(
            st.just("txn"),
            st.permutations(_NAMES).map(lambda names: "|".join(names[:3])),
            st.binary(max_size=2),
        ),
        st.tuples(st.just("delete_prefix"), st.sampled_from(["c/", ""]), st.just(b"")),
        st.tuples(st.just("outside"), st.just(""), st.binary(max_size=2)),
    ),
    max_size=20,
)
"""Write sequences: puts, deletes, transactions of three writes, prefix deletes, and
writes just outside the mirrored prefix."""

_examples = itertools.count()


def check_mirror(store: Any, operations: list[tuple[str, str, bytes]]) -> None:
    """Run ``operations`` under a fresh prefix of ``store`` while a mirror follows it.

    Raises:
        AssertionError: The mirror differs from the store at its revision, or its changes
            do not rebuild its state.
    """
    prefix = f"mirror-property/{next(_examples)}/"
    end = prefix_range_end(prefix)
    with store.mirror(prefix) as mirror, mirror.changes() as changes:
        assert mirror.wait_synced(EVENT_TIMEOUT), "the mirror did not sync"
        for operation, name, value in operations:
            key = prefix + name
            if operation == "put":
                store.put(key, value)
            elif operation == "delete":
                store.delete(key)
            elif operation == "txn":
                first, second, third = (prefix + part for part in name.split("|"))
                store.kv_txn(Txn(success=[Put(first, value), Put(second, value), Delete(third)]))
            elif operation == "delete_prefix":
                store.delete_prefix(key if name else prefix)
            else:
                store.put(prefix[:-1], value)  # just outside: "mirror-property/<n>"
        sentinel = store.put(prefix + "sentinel", b"end")
        assert mirror.wait_for_revision(sentinel, EVENT_TIMEOUT), "the mirror fell behind"
        at = store.kv_range(prefix, end, revision=mirror.revision)
        expected = {kv.key: kv for kv in at.kvs}
        held = {key: mirror.get_kv(key) for key in mirror.list()}
        assert held == expected
        assert mirror.items() == [(kv.key, kv.value) for kv in at.kvs]
        rebuilt: dict[str, KeyValue] = {}
        while rebuilt != held:
            change = changes.next_change(EVENT_TIMEOUT)
            assert change is not None, f"the changes stopped at {rebuilt}, not {held}"
            apply_change(rebuilt, change)
        assert changes.next_change(0.01) is None, "a change came twice or too many"


def apply_change(state: dict[str, KeyValue], change: MirrorChange) -> None:
    """Apply ``change`` to ``state`` as a subscriber does, checking it follows from it.

    Raises:
        AssertionError: ``change.old`` is not what ``state`` holds at its key.
    """
    assert state.get(change.key) == change.old, f"{change} does not follow {state}"
    if change.new is None:
        state.pop(change.key, None)
    else:
        state[change.key] = change.new


class MirrorPropertyConformance(ConformanceBase):
    """Random write sequences (Hypothesis) leave the mirror equal to the store.

    Attributes:
        mirror_max_examples: Hypothesis ``max_examples``.
    """

    mirror_max_examples: int = 20

    def mirror_settings(self) -> settings:
        """The Hypothesis settings of the property (deterministic, as the state machine's).

        Returns:
            Hypothesis ``settings``: ``mirror_max_examples`` examples, no deadline, derandomized.
        """
        return settings(
            max_examples=self.mirror_max_examples,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )

    def test_the_mirror_equals_the_store_after_random_writes(self, store: BaseStore) -> None:
        requires(store, "watch", "history")
        run_property(store, self.mirror_settings())


def run_property(store: Any, hypothesis_settings: settings) -> None:
    """``check_mirror`` on every write sequence Hypothesis draws, on ``store``."""

    @hypothesis_settings
    @given(operations=OPERATIONS)
    def examples(operations: list[tuple[str, str, bytes]]) -> None:
        check_mirror(store, operations)

    examples()
