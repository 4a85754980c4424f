"""The mirror under random writes (Hypothesis), on ``MemoryStore``: at every point it
has caught up to, its state is the store's state of the prefix read at
``mirror.revision``, and its changes, applied from nothing, rebuild that state, whether
they came from watch events or from a relist after a compaction during a disconnect."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvstore import KeyValue
from kvstore.testing.mirror_property import apply_change
from kvstore.txn import Delete, Put, Txn
from kvstore_memory import MemoryStore

PREFIX = "m/"
KEYS = ["m/a", "m/b", "m/c/1", "m/c/2", "m/d", "n/outside", "m"]

_op = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(KEYS), st.binary(max_size=4)),
    st.tuples(st.just("delete"), st.sampled_from(KEYS), st.just(b"")),
    st.tuples(
        st.just("txn"),
        st.permutations(KEYS).map(lambda keys: "|".join(keys[:3])),
        st.binary(max_size=2),
    ),
    st.tuples(st.just("delete_prefix"), st.sampled_from(["m/c/", "m/", "n/"]), st.just(b"")),
    st.tuples(st.just("disconnect"), st.just(""), st.just(b"")),
)


def _store_state_at(store: MemoryStore, revision: int) -> dict[str, KeyValue]:
    result = store.kv_range(PREFIX, "m0", revision=revision)
    return {kv.key: kv for kv in result.kvs}


def _mirror_state(mirror: object) -> dict[str, KeyValue]:
    state = {}
    for key in mirror.list():  # type: ignore[attr-defined]
        state[key] = mirror.get_kv(key)  # type: ignore[attr-defined]
    return state


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_op, max_size=25))
def test_the_mirror_is_the_store_at_its_revision(ops: list[tuple[str, str, bytes]]) -> None:
    with MemoryStore() as store, store.mirror(PREFIX) as mirror:
        assert mirror.wait_synced(5)
        changes = mirror.changes()
        for op, key, value in ops:
            if op == "put":
                store.put(key, value)
            elif op == "delete":
                store.delete(key)
            elif op == "txn":
                first, second, third = key.split("|")
                store.kv_txn(Txn(success=[Put(first, value), Put(second, value), Delete(third)]))
            elif op == "delete_prefix":
                store.delete_prefix(key)
            else:
                with store.watches_disconnected():
                    store.put("m/during", value)
                    store.delete("m/a")
                    store.compact_revision(store.put("n/compact", b""))
            sentinel = store.put("m/sentinel", value)
            assert mirror.wait_for_revision(sentinel, 5)
            assert _mirror_state(mirror) == _store_state_at(store, mirror.revision)
        rebuilt: dict[str, KeyValue] = {}
        deadline = time.monotonic() + 5
        while rebuilt != _mirror_state(mirror) and time.monotonic() < deadline:
            change = changes.next_change(1)
            assert change is not None
            apply_change(rebuilt, change)
        assert rebuilt == _mirror_state(mirror)
        assert changes.next_change(0.01) is None
