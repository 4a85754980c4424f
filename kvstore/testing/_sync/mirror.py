# Generated from kvstore/testing/_async/mirror.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``MirrorConformance``: a mirror holds exactly the store's state of its prefix.

Written on the public API only, so it runs on every backend with watches and through
every wrapper. The relist test needs a way to cut the store's watches off (as a lost
connection does) while history is compacted: a backend's test class provides it by
overriding ``disconnect_watches`` (``MemoryStore.watches_disconnected``); without it
that test skips.
"""

from __future__ import annotations

import contextlib
import random

import pytest

from kvstore._concurrency import sleep
from kvstore._sync.base import BaseStore
from kvstore._sync.mirror import Mirror, MirrorChanges
from kvstore.errors import InvalidKeyError, KeyNotFoundError
from kvstore.testing._sync._support import (
    EVENT_TIMEOUT,
    ConformanceBase,
    current_revision,
    requires,
)
from kvstore.testing.mirror_property import apply_change
from kvstore.txn import Delete, Put, Txn
from kvstore.types import KeyValue, MirrorChange

__all__ = ["MirrorConformance"]

PREFIX = "mirror/"


def _state(store: BaseStore, prefix: str) -> dict[str, KeyValue]:
    """Every key under ``prefix`` with its ``KeyValue``, read from the store now."""
    keys = store.list(prefix)
    found: dict[str, KeyValue] = {}
    for key in keys:
        kv = store.get_kv(key)
        if kv is not None:
            found[key] = kv
    return found


def _mirrored(mirror: Mirror) -> dict[str, KeyValue]:
    state: dict[str, KeyValue] = {}
    for key in mirror.list():
        kv = mirror.get_kv(key)
        assert kv is not None
        state[key] = kv
    return state


def _drain(changes: MirrorChanges, until: int) -> list[MirrorChange]:
    """Changes up to the one of revision ``until`` (inclusive), and those ready after."""
    got: list[MirrorChange] = []
    while not got or got[-1].revision < until:
        change = changes.next_change(EVENT_TIMEOUT)
        assert change is not None, f"no change of revision {until} came (got {got})"
        got.append(change)
    while (more := changes.next_change(0.05)) is not None:
        got.append(more)
    return got


def _apply(state: dict[str, KeyValue], changes: list[MirrorChange]) -> None:
    for change in changes:
        apply_change(state, change)


class MirrorConformance(ConformanceBase):
    """``store.mirror(prefix)`` mirrors the prefix exactly, and says how it changes."""

    def disconnect_watches(self, store: BaseStore) -> contextlib.AbstractContextManager[None]:
        """A context manager that cuts every watch of ``store`` off while its block runs,
        then lets them resume (or fail with ``CompactedError`` if their revision was
        compacted meanwhile). The default uses the ``watches_disconnected()`` of the
        innermost store under the wrappers (``MemoryStore`` and ``MemoryStore`` have
        one) and skips the test that needs it when there is none; override it for others.

        Returns:
            The context manager (the innermost store's ``watches_disconnected()``).
        """
        inner: object = store
        while hasattr(inner, "inner"):
            inner = inner.inner
        hook = getattr(inner, "watches_disconnected", None)
        if hook is None:
            pytest.skip("the store gives no way to cut its watches off (disconnect_watches)")
        manager: contextlib.AbstractContextManager[None] = hook()
        return manager

    def _mirror(self, store: BaseStore, prefix: str = PREFIX) -> Mirror:
        mirror = store.mirror(prefix)
        assert mirror.wait_synced(EVENT_TIMEOUT), "the mirror did not sync"
        return mirror

    def test_it_starts_with_the_state_of_its_prefix(self, store: BaseStore) -> None:
        requires(store, "watch")
        for key in ("mirror/a", "mirror/b/1", "mirror/b/2", "mirrors", "other"):
            store.put(key, key.encode())
        store.delete("mirror/b/2")
        with self._mirror(store) as mirror:
            assert mirror.revision == current_revision(store)  # listed after them
            assert _mirrored(mirror) == _state(store, PREFIX)
            assert mirror.items() == list(store.get_multiple(PREFIX).items())
            assert mirror.list() == ["mirror/a", "mirror/b/1"]
            assert mirror.list("mirror/b/") == store.list("mirror/b/")
            assert len(mirror) == 2 and "mirror/a" in mirror and "mirror/b/2" not in mirror
            assert mirror.get("mirror/a") == b"mirror/a"
            with pytest.raises(KeyNotFoundError) as info:
                mirror.get("mirror/b/2")
            assert info.value.key == "mirror/b/2"
            with pytest.raises(InvalidKeyError):
                mirror.get("other")  # not under the prefix: the mirror cannot know
            assert mirror.get_kv("mirror/zz") is None

    def test_reads_see_a_write_once_its_revision_is_reached(self, store: BaseStore) -> None:
        requires(store, "watch")
        with self._mirror(store) as mirror:
            revision = store.put("mirror/k", b"1")
            assert mirror.wait_for_revision(revision, EVENT_TIMEOUT)
            assert mirror.get("mirror/k") == b"1" and mirror.revision >= revision
            kv = mirror.get_kv("mirror/k")
            assert kv == store.get_kv("mirror/k")
            deleted_at = revision + 1
            store.delete("mirror/k")
            assert mirror.wait_for_revision(deleted_at, EVENT_TIMEOUT)
            assert "mirror/k" not in mirror
            assert not mirror.wait_for_revision(deleted_at + 100, 0.05)

    def test_random_writes_leave_it_equal_to_the_store(self, store: BaseStore) -> None:
        requires(store, "watch")
        chance = random.Random(1717)
        keys = [f"mirror/{name}" for name in ("a", "b", "c", "d/1", "d/2", "e")] + ["out"]
        with self._mirror(store) as mirror:
            changes = mirror.changes()
            replayed: dict[str, KeyValue] = {}
            for step in range(60):
                choice = chance.random()
                key = chance.choice(keys)
                if choice < 0.5:
                    store.put(key, f"{step}".encode())
                elif choice < 0.7:
                    store.delete(key)
                elif choice < 0.85:
                    picked = chance.sample(keys, 3)
                    store.kv_txn(
                        Txn(success=[Put(picked[0], b"t"), Put(picked[1], b"t"), Delete(picked[2])])
                    )
                else:
                    store.delete_prefix("mirror/d/")
                if step % 15 == 14:
                    # A write of its own tells when the mirror has caught up.
                    sentinel = store.put("mirror/sentinel", f"{step}".encode())
                    assert mirror.wait_for_revision(sentinel, EVENT_TIMEOUT)
                    assert _mirrored(mirror) == _state(store, PREFIX)
            final = store.put("mirror/final", b"f")
            assert mirror.wait_for_revision(final, EVENT_TIMEOUT)
            assert _mirrored(mirror) == _state(store, PREFIX)
            got = _drain(changes, final)
            _apply(replayed, got)
            assert replayed == _mirrored(mirror)
            assert [c.revision for c in got] == sorted(c.revision for c in got)
            changes.close()

    def test_a_transaction_is_applied_whole(self, store: BaseStore) -> None:
        requires(store, "watch")
        with self._mirror(store) as mirror:
            changes = mirror.changes()
            result = store.kv_txn(
                Txn(success=[Put("mirror/x", b"1"), Put("mirror/y", b"2"), Put("mirror/z", b"3")])
            )
            got = _drain(changes, result.revision)
            assert [(c.key, c.revision, c.relisted) for c in got] == [
                ("mirror/x", result.revision, False),
                ("mirror/y", result.revision, False),
                ("mirror/z", result.revision, False),
            ]
            assert mirror.revision == result.revision and len(mirror) == 3
            changes.close()

    def test_changes_start_from_the_current_state(self, store: BaseStore) -> None:
        requires(store, "watch")
        first = store.put("mirror/a", b"1")
        with self._mirror(store) as mirror:
            subscribed: list[MirrorChange] = []
            mirror.subscribe(subscribed.append)
            changes = mirror.changes()
            initial = changes.next_change(EVENT_TIMEOUT)
            assert initial is not None and initial.relisted
            assert (initial.key, initial.old, initial.new) == (
                "mirror/a",
                None,
                store.get_kv("mirror/a"),
            )
            assert initial.revision >= first
            second = store.put("mirror/a", b"2")
            live = changes.next_change(EVENT_TIMEOUT)
            assert live is not None and not live.relisted and live.revision == second
            assert live.old == initial.new and live.new is not None and live.new.value == b"2"
            for _ in range(int(EVENT_TIMEOUT / 0.02)):
                if len(subscribed) == 2:
                    break
                sleep(0.02)
            assert subscribed == [initial, live]
            changes.close()
            assert changes.next_change(0.01) is None

    def test_closing_ends_the_changes_and_keeps_the_reads(self, store: BaseStore) -> None:
        requires(store, "watch")
        store.put("mirror/a", b"1")
        mirror = self._mirror(store)
        changes = mirror.changes()
        assert changes.next_change(EVENT_TIMEOUT) is not None
        mirror.close()
        assert changes.next_change(EVENT_TIMEOUT) is None
        store.put("mirror/a", b"2")
        assert mirror.get("mirror/a") == b"1"  # the last revision it saw
        mirror.close()  # idempotent

    def test_closing_the_store_ends_its_mirrors(self, store: BaseStore) -> None:
        requires(store, "watch")
        store.put("mirror/a", b"1")
        mirror = self._mirror(store)
        changes = mirror.changes()
        assert changes.next_change(EVENT_TIMEOUT) is not None  # the listed state
        store.close()
        assert changes.next_change(EVENT_TIMEOUT) is None  # ended, not waiting
        assert mirror.get("mirror/a") == b"1"
        mirror.close()

    def test_a_mirror_of_every_key(self, store: BaseStore) -> None:
        requires(store, "watch")
        store.put("a", b"1")
        with self._mirror(store, "") as mirror:
            revision = store.put("z/z", b"2")
            assert mirror.wait_for_revision(revision, EVENT_TIMEOUT)
            assert mirror.items() == list(store.get_multiple("").items())

    def test_a_compaction_during_a_disconnect_is_relisted_with_synthetic_changes(
        self, store: BaseStore
    ) -> None:
        requires(store, "watch", "history")
        for key in ("mirror/keep", "mirror/gone", "mirror/changed"):
            store.put(key, b"before")
        with self._mirror(store) as mirror:
            changes = mirror.changes()
            _drain(changes, mirror.revision)
            replayed = _mirrored(mirror)
            with self.disconnect_watches(store):
                store.delete("mirror/gone")
                store.put("mirror/changed", b"after")
                store.put("mirror/new", b"after")
                last = store.put("elsewhere", b"x")
                store.compact_revision(last)
            assert mirror.wait_for_revision(last, EVENT_TIMEOUT)
            assert _mirrored(mirror) == _state(store, PREFIX)
            got = _drain(changes, last)
            assert all(change.relisted for change in got)
            assert sorted((c.key, c.new is None) for c in got) == [
                ("mirror/changed", False),
                ("mirror/gone", True),
                ("mirror/new", False),
            ]
            _apply(replayed, got)
            assert replayed == _mirrored(mirror)
            changes.close()
