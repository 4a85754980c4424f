"""Failover between the members of a three-member cluster when one is killed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from kvstore.errors import (
    IndeterminateError,
    KVStoreError,
    OperationTimeoutError,
    UnavailableError,
)
from kvstore.lease import Lease
from kvstore_etcd import EtcdConfig, EtcdStore
from kvstore_etcd.launcher import EtcdCluster, EtcdServer

pytestmark = [pytest.mark.etcd, pytest.mark.reliability, pytest.mark.slow]


@pytest.fixture
def cluster_store(etcd_cluster: EtcdCluster) -> Iterator[EtcdStore]:
    store = EtcdStore(
        EtcdConfig(endpoints=etcd_cluster.endpoints, request_timeout=10.0, dial_timeout=5.0)
    )
    yield store
    store.close()


def _put_settled(store: EtcdStore, key: str, value: bytes) -> int:
    """Put a unique value; after an ``IndeterminateError`` read back what happened.

    While the cluster elects a new leader, the read-back itself may time out or find no
    reachable member: it is tried again (bounded), since only the write's fate matters.
    """
    deadline = time.monotonic() + 60
    while True:
        try:
            return store.put(key, value)
        except (IndeterminateError, UnavailableError):
            if time.monotonic() > deadline:
                raise
        try:
            kv = store.get_kv(key)
        except (OperationTimeoutError, UnavailableError):
            continue
        if kv is not None and kv.value == value:
            return kv.mod_revision


def _member_in_use(cluster: EtcdCluster, store: EtcdStore) -> EtcdServer:
    address = store.pool.current.address
    return next(member for member in cluster.members if member.endpoint == address)


def test_reads_and_writes_move_to_another_member(
    etcd_cluster: EtcdCluster, cluster_store: EtcdStore
) -> None:
    revision = cluster_store.put("f/a", b"1")
    dead = _member_in_use(etcd_cluster, cluster_store)
    dead.kill()
    assert cluster_store.get("f/a") == b"1"
    assert cluster_store.pool.current.address != dead.endpoint
    assert cluster_store.put("f/b", b"2") > revision
    assert cluster_store.get_multiple("f/") == {"f/a": b"1", "f/b": b"2"}


def test_killed_leader_is_replaced_and_writes_resume(
    etcd_cluster: EtcdCluster, cluster_store: EtcdStore
) -> None:
    leader = etcd_cluster.leader()
    cluster_store.pool.prefer(leader.endpoint)
    cluster_store.put("l/a", b"1")
    leader.kill()
    try:
        cluster_store.put("l/b", b"2")
    except IndeterminateError:
        # The only failure a client may see for a write caught by the crash: the put
        # was applied at most once.
        kv = cluster_store.get_kv("l/b")
        assert kv is None or (kv.value, kv.version) == (b"2", 1)
    cluster_store.put("l/c", b"3")
    assert cluster_store.get("l/c") == b"3"
    assert etcd_cluster.leader().endpoint != leader.endpoint


def test_watch_switches_member_without_gap_or_duplicate(
    etcd_cluster: EtcdCluster, cluster_store: EtcdStore
) -> None:
    first = cluster_store.put("fw/0", b"0")
    with cluster_store.watch_prefix("fw/", start_revision=first) as watch:
        assert watch.next_event(10) is not None
        dead = _member_in_use(etcd_cluster, cluster_store)
        dead.kill()
        revisions = [_put_settled(cluster_store, f"fw/{i}", b"x%d" % i) for i in range(1, 6)]
        dead.start()
        revisions += [_put_settled(cluster_store, f"fw/{i}", b"y%d" % i) for i in range(6, 9)]
        seen: list[int] = []
        while len(seen) < len(revisions):
            event = watch.next_event(15)
            assert event is not None, f"missing events after {seen}"
            seen.append(event.revision)
        assert watch.next_event(0.5) is None
    assert seen == revisions


def test_every_member_down_is_unavailable(etcd_cluster: EtcdCluster) -> None:
    store = EtcdStore(
        EtcdConfig(endpoints=etcd_cluster.endpoints, request_timeout=1.0, dial_timeout=0.5)
    )
    try:
        store.put("down", b"1")
        for member in etcd_cluster.members:
            member.kill()
        with pytest.raises(UnavailableError):
            store.get("down")
        with pytest.raises((UnavailableError, IndeterminateError)):
            store.put("down", b"2")
    finally:
        store.close()


def test_paused_member_times_out_once_then_is_passed_over(etcd_cluster: EtcdCluster) -> None:
    store = EtcdStore(
        EtcdConfig(endpoints=etcd_cluster.endpoints, request_timeout=1.0, dial_timeout=1.0)
    )
    try:
        store.put("paused", b"1")
        frozen = _member_in_use(etcd_cluster, store)
        frozen.pause()
        try:
            with pytest.raises(OperationTimeoutError):
                store.get("paused")
            assert store.get("paused") == b"1"
            assert store.pool.current.address != frozen.endpoint
        finally:
            frozen.resume()
    finally:
        store.close()


def test_watch_moves_off_a_paused_member(etcd_cluster: EtcdCluster) -> None:
    # etcd refuses gRPC pings more often than every 5 s, so this is the fastest setting.
    config = EtcdConfig(
        endpoints=etcd_cluster.endpoints,
        request_timeout=2.0,
        dial_keepalive_time=5.0,
        dial_keepalive_timeout=2.0,
    )
    watcher, writer = EtcdStore(config), EtcdStore(config.with_timeout(10.0))
    try:
        first = writer.put("pw/0", b"0")
        with watcher.watch_prefix("pw/", start_revision=first) as watch:
            assert watch.next_event(10) is not None
            frozen = _member_in_use(etcd_cluster, watcher)
            writer.pool.prefer(next(m for m in etcd_cluster.members if m is not frozen).endpoint)
            frozen.pause()
            try:
                revisions = [_put_settled(writer, f"pw/{i}", b"v%d" % i) for i in range(1, 4)]
                seen: list[int] = []
                while len(seen) < len(revisions):
                    event = watch.next_event(20)
                    assert event is not None, f"the watch stayed on the paused member: {seen}"
                    seen.append(event.revision)
            finally:
                frozen.resume()
        assert seen == revisions
    finally:
        watcher.close()
        writer.close()


def test_lease_grant_survives_the_death_of_the_member_in_use(
    etcd_cluster: EtcdCluster, cluster_store: EtcdStore
) -> None:
    cluster_store.put("lg/warm", b"1")
    dead = _member_in_use(etcd_cluster, cluster_store)
    dead.kill()
    lease = cluster_store.lease(5)
    assert cluster_store.pool.current.address != dead.endpoint
    assert cluster_store.lease_time_to_live(lease.id).ttl > 0
    assert lease.id in cluster_store.lease_leases()


def test_lease_grant_caught_by_a_crash_is_sent_again(
    etcd_cluster: EtcdCluster, cluster_store: EtcdStore
) -> None:
    # The member freezes with the grant in flight, then dies: the grant's outcome is
    # unknown (the connection drops mid-call), which a put would report as
    # IndeterminateError; a grant is sent again to another member instead.
    cluster_store.put("lg/warm", b"1")
    doomed = _member_in_use(etcd_cluster, cluster_store)
    doomed.pause()
    results: list[Lease | KVStoreError] = []

    def grant() -> None:
        try:
            results.append(cluster_store.lease(5))
        except KVStoreError as exc:
            results.append(exc)

    granting = threading.Thread(target=grant)
    granting.start()
    granting.join(0.5)
    doomed.kill()
    granting.join(15)
    assert len(results) == 1
    lease = results[0]
    assert isinstance(lease, Lease), f"the grant failed: {lease!r}"
    assert cluster_store.lease_time_to_live(lease.id).ttl > 0
