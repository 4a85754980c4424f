"""Compaction past a lagging watcher: it gets CompactedError(compact_revision), never a
silent skip; revision reads below the compact revision fail, at it they work (SPEC 12)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from kvstore import CompactedError
from kvstore_etcd import EtcdStore
from kvstore_etcd.launcher import EtcdServer

from .conftest import WatchRecorder, current_revision, wait_until
from .proxy import FaultProxy

pytestmark = [pytest.mark.reliability, pytest.mark.etcd]


@pytest.fixture
def own_server() -> Iterator[EtcdServer]:
    """A server of its own: compacting the shared session server would hurt other tests."""
    with EtcdServer() as server:
        yield server


def test_compaction_past_a_disconnected_watcher_raises_compacted(
    own_server: EtcdServer,
    open_store: Callable[..., EtcdStore],
    make_proxy: Callable[[int], FaultProxy],
) -> None:
    proxy = make_proxy(own_server.client_port)
    watcher = open_store([proxy.endpoint])
    writer = open_store(own_server.endpoints)
    start = current_revision(writer) + 1
    recorder = WatchRecorder(watcher.watch_prefix("k/", start_revision=start))
    seen = max(writer.put(f"k/{n}", b"early") for n in range(3))
    assert recorder.wait_for_revision(seen)

    proxy.blackhole()
    missed = [writer.put(f"k/{n}", b"missed") for n in range(3, 10)]
    compact_at = current_revision(writer)
    writer.compact_revision(compact_at)
    proxy.pass_through()  # the watcher reconnects and asks to resume at seen + 1

    assert wait_until(lambda: recorder.error is not None), "no CompactedError came"
    error = recorder.error
    assert isinstance(error, CompactedError), repr(error)
    assert error.compact_revision == compact_at
    delivered = [event.kv.mod_revision for event in recorder.events]
    assert delivered == list(range(start, seen + 1)), "events were skipped or delivered late"
    assert missed[-1] <= compact_at
    recorder.stop()


def test_revision_reads_and_watches_around_the_compact_revision(
    own_server: EtcdServer, open_store: Callable[..., EtcdStore]
) -> None:
    store = open_store(own_server.endpoints)
    first = store.put("r/a", b"1")
    second = store.put("r/a", b"2")
    store.compact_revision(second)
    with pytest.raises(CompactedError) as caught:
        store.get_with_revision("r/a", first)
    assert caught.value.compact_revision == second
    assert store.get_with_revision("r/a", second) == b"2"
    with store.watch("r/a", start_revision=first) as watch, pytest.raises(CompactedError) as late:
        watch.next_event(10)
    assert late.value.compact_revision == second
