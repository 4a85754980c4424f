"""Failover of ``AsyncEtcdStore`` between the members of a three-member cluster: the
asyncio pool (its own channel-state polling) on the retry rules shared with the sync
store (``kvstore_etcd/_async/_calls.py``)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from kvstore.errors import (
    IndeterminateError,
    OperationTimeoutError,
    UnavailableError,
)
from kvstore_etcd import AsyncEtcdStore, EtcdConfig
from kvstore_etcd.launcher import EtcdCluster, EtcdServer

pytestmark = [pytest.mark.etcd, pytest.mark.reliability, pytest.mark.slow]


@pytest.fixture
async def cluster_store(etcd_cluster: EtcdCluster) -> AsyncIterator[AsyncEtcdStore]:
    store = AsyncEtcdStore(
        EtcdConfig(endpoints=etcd_cluster.endpoints, request_timeout=10.0, dial_timeout=5.0)
    )
    yield store
    await store.aclose()


async def _put_settled(store: AsyncEtcdStore, key: str, value: bytes) -> int:
    """Put a unique value; after an ``IndeterminateError`` read back what happened."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return await store.put(key, value)
        except (IndeterminateError, UnavailableError):
            if time.monotonic() > deadline:
                raise
        try:
            kv = await store.get_kv(key)
        except (OperationTimeoutError, UnavailableError):
            continue
        if kv is not None and kv.value == value:
            return kv.mod_revision


def _member_in_use(cluster: EtcdCluster, store: AsyncEtcdStore) -> EtcdServer:
    address = store.pool.current.address
    return next(member for member in cluster.members if member.endpoint == address)


async def test_reads_and_writes_move_to_another_member(
    etcd_cluster: EtcdCluster, cluster_store: AsyncEtcdStore
) -> None:
    revision = await cluster_store.put("f/a", b"1")
    dead = _member_in_use(etcd_cluster, cluster_store)
    dead.kill()
    assert await cluster_store.get("f/a") == b"1"
    assert cluster_store.pool.current.address != dead.endpoint
    assert await cluster_store.put("f/b", b"2") > revision
    assert await cluster_store.get_multiple("f/") == {"f/a": b"1", "f/b": b"2"}


async def test_killed_leader_is_replaced_and_writes_resume(
    etcd_cluster: EtcdCluster, cluster_store: AsyncEtcdStore
) -> None:
    leader = etcd_cluster.leader()
    cluster_store.pool.prefer(leader.endpoint)
    await cluster_store.put("l/a", b"1")
    leader.kill()
    try:
        await cluster_store.put("l/b", b"2")
    except IndeterminateError:
        # the only failure a write caught by the crash may show: applied at most once
        kv = await cluster_store.get_kv("l/b")
        assert kv is None or (kv.value, kv.version) == (b"2", 1)
    await cluster_store.put("l/c", b"3")
    assert await cluster_store.get("l/c") == b"3"
    assert etcd_cluster.leader().endpoint != leader.endpoint


async def test_watch_switches_member_without_gap_or_duplicate(
    etcd_cluster: EtcdCluster, cluster_store: AsyncEtcdStore
) -> None:
    first = await cluster_store.put("fw/0", b"0")
    async with cluster_store.watch_prefix("fw/", start_revision=first) as watch:
        assert await watch.next_event(10) is not None
        dead = _member_in_use(etcd_cluster, cluster_store)
        dead.kill()
        revisions = [await _put_settled(cluster_store, f"fw/{i}", b"x%d" % i) for i in range(1, 6)]
        dead.start()
        revisions += [await _put_settled(cluster_store, f"fw/{i}", b"y%d" % i) for i in range(6, 9)]
        seen: list[int] = []
        while len(seen) < len(revisions):
            event = await watch.next_event(15)
            assert event is not None, f"missing events after {seen}"
            seen.append(event.revision)
        assert await watch.next_event(0.5) is None
    assert seen == revisions


async def test_every_member_down_is_unavailable(etcd_cluster: EtcdCluster) -> None:
    store = AsyncEtcdStore(
        EtcdConfig(endpoints=etcd_cluster.endpoints, request_timeout=1.0, dial_timeout=0.5)
    )
    try:
        await store.put("down", b"1")
        for member in etcd_cluster.members:
            member.kill()
        with pytest.raises(UnavailableError):
            await store.get("down")
        with pytest.raises((UnavailableError, IndeterminateError)):
            await store.put("down", b"2")
    finally:
        await store.aclose()


async def test_paused_member_times_out_once_then_is_passed_over(
    etcd_cluster: EtcdCluster,
) -> None:
    store = AsyncEtcdStore(
        EtcdConfig(endpoints=etcd_cluster.endpoints, request_timeout=1.0, dial_timeout=1.0)
    )
    try:
        await store.put("paused", b"1")
        frozen = _member_in_use(etcd_cluster, store)
        frozen.pause()
        try:
            with pytest.raises(OperationTimeoutError):
                await store.get("paused")
            assert await store.get("paused") == b"1"
            assert store.pool.current.address != frozen.endpoint
        finally:
            frozen.resume()
    finally:
        await store.aclose()
