"""Streams that scale (SPEC 16): 10,000 watches on one stream, sync and asyncio, with a
bounded number of threads; a stream reset resumes every one of them exactly once; a
reader that stops reading delays no other watch and holds a bounded buffer; 10,000
kept-alive leases on one stream survive a member restart.

Timing is not asserted here (``benchmarks/bench_streams.py`` measures it).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator

import pytest

from kvstore import EventType, KeepAlive, WatchEvent
from kvstore.txn import Put, WatchRequest
from kvstore_etcd import AsyncEtcdStore, EtcdConfig, EtcdStore
from kvstore_etcd.launcher import EtcdCluster, EtcdServer

# One xdist group: under pytest-xdist these tests run one after the other on one worker.
# Each of the 10,000-stream tests keeps a core busy for a minute or more; two at once,
# beside the other workers, starve each other and the fault scenarios of CPU.
pytestmark = [pytest.mark.etcd, pytest.mark.slow, pytest.mark.xdist_group("etcd-streams-10k")]

WATCHES = 10_000
MAX_STORE_THREADS = 8


@pytest.fixture
def own_server(etcd_binary: str) -> Iterator[EtcdServer]:
    """A single-member etcd of this test alone (the test restarts it)."""
    with EtcdServer(etcd_binary) as server:
        yield server


def _config(endpoints: list[str], **options: object) -> EtcdConfig:
    return EtcdConfig(endpoints=endpoints, request_timeout=10.0, dial_timeout=10.0, **options)  # type: ignore[arg-type]


class ThreadCeiling:
    """The most threads the process ran, above those it ran before, at each ``sample``."""

    def __init__(self) -> None:
        self.baseline = threading.active_count()
        self.most = 0

    def sample(self) -> None:
        self.most = max(self.most, threading.active_count() - self.baseline)


def _take(watch: object, count: int, timeout: float = 30.0) -> list[WatchEvent]:
    events: list[WatchEvent] = []
    while len(events) < count:
        event = watch.next_event(timeout)  # type: ignore[attr-defined]
        assert event is not None, f"only {len(events)} of {count} events arrived"
        events.append(event)
    return events


def test_ten_thousand_sync_watches_share_one_stream_and_resume_exactly_once(
    own_server: EtcdServer,
) -> None:
    ceiling = ThreadCeiling()
    store = EtcdStore(_config(own_server.endpoints))
    try:
        watches = []
        for index in range(WATCHES):
            watches.append(store.watch_prefix(f"w/{index:05}/"))
            if index % 1000 == 0:
                ceiling.sample()
        assert own_server.watch_counts() == (1, WATCHES)
        first = [store.put(f"w/{index:05}/k", b"1") for index in range(WATCHES)]
        ceiling.sample()
        for index, watch in enumerate(watches):
            [event] = _take(watch, 1)
            assert (event.kv.key, event.revision) == (f"w/{index:05}/k", first[index])
        ceiling.sample()

        own_server.restart()  # the stream breaks; every watch resumes from its own revision
        second = [store.put(f"w/{index:05}/k", b"2") for index in range(WATCHES)]
        ceiling.sample()
        for index, watch in enumerate(watches):
            [event] = _take(watch, 1)
            assert (event.kv.value, event.revision) == (b"2", second[index])
        for watch in watches[:50]:
            assert watch.next_event(0.01) is None  # nothing twice
        ceiling.sample()
        assert ceiling.most <= MAX_STORE_THREADS, f"the store ran {ceiling.most} threads"
        assert own_server.watch_counts() == (1, WATCHES)
    finally:
        store.close()


async def test_ten_thousand_async_watches_share_one_stream_and_resume_exactly_once(
    own_server: EtcdServer,
) -> None:
    async with AsyncEtcdStore(_config(own_server.endpoints)) as store:
        tasks_before = len(asyncio.all_tasks())
        watches = [store.do_watch(WatchRequest(f"a/{i:05}/", f"a/{i:05}0")) for i in range(WATCHES)]
        await asyncio.gather(*(watch.ready() for watch in watches))
        # One stream and its reader, writer and probe tasks, however many watches.
        assert len(asyncio.all_tasks()) - tasks_before <= 4
        assert own_server.watch_counts() == (1, WATCHES)

        async def put_all(value: bytes) -> list[int]:
            results = []
            for start in range(0, WATCHES, 500):
                batch = [store.do_put(Put(f"a/{i:05}/k", value)) for i in range(start, start + 500)]
                results.extend(result.revision for result in await asyncio.gather(*batch))
            return results

        async def one_each(revisions: list[int], value: bytes) -> None:
            for index, watch in enumerate(watches):
                event = await watch.next_event(30)
                assert event is not None, f"watch {index} got nothing"
                assert (event.kv.value, event.revision) == (value, revisions[index])

        await one_each(await put_all(b"1"), b"1")
        await asyncio.to_thread(own_server.restart)
        await one_each(await put_all(b"2"), b"2")
        for watch in watches[:50]:
            assert await watch.next_event(0.01) is None
        for watch in watches:
            await watch.cancel()
        counts = await asyncio.to_thread(own_server.wait_for_watch_counts, (0, 0))
        assert counts == (0, 0)


def test_a_reader_that_stops_reading_delays_no_other_watch_and_is_parked(
    own_server: EtcdServer,
) -> None:
    limit = 200
    store = EtcdStore(_config(own_server.endpoints, watch_buffer=limit))
    try:
        stalled = store.watch_prefix("s/")
        lively = store.watch_prefix("l/")
        revisions = []
        for index in range(limit * 5):
            revisions.append(store.put(f"s/{index:04}", b"x"))
            store.put(f"l/{index:04}", b"y")
            # The lively reader keeps up while the stalled one reads nothing.
            [event] = _take(lively, 1)
            assert event.kv.key == f"l/{index:04}"
        # The stalled watch holds its bound (plus one response) and is parked on the server.
        assert limit <= stalled.buffered() <= limit + 1  # type: ignore[attr-defined]
        assert own_server.watch_counts()[1] == 1
        # Reading resumes it from its next revision: every revision once, in order.
        events = _take(stalled, limit * 5)
        assert [event.revision for event in events] == revisions
        assert all(event.type is EventType.PUT for event in events)
        assert stalled.next_event(0.2) is None
        assert own_server.watch_counts()[1] == 2
    finally:
        store.close()


def test_ten_thousand_kept_alive_leases_survive_a_member_restart(
    etcd_cluster: EtcdCluster,
) -> None:
    store = EtcdStore(_config(etcd_cluster.endpoints))
    try:
        ttl = 30
        leases = []
        # Granted from a few threads (set-up only; not the store's threads), each lease kept
        # alive as soon as it is granted: its TTL runs from the grant, and granting all
        # 10,000 takes 9 s on an idle machine but 20-30 s beside other tests (pytest-xdist),
        # so keep-alives started only after the last grant came too late for the first.
        chunks = [range(start, WATCHES, 8) for start in range(8)]
        granted: list[list[object]] = [[] for _ in chunks]
        kept: list[list[KeepAlive]] = [[] for _ in chunks]

        def grant(slot: int) -> None:
            for _ in chunks[slot]:
                lease = store.lease(ttl)
                granted[slot].append(lease)
                kept[slot].append(store.keep_alive(lease))

        # Before the granting threads, which end before the first sample.
        ceiling = ThreadCeiling()
        workers = [threading.Thread(target=grant, args=(slot,)) for slot in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        leases = [lease for part in granted for lease in part]
        keepalives = [keepalive for part in kept for keepalive in part]
        deadline = time.monotonic() + 60
        restarted = False
        while time.monotonic() < deadline:
            ceiling.sample()
            if not restarted and time.monotonic() > deadline - 45:
                # The member the store talks to first: its streams break and move.
                etcd_cluster.members[0].restart()
                restarted = True
            time.sleep(1)
        assert restarted
        lost = [keepalive for keepalive in keepalives if keepalive.lost.is_set()]
        assert not lost, f"{len(lost)} of {len(keepalives)} leases were lost"
        live = set(store.lease_leases())
        assert all(lease.id in live for lease in leases)  # type: ignore[attr-defined]
        assert ceiling.most <= MAX_STORE_THREADS, f"the store ran {ceiling.most} threads"
        for keepalive in keepalives:
            keepalive.stop()
    finally:
        store.close()


def test_revoking_kept_alive_leases_logs_no_warning(
    etcd_store: EtcdStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kvstore")
    leases = [etcd_store.lease(3) for _ in range(100)]
    keepalives = [etcd_store.keep_alive(lease) for lease in leases]
    for lease in leases:
        lease.revoke()
    deadline = time.monotonic() + 10
    while any(keepalive.running for keepalive in keepalives) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # past TTL/3: renewals in flight met the revokes by now
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert all(keepalive.lost.is_set() and not keepalive.running for keepalive in keepalives)
    assert not set(etcd_store.lease_leases()) & {lease.id for lease in leases}
