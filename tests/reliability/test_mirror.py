"""The mirror under faults (SPEC 17): it converges to the store's state and reports each
change once, through member kills, restarts and connection resets; a compaction while it
is cut off makes it relist, with the synthetic changes that bring subscribers along."""

from __future__ import annotations

import collections
from collections.abc import Callable

import pytest

from kvstore import KeyValue, MirrorChange
from kvstore.keys import prefix_range_end
from kvstore.testing.mirror_property import apply_change
from kvstore_etcd import EtcdStore
from kvstore_etcd.launcher import EtcdCluster

from .conftest import WAIT, wait_until
from .proxy import FaultProxy
from .test_watch_continuity import _FAST_KEEPALIVE, _settle, _Writer

pytestmark = [pytest.mark.reliability, pytest.mark.etcd]


def _state(store: EtcdStore, prefix: str) -> dict[str, KeyValue]:
    result = store.kv_range(prefix, prefix_range_end(prefix))
    return {kv.key: kv for kv in result.kvs}


def _mirrored(mirror: object) -> dict[str, KeyValue]:
    return {key: mirror.get_kv(key) for key in mirror.list()}  # type: ignore[attr-defined]


def _rebuild(changes: list[MirrorChange]) -> dict[str, KeyValue]:
    state: dict[str, KeyValue] = {}
    for change in changes:
        apply_change(state, change)
    return state


def _drain(
    feed: object, until: dict[str, KeyValue], after: list[MirrorChange] | None = None
) -> list[MirrorChange]:
    """Changes until they rebuild ``until``, applied after the changes ``after`` (then
    nothing more may be waiting)."""
    earlier = after or []
    got: list[MirrorChange] = []
    while _rebuild(earlier + got) != until:
        change = feed.next_change(WAIT)  # type: ignore[attr-defined]
        assert change is not None, "the changes stopped before reaching the store's state"
        got.append(change)
    assert feed.next_change(0.2) is None  # type: ignore[attr-defined]
    return got


def test_the_mirror_converges_across_kills_restarts_and_resets(
    etcd_cluster: EtcdCluster,
    open_store: Callable[..., EtcdStore],
    make_proxy: Callable[[int], FaultProxy],
) -> None:
    first, second, third = etcd_cluster.members
    proxy = make_proxy(first.client_port)
    reader = open_store([proxy.endpoint, second.endpoint, third.endpoint], **_FAST_KEEPALIVE)
    writer = _Writer(open_store(etcd_cluster.endpoints))
    with reader.mirror("c/") as mirror:
        assert mirror.wait_synced(WAIT)
        feed = mirror.changes()
        try:
            _settle(writer)
            proxy.close_connections()
            _settle(writer)
            leader = etcd_cluster.leader()
            leader.kill()
            _settle(writer)
            leader.start()
            _settle(writer)
            first.restart()
            _settle(writer)
        finally:
            writer.stop()
        sentinel = writer.store.put("c/sentinel", b"end")
        assert mirror.wait_for_revision(sentinel, WAIT), mirror.error
        truth = _state(writer.store, "c/")
        assert _mirrored(mirror) == truth
        changes = _drain(feed, truth)
        live = [change for change in changes if not change.relisted]
        # Each write seen once: no (key, revision) twice, revisions in order.
        seen = collections.Counter((change.key, change.revision) for change in live)
        assert max(seen.values()) == 1
        assert [c.revision for c in live] == sorted(c.revision for c in live)
        assert writer.written() > 100


def test_a_compaction_while_cut_off_is_relisted(
    etcd_cluster: EtcdCluster,
    open_store: Callable[..., EtcdStore],
    make_proxy: Callable[[int], FaultProxy],
) -> None:
    member = etcd_cluster.members[0]
    proxy = make_proxy(member.client_port)
    reader = open_store([proxy.endpoint], **_FAST_KEEPALIVE)
    writer = open_store(etcd_cluster.endpoints)
    for key in ("r/keep", "r/gone", "r/changed"):
        writer.put(key, b"before")
    with reader.mirror("r/") as mirror:
        assert mirror.wait_synced(WAIT)
        feed = mirror.changes()
        before = _drain(feed, _state(writer, "r/"))
        proxy.blackhole()  # the mirror's connection goes silent, as a partition does
        writer.delete("r/gone")
        writer.put("r/changed", b"after")
        writer.put("r/new", b"after")
        last = writer.put("elsewhere", b"x")
        writer.compact_revision(last)
        proxy.pass_through()  # its streams reset; the watch's revision is compacted
        assert wait_until(lambda: mirror.revision >= last), mirror.error
        truth = _state(writer, "r/")
        assert _mirrored(mirror) == truth
        after = _drain(feed, truth, before)
        assert all(change.relisted for change in after)
        assert sorted((c.key, c.new is None) for c in after) == [
            ("r/changed", False),
            ("r/gone", True),
            ("r/new", False),
        ]
        assert _rebuild(before + after) == truth
