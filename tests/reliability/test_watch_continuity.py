"""Watches keep every revision exactly once, in order, across member faults (SPEC 4.2, 12),
and a watch on a member that is cut off never hangs silently."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from kvstore import KVStoreError
from kvstore_etcd import EtcdStore
from kvstore_etcd.launcher import EtcdCluster

from .conftest import WAIT, WatchRecorder, current_revision, wait_until
from .proxy import FaultProxy

pytestmark = [pytest.mark.reliability, pytest.mark.etcd]

# etcd refuses pings more often than every 5 s (--grpc-keepalive-min-time) with GOAWAY.
_FAST_KEEPALIVE = {"dial_keepalive_time": 5.0, "dial_keepalive_timeout": 2.0}


class _Writer:
    """Puts ``c/<n>`` in a loop on a thread, retrying failures, until stopped."""

    def __init__(self, store: EtcdStore) -> None:
        self.store = store
        self.acknowledged: dict[bytes, int] = {}
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        count = 0
        while not self._stop.is_set():
            value = str(count).encode()
            try:
                self.acknowledged[value] = self.store.put(f"c/{count % 32}", value)
            except KVStoreError:
                self.failures += 1
                time.sleep(0.05)
            count += 1
            time.sleep(0.005)

    def written(self) -> int:
        return len(self.acknowledged)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(WAIT)


def _settle(writer: _Writer, more: int = 20) -> None:
    target = writer.written() + more
    assert wait_until(lambda: writer.written() >= target), "the writer made no progress"


def test_watch_from_revision_1_sees_every_revision_once_across_faults(
    etcd_cluster: EtcdCluster,
    open_store: Callable[..., EtcdStore],
    make_proxy: Callable[[int], FaultProxy],
) -> None:
    first, second, third = etcd_cluster.members
    proxy = make_proxy(first.client_port)
    # The watcher prefers the first endpoint (through the proxy), so faults there move it.
    watcher = open_store([proxy.endpoint, second.endpoint, third.endpoint], **_FAST_KEEPALIVE)
    writer = _Writer(open_store(etcd_cluster.endpoints))
    recorder = WatchRecorder(watcher.watch_prefix("c/", start_revision=1))
    try:
        _settle(writer)
        proxy.close_connections()  # the client reconnects (same endpoint or the next)
        _settle(writer)
        first.kill()  # the watcher's member dies: it must switch endpoints
        _settle(writer)
        first.start()
        _settle(writer)
        second.restart()  # a graceful restart of another member
        _settle(writer)
        proxy.blackhole()  # the first endpoint goes silent: keepalive must notice
        _settle(writer)
        proxy.pass_through()
        _settle(writer)
    finally:
        writer.stop()
    final_revision = current_revision(writer.store)
    assert recorder.wait_for_revision(final_revision), (
        f"the watch stopped at {recorder.last_revision} of {final_revision}: {recorder.error!r}"
    )
    recorder.stop()
    revisions = [event.kv.mod_revision for event in recorder.events]
    print(f"{len(revisions)} events, {writer.failures} failed puts, revision {final_revision}")
    assert revisions == list(range(2, final_revision + 1)), "a revision was skipped or repeated"
    by_value = {event.kv.value: event.kv.mod_revision for event in recorder.events}
    for value, revision in writer.acknowledged.items():
        assert by_value.get(value) == revision


def _put_retrying(store: EtcdStore, key: str, value: bytes) -> int:
    """Put, retrying failures for at most ``WAIT`` seconds (a leader may be electing)."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            return store.put(key, value)
        except KVStoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


_CUT_OFF_WAIT = 15.0
"""Keepalive (5 s + 2 s) must notice the dead connection well within this."""


@pytest.mark.parametrize("fault", ["pause", "blackhole"])
def test_watch_on_a_cut_off_member_moves_or_raises(
    fault: str,
    etcd_cluster: EtcdCluster,
    open_store: Callable[..., EtcdStore],
    make_proxy: Callable[[int], FaultProxy],
) -> None:
    proxies = {make_proxy(member.client_port): member for member in etcd_cluster.members}
    watcher = open_store([proxy.endpoint for proxy in proxies], **_FAST_KEEPALIVE)
    writer = open_store(etcd_cluster.endpoints)
    start = current_revision(writer) + 1
    recorder = WatchRecorder(watcher.watch_prefix("p/", start_revision=start))
    writer.put("p/0", b"0")
    assert recorder.wait_for_revision(start)
    # The proxy whose traffic grows when an event is delivered carries the watch.
    before = {proxy: proxy.bytes_forwarded for proxy in proxies}
    probe = writer.put("p/probe", b"x" * 4096)
    assert recorder.wait_for_revision(probe)
    carrier = max(proxies, key=lambda proxy: proxy.bytes_forwarded - before[proxy])
    member = proxies[carrier]

    if fault == "pause":
        member.pause()
    else:
        carrier.blackhole()
    try:
        last = 0
        for n in range(1, 6):
            last = _put_retrying(writer, f"p/{n}", str(n).encode())
        moved = recorder.wait_for_revision(last, timeout=_CUT_OFF_WAIT)
    finally:
        if fault == "pause":
            member.resume()
        else:
            carrier.pass_through()
    recorder.stop()
    assert moved or recorder.error is not None, (
        f"the watch hung silently on {member.name}: {len(recorder.events)} events, no error"
    )
    if moved:
        revisions = [event.kv.mod_revision for event in recorder.events]
        assert revisions == list(range(start, last + 1))
