"""Watches and keep-alives across a server restart: no gap, no duplicate, no lost lease."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from kvstore.errors import StoreClosedError
from kvstore.types import EventType, WatchEvent
from kvstore.watch import Watch
from kvstore_etcd import EtcdConfig, EtcdStore
from kvstore_etcd import store as store_module
from kvstore_etcd.launcher import EtcdServer

pytestmark = [pytest.mark.etcd, pytest.mark.slow]


@pytest.fixture
def own_server(etcd_binary: str) -> Iterator[EtcdServer]:
    """A single-member etcd of this test alone (the test restarts it)."""
    with EtcdServer(etcd_binary) as server:
        yield server


@pytest.fixture
def own_store(own_server: EtcdServer) -> Iterator[EtcdStore]:
    store = EtcdStore(
        EtcdConfig(endpoints=own_server.endpoints, request_timeout=10.0, dial_timeout=10.0)
    )
    yield store
    store.close()


def _collect(watch: Watch, count: int, timeout: float = 10.0) -> list[WatchEvent]:
    events: list[WatchEvent] = []
    while len(events) < count:
        event = watch.next_event(timeout)
        assert event is not None, f"only {len(events)} of {count} events arrived"
        events.append(event)
    return events


def test_watch_from_now_continues_across_a_restart(
    own_server: EtcdServer, own_store: EtcdStore
) -> None:
    with own_store.watch_prefix("w/") as watch:
        before = [own_store.put(f"w/{i}", b"before") for i in range(5)]
        own_server.restart()
        after = [own_store.put(f"w/{i}", b"after") for i in range(5)]
        events = _collect(watch, 10)
        assert watch.next_event(0.5) is None  # nothing twice
    assert [event.revision for event in events] == before + after
    assert [event.kv.value for event in events] == [b"before"] * 5 + [b"after"] * 5


def test_changes_made_while_the_watcher_was_disconnected_are_delivered(
    own_server: EtcdServer, own_store: EtcdStore
) -> None:
    watch = own_store.watch_prefix("gap/", prev_kv=True)
    first = own_store.put("gap/a", b"1")
    assert _collect(watch, 1)[0].revision == first
    own_server.stop()
    own_server.start()
    # A second client writes before the watcher had a chance to reconnect.
    writer = EtcdStore(EtcdConfig(endpoints=own_server.endpoints, request_timeout=10.0))
    try:
        written = [writer.put("gap/a", b"2"), writer.put("gap/b", b"3")]
        deleted = writer.kv_delete_range("gap/a").revision
    finally:
        writer.close()
    events = _collect(watch, 3)
    watch.cancel()
    assert [event.revision for event in events] == [*written, deleted]
    assert events[0].prev_kv is not None and events[0].prev_kv.value == b"1"
    assert events[2].type is EventType.DELETE


def test_watch_from_revision_replays_then_resumes_exactly_once(
    own_server: EtcdServer, own_store: EtcdStore
) -> None:
    revisions = [own_store.put("h/k", str(i).encode()) for i in range(3)]
    with own_store.watch("h/k", start_revision=revisions[0]) as watch:
        assert [event.revision for event in _collect(watch, 3)] == revisions
        own_server.restart()
        revisions.append(own_store.put("h/k", b"3"))
        own_server.restart()
        revisions.append(own_store.put("h/k", b"4"))
        assert [event.revision for event in _collect(watch, 2)] == revisions[3:]
        assert watch.next_event(0.5) is None


def test_cancel_ends_the_watch_and_its_stream_on_the_server(
    own_server: EtcdServer, own_store: EtcdStore
) -> None:
    watches = [own_store.watch(f"c{index}") for index in range(3)]
    assert own_server.wait_for_watch_counts((1, 3)) == (1, 3)  # one stream for the three
    watches[0].cancel()
    assert own_server.wait_for_watch_counts((1, 2)) == (1, 2)  # its id only
    assert watches[0].next_event(0.1) is None
    for watch in watches[1:]:
        watch.cancel()
    assert own_server.wait_for_watch_counts((0, 0)) == (0, 0)


def test_keepalive_survives_a_restart(own_server: EtcdServer, own_store: EtcdStore) -> None:
    lease = own_store.lease(3)
    own_store.put("ka", b"1", lease=lease)
    keepalive = own_store.keep_alive(lease)
    try:
        own_server.restart()
        # Several TTLs after the restart the lease and its key are still there.
        assert not keepalive.lost.wait(7)
        assert own_store.exists("ka")
        assert lease.remaining_ttl() > 0
    finally:
        keepalive.stop()


def _close_in_another_thread(store: EtcdStore) -> None:
    closer = threading.Thread(target=store.close)
    closer.start()
    closer.join()


def test_store_closed_before_the_watch_starts_gives_store_closed_error(
    etcd_config: EtcdConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EtcdStore(etcd_config)
    store.put("closing/a", b"1")

    class ClosedWhileCreated(store_module.EtcdWatch):
        # The store is closed after watch_range checked that it is open and before the
        # watch is registered and started: close() cannot cancel it, its stream thread
        # finds the store closed.
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            _close_in_another_thread(store)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(store_module, "EtcdWatch", ClosedWhileCreated)
    with pytest.raises(StoreClosedError) as info:
        store.watch("closing/a")
    assert info.value.key == "closing/a" and info.value.operation == "watch"


def test_closing_the_store_while_watches_are_created_never_waits_out_a_timeout(
    etcd_config: EtcdConfig,
) -> None:
    chance = random.Random(7)
    for attempt in range(20):
        store = EtcdStore(etcd_config)
        store.put("closing/b", b"1")
        closer = threading.Timer(chance.uniform(0, 0.01), store.close)
        closer.start()
        watch: Watch | None = None
        try:
            watch = store.watch("closing/b")
        except StoreClosedError:
            pass
        finally:
            closer.join()
        assert watch is None or watch.cancelled, f"attempt {attempt}: the watch outlived its store"
